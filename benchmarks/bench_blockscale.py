"""Benchmark: native `quantize_blocks` and the promotion FMA vs their numpy reference paths.

Times, in one process on the native backend, `emulator.blockscale.quantize_blocks` (the C
kernel native/src/blockscale.c, single-threaded) against the module's numpy reference path
`_quantize_reference` (vectorised numpy; its one rounding per element is the C encoder), for
the DeepSeek-V3 shapes: 1 x 128 activation groups and 128 x 128 weight tiles with FP32 scales
and E4M3 elements, plus UE8M0 scales, and 1-D blocks down the columns (a K x N operand blocked
along K). Then `fma_round` (mxemu_fma_round) against
`_fma_round_reference` (float64 TwoSum + round to odd in numpy). Both sides give the same
bits (checked here); best of --reps runs; prints the ratios.

    python benchmarks/bench_blockscale.py [--rows 2048] [--cols 2048] [--reps 5]
"""
from __future__ import annotations

import argparse
import os
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from emulator import _backend  # noqa: E402
from emulator import blockscale as bs  # noqa: E402
from emulator.formats import E4M3, FP32  # noqa: E402
from emulator.numerics import twolevel as tl  # noqa: E402
from emulator.rounding import Rounding  # noqa: E402


def best_time(fn, reps):
    best, out = float("inf"), None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2048)
    ap.add_argument("--cols", type=int, default=2048)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if "native" not in _backend.available():
        print("the native backend is not available; nothing to compare")
        return 1
    rng = np.random.default_rng(args.seed)
    x = (rng.standard_normal((args.rows, args.cols))
         * np.exp2(rng.integers(-4, 4, (1, args.cols)))).astype(np.float32)
    n = x.size
    print(f"quantize_blocks, {args.rows} x {args.cols} FP32 values, E4M3 elements, best of "
          f"{args.reps}")
    print(f"{'case':<22} {'native ms':>10} {'numpy ms':>10} {'ratio':>8} {'Mvals/s':>9}")
    with _backend.using("native"):
        for block, kind in (((1, 128), "fp32"), ((128, 128), "fp32"), ((128, 1), "fp32"),
                            ((1, 128), "ue8m0"), ((128, 128), "ue8m0"), ((32, 1), "ue8m0")):
            t_nat, T = best_time(lambda: bs.quantize_blocks(x, E4M3, block, kind), args.reps)
            t_ref, ref = best_time(lambda: bs._quantize_reference(
                x, E4M3, block, kind, Rounding.RNE, Rounding.RNE, "block", None, None),
                args.reps)
            same = (np.array_equal(T.codes, ref[0]) and np.array_equal(T.scales, ref[1])
                    and np.array_equal(T.flags, ref[2]))
            if not same:
                print(f"MISMATCH for {block} {kind}")
                return 1
            name = f"{block[0]}x{block[1]} {kind}"
            print(f"{name:<22} {t_nat * 1e3:10.1f} {t_ref * 1e3:10.1f} {t_ref / t_nat:7.1f}x "
                  f"{n / t_nat / 1e6:9.1f}")

        # The promotion FMA on FP32 values, a third of them cancelling.
        m = min(n, 1 << 20)
        p, s, c = (rng.standard_normal(m).astype(np.float32).astype(np.float64)
                   for _ in range(3))
        c[::3] = -(p[::3] * s[::3]).astype(np.float32)
        t_nat, got = best_time(lambda: tl.fma_round(p, s, c), args.reps)
        t_ref, want = best_time(lambda: tl._fma_round_reference(p, s, c, FP32, Rounding.RNE,
                                                                "all_ones"), args.reps)
        if not (np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])):
            print("MISMATCH for fma_round")
            return 1
        print(f"{'fma_round FP32':<22} {t_nat * 1e3:10.1f} {t_ref * 1e3:10.1f} "
              f"{t_ref / t_nat:7.1f}x {m / t_nat / 1e6:9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
