/* slm thread pool: one pool of worker threads for all kernels.
 *
 * slm_threadpool_run() calls fn(ctx, ith, nth) on every thread of the pool
 * (the caller's thread is thread 0) and returns when all have finished, so a
 * kernel splits its work by ith/nth. Workers spin briefly between jobs and
 * then sleep, which keeps per-token dispatch cheap during generation. */
#ifndef SLM_THREADPOOL_H
#define SLM_THREADPOOL_H

#include "slm/base.h"

typedef struct slm_threadpool slm_threadpool;
typedef void (*slm_task_fn)(void *ctx, int ith, int nth);

/* n_threads <= 0 means the number of online CPUs. */
slm_status slm_threadpool_create(int n_threads, slm_threadpool **out, slm_error *err);
void slm_threadpool_free(slm_threadpool *p);
int slm_threadpool_size(const slm_threadpool *p);
/* Runs fn on all threads; not re-entrant (one job at a time per pool). */
void slm_threadpool_run(slm_threadpool *p, slm_task_fn fn, void *ctx);
int slm_cpu_count(void);

#endif
