/* embedding_variants.c — the "embedding" family's table, argument checks (including every
 * token's range), cost and dispatch. */
#include <string.h>

#include "embedding_impl.h"

dl_status dl_embedding_check(const dl_embedding_args *a, bool backward) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->B < 0 || a->T < 0 || a->C < 0 || a->V < 0 || a->maxT < 0)
        return DL_FAIL(DL_ERR_ARG, "negative size B=%d T=%d C=%d V=%d maxT=%d", a->B, a->T, a->C,
                       a->V, a->maxT);
    if (a->T > a->maxT)
        return DL_FAIL(DL_ERR_ARG, "T=%d > maxT=%d, the rows of wpe", a->T, a->maxT);
    const long positions = (long)a->B * a->T;
    if (positions == 0) return DL_OK;
    if (!a->tokens) return DL_FAIL(DL_ERR_ARG, "tokens is NULL");
    for (long p = 0; p < positions; p++)
        if (a->tokens[p] < 0 || a->tokens[p] >= a->V)
            return DL_FAIL(DL_ERR_ARG, "tokens[%ld*T+%ld]=%d is outside [0,V=%d)", p / a->T,
                           p % a->T, a->tokens[p], a->V);
    if (a->C == 0) return DL_OK;
    if (!backward) {
        if (!a->wte) return DL_FAIL(DL_ERR_ARG, "wte is NULL");
        if (!a->wpe) return DL_FAIL(DL_ERR_ARG, "wpe is NULL");
        if (!a->out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    } else if (!a->dout && (a->dwte || a->dwpe)) {
        return DL_FAIL(DL_ERR_ARG, "dout is NULL");
    }
    return DL_OK;
}

dl_cost dl_embedding_cost(const void *args) {
    const dl_embedding_args *a = args;
    double BTC = (double)a->B * a->T * a->C;
    dl_cost c = {BTC, 12.0 * BTC + 4.0 * a->B * a->T};
    return c;
}

static dl_status dispatch(const dl_variant *v, const dl_embedding_args *a, bool backward) {
    if (!v || !v->family || strcmp(v->family, "embedding") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "variant '%s' is not an embedding",
                       v && v->name ? v->name : "?");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "embedding variant '%s' cannot run here", v->name);
#ifdef DL_HAVE_CUDA
    /* A CUDA variant's tokens are device memory, which the range check below would read on
     * the host: it checks the shapes itself and handles bad tokens on the device. */
    if (v->device == DL_DEVICE_CUDA) {
        const dl_embedding_impl *cuda = v->impl;
        return backward ? cuda->backward(a) : cuda->forward(a);
    }
#endif
    DL_TRY(dl_embedding_check(a, backward));
    const dl_embedding_impl *impl = v->impl;
    return backward ? impl->backward(a) : impl->forward(a);
}

dl_status dl_embedding_forward(const dl_variant *v, const dl_embedding_args *a) {
    return dispatch(v, a, false);
}
dl_status dl_embedding_backward(const dl_variant *v, const dl_embedding_args *a) {
    return dispatch(v, a, true);
}

static const dl_variant v_ref = {.family = "embedding",
                                 .name = "ref",
                                 .device = DL_DEVICE_CPU,
                                 .impl = &dl_embedding_ref_impl,
                                 .summary =
                                     "the loops as written, (b,t)-order scatter-add: the oracle",
                                 .cost = dl_embedding_cost};
static const dl_variant v_omp = {
    .family = "embedding",
    .name = "omp",
    .device = DL_DEVICE_CPU,
    .impl = &dl_embedding_omp_impl,
    .summary = "positions across threads; backward splits columns: no atomics, ref's bits",
    .cost = dl_embedding_cost};

#ifdef DL_HAVE_CUDA
static const dl_variant v_cuda = {
    .family = "embedding",
    .name = "cuda",
    .device = DL_DEVICE_CUDA,
    .available = dl_cuda_available,
    .impl = &dl_embedding_cuda_impl,
    .summary = "gather per element; dwte by first-occurrence blocks in (b,t) order: ref's bits",
    .cost = dl_embedding_cost};
#endif

const dl_variant *const dl_embedding_variant_table[] = {&v_ref, &v_omp,
#ifdef DL_HAVE_CUDA
                                                        &v_cuda,
#endif
};
const int dl_embedding_variant_count =
    (int)(sizeof dl_embedding_variant_table / sizeof dl_embedding_variant_table[0]);
