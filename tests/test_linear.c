/* test_linear.c — the linear family (out = inp·weightᵀ + bias): every CPU variant against
 * ref, forward and backward, the ref backward against finite differences, and the argument
 * checks. Tolerance for a K-term dot product of values in [−1, 1]: 1e-6·(K+1) absolute. The
 * rigorous bound (Higham §3.1) is γ_K·Σ|x||w| ≤ K·u·K (u = 2^-24), 16× larger at K = 784,
 * but rounding errors add like a random walk, ~√K·u·|partial sums|, some 40× below our
 * tolerance; a wrong element (a missed term, a transposed index) is off by O(0.1..1). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/dlab.h"
#include "gradcheck.h"
#include "layer_check.h"

typedef struct shape {
    int N, C, OC;
} shape;

static double dot_tolerance(int K) { return 1e-6 * (K + 1); }

/* One random problem run by `v` and by ref, forward then backward into pre-filled
 * gradients; every output compared. */
static void compare_with_ref(const dl_variant *v, shape s, bool with_bias, uint64_t seed) {
    const dl_variant *ref = dl_variant_find("linear", "ref");
    const size_t nin = (size_t)s.N * s.C, nw = (size_t)s.OC * s.C, nout = (size_t)s.N * s.OC;
    dl_rng r;
    dl_rng_seed(&r, seed);
    float *inp = lc_uniform(&r, nin, -1, 1), *w = lc_uniform(&r, nw, -1, 1);
    float *b = lc_uniform(&r, s.OC, -1, 1), *dout = lc_uniform(&r, nout, -1, 1);
    float *out = lc_uniform(&r, nout, -9, 9), *out_ref = lc_copy(out, nout);
    float *dinp = lc_uniform(&r, nin, -1, 1), *dw = lc_uniform(&r, nw, -1, 1);
    float *db = lc_uniform(&r, s.OC, -1, 1);
    float *dinp_ref = lc_copy(dinp, nin), *dw_ref = lc_copy(dw, nw), *db_ref = lc_copy(db, s.OC);

    dl_linear_args a = {.N = s.N,
                        .C = s.C,
                        .OC = s.OC,
                        .inp = inp,
                        .weight = w,
                        .bias = with_bias ? b : NULL,
                        .out = out,
                        .dout = dout,
                        .dinp = dinp,
                        .dweight = dw,
                        .dbias = db};
    dl_linear_args ra = a;
    ra.out = out_ref, ra.dinp = dinp_ref, ra.dweight = dw_ref, ra.dbias = db_ref;
    assert_int_equal(dl_linear_forward(v, &a), DL_OK);
    assert_int_equal(dl_linear_forward(ref, &ra), DL_OK);
    assert_int_equal(dl_linear_backward(v, &a), DL_OK);
    assert_int_equal(dl_linear_backward(ref, &ra), DL_OK);

    const char *bias = with_bias ? "with bias" : "no bias";
    LC_ASSERT_CLOSE(out, out_ref, nout, dot_tolerance(s.C), 0, "%s out N=%d C=%d OC=%d %s", v->name,
                    s.N, s.C, s.OC, bias);
    /* The gradients started from random values: a variant that overwrote them fails here. */
    LC_ASSERT_CLOSE(dinp, dinp_ref, nin, dot_tolerance(s.OC), 0, "%s dinp N=%d C=%d OC=%d", v->name,
                    s.N, s.C, s.OC);
    LC_ASSERT_CLOSE(dw, dw_ref, nw, dot_tolerance(s.N), 0, "%s dweight N=%d C=%d OC=%d", v->name,
                    s.N, s.C, s.OC);
    LC_ASSERT_CLOSE(db, db_ref, s.OC, dot_tolerance(s.N), 0, "%s dbias N=%d C=%d OC=%d %s", v->name,
                    s.N, s.C, s.OC, bias);
    dl_free(inp), dl_free(w), dl_free(b), dl_free(dout), dl_free(out), dl_free(out_ref);
    dl_free(dinp), dl_free(dw), dl_free(db), dl_free(dinp_ref), dl_free(dw_ref), dl_free(db_ref);
}

static void test_every_variant_matches_ref_forward_and_backward_on_odd_shapes(void **state) {
    (void)state;
    const shape shapes[] = {{1, 1, 1},    {1, 7, 3},    {5, 1, 2},      {3, 5, 7},
                            {13, 17, 11}, {37, 53, 61}, {64, 784, 300}, {200, 128, 96}};
    const dl_variant *vs[16];
    int nv = lc_cpu_variants("linear", vs, 16);
    for (int vi = 0; vi < nv; vi++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            for (int bias = 0; bias < 2; bias++)
                compare_with_ref(vs[vi], shapes[i], bias, 100 + i * 2 + bias);
}

/* ---- finite differences: L = Σ wsum·out, so dL/dout = wsum ---- */

typedef struct fd_ctx {
    dl_linear_args a;
    const float *wsum;
} fd_ctx;

static double fd_loss(void *p) {
    fd_ctx *c = p;
    assert_int_equal(dl_linear_forward(dl_variant_find("linear", "ref"), &c->a), DL_OK);
    return gc_weighted_sum(c->a.out, c->wsum, (size_t)c->a.N * c->a.OC);
}

static void test_ref_backward_matches_finite_differences(void **state) {
    (void)state;
    enum { N = 3, C = 5, OC = 4 };
    dl_rng r;
    dl_rng_seed(&r, 7);
    float *inp = lc_uniform(&r, N * C, -1, 1), *w = lc_uniform(&r, OC * C, -1, 1);
    float *b = lc_uniform(&r, OC, -1, 1), *wsum = lc_uniform(&r, N * OC, -1, 1);
    float out[N * OC], dinp[N * C] = {0}, dw[OC * C] = {0}, db[OC] = {0};
    fd_ctx c = {.a = {.N = N,
                      .C = C,
                      .OC = OC,
                      .inp = inp,
                      .weight = w,
                      .bias = b,
                      .out = out,
                      .dout = wsum,
                      .dinp = dinp,
                      .dweight = dw,
                      .dbias = db},
                .wsum = wsum};
    assert_int_equal(dl_linear_backward(dl_variant_find("linear", "ref"), &c.a), DL_OK);
    assert_true(gc_check(inp, dinp, N * C, fd_loss, &c, 1e-2f, NULL) < 2e-3);
    assert_true(gc_check(w, dw, OC * C, fd_loss, &c, 1e-2f, NULL) < 2e-3);
    assert_true(gc_check(b, db, OC, fd_loss, &c, 1e-2f, NULL) < 2e-3);
    dl_free(inp), dl_free(w), dl_free(b), dl_free(wsum);
}

static void test_null_gradients_are_not_computed_and_others_still_are(void **state) {
    (void)state;
    const dl_variant *vs[16];
    int nv = lc_cpu_variants("linear", vs, 16);
    for (int vi = 0; vi < nv; vi++) {
        float inp[6] = {1, 2, 3, 4, 5, 6}, w[6] = {1, 0, -1, 2, 1, 0}, dout[4] = {1, 2, 3, 4};
        float bias[2] = {0}, dw[6] = {0}, db[2] = {0};
        /* dw = doutᵀ·inp with N=2, C=3, OC=2; db = column sums of dout; dinp not wanted. */
        dl_linear_args a = {.N = 2,
                            .C = 3,
                            .OC = 2,
                            .inp = inp,
                            .weight = w,
                            .bias = bias,
                            .dout = dout,
                            .dweight = dw,
                            .dbias = db};
        assert_int_equal(dl_linear_backward(vs[vi], &a), DL_OK);
        const float want_dw[6] = {1 * 1 + 3 * 4, 1 * 2 + 3 * 5, 1 * 3 + 3 * 6,
                                  2 * 1 + 4 * 4, 2 * 2 + 4 * 5, 2 * 3 + 4 * 6};
        for (int i = 0; i < 6; i++)
            assert_true(dw[i] == want_dw[i]);
        assert_true(db[0] == 4.0f && db[1] == 6.0f);
    }
}

static void test_empty_shapes_are_fine_and_zero_inputs_give_the_bias(void **state) {
    (void)state;
    const dl_variant *vs[16];
    int nv = lc_cpu_variants("linear", vs, 16);
    for (int vi = 0; vi < nv; vi++) {
        float b[3] = {1, 2, 3}, out[6] = {9, 9, 9, 9, 9, 9}, dw[3] = {5, 5, 5};
        /* C = 0: out is the bias on every row. */
        dl_linear_args a = {.N = 2, .C = 0, .OC = 3, .bias = b, .out = out};
        assert_int_equal(dl_linear_forward(vs[vi], &a), DL_OK);
        for (int i = 0; i < 6; i++)
            assert_true(out[i] == b[i % 3]);
        /* N = 0: nothing to add to the gradients. */
        float w[3] = {1, 1, 1};
        dl_linear_args e = {.N = 0, .C = 1, .OC = 3, .weight = w, .dweight = dw};
        assert_int_equal(dl_linear_forward(vs[vi], &e), DL_OK);
        assert_int_equal(dl_linear_backward(vs[vi], &e), DL_OK);
        for (int i = 0; i < 3; i++)
            assert_true(dw[i] == 5.0f);
    }
}

static void test_nan_in_one_input_row_stays_in_that_output_row(void **state) {
    (void)state;
    const dl_variant *vs[16];
    int nv = lc_cpu_variants("linear", vs, 16);
    enum { N = 9, C = 13, OC = 17 };
    dl_rng r;
    dl_rng_seed(&r, 3);
    float *inp = lc_uniform(&r, N * C, -1, 1), *w = lc_uniform(&r, OC * C, -1, 1);
    float out[N * OC];
    inp[4 * C + 6] = NAN;
    for (int vi = 0; vi < nv; vi++) {
        dl_linear_args a = {.N = N, .C = C, .OC = OC, .inp = inp, .weight = w, .out = out};
        assert_int_equal(dl_linear_forward(vs[vi], &a), DL_OK);
        for (int i = 0; i < N * OC; i++)
            if ((i / OC == 4) != (isnan(out[i]) != 0)) fail_msg("%s: out[%d]", vs[vi]->name, i);
    }
    dl_free(inp), dl_free(w);
}

static void test_bad_arguments_are_refused_with_a_message(void **state) {
    (void)state;
    const dl_variant *ref = dl_variant_find("linear", "ref");
    float x[4] = {0}, y[4];
    dl_linear_args a = {.N = -1, .C = 2, .OC = 2, .inp = x, .weight = x, .out = y};
    assert_int_equal(dl_linear_forward(ref, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "negative"));
    a.N = 2, a.weight = NULL;
    assert_int_equal(dl_linear_forward(ref, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "weight"));
    a.weight = x, a.out = NULL;
    assert_int_equal(dl_linear_forward(ref, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "out"));
    a.dinp = y; /* backward without dout */
    assert_int_equal(dl_linear_backward(ref, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "dout"));
    assert_int_equal(dl_linear_forward(NULL, &a), DL_ERR_ARG);
    assert_int_equal(dl_linear_forward(dl_variant_find("matmul", "ref"), &a), DL_ERR_ARG);
    assert_int_equal(dl_linear_forward(ref, NULL), DL_ERR_ARG);
}

static void test_cost_counts_two_flops_per_multiply_add(void **state) {
    (void)state;
    dl_linear_args a = {.N = 4, .C = 5, .OC = 6};
    dl_cost c = dl_variant_find("linear", "omp")->cost(&a);
    assert_true(c.flops == 2.0 * 4 * 5 * 6);
    assert_true(c.bytes == 4.0 * (4 * 5 + 6 * 5 + 4 * 6));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_variant_matches_ref_forward_and_backward_on_odd_shapes),
        cmocka_unit_test(test_ref_backward_matches_finite_differences),
        cmocka_unit_test(test_null_gradients_are_not_computed_and_others_still_are),
        cmocka_unit_test(test_empty_shapes_are_fine_and_zero_inputs_give_the_bias),
        cmocka_unit_test(test_nan_in_one_input_row_stays_in_that_output_row),
        cmocka_unit_test(test_bad_arguments_are_refused_with_a_message),
        cmocka_unit_test(test_cost_counts_two_flops_per_multiply_add),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
