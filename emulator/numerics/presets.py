"""Named `AccumConfig`s of real and reference units, each with its source and measured match.

`get_preset(name)` returns a `Preset`; `PRESETS` maps every name (aliases too) to it.
`measured` records, for each real-hardware data set the preset reproduces, the matches out of
the cases run (bit for bit, `emulator.numerics.hwdata.validate`); docs/NUMERICS.md has the
full table and how to regenerate it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..formats import FP16, FP32, Format
from ..rounding import Rounding
from .config import AccumConfig

E8M13 = Format.custom(8, 13)  # the FP8 paths of Hopper/Ada produce 13 fraction bits
KM = "Khattak & Mikaitis, arXiv 2512.07004 (models and hwdata)"
HWN = "shared/docs/HARDWARE_NUMERICS.md section 3"
FIT = "fitted in this project to the Khattak & Mikaitis hwdata (docs/NUMERICS.md section 5)"


@dataclass(frozen=True)
class Preset:
    name: str
    config: AccumConfig
    source: str
    notes: str = ""
    aliases: tuple = ()
    # hwdata set ("GPU/input->output") -> (matches, cases), bit for bit, measured.
    measured: dict = field(default_factory=dict, compare=False, hash=False)

    def __repr__(self):
        return f"Preset({self.name!r})"


# NVIDIA tensor cores: exact products, alignment to the largest exponent (a zero operand or C
# counts as -126), truncation of the dropped bits, C inside the fused sum, Inf on overflow
# under every rounding mode, NaN as all ones.
_NV = dict(alignment="max", align_floor=-126, dropped="truncate", c_entry="inside",
           nan="all_ones", overflow="inf", zero_sign="ieee", product_exponent="operands")


def _nv(k, t, f, out=FP32, rounding=Rounding.RTZ, **kw):
    args = dict(_NV, instruction_k=k, terms_per_step=t, frac_bits=f, output_format=out,
                rounding=rounding)
    args.update(kw)
    return AccumConfig(**args)


def _fp16_out(k, t, f, **kw):
    """The FP16-output variant of a path: same grouping and F, C arrives as FP16 bits, every
    step and the result round to nearest even into FP16 (Khattak & Mikaitis)."""
    return _nv(k, t, f, out=FP16, rounding=Rounding.RNE, **kw)


# The FP8 mma.sync path of H100/H200 (FP16 output) and B200 (FP32 and FP16 output): the
# instruction behaves as two 16-term FP16-style MMAs over interleaved register pairs (lanes
# k with k // 2 even, then k // 2 odd), chained from +0 with F = 25, and C added afterwards
# by one exact add rounded to nearest even.
def _fp8_mma_sync(out, step_rounding):
    return _nv(32, 16, 25, out=out, rounding=Rounding.RNE, k_split="interleaved",
               interleave=2, c_entry="after", step_format=out, step_rounding=step_rounding)


_DEFS = [
    # name, config, source, notes, aliases
    ("v100-fp16", _nv(4, 4, 23), f"{HWN}; {KM}; Fasi et al. PeerJ CS 2021",
     "mma.sync m8n8k4: 4 products + C fused, F=23, RZ to FP32", ()),
    ("v100-fp16-fp16", _fp16_out(4, 4, 23), KM,
     "as v100-fp16 with an FP16 accumulator: C and D in FP16, RNE to FP16", ()),
    ("a100-fp16", _nv(16, 8, 24), f"{HWN}; {KM}",
     "m16n8k16 as two sequential halves of 8, F=24, RZ to FP32", ("a2-fp16",)),
    ("a100-fp16-fp16", _fp16_out(16, 8, 24), KM,
     "as a100-fp16 with an FP16 accumulator: each half RNE to FP16", ("a2-fp16-fp16",)),
    ("a100-bf16", _nv(16, 8, 24), f"{HWN}; {KM}", "as a100-fp16", ("a2-bf16",)),
    ("a100-tf32", _nv(8, 4, 24), f"{HWN}; {KM}",
     "m16n8k8 as two halves of 4, F=24, RZ to FP32 (TF32 inputs are FP32 truncated to 10 "
     "mantissa bits by the caller)", ("a2-tf32",)),
    ("ada-fp16", _nv(16, 8, 24), f"{HWN}; {KM}", "as a100-fp16", ("l40s-fp16",)),
    ("ada-fp16-fp16", _fp16_out(16, 8, 24), KM, "as a100-fp16-fp16", ("l40s-fp16-fp16",)),
    ("ada-bf16", _nv(16, 8, 24), f"{HWN}; {KM}", "as a100-fp16", ("l40s-bf16",)),
    ("ada-tf32", _nv(8, 4, 24), f"{HWN}; {KM}", "as a100-tf32", ("l40s-tf32",)),
    ("ada-fp8", _nv(32, 16, 13, out=E8M13, register_format=FP32), f"{HWN}; {KM}",
     "m16n8k32 as two halves of 16, F=13, each RZ to E8M13 held in FP32", ("l40s-fp8",)),
    ("ada-fp8-fp16", _fp16_out(32, 16, 13), f"{KM}; {FIT}",
     "two halves of 16, F=13, each half rounded RNE to FP16", ("l40s-fp8-fp16",)),
    ("h100-fp16", _nv(16, 16, 25), f"{HWN}; {KM}", "16 products + C fused, F=25, RZ to FP32",
     ("h200-fp16",)),
    ("h100-fp16-fp16", _fp16_out(16, 16, 25), KM,
     "as h100-fp16 with an FP16 accumulator: RNE to FP16", ("h200-fp16-fp16",)),
    ("h100-bf16", _nv(16, 16, 25), f"{HWN}; {KM}", "as h100-fp16", ("h200-bf16",)),
    ("h100-tf32", _nv(8, 4, 25), f"{HWN}; {KM}", "steps of 4, F=25, RZ to FP32",
     ("h200-tf32",)),
    ("h100-fp8-wgmma", _nv(32, 32, 13, out=E8M13, register_format=FP32), f"{HWN}; {KM}",
     "WGMMA K=32: 32 products + C fused, F=13, RZ to E8M13 held in FP32",
     ("h200-fp8-wgmma",)),
    ("h100-fp8-fp16", _fp8_mma_sync(FP16, Rounding.RNE), FIT,
     "FP8 -> FP16 (mma.sync): two 16-term steps over interleaved register pairs from +0, F=25, "
     "each RNE to FP16, then + C (FP16) with RNE", ("h200-fp8-fp16",)),
    ("b200-fp16", _nv(16, 16, 25), f"{HWN}; {KM}", "as h100-fp16", ()),
    ("b200-fp16-fp16", _fp16_out(16, 16, 25), KM, "as h100-fp16-fp16", ()),
    ("b200-bf16", _nv(16, 16, 25), f"{HWN}; {KM}", "as h100-fp16", ()),
    ("b200-tf32", _nv(8, 4, 25), f"{HWN}; {KM}", "as h100-tf32", ()),
    ("b200-fp8", _fp8_mma_sync(FP32, Rounding.RTZ), FIT,
     "legacy FP8 mma.sync: two 16-term steps over interleaved register pairs from +0, F=25, "
     "each RZ to FP32, then + C with RNE (an FADD after the tensor op)", ()),
    ("b200-fp8-fp16", _fp8_mma_sync(FP16, Rounding.RNE), FIT, "as h100-fp8-fp16", ()),
    ("b200-mxf8f6f4", _nv(32, 32, 25), HWN,
     "tcgen05 kind::mxf8f6f4, blocks of 32 with UE8M0 scales: 32 scaled products + C fused, "
     "F=25, RZ to FP32 (not covered by the hwdata)", ()),
    ("b200-mxf4nvf4", _nv(64, None, 35, k_split="scale_blocks", block_terms=16), HWN,
     "tcgen05 kind::mxf4nvf4, K=64: 4 exact 16-element sub-sums each times its scales, then the "
     "4 sub-sums + C fused with F=35, RZ to FP32 (a sub-sum aligns by its own leading "
     "exponent; not covered by the hwdata)", ()),
    ("exact", AccumConfig(align_floor=None), "the OCP MX ideal",
     "the exact sum of all K products and C, rounded once (RNE) into FP32", ()),
    ("fp32-fma-chain", AccumConfig(instruction_k=1, terms_per_step=1, align_floor=None),
     "IEEE 754 fused multiply-add, applied sequentially",
     "acc = fma(a_k, b_k, acc) for k = 0.. K-1, RNE into FP32 each time", ()),
    ("mxdotp", AccumConfig(instruction_k=8, terms_per_step=8, align_floor=None),
     "MXDOTP (arXiv 2505.13159) - like",
     "exact fixed-point sum of 8 scaled products and the FP32 accumulator, one RNE into FP32 "
     "per instruction, chained along K", ()),
]

# Measured on the full Khattak & Mikaitis data (5000 cases per set), bit for bit, with
# `python -m emulator.numerics.hwdata ../shared/hwdata` (docs/NUMERICS.md section 5).
MEASURED = {
    "v100-fp16": {"V100/fp16->fp32": (5000, 5000)},
    "v100-fp16-fp16": {"V100/fp16->fp16": (5000, 5000)},
    "a100-fp16": {"A100/fp16->fp32": (5000, 5000), "A2/fp16->fp32": (5000, 5000)},
    "a100-fp16-fp16": {"A100/fp16->fp16": (5000, 5000), "A2/fp16->fp16": (5000, 5000)},
    "a100-bf16": {"A100/bf16->fp32": (5000, 5000), "A2/bf16->fp32": (5000, 5000)},
    "a100-tf32": {"A100/tf32->fp32": (5000, 5000), "A2/tf32->fp32": (5000, 5000)},
    "ada-fp16": {"Ada/fp16->fp32": (5000, 5000), "L40S/fp16->fp32": (5000, 5000)},
    "ada-fp16-fp16": {"Ada/fp16->fp16": (5000, 5000), "L40S/fp16->fp16": (5000, 5000)},
    "ada-bf16": {"Ada/bf16->fp32": (5000, 5000), "L40S/bf16->fp32": (5000, 5000)},
    "ada-tf32": {"Ada/tf32->fp32": (5000, 5000), "L40S/tf32->fp32": (5000, 5000)},
    "ada-fp8": {"Ada/E4M3->fp32": (5000, 5000), "Ada/E5M2->fp32": (5000, 5000),
        "L40S/E4M3->fp32": (5000, 5000), "L40S/E5M2->fp32": (5000, 5000)},
    "ada-fp8-fp16": {"Ada/E4M3->fp16": (5000, 5000), "Ada/E5M2->fp16": (5000, 5000)},
    "h100-fp16": {"H100/fp16->fp32": (5000, 5000), "H200/fp16->fp32": (5000, 5000)},
    "h100-fp16-fp16": {"H100/fp16->fp16": (5000, 5000), "H200/fp16->fp16": (5000, 5000)},
    "h100-bf16": {"H100/bf16->fp32": (5000, 5000), "H200/bf16->fp32": (5000, 5000)},
    "h100-tf32": {"H100/tf32->fp32": (5000, 5000), "H200/tf32->fp32": (5000, 5000)},
    "h100-fp8-wgmma": {"H100/E4M3->fp32": (5000, 5000), "H100/E5M2->fp32": (5000, 5000),
        "H200/E4M3->fp32": (5000, 5000), "H200/E5M2->fp32": (5000, 5000)},
    "h100-fp8-fp16": {"H100/E4M3->fp16": (5000, 5000), "H100/E5M2->fp16": (5000, 5000),
        "H200/E4M3->fp16": (5000, 5000), "H200/E5M2->fp16": (5000, 5000)},
    "b200-fp16": {"B200/fp16->fp32": (5000, 5000)},
    "b200-fp16-fp16": {"B200/fp16->fp16": (5000, 5000)},
    "b200-bf16": {"B200/bf16->fp32": (5000, 5000)},
    "b200-tf32": {"B200/tf32->fp32": (5000, 5000)},
    "b200-fp8": {"B200/E4M3->fp32": (5000, 5000), "B200/E5M2->fp32": (5000, 5000)},
    "b200-fp8-fp16": {"B200/E4M3->fp16": (5000, 5000), "B200/E5M2->fp16": (5000, 5000)},
}

PRESETS: dict = {}
for _name, _cfg, _src, _notes, _aliases in _DEFS:
    _p = Preset(_name, _cfg, _src, _notes, _aliases, dict(MEASURED.get(_name, {})))
    PRESETS[_name] = _p
    for _a in _aliases:
        PRESETS[_a] = _p


def get_preset(name) -> Preset:
    """The preset of that name or alias (case-insensitive)."""
    if isinstance(name, Preset):
        return name
    key = str(name).lower()
    if key not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; allowed: {', '.join(sorted(PRESETS))}")
    return PRESETS[key]


def preset_names() -> list:
    """Primary names, in registry order (aliases left out)."""
    return [n for n, p in PRESETS.items() if p.name == n]
