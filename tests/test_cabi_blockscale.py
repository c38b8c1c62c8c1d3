"""mxemu_quantize_blocks and mxemu_fma_round through libmxemu's C ABI (cffi, ABI mode), as a
C/C++ or DPI-C testbench calls them: hand-derived values, the Python reference bit for bit,
argument errors as status codes with nothing written, and a fuzz that never crashes.

MXEMU_LIBRARY=/path/to/libmxemu.so (emulator.native_library_path) runs these tests against
another build of the library, e.g. the sanitizer build CI makes (.ci/run; then LD_PRELOAD the
sanitizer runtime; docs/SCHEMES.md section 4 has the commands).
"""
import struct

import numpy as np
import pytest

import emulator
from emulator import _backend
from emulator.blockscale import SCALE_KINDS, quantize_blocks
from emulator.formats import BF16, E2M1, E4M3, E5M2, FP16, FP32, INT8

import capi

OK, NAN_FOUND, INF_FOUND = 0, 1, 2
ERR_NULL, ERR_FORMAT, ERR_ARG, ERR_LENGTH = -1, -2, -3, -5
E8M0_K, UE8M0_K, FP32_K, UE4M3_K = 0, 1, 2, 3
NAN_CANONICAL, NAN_ALL_ONES = 0, 1
INVALID, INEXACT = 0x08, 0x01


@pytest.fixture(scope="module")
def lib():
    return capi.load()


def _ptr(ffi, ctype, arr):
    return ffi.cast(ctype, arr.ctypes.data) if arr is not None else ffi.NULL


def qblocks(lib, x, block, elem=E4M3, kind=FP32_K, rounding=0, srounding=0, nan_policy=0,
            zero=-1, t=1.0, fill=0xAB):
    """Call mxemu_quantize_blocks with outputs pre-filled with `fill`: (status, codes,
    scales, flags), outputs shaped padded / grid."""
    ffi, c = lib
    x = np.ascontiguousarray(x, np.float32)
    shape = np.array(x.shape, np.int64)
    blk = np.array(block, np.int64)
    grid = tuple(-(-int(n) // int(b)) for n, b in zip(x.shape, block))
    padded = tuple(g * int(b) for g, b in zip(grid, block))
    codes = np.full(padded, fill, np.uint8)
    flags = np.full(padded, fill, np.uint8)
    scales = np.full(grid, fill, np.uint32)
    st = c.mxemu_quantize_blocks(_ptr(ffi, "float *", x), x.ndim, _ptr(ffi, "int64_t *", shape),
                                 _ptr(ffi, "int64_t *", blk),
                                 ffi.new("mxemu_format *", list(elem.params)), kind, rounding,
                                 srounding, nan_policy, zero, t, _ptr(ffi, "uint8_t *", codes),
                                 _ptr(ffi, "uint32_t *", scales), _ptr(ffi, "uint8_t *", flags))
    return st, codes, scales, flags


def fma(lib, p, s, c_, fmt=FP32, rounding=0, nan=NAN_ALL_ONES):
    ffi, c = lib
    p, s, c_ = (np.ascontiguousarray(v, np.float64) for v in (p, s, c_))
    codes = np.empty(p.size, np.uint32)
    flags = np.empty(p.size, np.uint8)
    st = c.mxemu_fma_round(ffi.new("mxemu_format *", list(fmt.params)), p.size,
                           _ptr(ffi, "double *", p), _ptr(ffi, "double *", s),
                           _ptr(ffi, "double *", c_), rounding, nan,
                           _ptr(ffi, "uint32_t *", codes), _ptr(ffi, "uint8_t *", flags))
    return st, codes, flags


def f32_bits(v: float) -> int:
    return struct.unpack("<I", struct.pack("<f", v))[0]


# -- hand-derived values ------------------------------------------------------------------------
def test_hand_values_of_each_scale_kind(lib):
    # One block [1, 0.5] of E4M3 (max 448 = 1.75 * 2^8, emax 8):
    #   e8m0:  2^(floor(log2 1) - 8) = 2^-8 -> code 119; 1 / 2^-8 = 256 = E4M3 0x78
    #   ue8m0: least 2^k with 1 <= 448 * 2^k: k = -8 (448/256 = 1.75 >= 1) -> code 119
    #   fp32:  1/448 = 2^-9 * 8/7; RNE(8/7) in FP32 = 0x3F924925 -> 0x3B124925
    #   ue4m3 (T = 1): RNE(1/448) in UE4M3: 1/448 = 2^-9 * 1.142..: subnormal 2^-9 * 1 (0x01)
    x = np.array([[1.0, 0.5]], np.float32)
    st, codes, scales, _ = qblocks(lib, x, (1, 2), kind=E8M0_K)
    assert st == OK and scales.tolist() == [[119]] and codes.tolist() == [[0x78, 0x70]]
    st, _, scales, _ = qblocks(lib, x, (1, 2), kind=UE8M0_K)
    assert st == OK and scales.tolist() == [[119]]
    st, codes, scales, flags = qblocks(lib, x, (1, 2), kind=FP32_K)
    assert st == OK and scales.tolist() == [[0x3B124925]]
    # 1 / s = 448 * (7/8) / (RNE(8/7) * 7/8) rounds to 448 (0x7E); 0.5 / s to 224 (0x76)
    assert codes.tolist() == [[0x7E, 0x76]]
    st, _, scales, _ = qblocks(lib, x, (1, 2), kind=UE4M3_K, t=1.0)
    assert st == OK and scales.tolist() == [[0x01]]
    # amax one FP32 ulp above 448 (448 + 2^-15): ue8m0 goes up to 2^1 (code 128); e8m0 stays
    # at 2^0, and 448 + 2^-15 rounds (inexact) to 448. At 470 (above E4M3's overflow bound
    # 464) e8m0's element saturates to 448.
    y = np.array([[np.nextafter(np.float32(448), np.float32(1e9)), 1.0]], np.float32)
    assert qblocks(lib, y, (1, 2), kind=UE8M0_K)[2].tolist() == [[128]]
    st, codes, scales, flags = qblocks(lib, y, (1, 2), kind=E8M0_K)
    assert scales.tolist() == [[127]] and codes[0, 0] == 0x7E and flags[0, 0] == INEXACT
    st, codes, scales, flags = qblocks(lib, np.array([[470.0, 1.0]]), (1, 2), kind=E8M0_K)
    assert scales.tolist() == [[127]] and codes[0, 0] == 0x7E
    assert flags[0, 0] == 0x20 | 0x04 | INEXACT  # SATURATED | OVERFLOW | INEXACT


def test_nan_blocks_padding_and_zero_blocks(lib):
    x = np.array([[np.inf, 1.0, 0.0], [np.nan, 2.0, -0.0]], np.float32)
    st, codes, scales, flags = qblocks(lib, x, (1, 2), kind=FP32_K)
    assert st == OK
    assert scales.tolist() == [[0x7FC00000, 0x3F800000], [0x7FC00000, 0x3F800000]]
    assert codes.tolist() == [[0, 0, 0, 0], [0, 0, 0x80, 0]]  # -0 kept, padding +0
    assert flags[0].tolist() == [INVALID, 0, 0, 0] and flags[1].tolist() == [0, 0, 0, 0]
    # (2, 1) tiles, UE4M3 scales with T = 2: column 0 holds Inf and NaN (NaN scale 0x7F);
    # column 1: 2 / (448 * 2) = 2^-9 * 8/7 rounds to the least subnormal 2^-9 (0x01);
    # column 2 is all zero (default 0)
    assert qblocks(lib, x, (2, 1), kind=UE4M3_K, t=2.0)[2][0].tolist() == [0x7F, 0x01, 0]
    assert qblocks(lib, x, (1, 2), kind=E8M0_K, zero=100)[2][:, 1].tolist() == [100, 100]


def test_fma_hand_values(lib):
    # fused: (1 + 2^-12)^2 - 1 = 2^-11 + 2^-24 exactly (FP32-representable)
    st, codes, flags = fma(lib, [1 + 2.0 ** -12], [1 + 2.0 ** -12], [-1.0])
    assert st == OK and codes[0] == f32_bits(2.0 ** -11 + 2.0 ** -24) and flags[0] == 0
    # one rounding: 1 + (2^-24 + 2^-47) is above the tie -> 1 + 2^-23 under RNE
    st, codes, flags = fma(lib, [1 + 2.0 ** -23], [2.0 ** -24], [1.0])
    assert codes[0] == 0x3F800001 and flags[0] == INEXACT
    # specials: Inf * 0 and Inf - Inf are invalid; a NaN input is not; the NaN pattern
    st, codes, flags = fma(lib, [np.inf, np.inf, np.nan, 2.0 ** 127],
                           [0.0, 1.0, 1.0, 4.0], [1.0, -np.inf, 1.0, 0.0])
    assert codes.tolist() == [0x7FFFFFFF, 0x7FFFFFFF, 0x7FFFFFFF, 0x7F800000]
    assert flags.tolist() == [INVALID, INVALID, 0, 0x05]  # OVERFLOW | INEXACT
    assert fma(lib, [np.nan], [1.0], [0.0], nan=NAN_CANONICAL)[1].tolist() == [0x7FC00000]
    assert fma(lib, [np.nan], [1.0], [0.0], fmt=BF16, nan=NAN_CANONICAL)[1].tolist() == [0x7FC0]
    # zero signs: x - x is +0, -0 under RDN (4); -0 + -0 is -0
    assert fma(lib, [3.0, 3.0, -0.0], [1.0, 1.0, 1.0], [-3.0, -3.0, -0.0],
               rounding=0)[1].tolist() == [0, 0, 0x80000000]
    assert fma(lib, [3.0], [1.0], [-3.0], rounding=4)[1].tolist() == [0x80000000]


# -- against the Python reference ----------------------------------------------------------------
@pytest.mark.parametrize("kind", range(4), ids=SCALE_KINDS)
@pytest.mark.parametrize("shape,block", [((5, 70), (1, 32)), ((70, 5), (32, 1)),
                                         ((130, 40), (128, 16)), ((3, 4, 10), (2, 1, 4)),
                                         ((50,), (7,)), ((4, 64), (1, 32))])
def test_quantize_blocks_matches_the_reference(lib, kind, shape, block):
    rng = np.random.default_rng(8)
    x = (rng.standard_normal(shape) * np.exp2(rng.integers(-30, 30, shape))).astype(np.float32)
    x.reshape(-1)[::17] = 0.0
    x.reshape(-1)[3] = np.nan
    with _backend.using("reference"):
        q = quantize_blocks(x, E4M3, block, SCALE_KINDS[kind], tensor_scale=0.5, rounding="rna")
    st, codes, scales, flags = qblocks(lib, x, block, E4M3, kind, rounding=1, t=0.5)
    assert st == OK
    assert np.array_equal(codes, q.codes) and np.array_equal(flags, q.flags)
    assert np.array_equal(scales, q.scales.astype(np.uint32))


@pytest.mark.parametrize("mode", range(6))
def test_fma_matches_the_reference(lib, mode):
    rng = np.random.default_rng(mode)
    p, s, c = (rng.standard_normal(500) * np.exp2(rng.integers(-30, 30, 500))).astype(
        np.float32).astype(np.float64).reshape(1, -1).repeat(3, 0)
    s, c = rng.permutation(s), rng.permutation(c)
    c[:100] = -(p[:100] * s[:100]).astype(np.float32)
    for fmt in (FP32, BF16, FP16, E5M2):
        with _backend.using("reference"):
            want_c, want_f = emulator.numerics.fma_round(p, s, c, fmt, mode)
        st, codes, flags = fma(lib, p, s, c, fmt, mode)
        assert st == OK
        assert np.array_equal(codes, want_c.astype(np.uint32)) and np.array_equal(flags, want_f)


# -- argument errors: status codes, nothing written ------------------------------------------------
def test_quantize_blocks_argument_errors(lib):
    ffi, c = lib
    x = np.ones((4, 8), np.float32)

    def status(**kw):
        st, codes, scales, flags = qblocks(lib, x, kw.pop("block", (1, 4)), **kw)
        if st != OK:  # nothing written
            assert (codes == 0xAB).all() and (scales == 0xAB).all() and (flags == 0xAB).all()
        return st

    assert status() == OK
    assert status(kind=4) == ERR_ARG and status(kind=-1) == ERR_ARG
    assert status(rounding=6) == ERR_ARG  # SR: no random words here
    assert status(srounding=9) == ERR_ARG
    assert status(nan_policy=1) == ERR_ARG
    assert status(elem=FP16) == ERR_FORMAT
    assert status(kind=E8M0_K, zero=255) == ERR_ARG  # the E8M0 NaN
    assert status(kind=FP32_K, zero=0) == ERR_ARG  # FP32 zero is not a positive scale
    assert status(kind=FP32_K, zero=0x80000001) == ERR_ARG
    assert status(kind=FP32_K, zero=0x7F800000) == ERR_ARG  # Inf
    assert status(kind=UE4M3_K, zero=0x7F) == ERR_ARG  # the UE4M3 NaN
    assert status(kind=UE4M3_K, t=0.0) == ERR_ARG and status(kind=UE4M3_K, t=-1.0) == ERR_ARG
    assert status(kind=UE4M3_K, t=float("inf")) == ERR_ARG
    assert status(kind=FP32_K, t=-1.0) == OK  # T is ignored by the other kinds
    bad = np.array([[1.0, np.nan, np.inf, 0.0]] * 4, np.float32)
    st, codes, _, _ = qblocks(lib, bad, (1, 4), nan_policy=2)
    assert st == NAN_FOUND and (codes == 0xAB).all()
    st, codes, _, _ = qblocks(lib, bad[:, 2:], (1, 2), nan_policy=2)
    assert st == INF_FOUND and (codes == 0xAB).all()
    fmt = ffi.new("mxemu_format *", list(E4M3.params))
    shp, blk = np.array([4, 8], np.int64), np.array([1, 4], np.int64)
    out8, out32 = np.empty(32, np.uint8), np.empty(8, np.uint32)
    P8, P32 = _ptr(ffi, "uint8_t *", out8), _ptr(ffi, "uint32_t *", out32)
    X, S, B = (_ptr(ffi, "float *", x), _ptr(ffi, "int64_t *", shp), _ptr(ffi, "int64_t *", blk))
    call = c.mxemu_quantize_blocks
    assert call(ffi.NULL, 2, S, B, fmt, 2, 0, 0, 0, -1, 1.0, P8, P32, P8) == ERR_NULL
    assert call(X, 2, ffi.NULL, B, fmt, 2, 0, 0, 0, -1, 1.0, P8, P32, P8) == ERR_NULL
    assert call(X, 2, S, B, ffi.NULL, 2, 0, 0, 0, -1, 1.0, P8, P32, P8) == ERR_NULL
    assert call(X, 2, S, B, fmt, 2, 0, 0, 0, -1, 1.0, P8, ffi.NULL, P8) == ERR_NULL
    assert call(X, 0, S, B, fmt, 2, 0, 0, 0, -1, 1.0, P8, P32, P8) == ERR_ARG
    assert call(X, 9, S, B, fmt, 2, 0, 0, 0, -1, 1.0, P8, P32, P8) == ERR_ARG
    neg, zero_blk = np.array([-1, 8], np.int64), np.array([1, 0], np.int64)
    assert call(X, 2, _ptr(ffi, "int64_t *", neg), B, fmt, 2, 0, 0, 0, -1, 1.0, P8, P32,
                P8) == ERR_LENGTH
    assert call(X, 2, S, _ptr(ffi, "int64_t *", zero_blk), fmt, 2, 0, 0, 0, -1, 1.0, P8, P32,
                P8) == ERR_LENGTH
    huge = np.array([1 << 40, 1 << 40], np.int64)  # 2^80 elements do not fit int64
    assert call(X, 2, _ptr(ffi, "int64_t *", huge), B, fmt, 2, 0, 0, 0, -1, 1.0, P8, P32,
                P8) == ERR_LENGTH
    empty = np.array([0, 8], np.int64)  # no elements: NULL buffers are fine
    assert call(ffi.NULL, 2, _ptr(ffi, "int64_t *", empty), B, fmt, 2, 0, 0, 0, -1, 1.0,
                ffi.NULL, ffi.NULL, ffi.NULL) == OK
    badfmt = ffi.new("mxemu_format *", [0, 9, 3, 7, 1, 1, 1])
    assert call(X, 2, S, B, badfmt, 2, 0, 0, 0, -1, 1.0, P8, P32, P8) == ERR_FORMAT


def test_fma_argument_errors(lib):
    ffi, c = lib
    v = np.ones(2)
    V = _ptr(ffi, "double *", v)
    codes, flags = np.full(2, 7, np.uint32), np.full(2, 7, np.uint8)
    C, F = _ptr(ffi, "uint32_t *", codes), _ptr(ffi, "uint8_t *", flags)
    fmt = ffi.new("mxemu_format *", list(FP32.params))
    call = c.mxemu_fma_round
    assert call(ffi.NULL, 2, V, V, V, 0, 1, C, F) == ERR_NULL
    assert call(ffi.new("mxemu_format *", list(INT8.params)), 2, V, V, V, 0, 1, C,
                F) == ERR_FORMAT
    assert call(fmt, 2, V, V, V, 6, 1, C, F) == ERR_ARG  # SR
    assert call(fmt, 2, V, V, V, 0, 2, C, F) == ERR_ARG  # nan pattern
    assert call(fmt, -1, V, V, V, 0, 1, C, F) == ERR_LENGTH
    assert call(fmt, 2, V, ffi.NULL, V, 0, 1, C, F) == ERR_NULL
    assert call(fmt, 2, V, V, V, 0, 1, C, ffi.NULL) == ERR_NULL
    assert (codes == 7).all() and (flags == 7).all()
    assert call(fmt, 0, ffi.NULL, ffi.NULL, ffi.NULL, 0, 1, ffi.NULL, ffi.NULL) == OK


def test_fuzz_shapes_blocks_and_enums_never_crash(lib):
    # Random shapes, blocks (often larger than the extent), formats and enums, with values
    # holding specials; every call returns a status, and a valid one matches the geometry.
    rng = np.random.default_rng(12)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, 3e38], np.float32)
    seen = set()
    for _ in range(400):
        nd = int(rng.integers(1, 4))
        shape = tuple(int(v) for v in rng.integers(0, 7, nd))
        block = tuple(int(v) for v in rng.integers(1, 9, nd))
        x = rng.standard_normal(shape).astype(np.float32) * np.float32(2.0 ** rng.integers(-60,
                                                                                          60))
        flat = x.reshape(-1)
        if flat.size:
            flat[rng.integers(0, flat.size, 2)] = rng.choice(specials, 2)
        elem = [E4M3, E5M2, E2M1, INT8][int(rng.integers(0, 4))]
        st, codes, scales, flags = qblocks(
            lib, x, block, elem, int(rng.integers(-1, 5)), int(rng.integers(-1, 7)),
            int(rng.integers(0, 7)), int(rng.choice([0, 1, 2])), int(rng.integers(-2, 300)),
            float(rng.choice([1.0, 0.0, 2.0 ** -130])))
        seen.add(st)
        assert st in (OK, NAN_FOUND, INF_FOUND, ERR_ARG)
    assert OK in seen and ERR_ARG in seen


# -- two-level accumulation from the C ABI alone -----------------------------------------------


def test_two_level_gemm_composed_from_the_c_abi():
    # What a C or DPI-C testbench does for DeepSeek-V3-style FP8 GEMM: quantize with
    # mxemu_quantize_blocks (A 1 x 128 groups; B^T, N x K, in 128 x 128 tiles; FP32 scales),
    # then per interval of 128: the unit's partial with mxemu_gemm, s_ab = RN(s_a * s_b) and
    # acc = RN(partial * s_ab + acc) with mxemu_fma_round. It must equal twolevel_gemm of
    # the Python reference backend (gemm_fast and the numpy FMA), bit for bit.
    from emulator.numerics import get_preset, twolevel_gemm
    gffi, g = capi.load()
    cfg = get_preset("h100-fp8-wgmma").config
    c = capi.c_config(gffi, cfg)
    rng = np.random.default_rng(30)
    m, k, n, iv = 5, 384, 6, 128
    a = (rng.standard_normal((m, k)) * np.exp2(rng.integers(-6, 6, (m, 1)))).astype(np.float32)
    b = rng.standard_normal((k, n)).astype(np.float32)
    st, a_codes, a_sc, _ = qblocks((gffi, g), a, (1, 128), E4M3, FP32_K)
    assert st == OK
    st, bt_codes, bt_sc, _ = qblocks((gffi, g), np.ascontiguousarray(b.T), (128, 128), E4M3,
                                     FP32_K)
    assert st == OK
    sa = a_sc.view(np.float32).astype(np.float64)  # m x (k / 128)
    sb = bt_sc.view(np.float32).astype(np.float64)  # 1 x (k / 128): one tile row covers N
    e4, fp32 = (gffi.new("mxemu_format *", list(f.params)) for f in (E4M3, FP32))
    acc = np.zeros(m * n, np.float64)
    for j, k0 in enumerate(range(0, k, iv)):
        ap = np.ascontiguousarray(a_codes[:, k0:k0 + iv], np.uint32)
        bp = np.ascontiguousarray(bt_codes[:n, k0:k0 + iv], np.uint32)
        part, pfl = np.empty(m * n, np.uint32), np.empty(m * n, np.uint8)
        assert g.mxemu_gemm(c, m, n, iv, e4, gffi.cast("uint32_t *", ap.ctypes.data), e4,
                            gffi.cast("uint32_t *", bp.ctypes.data), gffi.NULL, gffi.NULL, 0,
                            gffi.NULL, 0, fp32, gffi.NULL, 1,
                            gffi.cast("uint32_t *", part.ctypes.data),
                            gffi.cast("uint8_t *", pfl.ctypes.data)) == OK
        prod = np.repeat(sa[:, j], n) * sb[0, j]  # exact in float64 (24 x 24 bits)
        st, sab, _ = fma((gffi, g), prod, np.ones(m * n), np.zeros(m * n))
        st, acc_bits, _ = fma((gffi, g), part.view(np.float32).astype(np.float64),
                              sab.view(np.float32).astype(np.float64), acc)
        assert st == OK
        acc = acc_bits.view(np.float32).astype(np.float64)
    with _backend.using("reference"):
        A = quantize_blocks(a, E4M3, (1, 128), "fp32", axis=1)
        B = quantize_blocks(b, E4M3, (128, 128), "fp32", axis=0)
        want, _ = twolevel_gemm(A, B, cfg, interval=iv)
    assert np.array_equal(acc_bits.reshape(m, n), want)
