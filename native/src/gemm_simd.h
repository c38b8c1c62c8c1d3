/*
 * gemm_simd.h - the GEMM kernel vectorised across output columns (gemm_simd.c),
 * used by dot.c for the configurations it covers (see mx_simd_plan).
 *
 * It computes, for 8 output columns at once, the same steps as dot.c's
 * fast_step: the largest alignment exponent E of the step, every term cut to
 * a multiple of 2^(E - F) (or no cut when F is unbounded), their exact sum,
 * one rounding into the step's format; with C after the steps, the steps
 * chain from +0 and C joins in one exact add rounded into the output format.
 * Values travel as IEEE binary64,
 * where every quantity involved is exact: products of operands of at most 53
 * significant bits in total, terms cut to integers below 2^(F + 4) times the
 * number of terms (the plan requires F + 4 + log2(terms + 1) <= 53), sums of
 * such integers.  Rounding into the step format is an integer rounding of the
 * value scaled to [2^M, 2^(M+1)) with the mode as an instruction immediate.
 *
 * Calls whose steps all cut their terms at an F small enough for int32 sums
 * (with an int64 total for steps of up to 16 products), on operands whose
 * products are exact binary32s, run instead in 16 int32 lanes
 * (gemm_simd_i32.c, the same steps with integer arithmetic).
 *
 * An exact zero step result is the next step's zero accumulator.  Anything
 * outside that (a NaN or Inf operand, a zero from cut bits, a non-normal step
 * result, an exponent out of range, an unbounded sum too wide for binary64, a
 * chain that ends at zero) marks the output "bad"; dot.c recomputes those
 * outputs from scratch with
 * its general path, so the kernel never has to be complete, only exact where
 * it answers.
 */
#ifndef MXEMU_GEMM_SIMD_H
#define MXEMU_GEMM_SIMD_H

#include <stdint.h>

/* Where the kernel is compiled (x86-64 GNU C, unless MXEMU_NO_MULTIVERSION asks
 * for the portable build only): MX_HAVE_AVX512 is 1 and MX_T512 marks a
 * function built for AVX-512 F/DQ/VL/BW, which runs only where
 * mx_simd_available() says so.  One guard for gemm_simd.c, gemm_simd_i32.c and
 * dot.c's vector paths. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && \
    !defined(MXEMU_NO_MULTIVERSION)
#define MX_HAVE_AVX512 1
#define MX_T512 __attribute__((target("avx512f,avx512dq,avx512vl,avx512bw")))
#else
#define MX_HAVE_AVX512 0
#define MX_T512
#endif

#define MX_SIMD_MAX_BLOCKS 64

/* A step's result format and rounding: M, emin, emax, and the mode as the
 * rounding-control field of an integer rounding (0 nearest-even, 1 down,
 * 2 up, 3 toward zero). */
typedef struct mx_simd_fmt {
    int32_t man, emin, emax, rc;
} mx_simd_fmt;

/* Everything the kernel reads.  K is in the step order of an instruction:
 * position ins * ik + u holds the product the instruction's layout puts at
 * u, so step st of instruction ins is positions ins*ik + soff[st] .. + scnt[st].
 * Padding positions (past K) and padding columns (past N, up to np, a
 * multiple of 8) have value 0, alignment -2^29 and lsb +2^29: they never
 * count. */
typedef struct mx_simd_plan {
    int64_t kp, np, ik, n_instr;
    int32_t nsteps;
    const int32_t *soff, *scnt;
    int32_t bounded, F;  /* frac_bits (bounded) or unbounded             */
    int32_t acc_man;     /* a bound on the accumulator's mantissa bits   */
    int32_t c_after;     /* C joins after the steps (else in the first)  */
    int32_t chunked;     /* one unbounded step per instruction, cut into
                          * chunks ("steps" here) summed exactly apart  */
    int32_t scale_blocks; /* the "steps" are blocks whose exact sums form
                           * the instruction's one step (k_split
                           * SCALE_BLOCKS; nsteps <= MX_SIMD_MAX_BLOCKS)  */
    int32_t zero_align;  /* the alignment exponent of a zero accumulator */
    mx_simd_fmt step, out;
    /* fma32: every step is one product and the accumulator, summed exactly and
     * rounded once into IEEE binary32 (F unbounded, output = register =
     * binary32, C inside), and every operand is exactly a binary32: the step is
     * then the IEEE binary32 fused multiply-add with the step's rounding, run
     * on va32 / vb32 (the layout of va / vb) */
    int32_t fma32;
    const float *va32, *vb32;
    /* i32: the integer route of gemm_simd_i32.c runs every step (set by
     * mx_simd_i32_prepare, with A's values as binary32 in va's layout and B's
     * values, alignments and lowest set bits in panels of 16 columns:
     * (j0 / 16) * kp * 16 + pos * 16 + lane, padding columns past np) */
    int32_t i32;
    const float *a32, *b32;
    const int32_t *eb16, *lb16;
    const double *va;            /* m x kp: A's values (scales folded in)  */
    const int32_t *ea, *la;      /* m x kp: alignment exponents, lowest set bits */
    const double *vb;            /* B's values in panels of 8 columns: the  */
    const int32_t *eb, *lb;      /* lane l of column j0 + l at K position   */
                                 /* pos is (j0 / 8) * kp * 8 + pos * 8 + l  */
    /* per step (index ins * nsteps + st, nst of them): the largest alignment
     * and the smallest lsb of A's row (m x nst) and of each B column (panels:
     * (j0 / 8) * nst * 8 + step * 8 + lane) */
    const int32_t *amax_e, *amin_l, *bmax_e, *bmin_l;
    /* the same places: the second lowest lsb and the lowest's position in the
     * step (a tighter bound on the products' lowest bit, see gemm_simd.c);
     * built for bounded F without chunks or scale blocks (the routes that read
     * them), elsewhere the lowest lsb and 0: a weaker bound that holds too */
    const int32_t *amin2_l, *amin_at, *bmin2_l, *bmin_at;
    const uint8_t *row_spec;     /* m x n_instr: a NaN/Inf in A's slice    */
    const uint8_t *col_spec;     /* n_instr x np: a NaN/Inf in B's slice   */
} mx_simd_plan;

/* 1 when the CPU runs the kernel (x86-64 with AVX-512 F/DQ/VL/BW). */
int mx_simd_available(void);

/* 1 when the fma32 route may run here: the kernel is available and this
 * thread's MXCSR neither treats subnormal inputs as zero nor flushes results
 * (the binary32 fused multiply-add must be IEEE's). */
int mx_simd_fma32_available(void);

/* Rows i0 .. i1 - 1, every column j < np; the arrays are (i1 - i0) x np,
 * row-major.  acc and acc_align hold the accumulator entering (C's value
 * and alignment exponent) and leave holding the result's; lo is scratch for
 * a long exact step's low part; inexact (zeroed by the caller) is set to 1
 * where a step was inexact; bad is set to 1 where the kernel cannot answer
 * (the caller recomputes those). */
void mx_simd_rows(const mx_simd_plan *p, int64_t i0, int64_t i1, double *acc,
                  int32_t *acc_align, double *lo, uint8_t *inexact, uint8_t *bad);

/* Sets p->i32 (and its arrays, in the one allocation returned, which the
 * caller frees after the GEMM) when the integer route covers the whole call
 * (m rows of A): see gemm_simd_i32.c.  NULL and p->i32 = 0 otherwise. */
void *mx_simd_i32_prepare(mx_simd_plan *p, int64_t m);

/* mx_simd_rows for a plan with p->i32 set (same arguments, no scratch). */
void mx_simd_i32_rows(const mx_simd_plan *p, int64_t i0, int64_t i1, double *acc,
                      int32_t *acc_align, uint8_t *inexact, uint8_t *bad);

#endif /* MXEMU_GEMM_SIMD_H */
