"""The native block-scaling and promotion kernels (native/src/blockscale.c, promote.c) against
the numpy reference (emulator/blockscale.py, emulator/numerics/twolevel.py), bit for bit.

The reference paths are the executable specification: `_quantize_reference` and
`_fma_round_reference` run under the reference backend (pure-Python round_pack), the native
paths under the native backend. Hypothesis draws shapes, tiles, scale kinds, element formats,
rounding modes and values with specials; codes, scales, flags and errors must be identical.
Exactness against independent Fraction arithmetic is in tests/test_blockscale.py and
tests/test_twolevel.py (both run on both backends); the C FMA beyond the reference's 24-bit
domain is checked against Fractions here.
"""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st

from emulator import _backend
from emulator.blockscale import SCALE_KINDS, quantize_blocks
from emulator.formats import (BF16, E2M1, E2M3, E3M2, E4M3, E4M3FNUZ, E5M2, E8M0, FP16, FP32,
                              INT8, UE4M3)
from emulator.numerics import get_preset
from emulator.numerics.twolevel import fma_round, twolevel_gemm
from emulator.rounding import Overflow, Rounding, round_pack

_native = pytest.importorskip("emulator._native", reason="the native extension is not built")
NATIVE_MAX_NDIM = _native.BLOCKS_MAX_NDIM

MODES = ("rne", "rna", "rtz", "rup", "rdn", "rto")
ELEMS = (E4M3, E5M2, E3M2, E2M3, E2M1, INT8, E4M3FNUZ, UE4M3, E8M0)
SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38,
            -3.4028235e38, 448.0, 449.0, 464.0, 6.0, 2.0 ** -20, 2.0 ** 100]


def run_both(fn):
    """fn() under each backend: (reference result or exception, native result or exception)."""
    out = []
    for name in ("reference", "native"):
        with _backend.using(name):
            try:
                out.append(fn())
            except ValueError as e:
                out.append(e)
    return out


def assert_same_tensor(r, n):
    if isinstance(r, Exception) or isinstance(n, Exception):
        assert type(r) is type(n) and str(r) == str(n)
        return
    assert r.codes.dtype == n.codes.dtype and r.scales.dtype == n.scales.dtype
    assert r.codes.shape == n.codes.shape and r.scales.shape == n.scales.shape
    assert np.array_equal(r.codes, n.codes)
    assert np.array_equal(r.scales, n.scales)
    assert np.array_equal(r.flags, n.flags)
    assert r.tensor_scale == n.tensor_scale and r.block == n.block


@st.composite
def block_cases(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(0, 9), min_size=ndim, max_size=ndim)))
    axis = draw(st.integers(0, ndim - 1))
    if draw(st.booleans()):
        block = draw(st.integers(1, 10))  # 1-D blocks along axis
    else:
        block = tuple(draw(st.lists(st.integers(1, 6), min_size=ndim, max_size=ndim)))
    n = int(np.prod(shape))
    scale = draw(st.floats(-40, 40))
    vals = draw(st.lists(st.one_of(st.floats(-3, 3).map(lambda v: v * 2.0 ** scale),
                                   st.sampled_from(SPECIALS),
                                   st.floats(allow_nan=True, allow_infinity=True, width=32)),
                         min_size=n, max_size=n))
    x = np.array(vals, np.float64).astype(np.float32).reshape(shape)
    kind = draw(st.sampled_from(SCALE_KINDS))
    kw = dict(elem=draw(st.sampled_from(ELEMS)), block=block, scale=kind, axis=axis,
              rounding=draw(st.sampled_from(MODES)),
              scale_rounding=draw(st.sampled_from(MODES)),
              nan_policy=draw(st.sampled_from(("block", "error"))))
    if draw(st.booleans()):
        kw["zero_block_scale"] = draw({"e8m0": st.integers(0, 254), "ue8m0": st.integers(0, 254),
                                       "fp32": st.integers(1, 0x7F7FFFFF),
                                       "ue4m3": st.integers(0, 0x7E)}[kind])
    if kind == "ue4m3" and draw(st.booleans()):
        kw["tensor_scale"] = float(np.float32(draw(st.floats(1e-30, 1e30))))
    return x, kw


@given(block_cases())
def test_quantize_blocks_native_equals_reference(case):
    x, kw = case
    r, n = run_both(lambda: quantize_blocks(x, **kw))
    assert_same_tensor(r, n)


@pytest.mark.parametrize("kind", SCALE_KINDS)
def test_deepseek_shapes_native_equals_reference(kind):
    # The shapes the schemes use, on realistic values with outlier channels: 1 x 128 groups
    # and 128 x 128 tiles, with padding on both axes.
    rng = np.random.default_rng(21)
    x = (rng.standard_normal((130, 300)) * np.exp2(rng.integers(-6, 6, (1, 300)))).astype(
        np.float32)
    x[5, 7], x[129, 299] = np.float32(3e4), np.float32(-1e-30)
    for block in ((1, 128), (128, 128), 32):
        r, n = run_both(lambda: quantize_blocks(x, E4M3, block, kind, axis=1))
        assert_same_tensor(r, n)


def test_more_dimensions_than_the_kernel_take_the_reference():
    # 9-D: beyond MXEMU_BLOCKS_MAX_NDIM the native backend runs the numpy path; same bits.
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2,) * (NATIVE_MAX_NDIM + 1)).astype(np.float32)
    blk = (2,) + (1,) * (NATIVE_MAX_NDIM - 1) + (2,)
    r, n = run_both(lambda: quantize_blocks(x, E4M3, blk, "fp32"))
    assert_same_tensor(r, n)
    assert r.scales.shape == (1,) + (2,) * (NATIVE_MAX_NDIM - 1) + (1,)


# -- the promotion FMA -------------------------------------------------------------------------
fp32_vals = st.one_of(st.floats(width=32, allow_nan=True, allow_infinity=True),
                      st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0 ** -149, 2.0 ** 127, 3.0]))


@given(st.lists(st.tuples(fp32_vals, fp32_vals, fp32_vals), min_size=1, max_size=40),
       st.sampled_from(MODES), st.sampled_from((FP32, BF16, FP16, E4M3, E5M2)),
       st.sampled_from(("all_ones", "canonical")))
def test_fma_round_native_equals_reference(triples, mode, fmt, nan):
    p, s, c = (np.array(v, np.float64) for v in zip(*triples))
    # cancellations and near-ties: c = -RN32(p * s) for half of the rows
    with np.errstate(all="ignore"):
        c[::2] = -(p[::2] * s[::2]).astype(np.float32)
    r, n = run_both(lambda: fma_round(p, s, c, fmt, mode, nan))
    assert r[0].dtype == n[0].dtype == fmt.code_dtype
    assert np.array_equal(r[0], n[0]) and np.array_equal(r[1], n[1])


def _exact_code(fmt, q: Fraction, mode: Rounding, zero_sign: int) -> int:
    if q == 0:
        return fmt.pack(zero_sign, 0)
    sign = int(q < 0)
    return round_pack(fmt, sign, abs(q).numerator, abs(q).denominator, 0, mode,
                      Overflow.INF)[0]


@pytest.mark.parametrize("mode", MODES)
def test_native_fma_is_exact_on_full_float64_inputs(mode):
    # Beyond the reference's 24-bit domain: 53-bit p, s, c with products of up to 106 bits,
    # addends far apart (sticky), close (cancellation) and equal-and-opposite, against the
    # exact rational p * s + c rounded once by round_pack.
    rng = np.random.default_rng(17)
    n = 2000
    p = rng.standard_normal(n) * np.exp2(rng.integers(-60, 60, n))
    s = rng.standard_normal(n) * np.exp2(rng.integers(-60, 60, n))
    c = rng.standard_normal(n) * np.exp2(rng.integers(-200, 200, n))
    c[:400] = -(p[:400] * s[:400])  # residual = the float64 product's rounding error
    c[400:500] = -np.nextafter(p[400:500] * s[400:500], 0)
    c[500:600] = (p[500:600] * s[500:600]) * 2.0 ** -rng.integers(20, 140, 100)
    p[600:650], s[600:650] = 3.0, 1.0
    c[600:650] = -3.0  # exact cancellation
    m = Rounding[mode.upper()]
    with _backend.using("native"):
        codes, _ = fma_round(p, s, c, FP32, mode)
    for i in range(n):
        q = Fraction(p[i]) * Fraction(s[i]) + Fraction(c[i])
        zs = int(q == 0 and m is Rounding.RDN)
        assert int(codes[i]) == _exact_code(FP32, q, m, zs), (i, p[i], s[i], c[i])


@pytest.mark.parametrize("kind,interval,scales,rounding,outer", [
    ("fp32", 128, "promotion", "rne", FP32), ("ue8m0", 64, "promotion", "rtz", BF16),
    ("fp32", None, "promotion", "rup", FP32), ("e8m0", 32, "promotion", "rdn", FP16),
    ("ue8m0", 64, "inside", "rna", FP32)])
def test_twolevel_gemm_native_equals_reference(kind, interval, scales, rounding, outer):
    # Both backends: the unit's partials (gemm_native vs gemm_fast) and the promotions
    # (mxemu_fma_round vs the numpy FMA), with an initial accumulator C.
    rng = np.random.default_rng(9)
    a = (rng.standard_normal((6, 256)) * np.exp2(rng.integers(-8, 8, (6, 1)))).astype(np.float32)
    b = rng.standard_normal((256, 5)).astype(np.float32)
    a[0, :7] = 0.0
    cfg = get_preset("h100-fp8-wgmma").config
    C = outer.encode(rng.standard_normal((6, 5))).codes

    def run():
        if scales == "inside":
            ab, bb = (1, 32), (32, 1)
        elif interval is None:
            ab, bb = (1, 256), (256, 128)
        else:
            ab, bb = (1, 128), (128, 128)
        A = quantize_blocks(a, E4M3, ab, kind, axis=1)
        B = quantize_blocks(b, E4M3, bb, kind, axis=0)
        return twolevel_gemm(A, B, cfg, interval=interval, scales=scales, rounding=rounding,
                             outer_format=outer, C=C)
    (dr, fr), (dn, fn) = run_both(run)
    assert dr.dtype == dn.dtype == outer.code_dtype
    assert np.array_equal(dr, dn) and np.array_equal(fr, fn)


# -- the binding's argument checks ---------------------------------------------------------------
def test_binding_rejects_bad_arguments():
    x = np.ones((4, 8), np.float32)
    qb = _native.quantize_blocks
    with pytest.raises(ValueError, match="dtype"):
        qb(x.astype(np.float64), (1, 4), E4M3.params, 0, 0, 0, 0, -1, 1.0)
    with pytest.raises(ValueError, match="C-contiguous"):
        qb(np.asfortranarray(x), (1, 4), E4M3.params, 0, 0, 0, 0, -1, 1.0)
    with pytest.raises(ValueError, match="one length per dimension"):
        qb(x, (4,), E4M3.params, 0, 0, 0, 0, -1, 1.0)
    with pytest.raises(ValueError, match=r"block\[1\] must be >= 1"):
        qb(x, (1, 0), E4M3.params, 0, 0, 0, 0, -1, 1.0)
    with pytest.raises(ValueError, match="block must be a tuple"):
        qb(x, 4, E4M3.params, 0, 0, 0, 0, -1, 1.0)
    with pytest.raises(ValueError, match="at most 8 bits"):
        qb(x, (1, 4), FP16.params, 0, 0, 0, 0, -1, 1.0)
    with pytest.raises(ValueError, match="scale_kind"):
        qb(x, (1, 4), E4M3.params, 4, 0, 0, 0, -1, 1.0)
    with pytest.raises(ValueError, match="rounding"):
        qb(x, (1, 4), E4M3.params, 0, 6, 0, 0, -1, 1.0)
    with pytest.raises(ValueError, match="nan_policy"):
        qb(x, (1, 4), E4M3.params, 0, 0, 0, 1, -1, 1.0)
    with pytest.raises(ValueError, match="tensor_scale"):
        qb(x, (1, 4), E4M3.params, 3, 0, 0, 0, -1, 0.1)  # not an FP32 value
    with pytest.raises(ValueError, match="zero_block_scale"):
        qb(x, (1, 4), E4M3.params, 0, 0, 0, 0, 255, 1.0)  # the E8M0 NaN as zero-block scale
    with pytest.raises(ValueError, match="dimensions"):
        qb(np.ones((1,) * 9, np.float32), (1,) * 9, E4M3.params, 0, 0, 0, 0, -1, 1.0)
    v = np.ones(3)
    with pytest.raises(ValueError, match="float format"):
        _native.fma_round(INT8.params, v, v, v, 0, 1)
    with pytest.raises(ValueError, match="same length"):
        _native.fma_round(FP32.params, v, v, v[:2], 0, 1)
    with pytest.raises(ValueError, match="rounding"):
        _native.fma_round(FP32.params, v, v, v, 6, 1)
    with pytest.raises(ValueError, match="nan"):
        _native.fma_round(FP32.params, v, v, v, 0, 2)


@pytest.mark.usefixtures("backend")
def test_python_api_errors_on_both_backends():
    with pytest.raises(ValueError, match="float format"):
        fma_round(1.0, 1.0, 1.0, INT8)
    with pytest.raises(ValueError, match="tensor_scale"):
        quantize_blocks(np.ones((2, 4), np.float32), E2M1, 4, "ue4m3", tensor_scale=-1.0)
    with pytest.raises(ValueError, match="nan_policy='error'"):
        quantize_blocks(np.array([[1.0, np.inf]], np.float32), E4M3, 2, "ue8m0",
                        nan_policy="error")
