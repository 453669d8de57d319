/* slm memory planner (`slm fit`): will this model run on this machine?
 *
 * For a GGUF (local, or the header of a remote one) the plan is exact for
 * what slm itself allocates: weights are the tensor bytes by type (mmapped
 * from the file, all touched by a forward pass), the KV cache and compute
 * buffers are what slm_context_new_multi allocates for n_ctx tokens x
 * n_parallel sequences and n_batch (slm_model_context_bytes, plus the
 * per-thread attention scratch). Only the runtime overhead (binary,
 * libraries, tokenizer tables, stacks) is an estimate. The total is judged
 * against MemAvailable from /proc/meminfo.
 *
 * For a bare parameter count there is only the rule of thumb: parameters x
 * bits per weight of the quantization, x 1.0-1.3, plus 1-4 GB for context
 * and overhead (0.6-0.8 GB per billion parameters at 4-bit). */
#ifndef SLM_FIT_H
#define SLM_FIT_H

#include "slm/base.h"
#include "slm/gguf.h"

typedef enum slm_fit_verdict {
    SLM_FIT_FITS = 0,  /* total <= 85% of available */
    SLM_FIT_TIGHT = 1, /* fits, but with less than 15% to spare */
    SLM_FIT_NO = 2,    /* does not fit */
} slm_fit_verdict;

#define SLM_FIT_MAX_TYPES 16
#define SLM_FIT_N_QUANTS 7

typedef struct slm_fit_type {
    char name[16];    /* "F32", "Q4_K", ... */
    int64_t n_tensors;
    uint64_t bytes;
} slm_fit_type;

/* The same model at another quantization (estimated from n_params). */
typedef struct slm_fit_alt {
    const char *quant;  /* "F16", "Q8_0", ... "Q2_K" */
    double bpw;         /* bits per weight */
    uint64_t weights, total;
    slm_fit_verdict verdict;
} slm_fit_alt;

typedef struct slm_fit_opts {
    int32_t n_ctx;      /* per sequence; <= 0: the training context capped at 4096, as slm run */
    int32_t n_parallel; /* sequences (slm serve --parallel); <= 0: 1 */
    int32_t n_batch;    /* <= 0: 512 (capped at n_ctx x n_parallel) */
    int32_t n_threads;  /* <= 0: all online CPUs, as slm run */
    uint64_t available; /* 0: MemAvailable of this machine */
} slm_fit_opts;

typedef struct slm_fit_plan {
    char arch[32], quant[32];
    uint64_t n_params;
    int32_t n_ctx, n_ctx_train, n_parallel, n_batch, n_threads;
    uint64_t weights;  /* tensor bytes (mmapped) */
    uint64_t header;   /* GGUF metadata bytes before the tensor data (mmapped too) */
    uint64_t kv;       /* KV cache of all sequences */
    uint64_t compute;  /* scratch + logits of one batch + attention scratch per thread
                          + activations converted for the matrix products */
    uint64_t act_row_bytes; /* largest activation row in a weight's vec_dot type (0: F32) */
    uint64_t overhead; /* estimate: runtime, libraries, tokenizer tables */
    uint64_t total, available;
    slm_fit_verdict verdict;
    int32_t max_ctx;   /* largest per-sequence context that fits (0: none) */
    int n_types;
    slm_fit_type types[SLM_FIT_MAX_TYPES];
    slm_fit_alt alts[SLM_FIT_N_QUANTS];
} slm_fit_plan;

/* MemAvailable from /proc/meminfo, in bytes. */
slm_status slm_fit_available(uint64_t *out, slm_error *err);
/* Plans a model from its parsed GGUF (tensor data is not read, so the
 * header of a remote file parsed into a sparse buffer is enough). Fails
 * when the model cannot be loaded (unsupported architecture...). */
slm_status slm_fit_plan_gguf(const slm_gguf *g, const slm_fit_opts *o, slm_fit_plan *p, slm_error *err);
slm_fit_verdict slm_fit_judge(uint64_t need, uint64_t available);
const char *slm_fit_verdict_name(slm_fit_verdict v); /* "fits", "tight", "does not fit" */
/* Bits per weight of a llama.cpp quantization name (F16, Q8_0, Q6_K,
 * Q5_K_M, Q4_K_M, Q3_K_M, Q2_K, ...; case-insensitive); 0 when unknown. */
double slm_fit_quant_bpw(const char *quant);
/* The rule of thumb for `--params N --quant Q`: weights lo..hi and the
 * total lo..hi (plus 1-4 GB) in bytes. SLM_ERR_INVALID_ARG for an unknown
 * quantization or a non-positive parameter count. */
slm_status slm_fit_rule_of_thumb(double n_params, const char *quant, double *total_lo, double *total_hi,
                                 slm_error *err);
/* Parses "8B", "0.5B", "270M", "1.5e9" into a parameter count. */
bool slm_fit_parse_params(const char *s, double *out);

#endif
