/* test_maxpool.c — the "maxpool" family: every variant equal to ref bit for bit (outputs,
 * argmax, gradients), ref's backward against finite differences, floor mode on odd sizes,
 * the NaN / tie / inf rules, accumulation, bad shapes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/dlab.h"
#include "gradcheck.h"

typedef struct problem {
    dl_maxpool_args a;
    size_t n_in, n_out;
} problem;

/* Inputs are a random permutation of 0.05·{0, 1, ..., n−1} − offset: all distinct and at least
 * 0.05 apart, so a finite-difference step of 0.01 never changes which element is the max. */
static problem make_problem(int N, int C, int H, int W, int K, int stride, uint64_t seed) {
    problem p = {.a = {.N = N, .C = C, .H = H, .W = W, .K = K, .stride = stride}};
    p.n_in = (size_t)N * C * H * W;
    p.n_out = (size_t)N * C * dl_maxpool_out_h(&p.a) * dl_maxpool_out_w(&p.a);
    float *in = NULL, *dout = NULL;
    assert_int_equal(dl_alloc((void **)&in, (p.n_in + 1) * sizeof(float)), DL_OK);
    assert_int_equal(dl_alloc((void **)&dout, (p.n_out + 1) * sizeof(float)), DL_OK);
    dl_rng r;
    dl_rng_seed(&r, seed);
    for (size_t i = 0; i < p.n_in; i++)
        in[i] = 0.05f * (float)i - 0.025f * (float)p.n_in;
    for (size_t i = p.n_in; i > 1; i--) { /* Fisher–Yates */
        size_t j = dl_rng_below(&r, i);
        float t = in[i - 1];
        in[i - 1] = in[j], in[j] = t;
    }
    dl_rng_fill_uniform(&r, dout, p.n_out, -1, 1);
    p.a.inp = in, p.a.dout = dout;
    assert_int_equal(dl_calloc((void **)&p.a.out, (p.n_out + 1) * sizeof(float)), DL_OK);
    assert_int_equal(dl_calloc((void **)&p.a.argmax, (p.n_out + 1) * sizeof(int)), DL_OK);
    assert_int_equal(dl_calloc((void **)&p.a.dinp, (p.n_in + 1) * sizeof(float)), DL_OK);
    return p;
}

static void free_problem(problem *p) {
    dl_free((void *)p->a.inp), dl_free((void *)p->a.dout), dl_free(p->a.out);
    dl_free(p->a.argmax), dl_free(p->a.dinp);
}

static void run_both(const dl_variant *v, problem *p) {
    assert_int_equal(dl_maxpool_forward(v, &p->a), DL_OK);
    assert_int_equal(dl_maxpool_backward(v, &p->a), DL_OK);
}

static void test_every_variant_equals_ref_bit_for_bit(void **state) {
    (void)state; /* N, C, H, W, K, stride */
    static const int shapes[][6] = {{2, 3, 8, 8, 2, 2}, {2, 3, 7, 9, 2, 2},    {1, 1, 1, 1, 1, 1},
                                    {3, 2, 5, 5, 3, 1}, {2, 4, 28, 28, 2, 2},  {1, 2, 13, 11, 3, 2},
                                    {1, 1, 4, 4, 4, 4}, {2, 16, 14, 14, 2, 2}, {1, 3, 6, 6, 2, 1}};
    const dl_variant *ref = dl_variant_find("maxpool", "ref");
    int count;
    const dl_variant *const *vs = dl_variants("maxpool", &count);
    assert_true(count >= 2);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int *s = shapes[k];
        problem want = make_problem(s[0], s[1], s[2], s[3], s[4], s[5], k);
        run_both(ref, &want);
        for (int i = 0; i < count; i++) {
            if (vs[i]->device != DL_DEVICE_CPU) continue; /* CUDA rows: tests/gpu_conv.c */
            problem got = make_problem(s[0], s[1], s[2], s[3], s[4], s[5], k);
            run_both(vs[i], &got);
            assert_memory_equal(got.a.out, want.a.out, got.n_out * sizeof(float));
            assert_memory_equal(got.a.argmax, want.a.argmax, got.n_out * sizeof(int));
            assert_memory_equal(got.a.dinp, want.a.dinp, got.n_in * sizeof(float));
            free_problem(&got);
        }
        free_problem(&want);
    }
}

static double pool_loss(void *ctx) {
    problem *p = ctx;
    assert_int_equal(dl_maxpool_forward(dl_variant_find("maxpool", "ref"), &p->a), DL_OK);
    return gc_weighted_sum(p->a.out, p->a.dout, p->n_out);
}

static void test_ref_backward_matches_finite_differences(void **state) {
    (void)state;
    static const int shapes[][6] = {{2, 3, 7, 7, 2, 2}, {1, 2, 6, 6, 3, 1}, {1, 1, 5, 8, 3, 2}};
    for (int k = 0; k < 3; k++) {
        const int *s = shapes[k];
        problem p = make_problem(s[0], s[1], s[2], s[3], s[4], s[5], 20 + k);
        run_both(dl_variant_find("maxpool", "ref"), &p);
        size_t worst = 0;
        double err = gc_check((float *)p.a.inp, p.a.dinp, p.n_in, pool_loss, &p, 1e-2f, &worst);
        if (!(err < 2e-3)) fail_msg("shape %d: error %.3g at %zu", k, err, worst);
        free_problem(&p);
    }
}

static void test_odd_sizes_use_floor_mode_and_ignore_the_last_row_and_column(void **state) {
    (void)state;
    for (int i = 0; i < 2; i++) {
        const dl_variant *v = dl_variants("maxpool", NULL)[i];
        problem p = make_problem(1, 1, 5, 5, 2, 2, 30);
        assert_int_equal(dl_maxpool_out_h(&p.a), 2);
        for (int j = 0; j < 5; j++) /* make the uncovered row and column the largest values */
            ((float *)p.a.inp)[4 * 5 + j] = ((float *)p.a.inp)[j * 5 + 4] = 1e3f;
        run_both(v, &p);
        for (int o = 0; o < 4; o++)
            assert_true(p.a.out[o] < 1e3f);
        for (int j = 0; j < 5; j++)
            assert_true(p.a.dinp[4 * 5 + j] == 0 && p.a.dinp[j * 5 + 4] == 0);
        free_problem(&p);
    }
}

static void test_nan_wins_its_window_ties_go_to_the_first_and_inf_is_ordinary(void **state) {
    (void)state;
    int count;
    const dl_variant *const *vs = dl_variants("maxpool", &count);
    for (int i = 0; i < count; i++) {
        if (vs[i]->device != DL_DEVICE_CPU) continue; /* CUDA rows: tests/gpu_conv.c */
        /* one 4×4 plane, four 2×2 windows */
        const float in[16] = {
            1,         NAN,       3,        3, /* window 0: NaN at 1 (then another NaN at 5) */
            7,         NAN,       2,        3, /* window 1: tie 3,3,_,3 -> first (index 2) */
            -INFINITY, -INFINITY, INFINITY, 0, /* window 2 all -inf */
            -INFINITY, -INFINITY, 5,        INFINITY}; /* window 3: first +inf */
        float out[4], dinp[16] = {0};
        const float dout[4] = {1, 2, 3, 4};
        int argmax[4];
        dl_maxpool_args a = {.N = 1,
                             .C = 1,
                             .H = 4,
                             .W = 4,
                             .K = 2,
                             .stride = 2,
                             .inp = in,
                             .out = out,
                             .argmax = argmax,
                             .dout = dout,
                             .dinp = dinp};
        assert_int_equal(dl_maxpool_forward(vs[i], &a), DL_OK);
        assert_true(isnan(out[0]) && argmax[0] == 1);
        assert_true(out[1] == 3 && argmax[1] == 2);
        assert_true(out[2] == -INFINITY && argmax[2] == 8);
        assert_true(out[3] == INFINITY && argmax[3] == 10);
        assert_int_equal(dl_maxpool_backward(vs[i], &a), DL_OK);
        assert_true(dinp[1] == 1 && dinp[2] == 2 && dinp[8] == 3 && dinp[10] == 4);
    }
}

static void test_backward_adds_overlapping_windows_and_repeated_calls(void **state) {
    (void)state;
    int count;
    const dl_variant *const *vs = dl_variants("maxpool", &count);
    for (int i = 0; i < count; i++) {
        if (vs[i]->device != DL_DEVICE_CPU) continue; /* CUDA rows: tests/gpu_conv.c */
        /* 3×3 windows, stride 1, on a 4×4 plane whose max (at the centre-ish index 5) lies in
         * all four windows: its gradient is the sum of all four douts */
        float in[16] = {0}, out[4], dinp[16] = {0};
        in[5] = 9;
        const float dout[4] = {1, 2, 4, 8};
        int argmax[4];
        dl_maxpool_args a = {.N = 1,
                             .C = 1,
                             .H = 4,
                             .W = 4,
                             .K = 3,
                             .stride = 1,
                             .inp = in,
                             .out = out,
                             .argmax = argmax,
                             .dout = dout,
                             .dinp = dinp};
        assert_int_equal(dl_maxpool_forward(vs[i], &a), DL_OK);
        assert_int_equal(dl_maxpool_backward(vs[i], &a), DL_OK);
        assert_true(dinp[5] == 15);
        assert_int_equal(dl_maxpool_backward(vs[i], &a), DL_OK);
        assert_true(dinp[5] == 30);
        for (int j = 0; j < 16; j++)
            assert_true(j == 5 || dinp[j] == 0);
    }
}

static void test_bad_shapes_are_rejected_naming_the_field(void **state) {
    (void)state;
    float x[16] = {0};
    int am[16];
    dl_maxpool_args a = {
        .N = 1, .C = 1, .H = 2, .W = 4, .K = 3, .stride = 2, .inp = x, .out = x, .argmax = am};
    const dl_variant *v = dl_maxpool_best();
    assert_int_equal(dl_maxpool_forward(v, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "K=3"));
    a.K = 2, a.stride = 0;
    assert_int_equal(dl_maxpool_forward(v, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "stride"));
    a.stride = 2, a.argmax = NULL;
    assert_int_equal(dl_maxpool_forward(v, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "argmax"));
    a.argmax = am;
    assert_int_equal(dl_maxpool_backward(v, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "dout"));
    a.N = 0;
    assert_int_equal(dl_maxpool_forward(v, &a), DL_OK);
    assert_int_equal(dl_maxpool_forward(dl_variant_find("conv2d", "ref"), &a), DL_ERR_ARG);
    dl_maxpool_args costed = {.N = 64, .C = 16, .H = 28, .W = 28, .K = 2, .stride = 2};
    assert_true(v->cost(&costed).flops == 64.0 * 16 * 14 * 14 * 3);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_variant_equals_ref_bit_for_bit),
        cmocka_unit_test(test_ref_backward_matches_finite_differences),
        cmocka_unit_test(test_odd_sizes_use_floor_mode_and_ignore_the_last_row_and_column),
        cmocka_unit_test(test_nan_wins_its_window_ties_go_to_the_first_and_inf_is_ordinary),
        cmocka_unit_test(test_backward_adds_overlapping_windows_and_repeated_calls),
        cmocka_unit_test(test_bad_shapes_are_rejected_naming_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
