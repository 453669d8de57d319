/* `slm fit`: the memory planner on the command line. A model (path, store
 * name, or a registry/Hugging Face name read by its remote header) gets an
 * exact plan (slm_fit_plan_gguf); `--params 8B --quant Q4_K_M` gets the
 * rule-of-thumb estimate, labelled as such. Exit 0 fits or tight, 3 does
 * not fit, 1 error, 2 usage. */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "slm/fit.h"
#include "slm/store.h"

enum { FIT_EXIT_NO = 3 };

typedef struct fit_args {
    const char *model, *quant, *registry, *hf_endpoint;
    double params;
    bool json;
    slm_fit_opts o;
} fit_args;

static void fit_usage(FILE *f) {
    fprintf(f, "usage: slm fit MODEL [--ctx N] [--parallel N] [--batch N] [--threads N] [--available SIZE] [--json]\n"
               "       slm fit --params 8B --quant Q4_K_M [--available SIZE] [--json]\n"
               "  Will MODEL run here? Exact bytes for the weights (by tensor type), KV cache and compute\n"
               "  buffers slm allocates, plus an overhead estimate, against MemAvailable (or --available,\n"
               "  e.g. 16G). Verdict fits / tight (under 15%% to spare) / does not fit, the largest context\n"
               "  that fits, and which quantization of the same model would fit. MODEL: a GGUF path, a store\n"
               "  name, or a name to pull (only its header is read, with a Range request; --registry URL and\n"
               "  --hf-endpoint URL as for slm pull).\n"
               "  --params/--quant: the rule of thumb (parameters x bits per weight, plus 1-4 GB).\n"
               "  Exit status: 0 fits or tight, 3 does not fit, 1 error, 2 usage.\n");
}

static bool parse_size(const char *s, uint64_t *out) {
    char *end;
    double v = strtod(s, &end);
    double mul = 1;
    if (*end == 'K' || *end == 'k') mul = 1024.0, end++;
    else if (*end == 'M' || *end == 'm') mul = 1024.0 * 1024, end++;
    else if (*end == 'G' || *end == 'g') mul = 1024.0 * 1024 * 1024, end++;
    else if (*end == 'T' || *end == 't') mul = 1024.0 * 1024 * 1024 * 1024, end++;
    if (*end == 'i' && end[-1] != *s) end++;
    if ((*end == 'B' || *end == 'b') && end != s) end++;
    if (end == s || *end || !(v > 0) || v * mul > 1.8e19) return false;
    *out = (uint64_t)(v * mul);
    return true;
}

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, fit_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v;
        int64_t n;
        int32_t *dst = !strcmp(o, "--ctx") || !strcmp(o, "-c") ? &a->o.n_ctx
                       : !strcmp(o, "--parallel") || !strcmp(o, "-np") ? &a->o.n_parallel
                       : !strcmp(o, "--batch") || !strcmp(o, "-b") ? &a->o.n_batch
                       : !strcmp(o, "--threads") || !strcmp(o, "-t") ? &a->o.n_threads : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) return fit_usage(stdout), 0;
        if (!strcmp(o, "--json")) a->json = true;
        else if (dst) {
            if (!(v = cli_value("fit", argc, argv, &i)) || !cli_parse_int("fit", o, v, 1, 1 << 24, &n)) return 2;
            *dst = (int32_t)n;
        } else if (!strcmp(o, "--available")) {
            if (!(v = cli_value("fit", argc, argv, &i))) return 2;
            if (!parse_size(v, &a->o.available)) return fprintf(stderr, "slm fit: bad value for --available: %s\n", v), 2;
        } else if (!strcmp(o, "--params")) {
            if (!(v = cli_value("fit", argc, argv, &i))) return 2;
            if (!slm_fit_parse_params(v, &a->params))
                return fprintf(stderr, "slm fit: bad value for --params: %s (e.g. 8B, 270M)\n", v), 2;
        } else if (!strcmp(o, "--registry")) {
            if (!(a->registry = cli_value("fit", argc, argv, &i))) return 2;
        } else if (!strcmp(o, "--hf-endpoint")) {
            if (!(a->hf_endpoint = cli_value("fit", argc, argv, &i))) return 2;
        } else if (!strcmp(o, "--quant")) {
            if (!(a->quant = cli_value("fit", argc, argv, &i))) return 2;
        } else if (o[0] == '-') return fprintf(stderr, "slm fit: unknown option %s\n", o), 2;
        else if (!a->model) a->model = o;
        else return fprintf(stderr, "slm fit: one model at a time\n"), 2;
    }
    if (!a->model && !a->params) return fit_usage(stderr), 2;
    if (a->model && a->params) return fprintf(stderr, "slm fit: give a MODEL or --params, not both\n"), 2;
    if (a->params && !a->quant) a->quant = "Q4_K_M";
    return -1;
}

static void print_json(json_t *o) {
    char *t = json_dumps(o, JSON_INDENT(2));
    if (t) printf("%s\n", t);
    free(t);
    json_decref(o);
}

static int rule_of_thumb(const fit_args *a) {
    double lo, hi;
    slm_error err = {0};
    if (slm_fit_rule_of_thumb(a->params, a->quant, &lo, &hi, &err) != SLM_OK)
        return fprintf(stderr, "slm fit: %s\n", err.msg), 2;
    uint64_t avail = a->o.available;
    if (!avail && slm_fit_available(&avail, &err) != SLM_OK) return fprintf(stderr, "slm fit: %s\n", err.msg), 1;
    slm_fit_verdict v = slm_fit_judge((uint64_t)hi, avail);
    if (v != SLM_FIT_FITS && (double)avail >= lo) v = SLM_FIT_TIGHT;
    if ((double)avail < lo) v = SLM_FIT_NO;
    if (a->json) {
        print_json(json_pack("{s:s,s:f,s:s,s:f,s:f,s:I,s:s}", "kind", "estimate", "params", a->params, "quant",
                             a->quant, "total_low", lo, "total_high", hi, "available", (json_int_t)avail, "verdict",
                             slm_fit_verdict_name(v)));
    } else {
        printf("estimate (rule of thumb, not a measurement): %.1fB parameters at %s (%.2f bits per weight)\n",
               a->params / 1e9, a->quant, slm_fit_quant_bpw(a->quant));
        printf("  weights x1.0-1.3 plus 1-4 GB for context and overhead: %.1f - %.1f GB\n", lo / 1e9, hi / 1e9);
        printf("  available: %.1f GB\n  verdict: %s\n", (double)avail / 1e9, slm_fit_verdict_name(v));
    }
    return v == SLM_FIT_NO ? FIT_EXIT_NO : 0;
}

static json_t *plan_json(const char *model, const slm_fit_plan *p) {
    json_t *types = json_object(), *alts = json_array();
    for (int i = 0; i < p->n_types; i++) json_object_set_new(types, p->types[i].name, json_integer((json_int_t)p->types[i].bytes));
    for (int i = 0; i < SLM_FIT_N_QUANTS; i++)
        json_array_append_new(alts, json_pack("{s:s,s:I,s:s}", "quant", p->alts[i].quant, "total",
                                              (json_int_t)p->alts[i].total, "verdict",
                                              slm_fit_verdict_name(p->alts[i].verdict)));
    return json_pack("{s:s,s:s,s:s,s:I,s:i,s:i,s:i,s:i,s:i,s:I,s:o,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:i,s:o}", "model",
                     model, "arch", p->arch, "quant", p->quant, "params", (json_int_t)p->n_params, "n_ctx", p->n_ctx,
                     "n_ctx_train", p->n_ctx_train, "parallel", p->n_parallel, "n_batch", p->n_batch, "threads",
                     p->n_threads, "weights", (json_int_t)p->weights, "weights_by_type", types, "metadata",
                     (json_int_t)p->header, "kv_cache", (json_int_t)p->kv, "compute", (json_int_t)p->compute,
                     "overhead_estimate", (json_int_t)p->overhead, "total", (json_int_t)p->total, "available",
                     (json_int_t)p->available, "verdict", slm_fit_verdict_name(p->verdict), "max_ctx", p->max_ctx,
                     "quantizations", alts);
}

static void print_plan(const char *model, const slm_fit_plan *p) {
    char b[32];
    printf("%s: %s, %s, %.2fM parameters, training context %d\n", model, p->arch, p->quant,
           (double)p->n_params / 1e6, p->n_ctx_train);
    printf("  weights    %10s  (mmapped):", cli_bytes(p->weights, b, sizeof b));
    for (int i = 0; i < p->n_types; i++)
        printf("%s %s %s x%lld", i ? "," : "", p->types[i].name, cli_bytes(p->types[i].bytes, b, sizeof b),
               (long long)p->types[i].n_tensors);
    printf("\n  metadata   %10s\n", cli_bytes(p->header, b, sizeof b));
    printf("  KV cache   %10s  (%d tokens x %d sequence%s, F16)\n", cli_bytes(p->kv, b, sizeof b), p->n_ctx,
           p->n_parallel, p->n_parallel == 1 ? "" : "s");
    printf("  compute    %10s  (batch %d, %d threads)\n", cli_bytes(p->compute, b, sizeof b), p->n_batch, p->n_threads);
    printf("  overhead   %10s  (estimate: runtime, libraries, tokenizer)\n", cli_bytes(p->overhead, b, sizeof b));
    char b2[32];
    printf("  total      %10s\n  available  %10s\n", cli_bytes(p->total, b, sizeof b),
           cli_bytes(p->available, b2, sizeof b2));
    printf("verdict: %s\n", slm_fit_verdict_name(p->verdict));
    if (p->max_ctx) printf("largest context that fits: %d tokens per sequence%s\n", p->max_ctx,
                           p->max_ctx > p->n_ctx_train ? " (beyond the training context)" : "");
    else printf("no context fits: the weights alone need more than is available\n");
    printf("other quantizations (estimated from the parameter count):\n");
    for (int i = 0; i < SLM_FIT_N_QUANTS; i++)
        printf("  %-7s %10s  %s\n", p->alts[i].quant, cli_bytes(p->alts[i].total, b, sizeof b),
               slm_fit_verdict_name(p->alts[i].verdict));
}

/* Plans a local file; *st says whether it worked. */
static int plan_file(const fit_args *a, const char *path) {
    slm_gguf *g = NULL;
    slm_error err = {0};
    if (slm_gguf_open(path, &g, &err) != SLM_OK) return fprintf(stderr, "slm fit: %s\n", err.msg), 1;
    slm_fit_plan p;
    slm_status st = slm_fit_plan_gguf(g, &a->o, &p, &err);
    slm_gguf_close(g);
    if (st != SLM_OK) return fprintf(stderr, "slm fit: %s\n", err.msg), 1;
    if (a->json) print_json(plan_json(a->model, &p));
    else print_plan(a->model, &p);
    return p.verdict == SLM_FIT_NO ? FIT_EXIT_NO : 0;
}

/* A name that is neither a file nor in the store: the registry or Hugging
 * Face header, read with a Range request (nothing is stored). */
static int plan_remote(const fit_args *a, slm_store *s) {
    slm_fit_plan p;
    slm_pull_opts po = {.registry = a->registry, .hf_endpoint = a->hf_endpoint, .header_only = true, .plan = &p,
                        .fit = &a->o};
    if (getenv("SLM_HEADER_BYTES")) po.header_bytes = strtoull(getenv("SLM_HEADER_BYTES"), NULL, 10); /* tests */
    slm_store_entry e;
    slm_error err = {0};
    if (slm_store_pull(s, a->model, &po, &e, &err) != SLM_OK) return fprintf(stderr, "slm fit: %s\n", err.msg), 1;
    if (a->json) {
        json_t *o = plan_json(a->model, &p);
        json_object_set_new(o, "remote", json_true());
        json_object_set_new(o, "file_size", json_integer((json_int_t)e.size));
        json_object_set_new(o, "digest", json_string(e.digest));
        print_json(o);
    } else {
        char b[32];
        printf("(not downloaded: planned from the remote header; file %s, %s)\n", cli_bytes(e.size, b, sizeof b),
               e.digest);
        print_plan(a->model, &p);
    }
    return p.verdict == SLM_FIT_NO ? FIT_EXIT_NO : 0;
}

int cli_fit(int argc, char **argv) {
    fit_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.params) return rule_of_thumb(&a);
    if (access(a.model, F_OK) == 0) return plan_file(&a, a.model);
    slm_store *s;
    slm_error err = {0};
    if (slm_store_open(NULL, &s, &err) != SLM_OK) return fprintf(stderr, "slm fit: %s\n", err.msg), 1;
    char path[4096];
    slm_store_entry e;
    if (slm_store_lookup(s, a.model, &e, &err) == SLM_OK) {
        slm_store_close(s);
        if (!cli_resolve_model("fit", a.model, path, sizeof path)) return 1;
        return plan_file(&a, path);
    }
    rc = plan_remote(&a, s);
    slm_store_close(s);
    return rc;
}
