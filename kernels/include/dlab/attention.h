/* attention.h — the "attention" op family: the core of causal multi-head self-attention.
 *
 * It starts after the QKV projection and stops before the output projection (both are the
 * "linear" family). For each batch b, head h and position t, with hs = C / NH:
 *
 *   q = qkv[b,t, 0C + h·hs : +hs]   k_s = qkv[b,s, 1C + h·hs : +hs]   v_s = qkv[b,s, 2C + h·hs :
 * +hs] preatt[b,h,t,s] = (q · k_s) / √hs                       for s <= t (causal) att[b,h,t,0..t]
 * = softmax(preatt[b,h,t,0..t])           (the row softmax is pluggable) out[b,t, h·hs : +hs] =
 * Σ_{s<=t} att[b,h,t,s] · v_s
 *
 * Entries s > t of att (and of preatt when stored) are written as 0.
 *
 * The softmax is a function pointer so that lesson 2 can plug in online and flash-style
 * versions: it is called once per row with the t+1 scores of that row and must write their
 * softmax (in == out is allowed). NULL means the variant's own default: `ref` uses
 * dl_softmax_row_safe, the SIMD variants dl_softmax_row_safe_simd (the same three passes,
 * with a vectorized exp). The backward pass does not call it: it uses the saved att. The
 * multi-threaded variants call it from several threads at once, so it must be thread-safe.
 *
 * BACKWARD ACCUMULATES: it ADDS into dqkv (like llm.c); the caller zeroes gradients once per
 * step. It reads qkv, att (as the forward left it) and dout.
 *
 * Left out: dropout, a key-padding mask, grouped/multi-query heads, KV caches.
 */
#ifndef DLAB_ATTENTION_H
#define DLAB_ATTENTION_H

#include <stdbool.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes softmax(in[0..n)) to out[0..n); in == out is allowed; n >= 1. */
typedef void (*dl_softmax_row_fn)(const float *in, float *out, int n);

/* The textbook safe softmax in three passes: m = max, e_i = exp(x_i − m) with Σe in double,
 * out_i = e_i / Σe. Subtracting m keeps exp from overflowing, so rows like 1e30 stay finite.
 * A NaN anywhere in the row, or +inf (inf − inf), makes the whole row NaN. */
void dl_softmax_row_safe(const float *in, float *out, int n);
/* The same three passes with a polynomial exp, vectorized with AVX-512 or AVX2 when the CPU
 * has them; outputs within 4e-7 relative of the exact softmax (measured: 3.6e-7); same NaN
 * rule. Scores more than 87 below the row's max give exactly 0. */
void dl_softmax_row_safe_simd(const float *in, float *out, int n);

typedef struct dl_attention_args {
    int B, T, C, NH;           /* NH must divide C; head size hs = C / NH */
    const float *qkv;          /* (B,T,3C): [q | k | v] per token */
    float *out;                /* (B,T,C) forward output */
    float *att;                /* (B,NH,T,T) probabilities: written by forward, read by backward */
    float *preatt;             /* (B,NH,T,T) scaled scores, or NULL not to store them */
    dl_softmax_row_fn softmax; /* NULL: the variant's default (see above) */
    const float *dout;         /* (B,T,C) backward: upstream gradient */
    float *dqkv;               /* (B,T,3C) backward: += gradient of qkv */
} dl_attention_args;

/* One variant = one forward + backward pair; impl of a dl_variant points to one of these. */
typedef struct dl_attention_impl {
    dl_status (*forward)(const dl_attention_args *);
    dl_status (*backward)(const dl_attention_args *);
} dl_attention_impl;

/* DL_OK or DL_ERR_ARG naming the bad field: sizes < 0, NH not dividing C (names both),
 * NULL tensors that the pass needs (backward: qkv, att, dout, dqkv). */
dl_status dl_attention_check(const dl_attention_args *a, bool backward);

/* The forward pass's work: 2·B·NH·T(T+1)/2·hs flops for each of QKᵀ and att·V plus ~5 per
 * probability; bytes for qkv, out and att once. The variants' `cost` is this one. */
dl_cost dl_attention_cost(const void *args);
/* The backward pass's work (about twice the forward's). */
dl_cost dl_attention_backward_cost(const void *args);

/* Check the arguments, then run the variant's forward / backward. */
dl_status dl_attention_forward(const dl_variant *v, const dl_attention_args *args);
dl_status dl_attention_backward(const dl_variant *v, const dl_attention_args *args);

/* The fastest attention variant available on this CPU (what the backends bind). */
const dl_variant *dl_attention_best(void);

#ifdef __cplusplus
}
#endif
#endif
