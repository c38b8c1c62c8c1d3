"""The schedule behind a CycleReport as events, and its exports: Chrome/Perfetto trace JSON,
an IEEE 1364 VCD waveform (GTKWave), and a PNG timeline (docs/TIMING.md 7).

Time is in cycles everywhere: a trace's microsecond and a VCD's nanosecond are one cycle.
`schedule` walks the same recurrence as `estimate`, chunk by chunk, recording at most
`max_chunks` chunks (systolic: folds); past that the walk continues without recording, so
the tail events (drain, write-back) and the total still match the report.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import List, Tuple

from .config import TimingConfig
from .model import check_problem, estimate, walk
from .report import CycleReport
from .systolic import systolic_cycles

DEFAULT_MAX_CHUNKS = 2000
PHASED_TRACKS = ("stall", "array")     # tracks whose events are named phases


@dataclass(frozen=True)
class Event:
    """One interval [start, end) on a track, with a name and details."""
    track: str
    name: str
    start: int
    end: int
    args: Tuple[Tuple[str, object], ...] = ()


@dataclass(frozen=True)
class Schedule:
    """Events of one GEMM's schedule; `truncated` when only the first chunks were recorded."""
    report: CycleReport
    tracks: Tuple[str, ...]
    events: Tuple[Event, ...]
    truncated: bool

    @property
    def total_cycles(self) -> int:
        return self.report.total_cycles


def schedule(cfg: TimingConfig, M, N, K, formats, with_c: bool = False,
             max_chunks: int = DEFAULT_MAX_CHUNKS) -> Schedule:
    """The schedule of `estimate(cfg, M, N, K, formats, with_c)` as events."""
    if isinstance(max_chunks, bool) or not isinstance(max_chunks, int) or max_chunks < 1:
        raise ValueError(f"max_chunks={max_chunks!r}: allowed a positive int")
    report = estimate(cfg, M, N, K, formats, with_c)
    M, N, K, fa, fb = check_problem(M, N, K, formats)
    if cfg.systolic is not None:
        return _systolic_schedule(cfg, report, M, N, K, max_chunks)
    events: List[Event] = []
    units = [f"unit{u}" for u in range(cfg.units)]
    last_end = [0]                               # the previous chunk's compute end

    def emit(c, i, load_start, compute_start, unit_times):
        tag = f"{c.mb}x{c.nb}x{c.kb}"
        if c.load:
            events.append(Event("memory", f"load {i}", load_start, load_start + c.load,
                                (("chunk", i), ("tile", tag), ("bytes", -(-c.bits // 8)))))
        if i == 0 and compute_start:
            events.append(Event("stall", "pipeline_fill", 0, compute_start))
        elif compute_start > last_end[0]:
            events.append(Event("stall", "operand_starvation", last_end[0], compute_start))
        for u, (t, issue) in enumerate(unit_times):
            if t:
                events.append(Event(units[u], f"chunk {i}", compute_start, compute_start + t,
                                    (("tile", tag), ("hazard_cycles", t - issue))))
        last_end[0] = compute_start + max(unit_times)[0]

    w, _ = walk(cfg, M, N, K, fa, fb, with_c, emit=emit, max_chunks=max_chunks)
    # The tail, from the walker's final state (exact even when recording stopped early).
    end = w.state[1]
    for cause in ("pipeline_drain", "writeback"):
        n = report.stalls[cause]
        if n:
            events.append(Event("stall", cause, end, end + n))
            end += n
    return Schedule(report, tuple(["memory"] + units + ["stall"]), tuple(events),
                    truncated=w.index > max_chunks)


def _systolic_schedule(cfg, report, M, N, K, max_chunks) -> Schedule:
    arr = cfg.systolic
    s = systolic_cycles(M, N, K, arr.rows, arr.cols, arr.dataflow)
    events: List[Event] = []
    phases = (("load_stationary", s.load), ("fill", arr.rows - 1), ("stream", s.temporal),
              ("drain", arr.cols - 1))
    for f in range(min(s.folds, max_chunks)):
        t = f * s.per_fold
        for name, n in phases:
            if n:
                events.append(Event("array", name, t, t + n, (("fold", f),)))
                t += n
    starved = report.stalls["operand_starvation"]
    if starved:
        events.append(Event("stall", "operand_starvation", s.cycles, s.cycles + starved))
    return Schedule(report, ("array", "stall"), tuple(events), truncated=s.folds > max_chunks)


def chrome_trace(sched: Schedule) -> dict:
    """The schedule in the Trace Event Format (Chrome about:tracing, Perfetto UI)."""
    tid = {t: i for i, t in enumerate(sched.tracks)}
    out = [{"name": "process_name", "ph": "M", "pid": 1, "tid": 0,
            "args": {"name": f"{sched.report.config} {sched.report.mode}"}}]
    for t, i in tid.items():
        out.append({"name": "thread_name", "ph": "M", "pid": 1, "tid": i, "args": {"name": t}})
    for e in sched.events:
        out.append({"name": e.name, "cat": e.track, "ph": "X", "pid": 1, "tid": tid[e.track],
                    "ts": e.start, "dur": e.end - e.start, "args": dict(e.args)})
    return {"traceEvents": out, "displayTimeUnit": "ns",
            "otherData": {"time_unit": "1 trace microsecond = 1 cycle",
                          "truncated": sched.truncated, "report": sched.report.to_dict()}}


def write_chrome_trace(sched: Schedule, path) -> str:
    with open(path, "w") as f:
        json.dump(chrome_trace(sched), f, indent=0)
        f.write("\n")
    return str(path)


def _vcd_id(i: int) -> str:
    """Short identifier codes from the printable ASCII range (IEEE 1364 18.2.1)."""
    chars = [chr(c) for c in range(33, 127)]
    out = chars[i % 94]
    i //= 94
    while i:
        out += chars[i % 94]
        i //= 94
    return out


def vcd_text(sched: Schedule) -> str:
    """The schedule as a four-state VCD, timescale 1 ns = 1 cycle: one 1-bit wire per track
    (1 while one of its events is active), except on tracks of named phases (stall causes,
    a systolic fold's phases), which get one wire per phase, named track_phase."""
    def signal(e):
        return (e.track, e.name) if e.track in PHASED_TRACKS else (e.track, e.track)

    signals = sorted({signal(e) for e in sched.events},
                     key=lambda sig: (sched.tracks.index(sig[0]), sig[1]))
    ids = {sig: _vcd_id(i) for i, sig in enumerate(signals)}
    # Level changes per signal: +1 at each start, -1 at each end; the wire is 1 while > 0.
    deltas = {}
    for e in sched.events:
        if e.end > e.start:
            deltas.setdefault(e.start, []).append((signal(e), 1))
            deltas.setdefault(e.end, []).append((signal(e), -1))
    head = ["$date mxemu cycle model $end", "$version mxemu emulator.timing $end",
            "$comment 1 ns = 1 cycle; "
            f"{sched.report.config} M={sched.report.M} N={sched.report.N} "
            f"K={sched.report.K} {'/'.join(sched.report.formats)} $end",
            "$timescale 1ns $end", "$scope module tensor_core $end"]
    head += [f"$var wire 1 {ids[sig]} "
             f"{sig[0] + '_' + sig[1] if sig[0] in PHASED_TRACKS else sig[0]} $end"
             for sig in signals]
    # Initial values: the levels after the events that start at cycle 0.
    level = dict.fromkeys(signals, 0)
    for sig, d in deltas.pop(0, []):
        level[sig] += d
    head += ["$upscope $end", "$enddefinitions $end", "#0", "$dumpvars"]
    head += [f"{int(level[sig] > 0)}{ids[sig]}" for sig in signals] + ["$end"]
    body = []
    for t in sorted(deltas):
        before = {sig: level[sig] > 0 for sig, _ in deltas[t]}
        for sig, d in deltas[t]:
            level[sig] += d
        changes = [f"{int(level[sig] > 0)}{ids[sig]}" for sig in before
                   if (level[sig] > 0) != before[sig]]
        if changes:
            body.append(f"#{t}")
            body += changes
    if not deltas or max(deltas) < sched.total_cycles:
        body.append(f"#{sched.total_cycles}")   # the dump spans the whole run
    return "\n".join(head + body) + "\n"


def write_vcd(sched: Schedule, path) -> str:
    with open(path, "w") as f:
        f.write(vcd_text(sched))
    return str(path)


def write_plot(sched: Schedule, path, max_events: int = 4000):
    """A PNG: the pipeline timeline (first `max_events` events) above the cycle breakdown.
    Returns the path, or None when matplotlib is not installed."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    rep = sched.report
    fig = Figure(figsize=(11, 6))
    FigureCanvasAgg(fig)
    ax, bx = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 1]})
    # Work in green, waiting on memory in the memory track's blue, other stalls distinct;
    # the breakdown bar below uses the same colours.
    shade = {"ideal": "tab:green", "padding": "yellowgreen", "imbalance": "tab:olive",
             "pipeline_fill": "tab:red", "operand_starvation": "tab:blue",
             "accumulator_hazard": "tab:purple", "pipeline_drain": "tab:pink",
             "writeback": "tab:brown", "load_stationary": "tab:red", "fill": "tab:red",
             "drain": "tab:pink"}
    for row, track in enumerate(sched.tracks):
        mine = [e for e in sched.events[:max_events] if e.track == track]
        colors = ["tab:blue" if track == "memory" else shade.get(e.name, "tab:green")
                  for e in mine]
        ax.broken_barh([(e.start, e.end - e.start) for e in mine], (row - 0.4, 0.8),
                       facecolors=colors)
    ax.set_yticks(range(len(sched.tracks)), labels=list(sched.tracks))
    ax.set_xlabel("cycle")
    ax.set_title(f"{rep.config}: M={rep.M} N={rep.N} K={rep.K} {'/'.join(rep.formats)}, "
                 f"{rep.total_cycles:,} cycles, {100 * float(rep.utilization):.1f}% "
                 f"utilization" + (" (first events only)" if sched.truncated else ""))
    parts = [("ideal", rep.ideal_cycles), ("padding", rep.padding_cycles),
             ("imbalance", rep.imbalance_cycles)] + list(rep.stalls.items())
    left = 0.0
    for name, n in parts:
        if n > 0:
            bx.barh(0, float(n) / rep.total_cycles, left=left, label=name, color=shade[name])
            left += float(n) / rep.total_cycles
    bx.set_xlim(0, 1)
    bx.set_yticks([])
    bx.set_xlabel("fraction of total cycles")
    bx.legend(ncol=4, fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return str(path)
