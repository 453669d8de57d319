/* The code point level grammar builder the GBNF parser fills: named rules
 * as flat item lists, helper rules for groups and repetitions, and a table
 * of normalized code point classes (sorted, merged ranges). */
#include <stdio.h>
#include <string.h>

#include "grammar/grammar_internal.h"

#define MAX_CP 0x10FFFFu

void gb_free(gb_grammar *b) {
    for (size_t i = 0; i < b->n_rules; i++) {
        free(b->rules[i].name);
        free(b->rules[i].items);
    }
    for (size_t i = 0; i < b->n_classes; i++) free(b->classes[i].r);
    free(b->rules);
    free(b->classes);
    free(b->name_hash);
    memset(b, 0, sizeof *b);
}

static int64_t add_rule(gb_grammar *b, char *name, uint32_t origin) {
    if (b->n_rules >= SLM_GRAMMAR_MAX_ELEMENTS ||
        grow_array((void **)&b->rules, &b->cap_rules, b->n_rules + 1, sizeof *b->rules) != 0) {
        free(name);
        return -1;
    }
    gb_rule *r = &b->rules[b->n_rules];
    memset(r, 0, sizeof *r);
    r->name = name;
    r->origin = origin;
    return (int64_t)b->n_rules++;
}

static uint32_t name_hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* Named rules only (helpers are never looked up by name). */
static int hash_insert(gb_grammar *b, uint32_t idx) {
    if ((b->n_rules + 1) * 2 > b->hash_cap) {
        size_t cap = b->hash_cap ? b->hash_cap * 2 : 64;
        while (cap < (b->n_rules + 1) * 2) cap *= 2;
        uint32_t *t = calloc(cap, sizeof *t);
        if (!t) return -1;
        for (size_t i = 0; i < b->hash_cap; i++) {
            if (!b->name_hash[i]) continue;
            const char *nm = b->rules[b->name_hash[i] - 1].name;
            size_t h = name_hash(nm, strlen(nm)) & (cap - 1);
            while (t[h]) h = (h + 1) & (cap - 1);
            t[h] = b->name_hash[i];
        }
        free(b->name_hash);
        b->name_hash = t;
        b->hash_cap = cap;
    }
    const char *nm = b->rules[idx].name;
    size_t h = name_hash(nm, strlen(nm)) & (b->hash_cap - 1);
    while (b->name_hash[h]) h = (h + 1) & (b->hash_cap - 1);
    b->name_hash[h] = idx + 1;
    return 0;
}

int64_t gb_rule_get(gb_grammar *b, const char *name, size_t len) {
    if (b->hash_cap) {
        size_t h = name_hash(name, len) & (b->hash_cap - 1);
        for (; b->name_hash[h]; h = (h + 1) & (b->hash_cap - 1)) {
            const char *nm = b->rules[b->name_hash[h] - 1].name;
            if (strlen(nm) == len && memcmp(nm, name, len) == 0) return (int64_t)b->name_hash[h] - 1;
        }
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, name, len);
    copy[len] = '\0';
    int64_t r = add_rule(b, copy, (uint32_t)b->n_rules);
    if (r >= 0 && hash_insert(b, (uint32_t)r) != 0) return -1;
    return r;
}

int64_t gb_rule_new_helper(gb_grammar *b, uint32_t origin) {
    const char *base = b->rules[origin].name;
    size_t n = strlen(base) + 24;
    char *name = malloc(n);
    if (!name) return -1;
    snprintf(name, n, "%s-%zu", base, b->n_rules);
    int64_t r = add_rule(b, name, origin);
    if (r >= 0) b->rules[r].defined = 1;
    return r;
}

int gb_push(gb_grammar *b, uint32_t rule, uint8_t kind, uint32_t val) {
    gb_rule *r = &b->rules[rule];
    if (b->total_items >= SLM_GRAMMAR_MAX_ELEMENTS) return -1;
    if (grow_array((void **)&r->items, &r->cap, r->n + 1, sizeof *r->items) != 0) return -1;
    r->items[r->n].kind = kind;
    r->items[r->n].val = val;
    r->n++;
    b->total_items++;
    return 0;
}

static int cmp_range(const void *a, const void *b) {
    const gb_range *x = a, *y = b;
    return (x->lo > y->lo) - (x->lo < y->lo);
}

/* Sorts and merges in place; returns the new count. */
static size_t normalize(gb_range *r, size_t n) {
    if (n == 0) return 0;
    qsort(r, n, sizeof *r, cmp_range);
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        if (r[i].lo <= r[k].hi + 1) {
            if (r[i].hi > r[k].hi) r[k].hi = r[i].hi;
        } else {
            r[++k] = r[i];
        }
    }
    return k + 1;
}

int64_t gb_class_add(gb_grammar *b, const gb_range *in, size_t n, int negate) {
    gb_range *r = slm_malloc_array(n + 1, sizeof *r);
    if (!r) return -1;
    if (n) memcpy(r, in, n * sizeof *r); /* an empty class [] comes with in == NULL */
    n = normalize(r, n);
    if (negate) {
        /* complement over [0, MAX_CP]: at most n + 1 ranges */
        gb_range *c = slm_malloc_array(n + 1, sizeof *c);
        if (!c) {
            free(r);
            return -1;
        }
        size_t k = 0;
        uint32_t next = 0;
        for (size_t i = 0; i < n; i++) {
            if (r[i].lo > next) c[k++] = (gb_range){next, r[i].lo - 1};
            next = r[i].hi + 1;
            if (r[i].hi >= MAX_CP) next = MAX_CP + 1;
        }
        if (next <= MAX_CP) c[k++] = (gb_range){next, MAX_CP};
        free(r);
        r = c;
        n = k;
    }
    if (grow_array((void **)&b->classes, &b->cap_classes, b->n_classes + 1, sizeof *b->classes) != 0) {
        free(r);
        return -1;
    }
    b->classes[b->n_classes].r = r;
    b->classes[b->n_classes].n = n;
    return (int64_t)b->n_classes++;
}
