/* Golden test for chat templates: every template in
 * ../shared/chat-templates is rendered with every conversation in
 * tests/chat/conversations.json and compared byte for byte with what
 * python3-jinja2 produced under HF transformers' settings
 * (tests/chat/expected/<template>.json, written by gen_expected.py). A
 * case Python failed on must fail here too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/chat.h"

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    if (len) *len = (size_t)n;
    return buf;
}

/* tests/ directory of the source tree, from this file's path */
static void tests_dir(char *out, size_t n) {
    snprintf(out, n, "%s", __FILE__);
    char *p = strstr(out, "/unit/chat_golden_test.c");
    if (p) *p = '\0';
}

static void show_diff(const char *tmpl, const char *cas, const char *want, const char *got) {
    size_t i = 0;
    while (want[i] && want[i] == got[i]) i++;
    size_t from = i > 40 ? i - 40 : 0;
    fprintf(stderr, "MISMATCH %s / %s at byte %zu\n  want: %.80s\n  got:  %.80s\n", tmpl, cas, i,
            want + from, got + from);
}

/* renders one template with all cases; returns the number of failures */
static int check_template(const char *shared, const char *tests, const char *name, json_t *cases) {
    char path[8400];
    snprintf(path, sizeof path, "%s/chat-templates/%s", shared, name);
    size_t len;
    char *src = read_file(path, &len);
    snprintf(path, sizeof path, "%s/chat/expected/%s.json", tests, name);
    json_error_t jerr;
    json_t *expected = json_load_file(path, 0, &jerr);
    if (!src || !expected) {
        fprintf(stderr, "cannot read %s or its expectations\n", name);
        free(src);
        json_decref(expected);
        return 1;
    }
    slm_chat_template *t = NULL;
    slm_error err = {0};
    int failures = 0;
    if (slm_chat_template_parse(src, len, &t, &err) != SLM_OK) {
        fprintf(stderr, "PARSE %s: %s\n", name, err.msg);
        failures++;
    }
    size_t i;
    json_t *cas;
    json_array_foreach(cases, i, cas) {
        if (!t) break;
        const char *cname = json_string_value(json_object_get(cas, "name"));
        json_t *exp = json_object_get(expected, cname);
        const char *want = json_string_value(json_object_get(exp, "output"));
        char *out = NULL;
        size_t out_len = 0;
        slm_status st = slm_chat_template_render(
            t, json_object_get(cas, "messages"), json_object_get(cas, "tools"),
            json_is_true(json_object_get(cas, "add_generation_prompt")), "<|bos|>", "<|eos|>",
            json_object_get(cas, "extra_all"), NULL, &out, &out_len, &err);
        if (!want) {
            if (st == SLM_OK) {
                fprintf(stderr, "SHOULD FAIL %s / %s (python: %s)\n", name, cname,
                        json_string_value(json_object_get(exp, "error")));
                failures++;
            }
        } else if (st != SLM_OK) {
            fprintf(stderr, "FAILED %s / %s: %s\n", name, cname, err.msg);
            failures++;
        } else if (strlen(want) != out_len || memcmp(want, out, out_len) != 0) {
            show_diff(name, cname, want, out);
            failures++;
        }
        free(out);
    }
    slm_chat_template_free(t);
    json_decref(expected);
    free(src);
    return failures;
}

/* adds "extra_all" = BASE_EXTRA of gen_expected.py + the case's extra */
static void merge_extras(json_t *cases) {
    size_t i;
    json_t *cas;
    json_array_foreach(cases, i, cas) {
        json_t *all = json_pack("{s:s}", "date_string", "01 Jan 2025");
        json_t *extra = json_object_get(cas, "extra");
        if (extra) json_object_update(all, extra);
        json_object_set_new(cas, "extra_all", all);
    }
}

static void test_all_templates_match_jinja2(void **state) {
    (void)state;
    const char *shared = getenv("SLM_SHARED_DIR");
    char dir[4096], tests[2048];
    snprintf(dir, sizeof dir, "%s/chat-templates", shared ? shared : "../shared");
    DIR *d = opendir(dir);
    if (!d) {
        printf("SKIP: %s not found (set SLM_SHARED_DIR)\n", dir);
        skip();
    }
    tests_dir(tests, sizeof tests);
    char path[4200];
    snprintf(path, sizeof path, "%s/chat/conversations.json", tests);
    json_error_t jerr;
    json_t *cases = json_load_file(path, 0, &jerr);
    assert_non_null(cases);
    merge_extras(cases);
    int failures = 0, templates = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".jinja")) continue;
        templates++;
        failures += check_template(shared ? shared : "../shared", tests, e->d_name, cases);
    }
    closedir(d);
    json_decref(cases);
    printf("%d templates x %zu cases, %d failures\n", templates, (size_t)12, failures);
    assert_true(templates >= 20);
    assert_int_equal(failures, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_templates_match_jinja2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
