// register_blockscale.cpp - quantize_blocks (general block scaling) and
// fma_round (the promotion step of two-level accumulation) over the C core.
// emulator/blockscale.py and emulator/numerics/twolevel.py validate user
// input and convert; this layer checks shapes and dtypes and drops the GIL.
#include <cmath>
#include <vector>

#include "common.hpp"

namespace mxemu_py {

namespace {

// An argument error of the C core becomes a ValueError naming what the
// binding could not check itself (statuses >= 0 go back to the caller).
py::tuple quantize_blocks(const py::object &x_obj, const py::object &block_obj,
                          const py::object &fmt_obj, int32_t scale_kind, int32_t rounding,
                          int32_t scale_rounding, int32_t nan_policy, int64_t zero_block_scale,
                          double tensor_scale)
{
    // 1. Arguments, each checked with its own name.
    if (!py::isinstance<py::array>(x_obj))
        value_error("x must be a numpy array");
    const int ndim = py::reinterpret_borrow<py::array>(x_obj).ndim();
    if (ndim < 1 || ndim > MXEMU_BLOCKS_MAX_NDIM)
        value_error("x must have 1 to " + std::to_string(MXEMU_BLOCKS_MAX_NDIM) +
                    " dimensions, got " + std::to_string(ndim));
    py::array_t<float> x = checked_array<float>(x_obj, "x", ndim);
    const mxemu_format fmt = parse_fmt(fmt_obj);
    if (fmt_props(fmt).bits > 8)
        value_error("fmt: block-scaled element formats must have at most 8 bits");
    if (!py::isinstance<py::tuple>(block_obj) && !py::isinstance<py::list>(block_obj))
        value_error("block must be a tuple of ints, one per dimension of x");
    py::sequence bseq = py::reinterpret_borrow<py::sequence>(block_obj);
    if (static_cast<int>(bseq.size()) != ndim)
        value_error("block must have one length per dimension of x (" + std::to_string(ndim) +
                    "), got " + std::to_string(bseq.size()));
    std::vector<int64_t> shape(ndim), block(ndim), padded(ndim), grid(ndim);
    for (int d = 0; d < ndim; d++) {
        shape[d] = static_cast<int64_t>(x.shape(d));
        py::object item = bseq[d];
        if (!PyIndex_Check(item.ptr()))
            value_error("block[" + std::to_string(d) + "] must be an int");
        block[d] = item.cast<int64_t>();
        if (block[d] < 1)
            value_error("block[" + std::to_string(d) + "] must be >= 1");
        grid[d] = shape[d] / block[d] + (shape[d] % block[d] != 0);
        padded[d] = grid[d] * block[d];
    }
    check_enum(scale_kind, MXEMU_BSCALE_E8M0, MXEMU_BSCALE_UE4M3, "scale_kind");
    check_enum(rounding, MXEMU_RNE, MXEMU_RTO, "rounding");
    check_enum(scale_rounding, MXEMU_RNE, MXEMU_RTO, "scale_rounding");
    if (nan_policy != MXEMU_POLICY_BLOCK && nan_policy != MXEMU_POLICY_ERROR)
        value_error("nan_policy must be 0 (block) or 2 (error), got " +
                    std::to_string(nan_policy));
    const int64_t zmax = scale_kind == MXEMU_BSCALE_FP32    ? 0x7F7FFFFF
                         : scale_kind == MXEMU_BSCALE_UE4M3 ? 0x7E
                                                            : 254;
    const int64_t zmin = scale_kind == MXEMU_BSCALE_FP32 ? 1 : 0;
    if (zero_block_scale >= 0 && (zero_block_scale < zmin || zero_block_scale > zmax))
        value_error("zero_block_scale must be < 0 (the default) or a finite scale code in [" +
                    std::to_string(zmin) + ", " + std::to_string(zmax) + "], got " +
                    std::to_string(zero_block_scale));
    const float t32 = static_cast<float>(tensor_scale);
    if (scale_kind == MXEMU_BSCALE_UE4M3 &&
        (!(std::isfinite(tensor_scale) && tensor_scale > 0.0) ||
         static_cast<double>(t32) != tensor_scale))
        value_error("tensor_scale must be a positive finite FP32 value");

    // 2. The kernel, without the GIL.
    py::array_t<uint8_t> codes(padded), flags(padded);
    py::array_t<uint32_t> scales(grid);
    const float *src = x.data();
    uint8_t *pc = codes.mutable_data(), *pf = flags.mutable_data();
    uint32_t *ps = scales.mutable_data();
    int32_t st;
    {
        py::gil_scoped_release nogil;
        st = mxemu_quantize_blocks(src, ndim, shape.data(), block.data(), &fmt, scale_kind,
                                   rounding, scale_rounding, nan_policy, zero_block_scale, t32,
                                   pc, ps, pf);
    }
    raise_status(st, "quantize_blocks");
    return py::make_tuple(codes, scales, flags, st);
}

py::tuple fma_round(const py::object &fmt_obj, const py::object &p_obj, const py::object &s_obj,
                    const py::object &c_obj, int32_t rounding, int32_t nan)
{
    const mxemu_format fmt = parse_fmt(fmt_obj);
    if (fmt.kind != MXEMU_KIND_FLOAT)
        value_error("fmt must be a float format");
    py::array_t<double> p = checked_array<double>(p_obj, "p", 1);
    py::array_t<double> s = checked_array<double>(s_obj, "s", 1);
    py::array_t<double> c = checked_array<double>(c_obj, "c", 1);
    const py::ssize_t n = p.shape(0);
    if (s.shape(0) != n || c.shape(0) != n)
        value_error("p, s and c must have the same length");
    check_enum(rounding, MXEMU_RNE, MXEMU_RTO, "rounding");
    if (nan != MXEMU_ACC_NAN_CANONICAL && nan != MXEMU_ACC_NAN_ALL_ONES)
        value_error("nan must be 0 (canonical) or 1 (all_ones), got " + std::to_string(nan));

    py::array_t<uint32_t> codes(n);
    py::array_t<uint8_t> flags(n);
    const double *pp = p.data(), *sp = s.data(), *cp = c.data();
    uint32_t *pc = codes.mutable_data();
    uint8_t *pf = flags.mutable_data();
    int32_t st;
    {
        py::gil_scoped_release nogil;
        st = mxemu_fma_round(&fmt, static_cast<int64_t>(n), pp, sp, cp, rounding, nan, pc, pf);
    }
    raise_status(st, "fma_round");
    return py::make_tuple(codes, flags);
}

}  // namespace

void register_blockscale(py::module_ &m)
{
    m.attr("BLOCKS_MAX_NDIM") = MXEMU_BLOCKS_MAX_NDIM;
    m.def("quantize_blocks", &quantize_blocks, py::arg("x"), py::arg("block"), py::arg("fmt"),
          py::arg("scale_kind"), py::arg("rounding"), py::arg("scale_rounding"),
          py::arg("nan_policy"), py::arg("zero_block_scale"), py::arg("tensor_scale"),
          "quantize_blocks(x float32[...], block, fmt, scale_kind, rounding, scale_rounding, "
          "nan_policy, zero_block_scale (<0: default), tensor_scale) -> (codes uint8[padded], "
          "scales uint32[grid], flags uint8[padded], status)");
    m.def("fma_round", &fma_round, py::arg("fmt"), py::arg("p"), py::arg("s"), py::arg("c"),
          py::arg("rounding"), py::arg("nan"),
          "fma_round(fmt, p float64[n], s float64[n], c float64[n], rounding, nan) -> "
          "(codes uint32[n], flags uint8[n]): RN(p * s + c) rounded once");
}

}  // namespace mxemu_py
