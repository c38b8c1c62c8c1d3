"""The cycle model: a function of (TimingConfig, M, N, K, formats), never of data values
(docs/TIMING.md 3 derives every formula used here).

Dot-product units. The GEMM's outputs are cut into Mb x Nb block tiles, processed in row-major
order; each streams K in Kb chunks. A chunk is loaded into one half of a double-buffered
operand buffer while the units compute the previous chunk:

    load_start[i]    = max(load_end[i-1], compute_end[i-2])      (a buffer half is free)
    load_end[i]      = load_start[i] + L[i]
    compute_start[i] = max(load_end[i], compute_end[i-1])
    compute_end[i]   = compute_start[i] + C[i]
    total            = compute_end[last] + max(0, D - ii) + E

L[i] = ceil(bits read / (8 * bandwidth)); C[i] is the busiest unit's issue time plus its
accumulator-hazard stalls (closed form per chunk, `_chunk`, less any idle time before a
hazard at the chunk boundary); D the pipeline depth, E the write-back of the last block
tile. The recurrence is max-plus linear and shift-equivariant, so a run of identical chunks
(or of identical block tiles, or rows of them) settles into a periodic shift; `_Walker`
detects that and jumps, which makes `estimate` of a 16384^3 GEMM cost a few dozen chunk
evaluations. `_Walker(..., emit=...)` walks every chunk
instead and records the schedule for traces (bounded by `max_chunks`).

Systolic arrays use systolic.py's closed form (SCALE-Sim's schedule) plus a roofline on the
operand traffic.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Optional

from .config import MX_BLOCK, SCALE_BITS, TimingConfig, format_bits
from .report import CycleReport
from .systolic import systolic_cycles

MAX_PERIOD = 4         # periods of the chunk recurrence that `_Walker.repeat` looks for
_STATS = ("issue", "hazard", "starvation", "load", "compute", "issued_macs", "bits")


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def check_problem(M, N, K, formats):
    """Validate a problem; return (M, N, K, fa, fb)."""
    for name, v in (("M", M), ("N", N), ("K", K)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}={v!r}: allowed a positive int")
    if isinstance(formats, str):
        formats = (formats, formats)
    if not isinstance(formats, (tuple, list)) or len(formats) != 2:
        raise ValueError(f"formats={formats!r}: allowed a format name or a pair (A, B)")
    fa, fb = (str(f).lower() for f in formats)
    format_bits(fa), format_bits(fb)
    return M, N, K, fa, fb


@dataclass(frozen=True)
class Chunk:
    """One Kb chunk of one block tile: its load cycles L and, per unit, the closed-form
    (issue, inner hazard, boundary hazard) of its compute (docs/TIMING.md 3.2). The
    boundary hazard is the stall at the chunk's first K-step when the unit follows its
    previous chunk back to back; the walk subtracts any idle time before it."""
    mb: int
    nb: int
    kb: int
    first: bool
    load: int
    issued_macs: int
    bits: int
    units: tuple


def _chunk(cfg: TimingConfig, fa, fb, mb, nb, kb, first, with_c) -> Chunk:
    """Closed form of one chunk (docs/TIMING.md 3.2, 3.3)."""
    m, n, _ = cfg.instr
    rate = cfg.rate(fa, fb)
    kf = cfg.instr_k(fa, fb)
    ii = cfg.ii_eff
    groups = m * n // cfg.lanes                  # G: beats that share no accumulator
    steps = kf // (cfg.dot_width * rate)         # S: dependent beats per output and instr
    ksteps = _cdiv(kb, kf)                       # instructions along K (K padded to kf)
    tiles = _cdiv(mb, m) * _cdiv(nb, n)          # instruction tiles in the block tile
    lo, extra = divmod(tiles, cfg.units)         # `extra` units own lo + 1 tiles
    lat = cfg.acc_latency
    h_in = max(0, lat - groups * ii)

    def unit_time(r):
        """(issue, inner hazard, boundary hazard) of a unit owning r tiles, interleaved
        per K-step."""
        if r == 0:
            return 0, 0, 0
        issue = r * ksteps * groups * steps * ii
        gap = ((r - 1) * steps * groups + groups) * ii + (r - 1) * (steps - 1) * h_in
        h_x = max(0, lat - gap)
        # Each tile's own step boundaries stall; at a K-step boundary only the first tile
        # stalls, the others' distances then include that stall.
        inner = r * ksteps * (steps - 1) * h_in + (ksteps - 1) * h_x
        return issue, inner, 0 if first else h_x

    bits = (mb * kb * format_bits(fa) + nb * kb * format_bits(fb)
            + (mb + nb) * _cdiv(kb, MX_BLOCK) * SCALE_BITS
            + (mb * nb * 32 if with_c and first else 0))
    return Chunk(mb, nb, kb, first, load=_cdiv(bits, 8 * cfg.bandwidth),
                 issued_macs=tiles * ksteps * m * n * kf, bits=bits,
                 units=(unit_time(lo + 1),) * extra + (unit_time(lo),) * (cfg.units - extra))


class _Walker:
    """Runs the double-buffer recurrence over a nested program of chunks.

    A program is a list of (item, count); an item is a Chunk or a program. State: the end
    of the last load, the ends of the last two computes, and each unit's last issue end
    (for the hazard across a chunk boundary). With `emit`, every chunk is walked and
    reported to emit(chunk, index, load_start, compute_start, [(time, issue) per unit])
    until `max_chunks`."""

    def __init__(self, units: int, emit: Optional[Callable] = None, max_chunks: int = 0):
        self.state = (0,) * (3 + units)          # load_end, compute_end[-1], [-2], units
        self.stats = dict.fromkeys(_STATS, 0)
        self.fill = None
        self.index = 0
        self.emit, self.max_chunks = emit, max_chunks

    def chunk(self, c: Chunk):
        load_end, ce1, ce2 = self.state[:3]
        ls = max(load_end, ce2)
        le = ls + c.load
        cs = max(le, ce1)
        # Each unit's time: its boundary hazard shrinks by the idle time since its last
        # issue. A unit without tiles restarts its clock at cs (no dependency can span it:
        # it owns no tiles for the rest of this block tile).
        times = []
        for (issue, inner, boundary), end in zip(c.units, self.state[3:]):
            times.append((issue + inner + max(0, boundary - (cs - end)), issue))
        compute, issue = max(times)
        if self.fill is None:
            self.fill = cs                       # nothing computes before the first chunk
        else:
            self.stats["starvation"] += cs - ce1
        self.state = (le, cs + compute, ce1) + tuple(cs + t for t, _ in times)
        st = self.stats
        st["issue"] += issue
        st["hazard"] += compute - issue
        st["load"] += c.load
        st["compute"] += compute
        st["issued_macs"] += c.issued_macs
        st["bits"] += c.bits
        if self.emit is not None and self.index < self.max_chunks:
            self.emit(c, self.index, ls, cs, times)
        self.index += 1

    def run(self, program):
        for item, count in program:
            self.repeat(item, count)

    def repeat(self, item, count):
        """Apply `item` `count` times. Once p applications shift the whole state by one
        amount d, every further p do too (the recurrence is max-plus, so shift-equivariant):
        the remaining multiples of p are added as d and their stats, not walked."""
        step = self.chunk if isinstance(item, Chunk) else self.run
        history = [(self.state, dict(self.stats))]
        done = 0
        while done < count:
            step(item)
            done += 1
            if self.emit is not None and self.index < self.max_chunks:
                continue                         # a trace walks every chunk it records
            history.append((self.state, dict(self.stats)))
            for p in range(1, min(MAX_PERIOD, len(history) - 1) + 1):
                then, stats_then = history[-1 - p]
                d = {a - b for a, b in zip(self.state, then)}
                if len(d) == 1:
                    jumps = (count - done) // p
                    shift = d.pop()
                    inc = {k: self.stats[k] - stats_then[k] for k in _STATS}
                    self.state = tuple(v + jumps * shift for v in self.state)
                    for k in _STATS:
                        self.stats[k] += jumps * inc[k]
                    for _ in range(count - done - jumps * p):
                        step(item)
                    return
            del history[:-MAX_PERIOD - 1]


def _program(cfg, M, N, K, fa, fb, with_c):
    """The chunk sequence as a nested program: rows of block tiles of chunks."""
    mb_, nb_, kb_ = cfg.block
    nm, nn, nk = _cdiv(M, mb_), _cdiv(N, nb_), _cdiv(K, kb_)
    m_edge, n_edge, k_edge = M - (nm - 1) * mb_, N - (nn - 1) * nb_, K - (nk - 1) * kb_

    def tile(mb, nb):
        last = _chunk(cfg, fa, fb, mb, nb, k_edge, nk == 1, with_c)
        if nk == 1:
            return [(last, 1)]
        return [(_chunk(cfg, fa, fb, mb, nb, kb_, True, with_c), 1),
                (_chunk(cfg, fa, fb, mb, nb, kb_, False, with_c), nk - 2),
                (last, 1)]

    def row(mb):
        return [(tile(mb, nb_), nn - 1), (tile(mb, n_edge), 1)]

    return [(row(mb_), nm - 1), (row(m_edge), 1)], m_edge * n_edge


def walk(cfg: TimingConfig, M, N, K, fa, fb, with_c=False, emit=None, max_chunks=0):
    """Run the recurrence; return (walker, last block tile's output count)."""
    program, last_outputs = _program(cfg, M, N, K, fa, fb, with_c)
    w = _Walker(cfg.units, emit, max_chunks)
    w.run(program)
    return w, last_outputs


def estimate(cfg: TimingConfig, M, N, K, formats, with_c: bool = False) -> CycleReport:
    """The CycleReport of an M x N x K GEMM with operand formats (A, B) on `cfg`."""
    if not isinstance(cfg, TimingConfig):
        raise TypeError(f"cfg={cfg!r}: allowed a TimingConfig")
    M, N, K, fa, fb = check_problem(M, N, K, formats)
    if cfg.systolic is not None:
        return _estimate_systolic(cfg, M, N, K, fa, fb, with_c)
    # 1. Walk the chunk schedule (closed-form chunks, periodic jumps).
    w, last_outputs = walk(cfg, M, N, K, fa, fb, with_c)
    st = w.stats
    # 2. The tail: the last beat's pipeline latency, then the last block tile's write-back.
    drain = max(0, cfg.depth - cfg.ii_eff)
    writeback = _cdiv(last_outputs * cfg.out_bytes, cfg.write_bw)
    total = w.state[1] + drain + writeback
    stalls = {"pipeline_fill": w.fill, "operand_starvation": st["starvation"],
              "accumulator_hazard": st["hazard"], "pipeline_drain": drain,
              "writeback": writeback}
    # 3. Occupancy of each stage by the busiest unit's beats.
    beats = st["issue"] // cfg.ii_eff
    occupancy = {s.name: Fraction(beats * (1 if s.pipelined else s.latency), total)
                 for s in cfg.stages}
    return CycleReport.build(
        cfg=cfg, mode="dot-product", M=M, N=N, K=K, formats=(fa, fb), total=total,
        busy=st["issue"], stalls=stalls, compute_cycles=st["compute"],
        memory_cycles=st["load"], bytes_read=_cdiv(st["bits"], 8),
        bytes_written=M * N * cfg.out_bytes, issued_macs=st["issued_macs"],
        occupancy=occupancy)


def systolic_traffic_bits(cfg, M, N, K, fa, fb, with_c, sched):
    """Operand bits a systolic schedule reads: each fold reads its slices of the streamed
    operands in full; the stationary operand of ws/is is read once (docs/TIMING.md 4.3)."""
    bits_a = M * K * format_bits(fa) + M * _cdiv(K, MX_BLOCK) * SCALE_BITS
    bits_b = K * N * format_bits(fb) + N * _cdiv(K, MX_BLOCK) * SCALE_BITS
    df = cfg.systolic.dataflow
    if df == "os":
        bits = sched.col_folds * bits_a + sched.row_folds * bits_b
    elif df == "ws":
        bits = bits_b + sched.col_folds * bits_a
    else:
        bits = bits_a + sched.col_folds * bits_b
    return bits + (M * N * 32 if with_c else 0)


def _estimate_systolic(cfg, M, N, K, fa, fb, with_c):
    arr = cfg.systolic
    sched = systolic_cycles(M, N, K, arr.rows, arr.cols, arr.dataflow)
    bits = systolic_traffic_bits(cfg, M, N, K, fa, fb, with_c, sched)
    memory = _cdiv(bits, 8 * cfg.bandwidth)
    starvation = max(0, memory - sched.cycles)
    total = sched.cycles + starvation
    busy = sched.folds * sched.temporal
    stalls = {"pipeline_fill": sched.folds * (sched.load + arr.rows - 1),
              "operand_starvation": starvation, "accumulator_hazard": 0,
              "pipeline_drain": sched.folds * (arr.cols - 1), "writeback": 0}
    occupancy = {"pe_array": Fraction(M * N * K, arr.rows * arr.cols * total)}
    return CycleReport.build(
        cfg=cfg, mode=f"systolic-{arr.dataflow}", M=M, N=N, K=K, formats=(fa, fb),
        total=total, busy=busy, stalls=stalls, compute_cycles=sched.cycles,
        memory_cycles=memory, bytes_read=_cdiv(bits, 8), bytes_written=M * N * cfg.out_bytes,
        issued_macs=sched.folds * arr.rows * arr.cols * sched.temporal,
        occupancy=occupancy, systolic=sched)
