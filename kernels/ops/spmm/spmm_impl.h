/* spmm_impl.h — private to kernels/ops/spmm: the variants spmm_variants.c registers.
 * Callers go through dl_spmm_forward / dl_spmm_backward. */
#ifndef DLAB_SPMM_IMPL_H
#define DLAB_SPMM_IMPL_H

#include "dlab/spmm.h"

dl_status dl_spmm_ref_forward(const dl_spmm_args *a); /* spmm_ref.c */
dl_status dl_spmm_ref_backward(const dl_spmm_args *a);
dl_status dl_spmm_avx512_forward(const dl_spmm_args *a); /* spmm_cpu.c */
dl_status dl_spmm_avx512_backward(const dl_spmm_args *a);

#ifdef DL_HAVE_CUDA
#ifdef __cplusplus
extern "C" {
#endif
bool dl_cuda_available(void); /* matmul_cuda.cu: a GPU is present */
dl_status dl_spmm_cuda_forward(const dl_spmm_args *a); /* spmm.cu */
dl_status dl_spmm_cuda_backward(const dl_spmm_args *a);
#ifdef __cplusplus
}
#endif
#endif

#endif
