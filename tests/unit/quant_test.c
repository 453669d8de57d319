/* Tests for the quantized formats (ops/quant_*): block sizes, the kernel
 * table and vec_dot_type mapping, quantize/dequantize error bounds over
 * several distributions, vec_dot against a double-precision reference,
 * hand-built known-answer blocks for every type, exact activation
 * quantizers (Q8_0 / Q8_K), SIMD levels against scalar, the SLM_SIMD
 * override, and byte equality with llama-quantize's output on the shared
 * stories260K models. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/quant_scalar.h"
#include "slm/gguf.h"

_Static_assert(sizeof(slm_block_q4_0) == 18, "q4_0");
_Static_assert(sizeof(slm_block_q4_1) == 20, "q4_1");
_Static_assert(sizeof(slm_block_q5_0) == 22, "q5_0");
_Static_assert(sizeof(slm_block_q5_1) == 24, "q5_1");
_Static_assert(sizeof(slm_block_q8_0) == 34, "q8_0");
_Static_assert(sizeof(slm_block_q8_1) == 36, "q8_1");
_Static_assert(sizeof(slm_block_q2_K) == 84, "q2_K");
_Static_assert(sizeof(slm_block_q3_K) == 110, "q3_K");
_Static_assert(sizeof(slm_block_q4_K) == 144, "q4_K");
_Static_assert(sizeof(slm_block_q5_K) == 176, "q5_K");
_Static_assert(sizeof(slm_block_q6_K) == 210, "q6_K");
_Static_assert(sizeof(slm_block_q8_K) == 292, "q8_K");

/* Every type with kernels, its activation type, and the largest allowed
 * RMS round-trip error relative to the data's RMS (Gaussian data). */
typedef struct {
    slm_dtype type;
    slm_dtype dot_type;
    double max_rel_rms;
} type_case;

static const type_case CASES[] = {
    {SLM_TYPE_F32, SLM_TYPE_F32, 0.0},       {SLM_TYPE_F16, SLM_TYPE_F16, 5e-4},
    {SLM_TYPE_BF16, SLM_TYPE_BF16, 4e-3},    {SLM_TYPE_Q4_0, SLM_TYPE_Q8_0, 0.12},
    {SLM_TYPE_Q4_1, SLM_TYPE_Q8_1, 0.10},    {SLM_TYPE_Q5_0, SLM_TYPE_Q8_0, 0.06},
    {SLM_TYPE_Q5_1, SLM_TYPE_Q8_1, 0.05},    {SLM_TYPE_Q8_0, SLM_TYPE_Q8_0, 0.01},
    {SLM_TYPE_Q8_1, SLM_TYPE_Q8_1, 0.01},    {SLM_TYPE_Q2_K, SLM_TYPE_Q8_K, 0.40},
    {SLM_TYPE_Q3_K, SLM_TYPE_Q8_K, 0.20},    {SLM_TYPE_Q4_K, SLM_TYPE_Q8_K, 0.10},
    {SLM_TYPE_Q5_K, SLM_TYPE_Q8_K, 0.05},    {SLM_TYPE_Q6_K, SLM_TYPE_Q8_K, 0.025},
    {SLM_TYPE_Q8_K, SLM_TYPE_Q8_K, 0.01},
};
#define NCASES (sizeof CASES / sizeof CASES[0])
#define N 1024 /* elements per test row: 4 super-blocks */

/* ---- data generators --------------------------------------------------- */
static uint64_t rng_state;
static double urand(void) { /* xorshift64*, uniform in (0, 1) */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return ((rng_state * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0) + 1e-17;
}
static float gauss(void) { return (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand())); }

typedef enum { DIST_GAUSS, DIST_UNIFORM, DIST_TINY, DIST_LARGE, DIST_OUTLIERS, DIST_POSITIVE, DIST_COUNT } dist;

static void fill(float *x, int n, dist d, uint64_t seed) {
    rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int i = 0; i < n; i++) {
        switch (d) {
        case DIST_GAUSS: x[i] = gauss(); break;
        case DIST_UNIFORM: x[i] = (float)(2 * urand() - 1); break;
        case DIST_TINY: x[i] = 1e-3f * gauss(); break;
        case DIST_LARGE: x[i] = 1000.f * gauss(); break;
        case DIST_OUTLIERS: x[i] = (i % 97 == 5) ? 40.f * gauss() : gauss(); break;
        case DIST_POSITIVE: x[i] = (float)(0.5 + urand()); break;
        default: x[i] = 0; break;
        }
    }
}

static size_t row_bytes(slm_dtype t, int n) {
    uint64_t b;
    assert_true(slm_dtype_row_size(t, (uint64_t)n, &b));
    return (size_t)b;
}

/* ---- table and layout --------------------------------------------------- */
static void test_sizes_match_dtype_table(void **state) {
    (void)state;
    const struct { slm_dtype t; size_t size; } S[] = {
        {SLM_TYPE_Q4_0, sizeof(slm_block_q4_0)}, {SLM_TYPE_Q4_1, sizeof(slm_block_q4_1)},
        {SLM_TYPE_Q5_0, sizeof(slm_block_q5_0)}, {SLM_TYPE_Q5_1, sizeof(slm_block_q5_1)},
        {SLM_TYPE_Q8_0, sizeof(slm_block_q8_0)}, {SLM_TYPE_Q8_1, sizeof(slm_block_q8_1)},
        {SLM_TYPE_Q2_K, sizeof(slm_block_q2_K)}, {SLM_TYPE_Q3_K, sizeof(slm_block_q3_K)},
        {SLM_TYPE_Q4_K, sizeof(slm_block_q4_K)}, {SLM_TYPE_Q5_K, sizeof(slm_block_q5_K)},
        {SLM_TYPE_Q6_K, sizeof(slm_block_q6_K)}, {SLM_TYPE_Q8_K, sizeof(slm_block_q8_K)},
    };
    for (size_t i = 0; i < sizeof S / sizeof S[0]; i++)
        assert_int_equal(slm_dtype_get(S[i].t)->type_size, S[i].size);
}

static void test_traits_table(void **state) {
    (void)state;
    for (size_t c = 0; c < NCASES; c++) {
        for (int l = SLM_SIMD_SCALAR; l <= SLM_SIMD_AVX512; l++) {
            const slm_type_traits *t = slm_type_traits_at(CASES[c].type, (slm_simd_level)l);
            assert_non_null(t);
            assert_int_equal(t->type, CASES[c].type);
            assert_int_equal(t->vec_dot_type, CASES[c].dot_type);
            assert_non_null(t->to_float);
            assert_non_null(t->from_float);
            assert_non_null(t->vec_dot);
        }
        assert_non_null(slm_type_traits_get(CASES[c].type));
    }
    assert_null(slm_type_traits_get(SLM_TYPE_IQ2_XXS));
    assert_null(slm_type_traits_get(SLM_TYPE_I32));
    assert_null(slm_type_traits_get((slm_dtype)4)); /* removed id */
    assert_null(slm_type_traits_get((slm_dtype)SLM_TYPE_COUNT));
    assert_null(slm_type_traits_get((slm_dtype)1000));
    /* Scalar level is the reference table itself. */
    slm_type_traits ref;
    assert_true(slm_scalar_traits(SLM_TYPE_Q4_K, &ref));
    assert_ptr_equal(slm_type_traits_at(SLM_TYPE_Q4_K, SLM_SIMD_SCALAR)->vec_dot, ref.vec_dot);
    assert_false(slm_scalar_traits(SLM_TYPE_IQ4_XS, &ref));
}

/* ---- round trip --------------------------------------------------------- */
static double rel_rms_error(const type_case *c, const float *x, int n) {
    const slm_type_traits *t = slm_type_traits_at(c->type, SLM_SIMD_SCALAR);
    void *q = calloc(1, row_bytes(c->type, n));
    float *r = malloc(sizeof(float) * (size_t)n);
    assert_non_null(q);
    assert_non_null(r);
    t->from_float(x, q, n);
    t->to_float(q, r, n);
    double err = 0, ref = 0;
    for (int i = 0; i < n; i++) {
        err += (double)(r[i] - x[i]) * (r[i] - x[i]);
        ref += (double)x[i] * x[i];
    }
    free(q);
    free(r);
    return sqrt(err / n) / sqrt(ref / n);
}

static void test_round_trip_error(void **state) {
    (void)state;
    static float x[N];
    for (size_t c = 0; c < NCASES; c++) {
        for (int d = 0; d < DIST_COUNT; d++) {
            fill(x, N, (dist)d, 100 + (uint64_t)d);
            double e = rel_rms_error(&CASES[c], x, N);
            /* Outliers inflate block scales; positive data suits the
             * affine types but the symmetric ones waste half their range. */
            double bound = CASES[c].max_rel_rms * (d == DIST_OUTLIERS || d == DIST_POSITIVE ? 3 : 1.2);
            if (!(e <= bound))
                fail_msg("%s dist %d: rel rms %g > %g", slm_dtype_name(CASES[c].type), d, e, bound);
        }
    }
}

static void test_zeros_stay_zero(void **state) {
    (void)state;
    static float x[N], r[N];
    static uint8_t q[N * 4];
    memset(x, 0, sizeof x);
    for (size_t c = 0; c < NCASES; c++) {
        const slm_type_traits *t = slm_type_traits_get(CASES[c].type);
        memset(q, 0xAB, sizeof q);
        t->from_float(x, q, N);
        for (int i = 0; i < N; i++) r[i] = 1.f;
        t->to_float(q, r, N);
        for (int i = 0; i < N; i++)
            if (r[i] != 0.f) fail_msg("%s: element %d = %g", slm_dtype_name(CASES[c].type), i, r[i]);
    }
}

/* ---- vec_dot ----------------------------------------------------------- */
/* Sum of x*y over the dequantized rows, in double. For Q4_1/Q5_1 the dot
 * uses the Q8_1 block's f16 s = d*sum(q) instead of the exact sum, so the
 * reference does too: it adds m * (s - sum(y in block)) per block. */
static double reference_dot(slm_dtype t, const void *qx, const void *qy, int n, double *abs_sum) {
    const slm_type_traits *tx = slm_type_traits_at(t, SLM_SIMD_SCALAR);
    const slm_type_traits *ty = slm_type_traits_at(tx->vec_dot_type, SLM_SIMD_SCALAR);
    float *a = malloc(sizeof(float) * (size_t)n), *b = malloc(sizeof(float) * (size_t)n);
    assert_non_null(a);
    assert_non_null(b);
    tx->to_float(qx, a, n);
    ty->to_float(qy, b, n);
    double sum = 0, abs = 0;
    for (int i = 0; i < n; i++) {
        sum += (double)a[i] * b[i];
        abs += fabs((double)a[i] * b[i]);
    }
    if (t == SLM_TYPE_Q4_1 || t == SLM_TYPE_Q5_1) {
        const slm_block_q8_1 *y = qy;
        for (int blk = 0; blk < n / SLM_QK; blk++) {
            slm_f16 mh = t == SLM_TYPE_Q4_1 ? ((const slm_block_q4_1 *)qx)[blk].m
                                            : ((const slm_block_q5_1 *)qx)[blk].m;
            double ysum = 0;
            for (int i = 0; i < SLM_QK; i++) ysum += b[blk * SLM_QK + i];
            double m = slm_f16_to_f32(mh);
            sum += m * (slm_f16_to_f32(y[blk].s) - ysum);
            abs += fabs(m * slm_f16_to_f32(y[blk].s));
        }
    }
    free(a);
    free(b);
    *abs_sum = abs;
    return sum;
}

/* Quantizes x (as type t) and y (as its vec_dot_type) with the scalar
 * reference, returns the buffers. */
static void quantize_pair(slm_dtype t, const float *x, const float *y, int n, void **qx, void **qy) {
    const slm_type_traits *tx = slm_type_traits_at(t, SLM_SIMD_SCALAR);
    const slm_type_traits *ty = slm_type_traits_at(tx->vec_dot_type, SLM_SIMD_SCALAR);
    *qx = calloc(1, row_bytes(t, n));
    *qy = calloc(1, row_bytes(tx->vec_dot_type, n));
    assert_non_null(*qx);
    assert_non_null(*qy);
    tx->from_float(x, *qx, n);
    ty->from_float(y, *qy, n);
}

static void test_vec_dot_matches_reference(void **state) {
    (void)state;
    static float x[N], y[N];
    for (size_t c = 0; c < NCASES; c++) {
        for (int d = 0; d < DIST_COUNT; d++) {
            fill(x, N, (dist)d, 7 + (uint64_t)d);
            fill(y, N, (dist)((d + 1) % DIST_COUNT), 900 + (uint64_t)d);
            void *qx, *qy;
            quantize_pair(CASES[c].type, x, y, N, &qx, &qy);
            double abs, ref = reference_dot(CASES[c].type, qx, qy, N, &abs);
            for (int n = SLM_QK_K; n <= N; n += SLM_QK_K) {
                double abs_n = abs, ref_n = ref;
                if (n != N) ref_n = reference_dot(CASES[c].type, qx, qy, n, &abs_n);
                float s = NAN;
                slm_type_traits_at(CASES[c].type, SLM_SIMD_SCALAR)->vec_dot(n, &s, qx, qy);
                if (!(fabs(s - ref_n) <= 1e-5 * abs_n + 1e-30))
                    fail_msg("%s dist %d n %d: dot %.9g ref %.9g (sum|xy| %g)",
                             slm_dtype_name(CASES[c].type), d, n, s, ref_n, abs_n);
            }
            free(qx);
            free(qy);
        }
    }
}

/* SIMD levels must agree with the scalar reference: activation quantizers
 * byte for byte, dequantization exactly, dots up to summation order. */
static void test_simd_levels_agree_with_scalar(void **state) {
    (void)state;
    static float x[N], y[N], r0[N], r1[N];
    for (int lvl = SLM_SIMD_AVX2; lvl <= (int)slm_simd_cpu_level(); lvl++) {
        for (size_t c = 0; c < NCASES; c++) {
            const slm_type_traits *s0 = slm_type_traits_at(CASES[c].type, SLM_SIMD_SCALAR);
            const slm_type_traits *s1 = slm_type_traits_at(CASES[c].type, (slm_simd_level)lvl);
            fill(x, N, DIST_OUTLIERS, 31);
            fill(y, N, DIST_GAUSS, 32);
            void *qx, *qy;
            quantize_pair(CASES[c].type, x, y, N, &qx, &qy);
            size_t yb = row_bytes(s0->vec_dot_type, N);
            void *qy1 = calloc(1, yb);
            assert_non_null(qy1);
            slm_type_traits_at(s0->vec_dot_type, (slm_simd_level)lvl)->from_float(y, qy1, N);
            if (memcmp(qy, qy1, yb) != 0)
                fail_msg("%s from_float at %s differs from scalar", slm_dtype_name(s0->vec_dot_type),
                         slm_simd_name((slm_simd_level)lvl));
            s0->to_float(qx, r0, N);
            s1->to_float(qx, r1, N);
            assert_memory_equal(r0, r1, sizeof r0);
            float d0, d1;
            double abs;
            reference_dot(CASES[c].type, qx, qy, N, &abs);
            s0->vec_dot(N, &d0, qx, qy);
            s1->vec_dot(N, &d1, qx, qy);
            if (!(fabs(d0 - d1) <= 1e-5 * abs + 1e-30))
                fail_msg("%s dot at %s: %.9g vs scalar %.9g", slm_dtype_name(CASES[c].type),
                         slm_simd_name((slm_simd_level)lvl), d1, d0);
            free(qx);
            free(qy);
            free(qy1);
        }
    }
}

/* ---- known answers: hand-built blocks ----------------------------------- */
static void expect_values(slm_dtype t, const void *block, const float *expect, int n) {
    float *r = malloc(sizeof(float) * (size_t)n);
    assert_non_null(r);
    slm_type_traits_at(t, SLM_SIMD_SCALAR)->to_float(block, r, n);
    for (int i = 0; i < n; i++)
        if (r[i] != expect[i]) fail_msg("%s element %d: %g, expected %g", slm_dtype_name(t), i, r[i], expect[i]);
    free(r);
}

static void test_known_legacy_blocks(void **state) {
    (void)state;
    float e[32];
    slm_block_q4_0 b40 = {.d = 0x3800}; /* 0.5 */
    for (int j = 0; j < 16; j++) b40.qs[j] = (uint8_t)(j | ((15 - j) << 4));
    for (int j = 0; j < 16; j++) e[j] = (j - 8) * 0.5f, e[j + 16] = (15 - j - 8) * 0.5f;
    expect_values(SLM_TYPE_Q4_0, &b40, e, 32);

    slm_block_q4_1 b41 = {.d = 0x3400, .m = 0xbc00}; /* 0.25, -1 */
    for (int j = 0; j < 16; j++) b41.qs[j] = (uint8_t)(j | ((15 - j) << 4));
    for (int j = 0; j < 16; j++) e[j] = j * 0.25f - 1, e[j + 16] = (15 - j) * 0.25f - 1;
    expect_values(SLM_TYPE_Q4_1, &b41, e, 32);

    /* qh = 0x8000_0001 little-endian: fifth bit set for elements 0 and 31 */
    slm_block_q5_0 b50 = {.d = 0x3c00, .qh = {0x01, 0x00, 0x00, 0x80}};
    for (int j = 0; j < 16; j++) b50.qs[j] = (uint8_t)(3 | (9 << 4));
    for (int j = 0; j < 16; j++) e[j] = 3 - 16, e[j + 16] = 9 - 16;
    e[0] = 19 - 16, e[31] = 25 - 16;
    expect_values(SLM_TYPE_Q5_0, &b50, e, 32);

    slm_block_q5_1 b51 = {.d = 0x3800, .m = 0x4000, .qh = {0x00, 0x00, 0x01, 0x00}}; /* bit 16 */
    for (int j = 0; j < 16; j++) b51.qs[j] = 0xF0 | (uint8_t)j;
    for (int j = 0; j < 16; j++) e[j] = j * 0.5f + 2, e[j + 16] = 15 * 0.5f + 2;
    e[16] = 31 * 0.5f + 2;
    expect_values(SLM_TYPE_Q5_1, &b51, e, 32);

    slm_block_q8_0 b80 = {.d = 0x4000}; /* 2 */
    slm_block_q8_1 b81 = {.d = 0x4000, .s = 0};
    for (int j = 0; j < 32; j++) b80.qs[j] = b81.qs[j] = (int8_t)(j - 16), e[j] = 2.f * (j - 16);
    expect_values(SLM_TYPE_Q8_0, &b80, e, 32);
    expect_values(SLM_TYPE_Q8_1, &b81, e, 32);
}

/* For the k-quants: an all-zero block with a few quants set by hand, and
 * the expected values of the elements they land on (others are the
 * block's value for q = 0). */
static void test_known_q2_K(void **state) {
    (void)state;
    static float e[256];
    slm_block_q2_K b;
    memset(&b, 0, sizeof b);
    b.d = 0x3c00;    /* 1 */
    b.dmin = 0x3800; /* 0.5 */
    for (int j = 0; j < 16; j++) b.scales[j] = (uint8_t)((j % 8 + 1) | ((j % 3) << 4));
    /* byte 33 = second 128-half, column 1: elements 129, 161, 193, 225 get
     * q = 0, 1, 2, 3 (2 bits each from the bottom) */
    b.qs[33] = 0xE4;
    for (int i = 0; i < 256; i++) {
        int j = i / 16;
        int q = i == 161 ? 1 : i == 193 ? 2 : i == 225 ? 3 : 0;
        e[i] = 1.0f * (float)(j % 8 + 1) * q - 0.5f * (float)(j % 3);
    }
    expect_values(SLM_TYPE_Q2_K, &b, e, 256);
}

static void test_known_q3_K(void **state) {
    (void)state;
    static float e[256];
    slm_block_q3_K b;
    memset(&b, 0, sizeof b);
    b.d = 0x3800; /* 0.5 */
    /* scale 5 (stored 37 = 0b100101): low nibble 5 in scales[5], high bits
     * 2 at scales[8 + 5%4] bits 2*(5/4) = 2..3. scale 12 (stored 32 + -7 =
     * 25 = 0b011001): low nibble 9 in scales[12-8] high half, high bits 1
     * at scales[8 + 0] bits 6..7. All others stored 0 -> -32. */
    b.scales[5] = 5;
    b.scales[9] = 2 << 2;
    b.scales[4] = 9 << 4;
    b.scales[8] = 1 << 6;
    /* hmask: element e's high bit is hmask[e % 32] bit e/32; set it for
     * every element so q = low bits, then clear it for element 85 */
    memset(b.hmask, 0xFF, sizeof b.hmask);
    b.hmask[85 % 32] &= (uint8_t)~(1u << (85 / 32));
    /* element 85: half 0, column 21, field 2 (bits 4..5) -> q low = 3;
     * element 200: half 1, column 8, field 2 -> q low = 1 */
    b.qs[21] = 3 << 4;
    b.qs[32 + 8] = 1 << 4;
    for (int i = 0; i < 256; i++) {
        int sc = i / 16 == 5 ? 5 : i / 16 == 12 ? -7 : -32;
        int q = i == 85 ? 3 - 4 : i == 200 ? 1 : 0;
        e[i] = 0.5f * (float)sc * (float)q;
    }
    expect_values(SLM_TYPE_Q3_K, &b, e, 256);
}

/* Q4_K and Q5_K share the scale packing: sub-blocks 0..3 keep 6-bit scale
 * and min in bytes j and j+4; 4..7 keep low nibbles in byte j+4 and the
 * top two bits in the spare top bits of bytes j-4 (scale) and j (min). */
static void set_k4_scale(uint8_t *s, int j, int sc, int m) {
    if (j < 4) {
        s[j] = (uint8_t)((s[j] & 0xC0) | sc);
        s[j + 4] = (uint8_t)((s[j + 4] & 0xC0) | m);
    } else {
        s[j + 4] = (uint8_t)((sc & 0xF) | ((m & 0xF) << 4));
        s[j - 4] = (uint8_t)((s[j - 4] & 0x3F) | ((sc >> 4) << 6));
        s[j] = (uint8_t)((s[j] & 0x3F) | ((m >> 4) << 6));
    }
}

static void test_known_q4_K_q5_K(void **state) {
    (void)state;
    static float e4[256], e5[256];
    slm_block_q4_K b4;
    slm_block_q5_K b5;
    memset(&b4, 0, sizeof b4);
    memset(&b5, 0, sizeof b5);
    b4.d = b5.d = 0x3400;    /* 0.25 */
    b4.dmin = b5.dmin = 0x3c00; /* 1 */
    for (int j = 0; j < 8; j++) {
        set_k4_scale(b4.scales, j, 33 + 3 * j, 60 - 7 * j);
        set_k4_scale(b5.scales, j, 33 + 3 * j, 60 - 7 * j);
    }
    /* element 70: chunk 1 (64..127), first half -> low nibble of qs[32+6];
     * element 230: chunk 3, second half -> high nibble of qs[96+6] */
    b4.qs[38] = b5.qs[38] = 0x0B;
    b4.qs[102] = b5.qs[102] = 0xD0;
    /* Q5_K fifth bit of element e: qh[e % 32] bit e / 32 */
    b5.qh[70 % 32] |= 1u << (70 / 32);
    b5.qh[3] |= 1u << 0; /* element 3 */
    for (int i = 0; i < 256; i++) {
        int j = i / 32, sc = 33 + 3 * j, m = 60 - 7 * j;
        int q = i == 70 ? 11 : i == 230 ? 13 : 0;
        int q5 = q + (i == 70 || i == 3 ? 16 : 0);
        e4[i] = 0.25f * (float)sc * (float)q - 1.0f * (float)m;
        e5[i] = 0.25f * (float)sc * (float)q5 - 1.0f * (float)m;
    }
    expect_values(SLM_TYPE_Q4_K, &b4, e4, 256);
    expect_values(SLM_TYPE_Q5_K, &b5, e5, 256);
}

static void test_known_q6_K(void **state) {
    (void)state;
    static float e[256];
    slm_block_q6_K b;
    memset(&b, 0, sizeof b);
    b.d = 0x3800; /* 0.5 */
    for (int j = 0; j < 16; j++) b.scales[j] = (int8_t)(j - 8);
    /* Per 128-half h: element 32k + l takes the low nibble of
     * ql[64h + l + 32*(k&1)] (high nibble when k >= 2) and 2 high bits from
     * qh[32h + l] bits 2k..2k+1; value (q - 32). Element 128+64+5 = 197
     * (k = 2, l = 5): high nibble of ql[64+5], qh[32+5] bits 4..5. */
    b.ql[69] = 0x70;      /* low bits 7 */
    b.qh[37] = 2 << 4;    /* high bits 2 -> q = 7 + 32 = 39 */
    b.ql[32 + 10] = 0x0F; /* element 32+10 = 42 (k = 1): low 15 */
    for (int i = 0; i < 256; i++) {
        int q = i == 197 ? 39 : i == 42 ? 15 : 0;
        e[i] = 0.5f * (float)(i / 16 - 8) * (float)(q - 32);
    }
    expect_values(SLM_TYPE_Q6_K, &b, e, 256);
}

/* ---- exact activation quantizers ---------------------------------------- */
static void test_q8_0_from_float_known(void **state) {
    (void)state;
    float x[32] = {127.f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.49f, -127.f, 3.49f};
    slm_block_q8_0 b;
    slm_scalar_from_float_q8_0(x, &b, 32);
    assert_int_equal(b.d, 0x3c00); /* d = 127/127 = 1 */
    /* roundf: halves away from zero */
    const int8_t want[10] = {127, 1, 2, 3, -1, -2, -3, 126, -127, 3};
    for (int i = 0; i < 10; i++) assert_int_equal(b.qs[i], want[i]);
    for (int i = 10; i < 32; i++) assert_int_equal(b.qs[i], 0);

    slm_block_q8_1 c;
    slm_scalar_from_float_q8_1(x, &c, 32);
    assert_memory_equal(c.qs, b.qs, 32);
    assert_int_equal(c.d, 0x3c00);
    assert_int_equal(c.s, slm_f32_to_f16(127 + 1 + 2 + 3 - 1 - 2 - 3 + 126 - 127 + 3)); /* 129 */

    float z[32] = {0};
    slm_scalar_from_float_q8_0(z, &b, 32);
    assert_int_equal(b.d, 0);
    for (int i = 0; i < 32; i++) assert_int_equal(b.qs[i], 0);
}

static void test_q8_K_from_float_known(void **state) {
    (void)state;
    static float x[256];
    memset(x, 0, sizeof x);
    /* The largest magnitude is positive here, so d comes out negative and
     * that element becomes -127; 63.5 ties to even (64). */
    x[0] = 2.f;
    x[1] = -1.f;
    x[2] = 0.5f;
    x[17] = -1.f / 127.f * 2.f; /* -> 1 */
    slm_block_q8_K b;
    slm_scalar_from_float_q8_K(x, &b, 256);
    assert_true(b.d == 1.f / (-127.f / 2.f));
    assert_true(b.d < 0);
    assert_int_equal(b.qs[0], -127);
    assert_int_equal(b.qs[1], 64);
    assert_int_equal(b.qs[2], -32);
    assert_int_equal(b.qs[17], 1);
    assert_int_equal(b.bsums[0], -127 + 64 - 32);
    assert_int_equal(b.bsums[1], 1);
    for (int j = 2; j < 16; j++) assert_int_equal(b.bsums[j], 0);

    x[0] = -2.f; /* now the extreme is negative: d > 0, it maps to -127 too */
    slm_scalar_from_float_q8_K(x, &b, 256);
    assert_true(b.d > 0);
    assert_int_equal(b.qs[0], -127);
    assert_int_equal(b.qs[1], -64);

    memset(x, 0, sizeof x);
    slm_scalar_from_float_q8_K(x, &b, 256);
    assert_true(b.d == 0.f);
    for (int j = 0; j < 16; j++) assert_int_equal(b.bsums[j], 0);
}

static void test_nearest_int(void **state) {
    (void)state;
    assert_int_equal(slm_nearest_int(0.5f), 0);
    assert_int_equal(slm_nearest_int(1.5f), 2);
    assert_int_equal(slm_nearest_int(2.5f), 2);
    assert_int_equal(slm_nearest_int(-2.5f), -2);
    assert_int_equal(slm_nearest_int(-2.6f), -3);
    assert_int_equal(slm_nearest_int(126.49f), 126);
    assert_int_equal(slm_nearest_int(-4194303.f), -4194303);
}

/* F16/BF16 dots: exact products summed in double. */
static void test_float_dots_exact(void **state) {
    (void)state;
    slm_f16 a[4], b[4];
    const float av[4] = {1.5f, -2.f, 0.25f, 1024.f}, bv[4] = {2.f, 3.f, -8.f, 0.5f};
    for (int i = 0; i < 4; i++) a[i] = slm_f32_to_f16(av[i]), b[i] = slm_f32_to_f16(bv[i]);
    float s;
    slm_scalar_vec_dot_f16(4, &s, a, b);
    assert_true(s == 3.f - 6.f - 2.f + 512.f);
    slm_bf16 c[4], d[4];
    for (int i = 0; i < 4; i++) c[i] = slm_f32_to_bf16(av[i]), d[i] = slm_f32_to_bf16(bv[i]);
    slm_scalar_vec_dot_bf16(4, &s, c, d);
    assert_true(s == 507.f);
    slm_scalar_vec_dot_f32(4, &s, av, bv);
    assert_true(s == 507.f);
}

/* ---- dispatcher -------------------------------------------------------- */
static void test_simd_env_override(void **state) {
    (void)state;
    const slm_simd_level cpu = slm_simd_cpu_level();
    unsetenv("SLM_SIMD");
    assert_int_equal(slm_simd_detect(), cpu);
    setenv("SLM_SIMD", "scalar", 1);
    assert_int_equal(slm_simd_detect(), SLM_SIMD_SCALAR);
    setenv("SLM_SIMD", "avx2", 1);
    assert_int_equal(slm_simd_detect(), cpu < SLM_SIMD_AVX2 ? cpu : SLM_SIMD_AVX2);
    setenv("SLM_SIMD", "avx512", 1);
    assert_int_equal(slm_simd_detect(), cpu);
    unsetenv("SLM_SIMD");
    assert_string_equal(slm_simd_name(SLM_SIMD_SCALAR), "scalar");
    assert_string_equal(slm_simd_name(SLM_SIMD_AVX2), "avx2");
    assert_string_equal(slm_simd_name(SLM_SIMD_AVX512), "avx512");
    /* Asking for more than the CPU has gives the CPU's level. */
    assert_ptr_equal(slm_type_traits_at(SLM_TYPE_Q4_0, SLM_SIMD_AVX512),
                     slm_type_traits_at(SLM_TYPE_Q4_0, cpu));
}

/* ---- golden: llama-quantize output ------------------------------------- */
/* The shared F16/BF16/mixed-quant stories260K files were made from the F32
 * one by llama-quantize, whose quantizers we reproduce: re-quantizing every
 * F32 tensor must give the same bytes. */
static int compare_with_quantized(const char *dir, const char *name, int *n_checked) {
    char path[1024];
    slm_gguf *src = NULL, *q = NULL;
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", dir);
    if (slm_gguf_open(path, &src, NULL) != SLM_OK) return -1;
    snprintf(path, sizeof path, "%s/models/%s", dir, name);
    if (slm_gguf_open(path, &q, NULL) != SLM_OK) {
        slm_gguf_close(src);
        return -1;
    }
    for (int64_t i = 0; i < slm_gguf_n_tensors(q); i++) {
        const slm_gguf_tensor *t = slm_gguf_tensor_at(q, i);
        const slm_gguf_tensor *s = slm_gguf_find_tensor(src, t->name);
        assert_non_null(s);
        assert_int_equal(s->type, SLM_TYPE_F32);
        const slm_type_traits *tr = slm_type_traits_get(t->type);
        assert_non_null(tr);
        uint8_t *buf = malloc(t->nbytes);
        assert_non_null(buf);
        tr->from_float(s->data, buf, (int64_t)slm_gguf_tensor_n_elements(t));
        if (memcmp(buf, t->data, t->nbytes) != 0)
            fail_msg("%s: %s (%s) differs from llama-quantize", name, t->name, slm_dtype_name(t->type));
        free(buf);
        (*n_checked)++;
    }
    slm_gguf_close(q);
    slm_gguf_close(src);
    return 0;
}

static void test_matches_llama_quantize(void **state) {
    (void)state;
    const char *dir = getenv("SLM_SHARED_DIR");
    if (!dir) dir = "../shared";
    const char *files[] = {"stories260K-F16.gguf", "stories260K-BF16.gguf",
                           "stories260K-mixQ5_0-from-Q4_K_M.gguf", "stories260K-mixQ8_0-from-Q6_K.gguf"};
    int checked = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (compare_with_quantized(dir, files[i], &checked) != 0) {
            printf("SKIP: %s/models/%s not readable (shared data missing)\n", dir, files[i]);
            skip();
        }
    }
    assert_true(checked >= 4 * 48);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes_match_dtype_table),
        cmocka_unit_test(test_traits_table),
        cmocka_unit_test(test_round_trip_error),
        cmocka_unit_test(test_zeros_stay_zero),
        cmocka_unit_test(test_vec_dot_matches_reference),
        cmocka_unit_test(test_simd_levels_agree_with_scalar),
        cmocka_unit_test(test_known_legacy_blocks),
        cmocka_unit_test(test_known_q2_K),
        cmocka_unit_test(test_known_q3_K),
        cmocka_unit_test(test_known_q4_K_q5_K),
        cmocka_unit_test(test_known_q6_K),
        cmocka_unit_test(test_q8_0_from_float_known),
        cmocka_unit_test(test_q8_K_from_float_known),
        cmocka_unit_test(test_nearest_int),
        cmocka_unit_test(test_float_dots_exact),
        cmocka_unit_test(test_simd_env_override),
        cmocka_unit_test(test_matches_llama_quantize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
