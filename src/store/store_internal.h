/* Internal pieces of the model store shared by the store sources: the store
 * handle, file helpers (atomic writes, hashing), the HTTP client with its
 * safety policy, and the resumable blob downloader. */
#ifndef SLM_STORE_INTERNAL_H
#define SLM_STORE_INTERNAL_H

#include <jansson.h>
#include <stdio.h>

#include "slm/store.h"

#define STORE_PATH_MAX 4096

struct slm_store {
    char home[STORE_PATH_MAX - 64];
    char blobs[STORE_PATH_MAX];
    char manifests[STORE_PATH_MAX];
    char partial[STORE_PATH_MAX];
};

/* name.c */
bool store_encode_name(const char *name, char *out, size_t cap);

/* files.c */
slm_status store_mkdir(const char *path, slm_error *err);
/* Writes data to path.tmp, fsyncs, renames over path, fsyncs the directory. */
slm_status store_write_atomic(const char *dir, const char *file, const char *data, size_t n, slm_error *err);
/* SHA-256 of a whole file as 64 lowercase hex digits; size optional. */
slm_status store_sha256_file(const char *path, char hex[SLM_DIGEST_HEX + 1], uint64_t *size, slm_error *err);
void store_hex(const unsigned char *bytes, size_t n, char *out);
/* GGUF check of a downloaded file: full reader validation, plus its
 * quantization and architecture for the index. */
slm_status store_gguf_info(const char *path, char quant[32], char arch[32], slm_error *err);
/* Quantization label (general.file_type, else the type with most bytes)
 * and architecture of an open GGUF. */
typedef struct slm_gguf slm_gguf;
void store_gguf_describe(const slm_gguf *g, char quant[32], char arch[32]);
/* Free bytes on the file system holding path. */
slm_status store_free_bytes(const char *path, uint64_t *out, slm_error *err);

/* index.c: manifests with extra blob digests (Ollama template/params...). */
slm_status store_put_manifest(slm_store *s, const slm_store_entry *e, json_t *extra_blobs, slm_error *err);

/* http.c: one configured origin (scheme://host:port) may be plain HTTP and
 * private/loopback; everything else must be HTTPS to a public address. */
typedef struct store_http {
    char origin[512];      /* the configured registry/endpoint origin */
    char auth[600];        /* "Authorization: Bearer ..." for origin only, or "" */
    long stall_s;
    uint64_t range_to;     /* > 0: requests send "Range: bytes=FROM-TO" (inclusive) */
    const slm_pull_opts *opts;
} store_http;

typedef struct store_resp {
    long status;
    char *body;            /* NUL-terminated (buffer requests only) */
    size_t body_len;
    char linked_etag[80];  /* X-Linked-Etag without quotes (HF) */
    uint64_t linked_size;  /* X-Linked-Size (HF) */
    uint64_t range_start;  /* from Content-Range of a 206 */
    uint64_t content_length; /* of the final response, 0 when unknown */
    bool refused;          /* blocked by the policy or the sink: do not retry */
    char final_url[2048];
} store_resp;

/* Origin of a URL ("https://host:port"), false if it is not http(s). */
bool store_url_origin(const char *url, char *out, size_t cap);
/* The redirect policy: true when `to` may be followed. */
bool store_redirect_ok(const store_http *h, const char *to, char *why, size_t cap);
/* True for loopback, private, link-local, unspecified (IPv4 and IPv6). */
bool store_addr_private(const void *sockaddr, int family);
void store_http_init(store_http *h, const char *base_url, const char *token, const slm_pull_opts *opts);
/* Receives the body of the final 2xx response; returns false to abort. */
typedef bool (*store_sink)(const char *data, size_t n, void *ud);
/* One request with redirects followed by hand under the policy. Returns
 * SLM_OK whenever an HTTP response arrived (r->status says which; an error
 * status keeps up to 4 KiB of body in r->body); SLM_ERR_IO on network
 * failure or a refused redirect/address (r->refused: do not retry).
 * range_from > 0 sends "Range: bytes=FROM-"; r->range_start is the start
 * the server confirmed in Content-Range (0 for a 200). With sink NULL the
 * 2xx body is kept in r->body up to max bytes (more is an error). */
slm_status store_http_request(store_http *h, const char *url, const char *accept, uint64_t range_from,
                              store_sink sink, void *ud, size_t max, store_resp *r, slm_error *err);
/* A clear message for an HTTP error status (404, 401, ...). */
slm_status store_http_status_error(const store_resp *r, const char *what, slm_error *err);
void store_resp_free(store_resp *r);

/* download.c: downloads url into the store as blob `digest` (size bytes if
 * known, else 0), resuming a partial file, hashing as it goes; on success
 * the blob is in blobs/. `what` names it in progress events. With `gguf`
 * the bytes must start with the GGUF magic (checked on the first bytes, so
 * a pickle is refused before it is downloaded) and the finished file must
 * pass the GGUF reader; quant/arch (may be NULL) then get its info. */
typedef struct store_blob_req {
    const char *url;
    const char *digest;
    uint64_t size;
    const char *what;
    bool gguf;
    char *quant, *arch; /* 32 bytes each, or NULL */
} store_blob_req;
slm_status store_download_blob(slm_store *s, store_http *h, const store_blob_req *b, slm_error *err);
/* True (with err set to "cancelled") when opts->cancelled says stop. */
bool store_pull_cancelled(const slm_pull_opts *o, slm_error *err);
void store_sleep_ms(int ms);

/* chunks.c: parallel Range download of one blob (see slm_pull_opts).
 * wanted: the blob should be fetched in chunks (its size is known and
 * large enough with more than one connection, or a chunk state file from
 * an earlier pull exists). done: bytes already downloaded according to the
 * state file at cpath (or, without one, the sequential prefix `have`).
 * download: fills the open partial file fd; SLM_OK when every chunk is
 * complete (the caller hashes the file). *fallback: the server ignored
 * Range; nothing useful was written and the caller downloads sequentially. */
bool store_chunks_wanted(const slm_pull_opts *o, uint64_t size, const char *cpath);
uint64_t store_chunks_done(const char *cpath, uint64_t size, uint64_t have);
slm_status store_download_chunks(slm_store *s, store_http *h, const store_blob_req *b, int fd, const char *cpath,
                                 bool *fallback, slm_error *err);

/* preflight.c: before a GGUF download, reads the first bytes of url with a
 * Range request, parses the GGUF header (the rest of the file stands in as
 * zero pages of a sparse mapping), plans memory for it and reports a
 * "header" event (size, architecture, quantization, fits). A file that is
 * not GGUF fails here, before anything is downloaded; other problems only
 * produce a note, the download goes on. With opts->plan it also fills it
 * (and fails when the header cannot be read). */
slm_status store_preflight(store_http *h, const char *url, uint64_t size, const char *name, const slm_pull_opts *o,
                           char quant[32], char arch[32], slm_error *err);

/* scan.c: appends a finding (truncated to the report's line length) and
 * raises the verdict to at least v. */
__attribute__((format(printf, 3, 4))) void store_scan_add(slm_scan_report *rep, slm_scan_verdict v,
                                                          const char *fmt, ...);

#endif
