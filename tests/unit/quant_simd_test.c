/* Tests that the AVX2 and AVX-512 quant kernels reproduce the scalar
 * reference: vec_dot within float-summation-order tolerance, from_float
 * byte for byte, to_float bit for bit. Inputs are random blocks (random
 * quant bytes, sane random f16 scales) and random / adversarial floats
 * (rounding ties, zero blocks, sign ties, specials). Levels the CPU lacks
 * are skipped. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "slm/quant.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static float frand(void) { return (float)((rnd() >> 40) * (1.0 / 16777216.0)); } /* [0,1) */
static float srand1(void) { return 2.0f * frand() - 1.0f; }

static const slm_dtype WEIGHT_TYPES[] = {
    SLM_TYPE_F32, SLM_TYPE_F16, SLM_TYPE_BF16, SLM_TYPE_Q4_0, SLM_TYPE_Q4_1,
    SLM_TYPE_Q5_0, SLM_TYPE_Q5_1, SLM_TYPE_Q8_0, SLM_TYPE_Q2_K, SLM_TYPE_Q3_K,
    SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K,
};
#define N_WEIGHT_TYPES (sizeof WEIGHT_TYPES / sizeof WEIGHT_TYPES[0])

static const slm_dtype ACT_TYPES[] = {
    SLM_TYPE_Q8_0, SLM_TYPE_Q8_1, SLM_TYPE_Q8_K, SLM_TYPE_F16, SLM_TYPE_BF16,
};
#define N_ACT_TYPES (sizeof ACT_TYPES / sizeof ACT_TYPES[0])

static const slm_simd_level LEVELS[] = { SLM_SIMD_AVX2, SLM_SIMD_AVX512 };

static bool level_ok(slm_simd_level l) { return slm_simd_detect() >= l; }

static size_t row_bytes(slm_dtype t, int64_t n) {
    uint64_t b = 0;
    assert_true(slm_dtype_row_size(t, (uint64_t)n, &b));
    return (size_t)b;
}

static slm_f16 rand_scale(float mag) {
    float v = mag * (0.05f + frand());
    return slm_f32_to_f16((rnd() & 1) ? -v : v);
}

/* Overwrites the f16 scale fields of each block with sane values. */
static void fix_scales(slm_dtype t, uint8_t *row, int64_t nblocks) {
    const slm_dtype_info *info = slm_dtype_get(t);
    for (int64_t b = 0; b < nblocks; b++) {
        uint8_t *blk = row + b * info->type_size;
        slm_f16 *h;
        switch (t) {
        case SLM_TYPE_Q4_0: ((slm_block_q4_0 *)blk)->d = rand_scale(0.1f); break;
        case SLM_TYPE_Q5_0: ((slm_block_q5_0 *)blk)->d = rand_scale(0.1f); break;
        case SLM_TYPE_Q8_0: ((slm_block_q8_0 *)blk)->d = rand_scale(0.01f); break;
        case SLM_TYPE_Q4_1:
            ((slm_block_q4_1 *)blk)->d = rand_scale(0.1f);
            ((slm_block_q4_1 *)blk)->m = rand_scale(0.5f);
            break;
        case SLM_TYPE_Q5_1:
            ((slm_block_q5_1 *)blk)->d = rand_scale(0.1f);
            ((slm_block_q5_1 *)blk)->m = rand_scale(0.5f);
            break;
        case SLM_TYPE_Q2_K:
            h = &((slm_block_q2_K *)blk)->d; *h = rand_scale(0.01f);
            h = &((slm_block_q2_K *)blk)->dmin; *h = rand_scale(0.01f);
            break;
        case SLM_TYPE_Q3_K: ((slm_block_q3_K *)blk)->d = rand_scale(0.01f); break;
        case SLM_TYPE_Q4_K:
            ((slm_block_q4_K *)blk)->d = rand_scale(0.01f);
            ((slm_block_q4_K *)blk)->dmin = rand_scale(0.01f);
            break;
        case SLM_TYPE_Q5_K:
            ((slm_block_q5_K *)blk)->d = rand_scale(0.01f);
            ((slm_block_q5_K *)blk)->dmin = rand_scale(0.01f);
            break;
        case SLM_TYPE_Q6_K: ((slm_block_q6_K *)blk)->d = rand_scale(0.01f); break;
        default: break;
        }
    }
}

/* A random row of weight type t with n elements. */
static uint8_t *rand_weights(slm_dtype t, int64_t n) {
    size_t bytes = row_bytes(t, n);
    uint8_t *row = malloc(bytes);
    assert_non_null(row);
    if (t == SLM_TYPE_F32 || t == SLM_TYPE_F16 || t == SLM_TYPE_BF16) {
        for (int64_t i = 0; i < n; i++) {
            float v = srand1();
            if (t == SLM_TYPE_F32) memcpy(row + 4 * i, &v, 4);
            else {
                uint16_t h = t == SLM_TYPE_F16 ? slm_f32_to_f16(v) : slm_f32_to_bf16(v);
                memcpy(row + 2 * i, &h, 2);
            }
        }
        return row;
    }
    for (size_t i = 0; i < bytes; i++) row[i] = (uint8_t)rnd();
    fix_scales(t, row, n / slm_dtype_get(t)->block_size);
    return row;
}

static float *rand_floats(int64_t n, float mag) {
    float *x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    for (int64_t i = 0; i < n; i++) x[i] = mag * srand1();
    return x;
}

/* sum |x_i * y_i| of the dequantized rows: the scale of the rounding error
 * a different float summation order may cause. */
static double abs_dot(const slm_type_traits *wt, const void *w, const void *a, int64_t n) {
    const slm_type_traits *at = slm_type_traits_at(wt->vec_dot_type, SLM_SIMD_SCALAR);
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    wt->to_float(w, x, n);
    at->to_float(a, y, n);
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += fabs((double)x[i] * y[i]);
    free(x);
    free(y);
    return s;
}

static void check_dot(slm_dtype t, int64_t n) {
    const slm_type_traits *ref = slm_type_traits_at(t, SLM_SIMD_SCALAR);
    assert_non_null(ref);
    const slm_type_traits *act = slm_type_traits_at(ref->vec_dot_type, SLM_SIMD_SCALAR);
    assert_non_null(act);
    uint8_t *w = rand_weights(t, n);
    float *af = rand_floats(n, 2.0f);
    uint8_t *a = malloc(row_bytes(ref->vec_dot_type, n));
    assert_non_null(a);
    act->from_float(af, a, n);
    float want = 0.0f;
    ref->vec_dot(n, &want, w, a);
    const double tol = 1e-5 * abs_dot(ref, w, a, n) + 1e-30;
    for (size_t l = 0; l < 2; l++) {
        if (!level_ok(LEVELS[l])) continue;
        const slm_type_traits *st = slm_type_traits_at(t, LEVELS[l]);
        float got = NAN;
        st->vec_dot(n, &got, w, a);
        if (!(fabs((double)got - want) <= tol))
            fail_msg("%s vec_dot at %s, n=%lld: got %.9g want %.9g (tol %.3g)", slm_dtype_name(t),
                     slm_simd_name(LEVELS[l]), (long long)n, got, want, tol);
    }
    free(w);
    free(af);
    free(a);
}

static void test_vec_dot(void **state) {
    (void)state;
    const int64_t blocks[] = { 1, 2, 3, 5, 16, 33 };
    for (size_t ti = 0; ti < N_WEIGHT_TYPES; ti++) {
        slm_dtype t = WEIGHT_TYPES[ti];
        const int64_t bs = slm_dtype_get(t)->block_size;
        const int64_t unit = bs == 1 ? 32 : bs;
        for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++)
            for (int rep = 0; rep < 4; rep++) check_dot(t, blocks[b] * unit);
        if (bs == 1) /* float types: lengths with tails */
            for (int64_t n = 1; n < 70; n += 3) check_dot(t, n);
    }
}

/* ---- from_float --------------------------------------------------------- */
static void check_from_float(slm_dtype t, const float *x, int64_t n) {
    const slm_type_traits *ref = slm_type_traits_at(t, SLM_SIMD_SCALAR);
    assert_non_null(ref);
    size_t bytes = row_bytes(t, n);
    uint8_t *want = calloc(1, bytes), *got = calloc(1, bytes);
    assert_non_null(want);
    assert_non_null(got);
    ref->from_float(x, want, n);
    for (size_t l = 0; l < 2; l++) {
        if (!level_ok(LEVELS[l])) continue;
        memset(got, 0xa5, bytes);
        slm_type_traits_at(t, LEVELS[l])->from_float(x, got, n);
        for (size_t i = 0; i < bytes; i++)
            if (got[i] != want[i])
                fail_msg("%s from_float at %s, n=%lld: byte %zu is %u, want %u", slm_dtype_name(t),
                         slm_simd_name(LEVELS[l]), (long long)n, i, got[i], want[i]);
    }
    free(want);
    free(got);
}

/* Inputs that stress rounding: with amax = 127 the Q8_0/Q8_1 scale is 1 and
 * Q8_K's is -1, so half-integers are exact ties. Also zero blocks, +/- max
 * ties, tiny and huge magnitudes. */
static void fill_special(float *x, int64_t n, int kind) {
    for (int64_t i = 0; i < n; i++) {
        switch (kind) {
        case 0: x[i] = (float)((int)(rnd() % 254) - 127) * 0.5f; break;
        case 1: x[i] = 0.0f; break;
        case 2: x[i] = (i % 7 == 3) ? ((i & 8) ? 3.0f : -3.0f) : srand1(); break;
        case 3: x[i] = 1e-30f * srand1(); break;
        case 4: x[i] = 6e4f * srand1(); break;
        default: x[i] = srand1() * (float)(1 << (rnd() % 20)); break;
        }
    }
    if (kind == 0) x[(rnd() % (uint64_t)n)] = (rnd() & 1) ? 127.0f : -127.0f;
}

static void test_from_float(void **state) {
    (void)state;
    for (size_t ti = 0; ti < N_ACT_TYPES; ti++) {
        slm_dtype t = ACT_TYPES[ti];
        const int64_t bs = slm_dtype_get(t)->block_size;
        const int64_t lens_q[] = { 1, 2, 7, 24 };
        const int64_t lens_f[] = { 1, 7, 8, 9, 31, 64, 1000 };
        const int64_t *lens = bs == 1 ? lens_f : lens_q;
        size_t nl = bs == 1 ? 7 : 4;
        for (size_t li = 0; li < nl; li++) {
            int64_t n = bs == 1 ? lens[li] : lens[li] * bs;
            float *x = malloc((size_t)n * sizeof *x);
            assert_non_null(x);
            for (int kind = 0; kind < 6; kind++) {
                /* Per block so each block of the row gets every pattern. */
                for (int64_t b = 0; b < n; b += (bs == 1 ? n : bs))
                    fill_special(x + b, bs == 1 ? n : bs, kind);
                check_from_float(t, x, n);
            }
            for (int rep = 0; rep < 3; rep++) {
                for (int64_t i = 0; i < n; i++) x[i] = 3.0f * srand1();
                check_from_float(t, x, n);
            }
            free(x);
        }
    }
}

static void test_from_float_specials(void **state) {
    (void)state;
    /* F16/BF16 conversions of infinities, NaNs, overflow and subnormals. */
    const uint32_t bits[] = { 0x7f800000u, 0xff800000u, 0x7fc00001u, 0xffa00000u, 0x7f800001u,
                              0x477ff000u, 0x477fefffu, 0x33000000u, 0x33000001u, 0x387fffffu,
                              0x00000001u, 0x80000000u, 0x3f808000u, 0x3f818000u, 0x7f7fffffu,
                              0x3e2aaaabu };
    float x[16];
    for (int i = 0; i < 16; i++) memcpy(&x[i], &bits[i], 4);
    check_from_float(SLM_TYPE_F16, x, 16);
    check_from_float(SLM_TYPE_BF16, x, 16);
}

/* ---- to_float ------------------------------------------------------------ */
static void test_to_float(void **state) {
    (void)state;
    for (size_t ti = 0; ti < N_WEIGHT_TYPES; ti++) {
        slm_dtype t = WEIGHT_TYPES[ti];
        const slm_type_traits *ref = slm_type_traits_at(t, SLM_SIMD_SCALAR);
        assert_non_null(ref);
        const int64_t bs = slm_dtype_get(t)->block_size;
        const int64_t n = bs == 1 ? 1003 : 7 * bs;
        uint8_t *w = rand_weights(t, n);
        float *want = malloc((size_t)n * sizeof(float)), *got = malloc((size_t)n * sizeof(float));
        assert_non_null(want);
        assert_non_null(got);
        ref->to_float(w, want, n);
        for (size_t l = 0; l < 2; l++) {
            if (!level_ok(LEVELS[l])) continue;
            memset(got, 0xa5, (size_t)n * sizeof(float));
            slm_type_traits_at(t, LEVELS[l])->to_float(w, got, n);
            for (int64_t i = 0; i < n; i++)
                if (memcmp(&got[i], &want[i], 4) != 0)
                    fail_msg("%s to_float at %s: element %lld is %.9g, want %.9g", slm_dtype_name(t),
                             slm_simd_name(LEVELS[l]), (long long)i, got[i], want[i]);
        }
        free(w);
        free(want);
        free(got);
    }
}

/* The SIMD tables really provide SIMD kernels (not the scalar fallback)
 * for every hot type, so the tests above compare two different codes. */
static void test_levels_override(void **state) {
    (void)state;
    if (!level_ok(SLM_SIMD_AVX2)) skip();
    for (size_t ti = 0; ti < N_WEIGHT_TYPES; ti++) {
        slm_dtype t = WEIGHT_TYPES[ti];
        const slm_type_traits *ref = slm_type_traits_at(t, SLM_SIMD_SCALAR);
        const slm_type_traits *v2 = slm_type_traits_at(t, SLM_SIMD_AVX2);
        assert_ptr_not_equal(ref->vec_dot, v2->vec_dot);
        if (t != SLM_TYPE_F32) assert_ptr_not_equal(ref->to_float, v2->to_float);
    }
    for (size_t ti = 0; ti < N_ACT_TYPES; ti++) {
        slm_dtype t = ACT_TYPES[ti];
        assert_ptr_not_equal(slm_type_traits_at(t, SLM_SIMD_SCALAR)->from_float,
                             slm_type_traits_at(t, SLM_SIMD_AVX2)->from_float);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels_override),
        cmocka_unit_test(test_vec_dot),
        cmocka_unit_test(test_from_float),
        cmocka_unit_test(test_from_float_specials),
        cmocka_unit_test(test_to_float),
    };
    printf("SIMD level of this CPU: %s\n", slm_simd_name(slm_simd_detect()));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
