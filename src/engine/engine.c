/* The engine: model + tokenizer + thread pool + one context, and the
 * generate loop (tokenize, prefill, then sample/decode until an
 * end-of-generation token, n_predict, a full context or a cancel). */
#include "engine_internal.h"

#include <stdlib.h>
#include <string.h>

slm_status slm_engine_open(const slm_engine_params *p, slm_engine **out, slm_error *err) {
    double t0 = slm_now_s();
    slm_engine *e = calloc(1, sizeof *e);
    if (!e) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    slm_status st = slm_gguf_open(p->model_path, &e->gguf, err);
    if (st == SLM_OK) st = slm_model_load(e->gguf, &e->model, err);
    if (st == SLM_OK) st = slm_tokenizer_load(e->gguf, &e->tok, err);
    if (st == SLM_OK) st = slm_ops_create(p->n_threads, &e->ops, err);
    if (st == SLM_OK) st = slm_context_new(e->model, e->ops, p->n_ctx, p->n_batch, &e->ctx, err);
    if (st != SLM_OK) {
        slm_engine_close(e);
        return st;
    }
    e->t_load_s = slm_now_s() - t0;
    *out = e;
    return SLM_OK;
}

void slm_engine_close(slm_engine *e) {
    if (!e) return;
    slm_chat_template_free(e->chat);
    slm_grammar_vocab_free(e->gvocab);
    free(e->hist);
    slm_context_free(e->ctx);
    slm_ops_free(e->ops);
    slm_tokenizer_free(e->tok);
    slm_model_free(e->model);
    slm_gguf_close(e->gguf);
    free(e);
}

const slm_gguf *slm_engine_gguf(const slm_engine *e) { return e->gguf; }
const slm_model *slm_engine_model(const slm_engine *e) { return e->model; }
const slm_tokenizer *slm_engine_tokenizer(const slm_engine *e) { return e->tok; }
slm_context *slm_engine_context(slm_engine *e) { return e->ctx; }
int slm_engine_threads(const slm_engine *e) { return slm_ops_threads(e->ops); }

void slm_gen_params_default(slm_gen_params *p) {
    memset(p, 0, sizeof *p);
    p->n_predict = -1;
    slm_sampler_params_default(&p->sampling);
}

typedef struct emitter {
    slm_detok detok;
    slm_piece_fn fn;
    void *user;
    bool stopped;
} emitter;

/* Streams one token's text; false once the callback asked to stop. */
static bool emit(emitter *em, int32_t tok) {
    char buf[512];
    size_t n = slm_detok_push(&em->detok, tok, buf, sizeof buf);
    if (n > 0 && em->fn && !em->fn(buf, n, em->user)) em->stopped = true;
    return !em->stopped;
}

static void emit_flush(emitter *em) {
    char buf[64];
    size_t n = slm_detok_flush(&em->detok, buf, sizeof buf);
    if (n > 0 && em->fn && !em->stopped) em->fn(buf, n, em->user);
}

/* Records a token now in the context. */
static slm_status hist_push(slm_engine *e, int32_t tok, slm_error *err) {
    if (e->n_hist == e->cap_hist) {
        size_t cap = e->cap_hist ? e->cap_hist * 2 : 256;
        int32_t *h = realloc(e->hist, cap * sizeof *h);
        if (!h) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
        e->hist = h;
        e->cap_hist = cap;
    }
    e->hist[e->n_hist++] = tok;
    return SLM_OK;
}

/* Decodes the prompt, reusing the longest prefix already in the context
 * (at least one token is decoded so there are fresh logits). */
static slm_status prefill(slm_engine *e, const int32_t *toks, size_t n, slm_sampler *s, int32_t *n_cached,
                          slm_error *err) {
    if (n == 0) return slm_error_set(err, SLM_ERR_INVALID_ARG, "the prompt is empty (no tokens)");
    int32_t n_ctx = slm_context_n_ctx(e->ctx);
    if (n >= (size_t)n_ctx)
        return slm_error_set(err, SLM_ERR_RANGE, "the prompt is %zu tokens, but the context holds %d (use --ctx)",
                             n, n_ctx);
    for (size_t i = 0; i < n; i++) slm_sampler_accept(s, toks[i]);
    size_t keep = 0;
    while (keep < e->n_hist && keep < n - 1 && e->hist[keep] == toks[keep]) keep++;
    slm_context_truncate(e->ctx, (int32_t)keep);
    e->n_hist = keep;
    *n_cached = (int32_t)keep;
    slm_status st = slm_decode(e->ctx, toks + keep, (int32_t)(n - keep), false, err);
    for (size_t i = keep; st == SLM_OK && i < n; i++) st = hist_push(e, toks[i], err);
    if (st != SLM_OK) { /* the context no longer matches a known prefix */
        slm_context_truncate(e->ctx, 0);
        e->n_hist = 0;
    }
    return st;
}

/* Grammar state of one generation: a matcher and its token mask. */
typedef struct constraint {
    slm_grammar_matcher *m;
    uint32_t *mask;
} constraint;

static slm_status constraint_init(slm_engine *e, const slm_grammar *g, constraint *c, slm_error *err) {
    if (!g) return SLM_OK;
    slm_status st = SLM_OK;
    if (!e->gvocab) st = slm_grammar_vocab_from_tokenizer(e->tok, &e->gvocab, err);
    if (st == SLM_OK) st = slm_grammar_matcher_new(g, e->gvocab, &c->m, err);
    if (st == SLM_OK && !(c->mask = calloc(slm_grammar_vocab_mask_words(e->gvocab), sizeof *c->mask)))
        st = slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    return st;
}

static void constraint_free(constraint *c) {
    slm_grammar_matcher_free(c->m);
    free(c->mask);
}

/* Samples the next token, within the grammar when there is one (fails
 * closed: a grammar error ends generation with that error). `left` is the
 * number of tokens that may still be generated (this one included): near
 * it, only tokens that let the output close in time are taken, as the
 * scheduler does (slm_grammar_matcher_budget_mask). */
static slm_status next_token(slm_sampler *s, const float *logits, constraint *c, int32_t left, int32_t *tok,
                             slm_error *err) {
    if (c->m && slm_grammar_matcher_fill_mask(c->m, c->mask, err) != SLM_OK) return err ? err->code : SLM_ERR_INTERNAL;
    *tok = c->m ? slm_sampler_sample_masked(s, logits, c->mask) : slm_sampler_sample(s, logits);
    if (*tok < 0)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, c->m ? "the grammar allows no token here"
                                                           : "no token can be sampled (all are banned)");
    if (!c->m) return SLM_OK;
    slm_status st = slm_grammar_matcher_accept_token_budget(c->m, *tok, left, err);
    if (st != SLM_ERR_RANGE) return st;
    st = slm_grammar_matcher_budget_mask(c->m, c->mask, left, err);
    if (st != SLM_OK) return st;
    *tok = slm_sampler_sample_masked(s, logits, c->mask);
    if (*tok < 0) return slm_error_set(err, SLM_ERR_INVALID_ARG, "the grammar allows no token here");
    return slm_grammar_matcher_accept_token(c->m, *tok, err);
}

/* Tokens generation i may still produce: max_tokens and the context. */
static int32_t tokens_left(const slm_engine *e, const slm_gen_params *p, int32_t i) {
    int64_t left = (int64_t)slm_context_n_ctx(e->ctx) - slm_context_n_past(e->ctx);
    if (p->n_predict >= 0 && (int64_t)p->n_predict - i < left) left = (int64_t)p->n_predict - i;
    if (left < 1) left = 1;
    return left > INT32_MAX ? INT32_MAX : (int32_t)left;
}

static slm_status generate_loop(slm_engine *e, const slm_gen_params *p, slm_sampler *s, emitter *em,
                                slm_gen_stats *stats, double t_start, constraint *c, slm_error *err) {
    double t0 = slm_now_s();
    stats->finish = SLM_FINISH_LENGTH;
    for (int32_t i = 0; p->n_predict < 0 || i < p->n_predict; i++) {
        if (slm_context_n_past(e->ctx) >= slm_context_n_ctx(e->ctx)) break;
        int32_t tok;
        slm_status gs = next_token(s, slm_context_logits(e->ctx, -1), c, tokens_left(e, p, i), &tok, err);
        if (gs != SLM_OK) return gs;
        if (i == 0) stats->ttft_s = slm_now_s() - t_start;
        if (slm_tokenizer_is_eog(e->tok, tok)) {
            stats->finish = SLM_FINISH_STOP;
            break;
        }
        slm_sampler_accept(s, tok);
        stats->n_gen++;
        if (!emit(em, tok)) {
            stats->finish = SLM_FINISH_CANCEL;
            break;
        }
        if (c->m && slm_grammar_matcher_is_done(c->m)) { /* nothing more can follow */
            stats->finish = SLM_FINISH_STOP;
            break;
        }
        if (p->n_predict >= 0 && i + 1 >= p->n_predict) break;
        slm_status st = slm_decode(e->ctx, &tok, 1, false, err);
        if (st == SLM_OK) st = hist_push(e, tok, err);
        if (st != SLM_OK) {
            slm_context_truncate(e->ctx, 0);
            e->n_hist = 0;
            return st;
        }
    }
    stats->t_gen_s = slm_now_s() - t0;
    return SLM_OK;
}

slm_status slm_engine_generate(slm_engine *e, const char *prompt, size_t prompt_len, const slm_gen_params *p,
                               slm_piece_fn on_piece, void *user, slm_gen_stats *stats, slm_error *err) {
    slm_gen_stats local;
    if (!stats) stats = &local;
    memset(stats, 0, sizeof *stats);
    stats->t_load_s = e->t_load_s;
    double t_start = slm_now_s();
    int32_t *toks = NULL;
    size_t n = 0;
    slm_sampler *s = NULL;
    constraint con = {0};
    slm_status st = slm_tokenize(e->tok, prompt, prompt_len, true, p->parse_special, &toks, &n, err);
    /* a template that writes bos_token itself plus the tokenizer's BOS would
     * give two; keep one */
    int32_t bos = slm_tokenizer_bos(e->tok);
    if (st == SLM_OK && n >= 2 && bos >= 0 && toks[0] == bos && toks[1] == bos) memmove(toks, toks + 1, --n * sizeof *toks);
    if (st == SLM_OK) st = slm_sampler_new(&p->sampling, slm_model_hparams(e->model)->n_vocab, &s, err);
    if (st == SLM_OK) st = constraint_init(e, p->grammar, &con, err);
    if (st != SLM_OK) goto done;
    emitter em = {.fn = on_piece, .user = user};
    if (p->echo_prompt) {
        slm_detok_init(&em.detok, e->tok, true);
        for (size_t i = 0; i < n; i++) emit(&em, toks[i]);
        emit_flush(&em);
    }
    slm_detok_init(&em.detok, e->tok, false);
    stats->n_prompt = (int32_t)n;
    st = prefill(e, toks, n, s, &stats->n_cached, err);
    stats->t_prompt_s = slm_now_s() - t_start;
    if (st == SLM_OK && p->n_predict != 0) st = generate_loop(e, p, s, &em, stats, t_start, &con, err);
    emit_flush(&em);
done:
    constraint_free(&con);
    slm_sampler_free(s);
    free(toks);
    return st;
}
