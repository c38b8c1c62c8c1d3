// common.hpp - helpers shared by the registration files: argument checks
// that name the offending argument, and status -> exception mapping.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

extern "C" {
#include "mxemu.h"
}

namespace mxemu_py {

namespace py = pybind11;

[[noreturn]] inline void value_error(const std::string &msg) { throw py::value_error(msg); }

// `fmt` arrives as the 7-int tuple (kind, exp_bits, man_bits, bias, signed,
// specials, subnormals) of Format.params.
inline mxemu_format parse_fmt(const py::handle &obj, const char *name = "fmt")
{
    if (!py::isinstance<py::tuple>(obj) && !py::isinstance<py::list>(obj))
        value_error(std::string(name) + " must be a 7-int tuple (kind, exp_bits, man_bits, "
                                        "bias, signed, specials, subnormals)");
    py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
    if (seq.size() != 7)
        value_error(std::string(name) + " must have 7 entries, got " +
                    std::to_string(seq.size()));
    int32_t v[7];
    for (size_t i = 0; i < 7; i++) {
        py::object item = seq[i];
        // Python ints and anything with __index__ (numpy integers), not floats.
        if (!PyIndex_Check(item.ptr()))
            value_error(std::string(name) + "[" + std::to_string(i) + "] must be an int");
        py::object as_int = py::reinterpret_steal<py::object>(PyNumber_Index(item.ptr()));
        if (!as_int) {
            PyErr_Clear();
            value_error(std::string(name) + "[" + std::to_string(i) + "] must be an int");
        }
        long long x = PyLong_AsLongLong(as_int.ptr());
        if (PyErr_Occurred() || x < INT32_MIN || x > INT32_MAX) {
            PyErr_Clear();
            value_error(std::string(name) + "[" + std::to_string(i) + "] is out of range");
        }
        v[i] = static_cast<int32_t>(x);
    }
    mxemu_format f{v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
    if (mxemu_format_check(&f) != MXEMU_OK)
        value_error(std::string(name) + " is not a valid format descriptor");
    return f;
}

inline mxemu_format_props fmt_props(const mxemu_format &f)
{
    mxemu_format_props p{};
    mxemu_format_info(&f, &p);
    return p;
}

inline void check_enum(int32_t v, int32_t lo, int32_t hi, const char *name)
{
    if (v < lo || v > hi)
        value_error(std::string(name) + " must be an int in [" + std::to_string(lo) + ", " +
                    std::to_string(hi) + "], got " + std::to_string(v));
}

inline std::string dtype_name(const py::array &a) { return py::str(a.dtype()).cast<std::string>(); }

// A C-contiguous array of exactly this dtype and number of dimensions.
template <typename T>
inline py::array_t<T> checked_array(const py::handle &obj, const char *name, int ndim)
{
    if (!py::isinstance<py::array>(obj))
        value_error(std::string(name) + " must be a numpy array");
    py::array a = py::reinterpret_borrow<py::array>(obj);
    if (!a.dtype().is(py::dtype::of<T>()))
        value_error(std::string(name) + " must have dtype " +
                    py::str(py::dtype::of<T>()).cast<std::string>() + ", got " + dtype_name(a));
    if (a.ndim() != ndim)
        value_error(std::string(name) + " must be " + std::to_string(ndim) + "-D, got " +
                    std::to_string(a.ndim()) + "-D");
    if (!(a.flags() & py::array::c_style))
        value_error(std::string(name) + " must be C-contiguous");
    return py::reinterpret_borrow<py::array_t<T>>(a);
}

// Maps a negative status of the C core to ValueError (argument errors the
// binding did not already catch with a more specific message).
inline void raise_status(int32_t st, const char *what)
{
    if (st < 0)
        value_error(std::string(what) + ": " + mxemu_status_string(st));
}

}  // namespace mxemu_py
