"""An exact rational oracle for the numerics tests, and its self-tests.

Nothing here imports the emulator: formats are written out as (exponent bits, mantissa bits,
bias, specials) from IEEE 754 / OCP OFP8 / OCP MX v1.0, values are `fractions.Fraction`, and
rounding into an IEEE-style format is done by comparing the value with its two neighbours
(a different route from the emulator's round_pack). The other test_numerics_* modules import
the helpers below.
"""
from __future__ import annotations

import math
from fractions import Fraction

import pytest

# name -> (exp_bits, man_bits, bias, specials, signed); specials: ieee / fn / finite / int / e8m0
LAYOUTS = {
    "fp32": (8, 23, 127, "ieee", True),
    "fp16": (5, 10, 15, "ieee", True),
    "bf16": (8, 7, 127, "ieee", True),
    "tf32": (8, 10, 127, "ieee", True),
    "e8m13": (8, 13, 127, "ieee", True),
    "e4m3": (4, 3, 7, "fn", True),
    "e5m2": (5, 2, 15, "ieee", True),
    "e3m2": (3, 2, 3, "finite", True),
    "e2m3": (2, 3, 1, "finite", True),
    "e2m1": (2, 1, 1, "finite", True),
    "int8": (0, 6, 0, "int", True),
    "e8m0": (8, 0, 127, "e8m0", False),
    "ue4m3": (4, 3, 7, "fn", False),
}
NAN, POS_INF, NEG_INF = "nan", "+inf", "-inf"
MODES = ("rne", "rna", "rtz", "rup", "rdn")


def bits_of(name):
    e, m, _, sp, signed = LAYOUTS[name]
    return m + 2 if sp == "int" else int(signed) + e + m


def value(name: str, code: int):
    """The exact value of a code as a Fraction, or NAN / POS_INF / NEG_INF."""
    e, m, bias, sp, signed = LAYOUTS[name]
    nbits = bits_of(name)
    if sp == "int":
        v = code - (1 << nbits) if code >> (nbits - 1) else code
        return Fraction(v, 1 << m)
    if sp == "e8m0":
        return NAN if code == 0xFF else Fraction(2) ** (code - 127)
    sign = (code >> (nbits - 1)) & 1 if signed else 0
    mag = code & ((1 << (nbits - int(signed))) - 1)
    field, frac = mag >> m, mag & ((1 << m) - 1)
    if sp == "ieee" and field == (1 << e) - 1:
        return NAN if frac else (NEG_INF if sign else POS_INF)
    if sp == "fn" and mag == (1 << (e + m)) - 1:
        return NAN
    if field == 0:
        v = Fraction(frac, 1 << m) * Fraction(2) ** (1 - bias)
    else:
        v = (1 + Fraction(frac, 1 << m)) * Fraction(2) ** (field - bias)
    return -v if sign else v


def is_neg_zero(name: str, code: int) -> bool:
    e, m, _, sp, signed = LAYOUTS[name]
    return signed and sp not in ("int", "e8m0") and code == 1 << (bits_of(name) - 1)


def _floor_log2(v: Fraction) -> int:
    """floor(log2 v) of a positive Fraction, exactly."""
    t = v.numerator.bit_length() - v.denominator.bit_length()
    while Fraction(2) ** t > v:
        t -= 1
    while Fraction(2) ** (t + 1) <= v:
        t += 1
    return t


def round_to(name: str, v: Fraction, mode: str = "rne", overflow: str = "ieee",
             neg_zero: bool = False) -> int:
    """The code of an IEEE-style format nearest to v under mode (Fraction in, int out).

    The two neighbours lo <= |v| <= hi on the grid of the binade are compared with |v|;
    overflow 'ieee': Inf, or the largest finite value when the mode rounds toward zero;
    'inf': always Inf. A zero v gives -0 when neg_zero.
    """
    e, m, bias, sp, _ = LAYOUTS[name]
    assert sp == "ieee"
    nbits = bits_of(name)
    sign = int(v < 0)
    a = abs(v)
    emin, emax = 1 - bias, (1 << e) - 2 - bias
    max_finite = (2 - Fraction(1, 1 << m)) * Fraction(2) ** emax
    inf_code = sign << (nbits - 1) | ((1 << e) - 1) << m
    max_code = sign << (nbits - 1) | (((1 << e) - 2) << m) | ((1 << m) - 1)
    if a == 0:
        return int(neg_zero) << (nbits - 1)
    toward_zero = mode == "rtz" or (mode == "rup" and sign) or (mode == "rdn" and not sign)
    q = Fraction(2) ** (max(_floor_log2(a), emin) - m)
    lo = (a // q) * q
    hi = lo + q if lo != a else lo
    if lo == hi:
        r = lo
    elif mode == "rtz":
        r = lo
    elif mode == "rup":
        r = lo if sign else hi
    elif mode == "rdn":
        r = hi if sign else lo
    else:
        d_lo, d_hi = a - lo, hi - a
        if d_lo != d_hi:
            r = lo if d_lo < d_hi else hi
        elif mode == "rna":
            r = hi
        else:
            r = lo if (lo / q) % 2 == 0 else hi
    if r > max_finite:
        if overflow == "saturate" or (overflow == "ieee" and toward_zero):
            return max_code
        return inf_code
    if r == 0:
        return sign << (nbits - 1)
    t = _floor_log2(r)
    if t < emin:
        mag = int(r / Fraction(2) ** (emin - m))
    else:
        mag = (t + bias) << m | int((r / Fraction(2) ** t - 1) * (1 << m))
    return sign << (nbits - 1) | mag


def exact_dot(a, b, a_name, b_name, c=0, c_name="fp32", sa=None, sb=None, scale_name="e8m0"):
    """The exact sum_k a_k b_k (scales) + C as a Fraction (no specials expected)."""
    total = value(c_name, c)
    for k, (x, y) in enumerate(zip(a, b)):
        p = value(a_name, x) * value(b_name, y)
        if sa is not None:
            p *= value(scale_name, sa[k])
        if sb is not None:
            p *= value(scale_name, sb[k])
        total += p
    return total


def fp32_bits(x: float) -> int:
    import struct
    return struct.unpack("<I", struct.pack("<f", x))[0]


def codes_of(name: str) -> range:
    return range(1 << bits_of(name))


# ---------------------------------------------------------------------------------------
# Self-tests
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,code,want", [
    ("fp32", 0x3F800000, Fraction(1)), ("fp32", 0x00000001, Fraction(2) ** -149),
    ("fp16", 0x7BFF, Fraction(65504)), ("bf16", 0x3F80, Fraction(1)),
    ("e4m3", 0x7E, Fraction(448)), ("e4m3", 0x01, Fraction(2) ** -9), ("e4m3", 0x7F, NAN),
    ("e5m2", 0x7B, Fraction(57344)), ("e5m2", 0x7C, POS_INF), ("e5m2", 0xFC, NEG_INF),
    ("e2m1", 0x7, Fraction(6)), ("e3m2", 0x1F, Fraction(28)), ("e2m3", 0x1F, Fraction(15, 2)),
    ("int8", 0x7F, Fraction(127, 64)), ("int8", 0x80, Fraction(-2)),
    ("e8m0", 0x00, Fraction(2) ** -127), ("e8m0", 0xFF, NAN), ("ue4m3", 0x7E, Fraction(448)),
])
def test_oracle_values(name, code, want):
    assert value(name, code) == want


@pytest.mark.parametrize("name", ["fp16", "bf16"])
def test_oracle_round_trip(name):
    """round_to(value(c)) == c for finite codes (every 29th, and the edges), every mode."""
    edges = [0, 1, 2, 0x3FF, 0x400, 0x401, 0x7BFF, 0x7F7F, 0x8000, 0x8001, 0xFBFF]
    for code in sorted(set(list(range(0, 1 << 16, 29)) + edges)):
        v = value(name, code)
        if isinstance(v, str):
            continue
        for mode in MODES:
            got = round_to(name, v, mode, neg_zero=code == 1 << 15)
            assert got == code, (name, hex(code), mode)


def test_oracle_rounding_between_neighbours():
    one = Fraction(1)
    ulp = Fraction(2) ** -23
    assert round_to("fp32", one + ulp / 2) == 0x3F800000  # tie, even
    assert round_to("fp32", one + 3 * ulp / 2) == 0x3F800002  # tie, even
    assert round_to("fp32", one + ulp / 2, "rna") == 0x3F800001
    assert round_to("fp32", one + ulp / 4, "rup") == 0x3F800001
    assert round_to("fp32", -(one + ulp / 4), "rup") == 0xBF800000
    assert round_to("fp32", -(one + ulp / 4), "rdn") == 0xBF800001
    assert round_to("fp32", Fraction(2) ** 128) == 0x7F800000
    assert round_to("fp32", Fraction(2) ** 128, "rtz") == 0x7F7FFFFF
    assert round_to("fp32", Fraction(3, 2) * Fraction(2) ** -149) == 0x2  # subnormal tie
    assert round_to("fp16", Fraction(65520)) == 0x7C00  # halfway to 2^16 rounds to Inf
    assert math.isclose(float(value("fp32", fp32_bits(0.1))), 0.1, rel_tol=1e-7)
