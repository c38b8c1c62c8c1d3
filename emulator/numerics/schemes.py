"""The quantized-GEMM schemes people ship, as first-class objects (docs/SCHEMES.md section 3).

    from emulator.numerics.schemes import get_scheme, scheme_names
    s = get_scheme("deepseek-v3-fp8")
    A, B = s.quantize(a, b)              # a: M x K, b: K x N (FP32)
    qa, qb = s.dequantized(A, B)         # the exact float64 values of the quantized inputs
    d, flags = s.gemm(A, B)              # FP32 bit patterns (uint32) as the unit computes them

Each scheme fixes the quantization (element format, block shape, scale convention) and the
unit (a preset of emulator.numerics, with two-level accumulation where the scheme promotes).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..blockscale import quantize_blocks
from ..formats import BF16, Format
from ..quantize import _as_fp32, quantize
from .fast import gemm_fast
from .presets import get_preset
from .twolevel import twolevel_gemm

DEEPSEEK_V3 = ("DeepSeek-V3 Technical Report, arXiv 2412.19437, section 3.3 (fine-grained "
               "quantization: 1x128 activation groups, 128x128 weight blocks, FP32 scales; "
               "increasing accumulation precision: promotion to CUDA cores every N_C = 128 "
               "elements = 4 WGMMAs); DeepGEMM (scale product then FFMA into the FP32 "
               "accumulator)")
DEEPSEEK_V31 = ("DeepSeek-V3.1 release notes / model card (UE8M0 FP8 scale format, "
                "'for upcoming domestic chips'); DeepGEMM's UE8M0 scales: "
                "2^ceil(log2(amax / 448))")
GPT_OSS = ("gpt-oss-120b & gpt-oss-20b model card, OpenAI 2025 (MoE weights in MXFP4: E2M1 elements, "
           "blocks of 32, E8M0 scales); OCP MX v1.0")
HWN = "shared/docs/HARDWARE_NUMERICS.md section 3; docs/NUMERICS.md section 4"


@dataclass(frozen=True, eq=False)
class PlainTensor:
    """Unscaled operand codes of one format (e.g. BF16 activations), with the MXTensor-like
    `dequantize()`."""

    codes: np.ndarray
    fmt: Format

    @property
    def shape(self):
        return self.codes.shape

    def dequantize(self, dtype=np.float64) -> np.ndarray:
        return self.fmt.decode(self.codes).astype(dtype)


@dataclass(frozen=True)
class Scheme:
    """A named quantized-GEMM scheme: how A (M x K) and B (K x N) are quantized and which unit
    multiplies them. `preset` names the tensor-unit preset; `interval` is the promotion
    interval (None: no promotion)."""

    name: str
    source: str
    notes: str
    preset: str
    _quantize: Callable = field(repr=False, compare=False, default=None)
    _gemm: Callable = field(repr=False, compare=False, default=None)

    @property
    def config(self):
        return get_preset(self.preset).config

    def quantize(self, a, b) -> tuple:
        """(A, B): a (M x K) and b (K x N) quantized as the scheme does (FP32 inputs)."""
        a32, b32 = _as_fp32(a), _as_fp32(b)
        if a32.ndim != 2 or b32.ndim != 2 or a32.shape[1] != b32.shape[0]:
            raise ValueError(f"a {a32.shape} and b {b32.shape}: an M x K and a K x N matrix "
                             "are needed")
        return self._quantize(a32, b32)

    def dequantized(self, A, B) -> tuple:
        """The exact float64 values (M x K, K x N) of the quantized operands."""
        return A.dequantize(), B.dequantize()

    def gemm(self, A, B) -> tuple:
        """(D FP32 bits uint32 M x N, Flag bits uint8 M x N) as the scheme's unit computes
        A @ B."""
        return self._gemm(self, A, B)


# -- DeepSeek-style FP8 with fine-grained scales and promotion -----------------------------
def _deepseek_quant(kind, whole_k=False):
    def q(a, b):
        k = a.shape[1]
        A = quantize_blocks(a, "e4m3", (1, k) if whole_k else (1, 128), kind, axis=1)
        B = quantize_blocks(b, "e4m3", (k, 128) if whole_k else (128, 128), kind, axis=0)
        return A, B
    return q


def _twolevel(interval):
    def g(s, A, B):
        return twolevel_gemm(A, B, s.config, interval=interval, scales="promotion")
    return g


# -- OCP MX and gpt-oss ------------------------------------------------------------------
def _mx_quant(a_elem, b_elem):
    def q(a, b):
        return quantize(a, a_elem, 32, axis=1), quantize(b, b_elem, 32, axis=0)
    return q


def _unit_gemm(s, A, B):
    return gemm_fast(A, B, None, s.config)


def _bf16_quant(a, b):
    # Activations: FP32 rounded once to BF16 (RNE). Weights: MXFP4 (E2M1, blocks of 32 along
    # K, E8M0 floor scales), stored as such; the kernel dequantizes them to BF16 (exact).
    A = PlainTensor(BF16.encode(a.astype(np.float64), "rne").codes, BF16)
    return A, quantize(b, "e2m1", 32, axis=0)


def _bf16_gemm(s, A, B):
    enc = BF16.encode(B.dequantize(), "rne")  # exact: E2M1 x 2^k always fits BF16
    return gemm_fast((A.codes, BF16), (enc.codes, BF16), None, s.config)


_DEFS = [
    Scheme("deepseek-v3-fp8", DEEPSEEK_V3 + "; " + HWN,
           "E4M3 elements; A in 1x128 groups, B in 128x128 tiles, FP32 scales amax/448 (RNE); "
           "h100-fp8-wgmma (K=32 WGMMAs on the E8M13 truncating accumulator) over intervals "
           "of 128 from +0, promoted each interval: s_ab = RN(s_a*s_b), acc = fma(partial, "
           "s_ab, acc) in FP32 RNE",
           "h100-fp8-wgmma", _deepseek_quant("fp32"), _twolevel(128)),
    Scheme("deepseek-v3.1-ue8m0", DEEPSEEK_V31 + "; " + DEEPSEEK_V3,
           "as deepseek-v3-fp8 with UE8M0 scales 2^ceil(log2(amax/448)) (powers of two: "
           "s_a*s_b is exact, only the FMA's add rounds)",
           "h100-fp8-wgmma", _deepseek_quant("ue8m0"), _twolevel(128)),
    Scheme("deepseek-v3-fp8-no-promotion", DEEPSEEK_V3 + " (the experiment without promotion)",
           "the whole K on the tensor unit's E8M13 accumulator, one promotion at the end. A "
           "unit cannot change FP32 scales inside its accumulation, so the scales cover the "
           "whole K: A per token (1 x K), B in K x 128 tiles (FP32, amax/448)",
           "h100-fp8-wgmma", _deepseek_quant("fp32", whole_k=True), _twolevel(None)),
    Scheme("gpt-oss-mxfp4-bf16-hopper", GPT_OSS + "; " + HWN,
           "B (weights) MXFP4 (E2M1, blocks of 32 along K, E8M0 OCP floor scales), dequantized "
           "exactly to BF16; A (activations) FP32 rounded to BF16 (RNE); h100-bf16 "
           "(16-term fused steps, F=25, RZ to FP32)",
           "h100-bf16", _bf16_quant, _bf16_gemm),
    Scheme("gpt-oss-mxfp4-mxfp8-blackwell", GPT_OSS + "; " + HWN,
           "B MXFP4 (E2M1), A MXFP8 (E4M3), blocks of 32 along K, E8M0 floor scales; "
           "b200-mxf8f6f4 applies the scales inside the unit",
           "b200-mxf8f6f4", _mx_quant("e4m3", "e2m1"), _unit_gemm),
    Scheme("mxfp8-b200", "OCP MX v1.0; " + HWN,
           "A and B MXFP8 (E4M3, blocks of 32, E8M0 floor scales; emulator.quantize); "
           "b200-mxf8f6f4", "b200-mxf8f6f4", _mx_quant("e4m3", "e4m3"), _unit_gemm),
    Scheme("mxfp4-b200", "OCP MX v1.0; " + HWN,
           "A and B MXFP4 (E2M1, blocks of 32, E8M0 floor scales; emulator.quantize); "
           "b200-mxf8f6f4", "b200-mxf8f6f4", _mx_quant("e2m1", "e2m1"), _unit_gemm),
]

SCHEMES: dict = {s.name: s for s in _DEFS}


def get_scheme(name) -> Scheme:
    """The scheme of that name (case-insensitive)."""
    if isinstance(name, Scheme):
        return name
    key = str(name).lower()
    if key not in SCHEMES:
        raise ValueError(f"unknown scheme {name!r}; allowed: {', '.join(SCHEMES)}")
    return SCHEMES[key]


def scheme_names() -> list:
    return list(SCHEMES)
