/* maxpool_impl.h — private to kernels/ops/maxpool: the variant functions that
 * maxpool_variants.c registers, and the comparison rule they share. */
#ifndef DLAB_MAXPOOL_IMPL_H
#define DLAB_MAXPOOL_IMPL_H

#include <math.h>

#include "dlab/maxpool.h"

/* Does v replace the current best? Strictly greater (so the first of equal maxima stays), or
 * the first NaN (NaN counts as larger than everything, and then nothing replaces it). */
static inline bool dl_maxpool_takes(float v, float best) {
    return v > best || (isnan(v) && !isnan(best));
}

dl_status dl_maxpool_ref_forward(const dl_maxpool_args *a); /* maxpool_ref.c */
dl_status dl_maxpool_ref_backward(const dl_maxpool_args *a);
dl_status dl_maxpool_omp_forward(const dl_maxpool_args *a); /* maxpool_cpu.c */
dl_status dl_maxpool_omp_backward(const dl_maxpool_args *a);

#endif
