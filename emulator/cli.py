"""The `mxemu` command line."""
from __future__ import annotations

import argparse
import sys

import numpy as np

from . import __version__, _backend
from .flags import Flag
from .formats import FORMATS, MX_ELEMENT_FORMATS, get_format
from .quantize import quantize, quantize_nvfp4, SCALE_MODES


def _cmd_formats(args, out) -> int:
    out.write(f"{'name':10} {'bits':>4} {'bias':>5} {'emin':>5} {'emax':>5} {'max normal':>14} "
              f"{'min normal':>12} {'min subnormal':>14} {'inf':>4} {'nan':>4}\n")
    for f in FORMATS.values():
        out.write(f"{f.name:10} {f.bits:>4} {f.bias:>5} {f.emin:>5} {f.emax:>5} "
                  f"{f.max_normal:>14.6g} {f.min_normal:>12.6g} {f.min_subnormal:>14.6g} "
                  f"{'yes' if f.has_inf else 'no':>4} {'yes' if f.has_nan else 'no':>4}\n")
    return 0


def _load_input(args) -> np.ndarray:
    if args.input:
        x = np.load(args.input)
        if isinstance(x, np.lib.npyio.NpzFile):
            raise SystemExit(f"--input {args.input}: give a .npy file holding one array")
        return np.asarray(x)
    rng = np.random.default_rng(args.seed)
    return rng.standard_normal(args.n).astype(np.float32)


def _cmd_quantize(args, out) -> int:
    x = np.asarray(_load_input(args), dtype=np.float32)
    if args.format == "nvfp4":
        q = quantize_nvfp4(x, block_size=args.block_size or 16, rounding=args.rounding)
    else:
        q = quantize(x, args.format, block_size=args.block_size or 32,
                     scale_mode=args.scale_mode, rounding=args.rounding)
    deq = q.dequantize()
    x64 = x.astype(np.float64)
    err = deq - x64
    fin = np.isfinite(x64) & np.isfinite(deq)
    out.write(f"mxemu {__version__} ({_backend.current()} backend): {x.size} FP32 values -> "
              f"{q.elem.name} blocks of {q.block_size}, {q.scale_fmt.name} scales "
              f"(scale mode {getattr(args, 'scale_mode', '-')}, rounding {args.rounding})\n")
    if q.tensor_scale is not None:
        out.write(f"tensor scale (FP32): {q.tensor_scale!r}\n")
    flat_x, flat_c, flat_d = x.reshape(-1), q.codes.reshape(-1), deq.reshape(-1)
    flat_s = np.repeat(q.scales, q.block_size, axis=q.axis).reshape(-1)
    shown = min(args.show, flat_x.size)
    out.write(f"{'i':>4} {'input':>14} {'scale':>6} {'code':>6} {'dequantized':>14} "
              f"{'error':>12}\n")
    for i in range(shown):
        out.write(f"{i:>4} {flat_x[i]:>14.7g} {flat_s[i]:>#6x} {flat_c[i]:>#6x} "
                  f"{flat_d[i]:>14.7g} {flat_d[i] - flat_x[i]:>12.4g}\n")
    if fin.any():
        rel = np.linalg.norm(err[fin]) / max(np.linalg.norm(x64[fin]), np.finfo(float).tiny)
        out.write(f"max |error| {np.max(np.abs(err[fin])):.6g}   relative Frobenius error "
                  f"{rel:.6g}\n")
    counts = {f.name: int(np.count_nonzero(q.flags & f)) for f in Flag if f and f.name}
    out.write("flags: " + ", ".join(f"{k.lower()} {v}" for k, v in counts.items()) + "\n")
    out.write(f"scale codes: {' '.join(f'{s:#04x}' for s in q.scales.reshape(-1)[:16])}"
              f"{' ...' if q.scales.size > 16 else ''}\n")
    return 0


def _cmd_presets(args, out) -> int:
    from .numerics import get_preset, preset_names
    if args.calls and not args.name:
        raise ValueError("--calls needs a preset NAME; allowed: " + ", ".join(preset_names()))
    if args.name and args.calls:
        from .numerics.native import config_c_calls
        out.write(config_c_calls(get_preset(args.name).config))
        return 0
    if args.name:
        p = get_preset(args.name)
        out.write(f"{p.name}: {p.source}\n")
        if p.notes:
            out.write(f"  {p.notes}\n")
        out.write(f"  {p.config}\n")
        for k, (m, n) in p.measured.items():
            out.write(f"  measured {k}: {m}/{n}\n")
        return 0
    for name in preset_names():
        p = get_preset(name)
        meas = ", ".join(f"{k} {m}/{n}" for k, (m, n) in list(p.measured.items())[:3])
        out.write(f"{name:24} {p.source[:60]}{'  [' + meas + ']' if meas else ''}\n")
    return 0


def _cmd_gemm(args, out) -> int:
    """Emulate one MX GEMM with a preset: quantize (or load) A and B, run the unit's
    accumulation model, report time, flags, error and the first outputs."""
    import time

    from .golden.suite import pairs
    from .numerics import get_preset, gemm_auto
    preset = get_preset(args.preset)
    cfg = preset.config
    if args.formats:
        fa, fb = (get_format(f) for f in _names(args.formats, "--formats", 2))
    else:
        fa, fb = (get_format(f) for f in pairs(preset.name)[0])
    a, b, source = _matrix_pair(args, "MNK")
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    mx = "fp8" not in preset.name  # the '*fp8*' presets model plain FP8 operands

    def operand(x, f, axis):
        if f.bits <= 8 and mx:
            return quantize(x, f, block_size=32, axis=axis)
        return (f.encode(x).codes, f)
    t0 = time.perf_counter()
    A, B = operand(a, fa, 1), operand(b, fb, 0)
    t1 = time.perf_counter()
    d, flags = gemm_auto(A, B, None, cfg, threads=args.threads)
    t2 = time.perf_counter()
    reg = cfg.register
    got = reg.decode(d)
    deq = lambda T: T.dequantize() if hasattr(T, "dequantize") else T[1].decode(T[0])  # noqa
    exact_q = deq(A) @ deq(B)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    m, k = a.shape
    n = b.shape[1]
    out.write(f"mxemu {__version__} ({_backend.current()} backend): preset {preset.name}, "
              f"M={m} N={n} K={k}, A {fa.name} B {fb.name}"
              f"{' (MX blocks of 32 along K, E8M0 scales)' if mx and max(fa.bits, fb.bits) <= 8 else ''}"
              f", C = +0; inputs {source}\n")
    out.write(f"  quantize {1e3 * (t1 - t0):.1f} ms, gemm {1e3 * (t2 - t1):.1f} ms "
              f"({'native C kernel' if _backend.current() == 'native' else 'numpy'})\n")
    counts = {f.name.lower(): int(np.count_nonzero(flags & f)) for f in Flag if f and f.name}
    out.write(f"  D: {reg.name} bit patterns; flags: "
              + (", ".join(f"{key} {v}" for key, v in counts.items() if v) or "none") + "\n")

    def rel(x, ref):
        fin = np.isfinite(x) & np.isfinite(ref)
        return np.linalg.norm((x - ref)[fin]) / max(np.linalg.norm(ref[fin]), 1e-300)
    out.write(f"  relative Frobenius error: {rel(got, exact_q):.3e} vs the FP64 product of the "
              f"quantized inputs (the unit's accumulation), {rel(got, exact):.3e} vs that of "
              f"the inputs (quantization + accumulation)\n")
    for i in range(min(args.show, d.size)):
        r, c = divmod(i, n)
        out.write(f"  D[{r},{c}] = {int(d[r, c]):#0{reg.bits // 4 + 2}x} = {got[r, c]:.9g}"
                  f"   (FP64 of the quantized inputs: {exact_q[r, c]:.9g})\n")
    if args.out:
        np.save(args.out, d)
        out.write(f"  wrote {args.out} ({d.dtype}, {d.shape})\n")
    return 0


def _matrix_pair(args, order: str):
    """(a, b, where they came from): the --a/--b files, or the --gen synthetic pair of --shape,
    whose three ints are in the command's `order` ('MKN' or 'MNK')."""
    from . import compare as cmp
    if args.a or args.b:
        a, b = cmp.load_pair(args.a, args.b)
        return a, b, f"{args.a}" + (f", {args.b}" if args.b else "")
    dims = dict(zip(order, _int_list(args.shape, "--shape", 3)))
    a, b = cmp.generate(args.gen, (dims["M"], dims["K"], dims["N"]), args.seed)
    return a, b, f"{args.gen} (seed {args.seed})"


def _names(text, name, count):
    vals = [v.strip() for v in text.split(",") if v.strip()]
    if len(vals) != count:
        raise ValueError(f"{name} {text!r}: allowed {count} names separated by commas")
    return vals


def _cmd_native_path(args, out) -> int:
    path = _backend.native_include_path() if args.include else _backend.native_library_path()
    out.write(path + "\n")
    return 0


def _cmd_backend(args, out) -> int:
    out.write(f"active: {_backend.current()}; available: {', '.join(_backend.available())}\n")
    return 0


def _int_list(text, name, count=None):
    try:
        vals = [int(v) for v in text.split(",")]
    except ValueError:
        vals = None
    if not vals or (count and len(vals) != count) or min(vals) < 1:
        what = f"{count} positive ints separated by commas" if count else \
            "positive ints separated by commas"
        raise ValueError(f"{name} {text!r}: allowed {what}")
    return vals


def _cmd_compare(args, out) -> int:
    from . import compare as cmp
    schemes = [s.strip() for s in args.schemes.split(",") if s.strip()]
    if not schemes:
        raise ValueError(f"--schemes {args.schemes!r}: give scheme names separated by commas; "
                         f"allowed: {', '.join(cmp.scheme_names())}")
    known = cmp.scheme_names()
    for s in schemes:
        if known and s.lower() not in [k.lower() for k in known]:
            raise ValueError(f"--schemes: unknown scheme {s!r}; allowed: {', '.join(known)}")
    a, b, source = _matrix_pair(args, "MKN")
    rep = cmp.compare(a, b, schemes, rel_floor=args.rel_floor, source=source)
    out.write(rep.table())
    if args.plot:
        paths = cmp.plot_report(rep, args.plot)
        if args.ks:
            ks = _int_list(args.ks, "--ks")
        else:
            k = a.shape[1]
            ks = sorted({min(k, 2 ** i) for i in range(5, 31) if 2 ** i <= 2 * k} | {k})
        if cmp._pyplot() is not None:
            sweep = cmp.error_vs_k(a, b, schemes, ks, rel_floor=args.rel_floor)
            paths += cmp.plot_error_vs_k(sweep, args.plot, title=source)
        if paths:
            out.write("plots: " + ", ".join(paths) + "\n")
        else:
            out.write(cmp.NO_MATPLOTLIB + "\n")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mxemu", description="Bit-exact emulator of OCP MX formats "
                                "and tensor hardware.")
    p.add_argument("--version", action="version", version=f"mxemu {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("formats", help="list the formats and their derived properties")
    s.set_defaults(func=_cmd_formats)
    s = sub.add_parser("quantize", help="quantize FP32 values and show codes, scales and error")
    names = [f.name for f in MX_ELEMENT_FORMATS] + ["nvfp4"]
    s.add_argument("--format", default="e4m3", choices=names, help="element format")
    s.add_argument("--block-size", type=int, default=None, help="default 32 (nvfp4: 16)")
    s.add_argument("--scale-mode", default="floor", choices=SCALE_MODES)
    s.add_argument("--rounding", default="rne", choices=["rne", "rna", "rtz", "rup", "rdn", "rto"])
    s.add_argument("--input", help=".npy file of values (default: Gaussian sample)")
    s.add_argument("-n", type=int, default=64, help="sample size without --input")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--show", type=int, default=8, help="rows of the table to print")
    s.set_defaults(func=_cmd_quantize)
    s = sub.add_parser("presets", help="list the accumulation presets (or show one)")
    s.add_argument("name", nargs="?")
    s.add_argument("--calls", action="store_true",
                   help="with NAME: print the C / SystemVerilog DPI-C calls that build it "
                        "through libmxemu's handle API")
    s.set_defaults(func=_cmd_presets)
    # Handled in main() by emulator.numerics.hwdata's own parser; listed here for --help.
    sub.add_parser("validate-hw", help="run the presets on real tensor-core outputs "
                   "(mxemu validate-hw --help)")
    s = sub.add_parser("compare", help="error of quantization + accumulation schemes against "
                       "the exact product, split into its two sources")
    s.add_argument("--schemes", required=True,
                   help="scheme names separated by commas (emulator.numerics.schemes)")
    s.add_argument("--shape", default="64,1024,64", help="M,K,N of the synthetic pair")
    s.add_argument("--gen", default="gaussian", choices=["gaussian", "heavy", "outliers"],
                   help="synthetic generator (without --a)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--a", help="a (M x K) .npy, or an .npz holding arrays 'a' and 'b'")
    s.add_argument("--b", help="b (K x N) .npy")
    s.add_argument("--rel-floor", type=float, default=0.1,
                   help="max rel elem uses the elements with |ref| >= this * rms(ref)")
    s.add_argument("--plot", metavar="DIR", help="write PNG plots there (needs matplotlib)")
    s.add_argument("--ks", help="K values of the error-vs-K plot (default powers of two)")
    s.set_defaults(func=_cmd_compare)
    from .timing import cli as timing_cli
    timing_cli.add_parser(sub)
    s = sub.add_parser("gemm", help="emulate an MX GEMM with a preset: bits, flags, error")
    s.add_argument("--preset", default="b200-mxf8f6f4", help="accumulation preset (mxemu presets)")
    s.add_argument("--shape", default="256,256,256", help="M,N,K of the synthetic pair")
    s.add_argument("--formats", help="A,B element formats (default: the preset's own)")
    s.add_argument("--gen", default="gaussian", choices=["gaussian", "heavy", "outliers"],
                   help="synthetic generator (without --a)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--a", help="a (M x K) .npy, or an .npz holding arrays 'a' and 'b'")
    s.add_argument("--b", help="b (K x N) .npy")
    s.add_argument("--threads", type=int, default=None, help="C kernel threads (default: all)")
    s.add_argument("--show", type=int, default=4, help="outputs to print")
    s.add_argument("--out", help="write D's bit patterns to this .npy")
    s.set_defaults(func=_cmd_gemm)
    s = sub.add_parser("native-path", help="print the path of libmxemu (the C ABI library)")
    s.add_argument("--include", action="store_true",
                   help="print the directory of its header mxemu.h instead")
    s.set_defaults(func=_cmd_native_path)
    s = sub.add_parser("backend", help="show the active and available backends")
    s.set_defaults(func=_cmd_backend)
    from .golden.commands import add_commands as add_golden_commands
    add_golden_commands(sub)  # golden gen|check|adequacy|suite, verify
    return p


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["validate-hw"]:  # its own parser: options pass through untouched
        from .numerics import hwdata
        return hwdata.main(argv[1:], sys.stdout)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args, sys.stdout)
    except (ValueError, TypeError, OSError) as exc:  # FileNotFoundError is an OSError
        sys.stderr.write(f"mxemu: error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
