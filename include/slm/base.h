/* slm base: status codes, error messages with context, checked arithmetic,
 * half-precision conversions and a monotonic clock. Everything in libslm
 * reports failure as an slm_status plus a human-readable slm_error. */
#ifndef SLM_BASE_H
#define SLM_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum slm_status {
    SLM_OK = 0,
    SLM_ERR_INVALID_ARG, /* caller passed something unusable */
    SLM_ERR_IO,          /* file missing, unreadable, short read */
    SLM_ERR_NOMEM,       /* allocation failed or would exceed a limit */
    SLM_ERR_FORMAT,      /* malformed input file or data */
    SLM_ERR_UNSUPPORTED, /* valid input we do not handle (yet) */
    SLM_ERR_RANGE,       /* value out of allowed range (e.g. prompt > ctx) */
    SLM_ERR_INTERNAL,
} slm_status;

/* An error message with context. Functions taking `slm_error *err` accept
 * NULL when the caller does not want the message. */
typedef struct slm_error {
    slm_status code;
    char msg[1024];
} slm_error;

/* Sets err (if non-NULL) and returns code, so callers can write
 * `return slm_error_set(err, SLM_ERR_IO, "%s: %s", path, strerror(errno));` */
slm_status slm_error_set(slm_error *err, slm_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes an existing message: "context: old message". */
slm_status slm_error_prefix(slm_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *slm_status_name(slm_status s);

/* Checked arithmetic for untrusted sizes: false on overflow. */
static inline bool slm_mul_ok(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_mul_overflow(a, b, out);
}
static inline bool slm_add_ok(uint64_t a, uint64_t b, uint64_t *out) {
    return !__builtin_add_overflow(a, b, out);
}

/* Allocation helpers: NULL on overflow or failure (n * size checked). */
void *slm_calloc_array(size_t n, size_t size);
void *slm_malloc_array(size_t n, size_t size);

/* IEEE half and bfloat16 <-> float. Round to nearest even, NaN kept. */
typedef uint16_t slm_f16;
typedef uint16_t slm_bf16;
float slm_f16_to_f32(slm_f16 h);
slm_f16 slm_f32_to_f16(float f);
static inline float slm_bf16_to_f32(slm_bf16 h) {
    union { uint32_t u; float f; } v = { .u = (uint32_t)h << 16 };
    return v.f;
}
slm_bf16 slm_f32_to_bf16(float f);
/* Table-driven fast half -> float (valid after slm_base_init; it is also
 * initialised lazily by slm_f16_to_f32). */
extern float slm_f16_table[65536];
void slm_base_init(void);
static inline float slm_f16_lookup(slm_f16 h) { return slm_f16_table[h]; }

/* Monotonic time in seconds / microseconds. */
double slm_now_s(void);
int64_t slm_now_us(void);

#endif
