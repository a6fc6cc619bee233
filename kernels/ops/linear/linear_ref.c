/* linear_ref.c — the `ref` linear: matmul's ref (double accumulation) for the products, a
 * plain loop in double for the bias and its gradient. The test oracle: short and obviously
 * right, not fast. Leaves out: everything about speed (see linear_cpu.c). */
#include "dlab/matmul.h"
#include "linear_impl.h"

static const dl_variant *matmul_ref(void) { return dl_variant_find("matmul", "ref"); }

dl_status dl_linear_ref_forward(const dl_linear_args *a) {
    /* out (N,OC) = inp (N,C) · weightᵀ (C,OC) */
    dl_matmul_args m =
        dl_matmul_dense(a->N, a->OC, a->C, a->inp, false, a->weight, true, a->out, false);
    DL_TRY(dl_matmul_run(matmul_ref(), &m));
    if (a->bias)
        for (int n = 0; n < a->N; n++)
            for (int o = 0; o < a->OC; o++)
                a->out[(size_t)n * a->OC + o] += a->bias[o];
    return DL_OK;
}

dl_status dl_linear_ref_backward(const dl_linear_args *a) {
    if (a->dinp) { /* dinp (N,C) += dout (N,OC) · weight (OC,C) */
        dl_matmul_args m =
            dl_matmul_dense(a->N, a->C, a->OC, a->dout, false, a->weight, false, a->dinp, true);
        DL_TRY(dl_matmul_run(matmul_ref(), &m));
    }
    if (a->dweight) { /* dweight (OC,C) += doutᵀ (OC,N) · inp (N,C) */
        dl_matmul_args m =
            dl_matmul_dense(a->OC, a->C, a->N, a->dout, true, a->inp, false, a->dweight, true);
        DL_TRY(dl_matmul_run(matmul_ref(), &m));
    }
    if (a->bias && a->dbias) {
        for (int o = 0; o < a->OC; o++) {
            double s = 0.0;
            for (int n = 0; n < a->N; n++)
                s += a->dout[(size_t)n * a->OC + o];
            a->dbias[o] += (float)s;
        }
    }
    return DL_OK;
}
