/* int8_gemm.h — the int8_gemm op family: C (M,N) int32 = A (M,K) int8 · Bᵀ, with an optional
 * dequantizing epilogue that writes fp32 directly (vector-wise quantization, LLM.int8()).
 *
 * Layouts, row-major:
 *   A    is M×K, row stride lda >= K            (activations, one row per token)
 *   B    is N×K, row stride ldb >= K            (Bᵀ: the (OC, C) layout of a linear weight,
 *                                                 so both operands run along K in memory)
 *   C    is M×N int32, row stride ldc >= N      C[m][n] = Σ_k A[m][k]·B[n][k], exact
 *   out  is M×N fp32, row stride ldo >= N       the epilogue (optional)
 *
 * The epilogue, with r = row_scale[m], c = col_scale[n] (quantization scales: q = x·scale, so
 * dequantizing divides by both), is, in this exact order of fp32 operations:
 *   inv(s) = s == 0 ? 0 : 1/s          (a scale of 0 belongs to an all-zero vector: out 0)
 *   y      = (float)C[m][n] · (inv(r) · inv(c))
 *   y      = y + bias[n]               (when bias is not NULL)
 *   out    = accumulate ? out + y : y  (accumulate lets LLM.int8() add its fp32 outlier part)
 * Every CPU variant follows that order without fused multiply-adds, so their outputs are equal
 * bit for bit; against exact arithmetic the error is a few ulps.
 *
 * C or out may be NULL (not both). K is at most DL_INT8_GEMM_MAX_K so that every exact result
 * fits in int32: |C| <= 128·128·K < 2^31. M, N or K may be 0 (K == 0 gives C = 0).
 * For CUDA variants every pointer is a device pointer.
 */
#ifndef DLAB_INT8_GEMM_H
#define DLAB_INT8_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* floor((2^31 − 1) / (128·128)): the largest K for which (−128)·(−128)·K fits in int32. */
#define DL_INT8_GEMM_MAX_K 131071

typedef struct dl_int8_gemm_args {
    int M, N, K;
    const int8_t *A;
    int lda;
    const int8_t *B; /* Bᵀ, N×K */
    int ldb;
    int32_t *C; /* may be NULL when out is set */
    int ldc;
    float *out; /* may be NULL: no epilogue */
    int ldo;
    const float *row_scale; /* M scales, required with out */
    const float *col_scale; /* N scales, required with out */
    const float *bias;      /* N values or NULL */
    bool accumulate;        /* out += dequantized product instead of out = */
} dl_int8_gemm_args;

typedef dl_status (*dl_int8_gemm_fn)(const dl_int8_gemm_args *args);

/* DL_OK, or DL_ERR_ARG naming the first bad field (negative size, small ld, missing pointer,
 * K above DL_INT8_GEMM_MAX_K). */
dl_status dl_int8_gemm_check(const dl_int8_gemm_args *a);

/* 2·M·N·K operations; bytes for reading A and B once and writing C and/or out. */
dl_cost dl_int8_gemm_cost(const void *args);

/* Check the arguments, then run the variant (which must be of family "int8_gemm"). */
dl_status dl_int8_gemm_run(const dl_variant *v, const dl_int8_gemm_args *args);

/* The fastest int8_gemm variant available on `device` here. */
const dl_variant *dl_int8_gemm_best(dl_device device);

#ifdef __cplusplus
}
#endif
#endif
