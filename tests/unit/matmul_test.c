/* Tests slm_matmul and the tiled gemm kernels against a scalar reference:
 * every output y[t][r] must equal the scalar vec_dot of weight row r with
 * activation row t (converted to the vec_dot_type by the scalar
 * from_float) up to float summation order. Covers every weight type with
 * kernels, odd row counts (partial row tiles), 1..70 tokens (partial token
 * tiles, more than one token chunk) and 1-4 threads. Weights are random
 * quant bytes with sane random scales. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ops/gemm.h"
#include "slm/ops.h"

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static float srand1(void) { return (float)((rnd() >> 40) * (2.0 / 16777216.0)) - 1.0f; }

static const slm_dtype TYPES[] = {
    SLM_TYPE_F32, SLM_TYPE_F16, SLM_TYPE_BF16, SLM_TYPE_Q4_0, SLM_TYPE_Q4_1, SLM_TYPE_Q5_0, SLM_TYPE_Q5_1,
    SLM_TYPE_Q8_0, SLM_TYPE_Q2_K, SLM_TYPE_Q3_K, SLM_TYPE_Q4_K, SLM_TYPE_Q5_K, SLM_TYPE_Q6_K,
};
#define N_TYPES (sizeof TYPES / sizeof TYPES[0])

static slm_f16 rand_scale(float mag) {
    float v = mag * (0.05f + 0.5f * (srand1() + 1.0f));
    return slm_f32_to_f16((rnd() & 1) ? -v : v);
}

/* Random bytes for the quants, then sane f16 scales over the d/dmin fields. */
static void fill_block(slm_dtype t, uint8_t *b, size_t size) {
    for (size_t i = 0; i < size; i++) b[i] = (uint8_t)rnd();
    switch (t) {
    case SLM_TYPE_Q4_0: ((slm_block_q4_0 *)b)->d = rand_scale(0.1f); break;
    case SLM_TYPE_Q5_0: ((slm_block_q5_0 *)b)->d = rand_scale(0.1f); break;
    case SLM_TYPE_Q8_0: ((slm_block_q8_0 *)b)->d = rand_scale(0.01f); break;
    case SLM_TYPE_Q4_1: ((slm_block_q4_1 *)b)->d = rand_scale(0.1f); ((slm_block_q4_1 *)b)->m = rand_scale(0.5f); break;
    case SLM_TYPE_Q5_1: ((slm_block_q5_1 *)b)->d = rand_scale(0.1f); ((slm_block_q5_1 *)b)->m = rand_scale(0.5f); break;
    case SLM_TYPE_Q2_K: ((slm_block_q2_K *)b)->d = rand_scale(0.01f); ((slm_block_q2_K *)b)->dmin = rand_scale(0.01f); break;
    case SLM_TYPE_Q3_K: ((slm_block_q3_K *)b)->d = rand_scale(0.01f); break;
    case SLM_TYPE_Q4_K: ((slm_block_q4_K *)b)->d = rand_scale(0.01f); ((slm_block_q4_K *)b)->dmin = rand_scale(0.01f); break;
    case SLM_TYPE_Q5_K: ((slm_block_q5_K *)b)->d = rand_scale(0.01f); ((slm_block_q5_K *)b)->dmin = rand_scale(0.01f); break;
    case SLM_TYPE_Q6_K: ((slm_block_q6_K *)b)->d = rand_scale(0.01f); break;
    default: break;
    }
}

/* A random rows x cols matrix of type t (float types: values in [-1, 1]). */
static slm_matrix rand_matrix(slm_dtype t, int64_t rows, int64_t cols) {
    uint64_t rb = 0;
    assert_true(slm_dtype_row_size(t, (uint64_t)cols, &rb));
    uint8_t *data = malloc((size_t)rb * (size_t)rows);
    assert_non_null(data);
    const slm_dtype_info *info = slm_dtype_get(t);
    if (t == SLM_TYPE_F32 || t == SLM_TYPE_F16 || t == SLM_TYPE_BF16) {
        for (int64_t i = 0; i < rows * cols; i++) {
            float v = srand1();
            if (t == SLM_TYPE_F32) memcpy(data + 4 * i, &v, 4);
            else {
                uint16_t h = t == SLM_TYPE_F16 ? slm_f32_to_f16(v) : slm_f32_to_bf16(v);
                memcpy(data + 2 * i, &h, 2);
            }
        }
    } else {
        for (int64_t b = 0; b < rows * cols / info->block_size; b++)
            fill_block(t, data + (size_t)b * info->type_size, info->type_size);
    }
    return (slm_matrix){.type = t, .cols = cols, .rows = rows, .row_bytes = (size_t)rb, .data = data};
}

static float *rand_floats(int64_t n) {
    float *x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    for (int64_t i = 0; i < n; i++) x[i] = 2.0f * srand1();
    return x;
}

/* The reference: scalar from_float of each activation row, scalar vec_dot,
 * and per output the tolerance 1e-5 * sum |w_i * a_i| (dequantized). */
typedef struct reference {
    float *y, *tol;
    uint8_t *act; /* activations in the vec_dot_type, act_row bytes each */
    size_t act_row;
} reference;

static reference make_reference(const slm_matrix *w, const float *x, int64_t n_tok) {
    const slm_type_traits *wt = slm_type_traits_at(w->type, SLM_SIMD_SCALAR);
    assert_non_null(wt);
    const slm_dtype vt = wt->vec_dot_type;
    const slm_type_traits *at = slm_type_traits_at(vt, SLM_SIMD_SCALAR);
    uint64_t ar = 0;
    assert_true(slm_dtype_row_size(vt, (uint64_t)w->cols, &ar));
    reference ref = {malloc(sizeof(float) * (size_t)(w->rows * n_tok)),
                     malloc(sizeof(float) * (size_t)(w->rows * n_tok)), malloc((size_t)ar * (size_t)n_tok),
                     (size_t)ar};
    float *wf = malloc(sizeof(float) * (size_t)w->cols), *af = malloc(sizeof(float) * (size_t)w->cols);
    assert_true(ref.y && ref.tol && ref.act && wf && af);
    for (int64_t t = 0; t < n_tok; t++) {
        uint8_t *a = ref.act + (size_t)t * ref.act_row;
        if (vt == SLM_TYPE_F32) memcpy(a, x + t * w->cols, ref.act_row);
        else at->from_float(x + t * w->cols, a, w->cols);
        if (vt == SLM_TYPE_F32) memcpy(af, a, ref.act_row);
        else at->to_float(a, af, w->cols);
        for (int64_t r = 0; r < w->rows; r++) {
            const uint8_t *wr = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
            wt->vec_dot(w->cols, &ref.y[t * w->rows + r], wr, a);
            if (w->type == SLM_TYPE_F32) memcpy(wf, wr, w->row_bytes);
            else wt->to_float(wr, wf, w->cols);
            double s = 0.0;
            for (int64_t i = 0; i < w->cols; i++) s += fabs((double)wf[i] * af[i]);
            ref.tol[t * w->rows + r] = (float)(1e-5 * s + 1e-6);
        }
    }
    free(wf);
    free(af);
    return ref;
}

static void free_reference(reference *r) {
    free(r->y);
    free(r->tol);
    free(r->act);
}

static void expect_close(const char *what, const slm_matrix *w, int64_t n_tok, const float *got,
                         const reference *ref) {
    for (int64_t i = 0; i < w->rows * n_tok; i++)
        if (!(fabs((double)got[i] - ref->y[i]) <= ref->tol[i]))
            fail_msg("%s %s rows=%lld n_tok=%lld: y[tok %lld][row %lld] = %.9g, want %.9g (tol %.3g)", what,
                     slm_dtype_name(w->type), (long long)w->rows, (long long)n_tok, (long long)(i / w->rows),
                     (long long)(i % w->rows), got[i], ref->y[i], ref->tol[i]);
}

static const int64_t ROWS[] = {1, 3, 4, 5, 13, 67};
static const int64_t TOKS[] = {1, 2, 3, 4, 5, 7, 9, 17, 70};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int64_t cols_for(slm_dtype t) { return slm_dtype_get(t)->block_size == SLM_QK_K ? 512 : 96; }

/* slm_matmul at every thread count against the reference. */
static void test_matmul_all_types(void **state) {
    (void)state;
    for (int threads = 1; threads <= 4; threads++) {
        slm_ops *ops = NULL;
        slm_error err = {0};
        assert_int_equal(slm_ops_create(threads, &ops, &err), SLM_OK);
        for (size_t ti = 0; ti < N_TYPES; ti++) {
            for (size_t ri = 0; ri < COUNT(ROWS); ri++) {
                /* all token counts with 1 and 3 threads, a few with 2 and 4 */
                for (size_t ki = 0; ki < COUNT(TOKS); ki++) {
                    if ((threads == 2 || threads == 4) && ki % 3 != 1) continue;
                    slm_matrix w = rand_matrix(TYPES[ti], ROWS[ri], cols_for(TYPES[ti]));
                    float *x = rand_floats(w.cols * TOKS[ki]);
                    float *y = malloc(sizeof(float) * (size_t)(w.rows * TOKS[ki]));
                    assert_non_null(y);
                    assert_int_equal(slm_matmul(ops, &w, x, TOKS[ki], y, &err), SLM_OK);
                    reference ref = make_reference(&w, x, TOKS[ki]);
                    expect_close("slm_matmul", &w, TOKS[ki], y, &ref);
                    free_reference(&ref);
                    free(y);
                    free(x);
                    free((void *)w.data);
                }
            }
        }
        slm_ops_free(ops);
    }
}

/* Every tiled (gemm) and one-token (gemv) kernel at every SIMD level the
 * CPU has, called directly. */
static void test_gemm_levels(void **state) {
    (void)state;
    const slm_simd_level levels[] = {SLM_SIMD_AVX2, SLM_SIMD_AVX512};
    int checked = 0;
    for (size_t li = 0; li < COUNT(levels); li++) {
        if (slm_simd_detect() < levels[li]) continue;
        for (size_t ti = 0; ti < 2 * N_TYPES; ti++) { /* gemm kernels, then gemv kernels */
            const slm_dtype type = TYPES[ti % N_TYPES];
            slm_gemm_fn gemm = ti < N_TYPES ? slm_gemm_kernel_at(type, levels[li]) : slm_gemv_kernel_at(type, levels[li]);
            if (!gemm) continue;
            for (size_t ri = 0; ri < COUNT(ROWS); ri++)
                for (size_t ki = 0; ki < COUNT(TOKS); ki++) {
                    slm_matrix w = rand_matrix(type, ROWS[ri], cols_for(type));
                    float *x = rand_floats(w.cols * TOKS[ki]);
                    reference ref = make_reference(&w, x, TOKS[ki]);
                    /* output rows strided wider than rows, as in a row split */
                    const int64_t ldy = w.rows + 3;
                    float *y = calloc((size_t)(ldy * TOKS[ki]), sizeof(float));
                    float *yc = malloc(sizeof(float) * (size_t)(w.rows * TOKS[ki]));
                    assert_true(y && yc);
                    gemm(w.cols, w.data, w.row_bytes, w.rows, ref.act, ref.act_row, TOKS[ki], y, ldy);
                    for (int64_t t = 0; t < TOKS[ki]; t++) {
                        memcpy(yc + t * w.rows, y + t * ldy, sizeof(float) * (size_t)w.rows);
                        for (int64_t r = w.rows; r < ldy; r++) assert_true(y[t * ldy + r] == 0.0f);
                    }
                    expect_close(slm_simd_name(levels[li]), &w, TOKS[ki], yc, &ref);
                    checked++;
                    free(y);
                    free(yc);
                    free_reference(&ref);
                    free(x);
                    free((void *)w.data);
                }
        }
    }
    if (slm_simd_detect() >= SLM_SIMD_AVX2) assert_true(checked > 0);
    else skip();
}

/* Matmul results do not depend on the thread count beyond rounding: the
 * same row is computed by the same kernel whatever thread owns it. */
static void test_threads_identical(void **state) {
    (void)state;
    const slm_dtype types[] = {SLM_TYPE_Q4_K, SLM_TYPE_Q6_K, SLM_TYPE_Q8_0, SLM_TYPE_F16};
    for (size_t ti = 0; ti < COUNT(types); ti++) {
        slm_matrix w = rand_matrix(types[ti], 37, cols_for(types[ti]));
        float *x = rand_floats(w.cols * 11);
        float *y1 = malloc(sizeof(float) * 37 * 11), *y3 = malloc(sizeof(float) * 37 * 11);
        assert_true(y1 && y3);
        slm_ops *o1 = NULL, *o3 = NULL;
        slm_error err = {0};
        assert_int_equal(slm_ops_create(1, &o1, &err), SLM_OK);
        assert_int_equal(slm_ops_create(3, &o3, &err), SLM_OK);
        assert_int_equal(slm_matmul(o1, &w, x, 11, y1, &err), SLM_OK);
        assert_int_equal(slm_matmul(o3, &w, x, 11, y3, &err), SLM_OK);
        assert_memory_equal(y1, y3, sizeof(float) * 37 * 11);
        slm_ops_free(o1);
        slm_ops_free(o3);
        free(y1);
        free(y3);
        free(x);
        free((void *)w.data);
    }
}

/* slm_matmul_multi gives exactly what separate slm_matmul calls give, with
 * mixed weight types (activation buffers shared or not, F32 read in place). */
static void test_multi_matches_single(void **state) {
    (void)state;
    const slm_dtype types[] = {SLM_TYPE_Q4_K, SLM_TYPE_Q8_0, SLM_TYPE_Q6_K, SLM_TYPE_F32};
    const int64_t rows[] = {13, 5, 67, 3}, cols = 512;
    for (int threads = 1; threads <= 3; threads++) {
        slm_ops *ops = NULL;
        slm_error err = {0};
        assert_int_equal(slm_ops_create(threads, &ops, &err), SLM_OK);
        for (int64_t n_tok = 1; n_tok <= 6; n_tok += 5) {
            slm_matrix w[4];
            const slm_matrix *wp[4];
            float *ym[4], *ys[4];
            float *x = rand_floats(cols * n_tok);
            for (int i = 0; i < 4; i++) {
                w[i] = rand_matrix(types[i], rows[i], cols);
                wp[i] = &w[i];
                ym[i] = malloc(sizeof(float) * (size_t)(rows[i] * n_tok));
                ys[i] = malloc(sizeof(float) * (size_t)(rows[i] * n_tok));
                assert_true(ym[i] && ys[i]);
                assert_int_equal(slm_matmul(ops, &w[i], x, n_tok, ys[i], &err), SLM_OK);
            }
            assert_int_equal(slm_matmul_multi(ops, 4, wp, x, n_tok, ym, &err), SLM_OK);
            for (int i = 0; i < 4; i++) {
                assert_memory_equal(ym[i], ys[i], sizeof(float) * (size_t)(rows[i] * n_tok));
                free(ym[i]);
                free(ys[i]);
                free((void *)w[i].data);
            }
            free(x);
        }
        slm_ops_free(ops);
    }
}

/* Follow-up of slm_matmul_multi_then: each thread's rows of both outputs,
 * recorded so the test sees every row covered exactly once. */
typedef struct then_ctx {
    float *a, *b;
    int64_t rows, n_tok;
    int *seen; /* per row: times the follow-up covered it */
} then_ctx;

static void then_mul(void *ctx, int64_t r0, int64_t r1) {
    then_ctx *c = ctx;
    for (int64_t r = r0; r < r1; r++) {
        __atomic_fetch_add(&c->seen[r], 1, __ATOMIC_RELAXED);
        for (int64_t t = 0; t < c->n_tok; t++) c->a[t * c->rows + r] *= c->b[t * c->rows + r];
    }
}

/* slm_matmul_multi_then gives slm_matmul_multi's outputs, and the
 * follow-up runs once on every row, for 1-3 threads and 1 or 6 tokens,
 * with row counts that do not split evenly into tiles. */
static void test_multi_then(void **state) {
    (void)state;
    const int64_t cols = 512;
    for (int threads = 1; threads <= 3; threads++) {
        slm_ops *ops = NULL;
        slm_error err = {0};
        assert_int_equal(slm_ops_create(threads, &ops, &err), SLM_OK);
        for (int64_t n_tok = 1; n_tok <= 6; n_tok += 5) {
            for (int64_t rows = 1; rows <= 67; rows += 11) {
                slm_matrix w[2] = {rand_matrix(SLM_TYPE_Q4_K, rows, cols), rand_matrix(SLM_TYPE_Q8_0, rows, cols)};
                const slm_matrix *wp[2] = {&w[0], &w[1]};
                float *x = rand_floats(cols * n_tok);
                size_t bytes = sizeof(float) * (size_t)(rows * n_tok);
                float *ya = malloc(bytes), *yb = malloc(bytes), *ra = malloc(bytes), *rb = malloc(bytes);
                int *seen = calloc((size_t)rows, sizeof *seen);
                assert_true(ya && yb && ra && rb && seen);
                float *ys[2] = {ra, rb};
                assert_int_equal(slm_matmul_multi(ops, 2, wp, x, n_tok, ys, &err), SLM_OK);
                for (int64_t i = 0; i < rows * n_tok; i++) ra[i] *= rb[i];
                then_ctx tc = {ya, yb, rows, n_tok, seen};
                float *yt[2] = {ya, yb};
                assert_int_equal(slm_matmul_multi_then(ops, 2, wp, x, n_tok, yt, then_mul, &tc, &err), SLM_OK);
                assert_memory_equal(ya, ra, bytes);
                assert_memory_equal(yb, rb, bytes);
                for (int64_t r = 0; r < rows; r++) assert_int_equal(seen[r], 1);
                void *bufs[] = {ya, yb, ra, rb, seen, x};
                for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
                free((void *)w[0].data);
                free((void *)w[1].data);
            }
        }
        /* the aligned split needs equal row counts */
        slm_matrix a = rand_matrix(SLM_TYPE_Q8_0, 4, 64), b = rand_matrix(SLM_TYPE_Q8_0, 8, 64);
        const slm_matrix *wp[2] = {&a, &b};
        float x[64] = {0}, y0[4], y1[8];
        float *ys[2] = {y0, y1};
        int seen[8] = {0};
        then_ctx tc = {y0, y1, 4, 1, seen};
        assert_int_equal(slm_matmul_multi_then(ops, 2, wp, x, 1, ys, then_mul, &tc, &err), SLM_ERR_INVALID_ARG);
        free((void *)a.data);
        free((void *)b.data);
        slm_ops_free(ops);
    }
}

static void test_multi_rejects_bad_input(void **state) {
    (void)state;
    slm_ops *ops = NULL;
    slm_error err = {0};
    assert_int_equal(slm_ops_create(1, &ops, &err), SLM_OK);
    slm_matrix a = rand_matrix(SLM_TYPE_Q8_0, 4, 64), b = rand_matrix(SLM_TYPE_Q8_0, 4, 96);
    const slm_matrix *wp[2] = {&a, &b};
    float x[96] = {0}, y0[4], y1[4];
    float *ys[2] = {y0, y1};
    assert_int_equal(slm_matmul_multi(ops, 2, wp, x, 1, ys, &err), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_matmul_multi(ops, 0, wp, x, 1, ys, &err), SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_matmul_multi(ops, SLM_MATMUL_MAX + 1, wp, x, 1, ys, &err), SLM_ERR_INVALID_ARG);
    slm_matrix bad = {.type = SLM_TYPE_COUNT, .cols = 64, .rows = 1, .row_bytes = 4, .data = x};
    assert_int_equal(slm_matmul(ops, &bad, x, 1, y0, &err), SLM_ERR_UNSUPPORTED);
    free((void *)a.data);
    free((void *)b.data);
    slm_ops_free(ops);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_all_types),
        cmocka_unit_test(test_gemm_levels),
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_multi_matches_single),
        cmocka_unit_test(test_multi_rejects_bad_input),
        cmocka_unit_test(test_multi_then),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
