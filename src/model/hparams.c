/* Reads a model's hyper-parameters from GGUF metadata ("ARCH.key" names)
 * and checks they are consistent before any memory is sized from them. */
#include "model_internal.h"

#include <stdio.h>
#include <string.h>

static const char *ARCH_NAMES[SLM_ARCH_COUNT] = {"llama", "qwen2", "qwen3", "phi3"};

const char *slm_arch_supported(void) { return "llama, qwen2, qwen3, phi3"; }
const char *slm_arch_name(slm_arch a) { return a < SLM_ARCH_COUNT ? ARCH_NAMES[a] : "unknown"; }

static bool arch_key(const slm_hparams *hp, const char *suffix, char *buf, size_t cap) {
    return (size_t)snprintf(buf, cap, "%s.%s", hp->arch_name, suffix) < cap;
}

/* Required integer in [lo, hi]. */
static slm_status get_int(const slm_gguf *g, const slm_hparams *hp, const char *suffix, bool required,
                          int64_t lo, int64_t hi, int32_t *out, slm_error *err) {
    char key[128];
    int64_t v;
    arch_key(hp, suffix, key, sizeof key);
    if (!slm_gguf_get_int(g, key, &v)) {
        if (!required) return SLM_OK;
        return slm_error_set(err, SLM_ERR_FORMAT, "%s: missing or non-integer metadata key %s",
                             slm_gguf_path(g), key);
    }
    if (v < lo || v > hi)
        return slm_error_set(err, SLM_ERR_FORMAT, "%s: %s = %lld is out of range [%lld, %lld]",
                             slm_gguf_path(g), key, (long long)v, (long long)lo, (long long)hi);
    *out = (int32_t)v;
    return SLM_OK;
}

static float get_float(const slm_gguf *g, const slm_hparams *hp, const char *suffix, float dflt) {
    char key[128];
    double v;
    arch_key(hp, suffix, key, sizeof key);
    return slm_gguf_get_float(g, key, &v) ? (float)v : dflt;
}

static slm_status load_arch(const slm_gguf *g, slm_hparams *hp, slm_error *err) {
    slm_str s;
    if (!slm_gguf_get_str(g, "general.architecture", &s))
        return slm_error_set(err, SLM_ERR_FORMAT, "%s: missing general.architecture", slm_gguf_path(g));
    for (int a = 0; a < SLM_ARCH_COUNT; a++) {
        if (s.len == strlen(ARCH_NAMES[a]) && memcmp(s.ptr, ARCH_NAMES[a], s.len) == 0) {
            hp->arch = (slm_arch)a;
            snprintf(hp->arch_name, sizeof hp->arch_name, "%s", ARCH_NAMES[a]);
            return SLM_OK;
        }
    }
    return slm_error_set(err, SLM_ERR_UNSUPPORTED,
                         "%s: architecture '%.*s' is not supported (supported: %s)", slm_gguf_path(g),
                         (int)(s.len > 64 ? 64 : s.len), s.ptr, slm_arch_supported());
}

static slm_status load_rope(const slm_gguf *g, slm_hparams *hp, slm_error *err) {
    int32_t n_rot = hp->head_dim;
    slm_status st = get_int(g, hp, "rope.dimension_count", false, 2, hp->head_dim, &n_rot, err);
    if (st != SLM_OK) return st;
    if (n_rot % 2 != 0)
        return slm_error_set(err, SLM_ERR_FORMAT, "%s: rope.dimension_count %d is odd", slm_gguf_path(g), n_rot);
    bool neox = hp->arch != SLM_ARCH_LLAMA; /* qwen2, qwen3, phi3 rotate halves */
    slm_rope_params_default(&hp->rope, n_rot, get_float(g, hp, "rope.freq_base", 10000.0f), neox);
    char key[128];
    slm_str type;
    arch_key(hp, "rope.scaling.type", key, sizeof key);
    float factor = get_float(g, hp, "rope.scaling.factor", 0.0f);
    if (factor <= 0.0f) factor = 1.0f / get_float(g, hp, "rope.scale_linear", 1.0f);
    else factor = 1.0f / factor;
    hp->rope.freq_scale = factor;
    int32_t orig = hp->n_ctx_train;
    get_int(g, hp, "rope.scaling.original_context_length", false, 1, INT32_MAX, &orig, NULL);
    hp->rope.n_ctx_orig = orig;
    hp->rope.attn_factor = get_float(g, hp, "rope.scaling.attn_factor", 1.0f);
    if (slm_gguf_get_str(g, key, &type)) {
        if (type.len == 6 && memcmp(type.ptr, "linear", 6) == 0) hp->rope.scaling = SLM_ROPE_SCALING_LINEAR;
        else if (type.len == 4 && memcmp(type.ptr, "yarn", 4) == 0) hp->rope.scaling = SLM_ROPE_SCALING_YARN;
        else if (type.len == 4 && memcmp(type.ptr, "none", 4) == 0) hp->rope.scaling = SLM_ROPE_SCALING_NONE;
        else
            return slm_error_set(err, SLM_ERR_UNSUPPORTED, "%s: rope scaling type '%.*s' is not supported",
                                 slm_gguf_path(g), (int)(type.len > 32 ? 32 : type.len), type.ptr);
    } else if (hp->rope.freq_scale != 1.0f) {
        hp->rope.scaling = SLM_ROPE_SCALING_LINEAR;
    }
    return SLM_OK;
}

slm_status slm_hparams_load(const slm_gguf *g, slm_hparams *hp, slm_error *err) {
    memset(hp, 0, sizeof *hp);
    slm_status st = load_arch(g, hp, err);
    const int32_t big = 1 << 20;
    if (st == SLM_OK) st = get_int(g, hp, "context_length", true, 1, INT32_MAX, &hp->n_ctx_train, err);
    if (st == SLM_OK) st = get_int(g, hp, "embedding_length", true, 1, big, &hp->n_embd, err);
    if (st == SLM_OK) st = get_int(g, hp, "block_count", true, 1, 4096, &hp->n_layer, err);
    if (st == SLM_OK) st = get_int(g, hp, "feed_forward_length", true, 1, big, &hp->n_ff, err);
    if (st == SLM_OK) st = get_int(g, hp, "attention.head_count", true, 1, 4096, &hp->n_head, err);
    if (st != SLM_OK) return st;
    hp->n_head_kv = hp->n_head;
    st = get_int(g, hp, "attention.head_count_kv", false, 1, hp->n_head, &hp->n_head_kv, err);
    if (st != SLM_OK) return st;
    if (hp->n_head % hp->n_head_kv != 0)
        return slm_error_set(err, SLM_ERR_FORMAT, "%s: head_count %d is not a multiple of head_count_kv %d",
                             slm_gguf_path(g), hp->n_head, hp->n_head_kv);
    hp->head_dim = hp->n_embd / hp->n_head;
    if (hp->head_dim > 1024 || hp->head_dim < 1)
        return slm_error_set(err, SLM_ERR_UNSUPPORTED, "%s: head dimension %d is out of range [1, 1024]",
                             slm_gguf_path(g), hp->head_dim);
    /* head_dim sizes per-thread stack buffers in attention: keep it sane */
    st = get_int(g, hp, "attention.key_length", false, 1, 1024, &hp->head_dim, err);
    if (st != SLM_OK) return st;
    int32_t vlen = hp->head_dim;
    st = get_int(g, hp, "attention.value_length", false, 1, 1024, &vlen, err);
    if (st != SLM_OK) return st;
    if (vlen != hp->head_dim)
        return slm_error_set(err, SLM_ERR_UNSUPPORTED, "%s: key_length %d != value_length %d is not supported",
                             slm_gguf_path(g), hp->head_dim, vlen);
    hp->norm_eps = get_float(g, hp, "attention.layer_norm_rms_epsilon", 1e-5f);
    return load_rope(g, hp, err);
}
