/* optim_impl.h — private to kernels/ops/optim: the per-call constants and the per-element
 * update that EVERY optim variant performs, so that they agree bit for bit.
 *
 * The SIMD variants repeat these exact operations on 8 or 16 lanes (mul, add, sqrt, div:
 * all correctly rounded in IEEE fp32, so a lane gives what the scalar code gives). This
 * relies on no FMA contraction: GCC's default in -std=c11 is -ffp-contract=off, and the
 * tests check fast == ref bit for bit, so a build that contracts would be caught.
 */
#ifndef DLAB_OPTIM_IMPL_H
#define DLAB_OPTIM_IMPL_H

#include <math.h>
#include <stdbool.h>

#include "dlab/optim.h"

/* Elements per OpenMP work item (64 KiB of each array): large enough to amortise the
 * scheduling, small enough to spread a 1M-parameter model over the cores. */
#define DL_OPTIM_CHUNK 16384
/* Below this many elements the update runs on the calling thread. */
#define DL_OPTIM_PARALLEL_MIN 65536

/* AdamW's per-call scalars, computed once in double and rounded to fp32. */
typedef struct dl_adamw_consts {
    float decay; /* 1 − lr·weight_decay */
    float beta1, one_minus_beta1;
    float beta2, one_minus_beta2;
    float step_size;  /* lr / (1 − β1^t) */
    float sqrt_bias2; /* sqrt(1 − β2^t) */
    float eps;
} dl_adamw_consts;

static inline dl_adamw_consts dl_adamw_consts_of(const dl_adamw_args *a) {
    double t = (double)a->step;
    double bias1 = 1.0 - pow((double)a->beta1, t), bias2 = 1.0 - pow((double)a->beta2, t);
    dl_adamw_consts c;
    c.decay = (float)(1.0 - (double)a->lr * (double)a->weight_decay);
    c.beta1 = a->beta1;
    c.one_minus_beta1 = (float)(1.0 - (double)a->beta1);
    c.beta2 = a->beta2;
    c.one_minus_beta2 = (float)(1.0 - (double)a->beta2);
    c.step_size = (float)((double)a->lr / bias1);
    c.sqrt_bias2 = (float)sqrt(bias2);
    c.eps = a->eps;
    return c;
}

/* AdamW on elements [lo, hi). The reference order of operations. */
static inline void dl_adamw_scalar(const dl_adamw_args *a, const dl_adamw_consts *c, size_t lo,
                                   size_t hi) {
    for (size_t i = lo; i < hi; i++) {
        float g = a->grad[i];
        float p = a->param[i] * c->decay;
        float m = c->beta1 * a->m[i] + c->one_minus_beta1 * g;
        float v = c->beta2 * a->v[i] + c->one_minus_beta2 * (g * g);
        float denom = sqrtf(v) / c->sqrt_bias2 + c->eps;
        a->m[i] = m;
        a->v[i] = v;
        a->param[i] = p - (c->step_size * m) / denom;
    }
}

/* SGD on elements [lo, hi). Three loops so the branches are per call, not per element. */
static inline void dl_sgd_scalar(const dl_sgd_args *a, size_t lo, size_t hi) {
    const float lr = a->lr, mu = a->momentum, wd = a->weight_decay;
    if (mu == 0.0f) {
        for (size_t i = lo; i < hi; i++) {
            float g = a->grad[i] + wd * a->param[i];
            a->param[i] = a->param[i] - lr * g;
        }
    } else if (!a->nesterov) {
        for (size_t i = lo; i < hi; i++) {
            float g = a->grad[i] + wd * a->param[i];
            float b = mu * a->momentum_buf[i] + g;
            a->momentum_buf[i] = b;
            a->param[i] = a->param[i] - lr * b;
        }
    } else {
        for (size_t i = lo; i < hi; i++) {
            float g = a->grad[i] + wd * a->param[i];
            float b = mu * a->momentum_buf[i] + g;
            a->momentum_buf[i] = b;
            a->param[i] = a->param[i] - lr * (g + mu * b);
        }
    }
}

/* The variants (optim_ref.c, optim_cpu.c). */
dl_status dl_optim_sgd_ref(const dl_sgd_args *a);
dl_status dl_optim_adamw_ref(const dl_adamw_args *a);
dl_status dl_optim_sgd_omp(const dl_sgd_args *a);
dl_status dl_optim_adamw_omp(const dl_adamw_args *a);
dl_status dl_optim_sgd_omp_avx2(const dl_sgd_args *a);
dl_status dl_optim_adamw_omp_avx2(const dl_adamw_args *a);
dl_status dl_optim_sgd_omp_avx512(const dl_sgd_args *a);
dl_status dl_optim_adamw_omp_avx512(const dl_adamw_args *a);

#ifdef DL_HAVE_CUDA
#ifdef __cplusplus
extern "C" {
#endif
bool dl_cuda_available(void); /* matmul_cuda.cu: a GPU is present */
/* optim.cu: the "cuda" variant, on device pointers */
dl_status dl_optim_sgd_cuda(const dl_sgd_args *a);
dl_status dl_optim_adamw_cuda(const dl_adamw_args *a);
#ifdef __cplusplus
}
#endif
#endif

#endif
