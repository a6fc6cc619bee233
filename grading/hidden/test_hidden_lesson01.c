/* test_hidden_lesson01.c — grading's own tests for lesson 1's exercises (Kahan and Neumaier
 * summation), not shipped in the handout: `make grade LESSON=1` copies it into the tree it
 * grades. Cases a student's own checks tend to miss: the classic cancellation, a long run of
 * 0.1f, a huge first term, signed zeros, infinities and NaN. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dlab/dlab.h"

static double run(const char *name, const float *x, size_t n) {
    const dl_variant *v = dl_variant_find("sum", name);
    assert_non_null(v);
    double got = NAN;
    dl_sum_args a = {.x = x, .n = n, .out = &got};
    if (dl_sum_run(v, &a) != DL_OK) fail_msg("sum %s: %s", name, dl_last_error());
    return got;
}

static void test_neumaier_recovers_what_kahan_loses(void **state) {
    (void)state;
    const float x[4] = {1.0f, 1e8f, 1.0f, -1e8f};
    assert_true(run("neumaier", x, 4) == 2.0);
}

static void test_a_million_tenths_stay_within_two_ulps(void **state) {
    (void)state;
    enum { n = 1000000 };
    static float x[n];
    for (size_t i = 0; i < n; i++) x[i] = 0.1f;
    const double exact = (double)n * (double)0.1f;
    for (int k = 0; k < 2; k++) {
        const double got = run(k ? "neumaier" : "kahan", x, n);
        assert_true(fabs(got - exact) <= 2.0 * 0x1p-24 * exact);
    }
}

static void test_specials_follow_ieee(void **state) {
    (void)state;
    const float inf_then_finite[3] = {INFINITY, 1.0f, 2.0f};
    const float both_infs[2] = {INFINITY, -INFINITY};
    const float with_nan[3] = {1.0f, NAN, 2.0f};
    const float zeros[2] = {-0.0f, -0.0f};
    for (int k = 0; k < 2; k++) {
        const char *name = k ? "neumaier" : "kahan";
        assert_true(run(name, inf_then_finite, 3) == INFINITY);
        assert_true(isnan(run(name, both_infs, 2)));
        assert_true(isnan(run(name, with_nan, 3)));
        assert_true(run(name, zeros, 2) == 0.0);
        assert_true(run(name, zeros, 0) == 0.0);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_neumaier_recovers_what_kahan_loses),
        cmocka_unit_test(test_a_million_tenths_stay_within_two_ulps),
        cmocka_unit_test(test_specials_follow_ieee),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
