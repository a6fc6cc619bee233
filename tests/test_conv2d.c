/* test_conv2d.c — the "conv2d" family and its lowering: every variant against the direct
 * convolution (forward and all three gradients), ref's gradients against finite differences,
 * im2col / col2im properties (adjointness, exact round trip for non-overlapping windows,
 * coverage counts, images side by side), NaN locality, bad shapes. */
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
    dl_conv2d_args a;
    size_t n_inp, n_w, n_out;
} problem;

static float *alloc_floats(size_t n) {
    float *p = NULL;
    assert_int_equal(dl_calloc((void **)&p, (n ? n : 1) * sizeof(float)), DL_OK);
    return p;
}

/* shape: N, C_in, H, W, C_out, KH, KW, stride, pad */
static problem make_problem(const int *s, bool bias, uint64_t seed) {
    problem p = {.a = {.N = s[0],
                       .C_in = s[1],
                       .H = s[2],
                       .W = s[3],
                       .C_out = s[4],
                       .KH = s[5],
                       .KW = s[6],
                       .stride = s[7],
                       .pad = s[8]}};
    const int OH = dl_conv2d_out_h(&p.a), OW = dl_conv2d_out_w(&p.a);
    p.n_inp = (size_t)s[0] * s[1] * s[2] * s[3], p.n_w = (size_t)s[4] * s[1] * s[5] * s[6];
    p.n_out = (size_t)s[0] * s[4] * OH * OW;
    dl_rng r;
    dl_rng_seed(&r, seed);
    float *inp = alloc_floats(p.n_inp), *w = alloc_floats(p.n_w), *b = alloc_floats(s[4]);
    float *dout = alloc_floats(p.n_out);
    dl_rng_fill_uniform(&r, inp, p.n_inp, -1, 1), dl_rng_fill_uniform(&r, w, p.n_w, -1, 1);
    dl_rng_fill_uniform(&r, b, (size_t)s[4], -1, 1), dl_rng_fill_uniform(&r, dout, p.n_out, -1, 1);
    p.a.inp = inp, p.a.weight = w, p.a.bias = bias ? b : NULL, p.a.dout = dout;
    if (!bias) dl_free(b);
    p.a.out = alloc_floats(p.n_out), p.a.dinp = alloc_floats(p.n_inp);
    p.a.dweight = alloc_floats(p.n_w), p.a.dbias = alloc_floats((size_t)s[4]);
    /* backward must add to what is there */
    dl_rng_fill_uniform(&r, p.a.dinp, p.n_inp, -1, 1);
    dl_rng_fill_uniform(&r, p.a.dweight, p.n_w, -1, 1);
    dl_rng_fill_uniform(&r, p.a.dbias, (size_t)s[4], -1, 1);
    return p;
}

static void free_problem(problem *p) {
    dl_free((void *)p->a.inp), dl_free((void *)p->a.weight), dl_free((void *)p->a.bias);
    dl_free((void *)p->a.dout), dl_free(p->a.out), dl_free(p->a.dinp), dl_free(p->a.dweight);
    dl_free(p->a.dbias);
}

static void expect_close(const char *what, const char *variant, const float *got, const float *want,
                         size_t n, double tol) {
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]) / (1.0 + fabs((double)want[i]));
        if (!(err <= tol))
            fail_msg("%s of %s at %zu: %.8g, ref %.8g", what, variant, i, got[i], want[i]);
    }
}

static const int SHAPES[][9] = {
    {2, 3, 7, 7, 4, 3, 3, 1, 0},    {2, 3, 7, 7, 4, 3, 3, 1, 1},    {2, 3, 7, 7, 4, 3, 3, 2, 0},
    {2, 3, 7, 7, 4, 3, 3, 2, 1},    {1, 1, 1, 1, 1, 1, 1, 1, 0},    {3, 2, 5, 9, 3, 2, 4, 3, 2},
    {2, 1, 28, 28, 16, 5, 5, 1, 2}, {9, 64, 16, 16, 8, 3, 3, 1, 1}, /* two groups of images */
    {1, 2, 6, 6, 5, 7, 7, 1, 1},                                    /* kernel = padded input */
};

static void test_every_variant_matches_the_direct_convolution(void **state) {
    (void)state;
    const dl_variant *ref = dl_variant_find("conv2d", "ref");
    int count;
    const dl_variant *const *vs = dl_variants("conv2d", &count);
    assert_true(count >= 3);
    for (size_t k = 0; k < sizeof SHAPES / sizeof SHAPES[0]; k++)
        for (int bias = 0; bias < 2; bias++) {
            problem want = make_problem(SHAPES[k], bias, 10 + k);
            assert_int_equal(dl_conv2d_forward(ref, &want.a), DL_OK);
            assert_int_equal(dl_conv2d_backward(ref, &want.a), DL_OK);
            for (int i = 0; i < count; i++) {
                if (vs[i] == ref) continue;
                if (vs[i]->device != DL_DEVICE_CPU) continue; /* CUDA rows: tests/gpu_conv.c */
                problem got = make_problem(SHAPES[k], bias, 10 + k);
                assert_int_equal(dl_conv2d_forward(vs[i], &got.a), DL_OK);
                assert_int_equal(dl_conv2d_backward(vs[i], &got.a), DL_OK);
                /* fp32 sums of up to 576 (out) or 2304 (dweight) products of O(1) terms */
                expect_close("out", vs[i]->name, got.a.out, want.a.out, got.n_out, 1e-4);
                expect_close("dinp", vs[i]->name, got.a.dinp, want.a.dinp, got.n_inp, 1e-4);
                expect_close("dweight", vs[i]->name, got.a.dweight, want.a.dweight, got.n_w, 2e-4);
                expect_close("dbias", vs[i]->name, got.a.dbias, want.a.dbias, SHAPES[k][4], 1e-5);
                free_problem(&got);
            }
            free_problem(&want);
        }
}

static double conv_loss(void *ctx) {
    problem *p = ctx;
    assert_int_equal(dl_conv2d_forward(dl_variant_find("conv2d", "ref"), &p->a), DL_OK);
    return gc_weighted_sum(p->a.out, p->a.dout, p->n_out);
}

static void test_ref_gradients_match_finite_differences(void **state) {
    (void)state;
    for (int k = 0; k < 4; k++) { /* stride 1 and 2, pad 0 and 1 */
        problem p = make_problem(SHAPES[k], true, 3);
        memset(p.a.dinp, 0, p.n_inp * sizeof(float));
        memset(p.a.dweight, 0, p.n_w * sizeof(float));
        memset(p.a.dbias, 0, (size_t)p.a.C_out * sizeof(float));
        assert_int_equal(dl_conv2d_backward(dl_variant_find("conv2d", "ref"), &p.a), DL_OK);
        /* the loss is linear in each of inp, weight, bias, so a central difference has no
         * truncation error at any h: a large h shrinks the fp32 rounding noise instead */
        const float h = 0.25f;
        double e_in = gc_check((float *)p.a.inp, p.a.dinp, p.n_inp, conv_loss, &p, h, NULL);
        double e_w = gc_check((float *)p.a.weight, p.a.dweight, p.n_w, conv_loss, &p, h, NULL);
        double e_b =
            gc_check((float *)p.a.bias, p.a.dbias, (size_t)p.a.C_out, conv_loss, &p, h, NULL);
        if (!(e_in < 2e-3 && e_w < 2e-3 && e_b < 2e-3))
            fail_msg("shape %d: errors inp %.3g weight %.3g bias %.3g", k, e_in, e_w, e_b);
        free_problem(&p);
    }
}

static void test_null_gradients_are_skipped_and_others_still_accumulate(void **state) {
    (void)state;
    int count;
    const dl_variant *const *vs = dl_variants("conv2d", &count);
    for (int i = 0; i < count; i++) {
        if (vs[i]->device != DL_DEVICE_CPU) continue; /* CUDA rows: tests/gpu_conv.c */
        problem p = make_problem(SHAPES[1], true, 4);
        float *dinp = p.a.dinp, *dbias = p.a.dbias;
        float dbias0 = dbias[0];
        p.a.dinp = NULL, p.a.dbias = NULL;
        memset(p.a.dweight, 0, p.n_w * sizeof(float));
        assert_int_equal(dl_conv2d_backward(vs[i], &p.a), DL_OK);
        float first = p.a.dweight[5];
        assert_int_equal(dl_conv2d_backward(vs[i], &p.a), DL_OK);
        assert_float_equal(p.a.dweight[5], 2 * first, 1e-5 * (1 + fabsf(first)));
        assert_true(dbias[0] == dbias0);
        p.a.dinp = dinp, p.a.dbias = dbias;
        free_problem(&p);
    }
}

static void test_a_nan_pixel_reaches_exactly_the_windows_that_cover_it(void **state) {
    (void)state;
    const int s[9] = {1, 1, 7, 7, 2, 3, 3, 1, 0}; /* 5×5 outputs; pixel (3,3) */
    int count;
    const dl_variant *const *vs = dl_variants("conv2d", &count);
    for (int i = 0; i < count; i++) {
        if (vs[i]->device != DL_DEVICE_CPU) continue; /* CUDA rows: tests/gpu_conv.c */
        problem p = make_problem(s, true, 5);
        ((float *)p.a.inp)[3 * 7 + 3] = NAN;
        assert_int_equal(dl_conv2d_forward(vs[i], &p.a), DL_OK);
        for (int co = 0; co < 2; co++)
            for (int oh = 0; oh < 5; oh++)
                for (int ow = 0; ow < 5; ow++) {
                    bool covers = oh >= 1 && oh <= 3 && ow >= 1 && ow <= 3;
                    assert_int_equal(isnan(p.a.out[(co * 5 + oh) * 5 + ow]) != 0, covers);
                }
        free_problem(&p);
    }
}

/* ------------------------------------------------------------ im2col / col2im */

static const dl_patch_shape PATCHES[] = {
    {3, 7, 7, 3, 3, 1, 0}, {3, 7, 7, 3, 3, 2, 1}, {2, 5, 9, 2, 4, 3, 2},
    {1, 1, 1, 1, 1, 1, 0}, {4, 8, 6, 2, 2, 2, 0}, {1, 6, 6, 7, 7, 1, 1},
};

static int out_size(int n, int k, int s, int p) { return (n + 2 * p - k) / s + 1; }

static void test_col2im_is_the_adjoint_of_im2col(void **state) {
    (void)state; /* <im2col(x), y> == <x, col2im(y)> for every x, y */
    dl_rng r;
    dl_rng_seed(&r, 8);
    for (size_t k = 0; k < sizeof PATCHES / sizeof PATCHES[0]; k++) {
        const dl_patch_shape *p = &PATCHES[k];
        const long P = (long)out_size(p->H, p->KH, p->stride, p->pad) *
                       out_size(p->W, p->KW, p->stride, p->pad);
        const size_t n_img = (size_t)p->C * p->H * p->W, n_cols = (size_t)p->C * p->KH * p->KW * P;
        float *x = alloc_floats(n_img), *y = alloc_floats(n_cols);
        float *cx = alloc_floats(n_cols), *ty = alloc_floats(n_img);
        dl_rng_fill_uniform(&r, x, n_img, -1, 1), dl_rng_fill_uniform(&r, y, n_cols, -1, 1);
        assert_int_equal(dl_im2col(p, x, cx, P), DL_OK);
        assert_int_equal(dl_col2im(p, y, P, ty), DL_OK);
        double lhs = gc_weighted_sum(cx, y, n_cols), rhs = gc_weighted_sum(x, ty, n_img);
        assert_float_equal(lhs, rhs, 1e-5 * (1 + fabs(lhs)));
        dl_free(x), dl_free(y), dl_free(cx), dl_free(ty);
    }
}

static void test_round_trip_multiplies_each_pixel_by_its_window_count(void **state) {
    (void)state;
    const dl_patch_shape p = {2, 6, 7, 3, 3, 1, 1}; /* overlapping, padded ("same") */
    const long P = 6 * 7;
    float x[84], ones[84], back[84] = {0}, count[84] = {0}, cols[2 * 9 * 42];
    dl_rng r;
    dl_rng_seed(&r, 9);
    dl_rng_fill_uniform(&r, x, 84, -1, 1);
    for (int i = 0; i < 84; i++)
        ones[i] = 1;
    assert_int_equal(dl_im2col(&p, ones, cols, P), DL_OK);
    assert_int_equal(dl_col2im(&p, cols, P, count), DL_OK);
    assert_int_equal(dl_im2col(&p, x, cols, P), DL_OK);
    assert_int_equal(dl_col2im(&p, cols, P, back), DL_OK);
    assert_true(count[0] == 4 && count[8] == 9 && count[6] == 4); /* corner, interior, corner */
    for (int i = 0; i < 84; i++)
        assert_float_equal(back[i], x[i] * count[i], 1e-6);
}

static void test_round_trip_is_exact_when_windows_tile_the_image(void **state) {
    (void)state; /* window = stride, no padding: every pixel in exactly one window... */
    const dl_patch_shape tiles[] = {{2, 6, 6, 2, 2, 2, 0}, {1, 6, 9, 3, 3, 3, 0}};
    float x[81], back[81], cols[81];
    dl_rng r;
    dl_rng_seed(&r, 10);
    for (int k = 0; k < 2; k++) {
        const dl_patch_shape *p = &tiles[k];
        const int n = p->C * p->H * p->W;
        const long P = (long)(p->H / p->stride) * (p->W / p->stride);
        dl_rng_fill_uniform(&r, x, (size_t)n, -1, 1);
        memset(back, 0, sizeof back);
        assert_int_equal(dl_im2col(p, x, cols, P), DL_OK);
        assert_int_equal(dl_col2im(p, cols, P, back), DL_OK);
        assert_memory_equal(back, x, (size_t)n * sizeof(float));
    }
    /* ...and when H, W are not multiples of the stride, the last row and column are in no
     * window (floor mode): they come back as 0 */
    const dl_patch_shape odd = {1, 7, 7, 2, 2, 2, 0};
    dl_rng_fill_uniform(&r, x, 49, -1, 1);
    memset(back, 0, sizeof back);
    assert_int_equal(dl_im2col(&odd, x, cols, 9), DL_OK);
    assert_int_equal(dl_col2im(&odd, cols, 9, back), DL_OK);
    for (int y = 0; y < 7; y++)
        for (int c = 0; c < 7; c++)
            assert_true(back[y * 7 + c] == (y == 6 || c == 6 ? 0.0f : x[y * 7 + c]));
}

static void test_im2col_places_patches_as_documented(void **state) {
    (void)state; /* 1 channel 3×3 image 1..9, 2×2 windows, stride 1: four 2×2 patches */
    const dl_patch_shape p = {1, 3, 3, 2, 2, 1, 0};
    const float img[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const float want[16] = {1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9};
    float cols[2 * 16];
    assert_int_equal(dl_im2col(&p, img, cols, 4), DL_OK);
    assert_memory_equal(cols, want, sizeof want);
    /* the same image twice, side by side (ld_cols = 8), gives each block unchanged */
    assert_int_equal(dl_im2col(&p, img, cols, 8), DL_OK);
    assert_int_equal(dl_im2col(&p, img, cols + 4, 8), DL_OK);
    for (int row = 0; row < 4; row++) {
        assert_memory_equal(cols + row * 8, want + row * 4, 4 * sizeof(float));
        assert_memory_equal(cols + row * 8 + 4, want + row * 4, 4 * sizeof(float));
    }
    /* padding 1 and stride 2: 2×2 outputs, zeros where the window hangs over the border */
    const dl_patch_shape q = {1, 3, 3, 2, 2, 2, 1};
    const float want_q[16] = {0, 0, 0, 5, 0, 0, 4, 6, 0, 2, 0, 8, 1, 3, 7, 9};
    assert_int_equal(dl_im2col(&q, img, cols, 4), DL_OK);
    assert_memory_equal(cols, want_q, sizeof want_q);
    assert_int_equal(dl_im2col(&q, img, cols, 3), DL_ERR_ARG); /* ld_cols < OH·OW */
}

static void test_bad_shapes_are_rejected_naming_the_field(void **state) {
    (void)state;
    float x[64] = {0};
    dl_conv2d_args a = {.N = 1,
                        .C_in = 1,
                        .H = 4,
                        .W = 4,
                        .C_out = 1,
                        .KH = 7,
                        .KW = 3,
                        .stride = 1,
                        .pad = 1,
                        .inp = x,
                        .weight = x,
                        .out = x};
    const dl_variant *v = dl_conv2d_best();
    assert_int_equal(dl_conv2d_forward(v, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "kernel"));
    a.KH = 3, a.stride = 0;
    assert_int_equal(dl_conv2d_forward(v, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "stride"));
    a.stride = 1, a.pad = -1;
    assert_int_equal(dl_conv2d_forward(v, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "pad"));
    a.pad = 0, a.weight = NULL;
    assert_int_equal(dl_conv2d_forward(v, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "weight"));
    a.weight = x;
    assert_int_equal(dl_conv2d_backward(v, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "dout"));
    a.N = 0; /* an empty batch is fine */
    assert_int_equal(dl_conv2d_forward(v, &a), DL_OK);
    dl_conv2d_args costed = {
        .N = 64, .C_in = 1, .H = 28, .W = 28, .C_out = 16, .KH = 5, .KW = 5, .stride = 1, .pad = 2};
    assert_true(v->cost(&costed).flops == 2.0 * 64 * 16 * 784 * 25);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_variant_matches_the_direct_convolution),
        cmocka_unit_test(test_ref_gradients_match_finite_differences),
        cmocka_unit_test(test_null_gradients_are_skipped_and_others_still_accumulate),
        cmocka_unit_test(test_a_nan_pixel_reaches_exactly_the_windows_that_cover_it),
        cmocka_unit_test(test_col2im_is_the_adjoint_of_im2col),
        cmocka_unit_test(test_round_trip_multiplies_each_pixel_by_its_window_count),
        cmocka_unit_test(test_round_trip_is_exact_when_windows_tile_the_image),
        cmocka_unit_test(test_im2col_places_patches_as_documented),
        cmocka_unit_test(test_bad_shapes_are_rejected_naming_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
