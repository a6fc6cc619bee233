/* model.c — the α-β-γ cost model of each allreduce and its least-squares fit.
 *
 * α is the latency of one message, β the time per byte on the wire, γ the time per byte
 * reduced (Thakur, Rabenseifner & Gropp 2005). With n bytes on p ranks (pof2 the largest
 * power of two <= p; a non-power-of-two count costs the fold: one whole-vector message and
 * add in, one message out):
 *
 *   naive          2(p−1)α + 2(p−1)nβ + (p−1)nγ        (rank 0 carries everything)
 *   tree           2⌈lg p⌉α + 2⌈lg p⌉nβ + ⌈lg p⌉nγ
 *   rdoubling      lg pof2·(α + nβ + nγ)                 (+ fold)
 *   rabenseifner   2 lg pof2·α + 2(pof2−1)/pof2·nβ + (pof2−1)/pof2·nγ   (+ fold)
 *   ring           2(p−1)α + 2(p−1)/p·nβ + (p−1)/p·nγ
 *
 * β and γ multiply the same n, so a fit cannot tell them apart: the lesson measures γ from a
 * local add loop and fits α and β. Leaves out: contention between oversubscribed ranks,
 * which on this 2-core machine is most of what happens past 2 ranks (the fit shows it). */
#include <math.h>
#include <string.h>

#include "ar_lesson.h"

static int ceil_lg(int p) {
    int k = 0;
    while ((1 << k) < p) k++;
    return k;
}

bool ar_cost_coeffs(const char *algo, int p, double *ka, double *kb, double *kg) {
    int pof2 = 1;
    while (pof2 * 2 <= p) pof2 *= 2;
    const double fold = p > pof2 ? 1 : 0, lg = ceil_lg(pof2);
    if (p < 1) return false;
    if (strcmp(algo, "naive") == 0) {
        *ka = 2.0 * (p - 1), *kb = 2.0 * (p - 1), *kg = p - 1;
    } else if (strcmp(algo, "tree") == 0) {
        *ka = 2.0 * ceil_lg(p), *kb = 2.0 * ceil_lg(p), *kg = ceil_lg(p);
    } else if (strcmp(algo, "rdoubling") == 0) {
        *ka = lg + 2 * fold, *kb = lg + 2 * fold, *kg = lg + fold;
    } else if (strcmp(algo, "rabenseifner") == 0) {
        *ka = 2 * lg + 2 * fold, *kb = 2.0 * (pof2 - 1) / pof2 + 2 * fold;
        *kg = (double)(pof2 - 1) / pof2 + fold;
    } else if (strcmp(algo, "ring") == 0 || strcmp(algo, "mpi") == 0 ||
               strcmp(algo, "mpi_ring") == 0) {
        *ka = 2.0 * (p - 1), *kb = 2.0 * (p - 1) / p, *kg = (double)(p - 1) / p;
    } else {
        return false;
    }
    return true;
}

double ar_model_time(const char *algo, int p, double bytes, double alpha, double beta,
                     double gamma) {
    double ka, kb, kg;
    if (!ar_cost_coeffs(algo, p, &ka, &kb, &kg)) return NAN;
    return ka * alpha + kb * bytes * beta + kg * bytes * gamma;
}

int ar_fit_alpha_beta(const char *algo, const int *p, const double *bytes, const double *t,
                      int n, double gamma_s_per_byte, double *alpha_s, double *beta_s_per_byte) {
    /* Rows (ka/t, kb·n/t) · (α, β) = (t − kg·n·γ)/t: the normal equations of a 2×2 system. */
    double s11 = 0, s12 = 0, s22 = 0, r1 = 0, r2 = 0;
    int used = 0;
    for (int i = 0; i < n; i++) {
        double ka, kb, kg;
        if (!(t[i] > 0) || !ar_cost_coeffs(algo, p[i], &ka, &kb, &kg) || ka == 0) continue;
        const double a = ka / t[i], b = kb * bytes[i] / t[i];
        const double y = (t[i] - kg * bytes[i] * gamma_s_per_byte) / t[i];
        s11 += a * a, s12 += a * b, s22 += b * b, r1 += a * y, r2 += b * y;
        used++;
    }
    const double det = s11 * s22 - s12 * s12;
    if (used < 2 || !(fabs(det) > 1e-12 * s11 * s22)) return -1;
    *alpha_s = (r1 * s22 - r2 * s12) / det;
    *beta_s_per_byte = (s11 * r2 - s12 * r1) / det;
    /* A negative latency or per-byte time is noise, not physics: pin it at zero and fit
     * the other alone (the constrained least-squares solution on that edge). */
    if (*alpha_s < 0) *alpha_s = 0, *beta_s_per_byte = s22 > 0 ? r2 / s22 : 0;
    if (*beta_s_per_byte < 0) *beta_s_per_byte = 0, *alpha_s = s11 > 0 ? r1 / s11 : 0;
    return 0;
}

double ar_busbw(double bytes, double seconds, int p) {
    if (!(seconds > 0)) return 0;
    return bytes / seconds / 1e9 * (p > 1 ? 2.0 * (p - 1) / p : 0.0);
}
