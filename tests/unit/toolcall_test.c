/* Tests for chat/toolcall_*.c: parsing each family's tool-call syntax
 * from fixed model outputs into content + {name, arguments} calls, text
 * that only looks like a call staying content, format detection from
 * template text and vocabulary markers (and on the real templates in
 * ../shared/chat-templates, which render tools and a call round trip),
 * and the call grammars: compiled
 * with the grammar engine, they accept a valid call of each format and
 * refuse a wrong function name or arguments against the schema. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slm/chat.h"
#include "slm/grammar.h"
#include "slm/toolcall.h"

typedef struct want_call {
    const char *name, *args;
} want_call;

static void expect(slm_tool_format f, const char *text, const char *content, int n, const want_call *calls) {
    char *c = NULL;
    json_t *got = NULL;
    slm_error err = {0};
    assert_int_equal(slm_toolcall_parse(f, text, strlen(text), &c, &got, &err), SLM_OK);
    if ((int)json_array_size(got) != n) {
        char *d = json_dumps(got, 0);
        fail_msg("%s: %zu calls, want %d: %s (content '%s')", slm_tool_format_name(f), json_array_size(got), n, d, c);
    }
    assert_string_equal(c, content);
    for (int i = 0; i < n; i++) {
        json_t *call = json_array_get(got, (size_t)i);
        assert_string_equal(json_string_value(json_object_get(call, "name")), calls[i].name);
        assert_string_equal(json_string_value(json_object_get(call, "arguments")), calls[i].args);
    }
    free(c);
    json_decref(got);
}

static const want_call WEATHER[] = {{"get_weather", "{\"city\":\"Paris\",\"days\":2}"},
                                    {"get_time", "{\"tz\":\"UTC\"}"}};

static void test_hermes(void **state) {
    (void)state;
    expect(SLM_TOOL_FMT_HERMES,
           "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}\n</tool_call>",
           "Let me check.", 1, WEATHER);
    expect(SLM_TOOL_FMT_HERMES,
           "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\",\"days\":2}}\n</tool_call>\n"
           "<tool_call>\n{\"name\":\"get_time\",\"arguments\":{\"tz\":\"UTC\"}}\n</tool_call>",
           "", 2, WEATHER);
    /* a broken call stays text */
    expect(SLM_TOOL_FMT_HERMES, "<tool_call>{\"name\": \"get_weather\", \"argu", "<tool_call>{\"name\": \"get_weather\", \"argu", 0, NULL);
    expect(SLM_TOOL_FMT_HERMES, "Just text.", "Just text.", 0, NULL);
    /* Qwen3-Coder / Nemotron: XML-style parameters inside <tool_call> */
    expect(SLM_TOOL_FMT_HERMES,
           "<tool_call>\n<function=get_weather>\n<parameter=city>\nParis\n</parameter>\n<parameter=days>\n2\n</parameter>\n"
           "</function>\n</tool_call>",
           "", 1, WEATHER);
}

static void test_llama3(void **state) {
    (void)state;
    expect(SLM_TOOL_FMT_LLAMA3, "<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 2}}",
           "", 1, WEATHER);
    /* the tag is a control token: the visible output is the bare JSON */
    expect(SLM_TOOL_FMT_LLAMA3, "{\"type\": \"function\", \"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 2}}",
           "", 1, WEATHER);
    /* JSON inside prose is not a call for Llama 3 */
    expect(SLM_TOOL_FMT_LLAMA3, "Use {\"name\": \"x\"} like this", "Use {\"name\": \"x\"} like this", 0, NULL);
}

static void test_mistral(void **state) {
    (void)state;
    expect(SLM_TOOL_FMT_MISTRAL,
           "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}, \"id\": \"abc123def\"}, "
           "{\"name\": \"get_time\", \"arguments\": {\"tz\": \"UTC\"}}]",
           "", 2, WEATHER);
    expect(SLM_TOOL_FMT_MISTRAL, "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\", \"days\": 2}", "", 1, WEATHER);
    expect(SLM_TOOL_FMT_MISTRAL, "[{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\",\"days\":2}}]", "", 1, WEATHER);
}

static void test_phi4(void **state) {
    (void)state;
    expect(SLM_TOOL_FMT_PHI4,
           "<|tool_call|>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}]<|/tool_call|>", "", 1,
           WEATHER);
    expect(SLM_TOOL_FMT_PHI4, "Sure. functools[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}}]",
           "Sure.", 1, WEATHER);
}

static void test_functionary(void **state) {
    (void)state;
    expect(SLM_TOOL_FMT_FUNCTIONARY,
           ">>>all\nChecking both.>>>get_weather\n{\"city\": \"Paris\", \"days\": 2}>>>get_time\n{\"tz\": \"UTC\"}",
           "Checking both.", 2, WEATHER);
    expect(SLM_TOOL_FMT_FUNCTIONARY, "<function=get_weather>{\"city\": \"Paris\", \"days\": 2}</function>", "", 1, WEATHER);
}

static void test_commandr(void **state) {
    (void)state;
    expect(SLM_TOOL_FMT_COMMANDR,
           "I will look it up.\nAction: ```json\n[\n    {\n        \"tool_name\": \"get_weather\",\n        \"parameters\": "
           "{\"city\": \"Paris\", \"days\": 2}\n    }\n]\n```",
           "I will look it up.", 1, WEATHER);
}

static void test_generic(void **state) {
    (void)state;
    expect(SLM_TOOL_FMT_GENERIC, "Calling: {\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": 2}} done",
           "Calling:  done", 1, WEATHER);
    expect(SLM_TOOL_FMT_GENERIC, "{\"tool_calls\": [{\"function\": {\"name\": \"get_time\", \"arguments\": \"{\\\"tz\\\":\\\"UTC\\\"}\"}}]}",
           "", 1, WEATHER + 1);
    expect(SLM_TOOL_FMT_GENERIC, "{\"city\": \"Paris\"}", "{\"city\": \"Paris\"}", 0, NULL); /* no name: not a call */
    expect(SLM_TOOL_FMT_GENERIC, "", "", 0, NULL);
}

static bool vocab(const char *text, void *user) {
    const char *const *list = user;
    for (; *list; list++)
        if (strcmp(*list, text) == 0) return true;
    return false;
}

static void test_detect(void **state) {
    (void)state;
    const char *qwen = "{%- if tools %}<|im_start|>system\n# Tools\n<tools></tools>\n<tool_call>\n{%- endif %}";
    assert_int_equal(slm_tool_format_detect(qwen, strlen(qwen), NULL, NULL), SLM_TOOL_FMT_HERMES);
    const char *llama = "<|start_header_id|>ipython<|end_header_id|> {{ '<|python_tag|>' }}";
    assert_int_equal(slm_tool_format_detect(llama, strlen(llama), NULL, NULL), SLM_TOOL_FMT_LLAMA3);
    const char *fn = "<|start_header_id|>assistant<|end_header_id|>\n\n>>>";
    assert_int_equal(slm_tool_format_detect(fn, strlen(fn), NULL, NULL), SLM_TOOL_FMT_FUNCTIONARY);
    const char *mis = "[AVAILABLE_TOOLS] {{ tools }}[/AVAILABLE_TOOLS] [TOOL_CALLS]";
    assert_int_equal(slm_tool_format_detect(mis, strlen(mis), NULL, NULL), SLM_TOOL_FMT_MISTRAL);
    const char *cr = "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>Action: ```json";
    assert_int_equal(slm_tool_format_detect(cr, strlen(cr), NULL, NULL), SLM_TOOL_FMT_COMMANDR);
    const char *phi = "<|system|>{{ m.content }}<|tool|>{{ tools }}<|/tool|><|end|>";
    assert_int_equal(slm_tool_format_detect(phi, strlen(phi), NULL, NULL), SLM_TOOL_FMT_PHI4);
    const char *toks[] = {"<s>", "[TOOL_CALLS]", NULL};
    assert_int_equal(slm_tool_format_detect(NULL, 0, vocab, toks), SLM_TOOL_FMT_MISTRAL);
    const char *none[] = {"<s>", NULL};
    assert_int_equal(slm_tool_format_detect("{{ messages }}", 14, vocab, none), SLM_TOOL_FMT_GENERIC);
    assert_string_equal(slm_tool_format_name(SLM_TOOL_FMT_COMMANDR), "commandr");
    assert_non_null(slm_tool_format_triggers(SLM_TOOL_FMT_HERMES)[0]);
}

/* Compiles the call grammar of format f for two functions. */
static slm_grammar *call_grammar(slm_tool_format f, bool lazy, int max_calls) {
    const char *schemas[2] = {
        "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},\"days\":{\"type\":\"integer\"}},"
        "\"required\":[\"city\",\"days\"]}",
        "{\"type\":\"object\",\"properties\":{\"tz\":{\"enum\":[\"UTC\",\"CET\"]}},\"required\":[\"tz\"]}"};
    char *args[2];
    slm_error err = {0};
    slm_json_schema_opts o = {.allow_whitespace = lazy};
    for (int i = 0; i < 2; i++)
        if (slm_grammar_json_schema_to_gbnf(schemas[i], strlen(schemas[i]), &o, &args[i], &err) != SLM_OK)
            fail_msg("%s", err.msg);
    slm_tool_gbnf_fn fns[2] = {{"get_weather", args[0]}, {"get_time", args[1]}};
    char *gbnf = NULL;
    assert_int_equal(slm_toolcall_gbnf(f, fns, 2, lazy, max_calls, &gbnf, &err), SLM_OK);
    slm_grammar *g = NULL;
    if (slm_grammar_compile_gbnf(gbnf, strlen(gbnf), NULL, &g, &err) != SLM_OK)
        fail_msg("%s: %s\n%s", slm_tool_format_name(f), err.msg, gbnf);
    free(gbnf);
    free(args[0]);
    free(args[1]);
    return g;
}

static bool accepts(const slm_grammar *g, const char *text) {
    slm_grammar_matcher *m = NULL;
    slm_error err = {0};
    assert_int_equal(slm_grammar_matcher_new(g, NULL, &m, &err), SLM_OK);
    bool ok = slm_grammar_matcher_accept_bytes(m, text, strlen(text), &err) && slm_grammar_matcher_is_accepting(m);
    slm_grammar_matcher_free(m);
    return ok;
}

typedef struct gcase {
    slm_tool_format f;
    bool lazy;
    const char *good, *bad_name, *bad_args;
} gcase;

static void test_grammars(void **state) {
    (void)state;
    const gcase cases[] = {
        {SLM_TOOL_FMT_GENERIC, false, "{\"name\":\"get_time\",\"arguments\":{\"tz\":\"UTC\"}}",
         "{\"name\":\"get_date\",\"arguments\":{\"tz\":\"UTC\"}}", "{\"name\":\"get_time\",\"arguments\":{\"tz\":\"PST\"}}"},
        {SLM_TOOL_FMT_HERMES, false, "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\",\"days\":3}}\n</tool_call>",
         "<tool_call>\n{\"name\":\"weather\",\"arguments\":{\"city\":\"Oslo\",\"days\":3}}\n</tool_call>",
         "<tool_call>\n{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\",\"days\":\"3\"}}\n</tool_call>"},
        {SLM_TOOL_FMT_HERMES, true, "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"tz\": \"CET\"}}\n</tool_call>",
         "<tool_call>{\"name\": \"time\", \"arguments\": {\"tz\": \"CET\"}}</tool_call>",
         "<tool_call>{\"name\": \"get_time\", \"arguments\": {}}</tool_call>"},
        {SLM_TOOL_FMT_LLAMA3, false, "{\"name\":\"get_time\",\"parameters\":{\"tz\":\"UTC\"}}",
         "{\"name\":\"x\",\"parameters\":{\"tz\":\"UTC\"}}", "{\"name\":\"get_time\",\"arguments\":{\"tz\":\"UTC\"}}"},
        {SLM_TOOL_FMT_LLAMA3, true, "<|python_tag|>{\"name\": \"get_time\", \"parameters\": {\"tz\": \"UTC\"}}",
         "<|python_tag|>{\"name\": \"y\", \"parameters\": {}}", "<|python_tag|>{\"name\": \"get_time\"}"},
        {SLM_TOOL_FMT_MISTRAL, false, "[{\"name\":\"get_time\",\"arguments\":{\"tz\":\"UTC\"}},{\"name\":\"get_time\",\"arguments\":{\"tz\":\"CET\"}}]",
         "[{\"name\":\"nope\",\"arguments\":{\"tz\":\"UTC\"}}]", "[{\"name\":\"get_time\",\"arguments\":{\"tz\":1}}]"},
        {SLM_TOOL_FMT_MISTRAL, true, "[TOOL_CALLS] [{\"name\": \"get_time\", \"arguments\": {\"tz\": \"UTC\"}}]",
         "[TOOL_CALLS][{\"name\": \"nope\", \"arguments\": {\"tz\": \"UTC\"}}]", "[TOOL_CALLS][]"},
        {SLM_TOOL_FMT_PHI4, true, "<|tool_call|>[{\"name\": \"get_time\", \"arguments\": {\"tz\": \"UTC\"}}]<|/tool_call|>",
         "<|tool_call|>[{\"name\": \"t\", \"arguments\": {\"tz\": \"UTC\"}}]<|/tool_call|>",
         "<|tool_call|>[{\"name\": \"get_time\", \"arguments\": {\"tz\": \"UTC\", \"x\": 1}}]<|/tool_call|>"},
        {SLM_TOOL_FMT_FUNCTIONARY, false, ">>>get_weather\n{\"city\":\"Rome\",\"days\":1}", ">>>weather\n{\"city\":\"Rome\",\"days\":1}",
         ">>>get_weather\n{\"city\":\"Rome\"}"},
        {SLM_TOOL_FMT_FUNCTIONARY, true, ">>>all\nsure>>>get_time\n{\"tz\": \"UTC\"}", ">>>time\n{\"tz\": \"UTC\"}",
         ">>>get_time\n{\"tz\": \"GMT\"}"},
        {SLM_TOOL_FMT_COMMANDR, false, "Action:\n```json\n[{\"tool_name\":\"get_time\",\"parameters\":{\"tz\":\"UTC\"}}]\n```",
         "Action:\n```json\n[{\"tool_name\":\"gettime\",\"parameters\":{\"tz\":\"UTC\"}}]\n```",
         "Action:\n```json\n[{\"name\":\"get_time\",\"parameters\":{\"tz\":\"UTC\"}}]\n```"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const gcase *c = &cases[i];
        slm_grammar *g = call_grammar(c->f, c->lazy, 4);
        if (!accepts(g, c->good)) fail_msg("case %zu (%s): refused %s", i, slm_tool_format_name(c->f), c->good);
        if (accepts(g, c->bad_name)) fail_msg("case %zu: accepted %s", i, c->bad_name);
        if (accepts(g, c->bad_args)) fail_msg("case %zu: accepted %s", i, c->bad_args);
        slm_grammar_free(g);
        /* what the grammar allows, the parser reads back */
        char *content = NULL;
        json_t *calls = NULL;
        slm_error err = {0};
        assert_int_equal(slm_toolcall_parse(c->f, c->good, strlen(c->good), &content, &calls, &err), SLM_OK);
        if (json_array_size(calls) == 0) fail_msg("case %zu: parser found no call in %s", i, c->good);
        free(content);
        json_decref(calls);
    }
    /* one call at most when max_calls is 1 */
    slm_grammar *g = call_grammar(SLM_TOOL_FMT_MISTRAL, false, 1);
    assert_false(accepts(g, "[{\"name\":\"get_time\",\"arguments\":{\"tz\":\"UTC\"}},{\"name\":\"get_time\",\"arguments\":{\"tz\":\"CET\"}}]"));
    assert_true(accepts(g, "[{\"name\":\"get_time\",\"arguments\":{\"tz\":\"UTC\"}}]"));
    slm_grammar_free(g);
}

/* The family of every real template in ../shared/chat-templates, and each
 * tool-capable one renders tool definitions and a call/result round trip
 * (as the server passes them: arguments as an object). */
static void test_real_templates(void **state) {
    (void)state;
    const char *shared = getenv("SLM_SHARED_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/chat-templates", shared ? shared : "../shared");
    static const struct {
        const char *file;
        slm_tool_format f;
    } want[] = {
        {"CohereForAI-c4ai-command-r-plus-tool_use.jinja", SLM_TOOL_FMT_COMMANDR},
        {"CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja", SLM_TOOL_FMT_COMMANDR},
        {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", SLM_TOOL_FMT_HERMES},
        {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", SLM_TOOL_FMT_HERMES},
        {"Qwen-Qwen2.5-7B-Instruct.jinja", SLM_TOOL_FMT_HERMES},
        {"fireworks-ai-llama-3-firefunction-v2.jinja", SLM_TOOL_FMT_PHI4},
        {"meetkai-functionary-medium-v3.1.jinja", SLM_TOOL_FMT_FUNCTIONARY},
        {"meetkai-functionary-medium-v3.2.jinja", SLM_TOOL_FMT_FUNCTIONARY},
        {"meta-llama-Llama-3.1-8B-Instruct.jinja", SLM_TOOL_FMT_LLAMA3},
        {"meta-llama-Llama-3.2-3B-Instruct.jinja", SLM_TOOL_FMT_LLAMA3},
        {"meta-llama-Llama-3.3-70B-Instruct.jinja", SLM_TOOL_FMT_LLAMA3},
        {"mistralai-Mistral-Nemo-Instruct-2407.jinja", SLM_TOOL_FMT_MISTRAL},
        {"ollama-testdata-qwen38_chat_template.jinja", SLM_TOOL_FMT_HERMES},
        {"google-gemma-2-2b-it.jinja", SLM_TOOL_FMT_GENERIC},
    };
    json_t *tools = json_loads(
        "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":\"Weather\",\"parameters\":"
        "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\",\"description\":\"City\"}},\"required\":[\"city\"]}}}]",
        0, NULL);
    json_t *msgs = json_loads(
        "[{\"role\":\"user\",\"content\":\"Weather in Paris?\"},{\"role\":\"assistant\",\"content\":null,"
        "\"tool_calls\":[{\"id\":\"abcDEF123\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
        "\"arguments\":{\"city\":\"Paris\"}}}]},{\"role\":\"tool\",\"tool_call_id\":\"abcDEF123\",\"name\":"
        "\"get_weather\",\"content\":\"{\\\"temp\\\":21}\"},{\"role\":\"assistant\",\"content\":\"Sunny.\"},"
        "{\"role\":\"user\",\"content\":\"Thanks\"}]",
        0, NULL);
    assert_non_null(tools);
    assert_non_null(msgs);
    json_t *msgs_text = json_deep_copy(msgs);
    json_t *fn = json_object_get(json_array_get(json_object_get(json_array_get(msgs_text, 1), "tool_calls"), 0), "function");
    json_object_set_new(fn, "arguments", json_string("{\"city\":\"Paris\"}"));
    /* what the server adds for templates such as Firefunction's */
    char *fns = json_dumps(tools, JSON_COMPACT);
    json_t *extra = json_pack("{s:s, s:s}", "functions", fns, "datetime", "Jan 01 2026");
    free(fns);
    int seen = 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, want[i].file);
        FILE *fp = fopen(path, "rb");
        if (!fp) continue;
        static char src[1 << 18];
        size_t n = fread(src, 1, sizeof src - 1, fp);
        fclose(fp);
        seen++;
        slm_tool_format f = slm_tool_format_detect(src, n, NULL, NULL);
        if (f != want[i].f)
            fail_msg("%s: %s, want %s", want[i].file, slm_tool_format_name(f), slm_tool_format_name(want[i].f));
        if (f == SLM_TOOL_FMT_GENERIC) continue;
        slm_chat_template *t = NULL;
        slm_error err = {0};
        if (slm_chat_template_parse(src, n, &t, &err) != SLM_OK) fail_msg("%s: %s", want[i].file, err.msg);
        char *out = NULL;
        /* arguments as an object first, as JSON text when the template refuses that (as the server does) */
        if (slm_chat_template_render(t, msgs, tools, true, "<s>", "</s>", extra, NULL, &out, NULL, &err) != SLM_OK &&
            slm_chat_template_render(t, msgs_text, tools, true, "<s>", "</s>", extra, NULL, &out, NULL, &err) != SLM_OK)
            fail_msg("%s: %s", want[i].file, err.msg);
        if (!strstr(out, "get_weather") || !strstr(out, "Paris") || !strstr(out, "21"))
            fail_msg("%s: tools or the call round trip not rendered:\n%s", want[i].file, out);
        free(out);
        slm_chat_template_free(t);
    }
    json_decref(tools);
    json_decref(msgs);
    json_decref(extra);
    json_decref(msgs_text);
    if (seen == 0) printf("SKIP: no templates in %s\n", dir);
}

typedef struct collected {
    char names[8][64];
    char args[8][256];
    size_t n;
} collected;

static bool on_delta(void *user, size_t index, const char *name, const char *args, size_t n) {
    collected *c = user;
    if (name) {
        assert_int_equal(index, c->n);
        assert_true(strlen(name) < 64);
        strcpy(c->names[c->n++], name);
        assert_int_equal(n, 0);
        return true;
    }
    assert_true(index + 1 == c->n);
    size_t have = strlen(c->args[index]);
    assert_true(have + n < 256);
    memcpy(c->args[index] + have, args, n);
    c->args[index][have + n] = '\0';
    return true;
}

/* Fed in pieces of every size from 1 to 9 bytes, the stream announces the
 * same calls, with the same argument strings, as parsing the whole text. */
static void test_stream_matches_parse(void **state) {
    (void)state;
    static const struct {
        slm_tool_format f;
        const char *text;
    } cases[] = {
        {SLM_TOOL_FMT_HERMES, "Sure.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"New \\\"York\\\" }\", "
                              "\"days\": [1, 2], \"o\": {\"a\": \"}\"}}}\n</tool_call>\n<tool_call>{\"name\":\"get_time\",\"arguments\":{}}</tool_call>"},
        {SLM_TOOL_FMT_LLAMA3, "{\"name\": \"get_time\", \"parameters\": {\"tz\": \"UTC\"}}"},
        {SLM_TOOL_FMT_MISTRAL, "[{\"name\": \"a\", \"arguments\": {\"x\": 1}}, {\"name\": \"b\", \"arguments\": {\"y\": [true, null]}}]"},
        {SLM_TOOL_FMT_COMMANDR, "Action:\n```json\n[\n  {\"tool_name\": \"search\", \"parameters\": {\"q\": \"cats and dogs\"}}\n]\n```"},
        {SLM_TOOL_FMT_FUNCTIONARY, ">>>all\nok>>>get_time\n{\"tz\": \"UTC\"}>>>get_weather\n{\"city\": \"Oslo\"}"},
        {SLM_TOOL_FMT_FUNCTIONARY, "<function=get_time>{\"tz\": \"CET\"}</function>"},
        {SLM_TOOL_FMT_GENERIC, "{\"name\":\"f\",\"arguments\":{\"s\":\"\\u00e9 \\n\",\"n\":-1.50e3}}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *content = NULL;
        json_t *want = NULL;
        slm_error err = {0};
        size_t len = strlen(cases[i].text);
        assert_int_equal(slm_toolcall_parse(cases[i].f, cases[i].text, len, &content, &want, &err), SLM_OK);
        free(content);
        assert_true(json_array_size(want) > 0);
        for (size_t piece = 1; piece <= 9; piece++) {
            slm_toolcall_stream *st = NULL;
            assert_int_equal(slm_toolcall_stream_new(cases[i].f, &st, &err), SLM_OK);
            collected c;
            memset(&c, 0, sizeof c);
            for (size_t off = 0; off < len; off += piece)
                assert_true(slm_toolcall_stream_feed(st, cases[i].text + off, off + piece < len ? piece : len - off,
                                                     on_delta, &c));
            if (c.n != json_array_size(want)) fail_msg("case %zu piece %zu: %zu calls, want %zu", i, piece, c.n, json_array_size(want));
            assert_int_equal(slm_toolcall_stream_n_calls(st), c.n);
            for (size_t k = 0; k < c.n; k++) {
                json_t *w = json_array_get(want, k);
                assert_string_equal(c.names[k], json_string_value(json_object_get(w, "name")));
                assert_string_equal(c.args[k], json_string_value(json_object_get(w, "arguments")));
            }
            slm_toolcall_stream_free(st);
        }
        json_decref(want);
    }
}

static void test_gbnf_args(void **state) {
    (void)state;
    char *out = NULL;
    slm_error err = {0};
    assert_int_equal(slm_toolcall_gbnf(SLM_TOOL_FMT_HERMES, NULL, 0, false, 1, &out, &err), SLM_ERR_INVALID_ARG);
    slm_tool_gbnf_fn fn = {"", "root ::= \"{}\""};
    assert_int_equal(slm_toolcall_gbnf(SLM_TOOL_FMT_HERMES, &fn, 1, false, 1, &out, &err), SLM_ERR_INVALID_ARG);
    assert_null(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hermes),      cmocka_unit_test(test_llama3),  cmocka_unit_test(test_mistral),
        cmocka_unit_test(test_phi4),        cmocka_unit_test(test_functionary), cmocka_unit_test(test_commandr),
        cmocka_unit_test(test_generic),     cmocka_unit_test(test_detect),  cmocka_unit_test(test_grammars),
        cmocka_unit_test(test_gbnf_args),   cmocka_unit_test(test_real_templates),
        cmocka_unit_test(test_stream_matches_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
