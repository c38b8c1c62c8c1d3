"""mxemu: a bit-exact emulator of OCP MX (microscaling) formats and tensor hardware.

Import name `emulator`. The public API:
- `emulator.formats`: format descriptors (E4M3, E5M2, E3M2, E2M3, E2M1, INT8, E8M0, UE4M3,
  FP16, BF16, TF32, FP32, E4M3FNUZ, E5M2FNUZ, Format.custom) with decode/unpack/encode;
- `quantize`, `quantize_nvfp4` -> `MXTensor` (with `.dequantize()`); `quantize_blocks` ->
  `BlockTensor` (any block or tile, E8M0/UE8M0/FP32/UE4M3 scales);
- `Flag`, `Rounding`;
- `AccumConfig`, `get_preset`, `dot`, `gemm`: the accumulation model of tensor units
  (`emulator.numerics`, docs/NUMERICS.md); `gemm` is `numerics.gemm_auto` (the native C
  kernel when it is built, else numpy), bit for bit `numerics.gemm`, the reference;
- `TensorCore(numerics, timing)`: a tensor core as a reference model, bits and cycles
  (`emulator.timing`: TimingConfig, the cycle model, traces; docs/TIMING.md).
"""
from . import formats
from .flags import Flag
from .formats import Format, get_format
from .mxtensor import MXTensor
from .quantize import quantize, quantize_nvfp4
from .blockscale import BlockTensor, quantize_blocks
from .rounding import Rounding
from . import _backend
from . import numerics
from .numerics import AccumConfig, dot, get_preset
from .numerics import gemm_auto as gemm  # the C kernel when built; same bits as the reference
from . import timing
from .timing import TimingConfig
from .core import GemmResult, TensorCore

from ._backend import native_include_path, native_library_path

__version__ = "0.1.0"


def backend() -> str:
    """Name of the active backend ('native' or 'reference')."""
    return _backend.current()


__all__ = ["formats", "Flag", "Format", "get_format", "MXTensor", "quantize", "quantize_nvfp4",
           "BlockTensor", "quantize_blocks",
           "Rounding", "backend", "native_library_path", "native_include_path", "numerics",
           "AccumConfig", "dot", "gemm", "get_preset", "timing", "TimingConfig", "TensorCore",
           "GemmResult", "__version__"]
