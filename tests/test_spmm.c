/* test_spmm.c — the spmm family (sparse CSR weight × dense activations): every CPU variant
 * against ref on random problems (odd sizes, empty rows, density 0 and 1, N = 0 and 1), ref
 * against the dense linear family (the definition), every backward against finite
 * differences, NaN and inf kept to their row, the CSR builders, and bad input. Tolerance: as test_linear.c, 1e-6·(K+1)
 * absolute for a K-term sum of values in [−1, 1]. The finite differences use h = 0.1: the op
 * is linear in each argument, so a large step has no truncation error and divides the fp32
 * rounding noise of the loss by more. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/dlab.h"
#include "dlab/spmm.h"
#include "gradcheck.h"
#include "layer_check.h"

typedef struct problem {
    int N, C, OC;
    dl_csr W;
    float *inp, *bias, *dout;
} problem;

/* A random (OC, C) weight at `density` (each entry kept with that probability), row
 * `empty_row` (if in range) with no entry, and random activations for N rows. */
static problem make_problem(int N, int C, int OC, double density, int empty_row, uint64_t seed) {
    problem p = {.N = N, .C = C, .OC = OC};
    dl_rng r;
    dl_rng_seed(&r, seed);
    const size_t nw = (size_t)OC * C;
    float *dense = lc_uniform(&r, nw, -1, 1);
    unsigned char keep[nw + 1];
    for (size_t i = 0; i < nw; i++)
        keep[i] = dl_rng_uniform(&r) < density && (int)(i / (size_t)(C ? C : 1)) != empty_row;
    assert_int_equal(dl_csr_from_dense(&p.W, dense, keep, OC, C), DL_OK);
    dl_free(dense);
    p.inp = lc_uniform(&r, (size_t)N * C, -1, 1);
    p.bias = lc_uniform(&r, OC, -1, 1);
    p.dout = lc_uniform(&r, (size_t)N * OC, -1, 1);
    return p;
}

static void free_problem(problem *p) {
    dl_csr_free(&p->W);
    dl_free(p->inp), dl_free(p->bias), dl_free(p->dout);
}

/* Forward and backward (into random pre-filled gradients: backward accumulates) by v and
 * by ref; every output compared. */
static void compare_with_ref(const dl_variant *v, int N, int C, int OC, double density,
                             int empty_row, uint64_t seed) {
    const dl_variant *ref = dl_variant_find("spmm", "ref");
    problem p = make_problem(N, C, OC, density, empty_row, seed);
    dl_rng r;
    dl_rng_seed(&r, seed + 99);
    const size_t nout = (size_t)N * OC, nin = (size_t)N * C, nnz = (size_t)p.W.nnz;
    float *out = lc_uniform(&r, nout, -9, 9), *out_ref = lc_copy(out, nout);
    float *dinp = lc_uniform(&r, nin, -1, 1), *dinp_ref = lc_copy(dinp, nin);
    float *dvals = lc_uniform(&r, nnz, -1, 1), *dvals_ref = lc_copy(dvals, nnz);
    float *db = lc_uniform(&r, OC, -1, 1), *db_ref = lc_copy(db, OC);
    dl_spmm_args a = dl_spmm_args_for(&p.W, N);
    a.inp = p.inp, a.bias = p.bias, a.dout = p.dout;
    dl_spmm_args b = a;
    a.out = out, a.dinp = dinp, a.dvals = dvals, a.dbias = db;
    b.out = out_ref, b.dinp = dinp_ref, b.dvals = dvals_ref, b.dbias = db_ref;
    assert_int_equal(dl_spmm_forward(v, &a), DL_OK);
    assert_int_equal(dl_spmm_forward(ref, &b), DL_OK);
    assert_int_equal(dl_spmm_backward(v, &a), DL_OK);
    assert_int_equal(dl_spmm_backward(ref, &b), DL_OK);
    const double tol_f = 1e-6 * (C + 1), tol_n = 1e-6 * (N + 1), tol_o = 1e-6 * (OC + 1);
    LC_ASSERT_CLOSE(out, out_ref, nout, tol_f, 0, "%s out N=%d C=%d OC=%d d=%g", v->name, N, C, OC, density);
    LC_ASSERT_CLOSE(dinp, dinp_ref, nin, tol_o, 0, "%s dinp N=%d C=%d OC=%d d=%g", v->name, N, C, OC, density);
    LC_ASSERT_CLOSE(dvals, dvals_ref, nnz, tol_n, 0, "%s dvals N=%d C=%d OC=%d d=%g", v->name, N, C, OC, density);
    LC_ASSERT_CLOSE(db, db_ref, OC, tol_n, 0, "%s dbias N=%d C=%d OC=%d d=%g", v->name, N, C, OC, density);
    dl_free(out), dl_free(out_ref), dl_free(dinp), dl_free(dinp_ref);
    dl_free(dvals), dl_free(dvals_ref), dl_free(db), dl_free(db_ref);
    free_problem(&p);
}

static void test_every_variant_matches_ref_on_odd_sizes_empty_rows_and_densities_0_to_1(void **state) {
    (void)state;
    const dl_variant *vs[8];
    const int nv = lc_cpu_variants("spmm", vs, 8);
    const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {37, 97, 33}, {64, 64, 16}, {130, 200, 61}, {0, 9, 4}, {5, 0, 3}};
    const double densities[] = {0.0, 0.01, 0.05, 0.3, 1.0};
    uint64_t seed = 1;
    for (int v = 0; v < nv; v++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (size_t d = 0; d < sizeof densities / sizeof densities[0]; d++)
                compare_with_ref(vs[v], shapes[s][0], shapes[s][1], shapes[s][2], densities[d],
                                 shapes[s][2] / 2, seed++);
}

/* ref against the definition: the dense linear ref on the same (densified) weight. */
static void test_ref_equals_dense_linear_with_zeros_and_dvals_is_dw_at_the_entries(void **state) {
    (void)state;
    enum { N = 9, C = 23, OC = 11 };
    problem p = make_problem(N, C, OC, 0.2, 4, 7);
    float dense[OC * C], out_s[N * OC], out_d[N * OC], dinp_s[N * C] = {0}, dinp_d[N * C] = {0};
    float dw[OC * C], db_s[OC] = {0}, db_d[OC] = {0};
    float dvals[p.W.nnz + 1];
    memset(dw, 0, sizeof dw), memset(dvals, 0, sizeof dvals);
    dl_csr_to_dense(&p.W, dense);
    dl_spmm_args a = dl_spmm_args_for(&p.W, N);
    a.inp = p.inp, a.bias = p.bias, a.out = out_s, a.dout = p.dout, a.dinp = dinp_s, a.dvals = dvals, a.dbias = db_s;
    assert_int_equal(dl_spmm_forward(dl_variant_find("spmm", "ref"), &a), DL_OK);
    assert_int_equal(dl_spmm_backward(dl_variant_find("spmm", "ref"), &a), DL_OK);
    dl_linear_args la = {.N = N, .C = C, .OC = OC, .inp = p.inp, .weight = dense, .bias = p.bias,
                         .out = out_d, .dout = p.dout, .dinp = dinp_d, .dweight = dw, .dbias = db_d};
    assert_int_equal(dl_linear_forward(dl_variant_find("linear", "ref"), &la), DL_OK);
    assert_int_equal(dl_linear_backward(dl_variant_find("linear", "ref"), &la), DL_OK);
    LC_ASSERT_CLOSE(out_s, out_d, (size_t)N * OC, 1e-5, 0, "out");
    LC_ASSERT_CLOSE(dinp_s, dinp_d, (size_t)N * C, 1e-5, 0, "dinp");
    LC_ASSERT_CLOSE(db_s, db_d, OC, 1e-5, 0, "dbias");
    for (int o = 0; o < OC; o++)
        for (int k = p.W.row_ptr[o]; k < p.W.row_ptr[o + 1]; k++)
            assert_float_equal(dvals[k], dw[o * C + p.W.col_idx[k]], 1e-5);
    free_problem(&p);
}

typedef struct fd_ctx {
    const dl_variant *v;
    dl_spmm_args a;
    float *out, *w;
} fd_ctx;

static double weighted_out(void *vctx) {
    fd_ctx *c = vctx;
    dl_spmm_args a = c->a;
    a.out = c->out;
    assert_int_equal(dl_spmm_forward(c->v, &a), DL_OK);
    return gc_weighted_sum(c->out, c->w, (size_t)a.N * a.OC);
}

static void test_backward_matches_finite_differences(void **state) {
    (void)state;
    enum { N = 6, C = 13, OC = 8 };
    problem p = make_problem(N, C, OC, 0.4, 2, 11);
    const dl_variant *vs[8];
    const int nv = lc_cpu_variants("spmm", vs, 8);
    for (int v = 0; v < nv; v++) {
        float out[N * OC], dinp[N * C], dbias[OC], dvals[p.W.nnz + 1];
        memset(dinp, 0, sizeof dinp), memset(dbias, 0, sizeof dbias), memset(dvals, 0, sizeof dvals);
        fd_ctx c = {.v = vs[v], .a = dl_spmm_args_for(&p.W, N), .out = out, .w = p.dout};
        c.a.inp = p.inp, c.a.bias = p.bias;
        dl_spmm_args b = c.a;
        b.dout = p.dout, b.dinp = dinp, b.dvals = dvals, b.dbias = dbias;
        assert_int_equal(dl_spmm_backward(vs[v], &b), DL_OK);
        size_t wi = 0;
        double e_inp = gc_check((float *)p.inp, dinp, (size_t)N * C, weighted_out, &c, 1e-1f, &wi);
        if (!(e_inp < 2e-3)) fail_msg("%s dinp: error %g at %zu (%g)", vs[v]->name, e_inp, wi, dinp[wi]);
        assert_true(gc_check(p.W.vals, dvals, (size_t)p.W.nnz, weighted_out, &c, 1e-1f, NULL) < 2e-3);
        assert_true(gc_check((float *)p.bias, dbias, OC, weighted_out, &c, 1e-1f, NULL) < 2e-3);
    }
    free_problem(&p);
}

/* A NaN or inf in one input row reaches that row's outputs and no other row's (a transposed
 * or blocked layout must not smear it across the batch). */
static void test_nan_and_inf_in_one_input_row_stay_in_that_output_row(void **state) {
    (void)state;
    const dl_variant *vs[8];
    const int nv = lc_cpu_variants("spmm", vs, 8);
    enum { N = 70, C = 19, OC = 6 };
    for (int v = 0; v < nv; v++)
        for (int kind = 0; kind < 2; kind++) {
            problem p = make_problem(N, C, OC, 1.0, -1, 21);
            float out[N * OC];
            ((float *)p.inp)[65 * C + 3] = kind ? INFINITY : NAN;
            dl_spmm_args a = dl_spmm_args_for(&p.W, N);
            a.inp = p.inp, a.bias = p.bias, a.out = out;
            assert_int_equal(dl_spmm_forward(vs[v], &a), DL_OK);
            for (int n = 0; n < N; n++)
                for (int o = 0; o < OC; o++) {
                    if (n == 65) assert_false(isfinite(out[n * OC + o]));
                    else assert_true(isfinite(out[n * OC + o]));
                }
            free_problem(&p);
        }
}

static void test_csr_builders_keep_explicit_zeros_and_round_trip(void **state) {
    (void)state;
    const float dense[2 * 3] = {0, 2, 0, -1, 0, 3};
    const unsigned char keep[6] = {1, 1, 0, 0, 0, 1}; /* keeps a 0 at (0,0), drops -1 */
    dl_csr m;
    assert_int_equal(dl_csr_from_dense(&m, dense, keep, 2, 3), DL_OK);
    assert_int_equal(m.nnz, 3);
    assert_int_equal(m.row_ptr[1], 2);
    assert_int_equal(m.col_idx[0], 0), assert_float_equal(m.vals[0], 0.0f, 0);
    assert_int_equal(m.col_idx[2], 2), assert_float_equal(m.vals[2], 3.0f, 0);
    float back[6];
    dl_csr_to_dense(&m, back);
    const float want[6] = {0, 2, 0, 0, 0, 3};
    assert_memory_equal(back, want, sizeof want);
    const float other[6] = {5, 6, 7, 8, 9, 10};
    dl_csr_gather(&m, other);
    assert_float_equal(m.vals[0], 5, 0), assert_float_equal(m.vals[1], 6, 0), assert_float_equal(m.vals[2], 10, 0);
    dl_csr_free(&m);
    assert_int_equal(dl_csr_from_dense(&m, dense, NULL, 2, 3), DL_OK); /* nonzeros only */
    assert_int_equal(m.nnz, 3);
    assert_int_equal(m.col_idx[1], 0); /* the -1 at (1,0) */
    dl_csr_free(&m);
}

static void test_bad_arguments_and_broken_csr_are_refused_with_a_message(void **state) {
    (void)state;
    const dl_variant *ref = dl_variant_find("spmm", "ref");
    float x[4] = {1, 2, 3, 4}, y[4];
    float vals[2] = {1, 1};
    int row_ptr[3] = {0, 1, 2}, col_idx[2] = {0, 1};
    dl_spmm_args a = {.N = 2, .C = 2, .OC = 2, .row_ptr = row_ptr, .col_idx = col_idx,
                      .vals = vals, .inp = x, .out = y};
    assert_int_equal(dl_spmm_forward(ref, &a), DL_OK);
    col_idx[1] = 2; /* outside [0, C) */
    assert_int_equal(dl_spmm_forward(ref, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "col_idx[1]=2"));
    col_idx[1] = 1, row_ptr[1] = 3; /* decreasing */
    assert_int_equal(dl_spmm_forward(ref, &a), DL_ERR_ARG);
    row_ptr[1] = 1, row_ptr[0] = 1;
    assert_int_equal(dl_spmm_forward(ref, &a), DL_ERR_ARG);
    row_ptr[0] = 0;
    dl_spmm_args b = a;
    b.N = -1;
    assert_int_equal(dl_spmm_forward(ref, &b), DL_ERR_ARG);
    b = a, b.out = NULL;
    assert_int_equal(dl_spmm_forward(ref, &b), DL_ERR_ARG);
    b = a, b.row_ptr = NULL;
    assert_int_equal(dl_spmm_forward(ref, &b), DL_ERR_ARG);
    b = a, b.dinp = y; /* backward without dout */
    assert_int_equal(dl_spmm_backward(ref, &b), DL_ERR_ARG);
    assert_int_equal(dl_spmm_forward(dl_variant_find("linear", "ref"), &a), DL_ERR_ARG);
    dl_csr m;
    assert_int_equal(dl_csr_from_dense(&m, x, NULL, -1, 2), DL_ERR_ARG);
}

static void test_cost_counts_two_flops_per_stored_weight_and_row(void **state) {
    (void)state;
    problem p = make_problem(4, 10, 5, 0.5, -1, 3);
    dl_spmm_args a = dl_spmm_args_for(&p.W, 4);
    dl_cost c = dl_spmm_cost(&a);
    assert_float_equal(c.flops, 2.0 * 4 * p.W.nnz, 0);
    free_problem(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_variant_matches_ref_on_odd_sizes_empty_rows_and_densities_0_to_1),
        cmocka_unit_test(test_ref_equals_dense_linear_with_zeros_and_dvals_is_dw_at_the_entries),
        cmocka_unit_test(test_backward_matches_finite_differences),
        cmocka_unit_test(test_nan_and_inf_in_one_input_row_stay_in_that_output_row),
        cmocka_unit_test(test_csr_builders_keep_explicit_zeros_and_round_trip),
        cmocka_unit_test(test_bad_arguments_and_broken_csr_are_refused_with_a_message),
        cmocka_unit_test(test_cost_counts_two_flops_per_stored_weight_and_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
