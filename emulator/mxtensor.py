"""MXTensor: element codes plus block scale codes, with everything needed to decode them."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .formats import Format


@dataclass(frozen=True, eq=False)
class MXTensor:
    """A block-scaled tensor.

    codes:  element codes, uint8, the logical shape with `axis` zero-padded to a multiple of
            `block_size` (the padding is `pad` elements at the end of that axis).
    scales: scale codes, uint8, the same shape with `axis` of length n_blocks.
    flags:  per element code, the Flag bits its quantization raised (OR-ed with its block's).
    tensor_scale: the FP32 per-tensor scale of NVFP4 (None for OCP MX).
    """

    codes: np.ndarray
    scales: np.ndarray
    elem: Format
    scale_fmt: Format
    block_size: int
    axis: int
    shape: tuple
    pad: int = 0
    flags: np.ndarray = field(default=None, repr=False)
    tensor_scale: float | None = None

    @property
    def n_blocks(self) -> int:
        return self.scales.shape[self.axis]

    def scale_values(self) -> np.ndarray:
        """The block scales as exact float64 values (NaN for a NaN scale)."""
        return self.scale_fmt.decode(self.scales)

    def dequantize(self, dtype=np.float64) -> np.ndarray:
        """The exact values elem(code) * scale (* tensor_scale), trimmed to the logical shape.

        float64 holds every value exactly; dtype=np.float32 rounds them once (RNE).
        """
        vals = self.elem.decode(self.codes)
        scale = np.repeat(self.scale_values(), self.block_size, axis=self.axis)
        out = vals * scale  # exact: element and scale significands fit together in 53 bits
        if self.tensor_scale is not None:
            out = out * self.tensor_scale  # exact: 2 + 4 + 24 significand bits
        if self.pad:
            out = np.take(out, np.arange(self.shape[self.axis]), axis=self.axis)
        return out.astype(dtype)

    def to_ml_dtypes(self):
        """(elements, scales) as ml_dtypes arrays (e.g. float8_e4m3fn, float8_e8m0fnu).

        Raises ValueError when ml_dtypes is missing or has no dtype for the element format.
        """
        return self.elem.to_ml_dtypes(self.codes), self.scale_fmt.to_ml_dtypes(self.scales)
