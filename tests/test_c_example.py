"""native/examples/mx_gemm.c, the C example of the docs, compiles against the installed header
and libmxemu, runs, and prints what the Python reference model computes for the same inputs
(quantized by the Python quantizer, accumulated by `emulator.numerics.gemm`)."""
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import emulator
from emulator import quantize
from emulator.numerics import gemm, get_preset

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "native", "examples", "mx_gemm.c")
M, N, K = 2, 3, 64


def _compiler():
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return None


def test_c_example_matches_python(tmp_path):
    cc = _compiler()
    if cc is None:
        pytest.skip("no C compiler (cc, gcc or clang) on PATH")
    try:
        lib = emulator.native_library_path()
        inc = emulator.native_include_path()
    except FileNotFoundError as exc:
        pytest.skip(f"libmxemu is not built: {exc}")
    exe = tmp_path / "mx_gemm"
    libdir = os.path.dirname(lib)
    subprocess.run([cc, "-std=c11", "-O2", "-Wall", "-Werror", EXAMPLE, f"-I{inc}",
                    f"-L{libdir}", f"-Wl,-rpath,{libdir}", f"-l:{os.path.basename(lib)}",
                    "-o", str(exe)], check=True, capture_output=True, text=True)
    out = subprocess.run([str(exe)], check=True, capture_output=True, text=True).stdout
    got = {(int(i), int(j)): (int(d, 16), int(f, 16)) for i, j, d, f in
           re.findall(r"D\[(\d)\]\[(\d)\] = 0x([0-9a-f]{8}) flags 0x([0-9a-f]{2})", out)}
    assert len(got) == M * N, out
    # The same inputs as the C program builds them.
    a = np.array([((i * 37) % 29 - 14) / 8.0 for i in range(M * K)], np.float32).reshape(M, K)
    bt = np.array([((i * 53) % 31 - 15) / 16.0 for i in range(N * K)], np.float32).reshape(N, K)
    qa = quantize(a, "e4m3", block_size=32)
    qb = quantize(bt.T.copy(), "e4m3", block_size=32, axis=0)
    d, fl = gemm(qa, qb, None, get_preset("b200-mxf8f6f4").config)
    want = {(i, j): (int(d[i, j]), int(fl[i, j])) for i in range(M) for j in range(N)}
    assert got == want
