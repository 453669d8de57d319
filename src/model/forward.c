/* The transformer forward pass for the llama family (llama, qwen2, qwen3,
 * phi3), one batch of tokens at a time. Reads top to bottom like the
 * architecture papers: embed, then per layer attention and feed-forward
 * with pre-norms and residuals, then the output head. Kernels come from
 * ops/; this file only wires them.
 *
 * Numerics follow llama.cpp where it matters for matching its logits:
 * K and V are cached as F16, Q is rounded to F16 before Q.K, and the
 * attention weights are rounded to F16 before weighting V. */
#include "model_internal.h"

#include <math.h>
#include <string.h>

typedef struct attn_job {
    slm_context *c;
    int il;
    int32_t n_tok;
} attn_job;

/* One query head of one token attending to positions 0..pos. Like
 * llama.cpp, Q is rounded to F16 and dotted with the F16 keys, and the
 * softmax weights are rounded to F16 and dotted with rows of V^T, all with
 * the F16 vec_dot kernel (SIMD where the CPU has it). */
static void attend_head(slm_context *c, int il, int32_t t, int h, float *scores, slm_f16 *half) {
    const slm_hparams *hp = &c->m->hp;
    const int hd = hp->head_dim, kvd = c->kv_dim;
    const int kvh = h / (hp->n_head / hp->n_head_kv);
    const int32_t pos = c->tok_pos[t];
    const size_t seq_base = (size_t)c->tok_seq[t] * (size_t)c->n_ctx * (size_t)kvd;
    const float scale = 1.0f / sqrtf((float)hd);
    const slm_type_traits *f16 = slm_type_traits_get(SLM_TYPE_F16);
    slm_f16 *q16 = half + c->n_ctx, *w16 = half;
    f16->from_float(c->q + (size_t)t * hp->n_head * hd + (size_t)h * hd, q16, hd);
    const slm_f16 *kc = c->k[il] + seq_base + (size_t)kvh * hd;
    for (int32_t p = 0; p <= pos; p++) {
        float s;
        f16->vec_dot(hd, &s, kc + (size_t)p * kvd, q16);
        scores[p] = s * scale;
    }
    slm_softmax(scores, pos + 1);
    f16->from_float(scores, w16, pos + 1);
    const slm_f16 *vt = c->v[il] + seq_base + (size_t)kvh * hd * (size_t)c->n_ctx;
    float *out = c->att + (size_t)t * hp->n_head * hd + (size_t)h * hd;
    for (int d = 0; d < hd; d++) f16->vec_dot(pos + 1, &out[d], vt + (size_t)d * c->n_ctx, w16);
}

static void attn_task(void *ctx, int ith, int nth) {
    attn_job *j = ctx;
    const int n_head = j->c->m->hp.n_head;
    float *scores = j->c->scores + (size_t)ith * j->c->n_ctx;
    slm_f16 *half = j->c->half_scratch + (size_t)ith * ((size_t)j->c->n_ctx + (size_t)j->c->m->hp.head_dim);
    const int64_t total = (int64_t)j->n_tok * n_head;
    for (int64_t i = ith; i < total; i += nth)
        attend_head(j->c, j->il, (int32_t)(i / n_head), (int)(i % n_head), scores, half);
}

/* Element-wise follow-ups run by each thread on the output rows it just
 * computed (slm_matmul_multi_then): a[t][r] op= b[t][r] for r in [r0, r1). */
typedef struct rows_job {
    float *a;
    const float *b;
    int64_t width;
    int32_t n_tok;
} rows_job;

static void silu_rows(void *ctx, int64_t r0, int64_t r1) { /* a = silu(a) * b */
    const rows_job *j = ctx;
    for (int32_t t = 0; t < j->n_tok; t++) slm_silu_mul(j->a + t * j->width + r0, j->b + t * j->width + r0, r1 - r0);
}

static void residual_rows(void *ctx, int64_t r0, int64_t r1) { /* a += b */
    const rows_job *j = ctx;
    for (int32_t t = 0; t < j->n_tok; t++) slm_add(j->a + t * j->width + r0, j->b + t * j->width + r0, r1 - r0);
}

/* x += W * in, the add fused into the product's pool pass (out: scratch). */
static slm_status project_add(slm_context *c, const slm_matrix *w, const float *in, int32_t n, float *out,
                              slm_error *err) {
    rows_job rj = {c->x, out, c->m->hp.n_embd, n};
    return slm_matmul_multi_then(c->ops, 1, &w, in, n, &out, residual_rows, &rj, err);
}

static void add_bias(float *x, const float *b, int64_t n, int32_t n_tok) {
    if (!b) return;
    for (int32_t t = 0; t < n_tok; t++) slm_add(x + (size_t)t * n, b, n);
}

/* Per-head RMSNorm (qwen3's q_norm / k_norm). */
static void head_norm(float *x, const float *w, int n_heads, int hd, int32_t n_tok, float eps) {
    if (!w) return;
    for (int64_t i = 0; i < (int64_t)n_tok * n_heads; i++) slm_rmsnorm(x + i * hd, x + i * hd, w, hd, eps);
}

/* q, kx, vx <- projections of xb. */
static slm_status project_qkv(slm_context *c, const slm_layer *L, int32_t n, slm_error *err) {
    const slm_hparams *hp = &c->m->hp;
    const int64_t qd = (int64_t)hp->n_head * hp->head_dim, kvd = c->kv_dim;
    slm_status st;
    if (L->wqkv.rows > 0) {
        st = slm_matmul(c->ops, &L->wqkv, c->xb, n, c->qkv, err);
        if (st != SLM_OK) return st;
        for (int32_t t = 0; t < n; t++) {
            const float *row = c->qkv + (size_t)t * (qd + 2 * kvd);
            memcpy(c->q + t * qd, row, (size_t)qd * sizeof(float));
            memcpy(c->kx + t * kvd, row + qd, (size_t)kvd * sizeof(float));
            memcpy(c->vx + t * kvd, row + qd + kvd, (size_t)kvd * sizeof(float));
        }
        return SLM_OK;
    }
    /* one pool pass for the three projections of the same input */
    const slm_matrix *w[3] = {&L->wq, &L->wk, &L->wv};
    float *y[3] = {c->q, c->kx, c->vx};
    st = slm_matmul_multi(c->ops, 3, w, c->xb, n, y, err);
    add_bias(c->q, L->bq, qd, n);
    add_bias(c->kx, L->bk, kvd, n);
    add_bias(c->vx, L->bv, kvd, n);
    return st;
}

static slm_status attention(slm_context *c, int il, int32_t n, slm_error *err) {
    const slm_hparams *hp = &c->m->hp;
    const slm_layer *L = &c->m->layers[il];
    const int hd = hp->head_dim, kvd = c->kv_dim;
    for (int32_t t = 0; t < n; t++)
        slm_rmsnorm(c->xb + (size_t)t * hp->n_embd, c->x + (size_t)t * hp->n_embd, L->attn_norm, hp->n_embd, hp->norm_eps);
    slm_status st = project_qkv(c, L, n, err);
    if (st != SLM_OK) return st;
    head_norm(c->q, L->q_norm, hp->n_head, hd, n, hp->norm_eps);
    head_norm(c->kx, L->k_norm, hp->n_head_kv, hd, n, hp->norm_eps);
    for (int32_t t = 0; t < n; t++) {
        const int32_t pos = c->tok_pos[t];
        slm_rope(&c->rope, c->q + (size_t)t * hp->n_head * hd, hp->n_head, hd, pos);
        slm_rope(&c->rope, c->kx + (size_t)t * kvd, hp->n_head_kv, hd, pos);
        const size_t seq_base = (size_t)c->tok_seq[t] * (size_t)c->n_ctx * (size_t)kvd;
        slm_f16 *kdst = c->k[il] + seq_base + (size_t)pos * kvd, *vdst = c->v[il] + seq_base + (size_t)pos;
        for (int d = 0; d < kvd; d++) {
            kdst[d] = slm_f32_to_f16(c->kx[(size_t)t * kvd + d]);
            vdst[(size_t)d * c->n_ctx] = slm_f32_to_f16(c->vx[(size_t)t * kvd + d]);
        }
    }
    attn_job job = {c, il, n};
    slm_threadpool_run(slm_ops_pool(c->ops), attn_task, &job);
    return project_add(c, &L->wo, c->att, n, c->xb, err);
}

static slm_status feed_forward(slm_context *c, const slm_layer *L, int32_t n, slm_error *err) {
    const slm_hparams *hp = &c->m->hp;
    const int64_t e = hp->n_embd, f = hp->n_ff;
    for (int32_t t = 0; t < n; t++) slm_rmsnorm(c->xb + t * e, c->x + t * e, L->ffn_norm, e, hp->norm_eps);
    slm_status st;
    if (L->w_gate.rows == 0) { /* fused gate|up: split each row in halves */
        st = slm_matmul(c->ops, &L->w_up, c->xb, n, c->hb2, err);
        if (st != SLM_OK) return st;
        for (int32_t t = 0; t < n; t++) {
            float *row = c->hb2 + (size_t)t * 2 * f;
            slm_silu_mul(row, row + f, f);
            memcpy(c->hb + (size_t)t * f, row, (size_t)f * sizeof(float));
        }
    } else {
        /* gate and up in one pass, SiLU(gate) * up by each thread on its rows */
        const slm_matrix *w[2] = {&L->w_gate, &L->w_up};
        float *y[2] = {c->hb, c->hb2};
        rows_job rj = {c->hb, c->hb2, f, n};
        st = slm_matmul_multi_then(c->ops, 2, w, c->xb, n, y, silu_rows, &rj, err);
        if (st != SLM_OK) return st;
    }
    return project_add(c, &L->w_down, c->hb, n, c->xb, err);
}

/* Final norm and output projection for the entries that asked for logits. */
static slm_status output_head(slm_context *c, int32_t n, int32_t n_out, slm_error *err) {
    const slm_hparams *hp = &c->m->hp;
    const int64_t e = hp->n_embd;
    if (n_out == 0) return SLM_OK;
    for (int32_t t = 0; t < n; t++) {
        int32_t row = c->logit_row[t];
        if (row >= 0) slm_rmsnorm(c->xb + row * e, c->x + (size_t)t * e, c->m->output_norm, e, hp->norm_eps);
    }
    return slm_matmul(c->ops, &c->m->output, c->xb, n_out, c->logits, err);
}

slm_status slm_forward_batch(slm_context *c, const int32_t *tokens, int32_t n, int32_t n_out, slm_error *err) {
    const slm_model *m = c->m;
    const int64_t e = m->hp.n_embd;
    for (int32_t t = 0; t < n; t++) {
        slm_status st = slm_matrix_get_row(&m->tok_embd, tokens[t], c->x + t * e, err);
        if (st != SLM_OK) return st;
    }
    for (int il = 0; il < m->hp.n_layer; il++) {
        slm_status st = attention(c, il, n, err);
        if (st == SLM_OK) st = feed_forward(c, &m->layers[il], n, err);
        if (st != SLM_OK) return slm_error_prefix(err, "layer %d", il);
    }
    return output_head(c, n, n_out, err);
}
