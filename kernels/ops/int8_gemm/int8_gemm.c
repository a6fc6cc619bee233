/* int8_gemm.c — what every int8_gemm variant shares: argument checks, the cost model,
 * dispatch. */
#include <stddef.h>
#include <string.h>

#include "int8_gemm_internal.h"

dl_status dl_int8_gemm_check(const dl_int8_gemm_args *a) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->M < 0 || a->N < 0 || a->K < 0)
        return DL_FAIL(DL_ERR_ARG, "negative size M=%d N=%d K=%d", a->M, a->N, a->K);
    if (a->K > DL_INT8_GEMM_MAX_K)
        return DL_FAIL(DL_ERR_ARG, "K=%d > %d: 128·128·K would overflow int32", a->K,
                       DL_INT8_GEMM_MAX_K);
    if (a->lda < a->K) return DL_FAIL(DL_ERR_ARG, "lda=%d < K=%d", a->lda, a->K);
    if (a->ldb < a->K) return DL_FAIL(DL_ERR_ARG, "ldb=%d < K=%d (B is stored N×K)", a->ldb, a->K);
    if (!a->C && !a->out) return DL_FAIL(DL_ERR_ARG, "both C and out are NULL");
    if (a->C && a->ldc < a->N) return DL_FAIL(DL_ERR_ARG, "ldc=%d < N=%d", a->ldc, a->N);
    if (a->out && a->ldo < a->N) return DL_FAIL(DL_ERR_ARG, "ldo=%d < N=%d", a->ldo, a->N);
    const bool any_output = (long)a->M * a->N > 0;
    if (any_output && a->out && (!a->row_scale || !a->col_scale))
        return DL_FAIL(DL_ERR_ARG, "%s is NULL (out needs both scales)",
                       a->row_scale ? "col_scale" : "row_scale");
    if (any_output && a->K > 0 && (!a->A || !a->B))
        return DL_FAIL(DL_ERR_ARG, "%s is NULL", a->A ? "B" : "A");
    return DL_OK;
}

dl_cost dl_int8_gemm_cost(const void *args) {
    const dl_int8_gemm_args *a = args;
    double M = a->M, N = a->N, K = a->K;
    double out_bytes = (a->C ? 4.0 : 0.0) + (a->out ? (a->accumulate ? 8.0 : 4.0) : 0.0);
    dl_cost c = {2.0 * M * N * K, M * K + N * K + M * N * out_bytes};
    return c;
}

dl_status dl_int8_gemm_run(const dl_variant *v, const dl_int8_gemm_args *args) {
    if (!v) return DL_FAIL(DL_ERR_ARG, "variant is NULL");
    if (!v->family || strcmp(v->family, "int8_gemm") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "variant '%s' is not an int8_gemm", v->name ? v->name : "?");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "int8_gemm variant '%s' cannot run here", v->name);
    DL_TRY(dl_int8_gemm_check(args));
    return ((dl_int8_gemm_fn)v->impl)(args);
}

const dl_variant *dl_int8_gemm_best(dl_device device) {
    static const char *const cpu_order[] = {"vnni", "avx512", "ref"};
    static const char *const cuda_order[] = {"cublaslt", "cuda_dp4a"};
    const char *const *order = device == DL_DEVICE_CUDA ? cuda_order : cpu_order;
    const int n = device == DL_DEVICE_CUDA ? 2 : 3;
    for (int i = 0; i < n; i++) {
        const dl_variant *v = dl_variant_find("int8_gemm", order[i]);
        if (v && dl_variant_available(v)) return v;
    }
    return NULL;
}
