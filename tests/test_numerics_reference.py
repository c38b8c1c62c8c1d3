"""The reference numerics model: hand-derived cases per knob, special values, the exact
configurations against rational arithmetic, the scalar bit-pattern API and the GEMM.

Every hand case says in its comment how the expected bits follow from the model of
docs/NUMERICS.md section 1 (terms aligned to E, cut to multiples of 2^(E-F), exact add, one
rounding).
"""
import random
from fractions import Fraction

import numpy as np
import pytest

from emulator import quantize, quantize_nvfp4
from emulator.flags import Flag
from emulator.formats import BF16, E2M1, E2M3, E3M2, E4M3, E5M2, FP16, FP32, INT8, UE4M3
from emulator.numerics import E8M13, AccumConfig, dot, dot_values, gemm, get_preset

from test_numerics_oracle import exact_dot, fp32_bits, round_to, value

P2 = lambda e: 2.0 ** e  # noqa: E731
NV = dict(align_floor=-126, nan="all_ones", overflow="inf")  # NVIDIA policies


def f32s(*xs):
    return [fp32_bits(x) for x in xs]


def run32(cfg, a, b, c=0.0):
    """dot on FP32 operands given as Python floats; returns (bits, flags)."""
    return dot_values(f32s(*a), f32s(*b), FP32, FP32, fp32_bits(c), cfg)


# ---------------------------------------------------------------------------------------
# Fraction bits kept (F)
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("frac_bits,rounding,want", [
    # C = 1 and two products of 1.5*2^-24; E = 0 (C's exponent), so terms are cut to
    # multiples of 2^-F.
    (23, "rtz", 0x3F800000),  # 1.5*2^-24 = 0.75*2^-23 -> 0 each: 1.0
    (24, "rtz", 0x3F800001),  # 1.5*2^-24 -> 2^-24 each: 1 + 2^-23 exactly
    (25, "rtz", 0x3F800001),  # kept exactly: 1 + 1.5*2^-23, RZ -> 1 + 2^-23
    (25, "rne", 0x3F800002),  # 1 + 1.5 ulp rounds to nearest: 1 + 2 ulp
    (24, "rne", 0x3F800001),  # 1 + 2^-23 is exact after the cut
    (23, "rne", 0x3F800000),
    (None, "rne", 0x3F800002),  # exact: as F = 25 here
])
def test_frac_bits(frac_bits, rounding, want):
    cfg = AccumConfig(frac_bits=frac_bits, rounding=rounding, **NV)
    got, flags = run32(cfg, [1.5 * P2(-24), 1.5 * P2(-24)], [1.0, 1.0], 1.0)
    assert got == want
    assert flags & Flag.INEXACT  # something was dropped in every case


# ---------------------------------------------------------------------------------------
# Dropped bits: truncate / floor / sticky / nearest
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("product,dropped,want", [
    # C = 1, one product p, F = 24: the grid is 2^-24 and the sum 1 + p lies in [0.5, 1)
    # where FP32 holds every multiple of 2^-24 (so the final rounding is exact).
    # p = -1.25*2^-23 = -2.5 units:
    (-1.25 * P2(-23), "truncate", 0x3F7FFFFE),  # magnitude toward zero: -2 -> 1 - 2*2^-24
    (-1.25 * P2(-23), "floor", 0x3F7FFFFD),  # two's-complement shift: -3
    (-1.25 * P2(-23), "sticky", 0x3F7FFFFD),  # 2 | sticky 1 = 3
    (-1.25 * P2(-23), "nearest", 0x3F7FFFFE),  # 2.5 -> 2 (ties to even)
    # p = -1.75*2^-23 = -3.5 units:
    (-1.75 * P2(-23), "truncate", 0x3F7FFFFD),  # -3
    (-1.75 * P2(-23), "floor", 0x3F7FFFFC),  # -4
    (-1.75 * P2(-23), "sticky", 0x3F7FFFFD),  # 3 is already odd
    (-1.75 * P2(-23), "nearest", 0x3F7FFFFC),  # 3.5 -> 4
    # p = +1.25*2^-23: truncation and floor agree on positive terms (1 + 2*2^-24).
    (1.25 * P2(-23), "truncate", 0x3F800001),
    (1.25 * P2(-23), "floor", 0x3F800001),
])
def test_dropped_bits(product, dropped, want):
    cfg = AccumConfig(frac_bits=24, dropped=dropped, rounding="rtz", **NV)
    assert run32(cfg, [product], [1.0], 1.0)[0] == want


# ---------------------------------------------------------------------------------------
# Where C enters, and the alignment reference
# ---------------------------------------------------------------------------------------
def test_c_inside_vs_after():
    # C = 1, p = 1.5*2^-24, F = 24, result RNE.
    # inside: p aligns to C's exponent 0 and is cut to 2^-24; 1 + 2^-24 is a tie -> 1.0.
    # after: the product step runs alone (E = -24, nothing cut), rounds RZ into FP32
    # (exact), then C is added exactly: 1 + 0.75 ulp -> RNE -> 1 + 2^-23.
    base = dict(frac_bits=24, rounding="rne", step_rounding="rtz", **NV)
    inside = AccumConfig(c_entry="inside", **base)
    after = AccumConfig(c_entry="after", **base)
    assert run32(inside, [1.5 * P2(-24)], [1.0], 1.0)[0] == 0x3F800000
    assert run32(after, [1.5 * P2(-24)], [1.0], 1.0)[0] == 0x3F800001


def test_products_then_c():
    # Three products of 1.5*2^-24 and C = 1, F = 24, RZ.
    # 'max': each product is cut on C's grid 2^-24 separately: 1 each -> 1 + 3*2^-24 -> RZ
    # into FP32 (ulp 2^-23) -> 1 + 2^-23.
    # 'products_then_c': the products add on their own grid first (4.5*2^-24 exactly), the
    # sum is then cut once on C's grid: 4 -> 1 + 2^-22.
    base = dict(frac_bits=24, rounding="rtz", **NV)
    a, b = [1.5 * P2(-24)] * 3, [1.0] * 3
    assert run32(AccumConfig(alignment="max", **base), a, b, 1.0)[0] == 0x3F800001
    assert run32(AccumConfig(alignment="products_then_c", **base), a, b, 1.0)[0] == 0x3F800002


def test_anchor():
    # A fixed anchor at 2^4 with F = 24 cuts every term to multiples of 2^-20, whatever the
    # operands: 1 + 2^-21 loses its small bit; with the anchor at 2^0 it stays.
    a, b = [1.0, P2(-21)], [1.0, 1.0]
    cfg = AccumConfig(alignment="anchor", anchor_exp=4, frac_bits=24, **NV)
    assert run32(cfg, a, b)[0] == fp32_bits(1.0)
    cfg0 = cfg.replace(anchor_exp=0)
    assert run32(cfg0, a, b)[0] == fp32_bits(1.0 + P2(-21))


def test_product_exponent_operands_vs_value():
    # p1 = 1.5*1.5 = 2.25: its alignment exponent is 0 + 0 = 0 ('operands', NVIDIA) but
    # floor(log2 2.25) = 1 ('value'). p2 = 1.5*2^-23. F = 24, C = +0, RNE.
    # operands: E = 0, grid 2^-24, p2 = 3 units kept: 2.25 + 0.75 ulp(2^-22) -> 2.25 + ulp.
    # value: E = 1, grid 2^-23, p2 = 1.5 units -> 1: 2.25 + 0.5 ulp, a tie -> even 2.25.
    a, b = [1.5, 1.5 * P2(-23)], [1.5, 1.0]
    base = dict(frac_bits=24, rounding="rne", **NV)
    assert run32(AccumConfig(product_exponent="operands", **base), a, b)[0] == 0x40100001
    assert run32(AccumConfig(product_exponent="value", **base), a, b)[0] == 0x40100000


def test_align_floor():
    # C = +0 and p = (1 + 2^-15) * 2^-140 (operands 2^-70 each: alignment exponent -140).
    # floor -126: E = -126 (the zero C), grid 2^-150 with F = 24: the 2^-155 bit is cut and
    # RUP gives exactly 2^-140 (subnormal 0x200). No floor: E = -140, nothing is cut, RUP
    # rounds the 2^-155 bit up to the next subnormal 0x201.
    a, b = [(1 + P2(-15)) * P2(-70)], [P2(-70)]
    cfg = AccumConfig(frac_bits=24, rounding="rup", align_floor=-126)
    assert run32(cfg, a, b)[0] == 0x200
    assert run32(cfg.replace(align_floor=None), a, b)[0] == 0x201


def test_carry_bits_wrap():
    # F = 10 and one carry bit less than the product needs: 1.5 * 1.5 = 2.25 aligns at 2^0,
    # the adder holds |sum| < 2^(0+1+carry_bits). With carry_bits = 0 the 12-bit
    # two's-complement register wraps 2.25 to 2.25 - 4 = -1.75; with 1 it fits.
    a, b = [FP16.encode([1.5]).codes[0]], [FP16.encode([1.5]).codes[0]]
    cfg = AccumConfig(frac_bits=10, carry_bits=0, **NV)
    assert dot_values(a, b, FP16, FP16, 0, cfg)[0] == fp32_bits(-1.75)
    assert dot_values(a, b, FP16, FP16, 0, cfg.replace(carry_bits=1))[0] == fp32_bits(2.25)


# ---------------------------------------------------------------------------------------
# Steps: K split and terms per step
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("k_split,terms,want", [
    # Products 1, 2^-11, -1, 2^-11 (FP16), C = +0, each step rounds RNE into FP16.
    # sequential steps of 2: 1 + 2^-11 is a tie in FP16 -> 1; then 1 - 1 + 2^-11 = 2^-11.
    ("sequential", 2, 0x1000),
    # interleaved (even/odd) steps of 2: 1 - 1 = +0; then 2^-11 + 2^-11 = 2^-10.
    ("interleaved", 2, 0x1400),
    # one step of 4: exactly 2^-10.
    ("sequential", 4, 0x1400),
])
def test_k_split(k_split, terms, want):
    cfg = AccumConfig(instruction_k=4, terms_per_step=terms, k_split=k_split,
                      output_format=FP16, **NV)
    a = FP16.encode([1.0, P2(-11), -1.0, P2(-11)]).codes.tolist()
    b = FP16.encode([1.0] * 4).codes.tolist()
    assert dot_values(a, b, FP16, FP16, 0, cfg)[0] == want


def test_interleave_granule_pairs():
    # Products 1, -1, 2^-11, 2^-11 (FP16), two steps of 2 from C = +0, each RNE into FP16.
    # interleave=2 (register pairs): step 0 = lanes {0, 1} = 1 - 1 = +0, step 1 = lanes
    # {2, 3} = 2^-10. interleave=1 (even/odd): step 0 = {1, 2^-11} -> 1 (a tie, to even),
    # step 1 = 1 - 1 + 2^-11 = 2^-11.
    a = FP16.encode([1.0, -1.0, P2(-11), P2(-11)]).codes.tolist()
    b = FP16.encode([1.0] * 4).codes.tolist()
    base = dict(instruction_k=4, terms_per_step=2, k_split="interleaved",
                output_format=FP16, **NV)
    assert dot_values(a, b, FP16, FP16, 0, AccumConfig(interleave=2, **base))[0] == 0x1400
    assert dot_values(a, b, FP16, FP16, 0, AccumConfig(interleave=1, **base))[0] == 0x1000


def test_instruction_chaining():
    # fp32-fma-chain: every product is its own instruction, rounded RNE into FP32:
    # ((0 + 1) + 2^-24) -> 1 (a tie, even), then + 2^-24 -> 1 again; exact: 1 + 2^-23.
    a, b = [1.0, P2(-24), P2(-24)], [1.0, 1.0, 1.0]
    assert run32(get_preset("fp32-fma-chain").config, a, b)[0] == 0x3F800000
    assert run32(get_preset("exact").config, a, b)[0] == 0x3F800001


def test_product_format():
    # FP16 a = b = 1 + 2^-10: the exact product 1 + 2^-9 + 2^-20 fits FP32; rounded first
    # into FP16 (as older AMD / AMX-like units round products) it loses the 2^-20.
    a = [0x3C01]
    exact = AccumConfig()
    assert dot_values(a, a, FP16, FP16, 0, exact)[0] == 0x3F804008
    rounded = AccumConfig(product_format=FP16)
    assert dot_values(a, a, FP16, FP16, 0, rounded)[0] == 0x3F804000


# ---------------------------------------------------------------------------------------
# Output formats and rounding
# ---------------------------------------------------------------------------------------
def test_e8m13_held_in_fp32():
    # Hopper/Ada FP8 paths produce 13 fraction bits: 1 + 2^-20 is cut to 1 (RZ), and the
    # FP32 register holds the E8M13 value exactly (low 10 bits zero).
    cfg = AccumConfig(output_format=E8M13, register_format=FP32, rounding="rtz")
    assert run32(cfg, [1 + P2(-20)], [1.0])[0] == 0x3F800000
    assert run32(cfg, [1 + P2(-13)], [1.0])[0] == 0x3F800400
    assert run32(AccumConfig(), [1 + P2(-20)], [1.0])[0] == 0x3F800008


def test_stochastic_rounding():
    # 1 + 2^-24 is half an FP32 ulp above 1: with 32 random bits r it rounds up exactly when
    # floor(0.5 * 2^32) + r >= 2^32, i.e. r >= 2^31.
    cfg = AccumConfig(rounding="sr")
    a, b = f32s(1.0, P2(-24)), f32s(1.0, 1.0)
    assert dot_values(a, b, FP32, FP32, 0, cfg, rand_bits=0)[0] == 0x3F800000
    assert dot_values(a, b, FP32, FP32, 0, cfg, rand_bits=2 ** 31 - 1)[0] == 0x3F800000
    assert dot_values(a, b, FP32, FP32, 0, cfg, rand_bits=2 ** 31)[0] == 0x3F800001
    with pytest.raises(ValueError, match="rand_bits"):
        dot_values(a, b, FP32, FP32, 0, cfg)
    # A chain consumes one value per rounding: two FMAs, the first rounds down, the second
    # (1 + 2^-24 again) up.
    chain = AccumConfig(instruction_k=1, terms_per_step=1, rounding="sr")
    a3, b3 = f32s(1.0, P2(-24), P2(-24)), f32s(1.0, 1.0, 1.0)
    assert dot_values(a3, b3, FP32, FP32, 0, chain, rand_bits=[0, 0, 2 ** 31])[0] == 0x3F800001
    assert dot_values(a3, b3, FP32, FP32, 0, chain, rand_bits=[0, 0, 0])[0] == 0x3F800000
    with pytest.raises(ValueError, match="needs more"):
        dot_values(a3, b3, FP32, FP32, 0, chain, rand_bits=[0])


@pytest.mark.parametrize("policy,rounding,want", [
    # 1.5*2^127 * 2 = 1.5*2^128 overflows FP32.
    ("inf", "rtz", 0x7F800000),  # NVIDIA: Inf even under RZ
    ("ieee", "rtz", 0x7F7FFFFF),  # IEEE 754: RZ keeps the largest finite value
    ("ieee", "rne", 0x7F800000),
    ("saturate", "rne", 0x7F7FFFFF),
])
def test_overflow(policy, rounding, want):
    cfg = AccumConfig(overflow=policy, rounding=rounding)
    got, flags = run32(cfg, [1.5 * P2(127)], [2.0])
    assert got == want
    assert flags & Flag.OVERFLOW and flags & Flag.INEXACT


def test_subnormal_policies():
    # Input flush: the FP16 subnormal 2^-24 becomes +0 (and 0x8001 becomes -0).
    one = 0x3C00
    assert dot_values([0x0001], [one], FP16, FP16, 0, AccumConfig())[0] == 0x33800000
    flush_in = AccumConfig(input_subnormals="flush")
    assert dot_values([0x0001], [one], FP16, FP16, 0, flush_in)[0] == 0
    assert dot_values([0x8001], [one], FP16, FP16, 0x80000000, flush_in)[0] == 0x80000000
    # Output flush: 2^-70 * 2^-70 = 2^-140 is an FP32 subnormal (0x200).
    assert run32(AccumConfig(), [P2(-70)], [P2(-70)])[0] == 0x200
    got, flags = run32(AccumConfig(output_subnormals="flush"), [P2(-70)], [P2(-70)])
    assert got == 0 and flags & Flag.UNDERFLOW


# ---------------------------------------------------------------------------------------
# Special values
# ---------------------------------------------------------------------------------------
E5M2_ONE, E5M2_INF, E5M2_NINF = 0x3C, 0x7C, 0xFC
E4M3_ONE, E4M3_NAN = 0x38, 0x7F


@pytest.mark.parametrize("preset,nan_bits", [("b200-mxf8f6f4", 0x7FFFFFFF),
                                             ("exact", 0x7FC00000)])
def test_nan_scale(preset, nan_bits):
    cfg = get_preset(preset).config
    a = [E4M3_ONE] * 32
    assert dot(a, a, E4M3, E4M3, [0xFF], [127], 0, cfg)[0] == nan_bits
    assert dot(a, a, E4M3, E4M3, 127, 0xFF, 0, cfg)[0] == nan_bits
    assert dot(a, a, E4M3, E4M3, 127, 127, 0, cfg)[0] == fp32_bits(32.0)


def test_inf_minus_inf_and_inf_times_zero():
    cfg = get_preset("h100-fp8-wgmma").config
    pad = [0] * 30
    got, flags = dot_values([E5M2_INF, E5M2_NINF] + pad, [E5M2_ONE] * 2 + pad, E5M2, E5M2, 0,
                            cfg)
    assert got == 0x7FFFFFFF and flags & Flag.INVALID
    got, flags = dot_values([E5M2_INF] + [0] * 31, [0] * 32, E5M2, E5M2, 0, cfg)
    assert got == 0x7FFFFFFF and flags & Flag.INVALID
    # Inf plus finite terms is Inf; Inf in C too; C = -Inf against a +Inf product is NaN.
    got, flags = dot_values([E5M2_INF, E5M2_ONE] + pad, [E5M2_ONE] * 2 + pad, E5M2, E5M2, 0,
                            cfg)
    assert got == 0x7F800000 and not flags & Flag.INVALID
    assert dot_values([E5M2_ONE] * 32, [E5M2_ONE] * 32, E5M2, E5M2, 0xFF800000, cfg)[0] == \
        0xFF800000
    assert dot_values([E5M2_INF] + pad + [0], [E5M2_ONE] * 32, E5M2, E5M2, 0xFF800000,
                      cfg)[0] == 0x7FFFFFFF


@pytest.mark.parametrize("second", [1, 16], ids=["same-block", "other-block"])
def test_inf_minus_inf_in_scale_blocks_is_invalid(second):
    # +Inf and -Inf meeting in one block's exact sum are the same invalid operation as
    # meeting in a step: NaN with INVALID either way (FP16 operands, b200-mxf4nvf4 blocks).
    cfg = get_preset("b200-mxf4nvf4").config
    fp16_inf, fp16_ninf, fp16_one = 0x7C00, 0xFC00, 0x3C00
    a = [0] * 64
    a[0], a[second] = fp16_inf, fp16_ninf
    got, flags = dot_values(a, [fp16_one] * 64, FP16, FP16, 0, cfg)
    assert got == 0x7FFFFFFF and flags & Flag.INVALID


@pytest.mark.parametrize("nan_code", [E4M3_NAN, 0xFF])
def test_e4m3_nan_codes(nan_code):
    for preset, want in (("ada-fp8", 0x7FFFFFFF), ("ada-fp8-fp16", 0x7FFF),
                         ("exact", 0x7FC00000)):
        cfg = get_preset(preset).config
        a = [nan_code] + [E4M3_ONE] * 31
        assert dot_values(a, [E4M3_ONE] * 32, E4M3, E4M3, 0, cfg)[0] == want


def test_nan_in_c():
    cfg = get_preset("h100-fp16").config
    assert dot_values([0x3C00] * 16, [0x3C00] * 16, FP16, FP16, 0x7FC00001, cfg)[0] == \
        0x7FFFFFFF


def test_fp32_subnormal_results():
    # E4M3 1.0 * 1.0 with scales 2^-127 and 2^-10: 2^-137 = 0x1000 (an FP32 subnormal),
    # exact under the NVIDIA alignment (E = -126 from the zero C, grid 2^-151).
    cfg = get_preset("b200-mxf8f6f4").config
    a, b = [E4M3_ONE] + [0] * 31, [E4M3_ONE] + [0] * 31
    got, flags = dot(a, b, E4M3, E4M3, 0, 117, 0, cfg)
    assert got == 0x1000 and flags == 0
    # 1.875^2 * 2^-147 = 14.0625 * 2^-149: RZ -> 14, RNE -> 14; inexact and tiny.
    a = [0x3F] + [0] * 31
    for preset in ("b200-mxf8f6f4", "exact"):
        got, flags = dot(a, a, E4M3, E4M3, 0, 107, 0, get_preset(preset).config)
        assert got == 14 and flags & Flag.UNDERFLOW and flags & Flag.INEXACT


@pytest.mark.parametrize("preset", ["h100-fp16", "exact", "a100-fp16-fp16"])
def test_signed_zeros(preset):
    cfg = get_preset(preset).config
    nz = 1 << (cfg.register.bits - 1)
    neg0, one, neg1 = 0x8000, 0x3C00, 0xBC00
    k = cfg.instruction_k or 4
    # every term -0 (products -0 * 1, C = -0): -0
    assert dot_values([neg0] * k, [one] * k, FP16, FP16, nz, cfg)[0] == nz
    # one +0 product among them: +0
    assert dot_values([neg0] * (k - 1) + [0], [one] * k, FP16, FP16, nz, cfg)[0] == 0
    # exact cancellation: +0, whatever C's zero sign
    rest = [0] * (k - 2)
    assert dot_values([one, neg1] + rest, [one] * k, FP16, FP16, 0, cfg)[0] == 0
    assert dot_values([one, neg1] + rest, [one] * k, FP16, FP16, nz, cfg)[0] == 0


def test_zero_sign_policies():
    rdn = AccumConfig(rounding="rdn")
    assert run32(rdn, [1.0, -1.0], [1.0, 1.0])[0] == 0x80000000  # IEEE: x - x = -0 in RDN
    assert run32(rdn.replace(zero_sign="positive"), [1.0, -1.0], [1.0, 1.0])[0] == 0
    assert run32(AccumConfig(zero_sign="positive"), [-0.0], [1.0], -0.0)[0] == 0
    assert run32(AccumConfig(), [-0.0], [1.0], -0.0)[0] == 0x80000000


def test_all_zero_blocks(backend):
    # quantize gives an all-zero block the scale 2^-127 and zero codes: the result is C.
    x = np.zeros((2, 32), np.float32)
    a = quantize(x, "e4m3", axis=1)
    b = quantize(np.zeros((32, 3), np.float32), "e4m3", axis=0)
    for name in ("b200-mxf8f6f4", "exact", "mxdotp"):
        d, flags = gemm(a, b, None, get_preset(name).config)
        assert (d == 0).all() and (flags == 0).all()
        c = np.full((2, 3), fp32_bits(-2.5), np.uint32)
        assert (gemm(a, b, c, get_preset(name).config)[0] == fp32_bits(-2.5)).all()
    neg = quantize(-np.zeros((2, 32), np.float32), "e4m3", axis=1)
    cfg = get_preset("exact").config
    d, _ = gemm(neg, b, np.full((2, 3), 0x80000000, np.uint32), cfg)
    assert (d == 0x80000000).all()  # -0 * +0 products and C = -0


# ---------------------------------------------------------------------------------------
# NVFP4: exact sub-sums per scale block
# ---------------------------------------------------------------------------------------
def test_mxf4nvf4_block_sums():
    # Four blocks of 16 (E2M1 elements, UE4M3 scales). Block 0: 4 * 4 * 256 * 256 = 2^20;
    # block 2: -2^20; block 1: 1.5 * 1 * 2^-7 * 2^-8 = 1.5*2^-15; block 3: zeros.
    # The block sums (exact) align to the largest, 2^20, and keep F = 35 bits: the grid is
    # 2^-15, so block 1 is cut to 2^-15 (truncation). The exact sum is 1.5*2^-15.
    def block(x, y):
        return [x] + [0] * 15, [y] + [0] * 15
    a0, b0 = block(0x6, 0x6)
    a1, b1 = block(0x3, 0x2)
    a2, b2 = block(0xE, 0x6)
    a3, b3 = block(0, 0)
    a, b = a0 + a1 + a2 + a3, b0 + b1 + b2 + b3
    sa, sb = [0x78, 0x04, 0x78, 0x38], [0x78, 0x02, 0x78, 0x38]
    nv = get_preset("b200-mxf4nvf4").config
    assert dot(a, b, E2M1, E2M1, sa, sb, 0, nv, scale_fmt=UE4M3)[0] == fp32_bits(P2(-15))
    ex = get_preset("exact").config
    assert dot(a, b, E2M1, E2M1, sa, sb, 0, ex, scale_fmt=UE4M3)[0] == fp32_bits(1.5 * P2(-15))
    # 64 products of 1 with unit scales: 64.
    assert dot([0x2] * 64, [0x2] * 64, E2M1, E2M1, [0x38] * 4, [0x38] * 4, 0, nv,
               scale_fmt=UE4M3)[0] == fp32_bits(64.0)


# ---------------------------------------------------------------------------------------
# Exact configurations against rational arithmetic
# ---------------------------------------------------------------------------------------
ELEMS = {"e4m3": E4M3, "e5m2": E5M2, "e3m2": E3M2, "e2m3": E2M3, "e2m1": E2M1, "int8": INT8,
         "fp16": FP16, "bf16": BF16}
OUTS = {"fp32": FP32, "fp16": FP16, "bf16": BF16, "e8m13": E8M13}


def _finite_codes(name):
    fmt = ELEMS[name]
    return [c for c in range(fmt.num_codes) if not isinstance(value(name, c), str)]


FINITE = {n: _finite_codes(n) for n in ELEMS if ELEMS[n].bits <= 8}


def _random_codes(rng, name, k):
    if name in FINITE:
        return [rng.choice(FINITE[name]) for _ in range(k)]
    while True:  # 16-bit formats: random finite codes
        out = [rng.randrange(1 << 16) for _ in range(k)]
        if not any(isinstance(value(name, c), str) for c in out):
            return out


def _check_exact(cfg, out_name, a, b, fa, fb, sa, sb, c, blocks):
    got, flags = dot(a, b, ELEMS[fa], ELEMS[fb], sa, sb, c, cfg)
    per = len(a) // blocks if blocks else None
    esa = [sa[i // per] for i in range(len(a))] if sa is not None else None
    esb = [sb[i // per] for i in range(len(a))] if sb is not None else None
    total = exact_dot(a, b, fa, fb, c, out_name, esa, esb)
    want = round_to(out_name, total, cfg.rounding.name.lower())
    if total == 0:  # the sign of an exact zero is tested separately
        got &= ~(1 << (OUTS[out_name].bits - 1))
    assert got == want, (a, b, sa, sb, c, hex(got), hex(want))
    assert bool(flags & Flag.INEXACT) == (value(out_name, want) != total)


@pytest.mark.parametrize("alignment", ["max", "products_then_c", "anchor"])
def test_exact_configs_random(alignment):
    """frac_bits=None, one step: the result is the rational sum rounded once, for every
    element format, output format, rounding mode and alignment reference."""
    rng = random.Random(1234 + len(alignment))
    for trial in range(120):
        out_name = rng.choice(list(OUTS))
        mode = rng.choice(["rne", "rna", "rtz", "rup", "rdn"])
        cfg = AccumConfig(output_format=OUTS[out_name] if out_name != "e8m13" else E8M13,
                          rounding=mode, alignment=alignment,
                          anchor_exp=0 if alignment == "anchor" else None,
                          dropped=rng.choice(["truncate", "floor", "sticky", "nearest"]))
        fa, fb = rng.choice(list(ELEMS)), rng.choice(list(ELEMS))
        k = rng.choice([1, 2, 4, 8, 32])
        a, b = _random_codes(rng, fa, k), _random_codes(rng, fb, k)
        blocks = rng.choice([0, 1, k]) if ELEMS[fa].bits <= 8 else 0
        sa = [rng.randrange(100, 150) for _ in range(blocks)] if blocks else None
        sb = [rng.randrange(110, 140) for _ in range(blocks)] if blocks else None
        c = round_to(out_name, Fraction(rng.randrange(-1000, 1000), rng.choice([1, 7, 1024])))
        _check_exact(cfg, out_name, a, b, fa, fb, sa, sb, c, blocks)


def _adversarial_cases(rng):
    """(a, b, sa, sb, c) E4M3 cases: cancellation, ties, wide ranges, tiny and huge sums."""
    one, big = int(E4M3.encode([1.0]).codes[0]), 0x7E  # 448
    cases = []
    # 1. Massive cancellation leaving a tiny remainder: x, -x pairs plus one tiny product.
    xs = [rng.choice(FINITE["e4m3"]) for _ in range(15)]
    a = xs + [x ^ 0x80 for x in xs] + [0x01, 0]
    cases.append((a, [one] * 32, [127], [127], 0))
    # 2. An exact half-ulp tie of FP32: 1 + 2^-24 (per-element scales 2^0 and 2^-24).
    a = [one, one] + [0] * 30
    cases.append((a, [one] * 32, [127, 103] + [127] * 30, [127] * 32, 0))
    # 3. A huge range through block scales: 448^2 * 2^100 and 2^-9 * 2^-120 (two blocks).
    a = [big] + [0] * 31 + [0x01] + [0] * 31
    cases.append((a, [big] * 32 + [one] * 32, [227, 7], [127, 127], 0))
    # 4. Sums that round to FP32 subnormals and overflow.
    cases.append(([0x3F] * 32, [0x3F] * 32, [0], [110], 0))
    cases.append(([big] * 32, [big] * 32, [254], [200], 0))
    # 5. C dominates, products below its last bit.
    cases.append(([one] * 32, [0x01] * 32, [100], [100], fp32_bits(1.0)))
    return cases


@pytest.mark.parametrize("out_name", ["fp32", "fp16", "bf16"])
@pytest.mark.parametrize("mode", ["rne", "rtz", "rup", "rdn", "rna"])
def test_exact_configs_adversarial(out_name, mode):
    rng = random.Random(7)
    cfg = AccumConfig(output_format=OUTS[out_name], register_format=FP32, rounding=mode)
    for a, b, sa, sb, c in _adversarial_cases(rng):
        got, _ = dot(a, b, E4M3, E4M3, sa, sb, c, cfg)
        k = len(a)
        esa = [sa[i * len(sa) // k] for i in range(k)] if sa else None
        esb = [sb[i * len(sb) // k] for i in range(k)] if sb else None
        total = exact_dot(a, b, "e4m3", "e4m3", c, "fp32", esa, esb)
        want = round_to(out_name, total, mode)
        # Widen the wanted code to FP32 bits through its value (the register is FP32).
        v = value(out_name, want)
        want32 = (0x7F800000 | (want >> (OUTS[out_name].bits - 1)) << 31) if isinstance(v, str) \
            else round_to("fp32", v, "rne", neg_zero=want >> (OUTS[out_name].bits - 1) == 1)
        assert got == want32, (out_name, mode, a, hex(got), hex(want32))


def test_fma_chain_matches_sequential_fma():
    rng = random.Random(99)
    cfg = get_preset("fp32-fma-chain").config
    for _ in range(60):
        k = rng.choice([2, 5, 16])
        a = _random_codes(rng, "fp16", k)
        # BF16 operands with exponents 2^-27 .. 2^23: no overflow, many dropped bits
        b = [rng.randrange(2) << 15 | rng.randrange(100, 150) << 7 | rng.randrange(128)
             for _ in range(k)]
        c = round_to("fp32", Fraction(rng.randrange(-99, 99), 3))
        acc = c
        for x, y in zip(a, b):
            t = value("fp16", x) * value("bf16", y) + value("fp32", acc)
            acc = round_to("fp32", t, "rne")
        got = dot_values(a, b, FP16, BF16, c, cfg)[0]
        if value("fp32", acc) == 0:
            got &= 0x7FFFFFFF
            acc &= 0x7FFFFFFF
        assert got == acc


# ---------------------------------------------------------------------------------------
# The scalar bit-pattern API
# ---------------------------------------------------------------------------------------
def test_scalar_api_types_and_errors():
    cfg = get_preset("h100-fp16").config
    bits, flags = dot([0x3C00] * 16, [0x4000] * 16, "fp16", "fp16", None, None, 0x3F800000, cfg)
    assert isinstance(bits, int) and isinstance(flags, int)
    assert bits == fp32_bits(33.0) and flags == 0
    # numpy ints are accepted
    bits2, _ = dot(np.array([0x3C00] * 16, np.uint16), np.array([0x4000] * 16, np.uint16),
                   FP16, FP16, None, None, np.uint32(0x3F800000), cfg)
    assert bits2 == bits
    with pytest.raises(ValueError, match="b_codes"):
        dot([1, 2], [1], FP16, FP16, None, None, 0, cfg)
    with pytest.raises(ValueError, match="a_codes"):
        dot([1 << 16], [1], FP16, FP16, None, None, 0, cfg)
    with pytest.raises(ValueError, match="c_bits"):
        dot([1], [1], FP16, FP16, None, None, 1 << 32, cfg)
    with pytest.raises(ValueError, match="a_scale"):
        dot([0x38] * 3, [0x38] * 3, E4M3, E4M3, [127, 127], None, 0, cfg)
    with pytest.raises(ValueError, match="scale"):
        dot([0x38] * 2, [0x38] * 2, E4M3, E4M3, [256], None, 0, cfg)


def test_fp16_register_and_c_format():
    # FP16-output presets take C and give D as FP16 bits; c_fmt lets C come in another format.
    cfg = get_preset("h100-fp16-fp16").config
    one = 0x3C00
    assert dot_values([one] * 16, [one] * 16, FP16, FP16, one, cfg)[0] == 0x4C40  # 17
    assert dot_values([one] * 16, [one] * 16, FP16, FP16, fp32_bits(1.0), cfg,
                      c_fmt=FP32)[0] == 0x4C40


# ---------------------------------------------------------------------------------------
# GEMM
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("elem", ["e4m3", "e2m1"])
def test_gemm_matches_dot_and_exact(backend, elem):
    rng = np.random.default_rng(5)
    m, k, n = 3, 40, 2  # K not a multiple of the block: zero padding
    x = (rng.standard_normal((m, k)) * 4).astype(np.float32)
    y = (rng.standard_normal((k, n)) * 4).astype(np.float32)
    A, B = quantize(x, elem, axis=1), quantize(y, elem, axis=0)
    C = np.array([[fp32_bits(float(v)) for v in row] for row in rng.standard_normal((m, n))],
                 np.uint32)
    for name in ("b200-mxf8f6f4", "exact", "mxdotp", "fp32-fma-chain"):
        cfg = get_preset(name).config
        d, flags = gemm(A, B, C, cfg)
        assert d.dtype == np.uint32 and d.shape == (m, n) and flags.dtype == np.uint8
        for i in range(m):
            for j in range(n):
                want = dot(A.codes[i].tolist(), B.codes[:, j].tolist(), A.elem, B.elem,
                           A.scales[i].tolist(), B.scales[:, j].tolist(), int(C[i, j]), cfg)
                assert (int(d[i, j]), int(flags[i, j])) == want
    # The exact preset equals the rational sum of the dequantized values, rounded once.
    d, _ = gemm(A, B, C, get_preset("exact").config)
    xa, yb = A.dequantize(), B.dequantize()
    for i in range(m):
        for j in range(n):
            total = sum(Fraction(float(xa[i, t])) * Fraction(float(yb[t, j])) for t in range(k))
            total += value("fp32", int(C[i, j]))
            assert int(d[i, j]) == round_to("fp32", total)


def test_gemm_nvfp4(backend):
    # NVFP4 operands (E2M1, UE4M3 scales per 16) through the mxf4nvf4 preset: K = 128 is two
    # instructions of 64 chained along K. The tensor scale is an epilogue multiply, so it is
    # stripped first.
    import dataclasses
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, 128)).astype(np.float32)
    y = rng.standard_normal((128, 2)).astype(np.float32)
    A = dataclasses.replace(quantize_nvfp4(x, axis=1), tensor_scale=None)
    B = dataclasses.replace(quantize_nvfp4(y, axis=0), tensor_scale=None)
    cfg = get_preset("b200-mxf4nvf4").config
    d, _ = gemm(A, B, None, cfg)
    for i in range(2):
        for j in range(2):
            want = dot(A.codes[i].tolist(), B.codes[:, j].tolist(), E2M1, E2M1,
                       A.scales[i].tolist(), B.scales[:, j].tolist(), 0, cfg,
                       scale_fmt=UE4M3)
            assert int(d[i, j]) == want[0]
    # And the result is the exact sum of the dequantized products up to the two RZ roundings
    # of the chain (and the F = 35 cuts): relative error below 2^-20.
    xa, yb = A.dequantize(), B.dequantize()
    for i in range(2):
        for j in range(2):
            total = sum(Fraction(float(xa[i, t])) * Fraction(float(yb[t, j]))
                        for t in range(128))
            assert abs(value("fp32", int(d[i, j])) - total) < abs(total) * Fraction(1, 2 ** 20)


def test_gemm_unscaled_operands_and_errors(backend):
    a = FP16.encode(np.arange(8, dtype=np.float64).reshape(2, 4)).codes
    b = FP16.encode(np.ones((4, 3))).codes
    d, _ = gemm((a, FP16), (b, FP16), None, get_preset("h100-fp16-fp16").config)
    assert d.dtype == np.uint16
    assert d[:, 0].tolist() == [0x4600, 0x4D80]  # 6 and 22
    cfg = get_preset("exact").config
    with pytest.raises(ValueError, match="K="):
        gemm((a, FP16), (b[:3], FP16), None, cfg)
    with pytest.raises(ValueError, match="C has shape"):
        gemm((a, FP16), (b, FP16), np.zeros((3, 3), np.uint32), cfg)
    with pytest.raises(TypeError):
        gemm(a, (b, FP16), None, cfg)
    x = np.ones((2, 32), np.float32)
    with pytest.raises(ValueError, match="axis"):
        gemm(quantize(x, "e4m3", axis=1), quantize(x, "e4m3", axis=1), None, cfg)
    q = quantize_nvfp4(x, axis=1)
    with pytest.raises(ValueError, match="tensor_scale"):
        gemm(q, quantize_nvfp4(x.T.copy(), axis=0), None, cfg)


def test_gemm_rand_bits(backend):
    a = np.array([[fp32_bits(1.0), fp32_bits(P2(-24))]], np.uint32)
    b = np.array([[fp32_bits(1.0)], [fp32_bits(1.0)]], np.uint32)
    cfg = AccumConfig(rounding="sr")
    lo, _ = gemm((a, FP32), (b, FP32), None, cfg, rand_bits=np.zeros((1, 1), np.uint32))
    hi, _ = gemm((a, FP32), (b, FP32), None, cfg, rand_bits=np.full((1, 1), 2 ** 31))
    assert (int(lo[0, 0]), int(hi[0, 0])) == (0x3F800000, 0x3F800001)


def test_gemm_rejects_codes_outside_the_format():
    # Every implementation validates through reference.gemm_inputs: an E4M3 code of 0x100
    # or a C pattern too wide for FP32 is an error naming the operand, never decoded.
    cfg = get_preset("h100-fp8-wgmma").config
    a = (np.full((1, 32), 0x38, np.uint16), E4M3)
    b = (np.full((32, 1), 0x38, np.uint16), E4M3)
    bad = (np.full((1, 32), 0x100, np.uint16), E4M3)
    with pytest.raises(ValueError, match="A: 256 is not a e4m3 code"):
        gemm(bad, b, None, cfg)
    with pytest.raises(ValueError, match="C: "):
        gemm(a, b, np.array([[1 << 32]], dtype=np.uint64), cfg)
    assert gemm(a, b, None, cfg)[0][0, 0] == 0x42000000  # 32 * 1 * 1
