/* `slm serve`: runs the OpenAI- and Ollama-compatible HTTP server over one
 * or more models until SIGINT/SIGTERM, then shuts down gracefully. */
#include "cli.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slm/router.h"
#include "slm/server.h"

#define MAX_MODELS 32
#define MAX_HOSTS 32

typedef struct serve_opts {
    slm_server_config cfg;
    slm_server_model models[MAX_MODELS];
    char names[MAX_MODELS][256];
    char paths[MAX_MODELS][4096];
    const char *hosts[MAX_HOSTS];
    double grace_s;
    const char *config; /* slm.yaml (--config) */
} serve_opts;

static void serve_usage(FILE *f) {
    fprintf(f,
            "usage: slm serve --model PATH [options]\n"
            "  Serves the OpenAI API (/v1/chat/completions, /v1/completions, /v1/models) and the\n"
            "  Ollama API (/api/chat, /api/generate, /api/tags, /api/show, /api/ps, /api/version,\n"
            "  /api/pull, /api/delete), plus GET /health and GET /metrics (Prometheus). A request\n"
            "  may name any model in the store ($SLM_HOME); it is loaded on first use.\n"
            "options:\n"
            "  -m, --model [NAME=]MODEL a GGUF file or a store name (repeatable); NAME defaults to\n"
            "                           the store name or the file name without .gguf. Models\n"
            "                           load on first use.\n"
            "  --host ADDR              address to bind (default 127.0.0.1; others need --api-key)\n"
            "  --port N                 port (default 11434; 0 = any free port)\n"
            "  --parallel N             concurrent sequences per model (default 4)\n"
            "  -c, --ctx N              context tokens per sequence (default: the model's, max 4096)\n"
            "  --batch N                tokens per forward pass (default 512)\n"
            "  --queue N                requests waiting for a slot before 429 (default 64)\n"
            "  -t, --threads N          kernel threads (default: all cores)\n"
            "  --api-key KEY            require Authorization: Bearer KEY (also $SLM_API_KEY)\n"
            "  --insecure-no-auth       allow a non-loopback bind without a key (logged loudly)\n"
            "  --allow-host NAME        extra accepted Host header name (repeatable; * = any)\n"
            "  --cors-origin ORIGIN     allow browser requests from ORIGIN (* = any; default: none)\n"
            "  --max-body BYTES         request body limit (default 8388608)\n"
            "  --max-tokens N           generated tokens per request at most (default: the context)\n"
            "  --timeout S              idle connection timeout in seconds (default 300)\n"
            "  --keep-alive S           unload a model after S idle seconds (default 300; -1 = never)\n"
            "  --grace S                on SIGTERM, let requests finish for S seconds (default 10)\n"
            "  --config FILE            tiered routing config (default: $SLM_HOME/slm.yaml when it\n"
            "                           exists; see examples/slm.yaml). Requests for \"auto\" (or a\n"
            "                           configured model) are routed, recorded in the ledger and\n"
            "                           answered with x-slm-tier/-model/-escalated headers. A bad\n"
            "                           file stops serve. Without one, \"auto\" is the first model.\n"
            "  -q, --quiet              no per-request log lines\n");
}

static bool add_model(serve_opts *o, const char *v) {
    int i = o->cfg.n_models;
    if (i >= MAX_MODELS) {
        fprintf(stderr, "slm serve: at most %d models\n", MAX_MODELS);
        return false;
    }
    const char *eq = strchr(v, '=');
    const char *path = eq ? eq + 1 : v;
    if (!*path || !cli_resolve_model("serve", path, o->paths[i], sizeof o->paths[i])) return false;
    bool store_name = strcmp(path, o->paths[i]) != 0;
    if (eq) {
        snprintf(o->names[i], sizeof o->names[i], "%.*s", (int)(eq - v), v);
    } else if (store_name) {
        snprintf(o->names[i], sizeof o->names[i], "%s", path); /* requests use the store name */
    } else {
        const char *base = strrchr(v, '/');
        snprintf(o->names[i], sizeof o->names[i], "%s", base ? base + 1 : v);
        size_t n = strlen(o->names[i]);
        if (n > 5 && strcmp(o->names[i] + n - 5, ".gguf") == 0) o->names[i][n - 5] = '\0';
    }
    if (!o->names[i][0]) {
        fprintf(stderr, "slm serve: bad value for --model: %s\n", v);
        return false;
    }
    o->models[i] = (slm_server_model){.name = o->names[i], .path = o->paths[i]};
    o->cfg.n_models++;
    return true;
}

static bool parse_int_opt(const char *a, int argc, char **argv, int *i, int64_t lo, int64_t hi, int64_t *out) {
    const char *v = cli_value("serve", argc, argv, i);
    return v && cli_parse_int("serve", a, v, lo, hi, out);
}

/* 1: consumed, 0: unknown, -1: error. */
static int parse_numeric(const char *a, int argc, char **argv, int *i, serve_opts *o) {
    int64_t n;
    slm_sched_params *sp = &o->cfg.sched;
    bool ok;
    if (strcmp(a, "--port") == 0) ok = parse_int_opt(a, argc, argv, i, 0, 65535, &n) && (o->cfg.port = (uint16_t)n, 1);
    else if (strcmp(a, "--parallel") == 0) ok = parse_int_opt(a, argc, argv, i, 1, 256, &n) && (sp->n_parallel = (int32_t)n, 1);
    else if (strcmp(a, "-c") == 0 || strcmp(a, "--ctx") == 0)
        ok = parse_int_opt(a, argc, argv, i, 16, 1 << 20, &n) && (sp->n_ctx = (int32_t)n, 1);
    else if (strcmp(a, "--batch") == 0) ok = parse_int_opt(a, argc, argv, i, 1, 1 << 16, &n) && (sp->n_batch = (int32_t)n, 1);
    else if (strcmp(a, "--queue") == 0) ok = parse_int_opt(a, argc, argv, i, 1, 1 << 20, &n) && (sp->max_queue = (int32_t)n, 1);
    else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0)
        ok = parse_int_opt(a, argc, argv, i, 1, 512, &n) && (sp->n_threads = (int)n, 1);
    else if (strcmp(a, "--max-body") == 0)
        ok = parse_int_opt(a, argc, argv, i, 1024, (int64_t)1 << 32, &n) && (o->cfg.max_body = (size_t)n, 1);
    else if (strcmp(a, "--max-tokens") == 0)
        ok = parse_int_opt(a, argc, argv, i, 1, INT32_MAX, &n) && (o->cfg.max_tokens = (int32_t)n, 1);
    else if (strcmp(a, "--timeout") == 0) ok = parse_int_opt(a, argc, argv, i, 1, 86400, &n) && (o->cfg.timeout_s = (unsigned)n, 1);
    else if (strcmp(a, "--keep-alive") == 0)
        ok = parse_int_opt(a, argc, argv, i, -1, 1 << 30, &n) && (o->cfg.keep_alive_s = n < 0 ? -1.0 : n == 0 ? 1e-3 : (double)n, 1);
    else if (strcmp(a, "--grace") == 0) ok = parse_int_opt(a, argc, argv, i, 0, 3600, &n) && (o->grace_s = (double)n, 1);
    else return 0;
    return ok ? 1 : -1;
}

static int parse_args(int argc, char **argv, serve_opts *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int r = parse_numeric(a, argc, argv, &i, o);
        if (r < 0) return 2;
        if (r > 0) continue;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            serve_usage(stdout);
            return 0;
        } else if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0) {
            if (!(v = cli_value("serve", argc, argv, &i)) || !add_model(o, v)) return 2;
        } else if (strcmp(a, "--host") == 0) {
            if (!(o->cfg.host = cli_value("serve", argc, argv, &i))) return 2;
        } else if (strcmp(a, "--api-key") == 0) {
            if (!(o->cfg.api_key = cli_value("serve", argc, argv, &i))) return 2;
        } else if (strcmp(a, "--insecure-no-auth") == 0) {
            o->cfg.insecure_no_auth = true;
        } else if (strcmp(a, "--allow-host") == 0) {
            if (!(v = cli_value("serve", argc, argv, &i))) return 2;
            if (o->cfg.n_allowed_hosts >= MAX_HOSTS) {
                fprintf(stderr, "slm serve: at most %d --allow-host\n", MAX_HOSTS);
                return 2;
            }
            o->hosts[o->cfg.n_allowed_hosts++] = v;
        } else if (strcmp(a, "--cors-origin") == 0) {
            if (!(o->cfg.cors_origin = cli_value("serve", argc, argv, &i))) return 2;
        } else if (strcmp(a, "--config") == 0) {
            if (!(o->config = cli_value("serve", argc, argv, &i))) return 2;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            o->cfg.log_requests = false;
        } else if (a[0] == '-') {
            fprintf(stderr, "slm serve: unknown option '%s' (see slm serve --help)\n", a);
            return 2;
        } else if (!add_model(o, a)) {
            return 2;
        }
    }
    return -1;
}

/* Local tier models with a path are served under their own names (unless a
 * --model already serves that name or file). */
static bool serve_local_models(serve_opts *o, const slm_route_config *rc) {
    for (int t = 0; t < rc->n_tiers; t++)
        for (int k = 0; k < rc->tiers[t].n_models; k++) {
            const slm_route_model *m = &rc->tiers[t].models[k];
            bool served = !m->local || !m->path;
            for (int i = 0; !served && i < o->cfg.n_models; i++)
                served = !strcmp(o->names[i], m->name) || !strcmp(o->names[i], m->path) || !strcmp(o->paths[i], m->path);
            char spec[4096];
            if (served) continue;
            if ((size_t)snprintf(spec, sizeof spec, "%s=%s", m->name, m->path) >= sizeof spec || !add_model(o, spec))
                return false;
        }
    return true;
}

/* The router: slm.yaml from --config, else $SLM_HOME/slm.yaml when present
 * (a bad file stops serve; the message names file:line), else the built-in
 * one-local-tier config without a ledger (only "auto" is routed). */
static bool open_router(serve_opts *o, slm_router **out) {
    char def[4096];
    const char *path = o->config;
    if (!path) {
        const char *home = getenv("SLM_HOME");
        if (home && *home) snprintf(def, sizeof def, "%s/slm.yaml", home);
        else snprintf(def, sizeof def, "%s/.slm/slm.yaml", getenv("HOME") ? getenv("HOME") : ".");
        if (access(def, F_OK) == 0) path = def;
    }
    if (!path && o->cfg.n_models == 0) return true; /* nothing to serve: reported by the caller */
    slm_route_config *rc = NULL;
    slm_error err = {0};
    slm_status st = path ? slm_route_config_load(path, &rc, &err) : slm_route_config_default(o->names[0], &rc, &err);
    if (st == SLM_OK && path && !serve_local_models(o, rc)) {
        slm_route_config_free(rc);
        return false;
    }
    if (st == SLM_OK) st = slm_router_open(rc, path ? NULL : "", out, &err); /* takes rc */
    if (st != SLM_OK) fprintf(stderr, "slm serve: %s\n", err.msg);
    return st == SLM_OK;
}

int cli_serve(int argc, char **argv) {
    serve_opts o = {.grace_s = 10};
    o.cfg.port = 11434;
    o.cfg.log_requests = true;
    o.cfg.models = o.models;
    o.cfg.allowed_hosts = o.hosts;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    if (!o.cfg.api_key) o.cfg.api_key = getenv("SLM_API_KEY");
    slm_router *router = NULL;
    if (!open_router(&o, &router)) return 1;
    o.cfg.router = router;
    if (o.cfg.n_models == 0) {
        fprintf(stderr, "slm serve: no model given (use --model PATH; see slm serve --help)\n");
        slm_router_close(router);
        return 2;
    }
    /* Signals are taken by sigwait below; every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    slm_server *s = NULL;
    slm_error err = {0};
    if (slm_server_start(&o.cfg, &s, &err) != SLM_OK) {
        fprintf(stderr, "slm serve: %s\n", err.msg);
        slm_router_close(router);
        return 1;
    }
    printf("slm serve: listening on http://%s:%u\n", o.cfg.host ? o.cfg.host : "127.0.0.1", (unsigned)slm_server_port(s));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "slm serve: %s received, shutting down (grace %.0f s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM",
            o.grace_s);
    slm_server_shutdown(s, o.grace_s);
    slm_server_free(s);
    slm_router_close(router);
    return 0;
}
