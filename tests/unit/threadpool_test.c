/* Tests for the kernel thread pool: every thread runs every job exactly
 * once, with the right ith/nth, including jobs published immediately after
 * creation (before workers are scheduled), after workers went to sleep and
 * at gaps around the end of their spin window; the caller's own sleep
 * while a worker is slow; and that an idle pool sleeps instead of
 * spinning (process CPU time over an idle 300 ms). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "slm/threadpool.h"

typedef struct counts {
    atomic_int calls[8];
    atomic_int bad_nth;
} counts;

static int g_nth;

static void count_task(void *ctx, int ith, int nth) {
    counts *c = ctx;
    if (nth != g_nth || ith < 0 || ith >= nth) atomic_fetch_add(&c->bad_nth, 1);
    else atomic_fetch_add(&c->calls[ith], 1);
}

static void run_jobs(int n_threads, int jobs, bool sleep_between) {
    slm_threadpool *p;
    assert_int_equal(slm_threadpool_create(n_threads, &p, NULL), SLM_OK);
    g_nth = n_threads;
    counts c = {0};
    for (int j = 0; j < jobs; j++) {
        slm_threadpool_run(p, count_task, &c);
        if (sleep_between && j % 10 == 0) usleep(20000); /* let workers fall asleep */
    }
    assert_int_equal(atomic_load(&c.bad_nth), 0);
    for (int i = 0; i < n_threads; i++) assert_int_equal(atomic_load(&c.calls[i]), jobs);
    slm_threadpool_free(p);
}

static void test_immediate_jobs(void **state) {
    (void)state;
    /* a fresh pool per iteration: the first job races the thread start-up */
    for (int i = 0; i < 200; i++) run_jobs(2 + i % 3, 1, false);
}

static void test_many_jobs(void **state) {
    (void)state;
    run_jobs(2, 5000, false);
    run_jobs(4, 500, false); /* oversubscribed on small machines */
}

static void test_jobs_after_sleep(void **state) {
    (void)state;
    run_jobs(3, 50, true);
}

static void test_single_thread_and_errors(void **state) {
    (void)state;
    run_jobs(1, 10, false);
    slm_threadpool *p = NULL;
    slm_error err;
    assert_int_equal(slm_threadpool_create(100000, &p, &err), SLM_ERR_INVALID_ARG);
    assert_null(p);
    assert_true(slm_cpu_count() >= 1);
    assert_int_equal(slm_threadpool_create(0, &p, NULL), SLM_OK);
    assert_int_equal(slm_threadpool_size(p), slm_cpu_count());
    slm_threadpool_free(p);
    slm_threadpool_free(NULL);
}

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double wall_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Each thread sums its slice of a shared array; a wrong split, a missed
 * job or a job seen twice gives a wrong total. */
typedef struct sum_job {
    const int *v;
    int n;
    atomic_long total;
    int slow_ith; /* this thread busy-waits ~1 ms first (-1: none) */
} sum_job;

static void sum_task(void *ctx, int ith, int nth) {
    sum_job *j = ctx;
    if (ith == j->slow_ith) {
        double end = wall_seconds() + 0.001;
        while (wall_seconds() < end) {
        }
    }
    long s = 0;
    for (int i = ith; i < j->n; i += nth) s += j->v[i];
    atomic_fetch_add(&j->total, s);
}

static void test_sums_with_gaps(void **state) {
    (void)state;
    static int v[1000];
    long want = 0;
    for (int i = 0; i < 1000; i++) want += v[i] = i * 7 % 13;
    slm_threadpool *p;
    assert_int_equal(slm_threadpool_create(3, &p, NULL), SLM_OK);
    for (int k = 0; k < 400; k++) {
        sum_job j = {v, 1000, 0, k % 5 == 0 ? 1 + k % 2 : -1};
        slm_threadpool_run(p, sum_task, &j);
        assert_int_equal(atomic_load(&j.total), want);
        /* gaps from none to past the workers' spin window (0.2 ms) */
        if (k % 4) usleep((useconds_t)(k % 7) * 60);
    }
    slm_threadpool_free(p);
}

static void test_idle_pool_sleeps(void **state) {
    (void)state;
    slm_threadpool *p;
    assert_int_equal(slm_threadpool_create(4, &p, NULL), SLM_OK);
    g_nth = 4;
    counts c = {0};
    for (int j = 0; j < 100; j++) slm_threadpool_run(p, count_task, &c);
    usleep(20000); /* past the spin window */
    double cpu0 = cpu_seconds();
    usleep(300000);
    double used = cpu_seconds() - cpu0;
    /* three spinning workers would burn up to 0.9 s of CPU here (still
     * well over 0.03 s on a machine busy with other work) */
    assert_true(used < 0.03);
    slm_threadpool_run(p, count_task, &c); /* and they still wake up */
    for (int i = 0; i < 4; i++) assert_int_equal(atomic_load(&c.calls[i]), 101);
    slm_threadpool_free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_immediate_jobs), cmocka_unit_test(test_many_jobs),
        cmocka_unit_test(test_jobs_after_sleep), cmocka_unit_test(test_single_thread_and_errors),
        cmocka_unit_test(test_sums_with_gaps), cmocka_unit_test(test_idle_pool_sleeps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
