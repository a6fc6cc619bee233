/* linear_variants.c — the linear family's table of variants, argument checks, cost and
 * dispatch. A new variant is a forward + backward pair in a dl_linear_impl and one line in
 * the table; tests/test_linear.c then checks it against ref. */
#include <string.h>

#include "linear_impl.h"

dl_status dl_linear_check(const dl_linear_args *a, bool backward) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->N < 0 || a->C < 0 || a->OC < 0)
        return DL_FAIL(DL_ERR_ARG, "negative size N=%d C=%d OC=%d", a->N, a->C, a->OC);
    const long in = (long)a->N * a->C, w = (long)a->OC * a->C, out = (long)a->N * a->OC;
    if (in > 0 && !a->inp) return DL_FAIL(DL_ERR_ARG, "inp is NULL");
    if (w > 0 && !a->weight) return DL_FAIL(DL_ERR_ARG, "weight is NULL");
    if (!backward) {
        if (out > 0 && !a->out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    } else if (out > 0 && !a->dout && (a->dinp || a->dweight || (a->bias && a->dbias))) {
        return DL_FAIL(DL_ERR_ARG, "dout is NULL");
    }
    return DL_OK;
}

dl_cost dl_linear_cost(const void *args) {
    const dl_linear_args *a = args;
    double N = a->N, C = a->C, OC = a->OC;
    dl_cost c = {2.0 * N * C * OC + (a->bias ? N * OC : 0.0),
                 4.0 * (N * C + OC * C + (a->bias ? OC : 0.0) + N * OC)};
    return c;
}

static dl_status dispatch(const dl_variant *v, const dl_linear_args *a, bool backward) {
    if (!v || !v->family || strcmp(v->family, "linear") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "variant '%s' is not a linear", v && v->name ? v->name : "?");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "linear variant '%s' cannot run here", v->name);
    DL_TRY(dl_linear_check(a, backward));
    const dl_linear_impl *impl = v->impl;
    return backward ? impl->backward(a) : impl->forward(a);
}

dl_status dl_linear_forward(const dl_variant *v, const dl_linear_args *a) {
    return dispatch(v, a, false);
}
dl_status dl_linear_backward(const dl_variant *v, const dl_linear_args *a) {
    return dispatch(v, a, true);
}

static const dl_linear_impl ref_impl = {dl_linear_ref_forward, dl_linear_ref_backward};
static const dl_linear_impl omp_impl = {dl_linear_omp_forward, dl_linear_omp_backward};

static const dl_variant v_ref = {.family = "linear",
                                 .name = "ref",
                                 .device = DL_DEVICE_CPU,
                                 .impl = &ref_impl,
                                 .summary =
                                     "matmul ref (double accumulation) + bias loop: the oracle",
                                 .cost = dl_linear_cost};
static const dl_variant v_omp = {.family = "linear",
                                 .name = "omp",
                                 .device = DL_DEVICE_CPU,
                                 .impl = &omp_impl,
                                 .summary =
                                     "best CPU matmul, bias folded in, column-parallel dbias",
                                 .cost = dl_linear_cost};

#ifdef DL_HAVE_CUDA
static const dl_linear_impl cublas_impl = {dl_linear_cublas_forward, dl_linear_cublas_backward};
static const dl_variant v_cublas = {.family = "linear",
                                    .name = "cublas",
                                    .device = DL_DEVICE_CUDA,
                                    .available = dl_cuda_available,
                                    .impl = &cublas_impl,
                                    .summary = "cuBLAS sgemm (true fp32) + own bias and "
                                               "column-sum kernels; device pointers",
                                    .cost = dl_linear_cost};
#endif

const dl_variant *const dl_linear_variant_table[] = {&v_ref, &v_omp,
#ifdef DL_HAVE_CUDA
                                                     &v_cublas,
#endif
};
const int dl_linear_variant_count =
    (int)(sizeof dl_linear_variant_table / sizeof dl_linear_variant_table[0]);
