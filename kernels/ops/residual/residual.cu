/* residual.cu — the CUDA variant "cuda" of the "residual" family (dlab/residual.h):
 * forward out = a + b, backward da += dout, db += dout (either may be NULL).
 *
 * One thread per element in a grid-stride loop; purely memory-bound (12 bytes moved per
 * addition forward). Forward may run in place (out == a or out == b): each thread reads its
 * two elements before writing, so the pointers are not marked __restrict__ there.
 *
 * Leaves out: float4 loads (the next step toward the copy bandwidth) and fusing the add into
 * the layer that follows (llm.c fuses residual + layernorm).
 */
#include "../cuda_common.cuh"
#include "dlab/residual.h"

__global__ void residual_forward_kernel(size_t n, const float *a, const float *b, float *out) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] = a[i] + b[i];
}

/* da or db may be NULL (not wanted); both NULL is filtered out before the launch. da == db
 * would be a caller's bug (two += on one element in one thread are still both applied, in
 * order, so it even gives 2·dout). */
__global__ void residual_backward_kernel(size_t n, const float *__restrict__ dout, float *da,
                                         float *db) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const float d = dout[i];
        if (da) da[i] += d;
        if (db) db[i] += d;
    }
}

static dl_status residual_cuda_forward(const dl_residual_args *r) {
    if (!r) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (r->n == 0) return DL_OK;
    DL_TRY(dl_cuda_require_device(__func__));
    const dl_named_pointer pointers[] = {{r->a, "a"}, {r->b, "b"}, {r->out, "out"}};
    DL_TRY(dl_cuda_check_pointers(pointers, __func__));
    const int threads = DL_CUDA_ELEMENTWISE_THREADS;
    residual_forward_kernel<<<dl_cuda_grid_for(r->n, threads), threads>>>(r->n, r->a, r->b, r->out);
    return dl_cuda_check_launch(__func__, "residual_forward_kernel");
}

static dl_status residual_cuda_backward(const dl_residual_args *r) {
    if (!r) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (r->n == 0 || (!r->da && !r->db)) return DL_OK;
    DL_TRY(dl_cuda_require_device(__func__));
    const dl_named_pointer pointers[] = {{r->dout, "dout"}, {r->da, "da"}, {r->db, "db"}};
    DL_TRY(dl_cuda_check_pointers(pointers, __func__));
    const int threads = DL_CUDA_ELEMENTWISE_THREADS;
    residual_backward_kernel<<<dl_cuda_grid_for(r->n, threads), threads>>>(r->n, r->dout, r->da,
                                                                           r->db);
    return dl_cuda_check_launch(__func__, "residual_backward_kernel");
}

extern "C" const dl_residual_impl dl_residual_cuda_impl = {residual_cuda_forward,
                                                           residual_cuda_backward};
