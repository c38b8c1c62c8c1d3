"""Checking golden files: `check` (recompute with the model), `verify` (compare a device's
result dump), `diagnose` (which single-knob neighbour explains the mismatches) and
`adequacy` (does the file tell its config from every neighbour).

Tolerated differences: none. Every result field (the result bits and the flags) must match
bit for bit; a dump that carries no flags column is compared on the result bits alone.
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import _backend
from ..formats import CLASS_NAN, E8M0
from ..numerics import dot as ref_dot
from . import files, gen
from .neighbours import ROUNDINGS, neighbours
from .spec import DOT_OPS, Spec

IMPLS = ("auto", "fast", "reference", "native")
DEFAULT_MAX_ERRORS = 20


# ---------------------------------------------------------------------------------------
# Recomputing a file's results
# ---------------------------------------------------------------------------------------
def _cases(g: files.GoldenFile, rows=None) -> gen.DotCases:
    d = g.data
    sel = (lambda x: x) if rows is None else (lambda x: x[rows])
    return gen.DotCases(sel(d["a"]), sel(d["b"]), sel(d["sa"]) if "sa" in d else None,
                        sel(d["sb"]) if "sb" in d else None, sel(d["c"][:, 0]))


def _dot_native(spec: Spec, cs: gen.DotCases, config):
    """Every case as a 1 x 1 GEMM in the C kernel (emulator.numerics.native)."""
    from ..mxtensor import MXTensor
    from ..numerics.native import gemm_native, native_supported
    if not native_supported(config):
        raise ValueError("the native kernel is not available (see "
                         "emulator.numerics.native.native_supported)")
    p, k = cs.a.shape
    d = np.zeros(p, np.int64)
    fl = np.zeros(p, np.int64)
    for i in range(p):
        a, b = cs.a[i:i + 1], cs.b[i:i + 1].T
        if spec.block:
            A = MXTensor(a.astype(np.uint8), cs.sa[i:i + 1].astype(np.uint8), spec.a_fmt,
                         spec.scale_fmt, spec.block, 1, (1, k))
            B = MXTensor(b.astype(np.uint8), cs.sb[i:i + 1].T.astype(np.uint8), spec.b_fmt,
                         spec.scale_fmt, spec.block, 0, (k, 1))
        else:
            A, B = (a, spec.a_fmt), (b, spec.b_fmt)
        r, f = gemm_native(A, B, cs.c[i:i + 1].reshape(1, 1), config, threads=1)
        d[i], fl[i] = int(r[0, 0]), int(f[0, 0])
    return d, fl


def _dot_reference(spec: Spec, cs: gen.DotCases, config):
    """Every case through the scalar reference `dot` (the executable specification)."""
    p = len(cs)
    d = np.zeros(p, np.int64)
    fl = np.zeros(p, np.int64)
    for i in range(p):
        d[i], fl[i] = ref_dot(cs.a[i].tolist(), cs.b[i].tolist(), spec.a_fmt, spec.b_fmt,
                              None if cs.sa is None else cs.sa[i].tolist(),
                              None if cs.sb is None else cs.sb[i].tolist(), int(cs.c[i]),
                              config, scale_fmt=spec.scale_fmt or E8M0, c_fmt=spec.c_fmt)
    return d, fl


def recompute(g: files.GoldenFile, impl: str = "auto", rows=None, spec: Spec | None = None):
    """The model's results for the file's cases (rows: a subset) as {field: (P, count)}.

    impl: 'auto' (dot_batch / the codecs in the active backend), 'fast' (the same with the
    numpy path forced for dots), 'reference' (the scalar reference `dot` per case, and the
    Python reference backend for the codecs), 'native' (the C kernel per case, the native
    backend for the codecs)."""
    if impl not in IMPLS:
        raise ValueError(f"impl={impl!r}; allowed: {', '.join(IMPLS)}")
    spec = spec or g.spec
    if spec.op in DOT_OPS:
        cs = _cases(g, rows)
        if impl == "native":
            d, fl = _dot_native(spec, cs, spec.config)
        elif impl == "reference":
            d, fl = _dot_reference(spec, cs, spec.config)
        else:
            d, fl = gen.run_dot(spec, cs)
        return {"d": np.asarray(d, np.int64)[:, None], "flags": np.asarray(fl, np.int64)[:, None]}
    inputs = g.data["code" if spec.op == "decode" else "x"]
    if rows is not None:
        inputs = inputs[rows]
    inputs = inputs[:, 0] if spec.op in ("encode", "decode") else inputs
    name = {"native": "native", "reference": "reference"}.get(impl)
    if name is None:
        out = gen.expected(spec, inputs)
    else:
        with _backend.using(name):
            out = gen.expected(spec, inputs)
    return {k: np.asarray(v, np.int64).reshape(len(inputs), -1) for k, v in out.items()}


# ---------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------
def _ordered(fmt, code: int):
    """The code's position on the number line of its format (None for NaN)."""
    sign, _, _, cls = fmt.unpack_code(code)
    if cls == CLASS_NAN:
        return None
    if fmt.kind == "int":
        return code - fmt.num_codes if sign else code
    mag = code & ((1 << (fmt.bits - int(fmt.signed))) - 1)
    return -mag if sign else mag


def ulp_distance(fmt, a: int, b: int):
    """Codes between two codes of a float format (0: equal), or None when a NaN is one."""
    x, y = _ordered(fmt, a), _ordered(fmt, b)
    return None if x is None or y is None else abs(x - y)


def _dec(fmt, code: int) -> str:
    return repr(fmt.value_of(int(code)))


class Mismatch(NamedTuple):
    case: int  # the case index in the whole set
    line: int  # the case line in the file (1-based, counting case lines only)
    field: str
    expected: list
    got: list


class Report(NamedTuple):
    path: str
    cases: int
    mismatched_cases: int
    mismatches: list  # the first max_errors Mismatch records
    lines: list  # the report text, line by line
    diagnosis: list  # lines

    @property
    def ok(self) -> bool:
        return self.mismatched_cases == 0

    def text(self) -> str:
        return "\n".join(self.lines + self.diagnosis) + "\n"


def _case_text(g: files.GoldenFile, r: int) -> list:
    """The decoded inputs of case row r."""
    out = []
    for f in g.fields:
        if f.name in files.RESULTS[g.spec.op]:
            continue
        codes = [int(c) for c in g.data[f.name][r]]
        hexes = " ".join(format(c, f"0{f.digits}x") for c in codes)
        vals = ", ".join(_dec(f.fmt, c) for c in codes)
        out.append(f"    {f.name} ({f.fmt.name}) = [{hexes}] = [{vals}]" if f.count > 1 else
                   f"    {f.name} ({f.fmt.name}) = {hexes} = {vals}")
    return out


def _field_text(f, codes) -> str:
    if f.fmt is None:
        from ..flags import Flag
        c = int(codes[0])
        names = "|".join(x.name.lower() for x in Flag if x and c & x) or "none"
        return f"{c:02x} ({names})"
    if f.count == 1:
        return f"{int(codes[0]):0{f.digits}x} ({_dec(f.fmt, codes[0])})"
    return "[" + " ".join(f"{int(c):0{f.digits}x}" for c in codes) + "]"


def compare(g: files.GoldenFile, got: dict, max_errors: int = DEFAULT_MAX_ERRORS,
            label: str = "got", path: str = "") -> Report:
    """Compare the file's expected result fields with `got` (field -> (P, count))."""
    if not isinstance(max_errors, int) or max_errors < 0:
        raise ValueError(f"max_errors={max_errors!r}; allowed: an int >= 0")
    flds = {f.name: f for f in g.fields}
    bad_rows = np.zeros(len(g), bool)
    per_field = {}
    for name, arr in got.items():
        diff = (np.asarray(arr) != g.data[name]).any(axis=1)
        per_field[name] = diff
        bad_rows |= diff
    rows = np.flatnonzero(bad_rows)
    lines = [f"{path or 'vectors'}: {len(g)} cases, {len(rows)} mismatched"
             + (f" (the first {min(len(rows), max_errors)} shown)" if len(rows) else "")]
    mism = []
    for r in rows[:max_errors]:
        r = int(r)
        lines.append(f"case {int(g.index[r])} (line {r + 1} of the cases):")
        lines += _case_text(g, r)
        for name, diff in per_field.items():
            if not diff[r]:
                continue
            f = flds[name]
            exp, gt = g.data[name][r].tolist(), np.asarray(got[name][r]).tolist()
            mism.append(Mismatch(int(g.index[r]), r + 1, name, exp, gt))
            extra = ""
            if f.fmt is not None and f.count == 1 and f.fmt.kind == "float":
                u = ulp_distance(f.fmt, exp[0], gt[0])
                extra = f"  ulp distance {'n/a (NaN)' if u is None else u}"
            lines.append(f"    {name}: expected {_field_text(f, exp)}  {label} "
                         f"{_field_text(f, gt)}{extra}")
    return Report(path, len(g), len(rows), mism, lines, [])


# ---------------------------------------------------------------------------------------
# Diagnosis
# ---------------------------------------------------------------------------------------
def _quant_neighbours(spec: Spec) -> list:
    """(label, spec) neighbours of an encode/quantize spec: each other rounding mode and,
    for quantize, each other scale mode."""
    from ..quantize import SCALE_MODES
    out = []
    for r in ROUNDINGS:
        if r != spec.quant["rounding"]:
            out.append((f"rounding={r}", _with_quant(spec, rounding=r)))
    if spec.op == "quantize":
        for m in SCALE_MODES:
            if m != spec.quant["scale_mode"]:
                out.append((f"scale_mode={m}", _with_quant(spec, scale_mode=m)))
    return out


def _with_quant(spec: Spec, **kw) -> Spec:
    from dataclasses import replace
    return replace(spec, quant={**spec.quant, **kw})


def neighbour_results(g: files.GoldenFile):
    """(label, status, note, results or None) for every neighbour of the file's config."""
    spec = g.spec
    if spec.op in DOT_OPS:
        out = []
        for nb in neighbours(spec.config, spec.k, gen.operands(spec)):
            if nb.status != "ok":
                out.append((nb.label, nb.status, nb.note, None))
                continue
            from dataclasses import replace
            res = recompute(g, "auto", spec=replace(spec, config=nb.config))
            out.append((nb.label, "ok", "", res))
        return out
    if spec.op == "decode":
        return []
    return [(lab, "ok", "", recompute(g, "auto", spec=s))
            for lab, s in _quant_neighbours(spec)]


def diagnose(g: files.GoldenFile, got: dict, compare_to: str = "got") -> list:
    """Lines naming the single-knob neighbours whose results equal `got` on every
    mismatched case (and on how many of the other cases), best first."""
    bad = np.flatnonzero(np.any([(np.asarray(v) != g.data[k]).any(axis=1)
                                 for k, v in got.items()], axis=0))
    if not len(bad):
        return []
    rows = []
    for label, status, _, res in neighbour_results(g):
        if res is None:
            continue
        eq = ~np.any([(np.asarray(res[k]) != np.asarray(v)).any(axis=1)
                      for k, v in got.items()], axis=0)
        rows.append((int(eq[bad].sum()), int(eq.sum()), label))
    rows.sort(key=lambda t: (-t[0], -t[1]))
    n = len(bad)
    current = _current_value(g.spec)
    lines = [f"diagnosis: {n} mismatched case(s) re-run under {len(rows)} single-knob "
             "neighbours of the config"]
    full = [r for r in rows if r[0] == n]
    for hit, agree, label in full:
        lines.append(f"  all {n} mismatches match {label} instead of "
                     f"{current.get(label.split('=')[0], '?')}"
                     f" ({agree} of {len(g)} cases agree with it)")
    if not full:
        lines.append("  no single neighbour explains every mismatch; closest:")
        for hit, agree, label in rows[:3]:
            lines.append(f"    {label}: {hit} of {n} mismatches ({agree} of {len(g)} cases)")
    return lines


def _current_value(spec: Spec) -> dict:
    if spec.op in DOT_OPS:
        from .spec import knob_text
        return {name: knob_text(getattr(spec.config, name)) for name in
                ("frac_bits", "rounding", "c_entry", "terms_per_step", "input_subnormals",
                 "output_subnormals", "overflow", "nan")} | {
                    "terms_per_step": knob_text(spec.config.terms_per_step or
                                                spec.config.instruction_k or spec.k)}
    return dict(spec.quant)


# ---------------------------------------------------------------------------------------
# The commands' entry points
# ---------------------------------------------------------------------------------------
def check(path, max_errors: int = DEFAULT_MAX_ERRORS, diagnose_: bool = False,
          impl: str = "auto") -> Report:
    """Recompute every case of a golden file with the model and compare."""
    g = files.read_tv(path)
    got = recompute(g, impl)
    rep = compare(g, got, max_errors, label="model", path=str(path))
    if diagnose_ and not rep.ok:
        # Which neighbour of the header's config reproduces the file's expected values?
        swapped = files.GoldenFile(g.spec, g.header, g.index, {**g.data, **got})
        exp = {k: g.data[k] for k in got}
        rep = rep._replace(diagnosis=diagnose(swapped, exp))
    return rep


def read_dump(path, g: files.GoldenFile) -> dict:
    """A device's result dump: one case per line, the result fields in order (hex, '0x'
    and '_' inside a number allowed), optionally followed by the flags; blank lines and
    lines starting with '#' or '//' are skipped."""
    names = files.RESULTS[g.spec.op]
    flds = {f.name: f for f in g.fields}
    need = [n for n in names if n != "flags"]
    width = sum(flds[n].count for n in need)
    rows = []
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("//"):
            continue
        toks = s.split()
        if len(toks) not in (width, width + 1):
            raise ValueError(f"{path}:{lineno}: {len(toks)} values; allowed {width} "
                             f"({' '.join(need)}) or {width + 1} (and the flags)")
        try:
            rows.append([int(t.replace("_", ""), 16) for t in toks])
        except ValueError:
            raise ValueError(f"{path}:{lineno}: {s!r} is not hex") from None
    if len(rows) != len(g):
        raise ValueError(f"{path}: {len(rows)} results for {len(g)} cases in the vectors; "
                         "they must match one to one")
    has_flags = bool(rows) and all(len(r) == width + 1 for r in rows)
    arr = np.array(rows, dtype=np.int64).reshape(len(rows), -1) if rows else \
        np.zeros((0, width), np.int64)
    out, col = {}, 0
    for n in need:
        out[n] = arr[:, col:col + flds[n].count]
        col += flds[n].count
    if has_flags:
        out["flags"] = arr[:, col:col + 1]
    return out


def verify(vectors, results, max_errors: int = DEFAULT_MAX_ERRORS,
           diagnose_: bool = False) -> Report:
    """Compare a device's result dump with the vectors' expected values."""
    g = files.read_tv(vectors)
    got = read_dump(results, g)
    rep = compare(g, got, max_errors, label="device", path=str(results))
    if diagnose_ and not rep.ok:
        rep = rep._replace(diagnosis=diagnose(g, got))
    return rep


class AdequacyRow(NamedTuple):
    label: str
    status: str  # 'ok', 'n/a', 'equivalent'
    differing: int  # cases whose result bits differ under the neighbour
    note: str


def value_fields(op: str) -> tuple:
    """The result fields other than the flags (what a neighbour must change)."""
    return tuple(f for f in files.RESULTS[op] if f != "flags")


def _differs(res: dict, ref: dict, op: str) -> np.ndarray:
    return np.any([(np.asarray(res[f]) != np.asarray(ref[f])).any(axis=1)
                   for f in value_fields(op)], axis=0)


def adequacy(g: files.GoldenFile) -> list:
    """For every neighbour of the file's config: how many cases it computes differently
    (result values, flags aside; 0 means the file cannot tell the two apart)."""
    out = []
    for label, status, note, res in neighbour_results(g):
        if res is None:
            out.append(AdequacyRow(label, status, 0, note))
            continue
        n = int(_differs(res, g.data, g.spec.op).sum())
        out.append(AdequacyRow(label, status, n, note))
    return out


# Columns of the adequacy table: one per neighbour kind.
COLUMNS = ("F-1", "F+1", "rne", "rna", "rtz", "rup", "rdn", "rto", "C", "T/2", "2T",
           "in_sub", "out_sub", "ovf:inf", "ovf:ieee", "ovf:sat", "nan")


def _column(spec: Spec, label: str) -> str:
    name, _, val = label.partition("=")
    if name.startswith("frac_bits"):
        if " " in name:
            return "F-1" if "-" in name else "F+1"
        return "F-1" if int(val) < spec.config.frac_bits else "F+1"
    if name == "rounding":
        return val
    if name == "c_entry":
        return "C"
    if name.startswith("terms_per_step"):
        t = spec.config.terms_per_step or spec.config.instruction_k or spec.k
        if "halved" in name:
            return "T/2"
        if "doubled" in name:
            return "2T"
        return "T/2" if float(val) < t else "2T"
    if name == "input_subnormals":
        return "in_sub"
    if name == "output_subnormals":
        return "out_sub"
    if name == "overflow":
        return {"inf": "ovf:inf", "ieee": "ovf:ieee", "saturate": "ovf:sat"}[val]
    return "nan"


def adequacy_cells(g: files.GoldenFile, rows=None) -> dict:
    """column -> cell text: the count of differing cases, 'n/a', '≡' (equivalent) or '.'
    (the config's own value)."""
    rows = adequacy(g) if rows is None else rows
    cells = {c: "." for c in COLUMNS}
    for r in rows:
        col = _column(g.spec, r.label)
        cells[col] = (str(r.differing) if r.status == "ok" else
                      "n/a" if r.status == "n/a" else "≡")
    return cells


def adequacy_ok(rows) -> bool:
    return all(r.differing > 0 for r in rows if r.status == "ok")


__all__ = ["check", "verify", "recompute", "compare", "diagnose", "adequacy",
           "adequacy_cells", "adequacy_ok", "ulp_distance", "read_dump", "Report",
           "IMPLS", "COLUMNS"]
