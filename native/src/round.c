/*
 * round.c - THE round-and-pack routine.
 *
 * Every code the native core produces from a value is decided here: the
 * rounding increment (from the mode, the sign and the discarded part), the
 * overflow policy, the special values and the flags.  The input is an exact
 * rational (-1)^sign * n * 2^e2 / d, so callers never round before calling:
 * encode passes a float64 as n * 2^e2 (d = 1), MX quantization a float32
 * divided by a power of two (d = 1), and NVFP4 the exact quotient
 * x / (S * T) with d = sig(S) * sig(T) (up to 2^28).
 *
 * Arithmetic is on integers only.  The value is scaled so that the kept
 * significand plus 32 further bits fit in a uint64_t ("y" below); the
 * bits beyond those 32 survive only as a sticky bit, which is all that any
 * mode needs (stochastic rounding reads at most 32 bits, see CODECS.md).
 */
#include "mxemu_internal.h"

__extension__ typedef unsigned __int128 mx_u128; /* GNU C: exact 128-bit products */

int32_t mx_round_cfg_check(const mx_fmt *f, const mx_round_cfg *cfg)
{
    if (cfg->mode < MXEMU_RNE || cfg->mode > MXEMU_SR)
        return MXEMU_ERR_ARG;
    if (cfg->mode == MXEMU_SR && (cfg->sr_bits < 1 || cfg->sr_bits > 32))
        return MXEMU_ERR_ARG;
    switch (cfg->overflow) {
    case MXEMU_OVERFLOW_SATURATE: break;
    case MXEMU_OVERFLOW_INF:
        if (!f->has_inf)
            return MXEMU_ERR_ARG;
        break;
    case MXEMU_OVERFLOW_NAN:
        if (!f->has_nan)
            return MXEMU_ERR_ARG;
        break;
    default: return MXEMU_ERR_ARG;
    }
    if (cfg->int_min != 0 && cfg->int_min != 1)
        return MXEMU_ERR_ARG;
    return MXEMU_OK;
}

/* Puts the sign on a magnitude.  Int formats are two's complement.  A zero
 * magnitude keeps its sign only where the format has a -0 code (FNUZ has
 * none: that code is its NaN). */
MX_INLINE uint32_t pack_sign(const mx_fmt *f, int sign, uint64_t mag)
{
    if (f->is_int)
        return sign ? (uint32_t)(0u - (uint32_t)mag) & f->code_mask : (uint32_t)mag;
    if (!sign)
        return (uint32_t)mag;
    if (mag == 0 && !f->has_neg_zero)
        return 0u;
    return f->sign_mask | (uint32_t)mag;
}

/* The largest magnitude a result of this sign may take: max_code, or for an
 * int format with int_min a negative result may reach 2^(bits-1). */
MX_INLINE uint64_t limit_mag(const mx_fmt *f, const mx_round_cfg *cfg, int sign)
{
    if (f->is_int && cfg->int_min && sign)
        return (uint64_t)f->sign_mask;
    return f->max_code;
}

/* True when the mode rounds this value's magnitude toward zero: those modes
 * never produce Inf/NaN from a finite overflow, only the largest finite. */
MX_INLINE int rounds_toward_zero(int mode, int sign)
{
    return mode == MXEMU_RTZ || mode == MXEMU_RTO || (mode == MXEMU_RUP && sign) ||
           (mode == MXEMU_RDN && !sign);
}

/* Step 5: the result of a finite value that overflowed. */
static uint32_t overflow_result(const mx_fmt *f, const mx_round_cfg *cfg, int sign)
{
    const int keep_finite =
        cfg->overflow == MXEMU_OVERFLOW_SATURATE || rounds_toward_zero(cfg->mode, sign);
    if (keep_finite)
        return pack_sign(f, sign, limit_mag(f, cfg, sign));
    if (cfg->overflow == MXEMU_OVERFLOW_INF)
        return (sign ? f->sign_mask : 0u) | f->inf_mag;
    return mx_fmt_nan_code(f, sign);
}

uint32_t mx_round_pack(const mx_fmt *f, const mx_round_cfg *cfg, int cls, int sign, uint64_t n,
                       int32_t e2, uint64_t d, uint32_t rand, uint8_t *flags)
{
    const int M = f->man_bits;
    sign = sign != 0;

    /* 1. Classify.  NaN, zero, negative-into-unsigned and Inf never round. */
    if (cls == MX_VAL_NAN) {
        if (f->has_nan)
            return mx_fmt_nan_code(f, sign); /* NaN in, NaN out: exact, no flag */
        *flags |= MXEMU_FLAG_INVALID;
        return 0u;
    }
    if (cls == MX_VAL_ZERO) {
        if (!f->subnormals) { /* no zero code (E8M0): +NaN, or code 0 without NaN */
            *flags |= MXEMU_FLAG_INVALID;
            return f->has_nan ? mx_fmt_nan_code(f, 0) : 0u;
        }
        return (sign && f->has_neg_zero) ? f->sign_mask : 0u;
    }
    if (sign && !f->is_signed) { /* a negative nonzero (incl. -Inf) into unsigned */
        *flags |= MXEMU_FLAG_INVALID;
        return f->has_nan ? mx_fmt_nan_code(f, sign) : 0u;
    }
    if (cls == MX_VAL_INF) {
        /* An Inf input is not an overflow: no OVERFLOW/INEXACT, but INVALID
         * whenever it does not come out as Inf. */
        if (cfg->overflow == MXEMU_OVERFLOW_INF && f->has_inf)
            return (sign ? f->sign_mask : 0u) | f->inf_mag;
        *flags |= MXEMU_FLAG_INVALID;
        if (cfg->overflow == MXEMU_OVERFLOW_NAN && f->has_nan)
            return mx_fmt_nan_code(f, sign);
        return pack_sign(f, sign, limit_mag(f, cfg, sign));
    }
    if (n == 0 || d == 0) { /* defensive: not a valid finite input, treat as zero */
        return (sign && f->has_neg_zero) ? f->sign_mask : 0u;
    }

    /* 2. t = floor(log2(n * 2^e2 / d)): the difference of the top bit
     * positions, minus one when n's leading bits are below d's. */
    const int lz_n = __builtin_clzll(n), lz_d = __builtin_clzll(d);
    const int32_t t = (lz_d - lz_n) + e2 - ((n << lz_n) < (d << lz_d) ? 1 : 0);

    /* 3. The quantum q (weight of the last kept bit).  Everything at or
     * above the overflow bound is decided without scaling, which also keeps
     * the scaled value below 2^64 in step 4. */
    int32_t q;
    if (f->is_int) {
        if (t + 1 + M > f->bits) /* |v| * 2^M >= 2^bits: beyond any limit */
            goto overflow;
        q = -M;
    } else {
        if (t > f->emax)
            goto overflow;
        if (t < f->emin) {
            if (!f->subnormals) {
                /* Below the smallest normal of a format without zero: the
                 * minimum positive code, in every mode. */
                *flags |= MXEMU_FLAG_UNDERFLOW | MXEMU_FLAG_INEXACT;
                return pack_sign(f, sign, 0);
            }
            q = f->emin - M;
        } else {
            q = t - M;
        }
    }

    /* 4. y = floor(|v| / 2^q * 2^32): the kept significand in the top bits,
     * the next 32 discarded bits below, and `sticky` for anything further.
     * Bounds: kept < 2^(M+1) for floats (t <= emax) and < 2^bits for ints,
     * so y < 2^64; n * 2^sh < 2^64 * d fits 128 bits. */
    const int32_t sh = e2 - q + 32;
    uint64_t y;
    int sticky;
    if (sh >= 0) {
        if (d == 1) {
            y = n << sh;
            sticky = 0;
        } else if (sh < 64 && (n >> (63 - sh)) == 0) {
            /* n * 2^sh < 2^63: a 64-bit division (the common NVFP4 case). */
            const uint64_t num = n << sh;
            y = num / d;
            sticky = (num % d) != 0;
        } else {
            const mx_u128 num = (mx_u128)n << sh;
            y = (uint64_t)(num / d);
            sticky = (num % d) != 0;
        }
    } else {
        const int32_t k = -sh;
        uint64_t y0;
        int st0;
        if (k >= 64) {
            y0 = 0;
            st0 = 1; /* n >= 1 was shifted out entirely */
        } else {
            y0 = n >> k;
            st0 = (n & ((1ull << k) - 1u)) != 0;
        }
        if (d == 1) {
            y = y0;
            sticky = st0;
        } else {
            /* floor(floor(n / 2^k) / d) == floor(n / (2^k d)) */
            y = y0 / d;
            sticky = st0 || (y0 % d) != 0;
        }
    }
    const uint64_t kept = y >> 32;
    const uint32_t frac = (uint32_t)y; /* rem / 2^q, as a 0.32 fixed-point number */

    /* The truncated code magnitude: the significand for subnormals and ints,
     * else the biased exponent above the stored mantissa.  Code magnitudes
     * are monotonic, so "round up" is "add one" and carries into the
     * exponent (or from the largest subnormal into the smallest normal). */
    uint64_t mag;
    if (f->is_int || t < f->emin)
        mag = kept;
    else
        mag = ((uint64_t)(uint32_t)(t + f->bias) << M) + (kept - (1ull << M));

    /* 4b. The rounding increment. */
    const uint32_t half = 0x80000000u;
    const int inexact = frac != 0 || sticky;
    int up = 0;
    switch (cfg->mode) {
    case MXEMU_RNE: up = frac > half || (frac == half && (sticky || (mag & 1u))); break;
    case MXEMU_RNA: up = frac >= half; break;
    case MXEMU_RTZ: up = 0; break;
    case MXEMU_RUP: up = inexact && !sign; break;
    case MXEMU_RDN: up = inexact && sign; break;
    case MXEMU_RTO: mag |= (uint64_t)inexact; break; /* jamming: sets the last bit */
    default: { /* MXEMU_SR: floor(rem / 2^q * 2^R) + r >= 2^R */
        const int R = cfg->sr_bits;
        const uint64_t r = R == 32 ? rand : (rand & ((1u << R) - 1u));
        up = ((uint64_t)(frac >> (32 - R)) + r) >= (1ull << R);
        break;
    }
    }
    mag += (uint64_t)up;

    /* 5. Overflow after rounding (e.g. E4M3 above 464, E2M1 at 7). */
    if (mag > limit_mag(f, cfg, sign))
        goto overflow;

    /* 6.-7. Flags; UNDERFLOW uses tininess before rounding. */
    if (inexact) {
        *flags |= MXEMU_FLAG_INEXACT;
        if (t < f->tiny_exp)
            *flags |= MXEMU_FLAG_UNDERFLOW;
    }
    return pack_sign(f, sign, mag);

overflow:
    *flags |= MXEMU_FLAG_OVERFLOW | MXEMU_FLAG_INEXACT;
    return overflow_result(f, cfg, sign);
}

/* An IEEE binary bit pattern (exp_bits, man_bits, standard bias) as its sign
 * and exact value n * 2^e2; the class is returned.  One routine for binary64
 * (codec inputs) and binary32 (quantizer inputs). */
static inline int split_ieee(uint64_t b, int exp_bits, int man_bits, int *sign, uint64_t *n,
                             int32_t *e2)
{
    const uint64_t top = (1ull << exp_bits) - 1u;
    const uint64_t field = (b >> man_bits) & top;
    const uint64_t frac = b & ((1ull << man_bits) - 1u);
    const int32_t bias = (int32_t)(top >> 1);
    *sign = (int)((b >> (exp_bits + man_bits)) & 1u);
    if (field == top)
        return frac ? MX_VAL_NAN : MX_VAL_INF;
    if (field == 0) {
        if (frac == 0)
            return MX_VAL_ZERO;
        *n = frac; /* subnormal: the exponent of the smallest normal, no implicit bit */
        *e2 = 1 - bias - man_bits;
        return MX_VAL_FINITE;
    }
    *n = frac | (1ull << man_bits);
    *e2 = (int32_t)field - bias - man_bits;
    return MX_VAL_FINITE;
}

int mx_split_double(double v, int *sign, uint64_t *n, int32_t *e2)
{
    uint64_t b;
    __builtin_memcpy(&b, &v, sizeof b);
    return split_ieee(b, 11, 52, sign, n, e2);
}

int mx_split_float_bits(uint32_t b, int *sign, uint64_t *n, int32_t *e2)
{
    return split_ieee(b, 8, 23, sign, n, e2);
}
