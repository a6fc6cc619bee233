/* softmax_variants.c — the "softmax" family's table, argument checks, cost, dispatch and
 * the public pair rule dl_softmax_combine. */
#include <math.h>
#include <string.h>

#include "../fast_math.h"
#include "dlab/core.h"
#include "softmax_impl.h"
#ifdef DL_HAVE_CUDA
#include "softmax_cuda.h"
#endif

void dl_softmax_combine(float m1, float d1, float m2, float d2, float *m, float *d) {
    const float mm = m2 > m1 ? m2 : m1;
    /* An empty side (m = −inf) weighs 0: never e^(−inf − −inf) = e^NaN. */
    const float s1 = m1 == -INFINITY ? 0.0f : expf(m1 - mm);
    const float s2 = m2 == -INFINITY ? 0.0f : expf(m2 - mm);
    *m = mm;
    *d = d1 * s1 + d2 * s2;
}

dl_status dl_softmax_check(const dl_softmax_args *a, bool backward) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->N < 0 || a->V < 0) return DL_FAIL(DL_ERR_ARG, "negative size N=%d V=%d", a->N, a->V);
    if ((long)a->N * a->V == 0) return DL_OK;
    if (!a->out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    if (!backward) {
        if (!a->inp) return DL_FAIL(DL_ERR_ARG, "inp is NULL");
    } else if (a->dinp && !a->dout) {
        return DL_FAIL(DL_ERR_ARG, "dout is NULL");
    }
    return DL_OK;
}

dl_cost dl_softmax_cost(const void *args) {
    const dl_softmax_args *a = args;
    double NV = (double)a->N * a->V;
    dl_cost c = {4.0 * NV, 8.0 * NV};
    return c;
}

static dl_status dispatch(const dl_variant *v, const dl_softmax_args *a, bool backward) {
    if (!v || !v->family || strcmp(v->family, "softmax") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "variant '%s' is not a softmax", v && v->name ? v->name : "?");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "softmax variant '%s' cannot run here", v->name);
    DL_TRY(dl_softmax_check(a, backward));
    const dl_softmax_impl *impl = v->impl;
    return backward ? impl->backward(a) : impl->forward(a);
}

dl_status dl_softmax_forward(const dl_variant *v, const dl_softmax_args *a) {
    return dispatch(v, a, false);
}
dl_status dl_softmax_backward(const dl_variant *v, const dl_softmax_args *a) {
    return dispatch(v, a, true);
}

#define VARIANT(id, vname, text, avail, impl_)                                                     \
    static const dl_variant id = {.family = "softmax",                                             \
                                  .name = vname,                                                   \
                                  .summary = text,                                                 \
                                  .device = DL_DEVICE_CPU,                                         \
                                  .available = avail,                                              \
                                  .impl = &impl_,                                                  \
                                  .cost = dl_softmax_cost};

VARIANT(v_ref, "ref", "max-shifted, in double, one row at a time: the oracle", NULL,
        dl_softmax_ref_impl)
VARIANT(v_naive, "naive", "exp, sum, divide without the max shift: overflows for x > ~88.7",
        NULL, dl_softmax_naive_impl)
VARIANT(v_safe, "safe", "three passes (max, exp-sum, normalize), OpenMP over rows", NULL,
        dl_softmax_safe_impl)
VARIANT(v_safe512, "safe_avx512", "the safe passes compiled for AVX-512", dl_cpu_has_avx512,
        dl_softmax_safe_avx512_impl)
VARIANT(v_online, "online", "one scalar pass of running (max, normalizer), then normalize",
        NULL, dl_softmax_online_impl)
VARIANT(v_online512, "online_avx512", "16 lanes of running (max, normalizer), AVX-512 exp",
        dl_cpu_has_avx512, dl_softmax_online_avx512_impl)

VARIANT(v_safe2, "safe_avx2", "the safe passes compiled for AVX2+FMA (dl_exp_poly)",
        dl_cpu_has_avx2_fma, dl_softmax_safe_avx2_impl)
VARIANT(v_online2, "online_avx2", "16 lanes of running (max, normalizer) compiled for AVX2+FMA",
        dl_cpu_has_avx2_fma, dl_softmax_online_avx2_impl)

const dl_variant *const dl_softmax_variant_table[] = {
    &v_ref, &v_naive, &v_safe, &v_safe512, &v_online, &v_online512, &v_safe2, &v_online2,
#ifdef DL_HAVE_CUDA
    /* device pointers; rows defined in softmax_cuda_variants.c, kernels in softmax.cu */
    &dl_softmax_cuda_block_safe, &dl_softmax_cuda_block_online, &dl_softmax_cuda_warp_safe,
    &dl_softmax_cuda_warp_online, &dl_softmax_cudnn,
#endif
};
const int dl_softmax_variant_count =
    (int)(sizeof dl_softmax_variant_table / sizeof dl_softmax_variant_table[0]);

/* Online first: at memory-bound sizes it moves 3 accesses per element instead of 4 (lesson 2
 * measures the ratio); in cache the two are within ~10 %. */
const dl_variant *dl_softmax_best(void) {
    if (dl_variant_available(&v_online512)) return &v_online512;
    if (dl_variant_available(&v_online2)) return &v_online2;
    return &v_online;
}
