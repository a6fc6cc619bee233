/* attention_variants.c — the "attention" family's table of variants, and how to run one.
 *
 * Each variant's impl points to a dl_attention_impl: its forward and its backward. To add one
 * (a flash-style forward, say), write the pair, declare it in attention_impl.h and add a
 * VARIANT line; tests/test_attention.c then checks it against ref. */
#include <string.h>

#include "dlab/core.h"
#include "attention_impl.h"

#define VARIANT(id, vname, text, avail, fwd, bwd)                                                  \
    static const dl_attention_impl id##_impl = {fwd, bwd};                                         \
    static const dl_variant id = {.family = "attention",                                           \
                                  .name = vname,                                                   \
                                  .summary = text,                                                 \
                                  .device = DL_DEVICE_CPU,                                         \
                                  .available = avail,                                              \
                                  .impl = &id##_impl,                                              \
                                  .cost = dl_attention_cost};

VARIANT(v_ref, "ref", "one (b,t,h) at a time, double sums, mask as loop bound: the oracle", NULL,
        dl_attention_ref_forward, dl_attention_ref_backward)
VARIANT(v_avx512, "omp_avx512", "OpenMP over (b,h), 4-row tiles on packed K/V, AVX-512",
        dl_cpu_has_avx512, dl_attention_avx512_forward, dl_attention_avx512_backward)
VARIANT(v_avx2, "omp_avx2", "OpenMP over (b,h), 4-row tiles on packed K/V, AVX2+FMA",
        dl_cpu_has_avx2_fma, dl_attention_avx2_forward, dl_attention_avx2_backward)

const dl_variant *const dl_attention_variant_table[] = {&v_ref, &v_avx512, &v_avx2};
const int dl_attention_variant_count =
    (int)(sizeof dl_attention_variant_table / sizeof dl_attention_variant_table[0]);

static dl_status check_variant(const dl_variant *v) {
    if (!v) return DL_FAIL(DL_ERR_ARG, "variant is NULL");
    if (!v->family || strcmp(v->family, "attention") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "variant '%s' is not an attention", v->name ? v->name : "?");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "attention variant '%s' cannot run here", v->name);
    return DL_OK;
}

dl_status dl_attention_forward(const dl_variant *v, const dl_attention_args *args) {
    DL_TRY(check_variant(v));
    DL_TRY(dl_attention_check(args, false));
    return ((const dl_attention_impl *)v->impl)->forward(args);
}

dl_status dl_attention_backward(const dl_variant *v, const dl_attention_args *args) {
    DL_TRY(check_variant(v));
    DL_TRY(dl_attention_check(args, true));
    return ((const dl_attention_impl *)v->impl)->backward(args);
}

const dl_variant *dl_attention_best(void) {
    if (dl_variant_available(&v_avx512)) return &v_avx512;
    if (dl_variant_available(&v_avx2)) return &v_avx2;
    return &v_ref;
}
