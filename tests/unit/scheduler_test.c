/* Tests for the engine scheduler (engine/scheduler.c, sched_loop.c,
 * sched_request.c, sched_stop.c) on the real stories260K model: greedy
 * output of concurrent requests equals the single-sequence engine's, the
 * prefix cache reuses a slot's tokens, stop strings, n_predict, logprobs,
 * cancellation frees the slot, a full queue refuses, bad prompts fail, and
 * the stop-string matcher on its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/sched_internal.h"
#include "slm/engine.h"
#include "slm/scheduler.h"

static char model_path[4096];

static bool have_model(void) {
    const char *shared = getenv("SLM_SHARED_DIR");
    snprintf(model_path, sizeof model_path, "%s/models/stories260K.gguf", shared ? shared : "../shared");
    if (access(model_path, R_OK) == 0) return true;
    printf("SKIP: %s not found (set SLM_SHARED_DIR)\n", model_path);
    return false;
}

static slm_sched *open_sched(int32_t n_par, int32_t max_queue) {
    slm_sched_params p = {.n_parallel = n_par, .max_queue = max_queue, .n_threads = 2};
    slm_sched *s = NULL;
    slm_error err = {0};
    if (slm_sched_open(model_path, &p, &s, &err) != SLM_OK) fail_msg("slm_sched_open: %s", err.msg);
    return s;
}

typedef struct result {
    char text[8192];
    size_t len;
    slm_event done;
    int32_t n_tokens;
    int32_t tokens[1024];
} result;

/* Reads every event of r into res (frees r). */
static void collect(slm_request *r, result *res) {
    memset(res, 0, sizeof *res);
    slm_event ev;
    while (slm_request_next(r, &ev, 30000)) {
        assert_true(res->len + ev.text_len < sizeof res->text);
        memcpy(res->text + res->len, ev.text, ev.text_len);
        res->len += ev.text_len;
        if (ev.kind == SLM_EVENT_DONE) {
            res->done = ev;
            break;
        }
        if (res->n_tokens < 1024) res->tokens[res->n_tokens++] = ev.token;
    }
    res->text[res->len] = '\0';
    assert_int_equal(res->done.kind, SLM_EVENT_DONE);
    slm_request_free(r);
}

static void tokenize(const slm_sched *s, const char *text, int32_t **toks, size_t *n) {
    slm_error err = {0};
    if (slm_tokenize(slm_sched_tokenizer(s), text, strlen(text), true, false, toks, n, &err) != SLM_OK)
        fail_msg("tokenize: %s", err.msg);
}

static slm_request *submit(slm_sched *s, const int32_t *toks, size_t n, int32_t n_predict) {
    slm_request_params p;
    slm_request_params_default(&p);
    p.prompt = toks;
    p.n_prompt = n;
    p.n_predict = n_predict;
    p.sampling.temperature = 0;
    slm_request *r = NULL;
    slm_error err = {0};
    if (slm_sched_submit(s, &p, &r, &err) != SLM_OK) fail_msg("submit: %s", err.msg);
    return r;
}

static bool engine_piece(const char *piece, size_t len, void *user) {
    result *res = user;
    memcpy(res->text + res->len, piece, len);
    res->len += len;
    return true;
}

/* The single-sequence engine's greedy continuation (the reference). */
static void engine_reference(const char *prompt, int32_t n_predict, result *res) {
    slm_engine_params ep = {.model_path = model_path, .n_threads = 2};
    slm_engine *e = NULL;
    slm_error err = {0};
    if (slm_engine_open(&ep, &e, &err) != SLM_OK) fail_msg("engine: %s", err.msg);
    slm_gen_params gp;
    slm_gen_params_default(&gp);
    gp.n_predict = n_predict;
    gp.sampling.temperature = 0;
    memset(res, 0, sizeof *res);
    assert_int_equal(slm_engine_generate(e, prompt, strlen(prompt), &gp, engine_piece, res, NULL, &err), SLM_OK);
    res->text[res->len] = '\0';
    slm_engine_close(e);
}

static void test_concurrent_greedy_matches_engine(void **state) {
    (void)state;
    if (!have_model()) skip();
    const char *prompts[] = {"Once upon a time", "The little dog", "Once upon a time", "Lily and Tom went"};
    const int np = 4;
    slm_sched *s = open_sched(3, 16); /* fewer slots than requests: one waits */
    slm_request *reqs[4];
    int32_t *toks[4];
    size_t n[4];
    for (int i = 0; i < np; i++) {
        tokenize(s, prompts[i], &toks[i], &n[i]);
        reqs[i] = submit(s, toks[i], n[i], 48);
    }
    for (int i = 0; i < np; i++) {
        result got, want;
        collect(reqs[i], &got);
        engine_reference(prompts[i], 48, &want);
        assert_string_equal(got.text, want.text);
        assert_int_equal(got.done.finish, SLM_FINISH_LENGTH);
        assert_int_equal(got.done.n_gen, 48);
        assert_int_equal(got.done.n_prompt, (int32_t)n[i]);
        free(toks[i]);
    }
    slm_sched_stats st;
    slm_sched_get_stats(s, &st);
    assert_int_equal(st.n_busy, 0);
    assert_int_equal(st.n_requests, 4);
    assert_true(st.n_batches < 4 * 49); /* requests really shared forward passes */
    slm_sched_close(s);
}

static void test_prefix_cache(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_sched *s = open_sched(2, 4);
    int32_t *a, *b;
    size_t na, nb;
    tokenize(s, "Once upon a time, there was a little girl", &a, &na);
    tokenize(s, "Once upon a time, there was a little girl named Lily. She", &b, &nb);
    result r1, r2, r3;
    collect(submit(s, a, na, 8), &r1);
    assert_int_equal(r1.done.n_cached, 0);
    collect(submit(s, a, na, 8), &r2);
    assert_int_equal(r2.done.n_cached, (int32_t)na - 1); /* the last token is recomputed */
    assert_string_equal(r1.text, r2.text);
    collect(submit(s, b, nb, 8), &r3);
    assert_true(r3.done.n_cached >= (int32_t)na - 1);
    assert_true(r3.done.n_cached < (int32_t)nb);
    /* The reused prefix gives the same output as a fresh engine. */
    result want;
    engine_reference("Once upon a time, there was a little girl named Lily. She", 8, &want);
    assert_string_equal(r3.text, want.text);
    slm_sched_stats st;
    slm_sched_get_stats(s, &st);
    assert_true(st.n_cached_tokens >= 2 * (na - 1));
    free(a);
    free(b);
    slm_sched_close(s);
}

static void test_stop_string_and_logprobs(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_sched *s = open_sched(1, 4);
    int32_t *t;
    size_t n;
    tokenize(s, "Once upon a time", &t, &n);
    result full;
    collect(submit(s, t, n, 48), &full);
    assert_true(full.len > 20);
    /* Stop at a word in the middle of the text (it spans token boundaries). */
    char stop[16];
    memcpy(stop, full.text + 10, 6);
    stop[6] = '\0';
    const char *first = strstr(full.text, stop);
    assert_non_null(first);
    slm_request_params p;
    slm_request_params_default(&p);
    p.prompt = t;
    p.n_prompt = n;
    p.n_predict = 48;
    p.sampling.temperature = 0;
    const char *stops[] = {"zzzz", stop};
    p.stop = stops;
    p.n_stop = 2;
    p.n_logprobs = 3;
    slm_request *r = NULL;
    assert_int_equal(slm_sched_submit(s, &p, &r, NULL), SLM_OK);
    slm_event ev;
    char text[4096];
    size_t len = 0;
    int n_tok = 0;
    while (slm_request_next(r, &ev, 30000)) {
        memcpy(text + len, ev.text, ev.text_len);
        len += ev.text_len;
        if (ev.kind == SLM_EVENT_DONE) break;
        n_tok++;
        assert_int_equal(ev.n_top, 3);
        assert_int_equal(ev.top[0].token, ev.token); /* greedy picks the argmax */
        assert_true(ev.logprob <= 0.0f);
        assert_float_equal(ev.logprob, ev.top[0].logprob, 1e-6);
        assert_true(ev.top[1].logprob <= ev.top[0].logprob);
    }
    assert_int_equal(ev.kind, SLM_EVENT_DONE);
    assert_int_equal(ev.finish, SLM_FINISH_STOP);
    assert_int_equal(ev.n_gen, n_tok);
    assert_int_equal(len, (size_t)(first - full.text));
    assert_memory_equal(text, full.text, len);
    slm_request_free(r);
    free(t);
    slm_sched_close(s);
}

static void test_cancel_frees_slot_and_queue_limit(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_sched *s = open_sched(1, 1);
    int32_t *t;
    size_t n;
    tokenize(s, "Once upon a time", &t, &n);
    slm_request *a = submit(s, t, n, -1);
    slm_event ev;
    assert_true(slm_request_next(a, &ev, 30000)); /* a holds the only slot */
    assert_int_equal(ev.kind, SLM_EVENT_TOKEN);
    slm_request *b = submit(s, t, n, 4);          /* b waits */
    slm_request_params p;
    slm_request_params_default(&p);
    p.prompt = t;
    p.n_prompt = n;
    slm_request *c = NULL;
    slm_error err = {0};
    assert_int_equal(slm_sched_submit(s, &p, &c, &err), SLM_ERR_NOMEM);
    assert_null(c);
    assert_non_null(strstr(err.msg, "queue is full"));
    slm_request_cancel(a);
    while (slm_request_next(a, &ev, 30000) && ev.kind != SLM_EVENT_DONE) {}
    assert_int_equal(ev.kind, SLM_EVENT_DONE);
    assert_int_equal(ev.finish, SLM_FINISH_CANCEL);
    assert_true(ev.n_gen < 200);
    slm_request_free(a);
    result rb;
    collect(b, &rb); /* the freed slot serves b */
    assert_int_equal(rb.done.finish, SLM_FINISH_LENGTH);
    assert_int_equal(rb.done.n_gen, 4);
    slm_sched_stats st;
    slm_sched_get_stats(s, &st);
    assert_int_equal(st.n_busy, 0);
    assert_int_equal(st.n_queued, 0);
    assert_int_equal(st.n_rejected, 1);
    /* A handle freed without reading: the engine stops it by itself. */
    slm_request_free(submit(s, t, n, -1));
    for (int i = 0; i < 300; i++) {
        slm_sched_get_stats(s, &st);
        if (st.n_busy == 0 && st.n_queued == 0) break;
        usleep(10000);
    }
    assert_int_equal(st.n_busy, 0);
    free(t);
    slm_sched_close(s);
}

static void test_bad_requests(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_sched *s = open_sched(1, 2);
    int32_t big[600];
    for (int i = 0; i < 600; i++) big[i] = 1 + i % 300;
    slm_request_params p;
    slm_request_params_default(&p);
    slm_request *r = NULL;
    slm_error err = {0};
    assert_int_equal(slm_sched_submit(s, &p, &r, &err), SLM_ERR_INVALID_ARG); /* empty */
    p.prompt = big;
    p.n_prompt = (size_t)slm_sched_n_ctx(s);
    assert_int_equal(slm_sched_submit(s, &p, &r, &err), SLM_ERR_RANGE);
    assert_non_null(strstr(err.msg, "context holds"));
    int32_t bad[2] = {1, 99999};
    p.prompt = bad;
    p.n_prompt = 2;
    assert_int_equal(slm_sched_submit(s, &p, &r, &err), SLM_ERR_INVALID_ARG);
    p.prompt = big;
    p.n_logprobs = 21;
    assert_int_equal(slm_sched_submit(s, &p, &r, &err), SLM_ERR_INVALID_ARG);
    p.n_logprobs = -1;
    int32_t bt = 5;
    float bv = 1.0f;
    p.sampling.bias_tokens = &bt;
    p.sampling.bias_values = &bv;
    p.sampling.n_bias = 1;
    bt = -3;
    assert_int_equal(slm_sched_submit(s, &p, &r, &err), SLM_ERR_INVALID_ARG);
    /* n_predict 0: reads the prompt, generates nothing. */
    bt = 5;
    p.n_predict = 0;
    assert_int_equal(slm_sched_submit(s, &p, &r, &err), SLM_OK);
    result res;
    collect(r, &res);
    assert_int_equal(res.done.n_gen, 0);
    assert_int_equal(res.done.finish, SLM_FINISH_LENGTH);
    slm_sched_close(s);
}

/* Bytes the detokenizer still holds at the end (an incomplete UTF-8
 * sequence) come out in the DONE event, with or without stop strings. */
static void test_held_bytes_flushed_at_end(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_sched *s = open_sched(1, 2);
    const slm_tokenizer *tok = slm_sched_tokenizer(s);
    int32_t e2 = slm_tokenizer_find_token(tok, "<0xE2>", 6);
    assert_true(e2 >= 0);
    int32_t *t;
    size_t n;
    tokenize(s, "Once upon a time", &t, &n);
    float bias = 100.0f;
    for (int with_stop = 0; with_stop < 2; with_stop++) {
        slm_request_params p;
        slm_request_params_default(&p);
        p.prompt = t;
        p.n_prompt = n;
        p.n_predict = 2;
        p.sampling.temperature = 0;
        p.sampling.bias_tokens = &e2;
        p.sampling.bias_values = &bias;
        p.sampling.n_bias = 1;
        const char *stops[] = {"\xE2\xE2\xE2"};
        p.stop = stops;
        p.n_stop = with_stop;
        slm_request *r = NULL;
        assert_int_equal(slm_sched_submit(s, &p, &r, NULL), SLM_OK);
        result res;
        collect(r, &res);
        assert_int_equal(res.done.n_gen, 2);
        assert_int_equal(res.len, 2);
        assert_memory_equal(res.text, "\xE2\xE2", 2);
    }
    free(t);
    slm_sched_close(s);
}

static void test_close_with_requests_in_flight(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_sched *s = open_sched(1, 4);
    int32_t *t;
    size_t n;
    tokenize(s, "Once upon a time", &t, &n);
    slm_request *a = submit(s, t, n, -1), *b = submit(s, t, n, -1);
    slm_sched_close(s);
    result ra, rb;
    collect(a, &ra);
    collect(b, &rb);
    assert_int_equal(ra.done.finish, SLM_FINISH_CANCEL);
    assert_int_equal(rb.done.finish, SLM_FINISH_CANCEL);
    free(t);
}

/* ---- stop-string matcher --------------------------------------------- */

static void push_all(sched_stop *st, const char *const *pieces, int n, char *out, int *matched) {
    size_t len = 0;
    *matched = 0;
    for (int i = 0; i < n && !*matched; i++) {
        const char *o;
        size_t ol;
        int m = sched_stop_push(st, pieces[i], strlen(pieces[i]), &o, &ol);
        assert_true(m >= 0);
        memcpy(out + len, o, ol);
        len += ol;
        *matched = m;
    }
    if (!*matched) {
        const char *o;
        size_t ol;
        sched_stop_flush(st, &o, &ol);
        memcpy(out + len, o, ol);
        len += ol;
    }
    out[len] = '\0';
}

static void test_stop_matcher(void **state) {
    (void)state;
    char *stops[] = {"</s>", "END"};
    sched_stop st;
    char out[128];
    int matched;
    sched_stop_init(&st, stops, 2);
    const char *a[] = {"hello <", "/", "s> more"};
    push_all(&st, a, 3, out, &matched);
    assert_int_equal(matched, 1);
    assert_string_equal(out, "hello ");
    sched_stop_free(&st);

    sched_stop_init(&st, stops, 2);
    const char *b[] = {"a <", "b EN", "D"};
    push_all(&st, b, 3, out, &matched);
    assert_int_equal(matched, 1);
    assert_string_equal(out, "a <b ");
    sched_stop_free(&st);

    /* A held prefix that never completes is released at the end. */
    sched_stop_init(&st, stops, 2);
    const char *c[] = {"x EN", "d </"};
    push_all(&st, c, 2, out, &matched);
    assert_int_equal(matched, 0);
    assert_string_equal(out, "x ENd </");
    sched_stop_free(&st);

    /* Held text is released as soon as it cannot start a match. */
    sched_stop_init(&st, stops, 2);
    const char *o;
    size_t ol;
    assert_int_equal(sched_stop_push(&st, "abc E", 5, &o, &ol), 0);
    assert_int_equal(ol, 4);
    assert_int_equal(sched_stop_push(&st, "x", 1, &o, &ol), 0);
    assert_int_equal(ol, 2);
    assert_memory_equal(o, "Ex", 2);
    sched_stop_free(&st);

    /* No stop strings: everything passes through. */
    sched_stop_init(&st, NULL, 0);
    assert_int_equal(sched_stop_push(&st, "END", 3, &o, &ol), 0);
    assert_int_equal(ol, 3);
    sched_stop_free(&st);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_matcher),
        cmocka_unit_test(test_concurrent_greedy_matches_engine),
        cmocka_unit_test(test_prefix_cache),
        cmocka_unit_test(test_stop_string_and_logprobs),
        cmocka_unit_test(test_cancel_frees_slot_and_queue_limit),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_held_bytes_flushed_at_end),
        cmocka_unit_test(test_close_with_requests_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
