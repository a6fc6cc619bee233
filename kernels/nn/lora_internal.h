/* lora_internal.h — private to kernels/nn: the hooks gpt.c calls for the adapters of lora.h.
 *
 * Each hook looks up the adapter of (layer, target) and returns DL_OK doing nothing when that
 * projection has none, so gpt.c calls them unconditionally once m->lora is set. All the
 * arithmetic is ops->matmul on the adapters' backend, so the same code runs on CPU and CUDA.
 * Strides: x, out, dout and dx are row-major with row strides ld_*, so a q/k/v adapter reads
 * and writes its C-wide slice of the fused (N, 3C) qkv rows.
 */
#ifndef DLAB_LORA_INTERNAL_H
#define DLAB_LORA_INTERNAL_H

#include "dlab/lora.h"

/* out (N, out) += (α/r)·(x·Aᵀ)·Bᵀ; keeps h = x·Aᵀ (N, r) for the backward.
 * x (N, in) has row stride ld_x, out row stride ld_out. */
dl_status dl_lora_forward_add(dl_lora *lo, int layer, dl_lora_target t, int N, const float *x,
                              int ld_x, float *out, int ld_out);

/* Given dout (N, out) of the adapted projection and the forward's x and h:
 *     dB += (α/r)·doutᵀ·h,  dh = (α/r)·dout·B,  dA += dhᵀ·x,  dx += dh·A (dx may be NULL). */
dl_status dl_lora_backward_add(dl_lora *lo, int layer, dl_lora_target t, int N, const float *x,
                               int ld_x, const float *dout, int ld_dout, float *dx, int ld_dx);

/* lo->grads = 0 (the backward accumulates into them, as into m->grads). */
dl_status dl_lora_zero_grads(dl_lora *lo);

#endif
