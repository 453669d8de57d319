/* The routing policy: task kind, sensitivity and prompt size of a request,
 * the first matching rule, and the plan (ordered model candidates) that
 * the router executes. Nothing here calls a model or the network, so
 * `slm route --explain` shows exactly what serving would do.
 *
 * Plan: the chosen tier's models, then every later tier's (escalation and
 * fallback order). Models a request may not use are left out with a
 * reason: remote models for sensitive requests (unless their tier is
 * on_prem), remote models when over budget, models whose context window
 * the prompt exceeds. If that leaves nothing, earlier tiers are tried in
 * reverse (a sensitive open-ended request is answered locally rather than
 * refused); if still nothing, the request fails with a 4xx. */
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "router/router_internal.h"

static bool truthy(const char *s) {
    return s && (!strcasecmp(s, "1") || !strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"));
}

static bool json_truthy(const json_t *v) { return json_is_true(v) || truthy(json_string_value(v)); }

static const char *header(const slm_route_request *r, const char *name) {
    return r->header ? r->header(r->header_ctx, name) : NULL;
}

static bool task_name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n >= 32) return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-') return false;
    return true;
}

/* Last user message text, for keyword inference. */
typedef struct last_user {
    const char *text;
    size_t len;
} last_user;

static void keep_last_user(void *ctx, const char *role, const char *text, size_t len) {
    if (strcmp(role, "user")) return;
    ((last_user *)ctx)->text = text;
    ((last_user *)ctx)->len = len;
}

void slm_route_infer_task(const slm_route_config *c, const json_t *body, char *task, size_t cap) {
    const json_t *rf = json_object_get(body, "response_format");
    const char *rf_type = json_string_value(json_object_get(rf, "type"));
    const char *labels[1];
    if (slm_route_request_labels(body, labels, 1) > 0) {
        snprintf(task, cap, "classify");
        return;
    }
    if (rf_type && (!strcmp(rf_type, "json_schema") || !strcmp(rf_type, "json_object"))) {
        snprintf(task, cap, "extract");
        return;
    }
    if (json_array_size(json_object_get(body, "tools")) > 0) {
        snprintf(task, cap, "tool_use");
        return;
    }
    last_user lu = {0};
    rt_request_texts(body, keep_last_user, &lu);
    for (int i = 0; lu.text && i < c->n_task_patterns; i++)
        if (rt_regex_match(c->task_patterns[i].code, lu.text, lu.len)) {
            snprintf(task, cap, "%s", c->task_patterns[i].task);
            return;
        }
    snprintf(task, cap, "chat");
}

/* The configured classifier (a local model choosing among labels); false
 * when there is none, the caller cannot run it, or it answered off-list. */
static bool classify(const slm_route_config *c, const slm_route_request *r, slm_route_decision *d) {
    int t, m;
    if (!c->classifier_model || !r->classify || !slm_route_find_model(c, c->classifier_model, &t, &m)) return false;
    char out[32] = "";
    if (!r->classify(r->classify_ctx, &c->tiers[t].models[m], r->body, (const char *const *)c->classifier_labels,
                     c->n_classifier_labels, c->classifier_prompt, out, sizeof out))
        return false;
    for (int i = 0; i < c->n_classifier_labels; i++)
        if (!strcmp(out, c->classifier_labels[i])) {
            snprintf(d->task, sizeof d->task, "%s", out);
            snprintf(d->task_source, sizeof d->task_source, "classifier");
            return true;
        }
    return false;
}

static void task_kind(const slm_route_config *c, const slm_route_request *r, slm_route_decision *d) {
    const char *h = header(r, "x-slm-task");
    const char *m = json_string_value(json_object_get(json_object_get(r->body, "metadata"), "task"));
    if (h && task_name_ok(h)) {
        snprintf(d->task, sizeof d->task, "%s", h);
        snprintf(d->task_source, sizeof d->task_source, "header");
    } else if (m && task_name_ok(m)) {
        snprintf(d->task, sizeof d->task, "%s", m);
        snprintf(d->task_source, sizeof d->task_source, "metadata");
    } else if (!classify(c, r, d)) {
        slm_route_infer_task(c, r->body, d->task, sizeof d->task);
        snprintf(d->task_source, sizeof d->task_source, "inferred");
    }
}

typedef struct pii_acc {
    const slm_route_pii *pii;
    unsigned found;
} pii_acc;

static void scan_text(void *ctx, const char *role, const char *text, size_t len) {
    (void)role;
    pii_acc *a = ctx;
    a->found |= slm_pii_scan(a->pii, text, len);
}

static void sensitivity(const slm_route_config *c, const slm_route_request *r, slm_route_decision *d) {
    if (truthy(header(r, "x-slm-sensitive"))) {
        d->sensitive = true;
        snprintf(d->sensitive_why, sizeof d->sensitive_why, "header");
        return;
    }
    if (json_truthy(json_object_get(json_object_get(r->body, "metadata"), "sensitive"))) {
        d->sensitive = true;
        snprintf(d->sensitive_why, sizeof d->sensitive_why, "metadata");
        return;
    }
    pii_acc a = {.pii = &c->pii};
    rt_request_texts(r->body, scan_text, &a);
    if (a.found) {
        char names[80];
        slm_pii_names(a.found, names, sizeof names);
        d->sensitive = true;
        snprintf(d->sensitive_why, sizeof d->sensitive_why, "pii:%s", names);
    }
}

/* Largest context among local models (0: none known). */
static int64_t local_context(const slm_route_config *c) {
    int64_t best = 0;
    for (int t = 0; t < c->n_tiers; t++)
        for (int m = 0; m < c->tiers[t].n_models; m++)
            if (c->tiers[t].models[m].local && c->tiers[t].models[m].context > best) best = c->tiers[t].models[m].context;
    return best;
}

static bool rule_matches(const slm_route_config *c, const slm_route_rule *r, const slm_route_decision *d) {
    if (r->sensitive >= 0 && (bool)r->sensitive != d->sensitive) return false;
    if (r->min_prompt_tokens > 0 && d->prompt_tokens < r->min_prompt_tokens) return false;
    if (r->exceeds_local_context) {
        int64_t lc = local_context(c);
        if (lc <= 0 || d->prompt_tokens <= lc) return false;
    }
    if (r->n_tasks > 0) {
        bool any = false;
        for (int i = 0; i < r->n_tasks && !any; i++) any = !strcmp(r->tasks[i], d->task);
        if (!any) return false;
    }
    return true;
}

/* Why model m may not serve this request, or NULL. */
static const char *excluded(const slm_route_tier *t, const slm_route_model *m, const slm_route_decision *d,
                            bool budget_ok) {
    if (!m->local && d->sensitive && !t->on_prem) return "sensitive";
    if (!m->local && !budget_ok) return "over budget";
    if (m->context > 0 && d->prompt_tokens > m->context) return "prompt exceeds context";
    return NULL;
}

typedef struct plan_why {
    bool sensitive, budget, context;
} plan_why;

static void note_skip(slm_route_decision *d, const char *tier, const char *why, plan_why *w) {
    w->sensitive |= !strcmp(why, "sensitive");
    w->budget |= !strcmp(why, "over budget");
    w->context |= !strcmp(why, "prompt exceeds context");
    char item[96];
    snprintf(item, sizeof item, "%s%s: %s", d->skipped[0] ? "; " : "", tier, why);
    if (strstr(d->skipped, item + (d->skipped[0] ? 2 : 0))) return; /* once per tier and reason */
    size_t at = strlen(d->skipped);
    snprintf(d->skipped + at, sizeof d->skipped - at, "%s", item);
}

static void add_tier(const slm_route_config *c, int t, bool budget_ok, slm_route_decision *d, plan_why *w) {
    const slm_route_tier *tier = &c->tiers[t];
    for (int m = 0; m < tier->n_models && d->n_plan < SLM_ROUTE_MAX_PLAN; m++) {
        const char *why = excluded(tier, &tier->models[m], d, budget_ok);
        if (why) note_skip(d, tier->name, why, w);
        else d->plan[d->n_plan++] = (slm_route_candidate){t, m};
    }
}

static void fail_plan(slm_route_decision *d, const plan_why *w) {
    if (w->sensitive) {
        d->http_status = 403;
        snprintf(d->reason, sizeof d->reason,
                 "sensitive request (%s): no local or on-prem model can answer it, so it was not sent out",
                 d->sensitive_why);
    } else if (w->budget) {
        d->http_status = 429;
        snprintf(d->reason, sizeof d->reason, "budget exceeded: remote tiers are off until the budget resets");
    } else {
        d->http_status = 400;
        snprintf(d->reason, sizeof d->reason, "prompt of about %lld tokens fits no configured model's context",
                 (long long)d->prompt_tokens);
    }
}

static void build_plan(const slm_route_config *c, bool budget_ok, slm_route_decision *d) {
    plan_why w = {0};
    if (!budget_ok && c->over_budget_fail && !c->tiers[d->tier].local) {
        w.budget = true;
        fail_plan(d, &w);
        return;
    }
    for (int t = d->tier; t < c->n_tiers; t++) add_tier(c, t, budget_ok, d, &w);
    for (int t = d->tier - 1; d->n_plan == 0 && t >= 0; t--) add_tier(c, t, budget_ok, d, &w);
    if (d->n_plan == 0) fail_plan(d, &w);
}

static void bypass(const slm_route_config *c, int t, int m, bool budget_ok, slm_route_decision *d) {
    plan_why w = {0};
    const char *why = excluded(&c->tiers[t], &c->tiers[t].models[m], d, budget_ok);
    d->tier = t;
    snprintf(d->rule, sizeof d->rule, "bypass");
    if (why) {
        note_skip(d, c->tiers[t].name, why, &w);
        fail_plan(d, &w);
        return;
    }
    d->plan[d->n_plan++] = (slm_route_candidate){t, m};
    snprintf(d->reason, sizeof d->reason, "request named model '%s' (tier %s): routing bypassed",
             c->tiers[t].models[m].name, c->tiers[t].name);
}

/* The smallest token count a rule or a context window compares the prompt
 * against (INT64_MAX: none). */
static int64_t token_threshold(const slm_route_config *c) {
    int64_t t = INT64_MAX;
    for (int i = 0; i < c->n_rules; i++) {
        const slm_route_rule *r = &c->rules[i];
        if (r->min_prompt_tokens > 0 && r->min_prompt_tokens < t) t = r->min_prompt_tokens;
        int64_t lc = r->exceeds_local_context ? local_context(c) : 0;
        if (lc > 0 && lc < t) t = lc;
    }
    for (int k = 0; k < c->n_tiers; k++)
        for (int m = 0; m < c->tiers[k].n_models; m++)
            if (c->tiers[k].models[m].context > 0 && c->tiers[k].models[m].context < t) t = c->tiers[k].models[m].context;
    return t;
}

/* More tokens than any tokenizer makes of this request: at most one per
 * byte of text and tool definitions, plus what a chat template adds around
 * each message and in front (generous: a template's fixed text). */
static int64_t token_bound(const json_t *body) {
    size_t tools = 0;
    const json_t *t = json_object_get(body, "tools");
    if (json_array_size(t)) {
        char *s = json_dumps(t, JSON_COMPACT);
        tools = s ? strlen(s) : 0;
        free(s);
    }
    size_t n_msgs = json_array_size(json_object_get(body, "messages"));
    return (int64_t)(rt_request_chars(body) + tools + 32 * n_msgs + 1024);
}

static int64_t prompt_tokens(const slm_route_config *c, const slm_route_request *req, bool *exact) {
    *exact = req->prompt_tokens > 0;
    if (*exact) return req->prompt_tokens;
    if (req->count_tokens && token_bound(req->body) >= token_threshold(c)) {
        int64_t n = req->count_tokens(req->count_ctx, req->body);
        if (n >= 0) return *exact = true, n;
    }
    double cpt = c->chars_per_token > 0 ? c->chars_per_token : 4;
    return (int64_t)ceil((double)rt_request_chars(req->body) / cpt);
}

slm_status rt_decide(const slm_route_config *c, const slm_route_request *req, bool budget_ok,
                     slm_route_decision *d, slm_error *err) {
    memset(d, 0, sizeof *d);
    if (!req || !json_is_object(req->body))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "route: the request body must be a JSON object");
    task_kind(c, req, d);
    sensitivity(c, req, d);
    d->prompt_tokens = prompt_tokens(c, req, &d->prompt_exact);
    const char *model = json_string_value(json_object_get(req->body, "model"));
    int t, m;
    if (model && strcmp(model, c->router_name) && slm_route_find_model(c, model, &t, &m)) {
        bypass(c, t, m, budget_ok, d);
        return SLM_OK;
    }
    d->routed = true;
    d->tier = c->default_tier;
    snprintf(d->rule, sizeof d->rule, "default");
    for (int i = 0; i < c->n_rules; i++)
        if (rule_matches(c, &c->rules[i], d)) {
            d->tier = c->rules[i].tier;
            snprintf(d->rule, sizeof d->rule, "%s", c->rules[i].name);
            break;
        }
    build_plan(c, budget_ok, d);
    if (d->http_status) return SLM_OK;
    const slm_route_candidate *first = &d->plan[0];
    rt_fmt(d->reason, sizeof d->reason, "task %s (%s), %s%lld prompt tokens%s%s: rule %s -> tier %s; first: %s/%s",
             d->task, d->task_source, d->prompt_exact ? "" : "~", (long long)d->prompt_tokens, d->sensitive ? ", sensitive " : "",
             d->sensitive ? d->sensitive_why : "", d->rule, c->tiers[d->tier].name, c->tiers[first->tier].name,
             c->tiers[first->tier].models[first->model].name);
    return SLM_OK;
}

slm_status slm_route_decide(const slm_route_config *c, const slm_route_request *req, slm_route_decision *d,
                            slm_error *err) {
    return rt_decide(c, req, true, d, err);
}
