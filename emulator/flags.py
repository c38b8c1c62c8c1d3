"""Exception flags returned next to every result (never global state)."""
import enum


class Flag(enum.IntFlag):
    """Per-element flag bits. Values are part of the C ABI (native/include/mxemu.h)."""

    NONE = 0
    INEXACT = 0x01  # the result differs from the exact input value
    UNDERFLOW = 0x02  # inexact and tiny (0 < |v| < min normal, tininess before rounding)
    OVERFLOW = 0x04  # a finite value rounded beyond the largest finite magnitude
    INVALID = 0x08  # no representation of that kind: NaN/Inf/negative/zero where not allowed
    SCALE_CLAMPED = 0x10  # quantize: shared exponent clamped into the scale format's range
    SATURATED = 0x20  # quantize: element clamped to the element format's largest magnitude
