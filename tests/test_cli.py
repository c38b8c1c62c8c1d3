"""The `mxemu` command: the README's main job and clear errors."""
import re
import subprocess
import sys

import numpy as np
import pytest

from clitools import run_cli as _main
from emulator import quantize




def test_quantize_demo_prints_codes_scales_and_error(backend):
    rc, text = _main(["quantize", "--format", "e4m3", "-n", "64", "--seed", "0", "--show", "3"])
    assert rc == 0
    # The table's codes and scales are those of the library call on the same sample.
    x = np.random.default_rng(0).standard_normal(64).astype(np.float32)
    q = quantize(x, "e4m3")
    rows = [ln.split() for ln in text.splitlines() if re.match(r"\s+\d+\s", ln)]
    assert len(rows) == 3
    for i, row in enumerate(rows):
        assert int(row[2], 16) == q.scales[0] and int(row[3], 16) == q.codes[i]
    assert "relative Frobenius error" in text and "scale codes: 0x" in text


@pytest.mark.parametrize("fmt", ["e5m2", "e3m2", "e2m3", "e2m1", "int8", "nvfp4"])
def test_quantize_every_format(fmt, backend):
    rc, text = _main(["quantize", "--format", fmt, "-n", "40"])
    assert rc == 0 and "max |error|" in text


def test_quantize_reads_npy(tmp_path):
    x = np.array([1.0, -2.5, 957.0, 0.0], np.float32)
    path = tmp_path / "x.npy"
    np.save(path, x)
    rc, text = _main(["quantize", "--input", str(path), "--show", "4"])
    assert rc == 0 and "896" in text  # 957 saturates to 896 at scale 2^1


def test_formats_table():
    rc, text = _main(["formats"])
    assert rc == 0
    row = next(ln for ln in text.splitlines() if ln.startswith("e4m3 "))
    assert "448" in row


def test_bad_input_is_a_clear_error_not_a_traceback(tmp_path):
    res = subprocess.run([sys.executable, "-m", "emulator", "quantize", "--input",
                          str(tmp_path / "missing.npy")], capture_output=True, text=True)
    assert res.returncode == 2 and res.stderr.startswith("mxemu: error:")
    assert "Traceback" not in res.stderr
    res = subprocess.run([sys.executable, "-m", "emulator", "quantize", "--format", "e9m9"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "invalid choice" in res.stderr


def test_native_path_names_the_c_library():
    import os
    import emulator
    try:
        want = emulator.native_library_path()
    except FileNotFoundError:
        if os.environ.get("MXEMU_REQUIRE_NATIVE") == "1":
            raise
        pytest.skip("the native core is not built here")
    rc, text = _main(["native-path"])
    assert rc == 0 and text.strip() == want and os.path.isfile(want)


def test_presets_calls(capsys):
    """`mxemu presets NAME --calls` prints setter statements (their effect is checked against
    the adapter's struct in tests/test_dpi.py); without NAME it is a clear error."""
    from emulator.numerics import get_preset
    from emulator.numerics.native import config_c_calls
    rc, text = _main(["presets", "h100-fp8-wgmma", "--calls"])
    assert rc == 0 and text == config_c_calls(get_preset("h100-fp8-wgmma").config)
    assert 'mxemu_config_set(cfg, "frac_bits", 13);' in text
    assert 'mxemu_config_set_format(cfg, "output_format", mxemu_format_named("e8m13"));' in text
    capsys.readouterr()
    rc, _ = _main(["presets", "--calls"])
    assert rc == 2 and "--calls needs a preset NAME" in capsys.readouterr().err


def test_gemm_main_job_prints_the_models_bits(backend, tmp_path):
    """`mxemu gemm` (the README's main job): its printed and saved bits are those of the
    reference model on the same quantized inputs; errors name the argument."""
    from emulator import compare as cmp
    from emulator.numerics import gemm, get_preset
    out = tmp_path / "d.npy"
    rc, text = _main(["gemm", "--preset", "b200-mxf8f6f4", "--shape", "5,6,64", "--seed", "3",
                      "--show", "2", "--out", str(out)])
    assert rc == 0 and "preset b200-mxf8f6f4, M=5 N=6 K=64" in text
    a, b = cmp.generate("gaussian", (5, 64, 6), 3)
    A = quantize(np.asarray(a, np.float32), "e4m3", axis=1)
    B = quantize(np.asarray(b, np.float32), "e4m3", axis=0)
    want, _ = gemm(A, B, None, get_preset("b200-mxf8f6f4").config)
    assert np.array_equal(np.load(out), want)
    assert f"D[0,1] = {int(want[0, 1]):#010x}" in text
    rc, text = _main(["gemm", "--preset", "h100-fp16", "--shape", "2,3,16", "--show", "0"])
    assert rc == 0 and "A fp16 B fp16" in text


@pytest.mark.parametrize("argv, msg", [
    (["gemm", "--formats", "e4m3"], "--formats"),
    (["gemm", "--shape", "4,4"], "--shape"),
    (["gemm", "--preset", "nope"], "preset"),
])
def test_gemm_bad_arguments(argv, msg, capsys):
    rc, _ = _main(argv)
    assert rc == 2 and msg in capsys.readouterr().err

