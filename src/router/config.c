/* slm.yaml: load, validate, defaults, free. The file is parsed into a
 * libyaml document (so every node keeps its line), then each top-level
 * section is read by its own function (config_tiers.c, config_sections.c)
 * into a slm_route_config. Tiers are read first so that rules, the router's
 * default_tier and budgets can refer to them by name. */
#include "router/config_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONFIG_BYTES (4u << 20)

/* Built-in task patterns, used when slm.yaml has no "tasks" section. Order
 * matters: the first match names the task. */
static const char *const DEFAULT_TASKS[][2] = {
    {"classify", "\\b(classify|categori[sz]e|label (this|the|each)|which category|sentiment of)\\b"},
    {"extract", "\\b(extract|pull out the|list all the (names|dates|amounts))\\b"},
    {"summarize", "\\b(summari[sz]e|summary|tl;?dr)\\b"},
    {"route", "\\b(triage|route this|which (team|department|queue))\\b"},
    {"code", "```|\\b(python|javascript|typescript|rust|sql|function|stack trace|compile error|refactor)\\b"},
    {"open_ended", "\\b(essay|story|poem|brainstorm|in depth|in detail|write an? (article|blog|report|plan)|"
                   "strategy|pros and cons)\\b"},
};

void rt_config_defaults(slm_route_config *c) {
    memset(c, 0, sizeof *c);
    c->long_context_tokens = 128000;
    c->chars_per_token = 4;
    c->stream_mode = SLM_STREAM_BUFFER;
    c->stream_buffer_bytes = 16384;
    c->retries = 2;
    c->backoff_s = 0.2;
    c->backoff_max_s = 5;
    c->cooldown_failures = 3;
    c->cooldown_s = 30;
    c->stream_usage = true;
    c->pii = (slm_route_pii){.email = true, .phone = true, .credit_card = true, .iban = true, .national_id = true};
    c->confidence.min_mean_logprob = NAN;
    c->confidence.min_token_logprob = NAN;
    c->confidence.max_entropy = NAN;
    c->confidence.min_failures = 1;
}

static slm_status default_patterns(slm_route_config *c, slm_error *err) {
    size_t n = sizeof DEFAULT_TASKS / sizeof DEFAULT_TASKS[0];
    c->task_patterns = calloc(n, sizeof *c->task_patterns);
    if (!c->task_patterns) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        slm_route_task_pattern *tp = &c->task_patterns[c->n_task_patterns++];
        tp->task = strdup(DEFAULT_TASKS[i][0]);
        tp->regex = strdup(DEFAULT_TASKS[i][1]);
        char why[320];
        if (!tp->task || !tp->regex) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
        if (!(tp->code = rt_regex_compile(tp->regex, true, why, sizeof why)))
            return slm_error_set(err, SLM_ERR_INTERNAL, "built-in task pattern: %s", why);
    }
    return SLM_OK;
}

static slm_route_rule *add_rule(slm_route_config *c, const char *name, int tier) {
    slm_route_rule *r = &c->rules[c->n_rules++];
    r->name = strdup(name);
    r->tier = tier;
    r->sensitive = -1;
    return r->name ? r : NULL;
}

/* The default policy: too long for local -> the first remote tier;
 * narrow kinds -> local; open-ended -> the last (frontier) tier. */
static slm_status default_rules(slm_route_config *c, slm_error *err) {
    static const char *const narrow[] = {"classify", "extract", "summarize", "route", "tool_use"};
    c->rules = calloc(5, sizeof *c->rules);
    if (!c->rules) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    int remote = -1;
    for (int i = 0; i < c->n_tiers && remote < 0; i++)
        if (!c->tiers[i].local) remote = i;
    slm_route_rule *r;
    if (remote >= 0) {
        if (!(r = add_rule(c, "long-context", remote))) goto nomem;
        r->exceeds_local_context = true;
        if (!(r = add_rule(c, "long-prompt", remote))) goto nomem;
        r->min_prompt_tokens = c->long_context_tokens;
    }
    if (!(r = add_rule(c, "narrow-local", 0))) goto nomem;
    if (!(r->tasks = calloc(5, sizeof *r->tasks))) goto nomem;
    for (int i = 0; i < 5; i++)
        if (!(r->tasks[r->n_tasks++] = strdup(narrow[i]))) goto nomem;
    if (c->n_tiers > 1) {
        if (!(r = add_rule(c, "open-ended", c->n_tiers - 1))) goto nomem;
        if (!(r->tasks = calloc(1, sizeof *r->tasks)) || !(r->tasks[0] = strdup("open_ended"))) goto nomem;
        r->n_tasks = 1;
    }
    return SLM_OK;
nomem:
    return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
}

slm_status rt_config_finish(slm_route_config *c, slm_error *err) {
    slm_status st = SLM_OK;
    if (!c->router_name && !(c->router_name = strdup("auto"))) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    if (!c->task_patterns && (st = default_patterns(c, err))) return st;
    if (!c->rules && (st = default_rules(c, err))) return st;
    return SLM_OK;
}

/* ---- parse ------------------------------------------------------------------ */

static yaml_node_t *section(ycx *y, yaml_node_t *root, const char *name) {
    Y_FOREACH_PAIR(root, p) {
        const char *k = y_key(y, p);
        if (k && !strcmp(k, name)) return y_node(y, p->value);
    }
    return NULL;
}

typedef slm_status (*section_fn)(ycx *, const yaml_node_t *, slm_route_config *);

static const struct {
    const char *name;
    section_fn fn;
} SECTIONS[] = {
    {"tiers", y_tiers},           {"router", y_router},           {"rules", y_rules},
    {"tasks", y_tasks},           {"sensitivity", y_sensitivity}, {"confidence", y_confidence},
    {"reliability", y_reliability}, {"budgets", y_budgets},       {"ledger", y_ledger},
    {"classifier", y_classifier}, /* after tiers: it names a local model */
};
#define N_SECTIONS (sizeof SECTIONS / sizeof SECTIONS[0])

static slm_status read_root(ycx *y, yaml_node_t *root, slm_route_config *c) {
    if (!root) return slm_error_set(y->err, SLM_ERR_FORMAT, "%s:1: the file is empty", y->path);
    slm_status st = y_want_map(y, root, "the top level");
    if (st) return st;
    Y_FOREACH_PAIR(root, p) {
        const char *k = y_key(y, p);
        bool known = false;
        for (size_t i = 0; k && i < N_SECTIONS; i++) known |= !strcmp(k, SECTIONS[i].name);
        if (!known) return y_fail(y, y_node(y, p->key), "unknown section '%s' (tiers, router, rules, tasks, "
                                  "sensitivity, confidence, reliability, budgets, ledger, classifier)", k ? k : "?");
    }
    if (!section(y, root, "tiers")) return y_fail(y, root, "no 'tiers' section: list at least one tier");
    for (size_t i = 0; i < N_SECTIONS; i++) {
        yaml_node_t *n = section(y, root, SECTIONS[i].name);
        if (n && (st = SECTIONS[i].fn(y, n, c))) return st;
    }
    for (int i = 0; i < c->n_tiers; i++)
        if (!strcmp(c->tiers[i].name, c->router_name ? c->router_name : "auto"))
            return y_fail(y, root, "tier name '%s' clashes with the router name", c->tiers[i].name);
    return SLM_OK;
}

slm_status slm_route_config_parse(const char *text, size_t len, const char *path, slm_route_config **out,
                                  slm_error *err) {
    *out = NULL;
    if (!path) path = "slm.yaml";
    slm_route_config *c = malloc(sizeof *c);
    if (!c) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    rt_config_defaults(c);
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        free(c);
        return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    slm_status st = SLM_OK;
    if (!yaml_parser_load(&parser, &doc)) {
        st = slm_error_set(err, SLM_ERR_FORMAT, "%s:%zu: %s%s%s", path, parser.problem_mark.line + 1,
                           parser.problem ? parser.problem : "YAML syntax error", parser.context ? " " : "",
                           parser.context ? parser.context : "");
        yaml_parser_delete(&parser);
        free(c);
        return st;
    }
    ycx y = {.doc = &doc, .path = path, .err = err};
    st = read_root(&y, yaml_document_get_root_node(&doc), c);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (!st && !(c->path = strdup(path))) st = slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    if (!st) st = rt_config_finish(c, err);
    if (st) {
        slm_route_config_free(c);
        return st;
    }
    *out = c;
    return SLM_OK;
}

slm_status slm_route_config_load(const char *path, slm_route_config **out, slm_error *err) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return slm_error_set(err, SLM_ERR_IO, "%s: %s", path, strerror(errno));
    char *buf = malloc(MAX_CONFIG_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_CONFIG_BYTES + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    slm_status st;
    if (!buf) st = slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    else if (bad) st = slm_error_set(err, SLM_ERR_IO, "%s: read error", path);
    else if (n > MAX_CONFIG_BYTES) st = slm_error_set(err, SLM_ERR_RANGE, "%s: larger than 4 MiB", path);
    else st = slm_route_config_parse(buf, n, path, out, err);
    free(buf);
    return st;
}

slm_status slm_route_config_default(const char *local_model, slm_route_config **out, slm_error *err) {
    *out = NULL;
    slm_route_config *c = malloc(sizeof *c);
    if (!c) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    rt_config_defaults(c);
    c->tiers = calloc(2, sizeof *c->tiers);
    slm_route_model *m = c->tiers ? calloc(2, sizeof *m) : NULL;
    slm_status st = SLM_OK;
    if (!m) st = slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    else {
        c->n_tiers = 1;
        c->tiers[0] = (slm_route_tier){.name = strdup("local"), .on_prem = true, .local = true, .models = m,
                                       .n_models = 1};
        m->local = true;
        m->name = strdup(local_model ? local_model : "local");
        if (!c->tiers[0].name || !m->name) st = slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    }
    if (!st) st = rt_config_finish(c, err);
    if (st) {
        slm_route_config_free(c);
        return st;
    }
    *out = c;
    return SLM_OK;
}

/* ---- free / lookup ---------------------------------------------------------- */

static void free_patterns(slm_route_task_pattern *p, int n) {
    for (int i = 0; p && i < n; i++) {
        free(p[i].task);
        free(p[i].regex);
        rt_regex_free(p[i].code);
    }
    free(p);
}

static void free_model(slm_route_model *m) {
    free(m->name);
    free(m->path);
    free(m->base_url);
    free(m->api_key_env);
    free(m->upstream_model);
}

void slm_route_config_free(slm_route_config *c) {
    if (!c) return;
    /* <= n: a tier or model being parsed when an error hit is not yet
     * counted; the arrays have one extra zeroed slot for it */
    for (int i = 0; c->tiers && i <= c->n_tiers; i++) {
        for (int m = 0; c->tiers[i].models && m <= c->tiers[i].n_models; m++) free_model(&c->tiers[i].models[m]);
        free(c->tiers[i].models);
        free(c->tiers[i].name);
    }
    free(c->tiers);
    for (int i = 0; c->rules && i < c->n_rules; i++) {
        for (int t = 0; t < c->rules[i].n_tasks; t++) free(c->rules[i].tasks[t]);
        free(c->rules[i].tasks);
        free(c->rules[i].name);
    }
    free(c->rules);
    free_patterns(c->task_patterns, c->n_task_patterns);
    free_patterns(c->pii.custom, c->pii.n_custom);
    free(c->confidence.refusal_regex);
    rt_regex_free(c->confidence.refusal_code);
    for (int i = 0; c->key_budgets && i < c->n_key_budgets; i++) free(c->key_budgets[i].key);
    free(c->key_budgets);
    free(c->router_name);
    free(c->ledger_path);
    free(c->classifier_model);
    for (int i = 0; c->classifier_labels && i < c->n_classifier_labels; i++) free(c->classifier_labels[i]);
    free(c->classifier_labels);
    free(c->classifier_prompt);
    free(c->path);
    free(c);
}

int slm_route_tier_index(const slm_route_config *c, const char *name) {
    for (int i = 0; name && i < c->n_tiers; i++)
        if (!strcmp(c->tiers[i].name, name)) return i;
    return -1;
}

bool slm_route_find_model(const slm_route_config *c, const char *name, int *tier, int *model) {
    for (int t = 0; name && t < c->n_tiers; t++)
        for (int m = 0; m < c->tiers[t].n_models; m++)
            if (c->tiers[t].models[m].name && !strcmp(c->tiers[t].models[m].name, name)) {
                *tier = t;
                *model = m;
                return true;
            }
    return false;
}
