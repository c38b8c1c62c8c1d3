"""`CycleReport`: what the cycle model says about one GEMM (docs/TIMING.md 5)."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Dict, Optional, Tuple

STALL_CAUSES = ("pipeline_fill", "operand_starvation", "accumulator_hazard",
                "pipeline_drain", "writeback")


@dataclass(frozen=True)
class CycleReport:
    """Cycles of one GEMM and where they go. Invariants (tested):

        total_cycles = busy_cycles + sum(stalls.values())
        total_cycles = ideal_cycles + padding_cycles + imbalance_cycles + sum(stalls.values())

    busy_cycles: cycles the critical unit (or the array) issues work; stalls: cycles it
    waits, by cause (STALL_CAUSES); ideal_cycles = macs / peak MACs per cycle;
    padding_cycles: busy time spent on the padding of partial instruction tiles (or array
    folds); imbalance_cycles: busy time of the critical unit beyond the units' average.
    compute_cycles / memory_cycles: sum of chunk compute and load times; `bound` is
    'compute' when compute_cycles >= memory_cycles, else 'bandwidth' (the roofline verdict;
    arithmetic_intensity and ridge_point are its two sides, in FLOP per byte read).
    Fractions are exact; `to_dict` and `table` show them as floats.
    """
    config: str
    mode: str
    M: int
    N: int
    K: int
    formats: Tuple[str, str]
    total_cycles: int
    busy_cycles: int
    stalls: Dict[str, int]
    macs: int
    peak_flops_per_cycle: Fraction
    ideal_cycles: Fraction
    padding_cycles: Fraction
    imbalance_cycles: Fraction
    compute_cycles: int
    memory_cycles: int
    bytes_read: int
    bytes_written: int
    bandwidth: int
    stage_occupancy: Dict[str, Fraction] = field(default_factory=dict)
    systolic: Optional[object] = None

    @classmethod
    def build(cls, *, cfg, mode, M, N, K, formats, total, busy, stalls, compute_cycles,
              memory_cycles, bytes_read, bytes_written, issued_macs, occupancy,
              systolic=None):
        macs = M * N * K
        peak_macs = cfg.peak_macs_per_cycle(*formats)
        ideal = Fraction(macs) / peak_macs
        issued = Fraction(issued_macs) / peak_macs
        # The critical unit's busy time splits into the average unit's (issued / peak) and
        # the excess over it; the average splits into useful work and padding.
        return cls(config=cfg.name, mode=mode, M=M, N=N, K=K, formats=tuple(formats),
                   total_cycles=total, busy_cycles=busy, stalls=dict(stalls), macs=macs,
                   peak_flops_per_cycle=2 * peak_macs, ideal_cycles=ideal,
                   padding_cycles=issued - ideal, imbalance_cycles=busy - issued,
                   compute_cycles=compute_cycles, memory_cycles=memory_cycles,
                   bytes_read=bytes_read, bytes_written=bytes_written,
                   bandwidth=cfg.bandwidth, stage_occupancy=dict(occupancy),
                   systolic=systolic)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def stall_cycles(self) -> int:
        return sum(self.stalls.values())

    @property
    def achieved_flops_per_cycle(self) -> Fraction:
        return Fraction(self.flops, self.total_cycles)

    @property
    def utilization(self) -> Fraction:
        """Achieved over peak FLOP per cycle (= ideal_cycles / total_cycles)."""
        return self.ideal_cycles / self.total_cycles

    @property
    def bound(self) -> str:
        return "compute" if self.compute_cycles >= self.memory_cycles else "bandwidth"

    @property
    def arithmetic_intensity(self) -> Fraction:
        return Fraction(self.flops, self.bytes_read)

    @property
    def ridge_point(self) -> Fraction:
        """FLOP per byte at which peak compute and the feeding bandwidth balance."""
        return self.peak_flops_per_cycle / self.bandwidth

    def to_dict(self) -> dict:
        """Plain JSON-able values (Fractions as floats)."""
        out = {k: getattr(self, k) for k in (
            "config", "mode", "M", "N", "K", "total_cycles", "busy_cycles", "macs",
            "compute_cycles", "memory_cycles", "bytes_read", "bytes_written", "bound")}
        out["formats"] = list(self.formats)
        out["stalls"] = dict(self.stalls)
        for k in ("peak_flops_per_cycle", "achieved_flops_per_cycle", "utilization",
                  "ideal_cycles", "padding_cycles", "imbalance_cycles",
                  "arithmetic_intensity", "ridge_point"):
            out[k] = float(getattr(self, k))
        out["stage_occupancy"] = {k: float(v) for k, v in self.stage_occupancy.items()}
        return out

    def table(self) -> str:
        """The report as the `mxemu cycles` table."""
        t = self.total_cycles

        def pct(x):
            return f"{100 * float(x) / t:6.2f}%"

        rows = [f"{self.config} ({self.mode}): M={self.M} N={self.N} K={self.K}, "
                f"A {self.formats[0]}, B {self.formats[1]}",
                f"  total cycles            {t:>14,}",
                f"  busy (issuing)          {self.busy_cycles:>14,}  {pct(self.busy_cycles)}",
                f"    ideal (useful MACs)   {float(self.ideal_cycles):>14,.1f}  "
                f"{pct(self.ideal_cycles)}",
                f"    padding               {float(self.padding_cycles):>14,.1f}  "
                f"{pct(self.padding_cycles)}",
                f"    unit imbalance        {float(self.imbalance_cycles):>14,.1f}  "
                f"{pct(self.imbalance_cycles)}"]
        for cause, n in self.stalls.items():
            rows.append(f"  stall: {cause.replace('_', ' '):17}{n:>14,}  {pct(n)}")
        rows += [f"  FLOP/cycle              {float(self.achieved_flops_per_cycle):>14,.1f}"
                 f"  of peak {float(self.peak_flops_per_cycle):,.0f} "
                 f"({100 * float(self.utilization):.2f}% utilization)",
                 f"  compute / memory cycles {self.compute_cycles:>14,} / "
                 f"{self.memory_cycles:,}",
                 f"  bytes read / written    {self.bytes_read:>14,} / {self.bytes_written:,}",
                 f"  roofline                {self.bound}-bound: "
                 f"{float(self.arithmetic_intensity):.1f} FLOP/B vs ridge "
                 f"{float(self.ridge_point):.1f} FLOP/B"]
        occ = ", ".join(f"{k} {100 * float(v):.1f}%" for k, v in self.stage_occupancy.items())
        rows.append(f"  stage occupancy         {occ}")
        return "\n".join(rows) + "\n"
