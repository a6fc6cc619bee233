/* test_embedding.c — token + position embedding: every CPU variant against ref bit for bit
 * (forward, and the scatter-add backward with many repeated tokens), the same bits at 1 and
 * 2 threads, the ref backward against finite differences, and the argument checks (a token
 * out of range names its position; T > maxT is refused). */
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

typedef struct emb {
    int B, T, C, V, maxT;
    int *tokens;
    float *wte, *wpe, *out, *dout, *dwte, *dwpe;
} emb;

/* Tokens drawn from only `distinct` values, so most of them repeat. */
static emb make_emb(int B, int T, int C, int V, int distinct, uint64_t seed) {
    dl_rng r;
    dl_rng_seed(&r, seed);
    emb e = {.B = B, .T = T, .C = C, .V = V, .maxT = T + 3};
    size_t btc = (size_t)B * T * C;
    assert_int_equal(dl_alloc((void **)&e.tokens, sizeof(int) * ((size_t)B * T + 1)), DL_OK);
    for (int i = 0; i < B * T; i++)
        e.tokens[i] = (int)dl_rng_below(&r, distinct);
    e.wte = lc_uniform(&r, (size_t)V * C, -1, 1), e.wpe = lc_uniform(&r, (size_t)e.maxT * C, -1, 1);
    e.out = lc_uniform(&r, btc, -1, 1), e.dout = lc_uniform(&r, btc, -1, 1);
    e.dwte = lc_uniform(&r, (size_t)V * C, -1, 1),
    e.dwpe = lc_uniform(&r, (size_t)e.maxT * C, -1, 1);
    return e;
}

static emb copy_emb(const emb *e) {
    emb c = *e;
    c.out = lc_copy(e->out, (size_t)e->B * e->T * e->C);
    c.dwte = lc_copy(e->dwte, (size_t)e->V * e->C);
    c.dwpe = lc_copy(e->dwpe, (size_t)e->maxT * e->C);
    assert_int_equal(dl_alloc((void **)&c.tokens, sizeof(int) * ((size_t)e->B * e->T + 1)), DL_OK);
    memcpy(c.tokens, e->tokens, sizeof(int) * e->B * e->T);
    c.wte = lc_copy(e->wte, (size_t)e->V * e->C), c.wpe = lc_copy(e->wpe, (size_t)e->maxT * e->C);
    c.dout = lc_copy(e->dout, (size_t)e->B * e->T * e->C);
    return c;
}

static void free_emb(emb *e) {
    dl_free(e->tokens), dl_free(e->wte), dl_free(e->wpe), dl_free(e->out), dl_free(e->dout);
    dl_free(e->dwte), dl_free(e->dwpe);
}

static dl_embedding_args args_of(const emb *e) {
    dl_embedding_args a = {.B = e->B,
                           .T = e->T,
                           .C = e->C,
                           .V = e->V,
                           .maxT = e->maxT,
                           .tokens = e->tokens,
                           .wte = e->wte,
                           .wpe = e->wpe,
                           .out = e->out,
                           .dout = e->dout,
                           .dwte = e->dwte,
                           .dwpe = e->dwpe};
    return a;
}

static void run(const dl_variant *v, const emb *e) {
    dl_embedding_args a = args_of(e);
    assert_int_equal(dl_embedding_forward(v, &a), DL_OK);
    assert_int_equal(dl_embedding_backward(v, &a), DL_OK);
}

static void assert_same_bits(const emb *a, const emb *b, const char *what) {
    if (memcmp(a->out, b->out, sizeof(float) * a->B * a->T * a->C) != 0) fail_msg("%s: out", what);
    if (memcmp(a->dwte, b->dwte, sizeof(float) * a->V * a->C) != 0) fail_msg("%s: dwte", what);
    if (memcmp(a->dwpe, b->dwpe, sizeof(float) * a->maxT * a->C) != 0) fail_msg("%s: dwpe", what);
}

static void test_every_variant_matches_ref_bit_for_bit_with_repeated_tokens(void **state) {
    (void)state;
    /* B, T, C, V, distinct tokens */
    const int shapes[][5] = {{1, 1, 1, 1, 1},     {3, 7, 37, 11, 3},     {2, 5, 1, 4, 4},
                             {4, 64, 128, 96, 5}, {8, 128, 129, 96, 96}, {1, 3, 200, 2, 1}};
    const dl_variant *ref = dl_variant_find("embedding", "ref"), *vs[8];
    int nv = lc_cpu_variants("embedding", vs, 8);
    for (int vi = 0; vi < nv; vi++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            const int *s = shapes[i];
            emb e = make_emb(s[0], s[1], s[2], s[3], s[4], 70 + i), c = copy_emb(&e);
            run(vs[vi], &e);
            run(ref, &c);
            char what[96];
            snprintf(what, sizeof what, "%s B=%d T=%d C=%d V=%d", vs[vi]->name, s[0], s[1], s[2],
                     s[3]);
            assert_same_bits(&e, &c, what);
            free_emb(&e), free_emb(&c);
        }
}

static void test_gradients_have_the_same_bits_at_any_thread_count(void **state) {
    (void)state;
    const dl_variant *vs[8];
    const int counts[] = {2, 3, 5}; /* 3 and 5 split each table among several threads */
    int nv = lc_cpu_variants("embedding", vs, 8), saved = dl_threads_get();
    for (int vi = 1; vi < nv; vi++)
        for (int k = 0; k < 3; k++) {
            emb e = make_emb(8, 128, 128, 96, 7, 3), c = copy_emb(&e);
            assert_int_equal(dl_threads_set(1), DL_OK);
            run(vs[vi], &e);
            assert_int_equal(dl_threads_set(counts[k]), DL_OK);
            run(vs[vi], &c);
            assert_same_bits(&e, &c, vs[vi]->name);
            free_emb(&e), free_emb(&c);
        }
    assert_int_equal(dl_threads_set(saved), DL_OK);
}

static void test_null_gradient_is_skipped(void **state) {
    (void)state;
    const dl_variant *vs[8];
    int nv = lc_cpu_variants("embedding", vs, 8);
    for (int vi = 0; vi < nv; vi++) {
        emb e = make_emb(2, 3, 5, 4, 4, 9), c = copy_emb(&e);
        dl_embedding_args a = args_of(&e);
        a.dwpe = NULL;
        assert_int_equal(dl_embedding_backward(vs[vi], &a), DL_OK);
        assert_memory_equal(e.dwpe, c.dwpe, sizeof(float) * e.maxT * e.C); /* untouched */
        for (int i = 0; i < 2 * 3; i++) /* dwte got dout on top of what it held */
            for (int k = 0; k < 5; k++)
                c.dwte[c.tokens[i] * 5 + k] += c.dout[i * 5 + k];
        assert_memory_equal(e.dwte, c.dwte, sizeof(float) * e.V * e.C);
        free_emb(&e), free_emb(&c);
    }
}

/* ---- finite differences: L = Σ w·out (linear in wte and wpe, so exact up to rounding) ---- */

static double weighted_out(void *ctx) {
    emb *e = ctx;
    dl_embedding_args a = args_of(e);
    assert_int_equal(dl_embedding_forward(dl_variant_find("embedding", "ref"), &a), DL_OK);
    return gc_weighted_sum(e->out, e->dout, (size_t)e->B * e->T * e->C);
}

static void test_ref_backward_matches_finite_differences(void **state) {
    (void)state;
    emb e = make_emb(2, 3, 4, 5, 3, 17); /* 3 distinct tokens among 6: repeats */
    memset(e.dwte, 0, sizeof(float) * 5 * 4);
    memset(e.dwpe, 0, sizeof(float) * e.maxT * 4);
    run(dl_variant_find("embedding", "ref"), &e);
    double ete = gc_check(e.wte, e.dwte, 5 * 4, weighted_out, &e, 1e-2f, NULL);
    double epe = gc_check(e.wpe, e.dwpe, (size_t)e.maxT * 4, weighted_out, &e, 1e-2f, NULL);
    if (!(ete < 2e-3 && epe < 2e-3)) fail_msg("gradient errors: wte %.3g, wpe %.3g", ete, epe);
    free_emb(&e);
}

static void test_bad_tokens_and_shapes_are_refused_naming_the_position(void **state) {
    (void)state;
    const int bad[3] = {-1, 11, 1 << 30};
    const dl_variant *omp = dl_variant_find("embedding", "omp");
    for (int b = 0; b < 3; b++) {
        emb e = make_emb(3, 7, 5, 11, 11, 4);
        e.tokens[1 * 7 + 5] = bad[b];
        dl_embedding_args a = args_of(&e);
        assert_int_equal(dl_embedding_forward(omp, &a), DL_ERR_ARG);
        assert_non_null(strstr(dl_last_error(), "tokens[1*T+5]"));
        assert_int_equal(dl_embedding_backward(omp, &a), DL_ERR_ARG);
        free_emb(&e);
    }
    emb e = make_emb(2, 4, 3, 5, 5, 4);
    dl_embedding_args a = args_of(&e);
    a.maxT = 3;
    assert_int_equal(dl_embedding_forward(omp, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "maxT"));
    a = args_of(&e), a.wpe = NULL;
    assert_int_equal(dl_embedding_forward(omp, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "wpe"));
    a = args_of(&e), a.dout = NULL;
    assert_int_equal(dl_embedding_backward(omp, &a), DL_ERR_ARG);
    a = args_of(&e), a.B = 0; /* empty: fine */
    assert_int_equal(dl_embedding_forward(omp, &a), DL_OK);
    assert_int_equal(dl_embedding_forward(dl_variant_find("residual", "ref"), &a), DL_ERR_ARG);
    free_emb(&e);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_variant_matches_ref_bit_for_bit_with_repeated_tokens),
        cmocka_unit_test(test_gradients_have_the_same_bits_at_any_thread_count),
        cmocka_unit_test(test_null_gradient_is_skipped),
        cmocka_unit_test(test_ref_backward_matches_finite_differences),
        cmocka_unit_test(test_bad_tokens_and_shapes_are_refused_naming_the_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
