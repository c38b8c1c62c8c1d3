"""Property-based tests (hypothesis; the "ci" profile in conftest.py is derandomized and prints
the reproduction blob of a failure). Each property is exact: bounds are checked with Fractions
and results compared as codes."""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import oracle as O
from emulator import Flag, formats, quantize

pytestmark = pytest.mark.usefixtures("backend")

ELEMS = ["E4M3", "E5M2", "E3M2", "E2M3", "E2M1", "INT8"]
SYMMETRIC = ["rne", "rna", "rtz", "rto", "sr"]
SAT = int(Flag.SATURATED)
BS = 8

finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
# values of a similar magnitude (realistic blocks) or anything FP32 holds (extremes)
moderate32 = st.builds(lambda m, e: float(np.float32(np.ldexp(m, e))),
                       st.floats(-2, 2, width=32), st.integers(-30, 30))
elem32 = st.one_of(finite32, moderate32, st.sampled_from([0.0, -0.0]))


def blocks(nblocks=st.integers(1, 4)):
    return nblocks.flatmap(lambda n: hnp.arrays(np.float32, (n, BS), elements=elem32))


def flip_sign(name, codes):
    s = O.SPECS[name]
    c = codes.astype(np.int64)
    if s.kind == "int":
        return (-c.astype(np.uint8).view(np.int8).astype(np.int64)) % 256
    return c ^ (1 << (s.bits - 1))


def half_quantum(s, k, v):
    """Half the element quantum at the block scale 2^k for the value v (a Fraction)."""
    if s.kind == "int":
        return Fraction(2) ** (k - s.M - 1)
    emin = O.floor_log2(O.min_normal(s))
    a = abs(v) / Fraction(2) ** k
    t = O.floor_log2(a) if a else emin
    return Fraction(2) ** (max(t, emin) - s.M + k - 1)


@given(x=blocks(), name=st.sampled_from(ELEMS))
def test_error_bound_rne(x, name):
    """|dequantize - x| <= half the element quantum at the block scale, unless saturated."""
    s = O.SPECS[name]
    t = quantize(x, name, block_size=BS)
    deq = t.dequantize()
    k = t.scales.astype(np.int64) - 127
    for r in range(x.shape[0]):
        for i in range(BS):
            if t.flags[r, i] & SAT:
                continue
            v = Fraction(float(x[r, i]))
            err = abs(Fraction(float(deq[r, i])) - v)
            assert err <= half_quantum(s, int(k[r, i // BS]), v), (r, i, float(x[r, i]))


@given(x=blocks(), name=st.sampled_from(ELEMS))
def test_rtz_never_grows(x, name):
    t = quantize(x, name, block_size=BS, rounding="rtz")
    deq = t.dequantize()
    assert np.all(np.abs(deq) <= np.abs(x.astype(np.float64)))
    assert np.all((deq == 0) | (np.sign(deq) == np.sign(x)))


@given(x=blocks(), name=st.sampled_from(ELEMS),
       rounding=st.sampled_from(["rne", "rna", "rtz", "rup", "rdn", "rto", "sr"]),
       seed=st.integers(0, 2 ** 32 - 1))
def test_requantize_is_identity(x, name, rounding, seed):
    """quantize(dequantize(q)) has the codes and scales of q (scale_mode floor)."""
    rb = np.random.default_rng(seed).integers(0, 2 ** 32, x.shape, dtype=np.uint32)
    kw = dict(block_size=BS, rounding=rounding, rand_bits=rb if rounding == "sr" else None)
    q = quantize(x, name, **kw)
    q2 = quantize(q.dequantize(), name, **kw)
    assert np.array_equal(q.scales, q2.scales)
    assert np.array_equal(q.codes, q2.codes)


@given(x=blocks(), name=st.sampled_from(ELEMS), rounding=st.sampled_from(SYMMETRIC),
       mode=st.sampled_from(["floor", "ceil", "even", "rceil"]), seed=st.integers(0, 2 ** 32 - 1))
def test_sign_symmetry(x, name, rounding, mode, seed):
    rb = np.random.default_rng(seed).integers(0, 2 ** 32, x.shape, dtype=np.uint32)
    kw = dict(block_size=BS, rounding=rounding, scale_mode=mode,
              rand_bits=rb if rounding == "sr" else None)
    a = quantize(x, name, **kw)
    b = quantize(-x, name, **kw)
    assert np.array_equal(a.scales, b.scales)
    assert np.array_equal(b.codes.astype(np.int64), flip_sign(name, a.codes))
    assert np.array_equal(a.flags, b.flags)


@given(x=blocks(), name=st.sampled_from(ELEMS))
def test_rup_of_negated_is_negated_rdn(x, name):
    a = quantize(x, name, block_size=BS, rounding="rdn")
    b = quantize(-x, name, block_size=BS, rounding="rup")
    assert np.array_equal(a.scales, b.scales)
    assert np.array_equal(b.codes.astype(np.int64), flip_sign(name, a.codes))


SIGNED = ["E4M3", "E5M2", "E3M2", "E2M3", "E2M1", "INT8", "FP16", "BF16", "E4M3FNUZ",
          "E5M2FNUZ", "TF32"]


@given(v=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=2, max_size=40),
       name=st.sampled_from(SIGNED),
       rounding=st.sampled_from(["rne", "rna", "rtz", "rup", "rdn", "rto"]))
def test_encode_is_monotonic(v, name, rounding):
    fmt = getattr(formats, name)
    v = np.sort(np.array(v, dtype=np.float64))
    d = fmt.decode(fmt.encode(v, rounding=rounding).codes)
    assert not np.any(np.isnan(d))
    assert np.all(d[1:] >= d[:-1]), (v, d)


@given(v=st.floats(allow_nan=False, allow_infinity=False), name=st.sampled_from(SIGNED),
       rounding=st.sampled_from(["rne", "rna", "rtz", "rup", "rdn", "rto"]))
def test_encode_brackets_the_value(v, name, rounding):
    """The result is one of the two neighbours of v (the oracle's), and the directed modes
    pick the right one."""
    fmt = getattr(formats, name)
    code = int(fmt.encode(np.array([v]), rounding=rounding, overflow="saturate").codes[0])
    want, _ = O.encode(O.SPECS[name], v, rounding, "saturate")
    assert code == want
    d = Fraction(float(fmt.decode(np.array([code], fmt.code_dtype))[0]))
    mx = O.max_value(O.SPECS[name])
    if rounding == "rdn" and abs(Fraction(v)) <= mx:
        assert d <= Fraction(v)
    if rounding == "rup" and abs(Fraction(v)) <= mx:
        assert d >= Fraction(v)
