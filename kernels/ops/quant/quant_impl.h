/* quant_impl.h — private to kernels/ops/quant: the implementations that quant_variants.c
 * puts in the registry, and the two scale formulas every variant shares (the one place the
 * scale is computed, so that the variants agree to the byte). Callers go through
 * dl_quantize / dl_dequantize. */
#ifndef DLAB_QUANT_IMPL_H
#define DLAB_QUANT_IMPL_H

#include <float.h>

#include "dlab/quant.h"

extern const dl_quant_impl dl_quant_ref_impl; /* quant_ref.c */
#if defined(__x86_64__) || defined(__i386__)
extern const dl_quant_impl dl_quant_avx512_impl; /* quant_avx512.c */
#endif

/* 127 / max|x| in double, rounded once to fp32. 0 when max|x| is 0 (nothing to scale) or so
 * small that the scale would overflow fp32 (max|x| < 127 / FLT_MAX ≈ 3.7e−37): quant.h
 * defines both as "all codes 0". */
static inline float dl_quant_symmetric_scale(float absmax) {
    if (!(absmax > 0.0f)) return 0.0f;
    const double s = 127.0 / (double)absmax;
    return s > FLT_MAX ? 0.0f : (float)s;
}

/* 255 / (max − min) in double (the range of two fp32 values may itself overflow fp32),
 * rounded once to fp32; 0 for an empty range or an overflowing scale. */
static inline float dl_quant_asymmetric_scale(float min, float max) {
    const double range = (double)max - (double)min;
    if (!(range > 0.0)) return 0.0f;
    const double s = 255.0 / range;
    return s > FLT_MAX ? 0.0f : (float)s;
}

#endif
