"""The reference backend: the kernels of docs/BACKEND_CONTRACT.md in plain Python integers.

Deliberately simple and slow: one scalar routine per element or block, written from
docs/CODECS.md step by step. It is the executable specification that the C core is tested
against bit for bit; it never calls the native code.
"""
from __future__ import annotations

import math
import struct
from functools import lru_cache

import numpy as np

from .flags import Flag
from .formats import FORMATS, KINDS, SPECIALS, Format, UE4M3, E2M1
from .rounding import Overflow, Rounding, round_pack

# Enumerations of the backend contract.
NAN_BLOCK, NAN_SATURATE, NAN_ERROR = 0, 1, 2
SCALE_CLAMP, SCALE_ERROR = 0, 1
FLOOR, CEIL, EVEN, RCEIL = 0, 1, 2, 3
STATUS_OK, STATUS_NAN_FOUND, STATUS_INF_FOUND, STATUS_SCALE_RANGE = 0, 1, 2, 3
FLOOR_MIN_SUBNORMAL, FLOOR_ZERO = 0, 1
E8M0_NAN = 0xFF


@lru_cache(maxsize=None)
def _format(params: tuple) -> Format:
    """The Format a descriptor tuple describes (kernels receive tuples, as the C core does)."""
    for f in FORMATS.values():
        if f.params == params:
            return f
    kind, e, m, bias, signed, specials, subn = params
    return Format("custom", KINDS[kind], e, m, bias, bool(signed), SPECIALS[specials],
                  bool(subn))


# -- codec -------------------------------------------------------------------------------
def decode(params, codes):
    fmt = _format(tuple(params))
    return np.array([fmt.value_of(int(c)) for c in codes.tolist()], dtype=np.float64)


def unpack(params, codes):
    fmt = _format(tuple(params))
    parts = [fmt.unpack_code(int(c)) for c in codes.tolist()]
    cols = list(zip(*parts)) if parts else [(), (), (), ()]
    return tuple(np.array(c, dtype=np.int64) for c in cols)


def encode_value(fmt: Format, v: float, mode: Rounding, overflow: Overflow, rand: int = 0,
                 sr_bits: int = 32, int_min: bool = False):
    """Round one float64 value into `fmt`: (code, flags). docs/CODECS.md section 3."""
    # 1. Classify: NaN, Inf, zero, and signs the format cannot hold.
    if math.isnan(v):
        sign = int(math.copysign(1.0, v) < 0)
        return (fmt.nan_code(sign), 0) if fmt.has_nan else (0, int(Flag.INVALID))
    sign = int(math.copysign(1.0, v) < 0)
    if sign and not fmt.signed and v != 0:
        return (fmt.nan_code(0), int(Flag.INVALID)) if fmt.has_nan else (0, int(Flag.INVALID))
    if math.isinf(v):
        if overflow is Overflow.INF:
            return fmt.pack(sign, fmt.inf_magnitude), 0
        if overflow is Overflow.NAN:
            return fmt.nan_code(sign), int(Flag.INVALID)
        limit = fmt.max_code + (1 if fmt.kind == "int" and sign and int_min else 0)
        return fmt.pack(sign, limit), int(Flag.INVALID)
    if v == 0:
        if not fmt.has_zero:  # E8M0 has no zero
            return fmt.nan_code(0), int(Flag.INVALID)
        return fmt.pack(sign, 0), 0
    # 2. The exact value as an integer times a power of two (frexp is exact).
    frac, e = math.frexp(abs(v))
    n = int(frac * (1 << 53))
    return round_pack(fmt, sign, n, 1, e - 53, mode, overflow, rand, sr_bits, int_min)


def encode(params, values, rounding, overflow, rand_bits, sr_bits, int_min):
    fmt = _format(tuple(params))
    mode, ovf = Rounding(rounding), Overflow(overflow)
    rand = rand_bits.tolist() if rand_bits is not None else [0] * values.size
    out = [encode_value(fmt, v, mode, ovf, r, sr_bits, int_min)
           for v, r in zip(values.tolist(), rand)]
    codes = np.array([c for c, _ in out], dtype=fmt.code_dtype)
    flags = np.array([f for _, f in out], dtype=np.uint8)
    return codes, flags


# -- MX quantization ---------------------------------------------------------------------
def fp32_floor_log2(x: float) -> int:
    """floor(log2 x) of a positive finite FP32 value, read from its exponent bits."""
    bits = struct.unpack("<I", struct.pack("<f", x))[0]
    field, mant = bits >> 23 & 0xFF, bits & 0x7FFFFF
    if field == 0:  # subnormal: the leading mantissa bit gives the exponent
        return mant.bit_length() - 1 - 149
    return field - 127


def shared_exponent(amax: float, fmt: Format, scale_mode: int) -> int:
    """The unclamped shared exponent of a block with largest magnitude amax > 0."""
    f = fp32_floor_log2(amax)
    if scale_mode == FLOOR:
        return f - fmt.emax
    if scale_mode == CEIL:
        return f - fmt.emax + (0 if amax == math.ldexp(1.0, f) else 1)
    if scale_mode == EVEN:
        # amax rounded (RNE) to man_bits fraction bits carries into the next binade iff
        # its significand is at least 2 - 2^-(man_bits+1) (that tie goes up: 1.11..1 is odd).
        return f - fmt.emax + (1 if amax >= math.ldexp(2.0 - math.ldexp(1.0, -fmt.man_bits - 1),
                                                       f) else 0)
    # RCEIL: the smallest k with amax <= max_normal * 2^k; it is f-emax or one more.
    k = f - fmt.emax
    return k if amax <= math.ldexp(fmt.max_normal, k) else k + 1


def quantize_block(vals, fmt, scale_mode, mode, nan_policy, inf_policy, zero_block_scale,
                   scale_range, flush, int8_min, rands, sr_bits):
    """One block: (codes, scale code, flags, status). docs/CODECS.md section 4."""
    n = len(vals)
    # 1. Flush FP32 subnormal inputs if asked (keeping the sign).
    if flush:
        vals = [math.copysign(0.0, v) if abs(v) < 2.0 ** -126 else v for v in vals]
    has_nan = any(math.isnan(v) for v in vals)
    has_inf = any(math.isinf(v) for v in vals)
    # 2-3. NaN or Inf: a NaN block (scale 0xFF), an error, or Inf saturated.
    if has_nan and nan_policy == NAN_ERROR:
        return None, None, None, STATUS_NAN_FOUND
    if has_inf and not has_nan and inf_policy == NAN_ERROR:
        return None, None, None, STATUS_INF_FOUND
    if has_nan or (has_inf and inf_policy == NAN_BLOCK):
        flags = [int(Flag.INVALID) if math.isinf(v) else 0 for v in vals]
        return [0] * n, E8M0_NAN, flags, STATUS_OK
    # 4. amax over the finite values; an all-zero block keeps its signed zeros.
    amax = max((abs(v) for v in vals if not math.isinf(v)), default=0.0)
    block_flags = 0
    if amax == 0:
        k, scale = 0, zero_block_scale
    else:
        # 5-6. The shared exponent, clamped into E8M0's range.
        k = shared_exponent(amax, fmt, scale_mode)
        if not -127 <= k <= 127:
            if scale_range == SCALE_ERROR:
                return None, None, None, STATUS_SCALE_RANGE
            k = min(max(k, -127), 127)
            block_flags |= Flag.SCALE_CLAMPED
        scale = k + 127
    # 7. Elements: V / 2^k (exact) rounded into the element format, saturating.
    codes, flags = [], []
    for v, r in zip(vals, rands):
        c, fl = encode_value(fmt, math.ldexp(v, -k), mode, Overflow.SATURATE, r, sr_bits,
                             int8_min)
        if fl & (Flag.OVERFLOW | Flag.INVALID):
            fl |= Flag.SATURATED
        codes.append(c)
        flags.append(fl | block_flags)
    return codes, scale, flags, STATUS_OK


def quantize_mx(x, params, block_size, scale_mode, rounding, nan_policy, inf_policy,
                zero_block_scale, scale_range, flush_subnormals, int8_min, rand_bits, sr_bits):
    fmt = _format(tuple(params))
    rows, n = x.shape
    nb = n // block_size
    codes = np.zeros((rows, n), np.uint8)
    scales = np.zeros((rows, nb), np.uint8)
    flags = np.zeros((rows, n), np.uint8)
    xl = x.tolist()
    rl = rand_bits.tolist() if rand_bits is not None else None
    for i in range(rows):
        for b in range(nb):
            sl = slice(b * block_size, (b + 1) * block_size)
            rands = rl[i][sl] if rl is not None else [0] * block_size
            c, s, fl, status = quantize_block(
                xl[i][sl], fmt, scale_mode, Rounding(rounding), nan_policy, inf_policy,
                zero_block_scale, scale_range, flush_subnormals, int8_min, rands, sr_bits)
            if status != STATUS_OK:
                return codes, scales, flags, status
            codes[i, sl], scales[i, b], flags[i, sl] = c, s, fl
    return codes, scales, flags, STATUS_OK


# -- NVFP4 -------------------------------------------------------------------------------
def _int_exp(x: float):
    """A positive finite float as (integer significand, exponent), exactly."""
    frac, e = math.frexp(x)
    return int(frac * (1 << 53)), e - 53


def quantize_nvfp4(x, tensor_scale, block_size, scale_rounding, scale_floor, rounding):
    rows, n = x.shape
    nb = n // block_size
    codes = np.zeros((rows, n), np.uint8)
    scales = np.zeros((rows, nb), np.uint8)
    flags = np.zeros((rows, n), np.uint8)
    nt, et = _int_exp(tensor_scale)
    smode, emode = Rounding(scale_rounding), Rounding(rounding)
    xl = x.tolist()
    for i in range(rows):
        for b in range(nb):
            sl = slice(b * block_size, (b + 1) * block_size)
            c, s, fl = _nvfp4_block(xl[i][sl], nt, et, smode, scale_floor, emode)
            codes[i, sl], scales[i, b], flags[i, sl] = c, s, fl
    return codes, scales, flags


def _nvfp4_block(vals, nt, et, smode, scale_floor, emode):
    """One NVFP4 block: (codes, UE4M3 scale code, flags). docs/CODECS.md section 5."""
    n = len(vals)
    # A NaN or Inf makes the block NaN through its scale (UE4M3 NaN code 0x7F).
    if any(math.isnan(v) or math.isinf(v) for v in vals):
        return [0] * n, UE4M3.nan_code(0), [int(Flag.INVALID) if math.isinf(v) else 0
                                            for v in vals]
    amax = max(abs(v) for v in vals)
    # 2. S = amax / (6 T), rounded once into UE4M3 (saturating).
    if amax == 0:
        scode, sflags = 0, 0
    else:
        na, ea = _int_exp(amax)
        scode, sflags = round_pack(UE4M3, 0, na, 6 * nt, ea - et, smode, Overflow.SATURATE)
        if scode == 0 and scale_floor == FLOOR_MIN_SUBNORMAL:
            scode = 1
    # 3. Elements x / (S T), each quotient rounded once.
    _, es, ns, _ = UE4M3.unpack_code(scode)
    codes, flags = [], []
    for v in vals:
        sign = int(math.copysign(1.0, v) < 0)
        if v == 0:
            c, fl = E2M1.pack(sign, 0), 0
        elif ns == 0:  # a zero scale (scale_floor="zero"): the element is lost
            c, fl = E2M1.pack(sign, 0), int(Flag.UNDERFLOW | Flag.INEXACT)
        else:
            nv, ev = _int_exp(abs(v))
            c, fl = round_pack(E2M1, sign, nv, ns * nt, ev - (es - UE4M3.man_bits) - et, emode,
                               Overflow.SATURATE)
            if fl & Flag.OVERFLOW:
                fl |= Flag.SATURATED
        codes.append(c)
        flags.append(fl)
    return codes, scode, flags
