"""The one place that chooses the implementation: the native core or the Python reference.

The choice is made once, at import: `MXEMU_BACKEND=native|reference` forces one; otherwise
the native extension is used when it imports, else the reference with a one-line warning.
Both expose the kernels of docs/BACKEND_CONTRACT.md with identical semantics.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import warnings

NAMES = ("native", "reference")
_MODULES = {"native": "emulator._native", "reference": "emulator._reference"}


def _load(name: str):
    if name not in NAMES:
        raise ValueError(f"backend {name!r} is unknown; allowed: {', '.join(NAMES)}")
    return importlib.import_module(_MODULES[name])


def _choose():
    forced = os.environ.get("MXEMU_BACKEND", "").strip().lower()
    if forced:
        if forced not in NAMES:
            raise ValueError(f"MXEMU_BACKEND={forced!r} is unknown; allowed: {', '.join(NAMES)}")
        return forced, _load(forced)
    try:
        return "native", _load("native")
    except ImportError as exc:
        warnings.warn(f"mxemu: native core not available ({exc}); using the slow pure-Python "
                      "reference backend", RuntimeWarning, stacklevel=3)
        return "reference", _load("reference")


_state = {}


def _ensure():
    if not _state:
        _state["name"], _state["module"] = _choose()


def get():
    """The active backend module."""
    _ensure()
    return _state["module"]


def current() -> str:
    """The active backend's name."""
    _ensure()
    return _state["name"]


def available() -> list:
    """Names of the backends that import on this machine."""
    out = []
    for name in NAMES:
        try:
            _load(name)
            out.append(name)
        except ImportError:
            pass
    return out


@contextlib.contextmanager
def using(name: str):
    """Temporarily switch backend (a test and benchmark helper; not thread-safe)."""
    module = _load(name)
    _ensure()
    saved = dict(_state)
    _state.update(name=name, module=module)
    try:
        yield module
    finally:
        _state.clear()
        _state.update(saved)


def native_library_path() -> str:
    """Path of libmxemu (the C ABI library for C/C++/SystemVerilog DPI-C testbenches).

    It is installed next to the extension module. The environment variable MXEMU_LIBRARY,
    when set, names another build of it instead (e.g. one built with the sanitizers, as CI
    does). Raises FileNotFoundError when the library is not there."""
    import importlib.util
    import pathlib
    import sys

    override = os.environ.get("MXEMU_LIBRARY")
    if override:
        if not pathlib.Path(override).is_file():
            raise FileNotFoundError(f"MXEMU_LIBRARY={override!r} is not a file")
        return str(pathlib.Path(override).resolve())
    names = {"linux": "libmxemu.so", "darwin": "libmxemu.dylib", "win32": "mxemu.dll"}
    name = names.get(sys.platform, "libmxemu.so")
    spec = importlib.util.find_spec("emulator._native")
    here = pathlib.Path(__file__).resolve().parent
    dirs = ([pathlib.Path(spec.origin).resolve().parent] if spec and spec.origin else []) + [here]
    for d in dirs:
        if (d / name).is_file():
            return str(d / name)
    raise FileNotFoundError(f"{name} not found next to the native extension (looked in "
                            f"{', '.join(map(str, dirs))}); build it with `pip install .`")


def native_include_path() -> str:
    """The directory holding mxemu.h, the C ABI's header (installed with libmxemu)."""
    import pathlib

    for d in (pathlib.Path(native_library_path()).parent / "include",
              pathlib.Path(__file__).resolve().parent.parent / "native" / "include"):
        if (d / "mxemu.h").is_file():
            return str(d)
    raise FileNotFoundError("mxemu.h not found next to libmxemu; build it with `pip install .`")
