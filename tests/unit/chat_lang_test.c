/* Jinja language tests: each snippet in tests/chat/expected/snippets.json
 * (written by tests/chat/gen_expected.py with python3-jinja2 under HF's
 * settings) must render to the same bytes, or fail where jinja2 fails.
 * Covers operators, literals, loops, scoping, macros, filters, tests,
 * methods, whitespace control, Markup and generator quirks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/chat.h"

static void test_snippets_match_jinja2(void **state) {
    (void)state;
    char path[4096];
    snprintf(path, sizeof path, "%s", __FILE__);
    char *p = strstr(path, "/unit/chat_lang_test.c");
    assert_non_null(p);
    snprintf(p, sizeof path - (size_t)(p - path), "/chat/expected/snippets.json");
    json_error_t jerr;
    json_t *snippets = json_load_file(path, 0, &jerr);
    assert_non_null(snippets);
    size_t i, failures = 0;
    json_t *s;
    json_t *no_messages = json_array();
    json_array_foreach(snippets, i, s) {
        const char *src = json_string_value(json_object_get(s, "template"));
        const char *want = json_string_value(json_object_get(s, "output"));
        slm_chat_template *t = NULL;
        slm_error err = {0};
        char *out = NULL;
        size_t len = 0;
        slm_status st = slm_chat_template_parse(src, strlen(src), &t, &err);
        if (st == SLM_OK)
            st = slm_chat_template_render(t, no_messages, NULL, false, "", "",
                                          json_object_get(s, "vars"), NULL, &out, &len, &err);
        if (want && st != SLM_OK) {
            fprintf(stderr, "snippet %zu failed: %s\n  %s\n", i, err.msg, src);
            failures++;
        } else if (want && (len != strlen(want) || memcmp(out, want, len) != 0)) {
            fprintf(stderr, "snippet %zu differs:\n  src:  %s\n  want: %s\n  got:  %s\n", i, src, want, out);
            failures++;
        } else if (!want && st == SLM_OK) {
            fprintf(stderr, "snippet %zu should fail (%s):\n  %s\n  got: %s\n", i,
                    json_string_value(json_object_get(s, "error")), src, out);
            failures++;
        }
        free(out);
        slm_chat_template_free(t);
    }
    printf("%zu snippets, %zu failures\n", json_array_size(snippets), failures);
    assert_true(json_array_size(snippets) > 40);
    json_decref(no_messages);
    json_decref(snippets);
    assert_int_equal(failures, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snippets_match_jinja2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
