"""General block scaling: 1-D blocks of any length and 2-D tiles, four scale conventions.

    from emulator.blockscale import quantize_blocks
    A = quantize_blocks(x, "e4m3", block=(1, 128), scale="fp32")     # per-token groups
    W = quantize_blocks(w, "e4m3", block=(128, 128), scale="ue8m0")  # weight tiles
    A.dequantize()                                                    # exact float64

Scale conventions (`scale=`), for a block with largest finite magnitude amax > 0 and element
format largest magnitude max_elem = 2^emax_elem * (1.m):
  * "e8m0":  OCP MX v1.0 floor rule, s = 2^(floor(log2 amax) - emax_elem) (emulator.quantize's
             'floor' shared exponent); elements above max_elem saturate.
  * "ue8m0": s = 2^ceil(log2(amax / max_elem)): the smallest power of two with
             amax <= max_elem * s, so no element overflows (DeepSeek-V3.1 / DeepGEMM; the
             'rceil' rule of emulator.quantize). Stored as an E8M0 code.
  * "fp32":  s = amax / max_elem rounded once into FP32 (`scale_rounding`, RNE by default;
             a nonzero block whose scale would round to zero gets the least FP32 subnormal)
             (DeepSeek-V3 / R1). Stored as FP32 bit patterns (uint32).
  * "ue4m3": NVFP4-style, s = amax / (max_elem * T) rounded once into UE4M3 (saturating; a
             nonzero block whose scale rounds to zero gets 0x01), T an FP32 tensor scale
             (`tensor_scale`, default amax_tensor / (max_elem * 448) rounded to FP32, or 1).
Power-of-two shared exponents are clamped into E8M0's [-127, 127] (Flag.SCALE_CLAMPED).
An all-zero block gets the scale `zero_block_scale` (a code; default: 2^-127 for E8M0
kinds, 1.0 for FP32, 0 for UE4M3). Elements: x / (s [* T]) rounded ONCE into the element
format with `rounding`, saturating (Flag.SATURATED). A block holding a NaN or an Inf becomes a
NaN block (NaN scale code, zero elements; Flag.INVALID on Inf elements) with
nan_policy='block', or raises with 'error'.

Exactness. Every rounding is done by `Format.encode` (that is `rounding.round_pack`) on a
float64 value. For power-of-two scales x * 2^-k is exact. For FP32 and UE4M3 scales the
value handed to the encoder is the float64 quotient n / d of two exact float64 numbers, and
that quotient rounds to the same code and flags as the exact rational n / d. Let a, b, c be
the significant bits of n, d and a rounding boundary g of the target (a code value or a
midpoint between two): n - g*d is a multiple of 2^(lsb of n or of g*d), so n / d != g implies
|n / d - g| >= 2^-(max(a, b + c) + 2) |g|. Here a <= 24 (FP32 x), b <= 31 (max_elem * T, or
an FP32 scale, or S * T) and c <= 25 (FP32 scale boundaries, with b <= 7) or c <= 9 (element
and UE4M3 boundaries), so the gap is at least 2^-39 |g|, beyond the float64 quotient's error
(< 2^-53 relative), and
n / d == g implies the float64 quotient is exactly g. The quotient is therefore on the same
side of every boundary as the exact value, for every rounding mode but stochastic ('sr' is
refused). tests/test_blockscale.py checks this against round_pack on integer n / d.

Backends. This module's numpy code (`_quantize_reference`) is the executable specification
and runs on the reference backend; on the native backend `quantize_blocks` calls the C kernel
mxemu_quantize_blocks (native/src/blockscale.c), which rounds the exact rational quotients
with the core's round_pack and gives the same codes, scales and flags
(tests/test_blockscale_native.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _backend
from .flags import Flag
from .formats import E8M0, FP32, UE4M3, Format, get_format
from .mxtensor import MXTensor
from .quantize import _as_fp32, _choice
from .rounding import Rounding, parse_rounding

SCALE_KINDS = ("e8m0", "ue8m0", "fp32", "ue4m3")
NAN_POLICIES = ("block", "error")
_SCALE_FMT = {"e8m0": E8M0, "ue8m0": E8M0, "fp32": FP32, "ue4m3": UE4M3}
_FP32_ONE = 0x3F800000
_FP32_NAN = 0x7FC00000


@dataclass(frozen=True, eq=False)
class BlockTensor:
    """A block-scaled tensor with blocks or tiles of any shape.

    codes:  element codes (uint8), x's shape zero-padded to whole blocks on every axis.
    scales: scale codes, one per block: uint8 E8M0 codes ('e8m0', 'ue8m0'), uint32 FP32 bit
            patterns ('fp32'), uint8 UE4M3 codes ('ue4m3'); shape = padded shape / block.
    block:  the block shape, one length per axis of x (for 2-D x: (rows, cols); a 1-D block
            of b along axis 1 is (1, b)).
    shape:  the logical (unpadded) shape. axis: the reduction axis (K) the blocks run along.
    flags:  per element, the Flag bits its quantization raised (OR-ed with its block's).
    tensor_scale: the FP32 per-tensor scale of 'ue4m3' (None otherwise).
    """

    codes: np.ndarray
    scales: np.ndarray
    elem: Format
    scale_kind: str
    block: tuple
    shape: tuple
    axis: int
    flags: np.ndarray = field(default=None, repr=False)
    tensor_scale: float | None = None

    @property
    def scale_fmt(self) -> Format:
        return _SCALE_FMT[self.scale_kind]

    def scale_values(self) -> np.ndarray:
        """The block scales as exact float64 values (NaN for a NaN block), one per block."""
        return self.scale_fmt.decode(self.scales)

    def expanded_scale_values(self) -> np.ndarray:
        """The scale of every element (padded shape), float64, tensor scale not included."""
        s = self.scale_values()
        for ax, b in enumerate(self.block):
            s = np.repeat(s, b, axis=ax)
        return s

    def dequantize(self, dtype=np.float64) -> np.ndarray:
        """The exact values elem(code) * scale (* tensor_scale), trimmed to the logical shape.

        Exact in float64: at most 8 element significand bits times 24 scale bits (times 24
        tensor-scale bits for 'ue4m3', whose 4-bit scale leaves room)."""
        out = self.elem.decode(self.codes) * self.expanded_scale_values()
        if self.tensor_scale is not None:
            out = out * self.tensor_scale
        out = out[tuple(slice(0, n) for n in self.shape)]
        return out.astype(dtype)

    def to_mxtensor(self) -> MXTensor:
        """The same data as an MXTensor (1-D blocks along `axis`, E8M0 or UE4M3 scales), for
        emulator.numerics.gemm and friends (the tensor unit applies the scales)."""
        if self.scale_kind == "fp32":
            raise ValueError("scale_kind='fp32': a tensor unit cannot apply FP32 block scales; "
                             "use emulator.numerics.twolevel (scales applied at promotion)")
        if any(b != 1 for ax, b in enumerate(self.block) if ax != self.axis):
            raise ValueError(f"block {self.block}: only 1-D blocks along axis {self.axis} "
                             "convert to an MXTensor")
        pad = self.codes.shape[self.axis] - self.shape[self.axis]
        return MXTensor(codes=self.codes, scales=self.scales, elem=self.elem,
                        scale_fmt=self.scale_fmt, block_size=int(self.block[self.axis]),
                        axis=self.axis, shape=tuple(self.shape), pad=pad, flags=self.flags,
                        tensor_scale=self.tensor_scale)


def _block_shape(block, ndim: int, axis: int) -> tuple:
    if isinstance(block, (int, np.integer)) and not isinstance(block, bool):
        if block < 1:
            raise ValueError(f"block={block!r}: allowed a positive int or a tuple of them")
        return tuple(int(block) if ax == axis else 1 for ax in range(ndim))
    try:
        bs = tuple(block)
    except TypeError:
        bs = None
    if (bs is None or len(bs) != ndim
            or not all(isinstance(b, (int, np.integer)) and not isinstance(b, bool) and b >= 1
                       for b in bs)):
        raise ValueError(f"block={block!r}: allowed a positive int (1-D blocks along axis) or "
                         f"a tuple of {ndim} positive ints (one per axis of x)")
    return tuple(int(b) for b in bs)


def _blocks_view(xp: np.ndarray, bshape: tuple):
    """(n0, b0, n1, b1, ...) view of a padded array and the block axes (1, 3, ...)."""
    shp = []
    for n, b in zip(xp.shape, bshape):
        shp += [n // b, b]
    return xp.reshape(shp), tuple(range(1, 2 * xp.ndim, 2))


def _expand(arr: np.ndarray, bshape: tuple) -> np.ndarray:
    for ax, b in enumerate(bshape):
        arr = np.repeat(arr, b, axis=ax)
    return arr


def default_tensor_scale(x, max_elem: float) -> float:
    """The NVFP4-style FP32 tensor scale amax / (max_elem * 448), rounded (RNE), or 1.0."""
    x32 = _as_fp32(x)
    fin = np.abs(x32[np.isfinite(x32)]).astype(np.float64)
    amax = float(fin.max()) if fin.size else 0.0
    if amax == 0:
        return 1.0
    code = int(FP32.encode(np.array([amax / (max_elem * UE4M3.max_normal)])).codes[0])
    return max(float(FP32.decode(np.array([code], np.uint32))[0]), 2.0 ** -149)


def quantize_blocks(x, elem, block=32, scale: str = "e8m0", axis: int = -1, rounding="rne",
                    *, scale_rounding="rne", nan_policy: str = "block",
                    zero_block_scale: int | None = None, tensor_scale=None) -> BlockTensor:
    """Quantize FP32 values into block-scaled elements; see the module docstring.

    x: a float array (converted to FP32 as emulator.quantize does). elem: an element format
    of at most 8 bits. block: an int (1-D blocks of that length along `axis`) or a tuple with
    one length per axis (a tile, e.g. (1, 128) or (128, 128) for 2-D x). Every axis is
    zero-padded to whole blocks. scale: one of SCALE_KINDS. rounding: the element rounding
    (all modes but 'sr'); scale_rounding: the rounding of FP32 and UE4M3 scales.
    """
    fmt = get_format(elem)
    if fmt.bits > 8:
        raise ValueError(f"elem={fmt.name}: block-scaled element formats have at most 8 bits")
    _choice("scale", scale, SCALE_KINDS)
    _choice("nan_policy", nan_policy, NAN_POLICIES)
    mode = parse_rounding(rounding)
    smode = parse_rounding(scale_rounding, "scale_rounding")
    for name, m in (("rounding", mode), ("scale_rounding", smode)):
        if m is Rounding.SR:
            raise ValueError(f"{name}='sr' is not supported by quantize_blocks; allowed: rne, "
                             "rna, rtz, rup, rdn, rto")
    x32 = _as_fp32(x)
    if x32.ndim == 0:
        raise ValueError("x must have at least one dimension")
    if not isinstance(axis, (int, np.integer)) or not -x32.ndim <= axis < x32.ndim:
        raise ValueError(f"axis={axis!r} is out of range for x with {x32.ndim} dimension(s)")
    axis = int(axis) % x32.ndim
    bshape = _block_shape(block, x32.ndim, axis)
    sfmt = _SCALE_FMT[scale]
    if zero_block_scale is not None:
        if (not isinstance(zero_block_scale, (int, np.integer)) or zero_block_scale < 0
                or zero_block_scale >= sfmt.num_codes
                or not np.isfinite(sfmt.decode(np.array([zero_block_scale]))[0])
                or sfmt.decode(np.array([zero_block_scale]))[0] <= 0 and scale != "ue4m3"):
            raise ValueError(f"zero_block_scale={zero_block_scale!r}: allowed a finite "
                             f"{sfmt.name} code" + (" of a positive value" if scale != "ue4m3"
                                                    else ""))
    t = None
    if scale == "ue4m3":
        t = default_tensor_scale(x32, fmt.max_normal) if tensor_scale is None else tensor_scale
        if (isinstance(t, bool) or not isinstance(t, (int, float, np.floating, np.integer))
                or not (np.isfinite(t) and t > 0 and float(np.float32(t)) == t)):
            raise ValueError(f"tensor_scale={tensor_scale!r}: allowed a positive finite "
                             "FP32 value")
        t = float(t)
    # The C kernel takes up to MXEMU_BLOCKS_MAX_NDIM dimensions; more run the numpy path.
    if _backend.current() == "native" and x32.ndim <= _backend.get().BLOCKS_MAX_NDIM:
        codes, scodes, flags = _quantize_native(x32, fmt, bshape, scale, mode, smode,
                                                nan_policy, zero_block_scale, t)
    else:
        codes, scodes, flags = _quantize_reference(x32, fmt, bshape, scale, mode, smode,
                                                   nan_policy, zero_block_scale, t)
    return BlockTensor(codes=codes, scales=scodes, elem=fmt, scale_kind=scale, block=bshape,
                       shape=tuple(x32.shape), axis=axis, flags=flags, tensor_scale=t)


_NAN_ERROR = ("x contains NaN or Inf and nan_policy='error' (allowed: 'block' makes the block "
              "NaN)")


def _quantize_native(x32, fmt, bshape, scale, mode, smode, nan_policy, zero_block_scale, t):
    """The C kernel (native/src/blockscale.c): (codes, scale codes, flags)."""
    long_axes = [ax for ax, b in enumerate(bshape) if b > 1]
    if len(long_axes) == 1 and long_axes[0] != x32.ndim - 1:
        # 1-D blocks along another axis: on a copy with that axis last, each block is one
        # contiguous run, which the kernel walks several times faster than a strided column.
        a = long_axes[0]
        moved = np.ascontiguousarray(np.moveaxis(x32, a, -1))
        mshape = bshape[:a] + bshape[a + 1:] + (bshape[a],)
        out = _quantize_native(moved, fmt, mshape, scale, mode, smode, nan_policy,
                               zero_block_scale, t)
        return tuple(np.ascontiguousarray(np.moveaxis(arr, -1, a)) for arr in out)
    codes, scales, flags, status = _backend.get().quantize_blocks(
        np.ascontiguousarray(x32), bshape, fmt.params, SCALE_KINDS.index(scale), int(mode),
        int(smode), 0 if nan_policy == "block" else 2,
        -1 if zero_block_scale is None else int(zero_block_scale), 1.0 if t is None else t)
    if status:
        raise ValueError(_NAN_ERROR)
    return codes, scales.astype(_SCALE_FMT[scale].code_dtype), flags


def _quantize_reference(x32, fmt, bshape, scale, mode, smode, nan_policy, zero_block_scale, t):
    """The executable specification in numpy: (codes, scale codes, flags)."""
    # Pad every axis to whole blocks (zeros), then view the blocks.
    pads = [(0, -n % b) for n, b in zip(x32.shape, bshape)]
    xp = np.pad(x32, pads).astype(np.float64)
    view, baxes = _blocks_view(xp, bshape)
    finite = np.isfinite(view)
    bad = ~finite.all(axis=baxes)
    if bad.any() and nan_policy == "error":
        raise ValueError(_NAN_ERROR)
    amax = np.where(finite, np.abs(view), 0.0).max(axis=baxes)
    zero = (amax == 0) & ~bad
    nz = (amax > 0) & ~bad
    maxe = fmt.max_normal
    bflags = np.zeros(amax.shape, np.uint8)

    if scale in ("e8m0", "ue8m0"):
        _, e = np.frexp(np.where(nz, amax, 1.0))
        k = (e.astype(np.int64) - 1) - fmt.emax  # floor(log2 amax) - emax_elem (exact)
        if scale == "ue8m0":  # the smallest k with amax <= max_elem * 2^k: k or k + 1
            k = k + (np.where(nz, amax, 0.0) > np.ldexp(maxe, k)).astype(np.int64)
        clamped = nz & ((k < -127) | (k > 127))
        k = np.clip(k, -127, 127)
        bflags[clamped] |= int(Flag.SCALE_CLAMPED)
        zcode = 0 if zero_block_scale is None else int(zero_block_scale)
        scodes = np.where(nz, k + 127, zcode)
        scodes = np.where(bad, 0xFF, scodes).astype(np.uint8)
        kk = _expand(np.where(nz, k, 0), bshape)
        vals = np.ldexp(xp, -kk)  # exact: a power-of-two scaling of an FP32 value
    else:
        if scale == "fp32":
            q = np.where(nz, amax, 1.0) / maxe  # see the module docstring: rounds as n / d
            enc = FP32.encode(q, smode, overflow="saturate")
            sc = enc.codes.astype(np.uint32)
            sc = np.where(nz & (sc == 0), np.uint32(1), sc)  # never a zero scale
            zcode = _FP32_ONE if zero_block_scale is None else int(zero_block_scale)
            sc = np.where(zero, np.uint32(zcode), sc)
            scodes = np.where(bad, np.uint32(_FP32_NAN), sc).astype(np.uint32)
            div = FP32.decode(np.where(bad, np.uint32(_FP32_ONE), scodes))
        else:  # ue4m3
            q = np.where(nz, amax, 1.0) / (maxe * t)  # maxe * t is exact (<= 31 bits)
            enc = UE4M3.encode(q, smode, overflow="saturate")
            sc = enc.codes.astype(np.uint8)
            sc = np.where(nz & (sc == 0), np.uint8(1), sc)
            zcode = 0 if zero_block_scale is None else int(zero_block_scale)
            sc = np.where(zero, np.uint8(zcode), sc)
            scodes = np.where(bad, np.uint8(UE4M3.nan_code(0)), sc).astype(np.uint8)
            div = UE4M3.decode(np.where(bad, np.uint8(0x38), scodes)) * t  # exact product
        d = _expand(div, bshape)
        with np.errstate(divide="ignore", invalid="ignore"):
            vals = np.where(d > 0, xp / np.where(d > 0, d, 1.0), 0.0 * xp)

    # Elements: one rounding each (Format.encode -> round_pack), saturating.
    bad_e = _expand(bad, bshape)
    vals = np.where(bad_e, 0.0, vals)
    enc = fmt.encode(vals, mode, overflow="saturate")
    codes = enc.codes.astype(np.uint8)
    flags = enc.flags.astype(np.uint8)
    flags = np.where(flags & (Flag.OVERFLOW | Flag.INVALID), flags | int(Flag.SATURATED), flags)
    flags = flags | _expand(bflags, bshape)
    codes = np.where(bad_e, np.uint8(0), codes).astype(np.uint8)
    inf_e = bad_e & np.isinf(xp)
    flags = np.where(bad_e, np.where(inf_e, np.uint8(Flag.INVALID), np.uint8(0)),
                     flags).astype(np.uint8)
    return codes, scodes, flags
