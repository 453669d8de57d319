/* Test fixture: tiny random transformer models for every supported
 * architecture (llama, qwen2, qwen3, phi3), written as GGUF in memory with
 * the GGUF writer and opened with slm_gguf_open_memory.
 *
 * Main data structure: fx_model = the configuration, the float value of
 * every weight and the GGUF bytes. Matrices are quantized to the chosen
 * type and dequantized back, so the floats are exactly what the file holds
 * and a reference forward pass can run on them. Matrices are row-major
 * [rows][cols] (GGUF ne = {cols, rows}), as the engine reads them.
 *
 * Header-only (static inline) so any test can include it:
 *   fx_config cfg = fx_config_for("qwen3");
 *   fx_model fm;
 *   fx_build(&cfg, &fm);          // fm.g is the open GGUF
 *   ... slm_model_load(fm.g, ...) ...
 *   fx_free(&fm); */
#ifndef SLM_TEST_MODEL_FIXTURE_H
#define SLM_TEST_MODEL_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/gguf.h"
#include "slm/quant.h"

typedef struct fx_config {
    const char *arch;      /* general.architecture, written as is */
    int n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_vocab, n_ctx_train;
    int n_rot;             /* rope.dimension_count: rotated dims per head (<= head_dim) */
    float norm_eps, rope_base;
    bool tied;             /* no output.weight: the head reuses token_embd */
    bool fused;            /* phi3 layout: attn_qkv = [q;k;v], ffn_up = [gate;up] */
    bool qkv_bias;         /* attn_{q,k,v}.bias (qwen2) */
    bool qk_norm;          /* attn_{q,k}_norm.weight (qwen3) */
    bool neox;             /* rope rotates (i, i+d/2); the reference reads this */
    bool key_length;       /* write attention.key_length / value_length */
    slm_dtype wtype;       /* type of every 2-D weight */
    uint64_t seed;
    const char *omit;      /* a tensor not to write (error tests), or NULL */
    const char *misshape;  /* a tensor written with one row too many, or NULL */
} fx_config;

typedef struct fx_matrix {
    int64_t rows, cols;
    float *f;     /* [rows][cols], dequantized */
    void *raw;    /* the bytes in wtype */
    size_t nbytes;
} fx_matrix;

typedef struct fx_layer {
    float *attn_norm, *ffn_norm;
    float *bq, *bk, *bv;       /* NULL without qkv_bias */
    float *q_norm, *k_norm;    /* [head_dim], NULL without qk_norm */
    fx_matrix wq, wk, wv, wo, w_gate, w_up, w_down;
} fx_layer;

typedef struct fx_model {
    fx_config cfg;
    fx_matrix tok_embd, output; /* output.f == tok_embd.f when tied */
    float *output_norm;
    fx_layer *layers;
    void *buf;   /* GGUF bytes (kept alive for g) */
    size_t size;
    slm_gguf *g;
} fx_model;

/* Defaults per architecture: n_embd 64, 3 layers, 4 heads, 2 KV heads
 * (GQA), head_dim 16 (32 for qwen3, != n_embd/n_head), n_ff 96, vocab 300,
 * F32 weights. Dims are multiples of 32 (Q8_0-ready). */
static inline fx_config fx_config_for(const char *arch) {
    fx_config c = {
        .arch = arch, .n_embd = 64, .n_layer = 3, .n_head = 4, .n_head_kv = 2, .head_dim = 16,
        .n_ff = 96, .n_vocab = 300, .n_ctx_train = 128, .norm_eps = 1e-5f, .rope_base = 10000.0f,
        .wtype = SLM_TYPE_F32, .seed = 1234,
    };
    c.n_rot = c.head_dim;
    if (strcmp(arch, "llama") != 0) c.neox = true;
    if (strcmp(arch, "qwen2") == 0) {
        c.qkv_bias = true;
        c.norm_eps = 1e-6f;
        c.rope_base = 1000000.0f;
    }
    if (strcmp(arch, "qwen3") == 0) {
        c.qk_norm = true;
        c.head_dim = c.n_rot = 32;
        c.key_length = true;
        c.norm_eps = 1e-6f;
        c.rope_base = 1000000.0f;
    }
    if (strcmp(arch, "phi3") == 0) c.fused = true;
    return c;
}

/* The same with every dim a multiple of 256 (k-quants): n_embd 256,
 * head_dim 64 (qwen3: 128), n_ff 512. */
static inline fx_config fx_config_k_for(const char *arch) {
    fx_config c = fx_config_for(arch);
    c.n_embd = 256;
    c.n_layer = 2;
    c.head_dim = c.n_rot = c.qk_norm ? 128 : 64;
    c.n_ff = 512;
    return c;
}

/* ---- random numbers (splitmix64) ---------------------------------- */
static inline double fx_uniform(uint64_t *s) { /* [-1, 1) */
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (2.0 / 9007199254740992.0) - 1.0;
}

static inline float *fx_vector(uint64_t *s, int64_t n, double center, double spread) {
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; v && i < n; i++) v[i] = (float)(center + spread * fx_uniform(s));
    return v;
}

/* A random matrix scaled by `gain`/sqrt(cols) in variance, so that
 * y = W x keeps the scale of x; quantized to `type` and back. */
static inline bool fx_matrix_make(fx_matrix *m, uint64_t *s, int64_t rows, int64_t cols, double gain,
                                  slm_dtype type) {
    const double a = gain * sqrt(3.0 / (double)cols);
    uint64_t nbytes;
    memset(m, 0, sizeof *m);
    if (!slm_dtype_row_size(type, (uint64_t)cols, &nbytes)) return false;
    m->rows = rows;
    m->cols = cols;
    m->nbytes = (size_t)nbytes * (size_t)rows;
    m->f = fx_vector(s, rows * cols, 0.0, a);
    m->raw = malloc(m->nbytes);
    if (!m->f || !m->raw) return false;
    if (type == SLM_TYPE_F32) {
        memcpy(m->raw, m->f, m->nbytes);
        return true;
    }
    const slm_type_traits *q = slm_type_traits_get(type);
    const slm_type_traits *deq = slm_type_traits_at(type, SLM_SIMD_SCALAR);
    if (!q || !q->from_float || !deq || !deq->to_float) return false;
    q->from_float(m->f, m->raw, rows * cols);
    deq->to_float(m->raw, m->f, rows * cols);
    return true;
}

static inline void fx_matrix_free(fx_matrix *m) {
    free(m->f);
    free(m->raw);
    memset(m, 0, sizeof *m);
}

/* ---- GGUF writing ------------------------------------------------- */
/* Adds a tensor unless cfg.omit names it; cfg.misshape gets one more row
 * (or element, for 1-D) of zeros. */
static inline bool fx_add(slm_gguf_writer *w, const fx_config *c, const char *name, slm_dtype type,
                          uint32_t n_dims, int64_t ne0, int64_t ne1, const void *data, size_t nbytes) {
    if (c->omit && strcmp(c->omit, name) == 0) return true;
    int64_t ne[2] = {ne0, ne1};
    if (!(c->misshape && strcmp(c->misshape, name) == 0))
        return slm_gguf_writer_add_tensor(w, name, type, n_dims, ne, data, nbytes) == SLM_OK;
    const size_t unit = nbytes / (size_t)ne[n_dims - 1];
    void *big = calloc(1, nbytes + unit);
    if (!big) return false;
    memcpy(big, data, nbytes);
    ne[n_dims - 1]++;
    bool ok = slm_gguf_writer_add_tensor(w, name, type, n_dims, ne, big, nbytes + unit) == SLM_OK;
    free(big);
    return ok;
}

static inline bool fx_add_vec(slm_gguf_writer *w, const fx_config *c, const char *name, const float *v, int64_t n) {
    return fx_add(w, c, name, SLM_TYPE_F32, 1, n, 1, v, (size_t)n * sizeof(float));
}

static inline bool fx_add_mat(slm_gguf_writer *w, const fx_config *c, const char *name, const fx_matrix *m) {
    return fx_add(w, c, name, c->wtype, 2, m->cols, m->rows, m->raw, m->nbytes);
}

/* Rows of a and b (same cols, same type) stacked: a fused tensor. */
static inline bool fx_add_stacked(slm_gguf_writer *w, const fx_config *c, const char *name,
                                  const fx_matrix *const *parts, int n_parts) {
    size_t total = 0;
    int64_t rows = 0;
    for (int i = 0; i < n_parts; i++) {
        total += parts[i]->nbytes;
        rows += parts[i]->rows;
    }
    char *buf = malloc(total);
    if (!buf) return false;
    size_t off = 0;
    for (int i = 0; i < n_parts; i++) {
        memcpy(buf + off, parts[i]->raw, parts[i]->nbytes);
        off += parts[i]->nbytes;
    }
    bool ok = fx_add(w, c, name, c->wtype, 2, parts[0]->cols, rows, buf, total);
    free(buf);
    return ok;
}

static inline bool fx_write_meta(slm_gguf_writer *w, const fx_config *c) {
    char key[128];
    bool ok = slm_gguf_writer_set_str(w, "general.architecture", c->arch) == SLM_OK;
    ok = ok && slm_gguf_writer_set_str(w, "general.name", "slm test fixture") == SLM_OK;
#define FX_U32(suffix, v)                                                          \
    (snprintf(key, sizeof key, "%s.%s", c->arch, suffix),                          \
     slm_gguf_writer_set_uint(w, key, SLM_GGUF_UINT32, (uint64_t)(v)) == SLM_OK)
#define FX_F32(suffix, v) \
    (snprintf(key, sizeof key, "%s.%s", c->arch, suffix), slm_gguf_writer_set_f32(w, key, v) == SLM_OK)
    ok = ok && FX_U32("context_length", c->n_ctx_train) && FX_U32("embedding_length", c->n_embd);
    ok = ok && FX_U32("block_count", c->n_layer) && FX_U32("feed_forward_length", c->n_ff);
    ok = ok && FX_U32("attention.head_count", c->n_head) && FX_U32("attention.head_count_kv", c->n_head_kv);
    ok = ok && FX_F32("attention.layer_norm_rms_epsilon", c->norm_eps) && FX_F32("rope.freq_base", c->rope_base);
    ok = ok && FX_U32("rope.dimension_count", c->n_rot);
    if (c->key_length) ok = ok && FX_U32("attention.key_length", c->head_dim) && FX_U32("attention.value_length", c->head_dim);
#undef FX_U32
#undef FX_F32
    return ok;
}

static inline bool fx_write_layer(slm_gguf_writer *w, const fx_config *c, int il, const fx_layer *L) {
    char n[96];
    const int64_t qd = (int64_t)c->n_head * c->head_dim, kvd = (int64_t)c->n_head_kv * c->head_dim;
#define FX_N(what) (snprintf(n, sizeof n, "blk.%d.%s", il, what), n)
    bool ok = fx_add_vec(w, c, FX_N("attn_norm.weight"), L->attn_norm, c->n_embd);
    if (c->fused) {
        const fx_matrix *qkv[3] = {&L->wq, &L->wk, &L->wv};
        ok = ok && fx_add_stacked(w, c, FX_N("attn_qkv.weight"), qkv, 3);
    } else {
        ok = ok && fx_add_mat(w, c, FX_N("attn_q.weight"), &L->wq);
        ok = ok && fx_add_mat(w, c, FX_N("attn_k.weight"), &L->wk);
        ok = ok && fx_add_mat(w, c, FX_N("attn_v.weight"), &L->wv);
    }
    if (c->qkv_bias) {
        ok = ok && fx_add_vec(w, c, FX_N("attn_q.bias"), L->bq, qd);
        ok = ok && fx_add_vec(w, c, FX_N("attn_k.bias"), L->bk, kvd);
        ok = ok && fx_add_vec(w, c, FX_N("attn_v.bias"), L->bv, kvd);
    }
    if (c->qk_norm) {
        ok = ok && fx_add_vec(w, c, FX_N("attn_q_norm.weight"), L->q_norm, c->head_dim);
        ok = ok && fx_add_vec(w, c, FX_N("attn_k_norm.weight"), L->k_norm, c->head_dim);
    }
    ok = ok && fx_add_mat(w, c, FX_N("attn_output.weight"), &L->wo);
    ok = ok && fx_add_vec(w, c, FX_N("ffn_norm.weight"), L->ffn_norm, c->n_embd);
    if (c->fused) {
        const fx_matrix *gu[2] = {&L->w_gate, &L->w_up};
        ok = ok && fx_add_stacked(w, c, FX_N("ffn_up.weight"), gu, 2);
    } else {
        ok = ok && fx_add_mat(w, c, FX_N("ffn_gate.weight"), &L->w_gate);
        ok = ok && fx_add_mat(w, c, FX_N("ffn_up.weight"), &L->w_up);
    }
    ok = ok && fx_add_mat(w, c, FX_N("ffn_down.weight"), &L->w_down);
#undef FX_N
    return ok;
}

static inline bool fx_write(fx_model *m) {
    const fx_config *c = &m->cfg;
    slm_gguf_writer *w = slm_gguf_writer_new();
    bool ok = w && fx_write_meta(w, c);
    ok = ok && fx_add_mat(w, c, "token_embd.weight", &m->tok_embd);
    ok = ok && fx_add_vec(w, c, "output_norm.weight", m->output_norm, c->n_embd);
    if (!c->tied) ok = ok && fx_add_mat(w, c, "output.weight", &m->output);
    for (int il = 0; ok && il < c->n_layer; il++) ok = fx_write_layer(w, c, il, &m->layers[il]);
    slm_error err;
    ok = ok && slm_gguf_writer_write_memory(w, &m->buf, &m->size, &err) == SLM_OK;
    slm_gguf_writer_free(w);
    ok = ok && slm_gguf_open_memory(m->buf, m->size, "fixture.gguf", &m->g, &err) == SLM_OK;
    if (!ok) fprintf(stderr, "fixture: cannot write/open the GGUF\n");
    return ok;
}

/* ---- weights ------------------------------------------------------ */
static inline bool fx_make_layer(fx_layer *L, const fx_config *c, uint64_t *s) {
    const int64_t e = c->n_embd, qd = (int64_t)c->n_head * c->head_dim;
    const int64_t kvd = (int64_t)c->n_head_kv * c->head_dim, f = c->n_ff;
    const slm_dtype t = c->wtype;
    L->attn_norm = fx_vector(s, e, 1.0, 0.2);
    L->ffn_norm = fx_vector(s, e, 1.0, 0.2);
    bool ok = L->attn_norm && L->ffn_norm;
    if (c->qkv_bias) {
        L->bq = fx_vector(s, qd, 0.0, 0.5);
        L->bk = fx_vector(s, kvd, 0.0, 0.5);
        L->bv = fx_vector(s, kvd, 0.0, 0.5);
        ok = ok && L->bq && L->bk && L->bv;
    }
    if (c->qk_norm) {
        L->q_norm = fx_vector(s, c->head_dim, 1.0, 0.3);
        L->k_norm = fx_vector(s, c->head_dim, 1.0, 0.3);
        ok = ok && L->q_norm && L->k_norm;
    }
    /* Q and K a bit larger than unit gain so attention is not uniform. */
    ok = ok && fx_matrix_make(&L->wq, s, qd, e, 1.5, t) && fx_matrix_make(&L->wk, s, kvd, e, 1.5, t);
    ok = ok && fx_matrix_make(&L->wv, s, kvd, e, 1.0, t) && fx_matrix_make(&L->wo, s, e, qd, 1.0, t);
    ok = ok && fx_matrix_make(&L->w_gate, s, f, e, 1.0, t) && fx_matrix_make(&L->w_up, s, f, e, 1.0, t);
    ok = ok && fx_matrix_make(&L->w_down, s, e, f, 1.0, t);
    return ok;
}

static inline void fx_free(fx_model *m) {
    if (m->g) slm_gguf_close(m->g);
    free(m->buf);
    for (int il = 0; m->layers && il < m->cfg.n_layer; il++) {
        fx_layer *L = &m->layers[il];
        float *vecs[] = {L->attn_norm, L->ffn_norm, L->bq, L->bk, L->bv, L->q_norm, L->k_norm};
        for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) free(vecs[i]);
        fx_matrix *mats[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) fx_matrix_free(mats[i]);
    }
    free(m->layers);
    free(m->output_norm);
    if (!m->cfg.tied) fx_matrix_free(&m->output);
    fx_matrix_free(&m->tok_embd);
    memset(m, 0, sizeof *m);
}

/* Builds the weights and the GGUF; false (and a message) on failure. The
 * same seed gives the same weights whatever omit/misshape/tied say. */
static inline bool fx_build(const fx_config *c, fx_model *m) {
    memset(m, 0, sizeof *m);
    m->cfg = *c;
    uint64_t s = c->seed;
    /* token_embd like output (gain 2): logits of a tied head stay ~1-6. */
    bool ok = fx_matrix_make(&m->tok_embd, &s, c->n_vocab, c->n_embd, 2.0, c->wtype);
    m->output_norm = fx_vector(&s, c->n_embd, 1.0, 0.2);
    ok = ok && m->output_norm && fx_matrix_make(&m->output, &s, c->n_vocab, c->n_embd, 2.0, c->wtype);
    if (ok && c->tied) {
        fx_matrix_free(&m->output);
        m->output = m->tok_embd; /* shared, freed once */
    }
    m->layers = calloc((size_t)c->n_layer, sizeof *m->layers);
    ok = ok && m->layers;
    for (int il = 0; ok && il < c->n_layer; il++) ok = fx_make_layer(&m->layers[il], c, &s);
    ok = ok && fx_write(m);
    if (!ok) fx_free(m);
    return ok;
}

#endif
