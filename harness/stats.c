/* stats.c — summary statistics of timing samples.
 *
 * Timing samples are skewed (a long tail of interrupted runs), so the figures that matter
 * are the median and the median absolute deviation (MAD), which ignore the tail; mean,
 * stddev and cv are kept for those who want them. A figure is marked unstable when
 * MAD > 5% of the median, the threshold nanobench uses.
 * Quantiles interpolate linearly between closest ranks (numpy's default, R type 7):
 * for {1..10}, p10 = 1.9, median = 5.5, p90 = 9.1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlb_internal.h"

/* Ascending order; NaN sorts last so it never lands in the middle of the data. */
static int cmp_double(const void *pa, const void *pb) {
    double a = *(const double *)pa, b = *(const double *)pb;
    int a_nan = isnan(a) != 0, b_nan = isnan(b) != 0;
    if (a_nan || b_nan) return a_nan - b_nan;
    return (a > b) - (a < b);
}

double dlb_quantile_sorted(const double *sorted, int n, double q) {
    if (n <= 0) return NAN;
    if (q <= 0) return sorted[0];
    if (q >= 1) return sorted[n - 1];
    double rank = q * (n - 1);
    int lo = (int)rank;
    if (lo >= n - 1) return sorted[n - 1];
    double frac = rank - lo;
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

int dlb_stats_compute(const double *x, int n, dlb_stats *out) {
    memset(out, 0, sizeof *out);
    if (n <= 0) return dlbi_fail("dlb_stats_compute: no samples (n = %d)", n);

    double *sorted = malloc((size_t)n * sizeof *sorted);
    if (!sorted) return dlbi_fail("dlb_stats_compute: out of memory for %d samples", n);
    memcpy(sorted, x, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);

    double sum = 0;
    for (int i = 0; i < n; i++) sum += sorted[i];
    double mean = sum / n;
    double sq = 0;
    for (int i = 0; i < n; i++) sq += (sorted[i] - mean) * (sorted[i] - mean);

    out->n = n;
    out->min = sorted[0];
    out->max = sorted[n - 1];
    out->mean = mean;
    out->median = dlb_quantile_sorted(sorted, n, 0.5);
    out->p10 = dlb_quantile_sorted(sorted, n, 0.10);
    out->p90 = dlb_quantile_sorted(sorted, n, 0.90);
    out->stddev = n > 1 ? sqrt(sq / (n - 1)) : 0.0;
    out->cv = mean != 0 ? out->stddev / fabs(mean) : 0.0;

    /* MAD: the median of the distances from the median, reusing the buffer. */
    for (int i = 0; i < n; i++) sorted[i] = fabs(sorted[i] - out->median);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_double);
    out->mad = dlb_quantile_sorted(sorted, n, 0.5);
    out->unstable = out->mad > DLB_UNSTABLE_MAD * fabs(out->median);

    free(sorted);
    return 0;
}
