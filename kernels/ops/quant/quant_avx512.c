/* quant_avx512.c — the quant schemes with AVX-512 intrinsics, 16 floats a step: the
 * max-abs (or min/max) reduction over finite values with a NaN count, and the
 * scale-clamp-round-store of the codes; tails use masked loads and stores, so there is no
 * scalar remainder loop. Gives exactly ref's bytes: the same fp32 product, the same clamp,
 * vroundscaleps to nearest-even (the rounding rint() does in ref), and the scale from the
 * shared formula in quant_impl.h.
 * Leaves out: threads (quantization is memory-bound; lesson 4 parallelizes the GEMM that
 * follows instead), non-x86 builds (the variant is then absent). */
#include <math.h>
#include <string.h>

#include "quant_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "../fast_math.h"

/* Lanes i..i+15 of a row of n that exist: all 16, or the tail's first n − i. */
static inline __mmask16 lanes(long i, long n) {
    return n - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - i)) - 1u);
}

/* max |x| over the finite values of x[0..n) (0 if none); adds the NaNs seen to *nans. */
DL_TARGET_AVX512 static float absmax_avx512(const float *x, long n, long *nans) {
    const __m512 big = _mm512_set1_ps(FLT_MAX);
    __m512 m = _mm512_setzero_ps();
    long count = 0;
    for (long i = 0; i < n; i += 16) {
        const __mmask16 k = lanes(i, n);
        const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        const __m512 a = _mm512_abs_ps(v);
        const __mmask16 finite = _mm512_mask_cmp_ps_mask(k, a, big, _CMP_LE_OQ);
        m = _mm512_mask_max_ps(m, finite, m, a);
        count += __builtin_popcount(_mm512_mask_cmp_ps_mask(k, v, v, _CMP_UNORD_Q));
    }
    *nans += count;
    return _mm512_reduce_max_ps(m);
}

/* Running max |x| per column: colmax[j] = max(colmax[j], |row[j]|) over finite entries. */
DL_TARGET_AVX512 static void column_absmax_avx512(const float *row, float *colmax, long K,
                                                  long *nans) {
    const __m512 big = _mm512_set1_ps(FLT_MAX);
    long count = 0;
    for (long j = 0; j < K; j += 16) {
        const __mmask16 k = lanes(j, K);
        const __m512 v = _mm512_maskz_loadu_ps(k, row + j);
        const __m512 a = _mm512_abs_ps(v);
        const __mmask16 finite = _mm512_mask_cmp_ps_mask(k, a, big, _CMP_LE_OQ);
        __m512 m = _mm512_maskz_loadu_ps(k, colmax + j);
        m = _mm512_mask_max_ps(m, finite, m, a);
        _mm512_mask_storeu_ps(colmax + j, k, m);
        count += __builtin_popcount(_mm512_mask_cmp_ps_mask(k, v, v, _CMP_UNORD_Q));
    }
    *nans += count;
}

/* Finite min and max of x[0..n) (+inf, −inf if none); NaNs counted into *nans. */
DL_TARGET_AVX512 static void minmax_avx512(const float *x, long n, float *min, float *max,
                                           long *nans) {
    const __m512 big = _mm512_set1_ps(FLT_MAX);
    __m512 lo = _mm512_set1_ps(INFINITY), hi = _mm512_set1_ps(-INFINITY);
    long count = 0;
    for (long i = 0; i < n; i += 16) {
        const __mmask16 k = lanes(i, n);
        const __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        const __mmask16 finite = _mm512_mask_cmp_ps_mask(k, _mm512_abs_ps(v), big, _CMP_LE_OQ);
        lo = _mm512_mask_min_ps(lo, finite, lo, v);
        hi = _mm512_mask_max_ps(hi, finite, hi, v);
        count += __builtin_popcount(_mm512_mask_cmp_ps_mask(k, v, v, _CMP_UNORD_Q));
    }
    *nans += count;
    *min = _mm512_reduce_min_ps(lo);
    *max = _mm512_reduce_max_ps(hi);
}

/* q = round_even(clamp(x·s, −127, 127)) for 16 lanes, zero where s is 0 (inf·0 is NaN). */
DL_TARGET_AVX512 static inline void store_symmetric(int8_t *q, __mmask16 k, __m512 x, __m512 s) {
    __m512 v = _mm512_mul_ps(x, s);
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-127.0f)), _mm512_set1_ps(127.0f));
    v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __mmask16 nonzero_scale = _mm512_cmp_ps_mask(s, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    const __m512i codes = _mm512_maskz_cvtps_epi32(nonzero_scale, v);
    _mm512_mask_cvtepi32_storeu_epi8(q, k, codes);
}

/* One scale for x[0..n). */
DL_TARGET_AVX512 static void symmetric_codes_avx512(const float *x, int8_t *q, long n, float s) {
    if (s == 0.0f) {
        memset(q, 0, (size_t)n);
        return;
    }
    const __m512 sv = _mm512_set1_ps(s);
    for (long i = 0; i < n; i += 16) {
        const __mmask16 k = lanes(i, n);
        store_symmetric(q + i, k, _mm512_maskz_loadu_ps(k, x + i), sv);
    }
}

/* A row of K with one scale per column. */
DL_TARGET_AVX512 static void column_codes_avx512(const float *row, int8_t *q, const float *scale,
                                                 long K) {
    for (long j = 0; j < K; j += 16) {
        const __mmask16 k = lanes(j, K);
        store_symmetric(q + j, k, _mm512_maskz_loadu_ps(k, row + j),
                        _mm512_maskz_loadu_ps(k, scale + j));
    }
}

DL_TARGET_AVX512 static void asymmetric_codes_avx512(const float *x, int8_t *q, long n, float min,
                                                     float s) {
    if (s == 0.0f) {
        memset(q, 0, (size_t)n);
        return;
    }
    const __m512 sv = _mm512_set1_ps(s), minv = _mm512_set1_ps(min);
    const __m512i bias = _mm512_set1_epi32(128);
    for (long i = 0; i < n; i += 16) {
        const __mmask16 k = lanes(i, n);
        __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), minv), sv);
        v = _mm512_min_ps(_mm512_max_ps(v, _mm512_setzero_ps()), _mm512_set1_ps(255.0f));
        v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        const __m512i codes = _mm512_sub_epi32(_mm512_cvtps_epi32(v), bias);
        _mm512_mask_cvtepi32_storeu_epi8(q + i, k, codes);
    }
}

static dl_status nan_error(long nans) {
    return DL_FAIL(DL_ERR_ARG, "x holds %ld NaN value(s): no code for them", nans);
}

DL_TARGET_AVX512 static dl_status avx512_quantize(const dl_quant_args *a) {
    const long N = a->N, K = a->K, n = N * K;
    long nans = 0;
    switch (a->scheme) {
    case DL_QUANT_ABSMAX: {
        const float absmax = absmax_avx512(a->x, n, &nans);
        if (nans) return nan_error(nans);
        a->scale[0] = dl_quant_symmetric_scale(absmax);
        symmetric_codes_avx512(a->x, a->q, n, a->scale[0]);
        break;
    }
    case DL_QUANT_ROWWISE:
        /* all the scales first, so that a NaN anywhere leaves q unwritten */
        for (long i = 0; i < N; i++)
            a->scale[i] = dl_quant_symmetric_scale(absmax_avx512(a->x + i * K, K, &nans));
        if (nans) return nan_error(nans);
        for (long i = 0; i < N; i++)
            symmetric_codes_avx512(a->x + i * K, a->q + i * K, K, a->scale[i]);
        break;
    case DL_QUANT_COLWISE:
        /* the column maxima accumulate in scale[] row by row (contiguous loads), then turn
         * into scales */
        memset(a->scale, 0, (size_t)K * sizeof(float));
        for (long i = 0; i < N; i++)
            column_absmax_avx512(a->x + i * K, a->scale, K, &nans);
        if (nans) return nan_error(nans);
        for (long j = 0; j < K; j++)
            a->scale[j] = dl_quant_symmetric_scale(a->scale[j]);
        for (long i = 0; i < N; i++)
            column_codes_avx512(a->x + i * K, a->q + i * K, a->scale, K);
        break;
    case DL_QUANT_ZEROPOINT: {
        float min, max;
        minmax_avx512(a->x, n, &min, &max, &nans);
        if (nans) return nan_error(nans);
        if (min > max) min = max = 0.0f; /* no finite value */
        a->scale[0] = dl_quant_asymmetric_scale(min, max);
        a->minimum[0] = min;
        asymmetric_codes_avx512(a->x, a->q, n, min, a->scale[0]);
        break;
    }
    }
    return DL_OK;
}

/* xhat = q / s for 16 lanes, 0 where s is 0. */
DL_TARGET_AVX512 static inline void store_symmetric_value(float *xhat, __mmask16 k, const int8_t *q,
                                                          __m512 s) {
    const __m512 qf = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, q)));
    const __mmask16 nonzero_scale = _mm512_cmp_ps_mask(s, _mm512_setzero_ps(), _CMP_NEQ_UQ);
    _mm512_mask_storeu_ps(xhat, k, _mm512_maskz_div_ps(nonzero_scale, qf, s));
}

DL_TARGET_AVX512 static dl_status avx512_dequantize(const dl_quant_args *a) {
    const long N = a->N, K = a->K, n = N * K;
    switch (a->scheme) {
    case DL_QUANT_ABSMAX: {
        const __m512 s = _mm512_set1_ps(a->scale[0]);
        for (long i = 0; i < n; i += 16)
            store_symmetric_value(a->xhat + i, lanes(i, n), a->q + i, s);
        break;
    }
    case DL_QUANT_ROWWISE:
        for (long i = 0; i < N; i++) {
            const __m512 s = _mm512_set1_ps(a->scale[i]);
            for (long j = 0; j < K; j += 16)
                store_symmetric_value(a->xhat + i * K + j, lanes(j, K), a->q + i * K + j, s);
        }
        break;
    case DL_QUANT_COLWISE:
        for (long i = 0; i < N; i++)
            for (long j = 0; j < K; j += 16) {
                const __mmask16 k = lanes(j, K);
                store_symmetric_value(a->xhat + i * K + j, k, a->q + i * K + j,
                                      _mm512_maskz_loadu_ps(k, a->scale + j));
            }
        break;
    case DL_QUANT_ZEROPOINT: {
        const float s = a->scale[0];
        if (s == 0.0f) {
            memset(a->xhat, 0, (size_t)n * sizeof(float));
            break;
        }
        const __m512 sv = _mm512_set1_ps(s), minv = _mm512_set1_ps(a->minimum[0]);
        const __m512i bias = _mm512_set1_epi32(128);
        for (long i = 0; i < n; i += 16) {
            const __mmask16 k = lanes(i, n);
            const __m512i q = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(k, a->q + i));
            const __m512 qf = _mm512_cvtepi32_ps(_mm512_add_epi32(q, bias));
            _mm512_mask_storeu_ps(a->xhat + i, k, _mm512_add_ps(_mm512_div_ps(qf, sv), minv));
        }
        break;
    }
    }
    return DL_OK;
}

const dl_quant_impl dl_quant_avx512_impl = {avx512_quantize, avx512_dequantize};
#endif
