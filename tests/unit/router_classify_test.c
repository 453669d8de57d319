/* Task classification by a local model (slm.yaml classifier:): the section
 * is validated (a local model, 2-64 well-formed labels, known keys), the
 * router asks the classifier only when the request names no task, takes
 * its answer only when it is one of the labels, and falls back to the
 * inferred task when the classifier cannot answer or is not available. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "slm/router.h"

static const char TIERS[] = "tiers:\n"
                            "  - name: local\n"
                            "    models: [{name: small, local: true}]\n"
                            "  - name: mid\n"
                            "    models: [{name: remote, base_url: 'http://127.0.0.1:9/v1'}]\n"
                            "rules:\n"
                            "  - {name: code-mid, task: code, tier: mid}\n";

static slm_route_config *parse(const char *classifier, slm_error *err) {
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "%s%s", TIERS, classifier);
    slm_route_config *c = NULL;
    slm_route_config_parse(yaml, strlen(yaml), "c.yaml", &c, err);
    return c;
}

static void test_config(void **state) {
    (void)state;
    slm_error err = {0};
    slm_route_config *c = parse("classifier: {model: small, labels: [chat, code, summarize], prompt: 'Pick one:'}\n", &err);
    assert_non_null(c);
    assert_string_equal(c->classifier_model, "small");
    assert_int_equal(c->n_classifier_labels, 3);
    assert_string_equal(c->classifier_labels[1], "code");
    assert_string_equal(c->classifier_prompt, "Pick one:");
    slm_route_config_free(c);
    const struct {
        const char *yaml, *msg;
    } bad[] = {
        {"classifier: {model: remote, labels: [a, b]}\n", "is not a local model"},
        {"classifier: {model: nope, labels: [a, b]}\n", "is not a local model"},
        {"classifier: {labels: [a, b]}\n", "model is required"},
        {"classifier: {model: small, labels: [a]}\n", "2 to 64"},
        {"classifier: {model: small, labels: [a, 'b c']}\n", "label 'b c'"},
        {"classifier: {model: small, labels: [a, b], temperature: 1}\n", "unknown classifier key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err = (slm_error){0};
        c = parse(bad[i].yaml, &err);
        assert_null(c);
        if (!strstr(err.msg, bad[i].msg) || !strstr(err.msg, "c.yaml:")) fail_msg("'%s' -> '%s'", bad[i].yaml, err.msg);
    }
}

typedef struct fake {
    const char *answer; /* NULL: cannot classify */
    int calls;
    int n_labels;
    const char *instructions;
} fake;

static bool fake_classify(void *ctx, const slm_route_model *m, const json_t *body, const char *const *labels,
                          int n_labels, const char *instructions, char *out, size_t cap) {
    (void)body;
    (void)labels;
    fake *f = ctx;
    f->calls++;
    f->n_labels = n_labels;
    f->instructions = instructions;
    assert_string_equal(m->name, "small");
    if (!f->answer) return false;
    snprintf(out, cap, "%s", f->answer);
    return true;
}

static const char *header_code(void *ctx, const char *name) {
    (void)ctx;
    return !strcmp(name, "x-slm-task") ? "code" : NULL;
}

static void test_decisions(void **state) {
    (void)state;
    slm_route_config *c = parse("classifier: {model: small, labels: [chat, code, summarize]}\n", NULL);
    assert_non_null(c);
    json_t *body = json_pack("{s:s, s:[{s:s, s:s}]}", "model", "auto", "messages", "role", "user", "content",
                             "hello there, please help me");
    fake f = {.answer = "code"};
    slm_route_request r = {.body = body, .classify = fake_classify, .classify_ctx = &f};
    slm_route_decision d;
    assert_int_equal(slm_route_decide(c, &r, &d, NULL), SLM_OK);
    assert_int_equal(f.calls, 1);
    assert_int_equal(f.n_labels, 3);
    assert_null(f.instructions);
    assert_string_equal(d.task, "code");
    assert_string_equal(d.task_source, "classifier");
    assert_string_equal(d.rule, "code-mid");
    f.answer = "poetry"; /* off the list: ignored */
    assert_int_equal(slm_route_decide(c, &r, &d, NULL), SLM_OK);
    assert_string_equal(d.task_source, "inferred");
    assert_string_equal(d.task, "chat");
    f.answer = NULL; /* cannot classify */
    assert_int_equal(slm_route_decide(c, &r, &d, NULL), SLM_OK);
    assert_string_equal(d.task_source, "inferred");
    /* a task named by the request: the classifier is not asked */
    f = (fake){.answer = "chat"};
    r.header = header_code;
    assert_int_equal(slm_route_decide(c, &r, &d, NULL), SLM_OK);
    assert_int_equal(f.calls, 0);
    assert_string_equal(d.task_source, "header");
    r.header = NULL;
    json_object_set_new(body, "metadata", json_pack("{s:s}", "task", "summarize"));
    assert_int_equal(slm_route_decide(c, &r, &d, NULL), SLM_OK);
    assert_int_equal(f.calls, 0);
    assert_string_equal(d.task_source, "metadata");
    /* no classify callback (slm route --explain): inferred */
    json_object_del(body, "metadata");
    r.classify = NULL;
    assert_int_equal(slm_route_decide(c, &r, &d, NULL), SLM_OK);
    assert_string_equal(d.task_source, "inferred");
    json_decref(body);
    slm_route_config_free(c);
    /* no classifier configured: the callback is never called */
    c = parse("", NULL);
    body = json_pack("{s:[{s:s, s:s}]}", "messages", "role", "user", "content", "hi");
    f = (fake){.answer = "code"};
    r = (slm_route_request){.body = body, .classify = fake_classify, .classify_ctx = &f};
    assert_int_equal(slm_route_decide(c, &r, &d, NULL), SLM_OK);
    assert_int_equal(f.calls, 0);
    json_decref(body);
    slm_route_config_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
