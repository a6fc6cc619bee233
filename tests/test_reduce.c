/* test_reduce.c — the "sum" family: every variant against `ref` within the error bound Higham
 * proves for its algorithm, edge sizes, IEEE specials, and tree_fixed's bit-for-bit
 * reproducibility across thread counts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/dlab.h"

static const size_t SIZES[] = {0,  1,   2,   3,    7,    15,   16,   17,    63,     64,
                               65, 127, 129, 1000, 1023, 1025, 4097, 65537, 1000003};
enum { NSIZES = sizeof SIZES / sizeof SIZES[0] };

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static long double abs_sum(const float *x, size_t n) {
    long double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabsl((long double)x[i]);
    return s;
}

static float *make_data(size_t n, uint64_t seed, float lo, float hi) {
    float *x = NULL;
    assert_int_equal(dl_alloc((void **)&x, (n ? n : 1) * sizeof(float)), DL_OK);
    dl_rng r;
    dl_rng_seed(&r, seed);
    dl_rng_fill_uniform(&r, x, n, lo, hi);
    return x;
}

/* Every available variant, n from 0 to 10^6, on positive and mixed-sign data. */
static void check_all_within_bound(float lo, float hi, uint64_t seed) {
    int count;
    const dl_variant *const *vs = dl_variants("sum", &count);
    for (int s = 0; s < NSIZES; s++) {
        size_t n = SIZES[s];
        float *x = make_data(n, seed + n, lo, hi);
        double want = dl_sum("ref", x, n);
        long double mag = abs_sum(x, n);
        for (int k = 0; k < count; k++) {
            if (!dl_variant_available(vs[k])) continue;
            double got = NAN;
            dl_sum_args a = {.x = x, .n = n, .out = &got};
            assert_int_equal(dl_sum_run(vs[k], &a), DL_OK);
            if (n == 0) {
                assert_true(got == 0.0);
                continue;
            }
            if (n == 1) {
                assert_true(got == (double)x[0]);
                continue;
            }
            double bound = dl_sum_error_bound(vs[k]->name, n) * (double)mag;
            /* + ref's own error, which is ~1e-16 relative */
            double err = fabs(got - want);
            if (!(err <= bound + 1e-15 * (double)mag))
                fail_msg("sum variant %s, n=%zu: |error| %.3g > bound %.3g", vs[k]->name, n, err,
                         bound);
        }
        dl_free(x);
    }
}

static void test_every_sum_variant_within_its_higham_bound_on_positive_data(void **state) {
    (void)state;
    check_all_within_bound(0.0f, 1.0f, 100);
}

static void test_every_sum_variant_within_its_higham_bound_on_mixed_sign_data(void **state) {
    (void)state;
    check_all_within_bound(-1.0f, 1.0f, 200);
}

static void test_parallel_variants_within_bound_at_odd_thread_counts(void **state) {
    (void)state;
    int before = dl_threads_get();
    for (int t = 1; t <= 4; t++) {
        assert_int_equal(dl_threads_set(t), DL_OK);
        check_all_within_bound(-1.0f, 1.0f, 300 + (uint64_t)t);
    }
    assert_int_equal(dl_threads_set(before), DL_OK);
}

static void test_every_sum_variant_is_registered_with_its_cost(void **state) {
    (void)state;
    const char *expected[] = {"ref",      "naive",     "pairwise",  "kahan",
                              "neumaier", "omp_naive", "tree_fixed"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        const dl_variant *v = dl_variant_find("sum", expected[i]);
        assert_non_null(v);
        assert_non_null(v->cost);
        dl_sum_args a = {.x = NULL, .n = 1000, .out = NULL};
        dl_cost c = v->cost(&a);
        assert_true(c.flops == 1000 && c.bytes == 4000);
        assert_false(isnan(dl_sum_error_bound(v->name, 1000)));
    }
}

static void test_naive_is_the_left_to_right_loop_bit_for_bit(void **state) {
    (void)state;
    size_t n = 100003;
    float *x = make_data(n, 7, -3.0f, 5.0f);
    float s = 0.0f;
    for (size_t i = 0; i < n; i++)
        s += x[i];
    assert_int_equal(bits_of((float)dl_sum("naive", x, n)), bits_of(s));
    /* and with one thread, the OpenMP reduction is the same loop */
    int before = dl_threads_get();
    assert_int_equal(dl_threads_set(1), DL_OK);
    assert_int_equal(bits_of((float)dl_sum("omp_naive", x, n)), bits_of(s));
    assert_int_equal(dl_threads_set(before), DL_OK);
    dl_free(x);
}

static void test_nan_and_inf_propagate_through_every_variant(void **state) {
    (void)state;
    const size_t n = 1000;
    const size_t where[] = {0, 500, 999};
    int count;
    const dl_variant *const *vs = dl_variants("sum", &count);
    for (size_t w = 0; w < 3; w++) {
        for (int kind = 0; kind < 4; kind++) {
            float *y = make_data(n, 11, -1.0f, 1.0f);
            size_t at = where[w];
            if (kind == 0) y[at] = NAN;
            if (kind == 1) y[at] = INFINITY;
            if (kind == 2) y[at] = -INFINITY;
            if (kind == 3) y[at] = INFINITY, y[(at + 1) % n] = -INFINITY; /* inf - inf */
            for (int k = 0; k < count; k++) {
                if (!dl_variant_available(vs[k])) continue;
                double got = dl_sum(vs[k]->name, y, n);
                if (kind == 0 || kind == 3) {
                    if (!isnan(got))
                        fail_msg("%s: kind %d at %zu gave %g, want NaN", vs[k]->name, kind, at,
                                 got);
                } else {
                    double want = kind == 1 ? INFINITY : -INFINITY;
                    if (got != want)
                        fail_msg("%s: kind %d at %zu gave %g, want %g", vs[k]->name, kind, at, got,
                                 want);
                }
            }
            dl_free(y);
        }
    }
}

static void test_tree_fixed_gives_identical_bits_at_1_to_4_threads(void **state) {
    (void)state;
    const size_t n = 1000000 + 13;
    float *x = NULL;
    assert_int_equal(dl_alloc((void **)&x, n * sizeof(float)), DL_OK);
    dl_rng r;
    dl_rng_seed(&r, 5);
    for (size_t i = 0; i < n; i++)
        x[i] = ldexpf((float)dl_rng_normal(&r), (int)dl_rng_below(&r, 25) - 12);
    int before = dl_threads_get();
    uint32_t first = 0;
    for (int t = 1; t <= 4; t++) {
        assert_int_equal(dl_threads_set(t), DL_OK);
        for (int rep = 0; rep < 3; rep++) {
            uint32_t b = bits_of((float)dl_sum("tree_fixed", x, n));
            if (t == 1 && rep == 0) first = b;
            assert_int_equal(b, first);
        }
    }
    /* and omp_naive does depend on the split: 1 and 2 threads differ on this data */
    assert_int_equal(dl_threads_set(1), DL_OK);
    uint32_t one = bits_of((float)dl_sum("omp_naive", x, n));
    assert_int_equal(dl_threads_set(2), DL_OK);
    uint32_t two = bits_of((float)dl_sum("omp_naive", x, n));
    assert_int_not_equal(one, two);
    assert_int_equal(dl_threads_set(before), DL_OK);
    dl_free(x);
}

static void test_neumaier_recovers_what_kahan_loses_when_a_term_exceeds_the_sum(void **state) {
    (void)state;
    const float x[4] = {1.0f, 0x1p25f, 1.0f, -0x1p25f};
    assert_true(dl_sum("ref", x, 4) == 2.0);
    assert_true(dl_sum("neumaier", x, 4) == 2.0);
    assert_true(dl_sum("kahan", x, 4) == 0.0);
    assert_true(dl_sum("naive", x, 4) == 0.0);
}

static void test_bad_arguments_are_refused_with_a_message(void **state) {
    (void)state;
    const dl_variant *v = dl_variant_find("sum", "naive");
    double out;
    dl_sum_args no_out = {.x = NULL, .n = 0, .out = NULL};
    assert_int_equal(dl_sum_run(v, &no_out), DL_ERR_ARG);
    dl_sum_args no_x = {.x = NULL, .n = 5, .out = &out};
    assert_int_equal(dl_sum_run(v, &no_x), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "NULL"));
    assert_int_equal(dl_sum_run(dl_variant_find("matmul", "ref"), &no_x), DL_ERR_ARG);
    float one = 1.0f;
    assert_true(isnan(dl_sum("no_such_variant", &one, 1)));
    assert_true(isnan(dl_sum_error_bound("no_such_variant", 10)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_sum_variant_is_registered_with_its_cost),
        cmocka_unit_test(test_every_sum_variant_within_its_higham_bound_on_positive_data),
        cmocka_unit_test(test_every_sum_variant_within_its_higham_bound_on_mixed_sign_data),
        cmocka_unit_test(test_parallel_variants_within_bound_at_odd_thread_counts),
        cmocka_unit_test(test_naive_is_the_left_to_right_loop_bit_for_bit),
        cmocka_unit_test(test_nan_and_inf_propagate_through_every_variant),
        cmocka_unit_test(test_tree_fixed_gives_identical_bits_at_1_to_4_threads),
        cmocka_unit_test(test_neumaier_recovers_what_kahan_loses_when_a_term_exceeds_the_sum),
        cmocka_unit_test(test_bad_arguments_are_refused_with_a_message),
    };
    return cmocka_run_group_tests_name("sum", tests, NULL, NULL);
}
