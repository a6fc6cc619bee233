/* conv2d.cu — the CUDA variant "cudnn" of the "conv2d" family (dlab/conv2d.h): forward and
 * backward through cuDNN's legacy convolution API, on DEVICE pointers, fp32.
 *
 *   forward   out = conv(inp, weight)          cudnnConvolutionForward, beta = 0
 *             out += bias (per channel)        cudnnAddTensor, beta = 1   (when bias != NULL)
 *   backward  dbias   += Σ dout                cudnnConvolutionBackwardBias,   beta = 1
 *             dweight += conv'_w(inp, dout)    cudnnConvolutionBackwardFilter, beta = 1
 *             dinp    += conv'_x(weight, dout) cudnnConvolutionBackwardData,   beta = 1
 *   each backward product only when its pointer is non-NULL: beta = 1 is the family's
 *   ACCUMULATE contract, so nothing is zeroed and no scratch copy is needed.
 *
 * Settings, and why.
 *  - CUDNN_CROSS_CORRELATION: conv2d.h's formula does not flip the kernel (CUDNN_CONVOLUTION
 *    would). Dilation 1, pad and stride the same along H and W.
 *  - CUDNN_DATA_FLOAT compute type and CUDNN_FMA_MATH: true fp32. CUDNN_DEFAULT_MATH permits
 *    TF32 tensor cores on Ampere and later (10-bit mantissa, ~1e-3 relative error), which the
 *    family's 1e-4 bound would not survive; FMA_MATH restricts cuDNN to FMA kernels
 *    (cuDNN API, cudnnMathType_t). tests/gpu_conv.c has a case that fails under TF32.
 *  - Algorithms from the heuristics (cudnnGet*Algorithm_v7: no benchmarking, microseconds):
 *    the first proposal that succeeded, is DETERMINISTIC and fits the workspace limit; if
 *    none is deterministic, the first that succeeded and fits. Deterministic first, because a
 *    parity run CPU vs GPU and two runs of one training should give the same bits; the
 *    non-deterministic ones (atomics in the filter gradient) are rarely much faster here.
 *  - Workspace: cudnn_common.cuh's grow-only buffer (one for the process).
 *  - Descriptors are made per call (a few microseconds; no cache to invalidate) and
 *    destroyed on every return path (RAII).
 *
 * Contract differences from the CPU variants: none in the function; rounding differs (cuDNN's
 * own order of fp32 sums, Winograd or FFT algorithms when the heuristics choose them), within
 * the family's 1e-4 of max|ref|. A NaN or inf in the input spreads to the outputs whose
 * windows cover it, as in ref, unless an FFT or Winograd algorithm mixes it into neighbours
 * (cuDNN does not document this; the test checks finite inputs only).
 *
 * Limits: every tensor at most INT_MAX elements (cuDNN's int strides), refused with DL_ERR_ARG.
 * Launches on the default stream and returns without waiting, like the other CUDA variants.
 * Under DL_NO_CUDNN (a build without cuDNN) the variant reports itself unavailable and returns
 * DL_ERR_UNSUPPORTED.
 *
 * Leaves out: the graph API (cuDNN 9's recommended path; the legacy calls used here are
 * deprecated there but still supported), fused conv+bias+activation, an algorithm cache.
 */
#include "conv2d_impl.h"

#include "../cuda_common.cuh"
#include "../cudnn_common.cuh"

#ifdef DL_NO_CUDNN

extern "C" bool dl_conv2d_cudnn_available(void) { return false; }
extern "C" dl_status dl_conv2d_cudnn_forward(const dl_conv2d_args *a) {
    (void)a;
    return DL_FAIL(DL_ERR_UNSUPPORTED, "conv2d cudnn: libdlab was built without cuDNN");
}
extern "C" dl_status dl_conv2d_cudnn_backward(const dl_conv2d_args *a) {
    (void)a;
    return DL_FAIL(DL_ERR_UNSUPPORTED, "conv2d cudnn: libdlab was built without cuDNN");
}

#else

extern "C" bool dl_conv2d_cudnn_available(void) { return dl_cudnn_available(); }

/* ------------------------------------------------------------------ descriptors */

/* Weight (C_out, C_in, KH, KW), NCHW fp32. */
struct cudnn_filter {
    cudnnFilterDescriptor_t desc = nullptr;
    cudnn_filter() = default;
    cudnn_filter(const cudnn_filter &) = delete;
    cudnn_filter &operator=(const cudnn_filter &) = delete;
    ~cudnn_filter() {
        if (desc) (void)cudnnDestroyFilterDescriptor(desc);
    }
    dl_status make(int c_out, int c_in, int kh, int kw, const char *where) {
        DL_CUDNN_TRY_AT(where, cudnnCreateFilterDescriptor(&desc));
        DL_CUDNN_TRY_AT(where, cudnnSetFilter4dDescriptor(desc, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW,
                                                          c_out, c_in, kh, kw));
        return DL_OK;
    }
};

/* Cross-correlation, pad and stride on both axes, no dilation, fp32 compute, FMA only. */
struct cudnn_convolution {
    cudnnConvolutionDescriptor_t desc = nullptr;
    cudnn_convolution() = default;
    cudnn_convolution(const cudnn_convolution &) = delete;
    cudnn_convolution &operator=(const cudnn_convolution &) = delete;
    ~cudnn_convolution() {
        if (desc) (void)cudnnDestroyConvolutionDescriptor(desc);
    }
    dl_status make(int pad, int stride, const char *where) {
        DL_CUDNN_TRY_AT(where, cudnnCreateConvolutionDescriptor(&desc));
        DL_CUDNN_TRY_AT(where,
                        cudnnSetConvolution2dDescriptor(desc, pad, pad, stride, stride, 1, 1,
                                                        CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
        DL_CUDNN_TRY_AT(where, cudnnSetConvolutionMathType(desc, CUDNN_FMA_MATH));
        return DL_OK;
    }
};

/* Everything one call describes: x = inp / dinp, w = weight / dweight, y = out / dout,
 * b = bias / dbias as a (1, C_out, 1, 1) tensor that broadcasts over N, H, W. */
struct conv_descriptors {
    dl_cudnn_tensor x, y, b;
    cudnn_filter w;
    cudnn_convolution conv;

    dl_status make(const dl_conv2d_args *a, const char *where) {
        const int OH = dl_conv2d_out_h(a), OW = dl_conv2d_out_w(a);
        DL_TRY(x.make(a->N, a->C_in, a->H, a->W, where));
        DL_TRY(w.make(a->C_out, a->C_in, a->KH, a->KW, where));
        DL_TRY(conv.make(a->pad, a->stride, where));
        /* cuDNN's idea of the output size must be conv2d.h's (both floor); if a future cuDNN
         * disagreed, every index would be off, so say so instead of computing. */
        int n = 0, c = 0, h = 0, wd = 0;
        DL_CUDNN_TRY_AT(where, cudnnGetConvolution2dForwardOutputDim(conv.desc, x.desc, w.desc, &n,
                                                                     &c, &h, &wd));
        if (n != a->N || c != a->C_out || h != OH || wd != OW)
            return dl_fail_at(DL_ERR_CUDA, where,
                              "cuDNN computes an output of %d×%d×%d×%d, conv2d.h %d×%d×%d×%d", n, c,
                              h, wd, a->N, a->C_out, OH, OW);
        DL_TRY(y.make(a->N, a->C_out, OH, OW, where));
        DL_TRY(b.make(1, a->C_out, 1, 1, where));
        return DL_OK;
    }
};

/* ------------------------------------------------------------------ algorithms */

/* The heuristics' proposals, best first; pick as the file header says. Works for the three
 * perf structs (fwd, bwd data, bwd filter), which share the fields used here. */
template <typename Perf>
static bool pick_algorithm(const Perf *proposals, int count, Perf *chosen) {
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < count; i++) {
            const Perf &p = proposals[i];
            if (p.status != CUDNN_STATUS_SUCCESS || p.memory > DL_CUDNN_WORKSPACE_MAX_BYTES)
                continue;
            /* FMA_MATH on the descriptor rules out tensor-op kernels; a proposal that still
             * says TENSOR_OP would not run as fp32, so it is passed over all the same. */
            if (p.mathType == CUDNN_TENSOR_OP_MATH ||
                p.mathType == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION)
                continue;
            if (pass == 0 && p.determinism != CUDNN_DETERMINISTIC) continue;
            *chosen = p;
            return true;
        }
    return false;
}

static dl_status no_algorithm(const char *where, const char *pass, int count) {
    return dl_fail_at(DL_ERR_UNSUPPORTED, where,
                      "cuDNN proposes no fp32 (FMA) algorithm for the %s pass of this shape "
                      "(%d proposals, none usable within a %zu-byte workspace)",
                      pass, count, DL_CUDNN_WORKSPACE_MAX_BYTES);
}

/* ------------------------------------------------------------------ checks */

/* Arguments, a device, device pointers, cuDNN's size limits. *done: nothing to launch. */
static dl_status prologue(const dl_conv2d_args *a, bool backward, const char *where, bool *done) {
    *done = true;
    if (!a) return dl_fail_at(DL_ERR_ARG, where, "args is NULL");
    DL_TRY(dl_conv2d_check(a, backward));
    if (a->N == 0) return DL_OK;
    if (backward && !a->dinp && !a->dweight && !a->dbias) return DL_OK;
    DL_TRY(dl_cuda_require_device(where));
    /* only the pointers this pass reads or writes (NULL passes the check) */
    const dl_named_pointer forward_pointers[] = {
        {a->inp, "inp"}, {a->weight, "weight"}, {a->bias, "bias"}, {a->out, "out"}};
    const dl_named_pointer backward_pointers[] = {{a->dweight ? a->inp : nullptr, "inp"},
                                                  {a->dinp ? a->weight : nullptr, "weight"},
                                                  {a->dout, "dout"},
                                                  {a->dinp, "dinp"},
                                                  {a->dweight, "dweight"},
                                                  {a->dbias, "dbias"}};
    if (backward)
        DL_TRY(dl_cuda_check_pointers(backward_pointers, where));
    else
        DL_TRY(dl_cuda_check_pointers(forward_pointers, where));
    DL_TRY(dl_cudnn_check_elements(a->N, a->C_in, a->H, a->W, "inp", where));
    DL_TRY(dl_cudnn_check_elements(a->C_out, a->C_in, a->KH, a->KW, "weight", where));
    DL_TRY(dl_cudnn_check_elements(a->N, a->C_out, dl_conv2d_out_h(a), dl_conv2d_out_w(a), "out",
                                   where));
    *done = false;
    return DL_OK;
}

/* ------------------------------------------------------------------ forward */

extern "C" dl_status dl_conv2d_cudnn_forward(const dl_conv2d_args *a) {
    const char *where = "conv2d cudnn forward";
    bool done;
    DL_TRY(prologue(a, false, where, &done));
    if (done) return DL_OK;

    dl_cudnn_session cudnn;
    DL_TRY(cudnn.begin(where));
    conv_descriptors d;
    DL_TRY(d.make(a, where));

    cudnnConvolutionFwdAlgoPerf_t proposals[CUDNN_CONVOLUTION_FWD_ALGO_COUNT], chosen;
    int count = 0;
    DL_CUDNN_TRY_AT(where, cudnnGetConvolutionForwardAlgorithm_v7(
                               cudnn.handle, d.x.desc, d.w.desc, d.conv.desc, d.y.desc,
                               CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &count, proposals));
    if (!pick_algorithm(proposals, count, &chosen)) return no_algorithm(where, "forward", count);
    size_t bytes = 0;
    DL_CUDNN_TRY_AT(where, cudnnGetConvolutionForwardWorkspaceSize(cudnn.handle, d.x.desc, d.w.desc,
                                                                   d.conv.desc, d.y.desc,
                                                                   chosen.algo, &bytes));
    void *workspace = nullptr;
    DL_TRY(cudnn.workspace(bytes, &workspace, where));

    const float one = 1.0f, zero = 0.0f; /* beta = 0: out is only written, never read */
    DL_CUDNN_TRY_AT(where, cudnnConvolutionForward(cudnn.handle, &one, d.x.desc, a->inp, d.w.desc,
                                                   a->weight, d.conv.desc, chosen.algo, workspace,
                                                   bytes, &zero, d.y.desc, a->out));
    if (a->bias)
        DL_CUDNN_TRY_AT(
            where, cudnnAddTensor(cudnn.handle, &one, d.b.desc, a->bias, &one, d.y.desc, a->out));
    return DL_OK;
}

/* ------------------------------------------------------------------ backward */

extern "C" dl_status dl_conv2d_cudnn_backward(const dl_conv2d_args *a) {
    const char *where = "conv2d cudnn backward";
    bool done;
    DL_TRY(prologue(a, true, where, &done));
    if (done) return DL_OK;

    dl_cudnn_session cudnn;
    DL_TRY(cudnn.begin(where));
    conv_descriptors d;
    DL_TRY(d.make(a, where));

    /* Choose both algorithms first and take one workspace for the larger: the buffer then
     * grows (and the device waits) at most once per call. */
    cudnnConvolutionBwdFilterAlgoPerf_t filter_algo{};
    cudnnConvolutionBwdDataAlgoPerf_t data_algo{};
    size_t filter_bytes = 0, data_bytes = 0;
    if (a->dweight) {
        cudnnConvolutionBwdFilterAlgoPerf_t proposals[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        int count = 0;
        DL_CUDNN_TRY_AT(where, cudnnGetConvolutionBackwardFilterAlgorithm_v7(
                                   cudnn.handle, d.x.desc, d.y.desc, d.conv.desc, d.w.desc,
                                   CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &count, proposals));
        if (!pick_algorithm(proposals, count, &filter_algo))
            return no_algorithm(where, "weight-gradient", count);
        DL_CUDNN_TRY_AT(where, cudnnGetConvolutionBackwardFilterWorkspaceSize(
                                   cudnn.handle, d.x.desc, d.y.desc, d.conv.desc, d.w.desc,
                                   filter_algo.algo, &filter_bytes));
    }
    if (a->dinp) {
        cudnnConvolutionBwdDataAlgoPerf_t proposals[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        int count = 0;
        DL_CUDNN_TRY_AT(where, cudnnGetConvolutionBackwardDataAlgorithm_v7(
                                   cudnn.handle, d.w.desc, d.y.desc, d.conv.desc, d.x.desc,
                                   CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &count, proposals));
        if (!pick_algorithm(proposals, count, &data_algo))
            return no_algorithm(where, "input-gradient", count);
        DL_CUDNN_TRY_AT(where, cudnnGetConvolutionBackwardDataWorkspaceSize(
                                   cudnn.handle, d.w.desc, d.y.desc, d.conv.desc, d.x.desc,
                                   data_algo.algo, &data_bytes));
    }
    const size_t bytes = filter_bytes > data_bytes ? filter_bytes : data_bytes;
    void *workspace = nullptr;
    DL_TRY(cudnn.workspace(bytes, &workspace, where));

    const float one = 1.0f; /* alpha = 1 and beta = 1: gradient += product */
    if (a->dbias)
        DL_CUDNN_TRY_AT(where, cudnnConvolutionBackwardBias(cudnn.handle, &one, d.y.desc, a->dout,
                                                            &one, d.b.desc, a->dbias));
    if (a->dweight)
        DL_CUDNN_TRY_AT(
            where, cudnnConvolutionBackwardFilter(cudnn.handle, &one, d.x.desc, a->inp, d.y.desc,
                                                  a->dout, d.conv.desc, filter_algo.algo, workspace,
                                                  filter_bytes, &one, d.w.desc, a->dweight));
    if (a->dinp)
        DL_CUDNN_TRY_AT(where, cudnnConvolutionBackwardData(cudnn.handle, &one, d.w.desc, a->weight,
                                                            d.y.desc, a->dout, d.conv.desc,
                                                            data_algo.algo, workspace, data_bytes,
                                                            &one, d.x.desc, a->dinp));
    return DL_OK;
}

#endif /* DL_NO_CUDNN */
