/* Model lists that include the store: GET /api/tags (Ollama), GET
 * /v1/models and GET /v1/models/NAME (OpenAI). The configured (--model)
 * models come first, then every model in the store ($SLM_HOME) that no
 * configured name covers; store models need not be loaded to be listed
 * (their manifest has size, digest, quantization and architecture). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_internal.h"
#include "slm/store.h"

/* The store's entries (none when there is no store); *n 0 on failure. */
static slm_store_entry *store_entries(slm_server *s, size_t *n) {
    slm_store *st = models_store(s, false);
    slm_store_entry *v = NULL;
    *n = 0;
    if (st && slm_store_list(st, &v, n, NULL) != SLM_OK) *n = 0;
    return v;
}

static void param_size(const srv_model *m, char *out, size_t cap) {
    double np = (double)slm_model_n_params(slm_sched_model(m->sched));
    if (np >= 1e9) snprintf(out, cap, "%.1fB", np / 1e9);
    else if (np >= 1e6) snprintf(out, cap, "%.1fM", np / 1e6);
    else snprintf(out, cap, "%.1fK", np / 1e3);
}

static json_t *details(const char *arch, const char *quant, const char *size) {
    const char *family = arch && *arch ? arch : "unknown";
    return json_pack("{s:s, s:s, s:s, s:[s], s:s, s:s}", "parent_model", "", "format", "gguf", "family", family,
                     "families", family, "parameter_size", size, "quantization_level",
                     quant && *quant ? quant : "unknown");
}

static json_t *tag_entry(const char *name, int64_t mtime, uint64_t size, const char *digest, json_t *det) {
    char ts[48];
    http_rfc3339((double)mtime, ts, sizeof ts);
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:o}", "name", name, "model", name, "modified_at", ts, "size",
                     (json_int_t)size, "digest", digest, "details", det);
}

/* Under s->mu: a configured model (details known once it is loaded). */
static json_t *configured_tag(const srv_model *m) {
    char quant[32] = "", arch[32] = "", size[32] = "unknown";
    if (m->sched) {
        slm_store_describe_gguf(slm_sched_gguf(m->sched), quant, arch);
        param_size(m, size, sizeof size);
    }
    return tag_entry(m->name, m->mtime, m->file_size, "", details(arch, quant, size));
}

static enum MHD_Result tags(conn *c) {
    slm_server *s = c->srv;
    json_t *list = json_array();
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->cfg.n_models; i++) json_array_append_new(list, configured_tag(&s->models[i]));
    pthread_mutex_unlock(&s->mu);
    size_t n;
    slm_store_entry *v = store_entries(s, &n);
    for (size_t i = 0; i < n; i++) {
        if (models_find_configured(s, v[i].name)) continue;
        json_array_append_new(list, tag_entry(v[i].name, v[i].modified, v[i].size, v[i].digest + 7,
                                              details(v[i].arch, v[i].quant, "")));
    }
    free(v);
    return http_json(c, 200, json_pack("{s:o}", "models", list));
}

static json_t *oa_model(const char *name, int64_t created) {
    return json_pack("{s:s, s:s, s:I, s:s}", "id", name, "object", "model", "created", (json_int_t)created, "owned_by",
                     "slm");
}

static enum MHD_Result v1_models(conn *c) {
    slm_server *s = c->srv;
    json_t *data = json_array();
    for (int i = 0; i < s->cfg.n_models; i++) json_array_append_new(data, oa_model(s->models[i].name, s->models[i].mtime));
    size_t n;
    slm_store_entry *v = store_entries(s, &n);
    for (size_t i = 0; i < n; i++)
        if (!models_find_configured(s, v[i].name)) json_array_append_new(data, oa_model(v[i].name, v[i].modified));
    free(v);
    return http_json(c, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

static enum MHD_Result v1_model(conn *c, const char *name) {
    slm_server *s = c->srv;
    srv_model *m = models_find_configured(s, name);
    if (m) return http_json(c, 200, oa_model(m->name, m->mtime));
    slm_store *st = models_store(s, false);
    slm_store_entry e;
    if (st && slm_store_lookup(st, name, &e, NULL) == SLM_OK) return http_json(c, 200, oa_model(e.name, e.modified));
    char names[1024];
    models_names(s, names, sizeof names);
    return http_oa_error(c, 404, "model", "model_not_found", "model '%s' not found; available models: %s", name, names);
}

enum MHD_Result pull_list_route(conn *c, bool *handled) {
    const char *u = c->url;
    bool get = strcmp(c->method, "GET") == 0 || strcmp(c->method, "HEAD") == 0;
    *handled = get;
    if (get && strcmp(u, "/api/tags") == 0) return tags(c);
    if (get && strcmp(u, "/v1/models") == 0) return v1_models(c);
    if (get && strncmp(u, "/v1/models/", 11) == 0 && u[11]) return v1_model(c, u + 11);
    *handled = false;
    return MHD_NO;
}
