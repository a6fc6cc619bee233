/* test_matmul.c — every CPU matmul variant against ref.
 *
 * The tolerance is the rigorous forward-error bound of an fp32 dot product (Higham, Accuracy
 * and Stability of Numerical Algorithms, §3.1): |ĉ − c| ≤ γ_K · Σ_k |a_ik||b_kj| with
 * γ_K = K·u/(1 − K·u), u = 2^-24; we allow K + 2 roundings for the final add and store. It holds
 * for any summation order, so it is never flaky and never loose enough to hide a real bug
 * (a wrong element is off by about |a||b|, far above γ_K·Σ|a||b| for these K). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../kernels/ops/matmul/matmul_internal.h"
#include "dlab/dlab.h"

typedef struct shape {
    int M, N, K, pad; /* pad: extra columns in every stored row (ld = row length + pad) */
} shape;

typedef struct problem {
    int M, N, K, pad;
    bool ta, tb, acc;
} problem;

/* Run `v` and ref on the same random problem; return the worst |diff| / bound (≤ 1 passes). */
static double worst_error_ratio(const dl_variant *v, problem p, uint64_t seed) {
    int a_rows = p.ta ? p.K : p.M, a_cols = p.ta ? p.M : p.K;
    int b_rows = p.tb ? p.N : p.K, b_cols = p.tb ? p.K : p.N;
    int lda = a_cols + p.pad, ldb = b_cols + p.pad, ldc = p.N + p.pad;
    size_t na = (size_t)a_rows * lda + 1, nb = (size_t)b_rows * ldb + 1, nc = (size_t)p.M * ldc + 1;
    float *A, *B, *C, *R, *absA, *absB, *bound;
    assert_int_equal(dl_alloc((void **)&A, na * 4), DL_OK);
    assert_int_equal(dl_alloc((void **)&B, nb * 4), DL_OK);
    assert_int_equal(dl_alloc((void **)&C, nc * 4), DL_OK);
    assert_int_equal(dl_alloc((void **)&R, nc * 4), DL_OK);
    assert_int_equal(dl_alloc((void **)&absA, na * 4), DL_OK);
    assert_int_equal(dl_alloc((void **)&absB, nb * 4), DL_OK);
    assert_int_equal(dl_alloc((void **)&bound, nc * 4), DL_OK);
    dl_rng r;
    dl_rng_seed(&r, seed);
    dl_rng_fill_uniform(&r, A, na, -1, 1);
    dl_rng_fill_uniform(&r, B, nb, -1, 1);
    dl_rng_fill_uniform(&r, C, nc, -1, 1);
    memcpy(R, C, nc * 4);
    for (size_t i = 0; i < na; i++) absA[i] = fabsf(A[i]);
    for (size_t i = 0; i < nb; i++) absB[i] = fabsf(B[i]);

    dl_matmul_args args = {.M = p.M, .N = p.N, .K = p.K, .A = A, .lda = lda, .trans_a = p.ta,
                           .B = B, .ldb = ldb, .trans_b = p.tb, .C = C, .ldc = ldc,
                           .accumulate = p.acc};
    assert_int_equal(dl_matmul_run(v, &args), DL_OK);
    dl_matmul_args ref = args;
    ref.C = R;
    assert_int_equal(dl_matmul_ref(&ref), DL_OK);
    dl_matmul_args mag = args; /* Σ|a||b|, same layout */
    mag.A = absA, mag.B = absB, mag.C = bound, mag.accumulate = false;
    assert_int_equal(dl_matmul_ref(&mag), DL_OK);

    double u = 0x1p-24, gamma = (p.K + 2) * u / (1 - (p.K + 2) * u), worst = 0;
    for (int i = 0; i < p.M; i++) {
        for (int j = 0; j < p.N; j++) {
            size_t at = (size_t)i * ldc + j;
            double b = gamma * (bound[at] + (p.acc ? 2.0 : 0.0)) + 1e-30;
            double e = fabs((double)C[at] - R[at]) / b;
            if (!(e <= worst)) worst = e; /* NaN propagates as a failure */
        }
        for (int j = p.N; j < ldc; j++) /* the padding of C must be left alone */
            assert_true(C[(size_t)i * ldc + j] == R[(size_t)i * ldc + j]);
    }
    dl_free(A), dl_free(B), dl_free(C), dl_free(R), dl_free(absA), dl_free(absB), dl_free(bound);
    return worst;
}

static void check_all_cpu_variants(const shape *ps, int n, const char *what) {
    int count;
    const dl_variant *const *vs = dl_variants("matmul", &count);
    int checked = 0;
    for (int vi = 0; vi < count; vi++) {
        const dl_variant *v = vs[vi];
        if (v->device != DL_DEVICE_CPU || !dl_variant_available(v)) continue;
        for (int i = 0; i < n; i++) {
            for (int t = 0; t < 8; t++) {
                problem p = {ps[i].M, ps[i].N, ps[i].K, ps[i].pad, t & 1, (t >> 1) & 1, (t >> 2) & 1};
                double w = worst_error_ratio(v, p, 1000 + (uint64_t)i * 8 + t);
                if (!(w <= 1.0))
                    fail_msg("%s: variant %s, %s M=%d N=%d K=%d pad=%d ta=%d tb=%d acc=%d: error "
                             "%.3g × the fp32 bound",
                             what, v->name, what, p.M, p.N, p.K, p.pad, p.ta, p.tb, p.acc, w);
                checked++;
            }
        }
    }
    assert_true(checked > 0);
}

static void test_every_cpu_variant_matches_ref_on_tiny_and_prime_shapes(void **state) {
    (void)state;
    shape ps[] = {{1, 1, 1, 0}, {1, 7, 3, 0}, {5, 1, 2, 0}, {2, 3, 1, 0}, {7, 11, 13, 0},
                    {37, 53, 61, 0}, {31, 17, 97, 3}, {3, 101, 5, 1}};
    check_all_cpu_variants(ps, (int)(sizeof ps / sizeof ps[0]), "small");
}

static void test_every_cpu_variant_matches_ref_across_tile_boundaries(void **state) {
    (void)state;
    /* Sizes around the usual register tiles (6, 8, 12, 14, 16, 32, 64) and cache blocks. */
    shape ps[] = {{13, 33, 65, 0}, {15, 65, 33, 0}, {64, 64, 64, 0}, {97, 129, 257, 5},
                    {127, 31, 300, 0}, {65, 100, 784, 0}, {200, 70, 513, 2}};
    check_all_cpu_variants(ps, (int)(sizeof ps / sizeof ps[0]), "tiles");
}

static void test_every_cpu_variant_matches_ref_on_model_shapes(void **state) {
    (void)state;
    /* MLP layer 784→300 at batch 64 and a GPT projection 128→512 at 64 tokens. */
    shape ps[] = {{64, 300, 784, 0}, {64, 512, 128, 0}, {300, 784, 64, 0}};
    check_all_cpu_variants(ps, (int)(sizeof ps / sizeof ps[0]), "model");
}

static void test_empty_dimensions_write_nothing_or_zero(void **state) {
    (void)state;
    int count;
    const dl_variant *const *vs = dl_variants("matmul", &count);
    for (int vi = 0; vi < count; vi++) {
        const dl_variant *v = vs[vi];
        if (v->device != DL_DEVICE_CPU || !dl_variant_available(v)) continue;
        float C[6] = {9, 9, 9, 9, 9, 9};
        /* K = 0: C = 0 when overwriting ... */
        dl_matmul_args a = dl_matmul_dense(2, 3, 0, NULL, false, NULL, false, C, false);
        assert_int_equal(dl_matmul_run(v, &a), DL_OK);
        for (int i = 0; i < 6; i++) assert_true(C[i] == 0.0f);
        /* ... and unchanged when accumulating. */
        for (int i = 0; i < 6; i++) C[i] = 9;
        a.accumulate = true;
        assert_int_equal(dl_matmul_run(v, &a), DL_OK);
        for (int i = 0; i < 6; i++) assert_true(C[i] == 9.0f);
        /* M = 0 or N = 0: nothing to do, nothing touched. */
        float A[4] = {1, 2, 3, 4};
        a = dl_matmul_dense(0, 3, 2, A, false, A, false, C, false);
        assert_int_equal(dl_matmul_run(v, &a), DL_OK);
        a = dl_matmul_dense(2, 0, 2, A, false, A, false, C, false);
        assert_int_equal(dl_matmul_run(v, &a), DL_OK);
        for (int i = 0; i < 6; i++) assert_true(C[i] == 9.0f);
    }
}

static void test_nan_and_inf_propagate_to_their_row(void **state) {
    (void)state;
    enum { M = 19, N = 37, K = 23 };
    static float A[M * K], B[K * N], C[M * N];
    int count;
    const dl_variant *const *vs = dl_variants("matmul", &count);
    for (int vi = 0; vi < count; vi++) {
        const dl_variant *v = vs[vi];
        if (v->device != DL_DEVICE_CPU || !dl_variant_available(v)) continue;
        dl_rng r;
        dl_rng_seed(&r, 5);
        dl_rng_fill_uniform(&r, A, M * K, 0.5f, 1.0f);
        dl_rng_fill_uniform(&r, B, K * N, 0.5f, 1.0f); /* positive: no inf − inf */
        A[3 * K + 7] = NAN;
        A[11 * K + 2] = INFINITY;
        dl_matmul_args a = dl_matmul_dense(M, N, K, A, false, B, false, C, false);
        assert_int_equal(dl_matmul_run(v, &a), DL_OK);
        for (int j = 0; j < N; j++) {
            if (!isnan(C[3 * N + j])) fail_msg("%s: NaN lost at (3,%d)", v->name, j);
            if (!(isinf(C[11 * N + j]) && C[11 * N + j] > 0)) fail_msg("%s: inf lost at (11,%d)", v->name, j);
            if (!isfinite(C[0 * N + j])) fail_msg("%s: row 0 polluted at %d", v->name, j);
        }
    }
}

static void test_bad_arguments_are_refused_with_a_message(void **state) {
    (void)state;
    const dl_variant *v = dl_variant_find("matmul", "ref");
    float A[4], B[4], C[4];
    dl_matmul_args a = dl_matmul_dense(2, 2, 2, A, false, B, false, C, false);
    a.M = -1;
    assert_int_equal(dl_matmul_run(v, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "negative"));
    a = dl_matmul_dense(2, 2, 2, A, false, B, false, C, false);
    a.lda = 1;
    assert_int_equal(dl_matmul_run(v, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "lda"));
    a = dl_matmul_dense(2, 2, 2, A, false, B, true, C, false);
    a.ldb = 1;
    assert_int_equal(dl_matmul_run(v, &a), DL_ERR_ARG);
    a = dl_matmul_dense(2, 2, 2, A, false, B, false, NULL, false);
    assert_int_equal(dl_matmul_run(v, &a), DL_ERR_ARG);
    a = dl_matmul_dense(2, 2, 2, NULL, false, B, false, C, false);
    assert_int_equal(dl_matmul_run(v, &a), DL_ERR_ARG);
    assert_int_equal(dl_matmul_run(NULL, &a), DL_ERR_ARG);
}

static void test_best_cpu_variant_is_available(void **state) {
    (void)state;
    const dl_variant *v = dl_matmul_best(DL_DEVICE_CPU);
    assert_non_null(v);
    assert_true(dl_variant_available(v));
    if (dl_cpu()->avx512f) assert_string_equal(v->name, "omp_avx512");
}

/* Regression: with N much larger than one NC block, the last block's panel split handed a
 * thread slab slots that another thread, still in the previous block, was reading: about 1
 * product in 70 came out wrong (the CNN's first convolution, 16 × 41552 × 25, caught it as
 * a run-to-run difference). Every multi-threaded product must equal the one-thread product
 * bit for bit, every time. Skipped where the machine has one CPU. */
static void test_threaded_products_equal_the_one_thread_product_every_time(void **state) {
    (void)state;
    const int before = dl_threads_get();
    if (dl_threads_set(2) != DL_OK) skip();
    const int shapes[][3] = {{16, 41552, 25}, {12, 12544, 25}, {33, 9000, 7}};
    dl_rng r;
    dl_rng_seed(&r, 11);
    int count = 0;
    const dl_variant *const *vs = dl_variants("matmul", &count);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = NULL, *B = NULL, *C = NULL, *C1 = NULL;
        assert_int_equal(dl_alloc((void **)&A, sizeof(float) * M * K), DL_OK);
        assert_int_equal(dl_alloc((void **)&B, sizeof(float) * K * N), DL_OK);
        assert_int_equal(dl_alloc((void **)&C, sizeof(float) * M * N), DL_OK);
        assert_int_equal(dl_alloc((void **)&C1, sizeof(float) * M * N), DL_OK);
        for (int i = 0; i < M * K; i++) A[i] = dl_rng_uniform(&r) - 0.5f;
        for (int i = 0; i < K * N; i++) B[i] = dl_rng_uniform(&r) - 0.5f;
        for (int v = 0; v < count; v++) {
            if (vs[v]->device != DL_DEVICE_CPU || !dl_variant_available(vs[v])) continue;
            if (strncmp(vs[v]->name, "omp", 3) != 0) continue; /* ours, multi-threaded */
            dl_matmul_args a = dl_matmul_dense(M, N, K, A, false, B, false, C1, false);
            assert_int_equal(dl_threads_set(1), DL_OK);
            assert_int_equal(dl_matmul_run(vs[v], &a), DL_OK);
            assert_int_equal(dl_threads_set(2), DL_OK);
            a.C = C;
            for (int rep = 0; rep < 100; rep++) {
                assert_int_equal(dl_matmul_run(vs[v], &a), DL_OK);
                if (memcmp(C, C1, sizeof(float) * M * N) != 0)
                    fail_msg("%s %d×%d×%d: run %d differs from the one-thread product",
                             vs[v]->name, M, N, K, rep);
            }
        }
        dl_free(A), dl_free(B), dl_free(C), dl_free(C1);
    }
    assert_int_equal(dl_threads_set(before), DL_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_cpu_variant_matches_ref_on_tiny_and_prime_shapes),
        cmocka_unit_test(test_every_cpu_variant_matches_ref_across_tile_boundaries),
        cmocka_unit_test(test_every_cpu_variant_matches_ref_on_model_shapes),
        cmocka_unit_test(test_empty_dimensions_write_nothing_or_zero),
        cmocka_unit_test(test_nan_and_inf_propagate_to_their_row),
        cmocka_unit_test(test_bad_arguments_are_refused_with_a_message),
        cmocka_unit_test(test_best_cpu_variant_is_available),
        cmocka_unit_test(test_threaded_products_equal_the_one_thread_product_every_time),
    };
    return cmocka_run_group_tests_name("matmul", tests, NULL, NULL);
}
