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
 *                  merged at the end with the pair rule. Intrinsics with exp16 (below),
 *                  the tail as one masked vector whose missing lanes read −inf.
 *   safe_avx512    safe in AVX-512 intrinsics with exp16: the fair baseline for online_avx512.
 *
 * Per-element update with one exp instead of two: of e^(m_old − m_new) and e^(x − m_new)
 * one is e^0 = 1, so e = e^(lo − hi) with lo, hi = min, max(m_old, x) and
 *   x > m_old:  d ← d·e + 1, m ← x        otherwise:  d ← d + e.
 * lo = −inf gives e = 0 (never −inf − −inf = NaN); a NaN x makes e and then d NaN.
 * Special values (softmax.h): a row whose final m is +inf or −inf, or whose d is NaN,
 * becomes all NaN. The backward pass is shared by all of them.
 * Without x86 targets the AVX-512 pair falls back to the plain-C bodies (dl_exp_poly).
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
#include <immintrin.h>

#define DL_TARGET_EXP16 __attribute__((target("avx512f,avx512dq,fma")))

/* e^x on 16 lanes: x = n·ln2 + r, n = round(x·log2 e), r in [−½ln2, ½ln2] by Cody–Waite
 * (ln2 = 0.693359375 exact in fp32 minus a correction), e^r = 1 + r + r²·P(r) with P of
 * degree 5 (the Cephes expf coefficients) by Horner FMAs, then vscalefps for 2^n.
 * scalef rounds once, so results fall gently into denormals and then to 0, and overflow
 * to +inf, with no exponent-field tricks. Clamping x to [−120, 89] first makes ±inf
 * behave (e^−inf = 0, e^+inf = +inf) and max/min pass a NaN x through (they return their
 * second operand when either is NaN), so NaN → NaN. Measured ≤ 1.01 ulp against double
 * exp over every float in [−104, 88.7] (tests/test_softmax.c checks ≤ 2 on [−104, 0]). */
static inline __attribute__((always_inline)) DL_TARGET_EXP16 __m512 exp16(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-120.0f), x);
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), x);
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504089f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* Scalar entry for the accuracy test (declared there, not in a header). */
DL_TARGET_EXP16 float dl_softmax_exp16_scalar(float x) {
    return _mm512_cvtss_f32(exp16(_mm512_set1_ps(x)));
}

/* The lanes of the last, partial block: tail elements load as −inf, which weigh 0. */
static inline __mmask16 tail_mask(int count) { return (__mmask16)((1u << count) - 1u); }

/* y = e^(x − m) / d. */
DL_TARGET_AVX512 static void normalize_avx512(const float *x, float *y, int V, float m,
                                              float d) {
    const __m512 vm = _mm512_set1_ps(m), inv_d = _mm512_set1_ps(1.0f / d);
    int j = 0;
    for (; j + 16 <= V; j += 16)
        _mm512_storeu_ps(y + j, _mm512_mul_ps(exp16(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm)),
                                              inv_d));
    if (j < V) {
        const __mmask16 k = tail_mask(V - j);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), vm));
        _mm512_mask_storeu_ps(y + j, k, _mm512_mul_ps(e, inv_d));
    }
}

DL_TARGET_AVX512 static void safe_row_avx512(const float *x, float *y, int V) {
    const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
    /* max(x, m) returns m when x is NaN: NaN is skipped by the max, as in safe_row. */
    __m512 vmax = neg_inf;
    int j = 0;
    for (; j + 16 <= V; j += 16) vmax = _mm512_max_ps(_mm512_loadu_ps(x + j), vmax);
    if (j < V) vmax = _mm512_max_ps(_mm512_mask_loadu_ps(neg_inf, tail_mask(V - j), x + j), vmax);
    const float m = _mm512_reduce_max_ps(vmax);
    /* A NaN x makes its e^(x − m), hence d, NaN. Two sums hide the add latency. */
    const __m512 vm = _mm512_set1_ps(m);
    __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
    for (j = 0; j + 32 <= V; j += 32) {
        sum0 = _mm512_add_ps(sum0, exp16(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm)));
        sum1 = _mm512_add_ps(sum1, exp16(_mm512_sub_ps(_mm512_loadu_ps(x + j + 16), vm)));
    }
    for (; j + 16 <= V; j += 16)
        sum0 = _mm512_add_ps(sum0, exp16(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm)));
    if (j < V) {
        const __mmask16 k = tail_mask(V - j);
        sum1 = _mm512_mask_add_ps(sum1, k, sum1,
                                  exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), vm)));
    }
    const float d = _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
    if (!row_defined(m, d)) {
        fill_nan(y, V);
        return;
    }
    normalize_avx512(x, y, V, m, d);
}

/* One lane step of the online update (see the top of the file): e = e^(lo − hi), forced
 * to 0 where lo = −inf (so −inf − −inf never makes NaN; a NaN lo is not equal, stays NaN). */
DL_TARGET_AVX512 static inline __attribute__((always_inline)) void
online_step16(__m512 xv, __m512 *m, __m512 *d) {
    const __mmask16 gt = _mm512_cmp_ps_mask(xv, *m, _CMP_GT_OQ);
    const __m512 hi = _mm512_mask_blend_ps(gt, *m, xv), lo = _mm512_mask_blend_ps(gt, xv, *m);
    const __mmask16 lo_is_neg_inf = _mm512_cmp_ps_mask(lo, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ);
    const __m512 e = _mm512_mask_mov_ps(exp16(_mm512_sub_ps(lo, hi)), lo_is_neg_inf,
                                        _mm512_setzero_ps());
    const __m512 d_new_max = _mm512_fmadd_ps(*d, e, _mm512_set1_ps(1.0f));
    *d = _mm512_mask_blend_ps(gt, _mm512_add_ps(*d, e), d_new_max);
    *m = hi;
}

DL_TARGET_AVX512 static void online_row_avx512(const float *x, float *y, int V) {
    const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
    __m512 m = neg_inf, d = _mm512_setzero_ps();
    int j = 0;
    for (; j + 16 <= V; j += 16) online_step16(_mm512_loadu_ps(x + j), &m, &d);
    if (j < V) online_step16(_mm512_mask_loadu_ps(neg_inf, tail_mask(V - j), x + j), &m, &d);
    /* Merge the lanes: d = Σ d_l·e^(m_l − M); an empty lane (m_l = −inf) weighs 0 but a
     * NaN d_l still makes the sum NaN (NaN·0 = NaN). m_l is never NaN. */
    const float m_all = _mm512_reduce_max_ps(m);
    const __mmask16 empty = _mm512_cmp_ps_mask(m, neg_inf, _CMP_EQ_OQ);
    const __m512 scale = _mm512_mask_mov_ps(exp16(_mm512_sub_ps(m, _mm512_set1_ps(m_all))),
                                            empty, _mm512_setzero_ps());
    const float d_all = _mm512_reduce_add_ps(_mm512_mul_ps(d, scale));
    if (!row_defined(m_all, d_all)) {
        fill_nan(y, V);
        return;
    }
    normalize_avx512(x, y, V, m_all, d_all);
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
