/* Tests for model names: parsing into canonical store names (Ollama and
 * Hugging Face forms, pins, URLs), rejection of anything that could become
 * a path (traversal, absolute, odd bytes), digest validation, and the
 * manifest file-name encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "slm/store.h"
#include "store/store_internal.h"

static slm_model_ref parse_ok(const char *s) {
    slm_model_ref r;
    slm_error err = {0};
    if (slm_ref_parse(s, &r, &err) != SLM_OK) fail_msg("%s: %s", s, err.msg);
    return r;
}

static void parse_bad(const char *s, const char *msg_part) {
    slm_model_ref r;
    slm_error err = {0};
    if (slm_ref_parse(s, &r, &err) == SLM_OK) fail_msg("'%s' was accepted as %s", s, r.name);
    if (!strstr(err.msg, msg_part)) fail_msg("'%s': message '%s' lacks '%s'", s, err.msg, msg_part);
}

static void test_ollama_names(void **state) {
    (void)state;
    slm_model_ref r = parse_ok("qwen3:4b");
    assert_int_equal(r.kind, SLM_REF_OLLAMA);
    assert_string_equal(r.name, "qwen3:4b");
    assert_string_equal(r.ns, "library");
    assert_string_equal(r.repo, "qwen3");
    assert_string_equal(r.tag, "4b");
    assert_string_equal(parse_ok("qwen3").name, "qwen3:latest");
    assert_string_equal(parse_ok("library/qwen3:4b").name, "qwen3:4b");
    assert_string_equal(parse_ok("registry.ollama.ai/library/qwen3:4b").name, "qwen3:4b");
    r = parse_ok("someone/tiny-model:v1.5-q4_K_M");
    assert_string_equal(r.name, "someone/tiny-model:v1.5-q4_K_M");
    assert_string_equal(r.ns, "someone");
    assert_string_equal(r.pin, "");
}

static void test_hf_names(void **state) {
    (void)state;
    slm_model_ref r = parse_ok("hf.co/bartowski/Llama-3.2-1B-GGUF");
    assert_int_equal(r.kind, SLM_REF_HF);
    assert_string_equal(r.name, "hf.co/bartowski/Llama-3.2-1B-GGUF:Q4_K_M"); /* default quant */
    assert_string_equal(parse_ok("hf.co/org/repo:q8_0").name, "hf.co/org/repo:Q8_0");
    assert_string_equal(parse_ok("huggingface.co/org/repo:Q6_K").name, "hf.co/org/repo:Q6_K");
    r = parse_ok("hf.co/org/repo/model-f16.gguf");
    assert_string_equal(r.file, "model-f16.gguf");
    assert_string_equal(r.tag, "");
    assert_string_equal(r.name, "hf.co/org/repo/model-f16.gguf");
    assert_string_equal(parse_ok("https://huggingface.co/org/repo/resolve/main/m.Q4_0.gguf").name,
                        "hf.co/org/repo/m.Q4_0.gguf");
    assert_string_equal(parse_ok("https://huggingface.co/org/repo/blob/main/m.gguf").file, "m.gguf");
}

static void test_pins(void **state) {
    (void)state;
    const char *hex = "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d";
    char s[200];
    snprintf(s, sizeof s, "qwen3:4b@sha256:%s", hex);
    slm_model_ref r = parse_ok(s);
    assert_string_equal(r.name, "qwen3:4b");
    assert_string_equal(r.pin, hex);
    snprintf(s, sizeof s, "hf.co/o/r:Q8_0@sha256:%s", hex);
    assert_string_equal(parse_ok(s).pin, hex);
    parse_bad("qwen3@sha256:abc", "bad pin");
    parse_bad("qwen3@md5:270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d", "bad pin");
    parse_bad("qwen3@sha256:270CBA1BD5109F42D03350F60406024560464DB173C0E387D91F0426D3BD256D", "bad pin");
}

static void test_rejects_path_like_names(void **state) {
    (void)state;
    parse_bad("", "empty");
    parse_bad("../../etc/passwd", "bad");
    parse_bad("/etc/passwd", "bad");
    parse_bad("library/../x:latest", "bad");
    parse_bad("qwen3:../../x", "bad");
    parse_bad("qwen3:..", "bad tag");
    parse_bad("a/b/c:d", "bad");
    parse_bad("qw en3", "bad model name");
    parse_bad("qwen3:4b\n", "bad tag");
    parse_bad(".hidden:1", "bad model name");
    parse_bad("hf.co/org", "bad Hugging Face");
    parse_bad("hf.co/../repo", "bad Hugging Face");
    parse_bad("hf.co/org/repo/../../x.gguf", "bad file name");
    parse_bad("hf.co/org/repo/sub/x.gguf", "bad file name");
    parse_bad("hf.co/org/repo/model.bin", "bad file name");
    parse_bad("https://evil.example/x.gguf", "unsupported URL");
    char longname[600];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    parse_bad(longname, "too long");
}

static void test_validators(void **state) {
    (void)state;
    assert_true(slm_name_component_ok("Q4_K_M", 95));
    assert_true(slm_name_component_ok("model.v1-2", 95));
    assert_false(slm_name_component_ok("", 95));
    assert_false(slm_name_component_ok("..", 95));
    assert_false(slm_name_component_ok("a..b", 95));
    assert_false(slm_name_component_ok("-rf", 95));
    assert_false(slm_name_component_ok("a/b", 95));
    assert_false(slm_name_component_ok("a\\b", 95));
    assert_false(slm_name_component_ok("abcdef", 5));
    assert_true(slm_digest_ok("sha256:270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d"));
    assert_false(slm_digest_ok("sha256:270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256"));
    assert_false(slm_digest_ok("sha256:270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256dd"));
    assert_false(slm_digest_ok("sha256:../../../../../../../../../../../../../../../../../../../../../"));
    assert_false(slm_digest_ok("sha512:270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d"));
    assert_false(slm_digest_ok("/etc/passwd"));
}

static void test_encode_name(void **state) {
    (void)state;
    char out[100];
    assert_true(store_encode_name("hf.co/org/repo:Q4_K_M", out, sizeof out));
    assert_string_equal(out, "hf.co%2Forg%2Frepo%3AQ4_K_M");
    assert_null(strchr(out, '/'));
    assert_true(store_encode_name("../..", out, sizeof out));
    assert_string_equal(out, "..%2F.."); /* dots stay, '/' does not: one plain file name */
    assert_null(strchr(out, '/'));
    assert_false(store_encode_name("", out, sizeof out));
    assert_false(store_encode_name("a/b/c/d/e/f", out, 8)); /* too long for the buffer */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ollama_names),  cmocka_unit_test(test_hf_names),   cmocka_unit_test(test_pins),
        cmocka_unit_test(test_rejects_path_like_names), cmocka_unit_test(test_validators),
        cmocka_unit_test(test_encode_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
