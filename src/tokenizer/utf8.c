/* UTF-8 helpers with llama.cpp's exact leniency (lead-byte lengths, no
 * overlong or surrogate checks), its whitespace set, and the GPT-2
 * byte-to-unicode alphabet used by byte-level BPE vocabularies. */
#include "tokenizer/tok_internal.h"

size_t tok_utf8_len(uint8_t lead) {
    static const uint8_t lookup[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup[lead >> 4];
}

static bool cont(const char *s, size_t n, size_t i) {
    return i < n && ((uint8_t)s[i] & 0xC0) == 0x80;
}

uint32_t tok_utf8_decode(const char *s, size_t n, size_t *i) {
    size_t p = *i;
    uint8_t c = (uint8_t)s[p];
    uint32_t cp;
    size_t len;
    if (!(c & 0x80)) {
        cp = c;
        len = 1;
    } else if (!(c & 0x40)) {
        len = 0;
    } else if (!(c & 0x20)) {
        len = cont(s, n, p + 1) ? 2 : 0;
        cp = len ? ((uint32_t)(c & 0x1F) << 6) | ((uint8_t)s[p + 1] & 0x3F) : 0;
    } else if (!(c & 0x10)) {
        len = cont(s, n, p + 1) && cont(s, n, p + 2) ? 3 : 0;
        cp = len ? ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)((uint8_t)s[p + 1] & 0x3F) << 6) |
                       ((uint8_t)s[p + 2] & 0x3F)
                 : 0;
    } else if (!(c & 0x08)) {
        len = cont(s, n, p + 1) && cont(s, n, p + 2) && cont(s, n, p + 3) ? 4 : 0;
        cp = len ? ((uint32_t)(c & 0x07) << 18) | ((uint32_t)((uint8_t)s[p + 1] & 0x3F) << 12) |
                       ((uint32_t)((uint8_t)s[p + 2] & 0x3F) << 6) | ((uint8_t)s[p + 3] & 0x3F)
                 : 0;
        /* llama.cpp cannot re-encode these and throws; we call them invalid */
        if (len && cp > 0x10FFFF) len = 0;
    } else {
        len = 0;
    }
    if (!len) {
        *i = p + 1;
        return UINT32_MAX;
    }
    *i = p + len;
    return cp;
}

size_t tok_utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Unicode White_Space, as llama.cpp's tables have it. */
bool tok_is_whitespace(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

/* GPT-2: printable Latin-1 bytes map to themselves, the other 68 bytes to
 * U+0100.. in byte order. */
static bool byte_is_printable(uint8_t b) {
    return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
}

uint32_t tok_byte_to_cp(uint8_t b) {
    if (byte_is_printable(b)) return b;
    uint32_t n = 0;
    for (unsigned x = 0; x < b; x++)
        if (!byte_is_printable((uint8_t)x)) n++;
    return 256 + n;
}

int tok_cp_to_byte(uint32_t cp) {
    if (cp < 256) return byte_is_printable((uint8_t)cp) ? (int)cp : -1;
    if (cp >= 256 + 68) return -1;
    uint32_t n = 0;
    for (unsigned x = 0; x < 256; x++) {
        if (byte_is_printable((uint8_t)x)) continue;
        if (256 + n == cp) return (int)x;
        n++;
    }
    return -1;
}
