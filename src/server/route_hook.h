/* The tiered router (slm/router.h) inside the server: the per-server hook
 * (per-tier /metrics counters) and route_req, the state of one routed
 * /v1/chat/completions request shared by route_hook.c (HTTP side: headers,
 * the worker thread of a streamed request, the answer) and route_local.c
 * (the local callback that runs the engine and measures confidence).
 *
 * Streaming: slm_router_handle is synchronous, but a streamed answer must
 * go out while it runs, so a streamed request runs the router on a worker
 * thread. Bytes for the client (an upstream's SSE, or a local answer once
 * committed) go into route_req.pend under route_req.mu; the connection
 * thread waits until the first bytes or the outcome, then sends headers and
 * drains pend from a libmicrohttpd content reader.
 *
 * Other API shapes (Ollama's /api/chat and /api/generate, route_ollama.c)
 * reuse all of this: the request is translated to OpenAI's shape and a
 * route_fmt converts the answer (a whole object, or the SSE stream as it
 * passes through pend). */
#ifndef SLM_SERVER_ROUTE_HOOK_H
#define SLM_SERVER_ROUTE_HOOK_H

#include "server_internal.h"
#include "slm/router.h"

#define ROUTE_MAX_HEADERS 64

typedef struct route_hdr {
    char *name, *value;
} route_hdr;

typedef struct route_req route_req;

/* An answer shape other than OpenAI's (route_ollama.c): the router always
 * produces OpenAI chat completions; a route_fmt turns them into what the
 * client asked for. Owned by the request (freed with it). */
typedef struct route_fmt {
    const char *stream_type; /* Content-Type of a streamed answer */
    /* SSE bytes of an OpenAI stream, in any pieces -> the client's bytes,
     * appended with route_pend_add (rr->mu is held). false: give up. */
    bool (*stream)(struct route_fmt *f, route_req *rr, const char *data, size_t len);
    /* A whole chat.completion -> the client's body (malloc'ed) and type. */
    char *(*whole)(struct route_fmt *f, const json_t *resp, bool stream, size_t *len, const char **type);
    /* An error message -> the client's body (malloc'ed). */
    char *(*error)(struct route_fmt *f, const char *msg, size_t *len);
    void (*free)(struct route_fmt *f);
} route_fmt;

struct route_req {
    slm_server *srv;
    slm_router *router;
    json_t *body;
    bool stream;             /* the client asked for SSE */
    int fd;                  /* the client's socket (peer-gone checks) */
    route_hdr hdrs[ROUTE_MAX_HEADERS]; /* copied: the worker must not touch MHD */
    int n_hdrs;
    char key_id[128];
    slm_route_request rq;
    slm_route_outcome out;
    /* streaming: worker -> connection thread */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *pend;
    size_t pend_len, pend_pos, pend_cap;
    bool started, done, gone, oom;
    pthread_t worker;
    bool worker_running;
    char hdr_tier[64], hdr_model[256];
    bool hdr_escalated;
    /* the last successful local run's SSE bytes, for a buffered answer */
    char *local_sse;
    size_t local_sse_len;
    const slm_route_model *local_model;
    int64_t local_tokens_in, local_tokens_out;
    route_fmt *fmt;          /* NULL: OpenAI */
};

/* ---- route_hook.c ---- */
/* Per-server state (counters); NULL router: nothing to do. */
slm_status route_hook_init(slm_server *s, slm_error *err);
void route_hook_free(slm_server *s);
/* Is this chat request for the router? With a config file: model "auto" (the
 * router name), absent, or any configured model; without one: only "auto". */
bool route_hook_wants(slm_server *s, const json_t *body);
/* Runs a routed chat request and answers; steals body. */
enum MHD_Result route_hook_chat(conn *c, json_t *body);
/* Same for a request translated from another API: body is the OpenAI
 * request, fmt shapes the answer; steals both. */
enum MHD_Result route_hook_run(conn *c, json_t *body, route_fmt *fmt);
/* Appends bytes for the client to a streamed answer (rr->mu held). */
bool route_pend_add(route_req *rr, const char *data, size_t len);
/* The router's Prometheus lines (malloc'ed; NULL when there is no router). */
char *route_hook_metrics(slm_server *s);
/* slm_stream_fn: bytes for the client (first bytes fix the x-slm-* headers). */
bool route_stream_emit(void *ctx, const char *data, size_t len);

/* ---- route_local.c ---- */
/* slm_local_fn: ctx is a route_req. Runs the request on the served model the
 * route model maps to, asks the engine for chosen-token and top-k logprobs
 * and fills the confidence signals; a streamed request is held up to
 * buffer_bytes (or sent at once when may_stream). */
slm_status route_local_run(void *ctx, const slm_route_model *m, const json_t *body, bool may_stream,
                           int64_t buffer_bytes, slm_local_answer *out);

/* ---- route_ollama.c ---- */
/* Is this /api/chat or /api/generate body for the router (the rules of
 * route_hook_wants, on "model" or the older "name")? */
bool route_ollama_wants(slm_server *s, const json_t *body);
/* Translates the Ollama request to the router's OpenAI shape, routes it and
 * answers in Ollama's shape (an object, or NDJSON lines); steals body. */
enum MHD_Result route_ollama(conn *c, json_t *body, bool chat);

/* slm_token_count_fn (ctx: a route_req): the exact prompt-token count with
 * the first local model's chat template and tokenizer (route_local.c). */
int64_t route_count_tokens(void *ctx, const json_t *body);
/* slm_task_classify_fn (ctx: a route_req): the classifier model picks a
 * label with a choice grammar, greedily (route_local.c). */
bool route_classify_task(void *ctx, const slm_route_model *m, const json_t *body, const char *const *labels,
                         int n_labels, const char *instructions, char *out, size_t cap);

#endif
