/* optim_cpu.c — the fast CPU variants of the "optim" family: `omp`, `omp_avx2`, `omp_avx512`.
 *
 * An optimizer step is pure streaming: AdamW reads 16 and writes 12 bytes per parameter for
 * 14 flops, so it is bound by memory bandwidth, and what pays is (1) using every core's
 * share of that bandwidth (OpenMP over fixed chunks of DL_OPTIM_CHUNK elements) and (2) not
 * being held up by the two slow operations, sqrt and div, which SIMD does 8 or 16 at a time.
 *
 * Each SIMD loop is the scalar loop of optim_impl.h written lane-wise, operation for
 * operation; the leftover elements of a chunk go through the scalar loop itself. The chunks
 * are independent, so the thread count changes the speed, never the bits.
 * The intrinsics carry __attribute__((target)) so this file builds for any x86-64; the
 * table's `available` keeps a variant off CPUs without its instructions.
 * Left out: non-temporal stores (the arrays are re-read by the next forward pass, so
 * evicting them from cache would cost more than it saves) and fused multi-tensor steps.
 */
#include <stddef.h>

#include "dlab/core.h"
#include "dlab/optim.h"
#include "optim_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DL_OPTIM_X86 1
#endif

typedef void (*sgd_range_fn)(const dl_sgd_args *a, size_t lo, size_t hi);
typedef void (*adamw_range_fn)(const dl_adamw_args *a, const dl_adamw_consts *c, size_t lo,
                               size_t hi);

/* Run f over [0, n) in chunks, in parallel when n is large enough to pay for the threads. */
static void sgd_chunks(const dl_sgd_args *a, sgd_range_fn f) {
    const long nchunks = (long)((a->n + DL_OPTIM_CHUNK - 1) / DL_OPTIM_CHUNK);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)                                                          \
    num_threads(dl_threads_get()) if (a->n >= DL_OPTIM_PARALLEL_MIN)
#endif
    for (long k = 0; k < nchunks; k++) {
        size_t lo = (size_t)k * DL_OPTIM_CHUNK;
        size_t hi = a->n - lo < DL_OPTIM_CHUNK ? a->n : lo + DL_OPTIM_CHUNK;
        f(a, lo, hi);
    }
}

static void adamw_chunks(const dl_adamw_args *a, adamw_range_fn f) {
    const dl_adamw_consts c = dl_adamw_consts_of(a);
    const long nchunks = (long)((a->n + DL_OPTIM_CHUNK - 1) / DL_OPTIM_CHUNK);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)                                                          \
    num_threads(dl_threads_get()) if (a->n >= DL_OPTIM_PARALLEL_MIN)
#endif
    for (long k = 0; k < nchunks; k++) {
        size_t lo = (size_t)k * DL_OPTIM_CHUNK;
        size_t hi = a->n - lo < DL_OPTIM_CHUNK ? a->n : lo + DL_OPTIM_CHUNK;
        f(a, &c, lo, hi);
    }
}

/* ------------------------------------------------------------------- omp */

dl_status dl_optim_sgd_omp(const dl_sgd_args *a) {
    sgd_chunks(a, dl_sgd_scalar);
    return DL_OK;
}

dl_status dl_optim_adamw_omp(const dl_adamw_args *a) {
    adamw_chunks(a, dl_adamw_scalar);
    return DL_OK;
}

/* ------------------------------------------------------------- SIMD loops */

#ifdef DL_OPTIM_X86
/* One body for both widths: VEC is the register type, P the intrinsic prefix, W the lanes. */
#define DL_ADAMW_SIMD(VEC, P, W)                                                                   \
    const VEC decay = P##_set1_ps(c->decay), b1 = P##_set1_ps(c->beta1),                           \
              omb1 = P##_set1_ps(c->one_minus_beta1), b2 = P##_set1_ps(c->beta2),                  \
              omb2 = P##_set1_ps(c->one_minus_beta2), step = P##_set1_ps(c->step_size),            \
              sqb2 = P##_set1_ps(c->sqrt_bias2), eps = P##_set1_ps(c->eps);                        \
    size_t i = lo;                                                                                 \
    for (; i + (W) <= hi; i += (W)) {                                                              \
        VEC g = P##_loadu_ps(a->grad + i);                                                         \
        VEC p = P##_mul_ps(P##_loadu_ps(a->param + i), decay);                                     \
        VEC m = P##_add_ps(P##_mul_ps(b1, P##_loadu_ps(a->m + i)), P##_mul_ps(omb1, g));           \
        VEC v = P##_add_ps(P##_mul_ps(b2, P##_loadu_ps(a->v + i)),                                 \
                           P##_mul_ps(omb2, P##_mul_ps(g, g)));                                    \
        VEC denom = P##_add_ps(P##_div_ps(P##_sqrt_ps(v), sqb2), eps);                             \
        P##_storeu_ps(a->m + i, m);                                                                \
        P##_storeu_ps(a->v + i, v);                                                                \
        P##_storeu_ps(a->param + i, P##_sub_ps(p, P##_div_ps(P##_mul_ps(step, m), denom)));        \
    }                                                                                              \
    dl_adamw_scalar(a, c, i, hi)

/* SGD: the same three cases as dl_sgd_scalar. */
#define DL_SGD_SIMD(VEC, P, W)                                                                     \
    const VEC lr = P##_set1_ps(a->lr), mu = P##_set1_ps(a->momentum),                              \
              wd = P##_set1_ps(a->weight_decay);                                                   \
    const int mode = a->momentum == 0.0f ? 0 : a->nesterov ? 2 : 1;                                \
    size_t i = lo;                                                                                 \
    for (; i + (W) <= hi; i += (W)) {                                                              \
        VEC p = P##_loadu_ps(a->param + i);                                                        \
        VEC g = P##_add_ps(P##_loadu_ps(a->grad + i), P##_mul_ps(wd, p));                          \
        if (mode != 0) {                                                                           \
            VEC b = P##_add_ps(P##_mul_ps(mu, P##_loadu_ps(a->momentum_buf + i)), g);              \
            P##_storeu_ps(a->momentum_buf + i, b);                                                 \
            g = mode == 1 ? b : P##_add_ps(g, P##_mul_ps(mu, b));                                  \
        }                                                                                          \
        P##_storeu_ps(a->param + i, P##_sub_ps(p, P##_mul_ps(lr, g)));                             \
    }                                                                                              \
    dl_sgd_scalar(a, i, hi)

__attribute__((target("avx2"))) static void
adamw_avx2(const dl_adamw_args *a, const dl_adamw_consts *c, size_t lo, size_t hi) {
    DL_ADAMW_SIMD(__m256, _mm256, 8);
}

__attribute__((target("avx512f"))) static void
adamw_avx512(const dl_adamw_args *a, const dl_adamw_consts *c, size_t lo, size_t hi) {
    DL_ADAMW_SIMD(__m512, _mm512, 16);
}

__attribute__((target("avx2"))) static void sgd_avx2(const dl_sgd_args *a, size_t lo, size_t hi) {
    DL_SGD_SIMD(__m256, _mm256, 8);
}

__attribute__((target("avx512f"))) static void sgd_avx512(const dl_sgd_args *a, size_t lo,
                                                          size_t hi) {
    DL_SGD_SIMD(__m512, _mm512, 16);
}
#endif

dl_status dl_optim_sgd_omp_avx2(const dl_sgd_args *a) {
#ifdef DL_OPTIM_X86
    if (dl_cpu_has_avx2_fma()) {
        sgd_chunks(a, sgd_avx2);
        return DL_OK;
    }
#endif
    return DL_FAIL(DL_ERR_UNSUPPORTED, "this CPU has no AVX2");
}

dl_status dl_optim_adamw_omp_avx2(const dl_adamw_args *a) {
#ifdef DL_OPTIM_X86
    if (dl_cpu_has_avx2_fma()) {
        adamw_chunks(a, adamw_avx2);
        return DL_OK;
    }
#endif
    return DL_FAIL(DL_ERR_UNSUPPORTED, "this CPU has no AVX2");
}

dl_status dl_optim_sgd_omp_avx512(const dl_sgd_args *a) {
#ifdef DL_OPTIM_X86
    if (dl_cpu_has_avx512()) {
        sgd_chunks(a, sgd_avx512);
        return DL_OK;
    }
#endif
    return DL_FAIL(DL_ERR_UNSUPPORTED, "this CPU has no AVX-512F");
}

dl_status dl_optim_adamw_omp_avx512(const dl_adamw_args *a) {
#ifdef DL_OPTIM_X86
    if (dl_cpu_has_avx512()) {
        adamw_chunks(a, adamw_avx512);
        return DL_OK;
    }
#endif
    return DL_FAIL(DL_ERR_UNSUPPORTED, "this CPU has no AVX-512F");
}
