"""The Python API of golden generation: build a Spec, generate its cases, write files.

    from emulator.golden import make_spec, generate, write_all
    spec = make_spec("dot", "e4m3", "e4m3", preset="b200-mxf8f6f4", seed=1, level=1)
    g = generate(spec)                    # a GoldenFile: header + every field's codes
    write_all(g, "out/mxf8", emit=("tv", "memh", "jsonl"))

Large sets stream: `generate_chunks(spec)` yields GoldenFiles of at most CHUNK cases and
`write_stream` writes them as they come (with a progress bar on a terminal).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..numerics import AccumConfig, get_preset
from . import files, gen
from .spec import (DOT_OPS, QUANT_DEFAULTS, Spec, default_k, default_scale, load_config_file,
                   parse_format)

CHUNK = 1 << 16  # cases per generated chunk (bounds memory on million-case sets)


def make_spec(op: str, a_fmt, b_fmt=None, *, preset=None, config: AccumConfig | None = None,
              config_file=None, quant: dict | None = None, k: int | None = None,
              seed: int = 1, level: int = 1, n: int | None = None, shard=(0, 1),
              tile=None, scale=None, block: int | None = None) -> Spec:
    """A Spec from names: preset or config (or a TOML/JSON config file) for dot ops,
    quantization policies for encode/quantize. Dot ops default b_fmt to a_fmt, the scale
    format and block to the unit's (spec.default_scale; scale='none', 'e8m0' or 'ue4m3'
    and block override it) and K to spec.default_k."""
    a = parse_format(a_fmt, "a_fmt")
    q = dict(QUANT_DEFAULTS)
    pname = None
    if config_file is not None:
        loaded = load_config_file(config_file)
        config = loaded["config"] if config is None else config
        pname = loaded["preset"]
        q.update(loaded["quant"])
    if quant:
        q.update(quant)
    if op not in DOT_OPS:
        if op == "quantize" and a.bits > 8:
            raise ValueError(f"a_fmt={a.name}: quantize takes an MX element format "
                             "(e4m3, e5m2, e3m2, e2m3, e2m1, int8)")
        return Spec(op, a, quant=q, seed=seed, level=level, n=n, shard=tuple(shard),
                    block=32 if op == "quantize" else None)
    if preset is not None:
        if config is not None:
            raise ValueError("give either preset or config (or a config file), not both")
        pname = get_preset(preset).name
        config = get_preset(preset).config
    if config is None:
        raise ValueError(f"op={op}: a preset or a config is needed")
    b = parse_format(b_fmt if b_fmt is not None else a, "b_fmt")
    sfmt, block = default_scale(a, b, config, pname, scale, block)
    if k is None:
        k = default_k(op, config, block)
    if not isinstance(k, int) or k < 1 or (block and k % block):
        raise ValueError(f"k={k!r}; allowed: a positive int" +
                         (f", a multiple of the block ({block})" if block else ""))
    if config.instruction_k and k % config.instruction_k and config.k_split != "sequential":
        raise ValueError(f"k={k}: k_split={config.k_split!r} needs K a multiple of "
                         f"instruction_k={config.instruction_k}")
    if op == "gemm":
        tile = tuple(tile or (4, 4))
        if len(tile) != 2 or min(tile) < 1:
            raise ValueError(f"tile={tile!r}; allowed: (M, N) positive ints")
    return Spec(op, a, b, sfmt, block, k, config, pname, q, seed, level, n, tuple(shard), tile)


def generate_chunks(spec: Spec, command: str = "", chunk: int = CHUNK):
    """Yield the spec's cases as GoldenFiles of at most `chunk` cases, in order."""
    table, total, index = gen.plan(spec)
    if spec.op == "gemm":
        per = spec.tile[0] * spec.tile[1]
        chunk = max(per, chunk // per * per)
    if not len(index):
        yield files.make(spec, gen.inputs_for(spec, table, index) if spec.op not in DOT_OPS
                         else gen._empty(spec), _empty_out(spec), total, index, command)
        return
    for s in range(0, len(index), chunk):
        idx = index[s:s + chunk]
        inputs = gen.inputs_for(spec, table, idx)
        g = files.make(spec, inputs, gen.expected(spec, inputs), total, idx, command)
        # Every chunk carries the shard's header (cases, first case) for the writer.
        g.header.update(cases=str(len(index)), first_case=str(int(index[0])))
        yield g


def _empty_out(spec):
    return {name: np.zeros(0, np.int64) for name in files.RESULTS[spec.op]}


def concat(parts: list) -> files.GoldenFile:
    first = parts[0]
    data = {k: np.concatenate([p.data[k] for p in parts]) for k in first.data}
    return files.GoldenFile(first.spec, first.header, np.concatenate([p.index for p in parts]),
                            data)


def generate(spec: Spec, command: str = "") -> files.GoldenFile:
    """The whole shard in memory (for sets of up to a few hundred thousand cases)."""
    return concat(list(generate_chunks(spec, command)))


class Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, label: str, stream=None):
        self.total, self.label, self.done = max(total, 1), label, 0
        self.stream = stream if stream is not None else sys.stderr
        self.on = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, n: int):
        self.done += n
        if self.on:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(30 * frac)
            self.stream.write(f"\r{self.label} [{bar:<30}] {100 * frac:5.1f}% "
                              f"{self.done}/{self.total}")
            self.stream.flush()

    def close(self):
        if self.on:
            self.stream.write("\n")
            self.stream.flush()


def write_stream(spec: Spec, base, emit=("tv",), command: str = "", progress=True) -> list:
    """Generate and write the spec's shard chunk by chunk; returns the paths written.
    GEMM tensor images and JSON Lines are written from the whole shard at the end."""
    bad = sorted(set(emit) - set(files.EMITS))
    if bad:
        raise ValueError(f"emit {','.join(bad)}; allowed: {', '.join(files.EMITS)}")
    base = str(base)
    Path(base).parent.mkdir(parents=True, exist_ok=True)
    _, total, index = gen.plan(spec)
    bar = Progress(len(index), Path(base).name) if progress else None
    outs = {}
    if "tv" in emit:
        outs["tv"] = open(base + ".tv", "wb")
    if "memh" in emit:
        outs["memh"] = open(base + ".memh", "wb")
    keep = [] if ("jsonl" in emit or (spec.op == "gemm" and "memh" in emit)) else None
    first = None
    try:
        for g in generate_chunks(spec, command):
            if first is None:
                first = g
                if "tv" in outs:
                    outs["tv"].write(files.header_text(g, "#").encode())
                if "memh" in outs:
                    outs["memh"].write(files.header_text(g, "//").encode())
            if len(g):
                if "tv" in outs:
                    outs["tv"].write(files._char_matrix(g, b" ").tobytes())
                if "memh" in outs:
                    outs["memh"].write(files._char_matrix(g, b"_").tobytes())
            if keep is not None:
                keep.append(g)
            if bar:
                bar.update(len(g))
    finally:
        for fh in outs.values():
            fh.close()
        if bar:
            bar.close()
    paths = [base + "." + e for e in ("tv", "memh") if e in outs]
    if "memh" in emit:
        Path(base + ".svh").write_text(files.svh_text(first, Path(base).name))
        paths.append(base + ".svh")
    if keep:
        whole = concat(keep)
        if spec.op == "gemm" and "memh" in emit:
            paths += files.write_gemm_images(whole, base)
        if "jsonl" in emit:
            files.write_jsonl(whole, base + ".jsonl")
            paths.append(base + ".jsonl")
    return paths
