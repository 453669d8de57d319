/* The model store over HTTP, Ollama's way: POST /api/pull streams NDJSON
 * progress ("pulling manifest", "pulling <digest>" with total/completed,
 * "verifying sha256 digest", "writing manifest", "success") or, with
 * "stream": false, answers once; POST or DELETE /api/delete removes a store
 * model. The pull runs on its own thread through slm_store_pull, with the
 * same rules as `slm pull` (HTTPS only except the configured registry, no
 * private addresses, every blob hashed before it enters the store); the
 * connection thread only relays its progress. A client that goes away
 * cancels the pull: the partial file stays in partial/ for a later resume
 * and never looks like a model. Main data: pull_job, shared by the pull
 * thread and the response under its mutex, freed by whichever ends last.
 * Listing endpoints that include the store are in pull_list.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "server_internal.h"
#include "slm/store.h"

#define WAIT_MS 200
#define DELETE_WAIT_S 10

typedef struct pull_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slm_server *srv;
    char name[SLM_NAME_MAX + 96];
    char *out;               /* NDJSON not yet sent */
    size_t out_len, out_cap, out_pos;
    bool finished, error_sent;
    int refs;                /* the pull thread and the response */
    atomic_bool cancel;      /* the client went away */
    int fd;                  /* the client's socket, polled while waiting */
    slm_status st;
    slm_error err;
} pull_job;

static void job_unref(pull_job *j) {
    pthread_mutex_lock(&j->mu);
    bool last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last) return;
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j->out);
    free(j);
}

/* Under j->mu: appends one JSON line (the reference is stolen). */
static void put_line(pull_job *j, json_t *v) {
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (!s) return;
    size_t n = strlen(s);
    if (j->out_len + n + 2 > j->out_cap) {
        size_t cap = j->out_cap ? j->out_cap : 1024;
        while (cap < j->out_len + n + 2) cap *= 2;
        char *p = realloc(j->out, cap);
        if (!p) {
            free(s);
            return; /* a progress line lost; the final status still comes */
        }
        j->out = p;
        j->out_cap = cap;
    }
    memcpy(j->out + j->out_len, s, n);
    j->out_len += n;
    j->out[j->out_len++] = '\n';
    free(s);
    pthread_cond_broadcast(&j->cv);
}

static json_t *status_line(const char *status) { return json_pack("{s:s}", "status", status); }

/* Store progress events become Ollama's status lines. */
static void on_progress(const slm_pull_event *ev, void *ud) {
    pull_job *j = ud;
    pthread_mutex_lock(&j->mu);
    if (strcmp(ev->phase, "manifest") == 0) {
        put_line(j, status_line("pulling manifest"));
    } else if (strcmp(ev->phase, "download") == 0 && ev->digest && strlen(ev->digest) > 19) {
        char st[32];
        snprintf(st, sizeof st, "pulling %.12s", ev->digest + 7);
        put_line(j, json_pack("{s:s,s:s,s:I,s:I}", "status", st, "digest", ev->digest, "total",
                              (json_int_t)ev->total, "completed", (json_int_t)ev->done));
    } else if (strcmp(ev->phase, "done") == 0) {
        /* Ollama reports these once, after the layers; each blob was
         * hashed before it entered the store. */
        put_line(j, status_line("verifying sha256 digest"));
        put_line(j, status_line("writing manifest"));
    }
    pthread_mutex_unlock(&j->mu);
}

static bool is_cancelled(void *ud) {
    pull_job *j = ud;
    return atomic_load(&j->cancel) || atomic_load(&j->srv->stopping);
}

static void *pull_main(void *arg) {
    pull_job *j = arg;
    slm_server *s = j->srv;
    slm_store *st = models_store(s, true);
    slm_error err = {0};
    slm_status rc = SLM_ERR_IO;
    if (!st) {
        slm_error_set(&err, SLM_ERR_IO, "the model store cannot be opened (see the server log)");
    } else {
        slm_pull_opts o = {.progress = on_progress, .progress_ud = j, .cancelled = is_cancelled, .cancel_ud = j};
        const char *delay = getenv("SLM_RETRY_DELAY_MS");
        if (delay) o.retry_delay_ms = atoi(delay);
        slm_pull_env_opts(&o);
        pthread_rwlock_rdlock(&s->store_rw); /* no garbage collection while blobs arrive */
        rc = slm_store_pull(st, j->name, &o, NULL, &err); /* a new digest is loaded by the next request */
        pthread_rwlock_unlock(&s->store_rw);
    }
    if (rc == SLM_OK) fprintf(stderr, "slm serve: pulled %s\n", j->name);
    else fprintf(stderr, "slm serve: %s\n", err.msg); /* "pull NAME: why" */
    pthread_mutex_lock(&j->mu);
    j->st = rc;
    j->err = err;
    if (rc == SLM_OK) put_line(j, status_line("success"));
    j->finished = true;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
    atomic_fetch_sub(&s->pulls, 1);
    return NULL;
}

/* HTTP status for a failed pull. */
static unsigned pull_status(slm_status st, const char *msg) {
    if (st == SLM_ERR_INVALID_ARG) return 400;
    if (strstr(msg, "HTTP 404")) return 404;
    if (strstr(msg, "not enough disk space")) return 507;
    if (strstr(msg, "cancelled")) return 503;
    if (st == SLM_ERR_IO || st == SLM_ERR_FORMAT || st == SLM_ERR_UNSUPPORTED) return 502; /* the registry's fault */
    return 500;
}

/* Under j->mu: waits for output or the end, polling the client. */
static bool wait_output(pull_job *j) {
    while (j->out_pos == j->out_len && !j->finished) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WAIT_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        if (http_peer_gone(j->fd)) {
            atomic_store(&j->cancel, true);
            return false;
        }
    }
    return true;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    pull_job *j = cls;
    pthread_mutex_lock(&j->mu);
    if (!wait_output(j)) {
        pthread_mutex_unlock(&j->mu);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (j->out_pos == j->out_len && j->finished && j->st != SLM_OK && !j->error_sent) {
        j->error_sent = true; /* after a 200 was sent, the error is the last line */
        put_line(j, json_pack("{s:s}", "error", j->err.msg));
    }
    ssize_t n = MHD_CONTENT_READER_END_OF_STREAM;
    if (j->out_pos < j->out_len) {
        size_t k = j->out_len - j->out_pos < max ? j->out_len - j->out_pos : max;
        memcpy(buf, j->out + j->out_pos, k);
        j->out_pos += k;
        if (j->out_pos == j->out_len) j->out_pos = j->out_len = 0; /* the buffer does not grow with time */
        n = (ssize_t)k;
    }
    pthread_mutex_unlock(&j->mu);
    return n;
}

static void stream_free(void *cls) {
    pull_job *j = cls;
    atomic_store(&j->cancel, true); /* finished, or the connection ended early */
    job_unref(j);
}

static enum MHD_Result answer_stream(conn *c, pull_job *j) {
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, j, stream_free);
    if (!r) {
        stream_free(j);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/x-ndjson");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    http_common_headers(c, r);
    enum MHD_Result ret = MHD_queue_response(c->mc, 200, r);
    MHD_destroy_response(r);
    c->status = 200;
    c->answered = true;
    return ret;
}

static enum MHD_Result answer_whole(conn *c, pull_job *j) {
    pthread_mutex_lock(&j->mu);
    bool ok = true;
    while (!j->finished && (ok = wait_output(j))) j->out_pos = j->out_len = 0; /* progress is not sent */
    slm_status st = j->st;
    slm_error err = j->err;
    pthread_mutex_unlock(&j->mu);
    atomic_store(&j->cancel, true);
    job_unref(j);
    if (!ok) return MHD_NO; /* the client left: the pull was cancelled */
    if (st != SLM_OK) return http_ol_error(c, pull_status(st, err.msg), "%s", err.msg);
    return http_json(c, 200, status_line("success"));
}

/* Reads model/name, stream and insecure; answers 400 on a bad body. */
static bool pull_body(conn *c, json_t *body, const char **name, bool *stream, enum MHD_Result *ret) {
    const json_t *mv = json_object_get(body, "model"), *sv = json_object_get(body, "stream");
    const json_t *iv = json_object_get(body, "insecure");
    if (!mv) mv = json_object_get(body, "name");
    if (!json_is_string(mv) || !json_string_length(mv))
        *ret = http_ol_error(c, 400, mv ? "model must be a non-empty string" : "model is required");
    else if (sv && !json_is_boolean(sv)) *ret = http_ol_error(c, 400, "stream must be a boolean");
    else if (iv && !json_is_boolean(iv)) *ret = http_ol_error(c, 400, "insecure must be a boolean");
    else {
        *name = json_string_value(mv);
        *stream = !json_is_false(sv);
        if (json_is_true(iv))
            fprintf(stderr, "slm serve: pull %s: \"insecure\" ignored: pulls use HTTPS, except from the configured "
                            "registry ($SLM_REGISTRY / $HF_ENDPOINT)\n", *name);
        return true;
    }
    return false;
}

static enum MHD_Result api_pull(conn *c) {
    enum MHD_Result ret = MHD_NO;
    json_t *body = http_parse_body(c, true, &ret);
    const char *name = NULL;
    bool stream = true;
    if (!body || !pull_body(c, body, &name, &stream, &ret)) return json_decref(body), ret;
    snprintf(c->model, sizeof c->model, "%.127s", name);
    slm_model_ref ref;
    slm_error err = {0};
    if (slm_ref_parse(name, &ref, &err) != SLM_OK) {
        json_decref(body);
        return http_ol_error(c, 400, "%s", err.msg);
    }
    pull_job *j = calloc(1, sizeof *j);
    if (!j) return json_decref(body), http_ol_error(c, 500, "out of memory");
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    atomic_init(&j->cancel, false);
    j->srv = c->srv;
    j->refs = 2;
    j->fd = http_conn_fd(c);
    snprintf(j->name, sizeof j->name, "%s", name);
    json_decref(body);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    atomic_fetch_add(&c->srv->pulls, 1);
    bool started = pthread_create(&t, &attr, pull_main, j) == 0;
    pthread_attr_destroy(&attr);
    if (!started) {
        atomic_fetch_sub(&c->srv->pulls, 1);
        j->refs = 1;
        job_unref(j);
        return http_ol_error(c, 500, "cannot start the pull thread");
    }
    return stream ? answer_stream(c, j) : answer_whole(c, j);
}

void pull_shutdown(slm_server *s, double grace_s) {
    double until = slm_now_s() + grace_s;
    while (atomic_load(&s->pulls) > 0 && slm_now_s() < until) {
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (atomic_load(&s->pulls) > 0) fprintf(stderr, "slm serve: a pull thread did not stop in time\n");
}

/* ---- delete ----------------------------------------------------------------- */

static enum MHD_Result api_delete(conn *c) {
    enum MHD_Result ret = MHD_NO;
    json_t *body = http_parse_body(c, true, &ret);
    if (!body) return ret;
    const json_t *mv = json_object_get(body, "model");
    if (!mv) mv = json_object_get(body, "name");
    char name[SLM_NAME_MAX + 96];
    snprintf(name, sizeof name, "%s", json_is_string(mv) ? json_string_value(mv) : "");
    bool bad = !json_is_string(mv) || !name[0];
    json_decref(body);
    if (bad) return http_ol_error(c, 400, mv ? "model must be a non-empty string" : "model is required");
    snprintf(c->model, sizeof c->model, "%.127s", name);
    if (models_find_configured(c->srv, name))
        return http_ol_error(c, 400, "model '%s' was given with --model; only store models can be deleted", name);
    slm_model_ref ref;
    slm_error err = {0};
    if (slm_ref_parse(name, &ref, &err) != SLM_OK) return http_ol_error(c, 400, "%s", err.msg);
    slm_store *st = models_store(c->srv, false);
    if (!st) return http_ol_error(c, 404, "model '%s' not found", name);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += DELETE_WAIT_S;
    if (pthread_rwlock_timedwrlock(&c->srv->store_rw, &until) != 0)
        return http_ol_error(c, 409, "a pull is in progress; try the delete again when it has finished");
    slm_status rc = slm_store_remove(st, name, &err);
    pthread_rwlock_unlock(&c->srv->store_rw);
    if (rc != SLM_OK) return http_ol_error(c, 404, "model '%s' not found", name);
    models_forget(c->srv, name);
    fprintf(stderr, "slm serve: deleted %s\n", ref.name);
    return http_send(c, 200, NULL, strdup(""), 0);
}

enum MHD_Result pull_route(conn *c, bool *handled) {
    const char *u = c->url;
    bool post = strcmp(c->method, "POST") == 0, del = strcmp(c->method, "DELETE") == 0;
    *handled = true;
    if (strcmp(u, "/api/pull") == 0 && post) return api_pull(c);
    if (strcmp(u, "/api/delete") == 0 && (post || del)) return api_delete(c);
    return pull_list_route(c, handled);
}
