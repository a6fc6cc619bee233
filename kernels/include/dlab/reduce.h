/* reduce.h — the "sum" op family: the sum of n floats, in many orders.
 *
 * Every variant adds the same n floats; they differ in the ORDER and the PRECISION of the
 * additions, and so in their rounding error and their speed. That is the whole point of the
 * family: lesson 1 measures the error of each against `ref`, later lessons reuse it for
 * mixed precision, quantization and deterministic reductions.
 *
 *   variant        what it does                                   error bound (Higham ch. 4)
 *   ref            long double (x87: 64-bit mantissa) Neumaier     ~2·2⁻⁶⁴·Σ|x| (the oracle)
 *   naive          s += x[i], fp32, left to right                  γ(n-1)·Σ|x|
 *   pairwise       halve recursively, naive below 8 elements       γ(7+⌈log2(n/8)⌉)·Σ|x|
 *   kahan          compensated (Kahan 1965), fp32                   (2u + O(nu²))·Σ|x|
 *   neumaier       Kahan fixed for |x[i]| > |s| (Neumaier 1974)     (2u + O(nu²))·Σ|x|
 *   omp_naive      OpenMP reduction(+:s) in fp32: bits depend on the thread count (and, from
 *                  3 threads on, on which thread finishes first)  γ(n-1)·Σ|x|
 *   tree_fixed     fixed 1024-float chunks (16 lanes each), chunk sums combined by a fixed
 *                  pairwise tree: the same bits at any thread count; OpenMP-parallel
 *   naive_avx512   64 fp32 lanes (4 zmm), then lanes combined      γ(n/64+6)·Σ|x|
 *   kahan_avx512   Kahan in 128 lanes, lanes combined compensated  (2u + O(nu²))·Σ|x|
 *
 * u = 2⁻²⁴ (fp32 unit roundoff), γ(k) = k·u / (1 - k·u). dl_sum_error_bound() returns
 * these coefficients so tests and lessons use one definition. The compensated bounds assume
 * n·u ≪ 1 (n up to ~10⁶ in fp32): the O(nu²) term hides how the correction itself is
 * summed. Neumaier's correction is ONE fp32 accumulator that every lost bit goes into, so
 * when the plain sum stalls (fp32 stops growing at 2²⁴ when adding numbers below 1) the
 * correction stalls the same way; Kahan re-injects its correction at every step and does
 * not. Lesson 1 measures both at n = 10⁸.
 *
 * The result goes to a double (*out) so that `ref` can return more than fp32 can hold. Every
 * other variant computes in fp32 and stores its fp32 result, which a double holds exactly:
 * (float)*out gives the variant's fp32 answer bit for bit.
 *
 * n == 0 gives 0. NaN or ±inf in the input give what IEEE recursive summation gives (NaN,
 * ±inf): the compensated variants detect a non-finite result and fall back to the plain sum,
 * because their correction term turns inf into NaN (inf - inf).
 *
 * Nothing here is built with -ffast-math: it would let the compiler reassociate the additions,
 * which silently turns naive into something else and Kahan into naive.
 */
#ifndef DLAB_REDUCE_H
#define DLAB_REDUCE_H

#include <stddef.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dl_sum_args {
    const float *x; /* n floats (may be NULL when n == 0) */
    size_t n;
    double *out; /* the sum; fp32 variants store their exact fp32 result */
} dl_sum_args;

typedef dl_status (*dl_sum_fn)(const dl_sum_args *args);

/* Elements per chunk of tree_fixed: its results depend on this and on nothing else. */
#define DL_SUM_TREE_CHUNK 1024

/* DL_OK, or DL_ERR_ARG when out is NULL or x is NULL with n > 0. */
dl_status dl_sum_check(const dl_sum_args *a);

/* flops = n (the useful additions; compensation's extra operations are not counted),
 * bytes = 4n (each float read once). */
dl_cost dl_sum_cost(const void *args);

/* Check the arguments, then run the variant (which must be of family "sum"). */
dl_status dl_sum_run(const dl_variant *v, const dl_sum_args *args);

/* Convenience: run variant `name` of family "sum" on x[0..n) and return the sum (NaN and a
 * message in dl_last_error() if the variant is unknown, unavailable or fails). */
double dl_sum(const char *name, const float *x, size_t n);

/* The a-priori bound c(n) of a variant, |computed - exact| <= c(n)·Σ|x|, from the table
 * above (NaN for an unknown name). For Kahan-type variants it returns 2u + 2n·u². */
double dl_sum_error_bound(const char *name, size_t n);

#ifdef __cplusplus
}
#endif
#endif
