/* softmax_ref.c — the oracle: max-shifted softmax and its backward in double, one row at a
 * time, no threads. Implements the special-value rules of softmax.h explicitly (a NaN or
 * +inf anywhere, or an all −inf row, gives an all-NaN row).
 * Leaves out: speed. */
#include <math.h>

#include "softmax_impl.h"

static void fill_nan(float *y, int V) {
    for (int j = 0; j < V; j++) y[j] = NAN;
}

static dl_status ref_forward(const dl_softmax_args *a) {
    for (long i = 0; i < a->N; i++) {
        const float *x = a->inp + i * (long)a->V;
        float *y = a->out + i * (long)a->V;
        double m = -INFINITY;
        int undefined = 0;
        for (int j = 0; j < a->V; j++) {
            if (isnan(x[j]) || x[j] == INFINITY) undefined = 1;
            if (x[j] > m) m = x[j];
        }
        if (undefined || m == -INFINITY) {
            fill_nan(y, a->V);
            continue;
        }
        double sum = 0.0;
        for (int j = 0; j < a->V; j++) sum += exp((double)x[j] - m);
        for (int j = 0; j < a->V; j++) y[j] = (float)(exp((double)x[j] - m) / sum);
    }
    return DL_OK;
}

static dl_status ref_backward(const dl_softmax_args *a) {
    if (!a->dinp) return DL_OK;
    for (long i = 0; i < a->N; i++) {
        const float *y = a->out + i * (long)a->V, *dy = a->dout + i * (long)a->V;
        float *dx = a->dinp + i * (long)a->V;
        double dot = 0.0;
        for (int j = 0; j < a->V; j++) dot += (double)dy[j] * y[j];
        for (int j = 0; j < a->V; j++) dx[j] += (float)(y[j] * ((double)dy[j] - dot));
    }
    return DL_OK;
}

const dl_softmax_impl dl_softmax_ref_impl = {ref_forward, ref_backward};
