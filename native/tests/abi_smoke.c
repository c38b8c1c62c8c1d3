/*
 * abi_smoke.c - a C-only check of the public ABI (include/mxemu.h): known
 * values, argument errors instead of crashes, and exhaustive round trips of
 * every code of the 8-bit formats.  Built with -DMXEMU_BUILD_TESTS=ON and run
 * by ctest; with -DMXEMU_SANITIZE=ON it runs under ASan/UBSan.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxemu.h"

static int failures = 0;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
            failures++;                                                                        \
        }                                                                                      \
    } while (0)

static const mxemu_format E4M3 = {0, 4, 3, 7, 1, 1, 1};
static const mxemu_format E5M2 = {0, 5, 2, 15, 1, 0, 1};
static const mxemu_format E2M1 = {0, 2, 1, 1, 1, 2, 1};
static const mxemu_format INT8 = {1, 0, 6, 0, 1, 2, 1};
static const mxemu_format E8M0 = {0, 8, 0, 127, 0, 1, 0};
static const mxemu_format FP32 = {0, 8, 23, 127, 1, 0, 1};

static void test_known_values(void)
{
    const double v[] = {448.0, 464.0, 465.0, 1e9, -0.0, 3.0, 0.0017, -448.0};
    const uint32_t want[] = {0x7E, 0x7E, 0x7E, 0x7E, 0x80, 0x44, 0x01, 0xFE};
    uint32_t c[8];
    uint8_t f[8];
    CHECK(mxemu_encode(&E4M3, v, 8, MXEMU_RNE, MXEMU_OVERFLOW_SATURATE, NULL, 32, 0, c, f) ==
          MXEMU_OK);
    for (int i = 0; i < 8; i++)
        CHECK(c[i] == want[i]);
    CHECK(f[3] == (MXEMU_FLAG_OVERFLOW | MXEMU_FLAG_INEXACT));
    /* OFP8 OVF mode: 464 is a tie to 448, anything above is NaN. */
    CHECK(mxemu_encode(&E4M3, v, 3, MXEMU_RNE, MXEMU_OVERFLOW_NAN, NULL, 32, 0, c, f) == MXEMU_OK);
    CHECK(c[0] == 0x7E && c[1] == 0x7E && c[2] == 0x7F);
    /* E8M0 ties go to the even code: 3 -> 2, 6 -> 8. */
    const double e8[] = {3.0, 6.0, 0.0};
    CHECK(mxemu_encode(&E8M0, e8, 3, MXEMU_RNE, MXEMU_OVERFLOW_SATURATE, NULL, 32, 0, c, f) ==
          MXEMU_OK);
    CHECK(c[0] == 128 && c[1] == 130 && c[2] == 0xFF && f[2] == MXEMU_FLAG_INVALID);
    /* INT8: symmetric by default, -128 with int_min. */
    const double i8[] = {-2.0, 1.99};
    CHECK(mxemu_encode(&INT8, i8, 2, MXEMU_RNE, MXEMU_OVERFLOW_SATURATE, NULL, 32, 0, c, f) ==
          MXEMU_OK);
    CHECK(c[0] == 0x81 && c[1] == 0x7F);
    CHECK(mxemu_encode(&INT8, i8, 1, MXEMU_RNE, MXEMU_OVERFLOW_SATURATE, NULL, 32, 1, c, f) ==
          MXEMU_OK);
    CHECK(c[0] == 0x80);
}

static void test_argument_errors(void)
{
    uint32_t c[4] = {0, 1, 2, 300};
    uint8_t f[4];
    double d[4] = {1, 2, 3, 4};
    mxemu_format bad = E4M3;
    CHECK(mxemu_decode(NULL, c, 3, d) == MXEMU_ERR_NULL);
    CHECK(mxemu_decode(&E4M3, NULL, 3, d) == MXEMU_ERR_NULL);
    CHECK(mxemu_decode(&E4M3, c, 3, NULL) == MXEMU_ERR_NULL);
    CHECK(mxemu_decode(&E4M3, c, -1, d) == MXEMU_ERR_LENGTH);
    CHECK(mxemu_decode(&E4M3, NULL, 0, NULL) == MXEMU_OK);
    CHECK(mxemu_decode(&E4M3, c, 4, d) == MXEMU_ERR_CODE_RANGE);
    bad.exp_bits = 9;
    CHECK(mxemu_decode(&bad, c, 3, d) == MXEMU_ERR_FORMAT);
    bad = E4M3;
    bad.man_bits = 24;
    CHECK(mxemu_format_check(&bad) == MXEMU_ERR_FORMAT);
    bad = FP32;
    bad.man_bits = 23;
    bad.exp_bits = 9;
    CHECK(mxemu_format_check(&bad) == MXEMU_ERR_FORMAT);
    bad = E4M3;
    bad.specials = 7;
    CHECK(mxemu_format_check(&bad) == MXEMU_ERR_FORMAT);
    CHECK(mxemu_encode(&E4M3, d, 4, 7, 0, NULL, 32, 0, c, f) == MXEMU_ERR_ARG);
    CHECK(mxemu_encode(&E4M3, d, 4, MXEMU_RNE, MXEMU_OVERFLOW_INF, NULL, 32, 0, c, f) ==
          MXEMU_ERR_ARG); /* E4M3 has no Inf */
    CHECK(mxemu_encode(&E4M3, d, 4, MXEMU_SR, 0, NULL, 32, 0, c, f) == MXEMU_ERR_NULL);
    CHECK(mxemu_encode(&E4M3, d, 4, MXEMU_SR, 0, c, 0, 0, c, f) == MXEMU_ERR_ARG);
    CHECK(mxemu_encode(&E4M3, d, 4, MXEMU_RNE, 0, NULL, 32, 0, NULL, f) == MXEMU_ERR_NULL);
    CHECK(mxemu_encode_ex(&FP32, d, 4, MXEMU_RNE, 1, NULL, 32, 0, c, 2, f) == MXEMU_ERR_ARG);

    float x[64] = {0};
    uint8_t q[64], s[2], qf[64];
    CHECK(mxemu_quantize_mx(x, 64, &E4M3, 32, 0, 0, 0, 0, 0, 0, 0, 0, NULL, 32, q, s, qf) ==
          MXEMU_OK);
    CHECK(mxemu_quantize_mx(x, 63, &E4M3, 32, 0, 0, 0, 0, 0, 0, 0, 0, NULL, 32, q, s, qf) ==
          MXEMU_ERR_LENGTH);
    CHECK(mxemu_quantize_mx(x, 64, &E4M3, 0, 0, 0, 0, 0, 0, 0, 0, 0, NULL, 32, q, s, qf) ==
          MXEMU_ERR_LENGTH);
    CHECK(mxemu_quantize_mx(x, 64, &E4M3, 32, 4, 0, 0, 0, 0, 0, 0, 0, NULL, 32, q, s, qf) ==
          MXEMU_ERR_ARG);
    CHECK(mxemu_quantize_mx(x, 64, &E4M3, 32, 0, 0, 1, 0, 0, 0, 0, 0, NULL, 32, q, s, qf) ==
          MXEMU_ERR_ARG); /* nan_policy SATURATE does not exist */
    CHECK(mxemu_quantize_mx(x, 64, &FP32, 32, 0, 0, 0, 0, 0, 0, 0, 0, NULL, 32, q, s, qf) ==
          MXEMU_ERR_FORMAT);
    CHECK(mxemu_quantize_mx(NULL, 64, &E4M3, 32, 0, 0, 0, 0, 0, 0, 0, 0, NULL, 32, q, s, qf) ==
          MXEMU_ERR_NULL);
    CHECK(mxemu_quantize_mx(x, 64, &E4M3, 32, 0, MXEMU_SR, 0, 0, 0, 0, 0, 0, NULL, 32, q, s,
                            qf) == MXEMU_ERR_NULL);
    x[3] = NAN;
    CHECK(mxemu_quantize_mx(x, 64, &E4M3, 32, 0, 0, MXEMU_POLICY_ERROR, 0, 0, 0, 0, 0, NULL, 32,
                            q, s, qf) == MXEMU_STATUS_NAN_FOUND);
    CHECK(mxemu_quantize_mx(x, 64, &E4M3, 32, 0, 0, 0, 0, 0, 0, 0, 0, NULL, 32, q, s, qf) ==
          MXEMU_OK);
    CHECK(s[0] == 0xFF && q[3] == 0);
    CHECK(mxemu_quantize_nvfp4(x, 64, 0.0f, 16, 0, 0, 0, q, s, qf) == MXEMU_ERR_ARG);
    CHECK(mxemu_quantize_nvfp4(x, 64, 1.0f, 16, 6, 0, 0, q, s, qf) == MXEMU_ERR_ARG);
    CHECK(mxemu_quantize_nvfp4(x, 0, 1.0f, 16, 0, 0, 0, NULL, NULL, NULL) == MXEMU_OK);
    CHECK(strlen(mxemu_status_string(-99)) > 0);
}

/* encode(decode(c)) == c for every non-NaN code, in every mode. */
static void test_round_trips(void)
{
    const mxemu_format *fmts[] = {&E4M3, &E5M2, &E2M1, &INT8, &E8M0};
    for (int fi = 0; fi < 5; fi++) {
        mxemu_format_props p;
        CHECK(mxemu_format_info(fmts[fi], &p) == MXEMU_OK);
        const int64_t n = (int64_t)p.code_mask + 1;
        uint32_t codes[256], back[256];
        uint8_t fl[256];
        double v[256];
        int64_t cls[256];
        for (int64_t i = 0; i < n; i++)
            codes[i] = (uint32_t)i;
        CHECK(mxemu_decode(fmts[fi], codes, n, v) == MXEMU_OK);
        CHECK(mxemu_unpack(fmts[fi], codes, n, NULL, NULL, NULL, cls) == MXEMU_OK);
        for (int mode = MXEMU_RNE; mode <= MXEMU_RTO; mode++) {
            CHECK(mxemu_encode(fmts[fi], v, n, mode, MXEMU_OVERFLOW_SATURATE, NULL, 32, 1, back,
                               fl) == MXEMU_OK);
            for (int64_t i = 0; i < n; i++) {
                if (cls[i] == MXEMU_CLASS_NAN || cls[i] == MXEMU_CLASS_INF)
                    continue;
                if (back[i] != codes[i] || fl[i] != 0) {
                    fprintf(stderr, "format %d mode %d code 0x%02x -> 0x%02x flags %d\n", fi,
                            mode, (unsigned)codes[i], (unsigned)back[i], fl[i]);
                    failures++;
                }
            }
        }
    }
}

int main(void)
{
    test_known_values();
    test_argument_errors();
    test_round_trips();
    if (failures) {
        printf("abi_smoke: %d failed\n", failures);
        return 1;
    }
    printf("abi_smoke: all checks passed\n");
    return 0;
}
