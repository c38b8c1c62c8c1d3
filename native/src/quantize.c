/*
 * quantize.c - OCP MX block quantization and NVFP4 (docs/CODECS.md 4, 5).
 *
 * Both work on FP32 bit patterns: the block maximum is the largest
 * magnitude bit pattern (FP32 magnitudes order like their bit patterns), and
 * floor(log2 amax) is read from the exponent field, never from a float log2.
 * Every element goes through the one rounding routine (round.c), with the
 * exact value x / 2^k (MX) or x / (S * T) (NVFP4) and no rounding before it.
 *
 * This file holds the steps as the specification states them and the
 * generic element loop.  quantize_fast.c holds the vectorised element path
 * that runs the common case; the test suite pins the two together bit for
 * bit (emulator._native._quantize_mx_generic runs this file's path only).
 */
#include <string.h>

#include "mxemu_internal.h"

/* The two fixed formats of NVFP4. */
static const mxemu_format k_e2m1 = {MXEMU_KIND_FLOAT, 2, 1, 1, 1, MXEMU_SPECIALS_FINITE, 1};
static const mxemu_format k_ue4m3 = {MXEMU_KIND_FLOAT, 4, 3, 7, 0, MXEMU_SPECIALS_FN, 1};

/* ------------------------------------------------------------------------
 * The shared exponent (step 5)
 * --------------------------------------------------------------------- */

/* An FP32 magnitude (nonzero, finite) as floor(log2) and a 24-bit
 * significand normalised to [2^23, 2^24), so amax = sig * 2^(f - 23). */
static void f32_normalise(uint32_t abs_bits, int32_t *f, uint32_t *sig)
{
    const uint32_t field = abs_bits >> 23, frac = abs_bits & 0x7FFFFFu;
    if (field == 0) { /* subnormal: the leading one is inside the fraction */
        const int top = mx_ilog2_u64(frac);
        *f = top - 149;
        *sig = frac << (23 - top);
    } else {
        *f = (int32_t)field - 127;
        *sig = frac | 0x800000u;
    }
}

/*
 * The shared exponent k of a block with largest finite magnitude amax
 * (bit pattern, nonzero), before the range check:
 *   FLOOR  floor(log2 amax) - emax
 *   CEIL   ceil(log2 amax) - emax
 *   EVEN   floor(log2(amax rounded to man_bits with RNE)) - emax
 *   RCEIL  the smallest k with amax <= max_normal * 2^k
 */
int32_t mx_shared_exponent(const mx_fmt *e, uint32_t amax_bits, int32_t mode)
{
    int32_t f;
    uint32_t sig;
    f32_normalise(amax_bits, &f, &sig);
    const int32_t k = f - e->emax;
    switch (mode) {
    case MXEMU_SCALE_CEIL:
        return k + (sig != 0x800000u); /* +1 unless amax is a power of two */
    case MXEMU_SCALE_EVEN: {
        /* Round the 24-bit significand to M+1 significant bits; k moves up
         * exactly when that rounding carries out of the top (1.11..1 + ulp). */
        const int drop = 23 - e->man_bits;
        if (drop <= 0)
            return k;
        const uint32_t kept = sig >> drop, rem = sig & ((1u << drop) - 1u);
        const uint32_t half = 1u << (drop - 1);
        const int up = rem > half || (rem == half && (kept & 1u));
        return k + (up && kept == (1u << (e->man_bits + 1)) - 1u);
    }
    case MXEMU_SCALE_RCEIL: {
        /* max_normal = ms * 2^(emax - M) with ms in [2^M, 2^(M+1)); amax fits
         * under max_normal * 2^k exactly when sig / 2^23 <= ms / 2^M. */
        const uint32_t M = (uint32_t)e->man_bits;
        const uint64_t ms = e->is_int ? e->max_code
                                      : ((1u << M) | (e->max_code & ((1u << M) - 1u)));
        return k + (((uint64_t)sig << M) > (ms << 23));
    }
    default: /* MXEMU_SCALE_FLOOR */
        return k;
    }
}

/* ------------------------------------------------------------------------
 * One block, step by step (any block, any format)
 * --------------------------------------------------------------------- */

/* The flags of a NaN block: INVALID on each Inf input, nothing elsewhere. */
static void mark_infs_invalid(const float *xb, int32_t bs, uint8_t *fb)
{
    for (int32_t i = 0; i < bs; i++)
        fb[i] = (mx_f32_bits(xb[i]) & MX_F32_ABS_MASK) == MX_F32_INF_BITS ? MXEMU_FLAG_INVALID
                                                                          : 0u;
}

/* What the full scan of a block found. */
typedef struct block_scan {
    int has_nan;
    int has_inf;
    int has_subnormal; /* a nonzero FP32 subnormal survived step 1 */
    uint32_t amax;     /* largest finite magnitude bit pattern (0: all zero) */
} block_scan;

/* Step 1: with flush_subnormals an FP32 subnormal is the zero of its sign. */
MX_INLINE uint32_t flushed_bits(uint32_t b, int flush)
{
    if (flush && (b & MX_F32_INF_BITS) == 0)
        return b & MX_F32_SIGN_MASK;
    return b;
}

static block_scan scan_block(const float *xb, int32_t bs, int flush)
{
    block_scan s = {0, 0, 0, 0};
    for (int32_t i = 0; i < bs; i++) {
        const uint32_t a = flushed_bits(mx_f32_bits(xb[i]), flush) & MX_F32_ABS_MASK;
        if (a > MX_F32_INF_BITS)
            s.has_nan = 1;
        else if (a == MX_F32_INF_BITS)
            s.has_inf = 1;
        else if (a > s.amax)
            s.amax = a;
        if (a != 0 && a < 0x800000u)
            s.has_subnormal = 1;
    }
    return s;
}

/* The generic element loop: each element through mx_round_pack. */
static void encode_block_generic(const mx_ctx *cx, int64_t b, int32_t k, uint8_t block_flags)
{
    const int32_t bs = cx->block_size;
    const int64_t off = b * (int64_t)bs;
    const float *xb = cx->x + off;
    const uint32_t *rb = cx->rand_bits ? cx->rand_bits + off : NULL;
    for (int32_t i = 0; i < bs; i++) {
        int sign = 0;
        uint64_t m = 0;
        int32_t e2 = 0;
        uint8_t fl = 0;
        const int cls =
            mx_split_float_bits(flushed_bits(mx_f32_bits(xb[i]), cx->flush), &sign, &m, &e2);
        /* V / 2^k is exact: only the exponent moves.  An Inf (inf_policy
         * SATURATE) leaves as the largest magnitude with INVALID; both it
         * and a clamped finite value are SATURATED. */
        const uint32_t c =
            mx_round_pack(&cx->e, &cx->cfg, cls, sign, m, e2 - k, 1, rb ? rb[i] : 0u, &fl);
        if (fl & (MXEMU_FLAG_OVERFLOW | MXEMU_FLAG_INVALID))
            fl |= MXEMU_FLAG_SATURATED;
        cx->codes[off + i] = (uint8_t)c;
        cx->flags[off + i] = (uint8_t)(fl | block_flags);
    }
}

int32_t mx_quantize_block_general(const mx_ctx *cx, int64_t b)
{
    const int32_t bs = cx->block_size;
    const int64_t off = b * (int64_t)bs;
    const float *xb = cx->x + off;

    /* 1.-3. Scan (after the optional flush): NaN, Inf, the largest finite
     * magnitude.  A NaN, or an Inf under inf_policy BLOCK, makes the block
     * NaN (scale 0xFF): elements 0, each Inf (unrepresentable) INVALID. */
    const block_scan s = scan_block(xb, bs, cx->flush);
    if (s.has_nan && cx->nan_policy == MXEMU_POLICY_ERROR)
        return MXEMU_STATUS_NAN_FOUND;
    if (s.has_inf && !s.has_nan && cx->inf_policy == MXEMU_POLICY_ERROR)
        return MXEMU_STATUS_INF_FOUND;
    if (s.has_nan || (s.has_inf && cx->inf_policy == MXEMU_POLICY_BLOCK)) {
        cx->scales[b] = 0xFFu;
        memset(cx->codes + off, 0, (size_t)bs);
        mark_infs_invalid(xb, bs, cx->flags + off);
        return MXEMU_OK;
    }

    /* 4. An all-zero block: zero_block_scale and signed zeros (any Inf
     * still saturates below; k is irrelevant to zeros). */
    int32_t k = 0;
    uint8_t block_flags = 0;
    int k_clamped_down = 0;
    if (s.amax == 0) {
        cx->scales[b] = (uint8_t)cx->zero_block_scale;
    } else {
        /* 5.-6. The shared exponent and its range. */
        k = mx_shared_exponent(&cx->e, s.amax, cx->scale_mode);
        if (k < -127 || k > 127) {
            if (cx->scale_range == MXEMU_SCALE_RANGE_ERROR)
                return MXEMU_STATUS_SCALE_RANGE;
            k_clamped_down = k > 127;
            k = k < -127 ? -127 : 127;
            block_flags = MXEMU_FLAG_SCALE_CLAMPED;
        }
        cx->scales[b] = (uint8_t)(k + 127);
    }

    /* 7. Elements: V / 2^k rounded, saturating.  The fast path where its
     * preconditions hold (no Inf; scaled values within the format's range,
     * which a downward clamp breaks), else the rounding routine itself. */
    if (cx->fast_ok && !s.has_inf && !k_clamped_down &&
        mx_fast_block_ok(&cx->ff, k, cx->flush, s.has_subnormal))
        mx_fast_encode_block(cx, b, k, block_flags);
    else
        encode_block_generic(cx, b, k, block_flags);
    return MXEMU_OK;
}

/* ------------------------------------------------------------------------
 * The MX kernel
 * --------------------------------------------------------------------- */

/* Validates everything the MX kernel takes (before anything is written). */
static int32_t check_mx_args(const mx_ctx *cx, int64_t n)
{
    if (cx->e.bits > 8)
        return MXEMU_ERR_FORMAT; /* element codes travel as uint8 */
    int32_t st = mx_round_cfg_check(&cx->e, &cx->cfg);
    if (st != MXEMU_OK)
        return st;
    if (cx->block_size < 1 || n < 0 || n % cx->block_size != 0)
        return MXEMU_ERR_LENGTH;
    if (cx->scale_mode < MXEMU_SCALE_FLOOR || cx->scale_mode > MXEMU_SCALE_RCEIL)
        return MXEMU_ERR_ARG;
    if (cx->nan_policy != MXEMU_POLICY_BLOCK && cx->nan_policy != MXEMU_POLICY_ERROR)
        return MXEMU_ERR_ARG;
    if (cx->inf_policy < MXEMU_POLICY_BLOCK || cx->inf_policy > MXEMU_POLICY_ERROR)
        return MXEMU_ERR_ARG;
    if (cx->zero_block_scale < 0 || cx->zero_block_scale > 255)
        return MXEMU_ERR_ARG;
    if (cx->scale_range != MXEMU_SCALE_RANGE_CLAMP && cx->scale_range != MXEMU_SCALE_RANGE_ERROR)
        return MXEMU_ERR_ARG;
    if (cx->flush != 0 && cx->flush != 1)
        return MXEMU_ERR_ARG;
    if (n > 0 && (cx->x == NULL || cx->codes == NULL || cx->scales == NULL || cx->flags == NULL))
        return MXEMU_ERR_NULL;
    if (n > 0 && cx->cfg.mode == MXEMU_SR && cx->rand_bits == NULL)
        return MXEMU_ERR_NULL;
    return MXEMU_OK;
}

int32_t mx_quantize_mx_impl(const float *x, int64_t n, const mxemu_format *elem, int32_t block_size,
                            int32_t scale_mode, int32_t rounding, int32_t nan_policy,
                            int32_t inf_policy, int32_t zero_block_scale, int32_t scale_range,
                            int32_t flush_subnormals, int32_t int8_min,
                            const uint32_t *rand_bits, int32_t sr_bits, uint8_t *codes,
                            uint8_t *scales, uint8_t *flags, int allow_fast)
{
    /* 1. Collect and validate every argument before writing anything.
     * Elements always saturate (OCP 6.3 clamps to the largest magnitude). */
    mx_ctx cx;
    memset(&cx, 0, sizeof cx);
    int32_t st = mx_fmt_init(&cx.e, elem);
    if (st != MXEMU_OK)
        return st;
    cx.x = x;
    cx.rand_bits = rounding == MXEMU_SR ? rand_bits : NULL;
    cx.codes = codes;
    cx.scales = scales;
    cx.flags = flags;
    cx.cfg.mode = rounding;
    cx.cfg.overflow = MXEMU_OVERFLOW_SATURATE;
    cx.cfg.sr_bits = sr_bits;
    cx.cfg.int_min = int8_min;
    cx.block_size = block_size;
    cx.scale_mode = scale_mode;
    cx.nan_policy = nan_policy;
    cx.inf_policy = inf_policy;
    cx.zero_block_scale = zero_block_scale;
    cx.scale_range = scale_range;
    cx.flush = flush_subnormals;
    st = check_mx_args(&cx, n);
    if (st != MXEMU_OK)
        return st;
    cx.fast_ok = allow_fast && mx_fast_fmt_init(&cx.ff, &cx.e, int8_min);

    /* 2. The blocks: one fused vectorised pass where the fast path applies
     * (it hands the unusual blocks to mx_quantize_block_general), else
     * every block step by step. */
    const int64_t n_blocks = n / block_size;
    if (cx.fast_ok)
        return mx_quantize_fused(&cx, n_blocks);
    for (int64_t b = 0; b < n_blocks; b++) {
        st = mx_quantize_block_general(&cx, b);
        if (st != MXEMU_OK)
            return st;
    }
    return MXEMU_OK;
}

int32_t mxemu_quantize_mx(const float *x, int64_t n, const mxemu_format *elem, int32_t block_size,
                          int32_t scale_mode, int32_t rounding, int32_t nan_policy,
                          int32_t inf_policy, int32_t zero_block_scale, int32_t scale_range,
                          int32_t flush_subnormals, int32_t int8_min, const uint32_t *rand_bits,
                          int32_t sr_bits, uint8_t *codes, uint8_t *scales, uint8_t *flags)
{
    return mx_quantize_mx_impl(x, n, elem, block_size, scale_mode, rounding, nan_policy,
                               inf_policy, zero_block_scale, scale_range, flush_subnormals,
                               int8_min, rand_bits, sr_bits, codes, scales, flags, 1);
}

/* ------------------------------------------------------------------------
 * NVFP4
 * --------------------------------------------------------------------- */

int32_t mxemu_quantize_nvfp4(const float *x, int64_t n, float tensor_scale, int32_t block_size,
                             int32_t scale_rounding, int32_t scale_floor, int32_t rounding,
                             uint8_t *codes, uint8_t *scales, uint8_t *flags)
{
    mx_fmt e2m1, ue4m3;
    (void)mx_fmt_init(&e2m1, &k_e2m1);
    (void)mx_fmt_init(&ue4m3, &k_ue4m3);
    const mx_round_cfg scfg = {scale_rounding, MXEMU_OVERFLOW_SATURATE, 32, 0};
    const mx_round_cfg ecfg = {rounding, MXEMU_OVERFLOW_SATURATE, 32, 0};

    /* 1. Validate (SR needs random words, which this kernel does not take). */
    if (scale_rounding < MXEMU_RNE || scale_rounding > MXEMU_RTO || rounding < MXEMU_RNE ||
        rounding > MXEMU_RTO)
        return MXEMU_ERR_ARG;
    if (scale_floor != MXEMU_SCALE_FLOOR_MIN_SUBNORMAL && scale_floor != MXEMU_SCALE_FLOOR_ZERO)
        return MXEMU_ERR_ARG;
    if (block_size < 1 || n < 0 || n % block_size != 0)
        return MXEMU_ERR_LENGTH;
    int t_sign = 0;
    uint64_t t_sig = 0;
    int32_t t_exp = 0;
    if (mx_split_float_bits(mx_f32_bits(tensor_scale), &t_sign, &t_sig, &t_exp) != MX_VAL_FINITE ||
        t_sign)
        return MXEMU_ERR_ARG; /* T must be positive and finite */
    if (n > 0 && (x == NULL || codes == NULL || scales == NULL || flags == NULL))
        return MXEMU_ERR_NULL;

    const int64_t n_blocks = n / block_size;
    for (int64_t b = 0; b < n_blocks; b++) {
        const int64_t off = b * (int64_t)block_size;
        const float *xb = x + off;
        uint8_t *cb = codes + off, *fb = flags + off;

        /* 2. Block amax as a bit pattern.  A NaN or an Inf makes the block
         * NaN through its scale (UE4M3 NaN 0x7F), elements 0, Infs INVALID. */
        uint32_t amax = 0;
        for (int32_t i = 0; i < block_size; i++) {
            const uint32_t a = mx_f32_bits(xb[i]) & MX_F32_ABS_MASK;
            if (a > amax)
                amax = a;
        }
        if (amax >= MX_F32_INF_BITS) {
            scales[b] = (uint8_t)ue4m3.nan_mag;
            memset(cb, 0, (size_t)block_size);
            mark_infs_invalid(xb, block_size, fb);
            continue;
        }

        /* 3. S = UE4M3(amax / (6 T)), rounded once: amax / (6 T) =
         * n_a * 2^(e_a - e_T - 1) / (3 * sig_T).  A nonzero block whose S
         * rounds to zero gets the minimum subnormal or, with scale_floor
         * ZERO, keeps S = 0 and loses its elements. */
        uint32_t s = 0;
        if (amax != 0) {
            int a_sign = 0;
            uint64_t a_sig = 0;
            int32_t a_exp = 0;
            uint8_t ignore = 0;
            (void)mx_split_float_bits(amax, &a_sign, &a_sig, &a_exp);
            s = mx_round_pack(&ue4m3, &scfg, MX_VAL_FINITE, 0, a_sig, a_exp - t_exp - 1,
                              3u * t_sig, 0, &ignore);
            if (s == 0 && scale_floor == MXEMU_SCALE_FLOOR_MIN_SUBNORMAL)
                s = 1; /* 2^-9 */
        }
        scales[b] = (uint8_t)s;

        /* 4. P_i = E2M1(x_i / (S T)), rounded once: with S = s_sig * 2^s_exp,
         * the quotient is n_x * 2^(e_x - s_exp - e_T) / (s_sig * sig_T). */
        const uint32_t field = s >> 3, mant = s & 7u;
        const uint64_t s_sig = field ? (8u | mant) : mant;
        const int32_t s_exp = (field ? (int32_t)field : 1) - 7 - 3;
        for (int32_t i = 0; i < block_size; i++) {
            int sign = 0;
            uint64_t m = 0;
            int32_t ex = 0;
            uint8_t fl = 0;
            const int cls = mx_split_float_bits(mx_f32_bits(xb[i]), &sign, &m, &ex);
            uint32_t c;
            if (cls == MX_VAL_ZERO || s_sig == 0) {
                /* A zero, or any element of a zero-scale block: the signed
                 * zero, inexact (and tiny) when the element was not zero. */
                c = mx_round_pack(&e2m1, &ecfg, MX_VAL_ZERO, sign, 0, 0, 1, 0, &fl);
                if (cls != MX_VAL_ZERO)
                    fl |= MXEMU_FLAG_UNDERFLOW | MXEMU_FLAG_INEXACT;
            } else {
                c = mx_round_pack(&e2m1, &ecfg, cls, sign, m, ex - s_exp - t_exp, s_sig * t_sig,
                                  0, &fl);
                if (fl & MXEMU_FLAG_OVERFLOW)
                    fl |= MXEMU_FLAG_SATURATED;
            }
            cb[i] = (uint8_t)c;
            fb[i] = fl;
        }
    }
    return MXEMU_OK;
}
