/* The confidence check on a local answer. Each enabled signal (mean and
 * minimum token log-probability, mean entropy, constrained output completed,
 * answer inside the label set, refusal pattern) either passes or fails; the
 * configured rule (any / all / count) turns the failures into escalate or
 * pass. The reason lists each failed signal with its value and threshold so
 * the ledger says why a request escalated. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "router/router_internal.h"

void slm_conf_signals_init(slm_conf_signals *s) {
    memset(s, 0, sizeof *s);
    s->mean_logprob = s->min_logprob = s->mean_entropy = NAN;
    s->complete = -1;
}

static void add_reason(slm_conf_result *r, const char *what) {
    r->n_failed++;
    size_t at = strlen(r->reason);
    if (at < sizeof r->reason - 1) snprintf(r->reason + at, sizeof r->reason - at, "%s%s", at ? "; " : "", what);
}

static void add_value(slm_conf_result *r, const char *name, double v, const char *op, double limit) {
    char buf[96];
    snprintf(buf, sizeof buf, "%s %.3f %s %.3f", name, v, op, limit);
    add_reason(r, buf);
}

/* Trims surrounding whitespace, quotes and a final period. */
static void trim_answer(const char **s, size_t *n) {
    while (*n && strchr(" \t\r\n\"'`", (*s)[0])) (*s)++, (*n)--;
    while (*n && strchr(" \t\r\n\"'`.", (*s)[*n - 1])) (*n)--;
}

static bool in_labels(const slm_conf_signals *s) {
    const char *t = s->text;
    size_t n = s->text_len;
    trim_answer(&t, &n);
    for (int i = 0; i < s->n_labels; i++)
        if (s->labels[i] && strlen(s->labels[i]) == n && !strncasecmp(s->labels[i], t, n)) return true;
    return false;
}

void slm_confidence_eval(const slm_route_confidence *c, const slm_conf_signals *s, slm_conf_result *out) {
    memset(out, 0, sizeof *out);
    int n_enabled = 0;
    if (!isnan(c->min_mean_logprob) && !isnan(s->mean_logprob)) {
        n_enabled++;
        if (s->mean_logprob < c->min_mean_logprob)
            add_value(out, "mean_logprob", s->mean_logprob, "<", c->min_mean_logprob);
    }
    if (!isnan(c->min_token_logprob) && !isnan(s->min_logprob)) {
        n_enabled++;
        if (s->min_logprob < c->min_token_logprob)
            add_value(out, "min_logprob", s->min_logprob, "<", c->min_token_logprob);
    }
    if (!isnan(c->max_entropy) && !isnan(s->mean_entropy)) {
        n_enabled++;
        if (s->mean_entropy > c->max_entropy)
            add_value(out, "entropy", s->mean_entropy, ">", c->max_entropy);
    }
    if (c->require_complete && s->complete >= 0) {
        n_enabled++;
        if (s->complete == 0) add_reason(out, "constrained output incomplete");
    }
    if (c->check_labels && s->n_labels > 0 && s->text) {
        n_enabled++;
        if (!in_labels(s)) add_reason(out, "answer outside the label set");
    }
    if (c->refusal_code && s->text) {
        n_enabled++;
        if (rt_regex_match(c->refusal_code, s->text, s->text_len)) add_reason(out, "refusal");
    }
    bool escalate;
    switch (c->combine) {
    case SLM_CONF_ALL: escalate = n_enabled > 0 && out->n_failed == n_enabled; break;
    case SLM_CONF_COUNT: escalate = out->n_failed >= (c->min_failures > 0 ? c->min_failures : 1); break;
    default: escalate = out->n_failed > 0; break;
    }
    out->pass = !c->enabled || !escalate;
}

/* Labels a request implies: metadata.labels, or a json_schema response
 * format whose schema is a string enum (possibly under one property). */
int slm_route_request_labels(const json_t *body, const char **labels, int cap) {
    const json_t *arr = json_object_get(json_object_get(body, "metadata"), "labels");
    if (!json_is_array(arr)) {
        const json_t *schema = json_object_get(json_object_get(json_object_get(body, "response_format"),
                                                               "json_schema"), "schema");
        arr = json_object_get(schema, "enum");
    }
    int n = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
        if (n < cap && json_is_string(v)) labels[n++] = json_string_value(v);
    }
    return n;
}
