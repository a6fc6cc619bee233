/* softmax_xent_variants.c — the "softmax_xent" family's table, argument checks (including
 * every target's range), cost and dispatch. */
#include <string.h>

#include "../fast_math.h"
#include "dlab/core.h"
#include "softmax_xent_impl.h"

int dl_softmax_xent_valid_rows(const int *targets, int N) {
    int valid = 0;
    for (int i = 0; i < N; i++)
        valid += targets[i] != DL_XENT_IGNORE;
    return valid;
}

dl_status dl_softmax_xent_check(const dl_softmax_xent_args *a, bool backward) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->N < 0 || a->V < 0) return DL_FAIL(DL_ERR_ARG, "negative size N=%d V=%d", a->N, a->V);
    if (a->N == 0) return DL_OK;
    if (!a->targets) return DL_FAIL(DL_ERR_ARG, "targets is NULL");
    if (!a->losses && !backward) return DL_FAIL(DL_ERR_ARG, "losses is NULL");
    if (a->V > 0) {
        if (!a->logits && !backward) return DL_FAIL(DL_ERR_ARG, "logits is NULL");
        if (!a->probs) return DL_FAIL(DL_ERR_ARG, "probs is NULL");
        if (!a->dlogits && backward) return DL_FAIL(DL_ERR_ARG, "dlogits is NULL");
    }
    for (int i = 0; i < a->N; i++) {
        const int t = a->targets[i];
        if (t != DL_XENT_IGNORE && (t < 0 || t >= a->V))
            return DL_FAIL(DL_ERR_ARG, "targets[%d]=%d is outside [0,V=%d) (and is not %d, ignore)",
                           i, t, a->V, DL_XENT_IGNORE);
    }
    return DL_OK;
}

dl_cost dl_softmax_xent_cost(const void *args) {
    const dl_softmax_xent_args *a = args;
    double NV = (double)a->N * a->V;
    dl_cost c = {15.0 * NV, 8.0 * NV + 8.0 * a->N};
    return c;
}

static dl_status dispatch(const dl_variant *v, const dl_softmax_xent_args *a, bool backward) {
    if (!v || !v->family || strcmp(v->family, "softmax_xent") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "variant '%s' is not a softmax_xent",
                       v && v->name ? v->name : "?");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "softmax_xent variant '%s' cannot run here", v->name);
#ifdef DL_HAVE_CUDA
    /* A CUDA variant's targets are device memory, which the range check below would read on
     * the host: it checks the shapes itself and handles bad targets on the device. */
    if (v->device == DL_DEVICE_CUDA) {
        const dl_softmax_xent_impl *cuda = v->impl;
        return backward ? cuda->backward(a) : cuda->forward(a);
    }
#endif
    DL_TRY(dl_softmax_xent_check(a, backward));
    const dl_softmax_xent_impl *impl = v->impl;
    return backward ? impl->backward(a) : impl->forward(a);
}

dl_status dl_softmax_xent_forward(const dl_variant *v, const dl_softmax_xent_args *a) {
    return dispatch(v, a, false);
}
dl_status dl_softmax_xent_backward(const dl_variant *v, const dl_softmax_xent_args *a) {
    return dispatch(v, a, true);
}

#define VARIANT(id, vname, text, avail, impl_)                                                     \
    static const dl_variant id = {.family = "softmax_xent",                                        \
                                  .name = vname,                                                   \
                                  .summary = text,                                                 \
                                  .device = DL_DEVICE_CPU,                                         \
                                  .available = avail,                                              \
                                  .impl = &impl_,                                                  \
                                  .cost = dl_softmax_xent_cost};

VARIANT(v_ref, "ref", "max-shifted, in double, one row at a time: the oracle", NULL,
        dl_softmax_xent_ref_impl)
VARIANT(v_omp, "omp", "OpenMP over rows, polynomial exp, baseline ISA", NULL,
        dl_softmax_xent_omp_impl)
VARIANT(v_avx2, "omp_avx2", "the omp rows compiled for AVX2+FMA", dl_cpu_has_avx2_fma,
        dl_softmax_xent_omp_avx2_impl)
VARIANT(v_avx512, "omp_avx512", "the omp rows compiled for AVX-512", dl_cpu_has_avx512,
        dl_softmax_xent_omp_avx512_impl)

#ifdef DL_HAVE_CUDA
static const dl_variant v_cuda = {.family = "softmax_xent",
                                  .name = "cuda",
                                  .summary = "a block per row, three passes, loss from the "
                                             "log-sum-exp; device pointers",
                                  .device = DL_DEVICE_CUDA,
                                  .available = dl_cuda_available,
                                  .impl = &dl_softmax_xent_cuda_impl,
                                  .cost = dl_softmax_xent_cost};
#endif

const dl_variant *const dl_softmax_xent_variant_table[] = {&v_ref, &v_omp, &v_avx2, &v_avx512,
#ifdef DL_HAVE_CUDA
                                                           &v_cuda,
#endif
};
const int dl_softmax_xent_variant_count =
    (int)(sizeof dl_softmax_xent_variant_table / sizeof dl_softmax_xent_variant_table[0]);
