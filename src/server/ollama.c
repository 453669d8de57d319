/* Ollama-compatible endpoints under /api: chat and generate (NDJSON
 * streaming unless "stream": false), show
 * (details and metadata), ps (loaded models) and version. Errors use
 * Ollama's {"error": "..."} shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route_hook.h"
#include "server_internal.h"

static const char *file_type_name(int64_t ft) {
    switch (ft) {
    case 0: return "F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K";
    case 12: return "Q3_K_M";
    case 14: return "Q4_K_S";
    case 15: return "Q4_K_M";
    case 16: return "Q5_K_S";
    case 17: return "Q5_K_M";
    case 18: return "Q6_K";
    case 32: return "BF16";
    default: return "unknown";
    }
}

/* details{} from the loaded model, or a minimal one when not loaded. */
static json_t *details_json(const srv_model *m) {
    const char *arch = "unknown", *quant = "unknown";
    char size[32] = "unknown";
    if (m->sched) {
        const slm_hparams *hp = slm_model_hparams(slm_sched_model(m->sched));
        arch = hp->arch_name;
        int64_t ft = -1;
        if (slm_gguf_get_int(slm_sched_gguf(m->sched), "general.file_type", &ft)) quant = file_type_name(ft);
        double np = (double)slm_model_n_params(slm_sched_model(m->sched));
        if (np >= 1e9) snprintf(size, sizeof size, "%.1fB", np / 1e9);
        else if (np >= 1e6) snprintf(size, sizeof size, "%.1fM", np / 1e6);
        else snprintf(size, sizeof size, "%.1fK", np / 1e3);
    }
    return json_pack("{s:s, s:s, s:s, s:[s], s:s, s:s}", "parent_model", "", "format", "gguf", "family", arch,
                     "families", arch, "parameter_size", size, "quantization_level", quant);
}

static json_t *model_entry(const srv_model *m) {
    char ts[48];
    http_rfc3339((double)m->mtime, ts, sizeof ts);
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:o}", "name", m->name, "model", m->name, "modified_at", ts, "size",
                     (json_int_t)m->file_size, "digest", "", "details", details_json(m));
}

static enum MHD_Result ps(conn *c) {
    json_t *list = json_array();
    pthread_mutex_lock(&c->srv->mu);
    for (int i = 0; i < c->srv->n_models; i++) {
        srv_model *m = &c->srv->models[i];
        if (!m->sched) continue;
        json_t *e = model_entry(m);
        char ts[48] = "";
        if (m->expires_at > 0) http_rfc3339(m->expires_at, ts, sizeof ts);
        json_object_set_new(e, "expires_at", json_string(ts));
        json_object_set_new(e, "size_vram", json_integer(0));
        json_array_append_new(list, e);
    }
    pthread_mutex_unlock(&c->srv->mu);
    return http_json(c, 200, json_pack("{s:o}", "models", list));
}

/* Scalar metadata for model_info (arrays such as the vocabulary are left out). */
static json_t *model_info(const slm_gguf *g) {
    json_t *o = json_object();
    for (int64_t i = 0; i < slm_gguf_n_kv(g); i++) {
        const char *k = slm_gguf_kv_key(g, i);
        int64_t iv;
        double fv;
        bool bv;
        slm_str sv;
        if (strcmp(k, "tokenizer.chat_template") == 0) continue;
        if (slm_gguf_kv_int(g, i, &iv)) json_object_set_new(o, k, json_integer(iv));
        else if (slm_gguf_kv_float(g, i, &fv)) json_object_set_new(o, k, json_real(fv));
        else if (slm_gguf_kv_bool(g, i, &bv)) json_object_set_new(o, k, json_boolean(bv));
        else if (slm_gguf_kv_str(g, i, &sv)) json_object_set_new(o, k, json_stringn(sv.ptr, (size_t)sv.len));
    }
    return o;
}

static srv_model *body_model(conn *c, const json_t *body, enum MHD_Result *ret) {
    const json_t *mv = json_object_get(body, "model");
    if (!mv) mv = json_object_get(body, "name"); /* older clients */
    if (!json_is_string(mv)) {
        *ret = http_ol_error(c, 400, mv ? "model must be a string" : "model is required");
        return NULL;
    }
    snprintf(c->model, sizeof c->model, "%s", json_string_value(mv));
    unsigned status = 500;
    slm_error err = {0};
    srv_model *m = models_acquire(c->srv, json_string_value(mv), &status, &err);
    if (!m) *ret = http_ol_error(c, status, "%s", err.msg);
    return m;
}

static enum MHD_Result show(conn *c) {
    enum MHD_Result ret = MHD_NO;
    json_t *body = http_parse_body(c, true, &ret);
    if (!body) return ret;
    srv_model *m = body_model(c, body, &ret);
    json_decref(body);
    if (!m) return ret;
    const slm_gguf *g = slm_sched_gguf(m->sched);
    slm_str tmpl = {"", 0};
    slm_gguf_get_str(g, "tokenizer.chat_template", &tmpl);
    char ts[48];
    http_rfc3339((double)m->mtime, ts, sizeof ts);
    json_t *o = json_pack("{s:s, s:s, s:s%, s:o, s:o, s:[s], s:s}", "modelfile", "", "parameters", "", "template",
                          tmpl.ptr, (size_t)tmpl.len, "details", details_json(m), "model_info", model_info(g),
                          "capabilities", "completion", "modified_at", ts);
    models_release(c->srv, m);
    return http_json(c, 200, o);
}

/* Ollama answers an empty prompt / message list by just loading the model. */
static enum MHD_Result load_only(conn *c, srv_model *m, bool chat) {
    char ts[48];
    http_rfc3339((double)time(NULL), ts, sizeof ts);
    json_t *o = json_pack("{s:s, s:s, s:b, s:s}", "model", m->name, "created_at", ts, "done", 1, "done_reason", "load");
    if (chat) json_object_set_new(o, "message", json_pack("{s:s, s:s}", "role", "assistant", "content", ""));
    else json_object_set_new(o, "response", json_string(""));
    models_release(c->srv, m);
    return http_json(c, 200, o);
}

/* The prompt text of /api/generate: the chat template around prompt (and
 * system) unless raw or a base model (no template fits it). */
static slm_status generate_text(srv_model *m, const json_t *body, char **text, bool *special, slm_error *err) {
    const char *prompt = json_string_value(json_object_get(body, "prompt"));
    const char *system = json_string_value(json_object_get(body, "system"));
    if (json_is_true(json_object_get(body, "raw")) || m->base_model) {
        *special = false;
        *text = strdup(prompt);
        return *text ? SLM_OK : slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    }
    *special = true;
    json_t *msgs = json_array();
    if (system) json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "system", "content", system));
    json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "user", "content", prompt));
    slm_status st = prompt_render_chat(m, msgs, text, err);
    json_decref(msgs);
    return st;
}

static bool check_generate_body(conn *c, const json_t *body, bool chat, enum MHD_Result *ret) {
    if (chat) {
        const json_t *msgs = json_object_get(body, "messages");
        if (msgs && !json_is_array(msgs)) {
            *ret = http_ol_error(c, 400, "messages must be an array");
            return false;
        }
        return true;
    }
    const json_t *p = json_object_get(body, "prompt"), *s = json_object_get(body, "system");
    const json_t *ctx = json_object_get(body, "context");
    if (p && !json_is_string(p)) *ret = http_ol_error(c, 400, "prompt must be a string");
    else if (s && !json_is_string(s) && !json_is_null(s)) *ret = http_ol_error(c, 400, "system must be a string");
    else if (json_is_string(json_object_get(body, "suffix")) && json_string_length(json_object_get(body, "suffix")))
        *ret = http_ol_error(c, 400, "suffix (fill-in-the-middle) is not supported");
    else if (ctx && json_array_size(ctx) > 0)
        *ret = http_ol_error(c, 400, "context is not supported; use /api/chat with the message history");
    else return true;
    return false;
}

static enum MHD_Result generate(conn *c, bool chat) {
    enum MHD_Result ret = MHD_NO;
    json_t *body = http_parse_body(c, true, &ret);
    if (!body) return ret;
    if (route_ollama_wants(c->srv, body)) return route_ollama(c, body, chat); /* the tiered router */
    srv_model *m = NULL;
    gen_opts *o = calloc(1, sizeof *o);
    int32_t *toks = NULL;
    size_t n = 0;
    char *text = NULL, msg[512];
    const char *param = NULL;
    slm_error err = {0};
    if (!o) {
        ret = http_ol_error(c, 500, "out of memory");
        goto done;
    }
    if (!check_generate_body(c, body, chat, &ret) || !(m = body_model(c, body, &ret))) goto done;
    int32_t cap = c->srv->cfg.max_tokens > 0 ? c->srv->cfg.max_tokens : slm_sched_n_ctx(m->sched);
    if (!params_ollama(body, cap, o, &param, msg, sizeof msg) || !structured_ollama(m, body, chat, o, &param, msg, sizeof msg)) {
        ret = http_ol_error(c, 400, "%s", msg);
        goto done;
    }
    const json_t *msgs = json_object_get(body, "messages");
    const char *prompt = json_string_value(json_object_get(body, "prompt"));
    if (chat ? json_array_size(msgs) == 0 : !prompt || !*prompt) {
        ret = load_only(c, m, chat);
        m = NULL;
        goto done;
    }
    bool special = true;
    slm_status st = chat ? prompt_render_chat_tools(m, msgs, o->tool_defs, &text, &err)
                         : generate_text(m, body, &text, &special, &err);
    if (st == SLM_OK) st = prompt_tokenize(m, text, special, &toks, &n, &err);
    if (st != SLM_OK) {
        ret = http_ol_error(c, st == SLM_ERR_NOMEM ? 500 : 400, "%s", err.msg);
        goto done;
    }
    ret = gen_run(c, m, chat ? API_OL_CHAT : API_OL_GENERATE, o, toks, n);
    m = NULL;
done:
    if (m) models_release(c->srv, m);
    free(text);
    free(toks);
    params_free(o);
    json_decref(body);
    return ret;
}

enum MHD_Result ollama_route(conn *c, bool *handled) {
    const char *u = c->url;
    bool get = strcmp(c->method, "GET") == 0 || strcmp(c->method, "HEAD") == 0;
    bool post = strcmp(c->method, "POST") == 0;
    *handled = true;
    if (strcmp(u, "/api/chat") == 0 && post) return generate(c, true);
    if (strcmp(u, "/api/generate") == 0 && post) return generate(c, false);
    if (strcmp(u, "/api/ps") == 0 && get) return ps(c);
    if (strcmp(u, "/api/show") == 0 && post) return show(c);
    if (strcmp(u, "/api/version") == 0 && get) return http_json(c, 200, json_pack("{s:s}", "version", SRV_VERSION));
    if (strncmp(u, "/api/", 5) == 0) return http_ol_error(c, 404, "unknown endpoint %s %s", c->method, u);
    *handled = false;
    return MHD_NO;
}
