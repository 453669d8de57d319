/* The prompt-token count behind the long-context and context-window rules:
 * an exact count from the caller's counter (the local tokenizer) replaces
 * the chars/4 estimate and changes the decision when it crosses a
 * threshold; the counter is not called when no threshold is within reach
 * (short prompts stay cheap); a counter that fails falls back to the
 * estimate; a count the caller already has wins. The last test counts
 * with stories260K's real tokenizer, which makes about one token per
 * character of digits, four times the estimate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "slm/router.h"
#include "slm/tokenizer.h"
#include "slm/gguf.h"

static const char YAML[] = "tiers:\n"
                           "  - name: local\n"
                           "    models: [{name: small, local: true, context_window: 300}]\n"
                           "  - name: big\n"
                           "    models: [{name: wide, base_url: 'http://127.0.0.1:9/v1'}]\n"
                           "rules:\n"
                           "  - {name: too-long, exceeds_local_context: true, tier: big}\n"
                           "  - {name: rest, tier: local}\n";

typedef struct counter {
    int calls;
    int64_t answer;
} counter;

static int64_t count_fn(void *ctx, const json_t *body) {
    (void)body;
    counter *c = ctx;
    c->calls++;
    return c->answer;
}

static slm_route_config *config(void) {
    slm_route_config *c = NULL;
    slm_error err = {0};
    if (slm_route_config_parse(YAML, strlen(YAML), "tokens.yaml", &c, &err)) fail_msg("%s", err.msg);
    return c;
}

static json_t *request_of(size_t chars) {
    char *text = malloc(chars + 1);
    for (size_t i = 0; i < chars; i++) text[i] = (char)('0' + i % 10);
    text[chars] = '\0';
    json_t *b = json_pack("{s:s, s:[{s:s, s:s}]}", "model", "auto", "messages", "role", "user", "content", text);
    free(text);
    return b;
}

static void decide(const slm_route_config *c, const slm_route_request *r, slm_route_decision *d) {
    assert_int_equal(slm_route_decide(c, r, d, NULL), SLM_OK);
    assert_int_equal(d->http_status, 0);
}

static void test_exact_changes_decision(void **state) {
    (void)state;
    slm_route_config *c = config();
    json_t *body = request_of(600); /* estimate: 150 tokens, under the local 300 */
    slm_route_request r = {.body = body};
    slm_route_decision d;
    decide(c, &r, &d);
    assert_false(d.prompt_exact);
    assert_int_equal(d.prompt_tokens, 150);
    assert_string_equal(d.rule, "rest");
    counter k = {.answer = 601};
    r.count_tokens = count_fn;
    r.count_ctx = &k;
    decide(c, &r, &d);
    assert_int_equal(k.calls, 1);
    assert_true(d.prompt_exact);
    assert_int_equal(d.prompt_tokens, 601);
    assert_string_equal(d.rule, "too-long");
    assert_string_equal(c->tiers[d.plan[0].tier].name, "big");
    assert_non_null(strstr(d.reason, ", 601 prompt tokens"));
    k.answer = -1; /* the counter cannot: estimate */
    decide(c, &r, &d);
    assert_false(d.prompt_exact);
    assert_int_equal(d.prompt_tokens, 150);
    r.prompt_tokens = 42; /* the caller's own count wins, the counter is not asked */
    k.calls = 0;
    decide(c, &r, &d);
    assert_int_equal(k.calls, 0);
    assert_true(d.prompt_exact);
    assert_int_equal(d.prompt_tokens, 42);
    json_decref(body);
    slm_route_config_free(c);
}

static void test_not_called_out_of_reach(void **state) {
    (void)state;
    const char *yaml = "tiers:\n  - name: local\n    models: [{name: small, local: true}]\n"
                       "  - name: big\n    models: [{name: wide, base_url: 'http://127.0.0.1:9/v1'}]\n"
                       "rules:\n  - {name: long, min_prompt_tokens: 100000, tier: big}\n";
    slm_route_config *c = NULL;
    assert_int_equal(slm_route_config_parse(yaml, strlen(yaml), "t.yaml", &c, NULL), SLM_OK);
    json_t *body = request_of(2000);
    counter k = {.answer = 5};
    slm_route_request r = {.body = body, .count_tokens = count_fn, .count_ctx = &k};
    slm_route_decision d;
    decide(c, &r, &d);
    assert_int_equal(k.calls, 0); /* 2000 bytes cannot make 100000 tokens */
    assert_false(d.prompt_exact);
    json_decref(body);
    body = request_of(100000); /* now it could: counted */
    r.body = body;
    decide(c, &r, &d);
    assert_int_equal(k.calls, 1);
    assert_true(d.prompt_exact);
    assert_string_equal(d.rule, "default");
    json_decref(body);
    slm_route_config_free(c);
}

/* A counter with a real tokenizer: the text of the request's messages. */
static int64_t real_count(void *ctx, const json_t *body) {
    const slm_tokenizer *t = ctx;
    const json_t *m = json_array_get(json_object_get(body, "messages"), 0);
    const char *text = json_string_value(json_object_get(m, "content"));
    int32_t *toks = NULL;
    size_t n = 0;
    slm_status st = slm_tokenize(t, text, strlen(text), true, false, &toks, &n, NULL);
    free(toks);
    return st == SLM_OK ? (int64_t)n : -1;
}

static void test_real_tokenizer(void **state) {
    (void)state;
    const char *shared = getenv("SLM_SHARED_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K.gguf", shared ? shared : "../shared");
    struct stat st;
    if (stat(path, &st) != 0) {
        print_message("SKIP: %s is absent\n", path);
        skip();
    }
    slm_gguf *g = NULL;
    slm_tokenizer *tok = NULL;
    assert_int_equal(slm_gguf_open(path, &g, NULL), SLM_OK);
    assert_int_equal(slm_tokenizer_load(g, &tok, NULL), SLM_OK);
    slm_route_config *c = config();
    json_t *body = request_of(600);
    slm_route_request r = {.body = body, .count_tokens = real_count, .count_ctx = tok};
    slm_route_decision d;
    decide(c, &r, &d);
    assert_true(d.prompt_exact);
    assert_true(d.prompt_tokens > 300); /* digits: far more tokens than chars/4 */
    assert_string_equal(d.rule, "too-long");
    json_decref(body);
    slm_route_config_free(c);
    slm_tokenizer_free(tok);
    slm_gguf_close(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_changes_decision),
        cmocka_unit_test(test_not_called_out_of_reach),
        cmocka_unit_test(test_real_tokenizer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
