"""Golden generation speed: a million K=32 dot cases (issue 5, item 6: under a minute).

    python benchmarks/bench_golden.py                       # 1,000,000 cases, b200-mxf8f6f4
    python benchmarks/bench_golden.py -n 200000 --preset h100-fp8-wgmma --a e4m3

Times, in one process, `mxemu golden gen --op dot --emit tv` for N cases of K=32 (the
boundary table, the random cases, the expected results through `dot_batch` - the native C
kernel once the numerics dispatch to it, the numpy path before - and the .tv text),
written to a temporary directory, and splits out the time of `dot_batch` alone on the same
cases. The baseline, measured in the same process, is the scalar reference model `dot`
(the executable specification) on a sample of those cases, extrapolated to N; the ratio
is baseline / generation. It also checks that two shards of the set concatenate to the
unsharded file.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import emulator  # noqa: E402
from emulator.golden import api, checking, files, gen  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=1_000_000)
    p.add_argument("--preset", default="b200-mxf8f6f4")
    p.add_argument("--a", default="e4m3")
    p.add_argument("--b", default=None)
    p.add_argument("--sample", type=int, default=2000, help="cases run on the reference")
    args = p.parse_args(argv)
    spec = api.make_spec("dot", args.a, args.b, preset=args.preset, k=32, n=args.n)
    print(f"mxemu {emulator.__version__}, backend {emulator.backend()}; {args.n} dot cases, "
          f"K=32, {args.preset} {spec.a_fmt.name} x {spec.b_fmt.name}")
    with tempfile.TemporaryDirectory() as tmp:
        # 1. The whole generation, as `mxemu golden gen ... --emit tv` runs it.
        t0 = time.perf_counter()
        api.write_stream(spec, Path(tmp) / "big", ("tv",), progress=sys.stderr.isatty())
        t_gen = time.perf_counter() - t0
        size = (Path(tmp) / "big.tv").stat().st_size
        # 2. dot_batch alone on the same cases.
        g = files.read_tv(Path(tmp) / "big.tv")
        t0 = time.perf_counter()
        d, _ = gen.run_dot(spec, checking._cases(g))
        t_dot = time.perf_counter() - t0
        assert (d == g.data["d"][:, 0]).all()
        # 3. Two shards concatenate to the whole file's case lines.
        halves = []
        for i in range(2):
            s = api.make_spec("dot", args.a, args.b, preset=args.preset, k=32, n=args.n,
                              shard=(i, 2))
            api.write_stream(s, Path(tmp) / f"s{i}", ("tv",), progress=False)
            halves.append(_body(Path(tmp) / f"s{i}.tv"))
        same = b"".join(halves) == _body(Path(tmp) / "big.tv")
    # 4. The baseline: the scalar reference on a sample, extrapolated.
    rows = np.arange(0, len(g), max(1, len(g) // args.sample))[:args.sample]
    t0 = time.perf_counter()
    checking.recompute(g, "reference", rows=rows)
    t_ref = (time.perf_counter() - t0) / len(rows) * len(g)
    print(f"generation (tables + random + expected + .tv, {size / 2**20:.0f} MiB): "
          f"{t_gen:.1f} s  ({len(g) / t_gen:,.0f} cases/s)")
    print(f"  of which dot_batch on the {len(g)} cases:           {t_dot:.1f} s")
    print(f"baseline: scalar reference dot, {len(rows)} cases extrapolated: {t_ref:.1f} s")
    print(f"ratio baseline / generation: {t_ref / t_gen:.1f}x;  under a minute: "
          f"{'yes' if t_gen < 60 else 'NO'};  shards 0/2 + 1/2 == whole: {same}")
    return 0


def _body(path: Path) -> bytes:
    return b"".join(ln for ln in path.read_bytes().splitlines(keepends=True)
                    if not ln.startswith(b"#"))


if __name__ == "__main__":
    sys.exit(main())
