/* `slm scan`: what is this file, and is it safe to load? The format comes
 * from the first bytes, never the name. GGUF gets the reader's full
 * validation plus checks of tensors and chat templates; pickle, PyTorch zip
 * archives and safetensors are identified and reported UNSUPPORTED: slm
 * never deserialises them (unpickling runs arbitrary code). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "slm/gguf.h"
#include "slm/store.h"

#define MAX_TENSORS 1000000

const char *slm_scan_verdict_name(slm_scan_verdict v) {
    return v == SLM_SCAN_SAFE ? "SAFE" : v == SLM_SCAN_UNSAFE ? "UNSAFE" : "UNSUPPORTED";
}

/* Adds a finding (truncated to the report's line length) and raises the verdict. */
__attribute__((format(printf, 3, 4))) static void finding(slm_scan_report *rep, slm_scan_verdict v,
                                                          const char *fmt, ...) {
    if (rep->n_findings < SLM_SCAN_MAX_FINDINGS) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rep->findings[rep->n_findings++], sizeof rep->findings[0], fmt, ap);
        va_end(ap);
    }
    if (v > rep->verdict) rep->verdict = v;
}

/* Names the format from the first bytes. */
static const char *identify(const unsigned char *b, size_t n, uint64_t file_size) {
    if (n >= 4 && memcmp(b, "GGUF", 4) == 0) return "gguf";
    if (n >= 2 && b[0] == 0x80 && b[1] <= 5) return "pickle";
    if (n >= 4 && memcmp(b, "PK\003\004", 4) == 0) return "pytorch-zip";
    if (n >= 9) {
        uint64_t hl = 0;
        for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
        if (b[8] == '{' && hl >= 2 && hl <= file_size - 8) return "safetensors";
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

static void scan_gguf(const char *path, slm_scan_report *rep) {
    slm_gguf *g = NULL;
    slm_error e = {0};
    if (slm_gguf_open(path, &g, &e) != SLM_OK) {
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

slm_status slm_scan_file(const char *path, slm_scan_report *rep, slm_error *err) {
    memset(rep, 0, sizeof *rep);
    struct stat sb;
    if (stat(path, &sb) != 0) return slm_error_set(err, SLM_ERR_IO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return slm_error_set(err, SLM_ERR_IO, "%s: not a regular file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return slm_error_set(err, SLM_ERR_IO, "%s: %s", path, strerror(errno));
    unsigned char head[16];
    size_t n = fread(head, 1, sizeof head, f);
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    fclose(f);
    if (size < 0) return slm_error_set(err, SLM_ERR_IO, "%s: cannot determine the size (not a regular file?)", path);
    const char *fmt = identify(head, n, (uint64_t)size);
    snprintf(rep->format, sizeof rep->format, "%s", fmt);
    if (strcmp(fmt, "gguf") == 0) {
        scan_gguf(path, rep);
    } else if (strcmp(fmt, "pickle") == 0 || strcmp(fmt, "pytorch-zip") == 0) {
        finding(rep, SLM_SCAN_UNSUPPORTED,
                "%s: pickle-based formats can run arbitrary code when loaded; slm never unpickles. Use a GGUF "
                "conversion of this model", fmt);
    } else if (strcmp(fmt, "safetensors") == 0) {
        finding(rep, SLM_SCAN_UNSUPPORTED, "%s: not loadable by slm; convert it to GGUF", fmt);
    } else {
        finding(rep, SLM_SCAN_UNSUPPORTED, "unknown format: not GGUF");
    }
    return SLM_OK;
}
