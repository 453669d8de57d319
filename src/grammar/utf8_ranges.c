/* Splits a code point range into UTF-8 byte-range sequences, so character
 * classes can be matched one byte at a time. Each output sequence is n
 * byte ranges lo[i]..hi[i] whose cross product is exactly a sub-range of
 * code points with one encoded length (the classic construction: split at
 * length boundaries, then where continuation bytes do not span 80..BF).
 * Surrogates (D800..DFFF) are never produced. */
#include "grammar/grammar_internal.h"

int utf8_encode(uint32_t cp, uint8_t out[4]) {
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

static int split(uint32_t lo, uint32_t hi, utf8_seq_fn fn, void *ctx, int depth) {
    if (lo > hi || depth > 64) return 0;
    /* never emit surrogates */
    if (lo <= 0xDFFF && hi >= 0xD800) {
        int rc = 0;
        if (lo < 0xD800) rc = split(lo, 0xD7FF, fn, ctx, depth + 1);
        if (rc == 0 && hi > 0xDFFF) rc = split(0xE000, hi, fn, ctx, depth + 1);
        return rc;
    }
    static const uint32_t bounds[3] = {0x7F, 0x7FF, 0xFFFF};
    for (int k = 0; k < 3; k++) {
        if (lo <= bounds[k] && hi > bounds[k]) {
            int rc = split(lo, bounds[k], fn, ctx, depth + 1);
            return rc ? rc : split(bounds[k] + 1, hi, fn, ctx, depth + 1);
        }
    }
    uint8_t a[4], b[4];
    int n = utf8_encode(lo, a);
    for (int i = 1; i < n; i++) {
        uint32_t m = (1u << (6 * i)) - 1; /* the low i continuation bytes */
        if ((lo & ~m) != (hi & ~m)) {
            if ((lo & m) != 0) {
                int rc = split(lo, lo | m, fn, ctx, depth + 1);
                return rc ? rc : split((lo | m) + 1, hi, fn, ctx, depth + 1);
            }
            if ((hi & m) != m) {
                int rc = split(lo, (hi & ~m) - 1, fn, ctx, depth + 1);
                return rc ? rc : split(hi & ~m, hi, fn, ctx, depth + 1);
            }
        }
    }
    utf8_encode(hi, b);
    return fn(ctx, n, a, b);
}

int utf8_range_split(uint32_t lo, uint32_t hi, utf8_seq_fn fn, void *ctx) {
    if (hi > 0x10FFFF) hi = 0x10FFFF;
    return split(lo, hi, fn, ctx, 0);
}
