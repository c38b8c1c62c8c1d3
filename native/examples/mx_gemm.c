/*
 * mx_gemm.c - a testbench-style use of libmxemu from C: quantize two FP32
 * matrices to MXFP8 (E4M3 elements, blocks of 32 along K, E8M0 scales), run
 * the B200 mxf8f6f4 accumulation model on them, and print D's FP32 bit
 * patterns with their flags.  Build and run (see native/README.md):
 *
 *   INC=$(mxemu native-path --include); LIB=$(dirname $(mxemu native-path))
 *   cc -std=c11 -O2 mx_gemm.c -I"$INC" -L"$LIB" -Wl,-rpath,"$LIB" -lmxemu -o mx_gemm
 *   ./mx_gemm
 *
 * The inputs are a fixed, reproducible pattern so the output can be checked
 * against the Python model (tests/test_c_example.py does exactly that).
 */
#include <stdio.h>
#include <string.h>

#include "mxemu.h"

enum { M = 2, N = 3, K = 64, BLOCK = 32 };

int main(void)
{
    /* 1. The formats, as data: kind, exp_bits, man_bits, bias, is_signed,
     *    specials, subnormals (mxemu.h, mxemu_format). */
    const mxemu_format e4m3 = {MXEMU_KIND_FLOAT, 4, 3, 7, 1, MXEMU_SPECIALS_FN, 1};
    const mxemu_format e8m0 = {MXEMU_KIND_FLOAT, 8, 0, 127, 0, MXEMU_SPECIALS_FN, 0};
    const mxemu_format fp32 = {MXEMU_KIND_FLOAT, 8, 23, 127, 1, MXEMU_SPECIALS_IEEE, 1};

    /* 2. Inputs: A is M x K, B is given transposed (N x K), both K-contiguous. */
    float a[M * K], bt[N * K];
    for (int i = 0; i < M * K; i++)
        a[i] = (float)((i * 37) % 29 - 14) / 8.0f;
    for (int i = 0; i < N * K; i++)
        bt[i] = (float)((i * 53) % 31 - 15) / 16.0f;

    /* 3. MX quantization (OCP floor scale rule, RNE elements). */
    uint8_t ac[M * K], bc[N * K], as[M * K / BLOCK], bs[N * K / BLOCK];
    uint8_t qf[N * K];
    int32_t st = mxemu_quantize_mx(a, M * K, &e4m3, BLOCK, MXEMU_SCALE_FLOOR, MXEMU_RNE,
                                   MXEMU_POLICY_BLOCK, MXEMU_POLICY_BLOCK, 0,
                                   MXEMU_SCALE_RANGE_CLAMP, 0, 0, NULL, 32, ac, as, qf);
    if (st == MXEMU_OK)
        st = mxemu_quantize_mx(bt, N * K, &e4m3, BLOCK, MXEMU_SCALE_FLOOR, MXEMU_RNE,
                               MXEMU_POLICY_BLOCK, MXEMU_POLICY_BLOCK, 0,
                               MXEMU_SCALE_RANGE_CLAMP, 0, 0, NULL, 32, bc, bs, qf);
    if (st != MXEMU_OK) {
        fprintf(stderr, "quantize: %s\n", mxemu_status_string(st));
        return 1;
    }

    /* 4. The accumulation model of the B200 mxf8f6f4 preset (mxemu presets
     *    b200-mxf8f6f4): 32 products per instruction in one fused step, F = 25
     *    fraction bits kept after alignment to the largest exponent, truncated,
     *    C inside the step, FP32 result rounded toward zero. */
    mxemu_accum_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.struct_size = sizeof cfg;
    cfg.version = MXEMU_ACCUM_CONFIG_VERSION;
    cfg.instruction_k = 32;
    cfg.terms_per_step = 32;
    cfg.k_split = MXEMU_ACC_KSPLIT_SEQUENTIAL;
    cfg.interleave = 1;
    cfg.product_rounding = MXEMU_RNE;
    cfg.product_exponent = MXEMU_ACC_PEXP_OPERANDS;
    cfg.alignment = MXEMU_ACC_ALIGN_MAX;
    cfg.has_align_floor = 1;
    cfg.align_floor = -126;
    cfg.frac_bits = 25;
    cfg.carry_bits = -1;
    cfg.dropped = MXEMU_ACC_DROPPED_TRUNCATE;
    cfg.c_entry = MXEMU_ACC_C_INSIDE;
    cfg.output_format = fp32;
    cfg.register_format = fp32;
    cfg.rounding = MXEMU_RTZ;
    cfg.step_rounding = -1;
    cfg.sr_bits = 32;
    cfg.input_subnormals = MXEMU_ACC_SUBNORMALS_KEEP;
    cfg.output_subnormals = MXEMU_ACC_SUBNORMALS_KEEP;
    cfg.nan = MXEMU_ACC_NAN_ALL_ONES;
    cfg.overflow = MXEMU_ACC_OVERFLOW_INF;
    cfg.zero_sign = MXEMU_ACC_ZERO_IEEE;

    /* 5. D = A @ B + C with C = 0 (NULL), codes widened to uint32_t. */
    uint32_t a32[M * K], b32[N * K], d[M * N];
    uint8_t flags[M * N];
    for (int i = 0; i < M * K; i++)
        a32[i] = ac[i];
    for (int i = 0; i < N * K; i++)
        b32[i] = bc[i];
    st = mxemu_gemm(&cfg, M, N, K, &e4m3, a32, &e4m3, b32, &e8m0, as, BLOCK, bs, BLOCK, &fp32,
                    NULL, 1, d, flags);
    if (st != MXEMU_OK) {
        fprintf(stderr, "gemm: %s\n", mxemu_status_string(st));
        return 1;
    }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            printf("D[%d][%d] = 0x%08x flags 0x%02x\n", i, j, (unsigned)d[i * N + j],
                   (unsigned)flags[i * N + j]);
    return 0;
}
