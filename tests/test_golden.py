"""Golden vectors: file layout, determinism, sharding, check/verify/diagnose, the CLI.

Expected layouts and values are written out here (hand-computed lines, an independent
SplitMix64 in Python integers, exact Fraction sums); the suite-wide replays are in
tests/test_golden_suite.py.
"""
import io
import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from clitools import run_cli
from emulator.golden import api, checking, files, rng
from emulator.golden.neighbours import neighbours
from emulator.numerics import get_preset

pytestmark = pytest.mark.usefixtures("backend")


def small_spec(**kw):
    args = dict(preset="h100-fp16", seed=3)
    args.update(kw)
    return api.make_spec("dot", "fp16", "fp16", **args)


# -- random streams ---------------------------------------------------------------------
def _splitmix_final(z):
    m = (1 << 64) - 1
    z ^= z >> 30
    z = (z * 0xBF58476D1CE4E5B9) & m
    z ^= z >> 27
    z = (z * 0x94D049BB133111EB) & m
    return z ^ (z >> 31)


def test_random_words_match_an_independent_splitmix64():
    key = rng.stream_key(1, "random")
    gold, m = 0x9E3779B97F4A7C15, (1 << 64) - 1
    k = 1
    k = _splitmix_final((k + gold + int.from_bytes(b"random\0\0", "little")) & m)
    assert key == k
    for i in (0, 7, 123456):
        for lane in (0, 3):
            z = (_splitmix_final((key + i * gold) & m) + lane * 0x94D049BB133111EB) & m
            want = _splitmix_final(_splitmix_final(z))
            assert int(rng.bits(key, [i], lane + 1)[0, lane]) == want


def test_random_words_depend_only_on_their_index():
    key = rng.stream_key(9, "x")
    whole = rng.bits(key, np.arange(10), 4)
    part = rng.bits(key, np.arange(6, 10), 4)
    assert (whole[6:] == part).all()


# -- the .tv layout -----------------------------------------------------------------------
def _ones_file():
    """Two K=4 FP16 cases written by hand: 1*1 four times (+0 C) and a -0 sum."""
    spec = api.make_spec("dot", "fp16", "fp16", preset="v100-fp16", k=4, n=2)
    one, negz = 0x3C00, 0x8000
    inputs = type("C", (), {})()
    inputs.a = np.array([[one] * 4, [negz] * 4])
    inputs.b = np.array([[one] * 4, [one] * 4])
    inputs.c = np.array([0, 0x80000000])
    inputs.sa = inputs.sb = None
    out = {"d": np.array([0x40800000, 0x80000000]), "flags": np.array([0, 0])}
    return files.make(spec, inputs, out, 2, np.arange(2))


def test_tv_lines_are_fixed_width_hex_lowest_element_first(tmp_path):
    g = _ones_file()
    files.write_tv(g, tmp_path / "x.tv")
    files.write_tv(g, tmp_path / "x.memh", underscores=True)
    tv = (tmp_path / "x.tv").read_text().splitlines()
    body = [ln for ln in tv if not ln.startswith("#")]
    assert body == ["3c00 3c00 3c00 3c00 3c00 3c00 3c00 3c00 00000000 40800000 00",
                    "8000 8000 8000 8000 3c00 3c00 3c00 3c00 80000000 80000000 00"]
    head = dict(ln[2:].split(": ", 1) for ln in tv if ln.startswith("# ") and ": " in ln)
    assert head["fields"] == "a:4x4 b:4x4 c:1x8 d:1x8 flags:1x2"
    assert head["config.frac_bits"] == "23" and head["config.rounding"] == "rtz"
    assert head["preset"] == "v100-fp16" and head["golden_version"] == "1"
    memh = [ln for ln in (tmp_path / "x.memh").read_text().splitlines()
            if not ln.startswith("//")]
    assert memh[0] == "3c00_3c00_3c00_3c00_3c00_3c00_3c00_3c00_00000000_40800000_00"
    back = files.read_tv(tmp_path / "x.memh")
    assert (back.data["a"] == g.data["a"]).all() and (back.data["d"] == g.data["d"]).all()


def test_every_knob_is_in_the_header_and_read_back(tmp_path):
    spec = small_spec(preset=None, config=get_preset("b200-fp8").config.replace(
        frac_bits=21, output_subnormals="flush"))
    g = api.generate(spec)
    files.write_tv(g, tmp_path / "k.tv")
    back = files.read_tv(tmp_path / "k.tv")
    assert back.spec.config == spec.config
    assert (back.data["d"] == g.data["d"]).all() and (back.data["flags"] == g.data["flags"]).all()


def test_svh_struct_matches_the_memh_line(tmp_path):
    g = api.generate(api.make_spec("dot", "e4m3", "e2m1", preset="b200-mxf8f6f4", n=4))
    text = files.svh_text(g, "mx")
    assert "logic [0:31][7:0] a;" in text and "logic [0:31][3:0] b;" in text
    assert "logic [31:0] d;" in text and "// 472 bits" in text  # 256+128+8+8+32+32+8


def test_gemm_images_pack_element_zero_lowest(tmp_path):
    spec = api.make_spec("gemm", "e4m3", "e2m1", preset="b200-mxf8f6f4", tile=(2, 3), n=12)
    g = api.generate(spec)
    files.write_gemm_images(g, tmp_path / "t")
    rows = [ln for ln in (tmp_path / "t.a.memh").read_text().splitlines()
            if not ln.startswith("//")]
    assert len(rows) == 4  # two tiles of two A rows
    a0 = g.data["a"][0]  # case 0 = tile 0, row 0, column 0
    assert rows[0] == "".join(f"{int(c):02x}" for c in a0[::-1])
    cols = [ln for ln in (tmp_path / "t.b.memh").read_text().splitlines()
            if not ln.startswith("//")]
    assert cols[1] == "".join(f"{int(c):x}" for c in g.data["b"][1][::-1])
    d = [ln for ln in (tmp_path / "t.d.memh").read_text().splitlines()
         if not ln.startswith("//")]
    assert d == [f"{int(v):08x}" for v in g.data["d"][:, 0]]
    # The model's GEMM of each tile equals its cases replayed as independent dots.
    assert checking.compare(g, checking.recompute(g)).ok


def test_jsonl_decodes_every_field(tmp_path):
    g = _ones_file()
    files.write_jsonl(g, tmp_path / "x.jsonl")
    rows = [json.loads(ln) for ln in (tmp_path / "x.jsonl").read_text().splitlines()]
    assert rows[0]["a"] == ["3c00"] * 4 and rows[0]["a_value"] == [1.0] * 4
    assert rows[0]["d"] == "40800000" and rows[0]["d_value"] == 4.0
    assert rows[1]["c_value"] == -0.0 and rows[1]["flags_names"] == []


# -- determinism and shards -----------------------------------------------------------------
def test_same_arguments_same_bytes(tmp_path):
    spec = small_spec()
    p1 = api.write_stream(spec, tmp_path / "a", ("tv", "jsonl"), progress=False)
    p2 = api.write_stream(spec, tmp_path / "b", ("tv", "jsonl"), progress=False)
    for x, y in zip(p1, p2):
        assert Path(x).read_bytes() == Path(y).read_bytes()


def test_shards_concatenate_to_the_whole_set():
    whole = api.generate(small_spec(n=1000))
    parts = [api.generate(small_spec(n=1000, shard=(i, 3))) for i in range(3)]
    assert [int(p.header["first_case"]) for p in parts] == [0, 333, 666]
    for name in whole.data:
        assert (np.concatenate([p.data[name] for p in parts]) == whole.data[name]).all()


def test_gemm_shards_hold_whole_tiles():
    spec = api.make_spec("gemm", "fp16", preset="h100-fp16", tile=(2, 2), n=40, shard=(1, 3))
    g = api.generate(spec)
    assert g.index[0] % 4 == 0 and len(g) % 4 == 0


def test_chunks_equal_one_pass():
    spec = small_spec(n=500)
    parts = list(api.generate_chunks(spec, chunk=128))
    assert len(parts) == 4
    whole = api.generate(spec)
    assert (np.concatenate([p.data["d"] for p in parts]) == whole.data["d"]).all()


# -- independent checks of generated values ----------------------------------------------
def exact_sum_mismatches(g, every=1):
    """(rows checked, rows whose d differs from RNE(exact sum) into FP32), the sum taken
    with Fractions from tests/oracle.py decodings: the 'exact' preset's definition. Rows
    with NaN/Inf operands or scales, or a zero sum (its sign is a policy), are skipped."""
    import oracle
    O = oracle.SPECS
    af, bf = O[g.spec.a_fmt.name.upper()], O[g.spec.b_fmt.name.upper()]
    sf, blk = O[g.spec.scale_fmt.name.upper()], g.spec.block
    checked, bad = 0, []
    for r in range(0, len(g), every):
        total = Fraction(0)
        for k in range(g.spec.k):
            vs = [oracle.decode(af, int(g.data["a"][r, k])),
                  oracle.decode(bf, int(g.data["b"][r, k])),
                  oracle.decode(sf, int(g.data["sa"][r, k // blk])),
                  oracle.decode(sf, int(g.data["sb"][r, k // blk]))]
            if any(v.kind != "num" for v in vs):
                break
            p = vs[0].mag * vs[1].mag * vs[2].mag * vs[3].mag
            total += -p if vs[0].neg != vs[1].neg else p
        else:
            c = oracle.decode(O["FP32"], int(g.data["c"][r, 0]))
            if c.kind != "num":
                continue
            total += -c.mag if c.neg else c.mag
            if total == 0:
                continue
            code, _ = oracle.encode(O["FP32"], total, "rne")
            checked += 1
            if int(g.data["d"][r, 0]) != code:
                bad.append(r)
    return checked, bad


def test_exact_preset_results_are_the_rounded_exact_sum():
    g = api.generate(api.make_spec("dot", "e2m3", "int8", preset="exact", n=200))
    checked, bad = exact_sum_mismatches(g)
    assert bad == [] and checked > 100


# -- check, verify, diagnose -------------------------------------------------------------------
@pytest.fixture
def vectors(tmp_path):
    spec = small_spec()
    api.write_stream(spec, tmp_path / "v", ("tv",), progress=False)
    return tmp_path / "v.tv", api.generate(spec)


def _dump(path, d, flags=None):
    lines = [f"{int(x):08x}" + ("" if flags is None else f" {int(f):02x}")
             for x, f in zip(d, flags if flags is not None else d)]
    Path(path).write_text("// device dump\n" + "\n".join(lines) + "\n")


def test_check_passes_on_a_fresh_file(vectors):
    rc, out = run_cli(["golden", "check", str(vectors[0])])
    assert rc == 0 and "0 mismatched" in out


def test_check_reports_a_tampered_case(vectors, tmp_path):
    path, g = vectors
    lines = path.read_text().splitlines(keepends=True)
    first = next(i for i, ln in enumerate(lines) if not ln.startswith("#"))
    row = lines[first].split(" ")
    d = int(row[-2], 16)
    row[-2] = f"{d ^ 1:08x}"
    lines[first] = " ".join(row)
    bad = tmp_path / "bad.tv"
    bad.write_text("".join(lines))
    rc, out = run_cli(["golden", "check", str(bad)])
    assert rc == 1 and "1 mismatched" in out
    assert f"d: expected {d ^ 1:08x}" in out and f"model {d:08x}" in out
    assert "ulp distance 1" in out and "a (fp16) = [" in out


def test_verify_matches_and_counts_mismatches_with_a_cap(vectors, tmp_path):
    path, g = vectors
    d, fl = g.data["d"][:, 0], g.data["flags"][:, 0]
    _dump(tmp_path / "ok.txt", d, fl)
    rc, out = run_cli(["verify", "--vectors", str(path), "--results", str(tmp_path / "ok.txt")])
    assert rc == 0 and "0 mismatched" in out
    bad = d.copy()
    bad[:30] ^= 2
    _dump(tmp_path / "bad.txt", bad)
    rc, out = run_cli(["verify", "--vectors", str(path), "--results", str(tmp_path / "bad.txt")])
    assert rc == 1 and "30 mismatched (the first 20 shown)" in out
    assert out.count("\ncase ") == 20
    rc, out = run_cli(["verify", "--vectors", str(path), "--results", str(tmp_path / "bad.txt"),
                       "--max-errors", "3"])
    assert out.count("\ncase ") == 3


def test_verify_rejects_a_short_dump(vectors, tmp_path):
    path, g = vectors
    _dump(tmp_path / "short.txt", g.data["d"][:5, 0])
    rc, out = run_cli(["verify", "--vectors", str(path), "--results", str(tmp_path / "short.txt")])
    assert rc == 2


def test_diagnose_names_the_neighbour_the_device_computes(vectors, tmp_path):
    path, g = vectors
    wrong = g.spec.config.replace(frac_bits=24)  # the device keeps one bit too few
    d, _ = api.gen.run_dot(g.spec, checking._cases(g), wrong)
    _dump(tmp_path / "dev.txt", d)
    n_bad = int((d != g.data["d"][:, 0]).sum())
    assert n_bad > 0
    rc, out = run_cli(["verify", "--vectors", str(path), "--results", str(tmp_path / "dev.txt"),
                       "--diagnose"])
    assert rc == 1
    assert f"all {n_bad} mismatches match frac_bits=24 instead of 25" in out


def test_check_diagnose_names_the_models_change(tmp_path):
    spec = small_spec(preset=None, config=get_preset("h100-fp16").config.replace(
        rounding="rne"))
    g = api.generate(spec)
    files.write_tv(g, tmp_path / "x.tv")
    text = (tmp_path / "x.tv").read_text().replace("config.rounding: rne",
                                                   "config.rounding: rtz")
    (tmp_path / "y.tv").write_text(text)
    rep = checking.check(tmp_path / "y.tv", diagnose_=True)
    assert not rep.ok
    assert any("match rounding=rne instead of rtz" in ln for ln in rep.diagnosis)


# -- adequacy and neighbours -----------------------------------------------------------------
def test_neighbours_of_a_preset():
    labels = [n.label for n in neighbours(get_preset("h100-fp16").config, 16)]
    assert labels[:2] == ["frac_bits=24", "frac_bits=26"]
    assert "rounding=rne" in labels and "rounding=rtz" not in labels
    assert "c_entry=after" in labels and "terms_per_step=8" in labels
    assert "nan=canonical" in labels


def test_overflow_neighbours_equivalent_when_no_overflow_is_reachable():
    from emulator.formats import FP16, BF16
    cfg = get_preset("h100-fp16").config
    # FP16 products are below 2^32: nothing reaches FP32's overflow under RZ.
    st = {n.label: n.status for n in neighbours(cfg, 16, (FP16, FP16, None))}
    assert st["overflow=saturate"] == "equivalent" and st["overflow=ieee"] == "equivalent"
    # BF16 products reach 2^256: every overflow policy is observable.
    st = {n.label: n.status for n in neighbours(cfg, 16, (BF16, BF16, None))}
    assert st["overflow=saturate"] == "ok" and st["overflow=ieee"] == "ok"


def test_adequacy_of_a_generated_set():
    g = api.generate(small_spec())
    rows = checking.adequacy(g)
    assert checking.adequacy_ok(rows)
    assert {r.status for r in rows} <= {"ok", "n/a", "equivalent"}


# -- the command line ----------------------------------------------------------------------
def test_gen_cli_writes_what_it_names(tmp_path):
    out = tmp_path / "cli"
    rc, text = run_cli(["golden", "gen", "--op", "dot1", "--preset", "b200-mxf8f6f4", "--a",
                        "e2m3", "-n", "40", "--no-progress", "-o", str(out)])
    assert rc == 0
    written = text.split()
    assert written == [str(out) + e for e in (".tv", ".memh", ".svh", ".jsonl")]
    g = files.read_tv(out.with_suffix(".tv"))
    assert len(g) == 40 and g.spec.k == 32 and g.spec.op == "dot1"
    assert g.header["command"].startswith("mxemu golden gen --op dot1 --preset b200-mxf8f6f4")


def test_config_file_toml_and_json(tmp_path):
    (tmp_path / "u.toml").write_text('preset = "h100-fp16"\n[accum]\nfrac_bits = 22\n'
                                     'output_subnormals = "flush"\n')
    (tmp_path / "u.json").write_text(json.dumps({"accum": {"frac_bits": 22,
                                                           "rounding": "rtz"}}))
    s1 = api.make_spec("dot", "fp16", config_file=tmp_path / "u.toml", n=10)
    assert s1.config.frac_bits == 22 and s1.config.output_subnormals == "flush"
    assert s1.config.terms_per_step == 16 and s1.preset == "h100-fp16"
    s2 = api.make_spec("dot", "fp16", config_file=tmp_path / "u.json", n=10)
    assert s2.config.frac_bits == 22 and s2.config.terms_per_step is None
    (tmp_path / "bad.json").write_text(json.dumps({"accum": {"frac_bitz": 3}}))
    with pytest.raises(ValueError, match="frac_bitz"):
        api.make_spec("dot", "fp16", config_file=tmp_path / "bad.json")


@pytest.mark.parametrize("argv, word", [
    (["--op", "dot", "--a", "e4m3", "--preset", "nope"], "nope"),
    (["--op", "dot", "--a", "e9m9", "--preset", "exact"], "e9m9"),
    (["--op", "dot", "--a", "e4m3", "--preset", "exact", "-k", "20"], "k=20"),
    (["--op", "dot", "--a", "e4m3", "--preset", "exact", "--shard", "3/2"], "shard"),
    (["--op", "dot", "--a", "e4m3", "--preset", "exact", "--emit", "vcd"], "vcd"),
    (["--op", "quantize", "--a", "fp16"], "quantize"),
    (["--op", "dot", "--a", "e4m3"], "preset"),
])
def test_gen_cli_bad_input(argv, word, tmp_path, capsys):
    rc, _ = run_cli(["golden", "gen", *argv, "--no-progress", "-o", str(tmp_path / "x")])
    assert rc == 2
    assert word in capsys.readouterr().err


def test_progress_bar_only_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    plain, tty = io.StringIO(), Tty()
    for stream in (plain, tty):
        bar = api.Progress(10, "x", stream)
        bar.update(5)
        bar.close()
    assert plain.getvalue() == ""
    assert "50.0% 5/10" in tty.getvalue()


@pytest.mark.parametrize("op, fmt", [("encode", "e5m2"), ("decode", "e2m1"),
                                     ("quantize", "int8")])
def test_codec_sets_check_clean(op, fmt, tmp_path):
    api.write_stream(api.make_spec(op, fmt), tmp_path / "c", ("tv",), progress=False)
    rep = checking.check(tmp_path / "c.tv")
    assert rep.ok and rep.cases > 0


def test_level_two_keeps_more_boundary_cases_and_stays_adequate():
    one, two = api.generate(small_spec()), api.generate(small_spec(level=2))
    assert len(two) > 2 * len(one)
    assert checking.adequacy_ok(checking.adequacy(two))
    assert checking.compare(two, checking.recompute(two)).ok
