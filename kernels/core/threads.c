/* threads.c — the thread count OpenMP kernels use (see dlab/core.h). */
#include "dlab/core.h"

#ifdef DL_HAVE_OPENMP
#include <omp.h>
#endif

int dl_threads_get(void) {
#ifdef DL_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

dl_status dl_threads_set(int n) {
    if (n < 1) return DL_FAIL(DL_ERR_ARG, "thread count must be >= 1 (got %d)", n);
#ifdef DL_HAVE_OPENMP
    omp_set_num_threads(n);
#endif
    return DL_OK;
}
