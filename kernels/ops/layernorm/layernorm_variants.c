/* layernorm_variants.c — the "layernorm" family's table, argument checks, cost and
 * dispatch. */
#include <string.h>

#include "../fast_math.h"
#include "dlab/core.h"
#include "layernorm_impl.h"

dl_status dl_layernorm_check(const dl_layernorm_args *a, bool backward) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->N < 0 || a->C < 0) return DL_FAIL(DL_ERR_ARG, "negative size N=%d C=%d", a->N, a->C);
    if (!(a->eps >= 0.0f)) return DL_FAIL(DL_ERR_ARG, "eps=%g is negative or NaN", a->eps);
    if ((long)a->N * a->C == 0) return DL_OK;
    if (!a->inp) return DL_FAIL(DL_ERR_ARG, "inp is NULL");
    if (!a->gamma) return DL_FAIL(DL_ERR_ARG, "gamma is NULL");
    if (!a->mean) return DL_FAIL(DL_ERR_ARG, "mean is NULL");
    if (!a->rstd) return DL_FAIL(DL_ERR_ARG, "rstd is NULL");
    if (!backward) {
        if (!a->beta) return DL_FAIL(DL_ERR_ARG, "beta is NULL");
        if (!a->out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    } else if (!a->dout && (a->dinp || a->dgamma || a->dbeta)) {
        return DL_FAIL(DL_ERR_ARG, "dout is NULL");
    }
    return DL_OK;
}

dl_cost dl_layernorm_cost(const void *args) {
    const dl_layernorm_args *a = args;
    double NC = (double)a->N * a->C;
    dl_cost c = {8.0 * NC, 8.0 * NC + 8.0 * a->C + 8.0 * a->N};
    return c;
}

static dl_status dispatch(const dl_variant *v, const dl_layernorm_args *a, bool backward) {
    if (!v || !v->family || strcmp(v->family, "layernorm") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "variant '%s' is not a layernorm", v && v->name ? v->name : "?");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "layernorm variant '%s' cannot run here", v->name);
    DL_TRY(dl_layernorm_check(a, backward));
    const dl_layernorm_impl *impl = v->impl;
    return backward ? impl->backward(a) : impl->forward(a);
}

dl_status dl_layernorm_forward(const dl_variant *v, const dl_layernorm_args *a) {
    return dispatch(v, a, false);
}
dl_status dl_layernorm_backward(const dl_variant *v, const dl_layernorm_args *a) {
    return dispatch(v, a, true);
}

#define VARIANT(id, vname, text, avail, impl_)                                                     \
    static const dl_variant id = {.family = "layernorm",                                           \
                                  .name = vname,                                                   \
                                  .summary = text,                                                 \
                                  .device = DL_DEVICE_CPU,                                         \
                                  .available = avail,                                              \
                                  .impl = &impl_,                                                  \
                                  .cost = dl_layernorm_cost};

VARIANT(v_ref, "ref", "two-pass statistics in double, one row at a time: the oracle", NULL,
        dl_layernorm_ref_impl)
VARIANT(v_omp, "omp", "rows (and gradient columns) across threads, baseline ISA", NULL,
        dl_layernorm_omp_impl)
VARIANT(v_avx2, "omp_avx2", "the omp loops compiled for AVX2+FMA", dl_cpu_has_avx2_fma,
        dl_layernorm_omp_avx2_impl)
VARIANT(v_avx512, "omp_avx512", "the omp loops compiled for AVX-512", dl_cpu_has_avx512,
        dl_layernorm_omp_avx512_impl)

#ifdef DL_HAVE_CUDA
static const dl_variant v_cuda = {.family = "layernorm",
                                  .name = "cuda",
                                  .summary = "a warp per row, two-pass statistics; column-sum "
                                             "blocks for dgamma, dbeta; device pointers",
                                  .device = DL_DEVICE_CUDA,
                                  .available = dl_cuda_available,
                                  .impl = &dl_layernorm_cuda_impl,
                                  .cost = dl_layernorm_cost};
#endif

const dl_variant *const dl_layernorm_variant_table[] = {&v_ref, &v_omp, &v_avx2, &v_avx512,
#ifdef DL_HAVE_CUDA
                                                        &v_cuda,
#endif
};
const int dl_layernorm_variant_count =
    (int)(sizeof dl_layernorm_variant_table / sizeof dl_layernorm_variant_table[0]);
