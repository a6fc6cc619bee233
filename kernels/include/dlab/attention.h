/* attention.h — the "attention" op family: the core of causal multi-head self-attention.
 *
 * It starts after the QKV projection and stops before the output projection (both are the
 * "linear" family). For each batch b, head h and position t, with hs = C / NH:
 *
 *   q   = qkv[b,t, 0C + h·hs : +hs]     k_s = qkv[b,s, 1C + h·hs : +hs]
 *   v_s = qkv[b,s, 2C + h·hs : +hs]
 *   preatt[b,h,t,s]      = (q · k_s) / √hs                 for s <= t (causal)
 *   att[b,h,t,0..t]      = softmax(preatt[b,h,t,0..t])     (the row softmax is pluggable)
 *   out[b,t, h·hs : +hs] = Σ_{s<=t} att[b,h,t,s] · v_s
 *
 * Entries s > t of att (and of preatt when stored) are written as 0.
 *
 * The softmax is a function pointer so that lesson 2 can plug in online and flash-style
 * versions: it is called once per row with the t+1 scores of that row and must write their
 * softmax (in == out is allowed). NULL means the variant's own default: `ref` uses
 * dl_softmax_row_safe, omp_avx512 and omp_avx2 dl_softmax_row_safe_simd (the same three passes,
 * with a vectorized exp). The backward pass does not call it: it uses the saved att. The
 * multi-threaded variants call it from several threads at once, so it must be thread-safe.
 *
 * BACKWARD ACCUMULATES: it ADDS into dqkv (like llm.c); the caller zeroes gradients once per
 * step. It reads qkv, att (as the forward left it) and dout (a flash backward: qkv, lse, out
 * and dout; see below).
 *
 * Two kinds of variant (dl_attention_materializes tells which):
 *   materialized (ref, omp_avx512, omp_avx2): write att (and preatt) as above, T×T per head:
 *     dl_attention_scores_bytes; they ignore lse.
 *   flash (flash, flash_avx512, flash_avx2, and cuda_flash on device pointers): never read
 *     or write att or preatt (both may be NULL). Per block of query rows they walk the keys
 *     in blocks and keep, per row, a running max m, normalizer l and unnormalized output O
 *     (FlashAttention, Dao et al. 2022; the online softmax of Milakov & Gimelshein 2018):
 *     for each key block, S = q·kᵀ·scale, m' = max(m, max S), P = e^(S − m'),
 *     l = l·e^(m − m') + ΣP, O = O·e^(m − m') + P·V;
 *     at the end out = O / l. The forward writes lse = m + log l per row when lse is not NULL.
 *     The backward (FlashAttention-2) recomputes P = e^(S − lse) tile by tile, so it needs
 *     lse from the forward and ALSO READS out (for D_t = Σ dout_t · out_t, which replaces
 *     Σ_s P·dP); lse == NULL there is DL_ERR_ARG. The softmax pointer does not apply to them
 *     (the softmax is fused into the tile loop) and is ignored.
 *   Speed, flash_avx512 against omp_avx512, forward + backward, 2 threads on 2 shared Zen 5
 *   cores, medians of 6 interleaved rounds (measured 2026-11-23 with a throwaway program):
 *     lesson 0's GPT layer, B=16 T=128 C=128 NH=4:  2.62 vs 2.96 ms, per-round ratio 0.90
 *       (forward 0.88 vs 1.19 ms; backward, which recomputes P, 1.73 vs 1.77)
 *     B=4 T=1024 C=128 NH=4:                         29.7 vs 31.8 ms, ratio 0.94
 *       (forward 10.1 vs 11.9 ms; backward 19.5 vs 19.7)
 *   One thread, CPU time: ratios 0.89 and 0.95. So flash wins from T = 128 up (every round
 *   but one tie under load) and dl_attention_best picks it. The gain is the forward's: its
 *   scores stay in a 1 KiB tile in L1 instead of being written to att, rewritten by the
 *   softmax and read again for P·V; the backward's extra work (recomputing S and P) is about
 *   paid for by its cheaper tiling. Also faster with head size 64 (C=512, NH=8, T=256, 1024).
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
    float *lse;                /* (B,NH,T) log Σ_s e^(score_s) per row (= m + log l): written by
                                  the flash forward when not NULL, read by the flash backward;
                                  the materialized variants ignore it */
} dl_attention_args;

/* One variant = one forward + backward pair; impl of a dl_variant points to one of these. */
typedef struct dl_attention_impl {
    dl_status (*forward)(const dl_attention_args *);
    dl_status (*backward)(const dl_attention_args *);
    bool materializes_att; /* writes att (T×T per head); false for the flash variants */
} dl_attention_impl;

/* DL_OK or DL_ERR_ARG naming the bad field: sizes < 0, NH not dividing C (names both),
 * NULL tensors that every variant needs (forward: qkv, out; backward: qkv, dout, dqkv).
 * What depends on the variant is checked by dl_attention_forward / _backward: att for the
 * materialized ones, lse and out for a flash backward. */
dl_status dl_attention_check(const dl_attention_args *a, bool backward);

/* true when v writes (and its backward reads) att; false for flash variants (and NULL). */
bool dl_attention_materializes(const dl_variant *v);

/* Bytes the materialized variants write for att in one forward, 4·B·NH·T·T: the score
 * matrix a flash variant never stores (it keeps 4·B·NH·T bytes of lse instead). */
double dl_attention_scores_bytes(const dl_attention_args *a);

/* The forward pass's work: 2·B·NH·T(T+1)/2·hs flops for each of QKᵀ and att·V plus ~5 per
 * probability; bytes for qkv, out and att once. The materialized variants' `cost`. */
dl_cost dl_attention_cost(const void *args);
/* The same flops; bytes for qkv, out and lse (no att). The flash variants' `cost`. */
dl_cost dl_attention_flash_cost(const void *args);
/* The backward pass's work (about twice the forward's). */
dl_cost dl_attention_backward_cost(const void *args);

/* Check the arguments, then run the variant's forward / backward. */
dl_status dl_attention_forward(const dl_variant *v, const dl_attention_args *args);
dl_status dl_attention_backward(const dl_variant *v, const dl_attention_args *args);

/* The fastest attention variant available on this CPU (what the backends and the GPT's
 * "fast" bind); see the speed note at the top for which kind that is and why. */
const dl_variant *dl_attention_best(void);

#ifdef __cplusplus
}
#endif
#endif
