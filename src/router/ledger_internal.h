/* The ledger's inside, shared by ledger.c (SQLite connection, schema,
 * queries) and ledger_queue.c (the writer thread and its bounded queue).
 *
 * Main structure: slm_ledger. Rows are copied into one allocation each
 * (lrow) and put in a ring of queue_rows pointers; the writer thread takes
 * everything queued, inserts it in one transaction and advances done_seq.
 * Sequence numbers count rows from 1; a row is committed once done_seq
 * reaches its number. */
#ifndef SLM_ROUTER_LEDGER_INTERNAL_H
#define SLM_ROUTER_LEDGER_INTERNAL_H

#include <sqlite3.h>

#include "router/router_internal.h"

typedef struct lrow lrow; /* a queued row (ledger_queue.c) */

struct slm_ledger {
    pthread_mutex_t mu; /* the SQLite connection (writer commits, queries) */
    sqlite3 *db;
    sqlite3_stmt *insert;
    /* queue, under qmu */
    pthread_mutex_t qmu;
    pthread_cond_t wake;      /* writer: rows queued, flush wanted, closing */
    pthread_cond_t progress;  /* producers: space freed, a batch committed */
    lrow **ring;
    int cap, head, count;
    lrow **batch;             /* writer-owned: the rows being written */
    uint64_t next_seq;        /* number of the last row queued */
    uint64_t done_seq;        /* rows up to this one are written (or failed) */
    uint64_t flush_seq;       /* a caller waits for rows up to this one: no batching delay */
    uint64_t fail_lo, fail_hi;/* the last rows that could not be written */
    char fail_msg[256];
    int64_t interval_us;      /* longest a queued row waits for the writer */
    bool closing;
    pthread_t writer;
    bool writer_running;
};

/* ledger_queue.c */
slm_status rt_ledger_start(slm_ledger *l, const slm_ledger_options *o, slm_error *err);
void rt_ledger_stop(slm_ledger *l); /* writes what is queued, joins the writer */
/* ledger.c: inserts rows in one transaction (a failing batch is retried
 * row by row so one bad row loses only itself); returns rows lost and
 * the reason in why. */
int rt_ledger_write(slm_ledger *l, lrow *const *rows, int n, char *why, size_t cap);
/* ledger_queue.c: binds a queued row to the insert statement. */
void rt_lrow_bind(sqlite3_stmt *s, const lrow *r);

#endif
