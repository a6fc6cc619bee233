/* maxpool.cu — the CUDA variants of the "maxpool" family (dlab/maxpool.h), on DEVICE pointers:
 *
 *   cuda    own kernels. Forward: one thread per output scans its K×K window in row-major
 *           order with maxpool_impl.h's rule (strictly greater, or the first NaN), writing
 *           out and argmax, so both equal ref's bit for bit. Backward: a GATHER, one thread
 *           per input pixel, which visits the windows that cover the pixel and adds the dout
 *           of those whose argmax is that pixel. No atomics: deterministic, and the additions
 *           happen in the order ref makes them (windows in row-major order, each added to the
 *           running dinp value), so dinp equals ref's bit for bit too.
 *   cudnn   forward: cudnnPoolingForward (CUDNN_POOLING_MAX_DETERMINISTIC, CUDNN_PROPAGATE_NAN)
 *           writes out; cuDNN does not give positions, so a second kernel (the cuda forward
 *           without its store of out) writes argmax by the family's rule. It is there to
 *           compare cuDNN's pooling speed with the own kernel; it reads the input twice, so
 *           the own variant should win. Backward: the cuda gather (cuDNN's backward needs
 *           the forward's x and y and routes by value, not by argmax).
 *
 * Why a gather: with stride < K, windows overlap and one pixel may receive from several; a
 * scatter over outputs would need atomicAdd, whose order — and so the rounding — changes
 * from run to run. The pixel (y, x) lies in the windows oh = ceil((y − K + 1)/s) .. floor(y/s)
 * (clipped to 0 .. OH − 1), likewise ow: at most ceil(K/s)² of them.
 *
 * Contract differences: for cudnn, out comes from cuDNN. Its value equals inp[argmax] (a max
 * is unique as a value), except that cuDNN may return −0 where ref returns +0 (or the
 * reverse) when both zeros tie in a window, and a NaN's payload may differ; cuDNN with
 * PROPAGATE_NAN outputs NaN for any window holding one, as maxpool.h asks. A window of only
 * −inf, where cuDNN writes −FLT_MAX (its initial value; seen on an H100 with cuDNN 9), is
 * set to −inf by the argmax kernel, which knows the window's maximum anyway. The backward
 * honours an argmax only inside its own window (the forward never writes one elsewhere;
 * ref would follow a corrupted one anywhere in the plane).
 *
 * Limits: H·W ≤ INT_MAX (argmax is an int); for cudnn every tensor ≤ INT_MAX elements.
 * Launches on the default stream and returns without waiting. Under DL_NO_CUDNN the cudnn
 * variant reports itself unavailable and returns DL_ERR_UNSUPPORTED; cuda is unaffected.
 *
 * Leaves out: shared-memory tiling of overlapping windows (each input is read ~K²/s² times,
 * from L1/L2), vector loads, a K = 2, s = 2 special case.
 */
#include <climits>

#include "../cuda_common.cuh"
#include "../cudnn_common.cuh"
#include "maxpool_impl.h"

/* ------------------------------------------------------------------ kernels */

/* Shapes the kernels share. Planes are (n, c) pairs; plane sizes fit an int (checked). */
struct pool_shape {
    int H, W, OH, OW, K, stride;
};

/* One thread per output o (grid-stride over all N·C·OH·OW): the first maximum of its window
 * by dl_maxpool_takes, as ref scans it. STORE_OUT false: argmax (after cuDNN's out), and out
 * only where the window is all −inf. */
template <bool STORE_OUT>
__global__ void maxpool_forward_kernel(size_t outputs, pool_shape s, const float *__restrict__ inp,
                                       float *__restrict__ out, int *__restrict__ argmax) {
    const size_t per_plane = (size_t)s.OH * s.OW;
    for (size_t o = blockIdx.x * (size_t)blockDim.x + threadIdx.x; o < outputs;
         o += (size_t)gridDim.x * blockDim.x) {
        const size_t plane = o / per_plane;
        const int r = (int)(o - plane * per_plane);
        const int oh = r / s.OW, ow = r % s.OW;
        const float *in = inp + plane * ((size_t)s.H * s.W);
        const int y0 = oh * s.stride, x0 = ow * s.stride;
        int arg = y0 * s.W + x0;
        float best = in[arg];
        for (int ky = 0; ky < s.K; ky++)
            for (int kx = 0; kx < s.K; kx++) {
                const int at = (y0 + ky) * s.W + x0 + kx;
                const float v = in[at];
                if (dl_maxpool_takes(v, best)) best = v, arg = at;
            }
        if (STORE_OUT) out[o] = best;
        /* cuDNN starts its max at −FLT_MAX, so a window of nothing but −inf comes back as
         * −FLT_MAX; the family's value there is −inf (the window's own maximum). */
        else if (best == -INFINITY) out[o] = best;
        argmax[o] = arg;
    }
}

/* One thread per input pixel i (grid-stride over all N·C·H·W): dinp[i] += the douts of the
 * covering windows whose argmax is i, added one at a time in row-major window order (ref's
 * order). A pixel that no window chose is not written at all (so −0 stays −0, as in ref). */
__global__ void maxpool_backward_gather_kernel(size_t inputs, pool_shape s,
                                               const int *__restrict__ argmax,
                                               const float *__restrict__ dout,
                                               float *__restrict__ dinp) {
    const size_t plane_in = (size_t)s.H * s.W, plane_out = (size_t)s.OH * s.OW;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < inputs;
         i += (size_t)gridDim.x * blockDim.x) {
        const size_t plane = i / plane_in;
        const int pos = (int)(i - plane * plane_in);
        const int y = pos / s.W, x = pos % s.W;
        /* windows oh with oh·stride <= y <= oh·stride + K − 1 */
        const int oh_first = y - s.K + 1 <= 0 ? 0 : dl_ceil_div(y - s.K + 1, s.stride);
        const int ow_first = x - s.K + 1 <= 0 ? 0 : dl_ceil_div(x - s.K + 1, s.stride);
        const int oh_last = min(y / s.stride, s.OH - 1);
        const int ow_last = min(x / s.stride, s.OW - 1);
        if (oh_first > oh_last || ow_first > ow_last) continue; /* in no window (floor mode) */
        const int *am = argmax + plane * plane_out;
        const float *dy = dout + plane * plane_out;
        float g = 0.0f;
        bool chosen = false;
        for (int oh = oh_first; oh <= oh_last; oh++)
            for (int ow = ow_first; ow <= ow_last; ow++) {
                const int o = oh * s.OW + ow;
                if (am[o] != pos) continue;
                if (!chosen) g = dinp[i], chosen = true; /* read only when we will write */
                g += dy[o];
            }
        if (chosen) dinp[i] = g;
    }
}

/* ------------------------------------------------------------------ host: checks */

static pool_shape shape_of(const dl_maxpool_args *a) {
    return pool_shape{a->H, a->W, dl_maxpool_out_h(a), dl_maxpool_out_w(a), a->K, a->stride};
}

/* Arguments, a device, device pointers, size limits. *done: nothing to launch. */
static dl_status prologue(const dl_maxpool_args *a, bool backward, const char *where, bool *done) {
    *done = true;
    if (!a) return dl_fail_at(DL_ERR_ARG, where, "args is NULL");
    DL_TRY(dl_maxpool_check(a, backward));
    if (a->N == 0) return DL_OK;
    if ((long long)a->H * a->W > (long long)INT_MAX)
        return dl_fail_at(DL_ERR_ARG, where,
                          "plane %d×%d has more than INT_MAX pixels (argmax is an int)", a->H,
                          a->W);
    DL_TRY(dl_cuda_require_device(where));
    const dl_named_pointer forward_pointers[] = {
        {a->inp, "inp"}, {a->out, "out"}, {a->argmax, "argmax"}};
    const dl_named_pointer backward_pointers[] = {
        {a->argmax, "argmax"}, {a->dout, "dout"}, {a->dinp, "dinp"}};
    if (backward)
        DL_TRY(dl_cuda_check_pointers(backward_pointers, where));
    else
        DL_TRY(dl_cuda_check_pointers(forward_pointers, where));
    *done = false;
    return DL_OK;
}

static size_t output_count(const dl_maxpool_args *a) {
    return (size_t)a->N * a->C * (size_t)dl_maxpool_out_h(a) * dl_maxpool_out_w(a);
}

static constexpr int THREADS = DL_CUDA_ELEMENTWISE_THREADS;

/* ------------------------------------------------------------------ cuda */

extern "C" dl_status dl_maxpool_cuda_forward(const dl_maxpool_args *a) {
    const char *where = "maxpool cuda forward";
    bool done;
    DL_TRY(prologue(a, false, where, &done));
    if (done) return DL_OK;
    const size_t outputs = output_count(a);
    maxpool_forward_kernel<true><<<dl_cuda_grid_for(outputs, THREADS), THREADS>>>(
        outputs, shape_of(a), a->inp, a->out, a->argmax);
    return dl_cuda_check_launch(where, "maxpool_forward_kernel");
}

extern "C" dl_status dl_maxpool_cuda_backward(const dl_maxpool_args *a) {
    const char *where = "maxpool backward (cuda, cudnn)";
    bool done;
    DL_TRY(prologue(a, true, where, &done));
    if (done) return DL_OK;
    const size_t inputs = (size_t)a->N * a->C * (size_t)a->H * a->W;
    maxpool_backward_gather_kernel<<<dl_cuda_grid_for(inputs, THREADS), THREADS>>>(
        inputs, shape_of(a), a->argmax, a->dout, a->dinp);
    return dl_cuda_check_launch(where, "maxpool_backward_gather_kernel");
}

/* ------------------------------------------------------------------ cudnn */

#ifdef DL_NO_CUDNN

extern "C" bool dl_maxpool_cudnn_available(void) { return false; }
extern "C" dl_status dl_maxpool_cudnn_forward(const dl_maxpool_args *a) {
    (void)a;
    return DL_FAIL(DL_ERR_UNSUPPORTED, "maxpool cudnn: libdlab was built without cuDNN");
}

#else

extern "C" bool dl_maxpool_cudnn_available(void) { return dl_cudnn_available(); }

/* K×K max pooling, no padding, stride on both axes, NaN propagated, destroyed on scope exit. */
struct cudnn_pooling {
    cudnnPoolingDescriptor_t desc = nullptr;
    cudnn_pooling() = default;
    cudnn_pooling(const cudnn_pooling &) = delete;
    cudnn_pooling &operator=(const cudnn_pooling &) = delete;
    ~cudnn_pooling() {
        if (desc) (void)cudnnDestroyPoolingDescriptor(desc);
    }
    dl_status make(int K, int stride, const char *where) {
        DL_CUDNN_TRY_AT(where, cudnnCreatePoolingDescriptor(&desc));
        DL_CUDNN_TRY_AT(where, cudnnSetPooling2dDescriptor(desc, CUDNN_POOLING_MAX_DETERMINISTIC,
                                                           CUDNN_PROPAGATE_NAN, K, K, 0, 0, stride,
                                                           stride));
        return DL_OK;
    }
};

extern "C" dl_status dl_maxpool_cudnn_forward(const dl_maxpool_args *a) {
    const char *where = "maxpool cudnn forward";
    bool done;
    DL_TRY(prologue(a, false, where, &done));
    if (done) return DL_OK;
    const int OH = dl_maxpool_out_h(a), OW = dl_maxpool_out_w(a);
    DL_TRY(dl_cudnn_check_elements(a->N, a->C, a->H, a->W, "inp", where));

    { /* the session (and its lock) ends before the argmax launch */
        dl_cudnn_session cudnn;
        DL_TRY(cudnn.begin(where));
        dl_cudnn_tensor x, y;
        cudnn_pooling pool;
        DL_TRY(x.make(a->N, a->C, a->H, a->W, where));
        DL_TRY(pool.make(a->K, a->stride, where));
        /* cuDNN's output size must be maxpool.h's floor mode, or every index would be off. */
        int n = 0, c = 0, h = 0, w = 0;
        DL_CUDNN_TRY_AT(where,
                        cudnnGetPooling2dForwardOutputDim(pool.desc, x.desc, &n, &c, &h, &w));
        if (n != a->N || c != a->C || h != OH || w != OW)
            return dl_fail_at(DL_ERR_CUDA, where,
                              "cuDNN computes an output of %d×%d×%d×%d, maxpool.h %d×%d×%d×%d", n,
                              c, h, w, a->N, a->C, OH, OW);
        DL_TRY(y.make(a->N, a->C, OH, OW, where));
        const float one = 1.0f, zero = 0.0f; /* beta = 0: out is only written */
        DL_CUDNN_TRY_AT(where, cudnnPoolingForward(cudnn.handle, pool.desc, &one, x.desc, a->inp,
                                                   &zero, y.desc, a->out));
    }
    /* The positions, by the family's rule; the same stream, so after cuDNN's kernel. */
    const size_t outputs = output_count(a);
    maxpool_forward_kernel<false><<<dl_cuda_grid_for(outputs, THREADS), THREADS>>>(
        outputs, shape_of(a), a->inp, a->out, a->argmax);
    return dl_cuda_check_launch(where, "maxpool_forward_kernel<argmax only>");
}

#endif /* DL_NO_CUDNN */
