/* GET /metrics in the Prometheus text format: requests by status class,
 * tokens in/out/cached, per-model queue depth and busy slots, and
 * histograms of time to first token and of generation speed. Counters
 * live in slm_server.metrics under slm_server.mu. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route_hook.h"
#include "server_internal.h"

static const double TTFT_BOUNDS[SRV_HIST_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
static const double TPS_BOUNDS[SRV_HIST_BUCKETS] = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000};

static void hist_add(srv_hist *h, const double *bounds, double v) {
    int b = 0;
    while (b < SRV_HIST_BUCKETS && v > bounds[b]) b++;
    h->count[b]++;
    h->sum += v;
    h->n++;
}

void metrics_record(slm_server *s, const slm_event *d) {
    pthread_mutex_lock(&s->mu);
    s->metrics.tok_prompt += (uint64_t)d->n_prompt;
    s->metrics.tok_cached += (uint64_t)d->n_cached;
    s->metrics.tok_gen += (uint64_t)d->n_gen;
    if (d->ttft_s > 0) hist_add(&s->metrics.ttft, TTFT_BOUNDS, d->ttft_s);
    if (d->n_gen > 1 && d->t_gen_s > 0) hist_add(&s->metrics.tps, TPS_BOUNDS, (d->n_gen - 1) / d->t_gen_s);
    pthread_mutex_unlock(&s->mu);
}

void metrics_status(slm_server *s, unsigned status) {
    pthread_mutex_lock(&s->mu);
    unsigned cls = status / 100;
    s->metrics.requests[cls >= 1 && cls <= 5 ? cls : 0]++;
    pthread_mutex_unlock(&s->mu);
}

typedef struct pbuf {
    char *p;
    size_t len, cap;
    bool oom;
} pbuf;

static void put(pbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(pbuf *b, const char *fmt, ...) {
    for (int tries = 0; tries < 2 && !b->oom; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n + 1;
        char *q = realloc(b->p, cap);
        if (!q) b->oom = true;
        else b->p = q, b->cap = cap;
    }
}

static void put_hist(pbuf *b, const char *name, const char *help, const srv_hist *h, const double *bounds) {
    put(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < SRV_HIST_BUCKETS; i++) {
        cum += h->count[i];
        put(b, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
    }
    put(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %g\n%s_count %llu\n", name, (unsigned long long)h->n, name, h->sum, name,
        (unsigned long long)h->n);
}

static void put_models(pbuf *b, slm_server *s) {
    put(b, "# HELP slm_queue_depth Requests waiting for a slot.\n# TYPE slm_queue_depth gauge\n");
    put(b, "# HELP slm_slots_busy Slots generating.\n# TYPE slm_slots_busy gauge\n");
    put(b, "# HELP slm_slots_total Slots of the loaded model.\n# TYPE slm_slots_total gauge\n");
    put(b, "# HELP slm_grammar_masked_tokens_total Tokens sampled under a grammar mask.\n"
           "# TYPE slm_grammar_masked_tokens_total counter\n");
    put(b, "# HELP slm_grammar_mask_seconds_total Time computing grammar masks (mean per token: divide by "
           "slm_grammar_masked_tokens_total).\n# TYPE slm_grammar_mask_seconds_total counter\n");
    put(b, "# HELP slm_grammar_mask_max_seconds The slowest single grammar mask.\n"
           "# TYPE slm_grammar_mask_max_seconds gauge\n");
    for (int i = 0; i < s->n_models; i++) {
        srv_model *m = &s->models[i];
        if (!m->sched) continue;
        slm_sched_stats st;
        slm_sched_get_stats(m->sched, &st);
        put(b, "slm_queue_depth{model=\"%s\"} %d\n", m->name, st.n_queued);
        put(b, "slm_slots_busy{model=\"%s\"} %d\n", m->name, st.n_busy);
        put(b, "slm_slots_total{model=\"%s\"} %d\n", m->name, st.n_slots);
        put(b, "slm_grammar_masked_tokens_total{model=\"%s\"} %llu\n", m->name, (unsigned long long)st.n_masked_tokens);
        put(b, "slm_grammar_mask_seconds_total{model=\"%s\"} %g\n", m->name, st.mask_seconds);
        put(b, "slm_grammar_mask_max_seconds{model=\"%s\"} %g\n", m->name, st.mask_max_seconds);
    }
}

enum MHD_Result metrics_route(conn *c) {
    slm_server *s = c->srv;
    pbuf b = {.p = malloc(4096), .cap = 4096};
    if (!b.p) return MHD_NO;
    pthread_mutex_lock(&s->mu);
    const srv_metrics *m = &s->metrics;
    put(&b, "# HELP slm_requests_total HTTP requests answered, by status class.\n# TYPE slm_requests_total counter\n");
    static const char *const cls[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < 6; i++) put(&b, "slm_requests_total{code=\"%s\"} %llu\n", cls[i], (unsigned long long)m->requests[i]);
    put(&b, "# HELP slm_prompt_tokens_total Prompt tokens received.\n# TYPE slm_prompt_tokens_total counter\n"
            "slm_prompt_tokens_total %llu\n", (unsigned long long)m->tok_prompt);
    put(&b, "# HELP slm_cached_tokens_total Prompt tokens reused from the prefix cache.\n"
            "# TYPE slm_cached_tokens_total counter\nslm_cached_tokens_total %llu\n", (unsigned long long)m->tok_cached);
    put(&b, "# HELP slm_generated_tokens_total Tokens generated.\n# TYPE slm_generated_tokens_total counter\n"
            "slm_generated_tokens_total %llu\n", (unsigned long long)m->tok_gen);
    put(&b, "# HELP slm_requests_in_flight HTTP requests being served.\n# TYPE slm_requests_in_flight gauge\n"
            "slm_requests_in_flight %d\n", atomic_load(&s->in_flight));
    put_hist(&b, "slm_ttft_seconds", "Time from submission to the first token.", &m->ttft, TTFT_BOUNDS);
    put_hist(&b, "slm_generation_tokens_per_second", "Generation speed per request.", &m->tps, TPS_BOUNDS);
    put_models(&b, s);
    pthread_mutex_unlock(&s->mu);
    char *routed = route_hook_metrics(s); /* per-tier router counters */
    if (routed) put(&b, "%s", routed);
    free(routed);
    if (b.oom) {
        free(b.p);
        return MHD_NO;
    }
    return http_send(c, 200, "text/plain; version=0.0.4", b.p, b.len);
}
