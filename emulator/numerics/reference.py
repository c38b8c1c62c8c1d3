"""The reference model of a tensor unit's dot product and GEMM, in plain Python integers.

This is the executable specification of docs/NUMERICS.md: deliberately simple and slow, one
scalar routine per output element, every value an exact integer significand and a power of
two. Every rounding into a format goes through `emulator.rounding.round_pack`. Faster paths
(numpy, C) are checked against it bit for bit.

The data path of one output element (section 1 of docs/NUMERICS.md):
  products (exact) -> steps, each a fused multi-term add: align to the largest exponent, cut
  every term to F fraction bits, add exactly, round once -> chain steps and instructions
  along K (one result is the next C) -> the result's bits in the register format.
"""
from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple, Sequence

import numpy as np

from ..flags import Flag
from ..formats import (CLASS_INF, CLASS_NAN, CLASS_SUBNORMAL, CLASS_ZERO, E8M0, Format,
                       get_format)
from ..rounding import Overflow, Rounding, round_pack
from .config import AccumConfig

_ZERO, _FINITE, _INF, _NAN = "zero", "finite", "inf", "nan"


class Term(NamedTuple):
    """One exact addend: (-1)**sign * sig * 2**lsb, with the exponent it aligns by.

    kind is 'zero', 'finite', 'inf' or 'nan'; align is None for a term that takes no part in
    the alignment (zeros when the config has no alignment floor, padding).
    """

    kind: str
    sign: int
    sig: int
    lsb: int
    align: int | None


class _Rand:
    """The random bits of stochastic rounding: one int for every rounding, or a sequence
    consumed in order (steps first, then the C add, instruction after instruction)."""

    def __init__(self, bits):
        self.bits, self.i = bits, 0

    def next(self) -> int:
        if self.bits is None:
            raise ValueError("rand_bits is required when a rounding is 'sr' (an int, or one "
                             "int per rounding of the chain)")
        if isinstance(self.bits, (int, np.integer)):
            return int(self.bits)
        if self.i >= len(self.bits):
            raise ValueError(f"rand_bits has {len(self.bits)} values but the chain needs more")
        self.i += 1
        return int(self.bits[self.i - 1])


# ---------------------------------------------------------------------------------------
# Decoding operands, scales and registers
# ---------------------------------------------------------------------------------------
@lru_cache(maxsize=1 << 17)
def _factor(fmt: Format, code: int, flush: bool):
    """(kind, sign, exp, sig, man_bits) of one operand code; value = sig * 2^(exp - man_bits).

    A subnormal keeps its format's emin as exponent with a significand below 2^man_bits: this
    is the exponent the alignment uses (HARDWARE_NUMERICS section 1, step 3).
    """
    sign, exp, sig, cls = fmt.unpack_code(code)
    if cls == CLASS_NAN:
        return _NAN, sign, exp, sig, fmt.man_bits
    if cls == CLASS_INF:
        return _INF, sign, exp, sig, fmt.man_bits
    if cls == CLASS_ZERO or (flush and cls == CLASS_SUBNORMAL):
        return _ZERO, sign, exp, 0, fmt.man_bits
    return _FINITE, sign, exp, sig, fmt.man_bits


def _scale_factor(fmt: Format, code: int):
    """A block scale as a factor (E8M0: 2^(code-127), no significand bits; 0xFF is NaN)."""
    kind, _, exp, sig, man = _factor(fmt, code, False)
    return kind, 0, exp, sig, man


def _register_term(fmt: Format, code: int, cfg: AccumConfig, flush: bool) -> Term:
    """C (or a step's rounded result) as a term: it aligns by its own exponent."""
    kind, sign, exp, sig, man = _factor(fmt, code, flush)
    if kind == _ZERO:
        return Term(_ZERO, sign, 0, 0, cfg.align_floor)
    return Term(kind, sign, sig, exp - man, exp)


# ---------------------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------------------
def _product(factors, cfg: AccumConfig, rand: _Rand):
    """The exact product of an element pair and its scales as a Term, and flags.

    1. NaN in, or Inf times zero: NaN (the latter raises INVALID).
    2. Inf times finite: Inf with the product's sign.
    3. Zero: a zero term whose alignment exponent is the sum of the factors' exponents, a
       zero factor counting as the floor (NVIDIA: -126) - or no part in it without a floor.
    4. Finite: significands multiply exactly (an FP8 product keeps both integer bits, so its
       significand lies in [0, 4)); the alignment exponent is the sum of the factors' own
       exponents ('operands'), or floor(log2 |p|) ('value').
    5. product_format: the product is first rounded into that format (round_pack), and then
       aligns by its own exponent.
    """
    kinds = [f[0] for f in factors]
    sign = factors[0][1] ^ factors[1][1]
    if _NAN in kinds:
        return Term(_NAN, 0, 0, 0, None), 0
    if _INF in kinds:
        if _ZERO in kinds:
            return Term(_NAN, 0, 0, 0, None), int(Flag.INVALID)
        return Term(_INF, sign, 0, 0, None), 0
    if _ZERO in kinds:
        floor = cfg.align_floor
        if floor is None:
            return Term(_ZERO, sign, 0, 0, None), 0
        align = sum(floor if f[0] == _ZERO else f[2] for f in factors)
        return Term(_ZERO, sign, 0, 0, align), 0
    sig, lsb, align = 1, 0, 0
    for _, _, exp, fsig, man in factors:
        sig *= fsig
        lsb += exp - man
        align += exp
    if cfg.product_exponent == "value":
        align = sig.bit_length() - 1 + lsb
    if cfg.product_format is None:
        return Term(_FINITE, sign, sig, lsb, align), 0
    pf = cfg.product_format
    mode = cfg.product_rounding
    code, flags = _round(pf, sign, sig, lsb, mode, cfg, rand)
    return _register_term(pf, code, cfg, False), flags


# ---------------------------------------------------------------------------------------
# The fused multi-term add of one step
# ---------------------------------------------------------------------------------------
def _cut(term: Term, q: int, how: str):
    """The term as a signed integer multiple of 2^q, and whether bits were dropped.

    The alignment shifter keeps the bits down to weight 2^q = 2^(E-F); what happens to the
    bits below it is the unit's `dropped` policy.
    """
    shift = term.lsb - q
    if shift >= 0:
        mag = term.sig << shift
        return (-mag if term.sign else mag), False
    sh = -shift
    mag, rem = term.sig >> sh, term.sig & ((1 << sh) - 1)
    if rem:
        if how == "floor" and term.sign:  # two's-complement shift: toward -Inf
            mag += 1
        elif how == "sticky":  # the OR of the dropped bits lands in the last kept bit
            mag |= 1
        elif how == "nearest":
            half = 1 << (sh - 1)
            if rem > half or (rem == half and mag & 1):
                mag += 1
    return (-mag if term.sign else mag), rem != 0


def _aligned_sum(terms: Sequence[Term], E: int, cfg: AccumConfig):
    """(sum, q, inexact): the exact sum of the terms cut to multiples of 2^q, q = E - F.

    With F unbounded nothing is cut: q is the smallest lsb. carry_bits limits the adder to
    magnitudes below 2^(E+1+carry_bits); beyond that it wraps as a two's-complement register.
    """
    live = [t for t in terms if t.kind == _FINITE]
    if not live:
        return 0, 0, False
    if cfg.frac_bits is None:
        q = min(t.lsb for t in live)
    else:
        q = E - cfg.frac_bits
    total, inexact = 0, False
    for t in live:
        v, lost = _cut(t, q, cfg.dropped)
        total += v
        inexact |= lost
    if cfg.carry_bits is not None:
        width = cfg.frac_bits + 1 + cfg.carry_bits + 1  # magnitude bits + sign
        total = (total + (1 << (width - 1))) % (1 << width) - (1 << (width - 1))
    return total, q, inexact


def _alignment_exponent(terms: Sequence[Term]) -> int | None:
    aligns = [t.align for t in terms if t.kind in (_FINITE, _ZERO) and t.align is not None]
    return max(aligns) if aligns else None


def _fused_step(products: Sequence[Term], c: Term | None, fmt: Format, mode: Rounding,
                cfg: AccumConfig, rand: _Rand):
    """One step: products (and C) -> one rounded code of `fmt`, and flags.

    1. Specials: a NaN term gives NaN; +Inf and -Inf together give NaN (INVALID); otherwise
       an Inf gives Inf of its sign. Nothing else is looked at.
    2. The alignment exponent E: the largest over the terms ('max'), over the products and
       then again with C ('products_then_c'), or the fixed anchor ('anchor').
    3. Every term is cut to a multiple of 2^(E-F) (`dropped` decides the dropped bits).
    4. The kept terms add exactly (Python integers: as many carry bits as needed).
    5. The sum is normalised and rounded once into `fmt` by round_pack; a zero sum takes the
       sign the zero_sign policy gives.
    """
    terms = list(products) + ([c] if c is not None else [])
    # 1. Specials.
    kinds = {t.kind for t in terms}
    if _NAN in kinds:
        return _nan(fmt), 0
    infs = {t.sign for t in terms if t.kind == _INF}
    if len(infs) == 2:
        return _nan(fmt), int(Flag.INVALID)
    if infs:
        return fmt.pack(infs.pop(), fmt.inf_magnitude), 0
    # 2-4. Align, cut and add.
    if cfg.alignment == "anchor":
        total, q, inexact = _aligned_sum(terms, cfg.anchor_exp, cfg)
    elif cfg.alignment == "products_then_c" and c is not None:
        Ep = _alignment_exponent(products)
        s, qs, inexact = _aligned_sum(products, Ep if Ep is not None else 0, cfg)
        s_term = (Term(_FINITE, int(s < 0), abs(s), qs, Ep) if s else
                  Term(_ZERO, 0, 0, 0, Ep))
        pair = [s_term, c]
        total, q, lost = _aligned_sum(pair, _alignment_exponent(pair) or 0, cfg)
        inexact |= lost
    else:
        E = _alignment_exponent(terms)
        total, q, inexact = _aligned_sum(terms, E if E is not None else 0, cfg)
    flags = int(Flag.INEXACT) if inexact else 0
    # A cut that dropped bits of a result below the smallest normal underflows, even when
    # the final rounding itself is exact (IEEE: tiny and inexact).
    if inexact and (total == 0 or abs(total).bit_length() - 1 + q < fmt.emin):
        flags |= int(Flag.UNDERFLOW)
    # 5. Round once.
    if total == 0:
        return fmt.pack(_zero_sign(terms, mode, cfg), 0), flags
    code, fl = _round(fmt, int(total < 0), abs(total), q, mode, cfg, rand)
    return code, flags | fl


def _zero_sign(terms: Sequence[Term], mode: Rounding, cfg: AccumConfig) -> int:
    """Sign of a zero sum. 'ieee': -0 when every term is -0; +0 when every term is +0;
    otherwise (mixed zeros, or nonzero terms that cancel) +0, or -0 under rdn. 'positive':
    always +0."""
    if cfg.zero_sign == "positive":
        return 0
    vals = [t for t in terms if t.kind in (_ZERO, _FINITE)]
    if vals and all(t.kind == _ZERO and t.sign for t in vals):
        return 1
    if all(t.kind == _ZERO and not t.sign for t in vals):
        return 0
    return int(mode is Rounding.RDN)


def _nan(fmt: Format) -> int:
    return fmt.nan_code(0)


def _round(fmt: Format, sign: int, n: int, e2: int, mode: Rounding, cfg: AccumConfig,
           rand: _Rand):
    """Round (-1)^sign * n * 2^e2 (n > 0) into fmt with the config's overflow and subnormal
    policies. round_pack decides the rounding; the policies only replace its result."""
    ovf = Overflow.SATURATE if cfg.overflow == "saturate" else Overflow.INF
    r = rand.next() if mode is Rounding.SR else 0
    code, flags = round_pack(fmt, sign, n, 1, e2, mode, ovf, r, cfg.sr_bits)
    if flags & Flag.OVERFLOW and cfg.overflow == "inf":
        # NVIDIA: a finite overflow is Inf even when the mode rounds toward zero.
        code = fmt.pack(sign, fmt.inf_magnitude)
    if cfg.output_subnormals == "flush":
        _, _, sig, cls = fmt.unpack_code(code)
        if cls == CLASS_SUBNORMAL:
            code, flags = fmt.pack(sign, 0), flags | int(Flag.UNDERFLOW | Flag.INEXACT)
    return code, flags


# ---------------------------------------------------------------------------------------
# Steps, instructions and the chain along K
# ---------------------------------------------------------------------------------------
_PAD = Term("pad", 0, 0, 0, None)  # padding of a short last instruction: no part in anything


def _split(products: list, cfg: AccumConfig) -> list:
    """The products of one instruction grouped into its steps (k_split)."""
    k = len(products)
    t = cfg.terms_per_step or k
    if cfg.k_split == "interleaved":
        n = k // t
        g = cfg.interleave
        return [[p for i, p in enumerate(products) if (i // g) % n == s] for s in range(n)]
    return [products[i:i + t] for i in range(0, k, t)]


def _block_sums(products: list, block: int, cfg: AccumConfig):
    """'scale_blocks': each block's products (already times the block's scales) summed
    exactly; a block sum aligns by its own leading exponent floor(log2 |sum|).
    Returns (terms, flags): +Inf and -Inf in one block make a NaN sum and raise INVALID,
    exactly as they do when they meet in a step."""
    out, flags = [], 0
    for i in range(0, len(products), block):
        blk = products[i:i + block]
        kinds = {t.kind for t in blk}
        infs = {t.sign for t in blk if t.kind == _INF}
        if _NAN in kinds or len(infs) == 2:
            if _NAN not in kinds:
                flags |= Flag.INVALID
            out.append(Term(_NAN, 0, 0, 0, None))
            continue
        if infs:
            out.append(Term(_INF, infs.pop(), 0, 0, None))
            continue
        fin = [t for t in blk if t.kind == _FINITE]
        if fin:
            q = min(t.lsb for t in fin)
            s = sum((t.sig << (t.lsb - q)) * (-1 if t.sign else 1) for t in fin)
        else:
            s, q = 0, 0
        if s == 0:
            zero_signs = {t.sign for t in blk if t.kind == _ZERO}
            sign = 1 if (not fin and zero_signs == {1}) else 0
            out.append(Term(_ZERO, sign, 0, 0, cfg.align_floor))
        else:
            out.append(Term(_FINITE, int(s < 0), abs(s), q, abs(s).bit_length() - 1 + q))
    return out, int(flags)


def _instruction(products: list, c_fmt: Format, c_code: int, cfg: AccumConfig, block: int,
                 rand: _Rand):
    """One instruction: (code in cfg.register, flags). C arrives as a code of c_fmt."""
    flush = cfg.input_subnormals == "flush"
    c = _register_term(c_fmt, c_code, cfg, flush)
    flags = 0
    if cfg.k_split == "scale_blocks":
        sums, flags = _block_sums(products, block, cfg)
        steps = [sums]
    else:
        steps = _split(products, cfg)
    out_fmt, out_mode = cfg.output_format, cfg.rounding
    step_fmt, step_mode = cfg.step_fmt, cfg.step_mode
    if cfg.c_entry == "inside":
        # 1. C is one more term of the first step; each step's rounded result is the next
        #    step's C; the last step rounds into the output format.
        acc = c
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            fmt, mode = (out_fmt, out_mode) if last else (step_fmt, step_mode)
            code, fl = _fused_step(step, acc, fmt, mode, cfg, rand)
            flags |= fl
            acc = _register_term(fmt, code, cfg, False)
    else:
        # 2. C after: the steps chain from +0 (the first step has no C term), each rounding
        #    into the step format; then C is added to that result exactly and the sum is
        #    rounded once into the output format (an FADD behind the tensor op).
        acc = None
        for step in steps:
            code, fl = _fused_step(step, acc, step_fmt, step_mode, cfg, rand)
            flags |= fl
            acc = _register_term(step_fmt, code, cfg, False)
        code, fl = _fused_step([acc], c, out_fmt, out_mode, _exact_add(cfg), rand)
        flags |= fl
        fmt = out_fmt
    return _to_register(fmt, code, cfg), flags


@lru_cache(maxsize=256)
def _exact_add(cfg: AccumConfig) -> AccumConfig:
    """The config of the add of C after the steps: exact alignment, same policies."""
    return cfg.replace(frac_bits=None, carry_bits=None, alignment="max", anchor_exp=None,
                       dropped="truncate")


def _to_register(fmt: Format, code: int, cfg: AccumConfig) -> int:
    """A code of the output format as the register's bits (exact widening; NaN pattern)."""
    reg = cfg.register
    sign, exp, sig, cls = fmt.unpack_code(code)
    if cls == CLASS_NAN:
        if cfg.nan == "all_ones":
            return (1 << (reg.bits - 1)) - 1
        return reg.nan_code(0)
    if reg is fmt or reg == fmt:
        return code
    if cls == CLASS_INF:
        return reg.pack(sign, reg.inf_magnitude)
    if cls == CLASS_ZERO:
        return reg.pack(sign, 0)
    out, flags = round_pack(reg, sign, sig, 1, exp - fmt.man_bits, Rounding.RNE, Overflow.INF)
    assert flags == 0, "register_format must hold the output format exactly"
    return out


# ---------------------------------------------------------------------------------------
# Public scalar API
# ---------------------------------------------------------------------------------------
def _per_element_scales(scale, k: int, name: str):
    """None, one scale code for all K, or one per block -> (list per element, block length)."""
    if scale is None:
        return None, None
    if isinstance(scale, (int, np.integer)):
        return [int(scale)] * k, None
    scale = [int(s) for s in scale]
    if not scale or k % len(scale):
        raise ValueError(f"{name}: {len(scale)} scale codes for K={k}; allowed: None, one code, "
                         "or one code per block (K a multiple of their number)")
    block = k // len(scale)
    return [scale[i // block] for i in range(k)], block


def _check_code(fmt: Format, code, name: str) -> int:
    if not isinstance(code, (int, np.integer)) or not 0 <= int(code) < fmt.num_codes:
        raise ValueError(f"{name}: {code!r} is not a {fmt.name} code; allowed 0.."
                         f"{fmt.num_codes - 1:#x}")
    return int(code)


def _check_codes(fmt: Format, codes, name: str) -> list:
    out, top = [], fmt.num_codes
    for c in codes:
        if not isinstance(c, (int, np.integer)) or not 0 <= c < top:
            _check_code(fmt, c, name)  # raises with the message
        out.append(int(c))
    return out


def dot(a_codes, b_codes, a_fmt, b_fmt, a_scale, b_scale, c_bits, config: AccumConfig, *,
        scale_fmt=E8M0, c_fmt=None, rand_bits=None):
    """One output element: D = sum_k a_k * b_k * scales + C, as `config`'s unit computes it.

    a_codes, b_codes: K element codes (ints) of a_fmt, b_fmt (any format: E4M3 ... FP32).
    a_scale, b_scale: None (scale 1: plain FP16/BF16/TF32/FP32/FP8 inputs), one scale code for
      all K, or one code per block (K // len = block length), of scale_fmt (E8M0; UE4M3 too).
    c_bits: the accumulator's bit pattern in c_fmt (default: config.register, e.g. FP32 bits).
    rand_bits: for 'sr' roundings, an int or one int per rounding of the chain.
    Returns (result bits in config.register, Flag bits).
    """
    # 1. Validate and decode every operand (ints in, nothing rounded on the way in).
    a_fmt, b_fmt, scale_fmt = get_format(a_fmt), get_format(b_fmt), get_format(scale_fmt)
    c_fmt = config.register if c_fmt is None else get_format(c_fmt)
    a_codes, b_codes = list(a_codes), list(b_codes)
    k = len(a_codes)
    if len(b_codes) != k:
        raise ValueError(f"a_codes has {k} codes but b_codes has {len(b_codes)}; they must match")
    a = _check_codes(a_fmt, a_codes, "a_codes")
    b = _check_codes(b_fmt, b_codes, "b_codes")
    c_code = _check_code(c_fmt, c_bits, "c_bits")
    sa, block_a = _per_element_scales(a_scale, k, "a_scale")
    sb, block_b = _per_element_scales(b_scale, k, "b_scale")
    for s in (sa or []) + (sb or []):
        _check_code(scale_fmt, s, "scale")
    block = config.block_terms or block_a or block_b
    if config.k_split == "scale_blocks":
        if block is None:
            raise ValueError("k_split='scale_blocks' needs block_terms in the config or "
                             "per-block scale codes")
        if block_a and block_b and block_a != block_b and not config.block_terms:
            raise ValueError(f"a_scale blocks of {block_a} and b_scale blocks of {block_b} "
                             "differ; set block_terms")
    return _dot(a, b, a_fmt, b_fmt, sa, sb, scale_fmt, c_code, c_fmt, config, block,
                _Rand(rand_bits))


def _dot(a, b, a_fmt, b_fmt, sa, sb, scale_fmt, c_code, c_fmt, cfg, block, rand):
    """The model proper: the numbered steps of docs/NUMERICS.md section 1."""
    flush = cfg.input_subnormals == "flush"
    k = len(a)
    # 1. Exact products (scales are exponent additions: exact).
    products, flags = [], 0
    for i in range(k):
        factors = [_factor(a_fmt, a[i], flush), _factor(b_fmt, b[i], flush)]
        if sa is not None:
            factors.append(_scale_factor(scale_fmt, sa[i]))
        if sb is not None:
            factors.append(_scale_factor(scale_fmt, sb[i]))
        p, fl = _product(factors, cfg, rand)
        products.append(p)
        flags |= fl
    # 2. Instructions along K; a short last one is padded with terms that take no part.
    ik = cfg.instruction_k or max(k, 1)
    if cfg.k_split == "scale_blocks" and cfg.instruction_k is None:
        ik = max(k, 1)
    code, fmt = c_code, c_fmt
    for start in range(0, max(k, 1), ik):
        chunk = products[start:start + ik]
        chunk += [_PAD] * (ik - len(chunk))
        # 3. One instruction: steps, each a fused add rounded once; its result is the next C.
        code, fl = _instruction(chunk, fmt, code, cfg, block, rand)
        fmt = cfg.register
        flags |= fl
    return code, flags


def dot_values(a_codes, b_codes, a_fmt, b_fmt, c_bits, config: AccumConfig, **kw):
    """`dot` without scales (plain FP16/BF16/TF32/FP32/FP8 operands)."""
    return dot(a_codes, b_codes, a_fmt, b_fmt, None, None, c_bits, config, **kw)


# ---------------------------------------------------------------------------------------
# GEMM
# ---------------------------------------------------------------------------------------
def _operand(x, name: str, k_axis: int):
    """(codes[..., K] with K last, Format, per-element scale codes or None, scale Format,
    block length, logical K) from an MXTensor or a (codes, format) pair."""
    from ..mxtensor import MXTensor
    if isinstance(x, MXTensor):
        if len(x.shape) != 2:
            raise ValueError(f"{name}: an MXTensor of 2 dimensions is needed, got shape {x.shape}")
        if x.axis != k_axis:
            raise ValueError(f"{name}: its blocks run along axis {x.axis}; the K axis of "
                             f"{name} is {k_axis} (quantize it with axis={k_axis})")
        if x.tensor_scale is not None:
            raise ValueError(f"{name}: has an NVFP4 tensor_scale; a tensor unit does not apply "
                             "it (multiply the result in the epilogue): pass "
                             "dataclasses.replace(tensor, tensor_scale=None)")
        codes = np.asarray(x.codes)
        scales = np.repeat(np.asarray(x.scales), x.block_size, axis=x.axis)
        if k_axis == 0:
            codes, scales = codes.T, scales.T
        return codes, x.elem, scales, x.scale_fmt, x.block_size, x.shape[k_axis]
    if isinstance(x, tuple) and len(x) == 2:
        codes, fmt = np.asarray(x[0]), get_format(x[1])
        if codes.ndim != 2:
            raise ValueError(f"{name}: codes of 2 dimensions are needed, got shape {codes.shape}")
        if k_axis == 0:
            codes = codes.T
        return codes, fmt, None, None, None, codes.shape[1]
    raise TypeError(f"{name} must be an MXTensor or a (codes, format) pair")


class GemmInputs(NamedTuple):
    """A GEMM's operands, validated once for every implementation (reference, fast, native).

    ac/bc: element codes (M x Kp, N x Kp), asc/bsc: their scale codes or None, ablk/bblk:
    block lengths; sfmt the scale format; C: M x N int64 codes of cf, range-checked."""

    ac: np.ndarray
    afmt: Format
    asc: object
    asfmt: object
    ablk: object
    bc: np.ndarray
    bfmt: Format
    bsc: object
    bsfmt: object
    bblk: object
    sfmt: Format
    m: int
    n: int
    k: int
    reg: Format
    cf: Format
    C: np.ndarray
    block: object


def check_code_array(codes: np.ndarray, fmt: Format, name: str):
    """Every code of an integer array lies in 0 .. fmt.num_codes - 1 (else ValueError)."""
    if codes.size == 0:
        return
    if codes.dtype.kind not in "uib":
        raise ValueError(f"{name}: codes must be integers, got dtype {codes.dtype}")
    lo, hi = int(codes.min()), int(codes.max())
    if lo < 0 or hi >= fmt.num_codes:
        bad = lo if lo < 0 else hi
        raise ValueError(f"{name}: {bad!r} is not a {fmt.name} code; allowed 0.."
                         f"{fmt.num_codes - 1:#x}")


def gemm_inputs(A, B, C, config: AccumConfig, c_fmt=None) -> GemmInputs:
    """Validate and unpack the operands of `gemm` (shared by every implementation)."""
    ac, afmt, asc, asfmt, ablk, ka = _operand(A, "A", 1)
    bc, bfmt, bsc, bsfmt, bblk, kb = _operand(B, "B", 0)
    if ka != kb:
        raise ValueError(f"A has K={ka} but B has K={kb}; they must match")
    if ac.shape[1] != bc.shape[1]:
        raise ValueError(f"A and B are padded to different K ({ac.shape[1]} vs {bc.shape[1]}): "
                         "quantize them with the same block size")
    if asfmt is not None and bsfmt is not None and asfmt != bsfmt:
        raise ValueError(f"A's scales are {asfmt.name} but B's are {bsfmt.name}; they must match")
    sfmt = asfmt or bsfmt or E8M0
    m, n, k = ac.shape[0], bc.shape[0], ac.shape[1]
    reg = config.register
    cf = reg if c_fmt is None else get_format(c_fmt)
    cin = np.zeros((m, n), dtype=np.int64) if C is None else np.asarray(C)
    if cin.shape != (m, n):
        raise ValueError(f"C has shape {cin.shape}; allowed: None or ({m}, {n})")
    if config.k_split == "scale_blocks" and config.block_terms is None and ablk != bblk:
        raise ValueError("k_split='scale_blocks' needs A and B with the same block size")
    block = config.block_terms or ablk or bblk
    if config.k_split == "scale_blocks" and block is None:
        raise ValueError("k_split='scale_blocks' needs block-scaled operands or block_terms")
    if C is None:
        pass  # +0 everywhere: code 0 in every format (np.zeros touches no memory until read)
    elif cin.dtype.kind in "uib":
        check_code_array(cin, cf, "C")
        cin = cin.astype(np.int64)
    else:  # e.g. Python ints in an object array
        cin = np.array([_check_code(cf, x, "C") for x in cin.reshape(-1).tolist()],
                       dtype=np.int64).reshape(m, n)
    check_code_array(ac, afmt, "A")
    check_code_array(bc, bfmt, "B")
    return GemmInputs(ac, afmt, asc, asfmt, ablk, bc, bfmt, bsc, bsfmt, bblk, sfmt, m, n, k,
                      reg, cf, cin, block)


def gemm(A, B, C, config: AccumConfig, *, c_fmt=None, rand_bits=None):
    """D = A @ B + C for A (M x K) and B (K x N), each an MXTensor (blocks along K) or a
    (codes, Format) pair for unscaled inputs; C: M x N bit patterns of c_fmt (default the
    config's register format) or None for +0. Returns (D bits M x N, flags M x N, uint8).

    Each output element is `dot` over the whole K: instructions of config.instruction_k chain
    along K, the rounded result of one being the C of the next. rand_bits: an M x N array of
    ints (one per element, reused for each rounding) or M x N x R (R per element).
    """
    g = gemm_inputs(A, B, C, config, c_fmt)
    out = np.zeros((g.m, g.n), dtype=g.reg.code_dtype)
    flags = np.zeros((g.m, g.n), dtype=np.uint8)
    al, bl, cl = g.ac.tolist(), g.bc.tolist(), g.C.tolist()
    asl = g.asc.tolist() if g.asc is not None else None
    bsl = g.bsc.tolist() if g.bsc is not None else None
    rb = None if rand_bits is None else np.asarray(rand_bits)
    for i in range(g.m):
        for j in range(g.n):
            r = None if rb is None else (int(rb[i, j]) if rb.ndim == 2 else list(rb[i, j]))
            code, fl = _dot(al[i], bl[j], g.afmt, g.bfmt, asl[i] if asl else None,
                            bsl[j] if bsl else None, g.sfmt, cl[i][j], g.cf, config,
                            g.block, _Rand(r))
            out[i, j], flags[i, j] = code, fl
    return out, flags
