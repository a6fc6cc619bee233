/* attention_heads.c — the (batch, head) driver the SIMD attention variants share.
 *
 * Each (b, h) pair is an independent problem touching only its own head's slices of the
 * tensors, so OpenMP hands out whole pairs; every thread gets its own block of scratch
 * (rounded to whole cache lines so threads never share one). What a head does, and how much
 * scratch it needs, is the variant's: attention_cpu.c (materialized) and
 * attention_flash_cpu.c (flash) each pass their plan and head function.
 */
#ifdef _OPENMP
#include <omp.h>
#endif

#include "attention_impl.h"
#include "dlab/core.h"

dl_status dl_attention_run_heads(const dl_attention_args *a, const void *plan,
                                 size_t scratch_floats, dl_attention_head_fn fn) {
    if ((long)a->B * a->T == 0) return DL_OK;
    const int pairs = a->B * a->NH;
    const int nthreads = dl_threads_get() < pairs ? dl_threads_get() : pairs;
    const size_t stride = (scratch_floats + 15) / 16 * 16;
    float *scratch = NULL;
    DL_TRY(dl_alloc((void **)&scratch, stride * nthreads * sizeof(float)));
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nthreads)
#endif
    for (int bh = 0; bh < pairs; bh++) {
#ifdef _OPENMP
        float *mine = scratch + stride * omp_get_thread_num();
#else
        float *mine = scratch;
#endif
        fn(plan, bh / a->NH, bh % a->NH, mine);
    }
    dl_free(scratch);
    return DL_OK;
}
