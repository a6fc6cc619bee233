/* softmax.h — the "softmax" op family: softmax over each row of an (N,V) matrix, the
 * subject of lesson 2 (Milakov & Gimelshein 2018, "Online normalizer calculation for
 * softmax").
 *
 *   inp (N,V), out (N,V), dout (N,V), dinp (N,V)
 *
 *   forward    out[i,j] = e^(inp[i,j] − m_i) / Σ_k e^(inp[i,k] − m_i),   m_i = max_k inp[i,k]
 *   backward   dinp[i,j] += out[i,j] · (dout[i,j] − Σ_k dout[i,k] · out[i,k])
 *
 * Backward reads the forward's out (not inp). BACKWARD ACCUMULATES into dinp; the caller
 * zeroes it once per step.
 *
 * Special values, the same for every variant except `naive` (which exists to overflow):
 *   - a −inf entry gets probability exactly 0;
 *   - a row holding a NaN or a +inf, or a row that is all −inf, becomes all NaN (+inf is
 *     read as "undefined", like inf − inf, not as a one-hot); other rows are untouched;
 *   - V = 0 or N = 0: nothing is read or written (inp/out may then be NULL).
 * `naive` (no max shift) returns inf/NaN once e^x overflows fp32 (x > ~88.7): by design.
 *
 * The pair rule of online softmax is public (dl_softmax_combine): a partial row summarized
 * as (m, d) = (max, Σ e^(x − m)) merges with another; it is associative and commutative,
 * so rows can be split across lanes, threads or tiles (FlashAttention uses the same rule).
 * fp32 row-major. The CUDA variants (device pointers) are listed when built with CUDA.
 */
#ifndef DLAB_SOFTMAX_H
#define DLAB_SOFTMAX_H

#include <stdbool.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dl_softmax_args {
    int N, V;
    const float *inp; /* (N,V), read by forward */
    float *out;       /* (N,V), written by forward, read by backward */
    const float *dout; /* (N,V), read by backward */
    float *dinp;       /* (N,V), added into by backward */
} dl_softmax_args;

typedef struct dl_softmax_impl {
    dl_status (*forward)(const dl_softmax_args *args);
    dl_status (*backward)(const dl_softmax_args *args);
} dl_softmax_impl;

/* Merge two partial summaries (m1, d1), (m2, d2) of disjoint parts of a row:
 *   m = max(m1, m2),  d = d1·e^(m1 − m) + d2·e^(m2 − m).
 * The empty part is (−inf, 0) and is the identity; a NaN in d propagates. */
void dl_softmax_combine(float m1, float d1, float m2, float d2, float *m, float *d);

/* DL_OK, or DL_ERR_ARG naming the first bad field (negative size, a needed NULL). */
dl_status dl_softmax_check(const dl_softmax_args *a, bool backward);

/* Cost of one forward: reads inp, writes out (8·N·V bytes); ~4 flops an element besides
 * the exp. */
dl_cost dl_softmax_cost(const void *args);

dl_status dl_softmax_forward(const dl_variant *v, const dl_softmax_args *args);
/* The fastest CPU softmax that runs here: online_avx512, online_avx2, else online. */
const dl_variant *dl_softmax_best(void);
dl_status dl_softmax_backward(const dl_variant *v, const dl_softmax_args *args);

#ifdef __cplusplus
}
#endif
#endif
