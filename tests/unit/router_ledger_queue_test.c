/* The ledger's writer thread: a full queue makes producers wait and drops
 * nothing (many threads, a 4-row queue); a queued row reaches the database
 * on its own within the flush interval (seen through a second SQLite
 * connection); close writes what is still queued; a process killed with
 * SIGKILL while enqueueing keeps every row it had flushed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "slm/router.h"

static void tmp_path(char *out, size_t cap, const char *name) {
    const char *base = getenv("SLM_TEST_TMP") ? getenv("SLM_TEST_TMP") : "/tmp";
    mkdir(base, 0700);
    snprintf(out, cap, "%s/lq-%d-%s", base, (int)getpid(), name);
    char side[1100];
    unlink(out);
    snprintf(side, sizeof side, "%s-wal", out);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", out);
    unlink(side);
}

static slm_ledger_row row(int i) {
    static char tried[64];
    snprintf(tried, sizeof tried, "local/m: ok #%d", i);
    return (slm_ledger_row){.ts = 1000 + i, .key_id = "k", .task = "chat", .tier = "local", .model = "m",
                            .rule = "default", .tried = tried, .tokens_in = i, .latency_ms = 1, .status = 200,
                            .remote_cost_usd = 0.25};
}

/* Rows in the file, read through a separate connection (what another
 * process would see). */
static int64_t rows_on_disk(const char *path) {
    sqlite3 *db = NULL;
    int64_t n = -1;
    sqlite3_stmt *s = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM requests", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

typedef struct producer {
    slm_ledger *l;
    int base, n, failures;
} producer;

static void *produce(void *arg) {
    producer *p = arg;
    for (int i = 0; i < p->n; i++) {
        slm_ledger_row r = {.ts = 1, .tier = "local", .tried = "x", .tokens_in = p->base + i, .status = 200};
        if (slm_ledger_enqueue(p->l, &r, NULL) != SLM_OK) p->failures++;
    }
    return NULL;
}

static void test_full_queue_waits(void **state) {
    (void)state;
    char path[1024];
    tmp_path(path, sizeof path, "full.db");
    slm_ledger_options o = {.queue_rows = 4, .flush_interval_s = 0.05};
    slm_ledger *l = NULL;
    assert_int_equal(slm_ledger_open_opts(path, &o, &l, NULL), SLM_OK);
    producer p[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        p[i] = (producer){.l = l, .base = i * 1000, .n = 500};
        assert_int_equal(pthread_create(&th[i], NULL, produce, &p[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(p[i].failures, 0);
    }
    int64_t n = 0;
    assert_int_equal(slm_ledger_count(l, 0, &n, NULL), SLM_OK); /* flushes first */
    assert_int_equal(n, 2000);
    slm_ledger_close(l);
    assert_int_equal(rows_on_disk(path), 2000);
    /* every producer's rows are there once, none twice */
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT COUNT(DISTINCT tokens_in) FROM requests", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int64(s, 0), 2000);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

static double mono(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_interval_and_close(void **state) {
    (void)state;
    char path[1024];
    tmp_path(path, sizeof path, "interval.db");
    slm_ledger_options o = {.flush_interval_s = 0.02};
    slm_ledger *l = NULL;
    assert_int_equal(slm_ledger_open_opts(path, &o, &l, NULL), SLM_OK);
    slm_ledger_row r = row(1);
    assert_int_equal(slm_ledger_enqueue(l, &r, NULL), SLM_OK);
    double t0 = mono();
    while (rows_on_disk(path) < 1 && mono() - t0 < 5) usleep(2000);
    assert_int_equal(rows_on_disk(path), 1); /* written without anyone asking */
    /* a long interval: rows wait in the queue, close writes them */
    slm_ledger_close(l);
    o.flush_interval_s = 30;
    assert_int_equal(slm_ledger_open_opts(path, &o, &l, NULL), SLM_OK);
    for (int i = 2; i <= 11; i++) {
        r = row(i);
        assert_int_equal(slm_ledger_enqueue(l, &r, NULL), SLM_OK);
    }
    usleep(100000);
    assert_int_equal(rows_on_disk(path), 1); /* still queued */
    assert_int_equal(slm_ledger_flush(l, NULL), SLM_OK);
    assert_int_equal(rows_on_disk(path), 11);
    r = row(12);
    assert_int_equal(slm_ledger_record(l, &r, NULL), SLM_OK); /* synchronous: on disk when it returns */
    assert_int_equal(rows_on_disk(path), 12);
    r = row(13);
    assert_int_equal(slm_ledger_enqueue(l, &r, NULL), SLM_OK);
    slm_ledger_close(l);
    assert_int_equal(rows_on_disk(path), 13);
}

/* A child enqueues rows without pause and reports, after each flush, how
 * many it had queued; SIGKILL mid-run must keep every flushed row. */
static void test_kill9_keeps_flushed(void **state) {
    (void)state;
    char path[1024];
    tmp_path(path, sizeof path, "kill.db");
    int fd[2];
    assert_int_equal(pipe(fd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fd[0]);
        slm_ledger *l = NULL;
        if (slm_ledger_open(path, &l, NULL)) _exit(2);
        for (int i = 1;; i++) {
            slm_ledger_row r = row(i);
            if (slm_ledger_enqueue(l, &r, NULL)) _exit(3);
            if (i % 50 == 0 && (slm_ledger_flush(l, NULL) || write(fd[1], &i, sizeof i) != sizeof i)) _exit(4);
        }
    }
    close(fd[1]);
    int flushed = 0, v;
    while (flushed < 3000 && read(fd[0], &v, sizeof v) == sizeof v) flushed = v;
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    while (read(fd[0], &v, sizeof v) == sizeof v) flushed = v;
    close(fd[0]);
    slm_ledger *l = NULL;
    assert_int_equal(slm_ledger_open(path, &l, NULL), SLM_OK);
    int64_t n = 0;
    assert_int_equal(slm_ledger_count(l, 0, &n, NULL), SLM_OK);
    assert_true(n >= flushed);
    double spent = 0;
    assert_int_equal(slm_ledger_spent(l, 0, "k", &spent, NULL), SLM_OK);
    assert_true(spent > 0.25 * (double)n - 1e-6 && spent < 0.25 * (double)n + 1e-6); /* whole rows only */
    slm_ledger_close(l);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_queue_waits),
        cmocka_unit_test(test_interval_and_close),
        cmocka_unit_test(test_kill9_keeps_flushed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
