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

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ROW_BLOCK 8
#define GEMM_MIN_TOK 2 /* fewer tokens: vec_dot streams the rows as fast */
#define TOK_CHUNK 128 /* tokens per pass of the tiled kernels */

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

/* One matrix of a job: its kernels, converted activations and outputs. */
typedef struct matmul_part {
    const slm_matrix *w;
    slm_vec_dot_fn vec_dot;
    slm_gemm_fn gemm; /* NULL: vec_dot per output */
    const uint8_t *act;
    size_t act_row;
    float *y;
    int64_t tiles; /* rows in SLM_GEMM_ROW_TILE units */
} matmul_part;

typedef struct matmul_job {
    matmul_part parts[SLM_MATMUL_MAX];
    int n_parts;
    int64_t tiles, n_tok; /* tiles of all parts together */
    slm_rows_fn then;     /* set: aligned split, then this on each thread's rows */
    void *then_ctx;
} matmul_job;

/* Rows [r0, r1) of one part, for all tokens. */
static void part_rows(const matmul_part *p, int64_t n_tok, int64_t r0, int64_t r1) {
    const int64_t rows = p->w->rows, cols = p->w->cols;
    const uint8_t *wdata = p->w->data;
    if (p->gemm) { /* chunks of tokens, all rows of the range per chunk */
        for (int64_t t = 0; t < n_tok; t += TOK_CHUNK) {
            const int64_t nt = n_tok - t < TOK_CHUNK ? n_tok - t : TOK_CHUNK;
            p->gemm(cols, wdata + (size_t)r0 * p->w->row_bytes, p->w->row_bytes, r1 - r0,
                    p->act + (size_t)t * p->act_row, p->act_row, nt, p->y + t * rows + r0, rows);
        }
        return;
    }
    for (int64_t rb = r0; rb < r1; rb += ROW_BLOCK) {
        const int64_t re = rb + ROW_BLOCK < r1 ? rb + ROW_BLOCK : r1;
        for (int64_t t = 0; t < n_tok; t++) {
            const uint8_t *a = p->act + (size_t)t * p->act_row;
            float *yt = p->y + t * rows;
            for (int64_t r = rb; r < re; r++) p->vec_dot(cols, &yt[r], wdata + (size_t)r * p->w->row_bytes, a);
        }
    }
}

/* The rows of all parts, laid end to end in tiles of SLM_GEMM_ROW_TILE
 * rows, are split evenly between the threads; a row is always computed by
 * the same kernel whatever thread gets it, so results do not depend on the
 * thread count. */
static void matmul_task(void *ctx, int ith, int nth) {
    const matmul_job *j = ctx;
    if (j->then) { /* the same rows of every part, then the follow-up on them */
        const matmul_part *p0 = &j->parts[0];
        const int64_t per = (p0->tiles + nth - 1) / nth, u0 = per * ith;
        const int64_t u1 = u0 + per < p0->tiles ? u0 + per : p0->tiles;
        if (u0 >= u1) return;
        const int64_t r0 = u0 * SLM_GEMM_ROW_TILE, r1 = u1 < p0->tiles ? u1 * SLM_GEMM_ROW_TILE : p0->w->rows;
        for (int i = 0; i < j->n_parts; i++) part_rows(&j->parts[i], j->n_tok, r0, r1);
        j->then(j->then_ctx, r0, r1);
        return;
    }
    const int64_t per = (j->tiles + nth - 1) / nth;
    int64_t u0 = per * ith, u1 = u0 + per < j->tiles ? u0 + per : j->tiles;
    for (int i = 0, base = 0; i < j->n_parts && u0 < u1; base += (int)j->parts[i].tiles, i++) {
        const matmul_part *p = &j->parts[i];
        const int64_t a = u0 - base, b = u1 - base;
        if (b <= 0 || a >= p->tiles) continue;
        const int64_t r0 = (a > 0 ? a : 0) * SLM_GEMM_ROW_TILE;
        const int64_t r1 = b < p->tiles ? b * SLM_GEMM_ROW_TILE : p->w->rows;
        part_rows(p, j->n_tok, r0, r1);
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

/* Fills the kernels of part i and finds where its converted activations
 * go: the same buffer as an earlier part with the same vec_dot_type, else
 * a new slice at *offset (bytes of scratch so far). */
static slm_status part_setup(matmul_job *j, int i, const slm_matrix *w, float *y, size_t *offset,
                             size_t *act_off, slm_error *err) {
    const slm_type_traits *tt = slm_type_traits_get(w->type);
    if (!tt || !tt->vec_dot)
        return slm_error_set(err, SLM_ERR_UNSUPPORTED, "no matrix kernels for type %s", slm_dtype_name(w->type));
    if (i > 0 && w->cols != j->parts[0].w->cols)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "matrices of %lld and %lld columns share an input",
                             (long long)j->parts[0].w->cols, (long long)w->cols);
    matmul_part *p = &j->parts[i];
    *p = (matmul_part){.w = w, .vec_dot = tt->vec_dot, .y = y,
                       .tiles = (w->rows + SLM_GEMM_ROW_TILE - 1) / SLM_GEMM_ROW_TILE};
    p->gemm = j->n_tok >= GEMM_MIN_TOK ? slm_gemm_kernel(w->type) : slm_gemv_kernel(w->type);
    j->tiles += p->tiles;
    if (tt->vec_dot_type == SLM_TYPE_F32) {
        p->act_row = (size_t)w->cols * sizeof(float);
        act_off[i] = SIZE_MAX; /* the input itself */
        return SLM_OK;
    }
    for (int k = 0; k < i; k++)
        if (slm_type_traits_get(j->parts[k].w->type)->vec_dot_type == tt->vec_dot_type) {
            p->act_row = j->parts[k].act_row;
            act_off[i] = act_off[k];
            return SLM_OK;
        }
    const slm_type_traits *vt = slm_type_traits_get(tt->vec_dot_type);
    uint64_t row_bytes, total;
    if (!vt || !vt->from_float || !slm_dtype_row_size(tt->vec_dot_type, (uint64_t)w->cols, &row_bytes) ||
        !slm_mul_ok(row_bytes, (uint64_t)j->n_tok, &total) || total > SIZE_MAX - *offset)
        return slm_error_set(err, SLM_ERR_UNSUPPORTED, "cannot convert activations of %lld columns to %s",
                             (long long)w->cols, slm_dtype_name(tt->vec_dot_type));
    p->act_row = (size_t)row_bytes;
    act_off[i] = *offset;
    *offset += (size_t)total;
    return SLM_OK;
}

slm_status slm_matmul_multi_then(slm_ops *o, int n, const slm_matrix *const *w, const float *x, int64_t n_tok,
                                 float *const *y, slm_rows_fn then, void *then_ctx, slm_error *err) {
    if (n < 1 || n > SLM_MATMUL_MAX)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "%d matrices in one matmul (1..%d)", n, SLM_MATMUL_MAX);
    for (int i = 1; then && i < n; i++)
        if (w[i]->rows != w[0]->rows)
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "matrices of %lld and %lld rows in one aligned matmul",
                                 (long long)w[0]->rows, (long long)w[i]->rows);
    matmul_job job = {.n_parts = n, .n_tok = n_tok, .then = then, .then_ctx = then_ctx};
    size_t offset = 0, act_off[SLM_MATMUL_MAX];
    for (int i = 0; i < n; i++) {
        slm_status st = part_setup(&job, i, w[i], y[i], &offset, act_off, err);
        if (st != SLM_OK) return st;
    }
    slm_status st = ops_reserve(o, offset, err);
    if (st != SLM_OK) return st;
    for (int i = 0; i < n; i++) {
        matmul_part *p = &job.parts[i];
        if (act_off[i] == SIZE_MAX) {
            p->act = (const uint8_t *)x;
            continue;
        }
        p->act = (const uint8_t *)o->act + act_off[i];
        bool first = true; /* convert once per distinct buffer */
        for (int k = 0; k < i; k++) first = first && act_off[k] != act_off[i];
        if (!first) continue;
        const slm_type_traits *vt = slm_type_traits_get(slm_type_traits_get(p->w->type)->vec_dot_type);
        convert_job cj = {vt->from_float, x, p->w->cols, n_tok, (uint8_t *)p->act, p->act_row};
        if (n_tok == 1) convert_task(&cj, 0, 1);
        else slm_threadpool_run(o->pool, convert_task, &cj);
    }
    slm_threadpool_run(o->pool, matmul_task, &job);
    return SLM_OK;
}

slm_status slm_matmul_multi(slm_ops *o, int n, const slm_matrix *const *w, const float *x, int64_t n_tok,
                            float *const *y, slm_error *err) {
    return slm_matmul_multi_then(o, n, w, x, n_tok, y, NULL, NULL, err);
}

slm_status slm_matmul(slm_ops *o, const slm_matrix *w, const float *x, int64_t n_tok, float *y,
                      slm_error *err) {
    return slm_matmul_multi(o, 1, &w, x, n_tok, &y, err);
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
