/* `slm scan`: what is this file, and is it safe to load? The format comes
 * from the first bytes, never the name. GGUF gets the reader's full
 * validation plus checks of tensors and chat templates; pickles, PyTorch
 * zip archives and safetensors go to their own scanners (scan_pickle.c,
 * scan_zip.c, scan_safetensors.c), which never deserialise anything. The
 * file is mmapped read-only and every scanner works on the bytes. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slm/gguf.h"
#include "store/store_internal.h"

#define MAX_TENSORS 1000000

const char *slm_scan_verdict_name(slm_scan_verdict v) {
    return v == SLM_SCAN_SAFE ? "SAFE" : v == SLM_SCAN_UNSAFE ? "UNSAFE" : "UNSUPPORTED";
}

/* UNSAFE outranks UNSUPPORTED outranks SAFE (the enum order is the exit
 * code order, not the severity). */
static int severity(slm_scan_verdict v) { return v == SLM_SCAN_UNSAFE ? 2 : v == SLM_SCAN_UNSUPPORTED ? 1 : 0; }

void store_scan_add(slm_scan_report *rep, slm_scan_verdict v, const char *fmt, ...) {
    if (!rep) return;
    if (rep->n_findings < SLM_SCAN_MAX_FINDINGS) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rep->findings[rep->n_findings++], sizeof rep->findings[0], fmt, ap);
        va_end(ap);
    }
    if (severity(v) > severity(rep->verdict)) rep->verdict = v;
}
#define finding store_scan_add

/* A protocol 0/1 pickle has no PROTO opcode: it starts with MARK, GLOBAL or
 * an empty container and ends with STOP. */
static bool old_pickle(const unsigned char *b, size_t n) {
    if (n < 2 || b[n - 1] != '.' || !strchr("(c}])", b[0])) return false;
    if (b[0] != 'c') return true;
    const unsigned char *nl = memchr(b, '\n', n < 256 ? n : 256);
    return nl && nl > b + 1;
}

/* Names the format from the bytes. */
static const char *identify(const unsigned char *b, size_t n) {
    if (n >= 4 && memcmp(b, "GGUF", 4) == 0) return "gguf";
    if ((n >= 2 && b[0] == 0x80 && b[1] <= 5) || old_pickle(b, n)) return "pickle";
    if (n >= 4 && (memcmp(b, "PK\003\004", 4) == 0 || memcmp(b, "PK\005\006", 4) == 0)) return "zip";
    if (n >= 9) {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
        if (b[8] == '{' && hl >= 2 && hl <= n - 8) return "safetensors";
    }
    return "unknown";
}

static void scan_templates(const slm_gguf *g, slm_scan_report *rep) {
    for (int64_t i = 0; i < slm_gguf_n_kv(g); i++) {
        const char *key = slm_gguf_kv_key(g, i);
        slm_str s;
        if (strncmp(key, "tokenizer.chat_template", 23) != 0 || !slm_gguf_kv_str(g, i, &s)) continue;
        slm_scan_template(s.ptr, (size_t)s.len, key, rep);
    }
}

static void scan_tensors(const slm_gguf *g, slm_scan_report *rep) {
    rep->n_tensors = slm_gguf_n_tensors(g);
    if (rep->n_tensors == 0) finding(rep, SLM_SCAN_UNSAFE, "no tensors: not a model");
    if (rep->n_tensors > MAX_TENSORS)
        finding(rep, SLM_SCAN_UNSAFE, "implausible tensor count %lld", (long long)rep->n_tensors);
    uint64_t total = 0;
    for (int64_t i = 0; i < rep->n_tensors && i <= MAX_TENSORS; i++) {
        const slm_gguf_tensor *t = slm_gguf_tensor_at(g, i);
        if (strcmp(slm_dtype_name((uint32_t)t->type), "unknown") == 0)
            finding(rep, SLM_SCAN_UNSAFE, "tensor %s has an unknown type id", t->name);
        if (!slm_add_ok(total, t->nbytes, &total)) total = UINT64_MAX;
    }
    rep->tensor_bytes = total;
    if (total > slm_gguf_file_size(g)) finding(rep, SLM_SCAN_UNSAFE, "tensor data larger than the file");
}

static void scan_gguf(const void *data, size_t size, const char *name, slm_scan_report *rep) {
    slm_gguf *g = NULL;
    slm_error e = {0};
    if (slm_gguf_open_memory(data, size, name, &g, &e) != SLM_OK) {
        finding(rep, SLM_SCAN_UNSAFE, "invalid GGUF, the loader refuses it: %s", e.msg);
        return;
    }
    slm_str arch;
    if (!slm_gguf_get_str(g, "general.architecture", &arch) || arch.len == 0)
        finding(rep, SLM_SCAN_UNSAFE, "no general.architecture");
    scan_tensors(g, rep);
    scan_templates(g, rep);
    slm_gguf_close(g);
}

static void scan_named(const void *data, size_t size, const char *name, slm_scan_report *rep) {
    memset(rep, 0, sizeof *rep);
    const char *fmt = identify(data, size);
    snprintf(rep->format, sizeof rep->format, "%s", fmt);
    if (strcmp(fmt, "gguf") == 0) {
        scan_gguf(data, size, name, rep);
    } else if (strcmp(fmt, "pickle") == 0) {
        slm_scan_pickle(data, size, "pickle", rep);
        finding(rep, SLM_SCAN_UNSUPPORTED, "pickle: scanned without unpickling (%d import(s)); slm never unpickles: "
                "use a GGUF conversion of this model", rep->n_imports);
    } else if (strcmp(fmt, "zip") == 0) {
        slm_scan_zip(data, size, rep);
    } else if (strcmp(fmt, "safetensors") == 0) {
        slm_scan_safetensors(data, size, rep);
    } else {
        finding(rep, SLM_SCAN_UNSUPPORTED, "unknown format: not GGUF");
    }
}

void slm_scan_memory(const void *data, size_t size, slm_scan_report *rep) {
    static const unsigned char empty[1];
    scan_named(data ? data : empty, data ? size : 0, "<memory>", rep);
}

slm_status slm_scan_file(const char *path, slm_scan_report *rep, slm_error *err) {
    memset(rep, 0, sizeof *rep);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block */
    if (fd < 0) return slm_error_set(err, SLM_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return slm_error_set(err, SLM_ERR_IO, "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    int e = errno;
    close(fd);
    if (map == MAP_FAILED) return slm_error_set(err, SLM_ERR_IO, "%s: cannot map: %s", path, strerror(e));
    static const unsigned char empty[1];
    scan_named(map ? map : empty, size, path, rep);
    if (map) munmap(map, size);
    return SLM_OK;
}
