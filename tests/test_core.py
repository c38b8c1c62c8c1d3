"""TensorCore: the bits are the numerics model's, the report is the timing model's, and the
report never depends on the data."""
import numpy as np
import pytest

import emulator
from emulator import TensorCore
from emulator.numerics import gemm
from emulator.timing import estimate, get_timing_preset


def _operands(seed, M=5, K=64, N=3, fa="e4m3", fb="e2m1"):
    rng = np.random.default_rng(seed)
    A = emulator.quantize(rng.standard_normal((M, K)).astype(np.float32), fa)
    B = emulator.quantize(rng.standard_normal((K, N)).astype(np.float32), fb, axis=0)
    return A, B


def test_gemm_bits_are_the_reference_models_and_the_report_is_estimates(backend):
    tc = TensorCore("b200-mxf8f6f4", "blackwell-sm")
    A, B = _operands(0)
    bits, flags, report = tc.gemm(A, B)
    ref_bits, ref_flags = gemm(A, B, None, emulator.get_preset("b200-mxf8f6f4").config)
    assert bits.dtype == ref_bits.dtype and (bits == ref_bits).all()
    assert (flags == ref_flags).all()
    assert report == estimate(get_timing_preset("blackwell-sm"), 5, 3, 64, ("e4m3", "e2m1"))


def test_timing_never_depends_on_data(backend):
    tc = TensorCore(emulator.get_preset("b200-mxf8f6f4").config, "mi355x-cu")
    results = [tc.gemm(*_operands(seed)) for seed in (1, 2)]
    assert not (results[0].bits == results[1].bits).all()        # the data differ ...
    assert results[0].report == results[1].report                 # ... the cycles do not
    zeros = emulator.quantize(np.zeros((5, 64), np.float32), "e4m3")
    assert tc.gemm(zeros, _operands(3)[1]).report == results[0].report


def test_gemm_with_c_reads_c_and_the_result_unpacks(backend):
    tc = TensorCore("b200-mxf8f6f4", "blackwell-sm")
    A, B = _operands(4)
    C = np.full((5, 3), 0x3F800000, dtype=np.uint32)               # FP32 1.0
    res = tc.gemm(A, B, C)
    bits, flags, report = res
    assert (bits == res.bits).all() and report is res.report
    ref, _ = gemm(A, B, C, tc.numerics)
    assert (bits == ref).all()
    assert report.bytes_read - tc.estimate(5, 3, 64, ("e4m3", "e2m1")).bytes_read == 5 * 3 * 4


def test_bad_arguments_are_named():
    with pytest.raises(TypeError, match="numerics"):
        TensorCore(3, "blackwell-sm")
    with pytest.raises(TypeError, match="timing"):
        TensorCore("exact", 3)
    with pytest.raises(ValueError, match="timing preset"):
        TensorCore("exact", "nope")
    tc = TensorCore("exact", "blackwell-sm")
    A, B = _operands(5)
    with pytest.raises(ValueError, match="K=64 but B has K=32"):
        tc.gemm(A, _operands(5, K=32)[1])
    with pytest.raises(ValueError, match="format 'fp16'"):       # no rate for FP16
        tc.gemm((np.zeros((2, 4), np.uint16), "fp16"), (np.zeros((4, 2), np.uint16), "fp16"))
    with pytest.raises(TypeError, match="A: allowed"):
        tc.gemm([1, 2], B)
    with pytest.raises(ValueError, match="method"):
        tc.gemm(A, B, method="slow")
