/*
 * format.c - a format is data.
 *
 * Validates the seven-field descriptor and derives everything else from it
 * (bit width, emin, emax, the largest finite code, the special codes).  There
 * are no per-format tables or switches on names anywhere in the core: E4M3,
 * E8M0, INT8 and any custom format all go through these same formulas.
 */
#include <math.h>

#include "mxemu_internal.h"

/*
 * Bias limits: every value of every accepted format must be exactly
 * representable as a float64 (decode is exact).  With at most 8 exponent
 * bits and 23 mantissa bits, bias in [-768, 1023] keeps the largest value
 * below 2^1024 and the smallest subnormal above 2^-1074.
 */
#define MX_BIAS_MIN (-768)
#define MX_BIAS_MAX 1023

static int32_t init_int(mx_fmt *f, const mxemu_format *d)
{
    /* An int format is a two's-complement fixed-point number with a sign
     * bit, one integer bit and man_bits fraction bits (INT8: 1.6). */
    if (d->exp_bits != 0 || d->man_bits < 0 || d->man_bits > 30 || d->is_signed != 1)
        return MXEMU_ERR_FORMAT;
    f->is_int = 1;
    f->exp_bits = 0;
    f->man_bits = d->man_bits;
    f->bias = 0;
    f->is_signed = 1;
    f->specials = MXEMU_SPECIALS_FINITE;
    f->subnormals = 1;
    f->bits = d->man_bits + 2;
    f->emin = 0;
    f->emax = 0;
    /* The step 2^-M is the int format's "min normal": values below it that
     * round inexactly raise UNDERFLOW. */
    f->tiny_exp = -d->man_bits;
    f->code_mask = (uint32_t)((1ull << f->bits) - 1u);
    f->sign_mask = 1u << (f->bits - 1);
    f->mag_mask = f->sign_mask - 1u;
    f->max_code = f->sign_mask - 1u; /* symmetric range; -2^(bits-1) via int_min */
    f->has_inf = 0;
    f->has_nan = 0;
    f->has_neg_zero = 0;
    f->inf_mag = 0;
    f->nan_mag = 0;
    return MXEMU_OK;
}

int32_t mx_fmt_init(mx_fmt *f, const mxemu_format *d)
{
    if (f == NULL || d == NULL)
        return MXEMU_ERR_NULL;
    if (d->kind == MXEMU_KIND_INT)
        return init_int(f, d);
    if (d->kind != MXEMU_KIND_FLOAT)
        return MXEMU_ERR_FORMAT;

    /* 1. Field ranges. */
    if (d->exp_bits < 1 || d->exp_bits > 8 || d->man_bits < 0 || d->man_bits > 23)
        return MXEMU_ERR_FORMAT;
    if ((d->is_signed != 0 && d->is_signed != 1) || (d->subnormals != 0 && d->subnormals != 1))
        return MXEMU_ERR_FORMAT;
    if (d->specials < MXEMU_SPECIALS_IEEE || d->specials > MXEMU_SPECIALS_FNUZ)
        return MXEMU_ERR_FORMAT;
    if (d->bias < MX_BIAS_MIN || d->bias > MX_BIAS_MAX)
        return MXEMU_ERR_FORMAT;
    /* FNUZ's NaN is the negative-zero code: it needs a sign bit and a zero. */
    if (d->specials == MXEMU_SPECIALS_FNUZ && (!d->is_signed || !d->subnormals))
        return MXEMU_ERR_FORMAT;

    const int E = d->exp_bits, M = d->man_bits;
    f->is_int = 0;
    f->exp_bits = E;
    f->man_bits = M;
    f->bias = d->bias;
    f->is_signed = d->is_signed;
    f->specials = d->specials;
    f->subnormals = d->subnormals;
    f->bits = d->is_signed + E + M;
    if (f->bits > 32)
        return MXEMU_ERR_FORMAT;

    /* 2. Code layout: sign on top, then the magnitude E+M bits wide. */
    const uint32_t all_ones = (uint32_t)((1ull << (E + M)) - 1u); /* top magnitude */
    f->mag_mask = all_ones;
    f->sign_mask = d->is_signed ? (1u << (E + M)) : 0u;
    f->code_mask = (uint32_t)((1ull << f->bits) - 1u);

    /* 3. Specials and the largest finite magnitude (monotonic code order). */
    const uint32_t top_field = (1u << E) - 1u;
    switch (d->specials) {
    case MXEMU_SPECIALS_IEEE:
        /* All-ones exponent: Inf (mantissa 0) and NaNs (mantissa != 0). */
        f->max_code = all_ones - (1u << M);
        f->has_inf = 1;
        f->has_nan = M > 0; /* with no mantissa bits there is no NaN code */
        f->inf_mag = top_field << M;
        f->nan_mag = M > 0 ? (top_field << M) | (1u << (M - 1)) : 0u; /* quiet NaN */
        f->has_neg_zero = d->is_signed;
        break;
    case MXEMU_SPECIALS_FN:
        /* Only the all-ones magnitude is NaN. */
        f->max_code = all_ones - 1u;
        f->has_inf = 0;
        f->has_nan = 1;
        f->inf_mag = 0;
        f->nan_mag = all_ones;
        f->has_neg_zero = d->is_signed;
        break;
    case MXEMU_SPECIALS_FINITE:
        f->max_code = all_ones;
        f->has_inf = 0;
        f->has_nan = 0;
        f->inf_mag = 0;
        f->nan_mag = 0;
        f->has_neg_zero = d->is_signed;
        break;
    default: /* FNUZ: the negative-zero code is the one NaN, no -0, no Inf. */
        f->max_code = all_ones;
        f->has_inf = 0;
        f->has_nan = 1;
        f->inf_mag = 0;
        f->nan_mag = 0; /* the NaN code is sign_mask | 0, see mx_fmt_nan_code */
        f->has_neg_zero = 0;
        break;
    }

    /* 4. Exponent range.  emin is the exponent of the smallest normal: field
     * 1 with subnormals, field 0 without.  emax is the exponent of the
     * largest finite power of two, i.e. the field of max_code.  A format must
     * have at least one normal binade (this rejects e.g. ieee E1). */
    const int32_t max_field = (int32_t)(f->max_code >> M);
    f->emin = d->subnormals ? 1 - d->bias : -d->bias;
    if (max_field < (d->subnormals ? 1 : 0))
        return MXEMU_ERR_FORMAT;
    f->emax = max_field - d->bias;
    f->tiny_exp = f->emin;
    return MXEMU_OK;
}

uint32_t mx_fmt_nan_code(const mx_fmt *f, int sign)
{
    if (f->specials == MXEMU_SPECIALS_FNUZ)
        return f->sign_mask; /* the single NaN, whatever the input's sign */
    return (sign && f->is_signed ? f->sign_mask : 0u) | f->nan_mag;
}

double mx_fmt_decode_one(const mx_fmt *f, uint32_t code)
{
    const int M = f->man_bits;
    if (f->is_int) {
        /* Two's complement over `bits`, then the implicit 2^-M. */
        int64_t v = (int64_t)(code & f->mag_mask) - (int64_t)(code & f->sign_mask);
        return ldexp((double)v, -M);
    }
    const int sign = (code & f->sign_mask) != 0;
    const uint32_t mag = code & f->mag_mask;
    const uint32_t field = mag >> M;
    const uint32_t mant = mag & ((1u << M) - 1u);
    double r;
    /* 1. Specials, by the format's rule. */
    if (f->specials == MXEMU_SPECIALS_FNUZ && sign && mag == 0)
        return copysign(NAN, 1.0); /* the FNUZ NaN is +NaN */
    if (f->has_nan && f->specials == MXEMU_SPECIALS_FN && mag == f->nan_mag)
        return copysign(NAN, sign ? -1.0 : 1.0);
    if (f->specials == MXEMU_SPECIALS_IEEE && field == (1u << f->exp_bits) - 1u) {
        if (mant == 0)
            return sign ? -INFINITY : INFINITY;
        return copysign(NAN, sign ? -1.0 : 1.0);
    }
    /* 2. Subnormals (and zero) share emin with the smallest normals. */
    if (field == 0 && f->subnormals)
        r = ldexp((double)mant, f->emin - M);
    else
        r = ldexp((double)((1u << M) | mant), (int)field - f->bias - M);
    return sign ? -r : r;
}

int32_t mxemu_format_check(const mxemu_format *fmt)
{
    mx_fmt f;
    return mx_fmt_init(&f, fmt);
}

int32_t mxemu_format_info(const mxemu_format *fmt, mxemu_format_props *p)
{
    mx_fmt f;
    if (p == NULL)
        return MXEMU_ERR_NULL;
    int32_t st = mx_fmt_init(&f, fmt);
    if (st != MXEMU_OK)
        return st;
    p->bits = f.bits;
    p->emin = f.emin;
    p->emax = f.emax;
    p->max_code = f.max_code;
    p->sign_mask = f.sign_mask;
    p->code_mask = f.code_mask;
    p->has_inf = f.has_inf;
    p->has_nan = f.has_nan;
    p->has_neg_zero = f.has_neg_zero;
    p->nan_code = f.has_nan ? mx_fmt_nan_code(&f, 0) : 0u;
    return MXEMU_OK;
}

const char *mxemu_status_string(int32_t status)
{
    switch (status) {
    case MXEMU_OK: return "ok";
    case MXEMU_STATUS_NAN_FOUND: return "a block holds a NaN (nan_policy=error)";
    case MXEMU_STATUS_INF_FOUND: return "a block holds an Inf (inf_policy=error)";
    case MXEMU_STATUS_SCALE_RANGE: return "a shared exponent is outside [-127, 127] (scale_range=error)";
    case MXEMU_ERR_NULL: return "a required pointer is NULL";
    case MXEMU_ERR_FORMAT: return "invalid format descriptor";
    case MXEMU_ERR_ARG: return "invalid argument";
    case MXEMU_ERR_CODE_RANGE: return "a code does not fit the format's bit width";
    case MXEMU_ERR_LENGTH: return "invalid length";
    case MXEMU_ERR_UNSUPPORTED: return "configuration not supported by the native kernel";
    case MXEMU_ERR_VERSION: return "config struct_size / version mismatch";
    case MXEMU_ERR_ALLOC: return "out of memory";
    case MXEMU_ERR_RAND_SHORT: return "a chain needs more random words than rand_per_output";
    default: return "unknown status";
    }
}
