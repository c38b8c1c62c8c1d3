// register_numerics.cpp - the accumulation model: gemm over the C core's
// mxemu_gemm.  emulator/numerics/native.py builds the config dict from an
// AccumConfig; this layer only checks shapes and dtypes.
#include "common.hpp"

#include <cstdlib>
#include <vector>

namespace mxemu_py {

namespace {

int32_t cfg_int(const py::dict &d, const char *key)
{
    if (!d.contains(key))
        value_error(std::string("config: missing key '") + key + "'");
    py::object v = d[key];
    if (!PyIndex_Check(v.ptr()))
        value_error(std::string("config['") + key + "'] must be an int");
    long long x = PyLong_AsLongLong(v.ptr());
    if (PyErr_Occurred() || x < INT32_MIN || x > INT32_MAX) {
        PyErr_Clear();
        value_error(std::string("config['") + key + "'] is out of range");
    }
    return static_cast<int32_t>(x);
}

mxemu_format cfg_fmt(const py::dict &d, const char *key)
{
    if (!d.contains(key))
        value_error(std::string("config: missing key '") + key + "'");
    return parse_fmt(d[key], key);
}

mxemu_accum_config parse_config(const py::dict &d)
{
    mxemu_accum_config c{};
    c.struct_size = sizeof(mxemu_accum_config);
    c.version = MXEMU_ACCUM_CONFIG_VERSION;
    c.instruction_k = cfg_int(d, "instruction_k");
    c.terms_per_step = cfg_int(d, "terms_per_step");
    c.k_split = cfg_int(d, "k_split");
    c.interleave = cfg_int(d, "interleave");
    c.block_terms = cfg_int(d, "block_terms");
    c.has_product_format = cfg_int(d, "has_product_format");
    if (c.has_product_format)
        c.product_format = cfg_fmt(d, "product_format");
    c.product_rounding = cfg_int(d, "product_rounding");
    c.product_exponent = cfg_int(d, "product_exponent");
    c.alignment = cfg_int(d, "alignment");
    c.anchor_exp = cfg_int(d, "anchor_exp");
    c.has_align_floor = cfg_int(d, "has_align_floor");
    c.align_floor = cfg_int(d, "align_floor");
    c.frac_bits = cfg_int(d, "frac_bits");
    c.carry_bits = cfg_int(d, "carry_bits");
    c.dropped = cfg_int(d, "dropped");
    c.c_entry = cfg_int(d, "c_entry");
    c.output_format = cfg_fmt(d, "output_format");
    c.register_format = cfg_fmt(d, "register_format");
    c.rounding = cfg_int(d, "rounding");
    c.has_step_format = cfg_int(d, "has_step_format");
    if (c.has_step_format)
        c.step_format = cfg_fmt(d, "step_format");
    c.step_rounding = cfg_int(d, "step_rounding");
    c.sr_bits = cfg_int(d, "sr_bits");
    c.input_subnormals = cfg_int(d, "input_subnormals");
    c.output_subnormals = cfg_int(d, "output_subnormals");
    c.nan = cfg_int(d, "nan");
    c.overflow = cfg_int(d, "overflow");
    c.zero_sign = cfg_int(d, "zero_sign");
    return c;
}

// The operands of mxemu_gemm / mxemu_dot_batch after shape and dtype checks.
struct Operands {
    mxemu_accum_config cfg;
    mxemu_format a_fmt, b_fmt, c_fmt, sfmt;
    const mxemu_format *sfp = nullptr;
    py::array_t<uint32_t> a, b, c;
    py::array_t<uint8_t> as, bs;
    py::array_t<uint32_t> rnd;
    const uint8_t *asp = nullptr, *bsp = nullptr;
    const uint32_t *cp = nullptr, *rp = nullptr;
    int64_t rand_per = 0;
    int64_t rows_a = 0, rows_b = 0, k = 0;
};

// a_codes is rows_a x K; b_codes rows_b x K (B transposed for the GEMM, one row
// per dot for the batch); scales rows x (K / block) or None.
Operands operands(const py::dict &cfg_d, const py::object &a_fmt_o, const py::object &a_o,
                  const py::object &b_fmt_o, const py::object &b_o, const py::object &sfmt_o,
                  const py::object &as_o, int64_t a_block, const py::object &bs_o,
                  int64_t b_block, const py::object &c_fmt_o, int64_t threads)
{
    Operands o;
    o.cfg = parse_config(cfg_d);
    o.a_fmt = parse_fmt(a_fmt_o, "a_fmt");
    o.b_fmt = parse_fmt(b_fmt_o, "b_fmt");
    o.c_fmt = parse_fmt(c_fmt_o, "c_fmt");
    o.a = checked_array<uint32_t>(a_o, "a_codes", 2);
    o.b = checked_array<uint32_t>(b_o, "b_codes", 2);
    o.rows_a = o.a.shape(0);
    o.k = o.a.shape(1);
    o.rows_b = o.b.shape(0);
    const int64_t k = o.k;
    if (o.b.shape(1) != k)
        value_error("b_codes: K is " + std::to_string(o.b.shape(1)) + " but a_codes has K=" +
                    std::to_string(k));
    if (threads < 0 || threads > 4096)
        value_error("threads must be in [0, 4096] (0: MXEMU_THREADS or all cores), got " +
                    std::to_string(threads));
    if (!sfmt_o.is_none()) {
        o.sfmt = parse_fmt(sfmt_o, "scale_fmt");
        o.sfp = &o.sfmt;
    }
    auto scales = [k](const py::object &obj, int64_t block, int64_t rows, const char *name,
                      const char *block_name, py::array_t<uint8_t> &keep) -> const uint8_t * {
        if (obj.is_none())
            return nullptr;
        if (block < 1 || k % block)
            value_error(std::string(block_name) + "=" + std::to_string(block) +
                        ": the block length of " + name + " must be >= 1 and divide K=" +
                        std::to_string(k));
        keep = checked_array<uint8_t>(obj, name, 2);
        if (keep.shape(0) != rows || keep.shape(1) != k / block)
            value_error(std::string(name) + " must have shape (" + std::to_string(rows) +
                        ", K / block) = (" + std::to_string(rows) + ", " +
                        std::to_string(k / block) + ")");
        return keep.data();
    };
    o.asp = scales(as_o, a_block, o.rows_a, "a_scales", "a_block", o.as);
    o.bsp = scales(bs_o, b_block, o.rows_b, "b_scales", "b_block", o.bs);
    if ((o.asp || o.bsp) && !o.sfp)
        value_error("scale_fmt is required with scales");
    return o;
}

// rand_bits: None, or one uint32 word per output (shape `outs`), or `outs` x R words.
void rand_words(Operands &o, const py::object &r_o, const std::vector<int64_t> &outs)
{
    if (r_o.is_none())
        return;
    const int nd = static_cast<int>(outs.size());
    py::array_t<uint32_t> r = py::array_t<uint32_t, py::array::c_style | py::array::forcecast>::
        ensure(r_o);
    if (!r || (r.ndim() != nd && r.ndim() != nd + 1))
        value_error("rand_bits must be None, one word per output, or R words per output");
    for (int d = 0; d < nd; d++)
        if (r.shape(d) != outs[d])
            value_error("rand_bits: its leading shape must be the outputs' shape");
    if (r.ndim() == nd + 1 && r.shape(nd) == 0)
        value_error("rand_bits: R words per output needs R >= 1");
    o.rand_per = r.ndim() == nd + 1 ? r.shape(nd) : 0;
    o.rnd = r;
    o.rp = o.rnd.data();
}

// rand_per: the words per output of a sequence (MXEMU_ERR_RAND_SHORT raises the
// reference's ValueError, _Rand in emulator/numerics/reference.py).
void check_status(int32_t st, const char *what, int64_t rand_per)
{
    if (st == MXEMU_ERR_RAND_SHORT)
        value_error("rand_bits has " + std::to_string(rand_per) +
                    " values but the chain needs more");
    if (st == MXEMU_ERR_CODE_RANGE)
        value_error("codes: a code (of A, B, C or the scales) is out of range for its format");
    raise_status(st, what);
}

py::tuple gemm(const py::dict &cfg_d, const py::object &a_fmt_o, const py::object &a_o,
               const py::object &b_fmt_o, const py::object &b_o, const py::object &sfmt_o,
               const py::object &as_o, int64_t a_block, const py::object &bs_o, int64_t b_block,
               const py::object &c_fmt_o, const py::object &c_o, int64_t threads,
               const py::object &rand_o)
{
    Operands o = operands(cfg_d, a_fmt_o, a_o, b_fmt_o, b_o, sfmt_o, as_o, a_block, bs_o,
                          b_block, c_fmt_o, threads);
    const int64_t m = o.rows_a, n = o.rows_b;
    if (!c_o.is_none()) {
        o.c = checked_array<uint32_t>(c_o, "c_codes", 2);
        if (o.c.shape(0) != m || o.c.shape(1) != n)
            value_error("c_codes must have shape (M, N)");
        o.cp = o.c.data();
    }
    rand_words(o, rand_o, {m, n});
    py::array_t<uint32_t> d({m, n});
    py::array_t<uint8_t> fl({m, n});
    uint32_t *dp = d.mutable_data();
    uint8_t *fp = fl.mutable_data();
    int32_t st;
    {
        py::gil_scoped_release nogil;
        st = mxemu_gemm_ex(&o.cfg, m, n, o.k, &o.a_fmt, o.a.data(), &o.b_fmt, o.b.data(),
                           o.sfp, o.asp, static_cast<int32_t>(a_block), o.bsp,
                           static_cast<int32_t>(b_block), &o.c_fmt, o.cp, o.rp, o.rand_per,
                           static_cast<int32_t>(threads), dp, fp);
    }
    check_status(st, "gemm", o.rand_per);
    return py::make_tuple(d, fl);
}

py::tuple dot_batch(const py::dict &cfg_d, const py::object &a_fmt_o, const py::object &a_o,
                    const py::object &b_fmt_o, const py::object &b_o, const py::object &sfmt_o,
                    const py::object &as_o, int64_t a_block, const py::object &bs_o,
                    int64_t b_block, const py::object &c_fmt_o, const py::object &c_o,
                    int64_t threads, const py::object &rand_o)
{
    Operands o = operands(cfg_d, a_fmt_o, a_o, b_fmt_o, b_o, sfmt_o, as_o, a_block, bs_o,
                          b_block, c_fmt_o, threads);
    const int64_t p = o.rows_a;
    if (o.rows_b != p)
        value_error("b_codes has " + std::to_string(o.rows_b) + " rows but a_codes has " +
                    std::to_string(p) + " (one row per dot in both)");
    if (!c_o.is_none()) {
        o.c = checked_array<uint32_t>(c_o, "c_codes", 1);
        if (o.c.shape(0) != p)
            value_error("c_codes must have shape (P,) = (" + std::to_string(p) + ",)");
        o.cp = o.c.data();
    }
    rand_words(o, rand_o, {p});
    py::array_t<uint32_t> d(p);
    py::array_t<uint8_t> fl(p);
    uint32_t *dp = d.mutable_data();
    uint8_t *fp = fl.mutable_data();
    int32_t st;
    {
        py::gil_scoped_release nogil;
        st = mxemu_dot_batch_ex(&o.cfg, p, o.k, &o.a_fmt, o.a.data(), &o.b_fmt, o.b.data(),
                                o.sfp, o.asp, static_cast<int32_t>(a_block), o.bsp,
                                static_cast<int32_t>(b_block), &o.c_fmt, o.cp, o.rp,
                                o.rand_per, static_cast<int32_t>(threads), dp, fp);
    }
    check_status(st, "dot_batch", o.rand_per);
    return py::make_tuple(d, fl);
}

}  // namespace

void register_numerics(py::module_ &m)
{
    m.def("_gemm", &gemm, py::arg("config"), py::arg("a_fmt"), py::arg("a_codes"),
          py::arg("b_fmt"), py::arg("b_codes"), py::arg("scale_fmt"), py::arg("a_scales"),
          py::arg("a_block"), py::arg("b_scales"), py::arg("b_block"), py::arg("c_fmt"),
          py::arg("c_codes"), py::arg("threads"), py::arg("rand_bits") = py::none(),
          "D = A @ B + C with the accumulation model (mxemu_gemm_ex).  B is passed transposed "
          "(N x K).  Raises ValueError for bad arguments.");
    m.def("_dot_batch", &dot_batch, py::arg("config"), py::arg("a_fmt"), py::arg("a_codes"),
          py::arg("b_fmt"), py::arg("b_codes"), py::arg("scale_fmt"), py::arg("a_scales"),
          py::arg("a_block"), py::arg("b_scales"), py::arg("b_block"), py::arg("c_fmt"),
          py::arg("c_codes"), py::arg("threads"), py::arg("rand_bits") = py::none(),
          "P independent dots (mxemu_dot_batch_ex): row r of a_codes with row r of b_codes, "
          "C c_codes[r].  Errors as _gemm.");
    m.attr("ACCUM_CONFIG_VERSION") = MXEMU_ACCUM_CONFIG_VERSION;
}

}  // namespace mxemu_py
