"""Closed-form compute cycles of a systolic array, equal to SCALE-Sim's (docs/TIMING.md 4).

A GEMM C[M,N] = A[M,K] B[K,N] maps onto an R x C array as two spatial dimensions (Sr along
the rows, Sc along the columns) and one temporal dimension T:

    dataflow   held in the PEs      Sr   Sc   T
    os         C (outputs)          M    N    K
    ws         B (weights)          K    N    M
    is         A (inputs)           K    M    N

The spatial dimensions are cut into ceil(Sr/R) * ceil(Sc/C) folds, each padded to the full
array, run one after another. A fold streams T operand vectors in skewed (one cycle per row
and column), so its last result leaves (R - 1) + (C - 1) cycles after its last input enters;
WS and IS first load the stationary tile, one row per cycle (R cycles). Per fold:

    os:  T + R + C - 2          ws, is:  R + T + R + C - 2 = 2R + C + T - 2

and the array is occupied for folds * per_fold cycles. SCALE-Sim 3.0.0 reports one less as
its "Total Cycles" (the index of the last busy cycle, counted from 0); both are tested
against SCALE-Sim's own output in tests/data/scalesim_compute_cycles.json.
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import DATAFLOWS


@dataclass(frozen=True)
class SystolicCycles:
    """The fold schedule of one GEMM: folds, and per fold the temporal length T, the
    stationary-tile load (R for ws/is, 0 for os) and the skew fill/drain (R + C - 2)."""
    folds: int
    row_folds: int
    col_folds: int
    temporal: int
    load: int
    skew: int

    @property
    def per_fold(self) -> int:
        return self.temporal + self.load + self.skew

    @property
    def cycles(self) -> int:
        """Cycles the array is occupied (SCALE-Sim's demand-matrix rows)."""
        return self.folds * self.per_fold

    @property
    def scalesim_total_cycles(self) -> int:
        """SCALE-Sim's COMPUTE_REPORT 'Total Cycles' (the last cycle's 0-based index)."""
        return self.cycles - 1


def spatio_temporal(M: int, N: int, K: int, dataflow: str):
    """(Sr, Sc, T) of the GEMM under `dataflow` (the table in the module docstring)."""
    if dataflow not in DATAFLOWS:
        raise ValueError(f"dataflow {dataflow!r}: allowed {', '.join(DATAFLOWS)}")
    return {"os": (M, N, K), "ws": (K, N, M), "is": (K, M, N)}[dataflow]


def systolic_cycles(M: int, N: int, K: int, rows: int, cols: int,
                    dataflow: str) -> SystolicCycles:
    """The closed-form fold schedule of an M x N x K GEMM on a rows x cols array."""
    for name, v in (("M", M), ("N", N), ("K", K), ("rows", rows), ("cols", cols)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}={v!r}: allowed a positive int")
    sr, sc, t = spatio_temporal(M, N, K, dataflow)
    row_folds, col_folds = -(-sr // rows), -(-sc // cols)
    return SystolicCycles(folds=row_folds * col_folds, row_folds=row_folds,
                          col_folds=col_folds, temporal=t,
                          load=0 if dataflow == "os" else rows, skew=rows + cols - 2)
