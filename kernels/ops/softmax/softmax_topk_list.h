/* softmax_topk_list.h — private to kernels/ops/softmax: a running top-K list of (logit,
 * column), kept sorted by logit descending, ties by the smaller column.
 *
 * Columns arrive in increasing order, so a newcomer equal to an entry ranks after it: it
 * enters only by being strictly greater than the last entry (once the list is full), and it
 * moves up only past strictly smaller entries. With random logits almost every element
 * fails the first comparison; the expected number of insertions in a row of V is about
 * K·(1 + ln(V/K)), which is why fusing top-k into the softmax pass costs almost nothing.
 */
#ifndef DLAB_SOFTMAX_TOPK_LIST_H
#define DLAB_SOFTMAX_TOPK_LIST_H

#include <math.h>

#include "dlab/softmax_topk.h"

typedef struct topk_list {
    int K, count;
    float val[DL_TOPK_MAX];
    int idx[DL_TOPK_MAX];
} topk_list;

static inline void topk_init(topk_list *t, int K) {
    t->K = K;
    t->count = 0;
}

/* Does (x, column) belong in the list? A NaN never beats a full list. */
static inline bool topk_wants(const topk_list *t, float x) {
    return t->count < t->K || x > t->val[t->K - 1];
}

/* Insert (x, column) where topk_wants said yes. */
static inline void topk_insert(topk_list *t, float x, int column) {
    int pos = t->count < t->K ? t->count++ : t->K - 1;
    while (pos > 0 && t->val[pos - 1] < x) {
        t->val[pos] = t->val[pos - 1];
        t->idx[pos] = t->idx[pos - 1];
        pos--;
    }
    t->val[pos] = x;
    t->idx[pos] = column;
}

/* The K outputs of a row: probabilities e^(v − m)/d of the listed logits, or NaN and −1 for
 * a row softmax leaves undefined. */
static inline void topk_write(const topk_list *t, bool defined, float m, float d, float *prob,
                              int *index) {
    for (int k = 0; k < t->K; k++) {
        prob[k] = defined ? expf(t->val[k] - m) / d : NAN;
        index[k] = defined ? t->idx[k] : -1;
    }
}

#endif
