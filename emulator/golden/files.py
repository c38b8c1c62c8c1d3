"""Golden file formats (golden/README.md is the specification).

  NAME.tv      text: `# key: value` header lines, then one case per line, fixed-width hex
               fields separated by one space, lowest element first;
  NAME.memh    the same cases with `_` between the fields (one $readmemh word per line) and
               `//` header lines; NAME.svh declares the matching packed struct;
  NAME.jsonl   one JSON object per case with every field decoded (JSON Lines);
  NAME.<tensor>.memh  (gemm) one $readmemh image per tensor: packed rows of A, columns of
               B, their scales, and C, D and the flags one element per line.
Every field is a code right-aligned (zero-extended) in ceil(bits / 4) hex digits.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..flags import Flag
from ..formats import FP32, get_format
from .spec import DOT_OPS, Spec, spec_from_header

_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)
_UNHEX = np.full(256, 255, np.uint8)
for _i, _ch in enumerate(b"0123456789abcdef"):
    _UNHEX[_ch] = _i
for _i, _ch in enumerate(b"ABCDEF"):
    _UNHEX[_ch] = 10 + _i


class Field(NamedTuple):
    name: str
    count: int  # elements in the field (hex tokens)
    digits: int  # hex digits per element
    fmt: object  # the Format its codes are in (None: flags)


def digits(fmt) -> int:
    return -(-fmt.bits // 4)


def fields_of(spec: Spec) -> list:
    """The fields of one case line, in order; golden/README.md has the table per op."""
    op = spec.op
    if op in DOT_OPS:
        out = [Field("a", spec.k, digits(spec.a_fmt), spec.a_fmt),
               Field("b", spec.k, digits(spec.b_fmt), spec.b_fmt)]
        if spec.block:
            nb = spec.k // spec.block
            out += [Field("sa", nb, digits(spec.scale_fmt), spec.scale_fmt),
                    Field("sb", nb, digits(spec.scale_fmt), spec.scale_fmt)]
        cf = spec.c_fmt
        return out + [Field("c", 1, digits(cf), cf), Field("d", 1, digits(cf), cf),
                      Field("flags", 1, 2, None)]
    f = spec.a_fmt
    if op == "encode":
        return [Field("x", 1, 8, FP32), Field("code", 1, digits(f), f), Field("flags", 1, 2, None)]
    if op == "decode":
        return [Field("code", 1, digits(f), f), Field("value", 1, 8, FP32)]
    return [Field("x", spec.block, 8, FP32), Field("scale", 1, 2, get_format("e8m0")),
            Field("codes", spec.block, digits(f), f), Field("flags", 1, 2, None)]


RESULTS = {"dot1": ("d", "flags"), "dot": ("d", "flags"), "gemm": ("d", "flags"),
           "encode": ("code", "flags"), "decode": ("value",),
           "quantize": ("scale", "codes", "flags")}


class GoldenFile(NamedTuple):
    """A golden set in memory: its spec, header, the case indices and every field's codes
    (int64 arrays of shape (P, count))."""

    spec: Spec
    header: dict
    index: np.ndarray
    data: dict

    @property
    def fields(self):
        return fields_of(self.spec)

    def __len__(self):
        return len(self.index)


def make(spec: Spec, inputs, outputs: dict, total: int, index, command: str = "") -> GoldenFile:
    """Assemble a GoldenFile from generated inputs and expected outputs."""
    data = {}
    if spec.op in DOT_OPS:
        data.update(a=inputs.a, b=inputs.b, c=inputs.c)
        if spec.block:
            data.update(sa=inputs.sa, sb=inputs.sb)
    elif spec.op == "decode":
        data["code"] = inputs
    else:
        data["x"] = inputs
    data.update(outputs)
    data = {k: np.asarray(v, np.int64).reshape(len(index), -1) for k, v in data.items()}
    header = dict(spec.header_items())
    flds = fields_of(spec)
    header.update({
        "cases": str(len(index)), "first_case": str(int(index[0]) if len(index) else 0),
        "total_cases": str(total), "shard": f"{spec.shard[0]}/{spec.shard[1]}",
        "fields": " ".join(f"{f.name}:{f.count}x{f.digits}" for f in flds),
        "results": " ".join(RESULTS[spec.op]),
        "flag_bits": ", ".join(f"{int(f):02x} {f.name.lower()}" for f in Flag if f),
    })
    if command:
        header["command"] = command
    return GoldenFile(spec, header, np.asarray(index, np.int64), data)


# ---------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------
def _char_matrix(g: GoldenFile, sep: bytes) -> np.ndarray:
    """The case lines as a (P, line length) uint8 array, built column by column."""
    flds = g.fields
    tokens = [(g.data[f.name][:, i], f.digits) for f in flds for i in range(f.count)]
    width = sum(d for _, d in tokens) + len(tokens)  # separators and the newline
    p = len(g)
    out = np.full((p, width), ord(sep), np.uint8)
    pos = 0
    for vals, d in tokens:
        v = vals.astype(np.uint64)
        for j in range(d):
            out[:, pos + j] = _HEX[((v >> np.uint64(4 * (d - 1 - j))) & np.uint64(15))
                                   .astype(np.intp)]
        pos += d + 1
    out[:, -1] = ord("\n")
    return out


def header_text(g: GoldenFile, comment: str) -> str:
    lines = [f"{comment} mxemu golden vectors (golden/README.md describes this format)"]
    lines += [f"{comment} {k}: {v}" for k, v in g.header.items()]
    return "\n".join(lines) + "\n"


def write_tv(g: GoldenFile, path, underscores: bool = False) -> None:
    """Write the .tv text (or, underscores=True, the $readmemh variant)."""
    text = header_text(g, "//" if underscores else "#").encode()
    body = _char_matrix(g, b"_" if underscores else b" ").tobytes() if len(g) else b""
    Path(path).write_bytes(text + body)


def svh_text(g: GoldenFile, name: str) -> str:
    """A SystemVerilog packed struct matching one line of the .memh variant (the first
    field is the most significant, so element 0 sits at index 0 of an ascending range)."""
    ident = "".join(ch if ch.isalnum() else "_" for ch in name)
    lines = [f"// {name}: one case of the .memh vectors (mxemu golden, golden/README.md)",
             "typedef struct packed {"]
    for f in g.fields:
        bits = 4 * f.digits
        dims = f"[0:{f.count - 1}]" if f.count > 1 else ""
        lines.append(f"  logic {dims}[{bits - 1}:0] {f.name};")
    width = sum(4 * f.digits * f.count for f in g.fields)
    lines += [f"}} {ident}_case_t;  // {width} bits",
              f"localparam int {ident.upper()}_CASES = {len(g)};"]
    return "\n".join(lines) + "\n"


def _value_text(v: float):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def write_jsonl(g: GoldenFile, path) -> None:
    """One JSON object per case: hex codes, decoded values and flag names."""
    flds = g.fields
    decoded = {}
    for f in flds:
        if f.fmt is not None:
            decoded[f.name] = f.fmt.decode(g.data[f.name].astype(np.uint32))
    with open(path, "w") as fh:
        for r in range(len(g)):
            obj = {"case": int(g.index[r])}
            for f in flds:
                codes = g.data[f.name][r]
                w = f.digits
                hexes = [format(int(c), f"0{w}x") for c in codes]
                if f.fmt is None:
                    fl = int(codes[0])
                    obj[f.name] = hexes[0]
                    obj[f.name + "_names"] = [x.name.lower() for x in Flag if x and fl & x]
                    continue
                vals = [_value_text(float(v)) for v in decoded[f.name][r]]
                obj[f.name] = hexes if f.count > 1 else hexes[0]
                obj[f.name + "_value"] = vals if f.count > 1 else vals[0]
            fh.write(json.dumps(obj, separators=(",", ":")) + "\n")


def _packed_rows(codes: np.ndarray, d: int) -> list:
    """Rows of codes packed into one hex word each: element 0 in the least significant
    digits (rightmost), so `logic [K-1:0][4d-1:0] row; row[k]` is element k."""
    rev = codes[:, ::-1]
    return ["".join(format(int(c), f"0{d}x") for c in row) for row in rev]


def write_gemm_images(g: GoldenFile, base) -> list:
    """Per-tensor $readmemh images of GEMM tiles (tile after tile): A rows, B columns and
    their scales packed one row per line; C, D and flags one element per line, row-major."""
    spec = g.spec
    m, n = spec.tile
    per = m * n
    paths = []
    head = header_text(g, "//")
    tiles = range(0, len(g), per)
    rows_a = np.concatenate([g.data["a"][s:s + per:n][:m] for s in tiles])
    cols_b = np.concatenate([g.data["b"][s:s + n] for s in tiles])
    images = {"a": (rows_a, digits(spec.a_fmt)), "b": (cols_b, digits(spec.b_fmt))}
    if spec.block:
        d = digits(spec.scale_fmt)
        images["sa"] = (np.concatenate([g.data["sa"][s:s + per:n][:m] for s in tiles]), d)
        images["sb"] = (np.concatenate([g.data["sb"][s:s + n] for s in tiles]), d)
    for name, (arr, d) in images.items():
        p = Path(f"{base}.{name}.memh")
        p.write_text(head + "\n".join(_packed_rows(arr, d)) + "\n")
        paths.append(str(p))
    for name in ("c", "d", "flags"):
        d = 2 if name == "flags" else digits(spec.c_fmt)
        p = Path(f"{base}.{name}.memh")
        p.write_text(head + "\n".join(format(int(v), f"0{d}x")
                                      for v in g.data[name][:, 0]) + "\n")
        paths.append(str(p))
    return paths


EMITS = ("tv", "memh", "jsonl")


def write_all(g: GoldenFile, base, emit=("tv",)) -> list:
    """Write the requested formats next to `base` (a path without extension)."""
    bad = sorted(set(emit) - set(EMITS))
    if bad:
        raise ValueError(f"--emit {','.join(bad)}; allowed: {', '.join(EMITS)}")
    base = str(base)
    paths = []
    if "tv" in emit:
        write_tv(g, base + ".tv")
        paths.append(base + ".tv")
    if "memh" in emit:
        write_tv(g, base + ".memh", underscores=True)
        Path(base + ".svh").write_text(svh_text(g, Path(base).name))
        paths += [base + ".memh", base + ".svh"]
        if g.spec.op == "gemm":
            paths += write_gemm_images(g, base)
    if "jsonl" in emit:
        write_jsonl(g, base + ".jsonl")
        paths.append(base + ".jsonl")
    return paths


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------
def read_tv(path) -> GoldenFile:
    """Read a .tv file (or its .memh variant) back into a GoldenFile."""
    raw = Path(path).read_bytes()
    header, pos = {}, 0
    while pos < len(raw) and raw[pos:pos + 1] in (b"#", b"/"):
        end = raw.find(b"\n", pos)
        end = len(raw) if end < 0 else end
        line = raw[pos:end].decode().lstrip("#/ ").rstrip()
        if ": " in line:
            key, val = line.split(": ", 1)
            header[key.strip()] = val.strip()
        pos = end + 1
    if "op" not in header:
        raise ValueError(f"{path}: no golden header (expected '# op: ...' lines)")
    spec = spec_from_header(header)
    flds = fields_of(spec)
    width = sum(f.digits * f.count for f in flds) + sum(f.count for f in flds)
    body = np.frombuffer(raw[pos:], np.uint8)
    if body.size % width:
        raise ValueError(f"{path}: case lines are not {width} characters each (fixed width)")
    lines = body.reshape(-1, width)
    nib = _UNHEX[lines]
    data, col = {}, 0
    for f in flds:
        block = nib[:, col:col + f.count * (f.digits + 1)].reshape(-1, f.count, f.digits + 1)
        if (block[:, :, :f.digits] == 255).any():
            r = int(np.argwhere(block[:, :, :f.digits] == 255)[0][0])
            raise ValueError(f"{path}: case line {r + 1}: field {f.name} is not hex")
        v = np.zeros(block.shape[:2], np.int64)
        for j in range(f.digits):
            v = (v << 4) | block[:, :, j].astype(np.int64)
        data[f.name] = v
        col += f.count * (f.digits + 1)
    p = len(lines)
    if "cases" in header and int(header["cases"]) != p:
        raise ValueError(f"{path}: header says {header['cases']} cases, the file has {p}")
    first = int(header.get("first_case", 0))
    return GoldenFile(spec, header, np.arange(first, first + p, dtype=np.int64), data)
