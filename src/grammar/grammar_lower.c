/* Lowering: the code point builder grammar -> the byte-level slm_grammar.
 * Classes wholly below 0x80 become one GE_BYTES element; other classes
 * become a helper rule whose alternatives are the UTF-8 byte-range
 * sequences of the class (utf8_ranges.c). Byte sets are deduplicated with
 * a small open-addressing hash table. Then the checks that make matching
 * safe: every referenced rule is defined, the root exists, and no rule can
 * reach itself without consuming a byte (left recursion), which would make
 * the matcher loop. */
#include <stdio.h>
#include <string.h>

#include "grammar/grammar_internal.h"

typedef struct lowerer {
    slm_grammar *g;
    size_t cap_el, cap_sets;
    uint32_t *set_hash; /* open addressing: set index + 1, 0 = empty */
    size_t hash_cap;
    int oom;
} lowerer;

static uint32_t set_hash_of(const gbyteset *s) {
    uint32_t h = 2166136261u;
    for (int i = 0; i < 8; i++) h = (h ^ s->w[i]) * 16777619u;
    return h;
}

static int rehash(lowerer *L) {
    size_t cap = L->hash_cap ? L->hash_cap * 2 : 256;
    uint32_t *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < L->g->n_sets; i++) {
        size_t h = set_hash_of(&L->g->sets[i]) & (cap - 1);
        while (t[h]) h = (h + 1) & (cap - 1);
        t[h] = (uint32_t)i + 1;
    }
    free(L->set_hash);
    L->set_hash = t;
    L->hash_cap = cap;
    return 0;
}

static int64_t set_index(lowerer *L, const gbyteset *s) {
    if ((L->g->n_sets + 1) * 2 > L->hash_cap && rehash(L) != 0) return -1;
    size_t h = set_hash_of(s) & (L->hash_cap - 1);
    while (L->set_hash[h]) {
        uint32_t k = L->set_hash[h] - 1;
        if (memcmp(&L->g->sets[k], s, sizeof *s) == 0) return k;
        h = (h + 1) & (L->hash_cap - 1);
    }
    if (grow_array((void **)&L->g->sets, &L->cap_sets, L->g->n_sets + 1, sizeof *s) != 0) return -1;
    L->g->sets[L->g->n_sets] = *s;
    L->set_hash[h] = (uint32_t)L->g->n_sets + 1;
    return (int64_t)L->g->n_sets++;
}

static void emit(lowerer *L, uint32_t type, uint32_t val) {
    if (L->oom) return;
    if (L->g->n_el >= SLM_GRAMMAR_MAX_ELEMENTS ||
        grow_array((void **)&L->g->el, &L->cap_el, L->g->n_el + 1, sizeof *L->g->el) != 0) {
        L->oom = 1;
        return;
    }
    L->g->el[L->g->n_el++] = (gelem){type, val};
}

static void emit_bytes(lowerer *L, uint8_t lo, uint8_t hi) {
    gbyteset s;
    memset(&s, 0, sizeof s);
    for (unsigned b = lo; b <= hi; b++) s.w[b >> 5] |= 1u << (b & 31);
    int64_t k = set_index(L, &s);
    if (k < 0) L->oom = 1;
    else emit(L, GE_BYTES, (uint32_t)k);
}

typedef struct seq_ctx {
    lowerer *L;
    int first;
} seq_ctx;

static int emit_seq(void *ctx, int n, const uint8_t *lo, const uint8_t *hi) {
    seq_ctx *c = ctx;
    if (!c->first) emit(c->L, GE_ALT, 0);
    c->first = 0;
    for (int i = 0; i < n; i++) emit_bytes(c->L, lo[i], hi[i]);
    return c->L->oom ? -1 : 0;
}

static int class_is_ascii(const gb_class *c) { return c->n == 0 || c->r[c->n - 1].hi < 0x80; }

/* The ASCII part of a class as one byte set. */
static void class_ascii_set(const gb_class *c, gbyteset *s) {
    memset(s, 0, sizeof *s);
    for (size_t i = 0; i < c->n && c->r[i].lo < 0x80; i++) {
        uint32_t hi = c->r[i].hi < 0x80 ? c->r[i].hi : 0x7F;
        for (uint32_t b = c->r[i].lo; b <= hi; b++) s->w[b >> 5] |= 1u << (b & 31);
    }
}

static void emit_class_rule(lowerer *L, const gb_class *c) {
    gbyteset s;
    class_ascii_set(c, &s);
    seq_ctx sc = {L, 1};
    int any_ascii = 0;
    for (int i = 0; i < 8; i++) any_ascii |= s.w[i] != 0;
    if (any_ascii) {
        int64_t k = set_index(L, &s);
        if (k < 0) L->oom = 1;
        emit(L, GE_BYTES, (uint32_t)k);
        sc.first = 0;
    }
    for (size_t i = 0; i < c->n && !L->oom; i++) {
        uint32_t lo = c->r[i].lo < 0x80 ? 0x80 : c->r[i].lo;
        if (c->r[i].hi >= lo) utf8_range_split(lo, c->r[i].hi, emit_seq, &sc);
    }
    emit(L, GE_END, 0);
}

static void emit_item(lowerer *L, const gb_grammar *b, const uint32_t *class_rule, gb_item it) {
    if (it.kind == GI_ALT) return emit(L, GE_ALT, 0);
    if (it.kind == GI_REF) return emit(L, GE_REF, it.val);
    const gb_class *c = &b->classes[it.val];
    if (class_rule[it.val] != UINT32_MAX) return emit(L, GE_REF, class_rule[it.val]);
    gbyteset s;
    class_ascii_set(c, &s);
    int64_t k = set_index(L, &s);
    if (k < 0) L->oom = 1;
    else emit(L, GE_BYTES, (uint32_t)k);
}

static slm_status build_alts(slm_grammar *g) {
    size_t n_alts = 0;
    for (size_t i = 0; i < g->n_el; i++) n_alts += g->el[i].type <= GE_ALT;
    g->alt_off = slm_malloc_array(g->n_rules + 1, sizeof *g->alt_off);
    g->alt_pos = slm_malloc_array(n_alts, sizeof *g->alt_pos);
    if (!g->alt_off || !g->alt_pos) return SLM_ERR_NOMEM;
    size_t k = 0;
    for (size_t r = 0; r < g->n_rules; r++) {
        g->alt_off[r] = (uint32_t)k;
        uint32_t pos = g->rule_start[r];
        g->alt_pos[k++] = pos;
        for (;; pos++) {
            if (g->el[pos].type == GE_END) break;
            if (g->el[pos].type == GE_ALT) g->alt_pos[k++] = pos + 1;
        }
    }
    g->alt_off[g->n_rules] = (uint32_t)k;
    return SLM_OK;
}

/* Left recursion: DFS over "rule r may call rule s before consuming a
 * byte" edges, looking for a cycle. */
static slm_status check_left_recursion(slm_grammar *g, slm_error *err) {
    size_t n = g->n_rules;
    uint8_t *nullable = calloc(n ? n : 1, 1);
    uint8_t *color = calloc(n ? n : 1, 1);
    uint32_t *stack = slm_malloc_array(n ? n : 1, sizeof *stack);
    uint32_t *iter = slm_malloc_array(n ? n : 1, sizeof *iter);
    slm_status st = SLM_OK;
    if (!nullable || !color || !stack || !iter) {
        st = slm_error_set(err, SLM_ERR_NOMEM, "grammar: out of memory");
        goto done;
    }
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t r = 0; r < n; r++) {
            if (nullable[r]) continue;
            for (uint32_t a = g->alt_off[r]; a < g->alt_off[r + 1] && !nullable[r]; a++) {
                uint32_t p = g->alt_pos[a];
                while (g->el[p].type == GE_REF && nullable[g->el[p].val]) p++;
                if (g->el[p].type <= GE_ALT) nullable[r] = 1, changed = 1;
            }
        }
    }
    /* iter[r] walks the element positions of r's alternatives */
    for (size_t start = 0; start < n && st == SLM_OK; start++) {
        if (color[start]) continue;
        size_t sp = 0;
        stack[sp++] = (uint32_t)start;
        color[start] = 1;
        iter[start] = g->rule_start[start];
        while (sp && st == SLM_OK) {
            uint32_t r = stack[sp - 1];
            uint32_t p = iter[r];
            if (g->el[p].type == GE_END) {
                color[r] = 2;
                sp--;
                continue;
            }
            /* next position: after a non-nullable item skip to next alt */
            gelem e = g->el[p];
            if (e.type == GE_REF && nullable[e.val]) iter[r] = p + 1;
            else if (e.type == GE_ALT) iter[r] = p + 1;
            else {
                while (g->el[p].type > GE_ALT) p++;
                iter[r] = g->el[p].type == GE_ALT ? p + 1 : p;
            }
            if (e.type != GE_REF) continue;
            if (color[e.val] == 1) {
                st = slm_error_set(err, SLM_ERR_UNSUPPORTED,
                                   "grammar: left recursion: rule '%s' can reach itself without "
                                   "consuming input (rewrite it right-recursively, e.g. x ::= y x?)",
                                   g->rule_name[e.val]);
            } else if (color[e.val] == 0) {
                color[e.val] = 1;
                iter[e.val] = g->rule_start[e.val];
                stack[sp++] = e.val;
            }
        }
    }
done:
    free(nullable);
    free(color);
    free(stack);
    free(iter);
    return st;
}

void slm_grammar_free(slm_grammar *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n_rules; i++) free(g->rule_name[i]);
    free(g->rule_name);
    free(g->el);
    free(g->rule_start);
    free(g->alt_off);
    free(g->alt_pos);
    free(g->sets);
    free(g);
}

size_t slm_grammar_n_rules(const slm_grammar *g) { return g ? g->n_rules : 0; }
size_t slm_grammar_n_elements(const slm_grammar *g) { return g ? g->n_el : 0; }

static slm_status check_defined(gb_grammar *b, const char *root_name, uint32_t *root, slm_error *err) {
    for (size_t i = 0; i < b->n_rules; i++)
        if (!b->rules[i].defined)
            return slm_error_set(err, SLM_ERR_FORMAT, "gbnf:%d:%d: undefined rule '%s'", b->rules[i].line,
                                 b->rules[i].col, b->rules[i].name);
    for (size_t i = 0; i < b->n_rules; i++)
        if (strcmp(b->rules[i].name, root_name) == 0) {
            *root = (uint32_t)i;
            return SLM_OK;
        }
    return slm_error_set(err, SLM_ERR_FORMAT, "gbnf: no rule named '%s' (the start rule)", root_name);
}

/* Names of the rules of the lowered grammar (builder names, then one
 * "<class>" per helper class rule; helpers report their origin's name). */
static int copy_names(slm_grammar *g, const gb_grammar *b) {
    g->rule_name = calloc(g->n_rules, sizeof *g->rule_name);
    if (!g->rule_name) return -1;
    for (size_t i = 0; i < g->n_rules; i++) {
        const char *nm = i < b->n_rules ? b->rules[b->rules[i].origin].name : "<char class>";
        g->rule_name[i] = strdup(nm);
        if (!g->rule_name[i]) return -1;
    }
    return 0;
}

slm_status grammar_lower(gb_grammar *b, const char *root_name, slm_grammar **out, slm_error *err) {
    *out = NULL;
    uint32_t root = 0;
    slm_status st = check_defined(b, root_name ? root_name : "root", &root, err);
    if (st) return st;
    lowerer L = {0};
    L.g = calloc(1, sizeof *L.g);
    uint32_t *class_rule = slm_malloc_array(b->n_classes, sizeof *class_rule);
    if (!L.g || !class_rule) goto nomem;
    size_t n_rules = b->n_rules;
    for (size_t c = 0; c < b->n_classes; c++)
        class_rule[c] = class_is_ascii(&b->classes[c]) ? UINT32_MAX : (uint32_t)n_rules++;
    L.g->n_rules = n_rules;
    L.g->root = root;
    L.g->rule_start = slm_malloc_array(n_rules, sizeof *L.g->rule_start);
    if (!L.g->rule_start) goto nomem;
    for (size_t r = 0; r < b->n_rules && !L.oom; r++) {
        L.g->rule_start[r] = (uint32_t)L.g->n_el;
        for (size_t i = 0; i < b->rules[r].n; i++) emit_item(&L, b, class_rule, b->rules[r].items[i]);
        emit(&L, GE_END, 0);
    }
    for (size_t c = 0; c < b->n_classes && !L.oom; c++) {
        if (class_rule[c] == UINT32_MAX) continue;
        L.g->rule_start[class_rule[c]] = (uint32_t)L.g->n_el;
        emit_class_rule(&L, &b->classes[c]);
    }
    if (L.oom || copy_names(L.g, b) != 0 || build_alts(L.g) != SLM_OK) goto nomem;
    free(class_rule);
    free(L.set_hash);
    st = check_left_recursion(L.g, err);
    if (st) {
        slm_grammar_free(L.g);
        return st;
    }
    *out = L.g;
    return SLM_OK;
nomem:
    free(class_rule);
    free(L.set_hash);
    if (L.g && !L.g->rule_name) L.g->n_rules = 0;
    slm_grammar_free(L.g);
    return slm_error_set(err, SLM_ERR_NOMEM, "grammar: too large (more than %d elements) or out of memory",
                         SLM_GRAMMAR_MAX_ELEMENTS);
}

slm_status slm_grammar_compile_gbnf(const char *text, size_t len, const char *root, slm_grammar **out,
                                    slm_error *err) {
    if (!out) return slm_error_set(err, SLM_ERR_INVALID_ARG, "gbnf: NULL out");
    *out = NULL;
    gb_grammar b = {0};
    slm_status st = gbnf_parse(&b, text, len, err);
    if (st == SLM_OK) st = grammar_lower(&b, root, out, err);
    gb_free(&b);
    return st;
}

slm_status grammar_from_generated(const char *gbnf, size_t len, slm_grammar **out, slm_error *err) {
    slm_status st = slm_grammar_compile_gbnf(gbnf, len, "root", out, err);
    if (st != SLM_OK && st != SLM_ERR_NOMEM && st != SLM_ERR_UNSUPPORTED)
        slm_error_prefix(err, "internal error in generated grammar");
    return st;
}
