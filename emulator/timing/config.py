"""`TimingConfig`: a tensor-core microarchitecture described as data (docs/TIMING.md 2).

Two kinds of unit are described by one record:
- a *dot-product unit* array (`systolic=None`): `units` units, each with `lanes` lanes that
  each reduce `dot_width` products per beat (times the format's rate), fed from an operand
  buffer by a memory of `bandwidth` bytes per cycle, executing (m, n, k) instructions over a
  GEMM cut into (Mb, Nb, Kb) block tiles;
- a *systolic array* (`systolic=SystolicArray(rows, cols, dataflow)`), one MAC per PE per
  cycle, whose compute cycles follow SCALE-Sim's schedule exactly (docs/TIMING.md 4).

Everything is validated at construction so that the cycle model never meets a config it
cannot schedule; errors name the field and what is allowed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Mapping, Optional, Tuple

from ..formats import get_format

# The operand formats the timing model knows (MX element formats). Their widths come from
# the format descriptors; the rate multipliers come from the TimingConfig.
OPERAND_FORMATS = ("e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "int8")
DATAFLOWS = ("os", "ws", "is")
MX_BLOCK = 32           # elements per E8M0 scale along K (OCP MX)
SCALE_BITS = 8          # one E8M0 scale code
STAGE_NAMES = ("fetch", "decode_scale", "multiply", "align", "reduce", "normalize_round",
               "accumulate")


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}={value!r}: allowed a positive int")
    if value < 1:
        raise ValueError(f"{name}={value!r}: allowed a positive int")
    return value


def format_bits(name: str) -> int:
    """Bits of one element of operand format `name` (from its descriptor)."""
    if name not in OPERAND_FORMATS:
        raise ValueError(f"format {name!r}: allowed {', '.join(OPERAND_FORMATS)}")
    return get_format(name).bits


@dataclass(frozen=True)
class Stage:
    """One pipeline stage: `latency` cycles from entry to exit. A `pipelined` stage accepts a
    new beat every cycle; an unpipelined one holds a beat for its whole latency, which forces
    the unit's initiation interval up to that latency."""
    name: str
    latency: int
    pipelined: bool = True

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"stage name {self.name!r}: allowed a non-empty string")
        _positive_int(self.latency, f"stage {self.name!r} latency")


@dataclass(frozen=True)
class SystolicArray:
    """A rows x cols PE array and its dataflow: 'os' (output stationary), 'ws' (weight
    stationary: B is held in the PEs) or 'is' (input stationary: A is held)."""
    rows: int
    cols: int
    dataflow: str

    def __post_init__(self):
        _positive_int(self.rows, "systolic rows")
        _positive_int(self.cols, "systolic cols")
        if self.dataflow not in DATAFLOWS:
            raise ValueError(f"systolic dataflow {self.dataflow!r}: allowed "
                             f"{', '.join(DATAFLOWS)}")


def default_stages() -> Tuple[Stage, ...]:
    """The seven stages of a block-scaled dot-product datapath with illustrative latencies
    (the split is an assumption; only their sum, the pipeline depth, affects cycle counts)."""
    return tuple(Stage(name, lat) for name, lat in zip(STAGE_NAMES, (2, 1, 2, 1, 3, 1, 2)))


@dataclass(frozen=True)
class TimingConfig:
    """A tensor-core microarchitecture (docs/TIMING.md 2 explains every field).

    units, lanes, dot_width: dot-product units, lanes per unit, products each lane reduces
        per beat at rate 1. Peak MACs per cycle = units * lanes * dot_width * rate / ii.
    rates: per operand format, the multiple of the base element rate (FP4/FP6 may run 2x or
        4x FP8). A pair of formats runs at the smaller of the two rates.
    stages, ii: the pipeline (its depth is the sum of latencies) and the initiation interval
        (cycles between beats of one unit).
    instr: the per-unit instruction shape (m, n, k) at rate 1; `instr_k_scales`: whether a
        faster format packs more K into one instruction (True: k * rate, same cycles) or keeps
        k and finishes sooner (False).
    block: (Mb, Nb, Kb) block tile: the GEMM's outputs are cut into Mb x Nb tiles, processed
        one after another, each streaming K in Kb chunks through a double-buffered operand
        buffer of `buffer_bytes`.
    acc_entries: FP32 accumulator entries per unit (double-buffered across block tiles).
    bandwidth: bytes per cycle the feeding memory delivers to the operand buffer (A, B,
        scales, C); `write_bandwidth`: bytes per cycle of the result write path (default:
        `bandwidth`). out_bytes: bytes per output element (4: FP32).
    systolic: set for a systolic array; then units/lanes/... are unused and the compute
        schedule is SCALE-Sim's.
    source: where the numbers come from.
    """
    name: str
    units: int = 1
    lanes: int = 1
    dot_width: int = 1
    rates: Mapping[str, int] = field(default_factory=lambda: {f: 1 for f in OPERAND_FORMATS})
    stages: Tuple[Stage, ...] = field(default_factory=default_stages)
    ii: int = 1
    instr: Tuple[int, int, int] = (1, 1, 1)
    instr_k_scales: bool = True
    block: Tuple[int, int, int] = (1, 1, 32)
    acc_entries: int = 2
    buffer_bytes: int = 1 << 20
    bandwidth: int = 64
    write_bandwidth: Optional[int] = None
    out_bytes: int = 4
    systolic: Optional[SystolicArray] = None
    source: str = ""

    def __post_init__(self):
        # 1. Scalars and shapes.
        for name in ("units", "lanes", "dot_width", "ii", "acc_entries", "buffer_bytes",
                     "bandwidth", "out_bytes"):
            _positive_int(getattr(self, name), name)
        if self.write_bandwidth is not None:
            _positive_int(self.write_bandwidth, "write_bandwidth")
        for name in ("instr", "block"):
            shape = getattr(self, name)
            if not isinstance(shape, tuple) or len(shape) != 3:
                raise ValueError(f"{name}={shape!r}: allowed a tuple of 3 positive ints")
            for axis, v in zip("mnk", shape):
                _positive_int(v, f"{name}.{axis}")
        unknown = set(self.rates) - set(OPERAND_FORMATS)
        if unknown or set(self.rates) != set(OPERAND_FORMATS):
            raise ValueError(f"rates: give one positive int for each of "
                             f"{', '.join(OPERAND_FORMATS)}; got keys {sorted(self.rates)}")
        for f, r in self.rates.items():
            _positive_int(r, f"rates[{f!r}]")
        if not self.stages or not all(isinstance(s, Stage) for s in self.stages):
            raise TypeError("stages: allowed a non-empty tuple of Stage")
        if self.systolic is not None:
            if not isinstance(self.systolic, SystolicArray):
                raise TypeError(f"systolic={self.systolic!r}: allowed a SystolicArray or None")
            return
        # 2. Every format's instruction must split into whole beats: G output groups of
        #    `lanes` outputs, S K-steps of dot_width * rate products.
        m, n, k = self.instr
        if (m * n) % self.lanes:
            raise ValueError(f"instr m*n = {m * n} must be a multiple of lanes={self.lanes}")
        for f in OPERAND_FORMATS:
            kf = self.instr_k(f, f)
            step = self.dot_width * self.rates[f]
            if kf % step:
                raise ValueError(f"instr k for {f} ({kf}) must be a multiple of dot_width * "
                                 f"rate = {step}")
        # 3. Block tiles: whole instructions, whole MX scale blocks, whole K instructions.
        mb, nb, kb = self.block
        if mb % m or nb % n:
            raise ValueError(f"block {self.block} must be a multiple of instr (m, n) = "
                             f"{(m, n)}")
        kmax = max(self.instr_k(f, f) for f in OPERAND_FORMATS)
        if kb % kmax or kb % MX_BLOCK:
            raise ValueError(f"block k={kb} must be a multiple of {MX_BLOCK} and of every "
                             f"format's instr k (largest {kmax})")
        # 4. Storage: two operand chunks (double buffering) and two block tiles of
        #    accumulators per unit.
        widest = max(format_bits(f) for f in OPERAND_FORMATS)
        chunk = ((mb + nb) * kb * widest + (mb + nb) * (kb // MX_BLOCK) * SCALE_BITS) // 8
        if 2 * chunk > self.buffer_bytes:
            raise ValueError(f"buffer_bytes={self.buffer_bytes} cannot double-buffer a block "
                             f"chunk of {chunk} bytes (need {2 * chunk})")
        per_unit = -(-(mb // m) * (nb // n) // self.units) * m * n
        if 2 * per_unit > self.acc_entries:
            raise ValueError(f"acc_entries={self.acc_entries} cannot double-buffer a unit's "
                             f"share of a block tile ({per_unit} outputs; need "
                             f"{2 * per_unit})")

    # --- derived quantities (docs/TIMING.md 3) ---
    def rate(self, fa: str, fb: str) -> int:
        """Element-rate multiple of the pair (the slower operand sets the pace)."""
        format_bits(fa), format_bits(fb)
        return min(self.rates[fa], self.rates[fb])

    def instr_k(self, fa: str, fb: str) -> int:
        """K of one instruction for this format pair."""
        k = self.instr[2]
        return k * self.rate(fa, fb) if self.instr_k_scales else k

    @property
    def ii_eff(self) -> int:
        """Initiation interval after unpipelined stages: max(ii, their latencies)."""
        return max([self.ii] + [s.latency for s in self.stages if not s.pipelined])

    @property
    def depth(self) -> int:
        """Pipeline depth D: cycles from a beat's issue to its result."""
        return sum(s.latency for s in self.stages)

    @property
    def acc_latency(self) -> int:
        """Latency of the accumulate stage (the last stage when none is so named)."""
        for s in self.stages:
            if s.name == "accumulate":
                return s.latency
        return self.stages[-1].latency

    def peak_macs_per_cycle(self, fa: str, fb: str):
        """Peak MACs per cycle for the pair (a Fraction when ii does not divide evenly)."""
        if self.systolic is not None:
            format_bits(fa), format_bits(fb)
            return Fraction(self.systolic.rows * self.systolic.cols)
        return Fraction(self.units * self.lanes * self.dot_width * self.rate(fa, fb),
                        self.ii_eff)

    def peak_flops_per_cycle(self, fa: str, fb: str):
        return 2 * self.peak_macs_per_cycle(fa, fb)

    @property
    def write_bw(self) -> int:
        return self.write_bandwidth or self.bandwidth
