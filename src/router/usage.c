/* `slm usage`: the ledger summarised as JSON. Per tier: requests, share of
 * requests and tokens (the 70/20/10 picture), cost, p50/p95 latency; overall:
 * cost, what the same tokens would have cost all-frontier, escalation rate
 * and reasons (grouped by signal name). Rows are read in one pass ordered
 * by tier then latency, so percentiles come from the sorted run. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/router_internal.h"

typedef struct tier_acc {
    char name[64];
    int64_t n, tin, tout;
    double cost;
    double *lat; /* sorted ascending (query order) */
    size_t n_lat, cap_lat;
} tier_acc;

static double pct(const tier_acc *t, double p) {
    if (!t->n_lat) return 0;
    size_t i = (size_t)(p * (double)(t->n_lat - 1) + 0.5);
    return t->lat[i];
}

static void add_latency(tier_acc *t, double ms) {
    if (t->n_lat == t->cap_lat) {
        size_t cap = t->cap_lat ? t->cap_lat * 2 : 64;
        double *v = realloc(t->lat, cap * sizeof *v);
        if (!v) return;
        t->lat = v;
        t->cap_lat = cap;
    }
    t->lat[t->n_lat++] = ms;
}

/* "mean_logprob -3.0 < -1.0; refusal" -> counts for "mean_logprob", "refusal" */
static void add_reasons(json_t *reasons, const char *r) {
    while (r && *r) {
        size_t n = strcspn(r, ";");
        char name[64];
        size_t k = strcspn(r, " ;");
        snprintf(name, sizeof name, "%.*s", (int)(k < 63 ? k : 63), r);
        if (!strcmp(name, "constrained") || !strcmp(name, "answer")) snprintf(name, sizeof name, "%.*s", (int)n, r);
        json_int_t c = json_integer_value(json_object_get(reasons, name));
        json_object_set_new(reasons, name, json_integer(c + 1));
        r += n;
        while (*r == ';' || *r == ' ') r++;
    }
}

static json_t *tier_json(const tier_acc *t, int64_t n_all, int64_t tok_all) {
    return json_pack("{s:I,s:f,s:I,s:I,s:f,s:f,s:f,s:f}", "requests", (json_int_t)t->n, "share",
                     n_all ? (double)t->n / (double)n_all : 0.0, "tokens_in", (json_int_t)t->tin, "tokens_out",
                     (json_int_t)t->tout, "token_share", tok_all ? (double)(t->tin + t->tout) / (double)tok_all : 0.0,
                     "cost_usd", t->cost, "p50_ms", pct(t, 0.50), "p95_ms", pct(t, 0.95));
}

slm_status slm_usage_report(slm_ledger *l, double since, json_t **out, slm_error *err) {
    *out = NULL;
    sqlite3 *db = rt_ledger_db(l);
    sqlite3_stmt *s = NULL;
    const char *sql = "SELECT COALESCE(tier,'(failed)'), tokens_in, tokens_out, cost_usd, frontier_cost_usd, "
                      "latency_ms, escalated, escalation_reason FROM requests WHERE ts >= ? ORDER BY 1, latency_ms";
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        return slm_error_set(err, SLM_ERR_IO, "ledger: %s", sqlite3_errmsg(db));
    sqlite3_bind_double(s, 1, since);
    tier_acc tiers[32];
    int nt = 0;
    int64_t n = 0, tok = 0, esc = 0;
    double cost = 0, frontier = 0;
    json_t *reasons = json_object();
    while (sqlite3_step(s) == SQLITE_ROW) {
        const char *tier = (const char *)sqlite3_column_text(s, 0);
        if (nt == 0 || strcmp(tiers[nt - 1].name, tier)) {
            if (nt == 32) continue; /* more tier names than any config has: ignore the rest */
            memset(&tiers[nt], 0, sizeof tiers[nt]);
            snprintf(tiers[nt].name, sizeof tiers[nt].name, "%s", tier);
            nt++;
        }
        tier_acc *t = &tiers[nt - 1];
        t->n++;
        t->tin += sqlite3_column_int64(s, 1);
        t->tout += sqlite3_column_int64(s, 2);
        t->cost += sqlite3_column_double(s, 3);
        add_latency(t, sqlite3_column_double(s, 5));
        n++;
        tok += sqlite3_column_int64(s, 1) + sqlite3_column_int64(s, 2);
        cost += sqlite3_column_double(s, 3);
        frontier += sqlite3_column_double(s, 4);
        if (sqlite3_column_int(s, 6)) {
            esc++;
            add_reasons(reasons, (const char *)sqlite3_column_text(s, 7));
        }
    }
    sqlite3_finalize(s);
    json_t *tj = json_object();
    for (int i = 0; i < nt; i++) {
        json_object_set_new(tj, tiers[i].name, tier_json(&tiers[i], n, tok));
        free(tiers[i].lat);
    }
    *out = json_pack("{s:f,s:I,s:I,s:f,s:f,s:f,s:I,s:f,s:o,s:o}", "since", since, "requests", (json_int_t)n,
                     "tokens", (json_int_t)tok, "cost_usd", cost, "all_frontier_cost_usd", frontier, "savings_usd",
                     frontier - cost, "escalations", (json_int_t)esc, "escalation_rate",
                     n ? (double)esc / (double)n : 0.0, "escalation_reasons", reasons, "tiers", tj);
    return *out ? SLM_OK : slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
}

bool slm_usage_parse_since(const char *s, double now, double *out) {
    if (!s || !*s) return false;
    char *end;
    double v = strtod(s, &end);
    if (end != s && v >= 0) {
        double unit = !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600
                    : !strcmp(end, "d") ? 86400 : !strcmp(end, "w") ? 604800 : 0;
        if (!*end && v > 1e8) { /* unix seconds */
            *out = v;
            return true;
        }
        if (unit > 0) {
            *out = now - v * unit;
            return true;
        }
    }
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%d", &tm);
    if (!rest || *rest) return false;
    tm.tm_isdst = -1;
    *out = (double)mktime(&tm);
    return true;
}
