/* The kernel thread pool (see slm/threadpool.h).
 *
 * A job is published by bumping `generation`; each worker spins on it for a
 * short while (cheap hand-off between the many small matmuls of one token)
 * and then sleeps on a condition variable. The caller is thread 0 and waits
 * for `n_done` to reach the number of workers. */
#include "slm/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPIN_ROUNDS 20000

struct slm_threadpool;

typedef struct worker {
    struct slm_threadpool *pool;
    pthread_t thread;
    int ith;
} worker;

struct slm_threadpool {
    int n_threads;
    worker *workers; /* n_threads - 1 of them */
    slm_task_fn fn;
    void *ctx;
    atomic_uint generation;
    atomic_int n_done;
    atomic_bool stop;
    atomic_int n_sleeping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

int slm_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Waits until the generation differs from `seen`; false when stopping. */
static bool wait_for_job(slm_threadpool *p, unsigned seen) {
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        if (atomic_load_explicit(&p->generation, memory_order_acquire) != seen) return true;
        if (atomic_load_explicit(&p->stop, memory_order_relaxed)) return false;
        cpu_relax();
    }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->n_sleeping, 1);
    while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->cv, &p->mu);
    atomic_fetch_sub(&p->n_sleeping, 1);
    pthread_mutex_unlock(&p->mu);
    return !atomic_load(&p->stop);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    slm_threadpool *p = w->pool;
    /* Jobs are counted from 0 at creation; reading the counter here instead
     * would miss a job published before this thread got scheduled. */
    unsigned seen = 0;
    while (wait_for_job(p, seen)) {
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        p->fn(p->ctx, w->ith, p->n_threads);
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_release);
    }
    return NULL;
}

slm_status slm_threadpool_create(int n_threads, slm_threadpool **out, slm_error *err) {
    if (n_threads <= 0) n_threads = slm_cpu_count();
    if (n_threads > 512)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "thread count %d is too large (max 512)", n_threads);
    slm_threadpool *p = calloc(1, sizeof *p);
    if (!p) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory creating thread pool");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->workers = calloc((size_t)n_threads, sizeof *p->workers);
    if (!p->workers) {
        free(p);
        return slm_error_set(err, SLM_ERR_NOMEM, "out of memory creating thread pool");
    }
    for (int i = 1; i < n_threads; i++) {
        worker *w = &p->workers[i - 1];
        w->pool = p;
        w->ith = i;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            p->n_threads = i; /* only the started ones get joined */
            slm_threadpool_free(p);
            return slm_error_set(err, SLM_ERR_NOMEM, "cannot start thread %d of %d", i, n_threads);
        }
    }
    *out = p;
    return SLM_OK;
}

void slm_threadpool_free(slm_threadpool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->workers[i - 1].thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->workers);
    free(p);
}

int slm_threadpool_size(const slm_threadpool *p) { return p ? p->n_threads : 1; }

void slm_threadpool_run(slm_threadpool *p, slm_task_fn fn, void *ctx) {
    if (!p || p->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    atomic_fetch_add(&p->generation, 1); /* seq_cst: ordered before the n_sleeping check */
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    fn(ctx, 0, p->n_threads);
    int workers = p->n_threads - 1;
    /* spin, but yield when oversubscribed so workers can run */
    for (long spins = 0; atomic_load_explicit(&p->n_done, memory_order_acquire) < workers; spins++) {
        if (spins < SPIN_ROUNDS) cpu_relax();
        else sched_yield();
    }
}
