/* tok_map: open addressing with linear probing over a power-of-two table
 * kept at most half full. The hash is FNV-1a (64-bit), computed over a pair
 * as over the concatenation, so pair lookups need no temporary copy. */
#include "tokenizer/tok_map.h"

#include <stdlib.h>
#include <string.h>

uint64_t tok_hash(const char *s, size_t n, uint64_t h) {
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

bool tok_map_init(tok_map *m, size_t n) {
    memset(m, 0, sizeof *m);
    size_t cap = 16;
    while (cap < n * 2) {
        if (cap > SIZE_MAX / 4) return false;
        cap *= 2;
    }
    m->slots = calloc(cap, sizeof *m->slots);
    if (!m->slots) return false;
    m->cap = cap;
    return true;
}

void tok_map_free(tok_map *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}

bool tok_map_put(tok_map *m, const char *key, uint32_t len, uint32_t split, int32_t val) {
    uint64_t h = tok_hash(key, len, TOK_HASH_SEED);
    size_t i = (size_t)h & (m->cap - 1);
    while (m->slots[i].key) {
        tok_map_slot *s = &m->slots[i];
        if (s->hash == h && s->len == len && s->split == split && memcmp(s->key, key, len) == 0)
            return false;
        i = (i + 1) & (m->cap - 1);
    }
    m->slots[i] = (tok_map_slot){key, len, split, h, val};
    m->n++;
    return true;
}

int32_t tok_map_get(const tok_map *m, const char *key, size_t len) {
    if (!m->cap) return -1;
    uint64_t h = tok_hash(key, len, TOK_HASH_SEED);
    size_t i = (size_t)h & (m->cap - 1);
    while (m->slots[i].key) {
        const tok_map_slot *s = &m->slots[i];
        if (s->hash == h && s->len == len && s->split == 0 && memcmp(s->key, key, len) == 0)
            return s->val;
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

int32_t tok_map_get_pair(const tok_map *m, const char *l, size_t ln, const char *r, size_t rn) {
    if (!m->cap) return -1;
    uint64_t h = tok_hash(r, rn, tok_hash(l, ln, TOK_HASH_SEED));
    size_t i = (size_t)h & (m->cap - 1);
    while (m->slots[i].key) {
        const tok_map_slot *s = &m->slots[i];
        if (s->hash == h && s->len == ln + rn && s->split == ln && memcmp(s->key, l, ln) == 0 &&
            memcmp(s->key + ln, r, rn) == 0)
            return s->val;
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}
