/* softmax_topk_impl.h — private to kernels/ops/softmax: the softmax_topk implementations
 * that softmax_topk_variants.c registers. */
#ifndef DLAB_SOFTMAX_TOPK_IMPL_H
#define DLAB_SOFTMAX_TOPK_IMPL_H

#include "dlab/softmax_topk.h"

dl_status dl_softmax_topk_ref(const dl_softmax_topk_args *a);          /* softmax_topk_ref.c */
dl_status dl_softmax_topk_unfused(const dl_softmax_topk_args *a);      /* softmax_topk_cpu.c */
dl_status dl_softmax_topk_fused(const dl_softmax_topk_args *a);
dl_status dl_softmax_topk_fused_avx512(const dl_softmax_topk_args *a);

#endif
