/* test_softmax_topk.c — softmax + top-k: every CPU variant against ref on random rows
 * (lengths around the SIMD width and the K boundary, K from 1 to DL_TOPK_MAX), ties (many
 * equal logits: the smaller column must win), −inf logits (probability 0, ranked last),
 * undefined rows (NaN, +inf, all −inf → NaN and −1, other rows untouched), |x| = 1e4, and
 * bad arguments (K out of range, NULLs, unfused without its scratch). Empty shapes do nothing.
 * Tolerance: probabilities 4e-6 relative (fp32 sums of V terms, a < 1 ulp exp); indices
 * exact, except that `unfused` ranks the probabilities it wrote, so where two probabilities
 * are equal in fp32 it only has to pick columns with that probability (softmax_topk_cpu.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/dlab.h"
#include "layer_check.h"

#define MAXV 16
#define RTOL 4e-6

static const dl_variant *ref(void) { return dl_variant_find("softmax_topk", "ref"); }

typedef struct result {
    float *prob;
    int *index;
} result;

static result run(const dl_variant *v, int N, int V, int K, const float *x) {
    result r;
    assert_int_equal(dl_alloc((void **)&r.prob, sizeof(float) * (N * K + 1)), DL_OK);
    assert_int_equal(dl_alloc((void **)&r.index, sizeof(int) * (N * K + 1)), DL_OK);
    float *work = NULL;
    assert_int_equal(dl_alloc((void **)&work, sizeof(float) * ((size_t)N * V + 1)), DL_OK);
    dl_softmax_topk_args a = {.N = N, .V = V, .K = K, .inp = x, .prob = r.prob,
                              .index = r.index, .work = work};
    dl_status s = dl_softmax_topk(v, &a);
    if (s != DL_OK) fail_msg("%s N=%d V=%d K=%d: %s", v->name, N, V, K, dl_last_error());
    dl_free(work);
    return r;
}

static void release(result r) { dl_free(r.prob), dl_free(r.index); }

static bool close_or_both_nan(float got, float want) {
    if (isnan(want)) return isnan(got);
    return fabs((double)got - want) <= RTOL * fabs((double)want) + 1e-30;
}

/* got against want, row by row; `loose_ties`: an index may differ where its probability
 * equals the wanted one (unfused). */
static void expect_same(const char *name, const float *x, int N, int V, int K, result got,
                        result want, bool loose_ties) {
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < K; k++) {
            const int at = i * K + k;
            if (!close_or_both_nan(got.prob[at], want.prob[at]))
                fail_msg("%s V=%d K=%d row %d slot %d: prob %.9g, want %.9g", name, V, K, i, k,
                         got.prob[at], want.prob[at]);
            if (got.index[at] == want.index[at]) continue;
            const bool tie_ok = loose_ties && got.index[at] >= 0 && got.index[at] < V &&
                                close_or_both_nan(got.prob[at], want.prob[at]);
            if (!tie_ok)
                fail_msg("%s V=%d K=%d row %d slot %d: index %d (x=%g), want %d (x=%g)", name, V,
                         K, i, k, got.index[at], got.index[at] >= 0 ? x[i * V + got.index[at]] : NAN,
                         want.index[at], x[i * V + want.index[at]]);
        }
    }
}

static void check_all(const float *x, int N, int V, int K) {
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("softmax_topk", vs, MAXV);
    result want = run(ref(), N, V, K, x);
    for (int i = 0; i < nv; i++) {
        result got = run(vs[i], N, V, K, x);
        expect_same(vs[i]->name, x, N, V, K, got, want, strcmp(vs[i]->name, "unfused") == 0);
        release(got);
    }
    release(want);
}

static void every_variant_matches_ref_on_random_rows(void **state) {
    (void)state;
    const int lengths[] = {1, 2, 5, 15, 16, 17, 31, 64, 65, 1000, 4099};
    const int ks[] = {1, 2, 5, 16, 30, 64};
    dl_rng r;
    dl_rng_seed(&r, 7);
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
        const int N = 6, V = lengths[l];
        float *x = lc_uniform(&r, (size_t)N * V, -6, 6);
        for (size_t q = 0; q < sizeof ks / sizeof ks[0]; q++)
            if (ks[q] <= V) check_all(x, N, V, ks[q]);
        dl_free(x);
    }
}

/* Rising logits put a new winner in every column: the insertion path on every element. */
static void rising_and_falling_rows_exercise_every_insertion(void **state) {
    (void)state;
    const int N = 2, V = 777;
    float *x = NULL;
    assert_int_equal(dl_alloc((void **)&x, sizeof(float) * N * V), DL_OK);
    for (int j = 0; j < V; j++) x[j] = 0.01f * j, x[V + j] = -0.01f * j;
    check_all(x, N, V, 30);
    dl_free(x);
}

/* Ties: logits drawn from 3 values, so every slot is a tie that the column must break;
 * and −inf logits, which rank last with probability 0. */
static void ties_go_to_the_smaller_column_and_neg_inf_ranks_last(void **state) {
    (void)state;
    const int N = 4, V = 100;
    float *x = NULL;
    assert_int_equal(dl_alloc((void **)&x, sizeof(float) * N * V), DL_OK);
    dl_rng r;
    dl_rng_seed(&r, 3);
    for (int i = 0; i < N * V; i++) x[i] = (float)(int)(3 * dl_rng_uniform(&r)) - 1.0f;
    for (int j = 0; j < V; j++) x[3 * V + j] = j % 7 ? -INFINITY : 2.0f; /* 15 finite */
    check_all(x, N, V, 30);
    /* Row 0's winners are the first columns holding its largest value, in column order. */
    result got = run(dl_variant_find("softmax_topk", "fused"), N, V, 30, x);
    for (int k = 1; k < 30; k++)
        if (x[got.index[k]] == x[got.index[k - 1]]) assert_true(got.index[k] > got.index[k - 1]);
    /* Row 3: 15 finite logits share the mass, the rest are −inf with probability 0. */
    for (int k = 0; k < 15; k++) assert_float_equal(got.prob[3 * 30 + k], 1.0f / 15, 1e-6);
    for (int k = 15; k < 30; k++) {
        assert_true(got.prob[3 * 30 + k] == 0.0f);
        assert_true(x[3 * V + got.index[3 * 30 + k]] == -INFINITY);
    }
    release(got);
    dl_free(x);
}

static void undefined_rows_give_nan_and_minus_one_and_spare_the_others(void **state) {
    (void)state;
    const int N = 4, V = 40, K = 5;
    float *x = NULL;
    assert_int_equal(dl_alloc((void **)&x, sizeof(float) * N * V), DL_OK);
    for (int i = 0; i < N * V; i++) x[i] = (float)(i % 13);
    x[0 * V + 17] = NAN;          /* row 0: NaN */
    x[1 * V + 39] = INFINITY;     /* row 1: +inf */
    for (int j = 0; j < V; j++) x[2 * V + j] = -INFINITY; /* row 2: all −inf */
    check_all(x, N, V, K);
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("softmax_topk", vs, MAXV);
    for (int v = 0; v < nv; v++) {
        result got = run(vs[v], N, V, K, x);
        for (int i = 0; i < 3; i++)
            for (int k = 0; k < K; k++)
                assert_true(isnan(got.prob[i * K + k]) && got.index[i * K + k] == -1);
        for (int k = 0; k < K; k++) assert_true(got.prob[3 * K + k] > 0 && got.index[3 * K + k] >= 0);
        release(got);
    }
    dl_free(x);
}

static void huge_logits_stay_exact(void **state) {
    (void)state;
    const int N = 3, V = 50;
    float *x = NULL;
    assert_int_equal(dl_alloc((void **)&x, sizeof(float) * N * V), DL_OK);
    for (int i = 0; i < N * V; i++) x[i] = (i % 2 ? 1e4f : -1e4f) + (float)(i % 5);
    check_all(x, N, V, 5);
    dl_free(x);
}

static void bad_arguments_are_refused_and_empty_shapes_do_nothing(void **state) {
    (void)state;
    float x[8] = {0}, prob[8];
    int index[8];
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("softmax_topk", vs, MAXV);
    for (int v = 0; v < nv; v++) {
        dl_softmax_topk_args a = {.N = 2, .V = 4, .K = 0, .inp = x, .prob = prob, .index = index,
                                  .work = x};
        assert_int_equal(dl_softmax_topk(vs[v], &a), DL_ERR_ARG); /* K = 0 */
        a.K = 5;
        assert_int_equal(dl_softmax_topk(vs[v], &a), DL_ERR_ARG); /* K > V */
        assert_non_null(strstr(dl_last_error(), "K=5"));
        a.K = 2, a.index = NULL;
        assert_int_equal(dl_softmax_topk(vs[v], &a), DL_ERR_ARG);
        a.index = index, a.N = -1;
        assert_int_equal(dl_softmax_topk(vs[v], &a), DL_ERR_ARG);
        dl_softmax_topk_args empty = {.N = 0, .V = 4, .K = 99};
        assert_int_equal(dl_softmax_topk(vs[v], &empty), DL_OK);
        empty.N = 3, empty.V = 0;
        assert_int_equal(dl_softmax_topk(vs[v], &empty), DL_OK);
    }
    dl_softmax_topk_args no_work = {.N = 1, .V = 4, .K = 2, .inp = x, .prob = prob, .index = index};
    assert_int_equal(dl_softmax_topk(dl_variant_find("softmax_topk", "unfused"), &no_work),
                     DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "work"));
    assert_int_equal(dl_softmax_topk(dl_variant_find("softmax", "ref"), &no_work), DL_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_variant_matches_ref_on_random_rows),
        cmocka_unit_test(rising_and_falling_rows_exercise_every_insertion),
        cmocka_unit_test(ties_go_to_the_smaller_column_and_neg_inf_ranks_last),
        cmocka_unit_test(undefined_rows_give_nan_and_minus_one_and_spare_the_others),
        cmocka_unit_test(huge_logits_stay_exact),
        cmocka_unit_test(bad_arguments_are_refused_and_empty_shapes_do_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
