/* optim_clip.cu — global-norm gradient clipping on DEVICE pointers: dl_clip_grad_norm_cuda,
 * the CUDA twin of optim_clip.c's dl_clip_grad_norm, with the same contract (dlab/optim.h).
 *
 *   1. sum of squares: for each buffer, a fixed grid of at most CLIP_BLOCKS × CLIP_THREADS
 *      threads reads the gradient once (grid-stride), each thread summing g² in DOUBLE (the
 *      CPU's reason: fp32 would lose digits over millions of squares and overflow above
 *      1.8e19); each block reduces its threads (warp shuffles, then one warp over the warps'
 *      sums) and ADDS its sum to partial[block]. Buffers are launched one after the other on
 *      the default stream, so the adds into partial[] never race.
 *   2. the host copies the CLIP_BLOCKS partial sums back and adds them in index order. The
 *      launch shape depends only on n, so every addition happens in the same order on every
 *      run: the same bits every run (not the CPU's bits — its order is another).
 *   3. norm > max_norm: a scale kernel multiplies every gradient by (float)(max_norm / norm),
 *      one correctly rounded product per element, exactly as the CPU loop.
 *   A non-finite norm (some g is NaN or ±inf; a finite float squared in double is finite, and
 *   no realistic count of them overflows) changes nothing: a search kernel finds the smallest
 *   bad index of each buffer in turn (atomicMin) so the message can name it, as the CPU's.
 *
 * The scratch (partial sums and the search's index) is allocated per call: one cudaMalloc of
 * ~2 KB is small next to a training step, and it keeps the function free of global state, so
 * two host threads may clip at once. The call waits for the GPU (the host needs the norm).
 *
 * Leaves out: a fused multi-buffer launch (one launch per buffer is fine for the few buffers
 * a model has: the models clip their one flat gradient array), per-layer clipping.
 */
#include <math.h>
#include <stdio.h>

#include "../cuda_common.cuh"
#include "dlab/optim.h"

static constexpr int CLIP_THREADS = 256; /* a multiple of 32, at most 1024 (32 warps) */
/* Enough blocks to fill an H100 (132 SMs) about twice; more would only add partial sums. */
static constexpr int CLIP_BLOCKS = 256;

/* Device scratch of one call. */
struct clip_scratch {
    double partial[CLIP_BLOCKS];
    unsigned long long first_bad; /* smallest index of a non-finite value, or ~0 */
};

/* partial[blockIdx.x] += Σ x[i]² over this block's grid-stride share, in double. */
__global__ void clip_sum_squares_kernel(const float *__restrict__ x, size_t n,
                                        double *__restrict__ partial) {
    __shared__ double warp_sums[32];
    double acc = 0.0;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const double v = (double)x[i];
        acc = __dadd_rn(acc, __dmul_rn(v, v)); /* rounded as written: no contraction */
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    acc = dl_warp_sum_double(acc);
    if (lane == 0) warp_sums[warp] = acc;
    __syncthreads();
    if (warp == 0) {
        double s = lane < warps ? warp_sums[lane] : 0.0;
        s = dl_warp_sum_double(s);
        if (lane == 0) partial[blockIdx.x] += s;
    }
}

/* *first = min(*first, i) over the i with x[i] NaN or ±inf. */
__global__ void clip_find_nonfinite_kernel(const float *__restrict__ x, size_t n,
                                           unsigned long long *first) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        if (!isfinite(x[i])) atomicMin(first, (unsigned long long)i);
}

__global__ void clip_scale_kernel(float *__restrict__ x, size_t n, float scale) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        x[i] = __fmul_rn(x[i], scale);
}

/* Blocks for n elements: enough to cover them once, at most CLIP_BLOCKS (partial's size). */
static unsigned clip_grid(size_t n) {
    const unsigned blocks = dl_cuda_grid_for(n, CLIP_THREADS);
    return blocks < (unsigned)CLIP_BLOCKS ? blocks : (unsigned)CLIP_BLOCKS;
}

/* The first non-finite gradient, as DL_ERR_ARG naming buffer and index (the CPU's words). */
static dl_status report_nonfinite(const dl_grad_span *bufs, int count, double norm,
                                  clip_scratch *scratch, const char *where) {
    for (int b = 0; b < count; b++) {
        if (bufs[b].n == 0) continue;
        const unsigned long long none = ~0ull;
        DL_CUDA_TRY_AT(where, cudaMemcpy(&scratch->first_bad, &none, sizeof none,
                                         cudaMemcpyHostToDevice));
        clip_find_nonfinite_kernel<<<clip_grid(bufs[b].n), CLIP_THREADS>>>(
            bufs[b].ptr, bufs[b].n, &scratch->first_bad);
        DL_TRY(dl_cuda_check_launch(where, "clip_find_nonfinite_kernel"));
        unsigned long long first = none;
        DL_CUDA_TRY_AT(where, cudaMemcpy(&first, &scratch->first_bad, sizeof first,
                                         cudaMemcpyDeviceToHost));
        if (first == none) continue;
        float value = 0.0f;
        DL_CUDA_TRY_AT(where, cudaMemcpy(&value, bufs[b].ptr + first, sizeof value,
                                         cudaMemcpyDeviceToHost));
        return dl_fail_at(DL_ERR_ARG, where, "gradient norm is %g: bufs[%d][%llu] = %g", norm, b,
                          first, (double)value);
    }
    return dl_fail_at(DL_ERR_ARG, where, "gradient norm is %g", norm);
}

static dl_status clip_with_scratch(const dl_grad_span *bufs, int count, double max_norm,
                                   double *norm_out, clip_scratch *scratch, const char *where) {
    DL_CUDA_TRY_AT(where, cudaMemset(scratch->partial, 0, sizeof scratch->partial));
    for (int b = 0; b < count; b++) {
        if (bufs[b].n == 0) continue;
        clip_sum_squares_kernel<<<clip_grid(bufs[b].n), CLIP_THREADS>>>(bufs[b].ptr, bufs[b].n,
                                                                       scratch->partial);
        DL_TRY(dl_cuda_check_launch(where, "clip_sum_squares_kernel"));
    }
    double partial[CLIP_BLOCKS];
    /* cudaMemcpy waits for the kernels above; a fault inside one is reported here. */
    DL_CUDA_TRY_AT(where, cudaMemcpy(partial, scratch->partial, sizeof partial,
                                     cudaMemcpyDeviceToHost));
    double total = 0.0;
    for (int i = 0; i < CLIP_BLOCKS; i++) total += partial[i];
    const double norm = sqrt(total);
    *norm_out = norm;
    if (!isfinite(norm)) return report_nonfinite(bufs, count, norm, scratch, where);
    if (norm > max_norm) {
        /* max_norm / norm exactly, as the CPU (no +1e-6 as in PyTorch). */
        const float scale = (float)(max_norm / norm);
        for (int b = 0; b < count; b++) {
            if (bufs[b].n == 0) continue;
            clip_scale_kernel<<<dl_cuda_grid_for(bufs[b].n, DL_CUDA_ELEMENTWISE_THREADS),
                                DL_CUDA_ELEMENTWISE_THREADS>>>(bufs[b].ptr, bufs[b].n, scale);
            DL_TRY(dl_cuda_check_launch(where, "clip_scale_kernel"));
        }
        /* The caller's next step reads the clipped gradients on the same stream; waiting here
         * only makes a fault in the scale show up in this call rather than in the next one. */
        DL_CUDA_TRY_AT(where, cudaDeviceSynchronize());
    }
    return DL_OK;
}

extern "C" dl_status dl_clip_grad_norm_cuda(const dl_grad_span *bufs, int count, double max_norm,
                                            double *norm_out) {
    const char *where = __func__;
    if (norm_out) *norm_out = NAN;
    DL_TRY(dl_clip_grad_norm_check(bufs, count, max_norm, norm_out));
    DL_TRY(dl_cuda_require_device(where));
    for (int b = 0; b < count; b++) {
        if (bufs[b].n == 0) continue;
        char name[40];
        snprintf(name, sizeof name, "bufs[%d].ptr", b);
        DL_TRY(dl_cuda_check_pointer(bufs[b].ptr, name, where));
    }
    clip_scratch *scratch = nullptr;
    DL_CUDA_TRY_AT(where, cudaMalloc((void **)&scratch, sizeof *scratch));
    const dl_status s = clip_with_scratch(bufs, count, max_norm, norm_out, scratch, where);
    /* Freed on every path; a failure to free after a fault is the fault's, already reported. */
    if (cudaFree(scratch) != cudaSuccess) (void)cudaGetLastError();
    return s;
}
