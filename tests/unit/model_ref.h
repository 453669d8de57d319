/* Reference forward pass for the fixture models (model_fixture.h), in
 * plain C with double accumulation, written from the published
 * architecture descriptions and independent of src/model:
 *
 *   x = token_embd[tok]
 *   per layer:  h = RMSNorm(x) * attn_norm
 *               q = Wq h (+bq), k = Wk h (+bk), v = Wv h (+bv)
 *               qwen3: q, k <- per-head RMSNorm(.) * q_norm / k_norm
 *               RoPE on q, k: theta_i = pos * base^(-2i/d), pairs
 *                 (2i, 2i+1) for llama, (i, i+d/2) for NeoX archs, over
 *                 the first d = n_rot dims of each head (rest unchanged)
 *               causal GQA attention: head h reads KV head
 *                 h / (n_head / n_head_kv), softmax(q.k / sqrt(d)) v
 *               x += Wo attn
 *               h = RMSNorm(x) * ffn_norm;  x += Wdown (silu(Wgate h) * Wup h)
 *   logits = Wout (RMSNorm(x) * output_norm), Wout = token_embd when tied
 *
 * phi3's fused tensors are the stacked separate matrices in the fixture,
 * so the reference reads the separate ones: a wrong split in the engine
 * shows up as a mismatch.
 *
 * Flags make the reference round where llama.cpp's CPU backend (and slm)
 * round, for comparisons tighter than against the exact pass:
 *   REF_F16_ATTN:  Q, K, V and the softmax weights rounded to IEEE half;
 *   REF_QUANT_ACT: the input of every matrix product goes through the
 *     weight type's vec_dot_type (Q8_0 for Q8_0, Q8_K for k-quants, F16
 *     for F16; none for F32), using slm's quantizers from quant.h. */
#ifndef SLM_TEST_MODEL_REF_H
#define SLM_TEST_MODEL_REF_H

#include "unit/model_fixture.h"

#define REF_EXACT 0u
#define REF_F16_ATTN 1u
#define REF_QUANT_ACT 2u

/* logits[t * n_vocab + j] for every position t < n (positions 0..n-1).
 * Returns false on allocation failure. */
bool ref_forward(const fx_model *m, const int32_t *tokens, int n, unsigned flags, double *logits);

#endif
