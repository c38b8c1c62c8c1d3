"""Two-level accumulation: a tensor unit accumulates an interval of K, then the partial result
is *promoted* into an FP32 accumulator on general-purpose FP32 units (DeepSeek-V3 section
3.3.2; DeepGEMM). docs/SCHEMES.md section 2 is the specification.

    from emulator.numerics.twolevel import twolevel_gemm
    d, flags = twolevel_gemm(A, B, get_preset("h100-fp8-wgmma").config, interval=128)

For each interval [k0, k0 + interval) of K, in order (the last one may be shorter):
  1. partial = the tensor unit's result over the interval, instructions chained along the
     interval from C = +0 (a fresh accumulator each interval), exactly as
     `emulator.numerics.gemm` with `config` computes it (`gemm_native` on the native backend
     where the C kernel models the config, else the numpy path `gemm_fast`).
     scales='promotion': on the unscaled element codes; scales='inside': on the block-scaled
     operands (power-of-two scales applied as exponent adds inside the unit, as MX does).
  2. s_ab = RN(s_a * s_b), rounded once into `outer_format` (scales='promotion'; s_a is the
     scale of A's block holding row i and the interval, s_b that of B's block holding column
     j); s_ab = 1 with scales='inside'.
  3. acc = RN(partial * s_ab + acc): one fused multiply-add, rounded once into
     `outer_format` with `rounding` (IEEE 754 fusedMultiplyAdd). acc starts at C (+0).
The result is acc's bit pattern; flags are the OR of every inner and outer flag.

The FMA is exact: partial * s_ab (at most 24 x 24 significand bits) is exact in float64, the
sum with acc is formed by TwoSum (an exact float64 sum plus its exact error) and rounded to
odd at 53 bits, and that odd value rounds into a format of at most 24 significand bits exactly
as the exact sum would, in every mode (round-to-odd at >= p + 2 bits; Boldo & Melquiond).
That one rounding is `Format.encode`, i.e. `round_pack`. tests/test_twolevel.py checks it
against round_pack on the exact rational sum. On the native backend the FMA is the C kernel
mxemu_fma_round (native/src/promote.c: integer arithmetic, exact for any float64 inputs),
pinned to this numpy specification by tests/test_blockscale_native.py.
"""
from __future__ import annotations

import numpy as np

from .. import _backend
from ..flags import Flag
from ..formats import FP32, Format, get_format
from ..mxtensor import MXTensor
from ..rounding import Rounding, parse_rounding
from .config import AccumConfig
from .fast import gemm_fast
from .native import gemm_native, native_supported

SCALE_PLACES = ("promotion", "inside")
OUTER_NANS = ("all_ones", "canonical")
_INVALID = int(Flag.INVALID)
_NATIVE_NAN = {"canonical": 0, "all_ones": 1}  # MXEMU_ACC_NAN_* of mxemu_fma_round

__all__ = ["twolevel_gemm", "fma_round", "SCALE_PLACES"]


def _nan_code(fmt: Format, nan: str) -> int:
    if nan == "all_ones":
        return (1 << (fmt.bits - 1)) - 1
    return fmt.nan_code(0)


def fma_round(p, s, c, fmt=FP32, rounding="rne", nan: str = "all_ones"):
    """RN(p * s + c) with one rounding into `fmt`: (codes, flags) arrays.

    p, s, c: float64 arrays (broadcast) of exact values with at most 24 significand bits each
    (values of formats up to FP32 width; the native kernel mxemu_fma_round is exact for any
    float64 inputs). NaN results take the `nan` pattern; a NaN made here (Inf * 0, Inf - Inf)
    raises Flag.INVALID. A zero sum has the IEEE sign (+0 unless both addends are -0, or the
    mode is RDN). Runs in C on the native backend, else in numpy (`_fma_round_reference`)."""
    fmt = get_format(fmt)
    mode = parse_rounding(rounding)
    if mode is Rounding.SR:
        raise ValueError("rounding='sr' is not supported at promotion; allowed: rne, rna, rtz, "
                         "rup, rdn, rto")
    if nan not in OUTER_NANS:
        raise ValueError(f"nan={nan!r}; allowed: {', '.join(map(repr, OUTER_NANS))}")
    if fmt.kind != "float" or fmt.bits > 32:
        raise ValueError(f"fmt={fmt.name}: allowed a float format of at most 32 bits")
    p, s, c = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (p, s, c)))
    if _backend.current() == "native":
        flat = [np.ascontiguousarray(v).reshape(-1) for v in (p, s, c)]
        codes, flags = _backend.get().fma_round(fmt.params, *flat, int(mode),
                                                 _NATIVE_NAN[nan])
        return (codes.astype(fmt.code_dtype).reshape(p.shape),
                flags.astype(np.uint8).reshape(p.shape))
    return _fma_round_reference(p, s, c, fmt, mode, nan)


def _fma_round_reference(p, s, c, fmt: Format, mode: Rounding, nan: str):
    """The executable specification of fma_round in numpy (float64 TwoSum, round to odd)."""
    with np.errstate(invalid="ignore", over="ignore"):
        prod = p * s  # exact: <= 48 significand bits, exponents far inside float64's range
        t = prod + c
        bb = t - prod
        err = (prod - (t - bb)) + (c - bb)  # TwoSum: prod + c == t + err exactly
    fin = np.isfinite(t)
    err = np.where(fin, err, 0.0)
    # Round to odd at 53 bits: keep t when exact or its last bit is 1, else step toward err.
    even = (t.view(np.uint64) & np.uint64(1)) == 0
    step = fin & (err != 0) & even
    t = np.where(step, np.nextafter(t, np.where(err > 0, np.inf, -np.inf)), t)
    if mode is Rounding.RDN:  # IEEE: an exact zero sum is -0 under RDN unless both are +0
        zero = fin & (t == 0)
        both_pos = (prod == 0) & (c == 0) & ~np.signbit(prod) & ~np.signbit(c)
        t = np.where(zero & ~both_pos, -0.0, t)
    enc = fmt.encode(np.where(np.isnan(t), 0.0, t), mode)
    codes = enc.codes.astype(fmt.code_dtype)
    flags = enc.flags.astype(np.uint8)
    isnan = np.isnan(t)
    made = isnan & ~np.isnan(p) & ~np.isnan(s) & ~np.isnan(c)
    codes = np.where(isnan, fmt.code_dtype.type(_nan_code(fmt, nan)), codes).astype(
        fmt.code_dtype)
    flags = np.where(isnan, np.where(made, np.uint8(_INVALID), np.uint8(0)), flags)
    return codes, flags.astype(np.uint8)


def _k_blocks(T, k_axis: int):
    """(block length along K, block extent along the other axis) of a BlockTensor or
    MXTensor used as a GEMM operand."""
    if isinstance(T, MXTensor):
        return T.block_size, 1
    return T.block[k_axis], T.block[1 - k_axis]


def _mx_slice(T, k0: int, k1: int, k_axis: int) -> MXTensor:
    """The MXTensor of K columns [k0, k1) of a 1-D-blocked operand (k0 on a block edge)."""
    mx = T if isinstance(T, MXTensor) else T.to_mxtensor()
    blk = mx.block_size
    nb = -(-(k1 - k0) // blk)
    sl = slice(k0, k0 + nb * blk)
    ss = slice(k0 // blk, k0 // blk + nb)
    codes = mx.codes[:, sl] if k_axis == 1 else mx.codes[sl, :]
    scales = mx.scales[:, ss] if k_axis == 1 else mx.scales[ss, :]
    other = mx.shape[1 - k_axis]
    shape = (other, k1 - k0) if k_axis == 1 else (k1 - k0, other)
    return MXTensor(codes=np.ascontiguousarray(codes), scales=np.ascontiguousarray(scales),
                    elem=mx.elem, scale_fmt=mx.scale_fmt, block_size=blk, axis=k_axis,
                    shape=shape, pad=nb * blk - (k1 - k0))


def twolevel_gemm(A, B, config: AccumConfig, *, interval: int | None = 128,
                  scales: str = "promotion", outer_format=FP32, rounding="rne", C=None,
                  nan: str = "all_ones"):
    """D = A @ B with two-level accumulation (module docstring); returns (D bits, flags).

    A: M x K, B: K x N, each a `BlockTensor` (emulator.blockscale, A with axis=1, B with
    axis=0) or, with scales='inside', an MXTensor. interval: the promotion interval in K
    (None: the whole K on the tensor unit, one promotion). scales: 'promotion' (any scale
    kind but 'ue4m3'; every interval must lie inside one K-block of A and of B) or 'inside'
    (E8M0/UE8M0 1-D blocks along K, the unit applies them; intervals start on block edges).
    outer_format, rounding: the accumulator on the FP32 units (RNE FP32 by default; also
    the rounding of s_a * s_b). C: initial accumulator bits (outer_format) or None (+0).
    nan: the NaN pattern of the outer units ('all_ones' 0x7FFFFFFF as NVIDIA's FP32 units).
    """
    from ..blockscale import BlockTensor
    if scales not in SCALE_PLACES:
        raise ValueError(f"scales={scales!r}; allowed: {', '.join(map(repr, SCALE_PLACES))}")
    ofmt = get_format(outer_format)
    if ofmt.kind != "float" or ofmt.bits > 32 or ofmt.man_bits > 23:
        raise ValueError(f"outer_format={ofmt.name}: allowed a float format up to FP32")
    for name, T, kax in (("A", A, 1), ("B", B, 0)):
        if not isinstance(T, (BlockTensor, MXTensor)):
            raise TypeError(f"{name} must be a BlockTensor (or an MXTensor with "
                            "scales='inside')")
        if len(T.shape) != 2 or T.axis != kax:
            raise ValueError(f"{name}: a 2-D operand blocked along K (axis {kax}) is needed")
        if isinstance(T, MXTensor) and scales == "promotion":
            raise ValueError(f"{name}: an MXTensor goes with scales='inside'")
        if scales == "promotion" and T.scale_kind == "ue4m3":
            raise ValueError(f"{name}: 'ue4m3' scales (with a tensor scale) are not supported "
                             "at promotion; use scales='inside' or another kind")
        if scales == "inside":
            kind = getattr(T, "scale_kind", "e8m0")
            if kind not in ("e8m0", "ue8m0") or _k_blocks(T, kax)[1] != 1:
                raise ValueError(f"{name}: scales='inside' needs E8M0/UE8M0 1-D blocks along "
                                 "K (the unit applies power-of-two scales as exponent adds)")
    m, k = A.shape
    kb_, n = B.shape
    if k != kb_:
        raise ValueError(f"A has K={k} but B has K={kb_}; they must match")
    if interval is not None and (not isinstance(interval, (int, np.integer)) or interval < 1):
        raise ValueError(f"interval={interval!r}; allowed a positive int or None (all of K)")
    step = k if interval is None else int(interval)
    ka, ra = _k_blocks(A, 1)
    kbb, nbb = _k_blocks(B, 0)
    if scales == "inside" and step % ka or scales == "inside" and step % kbb:
        if interval is not None:
            raise ValueError(f"interval={interval} must be a multiple of the K-blocks "
                             f"({ka}, {kbb}) with scales='inside'")
    acc = (np.zeros((m, n), ofmt.code_dtype) if C is None
           else np.asarray(C).astype(ofmt.code_dtype))
    if acc.shape != (m, n):
        raise ValueError(f"C has shape {acc.shape}; allowed: None or ({m}, {n})")
    flags = np.zeros((m, n), np.uint8)
    reg = config.register
    # The tensor unit: the C kernel on the native backend where it models the config, else
    # the numpy path; both are bit for bit emulator.numerics.gemm.
    inner = (gemm_native if _backend.current() == "native" and native_supported(config)
             else gemm_fast)
    if scales == "promotion":
        sa_all, sb_all = A.scale_values(), B.scale_values()
        rows, cols = np.arange(m) // ra, np.arange(n) // nbb
    for k0 in range(0, k, step):
        k1 = min(k0 + step, k)
        if scales == "promotion":
            if k0 // ka != (k1 - 1) // ka or k0 // kbb != (k1 - 1) // kbb:
                raise ValueError(f"interval [{k0}, {k1}) spans two K-blocks of A ({ka}) or B "
                                 f"({kbb}); with scales='promotion' each interval must lie in "
                                 "one block (choose interval dividing the block lengths)")
            pa = (np.ascontiguousarray(A.codes[:m, k0:k1]), A.elem)
            pb = (np.ascontiguousarray(B.codes[k0:k1, :n]), B.elem)
            sa = sa_all[rows, k0 // ka][:, None]
            sb = sb_all[k0 // kbb, cols][None, :]
            with np.errstate(invalid="ignore", over="ignore"):
                prod = sa * sb  # exact in float64 (24 x 24 bits); rounded once below
            sab_codes, sab_flags = fma_round(prod, 1.0, 0.0, ofmt, rounding, nan)
            sab = ofmt.decode(sab_codes)
            flags |= sab_flags
        else:
            pa, pb = _mx_slice(A, k0, k1, 1), _mx_slice(B, k0, k1, 0)
            sab = 1.0
        part, pfl = inner(pa, pb, None, config)
        flags |= pfl
        pv = reg.decode(part)
        codes, ofl = fma_round(pv, sab, ofmt.decode(acc), ofmt, rounding, nan)
        acc = codes
        flags |= ofl
    return acc, flags
