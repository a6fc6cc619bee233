/* softmax_cuda.h — private to kernels/ops/softmax: the CUDA softmax and softmax + top-k
 * variants (softmax.cu, softmax_topk.cu, listed by softmax_cuda_variants.c) and the few entry
 * points those files share. Everything here takes DEVICE pointers, launches on the default
 * stream and returns without synchronizing. Only exists in a build with nvcc (DL_HAVE_CUDA).
 */
#ifndef DLAB_SOFTMAX_CUDA_H
#define DLAB_SOFTMAX_CUDA_H

#ifdef DL_HAVE_CUDA

#include <stdbool.h>

#include "dlab/registry.h"
#include "dlab/softmax.h"
#include "dlab/softmax_topk.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The registry rows (softmax_cuda_variants.c); the lead lists them in the family tables. */
extern const dl_variant dl_softmax_cuda_block_safe, dl_softmax_cuda_block_online,
    dl_softmax_cuda_warp_safe, dl_softmax_cuda_warp_online, dl_softmax_cudnn;
extern const dl_variant dl_softmax_topk_cuda_unfused, dl_softmax_topk_cuda_fused;

/* softmax.cu: the implementations behind those rows. The four own variants share one
 * backward kernel; cudnn has its own forward and backward. */
extern const dl_softmax_impl dl_softmax_cuda_block_safe_impl;
extern const dl_softmax_impl dl_softmax_cuda_block_online_impl;
extern const dl_softmax_impl dl_softmax_cuda_warp_safe_impl;
extern const dl_softmax_impl dl_softmax_cuda_warp_online_impl;
extern const dl_softmax_impl dl_softmax_cudnn_impl;

/* A GPU is present and this build has cuDNN (false under DL_NO_CUDNN). */
bool dl_softmax_cudnn_available(void);

/* A GPU is present (defined in matmul_cuda.cu; the `available` of every own CUDA variant). */
bool dl_cuda_available(void);

/* Shared by softmax.cu and softmax_topk.cu: DL_ERR_DEVICE without a usable GPU, DL_ERR_ARG
 * (naming `name`) when `p` is host memory the GPU cannot read. `where` prefixes messages. */
dl_status dl_softmax_cuda_check_device(const char *where);
dl_status dl_softmax_cuda_check_pointer(const void *p, const char *name, const char *where);

/* softmax_topk.cu */
dl_status dl_softmax_topk_cuda_unfused_run(const dl_softmax_topk_args *args);
dl_status dl_softmax_topk_cuda_fused_run(const dl_softmax_topk_args *args);

#ifdef __cplusplus
}
#endif

#endif /* DL_HAVE_CUDA */
#endif
