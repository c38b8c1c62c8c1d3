"""What a golden file is: the operation, formats, numerics config and policies, seed, level.

`Spec` is everything the generator needs; it is written into every file's header (one
`# key: value` line per item, every AccumConfig knob included) and read back from it, so a
file is self-describing: `check` rebuilds the Spec from the header alone.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, fields
from pathlib import Path

from .. import __version__
from ..formats import E8M0, UE4M3, FORMATS, Format, get_format
from ..numerics import AccumConfig, get_preset
from ..rounding import Rounding

# The version of the golden model: the file layout, the case generator (boundary tables and
# the random streams) and the meaning of every header key. It changes whenever the same
# arguments would give different bytes; mxemu_version names the numerics model.
GOLDEN_VERSION = 1

OPS = ("encode", "decode", "quantize", "dot1", "dot", "gemm")
DOT_OPS = ("dot1", "dot", "gemm")
LEVELS = (1, 2)

# Quantization policies (op encode and quantize) and their defaults; names as in
# emulator.quantize.quantize and Format.encode.
QUANT_DEFAULTS = {"rounding": "rne", "overflow": "default", "scale_mode": "floor",
                  "nan_policy": "block", "inf_policy": "block", "zero_block_scale": 0,
                  "subnormal_inputs": "keep"}


def parse_format(name, argname: str = "format") -> Format:
    """A Format from its name, including the custom IEEE-style 'eXmY' (e.g. e8m13)."""
    if isinstance(name, Format):
        return name
    text = str(name).strip().lower()
    m = re.fullmatch(r"e(\d+)m(\d+)", text)
    try:
        if text not in FORMATS and m:
            return Format.custom(int(m.group(1)), int(m.group(2)))
        return get_format(text)
    except ValueError as exc:
        raise ValueError(f"{argname}={name!r}: {exc}; allowed: {', '.join(FORMATS)} or a "
                         "custom IEEE-style eXmY") from None


def knob_text(value) -> str:
    """One AccumConfig value as header text (formats by name, roundings lower-case)."""
    if value is None:
        return "none"
    if isinstance(value, Format):
        return value.name
    if isinstance(value, Rounding):
        return value.name.lower()
    return str(value)


_FORMAT_KNOBS = ("product_format", "output_format", "register_format", "step_format")
_ROUNDING_KNOBS = ("product_rounding", "rounding", "step_rounding")


def knob_value(name: str, text):
    """Inverse of knob_text for the AccumConfig field `name` (JSON/TOML values pass too)."""
    if text is None or (isinstance(text, str) and text.strip().lower() == "none"):
        return None
    if name in _FORMAT_KNOBS:
        return parse_format(text)
    if name in _ROUNDING_KNOBS:
        return str(text).strip().lower()
    default = next(f.default for f in fields(AccumConfig) if f.name == name)
    if isinstance(text, str) and (isinstance(default, int) or default is None):
        t = text.strip()
        if re.fullmatch(r"-?\d+", t):
            return int(t)
    return text.strip() if isinstance(text, str) else text


def config_items(cfg: AccumConfig):
    """(name, text) for every AccumConfig knob, in field order."""
    return [(f.name, knob_text(getattr(cfg, f.name))) for f in fields(AccumConfig)]


def config_from_items(items: dict, base: AccumConfig | None = None) -> AccumConfig:
    """An AccumConfig from {knob: value} (unknown knobs are an error naming them)."""
    names = {f.name for f in fields(AccumConfig)}
    bad = sorted(set(items) - names)
    if bad:
        raise ValueError(f"unknown AccumConfig knob(s) {', '.join(bad)}; allowed: "
                         f"{', '.join(sorted(names))}")
    vals = {k: knob_value(k, v) for k, v in items.items()}
    return (base or AccumConfig()).replace(**vals)


@dataclass(frozen=True)
class Spec:
    """One golden set. Dot ops use a_fmt, b_fmt, scale_fmt/block (None: unscaled), k and
    config; encode/decode use a_fmt (and quant policies); quantize uses a_fmt, block, quant.
    n is the size of the whole set; shard (i, count) selects a contiguous part of it."""

    op: str
    a_fmt: Format
    b_fmt: Format | None = None
    scale_fmt: Format | None = None
    block: int | None = None
    k: int | None = None
    config: AccumConfig | None = None
    preset: str | None = None
    quant: dict = field(default_factory=lambda: dict(QUANT_DEFAULTS))
    seed: int = 1
    level: int = 1
    n: int | None = None
    shard: tuple = (0, 1)
    tile: tuple | None = None  # gemm: (M, N)

    def __post_init__(self):
        if self.op not in OPS:
            raise ValueError(f"op={self.op!r}; allowed: {', '.join(OPS)}")
        if self.level not in LEVELS:
            raise ValueError(f"level={self.level!r}; allowed: 1 or 2")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2 ** 63:
            raise ValueError(f"seed={self.seed!r}; allowed: an int in 0..2**63-1")
        i, cnt = self.shard
        if not (isinstance(cnt, int) and cnt >= 1 and isinstance(i, int) and 0 <= i < cnt):
            raise ValueError(f"shard={i}/{cnt}; allowed: i/n with 0 <= i < n")
        if self.n is not None and (not isinstance(self.n, int) or self.n < 1):
            raise ValueError(f"n={self.n!r}; allowed: a positive int")
        bad = sorted(set(self.quant) - set(QUANT_DEFAULTS))
        if bad:
            raise ValueError(f"unknown quantization policy {', '.join(bad)}; allowed: "
                             f"{', '.join(QUANT_DEFAULTS)}")

    @property
    def c_fmt(self) -> Format:
        return self.config.register

    def header_items(self) -> list:
        """(key, text) pairs of the header, in order (see golden/README.md)."""
        out = [("golden_version", str(GOLDEN_VERSION)), ("mxemu_version", __version__),
               ("op", self.op), ("a_format", self.a_fmt.name)]
        if self.op in DOT_OPS:
            out += [("b_format", self.b_fmt.name),
                    ("scale_format", self.scale_fmt.name if self.scale_fmt else "none"),
                    ("block", str(self.block) if self.block else "none"), ("k", str(self.k)),
                    ("c_format", self.c_fmt.name), ("result_format", self.c_fmt.name),
                    ("preset", self.preset or "none")]
            if self.op == "gemm":
                out.append(("tile", f"{self.tile[0]}x{self.tile[1]}"))
            out += [(f"config.{k}", v) for k, v in config_items(self.config)]
        else:
            if self.op == "quantize":
                out.append(("block", str(self.block)))
            out += [(f"quantize.{k}", str(v)) for k, v in self.quant.items()]
        out += [("seed", str(self.seed)), ("level", str(self.level))]
        return out


def spec_from_header(h: dict) -> Spec:
    """The Spec a header describes (the inverse of Spec.header_items plus n and shard)."""
    def need(key):
        if key not in h:
            raise ValueError(f"header has no '{key}' line: not an mxemu golden file?")
        return h[key]
    if int(need("golden_version")) != GOLDEN_VERSION:
        raise ValueError(f"golden_version {h['golden_version']}: this mxemu reads version "
                         f"{GOLDEN_VERSION}")
    op = need("op")
    kw = dict(op=op, a_fmt=parse_format(need("a_format")), seed=int(need("seed")),
              level=int(need("level")), n=int(need("total_cases")),
              shard=tuple(int(x) for x in need("shard").split("/")))
    if op in DOT_OPS:
        knobs = {k[7:]: v for k, v in h.items() if k.startswith("config.")}
        sf = need("scale_format")
        kw.update(b_fmt=parse_format(need("b_format")),
                  scale_fmt=None if sf == "none" else parse_format(sf),
                  block=None if need("block") == "none" else int(h["block"]),
                  k=int(need("k")), config=config_from_items(knobs),
                  preset=None if need("preset") == "none" else h["preset"])
        if op == "gemm":
            kw["tile"] = tuple(int(x) for x in need("tile").split("x"))
    else:
        q = {k[9:]: v for k, v in h.items() if k.startswith("quantize.")}
        if "zero_block_scale" in q:
            q["zero_block_scale"] = int(q["zero_block_scale"])
        kw["quant"] = q
        if op == "quantize":
            kw["block"] = int(need("block"))
    return Spec(**kw)


def load_config_file(path) -> dict:
    """A config file (TOML or JSON): {"preset": name?, "accum": {knob: value},
    "quantize": {policy: value}} -> {"preset", "config", "quant"}."""
    p = Path(path)
    text = p.read_text()
    if p.suffix.lower() == ".toml":
        import tomllib
        data = tomllib.loads(text)
    elif p.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        raise ValueError(f"--config {path}: allowed a .toml or .json file")
    bad = sorted(set(data) - {"preset", "accum", "quantize"})
    if bad:
        raise ValueError(f"--config {path}: unknown section(s) {', '.join(bad)}; allowed: "
                         "preset, accum, quantize")
    preset = data.get("preset")
    base = get_preset(preset).config if preset else AccumConfig()
    cfg = config_from_items(dict(data.get("accum", {})), base)
    quant = dict(QUANT_DEFAULTS)
    for k, v in data.get("quantize", {}).items():
        if k not in QUANT_DEFAULTS:
            raise ValueError(f"--config {path}: unknown quantize policy {k!r}; allowed: "
                             f"{', '.join(QUANT_DEFAULTS)}")
        quant[k] = v
    return {"preset": get_preset(preset).name if preset else None, "config": cfg,
            "quant": quant}


def default_scale(a_fmt: Format, b_fmt: Format, config: AccumConfig, preset=None,
                  scale=None, block=None):
    """(scale format or None, block) of dot cases. scale: 'none', a scale format name, or
    None for the unit's own: the FP8 paths of the presets named '*fp8*' (mma.sync, WGMMA)
    take plain FP8 operands; other configs take E8M0 scales on blocks of 32 for element
    formats of 8 bits or fewer (OCP MX), except 'scale_blocks' configs with block_terms=16
    (NVFP4: UE4M3 on 16); FP16/BF16/TF32/FP32 operands are unscaled."""
    if scale is None:
        if a_fmt.bits > 8 or b_fmt.bits > 8 or (preset and "fp8" in str(preset)):
            return None, None
        if config.k_split == "scale_blocks" and config.block_terms == 16:
            scale, default_block = UE4M3, 16
        else:
            scale, default_block = E8M0, 32
    elif str(scale).lower() == "none":
        return None, None
    else:
        scale = parse_format(scale)
        if scale not in (E8M0, UE4M3):
            raise ValueError(f"scale={scale.name}; allowed: e8m0, ue4m3 or none")
        default_block = 16 if scale == UE4M3 else 32
    block = block or default_block
    if not isinstance(block, int) or block < 1:
        raise ValueError(f"block={block!r}; allowed: a positive int")
    return scale, block


def default_k(op: str, config: AccumConfig, block) -> int:
    """K of a dot case: one scale block or instruction (dot1); for dot and gemm one
    instruction, at least one block, and two blocks (or 16 products) when the config fuses
    the whole K (so the chain of blocks is exercised)."""
    ik = config.instruction_k
    bs = block or 1
    if op == "dot1":
        return bs if block else (ik or 16)
    if ik is None:
        return 2 * bs if block else 16
    k = max(ik, bs, 8 if not block else 0)
    return -(-k // bs) * bs


__all__ = ["GOLDEN_VERSION", "OPS", "DOT_OPS", "Spec", "spec_from_header", "parse_format",
           "load_config_file", "default_scale", "default_k", "config_items", "knob_text",
           "QUANT_DEFAULTS"]
