/* softmax_xent_impl.h — private to kernels/ops/softmax_xent: the implementations that
 * softmax_xent_variants.c puts in the registry. Callers go through
 * dl_softmax_xent_forward / dl_softmax_xent_backward. */
#ifndef DLAB_SOFTMAX_XENT_IMPL_H
#define DLAB_SOFTMAX_XENT_IMPL_H

#include "dlab/softmax_xent.h"

extern const dl_softmax_xent_impl dl_softmax_xent_ref_impl; /* softmax_xent_ref.c */
extern const dl_softmax_xent_impl dl_softmax_xent_omp_impl; /* softmax_xent_cpu.c */
extern const dl_softmax_xent_impl dl_softmax_xent_omp_avx2_impl;
extern const dl_softmax_xent_impl dl_softmax_xent_omp_avx512_impl;

#ifdef DL_HAVE_CUDA
#ifdef __cplusplus
extern "C" {
#endif
bool dl_cuda_available(void); /* matmul_cuda.cu: a GPU is present */
extern const dl_softmax_xent_impl dl_softmax_xent_cuda_impl; /* softmax_xent.cu: device pointers */
#ifdef __cplusplus
}
#endif
#endif

#endif
