"""A numpy-vectorized GEMM, bit for bit equal to the reference model (`reference.gemm`).

`gemm_fast(A, B, C, config, *, c_fmt=None, rand_bits=None)` takes and returns exactly what
`reference.gemm` does - MXTensors (blocks along K) or (codes, format) pairs, C as M x N bit
patterns of `c_fmt` (default the config's register format) or None for +0 - and returns
(D bits M x N in the register format, Flag bits M x N, uint8). `gemm_auto(..., method=)`
picks it or the reference ('auto': the fast path except for a handful of outputs), and
`dot_batch` runs P independent `dot`s (a testbench's or a data set's cases) at once.

It follows the numbered steps of docs/NUMERICS.md section 2 like `reference.py`, but for
many output elements at once: every quantity of the reference (a term's kind, sign, integer
significand, lsb exponent and alignment exponent; a step's sum; a rounding's decision) is an
integer numpy array over the output elements (and over the terms of a step), and a loop
runs only over instructions and steps, whose structure depends on the config and K alone.

What is vectorized (everything the reference implements):
  * decoding of every element, scale and register format (the bit definitions of
    `Format.unpack_code`), input subnormal flushing;
  * products: specials (NaN, Inf, Inf * 0 -> INVALID), zero products and their alignment
    floor, 'operands' and 'value' product exponents, products rounded into `product_format`
    (every mode but SR, which the config refuses anyway);
  * the steps: 'sequential', 'interleaved' (any granule) and 'scale_blocks' (exact block
    sums), padding of a short last instruction, C 'inside' or 'after' (the exact add),
    alignments 'max', 'products_then_c' and 'anchor', any `align_floor`, every `dropped`
    policy, F bounded or None, `carry_bits` wrap, the UNDERFLOW of a cut;
  * rounding (a vectorized `round_pack` for a power-of-two denominator) for RNE, RNA, RTZ,
    RUP, RDN, RTO and SR (with `rand_bits` M x N, or M x N x R consumed per element in the
    reference's order), overflow policies 'inf' / 'ieee' / 'saturate', output subnormal
    flushing, signed zeros by `zero_sign`, NaN patterns, widening into `register_format`.

Integer widths: a step's sum is computed in int64 for the output elements whose terms,
cut to 2^(E-F), provably stay below 2^60 (checked per element from each term's leading-bit
bound: always true for 'max' alignment with F up to about 45, e.g. every NVIDIA preset, on
FP32 inputs too); the other elements of that step (F=None over a wide exponent spread,
'anchor' far from the terms, wide exact block sums) are summed exactly in Python integers held
in numpy object arrays - still vectorized, only slower. A sum wider than int64 is folded into
60 bits plus a sticky bit before rounding, which keeps every rounding decision (and SR's first
`sr_bits` dropped bits) unchanged.

Fallback to the reference (`reference.gemm` itself, for the whole call), only where a
product could not be held in int64: operand and scale formats whose significand product can
exceed 60 bits (e.g. FP32 elements with FP32 "scales"; FP32 x FP32 with E8M0 or UE4M3 scales is
vectorized). The sentinels have room: AccumConfig bounds |align_floor| and |anchor_exp| to
2^20.

Input checking: element codes of (codes, format) operands are checked to lie in the format's
range (the reference does not check them; it decodes out-of-range codes as garbage).
"""
from __future__ import annotations

import numpy as np

from ..flags import Flag
from ..formats import (CLASS_INF, CLASS_NAN, CLASS_NORMAL, CLASS_SUBNORMAL, CLASS_ZERO, E8M0,
                       Format, get_format)
from ..rounding import Rounding
from . import reference as _ref
from .config import AccumConfig

__all__ = ["gemm_fast", "gemm_auto", "dot_batch", "METHODS", "AUTO_MAX_REFERENCE"]

METHODS = ("auto", "native", "fast", "reference")
AUTO_MAX_REFERENCE = 8  # 'auto' runs the reference for at most this many output elements

# Term kinds (the reference's 'zero', 'finite', 'inf', 'nan' and its padding).
_ZERO, _FIN, _INF, _NAN, _PAD = 0, 1, 2, 3, 4
_NOAL = -(1 << 50)  # alignment exponent of a term that takes no part in the alignment
_W = 60  # int64 sums are used while the magnitudes provably stay below 2^_W
_CHUNK = 1 << 18  # products (output elements x instruction K) per tile

_INEXACT, _UNDERFLOW = int(Flag.INEXACT), int(Flag.UNDERFLOW)
_OVERFLOW, _INVALID = int(Flag.OVERFLOW), int(Flag.INVALID)

_BL = np.frompyfunc(lambda v: int(v).bit_length(), 1, 1)


# ---------------------------------------------------------------------------------------
# Integer helpers (int64 arrays, or object arrays of Python ints for wide values)
# ---------------------------------------------------------------------------------------
def _bitlen(x: np.ndarray) -> np.ndarray:
    """bit_length of non-negative integers, elementwise, exactly (int64 result)."""
    if x.dtype == object:
        return _BL(x).astype(np.int64) if x.size else np.zeros(x.shape, np.int64)
    e = np.frexp(x.astype(np.float64))[1].astype(np.int64)
    # The conversion to float64 rounds to nearest: it may have carried into 2^e.
    over = (e > 0) & ((x >> np.maximum(e - 1, 0)) == 0)
    return e - over


def _to_obj(x: np.ndarray) -> np.ndarray:
    return x if x.dtype == object else x.astype(object)


def _ones_obj(shape) -> np.ndarray:
    out = np.empty(shape, dtype=object)
    out.fill(1)
    return out


# ---------------------------------------------------------------------------------------
# Decoding (the definitions of Format.unpack_code, on arrays)
# ---------------------------------------------------------------------------------------
def _unpack(fmt: Format, codes: np.ndarray):
    """(sign, exp, sig, cls) int64 arrays, exactly as Format.unpack_code per code."""
    c = np.asarray(codes).astype(np.int64)
    z = np.zeros(c.shape, np.int64)
    m = fmt.man_bits
    if fmt.kind == "int":
        v = np.where((c >> (fmt.bits - 1)) & 1 == 1, c - (1 << fmt.bits), c)
        cls = np.where(v == 0, CLASS_ZERO, CLASS_NORMAL)
        return (v < 0).astype(np.int64), z, np.abs(v), cls
    sign = (c >> (fmt.bits - 1)) & 1 if fmt.signed else z
    mag = c & ((1 << (fmt.bits - int(fmt.signed))) - 1)
    field, frac = mag >> m, mag & ((1 << m) - 1)
    exp, sig = field - fmt.bias, frac | (1 << m)
    cls = np.full(c.shape, CLASS_NORMAL, np.int64)
    if fmt.subnormals:
        sub = field == 0
        exp = np.where(sub, fmt.emin, exp)
        sig = np.where(sub, frac, sig)
        cls = np.where(sub, np.where(frac == 0, CLASS_ZERO, CLASS_SUBNORMAL), cls)
    if fmt.specials == "fn":
        n = mag == fmt.nan_magnitude
        exp, sig = np.where(n, field - fmt.bias, exp), np.where(n, frac, sig)
        cls = np.where(n, CLASS_NAN, cls)
    elif fmt.specials == "ieee":
        top = field == (1 << fmt.exp_bits) - 1
        exp, sig = np.where(top, field - fmt.bias, exp), np.where(top, frac, sig)
        cls = np.where(top, np.where(frac == 0, CLASS_INF, CLASS_NAN), cls)
    elif fmt.specials == "fnuz":
        n = (sign == 1) & (mag == 0)
        sign = np.where(n, 0, sign)
        exp, sig = np.where(n, field - fmt.bias, exp), np.where(n, 0, sig)
        cls = np.where(n, CLASS_NAN, cls)
    return sign, exp, sig, cls


def _kinds(fmt: Format, codes, flush: bool):
    """The reference's _factor on arrays: (kind, sign, exp, sig); flushed subnormals and
    zeros are zero terms with significand 0."""
    sign, exp, sig, cls = _unpack(fmt, codes)
    kind = np.full(cls.shape, _FIN, np.int8)
    kind[cls == CLASS_NAN] = _NAN
    kind[cls == CLASS_INF] = _INF
    zero = (cls == CLASS_ZERO) | ((cls == CLASS_SUBNORMAL) if flush else False)
    kind[zero] = _ZERO
    sig = np.where(zero, 0, sig)
    return kind, sign, exp, sig


def _sig_bits(fmt: Format) -> int:
    """The most bits a significand of fmt can have (INT8: |-128| has 8)."""
    return fmt.man_bits + (2 if fmt.kind == "int" else 1)


# ---------------------------------------------------------------------------------------
# Terms: arrays of shape (P, n) over P output elements and n terms
# ---------------------------------------------------------------------------------------
class _Terms:
    """Terms of shape (P, n): kind (int8), sign (0/1), sig (int64, or object when some
    value needs more than 61 bits), lsb, align and top, and `spec`: whether any term may be
    NaN or Inf.

    Invariants every constructor keeps (the steps rely on them instead of masks):
    a term that is not finite has align = _NOAL unless it is a zero that aligns at the floor,
    top <= -_BIG, and (zero or padding) sig = 0; a finite term has sig > 0 and
    |value| < 2^top. NaN and Inf terms may hold anything else: their rows are special."""

    __slots__ = ("kind", "sign", "sig", "lsb", "align", "top", "spec")

    def __init__(self, kind, sign, sig, lsb, align, top, spec):
        self.kind, self.sign, self.sig = kind, sign, sig
        self.lsb, self.align, self.top, self.spec = lsb, align, top, spec

    def cols(self, idx):
        return _Terms(*(getattr(self, s)[:, idx] for s in self.__slots__[:-1]), self.spec)

    def rows(self, idx):
        return _Terms(*(getattr(self, s)[idx] for s in self.__slots__[:-1]), self.spec)


_BIG = 1 << 40


def _narrow(sig: np.ndarray) -> np.ndarray:
    """An object array of significands as int64 when every one fits below 2^61."""
    if sig.dtype == object and (sig.size == 0 or int(_bitlen(sig).max()) <= 61):
        return sig.astype(np.int64)
    return sig


def _register_terms(fmt: Format, codes: np.ndarray, floor, flush: bool) -> _Terms:
    """A register value (C, a step's result, a rounded product) as one term per row: it
    aligns by its own exponent; a zero aligns at the floor."""
    kind, sign, exp, sig = _kinds(fmt, codes, flush)
    fin = kind == _FIN
    zal = _NOAL if floor is None else floor
    align = np.where(fin, exp, np.where(kind == _ZERO, zal, _NOAL))
    top = np.where(fin, exp + 1, -_BIG)
    spec = bool((kind >= _INF).any())
    c = lambda x: x.reshape(-1, 1)  # noqa: E731
    return _Terms(c(kind), c(sign), c(sig), c(exp - fmt.man_bits), c(align), c(top), spec)


# ---------------------------------------------------------------------------------------
# Rounding: round_pack (denominator 1) and the config's policies, on arrays
# ---------------------------------------------------------------------------------------
class _Policy:
    """The parts of the config that `_round` and the steps read."""

    def __init__(self, cfg: AccumConfig, exact_add: bool = False):
        self.F = None if exact_add else cfg.frac_bits
        self.carry = None if exact_add else cfg.carry_bits
        self.dropped = "truncate" if exact_add else cfg.dropped
        self.alignment = "max" if exact_add else cfg.alignment
        self.anchor = None if exact_add else cfg.anchor_exp
        self.floor = cfg.align_floor
        self.zero_sign = cfg.zero_sign
        self.overflow = cfg.overflow
        self.flush = cfg.output_subnormals == "flush"
        self.sr_bits = cfg.sr_bits


_WIDEN = type("_Widen", (), dict(overflow="ieee", flush=False, sr_bits=32))()


def _round(fmt: Format, sign, mag, e2, mode: Rounding, pol, rand=None):
    """Round (-1)^sign * mag * 2^e2 (mag > 0, int64 below 2^62) into fmt: round_pack with
    d = 1 plus the reference's _round policies. Returns (codes, flags) as int64 arrays."""
    m, bias, emin, emax = fmt.man_bits, fmt.bias, fmt.emin, fmt.emax
    limit, infm = fmt.max_code, fmt.inf_magnitude
    # 1. Leading-bit exponent t of the value.
    t = _bitlen(mag) - 1 + e2
    tiny = t < emin
    early = t > emax  # 3. past the top binade: overflow whatever the mode
    # 4. Quantum q = 2^(max(t, emin) - m); k = e2 - q bits to add (k >= 0) or drop (k < 0).
    k = np.where(early, 0, e2 - (np.maximum(t, emin) - m))
    dkr = np.maximum(-k, 0)  # bits dropped (may exceed 62: then nothing is kept)
    dk = np.minimum(dkr, 62)
    left = k >= 0
    kept = np.where(left, mag << np.clip(k, 0, 62), mag >> dk)
    rem = np.where(left, 0, mag - ((mag >> dk) << dk))
    # 5. The truncated code magnitude (magnitudes are monotonic: rounding up is +1).
    mcode = np.where(kept < (1 << m), kept, ((t + bias) << m) + kept - (1 << m))
    # 6. The rounding decision.
    inexact = rem != 0
    far = dkr > 62  # the dropped part is below half an ulp (rem < 2^62 <= half)
    half = np.left_shift(1, np.maximum(dk - 1, 0))
    if mode is Rounding.RNE:
        up = inexact & ~far & ((rem > half) | ((rem == half) & (mcode & 1 == 1)))
    elif mode is Rounding.RNA:
        up = inexact & ~far & (rem >= half)
    elif mode is Rounding.RUP:
        up = inexact & (sign == 0)
    elif mode is Rounding.RDN:
        up = inexact & (sign == 1)
    elif mode is Rounding.RTO:
        mcode = mcode | inexact
        up = False
    elif mode is Rounding.SR:
        sr = pol.sr_bits
        frac = np.where(dkr >= sr, rem >> np.clip(dkr - sr, 0, 62),
                        rem << np.clip(sr - dkr, 0, 62))
        up = inexact & (frac + (rand & ((1 << sr) - 1)) >= (1 << sr))
    else:  # RTZ
        up = False
    mcode = mcode + up
    flags = np.where(inexact, _INEXACT, 0) | np.where(inexact & tiny, _UNDERFLOW, 0)
    # 7. Overflow after rounding; the overflow code (round_pack's overflow_code and the
    #    config's policy: 'inf' is Inf under every mode, 'saturate' the largest finite).
    late = ~early & (mcode > limit)
    over = early | late
    if pol.overflow == "inf":
        omag = infm
    elif pol.overflow == "saturate":
        omag = limit
    else:
        if mode in (Rounding.RTZ, Rounding.RTO):
            rtz = True
        elif mode is Rounding.RUP:
            rtz = sign == 1
        elif mode is Rounding.RDN:
            rtz = sign == 0
        else:
            rtz = False
        omag = np.where(rtz, limit, infm)
    flags = np.where(early, _OVERFLOW | _INEXACT, np.where(late, flags | _OVERFLOW | _INEXACT,
                                                         flags))
    mcode = np.where(over, omag, mcode)
    if pol.flush:  # subnormal results become zeros of their sign
        sub = (mcode > 0) & (mcode < (1 << m))
        mcode = np.where(sub, 0, mcode)
        flags = flags | np.where(sub, _UNDERFLOW | _INEXACT, 0)
    return (np.asarray(sign, np.int64) << (fmt.bits - 1)) | mcode, flags


def _to_register(fmt: Format, codes: np.ndarray, cfg: AccumConfig) -> np.ndarray:
    """Codes of the output format as the register's bits (exact widening; NaN pattern)."""
    reg = cfg.register
    sign, exp, sig, cls = _unpack(fmt, codes)
    nan = cls == CLASS_NAN
    nan_bits = (1 << (reg.bits - 1)) - 1 if cfg.nan == "all_ones" else reg.nan_code(0)
    if reg is fmt or reg == fmt:
        return np.where(nan, nan_bits, codes)
    fin = (cls == CLASS_NORMAL) | (cls == CLASS_SUBNORMAL)
    wide, _ = _round(reg, sign, np.where(fin, sig, 1), exp - fmt.man_bits, Rounding.RNE,
                     _WIDEN)
    out = np.where(fin, wide, sign << (reg.bits - 1))  # zeros keep their sign
    out = np.where(cls == CLASS_INF, (sign << (reg.bits - 1)) | reg.inf_magnitude, out)
    return np.where(nan, nan_bits, out)


# ---------------------------------------------------------------------------------------
# Stochastic rounding's random bits
# ---------------------------------------------------------------------------------------
class _Rand:
    """The random bits of stochastic rounding per output element: None, one int per element
    reused for every rounding (vals of shape (P,)), or R ints per element consumed in order
    (vals (P, R)) - the reference's _Rand, element by element."""

    def __init__(self, vals):
        self.vals = vals
        self.i = None if vals is None else np.zeros(vals.shape[0], np.int64)

    def take(self, mask: np.ndarray) -> np.ndarray:
        if not mask.any():
            return np.zeros(mask.shape, np.int64)
        if self.vals is None:
            raise ValueError("rand_bits is required when a rounding is 'sr' (an int, or one "
                             "int per rounding of the chain)")
        if self.vals.ndim == 1:
            return self.vals
        r = self.vals.shape[1]
        if (self.i[mask] >= r).any():
            raise ValueError(f"rand_bits has {r} values but the chain needs more")
        out = self.vals[np.arange(len(self.i)), np.minimum(self.i, r - 1)]
        self.i = self.i + mask
        return out


def _rand_array(rand_bits, lead: tuple):
    """rand_bits as an int64 array of shape lead or lead + (R,), holding their low 32 bits
    (a rounding uses at most sr_bits <= 32 of them, so the rest never matters)."""
    if rand_bits is None:
        return None
    rb = np.asarray(rand_bits)
    if rb.ndim == 0:
        rb = np.broadcast_to(rb, lead)
    if rb.ndim not in (len(lead), len(lead) + 1) or rb.shape[:len(lead)] != tuple(lead):
        allowed = ", ".join(map(str, lead))
        raise ValueError(f"rand_bits has shape {rb.shape}; allowed: ({allowed}) or "
                         f"({allowed}, R)")
    mask = (1 << 32) - 1
    if rb.dtype.kind in "ui":
        mdt = rb.dtype if rb.dtype.itemsize >= 8 else np.int64
        return (rb & np.array(mask, dtype=mdt)).astype(np.int64)
    flat = [int(x) & mask for x in rb.reshape(-1)]
    return np.array(flat, dtype=np.int64).reshape(rb.shape)


# ---------------------------------------------------------------------------------------
# The fused multi-term add
# ---------------------------------------------------------------------------------------
def _cut_sum(sig, sign, lsb, q, dropped: str, wide: bool):
    """(sum over each row of the terms cut to multiples of 2^q, whether bits were dropped).

    Zero and padding terms have sig = 0 and add nothing. int64 (wide=False: the caller
    proved every magnitude below 2^60) or Python ints held in object arrays (wide=True), the
    same operations on both."""
    shift = lsb - q[:, None]
    if wide:
        sig = _to_obj(sig)
        shl = np.maximum(shift, 0).astype(object)
        shr = np.maximum(-shift, 0).astype(object)
        sign = sign.astype(np.int64).astype(object)
    else:  # a shift of 62 already empties a significand below 2^61
        shl, shr = np.clip(shift, 0, 62), np.clip(-shift, 0, 62)
    up = sig << shl  # one of shl, shr is 0: a left shift, or a right shift that drops bits
    kept = up >> shr
    back = kept << shr
    lost = back != up  # bits were dropped
    if dropped == "floor":  # a two's-complement shift: negative terms move away from zero
        kept = kept + (lost & (sign == 1))
    elif dropped == "sticky":  # the OR of the dropped bits lands in the last kept bit
        kept = kept | lost
    elif dropped == "nearest":
        rem = up - back
        hs = np.maximum(np.asarray(shr, np.int64) - 1, 0)
        half = (_ones_obj(sig.shape) << hs.astype(object)) if wide else np.left_shift(1, hs)
        kept = kept + (lost & ((rem > half) | ((rem == half) & (kept & 1 == 1))))
    v = (kept ^ -sign) + sign  # the signed value: -x = (x ^ -1) + 1
    return v.sum(axis=1), lost.any(axis=1)


def _aligned_sum(groups, E, pol, rows):
    """The reference's _aligned_sum over the terms of several groups (the products and C,
    without concatenating them). rows: the rows that are not special (None: all); the
    others' results are garbage, replaced by the caller.

    Returns (total, q, inexact); total is int64, or object when some row needed more bits."""
    P = groups[0].kind.shape[0]
    n = sum(g.kind.shape[1] for g in groups)
    if pol.F is None:  # q = the smallest lsb of a finite term (0 without any)
        imax = np.iinfo(np.int64).max
        q = np.full(P, imax, np.int64)
        for g in groups:
            if g.kind.shape[1]:
                q = np.minimum(q, np.where(g.sig != 0, g.lsb, imax).min(axis=1))
        q = np.where(q == imax, 0, q)
    else:
        q = E - pol.F
    # Rows that fit int64: every cut term is below 2^(top - q) and there are n of them.
    w = np.full(P, -_BIG, np.int64)
    sw = np.zeros(P, np.int64)
    for g in groups:
        if g.kind.shape[1]:
            w = np.maximum(w, (g.top - q[:, None]).max(axis=1))
            if g.sig.dtype == object:
                sw = np.maximum(sw, np.where(g.top > -_BIG, g.top - g.lsb, 0).max(axis=1))
    ok = (w + n.bit_length() <= _W) & (sw <= 61)
    if rows is not None:
        ok |= ~rows
    wide_any = not ok.all()
    total, lost = np.zeros(P, dtype=object if wide_any else np.int64), np.zeros(P, bool)
    nar, wid = (np.flatnonzero(ok), np.flatnonzero(~ok)) if wide_any else (None, None)
    for g in groups:
        if not g.kind.shape[1]:
            continue
        if not wide_any:
            sig = g.sig
            if sig.dtype == object:  # special rows may hold anything: they are ignored
                sig = np.where(rows[:, None] if rows is not None else True, sig, 0
                               ).astype(np.int64)
            t, lo = _cut_sum(sig, g.sign, g.lsb, q, pol.dropped, False)
            total, lost = total + t, lost | lo
            continue
        if len(nar):
            sig = g.sig[nar]
            if sig.dtype == object:
                keep = rows[nar][:, None] if rows is not None else True
                sig = np.where(keep, sig, 0).astype(np.int64)
            t, lo = _cut_sum(sig, g.sign[nar], g.lsb[nar], q[nar], pol.dropped, False)
            total[nar] += t.astype(object)
            lost[nar] |= lo
        t, lo = _cut_sum(g.sig[wid], g.sign[wid], g.lsb[wid], q[wid], pol.dropped, True)
        total[wid] += t
        lost[wid] |= lo
    if pol.carry is not None:  # a two's-complement register of F + 1 + carry + 1 bits
        width = pol.F + 1 + pol.carry + 1
        if total.dtype == object or width <= 61:
            h = 1 << (width - 1)
            total = (total + h) % (1 << width) - h
        # else |total| < 2^60 < 2^(width-1): nothing wraps
    return total, q, lost


def _max_align(groups):
    """The largest alignment exponent per row and whether any term takes part (the reference
    uses `E if E is not None else 0`). Terms without a part have align _NOAL."""
    P = groups[0].kind.shape[0]
    al = np.full(P, _NOAL, np.int64)
    for g in groups:
        if g.kind.shape[1]:
            al = np.maximum(al, g.align.max(axis=1))
    has = al > _NOAL
    return np.where(has, al, 0), has


def _specials(groups):
    """(nan, +Inf present, -Inf present) per row."""
    P = groups[0].kind.shape[0]
    nan, pinf, ninf = np.zeros(P, bool), np.zeros(P, bool), np.zeros(P, bool)
    for g in groups:
        if g.spec and g.kind.shape[1]:
            inf = g.kind == _INF
            nan |= (g.kind == _NAN).any(axis=1)
            pinf |= (inf & (g.sign == 0)).any(axis=1)
            ninf |= (inf & (g.sign == 1)).any(axis=1)
    return nan, pinf, ninf


def _fused_step(prods: _Terms, c: _Terms | None, fmt: Format, mode: Rounding, pol: _Policy,
                rand: _Rand):
    """One step for every row: the reference's _fused_step. Returns (codes, flags)."""
    groups = [g for g in (prods, c) if g is not None]
    P = prods.kind.shape[0]
    # 1. Specials: NaN; +Inf and -Inf together (INVALID); one Inf.
    nan, pinf, ninf = _specials(groups)
    special = nan | pinf | ninf
    invalid = ~nan & pinf & ninf
    anyspec = bool(special.any())
    rows = ~special if anyspec else None
    # 2-4. Align, cut and add.
    if pol.alignment == "anchor":
        total, q, inexact = _aligned_sum(groups, np.full(P, pol.anchor, np.int64), pol, rows)
    elif pol.alignment == "products_then_c" and c is not None:
        # The products align and add among themselves; their sum (aligning by the products'
        # exponent) and C then align to the larger exponent and add.
        Ep, hasp = _max_align([prods])
        s, qs, inexact = _aligned_sum([prods], Ep, pol, rows)
        nzs = (s != 0).astype(bool)
        mag = np.abs(s)
        s_term = _Terms(np.where(nzs, _FIN, _ZERO).astype(np.int8)[:, None],
                        (s < 0).astype(bool).astype(np.int64)[:, None], _narrow(mag)[:, None],
                        qs[:, None], np.where(hasp, Ep, _NOAL)[:, None],
                        np.where(nzs, qs + _bitlen(mag), -_BIG)[:, None], False)
        pair = [s_term, c]
        E2, _ = _max_align(pair)
        total, q, lost = _aligned_sum(pair, E2, pol, rows)
        inexact = inexact | lost
    else:
        E, _ = _max_align(groups)
        total, q, inexact = _aligned_sum(groups, E, pol, rows)
    if anyspec:
        inexact &= rows
    zero = (total == 0).astype(bool)
    neg = (total < 0).astype(bool).astype(np.int64)
    mag = np.abs(total)
    bl = _bitlen(mag)
    flags = np.where(inexact, _INEXACT, 0)
    flags = flags | np.where(inexact & (zero | (bl - 1 + q < fmt.emin)), _UNDERFLOW, 0)
    # Fold a wide sum into 60 bits and a sticky bit: every rounding decision is kept.
    if mag.dtype == object:
        sh = np.maximum(bl - _W, 0)
        sho = sh.astype(object)
        low = ((mag & ((_ones_obj(mag.shape) << sho) - 1)) != 0).astype(bool)
        mag = ((mag >> sho) | low).astype(np.int64)
        q = q + sh
    # 5. Round once; a zero sum takes the zero_sign policy's sign.
    nz = ~zero if rows is None else rows & ~zero
    r = rand.take(nz) if mode is Rounding.SR else None
    code, fl = _round(fmt, neg, np.where(nz, mag, 1), q, mode, pol, r)
    if nz.all():
        flags = flags | fl
    else:
        zcode = _zero_sign(groups, mode, pol).astype(np.int64) << (fmt.bits - 1)
        code = np.where(nz, code, zcode)
        flags = np.where(nz, flags | fl, flags)
    if anyspec:
        spec_code = np.where(nan | invalid, fmt.nan_code(0),
                             (ninf.astype(np.int64) << (fmt.bits - 1)) | fmt.inf_magnitude)
        code = np.where(special, spec_code, code)
        flags = np.where(special, np.where(invalid, _INVALID, 0), flags)
    return code, flags


def _zero_sign(groups, mode: Rounding, pol: _Policy) -> np.ndarray:
    """'ieee': -0 when every value term is -0; +0 when every one is +0 (or there is none);
    otherwise -0 only under rdn. 'positive': +0."""
    P = groups[0].kind.shape[0]
    if pol.zero_sign == "positive":
        return np.zeros(P, bool)
    nv, nneg, npos = (np.zeros(P, np.int64) for _ in range(3))
    for g in groups:
        z = g.kind == _ZERO
        nv = nv + (z | (g.kind == _FIN)).sum(axis=1)
        nneg = nneg + (z & (g.sign == 1)).sum(axis=1)
        npos = npos + (z & (g.sign == 0)).sum(axis=1)
    return np.where((nv > 0) & (nneg == nv), True,
                    np.where(npos == nv, False, mode is Rounding.RDN))


_EXACT = type("_Exact", (), dict(F=None, carry=None, dropped="truncate"))()


def _block_sums(T: _Terms, block: int, floor):
    """'scale_blocks': each block's products summed exactly; a block sum aligns by its own
    leading exponent (the reference's _block_sums). Returns (terms, flags per row): as
    there, +Inf and -Inf inside one block give a NaN block sum and raise INVALID."""
    P, k = T.kind.shape
    parts = []
    invalid = np.zeros(P, bool)
    for i in range(0, k, block):
        B = T.cols(slice(i, i + block))
        kind, sign = B.kind, B.sign
        nan, pinf, ninf = _specials([B])
        isnan = nan | (pinf & ninf)
        invalid |= ~nan & pinf & ninf
        isinf = ~isnan & (pinf | ninf)
        rows = ~(isnan | isinf)
        s, q, _ = _aligned_sum([B], None, _EXACT, rows if B.spec else None)
        s = np.where(rows, s, 0) if B.spec else s
        nzs = (s != 0).astype(bool)
        fin = (kind == _FIN).any(axis=1)
        nz = (kind == _ZERO).sum(axis=1)
        nzneg = ((kind == _ZERO) & (sign == 1)).sum(axis=1)
        zsign = ~fin & (nz > 0) & (nzneg == nz)
        mag = np.abs(s)
        bl = _bitlen(mag)
        zal = _NOAL if floor is None else floor
        okind = np.where(isnan, _NAN, np.where(isinf, _INF, np.where(nzs, _FIN, _ZERO)))
        osign = np.where(isinf, ninf, np.where(nzs, (s < 0).astype(bool), zsign))
        osign = np.where(isnan, 0, osign).astype(np.int64)
        fin_out = okind == _FIN
        align = np.where(fin_out, bl - 1 + q, np.where(okind == _ZERO, zal, _NOAL))
        parts.append((okind.astype(np.int8), osign, _narrow(mag), q, align,
                      np.where(fin_out, bl + q, -_BIG)))
    sigs = [p[2] for p in parts]
    if any(x.dtype == object for x in sigs):
        sigs = [_to_obj(x) for x in sigs]
    st = lambda i: np.stack([p[i] for p in parts], axis=1)  # noqa: E731
    return (_Terms(st(0), st(1), np.stack(sigs, axis=1), st(3), st(4), st(5), T.spec),
            np.where(invalid, int(Flag.INVALID), 0))


# ---------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------
def _side(codes, fmt, scodes, sfmt, flush: bool, floor, kp: int):
    """One operand's per-element factors (element times its scale), padded to kp columns:
    nan/inf/zero flags, sign, significand, lsb, the finite alignment exponent `ex`, the
    alignment exponent `zal` in which a zero factor counts as the floor (equal to `ex` for
    a finite product), and the leading-bit bound `top` (-_BIG/2 for a zero or padding
    factor). Padding columns have sig 0 and ex = zal = _NOAL / 2: their products take no
    part in anything."""
    kind, sign, exp, sig = _kinds(fmt, codes, flush)
    nan, inf, zero = kind == _NAN, kind == _INF, kind == _ZERO
    lsb, ex = exp - fmt.man_bits, exp.copy()
    fl = 0 if floor is None else floor
    zal = np.where(zero, fl, exp)
    if scodes is not None:
        skind, _, sexp, ssig = _kinds(sfmt, scodes, False)
        nan = nan | (skind == _NAN)
        inf = inf | (skind == _INF)
        szero = skind == _ZERO
        zero = zero | szero
        sig = sig * ssig
        lsb = lsb + sexp - sfmt.man_bits
        ex = ex + sexp
        zal = zal + np.where(szero, fl, sexp)
    top = np.where(zero, -_BIG // 2, lsb + _bitlen(sig))
    r, k = kind.shape
    out = dict(nan=nan, inf=inf, zero=zero, sign=sign, sig=sig, lsb=lsb, ex=ex, zal=zal,
               top=top)
    if kp > k:
        for key, v in out.items():
            out[key] = np.concatenate([v, np.zeros((r, kp - k), v.dtype)], axis=1)
        for key in ("ex", "zal"):
            out[key][:, k:] = _NOAL // 2
        out["top"][:, k:] = -_BIG // 2
    return out


def _products(a: dict, b: dict, pad: np.ndarray, cfg: AccumConfig, pol: _Policy):
    """The exact products of A's and B's factors (dicts of arrays that broadcast to
    (..., ik): outer products for a GEMM, pairs for a batch of dots) as terms of shape
    (P, ik), and the flags they raised per output element (the reference's _product)."""
    spec = bool(a["nan"].any() or a["inf"].any() or b["nan"].any() or b["inf"].any())
    zero = a["zero"] | b["zero"]
    shape = zero.shape
    ik = shape[-1]
    P = int(np.prod(shape[:-1]))
    kind = np.where(zero, _ZERO, _FIN).astype(np.int8)
    sig = a["sig"] * b["sig"]  # 0 for a zero factor and for padding
    if cfg.align_floor is not None:
        align = a["zal"] + b["zal"]  # = ex + ex for a finite product
    else:
        align = np.where(zero, _NOAL, a["ex"] + b["ex"])
    top = a["top"] + b["top"]
    flags = np.zeros(P, np.int64)
    if spec:
        nan, inf = a["nan"] | b["nan"], a["inf"] | b["inf"]
        invalid = inf & zero & ~nan  # Inf times zero
        kind[inf] = _INF
        kind[nan | invalid] = _NAN
        notfin = nan | inf
        sig = np.where(notfin, 0, sig)
        align = np.where(notfin, _NOAL, align)
        top = np.where(notfin, -_BIG, top)
        flags = np.where(invalid.any(axis=-1), _INVALID, 0).reshape(P)
    kind[..., pad] = _PAD
    if cfg.product_exponent == "value":  # floor(log2 |p|) instead of the operands' sum
        fin = kind == _FIN
        top = np.where(fin, a["lsb"] + b["lsb"] + _bitlen(sig), -_BIG)
        align = np.where(fin, top - 1, align)
    f2 = lambda x: np.broadcast_to(x, shape).reshape(P, ik)  # noqa: E731
    T = _Terms(f2(kind), f2(a["sign"] ^ b["sign"]), f2(sig), f2(a["lsb"] + b["lsb"]),
               f2(align), f2(top), spec)
    if cfg.product_format is not None:
        T, fl = _round_products(T, cfg, pol)
        flags = flags | fl
    return T, flags


def _round_products(T: _Terms, cfg: AccumConfig, pol: _Policy):
    """Every finite product rounded into product_format (the reference's _round), then a
    register term of it: it aligns by its own exponent in that format."""
    pf = cfg.product_format
    fin = T.kind == _FIN
    code, fl = _round(pf, T.sign, np.where(fin, T.sig, 1), T.lsb, cfg.product_rounding, pol)
    shape = T.kind.shape
    R = _register_terms(pf, code.reshape(-1), cfg.align_floor, False)
    r = lambda x: x.reshape(shape)  # noqa: E731
    pick = lambda new, old: np.where(fin, r(new), old)  # noqa: E731
    out = _Terms(pick(R.kind, T.kind), pick(R.sign, T.sign), pick(R.sig, T.sig),
                 pick(R.lsb, T.lsb), pick(R.align, T.align), pick(R.top, T.top),
                 T.spec or R.spec)
    return out, np.bitwise_or.reduce(np.where(fin, fl, 0), axis=1)


# ---------------------------------------------------------------------------------------
# Steps, instructions, the chain along K
# ---------------------------------------------------------------------------------------
def _steps(ik: int, cfg: AccumConfig):
    """The reference's _split: (a column permutation of one instruction or None, the steps
    as slices of the permuted columns). Interleaved lanes are gathered by the permutation
    (the order of the terms inside a step never matters: the step's sum is exact)."""
    t = cfg.terms_per_step or ik
    if cfg.k_split == "interleaved" and ik // t > 1:
        n, g = ik // t, cfg.interleave
        lanes = [[i for i in range(ik) if (i // g) % n == s] for s in range(n)]
        ends = np.cumsum([0] + [len(x) for x in lanes])  # steps may differ in size (and
        # be empty) when the granule does not divide the lanes evenly
        perm = np.array([i for x in lanes for i in x], np.int64)
        return perm, [slice(int(ends[s]), int(ends[s + 1])) for s in range(n)]
    return None, [slice(i, min(i + t, ik)) for i in range(0, ik, t)]


def _permute(sides, pad, perm, ik: int, n_instr: int):
    """Apply one instruction's column permutation to every instruction of the sides."""
    if perm is None:
        return sides, pad
    full = (np.arange(n_instr)[:, None] * ik + perm[None, :]).reshape(-1)
    return [{k: v[:, full] for k, v in sd.items()} for sd in sides], pad[full]


def _chain(views, pad, c_codes, c_fmt, cfg, block, ik, n_instr, rand):
    """D and flags for P output elements: the reference's _dot, instruction by instruction.

    views(cols) gives A's and B's factor dicts over one instruction's columns, broadcasting
    to (..., ik) with P = the product of the leading dimensions."""
    flush = cfg.input_subnormals == "flush"
    pol, pol_exact = _Policy(cfg), _Policy(cfg, exact_add=True)
    out_fmt, out_mode = cfg.output_format, cfg.rounding
    step_fmt, step_mode = cfg.step_fmt, cfg.step_mode
    steps = None if cfg.k_split == "scale_blocks" else _steps(ik, cfg)[1]
    code, fmt = c_codes, c_fmt
    flags = np.zeros(len(c_codes), np.int64)
    for ins in range(n_instr):
        cols = slice(ins * ik, (ins + 1) * ik)
        T, fl = _products(*views(cols), pad[cols], cfg, pol)
        flags |= fl
        # C (the instruction's, or the previous instruction's result) as a term.
        c = _register_terms(fmt, code, cfg.align_floor, flush)
        if steps is None:
            sums, fl = _block_sums(T, block, cfg.align_floor)
            flags |= fl
            groups = [sums]
        else:
            groups = [T.cols(s) for s in steps]
        if cfg.c_entry == "inside":
            # C is one more term of the first step; each step's rounded result is the next
            # step's C; the last step rounds into the output format.
            acc = c
            for i, G in enumerate(groups):
                last = i == len(groups) - 1
                f, md = (out_fmt, out_mode) if last else (step_fmt, step_mode)
                code, fl = _fused_step(G, acc, f, md, pol, rand)
                flags |= fl
                acc = _register_terms(f, code, cfg.align_floor, False)
        else:
            # C after: the steps chain from +0, then one exact add of C rounded once.
            acc = None
            for G in groups:
                code, fl = _fused_step(G, acc, step_fmt, step_mode, pol, rand)
                flags |= fl
                acc = _register_terms(step_fmt, code, cfg.align_floor, False)
            code, fl = _fused_step(acc, c, out_fmt, out_mode, pol_exact, rand)
            flags |= fl
            f = out_fmt
        code = _to_register(f, code, cfg)
        fmt = cfg.register
    return code, flags


def _needs_reference(cfg: AccumConfig, afmt, bfmt, asc, bsc, sfmt) -> bool:
    bits = _sig_bits(afmt) + _sig_bits(bfmt)
    bits += sum(_sig_bits(sfmt) for s in (asc, bsc) if s is not None)
    return bits > 60


def gemm_fast(A, B, C, config: AccumConfig, *, c_fmt=None, rand_bits=None):
    """D = A @ B + C, bit for bit as `reference.gemm` (same arguments and results), with
    numpy arrays over the output elements. See the module docstring for what runs where."""
    g = _ref.gemm_inputs(A, B, C, config, c_fmt)
    ac, afmt, asc, bc, bfmt, bsc, sfmt = g.ac, g.afmt, g.asc, g.bc, g.bfmt, g.bsc, g.sfmt
    m, n, k, reg, cf, c_all, block = g.m, g.n, g.k, g.reg, g.cf, g.C, g.block
    out = np.zeros((m, n), dtype=reg.code_dtype)
    flags = np.zeros((m, n), dtype=np.uint8)
    if m == 0 or n == 0:
        return out, flags
    if _needs_reference(config, afmt, bfmt, asc, bsc, sfmt):
        return _ref.gemm(A, B, C, config, c_fmt=c_fmt, rand_bits=rand_bits)
    rb = _rand_array(rand_bits, (m, n))
    ik = config.instruction_k or max(k, 1)
    n_instr = -(-max(k, 1) // ik)
    kp = n_instr * ik
    flush = config.input_subnormals == "flush"
    a = _side(ac, afmt, asc, sfmt, flush, config.align_floor, kp)
    b = _side(bc, bfmt, bsc, sfmt, flush, config.align_floor, kp)
    pad = np.arange(kp) >= k  # a short last instruction's padding: no part in anything
    if config.k_split != "scale_blocks":
        (a, b), pad = _permute([a, b], pad, _steps(ik, config)[0], ik, n_instr)
    # Tiles of mi rows x nj columns with about _CHUNK products each: this bounds the memory
    # of the temporaries (a few tens of arrays of that size).
    nj = min(n, max(1, _CHUNK // ik))
    mi = max(1, _CHUNK // (nj * ik))
    for r0 in range(0, m, mi):
        rows = np.arange(r0, min(r0 + mi, m))
        ai = {key: v[rows][:, None] for key, v in a.items()}
        for c0 in range(0, n, nj):
            cols_j = np.arange(c0, min(c0 + nj, n))
            ri = np.repeat(rows, len(cols_j))
            cj = np.tile(cols_j, len(rows))
            rand = _Rand(None if rb is None else rb[ri, cj])
            bj = {key: v[cols_j][None] for key, v in b.items()}
            views = lambda cols: ({key: v[..., cols] for key, v in ai.items()},  # noqa: E731
                                  {key: v[..., cols] for key, v in bj.items()})
            code, fl = _chain(views, pad, c_all[ri, cj], cf, config, block, ik, n_instr, rand)
            shape = (len(rows), len(cols_j))
            out[np.ix_(rows, cols_j)] = code.reshape(shape).astype(out.dtype)
            flags[np.ix_(rows, cols_j)] = fl.reshape(shape).astype(np.uint8)
    return out, flags


def _batch_scales(scale, p: int, k: int, name: str):
    """None, one code for everything, one code per row (P,), or one per block (P, nb) ->
    (per-element codes P x K or None, block length or None)."""
    if scale is None:
        return None, None
    arr = np.asarray(scale)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name}: scale codes must be integers (an int or an integer array), "
                         f"got {type(scale).__name__} of dtype {arr.dtype}")
    if arr.ndim == 0:
        return np.full((p, k), int(arr), np.int64), None
    if arr.ndim == 1 and arr.shape[0] == p:
        return np.repeat(arr.astype(np.int64)[:, None], k, axis=1), None
    if arr.ndim == 2 and arr.shape[0] == p and arr.shape[1] and k % arr.shape[1] == 0:
        block = k // arr.shape[1]
        return np.repeat(arr.astype(np.int64), block, axis=1), block
    raise ValueError(f"{name}: shape {arr.shape} for {p} dots of K={k}; allowed: None, one code, "
                     f"({p},) one per dot, or ({p}, n_blocks) with K a multiple of n_blocks")


def dot_batch(a_codes, b_codes, a_fmt, b_fmt, a_scale, b_scale, c_bits, config: AccumConfig,
              *, scale_fmt=E8M0, c_fmt=None, rand_bits=None):
    """P independent `dot`s at once, bit for bit as `reference.dot` on each row.

    a_codes, b_codes: P x K element codes of a_fmt, b_fmt. a_scale, b_scale: None, one scale
    code for all, P codes (one per dot), or P x n_blocks codes (blocks of K // n_blocks).
    c_bits: P codes of c_fmt (default config.register), or None for +0. rand_bits: None, an
    int, P ints (one per dot, reused for every rounding) or P x R (consumed in order).
    Returns (P result bits in config.register, P Flag bits as uint8)."""
    a_fmt, b_fmt = get_format(a_fmt), get_format(b_fmt)
    scale_fmt = get_format(scale_fmt)
    a = np.asarray(a_codes)
    b = np.asarray(b_codes)
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(f"a_codes {a.shape} and b_codes {b.shape}: two P x K arrays of the "
                         "same shape are needed")
    p, k = a.shape
    reg = config.register
    cf = reg if c_fmt is None else get_format(c_fmt)
    c = np.zeros(p, np.int64) if c_bits is None else np.asarray(c_bits)
    if c.shape != (p,):
        raise ValueError(f"c_bits has shape {c.shape}; allowed: None or ({p},)")
    _ref.check_code_array(a, a_fmt, "a_codes")
    _ref.check_code_array(b, b_fmt, "b_codes")
    _ref.check_code_array(c, cf, "c_bits")
    sa, block_a = _batch_scales(a_scale, p, k, "a_scale")
    sb, block_b = _batch_scales(b_scale, p, k, "b_scale")
    for s, name in ((sa, "a_scale"), (sb, "b_scale")):
        if s is not None:
            _ref.check_code_array(s, scale_fmt, name)
    block = config.block_terms or block_a or block_b
    if config.k_split == "scale_blocks":
        if block is None:
            raise ValueError("k_split='scale_blocks' needs block_terms in the config or "
                             "per-block scale codes")
        if block_a and block_b and block_a != block_b and not config.block_terms:
            raise ValueError(f"a_scale blocks of {block_a} and b_scale blocks of {block_b} "
                             "differ; set block_terms")
    out = np.zeros(p, dtype=reg.code_dtype)
    flags = np.zeros(p, dtype=np.uint8)
    if p == 0:
        return out, flags
    from . import native as _nat
    if _nat.use_native(config):
        res = _nat.dot_batch_native(a, b, a_fmt, b_fmt, a_scale, b_scale, c, cf, config,
                                    scale_fmt, block, rand_bits)
        if res is not None:
            return res
    if _needs_reference(config, a_fmt, b_fmt, sa, sb, scale_fmt):
        rb = None if rand_bits is None else np.asarray(rand_bits)
        for i in range(p):
            r = None if rb is None else (int(rb) if rb.ndim == 0 else
                                         int(rb[i]) if rb.ndim == 1 else list(rb[i]))
            out[i], flags[i] = _ref.dot(
                a[i].tolist(), b[i].tolist(), a_fmt, b_fmt,
                None if sa is None else sa[i].tolist(), None if sb is None else sb[i].tolist(),
                int(c[i]), config, scale_fmt=scale_fmt, c_fmt=cf, rand_bits=r)
        return out, flags
    rb = _rand_array(rand_bits, (p,))
    ik = config.instruction_k or max(k, 1)
    n_instr = -(-max(k, 1) // ik)
    kp = n_instr * ik
    flush = config.input_subnormals == "flush"
    sa_ = _side(a, a_fmt, sa, scale_fmt, flush, config.align_floor, kp)
    sb_ = _side(b, b_fmt, sb, scale_fmt, flush, config.align_floor, kp)
    pad = np.arange(kp) >= k
    if config.k_split != "scale_blocks":
        (sa_, sb_), pad = _permute([sa_, sb_], pad, _steps(ik, config)[0], ik, n_instr)
    step = max(1, _CHUNK // ik)
    for r0 in range(0, p, step):
        rows = slice(r0, min(r0 + step, p))
        views = lambda cols: ({key: v[rows, cols] for key, v in sa_.items()},  # noqa: E731
                              {key: v[rows, cols] for key, v in sb_.items()})
        code, fl = _chain(views, pad, c[rows].astype(np.int64), cf, config, block, ik,
                          n_instr, _Rand(None if rb is None else rb[rows]))
        out[rows], flags[rows] = code.astype(out.dtype), fl.astype(np.uint8)
    return out, flags


def gemm_auto(A, B, C, config: AccumConfig, *, c_fmt=None, rand_bits=None,
              method: str = "auto", threads=None):
    """`gemm` with a choice of implementation; every method gives the same bits and flags.

    method: 'native' (`native.gemm_native`, the C kernel, which falls back to 'fast' with a
    NativeFallbackWarning for a call it cannot take: no native module, scales over 8 bits,
    rand_bits the numpy path reports on), 'fast' (`gemm_fast`, numpy),
    'reference' (`reference.gemm`, the pure-Python specification), or 'auto': the C kernel
    when the native backend is active (`emulator._backend`) and it models the config, else
    the reference for at most AUTO_MAX_REFERENCE output elements (there a per-element Python
    loop beats numpy's per-call overhead), else the fast path. threads: the C kernel's thread
    count (None: MXEMU_THREADS, else every core); the other paths are single-threaded."""
    from . import native as _nat
    if method not in METHODS:
        raise ValueError(f"method={method!r}; allowed: {', '.join(map(repr, METHODS))}")
    if method == "auto" and _nat.use_native(config):
        res = _nat._gemm_c(A, B, C, config, c_fmt, rand_bits, threads)
        if not isinstance(res, str):
            return res
        method = "fast"  # a call the C kernel cannot take: the numpy path, silently
    if method == "auto":
        method = "fast" if _outputs(A, B) > AUTO_MAX_REFERENCE else "reference"
    if method == "native":
        return _nat.gemm_native(A, B, C, config, c_fmt=c_fmt, rand_bits=rand_bits,
                                threads=threads)
    fn = gemm_fast if method == "fast" else _ref.gemm
    return fn(A, B, C, config, c_fmt=c_fmt, rand_bits=rand_bits)


def _outputs(A, B) -> int:
    """M * N of a GEMM's operands (large when the shapes cannot be read: the fast path then
    reports the error exactly as the reference would)."""
    from ..mxtensor import MXTensor

    def shape(x):
        if isinstance(x, MXTensor):
            return tuple(x.shape)
        if isinstance(x, tuple) and len(x) == 2:
            return np.shape(x[0])
        return ()
    sa, sb = shape(A), shape(B)
    if len(sa) != 2 or len(sb) != 2:
        return AUTO_MAX_REFERENCE + 1
    return sa[0] * sb[1]
