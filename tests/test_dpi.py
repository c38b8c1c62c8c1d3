"""The handle API of libmxemu (formats and configs behind opaque pointers) and a SystemVerilog
testbench that calls the model through DPI-C, as a verification engineer's testbench would.

The Verilator test compiles tests/dpi/tb_template.sv (filled with a preset's setter calls from
`mxemu presets NAME --calls` and with vectors drawn here), links libmxemu and checks every
printed result against the Python reference `dot`. It skips with the reason when Verilator is
not installed; CI installs it (.ci/run)."""
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import emulator
from emulator.formats import E4M3, FORMATS
from emulator.numerics import AccumConfig, dot, get_preset, preset_names
from emulator.numerics import native as NV
from emulator.numerics.presets import E8M13

import capi


TEMPLATE = os.path.join(os.path.dirname(__file__), "dpi", "tb_template.sv")


@pytest.fixture(scope="module")
def lib():
    return capi.load()


def _fields(ffi, p, ctype):
    return bytes(ffi.buffer(p, ffi.sizeof(ctype)))


@pytest.mark.parametrize("name", list(FORMATS) + ["e8m13", "E4M3"])
def test_named_formats_match_python(lib, name):
    ffi, c = lib
    h = c.mxemu_format_named(name.encode())
    want = E8M13 if name == "e8m13" else FORMATS[name.lower()]
    try:
        assert h != ffi.NULL
        assert [getattr(h, f) for f in ("kind", "exp_bits", "man_bits", "bias", "is_signed",
                                        "specials", "subnormals")] == list(want.params)
    finally:
        c.mxemu_format_free(h)


def test_bad_names_and_formats(lib):
    ffi, c = lib
    assert c.mxemu_format_named(b"e4m4") == ffi.NULL
    assert c.mxemu_format_named(ffi.NULL) == ffi.NULL
    assert c.mxemu_format_new(0, 0, 3, 7, 1, 1, 1) == ffi.NULL  # no exponent bits
    cfg = c.mxemu_config_new()
    try:
        assert c.mxemu_config_set(cfg, b"frac_bitz", 3) == -3  # MXEMU_ERR_ARG
        assert c.mxemu_config_set(cfg, b"struct_size", 3) == -3
        assert c.mxemu_config_set(ffi.NULL, b"frac_bits", 3) == -1
        assert c.mxemu_config_set_format(cfg, b"output_format", ffi.NULL) == -1
        assert c.mxemu_config_set_format(cfg, b"nope", ffi.NULL) == -3
        bad = ffi.new("mxemu_format *", [0, 0, 3, 7, 1, 1, 1])
        assert c.mxemu_config_set_format(cfg, b"step_format", bad) == -2  # MXEMU_ERR_FORMAT
    finally:
        c.mxemu_config_free(cfg)


def test_config_new_is_accumconfig_default(lib):
    ffi, c = lib
    h = c.mxemu_config_new()
    try:
        want = capi.c_config(ffi, AccumConfig())
        assert _fields(ffi, h, "mxemu_accum_config") == _fields(ffi, want, "mxemu_accum_config")
    finally:
        c.mxemu_config_free(h)


def _run_calls(ffi, c, text):
    """Execute the statements of config_c_calls through cffi (a tiny interpreter of its three
    statement shapes); returns (config handle, summed status)."""
    st, cfg = 0, None
    for line in text.splitlines():
        if line == "cfg = mxemu_config_new();":
            cfg = c.mxemu_config_new()
            continue
        m = re.fullmatch(r'st \+= mxemu_config_set\(cfg, "(\w+)", (-?\d+)\);', line)
        if m:
            st += c.mxemu_config_set(cfg, m[1].encode(), int(m[2]))
            continue
        m = re.fullmatch(r'st \+= mxemu_config_set_format\(cfg, "(\w+)", '
                         r'mxemu_format_(named|new)\((.*)\)\);', line)
        assert m, line
        if m[2] == "named":
            f = c.mxemu_format_named(m[3].strip('"').encode())
        else:
            f = c.mxemu_format_new(*map(int, m[3].split(", ")))
        st += c.mxemu_config_set_format(cfg, m[1].encode(), f)
        c.mxemu_format_free(f)
    return cfg, st


@pytest.mark.parametrize("name", preset_names())
def test_preset_calls_build_the_preset(lib, name):
    """`mxemu presets NAME --calls` rebuilds exactly the struct the Python adapter passes."""
    ffi, c = lib
    cfg = get_preset(name).config
    h, st = _run_calls(ffi, c, NV.config_c_calls(cfg))
    try:
        assert st == 0
        assert (_fields(ffi, h, "mxemu_accum_config")
                == _fields(ffi, capi.c_config(ffi, cfg), "mxemu_accum_config"))
    finally:
        c.mxemu_config_free(h)


def _cases(n, seed):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        a = rng.integers(0, 256, 32)
        b = rng.integers(0, 256, 32)
        if i % 3 == 0:  # mostly finite: NaN codes 0x7f / 0xff only now and then
            a[(a & 0x7F) == 0x7F] = 0x38
            b[(b & 0x7F) == 0x7F] = 0x40
        out.append((a, b, int(rng.integers(110, 140)), int(rng.integers(110, 140)),
                    int(rng.integers(0, 1 << 32)) if i % 2 else 0))
    return out


def test_systemverilog_dpi_testbench(tmp_path):
    verilator = shutil.which("verilator")
    if verilator is None:
        pytest.skip("Verilator is not installed (apt-get install verilator)")
    try:
        libdir = os.path.dirname(emulator.native_library_path())
    except FileNotFoundError as exc:
        pytest.skip(f"libmxemu is not built: {exc}")
    name = "b200-mxf8f6f4"
    cfg = get_preset(name).config
    cases = _cases(12, 3)
    body = []
    for a, b, sa, sb, cc in cases:
        body += [f"a[{i}] = 32'h{v:x}; b[{i}] = 32'h{w:x};" for i, (v, w) in enumerate(zip(a, b))]
        body += [f"sa[0] = 8'd{sa}; sb[0] = 8'd{sb};",
                 f"st += mxemu_dot(cfg, 32, e4m3, a, e4m3, b, e8m0, sa, 32, sb, 32, fp32, "
                 f"32'h{cc:x}, d, fl);",
                 '$display("D %08x %02x", d, fl);']
    with open(TEMPLATE) as f:
        sv = f.read().replace("// @CONFIG@", NV.config_c_calls(cfg)).replace(
            "// @CASES@", "\n".join(body))
    (tmp_path / "tb.sv").write_text(sv)
    build = subprocess.run(
        [verilator, "--binary", "-Wno-fatal", "tb.sv", "-LDFLAGS",
         f"-L{libdir} -Wl,-rpath,{libdir} -lmxemu"],
        cwd=tmp_path, capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    run = subprocess.run([str(tmp_path / "obj_dir" / "Vtb")], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    got = [(int(d, 16), int(f, 16)) for d, f in re.findall(r"D ([0-9a-f]{8}) ([0-9a-f]{2})",
                                                            run.stdout)]
    assert "STATUS 0" in run.stdout, run.stdout
    want = [dot(a.tolist(), b.tolist(), E4M3, E4M3, sa, sb, cc, cfg) for a, b, sa, sb, cc in cases]
    assert got == want
