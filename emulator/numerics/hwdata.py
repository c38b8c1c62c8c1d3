"""Validation of the presets on real tensor-core outputs (Khattak & Mikaitis, BSD-2-Clause).

The data (shared/hwdata, or the 500-case subset shipped in golden/hardware/) hold, per GPU and
input format, K operand values per case as FP32 bit patterns (exactly representable in the
input format), the accumulator C and the hardware's D with FP32 and, where measured, FP16
output. `validate(root)` runs each set's preset over every case and counts bit-for-bit
matches; signed-zero and NaN-payload differences are counted apart from real mismatches.

Command line: ``python -m emulator.numerics.hwdata [ROOT] [--limit N] [--set GPU/fmt->out]``.
"""
from __future__ import annotations

import argparse
import gzip
import io
import os
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..formats import (BF16, CLASS_INF, CLASS_NAN, CLASS_ZERO, E4M3, E5M2, FP16, FP32, TF32,
                       Format)
from .._reference import encode_value
from ..rounding import Overflow, Rounding, parse_overflow, round_pack
from .config import AccumConfig
from .presets import get_preset
from .reference import dot

INPUT_FORMATS = {"fp16": FP16, "bf16": BF16, "tf32": TF32, "E4M3": E4M3, "E5M2": E5M2}
GPUS = ("V100", "A100", "A2", "Ada", "L40S", "H100", "H200", "B200")

# (GPU, input format, output) -> preset, for every set of the data (hwdata/README.md): FP32
# output for each GPU's input formats; FP16 output for FP16 inputs on every GPU and for FP8
# inputs on Ada, H100, H200 and B200.
_FAMILY = {"V100": "v100", "A100": "a100", "A2": "a100", "Ada": "ada", "L40S": "ada",
           "H100": "h100", "H200": "h100", "B200": "b200"}
_INPUTS = {"V100": ("fp16",), "A100": ("fp16", "bf16", "tf32"), "A2": ("fp16", "bf16", "tf32")}
_FP8_FP32 = {"ada": "ada-fp8", "h100": "h100-fp8-wgmma", "b200": "b200-fp8"}
SET_PRESETS = {}
for _g, _fam in _FAMILY.items():
    for _f in _INPUTS.get(_g, tuple(INPUT_FORMATS)):
        _fp8 = _f in ("E4M3", "E5M2")
        SET_PRESETS[(_g, _f, "fp32")] = _FP8_FP32[_fam] if _fp8 else f"{_fam}-{_f}"
        if _f == "fp16" or (_fp8 and _g != "L40S"):
            SET_PRESETS[(_g, _f, "fp16")] = f"{_fam}-fp8-fp16" if _fp8 else f"{_fam}-fp16-fp16"

# The publishers' notes: H100/H200 FP8 with FP32 output ran on WGMMA with C = +0.
ZERO_C_SETS = {("H100", "E4M3", "fp32"), ("H100", "E5M2", "fp32"), ("H200", "E4M3", "fp32"),
               ("H200", "E5M2", "fp32")}


def default_root() -> Path | None:
    """../shared/hwdata relative to the repository root, if it is there."""
    cand = Path(__file__).resolve().parents[2].parent / "shared" / "hwdata"
    return cand if cand.is_dir() else None


def shipped_root() -> Path:
    """The 500-case subset shipped with the project (golden/hardware)."""
    return Path(__file__).resolve().parents[2] / "golden" / "hardware"


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------
@dataclass
class HwSet:
    gpu: str
    fmt: str
    out: str
    a: list  # per case: K input-format codes
    b: list
    c: list  # per case: C bits as the preset's register expects them (FP32 or FP16)
    d: list  # per case: hardware D as FP32 bits
    preset: str = ""

    @property
    def label(self) -> str:
        return f"{self.gpu}/{self.fmt}->{self.out}"


def _lines(path: Path, limit: int | None):
    with gzip.open(path, "rt") as fh:
        out = []
        for line in fh:
            if limit is not None and len(out) >= limit:
                break
            out.append(line.split())
        return out


def _fp32_into(bits: int, fmt: Format):
    """(code, flags) of an FP32 bit pattern rounded (RNE) into fmt: the codec's own encode."""
    return encode_value(fmt, FP32.value_of(bits), Rounding.RNE, parse_overflow(fmt, None))


@lru_cache(maxsize=1 << 16)
def fp32_to_format(bits: int, fmt: Format) -> int:
    """An FP32 bit pattern as a code of fmt; the value must be exactly representable."""
    code, flags = _fp32_into(bits, fmt)
    if flags:
        raise ValueError(f"{bits:#010x} is not exactly representable in {fmt.name}")
    return code


def round_fp32_to_fp16(bits: int) -> int:
    """C for the FP16-output sets: the FP32 value rounded to FP16, nearest even."""
    return _fp32_into(bits, FP16)[0]


def fp16_to_fp32(bits: int) -> int:
    """An FP16 bit pattern widened exactly to FP32 (NaN keeps its payload's top bits)."""
    sign, exp, sig, cls = FP16.unpack_code(bits)
    if cls == CLASS_NAN:
        return sign << 31 | 0x7F800000 | (bits & 0x3FF) << 13
    if cls == CLASS_INF:
        return sign << 31 | 0x7F800000
    if cls == CLASS_ZERO:
        return sign << 31
    return round_pack(FP32, sign, sig, 1, exp - 10, Rounding.RNE, Overflow.INF)[0]


def list_sets(root) -> list:
    """(gpu, fmt, out) of every set present under root, in a stable order."""
    root = Path(root)
    out = []
    for gpu in GPUS:
        for fmt in INPUT_FORMATS:
            d = root / gpu / fmt
            for o in ("fp32", "fp16"):
                if (d / f"d_{gpu}_{o}.txt.gz").is_file():
                    out.append((gpu, fmt, o))
    return out


@lru_cache(maxsize=2)
def _operands(d: str, gpu: str, fmt: str, limit):
    """A and B as input-format codes and C as FP32 bits (shared by a folder's two outputs)."""
    d, ifmt = Path(d), INPUT_FORMATS[fmt]
    a = [[fp32_to_format(int(x, 16), ifmt) for x in ln]
         for ln in _lines(d / f"a_{gpu}_{fmt}.txt.gz", limit)]
    b = [[fp32_to_format(int(x, 16), ifmt) for x in ln]
         for ln in _lines(d / f"b_{gpu}_{fmt}.txt.gz", limit)]
    c = [int(ln[0], 2) for ln in _lines(d / f"c_{gpu}_fp32.txt.gz", limit)]
    return a, b, c


def load_set(root, gpu: str, fmt: str, out: str, limit: int | None = None) -> HwSet:
    """One set, converted to codes: A/B in the input format, C as the preset's register
    expects it (FP16-output sets: C rounded to FP16 RNE first, as the data were made)."""
    d = Path(root) / gpu / fmt
    a, b, c = _operands(str(d), gpu, fmt, limit)
    dd = [int(ln[0], 2) for ln in _lines(d / f"d_{gpu}_{out}.txt.gz", limit)]
    if (gpu, fmt, out) in ZERO_C_SETS:
        c = [0] * len(c)
    a, b = [list(r) for r in a], [list(r) for r in b]
    if out == "fp16":
        c = [round_fp32_to_fp16(x) for x in c]
    if not len(a) == len(b) == len(c) == len(dd):
        raise ValueError(f"{d}: files of different lengths")
    return HwSet(gpu, fmt, out, a, b, c, dd, SET_PRESETS[(gpu, fmt, out)])


# ---------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------
@dataclass
class SetResult:
    label: str
    preset: str
    cases: int
    matches: int
    zero_sign: int  # +0 vs -0 only
    nan_payload: int  # both NaN, different bits
    mismatches: list = field(default_factory=list)  # (case, expected bits, got bits)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.matches == self.cases


def _is_nan32(x):
    return (x & 0x7F800000) == 0x7F800000 and (x & 0x7FFFFF) != 0


def run_set(s: HwSet, preset=None, max_listed: int = 5, method: str = "reference") -> SetResult:
    """Run the set's preset (or the given preset name / AccumConfig) over every case of the
    set; compare bit for bit (FP16 results widened exactly to FP32 bits).

    method: 'reference' (the executable specification, one dot at a time) or 'fast' (the
    vectorized path, all cases in one batch; pinned to the reference by tests)."""
    if method not in ("reference", "fast"):
        raise ValueError(f"method={method!r}; allowed: 'reference', 'fast'")
    if isinstance(preset, AccumConfig):
        cfg, name = preset, "custom"
    else:
        p = get_preset(preset or s.preset)
        cfg, name = p.config, p.name
    ifmt = INPUT_FORMATS[s.fmt]
    t0 = time.perf_counter()
    res = SetResult(s.label, name, len(s.a), 0, 0, 0)
    if method == "fast":
        from .fast import dot_batch
        batch = dot_batch(s.a, s.b, ifmt, ifmt, None, None, s.c, cfg)[0].tolist()
    for i, (a, b, c, want) in enumerate(zip(s.a, s.b, s.c, s.d)):
        got = batch[i] if method == "fast" else dot(a, b, ifmt, ifmt, None, None, c, cfg)[0]
        if cfg.register.bits == 16:
            got = fp16_to_fp32(got)
        if got == want:
            res.matches += 1
        elif (got | want) & 0x7FFFFFFF == 0:
            res.zero_sign += 1
        elif _is_nan32(got) and _is_nan32(want):
            res.nan_payload += 1
        elif len(res.mismatches) < max_listed:
            res.mismatches.append((i, want, got))
    res.seconds = time.perf_counter() - t0
    return res


def validate(root=None, limit: int | None = None, sets=None, log=None,
             method: str = "reference") -> list:
    """Run every set under root (default: shared/hwdata, else the shipped subset)."""
    root = Path(root) if root is not None else (default_root() or shipped_root())
    results = []
    for key in list_sets(root):
        label = f"{key[0]}/{key[1]}->{key[2]}"
        if sets and label not in sets:
            continue
        r = run_set(load_set(root, *key, limit=limit), method=method)
        results.append(r)
        if log is not None:
            log.write(format_row(r) + "\n")
            log.flush()
    return results


def _f32(bits: int) -> str:
    import struct
    return repr(struct.unpack("<f", struct.pack("<I", bits))[0])


def format_row(r: SetResult) -> str:
    line = (f"{r.label:20} {r.preset:16} {r.matches:>5}/{r.cases:<5} zero-sign {r.zero_sign:>3} "
            f"nan-payload {r.nan_payload:>3}  ({r.seconds:.1f}s)")
    for i, want, got in r.mismatches:
        line += (f"\n    case {i}: hardware {want:#010x} ({_f32(want)}) model {got:#010x} "
                 f"({_f32(got)})")
    return line


def format_table(results) -> str:
    head = f"{'set':20} {'preset':16} {'match':>11}"
    return "\n".join([head] + [format_row(r) for r in results])


# ---------------------------------------------------------------------------------------
# The shipped subset
# ---------------------------------------------------------------------------------------
SUBSET_CASES = 500


def _gzip_bytes(text: str) -> bytes:
    """Deterministic gzip (no name, mtime 0)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
        gz.write(text.encode("ascii"))
    return buf.getvalue()


def subset_text(src_file: Path, n: int = SUBSET_CASES) -> str:
    """The first n lines of one data file, as text."""
    with gzip.open(src_file, "rt") as fh:
        out = []
        for line in fh:
            if len(out) >= n:
                break
            out.append(line if line.endswith("\n") else line + "\n")
    return "".join(out)


def make_subset(src_root, dst_root, n: int = SUBSET_CASES) -> list:
    """Write the first n cases of every file under src_root to dst_root (same layout, gzip);
    returns the files written. The licence travels with the data."""
    src_root, dst_root = Path(src_root), Path(dst_root)
    written = []
    for f in sorted(src_root.glob("*/*/*.txt.gz")):
        rel = f.relative_to(src_root)
        out = dst_root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(_gzip_bytes(subset_text(f, n)))
        written.append(out)
    lic = src_root / "LICENCE"
    if lic.is_file():
        (dst_root / "LICENCE").write_bytes(lic.read_bytes())
    return written


def main(argv=None, out=sys.stdout) -> int:
    ap = argparse.ArgumentParser(prog="python -m emulator.numerics.hwdata",
                                 description="Run the presets on real tensor-core outputs.")
    ap.add_argument("root", nargs="?", help="hwdata folder (default: ../shared/hwdata, else "
                    "golden/hardware)")
    ap.add_argument("--limit", type=int, default=None, help="cases per set (default: all)")
    ap.add_argument("--set", action="append", dest="sets", help="only this set, e.g. "
                    "B200/E4M3->fp32 (repeatable)")
    ap.add_argument("--make-subset", metavar="DST", help="write the first 500 cases of every "
                    "file to DST instead of validating")
    ap.add_argument("--method", choices=("fast", "reference"), default="fast",
                    help="the vectorized path (default) or the slow reference model")
    args = ap.parse_args(argv)
    root = args.root or default_root() or shipped_root()
    if args.make_subset:
        files = make_subset(root, args.make_subset)
        out.write(f"wrote {len(files)} files to {args.make_subset}\n")
        return 0
    out.write(f"hwdata: {os.path.abspath(root)}\n")
    results = validate(root, args.limit, args.sets, log=out, method=args.method)
    bad = [r for r in results if not r.ok]
    out.write(f"{len(results) - len(bad)} of {len(results)} sets match bit for bit\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
