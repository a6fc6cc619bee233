/* linear_impl.h — private to kernels/ops/linear: the variants that linear_variants.c puts
 * in the registry. Callers go through dl_linear_forward / dl_linear_backward. */
#ifndef DLAB_LINEAR_IMPL_H
#define DLAB_LINEAR_IMPL_H

#include "dlab/linear.h"

dl_status dl_linear_ref_forward(const dl_linear_args *a); /* linear_ref.c */
dl_status dl_linear_ref_backward(const dl_linear_args *a);
dl_status dl_linear_omp_forward(const dl_linear_args *a); /* linear_cpu.c */
dl_status dl_linear_omp_backward(const dl_linear_args *a);

#ifdef DL_HAVE_CUDA
#ifdef __cplusplus
extern "C" {
#endif
bool dl_cuda_available(void); /* matmul_cuda.cu: a GPU is present */
/* linear.cu: cuBLAS sgemm + own bias kernels, on device pointers */
dl_status dl_linear_cublas_forward(const dl_linear_args *a);
dl_status dl_linear_cublas_backward(const dl_linear_args *a);
#ifdef __cplusplus
}
#endif
#endif

#endif
