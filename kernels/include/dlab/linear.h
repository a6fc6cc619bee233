/* linear.h — the linear (fully connected) op family: out = inp·weightᵀ + bias.
 *
 *   inp (N,C), weight (OC,C), bias (OC) or NULL, out (N,OC)         N rows, C in, OC out
 *
 *   forward    out  = inp·weightᵀ + bias
 *   backward   dinp    += dout·weight        (N,C)     each may be NULL: not wanted
 *              dweight += doutᵀ·inp          (OC,C)
 *              dbias   += Σ_rows dout        (OC)
 *
 * BACKWARD ACCUMULATES: it adds into dinp, dweight and dbias, never overwrites them, so a
 * parameter used twice gets both contributions; the caller zeroes gradients once per step.
 * Both passes are built on the matmul family (dlab/matmul.h): `ref` runs matmul's ref,
 * `omp` runs dl_matmul_best(DL_DEVICE_CPU). fp32, row-major, tightly packed; N, C or OC may
 * be 0. Variant "cublas" takes device pointers (the matmuls through cuBLAS, true fp32).
 */
#ifndef DLAB_LINEAR_H
#define DLAB_LINEAR_H

#include <stddef.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dl_linear_args {
    int N, C, OC;
    /* forward */
    const float *inp;    /* (N,C) */
    const float *weight; /* (OC,C) */
    const float *bias;   /* (OC), or NULL for no bias */
    float *out;          /* (N,OC), written by forward */
    /* backward: dout is read, the rest are added into (NULL = not wanted) */
    const float *dout; /* (N,OC) */
    float *dinp;       /* (N,C) */
    float *dweight;    /* (OC,C) */
    float *dbias;      /* (OC); ignored when bias is NULL */
} dl_linear_args;

/* What a variant's `impl` points to: one forward and its backward. */
typedef struct dl_linear_impl {
    dl_status (*forward)(const dl_linear_args *args);
    dl_status (*backward)(const dl_linear_args *args);
} dl_linear_impl;

/* DL_OK, or DL_ERR_ARG naming the first bad field (negative size, a needed pointer NULL).
 * `backward` selects which pass's tensors must be present. */
dl_status dl_linear_check(const dl_linear_args *a, bool backward);

/* Cost of one forward: 2·N·C·OC flops; bytes to read inp, weight, bias and write out.
 * (A backward costs about twice the flops.) */
dl_cost dl_linear_cost(const void *args);

/* Check the arguments, then run the variant's forward / backward (family "linear"). */
dl_status dl_linear_forward(const dl_variant *v, const dl_linear_args *args);
dl_status dl_linear_backward(const dl_variant *v, const dl_linear_args *args);

#ifdef __cplusplus
}
#endif
#endif
