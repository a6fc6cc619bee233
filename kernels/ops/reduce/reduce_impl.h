/* reduce_impl.h — private to kernels/ops/reduce: the variant functions that
 * reduce_variants.c puts in the registry. Callers outside go through the registry
 * (dl_variant_find("sum", name)) or dl_sum_run(). */
#ifndef DLAB_REDUCE_IMPL_H
#define DLAB_REDUCE_IMPL_H

#include <stdbool.h>

#include "dlab/reduce.h"

/* pairwise adds blocks of at most this many elements left to right */
#define DL_SUM_PAIRWISE_BASE 8

dl_status dl_sum_ref(const dl_sum_args *a);
dl_status dl_sum_naive(const dl_sum_args *a);
dl_status dl_sum_pairwise(const dl_sum_args *a);
dl_status dl_sum_kahan(const dl_sum_args *a);
dl_status dl_sum_neumaier(const dl_sum_args *a);
dl_status dl_sum_omp_naive(const dl_sum_args *a);
dl_status dl_sum_tree_fixed(const dl_sum_args *a);
dl_status dl_sum_naive_avx512(const dl_sum_args *a);
dl_status dl_sum_kahan_avx512(const dl_sum_args *a);

#endif
