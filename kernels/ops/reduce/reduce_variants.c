/* reduce_variants.c — the "sum" family's table of variants, and its run helpers.
 *
 * A new summation algorithm is one function with the dl_sum_fn signature plus one entry
 * here (and its error bound in dl_sum_error_bound, so the tests know what to expect).
 */
#include <math.h>
#include <string.h>

#include "dlab/core.h"
#include "dlab/reduce.h"
#include "reduce_impl.h"

#define SUM_VARIANT(var, nm, sum, avail)                                                           \
    static const dl_variant var = {.family = "sum",                                                \
                                   .name = nm,                                                     \
                                   .summary = sum,                                                 \
                                   .device = DL_DEVICE_CPU,                                        \
                                   .available = avail,                                             \
                                   .impl = (const void *)dl_sum_##var,                             \
                                   .cost = dl_sum_cost}

SUM_VARIANT(ref, "ref", "long double Neumaier, rounded to double: the oracle", NULL);
SUM_VARIANT(naive, "naive", "fp32 left to right: error ~ n·u", NULL);
SUM_VARIANT(pairwise, "pairwise", "fp32 recursive halving, base 8: error ~ log2(n)·u", NULL);
SUM_VARIANT(kahan, "kahan", "fp32 Kahan compensated: error ~ 2u", NULL);
SUM_VARIANT(neumaier, "neumaier", "fp32 Neumaier compensated (Kahan fixed for |x|>|s|)", NULL);
SUM_VARIANT(omp_naive, "omp_naive", "OpenMP reduction(+) in fp32: bits depend on threads", NULL);
SUM_VARIANT(tree_fixed, "tree_fixed",
            "fixed chunks + fixed tree, OpenMP: same bits at any thread count", NULL);
SUM_VARIANT(naive_avx512, "naive_avx512", "64 fp32 lanes in AVX-512: fast", dl_cpu_has_avx512);
SUM_VARIANT(kahan_avx512, "kahan_avx512", "Kahan in 128 AVX-512 lanes: fast and accurate",
            dl_cpu_has_avx512);

const dl_variant *const dl_sum_variant_table[] = {&ref,        &naive,        &pairwise,
                                                  &kahan,      &neumaier,     &omp_naive,
                                                  &tree_fixed, &naive_avx512, &kahan_avx512};
const int dl_sum_variant_count =
    (int)(sizeof dl_sum_variant_table / sizeof dl_sum_variant_table[0]);

dl_status dl_sum_run(const dl_variant *v, const dl_sum_args *args) {
    if (!v || !v->family || strcmp(v->family, "sum") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "not a variant of family \"sum\"");
    DL_TRY(dl_sum_check(args));
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "sum variant %s cannot run on this machine", v->name);
    return ((dl_sum_fn)v->impl)(args);
}

double dl_sum(const char *name, const float *x, size_t n) {
    const dl_variant *v = dl_variant_find("sum", name);
    if (!v) {
        DL_FAIL(DL_ERR_ARG, "no sum variant named \"%s\"", name ? name : "(null)");
        return NAN;
    }
    double out = NAN;
    dl_sum_args a = {.x = x, .n = n, .out = &out};
    return dl_sum_run(v, &a) == DL_OK ? out : NAN;
}
