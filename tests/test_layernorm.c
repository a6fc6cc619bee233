/* test_layernorm.c — layer normalization over the last dimension: every CPU variant against
 * ref (out, mean, rstd, and dinp/dgamma/dbeta accumulated into pre-filled buffers), rows
 * with a large offset and constant rows, NaN staying in its row, the same gradient bits at
 * 1 and 2 threads, the ref backward against finite differences, and the argument checks.
 * Tolerances: outputs are O(1) and the fast variants sum C values in fp32, ~√C·u off;
 * 2e-5·(1 + |ref|) leaves a wide margin and still catches a wrong term (off by ~1/C). */
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

typedef struct bufs {
    int N, C;
    float *inp, *gamma, *beta, *out, *mean, *rstd, *dout, *dinp, *dgamma, *dbeta;
} bufs;

/* Rows of inp: offset + uniform in [−1, 1); gradients start random. */
static bufs make_bufs(int N, int C, float offset, uint64_t seed) {
    dl_rng r;
    dl_rng_seed(&r, seed);
    bufs b = {.N = N, .C = C};
    size_t nc = (size_t)N * C;
    b.inp = lc_uniform(&r, nc, offset - 1, offset + 1);
    b.gamma = lc_uniform(&r, C, 0.5f, 1.5f), b.beta = lc_uniform(&r, C, -0.5f, 0.5f);
    b.out = lc_uniform(&r, nc, -1, 1), b.mean = lc_uniform(&r, N, -1, 1);
    b.rstd = lc_uniform(&r, N, -1, 1), b.dout = lc_uniform(&r, nc, -1, 1);
    b.dinp = lc_uniform(&r, nc, -1, 1), b.dgamma = lc_uniform(&r, C, -1, 1);
    b.dbeta = lc_uniform(&r, C, -1, 1);
    return b;
}

static bufs copy_bufs(const bufs *b) {
    size_t nc = (size_t)b->N * b->C;
    bufs c = *b;
    c.out = lc_copy(b->out, nc), c.mean = lc_copy(b->mean, b->N), c.rstd = lc_copy(b->rstd, b->N);
    c.dinp = lc_copy(b->dinp, nc), c.dgamma = lc_copy(b->dgamma, b->C);
    c.dbeta = lc_copy(b->dbeta, b->C);
    c.inp = lc_copy(b->inp, nc), c.gamma = lc_copy(b->gamma, b->C);
    c.beta = lc_copy(b->beta, b->C), c.dout = lc_copy(b->dout, nc);
    return c;
}

static void free_bufs(bufs *b) {
    dl_free(b->inp), dl_free(b->gamma), dl_free(b->beta), dl_free(b->out), dl_free(b->mean);
    dl_free(b->rstd), dl_free(b->dout), dl_free(b->dinp), dl_free(b->dgamma), dl_free(b->dbeta);
}

static dl_layernorm_args args_of(const bufs *b) {
    dl_layernorm_args a = {.N = b->N,
                           .C = b->C,
                           .inp = b->inp,
                           .gamma = b->gamma,
                           .beta = b->beta,
                           .out = b->out,
                           .mean = b->mean,
                           .rstd = b->rstd,
                           .dout = b->dout,
                           .dinp = b->dinp,
                           .dgamma = b->dgamma,
                           .dbeta = b->dbeta};
    return a;
}

static void run(const dl_variant *v, const bufs *b) {
    dl_layernorm_args a = args_of(b);
    assert_int_equal(dl_layernorm_forward(v, &a), DL_OK);
    assert_int_equal(dl_layernorm_backward(v, &a), DL_OK);
}

/* atol: 2e-5, plus, with an offset, a term for the one rounding that no fp32 algorithm
 * escapes: each input already carries u·|offset| (u = 2^-24), which normalization divides by
 * the row's standard deviation (~0.58 here). The fast variants shift the data by its first
 * value before summing and stay near that floor; a plain fp32 mean would be ~√C× worse, and
 * E[x²] − E[x]² would be off by ~u·offset²/σ², 1000× more at offset 1000. */
static void compare(const bufs *got, const bufs *want, float offset, const char *what) {
    size_t nc = (size_t)got->N * got->C;
    const double atol = 2e-5 + 4 * 0x1p-24 * offset;
    LC_ASSERT_CLOSE(got->out, want->out, nc, atol, 2e-5, "%s out", what);
    LC_ASSERT_CLOSE(got->mean, want->mean, got->N, 2e-5, 2e-5, "%s mean", what);
    LC_ASSERT_CLOSE(got->rstd, want->rstd, got->N, atol, 2e-5, "%s rstd", what);
    LC_ASSERT_CLOSE(got->dinp, want->dinp, nc, atol, 2e-5, "%s dinp", what);
    LC_ASSERT_CLOSE(got->dgamma, want->dgamma, got->C, atol * (1 + got->N), 2e-5, "%s dgamma",
                    what);
    LC_ASSERT_CLOSE(got->dbeta, want->dbeta, got->C, 2e-5 * (1 + got->N), 2e-5, "%s dbeta", what);
}

static void test_every_variant_matches_ref_on_odd_shapes_and_offsets(void **state) {
    (void)state;
    const int shapes[][2] = {{1, 1}, {1, 2}, {3, 7}, {17, 128}, {33, 100}, {5, 769}, {1024, 128}};
    /* A large mean: the variance must not cancel. (Not for C < 7, where two nearly equal
     * values make σ tiny and any fp32 mean's error huge in comparison.) */
    const float offsets[] = {0.0f, 1000.0f};
    const dl_variant *ref = dl_variant_find("layernorm", "ref"), *vs[8];
    int nv = lc_cpu_variants("layernorm", vs, 8);
    for (int vi = 0; vi < nv; vi++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            for (int o = 0; o < (shapes[i][1] >= 7 ? 2 : 1); o++) {
                bufs b = make_bufs(shapes[i][0], shapes[i][1], offsets[o], 60 + i),
                     c = copy_bufs(&b);
                run(vs[vi], &b);
                run(ref, &c);
                char what[96];
                snprintf(what, sizeof what, "%s N=%d C=%d offset=%g", vs[vi]->name, b.N, b.C,
                         offsets[o]);
                compare(&b, &c, offsets[o], what);
                free_bufs(&b), free_bufs(&c);
            }
}

static void test_constant_row_gives_beta_and_nan_stays_in_its_row(void **state) {
    (void)state;
    const dl_variant *vs[8];
    int nv = lc_cpu_variants("layernorm", vs, 8);
    for (int vi = 0; vi < nv; vi++) {
        bufs b = make_bufs(3, 37, 0, 8);
        for (int c = 0; c < 37; c++)
            b.inp[c] = 5.0f;      /* row 0 constant: variance 0 */
        b.inp[2 * 37 + 11] = NAN; /* row 2 has a NaN */
        run(vs[vi], &b);
        for (int c = 0; c < 37; c++) {
            if (!(fabsf(b.out[c] - b.beta[c]) < 1e-6f)) fail_msg("%s: constant row", vs[vi]->name);
            if (!isfinite(b.out[37 + c]) || !isfinite(b.dinp[37 + c]))
                fail_msg("%s: row 1 polluted", vs[vi]->name);
            if (!isnan(b.out[74 + c])) fail_msg("%s: NaN lost in row 2", vs[vi]->name);
        }
        /* eps = 0 means the default 1e-5: rstd of a constant row is 1/√1e-5. */
        if (!(fabsf(b.rstd[0] - 316.227766f) < 1e-3f)) fail_msg("%s: eps default", vs[vi]->name);
        free_bufs(&b);
    }
}

static void test_parameter_gradients_have_the_same_bits_at_one_and_two_threads(void **state) {
    (void)state;
    const dl_variant *vs[8];
    int nv = lc_cpu_variants("layernorm", vs, 8);
    int saved = dl_threads_get();
    for (int vi = 1; vi < nv; vi++) {
        bufs b = make_bufs(512, 200, 0, 12), c = copy_bufs(&b);
        assert_int_equal(dl_threads_set(1), DL_OK);
        run(vs[vi], &b);
        assert_int_equal(dl_threads_set(2), DL_OK);
        run(vs[vi], &c);
        assert_memory_equal(b.dgamma, c.dgamma, 200 * sizeof(float));
        assert_memory_equal(b.dbeta, c.dbeta, 200 * sizeof(float));
        assert_memory_equal(b.dinp, c.dinp, 512 * 200 * sizeof(float));
        free_bufs(&b), free_bufs(&c);
    }
    assert_int_equal(dl_threads_set(saved), DL_OK);
}

/* ---- finite differences: L = Σ w·out ---- */

static double weighted_out(void *ctx) {
    bufs *b = ctx;
    dl_layernorm_args a = args_of(b);
    assert_int_equal(dl_layernorm_forward(dl_variant_find("layernorm", "ref"), &a), DL_OK);
    return gc_weighted_sum(b->out, b->dout, (size_t)b->N * b->C);
}

static void test_ref_backward_matches_finite_differences(void **state) {
    (void)state;
    bufs b = make_bufs(3, 7, 0.3f, 21);
    memset(b.dinp, 0, 21 * sizeof(float));
    memset(b.dgamma, 0, 7 * sizeof(float));
    memset(b.dbeta, 0, 7 * sizeof(float));
    run(dl_variant_find("layernorm", "ref"), &b);
    /* h = 1e-3: the normalization divides by a standard deviation of ~0.6 here. */
    double e_inp = gc_check(b.inp, b.dinp, 21, weighted_out, &b, 1e-3f, NULL);
    double e_gamma = gc_check(b.gamma, b.dgamma, 7, weighted_out, &b, 1e-2f, NULL);
    double e_beta = gc_check(b.beta, b.dbeta, 7, weighted_out, &b, 1e-2f, NULL);
    if (!(e_inp < 2e-3 && e_gamma < 2e-3 && e_beta < 2e-3))
        fail_msg("gradient errors: inp %.3g, gamma %.3g, beta %.3g", e_inp, e_gamma, e_beta);
    free_bufs(&b);
}

static void test_bad_arguments_are_refused_with_a_message(void **state) {
    (void)state;
    const dl_variant *ref = dl_variant_find("layernorm", "ref");
    bufs b = make_bufs(2, 3, 0, 1);
    dl_layernorm_args a = args_of(&b);
    a.rstd = NULL;
    assert_int_equal(dl_layernorm_forward(ref, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "rstd"));
    a = args_of(&b), a.eps = -1.0f;
    assert_int_equal(dl_layernorm_forward(ref, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "eps"));
    a = args_of(&b), a.dout = NULL;
    assert_int_equal(dl_layernorm_backward(ref, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "dout"));
    a = args_of(&b), a.C = -3;
    assert_int_equal(dl_layernorm_forward(ref, &a), DL_ERR_ARG);
    a = args_of(&b), a.N = 0; /* empty: nothing to do */
    assert_int_equal(dl_layernorm_forward(dl_variant_find("layernorm", "omp"), &a), DL_OK);
    assert_int_equal(dl_layernorm_forward(dl_variant_find("linear", "ref"), &a), DL_ERR_ARG);
    free_bufs(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_variant_matches_ref_on_odd_shapes_and_offsets),
        cmocka_unit_test(test_constant_row_gives_beta_and_nan_stays_in_its_row),
        cmocka_unit_test(test_parameter_gradients_have_the_same_bits_at_one_and_two_threads),
        cmocka_unit_test(test_ref_backward_matches_finite_differences),
        cmocka_unit_test(test_bad_arguments_are_refused_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
