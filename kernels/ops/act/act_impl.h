/* act_impl.h — private to kernels/ops/act: the implementations that act_variants.c puts in
 * the "relu" and "gelu" tables. Callers go through dl_act_forward / dl_act_backward. */
#ifndef DLAB_ACT_IMPL_H
#define DLAB_ACT_IMPL_H

#include "dlab/act.h"

/* √(2/π) and the cubic coefficient of GPT-2's tanh approximation (Hendrycks & Gimpel 2016). */
#define DL_GELU_K 0.7978845608028654
#define DL_GELU_C 0.044715

extern const dl_act_impl dl_relu_ref_impl, dl_gelu_ref_impl;             /* act_ref.c */
extern const dl_act_impl dl_relu_omp_impl, dl_gelu_omp_impl;             /* act_cpu.c */
extern const dl_act_impl dl_relu_omp_avx2_impl, dl_relu_omp_avx512_impl; /* act_cpu.c */
extern const dl_act_impl dl_gelu_omp_avx2_impl, dl_gelu_omp_avx512_impl;

#ifdef DL_HAVE_CUDA
#ifdef __cplusplus
extern "C" {
#endif
bool dl_cuda_available(void); /* matmul_cuda.cu: a GPU is present */
/* act.cu: the "cuda" variants, on device pointers */
extern const dl_act_impl dl_relu_cuda_impl, dl_gelu_cuda_impl;
#ifdef __cplusplus
}
#endif
#endif

#endif
