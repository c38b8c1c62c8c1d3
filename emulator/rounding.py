"""Rounding modes and the single round-and-pack routine of the reference backend.

Every value that leaves the reference model as a code goes through `round_pack`. It takes an
exact positive value ``N * 2**e2 / D`` (Python integers, so nothing is ever rounded on the way
in) and owns every rounding, overflow and underflow decision. docs/CODECS.md section 3 is the
specification; the C core (native/src/round.c) implements the same steps.
"""
from __future__ import annotations

import enum

from .flags import Flag


class Rounding(enum.IntEnum):
    """Rounding modes. Integer values are part of the C ABI."""

    RNE = 0  # nearest, ties to even (code magnitude's last bit)
    RNA = 1  # nearest, ties away from zero
    RTZ = 2  # toward zero
    RUP = 3  # toward +Inf
    RDN = 4  # toward -Inf
    RTO = 5  # round to odd: truncate, set the last bit if anything was dropped
    SR = 6  # stochastic, with caller-supplied random bits


class Overflow(enum.IntEnum):
    """What a finite value beyond the largest finite magnitude becomes."""

    SATURATE = 0
    INF = 1
    NAN = 2


def parse_rounding(rounding, argname="rounding") -> Rounding:
    """Accept a Rounding or its name in any case ("rne", "RTZ", ...)."""
    if isinstance(rounding, Rounding):
        return rounding
    if isinstance(rounding, int) and not isinstance(rounding, bool) and 0 <= rounding <= 6:
        return Rounding(rounding)  # the C ABI's integer values
    if isinstance(rounding, str) and rounding.upper() in Rounding.__members__:
        return Rounding[rounding.upper()]
    allowed = ", ".join(m.lower() for m in Rounding.__members__)
    raise ValueError(f"{argname}={rounding!r} is not a rounding mode; allowed: {allowed}")


def parse_overflow(fmt, overflow) -> Overflow:
    """Resolve the overflow policy for `fmt` (None: Inf where the format has it, else saturate)."""
    if overflow is None:
        return Overflow.INF if fmt.has_inf else Overflow.SATURATE
    if isinstance(overflow, str) and overflow.upper() in Overflow.__members__:
        overflow = Overflow[overflow.upper()]
    if not isinstance(overflow, Overflow):
        raise ValueError(
            f"overflow={overflow!r} is not an overflow policy; allowed: saturate, inf, nan, None")
    if overflow is Overflow.INF and not fmt.has_inf:
        raise ValueError(f"overflow='inf' is not possible: {fmt.name} has no infinity; "
                         "allowed: saturate" + (", nan" if fmt.has_nan else ""))
    if overflow is Overflow.NAN and not fmt.has_nan:
        raise ValueError(f"overflow='nan' is not possible: {fmt.name} has no NaN; "
                         "allowed: saturate" + (", inf" if fmt.has_inf else ""))
    return overflow


def rounds_toward_zero(mode: Rounding, sign: int) -> bool:
    """True when `mode` rounds a value of this sign toward zero (so overflow stays finite)."""
    return (mode in (Rounding.RTZ, Rounding.RTO)
            or (mode is Rounding.RUP and sign)
            or (mode is Rounding.RDN and not sign))


def floor_log2_ratio(n: int, d: int, e2: int) -> int:
    """floor(log2(n * 2**e2 / d)) for positive integers n, d, computed exactly."""
    t = n.bit_length() - d.bit_length() + e2
    # n*2^e2/d lies in [2^(t-1), 2^(t+1)); step down if it is below 2^t.
    k = e2 - t
    if (n << k if k >= 0 else n) < (d if k >= 0 else d << -k):
        t -= 1
    return t


def overflow_code(fmt, sign: int, mode: Rounding, overflow: Overflow, limit: int) -> int:
    """The code an overflowing finite value becomes under the policy."""
    if overflow is Overflow.SATURATE or rounds_toward_zero(mode, sign):
        return fmt.pack(sign, limit)
    return fmt.pack(sign, fmt.inf_magnitude) if overflow is Overflow.INF else fmt.nan_code(sign)


def round_pack(fmt, sign: int, n: int, d: int, e2: int, mode: Rounding, overflow: Overflow,
               rand: int = 0, sr_bits: int = 32, int_min: bool = False):
    """Round the exact value (-1)**sign * n * 2**e2 / d (n > 0, d > 0) into `fmt`.

    Returns (code, flags). Signs, zeros, NaN and Inf inputs are handled by the caller
    (`encode_value`); this routine sees only finite nonzero magnitudes.
    """
    m = fmt.man_bits
    flags = 0
    # The largest magnitude this sign may take (INT8 reaches -128 only when asked).
    limit = fmt.max_code + (1 if (fmt.kind == "int" and sign and int_min) else 0)

    # 1. Leading-bit exponent t of the exact value.
    t = floor_log2_ratio(n, d, e2)
    tiny = t < fmt.emin if fmt.kind == "float" else t < -m

    # 2. Formats without zero or subnormals (E8M0): below the minimum there is nothing to
    #    round to but the minimum itself.
    if fmt.kind == "float" and not fmt.subnormals and t < fmt.emin:
        return fmt.pack(sign, 0), int(Flag.UNDERFLOW | Flag.INEXACT)

    # 3. Past the top binade every mode overflows (the unbounded-exponent result is >= 2^(emax+1)).
    #    INT8's -128 (-2.0) lies one binade higher, so ints are checked after rounding.
    if t > fmt.emax + (1 if fmt.kind == "int" else 0):
        return overflow_code(fmt, sign, mode, overflow, limit), int(Flag.OVERFLOW | Flag.INEXACT)

    # 4. Quantum q: the weight of the last kept bit. Fixed point for INT, else from the binade.
    q = -m if fmt.kind == "int" else max(t, fmt.emin) - m
    k = e2 - q
    num, den = (n << k, d) if k >= 0 else (n, d << -k)
    kept, rem = divmod(num, den)  # value / 2^q = kept + rem/den, 0 <= rem < den

    # 5. The truncated code magnitude: magnitudes are monotonic, so rounding up is "+1".
    if fmt.kind == "int" or kept < (1 << m):
        mag = kept  # INT8 magnitude, or a subnormal (exponent field 0)
    else:
        mag = ((t + fmt.bias) << m) + kept - (1 << m)

    # 6. The rounding decision; every mode is decided here and nowhere else.
    inexact = rem != 0
    if inexact:
        flags |= Flag.INEXACT
        if mode is Rounding.RNE:
            up = 2 * rem > den or (2 * rem == den and (mag & 1))
        elif mode is Rounding.RNA:
            up = 2 * rem >= den
        elif mode is Rounding.RTZ:
            up = False
        elif mode is Rounding.RUP:
            up = not sign
        elif mode is Rounding.RDN:
            up = bool(sign)
        elif mode is Rounding.RTO:
            up = False
            mag |= 1
        else:  # SR: the first sr_bits of the dropped fraction plus the random bits carry?
            frac = (rem << sr_bits) // den
            up = frac + (rand & ((1 << sr_bits) - 1)) >= (1 << sr_bits)
        if up:
            mag += 1
        if tiny:
            flags |= Flag.UNDERFLOW

    # 7. Overflow after rounding (e.g. E4M3 464 < v -> 480 > 448, or RTO reaching the NaN code).
    if mag > limit:
        return overflow_code(fmt, sign, mode, overflow, limit), int(flags | Flag.OVERFLOW
                                                                   | Flag.INEXACT)
    return fmt.pack(sign, mag), int(flags)
