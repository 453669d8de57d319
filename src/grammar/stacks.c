/* Parse-stack arena and the byte step of the pushdown matcher (see
 * matcher_internal.h for the frame representation).
 *
 * expand(pos, parent) brings a stack to a state whose top is a byte test:
 *   GE_BYTES  -> the stack (pos, parent) is a result
 *   GE_REF r  -> push the return position (skipped when the call is the
 *                last item of its alternative: tail calls keep x* flat)
 *                and expand every alternative of r
 *   GE_ALT/END-> the rule is finished: continue in the parent frame, or
 *                report the empty stack (grammar complete)
 * Every (frame) is expanded at most once per step, which bounds the work
 * even for grammars with many nullable rules. */
#include <string.h>

#include "grammar/matcher_internal.h"

#define MAX_EXPAND_DEPTH 2000

int u32vec_push(u32vec *v, uint32_t x) {
    if (v->n == v->cap && grow_array((void **)&v->p, &v->cap, v->n + 1, sizeof *v->p) != 0) return -1;
    v->p[v->n++] = x;
    return 0;
}

static void set_fail(garena *a, slm_status code, const char *msg) {
    if (a->failed) return;
    a->failed = 1;
    a->fail_code = code;
    strncpy(a->fail_msg, msg, sizeof a->fail_msg - 1);
    a->fail_msg[sizeof a->fail_msg - 1] = '\0';
}

static uint32_t hash_frame(uint32_t pos, uint32_t parent) {
    uint64_t h = ((uint64_t)pos << 32 | parent) * 0x9E3779B97F4A7C15ull;
    return (uint32_t)(h >> 32);
}

static int rehash(garena *a, size_t nb) {
    uint32_t *b = calloc(nb, sizeof *b);
    if (!b) return -1;
    for (size_t i = 1; i < a->n; i++) {
        uint32_t h = hash_frame(a->f[i].pos, a->f[i].parent) & (uint32_t)(nb - 1);
        a->f[i].next = b[h];
        b[h] = (uint32_t)i;
    }
    free(a->bucket);
    a->bucket = b;
    a->n_bucket = nb;
    return 0;
}

int garena_init(garena *a) {
    memset(a, 0, sizeof *a);
    a->cap = 1024;
    a->f = calloc(a->cap, sizeof *a->f);
    a->seen_exp = calloc(a->cap, sizeof *a->seen_exp);
    a->seen_set = calloc(a->cap, sizeof *a->seen_set);
    a->dist = calloc(a->cap, sizeof *a->dist);
    a->n = 1; /* frame 0: the empty stack */
    a->epoch = 1;
    if (!a->f || !a->seen_exp || !a->seen_set || !a->dist || rehash(a, 1024) != 0) {
        garena_free(a);
        return -1;
    }
    return 0;
}

void garena_free(garena *a) {
    free(a->f);
    free(a->bucket);
    free(a->seen_exp);
    free(a->seen_set);
    free(a->dist);
    a->f = NULL;
    a->bucket = a->seen_exp = a->seen_set = a->dist = NULL;
}

static int grow(garena *a) {
    size_t nc = a->cap * 2;
    gframe *f = realloc(a->f, nc * sizeof *f);
    if (!f) return -1;
    a->f = f;
    uint32_t *s1 = realloc(a->seen_exp, nc * sizeof *s1);
    if (!s1) return -1;
    a->seen_exp = s1;
    uint32_t *s2 = realloc(a->seen_set, nc * sizeof *s2);
    if (!s2) return -1;
    a->seen_set = s2;
    uint32_t *s3 = realloc(a->dist, nc * sizeof *s3);
    if (!s3) return -1;
    a->dist = s3;
    a->cap = nc;
    return 0;
}

uint32_t garena_intern(garena *a, uint32_t pos, uint32_t parent) {
    uint32_t h = hash_frame(pos, parent) & (uint32_t)(a->n_bucket - 1);
    for (uint32_t i = a->bucket[h]; i; i = a->f[i].next)
        if (a->f[i].pos == pos && a->f[i].parent == parent) return i;
    if (a->n >= SLM_GRAMMAR_MAX_FRAMES) {
        set_fail(a, SLM_ERR_NOMEM, "grammar matcher: too many parse stack frames");
        return 0;
    }
    if (a->n == a->cap && grow(a) != 0) {
        set_fail(a, SLM_ERR_NOMEM, "grammar matcher: out of memory");
        return 0;
    }
    uint32_t id = (uint32_t)a->n++;
    a->f[id] = (gframe){pos, parent, a->bucket[h]};
    a->bucket[h] = id;
    a->seen_exp[id] = a->seen_set[id] = 0;
    a->dist[id] = GDIST_UNKNOWN;
    if (a->n > a->n_bucket * 2 && rehash(a, a->n_bucket * 4) != 0) {
        set_fail(a, SLM_ERR_NOMEM, "grammar matcher: out of memory");
        return 0;
    }
    return id;
}

/* Frames are removed newest first, so each one is the head of its chain. */
void garena_rollback(garena *a, size_t mark) {
    while (a->n > mark) {
        uint32_t id = (uint32_t)--a->n;
        uint32_t h = hash_frame(a->f[id].pos, a->f[id].parent) & (uint32_t)(a->n_bucket - 1);
        a->bucket[h] = a->f[id].next;
    }
}

void gstep_begin(garena *a) {
    if (++a->epoch == 0) { /* wrapped: clear all stamps */
        memset(a->seen_exp, 0, a->cap * sizeof *a->seen_exp);
        memset(a->seen_set, 0, a->cap * sizeof *a->seen_set);
        a->epoch = 1;
    }
    a->seen_set[0] = 0;
}

static void add_top(garena *a, uint32_t id, u32vec *out) {
    if (a->seen_set[id] == a->epoch) return;
    a->seen_set[id] = a->epoch;
    if (out->n >= SLM_GRAMMAR_MAX_STACKS) {
        set_fail(a, SLM_ERR_NOMEM, "grammar matcher: too many parse stacks (ambiguous grammar)");
        return;
    }
    if (u32vec_push(out, id) != 0) set_fail(a, SLM_ERR_NOMEM, "grammar matcher: out of memory");
}

static void expand(garena *a, const slm_grammar *g, uint32_t pos, uint32_t parent, u32vec *out);

/* Continue after a finished rule in frame `ret` (0: the grammar is done). */
static void expand_return(garena *a, const slm_grammar *g, uint32_t ret, u32vec *out) {
    if (ret == 0) {
        add_top(a, 0, out);
        return;
    }
    /* return frames always sit on a GE_REF or GE_BYTES element, whose
     * expansion dedupes itself */
    expand(a, g, a->f[ret].pos, a->f[ret].parent, out);
}

static void expand(garena *a, const slm_grammar *g, uint32_t pos, uint32_t parent, u32vec *out) {
    if (a->failed) return;
    if (++a->depth > MAX_EXPAND_DEPTH) {
        set_fail(a, SLM_ERR_NOMEM, "grammar matcher: rules nested too deeply");
        a->depth--;
        return;
    }
    gelem e = g->el[pos];
    if (e.type == GE_BYTES) {
        uint32_t id = garena_intern(a, pos, parent);
        if (id) add_top(a, id, out);
    } else if (e.type != GE_REF) {
        expand_return(a, g, parent, out);
    } else {
        uint32_t next = pos + 1, ret = parent;
        if (g->el[next].type > GE_ALT) {
            ret = garena_intern(a, next, parent);
            if (ret == 0) goto out;
        }
        /* the call is keyed by the frame (pos, parent): same call, same result */
        uint32_t key = garena_intern(a, pos, parent);
        if (key == 0 || a->seen_exp[key] == a->epoch) goto out;
        a->seen_exp[key] = a->epoch;
        for (uint32_t k = g->alt_off[e.val]; k < g->alt_off[e.val + 1] && !a->failed; k++)
            expand(a, g, g->alt_pos[k], ret, out);
    }
out:
    a->depth--;
}

void gstep_start(garena *a, const slm_grammar *g, u32vec *out) {
    for (uint32_t k = g->alt_off[g->root]; k < g->alt_off[g->root + 1] && !a->failed; k++)
        expand(a, g, g->alt_pos[k], 0, out);
}

void gstep_advance(garena *a, const slm_grammar *g, const uint32_t *in, size_t n, uint8_t c,
                   u32vec *out) {
    for (size_t i = 0; i < n && !a->failed; i++) {
        uint32_t t = in[i];
        if (t == 0) continue;
        uint32_t pos = a->f[t].pos;
        if (!gbyteset_has(&g->sets[g->el[pos].val], c)) continue;
        expand(a, g, pos + 1, a->f[t].parent, out);
    }
}

int garena_compact(garena *a, uint32_t *tops, size_t n) {
    garena b;
    if (garena_init(&b) != 0) return -1;
    uint32_t *map = calloc(a->n, sizeof *map);
    u32vec chain = {0};
    int rc = map ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        chain.n = 0;
        for (uint32_t t = tops[i]; t && !map[t]; t = a->f[t].parent)
            if (u32vec_push(&chain, t) != 0) rc = -1;
        while (chain.n && rc == 0) { /* bottom-most unmapped frame first */
            uint32_t t = chain.p[--chain.n];
            uint32_t np = a->f[t].parent ? map[a->f[t].parent] : 0;
            map[t] = garena_intern(&b, a->f[t].pos, np);
            if (!map[t]) rc = -1;
        }
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) tops[i] = tops[i] ? map[tops[i]] : 0;
        b.epoch = 1;
        garena_free(a);
        *a = b;
    } else {
        garena_free(&b);
    }
    free(map);
    free(chain.p);
    return rc;
}
