/* slm eval: run a suite against targets (models, URLs, slm.yaml tiers and
 * the router) and report (terminal table, --json, --html), gate CI with
 * --min-success, calibrate the router's confidence threshold (--calibrate,
 * --write), check a judge against human grades (judge-check), compare two
 * saved reports (diff) or re-render one (report). Exit codes: 0 ok, 1
 * error, 2 usage, 3 a --min-success bar, a diff or a --strict judge-check
 * failed. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slm/eval.h"
#include "slm/router.h"

enum { EXIT_BAR = 3 };
#define MAX_TARGETS 32

static void eval_usage(FILE *f) {
    fprintf(f,
            "usage: slm eval SUITE -t TARGET [-t TARGET...] [options]\n"
            "       slm eval SUITE -t LOCAL -t FRONTIER --calibrate [--target PCT] [--write [slm.yaml]]\n"
            "       slm eval judge-check SUITE -j TARGET [--strict] [--min-kappa K] [--json FILE]\n"
            "       slm eval diff A.json B.json [--tol POINTS]\n"
            "       slm eval report REPORT.json [--html OUT.html]\n\n"
            "SUITE: a YAML/JSON suite, a JSONL file of cases, or a promptfoo config.\n"
            "TARGET: [LABEL=]MODEL|URL|TIER|auto[,model=NAME][,price=IN/OUT]\n"
            "  MODEL: a GGUF path or store name, run in this process;\n"
            "  URL: an OpenAI-compatible server (slm serve, or any provider) e.g.\n"
            "  http://127.0.0.1:11434; a router behind it is seen through its x-slm-tier\n"
            "  and x-slm-escalated headers (auto=http://HOST:PORT,model=auto);\n"
            "  TIER: a tier of slm.yaml (its first model); auto: the slm.yaml router in\n"
            "  this process (share answered per tier and escalation rate are reported);\n"
            "  price: USD per million input/output tokens (when the server reports none).\n\n"
            "options:\n"
            "  --config FILE        slm.yaml for tiers and auto (default $SLM_HOME/slm.yaml)\n"
            "  -j, --judge TARGET   grades rubric cases (default: the suite's judge:)\n"
            "  --calibrate          sweep the router's confidence thresholds: the first\n"
            "                       target (--local) is the local model (in process, or a\n"
            "                       server returning logprobs: its token log-probabilities\n"
            "                       are the signals), the last (--frontier) the escalation one\n"
            "  --target PCT         keep success within PCT%% of all-frontier (default 98;\n"
            "                       a value that is not a number names a target, as -t)\n"
            "  --signal NAME        mean_logprob, min_logprob, entropy or all (default all)\n"
            "  --local L, --frontier F  target labels for --calibrate\n"
            "  --write [FILE]       write the chosen threshold into slm.yaml (default: --config)\n"
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
            "exit codes: 0 ok, 1 error, 2 usage, 3 --min-success missed (judge-check --strict:\n"
            "  kappa below --min-kappa, default 0.6)\n");
}

typedef struct eval_args {
    const char *suite, *json, *html, *results, *api_env;
    const char *targets[MAX_TARGETS];
    size_t n_targets;
    double min_success;
    int64_t failures;
    bool fresh, progress, quiet;
    slm_eval_run_opts run;
    const char *config, *judge, *local, *frontier, *write_path;
    bool calibrate, write, strict;
    double calib_target, min_kappa;
    int signal; /* -1: all */
} eval_args;

/* `--target 98` (a number, maybe with %) is the calibration target; any
 * other value names a target, as -t does. */
static bool pct_value(const char *v, double *out) {
    char *end;
    double x = strtod(v, &end);
    if (end == v || (*end && strcmp(end, "%"))) return false;
    *out = x;
    return true;
}

static int parse_signal(const char *v, int *out) {
    for (int s = 0; s < SLM_CALIB_N_SIGNALS; s++)
        if (!strcmp(v, slm_calib_signal_name((slm_calib_signal)s))) return *out = s, -1;
    if (!strcmp(v, "all")) return *out = -1, -1;
    return fprintf(stderr, "slm eval: --signal: mean_logprob, min_logprob, entropy or all\n"), 2;
}

/* The new options; 0: not one of them, -1: taken, else an exit code. */
static int parse_more(eval_args *a, const char *o, const char *v) {
    double x;
    if (!strcmp(o, "--config")) a->config = v;
    else if (!strcmp(o, "-j") || !strcmp(o, "--judge")) a->judge = v;
    else if (!strcmp(o, "--local")) a->local = v;
    else if (!strcmp(o, "--frontier")) a->frontier = v;
    else if (!strcmp(o, "--signal")) return parse_signal(v, &a->signal);
    else if (!strcmp(o, "--min-kappa")) return cli_parse_float("eval", o, v, -1, 1, &a->min_kappa) ? -1 : 2;
    else if (!strcmp(o, "--target") && pct_value(v, &x)) {
        if (!(x > 0 && x <= 100)) return fprintf(stderr, "slm eval: --target: a percentage in (0, 100]\n"), 2;
        a->calib_target = x / 100.0;
    } else return 0;
    return -1;
}

static int parse_args(int argc, char **argv, eval_args *a) {
    memset(a, 0, sizeof *a);
    a->min_success = -1;
    a->failures = 10;
    a->calib_target = 0.98;
    a->min_kappa = 0.6;
    a->signal = -1;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
        int64_t n;
        int rc;
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) return eval_usage(stdout), 0;
        if (!strcmp(o, "--fresh")) a->fresh = true;
        else if (!strcmp(o, "--calibrate")) a->calibrate = true;
        else if (!strcmp(o, "--strict")) a->strict = true;
        else if (!strcmp(o, "--write")) { /* optional FILE: a following *.yaml / *.yml once SUITE is known */
            a->write = true;
            const char *nx = i + 1 < argc ? argv[i + 1] : NULL;
            size_t nl = nx ? strlen(nx) : 0;
            if (a->suite && nx && nx[0] != '-' &&
                ((nl > 5 && !strcmp(nx + nl - 5, ".yaml")) || (nl > 4 && !strcmp(nx + nl - 4, ".yml"))))
                a->write_path = argv[++i];
        }
        else if (!strcmp(o, "--progress")) a->progress = true;
        else if (!strcmp(o, "-q") || !strcmp(o, "--quiet")) a->quiet = true;
        else if (o[0] == '-' && o[1]) {
            if (!(v = cli_value("eval", argc, argv, &i))) return 2;
            if ((rc = parse_more(a, o, v)) > 0) return rc;
            if (rc < 0) continue;
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
    if ((a->write || a->local || a->frontier) && !a->calibrate)
        return fprintf(stderr, "slm eval: --write, --local and --frontier go with --calibrate\n"), 2;
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

/* slm.yaml for tier names and auto: --config, else $SLM_HOME/slm.yaml
 * (~/.slm) when present; loaded on first need. */
typedef struct cfg_ctx {
    char path[4096];
    slm_route_config *c;
    bool tried, failed;
} cfg_ctx;

static const slm_route_config *get_config(const eval_args *a, cfg_ctx *x) {
    if (x->tried) return x->c;
    x->tried = true;
    const char *home = getenv("SLM_HOME");
    if (a->config) snprintf(x->path, sizeof x->path, "%s", a->config);
    else if (home && *home) snprintf(x->path, sizeof x->path, "%s/slm.yaml", home);
    else snprintf(x->path, sizeof x->path, "%s/.slm/slm.yaml", getenv("HOME") ? getenv("HOME") : ".");
    if (!a->config && access(x->path, F_OK) != 0) return x->path[0] = 0, NULL;
    slm_error err = {0};
    if (slm_route_config_load(x->path, &x->c, &err)) {
        fprintf(stderr, "slm eval: %s\n", err.msg);
        x->failed = true;
    }
    return x->c;
}

/* A spec that is not a file: a tier or auto of slm.yaml, else a store
 * name (cli_resolve_model). */
static int resolve_target(const eval_args *a, cfg_ctx *x, slm_eval_target *t) {
    slm_error err = {0};
    if (t->kind != SLM_TARGET_LOCAL) return -1;
    if (access(t->location, F_OK) != 0) {
        const slm_route_config *c = get_config(a, x);
        if (x->failed) return 1;
        if (slm_eval_target_from_config(t, c, x->path, a->run.default_model, &err))
            return fprintf(stderr, "slm eval: %s\n", err.msg), 2;
        if (!c && !strcmp(t->location, "auto"))
            return fprintf(stderr, "slm eval: -t auto needs slm.yaml (--config FILE or $SLM_HOME/slm.yaml)\n"), 2;
    }
    if (t->kind != SLM_TARGET_LOCAL) return -1;
    char path[4096];
    if (!cli_resolve_model("eval", t->location, path, sizeof path)) return 1;
    free(t->location);
    t->location = strdup(path);
    return t->location ? -1 : 1;
}

/* Targets: files first (the first is the default model of router tiers
 * without a path), then tiers/auto/store names; none given -> the suite's
 * promptfoo providers. */
static int make_targets(eval_args *a, const slm_eval_suite *s, cfg_ctx *x, slm_eval_target *t, size_t *n) {
    *n = 0;
    const char *const *specs = a->targets;
    size_t count = a->n_targets;
    if (!count) specs = (const char *const *)s->targets, count = s->n_targets < MAX_TARGETS ? s->n_targets : MAX_TARGETS;
    if (!count) return fprintf(stderr, "slm eval: no target (use -t MODEL or -t URL)\n"), 2;
    for (size_t i = 0; i < count; i++) {
        slm_error err = {0};
        if (slm_eval_target_parse(specs[i], &t[i], &err)) return fprintf(stderr, "slm eval: %s\n", err.msg), 2;
        *n = i + 1;
    }
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < count; i++) {
            bool file = t[i].kind == SLM_TARGET_LOCAL && access(t[i].location, F_OK) == 0;
            if (file != (pass == 0)) continue;
            int rc = resolve_target(a, x, &t[i]);
            if (rc >= 0) return rc;
            if (file && !a->run.default_model) a->run.default_model = t[i].location;
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

static long label_index(const slm_eval_target *t, size_t nt, const char *label) {
    for (size_t i = 0; i < nt; i++)
        if (!strcmp(t[i].label, label)) return (long)i;
    return -1;
}

/* --calibrate: the local target reports token log-probabilities (a model
 * in process, or a URL asked for logprobs) and differs from the frontier
 * one. Sets *li, *fi. */
static int calib_setup(const eval_args *a, slm_eval_target *t, size_t nt, long *li, long *fi) {
    if (nt < 2) return fprintf(stderr, "slm eval: --calibrate needs a local and a frontier target (-t twice)\n"), 2;
    *li = a->local ? label_index(t, nt, a->local) : 0;
    *fi = a->frontier ? label_index(t, nt, a->frontier) : (long)nt - 1;
    if (*li < 0 || *fi < 0 || *li == *fi)
        return fprintf(stderr, "slm eval: --local/--frontier must name two different targets\n"), 2;
    if (t[*li].kind == SLM_TARGET_ROUTER)
        return fprintf(stderr, "slm eval: --calibrate: the local target '%s' must be a model or a server, not the router\n",
                       t[*li].label), 2;
    t[*li].logprobs = true;
    return -1;
}

/* The curve into the report, and the threshold into slm.yaml on --write. */
static int calibrate(const eval_args *a, const cfg_ctx *x, const slm_eval_run *run, const char *local,
                     const char *frontier, json_t *report) {
    slm_calib_choice c;
    slm_error err = {0};
    if (slm_eval_calibrate_run(run->results, run->n_results, local, frontier, a->calib_target, a->signal, &c, &err))
        return fprintf(stderr, "slm eval: %s\n", err.msg), 1;
    json_object_set_new(report, "calibration", slm_calib_choice_json(&c, local, frontier));
    int rc = 0;
    const char *path = a->write_path ? a->write_path : x->path[0] ? x->path : a->config;
    if (a->write && !path) rc = (fprintf(stderr, "slm eval: --write: no slm.yaml (give --write FILE or --config)\n"), 2);
    else if (a->write && slm_eval_config_set_confidence(path, slm_calib_signal_key(c.signal), c.value, &err))
        rc = (fprintf(stderr, "slm eval: --write: %s\n", err.msg), 1);
    else if (a->write) {
        fprintf(stderr, "slm eval: wrote confidence.%s: %g to %s\n", slm_calib_signal_key(c.signal), c.value, path);
        slm_route_config *cfg = NULL;
        if (!slm_route_config_load(path, &cfg, &err) && !cfg->confidence.enabled)
            fprintf(stderr, "slm eval: note: confidence.enabled is false in %s: the threshold has no effect until it is true\n",
                    path);
        slm_route_config_free(cfg);
    }
    slm_calib_choice_free(&c);
    return rc;
}

/* -j TARGET, else the suite's judge:. */
static int make_judge(eval_args *a, const slm_eval_suite *s, cfg_ctx *x, slm_eval_target *j) {
    const char *spec = a->judge ? a->judge : s->judge;
    if (!spec) return -1;
    slm_error err = {0};
    if (slm_eval_target_parse(spec, j, &err)) return fprintf(stderr, "slm eval: judge: %s\n", err.msg), 2;
    int rc = resolve_target(a, x, j);
    if (rc < 0) a->run.judge = j;
    return rc;
}

static void finish_report(eval_args *a, const slm_eval_run *run, const json_t *report, const char *results, int *rc) {
    if (run->n_resumed) fprintf(stderr, "slm eval: resumed %zu results from %s\n", run->n_resumed, results);
    if (!a->quiet) slm_eval_report_text(report, stdout, (size_t)a->failures);
    if (a->json && !write_file(a->json, report, false)) *rc = 1;
    if (a->html && !write_file(a->html, report, true)) *rc = 1;
    if (!*rc && a->min_success >= 0 && below_bar(report, a->min_success)) *rc = EXIT_BAR;
}

static int run_suite(eval_args *a) {
    slm_error err = {0};
    slm_eval_suite *s;
    if (slm_eval_suite_load(a->suite, &s, &err)) return fprintf(stderr, "slm eval: %s\n", err.msg), 1;
    slm_eval_target t[MAX_TARGETS], judge;
    memset(t, 0, sizeof t);
    memset(&judge, 0, sizeof judge);
    cfg_ctx x = {0};
    size_t nt = 0;
    long li = -1, fi = -1;
    int rc = make_targets(a, s, &x, t, &nt);
    if (rc < 0) rc = make_judge(a, s, &x, &judge);
    if (rc < 0 && a->calibrate) rc = calib_setup(a, t, nt, &li, &fi);
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
    if (rc < 0 && a->calibrate) rc = calibrate(a, &x, run, t[li].label, t[fi].label, report);
    if (rc <= 0) {
        int brc = 0;
        finish_report(a, run, report, results, &brc); /* also after a failed --write: the curve is still useful */
        rc = rc < 0 ? brc : rc;
    }
    json_decref(report);
    slm_eval_run_free(run);
    for (size_t i = 0; i < nt; i++) slm_eval_target_clear(&t[i]);
    slm_eval_target_clear(&judge);
    slm_route_config_free(x.c);
    slm_eval_suite_free(s);
    return rc;
}

static int cmd_judge_check(int argc, char **argv) {
    eval_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    if (!a.judge) return fprintf(stderr, "usage: slm eval judge-check SUITE -j TARGET [--strict] [--min-kappa K]\n"), 2;
    slm_error err = {0};
    slm_eval_suite *s;
    if (slm_eval_suite_load(a.suite, &s, &err)) return fprintf(stderr, "slm eval judge-check: %s\n", err.msg), 1;
    slm_eval_target judge;
    memset(&judge, 0, sizeof judge);
    cfg_ctx x = {0};
    rc = make_judge(&a, s, &x, &judge);
    json_t *r = NULL;
    if (rc < 0 && slm_eval_judge_check(s, &judge, &a.run, a.min_kappa, &r, &err))
        rc = (fprintf(stderr, "slm eval judge-check: %s\n", err.msg), 1);
    if (rc < 0) {
        rc = 0;
        if (!a.quiet) slm_eval_judge_check_text(r, stdout);
        if (a.json && !write_file(a.json, r, false)) rc = 1;
        if (!json_is_true(json_object_get(r, "trusted"))) {
            fprintf(stderr, "slm eval judge-check: warning: kappa %.3f is below %.2f: do not trust this judge's grades\n",
                    json_number_value(json_object_get(json_object_get(r, "pass"), "kappa")), a.min_kappa);
            if (a.strict && !rc) rc = EXIT_BAR;
        }
    }
    json_decref(r);
    slm_eval_target_clear(&judge);
    slm_route_config_free(x.c);
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
    if (argc >= 2 && !strcmp(argv[1], "judge-check")) return cmd_judge_check(argc - 1, argv + 1);
    eval_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    return run_suite(&a);
}
