"""`AccumConfig`: every knob of a tensor unit's dot-product numerics, as one frozen value.

A unit computes D = sum_k a_k * b_k (* block scales) + C in *steps*: each step is one fused
multi-term add ("block FMA") whose terms are aligned to a common exponent, cut to a fixed
number of fraction bits, added exactly and rounded once. docs/NUMERICS.md describes the model
and lists, for each knob, the values measured on real units; the comments below are the short
form. Validation errors name the field and the allowed values.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ..formats import FP32, Format, get_format
from ..rounding import Rounding, parse_rounding

K_SPLITS = ("sequential", "interleaved", "scale_blocks")
ALIGNMENTS = ("max", "products_then_c", "anchor")
PRODUCT_EXPONENTS = ("operands", "value")
DROPPED = ("truncate", "floor", "sticky", "nearest")
C_ENTRIES = ("inside", "after")
SUBNORMALS = ("keep", "flush")
NANS = ("canonical", "all_ones")
OVERFLOWS = ("inf", "ieee", "saturate")
ZERO_SIGNS = ("ieee", "positive")


def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}={value!r}; allowed: {', '.join(map(repr, allowed))}")


# Bounds of the integer knobs, far beyond any real unit (exponents of every format stay
# within +-2^11, measured F within 35, instructions within 64 products): every valid config
# then fits the C kernel's config, whose sums stay near 2^20 bits wide. Beyond them the
# reference itself would build sums of millions of bits or pad instructions of millions of
# products (docs/NUMERICS.md, section 3).
MAX_LENGTH = 1 << 24  # instruction_k, terms_per_step, interleave, block_terms
MAX_BITS = 1 << 16    # frac_bits, carry_bits
MAX_EXP = 1 << 20     # |anchor_exp|, |align_floor|


def _int_or_none(name, value, low, high, allowed_text):
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name}={value!r}; allowed: {allowed_text}")


def _float_format(name, fmt, allow_none=False):
    if fmt is None and allow_none:
        return None
    try:
        fmt = get_format(fmt)
    except ValueError:
        raise ValueError(f"{name}={fmt!r}; allowed: a float Format (fp32, fp16, bf16, "
                         "Format.custom(...))" + (" or None" if allow_none else "")) from None
    if fmt.kind != "float" or not fmt.signed or not fmt.subnormals or fmt.specials != "ieee":
        raise ValueError(f"{name}={fmt.name}: allowed a signed IEEE-style float format with "
                         "subnormals, Inf and NaN (fp32, fp16, bf16, Format.custom(e, m))")
    return fmt


def _holds(reg: Format, out: Format) -> bool:
    """True when every value (and special) of `out` has an exact code in `reg`."""
    return (reg.man_bits >= out.man_bits and reg.emax >= out.emax
            and reg.emin - reg.man_bits <= out.emin - out.man_bits
            and (reg.has_inf or not out.has_inf) and (reg.has_nan or not out.has_nan))


@dataclass(frozen=True)
class AccumConfig:
    """The numerics of one tensor unit path. Field order follows the data path.

    Structure of one instruction (section 2 of docs/NUMERICS.md):
      instruction_k   products per instruction (None: the whole K is one instruction). A GEMM
                      chains instructions along K: one instruction's rounded result (in
                      `register_format`) is the next one's C. Seen: 4 (V100, TF32 paths), 8,
                      16 (FP16/BF16 mma.sync), 32 (FP8), 64 (NVFP4).
      terms_per_step  products fused in one step (None: the whole instruction). Seen: 1 (FMA
                      chains), 4, 8, 16, 32.
      k_split         how an instruction's products are assigned to its steps:
                      'sequential'   step s takes products s*T .. s*T+T-1 (T = K: no split;
                                     T = K/2: the two sequential halves of Ampere/Ada);
                      'interleaved'  step s takes the products k with
                                     (k // interleave) % n_steps == s (interleave=1: even/odd
                                     lanes; 2: register pairs, the FP8 mma.sync path of
                                     H100/H200/B200 with FP16 output and B200 with FP32);
                      'scale_blocks' each scale block's products are summed exactly and
                                     multiplied by the block's scales; the block sums (and C)
                                     then form one fused step (Blackwell NVFP4, 16-element
                                     blocks).
      interleave      the lane granule of 'interleaved' (1 or more).
      block_terms     the block length of 'scale_blocks' (None: the operands' scale block).

    Products:
      product_format  None: products are exact (NVIDIA, MXDOTP). A Format: each product is
                      rounded into it first with `product_rounding` (older AMD, Intel AMX: FP32).
      product_rounding  rounding of the products into `product_format`.
      product_exponent  the alignment exponent of an exact product: 'operands' = the sum of
                      the two operands' exponents, each in its own format (subnormal: its
                      format's emin; zero: `align_floor`) plus the scale exponents, the
                      significand product keeping its extra integer bit (NVIDIA, measured);
                      'value' = floor(log2 |product|) (the textbook normalised product).

    Alignment and the fused add:
      alignment       'max': every term (products and C) aligns to the largest alignment
                      exponent E (NVIDIA); 'products_then_c': the products align and add among
                      themselves (E over the products), then that sum and C align to the larger
                      of the two exponents and add, with one rounding at the end (CDNA3-like);
                      'anchor': every term aligns to the fixed exponent `anchor_exp`
                      (fixed-point designs).
      anchor_exp      the fixed exponent of 'anchor' (an int).
      align_floor     the exponent a zero operand or a zero C counts as (NVIDIA: -126, the FP32
                      minimum normal exponent); None: zeros take no part in the alignment.
      frac_bits       F, fraction bits kept below 2^E: every term is cut to a multiple of
                      2^(E-F). None: unbounded (exact). Seen: 13 (Hopper/Ada FP8), 23 (V100),
                      24 (A100, Ada), 25 (H100, H200, B200), 35 (Blackwell NVFP4 cross-block).
      carry_bits      integer bits of the fused adder above 2^E: the sum is held in a
                      two's-complement register of carry_bits + 1 + frac_bits bits plus sign,
                      and wraps beyond it (a too-narrow adder, for RTL checks). None: enough
                      bits that nothing wraps (every measured unit).
      dropped         what happens to the bits of a term below 2^(E-F): 'truncate' the
                      magnitude toward zero (NVIDIA); 'floor' the signed value (a two's-complement
                      shift: negative terms move away from zero; CDNA3 stages); 'sticky' keep
                      an OR of them in the last kept bit (round to odd, so a later rounding
                      sees them); 'nearest' round the term to nearest, ties to even.
      c_entry         'inside': C is one more term of the instruction's first step (NVIDIA);
                      'after': the instruction's steps run from +0 and C is added to their
                      rounded result by one exact add rounded with `rounding` (an FADD after
                      the tensor op: the FP8 mma.sync path of B200, FP8->FP16 of H100/H200).

    Rounding and formats:
      output_format   the format the instruction's result is rounded into: FP32, FP16, BF16,
                      E8M13 = Format.custom(8, 13) (Hopper/Ada FP8: only 13 fraction bits of
                      the FP32 register are produced), any custom float.
      register_format the format of the bits C arrives in and D leaves in (None: the output
                      format). E8M13 results are held in FP32 registers: register_format=FP32.
      rounding        the rounding of the result: rne, rna, rtz, rup, rdn, rto, sr (stochastic,
                      with caller-supplied random bits). NVIDIA: rtz into FP32 and E8M13, rne
                      into FP16.
      step_format     the format the steps before the last (and, with c_entry='after', every
                      product step) round into; None: the output format.
      step_rounding   their rounding; None: `rounding`.
      sr_bits         random bits used by 'sr' (1..32).

    Policies:
      input_subnormals   'keep' or 'flush' (to a zero of the same sign) subnormal A, B and C
                         values before anything else (AMD CDNA2 FP16/BF16, Intel AMX flush).
      output_subnormals  'keep' or 'flush' subnormal results of every rounding to signed zero.
      nan             the NaN result pattern: 'canonical' (the format's quiet NaN, 0x7FC00000 /
                      0x7E00) or 'all_ones' (0x7FFFFFFF / 0x7FFF, NVIDIA).
      overflow        a finite result beyond the largest finite value: 'inf' gives +-Inf under
                      every rounding mode (NVIDIA, even under RZ); 'ieee' gives Inf or the
                      largest finite value as IEEE 754 prescribes for the mode; 'saturate' always
                      clamps to the largest finite value (some RTL).
      zero_sign       the sign of an exactly zero sum: 'ieee' (+0, or -0 when every term is -0
                      or the rounding is rdn) or 'positive' (always +0).
    """

    instruction_k: int | None = None
    terms_per_step: int | None = None
    k_split: str = "sequential"
    interleave: int = 1
    block_terms: int | None = None
    product_format: Format | None = None
    product_rounding: Rounding = Rounding.RNE
    product_exponent: str = "operands"
    alignment: str = "max"
    anchor_exp: int | None = None
    align_floor: int | None = -126
    frac_bits: int | None = None
    carry_bits: int | None = None
    dropped: str = "truncate"
    c_entry: str = "inside"
    output_format: Format = FP32
    register_format: Format | None = None
    rounding: Rounding = Rounding.RNE
    step_format: Format | None = None
    step_rounding: Rounding | None = None
    sr_bits: int = 32
    input_subnormals: str = "keep"
    output_subnormals: str = "keep"
    nan: str = "canonical"
    overflow: str = "ieee"
    zero_sign: str = "ieee"

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        # Structure.
        _int_or_none("instruction_k", self.instruction_k, 1, MAX_LENGTH,
                     f"a positive int up to 2^24 = {MAX_LENGTH}, or None")
        _int_or_none("terms_per_step", self.terms_per_step, 1, MAX_LENGTH,
                     f"a positive int up to 2^24 = {MAX_LENGTH}, or None")
        if (self.instruction_k is not None and self.terms_per_step is not None
                and self.instruction_k % self.terms_per_step):
            raise ValueError(f"terms_per_step={self.terms_per_step} must divide "
                             f"instruction_k={self.instruction_k}")
        _choice("k_split", self.k_split, K_SPLITS)
        _int_or_none("interleave", self.interleave, 1, MAX_LENGTH,
                     f"a positive int up to 2^24 = {MAX_LENGTH}")
        if self.interleave is None:
            raise ValueError("interleave=None; allowed: a positive int")
        _int_or_none("block_terms", self.block_terms, 1, MAX_LENGTH,
                     f"a positive int up to 2^24 = {MAX_LENGTH}, or None")
        if (self.k_split == "scale_blocks" and self.terms_per_step is not None
                and self.terms_per_step != self.instruction_k):
            raise ValueError(f"terms_per_step={self.terms_per_step}: k_split='scale_blocks' "
                             "fuses the whole instruction in one step; allowed: None")
        if self.k_split == "interleaved" and self.instruction_k is None:
            raise ValueError("k_split='interleaved' needs instruction_k (an int): the lanes "
                             "are interleaved within one instruction")
        # Products.
        set_("product_format", _float_format("product_format", self.product_format, True))
        set_("product_rounding", parse_rounding(self.product_rounding, "product_rounding"))
        if self.product_rounding is Rounding.SR:
            raise ValueError("product_rounding='sr'; allowed: rne, rna, rtz, rup, rdn, rto")
        _choice("product_exponent", self.product_exponent, PRODUCT_EXPONENTS)
        # Alignment.
        _choice("alignment", self.alignment, ALIGNMENTS)
        if self.alignment == "anchor":
            if (not isinstance(self.anchor_exp, int) or isinstance(self.anchor_exp, bool)
                    or abs(self.anchor_exp) > MAX_EXP):
                raise ValueError(f"anchor_exp={self.anchor_exp!r}; alignment='anchor' needs "
                                 f"an int exponent in -2^20..2^20 (+-{MAX_EXP})")
        elif self.anchor_exp is not None:
            raise ValueError(f"anchor_exp={self.anchor_exp!r} is only used with "
                             "alignment='anchor'; allowed: None")
        _int_or_none("align_floor", self.align_floor, -MAX_EXP, MAX_EXP,
                     f"an int in -2^20..2^20 (+-{MAX_EXP}; NVIDIA: -126) or None")
        _int_or_none("frac_bits", self.frac_bits, 0, MAX_BITS,
                     f"an int in 0..2^16 = {MAX_BITS}, or None (unbounded)")
        _int_or_none("carry_bits", self.carry_bits, 0, MAX_BITS,
                     f"an int in 0..2^16 = {MAX_BITS}, or None (unbounded)")
        if self.carry_bits is not None and self.frac_bits is None:
            raise ValueError("carry_bits needs frac_bits (a fixed-width adder); with "
                             "frac_bits=None allowed: carry_bits=None")
        _choice("dropped", self.dropped, DROPPED)
        _choice("c_entry", self.c_entry, C_ENTRIES)
        if self.c_entry == "after" and self.alignment == "products_then_c":
            raise ValueError("alignment='products_then_c' aligns C inside the step; with "
                             "c_entry='after' allowed: alignment='max' or 'anchor'")
        # Formats and rounding.
        set_("output_format", _float_format("output_format", self.output_format))
        set_("register_format", _float_format("register_format", self.register_format, True))
        reg = self.register
        if not _holds(reg, self.output_format):
            raise ValueError(f"register_format={reg.name} cannot hold every "
                             f"{self.output_format.name} value exactly; allowed: a format at "
                             "least as wide in exponent range and mantissa (e.g. fp32)")
        set_("rounding", parse_rounding(self.rounding, "rounding"))
        set_("step_format", _float_format("step_format", self.step_format, True))
        if self.step_rounding is not None:
            set_("step_rounding", parse_rounding(self.step_rounding, "step_rounding"))
        if not isinstance(self.sr_bits, int) or not 1 <= self.sr_bits <= 32:
            raise ValueError(f"sr_bits={self.sr_bits!r}; allowed: an int in 1..32")
        # Policies.
        _choice("input_subnormals", self.input_subnormals, SUBNORMALS)
        _choice("output_subnormals", self.output_subnormals, SUBNORMALS)
        _choice("nan", self.nan, NANS)
        _choice("overflow", self.overflow, OVERFLOWS)
        _choice("zero_sign", self.zero_sign, ZERO_SIGNS)

    # -- derived ---------------------------------------------------------------------------
    @property
    def register(self) -> Format:
        """The format of C's and D's bits (register_format, else the output format)."""
        return self.register_format or self.output_format

    @property
    def step_fmt(self) -> Format:
        """The format intermediate steps round into."""
        return self.step_format or self.output_format

    @property
    def step_mode(self) -> Rounding:
        return self.step_rounding if self.step_rounding is not None else self.rounding

    @property
    def is_exact(self) -> bool:
        """True when the model is 'exact sum, one rounding': nothing is cut or rounded early."""
        return (self.frac_bits is None and self.product_format is None
                and self.terms_per_step is None and self.instruction_k is None
                and self.c_entry == "inside" and self.input_subnormals == "keep")

    def replace(self, **changes) -> "AccumConfig":
        """A copy with some knobs changed (validated again)."""
        return replace(self, **changes)

    def describe(self) -> str:
        """One line per knob that differs from the default, for reports."""
        out = []
        for f in fields(self):
            v = getattr(self, f.name)
            if v != f.default:
                v = v.name if isinstance(v, Format) else (v.name.lower()
                                                          if isinstance(v, Rounding) else v)
                out.append(f"{f.name}={v}")
        return ", ".join(out) or "defaults"
