/* test_act.c — the element-wise families: relu, gelu (tanh form) and residual (a + b).
 * Every CPU variant against ref (forward and backward, accumulating into pre-filled
 * gradients), special values (NaN, ±inf, ±1e30, −0), the in-place forward, and each ref
 * backward against finite differences. relu and residual are exact, so their variants must
 * match ref bit for bit; gelu's fast variants use a polynomial exp and must stay within
 * GELU_ATOL + GELU_RTOL·|ref| of ref (ref is computed in double). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../kernels/ops/fast_math.h"
#include "dlab/dlab.h"
#include "gradcheck.h"
#include "layer_check.h"

#define GELU_ATOL 1e-6
#define GELU_RTOL 1e-6

/* Sizes: empty, one, primes and non-multiples of 8/16, and more than one OpenMP chunk. */
static const size_t SIZES[] = {0, 1, 2, 7, 17, 31, 100, 1023, 40009};

/* Run family's variant v and ref on the same n inputs (uniform in [lo, hi)); compare out
 * and dinp (both start from random values) within atol + rtol·|ref|. */
static void compare_act(const char *family, const dl_variant *v, size_t n, float lo, float hi,
                        double atol, double rtol, uint64_t seed) {
    const dl_variant *ref = dl_variant_find(family, "ref");
    dl_rng r;
    dl_rng_seed(&r, seed);
    float *inp = lc_uniform(&r, n, lo, hi), *dout = lc_uniform(&r, n, -1, 1);
    float *out = lc_uniform(&r, n, -1, 1), *out_ref = lc_copy(out, n);
    float *dinp = lc_uniform(&r, n, -1, 1), *dinp_ref = lc_copy(dinp, n);
    dl_act_args a = {.n = n, .inp = inp, .out = out, .dout = dout, .dinp = dinp};
    dl_act_args ra = {.n = n, .inp = inp, .out = out_ref, .dout = dout, .dinp = dinp_ref};
    assert_int_equal(dl_act_forward(v, &a), DL_OK);
    assert_int_equal(dl_act_forward(ref, &ra), DL_OK);
    assert_int_equal(dl_act_backward(v, &a), DL_OK);
    assert_int_equal(dl_act_backward(ref, &ra), DL_OK);
    LC_ASSERT_CLOSE(out, out_ref, n, atol, rtol, "%s %s forward n=%zu", family, v->name, n);
    LC_ASSERT_CLOSE(dinp, dinp_ref, n, atol, rtol, "%s %s backward n=%zu", family, v->name, n);
    dl_free(inp), dl_free(dout), dl_free(out), dl_free(out_ref), dl_free(dinp), dl_free(dinp_ref);
}

static void test_every_relu_variant_matches_ref_exactly(void **state) {
    (void)state;
    const dl_variant *vs[8];
    int nv = lc_cpu_variants("relu", vs, 8);
    for (int vi = 0; vi < nv; vi++)
        for (size_t i = 0; i < sizeof SIZES / sizeof SIZES[0]; i++)
            compare_act("relu", vs[vi], SIZES[i], -3, 3, 0x1p-149, 0, 10 + i);
}

static void test_every_gelu_variant_is_within_1e6_of_ref(void **state) {
    (void)state;
    const dl_variant *vs[8];
    int nv = lc_cpu_variants("gelu", vs, 8);
    for (int vi = 0; vi < nv; vi++) {
        for (size_t i = 0; i < sizeof SIZES / sizeof SIZES[0]; i++)
            compare_act("gelu", vs[vi], SIZES[i], -6, 6, GELU_ATOL, GELU_RTOL, 20 + i);
        /* The tails, where σ(2u) saturates and the exp under- or overflows. */
        compare_act("gelu", vs[vi], 4001, -40, 40, GELU_ATOL, GELU_RTOL, 31);
    }
}

static void test_gelu_fast_variants_are_accurate_on_a_dense_sweep(void **state) {
    (void)state;
    enum { N = 200001 }; /* x from −10 to 10 in steps of 1e-4 */
    static float x[N], y[N], y_ref[N], d[N], d_ref[N], ones[N];
    for (int i = 0; i < N; i++)
        x[i] = -10.0f + 1e-4f * i, ones[i] = 1.0f;
    dl_act_args ra = {.n = N, .inp = x, .out = y_ref, .dout = ones, .dinp = d_ref};
    memset(d_ref, 0, sizeof d_ref);
    assert_int_equal(dl_act_forward(dl_variant_find("gelu", "ref"), &ra), DL_OK);
    assert_int_equal(dl_act_backward(dl_variant_find("gelu", "ref"), &ra), DL_OK);
    const dl_variant *vs[8];
    int nv = lc_cpu_variants("gelu", vs, 8);
    for (int vi = 1; vi < nv; vi++) {
        memset(d, 0, sizeof d);
        dl_act_args a = {.n = N, .inp = x, .out = y, .dout = ones, .dinp = d};
        assert_int_equal(dl_act_forward(vs[vi], &a), DL_OK);
        assert_int_equal(dl_act_backward(vs[vi], &a), DL_OK);
        LC_ASSERT_CLOSE(y, y_ref, N, GELU_ATOL, GELU_RTOL, "gelu %s sweep", vs[vi]->name);
        LC_ASSERT_CLOSE(d, d_ref, N, GELU_ATOL, GELU_RTOL, "gelu' %s sweep", vs[vi]->name);
    }
}

static void test_polynomial_exp_is_within_2_ulp_and_saturates_cleanly(void **state) {
    (void)state;
    double worst = 0;
    for (float x = -86.6f; x < 88.7f; x += 1e-3f) {
        double want = exp((double)x);
        double ulp = (double)nextafterf((float)want, INFINITY) - (double)(float)want;
        double err = fabs((double)dl_exp_poly(x) - want) / ulp;
        if (err > worst) worst = err;
    }
    if (!(worst <= 2.0)) fail_msg("dl_exp_poly: %.2f ulp", worst);
    assert_true(isinf(dl_exp_poly(INFINITY)) && isinf(dl_exp_poly(88.8f)));
    assert_true(dl_exp_poly(-INFINITY) == 0.0f && dl_exp_poly(-1e30f) == 0.0f);
    assert_true(isnan(dl_exp_poly(NAN)) && dl_exp_poly(0.0f) == 1.0f);
}

static void test_special_values_give_limits_and_nan_propagates(void **state) {
    (void)state;
    enum { N = 9 };
    const float x[N] = {NAN, INFINITY, -INFINITY, 1e30f, -1e30f, -0.0f, 0.0f, 3.0f, -3.0f};
    const float relu_y[N] = {NAN, INFINITY, 0, 1e30f, 0, -0.0f, 0, 3, 0};
    const float relu_d[N] = {0, 1, 0, 1, 0, 0, 0, 1, 0};
    const float gelu_y[N] = {NAN, INFINITY, 0, 1e30f, 0, 0, 0, 2.99636261f, -0.00363739208f};
    const float gelu_d[N] = {NAN, 1, 0, 1, 0, 0.5f, 0.5f, 1.01158417f, -0.0115841666f};
    const char *families[2] = {"relu", "gelu"};
    for (int f = 0; f < 2; f++) {
        const dl_variant *vs[8];
        int nv = lc_cpu_variants(families[f], vs, 8);
        for (int vi = 0; vi < nv; vi++) {
            float y[N], d[N] = {0}, ones[N] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
            dl_act_args a = {.n = N, .inp = x, .out = y, .dout = ones, .dinp = d};
            assert_int_equal(dl_act_forward(vs[vi], &a), DL_OK);
            assert_int_equal(dl_act_backward(vs[vi], &a), DL_OK);
            LC_ASSERT_CLOSE(y, f ? gelu_y : relu_y, N, 1e-6, 1e-6, "%s %s special values",
                            families[f], vs[vi]->name);
            LC_ASSERT_CLOSE(d, f ? gelu_d : relu_d, N, 1e-6, 1e-6, "%s' %s special values",
                            families[f], vs[vi]->name);
        }
    }
}

static void test_forward_in_place_gives_the_same_result(void **state) {
    (void)state;
    const char *families[2] = {"relu", "gelu"};
    for (int f = 0; f < 2; f++) {
        const dl_variant *vs[8];
        int nv = lc_cpu_variants(families[f], vs, 8);
        for (int vi = 0; vi < nv; vi++) {
            dl_rng r;
            dl_rng_seed(&r, 5);
            size_t n = 40009;
            float *x = lc_uniform(&r, n, -4, 4), *y = lc_uniform(&r, n, 0, 1);
            dl_act_args a = {.n = n, .inp = x, .out = y};
            assert_int_equal(dl_act_forward(vs[vi], &a), DL_OK);
            a.out = x; /* now in place */
            assert_int_equal(dl_act_forward(vs[vi], &a), DL_OK);
            assert_memory_equal(x, y, n * sizeof(float));
            dl_free(x), dl_free(y);
        }
    }
}

/* ---- finite differences: L = Σ w·f(x), dL/df = w ---- */

typedef struct fd_ctx {
    const dl_variant *ref;
    dl_act_args a;
} fd_ctx;

static double act_loss(void *p) {
    fd_ctx *c = p;
    assert_int_equal(dl_act_forward(c->ref, &c->a), DL_OK);
    return gc_weighted_sum(c->a.out, c->a.dout, c->a.n);
}

static void test_ref_backward_matches_finite_differences(void **state) {
    (void)state;
    enum { N = 41 };
    const char *families[2] = {"relu", "gelu"};
    for (int f = 0; f < 2; f++) {
        dl_rng r;
        dl_rng_seed(&r, 9);
        float x[N], y[N], w[N], d[N] = {0};
        dl_rng_fill_uniform(&r, x, N, -3, 3);
        dl_rng_fill_uniform(&r, w, N, -1, 1);
        for (int i = 0; i < N; i++) /* keep relu's kink at 0 out of reach of the ±h steps */
            if (fabsf(x[i]) < 0.1f) x[i] = x[i] < 0 ? -0.5f : 0.5f;
        fd_ctx c = {dl_variant_find(families[f], "ref"),
                    {.n = N, .inp = x, .out = y, .dout = w, .dinp = d}};
        assert_int_equal(dl_act_backward(c.ref, &c.a), DL_OK);
        double err = gc_check(x, d, N, act_loss, &c, 1e-2f, NULL);
        if (!(err < 2e-3)) fail_msg("%s: gradient error %.3g", families[f], err);
    }
}

/* ------------------------------------------------------------- residual */

static void test_every_residual_variant_matches_ref_exactly_and_accumulates(void **state) {
    (void)state;
    const dl_variant *ref = dl_variant_find("residual", "ref"), *vs[8];
    int nv = lc_cpu_variants("residual", vs, 8);
    for (int vi = 0; vi < nv; vi++) {
        for (size_t i = 0; i < sizeof SIZES / sizeof SIZES[0]; i++) {
            size_t n = SIZES[i];
            dl_rng r;
            dl_rng_seed(&r, 40 + i);
            float *a = lc_uniform(&r, n, -1, 1), *b = lc_uniform(&r, n, -1, 1);
            float *dout = lc_uniform(&r, n, -1, 1), *out = lc_uniform(&r, n, -1, 1);
            float *da = lc_uniform(&r, n, -1, 1), *db = lc_uniform(&r, n, -1, 1);
            float *want_da = lc_copy(da, n), *want_db = lc_copy(db, n), *want = lc_copy(out, n);
            dl_residual_args x = {
                .n = n, .a = a, .b = b, .out = out, .dout = dout, .da = da, .db = db};
            dl_residual_args rx = {
                .n = n, .a = a, .b = b, .out = want, .dout = dout, .da = want_da, .db = want_db};
            assert_int_equal(dl_residual_forward(vs[vi], &x), DL_OK);
            assert_int_equal(dl_residual_backward(vs[vi], &x), DL_OK);
            assert_int_equal(dl_residual_forward(ref, &rx), DL_OK);
            assert_int_equal(dl_residual_backward(ref, &rx), DL_OK);
            for (size_t k = 0; k < n; k++) {
                assert_true(want[k] == a[k] + b[k] && out[k] == want[k]);
                assert_true(da[k] == want_da[k] && db[k] == want_db[k]);
            }
            /* In place (out == a), and only one gradient wanted. */
            x.out = a, x.db = NULL;
            assert_int_equal(dl_residual_forward(vs[vi], &x), DL_OK);
            assert_int_equal(dl_residual_backward(vs[vi], &x), DL_OK);
            for (size_t k = 0; k < n; k++)
                assert_true(a[k] == want[k] && da[k] == want_da[k] + dout[k]);
            dl_free(a), dl_free(b), dl_free(dout), dl_free(out), dl_free(da), dl_free(db);
            dl_free(want_da), dl_free(want_db), dl_free(want);
        }
    }
}

static void test_bad_arguments_are_refused_with_a_message(void **state) {
    (void)state;
    float x[2] = {1, 2}, y[2];
    dl_act_args a = {.n = 2, .inp = x, .out = NULL};
    assert_int_equal(dl_act_forward(dl_variant_find("gelu", "ref"), &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "out"));
    a.out = y;
    assert_int_equal(dl_act_backward(dl_variant_find("relu", "omp"), &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "dout"));
    assert_int_equal(dl_act_forward(dl_variant_find("matmul", "ref"), &a), DL_ERR_ARG);
    assert_int_equal(dl_act_forward(NULL, &a), DL_ERR_ARG);
    dl_residual_args r = {.n = 2, .a = x, .b = NULL, .out = y};
    assert_int_equal(dl_residual_forward(dl_variant_find("residual", "omp"), &r), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "b is NULL"));
    assert_int_equal(dl_residual_forward(dl_variant_find("relu", "ref"), &r), DL_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_relu_variant_matches_ref_exactly),
        cmocka_unit_test(test_every_gelu_variant_is_within_1e6_of_ref),
        cmocka_unit_test(test_gelu_fast_variants_are_accurate_on_a_dense_sweep),
        cmocka_unit_test(test_polynomial_exp_is_within_2_ulp_and_saturates_cleanly),
        cmocka_unit_test(test_special_values_give_limits_and_nan_propagates),
        cmocka_unit_test(test_forward_in_place_gives_the_same_result),
        cmocka_unit_test(test_ref_backward_matches_finite_differences),
        cmocka_unit_test(test_every_residual_variant_matches_ref_exactly_and_accumulates),
        cmocka_unit_test(test_bad_arguments_are_refused_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
