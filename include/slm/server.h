/* slm server: an HTTP server (libmicrohttpd) speaking the OpenAI (/v1) and
 * Ollama (/api) APIs over one or more models, each served by an engine
 * scheduler (slm/scheduler.h). Connection threads parse requests and
 * stream answers; they never run kernels.
 *
 * Safety defaults: binds 127.0.0.1, checks the Host header against an
 * allow-list (DNS rebinding), refuses cross-origin browser requests unless
 * a CORS origin is configured, limits request bodies, tokens and idle
 * connections, and can require an API key (Authorization: Bearer). */
#ifndef SLM_SERVER_H
#define SLM_SERVER_H

#include "slm/base.h"
#include "slm/scheduler.h"

typedef struct slm_server_model {
    const char *name; /* what requests put in "model" */
    const char *path; /* GGUF file */
} slm_server_model;

typedef struct slm_server_config {
    const char *host;          /* NULL: 127.0.0.1 */
    uint16_t port;             /* 0: any free port (see slm_server_port) */
    const char *api_key;       /* NULL: none; required to bind a non-loopback address */
    bool insecure_no_auth;     /* allow a non-loopback bind without a key */
    const char *const *allowed_hosts; /* extra Host header names */
    int n_allowed_hosts;
    const char *cors_origin;   /* NULL: CORS off (requests with an Origin are refused); "*": any */
    size_t max_body;           /* bytes; 0: 8 MiB */
    int32_t max_tokens;        /* cap on generated tokens per request; 0: a slot's context */
    unsigned timeout_s;        /* idle connection timeout; 0: 300 */
    unsigned max_connections;  /* 0: 64 */
    double keep_alive_s;       /* unload a model idle this long; 0: 300; < 0: never */
    bool log_requests;         /* one line per request on stderr */
    slm_sched_params sched;    /* per model */
    const slm_server_model *models;
    int n_models;
    /* Tiered router (slm/router.h) for /v1/chat/completions; NULL: none.
     * Not owned: the caller closes it after slm_server_free. */
    struct slm_router *router;
} slm_server_config;

typedef struct slm_server slm_server;

/* Validates the configuration, checks every model file opens, and starts
 * listening (models load on first use). */
slm_status slm_server_start(const slm_server_config *c, slm_server **out, slm_error *err);
uint16_t slm_server_port(const slm_server *s);
/* Stops accepting connections, lets in-flight requests finish for up to
 * grace_s seconds, then cancels the rest and stops. */
void slm_server_shutdown(slm_server *s, double grace_s);
/* Shuts down (no grace) if still running, unloads the models, frees. */
void slm_server_free(slm_server *s);

#endif
