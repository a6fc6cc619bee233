/* test_optim_train.c — the helpers around the optimizers: learning-rate schedules at known
 * points, global-norm gradient clipping (exact scaling, NaN/inf reported, never applied),
 * and weight initialisation (variance, bounds, reproducibility). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/dlab.h"

static float *alloc_floats(size_t n) {
    float *p = NULL;
    assert_int_equal(dl_calloc((void **)&p, (n ? n : 1) * sizeof(float)), DL_OK);
    return p;
}

/* ---------------------------------------------------------- schedules */

static void test_cosine_schedule_at_warmup_end_midpoint_and_final_step(void **state) {
    (void)state;
    dl_lr_schedule s = dl_lr_cosine(1e-3f, 1e-5f, 10, 110);
    assert_int_equal(dl_lr_check(&s), DL_OK);
    assert_float_equal(dl_lr_at(&s, 0), 1e-4, 1e-10); /* (0+1)/10 of the base */
    assert_float_equal(dl_lr_at(&s, 4), 5e-4, 1e-10);
    assert_float_equal(dl_lr_at(&s, 9), 1e-3, 1e-10);  /* warmup ends at the full rate */
    assert_float_equal(dl_lr_at(&s, 10), 1e-3, 1e-10); /* cosine starts at its top */
    assert_float_equal(dl_lr_at(&s, 60), (1e-3 + 1e-5) / 2, 1e-10); /* midpoint */
    assert_float_equal(dl_lr_at(&s, 110), 1e-5, 1e-12);             /* final */
    assert_float_equal(dl_lr_at(&s, 1000), 1e-5, 1e-12);            /* and after */
    for (long t = 10; t < 110; t++)
        assert_true(dl_lr_at(&s, t + 1) <= dl_lr_at(&s, t));
}

static void test_step_and_constant_schedules_at_known_points(void **state) {
    (void)state;
    dl_lr_schedule c = dl_lr_constant(0.1f);
    assert_true(dl_lr_at(&c, 0) == 0.1f && dl_lr_at(&c, 123456) == 0.1f);
    dl_lr_schedule s = dl_lr_step(0.1f, 30, 0.5f);
    assert_float_equal(dl_lr_at(&s, 29), 0.1, 1e-9);
    assert_float_equal(dl_lr_at(&s, 30), 0.05, 1e-9);
    assert_float_equal(dl_lr_at(&s, 95), 0.0125, 1e-9);
    s.warmup_steps = 4;
    assert_float_equal(dl_lr_at(&s, 1), 0.05, 1e-9);
}

static void test_bad_schedules_are_refused_naming_the_field(void **state) {
    (void)state;
    dl_lr_schedule s = dl_lr_cosine(1e-3f, 1e-5f, 100, 100);
    assert_int_equal(dl_lr_check(&s), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "total_steps"));
    assert_true(isnan(dl_lr_at(&s, 5)));
    s = dl_lr_step(0.1f, 0, 0.5f);
    assert_int_equal(dl_lr_check(&s), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "step_size"));
    s = dl_lr_cosine(1e-3f, 1e-2f, 0, 10);
    assert_int_equal(dl_lr_check(&s), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "min_lr"));
}

/* ----------------------------------------------------------- clipping */

static double norm_of(const float *a, size_t na, const float *b, size_t nb) {
    double s = 0;
    for (size_t i = 0; i < na; i++)
        s += (double)a[i] * a[i];
    for (size_t i = 0; i < nb; i++)
        s += (double)b[i] * b[i];
    return sqrt(s);
}

static void test_clipping_scales_several_buffers_to_exactly_max_norm(void **state) {
    (void)state;
    float a[3] = {3, 0, 0}, b[1] = {4}; /* global norm 5 */
    dl_grad_span spans[2] = {{a, 3}, {b, 1}};
    double norm = 0;
    assert_int_equal(dl_clip_grad_norm(spans, 2, 1.0, &norm), DL_OK);
    assert_true(norm == 5.0);
    assert_float_equal(a[0], 0.6, 1e-7);
    assert_float_equal(b[0], 0.8, 1e-7);

    enum { N = 1001, M = 17 };
    float *x = alloc_floats(N), y[M];
    dl_rng r;
    dl_rng_seed(&r, 5);
    dl_rng_fill_normal(&r, x, N, 0, 3);
    dl_rng_fill_normal(&r, y, M, 0, 3);
    double before = norm_of(x, N, y, M);
    dl_grad_span s2[2] = {{x, N}, {y, M}};
    assert_int_equal(dl_clip_grad_norm(s2, 2, 0.25, &norm), DL_OK);
    assert_float_equal(norm, before, 1e-12 * before);
    assert_float_equal(norm_of(x, N, y, M), 0.25, 0.25 * 1e-6);
    dl_free(x);
}

static void test_clipping_leaves_gradients_below_max_norm_untouched(void **state) {
    (void)state;
    float a[2] = {0.3f, -0.4f}, copy[2];
    memcpy(copy, a, sizeof a);
    dl_grad_span s = {a, 2};
    double norm;
    assert_int_equal(dl_clip_grad_norm(&s, 1, 1.0, &norm), DL_OK);
    assert_float_equal(norm, 0.5, 1e-7);
    assert_memory_equal(a, copy, sizeof a);
    assert_int_equal(dl_clip_grad_norm(&s, 1, INFINITY, &norm), DL_OK); /* measure only */
    assert_int_equal(dl_clip_grad_norm(NULL, 0, 1.0, &norm), DL_OK);
    assert_true(norm == 0.0);
}

static void test_clipping_reports_nan_and_inf_without_touching_gradients(void **state) {
    (void)state;
    float a[4] = {1, 2, 3, 4}, b[3] = {1, NAN, 2}, copy[3];
    memcpy(copy, b, sizeof b);
    dl_grad_span s[2] = {{a, 4}, {b, 3}};
    double norm = 0;
    assert_int_equal(dl_clip_grad_norm(s, 2, 1.0, &norm), DL_ERR_ARG);
    assert_true(isnan(norm));
    assert_non_null(strstr(dl_last_error(), "bufs[1][1]"));
    assert_true(a[3] == 4.0f && b[2] == 2.0f);
    a[0] = -INFINITY, b[1] = 0;
    assert_int_equal(dl_clip_grad_norm(s, 2, 1.0, &norm), DL_ERR_ARG);
    assert_true(isinf(norm));
    assert_non_null(strstr(dl_last_error(), "bufs[0][0]"));
    assert_true(a[1] == 2.0f);
}

/* --------------------------------------------------------------- init */

static void check_stats(const float *w, size_t n, double want_var, double bound) {
    double s = 0, s2 = 0, biggest = 0;
    for (size_t i = 0; i < n; i++) {
        s += w[i], s2 += (double)w[i] * w[i];
        if (fabs(w[i]) > biggest) biggest = fabs(w[i]);
    }
    double mean = s / n, var = s2 / n - mean * mean;
    assert_true(fabs(mean) < 5 * sqrt(want_var / n));
    assert_true(fabs(var / want_var - 1) < 0.03);
    assert_true(biggest <= bound);
    assert_true(biggest > 0.9 * bound || bound > 5 * sqrt(want_var)); /* the range is used */
}

static void test_kaiming_and_xavier_init_have_the_right_variance_and_bounds(void **state) {
    (void)state;
    enum { N = 200000 };
    float *w = alloc_floats(N);
    dl_rng r;
    dl_rng_seed(&r, 3);
    assert_int_equal(dl_init_kaiming_uniform(w, N, 100, &r), DL_OK);
    check_stats(w, N, 2.0 / 100, sqrt(6.0 / 100));
    assert_int_equal(dl_init_kaiming_normal(w, N, 50, &r), DL_OK);
    check_stats(w, N, 2.0 / 50, 7 * sqrt(2.0 / 50));
    assert_int_equal(dl_init_xavier_uniform(w, N, 300, 100, &r), DL_OK);
    check_stats(w, N, 2.0 / 400, sqrt(6.0 / 400));
    assert_int_equal(dl_init_kaiming_uniform(w, N, 0, &r), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "dl_init_kaiming_uniform"));
    assert_int_equal(dl_init_xavier_uniform(w, N, 3, 0, &r), DL_ERR_ARG);
    dl_free(w);
}

static void test_init_with_the_same_seed_gives_the_same_weights(void **state) {
    (void)state;
    float a[257], b[257];
    dl_rng r;
    dl_rng_seed(&r, 11);
    assert_int_equal(dl_init_xavier_uniform(a, 257, 16, 16, &r), DL_OK);
    dl_rng_seed(&r, 11);
    assert_int_equal(dl_init_xavier_uniform(b, 257, 16, 16, &r), DL_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(dl_init_xavier_uniform(b, 257, 16, 16, &r), DL_OK);
    assert_memory_not_equal(a, b, sizeof a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cosine_schedule_at_warmup_end_midpoint_and_final_step),
        cmocka_unit_test(test_step_and_constant_schedules_at_known_points),
        cmocka_unit_test(test_bad_schedules_are_refused_naming_the_field),
        cmocka_unit_test(test_clipping_scales_several_buffers_to_exactly_max_norm),
        cmocka_unit_test(test_clipping_leaves_gradients_below_max_norm_untouched),
        cmocka_unit_test(test_clipping_reports_nan_and_inf_without_touching_gradients),
        cmocka_unit_test(test_kaiming_and_xavier_init_have_the_right_variance_and_bounds),
        cmocka_unit_test(test_init_with_the_same_seed_gives_the_same_weights),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
