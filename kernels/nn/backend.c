/* backend.c — the CPU backend table and dl_backend(), which picks a table by device name.
 * The CUDA table lives in backend_cuda.cu; without CUDA, the stubs at the bottom say why
 * "cuda" cannot be had. */
#include <string.h>

#include "dlab/backend.h"
#include "dlab/core.h"

static dl_status cpu_zero(void *p, size_t bytes) {
    if (bytes) memset(p, 0, bytes);
    return DL_OK;
}
static dl_status cpu_copy(void *dst, const void *src, size_t bytes) {
    if (bytes) memmove(dst, src, bytes);
    return DL_OK;
}
static dl_status cpu_sync(void) { return DL_OK; }

static const dl_variant *cpu_matmul_variant;
static dl_status cpu_matmul(const dl_matmul_args *a) {
    return dl_matmul_run(cpu_matmul_variant, a);
}

const dl_ops *dl_backend_cpu(void) {
    static dl_ops ops;
    if (!ops.name) {
        /* Bound once, to the fastest variant this CPU can run. */
        cpu_matmul_variant = dl_matmul_best(DL_DEVICE_CPU);
        ops = (dl_ops){.name = "cpu", .device = DL_DEVICE_CPU, .alloc = dl_alloc,
                       .free = dl_free, .zero = cpu_zero, .to_device = cpu_copy,
                       .to_host = cpu_copy, .sync = cpu_sync, .matmul = cpu_matmul,
                       .matmul_variant = cpu_matmul_variant};
    }
    return &ops;
}

dl_status dl_backend(const char *device, const dl_ops **out) {
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    *out = NULL;
    if (!device || strcmp(device, "cpu") == 0) {
        *out = dl_backend_cpu();
        return DL_OK;
    }
    if (strcmp(device, "cuda") == 0) return dl_backend_cuda(out);
    return DL_FAIL(DL_ERR_ARG, "unknown device '%s' (expected cpu or cuda)", device);
}

#ifndef DL_HAVE_CUDA
dl_status dl_backend_cuda(const dl_ops **out) {
    if (out) *out = NULL;
    return DL_FAIL(DL_ERR_DEVICE, "this build has no CUDA (nvcc was not found at build time)");
}
int dl_cuda_device_count(void) { return 0; }
#endif
