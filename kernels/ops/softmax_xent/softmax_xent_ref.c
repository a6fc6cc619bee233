/* softmax_xent_ref.c — the `ref` softmax + cross-entropy: one row at a time, in double, the
 * formulas of dlab/softmax_xent.h as written. The test oracle; leaves out speed. */
#include <math.h>

#include "softmax_xent_impl.h"

static dl_status forward(const dl_softmax_xent_args *a) {
    double total = 0.0;
    for (int i = 0; i < a->N; i++) {
        const float *x = a->logits + (size_t)i * a->V;
        float *p = a->probs + (size_t)i * a->V;
        double max = -INFINITY, sum = 0.0;
        for (int j = 0; j < a->V; j++)
            if (x[j] > max) max = x[j];
        for (int j = 0; j < a->V; j++)
            sum += exp((double)x[j] - max);
        for (int j = 0; j < a->V; j++)
            p[j] = (float)(exp((double)x[j] - max) / sum);
        const int t = a->targets[i];
        /* −log p_t = log Σ e^(x_j − max) − (x_t − max): no log of a tiny probability. */
        double loss = t == DL_XENT_IGNORE ? 0.0 : log(sum) - ((double)x[t] - max);
        a->losses[i] = (float)loss;
        total += loss;
    }
    if (a->mean_loss) {
        int valid = dl_softmax_xent_valid_rows(a->targets, a->N);
        *a->mean_loss = valid > 0 ? (float)(total / valid) : 0.0f;
    }
    return DL_OK;
}

static dl_status backward(const dl_softmax_xent_args *a) {
    int valid = dl_softmax_xent_valid_rows(a->targets, a->N);
    if (valid == 0) return DL_OK;
    const double scale = (double)a->dloss_scale / valid;
    for (int i = 0; i < a->N; i++) {
        const int t = a->targets[i];
        if (t == DL_XENT_IGNORE) continue;
        const float *p = a->probs + (size_t)i * a->V;
        float *d = a->dlogits + (size_t)i * a->V;
        for (int j = 0; j < a->V; j++)
            d[j] = (float)((double)d[j] + scale * ((double)p[j] - (j == t ? 1.0 : 0.0)));
    }
    return DL_OK;
}

const dl_softmax_xent_impl dl_softmax_xent_ref_impl = {forward, backward};
