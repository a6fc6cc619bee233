/* embedding.h — the "embedding" op family: token + position embedding, GPT-2's input layer.
 *
 *   tokens (B,T) int, wte (V,C), wpe (maxT,C), out (B,T,C)
 *
 *   forward    out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]
 *   backward   dwte[tokens[b,t],:] += dout[b,t,:]     (scatter-add: a token that appears k
 *              dwpe[t,:]           += dout[b,t,:]      times gets k contributions)
 *
 * Every variant adds the contributions to one gradient element in the same order (b, then
 * t, ascending) with no atomics, so all variants give the same bits, at any thread count.
 * BACKWARD ACCUMULATES: dwte and dwpe are added into (either may be NULL: not wanted); the
 * caller zeroes gradients once per step. T ≤ maxT; a token outside [0,V) is DL_ERR_ARG
 * naming its position. fp32 row-major. Variant "cuda" takes device pointers and cannot read the tokens on the host:
 * a token out of range there makes its output row NaN (and gets no gradient) instead of
 * DL_ERR_ARG; check tokens on the host first (dl_embedding_check) when that matters.
 */
#ifndef DLAB_EMBEDDING_H
#define DLAB_EMBEDDING_H

#include <stddef.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dl_embedding_args {
    int B, T, C;
    int V;    /* rows of wte: the vocabulary size */
    int maxT; /* rows of wpe: the longest context */
    /* forward */
    const int *tokens; /* (B,T), each in [0,V) */
    const float *wte;  /* (V,C) token embeddings */
    const float *wpe;  /* (maxT,C) position embeddings */
    float *out;        /* (B,T,C), written by forward */
    /* backward: dout is read, dwte and dwpe are added into (NULL = not wanted) */
    const float *dout; /* (B,T,C) */
    float *dwte;       /* (V,C) */
    float *dwpe;       /* (maxT,C) */
} dl_embedding_args;

typedef struct dl_embedding_impl {
    dl_status (*forward)(const dl_embedding_args *args);
    dl_status (*backward)(const dl_embedding_args *args);
} dl_embedding_impl;

/* DL_OK, or DL_ERR_ARG naming the bad field: negative size, T > maxT, a needed NULL, or the
 * first token out of range ("tokens[1*T+5]=99 is outside [0,V=96)"). */
dl_status dl_embedding_check(const dl_embedding_args *a, bool backward);

/* Cost of one forward: B·T·C additions; reads two rows and writes one per position. */
dl_cost dl_embedding_cost(const void *args);

dl_status dl_embedding_forward(const dl_variant *v, const dl_embedding_args *args);
dl_status dl_embedding_backward(const dl_variant *v, const dl_embedding_args *args);

#ifdef __cplusplus
}
#endif
#endif
