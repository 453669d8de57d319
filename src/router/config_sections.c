/* slm.yaml sections other than tiers/rules: router, tasks, sensitivity,
 * confidence, reliability, budgets, ledger, classifier. Each is a mapping; unknown keys
 * are errors (a typo must not silently change routing). */
#include "router/config_yaml.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Y_MAP_LOOP(y, n, what)                                  \
    slm_status st = y_want_map(y, n, what);                     \
    if (st) return st;                                          \
    Y_FOREACH_PAIR(n, p)

static slm_status regex_field(ycx *y, yaml_node_t *v, const char *what, char **src, void **code) {
    slm_status st = y_str(y, v, what, src);
    if (st) return st;
    char why[320];
    rt_regex_free(*code);
    *code = rt_regex_compile(*src, true, why, sizeof why);
    return *code ? SLM_OK : y_fail(y, v, "%s: %s", what, why);
}

slm_status y_router(ycx *y, const yaml_node_t *n, slm_route_config *c) {
    Y_MAP_LOOP(y, n, "router") {
        const char *k = y_key(y, p);
        yaml_node_t *v = y_node(y, p->value);
        if (!k) return y_fail(y, n, "router keys must be strings");
        if (!strcmp(k, "name")) st = y_str(y, v, "router name", &c->router_name);
        else if (!strcmp(k, "default_tier")) {
            char *t = NULL;
            if (!(st = y_str(y, v, k, &t)) && (c->default_tier = slm_route_tier_index(c, t)) < 0)
                st = y_fail(y, v, "default_tier '%s' is not defined under tiers", t);
            free(t);
        } else if (!strcmp(k, "long_context_tokens")) st = y_int(y, v, k, 1, (int64_t)1 << 40, &c->long_context_tokens);
        else if (!strcmp(k, "chars_per_token")) st = y_num(y, v, k, 0.5, 64, &c->chars_per_token);
        else if (!strcmp(k, "stream_buffer_bytes")) st = y_int(y, v, k, 0, (int64_t)1 << 30, &c->stream_buffer_bytes);
        else if (!strcmp(k, "stream_usage")) st = y_bool(y, v, k, &c->stream_usage);
        else if (!strcmp(k, "stream")) {
            char *s = NULL;
            if (!(st = y_str(y, v, k, &s))) {
                if (!strcmp(s, "buffer")) c->stream_mode = SLM_STREAM_BUFFER;
                else if (!strcmp(s, "local_only")) c->stream_mode = SLM_STREAM_LOCAL_ONLY;
                else st = y_fail(y, v, "stream must be 'buffer' or 'local_only', not '%s'", s);
            }
            free(s);
        } else st = y_fail(y, v, "unknown router key '%s'", k);
        if (st) return st;
    }
    return SLM_OK;
}

/* tasks: { classify: ["classify", "categori[sz]e"], code: [...] } */
slm_status y_tasks(ycx *y, const yaml_node_t *n, slm_route_config *c) {
    slm_status st = y_want_map(y, n, "tasks");
    if (st) return st;
    size_t count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    c->task_patterns = calloc(count + 1, sizeof *c->task_patterns);
    if (!c->task_patterns) return slm_error_set(y->err, SLM_ERR_NOMEM, "out of memory");
    Y_FOREACH_PAIR(n, p) {
        const char *k = y_key(y, p);
        yaml_node_t *v = y_node(y, p->value);
        if (!k || !*k || strlen(k) >= 32) return y_fail(y, v, "task names must be 1-31 characters");
        char **pats = NULL;
        int np = 0;
        st = y_strs(y, v, "task patterns", &pats, &np);
        /* one alternation per task: (?:a)|(?:b) */
        size_t len = 1;
        for (int i = 0; i < np; i++) len += strlen(pats[i]) + 6;
        char *joined = st == SLM_OK ? calloc(1, len) : NULL;
        for (int i = 0; joined && i < np; i++) {
            if (i) strcat(joined, "|");
            strcat(joined, "(?:");
            strcat(joined, pats[i]);
            strcat(joined, ")");
        }
        for (int i = 0; pats && i < np; i++) free(pats[i]);
        free(pats);
        if (st) return st;
        if (!joined) return slm_error_set(y->err, SLM_ERR_NOMEM, "out of memory");
        slm_route_task_pattern *tp = &c->task_patterns[c->n_task_patterns++];
        tp->task = strdup(k);
        tp->regex = joined;
        char why[320];
        if (!(tp->code = rt_regex_compile(joined, true, why, sizeof why)))
            return y_fail(y, v, "task '%s': %s", k, why);
    }
    return SLM_OK;
}

static slm_status pii_detect(ycx *y, yaml_node_t *v, slm_route_pii *pii) {
    char **names = NULL;
    int nn = 0;
    slm_status st = y_strs(y, v, "detect", &names, &nn);
    pii->email = pii->phone = pii->credit_card = pii->iban = pii->national_id = false;
    for (int i = 0; st == SLM_OK && i < nn; i++) {
        const char *s = names[i];
        if (!strcmp(s, "email")) pii->email = true;
        else if (!strcmp(s, "phone")) pii->phone = true;
        else if (!strcmp(s, "credit_card")) pii->credit_card = true;
        else if (!strcmp(s, "iban")) pii->iban = true;
        else if (!strcmp(s, "national_id")) pii->national_id = true;
        else st = y_fail(y, v, "unknown detector '%s' (email, phone, credit_card, iban, national_id)", s);
    }
    for (int i = 0; names && i < nn; i++) free(names[i]);
    free(names);
    return st;
}

/* patterns: [{name: employee_id, regex: "EMP-[0-9]{6}"}] */
static slm_status pii_patterns(ycx *y, yaml_node_t *v, slm_route_pii *pii) {
    slm_status st = y_want_seq(y, v, "patterns");
    if (st) return st;
    size_t count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    pii->custom = calloc(count + 1, sizeof *pii->custom);
    if (!pii->custom) return slm_error_set(y->err, SLM_ERR_NOMEM, "out of memory");
    Y_FOREACH_ITEM(v, it) {
        yaml_node_t *pn = y_node(y, *it);
        if ((st = y_want_map(y, pn, "a pattern"))) return st;
        slm_route_task_pattern *tp = &pii->custom[pii->n_custom++];
        Y_FOREACH_PAIR(pn, p) {
            const char *k = y_key(y, p);
            yaml_node_t *pv = y_node(y, p->value);
            if (k && !strcmp(k, "name")) st = y_str(y, pv, "pattern name", &tp->task);
            else if (k && !strcmp(k, "regex")) st = regex_field(y, pv, "regex", &tp->regex, &tp->code);
            else st = y_fail(y, pv, "unknown pattern key '%s' (name, regex)", k ? k : "?");
            if (st) return st;
        }
        if (!tp->code) return y_fail(y, pn, "a pattern needs a regex");
    }
    return SLM_OK;
}

slm_status y_sensitivity(ycx *y, const yaml_node_t *n, slm_route_config *c) {
    Y_MAP_LOOP(y, n, "sensitivity") {
        const char *k = y_key(y, p);
        yaml_node_t *v = y_node(y, p->value);
        if (!k) return y_fail(y, n, "sensitivity keys must be strings");
        if (!strcmp(k, "detect")) st = pii_detect(y, v, &c->pii);
        else if (!strcmp(k, "patterns")) st = pii_patterns(y, v, &c->pii);
        else st = y_fail(y, v, "unknown sensitivity key '%s' (detect, patterns)", k);
        if (st) return st;
    }
    return SLM_OK;
}

static slm_status combine_field(ycx *y, yaml_node_t *v, slm_route_confidence *cf) {
    char *s = NULL;
    slm_status st = y_str(y, v, "combine", &s);
    if (!st) {
        if (!strcmp(s, "any")) cf->combine = SLM_CONF_ANY;
        else if (!strcmp(s, "all")) cf->combine = SLM_CONF_ALL;
        else if (!strcmp(s, "count")) cf->combine = SLM_CONF_COUNT;
        else st = y_fail(y, v, "combine must be any, all or count, not '%s'", s);
    }
    free(s);
    return st;
}

slm_status y_confidence(ycx *y, const yaml_node_t *n, slm_route_config *c) {
    slm_route_confidence *cf = &c->confidence;
    cf->enabled = true;
    Y_MAP_LOOP(y, n, "confidence") {
        const char *k = y_key(y, p);
        yaml_node_t *v = y_node(y, p->value);
        if (!k) return y_fail(y, n, "confidence keys must be strings");
        if (!strcmp(k, "enabled")) st = y_bool(y, v, k, &cf->enabled);
        else if (!strcmp(k, "min_mean_logprob")) st = y_num(y, v, k, -1e6, 0, &cf->min_mean_logprob);
        else if (!strcmp(k, "min_token_logprob")) st = y_num(y, v, k, -1e6, 0, &cf->min_token_logprob);
        else if (!strcmp(k, "max_entropy")) st = y_num(y, v, k, 0, 1e6, &cf->max_entropy);
        else if (!strcmp(k, "require_complete")) st = y_bool(y, v, k, &cf->require_complete);
        else if (!strcmp(k, "check_labels")) st = y_bool(y, v, k, &cf->check_labels);
        else if (!strcmp(k, "refusal_regex")) st = regex_field(y, v, k, &cf->refusal_regex, &cf->refusal_code);
        else if (!strcmp(k, "combine")) st = combine_field(y, v, cf);
        else if (!strcmp(k, "min_failures")) {
            int64_t m = 1;
            st = y_int(y, v, k, 1, 16, &m);
            cf->min_failures = (int)m;
        } else st = y_fail(y, v, "unknown confidence key '%s'", k);
        if (st) return st;
    }
    return SLM_OK;
}

slm_status y_reliability(ycx *y, const yaml_node_t *n, slm_route_config *c) {
    Y_MAP_LOOP(y, n, "reliability") {
        const char *k = y_key(y, p);
        yaml_node_t *v = y_node(y, p->value);
        int64_t i = 0;
        if (!k) return y_fail(y, n, "reliability keys must be strings");
        if (!strcmp(k, "retries")) {
            if (!(st = y_int(y, v, k, 0, 20, &i))) c->retries = (int)i;
        } else if (!strcmp(k, "backoff")) st = y_num(y, v, k, 0, 600, &c->backoff_s);
        else if (!strcmp(k, "backoff_max")) st = y_num(y, v, k, 0, 3600, &c->backoff_max_s);
        else if (!strcmp(k, "cooldown_failures")) {
            if (!(st = y_int(y, v, k, 1, 1000, &i))) c->cooldown_failures = (int)i;
        } else if (!strcmp(k, "cooldown")) st = y_num(y, v, k, 0, 86400, &c->cooldown_s);
        else st = y_fail(y, v, "unknown reliability key '%s'", k);
        if (st) return st;
    }
    return SLM_OK;
}

static slm_status key_budgets(ycx *y, yaml_node_t *v, slm_route_config *c) {
    slm_status st = y_want_seq(y, v, "per_key");
    if (st) return st;
    size_t count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    c->key_budgets = calloc(count + 1, sizeof *c->key_budgets);
    if (!c->key_budgets) return slm_error_set(y->err, SLM_ERR_NOMEM, "out of memory");
    Y_FOREACH_ITEM(v, it) {
        yaml_node_t *kn = y_node(y, *it);
        if ((st = y_want_map(y, kn, "a per_key budget"))) return st;
        slm_route_budget_key *b = &c->key_budgets[c->n_key_budgets++];
        Y_FOREACH_PAIR(kn, p) {
            const char *k = y_key(y, p);
            yaml_node_t *pv = y_node(y, p->value);
            if (k && !strcmp(k, "key")) st = y_str(y, pv, k, &b->key);
            else if (k && !strcmp(k, "daily_usd")) st = y_num(y, pv, k, 0, 1e12, &b->daily_usd);
            else if (k && !strcmp(k, "monthly_usd")) st = y_num(y, pv, k, 0, 1e12, &b->monthly_usd);
            else st = y_fail(y, pv, "unknown per_key key '%s' (key, daily_usd, monthly_usd)", k ? k : "?");
            if (st) return st;
        }
        if (!b->key) return y_fail(y, kn, "a per_key budget needs a key");
    }
    return SLM_OK;
}

slm_status y_budgets(ycx *y, const yaml_node_t *n, slm_route_config *c) {
    Y_MAP_LOOP(y, n, "budgets") {
        const char *k = y_key(y, p);
        yaml_node_t *v = y_node(y, p->value);
        if (!k) return y_fail(y, n, "budgets keys must be strings");
        if (!strcmp(k, "daily_usd")) st = y_num(y, v, k, 0, 1e12, &c->daily_usd);
        else if (!strcmp(k, "monthly_usd")) st = y_num(y, v, k, 0, 1e12, &c->monthly_usd);
        else if (!strcmp(k, "per_key")) st = key_budgets(y, v, c);
        else if (!strcmp(k, "on_exceeded")) {
            char *s = NULL;
            if (!(st = y_str(y, v, k, &s))) {
                if (!strcmp(s, "local")) c->over_budget_fail = false;
                else if (!strcmp(s, "fail")) c->over_budget_fail = true;
                else st = y_fail(y, v, "on_exceeded must be 'local' or 'fail', not '%s'", s);
            }
            free(s);
        } else st = y_fail(y, v, "unknown budgets key '%s'", k);
        if (st) return st;
    }
    return SLM_OK;
}

slm_status y_ledger(ycx *y, const yaml_node_t *n, slm_route_config *c) {
    Y_MAP_LOOP(y, n, "ledger") {
        const char *k = y_key(y, p);
        yaml_node_t *v = y_node(y, p->value);
        if (!k) return y_fail(y, n, "ledger keys must be strings");
        if (!strcmp(k, "path")) st = y_str(y, v, k, &c->ledger_path);
        else if (!strcmp(k, "log_content")) st = y_bool(y, v, k, &c->log_content);
        else if (!strcmp(k, "flush_interval")) st = y_num(y, v, k, 0.001, 10, &c->ledger_flush_s);
        else if (!strcmp(k, "queue_rows")) {
            int64_t q = 0;
            st = y_int(y, v, k, 1, 1 << 20, &q);
            c->ledger_queue_rows = (int)q;
        } else st = y_fail(y, v, "unknown ledger key '%s' (path, log_content, flush_interval, queue_rows)", k);
        if (st) return st;
    }
    return SLM_OK;
}

/* classifier: {model: NAME, labels: [classify, code, ...], prompt: "..."}:
 * the local model that picks a task kind for requests that name none. */
slm_status y_classifier(ycx *y, const yaml_node_t *n, slm_route_config *c) {
    Y_MAP_LOOP(y, n, "classifier") {
        const char *k = y_key(y, p);
        yaml_node_t *v = y_node(y, p->value);
        if (!k) return y_fail(y, n, "classifier keys must be strings");
        if (!strcmp(k, "model")) st = y_str(y, v, k, &c->classifier_model);
        else if (!strcmp(k, "labels")) st = y_strs(y, v, k, &c->classifier_labels, &c->n_classifier_labels);
        else if (!strcmp(k, "prompt")) st = y_str(y, v, k, &c->classifier_prompt);
        else st = y_fail(y, v, "unknown classifier key '%s' (model, labels, prompt)", k);
        if (st) return st;
    }
    int t, m;
    if (!c->classifier_model) return y_fail(y, n, "classifier: model is required");
    if (!slm_route_find_model(c, c->classifier_model, &t, &m) || !c->tiers[t].models[m].local)
        return y_fail(y, n, "classifier: model '%s' is not a local model under tiers", c->classifier_model);
    if (c->n_classifier_labels < 2 || c->n_classifier_labels > 64)
        return y_fail(y, n, "classifier: labels must list 2 to 64 task kinds");
    for (int i = 0; i < c->n_classifier_labels; i++) {
        const char *l = c->classifier_labels[i];
        size_t len = strlen(l);
        bool ok = len > 0 && len < 32;
        for (size_t j = 0; ok && j < len; j++)
            ok = (l[j] >= 'a' && l[j] <= 'z') || (l[j] >= 'A' && l[j] <= 'Z') || (l[j] >= '0' && l[j] <= '9') ||
                 l[j] == '_' || l[j] == '-';
        if (!ok) return y_fail(y, n, "classifier: label '%s' must be 1-31 letters, digits, '_' or '-'", l);
    }
    return SLM_OK;
}
