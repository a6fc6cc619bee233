/* softmax_cpu.c — the fast CPU softmax variants, all OpenMP over rows (rows are
 * independent; one row is never split across threads):
 *
 *   naive          e^x, Σ, divide: no max shift, so e^x overflows to inf for x > ~88.7 and
 *                  the row turns inf/NaN. Kept to show why the shift exists.
 *   safe           three passes over the row: max; Σ e^(x − m); e^(x − m)/Σ (recomputed, not
 *                  stored: 3 reads + 1 write per element, the paper's "4 accesses").
 *   online         one pass keeping (m, d), d ← d·e^(m_old − m_new) + e^(x − m_new), then
 *                  the normalize pass: 2 reads + 1 write. Scalar (the branchy update does
 *                  not vectorize), so it shows the algorithm, not the bandwidth.
 *   online_avx512  16 lanes each keep their own (m, d) over elements j ≡ lane (mod 16),
 *                  merged at the end with the pair rule; vectorized exp (dl_exp_poly).
 *   safe_avx512    the safe body compiled for AVX-512: the fair baseline for online_avx512.
 *
 * Per-element update with one exp instead of two: of e^(m_old − m_new) and e^(x − m_new)
 * one is e^0 = 1, so e = e^(lo − hi) with lo, hi = min, max(m_old, x) and
 *   x > m_old:  d ← d·e + 1, m ← x        otherwise:  d ← d + e.
 * lo = −inf gives e = 0 (never −inf − −inf = NaN); a NaN x makes e and then d NaN.
 * Special values (softmax.h): a row whose final m is +inf or −inf, or whose d is NaN,
 * becomes all NaN. The backward pass is shared by all of them.
 * Leaves out: AVX2 builds of the lane loop, splitting one long row across threads.
 */
#include <math.h>

#include "../fast_math.h"
#include "softmax_impl.h"

static void fill_nan(float *y, int V) {
    for (int j = 0; j < V; j++) y[j] = NAN;
}

/* The row's summary decides: finite m and d ≥ 1 (the max element contributes e^0 = 1). */
static DL_ALWAYS_INLINE bool row_defined(float m, float d) {
    return m > -INFINITY && m < INFINITY && d >= 1.0f;
}

/* y = e^(x − m) / d, vectorized. */
static DL_ALWAYS_INLINE void normalize(const float *x, float *y, int V, float m, float d) {
    const float inv_d = 1.0f / d;
#pragma omp simd
    for (int j = 0; j < V; j++) y[j] = dl_exp_poly(x[j] - m) * inv_d;
}

/* ---------------------------------------------------------------------------- naive */
static void naive_row(const float *x, float *y, int V) {
    float sum = 0.0f;
    for (int j = 0; j < V; j++) sum += expf(x[j]);
    for (int j = 0; j < V; j++) y[j] = expf(x[j]) / sum;
}

/* ----------------------------------------------------------------------------- safe */
static DL_ALWAYS_INLINE void safe_row_body(const float *x, float *y, int V) {
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int j = 0; j < V; j++) m = dl_select(__builtin_isgreater(x[j], m), x[j], m);
    /* A NaN x is skipped by the max but makes its e^(x − m), hence d, NaN. */
    float d = 0.0f;
#pragma omp simd reduction(+ : d)
    for (int j = 0; j < V; j++) d += dl_exp_poly(x[j] - m);
    if (!row_defined(m, d)) {
        fill_nan(y, V);
        return;
    }
    normalize(x, y, V, m, d);
}
static void safe_row(const float *x, float *y, int V) { safe_row_body(x, y, V); }

/* --------------------------------------------------------------------------- online */
static DL_ALWAYS_INLINE void online_update(float x, float *m, float *d) {
    const bool gt = __builtin_isgreater(x, *m);
    const float hi = dl_select(gt, x, *m), lo = dl_select(gt, *m, x);
    const float e = dl_exp_poly(dl_select(lo == -INFINITY, -INFINITY, lo - hi));
    *d = dl_select(gt, *d * e + 1.0f, *d + e);
    *m = hi;
}

/* The pair rule with dl_exp_poly; an empty side (m = −inf) weighs 0, keeping NaN in d. */
static DL_ALWAYS_INLINE void combine_fast(float m1, float d1, float m2, float d2, float *m,
                                          float *d) {
    const float mm = dl_select(__builtin_isgreater(m2, m1), m2, m1);
    const float s1 = m1 == -INFINITY ? 0.0f : dl_exp_poly(m1 - mm);
    const float s2 = m2 == -INFINITY ? 0.0f : dl_exp_poly(m2 - mm);
    *m = mm;
    *d = d1 * s1 + d2 * s2;
}

static void online_row(const float *x, float *y, int V) {
    float m = -INFINITY, d = 0.0f;
    for (int j = 0; j < V; j++) online_update(x[j], &m, &d);
    if (!row_defined(m, d)) {
        fill_nan(y, V);
        return;
    }
    normalize(x, y, V, m, d);
}

#define LANES 16
static DL_ALWAYS_INLINE void online_lanes_body(const float *x, float *y, int V) {
    float m[LANES], d[LANES];
    for (int l = 0; l < LANES; l++) m[l] = -INFINITY, d[l] = 0.0f;
    int j = 0;
    for (; j + LANES <= V; j += LANES) {
#pragma omp simd
        for (int l = 0; l < LANES; l++) {
            const float xv = x[j + l], mo = m[l];
            const bool gt = __builtin_isgreater(xv, mo);
            const float hi = dl_select(gt, xv, mo), lo = dl_select(gt, mo, xv);
            const float e = dl_exp_poly(dl_select(lo == -INFINITY, -INFINITY, lo - hi));
            d[l] = dl_select(gt, d[l] * e + 1.0f, d[l] + e);
            m[l] = hi;
        }
    }
    for (int l = 0; j < V; j++, l++) online_update(x[j], &m[l], &d[l]);
    for (int width = LANES / 2; width > 0; width /= 2)
        for (int l = 0; l < width; l++)
            combine_fast(m[l], d[l], m[l + width], d[l + width], &m[l], &d[l]);
    if (!row_defined(m[0], d[0])) {
        fill_nan(y, V);
        return;
    }
    normalize(x, y, V, m[0], d[0]);
}

#ifdef DL_HAVE_X86_TARGETS
DL_TARGET_AVX512 static void safe_row_avx512(const float *x, float *y, int V) {
    safe_row_body(x, y, V);
}
DL_TARGET_AVX512 static void online_row_avx512(const float *x, float *y, int V) {
    online_lanes_body(x, y, V);
}
#else
static void safe_row_avx512(const float *x, float *y, int V) { safe_row_body(x, y, V); }
static void online_row_avx512(const float *x, float *y, int V) { online_lanes_body(x, y, V); }
#endif

/* ------------------------------------------------------------------- the row driver */
typedef void (*row_fn)(const float *x, float *y, int V);

static dl_status rows_forward(const dl_softmax_args *a, row_fn row) {
    const long V = a->V;
    if (a->N == 0 || V == 0) return DL_OK;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < a->N; i++) row(a->inp + i * V, a->out + i * V, a->V);
    return DL_OK;
}

static dl_status naive_forward(const dl_softmax_args *a) { return rows_forward(a, naive_row); }
static dl_status safe_forward(const dl_softmax_args *a) { return rows_forward(a, safe_row); }
static dl_status safe_avx512_forward(const dl_softmax_args *a) {
    return rows_forward(a, safe_row_avx512);
}
static dl_status online_forward(const dl_softmax_args *a) { return rows_forward(a, online_row); }
static dl_status online_avx512_forward(const dl_softmax_args *a) {
    return rows_forward(a, online_row_avx512);
}

/* dinp += y ⊙ (dout − Σ dout·y), the dot in fp32 vector lanes. */
static dl_status fast_backward(const dl_softmax_args *a) {
    const long V = a->V;
    if (!a->dinp || a->N == 0 || V == 0) return DL_OK;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < a->N; i++) {
        const float *y = a->out + i * V, *dy = a->dout + i * V;
        float *dx = a->dinp + i * V;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (long j = 0; j < V; j++) dot += dy[j] * y[j];
#pragma omp simd
        for (long j = 0; j < V; j++) dx[j] += y[j] * (dy[j] - dot);
    }
    return DL_OK;
}

const dl_softmax_impl dl_softmax_naive_impl = {naive_forward, fast_backward};
const dl_softmax_impl dl_softmax_safe_impl = {safe_forward, fast_backward};
const dl_softmax_impl dl_softmax_safe_avx512_impl = {safe_avx512_forward, fast_backward};
const dl_softmax_impl dl_softmax_online_impl = {online_forward, fast_backward};
const dl_softmax_impl dl_softmax_online_avx512_impl = {online_avx512_forward, fast_backward};
