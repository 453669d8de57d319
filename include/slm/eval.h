/* slm eval: measure models, servers, slm.yaml tiers and the router on the
 * task itself, calibrate the router's confidence threshold, and grade
 * open-ended answers with a judge model whose trustworthiness is checked
 * against human grades (Cohen's kappa).
 *
 * A suite (YAML or JSONL file, or a promptfoo config's deterministic
 * subset) is a list of cases: chat messages, optional tools, tags, and the
 * checks that say what success means. A run sends every case to every
 * target (a local GGUF model through the engine, an OpenAI-compatible
 * URL through libcurl, a tier of slm.yaml, or `auto`: the router in this
 * process), applies the checks, and appends one result per
 * (target, case) to a JSONL file so an interrupted run resumes where it
 * stopped. Metrics (success %, exact match %, schema validity %,
 * executable-call rate %, latency/TTFT percentiles, tokens/s, cost) are
 * computed per target and per tag; reports are built from one JSON
 * document (slm_eval_report_json) so text, HTML and diff work the same on
 * a fresh run and on a saved report.
 *
 * Native suite format (YAML; JSONL = one case object per line):
 *
 *   name: ticket-triage
 *   defaults: {system: "...", max_tokens: 8, tools: [...], tags: [t]}
 *   cases:
 *     - id: t1
 *       prompt: "Classify: {{ticket}}"     (or messages: [{role, content}])
 *       vars: {ticket: "My card was charged twice"}
 *       tags: [billing]
 *       metadata: {labels: [billing, tech]}  (sent as-is; the router reads it)
 *       human_grade: pass                  (judge-check; with output: "...")
 *       expect:
 *         label: billing                   (exact / normalized / label /
 *         json / is_json / schema / tool_call {name, arguments | arguments_schema}
 *         / tools_valid / contains / icontains / not_contains / regex
 *         / max_latency_ms / max_cost / rubric (graded by the judge: -j
 *         TARGET or a top-level `judge:`); contains-like keys take a string
 *         or a list; normalize: [case, space, punct] tunes exact)
 */
#ifndef SLM_EVAL_H
#define SLM_EVAL_H

#include <jansson.h>
#include <stdio.h>

#include "slm/base.h"
#include "slm/router.h"

/* ---- suites ---------------------------------------------------------- */

typedef enum slm_eval_check_kind {
    SLM_CHECK_EXACT,       /* output == value (after `norm`) */
    SLM_CHECK_NORMALIZED,  /* exact with case/space/punct normalization */
    SLM_CHECK_LABEL,       /* normalized, and the first line is the label */
    SLM_CHECK_JSON_VALUE,  /* output parses as JSON equal to `json` */
    SLM_CHECK_IS_JSON,     /* output parses as JSON */
    SLM_CHECK_JSON_SCHEMA, /* output parses as JSON valid under `json` */
    SLM_CHECK_TOOL_CALL,   /* a call named `value`, args == json or valid under json_schema */
    SLM_CHECK_TOOLS_VALID, /* every call names a declared tool with valid args (>= 1 call) */
    SLM_CHECK_CONTAINS,
    SLM_CHECK_ICONTAINS,
    SLM_CHECK_REGEX,       /* PCRE2 search anywhere in the output */
    SLM_CHECK_LATENCY,     /* latency <= number (milliseconds) */
    SLM_CHECK_COST,        /* cost <= number (USD) */
    SLM_CHECK_RUBRIC,      /* graded by the judge model against `value` (see judge) */
} slm_eval_check_kind;

enum {
    SLM_NORM_CASE = 1,  /* compare lower-cased (ASCII) */
    SLM_NORM_SPACE = 2, /* trim, collapse runs of white space */
    SLM_NORM_PUNCT = 4, /* drop leading/trailing punctuation and quotes */
    SLM_NORM_ALL = 7,
};

typedef struct slm_eval_check {
    slm_eval_check_kind kind;
    bool negate;        /* promptfoo not-*: pass when the check fails */
    unsigned norm;      /* SLM_NORM_* for exact/normalized/label */
    char *value;        /* text, label, regex, tool name */
    json_t *json;       /* expected JSON value / schema / tool arguments */
    json_t *json_schema;/* tool_call: schema the arguments must satisfy */
    double number;      /* latency ms / cost USD */
    int line;           /* source line (0 unknown) */
} slm_eval_check;

/* A grade: pass/fail and a 1-5 score, from a judge or a person. */
typedef struct slm_eval_grade {
    bool set;     /* false: no grade (zeroed) */
    bool pass;
    int8_t score; /* 0: none, else 1..5 */
} slm_eval_grade;

typedef struct slm_eval_case {
    char *id;
    json_t *messages;   /* array of {role, content} after templating */
    json_t *tools;      /* OpenAI tools array or NULL */
    json_t *tags;       /* array of strings (never NULL) */
    slm_eval_check *checks;
    size_t n_checks;
    int32_t max_tokens; /* <= 0: the run's default */
    int line;
    const char *rubric;   /* the rubric check's text (borrowed from checks) or NULL */
    slm_eval_grade human; /* `human_grade:` pass|fail|true|false|1-5|{pass, score} */
    char *graded_output;  /* `output:` the answer the person graded (judge-check) */
    json_t *metadata;     /* `metadata:` sent with the request (routers read task,
                             sensitive, labels from it), or NULL */
    json_t *response_format; /* OpenAI response_format for the request, or NULL
                                (set on judge requests; local targets compile it) */
} slm_eval_case;

typedef struct slm_eval_suite {
    char *name;
    char *path;
    slm_eval_case *cases;
    size_t n_cases;
    char **targets;     /* promptfoo providers usable as targets */
    size_t n_targets;
    char *judge;        /* `judge:` target spec for rubric cases, or NULL */
} slm_eval_suite;

/* Loads a suite: a .jsonl file holds native cases one per line; .yaml,
 * .yml and .json files a native document, or a promptfoo config when it has `tests` and
 * `prompts`. Errors name file:line. */
slm_status slm_eval_suite_load(const char *path, slm_eval_suite **out, slm_error *err);
/* The same from memory; `name` is used in messages and as the path. */
slm_status slm_eval_suite_parse(const char *text, size_t len, const char *name, slm_eval_suite **out,
                                slm_error *err);
void slm_eval_suite_free(slm_eval_suite *s);

/* ---- checks ---------------------------------------------------------- */

/* One target's answer to one case. tool_calls: OpenAI form
 * [{type:"function", function:{name, arguments (JSON text)}}] or NULL;
 * when NULL, tool-call checks look for calls written in the text
 * ({"name":..,"arguments":..} alone, in ``` fences or <tool_call> tags). */
typedef struct slm_eval_output {
    const char *text;
    size_t len;
    const json_t *tool_calls;
    double latency_s;
    double cost;
} slm_eval_output;

typedef struct slm_eval_verdict {
    bool pass;
    int8_t exact;        /* -1: no exact-type check; else 0/1 */
    int8_t schema_valid; /* -1: no schema check */
    int8_t call_exec;    /* -1: no tool-call check */
    char why[512];       /* first failure, empty when pass */
} slm_eval_verdict;

/* Applies every check of the case (all must pass). Returns an error only
 * for a broken check (bad regex, unsupported schema keyword); the verdict
 * then fails with the reason too. */
slm_status slm_eval_check_case(const slm_eval_case *c, const slm_eval_output *o, slm_eval_verdict *v,
                               slm_error *err);
/* Schema validation used by the checks: the value is re-serialised in the
 * schema's property order and fed byte by byte to the grammar engine's
 * JSON Schema matcher (include/slm/grammar.h), so eval and constrained
 * decoding agree on what "valid" means. Keywords the grammar engine does
 * not support give SLM_ERR_UNSUPPORTED. */
slm_status slm_eval_schema_valid(const json_t *schema, const json_t *value, bool *valid, slm_error *err);
/* Extracts tool calls from free text (see slm_eval_output); a new array
 * in OpenAI form, possibly empty. */
json_t *slm_eval_tool_calls_from_text(const char *text, size_t len);

/* ---- results and metrics --------------------------------------------- */

typedef struct slm_eval_result {
    char *target;
    char *case_id;
    json_t *tags;       /* array of strings */
    char *input;        /* the case's last user message (for reports), or NULL */
    char *output;
    json_t *tool_calls; /* NULL when none */
    char *error;        /* the request failed (counts as a failure); NULL if answered */
    char *why;          /* failed check, NULL on success */
    bool success;
    int8_t exact, schema_valid, call_exec; /* as in slm_eval_verdict */
    char *tier;         /* router tier that answered (auto / x-slm-tier), NULL: unknown */
    int8_t escalated;   /* -1: unknown, else 0/1 */
    bool has_conf;      /* confidence signals of the answer were measured */
    double mean_logprob, min_logprob, mean_entropy; /* NaN: not measured */
    slm_eval_grade judge; /* rubric grade from the judge (set false: none) */
    char *judge_why;    /* the judge's reason, or why grading failed */
    double latency_s, ttft_s;              /* ttft 0: unknown */
    int32_t n_prompt, n_gen;
    double cost;
} slm_eval_result;

void slm_eval_result_clear(slm_eval_result *r);
json_t *slm_eval_result_to_json(const slm_eval_result *r);
slm_status slm_eval_result_from_json(const json_t *j, slm_eval_result *r, slm_error *err);

typedef struct slm_eval_metrics {
    size_t n, n_success, n_error;
    size_t n_exact, n_exact_ok, n_schema, n_schema_ok, n_call, n_call_ok;
    double success_pct, exact_pct, schema_pct, call_pct; /* NaN: nothing measured */
    /* Over answered cases only (errors have no latency); seconds; NaN if none. */
    double lat_p50, lat_p95, lat_p99, ttft_p50, ttft_p95, ttft_p99;
    double tokens_per_s;     /* sum n_gen / sum decode time (latency - ttft) */
    double cost;             /* total USD */
    double cost_per_success; /* cost / n_success; NaN when no success */
    size_t n_routed;         /* results whose tier is known (auto targets) */
    size_t n_escalated;      /* of those, answered after escalation */
    double escalation_pct;   /* n_escalated / n_routed; NaN when nothing routed */
} slm_eval_metrics;

/* Per tier share of the results of `target` (NULL: all): an object
 * {TIER: {n, share_pct, success_pct}} over all n results (failed requests
 * with no tier count under "(failed)"), in first-seen order. NULL when no
 * result of the target names a tier (not a routed target). */
json_t *slm_eval_tier_shares(const slm_eval_result *rs, size_t n, const char *target, slm_error *err);

/* Percentile p in [0,100] with linear interpolation between closest ranks
 * (numpy's default). Sorts v in place. NaN when n == 0. */
double slm_eval_percentile(double *v, size_t n, double p);
/* Metrics over the results whose target equals `target` (NULL: all) and
 * that carry tag `tag` (NULL: all). */
slm_status slm_eval_metrics_compute(const slm_eval_result *rs, size_t n, const char *target, const char *tag,
                                    slm_eval_metrics *m, slm_error *err);

/* ---- calibration ----------------------------------------------------- */

/* Router threshold sweep. Per case: the local model's confidence, whether
 * the local answer succeeded, whether the escalated (frontier) answer
 * succeeded. A threshold t keeps a case local when confidence >= t. */
typedef struct slm_calib_point {
    double threshold;
    double local_share; /* fraction of cases kept local */
    double success;     /* fraction successful under this threshold */
} slm_calib_point;

typedef struct slm_calib_result {
    slm_calib_point *curve; /* thresholds ascending; last is +inf (all escalated) */
    size_t n_curve;
    double frontier_success; /* success with every case escalated */
    double target;           /* required fraction of frontier_success */
    size_t chosen;           /* index into curve: most local share meeting the target */
} slm_calib_result;

slm_status slm_eval_calibrate(const double *confidence, const bool *local_ok, const bool *frontier_ok, size_t n,
                              double target, slm_calib_result *out, slm_error *err);
void slm_calib_result_free(slm_calib_result *r);

/* The router's numeric confidence signals, as the results carry them. */
typedef enum slm_calib_signal {
    SLM_CALIB_MEAN_LOGPROB = 0, /* slm.yaml confidence.min_mean_logprob (keep local when >=) */
    SLM_CALIB_MIN_LOGPROB,      /* confidence.min_token_logprob (keep local when >=) */
    SLM_CALIB_ENTROPY,          /* confidence.max_entropy (keep local when <=) */
    SLM_CALIB_N_SIGNALS,
} slm_calib_signal;

/* The slm.yaml key under `confidence:` of a signal, and its report name. */
const char *slm_calib_signal_key(slm_calib_signal s);
const char *slm_calib_signal_name(slm_calib_signal s);

typedef struct slm_calib_choice {
    slm_calib_signal signal;
    slm_calib_result curve; /* thresholds in the signal's own units; for entropy
                               a point's threshold is the max kept local (curve
                               then descends in threshold; +inf stays "all escalated") */
    double value;           /* the threshold to write: between the chosen point's
                               confidence and the next lower one, so no case moves */
    size_t n_cases;         /* cases present on both targets */
    char note[256];         /* caveat for the user ("" when none) */
} slm_calib_choice;

/* Calibration over a run: for each case answered by both `local` and
 * `frontier` (target labels), the local result's signal (results without
 * a measured signal make this an error naming the case; a failed local
 * request counts as least confident), local success and frontier success
 * feed slm_eval_calibrate. signal < 0 sweeps every signal and keeps the
 * one whose chosen point keeps the most traffic local (ties: higher
 * success, then the list order). */
slm_status slm_eval_calibrate_run(const slm_eval_result *rs, size_t n, const char *local, const char *frontier,
                                  double target, int signal, slm_calib_choice *out, slm_error *err);
void slm_calib_choice_free(slm_calib_choice *c);
/* report.calibration: {local, frontier, signal, key, value, target,
 * frontier_success, n_cases, chosen, note, curve:[{threshold, local_share,
 * success}]} (threshold null for "escalate everything"). */
json_t *slm_calib_choice_json(const slm_calib_choice *c, const char *local, const char *frontier);
/* The curve as a text table with the chosen row marked. */
void slm_eval_calibration_text(const json_t *calibration, FILE *f);

/* Writes `key: value` under the top-level `confidence:` mapping of the
 * slm.yaml at path, changing only that line (indentation and a trailing
 * comment kept) or adding the key (or the section) when absent; every
 * other byte stays. Refuses (SLM_ERR_UNSUPPORTED, file untouched) when the
 * section is a flow mapping, uses anchors/aliases/tags, or the key's value
 * spans lines; the new text must load with slm_route_config_parse and
 * carry the value, then replaces the file atomically (temp file + rename,
 * mode kept). */
slm_status slm_eval_config_set_confidence(const char *path, const char *key, double value, slm_error *err);
/* The same edit on text in memory (*out malloc'ed); no loading check. */
slm_status slm_eval_yaml_set_confidence(const char *text, size_t len, const char *key, const char *value, char **out,
                                        slm_error *err);

/* ---- judge ------------------------------------------------------------- */

/* The chat messages a judge gets for one rubric case. */
json_t *slm_eval_judge_messages(const char *rubric, const char *input, const char *output);
/* The JSON Schema a judge's answer is constrained by:
 * {"pass": boolean, "score": 1..5, "reason": string}, no other keys. */
json_t *slm_eval_grade_schema(void);
/* Strict parse of a judge answer: the whole text (white space around
 * allowed) is one JSON object with pass (bool), score (integer 1-5) and
 * optionally reason (string), nothing else. reason may be NULL. */
slm_status slm_eval_grade_parse(const char *text, size_t len, slm_eval_grade *g, char *reason, size_t cap,
                                slm_error *err);
/* A human grade from a suite value: pass/fail, true/false, an integer
 * 1-5 (score; pass = score >= 3) or {pass, score}. */
slm_status slm_eval_grade_from_json(const json_t *v, slm_eval_grade *g, slm_error *err);

/* Cohen's kappa between two raters over k categories; a[i], b[i] in
 * [0, k). confusion (k*k, may be NULL) counts rows = a, columns = b.
 * kappa = (po - pe) / (1 - pe); when pe == 1 (one category only) kappa is
 * 1 if po == 1 else 0. */
slm_status slm_eval_kappa(const int *a, const int *b, size_t n, int k, double *kappa, double *agreement,
                          size_t *confusion, slm_error *err);

/* ---- running --------------------------------------------------------- */

typedef enum slm_eval_target_kind {
    SLM_TARGET_LOCAL,  /* a GGUF model run by the engine in this process */
    SLM_TARGET_URL,    /* an OpenAI-compatible endpoint */
    SLM_TARGET_ROUTER, /* the router of an slm.yaml, in this process (`auto`) */
} slm_eval_target_kind;

typedef struct slm_eval_target {
    slm_eval_target_kind kind;
    char *label;    /* name in reports (default: the spec) */
    char *location; /* GGUF path, base URL (…/v1 or the server root), or slm.yaml (router) */
    char *model;    /* URL targets: "model" field (default "default") */
    double price_in, price_out; /* USD per million tokens (0: free) */
    char *api_key_env; /* URL targets: variable holding the Bearer token (NULL: the run's key) */
    bool logprobs;  /* URL targets: ask for token log-probabilities (confidence signals) */
} slm_eval_target;

/* "[LABEL=]LOCATION[,model=M][,price=IN/OUT]"; LOCATION starting with
 * http:// or https:// is a URL target, anything else a model file. */
slm_status slm_eval_target_parse(const char *spec, slm_eval_target *t, slm_error *err);
void slm_eval_target_clear(slm_eval_target *t);
/* Resolves a parsed spec against slm.yaml (config_path): LOCATION equal to
 * the router's name ("auto") becomes a ROUTER target on that file; equal to
 * a tier name, that tier's first model (local: its path, NULL path ->
 * default_model; remote: base_url, upstream model, prices, api_key_env).
 * Anything else is left as it is. The label stays the spec's. */
slm_status slm_eval_target_from_config(slm_eval_target *t, const slm_route_config *c, const char *config_path,
                                       const char *default_model, slm_error *err);
typedef struct slm_eval_progress {
    size_t done, total, failed;
    double elapsed_s, eta_s; /* eta NaN until something finished */
} slm_eval_progress;

typedef struct slm_eval_run_opts {
    int concurrency;          /* URL targets: requests in flight (<= 0: 4) */
    int n_threads;            /* local engine threads (<= 0: all) */
    int32_t max_tokens;       /* default per case (<= 0: 256) */
    double temperature;       /* default 0 (greedy) */
    double timeout_s;         /* per request (<= 0: 120) */
    const char *results_path; /* JSONL to append to and resume from; NULL: none */
    const char *api_key;      /* Bearer token for URL targets or NULL */
    const char *default_model;/* router targets: GGUF for local tier models without a path */
    const slm_eval_target *judge; /* grades rubric cases (NULL: they fail as ungraded) */
    void (*on_progress)(const slm_eval_progress *p, void *user);
    void *user;
} slm_eval_run_opts;

typedef struct slm_eval_run {
    char *suite_name, *suite_path;
    char **targets; /* labels, in -t order */
    size_t n_targets;
    slm_eval_result *results; /* grouped by target, in case order */
    size_t n_results;
    size_t n_resumed;         /* results taken from the results file */
    double wall_s;
} slm_eval_run;

/* Runs every case on every target. A target that cannot be reached at all
 * (model fails to load) is an error; failed requests are failed results. */
slm_status slm_eval_run_suite(const slm_eval_suite *s, const slm_eval_target *targets, size_t n_targets,
                              const slm_eval_run_opts *o, slm_eval_run **out, slm_error *err);
void slm_eval_run_free(slm_eval_run *r);

/* judge-check: the judge grades every case that has a rubric, a human
 * grade and the graded `output`, and its grades are compared with the
 * human ones: {judge, n_cases, n_graded, n_failed (judge errors), pass:
 * {agreement, kappa, confusion: [[hp&jp, hp&jf], [hf&jp, hf&jf]]}, score
 * (when both gave scores): {n, agreement, kappa, confusion 5x5}, trusted
 * (kappa >= min_kappa), cases: [{case, human, judge, reason}]}. Cases the
 * judge failed to grade are listed and left out of the statistics. */
slm_status slm_eval_judge_check(const slm_eval_suite *s, const slm_eval_target *judge, const slm_eval_run_opts *o,
                                double min_kappa, json_t **out, slm_error *err);
void slm_eval_judge_check_text(const json_t *report, FILE *f);

/* ---- reports --------------------------------------------------------- */

/* The report document: {format:"slm-eval/1", suite, path, wall_s,
 * targets:[{target, metrics, tags:{TAG: metrics}}], results:[...]}.
 * Metrics with NaN are written as null. */
json_t *slm_eval_report_json(const slm_eval_run *r, slm_error *err);
/* A report back into results (for diff/html from saved files). */
slm_status slm_eval_report_load(const char *path, json_t **out, slm_error *err);
/* Terminal table: one row per target, then per tag, then failed cases (up to max_failures). */
void slm_eval_report_text(const json_t *report, FILE *f, size_t max_failures);
/* Self-contained HTML (inline CSS and SVG, no scripts from the network). */
slm_status slm_eval_report_html(const json_t *report, FILE *f, slm_error *err);
/* Compares B against A (per target present in both): success, exact,
 * schema, call rates and p95 latency, plus cases that went from pass to
 * fail. *regressions counts metrics that dropped by more than tol_pct
 * points and cases that newly fail. */
slm_status slm_eval_diff(const json_t *a, const json_t *b, double tol_pct, FILE *f, size_t *regressions,
                         slm_error *err);

#endif
