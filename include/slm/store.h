/* slm model store: a content-addressed directory of GGUF blobs plus one
 * small JSON manifest per model name, the pull clients for the Ollama
 * registry and Hugging Face, hash pinning, and the safety scanner.
 *
 * Layout under the store home ($SLM_HOME, default ~/.slm):
 *   blobs/sha256-HEX          verified content, named by its SHA-256
 *   manifests/ENCODED.json    one per model name (name percent-encoded so a
 *                             name can never name a path: '/' becomes %2F)
 *   partial/sha256-HEX.partial  interrupted downloads, kept for resume and
 *                             never used as a model
 * The index is plain files rather than SQLite: each manifest is written
 * atomically (temp + fsync + rename) on its own, a reader never sees a
 * half-written one, and users can read and back them up with cat and cp.
 *
 * Every name and digest that comes from the network is validated before it
 * reaches a path: digests must be "sha256:" + 64 lowercase hex digits, name
 * components [A-Za-z0-9][A-Za-z0-9._-]* without "..". */
#ifndef SLM_STORE_H
#define SLM_STORE_H

#include "slm/base.h"

#define SLM_NAME_MAX 256
#define SLM_DIGEST_HEX 64

/* ---- Names --------------------------------------------------------------- */

typedef enum slm_ref_kind {
    SLM_REF_OLLAMA, /* [NAMESPACE/]MODEL[:TAG], default library/..:latest */
    SLM_REF_HF,     /* hf.co/ORG/REPO[:QUANT] or hf.co/ORG/REPO/FILE.gguf */
} slm_ref_kind;

/* A parsed model reference. `name` is the canonical store name:
 * "qwen3:4b", "user/model:tag", "hf.co/org/repo:Q4_K_M",
 * "hf.co/org/repo/file.gguf". */
typedef struct slm_model_ref {
    slm_ref_kind kind;
    char name[SLM_NAME_MAX];
    char ns[96];     /* ollama namespace ("library") or HF organisation */
    char repo[96];   /* ollama model or HF repository */
    char tag[96];    /* ollama tag or HF quantization ("" with file) */
    char file[160];  /* HF file name, "" when picked by quantization */
    char pin[SLM_DIGEST_HEX + 1]; /* from NAME@sha256:HEX, "" if none */
} slm_model_ref;

/* Parses a name as typed by a user. Also accepts
 * https://huggingface.co/ORG/REPO[/resolve/main/FILE.gguf]. */
slm_status slm_ref_parse(const char *text, slm_model_ref *out, slm_error *err);
/* One path-safe name component: [A-Za-z0-9][A-Za-z0-9._-]*, no "..",
 * at most max_len bytes. */
bool slm_name_component_ok(const char *s, size_t max_len);
/* "sha256:" followed by exactly 64 lowercase hex digits. */
bool slm_digest_ok(const char *digest);

/* ---- Store --------------------------------------------------------------- */

typedef struct slm_store slm_store;

/* One model in the store. */
typedef struct slm_store_entry {
    char name[SLM_NAME_MAX];
    char digest[8 + SLM_DIGEST_HEX]; /* "sha256:HEX" of the GGUF blob */
    uint64_t size;                   /* bytes of the GGUF blob */
    char quant[32];                  /* e.g. "Q4_K_M", "F16", "" unknown */
    char arch[32];                   /* general.architecture, "" unknown */
    char source[512];                /* URL it was pulled from */
    int64_t modified;                /* unix seconds of the pull */
    bool pinned;                     /* pulled as NAME@sha256:... */
} slm_store_entry;

/* Opens (creating directories as needed) the store at `home`, or at
 * $SLM_HOME, or at ~/.slm when home is NULL. */
slm_status slm_store_open(const char *home, slm_store **out, slm_error *err);
void slm_store_close(slm_store *s);
const char *slm_store_home(const slm_store *s);

/* All entries, sorted by name; *out is malloc'ed, the caller frees it. */
slm_status slm_store_list(slm_store *s, slm_store_entry **out, size_t *n, slm_error *err);
/* One entry by name (canonicalised with slm_ref_parse, so "qwen3" finds
 * "qwen3:latest"); SLM_ERR_IO with "not in the store" when absent. */
slm_status slm_store_lookup(slm_store *s, const char *name, slm_store_entry *out, slm_error *err);
/* Removes the name, then every blob no manifest references any more. */
slm_status slm_store_remove(slm_store *s, const char *name, slm_error *err);
/* Re-hashes the entry's blob; SLM_ERR_FORMAT naming both digests when it
 * no longer matches. */
slm_status slm_store_verify(slm_store *s, const slm_store_entry *e, slm_error *err);
/* Path of the entry's blob (cap >= 4096 is always enough). */
slm_status slm_store_blob_path(const slm_store *s, const char *digest, char *path, size_t cap, slm_error *err);

/* Records a manifest for `e` whose blob is already in blobs/ (used by pull;
 * public for tests and imports). Atomic. */
slm_status slm_store_put(slm_store *s, const slm_store_entry *e, slm_error *err);
/* Moves a fully verified file into blobs/ under its digest (atomic
 * rename, fsync'ed). */
slm_status slm_store_adopt_blob(slm_store *s, const char *tmp_path, const char *digest, slm_error *err);

/* Quantization label (general.file_type, else the tensor type with most
 * bytes) and general.architecture of an open GGUF, as `slm list` shows them
 * ("" when unknown). */
struct slm_gguf;
void slm_store_describe_gguf(const struct slm_gguf *g, char quant[32], char arch[32]);

/* Model argument of run/show/...: an existing file path is returned as is;
 * otherwise a store name (pinned names are re-verified: a blob that no
 * longer matches its pin fails loudly). `path` gets the GGUF path. */
slm_status slm_store_resolve(slm_store *s, const char *name_or_path, char *path, size_t cap, slm_error *err);

/* ---- Pull ---------------------------------------------------------------- */

typedef struct slm_pull_event {
    const char *phase; /* "manifest", "header", "download", "retry", "verify", "done" */
    const char *what;  /* the blob or file name */
    const char *digest; /* "sha256:HEX" of the blob ("download", "verify"), else NULL */
    const char *detail; /* "header": size, architecture, quantization, fits; else NULL */
    uint64_t done, total; /* bytes (total 0 when unknown) */
    double bytes_per_s;
} slm_pull_event;
typedef void (*slm_pull_progress_fn)(const slm_pull_event *ev, void *ud);

typedef struct slm_pull_opts {
    const char *registry;    /* Ollama registry base URL; NULL: $SLM_REGISTRY or https://registry.ollama.ai */
    const char *hf_endpoint; /* NULL: $HF_ENDPOINT or https://huggingface.co */
    const char *hf_token;    /* NULL: $HF_TOKEN; sent only to the configured endpoint */
    slm_pull_progress_fn progress;
    void *progress_ud;
    int retries;             /* extra attempts after a network failure (0 means 3, negative none) */
    int retry_delay_ms;      /* first backoff delay, doubled each time (0 means 500) */
    uint64_t min_free_bytes; /* disk space to leave free after the download */
    long timeout_s;          /* stall timeout: abort when < 1 byte/s for this long (0 means 60) */
    /* Before the GGUF download its header is read with a Range request
     * (first header_bytes, 0 means 8 MiB, more when needed up to 64 MiB)
     * and planned with `fit` (NULL: defaults). header_only: stop there, write
     * nothing to the store; `plan` (may be NULL) gets the plan and the
     * entry returned by slm_store_pull its size, digest, quant and arch. */
    uint64_t header_bytes;
    const struct slm_fit_opts *fit;
    bool header_only;
    struct slm_fit_plan *plan;
    /* Parallel chunk download: a blob of known size >= parallel_min_bytes
     * (0 means 64 MiB) is fetched as chunks of chunk_bytes (0 means 16 MiB,
     * larger when there would be more than 65536) over `connections`
     * concurrent Range requests (0 means 4, 1 disables it). Each chunk is
     * written at its offset into the partial file; a small state file
     * (partial/sha256-HEX.chunks) records the bytes done per chunk, so an
     * interrupted pull resumes only what is missing. The whole file is
     * hashed before it is adopted. A server that ignores Range gets one
     * plain download instead. Progress sums the bytes of all chunks. */
    int connections;
    uint64_t parallel_min_bytes;
    uint64_t chunk_bytes;
    /* Polled while downloading (may be NULL): returning true stops the pull
     * with SLM_ERR_IO "cancelled"; partial files stay for a later resume. */
    bool (*cancelled)(void *ud);
    void *cancel_ud;
} slm_pull_opts;

/* Pulls a model (any form slm_ref_parse accepts) into the store: fetches
 * the manifest or repository listing, checks names and digests, checks disk
 * space, downloads with resume (HTTP Range), hashes while downloading,
 * refuses anything but GGUF, and renames into blobs/ only when the hash
 * matches. HTTPS only, except to the configured registry/endpoint itself;
 * redirects are followed by hand and must go to HTTPS (or the configured
 * origin); no connection to a loopback/private address unless it is the
 * configured origin. */
slm_status slm_store_pull(slm_store *s, const char *ref, const slm_pull_opts *opts, slm_store_entry *out,
                          slm_error *err);
/* Fills the parallel-download options still 0 from the environment:
 * SLM_PULL_CONNECTIONS, SLM_PULL_PARALLEL_MIN and SLM_PULL_CHUNK_BYTES
 * (bytes). `slm pull` and `slm serve` call it; tests use it for small chunks. */
void slm_pull_env_opts(slm_pull_opts *o);

/* ---- Safety scan ----------------------------------------------------------- */

typedef enum slm_scan_verdict {
    SLM_SCAN_SAFE = 0,
    SLM_SCAN_UNSAFE = 1,
    SLM_SCAN_UNSUPPORTED = 2, /* not GGUF: slm never loads it */
} slm_scan_verdict;

#define SLM_SCAN_MAX_FINDINGS 32
#define SLM_SCAN_MAX_IMPORTS 32

typedef struct slm_scan_report {
    slm_scan_verdict verdict;
    char format[32]; /* "gguf", "pickle", "pytorch-zip", "zip", "safetensors", "unknown" */
    int n_findings;
    char findings[SLM_SCAN_MAX_FINDINGS][256];
    /* Distinct imports ("module.name") of pickle GLOBAL / STACK_GLOBAL /
     * INST opcodes, in order of appearance; n_imports counts all of them
     * even past SLM_SCAN_MAX_IMPORTS. */
    int n_imports;
    char imports[SLM_SCAN_MAX_IMPORTS][128];
    int64_t n_tensors;
    uint64_t tensor_bytes;
} slm_scan_report;

/* Identifies the format from the bytes (never the name) and checks it:
 * - GGUF: the reader's full validation, chat templates searched for
 *   sandbox escapes (dunder attributes, import, os/subprocess, eval...),
 *   tensors for sane counts and sizes. SAFE when all is well.
 * - pickle (raw, or every *.pkl member of a PyTorch zip archive, stored or
 *   deflated): never unpickled; the opcodes are walked (protocols 0-5) and
 *   every import listed. Dangerous imports (os, subprocess, builtins.eval,
 *   ...), imports outside the allowlist of tensor-rebuilding functions,
 *   unresolvable STACK_GLOBALs and broken or truncated streams (the
 *   nullifAI trick: everything before the break still runs) make it
 *   UNSAFE; otherwise UNSUPPORTED (slm never loads pickles).
 * - safetensors: header length bounded, header JSON with known dtypes,
 *   shape x dtype size == byte range, offsets inside the file, sorted,
 *   non-overlapping, covering the data. UNSAFE when malformed, otherwise
 *   UNSUPPORTED (slm loads GGUF only).
 * Returns SLM_OK when a verdict was reached (even UNSAFE); an error only
 * when the file cannot be read. */
slm_status slm_scan_file(const char *path, slm_scan_report *rep, slm_error *err);
/* The same on bytes in memory (rep is reset first). */
void slm_scan_memory(const void *data, size_t size, slm_scan_report *rep);
/* The individual scanners (exposed for tests and fuzzing): they append
 * findings and imports to rep and raise its verdict. `what` names the
 * pickle in findings (a zip member name, or "pickle"). */
void slm_scan_pickle(const void *data, size_t size, const char *what, slm_scan_report *rep);
void slm_scan_zip(const void *data, size_t size, slm_scan_report *rep);
void slm_scan_safetensors(const void *data, size_t size, slm_scan_report *rep);
/* The template check alone (exposed for tests): appends findings. */
void slm_scan_template(const char *tmpl, size_t len, const char *key, slm_scan_report *rep);
const char *slm_scan_verdict_name(slm_scan_verdict v);

#endif
