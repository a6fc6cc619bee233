/* softmax_topk_variants.c — the "softmax_topk" family's table, argument checks, costs and
 * dispatch (softmax_topk.h). */
#include <string.h>

#include "dlab/core.h"
#include "softmax_topk_impl.h"
#ifdef DL_HAVE_CUDA
#include "softmax_cuda.h"
#endif

dl_status dl_softmax_topk_check(const dl_softmax_topk_args *a) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->N < 0 || a->V < 0) return DL_FAIL(DL_ERR_ARG, "negative size N=%d V=%d", a->N, a->V);
    if ((long)a->N * a->V == 0) return DL_OK;
    const int k_max = a->V < DL_TOPK_MAX ? a->V : DL_TOPK_MAX;
    if (a->K < 1 || a->K > k_max)
        return DL_FAIL(DL_ERR_ARG, "K=%d must be in 1..%d (min of V=%d and DL_TOPK_MAX=%d)", a->K,
                       k_max, a->V, DL_TOPK_MAX);
    if (!a->inp) return DL_FAIL(DL_ERR_ARG, "inp is NULL");
    if (!a->prob) return DL_FAIL(DL_ERR_ARG, "prob is NULL");
    if (!a->index) return DL_FAIL(DL_ERR_ARG, "index is NULL");
    return DL_OK;
}

dl_cost dl_softmax_topk_cost(const void *args) {
    const dl_softmax_topk_args *a = args;
    const double NV = (double)a->N * a->V, NK = (double)a->N * a->K;
    dl_cost c = {4.0 * NV, 4.0 * NV + 8.0 * NK};
    return c;
}

/* Softmax (read, read, write) then top-k (read): 4 passes of 4 bytes per element. */
dl_cost dl_softmax_topk_unfused_cost(const void *args) {
    const dl_softmax_topk_args *a = args;
    const double NV = (double)a->N * a->V, NK = (double)a->N * a->K;
    dl_cost c = {5.0 * NV, 16.0 * NV + 8.0 * NK};
    return c;
}

dl_status dl_softmax_topk(const dl_variant *v, const dl_softmax_topk_args *a) {
    if (!v || !v->family || strcmp(v->family, "softmax_topk") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "variant '%s' is not a softmax_topk",
                       v && v->name ? v->name : "?");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "softmax_topk variant '%s' cannot run here", v->name);
    DL_TRY(dl_softmax_topk_check(a));
    return ((dl_softmax_topk_fn)v->impl)(a);
}

#define VARIANT(id, vname, text, avail, fn, cost_fn)                                               \
    static const dl_variant id = {.family = "softmax_topk",                                        \
                                  .name = vname,                                                   \
                                  .summary = text,                                                 \
                                  .device = DL_DEVICE_CPU,                                         \
                                  .available = avail,                                              \
                                  .impl = (const void *)fn,                                        \
                                  .cost = cost_fn};

VARIANT(v_ref, "ref", "softmax in double, then K selection scans: the oracle", NULL,
        dl_softmax_topk_ref, dl_softmax_topk_cost)
VARIANT(v_unfused, "unfused", "the fastest softmax writes all N·V, then a top-k pass reads them",
        NULL, dl_softmax_topk_unfused, dl_softmax_topk_unfused_cost)
VARIANT(v_fused, "fused", "one scalar pass: online (max, normalizer) and a running top-K list",
        NULL, dl_softmax_topk_fused, dl_softmax_topk_cost)
VARIANT(v_fused512, "fused_avx512", "the fused pass on 16 lanes, vector compare with the K-th",
        dl_cpu_has_avx512, dl_softmax_topk_fused_avx512, dl_softmax_topk_cost)

const dl_variant *const dl_softmax_topk_variant_table[] = {
    &v_ref, &v_unfused, &v_fused, &v_fused512,
#ifdef DL_HAVE_CUDA
    &dl_softmax_topk_cuda_unfused, &dl_softmax_topk_cuda_fused,
#endif
};
const int dl_softmax_topk_variant_count =
    (int)(sizeof dl_softmax_topk_variant_table / sizeof dl_softmax_topk_variant_table[0]);
