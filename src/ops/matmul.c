/* Matrix products over quantized weights, split across the thread pool.
 *
 * As in llama.cpp's CPU backend, the activation rows are first converted
 * to the weight type's vec_dot_type (Q8_0, Q8_K, F16, ...), then every
 * output is one vec_dot of a weight row with an activation row. Rows are
 * split evenly between threads; within a thread, a block of weight rows
 * is swept over all tokens so both stay in cache during prompt
 * processing. Types with a tiled kernel (ops/gemm.h) compute several rows
 * by several tokens at a time instead, over chunks of tokens small enough
 * for their converted activations to stay in L2. The ops context owns the
 * scratch buffer for the converted activations. */
#include "slm/ops.h"

#include "ops/gemm.h"

#include <stdlib.h>
#include <string.h>

#define ROW_BLOCK 8
#define GEMM_MIN_TOK 2 /* fewer tokens: vec_dot streams the rows as fast */
#define TOK_CHUNK 64 /* tokens per pass of the tiled kernels */

struct slm_ops {
    slm_threadpool *pool;
    void *act;       /* converted activations */
    size_t act_cap;
};

slm_status slm_ops_create(int n_threads, slm_ops **out, slm_error *err) {
    slm_base_init();
    slm_ops *o = calloc(1, sizeof *o);
    if (!o) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    slm_status st = slm_threadpool_create(n_threads, &o->pool, err);
    if (st != SLM_OK) {
        free(o);
        return st;
    }
    *out = o;
    return SLM_OK;
}

void slm_ops_free(slm_ops *o) {
    if (!o) return;
    slm_threadpool_free(o->pool);
    free(o->act);
    free(o);
}

slm_threadpool *slm_ops_pool(slm_ops *o) { return o->pool; }
int slm_ops_threads(const slm_ops *o) { return slm_threadpool_size(o->pool); }

typedef struct convert_job {
    slm_from_float_fn from_float;
    const float *x;
    int64_t cols, n_tok;
    uint8_t *dst;
    size_t dst_row;
} convert_job;

static void convert_task(void *ctx, int ith, int nth) {
    convert_job *j = ctx;
    for (int64_t t = ith; t < j->n_tok; t += nth)
        j->from_float(j->x + t * j->cols, j->dst + (size_t)t * j->dst_row, j->cols);
}

typedef struct matmul_job {
    const slm_matrix *w;
    slm_vec_dot_fn vec_dot;
    slm_gemm_fn gemm; /* NULL: vec_dot per output */
    const uint8_t *act;
    size_t act_row;
    int64_t n_tok;
    float *y;
} matmul_job;

/* Tiled kernel: this thread's rows (split on tile multiples) by chunks
 * of tokens. */
static void gemm_task(matmul_job *j, int ith, int nth) {
    const int64_t rows = j->w->rows, tiles = (rows + SLM_GEMM_ROW_TILE - 1) / SLM_GEMM_ROW_TILE;
    const int64_t per = (tiles + nth - 1) / nth;
    const int64_t r0 = per * ith * SLM_GEMM_ROW_TILE;
    const int64_t r1 = r0 + per * SLM_GEMM_ROW_TILE < rows ? r0 + per * SLM_GEMM_ROW_TILE : rows;
    if (r0 >= r1) return;
    const uint8_t *w = (const uint8_t *)j->w->data + (size_t)r0 * j->w->row_bytes;
    for (int64_t t = 0; t < j->n_tok; t += TOK_CHUNK) {
        const int64_t nt = j->n_tok - t < TOK_CHUNK ? j->n_tok - t : TOK_CHUNK;
        j->gemm(j->w->cols, w, j->w->row_bytes, r1 - r0, j->act + (size_t)t * j->act_row, j->act_row, nt,
                j->y + t * rows + r0, rows);
    }
}

static void matmul_task(void *ctx, int ith, int nth) {
    matmul_job *j = ctx;
    if (j->gemm) {
        gemm_task(j, ith, nth);
        return;
    }
    const int64_t rows = j->w->rows, cols = j->w->cols;
    const int64_t per = (rows + nth - 1) / nth;
    const int64_t r0 = per * ith, r1 = r0 + per < rows ? r0 + per : rows;
    const uint8_t *wdata = j->w->data;
    for (int64_t rb = r0; rb < r1; rb += ROW_BLOCK) {
        const int64_t re = rb + ROW_BLOCK < r1 ? rb + ROW_BLOCK : r1;
        for (int64_t t = 0; t < j->n_tok; t++) {
            const uint8_t *a = j->act + (size_t)t * j->act_row;
            float *yt = j->y + t * rows;
            for (int64_t r = rb; r < re; r++)
                j->vec_dot(cols, &yt[r], wdata + (size_t)r * j->w->row_bytes, a);
        }
    }
}

/* Makes sure the scratch buffer holds `bytes`. */
static slm_status ops_reserve(slm_ops *o, size_t bytes, slm_error *err) {
    if (bytes <= o->act_cap) return SLM_OK;
    void *p = realloc(o->act, bytes);
    if (!p) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory for %zu bytes of activations", bytes);
    o->act = p;
    o->act_cap = bytes;
    return SLM_OK;
}

slm_status slm_matmul(slm_ops *o, const slm_matrix *w, const float *x, int64_t n_tok, float *y,
                      slm_error *err) {
    const slm_type_traits *tt = slm_type_traits_get(w->type);
    if (!tt || !tt->vec_dot)
        return slm_error_set(err, SLM_ERR_UNSUPPORTED, "no matrix kernels for type %s",
                             slm_dtype_name(w->type));
    matmul_job job = {.w = w, .vec_dot = tt->vec_dot, .n_tok = n_tok, .y = y};
    if (n_tok >= GEMM_MIN_TOK) job.gemm = slm_gemm_kernel(w->type);
    if (tt->vec_dot_type == SLM_TYPE_F32) {
        job.act = (const uint8_t *)x;
        job.act_row = (size_t)w->cols * sizeof(float);
    } else {
        const slm_type_traits *vt = slm_type_traits_get(tt->vec_dot_type);
        uint64_t row_bytes, total;
        if (!vt || !vt->from_float || !slm_dtype_row_size(tt->vec_dot_type, (uint64_t)w->cols, &row_bytes) ||
            !slm_mul_ok(row_bytes, (uint64_t)n_tok, &total))
            return slm_error_set(err, SLM_ERR_UNSUPPORTED, "cannot convert activations of %lld columns to %s",
                                 (long long)w->cols, slm_dtype_name(tt->vec_dot_type));
        slm_status st = ops_reserve(o, (size_t)total, err);
        if (st != SLM_OK) return st;
        convert_job cj = {vt->from_float, x, w->cols, n_tok, o->act, (size_t)row_bytes};
        if (n_tok == 1) convert_task(&cj, 0, 1);
        else slm_threadpool_run(o->pool, convert_task, &cj);
        job.act = o->act;
        job.act_row = (size_t)row_bytes;
    }
    slm_threadpool_run(o->pool, matmul_task, &job);
    return SLM_OK;
}

slm_status slm_matrix_get_row(const slm_matrix *w, int64_t r, float *out, slm_error *err) {
    if (r < 0 || r >= w->rows)
        return slm_error_set(err, SLM_ERR_RANGE, "row %lld out of range (0..%lld)", (long long)r,
                             (long long)w->rows - 1);
    const slm_type_traits *tt = slm_type_traits_get(w->type);
    const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
    if (w->type == SLM_TYPE_F32) {
        memcpy(out, row, (size_t)w->cols * sizeof(float));
        return SLM_OK;
    }
    if (!tt || !tt->to_float)
        return slm_error_set(err, SLM_ERR_UNSUPPORTED, "cannot dequantize type %s", slm_dtype_name(w->type));
    tt->to_float(row, out, w->cols);
    return SLM_OK;
}
