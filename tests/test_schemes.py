"""emulator.numerics.schemes: every scheme runs, is deterministic, and (for power-of-two
scales) equals a hand-built reference computation."""
import struct
from fractions import Fraction

import numpy as np
import pytest

from emulator.formats import BF16, E4M3, FP32
from emulator.numerics import gemm as reference_gemm
from emulator.numerics import get_preset
from emulator.numerics.fast import gemm_fast
from emulator.numerics.schemes import SCHEMES, Scheme, get_scheme, scheme_names
from emulator.rounding import Overflow, Rounding, round_pack

# Every test runs on both backends (element rounding goes through the active one).
pytestmark = pytest.mark.usefixtures("backend")

CONTRACT_NAMES = ["deepseek-v3-fp8", "deepseek-v3.1-ue8m0", "deepseek-v3-fp8-no-promotion",
                  "gpt-oss-mxfp4-bf16-hopper", "gpt-oss-mxfp4-mxfp8-blackwell", "mxfp8-b200",
                  "mxfp4-b200"]


def inputs(m=6, k=288, n=5, seed=0):
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((m, k)) * np.exp2(rng.integers(-3, 3, (m, 1)))).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    return a, b


def f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def rnd32(q: Fraction) -> int:
    if q == 0:
        return 0
    s = int(q < 0)
    q = abs(q)
    return round_pack(FP32, s, q.numerator, q.denominator, 0, Rounding.RNE, Overflow.INF)[0]


def test_registry():
    assert set(CONTRACT_NAMES) <= set(scheme_names())
    for name in scheme_names():
        s = get_scheme(name)
        assert isinstance(s, Scheme) and s.source and s.notes
        get_preset(s.preset)
    assert get_scheme("DeepSeek-V3-FP8") is SCHEMES["deepseek-v3-fp8"]
    with pytest.raises(ValueError, match="unknown scheme"):
        get_scheme("fp3")


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_runs_and_is_deterministic(name):
    s = get_scheme(name)
    a, b = inputs()
    A, B = s.quantize(a, b)
    qa, qb = s.dequantized(A, B)
    assert qa.shape == a.shape and qb.shape == b.shape and qa.dtype == np.float64
    d, fl = s.gemm(A, B)
    assert d.shape == (6, 5) and d.dtype == np.uint32 and fl.dtype == np.uint8
    d2, fl2 = s.gemm(*s.quantize(a.copy(), b.copy()))
    assert (d == d2).all() and (fl == fl2).all()
    exact = qa @ qb
    rel = np.abs(d.view(np.float32) - exact).max() / np.abs(exact).max()
    assert rel < 2e-3  # the unit's accumulation error on the quantized inputs is small


def test_deepseek_ue8m0_against_hand_reference():
    # UE8M0 scales are powers of two: s_a*s_b is exact and each promotion is one FP32 RNE
    # rounding of acc + partial * 2^(ka + kb); the partial is the WGMMA chain over 128 codes.
    s = get_scheme("deepseek-v3.1-ue8m0")
    a, b = inputs()
    A, B = s.quantize(a, b)
    assert A.block == (1, 128) and B.block == (128, 128) and A.scale_kind == "ue8m0"
    cfg = get_preset("h100-fp8-wgmma").config
    sa, sb = A.scale_values(), B.scale_values()
    m, k = a.shape
    n = b.shape[1]
    acc = np.zeros((m, n), object)
    acc[:] = Fraction(0)
    for k0 in range(0, k, 128):
        k1 = min(k0 + 128, k)
        part, _ = gemm_fast((A.codes[:m, k0:k1], E4M3), (B.codes[k0:k1, :n], E4M3), None, cfg)
        for i in range(m):
            for j in range(n):
                scale = Fraction(sa[i, k0 // 128]) * Fraction(sb[k0 // 128, 0])
                acc[i, j] = Fraction(f32(rnd32(Fraction(f32(int(part[i, j]))) * scale
                                                + acc[i, j])))
    expect = np.array([[rnd32(v) for v in row] for row in acc], np.uint32)
    d, _ = s.gemm(A, B)
    assert (d == expect).all()


def test_deepseek_fp32_scales_and_no_promotion():
    a, b = inputs()
    s = get_scheme("deepseek-v3-fp8")
    A, B = s.quantize(a, b)
    assert A.scale_kind == "fp32" and A.scales.dtype == np.uint32
    # FP32 scales: amax/448 rounded (RNE) - checked on one block
    amax = np.abs(a[0, :128]).max()
    assert A.scales[0, 0] == np.float32(np.float64(amax) / 448).view(np.uint32)
    n = get_scheme("deepseek-v3-fp8-no-promotion")
    A1, B1 = n.quantize(a, b)
    assert A1.block == (1, 288) and B1.block == (288, 128)
    # no promotion = the plain WGMMA chain over all K, then one FMA by the scale product
    cfg = get_preset("h100-fp8-wgmma").config
    part, _ = gemm_fast((A1.codes[:, :288], E4M3), (B1.codes[:288, :5], E4M3), None, cfg)
    sa, sb = A1.scale_values(), B1.scale_values()
    d, _ = n.gemm(A1, B1)
    for i in range(6):
        for j in range(5):
            sab = f32(rnd32(Fraction(sa[i, 0]) * Fraction(sb[0, 0])))
            assert d[i, j] == rnd32(Fraction(f32(int(part[i, j]))) * Fraction(sab))


@pytest.mark.parametrize("name", ["gpt-oss-mxfp4-mxfp8-blackwell", "mxfp8-b200", "mxfp4-b200"])
def test_mx_schemes_equal_the_reference_gemm(name):
    s = get_scheme(name)
    a, b = inputs(3, 64, 2, seed=1)
    A, B = s.quantize(a, b)
    d, fl = s.gemm(A, B)
    r, rfl = reference_gemm(A, B, None, get_preset("b200-mxf8f6f4").config)
    assert (d == r).all() and (fl == rfl).all()


def test_gpt_oss_bf16_equals_the_reference_gemm():
    s = get_scheme("gpt-oss-mxfp4-bf16-hopper")
    a, b = inputs(3, 64, 2, seed=2)
    A, B = s.quantize(a, b)
    assert B.elem.name == "e2m1" and B.block_size == 32
    a16 = BF16.encode(a.astype(np.float64)).codes
    b16 = BF16.encode(B.dequantize()).codes
    assert (BF16.decode(b16) == B.dequantize()).all()  # MXFP4 -> BF16 is exact
    d, _ = s.gemm(A, B)
    r, _ = reference_gemm((a16, BF16), (b16, BF16), None, get_preset("h100-bf16").config)
    assert (d == r).all()


def test_bad_shapes():
    with pytest.raises(ValueError, match="M x K"):
        get_scheme("mxfp8-b200").quantize(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32))
