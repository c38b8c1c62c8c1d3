"""Properties the numerics model guarantees, checked with hypothesis.

- Permuting the products inside one fused step never changes the result (the alignment
  exponent is a maximum and every term is cut on its own: the sum is order-free).
- Exact configurations (frac_bits=None, one step) equal the rational sum rounded once.
- With enough fraction bits a truncating unit is exact too.
- Results are always valid codes of the register format; E8M13 results have 10 zero bits.
"""
from fractions import Fraction

from hypothesis import given, settings, strategies as st

from emulator.formats import BF16, E2M1, E4M3, E5M2, FP16, FP32
from emulator.numerics import E8M13, AccumConfig, dot, get_preset

from test_numerics_oracle import exact_dot, round_to, value

FMTS = {"e4m3": E4M3, "e5m2": E5M2, "e2m1": E2M1, "fp16": FP16, "bf16": BF16}


def finite_code(name):
    fmt = FMTS[name]
    return st.integers(0, fmt.num_codes - 1).filter(
        lambda c: not isinstance(value(name, c), str))


@st.composite
def operands(draw, names=("e4m3", "e5m2", "e2m1", "fp16", "bf16"), k=None, scaled=None):
    name = draw(st.sampled_from(names))
    k = k or draw(st.sampled_from([1, 2, 3, 8, 16, 32]))
    a = draw(st.lists(finite_code(name), min_size=k, max_size=k))
    b = draw(st.lists(finite_code(name), min_size=k, max_size=k))
    use_scales = FMTS[name].bits <= 8 if scaled is None else scaled
    sa = draw(st.integers(107, 147)) if use_scales else None
    sb = draw(st.integers(107, 147)) if use_scales else None
    c = draw(st.integers(0, 0x7F7FFFFF) | st.integers(0x80000000, 0xFF7FFFFF)
             | st.sampled_from([0, 0x80000000, 0x3F800000]))
    return name, a, b, sa, sb, c


ONE_STEP_PRESETS = ["h100-fp16", "h100-fp8-wgmma", "b200-mxf8f6f4", "exact", "v100-fp16"]


@given(operands(k=4), st.sampled_from(ONE_STEP_PRESETS), st.randoms(use_true_random=False),
       st.sampled_from(["truncate", "floor", "sticky", "nearest"]))
@settings(max_examples=150)
def test_permutation_inside_one_step(ops, preset, rnd, dropped):
    name, a, b, sa, sb, c = ops
    cfg = get_preset(preset).config.replace(instruction_k=None, terms_per_step=None,
                                            dropped=dropped)
    fmt = FMTS[name]
    want = dot(a, b, fmt, fmt, sa, sb, c, cfg, c_fmt=FP32)
    order = list(range(len(a)))
    rnd.shuffle(order)
    pa, pb = [a[i] for i in order], [b[i] for i in order]
    assert dot(pa, pb, fmt, fmt, sa, sb, c, cfg, c_fmt=FP32) == want


OUTS = {"fp32": (FP32, None), "fp16": (FP16, None), "bf16": (BF16, None),
        "e8m13": (E8M13, None)}


@given(operands(), st.sampled_from(list(OUTS)),
       st.sampled_from(["rne", "rna", "rtz", "rup", "rdn"]),
       st.sampled_from(["max", "products_then_c"]), st.sampled_from([None, -126]))
@settings(max_examples=200)
def test_exact_config_is_rational_sum_rounded_once(ops, out, mode, alignment, floor):
    name, a, b, sa, sb, c = ops
    fmt = FMTS[name]
    cfg = AccumConfig(output_format=OUTS[out][0], register_format=FP32, rounding=mode,
                      alignment=alignment, align_floor=floor)
    got, _ = dot(a, b, fmt, fmt, sa, sb, c, cfg)
    k = len(a)
    total = exact_dot(a, b, name, name, c, "fp32", [sa] * k if sa else None,
                      [sb] * k if sb else None)
    v = value(out, round_to(out, total, mode))  # a Fraction, or '+inf' / '-inf'
    if v == 0:
        got &= 0x7FFFFFFF  # the zero sign has its own tests
    assert value("fp32", got) == v


@given(operands(names=("e4m3", "e5m2", "fp16")), st.sampled_from(["rne", "rtz"]))
@settings(max_examples=100)
def test_wide_truncating_unit_is_exact(ops, mode):
    # Every term's last bit lies within 400 bits of the largest term: C's lsb is >= 2^-149,
    # a scaled E4M3 product's >= 2^-58, and the largest alignment exponent is <= 127. So
    # F = 400 cuts nothing and the unit is exact.
    name, a, b, sa, sb, c = ops
    fmt = FMTS[name]
    wide = AccumConfig(frac_bits=400, rounding=mode, align_floor=-126)
    exact = AccumConfig(rounding=mode, align_floor=-126)
    assert dot(a, b, fmt, fmt, sa, sb, c, wide) == dot(a, b, fmt, fmt, sa, sb, c, exact)


@given(operands(), st.sampled_from(["ada-fp8", "h100-fp8-wgmma", "b200-fp8", "a100-fp16",
                                    "h100-fp8-fp16", "ada-fp8-fp16", "b200-mxf4nvf4"]))
@settings(max_examples=100)
def test_results_are_register_codes(ops, preset):
    name, a, b, sa, sb, c = ops
    fmt = FMTS[name]
    cfg = get_preset(preset).config
    k = cfg.instruction_k or len(a)
    a, b = (a * k)[:k], (b * k)[:k]
    sa_, sb_ = sa, sb
    if cfg.k_split == "scale_blocks":
        sa_, sb_ = [sa or 127] * 4, [sb or 127] * 4
    got, flags = dot(a, b, fmt, fmt, sa_, sb_, c, cfg, c_fmt=FP32)
    assert 0 <= got < (1 << cfg.register.bits) and 0 <= flags < 64
    if cfg.output_format == E8M13:
        assert got & 0x3FF == 0 or (got & 0x7F800000) == 0x7F800000


@given(operands(names=("e4m3", "fp16"), k=16))
@settings(max_examples=60)
def test_truncating_rz_unit_never_exceeds_exact_sum(ops):
    # With every product and C of one sign, truncating each term toward zero and rounding
    # the sum toward zero can only lose magnitude: 0 <= result <= exact sum.
    name, a, b, sa, sb, c = ops
    fmt = FMTS[name]
    a = [x & ~(1 << (fmt.bits - 1)) for x in a]
    b = [x & ~(1 << (fmt.bits - 1)) for x in b]
    c &= 0x7FFFFFFF
    got, _ = dot(a, b, fmt, fmt, sa, sb, c, get_preset("h100-fp16").config)
    total = exact_dot(a, b, name, name, c, "fp32", [sa] * 16 if sa else None,
                      [sb] * 16 if sb else None)
    v = value("fp32", got)
    assert isinstance(v, str) or v <= total
    assert isinstance(v, str) or v >= Fraction(0)
