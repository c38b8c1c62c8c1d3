"""Regenerate tests/data/scalesim_compute_cycles.json: SCALE-Sim's own compute-cycle counts
for a grid of GEMM shapes, systolic array sizes and dataflows (OS, WS, IS).

This is the ground truth that tests/test_timing_systolic.py holds emulator.timing's closed
form to, exactly. It needs SCALE-Sim, which is not a dependency of mxemu; run it in a
throwaway environment:

    python3 -m venv /tmp/ssvenv && . /tmp/ssvenv/bin/activate
    pip install scalesim==3.0.0 'numpy<2.4'     # 3.0.0 fails on numpy 2.4 (int() of an array)
    python tests/data/make_scalesim_table.py     # writes tests/data/scalesim_compute_cycles.json

For each case the script runs SCALE-Sim end to end (config file, GEMM topology, layout file,
`scalesim.scale_sim.scalesim(...).run_scale()`) with large SRAMs in its CALC bandwidth mode, so
that no memory stall occurs, and records from COMPUTE_REPORT.csv the "Total Cycles" and
"Stall Cycles" columns, and from the layer's compute unit the number of rows of its demand
matrix (one row per cycle the array is occupied).
"""
import contextlib
import csv
import io
import json
import os
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

OUT = Path(__file__).resolve().parent / "scalesim_compute_cycles.json"

# SCALE-Sim's configuration file (its documented .cfg keys); SRAMs of 1 MiB each keep every
# case stall-free, so "Total Cycles" is the compute-only count.
CONFIG = """[general]
run_name = mxemu_grid
[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:    1024
FilterSramSzkB:   1024
OfmapSramSzkB:    1024
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Dataflow : {dataflow}
Bandwidth : 10
ReadRequestBuffer: 32
WriteRequestBuffer: 32
[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2
[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40
[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""
LAYOUT = ("Layer name, a, b, c, d, e, f, g, h, i, j, k, l, m, n,\n"
          "L0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,\n")

# Arrays: square and rectangular, tiny to mid-size. Shapes: each dimension drawn from values
# below, at, just above and well above the array edges, plus 1 (degenerate) and primes.
ARRAYS = [(4, 4), (8, 8), (4, 8), (8, 4), (16, 16), (32, 8), (8, 32), (32, 32)]
DIMS = [1, 3, 4, 7, 8, 9, 16, 17, 31, 32, 33, 50, 64, 100]
DATAFLOWS = ["os", "ws", "is"]


def shapes():
    """A deterministic spread over DIMS^3: every dim value appears in every position."""
    out = []
    n = len(DIMS)
    for i in range(n):
        out.append((DIMS[i], DIMS[(3 * i + 1) % n], DIMS[(5 * i + 2) % n]))
        out.append((DIMS[(7 * i + 3) % n], DIMS[i], DIMS[(2 * i + 5) % n]))
        out.append((DIMS[(4 * i + 6) % n], DIMS[(9 * i + 4) % n], DIMS[i]))
    return sorted(set(out))


def run_case(m, n, k, rows, cols, dataflow):
    from scalesim.scale_sim import scalesim
    with tempfile.TemporaryDirectory() as d:
        Path(d, "c.cfg").write_text(CONFIG.format(rows=rows, cols=cols, dataflow=dataflow))
        Path(d, "t.csv").write_text(f"Layer, M, N, K,\nL0, {m}, {n}, {k},\n")
        Path(d, "l.csv").write_text(LAYOUT)
        with contextlib.redirect_stdout(io.StringIO()):
            sim = scalesim(save_disk_space=True, verbose=False, config=f"{d}/c.cfg",
                           topology=f"{d}/t.csv", layout=f"{d}/l.csv", input_type_gemm=True)
            sim.run_scale(top_path=d)
        layer = sim.runner.single_layer_sim_object_list[0]
        demand_rows = int(layer.compute_system.get_ifmap_demand_mat().shape[0])
        report = None
        for root, _, files in os.walk(d):
            if "COMPUTE_REPORT.csv" in files:
                with open(Path(root, "COMPUTE_REPORT.csv")) as f:
                    report = list(csv.reader(f))
        header = [h.strip() for h in report[0]]
        row = [v.strip() for v in report[1]]
        total = int(row[header.index("Total Cycles")])
        stall = int(row[header.index("Stall Cycles")])
    return {"M": m, "N": n, "K": k, "rows": rows, "cols": cols, "dataflow": dataflow,
            "total_cycles": total, "stall_cycles": stall, "demand_rows": demand_rows}


def main():
    cases = []
    grid = [(s, a, df) for a in ARRAYS for s in shapes() for df in DATAFLOWS]
    for i, ((m, n, k), (rows, cols), df) in enumerate(grid):
        cases.append(run_case(m, n, k, rows, cols, df))
        if i % 100 == 0:
            print(f"{i}/{len(grid)}", file=sys.stderr)
    doc = {"generator": "tests/data/make_scalesim_table.py",
           "scalesim_version": version("scalesim"),
           "numpy_version": version("numpy"),
           "columns": {"total_cycles": "COMPUTE_REPORT.csv 'Total Cycles'",
                       "stall_cycles": "COMPUTE_REPORT.csv 'Stall Cycles' (0: compute only)",
                       "demand_rows": "rows of the compute unit's demand matrix"},
           "cases": cases}
    # One case per line: diffs of a regenerated table stay readable.
    head = json.dumps({k: v for k, v in doc.items() if k != "cases"}, indent=1)[:-2]
    body = ",\n  ".join(json.dumps(c, sort_keys=True) for c in cases)
    OUT.write_text(f'{head},\n "cases": [\n  {body}\n ]\n}}\n')
    print(f"wrote {len(cases)} cases to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
