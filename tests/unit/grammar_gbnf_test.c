/* Tests for the GBNF parser and the byte-level matcher: sample grammars
 * (JSON, arithmetic, lists, UTF-8 classes, repetitions) accept exactly the
 * strings they should, byte by byte; syntax errors carry line:col; left
 * recursion, undefined rules and stack blow-ups fail with clear errors;
 * a rejected input leaves the matcher state unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/grammar.h"

static const char *JSON_GBNF =
    "# JSON (RFC 8259) with optional whitespace\n"
    "root   ::= ws value ws\n"
    "value  ::= object | array | string | number | (\"true\" | \"false\" | \"null\")\n"
    "object ::=\n"
    "  \"{\" ws (\n"
    "      string ws \":\" ws value\n"
    "      (ws \",\" ws string ws \":\" ws value)*\n"
    "  )? ws \"}\"\n"
    "array  ::= \"[\" ws ( value (ws \",\" ws value)* )? ws \"]\"\n"
    "string ::= \"\\\"\" ( [^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4}) )* \"\\\"\"\n"
    "number ::= \"-\"? (\"0\" | [1-9] [0-9]*) (\".\" [0-9]+)? ([eE] [-+]? [0-9]+)?\n"
    "ws     ::= [ \\t\\n]*\n";

static slm_grammar *compile(const char *text) {
    slm_grammar *g = NULL;
    slm_error err;
    slm_status st = slm_grammar_compile_gbnf(text, strlen(text), NULL, &g, &err);
    if (st != SLM_OK) fail_msg("compile failed: %s", err.msg);
    return g;
}

/* Whole string accepted (fed one byte at a time) and the end accepting. */
static int matches(const slm_grammar *g, const char *s) {
    slm_grammar_matcher *m = NULL;
    assert_int_equal(slm_grammar_matcher_new(g, NULL, &m, NULL), SLM_OK);
    int ok = 1;
    for (size_t i = 0; s[i] && ok; i++) ok = slm_grammar_matcher_accept_bytes(m, s + i, 1, NULL);
    ok = ok && slm_grammar_matcher_is_accepting(m);
    slm_grammar_matcher_free(m);
    return ok;
}

static void expect_error(const char *text, slm_status code, const char *needle) {
    slm_grammar *g = NULL;
    slm_error err;
    slm_status st = slm_grammar_compile_gbnf(text, strlen(text), NULL, &g, &err);
    assert_null(g);
    if (st != code) fail_msg("expected %s, got %s: %s", slm_status_name(code), slm_status_name(st), err.msg);
    if (!strstr(err.msg, needle)) fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_json(void **state) {
    (void)state;
    slm_grammar *g = compile(JSON_GBNF);
    const char *good[] = {"{}", "[]", "0", "-1.5e+10", "\"a\\u00e9\\n\"", "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"",
                          "{\"a\": [1, 2, {\"b\": null}], \"c\": true}", " [ ] ", "[[[[[[[[[[1]]]]]]]]]]"};
    const char *bad[] = {"{", "[1,]", "01", "\"\x01\"", "\"\\x\"", "{\"a\" 1}", "tru", "\"\xc3\"", "\"\xed\xa0\x80\"",
                         "\"\xc0\xaf\"", "[1 2]", "1.", ""};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!matches(g, good[i])) fail_msg("should accept: %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (matches(g, bad[i])) fail_msg("should reject: %s", bad[i]);
    slm_grammar_free(g);
}

static void test_arithmetic(void **state) {
    (void)state;
    slm_grammar *g = compile("root ::= expr\n"
                             "expr ::= term ((\"+\" | \"-\") term)*\n"
                             "term ::= factor ((\"*\" | \"/\") factor)*\n"
                             "factor ::= [0-9]+ | \"(\" expr \")\"\n");
    assert_true(matches(g, "1+2*3"));
    assert_true(matches(g, "(1+2)*(3-4)/5"));
    assert_true(matches(g, "((((7))))"));
    assert_false(matches(g, "1+"));
    assert_false(matches(g, "(1+2"));
    assert_false(matches(g, "1+2)"));
    assert_false(matches(g, "a"));
    slm_grammar_free(g);
}

static void test_list_and_repeat(void **state) {
    (void)state;
    slm_grammar *g = compile("root ::= item{2,3} \"!\"? # items\n"
                             "item ::= \"- \" [a-z]+ \"\\n\"\n");
    assert_true(matches(g, "- a\n- bc\n"));
    assert_true(matches(g, "- a\n- bc\n- d\n!"));
    assert_false(matches(g, "- a\n"));
    assert_false(matches(g, "- a\n- b\n- c\n- d\n"));
    slm_grammar_free(g);
    g = compile("root ::= \"ab\"{3} \"x\"{0,2} \"y\"{2,}");
    assert_true(matches(g, "abababyy"));
    assert_true(matches(g, "abababxxyyyy"));
    assert_false(matches(g, "ababyy"));
    assert_false(matches(g, "abababxxxyy"));
    assert_false(matches(g, "abababy"));
    slm_grammar_free(g);
}

static void test_classes_utf8(void **state) {
    (void)state;
    slm_grammar *g = compile("root ::= [\xce\xb1-\xcf\x89]+ [^a-z\xe2\x82\xac] . \"\\u00e9\\U0001F600\"");
    assert_true(matches(g, "\xce\xb1\xce\xb2X\xf0\x9f\x98\x80\xc3\xa9\xf0\x9f\x98\x80"));
    assert_false(matches(g, "\xce\xb1q\xf0\x9f\x98\x80\xc3\xa9\xf0\x9f\x98\x80"));
    assert_false(matches(g, "\xce\xb1\xe2\x82\xac\xf0\x9f\x98\x80\xc3\xa9\xf0\x9f\x98\x80"));
    assert_false(matches(g, "a"));
    slm_grammar_free(g);
    /* every code point of a negated class, at each UTF-8 length boundary */
    g = compile("root ::= [^x]");
    const char *edge[] = {"\x7f", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf", "\xee\x80\x80",
                          "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"};
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) assert_true(matches(g, edge[i]));
    assert_false(matches(g, "x"));
    assert_false(matches(g, "\xed\xa0\x80"));     /* surrogate */
    assert_false(matches(g, "\xe0\x80\x80"));     /* overlong */
    assert_false(matches(g, "\xf4\x90\x80\x80")); /* > U+10FFFF */
    slm_grammar_free(g);
}

static void test_errors(void **state) {
    (void)state;
    expect_error("root ::= \"a\"\nfoo ::= bar\n", SLM_ERR_FORMAT, "gbnf:2:9: undefined rule 'bar'");
    expect_error("root ::= \"abc\n", SLM_ERR_FORMAT, "unterminated string");
    expect_error("root ::= [a-\n", SLM_ERR_FORMAT, "gbnf:1:");
    expect_error("root ::= (\"a\"\n", SLM_ERR_FORMAT, "expected ')'");
    expect_error("root := \"a\"", SLM_ERR_FORMAT, "gbnf:1:6: expected '::='");
    expect_error("root ::= \"a\" )", SLM_ERR_FORMAT, "unmatched ')'");
    expect_error("root ::= \"a\"{3,1}", SLM_ERR_FORMAT, "n < m");
    expect_error("root ::= \"\\q\"", SLM_ERR_FORMAT, "gbnf:1:12: unknown escape");
    expect_error("start ::= \"a\"", SLM_ERR_FORMAT, "no rule named 'root'");
    expect_error("root ::= \"a\"\nroot ::= \"b\"", SLM_ERR_FORMAT, "defined twice");
    expect_error("root ::= expr\nexpr ::= expr \"+\" \"1\" | \"1\"", SLM_ERR_UNSUPPORTED, "left recursion: rule 'expr'");
    expect_error("root ::= a\na ::= b? a \"x\" | \"y\"\nb ::= \"z\"", SLM_ERR_UNSUPPORTED, "left recursion");
    expect_error("root ::= (\"a\"?)*", SLM_ERR_UNSUPPORTED, "left recursion");
    expect_error("", SLM_ERR_FORMAT, "no rules");
}

static void test_root_option_and_comments(void **state) {
    (void)state;
    const char *t = "# leading comment\nstart ::= \"x\" rest # trailing\n\nrest ::= \"y\"\n   | \"z\"\n";
    slm_grammar *g = NULL;
    assert_int_equal(slm_grammar_compile_gbnf(t, strlen(t), "start", &g, NULL), SLM_OK);
    assert_true(matches(g, "xy"));
    assert_true(matches(g, "xz"));
    assert_false(matches(g, "x"));
    slm_grammar_free(g);
}

static void test_reject_keeps_state(void **state) {
    (void)state;
    slm_grammar *g = compile("root ::= \"ab\" (\"c\" | \"d\")");
    slm_grammar_matcher *m = NULL;
    assert_int_equal(slm_grammar_matcher_new(g, NULL, &m, NULL), SLM_OK);
    assert_true(slm_grammar_matcher_accept_bytes(m, "a", 1, NULL));
    assert_false(slm_grammar_matcher_accept_bytes(m, "bx", 2, NULL));
    assert_true(slm_grammar_matcher_can_accept_bytes(m, "bc", 2));
    assert_false(slm_grammar_matcher_is_accepting(m));
    assert_true(slm_grammar_matcher_accept_bytes(m, "bd", 2, NULL));
    assert_true(slm_grammar_matcher_is_accepting(m));
    assert_true(slm_grammar_matcher_is_done(m));
    assert_false(slm_grammar_matcher_can_accept_bytes(m, "c", 1));
    slm_grammar_matcher_reset(m);
    assert_false(slm_grammar_matcher_is_accepting(m));
    assert_true(slm_grammar_matcher_accept_bytes(m, "abc", 3, NULL));
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
}

/* 2^n distinct stacks after n bytes: must fail closed, not grow forever. */
static void test_stack_limit(void **state) {
    (void)state;
    slm_grammar *g = compile("root ::= p\np ::= \"a\" p \"b\" | \"a\" p \"c\" | \"\"");
    slm_grammar_matcher *m = NULL;
    assert_int_equal(slm_grammar_matcher_new(g, NULL, &m, NULL), SLM_OK);
    slm_error err;
    int failed = 0;
    for (int i = 0; i < 64 && !failed; i++) failed = !slm_grammar_matcher_accept_bytes(m, "a", 1, &err);
    assert_true(failed);
    assert_int_equal(err.code, SLM_ERR_NOMEM);
    assert_non_null(strstr(err.msg, "too many parse stacks"));
    assert_false(slm_grammar_matcher_can_accept_bytes(m, "b", 1)); /* stays failed */
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
}

/* Deep nesting keeps working: frames are shared and compacted. */
static void test_deep_nesting(void **state) {
    (void)state;
    slm_grammar *g = compile(JSON_GBNF);
    slm_grammar_matcher *m = NULL;
    assert_int_equal(slm_grammar_matcher_new(g, NULL, &m, NULL), SLM_OK);
    for (int i = 0; i < 3000; i++) assert_true(slm_grammar_matcher_accept_bytes(m, "[", 1, NULL));
    for (int i = 0; i < 3000; i++) assert_true(slm_grammar_matcher_accept_bytes(m, "]", 1, NULL));
    assert_true(slm_grammar_matcher_is_accepting(m));
    slm_grammar_matcher_free(m);
    slm_grammar_free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json),          cmocka_unit_test(test_arithmetic),
        cmocka_unit_test(test_list_and_repeat), cmocka_unit_test(test_classes_utf8),
        cmocka_unit_test(test_errors),        cmocka_unit_test(test_root_option_and_comments),
        cmocka_unit_test(test_reject_keeps_state), cmocka_unit_test(test_stack_limit),
        cmocka_unit_test(test_deep_nesting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
