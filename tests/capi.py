"""libmxemu for the tests that drive its C ABI through cffi (ABI mode), as a C/C++ or DPI-C
testbench would: the declarations come from the installed mxemu.h itself, so a test and the
header can never disagree about a signature or a struct.

    from capi import load, c_config
    ffi, lib = load()          # skips the test with the reason when libmxemu is not built
"""
import functools
import os
import re

import pytest

import emulator


def header_cdef(text: str) -> str:
    """mxemu.h as cffi's cdef takes it: no comments, preprocessor lines, export macros or
    extern "C" guards."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    keep = []
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#") or s in ('extern "C" {', "}"):
            continue
        keep.append(line.replace("MXEMU_API ", ""))
    return "\n".join(keep)


@functools.lru_cache(maxsize=None)
def _load(path: str, header: str):
    import cffi
    ffi = cffi.FFI()
    with open(header) as f:
        ffi.cdef(header_cdef(f.read()))
    return ffi, ffi.dlopen(path)


def load():
    """(ffi, lib) of libmxemu (emulator.native_library_path: MXEMU_LIBRARY selects another
    build, e.g. CI's sanitizer build); skips when cffi or the library is missing."""
    pytest.importorskip("cffi", reason="cffi is needed to drive the C ABI")
    try:
        path = emulator.native_library_path()
        header = os.path.join(emulator.native_include_path(), "mxemu.h")
    except FileNotFoundError as exc:
        pytest.skip(f"libmxemu is not built: {exc}")
    return _load(path, header)


def c_config(ffi, cfg):
    """An AccumConfig as the mxemu_accum_config struct the Python adapter passes."""
    from emulator.numerics import native as NV
    d = NV.config_to_native(cfg)
    c = ffi.new("mxemu_accum_config *")
    c.struct_size = ffi.sizeof("mxemu_accum_config")
    c.version = NV._native.ACCUM_CONFIG_VERSION
    for key, val in d.items():
        if isinstance(val, tuple):
            setattr(c, key, list(val))
        elif val is not None:
            setattr(c, key, val)
    return c
