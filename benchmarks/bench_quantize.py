"""Benchmark: MX quantization on the native backend vs a plain numpy + ml_dtypes quantizer.

For each OCP MX element format, quantizes 4M FP32 Gaussian values (blocks of 32, along the
last axis) with `emulator.quantize` on the native backend (the C core is single-threaded), and
times, in the same process, a straightforward vectorised numpy block quantizer: the shared
exponent from np.frexp of the block amax, a division, a clip to the largest normal, and an
ml_dtypes cast (np.rint + clip for INT8).  The baseline is a speed yardstick only: it is not
bit-exact (e.g. ml_dtypes rounds E8M0 differently and it sets no flags).  Best of --reps runs.

    python benchmarks/bench_quantize.py [--n 4194304] [--reps 7] [--formats e4m3,e2m1]
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

# Keep numpy's own threads out of the comparison (both sides single-threaded).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import emulator  # noqa: E402
from emulator import _backend  # noqa: E402
from emulator.formats import get_format  # noqa: E402

FORMATS = ("e4m3", "e5m2", "e3m2", "e2m3", "e2m1", "int8")
_ML_NAMES = {"e4m3": "float8_e4m3fn", "e5m2": "float8_e5m2", "e3m2": "float6_e3m2fn",
             "e2m3": "float6_e2m3fn", "e2m1": "float4_e2m1fn"}


def baseline_quantizer(name: str):
    """A plain numpy (+ ml_dtypes) MX quantizer for one element format."""
    fmt = get_format(name)
    emax, max_normal = fmt.emax, fmt.max_normal
    if fmt.kind == "int":
        step = float(2 ** fmt.man_bits)
        lim = float(fmt.max_code)

        def cast(y):
            return np.clip(np.rint(y * step), -lim, lim).astype(np.int8)
    else:
        import ml_dtypes
        dt = getattr(ml_dtypes, _ML_NAMES[name])

        def cast(y):
            return y.astype(dt)

    def quantize(x, block_size=32):
        blocks = x.reshape(-1, block_size)
        amax = np.max(np.abs(blocks), axis=1, keepdims=True)
        _, e = np.frexp(amax)                      # amax = m * 2^e, m in [0.5, 1)
        k = np.clip(e - 1 - emax, -127, 127)       # floor(log2 amax) - emax
        k = np.where(amax == 0, -127, k)
        scale = np.ldexp(np.float32(1.0), k).astype(np.float32)
        y = np.clip(blocks / scale, -max_normal, max_normal)
        return cast(y), (k + 127).astype(np.uint8)

    return quantize


def best_time(fn, reps):
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4 * 1024 * 1024, help="values per format")
    ap.add_argument("--reps", type=int, default=7, help="repetitions (best is reported)")
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    if "native" not in _backend.available():
        print("the native backend is not available (build it with `pip install .`)")
        return 1
    x = np.random.default_rng(args.seed).standard_normal(args.n).astype(np.float32)
    x = x.reshape(-1, 1024) if args.n % 1024 == 0 else x

    print(f"MX quantization of {args.n} FP32 Gaussian values, block {args.block}, "
          f"best of {args.reps}; native backend (single thread) vs numpy+ml_dtypes")
    head = f"{'format':<7} {'native ms':>10} {'native Melem/s':>15} {'baseline ms':>12} " \
           f"{'baseline Melem/s':>17} {'ratio':>7}"
    print(head)
    print("-" * len(head))
    with _backend.using("native"):
        for name in args.formats.split(","):
            fmt = get_format(name)
            base = baseline_quantizer(fmt.name)
            def run_native():
                return emulator.quantize(x, fmt, block_size=args.block)

            def run_base():
                return base(x, args.block)

            run_native(), run_base()  # warm up: first-touch page faults, caches
            t_nat = best_time(run_native, args.reps)
            t_base = best_time(run_base, args.reps)
            print(f"{fmt.name:<7} {t_nat * 1e3:>10.2f} {args.n / t_nat / 1e6:>15.1f} "
                  f"{t_base * 1e3:>12.2f} {args.n / t_base / 1e6:>17.1f} "
                  f"{t_nat / t_base:>7.3f}")
    print("ratio = native time / baseline time (target <= 0.1 for e4m3 and e2m1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
