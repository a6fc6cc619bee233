/* softmax_simd.h — private to kernels/ops/softmax: the pieces of online softmax that the
 * softmax and softmax_topk CPU variants share. The update rule and the 16-lane exp are
 * explained at the top of softmax_cpu.c.
 *
 *   row_defined      does a row's summary (m, d) give a defined softmax?
 *   online_update    one scalar step of the running (m, d)
 *   combine_fast     the pair rule with dl_exp_poly
 *   exp16            e^x on 16 AVX-512 lanes (≤ 1.01 ulp on [−104, 88.7])
 *   tail_mask        the lanes of a partial last block
 *   online_step16    one 16-lane step of the running (m, d)
 *   merge_lanes16    the 16 lane summaries merged into one (m, d)
 * All static inline: each including file gets its own copy, inlined into its loops.
 */
#ifndef DLAB_SOFTMAX_SIMD_H
#define DLAB_SOFTMAX_SIMD_H

#include <math.h>
#include <stdbool.h>

#include "../fast_math.h"

/* The row's summary decides: finite m and d ≥ 1 (the max element contributes e^0 = 1). */
static DL_ALWAYS_INLINE bool row_defined(float m, float d) {
    return m > -INFINITY && m < INFINITY && d >= 1.0f;
}

static DL_ALWAYS_INLINE void online_update(float x, float *m, float *d) {
    /* Exercise (lesson 2): after this step *m is the max so far and *d = Σ e^(x_i − *m).
     * The handout's stub leaves (m, d) = (−inf, 0), an undefined row: every output NaN. */
    /* BEGIN SOLUTION stub: (void)x; (void)m; (void)d; */
    const bool gt = __builtin_isgreater(x, *m);
    const float hi = dl_select(gt, x, *m), lo = dl_select(gt, *m, x);
    const float e = dl_exp_poly(dl_select(lo == -INFINITY, -INFINITY, lo - hi));
    *d = dl_select(gt, *d * e + 1.0f, *d + e);
    *m = hi;
    /* END SOLUTION */
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

/* The lanes of the last, partial block: tail elements load as −inf, which weigh 0. */
static inline __mmask16 tail_mask(int count) { return (__mmask16)((1u << count) - 1u); }

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

/* Merge the lanes: d = Σ d_l·e^(m_l − M); an empty lane (m_l = −inf) weighs 0 but a NaN
 * d_l still makes the sum NaN (NaN·0 = NaN). m_l is never NaN. */
DL_TARGET_AVX512 static inline __attribute__((always_inline)) void
merge_lanes16(__m512 m, __m512 d, float *m_out, float *d_out) {
    const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
    const float m_all = _mm512_reduce_max_ps(m);
    const __mmask16 empty = _mm512_cmp_ps_mask(m, neg_inf, _CMP_EQ_OQ);
    const __m512 scale = _mm512_mask_mov_ps(exp16(_mm512_sub_ps(m, _mm512_set1_ps(m_all))),
                                            empty, _mm512_setzero_ps());
    *m_out = m_all;
    *d_out = _mm512_reduce_add_ps(_mm512_mul_ps(d, scale));
}
#endif

#endif
