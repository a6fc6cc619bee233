/* matmul.h — the matmul op family: C = op(A)·op(B), or C += op(A)·op(B).
 *
 * Row-major throughout. op(X) is X or its transpose, so one signature covers the layouts the
 * model stack needs: forward y = x·Wᵀ (A·Bᵀ), input gradient dx = dy·W (A·B), weight
 * gradient dW += dyᵀ·x (Aᵀ·B, accumulated).
 *
 *   op(A) is M×K: A is M×K with row stride lda >= K, or (trans_a) K×M with lda >= M
 *   op(B) is K×N: B is K×N with row stride ldb >= N, or (trans_b) N×K with ldb >= K
 *   C     is M×N with row stride ldc >= N
 *
 * M, N or K may be 0. K == 0 makes C zero (or leaves it as it is when accumulating).
 * For CUDA variants A, B and C are device pointers.
 */
#ifndef DLAB_MATMUL_H
#define DLAB_MATMUL_H

#include <stdbool.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dl_matmul_args {
    int M, N, K;
    const float *A;
    int lda;
    bool trans_a;
    const float *B;
    int ldb;
    bool trans_b;
    float *C;
    int ldc;
    bool accumulate; /* C += op(A)·op(B) instead of C = op(A)·op(B) */
} dl_matmul_args;

typedef dl_status (*dl_matmul_fn)(const dl_matmul_args *args);

/* Arguments for a dense, tightly packed problem (ld = row length of each stored matrix). */
dl_matmul_args dl_matmul_dense(int M, int N, int K, const float *A, bool trans_a, const float *B,
                               bool trans_b, float *C, bool accumulate);

/* DL_OK, or DL_ERR_ARG naming the first bad field (negative size, ld too small, NULL). */
dl_status dl_matmul_check(const dl_matmul_args *a);

/* 2·M·N·K flops; bytes for reading A and B once and writing C (reading it too if accumulating). */
dl_cost dl_matmul_cost(const void *args);

/* Check the arguments, then run the variant (which must be of family "matmul"). */
dl_status dl_matmul_run(const dl_variant *v, const dl_matmul_args *args);

/* The fastest matmul variant available on `device` here (what the backends bind). */
const dl_variant *dl_matmul_best(dl_device device);

/* Which kernel the "openblas" variant runs, from openblas_get_corename() — OPENBLAS_CORETYPE
 * can force an older one — or "" when built without OpenBLAS. */
const char *dl_openblas_corename(void);

#ifdef __cplusplus
}
#endif
#endif
