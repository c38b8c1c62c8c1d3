"""Reproduce the DeepSeek-V3 accumulation-precision number with the emulator.

DeepSeek-V3 technical report (arXiv 2412.19437, section 3.3.2, "Increasing Accumulation
Precision"): with K = 4096, the limited FP8 GEMM accumulation precision of Hopper tensor cores
(about 14 bits kept) gives a maximum relative error of nearly 2% in their test; promoting the
partial sums to FP32 CUDA cores every 128 elements (4 WGMMAs) fixes it.

Inputs: for each generator of emulator.compare (gaussian, heavy = Student-t(3), outliers = 4
activation channels x100) and each seed, a (M x K activations) and b (K x N weights) FP32,
K = 4096. Each scheme quantizes them (E4M3 with FP32 or UE8M0 scales; see docs/SCHEMES.md for
the scale groups of each) and runs its GEMM; the report splits the error against the exact product into quantization and accumulation. The
number DeepSeek's sentence speaks of is the accumulation part: the unit's result against the
exact product of the same FP8 inputs.

    python benchmarks/deepseek_k4096.py [--mn 64] [--seeds 0,1] [--plot docs/img]

Schemes: the registry's 'deepseek-v3-fp8-no-promotion', 'deepseek-v3-fp8' and
'deepseek-v3.1-ue8m0' (emulator.numerics.schemes, docs/SCHEMES.md).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from emulator import compare as cmp  # noqa: E402

REGISTRY = ("deepseek-v3-fp8-no-promotion", "deepseek-v3-fp8", "deepseek-v3.1-ue8m0")


def schemes():
    from emulator.numerics.schemes import get_scheme
    return [get_scheme(n) for n in REGISTRY], "registry (emulator.numerics.schemes)"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mn", type=int, default=64, help="M = N")
    p.add_argument("--k", type=int, default=4096)
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--gens", default="gaussian,heavy,outliers")
    p.add_argument("--plot", help="directory for deepseek_k4096.png (error vs K)")
    p.add_argument("--ks", default="128,256,512,1024,2048,4096")
    args = p.parse_args(argv)
    sch, origin = schemes()
    seeds = [int(s) for s in args.seeds.split(",")]
    t0 = time.time()
    print(f"schemes from the {origin}; M = N = {args.mn}, K = {args.k}, seeds {seeds}")
    print("max rel elem: max |err| / |ref| over outputs with |ref| >= 0.1 * rms(ref); "
          "max rel: max |err| / max |ref|\n")
    print("| inputs | scheme | accumulation: max rel elem | accumulation: max rel | "
          "accumulation: rel Frobenius | total: rel Frobenius | quantization: rel Frobenius |")
    print("|---|---|---|---|---|---|---|")
    for gen in args.gens.split(","):
        for seed in seeds:
            a, b = cmp.generate(gen, (args.mn, args.k, args.mn), seed)
            rep = cmp.compare(a, b, sch)
            for r in rep.results:
                print(f"| {gen}, seed {seed} | {r.name} | {100 * r.accum.max_rel_elem:.3f}% | "
                      f"{100 * r.accum.max_rel:.3f}% | {r.accum.rel_fro:.3e} | "
                      f"{r.total.rel_fro:.3e} | {r.quant.rel_fro:.3e} |", flush=True)
    if args.plot:
        ks = [int(k) for k in args.ks.split(",")]
        a, b = cmp.generate("gaussian", (args.mn, max(ks), args.mn), seeds[0])
        sweep = cmp.error_vs_k(a, b, sch, ks)
        print("\nerror vs K (gaussian, seed %d): accumulation max rel elem" % seeds[0])
        print("| K | " + " | ".join(sweep) + " |")
        print("|---|" + "---|" * len(sweep))
        for i, k in enumerate(ks):
            print(f"| {k} | " + " | ".join(f"{100 * pts[i][1].accum.max_rel_elem:.3f}%"
                                           for pts in sweep.values()) + " |")
        paths = _plot(sweep, args.plot, args.mn)
        print("plot: " + ", ".join(paths) if paths else "\n" + cmp.NO_MATPLOTLIB)
    print(f"\n({time.time() - t0:.0f} s)")


def _plot(sweep, outdir, mn):
    plt = cmp._pyplot()
    if plt is None:
        return []
    os.makedirs(outdir, exist_ok=True)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for name, pts in sweep.items():
        ks = [k for k, _ in pts]
        line, = ax.plot(ks, [100 * r.accum.max_rel_elem for _, r in pts], "o-",
                        label=f"{name}: max rel elem")
        ax.plot(ks, [100 * r.accum.max_rel for _, r in pts], "s--", color=line.get_color(),
                alpha=0.6, label=f"{name}: max rel (normwise)")
    ax.axhline(2.0, color="gray", lw=0.8, ls=":")
    ax.text(ks[0], 2.1, "DeepSeek-V3: 'nearly 2%' at K=4096", fontsize=8, color="gray",
            ha="left", va="bottom")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("K")
    ax.set_ylabel("accumulation error (%)")
    ax.set_title(f"FP8 E4M3 GEMM accumulation error vs K (Gaussian, M=N={mn})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path = os.path.join(outdir, "deepseek_k4096.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


if __name__ == "__main__":
    main()
