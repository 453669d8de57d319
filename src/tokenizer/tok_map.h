/* tok_map: an open-addressing hash map from byte strings to int32 values,
 * used for token text -> id and BPE merge pair -> rank. Keys are not copied:
 * they point into storage the owner keeps alive (the tokenizer's pools).
 * A key may be a pair (left, right) stored contiguously with `split` bytes
 * of left; plain strings use split 0 and pairs are looked up by their two
 * halves without concatenating them. */
#ifndef SLM_TOK_MAP_H
#define SLM_TOK_MAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct tok_map_slot {
    const char *key; /* NULL: empty slot */
    uint32_t len;
    uint32_t split;
    uint64_t hash;
    int32_t val;
} tok_map_slot;

typedef struct tok_map {
    tok_map_slot *slots;
    size_t cap; /* power of two */
    size_t n;
} tok_map;

/* Sizes the table for `n` keys; false on allocation failure or overflow. */
bool tok_map_init(tok_map *m, size_t n);
void tok_map_free(tok_map *m);

uint64_t tok_hash(const char *s, size_t n, uint64_t h);
#define TOK_HASH_SEED 0xcbf29ce484222325ULL

/* Inserts key -> val unless the key is present (the first value wins, as
 * llama.cpp's emplace does). Returns false when the key already existed. */
bool tok_map_put(tok_map *m, const char *key, uint32_t len, uint32_t split, int32_t val);
/* -1 when absent. */
int32_t tok_map_get(const tok_map *m, const char *key, size_t len);
int32_t tok_map_get_pair(const tok_map *m, const char *l, size_t ln, const char *r, size_t rn);

#endif
