"""The shipped conformance suite (golden/): what it holds, its manifest, its regeneration.

Dot files: for every preset, every element-format pair its unit takes (PAIRS below, from
the instruction families the presets model), one `dot` set (K = one instruction, at least
one scale block; golden/README.md lists K per preset) at level 1, seed 1, .tv only. Codec
files: encode, decode and quantize for each OCP MX element format (decode also FP16, BF16).
GEMM tiles: two examples with every format written (tv, memh and tensor images, svh,
jsonl). MANIFEST.json names, per file, the exact command, seed, level, policies, the model
versions and the sha256.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .. import __version__
from ..numerics import get_preset, preset_names
from . import api
from .spec import GOLDEN_VERSION, config_items

SEED = 1
MX = ("e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "int8")
FP8 = ("e4m3", "e5m2")
F8F6F4 = ("e4m3", "e5m2", "e3m2", "e2m3", "e2m1")


def _square(names):
    return [(a, b) for a in names for b in names]


def pairs(preset: str) -> list:
    """The (A, B) element-format pairs a preset's unit takes.

    fp16 / bf16 / tf32 paths: that format on both sides; the FP8 paths (mma.sync, WGMMA,
    and MXDOTP, an MXFP8 unit): E4M3 and E5M2 crossed; kind::mxf8f6f4: the five MX float
    formats crossed; kind::mxf4nvf4: E2M1 with UE4M3 scales (NVFP4); 'exact' (the OCP MX
    ideal): the six MX element formats crossed; fp32-fma-chain: FP32, FP16 and BF16."""
    name = get_preset(preset).name
    if name == "exact":
        return _square(MX)
    if name == "fp32-fma-chain":
        return [("fp32", "fp32"), ("fp16", "fp16"), ("bf16", "bf16")]
    if name == "mxdotp" or "fp8" in name:
        return _square(FP8)
    if "mxf8f6f4" in name:
        return _square(F8F6F4)
    if "mxf4nvf4" in name:
        return [("e2m1", "e2m1")]
    for f in ("tf32", "bf16", "fp16"):
        if f"-{f}" in name:
            return [(f, f)]
    raise ValueError(f"preset {preset!r}: no element-format pairs known for it")


GEMM_EXAMPLES = (("b200-mxf8f6f4", "e4m3", "e2m1", (4, 4)), ("h100-fp16", "fp16", "fp16",
                                                             (4, 4)))
CODEC_DECODE = MX + ("fp16", "bf16")


def entries() -> list:
    """(relative path without extension, argv of `mxemu golden gen` after 'gen', emit)."""
    out = []
    for p in preset_names():
        for a, b in pairs(p):
            out.append((f"dot/{p}/{a}-{b}", ["--op", "dot", "--preset", p, "--a", a,
                                             "--b", b], ("tv",)))
    for f in MX:
        out.append((f"codec/encode-{f}", ["--op", "encode", "--a", f], ("tv",)))
        out.append((f"codec/quantize-{f}", ["--op", "quantize", "--a", f], ("tv",)))
    for f in CODEC_DECODE:
        out.append((f"codec/decode-{f}", ["--op", "decode", "--a", f], ("tv",)))
    for p, a, b, (m, n) in GEMM_EXAMPLES:
        out.append((f"gemm/{p}-{a}-{b}", ["--op", "gemm", "--preset", p, "--a", a, "--b", b,
                                          "--tile", f"{m}x{n}"], ("tv", "memh")))
    # One set with every format written, as an example of each (golden/README.md).
    out.append(("examples/b200-mxf8f6f4-e4m3-e4m3", ["--op", "dot", "--preset",
                "b200-mxf8f6f4", "--a", "e4m3", "--b", "e4m3"], ("tv", "memh", "jsonl")))
    for _, argv, _ in out:
        argv += ["--seed", str(SEED), "--level", "1"]
    return out


def command(rel: str, argv: list, emit) -> str:
    """The canonical `mxemu golden gen` command that writes this entry."""
    from .commands import canonical_command, gen_parser
    return canonical_command(gen_parser().parse_args(
        argv + ["--emit", ",".join(emit), "-o", f"golden/{rel}"]))


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def spec_of(argv: list):
    """The Spec `mxemu golden gen argv` builds (the CLI's own parser)."""
    from .commands import spec_from_args, gen_parser
    return spec_from_args(gen_parser().parse_args(argv + ["-o", "x"]))


def build(root, progress=True, only=None) -> dict:
    """Generate the whole suite under `root` (the repository's golden/) and its
    MANIFEST.json; returns the manifest. `only`: a set of relative paths to generate."""
    root = Path(root)
    manifest = {"golden_version": GOLDEN_VERSION, "mxemu_version": __version__,
                "regenerate": "mxemu golden suite --out golden", "files": []}
    for rel, argv, emit in entries():
        if only is not None and rel not in only:
            continue
        spec = spec_of(argv)
        cmd = command(rel, argv, emit)
        paths = api.write_stream(spec, root / rel, emit, command=cmd, progress=progress)
        item = {"name": rel, "command": cmd, "op": spec.op, "seed": spec.seed,
                "level": spec.level, "files": {}}
        if spec.config is not None:
            item["preset"] = spec.preset
            item["config"] = dict(config_items(spec.config))
        else:
            item["policies"] = dict(spec.quant)
        for p in paths:
            item["files"][Path(p).relative_to(root).as_posix()] = sha256(p)
        manifest["files"].append(item)
    if only is None:
        (root / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest
