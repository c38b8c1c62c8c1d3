"""Schedule exports: Chrome/Perfetto trace JSON, VCD (read back by a small independent
parser written here), PNG, and the `mxemu cycles` command."""
import json
import re

import pytest

from clitools import run_cli
from emulator.timing import (get_timing_preset, schedule, write_chrome_trace, write_plot,
                             write_vcd)

SHAPES = [("blackwell-sm", 300, 500, 300, ("e4m3", "e2m1")),
          ("mi355x-cu", 64, 8, 1000, ("e3m2", "e3m2")),
          ("blackwell-sm-starved", 256, 256, 512, ("e4m3", "e4m3")),
          ("systolic-128x128-ws", 200, 300, 150, ("e4m3", "e4m3")),
          ("systolic-128x128-os", 2000, 2000, 2000, ("e4m3", "e4m3"))]


def _union(intervals):
    """Sorted disjoint union of [start, end) intervals."""
    out = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return out


@pytest.mark.parametrize("name, M, N, K, formats", SHAPES)
def test_chrome_trace_is_trace_event_format_and_covers_the_schedule(tmp_path, name, M, N, K,
                                                                    formats):
    sched = schedule(get_timing_preset(name), M, N, K, formats)
    assert not sched.truncated
    doc = json.loads(open(write_chrome_trace(sched, tmp_path / "t.json")).read())
    events = doc["traceEvents"]
    assert doc["otherData"]["report"]["total_cycles"] == sched.total_cycles
    for e in events:
        assert e["ph"] in ("X", "M") and isinstance(e["name"], str)
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        if e["ph"] == "X":
            assert isinstance(e["ts"], int) and isinstance(e["dur"], int) and e["dur"] > 0
    named = {e["tid"]: e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert sorted(named.values()) == sorted(sched.tracks)
    # Coverage: at every cycle of the run the critical path is computing or in a named
    # stall, so the union of the work and stall events is exactly [0, total).
    work = [(e["ts"], e["ts"] + e["dur"]) for e in events if e["ph"] == "X"
            and named[e["tid"]] in ("unit0", "array", "stall")]
    assert _union(work) == [[0, sched.total_cycles]]
    stall = sum(e["dur"] for e in events if e["ph"] == "X" and named[e["tid"]] == "stall"
                and e["name"] != "operand_starvation")
    rep = sched.report
    if rep.mode == "dot-product":
        assert stall == (rep.stalls["pipeline_fill"] + rep.stalls["pipeline_drain"]
                         + rep.stalls["writeback"])


def _parse_vcd(text):
    """A minimal IEEE 1364 VCD reader: header keywords, the timescale, the variables, and
    per variable its (time, value) changes. Independent of the writer."""
    tokens = text.split()
    header, i = {}, 0
    variables = {}
    while tokens[i] != "$enddefinitions":
        kw = tokens[i]
        j = tokens.index("$end", i)
        if kw == "$var":
            vtype, width, code, ref = tokens[i + 1:i + 5]
            variables[code] = (vtype, int(width), ref)
        else:
            header[kw] = " ".join(tokens[i + 1:j])
        i = j + 1
    i = tokens.index("$end", i) + 1
    changes = {code: [] for code in variables}
    t = None
    for tok in tokens[i:]:
        if tok.startswith("#"):
            new = int(tok[1:])
            assert t is None or new > t, "timestamps must increase"
            t = new
        elif tok in ("$dumpvars", "$end"):
            continue
        else:
            assert tok[0] in "01xz" and tok[1:] in variables, tok
            changes[tok[1:]].append((t, tok[0]))
    return header, variables, changes, t


@pytest.mark.parametrize("name, M, N, K, formats", SHAPES)
def test_vcd_reads_back_with_the_schedules_busy_intervals(tmp_path, name, M, N, K, formats):
    sched = schedule(get_timing_preset(name), M, N, K, formats)
    path = write_vcd(sched, tmp_path / "s.vcd")
    header, variables, changes, last = _parse_vcd(open(path).read())
    assert header["$timescale"] == "1ns"
    assert header["$scope"] == "module tensor_core"
    assert all(v[0] == "wire" and v[1] == 1 for v in variables.values())
    assert all(re.fullmatch(r"[!-~]+", code) for code in variables)
    assert last == sched.total_cycles
    # Each wire is 1 exactly on the union of its events: a track's, or one phase's on the
    # tracks of named phases.
    by_ref = {ref: code for code, (_, _, ref) in variables.items()}
    wires = {}
    for e in sched.events:
        ref = f"{e.track}_{e.name}" if e.track in ("stall", "array") else e.track
        wires.setdefault(ref, []).append((e.start, e.end))
    assert sorted(wires) == sorted(by_ref)
    for ref, intervals in wires.items():
        got, start = [], None
        for t, v in changes[by_ref[ref]]:
            if v == "1":
                start = t
            elif start is not None:
                got.append([start, t])
                start = None
        assert got == _union(intervals), ref


def test_png_plot(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is the optional 'plot' extra")
    sched = schedule(get_timing_preset("mi355x-cu"), 300, 200, 500, ("e4m3", "e2m1"))
    path = write_plot(sched, tmp_path / "t.png")
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10000


def test_a_huge_schedule_is_recorded_in_part_with_the_exact_tail():
    sched = schedule(get_timing_preset("blackwell-sm"), 16384, 16384, 16384, "e4m3",
                     max_chunks=100)
    assert sched.truncated
    assert len([e for e in sched.events if e.track == "unit0"]) == 100
    assert sched.events[-1].end == sched.total_cycles
    with pytest.raises(ValueError, match="max_chunks"):
        schedule(get_timing_preset("blackwell-sm"), 1, 1, 1, "e4m3", max_chunks=0)


def test_cli_cycles_prints_the_table_and_writes_the_files(tmp_path):
    tr, vcd, png = tmp_path / "t.json", tmp_path / "t.vcd", tmp_path / "t.png"
    rc, out = run_cli(["cycles", "--preset", "mi355x-cu", "--shape", "4096,4096,4096",
                       "--formats", "e4m3,e2m1", "--trace", str(tr), "--vcd", str(vcd),
                       "--plot", str(png)])
    assert rc == 0
    assert "total cycles                16,777,939" in out
    assert "of peak 8,192" in out and "compute-bound" in out
    assert json.loads(tr.read_text())["otherData"]["report"]["total_cycles"] == 16777939
    assert vcd.read_text().startswith("$date")
    assert png.exists() or "plot skipped" in out


@pytest.mark.parametrize("argv, match", [
    (["--preset", "nope", "--shape", "1,1,1"], "timing preset 'nope'"),
    (["--preset", "mi355x-cu", "--shape", "1,1"], "--shape"),
    (["--preset", "mi355x-cu", "--shape", "1,1,1", "--formats", "fp16"], "format 'fp16'"),
    (["--preset", "mi355x-cu", "--shape", "1,1,1", "--formats", "a,b,c"], "--formats"),
])
def test_cli_cycles_errors(capsys, argv, match):
    rc, _ = run_cli(["cycles"] + argv)
    assert rc == 2 and match in capsys.readouterr().err


def test_readme_cycles_example_is_the_real_output(tmp_path, monkeypatch):
    from pathlib import Path
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    shown = readme.split("prints (and writes a Perfetto/Chrome trace")[1].split("```")[1]
    monkeypatch.chdir(tmp_path)
    rc, out = run_cli(["cycles", "--preset", "blackwell-sm", "--shape", "1000,1000,1000",
                       "--formats", "e4m3,e2m1", "--trace", "t.json", "--vcd", "t.vcd",
                       "--plot", "t.png"])
    assert rc == 0
    if (tmp_path / "t.png").exists():
        assert out == shown.lstrip("\n")
    else:   # without matplotlib only the last line differs
        assert out.splitlines()[:-1] == shown.strip().splitlines()[:-1]
    # The tour's comments on the 4 x 3 x 64 GEMM, checked.
    from emulator import TensorCore
    tc = TensorCore("b200-mxf8f6f4", "blackwell-sm")
    r = tc.estimate(4, 3, 64, "e4m3")
    assert (r.total_cycles, r.busy_cycles) == (272, 256)
    assert r.stalls == {"pipeline_fill": 4, "operand_starvation": 0, "accumulator_hazard": 0,
                        "pipeline_drain": 11, "writeback": 1}
