/* optim.h — the "optim" op family (parameter updates) and the training helpers around it:
 * global-norm gradient clipping, learning-rate schedules and weight initialisation.
 *
 * The family updates one flat fp32 parameter array in place from its gradient. A model calls
 * it once per parameter tensor (or once over one contiguous block of all its parameters).
 * Each variant has two functions, one per optimizer:
 *
 *   sgd_step     SGD with momentum (optionally Nesterov) and L2 weight decay, as PyTorch's
 *                torch.optim.SGD with dampening 0:
 *                  g = grad + weight_decay·p
 *                  buf = momentum·buf + g                      (only when momentum > 0)
 *                  g = nesterov ? g + momentum·buf : buf
 *                  p = p − lr·g
 *   adamw_step   AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", 2019),
 *                as torch.optim.AdamW; t is the 1-based step count used for bias correction:
 *                  p = p·(1 − lr·weight_decay)                 (decoupled: not through m, v)
 *                  m = β1·m + (1 − β1)·g
 *                  v = β2·v + (1 − β2)·g²
 *                  p = p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
 *
 * Variants: `ref` (one plain loop), `omp` (OpenMP over chunks, plain C), `omp_avx2` and
 * `omp_avx512` (OpenMP + intrinsics; `available` says whether this CPU has them). Every
 * variant performs the SAME fp32 operations in the same order (no FMA contraction, IEEE
 * division and square root), so all of them give bit-identical results at any thread count:
 * a fixed seed reproduces a training run exactly. The per-call scalars (bias corrections,
 * step size) are computed once, in double, by one shared function.
 *
 * Buffers are the caller's: momentum_buf, m and v start zeroed and persist across steps.
 * Variants "cuda" update device memory with the CPU's exact arithmetic (no fused multiply-add).
 * Not here: other optimizers (Adagrad, LAMB, ...), fused multi-tensor updates, and NaN
 * handling — a NaN gradient makes NaN weights; clip first (dl_clip_grad_norm and its CUDA
 * twin dl_clip_grad_norm_cuda report non-finite gradients).
 */
#ifndef DLAB_OPTIM_H
#define DLAB_OPTIM_H

#include <stdbool.h>
#include <stddef.h>

#include "core.h"
#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------- optimizers */

typedef struct dl_sgd_args {
    size_t n;            /* number of parameters */
    float *param;        /* (n) updated in place */
    const float *grad;   /* (n) */
    float *momentum_buf; /* (n) velocity, zeroed before the first step; NULL iff momentum == 0 */
    float lr;            /* >= 0 */
    float momentum;      /* in [0, 1) */
    float weight_decay;  /* >= 0, L2 (added to the gradient) */
    bool nesterov;       /* needs momentum > 0 */
} dl_sgd_args;

typedef struct dl_adamw_args {
    size_t n;           /* number of parameters */
    float *param;       /* (n) updated in place */
    const float *grad;  /* (n) */
    float *m, *v;       /* (n) first and second moments, zeroed before step 1 */
    float lr;           /* >= 0 */
    float beta1, beta2; /* in [0, 1); 0.9 and 0.999 are usual */
    float eps;          /* > 0; 1e-8 is usual */
    float weight_decay; /* >= 0, decoupled */
    long step;          /* t >= 1: how many steps including this one */
} dl_adamw_args;

/* A variant's `impl` points to one of these. */
typedef struct dl_optim_impl {
    dl_status (*sgd_step)(const dl_sgd_args *);
    dl_status (*adamw_step)(const dl_adamw_args *);
} dl_optim_impl;

/* DL_OK, or DL_ERR_ARG naming the first bad field. */
dl_status dl_sgd_check(const dl_sgd_args *a);
dl_status dl_adamw_check(const dl_adamw_args *a);

/* Cost of one step: SGD 6n flops, 20n bytes (p, g, buf read; p, buf written; 12n without
 * momentum);
 * AdamW 14n flops (a division and a square root count 1), 28n bytes. The registry's `cost`
 * of an optim variant is dl_adamw_cost (the harness times AdamW); it takes dl_adamw_args. */
dl_cost dl_sgd_cost(const void *sgd_args);
dl_cost dl_adamw_cost(const void *adamw_args);

/* Check the arguments, then run the step of variant v (which must be of family "optim"). */
dl_status dl_sgd_run(const dl_variant *v, const dl_sgd_args *a);
dl_status dl_adamw_run(const dl_variant *v, const dl_adamw_args *a);

/* The fastest optim variant this CPU can run (what the backends bind). */
const dl_variant *dl_optim_best(void);

/* --------------------------------------------------------------- clipping */

/* One gradient buffer: n floats at ptr. */
typedef struct dl_grad_span {
    float *ptr;
    size_t n;
} dl_grad_span;

/* Global-norm clipping over several buffers, as torch.nn.utils.clip_grad_norm_:
 * norm = sqrt(Σ over all buffers of Σ g²), accumulated in double in a fixed order (the same
 * bits every run). *norm_out receives that pre-clip norm. If norm > max_norm every gradient
 * is multiplied by max_norm / norm (so the new norm is max_norm up to fp32 rounding); else
 * nothing changes. max_norm = INFINITY only measures.
 * A NaN or ±inf gradient is NOT clipped: the buffers are left as they are, *norm_out is the
 * non-finite norm, and DL_ERR_ARG says which buffer and index hold the first bad value — the
 * caller decides (skip the step, lower the loss scale, stop). */
dl_status dl_clip_grad_norm(const dl_grad_span *bufs, int count, double max_norm, double *norm_out);

/* The argument checks of the clips below: DL_OK, or DL_ERR_ARG naming the first bad one
 * (norm_out NULL, count < 0, bufs NULL, max_norm not > 0, a NULL ptr with n > 0). */
dl_status dl_clip_grad_norm_check(const dl_grad_span *bufs, int count, double max_norm,
                                  const double *norm_out);

/* dl_clip_grad_norm on DEVICE pointers (optim_clip.cu), with the same contract: the norm in
 * double (per-thread double sums, a fixed grid and a fixed order of joining them, so the same
 * bits every run — though not the CPU's bits: another order of additions), returned in
 * *norm_out on the host; the same scale max_norm/norm applied by a kernel; a non-finite norm
 * leaves the buffers alone and DL_ERR_ARG names the first buffer and index holding a NaN or
 * ±inf. Waits for the GPU (the host needs the norm). DL_ERR_DEVICE in a build without CUDA or
 * on a machine without a GPU; DL_ERR_ARG for a host pointer. */
dl_status dl_clip_grad_norm_cuda(const dl_grad_span *bufs, int count, double max_norm,
                                 double *norm_out);

/* The clip for buffers that live on `device`: dl_clip_grad_norm for DL_DEVICE_CPU,
 * dl_clip_grad_norm_cuda for DL_DEVICE_CUDA. What a trainer calls with its model's
 * ops->device. */
dl_status dl_clip_grad_norm_on(dl_device device, const dl_grad_span *bufs, int count,
                               double max_norm, double *norm_out);

/* ----------------------------------------------------------------- schedules */

typedef enum dl_lr_kind {
    DL_LR_CONSTANT = 0, /* base_lr */
    DL_LR_STEP,         /* base_lr · gamma^floor(step / step_size) */
    DL_LR_COSINE        /* cosine from base_lr down to min_lr over [warmup_steps, total_steps] */
} dl_lr_kind;

/* Steps are 0-based. Every kind starts with an optional linear warmup: for step <
 * warmup_steps, lr = base_lr · (step + 1) / warmup_steps, so step warmup_steps − 1 is the
 * first at the full base_lr (nanoGPT's convention). After warmup:
 *   COSINE: p = (step − warmup) / (total − warmup) in [0, 1],
 *           lr = min_lr + ½(base_lr − min_lr)(1 + cos πp); min_lr from step total_steps on.
 *   STEP:   decays count from step 0 (warmup only overrides the first steps). */
typedef struct dl_lr_schedule {
    dl_lr_kind kind;
    float base_lr;
    long warmup_steps; /* >= 0 */
    long total_steps;  /* COSINE: > warmup_steps */
    float min_lr;      /* COSINE: the floor, 0 <= min_lr <= base_lr */
    long step_size;    /* STEP: > 0 */
    float gamma;       /* STEP: multiplier per step_size steps, in (0, 1] */
} dl_lr_schedule;

dl_lr_schedule dl_lr_constant(float lr);
dl_lr_schedule dl_lr_step(float lr, long step_size, float gamma);
dl_lr_schedule dl_lr_cosine(float lr, float min_lr, long warmup_steps, long total_steps);

/* DL_OK, or DL_ERR_ARG naming the first bad field. */
dl_status dl_lr_check(const dl_lr_schedule *s);

/* The learning rate at 0-based `step` (computed in double, rounded once). A negative step
 * counts as 0. Call dl_lr_check once first: an invalid schedule gives NaN. */
float dl_lr_at(const dl_lr_schedule *s, long step);

/* ------------------------------------------------------------------- init */

/* Weight initialisation from the seeded RNG (the same weights for the same seed everywhere).
 * fan_in / fan_out: inputs / outputs per output unit (a Linear(in, out) has fan_in = in,
 * fan_out = out; a conv with C_in channels and k×k kernels has fan_in = C_in·k·k).
 *   kaiming_uniform  U(−b, b), b = sqrt(6 / fan_in)              He et al. 2015, ReLU gain √2
 *   kaiming_normal   N(0, σ²), σ = sqrt(2 / fan_in)
 *   xavier_uniform   U(−b, b), b = sqrt(6 / (fan_in + fan_out))   Glorot & Bengio 2010
 * DL_ERR_ARG for a zero fan or a NULL pointer with n > 0. */
dl_status dl_init_kaiming_uniform(float *w, size_t n, size_t fan_in, dl_rng *rng);
dl_status dl_init_kaiming_normal(float *w, size_t n, size_t fan_in, dl_rng *rng);
dl_status dl_init_xavier_uniform(float *w, size_t n, size_t fan_in, size_t fan_out, dl_rng *rng);

#ifdef __cplusplus
}
#endif
#endif
