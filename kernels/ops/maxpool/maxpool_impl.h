/* maxpool_impl.h — private to kernels/ops/maxpool: the variant functions that
 * maxpool_variants.c registers, and the comparison rule they share. */
#ifndef DLAB_MAXPOOL_IMPL_H
#define DLAB_MAXPOOL_IMPL_H

#include <math.h>

#include "dlab/maxpool.h"

#ifdef __CUDACC__
#define DL_MAXPOOL_HOST_DEVICE __host__ __device__ /* maxpool.cu's kernels use the same rule */
#else
#define DL_MAXPOOL_HOST_DEVICE
#endif

/* Does v replace the current best? Strictly greater (so the first of equal maxima stays), or
 * the first NaN (NaN counts as larger than everything, and then nothing replaces it). */
DL_MAXPOOL_HOST_DEVICE static inline bool dl_maxpool_takes(float v, float best) {
    return v > best || (isnan(v) && !isnan(best));
}

dl_status dl_maxpool_ref_forward(const dl_maxpool_args *a); /* maxpool_ref.c */
dl_status dl_maxpool_ref_backward(const dl_maxpool_args *a);
dl_status dl_maxpool_omp_forward(const dl_maxpool_args *a); /* maxpool_cpu.c */
dl_status dl_maxpool_omp_backward(const dl_maxpool_args *a);

#ifdef DL_HAVE_CUDA
#ifdef __cplusplus
extern "C" {
#endif
/* maxpool.cu, on DEVICE pointers: "cuda" (own forward, gather backward) and "cudnn" (cuDNN's
 * forward + an argmax kernel, the same backward; unavailable and DL_ERR_UNSUPPORTED in a
 * build without cuDNN) */
bool dl_cuda_available(void); /* matmul_cuda.cu: a GPU is present */
bool dl_maxpool_cudnn_available(void);
dl_status dl_maxpool_cuda_forward(const dl_maxpool_args *a);
dl_status dl_maxpool_cuda_backward(const dl_maxpool_args *a);
dl_status dl_maxpool_cudnn_forward(const dl_maxpool_args *a);
#ifdef __cplusplus
}
#endif
#endif

#endif
