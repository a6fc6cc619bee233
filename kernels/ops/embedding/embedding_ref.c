/* embedding_ref.c — the `ref` embedding: the loops of dlab/embedding.h as written. The
 * gradient is a scatter-add in fp32 in (b, t) order — the order every variant keeps, so a
 * fast variant must match it bit for bit. The test oracle; leaves out speed. */
#include "embedding_impl.h"

static dl_status forward(const dl_embedding_args *a) {
    const int C = a->C;
    for (int b = 0; b < a->B; b++)
        for (int t = 0; t < a->T; t++) {
            const float *te = a->wte + (size_t)a->tokens[b * a->T + t] * C;
            const float *pe = a->wpe + (size_t)t * C;
            float *y = a->out + ((size_t)b * a->T + t) * C;
            for (int c = 0; c < C; c++)
                y[c] = te[c] + pe[c];
        }
    return DL_OK;
}

static dl_status backward(const dl_embedding_args *a) {
    const int C = a->C;
    for (int b = 0; b < a->B; b++)
        for (int t = 0; t < a->T; t++) {
            const float *dy = a->dout + ((size_t)b * a->T + t) * C;
            float *dte = a->dwte ? a->dwte + (size_t)a->tokens[b * a->T + t] * C : NULL;
            float *dpe = a->dwpe ? a->dwpe + (size_t)t * C : NULL;
            for (int c = 0; c < C; c++) {
                if (dte) dte[c] += dy[c];
                if (dpe) dpe[c] += dy[c];
            }
        }
    return DL_OK;
}

const dl_embedding_impl dl_embedding_ref_impl = {forward, backward};
