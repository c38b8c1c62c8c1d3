"""Fuzzing: random bytes and random config values through the C ABI (cffi, ABI mode) and the
Python API. Every call must come back as a status code (C) or a ValueError / TypeError
(Python), never a crash, a hang or another exception. CI also runs this file against a build of
libmxemu with AddressSanitizer and UBSan (MXEMU_LIBRARY, see .ci/run), where an out-of-bounds
read or undefined behaviour aborts the run.

The arrays handed to the C functions are always as long as the counts passed with them say
(that is the ABI's contract; C cannot check a pointer's length); everything else is random:
the config struct's bytes, its fields, the format descriptors, codes beyond their formats,
lengths, block sizes, NULL pointers."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import emulator
from emulator.formats import FORMATS
from emulator.numerics import AccumConfig, get_preset, preset_names
from emulator.numerics import native as NV

import capi


# Every status the ABI defines: MXEMU_OK, the quantize policy statuses, MXEMU_ERR_*.
STATUSES = {0, 1, 2, 3, -1, -2, -3, -4, -5, -6, -7, -8, -9}
FUZZ = settings(max_examples=300, deadline=None, print_blob=True, derandomize=True)

# The int32 fields of mxemu_accum_config after struct_size and version, and its formats.
INT_FIELDS = ["instruction_k", "terms_per_step", "k_split", "interleave", "block_terms",
              "has_product_format", "product_rounding", "product_exponent", "alignment",
              "anchor_exp", "has_align_floor", "align_floor", "frac_bits", "carry_bits",
              "dropped", "c_entry", "rounding", "has_step_format", "step_rounding", "sr_bits",
              "input_subnormals", "output_subnormals", "nan", "overflow", "zero_sign"]
FMT_FIELDS = ["product_format", "output_format", "register_format", "step_format"]
FMT_KEYS = ["kind", "exp_bits", "man_bits", "bias", "is_signed", "specials", "subnormals"]

int32s = st.one_of(st.integers(-3, 70), st.sampled_from([-(1 << 31), (1 << 31) - 1, 1 << 20,
                                                         -(1 << 20), 1 << 16, 126, 127, 128]),
                   st.integers(-(1 << 31), (1 << 31) - 1))
formats = st.one_of(
    st.sampled_from([f.params for f in FORMATS.values()]),
    st.tuples(*[int32s] * 7),
    st.tuples(st.integers(0, 1), st.integers(0, 12), st.integers(0, 30), st.integers(-800, 1100),
              st.integers(0, 1), st.integers(0, 3), st.integers(0, 1)))


@pytest.fixture(scope="module")
def lib():
    return capi.load()


def _arr(ffi, ctype, a):
    return ffi.cast(ctype, a.ctypes.data)


@st.composite
def c_config(draw, ffi):
    """A valid preset's struct with a few fields (or all its bytes) replaced by random ones."""
    c = capi.c_config(ffi, get_preset(draw(st.sampled_from(preset_names()))).config)
    if draw(st.integers(0, 9)) == 0:
        raw = draw(st.binary(min_size=ffi.sizeof(c[0]), max_size=ffi.sizeof(c[0])))
        ffi.memmove(c, raw, len(raw))
        if draw(st.booleans()):
            c.struct_size = ffi.sizeof("mxemu_accum_config")
            c.version = 1
        return c
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.integers(0, 4)) == 0:
            setattr(c, draw(st.sampled_from(FMT_FIELDS)), list(draw(formats)))
        else:
            setattr(c, draw(st.sampled_from(INT_FIELDS)), draw(int32s))
    return c


@given(data=st.data())
@FUZZ
def test_c_gemm_and_dot_batch_fuzz(lib, data):
    ffi, c = lib
    cfg = data.draw(c_config(ffi))
    fa, fb, fs, fc = (ffi.new("mxemu_format *", list(data.draw(formats))) for _ in range(4))
    m, n, k = data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3)), \
        data.draw(st.sampled_from([0, 1, 2, 3, 4, 8, 16, 32, 33, 64]))
    blk_a, blk_b = data.draw(st.sampled_from([-1, 0, 1, 2, 3, 4, 32])), \
        data.draw(st.sampled_from([-1, 0, 1, 2, 4, 32]))
    codes = st.one_of(st.integers(0, 255), st.integers(0, (1 << 32) - 1))
    a = np.array(data.draw(st.lists(codes, min_size=m * k, max_size=m * k)), np.uint32)
    b = np.array(data.draw(st.lists(codes, min_size=max(n, m) * k, max_size=max(n, m) * k)),
                 np.uint32)
    cc = np.array(data.draw(st.lists(codes, min_size=m * n + m, max_size=m * n + m)), np.uint32)

    def scales(rows, blk):
        if blk < 1 or k % blk or not data.draw(st.booleans()):
            return ffi.NULL, None
        s = np.array(data.draw(st.lists(st.integers(0, 255), min_size=rows * (k // blk),
                                        max_size=rows * (k // blk))), np.uint8)
        return _arr(ffi, "uint8_t *", s), s
    sa, keep_a = scales(max(m, 1), blk_a)
    sb, keep_b = scales(max(n, m, 1), blk_b)
    d = np.zeros(m * n + m + 1, np.uint32)
    fl = np.zeros(m * n + m + 1, np.uint8)
    null_c = data.draw(st.booleans())
    args = (fa, _arr(ffi, "uint32_t *", a), fb, _arr(ffi, "uint32_t *", b), fs, sa, blk_a, sb,
            blk_b, fc, ffi.NULL if null_c else _arr(ffi, "uint32_t *", cc),
            data.draw(st.integers(-2, 3)), _arr(ffi, "uint32_t *", d), _arr(ffi, "uint8_t *", fl))
    st1 = c.mxemu_gemm(cfg, m, n, k, *args)
    assert st1 in STATUSES
    st2 = c.mxemu_dot_batch(cfg, m, k, *args)
    assert st2 in STATUSES
    per = data.draw(st.integers(0, 40))
    rnd = np.array(data.draw(st.lists(st.integers(0, (1 << 32) - 1), min_size=m * n * max(per, 1),
                                      max_size=m * n * max(per, 1))), np.uint32)
    rp = ffi.NULL if data.draw(st.booleans()) else _arr(ffi, "uint32_t *", rnd)
    st3 = c.mxemu_gemm_ex(cfg, m, n, k, *args[:11], rp, per, *args[11:])
    assert st3 in STATUSES
    assert ffi.string(c.mxemu_status_string(st1))
    del keep_a, keep_b


@given(fmt=formats, raw=st.binary(max_size=256), rounding=int32s, overflow=int32s,
       sr_bits=int32s, block=st.sampled_from([-1, 0, 1, 2, 16, 32, 33]), mode=int32s)
@FUZZ
def test_c_codecs_fuzz(lib, fmt, raw, rounding, overflow, sr_bits, block, mode):
    ffi, c = lib
    f = ffi.new("mxemu_format *", list(fmt))
    n = len(raw) // 4
    codes = np.frombuffer(raw[:4 * n], np.uint32).copy()
    out = np.zeros(n + 1, np.float64)
    assert c.mxemu_decode(f, _arr(ffi, "uint32_t *", codes), n, _arr(ffi, "double *", out)) \
        in STATUSES
    vals = np.frombuffer(raw[:8 * (len(raw) // 8)], np.float64).copy()
    rb = np.frombuffer(raw[:4 * (len(raw) // 8) * 2], np.uint32)[: vals.size].copy()
    cod = np.zeros(vals.size + 1, np.uint32)
    fl = np.zeros(vals.size + 1, np.uint8)
    assert c.mxemu_encode(f, _arr(ffi, "double *", vals), vals.size, rounding, overflow,
                          _arr(ffi, "uint32_t *", rb), sr_bits, mode & 1,
                          _arr(ffi, "uint32_t *", cod), _arr(ffi, "uint8_t *", fl)) in STATUSES
    x = np.frombuffer(raw[:4 * n], np.float32).copy()
    rbq = np.zeros(n + 1, np.uint32)
    qc, qs, qf = np.zeros(n + 1, np.uint8), np.zeros(n + 1, np.uint8), np.zeros(n + 1, np.uint8)
    assert c.mxemu_quantize_mx(_arr(ffi, "float *", x), n, f, block, mode % 5, rounding % 8,
                               overflow % 4, sr_bits % 4, mode & 0x1FF, rounding % 3, mode & 1,
                               overflow & 1, _arr(ffi, "uint32_t *", rbq), sr_bits,
                               _arr(ffi, "uint8_t *", qc), _arr(ffi, "uint8_t *", qs),
                               _arr(ffi, "uint8_t *", qf)) in STATUSES


# ---------------------------------------------------------------------------------------
# The Python API: only ValueError / TypeError
# ---------------------------------------------------------------------------------------
junk = st.one_of(st.none(), st.booleans(), st.integers(-(1 << 70), 1 << 70),
                 st.floats(allow_nan=True), st.text(max_size=6),
                 st.sampled_from(["e4m3", "fp32", "rne", "sr", "max", "inside", "flush"]))


@given(kw=st.dictionaries(st.sampled_from(list(AccumConfig.__dataclass_fields__)), junk,
                          max_size=4))
@FUZZ
def test_python_config_fuzz(kw):
    try:
        AccumConfig(**kw)
    except (ValueError, TypeError):
        pass


@given(data=st.data())
@settings(max_examples=150, deadline=None, print_blob=True, derandomize=True)
def test_python_gemm_and_dot_batch_fuzz(backend, data):
    from emulator.numerics import dot_batch, gemm_auto
    cfg = get_preset(data.draw(st.sampled_from(preset_names()))).config
    m, n, k = (data.draw(st.integers(0, 3)) for _ in range(3))
    dtype = data.draw(st.sampled_from([np.uint8, np.int64, np.float64, np.int8, object]))
    fa = data.draw(st.sampled_from(["e4m3", "e2m1", "fp16", "int8", "nope", 3]))
    def arr(rows, cols):  # int64 wrapped into the drawn dtype (uint8 wraps, object keeps ints)
        v = data.draw(st.lists(st.integers(-300, 70000), min_size=rows * cols,
                               max_size=rows * cols))
        return np.array(v, np.int64).astype(dtype).reshape(rows, cols)
    a, b = arr(m, k), arr(k, n)
    C = data.draw(st.sampled_from([None, 0, np.zeros((m, n)), np.zeros((n, m)), "x"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NV.NativeFallbackWarning)
        try:
            gemm_auto((a, fa), (b, fa), C, cfg)
        except (ValueError, TypeError):
            pass
        try:
            dot_batch(a, a.copy(), fa, fa, data.draw(junk), None, None, cfg)
        except (ValueError, TypeError):
            pass


@pytest.mark.parametrize("scale", [2 ** 70, -5, 256, 3.5, float("nan"), "x", True, [1.5, 2.0]],
                         ids=repr)
def test_python_dot_batch_bad_scales_name_the_argument(backend, scale):
    from emulator.numerics import dot_batch
    a = np.zeros((2, 4), np.uint8)
    with pytest.raises(ValueError, match="a_scale"):
        dot_batch(a, a, "e4m3", "e4m3", scale, None, None, get_preset("exact").config)



@pytest.mark.parametrize("name", ["b200-mxf8f6f4", "exact", "b200-mxf4nvf4", "b200-fp8"])
@pytest.mark.parametrize("threads", [1, 3])
def test_c_gemm_ragged_shapes_match_python(lib, name, threads):
    """mxemu_gemm through the C ABI on ragged shapes (N not a multiple of the kernel's 8-column
    panels, K not a multiple of the instruction) matches the numpy path bit for bit. Under the
    sanitizer job this is the out-of-bounds check of the vectorised kernel's panels."""
    from emulator.formats import E8M0
    from emulator.numerics import gemm_fast
    ffi, c = lib
    cfg = get_preset(name).config
    elem = "e2m1" if "mxf4" in name else "e4m3"
    rng = np.random.default_rng(11)
    m, n, k = 13, 11, 96 if "mxf4" in name else 80
    A = emulator.quantize(rng.standard_normal((m, k)).astype(np.float32), elem, axis=1,
                          block_size=16)
    B = emulator.quantize(rng.standard_normal((k, n)).astype(np.float32), elem, axis=0,
                          block_size=16)
    want = gemm_fast(A, B, None, cfg)
    a = A.codes.astype(np.uint32)
    bt = np.ascontiguousarray(B.codes.T, dtype=np.uint32)
    sa = np.ascontiguousarray(A.scales, dtype=np.uint8)
    sb = np.ascontiguousarray(B.scales.T, dtype=np.uint8)
    d = np.zeros(m * n, np.uint32)
    fl = np.zeros(m * n, np.uint8)
    fmt = lambda f: ffi.new("mxemu_format *", list(f.params))  # noqa: E731
    ef = fmt(emulator.get_format(elem))
    st = c.mxemu_gemm(capi.c_config(ffi, cfg), m, n, k, ef, _arr(ffi, "uint32_t *", a), ef,
                      _arr(ffi, "uint32_t *", bt), fmt(E8M0), _arr(ffi, "uint8_t *", sa), 16,
                      _arr(ffi, "uint8_t *", sb), 16, fmt(cfg.register), ffi.NULL, threads,
                      _arr(ffi, "uint32_t *", d), _arr(ffi, "uint8_t *", fl))
    assert st == 0
    assert np.array_equal(d.reshape(m, n), want[0]) and np.array_equal(fl.reshape(m, n), want[1])
