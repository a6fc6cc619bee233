/* conv2d.h — the "conv2d" op family: 2-D convolution (cross-correlation, as every deep-learning
 * framework computes it) over NCHW tensors, and the im2col / col2im lowering it is built on.
 *
 *   out[n,co,oh,ow] = bias[co] + Σ_{ci,kh,kw} w[co,ci,kh,kw] · inp[n,ci, oh·stride+kh−pad,
 *                                                                     ow·stride+kw−pad]
 *   OH = (H + 2·pad − KH) / stride + 1,  OW likewise  (floor; pixels outside the input are 0)
 *
 * Lowering. im2col copies every KH×KW patch of one image into a column, giving a matrix
 * cols (Cin·KH·KW) × (OH·OW); then out_n = W · cols is one matmul with W seen as
 * Cout × (Cin·KH·KW). The backward is two more: dW += dout_n · colsᵀ, and dcols = Wᵀ · dout_n
 * whose columns col2im adds back onto the pixels they came from. `ref` is the direct
 * seven-loop convolution (the oracle); the other variants lower to matmul.
 *
 * BACKWARD ACCUMULATES: it ADDS into dinp, dweight and dbias (each may be NULL to skip it);
 * the caller zeroes gradients once per step.
 *
 * CUDA (device pointers): `cudnn`, cuDNN's convolutions in true fp32 (no TF32); same function,
 * its own rounding (within 1e-4 of max|ref|); DL_ERR_UNSUPPORTED in a build without cuDNN.
 *
 * Left out: dilation, groups, different strides or paddings per axis, NHWC.
 */
#ifndef DLAB_CONV2D_H
#define DLAB_CONV2D_H

#include <stdbool.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dl_conv2d_args {
    int N, C_in, H, W;   /* input (N,C_in,H,W) */
    int C_out, KH, KW;   /* weight (C_out,C_in,KH,KW) */
    int stride, pad;     /* stride >= 1, pad >= 0, the same along H and W */
    const float *inp;    /* (N,C_in,H,W) */
    const float *weight; /* (C_out,C_in,KH,KW) */
    const float *bias;   /* (C_out), or NULL for none */
    float *out;          /* (N,C_out,OH,OW) forward output */
    const float *dout;   /* (N,C_out,OH,OW) backward: upstream gradient */
    float *dinp;         /* (N,C_in,H,W) backward: +=, or NULL */
    float *dweight;      /* (C_out,C_in,KH,KW) backward: +=, or NULL */
    float *dbias;        /* (C_out) backward: +=, or NULL */
} dl_conv2d_args;

typedef struct dl_conv2d_impl {
    dl_status (*forward)(const dl_conv2d_args *);
    dl_status (*backward)(const dl_conv2d_args *);
} dl_conv2d_impl;

/* Output height and width for these arguments (0 or less when the kernel does not fit). */
int dl_conv2d_out_h(const dl_conv2d_args *a);
int dl_conv2d_out_w(const dl_conv2d_args *a);

/* DL_OK or DL_ERR_ARG naming the bad field: negative sizes, stride < 1, pad < 0, a kernel
 * larger than the padded input, NULL tensors the pass needs. */
dl_status dl_conv2d_check(const dl_conv2d_args *a, bool backward);

/* Forward work: 2·N·Cout·OH·OW·Cin·KH·KW flops; bytes for inp, weight and out once.
 * The backward does about twice that (dW and dinp are one product each). */
dl_cost dl_conv2d_cost(const void *args);

dl_status dl_conv2d_forward(const dl_variant *v, const dl_conv2d_args *args);
dl_status dl_conv2d_backward(const dl_variant *v, const dl_conv2d_args *args);

/* The fastest conv2d variant available here (what the backends bind). */
const dl_variant *dl_conv2d_best(void);

/* ---------------------------------------------------------------- lowering */

/* The geometry of one image's patches: C channels of H×W, KH×KW windows, stride, pad. */
typedef struct dl_patch_shape {
    int C, H, W, KH, KW, stride, pad;
} dl_patch_shape;

/* im2col: cols[(c·KH + kh)·KW + kw][oh·OW + ow] = img[c, oh·stride+kh−pad, ow·stride+kw−pad]
 * (0 outside the image). img is one C×H×W image; cols has C·KH·KW rows with row stride
 * ld_cols >= OH·OW, so several images can sit side by side in one wide matrix. */
dl_status dl_im2col(const dl_patch_shape *p, const float *img, float *cols, long ld_cols);

/* col2im, the transpose (adjoint) of im2col: img[c, y, x] += every cols entry that im2col
 * would have copied from (c, y, x); entries that fall into the padding are dropped. It ADDS,
 * so a pixel covered by several windows receives the sum of their gradients. */
dl_status dl_col2im(const dl_patch_shape *p, const float *cols, long ld_cols, float *img);

#ifdef __cplusplus
}
#endif
#endif
