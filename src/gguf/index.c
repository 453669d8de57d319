/* A name -> entry-number index for GGUF keys and tensor names: the entries
 * sorted by name, searched by binary search. A sorted array (rather than a
 * hash table) keeps both building and lookup worst-case O(n log n) /
 * O(log n) whatever names a hostile file chooses, and finding duplicates
 * is a scan of neighbours. */
#include "gguf/gguf_internal.h"

#include <stdlib.h>
#include <string.h>

slm_status gguf_index_init(gguf_index *ix, int64_t n) {
    ix->n = 0;
    ix->entries = slm_malloc_array((size_t)n, sizeof *ix->entries);
    return ix->entries ? SLM_OK : SLM_ERR_NOMEM;
}

void gguf_index_add(gguf_index *ix, const char *name) {
    ix->entries[ix->n] = (gguf_index_entry){name, ix->n};
    ix->n++;
}

/* By name, then by entry number, so the first of equal names comes first. */
static int cmp_entry(const void *a, const void *b) {
    const gguf_index_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

int64_t gguf_index_build(gguf_index *ix) {
    if (ix->n > 1) qsort(ix->entries, (size_t)ix->n, sizeof *ix->entries, cmp_entry);
    int64_t dup = -1;
    for (int64_t k = 1; k < ix->n; k++) {
        if (strcmp(ix->entries[k - 1].name, ix->entries[k].name) != 0) continue;
        if (dup < 0 || ix->entries[k].i < dup) dup = ix->entries[k].i;
    }
    return dup;
}

int64_t gguf_index_find(const gguf_index *ix, const char *name) {
    if (!ix->entries || !name) return -1;
    int64_t lo = 0, hi = ix->n; /* search [lo, hi) */
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ix->entries[mid].name, name);
        if (c == 0) return ix->entries[mid].i;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

void gguf_index_free(gguf_index *ix) {
    free(ix->entries);
    ix->entries = NULL;
    ix->n = 0;
}
