/* Internals of the scheduler shared by its files: the request object (a
 * copy of the caller's parameters plus a locked queue of events the engine
 * thread fills and the caller drains) and the stop-string matcher. */
#ifndef SLM_SCHED_INTERNAL_H
#define SLM_SCHED_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "slm/scheduler.h"

/* One queued event; text is stored inline after the struct. */
typedef struct ev_node {
    struct ev_node *next;
    slm_event ev;
    char text[];
} ev_node;

struct slm_request {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;                /* the caller's handle + the engine's */
    atomic_bool cancel;
    ev_node *head, *tail;    /* events not yet read */
    ev_node *cur;            /* the event last returned (freed on the next read) */
    bool done_read;
    /* copied parameters */
    int32_t *prompt;
    size_t n_prompt;
    int32_t n_predict, n_logprobs;
    slm_sampler_params sampling;
    int32_t *bias_tokens;
    float *bias_values;
    char *stop[SLM_MAX_STOPS];
    int32_t n_stop;
    slm_constraint *cons;    /* our reference, or NULL */
    double t_submit;
    struct slm_request *qnext; /* waiting queue link (engine side) */
};

/* Copies p into a new request holding two references. */
slm_status sched_request_new(const slm_request_params *p, slm_request **out, slm_error *err);
/* Appends an event (text copied). Returns false when out of memory. */
bool sched_request_push(slm_request *r, const slm_event *ev, const char *text, size_t len);
/* Drops one reference; the last frees the request. */
void sched_request_unref(slm_request *r);

/* Stop-string matcher: text goes in token by token; what cannot be the
 * start of a stop string comes out. The stop strings are borrowed. */
typedef struct sched_stop {
    char *const *stop;
    int32_t n_stop;
    char *buf, *out;       /* held text; released text (valid until next call) */
    size_t len, cap, out_cap;
} sched_stop;

void sched_stop_init(sched_stop *s, char *const *stop, int32_t n_stop);
void sched_stop_free(sched_stop *s);
/* Appends text. Returns 1 when a stop string matched (out: the text before
 * it), 0 otherwise (out: the text that can no longer start a match), -1
 * when out of memory. */
int sched_stop_push(sched_stop *s, const char *text, size_t len, const char **out, size_t *out_len);
/* Releases everything held (end of generation). */
void sched_stop_flush(sched_stop *s, const char **out, size_t *out_len);

/* A slot: one sequence of the shared context and the request using it.
 * cache[0..n_cache) are the tokens in its KV cache, kept after the request
 * ends for prefix reuse. */
typedef struct sched_slot {
    int32_t id;
    slm_request *req;   /* NULL: free */
    int32_t *cache;
    int32_t n_cache;
    int32_t pending;    /* sampled token to decode next; -1 while reading the prompt */
    int32_t n_gen, n_cached;
    int32_t batch_idx;  /* entry of this pass whose logits are ours, or -1 */
    uint64_t last_used;
    double t_first;     /* when the first token was sampled, 0 before */
    double t_prompt_done;
    bool matched_stop;  /* output ended at a stop string */
    slm_sampler *smp;
    slm_detok detok;
    sched_stop stop;
    /* constrained decoding (sched_grammar.c); the constraint is the request's */
    slm_grammar_matcher *matcher; /* NULL: free, or a lazy constraint not triggered yet */
    uint32_t *mask;
    char *trig;                   /* output with specials rendered, while waiting for a trigger */
    size_t trig_len, trig_cap;
    bool grammar_taken;           /* the sampled token is already in the matcher */
    uint64_t n_masked;            /* added to the scheduler's stats when the request ends */
    double mask_s, mask_max_s;
} sched_slot;

struct slm_sched {
    slm_gguf *gguf;
    slm_model *model;
    slm_tokenizer *tok;
    slm_ops *ops;
    slm_context *ctx;
    slm_grammar_vocab *gvocab;   /* built on the first constrained request (engine thread) */
    int32_t n_ctx, n_batch, n_slots, max_queue, n_vocab;
    double t_load_s;
    sched_slot *slots;
    /* batch buffers (n_batch entries) */
    int32_t *b_tok, *b_seq;
    bool *b_logits;
    uint64_t use_counter;
    /* shared with submitters, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slm_request *q_head, *q_tail;
    int32_t n_queued, n_busy;
    bool quit;
    slm_sched_stats stats;
    pthread_t thread;
    bool thread_started;
};

/* ---- sched_grammar.c: constrained decoding for one slot ---- */
/* Sets up the slot for its request's constraint (the vocabulary is built
 * once per model on first use). */
slm_status sched_grammar_start(slm_sched *s, sched_slot *sl, slm_error *err);
/* Samples the next token under the grammar mask when one is active
 * (timing it), else freely. -1 with err filled when nothing can be chosen. */
int32_t sched_grammar_sample(slm_sched *s, sched_slot *sl, const float *logits, slm_error *err);
/* Advances the grammar by a generated (non-EOG) token; for a lazy
 * constraint, looks for a trigger and switches the grammar on. */
slm_status sched_grammar_accept(slm_sched *s, sched_slot *sl, int32_t tok, slm_error *err);
/* The grammar is complete and nothing can extend it. */
bool sched_grammar_done(const sched_slot *sl);
/* Frees the slot's grammar state and merges its mask timings into stats (under mu). */
void sched_grammar_end(slm_sched *s, sched_slot *sl);

/* The engine thread's body (sched_loop.c). */
void *sched_engine_main(void *arg);
/* Ends a slot's request: flushes held text, sends DONE, frees the slot. */
void sched_slot_finish(slm_sched *s, sched_slot *sl, slm_finish why, slm_status st, const char *msg);
/* Sends DONE to a request that never got a slot. */
void sched_request_finish_unslotted(slm_request *r, slm_finish why, const char *msg);

#endif
