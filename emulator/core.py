"""`TensorCore`: one MX tensor core as a reference model, numerics + timing.

    import emulator
    tc = emulator.TensorCore("b200-mxf8f6f4", "blackwell-sm")
    bits, flags, report = tc.gemm(A, B)          # A: M x K, B: K x N MXTensors (blocks along K)
    report = tc.estimate(4096, 4096, 4096, ("e4m3", "e4m3"))

The numerics side (`AccumConfig`, docs/NUMERICS.md) gives the bits; the timing side
(`TimingConfig`, docs/TIMING.md) gives the cycles. They share nothing but the problem's shape
and formats: the report never depends on the data.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .formats import get_format
from .mxtensor import MXTensor
from .numerics import AccumConfig, Preset, get_preset
from .numerics.fast import METHODS, gemm_auto
from .timing import CycleReport, TimingConfig, estimate, get_timing_preset, schedule


@dataclass(frozen=True)
class GemmResult:
    """What `TensorCore.gemm` returns: D's bit patterns (M x N, the config's output format),
    the per-element Flag bits (uint8, M x N) and the CycleReport. Unpacks as a 3-tuple."""
    bits: np.ndarray
    flags: np.ndarray
    report: CycleReport

    def __iter__(self):
        return iter((self.bits, self.flags, self.report))


def _shape_and_format(x, name: str, k_axis: int):
    """(rows, K, format name) of a GEMM operand: an MXTensor or a (codes, format) pair."""
    if isinstance(x, MXTensor):
        shape, fmt = tuple(x.shape), x.elem
    elif isinstance(x, tuple) and len(x) == 2:
        shape, fmt = np.shape(x[0]), get_format(x[1])
    else:
        raise TypeError(f"{name}: allowed an MXTensor or a (codes, format) pair, got "
                        f"{type(x).__name__}")
    if len(shape) != 2:
        raise ValueError(f"{name}: 2 dimensions needed, got shape {shape}")
    return shape[1 - k_axis], shape[k_axis], fmt.name


class TensorCore:
    """A tensor core: `numerics` (an AccumConfig, a numerics Preset, or a preset name from
    `emulator.get_preset`) and `timing` (a TimingConfig or a name from
    `emulator.timing.get_timing_preset`)."""

    def __init__(self, numerics, timing):
        if isinstance(numerics, str):
            numerics = get_preset(numerics).config
        elif isinstance(numerics, Preset):
            numerics = numerics.config
        if not isinstance(numerics, AccumConfig):
            raise TypeError(f"numerics={numerics!r}: allowed an AccumConfig, a Preset or a "
                            "numerics preset name")
        if isinstance(timing, str):
            timing = get_timing_preset(timing)
        if not isinstance(timing, TimingConfig):
            raise TypeError(f"timing={timing!r}: allowed a TimingConfig or a timing preset name")
        self.numerics = numerics
        self.timing = timing

    def __repr__(self):
        return f"TensorCore(numerics={self.numerics!r}, timing={self.timing.name!r})"

    def estimate(self, M: int, N: int, K: int, formats, with_c: bool = False) -> CycleReport:
        """The CycleReport of an M x N x K GEMM, A and B in `formats` (a name or a pair),
        without data; with_c: the addend C is read from memory."""
        return estimate(self.timing, M, N, K, formats, with_c)

    def schedule(self, M: int, N: int, K: int, formats, with_c: bool = False, **kw):
        """The events behind `estimate` (for write_chrome_trace / write_vcd / write_plot)."""
        return schedule(self.timing, M, N, K, formats, with_c, **kw)

    def gemm(self, A, B, C=None, *, c_fmt=None, rand_bits=None,
             method: str = "auto") -> GemmResult:
        """D = A @ B + C through the numerics model (bit-exact; `method` as in
        emulator.numerics.gemm_auto) and its CycleReport. A: M x K and B: K x N, MXTensors
        with blocks along K or (codes, format) pairs; C: M x N bit patterns or None (+0)."""
        if method not in METHODS:
            raise ValueError(f"method={method!r}; allowed: {', '.join(map(repr, METHODS))}")
        # 1. Timing first: it needs only shapes and formats, and rejects a format the unit
        #    has no rate for before any arithmetic is spent.
        m, ka, fa = _shape_and_format(A, "A", 1)
        n, kb, fb = _shape_and_format(B, "B", 0)
        if ka != kb:
            raise ValueError(f"A has K={ka} but B has K={kb}; they must match")
        report = self.estimate(m, n, ka, (fa, fb), with_c=C is not None)
        # 2. The bits.
        bits, flags = gemm_auto(A, B, C, self.numerics, c_fmt=c_fmt, rand_bits=rand_bits,
                                method=method)
        return GemmResult(bits, flags, report)
