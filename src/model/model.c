/* Model lifetime: hyper-parameters + bound weights over an open GGUF. */
#include "model_internal.h"

#include <stdlib.h>

slm_status slm_model_load(const slm_gguf *g, slm_model **out, slm_error *err) {
    slm_base_init();
    slm_model *m = calloc(1, sizeof *m);
    if (!m) return slm_error_set(err, SLM_ERR_NOMEM, "out of memory");
    m->gguf = g;
    pthread_mutex_init(&m->resident_mu, NULL);
    slm_status st = slm_hparams_load(g, &m->hp, err);
    if (st == SLM_OK) st = slm_weights_bind(m, err);
    if (st != SLM_OK) {
        slm_model_free(m);
        return st;
    }
    *out = m;
    return SLM_OK;
}

void slm_model_free(slm_model *m) {
    if (!m) return;
    slm_model_release_resident(m);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    free(m);
}

const slm_hparams *slm_model_hparams(const slm_model *m) { return &m->hp; }
uint64_t slm_model_n_params(const slm_model *m) { return m->n_params; }
uint64_t slm_model_weight_bytes(const slm_model *m) { return m->weight_bytes; }
