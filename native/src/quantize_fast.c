/*
 * quantize_fast.c - the vectorised element path of MX quantization.
 *
 * The same results as quantize.c's generic path (every element through
 * mx_round_pack), computed branch-free on FP32 bit patterns so that the
 * compiler vectorises them.  It applies to the inputs that dominate real
 * tensors: element formats that are signed with subnormals (every OCP MX
 * element format), blocks without NaN or Inf, and shared exponents that were
 * not clamped downward (so x / 2^k stays below 2^(emax+1)).  Every other
 * block is handed to mx_quantize_block_general.  The test suite checks this
 * path against the generic one bit for bit, and both against the Python
 * reference.
 *
 * How an element is rounded (fast_elem32).  Write x = sig * 2^(t - 23) with
 * t = field - 127 - k and sig the 24-bit significand.  Two cases:
 *  - a normal result (x / 2^k >= 2^emin): subtracting (127 + k - bias) << 23
 *    from the FP32 pattern rebiases its exponent field to the element's, so
 *    the bits above bit 23 - M are exactly the element's truncated code
 *    magnitude; rounding is "add the increment, shift right by 23 - M", and
 *    a carry runs from the mantissa into the exponent just as "magnitude + 1"
 *    does in round.c;
 *  - a subnormal result (or a zero): sig shifted right by
 *    23 - M + (emin - t) is the magnitude in quanta 2^(emin - M).
 * An int format has the fixed quantum 2^-M: only the second case, with the
 * shift 23 - M - t.  An FP32 subnormal input is frac * 2^-149, i.e. field 1
 * without the implicit bit.  Shifts are capped at 31: a value below 2^-8
 * quanta rounds like any other such value (only its sticky bit matters), and
 * 32-bit lanes suffice (the rebiased pattern of an 8-bit format is below
 * 2^31).  Stochastic rounding reads up to 32 bits below the quantum and uses
 * the 64-bit variant (fast_elem64).
 */
#include <string.h>

#include "mxemu_internal.h"

int mx_fast_fmt_init(mx_fast_fmt *ff, const mx_fmt *e, int int_min)
{
    memset(ff, 0, sizeof *ff);
    if (!e->is_signed || !e->subnormals || e->bits > 8)
        return 0;
    ff->man_bits = e->man_bits;
    ff->emin = e->is_int ? 0 : e->emin;
    ff->bias = e->is_int ? 1 : e->bias;
    ff->max_code = e->max_code;
    ff->lim_neg = e->max_code + (e->is_int && int_min ? 1u : 0u);
    ff->sign_shift = (uint32_t)e->bits - 1u;
    ff->code_mask = e->code_mask;
    ff->is_int = e->is_int;
    ff->neg_zero = e->has_neg_zero;
    return 1;
}

/* The "tiny block" case: k so small that an FP32 subnormal input could
 * scale to a value at or above the element's smallest normal (float), or
 * that the int tininess threshold drops below FP32's normal range.  Only
 * then does an FP32 subnormal input need the generic path. */
MX_INLINE int tiny_block(const mx_fast_fmt *ff, int32_t k)
{
    return ff->is_int ? 127 + k - ff->man_bits < 1 : ff->emin + 127 + k < 1;
}

int mx_fast_block_ok(const mx_fast_fmt *ff, int32_t k, int flush, int has_subnormal)
{
    return !(tiny_block(ff, k) && !flush && has_subnormal);
}

/* ------------------------------------------------------------------------
 * One element
 * --------------------------------------------------------------------- */

/* Per-block constants (see the file comment). */
typedef struct fast_blk {
    int32_t thr_normal; /* float: |x| bits >= this <=> x / 2^k >= 2^emin           */
    uint32_t rebias;    /* float: |x| bits - rebias = exponent|mantissa, element bias */
    int32_t c_var;      /* the variable path's shift: c_var - field (capped at 31)    */
    int32_t thr_tiny;   /* int: |x| bits < this <=> x / 2^k < 2^-M                    */
    uint32_t bf;        /* the block's flags                                          */
} fast_blk;

MX_INLINE fast_blk fast_blk_init(const mx_fast_fmt *ff, int32_t k, uint32_t bf)
{
    fast_blk kb;
    const int32_t s = 23 - ff->man_bits;
    kb.bf = bf;
    if (ff->is_int) {
        /* t = field - 127 - k; shift = 23 - M - t; tiny: t < -M. */
        const int32_t tiny_field = 127 + k - ff->man_bits;
        kb.c_var = s + 127 + k;
        kb.thr_tiny = tiny_field <= 0 ? 0 : tiny_field << 23;
        kb.thr_normal = 0;
        kb.rebias = 0;
    } else {
        /* Normal results: field - 127 - k >= emin.  When every FP32 normal
         * qualifies (thr_field < 1) only zeros take the variable path (an
         * FP32 subnormal there is a tiny block, see tiny_block), and any
         * valid shift serves them. */
        const int32_t thr_field = ff->emin + 127 + k;
        /* (At 255 no finite input is a normal result; the clamp also keeps
         * the shift inside int32 for formats with a very negative bias.) */
        kb.thr_normal = (thr_field < 1 ? 1 : thr_field > 255 ? 255 : thr_field) << 23;
        kb.c_var = thr_field < 1 ? 25 : s + thr_field;
        kb.rebias = (uint32_t)(127 + k - ff->bias) << 23;
        kb.thr_tiny = 0;
    }
    return kb;
}

/* The rounding increment of `mode` for a value V truncated at `sh` bits
 * (q = V >> sh, one = 2^sh): the magnitude is (V + inc) >> sh; RTO ORs the
 * sticky bit in afterwards.  The same decisions as round.c step 4b. */
MX_INLINE uint32_t round_inc(const int mode, uint32_t sign, uint32_t q, uint32_t one)
{
    switch (mode) {
    case MXEMU_RNE: return (one >> 1) - 1u + (q & 1u); /* a tie goes up only from odd */
    case MXEMU_RNA: return one >> 1;
    case MXEMU_RUP: return sign ? 0u : one - 1u;
    case MXEMU_RDN: return sign ? one - 1u : 0u;
    default: return 0u; /* RTZ, RTO */
    }
}

/* Steps 3-4 shared by both element variants: saturate, flags, sign. */
MX_INLINE void finish_elem(const mx_fast_fmt *ff, const fast_blk *kb, const int is_int,
                           uint32_t sign, uint32_t mag, uint32_t inexact, uint32_t tiny,
                           uint8_t *code_out, uint8_t *flag_out)
{
    /* 3. Saturation (elements always saturate) and flags. */
    const uint32_t lim = (is_int && sign) ? ff->lim_neg : ff->max_code;
    const uint32_t ovf = mag > lim;
    mag = ovf ? lim : mag;
    uint32_t fl = (inexact ? (tiny ? 3u : 1u) : 0u) | kb->bf; /* INEXACT, UNDERFLOW */
    fl |= ovf ? (MXEMU_FLAG_OVERFLOW | MXEMU_FLAG_INEXACT | MXEMU_FLAG_SATURATED) : 0u;

    /* 4. The sign: two's complement for ints; FNUZ has no -0. */
    uint32_t code;
    if (is_int) {
        code = (sign ? 0u - mag : mag) & ff->code_mask;
    } else {
        const uint32_t keep_sign = (mag != 0) | (uint32_t)ff->neg_zero;
        code = mag | ((sign & keep_sign) << ff->sign_shift);
    }
    *code_out = (uint8_t)code;
    *flag_out = (uint8_t)fl;
}

/* One element, 32-bit lanes; `mode`, `is_int` and `flush` are compile-time
 * constants at each call site, so every loop is specialised. */
MX_INLINE void fast_elem32(const mx_fast_fmt *ff, const fast_blk *kb, const int mode,
                           const int is_int, const int flush, uint32_t b, uint8_t *code_out,
                           uint8_t *flag_out)
{
    const uint32_t sign = b >> 31;
    const uint32_t a = b & MX_F32_ABS_MASK;
    const int32_t field = (int32_t)(a >> 23);

    /* 1. The value V and the shift: the significand and a variable shift,
     * or (floats, normal results) the rebiased pattern and 23 - M. */
    const uint32_t sig =
        field != 0 ? (a & 0x7FFFFFu) | 0x800000u : (flush ? 0u : (a & 0x7FFFFFu));
    int32_t sh = kb->c_var - (field != 0 ? field : 1);
    sh = sh > 31 ? 31 : sh;
    uint32_t V = sig;
    uint32_t tiny;
    if (is_int) {
        tiny = (int32_t)a < kb->thr_tiny;
    } else {
        const uint32_t normal = (int32_t)a >= kb->thr_normal;
        V = normal ? a - kb->rebias : V;
        sh = normal ? 23 - ff->man_bits : sh;
        tiny = !normal;
    }

    /* 2. Round: (V + increment) >> sh; the discarded bits decide. */
    const uint32_t one = 1u << sh;
    uint32_t mag = (V + round_inc(mode, sign, V >> sh, one)) >> sh;
    const uint32_t inexact = (V & (one - 1u)) != 0;
    if (mode == MXEMU_RTO)
        mag |= inexact; /* jamming */

    finish_elem(ff, kb, is_int, sign, mag, inexact, tiny, code_out, flag_out);
}

/* One element for stochastic rounding: 64-bit, one formula for both cases,
 * X = sig + (base << shift), shift = 23 - M + max(0, emin - t), base the
 * element's biased exponent above the mantissa for normal results (0 for
 * subnormal results, zeros and ints), shifts capped at 63.  Round up when
 * floor(rem / 2^shift * 2^R) + r >= 2^R, exactly as round.c. */
MX_INLINE void fast_elem64(const mx_fast_fmt *ff, const fast_blk *kb, const int is_int,
                           const int flush, uint32_t b, int32_t k, uint32_t rand,
                           int32_t sr_bits, uint8_t *code_out, uint8_t *flag_out)
{
    const int M = ff->man_bits;
    const uint32_t sign = b >> 31;
    const uint32_t a = b & MX_F32_ABS_MASK;
    const int32_t field = (int32_t)(a >> 23);
    const uint64_t sig =
        field != 0 ? (a & 0x7FFFFFu) | 0x800000u : (flush ? 0u : (a & 0x7FFFFFu));
    const int32_t t = (field != 0 ? field : 1) - 127 - k;
    const int32_t below = ff->emin - t;
    int32_t shift = 23 - M + (below > 0 ? below : 0);
    shift = shift > 63 ? 63 : shift;
    const uint64_t base =
        (below > 0 || field == 0) ? 0u : ((uint64_t)(uint32_t)(t + ff->bias - 1) << M);
    const uint64_t X = sig + (base << shift);
    const uint64_t one = 1ull << shift;
    const uint64_t rem = sig & (one - 1u);
    const uint32_t inexact = rem != 0;

    const int R = sr_bits;
    const uint64_t r = R == 32 ? rand : (rand & ((1u << R) - 1u));
    const uint64_t top = shift >= R ? rem >> (shift - R) : rem << (R - shift);
    uint64_t mag = (X >> shift) + ((top + r) >> R);
    mag = mag > 0xFFFFu ? 0xFFFFu : mag; /* far above any limit; keeps 32 bits */

    /* Tininess from the bit pattern (t above is field 1's for a subnormal). */
    const uint32_t tiny = is_int ? (int32_t)a < kb->thr_tiny : (int32_t)a < kb->thr_normal;
    finish_elem(ff, kb, is_int, sign, (uint32_t)mag, inexact, tiny, code_out, flag_out);
}

/* One block of `bs` elements (bs a compile-time 32 at the hot call site,
 * which gives straight-line vector code without loop remainders). */
MX_INLINE void fast_block(const mx_fast_fmt *ff, const int mode, const int is_int,
                          const int flush, const float *restrict xb, const uint32_t *rb,
                          int32_t sr_bits, int32_t bs, int32_t k, uint32_t bf,
                          uint8_t *restrict cb, uint8_t *restrict fb)
{
    const fast_blk kb = fast_blk_init(ff, k, bf);
    if (mode == MXEMU_SR) {
        for (int32_t i = 0; i < bs; i++)
            fast_elem64(ff, &kb, is_int, flush, mx_f32_bits(xb[i]), k, rb[i], sr_bits, cb + i,
                        fb + i);
    } else {
        for (int32_t i = 0; i < bs; i++)
            fast_elem32(ff, &kb, mode, is_int, flush, mx_f32_bits(xb[i]), cb + i, fb + i);
    }
}

/* The fast elements of one block for quantize.c's general block path
 * (portable code: those blocks are rare). */
void mx_fast_encode_block(const mx_ctx *cx, int64_t b, int32_t k, uint32_t block_flags)
{
    const int32_t bs = cx->block_size;
    const int64_t off = b * (int64_t)bs;
    const mx_fast_fmt *ff = &cx->ff;
    const float *xb = cx->x + off;
    const uint32_t *rb = cx->rand_bits ? cx->rand_bits + off : NULL;
    uint8_t *cb = cx->codes + off, *fb = cx->flags + off;
    const int32_t sr = cx->cfg.sr_bits;

#define MX_GENERAL_CASE(MODE)                                                                  \
    case MODE:                                                                                 \
        if (ff->is_int)                                                                        \
            cx->flush ? fast_block(ff, MODE, 1, 1, xb, rb, sr, bs, k, block_flags, cb, fb)     \
                      : fast_block(ff, MODE, 1, 0, xb, rb, sr, bs, k, block_flags, cb, fb);    \
        else                                                                                   \
            cx->flush ? fast_block(ff, MODE, 0, 1, xb, rb, sr, bs, k, block_flags, cb, fb)     \
                      : fast_block(ff, MODE, 0, 0, xb, rb, sr, bs, k, block_flags, cb, fb);    \
        break;

    switch (cx->cfg.mode) {
        MX_GENERAL_CASE(MXEMU_RNE)
        MX_GENERAL_CASE(MXEMU_RNA)
        MX_GENERAL_CASE(MXEMU_RTZ)
        MX_GENERAL_CASE(MXEMU_RUP)
        MX_GENERAL_CASE(MXEMU_RDN)
        MX_GENERAL_CASE(MXEMU_RTO)
        MX_GENERAL_CASE(MXEMU_SR)
    default: break;
    }
#undef MX_GENERAL_CASE
}

/* ------------------------------------------------------------------------
 * The fused block loop
 * --------------------------------------------------------------------- */

/* Instruction-set versions.  On x86-64 with GCC or Clang the fused loop is
 * compiled three times: portable, AVX2, and AVX-512 (preferring 512-bit
 * vectors); the best the CPU supports is chosen per call.  The arithmetic is
 * integer, so every version gives the same bits.  Define
 * MXEMU_NO_MULTIVERSION to build the portable version only. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && \
    !defined(MXEMU_NO_MULTIVERSION)
#define MX_X86_VERSIONS 1
#define MX_TARGET_AVX2 __attribute__((target("avx2")))
#if defined(__clang__)
#define MX_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#else
#define MX_TARGET_AVX512 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,prefer-vector-width=512")))
#endif
#else
#define MX_X86_VERSIONS 0
#endif

/* 0 portable, 1 AVX2, 2 AVX-512 (F, BW, VL, DQ). */
static int isa_level(void)
{
#if MX_X86_VERSIONS
    /* The CPU model is filled in by a runtime-library constructor before
     * any call can reach here, so no __builtin_cpu_init (and no data race). */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return 2;
    if (__builtin_cpu_supports("avx2"))
        return 1;
#endif
    return 0;
}

/* The largest magnitude pattern of a block (>= 0x7F800000: Inf or NaN),
 * after the optional flush; a branch-free max reduction. */
MX_INLINE uint32_t block_max(const float *restrict xb, int32_t bs, const int flush)
{
    uint32_t m = 0;
    for (int32_t i = 0; i < bs; i++) {
        uint32_t a = mx_f32_bits(xb[i]) & MX_F32_ABS_MASK;
        if (flush)
            a = a < 0x800000u ? 0u : a;
        m = a > m ? a : m;
    }
    return m;
}

/*
 * Blocks [0, n_blocks), each in one pass: the maximum, the shared exponent,
 * the elements.  A block the fast path cannot take as it stands (a NaN or
 * Inf, a shared exponent outside [-127, 127], a tiny block) goes to
 * mx_quantize_block_general, which also owns the ERROR policies.
 */
MX_INLINE int32_t fused_blocks(const mx_ctx *cx, int64_t n_blocks, const int mode,
                               const int is_int, const int flush, const int bs_const)
{
    const mx_fast_fmt ff = cx->ff; /* a local copy: no aliasing with the outputs */
    const int32_t bs = bs_const ? bs_const : cx->block_size;
    const int32_t scale_mode = cx->scale_mode, sr = cx->cfg.sr_bits, emax = cx->e.emax;
    const float *x = cx->x;
    for (int64_t b = 0; b < n_blocks; b++) {
        const int64_t off = b * (int64_t)bs;
        const float *xb = x + off;

        /* Steps 1-6 for the ordinary block; anything else goes general. */
        const uint32_t m = block_max(xb, bs, flush);
        int32_t k = 0;
        if (MX_LIKELY(m != 0)) {
            if (MX_UNLIKELY(m >= MX_F32_INF_BITS))
                goto general;
            /* FLOOR of a normal amax is its exponent field (inline: the common
             * case); everything else as quantize.c computes it. */
            k = (scale_mode == MXEMU_SCALE_FLOOR && m >= 0x800000u)
                    ? (int32_t)(m >> 23) - 127 - emax
                    : mx_shared_exponent(&cx->e, m, scale_mode);
            if (MX_UNLIKELY(k < -127 || k > 127 || (!flush && tiny_block(&ff, k))))
                goto general;
            cx->scales[b] = (uint8_t)(k + 127);
        } else {
            cx->scales[b] = (uint8_t)cx->zero_block_scale; /* all zero: k = 0 */
        }

        /* Step 7: the elements. */
        fast_block(&ff, mode, is_int, flush, xb, cx->rand_bits ? cx->rand_bits + off : NULL, sr,
                   bs, k, 0u, cx->codes + off, cx->flags + off);
        continue;
    general: {
        const int32_t st = mx_quantize_block_general(cx, b);
        if (st != MXEMU_OK)
            return st;
    }
    }
    return MXEMU_OK;
}

/* One function per (instruction set, mode, int/float); flush and the block
 * size 32 are specialised inside. */
#define MX_FUSED_BODY(NAME, ATTR, MODE, IS_INT)                                                \
    ATTR static int32_t NAME(const mx_ctx *cx, int64_t n_blocks)                               \
    {                                                                                          \
        if (cx->block_size == 32)                                                              \
            return cx->flush ? fused_blocks(cx, n_blocks, MODE, IS_INT, 1, 32)                  \
                             : fused_blocks(cx, n_blocks, MODE, IS_INT, 0, 32);                 \
        return cx->flush ? fused_blocks(cx, n_blocks, MODE, IS_INT, 1, 0)                       \
                         : fused_blocks(cx, n_blocks, MODE, IS_INT, 0, 0);                      \
    }

#define MX_FUSED_MODES(PREFIX, ATTR)                                                           \
    MX_FUSED_BODY(PREFIX##_rne_f, ATTR, MXEMU_RNE, 0)                                          \
    MX_FUSED_BODY(PREFIX##_rne_i, ATTR, MXEMU_RNE, 1)                                          \
    MX_FUSED_BODY(PREFIX##_rna_f, ATTR, MXEMU_RNA, 0)                                          \
    MX_FUSED_BODY(PREFIX##_rna_i, ATTR, MXEMU_RNA, 1)                                          \
    MX_FUSED_BODY(PREFIX##_rtz_f, ATTR, MXEMU_RTZ, 0)                                          \
    MX_FUSED_BODY(PREFIX##_rtz_i, ATTR, MXEMU_RTZ, 1)                                          \
    MX_FUSED_BODY(PREFIX##_rup_f, ATTR, MXEMU_RUP, 0)                                          \
    MX_FUSED_BODY(PREFIX##_rup_i, ATTR, MXEMU_RUP, 1)                                          \
    MX_FUSED_BODY(PREFIX##_rdn_f, ATTR, MXEMU_RDN, 0)                                          \
    MX_FUSED_BODY(PREFIX##_rdn_i, ATTR, MXEMU_RDN, 1)                                          \
    MX_FUSED_BODY(PREFIX##_rto_f, ATTR, MXEMU_RTO, 0)                                          \
    MX_FUSED_BODY(PREFIX##_rto_i, ATTR, MXEMU_RTO, 1)                                          \
    MX_FUSED_BODY(PREFIX##_sr_f, ATTR, MXEMU_SR, 0)                                            \
    MX_FUSED_BODY(PREFIX##_sr_i, ATTR, MXEMU_SR, 1)                                            \
    static const fused_fn PREFIX##_table[7][2] = {                                             \
        {PREFIX##_rne_f, PREFIX##_rne_i}, {PREFIX##_rna_f, PREFIX##_rna_i},                    \
        {PREFIX##_rtz_f, PREFIX##_rtz_i}, {PREFIX##_rup_f, PREFIX##_rup_i},                    \
        {PREFIX##_rdn_f, PREFIX##_rdn_i}, {PREFIX##_rto_f, PREFIX##_rto_i},                    \
        {PREFIX##_sr_f, PREFIX##_sr_i}};

typedef int32_t (*fused_fn)(const mx_ctx *, int64_t);

MX_FUSED_MODES(fused_portable, )
#if MX_X86_VERSIONS
MX_FUSED_MODES(fused_avx2, MX_TARGET_AVX2)
MX_FUSED_MODES(fused_avx512, MX_TARGET_AVX512)
#endif

int32_t mx_quantize_fused(const mx_ctx *cx, int64_t n_blocks)
{
    const int mode = cx->cfg.mode, is_int = cx->ff.is_int != 0;
    if (mode < MXEMU_RNE || mode > MXEMU_SR)
        return MXEMU_ERR_ARG;
    switch (isa_level()) {
#if MX_X86_VERSIONS
    case 2: return fused_avx512_table[mode][is_int](cx, n_blocks);
    case 1: return fused_avx2_table[mode][is_int](cx, n_blocks);
#endif
    default: return fused_portable_table[mode][is_int](cx, n_blocks);
    }
}
