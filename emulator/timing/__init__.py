"""The timing side of a tensor core: `TimingConfig` (the microarchitecture as data), named
presets, the cycle model (`estimate` -> `CycleReport`), SCALE-Sim-equivalent systolic closed
forms, and schedule exports (Chrome/Perfetto JSON, VCD, PNG). docs/TIMING.md is the model.

    from emulator.timing import get_timing_preset, estimate
    rep = estimate(get_timing_preset("blackwell-sm"), 4096, 4096, 4096, ("e4m3", "e4m3"))
    rep.total_cycles, rep.utilization, rep.stalls, rep.bound

The cycle model is a function of configuration and shapes only, never of data values.
"""
from .config import (DATAFLOWS, OPERAND_FORMATS, STAGE_NAMES, Stage, SystolicArray,
                     TimingConfig, default_stages)
from .model import estimate
from .presets import TIMING_PRESETS, get_timing_preset, timing_preset_names
from .report import STALL_CAUSES, CycleReport
from .systolic import SystolicCycles, systolic_cycles
from .trace import Schedule, schedule, write_chrome_trace, write_plot, write_vcd

__all__ = ["DATAFLOWS", "OPERAND_FORMATS", "STAGE_NAMES", "Stage", "SystolicArray",
           "TimingConfig", "default_stages", "estimate", "TIMING_PRESETS",
           "get_timing_preset", "timing_preset_names", "STALL_CAUSES", "CycleReport",
           "SystolicCycles", "systolic_cycles", "Schedule", "schedule", "write_chrome_trace",
           "write_plot", "write_vcd"]
