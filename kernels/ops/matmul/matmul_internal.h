/* matmul_internal.h — the matmul variants' entry points, shared by the variant table, the
 * backends and the tests. Users go through the registry (dlab/matmul.h) instead. */
#ifndef DLAB_MATMUL_INTERNAL_H
#define DLAB_MATMUL_INTERNAL_H

#include <stdbool.h>

#include "dlab/matmul.h"

#ifdef __cplusplus
extern "C" {
#endif

dl_status dl_matmul_ref(const dl_matmul_args *a);        /* matmul_ref.c */
dl_status dl_matmul_blocked(const dl_matmul_args *a);    /* matmul_blocked.c */
dl_status dl_matmul_omp_avx512(const dl_matmul_args *a); /* matmul_packed.c */
dl_status dl_matmul_omp_avx2(const dl_matmul_args *a);   /* matmul_packed.c */
#ifdef DL_HAVE_OPENBLAS
dl_status dl_matmul_openblas(const dl_matmul_args *a);   /* matmul_openblas.c */
#endif
#ifdef DL_HAVE_CUDA
bool dl_cuda_available(void);                             /* matmul_cuda.cu */
dl_status dl_matmul_cuda_naive(const dl_matmul_args *a);
dl_status dl_matmul_cuda_tiled(const dl_matmul_args *a);
dl_status dl_matmul_cublas(const dl_matmul_args *a);
#endif

/* Element (i, k) of op(A) and (k, j) of op(B), for the simple loops. */
static inline float dl_matmul_a_at(const dl_matmul_args *a, int i, int k) {
    return a->trans_a ? a->A[(long)k * a->lda + i] : a->A[(long)i * a->lda + k];
}
static inline float dl_matmul_b_at(const dl_matmul_args *a, int k, int j) {
    return a->trans_b ? a->B[(long)j * a->ldb + k] : a->B[(long)k * a->ldb + j];
}

#ifdef __cplusplus
}
#endif
#endif
