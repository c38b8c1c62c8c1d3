"""Benchmark: `TensorCore.estimate` of a 16384^3 GEMM against a numpy 1024^2 FP32 matmul.

The cycle model is closed-form per chunk and jumps over periodic runs of chunks (docs/
TIMING.md 3.3), so estimating the 1,048,576-chunk schedule of a 16384^3 GEMM costs about as
much as a small dense matmul. Both are timed in this process (best of --reps), numpy pinned
to one thread; the ratio is what to compare across machines.

    python benchmarks/bench_estimate.py [--reps 7] [--size 16384]
"""
from __future__ import annotations

import argparse
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from emulator import TensorCore  # noqa: E402
from emulator.timing import timing_preset_names  # noqa: E402


def best(fn, reps):
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--size", type=int, default=16384)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((1024, 1024)).astype(np.float32)
    b = rng.standard_normal((1024, 1024)).astype(np.float32)
    base = best(lambda: a @ b, args.reps)
    n = args.size
    print(f"baseline: numpy 1024^2 float32 matmul  {base * 1e3:9.3f} ms")
    print(f"{'timing preset':24} {'formats':11} {'estimate ' + str(n) + '^3':>18} "
          f"{'x baseline':>10} {'cycles':>16}")
    for name in timing_preset_names():
        tc = TensorCore("exact", name)
        for formats in (("e4m3", "e4m3"), ("e2m1", "e2m1")):
            t = best(lambda: tc.estimate(n, n, n, formats), args.reps)
            rep = tc.estimate(n, n, n, formats)
            print(f"{name:24} {'/'.join(formats):11} {t * 1e3:15.3f} ms {t / base:10.3f} "
                  f"{rep.total_cycles:16,}")


if __name__ == "__main__":
    main()
