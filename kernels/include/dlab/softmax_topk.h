/* softmax_topk.h — the "softmax_topk" op family: the k most probable entries of each row's
 * softmax, the second result of Milakov & Gimelshein 2018 (what a beam search or a sampler
 * at the end of a language model needs: never the whole distribution).
 *
 *   inp (N,V) logits  →  prob (N,K) the K largest of softmax(inp[i,:]), descending,
 *                         index (N,K) their columns
 *
 * Order: by logit descending, ties broken by the smaller column index (so the answer is
 * unique and every variant gives the same indices). K may be up to min(V, DL_TOPK_MAX).
 * A −inf logit has probability 0 and is still a candidate (it ranks last). A row that
 * softmax leaves undefined (a NaN, a +inf, all −inf; see softmax.h) gets prob NaN and
 * index −1 in all K slots; other rows are untouched.
 *
 * Variants:
 *   ref            double precision, the full softmax, then K selection scans: the oracle
 *   unfused        the paper's baseline pipeline: the fastest softmax writes all N·V
 *                  probabilities to `work`, then a separate top-k pass reads them back
 *                  (softmax 3 reads + 1 write, top-k 1 read: 5 accesses per element)
 *   fused          one pass: the running (max, normalizer) of online softmax and a running
 *                  top-K list of logits together; probabilities only for the K winners
 *                  (1 access per element)
 *   fused_avx512   the same with 16 lanes; a vector is compared with the current K-th logit
 *                  and only lanes that beat it go to the (rare) scalar insertion
 * CUDA twins (device pointers) are listed when built with CUDA.
 */
#ifndef DLAB_SOFTMAX_TOPK_H
#define DLAB_SOFTMAX_TOPK_H

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { DL_TOPK_MAX = 64 };

typedef struct dl_softmax_topk_args {
    int N, V, K;      /* N >= 0, V >= 0; 1 <= K <= min(V, DL_TOPK_MAX) when N·V > 0 */
    const float *inp; /* (N,V) logits */
    float *prob;      /* (N,K) out: probabilities, descending */
    int *index;       /* (N,K) out: their column indices */
    float *work;      /* (N,V) scratch for "unfused" (its written probabilities); others: NULL ok */
} dl_softmax_topk_args;

typedef dl_status (*dl_softmax_topk_fn)(const dl_softmax_topk_args *args);

/* DL_OK, or DL_ERR_ARG naming the bad field (negative size, K out of range, a NULL). Does
 * not check `work` (only "unfused" needs it; it checks itself). */
dl_status dl_softmax_topk_check(const dl_softmax_topk_args *a);

/* The fused pass's work: reads inp once (4·N·V bytes) and writes 8·N·K. "unfused" reports
 * its own larger traffic (4·N·V·5). */
dl_cost dl_softmax_topk_cost(const void *args);
dl_cost dl_softmax_topk_unfused_cost(const void *args);

/* Check the arguments, then run the variant. */
dl_status dl_softmax_topk(const dl_variant *v, const dl_softmax_topk_args *args);

#ifdef __cplusplus
}
#endif
#endif
