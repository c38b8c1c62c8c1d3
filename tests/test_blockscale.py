"""emulator.blockscale: every scale rule against a small exact Fraction reference.

The reference below is written from the rules in docs/SCHEMES.md section 1 with Python
Fractions: the scale from amax, then each element x / s rounded once by `round_pack` on the
integer numerator and denominator of the exact quotient (never through float64).
"""
from fractions import Fraction

import numpy as np
import pytest

import emulator
from emulator.blockscale import SCALE_KINDS, BlockTensor, quantize_blocks
from emulator.flags import Flag
from emulator.formats import E2M1, E4M3, E5M2, FP32, INT8, UE4M3
from emulator.rounding import Overflow, Rounding, floor_log2_ratio, round_pack

# Every test runs on both backends (element rounding goes through the active one).
pytestmark = pytest.mark.usefixtures("backend")


def rnd(fmt, q: Fraction, mode=Rounding.RNE):
    """Round the exact rational q into fmt (saturating): the code."""
    if q == 0:
        return fmt.pack(0, 0)
    sign = int(q < 0)
    q = abs(q)
    return round_pack(fmt, sign, q.numerator, q.denominator, 0, mode, Overflow.SATURATE)[0]


def val(fmt, code) -> Fraction:
    return Fraction(fmt.value_of(int(code)))


def flog2(q: Fraction) -> int:
    return floor_log2_ratio(q.numerator, q.denominator, 0)


def ref_block(vals, fmt, kind, T=1.0, mode=Rounding.RNE, smode=Rounding.RNE):
    """(scale code, scale value, element codes) of one block of FP32 values."""
    xs = [Fraction(float(v)) for v in vals]
    amax = max(abs(v) for v in xs)
    maxe = Fraction(fmt.max_normal)
    if amax == 0:
        code = {"e8m0": 0, "ue8m0": 0, "fp32": 0x3F800000, "ue4m3": 0}[kind]
        s = {"e8m0": Fraction(2) ** -127, "ue8m0": Fraction(2) ** -127, "fp32": Fraction(1),
             "ue4m3": Fraction(0)}[kind]
        return code, s, [fmt.pack(int(np.signbit(float(v))), 0) for v in vals]
    if kind == "e8m0":
        k = max(-127, min(127, flog2(amax) - fmt.emax))
        code, s = k + 127, Fraction(2) ** k
    elif kind == "ue8m0":
        k = flog2(amax / maxe)  # 2^k <= amax/maxe < 2^(k+1)
        if amax > maxe * Fraction(2) ** k:
            k += 1
        k = max(-127, min(127, k))
        code, s = k + 127, Fraction(2) ** k
    elif kind == "fp32":
        code = rnd(FP32, amax / maxe, smode) or 1
        s = val(FP32, code)
    else:
        code = rnd(UE4M3, amax / (maxe * Fraction(T)), smode) or 1
        s = val(UE4M3, code) * Fraction(T)
    codes = [rnd(fmt, x / s, mode) if x != 0 else fmt.pack(int(np.signbit(float(v))), 0)
             for x, v in zip(xs, vals)]
    return code, s, codes


def check_1d(x, fmt, block, kind, **kw):
    """quantize_blocks along the last axis of a 2-D array against ref_block."""
    T = quantize_blocks(x, fmt, block, kind, **kw)
    m, k = x.shape
    kp = -(-k // block) * block
    xp = np.zeros((m, kp), np.float32)
    xp[:, :k] = x
    for i in range(m):
        for b in range(kp // block):
            blk = xp[i, b * block:(b + 1) * block]
            code, s, codes = ref_block(blk, fmt, kind, T.tensor_scale or 1.0,
                                       Rounding[kw.get("rounding", "rne").upper()],
                                       Rounding[kw.get("scale_rounding", "rne").upper()])
            assert int(T.scales[i, b]) == code, (i, b, kind, hex(int(T.scales[i, b])), hex(code))
            assert T.codes[i, b * block:(b + 1) * block].tolist() == codes, (i, b, kind)
    return T


def pow2_edges(fmt):
    """amax values exactly at and just above powers of two, and at and just above
    max_elem * 2^j: the boundaries of every scale rule."""
    out = []
    for j in (-20, -3, 0, 1, 5, 30):
        for base in (2.0 ** j, fmt.max_normal * 2.0 ** j):
            b = np.float32(base)
            out += [b, np.nextafter(b, np.float32(np.inf)), np.nextafter(b, np.float32(0))]
    return out


@pytest.mark.parametrize("kind", SCALE_KINDS)
@pytest.mark.parametrize("fmt", [E4M3, E5M2, E2M1, INT8])
def test_scale_rules_at_and_above_powers_of_two(kind, fmt):
    edges = pow2_edges(fmt)
    rng = np.random.default_rng(len(edges))
    x = np.zeros((len(edges), 8), np.float32)
    for i, a in enumerate(edges):
        # the block's amax is `a`, the other elements below it (some negative)
        x[i] = (rng.uniform(-1, 1, 8) * a).astype(np.float32)
        x[i, i % 8] = a if i % 2 else -a
    T = check_1d(x, fmt, 8, kind, tensor_scale=1.0 if kind == "ue4m3" else None)
    assert T.flags is not None


def test_hand_values():
    # amax = 448 = max E4M3: e8m0 floor gives 2^(8-8) = 1; ue8m0 gives 2^0; fp32 gives 1.0.
    # amax just above 448 (448 + 2^-15): floor still 2^0 (saturates 448.x -> 448), ue8m0 2^1.
    x = np.array([[448.0, 1.0], [np.float32(448.0) + np.float32(2.0 ** -15), 1.0]], np.float32)
    assert quantize_blocks(x, E4M3, 2, "e8m0").scales[:, 0].tolist() == [127, 127]
    assert quantize_blocks(x, E4M3, 2, "ue8m0").scales[:, 0].tolist() == [127, 128]
    s = quantize_blocks(x, E4M3, 2, "fp32").scales[:, 0]
    assert s[0] == 0x3F800000
    # 448.0000305 / 448 = 1 + 2^-15/448 = 1 + 2^-23 * 0.5714: rounds up to 1 + 2^-23 (RNE)
    assert s[1] == 0x3F800001
    assert quantize_blocks(x, E4M3, 2, "fp32", scale_rounding="rtz").scales[1, 0] == 0x3F800000
    # amax = 1: 1/448 = 2^-6 / 7; FP32 RNE(1/7) = 0x3E124925, so the scale is 0x3B124925.
    one = np.array([[1.0, 0.5]], np.float32)
    assert quantize_blocks(one, E4M3, 2, "fp32").scales[0, 0] == 0x3B124925
    assert np.float32(1 / 448).view(np.uint32) == 0x3B124925


@pytest.mark.parametrize("kind", ["fp32", "ue4m3"])
@pytest.mark.parametrize("mode", ["rne", "rtz", "rup", "rna", "rto"])
def test_division_rounding_random(kind, mode):
    # The float64-quotient path must give round_pack(n / d) for every element and mode.
    rng = np.random.default_rng(7)
    x = (rng.standard_normal((6, 64)) * np.exp(rng.uniform(-8, 8, (6, 1)))).astype(np.float32)
    check_1d(x, E4M3, 16, kind, rounding=mode, scale_rounding=mode,
             tensor_scale=0.75 if kind == "ue4m3" else None)
    check_1d(x, E2M1, 16, kind, rounding=mode)


def test_division_near_midpoints():
    # Elements placed just around the E4M3 midpoints of x / s (s = amax/448 rounded): the
    # float64 quotient must land on the same side as the exact quotient.
    rng = np.random.default_rng(3)
    rows = []
    for _ in range(20):
        amax = np.float32(rng.uniform(1, 2) * 2.0 ** rng.integers(-10, 10))
        s = float(np.float32(np.float64(amax) / 448))
        row = [amax]
        for mid in (1.0625, 3.25, 100.0, 13.5, 0.0068359375):  # E4M3 midpoints / subnormal
            t = np.float32(mid * s)
            row += [t, np.nextafter(t, np.float32(0)), np.nextafter(t, np.float32(np.inf))]
        rows.append(row[:16])
    check_1d(np.array(rows, np.float32), E4M3, 16, "fp32")


def test_tiles_with_padding_and_exact_dequantize():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((130, 200)).astype(np.float32)
    x[129, 199] = 1000.0  # the bottom-right tile's amax, in its padded region's corner
    for kind in SCALE_KINDS:
        T = quantize_blocks(x, E4M3, (128, 128), kind)
        assert T.codes.shape == (256, 256) and T.scales.shape == (2, 2)
        assert T.block == (128, 128) and T.shape == (130, 200)
        assert (T.codes[130:, :] == 0).all() and (T.codes[:, 200:] == 0).all()
        sv = T.scale_values()
        for bi in range(2):
            for bj in range(2):
                tile = x[bi * 128:(bi + 1) * 128, bj * 128:(bj + 1) * 128]
                code, s, _ = ref_block(tile.reshape(-1), E4M3, kind, T.tensor_scale or 1.0)
                assert int(T.scales[bi, bj]) == code
        d = T.dequantize()
        assert d.shape == x.shape
        # exact: element value times scale, checked with Fractions on a sample
        for (i, j) in [(0, 0), (129, 199), (127, 128), (64, 150)]:
            e = val(E4M3, T.codes[i, j]) * Fraction(float(sv[i // 128, j // 128]))
            if T.tensor_scale is not None:
                e *= Fraction(T.tensor_scale)
            assert Fraction(float(d[i, j])) == e
    # a (1, 128) per-token group equals 1-D blocks of 128 along the last axis
    a = quantize_blocks(x, E4M3, (1, 128), "fp32")
    b = quantize_blocks(x, E4M3, 128, "fp32", axis=1)
    assert (a.codes == b.codes).all() and (a.scales == b.scales).all()


def test_e8m0_and_ue8m0_match_emulator_quantize():
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((8, 96)) * np.exp(rng.uniform(-30, 30, (8, 1)))).astype(np.float32)
    x[0, :32] = 0.0
    for kind, mode in (("e8m0", "floor"), ("ue8m0", "rceil")):
        for axis in (0, 1):
            T = quantize_blocks(x, E4M3, 32 if axis else 4, kind, axis=axis)
            M = emulator.quantize(x, "e4m3", 32 if axis else 4, axis=axis, scale_mode=mode)
            assert (T.codes == M.codes).all() and (T.scales == M.scales).all()
            assert (T.flags == M.flags).all()
            mx = T.to_mxtensor()
            assert (mx.dequantize() == T.dequantize()).all()


def test_saturation_and_nan_blocks():
    x = np.array([[500.0, 1.0, np.nan, 1.0], [np.inf, 2.0, 0.0, -0.0]], np.float32)
    T = quantize_blocks(x, E4M3, 2, "e8m0")
    # block [500, 1]: floor scale 2^0, 500 saturates to 448
    assert T.codes[0, 0] == 0x7E and T.flags[0, 0] & Flag.SATURATED
    assert T.scales[0, 1] == 0xFF and T.scales[1, 0] == 0xFF
    assert T.flags[1, 0] & Flag.INVALID
    assert np.isnan(T.dequantize()[0, 2]) and np.isnan(T.dequantize()[1, 0])
    assert T.codes[1, 3] == 0x80  # -0 kept in a zero block
    F = quantize_blocks(x, E4M3, 2, "fp32")
    assert F.scales[0, 1] == 0x7FC00000 and F.scales[1, 1] == 0x3F800000
    with pytest.raises(ValueError, match="nan_policy"):
        quantize_blocks(x, E4M3, 2, "fp32", nan_policy="error")


def test_argument_errors():
    x = np.ones((4, 4), np.float32)
    with pytest.raises(ValueError, match="scale"):
        quantize_blocks(x, E4M3, 2, "e4m3")
    with pytest.raises(ValueError, match="block"):
        quantize_blocks(x, E4M3, (2, 2, 2), "fp32")
    with pytest.raises(ValueError, match="sr"):
        quantize_blocks(x, E4M3, 2, "fp32", rounding="sr")
    with pytest.raises(ValueError, match="8 bits"):
        quantize_blocks(x, "bf16", 2, "fp32")
    with pytest.raises(ValueError, match="FP32 block scales"):
        quantize_blocks(x, E4M3, 2, "fp32").to_mxtensor()
    assert isinstance(quantize_blocks(x, E4M3, 2), BlockTensor)
