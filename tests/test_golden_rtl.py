"""The $readmemh files as a Verilog simulator reads them (Icarus Verilog, when installed).

A SystemVerilog testbench includes the generated .svh, loads the .memh case vectors and
the GEMM tensor images with $readmemh, and prints every field; the printout must equal the
.tv case lines (and the tensors the cases' rows and columns), which checks the documented
bit order end to end.
"""
import shutil
import subprocess

import numpy as np
import pytest

from emulator.golden import api, files

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None or shutil.which("vvp") is None,
                                reason="Icarus Verilog (iverilog, vvp) is not installed")


def _simulate(tmp_path, source: str) -> list:
    (tmp_path / "tb.sv").write_text(source)
    subprocess.run(["iverilog", "-g2012", "-o", str(tmp_path / "tb"), str(tmp_path / "tb.sv")],
                   check=True, cwd=tmp_path, capture_output=True)
    out = subprocess.run(["vvp", str(tmp_path / "tb")], check=True, cwd=tmp_path,
                         capture_output=True, text=True).stdout
    return [ln for ln in out.splitlines() if ln and not ln.startswith("WARNING")]


def _bench(g: files.GoldenFile, name: str) -> str:
    """Print each case's fields in .tv order, element by element (Icarus needs the packed
    array fields copied into plain variables before indexing them)."""
    decls, copies, shows = [], [], []
    for f in g.fields:
        bits = 4 * f.digits
        if f.count > 1:
            decls.append(f"  logic [0:{f.count - 1}][{bits - 1}:0] v_{f.name};")
            copies.append(f"      v_{f.name} = t.{f.name};")
            shows += [f"v_{f.name}[{i}]" for i in range(f.count)]
        else:
            shows.append(f"t.{f.name}")
    fmt = " ".join(["%h"] * len(shows))
    return "\n".join([
        f'`include "{name}.svh"', "module tb;", f"  {name}_case_t vec [{name.upper()}_CASES];",
        f"  {name}_case_t t;", *decls, "  integer i;", "  initial begin",
        f'    $readmemh("{name}.memh", vec);',
        f"    for (i = 0; i < {name.upper()}_CASES; i = i + 1) begin", "      t = vec[i];",
        *copies, f'      $display("{fmt}", {", ".join(shows)});', "    end", "    $finish;",
        "  end", "endmodule", ""])


@pytest.mark.parametrize("a, b, preset", [("e4m3", "e2m1", "b200-mxf8f6f4"),
                                          ("fp16", "fp16", "h100-fp16-fp16"),
                                          ("e2m1", "e2m1", "b200-mxf4nvf4")])
def test_readmemh_reads_the_case_vectors(tmp_path, a, b, preset):
    spec = api.make_spec("dot", a, b, preset=preset, n=12)
    api.write_stream(spec, tmp_path / "mx", ("tv", "memh"), progress=False)
    g = files.read_tv(tmp_path / "mx.tv")
    lines = _simulate(tmp_path, _bench(g, "mx"))
    tv = [ln for ln in (tmp_path / "mx.tv").read_text().splitlines() if not ln.startswith("#")]
    assert lines == tv


def test_readmemh_reads_the_gemm_images(tmp_path):
    spec = api.make_spec("gemm", "e4m3", "e2m1", preset="b200-mxf8f6f4", tile=(2, 3), n=12)
    api.write_stream(spec, tmp_path / "g", ("tv", "memh"), progress=False)
    g = files.read_tv(tmp_path / "g.tv")
    src = "\n".join([
        "module tb;", "  logic [31:0][7:0] arow [4];", "  logic [31:0][3:0] bcol [6];",
        "  logic [31:0] d [12];", "  logic [31:0][7:0] r8;", "  logic [31:0][3:0] r4;",
        "  integer i, k;", "  initial begin",
        '    $readmemh("g.a.memh", arow); $readmemh("g.b.memh", bcol);',
        '    $readmemh("g.d.memh", d);',
        "    for (i = 0; i < 4; i = i + 1) begin r8 = arow[i];",
        '      for (k = 0; k < 32; k = k + 1) $write("%h ", r8[k]); $display("A"); end',
        "    for (i = 0; i < 6; i = i + 1) begin r4 = bcol[i];",
        '      for (k = 0; k < 32; k = k + 1) $write("%h ", r4[k]); $display("B"); end',
        '    for (i = 0; i < 12; i = i + 1) $display("%h", d[i]);',
        "    $finish;", "  end", "endmodule", ""])
    lines = _simulate(tmp_path, src)
    hexes = lambda row, w: " ".join(f"{int(c):0{w}x}" for c in row) + " "  # noqa: E731
    # Tile t, row i: case 6t + 3i (column 0); column j: case 6t + j (row 0).
    want_a = [hexes(g.data["a"][6 * t + 3 * i], 2) + "A" for t in range(2) for i in range(2)]
    want_b = [hexes(g.data["b"][6 * t + j], 1) + "B" for t in range(2) for j in range(3)]
    want_d = [f"{int(v):08x}" for v in g.data["d"][:, 0]]
    assert lines == want_a + want_b + want_d
    assert np.array_equal(g.index, np.arange(12))
