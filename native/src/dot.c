/*
 * dot.c - the accumulation model of a tensor unit (docs/NUMERICS.md): block
 * dot products and GEMM, bit for bit as emulator/numerics/reference.py.
 *
 * Integers and bit patterns only.  A term is (-1)^sign * sig * 2^lsb with an
 * alignment exponent; a step aligns its terms, cuts them to F fraction bits,
 * adds them exactly (unsigned __int128 when the widths allow, else a
 * multi-limb two's-complement accumulator) and rounds once through
 * mx_round_pack (round.c), the one rounding routine of the core.  Sums wider
 * than 63 bits reach mx_round_pack as their top 63 bits with the rest OR-ed
 * into the lowest bit.  That routine reads the M + 1 kept bits and the 32
 * below them (stochastic rounding's widest word) and ORs the rest, so the
 * sticky bit stays below all it reads while M + 1 + 32 < 63, M <= 29: every
 * result format (IEEE-style floats, M <= 23) rounds exactly in every mode.
 * A sum that is itself a term again (the product sum of PRODUCTS_THEN_C, a
 * block sum of SCALE_BLOCKS) is kept exact instead: over 63 bits it is a wide
 * term, its limbs in a per-thread pool, cut and added by the limb accumulator.
 * So is an exact product over 63 bits (operands of up to 41 significand bits
 * each: an int of 30 fraction bits times a scale); a product rounded into
 * product_format reaches mx_round_pack as its top 63 bits and a sticky bit.
 *
 * The GEMM runs through the vectorised kernel of gemm_simd.c where it applies
 * (the outputs it cannot prove exact come back here, one by one).
 *
 * Every valid call is modelled: MXEMU_ERR_UNSUPPORTED is no longer returned
 * (the constant stays for ABI stability).  A stochastic-rounding sequence that
 * runs out is found when a rounding needs the missing word
 * (MXEMU_ERR_RAND_SHORT), as in the reference.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gemm_simd.h"
#include "mxemu_internal.h"

/* AVX-512 for the plan's B panels and the output encoding: those run only
 * where the vectorised kernel does (mx_simd_available) */
#if MX_HAVE_AVX512
#include <immintrin.h>
#endif

__extension__ typedef unsigned __int128 dt_u128;
__extension__ typedef __int128 dt_i128;

enum { T_PAD = 0, T_ZERO = 1, T_FIN = 2, T_INF = 3, T_NAN = 4 };

/* The magnitude is sig (< 2^63); or, for a wide term (an exact sum of
 * products or a block sum over 63 bits), sig limbs of the scratch's wide
 * pool from woff, low limb first. */
typedef struct term {
    int8_t kind, sign, has_align, wide;
    int32_t lsb, align, woff;
    uint64_t sig;
} term;

/* One operand element with its block scale folded in. */
typedef struct side {
    uint8_t nan, inf, zero, sign;
    int32_t lsb, align; /* align: sum of the factors' exponents, a zero factor as the floor */
    uint64_t sig;
} side;

/* The same element for the fast step (structure of arrays would not pay here):
 * zero elements carry lsb = +2^28 (out of every minimum) and, without an
 * alignment floor, align = -2^28 (out of every maximum). */
typedef struct fside {
    uint32_t sig;
    uint8_t sign, special;
    int32_t lsb, align;
} fside;

#define FS_BIG (1 << 28)

/* A code unpacked (mx_unpack_code's results). */
typedef struct ucode {
    int32_t cls, sign, exp;
    uint64_t sig;
} ucode;

/* The add of one step: what differs between the unit's steps and the exact C add. */
typedef struct add_pol {
    int32_t bounded, F, has_carry, carry, alignment, anchor, dropped;
} add_pol;

typedef struct dctx {
    mxemu_accum_config c;
    mx_fmt out, step, reg, cf, pf;
    int32_t same_out_reg, same_step_reg;
    mx_round_cfg out_rc, step_rc, prod_rc;
    add_pol unit, exact;
    int32_t has_floor, floor, flush;
    int64_t m, n, k, ik, n_instr, block;
    const side *as, *bs;        /* every operand decoded (scalar path only) */
    const fside *fa, *fb;
    /* what decode_row reads */
    const mx_fmt *af, *bf, *sf;
    const ucode *ta, *tb, *ts;  /* unpack tables (NULL: unpack each code) */
    const uint32_t *a_codes, *b_codes;
    const uint8_t *a_scales, *b_scales;
    int32_t a_block, b_block;
    int32_t fast_ok;            /* the config allows the fast step          */
    int32_t fast_blocks;        /* scale_blocks: the fast exact block sum   */
    int32_t *perm, *soff, *scnt; /* step s: products perm[soff[s] .. +scnt[s]) */
    int32_t nsteps;
    int32_t diag;               /* dot batch: output i is row i of A with row i of B */
    const uint32_t *rand;       /* SR words: one per output, or rand_per each */
    int64_t rand_per;
    int32_t pre_products;       /* product rounding is SR: products in K order first */
    const mx_simd_plan *simd;   /* the vectorised kernel's data, or NULL    */
    int32_t zero_align;         /* alignment of a zero C: the floor or none */
    const uint32_t *c_codes;
    uint32_t *d;
    uint8_t *flags;
    int32_t limbs;
} dctx;

typedef struct scratch {
    term *prod, *stepbuf, *bsum;
    uint64_t *limbs;
    uint64_t *wpool;    /* the magnitudes of wide terms: wused of wcap limbs */
    size_t wused, wcap;
    int oom;            /* the wide pool could not grow: the call fails */
    side *ra, *rb;      /* one decoded row of A and of B (vectorised path) */
    fside *rfa, *rfb;
    term *pre;          /* the output's K products, formed first (product SR) */
    const uint32_t *rnd; /* stochastic rounding: this output's random words */
    int64_t rnd_left;   /* words left of a sequence; -1: one word, reused  */
    int rnd_short;      /* a rounding found the sequence used up            */
} scratch;

/* The operands of one output: row i of A and row j of B (B transposed), as
 * sides and, for the fast steps, as fsides (NULL when not built). */
typedef struct rows {
    const side *a, *b;
    const fside *fa, *fb;
} rows;

MX_INLINE int bitlen64(uint64_t x) { return x ? 64 - __builtin_clzll(x) : 0; }
MX_INLINE int bitlen128(dt_u128 x)
{
    uint64_t hi = (uint64_t)(x >> 64);
    return hi ? 64 + bitlen64(hi) : bitlen64((uint64_t)x);
}


/* C (or a step's result) as a term: it aligns by its own exponent. */
static term reg_term(const dctx *x, const mx_fmt *f, uint32_t code, int flush)
{
    term t = {T_ZERO, 0, 0, 0, 0, 0, 0, 0};
    int sign;
    int32_t exp;
    uint64_t sig;
    int cls = mx_unpack_code(f, code, &sign, &exp, &sig);
    t.sign = (int8_t)sign;
    if (cls == MXEMU_CLASS_NAN) {
        t.kind = T_NAN;
        t.sign = 0;
    } else if (cls == MXEMU_CLASS_INF) {
        t.kind = T_INF;
    } else if (cls == MXEMU_CLASS_ZERO || (flush && cls == MXEMU_CLASS_SUBNORMAL)) {
        t.kind = T_ZERO;
        t.has_align = (int8_t)x->has_floor;
        t.align = x->floor;
    } else {
        t.kind = T_FIN;
        t.sig = sig;
        t.lsb = exp - f->man_bits;
        t.align = exp;
        t.has_align = 1;
    }
    return t;
}

/* ------------------------------------------------------------------------
 * Rounding with the config's policies (reference._round)
 * --------------------------------------------------------------------- */
MX_INLINE uint32_t signed_zero(const mx_fmt *f, int sign) { return sign ? f->sign_mask : 0u; }

/* The next random word of the output's chain (stochastic rounding only).
 * How many a chain takes depends on the data (zero sums and specials round
 * nothing), so a used-up sequence is found here, as the reference finds it:
 * the output is finished with zeros and the call fails (MXEMU_ERR_RAND_SHORT). */
MX_INLINE uint32_t next_rand(scratch *s)
{
    if (s->rnd_left < 0)
        return *s->rnd;
    if (s->rnd_left == 0) {
        s->rnd_short = 1;
        return 0;
    }
    s->rnd_left--;
    return *s->rnd++;
}

static uint32_t dt_round(const dctx *x, scratch *s, const mx_fmt *f, const mx_round_cfg *rc,
                         int sign, uint64_t n, int32_t e2, uint8_t *flags)
{
    uint8_t fl = 0;
    const uint32_t r = rc->mode == MXEMU_SR ? next_rand(s) : 0u;
    uint32_t code = mx_round_pack(f, rc, MX_VAL_FINITE, sign, n, e2, 1, r, &fl);
    if ((fl & MXEMU_FLAG_OVERFLOW) && x->c.overflow == MXEMU_ACC_OVERFLOW_INF)
        code = (sign ? f->sign_mask : 0u) | f->inf_mag;
    if (x->c.output_subnormals == MXEMU_ACC_SUBNORMALS_FLUSH) {
        const uint32_t mag = code & f->mag_mask;
        if ((mag >> f->man_bits) == 0 && mag != 0) {
            code = signed_zero(f, sign);
            fl |= MXEMU_FLAG_UNDERFLOW | MXEMU_FLAG_INEXACT;
        }
    }
    *flags |= fl;
    return code;
}

/* ------------------------------------------------------------------------
 * Exact sums of aligned terms
 * --------------------------------------------------------------------- */
typedef struct sum_out {
    int zero, neg, inexact;
    uint64_t n;   /* |sum| as n * 2^e2, n < 2^63, the low bit sticky when wider */
    int32_t e2;
    int32_t top;  /* floor(log2 |sum|) (valid when nonzero) */
    int32_t q;    /* the sum is a multiple of 2^q */
    int xn;       /* |sum| over 63 bits: exactly in the scratch's limbs[0 .. xn) */
} sum_out;

/* Adds (or subtracts) v * 2^shift into a two's-complement limb array. */
static void big_add(uint64_t *l, int nl, uint64_t v, int32_t shift, int neg)
{
    if (v == 0)
        return;
    int li = shift >> 6, bo = shift & 63;
    uint64_t part[2] = {v << bo, bo ? v >> (64 - bo) : 0};
    if (!neg) {
        uint64_t carry = 0;
        for (int i = li; i < nl; i++) {
            uint64_t p = (i - li) < 2 ? part[i - li] : 0;
            if (i - li >= 2 && carry == 0)
                break;
            dt_u128 s = (dt_u128)l[i] + p + carry;
            l[i] = (uint64_t)s;
            carry = (uint64_t)(s >> 64);
        }
    } else {
        uint64_t borrow = 0;
        for (int i = li; i < nl; i++) {
            uint64_t p = (i - li) < 2 ? part[i - li] : 0;
            if (i - li >= 2 && borrow == 0)
                break;
            dt_u128 s = (dt_u128)l[i] - p - borrow;
            l[i] = (uint64_t)s;
            borrow = (uint64_t)(s >> 64) ? 1u : 0u;
        }
    }
}

/* The adder of w bits (carry_bits): the exact two's-complement sum in nl
 * limbs wraps to its low w bits, sign-extended from bit w - 1 (reference:
 * (total + 2^(w-1)) mod 2^w - 2^(w-1)).  The nl limbs hold the exact sum with
 * a spare sign limb, so an adder at least as wide as they are never wraps. */
static void big_wrap(uint64_t *l, int nl, int64_t w)
{
    if (w >= (int64_t)nl * 64)
        return;
    const int li = (int)((w - 1) >> 6), bo = (int)((w - 1) & 63);
    const uint64_t ext = ((l[li] >> bo) & 1u) ? ~0ull : 0ull;
    if (bo < 63) {
        const uint64_t keep = (2ull << bo) - 1u;
        l[li] = (l[li] & keep) | (ext & ~keep);
    }
    for (int i = li + 1; i < nl; i++)
        l[i] = ext;
}

/* The top 63 bits of a magnitude of bit length L (> 63) held in nl limbs,
 * the bits below them OR-ed into the lowest bit; *drop = L - 63. */
static void big_top63(const uint64_t *l, int nl, int L, uint64_t *n, int32_t *drop)
{
    const int s = L - 63;
    const int li = s >> 6, bo = s & 63;
    uint64_t v = l[li] >> bo;
    if (bo && li + 1 < nl)
        v |= l[li + 1] << (64 - bo);
    v &= (1ull << 63) - 1u;
    int sticky = bo ? (l[li] & ((1ull << bo) - 1u)) != 0 : 0;
    for (int i = 0; i < li && !sticky; i++)
        sticky = l[i] != 0;
    *n = v | (uint64_t)sticky;
    *drop = s;
}

/* Cuts one term to a multiple of 2^q: the magnitude as mag * 2^sh, sh >= 0. */
MX_INLINE uint64_t cut_term(const term *t, int32_t q, int dropped, int32_t *sh, int *lost)
{
    int32_t shift = t->lsb - q;
    if (shift >= 0) {
        *sh = shift;
        return t->sig;
    }
    *sh = 0;
    const int32_t k = -shift;
    uint64_t mag, rem;
    int near_up = 0;
    if (k >= 64) {
        mag = 0;
        rem = t->sig;
    } else {
        mag = t->sig >> k;
        rem = t->sig & ((1ull << k) - 1u);
        if (dropped == MXEMU_ACC_DROPPED_NEAREST && rem) {
            const uint64_t half = 1ull << (k - 1);
            near_up = rem > half || (rem == half && (mag & 1u));
        }
    }
    if (rem) {
        *lost = 1;
        if (dropped == MXEMU_ACC_DROPPED_FLOOR && t->sign)
            mag += 1;
        else if (dropped == MXEMU_ACC_DROPPED_STICKY)
            mag |= 1;
        else if (near_up)
            mag += 1;
    }
    return mag;
}

/* Bit pos of a wide magnitude (0 above it). */
MX_INLINE int wbit(const uint64_t *w, int wn, int32_t pos)
{
    return pos >> 6 < wn ? (int)((w[pos >> 6] >> (pos & 63)) & 1u) : 0;
}

/* Whether any bit of a wide magnitude below bit pos (pos >= 0) is set. */
static int wany_below(const uint64_t *w, int wn, int32_t pos)
{
    const int li = pos >> 6 < wn ? pos >> 6 : wn, bo = pos >> 6 < wn ? pos & 63 : 0;
    if (bo && (w[li] & ((1ull << bo) - 1u)))
        return 1;
    for (int i = 0; i < li; i++)
        if (w[i])
            return 1;
    return 0;
}

/* Adds (neg: subtracts) a wide term's magnitude W * 2^shift into the limbs;
 * shift < 0 cuts the -shift low bits as cut_term does (one carry into the
 * kept part decides floor / sticky / nearest for the whole magnitude). */
static void big_add_wide(uint64_t *l, int nl, const uint64_t *w, int wn, int32_t shift,
                         int dropped, int neg, int *lost)
{
    if (shift >= 0) {
        for (int i = 0; i < wn && (shift >> 6) + i < nl; i++)
            big_add(l, nl, w[i], shift + 64 * i, neg);
        return;
    }
    const int32_t k = -shift;
    const int kl = k >> 6, kb = k & 63;
    const int rem = wany_below(w, wn, k);
    for (int j = 0; kl + j < wn && j < nl; j++) {
        uint64_t v = w[kl + j] >> kb;
        if (kb && kl + j + 1 < wn)
            v |= w[kl + j + 1] << (64 - kb);
        if (j == 0 && rem && dropped == MXEMU_ACC_DROPPED_STICKY)
            v |= 1u;
        big_add(l, nl, v, 64 * j, neg);
    }
    if (!rem)
        return;
    *lost = 1;
    int up = 0;
    if (dropped == MXEMU_ACC_DROPPED_FLOOR)
        up = neg;
    else if (dropped == MXEMU_ACC_DROPPED_STICKY)
        up = kl >= wn; /* nothing kept: the sticky bit alone */
    else if (dropped == MXEMU_ACC_DROPPED_NEAREST)
        up = wbit(w, wn, k - 1) && (wany_below(w, wn, k - 1) || wbit(w, wn, k));
    if (up)
        big_add(l, nl, 1u, 0, neg);
}

/* Sum of the FIN terms cut to multiples of 2^q (pol NULL: no cut, q <= every lsb). */
static void sum_terms(const dctx *x, scratch *s, const term *t, int nt, int32_t q,
                      const add_pol *pol, sum_out *o)
{
    const int dropped = pol ? pol->dropped : MXEMU_ACC_DROPPED_TRUNCATE;
    int lost = 0, maxw = 0, live = 0, wide = 0;
    /* pass 1: widths */
    for (int i = 0; i < nt; i++) {
        if (t[i].kind != T_FIN)
            continue;
        live++;
        const int bits = t[i].wide ? 64 * (int)(t[i].sig - 1) +
                                         bitlen64(s->wpool[t[i].woff + (int32_t)t[i].sig - 1])
                                   : bitlen64(t[i].sig);
        int32_t w = t[i].lsb - q + bits;
        if (w > maxw)
            maxw = w;
        wide |= t[i].wide;
    }
    o->zero = 1;
    o->neg = 0;
    o->inexact = 0;
    o->n = 0;
    o->e2 = 0;
    o->top = 0;
    o->q = q;
    o->xn = 0;
    if (!live)
        return;
    const int lg = bitlen64((uint64_t)live) + 1;
    const int carry = pol && pol->has_carry;
    if (wide)
        maxw = maxw > 126 ? maxw : 126; /* wide terms take the limb path */
    if (maxw + lg <= 62 && !carry) { /* the common case: 64-bit integers */
        int64_t tot = 0;
        for (int i = 0; i < nt; i++) {
            if (t[i].kind != T_FIN)
                continue;
            int32_t sh;
            uint64_t mag = cut_term(&t[i], q, dropped, &sh, &lost);
            int64_t v = (int64_t)(mag << sh);
            tot += t[i].sign ? -v : v;
        }
        o->inexact = lost;
        if (tot == 0)
            return;
        o->zero = 0;
        o->neg = tot < 0;
        o->n = o->neg ? (uint64_t)0 - (uint64_t)tot : (uint64_t)tot;
        o->e2 = q;
        o->top = bitlen64(o->n) - 1 + q;
        return;
    }
    if (maxw + lg <= 125) {
        dt_i128 tot = 0;
        for (int i = 0; i < nt; i++) {
            if (t[i].kind != T_FIN)
                continue;
            int32_t sh;
            uint64_t mag = cut_term(&t[i], q, dropped, &sh, &lost);
            dt_i128 v = (dt_i128)((dt_u128)mag << sh);
            tot += t[i].sign ? -v : v;
        }
        /* |tot| < 2^125 here: an adder of 127 bits or more never wraps it */
        const int64_t w = carry ? (int64_t)pol->F + 1 + pol->carry + 1 : 128;
        if (w < 127) {
            const dt_u128 modm = ((dt_u128)1 << w) - 1u;
            const dt_u128 half = (dt_u128)1 << (w - 1);
            tot = (dt_i128)((((dt_u128)tot + half) & modm)) - (dt_i128)half;
        }
        o->inexact = lost;
        if (tot == 0)
            return;
        o->zero = 0;
        o->neg = tot < 0;
        dt_u128 mag = o->neg ? (dt_u128)0 - (dt_u128)tot : (dt_u128)tot;
        int L = bitlen128(mag);
        o->top = L - 1 + q;
        if (L <= 63) {
            o->n = (uint64_t)mag;
            o->e2 = q;
        } else {
            int d = L - 63;
            o->n = (uint64_t)(mag >> d) | (uint64_t)((mag & (((dt_u128)1 << d) - 1u)) != 0);
            o->e2 = q + d;
            s->limbs[0] = (uint64_t)mag;
            s->limbs[1] = (uint64_t)(mag >> 64);
            o->xn = L > 64 ? 2 : 1;
        }
        return;
    }
    /* the wide path */
    int nl = (maxw + lg) / 64 + 2;
    if (nl > x->limbs) /* defensive: the capacity bound of mxemu_gemm covers every sum */
        nl = x->limbs;
    uint64_t *l = s->limbs;
    memset(l, 0, sizeof(uint64_t) * (size_t)nl);
    for (int i = 0; i < nt; i++) {
        if (t[i].kind != T_FIN)
            continue;
        if (t[i].wide) {
            big_add_wide(l, nl, s->wpool + t[i].woff, (int)t[i].sig, t[i].lsb - q, dropped,
                         t[i].sign, &lost);
            continue;
        }
        int32_t sh;
        uint64_t mag = cut_term(&t[i], q, dropped, &sh, &lost);
        big_add(l, nl, mag, sh, t[i].sign);
    }
    o->inexact = lost;
    if (carry)
        big_wrap(l, nl, (int64_t)pol->F + 1 + pol->carry + 1);
    int neg = (l[nl - 1] >> 63) != 0;
    if (neg) { /* negate in place */
        uint64_t c = 1;
        for (int i = 0; i < nl; i++) {
            dt_u128 v = (dt_u128)(~l[i]) + c;
            l[i] = (uint64_t)v;
            c = (uint64_t)(v >> 64);
        }
    }
    int hi = nl - 1;
    while (hi >= 0 && l[hi] == 0)
        hi--;
    if (hi < 0)
        return;
    int L = hi * 64 + bitlen64(l[hi]);
    o->zero = 0;
    o->neg = neg;
    o->top = L - 1 + q;
    if (L <= 63) {
        o->n = l[0];
        o->e2 = q;
    } else {
        int32_t drop;
        big_top63(l, nl, L, &o->n, &drop);
        o->e2 = q + drop;
        o->xn = hi + 1;
    }
}

/* Makes t a wide term of the n limbs w (low first, the top one nonzero),
 * copied into the wide pool; t is left as it is when the pool cannot grow
 * (the call then reports MXEMU_ERR_ALLOC and this value is never used). */
static void make_wide(scratch *s, term *t, const uint64_t *w, int n)
{
    if (s->wused + (size_t)n > s->wcap) {
        const size_t cap = 2 * s->wcap + (size_t)n + 64;
        uint64_t *p = cap < INT32_MAX ? realloc(s->wpool, sizeof(uint64_t) * cap) : NULL;
        if (!p) {
            s->oom = 1;
            return;
        }
        s->wpool = p;
        s->wcap = cap;
    }
    memcpy(s->wpool + s->wused, w, sizeof(uint64_t) * (size_t)n);
    t->wide = 1;
    t->woff = (int32_t)s->wused;
    t->sig = (uint64_t)n;
    s->wused += (size_t)n;
}

/* The exact sum sum_terms just made (nonzero) as a term aligning by align;
 * a magnitude over 63 bits moves from the limbs into the wide pool. */
static term exact_term(scratch *s, const sum_out *o, int32_t align)
{
    term t = {T_FIN, (int8_t)o->neg, 1, 0, o->q, align, 0, o->n};
    if (o->xn)
        make_wide(s, &t, s->limbs, o->xn);
    return t;
}

/* The terms aligned (E: the anchor, or the largest alignment exponent, 0
 * when none has one), cut to multiples of 2^(E - F) (or, F unbounded, not
 * cut) and added exactly.  Returns whether a term had an alignment. */
static int aligned_sum(const dctx *x, scratch *s, const term *t, int nt, const add_pol *pol,
                       sum_out *o, int32_t *E_out)
{
    int32_t E = 0;
    int have = 0;
    if (pol->alignment == MXEMU_ACC_ALIGN_ANCHOR) {
        E = pol->anchor;
    } else {
        for (int i = 0; i < nt; i++)
            if ((t[i].kind == T_FIN || t[i].kind == T_ZERO) && t[i].has_align &&
                (!have || t[i].align > E)) {
                E = t[i].align;
                have = 1;
            }
    }
    int32_t q;
    if (pol->bounded) {
        q = E - pol->F;
    } else {
        int hq = 0;
        q = 0;
        for (int i = 0; i < nt; i++)
            if (t[i].kind == T_FIN && (!hq || t[i].lsb < q)) {
                q = t[i].lsb;
                hq = 1;
            }
    }
    sum_terms(x, s, t, nt, q, pol, o);
    *E_out = E;
    return have;
}

/* ------------------------------------------------------------------------
 * One step: a fused multi-term add rounded once (reference._fused_step)
 * --------------------------------------------------------------------- */
static uint32_t fused_step(const dctx *x, scratch *s, const term *t, int nt, const mx_fmt *f,
                           const mx_round_cfg *rc, const add_pol *pol, uint8_t *flags)
{
    int nan = 0, pinf = 0, ninf = 0;
    for (int i = 0; i < nt; i++) {
        if (t[i].kind == T_NAN)
            nan = 1;
        else if (t[i].kind == T_INF) {
            if (t[i].sign)
                ninf = 1;
            else
                pinf = 1;
        }
    }
    if (nan)
        return mx_fmt_nan_code(f, 0);
    if (pinf && ninf) {
        *flags |= MXEMU_FLAG_INVALID;
        return mx_fmt_nan_code(f, 0);
    }
    if (pinf || ninf)
        return (ninf ? f->sign_mask : 0u) | f->inf_mag;
    sum_out o;
    if (pol->alignment == MXEMU_ACC_ALIGN_PRODUCTS_THEN_C) {
        /* the products aligned and cut among themselves, then their sum with C
         * (always the last term here: this alignment requires C inside) */
        int32_t Ep;
        sum_out op;
        const size_t mark = s->wused; /* the product sum's limbs live until the pair is added */
        const int have_ep = aligned_sum(x, s, t, nt - 1, pol, &op, &Ep);
        term pair[2];
        if (op.zero) {
            pair[0] = (term){T_ZERO, 0, (int8_t)have_ep, 0, 0, have_ep ? Ep : 0, 0, 0};
        } else {
            pair[0] = exact_term(s, &op, Ep); /* exact at its own lsb, as the reference */
        }
        pair[1] = t[nt - 1];
        add_pol max = *pol;
        max.alignment = MXEMU_ACC_ALIGN_MAX;
        aligned_sum(x, s, pair, 2, &max, &o, &Ep);
        o.inexact |= op.inexact;
        s->wused = mark;
    } else {
        int32_t E;
        aligned_sum(x, s, t, nt, pol, &o, &E);
    }
    uint8_t fl = 0;
    if (o.inexact) {
        fl |= MXEMU_FLAG_INEXACT;
        if (o.zero || o.top < f->emin)
            fl |= MXEMU_FLAG_UNDERFLOW;
    }
    *flags |= fl;
    if (o.zero) {
        int sign;
        if (x->c.zero_sign == MXEMU_ACC_ZERO_POSITIVE) {
            sign = 0;
        } else {
            int nv = 0, all_negz = 1, all_posz = 1;
            for (int i = 0; i < nt; i++) {
                if (t[i].kind != T_ZERO && t[i].kind != T_FIN)
                    continue;
                nv++;
                if (!(t[i].kind == T_ZERO && t[i].sign))
                    all_negz = 0;
                if (!(t[i].kind == T_ZERO && !t[i].sign))
                    all_posz = 0;
            }
            if (nv && all_negz)
                sign = 1;
            else if (all_posz)
                sign = 0;
            else
                sign = rc->mode == MXEMU_RDN;
        }
        return signed_zero(f, sign);
    }
    return dt_round(x, s, f, rc, o.neg, o.n, o.e2, flags);
}

/* ------------------------------------------------------------------------
 * Products, block sums, instructions
 * --------------------------------------------------------------------- */
static term product(const dctx *x, scratch *s, const side *a, const side *b, uint8_t *flags)
{
    term t = {T_ZERO, 0, 0, 0, 0, 0, 0, 0};
    t.sign = (int8_t)(a->sign ^ b->sign);
    if (a->nan || b->nan) {
        t.kind = T_NAN;
        t.sign = 0;
        return t;
    }
    if (a->inf || b->inf) {
        if (a->zero || b->zero) {
            *flags |= MXEMU_FLAG_INVALID;
            t.kind = T_NAN;
            t.sign = 0;
            return t;
        }
        t.kind = T_INF;
        return t;
    }
    if (a->zero || b->zero) {
        t.kind = T_ZERO;
        t.has_align = (int8_t)x->has_floor;
        t.align = a->align + b->align;
        return t;
    }
    /* each side is below 2^41 (an element of at most 32 significand bits
     * times a scale of at most 9), so the product fits 128 bits */
    const dt_u128 p = (dt_u128)a->sig * b->sig;
    const int L = bitlen128(p);
    t.kind = T_FIN;
    t.lsb = a->lsb + b->lsb;
    t.align = a->align + b->align;
    t.has_align = 1;
    if (x->c.product_exponent == MXEMU_ACC_PEXP_VALUE)
        t.align = L - 1 + t.lsb;
    if (x->c.has_product_format) {
        /* over 63 bits: the top 63 and a sticky bit round exactly (see the header) */
        const int d = L > 63 ? L - 63 : 0;
        const uint64_t n = (uint64_t)(p >> d) | (uint64_t)((p & (((dt_u128)1 << d) - 1u)) != 0);
        uint32_t code = dt_round(x, s, &x->pf, &x->prod_rc, t.sign, n, t.lsb + d, flags);
        return reg_term(x, &x->pf, code, 0);
    }
    if (L <= 63) {
        t.sig = (uint64_t)p;
    } else { /* a wide term of one or two limbs, added by the limb accumulator */
        const uint64_t w[2] = {(uint64_t)p, (uint64_t)(p >> 64)};
        make_wide(s, &t, w, L > 64 ? 2 : 1);
    }
    return t;
}

/* 'scale_blocks': exact block sums (wide terms when over 63 bits). */
static int block_sums(const dctx *x, scratch *s, const term *p, int np, term *out,
                      uint8_t *flags)
{
    int nb = 0;
    for (int i0 = 0; i0 < np; i0 += (int)x->block) {
        int i1 = i0 + (int)x->block < np ? i0 + (int)x->block : np;
        int nan = 0, pinf = 0, ninf = 0, fin = 0, negz = 0, posz = 0;
        int32_t q = 0;
        for (int i = i0; i < i1; i++) {
            switch (p[i].kind) {
            case T_NAN: nan = 1; break;
            case T_INF: if (p[i].sign) ninf = 1; else pinf = 1; break;
            case T_FIN:
                if (!fin || p[i].lsb < q)
                    q = p[i].lsb;
                fin = 1;
                break;
            case T_ZERO: if (p[i].sign) negz = 1; else posz = 1; break;
            default: break;
            }
        }
        term t = {T_ZERO, 0, 0, 0, 0, 0, 0, 0};
        if (nan || (pinf && ninf)) {
            if (!nan)
                *flags |= MXEMU_FLAG_INVALID;
            t.kind = T_NAN;
        } else if (pinf || ninf) {
            t.kind = T_INF;
            t.sign = (int8_t)ninf;
        } else {
            sum_out o;
            o.zero = 1;
            if (fin)
                sum_terms(x, s, p + i0, i1 - i0, q, NULL, &o);
            if (o.zero) {
                t.sign = (int8_t)(!fin && negz && !posz);
                t.has_align = (int8_t)x->has_floor;
                t.align = x->floor;
            } else {
                t = exact_term(s, &o, o.top);
            }
        }
        out[nb++] = t;
    }
    return nb;
}

/* The fast step: max alignment, F bounded or not, truncation, exact products,
 * no specials, a 64-bit sum.  Returns 1 with *code set, or 0 when the step
 * needs the general path (which then recomputes it from scratch). */
static int fast_step(const dctx *x, scratch *s, const fside *A, const fside *B,
                     const int32_t *idx, int np,
                     const term *acc, const mx_fmt *f, const mx_round_cfg *rc, uint8_t *flags,
                     uint32_t *code)
{
    int32_t E = -FS_BIG * 2, qmin = FS_BIG;
    uint8_t spec = 0;
    for (int n = 0; n < np; n++) {
        const fside *a = A + idx[n], *b = B + idx[n];
        spec |= a->special | b->special;
        const int32_t al = a->align + b->align, ls = a->lsb + b->lsb;
        E = al > E ? al : E;
        qmin = ls < qmin ? ls : qmin;
    }
    if (spec)
        return 0;
    if (acc) {
        if (acc->kind == T_FIN) {
            E = acc->align > E ? acc->align : E;
            qmin = acc->lsb < qmin ? acc->lsb : qmin;
        } else if (acc->kind == T_ZERO) {
            if (acc->has_align && acc->align > E)
                E = acc->align;
        } else {
            return 0;
        }
    }
    int32_t q;
    const int lg = bitlen64((uint64_t)np + 2) + 1;
    if (x->unit.bounded) {
        if (E < -FS_BIG / 2)
            return 0;
        q = E - x->unit.F;
        if (x->unit.F + 4 + lg > 62)
            return 0;
    } else {
        if (qmin > FS_BIG / 2)
            return 0;
        q = qmin;
        if (E - q + 4 + lg > 62) /* E bounds every top exponent here (no floor above) */
            return 0;
    }
    int64_t tot = 0;
    uint64_t lost = 0;
    for (int n = 0; n < np; n++) {
        const fside *a = A + idx[n], *b = B + idx[n];
        /* branch-free: a left shift (bits kept) or a right shift (bits cut); zero
         * products have sig 0 and any shift; products here are below 2^56 */
        const uint64_t sig = (uint64_t)a->sig * b->sig;
        const int32_t sh = a->lsb + b->lsb - q;
        const uint32_t ls = sh > 0 ? (uint32_t)sh & 63u : 0u;
        const uint32_t rs = sh < 0 ? (sh < -63 ? 63u : (uint32_t)-sh) : 0u;
        const uint64_t mag = (sig << ls) >> rs;
        lost |= sig & ((1ull << rs) - 1u);
        const uint64_t neg = (uint64_t)0 - (uint64_t)(a->sign ^ b->sign);
        tot += (int64_t)((mag ^ neg) - neg);
    }
    if (acc && acc->kind == T_FIN) {
        const int32_t sh = acc->lsb - q;
        uint64_t mag;
        if (sh >= 0) {
            if (sh > 62 - bitlen64(acc->sig))
                return 0;
            mag = acc->sig << sh;
        } else if (sh > -64) {
            mag = acc->sig >> -sh;
            lost |= acc->sig & ((1ull << -sh) - 1u);
        } else {
            mag = 0;
            lost |= acc->sig;
        }
        tot += acc->sign ? -(int64_t)mag : (int64_t)mag;
    }
    if (tot == 0)
        return 0;
    const int neg = tot < 0;
    const uint64_t mag = neg ? (uint64_t)0 - (uint64_t)tot : (uint64_t)tot;
    if (lost) {
        *flags |= MXEMU_FLAG_INEXACT;
        if (bitlen64(mag) - 1 + q < f->emin)
            *flags |= MXEMU_FLAG_UNDERFLOW;
    }
    *code = dt_round(x, s, f, rc, neg, mag, q, flags);
    return 1;
}

/* 'scale_blocks': the exact sum of one block of np products without specials
 * in 64 bits.  Returns 1 with *out set, or 0 for the general path (specials,
 * a wide spread, a zero sum). */
static int fast_block(const fside *A, const fside *B, int np, term *out)
{
    int32_t top = -FS_BIG * 2, qmin = FS_BIG;
    uint8_t spec = 0;
    for (int n = 0; n < np; n++) {
        spec |= A[n].special | B[n].special;
        const int32_t al = A[n].align + B[n].align, ls = A[n].lsb + B[n].lsb;
        top = al > top ? al : top;
        qmin = ls < qmin ? ls : qmin;
    }
    /* every nonzero product is below 2^(align + 4); zero ones have sig 0 */
    if (spec || qmin > FS_BIG / 2 || top + 4 - qmin + bitlen64((uint64_t)np) + 1 > 62)
        return 0;
    int64_t tot = 0;
    for (int n = 0; n < np; n++) {
        const uint64_t sig = (uint64_t)A[n].sig * B[n].sig;
        const int32_t sh = A[n].lsb + B[n].lsb - qmin; /* >= 0; zero products: sig 0 */
        const uint64_t mag = sig << ((uint32_t)sh & 63u);
        const uint64_t neg = (uint64_t)0 - (uint64_t)(A[n].sign ^ B[n].sign);
        tot += (int64_t)((mag ^ neg) - neg);
    }
    if (tot == 0)
        return 0;
    const uint64_t mag = tot < 0 ? (uint64_t)0 - (uint64_t)tot : (uint64_t)tot;
    out->kind = T_FIN;
    out->sign = (int8_t)(tot < 0);
    out->wide = 0;
    out->sig = mag;
    out->lsb = qmin;
    out->align = bitlen64(mag) - 1 + qmin;
    out->has_align = 1;
    return 1;
}

/* Product kk of the output: formed now, or taken from those formed first in
 * K order (when product rounding is stochastic: its random words go to the
 * products in K order before any step's, as in the reference). */
MX_INLINE term get_product(const dctx *x, scratch *s, const side *a, const side *b, int64_t kk,
                           uint8_t *flags)
{
    return s->pre ? s->pre[kk] : product(x, s, a + kk, b + kk, flags);
}

/* One instruction (products k0 .. k0 + ik - 1 of output (i, j), padded past K);
 * returns the result's code in the register format. */
static uint32_t instruction(const dctx *x, scratch *s, const rows *r, int64_t k0,
                            const mx_fmt *cf, uint32_t c_code, uint8_t *flags)
{
    const int ik = (int)x->ik;
    const side *a = r->a, *b = r->b;
    const term c = reg_term(x, cf, c_code, x->flush);
    const mx_fmt *fmt = &x->out;
    uint32_t code = 0;
    s->wused = 0; /* no wide term outlives its instruction */
    term acc = c;
    int have_acc = x->c.c_entry == MXEMU_ACC_C_INSIDE;
    const term pad = {T_PAD, 0, 0, 0, 0, 0, 0, 0};
    if (x->c.k_split == MXEMU_ACC_KSPLIT_SCALE_BLOCKS) {
        int nb = 0;
        if (x->fast_blocks && k0 + ik <= x->k) {
            const fside *fa = r->fa + k0, *fb = r->fb + k0;
            for (int i0 = 0; i0 < ik; i0 += (int)x->block) {
                const int i1 = i0 + (int)x->block < ik ? i0 + (int)x->block : ik;
                if (!fast_block(fa + i0, fb + i0, i1 - i0, &s->bsum[nb])) {
                    for (int q = i0; q < i1; q++)
                        s->prod[q - i0] = get_product(x, s, a, b, k0 + q, flags);
                    block_sums(x, s, s->prod, i1 - i0, &s->bsum[nb], flags);
                }
                nb++;
            }
        } else {
            for (int q = 0; q < ik; q++)
                s->prod[q] = k0 + q < x->k ? get_product(x, s, a, b, k0 + q, flags) : pad;
            nb = block_sums(x, s, s->prod, ik, s->bsum, flags);
        }
        if (have_acc) {
            s->bsum[nb] = acc;
            code = fused_step(x, s, s->bsum, nb + 1, &x->out, &x->out_rc, &x->unit, flags);
            fmt = &x->out;
        } else {
            code = fused_step(x, s, s->bsum, nb, &x->step, &x->step_rc, &x->unit, flags);
            acc = reg_term(x, &x->step, code, 0);
            term pair[2] = {acc, c};
            code = fused_step(x, s, pair, 2, &x->out, &x->out_rc, &x->exact, flags);
        }
    } else {
        const int full = k0 + ik <= x->k;
        const fside *fa = r->fa ? r->fa + k0 : NULL;
        const fside *fb = r->fb ? r->fb + k0 : NULL;
        const int inside = x->c.c_entry == MXEMU_ACC_C_INSIDE;
        for (int st = 0; st < x->nsteps; st++) {
            const int32_t *idx = x->perm + x->soff[st];
            const int np = x->scnt[st];
            const int last = st == x->nsteps - 1;
            const mx_fmt *f = (inside && last) ? &x->out : &x->step;
            const mx_round_cfg *rc = (inside && last) ? &x->out_rc : &x->step_rc;
            const term *accp = (inside || have_acc) ? &acc : NULL;
            if (!(x->fast_ok && full && fa &&
                  fast_step(x, s, fa, fb, idx, np, accp, f, rc, flags, &code))) {
                int nt = 0;
                for (int n = 0; n < np; n++) {
                    const int64_t kk = k0 + idx[n];
                    s->stepbuf[nt++] = kk < x->k ? get_product(x, s, a, b, kk, flags) : pad;
                }
                if (accp)
                    s->stepbuf[nt++] = acc;
                code = fused_step(x, s, s->stepbuf, nt, f, rc, &x->unit, flags);
            }
            acc = reg_term(x, f, code, 0);
            have_acc = 1;
            fmt = f;
        }
        if (!inside) {
            term pair[2] = {acc, c};
            code = fused_step(x, s, pair, 2, &x->out, &x->out_rc, &x->exact, flags);
            fmt = &x->out;
        }
    }
    /* to the register */
    const int same_reg = fmt == &x->out ? x->same_out_reg : x->same_step_reg;
    int sign;
    int32_t exp;
    uint64_t sig;
    int cls = mx_unpack_code(fmt, code, &sign, &exp, &sig);
    if (cls == MXEMU_CLASS_NAN) {
        if (x->c.nan == MXEMU_ACC_NAN_ALL_ONES)
            return (uint32_t)((1ull << (x->reg.bits - 1)) - 1u);
        return mx_fmt_nan_code(&x->reg, 0);
    }
    if (same_reg)
        return code;
    if (cls == MXEMU_CLASS_INF)
        return (sign ? x->reg.sign_mask : 0u) | x->reg.inf_mag;
    if (cls == MXEMU_CLASS_ZERO)
        return signed_zero(&x->reg, sign);
    mx_round_cfg rne = {MXEMU_RNE, MXEMU_OVERFLOW_INF, 32, 0};
    uint8_t dummy = 0;
    return mx_round_pack(&x->reg, &rne, MX_VAL_FINITE, sign, sig, exp - fmt->man_bits, 1, 0,
                         &dummy);
}

static void dot_one(const dctx *x, scratch *s, int64_t i, int64_t j, const rows *r)
{
    const int64_t o = x->diag ? i : i * x->n + j;
    uint8_t flags = 0;
    uint32_t code = x->c_codes ? x->c_codes[o] : 0u;
    const mx_fmt *cf = &x->cf;
    if (x->rand) { /* this output's random words */
        s->rnd = x->rand + (x->rand_per ? o * x->rand_per : o);
        s->rnd_left = x->rand_per ? x->rand_per : -1;
    }
    term *pre = s->pre;
    s->pre = NULL;
    if (x->pre_products) {
        for (int64_t kk = 0; kk < x->k; kk++)
            pre[kk] = product(x, s, r->a + kk, r->b + kk, &flags);
        s->pre = pre;
    }
    for (int64_t ins = 0; ins < x->n_instr; ins++) {
        code = instruction(x, s, r, ins * x->ik, cf, code, &flags);
        cf = &x->reg;
    }
    x->d[o] = code;
    x->flags[o] = flags;
    s->pre = pre;
}

/* ------------------------------------------------------------------------
 * Setup, validation, threads
 * --------------------------------------------------------------------- */
MX_INLINE ucode unpack(const mx_fmt *f, uint32_t code)
{
    ucode u;
    u.cls = mx_unpack_code(f, code, &u.sign, &u.exp, &u.sig);
    return u;
}

/* Every code of a format of at most 16 bits unpacked once (decoding an
 * operand is then a table lookup); NULL for wider formats or no memory. */
static ucode *unpack_table(const mx_fmt *f)
{
    if (f->bits > 16)
        return NULL;
    ucode *t = malloc(sizeof(ucode) << f->bits);
    if (t)
        for (uint32_t c = 0; c < (1u << f->bits); c++)
            t[c] = unpack(f, c);
    return t;
}

/* One operand element (e, of format ef) with its scale (s, of format sf, or
 * NULL) folded in. */
static void mk_side(side *o, const mx_fmt *ef, const ucode *e, const mx_fmt *sf, const ucode *s,
                    int flush, int32_t floor)
{
    o->nan = e->cls == MXEMU_CLASS_NAN;
    o->inf = e->cls == MXEMU_CLASS_INF;
    o->zero = e->cls == MXEMU_CLASS_ZERO || (flush && e->cls == MXEMU_CLASS_SUBNORMAL);
    o->sign = (uint8_t)e->sign;
    o->sig = o->zero ? 0 : e->sig;
    o->lsb = e->exp - ef->man_bits;
    o->align = o->zero ? floor : e->exp;
    if (s) {
        o->nan |= s->cls == MXEMU_CLASS_NAN;
        o->inf |= s->cls == MXEMU_CLASS_INF;
        const int sz = s->cls == MXEMU_CLASS_ZERO;
        o->zero |= sz;
        o->sig *= s->sig;
        o->lsb += s->exp - sf->man_bits;
        o->align += sz ? floor : s->exp;
    }
}

/* The fast step's form of a side. */
static void to_fside(const dctx *x, const side *sd, fside *fd)
{
    fd->sig = (uint32_t)sd->sig;
    fd->sign = sd->sign;
    fd->special = (uint8_t)(sd->nan | sd->inf);
    fd->lsb = sd->zero ? FS_BIG : sd->lsb;
    fd->align = sd->zero && !x->has_floor ? -FS_BIG : sd->align;
}

/* Row r of A (b_side 0) or of B transposed (b_side 1), scales folded in:
 * k sides, and their fast forms when fout is not NULL. */
static void decode_row(const dctx *x, int b_side, int64_t r, side *out, fside *fout)
{
    const mx_fmt *ef = b_side ? x->bf : x->af;
    const ucode *et = b_side ? x->tb : x->ta;
    const uint32_t *codes = (b_side ? x->b_codes : x->a_codes) + r * x->k;
    const uint8_t *scales = b_side ? x->b_scales : x->a_scales;
    const int64_t block = b_side ? x->b_block : x->a_block;
    for (int64_t q = 0; q < x->k; q++) {
        const ucode e = et ? et[codes[q]] : unpack(ef, codes[q]);
        ucode sc = {0, 0, 0, 0};
        if (scales) {
            const uint8_t code = scales[r * (x->k / block) + q / block];
            sc = x->ts ? x->ts[code] : unpack(x->sf, code);
        }
        mk_side(&out[q], ef, &e, x->sf, scales ? &sc : NULL, x->flush, x->floor);
        if (fout)
            to_fside(x, &out[q], &fout[q]);
    }
}

static int fmt_top(const mx_fmt *f) { return f->is_int ? f->bits - 1 - f->man_bits : f->emax + 1; }
static int fmt_lsb(const mx_fmt *f) { return f->is_int ? -f->man_bits : f->emin - f->man_bits; }
/* The most bits a significand of f takes (an int's magnitude reaches 2^(man_bits + 1)). */
static int fmt_sig_bits(const mx_fmt *f) { return f->man_bits + (f->is_int ? 2 : 1); }

/* ------------------------------------------------------------------------
 * Threads: fn(jobs + t * size) for t < nth, on nth - 1 POSIX threads and
 * the caller's; a thread that cannot be created runs its job here.  The
 * results never depend on nth (each job owns disjoint outputs).
 * --------------------------------------------------------------------- */
#define MX_MAX_THREADS 4096

typedef struct thread_slot {
    void (*fn)(void *);
    void *job;
    pthread_t th;
    int started;
} thread_slot;

static void *thread_main(void *arg)
{
    thread_slot *ts = arg;
    ts->fn(ts->job);
    return NULL;
}

static void run_parallel(void (*fn)(void *), void *jobs, size_t size, int64_t nth)
{
    thread_slot slots[64];
    thread_slot *sl = nth <= 64 ? slots : malloc(sizeof(thread_slot) * (size_t)nth);
    if (!sl) { /* no memory for the bookkeeping: run everything here */
        for (int64_t t = 0; t < nth; t++)
            fn((char *)jobs + (size_t)t * size);
        return;
    }
    for (int64_t t = 1; t < nth; t++) {
        sl[t] = (thread_slot){fn, (char *)jobs + (size_t)t * size, 0, 0};
        sl[t].started = pthread_create(&sl[t].th, NULL, thread_main, &sl[t]) == 0;
        if (!sl[t].started)
            fn(sl[t].job);
    }
    fn(jobs);
    for (int64_t t = 1; t < nth; t++)
        if (sl[t].started)
            pthread_join(sl[t].th, NULL);
    if (sl != slots)
        free(sl);
}

typedef struct row_job {
    const dctx *x;
    int64_t r0, r1;
    int32_t status;
} row_job;

/* Terms per chunk of a long unbounded step in the vectorised kernel. */
#define SIMD_CHUNK 32

/* Rows r0 .. r1 through the vectorised kernel, SIMD_ROWS at a time (the
 * arrays hold SIMD_ROWS x np); the outputs it marks bad go through dot_one
 * (the whole output again, from C).  Each pass streams all of B's panels, so
 * more rows per pass read B fewer times: 64 rows were 5-20% faster than 16 at
 * 1024^3 (B's plan then far exceeds L2), and no slower at 512^3. */
#define SIMD_ROWS 64

/* Outputs a[0 .. n - 1] as normal numbers of a register format (sign mask
 * sm, bias - 1023, mb mantissa bits) with the inexact flags of ix; returns
 * nonzero when an output is bad or zero (those need the general path).
 * Branch-free, so the compiler vectorises it, with AVX-512 where the kernel
 * runs (always, when this is called). */
MX_T512 static int encode_row(const double *restrict a, const uint8_t *restrict bd,
                      const uint8_t *restrict ix, int64_t n, uint32_t sm, int32_t bias,
                      int32_t mb, uint32_t *restrict dr, uint8_t *restrict fr)
{
    int redo = 0;
    for (int64_t j = 0; j < n; j++) {
        uint64_t b;
        memcpy(&b, &a[j], sizeof b);
        dr[j] = (sm & (uint32_t)(0u - (uint32_t)(b >> 63))) |
                ((uint32_t)((int32_t)((b >> 52) & 0x7FFu) + bias) << mb) |
                (uint32_t)((b & ((1ull << 52) - 1u)) >> (52 - mb));
        fr[j] = (uint8_t)((ix[j] != 0) * MXEMU_FLAG_INEXACT);
        redo |= bd[j] | (a[j] == 0.0);
    }
    return redo;
}

static void simd_rows(const dctx *x, scratch *s, int64_t r0, int64_t r1, double *acc,
                      int32_t *acca, double *lo, uint8_t *inex, uint8_t *bad)
{
    /* locals: the stores to the arrays must not make the compiler reload these */
    const mx_simd_plan *p = x->simd;
    const int64_t np = p->np, n = x->n;
    const uint32_t *const cc = x->c_codes;
    uint32_t *const d = x->d;
    uint8_t *const flags = x->flags;
    const int32_t za = x->zero_align;
    const mx_fmt cf = x->cf;
    /* the register format's fields: a normal result's bits from its binary64 ones */
    const uint32_t sm = x->reg.sign_mask;
    const int32_t bias = x->reg.bias - 1023, mb = x->reg.man_bits;
    /* C's last code and what it gave (a C of one value decodes once) */
    uint32_t c_last = 0;
    double c_acc = 0.0;
    int32_t c_al = za;
    uint8_t c_bad = 0;
    int c_have = 0;
    for (int64_t i0 = r0; i0 < r1; i0 += SIMD_ROWS) {
        const int64_t i1 = i0 + SIMD_ROWS < r1 ? i0 + SIMD_ROWS : r1, cnt = (i1 - i0) * np;
        memset(acc, 0, sizeof(double) * (size_t)cnt); /* +0.0 */
        if (p->chunked)
            memset(lo, 0, sizeof(double) * (size_t)cnt);
        memset(bad, 0, (size_t)cnt);
        memset(inex, 0, (size_t)cnt);
        for (int64_t o = 0; o < cnt; o++)
            acca[o] = za;
        for (int64_t i = i0; cc && i < i1; i++)
            for (int64_t j = 0; j < n; j++) {
                const uint32_t code = cc[i * n + j];
                if (!c_have || code != c_last) {
                    int sign;
                    int32_t exp;
                    uint64_t sig;
                    const int cls = mx_unpack_code(&cf, code, &sign, &exp, &sig);
                    c_have = 1;
                    c_last = code;
                    c_acc = 0.0;
                    c_al = za;
                    c_bad = 0;
                    if (cls == MXEMU_CLASS_NORMAL && !cf.is_int) {
                        c_acc = ldexp(sign ? -(double)sig : (double)sig, exp - cf.man_bits);
                        c_al = exp;
                    } else if (cls != MXEMU_CLASS_ZERO) {
                        /* NaN, Inf, subnormal C and an int C (up to 32 significand bits,
                         * beyond what the kernel's bounds assume): the general path */
                        c_bad = 1;
                    }
                }
                const int64_t o = (i - i0) * np + j;
                acc[o] = c_acc;
                acca[o] = c_al;
                bad[o] = c_bad;
            }
        mx_simd_rows(p, i0, i1, acc, acca, lo, inex, bad);
        for (int64_t i = i0; i < i1; i++) {
            const double *a = acc + (i - i0) * np;
            const uint8_t *bd = bad + (i - i0) * np, *ix = inex + (i - i0) * np;
            uint32_t *dr = d + i * n;
            uint8_t *fr = flags + i * n;
            if (!encode_row(a, bd, ix, n, sm, bias, mb, dr, fr))
                continue;
            int have_a = 0;
            for (int64_t j = 0; j < n; j++) {
                /* a zero result too: its sign and flags follow every rule there */
                if (bd[j] || a[j] == 0.0) {
                    if (!have_a) /* decode the two rows (A's once per row) */
                        decode_row(x, 0, i, s->ra, s->rfa);
                    have_a = 1;
                    decode_row(x, 1, j, s->rb, s->rfb);
                    const rows r = {s->ra, s->rb, s->rfa, s->rfb};
                    dot_one(x, s, i, j, &r);
                }
            }
        }
    }
}

static int32_t run_rows(const dctx *x, int64_t r0, int64_t r1)
{
    scratch s;
    memset(&s, 0, sizeof s);
    const size_t nt = (size_t)x->ik + 2, k = (size_t)x->k + 1;
    const size_t np = x->simd ? (size_t)(x->simd->np * SIMD_ROWS) : 0;
    s.prod = malloc(sizeof(term) * nt);
    s.stepbuf = malloc(sizeof(term) * nt);
    s.bsum = malloc(sizeof(term) * nt);
    s.limbs = malloc(sizeof(uint64_t) * (size_t)x->limbs);
    double *acc = NULL, *lo = NULL;
    int32_t *acca = NULL;
    uint8_t *fl = NULL;
    if (np) {
        acc = malloc(sizeof(double) * np);
        lo = malloc(sizeof(double) * np);
        acca = malloc(sizeof(int32_t) * np);
        fl = malloc(2 * np + 16);
        s.ra = malloc(sizeof(side) * k);
        s.rb = malloc(sizeof(side) * k);
        s.rfa = malloc(sizeof(fside) * k);
        s.rfb = malloc(sizeof(fside) * k);
    }
    if (x->pre_products)
        s.pre = malloc(sizeof(term) * k);
    int32_t st = MXEMU_OK;
    if (!s.prod || !s.stepbuf || !s.bsum || !s.limbs || (x->pre_products && !s.pre) ||
        (np && (!acc || !lo || !acca || !fl || !s.ra || !s.rb || !s.rfa || !s.rfb)))
        st = MXEMU_ERR_ALLOC;
    else if (np)
        simd_rows(x, &s, r0, r1, acc, acca, lo, fl, fl + np + 8);
    else
        for (int64_t i = r0; i < r1 && !s.rnd_short; i++)
            for (int64_t j = x->diag ? i : 0; j < (x->diag ? i + 1 : x->n); j++) {
                const rows r = {x->as + i * x->k, x->bs + j * x->k,
                                x->fa ? x->fa + i * x->k : NULL,
                                x->fb ? x->fb + j * x->k : NULL};
                dot_one(x, &s, i, j, &r);
            }
    if (st == MXEMU_OK && s.rnd_short)
        st = MXEMU_ERR_RAND_SHORT;
    if (s.oom)
        st = MXEMU_ERR_ALLOC;
    free(s.wpool);
    free(s.prod);
    free(s.stepbuf);
    free(s.bsum);
    free(s.limbs);
    free(s.ra);
    free(s.rb);
    free(s.rfa);
    free(s.rfb);
    free(s.pre);
    free(acc);
    free(lo);
    free(acca);
    free(fl);
    return st;
}

static void row_worker(void *arg)
{
    row_job *w = arg;
    w->status = run_rows(w->x, w->r0, w->r1);
}

static int32_t rc_of(const mx_fmt *f, int32_t mode, int32_t ovf_policy, int32_t sr_bits,
                     mx_round_cfg *rc)
{
    rc->mode = mode;
    rc->overflow = ovf_policy == MXEMU_ACC_OVERFLOW_SATURATE ? MXEMU_OVERFLOW_SATURATE
                                                             : MXEMU_OVERFLOW_INF;
    rc->sr_bits = sr_bits;
    rc->int_min = 0;
    return mx_round_cfg_check(f, rc);
}

/* An IEEE-style result format the model can round into. */
static int32_t result_fmt(mx_fmt *f, const mxemu_format *d)
{
    int32_t st = mx_fmt_init(f, d);
    if (st != MXEMU_OK)
        return st;
    if (f->is_int || !f->is_signed || !f->subnormals || f->specials != MXEMU_SPECIALS_IEEE)
        return MXEMU_ERR_FORMAT;
    return MXEMU_OK;
}

static int same_desc(const mxemu_format *a, const mxemu_format *b)
{
    return a->kind == b->kind && a->exp_bits == b->exp_bits && a->man_bits == b->man_bits &&
           a->bias == b->bias && a->is_signed == b->is_signed && a->specials == b->specials &&
           a->subnormals == b->subnormals;
}

static int64_t env_threads(void)
{
    const char *e = getenv("MXEMU_THREADS");
    if (e && *e) {
        char *end;
        long v = strtol(e, &end, 10);
        if (*end == '\0' && v > 0 && v <= 4096)
            return v;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

#define IN(v, lo, hi) ((v) >= (lo) && (v) <= (hi))

/* ------------------------------------------------------------------------
 * The vectorised kernel (gemm_simd.c): when it applies, and its data
 * --------------------------------------------------------------------- */
static int simd_rc(int32_t mode)
{
    switch (mode) {
    case MXEMU_RNE: return 0;
    case MXEMU_RDN: return 1;
    case MXEMU_RUP: return 2;
    case MXEMU_RTZ: return 3;
    default: return -1; /* RNA, RTO, SR: the scalar path */
    }
}

/* 2^e as a double, e in [-1022, 1023]. */
MX_INLINE double pow2i(int32_t e)
{
    const uint64_t b = (uint64_t)(e + 1023) << 52;
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* The exact value of a fast-path operand (its lsb within +-400: see below). */
MX_INLINE double fside_value(const fside *f)
{
    const double v = f->sig ? (double)f->sig * pow2i(f->lsb) : 0.0;
    return f->sign ? -v : v;
}

static int simd_env_enabled(void)
{
    const char *e = getenv("MXEMU_GEMM_SIMD"); /* "0": the scalar path only (tests) */
    return !(e && e[0] == '0' && e[1] == '\0');
}

/* The plan's value of an element of one operand row: padding (a NaN or Inf
 * too: its instruction is marked, so no lane uses it) never counts. */
#define PLAN_PAD(vv, ee, ll) ((vv) = 0.0, (ee) = -2 * FS_BIG, (ll) = 2 * FS_BIG)

/* A decoded operand (decode_row's fast form) in the plan's terms; returns 0
 * when it is outside the kernel's exponent range, sets *spec for a NaN or
 * Inf and *sig_bits to the widest significand. */
MX_INLINE int plan_fside(const fside *t, double *v, int32_t *e, int32_t *l, uint8_t *spec,
                         int *sig_bits)
{
    if (t->special) {
        *spec = 1;
        PLAN_PAD(*v, *e, *l);
        return 1;
    }
    if (t->sig) {
        if (t->lsb < -400 || t->lsb > 400 || t->align < -400 || t->align > 400)
            return 0;
        const int b = bitlen64(t->sig);
        *sig_bits = b > *sig_bits ? b : *sig_bits;
    }
    *v = fside_value(t);
    *e = t->align;
    /* the lowest SET bit: the tighter the kernel's bounds, the fewer steps it checks */
    *l = t->sig ? t->lsb + __builtin_ctz(t->sig) : t->lsb;
    return 1;
}

/* An element code in the plan's terms, its scale left out (its values for a
 * unit scale), 16 bytes so that a 16-bit format's table stays in L2: formats
 * of at most 16 bits get a table of these, so a row of the plan costs a lookup
 * and a few adds per element.  NaN/Inf and exponents beyond the table's
 * range go through plan_code. */
typedef struct pcode {
    double v;         /* sign * sig * 2^lsb                          */
    int16_t exp, low; /* exponent and lowest set bit                 */
    uint8_t slow;     /* plan_code computes it                       */
    uint8_t bits;     /* bitlen(sig)                                 */
    uint8_t zero;     /* a zero (or flushed subnormal): v is its signed zero */
    uint8_t unused;
} pcode;

/* Table codes have exponents and lsbs within +-PCODE_RANGE (else slow):
 * v is exact in binary64, the fields fit int16. */
#define PCODE_RANGE 1000

typedef struct ptable {
    pcode *t;
    const ucode *u;                 /* the unpacked codes (plan_code)     */
    const mx_fmt *f;
    int32_t lsb_lo, lsb_hi, exp_lo, exp_hi; /* over the codes not slow   */
    int32_t bits_hi;                /* their widest significand            */
} ptable;

/* A scale code (sig * 2^lsb, the factor it multiplies by). */
typedef struct pscale {
    double mul;
    int32_t exp, lsb, low;
    uint32_t sig;
    int32_t zexp; /* a zero element's alignment with this scale */
    uint8_t zero, special;
    uint8_t slow; /* not a power of two, zero, NaN/Inf, or a block whose
                   * table codes could leave the kernel's exponent range
                   * with it: its elements go through plan_code */
} pscale;

/* Fills *pt for format f (its unpack table u); 0 when out of memory. */
static int ptable_build(const dctx *x, const mx_fmt *f, const ucode *u, ptable *pt)
{
    pt->t = malloc(sizeof(pcode) << f->bits);
    pt->u = u;
    pt->f = f;
    pt->lsb_lo = pt->exp_lo = PCODE_RANGE;
    pt->lsb_hi = pt->exp_hi = -PCODE_RANGE;
    pt->bits_hi = 0;
    if (!pt->t)
        return 0;
    for (uint32_t c = 0; c < (1u << f->bits); c++) {
        side sd;
        mk_side(&sd, f, &u[c], NULL, NULL, x->flush, x->floor);
        pcode *o = &pt->t[c];
        memset(o, 0, sizeof *o);
        const int32_t low = sd.sig ? sd.lsb + __builtin_ctzll(sd.sig) : sd.lsb;
        o->slow = sd.nan || sd.inf || (!sd.zero && (sd.lsb < -PCODE_RANGE || sd.lsb > PCODE_RANGE ||
                                                    u[c].exp < -PCODE_RANGE ||
                                                    u[c].exp > PCODE_RANGE));
        o->zero = sd.zero;
        if (o->slow || o->zero) {
            o->v = sd.sign ? -0.0 : 0.0;
            continue;
        }
        o->v = (double)sd.sig * pow2i(sd.lsb);
        o->v = sd.sign ? -o->v : o->v;
        o->exp = (int16_t)u[c].exp;
        o->low = (int16_t)low;
        o->bits = (uint8_t)bitlen64(sd.sig);
        pt->bits_hi = o->bits > pt->bits_hi ? o->bits : pt->bits_hi;
        pt->lsb_lo = sd.lsb < pt->lsb_lo ? sd.lsb : pt->lsb_lo;
        pt->lsb_hi = sd.lsb > pt->lsb_hi ? sd.lsb : pt->lsb_hi;
        pt->exp_lo = u[c].exp < pt->exp_lo ? u[c].exp : pt->exp_lo;
        pt->exp_hi = u[c].exp > pt->exp_hi ? u[c].exp : pt->exp_hi;
    }
    return 1;
}

/* Element `code` (table pt) with scale s in the plan's terms, in full: what
 * the table's fast path gives where it applies (see plan_fill). */
static int plan_code(const dctx *x, const ptable *pt, uint32_t code, const pscale *s, double *v,
                     int32_t *e, int32_t *l, uint8_t *spec, int *sig_bits)
{
    side t;
    mk_side(&t, pt->f, &pt->u[code], NULL, NULL, x->flush, x->floor);
    if (t.nan | t.inf | s->special) {
        *spec = 1;
        PLAN_PAD(*v, *e, *l);
        return 1;
    }
    if (t.zero | s->zero) {
        *v = t.sign ? -0.0 : 0.0;
        *e = x->has_floor ? (t.zero ? x->floor : pt->u[code].exp) + (s->zero ? x->floor : s->exp)
                          : -FS_BIG;
        *l = FS_BIG;
        return 1;
    }
    const int32_t lsb = t.lsb + s->lsb, al = pt->u[code].exp + s->exp;
    const uint64_t sig = t.sig * s->sig;
    if (lsb < -400 || lsb > 400 || al < -400 || al > 400 || sig >> 32)
        return 0;
    const int bl = bitlen64(sig);
    *sig_bits = bl > *sig_bits ? bl : *sig_bits;
    *v = t.sign ? -((double)sig * pow2i(lsb)) : (double)sig * pow2i(lsb);
    *e = al;
    *l = t.lsb + __builtin_ctzll(t.sig) + s->low;
    return 1;
}

/* Row `row`'s block scales (one per block, or a unit scale), each checked
 * against the table's range (pt NULL: no table). */
static void plan_scales(const dctx *x, int b_side, int64_t row, const ptable *pt, pscale *sc)
{
    const uint8_t *scales = b_side ? x->b_scales : x->a_scales;
    const int64_t nb = scales ? x->k / (b_side ? x->b_block : x->a_block) : 1;
    for (int64_t b = 0; b < nb; b++) {
        pscale *o = &sc[b];
        if (!scales) {
            *o = (pscale){1.0, 0, 0, 0, 1, 0, 0, 0, 0};
        } else {
            const uint8_t code = scales[row * nb + b];
            const ucode u = x->ts ? x->ts[code] : unpack(x->sf, code);
            o->zero = u.cls == MXEMU_CLASS_ZERO;
            o->special = u.cls == MXEMU_CLASS_NAN || u.cls == MXEMU_CLASS_INF;
            o->sig = (uint32_t)u.sig;
            o->exp = u.exp;
            o->lsb = u.exp - x->sf->man_bits;
            o->low = u.sig ? o->lsb + __builtin_ctzll(u.sig) : o->lsb;
            o->mul = u.sig && o->lsb >= -900 && o->lsb <= 900 ? (double)u.sig * pow2i(o->lsb)
                                                                : 0.0;
        }
        o->zexp = x->has_floor ? x->floor + o->exp : -FS_BIG;
        /* the fast path's element: v = t.v * mul exact, sig = t.sig, in range */
        o->slow = o->zero || o->special || o->sig != 1 ||
                  (pt && (pt->lsb_lo + o->lsb < -400 || pt->lsb_hi + o->lsb > 400 ||
                          pt->exp_lo + o->exp < -400 || pt->exp_hi + o->exp > 400));
    }
}

/* One thread's share of the plan: A's rows a0 .. a1 and B's panels (8
 * columns) p0 .. p1, each decoded, written and bounded per step. */
typedef struct plan_job {
    const dctx *x;
    const mx_simd_plan *p;
    const ptable *tab_a, *tab_b; /* NULL: decode_row and plan_fside */
    const int64_t *kpos;        /* K index of each plan position, -1: padding */
    const int64_t *kblk_a, *kblk_b; /* its block of A's and B's scales (0 unscaled) */
    int64_t a0, a1, p0, p1;
    int min2;                   /* a route reads the second lowest lsb   */
    int direct;                 /* position pos is K index pos (no permutation) */
    int ieee_a, ieee_b;         /* unscaled IEEE-style codes: plan_ieee     */
    int steps8;                 /* every step a multiple of 8 positions     */
    int ok, sig_a, sig_b;
} plan_job;

/* nl lanes of one side: a row of A (nl 1) or a panel of B (nl 8, the lanes
 * from `live` on padding columns).  Lane q's position pos goes to
 * v[pos * nl + q] (e, l alike), its bounds of step sx to [sx * nl + q], its
 * NaN/Inf marks to spec[ins * spec_stride + q]. */
typedef struct plan_lanes {
    int live;
    const uint32_t *codes[8]; /* the lanes' codes (table) */
    const pscale *sc[8];      /* their block scales (table) */
    const fside *rf[8];       /* decoded (no table) */
    double *v;
    int32_t *e, *l, *mx, *mn, *mn2, *at;
    uint8_t *spec;
    int64_t spec_stride;
} plan_lanes;

/* Table element `code` with scale s: the fast path, or plan_code.  The
 * fast path's significands count as the table's widest (plan_fill): at most
 * 16 bits, which can only move a call whose other side is over 37 bits wide
 * to the scalar path (the same bits). */
MX_INLINE int plan_tab(const dctx *x, const ptable *pt, const pcode *tab, uint32_t code,
                       const pscale *s, double *vv, int32_t *ee, int32_t *ll, uint8_t *spec,
                       int *bits)
{
    const pcode *t = &tab[code];
    if (__builtin_expect(t->slow | s->slow, 0))
        return plan_code(x, pt, code, s, vv, ee, ll, spec, bits);
    /* s is a power of two: sig = t's; a zero (v a signed zero) selected by a
     * mask, not a branch (E2M1 data has many) */
    const int32_t z = -(int32_t)t->zero;
    *vv = t->v * s->mul;
    *ee = (s->zexp & z) | ((t->exp + s->exp) & ~z);
    *ll = (FS_BIG & z) | ((t->low + s->low) & ~z);
    return 1;
}

/* A code of an IEEE-style format f (an unscaled operand; see ieee_plain),
 * decoded here as mx_unpack_code, mk_side and plan_fside would, with no
 * float arithmetic (MXCSR's denormals-are-zero must not matter). */
MX_INLINE void plan_ieee(const dctx *x, const mx_fmt *f, uint32_t c, double *vv, int32_t *ee,
                         int32_t *ll, uint8_t *spec, int *bits)
{
    const int M = f->man_bits;
    const uint32_t field = (c & f->mag_mask) >> M, mant = c & ((1u << M) - 1u);
    if (field == (1u << f->exp_bits) - 1u) { /* NaN, Inf */
        *spec = 1;
        PLAN_PAD(*vv, *ee, *ll);
        return;
    }
    const uint32_t sig = field ? mant | (1u << M) : x->flush ? 0u : mant;
    const int neg = (c & f->sign_mask) != 0;
    if (!sig) { /* a zero, or a flushed subnormal */
        *vv = neg ? -0.0 : 0.0;
        *ee = x->has_floor ? x->floor : -FS_BIG;
        *ll = FS_BIG;
        return;
    }
    const int32_t exp = field ? (int32_t)field - f->bias : f->emin; /* subnormals at emin */
    const double m = (double)sig * pow2i(exp - M);
    const int b = bitlen64(sig);
    *bits = b > *bits ? b : *bits;
    *vv = neg ? -m : m;
    *ee = exp;
    *ll = exp - M + __builtin_ctz(sig);
}

/* A step's running bounds (see plan_lane). */
typedef struct plan_bnd {
    int32_t mx, mn, mn2, at;
} plan_bnd;

MX_INLINE void plan_bound(plan_bnd *b, int32_t ee, int32_t ll, int32_t at, int min2)
{
    b->mx = ee > b->mx ? ee : b->mx;
    if (min2) {
        const int32_t above = ll > b->mn ? ll : b->mn;
        b->mn2 = above < b->mn2 ? above : b->mn2;
        b->at = ll < b->mn ? at : b->at;
    }
    b->mn = ll < b->mn ? ll : b->mn;
}

/* The first K position (in step order) of step sx = ins * nsteps + st. */
MX_INLINE int64_t step_lo(const mx_simd_plan *p, int64_t sx)
{
    return sx / p->nsteps * p->ik + p->soff[sx % p->nsteps];
}

/* Lane q of steps sx0 .. sx1 - 1 into the plan, with each step's bounds (the
 * largest alignment, the lowest bit, where it is and the next lowest: those
 * two only when min2, else the lowest and 0, a weaker bound that holds too).
 * nl, pt (table or not), ef (IEEE codes or not) and min2 are constants where
 * plan_fill calls it.  Returns 0 when an operand is outside the kernel's
 * exponent range. */
MX_INLINE int plan_lane(const dctx *x, const mx_simd_plan *p, const plan_lanes *L,
                        const ptable *pt, const int64_t *kpos, const int64_t *kblk,
                        int64_t bsz, int direct, const mx_fmt *ef, int nl, int min2, int q,
                        int64_t sx0, int64_t sx1, int *bits)
{
    double *const v = L->v;
    int32_t *const e = L->e, *const l = L->l;
    const uint32_t *const codes = L->codes[q];
    const pscale *const sc = L->sc[q];
    const fside *const rf = L->rf[q];
    const int64_t k = x->k;
    const int nsteps = p->nsteps;
    const pcode *const tab = pt ? pt->t : NULL;
    const int ieee = ef != NULL; /* plan_ieee on the codes */
    for (int64_t sx = sx0; sx < sx1; sx++) {
        const int64_t ins = sx / nsteps;
        uint8_t *const spec = L->spec + ins * L->spec_stride + q;
        const int64_t lo = step_lo(p, sx), hi = lo + p->scnt[sx % nsteps];
        plan_bnd bd = {-2 * FS_BIG, 2 * FS_BIG, 2 * FS_BIG, 0};
        if (pt && direct && hi <= k) {
            /* positions in K order, none padding: runs of one scale block, its
             * scale held in registers (bsz 0: one block) */
            for (int64_t pos = lo; pos < hi;) {
                const pscale s = sc[kblk[pos]];
                const int64_t nb = bsz ? (pos / bsz + 1) * bsz : hi;
                const int64_t end = nb < hi ? nb : hi;
                for (; pos < end; pos++) {
                    double vv;
                    int32_t ee, ll;
                    /* s.slow tested here lets the compiler drop it from plan_tab */
                    if (s.slow ? !plan_code(x, pt, codes[pos], &s, &vv, &ee, &ll, spec, bits)
                               : !plan_tab(x, pt, tab, codes[pos], &s, &vv, &ee, &ll, spec,
                                           bits))
                        return 0;
                    v[pos * nl + q] = vv;
                    e[pos * nl + q] = ee;
                    l[pos * nl + q] = ll;
                    plan_bound(&bd, ee, ll, (int32_t)(pos - lo), min2);
                }
            }
        } else if (ieee && direct && hi <= k) { /* positions in K order, none padding */
            for (int64_t pos = lo; pos < hi; pos++) {
                double vv;
                int32_t ee, ll;
                plan_ieee(x, ef, codes[pos], &vv, &ee, &ll, spec, bits);
                v[pos * nl + q] = vv;
                e[pos * nl + q] = ee;
                l[pos * nl + q] = ll;
                plan_bound(&bd, ee, ll, (int32_t)(pos - lo), min2);
            }
        } else {
            for (int64_t pos = lo; pos < hi; pos++) {
                const int64_t kk = kpos[pos];
                double vv;
                int32_t ee, ll;
                if (__builtin_expect(kk < 0, 0)) {
                    PLAN_PAD(vv, ee, ll);
                } else if (pt) {
                    if (!plan_tab(x, pt, tab, codes[kk], &sc[kblk[pos]], &vv, &ee, &ll, spec,
                                  bits))
                        return 0;
                } else if (ieee) {
                    plan_ieee(x, ef, codes[kk], &vv, &ee, &ll, spec, bits);
                } else if (!plan_fside(&rf[kk], &vv, &ee, &ll, spec, bits)) {
                    return 0;
                }
                v[pos * nl + q] = vv;
                e[pos * nl + q] = ee;
                l[pos * nl + q] = ll;
                plan_bound(&bd, ee, ll, (int32_t)(pos - lo), min2);
            }
        }
        L->mx[sx * nl + q] = bd.mx;
        L->mn[sx * nl + q] = bd.mn;
        L->mn2[sx * nl + q] = min2 ? bd.mn2 : bd.mn;
        L->at[sx * nl + q] = bd.at;
    }
    return 1;
}

/* The plan's positions of nl lanes, each lane about PLAN_SPAN positions
 * (whole steps) in one pass, then the next lane: a panel's span stays in L1
 * while its lanes fill it.  The lanes from L->live on are padding columns. */
#define PLAN_SPAN 128

#if MX_HAVE_AVX512
/* The table entries of 8 codes: value, exponent and lowest set bit (int16
 * fields), and the entry's second word (slow, bits, zero bytes from bit 0). */
MX_T512 static inline void table_gather8(const ptable *pt, __m256i code, __m512d *tv,
                                          __m256i *texp, __m256i *tlow, __m256i *hi32)
{
    const __m256i c2 = _mm256_add_epi32(code, code); /* 16-byte entries */
    *tv = _mm512_i32gather_pd(c2, &pt->t[0].v, 8);
    const __m512i meta = _mm512_i32gather_epi64(_mm256_add_epi32(c2, _mm256_set1_epi32(1)),
                                                &pt->t[0].v, 8);
    const __m256i lo32 = _mm512_cvtepi64_epi32(meta);
    *hi32 = _mm512_cvtepi64_epi32(_mm512_srli_epi64(meta, 32));
    *texp = _mm256_srai_epi32(_mm256_slli_epi32(lo32, 16), 16);
    *tlow = _mm256_srai_epi32(lo32, 16);
}

/* A full B panel (8 live lanes, the lanes of the vectors) of steps sx0 .. sx1
 * - 1, table codes in K order, none padding: plan_lane's fast path for the 8
 * columns at once.  Returns 0, having written part of the span, where an
 * element or a scale needs plan_code: the caller then writes the span with
 * plan_lane. */
MX_T512 static int plan_panel(const mx_simd_plan *p, const plan_lanes *L, const ptable *pt,
                               int64_t k, int64_t bsz, int min2, int64_t sx0, int64_t sx1)
{
    const int nsteps = p->nsteps;
    const uint32_t *codes = L->codes[0]; /* lane q's row at q * k */
    const __m512i lane_k = _mm512_mullo_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0),
                                              _mm512_set1_epi64(k));
    const __m256i big = _mm256_set1_epi32(FS_BIG);
    __m256i slow = _mm256_setzero_si256();
    for (int64_t sx = sx0; sx < sx1; sx++) {
        const int64_t lo = step_lo(p, sx), hi = lo + p->scnt[sx % nsteps];
        __m256i mx = _mm256_set1_epi32(-2 * FS_BIG), mn = _mm256_set1_epi32(2 * FS_BIG);
        __m256i mn2 = mn, at = _mm256_setzero_si256();
        for (int64_t pos = lo; pos < hi;) {
            /* a run of one scale block: the 8 lanes' scales */
            const int64_t blk = bsz ? pos / bsz : 0, nb = bsz ? (blk + 1) * bsz : hi;
            const int64_t end = nb < hi ? nb : hi;
            double mul[8];
            int32_t sexp[8], low8[8], zexp[8], slow_s = 0;
            for (int q = 0; q < 8; q++) {
                const pscale *s = &L->sc[q][blk];
                mul[q] = s->mul;
                sexp[q] = s->exp;
                low8[q] = s->low;
                zexp[q] = s->zexp;
                slow_s |= s->slow;
            }
            if (slow_s)
                return 0;
            const __m512d smul = _mm512_loadu_pd(mul);
            const __m256i se = _mm256_loadu_si256((const __m256i *)sexp),
                          sl = _mm256_loadu_si256((const __m256i *)low8),
                          sz = _mm256_loadu_si256((const __m256i *)zexp);
            for (; pos < end; pos++) {
                const __m256i code = _mm512_i64gather_epi32(
                    _mm512_add_epi64(lane_k, _mm512_set1_epi64(pos)), codes, 4);
                __m512d tv;
                __m256i texp, tlow, hi32;
                table_gather8(pt, code, &tv, &texp, &tlow, &hi32);
                slow = _mm256_or_si256(slow, _mm256_and_si256(hi32, _mm256_set1_epi32(0xFF)));
                const __mmask8 z =
                    _mm256_test_epi32_mask(hi32, _mm256_set1_epi32(0xFF0000));
                const __m256i ee = _mm256_mask_blend_epi32(z, _mm256_add_epi32(texp, se), sz);
                const __m256i ll = _mm256_mask_blend_epi32(z, _mm256_add_epi32(tlow, sl), big);
                _mm512_storeu_pd(L->v + pos * 8, _mm512_mul_pd(tv, smul));
                _mm256_storeu_si256((__m256i *)(L->e + pos * 8), ee);
                _mm256_storeu_si256((__m256i *)(L->l + pos * 8), ll);
                mx = _mm256_max_epi32(mx, ee);
                if (min2) {
                    mn2 = _mm256_min_epi32(mn2, _mm256_max_epi32(ll, mn));
                    at = _mm256_mask_blend_epi32(_mm256_cmplt_epi32_mask(ll, mn), at,
                                                 _mm256_set1_epi32((int32_t)(pos - lo)));
                }
                mn = _mm256_min_epi32(mn, ll);
            }
        }
        _mm256_storeu_si256((__m256i *)(L->mx + sx * 8), mx);
        _mm256_storeu_si256((__m256i *)(L->mn + sx * 8), mn);
        _mm256_storeu_si256((__m256i *)(L->mn2 + sx * 8), min2 ? mn2 : mn);
        _mm256_storeu_si256((__m256i *)(L->at + sx * 8), at);
    }
    return _mm256_testz_si256(slow, slow);
}

/* A row of A (table codes in K order, none padding, steps and scale blocks
 * of multiples of 8 positions) of steps sx0 .. sx1 - 1, 8 positions at once;
 * each lane of the vectors keeps its positions' bounds, merged at the step's
 * end.  Returns 0 as plan_panel does. */
MX_T512 static int plan_row8(const mx_simd_plan *p, const plan_lanes *L, const ptable *pt,
                              int64_t bsz, int min2, int64_t sx0, int64_t sx1)
{
    const int nsteps = p->nsteps;
    const uint32_t *codes = L->codes[0];
    const pscale *sc = L->sc[0];
    const __m256i big = _mm256_set1_epi32(FS_BIG), ff = _mm256_set1_epi32(0xFF);
    const __m256i iota = _mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0);
    __m256i slow = _mm256_setzero_si256();
    for (int64_t sx = sx0; sx < sx1; sx++) {
        const int64_t lo = step_lo(p, sx), hi = lo + p->scnt[sx % nsteps];
        __m256i mx = _mm256_set1_epi32(-2 * FS_BIG), mn = _mm256_set1_epi32(2 * FS_BIG);
        __m256i mn2 = mn, at = _mm256_setzero_si256();
        for (int64_t pos = lo; pos < hi; pos += 8) {
            const pscale *s = &sc[bsz ? pos / bsz : 0];
            if (s->slow)
                return 0;
            const __m256i code = _mm256_loadu_si256((const __m256i *)(codes + pos));
            __m512d tv;
            __m256i texp, tlow, hi32;
            table_gather8(pt, code, &tv, &texp, &tlow, &hi32);
            slow = _mm256_or_si256(slow, _mm256_and_si256(hi32, ff));
            const __mmask8 z = _mm256_test_epi32_mask(hi32, _mm256_set1_epi32(0xFF0000));
            const __m256i ee = _mm256_mask_blend_epi32(
                z, _mm256_add_epi32(texp, _mm256_set1_epi32(s->exp)),
                _mm256_set1_epi32(s->zexp));
            const __m256i ll = _mm256_mask_blend_epi32(
                z, _mm256_add_epi32(tlow, _mm256_set1_epi32(s->low)), big);
            _mm512_storeu_pd(L->v + pos, _mm512_mul_pd(tv, _mm512_set1_pd(s->mul)));
            _mm256_storeu_si256((__m256i *)(L->e + pos), ee);
            _mm256_storeu_si256((__m256i *)(L->l + pos), ll);
            mx = _mm256_max_epi32(mx, ee);
            if (min2) { /* per lane: positions lane, lane + 8, ... of the step */
                mn2 = _mm256_min_epi32(mn2, _mm256_max_epi32(ll, mn));
                at = _mm256_mask_blend_epi32(
                    _mm256_cmplt_epi32_mask(ll, mn), at,
                    _mm256_add_epi32(iota, _mm256_set1_epi32((int32_t)(pos - lo))));
            }
            mn = _mm256_min_epi32(mn, ll);
        }
        const __m512i mx5 = _mm512_castsi256_si512(mx), mn5 = _mm512_castsi256_si512(mn);
        const int32_t gmx = _mm512_mask_reduce_max_epi32(0xFF, mx5);
        const int32_t gmn = _mm512_mask_reduce_min_epi32(0xFF, mn5);
        int32_t gat = 0, gmn2 = gmn;
        if (min2) {
            /* the first position of the lowest: the least `at` of the lanes holding it;
             * the next lowest: that lane's second, or another lane's lowest */
            const __mmask8 has = _mm256_cmpeq_epi32_mask(mn, _mm256_set1_epi32(gmn));
            gat = _mm512_mask_reduce_min_epi32(has, _mm512_castsi256_si512(at));
            const __mmask8 chosen =
                has & _mm256_cmpeq_epi32_mask(at, _mm256_set1_epi32(gat));
            const int32_t other = _mm512_mask_reduce_min_epi32(
                (__mmask16)(0xFF & ~chosen), mn5);
            const int32_t own = _mm512_mask_reduce_min_epi32(chosen, _mm512_castsi256_si512(mn2));
            gmn2 = other < own ? other : own;
        }
        L->mx[sx] = gmx;
        L->mn[sx] = gmn;
        L->mn2[sx] = gmn2;
        L->at[sx] = gat;
    }
    return _mm256_testz_si256(slow, slow);
}
#endif

MX_INLINE int plan_fill(const plan_job *jb, const plan_lanes *L, const ptable *pt,
                        const int64_t *kblk, int64_t bsz, const mx_fmt *ef, int nl, int min2,
                        int *sig_bits)
{
    const mx_simd_plan *p = jb->p;
    const int64_t nst = p->n_instr * p->nsteps, *kpos = jb->kpos;
    /* steps of ik / nsteps positions on average */
    const int64_t span = PLAN_SPAN * p->nsteps / p->ik > 1 ? PLAN_SPAN * p->nsteps / p->ik : 1;
    int bits = *sig_bits;
    for (int64_t sx0 = 0; sx0 < nst; sx0 += span) {
        const int64_t sx1 = sx0 + span < nst ? sx0 + span : nst;
#if MX_HAVE_AVX512
        /* where the span's last step ends (past K: padding positions) */
        const int64_t last_end = step_lo(p, sx1 - 1) + p->scnt[(sx1 - 1) % p->nsteps];
        /* a full panel, no padding position: 8 lanes at once (the kernel's
         * presence means AVX-512) */
        if (nl == 8 && pt && jb->direct && L->live == 8 &&
            last_end <= jb->x->k &&
            plan_panel(p, L, pt, jb->x->k, bsz, min2, sx0, sx1))
            continue;
        if (nl == 1 && pt && jb->direct && jb->steps8 && bsz % 8 == 0 &&
            last_end <= jb->x->k &&
            plan_row8(p, L, pt, bsz, min2, sx0, sx1))
            continue;
#endif
        for (int q = 0; q < L->live; q++)
            if (!plan_lane(jb->x, p, L, pt, kpos, kblk, bsz, jb->direct, ef, nl, min2, q, sx0,
                           sx1, &bits))
                return 0;
    }
    for (int q = L->live; q < nl; q++) { /* padding columns */
        for (int64_t pos = 0; pos < p->kp; pos++)
            PLAN_PAD(L->v[pos * nl + q], L->e[pos * nl + q], L->l[pos * nl + q]);
        for (int64_t sx = 0; sx < nst; sx++) {
            L->mx[sx * nl + q] = -2 * FS_BIG;
            L->mn[sx * nl + q] = L->mn2[sx * nl + q] = 2 * FS_BIG;
            L->at[sx * nl + q] = 0;
        }
    }
    if (pt) /* the fast path's significands (plan_tab) */
        bits = pt->bits_hi > bits ? pt->bits_hi : bits;
    *sig_bits = bits;
    return 1;
}

/* plan_fill with its constants (one copy of the loop each): a table, an
 * IEEE-style format's codes, or decode_row's rows; nl a literal at each call */
static inline int plan_fill_cases(const plan_job *jb, const plan_lanes *L, const ptable *pt,
                                  const int64_t *kblk, int64_t bsz, const mx_fmt *ef,
                                  const int nl, int *sig_bits)
{
    if (pt)
        return jb->min2 ? plan_fill(jb, L, pt, kblk, bsz, NULL, nl, 1, sig_bits)
                        : plan_fill(jb, L, pt, kblk, bsz, NULL, nl, 0, sig_bits);
    if (ef)
        return jb->min2 ? plan_fill(jb, L, NULL, NULL, 0, ef, nl, 1, sig_bits)
                        : plan_fill(jb, L, NULL, NULL, 0, ef, nl, 0, sig_bits);
    return jb->min2 ? plan_fill(jb, L, NULL, NULL, 0, NULL, nl, 1, sig_bits)
                    : plan_fill(jb, L, NULL, NULL, 0, NULL, nl, 0, sig_bits);
}

static int plan_fill_a(const plan_job *jb, const plan_lanes *L, int *sig_bits)
{
    return plan_fill_cases(jb, L, jb->tab_a, jb->kblk_a,
                           jb->x->a_scales ? jb->x->a_block : 0,
                           jb->ieee_a ? jb->x->af : NULL, 1, sig_bits);
}

static int plan_fill_b(const plan_job *jb, const plan_lanes *L, int *sig_bits)
{
    return plan_fill_cases(jb, L, jb->tab_b, jb->kblk_b,
                           jb->x->b_scales ? jb->x->b_block : 0,
                           jb->ieee_b ? jb->x->bf : NULL, 8, sig_bits);
}

static void plan_worker(void *arg)
{
    plan_job *jb = arg;
    const dctx *x = jb->x;
    const mx_simd_plan *p = jb->p;
    const int64_t kp = p->kp, np = p->np, nst = p->n_instr * p->nsteps, k = x->k;
    const int decode = (!jb->tab_a && !jb->ieee_a) || (!jb->tab_b && !jb->ieee_b);
    const int64_t nba = x->a_scales ? k / x->a_block : 1, nbb = x->b_scales ? k / x->b_block : 1;
    const int64_t nb = nba > nbb ? nba : nbb;
    side *rs = decode ? malloc(sizeof(side) * (size_t)(k + 1)) : NULL;
    fside *rf = decode ? malloc(sizeof(fside) * (size_t)(8 * k + 1)) : NULL;
    pscale *sc = malloc(sizeof(pscale) * (size_t)(8 * nb));
    if ((decode && (!rs || !rf)) || !sc) {
        jb->ok = 0;
        free(rs);
        free(rf);
        free(sc);
        return;
    }
    /* the plan's arrays are written through these (the plan itself is const) */
    plan_lanes L;
    for (int64_t r = jb->a0; r < jb->a1 && jb->ok; r++) {
        L = (plan_lanes){1, {NULL}, {NULL}, {NULL}, (double *)p->va + r * kp,
                         (int32_t *)p->ea + r * kp, (int32_t *)p->la + r * kp,
                         (int32_t *)p->amax_e + r * nst, (int32_t *)p->amin_l + r * nst,
                         (int32_t *)p->amin2_l + r * nst, (int32_t *)p->amin_at + r * nst,
                         (uint8_t *)p->row_spec + r * p->n_instr, 1};
        if (jb->tab_a) {
            plan_scales(x, 0, r, jb->tab_a, sc);
            L.codes[0] = x->a_codes + r * k;
            L.sc[0] = sc;
            jb->ok = plan_fill_a(jb, &L, &jb->sig_a);
        } else if (jb->ieee_a) {
            L.codes[0] = x->a_codes + r * k;
            jb->ok = plan_fill_a(jb, &L, &jb->sig_a);
        } else {
            decode_row(x, 0, r, rs, rf);
            L.rf[0] = rf;
            jb->ok = plan_fill_a(jb, &L, &jb->sig_a);
        }
    }
    for (int64_t pn = jb->p0; pn < jb->p1 && jb->ok; pn++) {
        const int64_t j0 = pn * 8, live = x->n - j0 < 8 ? x->n - j0 : 8;
        L = (plan_lanes){(int)live, {NULL}, {NULL}, {NULL}, (double *)p->vb + pn * kp * 8,
                         (int32_t *)p->eb + pn * kp * 8, (int32_t *)p->lb + pn * kp * 8,
                         (int32_t *)p->bmax_e + pn * nst * 8, (int32_t *)p->bmin_l + pn * nst * 8,
                         (int32_t *)p->bmin2_l + pn * nst * 8,
                         (int32_t *)p->bmin_at + pn * nst * 8, (uint8_t *)p->col_spec + j0, np};
        for (int64_t q = 0; q < live; q++) {
            if (jb->tab_b) {
                plan_scales(x, 1, j0 + q, jb->tab_b, sc + q * nb);
                L.codes[q] = x->b_codes + (j0 + q) * k;
                L.sc[q] = sc + q * nb;
            } else if (jb->ieee_b) {
                L.codes[q] = x->b_codes + (j0 + q) * k;
            } else {
                decode_row(x, 1, j0 + q, rs, rf + q * k);
                L.rf[q] = rf + q * k;
            }
        }
        jb->ok = plan_fill_b(jb, &L, &jb->sig_b);
    }
    free(rs);
    free(rf);
    free(sc);
}

/* An IEEE-style float format (sign bit, IEEE specials, subnormals) whose
 * every finite code is inside the kernel's exponent range and whose
 * significands fit 31 bits: plan_ieee decodes it. */
static int ieee_plain(const mx_fmt *f)
{
    return !f->is_int && f->is_signed && f->specials == MXEMU_SPECIALS_IEEE && f->subnormals &&
           f->exp_bits >= 1 && f->man_bits <= 30 && f->bits <= 32 &&
           f->emin - f->man_bits >= -400 && f->emax <= 400;
}

/* Fills *p (its arrays in one allocation, *mem) when the kernel covers the
 * call: the fast step's configurations, rounding modes an
 * integer rounding has, a register format holding every output value, sums
 * that binary64 holds exactly, and operand exponents far inside binary64's
 * range.  Returns 1 when it does, 0 otherwise (or when out of memory).  The
 * operands are decoded here, a row at a time, straight into the plan. */
/* IEEE binary32 itself: 8 exponent bits, 23 mantissa bits, bias 127, Inf and
 * NaN, subnormals. */
static int fmt_is_binary32(const mx_fmt *f)
{
    return !f->is_int && f->exp_bits == 8 && f->man_bits == 23 && f->bias == 127 &&
           f->is_signed && f->specials == MXEMU_SPECIALS_IEEE && f->subnormals;
}

static int simd_plan_build(const dctx *x, mx_simd_plan *p, void **mem, void **mem32,
                           int64_t threads)
{
    *mem = NULL;
    *mem32 = NULL;
    const mxemu_accum_config *c = &x->c;
    /* SCALE_BLOCKS: the blocks of an instruction play the steps' part */
    const int blocks = c->k_split == MXEMU_ACC_KSPLIT_SCALE_BLOCKS;
    /* one long unbounded step: chunks of SIMD_CHUNK terms, each summed exactly */
    const int chunked = !blocks && !x->unit.bounded && x->nsteps == 1 && x->ik > SIMD_CHUNK &&
                        c->c_entry == MXEMU_ACC_C_INSIDE;
    const int64_t seg = blocks ? x->block : SIMD_CHUNK;
    const int nsb = blocks || chunked ? (int)((x->ik + seg - 1) / seg) : x->nsteps;
    /* scale blocks in the kernel: max alignment and a bounded F only (the
     * kernel cuts every block sum at E - F) */
    if (!(x->fast_ok || (blocks && x->fast_blocks && c->dropped == MXEMU_ACC_DROPPED_TRUNCATE &&
                         c->alignment == MXEMU_ACC_ALIGN_MAX && x->unit.bounded &&
                         c->carry_bits < 0 && nsb <= MX_SIMD_MAX_BLOCKS &&
                         x->unit.F + 2 + bitlen64((uint64_t)nsb + 2) <= 53)) ||
        x->diag || !simd_env_enabled() || !mx_simd_available())
        return 0;
    const int after = c->c_entry == MXEMU_ACC_C_AFTER;
    const int rc_out = simd_rc(x->out_rc.mode), rc_step = simd_rc(x->step_rc.mode);
    if (rc_out < 0 || ((x->nsteps > 1 || after) && rc_step < 0))
        return 0;
    if (x->reg.man_bits < x->out.man_bits || x->reg.emin > x->out.emin ||
        x->reg.emax < x->out.emax)
        return 0;
    const mx_fmt *fs[2] = {&x->out, &x->step};
    for (int u = 0; u < 2; u++)
        if (fs[u]->emin < -900 || fs[u]->emax > 900)
            return 0;
    int max_terms = 0;
    for (int st = 0; st < x->nsteps; st++)
        max_terms = x->scnt[st] > max_terms ? x->scnt[st] : max_terms;
    if (!blocks && x->unit.bounded && x->unit.F + 4 + bitlen64((uint64_t)max_terms + 1) > 53)
        return 0;
    /* the arrays */
    const int64_t m = x->m, n = x->n, ik = x->ik, ni = x->n_instr, kp = ni * ik;
    const int64_t np = (n + 7) / 8 * 8, nst = ni * nsb;
    const size_t bytes = (size_t)(m * kp + kp * np) * (sizeof(double) + 2 * sizeof(int32_t)) +
                         (size_t)(m * nst + np * nst) * 4 * sizeof(int32_t) +
                         (size_t)(2 * nsb) * sizeof(int32_t) + (size_t)(m * ni + ni * np) + 64;
    char *buf = malloc(bytes);
    if (!buf)
        return 0;
    double *va = (double *)buf, *vb = va + m * kp;
    int32_t *ea = (int32_t *)(vb + kp * np), *la = ea + m * kp, *eb = la + m * kp,
            *lb = eb + kp * np;
    int32_t *amax = lb + kp * np, *amin = amax + m * nst, *bmax = amin + m * nst,
            *bmin = bmax + np * nst;
    int32_t *amin2 = bmin + np * nst, *amin_at = amin2 + m * nst, *bmin2 = amin_at + m * nst,
            *bmin_at = bmin2 + np * nst;
    int32_t *soff = bmin_at + np * nst, *scnt = soff + nsb;
    uint8_t *rsp = (uint8_t *)(scnt + nsb), *csp = rsp + m * ni;
    memset(rsp, 0, (size_t)(m * ni + ni * np));
    int64_t tiled = 0; /* the steps tile each instruction in order (plan_fill walks them) */
    for (int b = 0; b < nsb; b++) {
        soff[b] = blocks || chunked ? (int32_t)(b * seg) : x->soff[b];
        scnt[b] = blocks || chunked
                      ? (int32_t)(b * seg + seg <= x->ik ? seg : x->ik - b * seg)
                      : x->scnt[b];
        tiled = soff[b] == tiled && scnt[b] >= 0 ? tiled + scnt[b] : -1;
    }
    if (tiled != ik) {
        free(buf);
        return 0;
    }
    p->amax_e = amax;
    p->amin_l = amin;
    p->bmax_e = bmax;
    p->bmin_l = bmin;
    p->amin2_l = amin2;
    p->bmin2_l = bmin2;
    p->amin_at = amin_at;
    p->bmin_at = bmin_at;
    p->kp = kp;
    p->np = np;
    p->ik = ik;
    p->n_instr = ni;
    p->nsteps = nsb;
    p->soff = soff;
    p->scnt = scnt;
    p->va = va;
    p->ea = ea;
    p->la = la;
    p->vb = vb;
    p->eb = eb;
    p->lb = lb;
    p->row_spec = rsp;
    p->col_spec = csp;
    /* the operands, A's rows and B's columns split across the threads */
    const int64_t nth = threads < (m + np) / 64 + 1 ? threads : (m + np) / 64 + 1;
    plan_job *jobs = malloc(sizeof(plan_job) * (size_t)nth);
    /* tables of the operands' codes (formats of at most 16 bits: those with an
     * unpack table) pay when there are more elements than codes; one for both
     * when A and B share the format */
    const int same = x->ta && x->ta == x->tb;
    ptable pta = {0}, ptb = {0};
    const int use_a = x->ta && (same ? m + n : m) * x->k >= (4ll << x->af->bits) &&
                      ptable_build(x, x->af, x->ta, &pta);
    const int use_b = same ? use_a
                           : x->tb && n * x->k >= (4ll << x->bf->bits) &&
                                 ptable_build(x, x->bf, x->tb, &ptb);
    int64_t *kpos = malloc(sizeof(int64_t) * (size_t)(3 * kp + 1));
    if (!jobs || !kpos) {
        free(jobs);
        free(pta.t);
        free(ptb.t);
        free(kpos);
        free(buf);
        return 0;
    }
    int64_t *kblk_a = kpos + kp, *kblk_b = kblk_a + kp;
    for (int64_t pos = 0; pos < kp; pos++) { /* K in step order, as plan_row walks it */
        const int64_t kk = (pos / ik) * ik + x->perm[pos % ik];
        kpos[pos] = kk < x->k ? kk : -1;
        kblk_a[pos] = x->a_scales && kk < x->k ? kk / x->a_block : 0;
        kblk_b[pos] = x->b_scales && kk < x->k ? kk / x->b_block : 0;
    }
    /* A's rows, then B's panels of 8 columns (a panel weighs 8 rows) */
    const int min2 = x->unit.bounded && !blocks && !chunked;
    int direct = 1;
    for (int64_t u = 0; u < ik; u++)
        direct &= x->perm[u] == u;
    int steps8 = 1;
    for (int b = 0; b < nsb; b++)
        steps8 &= scnt[b] % 8 == 0;
    const int ieee_a = !use_a && !x->a_scales && ieee_plain(x->af);
    const int ieee_b = !use_b && !x->b_scales && ieee_plain(x->bf);
    for (int64_t t = 0; t < nth; t++) {
        const int64_t u0 = (m + np) * t / nth, u1 = (m + np) * (t + 1) / nth;
        jobs[t] = (plan_job){x, p, use_a ? &pta : NULL, use_b ? (same ? &pta : &ptb) : NULL,
                             kpos, kblk_a, kblk_b, u0 < m ? u0 : m, u1 < m ? u1 : m,
                             u0 > m ? (u0 - m + 7) / 8 : 0, u1 > m ? (u1 - m + 7) / 8 : 0,
                             min2, direct, ieee_a, ieee_b, steps8, 1, 0, 0};
    }
    run_parallel(plan_worker, jobs, sizeof(plan_job), nth);
    free(pta.t);
    free(ptb.t);
    free(kpos);
    int ok = 1, sig_a = 0, sig_b = 0;
    for (int64_t t = 0; t < nth; t++) {
        ok &= jobs[t].ok;
        sig_a = jobs[t].sig_a > sig_a ? jobs[t].sig_a : sig_a;
        sig_b = jobs[t].sig_b > sig_b ? jobs[t].sig_b : sig_b;
    }
    free(jobs);
    if (!ok || sig_a + sig_b > 53) {
        free(buf);
        return 0;
    }
    p->scale_blocks = blocks;
    p->chunked = chunked;
    p->bounded = x->unit.bounded;
    p->F = x->unit.F;
    p->c_after = after;
    int am = x->cf.man_bits; /* the accumulator holds C, then step and output results */
    const mx_fmt *accf[3] = {&x->reg, &x->out, &x->step};
    for (int u = 0; u < 3; u++)
        am = accf[u]->man_bits > am ? accf[u]->man_bits : am;
    p->acc_man = am;
    p->zero_align = x->zero_align;
    p->step = (mx_simd_fmt){x->step.man_bits, x->step.emin, x->step.emax, rc_step};
    p->out = (mx_simd_fmt){x->out.man_bits, x->out.emin, x->out.emax, rc_out};
    p->fma32 = 0;
    p->va32 = p->vb32 = NULL;
    if (x->ik == 1 && x->nsteps == 1 && !blocks && !chunked && !x->unit.bounded && !after &&
        fmt_is_binary32(&x->out) && fmt_is_binary32(&x->reg) && fmt_is_binary32(&x->cf) &&
        mx_simd_fma32_available()) {
        /* operands as binary32, when every one is exactly a binary32 */
        float *f32 = malloc(sizeof(float) * (size_t)(m * kp + kp * np));
        int exact = f32 != NULL;
        for (int64_t u = 0; exact && u < m * kp + kp * np; u++) {
            const double v = u < m * kp ? va[u] : vb[u - m * kp];
            f32[u] = (float)v;
            exact = (double)f32[u] == v;
        }
        if (exact) {
            p->fma32 = 1;
            p->va32 = f32;
            p->vb32 = f32 + m * kp;
            *mem32 = f32;
        } else {
            free(f32);
        }
    }
    *mem = buf;
    return 1;
}

/* The GEMM (diag = 0: every output (i, j) of an M x N result) or the dot batch
 * (diag = 1, m == n: output i is the dot of A's row i with B's row i, so C, D
 * and the flags hold m values). */
static int32_t run_model(const mxemu_accum_config *cfg, int64_t m, int64_t n, int64_t k,
                         const mxemu_format *a_fmt, const uint32_t *a_codes,
                         const mxemu_format *b_fmt, const uint32_t *b_codes,
                         const mxemu_format *scale_fmt, const uint8_t *a_scales,
                         int32_t a_block, const uint8_t *b_scales, int32_t b_block,
                         const mxemu_format *c_fmt, const uint32_t *c_codes,
                         const uint32_t *rand_bits, int64_t rand_per, int32_t threads,
                         uint32_t *d_codes, uint8_t *flags, int diag)
{
    if (!cfg || !a_fmt || !b_fmt || !c_fmt || !d_codes || !flags)
        return MXEMU_ERR_NULL;
    if (cfg->struct_size != (uint32_t)sizeof(mxemu_accum_config) ||
        cfg->version != MXEMU_ACCUM_CONFIG_VERSION)
        return MXEMU_ERR_VERSION;
    if (m < 0 || n < 0 || k < 0 || m > (1ll << 40) || n > (1ll << 40) || k > (1ll << 30))
        return MXEMU_ERR_LENGTH;
    if ((m * k > 0 && !a_codes) || (n * k > 0 && !b_codes))
        return MXEMU_ERR_NULL;
    dctx x;
    memset(&x, 0, sizeof x);
    x.c = *cfg;
    const mxemu_accum_config *c = cfg;
    /* 1. the enums and ints of the config */
    if (!IN(c->instruction_k, 0, 1 << 24) || !IN(c->terms_per_step, 0, 1 << 24) ||
        !IN(c->k_split, 0, 2) || !IN(c->interleave, 1, 1 << 24) ||
        !IN(c->block_terms, 0, 1 << 24) || !IN(c->has_product_format, 0, 1) ||
        !IN(c->product_rounding, MXEMU_RNE, MXEMU_SR) || !IN(c->product_exponent, 0, 1) ||
        !IN(c->alignment, 0, 2) || !IN(c->anchor_exp, -(1 << 20), 1 << 20) ||
        !IN(c->has_align_floor, 0, 1) || !IN(c->align_floor, -(1 << 20), 1 << 20) ||
        !IN(c->frac_bits, -1, 1 << 16) || !IN(c->carry_bits, -1, 1 << 16) ||
        !IN(c->dropped, 0, 3) || !IN(c->c_entry, 0, 1) ||
        !IN(c->rounding, MXEMU_RNE, MXEMU_SR) || !IN(c->has_step_format, 0, 1) ||
        !IN(c->step_rounding, -1, MXEMU_SR) || !IN(c->sr_bits, 1, 32) ||
        !IN(c->input_subnormals, 0, 1) || !IN(c->output_subnormals, 0, 1) ||
        !IN(c->nan, 0, 1) || !IN(c->overflow, 0, 2) || !IN(c->zero_sign, 0, 1))
        return MXEMU_ERR_ARG;
    if (c->instruction_k && c->terms_per_step && c->instruction_k % c->terms_per_step)
        return MXEMU_ERR_ARG;
    if (c->k_split == MXEMU_ACC_KSPLIT_INTERLEAVED && !c->instruction_k)
        return MXEMU_ERR_ARG;
    if (c->carry_bits >= 0 && c->frac_bits < 0)
        return MXEMU_ERR_ARG;
    if (c->c_entry == MXEMU_ACC_C_AFTER && c->alignment == MXEMU_ACC_ALIGN_PRODUCTS_THEN_C)
        return MXEMU_ERR_ARG;
    /* 2. the formats */
    mx_fmt af, bf, sf;
    int32_t st;
    if ((st = mx_fmt_init(&af, a_fmt)) != MXEMU_OK || (st = mx_fmt_init(&bf, b_fmt)) != MXEMU_OK)
        return st;
    const int scaled = a_scales != NULL || b_scales != NULL;
    if (scaled) {
        if (!scale_fmt)
            return MXEMU_ERR_NULL;
        if ((st = mx_fmt_init(&sf, scale_fmt)) != MXEMU_OK)
            return st;
        if (sf.bits > 8)
            return MXEMU_ERR_FORMAT;
    }
    if ((a_scales && (a_block < 1 || k % a_block)) || (b_scales && (b_block < 1 || k % b_block)))
        return MXEMU_ERR_LENGTH;
    if ((st = result_fmt(&x.out, &c->output_format)) != MXEMU_OK ||
        (st = result_fmt(&x.reg, &c->register_format)) != MXEMU_OK ||
        (st = mx_fmt_init(&x.cf, c_fmt)) != MXEMU_OK)
        return st;
    if (c->has_step_format) {
        if ((st = result_fmt(&x.step, &c->step_format)) != MXEMU_OK)
            return st;
    } else {
        x.step = x.out;
    }
    if (c->has_product_format && (st = result_fmt(&x.pf, &c->product_format)) != MXEMU_OK)
        return st;
    if (x.cf.bits > 32)
        return MXEMU_ERR_FORMAT;
    const int32_t step_mode = c->step_rounding >= 0 ? c->step_rounding : c->rounding;
    if ((st = rc_of(&x.out, c->rounding, c->overflow, c->sr_bits, &x.out_rc)) != MXEMU_OK ||
        (st = rc_of(&x.step, step_mode, c->overflow, c->sr_bits, &x.step_rc)) != MXEMU_OK ||
        (c->has_product_format &&
         (st = rc_of(&x.pf, c->product_rounding, c->overflow, c->sr_bits, &x.prod_rc)) !=
             MXEMU_OK))
        return st;
    x.same_out_reg = same_desc(&c->output_format, &c->register_format);
    x.same_step_reg = same_desc(c->has_step_format ? &c->step_format : &c->output_format,
                                &c->register_format);
    /* 3. stochastic rounding needs the random words */
    const int product_sr = c->has_product_format && c->product_rounding == MXEMU_SR;
    const int any_sr = c->rounding == MXEMU_SR || step_mode == MXEMU_SR || product_sr;
    if (rand_per < 0 || rand_per > (1ll << 40))
        return MXEMU_ERR_LENGTH;
    if (any_sr && !rand_bits)
        return MXEMU_ERR_NULL;
    /* 4. block length, instruction length */
    x.block = c->block_terms ? c->block_terms : (a_scales ? a_block : (b_scales ? b_block : 0));
    if (c->k_split == MXEMU_ACC_KSPLIT_SCALE_BLOCKS) {
        if (x.block < 1)
            return MXEMU_ERR_ARG;
        if (!c->block_terms && a_scales && b_scales && a_block != b_block)
            return MXEMU_ERR_ARG;
    }
    x.ik = c->instruction_k ? c->instruction_k : (k > 0 ? k : 1);
    x.n_instr = k > 0 ? (k + x.ik - 1) / x.ik : 1;
    x.has_floor = c->has_align_floor;
    x.floor = c->has_align_floor ? c->align_floor : 0;
    x.flush = c->input_subnormals == MXEMU_ACC_SUBNORMALS_FLUSH;
    x.unit.bounded = c->frac_bits >= 0;
    x.unit.F = c->frac_bits;
    x.unit.has_carry = c->carry_bits >= 0;
    x.unit.carry = c->carry_bits;
    x.unit.alignment = c->alignment;
    x.unit.anchor = c->anchor_exp;
    x.unit.dropped = c->dropped;
    x.exact.alignment = MXEMU_ACC_ALIGN_MAX;
    x.exact.dropped = MXEMU_ACC_DROPPED_TRUNCATE;
    /* 4b. the fast steps hold each operand's significand (element times
     * scale) in 32 bits; wider ones (an int of 30 fraction bits times a scale
     * with significand bits) take the general path, their products over 63
     * bits as wide terms */
    const int sig_a = fmt_sig_bits(&af) + (a_scales ? fmt_sig_bits(&sf) : 0);
    const int sig_b = fmt_sig_bits(&bf) + (b_scales ? fmt_sig_bits(&sf) : 0);
    const int narrow = sig_a <= 32 && sig_b <= 32;
    /* 5. accumulator capacity: the widest exact sum of a step, in bits.  Every
     * finite term lies in [2^lo, 2^hi) (products: the sums of their factors'
     * bounds; C, step and product results: their formats'), a sum of up to
     * ik + 1 terms adds bitlen(ik + 2) bits, and the grid 2^q of a step is
     *   unbounded F: q >= lo, so the sum spans at most hi - lo bits;
     *   max alignment: q = E - F with E at or above each term's alignment
     *     exponent, which is at most 4 below its top: F + 4 bits;
     *   anchor: q = anchor_exp - F: hi - anchor_exp + F bits.
     * Valid configs stay near 2^20 bits (anchor_exp -2^20, frac_bits 2^16). */
    {
        const mx_fmt *rf[5] = {&x.out, &x.reg, &x.cf, &x.step,
                               c->has_product_format ? &x.pf : &x.out};
        const mx_fmt *ops[4] = {&af, &bf, &sf, &sf};
        const int nops = a_scales && b_scales ? 4 : scaled ? 3 : 2;
        int64_t hi = 0, lo = 0;
        for (int i = 0; i < nops; i++) {
            hi += fmt_top(ops[i]);
            lo += fmt_lsb(ops[i]);
        }
        for (int i = 0; i < 5; i++) {
            hi = fmt_top(rf[i]) > hi ? fmt_top(rf[i]) : hi;
            lo = fmt_lsb(rf[i]) < lo ? fmt_lsb(rf[i]) : lo;
        }
        int64_t width = hi - lo;
        if (x.unit.bounded) {
            const int64_t span = c->alignment == MXEMU_ACC_ALIGN_ANCHOR
                                     ? hi - (int64_t)c->anchor_exp + c->frac_bits
                                     : (int64_t)c->frac_bits + 4;
            width = span > width ? span : width;
        }
        width += bitlen64((uint64_t)(c->instruction_k ? c->instruction_k : k) + 2) + 64;
        if (width > (1 << 24)) /* not reached by valid descriptors: a sanity bound */
            return MXEMU_ERR_ARG;
        x.limbs = (int32_t)(width / 64 + 4);
    }
    /* 6. codes in range (before anything is written); the bits above each mask
     * OR-ed together, a loop the compiler vectorises */
    uint32_t over = 0;
    for (int64_t i = 0; i < m * k; i++)
        over |= a_codes[i] & ~af.code_mask;
    for (int64_t i = 0; i < n * k; i++)
        over |= b_codes[i] & ~bf.code_mask;
    const int64_t n_out = diag ? m : m * n;
    if (c_codes)
        for (int64_t i = 0; i < n_out; i++)
            over |= c_codes[i] & ~x.cf.code_mask;
    if (over)
        return MXEMU_ERR_CODE_RANGE;
    if (a_scales)
        for (int64_t i = 0; i < m * (k / a_block); i++)
            if (a_scales[i] > sf.code_mask)
                return MXEMU_ERR_CODE_RANGE;
    if (b_scales)
        for (int64_t i = 0; i < n * (k / b_block); i++)
            if (b_scales[i] > sf.code_mask)
                return MXEMU_ERR_CODE_RANGE;
    if (m == 0 || n == 0)
        return MXEMU_OK;
    /* 7. the step layout: step st takes products perm[soff[st] .. soff[st] + scnt[st]) */
    const int ik = (int)x.ik;
    int32_t *lay = malloc(sizeof(int32_t) * (size_t)(3 * ik + 3));
    if (!lay)
        return MXEMU_ERR_ALLOC;
    x.perm = lay;
    x.soff = lay + ik;
    x.scnt = lay + 2 * ik + 1;
    {
        const int t = c->terms_per_step > 0 && c->terms_per_step < ik ? c->terms_per_step : ik;
        if (c->k_split == MXEMU_ACC_KSPLIT_INTERLEAVED) {
            const int ns = ik / t, g = c->interleave;
            int pos = 0;
            for (int st2 = 0; st2 < ns; st2++) {
                x.soff[st2] = pos;
                for (int q = 0; q < ik; q++)
                    if ((q / g) % ns == st2)
                        x.perm[pos++] = q;
                x.scnt[st2] = pos - x.soff[st2];
            }
            x.nsteps = ns;
        } else {
            int ns = 0;
            for (int q0 = 0; q0 < ik; q0 += t) {
                x.soff[ns] = q0;
                x.scnt[ns] = q0 + t < ik ? t : ik - q0;
                ns++;
            }
            for (int q = 0; q < ik; q++)
                x.perm[q] = q;
            x.nsteps = ns;
        }
    }
    x.fast_ok = !c->has_product_format && c->product_exponent == MXEMU_ACC_PEXP_OPERANDS &&
                c->alignment == MXEMU_ACC_ALIGN_MAX && c->dropped == MXEMU_ACC_DROPPED_TRUNCATE &&
                c->carry_bits < 0 && c->k_split != MXEMU_ACC_KSPLIT_SCALE_BLOCKS && narrow;
    x.fast_blocks = c->k_split == MXEMU_ACC_KSPLIT_SCALE_BLOCKS && !c->has_product_format &&
                    narrow;
    x.m = m;
    x.n = n;
    x.k = k;
    x.diag = diag;
    x.rand = any_sr ? rand_bits : NULL;
    x.rand_per = rand_per;
    x.pre_products = product_sr;
    x.c_codes = c_codes;
    x.d = d_codes;
    x.flags = flags;
    x.zero_align = x.has_floor ? x.floor : -FS_BIG;
    /* 8. the operands, decoded once with their scales folded in: straight into
     * the vectorised kernel's plan when it applies, else as sides */
    /* one table when A and B share the format (64K codes each for FP16) */
    ucode *ta = unpack_table(&af);
    ucode *tb = !memcmp(&af, &bf, sizeof af) ? ta : unpack_table(&bf);
    ucode *ts = scaled ? unpack_table(&sf) : NULL;
    x.af = &af;
    x.bf = &bf;
    x.sf = &sf;
    x.ta = ta;
    x.tb = tb;
    x.ts = ts;
    x.a_codes = a_codes;
    x.b_codes = b_codes;
    x.a_scales = a_scales;
    x.b_scales = b_scales;
    x.a_block = a_block;
    x.b_block = b_block;
    int64_t nth = threads > 0 ? threads : env_threads();
    nth = nth > m ? m : nth;
    nth = nth < 1 ? 1 : nth > MX_MAX_THREADS ? MX_MAX_THREADS : nth;
    mx_simd_plan plan;
    void *plan_mem = NULL, *plan_mem32 = NULL, *plan_mem_i32 = NULL;
    side *as = NULL, *bs = NULL;
    fside *fa = NULL, *fb = NULL;
    const int fast = x.fast_ok || x.fast_blocks;
    st = MXEMU_OK;
    if (simd_plan_build(&x, &plan, &plan_mem, &plan_mem32, nth)) {
        x.simd = &plan;
        plan_mem_i32 = mx_simd_i32_prepare(&plan, m);
    } else {
        as = malloc(sizeof(side) * (size_t)(m * k + 1));
        bs = malloc(sizeof(side) * (size_t)(n * k + 1));
        if (fast) {
            fa = malloc(sizeof(fside) * (size_t)(m * k + 1));
            fb = malloc(sizeof(fside) * (size_t)(n * k + 1));
        }
        if (!as || !bs || (fast && (!fa || !fb))) {
            st = MXEMU_ERR_ALLOC;
        } else {
            for (int64_t i = 0; i < m; i++)
                decode_row(&x, 0, i, as + i * k, fast ? fa + i * k : NULL);
            for (int64_t j = 0; j < n; j++)
                decode_row(&x, 1, j, bs + j * k, fast ? fb + j * k : NULL);
            x.as = as;
            x.bs = bs;
            x.fa = fa;
            x.fb = fb;
        }
    }
    /* 9. rows split across the threads */
    if (st == MXEMU_OK) {
        row_job *w = malloc(sizeof(row_job) * (size_t)nth);
        if (!w) {
            st = MXEMU_ERR_ALLOC;
        } else {
            for (int64_t t = 0; t < nth; t++)
                w[t] = (row_job){&x, m * t / nth, m * (t + 1) / nth, MXEMU_OK};
            run_parallel(row_worker, w, sizeof(row_job), nth);
            for (int64_t t = 0; t < nth; t++)
                if (w[t].status != MXEMU_OK && st == MXEMU_OK)
                    st = w[t].status;
            free(w);
        }
    }
    /* a failed run leaves nothing half computed behind: D and the flags all zero */
    if (st != MXEMU_OK) {
        memset(d_codes, 0, sizeof(uint32_t) * (size_t)n_out);
        memset(flags, 0, (size_t)n_out);
    }
    free(plan_mem);
    free(plan_mem32);
    free(plan_mem_i32);
    free(as);
    free(bs);
    free(fa);
    free(fb);
    if (tb != ta)
        free(tb);
    free(ta);
    free(ts);
    free(lay);
    return st;
}

int32_t mxemu_gemm_ex(const mxemu_accum_config *cfg, int64_t m, int64_t n, int64_t k,
                      const mxemu_format *a_fmt, const uint32_t *a_codes,
                      const mxemu_format *b_fmt, const uint32_t *b_codes,
                      const mxemu_format *scale_fmt, const uint8_t *a_scales, int32_t a_block,
                      const uint8_t *b_scales, int32_t b_block, const mxemu_format *c_fmt,
                      const uint32_t *c_codes, const uint32_t *rand_bits,
                      int64_t rand_per_output, int32_t threads, uint32_t *d_codes,
                      uint8_t *flags)
{
    return run_model(cfg, m, n, k, a_fmt, a_codes, b_fmt, b_codes, scale_fmt, a_scales,
                     a_block, b_scales, b_block, c_fmt, c_codes, rand_bits, rand_per_output,
                     threads, d_codes, flags, 0);
}

int32_t mxemu_gemm(const mxemu_accum_config *cfg, int64_t m, int64_t n, int64_t k,
                   const mxemu_format *a_fmt, const uint32_t *a_codes,
                   const mxemu_format *b_fmt, const uint32_t *b_codes,
                   const mxemu_format *scale_fmt, const uint8_t *a_scales, int32_t a_block,
                   const uint8_t *b_scales, int32_t b_block, const mxemu_format *c_fmt,
                   const uint32_t *c_codes, int32_t threads, uint32_t *d_codes, uint8_t *flags)
{
    return run_model(cfg, m, n, k, a_fmt, a_codes, b_fmt, b_codes, scale_fmt, a_scales,
                     a_block, b_scales, b_block, c_fmt, c_codes, NULL, 0, threads, d_codes,
                     flags, 0);
}

int32_t mxemu_dot_batch_ex(const mxemu_accum_config *cfg, int64_t p, int64_t k,
                           const mxemu_format *a_fmt, const uint32_t *a_codes,
                           const mxemu_format *b_fmt, const uint32_t *b_codes,
                           const mxemu_format *scale_fmt, const uint8_t *a_scales,
                           int32_t a_block, const uint8_t *b_scales, int32_t b_block,
                           const mxemu_format *c_fmt, const uint32_t *c_codes,
                           const uint32_t *rand_bits, int64_t rand_per_output, int32_t threads,
                           uint32_t *d_codes, uint8_t *flags)
{
    return run_model(cfg, p, p, k, a_fmt, a_codes, b_fmt, b_codes, scale_fmt, a_scales,
                     a_block, b_scales, b_block, c_fmt, c_codes, rand_bits, rand_per_output,
                     threads, d_codes, flags, 1);
}

int32_t mxemu_dot_batch(const mxemu_accum_config *cfg, int64_t p, int64_t k,
                        const mxemu_format *a_fmt, const uint32_t *a_codes,
                        const mxemu_format *b_fmt, const uint32_t *b_codes,
                        const mxemu_format *scale_fmt, const uint8_t *a_scales, int32_t a_block,
                        const uint8_t *b_scales, int32_t b_block, const mxemu_format *c_fmt,
                        const uint32_t *c_codes, int32_t threads, uint32_t *d_codes,
                        uint8_t *flags)
{
    return run_model(cfg, p, p, k, a_fmt, a_codes, b_fmt, b_codes, scale_fmt, a_scales,
                     a_block, b_scales, b_block, c_fmt, c_codes, NULL, 0, threads, d_codes,
                     flags, 1);
}

int32_t mxemu_dot(const mxemu_accum_config *cfg, int64_t k, const mxemu_format *a_fmt,
                  const uint32_t *a_codes, const mxemu_format *b_fmt, const uint32_t *b_codes,
                  const mxemu_format *scale_fmt, const uint8_t *a_scales, int32_t a_block,
                  const uint8_t *b_scales, int32_t b_block, const mxemu_format *c_fmt,
                  uint32_t c_code, uint32_t *d_code, uint8_t *flags)
{
    return run_model(cfg, 1, 1, k, a_fmt, a_codes, b_fmt, b_codes, scale_fmt, a_scales,
                     a_block, b_scales, b_block, c_fmt, &c_code, NULL, 0, 1, d_code, flags, 0);
}
