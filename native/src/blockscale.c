/*
 * blockscale.c - general block scaling (docs/SCHEMES.md section 1): 1-D
 * blocks of any length along any axis and N-D tiles, with E8M0 (OCP floor),
 * UE8M0 (round up to a power of two), FP32 (amax / max_elem) and UE4M3
 * (NVFP4-style, with an FP32 tensor scale) block scales.
 *
 * The specification is emulator/blockscale.py `quantize_blocks`; this file
 * gives the same codes, scales and flags bit for bit.  Every rounding (FP32
 * and UE4M3 scales, every element) goes through mx_round_pack with the exact
 * rational value: amax / max_elem, amax / (max_elem * T), x / 2^k and
 * x / s (x / (S * T)) as an integer numerator and denominator, never a
 * rounded float quotient.  The reference rounds float64 quotients instead;
 * its module docstring proves they round the same way.  The one exception:
 * with power-of-two scales the elements may take quantize_fast.c's element
 * path (or the whole MX kernel, for 1-D blocks along the last axis), the
 * vectorised transcription of mx_round_pack that the test suite pins to it.
 *
 * Layout: a block is walked as segments, its rows along the last axis
 * (contiguous in x and in the outputs); 1-D blocks along the last axis are
 * one segment, a 128 x 128 tile 128 of them.
 */
#include <stdlib.h>
#include <string.h>

#include "mxemu_internal.h"

/* The exact value of a finite nonzero code as sig * 2^e (sig odd when the
 * value is not a power of two: trailing zeros moved into e, so that power-
 * of-two scales give denominators of 1 and the cheap path of round_pack). */
typedef struct exact_val {
    uint64_t sig;
    int32_t e;
} exact_val;

static exact_val exact_of_code(const mx_fmt *f, uint32_t code)
{
    int sign;
    int32_t exp;
    uint64_t sig;
    (void)mx_unpack_code(f, code, &sign, &exp, &sig);
    exact_val v = {sig, exp - f->man_bits};
    if (v.sig != 0) {
        const int tz = __builtin_ctzll(v.sig);
        v.sig >>= tz;
        v.e += tz;
    }
    return v;
}

/* The geometry of one call: logical shape, block, padded shape, grid. */
typedef struct bs_geom {
    int32_t nd;
    int64_t shape[MXEMU_BLOCKS_MAX_NDIM], block[MXEMU_BLOCKS_MAX_NDIM];
    int64_t grid[MXEMU_BLOCKS_MAX_NDIM];
    int64_t xstride[MXEMU_BLOCKS_MAX_NDIM]; /* strides of x (logical shape)     */
    int64_t pstride[MXEMU_BLOCKS_MAX_NDIM]; /* strides of codes (padded shape) */
    int64_t n_x;                            /* values in x                     */
    int64_t n_blocks, seg_len, n_segs;      /* segments: rows of a tile along the last axis */
} bs_geom;

/* One segment of a tile: n_valid values of x from x_off (the rest of the
 * segment, seg_len - n_valid positions, is zero padding), written to the
 * padded outputs from out_off. */
typedef struct bs_seg {
    int64_t x_off, out_off, n_valid;
} bs_seg;

/* The segments of one block in row-major order: an odometer over the
 * tile's leading axes that moves the offsets by the strides (no division
 * per segment).  lim[d] of the tile's rows along leading axis d lie inside
 * x; a segment with some coordinate si[d] >= lim[d] is all padding. */
typedef struct bs_iter {
    int64_t si[MXEMU_BLOCKS_MAX_NDIM];
    int64_t lim[MXEMU_BLOCKS_MAX_NDIM];
    int64_t outside;    /* how many leading axes have si[d] >= lim[d] */
    int64_t valid_last; /* the block's valid length along the last axis */
    bs_seg seg;         /* the current segment */
} bs_iter;

/* The first segment of block b (a row-major index into the grid). */
static void seg_first(const bs_geom *g, int64_t b, bs_iter *it)
{
    const int32_t last = g->nd - 1;
    const int64_t c0 = (b % g->grid[last]) * g->seg_len;
    b /= g->grid[last];
    it->seg.x_off = c0;
    it->seg.out_off = c0;
    it->outside = 0;
    for (int32_t d = last - 1; d >= 0; d--) {
        /* r0 < shape[d]: a block starts inside x (grid = ceil(shape / block)). */
        const int64_t r0 = (b % g->grid[d]) * g->block[d];
        b /= g->grid[d];
        it->si[d] = 0;
        it->lim[d] = g->shape[d] - r0 < g->block[d] ? g->shape[d] - r0 : g->block[d];
        it->seg.x_off += r0 * g->xstride[d];
        it->seg.out_off += r0 * g->pstride[d];
    }
    const int64_t left = g->shape[last] - c0;
    it->valid_last = left < g->seg_len ? left : g->seg_len;
    it->seg.n_valid = it->valid_last;
}

/* The next segment of the same block (after the last one: back to the first). */
static void seg_next(const bs_geom *g, bs_iter *it)
{
    for (int32_t d = g->nd - 2; d >= 0; d--) {
        if (++it->si[d] < g->block[d]) {
            it->seg.x_off += g->xstride[d];
            it->seg.out_off += g->pstride[d];
            it->outside += it->si[d] == it->lim[d];
            break;
        }
        /* Carry: back to the tile's first row along d. */
        it->si[d] = 0;
        it->seg.x_off -= (g->block[d] - 1) * g->xstride[d];
        it->seg.out_off -= (g->block[d] - 1) * g->pstride[d];
        it->outside -= it->lim[d] < g->block[d];
    }
    it->seg.n_valid = it->outside ? 0 : it->valid_last;
}

/* Everything a call works with besides the geometry. */
typedef struct bs_ctx {
    const float *x;
    uint8_t *codes, *flags;
    uint32_t *scales;
    mx_fmt e, f32, ue4m3;
    mx_round_cfg ecfg, scfg;   /* element rounding, scale rounding (both saturating) */
    mx_ctx fast;               /* quantize_fast.c's element path for power-of-two scales */
    int32_t fast_ok;           /* the element format suits that path                   */
    int32_t kind;              /* MXEMU_BSCALE_*                                      */
    uint32_t zero_scale;       /* the scale code of an all-zero block                 */
    exact_val max_elem;        /* the element format's largest finite magnitude       */
    exact_val t;               /* the UE4M3 kind's tensor scale                       */
} bs_ctx;

/* The values of x in a segment; NULL for a padding segment, whose offset
 * may lie beyond x. */
MX_INLINE const float *seg_x(const bs_ctx *cx, bs_seg sg)
{
    return sg.n_valid ? cx->x + sg.x_off : NULL;
}

/* What a scan of a block found. */
typedef struct bs_scan {
    int bad;           /* a NaN or an Inf */
    int has_subnormal; /* a nonzero FP32 subnormal */
    uint32_t amax;     /* largest finite magnitude bit pattern (0: all zero) */
} bs_scan;

static bs_scan scan_block(const bs_ctx *cx, const bs_geom *g, int64_t b)
{
    bs_scan r = {0, 0, 0};
    bs_iter it;
    seg_first(g, b, &it);
    for (int64_t s = 0; s < g->n_segs; s++, seg_next(g, &it)) {
        const bs_seg sg = it.seg;
        const float *xs = seg_x(cx, sg);
        for (int64_t i = 0; i < sg.n_valid; i++) {
            const uint32_t a = mx_f32_bits(xs[i]) & MX_F32_ABS_MASK;
            if (a >= MX_F32_INF_BITS)
                r.bad = 1;
            else if (a > r.amax)
                r.amax = a;
            r.has_subnormal |= a != 0 && a < 0x800000u;
        }
    }
    return r;
}

/* A NaN block: elements 0, INVALID on each Inf input, nothing elsewhere
 * (the padding included). */
static void write_nan_block(const bs_ctx *cx, const bs_geom *g, int64_t b)
{
    bs_iter it;
    seg_first(g, b, &it);
    for (int64_t s = 0; s < g->n_segs; s++, seg_next(g, &it)) {
        const bs_seg sg = it.seg;
        const float *xs = seg_x(cx, sg);
        memset(cx->codes + sg.out_off, 0, (size_t)g->seg_len);
        memset(cx->flags + sg.out_off, 0, (size_t)g->seg_len);
        for (int64_t i = 0; i < sg.n_valid; i++)
            if ((mx_f32_bits(xs[i]) & MX_F32_ABS_MASK) == MX_F32_INF_BITS)
                cx->flags[sg.out_off + i] = MXEMU_FLAG_INVALID;
    }
}

/* The scale of a nonzero finite block: its code, and the divisor of its
 * elements as (sig, e) so that element = x / (div_sig * 2^div_e). */
static uint32_t block_scale(const bs_ctx *cx, uint32_t amax, exact_val *div, uint8_t *bflags,
                            int *clamped_down)
{
    int sign;
    uint64_t a_sig;
    int32_t a_e;
    uint8_t ignored = 0; /* the scale's own rounding flags are not reported */
    (void)mx_split_float_bits(amax, &sign, &a_sig, &a_e);
    switch (cx->kind) {
    case MXEMU_BSCALE_E8M0:
    case MXEMU_BSCALE_UE8M0: {
        /* 1. floor(log2 amax) - emax_elem, or the smallest k with
         * amax <= max_elem * 2^k; clamped into E8M0's [-127, 127]. */
        int32_t k = mx_shared_exponent(&cx->e, amax, cx->kind == MXEMU_BSCALE_E8M0
                                                         ? MXEMU_SCALE_FLOOR
                                                         : MXEMU_SCALE_RCEIL);
        if (k < -127 || k > 127) {
            *clamped_down = k > 127;
            k = k < -127 ? -127 : 127;
            *bflags = MXEMU_FLAG_SCALE_CLAMPED;
        }
        div->sig = 1;
        div->e = k;
        return (uint32_t)(k + 127);
    }
    case MXEMU_BSCALE_FP32: {
        /* 2. s = FP32(amax / max_elem), never 0 (the least subnormal). */
        uint32_t c = mx_round_pack(&cx->f32, &cx->scfg, MX_VAL_FINITE, 0, a_sig,
                                   a_e - cx->max_elem.e, cx->max_elem.sig, 0, &ignored);
        if (c == 0)
            c = 1;
        *div = exact_of_code(&cx->f32, c);
        return c;
    }
    default: { /* MXEMU_BSCALE_UE4M3 */
        /* 3. S = UE4M3(amax / (max_elem * T)), saturating, never 0 (0x01);
         * the elements are divided by S * T. */
        uint32_t c = mx_round_pack(&cx->ue4m3, &cx->scfg, MX_VAL_FINITE, 0, a_sig,
                                   a_e - cx->max_elem.e - cx->t.e, cx->max_elem.sig * cx->t.sig,
                                   0, &ignored);
        if (c == 0)
            c = 1;
        const exact_val s = exact_of_code(&cx->ue4m3, c);
        div->sig = s.sig * cx->t.sig;
        div->e = s.e + cx->t.e;
        return c;
    }
    }
}

/* The elements of a finite block: x / (div_sig * 2^div_e) rounded once,
 * saturating; the padding as +0.  With a power-of-two divisor 2^k the valid
 * part of each segment may take quantize_fast.c's element path, which gives
 * mx_round_pack's codes and flags (the test suite pins the two together)
 * under its preconditions: a signed element format with subnormals, k not
 * clamped down (x / 2^k within the format's range), and no FP32 subnormal
 * input in a tiny block. */
static void encode_block(bs_ctx *cx, const bs_geom *g, int64_t b, exact_val div, uint8_t bflags,
                         int use_fast)
{
    bs_iter it;
    seg_first(g, b, &it);
    for (int64_t s = 0; s < g->n_segs; s++, seg_next(g, &it)) {
        const bs_seg sg = it.seg;
        const float *xs = seg_x(cx, sg);
        uint8_t *cs = cx->codes + sg.out_off, *fs = cx->flags + sg.out_off;
        int64_t i = 0;
        if (use_fast && sg.n_valid > 0) {
            cx->fast.x = xs;
            cx->fast.codes = cs;
            cx->fast.flags = fs;
            cx->fast.block_size = (int32_t)sg.n_valid;
            mx_fast_encode_block(&cx->fast, 0, div.e, bflags);
            i = sg.n_valid;
        }
        for (; i < g->seg_len; i++) {
            int sign = 0;
            uint64_t m = 0;
            int32_t ex = 0;
            uint8_t fl = 0;
            const int cls =
                i < sg.n_valid ? mx_split_float_bits(mx_f32_bits(xs[i]), &sign, &m, &ex)
                               : MX_VAL_ZERO;
            const uint32_t c =
                mx_round_pack(&cx->e, &cx->ecfg, cls, sign, m, ex - div.e, div.sig, 0, &fl);
            if (fl & (MXEMU_FLAG_OVERFLOW | MXEMU_FLAG_INVALID))
                fl |= MXEMU_FLAG_SATURATED;
            cs[i] = (uint8_t)c;
            fs[i] = (uint8_t)(fl | bflags);
        }
    }
}

/* Validates the scale kind's zero-block code; fills the default when < 0. */
static int32_t zero_scale_code(int32_t kind, int64_t req, uint32_t *out)
{
    switch (kind) {
    case MXEMU_BSCALE_E8M0:
    case MXEMU_BSCALE_UE8M0: /* a finite E8M0 code: 0..254 (default 2^-127) */
        *out = req < 0 ? 0u : (uint32_t)req;
        return req <= 254 ? MXEMU_OK : MXEMU_ERR_ARG;
    case MXEMU_BSCALE_FP32: /* a positive finite FP32 (default 1.0) */
        *out = req < 0 ? 0x3F800000u : (uint32_t)req;
        return req < 0 || (req >= 1 && req < (int64_t)MX_F32_INF_BITS) ? MXEMU_OK : MXEMU_ERR_ARG;
    default: /* UE4M3: a finite code, zero allowed (default 0) */
        *out = req < 0 ? 0u : (uint32_t)req;
        return req <= 0x7E ? MXEMU_OK : MXEMU_ERR_ARG;
    }
}

static const mxemu_format k_fp32 = {MXEMU_KIND_FLOAT, 8, 23, 127, 1, MXEMU_SPECIALS_IEEE, 1};
static const mxemu_format k_ue4m3 = {MXEMU_KIND_FLOAT, 4, 3, 7, 0, MXEMU_SPECIALS_FN, 1};

/* Checks the shape and block and fills the geometry (sizes must fit int64). */
static int32_t init_geom(bs_geom *g, int32_t ndim, const int64_t *shape, const int64_t *block)
{
    if (ndim < 1 || ndim > MXEMU_BLOCKS_MAX_NDIM)
        return MXEMU_ERR_ARG;
    if (shape == NULL || block == NULL)
        return MXEMU_ERR_NULL;
    g->nd = ndim;
    int64_t nx = 1, np = 1, nb = 1;
    const int64_t lim = INT64_MAX / 2;
    for (int32_t d = 0; d < ndim; d++) {
        if (shape[d] < 0 || block[d] < 1 || shape[d] > lim || block[d] > lim)
            return MXEMU_ERR_LENGTH;
        g->shape[d] = shape[d];
        g->block[d] = block[d];
        g->grid[d] = shape[d] / block[d] + (shape[d] % block[d] != 0);
        const int64_t padded = g->grid[d] * block[d];
        if ((padded && np > lim / padded) || (shape[d] && nx > lim / shape[d]) || padded > lim)
            return MXEMU_ERR_LENGTH;
        nx *= shape[d];
        np *= padded;
        nb *= g->grid[d];
    }
    int64_t xs = 1, ps = 1, segs = 1;
    for (int32_t d = ndim - 1; d >= 0; d--) {
        g->xstride[d] = xs;
        g->pstride[d] = ps;
        xs *= g->shape[d];
        ps *= g->grid[d] * g->block[d];
        if (d < ndim - 1)
            segs *= g->block[d];
    }
    g->n_x = nx;
    g->n_blocks = nb;
    g->seg_len = g->block[ndim - 1];
    g->n_segs = segs;
    return MXEMU_OK;
}

int32_t mxemu_quantize_blocks(const float *x, int32_t ndim, const int64_t *shape,
                              const int64_t *block, const mxemu_format *elem, int32_t scale_kind,
                              int32_t rounding, int32_t scale_rounding, int32_t nan_policy,
                              int64_t zero_block_scale, float tensor_scale, uint8_t *codes,
                              uint32_t *scales, uint8_t *flags)
{
    /* 1. Validate every argument before writing anything. */
    bs_geom g;
    bs_ctx cx;
    memset(&cx, 0, sizeof cx);
    int32_t st = init_geom(&g, ndim, shape, block);
    if (st != MXEMU_OK)
        return st;
    if (elem == NULL)
        return MXEMU_ERR_NULL;
    st = mx_fmt_init(&cx.e, elem);
    if (st != MXEMU_OK)
        return st;
    if (cx.e.bits > 8)
        return MXEMU_ERR_FORMAT; /* element codes travel as uint8 */
    (void)mx_fmt_init(&cx.f32, &k_fp32);
    (void)mx_fmt_init(&cx.ue4m3, &k_ue4m3);
    if (scale_kind < MXEMU_BSCALE_E8M0 || scale_kind > MXEMU_BSCALE_UE4M3)
        return MXEMU_ERR_ARG;
    /* SR needs random words, which this kernel does not take. */
    if (rounding < MXEMU_RNE || rounding > MXEMU_RTO || scale_rounding < MXEMU_RNE ||
        scale_rounding > MXEMU_RTO)
        return MXEMU_ERR_ARG;
    if (nan_policy != MXEMU_POLICY_BLOCK && nan_policy != MXEMU_POLICY_ERROR)
        return MXEMU_ERR_ARG;
    st = zero_scale_code(scale_kind, zero_block_scale, &cx.zero_scale);
    if (st != MXEMU_OK)
        return st;
    if (scale_kind == MXEMU_BSCALE_UE4M3) {
        int t_sign = 0;
        if (mx_split_float_bits(mx_f32_bits(tensor_scale), &t_sign, &cx.t.sig, &cx.t.e) !=
                MX_VAL_FINITE ||
            t_sign)
            return MXEMU_ERR_ARG; /* T must be positive and finite */
    }
    if (g.n_blocks > 0 && (x == NULL || codes == NULL || scales == NULL || flags == NULL))
        return MXEMU_ERR_NULL;
    cx.x = x;
    cx.codes = codes;
    cx.scales = scales;
    cx.flags = flags;
    cx.kind = scale_kind;
    cx.ecfg = (mx_round_cfg){rounding, MXEMU_OVERFLOW_SATURATE, 32, 0};
    cx.scfg = (mx_round_cfg){scale_rounding, MXEMU_OVERFLOW_SATURATE, 32, 0};
    cx.max_elem = exact_of_code(&cx.e, cx.e.max_code);
    cx.fast.cfg = cx.ecfg;
    cx.fast_ok = (scale_kind == MXEMU_BSCALE_E8M0 || scale_kind == MXEMU_BSCALE_UE8M0) &&
                 mx_fast_fmt_init(&cx.fast.ff, &cx.e, 0);

    /* 2. nan_policy ERROR: any NaN or Inf fails the call before a write
     * (every value of x belongs to some block). */
    if (nan_policy == MXEMU_POLICY_ERROR) {
        int32_t found = MXEMU_OK;
        for (int64_t i = 0; i < g.n_x && found != MXEMU_STATUS_NAN_FOUND; i++) {
            const uint32_t a = mx_f32_bits(x[i]) & MX_F32_ABS_MASK;
            if (a > MX_F32_INF_BITS)
                found = MXEMU_STATUS_NAN_FOUND;
            else if (a == MX_F32_INF_BITS)
                found = MXEMU_STATUS_INF_FOUND;
        }
        if (found != MXEMU_OK)
            return found;
    }

    /* 3. Power-of-two scales in 1-D blocks along the last axis, with no
     * padding there: the layout of MX quantization, so its fused vectorised
     * kernel does the work (the same steps: E8M0 is its FLOOR rule, UE8M0
     * its RCEIL, NaN and Inf blocks, clamping, zero blocks). */
    const int64_t last = g.shape[g.nd - 1];
    if ((scale_kind == MXEMU_BSCALE_E8M0 || scale_kind == MXEMU_BSCALE_UE8M0) &&
        g.n_segs == 1 && last % g.seg_len == 0 && g.seg_len <= INT32_MAX && g.n_blocks > 0) {
        uint8_t *s8 = (uint8_t *)malloc((size_t)g.n_blocks);
        if (s8 == NULL)
            return MXEMU_ERR_ALLOC;
        st = mx_quantize_mx_impl(x, g.n_blocks * g.seg_len, elem, (int32_t)g.seg_len,
                                 scale_kind == MXEMU_BSCALE_E8M0 ? MXEMU_SCALE_FLOOR
                                                                 : MXEMU_SCALE_RCEIL,
                                 rounding, MXEMU_POLICY_BLOCK, MXEMU_POLICY_BLOCK,
                                 (int32_t)cx.zero_scale, MXEMU_SCALE_RANGE_CLAMP, 0, 0, NULL, 32,
                                 codes, s8, flags, 1);
        for (int64_t b = 0; b < g.n_blocks; b++)
            scales[b] = s8[b];
        free(s8);
        return st;
    }

    /* 4. Block by block: scan, scale, elements. */
    const uint32_t nan_scale = scale_kind == MXEMU_BSCALE_FP32    ? 0x7FC00000u
                               : scale_kind == MXEMU_BSCALE_UE4M3 ? cx.ue4m3.nan_mag
                                                                   : 0xFFu;
    for (int64_t b = 0; b < g.n_blocks; b++) {
        const bs_scan sc = scan_block(&cx, &g, b);
        if (sc.bad) { /* a NaN block: NaN scale, zero elements */
            scales[b] = nan_scale;
            write_nan_block(&cx, &g, b);
            continue;
        }
        exact_val div = {1, 0};
        uint8_t bflags = 0;
        int clamped_down = 0;
        if (sc.amax == 0) {
            /* An all-zero block: its elements are signed zeros whatever the
             * divisor, so only the scale code matters. */
            scales[b] = cx.zero_scale;
        } else {
            scales[b] = block_scale(&cx, sc.amax, &div, &bflags, &clamped_down);
        }
        const int use_fast = cx.fast_ok && !clamped_down && g.seg_len <= INT32_MAX &&
                             mx_fast_block_ok(&cx.fast.ff, div.e, 0, sc.has_subnormal);
        encode_block(&cx, &g, b, div, bflags, use_fast);
    }
    return MXEMU_OK;
}
