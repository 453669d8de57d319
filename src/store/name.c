/* Model names: parsing what a user types ("qwen3:4b", "hf.co/org/repo:Q8_0",
 * "name@sha256:...") into an slm_model_ref with a canonical store name,
 * and the validators that keep names and digests from becoming paths. */
#include "store_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool slm_name_component_ok(const char *s, size_t max_len) {
    size_t n = strlen(s);
    if (n == 0 || n > max_len || !isalnum((unsigned char)s[0])) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || c == '.' || c == '_' || c == '-')) return false;
        if (c == '.' && s[i + 1] == '.') return false;
    }
    return true;
}

bool slm_digest_ok(const char *d) {
    if (strncmp(d, "sha256:", 7) != 0) return false;
    d += 7;
    for (int i = 0; i < SLM_DIGEST_HEX; i++)
        if (!((d[i] >= '0' && d[i] <= '9') || (d[i] >= 'a' && d[i] <= 'f'))) return false;
    return d[SLM_DIGEST_HEX] == '\0';
}

/* Copies [s, s+n) into dst (cap bytes) and validates it as a component. */
static bool take(char *dst, size_t cap, const char *s, size_t n) {
    if (n >= cap) return false;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return slm_name_component_ok(dst, cap - 1);
}

/* Writes the canonical name; false when it would not fit. */
__attribute__((format(printf, 2, 3))) static bool set_name(slm_model_ref *ref, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ref->name, sizeof ref->name, fmt, ap);
    va_end(ap);
    return n > 0 && (size_t)n < sizeof ref->name;
}

static bool strip_prefix(const char **s, const char *prefix) {
    size_t n = strlen(prefix);
    if (strncmp(*s, prefix, n) != 0) return false;
    *s += n;
    return true;
}

/* Splits off "@sha256:HEX" into ref->pin. */
static slm_status parse_pin(char *text, slm_model_ref *ref, slm_error *err) {
    char *at = strchr(text, '@');
    if (!at) return SLM_OK;
    if (!slm_digest_ok(at + 1))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "bad pin '%s': expected @sha256: and 64 lowercase hex digits",
                             at);
    memcpy(ref->pin, at + 8, SLM_DIGEST_HEX + 1);
    *at = '\0';
    return SLM_OK;
}

/* "ORG/REPO[:QUANT]" or "ORG/REPO/FILE.gguf" (after the host). */
static slm_status parse_hf(const char *s, slm_model_ref *ref, slm_error *err) {
    const char *slash = strchr(s, '/');
    if (!slash || !take(ref->ns, sizeof ref->ns, s, (size_t)(slash - s)))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "bad Hugging Face name '%s': expected hf.co/ORG/REPO[:QUANT]", s);
    const char *rest = slash + 1;
    size_t rlen = strcspn(rest, ":/");
    if (!take(ref->repo, sizeof ref->repo, rest, rlen))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "bad Hugging Face repository in '%s'", s);
    const char *tail = rest + rlen;
    if (strncmp(tail, "/resolve/main/", 14) == 0) tail += 13; /* URL forms */
    else if (strncmp(tail, "/blob/main/", 11) == 0) tail += 10;
    if (*tail == '/') {
        size_t flen = strlen(tail + 1);
        if (!take(ref->file, sizeof ref->file, tail + 1, flen) || flen < 6 ||
            strcmp(tail + 1 + flen - 5, ".gguf") != 0)
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "bad file name in '%s': expected a plain NAME.gguf", s);
        if (!set_name(ref, "hf.co/%s/%s/%s", ref->ns, ref->repo, ref->file)) goto too_long;
        return SLM_OK;
    }
    const char *q = *tail == ':' ? tail + 1 : "Q4_K_M";
    if (*tail && *tail != ':') return slm_error_set(err, SLM_ERR_INVALID_ARG, "bad Hugging Face name '%s'", s);
    if (!take(ref->tag, sizeof ref->tag, q, strlen(q)))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "bad quantization '%s' in '%s'", q, s);
    for (char *p = ref->tag; *p; p++) *p = (char)toupper((unsigned char)*p);
    if (!set_name(ref, "hf.co/%s/%s:%s", ref->ns, ref->repo, ref->tag)) goto too_long;
    return SLM_OK;
too_long:
    return slm_error_set(err, SLM_ERR_INVALID_ARG, "model name too long: '%s'", s);
}

/* "[HOST/][NS/]MODEL[:TAG]" */
static slm_status parse_ollama(const char *s, slm_model_ref *ref, slm_error *err) {
    if (!strip_prefix(&s, "registry.ollama.ai/")) strip_prefix(&s, "ollama.com/");
    const char *slash = strchr(s, '/');
    const char *model = s;
    if (slash) {
        if (!take(ref->ns, sizeof ref->ns, s, (size_t)(slash - s)))
            return slm_error_set(err, SLM_ERR_INVALID_ARG, "bad namespace in model name '%s'", s);
        model = slash + 1;
    } else {
        strcpy(ref->ns, "library");
    }
    size_t mlen = strcspn(model, ":");
    if (!take(ref->repo, sizeof ref->repo, model, mlen))
        return slm_error_set(err, SLM_ERR_INVALID_ARG,
                             "bad model name '%s': use letters, digits, '.', '_', '-' (NAME[:TAG])", s);
    const char *tag = model[mlen] == ':' ? model + mlen + 1 : "latest";
    if (!take(ref->tag, sizeof ref->tag, tag, strlen(tag)))
        return slm_error_set(err, SLM_ERR_INVALID_ARG, "bad tag '%s' in model name '%s'", tag, s);
    bool ok = strcmp(ref->ns, "library") == 0 ? set_name(ref, "%s:%s", ref->repo, ref->tag)
                                              : set_name(ref, "%s/%s:%s", ref->ns, ref->repo, ref->tag);
    return ok ? SLM_OK : slm_error_set(err, SLM_ERR_INVALID_ARG, "model name too long: '%s'", s);
}

slm_status slm_ref_parse(const char *text, slm_model_ref *ref, slm_error *err) {
    memset(ref, 0, sizeof *ref);
    char buf[SLM_NAME_MAX + 80];
    if (!text || !*text) return slm_error_set(err, SLM_ERR_INVALID_ARG, "empty model name");
    if (strlen(text) >= sizeof buf) return slm_error_set(err, SLM_ERR_INVALID_ARG, "model name too long");
    strcpy(buf, text);
    slm_status st = parse_pin(buf, ref, err);
    if (st != SLM_OK) return st;
    const char *s = buf;
    strip_prefix(&s, "https://");
    if (strip_prefix(&s, "hf.co/") || strip_prefix(&s, "huggingface.co/")) {
        ref->kind = SLM_REF_HF;
        return parse_hf(s, ref, err);
    }
    if (s != buf) return slm_error_set(err, SLM_ERR_INVALID_ARG, "unsupported URL '%s': only huggingface.co", text);
    ref->kind = SLM_REF_OLLAMA;
    return parse_ollama(s, ref, err);
}

/* Manifest file name: every byte outside [A-Za-z0-9._-] as %XX, so no name
 * can contain '/' or be "." / ".." once ".json" is appended. */
bool store_encode_name(const char *name, char *out, size_t cap) {
    static const char hex[] = "0123456789ABCDEF";
    size_t j = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        bool plain = isalnum(*p) || *p == '.' || *p == '_' || *p == '-';
        if (j + 4 >= cap) return false;
        if (plain) {
            out[j++] = (char)*p;
        } else {
            out[j++] = '%';
            out[j++] = hex[*p >> 4];
            out[j++] = hex[*p & 15];
        }
    }
    out[j] = '\0';
    return j > 0;
}
