/* gen_model_bench: writes a random-weight llama-architecture GGUF model of a
 * realistic shape, for speed comparisons when no real or zoo model is at
 * hand. The tokenizer is copied (every tokenizer.* key, byte for byte) from
 * a vocabulary GGUF such as ../shared/vocab/ggml-vocab-llama-spm.gguf, so
 * llama.cpp and slm both accept the file and tokenize prompts the same way.
 * Matrices are F16 or F32; llama.cpp's llama-quantize turns the file into
 * Q4_K_M / Q8_0. Main data structure: gen_opts, the model's shape.
 *
 * usage: gen_model_bench OUT.gguf VOCAB.gguf [--dim N] [--layers N]
 *        [--heads N] [--kv-heads N] [--ff N] [--ctx N] [--f32] [--seed N] */
#include "slm/gguf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gen_opts {
    const char *out, *vocab;
    int64_t dim, layers, heads, kv_heads, ff, ctx;
    slm_dtype wtype; /* type of the 2-D weight matrices */
    uint64_t seed;
} gen_opts;

/* splitmix64: a small, fast, seedable generator; quality is ample here. */
static uint64_t next_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [-a, a). */
static float uniform(uint64_t *s, float a) {
    double u = (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0);
    return (float)((2.0 * u - 1.0) * a);
}

/* ---- tokenizer copy -------------------------------------------------- */

static size_t vtype_size(slm_gguf_vtype t) {
    switch (t) {
    case SLM_GGUF_UINT8: case SLM_GGUF_INT8: case SLM_GGUF_BOOL: return 1;
    case SLM_GGUF_UINT16: case SLM_GGUF_INT16: return 2;
    case SLM_GGUF_UINT32: case SLM_GGUF_INT32: case SLM_GGUF_FLOAT32: return 4;
    case SLM_GGUF_UINT64: case SLM_GGUF_INT64: case SLM_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

/* A growable byte buffer for serialised values. */
typedef struct buf { unsigned char *p; size_t len, cap; bool oom; } buf;

static void put(buf *b, const void *src, size_t n) {
    if (b->oom) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n) cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) { b->oom = true; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

/* Serialises an array value as it appears in the file after its type id:
 * u32 element type, u64 count, elements. Nested arrays are not needed for
 * tokenizers and are rejected. */
static bool serialise_array(const slm_gguf_array *a, buf *b) {
    uint32_t et = (uint32_t)a->elem_type;
    put(b, &et, 4);
    put(b, &a->n, 8);
    if (a->elem_type == SLM_GGUF_STRING) {
        for (uint64_t i = 0; i < a->n; i++) {
            slm_str s;
            if (!slm_gguf_arr_str(a, i, &s)) return false;
            put(b, &s.len, 8);
            put(b, s.ptr, s.len);
        }
        return !b->oom;
    }
    size_t es = vtype_size(a->elem_type);
    const void *data = slm_gguf_arr_data(a);
    if (!es || !data) return false;
    put(b, data, es * a->n);
    return !b->oom;
}

/* Copies one scalar or array value by index. */
static slm_status copy_kv(const slm_gguf *g, int64_t i, slm_gguf_writer *w) {
    const char *key = slm_gguf_kv_key(g, i);
    slm_gguf_vtype t = slm_gguf_kv_type(g, i);
    buf b = {0};
    slm_status st = SLM_ERR_FORMAT;
    if (t == SLM_GGUF_ARRAY) {
        slm_gguf_array a;
        if (slm_gguf_kv_arr(g, i, &a) && serialise_array(&a, &b))
            st = slm_gguf_writer_set_raw(w, key, t, b.p, b.len);
    } else if (t == SLM_GGUF_STRING) {
        slm_str s;
        if (slm_gguf_kv_str(g, i, &s)) {
            put(&b, &s.len, 8);
            put(&b, s.ptr, s.len);
            if (!b.oom) st = slm_gguf_writer_set_raw(w, key, t, b.p, b.len);
        }
    } else if (t == SLM_GGUF_FLOAT32 || t == SLM_GGUF_FLOAT64) {
        double v;
        if (slm_gguf_kv_float(g, i, &v))
            st = t == SLM_GGUF_FLOAT32 ? slm_gguf_writer_set_f32(w, key, (float)v)
                                       : slm_gguf_writer_set_f64(w, key, v);
    } else if (t == SLM_GGUF_BOOL) {
        bool v;
        if (slm_gguf_kv_bool(g, i, &v)) st = slm_gguf_writer_set_bool(w, key, v);
    } else {
        int64_t v;
        uint64_t u;
        if (slm_gguf_kv_int(g, i, &v)) st = slm_gguf_writer_set_int(w, key, t, v);
        else if (slm_gguf_kv_uint(g, i, &u)) st = slm_gguf_writer_set_uint(w, key, t, u);
    }
    free(b.p);
    return st;
}

/* Copies every tokenizer.* key; returns the vocabulary size in *n_vocab. */
static slm_status copy_tokenizer(const char *path, slm_gguf_writer *w, int64_t *n_vocab) {
    slm_error err;
    slm_gguf *g;
    if (slm_gguf_open(path, &g, &err) != SLM_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return err.code;
    }
    slm_gguf_array tokens;
    slm_status st = SLM_OK;
    if (!slm_gguf_get_arr(g, "tokenizer.ggml.tokens", &tokens)) {
        fprintf(stderr, "%s: no tokenizer.ggml.tokens\n", path);
        st = SLM_ERR_FORMAT;
    }
    *n_vocab = st == SLM_OK ? (int64_t)tokens.n : 0;
    for (int64_t i = 0; st == SLM_OK && i < slm_gguf_n_kv(g); i++) {
        if (strncmp(slm_gguf_kv_key(g, i), "tokenizer.", 10) != 0) continue;
        st = copy_kv(g, i, w);
        if (st != SLM_OK) fprintf(stderr, "cannot copy %s\n", slm_gguf_kv_key(g, i));
    }
    slm_gguf_close(g);
    return st;
}

/* ---- weights --------------------------------------------------------- */

/* Adds a tensor of ne0 x ne1 values uniform in [-a, a) (or all `a` when
 * constant), stored as `type` (F32 or F16). */
static slm_status add_tensor(slm_gguf_writer *w, uint64_t *rng, const char *name, slm_dtype type,
                             int64_t ne0, int64_t ne1, float a, bool constant) {
    size_t n = (size_t)ne0 * (size_t)ne1, es = type == SLM_TYPE_F16 ? 2 : 4;
    unsigned char *data = malloc(n * es);
    if (!data) return SLM_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        float v = constant ? a : uniform(rng, a);
        if (type == SLM_TYPE_F16) {
            slm_f16 h = slm_f32_to_f16(v);
            memcpy(data + 2 * i, &h, 2);
        } else {
            memcpy(data + 4 * i, &v, 4);
        }
    }
    int64_t ne[2] = {ne0, ne1};
    slm_status st = slm_gguf_writer_add_tensor(w, name, type, ne1 > 1 ? 2 : 1, ne, data, n * es);
    free(data);
    if (st != SLM_OK) fprintf(stderr, "cannot add tensor %s\n", name);
    return st;
}

/* Uniform bound giving a standard deviation of gain / sqrt(fan_in), so
 * activations keep a sane scale through the layers. */
static float bound(int64_t fan_in, float gain) { return gain * sqrtf(3.0f / (float)fan_in); }

static slm_status add_layer(slm_gguf_writer *w, uint64_t *rng, const gen_opts *o, int il) {
    const int64_t d = o->dim, kvd = o->dim / o->heads * o->kv_heads, f = o->ff;
    struct { const char *name; int64_t ne0, ne1; float a; bool constant; } t[] = {
        {"attn_norm.weight", d, 1, 1.0f, true},
        {"attn_q.weight", d, d, bound(d, 1.0f), false},
        {"attn_k.weight", d, kvd, bound(d, 1.0f), false},
        {"attn_v.weight", d, kvd, bound(d, 1.0f), false},
        {"attn_output.weight", d, d, bound(d, 0.5f), false},
        {"ffn_norm.weight", d, 1, 1.0f, true},
        {"ffn_gate.weight", d, f, bound(d, 1.0f), false},
        {"ffn_up.weight", d, f, bound(d, 1.0f), false},
        {"ffn_down.weight", f, d, bound(f, 0.5f), false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.%s", il, t[i].name);
        slm_dtype type = t[i].ne1 > 1 ? o->wtype : SLM_TYPE_F32;
        slm_status st = add_tensor(w, rng, name, type, t[i].ne0, t[i].ne1, t[i].a, t[i].constant);
        if (st != SLM_OK) return st;
    }
    return SLM_OK;
}

static slm_status add_hparams(slm_gguf_writer *w, const gen_opts *o, int64_t n_vocab) {
    slm_status st = slm_gguf_writer_set_str(w, "general.architecture", "llama");
    if (st == SLM_OK) st = slm_gguf_writer_set_str(w, "general.name", "slm-bench-random");
    if (st == SLM_OK) st = slm_gguf_writer_set_uint(w, "general.file_type", SLM_GGUF_UINT32,
                                                    o->wtype == SLM_TYPE_F16 ? 1 : 0);
    struct { const char *key; int64_t v; } u[] = {
        {"llama.context_length", o->ctx}, {"llama.embedding_length", o->dim},
        {"llama.block_count", o->layers}, {"llama.feed_forward_length", o->ff},
        {"llama.attention.head_count", o->heads}, {"llama.attention.head_count_kv", o->kv_heads},
        {"llama.rope.dimension_count", o->dim / o->heads}, {"llama.vocab_size", n_vocab},
    };
    for (size_t i = 0; st == SLM_OK && i < sizeof u / sizeof u[0]; i++)
        st = slm_gguf_writer_set_uint(w, u[i].key, SLM_GGUF_UINT32, (uint64_t)u[i].v);
    if (st == SLM_OK) st = slm_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    if (st == SLM_OK) st = slm_gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f);
    return st;
}

static slm_status build(slm_gguf_writer *w, const gen_opts *o) {
    int64_t n_vocab = 0;
    uint64_t rng = o->seed;
    slm_status st = copy_tokenizer(o->vocab, w, &n_vocab);
    if (st == SLM_OK) st = add_hparams(w, o, n_vocab);
    /* Embeddings of unit scale; output rows scaled so logits spread over a
     * few units and greedy choices are not near-ties. */
    if (st == SLM_OK) st = add_tensor(w, &rng, "token_embd.weight", o->wtype, o->dim, n_vocab, 1.0f, false);
    for (int il = 0; st == SLM_OK && il < o->layers; il++) st = add_layer(w, &rng, o, il);
    if (st == SLM_OK) st = add_tensor(w, &rng, "output_norm.weight", SLM_TYPE_F32, o->dim, 1, 1.0f, true);
    if (st == SLM_OK) st = add_tensor(w, &rng, "output.weight", o->wtype, o->dim, n_vocab, bound(o->dim, 3.0f), false);
    return st;
}

/* ---- command line ---------------------------------------------------- */

static bool parse_args(int argc, char **argv, gen_opts *o) {
    *o = (gen_opts){.dim = 2048, .layers = 8, .heads = 32, .kv_heads = 4, .ff = 5632,
                    .ctx = 4096, .wtype = SLM_TYPE_F16, .seed = 42};
    if (argc < 3) return false;
    o->out = argv[1];
    o->vocab = argv[2];
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        int64_t *dst = !strcmp(a, "--dim") ? &o->dim : !strcmp(a, "--layers") ? &o->layers
                     : !strcmp(a, "--heads") ? &o->heads : !strcmp(a, "--kv-heads") ? &o->kv_heads
                     : !strcmp(a, "--ff") ? &o->ff : !strcmp(a, "--ctx") ? &o->ctx
                     : !strcmp(a, "--seed") ? (int64_t *)&o->seed : NULL;
        if (!strcmp(a, "--f32")) { o->wtype = SLM_TYPE_F32; continue; }
        if (!dst || i + 1 >= argc) return false;
        char *end;
        long long v = strtoll(argv[++i], &end, 10);
        if (*end || v <= 0 || v > (1LL << 20)) return false;
        *dst = v;
    }
    return o->dim % o->heads == 0 && o->heads % o->kv_heads == 0 && (o->dim / o->heads) % 2 == 0 &&
           o->dim % 256 == 0 && o->ff % 256 == 0; /* k-quants need rows of 256 */
}

int main(int argc, char **argv) {
    gen_opts o;
    if (!parse_args(argc, argv, &o)) {
        fprintf(stderr, "usage: %s OUT.gguf VOCAB.gguf [--dim N] [--layers N] [--heads N] "
                        "[--kv-heads N] [--ff N] [--ctx N] [--f32] [--seed N]\n"
                        "(dim and ff multiples of 256; heads divide dim; kv-heads divide heads)\n",
                argv[0]);
        return 2;
    }
    slm_gguf_writer *w = slm_gguf_writer_new();
    if (!w) return 1;
    slm_error err = {0};
    slm_status st = build(w, &o);
    if (st == SLM_OK) st = slm_gguf_writer_write_file(w, o.out, &err);
    slm_gguf_writer_free(w);
    if (st != SLM_OK) {
        fprintf(stderr, "gen_model_bench: %s %s\n", slm_status_name(st), err.msg);
        return 1;
    }
    printf("wrote %s: llama, dim %lld, %lld layers, %lld/%lld heads, ff %lld, %s\n", o.out,
           (long long)o.dim, (long long)o.layers, (long long)o.heads, (long long)o.kv_heads,
           (long long)o.ff, o.wtype == SLM_TYPE_F16 ? "F16" : "F32");
    return 0;
}
