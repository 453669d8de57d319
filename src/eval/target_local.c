/* Local targets: a GGUF model run in this process through the scheduler,
 * the code path `slm serve` uses (one slot here). Cases are rendered with
 * the model's chat template (tools included), or the built-in template
 * that fits it; a base model without one gets its messages' contents
 * joined as plain text (completion), since a chat format it never saw
 * would only add noise. Generation is greedy unless the run sets a
 * temperature; a case with a response_format (judge requests) decodes
 * under its JSON Schema. Every token's log-probability and top 10
 * alternatives feed the router's confidence signals (mean/min logprob,
 * entropy), so calibration and the in-process router see what the server
 * measures. Main data: ev_local (scheduler + parsed chat template). */
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"
#include "slm/chat.h"
#include "slm/engine.h"
#include "slm/scheduler.h"

#define SIGNAL_TOP_K 10 /* alternatives per token for the entropy signal, as the router's server side */

struct ev_local {
    slm_sched *sched;
    slm_chat_template *tmpl; /* NULL: a base model, plain-text prompts */
    char *bos, *eos;         /* token texts the templates may print */
};

/* NUL-terminated copy of a token's text ("" when absent). */
static char *token_text(const slm_tokenizer *t, int32_t id) {
    size_t len = 0;
    const char *s = id >= 0 ? slm_tokenizer_token_text(t, id, &len) : NULL;
    return ev_strndup(s ? s : "", s ? len : 0);
}

static slm_status load_template(ev_local *l, slm_error *err) {
    const slm_gguf *g = slm_sched_gguf(l->sched);
    const slm_tokenizer *t = slm_sched_tokenizer(l->sched);
    const char *name = slm_chat_template_for(g, t);
    if (!name) return SLM_OK; /* base model */
    const char *builtin = slm_chat_builtin_source(strcmp(name, "model") ? name : "chatml");
    slm_str src = {builtin, builtin ? strlen(builtin) : 0};
    if (!strcmp(name, "model")) slm_gguf_get_str(g, "tokenizer.chat_template", &src);
    if (!src.ptr) return slm_error_set(err, SLM_ERR_FORMAT, "no chat template source for '%s'", name);
    slm_status st = slm_chat_template_parse(src.ptr, (size_t)src.len, &l->tmpl, err);
    if (st) return slm_error_prefix(err, "chat template");
    l->bos = token_text(t, slm_tokenizer_bos(t));
    l->eos = token_text(t, slm_tokenizer_eos(t));
    return l->bos && l->eos ? SLM_OK : slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
}

slm_status ev_local_open(const char *path, int n_threads, ev_local **out, slm_error *err) {
    *out = NULL;
    ev_local *l = calloc(1, sizeof *l);
    if (!l) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    slm_sched_params p = {.n_parallel = 1, .n_threads = n_threads};
    slm_status st = slm_sched_open(path, &p, &l->sched, err);
    if (!st) st = load_template(l, err);
    if (st) {
        ev_local_close(l);
        return st;
    }
    *out = l;
    return SLM_OK;
}

void ev_local_close(ev_local *l) {
    if (!l) return;
    slm_sched_close(l->sched);
    slm_chat_template_free(l->tmpl);
    free(l->bos);
    free(l->eos);
    free(l);
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

/* response_format {type: json_schema, json_schema: {schema}} -> constraint
 * (judge requests); other types are not used by eval. */
static slm_status response_constraint(const json_t *rf, slm_constraint **out, slm_error *err) {
    const json_t *schema = json_object_get(json_object_get(rf, "json_schema"), "schema");
    if (!schema) return slm_error_set(err, SLM_ERR_UNSUPPORTED, "only json_schema is supported");
    char *text = json_dumps(schema, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    slm_json_schema_opts opts = {0}; /* compact: a small model cannot spend its tokens on white space */
    slm_grammar *g = NULL;
    slm_status st = slm_grammar_compile_json_schema(text, strlen(text), &opts, &g, err);
    free(text);
    return st ? st : slm_constraint_new(g, NULL, 0, out, err);
}

/* The case as prompt tokens: chat template (BOS not doubled when the
 * template prints it) or plain text. */
static slm_status prompt_tokens(ev_local *l, const slm_eval_case *c, int32_t **toks, size_t *n, slm_error *err) {
    char *text = NULL;
    size_t len = 0;
    slm_status st = SLM_OK;
    if (l->tmpl) st = slm_chat_template_render(l->tmpl, c->messages, c->tools, true, l->bos, l->eos, NULL, NULL,
                                               &text, &len, err);
    else if (!(text = plain_prompt(c->messages))) st = slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    else len = strlen(text);
    if (st) return st;
    size_t bl = l->tmpl ? strlen(l->bos) : 0;
    bool has_bos = bl > 0 && len >= bl && !strncmp(text, l->bos, bl);
    st = slm_tokenize(slm_sched_tokenizer(l->sched), text, len, !has_bos, l->tmpl != NULL, toks, n, err);
    free(text);
    return st;
}

/* Reads the request's events into the answer until DONE. */
static void collect(slm_request *req, ev_answer *a) {
    slm_event ev;
    while (slm_request_next(req, &ev, -1)) {
        if (ev.text_len) ev_buf_put(&a->text, ev.text, ev.text_len);
        if (ev.kind == SLM_EVENT_TOKEN) {
            double top[SLM_MAX_TOP_LOGPROBS];
            for (int32_t i = 0; i < ev.n_top; i++) top[i] = ev.top[i].logprob;
            ev_answer_add_logprob(a, ev.logprob, top, ev.n_top);
            continue;
        }
        a->n_prompt = ev.n_prompt, a->n_gen = ev.n_gen, a->ttft_s = ev.ttft_s;
        if (ev.status != SLM_OK) ev_answer_fail(a, "generate: %s", ev.error);
        else if (ev.finish == SLM_FINISH_CANCEL) ev_answer_fail(a, "generate: cancelled");
    }
}

void ev_local_answer(ev_local *l, const slm_eval_case *c, const slm_eval_run_opts *o, ev_answer *a) {
    slm_error err = {0};
    int32_t *toks = NULL;
    size_t n = 0;
    slm_constraint *cons = NULL;
    ev_buf_put(&a->text, "", 0);
    if (prompt_tokens(l, c, &toks, &n, &err)) {
        ev_answer_fail(a, "prompt: %s", err.msg);
        return;
    }
    if (c->response_format && response_constraint(c->response_format, &cons, &err)) {
        ev_answer_fail(a, "response_format: %s", err.msg);
        free(toks);
        return;
    }
    slm_request_params rp;
    slm_request_params_default(&rp);
    rp.prompt = toks, rp.n_prompt = n;
    rp.n_predict = c->max_tokens > 0 ? c->max_tokens : (o->max_tokens > 0 ? o->max_tokens : 256);
    rp.sampling.temperature = (float)o->temperature;
    rp.sampling.seed = 42; /* reproducible runs when sampling */
    rp.n_logprobs = SIGNAL_TOP_K;
    rp.constraint = cons;
    slm_request *req = NULL;
    double t0 = slm_now_s();
    if (slm_sched_submit(l->sched, &rp, &req, &err)) ev_answer_fail(a, "generate: %s", err.msg);
    else collect(req, a);
    a->latency_s = slm_now_s() - t0;
    if (!a->text.ok) ev_answer_fail(a, "out of memory");
    slm_request_free(req);
    slm_constraint_unref(cons);
    free(toks);
}
