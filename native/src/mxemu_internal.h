/*
 * mxemu_internal.h - what the C sources share and the public ABI does not.
 *
 * mx_fmt is the derived form of a validated mxemu_format (format.c);
 * mx_round_pack is THE rounding routine (round.c): every code leaves
 * through it, except those of quantize_fast.c, a vectorised transcription
 * of the same decisions for MX blocks that the test suite pins to it bit for
 * bit.
 */
#ifndef MXEMU_INTERNAL_H
#define MXEMU_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "mxemu.h"

#if defined(__GNUC__)
#define MX_LIKELY(x) __builtin_expect(!!(x), 1)
#define MX_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MX_INLINE static inline __attribute__((always_inline))
#else
#define MX_LIKELY(x) (x)
#define MX_UNLIKELY(x) (x)
#define MX_INLINE static inline
#endif

/* A validated format with every derived property precomputed. */
typedef struct mx_fmt {
    int32_t is_int;     /* kind == MXEMU_KIND_INT                             */
    int32_t exp_bits;   /* E                                                  */
    int32_t man_bits;   /* M (int: fraction bits)                             */
    int32_t bias;       /* float exponent bias                                */
    int32_t is_signed;  /* has a sign bit                                     */
    int32_t specials;   /* MXEMU_SPECIALS_*                                   */
    int32_t subnormals; /* field 0 holds zero and subnormals                  */
    int32_t bits;       /* total code width                                   */
    int32_t emin;       /* exponent of the smallest normal (int: 0)           */
    int32_t emax;       /* exponent of the largest finite power of two         */
    int32_t tiny_exp;   /* |v| < 2^tiny_exp is "tiny" (float: emin, int: -M)   */
    uint32_t max_code;  /* largest finite magnitude                           */
    uint32_t mag_mask;  /* mask of the magnitude bits of a code               */
    uint32_t sign_mask; /* the sign bit (0 when unsigned)                     */
    uint32_t code_mask; /* 2^bits - 1                                         */
    uint32_t inf_mag;   /* magnitude of Inf (valid when has_inf)              */
    uint32_t nan_mag;   /* canonical NaN magnitude (valid when has_nan)        */
    int32_t has_inf;
    int32_t has_nan;
    int32_t has_neg_zero;
} mx_fmt;

/* Validates `desc` and fills `f`.  Returns MXEMU_OK or MXEMU_ERR_*. */
int32_t mx_fmt_init(mx_fmt *f, const mxemu_format *desc);

/* The canonical NaN code of `f` for an input of the given sign (0/1). */
uint32_t mx_fmt_nan_code(const mx_fmt *f, int sign);

/* Exact float64 value of a (range-checked) code. */
double mx_fmt_decode_one(const mx_fmt *f, uint32_t code);

/* Rounding configuration: everything but the value and its random word. */
typedef struct mx_round_cfg {
    int32_t mode;     /* MXEMU_RNE .. MXEMU_SR                               */
    int32_t overflow; /* MXEMU_OVERFLOW_* (already valid for the format)      */
    int32_t sr_bits;  /* 1..32                                                */
    int32_t int_min;  /* int formats: negatives may reach -2^(bits-1)        */
} mx_round_cfg;

/* Checks a rounding configuration against a format. */
int32_t mx_round_cfg_check(const mx_fmt *f, const mx_round_cfg *cfg);

/* Classes of an exact input value. */
#define MX_VAL_ZERO 0
#define MX_VAL_FINITE 1 /* nonzero finite: |v| = n * 2^e2 / d */
#define MX_VAL_INF 2
#define MX_VAL_NAN 3

/*
 * THE round-and-pack routine (docs/CODECS.md section 3).
 *
 * The input is the exact value (-1)^sign * n * 2^e2 / d of class `cls`
 * (n >= 1 and d >= 1 for MX_VAL_FINITE; ignored otherwise).  `rand` is the
 * element's random word for MXEMU_SR.  Returns the code; ORs the element's
 * MXEMU_FLAG_* bits into *flags.  Exact for every n < 2^64, d < 2^64 and
 * every e2 in [-2^24, 2^24].
 */
uint32_t mx_round_pack(const mx_fmt *f, const mx_round_cfg *cfg, int cls, int sign, uint64_t n,
                       int32_t e2, uint64_t d, uint32_t rand, uint8_t *flags);

/* Splits an IEEE binary64 into class, sign and |v| = n * 2^e2 (n < 2^53). */
/* One code as sign, exponent and integer significand (value = (-1)^sign *
 * sig * 2^(exp - man_bits)); returns the MXEMU_CLASS_*.  codec.c. */
int mx_unpack_code(const mx_fmt *f, uint32_t code, int *sign, int32_t *exp, uint64_t *sig);

int mx_split_double(double v, int *sign, uint64_t *n, int32_t *e2);

/* Splits an IEEE binary32 bit pattern the same way (n < 2^24). */
int mx_split_float_bits(uint32_t bits, int *sign, uint64_t *n, int32_t *e2);

/* ------------------------------------------------------------------------
 * MX quantization, shared by quantize.c (the steps, the generic path) and
 * quantize_fast.c (the vectorised element path).
 * --------------------------------------------------------------------- */

/* Constants of the fast element path for one element format (a signed
 * format with subnormals of at most 8 bits; see quantize_fast.c). */
typedef struct mx_fast_fmt {
    int32_t man_bits;   /* M                                            */
    int32_t emin;       /* float: emin; int: 0                           */
    int32_t bias;       /* float: bias; int: 1                           */
    uint32_t max_code;  /* saturation magnitude of positive results     */
    uint32_t lim_neg;   /* saturation magnitude of negative results     */
    uint32_t sign_shift;
    uint32_t code_mask;
    int32_t is_int;
    int32_t neg_zero;   /* the format has a -0 code                      */
} mx_fast_fmt;

/* Everything one MX quantization call works with. */
typedef struct mx_ctx {
    const float *x;
    const uint32_t *rand_bits; /* NULL unless SR                          */
    uint8_t *codes, *scales, *flags;
    mx_fmt e;                  /* the element format                      */
    mx_round_cfg cfg;          /* element rounding (always saturating)   */
    mx_fast_fmt ff;            /* valid when fast_ok                      */
    int32_t fast_ok;           /* the fast element path may be used       */
    int32_t block_size, scale_mode, nan_policy, inf_policy, zero_block_scale, scale_range;
    int32_t flush;             /* subnormal_inputs = flush                */
} mx_ctx;

/* The unclamped shared exponent of a block whose largest finite magnitude
 * has the (nonzero) FP32 bit pattern amax_bits. */
int32_t mx_shared_exponent(const mx_fmt *e, uint32_t amax_bits, int32_t scale_mode);

/* Whether the fast element path is exact for a block with shared exponent k
 * (k in range, not clamped down) that may hold FP32 subnormals. */
int mx_fast_block_ok(const mx_fast_fmt *ff, int32_t k, int flush, int has_subnormal);

/* Quantizes block b with every step spelled out (any block, any format);
 * returns MXEMU_OK or an MXEMU_STATUS_* of an ERROR policy. */
int32_t mx_quantize_block_general(const mx_ctx *cx, int64_t b);

/* Fills cx->ff and returns 1 when the fast path supports the format. */
int mx_fast_fmt_init(mx_fast_fmt *ff, const mx_fmt *e, int int_min);

/* Encodes one block with the fast path (portable build): k, block flags. */
void mx_fast_encode_block(const mx_ctx *cx, int64_t b, int32_t k, uint32_t block_flags);

/* Quantizes blocks [0, n_blocks) in one fused pass (scan, scale, elements)
 * with the best instruction set the CPU offers; blocks outside the fast
 * path's preconditions go to mx_quantize_block_general. */
int32_t mx_quantize_fused(const mx_ctx *cx, int64_t n_blocks);

/* mxemu_quantize_mx with the fast element path switchable (0: every element
 * through mx_round_pack); the binding exposes it for the equivalence tests. */
int32_t mx_quantize_mx_impl(const float *x, int64_t n, const mxemu_format *elem,
                            int32_t block_size, int32_t scale_mode, int32_t rounding,
                            int32_t nan_policy, int32_t inf_policy, int32_t zero_block_scale,
                            int32_t scale_range, int32_t flush_subnormals, int32_t int8_min,
                            const uint32_t *rand_bits, int32_t sr_bits, uint8_t *codes,
                            uint8_t *scales, uint8_t *flags, int allow_fast);

/* The FP32 bit pattern of a float. */
MX_INLINE uint32_t mx_f32_bits(float v)
{
    uint32_t b;
    __builtin_memcpy(&b, &v, sizeof b);
    return b;
}

#define MX_F32_ABS_MASK 0x7FFFFFFFu
#define MX_F32_INF_BITS 0x7F800000u
#define MX_F32_SIGN_MASK 0x80000000u

/* floor(log2(x)) for x >= 1. */
MX_INLINE int mx_ilog2_u64(uint64_t x) { return 63 - __builtin_clzll(x); }

#endif /* MXEMU_INTERNAL_H */
