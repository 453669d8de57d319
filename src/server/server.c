/* The server: configuration checks, the libmicrohttpd daemon (one thread
 * per connection, so handlers may block while the engine works), request
 * body collection with a size limit, admission (auth.c), routing, the
 * per-request log line, and graceful shutdown. Main data: slm_server and
 * conn (server_internal.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "route_hook.h"
#include "server_internal.h"
#include "slm/store.h"

#define DEFAULT_MAX_BODY (8u << 20)
#define DEFAULT_TIMEOUT 300
#define DEFAULT_MAX_CONN 64
#define DEFAULT_KEEP_ALIVE 300.0

static enum MHD_Result route(conn *c) {
    if (strcmp(c->method, "OPTIONS") == 0) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
        http_common_headers(c, r);
        MHD_add_response_header(r, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        MHD_add_response_header(r, "Access-Control-Allow-Headers", "Authorization, Content-Type");
        enum MHD_Result ret = MHD_queue_response(c->mc, 204, r);
        MHD_destroy_response(r);
        c->status = 204;
        return ret;
    }
    if (strcmp(c->url, "/health") == 0) return http_json(c, 200, json_pack("{s:s}", "status", "ok"));
    if (strcmp(c->url, "/metrics") == 0) return metrics_route(c);
    if (strcmp(c->url, "/") == 0)
        return http_send(c, 200, "text/plain", strdup("slm is running\n"), 15);
    bool handled = false;
    enum MHD_Result ret = pull_route(c, &handled); /* the store: pull, delete, model lists */
    if (!handled) ret = openai_route(c, &handled);
    if (!handled) ret = ollama_route(c, &handled);
    if (!handled) ret = http_oa_error(c, 404, NULL, "unknown_url", "unknown endpoint %s %s", c->method, c->url);
    return ret;
}

static conn *conn_new(slm_server *s, struct MHD_Connection *mc, const char *url, const char *method) {
    conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->srv = s;
    c->mc = mc;
    c->t0 = slm_now_s();
    c->url = strdup(url);
    snprintf(c->method, sizeof c->method, "%s", method);
    if (!c->url) {
        free(c);
        return NULL;
    }
    atomic_fetch_add(&s->in_flight, 1);
    return c;
}

/* Appends upload data; past the limit the rest is dropped and 413 follows. */
static void body_add(conn *c, const char *data, size_t n) {
    size_t max = c->srv->cfg.max_body;
    if (c->too_big || n > max - c->len) {
        c->too_big = true;
        return;
    }
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 4096;
        while (cap < c->len + n + 1) cap *= 2;
        char *p = realloc(c->body, cap);
        if (!p) {
            c->too_big = true;
            return;
        }
        c->body = p;
        c->cap = cap;
    }
    memcpy(c->body + c->len, data, n);
    c->len += n;
    c->body[c->len] = '\0';
}

static bool declared_too_big(conn *c) {
    const char *cl = MHD_lookup_connection_value(c->mc, MHD_HEADER_KIND, "Content-Length");
    return cl && strtoull(cl, NULL, 10) > c->srv->cfg.max_body;
}

static enum MHD_Result too_big(conn *c) {
    bool ol = strncmp(c->url, "/api/", 5) == 0;
    size_t max = c->srv->cfg.max_body;
    return ol ? http_ol_error(c, 413, "the request body is larger than the limit of %zu bytes", max)
              : http_oa_error(c, 413, NULL, "request_too_large", "the request body is larger than the limit of %zu bytes", max);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    slm_server *s = cls;
    conn *c = *con_cls;
    if (!c) {
        c = conn_new(s, mc, url, method);
        if (!c) return MHD_NO;
        *con_cls = c;
        enum MHD_Result ret;
        if (!auth_check(c, &ret)) return ret;
        if (declared_too_big(c)) return too_big(c);
        return MHD_YES;
    }
    if (c->answered) { /* refused before the body: drop what comes */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        body_add(c, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (c->too_big) return too_big(c);
    if (atomic_load(&s->stopping))
        return http_oa_error(c, 503, NULL, "shutting_down", "the server is shutting down");
    return route(c);
}

static void on_completed(void *cls, struct MHD_Connection *mc, void **con_cls, enum MHD_RequestTerminationCode why) {
    (void)mc;
    slm_server *s = cls;
    conn *c = *con_cls;
    if (!c) return;
    unsigned status = c->status ? c->status : 499; /* 499: client went away before an answer */
    if (why != MHD_REQUEST_TERMINATED_COMPLETED_OK && status == 200) status = 499;
    metrics_status(s, status);
    if (s->cfg.log_requests) {
        char ts[48];
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        http_rfc3339((double)now.tv_sec + now.tv_nsec / 1e9, ts, sizeof ts);
        fprintf(stderr, "%s method=%s path=%s model=%s status=%u prompt_tokens=%d completion_tokens=%d ms=%.1f\n", ts,
                c->method, c->url, c->model[0] ? c->model : "-", status, c->tok_in, c->tok_out,
                (slm_now_s() - c->t0) * 1e3);
    }
    free(c->body);
    free(c->url);
    free(c);
    *con_cls = NULL;
    atomic_fetch_sub(&s->in_flight, 1);
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static slm_status copy_config(slm_server *s, const slm_server_config *cfg, slm_error *err) {
    s->cfg = *cfg;
    s->host = strdup(cfg->host ? cfg->host : "127.0.0.1");
    s->api_key = dup_or_null(cfg->api_key && *cfg->api_key ? cfg->api_key : NULL);
    s->cors_origin = dup_or_null(cfg->cors_origin);
    s->allowed_hosts = calloc((size_t)cfg->n_allowed_hosts + 1, sizeof *s->allowed_hosts);
    if (!s->host || !s->allowed_hosts) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < cfg->n_allowed_hosts; i++)
        if (!(s->allowed_hosts[i] = strdup(cfg->allowed_hosts[i]))) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    if (!s->cfg.max_body) s->cfg.max_body = DEFAULT_MAX_BODY;
    if (!s->cfg.timeout_s) s->cfg.timeout_s = DEFAULT_TIMEOUT;
    if (!s->cfg.max_connections) s->cfg.max_connections = DEFAULT_MAX_CONN;
    if (s->cfg.keep_alive_s == 0) s->cfg.keep_alive_s = DEFAULT_KEEP_ALIVE;
    s->loopback = auth_is_loopback(s->host);
    if (cfg->n_models <= 0) return slm_error_set(err, SLM_ERR_INVALID_ARG, "no model given (use --model PATH)");
    if (!s->loopback && !s->api_key && !cfg->insecure_no_auth)
        return slm_error_set(err, SLM_ERR_INVALID_ARG,
                             "binding %s (not loopback) requires --api-key (or --insecure-no-auth)", s->host);
    if (!s->loopback && !s->api_key)
        fprintf(stderr, "slm serve: WARNING: listening on %s WITHOUT authentication (--insecure-no-auth): "
                        "anyone who can reach this address can use the models\n", s->host);
    return SLM_OK;
}

static slm_status bind_addr(slm_server *s, struct sockaddr_storage *ss, bool *v6, slm_error *err) {
    memset(ss, 0, sizeof *ss);
    const char *h = strcmp(s->host, "localhost") == 0 ? "127.0.0.1" : s->host;
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(s->cfg.port);
        *v6 = false;
    } else if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(s->cfg.port);
        *v6 = true;
    } else {
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "host '%s' is not an IP address", s->host);
    }
    return SLM_OK;
}

static slm_status start_daemon(slm_server *s, slm_error *err) {
    struct sockaddr_storage ss;
    bool v6 = false;
    slm_status st = bind_addr(s, &ss, &v6, err);
    if (st != SLM_OK) return st;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC;
    if (v6) flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(flags, s->cfg.port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT,
                            s->cfg.timeout_s, MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024, MHD_OPTION_END);
    if (!s->d)
        return slm_error_set(err, SLM_ERR_IO, "cannot listen on %s:%u (address in use or not available)", s->host,
                             (unsigned)s->cfg.port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : s->cfg.port;
    return SLM_OK;
}

slm_status slm_server_start(const slm_server_config *cfg, slm_server **out, slm_error *err) {
    slm_server *s = calloc(1, sizeof *s);
    if (!s) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->store_mu, NULL);
    pthread_rwlock_init(&s->store_rw, NULL);
    atomic_init(&s->pulls, 0);
    pthread_cond_init(&s->reaper_cv, NULL);
    atomic_init(&s->in_flight, 0);
    atomic_init(&s->stopping, false);
    slm_status st = copy_config(s, cfg, err);
    if (st == SLM_OK) st = models_init(s, err);
    if (st == SLM_OK) st = route_hook_init(s, err);
    if (st == SLM_OK) st = start_daemon(s, err);
    if (st == SLM_OK && pthread_create(&s->reaper, NULL, models_reaper_main, s) != 0)
        st = slm_error_set(err, SLM_ERR_INTERNAL, "cannot start the keep-alive thread");
    if (st != SLM_OK) {
        slm_server_free(s);
        return st;
    }
    s->reaper_started = true;
    *out = s;
    return SLM_OK;
}

uint16_t slm_server_port(const slm_server *s) { return s->port; }

void slm_server_shutdown(slm_server *s, double grace_s) {
    if (s->stopped) return;
    s->stopped = true;
    if (s->d) {
        MHD_socket fd = MHD_quiesce_daemon(s->d); /* stop accepting; in-flight requests go on */
        if (fd != MHD_INVALID_SOCKET) close(fd);
    }
    double until = slm_now_s() + (grace_s > 0 ? grace_s : 0);
    while (atomic_load(&s->in_flight) > 0 && slm_now_s() < until) usleep(20000);
    /* Past the grace period: requests still running are cancelled. */
    pthread_mutex_lock(&s->mu);
    atomic_store(&s->stopping, true);
    pthread_cond_broadcast(&s->reaper_cv);
    pthread_mutex_unlock(&s->mu);
    if (s->d) MHD_stop_daemon(s->d); /* joins the connection threads */
    s->d = NULL;
    pull_shutdown(s, 60); /* pull threads stop at their next transfer callback */
    if (s->reaper_started) pthread_join(s->reaper, NULL);
    s->reaper_started = false;
    models_unload_all(s);
}

void slm_server_free(slm_server *s) {
    if (!s) return;
    slm_server_shutdown(s, 0);
    for (int i = 0; i < s->n_models; i++) {
        free(s->models[i].name);
        free(s->models[i].path);
    }
    free(s->models);
    slm_store_close(s->store);
    route_hook_free(s);
    for (int i = 0; s->allowed_hosts && i < s->cfg.n_allowed_hosts; i++) free(s->allowed_hosts[i]);
    free(s->allowed_hosts);
    free(s->host);
    free(s->api_key);
    free(s->cors_origin);
    pthread_cond_destroy(&s->reaper_cv);
    pthread_rwlock_destroy(&s->store_rw);
    pthread_mutex_destroy(&s->store_mu);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
