/* Pre-download check of `slm pull` (and `slm fit` on a name not yet
 * pulled): fetch only the first megabytes of the GGUF with a Range request,
 * parse its header with the real reader, and plan memory for it.
 *
 * The reader validates tensor offsets against the file size, so it wants
 * the whole file. Instead of a second, laxer parser, the prefix is copied
 * into a sparse anonymous mapping of the file's full size (MAP_NORESERVE:
 * the missing gigabytes are never-touched zero pages and cost nothing), and
 * slm_gguf_open_memory validates the header exactly as the loader will.
 * When the header is longer than the prefix the parse fails on the zeros;
 * the prefix is then enlarged (x8, up to 64 MiB) and tried again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "slm/fit.h"
#include "slm/gguf.h"
#include "store_internal.h"

#define DEFAULT_PREFIX (8u << 20)
#define MAX_PREFIX (64u << 20)
#define MAX_SPARSE (1ull << 42) /* 4 TiB: larger "sizes" are not models */

typedef struct prefix_buf {
    uint8_t *data;
    size_t have, want;
} prefix_buf;

static bool on_prefix(const char *data, size_t n, void *ud) {
    prefix_buf *p = ud;
    size_t k = n < p->want - p->have ? n : p->want - p->have;
    memcpy(p->data + p->have, data, k);
    p->have += k;
    return p->have < p->want; /* a server ignoring Range: stop reading */
}

/* Fetches bytes [0, want) of url into p->data. */
static slm_status fetch_prefix(store_http *h, const char *url, prefix_buf *p, slm_error *err) {
    store_resp r;
    slm_error e2 = {0};
    uint64_t saved = h->range_to;
    h->range_to = p->want - 1;
    p->have = 0;
    slm_status st = store_http_request(h, url, NULL, 0, on_prefix, p, 0, &r, &e2);
    h->range_to = saved;
    if (p->have == p->want) st = SLM_OK; /* stopped by on_prefix on purpose */
    else if (st == SLM_OK && r.status != 200 && r.status != 206) st = store_http_status_error(&r, url, err);
    else if (st != SLM_OK) slm_error_set(err, st, "%s", e2.msg);
    store_resp_free(&r);
    return st;
}

/* "1.5 GiB", "300 KiB": human bytes for the header line. */
static void human(uint64_t n, char *out, size_t cap) {
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4) v /= 1024, u++;
    snprintf(out, cap, u ? "%.2f %s" : "%.0f %s", v, unit[u]);
}

static void describe(const slm_fit_plan *pl, uint64_t size, char *out, size_t cap) {
    char a[32], b[32], c[32], np[32];
    human(size, a, sizeof a);
    human(pl->total, b, sizeof b);
    human(pl->available, c, sizeof c);
    double n = (double)pl->n_params;
    snprintf(np, sizeof np, n >= 1e9 ? "%.2fB" : "%.2fM", n >= 1e9 ? n / 1e9 : n / 1e6);
    snprintf(out, cap, "%s, %s, %s, %s parameters; at %d tokens of context it needs %s of the %s available: %s",
             pl->arch, pl->quant, a, np, pl->n_ctx, b, c, slm_fit_verdict_name(pl->verdict));
}

static void note(const slm_pull_opts *o, const char *what, const char *detail) {
    if (!o || !o->progress) return;
    slm_pull_event ev = {.phase = "header", .what = what, .detail = detail};
    o->progress(&ev, o->progress_ud);
}

/* Parses the prefix as a file of `size` bytes and plans it. */
static slm_status parse_and_plan(const prefix_buf *p, uint64_t size, const char *name, const slm_pull_opts *o,
                                 slm_fit_plan *plan, char quant[32], char arch[32], slm_error *err) {
    uint8_t *sparse = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                           -1, 0);
    if (sparse == MAP_FAILED) return slm_error_set(err, SLM_ERR_NOMEM, "%s: cannot map %llu bytes for the header",
                                                   name, (unsigned long long)size);
    memcpy(sparse, p->data, p->have);
    slm_gguf *g = NULL;
    slm_status st = slm_gguf_open_memory(sparse, (size_t)size, name, &g, err);
    if (st == SLM_OK) {
        store_gguf_describe(g, quant, arch);
        slm_fit_opts fo = o && o->fit ? *o->fit : (slm_fit_opts){0};
        st = slm_fit_plan_gguf(g, &fo, plan, err);
        slm_gguf_close(g);
    }
    munmap(sparse, (size_t)size);
    return st;
}

slm_status store_preflight(store_http *h, const char *url, uint64_t size, const char *name, const slm_pull_opts *o,
                           char quant[32], char arch[32], slm_error *err) {
    bool must = o && o->header_only; /* slm fit NAME: the plan is the point */
    if (size < 24 || size > MAX_SPARSE) {
        if (must) return slm_error_set(err, SLM_ERR_FORMAT, "%s: implausible size %llu", name, (unsigned long long)size);
        return SLM_OK;
    }
    size_t want = o && o->header_bytes ? (size_t)o->header_bytes : DEFAULT_PREFIX;
    prefix_buf p = {.data = NULL};
    slm_fit_plan plan;
    slm_status st = SLM_OK;
    for (;;) {
        p.want = want < size ? want : (size_t)size;
        uint8_t *nb = realloc(p.data, p.want);
        if (!nb) { st = slm_error_set(err, SLM_ERR_NOMEM, "out of memory"); break; }
        p.data = nb;
        if ((st = fetch_prefix(h, url, &p, err)) != SLM_OK) break;
        if (memcmp(p.data, "GGUF", 4) != 0) {
            st = slm_error_set(err, SLM_ERR_FORMAT, "%s: not a GGUF file (slm only stores GGUF; pickle/PyTorch/"
                               "safetensors files are never downloaded or loaded; see 'slm scan')", name);
            break;
        }
        st = parse_and_plan(&p, size, name, o, &plan, quant, arch, err);
        if (st == SLM_OK || p.want == size || want >= MAX_PREFIX) break;
        want *= 8; /* the header is longer than the prefix (big vocabularies) */
        if (err) err->code = SLM_OK, err->msg[0] = '\0';
    }
    free(p.data);
    if (st == SLM_OK) {
        char detail[400];
        describe(&plan, size, detail, sizeof detail);
        note(o, name, detail);
        if (o && o->plan) *o->plan = plan;
        return SLM_OK;
    }
    if (must || (st == SLM_ERR_FORMAT && err && strstr(err->msg, "not a GGUF file"))) return st;
    char detail[1100];
    snprintf(detail, sizeof detail, "header not checked before the download: %.1000s", err ? err->msg : "error");
    note(o, name, detail);
    if (err) err->code = SLM_OK, err->msg[0] = '\0';
    return SLM_OK;
}
