/* Store subcommands: `slm pull`, `slm list`, `slm rm`, `slm scan`, and
 * cli_resolve_model, which turns a model argument (path, store name or
 * pinned name) into a GGUF path for run/show/bench. Progress of a pull is a
 * redrawn bar on a terminal, plain lines otherwise, JSON lines with --json. */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "slm/store.h"

/* Exit codes of `slm scan` (1 = error, 2 = usage, as everywhere). */
enum { SCAN_EXIT_UNSAFE = 3, SCAN_EXIT_UNSUPPORTED = 4 };

static bool open_store(const char *cmd, slm_store **s) {
    slm_error err = {0};
    if (slm_store_open(NULL, s, &err) == SLM_OK) return true;
    fprintf(stderr, "slm %s: %s\n", cmd, err.msg);
    return false;
}

/* Looks like a file path rather than a store name. */
static bool path_like(const char *a) {
    size_t n = strlen(a);
    bool hf = !strncmp(a, "hf.co/", 6) || !strncmp(a, "huggingface.co/", 15) || !strncmp(a, "https://", 8);
    return a[0] == '/' || a[0] == '.' || (!hf && n > 5 && !strcmp(a + n - 5, ".gguf"));
}

bool cli_resolve_model(const char *cmd, const char *arg, char *path, size_t cap) {
    if (access(arg, F_OK) == 0 || path_like(arg)) {
        snprintf(path, cap, "%s", arg); /* a path: the loader reports what is wrong with it */
        return true;
    }
    slm_store *s;
    slm_error err = {0};
    if (!open_store(cmd, &s)) return false;
    slm_status st = slm_store_resolve(s, arg, path, cap, &err);
    slm_store_close(s);
    if (st != SLM_OK) fprintf(stderr, "slm %s: %s\n", cmd, err.msg);
    return st == SLM_OK;
}

/* ---- pull ----------------------------------------------------------------- */

typedef struct progress_ui {
    bool json, tty, quiet;
    int last_decile;
    char last_phase[32];
} progress_ui;

static void progress_json(const slm_pull_event *ev) {
    json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:f}", "phase", ev->phase, "what", ev->what ? ev->what : "", "done",
                          (json_int_t)ev->done, "total", (json_int_t)ev->total, "bytes_per_s", ev->bytes_per_s);
    if (ev->detail) json_object_set_new(o, "detail", json_string(ev->detail));
    char *s = json_dumps(o, JSON_COMPACT);
    if (s) printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(o);
}

static void progress_bar(progress_ui *ui, const slm_pull_event *ev) {
    char a[32], b[32], r[32];
    int pct = ev->total ? (int)(100.0 * (double)ev->done / (double)ev->total) : 0;
    double eta = ev->bytes_per_s > 0 && ev->total > ev->done ? (double)(ev->total - ev->done) / ev->bytes_per_s : 0;
    if (ui->tty) {
        char bar[21];
        for (int i = 0; i < 20; i++) bar[i] = i < pct / 5 ? '#' : '.';
        bar[20] = '\0';
        fprintf(stderr, "\r%-24.24s [%s] %3d%% %s/%s %s/s ETA %.0fs   ", ev->what, bar, pct,
                cli_bytes(ev->done, a, sizeof a), cli_bytes(ev->total, b, sizeof b),
                cli_bytes((uint64_t)ev->bytes_per_s, r, sizeof r), eta);
        return;
    }
    if (pct / 10 == ui->last_decile) return; /* plain lines: one per 10% */
    ui->last_decile = pct / 10;
    fprintf(stderr, "%s: %d%% (%s of %s, %s/s)\n", ev->what, pct, cli_bytes(ev->done, a, sizeof a),
            cli_bytes(ev->total, b, sizeof b), cli_bytes((uint64_t)ev->bytes_per_s, r, sizeof r));
}

static void on_progress(const slm_pull_event *ev, void *ud) {
    progress_ui *ui = ud;
    if (ui->json) return progress_json(ev);
    if (ui->quiet) return;
    bool new_phase = strcmp(ui->last_phase, ev->phase) != 0;
    snprintf(ui->last_phase, sizeof ui->last_phase, "%s", ev->phase);
    if (strcmp(ev->phase, "download") == 0) return progress_bar(ui, ev);
    if (ui->tty && !new_phase && !ev->detail) return;
    if (ui->tty) fputc('\n', stderr);
    ui->last_decile = -1;
    fprintf(stderr, "%s %s%s%s\n", ev->phase, ev->what ? ev->what : "", ev->detail ? ": " : "",
            ev->detail ? ev->detail : "");
}

static void pull_usage(FILE *f) {
    fprintf(f, "usage: slm pull NAME [options]\n"
               "  NAME: MODEL[:TAG] or NS/MODEL[:TAG] (Ollama registry), hf.co/ORG/REPO[:QUANT] (default Q4_K_M),\n"
               "        hf.co/ORG/REPO/FILE.gguf, https://huggingface.co/ORG/REPO/resolve/main/FILE.gguf;\n"
               "        append @sha256:HEX to pin the model's content (pull fails if it differs)\n"
               "  --json            progress and result as JSON lines on stdout\n"
               "  --quiet           no progress output\n"
               "  --registry URL    Ollama registry (default $SLM_REGISTRY or https://registry.ollama.ai)\n"
               "  --hf-endpoint URL Hugging Face endpoint (default $HF_ENDPOINT or https://huggingface.co)\n"
               "  --retries N       retries after a network failure (default 3)\n"
               "  --min-free BYTES  disk space to leave free (default 0)\n"
               "  --connections N   parallel Range requests for files of 64 MiB or more (default 4; 1: one stream)\n"
               "  Downloads resume after an interruption (large files chunk by chunk); every file is checked\n"
               "  against its SHA-256 before it enters the store.\n"
               "  $HF_TOKEN is sent to the Hugging Face endpoint for gated repositories.\n");
}

static int print_pulled(const slm_store_entry *e, bool json) {
    char b[32];
    if (json) {
        printf("{\"phase\":\"result\",\"name\":\"%s\",\"digest\":\"%s\",\"size\":%llu,\"quant\":\"%s\"}\n", e->name,
               e->digest, (unsigned long long)e->size, e->quant);
    } else {
        printf("pulled %s  %s  %s  %s%s\n", e->name, e->digest, cli_bytes(e->size, b, sizeof b), e->quant,
               e->pinned ? "  (pinned)" : "");
    }
    return 0;
}

int cli_pull(int argc, char **argv) {
    slm_pull_opts o = {0};
    progress_ui ui = {.tty = isatty(2), .last_decile = -1};
    const char *name = NULL, *v;
    int64_t n;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return pull_usage(stdout), 0;
        else if (!strcmp(a, "--json")) ui.json = true;
        else if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) ui.quiet = true;
        else if (!strcmp(a, "--registry")) { if (!(o.registry = cli_value("pull", argc, argv, &i))) return 2; }
        else if (!strcmp(a, "--hf-endpoint")) { if (!(o.hf_endpoint = cli_value("pull", argc, argv, &i))) return 2; }
        else if (!strcmp(a, "--retries")) {
            if (!(v = cli_value("pull", argc, argv, &i)) || !cli_parse_int("pull", a, v, 0, 100, &n)) return 2;
            o.retries = n ? (int)n : -1; /* 0 means default in the library */
        } else if (!strcmp(a, "--connections")) {
            if (!(v = cli_value("pull", argc, argv, &i)) || !cli_parse_int("pull", a, v, 1, 64, &n)) return 2;
            o.connections = (int)n;
        } else if (!strcmp(a, "--min-free")) {
            if (!(v = cli_value("pull", argc, argv, &i)) || !cli_parse_u64("pull", a, v, &o.min_free_bytes)) return 2;
        } else if (a[0] == '-') return fprintf(stderr, "slm pull: unknown option %s\n", a), 2;
        else if (!name) name = a;
        else return fprintf(stderr, "slm pull: one model at a time (got '%s' and '%s')\n", name, a), 2;
    }
    if (!name) return pull_usage(stderr), 2;
    o.progress = on_progress;
    o.progress_ud = &ui;
    if (getenv("SLM_RETRY_DELAY_MS")) o.retry_delay_ms = atoi(getenv("SLM_RETRY_DELAY_MS"));
    if (getenv("SLM_HEADER_BYTES")) o.header_bytes = strtoull(getenv("SLM_HEADER_BYTES"), NULL, 10); /* tests */
    slm_pull_env_opts(&o);
    slm_store *s;
    if (!open_store("pull", &s)) return 1;
    slm_store_entry e;
    slm_error err = {0};
    slm_status st = slm_store_pull(s, name, &o, &e, &err);
    slm_store_close(s);
    if (ui.tty && !ui.json && !ui.quiet) fputc('\n', stderr);
    if (st != SLM_OK) return fprintf(stderr, "slm pull: %s\n", err.msg), 1;
    return print_pulled(&e, ui.json);
}

/* ---- list ----------------------------------------------------------------- */

static json_t *entry_json(const slm_store_entry *e, const char *verify) {
    json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:I,s:b}", "name", e->name, "digest", e->digest, "size",
                          (json_int_t)e->size, "quant", e->quant, "arch", e->arch, "source", e->source, "modified",
                          (json_int_t)e->modified, "pinned", e->pinned);
    if (verify) json_object_set_new(o, "verified", verify[0] ? json_false() : json_true());
    return o;
}

static void print_row(const slm_store_entry *e, const char *verify) {
    char b[32], when[32];
    time_t t = (time_t)e->modified;
    struct tm tm;
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime_r(&t, &tm));
    printf("%-40s %-12.12s %10s  %-8s %s%s%s\n", e->name, e->digest + 7, cli_bytes(e->size, b, sizeof b),
           e->quant[0] ? e->quant : "-", when, e->pinned ? "  pinned" : "",
           verify ? (verify[0] ? "  CORRUPT" : "  verified") : "");
}

static void list_usage(FILE *f) {
    fprintf(f, "usage: slm list [--json] [--verify]\n"
               "  Models in the store ($SLM_HOME, default ~/.slm): name, digest prefix, size, quantization,\n"
               "  modified. --verify re-hashes every blob (exit 1 if any no longer matches).\n");
}

int cli_list(int argc, char **argv) {
    bool json = false, verify = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return list_usage(stdout), 0;
        if (!strcmp(argv[i], "--json")) json = true;
        else if (!strcmp(argv[i], "--verify")) verify = true;
        else return fprintf(stderr, "slm list: unknown option %s\n", argv[i]), 2;
    }
    slm_store *s;
    slm_store_entry *v = NULL;
    size_t n = 0;
    slm_error err = {0};
    if (!open_store("list", &s)) return 1;
    if (slm_store_list(s, &v, &n, &err) != SLM_OK) {
        slm_store_close(s);
        return fprintf(stderr, "slm list: %s\n", err.msg), 1;
    }
    int rc = 0;
    json_t *arr = json_array();
    if (!json && n) printf("%-40s %-12s %10s  %-8s %s\n", "NAME", "DIGEST", "SIZE", "QUANT", "MODIFIED");
    for (size_t i = 0; i < n; i++) {
        slm_error verr = {0};
        bool bad = verify && slm_store_verify(s, &v[i], &verr) != SLM_OK;
        if (bad) fprintf(stderr, "slm list: %s\n", verr.msg), rc = 1;
        const char *vs = verify ? (bad ? "bad" : "") : NULL;
        if (json) json_array_append_new(arr, entry_json(&v[i], vs));
        else print_row(&v[i], vs);
    }
    if (json) {
        char *t = json_dumps(arr, JSON_INDENT(2));
        if (t) printf("%s\n", t);
        free(t);
    }
    json_decref(arr);
    free(v);
    slm_store_close(s);
    return rc;
}

/* ---- rm ------------------------------------------------------------------- */

int cli_rm(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc < 2 ? stderr : stdout, "usage: slm rm NAME...\n"
                                            "  Removes models from the store, and blobs no other model uses.\n");
        return argc < 2 ? 2 : 0;
    }
    slm_store *s;
    if (!open_store("rm", &s)) return 1;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        slm_error err = {0};
        if (slm_store_remove(s, argv[i], &err) != SLM_OK) fprintf(stderr, "slm rm: %s\n", err.msg), rc = 1;
        else printf("deleted '%s'\n", argv[i]);
    }
    slm_store_close(s);
    return rc;
}

/* ---- scan ----------------------------------------------------------------- */

static void scan_usage(FILE *f) {
    fprintf(f, "usage: slm scan PATH|NAME [--json]\n"
               "  Identifies the file's format from its bytes and checks it is safe to load: GGUF gets full\n"
               "  validation plus tensor and chat-template checks. Pickles (raw or in PyTorch .bin/.pt/.pth/.ckpt\n"
               "  zip archives) are never unpickled: their opcodes are walked and every import listed; dangerous\n"
               "  or unknown imports and broken streams make them UNSAFE. safetensors headers are validated.\n"
               "  slm loads GGUF only, so any other valid file is UNSUPPORTED.\n"
               "  Exit status: 0 SAFE, 3 UNSAFE, 4 UNSUPPORTED (not GGUF), 1 error, 2 usage.\n");
}

static int scan_exit(slm_scan_verdict v) {
    return v == SLM_SCAN_SAFE ? 0 : v == SLM_SCAN_UNSAFE ? SCAN_EXIT_UNSAFE : SCAN_EXIT_UNSUPPORTED;
}

static void print_scan(const char *path, const slm_scan_report *r, bool json) {
    if (json) {
        json_t *f = json_array();
        for (int i = 0; i < r->n_findings; i++) json_array_append_new(f, json_string(r->findings[i]));
        json_t *imp = json_array();
        for (int i = 0; i < r->n_imports && i < SLM_SCAN_MAX_IMPORTS; i++)
            json_array_append_new(imp, json_string(r->imports[i]));
        json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:o,s:o}", "file", path, "format", r->format, "verdict",
                              slm_scan_verdict_name(r->verdict), "tensors", (json_int_t)r->n_tensors,
                              "tensor_bytes", (json_int_t)r->tensor_bytes, "findings", f, "imports", imp);
        char *t = json_dumps(o, JSON_INDENT(2));
        if (t) printf("%s\n", t);
        free(t);
        json_decref(o);
        return;
    }
    printf("%s: %s (%s)\n", path, slm_scan_verdict_name(r->verdict), r->format);
    for (int i = 0; i < r->n_findings; i++) printf("  - %s\n", r->findings[i]);
    if (r->n_imports) {
        printf("  imports:");
        for (int i = 0; i < r->n_imports && i < SLM_SCAN_MAX_IMPORTS; i++) printf(" %s", r->imports[i]);
        printf(r->n_imports > SLM_SCAN_MAX_IMPORTS ? " ... (%d in all)\n" : "\n", r->n_imports);
    }
}

int cli_scan(int argc, char **argv) {
    bool json = false;
    const char *arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return scan_usage(stdout), 0;
        if (!strcmp(argv[i], "--json")) json = true;
        else if (argv[i][0] == '-') return fprintf(stderr, "slm scan: unknown option %s\n", argv[i]), 2;
        else if (!arg) arg = argv[i];
        else return fprintf(stderr, "slm scan: one file at a time\n"), 2;
    }
    if (!arg) return scan_usage(stderr), 2;
    char path[4096];
    if (!cli_resolve_model("scan", arg, path, sizeof path)) return 1;
    slm_scan_report r;
    slm_error err = {0};
    if (slm_scan_file(path, &r, &err) != SLM_OK) return fprintf(stderr, "slm scan: %s\n", err.msg), 1;
    print_scan(path, &r, json);
    if (r.verdict != SLM_SCAN_SAFE && !json)
        fprintf(stderr, "slm scan: %s is %s\n", path, slm_scan_verdict_name(r.verdict));
    return scan_exit(r.verdict);
}
