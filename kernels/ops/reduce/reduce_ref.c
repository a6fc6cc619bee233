/* reduce_ref.c — the oracle of the "sum" family, and the family's argument checks.
 *
 * `ref` adds in long double (on x86-64 the x87 format: 64-bit mantissa, u = 2⁻⁶⁴) with
 * Neumaier's compensation, then rounds once to double. Its error is about 2·2⁻⁶⁴·Σ|x| plus
 * that last rounding (2⁻⁵³·|sum|): for fp32 inputs, eleven decimal digits better than any fp32
 * variant even on data whose condition number Σ|x|/|Σx| is 10⁸. It is short and slow on
 * purpose. It does not claim to be exact: an exact (superaccumulator) sum is left out because
 * the lesson's question — how wrong is fp32? — never needs more than these digits.
 */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "dlab/reduce.h"
#include "reduce_impl.h"

dl_status dl_sum_check(const dl_sum_args *a) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (!a->out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    if (a->n > 0 && !a->x) return DL_FAIL(DL_ERR_ARG, "x is NULL with n=%zu", a->n);
    return DL_OK;
}

dl_cost dl_sum_cost(const void *args) {
    const dl_sum_args *a = args;
    return (dl_cost){.flops = (double)a->n, .bytes = 4.0 * (double)a->n};
}

dl_status dl_sum_ref(const dl_sum_args *a) {
    long double s = 0.0L, c = 0.0L;
    for (size_t i = 0; i < a->n; i++) {
        long double x = a->x[i];
        long double t = s + x;
        /* Whichever of s and x is larger in magnitude is exact in t's high part; the other
         * one's lost low bits are recovered here (Neumaier 1974). */
        if (fabsl(s) >= fabsl(x))
            c += (s - t) + x;
        else
            c += (x - t) + s;
        s = t;
    }
    /* An inf in the input makes c NaN (inf - inf); s is the plain sum and is right then. */
    *a->out = isfinite(s) ? (double)(s + c) : (double)s;
    return DL_OK;
}

static bool same(const char *a, const char *b) { return strcmp(a, b) == 0; }

static double gamma_fp32(double k) {
    const double u = 0x1p-24;
    return k * u / (1.0 - k * u);
}

static double ceil_log2(double x) { return x <= 1.0 ? 0.0 : ceil(log2(x)); }

double dl_sum_error_bound(const char *name, size_t n_elems) {
    const double u = 0x1p-24, n = (double)n_elems;
    if (!name) return NAN;
    if (n_elems <= 1) return 0.0; /* one number (or none) is summed exactly */
    if (same(name, "ref")) return 0x1p-53 + 2.0 * (LDBL_EPSILON / 2);
    if (same(name, "naive") || same(name, "omp_naive")) return gamma_fp32(n - 1);
    if (same(name, "pairwise")) {
        if (n <= DL_SUM_PAIRWISE_BASE) return gamma_fp32(n - 1);
        return gamma_fp32(DL_SUM_PAIRWISE_BASE - 1 + ceil_log2(n / DL_SUM_PAIRWISE_BASE));
    }
    if (same(name, "kahan") || same(name, "neumaier") || same(name, "kahan_avx512"))
        return 2.0 * u + 2.0 * n * u * u;
    if (same(name, "tree_fixed")) {
        /* each lane adds ≤ CHUNK/16 numbers, 4 pairwise steps join the 16 lanes, then the
         * tree over the chunk sums */
        double depth = DL_SUM_TREE_CHUNK / 16.0 + 4.0 + ceil_log2(ceil(n / DL_SUM_TREE_CHUNK));
        return gamma_fp32(fmin(depth, n - 1));
    }
    if (same(name, "naive_avx512")) return gamma_fp32(fmin(ceil(n / 64.0) + 6.0, n - 1));
    return NAN;
}
