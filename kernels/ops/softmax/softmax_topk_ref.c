/* softmax_topk_ref.c — the oracle of the softmax_topk family: the row's softmax in double,
 * then K selection scans, each taking the best column ranked after the previous pick (logit
 * descending, ties by the smaller column). O(K·V) per row: obviously right, not fast.
 * Leaves out: speed, threads. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "softmax_topk_impl.h"

/* Is column a ranked before column b? */
static bool ranks_before(const float *x, int a, int b) {
    return x[a] > x[b] || (x[a] == x[b] && a < b);
}

static void ref_row(const float *x, int V, int K, float *prob, int *index) {
    double m = -INFINITY;
    bool undefined = false;
    for (int j = 0; j < V; j++) {
        if (isnan(x[j]) || x[j] == INFINITY) undefined = true;
        if (x[j] > m) m = x[j];
    }
    if (undefined || m == -INFINITY) {
        for (int k = 0; k < K; k++) prob[k] = NAN, index[k] = -1;
        return;
    }
    double sum = 0.0;
    for (int j = 0; j < V; j++) sum += exp((double)x[j] - m);
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int j = 0; j < V; j++) {
            /* Only columns ranked after the previous pick are left. */
            if (k > 0 && !ranks_before(x, index[k - 1], j)) continue;
            if (best < 0 || ranks_before(x, j, best)) best = j;
        }
        index[k] = best;
        prob[k] = (float)(exp((double)x[best] - m) / sum);
    }
}

dl_status dl_softmax_topk_ref(const dl_softmax_topk_args *a) {
    if ((long)a->N * a->V == 0) return DL_OK; /* nothing to rank, nothing written */
    for (long i = 0; i < a->N; i++)
        ref_row(a->inp + i * (long)a->V, a->V, a->K, a->prob + i * (long)a->K,
                a->index + i * (long)a->K);
    return DL_OK;
}
