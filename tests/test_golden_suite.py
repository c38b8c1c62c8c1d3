"""The shipped golden suite (golden/): its manifest and hashes, byte-for-byte regeneration,
replay on every implementation, independent checks of the codec sets, and adequacy.

Replays: every case through dot_batch (numpy) and through the C kernel (one case at a
time); every 8th case (a fixed subset) through the scalar reference `dot`; codec sets
under both backends. Expected codec values are also recomputed with tests/oracle.py (exact
Fractions, written from the specifications).
"""
import json
import math
from pathlib import Path

import numpy as np
import pytest

import oracle
from emulator import _backend
from emulator.golden import api, checking, files, suite
from emulator.golden.commands import adequacy_table
from emulator.numerics import preset_names

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "golden"
MANIFEST = json.loads((GOLDEN / "MANIFEST.json").read_text())
ITEMS = {it["name"]: it for it in MANIFEST["files"]}
TV = sorted(p for p in GOLDEN.rglob("*.tv") if "hardware" not in p.parts)
IDS = [p.relative_to(GOLDEN).as_posix() for p in TV]


def _require(name):
    if name not in _backend.available():
        pytest.skip(f"backend {name!r} not available")


def test_manifest_lists_every_file_with_its_hash():
    listed = {}
    for it in MANIFEST["files"]:
        for rel, digest in it["files"].items():
            listed[rel] = digest
    on_disk = {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*")
               if p.is_file() and "hardware" not in p.parts and p.name != "MANIFEST.json"
               and p.name != "README.md"}
    assert on_disk == set(listed)
    for rel, digest in listed.items():
        assert suite.sha256(GOLDEN / rel) == digest, rel


def test_manifest_names_versions_commands_and_policies():
    from emulator import __version__
    from emulator.golden import GOLDEN_VERSION
    assert MANIFEST["mxemu_version"] == __version__
    assert MANIFEST["golden_version"] == GOLDEN_VERSION
    for it in MANIFEST["files"]:
        assert it["command"].startswith("mxemu golden gen --op ")
        assert f"--seed {it['seed']}" in it["command"]
        assert ("config" in it) != ("policies" in it)
        g = files.read_tv(GOLDEN / (it["name"] + ".tv"))
        assert g.header["command"] == it["command"]


def test_suite_covers_every_preset_and_its_pairs():
    names = set(ITEMS)
    for p in preset_names():
        for a, b in suite.pairs(p):
            assert f"dot/{p}/{a}-{b}" in names
    assert len([n for n in names if n.startswith("dot/")]) == 111


def test_suite_is_small():
    total = sum(p.stat().st_size for p in GOLDEN.rglob("*") if p.is_file()
                and "hardware" not in p.parts)
    assert total < 20 * 2 ** 20


def test_every_file_regenerates_byte_for_byte(tmp_path):
    """All entries on the active backend (the manifest's hashes are the reference)."""
    for rel, argv, emit in suite.entries():
        spec = suite.spec_of(argv)
        paths = api.write_stream(spec, tmp_path / rel, emit, command=suite.command(rel, argv,
                                                                                    emit),
                                 progress=False)
        for p in paths:
            key = Path(p).relative_to(tmp_path).as_posix()
            assert suite.sha256(p) == ITEMS[rel]["files"][key], key


@pytest.mark.parametrize("rel", ["dot/h100-fp16/fp16-fp16", "dot/b200-mxf8f6f4/e2m1-e5m2",
                                 "codec/quantize-e4m3", "codec/encode-e2m3"])
def test_regenerates_on_the_reference_backend(rel, tmp_path):
    _require("reference")
    argv = next(a for r, a, _ in suite.entries() if r == rel)
    with _backend.using("reference"):
        p = api.write_stream(suite.spec_of(argv), tmp_path / "x", ("tv",),
                             command=suite.command(rel, argv, ("tv",)), progress=False)[0]
    assert suite.sha256(p) == ITEMS[rel]["files"][rel + ".tv"]


def _replay(g, impl, rows=None):
    got = checking.recompute(g, impl, rows=rows)
    want = {k: g.data[k] if rows is None else g.data[k][rows] for k in got}
    bad = [k for k in got if not (got[k] == want[k]).all()]
    return bad


@pytest.mark.parametrize("path", TV, ids=IDS)
def test_replays_on_every_implementation(path):
    g = files.read_tv(path)
    assert _replay(g, "auto") == []
    if "native" in _backend.available():
        assert _replay(g, "native") == []
    subset = np.arange(0, len(g), 8) if g.spec.op in ("dot", "dot1", "gemm") else None
    assert _replay(g, "reference", subset) == []


def _same_float(x: float, y: float) -> bool:
    """Equal values with equal signs (zeros), or both NaN."""
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return x == y and math.copysign(1, x) == math.copysign(1, y)


@pytest.mark.parametrize("path", [p for p in TV if "codec" in p.parts],
                         ids=[i for i in IDS if i.startswith("codec")])
def test_codec_sets_agree_with_the_oracle(path):
    g = files.read_tv(path)
    spec = oracle.SPECS[g.spec.a_fmt.name.upper()]
    f32 = lambda bits: oracle.decode(oracle.SPECS["FP32"], int(bits)).as_float()  # noqa
    for r in range(len(g)):
        if g.spec.op == "decode":
            want = oracle.decode(spec, int(g.data["code"][r, 0])).as_float()
            assert _same_float(f32(g.data["value"][r, 0]), want), r
        elif g.spec.op == "encode":
            want = oracle.encode(spec, f32(g.data["x"][r, 0]), "rne")
            assert (int(g.data["code"][r, 0]), int(g.data["flags"][r, 0])) == want, r
        else:
            codes, scale, flags = oracle.mx_block(spec, [f32(x) for x in g.data["x"][r]])
            assert int(g.data["scale"][r, 0]) == scale, r
            if scale != 0xFF:  # a NaN block's element codes are the policy's filler
                assert [int(c) for c in g.data["codes"][r]] == codes, r
                want_fl = 0
                for f in flags:
                    want_fl |= f
                assert int(g.data["flags"][r, 0]) == want_fl, r


@pytest.mark.parametrize("path", [p for p in TV if p.parent.name == "exact"],
                         ids=[i for i in IDS if i.startswith("dot/exact/")])
def test_shipped_exact_sets_are_the_rounded_exact_sum(path):
    """The 'exact' preset is one RNE rounding of the exact sum (Fractions, tests/oracle;
    every 4th case, for time)."""
    from test_golden import exact_sum_mismatches
    checked, bad = exact_sum_mismatches(files.read_tv(path), every=4)
    assert bad == [] and checked > 20


@pytest.mark.parametrize("path", [p for p in TV if "codec" not in p.parts or
                                  "decode" not in p.name],
                         ids=[i for i in IDS if "decode" not in i])
def test_each_file_tells_its_config_from_every_neighbour(path):
    g = files.read_tv(path)
    rows = checking.adequacy(g)
    assert rows
    for r in rows:
        if r.status == "ok":
            assert r.differing > 0, f"{r.label} changes no case"
        else:  # a neighbour claimed equivalent (or n/a) must change nothing here either
            assert r.differing == 0 and r.note


def test_readme_holds_the_current_adequacy_table():
    text = (GOLDEN / "README.md").read_text()
    table = adequacy_table([p for p in TV], GOLDEN)
    assert table in text
