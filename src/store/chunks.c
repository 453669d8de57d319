/* Parallel chunk download of one large blob. The file is cut into chunks
 * of a fixed size; up to `connections` worker threads each take a missing
 * chunk and fetch it with "Range: bytes=FROM-TO", writing the bytes at
 * their offset in the (sparse, full-size) partial file. Main data:
 * chunk_job, shared by the workers under its mutex, and the state file
 * partial/sha256-HEX.chunks beside the partial file:
 *     "SLMCHNK1", u64 file size, u64 chunk bytes, u64 chunk count,
 *     u64 done[count]   (bytes written from each chunk's start)
 * The state is saved after bytes reach the partial file (never before), on
 * every finished chunk and twice a second by the calling thread (which
 * waits for the workers), so after a kill it can only under-count: a resumed pull fetches just the missing tail of each chunk.
 * Nothing here trusts the data: the caller hashes the whole file before
 * it is adopted. A server that answers a Range request with 200 (no Range
 * support) stops the workers and the caller falls back to one stream. */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_CONNECTIONS 4
#define MAX_CONNECTIONS 64
#define DEFAULT_MIN_BYTES (64ull << 20)
#define DEFAULT_CHUNK_BYTES (16ull << 20)
#define MAX_CHUNKS 65536u
#define STATE_MAGIC "SLMCHNK1"
#define STATE_HDR 32
#define SAVE_EVERY_S 0.5 /* below 1 */

typedef struct chunk_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* a worker ended */
    int running;             /* worker threads still running */
    bool dirty;              /* done[] changed since the last save */
    store_http *h;
    const store_blob_req *b;
    int fd, state_fd;
    uint64_t size, chunk, n;
    uint64_t *done;          /* per chunk: bytes written from its start */
    bool *busy;              /* a worker holds the chunk */
    uint64_t total, start_total;
    atomic_bool stop, no_range;
    slm_status st;           /* first failure, with its message */
    slm_error err;
    double t0, last_event;
} chunk_job;

/* One Range request's state, handed to the sink. */
typedef struct chunk_req {
    chunk_job *j;
    uint64_t idx, pos, end; /* next byte to write, last byte of the chunk */
    store_resp *r;
    bool first;
    slm_error err;
} chunk_req;

static int n_connections(const slm_pull_opts *o) {
    int c = o && o->connections ? o->connections : DEFAULT_CONNECTIONS;
    return c < 1 ? 1 : c > MAX_CONNECTIONS ? MAX_CONNECTIONS : c;
}

static uint64_t count_chunks(uint64_t size, uint64_t chunk) { return size / chunk + (size % chunk != 0); }

static uint64_t pick_chunk_bytes(const slm_pull_opts *o, uint64_t size) {
    uint64_t c = o && o->chunk_bytes ? o->chunk_bytes : DEFAULT_CHUNK_BYTES;
    uint64_t min = size / MAX_CHUNKS + 1; /* keeps the state small */
    return c < min ? min : c;
}

static uint64_t chunk_len(uint64_t size, uint64_t chunk, uint64_t i) {
    uint64_t start = i * chunk;
    return size - start < chunk ? size - start : chunk;
}

bool store_chunks_wanted(const slm_pull_opts *o, uint64_t size, const char *cpath) {
    if (size == 0) return false;
    if (access(cpath, F_OK) == 0) return true; /* resume the chunked layout */
    uint64_t min = o && o->parallel_min_bytes ? o->parallel_min_bytes : DEFAULT_MIN_BYTES;
    return n_connections(o) > 1 && size >= min;
}

static bool read_at(int fd, void *buf, size_t n, off_t off) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        got += (size_t)r;
    }
    return true;
}

/* Reads and validates a state file for a file of `size` bytes. */
static bool state_read(int sfd, uint64_t size, uint64_t *chunk, uint64_t *n, uint64_t **done) {
    unsigned char hdr[STATE_HDR];
    uint64_t v[3];
    if (!read_at(sfd, hdr, sizeof hdr, 0) || memcmp(hdr, STATE_MAGIC, 8) != 0) return false;
    memcpy(v, hdr + 8, sizeof v);
    if (v[0] != size || v[1] == 0 || v[1] > size || v[2] != count_chunks(size, v[1]) || v[2] > MAX_CHUNKS)
        return false;
    uint64_t *d = calloc((size_t)v[2], sizeof *d);
    if (!d || !read_at(sfd, d, (size_t)v[2] * sizeof *d, STATE_HDR)) {
        free(d);
        return false;
    }
    for (uint64_t i = 0; i < v[2]; i++) {
        if (d[i] > chunk_len(size, v[1], i)) {
            free(d);
            return false;
        }
    }
    *chunk = v[1];
    *n = v[2];
    *done = d;
    return true;
}

/* Chunks for a new chunked download; a sequential partial file of `have`
 * bytes (an earlier one-stream pull) counts as done. */
static bool state_fresh(chunk_job *j, const slm_pull_opts *o, uint64_t have) {
    j->chunk = pick_chunk_bytes(o, j->size);
    j->n = count_chunks(j->size, j->chunk);
    j->done = calloc((size_t)j->n, sizeof *j->done);
    if (!j->done) return false;
    for (uint64_t i = 0; i < j->n; i++) {
        uint64_t start = i * j->chunk, len = chunk_len(j->size, j->chunk, i);
        j->done[i] = have <= start ? 0 : have - start < len ? have - start : len;
    }
    return true;
}

static void state_save(chunk_job *j) {
    size_t n = STATE_HDR + (size_t)j->n * sizeof *j->done;
    unsigned char *buf = malloc(n);
    if (!buf) return; /* the next save tries again; resume just redoes more */
    uint64_t v[3] = {j->size, j->chunk, j->n};
    memcpy(buf, STATE_MAGIC, 8);
    memcpy(buf + 8, v, sizeof v);
    memcpy(buf + STATE_HDR, j->done, (size_t)j->n * sizeof *j->done);
    if (pwrite(j->state_fd, buf, n, 0) != (ssize_t)n) { /* best effort, as above */
    }
    free(buf);
}

uint64_t store_chunks_done(const char *cpath, uint64_t size, uint64_t have) {
    int sfd = open(cpath, O_RDONLY);
    if (sfd < 0) return have < size ? have : 0;
    uint64_t chunk, n, *done = NULL, sum = 0;
    if (state_read(sfd, size, &chunk, &n, &done))
        for (uint64_t i = 0; i < n; i++) sum += done[i];
    free(done);
    close(sfd);
    return sum;
}

/* Under j->mu: a progress event (throttled unless forced) and the state. */
static void progress(chunk_job *j, bool force) {
    const slm_pull_opts *o = j->h->opts;
    double now = slm_now_s();
    j->dirty = true;
    if (force) {
        state_save(j);
        j->dirty = false;
    }
    if (!o || !o->progress || (!force && now - j->last_event < 0.2)) return;
    j->last_event = now;
    double dt = now - j->t0;
    slm_pull_event ev = {.phase = "download", .what = j->b->what, .digest = j->b->digest, .done = j->total,
                         .total = j->size, .bytes_per_s = dt > 0 ? (double)(j->total - j->start_total) / dt : 0};
    o->progress(&ev, o->progress_ud);
}

static void fail_job(chunk_job *j, slm_status st, const slm_error *err) {
    pthread_mutex_lock(&j->mu);
    if (j->st == SLM_OK) {
        j->st = st;
        j->err = *err;
    }
    atomic_store(&j->stop, true);
    pthread_mutex_unlock(&j->mu);
}

/* First bytes of a response: it must be the 206 for exactly our range. */
static bool chunk_first(chunk_req *q, const char *data, size_t n) {
    chunk_job *j = q->j;
    q->first = false;
    if (q->r->status != 206) {
        atomic_store(&j->no_range, true);
        atomic_store(&j->stop, true);
        slm_error_set(&q->err, SLM_ERR_UNSUPPORTED, "%s: the server ignores Range requests", j->b->what);
        return false;
    }
    if (q->r->range_start != q->pos) {
        slm_error_set(&q->err, SLM_ERR_FORMAT, "%s: server sent the range at byte %llu, asked for %llu", j->b->what,
                      (unsigned long long)q->r->range_start, (unsigned long long)q->pos);
        return false;
    }
    const char *etag = q->r->linked_etag; /* HF: the LFS sha256 of the file */
    if (strlen(etag) == SLM_DIGEST_HEX && strcmp(etag, j->b->digest + 7) != 0) {
        slm_error_set(&q->err, SLM_ERR_FORMAT, "%s: server reports sha256:%s (X-Linked-Etag), expected %s", j->b->what,
                      etag, j->b->digest);
        return false;
    }
    if (j->b->gguf && q->pos == 0 && (n < 4 || memcmp(data, "GGUF", 4) != 0)) {
        slm_error_set(&q->err, SLM_ERR_UNSUPPORTED,
                      "%s: not a GGUF file (slm only stores GGUF; pickle/PyTorch/safetensors files are never "
                      "downloaded or loaded; see 'slm scan')", j->b->what);
        return false;
    }
    return true;
}

static bool chunk_sink(const char *data, size_t n, void *ud) {
    chunk_req *q = ud;
    chunk_job *j = q->j;
    if (atomic_load(&j->stop)) return slm_error_set(&q->err, SLM_ERR_IO, "stopped"), false;
    if (store_pull_cancelled(j->h->opts, &q->err)) return false;
    if (q->first && !chunk_first(q, data, n)) return false;
    if (n > q->end + 1 - q->pos) {
        slm_error_set(&q->err, SLM_ERR_FORMAT, "%s: server sent more than the requested range", j->b->what);
        return false;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = pwrite(j->fd, data + off, n - off, (off_t)(q->pos + off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return slm_error_set(&q->err, SLM_ERR_IO, "%s: write failed: %s", j->b->what, strerror(errno)), false;
        off += (size_t)w;
    }
    q->pos += n;
    pthread_mutex_lock(&j->mu);
    j->done[q->idx] += n;
    j->total += n;
    progress(j, q->pos > q->end); /* a finished chunk is saved at once */
    pthread_mutex_unlock(&j->mu);
    return true;
}

static void retry_event(chunk_job *j) {
    const slm_pull_opts *o = j->h->opts;
    if (!o || !o->progress) return;
    pthread_mutex_lock(&j->mu);
    slm_pull_event ev = {.phase = "retry", .what = j->b->what, .digest = j->b->digest, .done = j->total,
                         .total = j->size};
    o->progress(&ev, o->progress_ud);
    pthread_mutex_unlock(&j->mu);
}

/* Fetches what is missing of chunk idx, retrying network failures and 5xx;
 * attempts that made progress do not count against the retries. */
static slm_status fetch_chunk(chunk_job *j, uint64_t idx, slm_error *err) {
    const slm_pull_opts *o = j->h->opts;
    int retries = !o || o->retries == 0 ? 3 : o->retries < 0 ? 0 : o->retries;
    int delay = o && o->retry_delay_ms > 0 ? o->retry_delay_ms : 500;
    uint64_t start = idx * j->chunk, end = start + chunk_len(j->size, j->chunk, idx) - 1;
    for (int failures = 0;;) {
        uint64_t pos = start + j->done[idx]; /* only this worker changes it while busy */
        if (pos > end) return SLM_OK;
        store_http hw = *j->h;
        hw.range_to = end;
        store_resp r;
        chunk_req q = {.j = j, .idx = idx, .pos = pos, .end = end, .r = &r, .first = true};
        slm_status st = store_http_request(&hw, j->b->url, NULL, pos, chunk_sink, &q, 0, &r, &q.err);
        bool http_err = st == SLM_OK && (r.status < 200 || r.status >= 300);
        bool short_ok = st == SLM_OK && !http_err && q.pos <= end;
        bool retry = (st == SLM_ERR_IO && !r.refused) || (http_err && r.status >= 500) || short_ok;
        if (http_err) st = store_http_status_error(&r, j->b->what, &q.err);
        else if (short_ok)
            st = slm_error_set(&q.err, SLM_ERR_IO, "%s: the range from byte %llu ended early", j->b->what,
                               (unsigned long long)pos);
        store_resp_free(&r);
        if (st == SLM_OK) continue;
        failures = q.pos > pos ? 0 : failures + 1;
        if (!retry || failures > retries || atomic_load(&j->stop)) {
            *err = q.err;
            return st;
        }
        retry_event(j);
        if (store_pull_cancelled(o, err)) return SLM_ERR_IO;
        store_sleep_ms(delay);
        delay = delay < 8000 ? delay * 2 : delay;
    }
}

static bool pick(chunk_job *j, uint64_t *idx) {
    pthread_mutex_lock(&j->mu);
    for (uint64_t i = 0; i < j->n; i++) {
        if (!j->busy[i] && j->done[i] < chunk_len(j->size, j->chunk, i)) {
            j->busy[i] = true;
            *idx = i;
            pthread_mutex_unlock(&j->mu);
            return true;
        }
    }
    pthread_mutex_unlock(&j->mu);
    return false;
}

static void *worker(void *arg) {
    chunk_job *j = arg;
    uint64_t idx;
    while (!atomic_load(&j->stop) && pick(j, &idx)) {
        slm_error err = {0};
        slm_status st = fetch_chunk(j, idx, &err);
        pthread_mutex_lock(&j->mu);
        j->busy[idx] = false;
        pthread_mutex_unlock(&j->mu);
        if (st != SLM_OK && !atomic_load(&j->no_range)) fail_job(j, st, &err);
    }
    return NULL;
}

/* Loads the state (or starts one) and sizes the partial file. */
static slm_status job_setup(chunk_job *j, const char *cpath, slm_error *err) {
    struct stat fs, ss;
    if (fstat(j->fd, &fs) != 0) return slm_error_set(err, SLM_ERR_IO, "%s: %s", cpath, strerror(errno));
    j->state_fd = open(cpath, O_RDWR | O_CREAT, 0644);
    if (j->state_fd < 0) return slm_error_set(err, SLM_ERR_IO, "%s: %s", cpath, strerror(errno));
    bool had_state = fstat(j->state_fd, &ss) == 0 && ss.st_size > 0;
    bool resumed = had_state && (uint64_t)fs.st_size == j->size &&
                   state_read(j->state_fd, j->size, &j->chunk, &j->n, &j->done);
    uint64_t have = had_state || (uint64_t)fs.st_size > j->size ? 0 : (uint64_t)fs.st_size;
    if (!resumed && !state_fresh(j, j->h->opts, have)) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    j->busy = calloc((size_t)j->n, sizeof *j->busy);
    if (!j->busy) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    if (ftruncate(j->fd, (off_t)j->size) != 0)
        return slm_error_set(err, SLM_ERR_IO, "%s: cannot size the partial file: %s", j->b->what, strerror(errno));
    for (uint64_t i = 0; i < j->n; i++) j->total += j->done[i];
    j->start_total = j->total;
    state_save(j);
    return SLM_OK;
}

static void *worker_thread(void *arg) {
    chunk_job *j = arg;
    worker(j);
    pthread_mutex_lock(&j->mu);
    j->running--;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

/* Runs up to `connections` worker threads while this one saves the state
 * twice a second (a stalled transfer calls no sink that could save it). */
static void run_workers(chunk_job *j) {
    uint64_t missing = 0;
    for (uint64_t i = 0; i < j->n; i++) missing += j->done[i] < chunk_len(j->size, j->chunk, i);
    int want = n_connections(j->h->opts);
    if ((uint64_t)want > missing) want = (int)missing;
    pthread_t tid[MAX_CONNECTIONS];
    int started = 0;
    pthread_mutex_lock(&j->mu);
    for (; started < want; started++) {
        if (pthread_create(&tid[started], NULL, worker_thread, j) != 0) break; /* fewer workers still finish */
        j->running++;
    }
    while (j->running > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (long)(SAVE_EVERY_S * 1e9);
        if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
        if (j->dirty) state_save(j), j->dirty = false;
    }
    pthread_mutex_unlock(&j->mu);
    if (started == 0 && want > 0) worker(j); /* no thread could start: do it here */
    for (int k = 0; k < started; k++) pthread_join(tid[k], NULL);
}

slm_status store_download_chunks(slm_store *s, store_http *h, const store_blob_req *b, int fd, const char *cpath,
                                 bool *fallback, slm_error *err) {
    (void)s;
    *fallback = false;
    chunk_job j = {.h = h, .b = b, .fd = fd, .state_fd = -1, .size = b->size, .t0 = slm_now_s()};
    atomic_init(&j.stop, false);
    atomic_init(&j.no_range, false);
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    slm_status st = job_setup(&j, cpath, err);
    if (st == SLM_OK) {
        run_workers(&j);
        pthread_mutex_lock(&j.mu);
        if (j.total == j.size) progress(&j, true); /* the complete total, and the final state */
        else state_save(&j);
        pthread_mutex_unlock(&j.mu);
        if (atomic_load(&j.no_range)) *fallback = true;
        else if (j.st != SLM_OK) st = err ? (*err = j.err, j.st) : j.st;
        else if (j.total != j.size)
            st = slm_error_set(err, SLM_ERR_INTERNAL, "%s: chunks incomplete (%llu of %llu bytes)", b->what,
                               (unsigned long long)j.total, (unsigned long long)j.size);
    }
    if (j.state_fd >= 0) close(j.state_fd);
    free(j.done);
    free(j.busy);
    pthread_cond_destroy(&j.cv);
    pthread_mutex_destroy(&j.mu);
    return st;
}
