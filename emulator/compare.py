"""Accuracy report: run an FP32 matrix pair through quantization + accumulation schemes and
say where the error comes from. docs/ACCURACY.md is the user's guide to this module.

`compare(a, b, schemes) -> Report` takes a (M x K) and b (K x N), FP32 (or anything that
converts exactly / by one RNE to FP32), and a list of schemes: names resolved by
`emulator.numerics.schemes.get_scheme`, or any object with `name`, `quantize(a, b) -> (A, B)`,
`dequantized(A, B) -> (float64 M x K, float64 K x N)` and `gemm(A, B) -> (FP32 bits uint32
M x N, flags uint8 M x N)` (docs/SCHEMES.md).

For every scheme, with ref = a @ b (the inputs as given) and qref = Aq @ Bq (the exactly
dequantized quantized inputs), both summed exactly (`exact_matmul`) and rounded once to FP64,
and D the unit's FP32 result:

  total error          E = D - ref
  quantization error   Q = qref - ref     (what the formats alone cost: exact accumulation)
  accumulation error   C = D - qref       (what the unit's accumulation costs on the same
                                           quantized inputs)

E = Q + C exactly in real arithmetic, so |E| <= |Q| + |C| per element and in any norm; the
float64 differences are each rounded once (relative error 2^-53), far below every error
reported. Metrics (each for E, Q and C):

  rel_fro       ||X||_F / ||ref||_F
  max_rel       max_ij |X_ij| / max_ij |ref_ij|          (normwise: never divides by ~0)
  max_rel_elem  max_ij |X_ij| / |ref_ij| over the elements with |ref_ij| >= rel_floor *
                rms(ref) (default rel_floor = 0.1; elements nearer zero are left out, since
                cancellation makes their relative error unbounded)
  ulps          |X_ij| / ulp_FP32(ref_ij), with ulp_FP32(r) = 2^(max(floor(log2|r|), -126)
                - 23); histogram over ULP_EDGES.

Synthetic inputs (`generate`) mimic LLM GEMM operands: 'gaussian' (activations N(0, 1),
weights N(0, 0.02^2)), 'heavy' (Student-t with 3 degrees of freedom, both operands), and
'outliers' (Gaussian activations whose few outlier channels - columns of a along K - are
scaled by 100), all from numpy's default_rng(seed).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

__all__ = ["compare", "Report", "SchemeResult", "generate", "GENERATORS", "exact_matmul",
           "load_pair", "resolve_scheme", "error_vs_k", "plot_report", "plot_error_vs_k",
           "ULP_EDGES", "format_table"]

GENERATORS = ("gaussian", "heavy", "outliers")
# Histogram bins of |error| in FP32 ulps of the reference: [0, 0] exact, then (lo, hi].
ULP_EDGES = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 65536.0,
             math.inf)
_TINY = np.finfo(np.float64).tiny


# ---------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------
def _shape3(shape):
    try:
        m, k, n = (int(v) for v in shape)
    except (TypeError, ValueError):
        raise ValueError(f"shape={shape!r}: allowed three positive ints M, K, N") from None
    if min(m, k, n) < 1:
        raise ValueError(f"shape={shape!r}: allowed three positive ints M, K, N")
    return m, k, n


def generate(kind: str, shape, seed: int = 0, *, outlier_channels: int = 4,
             outlier_scale: float = 100.0, df: float = 3.0):
    """A seeded synthetic pair (a: M x K activations, b: K x N weights), FP32.

    'gaussian': a ~ N(0, 1), b ~ N(0, 0.02^2). 'heavy': a, b ~ Student-t(df) (b times 0.02).
    'outliers': as 'gaussian', with `outlier_channels` columns of a (channels along K,
    picked by the seed) scaled by `outlier_scale`, as in LLM activations."""
    if kind not in GENERATORS:
        raise ValueError(f"gen={kind!r}; allowed: {', '.join(GENERATORS)}")
    m, k, n = _shape3(shape)
    rng = np.random.default_rng(seed)
    if kind == "heavy":
        a = rng.standard_t(df, (m, k))
        b = 0.02 * rng.standard_t(df, (k, n))
    else:
        a = rng.standard_normal((m, k))
        b = 0.02 * rng.standard_normal((k, n))
        if kind == "outliers":
            ch = rng.choice(k, size=min(outlier_channels, k), replace=False)
            a[:, ch] *= outlier_scale
    return a.astype(np.float32), b.astype(np.float32)


def _as_matrix(x, name):
    arr = np.asarray(x)
    if arr.dtype.kind != "f":
        raise ValueError(f"{name}: a float matrix is needed, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(f"{name}: a 2-D matrix is needed, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or Inf; the report needs finite inputs")
    return arr.astype(np.float32)


def load_pair(a_path=None, b_path=None):
    """(a, b) from .npy files (one array each) or one .npz holding arrays 'a' and 'b'
    (a_path alone). Errors name the argument."""
    def load(path, name):
        if not os.path.exists(path):
            raise ValueError(f"--{name} {path}: no such file")
        try:
            return np.load(path, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"--{name} {path}: not a .npy/.npz file ({exc})") from None
    if a_path is None:
        raise ValueError("--a: a .npy (with --b) or .npz (holding 'a' and 'b') file is needed")
    xa = load(a_path, "a")
    if isinstance(xa, np.lib.npyio.NpzFile):
        if b_path is not None:
            raise ValueError(f"--a {a_path} is an .npz holding both operands; leave out --b")
        missing = [k for k in ("a", "b") if k not in xa.files]
        if missing:
            raise ValueError(f"--a {a_path}: the .npz must hold arrays 'a' and 'b' "
                             f"(has {', '.join(xa.files) or 'none'})")
        return _as_matrix(xa["a"], "--a"), _as_matrix(xa["b"], "--a (array 'b')")
    if b_path is None:
        raise ValueError(f"--b: needed with --a {a_path} (or give one .npz holding 'a' and 'b')")
    xb = load(b_path, "b")
    if isinstance(xb, np.lib.npyio.NpzFile):
        raise ValueError(f"--b {b_path}: give a .npy file holding one array")
    return _as_matrix(xa, "--a"), _as_matrix(xb, "--b")


# ---------------------------------------------------------------------------------------
# The exact reference
# ---------------------------------------------------------------------------------------
_SPLIT = 134217729.0  # 2^27 + 1: Dekker's splitter for float64


def _two_prod(x, y):
    """p, e with p + e == x * y exactly (Dekker; no overflow/underflow in the range used)."""
    p = x * y
    t = _SPLIT * x
    xh = t - (t - x)
    xl = x - xh
    t = _SPLIT * y
    yh = t - (t - y)
    yl = y - yh
    e = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl
    return p, e


def exact_matmul(a, b) -> np.ndarray:
    """a @ b with each element the exact sum of its K products rounded once to FP64.

    Products are split error-free (Dekker's TwoProduct: p + e = a_ik * b_kj exactly for
    finite float64 inputs whose products stay within [2^-969, 2^1023]: always true here),
    and each element's 2K terms are summed by math.fsum (Shewchuk: correctly rounded). So
    the result is within 2^-53 relative of the exact product."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    m, k = a.shape
    n = b.shape[1]
    out = np.empty((m, n), np.float64)
    bt = np.ascontiguousarray(b.T)  # N x K
    rows = max(1, (1 << 22) // max(1, n * k))
    fsum = math.fsum
    for r0 in range(0, m, rows):
        blk = a[r0:r0 + rows]
        p, e = _two_prod(blk[:, None, :], bt[None, :, :])  # r x N x K
        # FP32 x FP32 (and FP8 x FP8 with power-of-two scales) products are exact in FP64:
        # then e is all zero and only p is summed.
        terms = np.concatenate([p, e], axis=2) if np.any(e) else p
        for i in range(terms.shape[0]):
            out[r0 + i] = [fsum(t) for t in terms[i]]
    return out


def _ulp32(ref):
    r = np.abs(ref)
    e = np.floor(np.log2(np.where(r > 0, r, 1.0)))
    e = np.where(r > 0, np.maximum(e, -126), -126)
    # guard log2's rounding at exact powers of two
    e = np.where(np.exp2(e) > r, e - 1, e)
    e = np.where(np.exp2(e + 1) <= r, e + 1, e)
    e = np.maximum(e, -126)
    return np.exp2(e - 23)


# ---------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------
@dataclass
class ErrorStats:
    rel_fro: float
    max_rel: float
    max_rel_elem: float
    max_ulps: float
    hist: list  # counts over ULP_EDGES: [exact zero] + one per (lo, hi] bin


@dataclass
class SchemeResult:
    name: str
    total: ErrorStats
    quant: ErrorStats
    accum: ErrorStats
    flags: dict
    d: np.ndarray = field(repr=False)          # the unit's result (float64 of FP32 values)
    qref: np.ndarray = field(repr=False)       # exact product of the quantized inputs


@dataclass
class Report:
    shape: tuple
    source: str
    rel_floor: float
    ref: np.ndarray = field(repr=False)
    results: list = field(default_factory=list)

    def __getitem__(self, name) -> SchemeResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def table(self) -> str:
        return format_table(self)

    def to_dict(self) -> dict:
        def st(s):
            return dict(rel_fro=s.rel_fro, max_rel=s.max_rel, max_rel_elem=s.max_rel_elem,
                        max_ulps=s.max_ulps, hist=list(s.hist))
        return dict(shape=list(self.shape), source=self.source, rel_floor=self.rel_floor,
                    ulp_edges=[float(e) for e in ULP_EDGES],
                    schemes={r.name: dict(total=st(r.total), quant=st(r.quant),
                                          accum=st(r.accum), flags=r.flags)
                             for r in self.results})


def _hist(ulps):
    edges = np.asarray(ULP_EDGES)
    zero = int(np.count_nonzero(ulps == 0))
    nz = ulps[ulps > 0]
    idx = np.searchsorted(edges, nz, side="left")  # (edges[i-1], edges[i]] -> i
    counts = np.bincount(idx, minlength=len(edges))[1:]
    return [zero] + [int(c) for c in counts]


def _stats(err, ref, ulp, floor_mask) -> ErrorStats:
    nref = float(np.linalg.norm(ref))
    aerr = np.abs(err)
    mref = float(np.max(np.abs(ref))) if ref.size else 0.0
    rel_fro = float(np.linalg.norm(err)) / max(nref, _TINY)
    max_rel = float(aerr.max()) / max(mref, _TINY) if err.size else 0.0
    sel = floor_mask
    max_rel_elem = float(np.max(aerr[sel] / np.abs(ref[sel]))) if sel.any() else 0.0
    ulps = aerr / ulp
    return ErrorStats(rel_fro, max_rel, max_rel_elem, float(ulps.max()) if ulps.size else 0.0,
                      _hist(ulps))


def resolve_scheme(s):
    """A scheme object, or a name looked up in emulator.numerics.schemes."""
    if not isinstance(s, str):
        for attr in ("name", "quantize", "dequantized", "gemm"):
            if not hasattr(s, attr):
                raise TypeError(f"schemes: {s!r} has no {attr!r}; give a scheme name or an "
                                "object with name, quantize, dequantized and gemm")
        return s
    try:
        from .numerics.schemes import get_scheme
    except ImportError as exc:  # pragma: no cover - only before the registry exists
        raise ValueError(f"schemes: cannot look up {s!r}: {exc}") from None
    try:
        return get_scheme(s)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"schemes: {exc}") from None


def scheme_names() -> list:
    try:
        from .numerics.schemes import scheme_names as names
    except ImportError:  # pragma: no cover
        return []
    return list(names())


def compare(a, b, schemes, *, rel_floor: float = 0.1, source: str = "arrays") -> Report:
    """Run (a, b) through each scheme; errors against the exact product (module docstring)."""
    a = _as_matrix(a, "a")
    b = _as_matrix(b, "b")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"a is {a.shape[0]} x {a.shape[1]} but b is {b.shape[0]} x "
                         f"{b.shape[1]}: a's columns must equal b's rows (K)")
    if isinstance(schemes, str):
        schemes = [s for s in schemes.split(",") if s]
    schemes = [resolve_scheme(s) for s in schemes]
    if not schemes:
        raise ValueError("schemes: at least one scheme is needed")
    if not (isinstance(rel_floor, (int, float)) and rel_floor >= 0):
        raise ValueError(f"rel_floor={rel_floor!r}: allowed a number >= 0")
    ref = exact_matmul(a, b)
    ulp = _ulp32(ref)
    rms = float(np.sqrt(np.mean(ref * ref))) if ref.size else 0.0
    floor_mask = np.abs(ref) >= max(rel_floor * rms, _TINY)
    rep = Report(shape=(a.shape[0], a.shape[1], b.shape[1]), source=source,
                 rel_floor=float(rel_floor), ref=ref)
    for s in schemes:
        A, B = s.quantize(a, b)
        da, db = s.dequantized(A, B)
        qref = exact_matmul(da, db)
        bits, flags = s.gemm(A, B)
        bits = np.asarray(bits)
        if bits.dtype != np.uint32:
            bits = bits.astype(np.uint32)
        d = bits.view(np.float32).astype(np.float64)
        fl = np.asarray(flags, np.uint8)
        from .flags import Flag
        fcount = {f.name.lower(): int(np.count_nonzero(fl & int(f)))
                  for f in Flag if f and f.name}
        if not np.all(np.isfinite(d)):
            fcount["nonfinite"] = int(np.count_nonzero(~np.isfinite(d)))
        rep.results.append(SchemeResult(
            name=s.name, total=_stats(d - ref, ref, ulp, floor_mask),
            quant=_stats(qref - ref, ref, ulp, floor_mask),
            accum=_stats(d - qref, ref, ulp, floor_mask), flags=fcount, d=d, qref=qref))
    return rep


def _pct(x):
    return f"{100 * x:.4g}%"


def format_table(rep: Report) -> str:
    m, k, n = rep.shape
    lines = [f"mxemu compare: {rep.source}, M={m} K={k} N={n}; errors against the exact "
             f"product (max rel elem: |ref| >= {rep.rel_floor:g} * rms(ref))"]
    hdr = (f"{'scheme':34} {'rel Frobenius':>13} {'max rel':>10} {'max rel elem':>12} "
           f"{'quant (Fro)':>11} {'accum (Fro)':>11} {'accum max rel':>13} {'accum max elem':>14} "
           f"{'max ulps':>10}")
    lines += [hdr, "-" * len(hdr)]
    for r in rep.results:
        lines.append(f"{r.name:34} {r.total.rel_fro:>13.4e} {_pct(r.total.max_rel):>10} "
                     f"{_pct(r.total.max_rel_elem):>12} {r.quant.rel_fro:>11.4e} "
                     f"{r.accum.rel_fro:>11.4e} {_pct(r.accum.max_rel):>13} "
                     f"{_pct(r.accum.max_rel_elem):>14} "
                     f"{r.total.max_ulps:>10.4g}")
    lines.append("")
    labels = ["0"] + [f"<={e:g}" if math.isfinite(e) else f">{ULP_EDGES[-2]:g}"
                      for e in ULP_EDGES[1:]]
    lines.append("per-element |total error| in FP32 ulps of the reference (counts):")
    lines.append(f"{'scheme':34} " + " ".join(f"{lab:>7}" for lab in labels))
    for r in rep.results:
        lines.append(f"{r.name:34} " + " ".join(f"{c:>7}" for c in r.total.hist))
    flagged = [(r.name, {k: v for k, v in r.flags.items() if v and k != "inexact"})
               for r in rep.results]
    for name, fl in flagged:
        if fl:
            lines.append(f"note: {name}: " + ", ".join(f"{k} {v}" for k, v in fl.items()))
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------
# Error vs K, plots
# ---------------------------------------------------------------------------------------
def error_vs_k(a, b, schemes, ks, *, rel_floor: float = 0.1):
    """{scheme name: [(K, Report result), ...]} for the leading K columns of a / rows of b."""
    a = _as_matrix(a, "a")
    b = _as_matrix(b, "b")
    out = {}
    for k in ks:
        if not 1 <= k <= a.shape[1]:
            raise ValueError(f"ks: K={k} is outside 1..{a.shape[1]}")
        rep = compare(a[:, :k], b[:k], schemes, rel_floor=rel_floor)
        for r in rep.results:
            out.setdefault(r.name, []).append((int(k), r))
    return out


def _pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        return None


NO_MATPLOTLIB = ("plots skipped: matplotlib is not installed (pip install matplotlib); "
                 "the table above has every number")


def plot_report(rep: Report, outdir) -> list:
    """The per-element error histogram (PNG); returns the paths written ([] without
    matplotlib)."""
    plt = _pyplot()
    if plt is None:
        return []
    os.makedirs(outdir, exist_ok=True)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    labels = ["0"] + [f"≤{e:g}" if math.isfinite(e) else f">{ULP_EDGES[-2]:g}"
                      for e in ULP_EDGES[1:]]
    x = np.arange(len(labels))
    w = 0.8 / max(1, len(rep.results))
    for i, r in enumerate(rep.results):
        ax.bar(x + i * w - 0.4 + w / 2, r.total.hist, w, label=r.name)
    ax.set_xticks(x)
    ax.set_xticklabels(labels, rotation=45)
    ax.set_xlabel("|D - exact| in FP32 ulps of the exact result")
    ax.set_ylabel("output elements")
    m, k, n = rep.shape
    ax.set_title(f"{rep.source}: M={m} K={k} N={n}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(outdir, "error_histogram.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def plot_error_vs_k(sweep: dict, outdir, *, metric: str = "max_rel",
                    title: str = "", filename: str = "error_vs_k.png") -> list:
    """Error vs K per scheme (total solid, accumulation part dashed); [] without
    matplotlib."""
    plt = _pyplot()
    if plt is None:
        return []
    os.makedirs(outdir, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for name, pts in sweep.items():
        ks = [k for k, _ in pts]
        line, = ax.plot(ks, [getattr(r.total, metric) for _, r in pts], "o-", label=name)
        ax.plot(ks, [max(getattr(r.accum, metric), 1e-12) for _, r in pts], "--",
                color=line.get_color(), alpha=0.6)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("K")
    ax.set_ylabel(f"{metric} (solid: total, dashed: accumulation part)")
    if title:
        ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = os.path.join(outdir, filename)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]
