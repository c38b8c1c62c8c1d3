"""Number formats as data: one frozen descriptor, everything else derived from it.

A `Format` describes the bit layout and the special-value policy of a format; bias, emax,
max normal, NaN codes and the rest are derived properties, never per-format tables.
`decode`, `unpack` and `encode` validate their arguments here and then run in the active
backend (`emulator._backend`). docs/CODECS.md is the specification.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np

from . import _backend
from .rounding import Rounding, parse_overflow, parse_rounding

SPECIALS = ("ieee", "fn", "finite", "fnuz")
KINDS = ("float", "int")
CLASS_ZERO, CLASS_SUBNORMAL, CLASS_NORMAL, CLASS_INF, CLASS_NAN = range(5)


class Unpacked(NamedTuple):
    """value = (-1)**sign * sig * 2**(exp - man_bits); cls is one of the CLASS_* codes."""

    sign: np.ndarray
    exp: np.ndarray
    sig: np.ndarray
    cls: np.ndarray


class Encoded(NamedTuple):
    codes: np.ndarray
    flags: np.ndarray


@dataclass(frozen=True)
class Format:
    """A number format. See docs/CODECS.md section 1 for the meaning of each field."""

    name: str
    kind: str
    exp_bits: int
    man_bits: int
    bias: int = 0
    signed: bool = True
    specials: str = "ieee"
    subnormals: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r}; allowed: {', '.join(KINDS)}")
        if self.specials not in SPECIALS:
            raise ValueError(f"specials={self.specials!r}; allowed: {', '.join(SPECIALS)}")
        if self.kind == "int":
            if self.exp_bits != 0 or not self.signed or self.specials != "finite":
                raise ValueError("an int format has exp_bits=0, signed=True, specials='finite'")
            if not 0 <= self.man_bits <= 30:
                raise ValueError(f"man_bits={self.man_bits}: an int format allows 0..30")
            return
        if not 1 <= self.exp_bits <= 8:
            raise ValueError(f"exp_bits={self.exp_bits}: allowed 1..8")
        if not 0 <= self.man_bits <= 23:
            raise ValueError(f"man_bits={self.man_bits}: allowed 0..23")
        if self.bits > 32:
            raise ValueError(f"{self.bits} bits: formats up to 32 bits are supported")
        if self.specials == "ieee" and self.man_bits == 0:
            raise ValueError("specials='ieee' needs man_bits >= 1 (NaN needs a mantissa)")
        if self.specials == "fnuz" and not self.signed:
            raise ValueError("specials='fnuz' needs a sign bit (its NaN is the -0 code)")
        if self.exp_bits + self.man_bits == 1 and self.specials == "fn":
            raise ValueError("specials='fn' needs at least two magnitude codes")
        if not self.subnormals and self.specials == "fnuz":
            raise ValueError("subnormals=False is only supported without 'fnuz'")
        if not -768 <= self.bias <= 1023:
            raise ValueError(f"bias={self.bias}: allowed -768..1023")
        if (self.max_code >> self.man_bits) < (1 if self.subnormals else 0):
            raise ValueError(f"{self.name}: no normal binade (e.g. specials='ieee' with one "
                             "exponent bit); add an exponent bit or choose other specials")

    @classmethod
    def custom(cls, exp_bits: int, man_bits: int, bias: int | None = None,
               specials: str = "ieee", signed: bool = True, name: str | None = None,
               subnormals: bool = True) -> "Format":
        """Any float format up to FP32 width, e.g. Format.custom(3, 4, specials='fn')."""
        for arg, val in (("exp_bits", exp_bits), ("man_bits", man_bits)):
            if not isinstance(val, (int, np.integer)) or isinstance(val, bool):
                raise TypeError(f"{arg} must be an int, got {type(val).__name__}")
        if bias is None:
            bias = (1 << (exp_bits - 1)) - 1
        if name is None:
            name = f"{'' if signed else 'u'}e{exp_bits}m{man_bits}" + (
                "" if specials == "ieee" else specials)
        return cls(name, "float", int(exp_bits), int(man_bits), int(bias), bool(signed),
                   specials, bool(subnormals))

    # -- derived properties ------------------------------------------------------------
    @property
    def bits(self) -> int:
        if self.kind == "int":
            return self.man_bits + 2  # sign, one integer bit, man_bits fraction bits
        return int(self.signed) + self.exp_bits + self.man_bits

    @property
    def num_codes(self) -> int:
        return 1 << self.bits

    @property
    def code_dtype(self):
        return np.dtype(np.uint8 if self.bits <= 8 else np.uint16 if self.bits <= 16
                        else np.uint32)

    @property
    def params(self) -> tuple:
        """The descriptor as the 7 integers the native core takes (BACKEND_CONTRACT.md)."""
        return (KINDS.index(self.kind), self.exp_bits, self.man_bits, self.bias,
                int(self.signed), SPECIALS.index(self.specials), int(self.subnormals))

    @property
    def _mag_bits(self) -> int:
        return self.bits - int(self.signed)

    @property
    def max_code(self) -> int:
        """The largest finite code magnitude (magnitudes are monotonic in value)."""
        if self.kind == "int":
            return (1 << (self.bits - 1)) - 1
        top = (1 << self._mag_bits) - 1
        return {"ieee": top - (1 << self.man_bits), "fn": top - 1}.get(self.specials, top)

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal (INT: 0, the exponent of its integer bit)."""
        if self.kind == "int":
            return 0
        return 1 - self.bias if self.subnormals else -self.bias

    @property
    def emax(self) -> int:
        """Exponent of the largest finite power of two (MX's emax_elem)."""
        if self.kind == "int":
            return 0
        return (self.max_code >> self.man_bits) - self.bias

    @property
    def has_inf(self) -> bool:
        return self.specials == "ieee"

    @property
    def has_nan(self) -> bool:
        return self.specials in ("ieee", "fn", "fnuz")

    @property
    def has_negative_zero(self) -> bool:
        return self.kind == "float" and self.signed and self.specials != "fnuz"

    @property
    def has_zero(self) -> bool:
        return self.kind == "int" or self.subnormals

    @property
    def inf_magnitude(self) -> int:
        return ((1 << self.exp_bits) - 1) << self.man_bits

    @property
    def nan_magnitude(self) -> int:
        """The canonical NaN's magnitude (for fnuz the NaN is the sign bit alone: 0)."""
        if self.specials == "ieee":
            return self.inf_magnitude | (1 << (self.man_bits - 1))
        if self.specials == "fn":
            return (1 << self._mag_bits) - 1
        return 0

    @cached_property
    def nan_codes(self) -> tuple:
        """Every NaN code, ascending (formats up to 16 bits; use unpack(...).cls beyond)."""
        if self.bits > 16:
            raise ValueError(f"{self.name} has too many NaN codes to list; test codes with "
                             "unpack(codes).cls == CLASS_NAN")
        if self.specials == "ieee":
            mags = range(self.inf_magnitude + 1, 1 << self._mag_bits)
            signs = (0, 1) if self.signed else (0,)
            return tuple(s << (self.bits - 1) | m for s in signs for m in mags)
        if self.specials == "fn":
            m = self.nan_magnitude
            return (m, 1 << (self.bits - 1) | m) if self.signed else (m,)
        if self.specials == "fnuz":
            return (1 << (self.bits - 1),)
        return ()

    def nan_code(self, sign: int) -> int:
        """The canonical NaN with the given sign (FNUZ has a single NaN)."""
        if self.specials == "fnuz":
            return 1 << (self.bits - 1)
        return self.pack(sign, self.nan_magnitude)

    @property
    def max_normal(self) -> float:
        return self.value_of(self.max_code)

    @property
    def min_normal(self) -> float:
        """2^emin (INT: its step 2^-man_bits, the threshold used for the underflow flag)."""
        return math.ldexp(1.0, -self.man_bits if self.kind == "int" else self.emin)

    @property
    def min_subnormal(self) -> float:
        if self.kind == "int":
            return math.ldexp(1.0, -self.man_bits)
        return math.ldexp(1.0, self.emin - (self.man_bits if self.subnormals else 0))

    # -- scalar definitions (the reference backend is built on these) -------------------
    def pack(self, sign: int, mag: int) -> int:
        """Code of a sign and a code magnitude; -0 becomes +0 where the format has no -0."""
        if self.kind == "int":
            return (-mag if sign else mag) & ((1 << self.bits) - 1)
        if not self.signed or (mag == 0 and not self.has_negative_zero):
            return mag
        return sign << (self.bits - 1) | mag

    def unpack_code(self, code: int):
        """(sign, exp, sig, cls) of one code, straight from the definition."""
        m = self.man_bits
        if self.kind == "int":
            v = code - (1 << self.bits) if code >> (self.bits - 1) else code
            return int(v < 0), 0, abs(v), CLASS_ZERO if v == 0 else CLASS_NORMAL
        sign = code >> (self.bits - 1) & 1 if self.signed else 0
        mag = code & ((1 << self._mag_bits) - 1)
        field, frac = mag >> m, mag & ((1 << m) - 1)
        if self.specials == "fnuz" and sign and mag == 0:
            return 0, field - self.bias, 0, CLASS_NAN
        if self.specials == "ieee" and field == (1 << self.exp_bits) - 1:
            return sign, field - self.bias, frac, CLASS_INF if frac == 0 else CLASS_NAN
        if self.specials == "fn" and mag == self.nan_magnitude:
            return sign, field - self.bias, frac, CLASS_NAN
        if self.subnormals and field == 0:
            return sign, self.emin, frac, CLASS_ZERO if frac == 0 else CLASS_SUBNORMAL
        return sign, field - self.bias, frac | (1 << m), CLASS_NORMAL

    def value_of(self, code: int) -> float:
        """The exact value of one code as a Python float (float64)."""
        sign, exp, sig, cls = self.unpack_code(code)
        if cls == CLASS_NAN:
            return -math.nan if sign else math.nan
        if cls == CLASS_INF:
            return -math.inf if sign else math.inf
        v = math.ldexp(sig, exp - self.man_bits)
        return -v if sign else v

    # -- array API -------------------------------------------------------------------
    def _check_codes(self, codes) -> np.ndarray:
        arr = _as_code_array(self, codes)
        if arr.size and int(arr.max()) >= self.num_codes:
            bad = int(arr.reshape(-1)[np.argmax(arr.reshape(-1) >= self.num_codes)])
            raise ValueError(f"codes: {bad:#x} is not a {self.name} code; allowed 0.."
                             f"{self.num_codes - 1:#x}")
        return arr

    def decode(self, codes) -> np.ndarray:
        """Exact float64 values of an array of codes (or an ml_dtypes array of this format)."""
        arr = self._check_codes(codes)
        flat = np.ascontiguousarray(arr.reshape(-1))
        return _backend.get().decode(self.params, flat).reshape(arr.shape)

    def unpack(self, codes) -> Unpacked:
        """(sign, exp, sig, cls) int64 arrays with value = (-1)^sign * sig * 2^(exp-man_bits)."""
        arr = self._check_codes(codes)
        flat = np.ascontiguousarray(arr.reshape(-1))
        parts = _backend.get().unpack(self.params, flat)
        return Unpacked(*(np.asarray(p, dtype=np.int64).reshape(arr.shape) for p in parts))

    def encode(self, values, rounding="rne", overflow=None, rand_bits=None, sr_bits: int = 32,
               int_min: bool = False) -> Encoded:
        """Round float values into this format: (codes, per-element Flag bits).

        rounding: rne, rna, rtz, rup, rdn, rto or sr (sr needs `rand_bits`, uint32 per value,
        of which the low `sr_bits` are used). overflow: 'saturate', 'inf', 'nan' or None
        (Inf where the format has it, else saturate). int_min: INT8 may produce -128.
        """
        mode = parse_rounding(rounding)
        ovf = parse_overflow(self, overflow)
        vals = _as_float64(values, "values")
        flat = np.ascontiguousarray(vals.reshape(-1))
        rb = _check_rand_bits(rand_bits, mode, vals.shape, sr_bits)
        codes, flags = _backend.get().encode(self.params, flat, int(mode), int(ovf), rb,
                                             int(sr_bits), bool(int_min))
        return Encoded(np.asarray(codes, dtype=self.code_dtype).reshape(vals.shape),
                       np.asarray(flags, dtype=np.uint8).reshape(vals.shape))

    # -- ml_dtypes interop (optional dependency) --------------------------------------
    @property
    def ml_dtype(self):
        """The matching ml_dtypes dtype, or None (ml_dtypes missing or no such dtype)."""
        name = _ML_DTYPES.get(self.name)
        if name is None:
            return None
        if name in ("float16", "float32"):
            return np.dtype(name)
        try:
            import ml_dtypes
        except ImportError:
            return None
        return np.dtype(getattr(ml_dtypes, name, None)) if hasattr(ml_dtypes, name) else None

    def to_ml_dtypes(self, codes) -> np.ndarray:
        """View codes of this format as the matching ml_dtypes (or numpy) array."""
        dt = self.ml_dtype
        if dt is None:
            raise ValueError(f"{self.name} has no ml_dtypes equivalent (or ml_dtypes is not "
                             "installed)")
        arr = self._check_codes(codes)
        return arr.astype(np.dtype(f"u{dt.itemsize}")).view(dt)

    def __repr__(self):
        return f"Format({self.name!r})"


# ml_dtypes names of the formats it has (float16/float32 are numpy's own).
_ML_DTYPES = {"e4m3": "float8_e4m3fn", "e5m2": "float8_e5m2", "e3m2": "float6_e3m2fn",
              "e2m3": "float6_e2m3fn", "e2m1": "float4_e2m1fn", "e8m0": "float8_e8m0fnu",
              "e4m3fnuz": "float8_e4m3fnuz", "e5m2fnuz": "float8_e5m2fnuz",
              "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}


def _as_code_array(fmt: Format, codes) -> np.ndarray:
    """Codes as an unsigned array; an array of this format's own dtype is viewed as codes."""
    arr = np.asarray(codes)
    dt = fmt.ml_dtype if arr.dtype.kind not in "uib" else None
    if dt is not None and arr.dtype == dt:
        arr = arr.view(np.dtype(f"u{dt.itemsize}"))
    if arr.dtype.kind == "i":
        if arr.size and int(arr.min()) < 0:
            raise ValueError(f"codes: negative value {int(arr.min())}; codes are unsigned")
        arr = arr.astype(np.uint64)
    if arr.dtype.kind != "u":
        raise TypeError(f"codes must be an unsigned integer array of {fmt.name} codes, got "
                        f"dtype {arr.dtype}")
    if arr.dtype.itemsize > 4:
        if arr.size and int(arr.max()) >= fmt.num_codes:
            raise ValueError(f"codes: {int(arr.max()):#x} is not a {fmt.name} code; allowed "
                             f"0..{fmt.num_codes - 1:#x}")
        arr = arr.astype(np.uint32)
    return arr


def _as_float64(values, argname: str) -> np.ndarray:
    """Values as float64: exact for every narrower float (ml_dtypes too) and int up to 32 bits."""
    arr = np.asarray(values)
    if arr.dtype == object and not isinstance(values, np.ndarray):
        try:  # a list of Python numbers
            return np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            pass
    if (arr.dtype.kind == "f" or (arr.dtype.kind in "iub" and arr.dtype.itemsize <= 4)
            or (arr.dtype.kind == "V" and _is_ml_float(arr.dtype))):
        with np.errstate(invalid="ignore"):  # a signalling NaN widens to a NaN: no warning
            return arr.astype(np.float64)
    raise TypeError(f"{argname} must be a real float array (or ints of up to 32 bits), got "
                    f"dtype {arr.dtype}")


def _is_ml_float(dtype) -> bool:
    try:
        import ml_dtypes
        ml_dtypes.finfo(dtype)
        return True
    except (ImportError, ValueError, TypeError):
        return False


def _check_rand_bits(rand_bits, mode: Rounding, shape, sr_bits) -> np.ndarray | None:
    if not isinstance(sr_bits, (int, np.integer)) or not 1 <= int(sr_bits) <= 32:
        raise ValueError(f"sr_bits={sr_bits!r}: allowed an int in 1..32")
    if mode is not Rounding.SR:
        return None
    if rand_bits is None:
        raise ValueError("rand_bits is required with rounding='sr' (uint32, one per value)")
    rb = np.asarray(rand_bits)
    if rb.dtype.kind not in "ui":
        raise TypeError(f"rand_bits must be an unsigned integer array, got dtype {rb.dtype}")
    if rb.shape != tuple(shape):
        raise ValueError(f"rand_bits has shape {rb.shape}; it must match the values' shape "
                         f"{tuple(shape)}")
    if rb.size and (int(rb.min()) < 0 or int(rb.max()) > 0xFFFFFFFF):
        raise ValueError("rand_bits: values must lie in 0..2**32-1")
    return np.ascontiguousarray(rb.reshape(-1).astype(np.uint32))


# -- the formats ------------------------------------------------------------------------
E4M3 = Format("e4m3", "float", 4, 3, 7, specials="fn")
E5M2 = Format("e5m2", "float", 5, 2, 15, specials="ieee")
E3M2 = Format("e3m2", "float", 3, 2, 3, specials="finite")
E2M3 = Format("e2m3", "float", 2, 3, 1, specials="finite")
E2M1 = Format("e2m1", "float", 2, 1, 1, specials="finite")
INT8 = Format("int8", "int", 0, 6, 0, specials="finite")
E8M0 = Format("e8m0", "float", 8, 0, 127, signed=False, specials="fn", subnormals=False)
UE4M3 = Format("ue4m3", "float", 4, 3, 7, signed=False, specials="fn")
FP16 = Format("fp16", "float", 5, 10, 15)
BF16 = Format("bf16", "float", 8, 7, 127)
TF32 = Format("tf32", "float", 8, 10, 127)
FP32 = Format("fp32", "float", 8, 23, 127)
E4M3FNUZ = Format("e4m3fnuz", "float", 4, 3, 8, specials="fnuz")
E5M2FNUZ = Format("e5m2fnuz", "float", 5, 2, 16, specials="fnuz")

FORMATS = {f.name: f for f in (E4M3, E5M2, E3M2, E2M3, E2M1, INT8, E8M0, UE4M3, FP16, BF16,
                               TF32, FP32, E4M3FNUZ, E5M2FNUZ)}
# The element formats of OCP MX v1.0.
MX_ELEMENT_FORMATS = (E4M3, E5M2, E3M2, E2M3, E2M1, INT8)

# Common aliases users type.
_ALIASES = {"fp8_e4m3": "e4m3", "fp8_e5m2": "e5m2", "fp6_e3m2": "e3m2", "fp6_e2m3": "e2m3",
            "fp4_e2m1": "e2m1", "fp4": "e2m1", "mxint8": "int8", "float16": "fp16",
            "half": "fp16", "bfloat16": "bf16", "float32": "fp32", "ue8m0": "e8m0"}


def get_format(fmt) -> Format:
    """A Format from itself or its name (case-insensitive; e.g. 'e4m3', 'fp8_e4m3')."""
    if isinstance(fmt, Format):
        return fmt
    if isinstance(fmt, str):
        key = fmt.lower()
        key = _ALIASES.get(key, key)
        if key in FORMATS:
            return FORMATS[key]
    raise ValueError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)} or a Format")
