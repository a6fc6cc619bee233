/* softmax_cuda_device.cuh — private to softmax.cu and softmax_topk.cu: the device pieces
 * both need. Warp and block reductions (max, sum, and the online-softmax pair rule), the
 * per-element online update, and the "is this row defined" test of softmax.h.
 *
 * Every function here is __forceinline__ and header-only, so each .cu gets its own copy
 * (no relocatable device code needed). The per-element and pair-rule pieces are __host__ too,
 * so a host program can replay a block's threads and check the logic without a GPU. Block reductions take THREADS as a template
 * parameter (a multiple of 32, at most 1024) and hand every thread the result.
 * Leaves out: anything host-side (see softmax_cuda.h).
 */
#ifndef DLAB_SOFTMAX_CUDA_DEVICE_CUH
#define DLAB_SOFTMAX_CUDA_DEVICE_CUH

#include <climits>
#include <cmath>

#include <cuda_runtime.h>

/* Column loops use int and step by up to 1024 threads from below V: j + step must not
 * overflow, so the host refuses longer rows (one of this length is already 8 GB). */
static constexpr int SOFTMAX_CUDA_V_MAX = INT_MAX - 4096;

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int lane_mask = 16; lane_mask > 0; lane_mask /= 2)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, lane_mask));
    return v;
}

/* A butterfly (xor) reduction leaves the bit-identical sum in every lane: at each step lane i
 * computes s_i + s_(i^k) and lane i^k computes s_(i^k) + s_i, the same number. */
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int lane_mask = 16; lane_mask > 0; lane_mask /= 2)
        v += __shfl_xor_sync(0xffffffffu, v, lane_mask);
    return v;
}

/* The pair rule, in place on (m, d). Symmetric in its two sides, so a butterfly leaves the
 * same (m, d) in every lane: __fmul_rn keeps nvcc from contracting one of the two products
 * into an FMA, which would round the two orders differently. */
__host__ __device__ __forceinline__ void combine(float &m, float &d, float m2, float d2) {
    const float mm = fmaxf(m, m2);
    const float s1 = m == -INFINITY ? 0.0f : expf(m - mm);
    const float s2 = m2 == -INFINITY ? 0.0f : expf(m2 - mm);
#ifdef __CUDA_ARCH__
    d = __fmul_rn(d, s1) + __fmul_rn(d2, s2);
#else
    d = d * s1 + d2 * s2; /* host copy, for checking the logic without a GPU */
#endif
    m = mm;
}

__device__ __forceinline__ void warp_combine(float &m, float &d) {
#pragma unroll
    for (int lane_mask = 16; lane_mask > 0; lane_mask /= 2) {
        const float m2 = __shfl_xor_sync(0xffffffffu, m, lane_mask);
        const float d2 = __shfl_xor_sync(0xffffffffu, d, lane_mask);
        combine(m, d, m2, d2);
    }
}

/* Block-wide reductions for THREADS threads; every thread gets the result. Each warp reduces
 * its own values, lane 0 of each parks its result in `scratch` (32 slots), and then every warp
 * reduces those THREADS/32 values itself — no third barrier to broadcast a result. The first
 * __syncthreads keeps a previous use of `scratch` from being overwritten while still read. */
template <int THREADS> __device__ __forceinline__ float block_max(float v, float *scratch) {
    static_assert(THREADS % 32 == 0 && THREADS <= 1024, "whole warps, at most 1024 threads");
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    return warp_max(lane < THREADS / 32 ? scratch[lane] : -INFINITY);
}

template <int THREADS> __device__ __forceinline__ float block_sum(float v, float *scratch) {
    static_assert(THREADS % 32 == 0 && THREADS <= 1024, "whole warps, at most 1024 threads");
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    return warp_sum(lane < THREADS / 32 ? scratch[lane] : 0.0f);
}

template <int THREADS>
__device__ __forceinline__ void block_combine(float &m, float &d, float *scratch_m,
                                              float *scratch_d) {
    static_assert(THREADS % 32 == 0 && THREADS <= 1024, "whole warps, at most 1024 threads");
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    warp_combine(m, d);
    __syncthreads();
    if (lane == 0) scratch_m[warp] = m, scratch_d[warp] = d;
    __syncthreads();
    const bool have = lane < THREADS / 32;
    m = have ? scratch_m[lane] : -INFINITY;
    d = have ? scratch_d[lane] : 0.0f;
    warp_combine(m, d);
}

/* One element into a running (m, d); see the header for the one-exp form. */
__host__ __device__ __forceinline__ void online_step(float x, float &m, float &d) {
    const bool gt = x > m; /* false for a NaN x: m stays, e and then d become NaN */
    const float hi = gt ? x : m, lo = gt ? m : x;
    const float e = lo == -INFINITY ? 0.0f : expf(lo - hi);
    d = gt ? d * e + 1.0f : d + e;
    m = hi;
}

__host__ __device__ __forceinline__ bool row_defined(float m, float d) {
    return m > -INFINITY && m < INFINITY && d > 0.0f;
}

#endif
