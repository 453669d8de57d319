/* A sequence context: the KV cache (F16, [layer][position][kv_dim]) and
 * the scratch buffers of one forward batch. Everything is sized up front
 * from n_ctx and n_batch, with overflow checks and a refusal when the
 * cache alone would exceed physical memory. */
#include "model_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CTX_CAP 4096
#define DEFAULT_BATCH 512

/* Floats of scratch per batch token. */
static uint64_t scratch_per_token(const slm_hparams *hp) {
    uint64_t qd = (uint64_t)hp->n_head * hp->head_dim, kvd = (uint64_t)hp->n_head_kv * hp->head_dim;
    return 2 * (uint64_t)hp->n_embd + qd * 2 + kvd * 2 + 4 * (uint64_t)hp->n_ff + qd + 2 * kvd;
}

uint64_t slm_model_context_bytes(const slm_model *m, int32_t n_ctx, int32_t n_batch) {
    const slm_hparams *hp = &m->hp;
    uint64_t kvd = (uint64_t)hp->n_head_kv * hp->head_dim;
    uint64_t kv = 2ull * hp->n_layer * (uint64_t)n_ctx * kvd * sizeof(slm_f16);
    uint64_t scratch = scratch_per_token(hp) * (uint64_t)n_batch * sizeof(float);
    uint64_t logits = (uint64_t)hp->n_vocab * (uint64_t)n_batch * sizeof(float);
    return kv + scratch + logits;
}

static uint64_t physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : UINT64_MAX;
}

static float *alloc_floats(uint64_t n, bool *ok) {
    float *p = n > SIZE_MAX / sizeof(float) ? NULL : calloc((size_t)(n ? n : 1), sizeof(float));
    if (!p) *ok = false;
    return p;
}

static slm_status alloc_buffers(slm_context *c, slm_error *err) {
    const slm_hparams *hp = &c->m->hp;
    const uint64_t B = (uint64_t)c->n_batch;
    const uint64_t qd = (uint64_t)hp->n_head * hp->head_dim, kvd = (uint64_t)c->kv_dim;
    bool ok = true;
    c->k = calloc((size_t)hp->n_layer, sizeof *c->k);
    c->v = calloc((size_t)hp->n_layer, sizeof *c->v);
    if (!c->k || !c->v) ok = false;
    for (int il = 0; ok && il < hp->n_layer; il++) {
        c->k[il] = calloc((size_t)c->n_ctx * (size_t)kvd, sizeof(slm_f16));
        c->v[il] = calloc((size_t)c->n_ctx * (size_t)kvd, sizeof(slm_f16));
        if (!c->k[il] || !c->v[il]) ok = false;
    }
    c->x = alloc_floats(B * hp->n_embd, &ok);
    c->xb = alloc_floats(B * hp->n_embd, &ok);
    c->q = alloc_floats(B * qd, &ok);
    c->kx = alloc_floats(B * kvd, &ok);
    c->vx = alloc_floats(B * kvd, &ok);
    c->att = alloc_floats(B * qd, &ok);
    c->hb = alloc_floats(B * 2 * (uint64_t)hp->n_ff, &ok);
    c->hb2 = alloc_floats(B * 2 * (uint64_t)hp->n_ff, &ok);
    c->qkv = alloc_floats(B * (qd + 2 * kvd), &ok);
    c->scores = alloc_floats((uint64_t)c->n_threads * (uint64_t)c->n_ctx, &ok);
    c->logits = alloc_floats(B * (uint64_t)hp->n_vocab, &ok);
    if (!ok)
        return slm_error_set(err, SLM_ERR_NOMEM, "out of memory allocating a context of %d tokens", c->n_ctx);
    return SLM_OK;
}

static void bind_rope(slm_context *c) {
    const slm_model *m = c->m;
    c->rope = m->hp.rope;
    if (m->rope_freqs) c->rope.freq_factors = m->rope_freqs;
    else if (m->rope_long && m->rope_short)
        c->rope.freq_factors = c->n_ctx > m->hp.rope.n_ctx_orig ? m->rope_long : m->rope_short;
}

slm_status slm_context_new(const slm_model *m, slm_ops *ops, int32_t n_ctx, int32_t n_batch, slm_context **out,
                           slm_error *err) {
    const slm_hparams *hp = &m->hp;
    if (n_ctx <= 0) n_ctx = hp->n_ctx_train < DEFAULT_CTX_CAP ? hp->n_ctx_train : DEFAULT_CTX_CAP;
    if (n_batch <= 0) n_batch = DEFAULT_BATCH;
    if (n_batch > n_ctx) n_batch = n_ctx;
    if (n_ctx > (1 << 24))
        return slm_error_set(err, SLM_ERR_RANGE, "context of %d tokens is too large (max %d)", n_ctx, 1 << 24);
    uint64_t need = slm_model_context_bytes(m, n_ctx, n_batch), phys = physical_memory();
    if (need > phys)
        return slm_error_set(err, SLM_ERR_NOMEM,
                             "a context of %d tokens needs %.1f GiB, more than this machine's %.1f GiB of memory",
                             n_ctx, (double)need / (1u << 30), (double)phys / (1u << 30));
    slm_context *c = calloc(1, sizeof *c);
    if (!c) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    c->m = m;
    c->ops = ops;
    c->n_ctx = n_ctx;
    c->n_batch = n_batch;
    c->kv_dim = hp->n_head_kv * hp->head_dim;
    c->n_threads = slm_ops_threads(ops);
    slm_status st = alloc_buffers(c, err);
    if (st != SLM_OK) {
        slm_context_free(c);
        return st;
    }
    bind_rope(c);
    *out = c;
    return SLM_OK;
}

void slm_context_free(slm_context *c) {
    if (!c) return;
    for (int il = 0; c->k && il < c->m->hp.n_layer; il++) free(c->k[il]);
    for (int il = 0; c->v && il < c->m->hp.n_layer; il++) free(c->v[il]);
    free(c->k);
    free(c->v);
    float *bufs[] = {c->x, c->xb, c->q, c->kx, c->vx, c->att, c->hb, c->hb2, c->qkv, c->scores, c->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(c);
}

int32_t slm_context_n_ctx(const slm_context *c) { return c->n_ctx; }
int32_t slm_context_n_past(const slm_context *c) { return c->n_past; }

void slm_context_truncate(slm_context *c, int32_t n_past) {
    if (n_past >= 0 && n_past < c->n_past) c->n_past = n_past;
    c->n_logits = 0;
}

slm_status slm_decode(slm_context *c, const int32_t *tokens, int32_t n, bool all_logits, slm_error *err) {
    if (n <= 0) return slm_error_set(err, SLM_ERR_INVALID_ARG, "no tokens to decode");
    if ((int64_t)c->n_past + n > c->n_ctx)
        return slm_error_set(err, SLM_ERR_RANGE, "%d tokens do not fit: %d of the context's %d are used",
                             n, c->n_past, c->n_ctx);
    for (int32_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->m->hp.n_vocab)
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "token id %d out of range [0, %d)", tokens[i],
                                 c->m->hp.n_vocab);
    if (all_logits && n > c->n_batch)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "all_logits needs n (%d) <= n_batch (%d)", n, c->n_batch);
    const int32_t start = c->n_past;
    for (int32_t done = 0; done < n;) {
        int32_t chunk = n - done < c->n_batch ? n - done : c->n_batch;
        slm_status st = slm_forward_batch(c, tokens + done, chunk, all_logits, err);
        if (st != SLM_OK) {
            c->n_past = start; /* the cache beyond start is ignored */
            c->n_logits = 0;
            return st;
        }
        done += chunk;
    }
    return SLM_OK;
}

const float *slm_context_logits(const slm_context *c, int32_t i) {
    if (c->n_logits == 0) return NULL;
    if (i < 0) i = c->n_logits - 1;
    if (i >= c->n_logits) return NULL;
    return c->logits + (size_t)i * (size_t)c->m->hp.n_vocab;
}
