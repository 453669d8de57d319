/* The ledger: one SQLite row per request in $SLM_HOME/ledger.db (table
 * "requests", WAL journal, synchronous=NORMAL). This file holds the
 * connection, the schema, the batch insert and the queries; rows reach it
 * through the writer thread of ledger_queue.c, which commits one batch per
 * flush interval (slm/router.h says what that means after a kill -9).
 * One connection guarded by a mutex; the insert is a prepared statement
 * reused for every row. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "router/ledger_internal.h"

static const char SCHEMA[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL;"
    "CREATE TABLE IF NOT EXISTS requests("
    " id INTEGER PRIMARY KEY, ts REAL NOT NULL, key_id TEXT, task TEXT, tier TEXT, model TEXT, rule TEXT,"
    " tried TEXT, escalated INTEGER NOT NULL DEFAULT 0, escalation_reason TEXT,"
    " tokens_in INTEGER, tokens_out INTEGER, tokens_cached INTEGER, latency_ms REAL, ttft_ms REAL,"
    " cost_usd REAL, remote_cost_usd REAL, frontier_cost_usd REAL, confidence TEXT,"
    " sensitive INTEGER NOT NULL DEFAULT 0, status INTEGER, error TEXT, content TEXT);"
    "CREATE INDEX IF NOT EXISTS requests_ts ON requests(ts);";

static const char INSERT[] =
    "INSERT INTO requests(ts,key_id,task,tier,model,rule,tried,escalated,escalation_reason,tokens_in,"
    "tokens_out,tokens_cached,latency_ms,ttft_ms,cost_usd,remote_cost_usd,frontier_cost_usd,confidence,"
    "sensitive,status,error,content) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";

static slm_status db_fail(sqlite3 *db, slm_error *err, const char *what) {
    return slm_error_set(err, SLM_ERR_IO, "ledger: %s: %s", what, db ? sqlite3_errmsg(db) : "out of memory");
}

/* $SLM_HOME/ledger.db, creating $SLM_HOME (default ~/.slm). */
static slm_status default_path(char *out, size_t cap, slm_error *err) {
    const char *home = getenv("SLM_HOME");
    char dir[4096];
    if (home && *home) snprintf(dir, sizeof dir, "%s", home);
    else if (getenv("HOME")) rt_fmt(dir, sizeof dir, "%s/.slm", getenv("HOME"));
    else return slm_error_set(err, SLM_ERR_INVALID_ARG, "ledger: neither SLM_HOME nor HOME is set");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return slm_error_set(err, SLM_ERR_IO, "ledger: cannot create %s: %s", dir, strerror(errno));
    if ((size_t)snprintf(out, cap, "%s/ledger.db", dir) >= cap)
        return slm_error_set(err, SLM_ERR_RANGE, "ledger: path too long");
    return SLM_OK;
}

slm_status slm_ledger_open(const char *path, slm_ledger **out, slm_error *err) {
    return slm_ledger_open_opts(path, NULL, out, err);
}

slm_status slm_ledger_open_opts(const char *path, const slm_ledger_options *opts, slm_ledger **out,
                                slm_error *err) {
    *out = NULL;
    char def[4200];
    if (!path) {
        slm_status st = default_path(def, sizeof def, err);
        if (st) return st;
        path = def;
    }
    slm_ledger *l = calloc(1, sizeof *l);
    if (!l) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&l->mu, NULL);
    /* NOMUTEX: l->mu already serialises the writer thread and the queries */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    slm_status st = SLM_OK;
    if (sqlite3_open_v2(path, &l->db, flags, NULL) != SQLITE_OK) st = db_fail(l->db, err, path);
    else {
        sqlite3_busy_timeout(l->db, 5000);
        char *msg = NULL;
        if (sqlite3_exec(l->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
            st = slm_error_set(err, SLM_ERR_IO, "ledger: %s: %s", path, msg ? msg : "schema failed");
            sqlite3_free(msg);
        } else if (sqlite3_prepare_v2(l->db, INSERT, -1, &l->insert, NULL) != SQLITE_OK)
            st = db_fail(l->db, err, "prepare");
    }
    if (!st) st = rt_ledger_start(l, opts, err);
    if (st) {
        slm_ledger_close(l);
        return st;
    }
    *out = l;
    return SLM_OK;
}

void slm_ledger_close(slm_ledger *l) {
    if (!l) return;
    rt_ledger_stop(l); /* writes what is still queued */
    sqlite3_finalize(l->insert);
    sqlite3_close(l->db);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* One insert; SQLITE_DONE on success. */
static int insert_one(slm_ledger *l, const lrow *r) {
    sqlite3_reset(l->insert);
    rt_lrow_bind(l->insert, r);
    int rc = sqlite3_step(l->insert);
    sqlite3_reset(l->insert);
    sqlite3_clear_bindings(l->insert); /* the row's strings are freed after the batch */
    return rc;
}

int rt_ledger_write(slm_ledger *l, lrow *const *rows, int n, char *why, size_t cap) {
    pthread_mutex_lock(&l->mu);
    bool ok = sqlite3_exec(l->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    for (int i = 0; ok && i < n; i++) ok = insert_one(l, rows[i]) == SQLITE_DONE;
    ok = ok && sqlite3_exec(l->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
    int lost = 0;
    if (!ok) { /* one bad row (or a full disk): retry each row on its own */
        snprintf(why, cap, "%s", sqlite3_errmsg(l->db));
        if (!sqlite3_get_autocommit(l->db)) sqlite3_exec(l->db, "ROLLBACK", NULL, NULL, NULL);
        for (int i = 0; i < n; i++)
            if (insert_one(l, rows[i]) != SQLITE_DONE) {
                lost++;
                snprintf(why, cap, "%s", sqlite3_errmsg(l->db));
            }
    }
    pthread_mutex_unlock(&l->mu);
    return lost;
}

/* Runs a one-value query with a since bound (and an optional key). */
static slm_status scalar_query(slm_ledger *l, const char *sql, double since, const char *key, double *out,
                               slm_error *err) {
    *out = 0;
    slm_ledger_flush(l, NULL); /* count what was recorded so far; a row that failed is simply absent */
    pthread_mutex_lock(&l->mu);
    sqlite3_stmt *s = NULL;
    slm_status st = SLM_OK;
    if (sqlite3_prepare_v2(l->db, sql, -1, &s, NULL) != SQLITE_OK) st = db_fail(l->db, err, "query");
    else {
        sqlite3_bind_double(s, 1, since);
        if (key) sqlite3_bind_text(s, 2, key, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(s) == SQLITE_ROW) *out = sqlite3_column_double(s, 0);
        else st = db_fail(l->db, err, "query");
    }
    sqlite3_finalize(s);
    pthread_mutex_unlock(&l->mu);
    return st;
}

slm_status slm_ledger_count(slm_ledger *l, double since, int64_t *n, slm_error *err) {
    double v = 0;
    slm_status st = scalar_query(l, "SELECT COUNT(*) FROM requests WHERE ts >= ?", since, NULL, &v, err);
    *n = (int64_t)v;
    return st;
}

slm_status slm_ledger_spent(slm_ledger *l, double since, const char *key_id, double *usd, slm_error *err) {
    const char *sql = key_id ? "SELECT TOTAL(remote_cost_usd) FROM requests WHERE ts >= ? AND key_id = ?"
                             : "SELECT TOTAL(remote_cost_usd) FROM requests WHERE ts >= ?";
    return scalar_query(l, sql, since, key_id, usd, err);
}

/* For usage.c: the raw connection (callers hold no lock: reports run in
 * the CLI, where nothing else writes through this handle). */
sqlite3 *rt_ledger_db(slm_ledger *l) {
    slm_ledger_flush(l, NULL); /* the report sees every row recorded so far */
    return l->db;
}
