"""Golden vectors: generation (boundary tables + random, TestFloat style), the file formats
(.tv, $readmemh, JSON Lines), checking, verification of device dumps, diagnosis and
adequacy. golden/README.md specifies the files; the shipped suite lives in golden/.

    from emulator.golden import make_spec, generate, write_all, check, verify
"""
from .spec import GOLDEN_VERSION, Spec, spec_from_header
from .api import generate, generate_chunks, make_spec, write_stream
from .files import GoldenFile, read_tv, write_all
from .checking import adequacy, check, verify
from .neighbours import neighbours

__all__ = ["GOLDEN_VERSION", "Spec", "spec_from_header", "make_spec", "generate",
           "generate_chunks", "write_stream", "GoldenFile", "read_tv", "write_all", "check",
           "verify", "adequacy", "neighbours"]
