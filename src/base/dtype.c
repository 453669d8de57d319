/* The table of GGUF tensor types: ids, names and block geometry. Ids that
 * were removed from the format (4, 5, 31-33, 36-38) are unknown. */
#include "slm/dtype.h"

static const slm_dtype_info DTYPES[SLM_TYPE_COUNT] = {
    [SLM_TYPE_F32] = {"F32", 1, 4},
    [SLM_TYPE_F16] = {"F16", 1, 2},
    [SLM_TYPE_Q4_0] = {"Q4_0", 32, 18},
    [SLM_TYPE_Q4_1] = {"Q4_1", 32, 20},
    [SLM_TYPE_Q5_0] = {"Q5_0", 32, 22},
    [SLM_TYPE_Q5_1] = {"Q5_1", 32, 24},
    [SLM_TYPE_Q8_0] = {"Q8_0", 32, 34},
    [SLM_TYPE_Q8_1] = {"Q8_1", 32, 36},
    [SLM_TYPE_Q2_K] = {"Q2_K", 256, 84},
    [SLM_TYPE_Q3_K] = {"Q3_K", 256, 110},
    [SLM_TYPE_Q4_K] = {"Q4_K", 256, 144},
    [SLM_TYPE_Q5_K] = {"Q5_K", 256, 176},
    [SLM_TYPE_Q6_K] = {"Q6_K", 256, 210},
    [SLM_TYPE_Q8_K] = {"Q8_K", 256, 292},
    [SLM_TYPE_IQ2_XXS] = {"IQ2_XXS", 256, 66},
    [SLM_TYPE_IQ2_XS] = {"IQ2_XS", 256, 74},
    [SLM_TYPE_IQ3_XXS] = {"IQ3_XXS", 256, 98},
    [SLM_TYPE_IQ1_S] = {"IQ1_S", 256, 50},
    [SLM_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18},
    [SLM_TYPE_IQ3_S] = {"IQ3_S", 256, 110},
    [SLM_TYPE_IQ2_S] = {"IQ2_S", 256, 82},
    [SLM_TYPE_IQ4_XS] = {"IQ4_XS", 256, 136},
    [SLM_TYPE_I8] = {"I8", 1, 1},
    [SLM_TYPE_I16] = {"I16", 1, 2},
    [SLM_TYPE_I32] = {"I32", 1, 4},
    [SLM_TYPE_I64] = {"I64", 1, 8},
    [SLM_TYPE_F64] = {"F64", 1, 8},
    [SLM_TYPE_IQ1_M] = {"IQ1_M", 256, 56},
    [SLM_TYPE_BF16] = {"BF16", 1, 2},
    [SLM_TYPE_TQ1_0] = {"TQ1_0", 256, 54},
    [SLM_TYPE_TQ2_0] = {"TQ2_0", 256, 66},
    [SLM_TYPE_MXFP4] = {"MXFP4", 32, 17},
};

const slm_dtype_info *slm_dtype_get(uint32_t id) {
    if (id >= SLM_TYPE_COUNT || DTYPES[id].name == NULL) return NULL;
    return &DTYPES[id];
}

const char *slm_dtype_name(uint32_t id) {
    const slm_dtype_info *i = slm_dtype_get(id);
    return i ? i->name : "unknown";
}

bool slm_dtype_row_size(uint32_t id, uint64_t n, uint64_t *bytes) {
    const slm_dtype_info *i = slm_dtype_get(id);
    if (!i || n % i->block_size != 0) return false;
    return !__builtin_mul_overflow(n / i->block_size, (uint64_t)i->type_size, bytes);
}
