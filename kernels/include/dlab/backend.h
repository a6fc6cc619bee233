/* backend.h — the backend table the model stack calls.
 *
 * The models are written once against dl_ops: where memory lives, how it moves, and the ops,
 * each bound to the best variant for that device. There is a CPU table and, when built with
 * CUDA and a GPU is present, a CUDA table. Asking for "cuda" without one is DL_ERR_DEVICE
 * with a message that says why (not built with CUDA / no device / driver error).
 *
 * A model stores the table it was created with and goes through it for everything that
 * touches its buffers: alloc/free/zero for parameters, gradients and activations, to_device
 * for the host inputs of a forward, to_host for what the host reads back (the mean loss,
 * logits, checkpoints), and variant(family) for the op it calls. So the same model code runs
 * on either device; only the table differs.
 *
 *     family        cpu table (variant)                         cuda table (variant)
 *     matmul        dl_matmul_best(DL_DEVICE_CPU)               cublas (cuda_tiled without cuBLAS)
 *     attention     dl_attention_best()                         cuda_flash
 *     softmax       dl_softmax_best()                           (none)
 *     optim         dl_optim_best()                             cuda
 *     conv2d        dl_conv2d_best()                            cudnn
 *     maxpool       dl_maxpool_best()                           cuda
 *     linear        dl_variant_best_cpu (the naming convention) cublas
 *     relu, gelu, residual, layernorm, softmax_xent, embedding
 *                   dl_variant_best_cpu                         cuda
 *
 * Leaves out: more than one device, streams, mixed precision (a "tf32" table would be one
 * more name table).
 */
#ifndef DLAB_BACKEND_H
#define DLAB_BACKEND_H

#include <stdbool.h>
#include <stddef.h>

#include "matmul.h"
#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dl_ops {
    const char *name; /* "cpu", "cuda" */
    dl_device device;
    dl_status (*alloc)(void **out, size_t bytes); /* device memory, aligned */
    void (*free)(void *p);
    dl_status (*zero)(void *p, size_t bytes);
    dl_status (*to_device)(void *dst, const void *host_src, size_t bytes);
    dl_status (*to_host)(void *host_dst, const void *src, size_t bytes);
    dl_status (*sync)(void); /* wait for queued work */
    dl_status (*matmul)(const dl_matmul_args *args);
    const dl_variant *matmul_variant; /* which variant `matmul` runs */
    /* The variant of `family` this backend runs (the table above), or NULL when the backend
     * has none for that family, or it cannot run here. Never a variant of another device. */
    const dl_variant *(*variant)(const char *family);
} dl_ops;

/* "cpu" or "cuda" → its table in *out. */
dl_status dl_backend(const char *device, const dl_ops **out);

/* ops->variant(family) as a status: DL_OK and the variant in *out, or DL_ERR_UNSUPPORTED
 * naming the family and the backend ("the cuda backend has no \"attention\" variant (wants
 * \"cuda_flash\", not registered in this build)"). For a model's create. */
dl_status dl_backend_variant(const dl_ops *ops, const char *family, const dl_variant **out);

/* For a model's create: `ref` → the family's ref variant (the oracle build), otherwise
 * dl_backend_variant(ops, family). DL_ERR_INTERNAL if the family has no ref. */
dl_status dl_backend_pick(const dl_ops *ops, bool ref, const char *family, const dl_variant **out);

/* ops->alloc then ops->zero: a fresh buffer that reads as zeros on every device; freed again
 * (and *out NULL) if the zeroing fails. */
dl_status dl_backend_alloc_zeroed(const dl_ops *ops, void **out, size_t bytes);

/* The table a model's `variants` string names: "ref" and "fast" → the CPU table, "cuda" →
 * the CUDA table (DL_ERR_DEVICE with the backend's message when there is none); anything
 * else is DL_ERR_ARG. *ref is true for "ref" (every op its family's ref variant). The name
 * must match exactly: a model that accepts suffixes (the GPT's ",attention=") strips them
 * first. */
dl_status dl_backend_for_variants(const char *variants, const dl_ops **out, bool *ref);

/* The CPU table; never fails. */
const dl_ops *dl_backend_cpu(void);
/* The CUDA table, or DL_ERR_DEVICE (message says why). Defined in backend_cuda.cu when built
 * with CUDA, by a stub otherwise. */
dl_status dl_backend_cuda(const dl_ops **out);
/* Number of CUDA devices usable here (0 without CUDA or without a GPU). */
int dl_cuda_device_count(void);

#ifdef __cplusplus
}
#endif
#endif
