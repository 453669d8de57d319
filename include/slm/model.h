/* slm model: hyper-parameters and weights of a transformer from a GGUF file,
 * and the forward pass that turns tokens into logits.
 *
 * An slm_model is immutable after loading and can be shared by several
 * contexts. Its matrices are read from the mmapped file; when the first
 * context is created they are moved into anonymous (huge-page) memory if
 * they fit in half of the available memory, because one core streams them
 * about 1.3x faster from there (SLM_WEIGHTS=mmap in the environment keeps
 * them in the mapping). The GGUF must stay open as long as the model. An slm_context holds one sequence's KV cache
 * and scratch buffers; slm_decode() appends tokens to it. */
#ifndef SLM_MODEL_H
#define SLM_MODEL_H

#include "slm/base.h"
#include "slm/gguf.h"
#include "slm/ops.h"

typedef enum slm_arch {
    SLM_ARCH_LLAMA = 0,
    SLM_ARCH_QWEN2,
    SLM_ARCH_QWEN3,
    SLM_ARCH_PHI3,
    SLM_ARCH_COUNT
} slm_arch;

typedef struct slm_hparams {
    slm_arch arch;
    char arch_name[32];
    int32_t n_vocab;
    int32_t n_ctx_train;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;   /* key/value length per head */
    int32_t n_ff;
    float norm_eps;
    slm_rope_params rope; /* freq_factors bound per context */
    bool tied_output;   /* output projection shares token_embd */
} slm_hparams;

typedef struct slm_model slm_model;

/* Names of the supported architectures, comma-separated. */
const char *slm_arch_supported(void);
const char *slm_arch_name(slm_arch a);

/* Binds the model in an open GGUF file (which must outlive the model). */
slm_status slm_model_load(const slm_gguf *g, slm_model **out, slm_error *err);
void slm_model_free(slm_model *m);
const slm_hparams *slm_model_hparams(const slm_model *m);
/* Number of weight elements (parameters) and their bytes in the file. */
uint64_t slm_model_n_params(const slm_model *m);
uint64_t slm_model_weight_bytes(const slm_model *m);
/* Bytes of KV cache + scratch a context of n_ctx tokens needs. */
uint64_t slm_model_context_bytes(const slm_model *m, int32_t n_ctx, int32_t n_batch);

typedef struct slm_context slm_context;

/* A context holding one sequence. n_ctx <= 0: the training context (capped
 * at 4096). n_batch <= 0: 512 (capped at n_ctx). */
slm_status slm_context_new(const slm_model *m, slm_ops *ops, int32_t n_ctx, int32_t n_batch,
                           slm_context **out, slm_error *err);
/* A context holding n_seq independent sequences of up to n_ctx_per_seq
 * tokens each, decoded together (continuous batching). */
slm_status slm_context_new_multi(const slm_model *m, slm_ops *ops, int32_t n_ctx_per_seq, int32_t n_batch,
                                 int32_t n_seq, slm_context **out, slm_error *err);
void slm_context_free(slm_context *c);
int32_t slm_context_n_ctx(const slm_context *c);  /* per sequence */
int32_t slm_context_n_batch(const slm_context *c);
int32_t slm_context_n_seq(const slm_context *c);
/* Tokens cached for sequence 0 / for seq. */
int32_t slm_context_n_past(const slm_context *c);
int32_t slm_context_seq_pos(const slm_context *c, int32_t seq);
/* Forgets everything after the first n_past tokens of sequence 0 / of seq
 * (no-op when n_past >= current); used to reuse a common prompt prefix. */
void slm_context_truncate(slm_context *c, int32_t n_past);
void slm_context_seq_truncate(slm_context *c, int32_t seq, int32_t n_past);

/* One forward pass over tokens of several sequences. Entries of the same
 * sequence must be in position order; they continue that sequence at
 * slm_context_seq_pos(). logits[i] (NULL: only the last entry) asks for
 * entry i's logits. n must be <= n_batch. On failure nothing changes. */
typedef struct slm_batch {
    int32_t n;
    const int32_t *tokens;
    const int32_t *seq;  /* NULL: all sequence 0 */
    const bool *logits;
} slm_batch;
slm_status slm_decode_batch(slm_context *c, const slm_batch *b, slm_error *err);
/* Logits of batch entry i of the last slm_decode_batch, NULL if not asked. */
const float *slm_context_batch_logits(const slm_context *c, int32_t i);

/* Runs tokens[0..n) at positions n_past.. and appends them to the cache.
 * Long inputs are split into batches internally. Logits are kept for the
 * last token, or for every token when all_logits. Fails with
 * SLM_ERR_RANGE when the tokens do not fit the context (nothing changes). */
slm_status slm_decode(slm_context *c, const int32_t *tokens, int32_t n, bool all_logits,
                      slm_error *err);
/* Logits of the i-th token of the last slm_decode (i = -1: last token);
 * NULL when not kept. */
const float *slm_context_logits(const slm_context *c, int32_t i);

#endif
