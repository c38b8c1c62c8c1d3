/*
 * handles.c - formats and accumulation configs behind opaque pointers, for
 * callers that cannot lay out C structs: a SystemVerilog DPI-C import holds
 * them as chandles, sets knobs by name with int values, and passes them to
 * every function of mxemu.h as they are (docs: native/README.md, "DPI-C").
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "mxemu_internal.h"

/* The named formats of emulator.formats (and E8M13, the FP8 accumulator of
 * the Hopper/Ada presets); tests/test_dpi.py checks them against Python. */
static const struct {
    const char *name;
    mxemu_format f;
} NAMED[] = {
    {"e4m3", {MXEMU_KIND_FLOAT, 4, 3, 7, 1, MXEMU_SPECIALS_FN, 1}},
    {"e5m2", {MXEMU_KIND_FLOAT, 5, 2, 15, 1, MXEMU_SPECIALS_IEEE, 1}},
    {"e3m2", {MXEMU_KIND_FLOAT, 3, 2, 3, 1, MXEMU_SPECIALS_FINITE, 1}},
    {"e2m3", {MXEMU_KIND_FLOAT, 2, 3, 1, 1, MXEMU_SPECIALS_FINITE, 1}},
    {"e2m1", {MXEMU_KIND_FLOAT, 2, 1, 1, 1, MXEMU_SPECIALS_FINITE, 1}},
    {"int8", {MXEMU_KIND_INT, 0, 6, 0, 1, MXEMU_SPECIALS_FINITE, 1}},
    {"e8m0", {MXEMU_KIND_FLOAT, 8, 0, 127, 0, MXEMU_SPECIALS_FN, 0}},
    {"ue4m3", {MXEMU_KIND_FLOAT, 4, 3, 7, 0, MXEMU_SPECIALS_FN, 1}},
    {"fp16", {MXEMU_KIND_FLOAT, 5, 10, 15, 1, MXEMU_SPECIALS_IEEE, 1}},
    {"bf16", {MXEMU_KIND_FLOAT, 8, 7, 127, 1, MXEMU_SPECIALS_IEEE, 1}},
    {"tf32", {MXEMU_KIND_FLOAT, 8, 10, 127, 1, MXEMU_SPECIALS_IEEE, 1}},
    {"fp32", {MXEMU_KIND_FLOAT, 8, 23, 127, 1, MXEMU_SPECIALS_IEEE, 1}},
    {"e4m3fnuz", {MXEMU_KIND_FLOAT, 4, 3, 8, 1, MXEMU_SPECIALS_FNUZ, 1}},
    {"e5m2fnuz", {MXEMU_KIND_FLOAT, 5, 2, 16, 1, MXEMU_SPECIALS_FNUZ, 1}},
    {"e8m13", {MXEMU_KIND_FLOAT, 8, 13, 127, 1, MXEMU_SPECIALS_IEEE, 1}},
};

#define KNOB(field) {#field, offsetof(mxemu_accum_config, field)}
static const struct {
    const char *name;
    size_t off;
} INT_KNOBS[] = {
    KNOB(instruction_k), KNOB(terms_per_step), KNOB(k_split), KNOB(interleave),
    KNOB(block_terms), KNOB(product_rounding), KNOB(product_exponent), KNOB(alignment),
    KNOB(anchor_exp), KNOB(has_align_floor), KNOB(align_floor), KNOB(frac_bits),
    KNOB(carry_bits), KNOB(dropped), KNOB(c_entry), KNOB(rounding), KNOB(step_rounding),
    KNOB(sr_bits), KNOB(input_subnormals), KNOB(output_subnormals), KNOB(nan), KNOB(overflow),
    KNOB(zero_sign),
};

/* The format knobs; the optional ones switch their has_* field. */
static const struct {
    const char *name;
    size_t off;
    ptrdiff_t has_off; /* -1: always present */
} FMT_KNOBS[] = {
    {"product_format", offsetof(mxemu_accum_config, product_format),
     (ptrdiff_t)offsetof(mxemu_accum_config, has_product_format)},
    {"output_format", offsetof(mxemu_accum_config, output_format), -1},
    {"register_format", offsetof(mxemu_accum_config, register_format), -1},
    {"step_format", offsetof(mxemu_accum_config, step_format),
     (ptrdiff_t)offsetof(mxemu_accum_config, has_step_format)},
};

static int same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        const char ca = (char)(*a >= 'A' && *a <= 'Z' ? *a - 'A' + 'a' : *a);
        if (ca != *b)
            return 0;
    }
    return *a == *b;
}

mxemu_format *mxemu_format_new(int32_t kind, int32_t exp_bits, int32_t man_bits, int32_t bias,
                               int32_t is_signed, int32_t specials, int32_t subnormals)
{
    const mxemu_format f = {kind, exp_bits, man_bits, bias, is_signed, specials, subnormals};
    if (mxemu_format_check(&f) != MXEMU_OK)
        return NULL;
    mxemu_format *h = malloc(sizeof *h);
    if (h)
        *h = f;
    return h;
}

mxemu_format *mxemu_format_named(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof NAMED / sizeof NAMED[0]; i++)
        if (same_name(name, NAMED[i].name)) {
            const mxemu_format *f = &NAMED[i].f;
            return mxemu_format_new(f->kind, f->exp_bits, f->man_bits, f->bias, f->is_signed,
                                    f->specials, f->subnormals);
        }
    return NULL;
}

void mxemu_format_free(mxemu_format *fmt) { free(fmt); }

mxemu_accum_config *mxemu_config_new(void)
{
    mxemu_accum_config *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    /* emulator.numerics.AccumConfig() field for field */
    const mxemu_format fp32 = {MXEMU_KIND_FLOAT, 8, 23, 127, 1, MXEMU_SPECIALS_IEEE, 1};
    c->struct_size = sizeof *c;
    c->version = MXEMU_ACCUM_CONFIG_VERSION;
    c->interleave = 1;
    c->has_align_floor = 1;
    c->align_floor = -126;
    c->frac_bits = -1;
    c->carry_bits = -1;
    c->output_format = fp32;
    c->register_format = fp32;
    c->step_rounding = -1;
    c->sr_bits = 32;
    c->overflow = MXEMU_ACC_OVERFLOW_IEEE;
    return c;
}

int32_t mxemu_config_set(mxemu_accum_config *cfg, const char *knob, int32_t value)
{
    if (!cfg || !knob)
        return MXEMU_ERR_NULL;
    for (size_t i = 0; i < sizeof INT_KNOBS / sizeof INT_KNOBS[0]; i++)
        if (same_name(knob, INT_KNOBS[i].name)) {
            memcpy((char *)cfg + INT_KNOBS[i].off, &value, sizeof value);
            return MXEMU_OK;
        }
    return MXEMU_ERR_ARG;
}

int32_t mxemu_config_set_format(mxemu_accum_config *cfg, const char *knob,
                                const mxemu_format *fmt)
{
    if (!cfg || !knob)
        return MXEMU_ERR_NULL;
    for (size_t i = 0; i < sizeof FMT_KNOBS / sizeof FMT_KNOBS[0]; i++) {
        if (!same_name(knob, FMT_KNOBS[i].name))
            continue;
        const int32_t present = fmt != NULL;
        if (!present && FMT_KNOBS[i].has_off < 0)
            return MXEMU_ERR_NULL;
        if (present) {
            const int32_t st = mxemu_format_check(fmt);
            if (st != MXEMU_OK)
                return st;
            memcpy((char *)cfg + FMT_KNOBS[i].off, fmt, sizeof *fmt);
        }
        if (FMT_KNOBS[i].has_off >= 0)
            memcpy((char *)cfg + FMT_KNOBS[i].has_off, &present, sizeof present);
        return MXEMU_OK;
    }
    return MXEMU_ERR_ARG;
}

void mxemu_config_free(mxemu_accum_config *cfg) { free(cfg); }
