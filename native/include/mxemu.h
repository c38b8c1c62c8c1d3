/*
 * mxemu.h - the public C ABI of the mxemu native core.
 *
 * A bit-exact emulator of OCP MX (microscaling) formats: decode, encode with
 * seven rounding modes and three overflow policies, MX block quantization and
 * NVFP4 quantization.  The semantics are those of docs/CODECS.md; the Python
 * extension emulator._native and this C library are the same code.
 *
 * Build: GNU C11 (GCC or Clang) on a 64-bit target (unsigned __int128);
 * native/CMakeLists.txt builds libmxemu.so, `pip install .` ships it in the
 * Python package directory emulator/ (with this header in emulator/include).
 *
 * Conventions (chosen to be easy to call from SystemVerilog DPI-C, cffi, ctypes):
 *   - only <stdint.h> fixed-width types cross the interface;
 *   - every array comes with an explicit element count (int64_t, >= 0);
 *   - codes cross the interface as uint32_t, one code per element, in the low
 *     bits (the *_ex variants also take packed uint8_t / uint16_t arrays);
 *   - every function returns an int32_t status: MXEMU_OK (0), a non-negative
 *     policy status from the quantize kernels, or a negative MXEMU_ERR_*;
 *     nothing ever aborts, exits, prints or keeps global state;
 *   - output arrays are written only when the call returns a status >= 0
 *     (an argument error is detected before anything is written).
 *   - the functions are reentrant and thread-safe (no global state at all).
 */
#ifndef MXEMU_H
#define MXEMU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(MXEMU_BUILDING_SHARED)
#    define MXEMU_API __declspec(dllexport)
#  else
#    define MXEMU_API
#  endif
#elif defined(__GNUC__)
#  define MXEMU_API __attribute__((visibility("default")))
#else
#  define MXEMU_API
#endif

#define MXEMU_VERSION_MAJOR 0
#define MXEMU_VERSION_MINOR 1
#define MXEMU_VERSION_PATCH 0

/* ---------------------------------------------------------------------------
 * Enumerations.  The integer values are part of the ABI and identical to the
 * Python side (docs/BACKEND_CONTRACT.md).
 * ------------------------------------------------------------------------- */

/* mxemu_format.kind */
#define MXEMU_KIND_FLOAT 0
#define MXEMU_KIND_INT 1

/* mxemu_format.specials */
#define MXEMU_SPECIALS_IEEE 0   /* all-ones exponent: Inf (mantissa 0) or NaN      */
#define MXEMU_SPECIALS_FN 1     /* only the all-ones magnitude is NaN; no Inf       */
#define MXEMU_SPECIALS_FINITE 2 /* no special codes (FP6, FP4, INT8)               */
#define MXEMU_SPECIALS_FNUZ 3   /* the negative-zero code is the single NaN; no Inf */

/* rounding modes */
#define MXEMU_RNE 0 /* nearest, ties to even (even code magnitude)    */
#define MXEMU_RNA 1 /* nearest, ties away from zero                    */
#define MXEMU_RTZ 2 /* toward zero                                     */
#define MXEMU_RUP 3 /* toward +Inf                                     */
#define MXEMU_RDN 4 /* toward -Inf                                     */
#define MXEMU_RTO 5 /* round to odd (truncate, set the lowest bit if inexact) */
#define MXEMU_SR 6  /* stochastic, with caller-supplied random bits    */

/* overflow policies */
#define MXEMU_OVERFLOW_SATURATE 0
#define MXEMU_OVERFLOW_INF 1 /* only for formats with Inf */
#define MXEMU_OVERFLOW_NAN 2 /* only for formats with NaN */

/* MX shared-exponent (scale) modes */
#define MXEMU_SCALE_FLOOR 0
#define MXEMU_SCALE_CEIL 1
#define MXEMU_SCALE_EVEN 2
#define MXEMU_SCALE_RCEIL 3

/* NaN / Inf policies of MX quantization (SATURATE is valid for Inf only) */
#define MXEMU_POLICY_BLOCK 0
#define MXEMU_POLICY_SATURATE 1
#define MXEMU_POLICY_ERROR 2

/* MX shared-exponent range policy */
#define MXEMU_SCALE_RANGE_CLAMP 0
#define MXEMU_SCALE_RANGE_ERROR 1

/* NVFP4 block-scale lower clamp */
#define MXEMU_SCALE_FLOOR_MIN_SUBNORMAL 0
#define MXEMU_SCALE_FLOOR_ZERO 1

/* per-element flag bits (uint8_t) */
#define MXEMU_FLAG_INEXACT 0x01
#define MXEMU_FLAG_UNDERFLOW 0x02
#define MXEMU_FLAG_OVERFLOW 0x04
#define MXEMU_FLAG_INVALID 0x08
#define MXEMU_FLAG_SCALE_CLAMPED 0x10
#define MXEMU_FLAG_SATURATED 0x20

/* unpack classes */
#define MXEMU_CLASS_ZERO 0
#define MXEMU_CLASS_SUBNORMAL 1
#define MXEMU_CLASS_NORMAL 2
#define MXEMU_CLASS_INF 3
#define MXEMU_CLASS_NAN 4

/* Status codes.  0..3 are the quantize kernels' policy results (the caller
 * decides what to raise); negative values are argument errors. */
#define MXEMU_OK 0
#define MXEMU_STATUS_NAN_FOUND 1   /* nan_policy ERROR and a block holds a NaN     */
#define MXEMU_STATUS_INF_FOUND 2   /* inf_policy ERROR and a block holds an Inf    */
#define MXEMU_STATUS_SCALE_RANGE 3 /* scale_range ERROR and an exponent is outside */
#define MXEMU_ERR_NULL (-1)        /* a required pointer is NULL                   */
#define MXEMU_ERR_FORMAT (-2)      /* the format descriptor is invalid             */
#define MXEMU_ERR_ARG (-3)         /* an enum or size argument is invalid          */
#define MXEMU_ERR_CODE_RANGE (-4)  /* a code does not fit the format's bit width   */
#define MXEMU_ERR_LENGTH (-5)      /* a length is negative or not a block multiple */
#define MXEMU_ERR_UNSUPPORTED (-6) /* kept for ABI stability: every valid config is
                                      modelled, no call returns it now             */
#define MXEMU_ERR_VERSION (-7)     /* struct_size / version of a config mismatch    */
#define MXEMU_ERR_ALLOC (-8)       /* out of memory                                 */
#define MXEMU_ERR_RAND_SHORT (-9)  /* a stochastic rounding found its output's
                                      sequence of random words used up           */

/* ---------------------------------------------------------------------------
 * The format descriptor: a format is data.  Everything else (bit width, emin,
 * emax, the largest finite code, ...) is derived from these seven fields.
 *
 *   kind        MXEMU_KIND_FLOAT or MXEMU_KIND_INT
 *   exp_bits    float: 1..8 exponent bits; int: must be 0
 *   man_bits    float: 0..23 stored mantissa bits; int: fraction bits of the
 *               fixed-point value, 0..30 (INT8: 6); an int format has
 *               man_bits + 2 bits (sign, one integer bit, fraction)
 *   bias        float: exponent bias, -768..1023 (ignored for int)
 *   is_signed   1: a sign bit (the top bit); 0: unsigned (UE4M3, E8M0);
 *               int formats must be signed
 *   specials    MXEMU_SPECIALS_* (int formats: FINITE)
 *   subnormals  1: exponent field 0 holds zero and subnormals; 0: field 0 is
 *               a normal exponent and there is no zero (E8M0)
 *
 * A float format has is_signed + exp_bits + man_bits <= 32 bits.  The
 * concrete formats: E4M3 {0,4,3,7,1,1,1}, E5M2 {0,5,2,15,1,0,1},
 * E3M2 {0,3,2,3,1,2,1}, E2M3 {0,2,3,1,1,2,1}, E2M1 {0,2,1,1,1,2,1},
 * INT8 {1,0,6,0,1,2,1}, E8M0 {0,8,0,127,0,1,0}, UE4M3 {0,4,3,7,0,1,1},
 * FP16 {0,5,10,15,1,0,1}, BF16 {0,8,7,127,1,0,1}, FP32 {0,8,23,127,1,0,1}.
 * ------------------------------------------------------------------------- */
typedef struct mxemu_format {
    int32_t kind;
    int32_t exp_bits;
    int32_t man_bits;
    int32_t bias;
    int32_t is_signed;
    int32_t specials;
    int32_t subnormals;
} mxemu_format;

/* Derived properties of a format (filled by mxemu_format_info). */
typedef struct mxemu_format_props {
    int32_t bits;          /* total code width                                  */
    int32_t emin;          /* exponent of the smallest normal (0 for int)       */
    int32_t emax;          /* exponent of the largest finite power of two       */
    uint32_t max_code;     /* largest finite code magnitude (int: 2^(bits-1)-1) */
    uint32_t sign_mask;    /* the sign bit of a code (0 when unsigned)          */
    uint32_t code_mask;    /* 2^bits - 1                                        */
    int32_t has_inf;       /* 1 when the format has infinities                  */
    int32_t has_nan;       /* 1 when the format has NaN codes                   */
    int32_t has_neg_zero;  /* 1 when the format has a -0 code (signed, not fnuz) */
    uint32_t nan_code;     /* canonical positive NaN code (the FNUZ NaN for fnuz) */
} mxemu_format_props;

/* Validates a descriptor.  Returns MXEMU_OK or MXEMU_ERR_FORMAT
 * (MXEMU_ERR_NULL for a NULL pointer). */
MXEMU_API int32_t mxemu_format_check(const mxemu_format *fmt);

/* Validates `fmt` and fills `props` with its derived properties. */
MXEMU_API int32_t mxemu_format_info(const mxemu_format *fmt, mxemu_format_props *props);

/* ---------------------------------------------------------------------------
 * Codecs
 * ------------------------------------------------------------------------- */

/* Decodes n codes to exact float64 values.  NaN codes give a NaN carrying the
 * code's sign bit (the FNUZ NaN gives +NaN).  Returns MXEMU_ERR_CODE_RANGE
 * (and writes nothing) when a code is >= 2^bits. */
MXEMU_API int32_t mxemu_decode(const mxemu_format *fmt, const uint32_t *codes, int64_t n,
                               double *out);

/* Splits n codes into value = (-1)^sign * sig * 2^(exp - man_bits) and a class
 * (MXEMU_CLASS_*).  Normals have 2^man_bits <= sig < 2^(man_bits+1); zeros
 * and subnormals have exp = emin and sig < 2^man_bits; Inf and NaN codes
 * give exp = field - bias and sig = the stored mantissa field (no implicit
 * bit; the FNUZ NaN gives sign 0, exp = -bias, sig 0).  Int formats give
 * exp = 0 and sig = |two's-complement value| (class ZERO or NORMAL).  Any of
 * the four output pointers may be NULL to skip that output. */
MXEMU_API int32_t mxemu_unpack(const mxemu_format *fmt, const uint32_t *codes, int64_t n,
                               int64_t *sign, int64_t *exp, int64_t *sig, int64_t *cls);

/* Rounds n float64 values into the format (docs/CODECS.md section 3).
 *   rounding   MXEMU_RNE .. MXEMU_SR
 *   overflow   MXEMU_OVERFLOW_*; INF needs a format with Inf, NAN one with NaN
 *   rand_bits  n uint32 random words, required for MXEMU_SR (else may be NULL)
 *   sr_bits    1..32: how many low bits of each random word stochastic
 *              rounding uses (ignored by the other modes)
 *   int_min    int formats: 1 lets a negative result reach -2^(bits-1)
 * Writes codes[n] and flags[n] (MXEMU_FLAG_* bitmasks). */
MXEMU_API int32_t mxemu_encode(const mxemu_format *fmt, const double *values, int64_t n,
                               int32_t rounding, int32_t overflow, const uint32_t *rand_bits,
                               int32_t sr_bits, int32_t int_min, uint32_t *codes,
                               uint8_t *flags);

/* The same with packed code arrays: code_bytes is 1 (uint8_t), 2 (uint16_t)
 * or 4 (uint32_t) per code; an output array (encode) must be wide enough for
 * the format's codes, an input array may be of any of the three widths. */
MXEMU_API int32_t mxemu_decode_ex(const mxemu_format *fmt, const void *codes, int32_t code_bytes,
                                  int64_t n, double *out);
MXEMU_API int32_t mxemu_unpack_ex(const mxemu_format *fmt, const void *codes, int32_t code_bytes,
                                  int64_t n, int64_t *sign, int64_t *exp, int64_t *sig,
                                  int64_t *cls);
MXEMU_API int32_t mxemu_encode_ex(const mxemu_format *fmt, const double *values, int64_t n,
                                  int32_t rounding, int32_t overflow, const uint32_t *rand_bits,
                                  int32_t sr_bits, int32_t int_min, void *codes,
                                  int32_t code_bytes, uint8_t *flags);

/* ---------------------------------------------------------------------------
 * MX block quantization (docs/CODECS.md section 4)
 *
 * x holds n FP32 values; consecutive runs of block_size values form the
 * blocks (n must be a multiple of block_size; a row-major [rows, cols] array
 * with cols a multiple of block_size is simply n = rows * cols).  The scale
 * format is E8M0.  elem must be a format of at most 8 bits.
 *
 *   scale_mode        MXEMU_SCALE_FLOOR/CEIL/EVEN/RCEIL
 *   rounding          element rounding, MXEMU_RNE .. MXEMU_SR (always saturating)
 *   nan_policy        MXEMU_POLICY_BLOCK or MXEMU_POLICY_ERROR
 *   inf_policy        MXEMU_POLICY_BLOCK, _SATURATE or _ERROR
 *   zero_block_scale  the scale code of an all-zero block (0..255)
 *   scale_range       MXEMU_SCALE_RANGE_CLAMP or _ERROR
 *   flush_subnormals  1: FP32 subnormal inputs become signed zeros first
 *   int8_min          int elements: 1 allows -2^(bits-1) (INT8 code 0x80)
 *   rand_bits         n words for MXEMU_SR (else may be NULL); sr_bits 1..32
 * Outputs: codes[n], scales[n / block_size], flags[n].  Each element's flags
 * are those of its rounding (INEXACT, UNDERFLOW, OVERFLOW) plus SATURATED
 * when it was clamped to the largest magnitude (an Inf under inf_policy
 * SATURATE: INVALID | SATURATED), OR-ed with its block's SCALE_CLAMPED.  A
 * NaN block (scale 0xFF) has element codes 0 and INVALID on each Inf input.
 * Returns MXEMU_OK, or MXEMU_STATUS_NAN_FOUND / _INF_FOUND / _SCALE_RANGE for
 * the first block that hits an ERROR policy (outputs then unspecified), or a
 * negative MXEMU_ERR_* for invalid arguments.
 * ------------------------------------------------------------------------- */
MXEMU_API int32_t mxemu_quantize_mx(const float *x, int64_t n, const mxemu_format *elem,
                                    int32_t block_size, int32_t scale_mode, int32_t rounding,
                                    int32_t nan_policy, int32_t inf_policy,
                                    int32_t zero_block_scale, int32_t scale_range,
                                    int32_t flush_subnormals, int32_t int8_min,
                                    const uint32_t *rand_bits, int32_t sr_bits, uint8_t *codes,
                                    uint8_t *scales, uint8_t *flags);

/* ---------------------------------------------------------------------------
 * NVFP4 quantization (docs/CODECS.md section 5): E2M1 elements, UE4M3 block
 * scales, an FP32 tensor scale.
 *
 *   tensor_scale   T, a positive finite FP32 value
 *   block_size     >= 1; n must be a multiple of it
 *   scale_rounding rounding of the block scale S = UE4M3(amax / (6 T))
 *                  (MXEMU_RNE .. MXEMU_RTO; SR is not accepted here)
 *   scale_floor    MXEMU_SCALE_FLOOR_MIN_SUBNORMAL or _ZERO
 *   rounding       element rounding of x / (S T) (MXEMU_RNE .. MXEMU_RTO)
 * Outputs: codes[n] (E2M1), scales[n / block_size] (UE4M3), flags[n]: the
 * element rounding's flags, plus SATURATED on a clamped element.  A block
 * holding a NaN or an Inf gets the NaN scale 0x7F, element codes 0 and
 * INVALID on each Inf; with scale_floor ZERO, the nonzero elements of a
 * block whose scale rounds to 0 become signed zeros flagged
 * UNDERFLOW | INEXACT.
 * ------------------------------------------------------------------------- */
MXEMU_API int32_t mxemu_quantize_nvfp4(const float *x, int64_t n, float tensor_scale,
                                       int32_t block_size, int32_t scale_rounding,
                                       int32_t scale_floor, int32_t rounding, uint8_t *codes,
                                       uint8_t *scales, uint8_t *flags);

/* ---------------------------------------------------------------------------
 * Tensor-unit accumulation: dot products and GEMM (docs/NUMERICS.md).
 *
 * mxemu_accum_config mirrors the Python AccumConfig knob for knob.  Set
 * struct_size = sizeof(mxemu_accum_config) and version =
 * MXEMU_ACCUM_CONFIG_VERSION; a mismatch returns MXEMU_ERR_VERSION (fields
 * are only ever appended, with a new version).  "None" of the Python side is
 * 0 for instruction_k / terms_per_step / block_terms, -1 for frac_bits /
 * carry_bits / step_rounding, and has_* = 0 for the optional formats and
 * align_floor.  Result formats (output, register, step, product) must be
 * signed IEEE-style floats with subnormals (MXEMU_ERR_FORMAT otherwise).
 * ------------------------------------------------------------------------- */
#define MXEMU_ACCUM_CONFIG_VERSION 1

#define MXEMU_ACC_KSPLIT_SEQUENTIAL 0
#define MXEMU_ACC_KSPLIT_INTERLEAVED 1
#define MXEMU_ACC_KSPLIT_SCALE_BLOCKS 2
#define MXEMU_ACC_PEXP_OPERANDS 0
#define MXEMU_ACC_PEXP_VALUE 1
#define MXEMU_ACC_ALIGN_MAX 0
#define MXEMU_ACC_ALIGN_PRODUCTS_THEN_C 1
#define MXEMU_ACC_ALIGN_ANCHOR 2
#define MXEMU_ACC_DROPPED_TRUNCATE 0
#define MXEMU_ACC_DROPPED_FLOOR 1
#define MXEMU_ACC_DROPPED_STICKY 2
#define MXEMU_ACC_DROPPED_NEAREST 3
#define MXEMU_ACC_C_INSIDE 0
#define MXEMU_ACC_C_AFTER 1
#define MXEMU_ACC_SUBNORMALS_KEEP 0
#define MXEMU_ACC_SUBNORMALS_FLUSH 1
#define MXEMU_ACC_NAN_CANONICAL 0
#define MXEMU_ACC_NAN_ALL_ONES 1
#define MXEMU_ACC_OVERFLOW_INF 0
#define MXEMU_ACC_OVERFLOW_IEEE 1
#define MXEMU_ACC_OVERFLOW_SATURATE 2
#define MXEMU_ACC_ZERO_IEEE 0
#define MXEMU_ACC_ZERO_POSITIVE 1

typedef struct mxemu_accum_config {
    uint32_t struct_size;      /* sizeof(mxemu_accum_config)                        */
    uint32_t version;          /* MXEMU_ACCUM_CONFIG_VERSION                        */
    int32_t instruction_k;     /* products per instruction, 0: the whole K          */
    int32_t terms_per_step;    /* products per fused step, 0: the whole instruction */
    int32_t k_split;           /* MXEMU_ACC_KSPLIT_*                                */
    int32_t interleave;        /* lane granule of INTERLEAVED (>= 1)                */
    int32_t block_terms;       /* SCALE_BLOCKS block length, 0: the operands' block */
    int32_t has_product_format;
    mxemu_format product_format;
    int32_t product_rounding;  /* MXEMU_RNE .. MXEMU_RTO                            */
    int32_t product_exponent;  /* MXEMU_ACC_PEXP_*                                  */
    int32_t alignment;         /* MXEMU_ACC_ALIGN_*                                 */
    int32_t anchor_exp;        /* the exponent of ALIGN_ANCHOR                      */
    int32_t has_align_floor;
    int32_t align_floor;       /* exponent of a zero operand / zero C (NVIDIA -126) */
    int32_t frac_bits;         /* F, -1: unbounded (exact)                          */
    int32_t carry_bits;        /* -1: enough that nothing wraps                     */
    int32_t dropped;           /* MXEMU_ACC_DROPPED_*                               */
    int32_t c_entry;           /* MXEMU_ACC_C_*                                     */
    mxemu_format output_format;
    mxemu_format register_format; /* the format of C's and D's bits                 */
    int32_t rounding;          /* MXEMU_RNE .. MXEMU_SR                             */
    int32_t has_step_format;
    mxemu_format step_format;
    int32_t step_rounding;     /* -1: `rounding`                                    */
    int32_t sr_bits;           /* 1..32                                             */
    int32_t input_subnormals;  /* MXEMU_ACC_SUBNORMALS_*                            */
    int32_t output_subnormals; /* MXEMU_ACC_SUBNORMALS_*                            */
    int32_t nan;               /* MXEMU_ACC_NAN_*                                   */
    int32_t overflow;          /* MXEMU_ACC_OVERFLOW_*                              */
    int32_t zero_sign;         /* MXEMU_ACC_ZERO_*                                  */
} mxemu_accum_config;

/* D = A @ B + C, each element the model of docs/NUMERICS.md over the whole K
 * (instructions of instruction_k chain along K, one's result the next's C).
 *
 *   a_codes   m x k codes of a_fmt, row-major (K contiguous)
 *   b_codes   n x k codes of b_fmt: B TRANSPOSED, row-major (K contiguous)
 *   scale_fmt format of the block scales (E8M0, UE4M3; at most 8 bits); may be
 *             NULL when both scale arrays are NULL
 *   a_scales  NULL (no scale) or m x (k / a_block) scale codes, row-major
 *   b_scales  NULL or n x (k / b_block) scale codes (B transposed)
 *   c_fmt     the format of C's bits (usually config->register_format; any
 *             format, int formats included)
 *   c_codes   m x n codes of c_fmt, or NULL for +0
 *   threads   output rows are split across this many POSIX threads; <= 0: the
 *             environment variable MXEMU_THREADS, else the online CPU count.
 *             The result does not depend on it.
 * Outputs d_codes[m x n] (bits in register_format) and flags[m x n]
 * (MXEMU_FLAG_INEXACT, _UNDERFLOW, _OVERFLOW, _INVALID).
 * Returns MXEMU_OK (every valid config is modelled, operand significands of
 * any width included); MXEMU_ERR_NULL for a stochastic rounding
 * (MXEMU_SR anywhere in the config): its random words come through
 * mxemu_gemm_ex; or another negative MXEMU_ERR_*.  Argument errors write
 * nothing; an error found while computing (MXEMU_ERR_ALLOC,
 * MXEMU_ERR_RAND_SHORT) leaves every d_codes and flags entry 0. */
MXEMU_API int32_t mxemu_gemm(const mxemu_accum_config *cfg, int64_t m, int64_t n, int64_t k,
                             const mxemu_format *a_fmt, const uint32_t *a_codes,
                             const mxemu_format *b_fmt, const uint32_t *b_codes,
                             const mxemu_format *scale_fmt, const uint8_t *a_scales,
                             int32_t a_block, const uint8_t *b_scales, int32_t b_block,
                             const mxemu_format *c_fmt, const uint32_t *c_codes,
                             int32_t threads, uint32_t *d_codes, uint8_t *flags);

/* mxemu_gemm with the random words of stochastic rounding (MXEMU_SR as any
 * of the config's roundings): rand_bits holds one uint32_t per output (m x n,
 * rand_per_output = 0), reused by every rounding of that output's chain, or
 * rand_per_output words per output (m x n x rand_per_output), consumed in
 * order by the chain's SR roundings: every product's (K order, with an SR
 * product_rounding), then each instruction's steps and its add of C
 * (emulator.numerics.reference, _Rand).  How many words a chain takes
 * depends on the data (a zero sum or a special rounds nothing); when a
 * rounding finds its output's sequence used up, the call returns
 * MXEMU_ERR_RAND_SHORT with every d_codes and flags entry 0.  rand_bits may
 * be NULL when no rounding is SR. */
MXEMU_API int32_t mxemu_gemm_ex(const mxemu_accum_config *cfg, int64_t m, int64_t n, int64_t k,
                                const mxemu_format *a_fmt, const uint32_t *a_codes,
                                const mxemu_format *b_fmt, const uint32_t *b_codes,
                                const mxemu_format *scale_fmt, const uint8_t *a_scales,
                                int32_t a_block, const uint8_t *b_scales, int32_t b_block,
                                const mxemu_format *c_fmt, const uint32_t *c_codes,
                                const uint32_t *rand_bits, int64_t rand_per_output,
                                int32_t threads, uint32_t *d_codes, uint8_t *flags);

/* p independent dot products at once (golden vectors, scoreboards): dot r is
 * A's row r with B's row r, i.e. the diagonal of mxemu_gemm with m = n = p,
 * with the same arguments, rules and statuses except that
 *   b_codes   p x k codes of b_fmt (row r is dot r's second operand)
 *   a_scales  NULL or p x (k / a_block) codes; b_scales likewise
 *   c_codes   p codes of c_fmt (C of each dot), or NULL for +0
 * and d_codes[p], flags[p] hold one result per dot. */
MXEMU_API int32_t mxemu_dot_batch(const mxemu_accum_config *cfg, int64_t p, int64_t k,
                                  const mxemu_format *a_fmt, const uint32_t *a_codes,
                                  const mxemu_format *b_fmt, const uint32_t *b_codes,
                                  const mxemu_format *scale_fmt, const uint8_t *a_scales,
                                  int32_t a_block, const uint8_t *b_scales, int32_t b_block,
                                  const mxemu_format *c_fmt, const uint32_t *c_codes,
                                  int32_t threads, uint32_t *d_codes, uint8_t *flags);

/* mxemu_dot_batch with random words, as mxemu_gemm_ex (p outputs). */
MXEMU_API int32_t mxemu_dot_batch_ex(const mxemu_accum_config *cfg, int64_t p, int64_t k,
                                     const mxemu_format *a_fmt, const uint32_t *a_codes,
                                     const mxemu_format *b_fmt, const uint32_t *b_codes,
                                     const mxemu_format *scale_fmt, const uint8_t *a_scales,
                                     int32_t a_block, const uint8_t *b_scales, int32_t b_block,
                                     const mxemu_format *c_fmt, const uint32_t *c_codes,
                                     const uint32_t *rand_bits, int64_t rand_per_output,
                                     int32_t threads, uint32_t *d_codes, uint8_t *flags);

/* One output element: mxemu_gemm with m = n = 1 on one thread; c_code is C's
 * bits in c_fmt; writes *d_code and *flags. */
MXEMU_API int32_t mxemu_dot(const mxemu_accum_config *cfg, int64_t k, const mxemu_format *a_fmt,
                            const uint32_t *a_codes, const mxemu_format *b_fmt,
                            const uint32_t *b_codes, const mxemu_format *scale_fmt,
                            const uint8_t *a_scales, int32_t a_block, const uint8_t *b_scales,
                            int32_t b_block, const mxemu_format *c_fmt, uint32_t c_code,
                            uint32_t *d_code, uint8_t *flags);

/* ---------------------------------------------------------------------------
 * General block scaling (docs/SCHEMES.md section 1): blocks of any shape, four
 * scale conventions.  The specification is emulator/blockscale.py
 * `quantize_blocks`; this function gives the same codes, scales and flags.
 *
 *   x          the FP32 values of a row-major array of `ndim` dimensions
 *              (1..MXEMU_BLOCKS_MAX_NDIM) with extents shape[ndim] (>= 0)
 *   block      ndim block lengths (>= 1): a 1-D block of b along axis a is
 *              1 everywhere but b at a; a tile has several lengths > 1.  Every
 *              axis is zero-padded to whole blocks: padded[d] =
 *              ceil(shape[d] / block[d]) * block[d], grid[d] = padded[d] / block[d]
 *   elem       the element format, at most 8 bits
 *   scale_kind MXEMU_BSCALE_E8M0    s = 2^(floor(log2 amax) - emax_elem) (OCP floor)
 *              MXEMU_BSCALE_UE8M0   s = the least 2^k with amax <= max_elem * 2^k
 *              MXEMU_BSCALE_FP32    s = amax / max_elem rounded once into FP32 with
 *                                   scale_rounding (0 becomes the least subnormal)
 *              MXEMU_BSCALE_UE4M3   S = amax / (max_elem * T) rounded once into UE4M3
 *                                   with scale_rounding, saturating (0 becomes 0x01);
 *                                   elements are divided by S * T
 *              (amax: the block's largest finite magnitude; power-of-two exponents
 *              are clamped into [-127, 127] with MXEMU_FLAG_SCALE_CLAMPED)
 *   rounding, scale_rounding   MXEMU_RNE .. MXEMU_RTO (no SR)
 *   nan_policy MXEMU_POLICY_BLOCK: a block holding a NaN or an Inf gets the NaN
 *              scale (E8M0 0xFF, FP32 0x7FC00000, UE4M3 0x7F), element codes 0 and
 *              INVALID on each Inf; MXEMU_POLICY_ERROR: any NaN (Inf) in x returns
 *              MXEMU_STATUS_NAN_FOUND (_INF_FOUND) and nothing is written
 *   zero_block_scale  the scale code of an all-zero block, or < 0 for the
 *              default (E8M0 code 0 = 2^-127, FP32 1.0, UE4M3 0); otherwise a
 *              finite E8M0 code (0..254), a positive finite FP32 pattern, or a
 *              finite UE4M3 code (0..0x7E), else MXEMU_ERR_ARG
 *   tensor_scale  T for MXEMU_BSCALE_UE4M3, a positive finite FP32 value
 *              (ignored by the other kinds)
 * Outputs, row-major: codes and flags of the padded shape (uint8 each),
 * scales[grid] as uint32_t codes (E8M0 and UE4M3 codes, or FP32 bit
 * patterns).  Each element is x / s (x / (S T)), the exact quotient, rounded
 * once with `rounding` and saturating: its flags are the rounding's plus
 * SATURATED on a clamped element, OR-ed with its block's SCALE_CLAMPED.
 * Returns MXEMU_OK, an MXEMU_STATUS_* of nan_policy ERROR, or a negative
 * MXEMU_ERR_* (nothing written): ERR_ARG (ndim, an enum, zero_block_scale,
 * tensor_scale), ERR_LENGTH (a negative extent, a block < 1, sizes beyond
 * int64), ERR_FORMAT (elem), ERR_NULL, ERR_ALLOC (a scratch array of one
 * byte per block could not be allocated).
 * ------------------------------------------------------------------------- */
#define MXEMU_BLOCKS_MAX_NDIM 8

#define MXEMU_BSCALE_E8M0 0
#define MXEMU_BSCALE_UE8M0 1
#define MXEMU_BSCALE_FP32 2
#define MXEMU_BSCALE_UE4M3 3

MXEMU_API int32_t mxemu_quantize_blocks(const float *x, int32_t ndim, const int64_t *shape,
                                        const int64_t *block, const mxemu_format *elem,
                                        int32_t scale_kind, int32_t rounding,
                                        int32_t scale_rounding, int32_t nan_policy,
                                        int64_t zero_block_scale, float tensor_scale,
                                        uint8_t *codes, uint32_t *scales, uint8_t *flags);

/* ---------------------------------------------------------------------------
 * The promotion step of two-level accumulation (docs/SCHEMES.md section 2):
 * d[i] = RN(p[i] * s[i] + c[i]), the exact value rounded once into `fmt`
 * (an IEEE fused multiply-add), for any float64 inputs.
 *
 *   fmt        a float format (MXEMU_KIND_FLOAT), the outer accumulator's
 *   rounding   MXEMU_RNE .. MXEMU_RTO (no SR)
 *   nan        MXEMU_ACC_NAN_ALL_ONES: a NaN result is the all-ones positive
 *              pattern 2^(bits-1) - 1 (0x7FFFFFFF for FP32, as NVIDIA's FP32
 *              units); MXEMU_ACC_NAN_CANONICAL: the format's canonical +NaN
 *              (0 for a format without NaN)
 * Overflow gives Inf where the format has it (finite in the modes that round
 * toward zero), else the largest finite value; flags are those of the one
 * rounding.  A NaN input gives NaN with no flag; Inf * 0 and Inf - Inf give
 * NaN with MXEMU_FLAG_INVALID.  An exact zero sum is +0, or -0 when both
 * addends are -0 or the mode is RDN (unless both are +0).
 * Outputs codes[n] (in the low bits) and flags[n].  Returns MXEMU_OK,
 * MXEMU_ERR_FORMAT (an int format), MXEMU_ERR_ARG, MXEMU_ERR_LENGTH (n < 0)
 * or MXEMU_ERR_NULL; nothing is written on an error.
 * ------------------------------------------------------------------------- */
MXEMU_API int32_t mxemu_fma_round(const mxemu_format *fmt, int64_t n, const double *p,
                                  const double *s, const double *c, int32_t rounding,
                                  int32_t nan, uint32_t *codes, uint8_t *flags);

/* A short static string naming a status code (never NULL). */
/* ---------------------------------------------------------------------------
 * Handles, for SystemVerilog DPI-C and other callers that cannot lay out C
 * structs.  A format or an accumulation config lives behind a pointer (a DPI
 * chandle) that every function above accepts where it takes
 * `const mxemu_format *` or `const mxemu_accum_config *`.  Knobs are set by
 * the field names of mxemu_accum_config (case-insensitive), with the same
 * int values; `mxemu presets NAME --c` prints the calls that build a preset.
 * A DPI import of mxemu_dot, for example:
 *
 *   import "DPI-C" function int mxemu_dot(input chandle cfg, input longint k,
 *       input chandle a_fmt, input int unsigned a[32], input chandle b_fmt,
 *       input int unsigned b[32], input chandle scale_fmt,
 *       input byte unsigned a_scale[1], input int a_block,
 *       input byte unsigned b_scale[1], input int b_block, input chandle c_fmt,
 *       input int unsigned c, output int unsigned d, output byte unsigned flags);
 * ------------------------------------------------------------------------- */

/* A new format with these fields; NULL when mxemu_format_check rejects them
 * (or out of memory).  Free with mxemu_format_free. */
MXEMU_API mxemu_format *mxemu_format_new(int32_t kind, int32_t exp_bits, int32_t man_bits,
                                         int32_t bias, int32_t is_signed, int32_t specials,
                                         int32_t subnormals);

/* A new format by name: e4m3 e5m2 e3m2 e2m3 e2m1 int8 e8m0 ue4m3 fp16 bf16 tf32
 * fp32 e4m3fnuz e5m2fnuz e8m13 (case-insensitive); NULL for any other name. */
MXEMU_API mxemu_format *mxemu_format_named(const char *name);

MXEMU_API void mxemu_format_free(mxemu_format *fmt);

/* A new config holding the defaults of emulator.numerics.AccumConfig(): one
 * step over the whole K, exact (frac_bits -1), FP32 out, RNE, floor -126.
 * Free with mxemu_config_free. */
MXEMU_API mxemu_accum_config *mxemu_config_new(void);

/* Sets an int knob (any int32_t field but struct_size and version, e.g.
 * "frac_bits", "rounding", "c_entry"); MXEMU_ERR_ARG for an unknown name.
 * Values are checked when the config is used (mxemu_gemm / mxemu_dot). */
MXEMU_API int32_t mxemu_config_set(mxemu_accum_config *cfg, const char *knob, int32_t value);

/* Sets a format knob ("output_format", "register_format", "step_format",
 * "product_format") to a copy of *fmt; NULL removes an optional one (step,
 * product).  MXEMU_ERR_ARG for an unknown name, MXEMU_ERR_FORMAT for an
 * invalid format. */
MXEMU_API int32_t mxemu_config_set_format(mxemu_accum_config *cfg, const char *knob,
                                          const mxemu_format *fmt);

MXEMU_API void mxemu_config_free(mxemu_accum_config *cfg);

MXEMU_API const char *mxemu_status_string(int32_t status);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MXEMU_H */
