/* Metric arithmetic over results: rates (success, exact match, schema
 * validity, executable calls), latency/TTFT percentiles over answered
 * cases, decode speed, and cost per successful task. Pure functions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double slm_eval_percentile(double *v, size_t n, double p) {
    if (n == 0) return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    if (p <= 0) return v[0];
    if (p >= 100) return v[n - 1];
    double rank = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)rank;
    double frac = rank - (double)lo;
    return lo + 1 < n ? v[lo] + frac * (v[lo + 1] - v[lo]) : v[lo];
}

static bool has_tag(const json_t *tags, const char *tag) {
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) if (json_is_string(t) && !strcmp(json_string_value(t), tag)) return true;
    return false;
}

static double pct(size_t k, size_t n) { return n ? 100.0 * (double)k / (double)n : NAN; }

static void rate(int8_t v, size_t *n, size_t *ok) {
    if (v < 0) return;
    (*n)++;
    *ok += v > 0;
}

slm_status slm_eval_metrics_compute(const slm_eval_result *rs, size_t n, const char *target, const char *tag,
                                    slm_eval_metrics *m, slm_error *err) {
    memset(m, 0, sizeof *m);
    double *lat = slm_malloc_array(n ? n : 1, sizeof *lat), *ttft = slm_malloc_array(n ? n : 1, sizeof *ttft);
    if (!lat || !ttft) {
        free(lat);
        free(ttft);
        return slm_error_set(err, SLM_ERR_NOMEM, "metrics: out of memory");
    }
    size_t n_lat = 0, n_ttft = 0;
    double gen_tokens = 0, gen_time = 0;
    for (size_t i = 0; i < n; i++) {
        const slm_eval_result *r = &rs[i];
        if (target && (!r->target || strcmp(r->target, target))) continue;
        if (tag && !has_tag(r->tags, tag)) continue;
        m->n++;
        m->n_success += r->success;
        m->cost += r->cost;
        rate(r->exact, &m->n_exact, &m->n_exact_ok);
        rate(r->schema_valid, &m->n_schema, &m->n_schema_ok);
        rate(r->call_exec, &m->n_call, &m->n_call_ok);
        if (r->tier) {
            m->n_routed++;
            m->n_escalated += r->escalated > 0;
        }
        if (r->error) {
            m->n_error++;
            continue;
        }
        lat[n_lat++] = r->latency_s;
        if (r->ttft_s > 0) ttft[n_ttft++] = r->ttft_s;
        double decode = r->ttft_s > 0 && r->latency_s > r->ttft_s ? r->latency_s - r->ttft_s : r->latency_s;
        if (r->n_gen > 0 && decode > 0) {
            gen_tokens += r->n_gen;
            gen_time += decode;
        }
    }
    m->success_pct = pct(m->n_success, m->n);
    m->exact_pct = pct(m->n_exact_ok, m->n_exact);
    m->schema_pct = pct(m->n_schema_ok, m->n_schema);
    m->call_pct = pct(m->n_call_ok, m->n_call);
    m->lat_p50 = slm_eval_percentile(lat, n_lat, 50);
    m->lat_p95 = slm_eval_percentile(lat, n_lat, 95);
    m->lat_p99 = slm_eval_percentile(lat, n_lat, 99);
    m->ttft_p50 = slm_eval_percentile(ttft, n_ttft, 50);
    m->ttft_p95 = slm_eval_percentile(ttft, n_ttft, 95);
    m->ttft_p99 = slm_eval_percentile(ttft, n_ttft, 99);
    m->tokens_per_s = gen_time > 0 ? gen_tokens / gen_time : NAN;
    m->cost_per_success = m->n_success ? m->cost / (double)m->n_success : NAN;
    m->escalation_pct = pct(m->n_escalated, m->n_routed);
    free(lat);
    free(ttft);
    return SLM_OK;
}

/* Tier shares: one pass per result, counts kept in the JSON object itself
 * (tiers are few). Denominator: every result of the target, so the shares
 * and "(failed)" add up to 100%. */
json_t *slm_eval_tier_shares(const slm_eval_result *rs, size_t n, const char *target, slm_error *err) {
    json_t *out = json_object();
    if (!out) return slm_error_set(err, SLM_ERR_NOMEM, "tier shares: out of memory"), NULL;
    size_t total = 0, routed = 0;
    for (size_t i = 0; i < n; i++) {
        const slm_eval_result *r = &rs[i];
        if (target && (!r->target || strcmp(r->target, target))) continue;
        total++;
        const char *tier = r->tier ? r->tier : (r->error ? "(failed)" : "(unknown)");
        routed += r->tier != NULL;
        json_t *t = json_object_get(out, tier);
        if (!t) {
            t = json_pack("{s:I,s:I}", "n", (json_int_t)0, "n_success", (json_int_t)0);
            if (!t || json_object_set_new(out, tier, t)) {
                json_decref(out);
                return slm_error_set(err, SLM_ERR_NOMEM, "tier shares: out of memory"), NULL;
            }
        }
        json_object_set_new(t, "n", json_integer(json_integer_value(json_object_get(t, "n")) + 1));
        json_object_set_new(t, "n_success",
                            json_integer(json_integer_value(json_object_get(t, "n_success")) + r->success));
    }
    if (!routed) {
        json_decref(out);
        return NULL;
    }
    const char *k;
    json_t *t;
    json_object_foreach(out, k, t) {
        double c = (double)json_integer_value(json_object_get(t, "n"));
        json_object_set_new(t, "share_pct", ev_json_num(pct((size_t)c, total)));
        json_object_set_new(t, "success_pct",
                            ev_json_num(pct((size_t)json_integer_value(json_object_get(t, "n_success")), (size_t)c)));
    }
    return out;
}
