/*
 * gemm_simd_i32.c - the vectorised kernel's integer route: chains of steps
 * that cut their terms (F bounded, truncation, max alignment, C inside the
 * first step), for 16 output columns at once in int32 lanes.  It gives the
 * bits of gemm_simd.c's binary64 route (and dot.c's fast_step) in half the
 * lanes' worth of work, and applies to a whole call when
 * mx_simd_i32_prepare's checks hold:
 *   - every operand value is zero or exactly a binary32 in [2^-62, 2^62),
 *     and the widest significant parts of A and B (top bit to lowest set
 *     bit) take at most 24 bits together: every product is then an exact
 *     binary32 far from its range's ends;
 *   - every operand is below 2^(alignment + 1), so a product is below
 *     2^(E + 2) and a term cut to units of 2^q = 2^(E - F) below 2^(F + 2);
 *   - F <= 27 and F + 2 + ceil(log2(terms + 1)) <= 30: a step's sum (the
 *     accumulator below 2^(F + 1) units) is an integer below 2^30; or, the
 *     wide form, steps of at most 16 products with F + 2 +
 *     ceil(log2(terms / 2)) <= 31 and result formats of at most 27 fraction
 *     bits: each half of the products sums below 2^31 in int32, the total is
 *     formed in int64 and kept to 30 bits with a sticky bit (wide_sum);
 *   - the accumulator's formats keep at most 29 fraction bits.
 * Per step and lane:
 *   1. E = max(the accumulator's alignment, max_t ea_t + eb_t), q = E - F,
 *      and L = min_t la_t + lb_t: a product's lowest set bit is the sum of
 *      its factors', so it loses bits exactly when L < q;
 *   2. every product a_t b_t (exact in binary32) times 2^-q, converted to an
 *      integer toward zero: the cut term, exact; the accumulator, held as a
 *      30-bit integer S with value S 2^(accal - 29) (|S| in [2^29, 2^30), or
 *      0), is cut by an integer shift of q - accal + 29 >= 1 bits;
 *   3. their sum T rounds into the step's format by integer shifts: keep
 *      M + 1 bits below T's top bit, round with the mode, renormalise.
 * Lanes whose result falls outside the format's normal range, or is a zero
 * from cut bits, are marked bad, as gemm_simd.c does; dot.c redoes those.
 */
#include "gemm_simd.h"

#include <stdlib.h>

#if MX_HAVE_AVX512
#include <immintrin.h>

#define T512CD __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw,avx512cd")))
#define BIG (1 << 28)
#define I32_KBLOCK 128 /* K positions per pass over a panel (L1: 16 x 128 x 12 bytes) */

/* 16 bytes (0 / nonzero) as a lane mask, and back; only the lanes in `valid`. */
T512CD static inline __mmask16 bytes16(const uint8_t *b, __mmask16 valid)
{
    const __m128i v = _mm_maskz_loadu_epi8(valid, b);
    return _mm_test_epi8_mask(v, v);
}

T512CD static inline void store_bytes16(uint8_t *b, __mmask16 m, __mmask16 valid)
{
    _mm_mask_storeu_epi8(b, valid, _mm_maskz_set1_epi8(m, 1));
}

/* The largest significant width (top bit - lowest set bit + 1) of the n
 * values v (alignments e, lowest set bits l), or -1 when one of them breaks
 * the route's conditions (see the header). */
T512CD static int widest(const double *v, const int32_t *e, const int32_t *l, int64_t n)
{
    __m512i w = _mm512_setzero_si512();
    __mmask8 fail = 0;
    const __m512d lo = _mm512_set1_pd(0x1p-62), hi = _mm512_set1_pd(0x1p62);
    for (int64_t u = 0; u < n; u += 8) {
        const __mmask8 in = n - u >= 8 ? 0xFF : (__mmask8)((1u << (n - u)) - 1u);
        const __m512d x = _mm512_maskz_loadu_pd(in, v + u);
        const __m512d a = _mm512_abs_pd(x);
        const __mmask8 nz = _mm512_cmp_pd_mask(a, _mm512_setzero_pd(), _CMP_NEQ_UQ);
        const __m512d f = _mm512_cvtps_pd(_mm512_cvtpd_ps(x)); /* a binary32 round trip */
        const __m256i top = _mm512_cvtpd_epi32(_mm512_getexp_pd(a));
        fail |= nz & (_mm512_cmp_pd_mask(f, x, _CMP_NEQ_UQ) |
                      _mm512_cmp_pd_mask(a, lo, _CMP_LT_OQ) |
                      _mm512_cmp_pd_mask(a, hi, _CMP_GE_OQ) |
                      _mm256_cmpgt_epi32_mask(top, _mm256_maskz_loadu_epi32(in, e + u)));
        const __m256i wd = _mm256_sub_epi32(top, _mm256_maskz_loadu_epi32(in, l + u));
        w = _mm512_mask_max_epi32(w, nz, w, _mm512_castsi256_si512(wd));
    }
    return fail ? -1 : _mm512_reduce_max_epi32(w) + 1;
}

/* The route's arrays from the plan's: A's values as binary32, and B's values,
 * alignments and lowest set bits in panels of 16 columns (the plan's 8-column
 * panels two by two; a last lone panel gets padding columns beside it). */
T512CD static void i32_layout(const mx_simd_plan *p, int64_t m, float *a32, float *b32,
                              int32_t *eb, int32_t *lb)
{
    const int64_t kp = p->kp, np = p->np;
    int64_t u = 0;
    for (; u + 8 <= m * kp; u += 8)
        _mm256_storeu_ps(a32 + u, _mm512_cvtpd_ps(_mm512_loadu_pd(p->va + u)));
    for (; u < m * kp; u++)
        a32[u] = (float)p->va[u];
    for (int64_t j0 = 0; j0 < np; j0 += 16) {
        const int64_t s0 = (j0 / 8) * kp * 8, s1 = s0 + kp * 8, d = (j0 / 16) * kp * 16;
        const int two = j0 + 8 < np;
        for (int64_t pos = 0; pos < kp; pos++) {
            const __m256 v1 = two ? _mm512_cvtpd_ps(_mm512_loadu_pd(p->vb + s1 + pos * 8))
                                  : _mm256_setzero_ps();
            const __m256i e1 = two ? _mm256_loadu_si256((const __m256i *)(p->eb + s1 + pos * 8))
                                   : _mm256_set1_epi32(-2 * BIG);
            const __m256i l1 = two ? _mm256_loadu_si256((const __m256i *)(p->lb + s1 + pos * 8))
                                   : _mm256_set1_epi32(2 * BIG);
            _mm256_storeu_ps(b32 + d + pos * 16,
                             _mm512_cvtpd_ps(_mm512_loadu_pd(p->vb + s0 + pos * 8)));
            _mm256_storeu_ps(b32 + d + pos * 16 + 8, v1);
            _mm256_storeu_si256((__m256i *)(eb + d + pos * 16),
                                _mm256_loadu_si256((const __m256i *)(p->eb + s0 + pos * 8)));
            _mm256_storeu_si256((__m256i *)(eb + d + pos * 16 + 8), e1);
            _mm256_storeu_si256((__m256i *)(lb + d + pos * 16),
                                _mm256_loadu_si256((const __m256i *)(p->lb + s0 + pos * 8)));
            _mm256_storeu_si256((__m256i *)(lb + d + pos * 16 + 8), l1);
        }
    }
}

static int ceil_log2(int v)
{
    int lg = 0;
    while ((1 << lg) < v)
        lg++;
    return lg;
}

void *mx_simd_i32_prepare(mx_simd_plan *p, int64_t m)
{
    p->i32 = 0;
    if (!p->bounded || p->chunked || p->scale_blocks || p->c_after || p->fma32 ||
        !mx_simd_available() || !__builtin_cpu_supports("avx512cd"))
        return NULL;
    int max_terms = 0;
    for (int st = 0; st < p->nsteps; st++)
        max_terms = p->scnt[st] > max_terms ? p->scnt[st] : max_terms;
    /* narrow: every sum below 2^30; wide: each half of the products below 2^31,
     * rounded from at most 30 bits with a sticky bit two or more bits below M + 1.
     * Wide steps of more than 16 products (B200's 32 at F = 25) stay with the
     * binary64 route: at that F most of their steps cut nothing, and it sums
     * those with one fused multiply-add per product, faster than these loops. */
    const int narrow = p->F + 2 + ceil_log2(max_terms + 1) <= 30 && p->out.man <= 29 &&
                       p->step.man <= 29;
    const int wide = p->F + 2 + ceil_log2((max_terms + 1) / 2) <= 31 && max_terms <= 16 &&
                     p->out.man <= 27 && p->step.man <= 27;
    if (p->F < 0 || p->F > 27 || p->acc_man > 29 || !(narrow || wide))
        return NULL;
    const int64_t kp = p->kp, np = p->np, np16 = (np + 15) / 16 * 16;
    const int wa = widest(p->va, p->ea, p->la, m * kp);
    const int wb = widest(p->vb, p->eb, p->lb, np * kp);
    if (wa < 0 || wb < 0 || wa + wb > 24)
        return NULL;
    char *mem = malloc((size_t)(m * kp + np16 * kp) * sizeof(float) +
                       (size_t)(np16 * kp) * 2 * sizeof(int32_t));
    if (!mem)
        return NULL;
    float *a32 = (float *)mem, *b32 = a32 + m * kp;
    int32_t *eb = (int32_t *)(b32 + np16 * kp), *lb = eb + np16 * kp;
    i32_layout(p, m, a32, b32, eb, lb);
    p->a32 = a32;
    p->b32 = b32;
    p->eb16 = eb;
    p->lb16 = lb;
    p->i32 = narrow ? 1 : 2;
    return mem;
}

/* One step of one row for 16 lanes: the state S, accal (see the header),
 * inexact and bad lanes, updated in place. */
typedef struct i32_row {
    __m512i S, accal;
    __mmask16 inex, bad;
} i32_row;

/* The wide form's sum (see i32_step) for 8 lanes: a + b + c in int64, reduced
 * to at most 30 bits with the dropped bits OR-ed into the lowest kept one (they
 * lie at least two bits below the rounding position, so the rounding is
 * unchanged); *shift is the number of bits dropped. */
T512CD static inline __m256i wide_sum8(__m256i a, __m256i b, __m256i c, __m256i *shift)
{
    const __m512i t = _mm512_add_epi64(
        _mm512_add_epi64(_mm512_cvtepi32_epi64(a), _mm512_cvtepi32_epi64(b)),
        _mm512_cvtepi32_epi64(c));
    const __m512i mag = _mm512_abs_epi64(t);
    const __m512i sh = _mm512_max_epi64(
        _mm512_sub_epi64(_mm512_set1_epi64(34), _mm512_lzcnt_epi64(mag)),
        _mm512_setzero_si512());
    __m512i kept = _mm512_srlv_epi64(mag, sh);
    const __mmask8 sticky = _mm512_cmpneq_epi64_mask(_mm512_sllv_epi64(kept, sh), mag);
    kept = _mm512_mask_or_epi64(kept, sticky, kept, _mm512_set1_epi64(1));
    kept = _mm512_mask_sub_epi64(kept, _mm512_movepi64_mask(t), _mm512_setzero_si512(), kept);
    *shift = _mm512_cvtepi64_epi32(sh);
    return _mm512_cvtepi64_epi32(kept);
}

/* wide_sum8 over 16 lanes; *q grows by the bits dropped. */
T512CD static inline __m512i wide_sum(__m512i a, __m512i b, __m512i c, __m512i *q)
{
    __m256i s0, s1;
    const __m256i t0 = wide_sum8(_mm512_castsi512_si256(a), _mm512_castsi512_si256(b),
                                 _mm512_castsi512_si256(c), &s0);
    const __m256i t1 = wide_sum8(_mm512_extracti64x4_epi64(a, 1),
                                 _mm512_extracti64x4_epi64(b, 1),
                                 _mm512_extracti64x4_epi64(c, 1), &s1);
    *q = _mm512_add_epi32(*q, _mm512_inserti64x4(_mm512_castsi256_si512(s0), s1, 1));
    return _mm512_inserti64x4(_mm512_castsi256_si512(t0), t1, 1);
}

/* wide = 0: every sum fits 30 bits (F + 2 + log2(terms + 1) <= 30).  wide = 1:
 * the products go into two int32 sums of at most half the terms each (each
 * below 2^31) and the total is formed by wide_sum. */
T512CD static inline void i32_step(i32_row *w, const float *a, const int32_t *ea,
                                   const int32_t *la, const float *b, const int32_t *eb,
                                   const int32_t *lb, int nt, int F, const mx_simd_fmt *f,
                                   int32_t zero_align, const int wide)
{
    const __m512i zero = _mm512_setzero_si512();
    /* 1. E, q, and the products' lowest set bit */
    __m512i E = w->accal, L = _mm512_set1_epi32(4 * BIG);
    for (int t = 0; t < nt; t++) {
        E = _mm512_max_epi32(E, _mm512_add_epi32(_mm512_set1_epi32(ea[t]),
                                                 _mm512_loadu_si512(eb + t * 16)));
        L = _mm512_min_epi32(L, _mm512_add_epi32(_mm512_set1_epi32(la[t]),
                                                 _mm512_loadu_si512(lb + t * 16)));
    }
    w->bad |= _mm512_cmplt_epi32_mask(E, _mm512_set1_epi32(-BIG / 2));
    __m512i q = _mm512_sub_epi32(E, _mm512_set1_epi32(F));
    __mmask16 lost = _mm512_cmplt_epi32_mask(L, q);
    /* 2. the accumulator cut toward zero (d >= 1: E >= accal and F <= 28), then the
     * products, each cut by the conversion toward zero */
    const __m512i d = _mm512_sub_epi32(_mm512_add_epi32(q, _mm512_set1_epi32(29)), w->accal);
    const __m512i mag = _mm512_abs_epi32(w->S);
    const __m512i kept = _mm512_srlv_epi32(mag, d);
    lost |= _mm512_cmpneq_epi32_mask(_mm512_sllv_epi32(kept, d), mag);
    const __m512i accu = _mm512_mask_sub_epi32(kept, _mm512_movepi32_mask(w->S), zero, kept);
    const __m512 nq = _mm512_cvtepi32_ps(_mm512_sub_epi32(zero, q));
#define CUT_TERM(t) \
    _mm512_cvttps_epi32(_mm512_scalef_ps( \
        _mm512_mul_ps(_mm512_set1_ps(a[t]), _mm512_loadu_ps(b + (t) * 16)), nq))
    __m512i sum;
    if (!wide) {
        sum = accu;
        for (int t = 0; t < nt; t++)
            sum = _mm512_add_epi32(sum, CUT_TERM(t));
    } else {
        __m512i s0 = zero, s1 = zero;
        int t = 0;
        for (; t + 1 < nt; t += 2) {
            s0 = _mm512_add_epi32(s0, CUT_TERM(t));
            s1 = _mm512_add_epi32(s1, CUT_TERM(t + 1));
        }
        if (t < nt)
            s0 = _mm512_add_epi32(s0, CUT_TERM(t));
        sum = wide_sum(s0, s1, accu, &q);
    }
#undef CUT_TERM
    /* 3. the rounding: e = floor(log2 |T|) + q; the bits below M + 1 go */
    const __m512i T = sum, aT = _mm512_abs_epi32(T);
    const __mmask16 nz = _mm512_test_epi32_mask(aT, aT), neg = _mm512_movepi32_mask(T);
    const __m512i lz = _mm512_lzcnt_epi32(aT);
    const __m512i e = _mm512_sub_epi32(_mm512_add_epi32(q, _mm512_set1_epi32(31)), lz);
    w->bad |= (_mm512_cmplt_epi32_mask(e, _mm512_set1_epi32(f->emin)) |
               _mm512_cmpgt_epi32_mask(e, _mm512_set1_epi32(f->emax))) & nz;
    w->bad |= lost & ~nz; /* a zero from cut bits: the scalar path's */
    const __m512i sh = _mm512_max_epi32(
        _mm512_sub_epi32(_mm512_set1_epi32(31 - f->man), lz), zero);
    __m512i r = _mm512_srlv_epi32(aT, sh);
    const __m512i rem = _mm512_sub_epi32(aT, _mm512_sllv_epi32(r, sh));
    const __mmask16 rx = _mm512_test_epi32_mask(rem, rem);
    __mmask16 up;
    switch (f->rc) {
    case 0: { /* nearest, ties to even */
        const __m512i half = _mm512_srli_epi32(_mm512_sllv_epi32(_mm512_set1_epi32(1), sh), 1);
        up = _mm512_cmpgt_epi32_mask(rem, half) |
             (_mm512_cmpeq_epi32_mask(rem, half) & rx &
              _mm512_test_epi32_mask(r, _mm512_set1_epi32(1)));
        break;
    }
    case 1: up = rx & neg; break;  /* down: negative magnitudes grow */
    case 2: up = rx & ~neg; break; /* up: positive magnitudes grow */
    default: up = 0; break;
    }
    r = _mm512_mask_add_epi32(r, up, r, _mm512_set1_epi32(1));
    w->inex |= lost | (rx & nz);
    /* renormalise to [2^29, 2^30): r has 32 - lz - sh bits, or one more after a carry */
    __m512i Sn = _mm512_sllv_epi32(r, _mm512_sub_epi32(_mm512_add_epi32(lz, sh),
                                                       _mm512_set1_epi32(2)));
    const __mmask16 carry = _mm512_cmpeq_epi32_mask(Sn, _mm512_set1_epi32(1 << 30));
    Sn = _mm512_mask_srli_epi32(Sn, carry, Sn, 1);
    const __m512i al = _mm512_mask_add_epi32(e, carry, e, _mm512_set1_epi32(1));
    w->bad |= _mm512_cmpgt_epi32_mask(al, _mm512_set1_epi32(f->emax)) & nz;
    w->S = _mm512_mask_sub_epi32(Sn, neg, zero, Sn);
    w->accal = _mm512_mask_blend_epi32(nz, _mm512_set1_epi32(zero_align), al);
}

/* Rows i .. i + nr - 1, the 16 columns from j0 (`valid` of them real), the
 * instructions ins0 .. ins1 - 1: state from and back to the caller's arrays
 * (the accumulator's value and alignment, inexact and bad bytes). */
T512CD static void i32_tile(const mx_simd_plan *p, int64_t i, int nr, int64_t j0,
                            __mmask16 valid, int64_t ins0, int64_t ins1, double *accv,
                            int32_t *acca, uint8_t *inexv, uint8_t *badv)
{
    const int64_t kp = p->kp, np = p->np, ni = p->n_instr;
    const float *b32 = p->b32 + (j0 / 16) * kp * 16;
    const int32_t *eb = p->eb16 + (j0 / 16) * kp * 16, *lb = p->lb16 + (j0 / 16) * kp * 16;
    const __mmask8 v0 = (__mmask8)valid, v1 = (__mmask8)(valid >> 8);
    i32_row w[8];
    for (int r = 0; r < nr; r++) {
        const int64_t o = r * np + j0;
        w[r].accal = _mm512_maskz_loadu_epi32(valid, acca + o);
        /* S = acc * 2^(29 - accal): exact (at most 30 significant bits) */
        const __m512i sh = _mm512_sub_epi32(_mm512_set1_epi32(29), w[r].accal);
        const __m512d s0 = _mm512_scalef_pd(_mm512_maskz_loadu_pd(v0, accv + o),
                                            _mm512_cvtepi32_pd(_mm512_castsi512_si256(sh)));
        const __m512d s1 = _mm512_scalef_pd(_mm512_maskz_loadu_pd(v1, accv + o + 8),
                                            _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(sh, 1)));
        w[r].S = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtpd_epi32(s0)),
                                    _mm512_cvtpd_epi32(s1), 1);
        w[r].bad = bytes16(badv + o, valid) | (__mmask16)~valid;
        w[r].inex = bytes16(inexv + o, valid);
    }
    for (int64_t ins = ins0; ins < ins1; ins++) {
        const __mmask16 cs = bytes16(p->col_spec + ins * np + j0, valid);
        int live = 0;
        for (int r = 0; r < nr; r++) {
            w[r].bad |= p->row_spec[(i + r) * ni + ins] ? 0xFFFF : cs;
            live |= w[r].bad != 0xFFFF;
        }
        if (!live)
            break;
        for (int st = 0; st < p->nsteps; st++) {
            const int64_t k0 = ins * p->ik + p->soff[st];
            const mx_simd_fmt *f = st == p->nsteps - 1 ? &p->out : &p->step;
            for (int r = 0; r < nr; r++) {
                const int64_t ao = (i + r) * kp + k0;
                if (p->i32 == 2)
                    i32_step(&w[r], p->a32 + ao, p->ea + ao, p->la + ao, b32 + k0 * 16,
                             eb + k0 * 16, lb + k0 * 16, p->scnt[st], p->F, f, p->zero_align,
                             1);
                else
                    i32_step(&w[r], p->a32 + ao, p->ea + ao, p->la + ao, b32 + k0 * 16,
                             eb + k0 * 16, lb + k0 * 16, p->scnt[st], p->F, f, p->zero_align,
                             0);
            }
        }
    }
    for (int r = 0; r < nr; r++) {
        const int64_t o = r * np + j0;
        const __m512i sh = _mm512_sub_epi32(w[r].accal, _mm512_set1_epi32(29));
        const __m512d a0 = _mm512_scalef_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(w[r].S)),
                                            _mm512_cvtepi32_pd(_mm512_castsi512_si256(sh)));
        const __m512d a1 = _mm512_scalef_pd(
            _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(w[r].S, 1)),
            _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(sh, 1)));
        _mm512_mask_storeu_pd(accv + o, v0, a0);
        _mm512_mask_storeu_pd(accv + o + 8, v1, a1);
        _mm512_mask_storeu_epi32(acca + o, valid, w[r].accal);
        store_bytes16(inexv + o, w[r].inex, valid);
        store_bytes16(badv + o, w[r].bad, valid);
    }
}

T512CD void mx_simd_i32_rows(const mx_simd_plan *p, int64_t i0, int64_t i1, double *acc,
                             int32_t *acc_align, uint8_t *inexact, uint8_t *bad)
{
    const int64_t per = I32_KBLOCK / p->ik > 1 ? I32_KBLOCK / p->ik : 1;
    for (int64_t j0 = 0; j0 < p->np; j0 += 16) {
        const __mmask16 valid = p->np - j0 >= 16 ? 0xFFFF : 0x00FF;
        for (int64_t ins = 0; ins < p->n_instr; ins += per) {
            const int64_t ins1 = ins + per < p->n_instr ? ins + per : p->n_instr;
            for (int64_t i = i0; i < i1; i += 8) {
                const int64_t o = (i - i0) * p->np;
                const int nr = (int)(i1 - i < 8 ? i1 - i : 8);
                i32_tile(p, i, nr, j0, valid, ins, ins1, acc + o, acc_align + o, inexact + o,
                         bad + o);
            }
        }
    }
}

#else /* no x86-64 GNU C: the route never applies */

void *mx_simd_i32_prepare(mx_simd_plan *p, int64_t m)
{
    (void)m;
    p->i32 = 0;
    return NULL;
}

void mx_simd_i32_rows(const mx_simd_plan *p, int64_t i0, int64_t i1, double *acc,
                      int32_t *acc_align, uint8_t *inexact, uint8_t *bad)
{
    (void)p; (void)i0; (void)i1; (void)acc; (void)acc_align; (void)inexact; (void)bad;
}

#endif
