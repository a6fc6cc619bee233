/* int8_gemm_internal.h — the int8_gemm variants' entry points and the scalar epilogue that
 * they all share, for the variant table and the tests. Users go through dlab/int8_gemm.h. */
#ifndef DLAB_INT8_GEMM_INTERNAL_H
#define DLAB_INT8_GEMM_INTERNAL_H

#include <stdbool.h>

#include "dlab/int8_gemm.h"

#ifdef __cplusplus
extern "C" {
#endif

dl_status dl_int8_gemm_ref(const dl_int8_gemm_args *a);    /* int8_gemm_ref.c */
dl_status dl_int8_gemm_vnni(const dl_int8_gemm_args *a);   /* int8_gemm_vnni.c */
dl_status dl_int8_gemm_avx512(const dl_int8_gemm_args *a); /* int8_gemm_vnni.c, no VNNI */
bool dl_cpu_has_avx512_vnni(void);                         /* int8_gemm_vnni.c */
#ifdef DL_HAVE_CUDA
bool dl_int8_gemm_cuda_available(void); /* int8_gemm_cuda.cu */
dl_status dl_int8_gemm_cuda_dp4a(const dl_int8_gemm_args *a);
#ifdef DL_HAVE_CUBLASLT /* defined by the build when it links -lcublasLt */
dl_status dl_int8_gemm_cublaslt(const dl_int8_gemm_args *a);
#endif
#endif

/* 1/s, or 0 for a zero scale (the scale of an all-zero vector). */
static inline float dl_int8_inverse_scale(float s) { return s == 0.0f ? 0.0f : 1.0f / s; }

/* The epilogue of the header, for one element, in its exact order of operations. */
static inline float dl_int8_dequantize(int32_t c, float row_inv, float col_inv, const float *bias,
                                       int n, float old, bool accumulate) {
    const float scale = row_inv * col_inv;
    float y = (float)c * scale;
    if (bias) y = y + bias[n];
    return accumulate ? old + y : y;
}

#ifdef __cplusplus
}
#endif
#endif
