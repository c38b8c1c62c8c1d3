"""The accuracy report (emulator.compare, `mxemu compare`): its numbers on hand-checkable
inputs, the exact reference, the error split bound, the generators and the CLI."""
import math
import os
from fractions import Fraction

import numpy as np
import pytest

from compare_standin import MXScheme, PromotedScheme
from clitools import run_cli as _main
from emulator import compare as cmp
from emulator.compare import ULP_EDGES, compare, exact_matmul, generate

# Every test runs on both backends (quantization goes through the active one).
pytestmark = pytest.mark.usefixtures("backend")

EXACT = MXScheme("ocp-exact", preset="exact")
WGMMA = MXScheme("wgmma-e4m3", preset="h100-fp8-wgmma")




# --- the exact reference ---------------------------------------------------------------
def test_exact_matmul_is_the_correctly_rounded_exact_sum():
    rng = np.random.default_rng(5)
    # 30-bit significands (like FP32-scaled FP8 values): products are not exact in FP64.
    a = np.round(rng.standard_normal((3, 40)) * 2**29) / 2**29 * 3.0**rng.integers(-8, 8, (3, 40))
    b = np.round(rng.standard_normal((40, 2)) * 2**29) / 2**29
    a[0, :3] = [1e8, -1e8, 1e-8]  # cancellation
    b[:3, 0] = [1.0, 1.0, 1.0]
    got = exact_matmul(a, b)
    for i in range(3):
        for j in range(2):
            exact = sum(Fraction(float(a[i, k])) * Fraction(float(b[k, j])) for k in range(40))
            assert got[i, j] == float(exact)


def test_ulp32_at_and_around_powers_of_two():
    u = cmp._ulp32(np.array([1.0, np.nextafter(1.0, 0), 0.0, 2.0**-130, -3.0, 2.0**100]))
    assert list(u) == [2.0**-23, 2.0**-24, 2.0**-149, 2.0**-149, 2.0**-22, 2.0**77]


# --- the report's numbers on hand-checkable inputs ----------------------------------------
def test_representable_inputs_exact_unit_give_zero_error():
    a = np.array([[1.0, 2.0, -0.5, 4.0] * 8, [0.25] * 32], np.float32)
    b = np.ones((32, 3), np.float32)
    r = compare(a, b, [EXACT])["ocp-exact"]
    for s in (r.total, r.quant, r.accum):
        assert s.rel_fro == 0 and s.max_rel == 0 and s.max_rel_elem == 0 and s.max_ulps == 0
        assert s.hist == [6] + [0] * (len(ULP_EDGES) - 1)


def test_known_quantization_error_and_zero_accumulation_error():
    # 1.0625 is a tie between the E4M3 neighbours 1.0 and 1.125 (scale 2^-8): RNE gives 1.0.
    a = np.full((1, 32), 1.0625, np.float32)
    b = np.ones((32, 1), np.float32)
    rep = compare(a, b, [EXACT])
    r = rep["ocp-exact"]
    assert rep.ref[0, 0] == 34.0 and r.qref[0, 0] == 32.0 and r.d[0, 0] == 32.0
    assert r.quant.rel_fro == r.total.rel_fro == 2 / 34 and r.accum.rel_fro == 0
    assert r.total.max_rel == 2 / 34 and r.total.max_rel_elem == 2 / 34
    assert r.total.max_ulps == 2 / 2.0**-18  # ulp_FP32(34) = 2^-18
    assert r.total.hist[-1] == 1 and sum(r.total.hist) == 1


def test_known_accumulation_error_of_a_truncating_unit():
    # Hopper FP8 (F=13, aligned to the largest exponent 2^8): the 31 terms 2^-6 lie below the
    # kept lsb 2^-5 and are truncated away; the quantization is exact.
    a = np.array([[256.0] + [2.0**-6] * 31], np.float32)
    b = np.ones((32, 1), np.float32)
    rep = compare(a, b, [WGMMA, EXACT])
    w, e = rep["wgmma-e4m3"], rep["ocp-exact"]
    assert rep.ref[0, 0] == 256 + 31 / 64 and w.qref[0, 0] == rep.ref[0, 0]
    assert w.d[0, 0] == 256.0 and e.d[0, 0] == 256 + 31 / 64
    assert w.quant.rel_fro == 0 and w.accum.rel_fro == w.total.rel_fro == (31 / 64) / (256 + 31 / 64)
    assert w.flags["inexact"] == 1 and e.flags["inexact"] == 0
    assert e.total.max_ulps == 0


def test_max_rel_elem_uses_the_floor():
    a = np.array([[1.0] * 32, [1.0] * 31 + [2.0**-20]], np.float32)
    b = np.zeros((32, 2), np.float32)
    b[0, 0] = 1.0
    b[31, 1] = 1.0  # ref = [[1, 1], [1, 2^-20]]: the last element is far below 0.1 * rms
    rep = compare(a, b, [EXACT])
    r = rep["ocp-exact"]
    # 2^-20 in a block with amax 1 underflows E4M3 (scale 2^-8, min subnormal 2^-9 * 2^0).
    assert r.qref[1, 1] == 0.0 and r.total.max_rel == 2.0**-20
    assert r.total.max_rel_elem == 0.0  # the floored element is left out
    r0 = compare(a, b, [EXACT], rel_floor=0)["ocp-exact"]
    assert r0.total.max_rel_elem == 1.0


# --- the error split -------------------------------------------------------------------
@pytest.mark.parametrize("gen", ["gaussian", "heavy", "outliers"])
def test_quantization_plus_accumulation_bounds_the_total(gen):
    a, b = generate(gen, (6, 512, 5), seed=3)
    schemes = [EXACT, WGMMA, MXScheme("mxfp4", elem="e2m1"),
               PromotedScheme("promoted", interval=128)]
    rep = compare(a, b, schemes)
    ref = rep.ref
    for r in rep.results:
        tot, q, c = np.abs(r.d - ref), np.abs(r.qref - ref), np.abs(r.d - r.qref)
        # each float64 difference is rounded once: a few FP64 ulps of slack
        assert np.all(tot <= (q + c) * (1 + 2.0**-50) + 1e-300)
        nr = np.linalg.norm(ref)
        assert r.total.rel_fro <= (r.quant.rel_fro + r.accum.rel_fro) * (1 + 2.0**-50)
        assert math.isclose(r.total.rel_fro, np.linalg.norm(r.d - ref) / nr)
        assert r.total.max_rel <= r.quant.max_rel + r.accum.max_rel + 1e-15
        assert sum(r.total.hist) == ref.size
    # an exact accumulator only rounds once into FP32; promotion beats no promotion
    ex = rep["ocp-exact"]
    assert np.all(np.abs(ex.d - ex.qref) <= 0.5 * cmp._ulp32(ex.qref))
    assert rep["promoted"].accum.rel_fro < rep["wgmma-e4m3"].accum.rel_fro


# --- generators and inputs -------------------------------------------------------------
@pytest.mark.parametrize("gen", cmp.GENERATORS)
def test_generators_are_deterministic_by_seed(gen):
    a1, b1 = generate(gen, (4, 64, 3), seed=7)
    a2, b2 = generate(gen, (4, 64, 3), seed=7)
    a3, _ = generate(gen, (4, 64, 3), seed=8)
    assert a1.dtype == np.float32 and a1.shape == (4, 64) and b1.shape == (64, 3)
    assert np.array_equal(a1, a2) and np.array_equal(b1, b2) and not np.array_equal(a1, a3)


def test_outlier_generator_has_outlier_channels():
    a, _ = generate("outliers", (16, 256, 2), seed=1, outlier_channels=4)
    col = np.abs(a).max(axis=0)
    assert np.count_nonzero(col > 20 * np.median(col)) == 4


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="gen="):
        generate("uniform", (2, 2, 2))
    with pytest.raises(ValueError, match="shape="):
        generate("gaussian", (2, 0, 2))
    with pytest.raises(ValueError, match="a's columns must equal b's rows"):
        compare(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32), [EXACT])
    with pytest.raises(ValueError, match="^a: a 2-D"):
        compare(np.ones(3, np.float32), np.ones((3, 2), np.float32), [EXACT])
    with pytest.raises(ValueError, match="^b: contains NaN"):
        compare(np.ones((2, 3), np.float32), np.full((3, 2), np.nan, np.float32), [EXACT])
    with pytest.raises(ValueError, match="schemes"):
        compare(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32), [])
    with pytest.raises(TypeError, match="schemes"):
        compare(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32), [object()])
    with pytest.raises(ValueError, match="rel_floor"):
        compare(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32), [EXACT],
                rel_floor=-1)


def test_load_pair_npy_npz_and_errors(tmp_path):
    a, b = generate("gaussian", (2, 32, 3), seed=0)
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    np.savez(tmp_path / "ab.npz", a=a, b=b)
    np.savez(tmp_path / "bad.npz", x=a)
    for got in (cmp.load_pair(tmp_path / "a.npy", tmp_path / "b.npy"),
                cmp.load_pair(tmp_path / "ab.npz")):
        assert np.array_equal(got[0], a) and np.array_equal(got[1], b)
    with pytest.raises(ValueError, match="^--a .*no such file"):
        cmp.load_pair(tmp_path / "nope.npy", tmp_path / "b.npy")
    with pytest.raises(ValueError, match="^--b: needed"):
        cmp.load_pair(tmp_path / "a.npy")
    with pytest.raises(ValueError, match="^--a .*'a' and 'b'"):
        cmp.load_pair(tmp_path / "bad.npz")
    (tmp_path / "junk.npy").write_text("junk")
    with pytest.raises(ValueError, match="^--b .*not a .npy"):
        cmp.load_pair(tmp_path / "a.npy", tmp_path / "junk.npy")


# --- error vs K, plots -------------------------------------------------------------------
def test_error_vs_k_and_plots(tmp_path, monkeypatch):
    a, b = generate("gaussian", (3, 256, 2), seed=0)
    sweep = cmp.error_vs_k(a, b, [EXACT, WGMMA], [32, 256])
    assert [k for k, _ in sweep["wgmma-e4m3"]] == [32, 256]
    rep = compare(a, b, [EXACT, WGMMA])
    if cmp._pyplot() is not None:
        paths = cmp.plot_report(rep, tmp_path) + cmp.plot_error_vs_k(sweep, tmp_path)
        assert all(os.path.getsize(p) > 1000 for p in paths) and len(paths) == 2
    monkeypatch.setattr(cmp, "_pyplot", lambda: None)
    assert cmp.plot_report(rep, tmp_path / "x") == [] and not (tmp_path / "x").exists()
    with pytest.raises(ValueError, match="ks: K=512"):
        cmp.error_vs_k(a, b, [EXACT], [512])


# --- the CLI ---------------------------------------------------------------------------
@pytest.fixture
def registry(monkeypatch):
    """CLI scheme names resolved to the test-side schemes (independent of the registry)."""
    table = {s.name: s for s in (EXACT, WGMMA, PromotedScheme("promoted"))}
    monkeypatch.setattr(cmp, "scheme_names", lambda: list(table))

    def resolve(s):
        if isinstance(s, str):
            if s not in table:
                raise ValueError(f"schemes: unknown scheme {s!r}")
            return table[s]
        return s
    monkeypatch.setattr(cmp, "resolve_scheme", resolve)
    return table


def test_cli_compare_table_matches_api(registry):
    rc, text = _main(["compare", "--schemes", "ocp-exact,wgmma-e4m3", "--shape", "4,256,3",
                      "--gen", "heavy", "--seed", "2"])
    assert rc == 0
    a, b = generate("heavy", (4, 256, 3), seed=2)
    rep = compare(a, b, [EXACT, WGMMA])
    row = [ln for ln in text.splitlines() if ln.startswith("wgmma-e4m3 ")][0].split()
    assert float(row[1]) == pytest.approx(rep["wgmma-e4m3"].total.rel_fro, rel=1e-4)
    assert "M=4 K=256 N=3" in text and "ulps" in text


def test_cli_compare_files_and_plots(registry, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib (the plot extra) draws the PNGs")
    a, b = generate("outliers", (3, 64, 2), seed=0)
    np.savez(tmp_path / "ab.npz", a=a, b=b)
    rc, text = _main(["compare", "--schemes", "ocp-exact", "--a", str(tmp_path / "ab.npz"),
                      "--plot", str(tmp_path / "plots"), "--ks", "32,64"])
    assert rc == 0 and "ab.npz" in text
    assert "error_histogram.png" in text and "error_vs_k.png" in text
    for name in ("error_histogram.png", "error_vs_k.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG"


def test_cli_compare_without_matplotlib_says_so(registry, tmp_path, monkeypatch):
    a, b = generate("outliers", (3, 64, 2), seed=0)
    np.savez(tmp_path / "ab.npz", a=a, b=b)
    monkeypatch.setattr(cmp, "_pyplot", lambda: None)
    rc, text = _main(["compare", "--schemes", "ocp-exact", "--a", str(tmp_path / "ab.npz"),
                      "--plot", str(tmp_path / "p2")])
    assert rc == 0 and "matplotlib is not installed" in text


@pytest.mark.parametrize("argv, needle", [
    (["--schemes", "nope"], "--schemes: unknown scheme 'nope'"),
    (["--schemes", ","], "--schemes"),
    (["--schemes", "ocp-exact", "--shape", "4,4"], "--shape '4,4'"),
    (["--schemes", "ocp-exact", "--shape", "4,x,4"], "--shape"),
    (["--schemes", "ocp-exact", "--a", "/nonexistent.npy", "--b", "/x.npy"], "--a"),
    (["--schemes", "ocp-exact", "--shape", "2,32,2", "--plot", "/tmp", "--ks", "0"], "--ks"),
])
def test_cli_compare_errors_name_the_argument(registry, argv, needle, capsys):
    rc, _ = _main(["compare"] + argv)
    assert rc == 2 and needle in capsys.readouterr().err


def test_cli_compare_bad_generator_is_refused(registry):
    with pytest.raises(SystemExit):
        _main(["compare", "--schemes", "ocp-exact", "--gen", "uniform"])


def test_cli_compare_with_the_scheme_registry():
    schemes = pytest.importorskip("emulator.numerics.schemes",
                                  reason="the scheme registry is not in this tree")
    names = [n for n in ("deepseek-v3-fp8", "deepseek-v3-fp8-no-promotion", "mxfp4-b200")
             if n in schemes.scheme_names()]
    rc, text = _main(["compare", "--schemes", ",".join(names), "--shape", "4,256,4"])
    assert rc == 0 and all(n in text for n in names)
    a, b = generate("gaussian", (4, 256, 4), seed=0)
    rep = compare(a, b, names)
    for r in rep.results:
        tot, q, c = np.abs(r.d - rep.ref), np.abs(r.qref - rep.ref), np.abs(r.d - r.qref)
        assert np.all(tot <= (q + c) * (1 + 2.0**-50) + 1e-300)
    rc, _ = _main(["compare", "--schemes", "no-such-scheme", "--shape", "2,32,2"])
    assert rc == 2
