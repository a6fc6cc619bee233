/* test_optim.c — the optim family: SGD and AdamW steps (clipping, schedules and init are in
 * test_optim_train.c).
 *
 * The optimizers are checked against values worked out by hand from the formulas in
 * dlab/optim.h, every fast variant against ref BIT FOR BIT (they promise the same fp32
 * operations in the same order), and whole short runs for bit-reproducibility. */
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

/* Equal bits, or both NaN (NaN payloads are not part of the contract). */
static void assert_same_bits(const float *a, const float *b, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++) {
        if (isnan(a[i]) && isnan(b[i])) continue;
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0)
            fail_msg("%s[%zu]: %.9g vs ref %.9g", what, i, (double)a[i], (double)b[i]);
    }
}

/* ------------------------------------------------------------ registry */

static void test_every_optim_variant_has_both_steps_and_a_cost(void **state) {
    (void)state;
    int n = 0;
    const dl_variant *const *vs = dl_variants("optim", &n);
    assert_true(n >= 2);
    assert_string_equal(vs[0]->name, "ref");
    for (int i = 0; i < n; i++) {
        const dl_optim_impl *impl = vs[i]->impl;
        assert_non_null(impl->sgd_step);
        assert_non_null(impl->adamw_step);
        dl_adamw_args a = {.n = 1000};
        assert_true(vs[i]->cost(&a).bytes == 28000.0);
    }
    assert_true(dl_variant_available(dl_optim_best()));
}

/* ------------------------------------------------- hand-computed steps */

static void test_sgd_with_momentum_and_weight_decay_matches_hand_computed_steps(void **state) {
    (void)state;
    float p = 1.0f, g = 0.5f, buf = 0.0f;
    dl_sgd_args a = {.n = 1,
                     .param = &p,
                     .grad = &g,
                     .momentum_buf = &buf,
                     .lr = 0.1f,
                     .momentum = 0.9f,
                     .weight_decay = 0.01f};
    const dl_variant *ref = dl_variant_find("optim", "ref");
    /* step 1: g' = 0.5 + 0.01·1 = 0.51, buf = 0.51, p = 1 − 0.1·0.51 */
    assert_int_equal(dl_sgd_run(ref, &a), DL_OK);
    assert_float_equal(buf, 0.51, 1e-6);
    assert_float_equal(p, 0.949, 1e-6);
    /* step 2: g' = 0.5 + 0.00949, buf = 0.9·0.51 + 0.50949 = 0.96849, p = 0.949 − 0.096849 */
    assert_int_equal(dl_sgd_run(ref, &a), DL_OK);
    assert_float_equal(buf, 0.96849, 1e-6);
    assert_float_equal(p, 0.852151, 1e-6);

    /* Nesterov, step 1: buf = 0.51, update = g' + 0.9·buf = 0.969, p = 1 − 0.0969 */
    p = 1.0f, buf = 0.0f, a.nesterov = true;
    assert_int_equal(dl_sgd_run(ref, &a), DL_OK);
    assert_float_equal(p, 0.9031, 1e-6);

    /* plain SGD: no buffer needed */
    p = 2.0f;
    dl_sgd_args plain = {.n = 1, .param = &p, .grad = &g, .lr = 0.1f};
    assert_int_equal(dl_sgd_run(ref, &plain), DL_OK);
    assert_float_equal(p, 1.95, 1e-6);
}

static void test_adamw_first_step_moves_each_weight_by_lr_sign_g_plus_decay(void **state) {
    (void)state;
    enum { N = 6 };
    float w[N] = {0.5f, -0.5f, 2.0f, -1.0f, 0.0f, 3.0f};
    float g[N] = {0.3f, 0.3f, -2.0f, -0.01f, 1e-3f, -50.0f};
    float p[N], m[N] = {0}, v[N] = {0};
    memcpy(p, w, sizeof w);
    const float lr = 1e-3f, wd = 0.1f;
    dl_adamw_args a = {.n = N,
                       .param = p,
                       .grad = g,
                       .m = m,
                       .v = v,
                       .lr = lr,
                       .beta1 = 0.9f,
                       .beta2 = 0.999f,
                       .eps = 1e-8f,
                       .weight_decay = wd,
                       .step = 1};
    assert_int_equal(dl_adamw_run(dl_variant_find("optim", "ref"), &a), DL_OK);
    for (int i = 0; i < N; i++) {
        /* bias correction makes m̂ = g and v̂ = g², so the step is lr·g/(|g| + eps) */
        double expect = w[i] - lr * (g[i] > 0 ? 1.0 : -1.0) - lr * wd * w[i];
        assert_float_equal(p[i], expect, 1e-6);
        assert_float_equal(m[i], 0.1 * g[i], 1e-6 * fabs(g[i]));
        assert_float_equal(v[i], 0.001 * g[i] * g[i], 1e-6 * g[i] * g[i]);
    }
}

/* AdamW over several steps against the formula evaluated in double. */
static void test_adamw_follows_the_double_precision_formula_over_five_steps(void **state) {
    (void)state;
    enum { N = 37 };
    float p[N], g[N], m[N] = {0}, v[N] = {0};
    double pd[N], md[N] = {0}, vd[N] = {0};
    dl_rng r;
    dl_rng_seed(&r, 7);
    dl_rng_fill_uniform(&r, p, N, -1, 1);
    for (int i = 0; i < N; i++)
        pd[i] = p[i];
    const double lr = 3e-3, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.05;
    dl_adamw_args a = {.n = N,
                       .param = p,
                       .grad = g,
                       .m = m,
                       .v = v,
                       .lr = (float)lr,
                       .beta1 = (float)b1,
                       .beta2 = (float)b2,
                       .eps = (float)eps,
                       .weight_decay = (float)wd};
    for (long t = 1; t <= 5; t++) {
        dl_rng_fill_uniform(&r, g, N, -1, 1);
        a.step = t;
        assert_int_equal(dl_adamw_run(dl_variant_find("optim", "ref"), &a), DL_OK);
        for (int i = 0; i < N; i++) {
            pd[i] *= 1 - lr * wd;
            md[i] = (float)b1 * md[i] + (1 - (float)b1) * g[i];
            vd[i] = (float)b2 * vd[i] + (1 - (float)b2) * (double)g[i] * g[i];
            double mhat = md[i] / (1 - pow((float)b1, t)), vhat = vd[i] / (1 - pow((float)b2, t));
            pd[i] -= lr * mhat / (sqrt(vhat) + eps);
            assert_float_equal(p[i], pd[i], 1e-5);
        }
    }
}

/* ------------------------------------------------------ fast vs ref */

typedef struct opt_case {
    int optimizer; /* 0 sgd, 1 sgd+momentum, 2 nesterov, 3 adamw */
    float wd;
} opt_case;

/* Run `steps` steps of variant v from a seeded state; results into p/s1/s2 (n each). */
static void run_steps(const dl_variant *v, opt_case c, size_t n, int steps, float *p, float *s1,
                      float *s2, float *g) {
    dl_rng r;
    dl_rng_seed(&r, 1234 + n);
    dl_rng_fill_normal(&r, p, n, 0, 1);
    memset(s1, 0, n * sizeof(float));
    memset(s2, 0, n * sizeof(float));
    for (int t = 1; t <= steps; t++) {
        dl_rng_fill_normal(&r, g, n, 0, t == 2 ? 1e-3f : 1.0f);
        if (n > 3 && t == 3) g[n / 2] = NAN, g[1] = INFINITY; /* must propagate the same */
        if (c.optimizer < 3) {
            dl_sgd_args a = {.n = n,
                             .param = p,
                             .grad = g,
                             .lr = 0.05f,
                             .weight_decay = c.wd,
                             .momentum = c.optimizer ? 0.9f : 0.0f,
                             .momentum_buf = c.optimizer ? s1 : NULL,
                             .nesterov = c.optimizer == 2};
            assert_int_equal(dl_sgd_run(v, &a), DL_OK);
        } else {
            dl_adamw_args a = {.n = n,
                               .param = p,
                               .grad = g,
                               .m = s1,
                               .v = s2,
                               .lr = 1e-2f,
                               .beta1 = 0.9f,
                               .beta2 = 0.999f,
                               .eps = 1e-8f,
                               .weight_decay = c.wd,
                               .step = t};
            assert_int_equal(dl_adamw_run(v, &a), DL_OK);
        }
    }
}

static void compare_all_variants(const size_t *sizes, int nsizes, int threads) {
    int prev = dl_threads_get(), nv = 0;
    assert_int_equal(dl_threads_set(threads), DL_OK);
    const dl_variant *const *vs = dl_variants("optim", &nv);
    const opt_case cases[] = {{0, 0},     {0, 0.01f}, {1, 0},   {1, 1e-4f},
                              {2, 0.01f}, {3, 0},     {3, 0.1f}};
    for (int s = 0; s < nsizes; s++) {
        size_t n = sizes[s];
        float *rp = alloc_floats(n), *r1 = alloc_floats(n), *r2 = alloc_floats(n);
        float *p = alloc_floats(n), *s1 = alloc_floats(n), *s2 = alloc_floats(n);
        float *g = alloc_floats(n);
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
            run_steps(vs[0], cases[k], n, 4, rp, r1, r2, g);
            for (int i = 1; i < nv; i++) {
                /* CUDA variants take device pointers: tests/gpu_ops.c checks them. */
                if (vs[i]->device != DL_DEVICE_CPU || !dl_variant_available(vs[i])) continue;
                run_steps(vs[i], cases[k], n, 4, p, s1, s2, g);
                assert_same_bits(p, rp, n, vs[i]->name);
                assert_same_bits(s1, r1, n, vs[i]->name);
                assert_same_bits(s2, r2, n, vs[i]->name);
            }
        }
        dl_free(rp), dl_free(r1), dl_free(r2), dl_free(p), dl_free(s1), dl_free(s2), dl_free(g);
    }
    assert_int_equal(dl_threads_set(prev), DL_OK);
}

static void test_every_fast_variant_matches_ref_bit_for_bit_on_odd_sizes(void **state) {
    (void)state;
    const size_t sizes[] = {0, 1, 2, 7, 8, 15, 16, 17, 31, 33, 97, 1000, 16384 + 13};
    compare_all_variants(sizes, (int)(sizeof sizes / sizeof sizes[0]), 1);
}

static void test_parallel_steps_give_the_same_bits_at_2_and_3_threads(void **state) {
    (void)state;
    const size_t sizes[] = {100003, 3 * 16384};
    compare_all_variants(sizes, 2, 2);
    compare_all_variants(sizes, 2, 3);
}

/* A miniature training loop: init from a seed, clip, schedule, AdamW; twice, same bits. */
static void short_run(float *out, size_t n, const dl_variant *v) {
    float *g = alloc_floats(n), *m = alloc_floats(n), *vv = alloc_floats(n);
    dl_rng r;
    dl_rng_seed(&r, 99);
    assert_int_equal(dl_init_kaiming_uniform(out, n, 64, &r), DL_OK);
    dl_lr_schedule sched = dl_lr_cosine(1e-2f, 1e-4f, 3, 20);
    for (long step = 0; step < 20; step++) {
        for (size_t i = 0; i < n; i++)
            g[i] = out[i] * 0.5f + (float)dl_rng_normal(&r) * 0.1f;
        double norm;
        dl_grad_span span = {g, n};
        assert_int_equal(dl_clip_grad_norm(&span, 1, 1.0, &norm), DL_OK);
        dl_adamw_args a = {.n = n,
                           .param = out,
                           .grad = g,
                           .m = m,
                           .v = vv,
                           .lr = dl_lr_at(&sched, step),
                           .beta1 = 0.9f,
                           .beta2 = 0.999f,
                           .eps = 1e-8f,
                           .weight_decay = 0.1f,
                           .step = step + 1};
        assert_int_equal(dl_adamw_run(v, &a), DL_OK);
    }
    dl_free(g), dl_free(m), dl_free(vv);
}

static void test_a_seeded_run_is_bit_reproducible_with_every_variant(void **state) {
    (void)state;
    enum { N = 4099 };
    float *first = alloc_floats(N), *again = alloc_floats(N);
    short_run(first, N, dl_variant_find("optim", "ref"));
    int nv;
    const dl_variant *const *vs = dl_variants("optim", &nv);
    for (int i = 0; i < nv; i++) {
        if (vs[i]->device != DL_DEVICE_CPU || !dl_variant_available(vs[i])) continue;
        short_run(again, N, vs[i]);
        assert_memory_equal(first, again, N * sizeof(float));
    }
    dl_free(first), dl_free(again);
}

static void test_bad_optimizer_arguments_are_refused_naming_the_field(void **state) {
    (void)state;
    const dl_variant *ref = dl_variant_find("optim", "ref");
    float p = 0, g = 0, m = 0, v = 0;
    dl_sgd_args s = {.n = 1, .param = &p, .grad = &g, .lr = 0.1f, .momentum = 0.9f};
    assert_int_equal(dl_sgd_run(ref, &s), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "momentum_buf"));
    s.momentum = 1.0f;
    assert_int_equal(dl_sgd_run(ref, &s), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "momentum=1"));
    s.momentum = 0, s.nesterov = true;
    assert_int_equal(dl_sgd_run(ref, &s), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "nesterov"));
    dl_adamw_args a = {.n = 1,
                       .param = &p,
                       .grad = &g,
                       .m = &m,
                       .v = &v,
                       .lr = 1e-3f,
                       .beta1 = 0.9f,
                       .beta2 = 0.999f,
                       .eps = 1e-8f,
                       .step = 0};
    assert_int_equal(dl_adamw_run(ref, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "step=0"));
    a.step = 1, a.eps = 0;
    assert_int_equal(dl_adamw_run(ref, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "eps"));
    a.eps = 1e-8f, a.lr = NAN;
    assert_int_equal(dl_adamw_run(ref, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "lr"));
    a.lr = 1e-3f;
    assert_int_equal(dl_adamw_run(dl_variant_find("sum", "ref"), &a), DL_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_optim_variant_has_both_steps_and_a_cost),
        cmocka_unit_test(test_sgd_with_momentum_and_weight_decay_matches_hand_computed_steps),
        cmocka_unit_test(test_adamw_first_step_moves_each_weight_by_lr_sign_g_plus_decay),
        cmocka_unit_test(test_adamw_follows_the_double_precision_formula_over_five_steps),
        cmocka_unit_test(test_every_fast_variant_matches_ref_bit_for_bit_on_odd_sizes),
        cmocka_unit_test(test_parallel_steps_give_the_same_bits_at_2_and_3_threads),
        cmocka_unit_test(test_a_seeded_run_is_bit_reproducible_with_every_variant),
        cmocka_unit_test(test_bad_optimizer_arguments_are_refused_naming_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
