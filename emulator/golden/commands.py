"""The `mxemu golden gen|check|adequacy|suite` and `mxemu verify` commands."""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from . import api, checking as chk, files, suite
from .spec import OPS

GEN_HELP = """examples:
  mxemu golden gen --op dot --preset b200-mxf8f6f4 --a e4m3 --b e2m1 -o out/mxf8
  mxemu golden gen --op dot --config my_unit.toml --a fp16 -n 100000 --shard 0/4 -o out/s0
  mxemu golden gen --op gemm --preset h100-fp16 --a fp16 --tile 4x8 --emit tv,memh -o out/g
"""


def _shard(text):
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed i/n, e.g. 0/4") from None
    return i, n


def _tile(text):
    try:
        m, n = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed MxN, e.g. 4x8") from None
    return m, n


def _add_gen_args(s):
    s.add_argument("--op", required=True, choices=OPS, help="operation (dot1: one block; "
                   "dot: several blocks/instructions with C; gemm: tiles)")
    s.add_argument("--a", required=True, help="element format of A (e4m3, fp16, ...)")
    s.add_argument("--b", help="element format of B (default: A's)")
    s.add_argument("--preset", help="a preset name (mxemu presets)")
    s.add_argument("--config", help="a TOML or JSON file: preset, [accum] knobs, "
                   "[quantize] policies (golden/README.md)")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--level", type=int, default=1, choices=(1, 2),
                   help="boundary coverage: 1 (default) or 2 (more crossings)")
    s.add_argument("-n", type=int, help="cases in the whole set (default: the boundary "
                   "table interleaved with as many random cases)")
    s.add_argument("-k", type=int, help="K of dot cases (default: one instruction)")
    s.add_argument("--tile", type=_tile, help="gemm tile MxN (default 4x4)")
    s.add_argument("--scale", help="block scales of dot cases: e8m0, ue4m3 or none "
                   "(default: the unit's, golden/README.md)")
    s.add_argument("--block", type=int, help="scale block length (default 32; ue4m3: 16)")
    s.add_argument("--shard", type=_shard, default=(0, 1), help="i/n: write part i of n")
    s.add_argument("--rounding", help="encode/quantize: element rounding (rne, rtz, ...)")
    s.add_argument("--scale-mode", help="quantize: floor, ceil, even, rceil")
    s.add_argument("--emit", default="tv,memh,jsonl",
                   help="formats to write, comma-separated: tv, memh, jsonl")
    s.add_argument("-o", "--out", required=True, help="output path without extension")
    s.add_argument("--no-progress", action="store_true")


def gen_parser():
    p = argparse.ArgumentParser(prog="mxemu golden gen", epilog=GEN_HELP,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_gen_args(p)
    return p


def spec_from_args(args):
    quant = {}
    if args.rounding:
        quant["rounding"] = args.rounding
    if args.scale_mode:
        quant["scale_mode"] = args.scale_mode
    return api.make_spec(args.op, args.a, args.b, preset=args.preset,
                         config_file=args.config, quant=quant or None, k=args.k,
                         seed=args.seed, level=args.level, n=args.n, shard=args.shard,
                         tile=args.tile, scale=args.scale, block=args.block)


_CANONICAL = (("--op", "op"), ("--preset", "preset"), ("--config", "config"), ("--a", "a"),
              ("--b", "b"), ("-k", "k"), ("--scale", "scale"), ("--block", "block"),
              ("--tile", "tile"), ("--rounding", "rounding"), ("--scale-mode", "scale_mode"),
              ("-n", "n"), ("--seed", "seed"), ("--level", "level"), ("--shard", "shard"),
              ("--emit", "emit"), ("-o", "out"))


def canonical_command(args) -> str:
    """The gen command in one canonical spelling (fixed option order, defaults left out
    except seed and level): the header's `command` line, the same bytes however the
    options were typed."""
    words = ["mxemu", "golden", "gen"]
    for flag, attr in _CANONICAL:
        v = getattr(args, attr)
        if v is None or (attr == "shard" and tuple(v) == (0, 1)):
            continue
        if attr in ("tile", "shard"):
            v = ("x" if attr == "tile" else "/").join(str(x) for x in v)
        words += [flag, str(v)]
    return shlex.join(words)


def _cmd_gen(args, out) -> int:
    spec = spec_from_args(args)
    emit = tuple(e.strip() for e in args.emit.split(",") if e.strip())
    paths = api.write_stream(spec, args.out, emit, command=canonical_command(args),
                             progress=not args.no_progress)
    out.write("\n".join(paths) + "\n")
    return 0


def _cmd_check(args, out) -> int:
    worst = 0
    for path in args.files:
        rep = chk.check(path, args.max_errors, args.diagnose, args.impl)
        out.write(rep.text())
        worst = max(worst, 0 if rep.ok else 1)
    return worst


def _cmd_verify(args, out) -> int:
    rep = chk.verify(args.vectors, args.results, args.max_errors, args.diagnose)
    out.write(rep.text())
    return 0 if rep.ok else 1


def adequacy_table(paths, root=None) -> str:
    """The adequacy table (markdown) of golden files: per file, per neighbour kind, the
    number of cases the neighbour computes differently."""
    head = "| file | cases | " + " | ".join(chk.COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(chk.COLUMNS) + 2)]
    for p in paths:
        g = files.read_tv(p)
        if g.spec.op not in ("dot1", "dot", "gemm"):
            continue
        cells = chk.adequacy_cells(g)
        name = Path(p).relative_to(root).as_posix() if root else str(p)
        lines.append(f"| {name} | {len(g)} | " + " | ".join(cells[c] for c in chk.COLUMNS)
                     + " |")
    return "\n".join(lines) + "\n"


def quant_adequacy_table(paths, root=None) -> str:
    """For encode and quantize files: cases that differ under each other rounding mode
    (and scale mode)."""
    lines = ["| file | cases | neighbours (differing cases) |", "|---|---|---|"]
    for p in paths:
        g = files.read_tv(p)
        if g.spec.op not in ("encode", "quantize"):
            continue
        rows = chk.adequacy(g)
        name = Path(p).relative_to(root).as_posix() if root else str(p)
        lines.append(f"| {name} | {len(g)} | " +
                     ", ".join(f"{r.label} {r.differing}" for r in rows) + " |")
    return "\n".join(lines) + "\n"


def _suite_files(paths):
    out = []
    for p in paths:
        p = Path(p)
        out += sorted(p.rglob("*.tv")) if p.is_dir() else [p]
    return out


def _cmd_adequacy(args, out) -> int:
    paths = _suite_files(args.files)
    if not paths:
        raise ValueError("no .tv files given")
    root = Path(args.files[0]) if len(args.files) == 1 and Path(args.files[0]).is_dir() \
        else None
    out.write(adequacy_table(paths, root))
    if any(files.read_tv(p).spec.op in ("encode", "quantize") for p in paths):
        out.write("\n" + quant_adequacy_table(paths, root))
    bad = []
    for p in paths:
        g = files.read_tv(p)
        if g.spec.op != "decode" and not chk.adequacy_ok(chk.adequacy(g)):
            bad.append(str(p))
    if bad:
        out.write("not adequate (a neighbour changes no case): " + ", ".join(bad) + "\n")
        return 1
    return 0


def _cmd_suite(args, out) -> int:
    man = suite.build(args.out, progress=not args.no_progress)
    out.write(f"{len(man['files'])} sets written under {args.out} (MANIFEST.json)\n")
    return 0


def add_commands(sub) -> None:
    """Register `golden` (gen, check, adequacy, suite) and `verify` on the mxemu parser."""
    g = sub.add_parser("golden", help="golden vectors: gen, check, adequacy, suite")
    gs = g.add_subparsers(dest="golden_command", required=True)
    s = gs.add_parser("gen", help="generate golden vectors", epilog=GEN_HELP,
                      formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_gen_args(s)
    s.set_defaults(func=_cmd_gen)
    s = gs.add_parser("check", help="recompute every case of golden files with the model")
    s.add_argument("files", nargs="+")
    s.add_argument("--max-errors", type=int, default=chk.DEFAULT_MAX_ERRORS)
    s.add_argument("--diagnose", action="store_true",
                   help="name the single-knob neighbour that explains the mismatches")
    s.add_argument("--impl", default="auto", choices=chk.IMPLS)
    s.set_defaults(func=_cmd_check)
    s = gs.add_parser("adequacy", help="print the adequacy table of golden files or dirs")
    s.add_argument("files", nargs="+")
    s.set_defaults(func=_cmd_adequacy)
    s = gs.add_parser("suite", help="regenerate the shipped suite and its MANIFEST.json")
    s.add_argument("--out", default="golden")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(func=_cmd_suite)
    s = sub.add_parser("verify", help="compare a device's result dump with golden vectors")
    s.add_argument("--vectors", required=True, help="the .tv (or .memh) file")
    s.add_argument("--results", required=True, help="the dump: one result per line, hex")
    s.add_argument("--max-errors", type=int, default=chk.DEFAULT_MAX_ERRORS)
    s.add_argument("--diagnose", action="store_true")
    s.set_defaults(func=_cmd_verify)
