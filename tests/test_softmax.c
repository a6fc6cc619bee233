/* test_softmax.c — row softmax: every CPU variant against ref on random rows of lengths
 * around the SIMD width, the special-value rules of softmax.h (−inf → 0, a NaN/+inf/all −inf
 * row → all NaN, other rows untouched, all-equal → uniform), logits of magnitude 1e4 (naive
 * overflows, the others stay exact), empty shapes, the pair rule (associative, identity, NaN
 * kept), the backward: ref against finite differences, fast variants against ref; and the
 * AVX-512 variants' exp against double exp (≤ 2 ulp on a dense sweep of [−104, 0], specials).
 * Tolerance: outputs are probabilities, the fast variants sum V terms in fp32 and use a
 * < 1 ulp exp; rtol 4e-6 (with a tiny atol for values near 0) catches any wrong term. */
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

#define MAXV 16
#define RTOL 4e-6
#define ATOL 1e-30

static const dl_variant *ref(void) { return dl_variant_find("softmax", "ref"); }

static void forward(const dl_variant *v, int N, int V, const float *x, float *y) {
    dl_softmax_args a = {.N = N, .V = V, .inp = x, .out = y};
    assert_int_equal(dl_softmax_forward(v, &a), DL_OK);
}

static void every_variant_matches_ref_on_random_rows_of_many_lengths(void **state) {
    (void)state;
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("softmax", vs, MAXV);
    const int lengths[] = {1, 2, 15, 16, 17, 31, 1000, 4099};
    dl_rng r;
    dl_rng_seed(&r, 42);
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        const int N = 5, V = lengths[k];
        float *x = lc_uniform(&r, (size_t)N * V, -8, 8), *want = lc_copy(x, (size_t)N * V);
        float *got = lc_copy(x, (size_t)N * V);
        forward(ref(), N, V, x, want);
        for (int i = 0; i < nv; i++) {
            forward(vs[i], N, V, x, got);
            /* naive, safe and online are scalar C: unless the compiler vectorizes the sum (it
             * does at -O3, not under the sanitizers), they add left to right in one fp32
             * accumulator, whose error grows ~V·u rather than ~√V·u as with 16+ lanes */
            const bool one_accumulator = strcmp(vs[i]->name, "naive") == 0 ||
                                         strcmp(vs[i]->name, "safe") == 0 ||
                                         strcmp(vs[i]->name, "safe_avx2") == 0 || /* same C */
                                         strcmp(vs[i]->name, "online") == 0;
            const double rtol = one_accumulator ? 2e-5 : RTOL;
            LC_ASSERT_CLOSE(got, want, (size_t)N * V, ATOL, rtol, "%s V=%d", vs[i]->name, V);
        }
        dl_free(x), dl_free(want), dl_free(got);
    }
}

/* The AVX-512 variants change path above 65536 elements a row (no longer cached) and when the
 * output exceeds the last-level cache (streamed, with a scratch row): both against ref, with
 * rows of odd length so that streamed rows start at every alignment. */
static void long_rows_and_streamed_outputs_match_ref(void **state) {
    (void)state;
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("softmax", vs, MAXV);
    const int shapes[][2] = {{3, 65537}, {2, 100003}, {9, 40001}, {130, 100003}, {300, 33333}};
    dl_rng r;
    dl_rng_seed(&r, 5);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        const int N = shapes[k][0], V = shapes[k][1];
        const size_t n = (size_t)N * V;
        float *x = lc_uniform(&r, n, -30, 30), *want = lc_copy(x, n), *got = lc_copy(x, n);
        x[V + 7] = -INFINITY;          /* row 1: one −inf among finite values */
        x[(size_t)(N - 1) * V + V / 2] = NAN; /* last row: undefined */
        forward(ref(), N, V, x, want);
        for (int i = 0; i < nv; i++) {
            if (strncmp(vs[i]->name, "safe_avx512", 11) && strncmp(vs[i]->name, "online_avx512", 13))
                continue;
            forward(vs[i], N, V, x, got);
            LC_ASSERT_CLOSE(got, want, n, ATOL, RTOL, "%s N=%d V=%d", vs[i]->name, N, V);
        }
        dl_free(x), dl_free(want), dl_free(got);
    }
}

enum { PLAIN, SOME_NEG_INF, ALL_NEG_INF, HAS_NAN, HAS_POS_INF, ALL_EQUAL, NROWS };

static void special_values_follow_the_documented_rules_in_every_variant(void **state) {
    (void)state;
    const int V = 37; /* two full 16-lane blocks and a tail */
    dl_rng r;
    dl_rng_seed(&r, 7);
    float *x = lc_uniform(&r, (size_t)NROWS * V, -3, 3);
    float *want = lc_copy(x, (size_t)NROWS * V), *got = lc_copy(x, (size_t)NROWS * V);
    float *alone = lc_copy(x, V);
    float *xr = x + (size_t)SOME_NEG_INF * V;
    xr[0] = xr[16] = xr[36] = -INFINITY;
    for (int j = 0; j < V; j++) x[(size_t)ALL_NEG_INF * V + j] = -INFINITY;
    x[(size_t)HAS_NAN * V + 20] = NAN;
    x[(size_t)HAS_POS_INF * V + 33] = INFINITY;
    for (int j = 0; j < V; j++) x[(size_t)ALL_EQUAL * V + j] = 2.5f;
    forward(ref(), NROWS, V, x, want);
    /* the rules, read off ref */
    forward(ref(), 1, V, x, alone);
    LC_ASSERT_CLOSE(want, alone, V, 0, 0, "plain row unaffected by its neighbours");
    for (int j = 0; j < V; j++) {
        const float *w = want + (size_t)SOME_NEG_INF * V;
        if (j == 0 || j == 16 || j == 36) assert_true(w[j] == 0.0f);
        else assert_true(w[j] > 0.0f);
        assert_true(isnan(want[(size_t)ALL_NEG_INF * V + j]));
        assert_true(isnan(want[(size_t)HAS_NAN * V + j]));
        assert_true(isnan(want[(size_t)HAS_POS_INF * V + j]));
        assert_float_equal(want[(size_t)ALL_EQUAL * V + j], 1.0f / V, 1e-7);
    }
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("softmax", vs, MAXV);
    for (int i = 0; i < nv; i++) {
        if (strcmp(vs[i]->name, "naive") == 0) continue; /* documented not to follow them */
        forward(vs[i], NROWS, V, x, got);
        for (int row = 0; row < NROWS; row++)
            LC_ASSERT_CLOSE(got + (size_t)row * V, want + (size_t)row * V, V, ATOL, RTOL,
                            "%s row %d", vs[i]->name, row);
    }
    dl_free(x), dl_free(want), dl_free(got), dl_free(alone);
}

static void logits_of_magnitude_1e4_overflow_naive_only(void **state) {
    (void)state;
    const int N = 3, V = 100;
    dl_rng r;
    dl_rng_seed(&r, 11);
    float *x = lc_uniform(&r, (size_t)N * V, -1e4f, 1e4f);
    float *want = lc_copy(x, (size_t)N * V), *got = lc_copy(x, (size_t)N * V);
    forward(ref(), N, V, x, want);
    for (int i = 0; i < N; i++) {
        double s = 0.0;
        for (int j = 0; j < V; j++) s += want[(size_t)i * V + j];
        assert_float_equal(s, 1.0, 1e-6);
    }
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("softmax", vs, MAXV);
    for (int i = 0; i < nv; i++) {
        forward(vs[i], N, V, x, got);
        if (strcmp(vs[i]->name, "naive") == 0) {
            int non_finite = 0;
            for (int j = 0; j < N * V; j++) non_finite += !isfinite(got[j]);
            assert_true(non_finite > 0);
        } else {
            LC_ASSERT_CLOSE(got, want, (size_t)N * V, ATOL, RTOL, "%s", vs[i]->name);
        }
    }
    dl_free(x), dl_free(want), dl_free(got);
}

static void empty_rows_and_no_rows_are_a_no_op(void **state) {
    (void)state;
    float sentinel[4] = {1, 2, 3, 4};
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("softmax", vs, MAXV);
    for (int i = 0; i < nv; i++) {
        dl_softmax_args a = {.N = 3, .V = 0, .inp = NULL, .out = NULL};
        assert_int_equal(dl_softmax_forward(vs[i], &a), DL_OK);
        assert_int_equal(dl_softmax_backward(vs[i], &a), DL_OK);
        dl_softmax_args b = {.N = 0, .V = 4, .inp = sentinel, .out = sentinel};
        assert_int_equal(dl_softmax_forward(vs[i], &b), DL_OK);
        assert_true(sentinel[0] == 1 && sentinel[3] == 4);
    }
}

static void bad_arguments_are_refused_with_a_message(void **state) {
    (void)state;
    float x[4] = {0};
    dl_softmax_args a = {.N = -1, .V = 4, .inp = x, .out = x};
    assert_int_equal(dl_softmax_forward(ref(), &a), DL_ERR_ARG);
    dl_softmax_args b = {.N = 1, .V = 4, .inp = x, .out = NULL};
    assert_int_equal(dl_softmax_forward(ref(), &b), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "out"));
    dl_softmax_args c = {.N = 1, .V = 4, .inp = x, .out = x, .dinp = x};
    assert_int_equal(dl_softmax_backward(ref(), &c), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "dout"));
}

/* (m, d) of x[0..n) built element by element with the pair rule. */
static void summarize(const float *x, int n, float *m, float *d) {
    *m = -INFINITY, *d = 0.0f;
    for (int j = 0; j < n; j++) dl_softmax_combine(*m, *d, x[j], 1.0f, m, d);
}

static void combine_rule_is_associative_on_split_rows(void **state) {
    (void)state;
    const int V = 1000;
    dl_rng r;
    dl_rng_seed(&r, 5);
    float *x = lc_uniform(&r, V, -20, 20);
    double mx = -INFINITY, exact = 0.0;
    for (int j = 0; j < V; j++) mx = fmax(mx, x[j]);
    for (int j = 0; j < V; j++) exact += exp(x[j] - mx);
    float m_all, d_all;
    summarize(x, V, &m_all, &d_all);
    assert_true(m_all == (float)mx);
    assert_float_equal(d_all, exact, 2e-5 * exact);
    const int cuts[][2] = {{1, 2}, {16, 500}, {333, 667}, {998, 999}};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        int c1 = cuts[k][0], c2 = cuts[k][1];
        float ma, da, mb, db, mc, dc, m1, d1, m2, d2, mab, dab, mbc, dbc;
        summarize(x, c1, &ma, &da);
        summarize(x + c1, c2 - c1, &mb, &db);
        summarize(x + c2, V - c2, &mc, &dc);
        dl_softmax_combine(ma, da, mb, db, &mab, &dab);
        dl_softmax_combine(mab, dab, mc, dc, &m1, &d1); /* (a ⊕ b) ⊕ c */
        dl_softmax_combine(mb, db, mc, dc, &mbc, &dbc);
        dl_softmax_combine(ma, da, mbc, dbc, &m2, &d2); /* a ⊕ (b ⊕ c) */
        assert_true(m1 == m_all && m2 == m_all);
        assert_float_equal(d1, d2, 4e-7 * d1);
        assert_float_equal(d1, d_all, 2e-5 * d1);
        assert_float_equal(d1, exact, 2e-5 * exact);
    }
    /* the empty part is the identity; NaN in d survives a merge */
    float m, d;
    dl_softmax_combine(-INFINITY, 0.0f, 3.0f, 2.5f, &m, &d);
    assert_true(m == 3.0f && d == 2.5f);
    dl_softmax_combine(-INFINITY, 0.0f, -INFINITY, 0.0f, &m, &d);
    assert_true(m == -INFINITY && d == 0.0f);
    dl_softmax_combine(1.0f, NAN, 3.0f, 2.5f, &m, &d);
    assert_true(isnan(d));
    dl_free(x);
}

typedef struct gc_ctx {
    int N, V;
    float *x, *y, *w;
} gc_ctx;

static double weighted_loss(void *p) {
    gc_ctx *c = p;
    forward(ref(), c->N, c->V, c->x, c->y);
    return gc_weighted_sum(c->y, c->w, (size_t)c->N * c->V);
}

static void ref_backward_matches_finite_differences(void **state) {
    (void)state;
    const int N = 3, V = 19;
    const size_t n = (size_t)N * V;
    dl_rng r;
    dl_rng_seed(&r, 3);
    gc_ctx c = {N, V, lc_uniform(&r, n, -2, 2), lc_uniform(&r, n, 0, 1), lc_uniform(&r, n, -1, 1)};
    float *dx = lc_uniform(&r, n, 0, 0);
    forward(ref(), N, V, c.x, c.y);
    dl_softmax_args a = {.N = N, .V = V, .inp = c.x, .out = c.y, .dout = c.w, .dinp = dx};
    assert_int_equal(dl_softmax_backward(ref(), &a), DL_OK);
    /* h = 2e-2: the loss sees fp32 outputs, so its noise is ~u/h; smaller h is worse here */
    size_t worst = 0;
    double err = gc_check(c.x, dx, n, weighted_loss, &c, 2e-2f, &worst);
    if (!(err < 2e-3)) fail_msg("error %.3g at element %zu", err, worst);
    dl_free(c.x), dl_free(c.y), dl_free(c.w), dl_free(dx);
}

static void fast_backward_accumulates_like_ref(void **state) {
    (void)state;
    const int lengths[] = {1, 17, 1000};
    dl_rng r;
    dl_rng_seed(&r, 9);
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("softmax", vs, MAXV);
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        const int N = 4, V = lengths[k];
        const size_t n = (size_t)N * V;
        float *x = lc_uniform(&r, n, -4, 4), *y = lc_copy(x, n), *dy = lc_uniform(&r, n, -1, 1);
        float *dx0 = lc_uniform(&r, n, -1, 1), *want = lc_copy(dx0, n), *got = lc_copy(dx0, n);
        forward(ref(), N, V, x, y);
        dl_softmax_args a = {.N = N, .V = V, .inp = x, .out = y, .dout = dy, .dinp = want};
        assert_int_equal(dl_softmax_backward(ref(), &a), DL_OK);
        for (int i = 0; i < nv; i++) {
            memcpy(got, dx0, n * sizeof(float));
            a.dinp = got;
            assert_int_equal(dl_softmax_backward(vs[i], &a), DL_OK);
            LC_ASSERT_CLOSE(got, want, n, 1e-6, 1e-5, "%s backward V=%d", vs[i]->name, V);
        }
        dl_free(x), dl_free(y), dl_free(dy), dl_free(dx0), dl_free(want), dl_free(got);
    }
}

#if defined(__x86_64__) || defined(__i386__)
float dl_softmax_exp16_scalar(float x); /* softmax_cpu.c, via softmax_impl.h */

/* |got − want| in units of the float spacing at want (2^−149 below the normal range). */
static double ulp_error(float got, double want) {
    const double spacing = want < 0x1p-126 ? 0x1p-149 : ldexp(1.0, ilogb(want) - 23);
    return fabs((double)got - want) / spacing;
}

static void avx512_exp_is_within_2_ulp_on_the_shifted_range(void **state) {
    (void)state;
    const dl_cpu_features *f = dl_cpu();
    if (!f->avx512f || !f->avx512dq || !f->fma) skip();
    const int steps = 1 << 21; /* x = −104·k/steps: every ~5e−5, about 2 M values */
    double worst = 0.0;
    for (int k = 0; k <= steps; k++) {
        const float x = (float)(-104.0 * k / steps);
        const double err = ulp_error(dl_softmax_exp16_scalar(x), exp((double)x));
        if (err > worst) worst = err;
    }
    assert_true(worst <= 2.0);
    assert_true(dl_softmax_exp16_scalar(0.0f) == 1.0f);
    assert_true(dl_softmax_exp16_scalar(-INFINITY) == 0.0f);
    assert_true(dl_softmax_exp16_scalar(-200.0f) == 0.0f);
    assert_true(isnan(dl_softmax_exp16_scalar(NAN)));
    assert_true(dl_softmax_exp16_scalar(INFINITY) == INFINITY);
    assert_true(dl_softmax_exp16_scalar(100.0f) == INFINITY);
    assert_true(ulp_error(dl_softmax_exp16_scalar(88.0f), exp(88.0)) <= 2.0);
}
#else
static void avx512_exp_is_within_2_ulp_on_the_shifted_range(void **state) {
    (void)state;
    skip();
}
#endif

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_variant_matches_ref_on_random_rows_of_many_lengths),
        cmocka_unit_test(special_values_follow_the_documented_rules_in_every_variant),
        cmocka_unit_test(long_rows_and_streamed_outputs_match_ref),
        cmocka_unit_test(logits_of_magnitude_1e4_overflow_naive_only),
        cmocka_unit_test(empty_rows_and_no_rows_are_a_no_op),
        cmocka_unit_test(bad_arguments_are_refused_with_a_message),
        cmocka_unit_test(combine_rule_is_associative_on_split_rows),
        cmocka_unit_test(ref_backward_matches_finite_differences),
        cmocka_unit_test(fast_backward_accumulates_like_ref),
        cmocka_unit_test(avx512_exp_is_within_2_ulp_on_the_shifted_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
