"""`mxemu cycles`: the cycle report of one GEMM on a timing preset, with optional trace,
waveform and plot (registered by emulator/cli.py's build_parser through `add_parser`)."""
from __future__ import annotations

from .model import estimate
from .presets import get_timing_preset, timing_preset_names
from .trace import schedule, write_chrome_trace, write_plot, write_vcd


def add_parser(sub):
    s = sub.add_parser("cycles", help="cycle-approximate timing of one MX GEMM on a tensor-core "
                       "preset (docs/TIMING.md)")
    s.add_argument("--preset", required=True, help="timing preset: "
                   + ", ".join(timing_preset_names()))
    s.add_argument("--shape", required=True, help="M,N,K of the GEMM")
    s.add_argument("--formats", default="e4m3,e4m3", help="A,B element formats (or one for "
                   "both)")
    s.add_argument("--with-c", action="store_true", help="the addend C is read from memory")
    s.add_argument("--trace", metavar="F.json", help="write a Chrome/Perfetto trace")
    s.add_argument("--vcd", metavar="F.vcd", help="write a VCD waveform (GTKWave)")
    s.add_argument("--plot", metavar="F.png", help="write the timeline plot (needs matplotlib)")
    s.add_argument("--max-chunks", type=int, default=2000,
                   help="chunks (systolic: folds) recorded in the trace, VCD and plot")
    s.set_defaults(func=run)


def _shape(text):
    try:
        vals = [int(v) for v in text.split(",")]
    except ValueError:
        vals = []
    if len(vals) != 3 or min(vals) < 1:
        raise ValueError(f"--shape {text!r}: allowed M,N,K as 3 positive ints separated by "
                         "commas")
    return vals


def run(args, out) -> int:
    cfg = get_timing_preset(args.preset)
    m, n, k = _shape(args.shape)
    formats = [f.strip().lower() for f in args.formats.split(",")]
    if len(formats) not in (1, 2):
        raise ValueError(f"--formats {args.formats!r}: allowed A,B or one format for both")
    formats = (formats[0], formats[-1])
    if args.trace or args.vcd or args.plot:
        sched = schedule(cfg, m, n, k, formats, args.with_c, max_chunks=args.max_chunks)
        report = sched.report
    else:
        report = estimate(cfg, m, n, k, formats, args.with_c)
    out.write(report.table())
    if args.trace or args.vcd or args.plot:
        if sched.truncated:
            out.write(f"schedule: first {args.max_chunks} chunks recorded (--max-chunks)\n")
        if args.trace:
            out.write(f"trace: {write_chrome_trace(sched, args.trace)}\n")
        if args.vcd:
            out.write(f"vcd: {write_vcd(sched, args.vcd)}\n")
        if args.plot:
            path = write_plot(sched, args.plot)
            out.write(f"plot: {path}\n" if path else
                      "plot skipped: matplotlib is not installed (pip install matplotlib)\n")
    return 0
