/* Zip scanner for `slm scan`: PyTorch checkpoints (.bin/.pt/.pth/.ckpt
 * written by torch.save since 1.6) are zip archives whose data.pkl is a
 * pickle. The archive is read from its central directory (ZIP64 too),
 * every member's local header is checked against it, and every *.pkl
 * member, stored or deflated (zlib, bounded output), goes through the
 * pickle scanner. Nothing is extracted to disk.
 *
 * Structures (all little-endian):
 *   EOCD    "PK\5\6", disk u16 x2, entries u16 x2, cd size u32, cd offset
 *           u32, comment length u16, comment (search the last 64 KiB)
 *   ZIP64   locator "PK\6\7" just before the EOCD: u32 disk, u64 offset of
 *           the ZIP64 EOCD record "PK\6\6" (entries u64 at 32, cd size u64
 *           at 40, cd offset u64 at 48)
 *   central "PK\1\2", 46 bytes: method u16 at 10, crc u32 at 16, csize u32
 *           at 20, usize u32 at 24, name/extra/comment lengths u16 at
 *           28/30/32, local header offset u32 at 42; then name, extra
 *           (ZIP64 extra id 1: the 0xFFFFFFFF fields as u64 in the order
 *           usize, csize, offset), comment
 *   local   "PK\3\4", 30 bytes: flags u16 at 6, method u16 at 8, name and
 *           extra lengths u16 at 26/28; then name, extra, data */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "store/store_internal.h"

#define MAX_MEMBER_SCAN (256u << 20) /* a data.pkl is megabytes at most */
#define MAX_DEFLATE_RATIO 1032u      /* deflate cannot do better */

typedef struct zmember {
    char name[256];
    size_t name_len;
    uint16_t method, flags;
    uint32_t crc;
    uint64_t csize, usize, local;
} zmember;

static uint64_t rd(const uint8_t *p, int k) {
    uint64_t v = 0;
    for (int i = k - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Offset of the end-of-central-directory record, or SIZE_MAX. */
static size_t find_eocd(const uint8_t *b, size_t n) {
    if (n < 22) return SIZE_MAX;
    size_t lo = n - 22 > 65535 ? n - 22 - 65535 : 0;
    for (size_t i = n - 22 + 1; i-- > lo;)
        if (memcmp(b + i, "PK\005\006", 4) == 0 && i + 22 + rd(b + i + 20, 2) == n) return i;
    return SIZE_MAX;
}

/* Fills count/offset/size of the central directory; false with a finding. */
static bool central_dir(const uint8_t *b, size_t n, uint64_t *count, uint64_t *off, uint64_t *size,
                        slm_scan_report *rep) {
    size_t e = find_eocd(b, n);
    if (e == SIZE_MAX) {
        store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: no end-of-central-directory record (truncated archive?)");
        return false;
    }
    *count = rd(b + e + 10, 2);
    *size = rd(b + e + 12, 4);
    *off = rd(b + e + 16, 4);
    if (*count == 0xFFFF || *size == 0xFFFFFFFF || *off == 0xFFFFFFFF) {
        if (e < 20 || memcmp(b + e - 20, "PK\006\007", 4) != 0) {
            store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: ZIP64 sizes without a ZIP64 locator");
            return false;
        }
        uint64_t z = rd(b + e - 20 + 8, 8);
        if (z > n || n - z < 56 || memcmp(b + z, "PK\006\006", 4) != 0) {
            store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: ZIP64 end record missing or outside the file");
            return false;
        }
        *count = rd(b + z + 32, 8);
        *size = rd(b + z + 40, 8);
        *off = rd(b + z + 48, 8);
    }
    if (*off > n || *size > n - *off || *count > *size / 46) {
        store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: central directory (%llu entries at %llu, %llu bytes) does not "
                       "fit the file", (unsigned long long)*count, (unsigned long long)*off,
                       (unsigned long long)*size);
        return false;
    }
    return true;
}

/* Applies the ZIP64 extra field to the fields that overflowed 32 bits. */
static bool zip64_extra(const uint8_t *x, size_t xn, zmember *m) {
    for (size_t i = 0; i + 4 <= xn;) {
        uint64_t id = rd(x + i, 2), len = rd(x + i + 2, 2);
        if (len > xn - i - 4) return false;
        if (id == 1) {
            const uint8_t *p = x + i + 4, *end = p + len;
            uint64_t *fields[] = {&m->usize, &m->csize, &m->local};
            for (int f = 0; f < 3; f++) {
                if (*fields[f] != 0xFFFFFFFF) continue;
                if (end - p < 8) return false;
                *fields[f] = rd(p, 8);
                p += 8;
            }
            return true;
        }
        i += 4 + len;
    }
    return m->usize != 0xFFFFFFFF && m->csize != 0xFFFFFFFF && m->local != 0xFFFFFFFF;
}

/* Parses the central entry at *pos into m; false with a finding. */
static bool read_entry(const uint8_t *b, uint64_t *pos, uint64_t end, zmember *m, slm_scan_report *rep) {
    const uint8_t *p = b + *pos;
    if (end - *pos < 46 || memcmp(p, "PK\001\002", 4) != 0) {
        store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: bad central directory entry at byte %llu",
                       (unsigned long long)*pos);
        return false;
    }
    uint64_t nl = rd(p + 28, 2), xl = rd(p + 30, 2), cl = rd(p + 32, 2);
    if (nl + xl + cl > end - *pos - 46) {
        store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: central directory entry at byte %llu overruns the directory",
                       (unsigned long long)*pos);
        return false;
    }
    *m = (zmember){.flags = (uint16_t)rd(p + 8, 2), .method = (uint16_t)rd(p + 10, 2), .crc = (uint32_t)rd(p + 16, 4),
                   .csize = rd(p + 20, 4), .usize = rd(p + 24, 4), .local = rd(p + 42, 4), .name_len = nl};
    memcpy(m->name, p + 46, nl < sizeof m->name - 1 ? nl : sizeof m->name - 1);
    for (char *c = m->name; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f) *c = '?';
    if (!zip64_extra(p + 46 + nl, xl, m)) {
        store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: member %s has a bad ZIP64 extra field", m->name);
        return false;
    }
    *pos += 46 + nl + xl + cl;
    return true;
}

/* Start of the member's data after checking its local header; 0 on error. */
static uint64_t member_data(const uint8_t *b, size_t n, const zmember *m, const uint8_t *cname,
                            slm_scan_report *rep) {
    if (m->local > n || n - m->local < 30 || memcmp(b + m->local, "PK\003\004", 4) != 0) {
        store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: member %s: no local header at byte %llu", m->name,
                       (unsigned long long)m->local);
        return 0;
    }
    const uint8_t *l = b + m->local;
    uint64_t nl = rd(l + 26, 2), xl = rd(l + 28, 2), start = m->local + 30 + nl + xl;
    if (start > n || m->csize > n - start) {
        store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: member %s: data outside the file", m->name);
        return 0;
    }
    if (nl != m->name_len || memcmp(l + 30, cname, nl) != 0 || rd(l + 8, 2) != m->method)
        store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: member %s: local header disagrees with the central directory "
                       "(readers may see different files)", m->name);
    return start;
}

/* Inflates a deflated member (csize < 4 GiB, checked by the caller) into
 * a new buffer of exactly m->usize bytes. */
static uint8_t *inflate_member(const uint8_t *src, const zmember *m, slm_scan_report *rep) {
    uint8_t *out = malloc(m->usize ? (size_t)m->usize : 1);
    if (!out) return store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: member %s: out of memory", m->name), NULL;
    z_stream z = {0};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) {
        free(out);
        return store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: member %s: zlib init failed", m->name), NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)m->csize;
    z.next_out = out;
    z.avail_out = (uInt)m->usize;
    int rc = inflate(&z, Z_FINISH);
    bool ok = rc == Z_STREAM_END && z.total_out == m->usize;
    inflateEnd(&z);
    if (!ok) {
        free(out);
        return store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: member %s: corrupt deflate data", m->name), NULL;
    }
    return out;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Scans one *.pkl member. */
static void scan_member(const uint8_t *b, size_t n, const zmember *m, const uint8_t *cname, slm_scan_report *rep) {
    uint64_t start = member_data(b, n, m, cname, rep);
    if (!start) return;
    if (m->flags & 1) return store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: member %s is encrypted", m->name);
    if (m->usize > MAX_MEMBER_SCAN || m->csize > UINT32_MAX || (m->method == 8 && m->usize / MAX_DEFLATE_RATIO > m->csize))
        return store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: member %s: %llu bytes is too large to scan", m->name,
                              (unsigned long long)m->usize);
    if (m->method == 0) {
        if (m->csize != m->usize)
            return store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: stored member %s: sizes differ", m->name);
        if (crc32(0, b + start, (uInt)m->usize) != m->crc)
            store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: member %s: CRC mismatch", m->name);
        return slm_scan_pickle(b + start, (size_t)m->usize, m->name, rep);
    }
    if (m->method != 8)
        return store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: member %s uses compression method %u, which cannot be "
                              "scanned", m->name, m->method);
    uint8_t *data = inflate_member(b + start, m, rep);
    if (!data) return;
    if (crc32(0, data, (uInt)m->usize) != m->crc)
        store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: member %s: CRC mismatch", m->name);
    slm_scan_pickle(data, (size_t)m->usize, m->name, rep);
    free(data);
}

/* True when an entry in the directory before `upto` has m's name. */
static bool duplicate(const uint8_t *b, uint64_t from, uint64_t upto, const zmember *m) {
    zmember o;
    for (uint64_t pos = from; pos < upto;) {
        if (!read_entry(b, &pos, upto, &o, NULL)) return false; /* NULL: no findings */
        if (o.name_len == m->name_len && strcmp(o.name, m->name) == 0) return true;
    }
    return false;
}

void slm_scan_zip(const void *data, size_t size, slm_scan_report *rep) {
    const uint8_t *b = data;
    uint64_t count, off, cd_size;
    if (!central_dir(b, size, &count, &off, &cd_size, rep)) return;
    uint64_t pos = off, end = off + cd_size;
    int pickles = 0;
    bool torch = false;
    for (uint64_t i = 0; i < count; i++) {
        zmember m;
        uint64_t at = pos;
        if (!read_entry(b, &pos, end, &m, rep)) return;
        if (ends_with(m.name, "data.pkl") || ends_with(m.name, "/version") || ends_with(m.name, "/byteorder"))
            torch = true;
        if (count <= 1024 && duplicate(b, off, at, &m))
            store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: duplicate member name %s (readers disagree on which one "
                           "they load)", m.name);
        if (!ends_with(m.name, ".pkl")) {
            if (m.local > size) store_scan_add(rep, SLM_SCAN_UNSAFE, "zip: member %s outside the file", m.name);
            continue;
        }
        pickles++;
        scan_member(b, size, &m, b + at + 46, rep);
    }
    snprintf(rep->format, sizeof rep->format, "%s", torch ? "pytorch-zip" : "zip");
    if (pickles == 0)
        store_scan_add(rep, SLM_SCAN_UNSUPPORTED, "zip archive with no *.pkl member: not a PyTorch checkpoint");
    else
        store_scan_add(rep, SLM_SCAN_UNSUPPORTED, "%s: %d pickle member(s) scanned without unpickling; slm never "
                       "loads pickle-based checkpoints: use a GGUF conversion", rep->format, pickles);
}
