/* act.cu — the CUDA variant "cuda" of the "relu" and "gelu" families (dlab/act.h).
 *
 * One thread per element in a grid-stride loop: each op reads one or two floats and writes
 * one, so it is bound by memory bandwidth and the arithmetic (even gelu's exp) hides under
 * the loads. Same contract as the CPU variants: forward out = f(inp), may run in place
 * (out == inp: each thread reads its element before writing it); backward dinp += dout·f'(inp).
 *
 * gelu runs in fp32 with the accurate expf (this file is not built with --use_fast_math), in
 * the form x·σ(2u) = x / (1 + e^(−2u)) rather than ½x(1 + tanh u): near x ≈ −5 the tanh form
 * subtracts two nearly equal numbers (1 + tanh u with tanh u ≈ −1) and loses most digits of a
 * small result, while the σ form keeps them. Within ~1e-6 relative of ref (double).
 *
 * Special values as act.h states: NaN → NaN (relu too), relu'(NaN) = 0; gelu(±inf) and gelu'(±inf)
 * are their limits, and so are huge finite inputs where x³ or x² overflow in fp32.
 *
 * Leaves out: vectorized float4 loads (the next step toward the copy bandwidth), and fusing
 * with the bias add of the linear layer before it (llm.c fuses those; here ops stay separate).
 */
#include <math.h>

#include "../cuda_common.cuh"
#include "act_impl.h"

/* √(2/π) and GPT-2's cubic coefficient (act_impl.h has them as doubles). */
static constexpr float GELU_K = (float)DL_GELU_K;
static constexpr float GELU_C = (float)DL_GELU_C;

/* Beyond |x| = 10, gelu'(x) differs from its limit (1 or 0) by less than 1e-35 (σ(−2u) at
 * u ≈ 44 is e^−88), and the formula's x·σ(1−σ)·(1+3cx²) would meet 0·inf once x² overflows. */
static constexpr float GELU_GRAD_SATURATED = 10.0f;

/* ------------------------------------------------------------------ relu */

__global__ void relu_forward_kernel(size_t n, const float *inp, float *out) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const float x = inp[i];
        out[i] = x < 0.0f ? 0.0f : x; /* NaN < 0 is false: NaN passes through */
    }
}

__global__ void relu_backward_kernel(size_t n, const float *__restrict__ inp,
                                     const float *__restrict__ dout, float *__restrict__ dinp) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        if (inp[i] > 0.0f) dinp[i] += dout[i]; /* relu'(0) = relu'(NaN) = 0: nothing added */
}

/* ------------------------------------------------------------------ gelu */

__device__ static inline float gelu(float x) {
    if (isinf(x)) return x > 0.0f ? x : 0.0f; /* −inf / (1 + inf) would be NaN */
    const float u = GELU_K * (x + GELU_C * x * x * x);
    /* x = −1e30: u = −inf, e^(−2u) = inf, x / inf = −0, the limit. NaN stays NaN. */
    return x / (1.0f + expf(-2.0f * u));
}

/* gelu'(x) = σ(2u) + 2x·σ(2u)·(1 − σ(2u))·k·(1 + 3c·x²), the derivative of x·σ(2u)
 * (the same function as act_ref.c's tanh form, since ½(1 + tanh u) = σ(2u)). */
__device__ static inline float gelu_grad(float x) {
    if (fabsf(x) > GELU_GRAD_SATURATED) return x > 0.0f ? 1.0f : 0.0f; /* also ±inf */
    const float u = GELU_K * (x + GELU_C * x * x * x);
    const float e = expf(-2.0f * u); /* σ(2u) = 1/(1+e), 1 − σ(2u) = e/(1+e) */
    const float s = 1.0f / (1.0f + e);
    const float one_minus_s = e * s;
    return s + 2.0f * x * s * one_minus_s * GELU_K * (1.0f + 3.0f * GELU_C * x * x);
}

__global__ void gelu_forward_kernel(size_t n, const float *inp, float *out) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        out[i] = gelu(inp[i]);
}

__global__ void gelu_backward_kernel(size_t n, const float *__restrict__ inp,
                                     const float *__restrict__ dout, float *__restrict__ dinp) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x)
        dinp[i] += dout[i] * gelu_grad(inp[i]);
}

/* ------------------------------------------------------------------ entry points */

/* What every entry point does first. Sets *done when there is nothing to launch. */
static dl_status act_prologue(const dl_act_args *a, bool backward, const char *where, bool *done) {
    *done = true;
    if (!a) return dl_fail_at(DL_ERR_ARG, where, "args is NULL");
    if (a->n == 0) return DL_OK;
    DL_TRY(dl_cuda_require_device(where));
    const dl_named_pointer pointers[] = {{a->inp, "inp"},
                                         {backward ? nullptr : a->out, "out"},
                                         {backward ? a->dout : nullptr, "dout"},
                                         {backward ? a->dinp : nullptr, "dinp"}};
    DL_TRY(dl_cuda_check_pointers(pointers, where));
    *done = false;
    return DL_OK;
}

#define ACT_ENTRY(fn_name, kernel, backward, ...)                                                  \
    static dl_status fn_name(const dl_act_args *a) {                                               \
        bool done;                                                                                 \
        DL_TRY(act_prologue(a, backward, __func__, &done));                                        \
        if (done) return DL_OK;                                                                    \
        const int threads = DL_CUDA_ELEMENTWISE_THREADS;                                           \
        kernel<<<dl_cuda_grid_for(a->n, threads), threads>>>(__VA_ARGS__);                         \
        return dl_cuda_check_launch(__func__, #kernel);                                            \
    }

ACT_ENTRY(relu_cuda_forward, relu_forward_kernel, false, a->n, a->inp, a->out)
ACT_ENTRY(relu_cuda_backward, relu_backward_kernel, true, a->n, a->inp, a->dout, a->dinp)
ACT_ENTRY(gelu_cuda_forward, gelu_forward_kernel, false, a->n, a->inp, a->out)
ACT_ENTRY(gelu_cuda_backward, gelu_backward_kernel, true, a->n, a->inp, a->dout, a->dinp)

extern "C" const dl_act_impl dl_relu_cuda_impl = {relu_cuda_forward, relu_cuda_backward};
extern "C" const dl_act_impl dl_gelu_cuda_impl = {gelu_cuda_forward, gelu_cuda_backward};
