/* test_softmax_xent.c — fused softmax + cross-entropy: every CPU variant against ref
 * (probs, per-row losses, mean, gradient), numerical safety on extreme logits (±1e30, −inf,
 * NaN), ignored targets, the ref backward against finite differences (including the
 * dloss_scale factor), and the argument checks (a target out of range names its row). */
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

typedef struct problem {
    int N, V;
    float *logits, *probs, *losses, *dlogits;
    int *targets;
    float mean;
} problem;

/* A random problem: logits uniform in [−spread, spread), every 5th target ignored. */
static problem make_problem(int N, int V, float spread, uint64_t seed) {
    dl_rng r;
    dl_rng_seed(&r, seed);
    problem p = {.N = N, .V = V};
    p.logits = lc_uniform(&r, (size_t)N * V, -spread, spread);
    p.probs = lc_uniform(&r, (size_t)N * V, 0, 1);
    p.dlogits = lc_uniform(&r, (size_t)N * V, -1, 1);
    p.losses = lc_uniform(&r, N, 0, 1);
    assert_int_equal(dl_alloc((void **)&p.targets, sizeof(int) * (N + 1)), DL_OK);
    for (int i = 0; i < N; i++)
        p.targets[i] = i % 5 == 4 ? -1 : (int)dl_rng_below(&r, V);
    return p;
}

static void free_problem(problem *p) {
    dl_free(p->logits), dl_free(p->probs), dl_free(p->losses), dl_free(p->dlogits);
    dl_free(p->targets);
}

static problem copy_problem(const problem *p) {
    problem q = *p;
    size_t nv = (size_t)p->N * p->V;
    q.logits = lc_copy(p->logits, nv), q.probs = lc_copy(p->probs, nv);
    q.dlogits = lc_copy(p->dlogits, nv), q.losses = lc_copy(p->losses, p->N);
    assert_int_equal(dl_alloc((void **)&q.targets, sizeof(int) * (p->N + 1)), DL_OK);
    memcpy(q.targets, p->targets, sizeof(int) * p->N);
    return q;
}

static dl_softmax_xent_args args_of(problem *p, float dloss_scale) {
    dl_softmax_xent_args a = {.N = p->N,
                              .V = p->V,
                              .logits = p->logits,
                              .targets = p->targets,
                              .probs = p->probs,
                              .losses = p->losses,
                              .mean_loss = &p->mean,
                              .dloss_scale = dloss_scale,
                              .dlogits = p->dlogits};
    return a;
}

static void run(const dl_variant *v, problem *p, float dloss_scale) {
    dl_softmax_xent_args a = args_of(p, dloss_scale);
    assert_int_equal(dl_softmax_xent_forward(v, &a), DL_OK);
    assert_int_equal(dl_softmax_xent_backward(v, &a), DL_OK);
}

static void test_every_variant_matches_ref_on_odd_shapes(void **state) {
    (void)state;
    const int shapes[][2] = {{1, 1}, {1, 2}, {3, 7}, {17, 96}, {64, 257}, {5, 1000}, {1024, 96}};
    const dl_variant *ref = dl_variant_find("softmax_xent", "ref"), *vs[8];
    int nv = lc_cpu_variants("softmax_xent", vs, 8);
    for (int vi = 0; vi < nv; vi++) {
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            int N = shapes[i][0], V = shapes[i][1];
            problem p = make_problem(N, V, 8, 50 + i), q = copy_problem(&p);
            run(vs[vi], &p, 1.0f);
            run(ref, &q, 1.0f);
            size_t nvals = (size_t)N * V;
            LC_ASSERT_CLOSE(p.probs, q.probs, nvals, 1e-7, 1e-5, "%s probs %dx%d", vs[vi]->name, N,
                            V);
            LC_ASSERT_CLOSE(p.losses, q.losses, N, 1e-6, 1e-5, "%s losses %dx%d", vs[vi]->name, N,
                            V);
            LC_ASSERT_CLOSE(&p.mean, &q.mean, 1, 1e-6, 1e-5, "%s mean %dx%d", vs[vi]->name, N, V);
            LC_ASSERT_CLOSE(p.dlogits, q.dlogits, nvals, 1e-7, 1e-5, "%s dlogits %dx%d",
                            vs[vi]->name, N, V);
            for (int r = 0; r < N; r++) { /* rows of probs sum to 1 */
                double s = 0;
                for (int j = 0; j < V; j++)
                    s += p.probs[(size_t)r * V + j];
                assert_true(fabs(s - 1.0) < 1e-5);
            }
            free_problem(&p), free_problem(&q);
        }
    }
}

static void test_extreme_logits_stay_finite_and_nan_stays_in_its_row(void **state) {
    (void)state;
    enum { N = 6, V = 3 };
    const float logits[N * V] = {
        1e30f,     -1e30f,    0,         /* target 1: loss 2e30 (finite), probs 1, 0, 0 */
        -INFINITY, 2,         2,         /* masked class: probs 0, ½, ½ */
        -INFINITY, 0,         1,         /* target 0 is masked: loss +inf */
        -INFINITY, -INFINITY, -INFINITY, /* no softmax: NaN */
        NAN,       0,         1,         /* NaN: its row only */
        1,         2,         3,         /* an ordinary row */
    };
    const int targets[N] = {1, 1, 0, 2, 0, 2};
    const dl_variant *vs[8];
    int nv = lc_cpu_variants("softmax_xent", vs, 8);
    for (int vi = 0; vi < nv; vi++) {
        float probs[N * V], losses[N], mean, dlogits[N * V] = {0};
        dl_softmax_xent_args a = {.N = N,
                                  .V = V,
                                  .logits = logits,
                                  .targets = targets,
                                  .probs = probs,
                                  .losses = losses,
                                  .mean_loss = &mean,
                                  .dloss_scale = 1,
                                  .dlogits = dlogits};
        assert_int_equal(dl_softmax_xent_forward(vs[vi], &a), DL_OK);
        assert_int_equal(dl_softmax_xent_backward(vs[vi], &a), DL_OK);
        const char *name = vs[vi]->name;
        if (!(probs[0] == 1 && probs[1] == 0 && probs[2] == 0)) fail_msg("%s: ±1e30 probs", name);
        if (!(isfinite(losses[0]) && fabsf(losses[0] - 2e30f) < 1e24f))
            fail_msg("%s: ±1e30 loss", name);
        if (!(probs[3] == 0 && fabsf(probs[4] - 0.5f) < 1e-7f)) fail_msg("%s: -inf mask", name);
        if (!(fabsf(losses[1] - logf(2.0f)) < 1e-6f)) fail_msg("%s: masked row loss", name);
        if (!(isinf(losses[2]) && losses[2] > 0)) fail_msg("%s: -inf target loss", name);
        if (!(isnan(losses[3]) && isnan(probs[9]))) fail_msg("%s: all -inf row", name);
        if (!(isnan(losses[4]) && isnan(probs[13]))) fail_msg("%s: NaN row", name);
        float want = 3.0f - logf(expf(1) + expf(2) + expf(3));
        if (!(fabsf(-losses[5] - want) < 1e-6f)) fail_msg("%s: ordinary row", name);
        for (int j = 0; j < V; j++) /* the ordinary row's gradient is untouched by the others */
            if (!isfinite(dlogits[5 * V + j])) fail_msg("%s: dlogits row 5 polluted", name);
    }
}

static void test_ignored_targets_have_no_loss_no_gradient_and_leave_the_mean(void **state) {
    (void)state;
    const dl_variant *vs[8];
    int nv = lc_cpu_variants("softmax_xent", vs, 8);
    for (int vi = 0; vi < nv; vi++) {
        problem p = make_problem(10, 13, 3, 77);
        for (int i = 0; i < 10; i++)
            p.targets[i] = i < 4 ? i : DL_XENT_IGNORE;
        problem q = copy_problem(&p);
        run(vs[vi], &p, 1.0f);
        double total = 0;
        for (int i = 0; i < 10; i++)
            total += p.losses[i];
        assert_true(fabs(p.mean - total / 4) < 1e-6); /* mean over the 4 valid rows */
        for (int i = 4; i < 10; i++)
            assert_true(p.losses[i] == 0.0f);
        assert_memory_equal(p.dlogits + 4 * 13, q.dlogits + 4 * 13, 6 * 13 * sizeof(float));
        /* Every row ignored: mean 0, no gradient at all. */
        for (int i = 0; i < 10; i++)
            p.targets[i] = DL_XENT_IGNORE;
        memcpy(p.dlogits, q.dlogits, 130 * sizeof(float));
        run(vs[vi], &p, 1.0f);
        assert_true(p.mean == 0.0f);
        assert_memory_equal(p.dlogits, q.dlogits, 130 * sizeof(float));
        free_problem(&p), free_problem(&q);
    }
}

/* ---- finite differences of the mean loss, times dloss_scale ---- */

typedef struct fd_ctx {
    problem *p;
    double scale;
} fd_ctx;

static double mean_loss(void *ctx) {
    fd_ctx *c = ctx;
    dl_softmax_xent_args a = args_of(c->p, 1.0f);
    assert_int_equal(dl_softmax_xent_forward(dl_variant_find("softmax_xent", "ref"), &a), DL_OK);
    double total = 0; /* summed here in double: the fp32 mean would lose the differences */
    for (int i = 0; i < c->p->N; i++)
        total += c->p->losses[i];
    return c->scale * total / dl_softmax_xent_valid_rows(c->p->targets, c->p->N);
}

static void test_ref_backward_matches_finite_differences_with_scale(void **state) {
    (void)state;
    const float scales[2] = {1.0f, 3.0f};
    for (int s = 0; s < 2; s++) {
        problem p = make_problem(7, 11, 2, 91);
        memset(p.dlogits, 0, 77 * sizeof(float));
        dl_softmax_xent_args a = args_of(&p, scales[s]);
        const dl_variant *ref = dl_variant_find("softmax_xent", "ref");
        assert_int_equal(dl_softmax_xent_forward(ref, &a), DL_OK);
        assert_int_equal(dl_softmax_xent_backward(ref, &a), DL_OK);
        fd_ctx c = {&p, scales[s]};
        double err = gc_check(p.logits, p.dlogits, 77, mean_loss, &c, 1e-2f, NULL);
        if (!(err < 2e-3)) fail_msg("scale %g: gradient error %.3g", scales[s], err);
        free_problem(&p);
    }
}

static void test_targets_out_of_range_are_refused_naming_the_row(void **state) {
    (void)state;
    const int bad[3] = {3, -2, 100};
    for (int b = 0; b < 3; b++) {
        problem p = make_problem(5, 3, 1, 5);
        p.targets[2] = bad[b];
        dl_softmax_xent_args a = args_of(&p, 1.0f);
        assert_int_equal(dl_softmax_xent_forward(dl_variant_find("softmax_xent", "omp"), &a),
                         DL_ERR_ARG);
        assert_non_null(strstr(dl_last_error(), "targets[2]"));
        assert_int_equal(dl_softmax_xent_backward(dl_variant_find("softmax_xent", "ref"), &a),
                         DL_ERR_ARG);
        free_problem(&p);
    }
    problem p = make_problem(2, 3, 1, 5);
    dl_softmax_xent_args a = args_of(&p, 1.0f);
    a.probs = NULL;
    assert_int_equal(dl_softmax_xent_forward(dl_variant_find("softmax_xent", "ref"), &a),
                     DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "probs"));
    a = args_of(&p, 1.0f), a.V = -1;
    assert_int_equal(dl_softmax_xent_forward(dl_variant_find("softmax_xent", "ref"), &a),
                     DL_ERR_ARG);
    a = args_of(&p, 1.0f), a.N = 0; /* empty: fine */
    assert_int_equal(dl_softmax_xent_forward(dl_variant_find("softmax_xent", "omp"), &a), DL_OK);
    assert_int_equal(dl_softmax_xent_forward(dl_variant_find("layernorm", "ref"), &a), DL_ERR_ARG);
    free_problem(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_variant_matches_ref_on_odd_shapes),
        cmocka_unit_test(test_extreme_logits_stay_finite_and_nan_stays_in_its_row),
        cmocka_unit_test(test_ignored_targets_have_no_loss_no_gradient_and_leave_the_mean),
        cmocka_unit_test(test_ref_backward_matches_finite_differences_with_scale),
        cmocka_unit_test(test_targets_out_of_range_are_refused_naming_the_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
