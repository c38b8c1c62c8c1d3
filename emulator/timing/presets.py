"""Named TimingConfigs sized like public parts, each with its source (docs/TIMING.md 6).

Only the per-clock dense rates and the storage sizes are published; the split of a rate into
units x lanes x dot width, the pipeline latencies and the block tile are modelling choices,
marked as such in each config's `source`.
"""
from __future__ import annotations

from .config import OPERAND_FORMATS, SystolicArray, TimingConfig, default_stages

_FP8_RATE = {f: 1 for f in OPERAND_FORMATS}

TIMING_PRESETS = {}


def _add(cfg: TimingConfig):
    TIMING_PRESETS[cfg.name] = cfg


# Blackwell-class SM: 16384 dense MXFP8/MXFP6 and 32768 dense MXFP4 FLOP per clock.
# 4 units x 64 lanes x 32 products = 8192 MACs = 16384 FLOP per clock at rate 1; FP4 x2.
_add(TimingConfig(
    name="blackwell-sm",
    units=4, lanes=64, dot_width=32,
    rates={**_FP8_RATE, "e2m1": 2},
    stages=default_stages(), ii=1,
    instr=(32, 256, 32), instr_k_scales=True,
    block=(128, 256, 128),
    acc_entries=16384,
    buffer_bytes=228 * 1024,
    bandwidth=128,
    source=("NVIDIA Blackwell datasheet: B200 dense FP8/FP6 4.5 PFLOPS and FP4 9 PFLOPS over "
            "148 SMs, i.e. 16384 and 32768 FLOP/clock/SM at ~1.86 GHz; PTX ISA tcgen05.mma "
            "M=128 (split here over 4 sub-partition units as m=32), N=256, K=32 for "
            "kind::f8f6f4 and K=64 for kind::mxf4 (instr_k_scales); 228 KB shared memory "
            "(CUDA programming guide, compute capability 10.0) feeding at 128 B/clock "
            "(32 banks x 4 B); 256 KB tensor memory per SM = 16384 FP32 accumulators per "
            "unit. Assumed: the 4 x 64 x 32 split, stage latencies, block tile 128x256x128."),
))

# MI355X-class CU: 8192 dense MXFP8 and 16384 dense MXFP6/MXFP4 FLOP per clock.
# 4 matrix cores x 32 lanes x 32 products = 4096 MACs = 8192 FLOP per clock; FP6/FP4 x2.
_add(TimingConfig(
    name="mi355x-cu",
    units=4, lanes=32, dot_width=32,
    rates={**_FP8_RATE, "e3m2": 2, "e2m3": 2, "e2m1": 2},
    stages=default_stages(), ii=1,
    instr=(32, 32, 64), instr_k_scales=False,
    block=(128, 128, 128),
    acc_entries=16384,
    buffer_bytes=160 * 1024,
    bandwidth=128,
    source=("AMD CDNA 4 white paper: MI355X 256 CUs at 2.4 GHz, dense MXFP8 5.0 PFLOPS and "
            "MXFP6/MXFP4 10.1 PFLOPS, i.e. 8192 and 16384 FLOP/clock/CU; "
            "V_MFMA_SCALE_F32_32X32X64_F8F6F4 (one K for every format: instr_k_scales "
            "False); 160 KB LDS per CU; 256 AccVGPRs x 64 lanes = 16384 FP32 accumulators "
            "per wave. Assumed: the 4 x 32 x 32 split, LDS feed of 128 B/clock, stage "
            "latencies, block tile 128x128x128."),
))

# Systolic arrays in SCALE-Sim's model: one MAC per PE per cycle in every format.
for _df in ("os", "ws", "is"):
    _add(TimingConfig(
        name=f"systolic-128x128-{_df}",
        systolic=SystolicArray(128, 128, _df),
        bandwidth=256,
        source=("A 128 x 128 PE array (the MXU size of Google TPU v2/v3, Norrie et al., "
                "IEEE Micro 2021) scheduled as SCALE-Sim v2/v3 schedules it; one MAC per "
                "PE per cycle in every format; the 256 B/clock feed is assumed."),
    ))

# A deliberately bandwidth-starved variant: the Blackwell-class datapath fed at 16 B/clock.
_add(TimingConfig(
    **{**{k: getattr(TIMING_PRESETS["blackwell-sm"], k) for k in (
        "units", "lanes", "dot_width", "rates", "stages", "ii", "instr", "instr_k_scales",
        "block", "acc_entries", "buffer_bytes")},
       "name": "blackwell-sm-starved", "bandwidth": 16,
       "source": "blackwell-sm with its operand feed cut to 16 B/clock (a what-if)."},
))


def timing_preset_names():
    return list(TIMING_PRESETS)


def get_timing_preset(name: str) -> TimingConfig:
    """The TimingConfig called `name` (ValueError listing the names otherwise)."""
    try:
        return TIMING_PRESETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"timing preset {name!r}: allowed "
                         f"{', '.join(TIMING_PRESETS)}") from None
