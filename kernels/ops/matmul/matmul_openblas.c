/* matmul_openblas.c — OpenBLAS cblas_sgemm as a variant: the yardstick our own kernels are
 * measured against. Present only when the build found OpenBLAS (DL_HAVE_OPENBLAS). */
#include "dlab/core.h"
#include "matmul_internal.h"

#ifdef DL_HAVE_OPENBLAS
#include <cblas.h>

dl_status dl_matmul_openblas(const dl_matmul_args *a) {
    if (a->M == 0 || a->N == 0) return DL_OK;
    /* OpenBLAS keeps its own thread pool; follow dlab's thread count so a comparison at
     * --threads N is N threads against N threads. */
    int threads = dl_threads_get();
    if (openblas_get_num_threads() != threads) openblas_set_num_threads(threads);
    cblas_sgemm(CblasRowMajor, a->trans_a ? CblasTrans : CblasNoTrans,
                a->trans_b ? CblasTrans : CblasNoTrans, a->M, a->N, a->K, 1.0f, a->A,
                a->lda < 1 ? 1 : a->lda, a->B, a->ldb < 1 ? 1 : a->ldb,
                a->accumulate ? 1.0f : 0.0f, a->C, a->ldc < 1 ? 1 : a->ldc);
    return DL_OK;
}

const char *dl_openblas_corename(void) { return openblas_get_corename(); }
#else
const char *dl_openblas_corename(void) { return ""; }
#endif
