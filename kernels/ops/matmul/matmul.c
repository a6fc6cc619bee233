/* matmul.c — what every matmul variant shares: argument checks, the cost model, dispatch. */
#include <stddef.h>
#include <string.h>

#include "matmul_internal.h"

dl_matmul_args dl_matmul_dense(int M, int N, int K, const float *A, bool trans_a, const float *B,
                               bool trans_b, float *C, bool accumulate) {
    dl_matmul_args a = {
        .M = M, .N = N, .K = K,
        .A = A, .lda = trans_a ? M : K, .trans_a = trans_a,
        .B = B, .ldb = trans_b ? K : N, .trans_b = trans_b,
        .C = C, .ldc = N, .accumulate = accumulate,
    };
    return a;
}

dl_status dl_matmul_check(const dl_matmul_args *a) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->M < 0 || a->N < 0 || a->K < 0)
        return DL_FAIL(DL_ERR_ARG, "negative size M=%d N=%d K=%d", a->M, a->N, a->K);
    /* Stored shapes: A is M×K (or K×M), B is K×N (or N×K). */
    int a_cols = a->trans_a ? a->M : a->K, b_cols = a->trans_b ? a->K : a->N;
    if (a->lda < a_cols)
        return DL_FAIL(DL_ERR_ARG, "lda=%d < %d, the row length of %sA", a->lda, a_cols,
                       a->trans_a ? "stored " : "");
    if (a->ldb < b_cols)
        return DL_FAIL(DL_ERR_ARG, "ldb=%d < %d, the row length of %sB", a->ldb, b_cols,
                       a->trans_b ? "stored " : "");
    if (a->ldc < a->N) return DL_FAIL(DL_ERR_ARG, "ldc=%d < N=%d", a->ldc, a->N);
    if ((long)a->M * a->N > 0 && !a->C) return DL_FAIL(DL_ERR_ARG, "C is NULL");
    if ((long)a->M * a->N * a->K > 0 && (!a->A || !a->B))
        return DL_FAIL(DL_ERR_ARG, "%s is NULL", a->A ? "B" : "A");
    return DL_OK;
}

dl_cost dl_matmul_cost(const void *args) {
    const dl_matmul_args *a = args;
    double M = a->M, N = a->N, K = a->K;
    dl_cost c = {2.0 * M * N * K, 4.0 * (M * K + K * N + M * N * (a->accumulate ? 2 : 1))};
    return c;
}

dl_status dl_matmul_run(const dl_variant *v, const dl_matmul_args *args) {
    if (!v) return DL_FAIL(DL_ERR_ARG, "variant is NULL");
    if (!v->family || strcmp(v->family, "matmul") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "variant '%s' is not a matmul", v->name ? v->name : "?");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "matmul variant '%s' cannot run here", v->name);
    DL_TRY(dl_matmul_check(args));
    return ((dl_matmul_fn)v->impl)(args);
}

const dl_variant *dl_matmul_best(dl_device device) {
    /* Fastest first: the order measured by `make bench` on the machines we know. */
    static const char *const cpu_order[] = {"omp_avx512", "omp_avx2", "blocked", "ref"};
    static const char *const cuda_order[] = {"cublas", "cuda_tiled", "cuda_naive"};
    const char *const *order = device == DL_DEVICE_CUDA ? cuda_order : cpu_order;
    int n = device == DL_DEVICE_CUDA ? 3 : 4;
    for (int i = 0; i < n; i++) {
        const dl_variant *v = dl_variant_find("matmul", order[i]);
        if (dl_variant_available(v)) return v;
    }
    return NULL;
}
