"""The numpy-vectorized GEMM (`emulator.numerics.fast`) against the reference, bit for bit.

`reference.gemm` is the executable specification; `gemm_fast` must give the same result bits
and the same flags for every config and every input. Checked here:
- its building blocks against their reference definitions: decoding (every code of every
  format up to 16 bits) and rounding (`round_pack` plus the config policies, every mode);
- every preset of the registry on its natural inputs and on others, with specials (NaN and
  Inf codes, NaN scales 0xFF, zeros of both signs, subnormals, huge spreads, cancellation),
  M, N in 1..4 and K around multiples of the instruction K and the block size;
- hand-made configs, together covering every value of every knob, and random configs;
- the real-hardware data (golden/hardware): every shipped set through `dot_batch` (500
  cases) and through `gemm_fast` (the diagonal of a GEMM over the first cases);
- the chunking of large GEMMs, the errors, `gemm_auto`'s methods and the reference fallback.

A mismatch prints the config, the operands and both results. Hypothesis runs derandomized
under the "ci" profile of tests/conftest.py (or here, when that profile is not registered).
"""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st
from hypothesis.errors import InvalidArgument

from emulator.flags import Flag
from emulator.formats import (BF16, E2M1, E2M3, E3M2, E4M3, E4M3FNUZ, E5M2, E5M2FNUZ, E8M0,
                              FORMATS, FP16, FP32, INT8, TF32, UE4M3, Format)
from emulator.mxtensor import MXTensor
from emulator.numerics import (E8M13, AccumConfig, dot, dot_batch, gemm, gemm_auto, gemm_fast,
                               get_preset, preset_names)
from emulator.numerics import fast as F
from emulator.numerics import hwdata as H
from emulator.numerics import reference as R
from emulator.rounding import Rounding

try:
    settings.get_profile("ci")
    DERANDOMIZE = {}
except InvalidArgument:  # no shared profile: stay deterministic here
    DERANDOMIZE = {"derandomize": True}


def fast_settings(n):
    return settings(max_examples=n, deadline=None, print_blob=True, **DERANDOMIZE)


MX_ELEMS = [E4M3, E5M2, E3M2, E2M3, E2M1, INT8]
ALL_ELEMS = MX_ELEMS + [FP16, BF16, TF32, FP32, E4M3FNUZ, E5M2FNUZ]
SMALL_OUT = Format.custom(4, 3)  # a tiny output format: overflow and subnormals are common
MODES = list(Rounding)


# ---------------------------------------------------------------------------------------
# Operand strategies
# ---------------------------------------------------------------------------------------
def special_codes(fmt: Format) -> list:
    """Zeros of both signs, the smallest and largest subnormals and normals, the largest
    finite value, Inf and NaN codes - each with both signs."""
    if fmt.kind == "int":
        return [0, 1, 0x3F, 0x40, 0x7F, 0x80, 0x81, 0xFF]
    m = fmt.man_bits
    sbit = 1 << (fmt.bits - 1) if fmt.signed else 0
    mags = {0, 1, (1 << m) - 1, 1 << m, (1 << m) + 1, fmt.max_code, fmt.max_code - 1,
            fmt.bias << m, (fmt.bias << m) | 1}
    if fmt.specials == "ieee":
        mags |= {fmt.inf_magnitude, fmt.inf_magnitude + 1, fmt.nan_magnitude}
    elif fmt.specials == "fn":
        mags.add(fmt.nan_magnitude)
    return sorted({c for mg in mags for c in (mg, mg | sbit) if c < fmt.num_codes})


def gen_codes(fmt: Format, shape, seed: int, p_special: float, p_near: float) -> np.ndarray:
    """Codes of fmt: uniform over every code, a fraction p_special replaced by special codes
    and (formats with 5+ exponent bits) a fraction p_near by values within 2^+-8 of 1.0, so
    that terms overlap and cancel. numpy-generated from a drawn seed: hypothesis draws a
    handful of numbers per case (drawing each code would dominate the run time)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    out = rng.integers(0, fmt.num_codes, n, dtype=np.int64)
    if fmt.kind == "float" and fmt.exp_bits >= 5:
        near = rng.random(n) < p_near
        sign = rng.integers(0, 2, n) << (fmt.bits - 1)
        exp = (fmt.bias + rng.integers(-8, 9, n)) << fmt.man_bits
        out = np.where(near, sign | exp | rng.integers(0, 1 << fmt.man_bits, n), out)
    sp = np.array(special_codes(fmt), np.int64)
    out = np.where(rng.random(n) < p_special, sp[rng.integers(0, len(sp), n)], out)
    return out.reshape(shape).astype(fmt.code_dtype)


def codes_st(fmt: Format, shape):
    return st.builds(lambda seed, ps, pn: gen_codes(fmt, shape, seed, ps, pn),
                     st.integers(0, 2**32 - 1), st.sampled_from([0.0, 0.05, 0.2, 0.5, 1.0]),
                     st.sampled_from([0.0, 0.5, 0.9]))


def gen_scales(sfmt: Format, shape, seed: int, p_special: float) -> np.ndarray:
    """Scale codes: E8M0 mostly near 2^0 (127 +- 10), some anywhere, some extreme or NaN
    (0xFF); UE4M3 anywhere, some zero / extreme / NaN (0x7F)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if sfmt == E8M0:
        out = np.where(rng.random(n) < 0.8, rng.integers(117, 138, n), rng.integers(0, 255, n))
        sp = np.array([0, 1, 127, 253, 254, 0xFF])
    else:
        out = rng.integers(0, 0x80, n)
        sp = np.array([0, 1, 0x38, 0x7E, 0x7F])
    out = np.where(rng.random(n) < p_special, sp[rng.integers(0, len(sp), n)], out)
    return out.reshape(shape).astype(np.uint8)


def scales_st(sfmt: Format, shape):
    return st.builds(lambda seed, ps: gen_scales(sfmt, shape, seed, ps),
                     st.integers(0, 2**32 - 1), st.sampled_from([0.0, 0.02, 0.1, 0.3]))


@st.composite
def mx_pair(draw, m, n, k, elem=None, sfmt=None, block=None):
    """A (M x K) and B (K x N) as MXTensors with arbitrary element and scale codes."""
    elem = elem or draw(st.sampled_from(MX_ELEMS))
    sfmt = sfmt or draw(st.sampled_from([E8M0, E8M0, UE4M3]))
    bs = block or draw(st.sampled_from([1, 2, 4, 8, 16, 32]))
    kk = -(-k // bs) * bs
    ac = draw(codes_st(elem, (m, kk)))
    bc = draw(codes_st(elem, (kk, n)))
    asc = draw(scales_st(sfmt, (m, kk // bs)))
    bsc = draw(scales_st(sfmt, (kk // bs, n)))
    return (MXTensor(ac, asc, elem, sfmt, bs, 1, (m, kk)),
            MXTensor(bc, bsc, elem, sfmt, bs, 0, (kk, n)))


@st.composite
def plain_pair(draw, m, n, k, fa=None, fb=None):
    fa = fa or draw(st.sampled_from(ALL_ELEMS))
    fb = fb or (fa if draw(st.booleans()) else draw(st.sampled_from(ALL_ELEMS)))
    return (draw(codes_st(fa, (m, k))), fa), (draw(codes_st(fb, (k, n))), fb)


def k_choices(cfg: AccumConfig, block: int = 32) -> list:
    """K values around multiples of the instruction K and the block size (short last
    instructions included), kept small."""
    ik = cfg.instruction_k or 8
    base = {1, ik, 2 * ik, ik + 1, 3 * ik - 1, block, 2 * block, min(ik, block) + 3}
    return sorted(k for k in base if 1 <= k <= max(64, 2 * ik))


@st.composite
def extras(draw, cfg: AccumConfig, m, n):
    """C (None or codes with specials), c_fmt, and rand_bits when some rounding is SR."""
    c_fmt = draw(st.sampled_from([None, None, None, FP16, BF16, FP32]))
    cf = c_fmt or cfg.register
    C = draw(st.none() | codes_st(cf, (m, n)))
    rb = None
    modes = (cfg.rounding, cfg.step_mode) + ((cfg.product_rounding,) if cfg.product_format
                                             else ())
    if Rounding.SR in modes:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        # a sequence covers the longest chain drawn here: 64 products + 64 x (step + C add)
        shape = (m, n) if draw(st.booleans()) else (m, n, 200)
        rb = rng.integers(0, 2**32, shape, dtype=np.uint64)
    return C, c_fmt, rb


# ---------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------
def _describe(x) -> str:
    if isinstance(x, MXTensor):
        return (f"MXTensor({x.elem.name}, scales {x.scale_fmt.name}, block {x.block_size}, "
                f"axis {x.axis})\n codes={x.codes.tolist()}\n scales={x.scales.tolist()}")
    return f"({x[1].name}) codes={np.asarray(x[0]).tolist()}"


def check_same(A, B, C, cfg, c_fmt=None, rand_bits=None):
    """gemm_fast == reference gemm, bits and flags (or the same error)."""
    try:
        want = gemm(A, B, C, cfg, c_fmt=c_fmt, rand_bits=rand_bits)
    except ValueError as exc:
        with pytest.raises(ValueError) as info:
            gemm_fast(A, B, C, cfg, c_fmt=c_fmt, rand_bits=rand_bits)
        assert str(info.value) == str(exc)
        return
    got = gemm_fast(A, B, C, cfg, c_fmt=c_fmt, rand_bits=rand_bits)
    assert got[0].dtype == want[0].dtype and got[0].shape == want[0].shape
    if not (np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])):
        bad = np.argwhere((got[0] != want[0]) | (got[1] != want[1]))[0]
        i, j = int(bad[0]), int(bad[1])
        msg = (f"gemm_fast differs from the reference at ({i}, {j}): reference "
               f"{int(want[0][i, j]):#x} flags {int(want[1][i, j]):#x}, fast "
               f"{int(got[0][i, j]):#x} flags {int(got[1][i, j]):#x}\n"
               f"config: {cfg.describe()}\nA: {_describe(A)}\nB: {_describe(B)}\n"
               f"C ({(c_fmt or cfg.register).name}): "
               f"{None if C is None else np.asarray(C).tolist()}\nrand_bits: "
               f"{None if rand_bits is None else np.asarray(rand_bits)[i, j].tolist()}")
        raise AssertionError(msg)


# ---------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", [f for f in FORMATS.values() if f.bits <= 16]
                         + [Format.custom(3, 1), Format.custom(5, 4), Format.custom(2, 0,
                            specials="finite"), Format.custom(4, 3, signed=False,
                            specials="fn")], ids=lambda f: f.name)
def test_unpack_every_code(fmt):
    codes = np.arange(fmt.num_codes)
    got = np.stack(F._unpack(fmt, codes), axis=1).tolist()
    want = [list(fmt.unpack_code(int(c))) for c in codes]
    assert got == want


@pytest.mark.parametrize("fmt", [FP32, TF32, E8M13], ids=lambda f: f.name)
def test_unpack_wide_formats(fmt):
    rng = np.random.default_rng(1)
    codes = np.concatenate([rng.integers(0, fmt.num_codes, 20000),
                            special_codes(fmt)]).astype(np.int64)
    got = np.stack(F._unpack(fmt, codes), axis=1).tolist()
    assert got == [list(fmt.unpack_code(int(c))) for c in codes]


@pytest.mark.parametrize("fmt", [FP32, FP16, BF16, E8M13, SMALL_OUT], ids=lambda f: f.name)
@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_round_matches_round_pack(fmt, mode):
    """The vectorized rounding = the reference's _round (round_pack and the config's
    overflow / output-subnormal policies), on magnitudes up to 62 bits and exponents from far
    below the subnormals to past the overflow threshold."""
    rng = np.random.default_rng(int(mode) * 7 + fmt.bits)
    nb = rng.integers(1, 63, 600)
    mag = np.array([int(rng.integers(0, 2**62)) >> (62 - b) | (1 << (b - 1)) for b in nb],
                   dtype=np.int64)
    mag[:40] = (1 << nb[:40]) - 1  # all ones: carries into the next binade
    t = rng.integers(fmt.emin - fmt.man_bits - 70, fmt.emax + 3, mag.size)
    e2 = t - nb + 1
    sign = rng.integers(0, 2, mag.size)
    rand = rng.integers(0, 2**32, mag.size)
    for overflow in ("inf", "ieee", "saturate"):
        for sub in ("keep", "flush"):
            for sr_bits in ((32, 5, 1) if mode is Rounding.SR else (32,)):
                cfg = AccumConfig(overflow=overflow, output_subnormals=sub, sr_bits=sr_bits)
                got = F._round(fmt, sign, mag, e2, mode, F._Policy(cfg), rand)
                for i in range(mag.size):
                    want = R._round(fmt, int(sign[i]), int(mag[i]), int(e2[i]), mode, cfg,
                                    R._Rand(int(rand[i])))
                    assert (int(got[0][i]), int(got[1][i])) == want, (
                        overflow, sub, sr_bits, int(sign[i]), int(mag[i]), int(e2[i]))


def test_bitlen():
    x = np.array([0, 1, 2, 3, 2**52 - 1, 2**53, 2**53 + 1, 2**54 - 1, 2**60 - 1, 2**62,
                  2**63 - 1], dtype=np.int64)
    assert F._bitlen(x).tolist() == [int(v).bit_length() for v in x.tolist()]
    o = np.array([0, 5, 2**200 - 1, 2**200], dtype=object)
    assert F._bitlen(o).tolist() == [0, 3, 200, 201]


# ---------------------------------------------------------------------------------------
# Every preset
# ---------------------------------------------------------------------------------------
def _natural(name: str):
    """(kind, formats) of a preset's natural inputs: 'plain' or 'mx' element formats, or
    'any' (exact, fp32-fma-chain, mxdotp)."""
    parts = name.split("-")
    inp = parts[1] if len(parts) > 1 else ""
    return {"fp16": ("plain", [FP16]), "bf16": ("plain", [BF16]), "tf32": ("plain", [TF32]),
            "fp8": ("plain", [E4M3, E5M2]), "mxf4nvf4": ("mx", [E2M1]),
            "mxf8f6f4": ("mx", [E4M3, E5M2, E3M2, E2M3, E2M1])}.get(inp, ("any", ALL_ELEMS))


@st.composite
def preset_case(draw, name):
    cfg = get_preset(name).config
    kind, fmts = _natural(name)
    if draw(st.integers(0, 4)) == 0:  # sometimes any other input
        kind, fmts = "any", ALL_ELEMS
    m, n = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    if kind == "mx" or (kind == "any" and draw(st.booleans())):
        elem = draw(st.sampled_from([f for f in fmts if f in MX_ELEMS] or MX_ELEMS))
        if "mxf4nvf4" in name:
            sfmt, block = draw(st.sampled_from([(UE4M3, 16), (E8M0, 32), (E8M0, 16)]))
        else:
            sfmt, block = E8M0, draw(st.sampled_from([32, 32, 16, 8]))
        k = draw(st.sampled_from(k_choices(cfg, block)))
        A, B = draw(mx_pair(m, n, k, elem, sfmt, block))
    else:
        k = draw(st.sampled_from(k_choices(cfg)))
        A, B = draw(plain_pair(m, n, k, draw(st.sampled_from(fmts))))
    C, c_fmt, rb = draw(extras(cfg, m, n))
    return A, B, C, cfg, c_fmt, rb


@pytest.mark.parametrize("name", preset_names())
@given(data=st.data())
@fast_settings(20)
def test_every_preset_matches_reference(name, data):
    check_same(*data.draw(preset_case(name)))


@pytest.mark.parametrize("name", ["b200-mxf8f6f4", "h100-fp8-wgmma", "exact", "a100-fp16"])
def test_quantized_gaussian_huge_spread(name):
    # Realistic data: E4M3-quantized Gaussians with rows spanning 2^-60 .. 2^60 (scales far
    # apart, so exact sums need wide integers) and one row that cancels exactly.
    import emulator
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 96)) * np.exp2(rng.integers(-60, 60, (5, 1)))
    y = rng.standard_normal((96, 4)) * np.exp2(rng.integers(-60, 60, (1, 4)))
    x[4] = -x[3]
    x, y = x.astype(np.float32), y.astype(np.float32)
    cfg = get_preset(name).config
    if name == "a100-fp16":
        A = (FP16.encode(x).codes, FP16)
        B = (FP16.encode(y).codes, FP16)
    else:
        A, B = emulator.quantize(x, "e4m3", axis=1), emulator.quantize(y, "e4m3", axis=0)
    C = (rng.standard_normal((5, 4)).astype(np.float32).view(np.uint32)
         if cfg.register == FP32 else None)
    check_same(A, B, C, cfg)


# ---------------------------------------------------------------------------------------
# Every knob value
# ---------------------------------------------------------------------------------------
NV = dict(align_floor=-126, nan="all_ones", overflow="inf", frac_bits=24,
          rounding="rtz", instruction_k=16, terms_per_step=8)


def _nv(**kw):
    return AccumConfig(**{**NV, **kw})


KNOB_CONFIGS = {
    # structure
    "ik-none": _nv(instruction_k=None, terms_per_step=None),
    "ik-none-tps3": _nv(instruction_k=None, terms_per_step=3),
    "ik1-fma": _nv(instruction_k=1, terms_per_step=1),
    "ik4": _nv(instruction_k=4, terms_per_step=None),
    "ik32-tps4": _nv(instruction_k=32, terms_per_step=4),
    "interleave1": _nv(k_split="interleaved", interleave=1),
    "interleave2-4steps": _nv(k_split="interleaved", interleave=2, terms_per_step=4),
    "interleave3": _nv(k_split="interleaved", interleave=3),
    "scale-blocks-operands": _nv(k_split="scale_blocks", terms_per_step=None, frac_bits=35),
    "scale-blocks-8": _nv(k_split="scale_blocks", terms_per_step=None, block_terms=8),
    "scale-blocks-after": _nv(k_split="scale_blocks", terms_per_step=None, block_terms=4,
                              c_entry="after", instruction_k=32),
    # products
    **{f"product-fp32-{m.name}": _nv(product_format=FP32, product_rounding=m)
       for m in MODES if m is not Rounding.SR},
    "product-bf16": _nv(product_format=BF16, product_rounding="rne"),
    "product-small": _nv(product_format=SMALL_OUT, product_rounding="rtz",
                         output_subnormals="flush"),
    "product-e8m13-floor-none": _nv(product_format=E8M13, align_floor=None),
    "product-value": _nv(product_exponent="value"),
    # alignment
    "products-then-c": _nv(alignment="products_then_c"),
    "products-then-c-exact": _nv(alignment="products_then_c", frac_bits=None),
    "anchor-0": _nv(alignment="anchor", anchor_exp=0),
    "anchor-m10-f8": _nv(alignment="anchor", anchor_exp=-10, frac_bits=8),
    "anchor-20-f40": _nv(alignment="anchor", anchor_exp=20, frac_bits=40),
    "floor-none": _nv(align_floor=None),
    "floor-0": _nv(align_floor=0),
    "floor-m20": _nv(align_floor=-20),
    # F, carry, dropped
    **{f"F{f}": _nv(frac_bits=f) for f in (None, 0, 13, 23, 25, 35, 50)},
    "carry0": _nv(carry_bits=0, frac_bits=13),
    "carry1": _nv(carry_bits=1),
    "carry3-floor": _nv(carry_bits=3, dropped="floor", frac_bits=6),
    **{f"dropped-{d}": _nv(dropped=d, frac_bits=8) for d in ("floor", "sticky", "nearest")},
    # C entry, formats, rounding
    "c-after": _nv(c_entry="after"),
    "c-after-fp16-steps": _nv(c_entry="after", output_format=FP16, rounding="rne",
                              step_format=FP16, step_rounding="rne", k_split="interleaved",
                              interleave=2),
    "out-fp16": _nv(output_format=FP16, rounding="rne"),
    "out-bf16": _nv(output_format=BF16),
    "out-e8m13-reg-fp32": _nv(output_format=E8M13, register_format=FP32, frac_bits=13),
    "out-fp16-reg-fp32": _nv(output_format=FP16, register_format=FP32, rounding="rne"),
    "out-small": _nv(output_format=SMALL_OUT, rounding="rne"),
    "out-e5m2-like": _nv(output_format=Format.custom(5, 2), rounding="rna"),
    **{f"rounding-{m.name}": _nv(rounding=m) for m in MODES},
    "sr-8bits": _nv(rounding="sr", sr_bits=8, output_format=FP16),
    "sr-1bit-steps": _nv(rounding="sr", sr_bits=1, step_rounding="sr"),
    "step-fp16-rtz": _nv(step_format=FP16, step_rounding="rtz", rounding="rne"),
    "step-bf16-sr": _nv(step_format=BF16, step_rounding="sr", rounding="rtz"),
    # policies
    "input-flush": _nv(input_subnormals="flush"),
    "output-flush": _nv(output_subnormals="flush", output_format=FP16),
    "nan-canonical": _nv(nan="canonical"),
    **{f"overflow-{o}-{m}": _nv(overflow=o, rounding=m, output_format=SMALL_OUT)
       for o in ("inf", "ieee", "saturate") for m in ("rtz", "rne", "rup", "rdn")},
    "zero-positive": _nv(zero_sign="positive"),
    "zero-ieee-rdn": _nv(zero_sign="ieee", rounding="rdn"),
}


@st.composite
def knob_case(draw, cfg):
    m, n = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    needs_blocks = cfg.k_split == "scale_blocks" and cfg.block_terms is None
    if needs_blocks or draw(st.booleans()):
        block = draw(st.sampled_from([4, 8, 16, 32]))
        k = draw(st.sampled_from(k_choices(cfg, block)))
        A, B = draw(mx_pair(m, n, k, block=block))
    else:
        k = draw(st.sampled_from(k_choices(cfg)))
        A, B = draw(plain_pair(m, n, k))
    C, c_fmt, rb = draw(extras(cfg, m, n))
    return A, B, C, cfg, c_fmt, rb


@pytest.mark.parametrize("name", list(KNOB_CONFIGS))
@given(data=st.data())
@fast_settings(10)
def test_every_knob_matches_reference(name, data):
    check_same(*data.draw(knob_case(KNOB_CONFIGS[name])))


def test_knob_configs_cover_every_value():
    """Every value of every knob (each Rounding too) appears in KNOB_CONFIGS."""
    from emulator.numerics import config as CF
    cfgs = list(KNOB_CONFIGS.values())
    seen = lambda f: {getattr(c, f) for c in cfgs}  # noqa: E731
    for field, values in (("k_split", CF.K_SPLITS), ("alignment", CF.ALIGNMENTS),
                          ("product_exponent", CF.PRODUCT_EXPONENTS), ("dropped", CF.DROPPED),
                          ("c_entry", CF.C_ENTRIES), ("input_subnormals", CF.SUBNORMALS),
                          ("output_subnormals", CF.SUBNORMALS), ("nan", CF.NANS),
                          ("overflow", CF.OVERFLOWS), ("zero_sign", CF.ZERO_SIGNS),
                          ("rounding", MODES),
                          ("product_rounding", [m for m in MODES if m is not Rounding.SR])):
        assert set(values) <= seen(field), field
    assert None in seen("frac_bits") and None in seen("align_floor")
    assert None in seen("instruction_k") and {1, 2, 3} <= seen("interleave")
    assert {0, 1, 3} <= seen("carry_bits") and None in seen("product_format")


@st.composite
def random_config(draw):
    """Any valid combination of knob values."""
    ch = lambda *v: draw(st.sampled_from(v))  # noqa: E731
    kw = {}
    ik = ch(None, 1, 2, 4, 8, 16, 32)
    kw["instruction_k"] = ik
    kw["terms_per_step"] = (ch(None, *[d for d in (1, 2, 4, 8, 16) if ik % d == 0]) if ik
                            else ch(None, 1, 3, 4))
    kw["k_split"] = ch("sequential", "interleaved", "scale_blocks")
    if kw["k_split"] == "interleaved":
        kw["interleave"] = ch(1, 2, 3)
    if kw["k_split"] == "scale_blocks":
        kw["terms_per_step"] = None
        kw["block_terms"] = ch(None, 2, 4, 8, 16)
    if draw(st.integers(0, 3)) == 0:
        kw["product_format"] = ch(FP32, BF16, FP16, E8M13, SMALL_OUT)
        kw["product_rounding"] = ch(*MODES)
    kw["product_exponent"] = ch("operands", "value")
    kw["alignment"] = ch("max", "max", "products_then_c", "anchor")
    if kw["alignment"] == "anchor":
        kw["anchor_exp"] = draw(st.integers(-40, 40))
    kw["align_floor"] = ch(None, -126, -20, 0, 7)
    kw["frac_bits"] = ch(None, 0, 3, 13, 23, 24, 25, 35, 50)
    if kw["frac_bits"] is not None and draw(st.integers(0, 4)) == 0:
        kw["carry_bits"] = ch(0, 1, 3)
    kw["dropped"] = ch("truncate", "floor", "sticky", "nearest")
    kw["c_entry"] = ch("inside", "after")
    out = ch(FP32, FP16, BF16, E8M13, SMALL_OUT, Format.custom(5, 2), Format.custom(3, 1))
    kw["output_format"] = out
    kw["register_format"] = ch(None, FP32, out)
    kw["rounding"] = ch(*MODES)
    kw["step_format"] = ch(None, None, FP16, BF16, SMALL_OUT)
    kw["step_rounding"] = ch(None, None, *MODES)
    kw["sr_bits"] = ch(32, 8, 1)
    kw["input_subnormals"] = ch("keep", "flush")
    kw["output_subnormals"] = ch("keep", "flush")
    kw["nan"] = ch("canonical", "all_ones")
    kw["overflow"] = ch("inf", "ieee", "saturate")
    kw["zero_sign"] = ch("ieee", "positive")
    try:
        return AccumConfig(**kw)
    except ValueError:
        assume(False)


@given(data=st.data())
@fast_settings(300)
def test_random_configs_match_reference(data):
    cfg = data.draw(random_config())
    m, n = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3))
    k = data.draw(st.sampled_from([1, 2, 3, 4, 8, 16, 17, 32, 33, 64]))
    if data.draw(st.booleans()):
        A, B = data.draw(mx_pair(m, n, k))
    else:
        A, B = data.draw(plain_pair(m, n, k))
    C, c_fmt, rb = data.draw(extras(cfg, m, n))
    check_same(A, B, C, cfg, c_fmt, rb)


# ---------------------------------------------------------------------------------------
# Hand cases of the reference tests, through the fast path
# ---------------------------------------------------------------------------------------
def test_hand_cases():
    """A few of tests/test_numerics_reference.py's hand-derived cases as 1 x 1 GEMMs."""
    f32 = lambda *v: np.array([v], np.float32).view(np.uint32)  # noqa: E731
    col = lambda *v: np.array([v], np.float32).T.view(np.uint32)  # noqa: E731
    c1 = f32(1.0)
    for frac, mode, want in ((23, "rtz", 0x3F800000), (24, "rtz", 0x3F800001),
                             (25, "rne", 0x3F800002), (None, "rne", 0x3F800002)):
        cfg = AccumConfig(frac_bits=frac, rounding=mode, align_floor=-126)
        d, fl = gemm_fast((f32(1.5 * 2**-24, 1.5 * 2**-24), FP32), (col(1.0, 1.0), FP32), c1,
                          cfg)
        assert int(d[0, 0]) == want and fl[0, 0] & Flag.INEXACT
    # truncate / floor / sticky / nearest on -2.5 grid units
    for dropped, want in (("truncate", 0x3F7FFFFE), ("floor", 0x3F7FFFFD),
                          ("sticky", 0x3F7FFFFD), ("nearest", 0x3F7FFFFE)):
        cfg = AccumConfig(frac_bits=24, dropped=dropped, rounding="rtz", align_floor=-126)
        d, _ = gemm_fast((f32(-1.25 * 2**-23), FP32), (col(1.0), FP32), c1, cfg)
        assert int(d[0, 0]) == want, dropped


def test_padding_blocks_and_negative_zeros():
    """scale_blocks with K shorter than the instruction: whole blocks of padding are +0 block
    sums (no -0), so -0 products and a -0 C give +0 under RTZ (reference _block_sums)."""
    cfg = get_preset("b200-mxf4nvf4").config
    neg0 = E2M1.pack(1, 0)
    A = MXTensor(np.full((2, 16), neg0, np.uint8), np.full((2, 1), 0x38, np.uint8), E2M1, UE4M3,
                 16, 1, (2, 16))
    B = MXTensor(np.zeros((16, 2), np.uint8), np.full((1, 2), 0x38, np.uint8), E2M1, UE4M3, 16,
                 0, (16, 2))
    C = np.full((2, 2), 0x80000000, np.uint32)
    check_same(A, B, C, cfg)
    assert gemm_fast(A, B, C, cfg)[0].tolist() == [[0, 0], [0, 0]]
    # the same with K = 64 (no padding): every term is -0, so the sum is -0
    A64 = MXTensor(np.full((2, 64), neg0, np.uint8), np.full((2, 4), 0x38, np.uint8), E2M1,
                   UE4M3, 16, 1, (2, 64))
    B64 = MXTensor(np.zeros((64, 2), np.uint8), np.full((4, 2), 0x38, np.uint8), E2M1, UE4M3,
                   16, 0, (64, 2))
    check_same(A64, B64, C, cfg)
    assert gemm_fast(A64, B64, C, cfg)[0].tolist() == [[0x80000000] * 2] * 2


def test_input_flush_of_c_and_of_chained_results():
    """input_subnormals='flush' flushes the instruction's C and, along K, the previous
    instruction's result when it arrives as C: 2^-70 * 2^-70 = 2^-140 (an FP32 subnormal) is
    kept by 'keep' and lost by 'flush' at the next instruction."""
    f32 = lambda v: np.array(v, np.float32).view(np.uint32)  # noqa: E731
    A = (f32([[2.0**-70, 0.0]]), FP32)
    B = (f32([[2.0**-70], [0.0]]), FP32)
    sub_c = np.array([[1]], np.uint32)  # the smallest FP32 subnormal
    for flush in ("keep", "flush"):
        for C in (None, sub_c):
            cfg = AccumConfig(instruction_k=1, input_subnormals=flush, align_floor=-126)
            check_same(A, B, C, cfg)
    keep = AccumConfig(instruction_k=1, align_floor=-126)
    assert gemm_fast(A, B, None, keep)[0][0, 0] == 1 << 23 - 14  # 2^-140
    assert gemm_fast(A, B, None, keep.replace(input_subnormals="flush"))[0][0, 0] == 0
    one = AccumConfig(instruction_k=None, input_subnormals="flush", align_floor=-126)
    z = (f32([[0.0, 0.0]]), FP32)
    assert gemm_fast(z, B, sub_c, one)[0][0, 0] == 0
    assert gemm_fast(z, B, sub_c, one.replace(input_subnormals="keep"))[0][0, 0] == 1


def test_wide_sums():
    """Sums beyond int64 take the exact (Python integer) path: 64 products near 2^58 fixed to
    an anchor at 2^0 (the sum reaches 2^64), and exact sums over 2^+-100 spreads rounded
    stochastically (the fold of a wide sum into 60 bits must keep SR's 32 dropped bits)."""
    f32 = lambda v: np.array(v, np.float32).view(np.uint32)  # noqa: E731
    rng = np.random.default_rng(9)
    a = rng.uniform(1.5, 2.0, (2, 64)) * 2.0**29
    b = rng.uniform(1.5, 2.0, (64, 2)) * 2.0**28
    anchor = AccumConfig(alignment="anchor", anchor_exp=0, frac_bits=0, align_floor=-126,
                         output_format=FP32, rounding="rne")
    check_same((f32(a), FP32), (f32(b), FP32), None, anchor)
    x = rng.standard_normal((3, 24)) * np.exp2(rng.integers(-100, 100, (3, 24)))
    y = rng.standard_normal((24, 3)) * np.exp2(rng.integers(-20, 20, (24, 3)))
    for bits in (32, 31, 7):
        exact_sr = AccumConfig(rounding="sr", sr_bits=bits, align_floor=None)
        rb = rng.integers(0, 2**32, (3, 3))
        for out in (FP32, FP16):
            check_same((f32(x), FP32), (f32(y), FP32), None, exact_sr.replace(output_format=out),
                       rand_bits=rb)
    # Random bits on the edge: frac + rand == 2^32 exactly rounds up, so any lost low bit of
    # the dropped fraction would round down instead.
    from fractions import Fraction
    x32, y32 = x.astype(np.float32)[:1], y.astype(np.float32)[:, :1]
    S = abs(sum(Fraction(float(p)) * Fraction(float(q)) for p, q in zip(x32[0], y32[:, 0])))
    ulp = Fraction(2) ** (max(S.numerator.bit_length() - S.denominator.bit_length(), -126) - 23)
    r = S / ulp
    if r >= 2 ** 24:
        ulp, r = ulp * 2, r / 2
    frac = int((r - int(r)) * 2**32)
    assert frac % (1 << 16)  # the low bits matter
    sr = AccumConfig(rounding="sr", align_floor=None)
    for rand, up in ((2**32 - frac, 1), (2**32 - frac - 1, 0)):
        rb = np.array([[rand]])
        check_same((f32(x32), FP32), (f32(y32), FP32), None, sr, rand_bits=rb)
        d = gemm_fast((f32(x32), FP32), (f32(y32), FP32), None, sr, rand_bits=rb)[0]
        assert int(d[0, 0]) & 0x7FFFFFFF == FP32.encode(float(int(r) * ulp), "rtz").codes + up


# ---------------------------------------------------------------------------------------
# Real hardware (golden/hardware: the first 500 cases of every set)
# ---------------------------------------------------------------------------------------
SHIPPED_SETS = H.list_sets(H.shipped_root())


def _widen(bits, cfg):
    return [H.fp16_to_fp32(int(g)) if cfg.register.bits == 16 else int(g) for g in bits]


@pytest.mark.parametrize("key", SHIPPED_SETS, ids=[f"{g}-{f}-{o}" for g, f, o in SHIPPED_SETS])
def test_hwdata_dot_batch(key):
    s = H.load_set(H.shipped_root(), *key)
    cfg = get_preset(s.preset).config
    fmt = H.INPUT_FORMATS[s.fmt]
    got, _ = dot_batch(np.array(s.a), np.array(s.b), fmt, fmt, None, None, np.array(s.c), cfg)
    got = _widen(got, cfg)
    bad = [i for i, (g, w) in enumerate(zip(got, s.d)) if g != w]
    assert not bad, (f"{s.label} {s.preset}: {len(bad)} of {len(s.d)} differ; first: case "
                     f"{bad[0]} hardware {s.d[bad[0]]:#010x} fast {got[bad[0]]:#010x}")


@pytest.mark.parametrize("key", SHIPPED_SETS, ids=[f"{g}-{f}-{o}" for g, f, o in SHIPPED_SETS])
def test_hwdata_gemm_diagonal(key):
    """gemm_fast on the first 40 cases of a set as one 40 x 40 GEMM: case i is row i of A,
    column i of B and C[i, i]; the diagonal must be the hardware's results."""
    s = H.load_set(H.shipped_root(), *key, limit=40)
    cfg = get_preset(s.preset).config
    fmt = H.INPUT_FORMATS[s.fmt]
    a, b = np.array(s.a), np.array(s.b)
    C = np.zeros((len(a), len(a)), np.int64)
    C[np.diag_indices(len(a))] = s.c
    d, _ = gemm_fast((a, fmt), (b.T.copy(), fmt), C, cfg)
    assert _widen(np.diag(d), cfg) == s.d


def test_dot_batch_matches_dot():
    """dot_batch == reference dot per row, with per-block, per-row and no scales."""
    rng = np.random.default_rng(5)
    for cfg in (get_preset("b200-mxf8f6f4").config, get_preset("b200-mxf4nvf4").config,
                KNOB_CONFIGS["sr-1bit-steps"], KNOB_CONFIGS["c-after"]):
        p, k = 12, 64
        fmt = E2M1 if cfg.k_split == "scale_blocks" else E4M3
        a = rng.integers(0, fmt.num_codes, (p, k))
        b = rng.integers(0, fmt.num_codes, (p, k))
        sa = rng.integers(100, 150, (p, 4))
        sb = rng.integers(100, 150, (p,))
        sa[0, 1] = 0xFF  # a NaN scale
        c = rng.integers(0, 2**32, p)
        rb = rng.integers(0, 2**32, (p, 64))
        got = dot_batch(a, b, fmt, fmt, sa, sb, c, cfg, rand_bits=rb)
        for i in range(p):
            want = dot(a[i].tolist(), b[i].tolist(), fmt, fmt, sa[i].tolist(), int(sb[i]),
                       int(c[i]), cfg, rand_bits=list(rb[i]))
            assert (int(got[0][i]), int(got[1][i])) == want, (cfg.describe(), i)


# ---------------------------------------------------------------------------------------
# Chunks, errors, methods, fallback
# ---------------------------------------------------------------------------------------
def test_chunked_gemm(monkeypatch):
    """A GEMM split into many row chunks (and a 3-D rand_bits) gives the reference's bits."""
    monkeypatch.setattr(F, "_CHUNK", 64)
    rng = np.random.default_rng(7)
    m, n, k = 9, 5, 40
    a = rng.integers(0, 256, (m, k)).astype(np.uint8)
    b = rng.integers(0, 256, (k, n)).astype(np.uint8)
    C = rng.integers(0, 2**32, (m, n)).astype(np.uint32)
    for cfg in (get_preset("h100-fp8-wgmma").config, KNOB_CONFIGS["sr-1bit-steps"]):
        rb = rng.integers(0, 2**32, (m, n, 40))
        check_same((a, E4M3), (b, E4M3), C, cfg, rand_bits=rb)


def test_errors_match_reference():
    cfg = get_preset("h100-fp16").config
    a = np.zeros((2, 4), np.uint16)
    b = np.zeros((4, 3), np.uint16)
    for args in (((a, FP16), (np.zeros((5, 3), np.uint16), FP16), None),  # K differs
                 ((a, FP16), (b, FP16), np.zeros((3, 3), np.uint32)),  # C's shape
                 ((a, FP16), (b, FP16), np.full((2, 3), 2**32, np.uint64)),  # C's codes
                 ((a, FP16), (b, FP16), np.zeros((2, 3), np.float32))):  # C not ints
        with pytest.raises(ValueError):
            gemm(*args, cfg)
        with pytest.raises(ValueError):
            gemm_fast(*args, cfg)
    with pytest.raises(ValueError, match="not a fp16 code"):
        gemm_fast((np.full((2, 4), 1 << 16), FP16), (b, FP16), None, cfg)
    sr = cfg.replace(rounding="sr")
    one = np.full((2, 4), 0x3C00, np.uint16), np.full((4, 3), 0x3C00, np.uint16)
    for rb in (None, np.zeros((2, 3, 0), np.uint32)):
        with pytest.raises(ValueError, match="rand_bits"):
            gemm((one[0], FP16), (one[1], FP16), None, sr, rand_bits=rb)
        with pytest.raises(ValueError, match="rand_bits"):
            gemm_fast((one[0], FP16), (one[1], FP16), None, sr, rand_bits=rb)
    with pytest.raises(ValueError, match="method"):
        gemm_auto((a, FP16), (b, FP16), None, cfg, method="numpy")


def test_gemm_auto_methods():
    rng = np.random.default_rng(2)
    cfg = get_preset("b200-fp16").config
    for m, n in ((1, 2), (6, 5)):
        a = FP16.encode(rng.standard_normal((m, 20))).codes
        b = FP16.encode(rng.standard_normal((20, n))).codes
        outs = [gemm_auto((a, FP16), (b, FP16), None, cfg, method=meth)
                for meth in ("auto", "native", "fast", "reference")]
        for o in outs[1:]:
            assert np.array_equal(o[0], outs[0][0]) and np.array_equal(o[1], outs[0][1])


def test_empty_and_k0():
    cfg = get_preset("exact").config
    d, fl = gemm_fast((np.zeros((0, 4), np.uint8), E4M3), (np.zeros((4, 3), np.uint8), E4M3),
                      None, cfg)
    assert d.shape == (0, 3) and fl.shape == (0, 3)
    for c in (get_preset("h100-fp16").config, cfg):
        check_same((np.zeros((2, 0), np.uint16), FP16), (np.zeros((0, 2), np.uint16), FP16),
                   np.array([[0x80000000, 0x3F800000], [0, 0x7F800000]], np.uint32), c)


def test_reference_fallback():
    """Significand products beyond int64 (FP32 elements with FP32 "scales") run the reference:
    still equal; the widest alignment floor AccumConfig allows stays vectorised."""
    cfg = AccumConfig(align_floor=-(2**20), frac_bits=5, alignment="max")
    assert not F._needs_reference(cfg, E4M3, E4M3, None, None, E8M0)
    assert not F._needs_reference(get_preset("exact").config, FP32, FP32, 1, 1, UE4M3)
    assert F._needs_reference(get_preset("exact").config, FP32, FP32, 1, 1, FP32)
    rng = np.random.default_rng(4)
    check_same((rng.integers(0, 256, (2, 8)).astype(np.uint8), E4M3),
               (rng.integers(0, 256, (8, 2)).astype(np.uint8), E4M3), None, cfg)
    sc = rng.integers(0x3F000000, 0x40800000, (2, 1), dtype=np.int64).astype(np.uint32)
    A = MXTensor(rng.integers(0, 1 << 32, (2, 8), dtype=np.int64).astype(np.uint32) & 0xBFFFFFFF,
                 sc, FP32, FP32, 8, 1, (2, 8))
    check_same(A, (rng.integers(0, 256, (8, 2)).astype(np.uint8), E4M3), None,
               get_preset("exact").config)
