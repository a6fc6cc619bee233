/* attention_variants.c — the "attention" family's table of variants, and how to run one.
 *
 * Each variant's impl points to a dl_attention_impl: its forward, its backward and whether it
 * materializes att. To add one, write the pair, declare it in attention_impl.h and add a
 * VARIANT line; tests/test_attention.c then checks it against ref. */
#include <string.h>

#include "attention_impl.h"
#include "dlab/core.h"

#define VARIANT(id, vname, text, avail, fwd, bwd, materializes, costfn)                            \
    static const dl_attention_impl id##_impl = {fwd, bwd, materializes};                           \
    static const dl_variant id = {.family = "attention",                                           \
                                  .name = vname,                                                   \
                                  .summary = text,                                                 \
                                  .device = DL_DEVICE_CPU,                                         \
                                  .available = avail,                                              \
                                  .impl = &id##_impl,                                              \
                                  .cost = costfn};

VARIANT(v_ref, "ref", "one (b,t,h) at a time, double sums, mask as loop bound: the oracle", NULL,
        dl_attention_ref_forward, dl_attention_ref_backward, true, dl_attention_cost)
VARIANT(v_avx512, "omp_avx512", "OpenMP over (b,h), 4-row tiles on packed K/V, AVX-512",
        dl_cpu_has_avx512, dl_attention_avx512_forward, dl_attention_avx512_backward, true,
        dl_attention_cost)
VARIANT(v_avx2, "omp_avx2", "OpenMP over (b,h), 4-row tiles on packed K/V, AVX2+FMA",
        dl_cpu_has_avx2_fma, dl_attention_avx2_forward, dl_attention_avx2_backward, true,
        dl_attention_cost)
VARIANT(v_flash, "flash", "online softmax over key blocks, no T×T scores; plain C, one thread",
        NULL, dl_attention_flash_forward, dl_attention_flash_backward, false,
        dl_attention_flash_cost)
VARIANT(v_flash_avx512, "flash_avx512", "flash over 64-key tiles, OpenMP over (b,h), AVX-512",
        dl_cpu_has_avx512, dl_attention_flash_avx512_forward, dl_attention_flash_avx512_backward,
        false, dl_attention_flash_cost)
VARIANT(v_flash_avx2, "flash_avx2", "flash over 64-key tiles, OpenMP over (b,h), AVX2+FMA",
        dl_cpu_has_avx2_fma, dl_attention_flash_avx2_forward, dl_attention_flash_avx2_backward,
        false, dl_attention_flash_cost)

#ifdef DL_HAVE_CUDA
/* The GPU's flash attention (attention.cu): device pointers. Not a candidate for
 * dl_attention_best, which picks among the CPU rows above; the CUDA backend names it. */
static const dl_attention_impl v_cuda_flash_impl = {
    dl_attention_cuda_flash_forward, dl_attention_cuda_flash_backward, false};
static const dl_variant v_cuda_flash = {.family = "attention",
                                        .name = "cuda_flash",
                                        .summary = "flash over 32-key tiles, a block per 64 "
                                                   "query rows; deterministic two-pass backward; "
                                                   "hs <= 128; device pointers",
                                        .device = DL_DEVICE_CUDA,
                                        .available = dl_cuda_available,
                                        .impl = &v_cuda_flash_impl,
                                        .cost = dl_attention_flash_cost};
#endif

const dl_variant *const dl_attention_variant_table[] = {
    &v_ref, &v_avx512, &v_avx2, &v_flash, &v_flash_avx512, &v_flash_avx2,
#ifdef DL_HAVE_CUDA
    &v_cuda_flash,
#endif
};
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

bool dl_attention_materializes(const dl_variant *v) {
    return v && v->impl && v->family && strcmp(v->family, "attention") == 0 &&
           ((const dl_attention_impl *)v->impl)->materializes_att;
}

/* What only some variants need: att for the materialized ones, lse and out for a flash
 * backward. Empty problems need nothing. */
static dl_status check_for_variant(const dl_variant *v, const dl_attention_args *a, bool backward) {
    if ((long)a->B * a->T == 0) return DL_OK;
    const dl_attention_impl *impl = v->impl;
    if (impl->materializes_att && !a->att) return DL_FAIL(DL_ERR_ARG, "att is NULL");
    if (!impl->materializes_att && backward && !a->lse)
        return DL_FAIL(DL_ERR_ARG, "lse is NULL: the %s backward needs the forward's lse", v->name);
    if (!impl->materializes_att && backward && !a->out)
        return DL_FAIL(DL_ERR_ARG, "out is NULL: the %s backward needs the forward's out", v->name);
    return DL_OK;
}

dl_status dl_attention_forward(const dl_variant *v, const dl_attention_args *args) {
    DL_TRY(check_variant(v));
    DL_TRY(dl_attention_check(args, false));
    DL_TRY(check_for_variant(v, args, false));
    return ((const dl_attention_impl *)v->impl)->forward(args);
}

dl_status dl_attention_backward(const dl_variant *v, const dl_attention_args *args) {
    DL_TRY(check_variant(v));
    DL_TRY(dl_attention_check(args, true));
    DL_TRY(check_for_variant(v, args, true));
    return ((const dl_attention_impl *)v->impl)->backward(args);
}

/* Flash first: on 2 Zen 5 cores its forward + backward beats the materialized twin at every
 * shape measured (T = 128 to 1024, head sizes 32 and 64; numbers in attention.h). */
const dl_variant *dl_attention_best(void) {
    if (dl_variant_available(&v_flash_avx512)) return &v_flash_avx512;
    if (dl_variant_available(&v_flash_avx2)) return &v_flash_avx2;
    if (dl_variant_available(&v_avx512)) return &v_avx512;
    if (dl_variant_available(&v_avx2)) return &v_avx2;
    return &v_ref;
}
