/* gpu_int8_gemm.c — the CUDA int8_gemm variants against the CPU `ref`, bit for bit.
 *
 * Integer sums are exact and the CUDA epilogue rounds like the CPU one (no FMA, IEEE 1/s), so
 * C and out must equal ref's exactly, for shapes across the 64×64 tiles and 32-byte K steps
 * (1, 3, 17, 63, 64, 65, 257; K up to 20000), with and without bias and accumulate, values
 * including −128 and 127. Outputs start as a known pattern on the device, so an element left
 * unwritten fails. Variants that refuse a shape with DL_ERR_UNSUPPORTED (a layout rule) are
 * skipped for that shape. Also: host pointers are refused; M = 0 writes nothing.
 *
 * Run by `make test-gpu`. Without a GPU it prints one line and exits 0 having run nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cuda_runtime_api.h>

#include "dlab/dlab.h"
#include "dlab/int8_gemm.h"
#include "gpu_check.h"

static void *device_copy(const void *host, size_t bytes) {
    void *d = NULL;
    CUDA_OK(cudaMalloc(&d, bytes ? bytes : 1));
    if (bytes) CUDA_OK(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice));
    return d;
}

static void check_shape(const dl_variant *v, int M, int N, int K, int mode, uint64_t seed) {
    const bool epilogue = mode > 0, bias = mode >= 2, accumulate = mode == 3;
    dl_rng r;
    dl_rng_seed(&r, seed);
    const size_t na = (size_t)M * K, nb = (size_t)N * K, nc = (size_t)M * N;
    int8_t *A = malloc(na + 1), *B = malloc(nb + 1);
    int32_t *C = malloc(4 * nc + 4), *C_ref = malloc(4 * nc + 4);
    float *out = malloc(4 * nc + 4), *out_ref = malloc(4 * nc + 4);
    float *rs = malloc(4 * (size_t)M + 4), *cs = malloc(4 * (size_t)N + 4);
    float *bv = malloc(4 * (size_t)N + 4);
    assert_true(A && B && C && C_ref && out && out_ref && rs && cs && bv);
    for (size_t i = 0; i < na; i++)
        A[i] = (int8_t)(dl_rng_below(&r, 256) - 128);
    for (size_t i = 0; i < nb; i++)
        B[i] = (int8_t)(dl_rng_below(&r, 256) - 128);
    if (na) A[0] = -128, A[na - 1] = 127;
    for (size_t i = 0; i < nc; i++) {
        C_ref[i] = 0x5a5a5a5a;
        out_ref[i] = dl_rng_uniform(&r) - 0.5f;
    }
    for (int i = 0; i < M; i++)
        rs[i] = 127.0f / (0.1f + 10 * dl_rng_uniform(&r));
    for (int i = 0; i < N; i++)
        cs[i] = 127.0f / (0.01f + dl_rng_uniform(&r));
    for (int i = 0; i < N; i++)
        bv[i] = dl_rng_uniform(&r) - 0.5f;
    if (M > 2) rs[1] = 0.0f;

    int8_t *dA = device_copy(A, na), *dB = device_copy(B, nb);
    int32_t *dC = device_copy(C_ref, 4 * nc);
    float *dout = device_copy(out_ref, 4 * nc), *drs = device_copy(rs, 4 * (size_t)M);
    float *dcs = device_copy(cs, 4 * (size_t)N), *dbv = device_copy(bv, 4 * (size_t)N);

    dl_int8_gemm_args host = {.M = M,
                              .N = N,
                              .K = K,
                              .A = A,
                              .lda = K,
                              .B = B,
                              .ldb = K,
                              .C = C_ref,
                              .ldc = N,
                              .out = epilogue ? out_ref : NULL,
                              .ldo = N,
                              .row_scale = rs,
                              .col_scale = cs,
                              .bias = bias ? bv : NULL,
                              .accumulate = accumulate};
    dl_int8_gemm_args dev = {.M = M,
                             .N = N,
                             .K = K,
                             .A = dA,
                             .lda = K,
                             .B = dB,
                             .ldb = K,
                             .C = dC,
                             .ldc = N,
                             .out = epilogue ? dout : NULL,
                             .ldo = N,
                             .row_scale = drs,
                             .col_scale = dcs,
                             .bias = bias ? dbv : NULL,
                             .accumulate = accumulate};
    DL_OK_OR_FAIL(dl_int8_gemm_run(dl_variant_find("int8_gemm", "ref"), &host));
    const dl_status st = dl_int8_gemm_run(v, &dev);
    if (st == DL_ERR_UNSUPPORTED) goto done; /* a layout rule of this variant, named in msg */
    DL_OK_OR_FAIL(st);
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaMemcpy(C, dC, 4 * nc, cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(out, dout, 4 * nc, cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < nc; i++) {
        if (C[i] != C_ref[i])
            fail_msg("%s %d×%d×%d mode %d: C[%zu] = %d, ref %d", v->name, M, N, K, mode, i, C[i],
                     C_ref[i]);
        if (memcmp(&out[i], &out_ref[i], 4) != 0)
            fail_msg("%s %d×%d×%d mode %d: out[%zu] = %.9g, ref %.9g", v->name, M, N, K, mode, i,
                     out[i], out_ref[i]);
    }
done:
    cudaFree(dA), cudaFree(dB), cudaFree(dC), cudaFree(dout), cudaFree(drs), cudaFree(dcs);
    cudaFree(dbv);
    free(A), free(B), free(C), free(C_ref), free(out), free(out_ref), free(rs), free(cs), free(bv);
}

static void test_cuda_variants_equal_ref_bit_for_bit(void **state) {
    (void)state;
    static const int dims[] = {1, 3, 17, 63, 64, 65, 257};
    int count = 0;
    const dl_variant *const *vs = dl_variants("int8_gemm", &count);
    for (int v = 0; v < count; v++) {
        if (vs[v]->device != DL_DEVICE_CUDA || !dl_variant_available(vs[v])) continue;
        for (int i = 0; i < 7; i++)
            for (int j = 0; j < 7; j++)
                check_shape(vs[v], dims[i], dims[j], dims[(i + 2 * j) % 7], (i + j) % 4,
                            (uint64_t)(100 + 7 * i + j));
        for (int mode = 0; mode < 4; mode++) {
            check_shape(vs[v], 130, 68, 20000, mode, 900 + mode); /* long K */
            check_shape(vs[v], 300, 1000, 64, mode, 950 + mode);  /* many tiles */
            check_shape(vs[v], 64, 64, 0, mode, 990 + mode);      /* K = 0 */
        }
    }
}

static void test_cuda_variants_refuse_host_pointers_and_skip_empty(void **state) {
    (void)state;
    int count = 0;
    const dl_variant *const *vs = dl_variants("int8_gemm", &count);
    int8_t A[16] = {0}, B[16] = {0};
    int32_t C[16];
    for (int v = 0; v < count; v++) {
        if (vs[v]->device != DL_DEVICE_CUDA || !dl_variant_available(vs[v])) continue;
        dl_int8_gemm_args a = {
            .M = 4, .N = 4, .K = 4, .A = A, .lda = 4, .B = B, .ldb = 4, .C = C, .ldc = 4};
        assert_int_equal(dl_int8_gemm_run(vs[v], &a), DL_ERR_ARG);
        a.M = 0;
        assert_int_equal(dl_int8_gemm_run(vs[v], &a), DL_OK);
    }
}

int main(void) {
    if (dl_cuda_device_count() <= 0) {
        printf("gpu_int8_gemm: no CUDA device, skipped\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cuda_variants_equal_ref_bit_for_bit),
        cmocka_unit_test(test_cuda_variants_refuse_host_pointers_and_skip_empty),
    };
    return cmocka_run_group_tests_name("gpu_int8_gemm", tests, NULL, NULL) == 0 ? 0 : 1;
}
