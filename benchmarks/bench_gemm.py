"""Native MX GEMM speed against numpy FP32 matmul (issue 4, item 7).

    python benchmarks/bench_gemm.py                       # 512^3 and 1024^3, key presets
    python benchmarks/bench_gemm.py --sizes 256 --presets all
    python benchmarks/bench_gemm.py --threads 2           # also the 2-thread speed-up

In one process and single-threaded (BLAS limited to one thread with threadpoolctl when it is
installed, the native kernel with threads=1), it times, on Gaussian data quantized to MX
(blocks of 32 along K, E8M0 scales; E2M1 elements for b200-mxf4nvf4; E4M3 operands for the
plain FP8 presets, FP16 / BF16 / TF32 for the others), `gemm_native` for each preset against
numpy float32 matmul of the same shape, and prints the time ratios with the issue's targets
(b200-mxf8f6f4 <= 10x, h100-fp8-wgmma <= 20x, exact <= 5x, every other preset <= 40x,
two-thread speed-up >= 1.7x). Quantization is not timed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import emulator  # noqa: E402
from emulator.formats import BF16, E4M3, FP16, TF32  # noqa: E402
from emulator.numerics import get_preset, preset_names  # noqa: E402
from emulator.numerics import native as NV  # noqa: E402

TARGETS = {"b200-mxf8f6f4": 10.0, "h100-fp8-wgmma": 20.0, "exact": 5.0}
KEY_PRESETS = ["b200-mxf8f6f4", "h100-fp8-wgmma", "exact", "b200-mxf4nvf4", "mxdotp"]


def _blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed (BLAS threads not limited)"
    out = []
    for p in threadpool_info():
        if p.get("user_api") == "blas":
            out.append(f"{p.get('internal_api')} {p.get('version')} "
                       f"arch={p.get('architecture')} threads={p.get('num_threads')}")
    return "; ".join(out) or "no BLAS found by threadpoolctl"


def _limit_blas():
    try:
        from threadpoolctl import threadpool_limits
        return threadpool_limits(limits=1, user_api="blas")
    except ImportError:
        return None


def _best(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def operands(name: str, x: np.ndarray, y: np.ndarray):
    """The preset's natural operands for A = x (M x K), B = y (K x N)."""
    if "mxf4nvf4" in name:  # E2M1 with E8M0 scales of 32 (block_terms=16 in the preset)
        return emulator.quantize(x, "e2m1", axis=1), emulator.quantize(y, "e2m1", axis=0)
    if name.startswith("b200-mxf8") or name in ("exact", "mxdotp", "fp32-fma-chain"):
        return emulator.quantize(x, "e4m3", axis=1), emulator.quantize(y, "e4m3", axis=0)
    fmt = {"fp8": E4M3, "fp16": FP16, "bf16": BF16, "tf32": TF32}[name.split("-")[1]]
    return (fmt.encode(x).codes, fmt), (fmt.encode(y).codes, fmt)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    ap.add_argument("--presets", nargs="+", default=KEY_PRESETS,
                    help="preset names, or 'all'")
    ap.add_argument("--threads", type=int, default=2,
                    help="thread count of the speed-up measurement (0: skip)")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args(argv)
    names = preset_names() if args.presets == ["all"] else args.presets
    if not NV.available():
        sys.exit("the native module emulator._native (with _gemm) is not available")
    limiter = _limit_blas()
    print(f"BLAS: {_blas_info()}")
    print(f"numpy {np.__version__}; native kernel single-threaded (threads=1)")
    rows = []
    for size in args.sizes:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((size, size)).astype(np.float32)
        y = rng.standard_normal((size, size)).astype(np.float32)
        print(f"\n{size}^3:")
        for name in names:
            cfg = get_preset(name).config
            A, B = operands(name, x, y)
            # interleaved rounds (numpy, native, native on N threads): on a shared machine
            # each minimum then comes from the same quiet moments as the others
            fns = [lambda: x @ y, lambda: NV.gemm_native(A, B, None, cfg, threads=1)]
            if args.threads and args.threads > 1:
                fns.append(lambda: NV.gemm_native(A, B, None, cfg, threads=args.threads))
            best = [float("inf")] * len(fns)
            for _ in range(max(3, args.repeat)):
                for u, fn in enumerate(fns):
                    best[u] = min(best[u], _best(fn, 1))
            t_np, t = best[0], best[1]
            ratio = t / t_np
            target = TARGETS.get(name, 40.0)
            line = (f"  {name:18s} {t * 1e3:8.1f} ms  numpy {t_np * 1e3:6.2f} ms  ratio "
                    f"{ratio:6.1f}x  (target <= {target:g}x: {'ok' if ratio <= target else 'MISS'})")
            if len(fns) > 2:
                line += f"  {args.threads}-thread speed-up {t / best[2]:.2f}x (target >= 1.7x)"
            print(line, flush=True)
            rows.append((size, name, t, t_np, ratio))
    if limiter is not None:
        limiter.restore_original_limits()
    return rows


if __name__ == "__main__":
    main()
