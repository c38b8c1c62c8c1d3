/*
 * gemm_simd.c - dot.c's fast step for 8 output columns at once, in AVX-512
 * binary64 (see gemm_simd.h for what it computes and why it is exact).
 *
 * Per step and lane:
 *   1. E = max(alignment of C, alignment of every product)       (int32)
 *   2. bounded F: every term t -> trunc(t * 2^(F - E)), an integer, exact;
 *      their sum is exact (|sum| < 2^53); "lost" when a term had a fraction.
 *      unbounded F: the exact sum by fused multiply-adds, each partial sum a
 *      multiple of the smallest lsb and below 2^53 of it (checked per lane).
 *   3. the sum S rounds once into the step format: e = floor(log2 |S|),
 *      y = S * 2^(M - e) in [2^M, 2^(M+1)), r = y rounded to an integer with
 *      the mode, result r * 2^(e - M); inexact when r != y.
 * An exact zero S goes on as the next step's zero accumulator; a zero from
 * cut bits, and lanes whose e or result exponent falls outside the format's
 * normal range, are marked bad, and so is a chain that ends at zero (dot.c
 * redoes them with every rule: zero signs, subnormals, overflow policies).
 * Steps of one product summed exactly into binary32 run as the IEEE binary32
 * fused multiply-add itself (fma32_rows).
 */
#include "gemm_simd.h"

#if MX_HAVE_AVX512
#include <immintrin.h>

#define BIG (1 << 28)

int mx_simd_available(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
}

int mx_simd_fma32_available(void)
{
    /* MXCSR bit 6: subnormal inputs are zero (DAZ); bit 15: results flush (FTZ) */
    return mx_simd_available() && !(__builtin_ia32_stmxcsr() & ((1u << 6) | (1u << 15)));
}

/* 8 bytes (0 / nonzero) as a lane mask. */
MX_T512 static inline __mmask8 bytes_mask(const uint8_t *b)
{
    const __m128i v = _mm_loadl_epi64((const __m128i *)b);
    return (__mmask8)_mm_test_epi8_mask(v, v);
}

MX_T512 static inline void mask_bytes(uint8_t *b, __mmask8 m)
{
    for (int l = 0; l < 8; l++)
        b[l] = (uint8_t)((m >> l) & 1u);
}

/* y rounded to an integer; rc as in mx_simd_fmt (the immediate needs a constant). */
MX_T512 static inline __m512d round_int(__m512d y, int rc)
{
    switch (rc) {
    case 0: return _mm512_roundscale_pd(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    case 1: return _mm512_roundscale_pd(y, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    case 2: return _mm512_roundscale_pd(y, _MM_FROUND_TO_POS_INF | _MM_FROUND_NO_EXC);
    default: return _mm512_roundscale_pd(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    }
}

MX_T512 static inline __m256i load8i(const int32_t *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* acc + sum of va[t] * vb[t] over the step by fused multiply-adds in eight
 * chains (only called where every partial sum is exact, so the grouping does
 * not matter; eight chains keep both FMA units busy through their latency). */
MX_T512 static inline __m512d fma_sum(const double *va, const double *vb, int nt, __m512d acc)
{
    __m512d s[8] = {acc, _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(),
                    _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(),
                    _mm512_setzero_pd()};
    int t = 0;
    for (; t + 7 < nt; t += 8)
        for (int u = 0; u < 8; u++)
            s[u] = _mm512_fmadd_pd(_mm512_set1_pd(va[t + u]), _mm512_loadu_pd(vb + (t + u) * 8),
                                   s[u]);
    for (; t < nt; t++)
        s[0] = _mm512_fmadd_pd(_mm512_set1_pd(va[t]), _mm512_loadu_pd(vb + t * 8), s[0]);
    return _mm512_add_pd(_mm512_add_pd(_mm512_add_pd(s[0], s[1]), _mm512_add_pd(s[2], s[3])),
                         _mm512_add_pd(_mm512_add_pd(s[4], s[5]), _mm512_add_pd(s[6], s[7])));
}

#define RZ_INT (_MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC)

/* v cut toward zero to a multiple of 2^q, given nq = -q; *lost |= lanes that lost bits. */
MX_T512 static inline __m512d cut(__m512d v, __m512d nq, __mmask8 *lost)
{
    const __m512d y = _mm512_scalef_pd(v, nq);
    const __m512d r = _mm512_roundscale_pd(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    *lost |= _mm512_cmp_pd_mask(r, y, _CMP_NEQ_UQ);
    return _mm512_scalef_pd(r, _mm512_sub_pd(_mm512_setzero_pd(), nq));
}

/* acc + the products k0 .. k0 + nt - 1, exact: every partial sum is a multiple
 * of 2^Q below (nt + 1) * 2^(E + 4), which binary64 holds when E - Q + 4 + lg
 * <= 53.  The bounds Eb, Lb decide for most lanes; the others get their exact
 * E and Q, and lanes still too wide are marked bad. */
MX_T512 static inline __m512d exact_sum(const mx_simd_plan *p, int64_t i, int64_t j0, int64_t k0,
                                     int nt, __m512d acc, __m256i accal, __mmask8 acc0,
                                     __m256i acc_lsb, __m256i Eb, __m256i Lb, __mmask8 *bad)
{
    const int64_t kp = p->kp;
    int lg = 1;
    while ((1 << lg) <= nt + 1)
        lg++;
    const __m256i lim = _mm256_set1_epi32(53 - 4 - lg);
    const __m256i Qb = _mm256_mask_blend_epi32(acc0, _mm256_min_epi32(Lb, acc_lsb), Lb);
    const __mmask8 wide = _mm256_cmpgt_epi32_mask(_mm256_sub_epi32(Eb, Qb), lim);
    if ((__mmask8)(wide & ~*bad)) {
        const int32_t *ea = p->ea + i * kp, *la = p->la + i * kp;
        const int32_t *eb = p->eb + (j0 / 8) * kp * 8 + k0 * 8;
        const int32_t *lb = p->lb + (j0 / 8) * kp * 8 + k0 * 8;
        __m256i E = accal;
        __m256i Q = _mm256_mask_blend_epi32(acc0, acc_lsb, _mm256_set1_epi32(2 * BIG));
        for (int t = 0; t < nt; t++) {
            E = _mm256_max_epi32(E, _mm256_add_epi32(_mm256_set1_epi32(ea[k0 + t]),
                                                     load8i(eb + t * 8)));
            Q = _mm256_min_epi32(Q, _mm256_add_epi32(_mm256_set1_epi32(la[k0 + t]),
                                                     load8i(lb + t * 8)));
        }
        *bad |= _mm256_cmpgt_epi32_mask(_mm256_sub_epi32(E, Q), lim);
    }
    return fma_sum(p->va + i * kp + k0, p->vb + (j0 / 8) * kp * 8 + k0 * 8, nt, acc);
}

/* The exponent of the lowest set bit of each lane's value (a normal binary64;
 * zero lanes give INT32_MIN): exact, unlike the format's lsb, which ignores
 * the trailing zeros of the significand. */
MX_T512 static inline __m256i low_bit(__m512d v)
{
    const __m512i sig = _mm512_or_si512(
        _mm512_and_si512(_mm512_castpd_si512(v), _mm512_set1_epi64((1ll << 52) - 1)),
        _mm512_set1_epi64(1ll << 52));
    const __m512i low = _mm512_and_si512(sig, _mm512_sub_epi64(_mm512_setzero_si512(), sig));
    const __m512d tz = _mm512_getexp_pd(_mm512_cvtepi64_pd(low)); /* a power of two: exact */
    return _mm512_cvtpd_epi32(
        _mm512_add_pd(_mm512_getexp_pd(v), _mm512_sub_pd(tz, _mm512_set1_pd(52.0))));
}

/* A bound on the lowest set bit of step sx's products for row `row` and the
 * 8 columns from j0, tighter than A's lowest plus B's lowest: the product at
 * A's lowest position and, per lane, the one at B's lowest position count
 * exactly; every other product has both factors at or above their second
 * lowest bits. */
MX_T512 static inline __m256i low_bound(const mx_simd_plan *p, int64_t row, int64_t j0, int64_t k0,
                                     int64_t sx)
{
    const int64_t nst = p->n_instr * p->nsteps, ax = row * nst + sx;
    const int64_t bx = (j0 / 8) * nst * 8 + sx * 8;
    const int32_t *la = p->la + row * p->kp + k0, *lb = p->lb + (j0 / 8) * p->kp * 8 + k0 * 8;
    const int32_t ta = p->amin_at[ax];
    const __m256i at_a = _mm256_add_epi32(_mm256_set1_epi32(la[ta]), load8i(lb + ta * 8));
    const __m256i at_b = _mm256_add_epi32(_mm256_i32gather_epi32(la, load8i(p->bmin_at + bx), 4),
                                          load8i(p->bmin_l + bx));
    const __m256i rest = _mm256_add_epi32(_mm256_set1_epi32(p->amin2_l[ax]),
                                          load8i(p->bmin2_l + bx));
    return _mm256_min_epi32(_mm256_min_epi32(at_a, at_b), rest);
}

/* s = a + b rounded, *err = the exact a + b - s (TwoSum). */
MX_T512 static inline __m512d two_sum(__m512d a, __m512d b, __m512d *err)
{
    const __m512d s = _mm512_add_pd(a, b);
    const __m512d bv = _mm512_sub_pd(s, a);
    *err = _mm512_add_pd(_mm512_sub_pd(a, _mm512_sub_pd(s, bv)), _mm512_sub_pd(b, bv));
    return s;
}

/* hi + lo (exact as a pair) as one binary64 rounded to odd: it then rounds into any
 * format of at most 51 significand bits exactly as the exact sum would. */
MX_T512 static inline __m512d round_to_odd(__m512d hi, __m512d lo)
{
    __m512d e;
    const __m512d s = two_sum(hi, lo, &e);
    const __m512i bits = _mm512_castpd_si512(s);
    const __mmask8 inexact = _mm512_cmp_pd_mask(e, _mm512_setzero_pd(), _CMP_NEQ_UQ);
    const __mmask8 even = _mm512_testn_epi64_mask(bits, _mm512_set1_epi64(1));
    /* toward e: one more ulp of magnitude when e has s's sign, one less otherwise
     * (INT64_MIN: the sign bit) */
    const __mmask8 same = _mm512_testn_epi64_mask(
        _mm512_xor_si512(bits, _mm512_castpd_si512(e)), _mm512_set1_epi64(INT64_MIN));
    const __m512i up = _mm512_mask_add_epi64(bits, inexact & even & same, bits,
                                             _mm512_set1_epi64(1));
    const __m512i stepped = _mm512_mask_sub_epi64(up, inexact & even & ~same, up,
                                                  _mm512_set1_epi64(1));
    return _mm512_castsi512_pd(stepped);
}

/* tot rounded once into f (the acc of the next step): lanes whose tot leaves
 * f's normal range, or is a zero from cut bits, are marked bad. */
MX_T512 static inline __m512d round_into(__m512d tot, const mx_simd_fmt *f, __mmask8 lost,
                                      __mmask8 *inex, __mmask8 *bad, __m256i *accal,
                                      int32_t zero_align)
{
    const __m512d zero = _mm512_setzero_pd();
    /* an exact zero is the next step's zero accumulator (its sign cannot matter
     * there: it only decides the sign of a zero result, and a chain that ends at
     * zero goes to the scalar path); a zero from cut bits is the scalar path's */
    const __mmask8 z = _mm512_cmp_pd_mask(tot, zero, _CMP_EQ_OQ);
    *bad |= z & lost;
    const __m512d e = _mm512_getexp_pd(tot);
    const __m256i ei = _mm512_cvtpd_epi32(e);
    *bad |= (_mm256_cmplt_epi32_mask(ei, _mm256_set1_epi32(f->emin)) |
             _mm256_cmpgt_epi32_mask(ei, _mm256_set1_epi32(f->emax))) & ~z;
    const __m512d sh = _mm512_sub_pd(_mm512_set1_pd((double)f->man), e);
    const __m512d y = _mm512_scalef_pd(tot, sh);
    const __m512d r = round_int(y, f->rc);
    *inex |= lost | (_mm512_cmp_pd_mask(r, y, _CMP_NEQ_UQ) & ~z);
    const __m512d acc = _mm512_mask_blend_pd(z, _mm512_scalef_pd(r, _mm512_sub_pd(zero, sh)),
                                             zero);
    *accal = _mm256_mask_blend_epi32(z, _mm512_cvtpd_epi32(_mm512_getexp_pd(acc)),
                                     _mm256_set1_epi32(zero_align));
    *bad |= _mm256_cmpgt_epi32_mask(*accal, _mm256_set1_epi32(f->emax)) & ~z;
    return acc;
}

/* c. every term cut: acc + the products, each cut toward zero to a multiple of
 * 2^q (nq = -q), summed in units of 2^q (exact); the bits cut OR-ed together
 * (y - trunc(y) is +0 exactly when none). */
MX_T512 static inline __m512d cut_sum(const double *va, const double *vb, int nt, __m512d acc,
                                   __m512d nq, __mmask8 *lost)
{
    const __m512d y0 = _mm512_scalef_pd(acc, nq);
    __m512d s0 = _mm512_roundscale_pd(y0, RZ_INT), s1 = _mm512_setzero_pd();
    __m512i cutbits = _mm512_castpd_si512(_mm512_sub_pd(y0, s0));
    int t = 0;
    for (; t + 1 < nt; t += 2) {
        const __m512d ya = _mm512_scalef_pd(
            _mm512_mul_pd(_mm512_set1_pd(va[t]), _mm512_loadu_pd(vb + t * 8)), nq);
        const __m512d yb = _mm512_scalef_pd(
            _mm512_mul_pd(_mm512_set1_pd(va[t + 1]), _mm512_loadu_pd(vb + t * 8 + 8)), nq);
        const __m512d ra = _mm512_roundscale_pd(ya, RZ_INT);
        const __m512d rb = _mm512_roundscale_pd(yb, RZ_INT);
        cutbits = _mm512_or_si512(cutbits,
                                  _mm512_or_si512(_mm512_castpd_si512(_mm512_sub_pd(ya, ra)),
                                                  _mm512_castpd_si512(_mm512_sub_pd(yb, rb))));
        s0 = _mm512_add_pd(s0, ra);
        s1 = _mm512_add_pd(s1, rb);
    }
    if (t < nt) {
        const __m512d ya = _mm512_scalef_pd(
            _mm512_mul_pd(_mm512_set1_pd(va[t]), _mm512_loadu_pd(vb + t * 8)), nq);
        const __m512d ra = _mm512_roundscale_pd(ya, RZ_INT);
        cutbits = _mm512_or_si512(cutbits, _mm512_castpd_si512(_mm512_sub_pd(ya, ra)));
        s0 = _mm512_add_pd(s0, ra);
    }
    *lost |= _mm512_test_epi64_mask(cutbits, cutbits);
    return _mm512_scalef_pd(_mm512_add_pd(s0, s1), _mm512_sub_pd(_mm512_setzero_pd(), nq));
}

/* Optional tests that only pick between exact routes (a cheaper one when they
 * pass) are skipped where they keep failing: after GUESS_FAILS failures in a
 * row a test runs only once in GUESS_PROBE steps, until it passes again.  Per
 * thread; the bits never depend on it, only the time. */
#define GUESS_FAILS 8
#define GUESS_PROBE 16

typedef struct guess {
    int fails, wait;
} guess;

static inline int guess_try(guess *g)
{
    if (g->fails < GUESS_FAILS)
        return 1;
    if (g->wait > 0) {
        g->wait--;
        return 0;
    }
    g->wait = GUESS_PROBE - 1;
    return 1;
}

static inline void guess_done(guess *g, int passed)
{
    g->fails = passed ? 0 : (g->fails < GUESS_FAILS ? g->fails + 1 : GUESS_FAILS);
}

/* A tile is up to TILE_ROWS rows times up to TILE_PANELS 8-column panels of B;
 * its slot s is row s % TILE_ROWS of panel s / TILE_ROWS.  Slots past nr rows
 * or npan panels point at row 0 / panel 0 and are discarded. */
#define TILE_ROWS 8
#define TILE_PANELS 2
#define TILE_SLOTS (TILE_ROWS * TILE_PANELS)
#define SLOT_ROW(s) ((s) % TILE_ROWS)
#define SLOT_PANEL(s) ((s) / TILE_ROWS)
/* The per-instruction and per-step slot loops fully unrolled (16 = TILE_SLOTS):
 * the slots' values then stay in registers, which steps of few terms notice
 * (mxdotp's steps of 8: about 6%). */
#define UNROLL_SLOTS _Pragma("GCC unroll 16")

/* fma_sum's loop for every row of the tile and one or two panels (vb[0], vb[1]):
 * B's loads are shared by the rows, and with two panels each of A's broadcasts
 * feeds two FMAs (sixteen chains); with one, two K positions at a time give
 * each row two chains.  s holds the slots of the panels summed (s[0..7] one). */
MX_T512 static inline void fma_sum_rows(const double *const va[TILE_ROWS],
                                     const double *const vb[TILE_PANELS], int two, int nt,
                                     __m512d s[TILE_SLOTS])
{
    if (two) {
        for (int t = 0; t < nt; t++) {
            const __m512d b0 = _mm512_loadu_pd(vb[0] + t * 8), b1 = _mm512_loadu_pd(vb[1] + t * 8);
            for (int r = 0; r < TILE_ROWS; r++) {
                const __m512d a = _mm512_set1_pd(va[r][t]);
                s[r] = _mm512_fmadd_pd(a, b0, s[r]);
                s[TILE_ROWS + r] = _mm512_fmadd_pd(a, b1, s[TILE_ROWS + r]);
            }
        }
        return;
    }
    __m512d t2[TILE_ROWS];
    for (int r = 0; r < TILE_ROWS; r++)
        t2[r] = _mm512_setzero_pd();
    int t = 0;
    for (; t + 1 < nt; t += 2) {
        const __m512d b0 = _mm512_loadu_pd(vb[0] + t * 8), b1 = _mm512_loadu_pd(vb[0] + t * 8 + 8);
        for (int r = 0; r < TILE_ROWS; r++) {
            s[r] = _mm512_fmadd_pd(_mm512_set1_pd(va[r][t]), b0, s[r]);
            t2[r] = _mm512_fmadd_pd(_mm512_set1_pd(va[r][t + 1]), b1, t2[r]);
        }
    }
    if (t < nt) {
        const __m512d b0 = _mm512_loadu_pd(vb[0] + t * 8);
        for (int r = 0; r < TILE_ROWS; r++)
            s[r] = _mm512_fmadd_pd(_mm512_set1_pd(va[r][t]), b0, s[r]);
    }
    for (int r = 0; r < TILE_ROWS; r++)
        s[r] = _mm512_add_pd(s[r], t2[r]);
}

/* s[slot] += the plain exact sum of K positions k0 .. k0 + nt - 1 for the slots of
 * the panels pp with all[pp] set (the whole panel's rows take it), sharing loads. */
MX_T512 static inline void fma_sum_panels(const double *const va[TILE_ROWS],
                                       const double *const vbp[TILE_PANELS], int64_t k0, int nt,
                                       const int all[TILE_PANELS], __m512d s[TILE_SLOTS])
{
    const double *vr[TILE_ROWS];
    for (int r = 0; r < TILE_ROWS; r++)
        vr[r] = va[r] + k0;
    const double *vb[TILE_PANELS] = {vbp[0] + k0 * 8, vbp[1] + k0 * 8};
    if (all[0] && all[1]) {
        fma_sum_rows(vr, vb, 1, nt, s);
    } else {
        for (int pp = 0; pp < TILE_PANELS; pp++)
            if (all[pp])
                fma_sum_rows(vr, vb + pp, 0, nt, s + pp * TILE_ROWS);
    }
}

/* Rows i .. i + nr - 1 (nr <= TILE_ROWS) of panels j0, j0 + 8 (npan of them, 1 or
 * 2); the lanes of row r, panel pp are at r * np + j0 + 8 * pp of the arrays.  Each
 * step of each slot takes the cheapest route that is provably exact for its 8 lanes:
 *   a. bounds: E <= Eb = max(acc's alignment, max_t ea + max_t eb) and every
 *      product's lsb >= min_t la + min_t lb; when no product and not the
 *      accumulator can be cut at Eb - F (or, unbounded, the spread fits
 *      binary64), the step is one exact fused multiply-add sum, and when that
 *      holds for every row of a panel the rows (and both panels) share loads;
 *   b. else the exact E; when no product is cut at E - F, only the
 *      accumulator is, and the products go through the same exact sum;
 *   c. else every term is cut (or, unbounded, lanes too wide are bad). */
MX_T512 static void tile(const mx_simd_plan *p, int64_t i, int nr, int64_t j0, int npan,
                      int64_t ins0, int64_t ins1, int c0, int c1, double *accv, int32_t *acca,
                      double *lov, uint8_t *inexv, uint8_t *badv, guess score[3])
{
    const int64_t kp = p->kp, np = p->np, nst = p->n_instr * p->nsteps;
    const __m256i too_low = _mm256_set1_epi32(-BIG / 2);
    const __m256i accman = _mm256_set1_epi32(p->acc_man);
    const __m512d zero = _mm512_setzero_pd();
    const double *va[TILE_ROWS], *vbp[TILE_PANELS];
    const int32_t *ea[TILE_ROWS], *amax[TILE_ROWS], *amin[TILE_ROWS];
    const int32_t *bmax[TILE_PANELS], *bmin[TILE_PANELS];
    const uint8_t *rs[TILE_ROWS];
    int64_t jc[TILE_PANELS]; /* each panel's first column */
    int used[TILE_SLOTS];
    __m512d acc[TILE_SLOTS], lo[TILE_SLOTS], cval[TILE_SLOTS];
    __m256i accal[TILE_SLOTS];
    __mmask8 bad[TILE_SLOTS], inex[TILE_SLOTS];
    for (int r = 0; r < TILE_ROWS; r++) {
        const int64_t row = i + (r < nr ? r : 0);
        va[r] = p->va + row * kp;
        ea[r] = p->ea + row * kp;
        amax[r] = p->amax_e + row * nst;
        amin[r] = p->amin_l + row * nst;
        rs[r] = p->row_spec + row * p->n_instr;
    }
    for (int pp = 0; pp < TILE_PANELS; pp++) {
        jc[pp] = j0 + 8 * (pp < npan ? pp : 0);
        vbp[pp] = p->vb + (jc[pp] / 8) * kp * 8;
        bmax[pp] = p->bmax_e + (jc[pp] / 8) * nst * 8;
        bmin[pp] = p->bmin_l + (jc[pp] / 8) * nst * 8;
    }
    for (int s = 0; s < TILE_SLOTS; s++) {
        const int r = SLOT_ROW(s), pp = SLOT_PANEL(s);
        used[s] = r < nr && pp < npan;
        const int64_t o = (used[s] ? r : 0) * np + jc[pp];
        acc[s] = _mm512_loadu_pd(accv + o);
        accal[s] = load8i(acca + o);
        bad[s] = used[s] ? bytes_mask(badv + o) : 0xFF;
        inex[s] = bytes_mask(inexv + o);
        lo[s] = p->chunked ? _mm512_loadu_pd(lov + o) : zero;
    }
    for (int64_t ins = ins0; ins < ins1; ins++) {
        int live = 0;
        __mmask8 cs[TILE_PANELS]; /* a NaN/Inf in the instruction's slice of B */
        for (int pp = 0; pp < TILE_PANELS; pp++)
            cs[pp] = bytes_mask(p->col_spec + ins * np + jc[pp]);
        UNROLL_SLOTS
        for (int s = 0; s < TILE_SLOTS; s++) {
            if (!used[s])
                continue;
            bad[s] |= rs[SLOT_ROW(s)][ins] ? 0xFF : cs[SLOT_PANEL(s)];
            live |= bad[s] != 0xFF;
            /* C after the steps: they chain from +0, C joins in an exact add.  The
             * first step has no accumulator term at all (not a zero aligned at the
             * floor: the floor must not raise its alignment exponent) */
            if (p->c_after) {
                cval[s] = acc[s];
                acc[s] = zero;
                accal[s] = _mm256_set1_epi32(-BIG);
            }
        }
        if (!live)
            break;
        if (p->chunked) {
            /* one unbounded step over many terms: exact chunk sums, accumulated exactly
             * as a double-double, then one rounding from a round-to-odd binary64.  The
             * chunks' bounds together: when the whole block sums exactly in binary64 it
             * is one FMA chain (loads shared where that holds for a panel's every row) */
            int nt = 0, merged[TILE_SLOTS], all_merged[TILE_PANELS];
            for (int b = c0; b < c1; b++)
                nt += p->scnt[b];
            int lg = 1;
            while ((1 << lg) <= nt + 1)
                lg++;
            /* first the looser bounds of each row's and each panel's extremes over the
             * block (cheap: shared by the slots), then, where they fail, the chunks'
             * own; either proves the block's sum exact */
            const __m256i lim = _mm256_set1_epi32(53 - 4 - lg);
            int32_t ra_max[TILE_ROWS], ra_min[TILE_ROWS];
            __m256i pb_max[TILE_PANELS], pb_min[TILE_PANELS];
            for (int r = 0; r < TILE_ROWS; r++) {
                ra_max[r] = -4 * BIG;
                ra_min[r] = 4 * BIG;
                for (int b = c0; b < c1; b++) {
                    const int64_t sx = ins * p->nsteps + b;
                    ra_max[r] = amax[r][sx] > ra_max[r] ? amax[r][sx] : ra_max[r];
                    ra_min[r] = amin[r][sx] < ra_min[r] ? amin[r][sx] : ra_min[r];
                }
            }
            for (int pp = 0; pp < TILE_PANELS; pp++) {
                all_merged[pp] = pp < npan;
                pb_max[pp] = _mm256_set1_epi32(-4 * BIG);
                pb_min[pp] = _mm256_set1_epi32(4 * BIG);
                for (int b = c0; b < c1; b++) {
                    const int64_t sx = ins * p->nsteps + b;
                    pb_max[pp] = _mm256_max_epi32(pb_max[pp], load8i(bmax[pp] + sx * 8));
                    pb_min[pp] = _mm256_min_epi32(pb_min[pp], load8i(bmin[pp] + sx * 8));
                }
            }
            for (int s = 0; s < TILE_SLOTS; s++) {
                const int r = SLOT_ROW(s), pp = SLOT_PANEL(s);
                if (!used[s])
                    continue;
                const __m256i Eo = _mm256_add_epi32(_mm256_set1_epi32(ra_max[r]), pb_max[pp]);
                const __m256i Lo = _mm256_add_epi32(_mm256_set1_epi32(ra_min[r]), pb_min[pp]);
                merged[s] = !(_mm256_cmpgt_epi32_mask(_mm256_sub_epi32(Eo, Lo), lim) & ~bad[s]);
                if (!merged[s]) {
                    __m256i Em = _mm256_set1_epi32(-4 * BIG), Lm = _mm256_set1_epi32(4 * BIG);
                    for (int b = c0; b < c1; b++) {
                        const int64_t sx = ins * p->nsteps + b;
                        Em = _mm256_max_epi32(Em,
                                              _mm256_add_epi32(_mm256_set1_epi32(amax[r][sx]),
                                                               load8i(bmax[pp] + sx * 8)));
                        Lm = _mm256_min_epi32(Lm,
                                              _mm256_add_epi32(_mm256_set1_epi32(amin[r][sx]),
                                                               load8i(bmin[pp] + sx * 8)));
                    }
                    merged[s] = !(_mm256_cmpgt_epi32_mask(_mm256_sub_epi32(Em, Lm), lim) & ~bad[s]);
                }
                all_merged[pp] &= merged[s];
            }
            const int64_t kb = ins * p->ik + p->soff[c0];
            __m512d joint[TILE_SLOTS];
            for (int s = 0; s < TILE_SLOTS; s++)
                joint[s] = zero;
            fma_sum_panels(va, vbp, kb, nt, all_merged, joint);
            for (int s = 0; s < TILE_SLOTS; s++) {
                const int r = SLOT_ROW(s), pp = SLOT_PANEL(s);
                if (!used[s])
                    continue;
                __m512d hi = acc[s];
                for (int b = c0; b < c1; b++) {
                    const int64_t k0 = ins * p->ik + p->soff[b], sx = ins * p->nsteps + b;
                    __m512d cs;
                    if (merged[s]) { /* the whole block at once */
                        cs = all_merged[pp] ? joint[s]
                                            : fma_sum(va[r] + kb, vbp[pp] + kb * 8, nt, zero);
                        b = c1;
                    } else {
                        const __m256i Eb = _mm256_add_epi32(_mm256_set1_epi32(amax[r][sx]),
                                                            load8i(bmax[pp] + sx * 8));
                        const __m256i Lb = _mm256_add_epi32(_mm256_set1_epi32(amin[r][sx]),
                                                            load8i(bmin[pp] + sx * 8));
                        cs = exact_sum(p, i + r, jc[pp], k0, p->scnt[b], zero, too_low, 0xFF,
                                       too_low, Eb, Lb, &bad[s]);
                    }
                    __m512d e, e2;
                    hi = two_sum(hi, cs, &e);
                    lo[s] = two_sum(lo[s], e, &e2);
                    bad[s] |= _mm512_cmp_pd_mask(e2, zero, _CMP_NEQ_UQ); /* lo inexact */
                }
                acc[s] = hi;
                if (c1 == p->nsteps) { /* the step's last chunk: its one rounding */
                    acc[s] = round_into(round_to_odd(hi, lo[s]), &p->out, 0, &inex[s], &bad[s],
                                        &accal[s], p->zero_align);
                    lo[s] = zero;
                }
            }
        } else if (p->scale_blocks) {
            /* one step over the exact block sums (and C inside): each block sum
             * aligns by its own leading exponent, a zero one by the floor */
            for (int s = 0; s < TILE_SLOTS; s++) {
                const int r = SLOT_ROW(s), pp = SLOT_PANEL(s);
                if (!used[s])
                    continue;
                __m512d bs[MX_SIMD_MAX_BLOCKS];
                __m256i E = accal[s];
                for (int b = 0; b < p->nsteps; b++) {
                    const int64_t k0 = ins * p->ik + p->soff[b], sx = ins * p->nsteps + b;
                    const __m256i Eb = _mm256_add_epi32(_mm256_set1_epi32(amax[r][sx]),
                                                        load8i(bmax[pp] + sx * 8));
                    const __m256i Lb = _mm256_add_epi32(_mm256_set1_epi32(amin[r][sx]),
                                                        load8i(bmin[pp] + sx * 8));
                    bs[b] = exact_sum(p, i + r, jc[pp], k0, p->scnt[b], zero, too_low, 0xFF,
                                      too_low, Eb, Lb, &bad[s]);
                    const __mmask8 z = _mm512_cmp_pd_mask(bs[b], zero, _CMP_EQ_OQ);
                    E = _mm256_max_epi32(E, _mm256_mask_blend_epi32(
                                                z, _mm512_cvtpd_epi32(_mm512_getexp_pd(bs[b])),
                                                _mm256_set1_epi32(p->zero_align)));
                }
                bad[s] |= _mm256_cmplt_epi32_mask(E, too_low);
                const __m512d nq = _mm512_cvtepi32_pd(
                    _mm256_sub_epi32(_mm256_set1_epi32(p->F), E)); /* -q = F - E */
                __mmask8 lost = 0;
                __m512d tot = cut(acc[s], nq, &lost);
                for (int b = 0; b < p->nsteps; b++)
                    tot = _mm512_add_pd(tot, cut(bs[b], nq, &lost));
                acc[s] = round_into(tot, p->c_after ? &p->step : &p->out, lost, &inex[s],
                                    &bad[s], &accal[s], p->zero_align);
            }
        }
        for (int st = 0; st < (p->scale_blocks || p->chunked ? 0 : p->nsteps); st++) {
            const int64_t k0 = ins * p->ik + p->soff[st], sx = ins * p->nsteps + st;
            const int nt = p->scnt[st];
            const mx_simd_fmt *f = st == p->nsteps - 1 && !p->c_after ? &p->out : &p->step;
            __mmask8 acc0[TILE_SLOTS], fine[TILE_SLOTS];
            __m256i acc_lsb[TILE_SLOTS], Eb[TILE_SLOTS], Lb[TILE_SLOTS];
            int all_fine[TILE_PANELS];
            for (int pp = 0; pp < TILE_PANELS; pp++)
                all_fine[pp] = pp < npan;
            int lg = 1; /* unbounded: the sum fits binary64 when E - Q + 4 + lg <= 53 */
            while ((1 << lg) <= nt + 1)
                lg++;
            UNROLL_SLOTS
            for (int s = 0; s < TILE_SLOTS; s++) {
                const int r = SLOT_ROW(s), pp = SLOT_PANEL(s);
                /* a. the bounds (bounded F: while steps keep passing them) */
                fine[s] = 0;
                if (!used[s])
                    continue;
                if (p->bounded && !guess_try(&score[2])) {
                    all_fine[pp] &= bad[s] == 0xFF;
                    continue;
                }
                acc0[s] = _mm512_cmp_pd_mask(acc[s], zero, _CMP_EQ_OQ);
                Eb[s] = _mm256_max_epi32(accal[s],
                                         _mm256_add_epi32(_mm256_set1_epi32(amax[r][sx]),
                                                          load8i(bmax[pp] + sx * 8)));
                Lb[s] = _mm256_add_epi32(_mm256_set1_epi32(amin[r][sx]),
                                         load8i(bmin[pp] + sx * 8));
                if (p->bounded) {
                    /* the accumulator is not cut at qb when it is zero or acc * 2^-qb
                     * is a nonzero integer (a power-of-two scaling below 2^(F + 1): a
                     * nonzero acc far below 2^qb may underflow, to a non-integer or to
                     * zero, and is cut), tested always: trying the format's lsb first
                     * costs a branch that real data mispredicts */
                    const __m256i qb = _mm256_sub_epi32(Eb[s], _mm256_set1_epi32(p->F));
                    const __m512d ya = _mm512_scalef_pd(
                        acc[s], _mm512_cvtepi32_pd(_mm256_sub_epi32(_mm256_setzero_si256(), qb)));
                    const __mmask8 acc_ok =
                        acc0[s] | (_mm512_cmp_pd_mask(_mm512_roundscale_pd(ya, RZ_INT), ya,
                                                      _CMP_EQ_OQ) &
                                   _mm512_cmp_pd_mask(ya, zero, _CMP_NEQ_OQ));
                    fine[s] = _mm256_cmpge_epi32_mask(Lb[s], qb) & acc_ok;
                    /* a'. the tighter bound, while it keeps paying */
                    if ((__mmask8)(fine[s] | bad[s]) != 0xFF && guess_try(&score[0])) {
                        fine[s] = _mm256_cmpge_epi32_mask(low_bound(p, i + r, jc[pp], k0, sx),
                                                          qb) &
                                  acc_ok;
                        guess_done(&score[0], (__mmask8)(fine[s] | bad[s]) == 0xFF);
                    }
                    guess_done(&score[2], (__mmask8)(fine[s] | bad[s]) == 0xFF);
                    all_fine[pp] &= (__mmask8)(fine[s] | bad[s]) == 0xFF;
                } else { /* exact_sum's first test, for every lane of every slot */
                    acc_lsb[s] = _mm256_sub_epi32(accal[s], accman); /* exact: low_bit if needed */
                    const __m256i lim = _mm256_set1_epi32(53 - 4 - lg);
                    __m256i Qb = _mm256_mask_blend_epi32(
                        acc0[s], _mm256_min_epi32(Lb[s], acc_lsb[s]), Lb[s]);
                    if (_mm256_cmpgt_epi32_mask(_mm256_sub_epi32(Eb[s], Qb), lim) & ~bad[s]) {
                        acc_lsb[s] = low_bit(acc[s]);
                        Qb = _mm256_mask_blend_epi32(acc0[s], _mm256_min_epi32(Lb[s], acc_lsb[s]),
                                                     Lb[s]);
                    }
                    all_fine[pp] &= !(_mm256_cmpgt_epi32_mask(_mm256_sub_epi32(Eb[s], Qb), lim) &
                                      ~bad[s]);
                }
            }
            /* the panels whose every row passed: one exact FMA sum per slot, loads
             * shared; the other slots each take their own route, then every slot's
             * rounding together: the slots' chains (rounding -> alignment -> cut ->
             * sum -> rounding) are independent, so they overlap */
            __m512d tot[TILE_SLOTS];
            __mmask8 lost[TILE_SLOTS];
            int every = 1; /* every panel shared: no slot left */
            for (int pp = 0; pp < npan; pp++)
                every &= all_fine[pp];
            UNROLL_SLOTS
            for (int s = 0; s < TILE_SLOTS; s++) {
                tot[s] = acc[s];
                lost[s] = 0;
            }
            fma_sum_panels(va, vbp, k0, nt, all_fine, tot);
            for (int s = 0; s < (every ? 0 : TILE_SLOTS); s++) {
                const int r = SLOT_ROW(s), pp = SLOT_PANEL(s);
                const double *vb = vbp[pp] + k0 * 8;
                if (!used[s] || all_fine[pp])
                    continue;
                if (p->bounded) {
                    if ((__mmask8)(fine[s] | bad[s]) == 0xFF) {
                        tot[s] = fma_sum(va[r] + k0, vb, nt, acc[s]);
                    } else {
                        /* b. the exact alignment exponent E and, while that test pays,
                         * the lowest product bit L */
                        const int32_t *eb = p->eb + (jc[pp] / 8) * kp * 8 + k0 * 8;
                        const int32_t *lb = p->lb + (jc[pp] / 8) * kp * 8 + k0 * 8;
                        const int32_t *la = p->la + (i + r) * kp + k0;
                        const int try_l = guess_try(&score[1]);
                        /* the products' part first: it does not wait for the accumulator */
                        __m256i E = _mm256_set1_epi32(-4 * BIG);
                        __m256i L = _mm256_set1_epi32(try_l ? 4 * BIG : -4 * BIG);
                        for (int t = 0; t < nt; t++) {
                            E = _mm256_max_epi32(E, _mm256_add_epi32(
                                                        _mm256_set1_epi32(ea[r][k0 + t]),
                                                        load8i(eb + t * 8)));
                            if (try_l) /* untried, L stays below every q: "cut" */
                                L = _mm256_min_epi32(L, _mm256_add_epi32(
                                                            _mm256_set1_epi32(la[t]),
                                                            load8i(lb + t * 8)));
                        }
                        E = _mm256_max_epi32(E, accal[s]);
                        bad[s] |= _mm256_cmplt_epi32_mask(E, too_low);
                        const __m256i q = _mm256_sub_epi32(E, _mm256_set1_epi32(p->F));
                        const __m512d nq =
                            _mm512_cvtepi32_pd(_mm256_sub_epi32(_mm256_setzero_si256(), q));
                        const int uncut =
                            (__mmask8)(_mm256_cmpge_epi32_mask(L, q) | bad[s]) == 0xFF;
                        if (try_l)
                            guess_done(&score[1], uncut);
                        if (uncut) {
                            /* no product is cut: only the accumulator can be */
                            tot[s] = fma_sum(va[r] + k0, vb, nt, cut(acc[s], nq, &lost[s]));
                        } else {
                            tot[s] = cut_sum(va[r] + k0, vb, nt, acc[s], nq, &lost[s]);
                        }
                    }
                } else {
                    tot[s] = exact_sum(p, i + r, jc[pp], k0, nt, acc[s], accal[s], acc0[s],
                                       acc_lsb[s], Eb[s], Lb[s], &bad[s]);
                }
            }
            UNROLL_SLOTS
            for (int s = 0; s < TILE_SLOTS; s++)
                if (used[s])
                    acc[s] = round_into(tot[s], f, lost[s], &inex[s], &bad[s], &accal[s],
                                        p->zero_align);
        }
        if (p->c_after) { /* the steps' result + C, exact (TwoSum error 0), rounded once */
            for (int s = 0; s < TILE_SLOTS; s++) {
                if (!used[s])
                    continue;
                __m512d err;
                const __m512d sum = two_sum(acc[s], cval[s], &err);
                bad[s] |= _mm512_cmp_pd_mask(err, zero, _CMP_NEQ_UQ);
                acc[s] = round_into(sum, &p->out, 0, &inex[s], &bad[s], &accal[s],
                                    p->zero_align);
            }
        }
    }
    for (int s = 0; s < TILE_SLOTS; s++) {
        if (!used[s])
            continue;
        const int64_t o = SLOT_ROW(s) * np + jc[SLOT_PANEL(s)];
        _mm512_storeu_pd(accv + o, acc[s]);
        if (p->chunked)
            _mm512_storeu_pd(lov + o, lo[s]);
        _mm256_storeu_si256((__m256i *)(acca + o), accal[s]);
        mask_bytes(inexv + o, inex[s]);
        mask_bytes(badv + o, bad[s]);
    }
}

/* The fma32 route: one IEEE binary32 fused multiply-add per step, with the
 * step's rounding as the instruction's immediate, in the low 8 lanes of a
 * 512-bit vector (only those take an embedded rounding).  Inexact when the
 * same FMA rounded up and down differ.  Lanes whose result is at or below the
 * smallest normal (an exact zero excepted), in the top binade (an overflow, or
 * the rounding to the largest finite) or NaN are marked bad: those rules
 * (underflow, overflow policies) are the scalar path's. */
#define FMA32(a, b, c, RC) _mm512_fmadd_round_ps(a, b, c, (RC) | _MM_FROUND_NO_EXC)

MX_T512 static inline __m512 fma32_step(__m512 a, __m512 b, __m512 c, int rc, __mmask8 *inex,
                                     __mmask8 *bad)
{
    __m512 r;
    switch (rc) {
    case 0: r = FMA32(a, b, c, _MM_FROUND_TO_NEAREST_INT); break;
    case 1: r = FMA32(a, b, c, _MM_FROUND_TO_NEG_INF); break;
    case 2: r = FMA32(a, b, c, _MM_FROUND_TO_POS_INF); break;
    default: r = FMA32(a, b, c, _MM_FROUND_TO_ZERO); break;
    }
    const __m512 up = FMA32(a, b, c, _MM_FROUND_TO_POS_INF);
    const __m512 dn = FMA32(a, b, c, _MM_FROUND_TO_NEG_INF);
    const __mmask16 exact = _mm512_cmp_ps_mask(up, dn, _CMP_EQ_OQ);
    *inex |= (__mmask8)~exact;
    const __m512 mag = _mm512_abs_ps(r);
    const __mmask16 normal = _mm512_cmp_ps_mask(mag, _mm512_set1_ps(0x1p-126f), _CMP_GT_OQ) &
                             _mm512_cmp_ps_mask(mag, _mm512_set1_ps(0x1p127f), _CMP_LT_OQ);
    /* an exact zero goes on as the next step's zero accumulator (see round_into) */
    const __mmask16 zero = _mm512_cmp_ps_mask(mag, _mm512_setzero_ps(), _CMP_EQ_OQ) & exact;
    *bad |= (__mmask8)~(normal | zero);
    return r;
}

MX_T512 static void fma32_rows(const mx_simd_plan *p, int64_t i0, int64_t i1, double *accv,
                            int32_t *acca, uint8_t *inexv, uint8_t *badv)
{
    const int64_t kp = p->kp, np = p->np, ni = p->n_instr;
    const int rc = p->out.rc;
    for (int64_t j0 = 0; j0 < np; j0 += 8) {
        const float *vb = p->vb32 + (j0 / 8) * kp * 8;
        int col_has_spec = 0;
        for (int64_t ins = 0; ins < ni; ins++)
            col_has_spec |= bytes_mask(p->col_spec + ins * np + j0) != 0;
        /* TILE_ROWS rows at once: their chains of FMAs are independent */
        for (int64_t i = i0; i < i1; i += TILE_ROWS) {
            const int nr = (int)(i1 - i < TILE_ROWS ? i1 - i : TILE_ROWS);
            const float *va[TILE_ROWS];
            const uint8_t *rs[TILE_ROWS];
            __m512 acc[TILE_ROWS];
            __mmask8 bad[TILE_ROWS], inex[TILE_ROWS];
            for (int r = 0; r < TILE_ROWS; r++) {
                const int rr = r < nr ? r : 0;
                const int64_t o = (i + rr - i0) * np + j0;
                va[r] = p->va32 + (i + rr) * kp;
                rs[r] = p->row_spec + (i + rr) * ni;
                acc[r] = _mm512_zextps256_ps512(_mm512_cvtpd_ps(_mm512_loadu_pd(accv + o)));
                bad[r] = r < nr ? bytes_mask(badv + o) : 0xFF;
                inex[r] = bytes_mask(inexv + o);
            }
            int row_has_spec = 0;
            for (int r = 0; r < nr; r++)
                for (int64_t ins = 0; ins < ni; ins++)
                    row_has_spec |= rs[r][ins];
            for (int64_t ins = 0; ins < ni; ins++) {
                /* a NaN or Inf in the instruction (K position ins: one product each) */
                if (row_has_spec | col_has_spec) {
                    const __mmask8 cs = bytes_mask(p->col_spec + ins * np + j0);
                    for (int r = 0; r < nr; r++)
                        bad[r] |= rs[r][ins] ? 0xFF : cs;
                }
                const __m512 b = _mm512_zextps256_ps512(_mm256_loadu_ps(vb + ins * 8));
                for (int r = 0; r < TILE_ROWS; r++)
                    acc[r] = fma32_step(_mm512_set1_ps(va[r][ins]), b, acc[r], rc, &inex[r],
                                        &bad[r]);
            }
            for (int r = 0; r < nr; r++) {
                const int64_t o = (i + r - i0) * np + j0;
                const __m512d a64 = _mm512_cvtps_pd(_mm512_castps512_ps256(acc[r]));
                _mm512_storeu_pd(accv + o, a64);
                _mm256_storeu_si256((__m256i *)(acca + o),
                                    _mm512_cvtpd_epi32(_mm512_getexp_pd(a64)));
                mask_bytes(inexv + o, inex[r]);
                mask_bytes(badv + o, bad[r]);
            }
        }
    }
}

/* Loop order: a pair of 8-column panels of B (the tile's columns), a block of
 * up to SIMD_KBLOCK of their K positions (whole instructions, or chunks of a
 * long exact step), then every row of the block; the accumulators wait in the
 * arrays between K blocks.  Long blocks pay the tile's loads, stores and block
 * bounds once per up to 1024 positions; the panels' block (128 KiB) stays in
 * L2 while the rows pass (blocks of 128 that stay in L1 were slower). */
#define SIMD_KBLOCK 1024

MX_T512 void mx_simd_rows(const mx_simd_plan *p, int64_t i0, int64_t i1, double *acc,
                       int32_t *acc_align, double *lo, uint8_t *inexact, uint8_t *bad)
{
    if (p->fma32) {
        fma32_rows(p, i0, i1, acc, acc_align, inexact, bad);
        return;
    }
    if (p->i32) {
        mx_simd_i32_rows(p, i0, i1, acc, acc_align, inexact, bad);
        return;
    }
    const int chunked = p->chunked;
    const int64_t per = chunked ? (SIMD_KBLOCK / p->scnt[0] > 1 ? SIMD_KBLOCK / p->scnt[0] : 1)
                                : (SIMD_KBLOCK / p->ik > 1 ? SIMD_KBLOCK / p->ik : 1);
    guess score[3] = {{0, 0}, {0, 0}, {0, 0}};
    for (int64_t j0 = 0; j0 < p->np; j0 += 8 * TILE_PANELS) {
        const int npan = (int)((p->np - j0) / 8 < TILE_PANELS ? (p->np - j0) / 8 : TILE_PANELS);
        for (int64_t ins = 0; ins < p->n_instr; ins += chunked ? 1 : per)
            for (int c0 = 0; c0 < (chunked ? p->nsteps : 1); c0 += (int)per)
                for (int64_t i = i0; i < i1; i += TILE_ROWS) {
                    const int64_t o = (i - i0) * p->np;
                    const int nr = (int)(i1 - i < TILE_ROWS ? i1 - i : TILE_ROWS);
                    const int64_t ins1 = chunked ? ins + 1 : (ins + per < p->n_instr ? ins + per
                                                                                    : p->n_instr);
                    const int c1 = chunked ? (c0 + per < p->nsteps ? c0 + (int)per : p->nsteps) : 0;
                    tile(p, i, nr, j0, npan, ins, ins1, c0, c1, acc + o, acc_align + o,
                         lo + o, inexact + o, bad + o, score);
                }
    }
}

#else /* no x86-64 GNU C: dot.c keeps its scalar path */

int mx_simd_available(void) { return 0; }

int mx_simd_fma32_available(void) { return 0; }

void mx_simd_rows(const mx_simd_plan *p, int64_t i0, int64_t i1, double *acc,
                  int32_t *acc_align, double *lo, uint8_t *inexact, uint8_t *bad)
{
    (void)p; (void)i0; (void)i1; (void)acc; (void)acc_align; (void)lo; (void)inexact;
    (void)bad;
}

#endif
