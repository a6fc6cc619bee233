/* conv2d_impl.h — private to kernels/ops/conv2d: the variant functions that
 * conv2d_variants.c registers. Callers outside use the registry or dlab/conv2d.h. */
#ifndef DLAB_CONV2D_IMPL_H
#define DLAB_CONV2D_IMPL_H

#include "dlab/conv2d.h"

/* conv2d_ref.c: direct loops, the oracle */
dl_status dl_conv2d_ref_forward(const dl_conv2d_args *a);
dl_status dl_conv2d_ref_backward(const dl_conv2d_args *a);

/* conv2d_cpu.c: im2col + matmul; `im2col` uses the fastest matmul and OpenMP, `im2col_ref`
 * the reference matmul on one thread (the lowering checked on its own) */
dl_status dl_conv2d_im2col_forward(const dl_conv2d_args *a);
dl_status dl_conv2d_im2col_backward(const dl_conv2d_args *a);
dl_status dl_conv2d_im2col_ref_forward(const dl_conv2d_args *a);
dl_status dl_conv2d_im2col_ref_backward(const dl_conv2d_args *a);

#ifdef DL_HAVE_CUDA
#ifdef __cplusplus
extern "C" {
#endif
/* conv2d.cu: the "cudnn" variant, on DEVICE pointers (unavailable, and DL_ERR_UNSUPPORTED,
 * in a build without cuDNN) */
bool dl_conv2d_cudnn_available(void);
dl_status dl_conv2d_cudnn_forward(const dl_conv2d_args *a);
dl_status dl_conv2d_cudnn_backward(const dl_conv2d_args *a);
#ifdef __cplusplus
}
#endif
#endif

#endif
