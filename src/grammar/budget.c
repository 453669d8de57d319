/* Budget-aware completion: near max_tokens, keep only the tokens after
 * which the output can still reach the end of the grammar in time, so a
 * constrained generation closes its strings, arrays and objects instead of
 * being cut off invalid.
 *
 * The cost of a state is the number of tokens still needed to end it:
 * 0 when done, else the distance in bytes (distance.c) + 1 for the end
 * token. Counting a token per byte is an upper bound on the tokens needed
 * when the vocabulary spells every byte as one token (byte-fallback
 * SentencePiece, byte-level BPE), so a generation that keeps
 * cost <= tokens left can always end in time.
 *
 * token_fits tests one token (one step from the current state),
 * accept_token_budget tests and takes it in the same step; the full
 * restriction is the memoized trie walk (mask_memo.c) with a cost limit,
 * where a set's cost is computed once and a JSON string's class of tokens
 * is kept or dropped whole; if none fits, it runs again at the cheapest
 * cost seen. The plain walk with a cost per token is the fallback. */
#include <string.h>

#include "grammar/matcher_internal.h"

static slm_status fail(const slm_grammar_matcher *m, slm_error *err) {
    return slm_error_set(err, m->a.fail_code ? m->a.fail_code : SLM_ERR_INTERNAL, "%s", m->a.fail_msg);
}

size_t slm_grammar_matcher_distance(slm_grammar_matcher *m) {
    if (!m || m->a.failed) return SIZE_MAX;
    if (m->done) return 0;
    if (gdist_ensure(m) != 0) return SIZE_MAX;
    uint32_t d = gdist_set_bytes(m, m->cur.p, m->cur.n);
    return d >= GDIST_INF ? SIZE_MAX : d;
}

/* Tokens needed after tok (GDIST_INF: rejected or unknown). */
static uint32_t token_cost(slm_grammar_matcher *m, int32_t tok) {
    const slm_grammar_vocab *v = m->v;
    if (gmatch_is_eos(v, tok)) return slm_grammar_matcher_is_accepting(m) ? 0 : GDIST_INF;
    uint32_t len = v->off[tok + 1] - v->off[tok];
    if (len == 0) return GDIST_INF;
    size_t mark = m->a.n;
    int ok = gmatch_run_bytes(m, v->bytes + v->off[tok], len);
    uint32_t cost = ok ? gdist_set_cost(m, m->scratch.p, m->scratch.n) : GDIST_INF;
    if (!m->a.failed) garena_rollback(&m->a, mark);
    return cost;
}

bool slm_grammar_matcher_token_fits(slm_grammar_matcher *m, int32_t tok, int32_t budget) {
    if (!m || !m->v || m->a.failed || m->done || tok < 0 || tok >= m->v->n || budget < 1) return false;
    if (gdist_ensure(m) != 0) return true; /* cannot tell: do not restrict */
    return token_cost(m, tok) <= (uint32_t)budget - 1;
}

slm_status slm_grammar_matcher_accept_token_budget(slm_grammar_matcher *m, int32_t tok, int32_t budget,
                                                  slm_error *err) {
    if (!m || !m->v || tok < 0 || tok >= m->v->n || m->a.failed || m->done || gmatch_is_eos(m->v, tok))
        return slm_grammar_matcher_accept_token(m, tok, err); /* its checks and messages */
    if (gdist_ensure(m) != 0) return slm_grammar_matcher_accept_token(m, tok, err);
    const slm_grammar_vocab *v = m->v;
    uint32_t len = v->off[tok + 1] - v->off[tok];
    if (len == 0) return slm_grammar_matcher_accept_token(m, tok, err);
    size_t mark = m->a.n;
    if (!gmatch_run_bytes(m, v->bytes + v->off[tok], len)) {
        if (m->a.failed) return fail(m, err);
        garena_rollback(&m->a, mark);
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar matcher: token %d not allowed by the grammar", tok);
    }
    uint32_t cost = gdist_set_cost(m, m->scratch.p, m->scratch.n);
    if (budget < 1 || cost > (uint32_t)budget - 1) {
        garena_rollback(&m->a, mark);
        return slm_error_set(err, SLM_ERR_RANGE, "grammar: token %d leaves %u tokens to end, %d left", tok, cost,
                             budget - 1);
    }
    gmatch_commit(m);
    return SLM_OK;
}

/* Records the cost after every token that ends at a live trie node. */
static int visit_cost(slm_grammar_matcher *m, size_t i, const uint32_t *tops, size_t n, void *ctx) {
    (void)ctx;
    const slm_grammar_vocab *v = m->v;
    if (v->tok_off[i] == v->tok_off[i + 1]) return 1;
    uint32_t c = gdist_set_cost(m, tops, n);
    for (uint32_t k = v->tok_off[i]; k < v->tok_off[i + 1]; k++) m->tcost[v->tok[k]] = c;
    return 1;
}

static int has_bit(const uint32_t *mask, int32_t t) { return (mask[t >> 5] >> (t & 31)) & 1; }

/* The plain-walk version (when the memoized walk gives up): every live
 * token's cost in m->tcost, then the limit. */
static slm_status budget_plain(slm_grammar_matcher *m, uint32_t *mask, int32_t budget, slm_error *err) {
    const slm_grammar_vocab *v = m->v;
    memset(m->tcost, 0xff, (size_t)v->n * sizeof *m->tcost); /* GDIST_UNKNOWN: not reachable */
    slm_status st = gwalk_plain(m, visit_cost, NULL, err);
    if (st != SLM_OK) return st;
    int accepting = slm_grammar_matcher_is_accepting(m);
    for (size_t i = 0; i < v->n_eos; i++) m->tcost[v->eos[i]] = accepting ? 0 : GDIST_UNKNOWN;
    uint32_t best = GDIST_UNKNOWN;
    for (int32_t t = 0; t < v->n; t++)
        if (has_bit(mask, t) && m->tcost[t] < best) best = m->tcost[t];
    if (best == GDIST_UNKNOWN) return SLM_OK; /* nothing to choose from: leave it */
    uint32_t limit = (uint32_t)budget - 1;
    if (best > limit) limit = best; /* over budget already: close as fast as possible */
    for (int32_t t = 0; t < v->n; t++)
        if (has_bit(mask, t) && m->tcost[t] > limit) mask[t >> 5] &= ~(1u << (t & 31));
    return SLM_OK;
}

static int any_bit(const uint32_t *w, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (w[i]) return 1;
    return 0;
}

slm_status slm_grammar_matcher_budget_mask(slm_grammar_matcher *m, uint32_t *mask, int32_t budget,
                                           slm_error *err) {
    if (!m || !m->v || !mask) return slm_error_set(err, SLM_ERR_INVALID_ARG, "grammar budget: no vocabulary/mask");
    if (m->a.failed) return fail(m, err);
    if (m->done) return SLM_OK; /* only EOS is set */
    if (budget < 1) budget = 1;
    if (gdist_ensure(m) != 0) return slm_error_set(err, SLM_ERR_NOMEM, "grammar budget: out of memory");
    const slm_grammar_vocab *v = m->v;
    if (!m->tcost) {
        m->tcost = slm_malloc_array((size_t)v->n, sizeof *m->tcost);
        if (!m->tcost) return slm_error_set(err, SLM_ERR_NOMEM, "grammar budget: out of memory");
    }
    /* the memoized walk with a cost limit (tcost as a mask buffer); when
     * nothing fits and the output may not end here, again at the
     * cheapest cost it saw */
    size_t words = slm_grammar_vocab_mask_words(v);
    uint32_t *keep = m->tcost, min_cost = GDIST_UNKNOWN;
    memset(keep, 0, words * sizeof *keep);
    int rc = gmemo_walk(m, keep, (uint32_t)budget - 1, &min_cost);
    int accepting = slm_grammar_matcher_is_accepting(m);
    if (rc == GMEMO_OK && !accepting && !any_bit(keep, words) && min_cost < GDIST_UNKNOWN) {
        rc = gmemo_walk(m, keep, min_cost, NULL);
    }
    if (rc == GMEMO_FAILED) return fail(m, err);
    if (rc == GMEMO_GIVE_UP) return budget_plain(m, mask, budget, err);
    for (size_t i = 0; i < v->n_eos; i++) /* EOS costs nothing once accepting */
        if (accepting) keep[v->eos[i] >> 5] |= 1u << (v->eos[i] & 31);
    if (!any_bit(keep, words)) return SLM_OK; /* nothing to choose from: leave it */
    for (size_t i = 0; i < words; i++) mask[i] &= keep[i];
    return SLM_OK;
}
