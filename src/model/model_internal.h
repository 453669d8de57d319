/* Internal structures of model/: the bound weights of each layer, the model
 * and the per-sequence context (KV cache + scratch). */
#ifndef SLM_MODEL_INTERNAL_H
#define SLM_MODEL_INTERNAL_H

#include "slm/model.h"

#include <pthread.h>

typedef struct slm_layer {
    const float *attn_norm;
    slm_matrix wq, wk, wv, wqkv, wo; /* wqkv set (rows>0) for fused QKV (phi3) */
    const float *bq, *bk, *bv;       /* qwen2 biases, or NULL */
    const float *q_norm, *k_norm;    /* qwen3 per-head norms, or NULL */
    const float *ffn_norm;
    slm_matrix w_gate, w_up, w_down; /* w_gate.rows == 0: up holds gate|up (phi3) */
} slm_layer;

struct slm_model {
    const slm_gguf *gguf;
    slm_hparams hp;
    slm_matrix tok_embd, output;
    const float *output_norm;
    slm_layer *layers;
    const float *rope_freqs;       /* per-pair frequency divisors or NULL */
    const float *rope_long, *rope_short; /* phi3 LongRoPE factors or NULL */
    float **owned;                 /* float copies of 1-D tensors */
    int n_owned, cap_owned;
    uint64_t n_params, weight_bytes;
    /* resident.c: the matrices' anonymous copy, made once, before the
     * first context (the only state a const model changes) */
    pthread_mutex_t resident_mu;
    bool resident_done;
    void *resident_map;
    size_t resident_len;
};

struct slm_context {
    const slm_model *m;
    slm_ops *ops;
    int32_t n_ctx, n_batch, n_seq; /* n_ctx is per sequence */
    int32_t *seq_pos;          /* [n_seq] tokens cached per sequence */
    int32_t kv_dim;
    slm_f16 **k;               /* per layer: [n_seq][n_ctx][kv_dim] */
    slm_f16 **v;               /* per layer, transposed: [n_seq][kv_dim][n_ctx] */
    /* the batch being decoded: per entry its sequence, position, logits row */
    int32_t *tok_seq, *tok_pos, *logit_row;
    slm_rope_params rope;
    /* scratch, sized for n_batch tokens */
    float *x, *xb, *q, *kx, *vx, *att, *hb, *hb2, *qkv;
    float *scores;             /* per thread: [n_ctx] */
    slm_f16 *half_scratch;     /* per thread: [n_ctx + head_dim] (F16 weights, F16 query) */
    int n_threads;
    float *logits;             /* [n_batch][n_vocab], rows for entries that asked */
    int32_t n_entries;         /* entries of the last batch (logit_row valid) */
    int32_t last_logits;       /* logits row of the last token decoded, -1 none */
    int32_t logits_base;       /* slm_decode: index of the last chunk's first token */
};

/* hparams.c */
slm_status slm_hparams_load(const slm_gguf *g, slm_hparams *hp, slm_error *err);
/* weights.c */
slm_status slm_weights_bind(slm_model *m, slm_error *err);
/* resident.c: moves the matrices into anonymous huge-page memory when that
 * fits (else hints the mapping); thread-safe, idempotent, never fails. */
void slm_model_make_resident(const slm_model *m);
void slm_model_release_resident(slm_model *m);
/* forward.c: one batch of n <= n_batch tokens; tok_seq/tok_pos/logit_row
 * are filled in by the caller. n_out rows of logits are written. */
slm_status slm_forward_batch(slm_context *c, const int32_t *tokens, int32_t n, int32_t n_out,
                             slm_error *err);

#endif
