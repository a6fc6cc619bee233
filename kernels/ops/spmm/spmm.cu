/* spmm.cu — the CUDA variant "cuda" of the spmm family (dlab/spmm.h), own kernels on device
 * pointers (the CSR arrays too).
 *
 *   forward   spmm_forward_kernel   grid (OC, ⌈N/256⌉), block 256: block x owns output row o,
 *             thread y its batch row n; it walks row o's entries (the same for every thread
 *             of the block: broadcast loads) and reads inp[n, col] (strided across threads:
 *             uncoalesced, the price of row-major activations).
 *   dinp      spmm_dinp_kernel      the same grid; dinp[n, col] += vals[k]·dout[n, o] with
 *             atomicAdd, since two rows o may share a column: the order of additions, and so
 *             the last bits, vary between runs.
 *   dvals     spmm_dvals_kernel     block per output row o, one warp per stored entry k (warps
 *             stride over the row's entries), lanes over the batch, then a warp sum: fixed
 *             order, the same bits every run.
 *   dbias     spmm_dbias_kernel     block per output row, block sum over the batch.
 *
 * Compile-checked on the development machine (no GPU); tests/gpu_* run it against ref.
 * Left out: cuSPARSE, transposed activations (coalesced loads), a CSC copy to avoid atomics.
 */
#include "../cuda_common.cuh"
#include "spmm_impl.h"

static constexpr int SPMM_THREADS = 256;

__global__ void spmm_forward_kernel(int N, int C, int OC, const int *__restrict__ row_ptr,
                                    const int *__restrict__ col_idx,
                                    const float *__restrict__ vals, const float *__restrict__ inp,
                                    const float *__restrict__ bias, float *__restrict__ out) {
    const int o = blockIdx.x, n = blockIdx.y * blockDim.x + threadIdx.x;
    if (o >= OC || n >= N) return;
    float acc = bias ? bias[o] : 0.0f;
    const float *x = inp + (size_t)n * C;
    for (int k = row_ptr[o]; k < row_ptr[o + 1]; k++) acc += vals[k] * x[col_idx[k]];
    out[(size_t)n * OC + o] = acc;
}

__global__ void spmm_dinp_kernel(int N, int C, int OC, const int *__restrict__ row_ptr,
                                 const int *__restrict__ col_idx, const float *__restrict__ vals,
                                 const float *__restrict__ dout, float *__restrict__ dinp) {
    const int o = blockIdx.x, n = blockIdx.y * blockDim.x + threadIdx.x;
    if (o >= OC || n >= N) return;
    const float g = dout[(size_t)n * OC + o];
    float *d = dinp + (size_t)n * C;
    for (int k = row_ptr[o]; k < row_ptr[o + 1]; k++) atomicAdd(&d[col_idx[k]], vals[k] * g);
}

__global__ void spmm_dvals_kernel(int N, int C, int OC, const int *__restrict__ row_ptr,
                                  const int *__restrict__ col_idx, const float *__restrict__ inp,
                                  const float *__restrict__ dout, float *__restrict__ dvals) {
    const int o = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    if (o >= OC) return; /* the whole block returns together: no barrier below */
    for (int k = row_ptr[o] + warp; k < row_ptr[o + 1]; k += warps) {
        const int c = col_idx[k];
        float s = 0.0f;
        for (int n = lane; n < N; n += 32) s += dout[(size_t)n * OC + o] * inp[(size_t)n * C + c];
        s = dl_warp_sum(s);
        if (lane == 0) dvals[k] += s;
    }
}

__global__ void spmm_dbias_kernel(int N, int OC, const float *__restrict__ dout,
                                  float *__restrict__ dbias) {
    __shared__ float scratch[32];
    const int o = blockIdx.x;
    float s = 0.0f;
    for (int n = threadIdx.x; n < N; n += blockDim.x) s += dout[(size_t)n * OC + o];
    s = dl_block_sum(s, scratch);
    if (threadIdx.x == 0) dbias[o] += s;
}

/* grid (OC, ⌈N/256⌉): gridDim.x may reach 2^31 − 1, gridDim.y 65535 (N up to ~16.7M). */
static dl_status row_grid(int N, int OC, dim3 *grid, const char *where) {
    const int ny = dl_ceil_div(N, SPMM_THREADS);
    if (ny > 65535) return dl_fail_at(DL_ERR_ARG, where, "N=%d is too large for the grid", N);
    *grid = dim3((unsigned)OC, (unsigned)ny);
    return DL_OK;
}

extern "C" dl_status dl_spmm_cuda_forward(const dl_spmm_args *a) {
    DL_TRY(dl_spmm_check(a, false));
    if (a->N == 0 || a->OC == 0) return DL_OK;
    DL_TRY(dl_cuda_require_device(__func__));
    const dl_named_pointer pointers[] = {{a->row_ptr, "row_ptr"}, {a->col_idx, "col_idx"},
                                         {a->vals, "vals"},       {a->inp, "inp"},
                                         {a->bias, "bias"},       {a->out, "out"}};
    DL_TRY(dl_cuda_check_pointers(pointers, __func__));
    dim3 grid;
    DL_TRY(row_grid(a->N, a->OC, &grid, __func__));
    spmm_forward_kernel<<<grid, SPMM_THREADS>>>(a->N, a->C, a->OC, a->row_ptr, a->col_idx, a->vals,
                                                a->inp, a->bias, a->out);
    return dl_cuda_check_launch(__func__, "spmm_forward_kernel");
}

extern "C" dl_status dl_spmm_cuda_backward(const dl_spmm_args *a) {
    DL_TRY(dl_spmm_check(a, true));
    const bool want_dbias = a->bias && a->dbias;
    if (a->N == 0 || a->OC == 0 || (!a->dinp && !a->dvals && !want_dbias)) return DL_OK;
    DL_TRY(dl_cuda_require_device(__func__));
    const dl_named_pointer pointers[] = {
        {a->row_ptr, "row_ptr"}, {a->col_idx, "col_idx"}, {a->vals, "vals"},
        {a->inp, "inp"},         {a->dout, "dout"},       {a->dinp, "dinp"},
        {a->dvals, "dvals"},     {want_dbias ? a->dbias : nullptr, "dbias"}};
    DL_TRY(dl_cuda_check_pointers(pointers, __func__));
    if (a->dinp) {
        dim3 grid;
        DL_TRY(row_grid(a->N, a->OC, &grid, __func__));
        spmm_dinp_kernel<<<grid, SPMM_THREADS>>>(a->N, a->C, a->OC, a->row_ptr, a->col_idx,
                                                 a->vals, a->dout, a->dinp);
        DL_TRY(dl_cuda_check_launch(__func__, "spmm_dinp_kernel"));
    }
    if (a->dvals) {
        spmm_dvals_kernel<<<(unsigned)a->OC, SPMM_THREADS>>>(a->N, a->C, a->OC, a->row_ptr,
                                                             a->col_idx, a->inp, a->dout, a->dvals);
        DL_TRY(dl_cuda_check_launch(__func__, "spmm_dvals_kernel"));
    }
    if (want_dbias) {
        spmm_dbias_kernel<<<(unsigned)a->OC, SPMM_THREADS>>>(a->N, a->OC, a->dout, a->dbias);
        DL_TRY(dl_cuda_check_launch(__func__, "spmm_dbias_kernel"));
    }
    return DL_OK;
}
