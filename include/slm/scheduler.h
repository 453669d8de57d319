/* slm scheduler: many requests sharing one loaded model.
 *
 * A scheduler owns a model (GGUF file, weights, tokenizer, kernel thread
 * pool), one multi-sequence context with n_parallel slots, a bounded queue
 * of waiting requests and one engine thread that runs every forward pass.
 * Callers (the server's connection threads, tests) never run kernels: they
 * submit a request and read its events (one per generated token, then a
 * final one) from the returned handle.
 *
 * Continuous batching: each forward pass carries the next token of every
 * generating slot plus a chunk of the prompts still being read, so a new
 * request joins the running ones without waiting for them to finish.
 *
 * Prefix cache: a slot keeps the tokens of its KV cache after a request
 * ends. A new request goes to the free slot sharing the longest prefix with
 * its prompt, and only the rest of the prompt is computed (reported as
 * n_cached).
 *
 * Cancellation: slm_request_cancel (or freeing the handle) stops the
 * request before its next token and frees its slot. */
#ifndef SLM_SCHEDULER_H
#define SLM_SCHEDULER_H

#include "slm/base.h"
#include "slm/engine.h"
#include "slm/gguf.h"
#include "slm/grammar.h"
#include "slm/model.h"
#include "slm/sample.h"
#include "slm/tokenizer.h"

typedef struct slm_sched_params {
    int32_t n_parallel; /* slots (sequences decoded together); <= 0: 4 */
    int32_t n_ctx;      /* tokens per slot; <= 0: the model's training context, capped at 4096 */
    int32_t n_batch;    /* tokens per forward pass; <= 0: 512 */
    int32_t max_queue;  /* requests waiting for a slot; <= 0: 64 */
    int n_threads;      /* kernel threads; <= 0: all cores */
} slm_sched_params;

typedef struct slm_sched slm_sched;

/* Loads the model at path and starts the engine thread. */
slm_status slm_sched_open(const char *path, const slm_sched_params *p, slm_sched **out, slm_error *err);
/* Stops the engine thread; running and queued requests end with
 * SLM_FINISH_CANCEL (their handles stay valid until freed). */
void slm_sched_close(slm_sched *s);

const slm_gguf *slm_sched_gguf(const slm_sched *s);
const slm_model *slm_sched_model(const slm_sched *s);
const slm_tokenizer *slm_sched_tokenizer(const slm_sched *s);
int32_t slm_sched_n_ctx(const slm_sched *s); /* per slot */
int32_t slm_sched_n_parallel(const slm_sched *s);
double slm_sched_load_seconds(const slm_sched *s);

typedef struct slm_sched_stats {
    int32_t n_slots, n_busy, n_queued;
    uint64_t n_requests;   /* submitted and accepted */
    uint64_t n_rejected;   /* refused because the queue was full */
    uint64_t n_prompt_tokens, n_cached_tokens, n_gen_tokens;
    uint64_t n_batches;    /* forward passes */
    /* constrained decoding: tokens sampled under a grammar mask, and the
     * time spent computing their masks (fill_mask + masked sampling) */
    uint64_t n_masked_tokens;
    double mask_seconds;     /* total; mean per token = mask_seconds / n_masked_tokens */
    double mask_max_seconds; /* the slowest single token */
} slm_sched_stats;

void slm_sched_get_stats(slm_sched *s, slm_sched_stats *out);

#define SLM_MAX_TOP_LOGPROBS 20
#define SLM_MAX_STOPS 16
#define SLM_MAX_TRIGGERS 8

/* A grammar constraint that requests share: a compiled grammar plus, for a
 * lazy constraint, the trigger strings that switch it on. Reference
 * counted, because the engine may still run a request after its caller
 * let go of it; the grammar is read-only once built, so any number of
 * requests may use it at once.
 *
 * Eager (n_triggers == 0): every generated token is masked by the grammar
 * from the first one; end-of-generation is allowed only where the grammar
 * may end, and generation stops (finish STOP) as soon as the grammar is
 * done.
 *
 * Lazy (n_triggers > 0): generation is free until one of the triggers
 * appears in the output (matched on the text with special tokens rendered,
 * so a control token such as "<|python_tag|>" can be a trigger). From the
 * trigger's first byte on, the output must follow the grammar: the grammar
 * describes the text starting with the trigger. This is how `tool_choice:
 * auto` lets a model answer in prose or start a well-formed tool call.
 *
 * Fail closed: if the grammar cannot go on (a limit, no allowed token, or
 * text after a trigger the grammar refuses), the request ends with an
 * error, never with unconstrained output. */
typedef struct slm_constraint slm_constraint;

/* Takes ownership of g (freed with the last reference, also on failure).
 * triggers are copied; n_triggers <= SLM_MAX_TRIGGERS, each non-empty. */
slm_status slm_constraint_new(slm_grammar *g, const char *const *triggers, int32_t n_triggers,
                              slm_constraint **out, slm_error *err);
slm_constraint *slm_constraint_ref(slm_constraint *c);
void slm_constraint_unref(slm_constraint *c); /* NULL is fine */
const slm_grammar *slm_constraint_grammar(const slm_constraint *c);

typedef struct slm_request_params {
    const int32_t *prompt;   /* copied; must be non-empty and < n_ctx tokens */
    size_t n_prompt;
    int32_t n_predict;       /* < 0: until end of generation or the slot is full */
    slm_sampler_params sampling; /* bias arrays are copied */
    const char *const *stop; /* stop strings (copied); output ends before the first match */
    int32_t n_stop;          /* <= SLM_MAX_STOPS */
    int32_t n_logprobs;      /* -1: none; 0: the chosen token's; k: also the top k (<= 20) */
    slm_constraint *constraint; /* NULL: free generation; the request takes its own reference */
} slm_request_params;

void slm_request_params_default(slm_request_params *p);

typedef enum slm_event_kind {
    SLM_EVENT_TOKEN = 0, /* one generated token (its text may be empty: held back) */
    SLM_EVENT_DONE,      /* the last event: finish reason, counts, error */
} slm_event_kind;

typedef struct slm_event {
    slm_event_kind kind;
    /* TOKEN */
    int32_t token;
    const char *text; /* complete UTF-8, not NUL-terminated; valid until the next call */
    size_t text_len;
    float logprob;    /* of the chosen token (raw logits), when n_logprobs >= 0 */
    int32_t n_top;
    slm_logprob top[SLM_MAX_TOP_LOGPROBS];
    /* DONE (text may carry the last held-back output) */
    slm_finish finish;
    slm_status status; /* SLM_OK, or the error that ended the request */
    char error[256];
    int32_t n_prompt, n_cached, n_gen;
    double t_queue_s, ttft_s, t_prompt_s, t_gen_s; /* from submission */
} slm_event;

typedef struct slm_request slm_request;

/* Queues a request. SLM_ERR_NOMEM with "queue is full" when max_queue
 * requests already wait (answer 429); SLM_ERR_RANGE when the prompt does not
 * fit a slot; SLM_ERR_INVALID_ARG for bad parameters (message names it). */
slm_status slm_sched_submit(slm_sched *s, const slm_request_params *p, slm_request **out, slm_error *err);

/* Waits up to timeout_ms (< 0: forever) for the next event. Returns true
 * with *ev filled, false on timeout or after the DONE event was read. */
bool slm_request_next(slm_request *r, slm_event *ev, int timeout_ms);
/* Asks the engine to stop the request before its next token. */
void slm_request_cancel(slm_request *r);
/* Cancels if still running and releases the handle. */
void slm_request_free(slm_request *r);

#endif
