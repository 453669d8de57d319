/* The kernel thread pool (see slm/threadpool.h).
 *
 * A job is published by bumping `generation`, a 32-bit futex word. Each
 * worker spins on it for at most SPIN_NS after its last job (generation
 * dispatches many small matrix products per token, microseconds apart, and
 * a spinning worker picks the next one up within ~100 ns), then sleeps in
 * futex_wait on the same word, so an idle pool (a server between requests)
 * costs no CPU. The caller is thread 0: it runs its share, then waits for
 * `n_done` to reach the number of workers, spinning for at most SPIN_NS and
 * then sleeping on `n_done` (long prompt-processing jobs where a worker was
 * descheduled). Sleepers announce themselves in `n_sleeping` /
 * `caller_sleeping`, so the common case never makes a system call; the
 * announcement and the re-check of the word are sequentially consistent on
 * both sides, so a wake-up cannot be lost. Without futexes (not Linux) the
 * sleeps are short naps and the wakes are no-ops. */
#include "slm/threadpool.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#define SPIN_NS 200000L   /* 0.2 ms of spinning after a job, then sleep */
#define SPIN_CHECK 64     /* spins between clock reads */

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
    _Alignas(64) atomic_uint generation; /* futex word of the workers */
    atomic_int n_sleeping;
    atomic_bool stop;
    _Alignas(64) atomic_uint n_done; /* futex word of the caller */
    atomic_int caller_sleeping;
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

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Sleeps while *word == val (returns at once when it differs). */
static void futex_wait(atomic_uint *word, unsigned val) {
#ifdef __linux__
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
#else
    (void)word;
    (void)val;
    struct timespec t = {0, 50000};
    nanosleep(&t, NULL);
#endif
}

static void futex_wake(atomic_uint *word, int n) {
#ifdef __linux__
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
#else
    (void)word;
    (void)n;
#endif
}

/* Spins until *word != val for at most SPIN_NS; true if it changed. */
static bool spin_until_changed(atomic_uint *word, unsigned val) {
    long long start = 0;
    for (unsigned i = 1;; i++) {
        if (atomic_load_explicit(word, memory_order_acquire) != val) return true;
        cpu_relax();
        if (i % SPIN_CHECK == 0) {
            long long t = now_ns();
            if (!start) start = t;
            else if (t - start > SPIN_NS) return false;
        }
    }
}

/* Waits until the generation differs from `seen`. */
static void wait_for_job(slm_threadpool *p, unsigned seen) {
    if (spin_until_changed(&p->generation, seen)) return;
    atomic_fetch_add(&p->n_sleeping, 1); /* seq_cst: before the re-check */
    while (atomic_load(&p->generation) == seen) futex_wait(&p->generation, seen);
    atomic_fetch_sub(&p->n_sleeping, 1);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    slm_threadpool *p = w->pool;
    const unsigned workers = (unsigned)p->n_threads - 1;
    /* Jobs are counted from 0 at creation; reading the counter here instead
     * would miss a job published before this thread got scheduled. */
    unsigned seen = 0;
    for (;;) {
        wait_for_job(p, seen);
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (atomic_load_explicit(&p->stop, memory_order_relaxed)) break;
        p->fn(p->ctx, w->ith, p->n_threads);
        /* seq_cst: ordered before the caller_sleeping check */
        if (atomic_fetch_add(&p->n_done, 1) + 1 == workers && atomic_load(&p->caller_sleeping))
            futex_wake(&p->n_done, 1);
    }
    return NULL;
}

slm_status slm_threadpool_create(int n_threads, slm_threadpool **out, slm_error *err) {
    if (n_threads <= 0) n_threads = slm_cpu_count();
    if (n_threads > 512)
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "thread count %d is too large (max 512)", n_threads);
    slm_threadpool *p = aligned_alloc(64, (sizeof *p + 63) / 64 * 64);
    if (!p) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory creating thread pool");
    memset(p, 0, sizeof *p);
    p->n_threads = n_threads;
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
    /* a new generation with `stop` set: workers wake, see it and leave */
    atomic_store(&p->stop, true);
    atomic_fetch_add(&p->generation, 1);
    futex_wake(&p->generation, INT_MAX);
    for (int i = 1; i < p->n_threads; i++) pthread_join(p->workers[i - 1].thread, NULL);
    free(p->workers);
    free(p);
}

int slm_threadpool_size(const slm_threadpool *p) { return p ? p->n_threads : 1; }

/* Waits until all workers reported the current job done. */
static void wait_for_workers(slm_threadpool *p) {
    const unsigned workers = (unsigned)p->n_threads - 1;
    for (;;) {
        unsigned d = atomic_load_explicit(&p->n_done, memory_order_acquire);
        if (d >= workers) return;
        if (spin_until_changed(&p->n_done, d)) continue;
        atomic_store(&p->caller_sleeping, 1); /* seq_cst: before the re-check */
        while ((d = atomic_load(&p->n_done)) < workers) futex_wait(&p->n_done, d);
        atomic_store(&p->caller_sleeping, 0);
        return;
    }
}

void slm_threadpool_run(slm_threadpool *p, slm_task_fn fn, void *ctx) {
    if (!p || p->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    atomic_fetch_add(&p->generation, 1); /* seq_cst: ordered before the n_sleeping check */
    if (atomic_load(&p->n_sleeping) > 0) futex_wake(&p->generation, INT_MAX);
    fn(ctx, 0, p->n_threads);
    wait_for_workers(p);
}
