/* backend.c — the CPU backend table, dl_backend() which picks a table by device name, and
 * the helpers models use to pick a table and their variants from it. The CUDA table lives in
 * backend_cuda.cu; without CUDA, the stubs at the bottom say why "cuda" cannot be had. */
#include <string.h>

#include "dlab/attention.h"
#include "dlab/backend.h"
#include "dlab/conv2d.h"
#include "dlab/core.h"
#include "dlab/maxpool.h"
#include "dlab/optim.h"
#include "dlab/softmax.h"

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

/* The families that have their own "best" function use it (it knows measurements the naming
 * convention does not: flash attention beats the materialized one, online softmax the safe
 * one); the rest follow dl_variant_best_cpu. These are the variants the models ran with
 * "fast" before the backend table existed, so a CPU model computes exactly what it did. */
static const dl_variant *cpu_variant(const char *family) {
    if (!family) return NULL;
    if (strcmp(family, "matmul") == 0) return dl_matmul_best(DL_DEVICE_CPU);
    if (strcmp(family, "attention") == 0) return dl_attention_best();
    if (strcmp(family, "softmax") == 0) return dl_softmax_best();
    if (strcmp(family, "optim") == 0) return dl_optim_best();
    if (strcmp(family, "conv2d") == 0) return dl_conv2d_best();
    if (strcmp(family, "maxpool") == 0) return dl_maxpool_best();
    return dl_variant_best_cpu(family);
}

const dl_ops *dl_backend_cpu(void) {
    static dl_ops ops;
    if (!ops.name) {
        /* Bound once, to the fastest variant this CPU can run. */
        cpu_matmul_variant = dl_matmul_best(DL_DEVICE_CPU);
        ops = (dl_ops){.name = "cpu", .device = DL_DEVICE_CPU, .alloc = dl_alloc,
                       .free = dl_free, .zero = cpu_zero, .to_device = cpu_copy,
                       .to_host = cpu_copy, .sync = cpu_sync, .matmul = cpu_matmul,
                       .matmul_variant = cpu_matmul_variant,
                       .variant = cpu_variant};
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

dl_status dl_backend_variant(const dl_ops *ops, const char *family, const dl_variant **out) {
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    *out = NULL;
    if (!ops || !ops->variant || !family) return DL_FAIL(DL_ERR_ARG, "ops or family is NULL");
    const dl_variant *v = ops->variant(family);
    if (!v)
        return DL_FAIL(DL_ERR_UNSUPPORTED, "the %s backend has no \"%s\" variant that runs here%s",
                       ops->name, family,
                       ops->device == DL_DEVICE_CUDA ? " (not registered in this build, or no GPU)"
                                                     : "");
    *out = v;
    return DL_OK;
}

dl_status dl_backend_pick(const dl_ops *ops, bool ref, const char *family, const dl_variant **out) {
    if (!ref) return dl_backend_variant(ops, family, out);
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    *out = dl_variant_find(family, "ref");
    return *out ? DL_OK : DL_FAIL(DL_ERR_INTERNAL, "op family %s has no ref variant", family);
}

dl_status dl_backend_alloc_zeroed(const dl_ops *ops, void **out, size_t bytes) {
    if (!ops || !out) return DL_FAIL(DL_ERR_ARG, "ops or out is NULL");
    DL_TRY(ops->alloc(out, bytes));
    dl_status s = ops->zero(*out, bytes);
    if (s != DL_OK) ops->free(*out), *out = NULL;
    return s;
}

dl_status dl_backend_for_variants(const char *variants, const dl_ops **out, bool *ref) {
    if (!out || !ref) return DL_FAIL(DL_ERR_ARG, "out or ref is NULL");
    *out = NULL, *ref = false;
    if (variants && (strcmp(variants, "ref") == 0 || strcmp(variants, "fast") == 0)) {
        *ref = variants[0] == 'r';
        *out = dl_backend_cpu();
        return DL_OK;
    }
    if (variants && strcmp(variants, "cuda") == 0) return dl_backend_cuda(out);
    return DL_FAIL(DL_ERR_ARG, "variants '%s': expected ref, fast or cuda",
                   variants ? variants : "(null)");
}

#ifndef DL_HAVE_CUDA
dl_status dl_backend_cuda(const dl_ops **out) {
    if (out) *out = NULL;
    return DL_FAIL(DL_ERR_DEVICE, "this build has no CUDA (nvcc was not found at build time)");
}
int dl_cuda_device_count(void) { return 0; }
#endif
