/* maxpool.h — the "maxpool" op family: 2-D max pooling over NCHW tensors.
 *
 *   out[n,c,oh,ow] = max over the K×K window at (oh·stride, ow·stride) of inp[n,c,·,·]
 *   OH = (H − K) / stride + 1, OW likewise: floor mode (PyTorch's default), so when H or W is
 *   not covered exactly the last rows or columns that no whole window reaches are ignored.
 *
 * The forward saves, for every output, the position of its maximum inside its (n,c) plane
 * (argmax = y·W + x); the backward routes each dout there: dinp[n,c,argmax] += dout.
 *
 * Rules. Ties: the first maximum in row-major window order wins. NaN: a window holding a NaN
 * outputs NaN, and its argmax is the first NaN (so the gradient goes where the NaN came
 * from) — NaN is treated as larger than everything, as PyTorch does. ±inf are ordinary values.
 *
 * BACKWARD ACCUMULATES: it ADDS into dinp; the caller zeroes gradients once per step.
 *
 * CUDA (device pointers): `cuda` (bit for bit ref's out, argmax and dinp) and `cudnn` (cuDNN's
 * out, whose zeros may differ from ref's in sign; the rest as `cuda`).
 *
 * Left out: padding, dilation, ceil mode, non-square windows, average pooling.
 */
#ifndef DLAB_MAXPOOL_H
#define DLAB_MAXPOOL_H

#include <stdbool.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dl_maxpool_args {
    int N, C, H, W;    /* input (N,C,H,W) */
    int K, stride;     /* K×K windows, K >= 1, stride >= 1 (the CNN uses 2, 2) */
    const float *inp;  /* (N,C,H,W) */
    float *out;        /* (N,C,OH,OW) forward output */
    int *argmax;       /* (N,C,OH,OW) written by forward, read by backward: y·W + x */
    const float *dout; /* (N,C,OH,OW) backward: upstream gradient */
    float *dinp;       /* (N,C,H,W) backward: += */
} dl_maxpool_args;

typedef struct dl_maxpool_impl {
    dl_status (*forward)(const dl_maxpool_args *);
    dl_status (*backward)(const dl_maxpool_args *);
} dl_maxpool_impl;

int dl_maxpool_out_h(const dl_maxpool_args *a);
int dl_maxpool_out_w(const dl_maxpool_args *a);

/* DL_OK or DL_ERR_ARG naming the bad field: negative sizes, K or stride < 1, a window larger
 * than the input, NULL tensors the pass needs (forward: inp, out, argmax; backward: argmax,
 * dout, dinp). */
dl_status dl_maxpool_check(const dl_maxpool_args *a, bool backward);

/* K²−1 comparisons per output; bytes for inp, out and argmax once. */
dl_cost dl_maxpool_cost(const void *args);

dl_status dl_maxpool_forward(const dl_variant *v, const dl_maxpool_args *args);
dl_status dl_maxpool_backward(const dl_variant *v, const dl_maxpool_args *args);

/* The fastest maxpool variant available here (what the backends bind). */
const dl_variant *dl_maxpool_best(void);

#ifdef __cplusplus
}
#endif
#endif
