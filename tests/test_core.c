/* test_core.c — the kernel library core: status messages, allocation, RNG, CPU features,
 * threads, the variant registry and the backend tables. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/dlab.h"

/* ---------------------------------------------------------------- status */

static void test_failure_message_names_function_and_detail(void **state) {
    (void)state;
    dl_status s = DL_FAIL(DL_ERR_ARG, "size %d is negative", -3);
    assert_int_equal(s, DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "test_failure_message_names_function_and_detail"));
    assert_non_null(strstr(dl_last_error(), "size -3 is negative"));
}

static void test_every_status_has_a_distinct_name(void **state) {
    (void)state;
    for (int a = DL_OK; a <= DL_ERR_INTERNAL; a++)
        for (int b = a + 1; b <= DL_ERR_INTERNAL; b++)
            assert_string_not_equal(dl_status_name((dl_status)a), dl_status_name((dl_status)b));
    assert_string_equal(dl_status_name(DL_OK), "ok");
}

/* ---------------------------------------------------------------- memory */

static void test_alloc_is_aligned_and_zero_bytes_is_freeable(void **state) {
    (void)state;
    size_t sizes[] = {0, 1, 3, 64, 1000, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        void *p = NULL;
        assert_int_equal(dl_alloc(&p, sizes[i]), DL_OK);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % DL_ALIGN, 0);
        dl_free(p);
    }
    unsigned char *z = NULL;
    assert_int_equal(dl_calloc((void **)&z, 4096), DL_OK);
    for (int i = 0; i < 4096; i++) assert_int_equal(z[i], 0);
    dl_free(z);
}

static void test_absurd_allocation_is_a_clear_error_not_a_crash(void **state) {
    (void)state;
    void *p = (void *)1;
    assert_int_equal(dl_alloc(&p, SIZE_MAX / 2), DL_ERR_ALLOC);
    assert_null(p);
    assert_non_null(strstr(dl_last_error(), "bytes"));
    assert_int_equal(dl_alloc(NULL, 16), DL_ERR_ARG);
}

/* ------------------------------------------------------------------- rng */

static void test_same_seed_gives_the_same_stream_and_streams_differ(void **state) {
    (void)state;
    dl_rng a, b, c;
    dl_rng_seed(&a, 42);
    dl_rng_seed(&b, 42);
    dl_rng_seed_stream(&c, 42, 1);
    int same_as_stream = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = dl_rng_u64(&a);
        assert_true(x == dl_rng_u64(&b));
        same_as_stream += x == dl_rng_u64(&c);
    }
    assert_int_equal(same_as_stream, 0);
}

static void test_uniform_and_normal_have_the_right_moments(void **state) {
    (void)state;
    enum { N = 200000 };
    dl_rng r;
    dl_rng_seed(&r, 7);
    double s = 0, s2 = 0, n1 = 0, n2 = 0;
    for (int i = 0; i < N; i++) {
        float u = dl_rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        s += u;
        s2 += (double)u * u;
        double z = dl_rng_normal(&r);
        assert_true(isfinite(z));
        n1 += z;
        n2 += z * z;
    }
    /* 6 standard errors: a fixed seed, so this either always passes or always fails. */
    double mean = s / N, var = s2 / N - mean * mean;
    assert_true(fabs(mean - 0.5) < 6 * sqrt(1.0 / 12 / N));
    assert_true(fabs(var - 1.0 / 12) < 0.002);
    assert_true(fabs(n1 / N) < 6 / sqrt((double)N));
    assert_true(fabs(n2 / N - 1.0) < 6 * sqrt(2.0 / N));
}

static void test_below_stays_in_range_and_hits_every_value(void **state) {
    (void)state;
    dl_rng r;
    dl_rng_seed(&r, 1);
    int hits[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint64_t v = dl_rng_below(&r, 7);
        assert_true(v < 7);
        hits[v]++;
    }
    for (int i = 0; i < 7; i++) assert_in_range(hits[i], 800, 1200);
    assert_true(dl_rng_below(&r, 1) == 0);
}

static void test_fill_respects_bounds(void **state) {
    (void)state;
    dl_rng r;
    dl_rng_seed(&r, 3);
    float x[1000];
    dl_rng_fill_uniform(&r, x, 1000, -2.0f, 3.0f);
    for (int i = 0; i < 1000; i++) assert_true(x[i] >= -2.0f && x[i] < 3.0f);
    dl_rng_fill_normal(&r, x, 1000, 5.0f, 0.0f);
    for (int i = 0; i < 1000; i++) assert_true(x[i] == 5.0f);
}

/* ------------------------------------------------------- cpu and threads */

static void test_cpu_features_are_consistent(void **state) {
    (void)state;
    const dl_cpu_features *f = dl_cpu();
    /* Implications that hold on every x86-64 CPU: a feature never appears without its base. */
    if (f->avx2) assert_true(f->avx);
    if (f->avx512bw || f->avx512vl || f->avx512_bf16) assert_true(f->avx512f);
    if (f->avx512f) assert_true(f->avx2);
    char buf[256];
    dl_cpu_describe(buf, sizeof buf);
    if (f->sse2) assert_non_null(strstr(buf, "sse2"));
    char tiny[4];
    dl_cpu_describe(tiny, sizeof tiny); /* must not overflow */
    assert_true(strlen(tiny) < sizeof tiny);
}

static void test_thread_count_must_be_positive(void **state) {
    (void)state;
    int before = dl_threads_get();
    assert_true(before >= 1);
    assert_int_equal(dl_threads_set(0), DL_ERR_ARG);
    assert_int_equal(dl_threads_set(-4), DL_ERR_ARG);
    assert_int_equal(dl_threads_set(before), DL_OK);
}

/* -------------------------------------------------------------- registry */

static void test_registry_lists_matmul_with_unique_complete_variants(void **state) {
    (void)state;
    const char *const *fams = dl_families();
    int found = 0;
    for (int i = 0; fams[i]; i++) found += strcmp(fams[i], "matmul") == 0;
    assert_int_equal(found, 1);
    for (int f = 0; fams[f]; f++) {
        int n;
        const dl_variant *const *vs = dl_variants(fams[f], &n);
        assert_true(n >= 1);
        assert_non_null(dl_variant_find(fams[f], "ref")); /* every family has its oracle */
        for (int i = 0; i < n; i++) {
            assert_string_equal(vs[i]->family, fams[f]);
            assert_non_null(vs[i]->name);
            assert_non_null(vs[i]->summary);
            assert_non_null(vs[i]->impl);
            for (int j = i + 1; j < n; j++) assert_string_not_equal(vs[i]->name, vs[j]->name);
        }
    }
}

static void test_unknown_family_or_variant_is_null(void **state) {
    (void)state;
    int n = 5;
    assert_null(dl_variants("no_such_family", &n));
    assert_int_equal(n, 0);
    assert_null(dl_variant_find("matmul", "no_such_variant"));
    assert_null(dl_variant_find(NULL, "ref"));
    assert_false(dl_variant_available(NULL));
}

static void test_matmul_cost_counts_two_flops_per_multiply_add(void **state) {
    (void)state;
    dl_matmul_args a = dl_matmul_dense(3, 5, 7, NULL, false, NULL, false, NULL, false);
    dl_cost c = dl_matmul_cost(&a);
    assert_true(c.flops == 2.0 * 3 * 5 * 7);
    assert_true(c.bytes == 4.0 * (3 * 7 + 7 * 5 + 3 * 5));
}

/* -------------------------------------------------------------- backends */

static void test_cpu_backend_binds_the_best_available_matmul(void **state) {
    (void)state;
    const dl_ops *ops = NULL;
    assert_int_equal(dl_backend("cpu", &ops), DL_OK);
    assert_string_equal(ops->name, "cpu");
    assert_ptr_equal(ops->matmul_variant, dl_matmul_best(DL_DEVICE_CPU));
    assert_true(dl_variant_available(ops->matmul_variant));
    float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, C[4];
    dl_matmul_args a = dl_matmul_dense(2, 2, 3, A, false, B, false, C, false);
    assert_int_equal(ops->matmul(&a), DL_OK);
    /* [1 2 3; 4 5 6] · [1 0; 0 1; 1 1] = [4 5; 10 11] */
    assert_true(C[0] == 4 && C[1] == 5 && C[2] == 10 && C[3] == 11);
}

static void test_cuda_without_a_device_is_a_clear_error(void **state) {
    (void)state;
    const dl_ops *ops = (const dl_ops *)1;
    if (dl_cuda_device_count() > 0) skip();
    assert_int_equal(dl_backend("cuda", &ops), DL_ERR_DEVICE);
    assert_null(ops);
    assert_true(strlen(dl_last_error()) > 10);
    assert_int_equal(dl_backend("tpu", &ops), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "tpu"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failure_message_names_function_and_detail),
        cmocka_unit_test(test_every_status_has_a_distinct_name),
        cmocka_unit_test(test_alloc_is_aligned_and_zero_bytes_is_freeable),
        cmocka_unit_test(test_absurd_allocation_is_a_clear_error_not_a_crash),
        cmocka_unit_test(test_same_seed_gives_the_same_stream_and_streams_differ),
        cmocka_unit_test(test_uniform_and_normal_have_the_right_moments),
        cmocka_unit_test(test_below_stays_in_range_and_hits_every_value),
        cmocka_unit_test(test_fill_respects_bounds),
        cmocka_unit_test(test_cpu_features_are_consistent),
        cmocka_unit_test(test_thread_count_must_be_positive),
        cmocka_unit_test(test_registry_lists_matmul_with_unique_complete_variants),
        cmocka_unit_test(test_unknown_family_or_variant_is_null),
        cmocka_unit_test(test_matmul_cost_counts_two_flops_per_multiply_add),
        cmocka_unit_test(test_cpu_backend_binds_the_best_available_matmul),
        cmocka_unit_test(test_cuda_without_a_device_is_a_clear_error),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
