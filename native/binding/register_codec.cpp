// register_codec.cpp - decode, unpack, encode, format_info.
#include "common.hpp"

namespace mxemu_py {

namespace {

// Any of the three code dtypes, 1-D, C-contiguous; returns its item size.
py::array checked_codes(const py::handle &obj, const char *name, int32_t *bytes)
{
    if (!py::isinstance<py::array>(obj))
        value_error(std::string(name) + " must be a numpy array");
    py::array a = py::reinterpret_borrow<py::array>(obj);
    py::dtype dt = a.dtype();
    if (dt.is(py::dtype::of<uint8_t>()))
        *bytes = 1;
    else if (dt.is(py::dtype::of<uint16_t>()))
        *bytes = 2;
    else if (dt.is(py::dtype::of<uint32_t>()))
        *bytes = 4;
    else
        value_error(std::string(name) + " must have dtype uint8, uint16 or uint32, got " +
                    dtype_name(a));
    if (a.ndim() != 1)
        value_error(std::string(name) + " must be 1-D, got " + std::to_string(a.ndim()) + "-D");
    if (!(a.flags() & py::array::c_style))
        value_error(std::string(name) + " must be C-contiguous");
    return a;
}

void raise_codes_status(int32_t st, const mxemu_format_props &p)
{
    if (st == MXEMU_ERR_CODE_RANGE)
        value_error("codes: a code is out of range for a " + std::to_string(p.bits) +
                    "-bit format (must be < 2^" + std::to_string(p.bits) + ")");
    raise_status(st, "codes");
}

py::array_t<double> decode(const py::object &fmt_obj, const py::object &codes_obj)
{
    const mxemu_format fmt = parse_fmt(fmt_obj);
    int32_t bytes = 0;
    py::array codes = checked_codes(codes_obj, "codes", &bytes);
    const int64_t n = static_cast<int64_t>(codes.size());
    py::array_t<double> out(n);
    const void *src = codes.data();
    double *dst = out.mutable_data();
    int32_t st;
    {
        py::gil_scoped_release nogil;
        st = mxemu_decode_ex(&fmt, src, bytes, n, dst);
    }
    if (st != MXEMU_OK)
        raise_codes_status(st, fmt_props(fmt));
    return out;
}

py::tuple unpack(const py::object &fmt_obj, const py::object &codes_obj)
{
    const mxemu_format fmt = parse_fmt(fmt_obj);
    int32_t bytes = 0;
    py::array codes = checked_codes(codes_obj, "codes", &bytes);
    const int64_t n = static_cast<int64_t>(codes.size());
    py::array_t<int64_t> sign(n), exp(n), sig(n), cls(n);
    const void *src = codes.data();
    int64_t *ps = sign.mutable_data(), *pe = exp.mutable_data(), *pg = sig.mutable_data(),
            *pc = cls.mutable_data();
    int32_t st;
    {
        py::gil_scoped_release nogil;
        st = mxemu_unpack_ex(&fmt, src, bytes, n, ps, pe, pg, pc);
    }
    if (st != MXEMU_OK)
        raise_codes_status(st, fmt_props(fmt));
    return py::make_tuple(sign, exp, sig, cls);
}

py::tuple encode(const py::object &fmt_obj, const py::object &values_obj, int32_t rounding,
                 int32_t overflow, const py::object &rand_obj, int32_t sr_bits, bool int_min)
{
    // 1. Arguments, each checked with its own name.
    const mxemu_format fmt = parse_fmt(fmt_obj);
    const mxemu_format_props p = fmt_props(fmt);
    py::array_t<double> values = checked_array<double>(values_obj, "values", 1);
    const int64_t n = static_cast<int64_t>(values.size());
    check_enum(rounding, MXEMU_RNE, MXEMU_SR, "rounding");
    check_enum(overflow, MXEMU_OVERFLOW_SATURATE, MXEMU_OVERFLOW_NAN, "overflow");
    if (overflow == MXEMU_OVERFLOW_INF && !p.has_inf)
        value_error("overflow: 'inf' needs a format with Inf");
    if (overflow == MXEMU_OVERFLOW_NAN && !p.has_nan)
        value_error("overflow: 'nan' needs a format with NaN");
    py::array_t<uint32_t> rand;
    const uint32_t *rand_ptr = nullptr;
    if (!rand_obj.is_none()) {
        rand = checked_array<uint32_t>(rand_obj, "rand_bits", 1);
        if (static_cast<int64_t>(rand.size()) != n)
            value_error("rand_bits must have the same length as values (" + std::to_string(n) +
                        "), got " + std::to_string(rand.size()));
        rand_ptr = rand.data();
    } else if (rounding == MXEMU_SR) {
        value_error("rand_bits is required for stochastic rounding");
    }
    if (rounding == MXEMU_SR)
        check_enum(sr_bits, 1, 32, "sr_bits");

    // 2. Output in the format's code dtype.
    py::array codes;
    int32_t bytes;
    if (p.bits <= 8) {
        codes = py::array_t<uint8_t>(n);
        bytes = 1;
    } else if (p.bits <= 16) {
        codes = py::array_t<uint16_t>(n);
        bytes = 2;
    } else {
        codes = py::array_t<uint32_t>(n);
        bytes = 4;
    }
    py::array_t<uint8_t> flags(n);
    const double *src = values.data();
    void *dst = codes.mutable_data();
    uint8_t *fl = flags.mutable_data();
    int32_t st;
    {
        py::gil_scoped_release nogil;
        st = mxemu_encode_ex(&fmt, src, n, rounding, overflow, rand_ptr, sr_bits, int_min ? 1 : 0,
                             dst, bytes, fl);
    }
    raise_status(st, "encode");
    return py::make_tuple(codes, flags);
}

py::dict format_info(const py::object &fmt_obj)
{
    const mxemu_format fmt = parse_fmt(fmt_obj);
    const mxemu_format_props p = fmt_props(fmt);
    py::dict d;
    d["bits"] = p.bits;
    d["emin"] = p.emin;
    d["emax"] = p.emax;
    d["max_code"] = p.max_code;
    d["sign_mask"] = p.sign_mask;
    d["code_mask"] = p.code_mask;
    d["has_inf"] = static_cast<bool>(p.has_inf);
    d["has_nan"] = static_cast<bool>(p.has_nan);
    d["has_negative_zero"] = static_cast<bool>(p.has_neg_zero);
    d["nan_code"] = p.nan_code;
    return d;
}

}  // namespace

void register_codec(py::module_ &m)
{
    m.def("decode", &decode, py::arg("fmt"), py::arg("codes"),
          "decode(fmt, codes) -> float64[n]: exact values of 1-D uint8/16/32 codes");
    m.def("unpack", &unpack, py::arg("fmt"), py::arg("codes"),
          "unpack(fmt, codes) -> (sign, exp, sig, cls), int64[n] each");
    m.def("encode", &encode, py::arg("fmt"), py::arg("values"), py::arg("rounding"),
          py::arg("overflow"), py::arg("rand_bits"), py::arg("sr_bits"), py::arg("int_min"),
          "encode(fmt, values, rounding, overflow, rand_bits, sr_bits, int_min) -> (codes, flags)");
    m.def("format_info", &format_info, py::arg("fmt"),
          "format_info(fmt) -> dict of the properties the C core derives from fmt");
}

}  // namespace mxemu_py
