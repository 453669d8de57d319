/* Mask cache shared across matchers: many requests with the same schema
 * compile equal grammars and walk the same parser states, so a state's
 * mask computed for one request serves every later one.
 *
 * The cache lives in the vocabulary (masks are per vocabulary) and is
 * keyed by grammar content: a registry of grammar copies (gsh_entry:
 * element array, byte sets, rule layout, a content hash), where equal
 * grammars get the same entry, and one hash table of masks keyed by
 * (entry id, state key). A state key is the set of parse stacks written
 * as position lists (top first), sorted, so it does not depend on any
 * matcher's frame numbering. A mask is stored as a bitmap, or as a token
 * list when that is smaller.
 *
 * Thread-safe: one mutex per vocabulary guards the registry and the
 * table (lookups copy the mask out under it). Bounded: the masks' bytes
 * stay under a limit (slm_grammar_vocab_set_mask_cache; second-chance
 * sweep: masks not used since the last sweep go first), and at most
 * GSH_IDLE_GRAMMARS grammars no matcher uses are kept, within
 * GSH_IDLE_BYTES (oldest dropped with their masks); grammars over
 * GSH_MAX_ELEMENTS elements are not shared. The vocabulary also keeps the
 * token sets of up to GSH_CLASSES byte classes (a JSON string's
 * characters), which depend on nothing else, for every matcher. Each entry also holds the grammar's distance table
 * (distance.c) once a matcher needs it. */
#include <pthread.h>
#include <string.h>

#include "grammar/matcher_internal.h"

#define GSH_DEFAULT_BYTES ((size_t)64 << 20)
#define GSH_IDLE_GRAMMARS 32
#define GSH_MAX_KEY_STACKS 512
#define GSH_CLASSES 256 /* byte-class token sets kept per vocabulary (a mask's worth each) */
#define GSH_IDLE_BYTES ((size_t)16 << 20)
#define GSH_MAX_ELEMENTS (1u << 20) /* larger grammars are not copied into the registry */

struct gsh_entry {
    uint32_t id;
    int refs;          /* matchers attached */
    uint64_t last_use; /* registry clock when last detached */
    uint64_t hash;
    size_t n_el, n_rules, n_sets, n_alts;
    uint32_t root;
    gelem *el;
    gbyteset *sets;
    uint32_t *alt_off, *alt_pos;
    uint32_t *rest; /* distance table, NULL until needed */
    struct gsh_entry *next;
};

typedef struct gsh_mask {
    uint64_t hash; /* 0: empty slot */
    uint32_t gid, key_len, n_data;
    uint8_t is_list, used;
    uint32_t *key;  /* key_len words, then n_data words of data */
} gsh_mask;

struct gshared {
    pthread_mutex_t mu;
    size_t limit, bytes;
    uint32_t next_id;
    uint64_t clock;
    gsh_entry *entries;
    gsh_mask *tab;
    size_t tab_cap, tab_used;
    uint64_t hits, misses, evictions;
    gsh_class cls[GSH_CLASSES];
    int n_cls;
};

/* ---- registry lifetime ---- */

static void entry_free(gsh_entry *e) {
    free(e->el);
    free(e->sets);
    free(e->alt_off);
    free(e->alt_pos);
    free(e->rest);
    free(e);
}

static void tab_clear(gshared *s) {
    for (size_t i = 0; i < s->tab_cap; i++) free(s->tab[i].key);
    free(s->tab);
    s->tab = NULL;
    s->tab_cap = s->tab_used = 0;
    s->bytes = 0;
}

int gshared_init(slm_grammar_vocab *v) {
    gshared *s = calloc(1, sizeof *s);
    if (!s || pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s);
        return -1;
    }
    s->limit = GSH_DEFAULT_BYTES;
    s->next_id = 1;
    v->shared = s;
    return 0;
}

static void class_free(gsh_class *c) {
    free(c->bits);
}

void gshared_free(gshared *s) {
    if (!s) return;
    tab_clear(s);
    for (int i = 0; i < s->n_cls; i++) class_free(&s->cls[i]);
    for (gsh_entry *e = s->entries, *n; e; e = n) {
        n = e->next;
        entry_free(e);
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- grammar content ---- */

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static uint64_t grammar_hash(const slm_grammar *g) {
    uint64_t h = 1469598103934665603ull;
    h = fnv(h, &g->root, sizeof g->root);
    h = fnv(h, g->el, g->n_el * sizeof *g->el);
    h = fnv(h, g->sets, g->n_sets * sizeof *g->sets);
    return fnv(h, g->alt_off, (g->n_rules + 1) * sizeof *g->alt_off);
}

/* memcmp that allows empty arrays (NULL pointers) */
static int same_bytes(const void *a, const void *b, size_t n) { return n == 0 || !memcmp(a, b, n); }

static int same_grammar(const gsh_entry *e, const slm_grammar *g, uint64_t h) {
    return e->hash == h && e->n_el == g->n_el && e->n_rules == g->n_rules && e->n_sets == g->n_sets &&
           e->root == g->root && same_bytes(e->el, g->el, g->n_el * sizeof *g->el) &&
           same_bytes(e->sets, g->sets, g->n_sets * sizeof *g->sets) &&
           same_bytes(e->alt_off, g->alt_off, (g->n_rules + 1) * sizeof *g->alt_off) &&
           same_bytes(e->alt_pos, g->alt_pos, e->n_alts * sizeof *g->alt_pos);
}

static void *dup_array(const void *p, size_t n, size_t sz) {
    void *q = slm_malloc_array(n ? n : 1, sz);
    if (q && n) memcpy(q, p, n * sz);
    return q;
}

static gsh_entry *entry_new(const slm_grammar *g, uint64_t h, uint32_t id) {
    gsh_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->id = id;
    e->hash = h;
    e->n_el = g->n_el;
    e->n_rules = g->n_rules;
    e->n_sets = g->n_sets;
    e->n_alts = g->alt_off[g->n_rules];
    e->root = g->root;
    e->el = dup_array(g->el, g->n_el, sizeof *g->el);
    e->sets = dup_array(g->sets, g->n_sets, sizeof *g->sets);
    e->alt_off = dup_array(g->alt_off, g->n_rules + 1, sizeof *g->alt_off);
    e->alt_pos = dup_array(g->alt_pos, e->n_alts, sizeof *g->alt_pos);
    if (!e->el || !e->sets || !e->alt_off || !e->alt_pos) {
        entry_free(e);
        return NULL;
    }
    return e;
}

/* ---- mask table ---- */

static size_t mask_bytes(const gsh_mask *m) {
    return sizeof *m + ((size_t)m->key_len + m->n_data) * sizeof(uint32_t);
}

static void slot_drop(gshared *s, gsh_mask *m) {
    s->bytes -= mask_bytes(m);
    free(m->key);
    memset(m, 0, sizeof *m);
    s->tab_used--;
    s->evictions++;
}

/* Re-inserts every live slot into a table of cap slots; -1 on OOM. */
static int tab_rehash(gshared *s, size_t cap) {
    gsh_mask *t = calloc(cap, sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < s->tab_cap; i++) {
        if (!s->tab[i].hash) continue;
        size_t h = (size_t)s->tab[i].hash & (cap - 1);
        while (t[h].hash) h = (h + 1) & (cap - 1);
        t[h] = s->tab[i];
    }
    free(s->tab);
    s->tab = t;
    s->tab_cap = cap;
    return 0;
}

/* Drops masks not used since the last sweep (and clears the marks); when
 * that frees nothing, drops everything. Open addressing needs a rehash
 * after deletions. */
static void sweep(gshared *s) {
    size_t before = s->tab_used;
    for (size_t i = 0; i < s->tab_cap; i++) {
        if (!s->tab[i].hash) continue;
        if (!s->tab[i].used) slot_drop(s, &s->tab[i]);
        else s->tab[i].used = 0;
    }
    if (s->tab_used == before) {
        for (size_t i = 0; i < s->tab_cap; i++)
            if (s->tab[i].hash) slot_drop(s, &s->tab[i]);
    }
    if (tab_rehash(s, s->tab_cap) != 0) tab_clear(s);
}

static void drop_grammar_masks(gshared *s, uint32_t gid) {
    for (size_t i = 0; i < s->tab_cap; i++)
        if (s->tab[i].hash && s->tab[i].gid == gid) slot_drop(s, &s->tab[i]);
    if (tab_rehash(s, s->tab_cap ? s->tab_cap : 64) != 0) tab_clear(s);
}

static uint64_t key_hash(uint32_t gid, const uint32_t *key, size_t n) {
    uint64_t h = fnv(1469598103934665603ull ^ gid, key, n * sizeof *key);
    return h ? h : 1;
}

static gsh_mask *tab_find(gshared *s, uint32_t gid, const uint32_t *key, size_t n, uint64_t h) {
    if (!s->tab_cap) return NULL;
    for (size_t i = (size_t)h & (s->tab_cap - 1); s->tab[i].hash; i = (i + 1) & (s->tab_cap - 1)) {
        gsh_mask *m = &s->tab[i];
        if (m->hash == h && m->gid == gid && m->key_len == n && same_bytes(m->key, key, n * sizeof *key)) return m;
    }
    return NULL;
}

/* ---- the internal API (matcher_internal.h) ---- */

gsh_entry *gshared_attach(const slm_grammar_vocab *v, const slm_grammar *g) {
    gshared *s = v->shared;
    if (!s) return NULL;
    uint64_t h = grammar_hash(g);
    pthread_mutex_lock(&s->mu);
    gsh_entry *e = NULL;
    if (s->limit > 0 && g->n_el <= GSH_MAX_ELEMENTS) {
        for (e = s->entries; e && !same_grammar(e, g, h); e = e->next) {}
        if (!e && (e = entry_new(g, h, s->next_id)) != NULL) {
            s->next_id++;
            e->next = s->entries;
            s->entries = e;
        }
        if (e) e->refs++;
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

static size_t entry_bytes(const gsh_entry *e) {
    return sizeof *e + e->n_el * (sizeof *e->el + sizeof *e->rest) + e->n_sets * sizeof *e->sets +
           (e->n_rules + 1 + e->n_alts) * sizeof *e->alt_off;
}

/* Keeps at most GSH_IDLE_GRAMMARS unused entries holding at most
 * GSH_IDLE_BYTES (many large schemas must not pile up), none when sharing
 * is off: drops the oldest. */
static void trim_idle(gshared *s) {
    for (;;) {
        size_t idle = 0, idle_bytes = 0;
        gsh_entry **oldest = NULL;
        for (gsh_entry **p = &s->entries; *p; p = &(*p)->next) {
            if ((*p)->refs) continue;
            idle++;
            idle_bytes += entry_bytes(*p);
            if (!oldest || (*p)->last_use < (*oldest)->last_use) oldest = p;
        }
        if (idle <= GSH_IDLE_GRAMMARS && idle_bytes <= GSH_IDLE_BYTES && (s->limit > 0 || !idle)) return;
        gsh_entry *e = *oldest;
        *oldest = e->next;
        drop_grammar_masks(s, e->id);
        entry_free(e);
    }
}

void gshared_detach(const slm_grammar_vocab *v, gsh_entry *e) {
    gshared *s = v->shared;
    if (!s || !e) return;
    pthread_mutex_lock(&s->mu);
    e->refs--;
    e->last_use = ++s->clock;
    trim_idle(s);
    pthread_mutex_unlock(&s->mu);
}

const uint32_t *gshared_rest(const slm_grammar_vocab *v, gsh_entry *e, const slm_grammar *g) {
    gshared *s = v->shared;
    pthread_mutex_lock(&s->mu);
    if (!e->rest) e->rest = gdist_rest_new(g);
    const uint32_t *r = e->rest;
    pthread_mutex_unlock(&s->mu);
    return r; /* immutable once set; freed with the entry, which we hold */
}

int gshared_lookup(const slm_grammar_vocab *v, const gsh_entry *e, const uint32_t *key, size_t n, uint32_t *out) {
    gshared *s = v->shared;
    uint64_t h = key_hash(e->id, key, n);
    size_t words = slm_grammar_vocab_mask_words(v);
    pthread_mutex_lock(&s->mu);
    gsh_mask *m = tab_find(s, e->id, key, n, h);
    if (m) {
        const uint32_t *d = m->key + m->key_len;
        memset(out, 0, words * sizeof *out);
        if (m->is_list)
            for (uint32_t i = 0; i < m->n_data; i++) out[d[i] >> 5] |= 1u << (d[i] & 31);
        else
            memcpy(out, d, words * sizeof *out);
        m->used = 1;
        s->hits++;
    } else {
        s->misses++;
    }
    pthread_mutex_unlock(&s->mu);
    return m != NULL;
}

void gshared_insert(const slm_grammar_vocab *v, const gsh_entry *e, const uint32_t *key, size_t n,
                    const uint32_t *mask, u32vec *scratch) {
    gshared *s = v->shared;
    size_t words = slm_grammar_vocab_mask_words(v);
    if (n > UINT32_MAX / 2 || words > UINT32_MAX / 2) return;
    /* the token list into scratch while it stays shorter than the bitmap */
    scratch->n = 0;
    int is_list = 1;
    for (size_t w = 0; w < words && is_list; w++)
        for (uint32_t x = mask[w]; x && is_list; x &= x - 1) {
            if (scratch->n + 1 >= words || u32vec_push(scratch, (uint32_t)(w * 32 + (size_t)__builtin_ctz(x))) != 0)
                is_list = 0;
        }
    size_t n_data = is_list ? scratch->n : words;
    uint32_t *buf = slm_malloc_array(n + n_data + 1, sizeof *buf);
    if (!buf) return;
    if (n) memcpy(buf, key, n * sizeof *key);
    if (n_data) memcpy(buf + n, is_list ? scratch->p : mask, n_data * sizeof *buf);
    gsh_mask m = {key_hash(e->id, key, n), e->id, (uint32_t)n, (uint32_t)n_data, (uint8_t)is_list, 1, buf};
    pthread_mutex_lock(&s->mu);
    if (mask_bytes(&m) > s->limit / 4 || tab_find(s, e->id, key, n, m.hash)) {
        pthread_mutex_unlock(&s->mu); /* too big to share, or another matcher was first */
        free(buf);
        return;
    }
    if (s->bytes + mask_bytes(&m) > s->limit) sweep(s);
    if ((s->tab_used + 1) * 2 > s->tab_cap && tab_rehash(s, s->tab_cap ? s->tab_cap * 2 : 64) != 0) {
        pthread_mutex_unlock(&s->mu);
        free(buf);
        return;
    }
    size_t i = (size_t)m.hash & (s->tab_cap - 1);
    while (s->tab[i].hash) i = (i + 1) & (s->tab_cap - 1);
    s->tab[i] = m;
    s->tab_used++;
    s->bytes += mask_bytes(&m);
    pthread_mutex_unlock(&s->mu);
}

/* ---- state keys ---- */

struct stack_ref {
    uint64_t hash;
    uint32_t off, len;
};
typedef struct stack_ref stack_ref;

/* Writes the state key of m->cur into m->key: stacks as [len, pos...]
 * sorted by (hash, len, contents). Scratch (stack list, refs) is kept in
 * the matcher between calls. Returns 0, or -1 (no key: OOM or too many
 * stacks). */
int gshared_state_key(slm_grammar_matcher *m) {
    size_t n = m->cur.n;
    if (n > GSH_MAX_KEY_STACKS) return -1; /* rare, ambiguous states: not shared */
    if (n > m->key_refs_cap) {
        free(m->key_refs);
        m->key_refs = slm_malloc_array(n, sizeof(stack_ref));
        m->key_refs_cap = m->key_refs ? n : 0;
        if (!m->key_refs) return -1;
    }
    stack_ref *refs = m->key_refs;
    u32vec *pool = &m->key_pool;
    pool->n = 0;
    for (size_t i = 0; i < n; i++) {
        refs[i].off = (uint32_t)pool->n;
        uint64_t h = 1469598103934665603ull;
        for (uint32_t f = m->cur.p[i]; f; f = m->a.f[f].parent) {
            if (u32vec_push(pool, m->a.f[f].pos) != 0) return -1;
            h = (h ^ m->a.f[f].pos) * 1099511628211ull;
        }
        refs[i].len = (uint32_t)(pool->n - refs[i].off);
        refs[i].hash = h;
    }
    /* insertion sort (qsort has no context for the pool; states hold
     * few stacks, and the order is nearly always sorted already) */
    for (size_t i = 1; i < n; i++) {
        stack_ref r = refs[i];
        size_t j = i;
        while (j > 0) {
            const stack_ref *p = &refs[j - 1];
            int c = p->hash != r.hash ? (p->hash < r.hash ? -1 : 1)
                    : p->len != r.len ? (p->len < r.len ? -1 : 1)
                                      : (r.len ? memcmp(pool->p + p->off, pool->p + r.off, r.len * sizeof *pool->p) : 0);
            if (c <= 0) break;
            refs[j] = refs[j - 1];
            j--;
        }
        refs[j] = r;
    }
    u32vec *out = &m->key;
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (u32vec_push(out, refs[i].len) != 0) return -1;
        for (uint32_t k = 0; k < refs[i].len; k++)
            if (u32vec_push(out, pool->p[refs[i].off + k]) != 0) return -1;
    }
    return 0;
}

/* ---- byte-class token sets ---- */

int gshared_class_find(const slm_grammar_vocab *v, const gbyteset *l, int utf8, gsh_class *out) {
    gshared *s = v->shared;
    if (!s) return 0;
    int found = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n_cls && !found; i++)
        if (s->cls[i].utf8 == utf8 && !memcmp(&s->cls[i].key, l, sizeof *l)) {
            *out = s->cls[i];
            found = 1;
        }
    pthread_mutex_unlock(&s->mu);
    return found;
}

int gshared_class_wanted(const slm_grammar_vocab *v) {
    gshared *s = v->shared;
    if (!s) return 0;
    pthread_mutex_lock(&s->mu);
    int want = s->limit > 0 && s->n_cls < GSH_CLASSES;
    pthread_mutex_unlock(&s->mu);
    return want;
}

int gshared_class_add(const slm_grammar_vocab *v, const gsh_class *c) {
    gshared *s = v->shared;
    if (!s) return 0;
    int taken = 0;
    pthread_mutex_lock(&s->mu);
    if (s->limit > 0 && s->n_cls < GSH_CLASSES) {
        taken = 1;
        for (int i = 0; i < s->n_cls && taken; i++)
            if (s->cls[i].utf8 == c->utf8 && !memcmp(&s->cls[i].key, &c->key, sizeof c->key))
                taken = 0; /* another matcher was first */
        if (taken) s->cls[s->n_cls++] = *c;
    }
    pthread_mutex_unlock(&s->mu);
    return taken;
}

/* ---- public API ---- */

void slm_grammar_vocab_set_mask_cache(slm_grammar_vocab *v, size_t max_bytes) {
    if (!v || !v->shared) return;
    gshared *s = v->shared;
    pthread_mutex_lock(&s->mu);
    s->limit = max_bytes;
    while (s->tab_used && s->bytes > s->limit) sweep(s);
    trim_idle(s);
    pthread_mutex_unlock(&s->mu);
}

void slm_grammar_vocab_mask_cache_stats(const slm_grammar_vocab *v, slm_grammar_cache_stats *out) {
    memset(out, 0, sizeof *out);
    if (!v || !v->shared) return;
    gshared *s = v->shared;
    pthread_mutex_lock(&s->mu);
    out->hits = s->hits;
    out->misses = s->misses;
    out->evictions = s->evictions;
    out->n_masks = s->tab_used;
    out->bytes = s->bytes;
    out->limit = s->limit;
    for (gsh_entry *e = s->entries; e; e = e->next) out->n_grammars++;
    pthread_mutex_unlock(&s->mu);
}
