/* slm.yaml sections "tiers" (each a list of local or remote models) and
 * "rules" (ordered conditions -> a tier). Tiers are read before rules so a
 * rule can name any tier. */
#include "router/config_yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool name_ok(const char *s) {
    if (!*s || strlen(s) > 128) return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\') return false;
    return true;
}

static slm_status model_key(ycx *y, const char *k, yaml_node_t *v, slm_route_model *m) {
    if (!strcmp(k, "name") || !strcmp(k, "model_name")) return y_str(y, v, "name", &m->name);
    if (!strcmp(k, "path")) return y_str(y, v, "path", &m->path);
    if (!strcmp(k, "local")) return y_bool(y, v, "local", &m->local);
    if (!strcmp(k, "base_url") || !strcmp(k, "api_base")) return y_str(y, v, "base_url", &m->base_url);
    if (!strcmp(k, "api_key_env")) return y_str(y, v, "api_key_env", &m->api_key_env);
    if (!strcmp(k, "model")) return y_str(y, v, "model", &m->upstream_model);
    if (!strcmp(k, "timeout")) return y_num(y, v, "timeout", 0.001, 86400, &m->timeout_s);
    if (!strcmp(k, "input_cost_per_million")) return y_num(y, v, k, 0, 1e6, &m->price_in);
    if (!strcmp(k, "output_cost_per_million")) return y_num(y, v, k, 0, 1e6, &m->price_out);
    if (!strcmp(k, "cost_per_million")) {
        slm_status st = y_num(y, v, k, 0, 1e6, &m->price_in);
        m->price_out = m->price_in;
        return st;
    }
    if (!strcmp(k, "context_window")) return y_int(y, v, k, 1, (int64_t)1 << 40, &m->context);
    return y_fail(y, v, "unknown model key '%s'", k);
}

static slm_status check_model(ycx *y, const yaml_node_t *n, const char *tier, slm_route_model *m) {
    if (!m->name) return y_fail(y, n, "tier '%s': a model needs a name", tier);
    if (!name_ok(m->name)) return y_fail(y, n, "tier '%s': bad model name '%s'", tier, m->name);
    if (m->base_url && (m->local || m->path))
        return y_fail(y, n, "tier '%s': model '%s': base_url (remote) and path/local (local) exclude each other",
                      tier, m->name);
    if (!m->base_url && !m->local && !m->path)
        return y_fail(y, n, "tier '%s': model '%s': base_url is required (or path / local: true for a local model)",
                      tier, m->name);
    if (m->path) m->local = true;
    if (m->base_url && strncmp(m->base_url, "http://", 7) && strncmp(m->base_url, "https://", 8))
        return y_fail(y, n, "tier '%s': model '%s': base_url must start with http:// or https://", tier, m->name);
    if (m->base_url && !m->upstream_model) m->upstream_model = strdup(m->name);
    if (m->base_url && !m->upstream_model) return slm_error_set(y->err, SLM_ERR_NOMEM, "out of memory");
    return SLM_OK;
}

static slm_status one_model(ycx *y, yaml_node_t *n, const char *tier, slm_route_model *m) {
    slm_status st = y_want_map(y, n, "a model");
    if (st) return st;
    m->line = y_line(n);
    m->timeout_s = 60;
    Y_FOREACH_PAIR(n, p) {
        const char *k = y_key(y, p);
        if (!k) return y_fail(y, n, "model keys must be strings");
        if ((st = model_key(y, k, y_node(y, p->value), m))) return st;
    }
    return check_model(y, n, tier, m);
}

static slm_status tier_models(ycx *y, yaml_node_t *n, slm_route_tier *t) {
    slm_status st = y_want_seq(y, n, "models");
    if (st) return st;
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count == 0) return y_fail(y, n, "tier '%s' has no models", t->name ? t->name : "?");
    t->models = calloc(count + 1, sizeof *t->models); /* +1: zeroed slot for partial frees */
    if (!t->models) return slm_error_set(y->err, SLM_ERR_NOMEM, "out of memory");
    Y_FOREACH_ITEM(n, it) {
        if ((st = one_model(y, y_node(y, *it), t->name ? t->name : "?", &t->models[t->n_models]))) return st;
        t->n_models++;
    }
    return SLM_OK;
}

static slm_status one_tier(ycx *y, yaml_node_t *n, slm_route_tier *t) {
    slm_status st = y_want_map(y, n, "a tier");
    if (st) return st;
    yaml_node_t *models = NULL;
    Y_FOREACH_PAIR(n, p) {
        const char *k = y_key(y, p);
        yaml_node_t *v = y_node(y, p->value);
        if (!k) return y_fail(y, n, "tier keys must be strings");
        if (!strcmp(k, "name")) st = y_str(y, v, "tier name", &t->name);
        else if (!strcmp(k, "on_prem")) st = y_bool(y, v, "on_prem", &t->on_prem);
        else if (!strcmp(k, "models")) models = v;
        else st = y_fail(y, v, "unknown tier key '%s'", k);
        if (st) return st;
    }
    if (!t->name) return y_fail(y, n, "a tier needs a name");
    if (!name_ok(t->name)) return y_fail(y, n, "bad tier name '%s'", t->name);
    if (!models) return y_fail(y, n, "tier '%s' has no models", t->name);
    if ((st = tier_models(y, models, t))) return st;
    t->local = true;
    for (int i = 0; i < t->n_models; i++) t->local &= t->models[i].local;
    return SLM_OK;
}

static slm_status check_unique(ycx *y, const yaml_node_t *n, const slm_route_config *c) {
    for (int i = 0; i < c->n_tiers; i++) {
        for (int j = 0; j < i; j++)
            if (!strcmp(c->tiers[i].name, c->tiers[j].name))
                return y_fail(y, n, "tier name '%s' is used twice", c->tiers[i].name);
        for (int m = 0; m < c->tiers[i].n_models; m++) {
            const slm_route_model *a = &c->tiers[i].models[m];
            int ti, mi;
            if (slm_route_find_model(c, a->name, &ti, &mi) && (ti != i || mi != m)) {
                yaml_node_t fake = {.start_mark = {.line = (size_t)(a->line - 1)}};
                return y_fail(y, &fake, "model name '%s' is used twice", a->name);
            }
        }
    }
    return SLM_OK;
}

slm_status y_tiers(ycx *y, const yaml_node_t *n, slm_route_config *c) {
    slm_status st = y_want_seq(y, n, "tiers");
    if (st) return st;
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count == 0) return y_fail(y, n, "tiers is empty: list at least one tier");
    if (count > 16) return y_fail(y, n, "too many tiers (%zu > 16)", count);
    c->tiers = calloc(count + 1, sizeof *c->tiers); /* +1: zeroed slot for partial frees */
    if (!c->tiers) return slm_error_set(y->err, SLM_ERR_NOMEM, "out of memory");
    Y_FOREACH_ITEM(n, it) {
        if ((st = one_tier(y, y_node(y, *it), &c->tiers[c->n_tiers]))) return st;
        c->n_tiers++;
    }
    return check_unique(y, n, c);
}

/* ---- rules ---------------------------------------------------------------- */

static slm_status rule_tier(ycx *y, yaml_node_t *v, const slm_route_config *c, int *out) {
    char *name = NULL;
    slm_status st = y_str(y, v, "tier", &name);
    if (st) return st;
    *out = slm_route_tier_index(c, name);
    if (*out < 0) st = y_fail(y, v, "rule names tier '%s', which is not defined under tiers", name);
    free(name);
    return st;
}

static slm_status rule_key(ycx *y, const char *k, yaml_node_t *v, slm_route_config *c, slm_route_rule *r) {
    if (!strcmp(k, "name")) return y_str(y, v, "rule name", &r->name);
    if (!strcmp(k, "task") || !strcmp(k, "tasks")) return y_strs(y, v, "task", &r->tasks, &r->n_tasks);
    if (!strcmp(k, "min_prompt_tokens")) return y_int(y, v, k, 1, (int64_t)1 << 40, &r->min_prompt_tokens);
    if (!strcmp(k, "exceeds_local_context")) return y_bool(y, v, k, &r->exceeds_local_context);
    if (!strcmp(k, "tier")) return rule_tier(y, v, c, &r->tier);
    if (!strcmp(k, "sensitive")) {
        bool b = false;
        slm_status st = y_bool(y, v, k, &b);
        r->sensitive = b;
        return st;
    }
    return y_fail(y, v, "unknown rule key '%s'", k);
}

slm_status y_rules(ycx *y, const yaml_node_t *n, slm_route_config *c) {
    slm_status st = y_want_seq(y, n, "rules");
    if (st) return st;
    size_t count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (count > 256) return y_fail(y, n, "too many rules (%zu > 256)", count);
    c->rules = calloc(count + 1, sizeof *c->rules);
    if (!c->rules) return slm_error_set(y->err, SLM_ERR_NOMEM, "out of memory");
    Y_FOREACH_ITEM(n, it) {
        yaml_node_t *rn = y_node(y, *it);
        if ((st = y_want_map(y, rn, "a rule"))) return st;
        slm_route_rule *r = &c->rules[c->n_rules++];
        r->tier = -1;
        r->sensitive = -1;
        r->line = y_line(rn);
        Y_FOREACH_PAIR(rn, p) {
            const char *k = y_key(y, p);
            if (!k) return y_fail(y, rn, "rule keys must be strings");
            if ((st = rule_key(y, k, y_node(y, p->value), c, r))) return st;
        }
        if (r->tier < 0) return y_fail(y, rn, "rule '%s' has no tier", r->name ? r->name : "?");
        if (!r->name) {
            char buf[32];
            snprintf(buf, sizeof buf, "rule-%d", c->n_rules);
            if (!(r->name = strdup(buf))) return slm_error_set(y->err, SLM_ERR_NOMEM, "out of memory");
        }
    }
    return SLM_OK;
}
