/* The server's model registry: the configured models by name, and models
 * from the store ($SLM_HOME) registered on first use, each loaded into its
 * own scheduler on first use and unloaded by the reaper thread after
 * keep_alive seconds without requests. Main data: srv_model[] guarded by
 * slm_server.mu; its capacity is fixed at start so that requests may hold
 * pointers into it, entries are only appended (a deleted or re-pulled store
 * model is marked removed, never freed before the server), and a model is
 * only unloaded while no request holds it (active == 0). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "server_internal.h"
#include "slm/engine.h"
#include "slm/store.h"

#define STORE_SLOTS 256 /* store models a server registers in its lifetime */

slm_status models_init(slm_server *s, slm_error *err) {
    s->models_cap = s->cfg.n_models + STORE_SLOTS;
    s->models = calloc((size_t)s->models_cap, sizeof *s->models);
    if (!s->models) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    s->n_models = s->cfg.n_models;
    for (int i = 0; i < s->n_models; i++) {
        srv_model *m = &s->models[i];
        const slm_server_model *c = &s->cfg.models[i];
        for (int j = 0; j < i; j++)
            if (strcmp(s->models[j].name, c->name) == 0)
                return slm_error_set(err, SLM_ERR_INVALID_ARG, "model name '%s' is given twice", c->name);
        m->name = strdup(c->name);
        m->path = strdup(c->path);
        if (!m->name || !m->path) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
        struct stat st;
        if (stat(c->path, &st) != 0 || !S_ISREG(st.st_mode))
            return slm_error_set(err, SLM_ERR_IO, "%s: not a readable model file", c->path);
        m->file_size = (uint64_t)st.st_size;
        m->mtime = (int64_t)st.st_mtime;
    }
    return SLM_OK;
}

/* ---- the store ------------------------------------------------------------ */

static bool store_exists(void) {
    const char *home = getenv("SLM_HOME"), *user = getenv("HOME");
    char path[4200];
    if (home && *home) snprintf(path, sizeof path, "%s/manifests", home);
    else if (user && *user) snprintf(path, sizeof path, "%s/.slm/manifests", user);
    else return false;
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

slm_store *models_store(slm_server *s, bool create) {
    pthread_mutex_lock(&s->store_mu);
    if (!s->store && (create || store_exists())) {
        slm_error err = {0};
        if (slm_store_open(NULL, &s->store, &err) != SLM_OK) {
            fprintf(stderr, "slm serve: model store: %s\n", err.msg);
            s->store = NULL;
        }
    }
    slm_store *st = s->store;
    pthread_mutex_unlock(&s->store_mu);
    return st;
}

/* The registry key of a store name: canonical, plus the pin if any. */
static bool store_key(const char *name, char *key, size_t cap, char *base, size_t base_cap) {
    slm_model_ref ref;
    if (slm_ref_parse(name, &ref, NULL) != SLM_OK) return false;
    if (base) snprintf(base, base_cap, "%s", ref.name);
    int n = ref.pin[0] ? snprintf(key, cap, "%s@sha256:%s", ref.name, ref.pin) : snprintf(key, cap, "%s", ref.name);
    return n > 0 && (size_t)n < cap;
}

srv_model *models_find_configured(slm_server *s, const char *name) {
    size_t n = strlen(name);
    if (n > 7 && strcmp(name + n - 7, ":latest") == 0) n -= 7;
    for (int i = 0; i < s->cfg.n_models; i++)
        if (strlen(s->models[i].name) == n && strncmp(s->models[i].name, name, n) == 0) return &s->models[i];
    return NULL;
}

/* Under s->mu: a registered store model by key. */
static srv_model *find_store_locked(slm_server *s, const char *key) {
    for (int i = s->cfg.n_models; i < s->n_models; i++)
        if (!s->models[i].removed && strcmp(s->models[i].name, key) == 0) return &s->models[i];
    return NULL;
}

srv_model *models_find(slm_server *s, const char *name) {
    srv_model *m = models_find_configured(s, name);
    char key[SLM_NAME_MAX + 80];
    if (m || !store_key(name, key, sizeof key, NULL, 0)) return m;
    pthread_mutex_lock(&s->mu);
    m = find_store_locked(s, key);
    pthread_mutex_unlock(&s->mu);
    return m;
}

void models_names(slm_server *s, char *buf, size_t cap) {
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < s->cfg.n_models && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? ", " : "", s->models[i].name);
    slm_store *st = models_store(s, false);
    slm_store_entry *v = NULL;
    size_t n = 0;
    if (!st || slm_store_list(st, &v, &n, NULL) != SLM_OK) return;
    for (size_t i = 0; i < n && off < cap; i++)
        if (!models_find_configured(s, v[i].name))
            off += (size_t)snprintf(buf + off, cap - off, "%s%s", off ? ", " : "", v[i].name);
    free(v);
}

/* Under s->mu: the entry for a store model, registered (or re-registered
 * when the name now points at another blob) as needed. *status gets 404
 * (unknown), 409 (pin mismatch) or 503 (no free slot) on failure. */
static srv_model *store_model_locked(slm_server *s, const char *name, unsigned *status, slm_error *err) {
    char key[SLM_NAME_MAX + 80], path[4096];
    slm_store *st = models_store(s, false);
    slm_store_entry e;
    *status = 404;
    if (!st || !store_key(name, key, sizeof key, NULL, 0)) return NULL;
    slm_status rc = slm_store_lookup(st, name, &e, err);
    if (rc == SLM_OK) rc = slm_store_blob_path(st, e.digest, path, sizeof path, err);
    if (rc != SLM_OK) {
        if (rc == SLM_ERR_FORMAT) *status = 409;
        return NULL;
    }
    srv_model *m = find_store_locked(s, key);
    if (m && strcmp(m->digest, e.digest) == 0) return m;
    if (m) m->removed = true; /* re-pulled: the old blob stays loaded until idle */
    if (s->n_models >= s->models_cap) {
        *status = 503;
        slm_error_set(err, SLM_ERR_NOMEM, "too many store models used by this server; restart it");
        return NULL;
    }
    m = &s->models[s->n_models];
    memset(m, 0, sizeof *m);
    m->name = strdup(key);
    m->path = strdup(path);
    if (!m->name || !m->path) {
        free(m->name), free(m->path);
        *status = 500;
        slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
        return NULL;
    }
    m->from_store = true;
    m->verify_pin = e.pinned || strchr(key, '@') != NULL;
    snprintf(m->digest, sizeof m->digest, "%s", e.digest);
    m->file_size = e.size;
    m->mtime = e.modified;
    __atomic_store_n(&s->n_models, s->n_models + 1, __ATOMIC_RELEASE); /* readers without the lock */
    return m;
}

void models_forget(slm_server *s, const char *name) {
    char key[SLM_NAME_MAX + 80], base[SLM_NAME_MAX];
    if (!store_key(name, key, sizeof key, base, sizeof base)) return;
    size_t n = strlen(base);
    pthread_mutex_lock(&s->mu);
    for (int i = s->cfg.n_models; i < s->n_models; i++) {
        srv_model *m = &s->models[i];
        if (strncmp(m->name, base, n) == 0 && (m->name[n] == '\0' || m->name[n] == '@')) m->removed = true;
    }
    pthread_cond_broadcast(&s->reaper_cv); /* unload the idle ones now */
    pthread_mutex_unlock(&s->mu);
}

static char *token_text(const slm_tokenizer *t, int32_t id) {
    size_t len = 0;
    const char *p = id >= 0 ? slm_tokenizer_token_text(t, id, &len) : NULL;
    char *out = malloc(len + 1);
    if (!out) return NULL;
    if (p) memcpy(out, p, len);
    out[p ? len : 0] = '\0';
    return out;
}

static bool vocab_has(const char *text, void *user) {
    return slm_tokenizer_find_token(user, text, strlen(text)) >= 0;
}

/* The model's own template, else the built-in that fits its architecture
 * and vocabulary (the same choice as slm run / slm show), else ChatML. */
static slm_status load_template(srv_model *m, slm_error *err) {
    const slm_gguf *g = slm_sched_gguf(m->sched);
    const slm_tokenizer *t = slm_sched_tokenizer(m->sched);
    const char *name = slm_chat_template_for(g, t);
    bool own = name && strcmp(name, "model") == 0;
    m->base_model = !name;
    const char *builtin = slm_chat_builtin_source(name && !own ? name : "chatml");
    slm_str src = {builtin, builtin ? strlen(builtin) : 0};
    if (own) slm_gguf_get_str(g, "tokenizer.chat_template", &src);
    else if (!name)
        fprintf(stderr, "slm serve: %s has no chat template (a base model?); chat requests use ChatML\n", m->name);
    else fprintf(stderr, "slm serve: %s has no chat template; chat requests use the built-in '%s'\n", m->name, name);
    if (!src.ptr) return slm_error_set(err, SLM_ERR_INTERNAL, "no built-in chat template '%s'", name);
    m->tool_fmt = slm_tool_format_detect(src.ptr, (size_t)src.len, vocab_has, (void *)t);
    m->tmpl_tools = memmem(src.ptr, (size_t)src.len, "tools", 5) != NULL;
    slm_status st = slm_chat_template_parse(src.ptr, (size_t)src.len, &m->tmpl, err);
    if (st != SLM_OK) return slm_error_prefix(err, "%s: chat template", m->name);
    m->bos_text = token_text(t, slm_tokenizer_bos(t));
    m->eos_text = token_text(t, slm_tokenizer_eos(t));
    if (!m->bos_text || !m->eos_text) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    return SLM_OK;
}

static void unload(srv_model *m) {
    slm_sched_close(m->sched);
    slm_chat_template_free(m->tmpl);
    free(m->bos_text);
    free(m->eos_text);
    m->sched = NULL;
    m->tmpl = NULL;
    m->bos_text = m->eos_text = NULL;
}

/* A pinned store model's blob must still hash to its digest. */
static slm_status verify_pin(slm_server *s, const srv_model *m, slm_error *err) {
    slm_store_entry e = {0};
    snprintf(e.name, sizeof e.name, "%s", m->name);
    snprintf(e.digest, sizeof e.digest, "%.71s", m->digest);
    slm_store *st = models_store(s, false);
    if (!st) return slm_error_set(err, SLM_ERR_IO, "the model store is not available");
    slm_status rc = slm_store_verify(st, &e, err);
    return rc == SLM_OK ? rc : slm_error_prefix(err, "version pinning: refusing to load '%s'", m->name);
}

static slm_status load(slm_server *s, srv_model *m, slm_error *err) {
    if (m->verify_pin) {
        slm_status rc = verify_pin(s, m, err);
        if (rc != SLM_OK) return rc;
    }
    slm_status st = slm_sched_open(m->path, &s->cfg.sched, &m->sched, err);
    if (st == SLM_OK) st = load_template(m, err);
    if (st != SLM_OK) {
        unload(m);
        return slm_error_prefix(err, "loading model '%s'", m->name);
    }
    fprintf(stderr, "slm serve: loaded %s (%s) in %.2f s, %d slots of %d tokens\n", m->name, m->path,
            slm_sched_load_seconds(m->sched), slm_sched_n_parallel(m->sched), slm_sched_n_ctx(m->sched));
    return SLM_OK;
}

/* Loading happens under the registry lock: simple, and a second request
 * for the same model waits for the first load instead of starting its own. */
srv_model *models_acquire(slm_server *s, const char *name, unsigned *status, slm_error *err) {
    srv_model *m = models_find_configured(s, name);
    slm_error serr = {0};
    pthread_mutex_lock(&s->mu);
    if (!m) m = store_model_locked(s, name, status, &serr);
    if (!m) {
        pthread_mutex_unlock(&s->mu);
        if (*status != 404) {
            if (err) *err = serr;
            return NULL;
        }
        char names[1024];
        models_names(s, names, sizeof names);
        slm_error_set(err, SLM_ERR_INVALID_ARG, "model '%s' not found; available models: %s", name, names);
        return NULL;
    }
    slm_status st = m->sched ? SLM_OK : load(s, m, err);
    if (st == SLM_OK) m->active++;
    pthread_mutex_unlock(&s->mu);
    if (st != SLM_OK) {
        *status = 500;
        return NULL;
    }
    return m;
}

void models_release(slm_server *s, srv_model *m) {
    pthread_mutex_lock(&s->mu);
    m->active--;
    m->last_used = slm_now_s();
    double ka = s->cfg.keep_alive_s;
    m->expires_at = ka < 0 ? 0 : (double)time(NULL) + ka;
    if (m->removed && m->active == 0 && m->sched) unload(m); /* deleted while in use */
    pthread_mutex_unlock(&s->mu);
}

void models_unload_all(slm_server *s) {
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n_models; i++)
        if (s->models[i].sched) unload(&s->models[i]);
    pthread_mutex_unlock(&s->mu);
}

void *models_reaper_main(void *arg) {
    slm_server *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!atomic_load(&s->stopping)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&s->reaper_cv, &s->mu, &ts);
        double now = slm_now_s();
        for (int i = 0; i < s->n_models; i++) {
            srv_model *m = &s->models[i];
            if (m->sched && m->active == 0 && m->removed) {
                fprintf(stderr, "slm serve: unloading %s (removed from the store)\n", m->name);
                unload(m);
            } else if (m->sched && m->active == 0 && s->cfg.keep_alive_s >= 0 &&
                       now - m->last_used > s->cfg.keep_alive_s) {
                fprintf(stderr, "slm serve: unloading %s (idle %.0f s)\n", m->name, now - m->last_used);
                unload(m);
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}
