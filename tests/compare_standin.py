"""Test-side schemes for the compare report: the Scheme interface of docs/SCHEMES.md
built from emulator.quantize (OCP MX, E8M0 floor scales) and the vectorized GEMM. They make
the report's tests independent of the shipped registry (an `exact` unit, hand-made cases)."""
from dataclasses import dataclass

import numpy as np

import emulator
from emulator.numerics import get_preset
from emulator.numerics.fast import gemm_auto


@dataclass(frozen=True)
class MXScheme:
    name: str
    elem: str = "e4m3"
    preset: str = "b200-mxf8f6f4"
    block: int = 32

    def quantize(self, a, b):
        return (emulator.quantize(a, self.elem, block_size=self.block, axis=1),
                emulator.quantize(b, self.elem, block_size=self.block, axis=0))

    def dequantized(self, A, B):
        return A.dequantize(), B.dequantize()

    def gemm(self, A, B):
        return gemm_auto(A, B, None, get_preset(self.preset).config)


@dataclass(frozen=True)
class PromotedScheme(MXScheme):
    """The unit accumulates `interval` of K, then each partial (FP32 register) is added into
    an FP32 accumulator with one RNE add (the E8M0 block scales are exact exponent adds, so
    applying them inside the unit equals applying them at promotion)."""
    preset: str = "h100-fp8-wgmma"
    block: int = 128
    interval: int = 128

    def gemm(self, A, B):
        a, b = self.dequantized(A, B)
        cfg = get_preset(self.preset).config
        k = a.shape[1]
        acc = np.zeros((a.shape[0], b.shape[1]), np.float32)
        flags = np.zeros(acc.shape, np.uint8)
        for k0 in range(0, k, self.interval):
            Ak = emulator.quantize(a[:, k0:k0 + self.interval].astype(np.float32), self.elem,
                                   block_size=self.block, axis=1)
            Bk = emulator.quantize(b[k0:k0 + self.interval].astype(np.float32), self.elem,
                                   block_size=self.block, axis=0)
            bits, fl = gemm_auto(Ak, Bk, None, cfg)
            acc = acc + bits.astype(np.uint32).view(np.float32)   # FP32 add, RNE
            flags |= fl
        return acc.view(np.uint32), flags
