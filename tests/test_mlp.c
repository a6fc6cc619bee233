/* test_mlp.c — the MLP model: its whole backward against finite differences, the fast ops
 * against the ref ops, bad configurations, that a few steps of training lower the loss, the
 * host copy of the parameters, the CPU backend's choice of variants, and that "cuda" on a
 * machine without a GPU (or a build without CUDA) is a clear DL_ERR_DEVICE. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/dlab.h"
#include "dlab/mlp.h"
#include "dlab/optim.h"
#include "gradcheck.h"

enum { B = 5, IN = 7, H1 = 6, H2 = 4, CLASSES = 3 };

static dl_mlp_config small_config(void) {
    dl_mlp_config c = {.inputs = IN, .n_hidden = 2, .hidden = {H1, H2}, .classes = CLASSES};
    return c;
}

typedef struct loss_ctx {
    dl_mlp *m;
    const float *x;
    const int *y;
} loss_ctx;

static double mlp_loss(void *p) {
    loss_ctx *c = p;
    float loss = 0;
    assert_int_equal(dl_mlp_forward(c->m, c->x, c->y, B, &loss), DL_OK);
    return loss;
}

static void make_model_seeded(dl_mlp *m, const char *variants, float *x, int *y, uint64_t seed) {
    dl_mlp_config cfg = small_config();
    assert_int_equal(dl_mlp_create(m, &cfg, B, variants), DL_OK);
    dl_rng r;
    dl_rng_seed(&r, seed);
    assert_int_equal(dl_mlp_init(m, &r), DL_OK);
    /* Non-zero biases, so every parameter has a visible gradient. */
    for (int l = 0; l < m->n_layers; l++)
        for (int j = 0; j < (l == 0 ? H1 : l == 1 ? H2 : CLASSES); j++) m->b[l][j] = 0.05f * (float)(j + 1);
    dl_rng_fill_normal(&r, x, B * IN, 0, 1);
    for (int i = 0; i < B; i++) y[i] = (int)dl_rng_below(&r, CLASSES);
}

static void make_model(dl_mlp *m, const char *variants, float *x, int *y) {
    make_model_seeded(m, variants, x, y, 11);
}

/* Smallest |pre-activation| of any hidden unit: finite differences with step h are only
 * valid when no ReLU input is within about h·|x| of its kink at 0. */
static float closest_to_kink(const dl_mlp *m) {
    float closest = INFINITY;
    for (int l = 0; l < m->cfg.n_hidden; l++)
        for (int i = 0; i < B * m->cfg.hidden[l]; i++) closest = fminf(closest, fabsf(m->pre[l][i]));
    return closest;
}

static void test_mlp_backward_matches_finite_differences_for_every_parameter(void **state) {
    (void)state;
    dl_mlp m;
    float x[B * IN];
    int y[B];
    float loss;
    /* The first seed whose pre-activations all keep clear of the ReLU kink (fixed, so the
     * same model every run). */
    for (uint64_t seed = 1;; seed++) {
        make_model_seeded(&m, "ref", x, y, seed);
        assert_int_equal(dl_mlp_forward(&m, x, y, B, &loss), DL_OK);
        if (closest_to_kink(&m) > 0.1f) break;
        dl_mlp_free(&m);
        assert_true(seed < 1000);
    }
    assert_true(isfinite(loss) && loss > 0);
    assert_int_equal(dl_mlp_backward(&m), DL_OK);
    float *grads = malloc(m.n_params * sizeof(float));
    memcpy(grads, m.grads, m.n_params * sizeof(float));
    loss_ctx c = {&m, x, y};
    size_t worst = 0;
    double err = gc_check(m.params, grads, m.n_params, mlp_loss, &c, 1e-2f, &worst);
    if (!(err < 5e-3)) fail_msg("parameter %zu: relative error %.3g", worst, err);
    free(grads);
    dl_mlp_free(&m);
}

static void test_fast_ops_give_the_ref_loss_and_gradients(void **state) {
    (void)state;
    dl_mlp ref, fast;
    float x[B * IN];
    int y[B];
    make_model(&ref, "ref", x, y);
    make_model(&fast, "fast", x, y);
    float lr, lf;
    assert_int_equal(dl_mlp_forward(&ref, x, y, B, &lr), DL_OK);
    assert_int_equal(dl_mlp_forward(&fast, x, y, B, &lf), DL_OK);
    assert_true(fabsf(lr - lf) <= 1e-5f * fabsf(lr));
    assert_int_equal(dl_mlp_backward(&ref), DL_OK);
    assert_int_equal(dl_mlp_backward(&fast), DL_OK);
    float scale = 0;
    for (size_t i = 0; i < ref.n_params; i++) scale = fmaxf(scale, fabsf(ref.grads[i]));
    for (size_t i = 0; i < ref.n_params; i++)
        if (!(fabsf(ref.grads[i] - fast.grads[i]) <= 1e-4f * scale))
            fail_msg("gradient %zu: ref %g fast %g", i, ref.grads[i], fast.grads[i]);
    dl_mlp_free(&ref);
    dl_mlp_free(&fast);
}

static void test_bad_configurations_are_refused(void **state) {
    (void)state;
    dl_mlp m;
    dl_mlp_config c = small_config();
    c.hidden[1] = 0;
    assert_int_equal(dl_mlp_create(&m, &c, 4, "fast"), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "hidden[1]"));
    c = small_config();
    c.n_hidden = DL_MLP_MAX_LAYERS;
    assert_int_equal(dl_mlp_create(&m, &c, 4, "fast"), DL_ERR_ARG);
    c = small_config();
    assert_int_equal(dl_mlp_create(&m, &c, 0, "fast"), DL_ERR_ARG);
    assert_int_equal(dl_mlp_create(&m, &c, 4, "gpu"), DL_ERR_ARG);
    assert_int_equal(dl_mlp_create(&m, &c, 4, "ref"), DL_OK);
    float x[8 * IN] = {0};
    assert_int_equal(dl_mlp_forward(&m, x, NULL, 8, NULL), DL_ERR_ARG); /* over max_batch */
    dl_mlp_free(&m);
}

static void test_lenet_shape_and_memory_accounting(void **state) {
    (void)state;
    dl_mlp m;
    dl_mlp_config c = dl_mlp_lenet_300_100();
    assert_int_equal(dl_mlp_create(&m, &c, 64, "fast"), DL_OK);
    /* 784·300+300 + 300·100+100 + 100·10+10 = 266 610, the published LeNet-300-100 count */
    assert_int_equal(m.n_params, 266610);
    dl_mem_report r = dl_mlp_memory(&m);
    assert_int_equal(r.params, 266610 * 4);
    assert_int_equal(r.grads, r.params);
    assert_true(r.activations > 64 * (784 + 300 + 100 + 10) * 4);
    dl_mlp_free(&m);
}

static void test_a_hundred_adamw_steps_halve_the_loss(void **state) {
    (void)state;
    dl_mlp m;
    float x[B * IN];
    int y[B];
    make_model(&m, "fast", x, y);
    float *mom = calloc(m.n_params, sizeof(float)), *var = calloc(m.n_params, sizeof(float));
    float first = 0, loss = 0;
    const dl_variant *opt = dl_variant_best_cpu("optim");
    for (int step = 1; step <= 100; step++) {
        assert_int_equal(dl_mlp_forward(&m, x, y, B, &loss), DL_OK);
        if (step == 1) first = loss;
        assert_int_equal(dl_mlp_backward(&m), DL_OK);
        dl_adamw_args a = {.n = m.n_params, .param = m.params, .grad = m.grads, .m = mom, .v = var,
                           .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                           .weight_decay = 0, .step = step};
        assert_int_equal(dl_adamw_run(opt, &a), DL_OK);
    }
    if (!(loss < 0.5f * first)) fail_msg("loss %g after 100 steps, %g at the first", loss, first);
    free(mom), free(var);
    dl_mlp_free(&m);
}

static void test_params_round_trip_through_the_host_copy(void **state) {
    (void)state;
    dl_mlp a, b;
    float x[B * IN];
    int y[B];
    make_model(&a, "fast", x, y);
    make_model(&b, "fast", x, y);
    float *host = malloc(a.n_params * sizeof(float));
    assert_non_null(host);
    assert_int_equal(dl_mlp_params_to_host(&a, host), DL_OK);
    assert_memory_equal(host, a.params, a.n_params * sizeof(float)); /* CPU: the same bytes */
    dl_rng r;
    dl_rng_seed(&r, 99);
    assert_int_equal(dl_mlp_init(&b, &r), DL_OK); /* other weights, then a's back */
    assert_int_equal(dl_mlp_params_from_host(&b, host), DL_OK);
    assert_memory_equal(b.params, a.params, a.n_params * sizeof(float));
    float la, lb;
    assert_int_equal(dl_mlp_forward(&a, x, y, B, &la), DL_OK);
    assert_int_equal(dl_mlp_forward(&b, x, y, B, &lb), DL_OK);
    assert_true(la == lb);
    assert_int_equal(dl_mlp_params_to_host(NULL, host), DL_ERR_ARG);
    assert_int_equal(dl_mlp_params_from_host(&b, NULL), DL_ERR_ARG);
    free(host);
    dl_mlp_free(&a);
    dl_mlp_free(&b);
}

static void test_fast_runs_the_cpu_backends_variants(void **state) {
    (void)state;
    dl_mlp m;
    dl_mlp_config c = small_config();
    assert_int_equal(dl_mlp_create(&m, &c, 4, "fast"), DL_OK);
    assert_ptr_equal(m.ops, dl_backend_cpu());
    assert_ptr_equal(m.linear, dl_variant_best_cpu("linear"));
    assert_ptr_equal(m.relu, dl_variant_best_cpu("relu"));
    assert_ptr_equal(m.xent, dl_variant_best_cpu("softmax_xent"));
    assert_null(m.mean_loss_dev); /* the CPU writes the loss straight to the caller */
    dl_mlp_free(&m);
}

/* The gradient hook fires once per layer, last first, with that layer's dW (and db after it)
 * already final; what it does to them (here: halve) is what the backward leaves; a failing
 * hook ends the backward with its status; removing it restores the plain gradients. */
typedef struct grad_log {
    const dl_mlp *m;
    int calls, bad;
    dl_status fail_with;
} grad_log;

static dl_status halving_hook(void *ctx, int layer, float *grads, size_t count) {
    grad_log *g = ctx;
    const int out = layer == 0 ? H1 : layer == 1 ? H2 : CLASSES, in = layer == 0 ? IN : layer == 1 ? H1 : H2;
    if (layer != g->m->n_layers - 1 - g->calls || grads != g->m->dW[layer] || count != (size_t)out * (in + 1) ||
        g->m->db[layer] != grads + (size_t)out * in)
        g->bad++;
    g->calls++;
    if (g->fail_with != DL_OK) return DL_FAIL(g->fail_with, "planted hook failure");
    for (size_t i = 0; i < count; i++) grads[i] *= 0.5f;
    return DL_OK;
}

static void test_the_grad_hook_sees_each_layer_once_last_first(void **state) {
    (void)state;
    dl_mlp m;
    float x[B * IN];
    int y[B];
    make_model(&m, "fast", x, y);
    float loss;
    assert_int_equal(dl_mlp_forward(&m, x, y, B, &loss), DL_OK);
    assert_int_equal(dl_mlp_backward(&m), DL_OK);
    float *plain = malloc(m.n_params * sizeof(float));
    memcpy(plain, m.grads, m.n_params * sizeof(float));
    grad_log g = {.m = &m};
    dl_mlp_set_grad_hook(&m, halving_hook, &g);
    assert_int_equal(dl_mlp_backward(&m), DL_OK);
    assert_int_equal(g.calls, m.n_layers);
    assert_int_equal(g.bad, 0);
    for (size_t i = 0; i < m.n_params; i++) assert_true(m.grads[i] == 0.5f * plain[i]);
    g.calls = 0, g.fail_with = DL_ERR_DEVICE;
    assert_int_equal(dl_mlp_backward(&m), DL_ERR_DEVICE);
    assert_int_equal(g.calls, 1);
    dl_mlp_set_grad_hook(&m, NULL, NULL);
    assert_int_equal(dl_mlp_backward(&m), DL_OK);
    assert_memory_equal(m.grads, plain, m.n_params * sizeof(float));
    free(plain);
    dl_mlp_free(&m);
}

static void test_cuda_without_a_gpu_is_a_device_error_with_a_reason(void **state) {
    (void)state;
    dl_mlp m;
    dl_mlp_config c = small_config();
    dl_status s = dl_mlp_create(&m, &c, 4, "cuda");
    if (dl_cuda_device_count() > 0) { /* a GPU here: the model is made there */
        assert_int_equal(s, DL_OK);
        assert_int_equal(m.ops->device, DL_DEVICE_CUDA);
        dl_mlp_free(&m);
        return;
    }
    assert_int_equal(s, DL_ERR_DEVICE);
    assert_non_null(strstr(dl_last_error(), "CUDA")); /* no device / no CUDA build, and why */
    assert_null(m.params);
    dl_mlp_free(&m); /* harmless on a model that was never made */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_round_trip_through_the_host_copy),
        cmocka_unit_test(test_fast_runs_the_cpu_backends_variants),
        cmocka_unit_test(test_cuda_without_a_gpu_is_a_device_error_with_a_reason),
        cmocka_unit_test(test_the_grad_hook_sees_each_layer_once_last_first),
        cmocka_unit_test(test_mlp_backward_matches_finite_differences_for_every_parameter),
        cmocka_unit_test(test_fast_ops_give_the_ref_loss_and_gradients),
        cmocka_unit_test(test_bad_configurations_are_refused),
        cmocka_unit_test(test_lenet_shape_and_memory_accounting),
        cmocka_unit_test(test_a_hundred_adamw_steps_halve_the_loss),
    };
    return cmocka_run_group_tests_name("mlp", tests, NULL, NULL);
}
