/* slm eval: run a suite against targets and report (terminal table,
 * --json, --html), gate CI with --min-success, compare two saved reports
 * (slm eval diff) or re-render one (slm eval report). Exit codes: 0 ok,
 * 1 error, 2 usage, 3 a --min-success bar (or a diff) failed. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slm/eval.h"

enum { EXIT_BAR = 3 };
#define MAX_TARGETS 32

static void eval_usage(FILE *f) {
    fprintf(f,
            "usage: slm eval SUITE -t TARGET [-t TARGET...] [options]\n"
            "       slm eval diff A.json B.json [--tol POINTS]\n"
            "       slm eval report REPORT.json [--html OUT.html]\n\n"
            "SUITE: a YAML/JSON suite, a JSONL file of cases, or a promptfoo config.\n"
            "TARGET: [LABEL=]MODEL|URL[,model=NAME][,price=IN/OUT]\n"
            "  MODEL: a GGUF path or store name, run in this process;\n"
            "  URL: an OpenAI-compatible server (slm serve, or any provider) e.g.\n"
            "  http://127.0.0.1:11434 -- tiers and `auto` are evaluated through it;\n"
            "  price: USD per million input/output tokens (when the server reports none).\n\n"
            "options:\n"
            "  --json FILE          write the report document\n"
            "  --html FILE          write a self-contained HTML report\n"
            "  --results FILE       results log to append to and resume from\n"
            "                       (default: the --json file + .results.jsonl)\n"
            "  --fresh              ignore (truncate) an existing results log\n"
            "  --min-success PCT    exit 3 when a target's success is below PCT\n"
            "  --concurrency N      requests in flight per URL target (default 4)\n"
            "  --max-tokens N       default output limit per case (default 256)\n"
            "  --temp T             sampling temperature (default 0: greedy)\n"
            "  --timeout S          per-request timeout for URL targets (default 120)\n"
            "  --threads N          threads for local models (default: all cores)\n"
            "  --api-key-env VAR    send $VAR as a Bearer token to URL targets\n"
            "  --failures N         failed cases listed in the table (default 10)\n"
            "  --progress           progress lines even when stderr is not a terminal\n"
            "  -q, --quiet          no table on stdout\n"
            "exit codes: 0 ok, 1 error, 2 usage, 3 --min-success missed\n");
}

typedef struct eval_args {
    const char *suite, *json, *html, *results, *api_env;
    const char *targets[MAX_TARGETS];
    size_t n_targets;
    double min_success;
    int64_t failures;
    bool fresh, progress, quiet;
    slm_eval_run_opts run;
} eval_args;

static int parse_args(int argc, char **argv, eval_args *a) {
    memset(a, 0, sizeof *a);
    a->min_success = -1;
    a->failures = 10;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
        int64_t n;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) return eval_usage(stdout), 0;
        if (!strcmp(o, "--fresh")) a->fresh = true;
        else if (!strcmp(o, "--progress")) a->progress = true;
        else if (!strcmp(o, "-q") || !strcmp(o, "--quiet")) a->quiet = true;
        else if (o[0] == '-' && o[1]) {
            if (!(v = cli_value("eval", argc, argv, &i))) return 2;
            if (!strcmp(o, "-t") || !strcmp(o, "--target")) {
                if (a->n_targets == MAX_TARGETS) return fprintf(stderr, "slm eval: at most %d targets\n", MAX_TARGETS), 2;
                a->targets[a->n_targets++] = v;
            } else if (!strcmp(o, "--json")) a->json = v;
            else if (!strcmp(o, "--html")) a->html = v;
            else if (!strcmp(o, "--results")) a->results = v;
            else if (!strcmp(o, "--api-key-env")) a->api_env = v;
            else if (!strcmp(o, "--min-success")) {
                if (!cli_parse_float("eval", o, v, 0, 100, &a->min_success)) return 2;
            } else if (!strcmp(o, "--temp")) {
                if (!cli_parse_float("eval", o, v, 0, 10, &a->run.temperature)) return 2;
            } else if (!strcmp(o, "--timeout")) {
                if (!cli_parse_float("eval", o, v, 0.001, 86400, &a->run.timeout_s)) return 2;
            } else if (!strcmp(o, "--failures")) {
                if (!cli_parse_int("eval", o, v, 0, 1000000, &a->failures)) return 2;
            } else if (!strcmp(o, "--concurrency") || !strcmp(o, "--max-tokens") || !strcmp(o, "--threads")) {
                if (!cli_parse_int("eval", o, v, 1, !strcmp(o, "--max-tokens") ? 1000000 : 256, &n)) return 2;
                if (!strcmp(o, "--concurrency")) a->run.concurrency = (int)n;
                else if (!strcmp(o, "--threads")) a->run.n_threads = (int)n;
                else a->run.max_tokens = (int32_t)n;
            } else return fprintf(stderr, "slm eval: unknown option '%s'\n", o), 2;
        } else if (!a->suite) a->suite = o;
        else return fprintf(stderr, "slm eval: unexpected argument '%s'\n", o), 2;
    }
    if (!a->suite) return fprintf(stderr, "slm eval: missing SUITE (see slm eval --help)\n"), 2;
    return -1; /* go on */
}

static void on_progress(const slm_eval_progress *p, void *user) {
    bool tty = *(bool *)user;
    char bar[21];
    size_t fill = p->total ? p->done * 20 / p->total : 20;
    for (size_t i = 0; i < 20; i++) bar[i] = i < fill ? '#' : '.';
    bar[20] = 0;
    char eta[32] = "?";
    if (isfinite(p->eta_s)) snprintf(eta, sizeof eta, "%.0fs", p->eta_s);
    fprintf(stderr, "%s[%s] %zu/%zu %3.0f%%  %zu failed  %.1fs  ETA %s%s", tty ? "\r" : "", bar, p->done, p->total,
            p->total ? 100.0 * (double)p->done / (double)p->total : 100.0, p->failed, p->elapsed_s, eta,
            tty ? "   " : "\n");
    fflush(stderr);
}

static bool write_file(const char *path, const json_t *report, bool html) {
    FILE *f = fopen(path, "w");
    if (!f) return fprintf(stderr, "slm eval: %s: %s\n", path, strerror(errno)), false;
    slm_error err = {0};
    bool ok = html ? slm_eval_report_html(report, f, &err) == SLM_OK
                   : json_dumpf(report, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER) == 0;
    if (fclose(f) != 0) ok = false;
    if (!ok) fprintf(stderr, "slm eval: %s: %s\n", path, err.msg[0] ? err.msg : "write failed");
    return ok;
}

/* Targets: local specs resolve through the store; none given -> the
 * suite's promptfoo providers. */
static int make_targets(eval_args *a, const slm_eval_suite *s, slm_eval_target *t, size_t *n) {
    *n = 0;
    const char *const *specs = a->targets;
    size_t count = a->n_targets;
    if (!count) specs = (const char *const *)s->targets, count = s->n_targets < MAX_TARGETS ? s->n_targets : MAX_TARGETS;
    if (!count) return fprintf(stderr, "slm eval: no target (use -t MODEL or -t URL)\n"), 2;
    for (size_t i = 0; i < count; i++) {
        slm_error err = {0};
        if (slm_eval_target_parse(specs[i], &t[i], &err)) return fprintf(stderr, "slm eval: %s\n", err.msg), 2;
        *n = i + 1;
        if (t[i].kind == SLM_TARGET_LOCAL) {
            char path[4096];
            if (!cli_resolve_model("eval", t[i].location, path, sizeof path)) return 1;
            free(t[i].location);
            t[i].location = strdup(path);
            if (!t[i].location) return 1;
        }
    }
    return -1;
}

static int below_bar(const json_t *report, double min) {
    int bad = 0;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(report, "targets"), i, t) {
        json_t *m = json_object_get(t, "metrics");
        double s = json_number_value(json_object_get(m, "success_pct"));
        if (s + 1e-9 < min) {
            fprintf(stderr, "slm eval: %s: success %.1f%% is below --min-success %.1f%%\n",
                    json_string_value(json_object_get(t, "target")), s, min);
            bad = 1;
        }
    }
    return bad;
}

static int run_suite(eval_args *a) {
    slm_error err = {0};
    slm_eval_suite *s;
    if (slm_eval_suite_load(a->suite, &s, &err)) return fprintf(stderr, "slm eval: %s\n", err.msg), 1;
    slm_eval_target t[MAX_TARGETS];
    memset(t, 0, sizeof t);
    size_t nt = 0;
    int rc = make_targets(a, s, t, &nt);
    char results[4096] = "";
    if (a->results) snprintf(results, sizeof results, "%s", a->results);
    else if (a->json) snprintf(results, sizeof results, "%s.results.jsonl", a->json);
    if (rc < 0 && results[0] && a->fresh && unlink(results) && errno != ENOENT)
        rc = (fprintf(stderr, "slm eval: %s: %s\n", results, strerror(errno)), 1);
    bool tty = isatty(STDERR_FILENO);
    a->run.results_path = results[0] ? results : NULL;
    a->run.api_key = a->api_env ? getenv(a->api_env) : NULL;
    if (tty || a->progress) a->run.on_progress = on_progress, a->run.user = &tty;
    slm_eval_run *run = NULL;
    if (rc < 0 && slm_eval_run_suite(s, t, nt, &a->run, &run, &err))
        rc = (fprintf(stderr, "%sslm eval: %s\n", tty ? "\n" : "", err.msg), 1);
    if (tty && a->run.on_progress) fputc('\n', stderr);
    json_t *report = rc < 0 ? slm_eval_report_json(run, &err) : NULL;
    if (rc < 0 && !report) rc = (fprintf(stderr, "slm eval: %s\n", err.msg), 1);
    if (rc < 0) {
        if (run->n_resumed) fprintf(stderr, "slm eval: resumed %zu results from %s\n", run->n_resumed, results);
        if (!a->quiet) slm_eval_report_text(report, stdout, (size_t)a->failures);
        rc = 0;
        if (a->json && !write_file(a->json, report, false)) rc = 1;
        if (a->html && !write_file(a->html, report, true)) rc = 1;
        if (!rc && a->min_success >= 0 && below_bar(report, a->min_success)) rc = EXIT_BAR;
    }
    json_decref(report);
    slm_eval_run_free(run);
    for (size_t i = 0; i < nt; i++) slm_eval_target_clear(&t[i]);
    slm_eval_suite_free(s);
    return rc;
}

static int cmd_diff(int argc, char **argv) {
    const char *paths[2] = {0};
    int np = 0;
    double tol = 1.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tol")) {
            const char *v = cli_value("eval diff", argc, argv, &i);
            if (!v || !cli_parse_float("eval diff", "--tol", v, 0, 100, &tol)) return 2;
        } else if (np < 2 && argv[i][0] != '-') paths[np++] = argv[i];
        else return fprintf(stderr, "slm eval diff: unexpected argument '%s'\n", argv[i]), 2;
    }
    if (np != 2) return fprintf(stderr, "usage: slm eval diff A.json B.json [--tol POINTS]\n"), 2;
    json_t *r[2] = {0};
    slm_error err = {0};
    int rc = 0;
    for (int k = 0; k < 2 && !rc; k++)
        if (slm_eval_report_load(paths[k], &r[k], &err)) rc = (fprintf(stderr, "slm eval diff: %s\n", err.msg), 1);
    size_t regressions = 0;
    if (!rc && slm_eval_diff(r[0], r[1], tol, stdout, &regressions, &err))
        rc = (fprintf(stderr, "slm eval diff: %s\n", err.msg), 1);
    if (!rc && regressions) rc = EXIT_BAR;
    json_decref(r[0]);
    json_decref(r[1]);
    return rc;
}

static int cmd_report(int argc, char **argv) {
    const char *path = NULL, *html = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--html")) {
            if (!(html = cli_value("eval report", argc, argv, &i))) return 2;
        } else if (!path && argv[i][0] != '-') path = argv[i];
        else return fprintf(stderr, "slm eval report: unexpected argument '%s'\n", argv[i]), 2;
    }
    if (!path) return fprintf(stderr, "usage: slm eval report REPORT.json [--html OUT.html]\n"), 2;
    json_t *r;
    slm_error err = {0};
    if (slm_eval_report_load(path, &r, &err)) return fprintf(stderr, "slm eval report: %s\n", err.msg), 1;
    int rc = 0;
    if (html) rc = write_file(html, r, true) ? 0 : 1;
    else slm_eval_report_text(r, stdout, 1000);
    json_decref(r);
    return rc;
}

int cli_eval(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "diff")) return cmd_diff(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "report")) return cmd_report(argc - 1, argv + 1);
    eval_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    return run_suite(&a);
}
