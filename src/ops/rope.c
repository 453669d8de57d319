/* Rotary position embeddings: normal (adjacent pairs) and NeoX (split
 * halves) orderings, with linear, YaRN and Llama-3 frequency scaling and
 * optional per-pair frequency factors. Angles are built by repeated
 * multiplication with base^(-2/n_dims), as llama.cpp does, so positions
 * rotate by bit-identical angles. */
#include "slm/ops.h"

#include <math.h>

void slm_rope_params_default(slm_rope_params *p, int n_dims, float freq_base, bool neox) {
    *p = (slm_rope_params){
        .n_dims = n_dims, .neox = neox, .freq_base = freq_base,
        .scaling = SLM_ROPE_SCALING_NONE, .freq_scale = 1.0f, .n_ctx_orig = 0,
        .ext_factor = -1.0f, .attn_factor = 1.0f, .beta_fast = 32.0f, .beta_slow = 1.0f,
        .llama3_factor = 8.0f, .llama3_low_freq_factor = 1.0f, .llama3_high_freq_factor = 4.0f,
        .freq_factors = NULL,
    };
}

/* Dimension at which a wavelength of n_rot rotations fits the context. */
static float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
    return (float)n_dims * logf((float)n_ctx_orig / (n_rot * 2.0f * (float)M_PI)) / (2.0f * logf(base));
}

static void yarn_corr_dims(const slm_rope_params *p, float dims[2]) {
    float start = floorf(yarn_corr_dim(p->n_dims, p->n_ctx_orig, p->beta_fast, p->freq_base));
    float end = ceilf(yarn_corr_dim(p->n_dims, p->n_ctx_orig, p->beta_slow, p->freq_base));
    dims[0] = fmaxf(0.0f, start);
    dims[1] = fminf((float)(p->n_dims - 1), end);
}

static float yarn_ramp(float low, float high, int i0) {
    float y = ((float)(i0 / 2) - low) / fmaxf(0.001f, high - low);
    return 1.0f - fminf(1.0f, fmaxf(0.0f, y));
}

/* Llama 3.1 divisor for one frequency (what converters store as rope_freqs). */
static float llama3_factor(const slm_rope_params *p, float freq) {
    const float old_ctx = (float)(p->n_ctx_orig > 0 ? p->n_ctx_orig : 8192);
    const float low_wavelen = old_ctx / p->llama3_low_freq_factor;
    const float high_wavelen = old_ctx / p->llama3_high_freq_factor;
    const float wavelen = 2.0f * (float)M_PI / freq;
    if (wavelen < high_wavelen) return 1.0f;
    if (wavelen > low_wavelen) return p->llama3_factor;
    float smooth = (old_ctx / wavelen - p->llama3_low_freq_factor) /
                   (p->llama3_high_freq_factor - p->llama3_low_freq_factor);
    return 1.0f / ((1.0f - smooth) / p->llama3_factor + smooth);
}

typedef struct rope_angle { float cos, sin; } rope_angle;

static rope_angle rope_angle_for(const slm_rope_params *p, float theta_extrap, int i0,
                                 const float corr[2]) {
    float freq_scale = p->scaling == SLM_ROPE_SCALING_NONE || p->scaling == SLM_ROPE_SCALING_LLAMA3
                           ? 1.0f : p->freq_scale;
    float ext = p->ext_factor;
    if (ext < 0.0f) ext = p->scaling == SLM_ROPE_SCALING_YARN ? 1.0f : 0.0f;
    float mscale = p->attn_factor;
    float theta_interp = freq_scale * theta_extrap;
    float theta = theta_interp;
    if (ext != 0.0f) {
        float mix = yarn_ramp(corr[0], corr[1], i0) * ext;
        theta = theta_interp * (1.0f - mix) + theta_extrap * mix;
        mscale *= 1.0f + 0.1f * logf(1.0f / freq_scale);
    }
    return (rope_angle){cosf(theta) * mscale, sinf(theta) * mscale};
}

void slm_rope(const slm_rope_params *p, float *x, int n_heads, int head_dim, int32_t pos) {
    const int n_dims = p->n_dims;
    const float theta_scale = powf(p->freq_base, -2.0f / (float)n_dims);
    float corr[2] = {0.0f, 0.0f};
    if (p->scaling == SLM_ROPE_SCALING_YARN && p->n_ctx_orig > 0) yarn_corr_dims(p, corr);
    float theta = (float)pos;
    float base_freq = 1.0f; /* theta_scale^(i0/2), tracked for llama3 */
    for (int i0 = 0; i0 < n_dims; i0 += 2) {
        float ff = 1.0f;
        if (p->freq_factors) ff = p->freq_factors[i0 / 2];
        else if (p->scaling == SLM_ROPE_SCALING_LLAMA3) ff = llama3_factor(p, base_freq);
        rope_angle a = rope_angle_for(p, theta / ff, i0, corr);
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)h * (size_t)head_dim;
            int ia = p->neox ? i0 / 2 : i0;
            int ib = p->neox ? i0 / 2 + n_dims / 2 : i0 + 1;
            float x0 = v[ia], x1 = v[ib];
            v[ia] = x0 * a.cos - x1 * a.sin;
            v[ib] = x0 * a.sin + x1 * a.cos;
        }
        theta *= theta_scale;
        base_freq *= theta_scale;
    }
}
