"""The backend switch: one place, an environment override, and a graceful fallback."""
import os
import subprocess
import sys
import textwrap

import pytest

import emulator
from emulator import _backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(code: str, env_extra: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MXEMU_BACKEND"}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_missing_extension_falls_back_with_one_line_warning():
    # Hide the extension with an import hook, as if it had never been built.
    code = """
        import sys, warnings
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "emulator._native":
                    raise ImportError("blocked for the test")
        sys.meta_path.insert(0, Block())
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            import emulator
            print(emulator.backend())
            print(emulator.formats.E4M3.encode([1.0]).codes[0])
        msgs = [str(x.message) for x in w if issubclass(x.category, RuntimeWarning)]
        print(len(msgs), msgs[0].count(chr(10)), msgs[0])
    """
    out = _run(code, {}).stdout.splitlines()
    assert out[0] == "reference"
    assert out[1] == str(0x38)
    count, newlines, msg = out[2].split(" ", 2)
    assert count == "1" and newlines == "0" and "reference" in msg


@pytest.mark.parametrize("name", ["reference", "native"])
def test_env_override(name):
    if name not in _backend.available():
        pytest.skip(f"the {name} backend is not importable here")
    res = _run("import emulator; print(emulator.backend())", {"MXEMU_BACKEND": name})
    assert res.stdout.strip() == name, res.stderr


def test_env_override_rejects_unknown_names():
    res = _run("import emulator; emulator.formats.E4M3.decode([0])", {"MXEMU_BACKEND": "gpu"})
    assert res.returncode != 0
    assert "MXEMU_BACKEND='gpu'" in res.stderr and "native, reference" in res.stderr


def test_using_switches_and_restores():
    before = _backend.current()
    with _backend.using("reference") as mod:
        assert _backend.current() == "reference" and _backend.get() is mod
    assert _backend.current() == before
    with pytest.raises(ValueError, match="allowed: native, reference"):
        with _backend.using("cuda"):
            pass


def test_native_is_default_when_built():
    if os.environ.get("MXEMU_REQUIRE_NATIVE") != "1" and "native" not in _backend.available():
        pytest.skip("the native extension is not built here")
    res = _run("import emulator; print(emulator.backend())", {})
    assert res.stdout.strip() == "native", res.stderr


def test_library_override_and_include_path(monkeypatch, tmp_path):
    """MXEMU_LIBRARY names another build of libmxemu (CI's sanitizer build); a missing file is
    a clear error; the header directory holds mxemu.h."""
    fake = tmp_path / "libmxemu_asan.so"
    fake.write_bytes(b"")
    monkeypatch.setenv("MXEMU_LIBRARY", str(fake))
    assert emulator.native_library_path() == str(fake.resolve())
    monkeypatch.setenv("MXEMU_LIBRARY", str(tmp_path / "missing.so"))
    with pytest.raises(FileNotFoundError, match="MXEMU_LIBRARY"):
        emulator.native_library_path()
    monkeypatch.delenv("MXEMU_LIBRARY")
    try:
        inc = emulator.native_include_path()
    except FileNotFoundError:
        pytest.skip("libmxemu is not built")
    assert os.path.isfile(os.path.join(inc, "mxemu.h"))
