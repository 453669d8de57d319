/* slm ops: the float kernels of a transformer forward pass and the
 * matrix products over quantized weights.
 *
 * Vectors are plain float arrays. Weights are slm_matrix views onto
 * (usually mmapped) GGUF tensor data in any type with kernels in quant.h.
 * An slm_ops context owns the thread pool and the scratch memory for
 * quantized activations; it is not thread-safe (one forward pass at a
 * time). */
#ifndef SLM_OPS_H
#define SLM_OPS_H

#include "slm/base.h"
#include "slm/quant.h"
#include "slm/threadpool.h"

/* A row-major matrix of `rows` rows with `cols` elements each. */
typedef struct slm_matrix {
    slm_dtype type;
    int64_t cols, rows;
    size_t row_bytes;
    const void *data;
} slm_matrix;

typedef struct slm_ops slm_ops;

slm_status slm_ops_create(int n_threads, slm_ops **out, slm_error *err);
void slm_ops_free(slm_ops *o);
slm_threadpool *slm_ops_pool(slm_ops *o);
int slm_ops_threads(const slm_ops *o);

/* y[t*rows + r] = dot(W row r, x[t*cols ...]) for t < n_tok.
 * Activations are converted to W's vec_dot_type first, like llama.cpp. */
slm_status slm_matmul(slm_ops *o, const slm_matrix *w, const float *x, int64_t n_tok, float *y,
                      slm_error *err);
/* Several matrices with the same input and column count (Q/K/V, gate/up):
 * ys[i] gets what slm_matmul(o, ws[i], x, n_tok, ys[i]) would write, but
 * the input is converted once per vec_dot_type and all rows are split
 * between the threads in one pass (one barrier instead of n). */
#define SLM_MATMUL_MAX 4
slm_status slm_matmul_multi(slm_ops *o, int n, const slm_matrix *const *ws, const float *x, int64_t n_tok,
                            float *const *ys, slm_error *err);
/* slm_matmul_multi with a follow-up fused into the same pool pass: all
 * matrices must have the same number of rows; each thread computes the same
 * output rows [r0, r1) of every matrix (for all n_tok tokens) and then
 * calls then(then_ctx, r0, r1) itself, so element-wise work on the outputs
 * (SiLU(gate) * up, a residual add) needs no pass of its own. The ranges of
 * the threads are disjoint and cover every row; then is not called for a
 * thread without rows. Results are those of slm_matmul_multi followed by
 * the same work on all rows. */
typedef void (*slm_rows_fn)(void *ctx, int64_t r0, int64_t r1);
slm_status slm_matmul_multi_then(slm_ops *o, int n, const slm_matrix *const *ws, const float *x, int64_t n_tok,
                                 float *const *ys, slm_rows_fn then, void *then_ctx, slm_error *err);
/* Copies row r of W, dequantized, into out[cols]. */
slm_status slm_matrix_get_row(const slm_matrix *w, int64_t r, float *out, slm_error *err);

/* ---- element-wise and normalisation kernels (single vector) --------- */
void slm_rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
void slm_layernorm(float *out, const float *x, const float *w, const float *b, int64_t n, float eps);
void slm_softmax(float *x, int64_t n);
void slm_silu_mul(float *gate, const float *up, int64_t n); /* gate = silu(gate) * up */
void slm_gelu_mul(float *gate, const float *up, int64_t n); /* gate = gelu(gate) * up (tanh form) */
void slm_add(float *y, const float *x, int64_t n);          /* y += x */
void slm_scale_add(float *y, const float *x, float a, int64_t n); /* y += a*x */
float slm_dot_f32(const float *a, const float *b, int64_t n);

/* ---- rotary position embeddings ---------------------------------- */
typedef enum slm_rope_scaling {
    SLM_ROPE_SCALING_NONE = 0,
    SLM_ROPE_SCALING_LINEAR,
    SLM_ROPE_SCALING_YARN,
    SLM_ROPE_SCALING_LLAMA3,
} slm_rope_scaling;

typedef struct slm_rope_params {
    int n_dims;          /* rotated dims per head (<= head dim) */
    bool neox;           /* pairs (i, i+n/2) instead of (2i, 2i+1) */
    float freq_base;
    slm_rope_scaling scaling;
    float freq_scale;    /* 1/factor for linear and yarn */
    int n_ctx_orig;      /* original training context (yarn, llama3) */
    float ext_factor;    /* yarn: ramp mix; <0 -> 1 when yarn else 0 */
    float attn_factor;   /* yarn magnitude scale (usually 1) */
    float beta_fast, beta_slow; /* yarn: 32, 1 */
    float llama3_factor, llama3_low_freq_factor, llama3_high_freq_factor; /* llama3: 8, 1, 4 */
    const float *freq_factors; /* optional per-pair divisors (rope_freqs.weight), n_dims/2 */
} slm_rope_params;

void slm_rope_params_default(slm_rope_params *p, int n_dims, float freq_base, bool neox);
/* Rotates n_heads vectors of head_dim floats (contiguous) for position pos. */
void slm_rope(const slm_rope_params *p, float *x, int n_heads, int head_dim, int32_t pos);

#endif
