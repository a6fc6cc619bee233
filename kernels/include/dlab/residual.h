/* residual.h — the "residual" op family: the skip connection out = a + b.
 *
 *   a (n), b (n), out (n)            any shape, seen as n floats
 *   forward    out = a + b           out may be a or b (in place)
 *   backward   da += dout, db += dout   (either may be NULL: not wanted)
 *
 * BACKWARD ACCUMULATES: da and db are added into; the caller zeroes gradients once per
 * step. Variants: `ref` (one loop) and `omp` (OpenMP chunks, compiler-vectorized); the op is
 * memory-bound, so wider SIMD would not help. Variant "cuda" takes device pointers.
 */
#ifndef DLAB_RESIDUAL_H
#define DLAB_RESIDUAL_H

#include <stddef.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dl_residual_args {
    size_t n;
    const float *a, *b; /* (n) each */
    float *out;         /* (n), written by forward */
    const float *dout;  /* (n), read by backward */
    float *da, *db;     /* (n) each, added into by backward */
} dl_residual_args;

typedef struct dl_residual_impl {
    dl_status (*forward)(const dl_residual_args *args);
    dl_status (*backward)(const dl_residual_args *args);
} dl_residual_impl;

/* DL_OK, or DL_ERR_ARG naming the NULL pointer the pass needs (n > 0). */
dl_status dl_residual_check(const dl_residual_args *args, bool backward);

/* Cost of one forward: n additions, 12n bytes. */
dl_cost dl_residual_cost(const void *args);

dl_status dl_residual_forward(const dl_variant *v, const dl_residual_args *args);
dl_status dl_residual_backward(const dl_variant *v, const dl_residual_args *args);

#ifdef __cplusplus
}
#endif
#endif
