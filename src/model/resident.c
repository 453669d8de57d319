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
 * So before the first context computes, the matrices the products read
 * (grouped into runs of adjacent file bytes) are read into one 2 MiB-aligned
 * anonymous buffer (MADV_HUGEPAGE) and every matrix pointer is rebased into
 * it. They are read with pread from the file (not copied from the mapping)
 * so the mapping's pages never become part of the process's resident
 * memory: RSS stays about the model size. When that is not possible (they
 * do not fit in half of the available memory, SLM_WEIGHTS=mmap in the
 * environment, the allocation fails) the mapping stays, with
 * MADV_WILLNEED. Either way results are bit-identical: the bytes are the
 * same. */
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

/* Every matrix the products read (out holds 2 + 8 per layer), for the span
 * and the rebasing. An untied token embedding is left out: only one row per
 * token is read from it, and copying it would add its size to RSS. */
static int collect(slm_model *m, slm_matrix **out) {
    int n = 0;
    out[n++] = m->hp.tied_output ? &m->tok_embd : &m->output;
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

/* Reads the mapped bytes [lo, lo + len) from the open file at file_off
 * into dst, checked against the mapping at a few points (the path might
 * name another file by now, or the GGUF came from memory). */
static bool read_span(int fd, const uint8_t *lo, size_t len, uint64_t file_off, uint8_t *dst) {
    (void)posix_fadvise(fd, (off_t)file_off, (off_t)len, POSIX_FADV_SEQUENTIAL);
    bool ok = read_all(fd, dst, len, (off_t)file_off);
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

/* A stretch of the file holding matrices back to back (gaps under
 * RUN_GAP included), and where it goes in the anonymous buffer. */
typedef struct run {
    const uint8_t *lo, *hi;
    size_t dst;
} run;

#define RUN_GAP ((size_t)64 << 10)

static const uint8_t *mat_begin(const slm_matrix *w) { return w->data; }
static const uint8_t *mat_end(const slm_matrix *w) { return mat_begin(w) + (size_t)w->rows * w->row_bytes; }

static int by_address(const void *a, const void *b) {
    const uint8_t *x = mat_begin(*(slm_matrix *const *)a), *y = mat_begin(*(slm_matrix *const *)b);
    return x < y ? -1 : x > y;
}

/* Groups the sorted matrices into runs; returns the number of runs and the
 * buffer bytes they need (each run starts on a 4 KiB boundary, which keeps
 * every tensor's alignment). */
static int make_runs(slm_matrix **ms, int n, run *runs, size_t *total) {
    int nr = 0;
    *total = 0;
    for (int i = 0; i < n; i++) {
        if (nr > 0 && mat_begin(ms[i]) <= runs[nr - 1].hi + RUN_GAP) {
            if (mat_end(ms[i]) > runs[nr - 1].hi) runs[nr - 1].hi = mat_end(ms[i]);
            continue;
        }
        if (nr > 0) *total += ((size_t)(runs[nr - 1].hi - runs[nr - 1].lo) + 4095) & ~(size_t)4095;
        runs[nr++] = (run){mat_begin(ms[i]), mat_end(ms[i]), *total};
    }
    if (nr > 0) *total += ((size_t)(runs[nr - 1].hi - runs[nr - 1].lo) + 4095) & ~(size_t)4095;
    return nr;
}

/* Fills the buffer: every run read from the file when it can be opened and
 * matches, else copied from the mapping. */
static void fill_runs(const slm_model *m, const run *runs, int nr, uint8_t *base) {
    int fd = open(slm_gguf_path(m->gguf), O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd >= 0 && (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size != slm_gguf_file_size(m->gguf))) {
        close(fd);
        fd = -1;
    }
    for (int r = 0; r < nr; r++) {
        size_t len = (size_t)(runs[r].hi - runs[r].lo);
        uint64_t off;
        bool ok = fd >= 0 && file_offset(m, runs[r].lo, &off) && read_span(fd, runs[r].lo, len, off, base + runs[r].dst);
        if (!ok) memcpy(base + runs[r].dst, runs[r].lo, len);
    }
    if (fd >= 0) close(fd);
}

static void copy_to_anonymous(slm_model *m, slm_matrix **ms, int n, const run *runs, int nr, size_t total) {
    size_t map_len = total + HUGE_ALIGN;
    void *raw = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) return;
    uint8_t *base = (uint8_t *)(((uintptr_t)raw + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
#ifdef MADV_HUGEPAGE
    (void)madvise(base, total, MADV_HUGEPAGE); /* refused where THP is off: 4 KiB pages still gain */
#endif
    fill_runs(m, runs, nr, base);
    (void)mprotect(base, total, PROT_READ);
    for (int i = 0, r = 0; i < n; i++) { /* ms and runs are both in address order */
        while (mat_begin(ms[i]) >= runs[r].hi) r++;
        ms[i]->data = base + runs[r].dst + (size_t)(mat_begin(ms[i]) - runs[r].lo);
    }
    if (m->hp.tied_output) m->output = m->tok_embd;
    m->resident_map = raw;
    m->resident_len = map_len;
}

/* Hints the kernel to read the runs ahead (when they stay in the mapping). */
static void will_need(const run *runs, int nr) {
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGE_SIZE);
    for (int r = 0; r < nr; r++) {
        uintptr_t a = (uintptr_t)runs[r].lo & ~(page - 1);
        (void)madvise((void *)a, (size_t)((uintptr_t)runs[r].hi - a), MADV_WILLNEED);
    }
}

void slm_model_make_resident(const slm_model *cm) {
    slm_model *m = (slm_model *)cm; /* residency state is the mutable part of a model */
    pthread_mutex_lock(&m->resident_mu);
    if (m->resident_done) {
        pthread_mutex_unlock(&m->resident_mu);
        return;
    }
    m->resident_done = true;
    const size_t cap = 2 + 8 * (size_t)m->hp.n_layer;
    slm_matrix **ms = slm_malloc_array(cap, sizeof *ms);
    run *runs = slm_malloc_array(cap, sizeof *runs);
    if (ms && runs) {
        int n = collect(m, ms);
        qsort(ms, (size_t)n, sizeof *ms, by_address);
        size_t total;
        int nr = make_runs(ms, n, runs, &total);
        const char *env = getenv("SLM_WEIGHTS");
        bool keep_map = env && strcmp(env, "mmap") == 0;
        if (total > 0 && !keep_map && (uint64_t)total <= available_bytes() / 2)
            copy_to_anonymous(m, ms, n, runs, nr, total);
        if (!m->resident_map) will_need(runs, nr);
    }
    free(ms);
    free(runs);
    pthread_mutex_unlock(&m->resident_mu);
}

void slm_model_release_resident(slm_model *m) {
    if (m->resident_map) munmap(m->resident_map, m->resident_len);
    m->resident_map = NULL;
    pthread_mutex_destroy(&m->resident_mu);
}
