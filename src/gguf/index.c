/* A name -> entry-number hash index (open addressing, linear probing,
 * FNV-1a) for GGUF keys and tensor names. The table has a power-of-two
 * size at least twice the entry count, so lookups stay O(1). */
#include "gguf/gguf_internal.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_name(const char *s) {
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

slm_status gguf_index_init(gguf_index *ix, int64_t n) {
    uint64_t cap = 8;
    while (cap < (uint64_t)n * 2) cap *= 2; /* n is bounded by the file size */
    ix->names = slm_calloc_array((size_t)n, sizeof *ix->names);
    ix->slots = slm_malloc_array((size_t)cap, sizeof *ix->slots);
    if (!ix->names || !ix->slots) {
        gguf_index_free(ix);
        return SLM_ERR_NOMEM;
    }
    memset(ix->slots, 0xff, (size_t)cap * sizeof *ix->slots); /* all -1 */
    ix->mask = cap - 1;
    return SLM_OK;
}

bool gguf_index_insert(gguf_index *ix, const char *name, int64_t i) {
    uint64_t h = hash_name(name) & ix->mask;
    while (ix->slots[h] >= 0) {
        if (strcmp(ix->names[ix->slots[h]], name) == 0) return false;
        h = (h + 1) & ix->mask;
    }
    ix->slots[h] = i;
    ix->names[i] = name;
    return true;
}

int64_t gguf_index_find(const gguf_index *ix, const char *name) {
    if (!ix->slots || !name) return -1;
    uint64_t h = hash_name(name) & ix->mask;
    while (ix->slots[h] >= 0) {
        if (strcmp(ix->names[ix->slots[h]], name) == 0) return ix->slots[h];
        h = (h + 1) & ix->mask;
    }
    return -1;
}

void gguf_index_free(gguf_index *ix) {
    free(ix->names);
    free(ix->slots);
    ix->names = NULL;
    ix->slots = NULL;
    ix->mask = 0;
}
