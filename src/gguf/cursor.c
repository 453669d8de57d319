/* The GGUF parse cursor: bounds-checked little-endian reads over untrusted
 * bytes and the "PATH: offset N: what" error messages. Every read checks
 * the bytes left before touching them, so no caller can read past the end. */
#include "gguf/gguf_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

slm_status gguf_fail(gguf_rd *r, uint64_t off, const char *fmt, ...) {
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return slm_error_set(r->err, SLM_ERR_FORMAT, "%s: offset %" PRIu64 ": %s%s%s", r->name,
                         off, r->ctx ? r->ctx : "", r->ctx ? ": " : "", msg);
}

uint32_t gguf_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

uint64_t gguf_le64(const uint8_t *p) {
    return (uint64_t)gguf_le32(p) | (uint64_t)gguf_le32(p + 4) << 32;
}

static slm_status need(gguf_rd *r, uint64_t n, const char *what) {
    if (n <= gguf_left(r)) return SLM_OK;
    return gguf_fail(r, r->pos, "file ends while reading %s (%" PRIu64 " bytes needed, %" PRIu64
                     " left)", what, n, gguf_left(r));
}

slm_status gguf_read_u32(gguf_rd *r, const char *what, uint32_t *out) {
    slm_status st = need(r, 4, what);
    if (st) return st;
    *out = gguf_le32(r->base + r->pos);
    r->pos += 4;
    return SLM_OK;
}

slm_status gguf_read_u64(gguf_rd *r, const char *what, uint64_t *out) {
    slm_status st = need(r, 8, what);
    if (st) return st;
    *out = gguf_le64(r->base + r->pos);
    r->pos += 8;
    return SLM_OK;
}

slm_status gguf_read_str(gguf_rd *r, const char *what, slm_str *out) {
    uint64_t at = r->pos, len;
    slm_status st = gguf_read_u64(r, what, &len);
    if (st) return st;
    if (len > gguf_left(r))
        return gguf_fail(r, at, "%s length %" PRIu64 " exceeds the %" PRIu64
                         " bytes left in the file", what, len, gguf_left(r));
    out->ptr = (const char *)(r->base + r->pos);
    out->len = len;
    r->pos += len;
    return SLM_OK;
}

const char *gguf_quote(char *buf, size_t size, const char *s, uint64_t len) {
    uint64_t room = size - 4; /* keep space for "..." and the NUL */
    uint64_t n = len < room ? len : room;
    for (uint64_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if (len > room) memcpy(buf + n, "...", 3), n += 3;
    buf[n] = '\0';
    return buf;
}

size_t gguf_vtype_size(uint32_t t) {
    switch (t) {
    case SLM_GGUF_UINT8: case SLM_GGUF_INT8: case SLM_GGUF_BOOL: return 1;
    case SLM_GGUF_UINT16: case SLM_GGUF_INT16: return 2;
    case SLM_GGUF_UINT32: case SLM_GGUF_INT32: case SLM_GGUF_FLOAT32: return 4;
    case SLM_GGUF_UINT64: case SLM_GGUF_INT64: case SLM_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

slm_status gguf_check_name(gguf_rd *r, uint64_t at, const char *what, slm_str s,
                           uint64_t max_len) {
    char q[80];
    if (s.len == 0) return gguf_fail(r, at, "%s is empty", what);
    if (s.len > max_len)
        return gguf_fail(r, at, "%s '%s' is too long (%" PRIu64 " bytes, at most %" PRIu64 ")",
                         what, gguf_quote(q, sizeof q, s.ptr, s.len), s.len, max_len);
    if (memchr(s.ptr, '\0', s.len))
        return gguf_fail(r, at, "%s '%s' contains a NUL byte", what,
                         gguf_quote(q, sizeof q, s.ptr, s.len));
    return SLM_OK;
}
