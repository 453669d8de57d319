/* Resumable, verified blob download. The bytes go to
 * partial/sha256-HEX.partial (never a path a model is loaded from), are
 * hashed as they arrive (the hash state is rebuilt from the partial file on
 * resume), and the file is renamed into blobs/ only when its SHA-256 equals
 * the expected digest. A network cut keeps the partial file and the next
 * attempt (a retry, or a later `slm pull`) asks for the rest with Range.
 * Large files go through chunks.c (parallel Range requests) instead of the
 * sequential fetch; the whole file is then hashed before adoption. The
 * partial file is locked (flock) while in use, so two pulls of the same
 * blob (two requests to a server, or `slm pull` beside `slm serve`) never
 * write it at once: the second waits, then finds the blob in the store. */
#include "store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct dl_state {
    int fd;
    EVP_MD_CTX *md;
    uint64_t have;   /* bytes in the partial file (and in the hash) */
    uint64_t start;  /* `have` when this request began */
    uint64_t size;   /* expected total, 0 unknown */
    bool first;      /* no body byte seen yet in this request */
    bool gguf;
    store_resp *r;
    store_http *h;
    const char *what;
    const char *digest;
    double t0, last_event;
    slm_error *err;
} dl_state;

static bool restart_hash(dl_state *d) {
    return EVP_DigestInit_ex(d->md, EVP_sha256(), NULL) == 1;
}

static void emit(dl_state *d, const char *phase, bool force) {
    const slm_pull_opts *o = d->h->opts;
    double now = slm_now_s();
    if (!o || !o->progress || (!force && now - d->last_event < 0.2)) return;
    d->last_event = now;
    double dt = now - d->t0;
    slm_pull_event ev = {.phase = phase, .what = d->what, .digest = d->digest, .done = d->have, .total = d->size,
                         .bytes_per_s = dt > 0 ? (double)(d->have - d->start) / dt : 0};
    o->progress(&ev, o->progress_ud);
}

/* First body bytes of a request: a 200 to a Range request means the server
 * sends everything again, so start over; a 206 must start where we are. */
static bool on_first_bytes(dl_state *d, const char *data, size_t n) {
    d->first = false;
    const char *etag = d->r->linked_etag; /* HF: the LFS sha256 of the file */
    if (strlen(etag) == SLM_DIGEST_HEX && strcmp(etag, d->digest + 7) != 0) {
        slm_error_set(d->err, SLM_ERR_FORMAT, "%s: server reports sha256:%s (X-Linked-Etag), expected %s", d->what,
                      etag, d->digest);
        return false;
    }
    if (d->r->status == 200 && d->have > 0) {
        if (ftruncate(d->fd, 0) != 0 || !restart_hash(d)) return false;
        d->have = d->start = 0;
    } else if (d->r->status == 206 && d->r->range_start != d->have) {
        slm_error_set(d->err, SLM_ERR_FORMAT, "%s: server resumed at byte %llu, expected %llu", d->what,
                      (unsigned long long)d->r->range_start, (unsigned long long)d->have);
        return false;
    }
    if (d->gguf && d->have == 0 && (n < 4 || memcmp(data, "GGUF", 4) != 0)) {
        slm_error_set(d->err, SLM_ERR_UNSUPPORTED,
                      "%s: not a GGUF file (slm only stores GGUF; pickle/PyTorch/safetensors files are never "
                      "downloaded or loaded; see 'slm scan')", d->what);
        return false;
    }
    return true;
}

bool store_pull_cancelled(const slm_pull_opts *o, slm_error *err) {
    if (!o || !o->cancelled || !o->cancelled(o->cancel_ud)) return false;
    slm_error_set(err, SLM_ERR_IO, "cancelled (partial download kept for a later resume)");
    return true;
}

static bool sink(const char *data, size_t n, void *ud) {
    dl_state *d = ud;
    if (store_pull_cancelled(d->h->opts, d->err)) return false;
    if (d->first && !on_first_bytes(d, data, n)) return false;
    if (d->size && (d->have + n < d->have || d->have + n > d->size)) {
        slm_error_set(d->err, SLM_ERR_FORMAT, "%s: server sent more than the expected %llu bytes", d->what,
                      (unsigned long long)d->size);
        return false;
    }
    size_t off = 0;
    while (off < n) {
        ssize_t w = pwrite(d->fd, data + off, n - off, (off_t)(d->have + off));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            slm_error_set(d->err, SLM_ERR_IO, "%s: write failed: %s", d->what, strerror(errno));
            return false;
        }
        off += (size_t)w;
    }
    EVP_DigestUpdate(d->md, data, n);
    d->have += n;
    emit(d, "download", false);
    return true;
}

/* Rebuilds the hash state from an existing partial file. */
static slm_status hash_existing(dl_state *d, const char *path, slm_error *err) {
    static _Thread_local char buf[1 << 16];
    uint64_t done = 0;
    while (done < d->have) {
        size_t want = d->have - done < sizeof buf ? (size_t)(d->have - done) : sizeof buf;
        ssize_t n = pread(d->fd, buf, want, (off_t)done);
        if (n <= 0) return slm_error_set(err, SLM_ERR_IO, "%s: cannot read partial file", path);
        EVP_DigestUpdate(d->md, buf, (size_t)n);
        done += (uint64_t)n;
    }
    return SLM_OK;
}

static slm_status check_space(slm_store *s, const slm_pull_opts *o, const char *what, uint64_t need,
                              slm_error *err) {
    uint64_t avail;
    slm_status st = store_free_bytes(s->partial, &avail, err);
    if (st != SLM_OK) return st;
    uint64_t keep = o ? o->min_free_bytes : 0, total;
    if (!slm_add_ok(need, keep, &total) || total > avail)
        return slm_error_set(err, SLM_ERR_IO,
                             "%s: not enough disk space in %s: need %llu bytes (+%llu to keep free), %llu available",
                             what, s->home, (unsigned long long)need, (unsigned long long)keep,
                             (unsigned long long)avail);
    return SLM_OK;
}

void store_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Fetches the rest of the file, retrying network failures and 5xx. */
static slm_status fetch(dl_state *d, const char *url, slm_error *err) {
    const slm_pull_opts *o = d->h->opts;
    int retries = !o || o->retries == 0 ? 3 : o->retries < 0 ? 0 : o->retries;
    int delay = o && o->retry_delay_ms > 0 ? o->retry_delay_ms : 500;
    for (int attempt = 0;; attempt++) {
        if (d->size && d->have == d->size) return SLM_OK;
        store_resp r;
        d->r = &r;
        d->first = true;
        d->start = d->have;
        d->t0 = slm_now_s();
        slm_status st = store_http_request(d->h, url, NULL, d->have, sink, d, 0, &r, err);
        bool http_err = st == SLM_OK && (r.status < 200 || r.status >= 300);
        bool retry = (st == SLM_ERR_IO && !r.refused) || (http_err && r.status >= 500);
        if (http_err) {
            if (r.status == 416 && d->have > 0 && d->size == 0) st = SLM_OK; /* already complete */
            else st = store_http_status_error(&r, d->what, err);
        }
        store_resp_free(&r);
        if (st == SLM_OK || !retry || attempt >= retries) return st;
        if (o && o->progress) {
            slm_pull_event ev = {.phase = "retry", .what = d->what, .digest = d->digest, .done = d->have,
                                 .total = d->size};
            o->progress(&ev, o->progress_ud);
        }
        if (store_pull_cancelled(o, err)) return SLM_ERR_IO;
        store_sleep_ms(delay);
        delay = delay < 8000 ? delay * 2 : delay;
    }
}

static slm_status finish(slm_store *s, dl_state *d, const store_blob_req *b, const char *path, slm_error *err) {
    unsigned char md[32];
    unsigned int len = 0;
    char hex[SLM_DIGEST_HEX + 1];
    EVP_DigestFinal_ex(d->md, md, &len);
    store_hex(md, 32, hex);
    if (strcmp(hex, b->digest + 7) != 0) {
        unlink(path); /* complete but wrong: resuming it could never succeed */
        return slm_error_set(err, SLM_ERR_FORMAT,
                             "%s: hash mismatch: expected %s, downloaded data hashes to sha256:%s (%llu bytes); "
                             "nothing was stored", b->what, b->digest, hex, (unsigned long long)d->have);
    }
    if (b->gguf) {
        char q[32], a[32];
        slm_status st = store_gguf_info(path, b->quant ? b->quant : q, b->arch ? b->arch : a, err);
        if (st != SLM_OK) {
            unlink(path);
            return slm_error_prefix(err, "%s", b->what);
        }
    }
    emit(d, "verify", true);
    return slm_store_adopt_blob(s, path, b->digest, err);
}

/* A blob already in the store is re-hashed rather than trusted. */
static bool have_blob(slm_store *s, const store_blob_req *b) {
    char path[STORE_PATH_MAX + 80], hex[SLM_DIGEST_HEX + 1];
    if (slm_store_blob_path(s, b->digest, path, sizeof path, NULL) != SLM_OK || access(path, F_OK) != 0) return false;
    if (store_sha256_file(path, hex, NULL, NULL) == SLM_OK && strcmp(hex, b->digest + 7) == 0) {
        if (b->gguf) {
            char q[32], a[32];
            if (store_gguf_info(path, b->quant ? b->quant : q, b->arch ? b->arch : a, NULL) != SLM_OK) return false;
        }
        return true;
    }
    unlink(path);
    return false;
}

/* Progress for a blob that is already stored: one complete event, so that
 * progress readers (the server's /api/pull) see every layer. */
static void emit_have(const store_http *h, const store_blob_req *b) {
    const slm_pull_opts *o = h->opts;
    if (!o || !o->progress) return;
    uint64_t size = b->size;
    slm_pull_event ev = {.phase = "download", .what = b->what, .digest = b->digest, .done = size, .total = size};
    o->progress(&ev, o->progress_ud);
}

/* Opens path and takes its exclusive lock, waiting (cancellably) while
 * another pull holds it. A file renamed away meanwhile (the other pull
 * finished) is reopened. Returns the fd, or -1 with err set. */
static int open_locked(const char *path, const slm_pull_opts *o, slm_error *err) {
    for (;;) {
        int fd = open(path, O_RDWR | O_CREAT, 0644);
        if (fd < 0) return slm_error_set(err, SLM_ERR_IO, "%s: %s", path, strerror(errno)), -1;
        while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            if (errno != EWOULDBLOCK && errno != EINTR) break; /* no locking here: go on unlocked */
            if (store_pull_cancelled(o, err)) return close(fd), -1;
            store_sleep_ms(100);
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) return fd;
        close(fd);
    }
}

/* Bytes a resumed download still needs (for the disk space check). */
static uint64_t bytes_missing(const store_blob_req *b, const char *path, const char *cpath, bool chunked) {
    struct stat st_;
    uint64_t have = stat(path, &st_) == 0 ? (uint64_t)st_.st_size : 0;
    if (chunked) have = store_chunks_done(cpath, b->size, have);
    return b->size > have ? b->size - have : 0;
}

/* Downloads (chunked or sequential) into the open partial file; on return
 * d->md holds the hash of d->have bytes. */
static slm_status download_into(slm_store *s, dl_state *d, const store_blob_req *b, const char *path,
                                const char *cpath, bool chunked, slm_error *err) {
    slm_status st;
    if (chunked) {
        bool fallback = false;
        st = store_download_chunks(s, d->h, b, d->fd, cpath, &fallback, err);
        if (st == SLM_OK && !fallback) {
            d->have = b->size;
            return hash_existing(d, path, err);
        }
        if (!fallback) return st;
        unlink(cpath); /* the server ignores Range: one sequential download */
        if (ftruncate(d->fd, 0) != 0) return slm_error_set(err, SLM_ERR_IO, "%s: %s", path, strerror(errno));
    }
    struct stat st_;
    if (fstat(d->fd, &st_) != 0) return slm_error_set(err, SLM_ERR_IO, "%s: %s", path, strerror(errno));
    d->have = (uint64_t)st_.st_size;
    if (d->size && d->have > d->size) d->have = ftruncate(d->fd, 0) == 0 ? 0 : d->have;
    st = hash_existing(d, path, err);
    if (st == SLM_OK) st = fetch(d, b->url, err);
    if (st == SLM_OK && d->size && d->have != d->size)
        st = slm_error_set(err, SLM_ERR_IO, "%s: transfer ended at %llu of %llu bytes (partial kept; pull again to resume)",
                           b->what, (unsigned long long)d->have, (unsigned long long)d->size);
    return st;
}

slm_status store_download_blob(slm_store *s, store_http *h, const store_blob_req *b, slm_error *err) {
    if (!slm_digest_ok(b->digest)) return slm_error_set(err, SLM_ERR_FORMAT, "%s: bad digest '%.80s'", b->what, b->digest);
    if (have_blob(s, b)) return emit_have(h, b), SLM_OK;
    char path[STORE_PATH_MAX + 96], cpath[STORE_PATH_MAX + 96];
    snprintf(path, sizeof path, "%s/sha256-%s.partial", s->partial, b->digest + 7);
    snprintf(cpath, sizeof cpath, "%s/sha256-%s.chunks", s->partial, b->digest + 7);
    bool chunked = store_chunks_wanted(h->opts, b->size, cpath);
    slm_status st = check_space(s, h->opts, b->what, bytes_missing(b, path, cpath, chunked), err);
    if (st != SLM_OK) return st; /* before creating anything */
    dl_state d = {.size = b->size, .gguf = b->gguf, .h = h, .what = b->what, .digest = b->digest, .err = err};
    d.fd = open_locked(path, h->opts, err);
    if (d.fd < 0) return err ? err->code : SLM_ERR_IO;
    if (have_blob(s, b)) { /* another pull finished it while we waited */
        close(d.fd);
        return emit_have(h, b), SLM_OK;
    }
    d.md = EVP_MD_CTX_new();
    st = d.md && restart_hash(&d) ? SLM_OK : slm_error_set(err, SLM_ERR_INTERNAL, "%s: cannot start hashing", path);
    if (st == SLM_OK) st = download_into(s, &d, b, path, cpath, chunked, err);
    if (st == SLM_OK) {
        st = finish(s, &d, b, path, err); /* under the lock: nobody writes the file meanwhile */
        if (st == SLM_OK || access(path, F_OK) != 0) unlink(cpath);
    }
    close(d.fd);
    EVP_MD_CTX_free(d.md);
    return st;
}
