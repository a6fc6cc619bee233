/* layernorm.h — the "layernorm" op family: layer normalization over the last dimension
 * (Ba, Kiros & Hinton 2016), as in GPT-2.
 *
 *   inp (N,C), gamma (C), beta (C), out (N,C), mean (N), rstd (N)
 *
 *   forward    mean[i] = Σ_c inp[i,c] / C,  var[i] = Σ_c (inp[i,c] − mean[i])² / C
 *              rstd[i] = 1 / √(var[i] + eps)
 *              out[i,c] = (inp[i,c] − mean[i]) · rstd[i] · gamma[c] + beta[c]
 *   backward   with n = (inp − mean)·rstd and g = dout·gamma, per row:
 *              dinp   += rstd · (g − mean_c(g) − n · mean_c(g·n))
 *              dgamma += Σ_rows dout · n,    dbeta += Σ_rows dout
 *
 * Forward saves mean and rstd for backward (backward reads them instead of recomputing).
 * The variance is the biased one (÷C), like PyTorch's LayerNorm. eps = 0 in the arguments
 * means DL_LAYERNORM_EPS. Each gradient pointer may be NULL (not wanted).
 * BACKWARD ACCUMULATES: dinp, dgamma and dbeta are added into; the caller zeroes them once
 * per step. N or C may be 0 (nothing is written). fp32 row-major. Variant "cuda" takes device pointers.
 */
#ifndef DLAB_LAYERNORM_H
#define DLAB_LAYERNORM_H

#include <stddef.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DL_LAYERNORM_EPS 1e-5f

typedef struct dl_layernorm_args {
    int N, C;
    float eps; /* 0 → DL_LAYERNORM_EPS */
    /* forward */
    const float *inp;   /* (N,C) */
    const float *gamma; /* (C) scale */
    const float *beta;  /* (C) shift */
    float *out;         /* (N,C), written by forward */
    float *mean;        /* (N), written by forward, read by backward */
    float *rstd;        /* (N), written by forward, read by backward */
    /* backward: dout is read, the rest are added into (NULL = not wanted) */
    const float *dout; /* (N,C) */
    float *dinp;       /* (N,C) */
    float *dgamma;     /* (C) */
    float *dbeta;      /* (C) */
} dl_layernorm_args;

typedef struct dl_layernorm_impl {
    dl_status (*forward)(const dl_layernorm_args *args);
    dl_status (*backward)(const dl_layernorm_args *args);
} dl_layernorm_impl;

/* DL_OK, or DL_ERR_ARG naming the first bad field (negative size or eps, a needed NULL). */
dl_status dl_layernorm_check(const dl_layernorm_args *a, bool backward);

/* Cost of one forward: ~8 flops per element; reads inp, writes out (gamma, beta, mean, rstd
 * are small). */
dl_cost dl_layernorm_cost(const void *args);

dl_status dl_layernorm_forward(const dl_variant *v, const dl_layernorm_args *args);
dl_status dl_layernorm_backward(const dl_variant *v, const dl_layernorm_args *args);

#ifdef __cplusplus
}
#endif
#endif
