/* rt_json_member: finds a top-level member in a JSON object's bytes without
 * parsing it (the proxy's usage lookup): nested and string look-alikes are
 * not taken, malformed or non-object bodies are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "router/router_internal.h"

static bool member(const char *doc, const char *key, char *out, size_t cap) {
    const char *v = NULL;
    size_t n = 0;
    out[0] = '\0';
    bool ok = rt_json_member(doc, strlen(doc), key, &v, &n);
    if (ok && v && n < cap) {
        memcpy(out, v, n);
        out[n] = '\0';
    }
    return ok;
}

static void test_found(void **state) {
    (void)state;
    char v[256];
    assert_true(member("{\"id\":\"x\",\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":1}}", "usage", v, sizeof v));
    assert_string_equal(v, "{\"prompt_tokens\":10,\"completion_tokens\":1}");
    assert_true(member(" { \"a\" : [1, {\"usage\": 3}], \"usage\" : 42 , \"b\": null } \n", "usage", v, sizeof v));
    assert_string_equal(v, "42");
    assert_true(member("{\"usage\":\"s\\\"}\"}", "usage", v, sizeof v));
    assert_string_equal(v, "\"s\\\"}\"");
    assert_true(member("{\"x\":true,\"usage\":-1.5e3}", "usage", v, sizeof v));
    assert_string_equal(v, "-1.5e3");
}

static void test_not_taken(void **state) {
    (void)state;
    char v[256];
    /* inside a nested object, inside a string value, or as a value */
    assert_true(member("{\"choices\":[{\"usage\":{\"x\":1}}]}", "usage", v, sizeof v));
    assert_string_equal(v, "");
    assert_true(member("{\"content\":\"\\\"usage\\\":{}\",\"z\":1}", "usage", v, sizeof v));
    assert_string_equal(v, "");
    assert_true(member("{\"k\":\"usage\"}", "usage", v, sizeof v));
    assert_string_equal(v, "");
    assert_true(member("{}", "usage", v, sizeof v));
    assert_string_equal(v, "");
}

static void test_refused(void **state) {
    (void)state;
    char v[64];
    const char *bad[] = {"", "[1,2]", "\"usage\"", "{", "{\"a\":1", "{\"a\":1}}", "{\"a\":1} x", "{\"a\" 1}",
                         "{\"a\":}", "{\"a\":[1,2}", "{\"a\":\"open}", "{a:1}", "{\"a\":1,}", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (member(bad[i], "a", v, sizeof v)) fail_msg("accepted '%s'", bad[i]);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_found),
        cmocka_unit_test(test_not_taken),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
