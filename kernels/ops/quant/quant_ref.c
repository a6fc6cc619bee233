/* quant_ref.c — the oracle: every scheme of quant.h written the obvious way, one element at
 * a time, no threads. Rounding is rint() on the fp32 product (half to even in the default
 * rounding mode), written independently of the AVX-512 variant's vroundscale so that the
 * byte-equality test compares two implementations, not one.
 * Leaves out: speed. */
#include <math.h>

#include "quant_impl.h"

/* The largest finite |x| of n values spaced `stride` apart (0 if none is finite). */
static float finite_absmax(const float *x, long n, long stride) {
    float m = 0.0f;
    for (long i = 0; i < n; i++) {
        const float a = fabsf(x[i * stride]);
        if (isfinite(a) && a > m) m = a;
    }
    return m;
}

/* round(clamp(x·scale, −127, 127)); scale 0 → 0 (also for ±inf, where inf·0 would be NaN). */
static int8_t symmetric_code(float x, float scale) {
    if (scale == 0.0f) return 0;
    float v = x * scale;
    if (v > 127.0f) v = 127.0f;
    if (v < -127.0f) v = -127.0f;
    return (int8_t)rint(v);
}

static int8_t asymmetric_code(float x, float min, float scale) {
    if (scale == 0.0f) return 0;
    float v = (x - min) * scale;
    if (v > 255.0f) v = 255.0f;
    if (v < 0.0f) v = 0.0f;
    return (int8_t)((int)rint(v) - 128);
}

static dl_status ref_quantize(const dl_quant_args *a) {
    const long N = a->N, K = a->K, n = N * K;
    long nans = 0;
    for (long i = 0; i < n; i++)
        nans += isnan(a->x[i]) ? 1 : 0;
    if (nans) return DL_FAIL(DL_ERR_ARG, "x holds %ld NaN value(s): no code for them", nans);

    switch (a->scheme) {
    case DL_QUANT_ABSMAX: {
        const float s = dl_quant_symmetric_scale(finite_absmax(a->x, n, 1));
        a->scale[0] = s;
        for (long i = 0; i < n; i++)
            a->q[i] = symmetric_code(a->x[i], s);
        break;
    }
    case DL_QUANT_ROWWISE:
        for (long i = 0; i < N; i++) {
            const float s = dl_quant_symmetric_scale(finite_absmax(a->x + i * K, K, 1));
            a->scale[i] = s;
            for (long j = 0; j < K; j++)
                a->q[i * K + j] = symmetric_code(a->x[i * K + j], s);
        }
        break;
    case DL_QUANT_COLWISE:
        for (long j = 0; j < K; j++) {
            const float s = dl_quant_symmetric_scale(finite_absmax(a->x + j, N, K));
            a->scale[j] = s;
            for (long i = 0; i < N; i++)
                a->q[i * K + j] = symmetric_code(a->x[i * K + j], s);
        }
        break;
    case DL_QUANT_ZEROPOINT: {
        float min = INFINITY, max = -INFINITY;
        for (long i = 0; i < n; i++) {
            if (!isfinite(a->x[i])) continue;
            if (a->x[i] < min) min = a->x[i];
            if (a->x[i] > max) max = a->x[i];
        }
        if (min > max) min = max = 0.0f; /* no finite value */
        const float s = dl_quant_asymmetric_scale(min, max);
        a->scale[0] = s;
        a->minimum[0] = min;
        for (long i = 0; i < n; i++)
            a->q[i] = asymmetric_code(a->x[i], min, s);
        break;
    }
    }
    return DL_OK;
}

static float symmetric_value(int8_t q, float scale) {
    return scale == 0.0f ? 0.0f : (float)q / scale;
}

static dl_status ref_dequantize(const dl_quant_args *a) {
    const long N = a->N, K = a->K, n = N * K;
    switch (a->scheme) {
    case DL_QUANT_ABSMAX:
        for (long i = 0; i < n; i++)
            a->xhat[i] = symmetric_value(a->q[i], a->scale[0]);
        break;
    case DL_QUANT_ROWWISE:
        for (long i = 0; i < N; i++)
            for (long j = 0; j < K; j++)
                a->xhat[i * K + j] = symmetric_value(a->q[i * K + j], a->scale[i]);
        break;
    case DL_QUANT_COLWISE:
        for (long i = 0; i < N; i++)
            for (long j = 0; j < K; j++)
                a->xhat[i * K + j] = symmetric_value(a->q[i * K + j], a->scale[j]);
        break;
    case DL_QUANT_ZEROPOINT: {
        const float s = a->scale[0], min = a->minimum[0];
        for (long i = 0; i < n; i++)
            a->xhat[i] = s == 0.0f ? 0.0f : (float)(a->q[i] + 128) / s + min;
        break;
    }
    }
    return DL_OK;
}

const dl_quant_impl dl_quant_ref_impl = {ref_quantize, ref_dequantize};
