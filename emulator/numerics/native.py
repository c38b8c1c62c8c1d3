"""The C kernel of the accumulation model (native/src/dot.c) behind the API of `reference.gemm`.

`gemm_native(A, B, C, config, *, c_fmt=None, rand_bits=None, threads=None)` takes and returns
exactly what `reference.gemm` does (D bits in the config's register format, flags), bit for
bit. The C kernel splits output rows across `threads` POSIX threads (None: the environment
variable MXEMU_THREADS, else every core); the result does not depend on the thread count.

The C kernel models every valid config (AccumConfig bounds its integer knobs to the C config's
ranges; operand significands of any width, products over 64 bits included). A missing native
module falls back to `emulator.numerics.fast.gemm_fast`, with a `NativeFallbackWarning` saying
why, as do the calls the C ABI cannot carry (scales of more than 8 bits, e.g. FP32 "scales")
and rand_bits that the numpy path reports on (missing, not uint32 words per output);
`native_supported(config)` tells beforehand, and `last_backend()` which path ran last.
"""
from __future__ import annotations

import warnings

import numpy as np

from . import fast as _fast
from . import reference as _ref
from ..rounding import Rounding
from .config import AccumConfig

try:
    from .. import _native
    _HAVE = hasattr(_native, "_gemm")
except ImportError:  # pragma: no cover - the pure-Python install
    _native, _HAVE = None, False

__all__ = ["gemm_native", "native_supported", "config_to_native", "NativeFallbackWarning",
           "last_backend", "available"]

_KSPLIT = {"sequential": 0, "interleaved": 1, "scale_blocks": 2}
_ALIGN = {"max": 0, "products_then_c": 1, "anchor": 2}
_DROPPED = {"truncate": 0, "floor": 1, "sticky": 2, "nearest": 3}
_state = {"last": None}


class NativeFallbackWarning(UserWarning):
    """gemm_native ran the numpy path: no native module, or arguments its C ABI cannot carry."""


def available() -> bool:
    """True when the native module with the GEMM kernel imports."""
    return _HAVE


def last_backend():
    """'native' or 'fast': the path the last gemm_native call took (None before any)."""
    return _state["last"]


def _why_unsupported(cfg: AccumConfig):
    """Why the C kernel cannot run cfg, or None. Every valid AccumConfig fits the C config
    (config.py bounds the knobs to its ranges), so only a missing module is a reason."""
    if not _HAVE:
        return "the native module emulator._native (with _gemm) is not available"
    return None


def native_supported(config: AccumConfig) -> bool:
    """True when gemm_native runs `config` in C (False: it falls back to gemm_fast)."""
    return _why_unsupported(config) is None


def config_to_native(cfg: AccumConfig) -> dict:
    """The AccumConfig as the dict of ints and format tuples the binding takes."""
    none0 = lambda v: 0 if v is None else int(v)  # noqa: E731
    none_1 = lambda v: -1 if v is None else int(v)  # noqa: E731
    return {
        "instruction_k": none0(cfg.instruction_k),
        "terms_per_step": none0(cfg.terms_per_step),
        "k_split": _KSPLIT[cfg.k_split],
        "interleave": int(cfg.interleave),
        "block_terms": none0(cfg.block_terms),
        "has_product_format": int(cfg.product_format is not None),
        "product_format": cfg.product_format.params if cfg.product_format else None,
        "product_rounding": int(cfg.product_rounding),
        "product_exponent": 0 if cfg.product_exponent == "operands" else 1,
        "alignment": _ALIGN[cfg.alignment],
        "anchor_exp": none0(cfg.anchor_exp),
        "has_align_floor": int(cfg.align_floor is not None),
        "align_floor": none0(cfg.align_floor),
        "frac_bits": none_1(cfg.frac_bits),
        "carry_bits": none_1(cfg.carry_bits),
        "dropped": _DROPPED[cfg.dropped],
        "c_entry": 0 if cfg.c_entry == "inside" else 1,
        "output_format": cfg.output_format.params,
        "register_format": cfg.register.params,
        "rounding": int(cfg.rounding),
        "has_step_format": int(cfg.step_format is not None),
        "step_format": cfg.step_format.params if cfg.step_format else None,
        "step_rounding": none_1(None if cfg.step_rounding is None else int(cfg.step_rounding)),
        "sr_bits": int(cfg.sr_bits),
        "input_subnormals": 0 if cfg.input_subnormals == "keep" else 1,
        "output_subnormals": 0 if cfg.output_subnormals == "keep" else 1,
        "nan": 0 if cfg.nan == "canonical" else 1,
        "overflow": {"inf": 0, "ieee": 1, "saturate": 2}[cfg.overflow],
        "zero_sign": 0 if cfg.zero_sign == "ieee" else 1,
    }


def _block_scales(x, k_axis: int):
    """(per-block scale codes with K last, block length) of an MXTensor, else (None, 0)."""
    from ..mxtensor import MXTensor
    if not isinstance(x, MXTensor):
        return None, 0
    s = np.asarray(x.scales)
    if k_axis == 0:
        s = s.T
    return np.ascontiguousarray(s, dtype=np.uint8), int(x.block_size)


def _threads(threads) -> int:
    if threads is None:
        return 0
    if (not isinstance(threads, (int, np.integer)) or isinstance(threads, bool)
            or not 1 <= int(threads) <= 4096):
        raise ValueError(f"threads={threads!r}; allowed: None (MXEMU_THREADS or every core) "
                         "or an int in 1..4096")
    return int(threads)


def _fallback(A, B, C, config, c_fmt, rand_bits, why):
    warnings.warn(f"gemm_native: {why}; running emulator.numerics.fast.gemm_fast instead",
                  NativeFallbackWarning, stacklevel=3)
    _state["last"] = "fast"
    return _fast.gemm_fast(A, B, C, config, c_fmt=c_fmt, rand_bits=rand_bits)


def _uses_sr(cfg: AccumConfig) -> bool:
    modes = [cfg.rounding, cfg.step_mode] + ([cfg.product_rounding] if cfg.product_format else [])
    return any(m is Rounding.SR for m in modes)


def _rand_words(rand_bits, cfg: AccumConfig, lead: tuple):
    """(uint32 words for the C kernel or None, None) or (None, why not): one word per output
    (shape `lead`) or R per output (`lead` + (R,)). Anything else goes to the numpy path, which
    then reports it exactly as the reference does."""
    if not _uses_sr(cfg):
        return None, None
    if rand_bits is None:  # the numpy path raises where (and only if) a rounding needs one
        return None, "stochastic rounding without rand_bits"
    rb = np.asarray(rand_bits)
    if rb.ndim == 0 and len(lead) == 1:  # dot_batch: one int for every rounding
        rb = np.full(lead, rb)
    if (rb.dtype.kind not in "iu" or rb.ndim not in (len(lead), len(lead) + 1)
            or rb.shape[:len(lead)] != lead
            or (rb.size and (int(rb.min()) < 0 or int(rb.max()) >= 1 << 32))):
        return None, "rand_bits not one or R uint32 words per output"
    if rb.ndim == len(lead) + 1 and rb.shape[-1] == 0:  # the C ABI's R = 0 means one word
        return None, "rand_bits with no words per output"
    return np.ascontiguousarray(rb, dtype=np.uint32), None


def _gemm_c(A, B, C, config: AccumConfig, c_fmt, rand_bits, threads):
    """(bits, flags) from the C kernel, or a string saying why it does not run the call."""
    if not isinstance(config, AccumConfig):
        raise ValueError(f"config must be an AccumConfig, got {type(config).__name__}")
    nth = _threads(threads)
    g = _ref.gemm_inputs(A, B, C, config, c_fmt)
    ac, afmt, bc, bfmt, sfmt = g.ac, g.afmt, g.bc, g.bfmt, g.sfmt
    m, n, reg, cf, Cin, block = g.m, g.n, g.reg, g.cf, g.C, g.block
    if m == 0 or n == 0:
        return np.zeros((m, n), dtype=reg.code_dtype), np.zeros((m, n), dtype=np.uint8)
    why = _why_unsupported(config)
    rnd, why_r = _rand_words(rand_bits, config, (m, n))
    if why or why_r:
        return why or why_r
    a_s, a_blk = _block_scales(A, 1)
    b_s, b_blk = _block_scales(B, 0)
    if (a_s is not None or b_s is not None) and sfmt.bits > 8:
        return f"scales of {sfmt.name} (the C ABI takes scale codes of at most 8 bits)"
    cfgd = config_to_native(config)
    if config.k_split == "scale_blocks" and not config.block_terms:
        cfgd["block_terms"] = int(block)
    d, fl = _native._gemm(
        cfgd, afmt.params, np.ascontiguousarray(ac, dtype=np.uint32), bfmt.params,
        np.ascontiguousarray(bc, dtype=np.uint32), sfmt.params, a_s, a_blk, b_s, b_blk,
        cf.params, None if C is None else np.ascontiguousarray(Cin, dtype=np.uint32), nth, rnd)
    return d.astype(reg.code_dtype, copy=False), fl


def gemm_native(A, B, C, config: AccumConfig, *, c_fmt=None, rand_bits=None, threads=None):
    """D = A @ B + C, bit for bit as `reference.gemm` (same arguments and results), in C.

    threads: None (MXEMU_THREADS, else every core) or the number of threads to split the
    output rows across; the result is the same for any value. A call the C kernel does not
    model runs `gemm_fast` instead, with a NativeFallbackWarning."""
    res = _gemm_c(A, B, C, config, c_fmt, rand_bits, threads)
    if isinstance(res, str):
        return _fallback(A, B, C, config, c_fmt, rand_bits, res)
    _state["last"] = "native"
    return res


def _per_block_scales(scale, p: int, k: int):
    """A dot_batch scale argument (None, one code, (P,), or (P, nb)) as (P x nb uint8 codes,
    block length) for the C kernel; (None, 0) without scales."""
    if scale is None:
        return None, 0
    arr = np.asarray(scale)
    if arr.ndim == 0:
        arr = np.full((p, 1), int(arr))
    elif arr.ndim == 1:
        arr = arr.reshape(p, 1)
    return np.ascontiguousarray(arr, dtype=np.uint8), k // arr.shape[1]


def dot_batch_native(a, b, a_fmt, b_fmt, a_scale, b_scale, c, c_fmt, config: AccumConfig,
                     scale_fmt, block, rand_bits=None, threads=None):
    """`fast.dot_batch` in C on arguments it has already validated (P x K codes, scales as
    dot_batch takes them, P C codes of c_fmt, the scale-block length it derived); returns
    (bits, flags), or None when the C kernel does not model the call (the caller then runs
    its own path)."""
    p, k = a.shape
    rnd, why_r = _rand_words(rand_bits, config, (p,))
    if k == 0:  # no products: the scales scale nothing (the reference reads none of them)
        a_scale = b_scale = None
    if (_why_unsupported(config) is not None or why_r
            or (scale_fmt.bits > 8 and (a_scale is not None or b_scale is not None))):
        return None
    a_s, a_blk = _per_block_scales(a_scale, p, k)
    b_s, b_blk = _per_block_scales(b_scale, p, k)
    cfgd = config_to_native(config)
    if config.k_split == "scale_blocks":
        cfgd["block_terms"] = max(int(block), 1)  # K = 0: one empty block
    d, fl = _native._dot_batch(
        cfgd, a_fmt.params, np.ascontiguousarray(a, dtype=np.uint32), b_fmt.params,
        np.ascontiguousarray(b, dtype=np.uint32), scale_fmt.params, a_s, a_blk, b_s, b_blk,
        c_fmt.params, np.ascontiguousarray(c, dtype=np.uint32), _threads(threads), rnd)
    _state["last"] = "native"
    return d.astype(config.register.code_dtype, copy=False), fl


def use_native(config: AccumConfig) -> bool:
    """True when the native backend is active (emulator._backend, the one switch) and the C
    kernel models `config`: gemm_auto and dot_batch then run in C."""
    from .. import _backend
    return _backend.current() == "native" and _why_unsupported(config) is None


def config_c_calls(cfg: AccumConfig, var: str = "cfg", status: str = "st") -> str:
    """C (and SystemVerilog DPI-C) statements that build `cfg` through the handle API of
    mxemu.h: `var = mxemu_config_new();` then one setter per knob, each adding its status to
    `status` (0 when every call succeeded: errors are negative)."""
    from ..formats import FORMATS
    from .presets import E8M13
    named = {f.params: n for n, f in FORMATS.items()}
    named.setdefault(E8M13.params, "e8m13")
    lines = [f"{var} = mxemu_config_new();"]
    for key, val in config_to_native(cfg).items():
        if key in ("has_product_format", "has_step_format") or val is None:
            continue
        if isinstance(val, tuple):
            fmt = (f'mxemu_format_named("{named[val]}")' if val in named else
                   "mxemu_format_new({})".format(", ".join(map(str, val))))
            lines.append(f'{status} += mxemu_config_set_format({var}, "{key}", {fmt});')
        else:
            lines.append(f'{status} += mxemu_config_set({var}, "{key}", {val});')
    return "\n".join(lines) + "\n"

