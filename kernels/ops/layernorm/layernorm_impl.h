/* layernorm_impl.h — private to kernels/ops/layernorm: the implementations that
 * layernorm_variants.c puts in the registry. Callers go through dl_layernorm_forward /
 * dl_layernorm_backward. */
#ifndef DLAB_LAYERNORM_IMPL_H
#define DLAB_LAYERNORM_IMPL_H

#include "dlab/layernorm.h"

static inline float dl_layernorm_eps(const dl_layernorm_args *a) {
    return a->eps > 0.0f ? a->eps : DL_LAYERNORM_EPS;
}

extern const dl_layernorm_impl dl_layernorm_ref_impl; /* layernorm_ref.c */
extern const dl_layernorm_impl dl_layernorm_omp_impl; /* layernorm_cpu.c */
extern const dl_layernorm_impl dl_layernorm_omp_avx2_impl;
extern const dl_layernorm_impl dl_layernorm_omp_avx512_impl;

#ifdef DL_HAVE_CUDA
#ifdef __cplusplus
extern "C" {
#endif
bool dl_cuda_available(void); /* matmul_cuda.cu: a GPU is present */
extern const dl_layernorm_impl dl_layernorm_cuda_impl; /* layernorm.cu: device pointers */
#ifdef __cplusplus
}
#endif
#endif

#endif
