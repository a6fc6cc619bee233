/* quant.h — the "quant" op family: fp32 → int8 quantization and back, the first kernels of
 * lesson 4 (Dettmers et al. 2022, "LLM.int8()"). Row-major throughout.
 *
 *   x (N,K) fp32  →  q (N,K) int8, scale[], (zero-point scheme: minimum[0])
 *   q, scale[]    →  xhat (N,K) fp32                                 (dequantize)
 *
 * Schemes (args.scheme; one entry point, the scheme decides how many scales there are):
 *   DL_QUANT_ABSMAX     one scale for the tensor:   scale = 127 / max|x|,
 *                       q = round(clamp(x·scale, −127, 127)),      xhat = q / scale
 *   DL_QUANT_ROWWISE    vector-wise, one scale per row i (for activations X (N,K)):
 *                       scale[i] = 127 / max_j |x[i,j]|, then as absmax
 *   DL_QUANT_COLWISE    vector-wise, one scale per column j (for a weight W stored (K,OC),
 *                       i.e. N = K_in rows, K = OC columns: one scale per output channel):
 *                       scale[j] = 127 / max_i |x[i,j]|, then as absmax
 *   DL_QUANT_ZEROPOINT  asymmetric, per tensor: scale = 255 / (max − min),
 *                       q = round(clamp((x − min)·scale, 0, 255)) − 128   (min → −128,
 *                       max → 127 exactly), xhat = (q + 128) / scale + min.
 *                       The offset is kept as the float min (minimum[0]) rather than an
 *                       integer zero point −128 − round(min·scale): same codes for data that
 *                       straddles 0, and no precision lost for data far from 0.
 *   dl_quant_scale_count() says how many floats scale[] needs (1, N, K, 1).
 *
 * Arithmetic, the same in every variant (so that they agree to the byte): the max (and min)
 * is exact; the scale is computed in double and rounded once to fp32 (it is stored as fp32);
 * the product x·scale (or (x − min)·scale) is one fp32 operation; rounding is HALF TO EVEN
 * (0.5 → 0, 1.5 → 2, 2.5 → 2, −63.5 → −64), the rounding of IEEE arithmetic itself;
 * dequantization is one fp32 division (and, for zero-point, one addition).
 *
 * Defined bad input:
 *   - max|x| = 0 (an all-zero tensor, row or column), or max − min = 0 (a constant tensor),
 *     or a scale that would overflow fp32 (max|x| < ~3.7e−37): scale = 0, q = 0 everywhere,
 *     and dequantize gives 0 (no division by zero). A constant nonzero tensor under
 *     zero-point thus dequantizes to 0: quantize it with absmax instead.
 *   - ±inf: the scale (and min/max) come from the FINITE values only; +inf saturates to the
 *     top code (127), −inf to the bottom code (−127, or −128 for zero-point). An all-inf
 *     tensor has no finite values: scale 0, q = 0.
 *   - NaN anywhere in x: DL_ERR_ARG naming how many, and q is not written (scale[] and
 *     minimum[] may be). A NaN has no nearest code; a silent 0 would hide a broken model.
 *   - N = 0 or K = 0: nothing is read or written (pointers may be NULL).
 * Leaves out: int4, stochastic rounding, per-group scales, fp16 inputs, CUDA (issue 8 asks
 * for them only in the int8 GEMM).
 */
#ifndef DLAB_QUANT_H
#define DLAB_QUANT_H

#include <stdbool.h>
#include <stdint.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dl_quant_scheme {
    DL_QUANT_ABSMAX = 0,
    DL_QUANT_ROWWISE,
    DL_QUANT_COLWISE,
    DL_QUANT_ZEROPOINT
} dl_quant_scheme;

typedef struct dl_quant_args {
    dl_quant_scheme scheme;
    int N, K;
    const float *x; /* (N,K), read by quantize */
    int8_t *q;      /* (N,K), written by quantize, read by dequantize */
    float *scale;   /* dl_quant_scale_count() entries: written by quantize, read by dequantize */
    float *minimum; /* DL_QUANT_ZEROPOINT only: 1 entry, the finite min of x (else unused) */
    float *xhat;    /* (N,K), written by dequantize */
} dl_quant_args;

typedef struct dl_quant_impl {
    dl_status (*quantize)(const dl_quant_args *args);
    dl_status (*dequantize)(const dl_quant_args *args);
} dl_quant_impl;

/* Floats scale[] holds for a scheme: 1 (absmax, zero-point), N (rowwise), K (colwise);
 * −1 for an unknown scheme. */
long dl_quant_scale_count(dl_quant_scheme scheme, int N, int K);

/* DL_OK, or DL_ERR_ARG naming the first bad field (unknown scheme, negative size, a needed
 * NULL). Does not look at the values of x. */
dl_status dl_quant_check(const dl_quant_args *a, bool dequantize);

/* Cost of one quantize: reads x twice (the max, then the codes) and writes q: 9·N·K bytes;
 * ~4 operations an element. */
dl_cost dl_quant_cost(const void *args);

dl_status dl_quantize(const dl_variant *v, const dl_quant_args *args);
dl_status dl_dequantize(const dl_variant *v, const dl_quant_args *args);
/* avx512 where it runs, else ref. */
const dl_variant *dl_quant_best(void);

/* LLM.int8()'s outlier test: the columns j of x (N,K) with |x[i,j]| ≥ threshold for some
 * row i, in increasing order, into cols_out (room for K ints); *count receives how many.
 * The paper's threshold is 6.0. ±inf entries count as outliers, NaN entries do not.
 * threshold ≤ 0 or NaN: DL_ERR_ARG (every column would be an outlier, or none).
 * N = 0 or K = 0: *count = 0. */
dl_status dl_quant_outlier_columns(const float *x, int N, int K, float threshold, int *cols_out,
                                   int *count);

#ifdef __cplusplus
}
#endif
#endif
