/* qlinear.h — a quantized linear layer for inference (lesson 4, Dettmers et al. 2022,
 * "LLM.int8()"): out (N,OC) = x (N,C) · Wᵀ + bias, with W (OC,C) stored as int8.
 *
 * Every mode is DEFINED as the fp32 product of the dequantized operands,
 *     out = deq(q(x)) · deq(q(W))ᵀ + bias,
 * and computed with the int8_gemm family (int32 accumulation, exact) plus the corrections
 * the scheme needs; tests compare against that definition on the CPU in double.
 *   DL_QLINEAR_FP32        no quantization: the fp32 linear (the baseline of the table)
 *   DL_QLINEAR_ABSMAX      x and W each one absmax scale per tensor (quant.h DL_QUANT_ABSMAX)
 *   DL_QLINEAR_ZEROPOINT   x and W each asymmetric per tensor (DL_QUANT_ZEROPOINT); the
 *                          int8 GEMM plus row/column-sum corrections for the two offsets
 *   DL_QLINEAR_VECTORWISE  x one scale per row (token), W one scale per output channel (row
 *                          of W); the int8_gemm epilogue dequantizes with both (the paper's
 *                          "vector-wise quantization")
 *   DL_QLINEAR_LLM_INT8    vector-wise, plus the mixed-precision decomposition: the hidden
 *                          dimensions (columns of x) with any |x| >= threshold in this call
 *                          (dl_quant_outlier_columns) are taken out of the int8 product and
 *                          multiplied in fp32 (x's fp32 columns times W's matching columns,
 *                          dequantized from the int8 weight: the weight is stored once, as
 *                          int8), then added into the same output
 * The weight is quantized once, at dl_qlinear_init; activations at every forward.
 *
 * Memory: only the int8 weight, its scales and the fp32 bias are kept (weight_bytes ≈ OC·C,
 * a quarter of fp32), except in DL_QLINEAR_FP32, which keeps the fp32 weight.
 *
 * Defined bad input (quant.h has the scale rules):
 *   - threshold <= 0 or NaN for LLM_INT8: DL_ERR_ARG at init.
 *   - an all-zero x (or row, or W): scale 0, that part contributes 0 (+ bias).
 *   - ±inf in x: under LLM_INT8 its column is an outlier and goes through fp32, so the
 *     output is ±inf/NaN exactly as the fp32 linear's would be (with the dequantized weight:
 *     a weight that rounds to code 0 gives inf·0 = NaN where the fp32 weight would give
 *     ±inf); under the int8-only modes it saturates to ±127 (quant.h) — the output stays
 *     finite and wrong, which is the point the lesson makes.
 *   - NaN in x: DL_ERR_ARG (quant.h), out not written, in every int8 mode; DL_QLINEAR_FP32
 *     is the plain fp32 linear and propagates NaN (and inf) like it.
 *   - N = 0: nothing is done. C or OC <= 0: DL_ERR_ARG at init.
 * CPU only (host pointers); the int8 GEMM is dl_int8_gemm_best(DL_DEVICE_CPU) (VNNI where
 * the CPU has it) unless q->gemm is set to another CPU variant.
 */
#ifndef DLAB_QLINEAR_H
#define DLAB_QLINEAR_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dl_qlinear_mode {
    DL_QLINEAR_FP32 = 0,
    DL_QLINEAR_ABSMAX,
    DL_QLINEAR_ZEROPOINT,
    DL_QLINEAR_VECTORWISE,
    DL_QLINEAR_LLM_INT8,
    DL_QLINEAR_MODE_COUNT
} dl_qlinear_mode;

/* "fp32", "absmax", "zeropoint", "vectorwise", "llm_int8"; NULL for an unknown mode. */
const char *dl_qlinear_mode_name(dl_qlinear_mode mode);
/* The mode of that name, or -1. */
int dl_qlinear_mode_parse(const char *name);

/* What the last forward did (for the lesson's overhead and outlier counts). */
typedef struct dl_qlinear_stats {
    int outlier_cols; /* LLM_INT8: hidden dimensions that went through fp32 in the last call
                         (0 in the other modes) */
    long long calls;  /* successful forwards with N > 0 so far */
    long long outlier_cols_total;
} dl_qlinear_stats;

typedef struct dl_qlinear {
    dl_qlinear_mode mode;
    int C, OC;
    float threshold;        /* LLM_INT8's outlier threshold (the paper: 6.0) */
    int8_t *wq;             /* (OC,C) int8 weight; NULL in FP32 mode */
    float *wscale;          /* 1 (absmax, zeropoint) or OC (vectorwise, llm_int8) scales */
    float wmin;             /* zeropoint: the weight's finite minimum */
    int32_t *wrow_sum;      /* zeropoint: Σ_k of each weight row's codes (OC), for the
                               offset corrections; NULL in the other modes */
    float *w32;             /* FP32 mode only: the fp32 weight (OC,C) */
    float *bias;            /* (OC) or NULL */
    const dl_variant *gemm; /* int8_gemm variant (CPU) */
    void *scratch;          /* per-forward buffers, grown as N grows (private) */
    size_t scratch_bytes;
    dl_qlinear_stats stats;
} dl_qlinear;

/* Quantize weight (OC,C) (and copy bias (OC), may be NULL) for `mode`. threshold is used by
 * LLM_INT8 only (pass 6.0f for the paper's). A NaN in the weight is DL_ERR_ARG. On failure
 * q is left freed (dl_qlinear_free is safe on it). C above DL_INT8_GEMM_MAX_K is DL_ERR_ARG
 * in the int8 modes. */
dl_status dl_qlinear_init(dl_qlinear *q, dl_qlinear_mode mode, const float *weight,
                          const float *bias, int C, int OC, float threshold);
void dl_qlinear_free(dl_qlinear *q);

/* out (N,OC) = the mode's product of x (N,C) and the weight, + bias. Host pointers; x is not
 * modified. Thread-safe only per object (scratch is per object). */
dl_status dl_qlinear_forward(dl_qlinear *q, const float *x, int N, float *out);

/* Bytes of the stored weight, scales and bias (+ zeropoint's OC row sums): the lesson's
 * weight-memory column. Scratch is not counted (it scales with N, not with the model). */
size_t dl_qlinear_weight_bytes(const dl_qlinear *q);

#ifdef __cplusplus
}
#endif
#endif
