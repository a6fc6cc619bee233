/* softmax_xent.cu — the CUDA variant "cuda" of the "softmax_xent" family
 * (dlab/softmax_xent.h): softmax of each row of logits (N,V) fused with its cross-entropy
 * loss, and the accumulating backward, on device pointers.
 *
 *   forward    softmax_xent_forward_kernel   one block per row: block max, block Σ e^(x−max),
 *                                            probs = e^(x−max) / Σ, and (thread 0) the loss
 *                                            log Σ − (x_t − max), never log of a probability
 *              mean_and_count_kernel         one block: Σ losses / n_valid into *mean_loss
 *   backward   mean_and_count_kernel         n_valid into a __device__ int (no host round trip)
 *              softmax_xent_backward_kernel  one block per valid row:
 *                                            dlogits += dloss_scale·(probs − onehot)/n_valid
 *
 * Why three passes over a row and not the online (one-pass) softmax: the model stack's rows
 * (V = 10 .. 50k) are read from L2 on the second and third pass; lesson 2 measures the online
 * form, and the softmax family gets it. Block sums are in a fixed order: the same bits every
 * run. Probabilities use the accurate expf and a true division (within ~1e-6 of ref); the
 * mean over rows and the gradient's scale are in double, like ref.
 *
 * Special values as the header states: a row with a NaN or +inf logit, or only −inf logits,
 * gets NaN probs and loss (the max here propagates NaN); −inf logits get probability 0; a
 * −inf target logit gives loss +inf; logits of ±1e30 give finite losses.
 *
 * What differs from the CPU variants, because the targets live on the device and reading
 * them back would synchronize: a target outside [0,V) other than DL_XENT_IGNORE is not
 * reported as DL_ERR_ARG. Its row gets loss NaN (so the mean is NaN: loud, not silent), it
 * counts as a valid row, and it gets no gradient. A caller that wants the error runs
 * dl_softmax_xent_check on its host copy of the targets before copying them over.
 *
 * Not for concurrent use from several host threads: backward passes n_valid from one kernel
 * to the next through one __device__ variable (both on the default stream, so one call's pair
 * runs in order; two threads' calls could interleave).
 *
 * Leaves out: the online softmax, keeping the row in registers or shared memory between
 * passes, a warp per row for small V (V = 65 uses one 96-thread block per row here), and
 * skipping the probs write (llm.c's fused classifier writes dlogits directly in forward).
 */
#include <math.h>

#include "../cuda_common.cuh"
#include "softmax_xent_impl.h"

/* n_valid for the backward kernel that follows on the same stream. */
__device__ int xent_valid_rows;

/* Threads per row block: V rounded up to whole warps, at most 512 (a long row is strided). */
static int row_threads(int V) {
    const int warps = dl_ceil_div(V > 0 ? V : 1, 32);
    return warps >= 16 ? 512 : 32 * warps;
}

__global__ void softmax_xent_forward_kernel(int V, const float *__restrict__ logits,
                                            const int *__restrict__ targets,
                                            float *__restrict__ probs, float *__restrict__ losses) {
    __shared__ float scratch[32];
    const int row = blockIdx.x;
    const float *x = logits + (size_t)row * V;
    float *p = probs + (size_t)row * V;

    float max = -INFINITY;
    for (int j = threadIdx.x; j < V; j += blockDim.x)
        max = dl_max_nan(max, x[j]);
    max = dl_block_max(max, scratch);
    float sum = 0.0f;
    for (int j = threadIdx.x; j < V; j += blockDim.x)
        sum += expf(x[j] - max);
    sum = dl_block_sum(sum, scratch);
    for (int j = threadIdx.x; j < V; j += blockDim.x)
        p[j] = expf(x[j] - max) / sum;

    if (threadIdx.x == 0) {
        const int t = targets[row];
        float loss;
        if (t == DL_XENT_IGNORE)
            loss = 0.0f;
        else if (t < 0 || t >= V)
            loss = NAN; /* see the header comment: no DL_ERR_ARG from the device */
        else
            loss = logf(sum) - (x[t] - max); /* −log p_t without the log of a tiny p_t */
        losses[row] = loss;
    }
}

/* One block of 1024 threads. Counts the rows whose target is not DL_XENT_IGNORE; with
 * `losses` and `mean_loss`, also writes *mean_loss = Σ losses / n_valid (0 with no valid
 * row); with store_count, leaves n_valid in xent_valid_rows. Sums in double, fixed order. */
__global__ void mean_and_count_kernel(int N, const int *__restrict__ targets,
                                      const float *__restrict__ losses,
                                      float *__restrict__ mean_loss, bool store_count) {
    __shared__ double warp_total[32];
    __shared__ int warp_valid[32];
    double total = 0.0;
    int valid = 0;
    for (int i = threadIdx.x; i < N; i += blockDim.x) {
        if (targets[i] == DL_XENT_IGNORE) continue;
        valid += 1;
        if (losses) total += (double)losses[i];
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    total = dl_warp_sum_double(total);
    valid = dl_warp_sum_int(valid);
    if (lane == 0) {
        warp_total[warp] = total;
        warp_valid[warp] = valid;
    }
    __syncthreads();
    if (warp == 0) {
        total = lane < warps ? warp_total[lane] : 0.0;
        valid = lane < warps ? warp_valid[lane] : 0;
        total = dl_warp_sum_double(total);
        valid = dl_warp_sum_int(valid);
        if (lane == 0) {
            if (mean_loss) *mean_loss = valid > 0 ? (float)(total / valid) : 0.0f;
            if (store_count) xent_valid_rows = valid;
        }
    }
}

static constexpr int COUNT_THREADS = 1024;

__global__ void softmax_xent_backward_kernel(int V, float dloss_scale,
                                             const int *__restrict__ targets,
                                             const float *__restrict__ probs,
                                             float *__restrict__ dlogits) {
    const int row = blockIdx.x;
    const int t = targets[row];
    /* Ignored rows, and out-of-range targets (see the header comment): no gradient. The
     * whole block leaves together. */
    if (t == DL_XENT_IGNORE || t < 0 || t >= V) return;
    const int valid = xent_valid_rows; /* >= 1: this row is one */
    const double scale = (double)dloss_scale / valid;
    const float *p = probs + (size_t)row * V;
    float *d = dlogits + (size_t)row * V;
    for (int j = threadIdx.x; j < V; j += blockDim.x)
        d[j] = (float)((double)d[j] + scale * ((double)p[j] - (j == t ? 1.0 : 0.0)));
}

/* The host-side checks of dl_softmax_xent_check, less the target range (targets are on the
 * device). */
static dl_status check_shapes(const dl_softmax_xent_args *a, bool backward, const char *where) {
    if (!a) return dl_fail_at(DL_ERR_ARG, where, "args is NULL");
    if (a->N < 0 || a->V < 0)
        return dl_fail_at(DL_ERR_ARG, where, "negative size N=%d V=%d", a->N, a->V);
    if (a->N == 0) return DL_OK;
    if (!a->targets) return dl_fail_at(DL_ERR_ARG, where, "targets is NULL");
    if (!a->losses && !backward) return dl_fail_at(DL_ERR_ARG, where, "losses is NULL");
    if (a->V > 0) {
        if (!a->logits && !backward) return dl_fail_at(DL_ERR_ARG, where, "logits is NULL");
        if (!a->probs) return dl_fail_at(DL_ERR_ARG, where, "probs is NULL");
        if (!a->dlogits && backward) return dl_fail_at(DL_ERR_ARG, where, "dlogits is NULL");
    }
    return DL_OK;
}

static dl_status softmax_xent_cuda_forward(const dl_softmax_xent_args *a) {
    DL_TRY(check_shapes(a, false, __func__));
    if (a->N == 0) {
        /* No rows, no valid row: the mean is 0, as ref writes it. */
        if (a->mean_loss) {
            DL_TRY(dl_cuda_require_device(__func__));
            DL_CUDA_TRY(cudaMemset(a->mean_loss, 0, sizeof(float)));
        }
        return DL_OK;
    }
    DL_TRY(dl_cuda_require_device(__func__));
    const dl_named_pointer pointers[] = {{a->logits, "logits"},
                                         {a->targets, "targets"},
                                         {a->probs, "probs"},
                                         {a->losses, "losses"},
                                         {a->mean_loss, "mean_loss"}};
    DL_TRY(dl_cuda_check_pointers(pointers, __func__));
    softmax_xent_forward_kernel<<<a->N, row_threads(a->V)>>>(a->V, a->logits, a->targets, a->probs,
                                                             a->losses);
    DL_TRY(dl_cuda_check_launch(__func__, "softmax_xent_forward_kernel"));
    if (a->mean_loss) {
        mean_and_count_kernel<<<1, COUNT_THREADS>>>(a->N, a->targets, a->losses, a->mean_loss,
                                                    false);
        DL_TRY(dl_cuda_check_launch(__func__, "mean_and_count_kernel"));
    }
    return DL_OK;
}

static dl_status softmax_xent_cuda_backward(const dl_softmax_xent_args *a) {
    DL_TRY(check_shapes(a, true, __func__));
    if (a->N == 0 || a->V == 0) return DL_OK;
    DL_TRY(dl_cuda_require_device(__func__));
    const dl_named_pointer pointers[] = {
        {a->targets, "targets"}, {a->probs, "probs"}, {a->dlogits, "dlogits"}};
    DL_TRY(dl_cuda_check_pointers(pointers, __func__));
    mean_and_count_kernel<<<1, COUNT_THREADS>>>(a->N, a->targets, nullptr, nullptr, true);
    DL_TRY(dl_cuda_check_launch(__func__, "mean_and_count_kernel"));
    softmax_xent_backward_kernel<<<a->N, row_threads(a->V)>>>(a->V, a->dloss_scale, a->targets,
                                                              a->probs, a->dlogits);
    return dl_cuda_check_launch(__func__, "softmax_xent_backward_kernel");
}

extern "C" const dl_softmax_xent_impl dl_softmax_xent_cuda_impl = {softmax_xent_cuda_forward,
                                                                   softmax_xent_cuda_backward};
