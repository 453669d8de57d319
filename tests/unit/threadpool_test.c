/* Tests for the kernel thread pool: every thread runs every job exactly
 * once, with the right ith/nth, including jobs published immediately after
 * creation (before workers are scheduled) and after workers went to sleep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdatomic.h>
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_immediate_jobs), cmocka_unit_test(test_many_jobs),
        cmocka_unit_test(test_jobs_after_sleep), cmocka_unit_test(test_single_thread_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
