/* Internals shared by the eval files: YAML/JSON documents with source
 * line numbers, a growable string buffer, small JSON helpers. */
#ifndef SLM_EVAL_INTERNAL_H
#define SLM_EVAL_INTERNAL_H

#include <stdarg.h>

#include "slm/eval.h"

/* A parsed document and where each of its containers started: lines[i] is
 * the 1-based line of node nodes[i] (objects and arrays only). */
typedef struct ev_doc {
    json_t *root;
    const json_t **nodes;
    int *lines;
    size_t n, cap;
    const char *name; /* file name for messages (borrowed) */
} ev_doc;

/* YAML (one document) -> JSON with lines. Plain scalars become null, bool,
 * integer or real as YAML 1.2's core schema says; quoted ones strings. */
slm_status ev_yaml_parse(const char *text, size_t len, const char *name, ev_doc *d, slm_error *err);
/* JSON text -> document (lines of containers are not tracked: 0, except
 * the whole document's line `line`). */
slm_status ev_json_parse(const char *text, size_t len, const char *name, int line, ev_doc *d, slm_error *err);
void ev_doc_free(ev_doc *d);
int ev_doc_line(const ev_doc *d, const json_t *node);
bool ev_doc_note(ev_doc *d, const json_t *node, int line);

/* Suites from a parsed document (suite.c / suite_promptfoo.c). */
slm_status ev_suite_native(ev_doc *d, slm_eval_suite *s, slm_error *err);
slm_status ev_suite_promptfoo(ev_doc *d, slm_eval_suite *s, slm_error *err);
/* One native case object with defaults applied. */
slm_status ev_case_native(ev_doc *d, const json_t *c, const json_t *defaults, size_t index, slm_eval_case *out,
                          slm_error *err);
void ev_case_clear(slm_eval_case *c);
void ev_check_clear(slm_eval_check *c);
/* Appends a zeroed check to the case; NULL on allocation failure. */
slm_eval_check *ev_case_add_check(slm_eval_case *c);

/* {{ name }} substitution from vars (strings as-is, other values as
 * compact JSON). An unknown variable or a filter is an error. */
slm_status ev_template(const char *tpl, const json_t *vars, char **out, slm_error *err);
/* Applies ev_template to every string in messages (a deep copy). */
slm_status ev_template_json(const json_t *in, const json_t *vars, json_t **out, slm_error *err);

/* Growable NUL-terminated buffer; ok goes false on allocation failure. */
typedef struct ev_buf {
    char *p;
    size_t len, cap;
    bool ok;
} ev_buf;
void ev_buf_put(ev_buf *b, const char *s, size_t n);
void ev_buf_puts(ev_buf *b, const char *s);
void ev_buf_printf(ev_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ev_buf_free(ev_buf *b);

char *ev_strdup(const char *s);
char *ev_strndup(const char *s, size_t n);
/* Output text -> JSON: the whole text, else the inside of a ``` fence,
 * else the first {...} or [...] span that parses. NULL when none. */
json_t *ev_parse_json_loose(const char *text, size_t len);
/* Numeric-tolerant deep equality (1 == 1.0; object key order ignored). */
bool ev_json_equal(const json_t *a, const json_t *b);
/* HTML escaping into a buffer. */
void ev_html_escape(ev_buf *b, const char *s);
/* A double as JSON (null when NaN or infinite). */
json_t *ev_json_num(double v);
double ev_num(const json_t *o, const char *key);

/* One target's raw answer to one case (runner.c, target_*.c). */
typedef struct ev_answer {
    ev_buf text;
    json_t *tool_calls; /* OpenAI form or NULL */
    char *error;        /* request failed: why (malloc'ed) */
    double latency_s, ttft_s, cost;
    int32_t n_prompt, n_gen;
    char tier[64];      /* router tier that answered ("" unknown) */
    bool escalated;
    /* confidence signals from token log-probabilities (n_lp 0: none) */
    double sum_lp, min_lp, sum_ent;
    int64_t n_lp, n_ent;
} ev_answer;
/* Adds one generated token's log-probability and its top alternatives'
 * (entropy over the renormalised top-k, as the server's router does). */
void ev_answer_add_logprob(ev_answer *a, double lp, const double *top, int n_top);
void ev_answer_clear(ev_answer *a);
void ev_answer_fail(ev_answer *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

typedef struct ev_local ev_local;
slm_status ev_local_open(const char *path, int n_threads, ev_local **out, slm_error *err);
void ev_local_close(ev_local *l);
/* Generates an answer (never fails as a whole: errors land in a->error). */
void ev_local_answer(ev_local *l, const slm_eval_case *c, const slm_eval_run_opts *o, ev_answer *a);
/* POSTs the case to the target's chat completions endpoint (streaming). */
void ev_http_answer(const slm_eval_target *t, const slm_eval_case *c, const slm_eval_run_opts *o, ev_answer *a);
/* Router targets: the slm.yaml router in this process (target_router.c). */
typedef struct ev_router ev_router;
slm_status ev_router_open(const slm_eval_target *t, const slm_eval_run_opts *o, ev_router **out, slm_error *err);
void ev_router_close(ev_router *r);
/* Thread-safe: local models are run one request at a time under a lock. */
void ev_router_answer(ev_router *r, const slm_eval_case *c, const slm_eval_run_opts *o, ev_answer *a);
/* Judge requests (judge.c): grades a result in place. */
void ev_judge_grade(const slm_eval_target *judge, ev_local *local_judge, const slm_eval_case *c,
                    const slm_eval_run_opts *o, slm_eval_result *r);
/* Reads x-slm-tier / x-slm-escalated from one header line into a. */
void ev_http_header_line(const char *line, size_t len, ev_answer *a);
/* Reads {"choices":[{"message":...}], "usage":...} or an SSE stream body
 * collected so far into a; exposed for tests. */
void ev_http_parse_body(const char *body, size_t len, ev_answer *a);

#endif
