/* softmax_cuda_variants.c — the registry rows of the CUDA softmax and softmax + top-k
 * variants (kernels in softmax.cu and softmax_topk.cu). The family tables
 * (softmax_variants.c and the softmax_topk table) list them; this file only defines them,
 * so the tables stay the one place that says what a family holds.
 *
 * All take DEVICE pointers and do not synchronize (see softmax.cu). `available` is "a GPU is
 * present" (and, for cudnn, "built with cuDNN"). Compiled only in a build with nvcc.
 */
#ifdef DL_HAVE_CUDA

#include <stddef.h>

#include "dlab/softmax.h"
#include "dlab/softmax_topk.h"
#include "softmax_cuda.h"

#define SOFTMAX_CUDA_VARIANT(id, vname, text, avail, impl_)                                        \
    const dl_variant id = {.family = "softmax",                                                    \
                           .name = vname,                                                          \
                           .summary = text,                                                        \
                           .device = DL_DEVICE_CUDA,                                               \
                           .available = avail,                                                     \
                           .impl = &impl_,                                                         \
                           .cost = dl_softmax_cost};

SOFTMAX_CUDA_VARIANT(dl_softmax_cuda_block_safe, "cuda_block_safe",
                     "one block per row: max, exp-sum and normalize passes (3 reads + 1 write)",
                     dl_cuda_available, dl_softmax_cuda_block_safe_impl)
SOFTMAX_CUDA_VARIANT(dl_softmax_cuda_block_online, "cuda_block_online",
                     "one block per row: running (max, normalizer), then normalize (2R + 1W)",
                     dl_cuda_available, dl_softmax_cuda_block_online_impl)
SOFTMAX_CUDA_VARIANT(dl_softmax_cuda_warp_safe, "cuda_warp_safe",
                     "one warp per row, shuffle reductions, three passes: for small V",
                     dl_cuda_available, dl_softmax_cuda_warp_safe_impl)
SOFTMAX_CUDA_VARIANT(dl_softmax_cuda_warp_online, "cuda_warp_online",
                     "one warp per row, running (max, normalizer) by shuffles: for small V",
                     dl_cuda_available, dl_softmax_cuda_warp_online_impl)
SOFTMAX_CUDA_VARIANT(dl_softmax_cudnn, "cudnn",
                     "cudnnSoftmaxForward, ACCURATE, per row (the yardstick; finite rows only)",
                     dl_softmax_cudnn_available, dl_softmax_cudnn_impl)

const dl_variant dl_softmax_topk_cuda_unfused = {
    .family = "softmax_topk",
    .name = "cuda_unfused",
    .summary = "cuda_block_online writes all probabilities to work, then a top-k pass reads them",
    .device = DL_DEVICE_CUDA,
    .available = dl_cuda_available,
    .impl = (const void *)dl_softmax_topk_cuda_unfused_run,
    .cost = dl_softmax_topk_unfused_cost};

const dl_variant dl_softmax_topk_cuda_fused = {
    .family = "softmax_topk",
    .name = "cuda_fused",
    .summary = "one read of the logits: running (max, normalizer) and per-thread top-k lists",
    .device = DL_DEVICE_CUDA,
    .available = dl_cuda_available,
    .impl = (const void *)dl_softmax_topk_cuda_fused_run,
    .cost = dl_softmax_topk_cost};

#else
/* ISO C forbids an empty translation unit. */
typedef int dl_softmax_cuda_variants_need_cuda;
#endif
