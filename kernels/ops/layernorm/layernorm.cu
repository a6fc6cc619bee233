/* layernorm.cu — the CUDA variant "cuda" of the "layernorm" family (dlab/layernorm.h):
 * normalize each row of inp (N,C) to zero mean and unit variance, scale by gamma, shift by
 * beta; forward saves mean and rstd per row for backward. Device pointers.
 *
 *   forward             one warp per row: three passes over the row (sum → mean; squared
 *                       deviations → variance, two-pass like ref, no E[x²] − E[x]²
 *                       cancellation; normalize and write). The row is read three times, the
 *                       later two mostly from L1/L2.
 *   backward dinp       one warp per row: mean_c(g) and mean_c(g·n) by warp sums, then
 *                       dinp += rstd·(g − mean_c(g) − n·mean_c(g·n)), g = dout·gamma,
 *                       n = (inp − mean)·rstd from the saved statistics.
 *   backward dgamma,    column sums over the rows: one block per 32 columns, 32×16 threads,
 *            dbeta      the 16 partial sums per column added in a fixed order (no atomics,
 *                       the same bits every run).
 *
 * A warp per row fits the model stack's widths (C = 64 .. 1024: 2 .. 32 floats per lane).
 * Sums are fp32 (ref's are double): within ~1e-6 relative for such rows.
 * BACKWARD ACCUMULATES into dinp, dgamma, dbeta; each may be NULL. N or C may be 0.
 *
 * Leaves out: keeping the row in registers between passes (the row length is a run-time
 * value), a block per row for very wide rows (C ≫ 1024), and splitting the column sums over
 * rows when C is small and N huge (the grid is only C/32 blocks).
 */
#include "../cuda_common.cuh"
#include "layernorm_impl.h"

static constexpr int ROW_THREADS = 256; /* 8 warps: 8 rows per block */
static constexpr int COLSUM_COLUMNS = 32;
static constexpr int COLSUM_ROW_LANES = 16;

__global__ void layernorm_forward_kernel(int N, int C, float eps, const float *inp,
                                         const float *__restrict__ gamma,
                                         const float *__restrict__ beta, float *out,
                                         float *__restrict__ mean, float *__restrict__ rstd) {
    const int lane = threadIdx.x & 31;
    const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= N) return; /* the whole warp leaves together; no __syncthreads below */
    const float *x = inp + (size_t)row * C;
    float *y = out + (size_t)row * C;

    float sum = 0.0f;
    for (int c = lane; c < C; c += 32)
        sum += x[c];
    const float m = dl_warp_sum(sum) / (float)C;
    float squares = 0.0f;
    for (int c = lane; c < C; c += 32) {
        const float d = x[c] - m;
        squares += d * d;
    }
    const float var = dl_warp_sum(squares) / (float)C;
    const float s = 1.0f / sqrtf(var + eps); /* IEEE sqrt and division, not rsqrtf */
    for (int c = lane; c < C; c += 32)
        y[c] = (x[c] - m) * s * gamma[c] + beta[c];
    if (lane == 0) {
        mean[row] = m;
        rstd[row] = s;
    }
}

__global__ void layernorm_backward_dinp_kernel(int N, int C, const float *__restrict__ inp,
                                               const float *__restrict__ gamma,
                                               const float *__restrict__ mean,
                                               const float *__restrict__ rstd,
                                               const float *__restrict__ dout,
                                               float *__restrict__ dinp) {
    const int lane = threadIdx.x & 31;
    const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= N) return;
    const size_t base = (size_t)row * C;
    const float m = mean[row], s = rstd[row];

    float g_sum = 0.0f, gn_sum = 0.0f;
    for (int c = lane; c < C; c += 32) {
        const float g = dout[base + c] * gamma[c];
        const float n = (inp[base + c] - m) * s;
        g_sum += g;
        gn_sum += g * n;
    }
    const float g_mean = dl_warp_sum(g_sum) / (float)C;
    const float gn_mean = dl_warp_sum(gn_sum) / (float)C;
    for (int c = lane; c < C; c += 32) {
        const float g = dout[base + c] * gamma[c];
        const float n = (inp[base + c] - m) * s;
        dinp[base + c] += s * (g - g_mean - n * gn_mean);
    }
}

/* dgamma[c] += Σ_i dout[i,c]·n[i,c], dbeta[c] += Σ_i dout[i,c]; either may be NULL.
 * blockDim = (32, 16); block x owns columns 32x .. 32x+31. */
__global__ void layernorm_backward_params_kernel(int N, int C, const float *__restrict__ inp,
                                                 const float *__restrict__ mean,
                                                 const float *__restrict__ rstd,
                                                 const float *__restrict__ dout,
                                                 float *__restrict__ dgamma,
                                                 float *__restrict__ dbeta) {
    __shared__ float partial_gamma[COLSUM_ROW_LANES][COLSUM_COLUMNS + 1];
    __shared__ float partial_beta[COLSUM_ROW_LANES][COLSUM_COLUMNS + 1];
    const int c = blockIdx.x * COLSUM_COLUMNS + threadIdx.x;
    float acc_gamma = 0.0f, acc_beta = 0.0f;
    if (c < C) {
        for (int i = threadIdx.y; i < N; i += COLSUM_ROW_LANES) {
            const size_t at = (size_t)i * C + c; /* a warp reads 32 consecutive floats */
            const float dy = dout[at];
            acc_gamma += dy * ((inp[at] - mean[i]) * rstd[i]);
            acc_beta += dy;
        }
    }
    partial_gamma[threadIdx.y][threadIdx.x] = acc_gamma;
    partial_beta[threadIdx.y][threadIdx.x] = acc_beta;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float sum_gamma = 0.0f, sum_beta = 0.0f;
        for (int y = 0; y < COLSUM_ROW_LANES; y++) {
            sum_gamma += partial_gamma[y][threadIdx.x];
            sum_beta += partial_beta[y][threadIdx.x];
        }
        if (dgamma) dgamma[c] += sum_gamma;
        if (dbeta) dbeta[c] += sum_beta;
    }
}

static dl_status layernorm_cuda_forward(const dl_layernorm_args *a) {
    DL_TRY(dl_layernorm_check(a, false));
    if ((long)a->N * a->C == 0) return DL_OK;
    DL_TRY(dl_cuda_require_device(__func__));
    const dl_named_pointer pointers[] = {{a->inp, "inp"}, {a->gamma, "gamma"}, {a->beta, "beta"},
                                         {a->out, "out"}, {a->mean, "mean"},   {a->rstd, "rstd"}};
    DL_TRY(dl_cuda_check_pointers(pointers, __func__));
    const int rows_per_block = ROW_THREADS / 32;
    layernorm_forward_kernel<<<dl_ceil_div(a->N, rows_per_block), ROW_THREADS>>>(
        a->N, a->C, dl_layernorm_eps(a), a->inp, a->gamma, a->beta, a->out, a->mean, a->rstd);
    return dl_cuda_check_launch(__func__, "layernorm_forward_kernel");
}

static dl_status layernorm_cuda_backward(const dl_layernorm_args *a) {
    DL_TRY(dl_layernorm_check(a, true));
    if ((long)a->N * a->C == 0 || (!a->dinp && !a->dgamma && !a->dbeta)) return DL_OK;
    DL_TRY(dl_cuda_require_device(__func__));
    const dl_named_pointer pointers[] = {
        {a->inp, "inp"},   {a->gamma, "gamma"}, {a->mean, "mean"},     {a->rstd, "rstd"},
        {a->dout, "dout"}, {a->dinp, "dinp"},   {a->dgamma, "dgamma"}, {a->dbeta, "dbeta"}};
    DL_TRY(dl_cuda_check_pointers(pointers, __func__));
    if (a->dinp) {
        const int rows_per_block = ROW_THREADS / 32;
        layernorm_backward_dinp_kernel<<<dl_ceil_div(a->N, rows_per_block), ROW_THREADS>>>(
            a->N, a->C, a->inp, a->gamma, a->mean, a->rstd, a->dout, a->dinp);
        DL_TRY(dl_cuda_check_launch(__func__, "layernorm_backward_dinp_kernel"));
    }
    if (a->dgamma || a->dbeta) {
        const dim3 block(COLSUM_COLUMNS, COLSUM_ROW_LANES);
        layernorm_backward_params_kernel<<<dl_ceil_div(a->C, COLSUM_COLUMNS), block>>>(
            a->N, a->C, a->inp, a->mean, a->rstd, a->dout, a->dgamma, a->dbeta);
        DL_TRY(dl_cuda_check_launch(__func__, "layernorm_backward_params_kernel"));
    }
    return DL_OK;
}

extern "C" const dl_layernorm_impl dl_layernorm_cuda_impl = {layernorm_cuda_forward,
                                                             layernorm_cuda_backward};
