"""The numerics of tensor units: `AccumConfig` (every knob), named presets of real units, and
the pure-Python reference model of the block dot product and GEMM (docs/NUMERICS.md).

    from emulator.numerics import get_preset, dot, gemm
    cfg = get_preset("h100-fp16").config
    bits, flags = dot(a_codes, b_codes, "fp16", "fp16", None, None, c_bits, cfg)

`gemm` is the reference (the executable specification); `gemm_auto` (method='auto', 'fast'
or 'reference') and `gemm_fast` give the same bits from a numpy-vectorized path for
realistic sizes, and `dot_batch` runs many independent dots at once (docs/NUMERICS.md 7).
"""
from .config import AccumConfig
from .presets import E8M13, PRESETS, Preset, get_preset, preset_names
from .reference import dot, dot_values, gemm
from .fast import dot_batch, gemm_auto, gemm_fast
from .twolevel import fma_round, twolevel_gemm
from .schemes import SCHEMES, Scheme, get_scheme, scheme_names

__all__ = ["AccumConfig", "E8M13", "PRESETS", "Preset", "get_preset", "preset_names", "dot",
           "dot_values", "gemm", "gemm_auto", "gemm_fast", "dot_batch",
           "twolevel_gemm", "fma_round", "SCHEMES", "Scheme", "get_scheme", "scheme_names"]
