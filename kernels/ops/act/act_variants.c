/* act_variants.c — the "relu" and "gelu" families' tables, argument checks, costs and
 * dispatch (one directory for both: they share an argument struct and a signature). */
#include <string.h>

#include "../fast_math.h"
#include "act_impl.h"
#include "dlab/core.h"

dl_status dl_act_check(const dl_act_args *a, bool backward) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->n == 0) return DL_OK;
    if (!a->inp) return DL_FAIL(DL_ERR_ARG, "inp is NULL");
    if (!backward && !a->out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    if (backward && !a->dout) return DL_FAIL(DL_ERR_ARG, "dout is NULL");
    if (backward && !a->dinp) return DL_FAIL(DL_ERR_ARG, "dinp is NULL");
    return DL_OK;
}

dl_cost dl_relu_cost(const void *args) {
    const dl_act_args *a = args;
    dl_cost c = {(double)a->n, 8.0 * (double)a->n};
    return c;
}

dl_cost dl_gelu_cost(const void *args) {
    const dl_act_args *a = args;
    dl_cost c = {20.0 * (double)a->n, 8.0 * (double)a->n};
    return c;
}

static dl_status dispatch(const dl_variant *v, const dl_act_args *a, bool backward) {
    if (!v || !v->family || !v->impl ||
        (strcmp(v->family, "relu") != 0 && strcmp(v->family, "gelu") != 0))
        return DL_FAIL(DL_ERR_ARG, "variant '%s' is not a relu or gelu",
                       v && v->name ? v->name : "?");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "%s variant '%s' cannot run here", v->family, v->name);
    DL_TRY(dl_act_check(a, backward));
    const dl_act_impl *impl = v->impl;
    return backward ? impl->backward(a) : impl->forward(a);
}

dl_status dl_act_forward(const dl_variant *v, const dl_act_args *a) {
    return dispatch(v, a, false);
}
dl_status dl_act_backward(const dl_variant *v, const dl_act_args *a) {
    return dispatch(v, a, true);
}

#define VARIANT(id, fam, vname, text, avail, impl_)                                                \
    static const dl_variant id = {.family = #fam,                                                  \
                                  .name = vname,                                                   \
                                  .summary = text,                                                 \
                                  .device = DL_DEVICE_CPU,                                         \
                                  .available = avail,                                              \
                                  .impl = &impl_,                                                  \
                                  .cost = dl_##fam##_cost};

VARIANT(relu_ref, relu, "ref", "x < 0 ? 0 : x, one element at a time: the oracle", NULL,
        dl_relu_ref_impl)
VARIANT(relu_omp, relu, "omp", "OpenMP chunks, baseline ISA", NULL, dl_relu_omp_impl)
VARIANT(relu_avx2, relu, "omp_avx2", "the omp loops compiled for AVX2+FMA", dl_cpu_has_avx2_fma,
        dl_relu_omp_avx2_impl)
VARIANT(relu_avx512, relu, "omp_avx512", "the omp loops compiled for AVX-512", dl_cpu_has_avx512,
        dl_relu_omp_avx512_impl)
VARIANT(gelu_ref, gelu, "ref", "tanh form in double: the oracle", NULL, dl_gelu_ref_impl)
VARIANT(gelu_omp, gelu, "omp", "x·σ(2u) with a polynomial exp, OpenMP, baseline ISA", NULL,
        dl_gelu_omp_impl)
VARIANT(gelu_avx2, gelu, "omp_avx2", "the omp loops compiled for AVX2+FMA", dl_cpu_has_avx2_fma,
        dl_gelu_omp_avx2_impl)
VARIANT(gelu_avx512, gelu, "omp_avx512", "the omp loops compiled for AVX-512", dl_cpu_has_avx512,
        dl_gelu_omp_avx512_impl)

#ifdef DL_HAVE_CUDA
#define CUDA_VARIANT(id, fam, vname, text, impl_)                                                  \
    static const dl_variant id = {.family = #fam,                                                  \
                                  .name = vname,                                                   \
                                  .summary = text,                                                 \
                                  .device = DL_DEVICE_CUDA,                                        \
                                  .available = dl_cuda_available,                                  \
                                  .impl = &impl_,                                                  \
                                  .cost = dl_##fam##_cost};
CUDA_VARIANT(relu_cuda, relu, "cuda", "one thread per element, grid-stride; device pointers",
             dl_relu_cuda_impl)
CUDA_VARIANT(gelu_cuda, gelu, "cuda", "x·σ(2u) with expf, one thread per element; device pointers",
             dl_gelu_cuda_impl)
#endif

const dl_variant *const dl_relu_variant_table[] = {&relu_ref, &relu_omp, &relu_avx2, &relu_avx512,
#ifdef DL_HAVE_CUDA
                                                   &relu_cuda,
#endif
};
const int dl_relu_variant_count =
    (int)(sizeof dl_relu_variant_table / sizeof dl_relu_variant_table[0]);
const dl_variant *const dl_gelu_variant_table[] = {&gelu_ref, &gelu_omp, &gelu_avx2, &gelu_avx512,
#ifdef DL_HAVE_CUDA
                                                   &gelu_cuda,
#endif
};
const int dl_gelu_variant_count =
    (int)(sizeof dl_gelu_variant_table / sizeof dl_gelu_variant_table[0]);
