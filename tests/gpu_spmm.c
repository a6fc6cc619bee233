/* gpu_spmm.c — the CUDA spmm variant against the CPU `ref`: forward, dinp, dvals, dbias on
 * random CSR weights (odd sizes, an empty row, density 0, 5 % and 1, N = 1 and N above one
 * block of 256), gradients accumulated into random starting values. fp32 sums in another
 * order than ref's double ones (and atomics for dinp): within 1e-5·(K+1) absolute. Also: a
 * host pointer is refused.
 *
 * Run by `make test-gpu`. Without a GPU it prints one line and exits 0 having run nothing.
 */
#include <math.h>
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
#include "dlab/spmm.h"
#include "gpu_check.h"

static void *device_copy(const void *host, size_t bytes) {
    void *d = NULL;
    CUDA_OK(cudaMalloc(&d, bytes ? bytes : 1));
    if (bytes) CUDA_OK(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice));
    return d;
}

static float *random_floats(dl_rng *r, size_t n) {
    float *x = malloc(n * sizeof(float) + 4);
    assert_non_null(x);
    dl_rng_fill_uniform(r, x, n, -1, 1);
    return x;
}

static void assert_close(const float *got_dev, const float *want, size_t n, double atol, const char *what) {
    float *got = malloc(n * sizeof(float) + 4);
    assert_non_null(got);
    if (n) CUDA_OK(cudaMemcpy(got, got_dev, n * sizeof(float), cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= atol))
            fail_msg("%s[%zu]: cuda %g, ref %g", what, i, got[i], want[i]);
    free(got);
}

static void check(int N, int C, int OC, double density, uint64_t seed) {
    const dl_variant *cuda = dl_variant_find("spmm", "cuda"), *ref = dl_variant_find("spmm", "ref");
    assert_non_null(cuda);
    dl_rng r;
    dl_rng_seed(&r, seed);
    const size_t nw = (size_t)OC * C, nin = (size_t)N * C, nout = (size_t)N * OC;
    float *dense = random_floats(&r, nw);
    unsigned char *keep = malloc(nw + 1);
    for (size_t i = 0; i < nw; i++) keep[i] = dl_rng_uniform(&r) < density && (int)(i / (size_t)C) != OC / 2;
    dl_csr w;
    DL_OK_OR_FAIL(dl_csr_from_dense(&w, dense, keep, OC, C));
    float *inp = random_floats(&r, nin), *bias = random_floats(&r, OC), *dout = random_floats(&r, nout);
    float *out = random_floats(&r, nout), *dinp = random_floats(&r, nin);
    float *dvals = random_floats(&r, (size_t)w.nnz), *dbias = random_floats(&r, OC);
    /* device copies, gradients starting from the same values */
    int *d_row = device_copy(w.row_ptr, 4 * ((size_t)OC + 1)), *d_col = device_copy(w.col_idx, 4 * (size_t)w.nnz);
    float *d_vals = device_copy(w.vals, 4 * (size_t)w.nnz), *d_inp = device_copy(inp, 4 * nin);
    float *d_bias = device_copy(bias, 4 * (size_t)OC), *d_dout = device_copy(dout, 4 * nout);
    float *d_out = device_copy(out, 4 * nout), *d_dinp = device_copy(dinp, 4 * nin);
    float *d_dvals = device_copy(dvals, 4 * (size_t)w.nnz), *d_dbias = device_copy(dbias, 4 * (size_t)OC);
    dl_spmm_args h = dl_spmm_args_for(&w, N);
    h.inp = inp, h.bias = bias, h.out = out, h.dout = dout, h.dinp = dinp, h.dvals = dvals, h.dbias = dbias;
    dl_spmm_args d = {.N = N, .C = C, .OC = OC, .row_ptr = d_row, .col_idx = d_col, .vals = d_vals,
                      .inp = d_inp, .bias = d_bias, .out = d_out, .dout = d_dout, .dinp = d_dinp,
                      .dvals = d_dvals, .dbias = d_dbias};
    DL_OK_OR_FAIL(dl_spmm_forward(ref, &h));
    DL_OK_OR_FAIL(dl_spmm_backward(ref, &h));
    DL_OK_OR_FAIL(dl_spmm_forward(cuda, &d));
    DL_OK_OR_FAIL(dl_spmm_backward(cuda, &d));
    CUDA_OK(cudaDeviceSynchronize());
    assert_close(d_out, out, nout, 1e-5 * (C + 1), "out");
    assert_close(d_dinp, dinp, nin, 1e-5 * (OC + 1), "dinp");
    assert_close(d_dvals, dvals, (size_t)w.nnz, 1e-5 * (N + 1), "dvals");
    assert_close(d_dbias, dbias, OC, 1e-5 * (N + 1), "dbias");
    cudaFree(d_row), cudaFree(d_col), cudaFree(d_vals), cudaFree(d_inp), cudaFree(d_bias);
    cudaFree(d_dout), cudaFree(d_out), cudaFree(d_dinp), cudaFree(d_dvals), cudaFree(d_dbias);
    free(dense), free(keep), free(inp), free(bias), free(dout), free(out), free(dinp), free(dvals), free(dbias);
    dl_csr_free(&w);
}

static void test_cuda_spmm_matches_ref(void **state) {
    (void)state;
    const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {37, 97, 33}, {300, 130, 61}, {128, 784, 300}};
    const double dens[] = {0.0, 0.05, 1.0};
    uint64_t seed = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t i = 0; i < 3; i++) check(shapes[s][0], shapes[s][1], shapes[s][2], dens[i], seed++);
}

static void test_cuda_spmm_refuses_host_pointers(void **state) {
    (void)state;
    const dl_variant *cuda = dl_variant_find("spmm", "cuda");
    int row_ptr[2] = {0, 1}, col_idx[1] = {0};
    float vals[1] = {1}, x[1] = {1}, y[1];
    dl_spmm_args a = {.N = 1, .C = 1, .OC = 1, .row_ptr = row_ptr, .col_idx = col_idx, .vals = vals,
                      .inp = x, .out = y};
    assert_int_not_equal(dl_spmm_forward(cuda, &a), DL_OK);
}

int main(void) {
    if (dl_cuda_device_count() <= 0) {
        printf("gpu_spmm: no CUDA device, skipped\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cuda_spmm_matches_ref),
        cmocka_unit_test(test_cuda_spmm_refuses_host_pointers),
    };
    return cmocka_run_group_tests_name("gpu_spmm", tests, NULL, NULL) == 0 ? 0 : 1;
}
