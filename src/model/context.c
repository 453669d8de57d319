/* A context: the KV cache (F16, [layer][seq][position][kv_dim]) of one or
 * more sequences and the scratch buffers of one forward batch. Everything
 * is sized up front from n_ctx, n_batch and n_seq, with overflow checks and
 * a refusal when it would exceed physical memory. */
#include "model_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CTX_CAP 4096
#define DEFAULT_BATCH 512
#define MAX_SEQ 256

/* Floats of scratch per batch token. */
static uint64_t scratch_per_token(const slm_hparams *hp) {
    uint64_t qd = (uint64_t)hp->n_head * hp->head_dim, kvd = (uint64_t)hp->n_head_kv * hp->head_dim;
    return 2 * (uint64_t)hp->n_embd + qd * 2 + kvd * 2 + 4 * (uint64_t)hp->n_ff + qd + 2 * kvd;
}

static uint64_t context_bytes(const slm_model *m, uint64_t n_ctx, uint64_t n_batch, uint64_t n_seq) {
    const slm_hparams *hp = &m->hp;
    uint64_t kvd = (uint64_t)hp->n_head_kv * hp->head_dim;
    uint64_t kv = 2ull * hp->n_layer * n_seq * n_ctx * kvd * sizeof(slm_f16);
    uint64_t scratch = scratch_per_token(hp) * n_batch * sizeof(float);
    uint64_t logits = (uint64_t)hp->n_vocab * n_batch * sizeof(float);
    return kv + scratch + logits;
}

uint64_t slm_model_context_bytes(const slm_model *m, int32_t n_ctx, int32_t n_batch) {
    return context_bytes(m, (uint64_t)n_ctx, (uint64_t)n_batch, 1);
}

static uint64_t physical_memory(void) {
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : UINT64_MAX;
}

static void *alloc_array(uint64_t n, size_t size, bool *ok) {
    void *p = n > SIZE_MAX / size ? NULL : calloc((size_t)(n ? n : 1), size);
    if (!p) *ok = false;
    return p;
}

static slm_status alloc_buffers(slm_context *c, slm_error *err) {
    const slm_hparams *hp = &c->m->hp;
    const uint64_t B = (uint64_t)c->n_batch, F = sizeof(float);
    const uint64_t qd = (uint64_t)hp->n_head * hp->head_dim, kvd = (uint64_t)c->kv_dim;
    const uint64_t kv_elems = (uint64_t)c->n_seq * (uint64_t)c->n_ctx * kvd;
    bool ok = true;
    c->k = alloc_array((uint64_t)hp->n_layer, sizeof *c->k, &ok);
    c->v = alloc_array((uint64_t)hp->n_layer, sizeof *c->v, &ok);
    for (int il = 0; ok && il < hp->n_layer; il++) {
        c->k[il] = alloc_array(kv_elems, sizeof(slm_f16), &ok);
        c->v[il] = alloc_array(kv_elems, sizeof(slm_f16), &ok);
    }
    c->seq_pos = alloc_array((uint64_t)c->n_seq, sizeof(int32_t), &ok);
    c->tok_seq = alloc_array(B, sizeof(int32_t), &ok);
    c->tok_pos = alloc_array(B, sizeof(int32_t), &ok);
    c->logit_row = alloc_array(B, sizeof(int32_t), &ok);
    c->x = alloc_array(B * hp->n_embd, F, &ok);
    c->xb = alloc_array(B * hp->n_embd, F, &ok);
    c->q = alloc_array(B * qd, F, &ok);
    c->kx = alloc_array(B * kvd, F, &ok);
    c->vx = alloc_array(B * kvd, F, &ok);
    c->att = alloc_array(B * qd, F, &ok);
    c->hb = alloc_array(B * 2 * (uint64_t)hp->n_ff, F, &ok);
    c->hb2 = alloc_array(B * 2 * (uint64_t)hp->n_ff, F, &ok);
    c->qkv = alloc_array(B * (qd + 2 * kvd), F, &ok);
    c->scores = alloc_array((uint64_t)c->n_threads * (uint64_t)c->n_ctx, F, &ok);
    c->half_scratch = alloc_array((uint64_t)c->n_threads * ((uint64_t)c->n_ctx + (uint64_t)hp->head_dim),
                                  sizeof(slm_f16), &ok);
    c->logits = alloc_array(B * (uint64_t)hp->n_vocab, F, &ok);
    if (!ok)
        return slm_error_set(err, SLM_ERR_NOMEM, "out of memory allocating a context of %d x %d tokens", c->n_seq,
                             c->n_ctx);
    return SLM_OK;
}

static void bind_rope(slm_context *c) {
    const slm_model *m = c->m;
    c->rope = m->hp.rope;
    if (m->rope_freqs) c->rope.freq_factors = m->rope_freqs;
    else if (m->rope_long && m->rope_short)
        c->rope.freq_factors = c->n_ctx > m->hp.rope.n_ctx_orig ? m->rope_long : m->rope_short;
}

static slm_status check_sizes(const slm_model *m, int32_t n_ctx, int32_t n_batch, int32_t n_seq, slm_error *err) {
    if (n_ctx > (1 << 24))
        return slm_error_set(err, SLM_ERR_RANGE, "context of %d tokens is too large (max %d)", n_ctx, 1 << 24);
    if (n_seq < 1 || n_seq > MAX_SEQ)
        return slm_error_set(err, SLM_ERR_RANGE, "%d sequences is out of range [1, %d]", n_seq, MAX_SEQ);
    uint64_t need = context_bytes(m, (uint64_t)n_ctx, (uint64_t)n_batch, (uint64_t)n_seq), phys = physical_memory();
    if (need > phys)
        return slm_error_set(err, SLM_ERR_NOMEM,
                             "a context of %d x %d tokens needs %.1f GiB, more than this machine's %.1f GiB of memory",
                             n_seq, n_ctx, (double)need / (1u << 30), (double)phys / (1u << 30));
    return SLM_OK;
}

slm_status slm_context_new_multi(const slm_model *m, slm_ops *ops, int32_t n_ctx, int32_t n_batch, int32_t n_seq,
                                 slm_context **out, slm_error *err) {
    const slm_hparams *hp = &m->hp;
    if (n_ctx <= 0) n_ctx = hp->n_ctx_train < DEFAULT_CTX_CAP ? hp->n_ctx_train : DEFAULT_CTX_CAP;
    if (n_batch <= 0) n_batch = DEFAULT_BATCH;
    if ((int64_t)n_batch > (int64_t)n_ctx * n_seq) n_batch = n_ctx * n_seq; /* n_seq small: fits */
    slm_status st = check_sizes(m, n_ctx, n_batch, n_seq, err);
    if (st != SLM_OK) return st;
    slm_model_make_resident(m);
    slm_context *c = calloc(1, sizeof *c);
    if (!c) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    *c = (slm_context){.m = m, .ops = ops, .n_ctx = n_ctx, .n_batch = n_batch, .n_seq = n_seq,
                       .kv_dim = hp->n_head_kv * hp->head_dim, .n_threads = slm_ops_threads(ops),
                       .last_logits = -1};
    st = alloc_buffers(c, err);
    if (st != SLM_OK) {
        slm_context_free(c);
        return st;
    }
    bind_rope(c);
    *out = c;
    return SLM_OK;
}

slm_status slm_context_new(const slm_model *m, slm_ops *ops, int32_t n_ctx, int32_t n_batch, slm_context **out,
                           slm_error *err) {
    return slm_context_new_multi(m, ops, n_ctx, n_batch, 1, out, err);
}

void slm_context_free(slm_context *c) {
    if (!c) return;
    for (int il = 0; c->k && il < c->m->hp.n_layer; il++) free(c->k[il]);
    for (int il = 0; c->v && il < c->m->hp.n_layer; il++) free(c->v[il]);
    free(c->k);
    free(c->v);
    void *bufs[] = {c->seq_pos, c->tok_seq, c->tok_pos, c->logit_row, c->x, c->xb, c->q, c->kx, c->vx,
                    c->att, c->hb, c->hb2, c->qkv, c->scores, c->half_scratch, c->logits};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(c);
}

int32_t slm_context_n_ctx(const slm_context *c) { return c->n_ctx; }
int32_t slm_context_n_batch(const slm_context *c) { return c->n_batch; }
int32_t slm_context_n_seq(const slm_context *c) { return c->n_seq; }
int32_t slm_context_n_past(const slm_context *c) { return c->seq_pos[0]; }

int32_t slm_context_seq_pos(const slm_context *c, int32_t seq) {
    return seq >= 0 && seq < c->n_seq ? c->seq_pos[seq] : -1;
}

void slm_context_seq_truncate(slm_context *c, int32_t seq, int32_t n_past) {
    if (seq < 0 || seq >= c->n_seq) return;
    if (n_past >= 0 && n_past < c->seq_pos[seq]) c->seq_pos[seq] = n_past;
    c->n_entries = 0;
    c->last_logits = -1;
}

void slm_context_truncate(slm_context *c, int32_t n_past) { slm_context_seq_truncate(c, 0, n_past); }

/* Checks a batch and assigns each entry its position and logits row. */
static slm_status plan_batch(slm_context *c, const slm_batch *b, int32_t *n_out, slm_error *err) {
    if (b->n <= 0) return slm_error_set(err, SLM_ERR_INVALID_ARG, "no tokens to decode");
    if (b->n > c->n_batch)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "batch of %d tokens exceeds n_batch %d", b->n, c->n_batch);
    int32_t added[MAX_SEQ] = {0};
    *n_out = 0;
    for (int32_t i = 0; i < b->n; i++) {
        int32_t s = b->seq ? b->seq[i] : 0;
        if (s < 0 || s >= c->n_seq)
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "sequence %d out of range [0, %d)", s, c->n_seq);
        if (b->tokens[i] < 0 || b->tokens[i] >= c->m->hp.n_vocab)
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "token id %d out of range [0, %d)", b->tokens[i],
                                 c->m->hp.n_vocab);
        if (c->seq_pos[s] + added[s] >= c->n_ctx)
            return slm_error_set(err, SLM_ERR_RANGE, "sequence %d is full: the context holds %d tokens", s, c->n_ctx);
        c->tok_seq[i] = s;
        c->tok_pos[i] = c->seq_pos[s] + added[s]++;
        bool want = b->logits ? b->logits[i] : i == b->n - 1;
        c->logit_row[i] = want ? (*n_out)++ : -1;
    }
    return SLM_OK;
}

slm_status slm_decode_batch(slm_context *c, const slm_batch *b, slm_error *err) {
    int32_t n_out;
    c->n_entries = 0;
    c->last_logits = -1;
    c->logits_base = 0;
    slm_status st = plan_batch(c, b, &n_out, err);
    if (st == SLM_OK) st = slm_forward_batch(c, b->tokens, b->n, n_out, err);
    if (st != SLM_OK) return st;
    for (int32_t i = 0; i < b->n; i++) c->seq_pos[c->tok_seq[i]]++;
    c->n_entries = b->n;
    c->last_logits = c->logit_row[b->n - 1];
    return SLM_OK;
}

const float *slm_context_batch_logits(const slm_context *c, int32_t i) {
    if (i < 0 || i >= c->n_entries || c->logit_row[i] < 0) return NULL;
    return c->logits + (size_t)c->logit_row[i] * (size_t)c->m->hp.n_vocab;
}

slm_status slm_decode(slm_context *c, const int32_t *tokens, int32_t n, bool all_logits, slm_error *err) {
    if (n <= 0) return slm_error_set(err, SLM_ERR_INVALID_ARG, "no tokens to decode");
    if ((int64_t)c->seq_pos[0] + n > c->n_ctx)
        return slm_error_set(err, SLM_ERR_RANGE, "%d tokens do not fit: %d of the context's %d are used", n,
                             c->seq_pos[0], c->n_ctx);
    if (all_logits && n > c->n_batch)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "all_logits needs n (%d) <= n_batch (%d)", n, c->n_batch);
    const int32_t start = c->seq_pos[0];
    bool all[all_logits ? n : 1];
    for (int32_t i = 0; all_logits && i < n; i++) all[i] = true;
    for (int32_t done = 0; done < n;) {
        int32_t chunk = n - done < c->n_batch ? n - done : c->n_batch;
        slm_batch b = {.n = chunk, .tokens = tokens + done, .seq = NULL, .logits = all_logits ? all : NULL};
        slm_status st = slm_decode_batch(c, &b, err);
        c->logits_base = done; /* slm_context_logits counts from the call's start */
        if (st != SLM_OK) {
            c->seq_pos[0] = start; /* the cache beyond start is ignored */
            c->n_entries = 0;
            c->last_logits = -1;
            return st;
        }
        done += chunk;
    }
    return SLM_OK;
}

const float *slm_context_logits(const slm_context *c, int32_t i) {
    if (i < 0) return c->last_logits < 0 ? NULL : c->logits + (size_t)c->last_logits * (size_t)c->m->hp.n_vocab;
    if (i < c->logits_base) return NULL;
    return slm_context_batch_logits(c, i - c->logits_base);
}
