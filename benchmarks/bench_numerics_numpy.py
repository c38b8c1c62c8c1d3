"""Benchmark: the numpy-vectorized bit-exact GEMM (`gemm_fast`) against numpy's float32 matmul.

For each size (128^3, 256^3 by default) and preset, times `emulator.numerics.gemm_fast` on
E4M3-quantized Gaussian operands (MX blocks of 32 along K, E8M0 scales; FP16 operands for the
FP16 preset) with an FP32 C, and, in the same process, `A_f32 @ B_f32 + C` in numpy
(single-threaded BLAS) on the dequantized values. The matmul is a speed yardstick only: it is
not bit-exact for any tensor unit. Optionally (--reference) times the pure-Python reference on
a slice of rows and extrapolates. Best of --reps runs.

    python benchmarks/bench_numerics_numpy.py [--sizes 128,256] [--reps 3]
        [--presets b200-mxf8f6f4,h100-fp8-wgmma,exact,a100-fp16] [--reference]
"""
from __future__ import annotations

import argparse
import os
import time

# Keep numpy's own threads out of the comparison (both sides single-threaded).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import emulator  # noqa: E402
from emulator.formats import FP16  # noqa: E402
from emulator.numerics import gemm, gemm_fast, get_preset  # noqa: E402

PRESETS = ("b200-mxf8f6f4", "h100-fp8-wgmma", "exact", "a100-fp16")


def operands(n: int, preset: str, seed: int = 0):
    """(A, B, C bits, A values, B values, C values) for an n x n x n GEMM."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, n)).astype(np.float32)
    y = rng.standard_normal((n, n)).astype(np.float32)
    c = rng.standard_normal((n, n)).astype(np.float32)
    if "fp16" in preset:
        a, b = FP16.encode(x).codes, FP16.encode(y).codes
        A, B = (a, FP16), (b, FP16)
        xv, yv = FP16.decode(a).astype(np.float32), FP16.decode(b).astype(np.float32)
    else:
        A, B = emulator.quantize(x, "e4m3", axis=1), emulator.quantize(y, "e4m3", axis=0)
        xv, yv = A.dequantize(np.float32), B.dequantize(np.float32)
    return A, B, c.view(np.uint32), xv, yv, c


def best(fn, reps: int) -> float:
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="128,256")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--presets", default=",".join(PRESETS))
    ap.add_argument("--reference", action="store_true",
                    help="also time the reference on 2 rows and extrapolate")
    args = ap.parse_args(argv)
    print(f"numpy {np.__version__}; backend {emulator.backend()}; best of {args.reps}")
    print(f"{'size':>5} {'preset':16} {'gemm_fast':>11} {'np.matmul':>11} {'ratio':>9}"
          + (f" {'reference (est.)':>17} {'speed-up':>9}" if args.reference else ""))
    for n in (int(s) for s in args.sizes.split(",")):
        for name in args.presets.split(","):
            cfg = get_preset(name).config
            A, B, cbits, xv, yv, cv = operands(n, name)
            t_fast = best(lambda: gemm_fast(A, B, cbits, cfg), args.reps)
            xv @ yv  # warm the BLAS up
            t_np = best(lambda: xv @ yv + cv, max(args.reps, 20))
            line = (f"{n:>5} {name:16} {t_fast * 1e3:>9.1f}ms {t_np * 1e3:>9.3f}ms "
                    f"{t_fast / t_np:>8.0f}x")
            if args.reference:
                rows = 2
                As = (A[0][:rows], A[1]) if isinstance(A, tuple) else _rows(A, rows)
                t = time.perf_counter()
                gemm(As, B, cbits[:rows], cfg)
                t_ref = (time.perf_counter() - t) * n / rows
                line += f" {t_ref:>15.1f}s {t_ref / t_fast:>8.0f}x"
            print(line, flush=True)
    return 0


def _rows(t, rows: int):
    """The first rows of an MXTensor blocked along axis 1."""
    from dataclasses import replace
    return replace(t, codes=t.codes[:rows], scales=t.scales[:rows],
                   shape=(rows,) + tuple(t.shape[1:]),
                   flags=None if t.flags is None else t.flags[:rows])


if __name__ == "__main__":
    raise SystemExit(main())
