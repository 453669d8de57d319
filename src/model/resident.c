/* Weight residency: where the matrices live while the model computes.
 *
 * Generation reads every weight once per token, so its speed is the memory
 * bandwidth one core gets on the weights. Measured on the Zen 4 guest this
 * was tuned on (a 288 MiB model, one core, plain streaming loop): 20 GB/s
 * from the file mapping (page-cache pages, 4 KiB, scattered), 26 GB/s from
 * anonymous memory and 27-30 GB/s from anonymous transparent huge pages;
 * MADV_HUGEPAGE / MADV_POPULATE_READ on the file mapping itself changed
 * nothing (ext4 page-cache pages stay 4 KiB and MADV_COLLAPSE is refused).
 *
 * So before the first context computes, the span of file bytes that holds
 * the bound matrices is read into one 2 MiB-aligned anonymous buffer
 * (MADV_HUGEPAGE) and every matrix pointer is rebased into it. It is read
 * with pread from the file (not copied from the mapping) so the mapping's
 * pages never become part of the process's resident memory: RSS stays
 * about the model size. When that is not possible (the span does not fit
 * in half of the available memory, SLM_WEIGHTS=mmap in the environment,
 * an allocation or read fails) the mapping stays, with MADV_WILLNEED.
 * Either way results are bit-identical: the bytes are the same. */
#include "model_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HUGE_ALIGN ((size_t)2 << 20)

/* Every bound matrix of the model (out holds 2 + 8 per layer), for the
 * span and the rebasing. */
static int collect(slm_model *m, slm_matrix **out) {
    int n = 0;
    out[n++] = &m->tok_embd;
    if (!m->hp.tied_output) out[n++] = &m->output;
    for (int il = 0; il < m->hp.n_layer; il++) {
        slm_layer *L = &m->layers[il];
        slm_matrix *ms[] = {&L->wq, &L->wk, &L->wv, &L->wqkv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++)
            if (ms[i]->rows > 0) out[n++] = ms[i];
    }
    return n;
}

/* Bytes the kernel says can be used without swapping (MemAvailable), or
 * half the physical memory when /proc is not there. */
static uint64_t available_bytes(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[128];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    if (f) fclose(f);
    if (kb) return (uint64_t)kb * 1024;
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size / 2 : 0;
}

/* Reads len bytes at file offset off; false on any short read or error. */
static bool read_all(int fd, uint8_t *dst, size_t len, off_t off) {
    while (len > 0) {
        ssize_t r = pread(fd, dst, len, off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        dst += r;
        len -= (size_t)r;
        off += r;
    }
    return true;
}

/* Fills dst with the span [lo, lo + len) of the mapping from the file
 * itself, checked against the mapping at a few points (the path might
 * name another file by now, or the GGUF came from memory). */
static bool read_span(const slm_model *m, const uint8_t *lo, size_t len, uint64_t file_off, uint8_t *dst) {
    int fd = open(slm_gguf_path(m->gguf), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    struct stat sb;
    bool ok = fstat(fd, &sb) == 0 && (uint64_t)sb.st_size == slm_gguf_file_size(m->gguf) &&
              file_off + len <= (uint64_t)sb.st_size;
    if (ok) {
        (void)posix_fadvise(fd, (off_t)file_off, (off_t)len, POSIX_FADV_SEQUENTIAL);
        ok = read_all(fd, dst, len, (off_t)file_off);
    }
    close(fd);
    for (int i = 0; ok && i <= 16; i++) {
        size_t at = (len - 1) / 16 * (size_t)i, n = len - at < 64 ? len - at : 64;
        ok = memcmp(dst + at, lo + at, n) == 0;
    }
    return ok;
}

/* File offset of the mapped byte p: the data section starts at the
 * offset of the first tensor's data minus its own offset. */
static bool file_offset(const slm_model *m, const uint8_t *p, uint64_t *off) {
    const slm_gguf_tensor *t = slm_gguf_tensor_at(m->gguf, 0);
    if (!t) return false;
    const uint8_t *section = (const uint8_t *)t->data - t->offset;
    *off = slm_gguf_data_offset(m->gguf) + (uint64_t)(p - section);
    return p >= section;
}

static void copy_to_anonymous(slm_model *m, slm_matrix **ms, int n, const uint8_t *lo, size_t len) {
    size_t map_len = len + HUGE_ALIGN;
    void *raw = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return;
    uint8_t *base = (uint8_t *)(((uintptr_t)raw + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
#ifdef MADV_HUGEPAGE
    (void)madvise(base, len, MADV_HUGEPAGE); /* refused where THP is off: 4 KiB pages still gain */
#endif
    uint64_t off;
    bool ok = file_offset(m, lo, &off) && read_span(m, lo, len, off, base);
    if (!ok) memcpy(base, lo, len); /* not from a file we can read: copy from the mapping */
    (void)mprotect(base, len, PROT_READ);
    for (int i = 0; i < n; i++) ms[i]->data = base + ((const uint8_t *)ms[i]->data - lo);
    if (m->hp.tied_output) m->output = m->tok_embd;
    m->resident_map = raw;
    m->resident_len = map_len;
}

void slm_model_make_resident(const slm_model *cm) {
    slm_model *m = (slm_model *)cm; /* residency state is the mutable part of a model */
    pthread_mutex_lock(&m->resident_mu);
    if (m->resident_done) {
        pthread_mutex_unlock(&m->resident_mu);
        return;
    }
    m->resident_done = true;
    slm_matrix **ms = slm_malloc_array(2 + 8 * (size_t)m->hp.n_layer, sizeof *ms);
    if (!ms) { /* the mapping stays; nothing else changes */
        pthread_mutex_unlock(&m->resident_mu);
        return;
    }
    int n = collect(m, ms);
    const uint8_t *lo = NULL, *hi = NULL;
    for (int i = 0; i < n; i++) {
        const uint8_t *a = ms[i]->data, *b = a + (size_t)ms[i]->rows * ms[i]->row_bytes;
        if (!lo || a < lo) lo = a;
        if (!hi || b > hi) hi = b;
    }
    const char *env = getenv("SLM_WEIGHTS");
    bool keep_map = env && strcmp(env, "mmap") == 0;
    size_t len = lo ? (size_t)(hi - lo) : 0;
    if (len > 0 && !keep_map && (uint64_t)len <= available_bytes() / 2) copy_to_anonymous(m, ms, n, lo, len);
    if (len > 0 && !m->resident_map) {
        uintptr_t page = (uintptr_t)sysconf(_SC_PAGE_SIZE), a = (uintptr_t)lo & ~(page - 1);
        (void)madvise((void *)a, (size_t)((uintptr_t)hi - a), MADV_WILLNEED);
    }
    free(ms);
    pthread_mutex_unlock(&m->resident_mu);
}

void slm_model_release_resident(slm_model *m) {
    if (m->resident_map) munmap(m->resident_map, m->resident_len);
    m->resident_map = NULL;
    pthread_mutex_destroy(&m->resident_mu);
}
