/* Binds GGUF tensors to the model's weights and checks every shape against
 * the hyper-parameters. Matrices stay in the mmapped file; 1-D tensors
 * (norms, biases, rope factors) are converted to float copies the model
 * owns, so the forward pass reads them without conversion. */
#include "model_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const slm_gguf_tensor *find(const slm_model *m, const char *name) {
    return slm_gguf_find_tensor(m->gguf, name);
}

static slm_status bind_matrix(slm_model *m, const char *name, int64_t cols, int64_t rows, bool required,
                              slm_matrix *out, slm_error *err) {
    const slm_gguf_tensor *t = find(m, name);
    memset(out, 0, sizeof *out);
    if (!t) {
        if (!required) return SLM_OK;
        return slm_error_set(err, SLM_ERR_FORMAT, "%s: missing tensor %s", slm_gguf_path(m->gguf), name);
    }
    if (t->n_dims != 2 || t->ne[0] != cols || (rows > 0 && t->ne[1] != rows))
        return slm_error_set(err, SLM_ERR_FORMAT,
                             "%s: tensor %s has shape [%lld, %lld] (%u dims), expected [%lld, %lld]",
                             slm_gguf_path(m->gguf), name, (long long)t->ne[0], (long long)t->ne[1],
                             t->n_dims, (long long)cols, (long long)rows);
    const slm_type_traits *tt = slm_type_traits_get(t->type);
    if (!tt || !tt->vec_dot)
        return slm_error_set(err, SLM_ERR_UNSUPPORTED, "%s: tensor %s has type %s, which slm cannot compute with",
                             slm_gguf_path(m->gguf), name, slm_dtype_name(t->type));
    uint64_t row_bytes;
    if (!slm_dtype_row_size(t->type, (uint64_t)cols, &row_bytes))
        return slm_error_set(err, SLM_ERR_FORMAT, "%s: tensor %s: bad row size", slm_gguf_path(m->gguf), name);
    *out = (slm_matrix){.type = t->type, .cols = cols, .rows = t->ne[1], .row_bytes = (size_t)row_bytes, .data = t->data};
    m->n_params += (uint64_t)cols * (uint64_t)t->ne[1];
    m->weight_bytes += t->nbytes;
    return SLM_OK;
}

static slm_status own(slm_model *m, float *p, slm_error *err) {
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? m->cap_owned * 2 : 64;
        float **n = realloc(m->owned, (size_t)cap * sizeof *n);
        if (!n) {
            free(p);
            return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
        }
        m->owned = n;
        m->cap_owned = cap;
    }
    m->owned[m->n_owned++] = p;
    return SLM_OK;
}

static slm_status bind_vector(slm_model *m, const char *name, int64_t n, bool required, const float **out,
                              slm_error *err) {
    const slm_gguf_tensor *t = find(m, name);
    *out = NULL;
    if (!t) {
        if (!required) return SLM_OK;
        return slm_error_set(err, SLM_ERR_FORMAT, "%s: missing tensor %s", slm_gguf_path(m->gguf), name);
    }
    if (slm_gguf_tensor_n_elements(t) != (uint64_t)n || t->ne[0] != n)
        return slm_error_set(err, SLM_ERR_FORMAT, "%s: tensor %s has %lld elements, expected %lld",
                             slm_gguf_path(m->gguf), name, (long long)slm_gguf_tensor_n_elements(t), (long long)n);
    float *v = slm_malloc_array((size_t)n, sizeof(float));
    if (!v) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    slm_matrix row = {.type = t->type, .cols = n, .rows = 1, .row_bytes = (size_t)t->nbytes, .data = t->data};
    slm_status st = slm_matrix_get_row(&row, 0, v, err);
    if (st != SLM_OK) {
        free(v);
        return slm_error_prefix(err, "%s: tensor %s", slm_gguf_path(m->gguf), name);
    }
    m->n_params += (uint64_t)n;
    m->weight_bytes += t->nbytes;
    *out = v;
    return own(m, v, err);
}

#define LNAME(buf, il, what) snprintf(buf, sizeof buf, "blk.%d.%s", il, what)

static slm_status bind_attention(slm_model *m, int il, slm_layer *L, slm_error *err) {
    const slm_hparams *hp = &m->hp;
    const int64_t e = hp->n_embd, qd = (int64_t)hp->n_head * hp->head_dim;
    const int64_t kvd = (int64_t)hp->n_head_kv * hp->head_dim;
    char n[96];
    slm_status st;
    if (hp->arch == SLM_ARCH_PHI3) {
        st = bind_matrix(m, (LNAME(n, il, "attn_qkv.weight"), n), e, qd + 2 * kvd, false, &L->wqkv, err);
        if (st != SLM_OK || L->wqkv.rows > 0) goto out;
    }
    st = bind_matrix(m, (LNAME(n, il, "attn_q.weight"), n), e, qd, true, &L->wq, err);
    if (st == SLM_OK) st = bind_matrix(m, (LNAME(n, il, "attn_k.weight"), n), e, kvd, true, &L->wk, err);
    if (st == SLM_OK) st = bind_matrix(m, (LNAME(n, il, "attn_v.weight"), n), e, kvd, true, &L->wv, err);
    bool need_bias = hp->arch == SLM_ARCH_QWEN2;
    if (st == SLM_OK) st = bind_vector(m, (LNAME(n, il, "attn_q.bias"), n), qd, need_bias, &L->bq, err);
    if (st == SLM_OK) st = bind_vector(m, (LNAME(n, il, "attn_k.bias"), n), kvd, need_bias, &L->bk, err);
    if (st == SLM_OK) st = bind_vector(m, (LNAME(n, il, "attn_v.bias"), n), kvd, need_bias, &L->bv, err);
out:
    if (st != SLM_OK) return st;
    bool qk_norm = hp->arch == SLM_ARCH_QWEN3;
    st = bind_vector(m, (LNAME(n, il, "attn_q_norm.weight"), n), hp->head_dim, qk_norm, &L->q_norm, err);
    if (st == SLM_OK) st = bind_vector(m, (LNAME(n, il, "attn_k_norm.weight"), n), hp->head_dim, qk_norm, &L->k_norm, err);
    if (st == SLM_OK) st = bind_vector(m, (LNAME(n, il, "attn_norm.weight"), n), e, true, &L->attn_norm, err);
    if (st == SLM_OK) st = bind_matrix(m, (LNAME(n, il, "attn_output.weight"), n), qd, e, true, &L->wo, err);
    return st;
}

static slm_status bind_ffn(slm_model *m, int il, slm_layer *L, slm_error *err) {
    const slm_hparams *hp = &m->hp;
    const int64_t e = hp->n_embd, f = hp->n_ff;
    char n[96];
    slm_status st = bind_vector(m, (LNAME(n, il, "ffn_norm.weight"), n), e, true, &L->ffn_norm, err);
    if (st != SLM_OK) return st;
    bool fused = hp->arch == SLM_ARCH_PHI3 && !find(m, (LNAME(n, il, "ffn_gate.weight"), n));
    if (fused) {
        st = bind_matrix(m, (LNAME(n, il, "ffn_up.weight"), n), e, 2 * f, true, &L->w_up, err);
    } else {
        st = bind_matrix(m, (LNAME(n, il, "ffn_gate.weight"), n), e, f, true, &L->w_gate, err);
        if (st == SLM_OK) st = bind_matrix(m, (LNAME(n, il, "ffn_up.weight"), n), e, f, true, &L->w_up, err);
    }
    if (st == SLM_OK) st = bind_matrix(m, (LNAME(n, il, "ffn_down.weight"), n), f, e, true, &L->w_down, err);
    return st;
}

static slm_status bind_rope_factors(slm_model *m, slm_error *err) {
    const int64_t half = m->hp.rope.n_dims / 2;
    slm_status st = bind_vector(m, "rope_freqs.weight", half, false, &m->rope_freqs, err);
    if (st == SLM_OK) st = bind_vector(m, "rope_factors_long.weight", half, false, &m->rope_long, err);
    if (st == SLM_OK) st = bind_vector(m, "rope_factors_short.weight", half, false, &m->rope_short, err);
    return st;
}

slm_status slm_weights_bind(slm_model *m, slm_error *err) {
    slm_hparams *hp = &m->hp;
    slm_status st = bind_matrix(m, "token_embd.weight", hp->n_embd, 0, true, &m->tok_embd, err);
    if (st != SLM_OK) return st;
    if (m->tok_embd.rows < 1 || m->tok_embd.rows > (1 << 24))
        return slm_error_set(err, SLM_ERR_FORMAT, "%s: vocabulary size %lld is out of range",
                             slm_gguf_path(m->gguf), (long long)m->tok_embd.rows);
    hp->n_vocab = (int32_t)m->tok_embd.rows;
    st = bind_vector(m, "output_norm.weight", hp->n_embd, true, &m->output_norm, err);
    if (st == SLM_OK) st = bind_matrix(m, "output.weight", hp->n_embd, hp->n_vocab, false, &m->output, err);
    if (st != SLM_OK) return st;
    hp->tied_output = m->output.rows == 0;
    if (hp->tied_output) m->output = m->tok_embd;
    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    for (int il = 0; il < hp->n_layer && st == SLM_OK; il++) {
        st = bind_attention(m, il, &m->layers[il], err);
        if (st == SLM_OK) st = bind_ffn(m, il, &m->layers[il], err);
    }
    if (st == SLM_OK) st = bind_rope_factors(m, err);
    return st;
}
