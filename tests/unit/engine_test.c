/* Engine tests on a real model (stories260K): generation through the
 * engine, prompt-prefix reuse across calls, cancellation from the piece
 * callback, chat rendering with a template added to the model, and a
 * clean error for a template that does not parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_copy.h"
#include "slm/engine.h"

static char g_model[4096];

static bool have_model(void) {
    const char *dir = getenv("SLM_SHARED_DIR");
    snprintf(g_model, sizeof g_model, "%s/models/stories260K.gguf", dir ? dir : "../shared");
    struct stat st;
    if (stat(g_model, &st) == 0) return true;
    fprintf(stderr, "SKIP: %s is absent\n", g_model);
    return false;
}

typedef struct sink {
    char text[4096];
    size_t len;
    int pieces, stop_after;
} sink;

static bool collect(const char *piece, size_t len, void *user) {
    sink *s = user;
    if (s->len + len < sizeof s->text) {
        memcpy(s->text + s->len, piece, len);
        s->len += len;
        s->text[s->len] = '\0';
    }
    s->pieces++;
    return s->stop_after == 0 || s->pieces < s->stop_after;
}

static slm_engine *open_engine(const char *path) {
    slm_engine_params p = {.model_path = path, .n_threads = 2, .n_ctx = 256};
    slm_engine *e = NULL;
    slm_error err;
    if (slm_engine_open(&p, &e, &err) != SLM_OK) fail_msg("%s", err.msg);
    return e;
}

static void greedy(slm_gen_params *p, int n) {
    slm_gen_params_default(p);
    p->n_predict = n;
    p->sampling.temperature = 0;
}

static void test_generate_and_prefix_reuse(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_engine *e = open_engine(g_model);
    slm_gen_params p;
    greedy(&p, 12);
    sink a = {0}, b = {0};
    slm_gen_stats st;
    const char *prompt = "Once upon a time";
    assert_int_equal(slm_engine_generate(e, prompt, strlen(prompt), &p, collect, &a, &st, NULL), SLM_OK);
    assert_string_equal(a.text, ", there was a little girl named Lily. She");
    assert_int_equal(st.n_prompt, 5);
    assert_int_equal(st.n_cached, 0);
    assert_int_equal(st.n_gen, 12);
    assert_int_equal(st.finish, SLM_FINISH_LENGTH);
    /* the same prompt again: all but the last prompt token come from the cache */
    assert_int_equal(slm_engine_generate(e, prompt, strlen(prompt), &p, collect, &b, &st, NULL), SLM_OK);
    assert_string_equal(a.text, b.text);
    assert_int_equal(st.n_cached, 4);
    /* a continuation of the previous prompt + output reuses all of it */
    char longer[8192];
    snprintf(longer, sizeof longer, "%s%s was", prompt, a.text);
    sink c = {0};
    assert_int_equal(slm_engine_generate(e, longer, strlen(longer), &p, collect, &c, &st, NULL), SLM_OK);
    assert_true(st.n_cached >= 14);
    slm_engine_close(e);
}

static void test_cancel_from_callback(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_engine *e = open_engine(g_model);
    slm_gen_params p;
    greedy(&p, 40);
    sink s = {.stop_after = 3};
    slm_gen_stats st;
    assert_int_equal(slm_engine_generate(e, "Once", 4, &p, collect, &s, &st, NULL), SLM_OK);
    assert_int_equal(st.finish, SLM_FINISH_CANCEL);
    assert_int_equal(s.pieces, 3);
    slm_engine_close(e);
}

/* Writes stories260K with the given chat template to a temp file. */
static void write_with_template(const char *tmpl, char *path, size_t cap) {
    slm_gguf *g;
    assert_int_equal(slm_gguf_open(g_model, &g, NULL), SLM_OK);
    slm_gguf_writer *w = gguf_copy(g);
    assert_non_null(w);
    assert_int_equal(slm_gguf_writer_set_str(w, "tokenizer.chat_template", tmpl), SLM_OK);
    const char *tmp = getenv("SLM_TEST_TMP");
    mkdir(tmp ? tmp : "/tmp", 0700);
    snprintf(path, cap, "%s/engine_test_%d.gguf", tmp ? tmp : "/tmp", (int)getpid());
    slm_error err;
    if (slm_gguf_writer_write_file(w, path, &err) != SLM_OK) fail_msg("%s", err.msg);
    slm_gguf_writer_free(w);
    slm_gguf_close(g);
}

static void test_chat_template(void **state) {
    (void)state;
    if (!have_model()) skip();
    char path[4200];
    write_with_template("{{ bos_token }}{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
                        "{% if add_generation_prompt %}assistant:{% endif %}",
                        path, sizeof path);
    slm_engine *e = open_engine(path);
    assert_true(slm_engine_has_chat_template(e));
    json_t *msgs = json_pack("[{s:s,s:s},{s:s,s:s}]", "role", "system", "content", "Be brief.", "role", "user",
                             "content", "Hi");
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(slm_engine_render_chat(e, msgs, NULL, true, NULL, &out, &len, NULL), SLM_OK);
    assert_string_equal(out, "<s>system: Be brief.\nuser: Hi\nassistant:");
    assert_int_equal(len, strlen(out));
    /* the template's <s> plus the tokenizer's BOS must not give two BOS */
    slm_gen_params p;
    greedy(&p, 4);
    p.parse_special = true;
    slm_gen_stats st;
    sink s = {0};
    assert_int_equal(slm_engine_generate(e, out, len, &p, collect, &s, &st, NULL), SLM_OK);
    int32_t *toks;
    size_t n;
    assert_int_equal(slm_tokenize(slm_engine_tokenizer(e), out, len, true, true, &toks, &n, NULL), SLM_OK);
    assert_int_equal(toks[0], slm_tokenizer_bos(slm_engine_tokenizer(e)));
    assert_int_equal(toks[1], toks[0]);
    assert_int_equal(st.n_prompt, (int)n - 1);
    free(toks);
    free(out);
    json_decref(msgs);
    slm_engine_close(e);
    remove(path);
}

static void test_bad_template_and_messages(void **state) {
    (void)state;
    if (!have_model()) skip();
    char path[4200];
    write_with_template("{% for m in messages %}{{ m.content ", path, sizeof path);
    slm_engine *e = open_engine(path);
    json_t *msgs = json_pack("[{s:s,s:s}]", "role", "user", "content", "Hi");
    char *out = NULL;
    size_t len;
    slm_error err;
    assert_int_equal(slm_engine_render_chat(e, msgs, NULL, true, NULL, &out, &len, &err), SLM_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "chat template"));
    assert_null(out);
    json_t *obj = json_object();
    assert_int_equal(slm_engine_render_chat(e, obj, NULL, true, NULL, &out, &len, &err), SLM_ERR_INVALID_ARG);
    json_decref(obj);
    json_decref(msgs);
    slm_engine_close(e);
    remove(path);
}

static void test_fallback_chatml(void **state) {
    (void)state;
    if (!have_model()) skip();
    slm_engine *e = open_engine(g_model);
    /* stories260K is a base model: no template, no chat markers */
    assert_false(slm_engine_has_chat_template(e));
    assert_null(slm_engine_chat_template_name(e));
    json_t *msgs = json_pack("[{s:s,s:s}]", "role", "user", "content", "Hi");
    char *out = NULL;
    size_t len;
    assert_int_equal(slm_engine_render_chat(e, msgs, NULL, true, NULL, &out, &len, NULL), SLM_OK);
    assert_string_equal(out, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
    free(out);
    json_decref(msgs);
    slm_engine_close(e);
}

static bool has_none(const char *text, void *user) {
    (void)text;
    (void)user;
    return false;
}

static bool has_listed(const char *text, void *user) {
    return strcmp(text, (const char *)user) == 0;
}

static void test_builtin_pick_and_render(void **state) {
    (void)state;
    assert_null(slm_chat_builtin_pick("llama", has_none, NULL));
    assert_string_equal(slm_chat_builtin_pick("llama", has_listed, "<|start_header_id|>"), "llama3");
    assert_string_equal(slm_chat_builtin_pick("qwen2", has_listed, "<|im_start|>"), "chatml");
    assert_string_equal(slm_chat_builtin_pick("gemma", has_none, NULL), "gemma");
    assert_string_equal(slm_chat_builtin_pick("phi3", has_none, NULL), "phi3");
    assert_null(slm_chat_builtin_source("nope"));
    json_t *msgs = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "role", "system", "content", "Be brief.", "role",
                             "user", "content", "Hi", "role", "assistant", "content", "Hello!");
    struct { const char *name, *want; } cases[] = {
        {"llama3", "<s><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|><|start_header_id|>user"
                   "<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
                   "<|start_header_id|>assistant<|end_header_id|>\n\n"},
        {"gemma", "<s><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
                  "<start_of_turn>model\n"},
        {"phi3", "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n<|assistant|>\n"},
        {"chatml", "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
                   "Hello!<|im_end|>\n<|im_start|>assistant\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *src = slm_chat_builtin_source(cases[i].name);
        slm_chat_template *t;
        assert_int_equal(slm_chat_template_parse(src, strlen(src), &t, NULL), SLM_OK);
        char *out;
        size_t len;
        assert_int_equal(slm_chat_template_render(t, msgs, NULL, true, "<s>", "</s>", NULL, NULL, &out, &len, NULL), SLM_OK);
        assert_string_equal(out, cases[i].want);
        free(out);
        slm_chat_template_free(t);
    }
    json_decref(msgs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_and_prefix_reuse), cmocka_unit_test(test_cancel_from_callback),
        cmocka_unit_test(test_chat_template), cmocka_unit_test(test_bad_template_and_messages),
        cmocka_unit_test(test_fallback_chatml), cmocka_unit_test(test_builtin_pick_and_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
