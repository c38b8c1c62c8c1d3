"""Single-knob neighbours of an AccumConfig: the configs a golden set must tell apart.

A unit's RTL that gets one knob wrong (F off by one, the wrong rounding mode, C added after
instead of inside the fused sum, steps of the wrong width, subnormals flushed or kept, the
wrong overflow or NaN policy) computes its config's neighbour. `neighbours(config, k)` lists
them; adequacy (golden/README.md) checks that every shipped file has a case each of them
gets wrong, and `--diagnose` re-runs failing cases under them.
"""
from __future__ import annotations

import math
from typing import NamedTuple

from ..numerics import AccumConfig
from ..rounding import Rounding

ROUNDINGS = ("rne", "rna", "rtz", "rup", "rdn", "rto")  # 'sr' needs random bits: not varied
_NEAREST = (Rounding.RNE, Rounding.RNA)


class Neighbour(NamedTuple):
    """label: what changed ('frac_bits=24'); config: the neighbour, or None when it does not
    exist ('n/a') or computes the same function ('equivalent'); note: why."""

    label: str
    knob: str
    config: AccumConfig | None
    status: str  # 'ok', 'n/a' or 'equivalent'
    note: str = ""


def _try(label, knob, cfg, **change):
    try:
        return Neighbour(label, knob, cfg.replace(**change), "ok")
    except ValueError as exc:
        return Neighbour(label, knob, None, "n/a", str(exc))


def _nearest_only(cfg: AccumConfig) -> bool:
    modes = [cfg.rounding, cfg.step_mode]
    if cfg.product_format is not None:
        modes.append(cfg.product_rounding)
    return all(m in _NEAREST for m in modes)


def _sig_bits(fmt) -> int:
    return fmt.man_bits + 1 if fmt.kind == "int" or fmt.man_bits else 1


def _min_lsb(fmt) -> int:
    """Exponent of the smallest nonzero value's last significand bit."""
    return -fmt.man_bits if fmt.kind == "int" else fmt.emin - fmt.man_bits


def _log2_max_product(a, b, s) -> float:
    return (math.log2(a.max_normal) + math.log2(b.max_normal)
            + (2 * math.log2(s.max_normal) if s is not None else 0))


def overflow_reachable(cfg: AccumConfig, k: int, a, b, s) -> bool:
    """False when no input makes any rounding of the config overflow a finite value, so
    every overflow policy computes the same function. Every rounding's exact input is at
    most the largest C (the register's or a step result's largest value) plus twice the
    products of one instruction at their largest magnitude (twice: an earlier step's
    rounding may have grown them by up to one ulp each), plus one unit of 2^(E-F) per term
    when dropped bits may round away from zero. It must stay below the overflow threshold
    of the rounding: 2^(emax+1) toward zero, max + ulp/2 to nearest, max when directed."""
    if cfg.product_format is not None:
        return True
    terms = cfg.instruction_k or k
    lp = _log2_max_product(a, b, s) + math.log2(2 * terms)
    if lp > 900:
        return True
    for fmt, mode in ((cfg.output_format, cfg.rounding), (cfg.step_fmt, cfg.step_mode)):
        total = max(cfg.register.max_normal, cfg.step_fmt.max_normal) + 2.0 ** lp
        if cfg.frac_bits is not None and cfg.dropped in ("floor", "nearest", "sticky"):
            total += (terms + 1) * 2.0 ** (fmt.emax + 2 - cfg.frac_bits)
        ulp = 2.0 ** (fmt.emax - fmt.man_bits)
        if mode in (Rounding.RTZ, Rounding.RTO):
            limit = fmt.max_normal + ulp
        elif mode in _NEAREST:
            limit = fmt.max_normal + ulp / 2
        else:
            limit = fmt.max_normal
        if total >= limit or not math.isfinite(total):
            return True
    return False


def products_exact_in_steps(cfg: AccumConfig, a, b, s) -> bool:
    """True when every product a * b * scales is exactly a value of the step format (so
    a one-product step from +0 rounds nothing)."""
    f = cfg.step_fmt
    sig = _sig_bits(a) + _sig_bits(b) + (2 * _sig_bits(s) if s is not None else 0)
    lsb = _min_lsb(a) + _min_lsb(b) + (2 * _min_lsb(s) if s is not None else 0)
    return (sig <= f.man_bits + 1 and lsb >= f.emin - f.man_bits
            and _log2_max_product(a, b, s) < math.log2(f.max_normal))


def neighbours(cfg: AccumConfig, k: int, operands=None) -> list:
    """Every single-knob neighbour of `cfg` for dots of length k, in a fixed order.

    operands: (a_fmt, b_fmt, scale_fmt or None), when known, lets two neighbours be
    recognised as computing the config's own function ('equivalent', with the proof in
    the note): overflow policies when no overflow is reachable, and C after instead of
    inside for one-product steps with exact alignment whose products are exact."""
    out = []
    # 1. F plus or minus one.
    f = cfg.frac_bits
    for d in (-1, 1):
        label = f"frac_bits={'F' if f is None else f + d}"
        if f is None:
            out.append(Neighbour(f"frac_bits {'-' if d < 0 else '+'}1", "frac_bits", None,
                                 "n/a", "F is unbounded (exact alignment)"))
        elif f + d < 0:
            out.append(Neighbour(label, "frac_bits", None, "n/a", "F would be negative"))
        else:
            out.append(_try(label, "frac_bits", cfg, frac_bits=f + d))
    # 2. Every other rounding mode of the result.
    for r in ROUNDINGS:
        if Rounding[r.upper()] is not cfg.rounding:
            out.append(_try(f"rounding={r}", "rounding", cfg, rounding=r))
    # 3. C inside the fused sum vs added after it.
    other = "after" if cfg.c_entry == "inside" else "inside"
    if (operands and (cfg.terms_per_step or cfg.instruction_k or k) == 1
            and cfg.frac_bits is None and cfg.alignment == "max"
            and products_exact_in_steps(cfg, *operands)):
        out.append(Neighbour(f"c_entry={other}", "c_entry", None, "equivalent",
                             "one exact product per step and an exact add: C inside the "
                             "fused add or after it gives the same single rounding"))
    else:
        out.append(_try(f"c_entry={other}", "c_entry", cfg, c_entry=other))
    # 4. Terms per step halved and doubled (None: the whole instruction, or the whole K).
    whole = cfg.instruction_k or k
    t = cfg.terms_per_step or whole
    if cfg.k_split == "scale_blocks":
        for lab in ("terms_per_step halved", "terms_per_step doubled"):
            out.append(Neighbour(lab, "terms_per_step", None, "n/a",
                                 "k_split='scale_blocks' fuses the whole instruction"))
    else:
        if t % 2 or t < 2:
            out.append(Neighbour(f"terms_per_step={t / 2:g}", "terms_per_step", None, "n/a",
                                 f"{t} terms cannot be halved"))
        else:
            out.append(_try(f"terms_per_step={t // 2}", "terms_per_step", cfg,
                            terms_per_step=t // 2))
        if 2 * t > whole:
            out.append(Neighbour(f"terms_per_step={2 * t}", "terms_per_step", None, "n/a",
                                 f"a step already fuses the whole instruction ({whole})"))
        else:
            out.append(_try(f"terms_per_step={2 * t}", "terms_per_step", cfg,
                            terms_per_step=2 * t))
    # 5. Subnormal flushing of the inputs and of the results, on/off.
    for knob in ("input_subnormals", "output_subnormals"):
        v = "keep" if getattr(cfg, knob) == "flush" else "flush"
        out.append(_try(f"{knob}={v}", knob, cfg, **{knob: v}))
    # 6. Every other overflow policy. 'inf' and 'ieee' differ only when a rounding toward
    #    zero meets an overflow; with nearest roundings only, both give Inf: one function.
    reachable = operands is None or overflow_reachable(cfg, k, *operands)
    for v in ("inf", "ieee", "saturate"):
        if v == cfg.overflow:
            continue
        if not reachable:
            out.append(Neighbour(f"overflow={v}", "overflow", None, "equivalent",
                                 "no finite overflow is reachable: |C| + terms * "
                                 "max|a*b*scales| stays below every rounding's threshold"))
        elif {v, cfg.overflow} == {"inf", "ieee"} and _nearest_only(cfg):
            out.append(Neighbour(f"overflow={v}", "overflow", None, "equivalent",
                                 "every rounding is to nearest, where 'inf' and 'ieee' both "
                                 "give Inf"))
        else:
            out.append(_try(f"overflow={v}", "overflow", cfg, overflow=v))
    # 7. The NaN pattern.
    v = "canonical" if cfg.nan == "all_ones" else "all_ones"
    out.append(_try(f"nan={v}", "nan", cfg, nan=v))
    return out
