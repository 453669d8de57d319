/* Router subcommands: `slm route --explain REQUEST.json` (which tier, rule
 * and why, without calling anything) and `slm usage` (the ledger report:
 * share per tier, cost vs all-frontier, escalations, latency). Config:
 * --config FILE, else $SLM_HOME/slm.yaml if present, else the built-in
 * one-local-tier default. */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "slm/router.h"

static bool load_config(const char *cmd, const char *path, slm_route_config **c) {
    slm_error err = {0};
    char def[4096];
    if (!path) {
        const char *home = getenv("SLM_HOME");
        if (home && *home) snprintf(def, sizeof def, "%s/slm.yaml", home);
        else snprintf(def, sizeof def, "%s/.slm/slm.yaml", getenv("HOME") ? getenv("HOME") : ".");
        if (access(def, F_OK) == 0) path = def;
    }
    slm_status st = path ? slm_route_config_load(path, c, &err) : slm_route_config_default(NULL, c, &err);
    if (st) fprintf(stderr, "slm %s: %s\n", cmd, err.msg);
    return st == SLM_OK;
}

static const char *plan_text(const slm_route_config *c, const slm_route_decision *d, char *buf, size_t cap) {
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < d->n_plan && at < cap; i++) {
        const slm_route_tier *t = &c->tiers[d->plan[i].tier];
        int w = snprintf(buf + at, cap - at, "%s%s/%s", i ? " > " : "", t->name, t->models[d->plan[i].model].name);
        if (w < 0) break;
        at += (size_t)w;
    }
    return buf;
}

static json_t *decision_json(const slm_route_config *c, const slm_route_decision *d) {
    json_t *plan = json_array();
    for (int i = 0; i < d->n_plan; i++)
        json_array_append_new(plan, json_pack("{s:s,s:s}", "tier", c->tiers[d->plan[i].tier].name, "model",
                                              c->tiers[d->plan[i].tier].models[d->plan[i].model].name));
    return json_pack("{s:b,s:s,s:s,s:b,s:s,s:I,s:b,s:s,s:s,s:s,s:o,s:s,s:i}", "routed", d->routed, "task", d->task,
                     "task_source", d->task_source, "sensitive", d->sensitive, "sensitive_why", d->sensitive_why,
                     "prompt_tokens", (json_int_t)d->prompt_tokens, "prompt_tokens_exact", d->prompt_exact, "tier", c->tiers[d->tier].name, "rule", d->rule,
                     "reason", d->reason, "plan", plan, "skipped", d->skipped, "http_status", d->http_status);
}

static void route_usage(FILE *f) {
    fprintf(f, "usage: slm route --explain REQUEST.json [--config slm.yaml] [--header NAME:VALUE]... [--json]\n"
               "  shows which tier and model a chat request would go to, which rule chose it and why,\n"
               "  without calling any model. REQUEST.json is an OpenAI chat completion body ('-': stdin).\n");
}

typedef struct hdrs {
    const char *v[16];
    int n;
} hdrs;

static const char *hdr_get(void *ctx, const char *name) {
    hdrs *h = ctx;
    size_t n = strlen(name);
    for (int i = 0; i < h->n; i++)
        if (!strncasecmp(h->v[i], name, n) && h->v[i][n] == ':') return h->v[i] + n + 1 + (h->v[i][n + 1] == ' ');
    return NULL;
}

int cli_route(int argc, char **argv) {
    const char *req_path = NULL, *cfg_path = NULL;
    bool json = false;
    hdrs h = {.n = 0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return route_usage(stdout), 0;
        else if (!strcmp(argv[i], "--explain")) {
            if (!(req_path = cli_value("route", argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--config")) {
            if (!(cfg_path = cli_value("route", argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--header")) {
            const char *v = cli_value("route", argc, argv, &i);
            if (!v || !strchr(v, ':') || h.n == 16) return fprintf(stderr, "slm route: --header wants NAME:VALUE\n"), 2;
            h.v[h.n++] = v;
        } else if (!strcmp(argv[i], "--json")) json = true;
        else return fprintf(stderr, "slm route: unknown option '%s'\n", argv[i]), route_usage(stderr), 2;
    }
    if (!req_path) return fprintf(stderr, "slm route: --explain REQUEST.json is required\n"), route_usage(stderr), 2;
    json_error_t je;
    json_t *body = !strcmp(req_path, "-") ? json_loadf(stdin, 0, &je) : json_load_file(req_path, 0, &je);
    if (!body) return fprintf(stderr, "slm route: %s:%d: %s\n", req_path, je.line, je.text), 1;
    slm_route_config *c = NULL;
    if (!load_config("route", cfg_path, &c)) return json_decref(body), 1;
    slm_route_request req = {.body = body, .header = hdr_get, .header_ctx = &h};
    slm_route_decision d;
    slm_error err = {0};
    int rc = 0;
    if (slm_route_decide(c, &req, &d, &err)) {
        fprintf(stderr, "slm route: %s\n", err.msg);
        rc = 1;
    } else if (json) {
        json_t *j = decision_json(c, &d);
        char *s = json_dumps(j, JSON_INDENT(2));
        printf("%s\n", s ? s : "{}");
        free(s);
        json_decref(j);
    } else {
        char plan[1024];
        printf("task:      %s (%s)\n", d.task, d.task_source);
        printf("sensitive: %s%s%s%s\n", d.sensitive ? "yes" : "no", d.sensitive ? " (" : "", d.sensitive_why,
               d.sensitive ? ")" : "");
        printf("prompt:    %s%lld tokens\n", d.prompt_exact ? "" : "~", (long long)d.prompt_tokens);
        printf("rule:      %s -> tier %s\n", d.rule, c->tiers[d.tier].name);
        if (d.http_status) printf("refused:   HTTP %d: %s\n", d.http_status, d.reason);
        else printf("plan:      %s\n", plan_text(c, &d, plan, sizeof plan));
        if (d.skipped[0]) printf("skipped:   %s\n", d.skipped);
        if (!d.http_status) printf("why:       %s\n", d.reason);
    }
    if (d.http_status && !rc) rc = 3; /* would be refused */
    slm_route_config_free(c);
    json_decref(body);
    return rc;
}

/* ---- usage -------------------------------------------------------------------- */

static void usage_usage(FILE *f) {
    fprintf(f, "usage: slm usage [--since 24h|7d|2025-01-31|UNIX] [--ledger PATH] [--json]\n"
               "  summarises the router ledger ($SLM_HOME/ledger.db): requests and tokens per tier,\n"
               "  cost vs the same traffic all-frontier, escalation rate and reasons, p50/p95 latency.\n");
}

static void print_report(const json_t *r) {
    printf("requests: %lld   tokens: %lld   escalations: %lld (%.1f%%)\n",
           (long long)json_integer_value(json_object_get(r, "requests")),
           (long long)json_integer_value(json_object_get(r, "tokens")),
           (long long)json_integer_value(json_object_get(r, "escalations")),
           100 * json_real_value(json_object_get(r, "escalation_rate")));
    printf("cost: $%.4f   all-frontier: $%.4f   saved: $%.4f\n\n", json_real_value(json_object_get(r, "cost_usd")),
           json_real_value(json_object_get(r, "all_frontier_cost_usd")),
           json_real_value(json_object_get(r, "savings_usd")));
    printf("%-16s %9s %7s %12s %7s %10s %9s %9s\n", "tier", "requests", "share", "tokens", "share", "cost $",
           "p50 ms", "p95 ms");
    const char *name;
    json_t *t;
    json_object_foreach(json_object_get(r, "tiers"), name, t) {
        printf("%-16s %9lld %6.1f%% %12lld %6.1f%% %10.4f %9.1f %9.1f\n", name,
               (long long)json_integer_value(json_object_get(t, "requests")),
               100 * json_real_value(json_object_get(t, "share")),
               (long long)(json_integer_value(json_object_get(t, "tokens_in")) +
                           json_integer_value(json_object_get(t, "tokens_out"))),
               100 * json_real_value(json_object_get(t, "token_share")), json_real_value(json_object_get(t, "cost_usd")),
               json_real_value(json_object_get(t, "p50_ms")), json_real_value(json_object_get(t, "p95_ms")));
    }
    json_t *reasons = json_object_get(r, "escalation_reasons");
    if (json_object_size(reasons)) {
        printf("\nescalation reasons:\n");
        json_object_foreach(reasons, name, t) printf("  %-32s %lld\n", name, (long long)json_integer_value(t));
    }
}

int cli_usage(int argc, char **argv) {
    const char *since_s = NULL, *path = NULL;
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return usage_usage(stdout), 0;
        else if (!strcmp(argv[i], "--since")) {
            if (!(since_s = cli_value("usage", argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--ledger")) {
            if (!(path = cli_value("usage", argc, argv, &i))) return 2;
        } else if (!strcmp(argv[i], "--json")) json = true;
        else return fprintf(stderr, "slm usage: unknown option '%s'\n", argv[i]), usage_usage(stderr), 2;
    }
    double since = 0;
    if (since_s && !slm_usage_parse_since(since_s, (double)time(NULL), &since))
        return fprintf(stderr, "slm usage: bad value for --since: %s (24h, 7d, 30m, 2025-01-31, unix time)\n", since_s), 2;
    slm_ledger *l = NULL;
    slm_error err = {0};
    if (slm_ledger_open(path, &l, &err)) return fprintf(stderr, "slm usage: %s\n", err.msg), 1;
    json_t *rep = NULL;
    int rc = 0;
    if (slm_usage_report(l, since, &rep, &err)) {
        fprintf(stderr, "slm usage: %s\n", err.msg);
        rc = 1;
    } else if (json) {
        char *s = json_dumps(rep, JSON_INDENT(2));
        printf("%s\n", s ? s : "{}");
        free(s);
    } else print_report(rep);
    json_decref(rep);
    slm_ledger_close(l);
    return rc;
}
