"""libmxemu driven through its C ABI with cffi in ABI mode, as a C/C++ or DPI-C testbench
would call it: the same vectors as the Python tests, bit for bit, and argument errors as
status codes (never a crash).
"""
import numpy as np
import pytest

import emulator
from emulator import _backend
from emulator.formats import E2M1, E4M3, E5M2, E8M0, FP16, INT8, UE4M3

import capi

MXEMU_OK, ERR_NULL, ERR_FORMAT, ERR_ARG, ERR_CODE_RANGE, ERR_LENGTH = 0, -1, -2, -3, -4, -5


@pytest.fixture(scope="module")
def lib():
    return capi.load()


def _fmt(ffi, f):
    return ffi.new("mxemu_format *", list(f.params))


def _ptr(ffi, ctype, arr):
    return ffi.cast(ctype, arr.ctypes.data) if arr is not None else ffi.NULL


@pytest.mark.parametrize("f", [E4M3, E5M2, E2M1, INT8, E8M0, UE4M3, FP16], ids=lambda f: f.name)
def test_decode_every_code_matches_python(lib, f):
    ffi, c = lib
    codes = np.arange(min(f.num_codes, 1 << 16), dtype=np.uint32)
    out = np.empty(codes.size, np.float64)
    assert c.mxemu_decode(_fmt(ffi, f), _ptr(ffi, "uint32_t *", codes), codes.size,
                          _ptr(ffi, "double *", out)) == MXEMU_OK
    with _backend.using("reference"):
        want = f.decode(codes.astype(f.code_dtype))
    assert np.array_equal(out.view(np.uint64), want.view(np.uint64))  # NaN signs included


@pytest.mark.parametrize("mode", range(7), ids=["rne", "rna", "rtz", "rup", "rdn", "rto", "sr"])
@pytest.mark.parametrize("f", [E4M3, E5M2, E2M1, INT8, FP16], ids=lambda f: f.name)
def test_encode_matches_the_reference(lib, f, mode):
    ffi, c = lib
    rng = np.random.default_rng(7)
    vals = rng.standard_normal(4000) * np.exp2(rng.integers(-20, 20, 4000))
    vals[:6] = [0.0, -0.0, np.inf, -np.inf, np.nan, 464.0]
    rb = rng.integers(0, 2**32, vals.size, dtype=np.uint64).astype(np.uint32)
    codes = np.empty(vals.size, np.uint32)
    flags = np.empty(vals.size, np.uint8)
    st = c.mxemu_encode(_fmt(ffi, f), _ptr(ffi, "double *", vals), vals.size, mode, 0,
                        _ptr(ffi, "uint32_t *", rb), 32, 0, _ptr(ffi, "uint32_t *", codes),
                        _ptr(ffi, "uint8_t *", flags))
    assert st == MXEMU_OK
    with _backend.using("reference"):
        want = f.encode(vals, mode, "saturate", rand_bits=rb if mode == 6 else None)
    assert np.array_equal(codes, want.codes.astype(np.uint32))
    assert np.array_equal(flags, want.flags)


@pytest.mark.parametrize("f", [E4M3, E2M1, INT8], ids=lambda f: f.name)
def test_quantize_mx_matches_the_reference(lib, f):
    ffi, c = lib
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((8, 64)) * np.exp2(rng.integers(-8, 8, (8, 1)))).astype(np.float32)
    x[0, 5], x[1, 0], x[2, :32] = 957.0, np.nan, 0.0
    codes, flags = np.empty(x.size, np.uint8), np.empty(x.size, np.uint8)
    scales = np.empty(x.size // 32, np.uint8)
    st = c.mxemu_quantize_mx(_ptr(ffi, "float *", x), x.size, _fmt(ffi, f), 32, 0, 0, 0, 0, 0, 0,
                             0, 0, ffi.NULL, 32, _ptr(ffi, "uint8_t *", codes),
                             _ptr(ffi, "uint8_t *", scales), _ptr(ffi, "uint8_t *", flags))
    assert st == MXEMU_OK
    with _backend.using("reference"):
        q = emulator.quantize(x, f)
    assert np.array_equal(codes, q.codes.reshape(-1))
    assert np.array_equal(scales, q.scales.reshape(-1))
    assert np.array_equal(flags, q.flags.reshape(-1))


def test_quantize_nvfp4_matches_the_reference(lib):
    ffi, c = lib
    x = np.random.default_rng(4).standard_normal((4, 32)).astype(np.float32)
    with _backend.using("reference"):
        q = emulator.quantize_nvfp4(x)
    codes, flags = np.empty(x.size, np.uint8), np.empty(x.size, np.uint8)
    scales = np.empty(x.size // 16, np.uint8)
    st = c.mxemu_quantize_nvfp4(_ptr(ffi, "float *", x), x.size, q.tensor_scale, 16, 0, 0, 0,
                                _ptr(ffi, "uint8_t *", codes), _ptr(ffi, "uint8_t *", scales),
                                _ptr(ffi, "uint8_t *", flags))
    assert st == MXEMU_OK
    assert np.array_equal(codes, q.codes.reshape(-1)) and np.array_equal(scales,
                                                                         q.scales.reshape(-1))


def test_argument_errors_are_status_codes(lib):
    ffi, c = lib
    fmt = _fmt(ffi, E4M3)
    vals = np.ones(4)
    codes, flags = np.empty(4, np.uint32), np.empty(4, np.uint8)
    args = (_ptr(ffi, "double *", vals), 4)
    outs = (_ptr(ffi, "uint32_t *", codes), _ptr(ffi, "uint8_t *", flags))
    assert c.mxemu_encode(ffi.NULL, *args, 0, 0, ffi.NULL, 32, 0, *outs) == ERR_NULL
    assert c.mxemu_encode(fmt, ffi.NULL, 4, 0, 0, ffi.NULL, 32, 0, *outs) == ERR_NULL
    assert c.mxemu_encode(fmt, *args, 9, 0, ffi.NULL, 32, 0, *outs) == ERR_ARG  # rounding
    assert c.mxemu_encode(fmt, *args, 0, 1, ffi.NULL, 32, 0, *outs) == ERR_ARG  # E4M3 has no Inf
    assert c.mxemu_encode(fmt, *args, 6, 0, ffi.NULL, 32, 0, *outs) == ERR_NULL  # SR, no bits
    assert c.mxemu_encode(fmt, _ptr(ffi, "double *", vals), -1, 0, 0, ffi.NULL, 32, 0,
                          *outs) == ERR_LENGTH
    bad = ffi.new("mxemu_format *", [0, 9, 3, 7, 1, 1, 1])  # 9 exponent bits
    assert c.mxemu_format_check(bad) == ERR_FORMAT
    assert c.mxemu_encode(bad, *args, 0, 0, ffi.NULL, 32, 0, *outs) == ERR_FORMAT
    big = np.array([0x100], np.uint32)
    out = np.empty(1)
    assert c.mxemu_decode(fmt, _ptr(ffi, "uint32_t *", big), 1,
                          _ptr(ffi, "double *", out)) == ERR_CODE_RANGE
    assert ffi.string(c.mxemu_status_string(ERR_FORMAT))


def test_fuzz_random_descriptors_and_enums_never_crash(lib):
    # Random (often invalid) descriptors, enums and lengths: every call returns a status.
    ffi, c = lib
    rng = np.random.default_rng(11)
    vals = rng.standard_normal(64)
    codes, flags = np.empty(64, np.uint32), np.empty(64, np.uint8)
    rb = rng.integers(0, 2**32, 64, dtype=np.uint64).astype(np.uint32)
    seen = set()
    for _ in range(3000):
        desc = [int(v) for v in rng.integers(-3, 40, 7)]
        if rng.random() < 0.5:  # half the time a valid format, so the kernels run too
            desc = list(rng.choice([E4M3, E5M2, E2M1, INT8, E8M0, FP16]).params)
        fmt = ffi.new("mxemu_format *", desc)
        n = int(rng.integers(0, 65))
        st = c.mxemu_encode(fmt, _ptr(ffi, "double *", vals), n, int(rng.integers(-2, 9)),
                            int(rng.integers(-2, 5)), _ptr(ffi, "uint32_t *", rb),
                            int(rng.integers(-2, 40)), int(rng.integers(0, 2)),
                            _ptr(ffi, "uint32_t *", codes), _ptr(ffi, "uint8_t *", flags))
        seen.add(st)
        assert st in (MXEMU_OK, ERR_FORMAT, ERR_ARG, ERR_NULL)
    assert MXEMU_OK in seen and ERR_FORMAT in seen


ERR_RAND_SHORT = -9


def test_gemm_ex_short_random_sequence_is_a_status(lib):
    """mxemu_gemm_ex / mxemu_dot_batch_ex with R random words per output: as many as the
    chains round with runs and matches the reference; one fewer returns MXEMU_ERR_RAND_SHORT
    with D and the flags all zero (nothing half computed is left behind)."""
    from emulator.numerics import AccumConfig, dot, gemm
    ffi, c = lib
    cfg = AccumConfig(rounding="sr", instruction_k=2, terms_per_step=1, sr_bits=8)
    cc = capi.c_config(ffi, cfg)
    fmt, fp32 = _fmt(ffi, E4M3), _fmt(ffi, emulator.formats.FP32)
    rng = np.random.default_rng(12)
    m, n, k = 3, 2, 5  # 3 instructions of 2 steps: 6 roundings when no sum is zero
    a = rng.integers(0x30, 0x50, (m, k)).astype(np.uint32)  # positive normals: no zero sums
    b = rng.integers(0x30, 0x50, (n, k)).astype(np.uint32)
    for R, want_st in ((6, MXEMU_OK), (5, ERR_RAND_SHORT)):
        rb = rng.integers(0, 2**32, (m, n, R), dtype=np.uint64).astype(np.uint32)
        d = np.full((m, n), 0xABCD, np.uint32)
        fl = np.full((m, n), 0x5A, np.uint8)
        st = c.mxemu_gemm_ex(cc, m, n, k, fmt, _ptr(ffi, "uint32_t *", a), fmt,
                             _ptr(ffi, "uint32_t *", b), ffi.NULL, ffi.NULL, 0, ffi.NULL, 0,
                             fp32, ffi.NULL, _ptr(ffi, "uint32_t *", rb), R, 2,
                             _ptr(ffi, "uint32_t *", d), _ptr(ffi, "uint8_t *", fl))
        assert st == want_st, R
        if st == MXEMU_OK:
            want = gemm((a, E4M3), (b.T.copy(), E4M3), None, cfg, rand_bits=rb)
            assert np.array_equal(d, want[0]) and np.array_equal(fl, want[1])
        else:
            with pytest.raises(ValueError, match=f"rand_bits has {R} values"):
                gemm((a, E4M3), (b.T.copy(), E4M3), None, cfg, rand_bits=rb)
            assert not d.any() and not fl.any()
            assert b"random words" in ffi.string(c.mxemu_status_string(st))
        # the batch of dots: row r of A with row r of B (the first n rows)
        rbd = np.ascontiguousarray(rb[:n, 0, :])
        d2, fl2 = np.full(n, 0xABCD, np.uint32), np.full(n, 0x5A, np.uint8)
        st = c.mxemu_dot_batch_ex(cc, n, k, fmt, _ptr(ffi, "uint32_t *", a), fmt,
                                  _ptr(ffi, "uint32_t *", b), ffi.NULL, ffi.NULL, 0, ffi.NULL,
                                  0, fp32, ffi.NULL, _ptr(ffi, "uint32_t *", rbd), R, 1,
                                  _ptr(ffi, "uint32_t *", d2), _ptr(ffi, "uint8_t *", fl2))
        assert st == want_st, R
        if st == MXEMU_OK:
            for r in range(n):
                assert (int(d2[r]), int(fl2[r])) == dot(a[r].tolist(), b[r].tolist(), E4M3,
                                                        E4M3, None, None, 0, cfg,
                                                        rand_bits=rbd[r].tolist())
        else:
            assert not d2.any() and not fl2.any()


def _abi_gemm(ffi, c, cfg, a, af, b, bf, sf=None, sa=None, sb=None, blk=0):
    """mxemu_gemm of A (m x k codes) and B transposed (n x k): (status, D, flags)."""
    m, k = a.shape
    n = b.shape[0]
    d, fl = np.zeros((m, n), np.uint32), np.zeros((m, n), np.uint8)
    a32, b32 = a.astype(np.uint32), b.astype(np.uint32)
    st = c.mxemu_gemm(capi.c_config(ffi, cfg), m, n, k, _fmt(ffi, af), _ptr(ffi, "uint32_t *", a32),
                      _fmt(ffi, bf), _ptr(ffi, "uint32_t *", b32),
                      _fmt(ffi, sf) if sf else ffi.NULL, _ptr(ffi, "uint8_t *", sa), blk,
                      _ptr(ffi, "uint8_t *", sb), blk, _fmt(ffi, cfg.register), ffi.NULL, 1,
                      _ptr(ffi, "uint32_t *", d), _ptr(ffi, "uint8_t *", fl))
    return st, d, fl


def test_extreme_configs_through_the_abi(lib):
    """Wide wrap-around adders, exponent ranges of the extreme biases (sums thousands of bits
    wide), an anchor 2^20 below everything with F = 2^16: status OK and the reference's bits
    and flags (CI runs this file against the sanitizer build too)."""
    from emulator.formats import FP32, Format
    from emulator.mxtensor import MXTensor
    from emulator.numerics import AccumConfig, gemm
    ffi, c = lib
    rng = np.random.default_rng(13)
    low, high = Format.custom(8, 3, bias=-768), Format.custom(8, 2, bias=1023)
    fp32 = rng.integers(0, 1 << 32, (3, 6), dtype=np.uint64).astype(np.uint32)
    fp32[(fp32 & 0x7F800000) == 0x7F800000] = 0x3F800000
    cases = [(AccumConfig(frac_bits=f, carry_bits=cb), fp32, FP32)
             for f, cb in ((100, 0), (124, 1), (150, 3), (200, 60))]
    cases += [(AccumConfig(alignment="anchor", anchor_exp=-(1 << 20), frac_bits=1 << 16),
               fp32, FP32)]
    for f in (low, high):
        codes = rng.integers(0, f.num_codes, (3, 6))
        cases += [(AccumConfig(), codes, f), (AccumConfig(output_format=f), codes, f),
                  (AccumConfig(frac_bits=2000, alignment="anchor", anchor_exp=-2100), codes, f)]
    for cfg, codes, f in cases:
        st, d, fl = _abi_gemm(ffi, c, cfg, codes[:2], f, codes[2:], f)
        want = gemm((codes[:2], f), (codes[2:].T.copy(), f), None, cfg)
        assert st == MXEMU_OK and np.array_equal(d, want[0]) and np.array_equal(fl, want[1]), \
            cfg.describe()
    # block-scaled extreme-bias operands, UE4M3 scales on both sides
    codes = rng.integers(0, low.num_codes, (3, 4))
    sc = np.array([[0x7E, 0x01], [0x55, 0x7D], [0x3A, 0x40]], np.uint8)
    cfg = AccumConfig(output_format=high)
    st, d, fl = _abi_gemm(ffi, c, cfg, codes[:2], low, codes[2:], low, UE4M3, sc[:2].copy(),
                          sc[2:].copy(), 2)
    A = MXTensor(codes[:2], sc[:2], low, UE4M3, 2, 1, (2, 4))
    B = MXTensor(codes[2:].T.copy(), sc[2:].T.copy(), low, UE4M3, 2, 0, (4, 1))
    want = gemm(A, B, None, cfg)
    assert st == MXEMU_OK and np.array_equal(d, want[0]) and np.array_equal(fl, want[1])


@pytest.mark.parametrize("name", ["b200-mxf8f6f4", "h100-fp8-wgmma", "exact", "b200-mxf4nvf4",
                                  "mxdotp", "a100-fp16", "fp32-fma-chain"])
def test_gemm_vectorised_kernel_through_the_abi(lib, name):
    """mxemu_gemm on operands large enough for the vectorised kernel's table-driven plan and
    all of its routes (quantized Gaussian data spread over rows and columns, zeros, NaN
    codes and scales, C with specials), one and three threads, against the numpy path of
    the model (gemm_fast), bits and flags. CI runs this file against the ASan/UBSan build."""
    from emulator.numerics import gemm_fast, get_preset
    ffi, c = lib
    cfg = get_preset(name).config
    rng = np.random.default_rng(7)
    m, n, k = 37, 21, 128
    x = rng.standard_normal((m, k)) * np.exp2(rng.integers(-12, 12, (m, 1)))
    y = rng.standard_normal((k, n)) * np.exp2(rng.integers(-12, 12, (1, n)))
    x[rng.random((m, k)) < 0.05] = 0.0
    x[rng.random((m, k)) < 0.03] *= 2.0 ** -12  # tiny elements: steps that cut, or nearly
    y[rng.random((k, n)) < 0.03] *= 2.0 ** -20
    if name == "a100-fp16":
        A, B = (FP16.encode(x).codes, FP16), (FP16.encode(y).codes, FP16)
        ac, bc, ef, sc = A[0], B[0], FP16, None
    else:
        elem = "e2m1" if "mxf4" in name else "e4m3"
        A = emulator.quantize(x.astype(np.float32), elem, axis=1)
        B = emulator.quantize(y.astype(np.float32), elem, axis=0)
        if elem == "e4m3":
            A.codes[3, 9] = 0x7F  # a NaN element
        B.scales[2, 5] = 0xFF  # a NaN scale
        ac, bc, ef, sc = A.codes, B.codes, A.elem, (A.scales, B.scales.T)
    reg = cfg.register
    C = reg.encode(rng.standard_normal((m, n))).codes.astype(np.int64)
    C[0, 0], C[1, 1] = reg.nan_code(0), reg.inf_magnitude
    want = gemm_fast(A, B, C, cfg)
    a32 = np.ascontiguousarray(ac, np.uint32)
    b32 = np.ascontiguousarray(np.asarray(bc).T, np.uint32)
    c32 = np.ascontiguousarray(C, np.uint32)
    s_a = None if sc is None else np.ascontiguousarray(sc[0], np.uint8)
    s_b = None if sc is None else np.ascontiguousarray(sc[1], np.uint8)
    sfmt = ffi.NULL if sc is None else _fmt(ffi, E8M0)
    for threads in (1, 3):
        d = np.empty(m * n, np.uint32)
        fl = np.empty(m * n, np.uint8)
        st = c.mxemu_gemm(capi.c_config(ffi, cfg), m, n, k, _fmt(ffi, ef),
                          _ptr(ffi, "uint32_t *", a32), _fmt(ffi, ef),
                          _ptr(ffi, "uint32_t *", b32), sfmt, _ptr(ffi, "uint8_t *", s_a), 32,
                          _ptr(ffi, "uint8_t *", s_b), 32, _fmt(ffi, reg),
                          _ptr(ffi, "uint32_t *", c32), threads, _ptr(ffi, "uint32_t *", d),
                          _ptr(ffi, "uint8_t *", fl))
        assert st == MXEMU_OK
        for got, exp in ((d.reshape(m, n), want[0]), (fl.reshape(m, n), want[1])):
            bad = np.argwhere(got != exp)
            assert bad.size == 0, f"{name}, {threads} threads: first difference at {bad[0]}"


def test_wide_products_through_the_abi(lib):
    """Int elements of 28..30 fraction bits with UE4M3 or E8M0 block scales on both sides
    (products up to 72 bits, once MXEMU_ERR_UNSUPPORTED): mxemu_gemm, mxemu_dot_batch_ex (SR
    sequences) and mxemu_dot return MXEMU_OK and the reference's bits and flags, for exact
    sums, every dropped policy, carry adders, products_then_c, scale_blocks and product
    formats (CI runs this file against the sanitizer build too)."""
    from emulator.formats import BF16, FP32, Format
    from emulator.mxtensor import MXTensor
    from emulator.numerics import AccumConfig, dot, gemm
    ffi, c = lib
    rng = np.random.default_rng(21)
    cfgs = [AccumConfig(), AccumConfig(frac_bits=60, dropped="sticky"),
            AccumConfig(frac_bits=70, dropped="nearest", instruction_k=2),
            AccumConfig(frac_bits=100, carry_bits=1, dropped="floor"),
            AccumConfig(alignment="products_then_c", frac_bits=66, terms_per_step=2),
            AccumConfig(k_split="scale_blocks", frac_bits=40, alignment="anchor", anchor_exp=30),
            AccumConfig(product_format=FP32, product_rounding="rtz", product_exponent="value"),
            AccumConfig(product_format=BF16, product_rounding="rup", c_entry="after",
                        rounding="sr", instruction_k=4, terms_per_step=2)]
    m, n, k, blk = 2, 3, 8, 2
    for frac in (28, 29, 30):
        f = Format(f"int{frac + 2}", "int", 0, frac, specials="finite")
        for sf in (UE4M3, E8M0):
            for cfg in cfgs:
                a = rng.integers(0, f.num_codes, (m, k), dtype=np.int64).astype(np.uint32)
                b = rng.integers(0, f.num_codes, (n, k), dtype=np.int64).astype(np.uint32)
                a[0, :2] = b[0, :2] = 1 << (frac + 1)  # the most negative code: the widest
                b[1, 2:4] = a[0, 2:4] ^ np.uint32(1 << (frac + 1))  # near-cancelling pairs
                lo, hi = (0x30, 0x7F) if sf is UE4M3 else (100, 160)
                sa = rng.integers(lo, hi, (m, k // blk)).astype(np.uint8)
                sb = rng.integers(lo, hi, (n, k // blk)).astype(np.uint8)
                A = MXTensor(a, sa, f, sf, blk, 1, (m, k))
                B = MXTensor(b.T.copy(), sb.T.copy(), f, sf, blk, 0, (k, n))
                rb = rng.integers(0, 2**32, (m, n, 3 * k), dtype=np.uint64).astype(np.uint32)
                want = gemm(A, B, None, cfg, rand_bits=rb)
                d, fl = np.zeros((m, n), np.uint32), np.zeros((m, n), np.uint8)
                cc = capi.c_config(ffi, cfg)
                st = c.mxemu_gemm_ex(cc, m, n, k, _fmt(ffi, f), _ptr(ffi, "uint32_t *", a),
                                     _fmt(ffi, f), _ptr(ffi, "uint32_t *", b), _fmt(ffi, sf),
                                     _ptr(ffi, "uint8_t *", sa), blk, _ptr(ffi, "uint8_t *", sb),
                                     blk, _fmt(ffi, cfg.register), ffi.NULL,
                                     _ptr(ffi, "uint32_t *", rb), 3 * k, 2,
                                     _ptr(ffi, "uint32_t *", d), _ptr(ffi, "uint8_t *", fl))
                assert st == MXEMU_OK and np.array_equal(d, want[0]) and \
                    np.array_equal(fl, want[1]), (frac, sf.name, cfg.describe())
                # the batch of dots (row r of A with row r of B) and one dot
                rbd = np.ascontiguousarray(rb[:, 0, :])
                d2, fl2 = np.zeros(m, np.uint32), np.zeros(m, np.uint8)
                st = c.mxemu_dot_batch_ex(cc, m, k, _fmt(ffi, f), _ptr(ffi, "uint32_t *", a),
                                          _fmt(ffi, f), _ptr(ffi, "uint32_t *", b),
                                          _fmt(ffi, sf), _ptr(ffi, "uint8_t *", sa), blk,
                                          _ptr(ffi, "uint8_t *", sb), blk,
                                          _fmt(ffi, cfg.register), ffi.NULL,
                                          _ptr(ffi, "uint32_t *", rbd), 3 * k, 1,
                                          _ptr(ffi, "uint32_t *", d2), _ptr(ffi, "uint8_t *", fl2))
                assert st == MXEMU_OK
                for r in range(m):
                    assert (int(d2[r]), int(fl2[r])) == dot(
                        a[r].tolist(), b[r].tolist(), f, f, sa[r].tolist(), sb[r].tolist(), 0,
                        cfg, scale_fmt=sf, rand_bits=rbd[r].tolist()), (frac, cfg.describe())
                if cfg.rounding.name == "SR":
                    continue  # mxemu_dot takes no random words
                out, fl1 = ffi.new("uint32_t *"), ffi.new("uint8_t *")
                st = c.mxemu_dot(cc, k, _fmt(ffi, f), _ptr(ffi, "uint32_t *", a[1]),
                                 _fmt(ffi, f), _ptr(ffi, "uint32_t *", b[1]), _fmt(ffi, sf),
                                 _ptr(ffi, "uint8_t *", sa[1]), blk,
                                 _ptr(ffi, "uint8_t *", sb[1]), blk, _fmt(ffi, cfg.register),
                                 0x3F800000, out, fl1)
                assert st == MXEMU_OK and (out[0], fl1[0]) == dot(
                    a[1].tolist(), b[1].tolist(), f, f, sa[1].tolist(), sb[1].tolist(),
                    0x3F800000, cfg, scale_fmt=sf)


def test_int_c_format_through_the_abi(lib):
    """C arriving in an int format (INT8, int32 of 30 fraction bits, the most negative code
    included): mxemu_gemm returns MXEMU_OK and the reference's bits and flags, on the
    vectorised kernel's configs (NVIDIA F = 25) and the general path's."""
    from emulator.formats import FP32, Format
    from emulator.numerics import AccumConfig, gemm, get_preset
    ffi, c = lib
    rng = np.random.default_rng(22)
    m, n, k = 9, 10, 32
    a = rng.integers(0, 256, (m, k)).astype(np.uint32)
    b = rng.integers(0, 256, (n, k)).astype(np.uint32)
    for cf in (INT8, Format("int32", "int", 0, 30, specials="finite")):
        cc = rng.integers(0, cf.num_codes, (m, n), dtype=np.int64).astype(np.uint32)
        cc[0, :3] = [0, cf.num_codes // 2, cf.num_codes // 2 - 1]
        for cfg in (get_preset("h100-fp8-wgmma").config, AccumConfig(output_format=FP32),
                    AccumConfig(frac_bits=30, dropped="sticky", alignment="products_then_c")):
            d, fl = np.zeros((m, n), np.uint32), np.zeros((m, n), np.uint8)
            st = c.mxemu_gemm(capi.c_config(ffi, cfg), m, n, k, _fmt(ffi, E4M3),
                              _ptr(ffi, "uint32_t *", a), _fmt(ffi, E4M3),
                              _ptr(ffi, "uint32_t *", b), ffi.NULL, ffi.NULL, 0, ffi.NULL, 0,
                              _fmt(ffi, cf), _ptr(ffi, "uint32_t *", cc), 2,
                              _ptr(ffi, "uint32_t *", d), _ptr(ffi, "uint8_t *", fl))
            want = gemm((a, E4M3), (b.T.copy(), E4M3), cc, cfg, c_fmt=cf)
            assert st == MXEMU_OK and np.array_equal(d, want[0]) and \
                np.array_equal(fl, want[1]), (cf.name, cfg.describe())
