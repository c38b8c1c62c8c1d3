"""The C kernel of the accumulation model (`emulator.numerics.native.gemm_native`) against the
reference, bit for bit (result bits AND flags).

Checked here, reusing the operand and config strategies of tests/test_numerics_fast.py:
- every preset on its natural inputs and on others, with specials (NaN/Inf codes, NaN scales
  0xFF, zeros of both signs, subnormals, huge spreads, cancellation), small shapes;
- the hand-made knob configs and random configs (every valid config runs in C; only a missing
  native module falls back to gemm_fast, with a NativeFallbackWarning);
- wide exact sums (FP32 inputs, F unbounded, scales far apart), and the product sums of
  products_then_c and block sums of scale_blocks at any F (random configs, sums that cancel
  down to their low bits with Fraction-computed results, every dropped policy, the C ABI);
- products over 64 bits (int elements of 28..30 fraction bits with UE4M3 / E8M0 scales on
  both sides), C in int formats, and the integer knobs at the bounds AccumConfig sets; scales
  wider than 8 bits (beyond the C ABI) fall back with a warning;
- the real-hardware data (golden/hardware) through the native path;
- thread-count invariance (threads= and MXEMU_THREADS);
- bad arguments raise ValueError naming the argument.
"""
import itertools
import warnings
from fractions import Fraction

import numpy as np
import pytest

import emulator
from hypothesis import assume, given, settings, strategies as st

import test_numerics_fast as TF
from emulator.formats import BF16, E4M3, E5M2, E8M0, FP16, FP32, TF32, UE4M3, Format
from emulator.flags import Flag
from emulator.mxtensor import MXTensor
from emulator.numerics import AccumConfig, get_preset, gemm, preset_names
from emulator.numerics import hwdata as H
from emulator.numerics import native as NV
from emulator.numerics.native import NativeFallbackWarning, gemm_native

pytestmark = pytest.mark.skipif(not NV.available(), reason="emulator._native has no _gemm")


def nsettings(n):
    return settings(max_examples=n, deadline=None, print_blob=True, **TF.DERANDOMIZE)


def check_native(A, B, C, cfg, c_fmt=None, rand_bits=None, threads=None):
    """gemm_native == reference gemm, bits and flags (or the same ValueError). Returns the
    path gemm_native took ('native' or 'fast')."""
    try:
        want = gemm(A, B, C, cfg, c_fmt=c_fmt, rand_bits=rand_bits)
    except ValueError as exc:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NativeFallbackWarning)
            with pytest.raises(ValueError) as info:
                gemm_native(A, B, C, cfg, c_fmt=c_fmt, rand_bits=rand_bits, threads=threads)
        assert str(info.value) == str(exc)
        return None
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", NativeFallbackWarning)
        got = gemm_native(A, B, C, cfg, c_fmt=c_fmt, rand_bits=rand_bits, threads=threads)
    path = NV.last_backend()
    if NV.native_supported(cfg):
        assert path == "native"
    else:
        assert path == "fast" and any(issubclass(w.category, NativeFallbackWarning)
                                      for w in rec)
    assert got[0].dtype == want[0].dtype and got[0].shape == want[0].shape
    if not (np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])):
        bad = np.argwhere((got[0] != want[0]) | (got[1] != want[1]))[0]
        i, j = int(bad[0]), int(bad[1])
        raise AssertionError(
            f"gemm_native ({path}) differs from the reference at ({i}, {j}): reference "
            f"{int(want[0][i, j]):#x} flags {int(want[1][i, j]):#x}, native "
            f"{int(got[0][i, j]):#x} flags {int(got[1][i, j]):#x}\nconfig: {cfg.describe()}\n"
            f"A: {TF._describe(A)}\nB: {TF._describe(B)}\nC "
            f"({(c_fmt or cfg.register).name}): {None if C is None else np.asarray(C).tolist()}")
    return path


# ---------------------------------------------------------------------------------------
# Presets, knobs, random configs
# ---------------------------------------------------------------------------------------
def test_every_preset_is_native():
    for name in preset_names():
        assert NV.native_supported(get_preset(name).config), name


@pytest.mark.parametrize("name", preset_names())
@given(data=st.data())
@nsettings(12)
def test_every_preset_matches_reference(name, data):
    check_native(*data.draw(TF.preset_case(name)))


@pytest.mark.parametrize("name", list(TF.KNOB_CONFIGS))
@given(data=st.data())
@nsettings(5)
def test_every_knob_matches_reference(name, data):
    check_native(*data.draw(TF.knob_case(TF.KNOB_CONFIGS[name])))


@given(data=st.data())
@nsettings(120)
def test_random_configs_match_reference(data):
    cfg = data.draw(TF.random_config())
    m, n = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    k = data.draw(st.sampled_from([1, 2, 3, 4, 8, 16, 17, 32, 33, 64]))
    if data.draw(st.booleans()):
        block = data.draw(st.sampled_from([1, 2, 4, 8, 16, 32]))
        A, B = data.draw(TF.mx_pair(m, n, k, block=block))
    else:
        if cfg.k_split == "scale_blocks" and cfg.block_terms is None:
            cfg = cfg.replace(block_terms=4)
        A, B = data.draw(TF.plain_pair(m, n, k))
    C, c_fmt, rb = data.draw(TF.extras(cfg, m, n))
    check_native(A, B, C, cfg, c_fmt, rb)


@given(data=st.data())
@nsettings(80)
def test_dot_batch_native_matches_reference_dot(data):
    """dot_batch on the native backend (mxemu_dot_batch_ex) == the reference `dot` of every row,
    bits and flags, for random configs (stochastic rounding included, with one word for all,
    one per dot, or a sequence per dot), element formats with specials, per-block, per-dot,
    shared and no scales (NaN scales included), and C with specials."""
    from emulator import _backend
    from emulator.numerics import dot, dot_batch
    cfg = data.draw(TF.random_config())
    assume(NV.native_supported(cfg))
    p = data.draw(st.integers(1, 6))
    k = data.draw(st.sampled_from([1, 2, 4, 8, 16, 32, 64]))
    fa = data.draw(st.sampled_from(TF.MX_ELEMS + [FP16, BF16]))
    fb = data.draw(st.sampled_from(TF.MX_ELEMS + [FP16]))
    a = data.draw(TF.codes_st(fa, (p, k)))
    b = data.draw(TF.codes_st(fb, (p, k)))

    def scale_arg():
        kind = data.draw(st.sampled_from(["none", "one", "per_dot", "per_block"]))
        if kind == "none":
            return None
        if kind == "one":
            return data.draw(st.sampled_from([0, 1, 126, 127, 128, 254, 255]))
        if kind == "per_dot":
            return data.draw(TF.scales_st(E8M0, (p,)))
        nb = data.draw(st.sampled_from([d for d in (1, 2, 4, 8) if k % d == 0]))
        return data.draw(TF.scales_st(E8M0, (p, nb)))
    sa, sb = scale_arg(), scale_arg()
    if cfg.k_split == "scale_blocks" and cfg.block_terms is None:
        cfg = cfg.replace(block_terms=data.draw(st.sampled_from([1, 2, 4])))
    c = data.draw(TF.codes_st(cfg.register, (p,)))
    # stochastic rounding: one word for all, one per dot, or a sequence long enough per dot
    rkind = data.draw(st.sampled_from(["int", "per_dot", "sequence"]))
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    rb = (int(rng.integers(0, 2**32)) if rkind == "int" else
          rng.integers(0, 2**32, p) if rkind == "per_dot" else
          # every step of every instruction, those of an instruction longer than K too
          rng.integers(0, 2**32, (p, 3 * (k + (cfg.instruction_k or 0)) + 8)))
    NV._state["last"] = None
    with _backend.using("native"):
        got = dot_batch(a, b, fa, fb, sa, sb, c, cfg, rand_bits=rb)
    assert NV.last_backend() == "native"

    def row(s, i):
        if s is None:
            return None
        s = np.asarray(s)
        return int(s) if s.ndim == 0 else int(s[i]) if s.ndim == 1 else s[i].tolist()
    for i in range(p):
        r = rb if rkind == "int" else int(rb[i]) if rkind == "per_dot" else list(rb[i])
        want = dot(a[i].tolist(), b[i].tolist(), fa, fb, row(sa, i), row(sb, i), int(c[i]), cfg,
                   rand_bits=r)
        assert (int(got[0][i]), int(got[1][i])) == want, (cfg.describe(), i)


@pytest.mark.parametrize("name", ["b200-mxf8f6f4", "h100-fp8-wgmma", "exact", "a100-fp16",
                                  "b200-mxf4nvf4", "mxdotp"])
def test_quantized_gaussian_huge_spread(name):
    import emulator
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 96)) * np.exp2(rng.integers(-60, 60, (5, 1)))
    y = rng.standard_normal((96, 4)) * np.exp2(rng.integers(-60, 60, (1, 4)))
    x[4] = -x[3]
    elem = "e2m1" if "mxf4" in name else "e4m3"
    A = emulator.quantize(x.astype(np.float32), elem, axis=1)
    B = emulator.quantize(y.astype(np.float32), elem, axis=0)
    assert check_native(A, B, None, get_preset(name).config) == "native"


@pytest.mark.parametrize("cfg", [AccumConfig(align_floor=None),
                                 AccumConfig(instruction_k=1, terms_per_step=1),
                                 AccumConfig(alignment="anchor", anchor_exp=100, frac_bits=300),
                                 AccumConfig(frac_bits=200, dropped="nearest")],
                         ids=["exact", "fma", "anchor-wide", "F200"])
def test_wide_sums(cfg):
    """FP32 inputs over the whole exponent range (subnormals, near-overflow) with scales far
    apart: exact sums of ~1000 bits go through the multi-limb accumulator."""
    rng = np.random.default_rng(11)
    m, n, k = 3, 4, 40
    a = rng.integers(0, 1 << 32, (m, k), dtype=np.uint64).astype(np.uint32)
    b = rng.integers(0, 1 << 32, (k, n), dtype=np.uint64).astype(np.uint32)
    a[:, ::3] &= 0x807FFFFF  # subnormals
    b[1::4, :] = (b[1::4, :] & 0x80FFFFFF) | 0x7E000000  # huge
    a[0, :] = 0x3F800000
    b[:, 0] = 0x3F800000
    a[2, 5] = 0xFF800000  # -Inf
    check_native((a, FP32), (b, FP32), None, cfg)
    mask = (a & 0x7F800000) == 0x7F800000
    a[mask] = 0x3F800000
    mask = (b & 0x7F800000) == 0x7F800000
    b[mask] = 0x00000001
    check_native((a, FP32), (b, FP32), rng.integers(0, 1 << 32, (m, n)).astype(np.uint32),
                 cfg)


# ---------------------------------------------------------------------------------------
# products_then_c and scale_blocks at any F: wide product sums and block sums
# ---------------------------------------------------------------------------------------
@st.composite
def wide_knob_config(draw):
    """A random config (TF.random_config) moved onto the knobs whose sums need the wide terms:
    products_then_c with F unbounded or beyond 40 bits (carry_bits too), or scale_blocks with
    F unbounded or beyond 60 bits under every alignment."""
    cfg = draw(TF.random_config())
    ch = lambda *v: draw(st.sampled_from(v))  # noqa: E731
    kw = {}
    if draw(st.booleans()):
        kw["alignment"], kw["c_entry"], kw["anchor_exp"] = "products_then_c", "inside", None
        kw["frac_bits"] = ch(None, 41, 50, 60, 63, 90)
        kw["carry_bits"] = (ch(None, 0, 1, 3, 20) if kw["frac_bits"] is not None else None)
    else:
        kw["k_split"], kw["terms_per_step"] = "scale_blocks", None
        kw["block_terms"] = ch(None, 2, 4, 8, 16)
        kw["frac_bits"] = ch(None, 61, 80)
        kw["carry_bits"] = ch(None, None, 2) if kw["frac_bits"] is not None else None
        kw["alignment"] = ch("max", "products_then_c", "anchor")
        kw["anchor_exp"] = draw(st.integers(-40, 40)) if kw["alignment"] == "anchor" else None
        if kw["alignment"] == "products_then_c":
            kw["c_entry"] = "inside"
    try:
        return cfg.replace(**kw)
    except ValueError:
        assume(False)


@given(data=st.data())
@nsettings(400)
def test_products_then_c_and_scale_blocks_wide(data):
    """products_then_c (F None / 41..90, carry_bits) and scale_blocks (F None / 61 / 80, every
    alignment) run in C and match the reference bit for bit and in flags: MX pairs of several
    blocks, plain pairs (FP32 spans the whole exponent range), specials, C, SR."""
    cfg = data.draw(wide_knob_config())
    assert NV.native_supported(cfg)
    m, n = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    if data.draw(st.booleans()):
        block = data.draw(st.sampled_from([1, 2, 4, 8, 16, 32]))
        k = block * data.draw(st.integers(1, 4)) - data.draw(st.sampled_from([0, 0, 1]))
        A, B = data.draw(TF.mx_pair(m, n, max(k, 1), block=block))
    else:
        if cfg.k_split == "scale_blocks" and cfg.block_terms is None:
            cfg = cfg.replace(block_terms=data.draw(st.sampled_from([1, 2, 4])))
        k = data.draw(st.sampled_from([1, 2, 3, 4, 8, 16, 17, 32, 33]))
        A, B = data.draw(TF.plain_pair(m, n, k))
    C, c_fmt, rb = data.draw(TF.extras(cfg, m, n))
    assert check_native(A, B, C, cfg, c_fmt, rb) in ("native", None)


def _fp32(values):
    """FP32 codes of exactly representable values (Fractions or ints)."""
    out = []
    for v in values:
        f = float(v)
        assert Fraction(f) == v and float(np.float32(f)) == f, v
        out.append(int(np.float32(f).view(np.uint32)))
    return np.array(out, dtype=np.uint32)


# (a, b, C): exact sums of 72, 171 and ~240 bits whose top parts cancel against C (or a
# block), leaving low bits a 63-bit jammed sum would have lost.
_WIDE_CASES = [
    ([2 ** 40, Fraction(3, 2 ** 30)], [1, 1], -2 ** 40),
    ([2 ** 100, Fraction(3, 2 ** 60), Fraction(5, 2 ** 70)], [1, 1, 1], -2 ** 100),
    ([2 ** 120, Fraction(7, 2 ** 118), -2 ** 120, 1], [1, 1, 1, Fraction(1, 2 ** 100)], 0),
    ([2 ** 60, -Fraction(1, 2 ** 60), 2 ** 60, Fraction(1, 2 ** 60)], [2 ** 60, 1, -2 ** 60, 1],
     2 ** -20),
]


@pytest.mark.parametrize("cfg", [
    AccumConfig(alignment="products_then_c"),
    AccumConfig(alignment="products_then_c", frac_bits=300, dropped="nearest"),
    AccumConfig(k_split="scale_blocks", block_terms=2),
    AccumConfig(k_split="scale_blocks", block_terms=2, alignment="products_then_c"),
    AccumConfig(k_split="scale_blocks", block_terms=2, frac_bits=300, alignment="anchor",
                anchor_exp=130)],
    ids=["ptc-unbounded", "ptc-F300", "blocks-unbounded", "blocks-ptc", "blocks-anchor"])
@pytest.mark.parametrize("case", range(len(_WIDE_CASES)))
def test_wide_product_and_block_sums_by_hand(cfg, case):
    """Sums of more than 64 and 128 bits that cancel: every config here keeps all bits (F
    unbounded, or wide enough for these exponents), so the result is the exact value of
    sum(a * b) + C, computed here with Fractions; the reference agrees."""
    a, b, c = _WIDE_CASES[case]
    exact = sum(Fraction(x) * Fraction(y) for x, y in zip(a, b)) + Fraction(c)
    want = _fp32([exact])[0]
    A = (_fp32(a).reshape(1, -1), FP32)
    B = (_fp32(b).reshape(-1, 1), FP32)
    C = _fp32([c]).reshape(1, 1)
    assert check_native(A, B, C, cfg) == "native"
    d, f = gemm_native(A, B, C, cfg)
    assert (int(d[0, 0]), int(f[0, 0])) == (int(want), 0)


@pytest.mark.parametrize("dropped", ["truncate", "floor", "sticky", "nearest"])
@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("low", [1, 2, 3, 6, 7])
def test_wide_cut_with_every_dropped_policy(dropped, sign, low):
    """A wide exact sum 2^102 + low * 2^q (four products 2^100 and one small) is cut two bits
    above q because C = -2^102 raises the alignment exponent: the two dropped bits (below
    half, a tie with the kept part even or odd, above half) go through truncate, floor,
    sticky and nearest for the whole wide magnitude, and C cancels the top, so the rounding
    decision is the result's value (bits and flags against the reference)."""
    B = (_fp32([sign] * 5).reshape(-1, 1), FP32)
    C = _fp32([-sign * 2 ** 102]).reshape(1, 1)
    # products_then_c, F = 90: the products' sum is cut at 100 - 90, the pair at 102 - 90
    ptc = AccumConfig(alignment="products_then_c", frac_bits=90, dropped=dropped)
    A = (_fp32([2 ** 100] * 4 + [low * 2 ** 10]).reshape(1, -1), FP32)
    assert check_native(A, B, C, ptc) == "native"
    # scale_blocks, F = 80: the block sum is exact (83 bits), the step cuts at 102 - 80
    blocks = AccumConfig(k_split="scale_blocks", block_terms=5, frac_bits=80, dropped=dropped)
    A = (_fp32([2 ** 100] * 4 + [low * 2 ** 20]).reshape(1, -1), FP32)
    assert check_native(A, B, C, blocks) == "native"


# ---------------------------------------------------------------------------------------
# Real hardware (golden/hardware): every shipped set, the first 200 cases, as diagonals of
# 50 x 50 GEMMs
# ---------------------------------------------------------------------------------------
SHIPPED_SETS = H.list_sets(H.shipped_root())


@pytest.mark.parametrize("key", SHIPPED_SETS, ids=[f"{g}-{f}-{o}" for g, f, o in SHIPPED_SETS])
def test_hwdata_native(key):
    s = H.load_set(H.shipped_root(), *key, limit=200)
    cfg = get_preset(s.preset).config
    fmt = H.INPUT_FORMATS[s.fmt]
    a, b, c = np.array(s.a), np.array(s.b), np.array(s.c)
    got = []
    for i0 in range(0, len(a), 50):
        ai, bi, ci = a[i0:i0 + 50], b[i0:i0 + 50], c[i0:i0 + 50]
        C = np.zeros((len(ai), len(ai)), np.int64)
        C[np.diag_indices(len(ai))] = ci
        d, _ = gemm_native((ai, fmt), (bi.T.copy(), fmt), C, cfg, threads=2)
        assert NV.last_backend() == "native"
        got += TF._widen(np.diag(d), cfg)
    bad = [i for i, (g, w) in enumerate(zip(got, s.d)) if g != w]
    assert not bad, (f"{s.label} {s.preset}: {len(bad)} of {len(s.d)} differ; first: case "
                     f"{bad[0]} hardware {s.d[bad[0]]:#010x} native {got[bad[0]]:#010x}")


# ---------------------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["b200-mxf8f6f4", "exact", "h100-fp8-fp16", "b200-mxf4nvf4"])
def test_thread_count_invariance(name, monkeypatch):
    import emulator
    rng = np.random.default_rng(5)
    x = rng.standard_normal((37, 128)).astype(np.float32)
    y = rng.standard_normal((128, 23)).astype(np.float32)
    elem = "e2m1" if "mxf4" in name else "e4m3"
    if name == "h100-fp8-fp16":
        A = (E4M3.encode(x).codes, E4M3)
        B = (E4M3.encode(y).codes, E4M3)
        C = FP16.encode(rng.standard_normal((37, 23))).codes
    else:
        A = emulator.quantize(x, elem, axis=1)
        B = emulator.quantize(y, elem, axis=0)
        C = FP32.encode(rng.standard_normal((37, 23))).codes
    cfg = get_preset(name).config
    d1, f1 = gemm_native(A, B, C, cfg, threads=1)
    for t in (2, 3, 7, 64):
        d, f = gemm_native(A, B, C, cfg, threads=t)
        assert np.array_equal(d, d1) and np.array_equal(f, f1), t
    for env in ("1", "2", "5"):
        monkeypatch.setenv("MXEMU_THREADS", env)
        d, f = gemm_native(A, B, C, cfg)
        assert np.array_equal(d, d1) and np.array_equal(f, f1), env
    want = gemm(A, B, C, cfg)
    assert np.array_equal(want[0], d1) and np.array_equal(want[1], f1)


# ---------------------------------------------------------------------------------------
# Errors and fallbacks
# ---------------------------------------------------------------------------------------
def _small():
    a = np.array([[0x38, 0x40]], np.uint8)
    b = np.array([[0x38], [0x38]], np.uint8)
    return (a, E4M3), (b, E4M3), get_preset("exact").config


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True, 10 ** 6])
def test_bad_threads(bad):
    A, B, cfg = _small()
    with pytest.raises(ValueError, match="threads"):
        gemm_native(A, B, None, cfg, threads=bad)


def test_bad_arguments_name_the_argument():
    A, B, cfg = _small()
    with pytest.raises(ValueError, match="C has shape"):
        gemm_native(A, B, np.zeros((2, 2), np.uint32), cfg)
    with pytest.raises(ValueError, match="K=2 but B has K=3"):
        gemm_native(A, (np.zeros((3, 1), np.uint8), E4M3), None, cfg)
    with pytest.raises(ValueError, match="A: 300"):
        gemm_native((np.array([[300, 1]]), E4M3), B, None, cfg)
    with pytest.raises(ValueError, match="C: "):
        gemm_native(A, B, np.array([[1 << 40]]), cfg)
    with pytest.raises(ValueError, match="config"):
        gemm_native(A, B, None, "exact")
    # The binding itself names its arguments.
    d = NV.config_to_native(cfg)
    ok = dict(a_fmt=E4M3.params, a_codes=np.zeros((1, 2), np.uint32), b_fmt=E4M3.params,
              b_codes=np.zeros((1, 2), np.uint32), scale_fmt=None, a_scales=None, a_block=0,
              b_scales=None, b_block=0, c_fmt=FP32.params, c_codes=None, threads=1)
    NV._native._gemm(d, **ok)
    for key, val, pat in [("a_codes", np.zeros((1, 2), np.int64), "a_codes"),
                          ("b_codes", np.zeros((1, 3), np.uint32), "b_codes"),
                          ("a_codes", np.zeros(2, np.uint32), "a_codes"),
                          ("c_codes", np.zeros((2, 2), np.uint32), "c_codes"),
                          ("a_fmt", (1, 2), "a_fmt"),
                          ("threads", -1, "threads"),
                          ("a_scales", np.zeros((1, 1), np.uint8), "a_block")]:
        with pytest.raises(ValueError, match=pat):
            NV._native._gemm(d, **{**ok, key: val})
    with pytest.raises(ValueError, match="config"):
        NV._native._gemm({**d, "nan": "x"}, **ok)
    with pytest.raises(ValueError, match="out of range"):
        NV._native._gemm(d, **{**ok, "a_codes": np.full((1, 2), 256, np.uint32)})


def test_missing_native_module_falls_back_with_a_warning(monkeypatch):
    """Every valid config runs in C; without the native module gemm_native says so and runs
    gemm_fast (same bits)."""
    A, B, _ = _small()
    cfg = AccumConfig(frac_bits=100, carry_bits=30)  # a 132-bit adder: in C now
    assert NV.native_supported(cfg)
    monkeypatch.setattr(NV, "_HAVE", False)
    assert not NV.native_supported(cfg)
    with pytest.warns(NativeFallbackWarning, match="not available"):
        d, f = gemm_native(A, B, None, cfg)
    assert NV.last_backend() == "fast"
    want = gemm(A, B, None, cfg)
    assert np.array_equal(d, want[0]) and np.array_equal(f, want[1])


def test_stochastic_rounding_in_c():
    """SR runs in C with one word per output or a sequence per output; a sequence that runs
    out raises the reference's ValueError from C (no fallback); a missing rand_bits goes to
    the numpy path, which raises exactly where the reference does."""
    A, B, _ = _small()
    cfg = AccumConfig(rounding="sr", instruction_k=1, sr_bits=5)
    m, n = A[0].shape[0], B[0].shape[1]
    rng = np.random.default_rng(3)
    for rb in (rng.integers(0, 2**32, (m, n)), rng.integers(0, 2**32, (m, n, 64))):
        got = gemm_native(A, B, None, cfg, rand_bits=rb)
        assert NV.last_backend() == "native"
        want = gemm(A, B, None, cfg, rand_bits=rb)
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    short = rng.integers(0, 2**32, (m, n, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NativeFallbackWarning)
        with pytest.raises(ValueError, match="rand_bits has 1 values but the chain needs more"):
            gemm_native(A, B, None, cfg, rand_bits=short)
    assert gemm_native(A, B, None, cfg, rand_bits=short[:, :, [0, 0]])[0].shape == (m, n)
    with pytest.warns(NativeFallbackWarning, match="without rand_bits"):
        with pytest.raises(ValueError, match="rand_bits is required"):
            gemm_native(A, B, None, cfg)


def test_empty_and_k0():
    cfg = get_preset("h100-fp16").config
    for m, k, n in [(0, 3, 2), (2, 0, 3), (1, 0, 1)]:
        A = (np.zeros((m, k), np.uint16), FP16)
        B = (np.zeros((k, n), np.uint16), FP16)
        C = np.full((m, n), 0x3F800000, np.uint32)
        check_native(A, B, C, cfg)


def test_register_and_scale_formats():
    """FP16 registers, C in another format, BF16/E8M0 inputs: dtypes and bits as the
    reference."""
    rng = np.random.default_rng(2)
    a = rng.integers(0, 1 << 16, (3, 8)).astype(np.uint16)
    b = rng.integers(0, 1 << 16, (8, 2)).astype(np.uint16)
    for cfg in (get_preset("h100-fp16-fp16").config, get_preset("ada-fp8").config):
        for c_fmt in (None, BF16, FP16, FP32):
            cf = c_fmt or cfg.register
            C = rng.integers(0, cf.num_codes, (3, 2))
            check_native((a, BF16), (b, BF16), C, cfg, c_fmt=c_fmt)
    assert E8M0.bits == 8 and Format.custom(8, 13).man_bits == 13


# ---------------------------------------------------------------------------------------
# The C ABI (mxemu_dot / mxemu_gemm) with cffi in ABI mode, as a testbench drives it
# ---------------------------------------------------------------------------------------
def test_c_abi_dot_matches_reference():
    import capi
    from emulator.numerics import dot
    ffi, lib = capi.load()
    rng = np.random.default_rng(4)
    e4 = ffi.new("mxemu_format *", list(E4M3.params))
    e8 = ffi.new("mxemu_format *", list(E8M0.params))
    fp32 = ffi.new("mxemu_format *", list(FP32.params))
    out, fl = ffi.new("uint32_t *"), ffi.new("uint8_t *")
    for name in ("b200-mxf8f6f4", "exact", "h100-fp8-wgmma", "b200-fp8", "mxdotp"):
        cfg = get_preset(name).config
        c = capi.c_config(ffi, cfg)
        for _ in range(20):
            a = TF.gen_codes(E4M3, (64,), int(rng.integers(1 << 31)), 0.05, 0.5)
            b = TF.gen_codes(E4M3, (64,), int(rng.integers(1 << 31)), 0.05, 0.5)
            sa = TF.gen_scales(E8M0, (2,), int(rng.integers(1 << 31)), 0.05)
            sb = TF.gen_scales(E8M0, (2,), int(rng.integers(1 << 31)), 0.05)
            cbits = int(rng.integers(0, 1 << 32))
            want = dot(a.tolist(), b.tolist(), E4M3, E4M3, sa.tolist(), sb.tolist(), cbits, cfg)
            a32, b32 = a.astype(np.uint32), b.astype(np.uint32)
            st_ = lib.mxemu_dot(c, 64, e4, ffi.cast("uint32_t *", a32.ctypes.data), e4,
                                ffi.cast("uint32_t *", b32.ctypes.data), e8,
                                ffi.cast("uint8_t *", sa.ctypes.data), 32,
                                ffi.cast("uint8_t *", sb.ctypes.data), 32, fp32, cbits, out, fl)
            assert st_ == 0 and (out[0], fl[0]) == (want[0], want[1]), name
    # Status codes, never a crash: a wrong struct size / version, NULL; and knobs once
    # unsupported, now modelled.
    c = capi.c_config(ffi, get_preset("exact").config)
    a32 = np.zeros(4, np.uint32)
    ap = ffi.cast("uint32_t *", a32.ctypes.data)
    c.version = 99
    assert lib.mxemu_dot(c, 4, e4, ap, e4, ap, ffi.NULL, ffi.NULL, 0, ffi.NULL, 0, fp32, 0,
                         out, fl) == -7
    c.version = NV._native.ACCUM_CONFIG_VERSION
    assert lib.mxemu_dot(c, 4, e4, ffi.NULL, e4, ap, ffi.NULL, ffi.NULL, 0, ffi.NULL, 0, fp32,
                         0, out, fl) == -1
    c.rounding = 6  # stochastic rounding: its random words come through mxemu_gemm_ex
    assert lib.mxemu_dot(c, 4, e4, ap, e4, ap, ffi.NULL, ffi.NULL, 0, ffi.NULL, 0, fp32, 0,
                         out, fl) == -1
    c.rounding = 0
    c.alignment, c.frac_bits = 1, -1  # products_then_c with F unbounded: modelled in C
    assert lib.mxemu_dot(c, 4, e4, ap, e4, ap, ffi.NULL, ffi.NULL, 0, ffi.NULL, 0, fp32, 0,
                         out, fl) == 0 and (out[0], fl[0]) == (0, 0)
    c.alignment, c.frac_bits, c.carry_bits = 0, 100, 30  # a 132-bit adder: modelled in C
    assert lib.mxemu_dot(c, 4, e4, ap, e4, ap, ffi.NULL, ffi.NULL, 0, ffi.NULL, 0, fp32, 0,
                         out, fl) == 0 and (out[0], fl[0]) == (0, 0)
    # int elements of 30 fraction bits scaled by UE4M3 on both sides: 70-bit products, wide
    # terms in C (once MXEMU_ERR_UNSUPPORTED, -6: no valid call returns that now)
    i30f = Format("int32", "int", 0, 30, specials="finite")
    i30 = ffi.new("mxemu_format *", list(i30f.params))
    ue = ffi.new("mxemu_format *", list(UE4M3.params))
    sc = np.array([0x7E, 0x7E, 0x7D, 0x3F], np.uint8)
    big = np.array([(1 << 31) - 1, 1 << 31, (1 << 31) - 1, 5], np.uint32)
    bp, sp = ffi.cast("uint32_t *", big.ctypes.data), ffi.cast("uint8_t *", sc.ctypes.data)
    want = dot(big.tolist(), big.tolist(), i30f, i30f, sc.tolist(), sc.tolist(), 0,
               get_preset("exact").config.replace(frac_bits=100, carry_bits=30),
               scale_fmt=UE4M3)
    assert lib.mxemu_dot(c, 4, i30, bp, i30, bp, ue, sp, 1, sp, 1, fp32, 0, out, fl) == 0
    assert (out[0], fl[0]) == want
    c.frac_bits, c.carry_bits = -1, -1
    c.rounding = 9
    assert lib.mxemu_dot(c, 4, e4, ap, e4, ap, ffi.NULL, ffi.NULL, 0, ffi.NULL, 0, fp32, 0,
                         out, fl) == -3


def test_c_abi_wide_knobs_match_reference():
    """mxemu_dot through the C ABI (CI runs this under ASan and UBSan) on the wide terms of
    products_then_c and scale_blocks: FP32 operands over the whole exponent range, half of
    them cancelling in pairs, and E4M3 with E8M0 block scales; bits and flags == reference."""
    import capi
    from emulator.numerics import dot
    ffi, lib = capi.load()
    rng = np.random.default_rng(17)
    e4, e8, fp32 = (ffi.new("mxemu_format *", list(f.params)) for f in (E4M3, E8M0, FP32))
    out, fl = ffi.new("uint32_t *"), ffi.new("uint8_t *")
    cfgs = [AccumConfig(alignment="products_then_c"),
            AccumConfig(alignment="products_then_c", frac_bits=90, carry_bits=20,
                        dropped="nearest"),
            AccumConfig(alignment="products_then_c", frac_bits=63, dropped="sticky",
                        instruction_k=8),
            AccumConfig(k_split="scale_blocks", block_terms=4),
            AccumConfig(k_split="scale_blocks", block_terms=4, frac_bits=61,
                        alignment="products_then_c", dropped="floor"),
            AccumConfig(k_split="scale_blocks", block_terms=4, frac_bits=80, alignment="anchor",
                        anchor_exp=30),
            AccumConfig(k_split="scale_blocks", block_terms=8, c_entry="after")]
    k = 24
    for cfg in cfgs:
        c = capi.c_config(ffi, cfg)
        for it in range(12):
            fp = it % 3 != 2
            fmt, ef = (FP32, fp32) if fp else (E4M3, e4)
            a = TF.gen_codes(fmt, (k,), int(rng.integers(1 << 31)), 0.03, 0.3).astype(np.uint32)
            b = TF.gen_codes(fmt, (k,), int(rng.integers(1 << 31)), 0.03, 0.3).astype(np.uint32)
            if it % 2:  # the second half cancels the first: only low bits survive
                a[k // 2:] = a[:k // 2] ^ np.uint32(1 << (fmt.bits - 1))
                b[k // 2:] = b[:k // 2]
                a[k - 1] = a[0]
            sa = None if fp else TF.gen_scales(E8M0, (k // 4,), int(rng.integers(1 << 31)), 0.03)
            sb = None if fp else TF.gen_scales(E8M0, (k // 4,), int(rng.integers(1 << 31)), 0.03)
            cbits = int(rng.integers(0, 1 << 32))
            want = dot(a.tolist(), b.tolist(), fmt, fmt, None if fp else sa.tolist(),
                       None if fp else sb.tolist(), cbits, cfg)
            scale = (lambda v: ffi.NULL) if fp else (  # noqa: E731
                lambda v: ffi.cast("uint8_t *", v.ctypes.data))
            st_ = lib.mxemu_dot(c, k, ef, ffi.cast("uint32_t *", a.ctypes.data), ef,
                                ffi.cast("uint32_t *", b.ctypes.data),
                                ffi.NULL if fp else e8, scale(sa), 0 if fp else 4, scale(sb),
                                0 if fp else 4, fp32, cbits, out, fl)
            assert st_ == 0 and (out[0], fl[0]) == want, (cfg.describe(), it)


def check_vectorised(A, B, C, cfg, name, monkeypatch):
    """The vectorised kernel (one thread) and the scalar C path (MXEMU_GEMM_SIMD=0, two
    threads) against the numpy path, bits and flags."""
    from emulator.numerics import gemm_fast
    want = gemm_fast(A, B, C, cfg)
    monkeypatch.delenv("MXEMU_GEMM_SIMD", raising=False)
    got = gemm_native(A, B, C, cfg, threads=1)
    monkeypatch.setenv("MXEMU_GEMM_SIMD", "0")
    scalar = gemm_native(A, B, C, cfg, threads=2)
    for label, g in (("vectorised", got), ("scalar", scalar)):
        for part in (0, 1):
            bad = np.argwhere(g[part] != want[part])
            assert bad.size == 0, f"{label} {name}: first difference at {bad[0].tolist()}"


@pytest.mark.parametrize("name", ["b200-mxf8f6f4", "h100-fp8-wgmma", "exact", "mxdotp", "b200-fp8",
                                  "h100-fp8-fp16", "h100-fp16", "b200-fp16-fp16", "a100-bf16",
                                  "b200-mxf4nvf4", "blocks-c-after"])
@pytest.mark.parametrize("seed", [1, 2])
def test_vectorised_kernel_matches_scalar_and_numpy(name, seed, monkeypatch):
    """The AVX-512 kernel (gemm_simd.c, 8 output columns at a time; tiers by exponent bounds)
    against the scalar C path (MXEMU_GEMM_SIMD=0) and the numpy path, bit for bit with flags,
    on shapes with ragged column panels, quantized Gaussian data with outliers, tiny values,
    zeros, NaN/Inf codes and scales, and C with specials and subnormals."""
    if name == "blocks-c-after":  # scale blocks, C after the step, a step format
        cfg = get_preset("b200-mxf4nvf4").config.replace(c_entry="after", step_format=FP16,
                                                         instruction_k=48)
    else:
        cfg = get_preset(name).config
    rng = np.random.default_rng(seed)
    m, n, k = 21, 19, 96
    x = rng.standard_normal((m, k)) * np.exp2(rng.integers(-30, 30, (m, 1)))
    y = rng.standard_normal((k, n)) * np.exp2(rng.integers(-30, 30, (1, n)))
    x[rng.random((m, k)) < 0.05] = 0.0
    x[0, :] *= 1e-30  # a row of tiny values
    y[:, 3] = 2.0 ** rng.integers(-20, 20, k)  # exact powers of two: ties and exact sums
    if name.startswith(("b200-mx", "exact", "mxdotp", "h100-fp8", "b200-fp8", "blocks")):
        elem = "e2m1" if "mxf4" in name or "blocks" in name else "e4m3"
        A = emulator.quantize(x.astype(np.float32), elem, axis=1)
        B = emulator.quantize(y.astype(np.float32), elem, axis=0)
        if elem == "e4m3":
            A.codes[2, 5] = 0x7F  # NaN element
        B.scales[1, 7] = 0xFF  # NaN scale
    else:
        fmt = {"fp16": FP16, "bf16": BF16}[name.split("-")[1]]
        A, B = (fmt.encode(x).codes, fmt), (fmt.encode(y).codes, fmt)
    reg = cfg.register
    C = reg.encode(rng.standard_normal((m, n)) * 4).codes.astype(np.int64)
    C[1, 1], C[2, 2] = reg.nan_code(0), (1 << (reg.bits - 1)) | reg.inf_magnitude
    C[3, 3] = 1  # a subnormal C
    check_vectorised(A, B, C, cfg, name, monkeypatch)


@pytest.mark.parametrize("seed", range(4))
def test_vectorised_long_unbounded_step(seed, monkeypatch):
    """One exact step over K = 160 (the 'exact' preset, and round-toward-zero / FP16-output
    variants): the kernel sums chunks of 32 exactly and carries them as a double-double, then
    rounds from a round-to-odd binary64. Chunks far apart in magnitude (2^40 .. 2^-20) and
    near-total cancellation make the low part and the odd bit decide; against the scalar path
    and numpy, bits and flags."""
    from emulator.numerics import gemm_fast
    rng = np.random.default_rng(seed)
    m, n, k = 9, 10, 160
    mag = np.repeat(2.0 ** np.array([40, 0, -20, 20, -10]), 32)  # ~80 bits: a double-double
    sign = lambda shape: rng.choice([-1.0, 1.0], shape)  # noqa: E731
    x = rng.uniform(1, 2, (m, k)) * sign((m, k)) * mag
    y = rng.uniform(1, 2, (k, n)) * sign((k, n))
    y[:, 0] = 1.0
    x[1] = np.repeat([1.0, -1.0, 2.0 ** -70, 0.0, 0.0], 32)  # cancellation + a tiny tail
    # BF16 operands: 16-bit products, so each chunk of 32 sums exactly in binary64 and the
    # kernel (not the scalar fallback) answers; the chunks' sum needs far more than 53 bits
    A, B = (BF16.encode(x).codes, BF16), (BF16.encode(y).codes, BF16)
    for cfg in (get_preset("exact").config, get_preset("exact").config.replace(rounding="rtz"),
                get_preset("exact").config.replace(output_format=FP16, rounding="rup")):
        want = gemm_fast(A, B, None, cfg)
        monkeypatch.delenv("MXEMU_GEMM_SIMD", raising=False)
        got = gemm_native(A, B, None, cfg, threads=1)
        monkeypatch.setenv("MXEMU_GEMM_SIMD", "0")
        scalar = gemm_native(A, B, None, cfg, threads=1)
        for g in (got, scalar):
            assert np.array_equal(g[0], want[0]) and np.array_equal(g[1], want[1])


@given(data=st.data())
@nsettings(60)
def test_vectorised_kernel_random_configs(data):
    """Random configs on operands large enough for the kernel's table-driven plan and its
    routes: quantized Gaussian data of every MX element format, blocks of 1 .. 32, magnitudes
    spread per row and column, and a few arbitrary element and scale codes (NaN/Inf, extremes,
    subnormals); the vectorised kernel against the scalar C path (MXEMU_GEMM_SIMD=0, itself
    checked against the reference above), bits and flags."""
    import os
    cfg = data.draw(TF.random_config())
    if data.draw(st.integers(0, 3)):  # mostly configs the kernel takes
        cfg = cfg.replace(rounding=data.draw(st.sampled_from(["rne", "rtz", "rdn", "rup"])),
                          step_rounding=None, product_format=None, product_exponent="operands",
                          alignment="max", anchor_exp=None, dropped="truncate", carry_bits=None,
                          frac_bits=data.draw(st.sampled_from([None, 3, 13, 23, 25, 35])))
    assume(NV.native_supported(cfg))
    m, n = data.draw(st.sampled_from([(40, 17), (33, 24)]))
    k = data.draw(st.sampled_from([32, 64, 96]))
    elem = data.draw(st.sampled_from(TF.MX_ELEMS))
    block = data.draw(st.sampled_from([1, 4, 16, 32]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((m, k)) * np.exp2(rng.integers(-8, 8, (m, 1)))
    y = rng.standard_normal((k, n)) * np.exp2(rng.integers(-8, 8, (1, n)))
    A = emulator.quantize(x.astype(np.float32), elem.name, block_size=block, axis=1)
    B = emulator.quantize(y.astype(np.float32), elem.name, block_size=block, axis=0)
    for t in (A, B):  # a few arbitrary codes and scales
        flat, sc = t.codes.reshape(-1), t.scales.reshape(-1)
        pick = rng.random(flat.size) < 0.01
        flat[pick] = rng.integers(0, 1 << elem.bits, int(pick.sum()))
        pick = rng.random(sc.size) < 0.01
        sc[pick] = rng.integers(0, 256, int(pick.sum()))
    C, c_fmt, rb = data.draw(TF.extras(cfg, m, n))
    old = os.environ.pop("MXEMU_GEMM_SIMD", None)
    try:
        got = gemm_native(A, B, C, cfg, c_fmt=c_fmt, rand_bits=rb, threads=1)
        os.environ["MXEMU_GEMM_SIMD"] = "0"
        want = gemm_native(A, B, C, cfg, c_fmt=c_fmt, rand_bits=rb, threads=2)
    except ValueError:
        got = None  # rand_bits the chain cannot use: both paths raise (checked above)
    finally:
        os.environ.pop("MXEMU_GEMM_SIMD", None)
        if old is not None:
            os.environ["MXEMU_GEMM_SIMD"] = old
    assume(got is not None)
    for part in (0, 1):
        bad = np.argwhere(got[part] != want[part])
        assert bad.size == 0, f"first difference at {bad[0].tolist()}: {cfg.describe()}"


@given(data=st.data())
@nsettings(60)
def test_vectorised_integer_route(data):
    """The kernel's integer route (gemm_simd_i32.c: 16 columns in int32 lanes) takes every
    call whose steps cut their terms with F + 2 + log2(terms + 1) <= 30 (or, for steps of up
    to 16 products, F + 2 + log2(terms / 2) <= 31 with an int64 total) and whose products are
    exact binary32s: NVIDIA-like configs with F from 0 to 28, steps of 1 .. 32 terms, one or
    two steps per instruction, every output format and rounding the kernel runs, on FP16 /
    BF16 / TF32 / plain FP8 / MX operands with zeros, subnormals, spread magnitudes and NaN/Inf
    codes, C with specials, and column counts that leave a half panel of 16 (N = 8, 24, 40) or
    a ragged one. Against the scalar C path and the numpy path, bits and flags."""
    t = data.draw(st.sampled_from([1, 2, 3, 4, 8, 16, 32]))
    # narrow sums (F + 2 + ceil(log2(t + 1)) <= 30) up to F = 28 - log2; wide ones (two
    # int32 halves, an int64 total) for steps of up to 16 products up to F = 27, and a
    # few F past both, which the binary64 route takes
    f = data.draw(st.integers(0, 28 - t.bit_length() if t > 16 else 28))
    steps = data.draw(st.sampled_from([1, 2]))
    cfg = AccumConfig(instruction_k=t * steps, terms_per_step=t, frac_bits=f,
                      align_floor=data.draw(st.sampled_from([-126, -133])),
                      output_format=data.draw(st.sampled_from([FP32, FP16, BF16,
                                                               Format.custom(8, 13)])),
                      register_format=FP32,
                      rounding=data.draw(st.sampled_from(["rne", "rtz", "rdn", "rup"])),
                      step_format=data.draw(st.sampled_from([None, FP32, FP16])),
                      step_rounding=data.draw(st.sampled_from([None, "rne", "rtz"])))
    m = data.draw(st.sampled_from([3, 9, 13]))
    n = data.draw(st.sampled_from([8, 24, 40, 19]))
    k = t * steps * data.draw(st.sampled_from([1, 3])) + data.draw(st.sampled_from([0, 5]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((m, k)) * np.exp2(rng.integers(-12, 12, (m, k)))
    y = rng.standard_normal((k, n)) * np.exp2(rng.integers(-12, 12, (k, n)))
    x[rng.random((m, k)) < 0.1] = 0.0
    y[:, 1] = 2.0 ** rng.integers(-20, 20, k)  # powers of two: exact sums and ties
    kind = data.draw(st.sampled_from(["fp16", "bf16", "tf32", "e4m3", "e5m2", "mx-e4m3",
                                      "mx-e2m1"]))
    if kind.startswith("mx-"):
        A = emulator.quantize(x.astype(np.float32), kind[3:], block_size=8, axis=1)
        B = emulator.quantize(y.astype(np.float32), kind[3:], block_size=8, axis=0)
        B.scales[0, 2] = 0xFF  # a NaN scale
        codes = (A.codes, B.codes)
    else:
        fmt = {"fp16": FP16, "bf16": BF16, "tf32": TF32, "e4m3": E4M3, "e5m2": E5M2}[kind]
        A, B = (fmt.encode(x).codes, fmt), (fmt.encode(y).codes, fmt)
        codes = (A[0], B[0])
        codes[0][0, 0] = 1  # the smallest subnormal
        if data.draw(st.booleans()):
            codes[1][k - 1, n - 1] = fmt.nan_code(0)
    reg = cfg.register
    C = data.draw(st.sampled_from([None, "values"]))
    if C is not None:
        C = reg.encode(rng.standard_normal((m, n)) * 2.0 ** rng.integers(-10, 10, (m, n))).codes
        C = C.astype(np.int64)
        C[0, n - 1] = reg.inf_magnitude
        C[m - 1, 0] = 3  # a subnormal C
    with pytest.MonkeyPatch.context() as mp:
        check_vectorised(A, B, C, cfg, cfg.describe(), mp)


@pytest.mark.parametrize("rounding", ["rtz", "rup", "rne"])
def test_vectorised_integer_route_wide_sum_keeps_a_sticky_bit(rounding, monkeypatch):
    """The integer route's wide form (steps of 16 FP16 products, F = 25, as h100-fp16) forms
    a sum over 2^30 units in int64 and keeps 30 bits of it: a dropped 1 must still make the
    result inexact and round it up under RUP. 15 x (1.5 * 1.5) + 2^-12 * 2^-13 = 33.75 + 2^-25,
    nothing cut at q = -25; the expected FP32 results come from Fraction arithmetic."""
    cfg = get_preset("h100-fp16").config.replace(rounding=rounding)
    m, n, k = 2, 24, 16
    x = np.full((m, k), 1.5)
    y = np.full((k, n), 1.5)
    x[:, 15], y[15, :] = 2.0 ** -12, 2.0 ** -13
    A, B = (FP16.encode(x).codes, FP16), (FP16.encode(y).codes, FP16)
    exact = 15 * Fraction(9, 4) + Fraction(1, 2 ** 25)
    ulp = Fraction(1, 2 ** 18)  # FP32 at 2^5: 24 bits
    want = Fraction(135, 4) + (ulp if rounding == "rup" else 0)
    got = gemm_native(A, B, None, cfg, threads=1)
    assert np.all(got[0] == FP32.encode(np.array([float(want)])).codes[0])
    assert np.all(got[1] == Flag.INEXACT) and want != exact
    check_vectorised(A, B, None, cfg, rounding, monkeypatch)


# ---------------------------------------------------------------------------------------
# Knobs at their extremes, all in C: wide wrap-around adders, the widest result formats,
# exponent ranges of the most extreme biases, short stochastic-rounding sequences
# ---------------------------------------------------------------------------------------
# Custom formats at the ends of the bias range: values up to 2^1023 and down to 2^-1045
LOW_BIAS = [Format.custom(8, 3, bias=-768), Format.custom(8, 1, bias=-768)]
HIGH_BIAS = [Format.custom(8, 2, bias=1023), Format.custom(8, 4, bias=1000)]


def _valid_codes(fmt, shape):
    """TF.codes_st's codes (specials included), folded into fmt's code range (its special
    codes assume a positive bias)."""
    return TF.codes_st(fmt, shape).map(
        lambda c: (c.astype(np.int64) % fmt.num_codes).astype(fmt.code_dtype))


def _assert_native(A, B, C, cfg, c_fmt=None, rand_bits=None):
    """check_native, and the C kernel (not the numpy fallback) answered."""
    assert NV.native_supported(cfg), cfg.describe()
    with warnings.catch_warnings():
        warnings.simplefilter("error", NativeFallbackWarning)
        assert check_native(A, B, C, cfg, c_fmt, rand_bits) == "native"


@given(data=st.data())
@nsettings(60)
def test_wide_carry_adders_match_reference(data):
    """carry_bits with F = 100 .. 200: adders of 102 .. ~300 bits wrap as two's-complement
    registers (the 128-bit and the multi-limb sums), every alignment and dropped policy."""
    ch = lambda *v: data.draw(st.sampled_from(v))  # noqa: E731
    frac = data.draw(st.integers(100, 200))
    kw = dict(frac_bits=frac, carry_bits=data.draw(st.sampled_from([0, 1, 2, 5, 30, 100])),
              alignment=ch("max", "anchor"), dropped=ch("truncate", "floor", "sticky", "nearest"),
              instruction_k=ch(None, 4, 16), align_floor=ch(None, -126),
              c_entry=ch("inside", "after"), rounding=ch("rne", "rtz", "rup", "rdn", "rto"))
    if kw["alignment"] == "anchor":
        kw["anchor_exp"] = data.draw(st.integers(-150, 150))
    cfg = AccumConfig(**kw)
    m, n, k = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), ch(4, 16, 33)
    fmt = ch(FP32, FP16, BF16, E4M3)
    A, B = data.draw(TF.plain_pair(m, n, k, fa=fmt, fb=fmt))
    C, c_fmt, _ = data.draw(TF.extras(cfg, m, n))
    _assert_native(A, B, C, cfg, c_fmt)


def test_wide_carry_adder_wraps():
    """The wrap itself: 1 + 1 with F = 150 and no carry bit (a 152-bit adder) wraps to -2,
    rounded exactly; one carry bit holds 2."""
    A = (np.array([[0x3F800000, 0x3F800000]], np.uint32), FP32)
    B = (np.array([[0x3F800000], [0x3F800000]], np.uint32), FP32)
    for carry, want in ((0, 0xC0000000), (1, 0x40000000)):
        cfg = AccumConfig(frac_bits=150, carry_bits=carry)
        _assert_native(A, B, None, cfg)
        assert int(gemm_native(A, B, None, cfg)[0][0, 0]) == want


def test_int_result_formats_are_rejected_alike():
    """Result formats are IEEE-style floats (at most 23 mantissa bits, all of which C rounds
    exactly): int formats of 28 .. 30 fraction bits are rejected by AccumConfig and by the C
    ABI (MXEMU_ERR_FORMAT), never reported as unsupported."""
    import capi
    ffi, lib = capi.load()
    e4 = ffi.new("mxemu_format *", list(E4M3.params))
    fp32 = ffi.new("mxemu_format *", list(FP32.params))
    codes = np.zeros(4, np.uint32)
    cp = ffi.cast("uint32_t *", codes.ctypes.data)
    out, fl = ffi.new("uint32_t *"), ffi.new("uint8_t *")
    for man in (28, 29, 30):
        f = Format(f"int{man + 2}", "int", 0, man, specials="finite")
        for name in ("output_format", "register_format", "step_format", "product_format"):
            with pytest.raises(ValueError, match=name):
                AccumConfig(**{name: f})
            c = capi.c_config(ffi, AccumConfig())
            setattr(c, name, list(f.params))
            c.has_step_format = int(name == "step_format")
            c.has_product_format = int(name == "product_format")
            assert lib.mxemu_dot(c, 4, e4, cp, e4, cp, ffi.NULL, ffi.NULL, 0, ffi.NULL, 0, fp32,
                                 0, out, fl) == -2, (man, name)


@given(data=st.data())
@nsettings(60)
def test_widest_result_formats_match_reference(data):
    """Result formats of 20 .. 23 mantissa bits and 1 .. 8 exponent bits as output, register,
    step and product formats, stochastic rounding reading all 32 random bits: the wide sums
    reach round_pack as 63 bits with a sticky bit, exact up to 29 mantissa bits."""
    ch = lambda *v: data.draw(st.sampled_from(v))  # noqa: E731
    man = data.draw(st.integers(20, 23))
    out = Format.custom(data.draw(st.integers(2, 8)), man)
    wider = Format.custom(8, 23, bias=data.draw(st.sampled_from([127, 300, 1000])))
    kw = dict(output_format=out, frac_bits=ch(None, 40, 90, 200), rounding=ch(*TF.MODES),
              sr_bits=ch(32, 31), instruction_k=ch(None, 2, 8), terms_per_step=ch(None, 2),
              c_entry=ch("inside", "after"), step_format=ch(None, out, wider),
              product_format=ch(None, out, wider), product_rounding=ch("rne", "rtz", "rto"))
    if kw["terms_per_step"] and not kw["instruction_k"]:
        kw["terms_per_step"] = None
    try:
        cfg = AccumConfig(**kw, register_format=ch(None, wider))
    except ValueError:  # the register must hold every output value
        cfg = AccumConfig(**kw)
    m, n, k = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)), ch(2, 8, 16)
    A, B = data.draw(TF.plain_pair(m, n, k, fa=ch(FP32, BF16, FP16)))
    C, c_fmt, rb = data.draw(TF.extras(cfg, m, n))
    _assert_native(A, B, C, cfg, c_fmt, rb)


@given(data=st.data())
@nsettings(60)
def test_extreme_bias_formats_match_reference(data):
    """Custom formats with bias -768 (values up to 2^1023) and 1023 (down to 2^-1045) as
    operands (block-scaled and plain, with specials) and as results: exact sums thousands of
    bits wide, anchors and floors far away."""
    ch = lambda *v: data.draw(st.sampled_from(v))  # noqa: E731
    fa, fb = ch(*LOW_BIAS, *HIGH_BIAS, FP32), ch(*LOW_BIAS, *HIGH_BIAS, E4M3)
    out = ch(FP32, *LOW_BIAS[:1], *HIGH_BIAS)
    kw = dict(output_format=out, frac_bits=ch(None, None, 24, 300, 2000),
              rounding=ch(*TF.MODES), instruction_k=ch(None, 4), align_floor=ch(None, -126, -3000),
              step_format=ch(None, *LOW_BIAS[:1], *HIGH_BIAS[:1]),
              product_format=ch(None, None, *LOW_BIAS[:1], *HIGH_BIAS[:1]),
              dropped=ch("truncate", "nearest"), c_entry=ch("inside", "after"),
              overflow=ch("inf", "saturate"))
    if ch(False, True) and kw["frac_bits"] is not None:
        kw.update(alignment="anchor", anchor_exp=ch(-2500, -900, 0, 900, 2500))
    cfg = AccumConfig(**kw)
    m, n = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    k = ch(2, 8, 16)
    ac, bc = data.draw(_valid_codes(fa, (m, k))), data.draw(_valid_codes(fb, (k, n)))
    if ch(False, True):
        sf, bs = ch(E8M0, UE4M3), ch(*[b for b in (1, 2, 8) if k % b == 0])
        A = MXTensor(ac, data.draw(TF.scales_st(sf, (m, k // bs))), fa, sf, bs, 1, (m, k))
        B = MXTensor(bc, data.draw(TF.scales_st(sf, (k // bs, n))), fb, sf, bs, 0, (k, n))
    else:
        A, B = (ac, fa), (bc, fb)
    c_fmt = ch(None, FP32, *HIGH_BIAS[:1], *LOW_BIAS[:1])
    C = data.draw(st.none() | _valid_codes(c_fmt or cfg.register, (m, n)))
    rb = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).integers(0, 2**32, (m, n))
    _assert_native(A, B, C, cfg, c_fmt, rb)


def test_capacity_reaches_every_valid_config():
    """The widest valid sums: an anchor 2^20 below everything with F = 2^16 (about 2^20 bits
    per step), and products of the extreme-bias formats with both scales."""
    A = (np.array([[0x7F7FFFFF, 0x00000001]], np.uint32), FP32)
    B = (np.array([[0x7F7FFFFF], [0x00000001]], np.uint32), FP32)
    cfg = AccumConfig(alignment="anchor", anchor_exp=-(1 << 20), frac_bits=1 << 16)
    _assert_native(A, B, None, cfg)
    f = LOW_BIAS[0]
    a = np.array([[f.max_code, 1, f.max_code | (1 << (f.bits - 1))]])
    _assert_native((a, f), (a.T.copy(), f), None, AccumConfig(output_format=HIGH_BIAS[0]))


def test_integer_knobs_at_their_bounds_run_in_c():
    """AccumConfig bounds the integer knobs to the C config's ranges, so a config at a bound
    runs in C (matching the reference) and one beyond it is a ValueError naming the knob:
    nothing valid is left to the numpy path."""
    A = (np.array([[0x7F7FFFFF, 0x00000001, 0xBF800000, 0]], np.uint32), FP32)
    B = (np.array([[0x3F800000], [0x00000001], [0x3F800001], [0x80000000]], np.uint32), FP32)
    cfgs = [AccumConfig(align_floor=e) for e in (-(1 << 20), 1 << 20)]
    cfgs += [AccumConfig(alignment="anchor", anchor_exp=1 << 20, frac_bits=1 << 16),
             AccumConfig(alignment="anchor", anchor_exp=-(1 << 20), frac_bits=8,
                         align_floor=1 << 20),
             AccumConfig(frac_bits=1 << 16, carry_bits=1 << 16, dropped="nearest"),
             AccumConfig(frac_bits=1 << 16, carry_bits=0, alignment="products_then_c")]
    for cfg in cfgs:
        _assert_native(A, B, np.array([[0x3F800000]], np.uint32), cfg)
    for knob, bad in (("frac_bits", (1 << 16) + 1), ("align_floor", -(1 << 20) - 1),
                      ("instruction_k", (1 << 24) + 1)):
        with pytest.raises(ValueError, match=knob):
            AccumConfig(**{knob: bad})


def _chain_bound(cfg, k):
    """More words than any chain of cfg over K can round with (each instruction: a step per
    product at most, and the add of C)."""
    ik = cfg.instruction_k or max(k, 1)
    return -(-max(k, 1) // ik) * (ik + 1) + 1


def _words_needed(run, bound):
    """The fewest words per output with which run(R) does not raise (bisection)."""
    run(bound)  # enough: raises otherwise
    lo, hi = 0, bound
    while lo < hi:
        mid = (lo + hi) // 2
        try:
            run(mid)
            hi = mid
        except ValueError:
            lo = mid + 1
    return lo


def _sr_config(data):
    cfg = data.draw(TF.random_config())
    sr = dict(rounding="sr")
    if data.draw(st.booleans()):
        sr["step_rounding"] = "sr"
    cfg = cfg.replace(**sr)
    assume(NV.native_supported(cfg))
    return cfg


@given(data=st.data())
@nsettings(40)
def test_short_sr_sequences_gemm(data):
    """R words per output, R exactly what the longest chain uses: C matches the reference;
    one word fewer: C raises the reference's ValueError (the C status MXEMU_ERR_RAND_SHORT),
    not the numpy fallback."""
    cfg = _sr_config(data)
    m, n = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    k = data.draw(st.sampled_from([1, 2, 4, 8, 17]))
    if cfg.k_split == "scale_blocks" and cfg.block_terms is None:
        cfg = cfg.replace(block_terms=4)
    A, B = data.draw(TF.plain_pair(m, n, k))
    C = data.draw(st.none() | TF.codes_st(cfg.register, (m, n)))
    bound = _chain_bound(cfg, k)
    words = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).integers(
        0, 2**32, (m, n, bound))
    need = _words_needed(lambda r: gemm(A, B, C, cfg, rand_bits=words[:, :, :r]), bound)
    if need:
        _assert_native(A, B, C, cfg, rand_bits=words[:, :, :need])
    if need > 1:  # R = 0 is no sequence for the C ABI: the numpy path takes it
        with warnings.catch_warnings():
            warnings.simplefilter("error", NativeFallbackWarning)
            with pytest.raises(ValueError) as info:
                gemm_native(A, B, C, cfg, rand_bits=words[:, :, :need - 1])
        assert str(info.value) == f"rand_bits has {need - 1} values but the chain needs more"


@given(data=st.data())
@nsettings(40)
def test_short_sr_sequences_dot_batch(data):
    """The same for dot_batch on the native backend: the row needing the most words decides."""
    from emulator import _backend
    from emulator.numerics import dot, dot_batch
    cfg = _sr_config(data)
    p, k = data.draw(st.integers(1, 5)), data.draw(st.sampled_from([1, 2, 4, 8, 16]))
    if cfg.k_split == "scale_blocks" and cfg.block_terms is None:
        cfg = cfg.replace(block_terms=2)
    fa = data.draw(st.sampled_from(TF.MX_ELEMS + [FP16, BF16]))
    a, b = data.draw(TF.codes_st(fa, (p, k))), data.draw(TF.codes_st(fa, (p, k)))
    c = data.draw(TF.codes_st(cfg.register, (p,)))
    bound = _chain_bound(cfg, k)
    words = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).integers(
        0, 2**32, (p, bound))

    def ref(r):
        return [dot(a[i].tolist(), b[i].tolist(), fa, fa, None, None, int(c[i]), cfg,
                    rand_bits=words[i, :r].tolist()) for i in range(p)]
    need = _words_needed(ref, bound)
    if need:
        NV._state["last"] = None
        with _backend.using("native"):
            got = dot_batch(a, b, fa, fa, None, None, c, cfg, rand_bits=words[:, :need])
        assert NV.last_backend() == "native"
        assert [(int(d), int(f)) for d, f in zip(*got)] == ref(need)
    if need > 1:
        with pytest.raises(ValueError) as info:
            NV.dot_batch_native(a, b, fa, fa, None, None, c, cfg.register, cfg, E8M0,
                                cfg.block_terms or k, rand_bits=words[:, :need - 1])
        assert str(info.value) == f"rand_bits has {need - 1} values but the chain needs more"
        with _backend.using("native"), pytest.raises(ValueError, match="needs more"):
            dot_batch(a, b, fa, fa, None, None, c, cfg, rand_bits=words[:, :need - 1])


def _int_elem(frac: int) -> Format:
    """The int element format of `frac` fraction bits (frac + 2 bits, two's complement)."""
    return Format(f"int{frac + 2}", "int", 0, frac, specials="finite")


def _int_codes(fmt: Format, shape, rng) -> np.ndarray:
    """Codes of an int format: uniform (mostly large magnitudes), some the extremes (the most
    negative code has the widest significand, 2^(frac + 1)), zero and +-1 ulp."""
    n = int(np.prod(shape))
    out = rng.integers(0, fmt.num_codes, n, dtype=np.int64)
    top = fmt.num_codes // 2
    edge = np.array([top, top - 1, top + 1, fmt.num_codes - 1, 0, 1], np.int64)
    out = np.where(rng.random(n) < 0.3, edge[rng.integers(0, edge.size, n)], out)
    return out.reshape(shape).astype(fmt.code_dtype)


@given(data=st.data())
@nsettings(80)
def test_wide_operand_significands_match_reference(data):
    """Int elements of 28..30 fraction bits block-scaled by UE4M3 or E8M0 on both sides (or
    A only): significands up to 36 bits a side, products up to 72 bits (wide terms in C, or
    rounded into a product format), through random configs (every alignment, dropped policy,
    carry adder, product format, SR): gemm_native runs them in C, bit for bit."""
    frac = data.draw(st.sampled_from([28, 29, 30]))
    elem, sfmt = _int_elem(frac), data.draw(st.sampled_from([UE4M3, UE4M3, E8M0]))
    cfg = data.draw(TF.random_config())
    m, n = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    bs = data.draw(st.sampled_from([1, 2, 4, 8]))
    k = bs * data.draw(st.sampled_from([1, 2, 3, 4]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    scl = lambda shape: TF.gen_scales(sfmt, shape, int(rng.integers(1 << 31)), 0.05)  # noqa
    A = MXTensor(_int_codes(elem, (m, k), rng), scl((m, k // bs)), elem, sfmt, bs, 1, (m, k))
    if data.draw(st.booleans()):
        B = MXTensor(_int_codes(elem, (k, n), rng), scl((k // bs, n)), elem, sfmt, bs, 0,
                     (k, n))
    else:
        B = (_int_codes(elem, (k, n), rng), elem)
    C, c_fmt, rb = data.draw(TF.extras(cfg, m, n))
    assert NV.native_supported(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NativeFallbackWarning)
        # None: the reference and gemm_native raised the same ValueError (e.g. scale_blocks
        # with a block length from A only and B unscaled)
        assert check_native(A, B, C, cfg, c_fmt, rb) in ("native", None)


@given(data=st.data())
@nsettings(60)
def test_wide_operand_dot_batch_matches_reference_dot(data):
    """dot_batch on the native backend (mxemu_dot_batch_ex) with int elements of 28..30
    fraction bits and UE4M3 / E8M0 per-block scales on both sides (products up to 72 bits):
    each row == the reference `dot`, bits and flags, random configs with SR sequences."""
    from emulator import _backend
    from emulator.numerics import dot, dot_batch
    cfg = data.draw(TF.random_config())
    frac = data.draw(st.sampled_from([28, 29, 30]))
    elem, sfmt = _int_elem(frac), data.draw(st.sampled_from([UE4M3, E8M0]))
    p, nb = data.draw(st.integers(1, 4)), data.draw(st.sampled_from([1, 2, 4]))
    k = nb * data.draw(st.sampled_from([1, 2, 4]))
    if cfg.k_split == "scale_blocks" and cfg.block_terms is None:
        cfg = cfg.replace(block_terms=k // nb)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    a, b = _int_codes(elem, (p, k), rng), _int_codes(elem, (p, k), rng)
    sa, sb = (TF.gen_scales(sfmt, (p, nb), int(rng.integers(1 << 31)), 0.05) for _ in "ab")
    c = TF.gen_codes(cfg.register, (p,), int(rng.integers(1 << 31)), 0.1, 0.5)
    # SR words for every step of every instruction: a K shorter than instruction_k still
    # runs the instruction's steps (over zero products)
    rb = rng.integers(0, 2**32, (p, 3 * (k + (cfg.instruction_k or 0)) + 8))
    NV._state["last"] = None
    with _backend.using("native"):
        got = dot_batch(a, b, elem, elem, sa, sb, c, cfg, scale_fmt=sfmt, rand_bits=rb)
    assert NV.last_backend() == "native"
    for i in range(p):
        want = dot(a[i].tolist(), b[i].tolist(), elem, elem, sa[i].tolist(), sb[i].tolist(),
                   int(c[i]), cfg, scale_fmt=sfmt, rand_bits=list(rb[i]))
        assert (int(got[0][i]), int(got[1][i])) == want, (cfg.describe(), i)


@given(data=st.data())
@nsettings(60)
def test_int_c_formats_match_reference(data):
    """C in an int format (INT8, or 28..30 fraction bits: up to 32 significand bits, the
    most negative code included) runs in C, through gemm_native and dot_batch: bits and flags
    as the reference, random configs and operands."""
    from emulator import _backend
    from emulator.formats import INT8
    from emulator.numerics import dot, dot_batch
    cfg = data.draw(TF.random_config())
    cf = data.draw(st.sampled_from([INT8, _int_elem(28), _int_elem(29), _int_elem(30)]))
    m, n = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    k = data.draw(st.sampled_from([1, 2, 4, 8, 16, 17]))
    if cfg.k_split == "scale_blocks" and cfg.block_terms is None:
        cfg = cfg.replace(block_terms=4)
    fa = data.draw(st.sampled_from(TF.MX_ELEMS + [FP16, BF16, FP32]))
    (A, _), (B, _) = data.draw(TF.plain_pair(m, n, k, fa, fa))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    C = _int_codes(cf, (m, n), rng)
    rb = rng.integers(0, 2**32, (m, n, 3 * k + 8))
    with warnings.catch_warnings():
        warnings.simplefilter("error", NativeFallbackWarning)
        assert check_native((A, fa), (B, fa), C, cfg, cf, rb) in ("native", None)
    p = min(m, n)
    a, b, c = A[:p], np.ascontiguousarray(B.T[:p]), C[np.arange(p), np.arange(p)]
    try:  # the reference's results, or its ValueError (e.g. rand_bits too short)
        want = [dot(a[i].tolist(), b[i].tolist(), fa, fa, None, None, int(c[i]), cfg,
                    c_fmt=cf, rand_bits=list(rb[i, 0])) for i in range(p)]
    except ValueError as exc:
        with _backend.using("native"), pytest.raises(ValueError) as info:
            dot_batch(a, b, fa, fa, None, None, c, cfg, c_fmt=cf, rand_bits=rb[:p, 0])
        assert str(info.value) == str(exc)
        return
    NV._state["last"] = None
    with _backend.using("native"):
        got = dot_batch(a, b, fa, fa, None, None, c, cfg, c_fmt=cf, rand_bits=rb[:p, 0])
    assert NV.last_backend() == "native"
    for i in range(p):
        assert (int(got[0][i]), int(got[1][i])) == want[i], (cfg.describe(), i)


def test_wide_scale_formats_fall_back_with_a_warning():
    """Scales of more than 8 bits (FP32 "scales") cannot pass the C ABI (scale codes are
    bytes): gemm_native warns, runs gemm_fast, and matches the reference."""
    rng = np.random.default_rng(9)
    sc = rng.integers(0x3F000000, 0x40800000, (2, 1), dtype=np.int64).astype(np.uint32)
    A = MXTensor(rng.integers(0, 1 << 16, (2, 8)).astype(np.uint16), sc, FP16, FP32, 8, 1,
                 (2, 8))
    B = (rng.integers(0, 256, (8, 3)).astype(np.uint8), E4M3)
    with pytest.warns(NativeFallbackWarning, match="scales of fp32"):
        got = gemm_native(A, B, None, AccumConfig())
    assert NV.last_backend() == "fast"
    want = gemm(A, B, None, AccumConfig())
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_dot_batch_of_empty_dots_runs_in_c():
    """K = 0: each dot is its C through the instruction's rounding (flush, SR, c_entry
    'after', scale_blocks' empty block); the scales scale nothing. dot_batch runs in C and
    matches the reference `dot`, for no, one and per-dot scale codes (NaN included)."""
    from emulator import _backend
    from emulator.numerics import dot, dot_batch
    a = np.zeros((3, 0), np.uint8)
    c = np.array([0x3F800001, 0x7F800000, 0x00000001], np.uint32)
    for cfg in (get_preset("h100-fp8-wgmma").config, AccumConfig(rounding="sr"),
                AccumConfig(k_split="scale_blocks", block_terms=4),
                AccumConfig(c_entry="after", rounding="rup", instruction_k=4,
                            output_format=FP16, register_format=FP32),
                AccumConfig(input_subnormals="flush")):
        for sa in (None, 0xFF, np.array([127, 0xFF, 3], np.uint8)):
            NV._state["last"] = None
            with _backend.using("native"):
                got = dot_batch(a, a, E4M3, E4M3, sa, sa, c, cfg, rand_bits=0x9E3779B9)
            assert NV.last_backend() == "native"
            for i in range(3):
                s_i = None if sa is None else int(np.asarray(sa).reshape(-1)[i % np.size(sa)])
                want = dot([], [], E4M3, E4M3, s_i, s_i, int(c[i]), cfg, rand_bits=0x9E3779B9)
                assert (int(got[0][i]), int(got[1][i])) == want, (cfg.describe(), sa, i)


def test_wide_products_hand_cases():
    """The largest 70-bit products (int32 of 30 fraction bits times UE4M3 scales on both
    sides, -2^31 * 1.75 each) summed so that they cancel down to their lowest bits, at every
    F around the product width, dropped policy and product format: C == reference."""
    i30 = _int_elem(30)
    lo, hi = 0x80000000, 0x7FFFFFFF  # -2^31 and 2^31 - 1 (times 2^-30)
    A = MXTensor(np.array([[lo, hi, lo, 1]], np.uint32), np.array([[0x3E, 0x3E]], np.uint8),
                 i30, UE4M3, 2, 1, (1, 4))
    B = MXTensor(np.array([[lo], [lo], [hi], [lo]], np.uint32),
                 np.array([[0x3F], [0x3E]], np.uint8), i30, UE4M3, 2, 0, (4, 1))
    for fb in (None, 0, 60, 63, 64, 70, 75, 100):
        for dropped in ("truncate", "floor", "sticky", "nearest"):
            _assert_native(A, B, None, AccumConfig(frac_bits=fb, dropped=dropped))
    for pf in (FP32, BF16, FP16):
        for mode in ("rne", "rtz", "rup", "rdn", "rto"):
            _assert_native(A, B, None, AccumConfig(product_format=pf, product_rounding=mode,
                                                   product_exponent="value"))
    _assert_native(A, B, None, AccumConfig(k_split="scale_blocks", alignment="products_then_c",
                                           frac_bits=40))


@pytest.mark.parametrize("name", ["fp32-fma-chain", "fp32-fma-chain-rtz", "fp32-fma-chain-rup",
                                  "fp32-fma-chain-rdn", "fp32-fma-chain-floor", "b200-mxf8f6f4",
                                  "b200-mxf4nvf4", "h100-fp8-wgmma", "exact", "a100-fp16",
                                  "floor-zero"])
@pytest.mark.parametrize("seed", [3, 4])
def test_vectorised_zero_steps_and_binary32_fma(name, seed, monkeypatch):
    """Exact zero step results inside a chain (leading zero products, cancelling pairs), chains
    that end at zero, and the binary32 fused-multiply-add route of one-product steps
    (fp32-fma-chain and its other roundings), with subnormal, huge and overflowing sums:
    the vectorised kernel against the scalar C path and numpy, bits and flags."""
    base = "fp32-fma-chain" if name.startswith("fp32-fma-chain") else name
    if name == "floor-zero":  # an alignment floor above the products: zeros align there
        cfg = get_preset("b200-mxf8f6f4").config.replace(align_floor=0, frac_bits=13)
    else:
        cfg = get_preset(base).config
    if name.endswith(("-rtz", "-rup", "-rdn")):
        cfg = cfg.replace(rounding=name[-3:])
    if name.endswith("-floor"):
        cfg = cfg.replace(align_floor=-126)
    rng = np.random.default_rng(seed)
    m, n, k = 21, 19, 96
    x = rng.standard_normal((m, k)) * np.exp2(rng.integers(-20, 20, (m, 1)))
    y = rng.standard_normal((k, n)) * np.exp2(rng.integers(-20, 20, (1, n)))
    x[1, :40] = 0.0  # leading zero products: exact zero steps, then nonzero ones
    x[2, :] = 0.0  # a chain that ends at zero
    x[3, :2], y[:2, 4] = (1.0, -1.0), (1.0, 1.0)  # cancels to zero, then goes on
    x[4, :] *= 2.0 ** -100  # subnormal binary32 sums
    x[5, :] *= 2.0 ** 95  # sums near and past the largest binary32
    y[:, 6] *= 2.0 ** 40
    if name == "a100-fp16":
        x, y = np.clip(x, -6e4, 6e4), np.clip(y, -6e4, 6e4)
        A, B = (FP16.encode(x).codes, FP16), (FP16.encode(y).codes, FP16)
    else:
        elem = "e2m1" if "mxf4" in name else "e4m3"
        A = emulator.quantize(x.astype(np.float32), elem, axis=1)
        B = emulator.quantize(y.astype(np.float32), elem, axis=0)
    reg = cfg.register
    C = reg.encode(rng.standard_normal((m, n))).codes.astype(np.int64)
    C[1, :] = 0  # +0: the chain starts from an exact zero
    C[2, :5] = 1 << (reg.bits - 1)  # -0 with a zero row: the sign of an exact zero result
    C[0, 0] = reg.nan_code(0)
    check_vectorised(A, B, C, cfg, name, monkeypatch)


@pytest.mark.parametrize("name", ["exact", "b200-mxf8f6f4"])
@pytest.mark.parametrize("n", [8, 24, 56])
@pytest.mark.parametrize("seed", [5, 6])
def test_vectorised_column_pairs(name, n, seed, monkeypatch):
    """The kernel's tiles of 8 rows x two 8-column panels: N = 8 (one panel), 24 (a pair,
    then a panel alone) and 56 (three pairs, then one), M = 13 (tiles of 8 and 5 rows). A
    32-block of tiny B values in some columns of panel 1 of the first pair and panel 0 of
    the second makes that panel's rows fail the bounds (the exact preset's block sum, the
    b200 steps' no-cut test) while the other panel's pass; a row with a block far above
    the rest fails them in every panel; NaN elements and scales sit in one panel only:
    each panel, and each slot, falls back on its own. Against the scalar C path and numpy,
    bits and flags."""
    cfg = get_preset(name).config
    rng = np.random.default_rng(seed)
    m, k = 13, 160 if name == "exact" else 96
    x = rng.standard_normal((m, k))
    y = rng.standard_normal((k, n))
    tiny = 2.0 ** -60  # far below the rest: cut (b200), not one exact sum (exact)
    if n > 8:
        y[32:64, 8:16:3] *= tiny
    if n > 16:
        y[32:64, 17] *= tiny
    x[12, 64:96] *= 2.0 ** 40  # a row of the 5-row tile whose block stands out
    A = emulator.quantize(x.astype(np.float32), "e4m3", axis=1)
    B = emulator.quantize(y.astype(np.float32), "e4m3", axis=0)
    A.codes[11, 3] = 0x7F  # a NaN element: row 11 bad in every panel
    B.codes[5, n - 1] = 0x7F  # a NaN element in the last panel only
    if n > 8:
        B.scales[2, 9] = 0xFF  # a NaN scale in panel 1 only
    C = cfg.register.encode(rng.standard_normal((m, n))).codes.astype(np.int64)
    C[4, 2] = cfg.register.nan_code(0)  # a NaN C in panel 0 only
    check_vectorised(A, B, C, cfg, name, monkeypatch)


@pytest.mark.parametrize("name,fa,fb", [("a100-fp16", FP16, FP16), ("a100-bf16", BF16, BF16),
                                        ("v100-fp16", FP16, FP16), ("exact", BF16, BF16),
                                        ("h100-fp16", FP16, BF16)])
def test_vectorised_16bit_code_table(name, fa, fb, monkeypatch):
    """FP16 and BF16 operands large enough for the plan's table of all 64K codes (one shared
    table for A and B of one format; FP16 x BF16: A by its table, B decoded): subnormals,
    signed zeros, the largest and smallest exponents, every finite code once on each side and
    a few NaN/Inf codes; the vectorised kernel against the scalar C path and numpy, bits and
    flags."""
    cfg = get_preset(name).config
    rng = np.random.default_rng(11)
    m, n, k = 64, 40, 4096

    def codes(fmt, rows):
        c = fmt.encode(rng.standard_normal((rows, k)) *
                       np.exp2(rng.integers(-12, 12, (rows, 1)))).codes.astype(np.int64)
        top = 1 << (fmt.bits - 1)
        mag = np.arange(top)
        finite = mag[(mag >> fmt.man_bits) != (1 << fmt.exp_bits) - 1]
        sub = finite[(finite >> fmt.man_bits) == 0][1:]
        sign = lambda size: rng.integers(0, 2, size) * top  # noqa: E731
        c[0] = rng.choice(sub, k) | sign(k)  # subnormals
        c[1, ::3], c[1, 1::3] = top, 0  # -0, +0
        c[2] = (finite[-200:][rng.integers(0, 200, k)]) | sign(k)  # the largest exponents
        allc = rng.permutation(np.concatenate([finite, finite | top]))
        rows_all = (allc.size + k - 1) // k
        c[3:3 + rows_all].reshape(-1)[: allc.size] = allc  # every finite code
        c[3 + rows_all, 100] = top - 1  # a NaN
        c[4 + rows_all, 2000] = ((1 << fmt.exp_bits) - 1) << fmt.man_bits  # +Inf
        return c

    A, B = (codes(fa, m), fa), (codes(fb, n).T.copy(), fb)
    C = cfg.register.encode(rng.standard_normal((m, n))).codes.astype(np.int64)
    check_vectorised(A, B, C, cfg, name, monkeypatch)


@pytest.mark.parametrize("name", ["b200-mxf4nvf4", "b200-mxf8f6f4", "exact", "h100-fp8-wgmma"])
@pytest.mark.parametrize("scales", ["ue4m3", "e8m0-ends", "int8"])
def test_vectorised_table_plan_scales(name, scales, monkeypatch):
    """The table-driven plan (more elements than codes) with scales that are not powers of
    two (UE4M3: each element through plan_code, products of two significands), E8M0 scales
    at both ends of their range, zero and NaN scales, and INT8 elements (a sign-magnitude
    integer format's table); the vectorised kernel against the scalar C path and numpy,
    bits and flags."""
    from emulator.formats import E2M1, INT8
    cfg = get_preset(name).config
    rng = np.random.default_rng(5)
    m, n, k, bs = 40, 33, 64, 16
    elem = INT8 if scales == "int8" else E2M1 if "mxf4" in name else E4M3
    sf = UE4M3 if scales == "ue4m3" else E8M0

    def tensor(shape, axis):
        x = rng.standard_normal(shape) * np.exp2(rng.integers(-6, 6, shape))
        q = emulator.quantize(x.astype(np.float32), elem.name, block_size=bs, axis=axis)
        sc = q.scales.astype(np.int64)
        if scales == "ue4m3":  # normal codes, every mantissa; a zero and a NaN scale
            sc = rng.integers(0x20, 0x48, sc.shape)
            sc.reshape(-1)[[3, 17]] = (0, 0x7F)
        elif scales == "e8m0-ends":
            sc = rng.choice([0, 1, 2, 126, 127, 128, 252, 253, 254], sc.shape)
            sc.reshape(-1)[5] = 0xFF
        return MXTensor(q.codes, sc.astype(np.uint8), elem, sf, bs, axis, shape)

    A, B = tensor((m, k), 1), tensor((k, n), 0)
    C = cfg.register.encode(rng.standard_normal((m, n))).codes.astype(np.int64)
    check_vectorised(A, B, C, cfg, name, monkeypatch)


@pytest.mark.parametrize("name", ["b200-mxf8f6f4", "exact", "a100-fp16"])
def test_vectorised_plan_split_across_threads(name, monkeypatch):
    """The plan's rows of A and panels of eight B columns split across 1 .. 8 threads (splits
    inside A, at and past its end, short last panels; tables on one side only): the same bits
    and flags as the scalar path."""
    cfg = get_preset(name).config
    rng = np.random.default_rng(2)
    for (m, n, k), t in itertools.product([(13, 29, 64), (70, 9, 96), (3, 130, 64),
                                           (200, 17, 32)], (1, 2, 3, 5, 8)):
        # new data each time: a plan part left unwritten cannot show stale right values
        x, y = rng.standard_normal((m, k)), rng.standard_normal((k, n))
        if name == "a100-fp16":
            A, B = (FP16.encode(x).codes, FP16), (FP16.encode(y).codes, FP16)
        else:
            A = emulator.quantize(x.astype(np.float32), "e4m3", axis=1)
            B = emulator.quantize(y.astype(np.float32), "e4m3", axis=0)
        monkeypatch.setenv("MXEMU_GEMM_SIMD", "0")
        want = gemm_native(A, B, None, cfg, threads=1)
        monkeypatch.delenv("MXEMU_GEMM_SIMD")
        got = gemm_native(A, B, None, cfg, threads=t)
        assert all(np.array_equal(g, w) for g, w in zip(got, want)), (m, n, k, t)


@pytest.mark.parametrize("name,fmt,flush", [("a100-tf32", "tf32", False), ("a100-tf32", "fp32", True),
                                            ("exact", "fp32", False), ("a100-fp16", "fp16", True),
                                            ("h100-fp16", "bf16", False)])
def test_vectorised_ieee_codes_decoded_in_the_plan(name, fmt, flush, monkeypatch):
    """Unscaled IEEE-style operands without a code table (formats over 16 bits, or too few
    elements) decoded straight into the plan: subnormals (flushed or not), signed zeros, the
    largest and smallest exponents, NaN and Inf; the vectorised kernel against the scalar C
    path and numpy, bits and flags."""
    from emulator.formats import TF32
    f = {"tf32": TF32, "fp32": FP32, "fp16": FP16, "bf16": BF16}[fmt]
    cfg = get_preset(name).config
    if flush:
        cfg = cfg.replace(input_subnormals="flush")
    rng = np.random.default_rng(9)
    m, n, k = 21, 19, 64
    top, M, E = 1 << (f.bits - 1), f.man_bits, f.exp_bits

    def codes(rows):
        c = f.encode(rng.standard_normal((rows, k)) *
                     np.exp2(rng.integers(-20, 20, (rows, 1)))).codes.astype(np.int64)
        sign = rng.integers(0, 2, k) * top
        c[0] = rng.integers(1, 1 << M, k) | sign  # subnormals
        c[1, ::2] = sign[::2]  # signed zeros
        c[2] = (((1 << E) - 2) << M | rng.integers(0, 1 << M, k)) | sign  # the largest binade
        c[3] = (1 << M | rng.integers(0, 1 << M, k)) | sign  # the smallest normal binade
        c[4, 7] = ((1 << E) - 1) << M | 1  # a NaN
        c[5, 40] = (((1 << E) - 1) << M) | top  # -Inf
        return c

    A, B = (codes(m), f), (codes(n).T.copy(), f)
    C = cfg.register.encode(rng.standard_normal((m, n))).codes.astype(np.int64)
    check_vectorised(A, B, C, cfg, name, monkeypatch)


@pytest.mark.parametrize("name", ["b200-mxf8f6f4", "h100-fp8-wgmma", "mxdotp", "exact",
                                  "a100-fp16"])
def test_vectorised_plan_bounds_under_spread(name, monkeypatch):
    """Operands whose exponents spread widely inside every step (and a few steps with one
    large or one small outlier), so that the plan's per-step bounds (largest alignment,
    lowest bit, its position and the next lowest) decide which steps cut; tables on both
    sides (FP16 at a size that builds its 64K table); the vectorised kernel against the
    scalar C path and numpy, bits and flags."""
    cfg = get_preset(name).config
    rng = np.random.default_rng(13)
    m, n, k = (64, 64, 2048) if name == "a100-fp16" else (40, 24, 128)
    lim = 10 if name == "a100-fp16" else 6
    x = rng.standard_normal((m, k)) * np.exp2(rng.integers(-lim, lim + 1, (m, k)))
    y = rng.standard_normal((k, n)) * np.exp2(rng.integers(-lim, lim + 1, (k, n)))
    x[:, ::17] *= 2.0 ** lim  # outliers at varied places in the steps
    y[::13, :] *= 2.0 ** -lim
    if name == "a100-fp16":
        A, B = (FP16.encode(x).codes, FP16), (FP16.encode(y).codes, FP16)
    else:
        A = emulator.quantize(x.astype(np.float32), "e4m3", axis=1)
        B = emulator.quantize(y.astype(np.float32), "e4m3", axis=0)
    C = cfg.register.encode(rng.standard_normal((m, n))).codes.astype(np.int64)
    check_vectorised(A, B, C, cfg, name, monkeypatch)
