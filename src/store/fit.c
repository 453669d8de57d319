/* Memory planner behind `slm fit` and the pre-download check of `slm pull`:
 * an slm_fit_plan adds up weights by tensor type, the GGUF header, the KV
 * cache and compute buffers exactly as src/model/context.c sizes them, and
 * an overhead estimate, then judges the total against MemAvailable. The
 * largest context that fits is found by bisection over the same formula;
 * other quantizations are estimated from the parameter count. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "slm/fit.h"
#include "slm/quant.h"
#include "slm/model.h"
#include "store/store_internal.h"

#define DEFAULT_CTX_CAP 4096
#define DEFAULT_BATCH 512
#define MAX_CTX (1 << 24)
#define OVERHEAD_BASE (48ull << 20) /* binary, libc/libcurl/..., thread stacks */

static const struct { const char *name; double bpw; } QUANTS[] = {
    /* effective bits per weight of whole llama.cpp files (mixed tensor types) */
    {"F16", 16.0}, {"Q8_0", 8.5}, {"Q6_K", 6.56}, {"Q5_K_M", 5.69}, {"Q4_K_M", 4.89}, {"Q3_K_M", 3.91},
    {"Q2_K", 3.0},
};
static const struct { const char *name; double bpw; } OTHER_QUANTS[] = {
    {"F32", 32.0}, {"BF16", 16.0}, {"Q5_0", 5.5}, {"Q5_1", 6.0}, {"Q4_0", 4.5}, {"Q4_1", 5.0}, {"Q5_K_S", 5.54},
    {"Q4_K_S", 4.58}, {"Q3_K_L", 4.27}, {"Q3_K_S", 3.5}, {"IQ4_XS", 4.25}, {"IQ4_NL", 4.5},
};

const char *slm_fit_verdict_name(slm_fit_verdict v) {
    return v == SLM_FIT_FITS ? "fits" : v == SLM_FIT_TIGHT ? "tight" : "does not fit";
}

slm_fit_verdict slm_fit_judge(uint64_t need, uint64_t available) {
    if ((double)need <= 0.85 * (double)available) return SLM_FIT_FITS;
    return need <= available ? SLM_FIT_TIGHT : SLM_FIT_NO;
}

double slm_fit_quant_bpw(const char *q) {
    for (size_t i = 0; i < sizeof QUANTS / sizeof QUANTS[0]; i++)
        if (!strcasecmp(q, QUANTS[i].name)) return QUANTS[i].bpw;
    for (size_t i = 0; i < sizeof OTHER_QUANTS / sizeof OTHER_QUANTS[0]; i++)
        if (!strcasecmp(q, OTHER_QUANTS[i].name)) return OTHER_QUANTS[i].bpw;
    return 0;
}

slm_status slm_fit_available(uint64_t *out, slm_error *err) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return slm_error_set(err, SLM_ERR_IO, "cannot read /proc/meminfo");
    char line[256];
    unsigned long long kb = 0;
    bool found = false;
    while (!found && fgets(line, sizeof line, f)) found = sscanf(line, "MemAvailable: %llu kB", &kb) == 1;
    fclose(f);
    if (!found) return slm_error_set(err, SLM_ERR_IO, "/proc/meminfo has no MemAvailable line");
    *out = (uint64_t)kb * 1024;
    return SLM_OK;
}

bool slm_fit_parse_params(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    double mul = 1;
    if (*end == 'B' || *end == 'b') mul = 1e9, end++;
    else if (*end == 'M' || *end == 'm') mul = 1e6, end++;
    else if (*end == 'K' || *end == 'k') mul = 1e3, end++;
    else if (*end == 'T' || *end == 't') mul = 1e12, end++;
    if (end == s || *end || !(v > 0) || v * mul > 1e15) return false;
    *out = v * mul;
    return true;
}

slm_status slm_fit_rule_of_thumb(double n_params, const char *quant, double *lo, double *hi, slm_error *err) {
    double bpw = slm_fit_quant_bpw(quant);
    if (!bpw) return slm_error_set(err, SLM_ERR_INVALID_ARG, "unknown quantization '%s'", quant);
    if (!(n_params > 0)) return slm_error_set(err, SLM_ERR_INVALID_ARG, "the parameter count must be positive");
    double w = n_params * bpw / 8; /* at 4.89 bpw: 0.61 GB per billion; x1.3 gives the article's 0.8 */
    *lo = w + 1e9;
    *hi = w * 1.3 + 4e9;
    return SLM_OK;
}

/* ---- Exact plan of a GGUF ------------------------------------------------ */

static void count_types(const slm_gguf *g, slm_fit_plan *p) {
    for (int64_t i = 0; i < slm_gguf_n_tensors(g); i++) {
        const slm_gguf_tensor *t = slm_gguf_tensor_at(g, i);
        const char *name = slm_dtype_name((uint32_t)t->type);
        int k = 0;
        while (k < p->n_types && strcmp(p->types[k].name, name) != 0) k++;
        if (k == p->n_types && p->n_types < SLM_FIT_MAX_TYPES) snprintf(p->types[p->n_types++].name, 16, "%s", name);
        if (k < p->n_types) p->types[k].n_tensors++, p->types[k].bytes += t->nbytes;
        p->weights += t->nbytes;
    }
}

/* The largest activation row slm_matmul converts to a weight's vec_dot
 * type (F32 weights use the activations as they are). */
static uint64_t activation_row_bytes(const slm_gguf *g) {
    uint64_t best = 0, bytes;
    for (int64_t i = 0; i < slm_gguf_n_tensors(g); i++) {
        const slm_gguf_tensor *t = slm_gguf_tensor_at(g, i);
        const slm_type_traits *tt = t->n_dims == 2 ? slm_type_traits_get(t->type) : NULL;
        if (!tt || tt->vec_dot_type == SLM_TYPE_F32) continue;
        if (slm_dtype_row_size(tt->vec_dot_type, (uint64_t)t->ne[0], &bytes) && bytes > best) best = bytes;
    }
    return best;
}

/* KV + compute for n_ctx tokens per sequence, as context.c allocates them. */
static void size_context(const slm_model *m, int32_t n_ctx, slm_fit_plan *p) {
    int64_t nb = p->n_batch > 0 ? p->n_batch : DEFAULT_BATCH;
    if (nb > (int64_t)n_ctx * p->n_parallel) nb = (int64_t)n_ctx * p->n_parallel;
    uint64_t base = slm_model_context_bytes(m, 0, (int32_t)nb);
    uint64_t kv1 = slm_model_context_bytes(m, n_ctx, (int32_t)nb) - base;
    const uint64_t hd = (uint64_t)slm_model_hparams(m)->head_dim, T = (uint64_t)p->n_threads;
    uint64_t per_thread = (uint64_t)n_ctx * sizeof(float) + ((uint64_t)n_ctx + hd) * 2; /* scores + f16 scratch */
    uint64_t small = (uint64_t)nb * 3 * sizeof(int32_t) + (uint64_t)p->n_parallel * sizeof(int32_t);
    p->kv = kv1 * (uint64_t)p->n_parallel;
    p->compute = base + T * per_thread + small + (uint64_t)nb * p->act_row_bytes;
    p->total = p->weights + p->header + p->kv + p->compute + p->overhead;
}

/* Largest per-sequence context whose total fits (monotonic in n_ctx). */
static int32_t largest_ctx(const slm_model *m, slm_fit_plan *p) {
    slm_fit_plan t = *p;
    int32_t lo = 0, hi = MAX_CTX;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo + 1) / 2;
        size_context(m, mid, &t);
        if (t.total <= p->available) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

static void alternatives(slm_fit_plan *p) {
    uint64_t rest = p->total - p->weights;
    for (int i = 0; i < SLM_FIT_N_QUANTS; i++) {
        slm_fit_alt *a = &p->alts[i];
        a->quant = QUANTS[i].name;
        a->bpw = QUANTS[i].bpw;
        a->weights = (uint64_t)((double)p->n_params * a->bpw / 8);
        a->total = a->weights + rest;
        a->verdict = slm_fit_judge(a->total, p->available);
    }
}

slm_status slm_fit_plan_gguf(const slm_gguf *g, const slm_fit_opts *o, slm_fit_plan *p, slm_error *err) {
    memset(p, 0, sizeof *p);
    slm_model *m = NULL;
    slm_status st = slm_model_load(g, &m, err);
    if (st != SLM_OK) return st;
    const slm_hparams *hp = slm_model_hparams(m);
    store_gguf_describe(g, p->quant, p->arch);
    p->n_params = slm_model_n_params(m);
    p->n_ctx_train = hp->n_ctx_train;
    p->n_ctx = o->n_ctx > 0 ? o->n_ctx : hp->n_ctx_train < DEFAULT_CTX_CAP ? hp->n_ctx_train : DEFAULT_CTX_CAP;
    if (p->n_ctx > MAX_CTX) p->n_ctx = MAX_CTX;
    p->n_parallel = o->n_parallel > 0 ? o->n_parallel : 1;
    p->n_batch = o->n_batch;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    p->n_threads = o->n_threads > 0 ? o->n_threads : cpus > 0 ? (int32_t)cpus : 1;
    p->available = o->available;
    if (!p->available && (st = slm_fit_available(&p->available, err)) != SLM_OK) {
        slm_model_free(m);
        return st;
    }
    count_types(g, p);
    p->act_row_bytes = activation_row_bytes(g);
    p->header = slm_gguf_data_offset(g);
    p->overhead = OVERHEAD_BASE + p->header; /* tokenizer tables: about the size of their metadata */
    p->max_ctx = largest_ctx(m, p);
    size_context(m, p->n_ctx, p);
    int64_t nb = p->n_batch > 0 ? p->n_batch : DEFAULT_BATCH;
    p->n_batch = (int32_t)(nb > (int64_t)p->n_ctx * p->n_parallel ? (int64_t)p->n_ctx * p->n_parallel : nb);
    p->verdict = slm_fit_judge(p->total, p->available);
    alternatives(p);
    slm_model_free(m);
    return SLM_OK;
}
