/* Error messages with context (see slm/base.h). */
#include "slm/base.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

slm_status slm_error_set(slm_error *err, slm_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

slm_status slm_error_prefix(slm_error *err, const char *fmt, ...) {
    if (!err) return SLM_ERR_INTERNAL;
    char prefix[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    /* truncation of over-long messages is acceptable here */
    size_t n = strlen(prefix);
    if (n > sizeof err->msg - 3) n = sizeof err->msg - 3;
    memcpy(err->msg, prefix, n);
    memcpy(err->msg + n, ": ", 2);
    size_t room = sizeof err->msg - n - 3;
    size_t m = strnlen(old, room);
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
    return err->code;
}

const char *slm_status_name(slm_status s) {
    switch (s) {
    case SLM_OK: return "ok";
    case SLM_ERR_INVALID_ARG: return "invalid argument";
    case SLM_ERR_IO: return "i/o error";
    case SLM_ERR_NOMEM: return "out of memory";
    case SLM_ERR_FORMAT: return "bad format";
    case SLM_ERR_UNSUPPORTED: return "unsupported";
    case SLM_ERR_RANGE: return "out of range";
    case SLM_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}
