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

/* A million copies of 0.1f: Kahan corrects every step, so its error stays within
 * (2u + n·u²)·Σ|x| (Higham, Thm 4.8). Neumaier collects the corrections in one fp32 c that
 * grows to ~n·u·Σ|x| and is itself summed naively: its error can reach (n·u)²·Σ|x| — the
 * reference measures 5.8 here, so it is checked on 10^4 copies, where that term is small. */
static void test_long_runs_of_tenths_stay_within_their_bounds(void **state) {
    (void)state;
    enum { n = 1000000 };
    static float x[n];
    for (size_t i = 0; i < n; i++) x[i] = 0.1f;
    const double u = 0x1p-24;
    double exact = (double)n * (double)0.1f;
    assert_true(fabs(run("kahan", x, n) - exact) <= (2 * u + n * u * u) * exact);
    const size_t m = 10000;
    exact = (double)m * (double)0.1f;
    assert_true(fabs(run("neumaier", x, m) - exact) <= (2 * u + (m * u) * (m * u)) * exact);
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
        cmocka_unit_test(test_long_runs_of_tenths_stay_within_their_bounds),
        cmocka_unit_test(test_specials_follow_ieee),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
