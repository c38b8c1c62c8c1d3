/*
 * promote.c - the promotion step of two-level accumulation (docs/SCHEMES.md
 * section 2): d = RN(p * s + c), one IEEE fused multiply-add rounded once
 * into the outer accumulator's format.
 *
 * The specification is emulator/numerics/twolevel.py `fma_round`.  Here the
 * value is formed exactly in integers: p * s is a product of two 53-bit
 * significands (< 2^106), the sum with c is taken in a 128-bit frame with a
 * sticky bit for anything shifted out, and the result is folded to 62 bits
 * by rounding to odd.  Rounding to odd at 62 >= p + 2 bits keeps every
 * decision (RNE, RNA, RTZ, RUP, RDN, RTO), the tininess and the inexactness
 * of a final rounding to p <= 32 bits, so the one rounding is mx_round_pack.
 */
#include "mxemu_internal.h"

__extension__ typedef unsigned __int128 mx_u128; /* GNU C: exact 128-bit products */

#define FRAME_TOP 125 /* the larger addend's leading bit; 2 bits of room for the carry */
#define FOLD_BITS 62  /* significant bits handed to mx_round_pack */

MX_INLINE int bitlen128(mx_u128 v)
{
    const uint64_t hi = (uint64_t)(v >> 64), lo = (uint64_t)v;
    if (hi)
        return 128 - __builtin_clzll(hi);
    return lo ? 64 - __builtin_clzll(lo) : 0;
}

/* An exact nonzero magnitude mag * 2^e plus a sticky bit (something
 * positive below the last bit of mag) rounded to odd at FOLD_BITS bits:
 * *n < 2^FOLD_BITS, value (n, *e2) with the lowest bit set when inexact. */
static uint64_t fold(mx_u128 mag, int32_t e, int sticky, int32_t *e2)
{
    int bl = bitlen128(mag);
    if (sticky && bl < FOLD_BITS) { /* room below: widen first so the jam bit is deep */
        mag <<= FOLD_BITS - bl;
        e -= FOLD_BITS - bl;
        bl = FOLD_BITS;
    }
    if (bl > FOLD_BITS) {
        const int sh = bl - FOLD_BITS;
        sticky |= (mag & (((mx_u128)1 << sh) - 1u)) != 0;
        mag >>= sh;
        e += sh;
    }
    *e2 = e;
    return (uint64_t)mag | (uint64_t)(sticky != 0);
}

/* One element; returns the code and ORs its flags into *fl. */
static uint32_t fma_one(const mx_fmt *f, const mx_round_cfg *cfg, uint32_t nan_code, double p,
                        double s, double c, uint8_t *fl)
{
    int sp, ss, sc;
    uint64_t np = 0, ns = 0, nc = 0;
    int32_t ep = 0, es = 0, ec = 0;
    const int kp = mx_split_double(p, &sp, &np, &ep);
    const int ks = mx_split_double(s, &ss, &ns, &es);
    const int kc = mx_split_double(c, &sc, &nc, &ec);

    /* 1. NaN in, NaN out (no flag); Inf * 0 and Inf - Inf are invalid. */
    if (kp == MX_VAL_NAN || ks == MX_VAL_NAN || kc == MX_VAL_NAN)
        return nan_code;
    const int sprod = sp ^ ss;
    const int kprod = (kp == MX_VAL_INF || ks == MX_VAL_INF)
                          ? ((kp == MX_VAL_ZERO || ks == MX_VAL_ZERO) ? MX_VAL_NAN : MX_VAL_INF)
                          : ((kp == MX_VAL_ZERO || ks == MX_VAL_ZERO) ? MX_VAL_ZERO
                                                                       : MX_VAL_FINITE);
    if (kprod == MX_VAL_NAN || (kprod == MX_VAL_INF && kc == MX_VAL_INF && sprod != sc)) {
        *fl |= MXEMU_FLAG_INVALID;
        return nan_code;
    }
    if (kprod == MX_VAL_INF || kc == MX_VAL_INF)
        return mx_round_pack(f, cfg, MX_VAL_INF, kprod == MX_VAL_INF ? sprod : sc, 0, 0, 1, 0,
                             fl);

    /* 2. Zero addends: the other one rounded; two zeros give the IEEE sign. */
    int32_t e2;
    if (kprod == MX_VAL_ZERO && kc == MX_VAL_ZERO) {
        const int neg = (sprod && sc) || (cfg->mode == MXEMU_RDN && (sprod || sc));
        return mx_round_pack(f, cfg, MX_VAL_ZERO, neg, 0, 0, 1, 0, fl);
    }
    if (kprod == MX_VAL_ZERO)
        return mx_round_pack(f, cfg, MX_VAL_FINITE, sc, nc, ec, 1, 0, fl);
    const mx_u128 mprod = (mx_u128)np * ns;
    const int32_t eprod = ep + es;
    if (kc == MX_VAL_ZERO) {
        const uint64_t n = fold(mprod, eprod, 0, &e2);
        return mx_round_pack(f, cfg, MX_VAL_FINITE, sprod, n, e2, 1, 0, fl);
    }

    /* 3. Both nonzero: A is the addend with the higher leading bit, placed at
     * FRAME_TOP; B is shifted into A's frame, bits below it kept as sticky
     * (only when B is more than 20 binades below A, so A - B loses at most
     * one leading bit and the sticky bit stays far below the kept ones). */
    mx_u128 ma = mprod, mb = nc;
    int32_t ea = eprod, eb = ec;
    int sa = sprod, sb = sc;
    const int bla = bitlen128(ma), blb = bitlen128(mb);
    if (eb + blb > ea + bla) {
        mx_u128 tm = ma;
        ma = mb;
        mb = tm;
        int32_t te = ea;
        ea = eb;
        eb = te;
        int ts = sa;
        sa = sb;
        sb = ts;
    }
    const int la = bitlen128(ma), lb = bitlen128(mb);
    const int32_t frame_e = ea + la - 1 - FRAME_TOP; /* weight of the frame's bit 0 */
    ma <<= FRAME_TOP - (la - 1);
    const int64_t shb = (int64_t)eb - frame_e; /* B = mb * 2^shb in frame units */
    int sticky = 0;
    if (shb >= 0) {
        mb <<= shb; /* leading bit at most FRAME_TOP, see the swap */
    } else if (-shb >= lb) {
        mb = 0;
        sticky = 1;
    } else {
        const int r = (int)-shb;
        sticky = (mb & (((mx_u128)1 << r) - 1u)) != 0;
        mb >>= r;
    }
    mx_u128 sum;
    int sign = sa;
    if (sa == sb) {
        sum = ma + mb; /* < 2^(FRAME_TOP + 2) */
    } else if (sticky) {
        sum = ma - mb - 1u; /* A - (B + frac) = (A - B - 1) + (1 - frac), frac in (0, 1) */
    } else if (ma >= mb) {
        sum = ma - mb;
    } else {
        sum = mb - ma;
        sign = sb;
    }
    if (sum == 0 && !sticky) /* exact cancellation: +0, -0 under RDN */
        return mx_round_pack(f, cfg, MX_VAL_ZERO, cfg->mode == MXEMU_RDN, 0, 0, 1, 0, fl);
    const uint64_t n = fold(sum, frame_e, sticky, &e2);
    return mx_round_pack(f, cfg, MX_VAL_FINITE, sign, n, e2, 1, 0, fl);
}

int32_t mxemu_fma_round(const mxemu_format *fmt, int64_t n, const double *p, const double *s,
                        const double *c, int32_t rounding, int32_t nan, uint32_t *codes,
                        uint8_t *flags)
{
    /* 1. Validate everything before writing anything. */
    if (fmt == NULL)
        return MXEMU_ERR_NULL;
    mx_fmt f;
    int32_t st = mx_fmt_init(&f, fmt);
    if (st != MXEMU_OK)
        return st;
    if (f.is_int)
        return MXEMU_ERR_FORMAT;
    if (rounding < MXEMU_RNE || rounding > MXEMU_RTO)
        return MXEMU_ERR_ARG;
    if (nan != MXEMU_ACC_NAN_CANONICAL && nan != MXEMU_ACC_NAN_ALL_ONES)
        return MXEMU_ERR_ARG;
    if (n < 0)
        return MXEMU_ERR_LENGTH;
    if (n > 0 && (p == NULL || s == NULL || c == NULL || codes == NULL || flags == NULL))
        return MXEMU_ERR_NULL;

    /* 2. Overflow as Format.encode's default: Inf where the format has it. */
    const mx_round_cfg cfg = {rounding, f.has_inf ? MXEMU_OVERFLOW_INF : MXEMU_OVERFLOW_SATURATE,
                              32, 0};
    const uint32_t nan_code = nan == MXEMU_ACC_NAN_ALL_ONES
                                  ? (1u << (f.bits - 1)) - 1u
                                  : (f.has_nan ? mx_fmt_nan_code(&f, 0) : 0u);
    for (int64_t i = 0; i < n; i++) {
        uint8_t fl = 0;
        codes[i] = fma_one(&f, &cfg, nan_code, p[i], s[i], c[i], &fl);
        flags[i] = fl;
    }
    return MXEMU_OK;
}
