/* backend.h — the backend table the model stack calls.
 *
 * The models are written once against dl_ops: where memory lives, how it moves, and the ops,
 * each bound to the best variant for that device. There is a CPU table and, when built with
 * CUDA and a GPU is present, a CUDA table. Asking for "cuda" without one is DL_ERR_DEVICE
 * with a message that says why (not built with CUDA / no device / driver error).
 */
#ifndef DLAB_BACKEND_H
#define DLAB_BACKEND_H

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
} dl_ops;

/* "cpu" or "cuda" → its table in *out. */
dl_status dl_backend(const char *device, const dl_ops **out);

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
