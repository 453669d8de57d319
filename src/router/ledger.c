/* The ledger: one SQLite row per request in $SLM_HOME/ledger.db (table
 * "requests", WAL journal). Each slm_ledger_record is its own transaction,
 * so a row is on disk when the call returns; with WAL and synchronous=NORMAL
 * a killed process (kill -9) loses nothing committed, only a power cut can
 * drop the last transactions. One connection guarded by a mutex; the
 * insert is a prepared statement reused for every row. */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "router/router_internal.h"

struct slm_ledger {
    pthread_mutex_t mu;
    sqlite3 *db;
    sqlite3_stmt *insert;
};

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
    *out = NULL;
    char def[4200];
    if (!path) {
        slm_status st = default_path(def, sizeof def, err);
        if (st) return st;
        path = def;
    }
    slm_ledger *l = calloc(1, sizeof *l);
    if (!l) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
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
    if (st) {
        sqlite3_close(l->db);
        free(l);
        return st;
    }
    pthread_mutex_init(&l->mu, NULL);
    *out = l;
    return SLM_OK;
}

void slm_ledger_close(slm_ledger *l) {
    if (!l) return;
    sqlite3_finalize(l->insert);
    sqlite3_close(l->db);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static void bind_text(sqlite3_stmt *s, int i, const char *v) {
    if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(s, i);
}

static void bind_row(sqlite3_stmt *s, const slm_ledger_row *r) {
    int i = 1;
    sqlite3_bind_double(s, i++, r->ts);
    bind_text(s, i++, r->key_id);
    bind_text(s, i++, r->task);
    bind_text(s, i++, r->tier);
    bind_text(s, i++, r->model);
    bind_text(s, i++, r->rule);
    bind_text(s, i++, r->tried);
    sqlite3_bind_int(s, i++, r->escalated);
    bind_text(s, i++, r->escalation_reason);
    sqlite3_bind_int64(s, i++, r->tokens_in);
    sqlite3_bind_int64(s, i++, r->tokens_out);
    sqlite3_bind_int64(s, i++, r->tokens_cached);
    sqlite3_bind_double(s, i++, r->latency_ms);
    sqlite3_bind_double(s, i++, r->ttft_ms);
    sqlite3_bind_double(s, i++, r->cost_usd);
    sqlite3_bind_double(s, i++, r->remote_cost_usd);
    sqlite3_bind_double(s, i++, r->frontier_cost_usd);
    bind_text(s, i++, r->confidence);
    sqlite3_bind_int(s, i++, r->sensitive);
    sqlite3_bind_int(s, i++, r->status);
    bind_text(s, i++, r->error);
    bind_text(s, i++, r->content);
}

slm_status slm_ledger_record(slm_ledger *l, const slm_ledger_row *row, slm_error *err) {
    if (!l) return SLM_OK;
    pthread_mutex_lock(&l->mu);
    sqlite3_reset(l->insert);
    sqlite3_clear_bindings(l->insert);
    bind_row(l->insert, row);
    int rc = sqlite3_step(l->insert); /* autocommit: one transaction per row */
    slm_status st = rc == SQLITE_DONE ? SLM_OK : db_fail(l->db, err, "insert");
    sqlite3_reset(l->insert);
    pthread_mutex_unlock(&l->mu);
    return st;
}

/* Runs a one-value query with a since bound (and an optional key). */
static slm_status scalar_query(slm_ledger *l, const char *sql, double since, const char *key, double *out,
                               slm_error *err) {
    *out = 0;
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
 * the CLI, not concurrently with a writer in the same process). */
sqlite3 *rt_ledger_db(slm_ledger *l) { return l->db; }
