/* OpenAI-compatible endpoints under /v1: chat/completions, completions
 * and embeddings (501 until an embedding model exists); the model lists
 * are in pull_list.c. Each
 * handler checks the body, resolves the model (404 lists the available
 * ones), builds the prompt tokens and hands off to gen_run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route_hook.h"
#include "server_internal.h"

static srv_model *body_model(conn *c, const json_t *body, enum MHD_Result *ret) {
    const json_t *mv = json_object_get(body, "model");
    if (!json_is_string(mv)) {
        *ret = http_oa_error(c, 400, "model", NULL, mv ? "model must be a string" : "model is required");
        return NULL;
    }
    snprintf(c->model, sizeof c->model, "%s", json_string_value(mv));
    unsigned status = 500;
    slm_error err = {0};
    srv_model *m = models_acquire(c->srv, json_string_value(mv), &status, &err);
    if (!m) *ret = http_oa_error(c, status, "model", status == 404 ? "model_not_found" : NULL, "%s", err.msg);
    return m;
}

/* The prompt of /v1/completions: a string, a one-element string array, or token ids. */
static slm_status completion_prompt(srv_model *m, const json_t *p, int32_t **toks, size_t *n, slm_error *err) {
    if (json_is_array(p) && json_array_size(p) == 1 && json_is_string(json_array_get(p, 0))) p = json_array_get(p, 0);
    if (json_is_string(p)) return prompt_tokenize(m, json_string_value(p), false, toks, n, err);
    if (!json_is_array(p) || json_array_size(p) == 0)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "prompt must be a string, or an array of token ids");
    *toks = slm_malloc_array(json_array_size(p), sizeof **toks);
    if (!*toks) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    size_t i;
    const json_t *t;
    json_array_foreach(p, i, t) {
        if (!json_is_integer(t) || json_integer_value(t) < 0 || json_integer_value(t) > INT32_MAX) {
            free(*toks);
            *toks = NULL;
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "prompt: a batch of prompts is not supported; give one string or one array of token ids");
        }
        (*toks)[i] = (int32_t)json_integer_value(t);
    }
    *n = json_array_size(p);
    return SLM_OK;
}

static enum MHD_Result generate(conn *c, bool chat) {
    enum MHD_Result ret = MHD_NO;
    json_t *body = http_parse_body(c, false, &ret);
    if (!body) return ret;
    srv_model *m = NULL;
    int32_t *toks = NULL;
    size_t n = 0;
    gen_opts *o = calloc(1, sizeof *o);
    const char *param = NULL;
    char msg[512];
    slm_error err = {0};
    if (!o) {
        ret = http_oa_error(c, 500, NULL, NULL, "out of memory");
        goto done;
    }
    if (chat && !json_object_get(body, "messages")) {
        ret = http_oa_error(c, 400, "messages", NULL, "messages is required");
        goto done;
    }
    if (!chat && !json_object_get(body, "prompt")) {
        ret = http_oa_error(c, 400, "prompt", NULL, "prompt is required");
        goto done;
    }
    if (chat && route_hook_wants(c->srv, body)) { /* tiered routing (route_hook.c) */
        ret = route_hook_chat(c, body);
        body = NULL;
        goto done;
    }
    if (!(m = body_model(c, body, &ret))) goto done;
    int32_t cap = c->srv->cfg.max_tokens > 0 ? c->srv->cfg.max_tokens : slm_sched_n_ctx(m->sched);
    if (!params_openai(body, chat, slm_sched_tokenizer(m->sched), cap, o, &param, msg, sizeof msg) ||
        !structured_openai(m, body, chat, o, &param, msg, sizeof msg)) {
        ret = http_oa_error(c, 400, param, "invalid_value", "%s", msg);
        goto done;
    }
    slm_status st;
    if (chat) {
        char *text = NULL;
        st = prompt_render_chat_tools(m, json_object_get(body, "messages"), o->tool_defs, &text, &err);
        if (st == SLM_OK) st = prompt_tokenize(m, text, true, &toks, &n, &err);
        free(text);
    } else {
        st = completion_prompt(m, json_object_get(body, "prompt"), &toks, &n, &err);
    }
    if (st != SLM_OK) {
        ret = http_oa_error(c, st == SLM_ERR_NOMEM ? 500 : 400, chat ? "messages" : "prompt", NULL, "%s", err.msg);
        goto done;
    }
    ret = gen_run(c, m, chat ? API_OA_CHAT : API_OA_COMPLETION, o, toks, n);
    m = NULL; /* gen_run took the reference */
done:
    if (m) models_release(c->srv, m);
    free(toks);
    params_free(o);
    json_decref(body);
    return ret;
}

enum MHD_Result openai_route(conn *c, bool *handled) {
    const char *u = c->url;
    bool post = strcmp(c->method, "POST") == 0;
    *handled = true;
    if (strcmp(u, "/v1/chat/completions") == 0 && post) return generate(c, true);
    if (strcmp(u, "/v1/completions") == 0 && post) return generate(c, false);
    if (strcmp(u, "/v1/embeddings") == 0 && post)
        return http_oa_error(c, 501, NULL, "not_implemented", "embeddings are not available: no embedding model is loaded");
    if (strncmp(u, "/v1/", 4) == 0) {
        bool known = strcmp(u, "/v1/models") == 0 || strcmp(u, "/v1/chat/completions") == 0 ||
                     strcmp(u, "/v1/completions") == 0 || strcmp(u, "/v1/embeddings") == 0;
        if (known) return http_oa_error(c, 405, NULL, "method_not_allowed", "%s is not allowed on %s", c->method, u);
        return http_oa_error(c, 404, NULL, "unknown_url", "unknown endpoint %s %s", c->method, u);
    }
    *handled = false;
    return MHD_NO;
}
