/* optim_variants.c — the "optim" family's table of variants, and its run helpers.
 *
 * A variant is a pair of steps (SGD, AdamW) in a dl_optim_impl. To add one, write both
 * functions, declare them in optim_impl.h and add an OPTIM_VARIANT line: tests/test_optim.c
 * then checks it against ref bit for bit. The registry's cost is AdamW's (see optim.h).
 */
#include <string.h>

#include "dlab/core.h"
#include "dlab/optim.h"
#include "optim_impl.h"

#define OPTIM_VARIANT(id, vname, text, avail)                                                      \
    static const dl_optim_impl id##_impl = {.sgd_step = dl_optim_sgd_##id,                         \
                                            .adamw_step = dl_optim_adamw_##id};                    \
    static const dl_variant id = {.family = "optim",                                               \
                                  .name = vname,                                                   \
                                  .summary = text,                                                 \
                                  .device = DL_DEVICE_CPU,                                         \
                                  .available = avail,                                              \
                                  .impl = &id##_impl,                                              \
                                  .cost = dl_adamw_cost};

OPTIM_VARIANT(ref, "ref", "one scalar loop on one thread: the oracle", NULL)
OPTIM_VARIANT(omp, "omp", "OpenMP over 16K-element chunks, scalar code", NULL)
OPTIM_VARIANT(omp_avx2, "omp_avx2", "OpenMP chunks, 8-lane AVX2 updates", dl_cpu_has_avx2_fma)
OPTIM_VARIANT(omp_avx512, "omp_avx512", "OpenMP chunks, 16-lane AVX-512 updates",
              dl_cpu_has_avx512)

/* Fastest first is NOT the order here: tables list ref first, like every family. */
#ifdef DL_HAVE_CUDA
/* Not through OPTIM_VARIANT: that macro fixes the device to the CPU. */
static const dl_optim_impl cuda_impl = {.sgd_step = dl_optim_sgd_cuda,
                                        .adamw_step = dl_optim_adamw_cuda};
static const dl_variant cuda = {.family = "optim",
                                .name = "cuda",
                                .summary = "one thread per parameter, rounded intrinsics: the "
                                           "CPU's bits; device pointers",
                                .device = DL_DEVICE_CUDA,
                                .available = dl_cuda_available,
                                .impl = &cuda_impl,
                                .cost = dl_adamw_cost};
#endif
const dl_variant *const dl_optim_variant_table[] = {&ref, &omp, &omp_avx2, &omp_avx512,
#ifdef DL_HAVE_CUDA
                                                    &cuda,
#endif
};
const int dl_optim_variant_count =
    (int)(sizeof dl_optim_variant_table / sizeof dl_optim_variant_table[0]);

static dl_status check_variant(const dl_variant *v) {
    if (!v || !v->family || strcmp(v->family, "optim") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "not a variant of family \"optim\"");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "optim variant %s cannot run on this machine", v->name);
    return DL_OK;
}

dl_status dl_sgd_run(const dl_variant *v, const dl_sgd_args *a) {
    DL_TRY(check_variant(v));
    DL_TRY(dl_sgd_check(a));
    if (a->n == 0) return DL_OK;
    return ((const dl_optim_impl *)v->impl)->sgd_step(a);
}

dl_status dl_adamw_run(const dl_variant *v, const dl_adamw_args *a) {
    DL_TRY(check_variant(v));
    DL_TRY(dl_adamw_check(a));
    if (a->n == 0) return DL_OK;
    return ((const dl_optim_impl *)v->impl)->adamw_step(a);
}

const dl_variant *dl_optim_best(void) {
    if (dl_cpu_has_avx512()) return &omp_avx512;
    if (dl_cpu_has_avx2_fma()) return &omp_avx2;
    return &omp;
}
