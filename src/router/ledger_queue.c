/* The ledger's writer thread and its bounded queue (see slm/router.h for the
 * durability contract). Producers copy a row into one allocation (lrow:
 * the numbers, then every string packed after the struct) and put it in a
 * ring; the writer sleeps until rows arrive, lets them gather for at most
 * the flush interval (less when someone waits or the ring fills up), then
 * takes the whole ring and inserts it in one transaction. Batching keeps
 * SQLite (and WAL checkpoints) off the request path and turns a commit per
 * row into a commit per interval. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router/ledger_internal.h"

#define N_TEXT 10

struct lrow {
    uint64_t seq;
    int64_t queued_us;
    double ts, latency_ms, ttft_ms, cost_usd, remote_cost_usd, frontier_cost_usd;
    int64_t tokens_in, tokens_out, tokens_cached;
    int status;
    bool escalated, sensitive;
    const char *text[N_TEXT]; /* point into the same allocation, or NULL */
};

/* The string fields in insert order (ledger.c binds them the same way). */
enum { T_KEY, T_TASK, T_TIER, T_MODEL, T_RULE, T_TRIED, T_ESC, T_CONF, T_ERROR, T_CONTENT };

static lrow *lrow_copy(const slm_ledger_row *r) {
    const char *src[N_TEXT] = {r->key_id, r->task, r->tier, r->model, r->rule, r->tried, r->escalation_reason,
                               r->confidence, r->error, r->content};
    size_t len[N_TEXT], total = sizeof(lrow);
    for (int i = 0; i < N_TEXT; i++) {
        len[i] = src[i] ? strlen(src[i]) + 1 : 0;
        if (len[i] > SIZE_MAX - total) return NULL;
        total += len[i];
    }
    lrow *x = malloc(total);
    if (!x) return NULL;
    *x = (lrow){.ts = r->ts, .latency_ms = r->latency_ms, .ttft_ms = r->ttft_ms, .cost_usd = r->cost_usd,
                .remote_cost_usd = r->remote_cost_usd, .frontier_cost_usd = r->frontier_cost_usd,
                .tokens_in = r->tokens_in, .tokens_out = r->tokens_out, .tokens_cached = r->tokens_cached,
                .status = r->status, .escalated = r->escalated, .sensitive = r->sensitive};
    char *p = (char *)(x + 1);
    for (int i = 0; i < N_TEXT; i++) {
        if (!src[i]) continue;
        memcpy(p, src[i], len[i]);
        x->text[i] = p;
        p += len[i];
    }
    return x;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v) {
    if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC); /* lives until the row is freed after the step */
    else sqlite3_bind_null(s, i);
}

void rt_lrow_bind(sqlite3_stmt *s, const lrow *r) {
    int i = 1;
    sqlite3_bind_double(s, i++, r->ts);
    for (int k = T_KEY; k <= T_TRIED; k++) bind_text(s, i++, r->text[k]);
    sqlite3_bind_int(s, i++, r->escalated);
    bind_text(s, i++, r->text[T_ESC]);
    sqlite3_bind_int64(s, i++, r->tokens_in);
    sqlite3_bind_int64(s, i++, r->tokens_out);
    sqlite3_bind_int64(s, i++, r->tokens_cached);
    sqlite3_bind_double(s, i++, r->latency_ms);
    sqlite3_bind_double(s, i++, r->ttft_ms);
    sqlite3_bind_double(s, i++, r->cost_usd);
    sqlite3_bind_double(s, i++, r->remote_cost_usd);
    sqlite3_bind_double(s, i++, r->frontier_cost_usd);
    bind_text(s, i++, r->text[T_CONF]);
    sqlite3_bind_int(s, i++, r->sensitive);
    sqlite3_bind_int(s, i++, r->status);
    bind_text(s, i++, r->text[T_ERROR]);
    bind_text(s, i++, r->text[T_CONTENT]);
}

static struct timespec deadline_of(int64_t mono_us) {
    return (struct timespec){.tv_sec = (time_t)(mono_us / 1000000), .tv_nsec = (long)(mono_us % 1000000) * 1000};
}

static int64_t mono_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Under qmu: waits until the oldest row is interval old, unless someone
 * waits for rows, the ring is half full or the ledger closes. */
static void gather(slm_ledger *l) {
    int64_t until = l->ring[l->head]->queued_us + l->interval_us;
    while (!l->closing && l->flush_seq <= l->done_seq && l->count < l->cap / 2 && mono_us() < until) {
        struct timespec ts = deadline_of(until);
        pthread_cond_timedwait(&l->wake, &l->qmu, &ts);
    }
}

static void *writer_main(void *arg) {
    slm_ledger *l = arg;
    pthread_mutex_lock(&l->qmu);
    for (;;) {
        while (l->count == 0 && !l->closing) pthread_cond_wait(&l->wake, &l->qmu);
        if (l->count == 0) break; /* closing with nothing left */
        gather(l);
        int n = l->count;
        for (int i = 0; i < n; i++) l->batch[i] = l->ring[(l->head + i) % l->cap];
        l->head = (l->head + n) % l->cap;
        l->count = 0;
        uint64_t last = l->batch[n - 1]->seq;
        pthread_cond_broadcast(&l->progress); /* space for waiting producers */
        pthread_mutex_unlock(&l->qmu);
        char why[256] = "";
        int lost = rt_ledger_write(l, l->batch, n, why, sizeof why);
        uint64_t first = l->batch[0]->seq;
        for (int i = 0; i < n; i++) free(l->batch[i]);
        pthread_mutex_lock(&l->qmu);
        if (lost) {
            l->fail_lo = first, l->fail_hi = last;
            rt_fmt(l->fail_msg, sizeof l->fail_msg, "%d of %d rows not written: %s", lost, n, why);
        }
        l->done_seq = last;
        pthread_cond_broadcast(&l->progress);
    }
    pthread_mutex_unlock(&l->qmu);
    return NULL;
}

slm_status rt_ledger_start(slm_ledger *l, const slm_ledger_options *o, slm_error *err) {
    l->cap = o && o->queue_rows > 0 ? o->queue_rows : 4096;
    if (l->cap > (1 << 24)) l->cap = 1 << 24;
    double iv = o && o->flush_interval_s > 0 ? o->flush_interval_s : 0.02;
    l->interval_us = iv > 60 ? 60000000 : (int64_t)(iv * 1e6);
    pthread_mutex_init(&l->qmu, NULL); /* cap > 0 from here on: rt_ledger_stop destroys these */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&l->wake, &ca);
    pthread_cond_init(&l->progress, &ca);
    pthread_condattr_destroy(&ca);
    l->ring = calloc((size_t)l->cap, sizeof *l->ring);
    l->batch = calloc((size_t)l->cap, sizeof *l->batch);
    if (!l->ring || !l->batch) return slm_error_set(err, SLM_ERR_NOMEM, "ledger: out of memory");
    /* The writer must never take a process signal (slm serve sigwaits for
     * SIGTERM in its main thread; a thread that did not block it would die
     * of it). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&l->writer, NULL, writer_main, l);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) return slm_error_set(err, SLM_ERR_NOMEM, "ledger: cannot start the writer thread");
    l->writer_running = true;
    return SLM_OK;
}

void rt_ledger_stop(slm_ledger *l) {
    if (l->writer_running) {
        pthread_mutex_lock(&l->qmu);
        l->closing = true;
        pthread_cond_broadcast(&l->wake);
        pthread_mutex_unlock(&l->qmu);
        pthread_join(l->writer, NULL);
        l->writer_running = false;
    }
    if (l->cap > 0) {
        pthread_cond_destroy(&l->wake);
        pthread_cond_destroy(&l->progress);
        pthread_mutex_destroy(&l->qmu);
    }
    free(l->ring);
    free(l->batch);
    l->ring = l->batch = NULL;
}

/* Under qmu: queues x, waiting for space; returns its sequence number. */
static uint64_t put(slm_ledger *l, lrow *x) {
    while (l->count == l->cap) pthread_cond_wait(&l->progress, &l->qmu);
    x->seq = ++l->next_seq;
    x->queued_us = mono_us();
    l->ring[(l->head + l->count) % l->cap] = x;
    if (l->count++ == 0 || l->count >= l->cap / 2) pthread_cond_signal(&l->wake);
    return x->seq;
}

/* Under qmu: waits until rows up to seq are written. */
static slm_status wait_done(slm_ledger *l, uint64_t seq, slm_error *err) {
    if (l->flush_seq < seq) l->flush_seq = seq;
    pthread_cond_signal(&l->wake);
    while (l->done_seq < seq) pthread_cond_wait(&l->progress, &l->qmu);
    if (l->fail_hi && seq >= l->fail_lo && seq <= l->fail_hi)
        return slm_error_set(err, SLM_ERR_IO, "ledger: %s", l->fail_msg);
    return SLM_OK;
}

static slm_status queue_row(slm_ledger *l, const slm_ledger_row *row, bool wait, slm_error *err) {
    if (!l) return SLM_OK;
    lrow *x = lrow_copy(row);
    if (!x) return slm_error_set(err, SLM_ERR_NOMEM, "ledger: out of memory");
    pthread_mutex_lock(&l->qmu);
    if (l->closing || !l->writer_running) {
        pthread_mutex_unlock(&l->qmu);
        free(x);
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "ledger: closed");
    }
    uint64_t seq = put(l, x);
    slm_status st = wait ? wait_done(l, seq, err) : SLM_OK;
    pthread_mutex_unlock(&l->qmu);
    return st;
}

slm_status slm_ledger_enqueue(slm_ledger *l, const slm_ledger_row *row, slm_error *err) {
    return queue_row(l, row, false, err);
}

slm_status slm_ledger_record(slm_ledger *l, const slm_ledger_row *row, slm_error *err) {
    return queue_row(l, row, true, err);
}

slm_status slm_ledger_flush(slm_ledger *l, slm_error *err) {
    if (!l || !l->writer_running) return SLM_OK;
    pthread_mutex_lock(&l->qmu);
    slm_status st = l->next_seq ? wait_done(l, l->next_seq, err) : SLM_OK;
    pthread_mutex_unlock(&l->qmu);
    return st;
}
