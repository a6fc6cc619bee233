/* linear_cpu.c — the fast CPU linear (`omp`): the best matmul this CPU has, with the bias
 * folded into it and a column-parallel bias gradient.
 *
 * Forward writes the bias into every row of out first and then lets the matmul accumulate
 * (out += inp·weightᵀ): one pass over out instead of two. Backward is two accumulating
 * matmuls, and dbias = Σ_rows dout is split by COLUMNS across threads: each column is summed
 * by one thread, top row to bottom, so the result has the same bits at any thread count
 * (splitting rows would need a reduction whose order depends on the threads).
 * Leaves out: fusing the activation into the matmul's epilogue (llm.c's GELU fusion).
 */
#include <string.h>

#include "dlab/core.h"
#include "dlab/matmul.h"
#include "linear_impl.h"

/* Columns one thread sums at a time: a few cache lines of each row of dout. */
#define DBIAS_COLUMN_BLOCK 64

dl_status dl_linear_omp_forward(const dl_linear_args *a) {
    const dl_variant *mm = dl_matmul_best(DL_DEVICE_CPU);
    if (a->bias)
        for (int n = 0; n < a->N; n++)
            memcpy(a->out + (size_t)n * a->OC, a->bias, (size_t)a->OC * sizeof(float));
    dl_matmul_args m =
        dl_matmul_dense(a->N, a->OC, a->C, a->inp, false, a->weight, true, a->out, a->bias != NULL);
    return dl_matmul_run(mm, &m);
}

static void dbias_columns(const float *dout, float *dbias, int N, int OC, int o0, int o1) {
    float sum[DBIAS_COLUMN_BLOCK] = {0};
    for (int n = 0; n < N; n++) {
        const float *row = dout + (size_t)n * OC;
        for (int o = o0; o < o1; o++)
            sum[o - o0] += row[o]; /* vectorized across columns */
    }
    for (int o = o0; o < o1; o++)
        dbias[o] += sum[o - o0];
}

dl_status dl_linear_omp_backward(const dl_linear_args *a) {
    const dl_variant *mm = dl_matmul_best(DL_DEVICE_CPU);
    if (a->dinp) {
        dl_matmul_args m =
            dl_matmul_dense(a->N, a->C, a->OC, a->dout, false, a->weight, false, a->dinp, true);
        DL_TRY(dl_matmul_run(mm, &m));
    }
    if (a->dweight) {
        dl_matmul_args m =
            dl_matmul_dense(a->OC, a->C, a->N, a->dout, true, a->inp, false, a->dweight, true);
        DL_TRY(dl_matmul_run(mm, &m));
    }
    if (a->bias && a->dbias) {
        const int blocks = (a->OC + DBIAS_COLUMN_BLOCK - 1) / DBIAS_COLUMN_BLOCK;
#pragma omp parallel for schedule(static)                                                          \
    num_threads(dl_threads_get()) if (blocks > 1 && (long)a->N * a->OC > 16384)
        for (int b = 0; b < blocks; b++) {
            int o0 = b * DBIAS_COLUMN_BLOCK, o1 = o0 + DBIAS_COLUMN_BLOCK;
            dbias_columns(a->dout, a->dbias, a->N, a->OC, o0, o1 < a->OC ? o1 : a->OC);
        }
    }
    return DL_OK;
}
