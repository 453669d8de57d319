/* Target specs ("[LABEL=]LOCATION[,model=M][,price=IN/OUT]"), their
 * resolution against slm.yaml (`auto` = the router, tier names = the
 * tier's first model) and the raw answer record shared by the local, HTTP
 * and router targets (with the router's confidence signals). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

void slm_eval_target_clear(slm_eval_target *t) {
    free(t->label);
    free(t->location);
    free(t->model);
    free(t->api_key_env);
    memset(t, 0, sizeof *t);
}

static slm_status parse_price(const char *v, slm_eval_target *t, slm_error *err) {
    char *end;
    t->price_in = strtod(v, &end);
    if (*end == '/') t->price_out = strtod(end + 1, &end);
    else t->price_out = t->price_in;
    if (*end || t->price_in < 0 || t->price_out < 0 || t->price_in != t->price_in || t->price_out != t->price_out)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "target: bad price '%s' (USD per million tokens: IN/OUT)", v);
    return SLM_OK;
}

slm_status slm_eval_target_parse(const char *spec, slm_eval_target *t, slm_error *err) {
    memset(t, 0, sizeof *t);
    if (!spec || !*spec) return slm_error_set(err, SLM_ERR_INVALID_ARG, "target: empty spec");
    char *s = ev_strdup(spec);
    if (!s) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    slm_status st = SLM_OK;
    char *opts = NULL;
    /* options follow the first comma that starts "model=" or "price=" */
    for (char *c = strchr(s, ','); c; c = strchr(c + 1, ','))
        if (!strncmp(c + 1, "model=", 6) || !strncmp(c + 1, "price=", 6)) {
            *c = 0;
            opts = c + 1;
            break;
        }
    char *loc = s, *eq = strchr(s, '='), *scheme = strstr(s, "://");
    if (eq && (!scheme || eq < scheme)) { /* a label, not a URL's query */
        *eq = 0;
        t->label = ev_strdup(s);
        loc = eq + 1;
    }
    if (!*loc) st = slm_error_set(err, SLM_ERR_INVALID_ARG, "target '%s': no model or URL", spec);
    t->location = ev_strdup(loc);
    t->kind = !strncmp(loc, "http://", 7) || !strncmp(loc, "https://", 8) ? SLM_TARGET_URL : SLM_TARGET_LOCAL;
    for (char *o = opts; o && !st;) {
        char *next = strchr(o, ',');
        if (next) *next++ = 0;
        if (!strncmp(o, "model=", 6)) t->model = ev_strdup(o + 6);
        else if (!strncmp(o, "price=", 6)) st = parse_price(o + 6, t, err);
        else st = slm_error_set(err, SLM_ERR_INVALID_ARG, "target '%s': unknown option '%s'", spec, o);
        o = next;
    }
    if (!st && !t->label) t->label = ev_strdup(spec);
    if (!st && !t->model) t->model = ev_strdup("default");
    if (!st && (!t->label || !t->location || !t->model)) st = slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    free(s);
    if (st) slm_eval_target_clear(t);
    return st;
}

void ev_answer_clear(ev_answer *a) {
    ev_buf_free(&a->text);
    json_decref(a->tool_calls);
    free(a->error);
    memset(a, 0, sizeof *a);
}

void ev_answer_fail(ev_answer *a, const char *fmt, ...) {
    if (a->error) return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    a->error = ev_strdup(msg);
}

void ev_answer_add_logprob(ev_answer *a, double lp, const double *top, int n_top) {
    if (!isfinite(lp)) return;
    a->sum_lp += lp;
    a->min_lp = a->n_lp++ ? fmin(a->min_lp, lp) : lp;
    double z = 0, h = 0;
    for (int i = 0; i < n_top; i++) z += exp(top[i]);
    if (n_top <= 0 || !(z > 0)) return;
    for (int i = 0; i < n_top; i++) {
        double p = exp(top[i]) / z;
        if (p > 0) h -= p * log(p);
    }
    a->sum_ent += h;
    a->n_ent++;
}

static slm_status set_str(char **dst, const char *v, slm_error *err) {
    free(*dst);
    *dst = v ? ev_strdup(v) : NULL;
    return v && !*dst ? slm_error_set(err, SLM_ERR_NOMEM, "out of memory") : SLM_OK;
}

slm_status slm_eval_target_from_config(slm_eval_target *t, const slm_route_config *c, const char *config_path,
                                       const char *default_model, slm_error *err) {
    if (t->kind != SLM_TARGET_LOCAL || !c) return SLM_OK;
    const char *router = c->router_name ? c->router_name : "auto";
    if (!strcmp(t->location, router)) {
        if (!config_path) return slm_error_set(err, SLM_ERR_INVALID_ARG, "target '%s': the router needs slm.yaml", t->label);
        t->kind = SLM_TARGET_ROUTER;
        return set_str(&t->location, config_path, err);
    }
    int ti = slm_route_tier_index(c, t->location);
    if (ti < 0) return SLM_OK;
    const slm_route_tier *tier = &c->tiers[ti];
    if (tier->n_models < 1) return slm_error_set(err, SLM_ERR_INVALID_ARG, "tier '%s' has no model", tier->name);
    const slm_route_model *m = &tier->models[0];
    t->price_in = m->price_in, t->price_out = m->price_out;
    if (m->local) {
        const char *path = m->path ? m->path : default_model;
        if (!path)
            return slm_error_set(err, SLM_ERR_INVALID_ARG,
                                 "tier '%s': model '%s' has no path (give it one in slm.yaml, or a local -t MODEL)",
                                 tier->name, m->name);
        return set_str(&t->location, path, err);
    }
    t->kind = SLM_TARGET_URL;
    slm_status st = set_str(&t->location, m->base_url, err);
    if (!st) st = set_str(&t->model, m->upstream_model ? m->upstream_model : m->name, err);
    if (!st) st = set_str(&t->api_key_env, m->api_key_env, err);
    return st;
}
