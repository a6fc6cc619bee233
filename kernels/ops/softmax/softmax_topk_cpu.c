/* softmax_topk_cpu.c — the CPU softmax_topk variants, OpenMP over rows:
 *
 *   unfused       the pipeline the paper starts from: the fastest softmax (dl_softmax_best)
 *                 writes every probability to `work`, then a top-k pass reads them back and
 *                 keeps the K largest. Memory traffic per element: softmax 2–3 reads + 1
 *                 write, top-k 1 read.
 *   fused         one scalar pass over the logits: the online (m, d) update and the running
 *                 top-K list of logits together; the K probabilities come from (m, d) at the
 *                 end. 1 read per element.
 *   fused_avx512  the same pass on 16 lanes: online_step16 for (m, d), and one vector compare
 *                 of the 16 logits with the current K-th logit; only the lanes that beat it
 *                 go to the scalar insertion, which after the first few hundred columns is
 *                 almost never.
 *
 * The first K columns of a row go straight into the list (anything beats an unfilled
 * list, even −inf); from then on the list is full and a column enters only by being
 * strictly greater than the K-th logit (softmax_topk_list.h).
 * unfused ranks the probabilities it wrote: where two different logits round to the same
 * fp32 probability (or both underflow to 0) it may order them by column instead of by
 * logit. The other variants rank the logits themselves and agree with ref exactly.
 * Leaves out: splitting one long row over threads; an AVX2 fused pass.
 */
#include <math.h>
#include <stdbool.h>

#include "../fast_math.h"
#include "dlab/softmax.h"
#include "softmax_simd.h"
#include "softmax_topk_impl.h"
#include "softmax_topk_list.h"

/* ------------------------------------------------------------------------- unfused */

/* The K largest of a row of probabilities y (written by a softmax). NaN probabilities mean
 * the softmax left the row undefined. */
static void topk_of_probs(const float *y, int V, int K, float *prob, int *index) {
    if (isnan(y[0])) {
        for (int k = 0; k < K; k++) prob[k] = NAN, index[k] = -1;
        return;
    }
    topk_list t = {0}; /* zeroed only to quiet GCC: val[K − 1] is written before read */
    topk_init(&t, K);
    int j = 0;
    for (; j < K; j++) topk_insert(&t, y[j], j);
    float threshold = t.val[K - 1];
    for (; j < V; j++) {
        if (y[j] > threshold) {
            topk_insert(&t, y[j], j);
            threshold = t.val[K - 1];
        }
    }
    for (int k = 0; k < K; k++) prob[k] = t.val[k], index[k] = t.idx[k];
}

dl_status dl_softmax_topk_unfused(const dl_softmax_topk_args *a) {
    if ((long)a->N * a->V == 0) return DL_OK;
    if (!a->work) return DL_FAIL(DL_ERR_ARG, "work is NULL: unfused needs an (N,V) scratch");
    dl_softmax_args s = {.N = a->N, .V = a->V, .inp = a->inp, .out = a->work};
    DL_TRY(dl_softmax_forward(dl_softmax_best(), &s));
    const long V = a->V, K = a->K;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < a->N; i++)
        topk_of_probs(a->work + i * V, a->V, a->K, a->prob + i * K, a->index + i * K);
    return DL_OK;
}

/* --------------------------------------------------------------------------- fused */
static void fused_row(const float *x, int V, int K, float *prob, int *index) {
    topk_list t = {0}; /* zeroed only to quiet GCC: val[K − 1] is written before read */
    topk_init(&t, K);
    float m = -INFINITY, d = 0.0f;
    for (int j = 0; j < V; j++) {
        online_update(x[j], &m, &d);
        if (topk_wants(&t, x[j])) topk_insert(&t, x[j], j);
    }
    topk_write(&t, row_defined(m, d), m, d, prob, index);
}

#ifdef DL_HAVE_X86_TARGETS
DL_TARGET_AVX512 static void fused_row_avx512(const float *x, int V, int K, float *prob,
                                              int *index) {
    topk_list t = {0}; /* zeroed only to quiet GCC: val[K − 1] is written before read */
    topk_init(&t, K);
    /* The first K columns, scalar: they fill the list. */
    float m_head = -INFINITY, d_head = 0.0f;
    int j = 0;
    for (; j < K; j++) {
        online_update(x[j], &m_head, &d_head);
        topk_insert(&t, x[j], j);
    }
    const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
    __m512 m = neg_inf, d = _mm512_setzero_ps();
    __m512 threshold = _mm512_set1_ps(t.val[K - 1]);
    for (; j < V; j += 16) {
        /* The last block reads −inf in its missing lanes: weight 0, never above a threshold. */
        const __m512 xv = j + 16 <= V ? _mm512_loadu_ps(x + j)
                                      : _mm512_mask_loadu_ps(neg_inf, tail_mask(V - j), x + j);
        online_step16(xv, &m, &d);
        __mmask16 hits = _mm512_cmp_ps_mask(xv, threshold, _CMP_GT_OQ);
        if (hits) {
            /* Lowest lane first keeps columns in increasing order; each insertion raises
             * the bar, so later lanes are compared again. */
            for (; hits; hits &= (__mmask16)(hits - 1)) {
                const int col = j + __builtin_ctz(hits);
                if (topk_wants(&t, x[col])) topk_insert(&t, x[col], col);
            }
            threshold = _mm512_set1_ps(t.val[K - 1]);
        }
    }
    float m_lanes, d_lanes, m_all, d_all;
    merge_lanes16(m, d, &m_lanes, &d_lanes);
    combine_fast(m_head, d_head, m_lanes, d_lanes, &m_all, &d_all);
    topk_write(&t, row_defined(m_all, d_all), m_all, d_all, prob, index);
}
#else
static void fused_row_avx512(const float *x, int V, int K, float *prob, int *index) {
    fused_row(x, V, K, prob, index);
}
#endif

typedef void (*topk_row_fn)(const float *x, int V, int K, float *prob, int *index);

static dl_status rows(const dl_softmax_topk_args *a, topk_row_fn row) {
    const long V = a->V, K = a->K;
    if ((long)a->N * a->V == 0) return DL_OK;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < a->N; i++)
        row(a->inp + i * V, a->V, a->K, a->prob + i * K, a->index + i * K);
    return DL_OK;
}

dl_status dl_softmax_topk_fused(const dl_softmax_topk_args *a) { return rows(a, fused_row); }
dl_status dl_softmax_topk_fused_avx512(const dl_softmax_topk_args *a) {
    return rows(a, fused_row_avx512);
}
