/* backend_cuda.cu — the CUDA backend table: where the model stack's memory lives on a GPU,
 * how it moves, and which variant each op runs there.
 *
 *     const dl_ops *ops;
 *     if (dl_backend("cuda", &ops) != DL_OK) { fprintf(stderr, "%s\n", dl_last_error()); ... }
 *     float *x; ops->alloc((void **)&x, n * sizeof(float)); ops->to_device(x, host_x, ...);
 *
 * Every entry queues its work on the default stream, like the kernels, so the usual order of
 * CUDA's default stream holds: a to_host after a matmul sees its result (cudaMemcpy waits for
 * the queue). `sync` waits for everything queued and is where a fault inside a kernel is
 * reported.
 *
 * Without a GPU (or a driver) dl_backend_cuda returns DL_ERR_DEVICE with the reason; it never
 * crashes. The CPU table, dl_backend() and the stubs for builds without CUDA are in backend.c.
 *
 * `variant(family)` names the CUDA variant of each family the models call (the list is in
 * CUDA_VARIANT_NAMES below and in backend.h).
 *
 * Leaves out: streams and events (one queue is enough for the model stack so far), pinned
 * host memory for faster copies, and more than one device (it uses the current one).
 */
#include <string.h>

#include <cuda_runtime.h>

#include "../core/cuda_check.h"
#include "dlab/backend.h"
#include "dlab/matmul.h"
#include "dlab/registry.h"
#include "dlab/status.h"
/* dl_matmul_cublas, dl_matmul_cuda_tiled: the variants this table binds (matmul_cuda.cu). */
#include "../ops/matmul/matmul_internal.h"

#ifdef DL_NO_CUBLAS
static const char *const MATMUL_VARIANT_NAME = "cuda_tiled";
static const char *const MATMUL_FN_NAME = "dl_matmul_cuda_tiled";
static const dl_matmul_fn MATMUL_FN = dl_matmul_cuda_tiled;
#else
/* cuBLAS is the fastest FP32 matmul there is on NVIDIA GPUs; the model stack wants speed. */
static const char *const MATMUL_VARIANT_NAME = "cublas";
static const char *const MATMUL_FN_NAME = "dl_matmul_cublas";
static const dl_matmul_fn MATMUL_FN = dl_matmul_cublas;
#endif

/* ------------------------------------------------------------------ memory */

/* bytes == 0 still returns a real, distinct, freeable pointer (cudaMalloc of 0 would give
 * NULL, which callers could take for a failure). Device memory is aligned to at least 256
 * bytes, more than DL_ALIGN. */
static dl_status dl_backend_cuda_alloc(void **out, size_t bytes) {
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    *out = nullptr;
    void *p = nullptr;
    cudaError_t err = cudaMalloc(&p, bytes ? bytes : 1);
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        /* Out of memory is an allocation failure like the CPU's; anything else is CUDA's. */
        return DL_FAIL(err == cudaErrorMemoryAllocation ? DL_ERR_ALLOC : DL_ERR_CUDA,
                       "cudaMalloc(%zu bytes): %s (%s)", bytes, cudaGetErrorString(err),
                       cudaGetErrorName(err));
    }
    *out = p;
    return DL_OK;
}

/* free() cannot report anything (the table's signature is void, as for the CPU). cudaFree
 * fails only for a pointer cudaMalloc did not return, or a context already broken by an
 * earlier fault that the next checked call reports anyway; we clear the error so the next
 * kernel launch is not blamed for it. */
static void dl_backend_cuda_free(void *p) {
    if (!p) return;
    if (cudaFree(p) != cudaSuccess) (void)cudaGetLastError();
}

static dl_status dl_backend_cuda_zero(void *p, size_t bytes) {
    if (bytes == 0) return DL_OK;
    if (!p) return DL_FAIL(DL_ERR_ARG, "p is NULL (zeroing %zu bytes)", bytes);
    DL_CUDA_TRY(cudaMemset(p, 0, bytes));
    return DL_OK;
}

/* Synchronous for pageable host memory: when it returns, host_src may be reused. */
static dl_status dl_backend_cuda_to_device(void *dst, const void *host_src, size_t bytes) {
    if (bytes == 0) return DL_OK;
    if (!dst || !host_src)
        return DL_FAIL(DL_ERR_ARG, "dst=%p, host_src=%p (copying %zu bytes)", dst, host_src, bytes);
    DL_CUDA_TRY(cudaMemcpy(dst, host_src, bytes, cudaMemcpyHostToDevice));
    return DL_OK;
}

/* Waits for the work queued before it, so host_dst holds the result when it returns. */
static dl_status dl_backend_cuda_to_host(void *host_dst, const void *src, size_t bytes) {
    if (bytes == 0) return DL_OK;
    if (!host_dst || !src)
        return DL_FAIL(DL_ERR_ARG, "host_dst=%p, src=%p (copying %zu bytes)", host_dst, src, bytes);
    DL_CUDA_TRY(cudaMemcpy(host_dst, src, bytes, cudaMemcpyDeviceToHost));
    return DL_OK;
}

static dl_status dl_backend_cuda_sync(void) {
    DL_CUDA_TRY(cudaDeviceSynchronize());
    return DL_OK;
}

/* ------------------------------------------------------------------ device */

extern "C" int dl_cuda_device_count(void) { return dl_cuda_query_devices().count; }

/* Make the CUDA context now, once, so that a device that exists but cannot be used (all busy
 * in exclusive mode, out of memory, a driver/runtime mismatch) is reported by dl_backend_cuda
 * with a clear message rather than by the first alloc. cudaFree(0) is the usual way to force
 * the runtime to create its context; it frees nothing. */
static cudaError_t cuda_context_init_once(int *device_out) {
    struct result {
        cudaError_t err;
        int device;
    };
    static const result cached = [] {
        result r = {cudaSuccess, 0};
        r.err = cudaGetDevice(&r.device);
        if (r.err == cudaSuccess) r.err = cudaFree(0);
        if (r.err != cudaSuccess) (void)cudaGetLastError();
        return r;
    }();
    *device_out = cached.device;
    return cached.err;
}

/* ------------------------------------------------------------------ variants */

/* Which registry entry each family runs on this backend. One name per family: the model
 * stack's own CUDA kernels where they exist, cuBLAS / cuDNN where those are the fastest
 * there is. A family missing here (softmax: the models do not call it) or not registered
 * (attention before "cuda_flash" exists) gives NULL, and the model that needs it fails at
 * create with DL_ERR_UNSUPPORTED naming the family. */
static const struct {
    const char *family, *name;
} CUDA_VARIANT_NAMES[] = {
    {"linear", "cublas"},   {"relu", "cuda"},         {"gelu", "cuda"},
    {"residual", "cuda"},   {"layernorm", "cuda"},    {"softmax_xent", "cuda"},
    {"embedding", "cuda"},  {"optim", "cuda"},        {"conv2d", "cudnn"},
    {"maxpool", "cuda"},    {"attention", "cuda_flash"},
};

static const dl_variant *dl_backend_cuda_variant(const char *family) {
    if (!family) return nullptr;
    const char *name = nullptr;
    if (strcmp(family, "matmul") == 0) name = MATMUL_VARIANT_NAME;
    for (size_t i = 0; !name && i < sizeof CUDA_VARIANT_NAMES / sizeof CUDA_VARIANT_NAMES[0]; i++)
        if (strcmp(family, CUDA_VARIANT_NAMES[i].family) == 0) name = CUDA_VARIANT_NAMES[i].name;
    if (!name) return nullptr;
    const dl_variant *v = dl_variant_find(family, name);
    /* A CPU entry under that name, or one that cannot run here, would be a wrong answer. */
    if (!v || v->device != DL_DEVICE_CUDA || !dl_variant_available(v)) return nullptr;
    return v;
}

static dl_ops make_cuda_table(const dl_variant *matmul_variant) {
    dl_ops t = {};
    t.name = "cuda";
    t.device = DL_DEVICE_CUDA;
    t.alloc = dl_backend_cuda_alloc;
    t.free = dl_backend_cuda_free;
    t.zero = dl_backend_cuda_zero;
    t.to_device = dl_backend_cuda_to_device;
    t.to_host = dl_backend_cuda_to_host;
    t.sync = dl_backend_cuda_sync;
    t.matmul = MATMUL_FN;
    t.matmul_variant = matmul_variant;
    t.variant = dl_backend_cuda_variant;
    return t;
}

extern "C" dl_status dl_backend_cuda(const dl_ops **out) {
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    *out = nullptr;

    const dl_cuda_devices devices = dl_cuda_query_devices();
    if (devices.err != cudaSuccess)
        return DL_FAIL(DL_ERR_DEVICE, "no CUDA device: cudaGetDeviceCount says %s (%s)%s",
                       cudaGetErrorString(devices.err), cudaGetErrorName(devices.err),
                       dl_cuda_no_device_hint(devices.err));
    if (devices.count == 0)
        return DL_FAIL(DL_ERR_DEVICE, "no CUDA device: cudaGetDeviceCount found 0 devices");

    int device = 0;
    const cudaError_t init = cuda_context_init_once(&device);
    if (init != cudaSuccess)
        return DL_FAIL(DL_ERR_DEVICE, "cannot start CUDA on device %d: %s (%s)", device,
                       cudaGetErrorString(init), cudaGetErrorName(init));

    /* The table names the registry's entry, so a lesson can print which variant ran and the
     * harness can ask it for its cost. Missing means the registry and this file disagree. */
    const dl_variant *v = dl_variant_find("matmul", MATMUL_VARIANT_NAME);
    if (!v || v->device != DL_DEVICE_CUDA || v->impl != (const void *)MATMUL_FN)
        return DL_FAIL(DL_ERR_INTERNAL, "the registry has no CUDA matmul variant \"%s\" running %s",
                       MATMUL_VARIANT_NAME, MATMUL_FN_NAME);

    /* Built once (C++11 makes the initialisation thread-safe), then only read. */
    static const dl_ops table = make_cuda_table(v);
    *out = &table;
    return DL_OK;
}
