/* slm tensor element types: the GGUF/ggml type ids and their block
 * geometry. The ids are the on-disk numbers of the GGUF format, so this
 * table is what the GGUF reader validates tensor sizes against. Whether a
 * type can be computed with is a separate question (see ops.h). */
#ifndef SLM_DTYPE_H
#define SLM_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum slm_dtype {
    SLM_TYPE_F32 = 0,
    SLM_TYPE_F16 = 1,
    SLM_TYPE_Q4_0 = 2,
    SLM_TYPE_Q4_1 = 3,
    SLM_TYPE_Q5_0 = 6,
    SLM_TYPE_Q5_1 = 7,
    SLM_TYPE_Q8_0 = 8,
    SLM_TYPE_Q8_1 = 9,
    SLM_TYPE_Q2_K = 10,
    SLM_TYPE_Q3_K = 11,
    SLM_TYPE_Q4_K = 12,
    SLM_TYPE_Q5_K = 13,
    SLM_TYPE_Q6_K = 14,
    SLM_TYPE_Q8_K = 15,
    SLM_TYPE_IQ2_XXS = 16,
    SLM_TYPE_IQ2_XS = 17,
    SLM_TYPE_IQ3_XXS = 18,
    SLM_TYPE_IQ1_S = 19,
    SLM_TYPE_IQ4_NL = 20,
    SLM_TYPE_IQ3_S = 21,
    SLM_TYPE_IQ2_S = 22,
    SLM_TYPE_IQ4_XS = 23,
    SLM_TYPE_I8 = 24,
    SLM_TYPE_I16 = 25,
    SLM_TYPE_I32 = 26,
    SLM_TYPE_I64 = 27,
    SLM_TYPE_F64 = 28,
    SLM_TYPE_IQ1_M = 29,
    SLM_TYPE_BF16 = 30,
    SLM_TYPE_TQ1_0 = 34,
    SLM_TYPE_TQ2_0 = 35,
    SLM_TYPE_MXFP4 = 39,
    SLM_TYPE_COUNT = 40, /* one past the largest id */
} slm_dtype;

typedef struct slm_dtype_info {
    const char *name;  /* "Q4_K", NULL for unknown/removed ids */
    uint32_t block_size; /* elements per block */
    uint32_t type_size;  /* bytes per block */
} slm_dtype_info;

/* NULL when id is not a known type (removed ids included). */
const slm_dtype_info *slm_dtype_get(uint32_t id);
const char *slm_dtype_name(uint32_t id); /* "unknown" when not known */
/* Bytes for a row of n elements; false if n is not a multiple of the block
 * size or the product overflows. */
bool slm_dtype_row_size(uint32_t id, uint64_t n, uint64_t *bytes);

#define SLM_QK 32   /* block size of the legacy quants */
#define SLM_QK_K 256 /* super-block size of the k-quants */

#endif
