/* layernorm_ref.c — the `ref` layernorm: the formulas of dlab/layernorm.h, one row at a
 * time, every sum in double (two passes for the variance, no E[x²] − E[x]² cancellation).
 * The test oracle; leaves out speed (see layernorm_cpu.c). */
#include <math.h>

#include "layernorm_impl.h"

static dl_status forward(const dl_layernorm_args *a) {
    const int C = a->C;
    if (C == 0) return DL_OK;
    for (int i = 0; i < a->N; i++) {
        const float *x = a->inp + (size_t)i * C;
        float *y = a->out + (size_t)i * C;
        double mean = 0.0, var = 0.0;
        for (int c = 0; c < C; c++)
            mean += x[c];
        mean /= C;
        for (int c = 0; c < C; c++)
            var += ((double)x[c] - mean) * ((double)x[c] - mean);
        var /= C;
        double rstd = 1.0 / sqrt(var + dl_layernorm_eps(a));
        for (int c = 0; c < C; c++)
            y[c] = (float)(((double)x[c] - mean) * rstd * a->gamma[c] + a->beta[c]);
        a->mean[i] = (float)mean;
        a->rstd[i] = (float)rstd;
    }
    return DL_OK;
}

/* The normalized input n[i,c] from the saved statistics, as backward sees it. */
static double normed(const dl_layernorm_args *a, int i, int c) {
    return ((double)a->inp[(size_t)i * a->C + c] - a->mean[i]) * a->rstd[i];
}

static dl_status backward(const dl_layernorm_args *a) {
    const int N = a->N, C = a->C;
    if (C == 0) return DL_OK;
    if (a->dinp) {
        for (int i = 0; i < N; i++) {
            const float *dy = a->dout + (size_t)i * C;
            double g_mean = 0.0, gn_mean = 0.0; /* mean_c(g), mean_c(g·n) */
            for (int c = 0; c < C; c++) {
                g_mean += (double)dy[c] * a->gamma[c];
                gn_mean += (double)dy[c] * a->gamma[c] * normed(a, i, c);
            }
            g_mean /= C;
            gn_mean /= C;
            for (int c = 0; c < C; c++) {
                double g = (double)dy[c] * a->gamma[c];
                double d = a->rstd[i] * (g - g_mean - normed(a, i, c) * gn_mean);
                a->dinp[(size_t)i * C + c] = (float)(a->dinp[(size_t)i * C + c] + d);
            }
        }
    }
    for (int c = 0; c < C; c++) { /* column sums over the rows */
        double dg = 0.0, db = 0.0;
        for (int i = 0; i < N; i++) {
            dg += (double)a->dout[(size_t)i * C + c] * normed(a, i, c);
            db += a->dout[(size_t)i * C + c];
        }
        if (a->dgamma) a->dgamma[c] = (float)(a->dgamma[c] + dg);
        if (a->dbeta) a->dbeta[c] = (float)(a->dbeta[c] + db);
    }
    return DL_OK;
}

const dl_layernorm_impl dl_layernorm_ref_impl = {forward, backward};
