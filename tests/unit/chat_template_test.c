/* Chat template API tests: clear errors with line:column for bad
 * templates, the sandbox limits (loop iterations, recursion, output size,
 * memory, time) stopping hostile templates quickly, raise_exception,
 * argument checking, and no reach outside the given data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "slm/chat.h"

/* parses and renders src with one user message; returns the status and
 * leaves the output (or NULL) in *out */
static slm_status render(const char *src, const slm_chat_limits *lim, char **out, slm_error *err) {
    slm_chat_template *t = NULL;
    *out = NULL;
    slm_status st = slm_chat_template_parse(src, strlen(src), &t, err);
    if (st != SLM_OK) return st;
    json_t *msgs = json_pack("[{s:s,s:s}]", "role", "user", "content", "hi");
    json_t *extra = json_pack("{s:b}", "enable_thinking", 0);
    st = slm_chat_template_render(t, msgs, NULL, true, "<s>", "</s>", extra, lim, out, NULL, err);
    json_decref(msgs);
    json_decref(extra);
    slm_chat_template_free(t);
    return st;
}

static void expect_error(const char *src, const slm_chat_limits *lim, slm_status code, const char *needle) {
    char *out;
    slm_error err = {0};
    slm_status st = render(src, lim, &out, &err);
    if (st != code || !strstr(err.msg, needle))
        fprintf(stderr, "template: %.80s\nstatus %d, message: %s\n", src, st, err.msg);
    assert_int_equal(st, code);
    assert_non_null(strstr(err.msg, needle));
    assert_null(out);
}

static void expect_output(const char *src, const char *want) {
    char *out;
    slm_error err = {0};
    slm_status st = render(src, NULL, &out, &err);
    if (st != SLM_OK) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(st, SLM_OK);
    assert_string_equal(out, want);
    free(out);
}

static void test_basic_render(void **state) {
    (void)state;
    expect_output("{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m['content'] }}{% endfor %}"
                  "{% if add_generation_prompt %}<assistant>{% endif %}{{ eos_token }}"
                  "{{ enable_thinking }}{{ tools is none }}{{ undefined_thing }}",
                  "<s><user>hi<assistant></s>FalseTrue");
}

static void test_parse_errors_have_positions(void **state) {
    (void)state;
    expect_error("line one\n{% if x %}\nno end", NULL, SLM_ERR_FORMAT, "expected '{% endif %}'");
    expect_error("ab\n  {% frobnicate %}", NULL, SLM_ERR_FORMAT, "template 2:6: unknown or unexpected statement 'frobnicate'");
    expect_error("{{ 'unterminated }}", NULL, SLM_ERR_FORMAT, "1:4: unterminated string");
    expect_error("{{ x ) }}", NULL, SLM_ERR_FORMAT, "unbalanced");
    expect_error("{{ x", NULL, SLM_ERR_FORMAT, "missing }}");
    expect_error("{# open comment", NULL, SLM_ERR_FORMAT, "missing end of comment");
    expect_error("{% for x in y %}{% endif %}", NULL, SLM_ERR_FORMAT, "unknown or unexpected statement 'endif'");
    expect_error("{% break %}", NULL, SLM_ERR_FORMAT, "outside of a loop");
    expect_error("{{ 1 + }}", NULL, SLM_ERR_FORMAT, "expected an expression, got '}}'");
    expect_error("{{ x | }}", NULL, SLM_ERR_FORMAT, "expected a name");
    expect_error("{% macro m(a=1, b) %}{% endmacro %}", NULL, SLM_ERR_FORMAT, "non-default parameter");
    expect_error("{{ 99999999999999999999 }}", NULL, SLM_ERR_FORMAT, "integer literal too large");
    /* more digits than the lexer keeps: an error, not a truncated value
     * (a 127-digit integer part followed by '.' overflowed its buffer) */
    char longnum[300] = "{{ ";
    for (int i = 0; i < 127; i++) strcat(longnum, "9");
    strcat(longnum, ".5 }}");
    expect_error(longnum, NULL, SLM_ERR_FORMAT, "number literal too long");
}

static void test_deep_nesting_is_rejected(void **state) {
    (void)state;
    size_t depth = 100000;
    char *src = malloc(depth * 2 + 16);
    assert_non_null(src);
    strcpy(src, "{{ ");
    size_t n = 3;
    for (size_t i = 0; i < depth; i++) src[n++] = '(';
    src[n++] = '1';
    for (size_t i = 0; i < depth; i++) src[n++] = ')';
    strcpy(src + n, " }}");
    expect_error(src, NULL, SLM_ERR_FORMAT, "nested too deeply");
    n = 0;
    for (size_t i = 0; i < 5000; i++) n += (size_t)sprintf(src + n, "{%% if 1 %%}");
    expect_error(src, NULL, SLM_ERR_FORMAT, "nested too deeply");
    free(src);
}

static void test_runtime_errors(void **state) {
    (void)state;
    expect_error("ok\n{{ raise_exception('Roles must alternate') }}", NULL, SLM_ERR_INVALID_ARG,
                 "template 2:4: raise_exception: Roles must alternate");
    expect_error("{{ missing.attr }}", NULL, SLM_ERR_FORMAT, "1:11: 'missing' is undefined");
    expect_error("{{ 1 + 'a' }}", NULL, SLM_ERR_FORMAT, "unsupported operand types for +: 'int' and 'str'");
    expect_error("{{ 1 // 0 }}", NULL, SLM_ERR_FORMAT, "division or modulo by zero");
    expect_error("{{ 9223372036854775807 + 1 }}", NULL, SLM_ERR_FORMAT, "integer overflow");
    expect_error("{{ x | nosuchfilter }}", NULL, SLM_ERR_FORMAT, "no filter named 'nosuchfilter'");
    expect_error("{{ x is nosuchtest }}", NULL, SLM_ERR_FORMAT, "no test named 'nosuchtest'");
    expect_error("{{ messages(1) }}", NULL, SLM_ERR_FORMAT, "not callable");
    expect_error("{% set x.y = 1 %}", NULL, SLM_ERR_FORMAT, "non-namespace");
    expect_error("{{ messages.append(1) }}", NULL, SLM_ERR_FORMAT, "'append' is undefined");
}

static void test_sandbox_sees_only_data(void **state) {
    (void)state;
    /* no Python object model behind the values */
    expect_output("[{{ ''.__class__ }}][{{ messages.__len__ }}][{{ self }}][{{ config }}]", "[][][][]");
    expect_error("{{ ''.__class__.__mro__ }}", NULL, SLM_ERR_FORMAT, "'__class__' is undefined");
    expect_error("{{ cycler.__init__.__globals__ }}", NULL, SLM_ERR_FORMAT, "'cycler' is undefined");
}

static void test_iteration_limit(void **state) {
    (void)state;
    slm_chat_limits lim = {.max_loop_iterations = 10000};
    expect_error("{% for i in range(100000000000) %}{% endfor %}", NULL, SLM_ERR_RANGE, "loop iteration limit");
    expect_error("{% for i in range(200) %}{% for j in range(200) %}{% endfor %}{% endfor %}", &lim,
                 SLM_ERR_RANGE, "iteration limit");
    expect_error("{% for i in messages * 100000 %}{% endfor %}", &lim, SLM_ERR_RANGE, "too large");
}

static void test_recursion_limit(void **state) {
    (void)state;
    expect_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", NULL, SLM_ERR_RANGE,
                 "recursion limit (64) exceeded calling macro 'f'");
    slm_chat_limits lim = {.max_recursion_depth = 5};
    expect_error("{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(10) }}",
                 &lim, SLM_ERR_RANGE, "recursion limit (5)");
    expect_output("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(5) }}",
                  "54321");
}

static void test_output_and_memory_limits(void **state) {
    (void)state;
    slm_chat_limits lim = {.max_output_bytes = 100000};
    expect_error("{% for i in range(1000) %}{{ 'x' * 1000 }}{% endfor %}", &lim, SLM_ERR_RANGE, "output limit");
    expect_error("{{ 'x' * 1000000000000 }}", &lim, SLM_ERR_RANGE, "exceeds the output limit");
    /* doubling a string: must stop at a limit, not exhaust memory */
    expect_error("{% set ns = namespace(s='xx') %}{% for i in range(80) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                 &lim, SLM_ERR_RANGE, "limit");
    /* many small values: the arena's byte cap stops it */
    slm_chat_limits many = {.max_output_bytes = 1000, .max_loop_iterations = 100000000};
    expect_error("{% set ns = namespace(l=[]) %}{% for i in range(10000000) %}{% set ns.l = ns.l + [i] %}{% endfor %}",
                 &many, SLM_ERR_RANGE, "limit");
}

static void test_time_limit(void **state) {
    (void)state;
    slm_chat_limits lim = {.max_loop_iterations = 1000000000000ull, .max_seconds = 0.2};
    time_t start = time(NULL);
    expect_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", &lim,
                 SLM_ERR_RANGE, "time limit");
    assert_true(time(NULL) - start < 10);
}

static void test_bad_arguments(void **state) {
    (void)state;
    slm_chat_template *t = NULL;
    slm_error err = {0};
    char *out = NULL;
    assert_int_equal(slm_chat_template_parse("{{ 1 }}", 7, &t, &err), SLM_OK);
    json_t *obj = json_object();
    json_t *arr = json_array();
    assert_int_equal(slm_chat_template_render(t, obj, NULL, false, NULL, NULL, NULL, NULL, &out, NULL, &err),
                     SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_chat_template_render(t, arr, obj, false, NULL, NULL, NULL, NULL, &out, NULL, &err),
                     SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_chat_template_render(t, arr, NULL, false, NULL, NULL, arr, NULL, &out, NULL, &err),
                     SLM_ERR_INVALID_ARG);
    assert_int_equal(slm_chat_template_render(NULL, arr, NULL, false, NULL, NULL, NULL, NULL, &out, NULL, &err),
                     SLM_ERR_INVALID_ARG);
    /* empty output is a valid, NUL-terminated string */
    slm_chat_template *empty = NULL;
    assert_int_equal(slm_chat_template_parse("", 0, &empty, &err), SLM_OK);
    size_t len = 99;
    assert_int_equal(slm_chat_template_render(empty, arr, NULL, false, NULL, NULL, NULL, NULL, &out, &len, NULL), SLM_OK);
    assert_int_equal(len, 0);
    assert_string_equal(out, "");
    free(out);
    /* a template renders the same twice */
    char *a = NULL, *b = NULL;
    assert_int_equal(slm_chat_template_render(t, arr, NULL, false, NULL, NULL, NULL, NULL, &a, NULL, NULL), SLM_OK);
    assert_int_equal(slm_chat_template_render(t, arr, NULL, false, NULL, NULL, NULL, NULL, &b, NULL, NULL), SLM_OK);
    assert_string_equal(a, "1");
    assert_string_equal(a, b);
    free(a);
    free(b);
    slm_chat_template_free(empty);
    slm_chat_template_free(t);
    slm_chat_template_free(NULL);
    json_decref(obj);
    json_decref(arr);
}

static void test_strftime_now(void **state) {
    (void)state;
    char want[16];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(want, sizeof want, "%Y", &tm);
    char *out;
    slm_error err;
    assert_int_equal(render("{{ strftime_now('%Y') }}", NULL, &out, &err), SLM_OK);
    assert_string_equal(out, want);
    free(out);
}

static void test_nul_and_binary_input(void **state) {
    (void)state;
    const char src[] = "a\0b{{ 'x' }}\xff\xfe";
    slm_chat_template *t = NULL;
    slm_error err;
    assert_int_equal(slm_chat_template_parse(src, sizeof src - 1, &t, &err), SLM_OK);
    json_t *arr = json_array();
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(slm_chat_template_render(t, arr, NULL, false, NULL, NULL, NULL, NULL, &out, &len, &err), SLM_OK);
    assert_int_equal(len, sizeof src - 1 - 9 + 1);
    assert_memory_equal(out, "a\0bx\xff\xfe", len);
    free(out);
    json_decref(arr);
    slm_chat_template_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_render),
        cmocka_unit_test(test_parse_errors_have_positions),
        cmocka_unit_test(test_deep_nesting_is_rejected),
        cmocka_unit_test(test_runtime_errors),
        cmocka_unit_test(test_sandbox_sees_only_data),
        cmocka_unit_test(test_iteration_limit),
        cmocka_unit_test(test_recursion_limit),
        cmocka_unit_test(test_output_and_memory_limits),
        cmocka_unit_test(test_time_limit),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_strftime_now),
        cmocka_unit_test(test_nul_and_binary_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
