/* linear.cu — the CUDA variant "cublas" of the "linear" family (dlab/linear.h):
 * out = inp·weightᵀ + bias and its accumulating backward, on device pointers.
 *
 *   inp (N,C), weight (OC,C), bias (OC) or NULL, out (N,OC)
 *
 *   forward    out      = inp·weightᵀ          cuBLAS sgemm through dl_matmul_cublas (β = 0)
 *              out     += bias (per row)       bias_add_kernel, one thread per element
 *   backward   dinp    += dout·weight          cuBLAS sgemm, β = 1: BACKWARD ACCUMULATES
 *              dweight += doutᵀ·inp            cuBLAS sgemm, β = 1
 *              dbias   += Σ_rows dout          column_sum_add_kernel (below)
 *
 * The GEMMs go through matmul's cublas variant, so they share its one cuBLAS handle and its
 * true-FP32 math mode (no TF32); this file owns only the two small kernels. In a build without
 * cuBLAS (DL_NO_CUBLAS) dl_matmul_cublas says so (DL_ERR_UNSUPPORTED) and so does this variant.
 *
 * dbias: one block per 32 columns; its 32×16 threads walk the rows, thread (x, y) summing
 * column x over rows y, y + 16, ...; the 16 partial sums of a column are then added in a fixed
 * order. No atomics: the same bits every run. fp32 sums (ref uses double): within ~1e-6
 * relative for the sizes of the model stack.
 *
 * Leaves out: fusing the bias into the GEMM (cuBLASLt epilogues do; llm.c uses them), split
 * rows for dbias when OC is small and N huge (the grid is only OC/32 blocks), and TF32.
 */
#include "../cuda_common.cuh"
#include "../matmul/matmul_internal.h" /* dl_matmul_cublas */
#include "dlab/matmul.h"
#include "linear_impl.h"

/* out (N,OC) += bias (OC) on every row; grid-stride over the N·OC elements. */
__global__ void bias_add_kernel(size_t total, int OC, const float *__restrict__ bias,
                                float *__restrict__ out) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] += bias[i % (size_t)OC];
}

static constexpr int COLSUM_COLUMNS = 32;   /* columns per block: one warp reads a row slice */
static constexpr int COLSUM_ROW_LANES = 16; /* threads per column walking the rows */

/* dbias[o] += Σ_n dout[n, o]. blockDim = (32, 16); block x owns columns 32x .. 32x+31. */
__global__ void column_sum_add_kernel(int N, int OC, const float *__restrict__ dout,
                                      float *__restrict__ dbias) {
    /* +1 column of padding: the final loop reads partial[y][x] down a column. */
    __shared__ float partial[COLSUM_ROW_LANES][COLSUM_COLUMNS + 1];
    const int o = blockIdx.x * COLSUM_COLUMNS + threadIdx.x;
    float acc = 0.0f;
    if (o < OC)
        for (int n = threadIdx.y; n < N; n += COLSUM_ROW_LANES)
            acc += dout[(size_t)n * OC + o]; /* a warp reads 32 consecutive floats of row n */
    partial[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && o < OC) {
        float sum = 0.0f;
        for (int y = 0; y < COLSUM_ROW_LANES; y++)
            sum += partial[y][threadIdx.x];
        dbias[o] += sum;
    }
}

static dl_status run_gemm(const dl_matmul_args *m) { return dl_matmul_cublas(m); }

extern "C" dl_status dl_linear_cublas_forward(const dl_linear_args *a) {
    DL_TRY(dl_linear_check(a, false));
    if (a->N == 0 || a->OC == 0) return DL_OK; /* out is empty */
    DL_TRY(dl_cuda_require_device(__func__));
    const dl_named_pointer pointers[] = {
        {a->inp, "inp"}, {a->weight, "weight"}, {a->bias, "bias"}, {a->out, "out"}};
    DL_TRY(dl_cuda_check_pointers(pointers, __func__));

    /* out (N,OC) = inp (N,C) · weightᵀ (C,OC); C == 0 gives out = 0 (matmul clears it). */
    const dl_matmul_args m =
        dl_matmul_dense(a->N, a->OC, a->C, a->inp, false, a->weight, true, a->out, false);
    DL_TRY(run_gemm(&m));
    if (a->bias) {
        const size_t total = (size_t)a->N * (size_t)a->OC;
        const int threads = DL_CUDA_ELEMENTWISE_THREADS;
        bias_add_kernel<<<dl_cuda_grid_for(total, threads), threads>>>(total, a->OC, a->bias,
                                                                       a->out);
        DL_TRY(dl_cuda_check_launch(__func__, "bias_add_kernel"));
    }
    return DL_OK;
}

extern "C" dl_status dl_linear_cublas_backward(const dl_linear_args *a) {
    DL_TRY(dl_linear_check(a, true));
    const bool want_dbias = a->bias && a->dbias;
    if (!a->dinp && !a->dweight && !want_dbias) return DL_OK;
    DL_TRY(dl_cuda_require_device(__func__));
    const dl_named_pointer pointers[] = {
        {a->inp, "inp"},   {a->weight, "weight"},   {a->dout, "dout"},
        {a->dinp, "dinp"}, {a->dweight, "dweight"}, {want_dbias ? a->dbias : nullptr, "dbias"}};
    DL_TRY(dl_cuda_check_pointers(pointers, __func__));

    if (a->dinp) { /* dinp (N,C) += dout (N,OC) · weight (OC,C) */
        const dl_matmul_args m =
            dl_matmul_dense(a->N, a->C, a->OC, a->dout, false, a->weight, false, a->dinp, true);
        DL_TRY(run_gemm(&m));
    }
    if (a->dweight) { /* dweight (OC,C) += doutᵀ (OC,N) · inp (N,C) */
        const dl_matmul_args m =
            dl_matmul_dense(a->OC, a->C, a->N, a->dout, true, a->inp, false, a->dweight, true);
        DL_TRY(run_gemm(&m));
    }
    if (want_dbias && a->OC > 0 && a->N > 0) {
        const dim3 block(COLSUM_COLUMNS, COLSUM_ROW_LANES);
        column_sum_add_kernel<<<dl_ceil_div(a->OC, COLSUM_COLUMNS), block>>>(a->N, a->OC, a->dout,
                                                                             a->dbias);
        DL_TRY(dl_cuda_check_launch(__func__, "column_sum_add_kernel"));
    }
    return DL_OK;
}
