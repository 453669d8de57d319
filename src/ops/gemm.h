/* Internal contract of the tiled matrix-product kernels (gemm_*.c).
 *
 * A gemm kernel computes a whole block of outputs at once: every weight
 * row r < n_rows against every activation row t < n_tok, writing
 * y[t*ldy + r]. Inside, it walks tiles of a few weight rows by a few
 * tokens, so each weight block is unpacked (nibbles, scales) once per tile
 * instead of once per token, and each activation block is loaded once per
 * tile instead of once per row. Weights are in their own type, activations
 * in its vec_dot_type (as for vec_dot); results equal the vec_dot ones up
 * to float summation order. */
#ifndef SLM_OPS_GEMM_H
#define SLM_OPS_GEMM_H

#include "slm/quant.h"

typedef void (*slm_gemm_fn)(int64_t cols, const void *w, size_t w_row, int64_t n_rows,
                            const void *act, size_t act_row, int64_t n_tok, float *y, int64_t ldy);

/* Weight rows per tile of the kernels: callers that split rows between
 * threads keep the split points on multiples of this. */
#define SLM_GEMM_ROW_TILE 4

/* Tiled kernel for weight type t at the active SIMD level (the one
 * slm_type_traits_get uses), or NULL when t has none. */
slm_gemm_fn slm_gemm_kernel(slm_dtype t);
/* The same at an explicit level (capped by the CPU); tests use it. */
slm_gemm_fn slm_gemm_kernel_at(slm_dtype t, slm_simd_level level);

/* Kernel for one token (generation: one row at a time, streaming the
 * weights), same signature; NULL where vec_dot is as good. */
slm_gemm_fn slm_gemv_kernel(slm_dtype t);
slm_gemm_fn slm_gemv_kernel_at(slm_dtype t, slm_simd_level level);

/* Per-ISA tables (gemm_avx2.c, gemm_avx512.c). */
slm_gemm_fn slm_gemm_avx2(slm_dtype t);
slm_gemm_fn slm_gemm_avx512(slm_dtype t);
slm_gemm_fn slm_gemv_avx2(slm_dtype t);
slm_gemm_fn slm_gemv_avx512(slm_dtype t);

#endif
