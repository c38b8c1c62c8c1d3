// register_quantize.cpp - quantize_mx and quantize_nvfp4.
#include <cmath>

#include "common.hpp"

extern "C" int32_t mx_quantize_mx_impl(const float *x, int64_t n, const mxemu_format *elem,
                                       int32_t block_size, int32_t scale_mode, int32_t rounding,
                                       int32_t nan_policy, int32_t inf_policy,
                                       int32_t zero_block_scale, int32_t scale_range,
                                       int32_t flush_subnormals, int32_t int8_min,
                                       const uint32_t *rand_bits, int32_t sr_bits, uint8_t *codes,
                                       uint8_t *scales, uint8_t *flags, int allow_fast);

namespace mxemu_py {

namespace {

struct Outputs {
    py::array_t<uint8_t> codes, scales, flags;
};

Outputs make_outputs(py::ssize_t rows, py::ssize_t cols, py::ssize_t block_size)
{
    Outputs o;
    o.codes = py::array_t<uint8_t>({rows, cols});
    o.scales = py::array_t<uint8_t>({rows, cols / block_size});
    o.flags = py::array_t<uint8_t>({rows, cols});
    return o;
}

void check_block(py::ssize_t cols, int32_t block_size)
{
    if (block_size < 1)
        value_error("block_size must be >= 1, got " + std::to_string(block_size));
    if (cols % block_size != 0)
        value_error("x: the last dimension (" + std::to_string(cols) +
                    ") must be a multiple of block_size (" + std::to_string(block_size) + ")");
}

py::tuple quantize_mx_impl(const py::object &x_obj, const py::object &fmt_obj,
                           int32_t block_size, int32_t scale_mode, int32_t rounding,
                           int32_t nan_policy, int32_t inf_policy, int32_t zero_block_scale,
                           int32_t scale_range, bool flush_subnormals, bool int8_min,
                           const py::object &rand_obj, int32_t sr_bits, int allow_fast)
{
    // 1. Arguments, each checked with its own name.
    py::array_t<float> x = checked_array<float>(x_obj, "x", 2);
    const mxemu_format fmt = parse_fmt(fmt_obj);
    if (fmt_props(fmt).bits > 8)
        value_error("fmt: MX element formats must have at most 8 bits");
    const py::ssize_t rows = x.shape(0), cols = x.shape(1);
    check_block(cols, block_size);
    check_enum(scale_mode, MXEMU_SCALE_FLOOR, MXEMU_SCALE_RCEIL, "scale_mode");
    check_enum(rounding, MXEMU_RNE, MXEMU_SR, "rounding");
    if (nan_policy != MXEMU_POLICY_BLOCK && nan_policy != MXEMU_POLICY_ERROR)
        value_error("nan_policy must be 0 (block) or 2 (error), got " +
                    std::to_string(nan_policy));
    check_enum(inf_policy, MXEMU_POLICY_BLOCK, MXEMU_POLICY_ERROR, "inf_policy");
    check_enum(zero_block_scale, 0, 255, "zero_block_scale");
    check_enum(scale_range, MXEMU_SCALE_RANGE_CLAMP, MXEMU_SCALE_RANGE_ERROR, "scale_range");
    py::array_t<uint32_t> rand;
    const uint32_t *rand_ptr = nullptr;
    if (!rand_obj.is_none()) {
        rand = checked_array<uint32_t>(rand_obj, "rand_bits", 2);
        if (rand.shape(0) != rows || rand.shape(1) != cols)
            value_error("rand_bits must have the shape of x");
        rand_ptr = rand.data();
    } else if (rounding == MXEMU_SR) {
        value_error("rand_bits is required for stochastic rounding");
    }
    if (rounding == MXEMU_SR)
        check_enum(sr_bits, 1, 32, "sr_bits");

    // 2. The kernel, without the GIL.
    Outputs o = make_outputs(rows, cols, block_size);
    const float *src = x.data();
    uint8_t *pc = o.codes.mutable_data(), *ps = o.scales.mutable_data(),
            *pf = o.flags.mutable_data();
    const int64_t n = static_cast<int64_t>(rows) * static_cast<int64_t>(cols);
    int32_t st;
    {
        py::gil_scoped_release nogil;
        st = mx_quantize_mx_impl(src, n, &fmt, block_size, scale_mode, rounding, nan_policy,
                                 inf_policy, zero_block_scale, scale_range,
                                 flush_subnormals ? 1 : 0, int8_min ? 1 : 0, rand_ptr, sr_bits, pc,
                                 ps, pf, allow_fast);
    }
    raise_status(st, "quantize_mx");
    return py::make_tuple(o.codes, o.scales, o.flags, st);
}

py::tuple quantize_mx(const py::object &x, const py::object &fmt, int32_t block_size,
                      int32_t scale_mode, int32_t rounding, int32_t nan_policy,
                      int32_t inf_policy, int32_t zero_block_scale, int32_t scale_range,
                      bool flush_subnormals, bool int8_min, const py::object &rand_bits,
                      int32_t sr_bits)
{
    return quantize_mx_impl(x, fmt, block_size, scale_mode, rounding, nan_policy, inf_policy,
                            zero_block_scale, scale_range, flush_subnormals, int8_min, rand_bits,
                            sr_bits, 1);
}

// The same kernel with every element through the one rounding routine (no
// fast path): the tests pin the two together bit for bit.
py::tuple quantize_mx_generic(const py::object &x, const py::object &fmt, int32_t block_size,
                              int32_t scale_mode, int32_t rounding, int32_t nan_policy,
                              int32_t inf_policy, int32_t zero_block_scale, int32_t scale_range,
                              bool flush_subnormals, bool int8_min, const py::object &rand_bits,
                              int32_t sr_bits)
{
    return quantize_mx_impl(x, fmt, block_size, scale_mode, rounding, nan_policy, inf_policy,
                            zero_block_scale, scale_range, flush_subnormals, int8_min, rand_bits,
                            sr_bits, 0);
}

py::tuple quantize_nvfp4(const py::object &x_obj, double tensor_scale, int32_t block_size,
                         int32_t scale_rounding, int32_t scale_floor, int32_t rounding)
{
    py::array_t<float> x = checked_array<float>(x_obj, "x", 2);
    const py::ssize_t rows = x.shape(0), cols = x.shape(1);
    check_block(cols, block_size);
    const float t32 = static_cast<float>(tensor_scale);
    if (!(std::isfinite(tensor_scale) && tensor_scale > 0.0) ||
        static_cast<double>(t32) != tensor_scale || !(t32 > 0.0f))
        value_error("tensor_scale must be a positive finite FP32 value");
    check_enum(scale_rounding, MXEMU_RNE, MXEMU_RTO, "scale_rounding");
    check_enum(scale_floor, MXEMU_SCALE_FLOOR_MIN_SUBNORMAL, MXEMU_SCALE_FLOOR_ZERO,
               "scale_floor");
    check_enum(rounding, MXEMU_RNE, MXEMU_RTO, "rounding");

    Outputs o = make_outputs(rows, cols, block_size);
    const float *src = x.data();
    uint8_t *pc = o.codes.mutable_data(), *ps = o.scales.mutable_data(),
            *pf = o.flags.mutable_data();
    const int64_t n = static_cast<int64_t>(rows) * static_cast<int64_t>(cols);
    int32_t st;
    {
        py::gil_scoped_release nogil;
        st = mxemu_quantize_nvfp4(src, n, t32, block_size, scale_rounding, scale_floor, rounding,
                                  pc, ps, pf);
    }
    raise_status(st, "quantize_nvfp4");
    return py::make_tuple(o.codes, o.scales, o.flags);
}

}  // namespace

void register_quantize(py::module_ &m)
{
    m.def("quantize_mx", &quantize_mx, py::arg("x"), py::arg("fmt"), py::arg("block_size"),
          py::arg("scale_mode"), py::arg("rounding"), py::arg("nan_policy"),
          py::arg("inf_policy"), py::arg("zero_block_scale"), py::arg("scale_range"),
          py::arg("flush_subnormals"), py::arg("int8_min"), py::arg("rand_bits"),
          py::arg("sr_bits"),
          "quantize_mx(x float32[rows, n], fmt, block_size, scale_mode, rounding, nan_policy, "
          "inf_policy, zero_block_scale, scale_range, flush_subnormals, int8_min, rand_bits, "
          "sr_bits) -> (codes, scales, flags, status)");
    m.def("_quantize_mx_generic", &quantize_mx_generic, py::arg("x"), py::arg("fmt"),
          py::arg("block_size"), py::arg("scale_mode"), py::arg("rounding"),
          py::arg("nan_policy"), py::arg("inf_policy"), py::arg("zero_block_scale"),
          py::arg("scale_range"), py::arg("flush_subnormals"), py::arg("int8_min"),
          py::arg("rand_bits"), py::arg("sr_bits"),
          "quantize_mx without the fast element path (for equivalence tests)");
    m.def("quantize_nvfp4", &quantize_nvfp4, py::arg("x"), py::arg("tensor_scale"),
          py::arg("block_size"), py::arg("scale_rounding"), py::arg("scale_floor"),
          py::arg("rounding"),
          "quantize_nvfp4(x float32[rows, n], tensor_scale, block_size, scale_rounding, "
          "scale_floor, rounding) -> (codes, scales, flags)");
}

}  // namespace mxemu_py
