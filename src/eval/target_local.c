/* Local targets: a GGUF model run through the engine in this process.
 * Cases are rendered with the model's chat template (tools included); a
 * base model without one gets its messages' contents joined as plain text
 * (completion), since a chat format it never saw would only add noise.
 * Generation is greedy unless the run sets a temperature; a case with a
 * response_format (judge requests) decodes under its JSON Schema. */
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"
#include "slm/engine.h"

struct ev_local {
    slm_engine *engine;
    bool chat;
};

slm_status ev_local_open(const char *path, int n_threads, ev_local **out, slm_error *err) {
    *out = NULL;
    ev_local *l = calloc(1, sizeof *l);
    if (!l) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    slm_engine_params p = {.model_path = path, .n_threads = n_threads};
    slm_status st = slm_engine_open(&p, &l->engine, err);
    if (st) {
        free(l);
        return st;
    }
    l->chat = slm_engine_has_chat_template(l->engine);
    *out = l;
    return SLM_OK;
}

void ev_local_close(ev_local *l) {
    if (!l) return;
    slm_engine_close(l->engine);
    free(l);
}

static bool on_piece(const char *piece, size_t len, void *user) {
    ev_buf *b = user;
    ev_buf_put(b, piece, len);
    return b->ok;
}

static char *plain_prompt(const json_t *messages) {
    ev_buf b = {0};
    ev_buf_put(&b, "", 0);
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        const char *c = json_string_value(json_object_get(m, "content"));
        if (!c) continue;
        if (b.len) ev_buf_puts(&b, "\n\n");
        ev_buf_puts(&b, c);
    }
    if (!b.ok) ev_buf_free(&b);
    return b.p;
}

/* response_format {type: json_schema, json_schema: {schema}} -> grammar
 * (judge requests); other types are not used by eval. */
static slm_status response_grammar(const json_t *rf, slm_grammar **g, slm_error *err) {
    const json_t *schema = json_object_get(json_object_get(rf, "json_schema"), "schema");
    if (!schema) return slm_error_set(err, SLM_ERR_UNSUPPORTED, "only json_schema is supported");
    char *text = json_dumps(schema, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    slm_json_schema_opts opts = {0}; /* compact: a small model cannot spend its tokens on white space */
    slm_status st = slm_grammar_compile_json_schema(text, strlen(text), &opts, g, err);
    free(text);
    return st;
}

void ev_local_answer(ev_local *l, const slm_eval_case *c, const slm_eval_run_opts *o, ev_answer *a) {
    slm_error err = {0};
    char *prompt = NULL;
    size_t len = 0;
    slm_gen_params gp;
    slm_gen_params_default(&gp);
    gp.n_predict = c->max_tokens > 0 ? c->max_tokens : (o->max_tokens > 0 ? o->max_tokens : 256);
    gp.sampling.temperature = (float)o->temperature;
    gp.sampling.seed = 42; /* reproducible runs when sampling */
    if (l->chat) {
        if (slm_engine_render_chat(l->engine, c->messages, c->tools, true, NULL, &prompt, &len, &err)) {
            ev_answer_fail(a, "chat template: %s", err.msg);
            return;
        }
        gp.parse_special = true;
    } else if (!(prompt = plain_prompt(c->messages))) {
        ev_answer_fail(a, "out of memory");
        return;
    } else len = strlen(prompt);
    slm_grammar *g = NULL;
    if (c->response_format && response_grammar(c->response_format, &g, &err)) {
        ev_answer_fail(a, "response_format: %s", err.msg);
        free(prompt);
        return;
    }
    gp.grammar = g;
    slm_gen_stats stats = {0};
    ev_buf_put(&a->text, "", 0);
    double t0 = slm_now_s();
    slm_status st = slm_engine_generate(l->engine, prompt, len, &gp, on_piece, &a->text, &stats, &err);
    a->latency_s = slm_now_s() - t0;
    a->ttft_s = stats.ttft_s;
    a->n_prompt = stats.n_prompt;
    a->n_gen = stats.n_gen;
    if (st) ev_answer_fail(a, "generate: %s", err.msg);
    else if (!a->text.ok) ev_answer_fail(a, "out of memory");
    slm_grammar_free(g);
    free(prompt);
}
