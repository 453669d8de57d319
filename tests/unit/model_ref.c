/* Reference forward pass (see model_ref.h): one layer at a time over the
 * whole sequence, every intermediate in double. Included by the tests
 * that use it (only *_test.c files become executables). */
#include "unit/model_ref.h"

#include "slm/base.h"

typedef struct ref_state {
    const fx_model *m;
    int n;              /* tokens */
    int qd, kvd;        /* n_head * head_dim, n_head_kv * head_dim */
    bool f16;
    const slm_type_traits *act; /* activation round trip, or NULL */
    float *act_f;               /* [max cols] */
    void *act_q;                /* [max cols] in the vec_dot_type */
    double *act_d;
    double *x, *h, *q, *k, *v, *att, *gate, *up, *tmp;
} ref_state;

static double ref_round_f16(double v) { return (double)slm_f16_to_f32(slm_f32_to_f16((float)v)); }

/* in -> float -> vec_dot_type -> float, as the engine's activations. */
static const double *ref_quant_act(ref_state *st, const double *in, int64_t n) {
    if (!st->act) return in;
    for (int64_t i = 0; i < n; i++) st->act_f[i] = (float)in[i];
    st->act->from_float(st->act_f, st->act_q, n);
    slm_type_traits_at(st->act->type, SLM_SIMD_SCALAR)->to_float(st->act_q, st->act_f, n);
    for (int64_t i = 0; i < n; i++) st->act_d[i] = st->act_f[i];
    return st->act_d;
}

/* out = W in (+ b): W row-major [rows][cols]. */
static void ref_matvec(ref_state *st, const fx_matrix *w, const double *in, const float *b, double *out) {
    in = ref_quant_act(st, in, w->cols);
    for (int64_t r = 0; r < w->rows; r++) {
        const float *row = w->f + r * w->cols;
        double s = 0.0;
        for (int64_t c = 0; c < w->cols; c++) s += (double)row[c] * in[c];
        out[r] = s + (b ? (double)b[r] : 0.0);
    }
}

/* out = x / sqrt(mean(x^2) + eps) * w; in place allowed. */
static void ref_rmsnorm(double *out, const double *x, const float *w, int n, double eps) {
    double ss = 0.0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    const double inv = 1.0 / sqrt(ss / n + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * inv * (double)w[i];
}

/* Rotates the first d dims of every head of x (n_heads x hd) for
 * position pos; dims d..hd pass through. */
static void ref_rope(double *x, int n_heads, int hd, int d, int pos, double base, bool neox) {
    for (int i = 0; i < d / 2; i++) {
        const double theta = pos * pow(base, -2.0 * i / d);
        const double c = cos(theta), s = sin(theta);
        const int a = neox ? i : 2 * i, b = neox ? i + d / 2 : 2 * i + 1;
        for (int hh = 0; hh < n_heads; hh++) {
            double *v = x + (size_t)hh * hd;
            const double x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

static void ref_qkv(ref_state *st, const fx_layer *L) {
    const fx_config *c = &st->m->cfg;
    const int hd = c->head_dim;
    for (int t = 0; t < st->n; t++) {
        double *q = st->q + (size_t)t * st->qd, *k = st->k + (size_t)t * st->kvd;
        double *v = st->v + (size_t)t * st->kvd;
        ref_rmsnorm(st->h, st->x + (size_t)t * c->n_embd, L->attn_norm, c->n_embd, c->norm_eps);
        ref_matvec(st, &L->wq, st->h, L->bq, q);
        ref_matvec(st, &L->wk, st->h, L->bk, k);
        ref_matvec(st, &L->wv, st->h, L->bv, v);
        if (L->q_norm) {
            for (int hh = 0; hh < c->n_head; hh++) ref_rmsnorm(q + hh * hd, q + hh * hd, L->q_norm, hd, c->norm_eps);
            for (int hh = 0; hh < c->n_head_kv; hh++) ref_rmsnorm(k + hh * hd, k + hh * hd, L->k_norm, hd, c->norm_eps);
        }
        ref_rope(q, c->n_head, hd, c->n_rot, t, c->rope_base, c->neox);
        ref_rope(k, c->n_head_kv, hd, c->n_rot, t, c->rope_base, c->neox);
        if (st->f16) {
            for (int i = 0; i < st->qd; i++) q[i] = ref_round_f16(q[i]);
            for (int i = 0; i < st->kvd; i++) k[i] = ref_round_f16(k[i]);
            for (int i = 0; i < st->kvd; i++) v[i] = ref_round_f16(v[i]);
        }
    }
}

/* Causal attention of query t, head hh, into out[head_dim]. */
static void ref_attend(ref_state *st, int t, int hh, double *scores, double *out) {
    const fx_config *c = &st->m->cfg;
    const int hd = c->head_dim, kvh = hh / (c->n_head / c->n_head_kv);
    const double *q = st->q + (size_t)t * st->qd + (size_t)hh * hd;
    double mx = -INFINITY, sum = 0.0;
    for (int p = 0; p <= t; p++) {
        const double *k = st->k + (size_t)p * st->kvd + (size_t)kvh * hd;
        double s = 0.0;
        for (int d = 0; d < hd; d++) s += q[d] * k[d];
        scores[p] = s / sqrt((double)hd);
        if (scores[p] > mx) mx = scores[p];
    }
    for (int p = 0; p <= t; p++) sum += (scores[p] = exp(scores[p] - mx));
    for (int d = 0; d < hd; d++) out[d] = 0.0;
    for (int p = 0; p <= t; p++) {
        double w = scores[p] / sum;
        if (st->f16) w = ref_round_f16(w);
        const double *v = st->v + (size_t)p * st->kvd + (size_t)kvh * hd;
        for (int d = 0; d < hd; d++) out[d] += w * v[d];
    }
}

static void ref_attention(ref_state *st, const fx_layer *L) {
    const fx_config *c = &st->m->cfg;
    ref_qkv(st, L);
    for (int t = 0; t < st->n; t++) {
        for (int hh = 0; hh < c->n_head; hh++)
            ref_attend(st, t, hh, st->tmp, st->att + (size_t)t * st->qd + (size_t)hh * c->head_dim);
        ref_matvec(st, &L->wo, st->att + (size_t)t * st->qd, NULL, st->h);
        double *x = st->x + (size_t)t * c->n_embd;
        for (int i = 0; i < c->n_embd; i++) x[i] += st->h[i];
    }
}

static void ref_ffn(ref_state *st, const fx_layer *L) {
    const fx_config *c = &st->m->cfg;
    for (int t = 0; t < st->n; t++) {
        double *x = st->x + (size_t)t * c->n_embd;
        ref_rmsnorm(st->h, x, L->ffn_norm, c->n_embd, c->norm_eps);
        ref_matvec(st, &L->w_gate, st->h, NULL, st->gate);
        ref_matvec(st, &L->w_up, st->h, NULL, st->up);
        for (int i = 0; i < c->n_ff; i++) st->gate[i] = st->gate[i] / (1.0 + exp(-st->gate[i])) * st->up[i];
        ref_matvec(st, &L->w_down, st->gate, NULL, st->h);
        for (int i = 0; i < c->n_embd; i++) x[i] += st->h[i];
    }
}

/* The vec_dot_type traits of the fixture's weight type, or NULL for F32
 * (whose products take float activations). */
static const slm_type_traits *ref_act_traits(slm_dtype wtype) {
    const slm_type_traits *w = slm_type_traits_get(wtype);
    if (!w || w->vec_dot_type == SLM_TYPE_F32) return NULL;
    return slm_type_traits_get(w->vec_dot_type);
}

static void ref_free(ref_state *st) {
    double *bufs[] = {st->x, st->h, st->q, st->k, st->v, st->att, st->gate, st->up, st->tmp, st->act_d};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) free(bufs[i]);
    free(st->act_f);
    free(st->act_q);
}

static bool ref_alloc(ref_state *st, unsigned flags) {
    const fx_config *c = &st->m->cfg;
    const int n = st->n;
    int wide = c->n_embd > st->qd ? c->n_embd : st->qd;
    if (c->n_ff > wide) wide = c->n_ff;
    st->x = calloc((size_t)n * c->n_embd, sizeof(double));
    st->h = calloc((size_t)wide, sizeof(double));
    st->q = calloc((size_t)n * st->qd, sizeof(double));
    st->k = calloc((size_t)n * st->kvd, sizeof(double));
    st->v = calloc((size_t)n * st->kvd, sizeof(double));
    st->att = calloc((size_t)n * st->qd, sizeof(double));
    st->gate = calloc((size_t)c->n_ff, sizeof(double));
    st->up = calloc((size_t)c->n_ff, sizeof(double));
    st->tmp = calloc((size_t)n, sizeof(double));
    bool ok = st->x && st->h && st->q && st->k && st->v && st->att && st->gate && st->up && st->tmp;
    st->act = (flags & REF_QUANT_ACT) ? ref_act_traits(c->wtype) : NULL;
    if (st->act) {
        st->act_d = calloc((size_t)wide, sizeof(double));
        st->act_f = calloc((size_t)wide, sizeof(float));
        st->act_q = calloc((size_t)wide, sizeof(float)); /* every vec_dot_type is <= 4 bytes/element */
        ok = ok && st->act_d && st->act_f && st->act_q && st->act->from_float &&
             slm_type_traits_at(st->act->type, SLM_SIMD_SCALAR)->to_float;
    }
    return ok;
}

bool ref_forward(const fx_model *m, const int32_t *tokens, int n, unsigned flags, double *logits) {
    const fx_config *c = &m->cfg;
    ref_state st = {.m = m, .n = n, .f16 = (flags & REF_F16_ATTN) != 0, .qd = c->n_head * c->head_dim,
                    .kvd = c->n_head_kv * c->head_dim};
    bool ok = ref_alloc(&st, flags);
    for (int t = 0; ok && t < n; t++)
        for (int i = 0; i < c->n_embd; i++)
            st.x[(size_t)t * c->n_embd + i] = m->tok_embd.f[(size_t)tokens[t] * c->n_embd + i];
    for (int il = 0; ok && il < c->n_layer; il++) {
        ref_attention(&st, &m->layers[il]);
        ref_ffn(&st, &m->layers[il]);
    }
    for (int t = 0; ok && t < n; t++) {
        ref_rmsnorm(st.h, st.x + (size_t)t * c->n_embd, m->output_norm, c->n_embd, c->norm_eps);
        ref_matvec(&st, &m->output, st.h, NULL, logits + (size_t)t * c->n_vocab);
    }
    ref_free(&st);
    return ok;
}
