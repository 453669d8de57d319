/* Operations on string DFAs (sdfa, see json_schema_internal.h): Hopcroft
 * minimization, products (and, and-not, or), complement, length limits,
 * membership, and the translation to GBNF: one rule per live state (one
 * that can still reach an accepting state), each alternative a set of
 * code points written as their JSON string spellings followed by the
 * next state's rule, plus the closing quote where the state accepts.
 * Dead states are never written, so the grammar offers no byte after
 * which the string could not be completed. */
#include <stdio.h>
#include <string.h>

#include "grammar/json_schema_internal.h"

#define CP_END 0x110000u
#define MAX_PRODUCT (4u << 20) /* pair table entries (16 MiB) */

void sdfa_free(sdfa *d) {
    free(d->cut), free(d->next), free(d->acc);
    memset(d, 0, sizeof *d);
}

static slm_status oom(slm_error *err) { return slm_error_set(err, SLM_ERR_NOMEM, "out of memory"); }

static uint32_t cls_at(const sdfa *d, uint32_t cp) {
    uint32_t lo = 0, hi = d->n_cls;
    while (hi - lo > 1) {
        uint32_t mid = (lo + hi) / 2;
        if (d->cut[mid] <= cp) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* Renumbers states by the block ids in cls (n_blocks of them; state 0's
 * block must be 0), keeping one representative row per block. */
static slm_status quotient(sdfa *d, const uint32_t *cls, uint32_t n_blocks, slm_error *err) {
    uint32_t *next = malloc((size_t)n_blocks * d->n_cls * sizeof *next);
    uint8_t *acc = calloc(n_blocks, 1);
    if (!next || !acc) {
        free(next), free(acc);
        return oom(err);
    }
    for (uint32_t s = 0; s < d->n_st; s++) {
        uint32_t b = cls[s];
        acc[b] = d->acc[s];
        for (uint32_t c = 0; c < d->n_cls; c++) next[(size_t)b * d->n_cls + c] = cls[d->next[(size_t)s * d->n_cls + c]];
    }
    free(d->next), free(d->acc);
    d->next = next, d->acc = acc, d->n_st = n_blocks;
    return SLM_OK;
}

/* Merges adjacent alphabet classes whose columns are equal. */
static void merge_columns(sdfa *d) {
    uint32_t k = 0;
    for (uint32_t c = 0; c < d->n_cls; c++) {
        int same = k > 0 && d->cut[c] != 0xD800 && d->cut[c] != 0xE000;
        for (uint32_t s = 0; s < d->n_st && same; s++)
            same = d->next[(size_t)s * d->n_cls + c] == d->next[(size_t)s * d->n_cls + k - 1];
        if (same) continue;
        for (uint32_t s = 0; s < d->n_st; s++) d->next[(size_t)s * d->n_cls + k] = d->next[(size_t)s * d->n_cls + c];
        d->cut[k++] = d->cut[c];
    }
    /* rows are now k wide: compact them */
    for (uint32_t s = 0; s < d->n_st; s++)
        memmove(d->next + (size_t)s * k, d->next + (size_t)s * d->n_cls, k * sizeof *d->next);
    d->n_cls = k;
}

/* Hopcroft's partition refinement. Moore's (split every block by the
 * blocks its rows lead to, until stable) needed a round per character
 * of the longest distinction, so a URI with a maxLength of 255 (a chain
 * of ~5,000 states) took 100 ms; here each splitter is a block and only
 * the smaller half of a split block is queued again, O(n C log n).
 *
 * Blocks are ranges of elems[] ([first, end)); the predecessors of state
 * t on class c are inv[off[c * (n + 1) + t] .. off[c * (n + 1) + t + 1]).
 * Marking a predecessor moves it to the front of its block; a block with
 * some but not all of its states marked splits there. */
typedef struct hop {
    uint32_t n, C;
    uint32_t *off, *inv;
    uint32_t *elems, *pos, *blk, *first, *end, *marked, *touched, *work, *splitter;
    uint8_t *in_work;
    uint32_t n_blk, n_work;
} hop;

static void hop_free(hop *h) {
    free(h->off), free(h->inv), free(h->elems), free(h->pos), free(h->blk), free(h->first), free(h->end);
    free(h->marked), free(h->touched), free(h->work), free(h->splitter), free(h->in_work);
}

static int hop_alloc(hop *h, uint32_t n, uint32_t C) {
    memset(h, 0, sizeof *h);
    h->n = n, h->C = C;
    size_t rows = (size_t)C * (n + 1) + 1;
    h->off = calloc(rows, sizeof *h->off);
    h->inv = malloc(((size_t)n * C + 1) * sizeof *h->inv);
    uint32_t **arr[] = {&h->elems, &h->pos, &h->blk, &h->first, &h->end, &h->touched, &h->work, &h->splitter};
    for (size_t k = 0; k < sizeof arr / sizeof *arr; k++) *arr[k] = malloc(((size_t)n + 1) * sizeof **arr[k]);
    h->marked = calloc((size_t)n + 1, sizeof *h->marked);
    h->in_work = calloc((size_t)n + 1, 1);
    int ok = h->off && h->inv && h->marked && h->in_work;
    for (size_t k = 0; k < sizeof arr / sizeof *arr; k++) ok = ok && *arr[k];
    return ok ? 0 : -1;
}

/* Predecessor lists: counting sort of (class, target) pairs. */
static void hop_inverse(hop *h, const sdfa *d) {
    uint32_t n = h->n, C = h->C;
    for (uint32_t s = 0; s < n; s++)
        for (uint32_t c = 0; c < C; c++) h->off[(size_t)c * (n + 1) + d->next[(size_t)s * C + c] + 1]++;
    for (size_t k = 1; k < (size_t)C * (n + 1) + 1; k++) h->off[k] += h->off[k - 1];
    for (uint32_t s = 0; s < n; s++) /* fill backwards from each list's end, then the ends are starts */
        for (uint32_t c = 0; c < C; c++) h->inv[--h->off[(size_t)c * (n + 1) + d->next[(size_t)s * C + c] + 1]] = s;
    /* off[k + 1] now holds list k's start; shift back so off[k] is its start */
    memmove(h->off, h->off + 1, (size_t)C * (n + 1) * sizeof *h->off);
    h->off[(size_t)C * (n + 1)] = n * C;
}

static void push_work(hop *h, uint32_t b) {
    if (h->in_work[b]) return;
    h->in_work[b] = 1;
    h->work[h->n_work++] = b;
}

/* Splits every block some but not all of whose states are marked. */
static void hop_split(hop *h, uint32_t n_touched) {
    for (uint32_t k = 0; k < n_touched; k++) {
        uint32_t y = h->touched[k], m = h->marked[y];
        h->marked[y] = 0;
        if (m == h->end[y] - h->first[y]) continue;
        uint32_t z = h->n_blk++; /* z: the marked front part */
        h->first[z] = h->first[y], h->end[z] = h->first[y] + m, h->first[y] += m;
        for (uint32_t i = h->first[z]; i < h->end[z]; i++) h->blk[h->elems[i]] = z;
        if (h->in_work[y]) push_work(h, z);
        else push_work(h, m <= h->end[y] - h->first[y] ? z : y);
    }
}

/* Refines by splitter states sp[0..n_sp) on every class. */
static void hop_refine(hop *h, const uint32_t *sp, uint32_t n_sp) {
    for (uint32_t c = 0; c < h->C; c++) {
        uint32_t n_touched = 0;
        for (uint32_t k = 0; k < n_sp; k++) {
            size_t row = (size_t)c * (h->n + 1) + sp[k];
            for (uint32_t i = h->off[row]; i < h->off[row + 1]; i++) {
                uint32_t s = h->inv[i], y = h->blk[s], at = h->first[y] + h->marked[y];
                if (h->pos[s] < at) continue; /* marked already */
                uint32_t other = h->elems[at];
                h->elems[at] = s, h->elems[h->pos[s]] = other;
                h->pos[other] = h->pos[s], h->pos[s] = at;
                if (h->marked[y]++ == 0) h->touched[n_touched++] = y;
            }
        }
        hop_split(h, n_touched);
    }
}

slm_status sdfa_minimize(sdfa *d, slm_error *err) {
    uint32_t n = d->n_st;
    hop h;
    if (hop_alloc(&h, n, d->n_cls) != 0) {
        hop_free(&h);
        return oom(err);
    }
    hop_inverse(&h, d);
    /* initial blocks: accepting or not, both queued */
    uint32_t k = 0;
    for (int a = 0; a < 2; a++) {
        uint32_t start = k;
        for (uint32_t s = 0; s < n; s++)
            if (d->acc[s] == a) h.pos[s] = k, h.elems[k++] = s;
        if (k == start) continue;
        uint32_t b = h.n_blk++;
        h.first[b] = start, h.end[b] = k;
        for (uint32_t i = start; i < k; i++) h.blk[h.elems[i]] = b;
        push_work(&h, b);
    }
    while (h.n_work) {
        uint32_t b = h.work[--h.n_work], n_sp = h.end[b] - h.first[b];
        h.in_work[b] = 0;
        /* a copy: marking reorders blocks, b's own range included */
        memcpy(h.splitter, h.elems + h.first[b], n_sp * sizeof *h.splitter);
        hop_refine(&h, h.splitter, n_sp);
    }
    /* block ids in order of each block's first state (state 0 in block 0) */
    uint32_t *cls = h.touched, *id = h.work, nb = 0;
    for (uint32_t b = 0; b < h.n_blk; b++) id[b] = UINT32_MAX;
    for (uint32_t s = 0; s < n; s++) {
        if (id[h.blk[s]] == UINT32_MAX) id[h.blk[s]] = nb++;
        cls[s] = id[h.blk[s]];
    }
    slm_status st = quotient(d, cls, nb, err);
    hop_free(&h);
    if (st == SLM_OK) merge_columns(d);
    return st;
}

void sdfa_complement(sdfa *d) {
    for (uint32_t s = 0; s < d->n_st; s++) d->acc[s] = !d->acc[s];
}

int sdfa_match(const sdfa *d, const char *utf8, size_t len) {
    const unsigned char *p = (const unsigned char *)utf8;
    uint32_t s = 0;
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
        if (i + (size_t)n > len) return 0;
        uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
        for (int k = 1; k < n; k++) cp = (cp << 6) | (p[i + k] & 0x3F);
        i += (size_t)n;
        if (cp >= CP_END) return 0;
        s = d->next[(size_t)s * d->n_cls + cls_at(d, cp)];
    }
    return d->acc[s];
}

/* live[s]: an accepting state is reachable from s. */
static uint8_t *live_states(const sdfa *d) {
    uint8_t *live = calloc(d->n_st ? d->n_st : 1, 1);
    if (!live) return NULL;
    for (uint32_t s = 0; s < d->n_st; s++) live[s] = d->acc[s];
    for (int changed = 1; changed;) { /* rows are few; iterate to a fixed point */
        changed = 0;
        for (uint32_t s = d->n_st; s-- > 0;) {
            if (live[s]) continue;
            for (uint32_t c = 0; c < d->n_cls; c++)
                if (live[d->next[(size_t)s * d->n_cls + c]]) {
                    live[s] = 1, changed = 1;
                    break;
                }
        }
    }
    return live;
}

int sdfa_is_empty(const sdfa *d) {
    uint8_t *live = live_states(d);
    int empty = !live || !live[0];
    free(live);
    return empty;
}

/* ---- products ------------------------------------------------------ */

static slm_status product(const sdfa *a, const sdfa *b, int op, sdfa *out, slm_error *err) {
    memset(out, 0, sizeof *out);
    if ((size_t)a->n_st * b->n_st > MAX_PRODUCT)
        return slm_error_set(err, SLM_ERR_UNSUPPORTED, "string constraints too complex to combine");
    uint32_t *cut = malloc(((size_t)a->n_cls + b->n_cls) * sizeof *cut);
    uint32_t *id = malloc((size_t)a->n_st * b->n_st * sizeof *id);
    uint32_t *pair = NULL;
    size_t cap_pair = 0, cap_next = 0, cap_acc = 0;
    slm_status st = SLM_OK;
    if (!cut || !id) goto nomem;
    memset(id, 0xFF, (size_t)a->n_st * b->n_st * sizeof *id);
    uint32_t C = 0, i = 0, k = 0;
    while (i < a->n_cls || k < b->n_cls) { /* merge the sorted cuts */
        uint32_t x = i < a->n_cls ? a->cut[i] : CP_END, y = k < b->n_cls ? b->cut[k] : CP_END;
        uint32_t m = x < y ? x : y;
        cut[C++] = m;
        if (x == m) i++;
        if (y == m) k++;
    }
    uint32_t *ca = malloc((size_t)C * 2 * sizeof *ca);
    if (!ca) goto nomem;
    for (uint32_t c = 0; c < C; c++) ca[2 * c] = cls_at(a, cut[c]), ca[2 * c + 1] = cls_at(b, cut[c]);
    uint32_t n = 0;
    if (grow_array((void **)&pair, &cap_pair, 2, sizeof *pair) != 0) goto nomem2;
    pair[0] = pair[1] = 0, id[0] = 0, n = 1;
    for (uint32_t s = 0; s < n; s++) {
        if (grow_array((void **)&out->next, &cap_next, ((size_t)s + 1) * C, sizeof *out->next) != 0 ||
            grow_array((void **)&out->acc, &cap_acc, (size_t)s + 1, 1) != 0)
            goto nomem2;
        uint32_t sa = pair[2 * s], sb = pair[2 * s + 1];
        int x = a->acc[sa], y = b->acc[sb];
        out->acc[s] = (uint8_t)(op == SDFA_AND ? x && y : op == SDFA_AND_NOT ? x && !y : x || y);
        for (uint32_t c = 0; c < C; c++) {
            uint32_t ta = a->next[(size_t)sa * a->n_cls + ca[2 * c]], tb = b->next[(size_t)sb * b->n_cls + ca[2 * c + 1]];
            size_t key = (size_t)ta * b->n_st + tb;
            if (id[key] == UINT32_MAX) {
                if (n >= SDFA_MAX_STATES) {
                    st = slm_error_set(err, SLM_ERR_UNSUPPORTED, "string constraints need more than %d automaton states", SDFA_MAX_STATES);
                    goto fail;
                }
                if (grow_array((void **)&pair, &cap_pair, 2 * ((size_t)n + 1), sizeof *pair) != 0) goto nomem2;
                pair[2 * n] = ta, pair[2 * n + 1] = tb, id[key] = n++;
            }
            out->next[(size_t)s * C + c] = id[key];
        }
    }
    out->n_st = n, out->n_cls = C, out->cut = cut;
    free(ca), free(id), free(pair);
    return sdfa_minimize(out, err);
nomem2:
    st = oom(err);
fail:
    free(ca);
    goto cleanup;
nomem:
    st = oom(err);
cleanup:
    free(cut), free(id), free(pair);
    sdfa_free(out);
    return st;
}

slm_status sdfa_product(const sdfa *a, const sdfa *b, int op, sdfa *out, slm_error *err) {
    return product(a, b, op, out, err);
}

slm_status sdfa_length(const sdfa *a, long long lo, long long hi, sdfa *out, slm_error *err) {
    memset(out, 0, sizeof *out);
    long long top = hi >= 0 ? hi + 1 : lo; /* hi + 1 = too long (dead) */
    if (top + 1 > SDFA_MAX_STATES)
        return slm_error_set(err, SLM_ERR_UNSUPPORTED, "string length limits above %d with a pattern", SDFA_MAX_STATES - 2);
    sdfa cnt = {0};
    uint32_t n = (uint32_t)top + 1;
    cnt.cut = malloc(3 * sizeof *cnt.cut);
    cnt.next = malloc((size_t)n * 3 * sizeof *cnt.next);
    cnt.acc = malloc(n);
    if (!cnt.cut || !cnt.next || !cnt.acc) {
        sdfa_free(&cnt);
        return oom(err);
    }
    cnt.cut[0] = 0, cnt.cut[1] = 0xD800, cnt.cut[2] = 0xE000;
    cnt.n_cls = 3, cnt.n_st = n;
    for (uint32_t s = 0; s < n; s++) {
        uint32_t t = s + 1 < n ? s + 1 : s;
        cnt.next[s * 3] = cnt.next[s * 3 + 2] = t;
        cnt.next[s * 3 + 1] = hi >= 0 ? n - 1 : s; /* surrogates: never written */
        cnt.acc[s] = (long long)s >= lo && (hi < 0 || (long long)s <= hi);
    }
    if (!a) {
        *out = cnt;
        return SLM_OK;
    }
    slm_status st = product(a, &cnt, SDFA_AND, out, err);
    sdfa_free(&cnt);
    return st;
}

/* ---- GBNF ------------------------------------------------------------ */

typedef struct tc {
    uint32_t t, c;
} tc;

static int cmp_tc(const void *x, const void *y) {
    const tc *p = x, *q = y;
    if (p->t != q->t) return (p->t > q->t) - (p->t < q->t);
    return (p->c > q->c) - (p->c < q->c);
}

/* Ranges of the classes row[k0..k1) (one target), surrogates cut out. */
static size_t class_ranges(const sdfa *d, const tc *row, size_t k0, size_t k1, gb_range *r) {
    size_t n = 0;
    for (size_t k = k0; k < k1; k++) {
        uint32_t c = row[k].c, lo = d->cut[c], hi = c + 1 < d->n_cls ? d->cut[c + 1] - 1 : CP_END - 1;
        if (lo >= 0xD800 && hi <= 0xDFFF) continue;
        if (n && r[n - 1].hi + 1 == lo) r[n - 1].hi = hi;
        else r[n++] = (gb_range){lo, hi};
    }
    return n;
}

static unsigned gen_sdfa(jsg *j, const sdfa *d, int quoted);

unsigned js_gen_sdfa(jsg *j, const sdfa *d) { return gen_sdfa(j, d, 1); }
unsigned js_gen_sdfa_raw(jsg *j, const sdfa *d) { return gen_sdfa(j, d, 0); }

static unsigned gen_sdfa(jsg *j, const sdfa *d, int quoted) {
    if (j->st) return 0;
    uint8_t *live = live_states(d);
    unsigned *ids = calloc(d->n_st ? d->n_st : 1, sizeof *ids);
    tc *row = malloc(((size_t)d->n_cls + 1) * sizeof *row);
    gb_range *rr = malloc(((size_t)d->n_cls + 1) * sizeof *rr);
    unsigned id = 0;
    if (!live || !ids || !row || !rr) {
        js_fail(j, SLM_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (!live[0]) {
        id = 2;
        goto done;
    }
    for (uint32_t s = 0; s < d->n_st; s++)
        if (live[s]) ids[s] = js_new_id(j);
    for (uint32_t s = 0; s < d->n_st && !j->st; s++) {
        if (!live[s]) continue;
        size_t n = 0;
        for (uint32_t c = 0; c < d->n_cls; c++) {
            uint32_t t = d->next[(size_t)s * d->n_cls + c];
            if (live[t]) row[n++] = (tc){t, c};
        }
        qsort(row, n, sizeof *row, cmp_tc);
        gstr body = {0};
        int first = 1;
        if (d->acc[s]) gstr_puts(&body, quoted ? "\"\\\"\"" : "\"\""), first = 0;
        for (size_t k = 0; k < n;) {
            size_t e = k;
            while (e < n && row[e].t == row[k].t) e++;
            size_t nr = class_ranges(d, row, k, e, rr);
            if (nr) {
                gstr_puts(&body, first ? "" : " | ");
                regex_json_set(&body, rr, nr);
                gstr_printf(&body, " r%u", ids[row[k].t]);
                first = 0;
            }
            k = e;
        }
        if (first) gstr_puts(&body, "[^\\x00-\\U0010FFFF]");
        if (body.oom) js_fail(j, SLM_ERR_NOMEM, "out of memory");
        else js_define(j, ids[s], body.p);
        gstr_free(&body);
    }
    if (!j->st) {
        char b[48];
        snprintf(b, sizeof b, quoted ? "\"\\\"\" r%u" : "r%u", ids[0]);
        id = js_rule(j, b);
    }
done:
    free(live), free(ids), free(row), free(rr);
    return j->st ? 0 : id;
}
