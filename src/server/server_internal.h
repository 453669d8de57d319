/* Internals of the server shared by its files: the server object and its
 * model registry (models load on first use, unload after keep-alive), the
 * per-request connection state, response helpers, and the generation job
 * that turns scheduler events into OpenAI or Ollama responses. */
#ifndef SLM_SERVER_INTERNAL_H
#define SLM_SERVER_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "slm/chat.h"
#include "slm/server.h"
#include "slm/toolcall.h"

#define SRV_VERSION "0.1.0"

typedef struct route_hook route_hook;

typedef struct srv_model {
    char *name, *path;
    uint64_t file_size;
    int64_t mtime;
    slm_sched *sched;           /* NULL until loaded */
    slm_chat_template *tmpl;    /* the model's, a built-in that fits, or ChatML */
    bool base_model;            /* no template fits: /api/generate sends prompts raw */
    bool tmpl_tools;            /* the template renders a `tools` list itself */
    slm_tool_format tool_fmt;   /* how this model writes tool calls */
    char *bos_text, *eos_text;
    int active;                 /* requests holding it (under srv.mu) */
    double last_used;
    double expires_at;
    /* Models from the store (models.c): registered on first use under their
     * canonical name (plus "@sha256:HEX" when the request pinned one). */
    bool from_store;
    bool removed;               /* deleted or re-pulled: never found again, unloaded when idle */
    bool verify_pin;            /* re-hash the blob at every load (pinned) */
    char digest[80];            /* "sha256:HEX" of a store model's blob */
} srv_model;

/* Histogram with fixed upper bounds (Prometheus style, cumulative on output). */
#define SRV_HIST_BUCKETS 10
typedef struct srv_hist {
    uint64_t count[SRV_HIST_BUCKETS + 1];
    double sum;
    uint64_t n;
} srv_hist;

typedef struct srv_metrics {
    uint64_t requests[6]; /* by status class 1xx..5xx, [0]: other */
    uint64_t tok_prompt, tok_cached, tok_gen;
    srv_hist ttft, tps;
} srv_metrics;

struct slm_server {
    slm_server_config cfg;   /* strings below are owned copies */
    char *host, *api_key, *cors_origin;
    char **allowed_hosts;
    srv_model *models;
    int n_models;
    bool loopback;
    uint16_t port;
    struct MHD_Daemon *d;
    pthread_mutex_t mu;      /* models, metrics */
    srv_metrics metrics;
    atomic_int in_flight;
    atomic_bool stopping;    /* cancel what is running, refuse new work */
    bool stopped;
    pthread_t reaper;
    bool reaper_started;
    pthread_cond_t reaper_cv;
    struct route_hook *route; /* route_hook.c: per-tier counters (NULL: no router) */
    /* The model store ($SLM_HOME): models beyond --model, /api/pull, /api/delete. */
    int models_cap;          /* models[] never moves: requests hold pointers into it */
    struct slm_store *store; /* opened on first need (store_mu) */
    pthread_mutex_t store_mu;
    pthread_rwlock_t store_rw; /* pulls read-lock, delete (garbage collection) write-locks */
    atomic_int pulls;        /* pull threads running (shutdown waits for them) */
};

/* One HTTP request (MHD's per-connection closure). */
typedef struct conn {
    slm_server *srv;
    struct MHD_Connection *mc;
    char method[16];
    char *url;
    char *body;
    size_t len, cap;
    bool too_big, answered;
    double t0;
    /* for the log line */
    unsigned status;
    char model[128];
    int32_t tok_in, tok_out;
} conn;

/* ---- http.c: responses ---- */
enum MHD_Result http_send(conn *c, unsigned status, const char *type, char *body, size_t len);
/* Sends a JSON value (the reference is stolen). */
enum MHD_Result http_json(conn *c, unsigned status, json_t *v);
/* OpenAI error shape {"error":{"message","type","param","code"}}. */
enum MHD_Result http_oa_error(conn *c, unsigned status, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Ollama error shape {"error":"..."}. */
enum MHD_Result http_ol_error(conn *c, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Adds the headers every response carries (CORS when configured). */
void http_common_headers(conn *c, struct MHD_Response *r);
/* The peer closed its side (checked without blocking). */
bool http_peer_gone(int fd);
int http_conn_fd(conn *c);
/* Parses the body as a JSON object; on failure answers 400 and returns NULL. */
json_t *http_parse_body(conn *c, bool ollama, enum MHD_Result *ret);
const char *http_status_type(unsigned status);
/* "2023-08-04T19:22:45.499127Z" */
void http_rfc3339(double t, char *buf, size_t cap);

/* ---- utf8.c ---- */
/* A malloc'ed copy of in[0..n) with every invalid UTF-8 byte replaced by
 * U+FFFD (NUL-terminated; length in *out_n); NULL when out of memory. */
char *utf8_sanitize(const char *in, size_t n, size_t *out_n);

/* ---- auth.c ---- */
/* Host allow-list, Origin/CORS and API key; answers and returns false on refusal. */
bool auth_check(conn *c, enum MHD_Result *ret);
bool auth_is_loopback(const char *host);

/* ---- models.c ---- */
/* The model named name (":latest" ignored), loaded if needed, with a
 * reference held; NULL with *status 404/500 and err filled. */
srv_model *models_acquire(slm_server *s, const char *name, unsigned *status, slm_error *err);
void models_release(slm_server *s, srv_model *m);
srv_model *models_find(slm_server *s, const char *name);
slm_status models_init(slm_server *s, slm_error *err);
void models_unload_all(slm_server *s);
void *models_reaper_main(void *arg);
/* "a, b, c": the configured names, then the store's. */
void models_names(slm_server *s, char *buf, size_t cap);
/* The store, opened on first use; with create false NULL when it does not
 * exist yet (listing a server's models never creates ~/.slm). */
struct slm_store *models_store(slm_server *s, bool create);
/* A configured (--model) model by request name, or NULL. */
srv_model *models_find_configured(slm_server *s, const char *name);
/* After /api/delete: store models registered under `name` (any pin) are
 * forgotten and unloaded once idle. (A re-pull needs nothing: each request
 * re-reads the manifest and a new digest gets a new entry.) */
void models_forget(slm_server *s, const char *name);

/* ---- pull.c: /api/pull, /api/delete, and the model lists that include the
 * store (/api/tags, /v1/models, /v1/models/NAME) ---- */
enum MHD_Result pull_route(conn *c, bool *handled);
/* Waits (up to grace_s) for the pull threads, which stop once `stopping` is set. */
void pull_shutdown(slm_server *s, double grace_s);
/* pull_list.c: GET /api/tags, /v1/models, /v1/models/NAME (the configured
 * models, then the store's); *handled false for other URLs. */
enum MHD_Result pull_list_route(conn *c, bool *handled);

/* ---- prompt.c ---- */
/* Renders OpenAI/Ollama chat messages with the model's template; *why names
 * the bad field on SLM_ERR_INVALID_ARG. */
slm_status prompt_render_chat(srv_model *m, const json_t *messages, char **out, slm_error *err);
/* The same with tool definitions (OpenAI `tools` array, or NULL): passed to
 * a template that renders tools, else described in a system message. */
slm_status prompt_render_chat_tools(srv_model *m, const json_t *messages, const json_t *tools, char **out,
                                    slm_error *err);
/* Tokenizes a rendered or raw prompt (BOS added unless the text has it). */
slm_status prompt_tokenize(srv_model *m, const char *text, bool special, int32_t **toks, size_t *n, slm_error *err);

/* ---- params.c ---- */
typedef struct gen_opts {
    slm_request_params rp;
    const char *stops[SLM_MAX_STOPS];
    int32_t bias_tok[1024];
    float bias_val[1024];
    int n;                    /* choices */
    bool stream, include_usage;
    bool logprobs;
    /* structured output (structured.c) */
    slm_constraint *cons;     /* our reference; rp.constraint points to it */
    bool tools;               /* parse the output for tool calls */
    bool tools_hold_all;      /* tool_choice required/named: the output is only calls */
    json_t *tool_defs;        /* the tools rendered into the prompt (reference), NULL: none */
} gen_opts;
/* OpenAI body -> options. chat selects logprobs (bool + top_logprobs) vs
 * completions' integer logprobs. Returns false with the bad param named. */
bool params_openai(const json_t *body, bool chat, const slm_tokenizer *tok, int32_t max_tokens, gen_opts *o,
                   const char **param, char *msg, size_t cap);
bool params_ollama(const json_t *body, int32_t max_tokens, gen_opts *o, const char **param, char *msg, size_t cap);
/* Releases what the options own (the constraint and tools). */
void params_free(gen_opts *o);

/* ---- structured.c: response_format / grammar / format / tools ---- */
/* OpenAI: response_format, the `grammar` extension (GBNF), tools +
 * tool_choice (and the older functions + function_call). Compiles the
 * constraint into o->cons. Returns false with the parameter named and the
 * reason (e.g. the unsupported JSON Schema feature): answer 400. */
bool structured_openai(srv_model *m, const json_t *body, bool chat, gen_opts *o, const char **param, char *msg,
                       size_t cap);
/* Ollama: format ("json" or a JSON Schema), tools, and tool_choice (an
 * extension: Ollama has none; absent means auto). */
bool structured_ollama(srv_model *m, const json_t *body, bool chat, gen_opts *o, const char **param, char *msg,
                       size_t cap);

/* ---- gen.c: running a request and answering ---- */
typedef enum api_kind { API_OA_CHAT, API_OA_COMPLETION, API_OL_CHAT, API_OL_GENERATE } api_kind;
/* Submits the request(s) and answers (streamed or whole). Takes over m's
 * reference. */
enum MHD_Result gen_run(conn *c, srv_model *m, api_kind kind, gen_opts *o, const int32_t *toks, size_t n_toks);

/* ---- openai.c / ollama.c / metrics.c ---- */
enum MHD_Result openai_route(conn *c, bool *handled);
enum MHD_Result ollama_route(conn *c, bool *handled);
enum MHD_Result metrics_route(conn *c);
void metrics_record(slm_server *s, const slm_event *done);
void metrics_status(slm_server *s, unsigned status);

#endif
