/* One (target, case) result and its JSON form, the line format of the
 * results JSONL file (resume) and of the report's results list. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

void slm_eval_result_clear(slm_eval_result *r) {
    free(r->target);
    free(r->case_id);
    json_decref(r->tags);
    free(r->input);
    free(r->output);
    json_decref(r->tool_calls);
    free(r->error);
    free(r->why);
    free(r->tier);
    free(r->judge_why);
    memset(r, 0, sizeof *r);
}

static json_t *rate_json(int8_t v) { return v < 0 ? json_null() : json_boolean(v > 0); }

json_t *slm_eval_result_to_json(const slm_eval_result *r) {
    json_t *o = json_object();
    if (!o) return NULL;
    json_object_set_new(o, "target", json_string(r->target ? r->target : ""));
    json_object_set_new(o, "case", json_string(r->case_id ? r->case_id : ""));
    json_object_set_new(o, "tags", r->tags ? json_incref(r->tags) : json_array());
    json_object_set_new(o, "success", json_boolean(r->success));
    json_object_set_new(o, "exact", rate_json(r->exact));
    json_object_set_new(o, "schema_valid", rate_json(r->schema_valid));
    json_object_set_new(o, "call_exec", rate_json(r->call_exec));
    if (r->input) json_object_set_new(o, "input", json_string(r->input));
    /* json_stringn rejects invalid UTF-8 (a cut-off multi-byte piece): keep a marker then. */
    json_t *out = r->output ? json_string(r->output) : json_null();
    json_object_set_new(o, "output", out ? out : json_string("(output is not valid UTF-8)"));
    if (r->tool_calls) json_object_set_new(o, "tool_calls", json_incref(r->tool_calls));
    json_object_set_new(o, "error", r->error ? json_string(r->error) : json_null());
    json_object_set_new(o, "why", r->why ? json_string(r->why) : json_null());
    json_object_set_new(o, "latency_s", ev_json_num(r->latency_s));
    json_object_set_new(o, "ttft_s", ev_json_num(r->ttft_s));
    json_object_set_new(o, "prompt_tokens", json_integer(r->n_prompt));
    json_object_set_new(o, "completion_tokens", json_integer(r->n_gen));
    json_object_set_new(o, "cost", ev_json_num(r->cost));
    if (r->tier) json_object_set_new(o, "tier", json_string(r->tier));
    if (r->tier) json_object_set_new(o, "escalated", rate_json(r->escalated));
    if (r->has_conf)
        json_object_set_new(o, "confidence",
                            json_pack("{s:o,s:o,s:o}", "mean_logprob", ev_json_num(r->mean_logprob), "min_logprob",
                                      ev_json_num(r->min_logprob), "mean_entropy", ev_json_num(r->mean_entropy)));
    if (r->judge.set || r->judge_why) {
        json_t *g = json_object();
        json_object_set_new(g, "pass", r->judge.set ? json_boolean(r->judge.pass) : json_null());
        json_object_set_new(g, "score", r->judge.score ? json_integer(r->judge.score) : json_null());
        if (r->judge_why) json_object_set_new(g, "reason", json_string(r->judge_why));
        json_object_set_new(o, "judge", g);
    }
    return o;
}

static int8_t rate_from(const json_t *v) { return json_is_boolean(v) ? (int8_t)json_is_true(v) : -1; }

static char *str_or_null(const json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? ev_strdup(s) : NULL;
}

static double num0(const json_t *o, const char *k) {
    double v = ev_num(o, k);
    return isfinite(v) ? v : 0.0;
}

slm_status slm_eval_result_from_json(const json_t *j, slm_eval_result *r, slm_error *err) {
    memset(r, 0, sizeof *r);
    const char *target = json_string_value(json_object_get(j, "target"));
    const char *id = json_string_value(json_object_get(j, "case"));
    if (!json_is_object(j) || !target || !id || !json_is_boolean(json_object_get(j, "success")))
        return slm_error_set(err, SLM_ERR_FORMAT, "result: needs target, case and success");
    r->target = ev_strdup(target);
    r->case_id = ev_strdup(id);
    json_t *tags = json_object_get(j, "tags");
    r->tags = json_is_array(tags) ? json_incref(tags) : json_array();
    r->success = json_is_true(json_object_get(j, "success"));
    r->exact = rate_from(json_object_get(j, "exact"));
    r->schema_valid = rate_from(json_object_get(j, "schema_valid"));
    r->call_exec = rate_from(json_object_get(j, "call_exec"));
    r->input = str_or_null(j, "input");
    r->output = str_or_null(j, "output");
    json_t *tc = json_object_get(j, "tool_calls");
    r->tool_calls = json_is_array(tc) ? json_incref(tc) : NULL;
    r->error = str_or_null(j, "error");
    r->why = str_or_null(j, "why");
    r->latency_s = num0(j, "latency_s");
    r->ttft_s = num0(j, "ttft_s");
    double np = num0(j, "prompt_tokens"), ng = num0(j, "completion_tokens");
    r->n_prompt = np > 0 && np < INT32_MAX ? (int32_t)np : 0;
    r->n_gen = ng > 0 && ng < INT32_MAX ? (int32_t)ng : 0;
    r->cost = num0(j, "cost");
    r->tier = str_or_null(j, "tier");
    r->escalated = rate_from(json_object_get(j, "escalated"));
    const json_t *conf = json_object_get(j, "confidence");
    r->has_conf = json_is_object(conf);
    r->mean_logprob = ev_num(conf, "mean_logprob");
    r->min_logprob = ev_num(conf, "min_logprob");
    r->mean_entropy = ev_num(conf, "mean_entropy");
    const json_t *g = json_object_get(j, "judge");
    r->judge.set = json_is_boolean(json_object_get(g, "pass"));
    r->judge.pass = json_is_true(json_object_get(g, "pass"));
    double sc = ev_num(g, "score");
    r->judge.score = sc >= 1 && sc <= 5 ? (int8_t)sc : 0;
    r->judge_why = str_or_null(g, "reason");
    if (!r->target || !r->case_id) {
        slm_eval_result_clear(r);
        return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    }
    return SLM_OK;
}
