"""FP32 -> MX block quantization (OCP MX v1.0 section 6.3) and NVFP4, with every open policy
explicit. docs/CODECS.md sections 4 and 5 are the specification; the kernels run in the
active backend.
"""
from __future__ import annotations

import numpy as np

from . import _backend
from .formats import E2M1, E8M0, UE4M3, _as_float64, get_format
from .mxtensor import MXTensor
from .rounding import Rounding, parse_rounding

SCALE_MODES = ("floor", "ceil", "even", "rceil")
NAN_POLICIES = ("block", "error")
INF_POLICIES = ("block", "saturate", "error")
SCALE_RANGES = ("clamp", "error")
SUBNORMAL_INPUTS = ("keep", "flush")
PADS = ("zero", "error")
SCALE_FLOORS = ("min_subnormal", "zero")
_POLICY_CODE = {"block": 0, "saturate": 1, "error": 2}
_STATUS_MESSAGES = {
    1: "x contains NaN and nan_policy='error' (allowed: 'block' makes the block NaN)",
    2: "x contains Inf and inf_policy='error' (allowed: 'block', 'saturate')",
    3: "a block's shared exponent is outside [-127, 127] and scale_range='error' "
       "(allowed: 'clamp')",
}


def _choice(name: str, value, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"{name}={value!r}; allowed: {', '.join(map(repr, allowed))}")
    return value


def _as_fp32(x) -> np.ndarray:
    """FP32 inputs: float32 as is, narrower floats widened exactly, float64 rounded (RNE)."""
    arr = np.asarray(x)
    if arr.dtype == np.float32:
        return arr
    if arr.dtype.kind == "f" or arr.dtype.kind == "V":
        return _as_float64(arr, "x").astype(np.float32)
    raise TypeError(f"x must be a float array (float32, or float16/bfloat16/float64 converted "
                    f"to FP32), got dtype {arr.dtype}")


def _blocked_rows(x: np.ndarray, block_size: int, axis, pad: str):
    """Move `axis` last, zero-pad it to a multiple of the block, flatten to 2-D rows."""
    if not isinstance(block_size, (int, np.integer)) or isinstance(block_size, bool) \
            or block_size < 1:
        raise ValueError(f"block_size={block_size!r}: allowed a positive int")
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension")
    if not isinstance(axis, (int, np.integer)) or not -x.ndim <= axis < x.ndim:
        raise ValueError(f"axis={axis!r} is out of range for x with {x.ndim} dimension(s)")
    axis = int(axis) % x.ndim
    moved = np.moveaxis(x, axis, -1)
    length = moved.shape[-1]
    npad = -length % block_size
    if npad and _choice("pad", pad, PADS) == "error":
        raise ValueError(f"x has length {length} along axis {axis}, not a multiple of "
                         f"block_size={block_size}; pass pad='zero' to zero-pad it")
    _choice("pad", pad, PADS)
    if npad:
        moved = np.concatenate([moved, np.zeros(moved.shape[:-1] + (npad,), moved.dtype)], -1)
    rows = np.ascontiguousarray(moved.reshape(-1, moved.shape[-1]))
    return rows, axis, npad, moved.shape


def _unblock(arr2d: np.ndarray, moved_shape, axis: int) -> np.ndarray:
    return np.moveaxis(arr2d.reshape(moved_shape[:-1] + (arr2d.shape[-1],)), -1, axis)


def quantize(x, elem="e4m3", block_size: int = 32, axis: int = -1, scale_mode: str = "floor",
             rounding="rne", nan_policy: str = "block", inf_policy: str = "block",
             zero_block_scale: int = 0, scale_range: str = "clamp",
             subnormal_inputs: str = "keep", int8_min: bool = False, pad: str = "zero",
             rand_bits=None, sr_bits: int = 32) -> MXTensor:
    """Quantize FP32 values to an OCP MX tensor (element codes + E8M0 block scales).

    The shared exponent of each block is floor(log2 amax) - emax_elem from the FP32 exponent
    bits (scale_mode 'floor'; also 'ceil', 'even', 'rceil'); elements are rounded with
    `rounding` and clamped to the element format's largest magnitude. Every policy the spec
    leaves open is an argument; docs/CODECS.md section 4 defines each one.
    """
    fmt = get_format(elem)
    if fmt.bits > 8:
        raise ValueError(f"elem={fmt.name}: MX element formats have at most 8 bits")
    mode = parse_rounding(rounding)
    smode = SCALE_MODES.index(_choice("scale_mode", scale_mode, SCALE_MODES))
    _choice("nan_policy", nan_policy, NAN_POLICIES)
    _choice("inf_policy", inf_policy, INF_POLICIES)
    _choice("scale_range", scale_range, SCALE_RANGES)
    _choice("subnormal_inputs", subnormal_inputs, SUBNORMAL_INPUTS)
    if not isinstance(zero_block_scale, (int, np.integer)) or not 0 <= zero_block_scale <= 0xFE:
        raise ValueError(f"zero_block_scale={zero_block_scale!r}: allowed an E8M0 code 0..254")
    if not isinstance(sr_bits, (int, np.integer)) or not 1 <= sr_bits <= 32:
        raise ValueError(f"sr_bits={sr_bits!r}: allowed an int in 1..32")
    x32 = _as_fp32(x)
    rows, ax, npad, moved_shape = _blocked_rows(x32, block_size, axis, pad)
    rb = None
    if mode is Rounding.SR:
        if rand_bits is None:
            raise ValueError("rand_bits is required with rounding='sr' (uint32, x's shape)")
        rbarr = np.asarray(rand_bits)
        if rbarr.shape != x32.shape or rbarr.dtype.kind not in "ui":
            raise ValueError(f"rand_bits must be an unsigned integer array of x's shape "
                             f"{x32.shape}, got {rbarr.dtype} {rbarr.shape}")
        rb, _, _, _ = _blocked_rows(rbarr.astype(np.uint32), block_size, ax, pad)
    codes, scales, flags, status = _backend.get().quantize_mx(
        rows, fmt.params, int(block_size), smode, int(mode), _POLICY_CODE[nan_policy],
        _POLICY_CODE[inf_policy], int(zero_block_scale), SCALE_RANGES.index(scale_range),
        subnormal_inputs == "flush", bool(int8_min), rb, int(sr_bits))
    if status:
        raise ValueError(_STATUS_MESSAGES.get(status, f"quantize failed with status {status}"))
    return MXTensor(codes=_unblock(codes, moved_shape, ax), scales=_unblock(scales, moved_shape, ax),
                    elem=fmt, scale_fmt=E8M0, block_size=int(block_size), axis=ax,
                    shape=tuple(x32.shape), pad=npad, flags=_unblock(flags, moved_shape, ax))


def nvfp4_tensor_scale(x) -> float:
    """The default NVFP4 per-tensor scale: amax / (6 * 448) rounded to FP32 (RNE), or 1.0."""
    x32 = _as_fp32(x)
    finite = np.abs(x32[np.isfinite(x32)])
    amax = float(finite.max()) if finite.size else 0.0
    if amax == 0:
        return 1.0
    # float64 division then FP32 rounding equals one correctly rounded FP32 division
    # (53 >= 2*24 + 2, so the double rounding is innocuous); never below the least FP32.
    return max(float(np.float32(amax / (6.0 * 448.0))), float(np.float32(2.0 ** -149)))


def quantize_nvfp4(x, tensor_scale=None, block_size: int = 16, axis: int = -1,
                   scale_rounding="rne", scale_floor: str = "min_subnormal", rounding="rne",
                   pad: str = "zero") -> MXTensor:
    """NVFP4: E2M1 elements, UE4M3 block scales (blocks of 16) and an FP32 tensor scale.

    Each block scale is amax/(6*T) rounded once into UE4M3 (`scale_rounding`, saturating);
    a nonzero block whose scale rounds to zero gets 0x01 (`scale_floor='min_subnormal'`) or
    keeps zero ('zero'); each element is x/(S*T) rounded once into E2M1. docs/CODECS.md 5.
    """
    smode, emode = parse_rounding(scale_rounding, "scale_rounding"), parse_rounding(rounding)
    for name, m in (("scale_rounding", smode), ("rounding", emode)):
        if m is Rounding.SR:
            raise ValueError(f"{name}='sr' is not supported for NVFP4; allowed: rne, rna, rtz, "
                             "rup, rdn, rto")
    _choice("scale_floor", scale_floor, SCALE_FLOORS)
    x32 = _as_fp32(x)
    if tensor_scale is None:
        tensor_scale = nvfp4_tensor_scale(x32)
    t = float(tensor_scale)
    if not (np.isfinite(t) and t > 0 and float(np.float32(t)) == t):
        raise ValueError(f"tensor_scale={tensor_scale!r}: allowed a positive finite FP32 value")
    rows, ax, npad, moved_shape = _blocked_rows(x32, block_size, axis, pad)
    codes, scales, flags = _backend.get().quantize_nvfp4(
        rows, t, int(block_size), int(smode), SCALE_FLOORS.index(scale_floor), int(emode))
    return MXTensor(codes=_unblock(codes, moved_shape, ax), scales=_unblock(scales, moved_shape, ax),
                    elem=E2M1, scale_fmt=UE4M3, block_size=int(block_size), axis=ax,
                    shape=tuple(x32.shape), pad=npad, flags=_unblock(flags, moved_shape, ax),
                    tensor_scale=t)
