// module.cpp - the emulator._native extension: a thin pybind11 layer over
// the C core (include/mxemu.h).  One registration file per topic.
#include "common.hpp"

namespace mxemu_py {
void register_codec(py::module_ &m);
void register_quantize(py::module_ &m);
void register_numerics(py::module_ &m);
void register_blockscale(py::module_ &m);
}  // namespace mxemu_py

PYBIND11_MODULE(_native, m)
{
    m.doc() = "mxemu native backend: bit-exact MX codecs and quantization (C11 core)";
    m.attr("__version__") = "0.1.0";
    m.attr("BACKEND") = "native";
    mxemu_py::register_codec(m);
    mxemu_py::register_quantize(m);
    mxemu_py::register_numerics(m);
    mxemu_py::register_blockscale(m);
}
