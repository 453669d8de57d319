/* The report document, from which text, HTML and diff are rendered:
 * {format, suite, path, wall_s, targets:[{target, metrics, tags:{...}}],
 *  results:[...]} (see include/slm/eval.h); routed targets (auto, or a
 * server answering with x-slm-tier) also get routing: {n_routed,
 * n_escalated, escalation_pct, tiers: {TIER: {n, n_success, share_pct,
 * success_pct}}}. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

static json_t *metrics_json(const slm_eval_metrics *m) {
    json_t *o = json_object();
    json_object_set_new(o, "n", json_integer((json_int_t)m->n));
    json_object_set_new(o, "n_success", json_integer((json_int_t)m->n_success));
    json_object_set_new(o, "n_error", json_integer((json_int_t)m->n_error));
    json_object_set_new(o, "success_pct", ev_json_num(m->success_pct));
    json_object_set_new(o, "exact_pct", ev_json_num(m->exact_pct));
    json_object_set_new(o, "schema_pct", ev_json_num(m->schema_pct));
    json_object_set_new(o, "call_pct", ev_json_num(m->call_pct));
    json_object_set_new(o, "latency_p50_s", ev_json_num(m->lat_p50));
    json_object_set_new(o, "latency_p95_s", ev_json_num(m->lat_p95));
    json_object_set_new(o, "latency_p99_s", ev_json_num(m->lat_p99));
    json_object_set_new(o, "ttft_p50_s", ev_json_num(m->ttft_p50));
    json_object_set_new(o, "ttft_p95_s", ev_json_num(m->ttft_p95));
    json_object_set_new(o, "ttft_p99_s", ev_json_num(m->ttft_p99));
    json_object_set_new(o, "tokens_per_s", ev_json_num(m->tokens_per_s));
    json_object_set_new(o, "cost", ev_json_num(m->cost));
    json_object_set_new(o, "cost_per_success", ev_json_num(m->cost_per_success));
    return o;
}

/* Distinct tags over the results, in first-seen order. */
static json_t *all_tags(const slm_eval_run *r) {
    json_t *seen = json_object(), *list = json_array();
    for (size_t i = 0; i < r->n_results; i++) {
        size_t k;
        json_t *t;
        json_array_foreach(r->results[i].tags, k, t) {
            const char *s = json_string_value(t);
            if (s && !json_object_get(seen, s)) {
                json_object_set_new(seen, s, json_true());
                json_array_append(list, t);
            }
        }
    }
    json_decref(seen);
    return list;
}

json_t *slm_eval_report_json(const slm_eval_run *r, slm_error *err) {
    json_t *doc = json_object(), *targets = json_array(), *results = json_array(), *tags = all_tags(r);
    if (!doc || !targets || !results || !tags) goto oom;
    json_object_set_new(doc, "format", json_string("slm-eval/1"));
    json_object_set_new(doc, "suite", json_string(r->suite_name ? r->suite_name : ""));
    json_object_set_new(doc, "path", json_string(r->suite_path ? r->suite_path : ""));
    json_object_set_new(doc, "wall_s", ev_json_num(r->wall_s));
    json_object_set_new(doc, "resumed", json_integer((json_int_t)r->n_resumed));
    for (size_t t = 0; t < r->n_targets; t++) {
        slm_eval_metrics m;
        if (slm_eval_metrics_compute(r->results, r->n_results, r->targets[t], NULL, &m, err)) goto fail;
        json_t *by_tag = json_object();
        size_t k;
        json_t *tag;
        json_array_foreach(tags, k, tag) {
            if (slm_eval_metrics_compute(r->results, r->n_results, r->targets[t], json_string_value(tag), &m, err)) {
                json_decref(by_tag);
                goto fail;
            }
            if (m.n) json_object_set_new(by_tag, json_string_value(tag), metrics_json(&m));
        }
        slm_eval_metrics_compute(r->results, r->n_results, r->targets[t], NULL, &m, err);
        json_t *entry = json_pack("{s:s,s:o,s:o}", "target", r->targets[t], "metrics", metrics_json(&m), "tags", by_tag);
        json_t *tiers = slm_eval_tier_shares(r->results, r->n_results, r->targets[t], NULL);
        if (entry && tiers) /* a routed target: where its answers came from */
            json_object_set_new(entry, "routing",
                                json_pack("{s:I,s:I,s:o,s:o}", "n_routed", (json_int_t)m.n_routed, "n_escalated",
                                          (json_int_t)m.n_escalated, "escalation_pct", ev_json_num(m.escalation_pct),
                                          "tiers", tiers));
        else json_decref(tiers);
        json_array_append_new(targets, entry);
    }
    for (size_t i = 0; i < r->n_results; i++) {
        if (!r->results[i].target) continue; /* never run (should not happen) */
        json_t *j = slm_eval_result_to_json(&r->results[i]);
        if (!j) goto oom;
        json_array_append_new(results, j);
    }
    json_object_set_new(doc, "targets", targets);
    json_object_set_new(doc, "results", results);
    json_decref(tags);
    return doc;
oom:
    slm_error_set(err, SLM_ERR_NOMEM, "report: out of memory");
fail:
    json_decref(doc);
    json_decref(targets);
    json_decref(results);
    json_decref(tags);
    return NULL;
}

slm_status slm_eval_report_load(const char *path, json_t **out, slm_error *err) {
    json_error_t je;
    *out = json_load_file(path, 0, &je);
    if (!*out) return slm_error_set(err, SLM_ERR_FORMAT, "%s:%d: %s", path, je.line, je.text);
    const char *fmt = json_string_value(json_object_get(*out, "format"));
    if (!fmt || strcmp(fmt, "slm-eval/1") || !json_is_array(json_object_get(*out, "targets"))) {
        json_decref(*out);
        *out = NULL;
        return slm_error_set(err, SLM_ERR_FORMAT, "%s: not an slm eval report (format slm-eval/1)", path);
    }
    return SLM_OK;
}
