/* test_cnn.c — the CNN model: its whole backward against finite differences on a tiny
 * network, the fast ops against the ref ops, bad configurations, the default's shape and
 * memory, that a few AdamW steps lower the loss, the host copy of the parameters, and that
 * "cuda" without a GPU (or a CUDA build) is a clear DL_ERR_DEVICE. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/cnn.h"
#include "dlab/dlab.h"
#include "dlab/optim.h"
#include "gradcheck.h"

/* 8×6 (not square, so rows and columns cannot be swapped unnoticed) → pool 4×3 → pool 2×1:
 * the second pool drops a column (floor mode). */
enum { B = 2, IN_H = 8, IN_W = 6, C1 = 2, C2 = 3, HIDDEN = 5, CLASSES = 4 };

static dl_cnn_config tiny_config(void) {
    dl_cnn_config c = {.in_h = IN_H, .in_w = IN_W, .c1 = C1, .c2 = C2, .hidden = HIDDEN,
                       .classes = CLASSES};
    return c;
}

typedef struct loss_ctx {
    dl_cnn *m;
    const float *x;
    const int *y;
} loss_ctx;

static double cnn_loss(void *p) {
    loss_ctx *c = p;
    float loss = 0;
    assert_int_equal(dl_cnn_forward(c->m, c->x, c->y, B, &loss), DL_OK);
    return loss;
}

static void make_model_seeded(dl_cnn *m, const char *variants, float *x, int *y, uint64_t seed) {
    dl_cnn_config cfg = tiny_config();
    assert_int_equal(dl_cnn_create(m, &cfg, B, variants), DL_OK);
    dl_rng r;
    dl_rng_seed(&r, seed);
    assert_int_equal(dl_cnn_init(m, &r), DL_OK);
    /* Non-zero biases, so every parameter has a visible gradient. */
    float *biases[] = {m->conv1_b, m->conv2_b, m->fc1_b, m->fc2_b};
    int widths[] = {C1, C2, HIDDEN, CLASSES};
    for (int l = 0; l < 4; l++)
        for (int j = 0; j < widths[l]; j++) biases[l][j] = 0.05f * (float)(j + 1) * (j % 2 ? -1 : 1);
    dl_rng_fill_normal(&r, x, B * IN_H * IN_W, 0, 1);
    for (int i = 0; i < B; i++) y[i] = (int)dl_rng_below(&r, CLASSES);
}

static void make_model(dl_cnn *m, const char *variants, float *x, int *y) {
    make_model_seeded(m, variants, x, y, 11);
}

/* How close the last forward came to a kink: the smallest |ReLU input|, and the smallest
 * gap between the largest and the second largest value of a pool window whose largest is
 * positive (a window of ReLU zeros is no kink when its inputs keep clear of 0). Finite
 * differences are only valid when a step h moves no value across either. */
static float window_gap(const float *plane, int W, int y0, int x0) {
    float top = -INFINITY, second = -INFINITY;
    for (int dy = 0; dy < DL_CNN_POOL; dy++)
        for (int dx = 0; dx < DL_CNN_POOL; dx++) {
            float v = plane[(y0 + dy) * W + x0 + dx];
            if (v > top) second = top, top = v;
            else if (v > second) second = v;
        }
    return top > 0 ? top - second : INFINITY;
}

static float pool_gap(const float *inp, int planes, int H, int W) {
    float gap = INFINITY;
    for (int p = 0; p < planes; p++)
        for (int oy = 0; oy < H / DL_CNN_POOL; oy++)
            for (int ox = 0; ox < W / DL_CNN_POOL; ox++)
                gap = fminf(gap, window_gap(inp + (size_t)p * H * W, W, oy * DL_CNN_POOL,
                                            ox * DL_CNN_POOL));
    return gap;
}

static float closest_to_kink(const dl_cnn *m) {
    float closest = INFINITY;
    for (int i = 0; i < B * C1 * IN_H * IN_W; i++) closest = fminf(closest, fabsf(m->conv1[i]));
    for (int i = 0; i < B * C2 * m->h1 * m->w1; i++) closest = fminf(closest, fabsf(m->conv2[i]));
    for (int i = 0; i < B * HIDDEN; i++) closest = fminf(closest, fabsf(m->fc1[i]));
    closest = fminf(closest, pool_gap(m->relu1, B * C1, IN_H, IN_W));
    closest = fminf(closest, pool_gap(m->relu2, B * C2, m->h1, m->w1));
    return closest;
}

static void test_cnn_backward_matches_finite_differences_for_every_parameter(void **state) {
    (void)state;
    dl_cnn m;
    float x[B * IN_H * IN_W];
    int y[B];
    float loss;
    /* The first seed whose ReLU inputs and pool windows all keep clear of their kinks (fixed,
     * so the same model every run). A step of h = 1e-2 in one weight moves a value by about
     * h × one input of order 1, so a margin of 0.02 is enough; a wider one leaves no seed
     * among ~300 values this close to 0. */
    for (uint64_t seed = 1;; seed++) {
        make_model_seeded(&m, "ref", x, y, seed);
        assert_int_equal(dl_cnn_forward(&m, x, y, B, &loss), DL_OK);
        if (closest_to_kink(&m) > 0.02f) break;
        dl_cnn_free(&m);
        assert_true(seed < 2000);
    }
    assert_true(isfinite(loss) && loss > 0);
    assert_int_equal(dl_cnn_backward(&m), DL_OK);
    float *grads = malloc(m.n_params * sizeof(float));
    memcpy(grads, m.grads, m.n_params * sizeof(float));
    loss_ctx c = {&m, x, y};
    size_t worst = 0;
    double err = gc_check(m.params, grads, m.n_params, cnn_loss, &c, 1e-2f, &worst);
    if (!(err < 5e-3)) fail_msg("parameter %zu: relative error %.3g", worst, err);
    free(grads);
    dl_cnn_free(&m);
}

static void test_fast_ops_give_the_ref_loss_and_gradients(void **state) {
    (void)state;
    dl_cnn ref, fast;
    float x[B * IN_H * IN_W];
    int y[B];
    make_model(&ref, "ref", x, y);
    make_model(&fast, "fast", x, y);
    float lr, lf;
    assert_int_equal(dl_cnn_forward(&ref, x, y, B, &lr), DL_OK);
    assert_int_equal(dl_cnn_forward(&fast, x, y, B, &lf), DL_OK);
    assert_true(fabsf(lr - lf) <= 1e-5f * fabsf(lr));
    assert_int_equal(dl_cnn_backward(&ref), DL_OK);
    assert_int_equal(dl_cnn_backward(&fast), DL_OK);
    float scale = 0;
    for (size_t i = 0; i < ref.n_params; i++) scale = fmaxf(scale, fabsf(ref.grads[i]));
    assert_true(scale > 0);
    for (size_t i = 0; i < ref.n_params; i++)
        if (!(fabsf(ref.grads[i] - fast.grads[i]) <= 1e-4f * scale))
            fail_msg("gradient %zu: ref %g fast %g", i, ref.grads[i], fast.grads[i]);
    dl_cnn_free(&ref);
    dl_cnn_free(&fast);
}

/* A smaller batch than max_batch must give the same answer as a model sized for it: the
 * backward may not read stale gradients of rows the batch does not use. */
static void test_a_partial_batch_matches_a_model_of_that_size(void **state) {
    (void)state;
    dl_cnn big, exact;
    dl_cnn_config cfg = tiny_config();
    float x[3 * IN_H * IN_W];
    int y[3] = {1, 0, 3};
    dl_rng r;
    dl_rng_seed(&r, 5);
    dl_rng_fill_normal(&r, x, 3 * IN_H * IN_W, 0, 1);
    assert_int_equal(dl_cnn_create(&big, &cfg, 3, "fast"), DL_OK);
    assert_int_equal(dl_cnn_create(&exact, &cfg, 1, "fast"), DL_OK);
    dl_rng_seed(&r, 6);
    assert_int_equal(dl_cnn_init(&big, &r), DL_OK);
    memcpy(exact.params, big.params, big.n_params * sizeof(float));
    float loss_big, loss_exact;
    assert_int_equal(dl_cnn_forward(&big, x, y, 3, &loss_big), DL_OK); /* fills every row */
    assert_int_equal(dl_cnn_backward(&big), DL_OK);
    assert_int_equal(dl_cnn_forward(&big, x, y, 1, &loss_big), DL_OK);
    assert_int_equal(dl_cnn_backward(&big), DL_OK);
    assert_int_equal(dl_cnn_forward(&exact, x, y, 1, &loss_exact), DL_OK);
    assert_int_equal(dl_cnn_backward(&exact), DL_OK);
    assert_true(loss_big == loss_exact);
    assert_memory_equal(big.grads, exact.grads, big.n_params * sizeof(float));
    dl_cnn_free(&big);
    dl_cnn_free(&exact);
}

static void expect_refused(dl_cnn_config c, const char *field) {
    dl_cnn m;
    assert_int_equal(dl_cnn_create(&m, &c, 4, "fast"), DL_ERR_ARG);
    if (!strstr(dl_last_error(), field)) fail_msg("'%s' does not name %s", dl_last_error(), field);
}

static void test_bad_configurations_are_refused_naming_the_field(void **state) {
    (void)state;
    dl_cnn_config c = tiny_config();
    c.in_h = 3, expect_refused(c, "in_h");
    c = tiny_config(), c.in_w = 0, expect_refused(c, "in_w");
    c = tiny_config(), c.c1 = 0, expect_refused(c, "c1");
    c = tiny_config(), c.c2 = -1, expect_refused(c, "c2");
    c = tiny_config(), c.hidden = 0, expect_refused(c, "hidden");
    c = tiny_config(), c.classes = 0, expect_refused(c, "classes");
    dl_cnn m;
    c = tiny_config();
    assert_int_equal(dl_cnn_create(&m, &c, 0, "fast"), DL_ERR_ARG);
    assert_int_equal(dl_cnn_create(&m, &c, 4, "gpu"), DL_ERR_ARG);
    assert_int_equal(dl_cnn_create(&m, &c, 4, "ref"), DL_OK);
    assert_int_equal(dl_cnn_backward(&m), DL_ERR_ARG); /* nothing to differentiate yet */
    float x[8 * IN_H * IN_W] = {0};
    assert_int_equal(dl_cnn_forward(&m, x, NULL, 8, NULL), DL_ERR_ARG); /* over max_batch */
    dl_cnn_free(&m);
}

static void test_default_shape_and_memory_accounting(void **state) {
    (void)state;
    dl_cnn m;
    dl_cnn_config c = dl_cnn_default();
    assert_int_equal(dl_cnn_create(&m, &c, 64, "fast"), DL_OK);
    assert_int_equal(m.h2, 7);
    assert_int_equal(m.flat, 32 * 7 * 7);
    /* conv1 16·25+16, conv2 32·16·25+32, fc1 128·1568+128, fc2 10·128+10 = 215 370 */
    assert_int_equal(m.n_params, 215370);
    dl_mem_report r = dl_cnn_memory(&m);
    assert_int_equal(r.params, m.n_params * 4);
    assert_int_equal(r.grads, r.params);
    /* at least conv1, relu1 and their gradients: 4 · 64·16·28·28 floats */
    assert_true(r.activations > (size_t)4 * 64 * 16 * 28 * 28 * 4);
    dl_cnn_free(&m);
}

static void test_fifty_adamw_steps_halve_the_loss(void **state) {
    (void)state;
    dl_cnn m;
    float x[B * IN_H * IN_W];
    int y[B];
    make_model(&m, "fast", x, y);
    float *mom = calloc(m.n_params, sizeof(float)), *var = calloc(m.n_params, sizeof(float));
    float first = 0, loss = 0;
    const dl_variant *opt = dl_variant_best_cpu("optim");
    for (int step = 1; step <= 50; step++) {
        assert_int_equal(dl_cnn_forward(&m, x, y, B, &loss), DL_OK);
        if (step == 1) first = loss;
        assert_int_equal(dl_cnn_backward(&m), DL_OK);
        dl_adamw_args a = {.n = m.n_params, .param = m.params, .grad = m.grads, .m = mom, .v = var,
                           .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                           .weight_decay = 0, .step = step};
        assert_int_equal(dl_adamw_run(opt, &a), DL_OK);
    }
    if (!(loss < 0.5f * first)) fail_msg("loss %g after 50 steps, %g at the first", loss, first);
    free(mom), free(var);
    dl_cnn_free(&m);
}

static void test_params_round_trip_through_the_host_copy(void **state) {
    (void)state;
    dl_cnn a, b;
    float x[B * IN_H * IN_W], x_other[B * IN_H * IN_W];
    int y[B], y_other[B];
    make_model(&a, "fast", x, y);
    make_model_seeded(&b, "fast", x_other, y_other, 12); /* other weights, then a's */
    float *host = malloc(a.n_params * sizeof(float));
    assert_non_null(host);
    assert_int_equal(dl_cnn_params_to_host(&a, host), DL_OK);
    assert_memory_equal(host, a.params, a.n_params * sizeof(float)); /* CPU: the same bytes */
    assert_int_equal(dl_cnn_params_from_host(&b, host), DL_OK);
    assert_memory_equal(b.params, a.params, a.n_params * sizeof(float));
    float la, lb;
    assert_int_equal(dl_cnn_forward(&a, x, y, B, &la), DL_OK);
    assert_int_equal(dl_cnn_forward(&b, x, y, B, &lb), DL_OK);
    assert_true(la == lb);
    assert_int_equal(dl_cnn_params_to_host(&a, NULL), DL_ERR_ARG);
    free(host);
    dl_cnn_free(&a);
    dl_cnn_free(&b);
}

static void test_cuda_without_a_gpu_is_a_device_error_with_a_reason(void **state) {
    (void)state;
    dl_cnn m;
    dl_cnn_config c = tiny_config();
    dl_status s = dl_cnn_create(&m, &c, B, "cuda");
    if (dl_cuda_device_count() > 0) { /* a GPU here: the model is made there */
        assert_int_equal(s, DL_OK);
        assert_int_equal(m.ops->device, DL_DEVICE_CUDA);
        assert_string_equal(m.conv->name, "cudnn");
        dl_cnn_free(&m);
        return;
    }
    assert_int_equal(s, DL_ERR_DEVICE);
    assert_non_null(strstr(dl_last_error(), "CUDA"));
    assert_null(m.params);
    dl_cnn_free(&m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_round_trip_through_the_host_copy),
        cmocka_unit_test(test_cuda_without_a_gpu_is_a_device_error_with_a_reason),
        cmocka_unit_test(test_cnn_backward_matches_finite_differences_for_every_parameter),
        cmocka_unit_test(test_fast_ops_give_the_ref_loss_and_gradients),
        cmocka_unit_test(test_a_partial_batch_matches_a_model_of_that_size),
        cmocka_unit_test(test_bad_configurations_are_refused_naming_the_field),
        cmocka_unit_test(test_default_shape_and_memory_accounting),
        cmocka_unit_test(test_fifty_adamw_steps_halve_the_loss),
    };
    return cmocka_run_group_tests_name("cnn", tests, NULL, NULL);
}
