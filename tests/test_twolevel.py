"""emulator.numerics.twolevel: promotion semantics by hand-derived cases, and the exact FMA
against round_pack on the exact rational value."""
import struct
from fractions import Fraction

import numpy as np
import pytest

from emulator.blockscale import BlockTensor, quantize_blocks
from emulator.flags import Flag
from emulator.formats import BF16, E4M3, FP32
from emulator.numerics import get_preset
from emulator.numerics.fast import gemm_fast
from emulator.numerics.twolevel import fma_round, twolevel_gemm
from emulator.rounding import Overflow, Rounding, round_pack

# Every test runs on both backends (element rounding goes through the active one).
pytestmark = pytest.mark.usefixtures("backend")

WGMMA = get_preset("h100-fp8-wgmma").config
ONE = 0x38  # E4M3 1.0


def f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def bits(v: float) -> int:
    return struct.unpack("<I", struct.pack("<f", v))[0]


def rnd(fmt, q: Fraction, mode=Rounding.RNE, zero_sign=0):
    """Exact rational -> fmt code (IEEE overflow to Inf), by round_pack on n / d."""
    if q == 0:
        return fmt.pack(zero_sign, 0)
    sign = int(q < 0)
    q = abs(q)
    return round_pack(fmt, sign, q.numerator, q.denominator, 0, mode, Overflow.INF)[0]


def fp32_block(codes, scale_bits, block, axis):
    """A BlockTensor with given E4M3 codes and FP32 scale bits (one block or a grid)."""
    codes = np.asarray(codes, np.uint8)
    scales = np.asarray(scale_bits, np.uint32)
    return BlockTensor(codes=codes, scales=scales, elem=E4M3, scale_kind="fp32", block=block,
                       shape=codes.shape, axis=axis, flags=np.zeros(codes.shape, np.uint8))


# -- the FMA ---------------------------------------------------------------------------------
def test_fma_is_fused_hand_case():
    # p = s = 1 + 2^-12: p*s = 1 + 2^-11 + 2^-24 exactly. With c = -1 the exact result
    # 2^-11 + 2^-24 is representable: the fused FMA returns it. Rounding the product first
    # (1 + 2^-11 + 2^-24 is a tie in FP32, to even: 1 + 2^-11) would give 2^-11.
    p = 1 + 2.0 ** -12
    code, fl = fma_round(np.array([p]), np.array([p]), np.array([-1.0]))
    assert f32(int(code[0])) == 2.0 ** -11 + 2.0 ** -24 and fl[0] == 0


def test_fma_rounds_once_hand_case():
    # 1 + (2^-24 + 2^-48): the addend is just above half an ulp of 1 -> rounds up to
    # 1 + 2^-23 (RNE). A double-rounding sum (float64 then FP32) would see exactly 1 + 2^-24,
    # a tie, and round to even: 1. The round-to-odd step must keep the sticky 2^-48.
    p, s = 1 + 2.0 ** -23, 2.0 ** -24  # p*s = 2^-24 + 2^-47
    code, fl = fma_round(np.array([p]), np.array([s]), np.array([1.0]))
    assert int(code[0]) == 0x3F800001 and fl[0] & Flag.INEXACT


def random_fp32(rng, n, spread=30):
    v = rng.standard_normal(n) * np.exp2(rng.integers(-spread, spread, n))
    return v.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("mode", ["rne", "rtz", "rup", "rdn", "rna", "rto"])
def test_fma_against_exact_rationals(mode):
    rng = np.random.default_rng(11)
    n = 3000
    p = random_fp32(rng, n, 10)
    s = random_fp32(rng, n, 10)
    c = random_fp32(rng, n, 12)
    # adversarial rows: exact cancellation, c = -p*s rounded (tiny residuals), zeros,
    # ties, FP32-subnormal and overflowing results
    c[:200] = -(p[:200] * s[:200]).astype(np.float32)
    c[200:300] = -(p[200:300] * s[200:300])  # exact cancellation (when representable)
    p[300:350] = 0.0
    p[350:400] = 2.0 ** -140 * (1 + rng.integers(0, 8, 50) / 8)
    s[350:400] = 2.0 ** -3
    c[350:400] = 2.0 ** -149 * rng.integers(-4, 4, 50)
    p[400:420] = 2.0 ** 127
    s[400:420] = 3.0
    c[420:440] = -0.0
    p[420:440] = -0.0
    m = Rounding[mode.upper()]
    codes, flags = fma_round(p, s, c, FP32, mode)
    for i in range(n):
        q = Fraction(p[i]) * Fraction(s[i]) + Fraction(c[i])
        zs = 0
        if q == 0:  # IEEE zero sign
            both_neg = np.signbit(p[i] * s[i]) and np.signbit(c[i])
            zs = int(both_neg or (m is Rounding.RDN and not (
                not np.signbit(p[i] * s[i]) and not np.signbit(c[i]))))
        exp = rnd(FP32, q, m, zs)
        assert int(codes[i]) == exp, (i, p[i], s[i], c[i], hex(int(codes[i])), hex(exp))


def test_fma_specials():
    inf, nan = np.inf, np.nan
    codes, flags = fma_round(np.array([inf, inf, nan, 1.0, 2.0 ** 127]),
                             np.array([0.0, 1.0, 1.0, 1.0, 4.0]),
                             np.array([1.0, -inf, 1.0, inf, 0.0]))
    assert codes.tolist() == [0x7FFFFFFF, 0x7FFFFFFF, 0x7FFFFFFF, 0x7F800000, 0x7F800000]
    assert flags[0] & Flag.INVALID and flags[1] & Flag.INVALID and not flags[2] & Flag.INVALID
    assert flags[4] & Flag.OVERFLOW
    c2, _ = fma_round(np.array([nan]), np.array([1.0]), np.array([0.0]), nan="canonical")
    assert c2[0] == 0x7FC00000


# -- promotion semantics ---------------------------------------------------------------------
def test_scale_product_is_rounded_before_the_fma():
    # One K-block of 32, three products 1*1: the tensor unit's partial is exactly 3.
    # s_a = s_b = 1 + 2^-12 (FP32 0x3F800800). The exact s_a*s_b = 1 + 2^-11 + 2^-24 is an
    # FP32 tie -> RNE to 1 + 2^-11 (even). Then acc = RN(3 * (1 + 2^-11) + 0) = 3 + 3*2^-11,
    # exact. Had the scales been multiplied into the FMA unrounded, the result would be
    # RN(3 + 3*2^-11 + 3*2^-24) = 3 + 3*2^-11 + 2^-22 (3*2^-24 is 0.75 ulp of 3).
    a = np.zeros((1, 32), np.uint8)
    a[0, :3] = ONE
    A = fp32_block(a, [[0x3F800800]], (1, 32), 1)
    B = fp32_block(np.full((32, 1), ONE, np.uint8), [[0x3F800800]], (32, 1), 0)
    d, fl = twolevel_gemm(A, B, WGMMA, interval=32)
    assert f32(int(d[0, 0])) == 3 + 3 * 2.0 ** -11
    assert fl[0, 0] & Flag.INEXACT  # the scale product's rounding


def test_promotion_keeps_what_the_e8m13_accumulator_truncates():
    # K = 256. Interval 1 (k < 128) holds one product 1*1 -> partial 1. Interval 2 holds one
    # product 2^-9 * 2^-9 = 2^-18 (E4M3 min subnormals) -> partial 2^-18, exact: alone from +0.
    # Promotion every 128: acc = 1, then RN(2^-18 * 1 + 1) = 1 + 2^-18 (FP32 0x3F800020).
    # Without promotion the WGMMA chain carries C = 1 (E8M13) into the instruction holding
    # 2^-18; aligned to 2^0 with F = 13 fraction bits it is truncated away: the result is 1.
    a = np.zeros((1, 256), np.uint8)
    b = np.zeros((256, 1), np.uint8)
    a[0, 0] = b[0, 0] = ONE
    a[0, 200] = b[200, 0] = 0x01  # E4M3 2^-9
    A = fp32_block(a, [[0x3F800000, 0x3F800000]], (1, 128), 1)
    B = fp32_block(b, [[0x3F800000], [0x3F800000]], (128, 1), 0)
    d, _ = twolevel_gemm(A, B, WGMMA, interval=128)
    assert int(d[0, 0]) == 0x3F800020
    A1 = fp32_block(a, [[0x3F800000]], (1, 256), 1)
    B1 = fp32_block(b, [[0x3F800000]], (256, 1), 0)
    d1, fl1 = twolevel_gemm(A1, B1, WGMMA, interval=None)
    assert int(d1[0, 0]) == 0x3F800000 and fl1[0, 0] & Flag.INEXACT
    # the same without promotion equals the plain tensor-unit GEMM
    g, _ = gemm_fast((a, E4M3), (b, E4M3), None, WGMMA)
    assert int(g[0, 0]) == 0x3F800000


def test_order_of_promotions_and_fused_add():
    # Three intervals of 32 with partials 1, 2^-24 + ..., each promoted in order: acc =
    # RN(RN(RN(1) + 2^-24) + 2^-24) = 1 under RNE (each 2^-24 is a tie to even), whereas the
    # exact sum 1 + 2^-23 is representable: promotion rounds after every interval.
    a = np.zeros((1, 96), np.uint8)
    b = np.zeros((96, 1), np.uint8)
    a[0, 0] = b[0, 0] = ONE
    A = fp32_block(a, [[0x3F800000, 0x33800000, 0x33800000]], (1, 32), 1)  # scales 1, 2^-24
    a[0, 32] = a[0, 64] = ONE
    b[32, 0] = b[64, 0] = ONE
    A = fp32_block(a, A.scales, (1, 32), 1)
    B = fp32_block(b, [[0x3F800000]] * 3, (32, 1), 0)
    d, _ = twolevel_gemm(A, B, WGMMA, interval=32)
    assert int(d[0, 0]) == 0x3F800000
    d_up, _ = twolevel_gemm(A, B, WGMMA, interval=32, rounding="rup")
    assert int(d_up[0, 0]) == 0x3F800002  # RUP: 1 + 2^-23, then + 2^-24 -> 1 + 2^-22


def test_initial_accumulator_and_outer_format():
    # C = 0.5 enters the first FMA: 0.5 + 1*1*1 = 1.5; a BF16 outer accumulator rounds there.
    a = np.zeros((1, 32), np.uint8)
    a[0, 0] = ONE
    A = fp32_block(a, [[0x3F800000]], (1, 32), 1)
    B = fp32_block(a.T.copy(), [[0x3F800000]], (32, 1), 0)
    d, _ = twolevel_gemm(A, B, WGMMA, C=np.array([[bits(0.5)]], np.uint32))
    assert f32(int(d[0, 0])) == 1.5
    d16, _ = twolevel_gemm(A, B, WGMMA, outer_format=BF16)
    assert d16.dtype == np.uint16 and int(d16[0, 0]) == 0x3F80


def reference_twolevel(A, B, interval):
    """Hand-built reference: the tensor unit's partial per interval (gemm_fast on the codes),
    then s_ab and the FMA with Fractions and round_pack."""
    m, k = A.shape
    n = B.shape[1]
    sa, sb = A.scale_values(), B.scale_values()
    acc = [[Fraction(0)] * n for _ in range(m)]
    for k0 in range(0, k, interval):
        k1 = min(k0 + interval, k)
        part, _ = gemm_fast((A.codes[:m, k0:k1], E4M3), (B.codes[k0:k1, :n], E4M3), None, WGMMA)
        for i in range(m):
            for j in range(n):
                s = Fraction(f32(rnd(FP32, Fraction(sa[i // A.block[0], k0 // A.block[1]])
                                     * Fraction(sb[k0 // B.block[0], j // B.block[1]]))))
                q = Fraction(f32(int(part[i, j]))) * s + acc[i][j]
                acc[i][j] = Fraction(f32(rnd(FP32, q)))
    return np.array([[bits(float(v)) for v in r] for r in acc], np.uint32)


@pytest.mark.parametrize("kind", ["fp32", "ue8m0", "e8m0"])
def test_against_hand_built_reference(kind):
    rng = np.random.default_rng(2)
    a = (rng.standard_normal((5, 300)) * np.exp2(rng.integers(-4, 4, (5, 1)))).astype(np.float32)
    b = rng.standard_normal((300, 7)).astype(np.float32)
    A = quantize_blocks(a, E4M3, (1, 128), kind, axis=1)
    B = quantize_blocks(b, E4M3, (128, 4), kind, axis=0)
    d, _ = twolevel_gemm(A, B, WGMMA, interval=64)
    assert (d == reference_twolevel(A, B, 64)).all()


def test_inside_equals_promotion_for_power_of_two_scales():
    # With power-of-two scales constant over an interval, scaling commutes with the unit's
    # alignment and truncation (away from FP32's subnormal range), so applying them inside
    # the unit or at promotion gives the same bits.
    rng = np.random.default_rng(4)
    a = rng.standard_normal((8, 256)).astype(np.float32)
    b = rng.standard_normal((256, 6)).astype(np.float32)
    A = quantize_blocks(a, E4M3, 32, "ue8m0", axis=1)
    B = quantize_blocks(b, E4M3, 32, "ue8m0", axis=0)
    d1, _ = twolevel_gemm(A, B, WGMMA, interval=32, scales="promotion")
    d2, _ = twolevel_gemm(A, B, WGMMA, interval=32, scales="inside")
    d3, _ = twolevel_gemm(A.to_mxtensor(), B.to_mxtensor(), WGMMA, interval=32, scales="inside")
    assert (d1 == d2).all() and (d2 == d3).all()


def test_errors():
    a = np.ones((2, 256), np.float32)
    A = quantize_blocks(a, E4M3, (1, 128), "fp32", axis=1)
    B = quantize_blocks(a.T.copy(), E4M3, (128, 128), "fp32", axis=0)
    with pytest.raises(ValueError, match="spans two K-blocks"):
        twolevel_gemm(A, B, WGMMA, interval=256)
    with pytest.raises(ValueError, match="inside"):
        twolevel_gemm(A, B, WGMMA, scales="inside")
    with pytest.raises(ValueError, match="scales="):
        twolevel_gemm(A, B, WGMMA, scales="later")
    with pytest.raises(ValueError, match="interval"):
        twolevel_gemm(A, B, WGMMA, interval=0)
