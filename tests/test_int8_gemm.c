/* test_int8_gemm.c — every CPU int8_gemm variant against ref, bit for bit.
 *
 * Integer sums are exact, and every variant applies the header's epilogue in the same order of
 * fp32 operations, so C and out must equal ref's exactly: no tolerance. Separately, ref's
 * epilogue is checked against a double-precision reference (a few ulps), and ref's C against
 * an int64 sum computed here. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../kernels/ops/int8_gemm/int8_gemm_internal.h"
#include "dlab/core.h"
#include "dlab/int8_gemm.h"

/* One problem with all its buffers; pad adds columns to every stored row. */
typedef struct problem {
    int M, N, K, pad;
    bool epilogue, bias, accumulate;
    int8_t *A, *B;
    int32_t *C, *C_ref;
    float *out, *out_ref, *row_scale, *col_scale, *bias_v;
} problem;

static int8_t random_int8(dl_rng *r) {
    /* a quarter of the values at the extremes −128 and 127, the rest uniform */
    uint64_t x = dl_rng_below(r, 8);
    if (x == 0) return -128;
    if (x == 1) return 127;
    return (int8_t)((int)dl_rng_below(r, 256) - 128);
}

static void problem_make(problem *p, uint64_t seed) {
    dl_rng r;
    dl_rng_seed(&r, seed);
    const int ld_k = p->K + p->pad, ld_n = p->N + p->pad;
    const size_t na = (size_t)p->M * ld_k + 1, nb = (size_t)p->N * ld_k + 1;
    const size_t nc = (size_t)p->M * ld_n + 1;
    assert_int_equal(dl_alloc((void **)&p->A, na), DL_OK);
    assert_int_equal(dl_alloc((void **)&p->B, nb), DL_OK);
    assert_int_equal(dl_alloc((void **)&p->C, nc * 4), DL_OK);
    assert_int_equal(dl_alloc((void **)&p->C_ref, nc * 4), DL_OK);
    assert_int_equal(dl_alloc((void **)&p->out, nc * 4), DL_OK);
    assert_int_equal(dl_alloc((void **)&p->out_ref, nc * 4), DL_OK);
    assert_int_equal(dl_alloc((void **)&p->row_scale, (size_t)p->M * 4 + 4), DL_OK);
    assert_int_equal(dl_alloc((void **)&p->col_scale, (size_t)p->N * 4 + 4), DL_OK);
    assert_int_equal(dl_alloc((void **)&p->bias_v, (size_t)p->N * 4 + 4), DL_OK);
    for (size_t i = 0; i < na; i++)
        p->A[i] = random_int8(&r);
    for (size_t i = 0; i < nb; i++)
        p->B[i] = random_int8(&r);
    for (size_t i = 0; i < nc; i++) {
        p->C[i] = p->C_ref[i] = (int32_t)dl_rng_u64(&r); /* padding must survive */
        p->out[i] = p->out_ref[i] = dl_rng_uniform(&r) * 2 - 1;
    }
    for (int i = 0; i < p->M; i++)
        p->row_scale[i] = 127.0f / (0.1f + 10 * dl_rng_uniform(&r));
    for (int i = 0; i < p->N; i++)
        p->col_scale[i] = 127.0f / (0.01f + dl_rng_uniform(&r));
    for (int i = 0; i < p->N; i++)
        p->bias_v[i] = dl_rng_uniform(&r) - 0.5f;
    if (p->M > 2) p->row_scale[1] = 0.0f; /* an all-zero row's scale: out is 0 (+ bias) */
}

static void problem_free(problem *p) {
    dl_free(p->A), dl_free(p->B), dl_free(p->C), dl_free(p->C_ref), dl_free(p->out);
    dl_free(p->out_ref), dl_free(p->row_scale), dl_free(p->col_scale), dl_free(p->bias_v);
}

static dl_int8_gemm_args problem_args(const problem *p, int32_t *C, float *out) {
    dl_int8_gemm_args a = {.M = p->M,
                           .N = p->N,
                           .K = p->K,
                           .A = p->A,
                           .lda = p->K + p->pad,
                           .B = p->B,
                           .ldb = p->K + p->pad,
                           .C = C,
                           .ldc = p->N + p->pad,
                           .out = p->epilogue ? out : NULL,
                           .ldo = p->N + p->pad,
                           .row_scale = p->row_scale,
                           .col_scale = p->col_scale,
                           .bias = p->bias ? p->bias_v : NULL,
                           .accumulate = p->accumulate};
    return a;
}

/* Run variant v and ref on p; C and out must be equal bit for bit, padding included. */
static void check_variant_equals_ref(const dl_variant *v, problem p, uint64_t seed) {
    problem_make(&p, seed);
    dl_int8_gemm_args a = problem_args(&p, p.C, p.out), r = problem_args(&p, p.C_ref, p.out_ref);
    assert_int_equal(dl_int8_gemm_run(v, &a), DL_OK);
    assert_int_equal(dl_int8_gemm_ref(&r), DL_OK);
    const size_t nc = (size_t)p.M * (p.N + p.pad) + 1;
    for (size_t i = 0; i < nc; i++) {
        if (p.C[i] != p.C_ref[i])
            fail_msg("%s %d×%d×%d: C[%zu] = %d, ref %d", v->name, p.M, p.N, p.K, i, p.C[i],
                     p.C_ref[i]);
        if (memcmp(&p.out[i], &p.out_ref[i], 4) != 0)
            fail_msg("%s %d×%d×%d%s%s: out[%zu] = %.9g, ref %.9g", v->name, p.M, p.N, p.K,
                     p.bias ? " bias" : "", p.accumulate ? " acc" : "", i, p.out[i], p.out_ref[i]);
    }
    problem_free(&p);
}

static void check_all_cpu_variants(const int (*shapes)[3], int count, int pad) {
    int nv = 0;
    const dl_variant *const *vs = dl_variants("int8_gemm", &nv);
    assert_true(nv >= 2);
    for (int v = 0; v < nv; v++) {
        if (vs[v]->device != DL_DEVICE_CPU || !dl_variant_available(vs[v])) continue;
        for (int s = 0; s < count; s++)
            for (int mode = 0; mode < 4; mode++) {
                problem p = {.M = shapes[s][0],
                             .N = shapes[s][1],
                             .K = shapes[s][2],
                             .pad = pad,
                             .epilogue = mode > 0,
                             .bias = mode >= 2,
                             .accumulate = mode == 3};
                check_variant_equals_ref(vs[v], p, 1000u + (uint64_t)s * 7 + mode);
            }
    }
}

static void test_every_cpu_variant_equals_ref_on_odd_shapes(void **state) {
    (void)state;
    static const int dims[] = {1, 3, 17, 63, 64, 65};
    int shapes[6 * 6 * 2][3], n = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            shapes[n][0] = dims[i], shapes[n][1] = dims[j], shapes[n][2] = dims[(i + j) % 6], n++;
            shapes[n][0] = dims[j], shapes[n][1] = dims[i], shapes[n][2] = 257, n++;
        }
    check_all_cpu_variants((const int(*)[3])shapes, n, 0);
    check_all_cpu_variants((const int(*)[3])shapes, 12, 5); /* row strides beyond the row */
}

static void test_every_cpu_variant_equals_ref_across_blocks_and_large_k(void **state) {
    (void)state;
    /* 257 rows cross MC blocks at small K; K = 20000 shrinks MC and NC to a few panels;
     * 300 × 1000 crosses thread rectangles. */
    static const int shapes[][3] = {
        {257, 257, 257}, {25, 70, 20000}, {300, 1000, 64}, {5, 3000, 1500}};
    check_all_cpu_variants(shapes, 4, 0);
}

/* The worst case of the K bound: every product (−128)·(−128), K = 2^16 (the sum 2^30 fits;
 * the shifted sum Σ(a+128)·b does not matter because vpdpbusd wraps). */
static void test_extreme_values_at_k_65536_are_exact(void **state) {
    (void)state;
    const int M = 13, N = 33, K = 65536;
    int8_t *A, *B;
    int32_t *C;
    assert_int_equal(dl_alloc((void **)&A, (size_t)M * K), DL_OK);
    assert_int_equal(dl_alloc((void **)&B, (size_t)N * K), DL_OK);
    assert_int_equal(dl_alloc((void **)&C, (size_t)M * N * 4), DL_OK);
    memset(A, 0x80, (size_t)M * K); /* −128 */
    for (int n = 0; n < N; n++)
        memset(B + (size_t)n * K, n % 2 ? 0x7f : 0x80, K);
    int nv = 0;
    const dl_variant *const *vs = dl_variants("int8_gemm", &nv);
    for (int v = 0; v < nv; v++) {
        if (vs[v]->device != DL_DEVICE_CPU || !dl_variant_available(vs[v])) continue;
        dl_int8_gemm_args a = {
            .M = M, .N = N, .K = K, .A = A, .lda = K, .B = B, .ldb = K, .C = C, .ldc = N};
        assert_int_equal(dl_int8_gemm_run(vs[v], &a), DL_OK);
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++)
                assert_int_equal(C[m * N + n], (n % 2 ? -128 * 127 : 128 * 128) * K);
    }
    dl_free(A), dl_free(B), dl_free(C);
}

/* ref against sums computed here in int64 and the epilogue in double: C exact, out within a
 * few ulps of (C / (r·c) + bias), the fp32 roundings of the defined order. */
static void test_ref_matches_exact_sums_and_a_double_epilogue(void **state) {
    (void)state;
    problem p = {.M = 19, .N = 23, .K = 301, .epilogue = true, .bias = true};
    problem_make(&p, 77);
    dl_int8_gemm_args a = problem_args(&p, p.C, p.out);
    assert_int_equal(dl_int8_gemm_ref(&a), DL_OK);
    for (int m = 0; m < p.M; m++)
        for (int n = 0; n < p.N; n++) {
            int64_t sum = 0;
            for (int k = 0; k < p.K; k++)
                sum += p.A[m * p.K + k] * p.B[n * p.K + k];
            assert_int_equal(p.C[m * p.N + n], sum);
            double rs = p.row_scale[m], cs = p.col_scale[n];
            double want = (rs == 0 ? 0.0 : (double)sum / (rs * cs)) + p.bias_v[n];
            double got = p.out[m * p.N + n];
            /* 4 fp32 roundings (two inverses, two products) plus the bias add */
            double tol = 6 * 0x1p-24 * (fabs(want) + fabs(p.bias_v[n])) + 1e-30;
            if (fabs(got - want) > tol)
                fail_msg("out[%d][%d] = %.9g, double %.9g", m, n, got, want);
        }
    problem_free(&p);
}

static void test_empty_dimensions(void **state) {
    (void)state;
    int8_t A[4] = {1, 2, 3, 4}, B[4] = {5, 6, 7, 8};
    int32_t C[4] = {9, 9, 9, 9};
    float out[4] = {1, 1, 1, 1}, rs[2] = {1, 1}, cs[2] = {1, 1};
    int nv = 0;
    const dl_variant *const *vs = dl_variants("int8_gemm", &nv);
    for (int v = 0; v < nv; v++) {
        if (vs[v]->device != DL_DEVICE_CPU || !dl_variant_available(vs[v])) continue;
        /* M = 0 and N = 0 write nothing */
        dl_int8_gemm_args a = {.M = 0,
                               .N = 2,
                               .K = 2,
                               .A = A,
                               .lda = 2,
                               .B = B,
                               .ldb = 2,
                               .C = C,
                               .ldc = 2,
                               .out = out,
                               .ldo = 2,
                               .row_scale = rs,
                               .col_scale = cs};
        assert_int_equal(dl_int8_gemm_run(vs[v], &a), DL_OK);
        a.M = 2, a.N = 0;
        assert_int_equal(dl_int8_gemm_run(vs[v], &a), DL_OK);
        for (int i = 0; i < 4; i++)
            assert_int_equal(C[i], 9), assert_true(out[i] == 1);
        /* K = 0: C = 0; out = 0, or unchanged when accumulating */
        a.N = 2, a.K = 0, a.accumulate = true;
        assert_int_equal(dl_int8_gemm_run(vs[v], &a), DL_OK);
        for (int i = 0; i < 4; i++)
            assert_int_equal(C[i], 0), assert_true(out[i] == 1);
        a.accumulate = false;
        assert_int_equal(dl_int8_gemm_run(vs[v], &a), DL_OK);
        for (int i = 0; i < 4; i++)
            assert_true(out[i] == 0);
        C[0] = C[1] = C[2] = C[3] = 9, out[0] = out[1] = out[2] = out[3] = 1;
    }
}

static void test_bad_arguments_are_refused(void **state) {
    (void)state;
    int8_t A[4] = {0}, B[4] = {0};
    int32_t C[4];
    float out[4], s[2] = {1, 1};
    const dl_variant *v = dl_variant_find("int8_gemm", "ref");
    assert_non_null(v);
    dl_int8_gemm_args good = {.M = 2,
                              .N = 2,
                              .K = 2,
                              .A = A,
                              .lda = 2,
                              .B = B,
                              .ldb = 2,
                              .C = C,
                              .ldc = 2,
                              .out = out,
                              .ldo = 2,
                              .row_scale = s,
                              .col_scale = s};
    assert_int_equal(dl_int8_gemm_run(v, &good), DL_OK);
    dl_int8_gemm_args a = good;
    a.K = -1;
    assert_int_equal(dl_int8_gemm_run(v, &a), DL_ERR_ARG);
    a = good, a.lda = 1;
    assert_int_equal(dl_int8_gemm_run(v, &a), DL_ERR_ARG);
    a = good, a.ldb = 1;
    assert_int_equal(dl_int8_gemm_run(v, &a), DL_ERR_ARG);
    a = good, a.C = NULL, a.out = NULL;
    assert_int_equal(dl_int8_gemm_run(v, &a), DL_ERR_ARG);
    a = good, a.row_scale = NULL;
    assert_int_equal(dl_int8_gemm_run(v, &a), DL_ERR_ARG);
    a = good, a.B = NULL;
    assert_int_equal(dl_int8_gemm_run(v, &a), DL_ERR_ARG);
    a = good, a.K = DL_INT8_GEMM_MAX_K + 1, a.lda = a.ldb = a.K;
    assert_int_equal(dl_int8_gemm_run(v, &a), DL_ERR_ARG);
    assert_int_equal(dl_int8_gemm_run(NULL, &good), DL_ERR_ARG);
    assert_int_equal(dl_int8_gemm_run(dl_variant_find("matmul", "ref"), &good), DL_ERR_ARG);
}

static void test_best_cpu_variant_is_vnni_where_the_cpu_has_it(void **state) {
    (void)state;
    const dl_variant *v = dl_int8_gemm_best(DL_DEVICE_CPU);
    assert_non_null(v);
    if (dl_cpu()->avx512_vnni && dl_cpu()->avx512bw) assert_string_equal(v->name, "vnni");
}

/* Threads own disjoint rectangles of C with their own packing buffers: every two-thread
 * product must equal the one-thread product bit for bit, every time. */
static void test_threaded_products_equal_the_one_thread_product_every_time(void **state) {
    (void)state;
    const int before = dl_threads_get();
    if (dl_threads_set(2) != DL_OK) skip();
    static const int shapes[][3] = {{16, 4100, 25}, {200, 40, 300}, {33, 900, 77}};
    int nv = 0;
    const dl_variant *const *vs = dl_variants("int8_gemm", &nv);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        problem p = {.M = shapes[s][0],
                     .N = shapes[s][1],
                     .K = shapes[s][2],
                     .epilogue = true,
                     .bias = true,
                     .accumulate = false};
        problem_make(&p, 500 + s);
        for (int v = 0; v < nv; v++) {
            if (vs[v]->device != DL_DEVICE_CPU || !dl_variant_available(vs[v])) continue;
            dl_int8_gemm_args one = problem_args(&p, p.C_ref, p.out_ref);
            assert_int_equal(dl_threads_set(1), DL_OK);
            assert_int_equal(dl_int8_gemm_run(vs[v], &one), DL_OK);
            assert_int_equal(dl_threads_set(2), DL_OK);
            dl_int8_gemm_args two = problem_args(&p, p.C, p.out);
            for (int rep = 0; rep < 50; rep++) {
                assert_int_equal(dl_int8_gemm_run(vs[v], &two), DL_OK);
                if (memcmp(p.C, p.C_ref, (size_t)p.M * p.N * 4) != 0 ||
                    memcmp(p.out, p.out_ref, (size_t)p.M * p.N * 4) != 0)
                    fail_msg("%s %d×%d×%d: run %d differs from the one-thread product", vs[v]->name,
                             p.M, p.N, p.K, rep);
            }
        }
        problem_free(&p);
    }
    assert_int_equal(dl_threads_set(before), DL_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_cpu_variant_equals_ref_on_odd_shapes),
        cmocka_unit_test(test_every_cpu_variant_equals_ref_across_blocks_and_large_k),
        cmocka_unit_test(test_extreme_values_at_k_65536_are_exact),
        cmocka_unit_test(test_ref_matches_exact_sums_and_a_double_epilogue),
        cmocka_unit_test(test_empty_dimensions),
        cmocka_unit_test(test_bad_arguments_are_refused),
        cmocka_unit_test(test_best_cpu_variant_is_vnni_where_the_cpu_has_it),
        cmocka_unit_test(test_threaded_products_equal_the_one_thread_product_every_time),
    };
    return cmocka_run_group_tests_name("int8_gemm", tests, NULL, NULL);
}
