/* slm router: tiers of models (local GGUF files and remote OpenAI-compatible
 * endpoints), the policy that picks a tier for each request, the confidence
 * check that escalates a weak local answer, the upstream client (retries,
 * fallback, cooldown) and the SQLite ledger that records every call.
 *
 * Flow for one request (slm_router_handle):
 *   decide   task kind (x-slm-task / metadata.task / inferred), sensitivity
 *            (x-slm-sensitive / metadata.sensitive / PII detectors), the first
 *            matching rule -> a tier; the plan is that tier's models then the
 *            later tiers', minus tiers the request may not use (remote tiers
 *            for sensitive data unless on_prem, over-budget remote tiers).
 *   execute  each candidate in order: a local model through the caller's
 *            local callback (the server runs the engine) followed by the
 *            confidence check (fail -> escalate to the next tier); a remote
 *            model through slm_upstream_chat (retries with backoff, then the
 *            next model, then the next tier; failing upstreams cool down).
 *   record   one ledger row (queued for the ledger's writer thread): tiers tried
 *            and why, tokens, latency, cost.
 *
 * No config file: one local tier named "local" holding the caller's model;
 * every request goes there, exactly as without a router.
 *
 * Thread safety: a slm_router may be used from many threads at once (the
 * cooldown, budget and ledger state inside are locked). A slm_route_config is
 * read-only once loaded. */
#ifndef SLM_ROUTER_H
#define SLM_ROUTER_H

#include <jansson.h>

#include "slm/base.h"

/* ---- configuration (slm.yaml) --------------------------------------------- */

typedef struct slm_route_model {
    char *name;           /* what requests may name to bypass routing */
    bool local;           /* a GGUF run by the engine */
    char *path;           /* local: GGUF file or store name (NULL: the server's default model) */
    char *base_url;       /* remote: e.g. http://127.0.0.1:8081/v1 */
    char *api_key_env;    /* remote: environment variable holding the key (NULL: none) */
    char *upstream_model; /* remote: "model" sent upstream (default: name) */
    double timeout_s;     /* remote: whole-request timeout (default 60) */
    double price_in;      /* USD per million input tokens (local: energy/amortized, default 0) */
    double price_out;     /* USD per million output tokens */
    int64_t context;      /* context window in tokens (0: unknown = unlimited) */
    int line;             /* slm.yaml line, for messages */
} slm_route_model;

typedef struct slm_route_tier {
    char *name;
    bool on_prem;         /* may receive sensitive data (local tiers always may) */
    bool local;           /* every model in it is local */
    slm_route_model *models;
    int n_models;
} slm_route_tier;

/* A rule matches when every condition it sets holds; the first match wins. */
typedef struct slm_route_rule {
    char *name;
    char **tasks;          /* task kinds (NULL: any) */
    int n_tasks;
    int64_t min_prompt_tokens; /* > 0: matches prompts at least this long */
    bool exceeds_local_context; /* matches prompts longer than the local models' context */
    int sensitive;         /* -1: any, 0: only non-sensitive, 1: only sensitive */
    int tier;              /* target tier index */
    int line;
} slm_route_rule;

/* A named keyword/regex list that infers a task kind from the prompt. */
typedef struct slm_route_task_pattern {
    char *task;
    char *regex;           /* PCRE2, matched case-insensitively on user text */
    void *code;            /* compiled (pcre2_code *) */
} slm_route_task_pattern;

typedef struct slm_route_pii {
    bool email, phone, credit_card, iban, national_id;
    slm_route_task_pattern *custom; /* extra patterns: task = the pattern's name */
    int n_custom;
} slm_route_pii;

typedef enum slm_conf_combine {
    SLM_CONF_ANY = 0, /* escalate when any enabled signal fails (default) */
    SLM_CONF_ALL,     /* escalate only when every enabled signal fails */
    SLM_CONF_COUNT,   /* escalate when at least min_failures signals fail */
} slm_conf_combine;

typedef struct slm_route_confidence {
    bool enabled;
    /* Thresholds; a NaN disables a signal. */
    double min_mean_logprob;  /* mean chosen-token log-probability */
    double min_token_logprob; /* lowest chosen-token log-probability */
    double max_entropy;       /* mean entropy (nats) over the top-k distribution */
    bool require_complete;    /* constrained output (schema/grammar) must have completed */
    bool check_labels;        /* answer must be one of the request's label set */
    char *refusal_regex;      /* escalate when the answer matches (NULL: off) */
    void *refusal_code;       /* compiled */
    slm_conf_combine combine;
    int min_failures;
} slm_route_confidence;

typedef enum slm_stream_mode {
    SLM_STREAM_BUFFER = 0, /* buffer the local answer (up to stream_buffer_bytes) so it can be checked */
    SLM_STREAM_LOCAL_ONLY, /* stream local answers at once; no confidence check, no escalation */
} slm_stream_mode;

typedef struct slm_route_budget_key {
    char *key;             /* API key id (see slm_route_request.key_id) */
    double daily_usd, monthly_usd; /* <= 0: unlimited */
} slm_route_budget_key;

typedef struct slm_route_config {
    char *path;                  /* file it came from (NULL: built-in default) */
    char *router_name;           /* request "model" value that routes (default "auto") */
    slm_route_tier *tiers;       /* in escalation order: cheapest/closest first */
    int n_tiers;
    slm_route_rule *rules;
    int n_rules;
    int default_tier;            /* when no rule matches (default 0) */
    int64_t long_context_tokens; /* threshold used by the built-in long-context rule (128000) */
    double chars_per_token;      /* prompt token estimate for remote tiers (4) */
    slm_route_task_pattern *task_patterns;
    int n_task_patterns;
    slm_route_pii pii;
    slm_route_confidence confidence;
    slm_stream_mode stream_mode;
    int64_t stream_buffer_bytes; /* default 16384 */
    /* reliability */
    int retries;                 /* per model, after the first try (default 2) */
    double backoff_s, backoff_max_s; /* first retry delay, cap (0.2, 5) */
    int cooldown_failures;       /* consecutive failures that open the breaker (3) */
    double cooldown_s;           /* how long it stays open (30) */
    bool stream_usage;           /* ask upstreams for a usage chunk when streaming (true) */
    /* budgets (USD; <= 0: unlimited) */
    double daily_usd, monthly_usd;
    slm_route_budget_key *key_budgets;
    int n_key_budgets;
    bool over_budget_fail;       /* true: fail with 429; false: stay local (default) */
    /* ledger */
    char *ledger_path;           /* NULL: $SLM_HOME/ledger.db */
    bool log_content;            /* store prompts and answers in the ledger (off) */
    int ledger_queue_rows;       /* the ledger writer's queue (ledger: queue_rows; 0: 4096) */
    double ledger_flush_s;       /* longest a row waits to be written (ledger: flush_interval; 0: 0.02) */
    /* task classification by a local model (classifier:), for requests that
     * name no task; NULL model: off */
    char *classifier_model;      /* a local model's name */
    char **classifier_labels;    /* the task kinds it may answer */
    int n_classifier_labels;
    char *classifier_prompt;     /* instructions (NULL: built-in) */
} slm_route_config;

/* Parses and validates slm.yaml. Errors name the file, line and problem:
 * "slm.yaml:12: tier 'mid': model 'x': base_url is required". */
slm_status slm_route_config_load(const char *path, slm_route_config **out, slm_error *err);
/* Same, from a string (path is only used in messages). */
slm_status slm_route_config_parse(const char *text, size_t len, const char *path, slm_route_config **out,
                                  slm_error *err);
/* The no-config default: one local tier "local" with one model named
 * local_model (NULL: "local") and no rules. */
slm_status slm_route_config_default(const char *local_model, slm_route_config **out, slm_error *err);
void slm_route_config_free(slm_route_config *c);
/* Index of the tier with this name, or -1. */
int slm_route_tier_index(const slm_route_config *c, const char *name);
/* Finds a model by name across all tiers; false if none. */
bool slm_route_find_model(const slm_route_config *c, const char *name, int *tier, int *model);

/* ---- decisions ------------------------------------------------------------ */

/* Header lookup supplied by the caller (case-insensitive name); NULL: absent. */
typedef const char *(*slm_header_fn)(void *ctx, const char *name);
/* Counts a request's prompt tokens exactly (the local model's tokenizer and
 * chat template); < 0 when it cannot. */
typedef int64_t (*slm_token_count_fn)(void *ctx, const json_t *body);
/* Asks local model m to pick one of labels as the request's task kind (a
 * choice-constrained generation); instructions may be NULL. Writes the
 * label into out; false when it cannot (the router then infers the task). */
typedef bool (*slm_task_classify_fn)(void *ctx, const slm_route_model *m, const json_t *body,
                                     const char *const *labels, int n_labels, const char *instructions, char *out,
                                     size_t cap);

typedef struct slm_route_request {
    const json_t *body;          /* OpenAI chat completion request */
    slm_header_fn header;        /* may be NULL */
    void *header_ctx;
    const char *key_id;          /* caller's API key id for budgets/ledger (NULL: anonymous) */
    int64_t prompt_tokens;       /* exact count when known, else 0 (estimated from chars) */
    /* The caller sends a remote non-streaming answer on as the upstream's
     * bytes: it comes back in outcome->raw (response stays NULL), which
     * spares parsing and re-serialising it. false: always parsed. */
    bool raw_answer;
    /* Exact prompt tokens when prompt_tokens is 0: called only when the
     * count can change the decision (an upper bound on the prompt's tokens,
     * its bytes plus template allowance, reaches the smallest token
     * threshold of a rule or a context window); NULL or < 0: the estimate
     * from chars_per_token. */
    slm_token_count_fn count_tokens;
    void *count_ctx;
    /* Task classification when the config has a classifier and the request
     * names no task (x-slm-task, metadata.task); NULL: inferred as before. */
    slm_task_classify_fn classify;
    void *classify_ctx;
} slm_route_request;

#define SLM_ROUTE_MAX_PLAN 32

typedef struct slm_route_candidate {
    int tier, model;
} slm_route_candidate;

typedef struct slm_route_decision {
    bool routed;                 /* false: the request named a model directly (bypass) */
    char task[32];               /* task kind */
    char task_source[16];        /* "header", "metadata", "classifier", "inferred", "default" */
    bool sensitive;
    char sensitive_why[96];      /* "header", "metadata", "pii:email,iban", "" */
    int64_t prompt_tokens;       /* exact or estimated */
    int tier;                    /* the tier the rule chose (plan[0] may differ if skipped) */
    char rule[64];               /* rule name, "bypass" or "default" */
    char reason[256];            /* one line a person can read */
    slm_route_candidate plan[SLM_ROUTE_MAX_PLAN]; /* in order of attempts */
    int n_plan;
    char skipped[256];           /* tiers left out and why ("mid: sensitive; ...") */
    int http_status;             /* 0 when routable; else 400/403/404/429 with reason */
    bool prompt_exact;           /* prompt_tokens was counted, not estimated */
} slm_route_decision;

/* Decides without calling anything. Returns SLM_OK with http_status 0 and a
 * non-empty plan, or SLM_OK with http_status set (4xx) and reason filled when
 * no allowed tier can answer; an error status only for unusable input. */
slm_status slm_route_decide(const slm_route_config *c, const slm_route_request *req, slm_route_decision *d,
                            slm_error *err);
/* Budget-aware variant used by the router (remote tiers over budget are
 * left out, or the request fails, as configured). */
typedef struct slm_router slm_router;
slm_status slm_router_decide(slm_router *r, const slm_route_request *req, slm_route_decision *d, slm_error *err);

/* Task kind inference alone (no header/metadata): writes into task. */
void slm_route_infer_task(const slm_route_config *c, const json_t *body, char *task, size_t cap);

/* ---- PII ------------------------------------------------------------------ */

/* Bits of detected categories. */
enum {
    SLM_PII_EMAIL = 1u << 0,
    SLM_PII_PHONE = 1u << 1,
    SLM_PII_CARD = 1u << 2,
    SLM_PII_IBAN = 1u << 3,
    SLM_PII_NATIONAL_ID = 1u << 4,
    SLM_PII_CUSTOM = 1u << 5,
};
/* Scans text for the enabled categories; returns the bit set found. */
unsigned slm_pii_scan(const slm_route_pii *p, const char *text, size_t len);
/* Writes "email,iban" for a bit set. */
void slm_pii_names(unsigned bits, char *out, size_t cap);
bool slm_luhn_ok(const char *digits, size_t n);
bool slm_iban_ok(const char *s, size_t n); /* compact form, no spaces */

/* ---- confidence ------------------------------------------------------------ */

/* Signals from the engine about one answer; NaN = not measured. */
typedef struct slm_conf_signals {
    double mean_logprob, min_logprob, mean_entropy;
    int complete;                /* -1 unknown, 0 constrained output cut short, 1 complete */
    const char *text;            /* the answer (for label-set and refusal checks) */
    size_t text_len;
    const char *const *labels;   /* allowed label set (NULL: none) */
    int n_labels;
} slm_conf_signals;

typedef struct slm_conf_result {
    bool pass;
    int n_failed;
    char reason[160];            /* "mean_logprob -2.31 < -1.50; refusal" */
} slm_conf_result;

void slm_conf_signals_init(slm_conf_signals *s);
void slm_confidence_eval(const slm_route_confidence *c, const slm_conf_signals *s, slm_conf_result *out);
/* Label set a request implies: response_format json_schema with a top-level
 * string enum, or metadata.labels. Returns the count (<= cap) and pointers
 * into body. */
int slm_route_request_labels(const json_t *body, const char **labels, int cap);

/* ---- upstream client -------------------------------------------------------- */

/* Receives raw SSE bytes of a streaming 200 answer as they arrive. Return
 * false to abort (client went away). */
typedef bool (*slm_stream_fn)(void *ctx, const char *data, size_t len);

typedef struct slm_upstream_result {
    int http_status;             /* last status seen (0: no HTTP answer) */
    json_t *response;            /* non-streaming: parsed body (owned by the result) */
    int64_t tokens_in, tokens_out, tokens_cached;
    double latency_s, ttft_s;
    int attempts;                /* tries made (1 + retries) */
    bool streamed;               /* bytes were passed to the stream callback */
    char error[256];             /* why it failed ("" when ok) */
    char *raw;                   /* slm_upstream_chat_raw: the 200 body as received (owned) */
    size_t raw_len;
} slm_upstream_result;

void slm_upstream_result_free(slm_upstream_result *r);

/* Cooldown (circuit breaker) state for remote models: created by the router,
 * or standalone for tests. */
typedef struct slm_breaker slm_breaker;
slm_breaker *slm_breaker_new(int n_slots, int failures, double cooldown_s);
void slm_breaker_free(slm_breaker *b);
bool slm_breaker_allow(slm_breaker *b, int slot, double now_s);
void slm_breaker_report(slm_breaker *b, int slot, bool ok, double now_s);

/* One remote model, retried per c (retries, backoff) on 429/5xx/timeouts/
 * dropped connections. body is sent with "model" replaced by the model's
 * upstream name. stream_cb non-NULL and body "stream": true -> SSE bytes
 * are passed through; once any were passed, no retry is made. Returns SLM_OK
 * when the upstream answered 200; otherwise an error with res->error set. */
slm_status slm_upstream_chat(const slm_route_config *c, const slm_route_model *m, const json_t *body,
                             slm_stream_fn stream_cb, void *stream_ctx, slm_upstream_result *res, slm_error *err);
/* Same, but a non-streaming answer stays bytes (res->raw; response NULL):
 * only its top-level "usage" member is parsed, and the body is checked to
 * be one JSON object. */
slm_status slm_upstream_chat_raw(const slm_route_config *c, const slm_route_model *m, const json_t *body,
                                 slm_stream_fn stream_cb, void *stream_ctx, slm_upstream_result *res,
                                 slm_error *err);

/* ---- ledger ----------------------------------------------------------------- */

typedef struct slm_ledger slm_ledger;

typedef struct slm_ledger_row {
    double ts;                   /* unix seconds */
    const char *key_id, *task, *tier, *model, *rule;
    const char *tried;           /* "local/qwen:low confidence (mean_logprob ...) > mid/gpt:ok" */
    bool escalated;
    const char *escalation_reason;
    int64_t tokens_in, tokens_out, tokens_cached;
    double latency_ms, ttft_ms;
    double cost_usd;             /* everything this request cost (local energy + remote) */
    double remote_cost_usd;      /* the remote part (what budgets count) */
    double frontier_cost_usd;    /* the same tokens at the last tier's first model's prices */
    const char *confidence;      /* JSON of the signals (NULL: none) */
    bool sensitive;
    int status;                  /* HTTP status returned to the client */
    const char *error;
    const char *content;         /* only when log_content is on */
} slm_ledger_row;

/* Writes go through a writer thread so that a request never waits for
 * SQLite: rows are copied into a bounded queue and the writer inserts
 * everything queued in one transaction (WAL, synchronous=NORMAL) at most
 * flush_interval_s after the oldest queued row arrived, at once when a
 * caller waits (slm_ledger_record, slm_ledger_flush) or the queue is half
 * full, and before slm_ledger_close returns.
 *
 * Durability trade-off: a row is durable once its batch is committed. A
 * process killed with SIGKILL loses at most the rows queued in the last
 * flush interval (plus the batch being written); nothing committed is
 * lost (a power cut may also drop the last WAL transactions, as with
 * synchronous=NORMAL before). Rows are never dropped to save time: when
 * the queue is full, slm_ledger_enqueue waits for the writer. */
typedef struct slm_ledger_options {
    int queue_rows;           /* rows queued before enqueue waits (<= 0: 4096) */
    double flush_interval_s;  /* longest a row waits to be written (<= 0: 0.02) */
} slm_ledger_options;

/* Opens (creates) the ledger at path (NULL: $SLM_HOME/ledger.db, $SLM_HOME
 * default ~/.slm) in WAL mode and starts its writer thread (which blocks
 * every signal). opts NULL: the defaults. */
slm_status slm_ledger_open(const char *path, slm_ledger **out, slm_error *err);
slm_status slm_ledger_open_opts(const char *path, const slm_ledger_options *opts, slm_ledger **out,
                                slm_error *err);
/* Writes everything queued, stops the writer, closes the database. */
void slm_ledger_close(slm_ledger *l);
/* One row, committed when this returns SLM_OK (waits for the writer). */
slm_status slm_ledger_record(slm_ledger *l, const slm_ledger_row *row, slm_error *err);
/* One row queued for the writer (copied; row may be freed on return).
 * Returns as soon as it is queued, waiting only while the queue is full.
 * The router uses this on the request path. */
slm_status slm_ledger_enqueue(slm_ledger *l, const slm_ledger_row *row, slm_error *err);
/* Waits until every row queued before the call is written; reports the
 * last write failure among them, if any. */
slm_status slm_ledger_flush(slm_ledger *l, slm_error *err);
/* Rows since a unix time (0: all); queued rows are flushed first. */
slm_status slm_ledger_count(slm_ledger *l, double since, int64_t *n, slm_error *err);
/* Sum of remote_cost_usd since a time, optionally for one key (NULL: all). */
slm_status slm_ledger_spent(slm_ledger *l, double since, const char *key_id, double *usd, slm_error *err);

/* The `slm usage` report as JSON: per tier share of requests and tokens,
 * cost, all-frontier cost, escalation rate and reasons, p50/p95 latency. */
slm_status slm_usage_report(slm_ledger *l, double since, json_t **out, slm_error *err);
/* Parses "24h", "7d", "30m", "90s", "2025-01-31" or unix seconds into a unix
 * time (relative ones back from now). */
bool slm_usage_parse_since(const char *s, double now, double *out);

/* ---- the router ----------------------------------------------------------- */

/* What a local model produced, filled by the caller's local callback. */
typedef struct slm_local_answer {
    json_t *response;            /* chat.completion JSON (ownership passes to the router) */
    slm_conf_signals signals;    /* text may point into response */
    int64_t tokens_in, tokens_out, tokens_cached;
    double ttft_s;
    bool streamed;               /* already sent to the client (local-only stream or buffer overflow) */
    int http_status;             /* 200 on success */
    char error[256];
} slm_local_answer;

/* Runs a local model. may_stream: the answer may go straight to the client
 * (no escalation possible afterwards); buffer_bytes: when streaming is
 * requested and may_stream is false, how much to hold back before the
 * answer must be committed (set streamed = true when it was). */
typedef slm_status (*slm_local_fn)(void *ctx, const slm_route_model *m, const json_t *body, bool may_stream,
                                   int64_t buffer_bytes, slm_local_answer *out);

typedef struct slm_route_outcome {
    slm_route_decision decision;
    int http_status;             /* to return to the client */
    json_t *response;            /* non-streaming answer (owned; NULL when streamed or failed) */
    bool streamed;               /* the answer already went out through stream_cb / the local callback */
    const slm_route_model *model;/* that answered (NULL: none) */
    int tier;                    /* -1: none */
    bool escalated;
    char tried[512];
    char error[256];
    double cost_usd;
    char *raw;                   /* request raw_answer: a remote answer's bytes (owned; then response is NULL) */
    size_t raw_len;
} slm_route_outcome;

void slm_route_outcome_free(slm_route_outcome *o);

/* Takes ownership of cfg. ledger_path: NULL -> cfg->ledger_path or the
 * default; "" -> no ledger (tests, `route --explain`). */
slm_status slm_router_open(slm_route_config *cfg, const char *ledger_path, slm_router **out, slm_error *err);
void slm_router_close(slm_router *r);
const slm_route_config *slm_router_config(const slm_router *r);
/* Is this request for the router (model == router_name, or absent)? */
bool slm_router_wants(const slm_router *r, const json_t *body);

/* Decide, execute (local callback / upstreams with fallback, confidence
 * escalation), record in the ledger. Returns SLM_OK whenever an outcome was
 * produced (check outcome->http_status). */
slm_status slm_router_handle(slm_router *r, const slm_route_request *req, slm_local_fn local, void *local_ctx,
                             slm_stream_fn stream_cb, void *stream_ctx, slm_route_outcome *out, slm_error *err);

/* Remote spend so far (for tests and /metrics). */
void slm_router_spent(slm_router *r, const char *key_id, double *day_usd, double *month_usd);

#endif
