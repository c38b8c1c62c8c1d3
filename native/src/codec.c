/*
 * codec.c - decode, unpack and encode arrays of codes.
 *
 * Thin loops over format.c (the value of one code) and round.c (the code of
 * one value).  Formats of at most 8 bits decode through a small table built
 * per call from mx_fmt_decode_one, so the table can never disagree with it.
 */
#include <math.h>
#include <string.h>

#include "mxemu_internal.h"

/* Reads code i of a packed array of 1, 2 or 4 bytes per code. */
MX_INLINE uint32_t load_code(const void *codes, int32_t bytes, int64_t i)
{
    switch (bytes) {
    case 1: return ((const uint8_t *)codes)[i];
    case 2: return ((const uint16_t *)codes)[i];
    default: return ((const uint32_t *)codes)[i];
    }
}

MX_INLINE void store_code(void *codes, int32_t bytes, int64_t i, uint32_t c)
{
    switch (bytes) {
    case 1: ((uint8_t *)codes)[i] = (uint8_t)c; break;
    case 2: ((uint16_t *)codes)[i] = (uint16_t)c; break;
    default: ((uint32_t *)codes)[i] = c; break;
    }
}

/* Input arrays may be of any of the three widths (a narrower one simply
 * cannot hold out-of-range codes); an output array must hold the format. */
static int32_t check_code_bytes(const mx_fmt *f, int32_t bytes, int is_output)
{
    if (bytes != 1 && bytes != 2 && bytes != 4)
        return MXEMU_ERR_ARG;
    if (is_output && f->bits > 8 * bytes)
        return MXEMU_ERR_ARG;
    return MXEMU_OK;
}

/* Every code must be < 2^bits; checked before anything is written. */
static int32_t check_code_range(const mx_fmt *f, const void *codes, int32_t bytes, int64_t n)
{
    if (bytes * 8 <= f->bits)
        return MXEMU_OK; /* every stored value is a valid code */
    uint32_t any = 0;
    for (int64_t i = 0; i < n; i++)
        any |= load_code(codes, bytes, i) & ~f->code_mask;
    return any ? MXEMU_ERR_CODE_RANGE : MXEMU_OK;
}

static int32_t common_checks(mx_fmt *f, const mxemu_format *fmt, const void *codes,
                             int32_t bytes, int64_t n)
{
    int32_t st = mx_fmt_init(f, fmt);
    if (st != MXEMU_OK)
        return st;
    if (n < 0)
        return MXEMU_ERR_LENGTH;
    if (n > 0 && codes == NULL)
        return MXEMU_ERR_NULL;
    st = check_code_bytes(f, bytes, 0);
    if (st != MXEMU_OK)
        return st;
    return check_code_range(f, codes, bytes, n);
}

int32_t mxemu_decode_ex(const mxemu_format *fmt, const void *codes, int32_t bytes, int64_t n,
                        double *out)
{
    mx_fmt f;
    int32_t st = common_checks(&f, fmt, codes, bytes, n);
    if (st != MXEMU_OK)
        return st;
    if (n > 0 && out == NULL)
        return MXEMU_ERR_NULL;
    if (f.bits <= 8) {
        /* All codes are valid table indices after the range check. */
        double table[256];
        for (uint32_t c = 0; c <= f.code_mask; c++)
            table[c] = mx_fmt_decode_one(&f, c);
        if (bytes == 1) {
            const uint8_t *c8 = (const uint8_t *)codes;
            for (int64_t i = 0; i < n; i++)
                out[i] = table[c8[i]];
        } else {
            for (int64_t i = 0; i < n; i++)
                out[i] = table[load_code(codes, bytes, i) & 0xFFu];
        }
        return MXEMU_OK;
    }
    for (int64_t i = 0; i < n; i++)
        out[i] = mx_fmt_decode_one(&f, load_code(codes, bytes, i));
    return MXEMU_OK;
}

int32_t mxemu_decode(const mxemu_format *fmt, const uint32_t *codes, int64_t n, double *out)
{
    return mxemu_decode_ex(fmt, codes, 4, n, out);
}

/* The one decoder of a code: sign, exponent and integer significand with
 * value = (-1)^sign * sig * 2^(exp - man_bits); returns the class.  Specials
 * give exp = field - bias and sig = the stored mantissa (no implicit bit);
 * the FNUZ NaN (the -0 code) is +NaN.  dot.c decodes operands through it too. */
int mx_unpack_code(const mx_fmt *f, uint32_t code, int *sign, int32_t *exp, uint64_t *sig)
{
    const int M = f->man_bits;
    if (f->is_int) {
        const int64_t v = (int64_t)(code & f->mag_mask) - (int64_t)(code & f->sign_mask);
        *sign = v < 0;
        *exp = 0;
        *sig = (uint64_t)(v < 0 ? -v : v);
        return v == 0 ? MXEMU_CLASS_ZERO : MXEMU_CLASS_NORMAL;
    }
    const uint32_t mag = code & f->mag_mask;
    const uint32_t field = mag >> M;
    const uint32_t mant = mag & ((1u << M) - 1u);
    *sign = (code & f->sign_mask) != 0;
    /* 1. Specials. */
    if (f->specials == MXEMU_SPECIALS_FNUZ && *sign && mag == 0) {
        *sign = 0;
        *exp = (int32_t)field - f->bias;
        *sig = 0;
        return MXEMU_CLASS_NAN;
    }
    if ((f->specials == MXEMU_SPECIALS_FN && mag == f->nan_mag) ||
        (f->specials == MXEMU_SPECIALS_IEEE && field == (1u << f->exp_bits) - 1u)) {
        *exp = (int32_t)field - f->bias;
        *sig = mant;
        return (f->specials == MXEMU_SPECIALS_IEEE && mant == 0) ? MXEMU_CLASS_INF
                                                                 : MXEMU_CLASS_NAN;
    }
    /* 2. Zero and subnormals sit at emin with no implicit bit. */
    if (field == 0 && f->subnormals) {
        *exp = f->emin;
        *sig = mant;
        return mant == 0 ? MXEMU_CLASS_ZERO : MXEMU_CLASS_SUBNORMAL;
    }
    /* 3. Normals carry the implicit bit. */
    *exp = (int32_t)field - f->bias;
    *sig = (uint64_t)((1u << M) | mant);
    return MXEMU_CLASS_NORMAL;
}

static void unpack_one(const mx_fmt *f, uint32_t code, int64_t *sign, int64_t *exp,
                       int64_t *sig, int64_t *cls)
{
    int s;
    int32_t e;
    uint64_t g;
    *cls = mx_unpack_code(f, code, &s, &e, &g);
    *sign = s;
    *exp = e;
    *sig = (int64_t)g;
}

int32_t mxemu_unpack_ex(const mxemu_format *fmt, const void *codes, int32_t bytes, int64_t n,
                        int64_t *sign, int64_t *exp, int64_t *sig, int64_t *cls)
{
    mx_fmt f;
    int32_t st = common_checks(&f, fmt, codes, bytes, n);
    if (st != MXEMU_OK)
        return st;
    for (int64_t i = 0; i < n; i++) {
        int64_t s, e, g, c;
        unpack_one(&f, load_code(codes, bytes, i), &s, &e, &g, &c);
        if (sign) sign[i] = s;
        if (exp) exp[i] = e;
        if (sig) sig[i] = g;
        if (cls) cls[i] = c;
    }
    return MXEMU_OK;
}

int32_t mxemu_unpack(const mxemu_format *fmt, const uint32_t *codes, int64_t n, int64_t *sign,
                     int64_t *exp, int64_t *sig, int64_t *cls)
{
    return mxemu_unpack_ex(fmt, codes, 4, n, sign, exp, sig, cls);
}

int32_t mxemu_encode_ex(const mxemu_format *fmt, const double *values, int64_t n,
                        int32_t rounding, int32_t overflow, const uint32_t *rand_bits,
                        int32_t sr_bits, int32_t int_min, void *codes, int32_t bytes,
                        uint8_t *flags)
{
    mx_fmt f;
    /* 1. Validate everything before writing anything. */
    int32_t st = mx_fmt_init(&f, fmt);
    if (st != MXEMU_OK)
        return st;
    if (n < 0)
        return MXEMU_ERR_LENGTH;
    const mx_round_cfg cfg = {rounding, overflow, sr_bits, int_min};
    st = mx_round_cfg_check(&f, &cfg);
    if (st != MXEMU_OK)
        return st;
    st = check_code_bytes(&f, bytes, 1);
    if (st != MXEMU_OK)
        return st;
    if (n == 0)
        return MXEMU_OK;
    if (values == NULL || codes == NULL || flags == NULL)
        return MXEMU_ERR_NULL;
    if (rounding == MXEMU_SR && rand_bits == NULL)
        return MXEMU_ERR_NULL;

    /* 2. One value at a time through the rounding routine (d = 1). */
    for (int64_t i = 0; i < n; i++) {
        int sign = 0;
        uint64_t mant = 0;
        int32_t e2 = 0;
        uint8_t fl = 0;
        const int cls = mx_split_double(values[i], &sign, &mant, &e2);
        const uint32_t r = rand_bits ? rand_bits[i] : 0u;
        const uint32_t c = mx_round_pack(&f, &cfg, cls, sign, mant, e2, 1, r, &fl);
        store_code(codes, bytes, i, c);
        flags[i] = fl;
    }
    return MXEMU_OK;
}

int32_t mxemu_encode(const mxemu_format *fmt, const double *values, int64_t n, int32_t rounding,
                     int32_t overflow, const uint32_t *rand_bits, int32_t sr_bits,
                     int32_t int_min, uint32_t *codes, uint8_t *flags)
{
    return mxemu_encode_ex(fmt, values, n, rounding, overflow, rand_bits, sr_bits, int_min,
                           codes, 4, flags);
}
