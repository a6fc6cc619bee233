/* act.h — the activation op families "relu" and "gelu": out = f(inp), element by element.
 *
 *   inp (n), out (n)                 any shape, seen as n floats
 *   forward    out  = f(inp)         may run in place (out == inp), but backward needs inp
 *   backward   dinp += dout · f'(inp)
 *
 *   relu(x) = x < 0 ? 0 : x          relu'(x) = x > 0 ? 1 : 0 (0 at the kink x = 0)
 *   gelu(x) = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))      the tanh form of GPT-2
 *           = x · σ(2u), u = √(2/π)·(x + 0.044715·x³)        (½(1 + tanh u) = σ(2u))
 *
 * Special values. NaN in gives NaN out (relu too: relu(NaN) = NaN); relu' of NaN is 0.
 * At ±inf both return their limits: gelu(+inf) = +inf, gelu(-inf) = 0, gelu'(+inf) = 1,
 * gelu'(-inf) = 0. Huge finite inputs (1e30, where x³ overflows) give the same limits.
 *
 * BACKWARD ACCUMULATES: dinp += ..., never dinp = ...; the caller zeroes gradients once per
 * step. Variants: `ref` (double), `omp` (OpenMP, plain loops), `omp_avx2` / `omp_avx512`
 * (the same loops compiled for those instruction sets; gelu uses an exp polynomial the
 * compiler can vectorize, within ~1e-6 of ref). Variant "cuda" (device pointers) when built with CUDA.
 */
#ifndef DLAB_ACT_H
#define DLAB_ACT_H

#include <stddef.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dl_act_args {
    size_t n;
    const float *inp;  /* (n) */
    float *out;        /* (n), written by forward */
    const float *dout; /* (n), read by backward */
    float *dinp;       /* (n), added into by backward */
} dl_act_args;

/* What a relu or gelu variant's `impl` points to. */
typedef struct dl_act_impl {
    dl_status (*forward)(const dl_act_args *args);
    dl_status (*backward)(const dl_act_args *args);
} dl_act_impl;

/* DL_OK, or DL_ERR_ARG naming the NULL pointer the pass needs (n > 0). */
dl_status dl_act_check(const dl_act_args *a, bool backward);

/* Cost of one forward: relu n flops, gelu ~20n flops (its exp counted as ~10); 8n bytes. */
dl_cost dl_relu_cost(const void *args);
dl_cost dl_gelu_cost(const void *args);

/* Check the arguments, then run the variant's forward / backward (its family must be "relu"
 * or "gelu"; `v` says which function is computed). */
dl_status dl_act_forward(const dl_variant *v, const dl_act_args *args);
dl_status dl_act_backward(const dl_variant *v, const dl_act_args *args);

#ifdef __cplusplus
}
#endif
#endif
