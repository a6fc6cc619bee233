/* cuda_common.cuh — private to libdlab's op families' .cu files: what their CUDA variants
 * share. Launch shapes for elementwise loops, warp and block reductions, and the checks every
 * variant makes before it launches anything (a device is present; a pointer is device memory).
 *
 * Conventions of the CUDA variants that include this (the same as matmul_cuda.cu):
 *   - they take DEVICE pointers in their family's own argument struct;
 *   - they launch on the default (legacy) stream and return without waiting: a fault inside a
 *     kernel shows up at the caller's next synchronizing call (cudaDeviceSynchronize, a
 *     cudaMemcpy back); a bad launch configuration is reported at once;
 *   - they never print.
 *
 * Leaves out: streams, multi-device bookkeeping, and cuBLAS (matmul_cuda.cu owns the one
 * cuBLAS handle; linear.cu goes through dl_matmul_cublas). C++ only (nvcc).
 */
#ifndef DLAB_OPS_CUDA_COMMON_CUH
#define DLAB_OPS_CUDA_COMMON_CUH

#include <math.h>
#include <stddef.h>

#include <cuda_runtime.h>

#include "../core/cuda_check.h"
#include "dlab/status.h"

/* A GPU is present and the driver works (defined in matmul_cuda.cu): every CUDA variant's
 * `available` in the registry. */
extern "C" bool dl_cuda_available(void);

/* ------------------------------------------------------------------ launch shapes */

/* Threads per block of the elementwise kernels: 8 warps, a common sweet spot on sm_90 for
 * memory-bound loops (enough warps per SM with up to 8 resident blocks of 256). */
static constexpr int DL_CUDA_ELEMENTWISE_THREADS = 256;

/* Elementwise kernels use grid-stride loops, so the grid needs only enough blocks to cover
 * the array once (up to this cap); above 2^21 blocks × 256 threads (~5e8 elements) each thread
 * takes several elements, and gridDim.x stays far below its 2^31 − 1 limit for any n. */
static constexpr unsigned DL_CUDA_GRID_MAX = 1u << 21;

/* Blocks for a grid-stride loop over n elements, at least 1 (n > 0 is the caller's test). */
static inline unsigned dl_cuda_grid_for(size_t n, int threads) {
    const size_t blocks = (n + (size_t)threads - 1) / (size_t)threads;
    return blocks == 0 ? 1u : blocks > DL_CUDA_GRID_MAX ? DL_CUDA_GRID_MAX : (unsigned)blocks;
}

/* n/d rounded up; n >= 0, d > 0. */
__host__ __device__ static inline int dl_ceil_div(int n, int d) { return n / d + (n % d != 0); }

/* ------------------------------------------------------------------ reductions */

/* Sum and max over the 32 lanes of a warp, the result in every lane (butterfly). Every lane
 * must call it (full mask). */
__device__ static inline float dl_warp_sum(float x) {
    for (int offset = 16; offset > 0; offset >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}
__device__ static inline double dl_warp_sum_double(double x) {
    for (int offset = 16; offset > 0; offset >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}
__device__ static inline int dl_warp_sum_int(int x) {
    for (int offset = 16; offset > 0; offset >>= 1)
        x += __shfl_xor_sync(0xffffffffu, x, offset);
    return x;
}

/* max that PROPAGATES NaN (fmaxf would drop it). The CPU variants' `x > max` loops skip a NaN
 * in the max and the NaN reaches the row later, through exp(NaN − max); propagating it here
 * gives the same NaN row without relying on that. */
__device__ static inline float dl_max_nan(float a, float b) { return (a != a || a > b) ? a : b; }

__device__ static inline float dl_warp_max(float x) {
    for (int offset = 16; offset > 0; offset >>= 1)
        x = dl_max_nan(x, __shfl_xor_sync(0xffffffffu, x, offset));
    return x;
}

/* Block-wide sum / max, the result in every thread. blockDim.x must be a multiple of 32 and
 * at most 1024 (so at most 32 warps); every thread of the block must call it (it contains
 * __syncthreads). `scratch` is 32 floats of shared memory that the caller may reuse after
 * the call returns (the trailing __syncthreads makes that safe). The order of additions is
 * fixed by the launch shape, so the result is the same bits on every run. */
__device__ static inline float dl_block_sum(float x, float *scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    x = dl_warp_sum(x);
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    x = lane < warps ? scratch[lane] : 0.0f;
    x = dl_warp_sum(x);
    __syncthreads();
    return x;
}
__device__ static inline float dl_block_max(float x, float *scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    x = dl_warp_max(x);
    if (lane == 0) scratch[warp] = x;
    __syncthreads();
    x = lane < warps ? scratch[lane] : -INFINITY;
    x = dl_warp_max(x);
    __syncthreads();
    return x;
}

/* ------------------------------------------------------------------ checks */

/* DL_OK when a CUDA device is usable, else DL_ERR_DEVICE saying why. `where` is the public
 * variant's name, for messages. */
static inline dl_status dl_cuda_require_device(const char *where) {
    const dl_cuda_devices devices = dl_cuda_query_devices();
    if (devices.err != cudaSuccess)
        return dl_fail_at(DL_ERR_DEVICE, where, "no CUDA device: cudaGetDeviceCount says %s (%s)%s",
                          cudaGetErrorString(devices.err), cudaGetErrorName(devices.err),
                          dl_cuda_no_device_hint(devices.err));
    if (devices.count == 0)
        return dl_fail_at(DL_ERR_DEVICE, where, "no CUDA device: cudaGetDeviceCount found 0");
    return DL_OK;
}

/* A host pointer handed to a kernel faults, and the fault is sticky: it breaks the CUDA
 * context for the rest of the process. Asking the runtime first (about a microsecond) turns
 * that into a clear DL_ERR_ARG. NULL passes (the families' own checks decide whether NULL is
 * allowed). Where the GPU can read pageable host memory (HMM, ATS), a host pointer is slow but
 * not wrong, so it passes too. */
static inline dl_status dl_cuda_check_pointer(const void *p, const char *name, const char *where) {
    if (!p) return DL_OK;
    cudaPointerAttributes attr;
    DL_CUDA_TRY_AT(where, cudaPointerGetAttributes(&attr, p));
    /* Device, managed, and pinned host memory (mapped into the GPU's address space under
     * unified addressing) can all be read by a kernel. */
    if (attr.type != cudaMemoryTypeUnregistered) return DL_OK;
    int device = 0, pageable = 0;
    if (cudaGetDevice(&device) == cudaSuccess &&
        cudaDeviceGetAttribute(&pageable, cudaDevAttrPageableMemoryAccess, device) == cudaSuccess &&
        pageable)
        return DL_OK;
    (void)cudaGetLastError();
    return dl_fail_at(DL_ERR_ARG, where,
                      "%s=%p is host memory; CUDA variants take device pointers (cudaMalloc, or "
                      "the \"cuda\" backend's alloc)",
                      name, p);
}

/* dl_cuda_check_pointer for every pointer of a list, stopping at the first bad one. */
struct dl_named_pointer {
    const void *p;
    const char *name;
};
template <size_t COUNT>
static inline dl_status dl_cuda_check_pointers(const dl_named_pointer (&list)[COUNT],
                                               const char *where) {
    for (size_t i = 0; i < COUNT; i++)
        DL_TRY(dl_cuda_check_pointer(list[i].p, list[i].name, where));
    return DL_OK;
}

#endif
