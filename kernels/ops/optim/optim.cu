/* optim.cu — the CUDA variant "cuda" of the "optim" family (dlab/optim.h): SGD (momentum,
 * Nesterov, L2 weight decay) and AdamW (decoupled weight decay, bias correction) updates of
 * one flat fp32 parameter array, on device pointers.
 *
 * One thread per parameter in a grid-stride loop; memory-bound (AdamW reads p, g, m, v and
 * writes p, m, v: 28 bytes per parameter).
 *
 * Bit for bit the CPU's answer. optim.h promises that every variant performs the same fp32
 * operations in the same order, so a seeded run is reproducible on any variant. nvcc would
 * contract a·b + c into one FMA (a different rounding) and may pick approximate division or
 * square root under fast-math flags, so every operation here is written with the explicitly
 * rounded intrinsics (__fmul_rn, __fadd_rn, __fsub_rn, __fdiv_rn, __fsqrt_rn: IEEE
 * round-to-nearest, never contracted) in the order of optim_impl.h's scalar loops, and the
 * per-call constants come from the same dl_adamw_consts_of, computed on the host in double.
 * Denormals are kept (this file is not built with -ftz=true), as on the CPU.
 *
 * Gradient clipping is not part of this family's step (dl_clip_grad_norm is a separate host
 * function over host buffers); a CUDA clip is left for the backend.
 * Leaves out: a fused multi-tensor update (one launch for all parameter tensors), and float4
 * loads.
 */
#include "../cuda_common.cuh"
#include "optim_impl.h"

/* Which of optim_impl.h's three SGD loops. */
enum sgd_mode { SGD_PLAIN = 0, SGD_MOMENTUM = 1, SGD_NESTEROV = 2 };

__global__ void sgd_kernel(size_t n, float *__restrict__ param, const float *__restrict__ grad,
                           float *__restrict__ momentum_buf, float lr, float mu, float wd,
                           int mode) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const float p = param[i];
        const float g = __fadd_rn(grad[i], __fmul_rn(wd, p)); /* grad + wd·p */
        if (mode == SGD_PLAIN) {
            param[i] = __fsub_rn(p, __fmul_rn(lr, g));
        } else {
            const float b = __fadd_rn(__fmul_rn(mu, momentum_buf[i]), g); /* mu·buf + g */
            momentum_buf[i] = b;
            const float step = mode == SGD_NESTEROV ? __fadd_rn(g, __fmul_rn(mu, b)) : b;
            param[i] = __fsub_rn(p, __fmul_rn(lr, step));
        }
    }
}

__global__ void adamw_kernel(size_t n, float *__restrict__ param, const float *__restrict__ grad,
                             float *__restrict__ m_buf, float *__restrict__ v_buf,
                             dl_adamw_consts k) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
         i += (size_t)gridDim.x * blockDim.x) {
        const float g = grad[i];
        const float p = __fmul_rn(param[i], k.decay);
        const float m = __fadd_rn(__fmul_rn(k.beta1, m_buf[i]), __fmul_rn(k.one_minus_beta1, g));
        const float v =
            __fadd_rn(__fmul_rn(k.beta2, v_buf[i]), __fmul_rn(k.one_minus_beta2, __fmul_rn(g, g)));
        const float denom = __fadd_rn(__fdiv_rn(__fsqrt_rn(v), k.sqrt_bias2), k.eps);
        m_buf[i] = m;
        v_buf[i] = v;
        param[i] = __fsub_rn(p, __fdiv_rn(__fmul_rn(k.step_size, m), denom));
    }
}

extern "C" dl_status dl_optim_sgd_cuda(const dl_sgd_args *a) {
    DL_TRY(dl_sgd_check(a));
    if (a->n == 0) return DL_OK;
    DL_TRY(dl_cuda_require_device(__func__));
    const bool momentum = a->momentum > 0.0f;
    const dl_named_pointer pointers[] = {{a->param, "param"},
                                         {a->grad, "grad"},
                                         {momentum ? a->momentum_buf : nullptr, "momentum_buf"}};
    DL_TRY(dl_cuda_check_pointers(pointers, __func__));
    /* The same branch as dl_sgd_scalar: momentum == 0 never touches momentum_buf. */
    const int mode = !momentum ? SGD_PLAIN : a->nesterov ? SGD_NESTEROV : SGD_MOMENTUM;
    const int threads = DL_CUDA_ELEMENTWISE_THREADS;
    sgd_kernel<<<dl_cuda_grid_for(a->n, threads), threads>>>(
        a->n, a->param, a->grad, momentum ? a->momentum_buf : nullptr, a->lr, a->momentum,
        a->weight_decay, mode);
    return dl_cuda_check_launch(__func__, "sgd_kernel");
}

extern "C" dl_status dl_optim_adamw_cuda(const dl_adamw_args *a) {
    DL_TRY(dl_adamw_check(a));
    if (a->n == 0) return DL_OK;
    DL_TRY(dl_cuda_require_device(__func__));
    const dl_named_pointer pointers[] = {
        {a->param, "param"}, {a->grad, "grad"}, {a->m, "m"}, {a->v, "v"}};
    DL_TRY(dl_cuda_check_pointers(pointers, __func__));
    const dl_adamw_consts k = dl_adamw_consts_of(a); /* the CPU variants' constants */
    const int threads = DL_CUDA_ELEMENTWISE_THREADS;
    adamw_kernel<<<dl_cuda_grid_for(a->n, threads), threads>>>(a->n, a->param, a->grad, a->m, a->v,
                                                               k);
    return dl_cuda_check_launch(__func__, "adamw_kernel");
}
