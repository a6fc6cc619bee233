/* spmm_ref.c — the textbook spmm (dlab/spmm.h): loops straight off the CSR definition on
 * row-major data. out, dvals and dbias are sums in double; dinp is a scatter (each stored
 * weight adds its product, rounded once, into one float). Slow and obviously right: the
 * oracle of the tests. */
#include "spmm_impl.h"

dl_status dl_spmm_ref_forward(const dl_spmm_args *a) {
    for (int n = 0; n < a->N; n++) {
        const float *x = a->inp + (size_t)n * a->C;
        for (int o = 0; o < a->OC; o++) {
            double s = a->bias ? a->bias[o] : 0.0;
            for (int k = a->row_ptr[o]; k < a->row_ptr[o + 1]; k++)
                s += (double)a->vals[k] * x[a->col_idx[k]];
            a->out[(size_t)n * a->OC + o] = (float)s;
        }
    }
    return DL_OK;
}

dl_status dl_spmm_ref_backward(const dl_spmm_args *a) {
    const int N = a->N, C = a->C, OC = a->OC;
    if (a->dinp) /* dinp[n, c] += Σ_o dout[n, o]·W[o, c] */
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) {
                const double g = a->dout[(size_t)n * OC + o];
                for (int k = a->row_ptr[o]; k < a->row_ptr[o + 1]; k++)
                    a->dinp[(size_t)n * C + a->col_idx[k]] += (float)(g * a->vals[k]);
            }
    if (a->dvals) /* dvals[k] += Σ_n dout[n, o]·inp[n, col_idx[k]] */
        for (int o = 0; o < OC; o++)
            for (int k = a->row_ptr[o]; k < a->row_ptr[o + 1]; k++) {
                double s = 0;
                for (int n = 0; n < N; n++)
                    s += (double)a->dout[(size_t)n * OC + o] * a->inp[(size_t)n * C + a->col_idx[k]];
                a->dvals[k] += (float)s;
            }
    if (a->bias && a->dbias)
        for (int o = 0; o < OC; o++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += a->dout[(size_t)n * OC + o];
            a->dbias[o] += (float)s;
        }
    return DL_OK;
}
