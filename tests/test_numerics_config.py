"""AccumConfig validation and the preset registry."""
import dataclasses

import pytest

from emulator.formats import BF16, E4M3, FP16, FP32, Format
from emulator.numerics import E8M13, PRESETS, AccumConfig, get_preset, preset_names
from emulator.rounding import Rounding


@pytest.mark.parametrize("kwargs,field,allowed", [
    (dict(instruction_k=0), "instruction_k", "positive int"),
    (dict(terms_per_step=-1), "terms_per_step", "positive int"),
    (dict(instruction_k=16, terms_per_step=5), "terms_per_step=5", "divide"),
    (dict(k_split="halves"), "k_split", "'interleaved'"),
    (dict(k_split="interleaved"), "k_split='interleaved'", "instruction_k"),
    (dict(interleave=0), "interleave", "positive int"),
    (dict(k_split="scale_blocks", instruction_k=64, terms_per_step=16), "scale_blocks",
     "None"),
    (dict(product_format="e4m3"), "product_format", "IEEE-style"),
    (dict(product_rounding="sr"), "product_rounding", "rne"),
    (dict(product_exponent="normalised"), "product_exponent", "'operands'"),
    (dict(alignment="min"), "alignment", "'products_then_c'"),
    (dict(alignment="anchor"), "anchor_exp", "int"),
    (dict(anchor_exp=3), "anchor_exp", "alignment='anchor'"),
    (dict(align_floor=1.5), "align_floor", "-126"),
    (dict(frac_bits=-1), "frac_bits", "None"),
    (dict(frac_bits=True), "frac_bits", "int"),
    (dict(carry_bits=2), "carry_bits", "frac_bits"),
    (dict(dropped="round"), "dropped", "'sticky'"),
    (dict(c_entry="before"), "c_entry", "'after'"),
    (dict(c_entry="after", alignment="products_then_c"), "products_then_c", "'max'"),
    (dict(output_format="int8"), "output_format", "IEEE-style"),
    (dict(output_format="nope"), "output_format", "fp32"),
    (dict(output_format=FP32, register_format=FP16), "register_format=fp16", "fp32"),
    (dict(output_format=FP16, register_format=BF16), "register_format=bf16", "exactly"),
    (dict(rounding="nearest"), "rounding", "rne"),
    (dict(step_rounding="x"), "step_rounding", "rtz"),
    (dict(sr_bits=0), "sr_bits", "1..32"),
    (dict(input_subnormals="daz"), "input_subnormals", "'flush'"),
    (dict(output_subnormals="ftz"), "output_subnormals", "'keep'"),
    (dict(nan="quiet"), "nan", "'all_ones'"),
    (dict(overflow="clamp"), "overflow", "'saturate'"),
    (dict(zero_sign="negative"), "zero_sign", "'positive'"),
    (dict(instruction_k=(1 << 24) + 1), "instruction_k", "2^24"),
    (dict(terms_per_step=1 << 25), "terms_per_step", "2^24"),
    (dict(k_split="interleaved", instruction_k=8, interleave=(1 << 24) + 1), "interleave",
     "2^24"),
    (dict(block_terms=(1 << 24) + 1), "block_terms", "2^24"),
    (dict(alignment="anchor", anchor_exp=-(1 << 20) - 1), "anchor_exp", "2^20"),
    (dict(alignment="anchor", anchor_exp=1 << 30), "anchor_exp", "2^20"),
    (dict(align_floor=(1 << 20) + 1), "align_floor", "2^20"),
    (dict(align_floor=-(1 << 40)), "align_floor", "2^20"),
    (dict(frac_bits=(1 << 16) + 1), "frac_bits", "2^16"),
    (dict(frac_bits=8, carry_bits=(1 << 16) + 1), "carry_bits", "2^16"),
])
def test_validation_names_field_and_allowed(kwargs, field, allowed):
    with pytest.raises(ValueError) as err:
        AccumConfig(**kwargs)
    assert field in str(err.value) and allowed in str(err.value)


def test_integer_knob_bounds_are_inclusive():
    """The largest lengths, widths and exponents AccumConfig takes (the C config's ranges)."""
    from emulator.numerics.config import MAX_BITS, MAX_EXP, MAX_LENGTH
    assert (MAX_LENGTH, MAX_BITS, MAX_EXP) == (1 << 24, 1 << 16, 1 << 20)
    cfg = AccumConfig(instruction_k=MAX_LENGTH, terms_per_step=MAX_LENGTH, block_terms=MAX_LENGTH,
                      frac_bits=MAX_BITS, carry_bits=MAX_BITS, align_floor=-MAX_EXP)
    assert (cfg.instruction_k, cfg.carry_bits, cfg.align_floor) == (1 << 24, 1 << 16, -(1 << 20))
    assert AccumConfig(k_split="interleaved", instruction_k=8, interleave=MAX_LENGTH).interleave
    for e in (-MAX_EXP, MAX_EXP):
        assert AccumConfig(alignment="anchor", anchor_exp=e, align_floor=e).anchor_exp == e


def test_defaults_and_normalisation():
    cfg = AccumConfig(rounding="RTZ", output_format="fp16", step_rounding="rne")
    assert cfg.rounding is Rounding.RTZ and cfg.step_rounding is Rounding.RNE
    assert cfg.output_format is FP16 and cfg.register is FP16 and cfg.step_fmt is FP16
    assert AccumConfig().is_exact and not AccumConfig(frac_bits=24).is_exact
    assert AccumConfig(output_format=E8M13, register_format=FP32).register is FP32
    # replace() validates again and keeps the register following the output format
    assert AccumConfig().replace(output_format=FP16).register is FP16
    with pytest.raises(ValueError):
        AccumConfig().replace(frac_bits=-3)
    assert "frac_bits=25" in AccumConfig(frac_bits=25).describe()


def test_frozen_and_hashable():
    cfg = AccumConfig(frac_bits=24)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.frac_bits = 25
    assert cfg == AccumConfig(frac_bits=24) and hash(cfg) == hash(AccumConfig(frac_bits=24))
    assert len({cfg, AccumConfig(frac_bits=24), AccumConfig()}) == 2


# Every unit of HARDWARE_NUMERICS section 3, with FP16-output variants where the data have
# them, plus the reference units.
REQUIRED = [
    "v100-fp16", "v100-fp16-fp16", "a100-fp16", "a100-fp16-fp16", "a100-bf16", "a100-tf32",
    "a2-fp16", "a2-bf16", "a2-tf32", "ada-fp16", "ada-fp16-fp16", "ada-bf16", "ada-tf32",
    "ada-fp8", "ada-fp8-fp16", "l40s-fp16", "l40s-bf16", "l40s-tf32", "l40s-fp8", "h100-fp16",
    "h100-fp16-fp16", "h100-bf16", "h100-tf32", "h100-fp8-wgmma", "h100-fp8-fp16",
    "h200-fp16", "h200-bf16", "h200-tf32", "h200-fp8-wgmma", "h200-fp8-fp16", "b200-fp16",
    "b200-fp16-fp16", "b200-bf16", "b200-tf32", "b200-fp8", "b200-fp8-fp16", "b200-mxf8f6f4",
    "b200-mxf4nvf4", "exact", "fp32-fma-chain", "mxdotp",
]


@pytest.mark.parametrize("name", REQUIRED)
def test_required_presets(name):
    p = get_preset(name)
    assert p is get_preset(name.upper())
    assert isinstance(p.config, AccumConfig) and p.source and p.notes


def test_preset_parameters_follow_the_measurements():
    """The section-3 table of HARDWARE_NUMERICS, knob by knob."""
    table = {  # name: (terms per step, F, output, rounding)
        "v100-fp16": (4, 23, FP32, Rounding.RTZ), "a100-fp16": (8, 24, FP32, Rounding.RTZ),
        "a100-tf32": (4, 24, FP32, Rounding.RTZ), "ada-fp8": (16, 13, E8M13, Rounding.RTZ),
        "h100-fp16": (16, 25, FP32, Rounding.RTZ), "h100-tf32": (4, 25, FP32, Rounding.RTZ),
        "h100-fp8-wgmma": (32, 13, E8M13, Rounding.RTZ),
        "b200-mxf8f6f4": (32, 25, FP32, Rounding.RTZ),
        "a100-fp16-fp16": (8, 24, FP16, Rounding.RNE),
    }
    for name, (t, f, out, mode) in table.items():
        c = get_preset(name).config
        assert (c.terms_per_step, c.frac_bits, c.output_format, c.rounding) == (t, f, out, mode)
        assert c.dropped == "truncate" and c.align_floor == -126 and c.nan == "all_ones"
        assert c.overflow == "inf" and c.product_format is None
    nv4 = get_preset("b200-mxf4nvf4").config
    assert (nv4.k_split, nv4.block_terms, nv4.frac_bits, nv4.instruction_k) == (
        "scale_blocks", 16, 35, 64)
    assert get_preset("h100-fp8-wgmma").config.register is FP32
    assert get_preset("exact").config.is_exact


def test_registry_and_errors():
    names = preset_names()
    assert len(names) == len(set(names)) and "exact" in names and "a2-fp16" not in names
    assert all(PRESETS[n].name == n for n in names)
    with pytest.raises(ValueError, match="allowed: .*exact"):
        get_preset("h300-fp4")
    assert get_preset(get_preset("exact")) is get_preset("exact")
    assert Format.custom(8, 13) == E8M13 and E4M3.bits == 8
