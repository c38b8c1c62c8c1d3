"""Self-tests of the oracle (tests/oracle.py): it must reproduce the specification tables and
its two flavours (scalar Fractions, vectorised float64 table) must agree. No emulator import."""
from fractions import Fraction

import numpy as np
import pytest

import oracle as O

F = Fraction
P2 = lambda e: Fraction(2) ** e  # noqa: E731

# OCP MX v1.0 section 5.3 table: (max normal, min normal, min subnormal, emax)
MX_TABLE = {
    "E4M3": (F(448), P2(-6), P2(-9), 8),
    "E5M2": (F(57344), P2(-14), P2(-16), 15),
    "E3M2": (F(28), F(1, 4), F(1, 16), 4),
    "E2M3": (F(15, 2), F(1), F(1, 8), 2),
    "E2M1": (F(6), F(1), F(1, 2), 2),
    "INT8": (F(127, 64), None, F(1, 64), 0),
}


@pytest.mark.parametrize("name", sorted(MX_TABLE))
def test_mx_table(name):
    s = O.SPECS[name]
    mx, mn, ms, em = MX_TABLE[name]
    assert O.max_value(s) == mx
    assert O.min_subnormal(s) == ms
    assert O.emax(s) == em
    if mn is not None:
        assert O.min_normal(s) == mn


def test_e2m1_values():
    s = O.SPECS["E2M1"]
    vals = {(-1 if v.neg else 1) * v.mag for v in (O.decode(s, c) for c in range(16))}
    assert vals == {F(x) for x in (0, .5, 1, 1.5, 2, 3, 4, 6, -.5, -1, -1.5, -2, -3, -4, -6)}


def test_e8m0_and_int8():
    s = O.SPECS["E8M0"]
    assert O.decode(s, 0) == O.Val("num", False, P2(-127))
    assert O.decode(s, 0xFE) == O.Val("num", False, P2(127))
    assert O.decode(s, 0xFF).kind == "nan"
    assert O.decode(s, 127).mag == 1
    i8 = O.SPECS["INT8"]
    assert O.decode(i8, 0x80) == O.Val("num", True, F(2))
    assert O.decode(i8, 0x7F).mag == F(127, 64)
    assert O.decode(i8, 0xFF) == O.Val("num", True, F(1, 64))


def test_known_specials():
    assert O.decode(O.SPECS["E4M3"], 0x7F).kind == "nan"
    assert O.decode(O.SPECS["E4M3"], 0x7E).mag == 448
    assert O.decode(O.SPECS["E5M2"], 0x7C).kind == "inf"
    assert O.decode(O.SPECS["E5M2"], 0x7B).mag == 57344
    assert O.decode(O.SPECS["E4M3FNUZ"], 0x80).kind == "nan"
    assert O.decode(O.SPECS["E4M3FNUZ"], 0x7F).mag == 240
    assert O.decode(O.SPECS["E5M2FNUZ"], 0x7F).mag == 57344
    assert O.decode(O.SPECS["FP16"], 0x7BFF).mag == 65504
    assert O.nan_code(O.SPECS["E5M2"], False) == 0x7E
    assert O.nan_code(O.SPECS["FP32"], True) == 0xFFC00000
    assert O.decode(O.SPECS["UE4M3"], 0x7F).kind == "nan"
    assert O.max_value(O.SPECS["UE4M3"]) == 448


def test_ties_by_hand():
    e8 = O.SPECS["E8M0"]
    assert O.encode(e8, 3.0) == (128, O.INEXACT)  # 3 -> 2 (even code)
    assert O.encode(e8, 6.0) == (130, O.INEXACT)  # 6 -> 8
    e4 = O.SPECS["E4M3"]
    assert O.encode(e4, 464.0, overflow="nan") == (0x7E, O.INEXACT)
    assert O.encode(e4, 464.0001, overflow="nan") == (0x7F, O.INEXACT | O.OVERFLOW)
    assert O.encode(O.SPECS["E5M2"], 61440.0) == (0x7C, O.INEXACT | O.OVERFLOW)
    assert O.encode(O.SPECS["E2M1"], 5.0) == (0x6, O.INEXACT)  # 5 -> 4 (even)
    assert O.encode(O.SPECS["E2M1"], 0.25) == (0x0, O.INEXACT | O.UNDERFLOW)
    assert O.encode(O.SPECS["E2M1"], -0.25) == (0x8, O.INEXACT | O.UNDERFLOW)
    assert O.encode(O.SPECS["INT8"], -2.0) == (0x81, O.INEXACT | O.OVERFLOW)
    assert O.encode(O.SPECS["INT8"], -2.0, int_min=True) == (0x80, 0)


def _small_specs():
    out = [s for s in O.SPECS.values() if s.mag_bits <= 8]
    out += [O.custom(3, 4), O.custom(6, 1), O.custom(6, 1, specials="fn"),
            O.custom(6, 1, specials="finite"), O.custom(3, 4, specials="fnuz", bias=4)]
    return out


@pytest.mark.parametrize("s", _small_specs(), ids=lambda s: s.name)
def test_arith_neighbours_agree_with_enumeration(s):
    g = O.grid(s)
    pts = set(g[:-1])
    pts |= {(g[i] + g[i + 1]) / 2 for i in range(len(g) - 1)}
    pts |= {g[i] + (g[i + 1] - g[i]) / 3 for i in range(len(g) - 1)}
    if not s.subnormals:
        pts = {p for p in pts if p >= g[0]}
    for p in pts:
        assert O.neighbours(s, p) == O.neighbours_arith(s, p), (s, p)


def test_fp32_oracle_vs_hardware_cast():
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2 ** 64, 4000, dtype=np.uint64)
    v = bits.view(np.float64)
    v = v[np.isfinite(v)]
    v = np.concatenate([v, np.ldexp(rng.random(2000), rng.integers(-160, 130, 2000))])
    with np.errstate(over="ignore"):
        want = v.astype(np.float32).view(np.uint32)
    for x, w in zip(v, want):
        c, _ = O.encode(O.SPECS["FP32"], float(x))
        assert c == int(w), x


@pytest.mark.parametrize("s", [s for s in _small_specs() if s.signed and s.subnormals
                               or s.kind == "int"], ids=lambda s: s.name)
@pytest.mark.parametrize("mode", O.ROUNDINGS)
def test_vectorised_agrees_with_scalar(s, mode):
    g = O.np_grid(s)
    rng = np.random.default_rng(7)
    mids = (g[:-1] + g[1:]) / 2
    quart = g[:-1] + (g[1:] - g[:-1]) / 4
    rnd = np.ldexp(rng.random(300), rng.integers(-12, 20, 300))
    v = np.concatenate([g, mids, quart, rnd, [g[-1] * 3]])
    v = np.concatenate([v, -v])
    r = rng.integers(0, 2 ** 32, v.shape, dtype=np.uint64)
    ovfs = ["saturate"] + (["inf"] if O.has_inf(s) else []) + (["nan"] if O.has_nan(s) else [])
    for ovf in ovfs:
        for int_min in ([False, True] if s.kind == "int" else [False]):
            codes, flags = O.np_encode(s, v, mode, ovf, r, 32, int_min)
            for x, rr, c, f in zip(v, r, codes, flags):
                want = O.encode(s, float(x), mode, ovf, int(rr), 32, int_min)
                assert (int(c), int(f)) == want, (s.name, mode, ovf, x)


@pytest.mark.parametrize("name", ["E4M3", "E2M1", "INT8", "E5M2"])
@pytest.mark.parametrize("mode", ["floor", "ceil", "even", "rceil"])
def test_vectorised_quantize_agrees_with_scalar(name, mode):
    s = O.SPECS[name]
    rng = np.random.default_rng(3)
    nb, bs = 150, 8
    e = rng.integers(-150, 128, (nb, 1))
    x = np.ldexp(rng.random((nb, bs)) * rng.choice([-1, 1], (nb, bs)),
                 e + rng.integers(-6, 1, (nb, bs))).astype(np.float32)
    x[::7, 2] = 0.0
    x[::11] = 0.0
    x[5, 3] = np.inf
    codes, scales, flags, special = O.np_quantize_mx(s, x, mode)
    for b in range(nb):
        c, sc, fl = O.mx_block(s, x[b].tolist(), mode)
        assert sc == scales[b]
        assert c == codes[b].tolist()
        if fl is not None:
            assert fl == flags[b].tolist()


def test_shared_exponent_by_hand():
    e4 = O.SPECS["E4M3"]
    assert O.shared_exponent(e4, F(448), "floor") == 0
    assert O.shared_exponent(e4, F(256), "ceil") == 0
    assert O.shared_exponent(e4, F(257), "ceil") == 1
    assert O.shared_exponent(e4, F(496), "even") == 1  # 1.9375: a tie, 1.875 is odd -> 2.0
    assert O.shared_exponent(e4, F(488), "even") == 0  # 1.906 -> 1.875
    assert O.shared_exponent(e4, F(480), "even") == 0  # 1.875 is exact
    assert O.shared_exponent(e4, F(448), "rceil") == 0
    assert O.shared_exponent(e4, F(449), "rceil") == 1
    assert O.shared_exponent(O.SPECS["E2M1"], F(6), "rceil") == 0
    assert O.shared_exponent(O.SPECS["E2M1"], F(7), "rceil") == 1
    assert O.shared_exponent(O.SPECS["E2M1"], F(127999, 1000), "floor") == 4
