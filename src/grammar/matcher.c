/* The public matcher API: follows one output through a compiled grammar,
 * byte by byte or token by token (matcher_internal.h describes the state).
 * Every step works on copies and rolls the frame arena back when the input
 * is rejected, so a rejected token leaves the state exactly as it was. A
 * limit hit (too many stacks or frames) is sticky: the matcher then allows
 * nothing and every call reports the error (fail closed). */
#include <string.h>

#include "grammar/matcher_internal.h"

#define COMPACT_MIN_FRAMES 65536

static void vec_free(u32vec *v) {
    free(v->p);
    v->p = NULL;
    v->n = v->cap = 0;
}

void slm_grammar_matcher_free(slm_grammar_matcher *m) {
    if (!m) return;
    garena_free(&m->a);
    vec_free(&m->cur);
    vec_free(&m->scratch);
    vec_free(&m->walk);
    free(m->walk_start);
    free(m->walk_len);
    free(m->walk_mark);
    gmask_cache_free(m->cache);
    gmemo_free(m->memo);
    free(m->own_rest);
    vec_free(&m->dist_chain);
    free(m->tcost);
    vec_free(&m->key);
    vec_free(&m->key_pool);
    free(m->key_refs);
    if (m->sh) gshared_detach(m->v, m->sh);
    free(m);
}

static slm_status fail_status(const slm_grammar_matcher *m, slm_error *err) {
    return slm_error_set(err, m->a.fail_code ? m->a.fail_code : SLM_ERR_INTERNAL, "%s", m->a.fail_msg);
}

void slm_grammar_matcher_reset(slm_grammar_matcher *m) {
    if (!m) return;
    garena_rollback(&m->a, 1);
    m->arena_gen++;
    m->a.failed = 0;
    m->done = 0;
    m->cur.n = 0;
    gstep_begin(&m->a);
    gstep_start(&m->a, m->g, &m->cur);
    m->live_after_gc = m->a.n;
}

slm_status slm_grammar_matcher_new(const slm_grammar *g, const slm_grammar_vocab *v,
                                   slm_grammar_matcher **out, slm_error *err) {
    if (!out || !g) return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar matcher: NULL argument");
    *out = NULL;
    slm_grammar_matcher *m = calloc(1, sizeof *m);
    if (!m || garena_init(&m->a) != 0) {
        free(m);
        return slm_error_set(err, SLM_ERR_NOMEM, "grammar matcher: out of memory");
    }
    m->g = g;
    m->v = v;
    if (v) {
        m->sh = gshared_attach(v, g);
        size_t d = (size_t)v->max_depth + 1;
        m->walk_start = calloc(d, sizeof *m->walk_start);
        m->walk_len = calloc(d, sizeof *m->walk_len);
        m->walk_mark = calloc(d, sizeof *m->walk_mark);
        if (!m->walk_start || !m->walk_len || !m->walk_mark) {
            slm_grammar_matcher_free(m);
            return slm_error_set(err, SLM_ERR_NOMEM, "grammar matcher: out of memory");
        }
    }
    slm_grammar_matcher_reset(m);
    if (m->a.failed) {
        slm_status st = fail_status(m, err);
        slm_grammar_matcher_free(m);
        return st;
    }
    *out = m;
    return SLM_OK;
}

int gmatch_run_bytes(slm_grammar_matcher *m, const uint8_t *b, size_t len) {
    u32vec other = {0};
    m->scratch.n = 0;
    for (size_t i = 0; i < m->cur.n; i++)
        if (u32vec_push(&m->scratch, m->cur.p[i]) != 0) goto oom;
    for (size_t i = 0; i < len; i++) {
        other.n = 0;
        gstep_begin(&m->a);
        gstep_advance(&m->a, m->g, m->scratch.p, m->scratch.n, b[i], &other);
        u32vec t = m->scratch;
        m->scratch = other;
        other = t;
        if (m->a.failed || m->scratch.n == 0) break;
    }
    vec_free(&other);
    return !m->a.failed && m->scratch.n > 0;
oom:
    vec_free(&other);
    m->a.failed = 1;
    m->a.fail_code = SLM_ERR_NOMEM;
    strcpy(m->a.fail_msg, "grammar matcher: out of memory");
    return 0;
}

void gmatch_commit(slm_grammar_matcher *m) {
    u32vec t = m->cur;
    m->cur = m->scratch;
    m->scratch = t;
    if (m->a.n > COMPACT_MIN_FRAMES && m->a.n > 4 * m->live_after_gc) {
        if (garena_compact(&m->a, m->cur.p, m->cur.n) == 0) m->live_after_gc = m->a.n;
        m->arena_gen++; /* compaction renumbers frames (and may half-run) */
    }
}

bool slm_grammar_matcher_accept_bytes(slm_grammar_matcher *m, const char *bytes, size_t len,
                                      slm_error *err) {
    if (!m || (!bytes && len)) return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar matcher: NULL"), false;
    if (m->a.failed) return fail_status(m, err), false;
    if (m->done) return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar matcher: already done"), false;
    size_t mark = m->a.n;
    if (!gmatch_run_bytes(m, (const uint8_t *)bytes, len)) {
        if (m->a.failed) fail_status(m, err);
        else slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar matcher: bytes not allowed by the grammar");
        if (!m->a.failed) garena_rollback(&m->a, mark);
        return false;
    }
    gmatch_commit(m);
    return true;
}

bool slm_grammar_matcher_can_accept_bytes(slm_grammar_matcher *m, const char *bytes, size_t len) {
    if (!m || (!bytes && len) || m->a.failed || m->done) return false;
    size_t mark = m->a.n;
    int ok = gmatch_run_bytes(m, (const uint8_t *)bytes, len);
    if (!m->a.failed) garena_rollback(&m->a, mark);
    return ok;
}

bool slm_grammar_matcher_is_accepting(const slm_grammar_matcher *m) {
    if (!m || m->a.failed) return false;
    if (m->done) return true;
    for (size_t i = 0; i < m->cur.n; i++)
        if (m->cur.p[i] == 0) return true;
    return false;
}

bool slm_grammar_matcher_is_done(const slm_grammar_matcher *m) {
    if (!m || m->a.failed) return false;
    if (m->done) return true;
    for (size_t i = 0; i < m->cur.n; i++)
        if (m->cur.p[i] != 0) return false;
    return m->cur.n > 0;
}

int gmatch_is_eos(const slm_grammar_vocab *v, int32_t tok) {
    for (size_t i = 0; i < v->n_eos; i++)
        if (v->eos[i] == tok) return 1;
    return 0;
}

slm_status slm_grammar_matcher_accept_token(slm_grammar_matcher *m, int32_t tok, slm_error *err) {
    if (!m || !m->v) return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar matcher: no vocabulary");
    if (m->a.failed) return fail_status(m, err);
    if (tok < 0 || tok >= m->v->n)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar matcher: token %d out of range", tok);
    if (m->done) return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar matcher: already done (token %d)", tok);
    if (gmatch_is_eos(m->v, tok)) {
        if (!slm_grammar_matcher_is_accepting(m))
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar matcher: end of text not allowed here");
        m->done = 1;
        return SLM_OK;
    }
    uint32_t len = m->v->off[tok + 1] - m->v->off[tok];
    if (len == 0)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar matcher: token %d has no text", tok);
    if (!slm_grammar_matcher_accept_bytes(m, (const char *)m->v->bytes + m->v->off[tok], len, err)) {
        if (m->a.failed) return fail_status(m, err);
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar matcher: token %d not allowed by the grammar", tok);
    }
    return SLM_OK;
}

slm_status slm_grammar_matcher_fill_mask(slm_grammar_matcher *m, uint32_t *mask, slm_error *err) {
    if (!m || !m->v || !mask) return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar matcher: no vocabulary/mask");
    memset(mask, 0, slm_grammar_vocab_mask_words(m->v) * sizeof *mask);
    if (m->a.failed) return fail_status(m, err);
    if (slm_grammar_matcher_is_accepting(m))
        for (size_t i = 0; i < m->v->n_eos; i++) mask[m->v->eos[i] >> 5] |= 1u << (m->v->eos[i] & 31);
    if (m->done) return SLM_OK;
    slm_status st = gmask_fill(m, mask, err);
    if (st) memset(mask, 0, slm_grammar_vocab_mask_words(m->v) * sizeof *mask);
    return st;
}
