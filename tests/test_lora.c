/* test_lora.c — low-rank adapters on the GPT (lora.h): an untrained adapter changes nothing,
 * the adapter gradients (and the gradient through an adapter into the layers below) against
 * finite differences, freeze_base, merge and unmerge, adapter files (round trip, another
 * base, corruption), the bad-input rules, target specs, and that a few AdamW steps on A and
 * B alone lower the loss. CPU ("ref" ops), on a tiny GPT. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/dlab.h"
#include "dlab/gpt.h"
#include "dlab/lora.h"
#include "dlab/optim.h"
#include "gradcheck.h"
#include "tmpdir.h"

enum { V = 11, T = 8, L = 2, NH = 2, C = 16, B = 2 };

/* A tiny model with O(1)-sized random parameters (as test_gpt.c: GPT-2's 0.02 would make the
 * gradients too small for fp32 finite differences), gammas near 1, random tokens. */
static void make_model_on(dl_gpt *m, const char *variants, int *tokens, int *targets) {
    dl_gpt_config cfg = {.vocab = V, .block_size = T, .n_layer = L, .n_head = NH, .n_embd = C};
    assert_int_equal(dl_gpt_create(m, &cfg, B, T, variants), DL_OK);
    dl_rng r;
    dl_rng_seed(&r, 11);
    dl_rng_fill_normal(&r, m->params, m->n_params, 0.0f, 0.3f);
    const int gammas[] = {DL_GPT_LN1W, DL_GPT_LN2W, DL_GPT_LNFW};
    dl_gpt_tensor t[DL_GPT_N_TENSORS];
    dl_gpt_tensors(&cfg, t);
    for (int g = 0; g < 3; g++)
        for (size_t k = 0; k < t[gammas[g]].size; k++) m->p[gammas[g]][k] += 1.0f;
    for (int i = 0; i < B * T; i++) tokens[i] = (int)dl_rng_below(&r, V), targets[i] = (int)dl_rng_below(&r, V);
}

static void make_model(dl_gpt *m, int *tokens, int *targets) { make_model_on(m, "ref", tokens, targets); }

/* Adapters of `spec` at rank r, alpha 2r (scale 2), with B random too when nonzero_B (an
 * untrained B = 0 would make every dA zero and hide a wrong formula). */
static void make_lora(dl_lora *lo, const dl_gpt *m, const char *spec, int rank, bool nonzero_B) {
    dl_lora_config cfg = {.rank = rank, .alpha = 2.0f * rank};
    assert_int_equal(dl_lora_parse_targets(spec, &cfg.targets), DL_OK);
    dl_rng r;
    dl_rng_seed(&r, 3);
    assert_int_equal(dl_lora_create(lo, m, &cfg, &r), DL_OK);
    if (nonzero_B)
        for (int i = 0; i < lo->n_adapters; i++) {
            dl_lora_adapter *ad = &lo->adapters[i];
            dl_rng_fill_normal(&r, ad->B, (size_t)ad->out * rank, 0.0f, 0.3f);
        }
}

typedef struct loss_ctx {
    dl_gpt *m;
    const int *tokens, *targets;
} loss_ctx;

static double gpt_loss(void *p) {
    loss_ctx *c = p;
    float loss = 0;
    assert_int_equal(dl_gpt_forward(c->m, c->tokens, c->targets, B, T, &loss), DL_OK);
    return loss;
}

/* ‖num − ana‖ / ‖ana‖ over x[0..n): a wrong formula anywhere in the span makes it O(1). */
static double normwise_error(float *x, const float *grad, size_t n, loss_ctx *c) {
    const float h = 1e-2f;
    double diff2 = 0, ana2 = 0;
    for (size_t k = 0; k < n; k++) {
        float saved = x[k];
        x[k] = saved + h;
        double up = gpt_loss(c);
        x[k] = saved - h;
        double down = gpt_loss(c);
        x[k] = saved;
        double num = (up - down) / ((double)(saved + h) - (double)(saved - h));
        diff2 += (num - grad[k]) * (num - grad[k]), ana2 += (double)grad[k] * grad[k];
    }
    return sqrt(diff2 / fmax(ana2, 1e-30));
}

static float max_abs(const float *x, size_t n) {
    float mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmaxf(mx, fabsf(x[i]));
    return mx;
}

static float max_abs_diff(const float *a, const float *b, size_t n) {
    float mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmaxf(mx, fabsf(a[i] - b[i]));
    return mx;
}

/* ------------------------------------------------------------------ tests */

static void test_untrained_adapter_gives_exactly_the_base_logits_and_loss(void **state) {
    (void)state;
    dl_gpt m;
    dl_lora lo;
    int tokens[B * T], targets[B * T];
    make_model(&m, tokens, targets);
    const size_t n_logits = (size_t)B * T * V;
    float base_loss, lora_loss, *base_logits = malloc(n_logits * sizeof(float));
    assert_int_equal(dl_gpt_forward(&m, tokens, targets, B, T, &base_loss), DL_OK);
    memcpy(base_logits, m.a.logits, n_logits * sizeof(float));
    make_lora(&lo, &m, "all", 2, false);
    assert_int_equal(dl_gpt_attach_lora(&m, &lo, true), DL_OK);
    assert_int_equal(dl_gpt_forward(&m, tokens, targets, B, T, &lora_loss), DL_OK);
    for (size_t i = 0; i < n_logits; i++)
        if (m.a.logits[i] != base_logits[i]) fail_msg("logit %zu: %.9g vs %.9g", i, m.a.logits[i], base_logits[i]);
    assert_true(lora_loss == base_loss);
    free(base_logits);
    dl_lora_free(&lo);
    dl_gpt_free(&m);
}

/* A and B of every adapter, for one target spec, against finite differences; and (not
 * frozen) the base parameters, whose gradients below the first adapter include its dx. */
static void check_adapter_gradients(const char *spec) {
    dl_gpt m;
    dl_lora lo;
    int tokens[B * T], targets[B * T];
    make_model(&m, tokens, targets);
    make_lora(&lo, &m, spec, 2, true);
    assert_int_equal(dl_gpt_attach_lora(&m, &lo, false), DL_OK);
    float loss;
    assert_int_equal(dl_gpt_forward(&m, tokens, targets, B, T, &loss), DL_OK);
    assert_int_equal(dl_gpt_backward(&m), DL_OK);
    float *lgrad = malloc(lo.n_params * sizeof(float)), *mgrad = malloc(m.n_params * sizeof(float));
    memcpy(lgrad, lo.grads, lo.n_params * sizeof(float));
    memcpy(mgrad, m.grads, m.n_params * sizeof(float));
    loss_ctx c = {&m, tokens, targets};

    size_t worst_i = 0;
    double elem = gc_check(lo.params, lgrad, lo.n_params, gpt_loss, &c, 1e-2f, &worst_i);
    double worst_norm = 0;
    for (int i = 0; i < lo.n_adapters; i++) {
        dl_lora_adapter *ad = &lo.adapters[i];
        for (int k = 0; k < 2; k++) {
            float *x = k ? ad->B : ad->A;
            size_t n = k ? (size_t)ad->out * lo.cfg.rank : (size_t)lo.cfg.rank * ad->in;
            double e = normwise_error(x, lgrad + (x - lo.params), n, &c);
            worst_norm = fmax(worst_norm, e);
            if (!(e < 5e-3))
                fail_msg("%s: layer %d %s.%c: ‖num − ana‖/‖ana‖ = %.3g", spec, ad->layer,
                         dl_lora_target_name(ad->target), k ? 'B' : 'A', e);
        }
    }
    /* Through the adapters: every base tensor (the lowest ones see each adapter's dx). */
    dl_gpt_tensor t[DL_GPT_N_TENSORS];
    dl_gpt_tensors(&m.cfg, t);
    double worst_base = 0;
    for (int i = 0; i < DL_GPT_N_TENSORS; i++) {
        double e = normwise_error(m.params + t[i].offset, mgrad + t[i].offset, t[i].size, &c);
        worst_base = fmax(worst_base, e);
        if (!(e < 5e-3)) fail_msg("%s: base tensor %s: ‖num − ana‖/‖ana‖ = %.3g", spec, t[i].name, e);
    }
    print_message("lora %-9s r=2: A,B worst element %.3g, worst tensor %.3g; base through adapters %.3g\n", spec,
                  elem, worst_norm, worst_base);
    if (!(elem < 3e-2)) fail_msg("%s: adapter parameter %zu: relative error %.3g", spec, worst_i, elem);
    free(lgrad), free(mgrad);
    dl_lora_free(&lo);
    dl_gpt_free(&m);
}

static void test_adapter_gradients_match_finite_differences_for_each_target(void **state) {
    (void)state;
    const char *specs[] = {"q", "v", "attn_proj", "fc", "fc_proj", "all"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) check_adapter_gradients(specs[i]);
}

/* The "fast" backend (its best matmul, with the strided q/k/v slices) gives the ref's numbers. */
static void test_fast_ops_give_the_ref_adapter_gradients(void **state) {
    (void)state;
    dl_gpt ref, fast;
    dl_lora lref, lfast;
    int tokens[B * T], targets[B * T];
    make_model_on(&ref, "ref", tokens, targets);
    make_model_on(&fast, "fast", tokens, targets);
    make_lora(&lref, &ref, "all", 2, true);
    make_lora(&lfast, &fast, "all", 2, true);
    float loss_ref, loss_fast;
    assert_int_equal(dl_gpt_attach_lora(&ref, &lref, true), DL_OK);
    assert_int_equal(dl_gpt_attach_lora(&fast, &lfast, true), DL_OK);
    assert_int_equal(dl_gpt_forward(&ref, tokens, targets, B, T, &loss_ref), DL_OK);
    assert_int_equal(dl_gpt_forward(&fast, tokens, targets, B, T, &loss_fast), DL_OK);
    assert_int_equal(dl_gpt_backward(&ref), DL_OK);
    assert_int_equal(dl_gpt_backward(&fast), DL_OK);
    double grad_err = max_abs_diff(lfast.grads, lref.grads, lref.n_params) / max_abs(lref.grads, lref.n_params);
    print_message("fast vs ref with adapters: loss %.7f vs %.7f, adapter grads max rel %.3g\n", loss_fast,
                  loss_ref, grad_err);
    assert_true(fabsf(loss_fast - loss_ref) <= 1e-5f * loss_ref);
    assert_true(grad_err < 1e-4);
    dl_lora_free(&lref), dl_lora_free(&lfast);
    dl_gpt_free(&ref), dl_gpt_free(&fast);
}

static void test_freeze_base_leaves_base_grads_zero_and_adapter_grads_unchanged(void **state) {
    (void)state;
    dl_gpt m;
    dl_lora lo;
    int tokens[B * T], targets[B * T];
    make_model(&m, tokens, targets);
    make_lora(&lo, &m, "all", 2, true);
    assert_int_equal(dl_gpt_attach_lora(&m, &lo, false), DL_OK);
    assert_int_equal(dl_gpt_forward(&m, tokens, targets, B, T, NULL), DL_OK);
    assert_int_equal(dl_gpt_backward(&m), DL_OK);
    float *unfrozen = malloc(lo.n_params * sizeof(float));
    memcpy(unfrozen, lo.grads, lo.n_params * sizeof(float));
    assert_true(max_abs(m.grads, m.n_params) > 0);

    assert_int_equal(dl_gpt_attach_lora(&m, &lo, true), DL_OK);
    assert_int_equal(dl_gpt_forward(&m, tokens, targets, B, T, NULL), DL_OK);
    assert_int_equal(dl_gpt_backward(&m), DL_OK);
    assert_true(max_abs(m.grads, m.n_params) == 0.0f);
    float diff = max_abs_diff(lo.grads, unfrozen, lo.n_params);
    print_message("freeze_base: adapter grads differ from unfrozen by at most %g\n", diff);
    assert_true(diff == 0.0f);
    free(unfrozen);
    dl_lora_free(&lo);
    dl_gpt_free(&m);
}

static void test_merged_model_matches_adapter_model_and_unmerge_restores_the_base(void **state) {
    (void)state;
    dl_gpt m;
    dl_lora lo;
    int tokens[B * T], targets[B * T];
    make_model(&m, tokens, targets);
    make_lora(&lo, &m, "all", 2, true);
    float *w0 = malloc(m.n_params * sizeof(float));
    memcpy(w0, m.params, m.n_params * sizeof(float));
    const size_t n_logits = (size_t)B * T * V;
    float *adapted = malloc(n_logits * sizeof(float));
    assert_int_equal(dl_gpt_attach_lora(&m, &lo, true), DL_OK);
    assert_int_equal(dl_gpt_forward(&m, tokens, NULL, B, T, NULL), DL_OK);
    memcpy(adapted, m.a.logits, n_logits * sizeof(float));

    assert_int_equal(dl_lora_merge(&lo, &m), DL_OK);
    assert_null(m.lora);
    assert_int_equal(dl_gpt_forward(&m, tokens, NULL, B, T, NULL), DL_OK);
    double merge_err = max_abs_diff(m.a.logits, adapted, n_logits) / max_abs(adapted, n_logits);
    print_message("merge: max |merged − adapted| / max |adapted| over the logits = %.3g\n", merge_err);
    assert_true(merge_err <= 1e-5);
    assert_true(max_abs_diff(m.params, w0, m.n_params) > 0); /* the merge did change W0 */

    assert_int_equal(dl_lora_merge(&lo, &m), DL_ERR_ARG); /* twice would add B·A twice */
    assert_int_equal(dl_lora_unmerge(&lo, &m), DL_OK);
    assert_int_equal(dl_lora_unmerge(&lo, &m), DL_ERR_ARG);
    assert_ptr_equal(m.lora, &lo);
    assert_true(m.freeze_base);
    double unmerge_err = max_abs_diff(m.params, w0, m.n_params) / max_abs(w0, m.n_params);
    print_message("unmerge: max |W − W0| / max |W0| = %.3g\n", unmerge_err);
    assert_true(unmerge_err <= 1e-6);
    free(w0), free(adapted);
    dl_lora_free(&lo);
    dl_gpt_free(&m);
}

static void test_adapter_file_round_trip_is_bit_exact(void **state) {
    (void)state;
    dl_gpt m;
    dl_lora saved, loaded;
    int tokens[B * T], targets[B * T];
    make_model(&m, tokens, targets);
    make_lora(&saved, &m, "attn,fc", 2, true);
    char path[128];
    snprintf(path, sizeof path, "%s/a.lora", tmpdir);
    assert_int_equal(dl_lora_save(&saved, path), DL_OK);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fclose(f);
    assert_int_equal((size_t)bytes, dl_lora_file_bytes(&saved));

    dl_lora_config cfg = saved.cfg;
    dl_rng r;
    dl_rng_seed(&r, 99); /* other A */
    assert_int_equal(dl_lora_create(&loaded, &m, &cfg, &r), DL_OK);
    assert_true(memcmp(loaded.params, saved.params, saved.n_params * sizeof(float)) != 0);
    assert_int_equal(dl_lora_load(&loaded, &m, path), DL_OK);
    assert_memory_equal(loaded.params, saved.params, saved.n_params * sizeof(float));
    assert_int_equal(loaded.base_crc, saved.base_crc);

    /* A file of another rank or other targets does not load into these adapters. */
    dl_lora other;
    dl_lora_config other_cfg = {.rank = 3, .alpha = 1, .targets = cfg.targets};
    assert_int_equal(dl_lora_create(&other, &m, &other_cfg, &r), DL_OK);
    assert_int_equal(dl_lora_load(&other, &m, path), DL_ERR_ARG);
    dl_lora_free(&other);
    dl_lora_free(&saved), dl_lora_free(&loaded);
    dl_gpt_free(&m);
}

static void test_adapter_for_another_base_model_is_refused(void **state) {
    (void)state;
    dl_gpt m;
    dl_lora lo;
    int tokens[B * T], targets[B * T];
    make_model(&m, tokens, targets);
    make_lora(&lo, &m, "qv", 2, true);
    char path[128];
    snprintf(path, sizeof path, "%s/b.lora", tmpdir);
    assert_int_equal(dl_lora_save(&lo, path), DL_OK);
    m.params[5] += 1.0f; /* another base: same shape, other parameters */
    assert_int_equal(dl_lora_load(&lo, &m, path), DL_ERR_ARG);
    print_message("another base: %s\n", dl_last_error());
    assert_non_null(strstr(dl_last_error(), "another base model"));
    dl_lora_free(&lo);
    dl_gpt_free(&m);
}

static void test_corrupt_adapter_file_is_a_format_error(void **state) {
    (void)state;
    dl_gpt m;
    dl_lora lo;
    int tokens[B * T], targets[B * T];
    make_model(&m, tokens, targets);
    make_lora(&lo, &m, "qv", 2, true);
    char path[128];
    snprintf(path, sizeof path, "%s/c.lora", tmpdir);
    assert_int_equal(dl_lora_save(&lo, path), DL_OK);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    long at = (long)dl_lora_file_bytes(&lo) / 2; /* somewhere in the tensor data */
    fseek(f, at, SEEK_SET);
    int byte = fgetc(f);
    fseek(f, at, SEEK_SET);
    fputc(byte ^ 0x40, f);
    fclose(f);
    assert_int_equal(dl_lora_load(&lo, &m, path), DL_ERR_FORMAT);
    print_message("corrupt: %s\n", dl_last_error());
    dl_lora_free(&lo);
    dl_gpt_free(&m);
}

static void expect_bad_config(const dl_gpt *m, int rank, float alpha, unsigned targets) {
    dl_lora lo;
    dl_rng r;
    dl_rng_seed(&r, 1);
    dl_lora_config cfg = {.rank = rank, .alpha = alpha, .targets = targets};
    assert_int_equal(dl_lora_create(&lo, m, &cfg, &r), DL_ERR_ARG);
    assert_true(strlen(dl_last_error()) > 10);
    print_message("rank=%d alpha=%g targets=0x%x: %s\n", rank, alpha, targets, dl_last_error());
    dl_lora_free(&lo); /* harmless on a failed create */
}

static void test_bad_rank_alpha_and_targets_are_clear_errors(void **state) {
    (void)state;
    dl_gpt m;
    int tokens[B * T], targets[B * T];
    make_model(&m, tokens, targets);
    const unsigned qv = (1u << DL_LORA_Q) | (1u << DL_LORA_V);
    expect_bad_config(&m, 0, 1.0f, qv);
    expect_bad_config(&m, C + 1, 1.0f, qv); /* min(in, out) = C for q and v */
    expect_bad_config(&m, 2, 0.0f, qv);
    expect_bad_config(&m, 2, -1.0f, qv);
    expect_bad_config(&m, 2, 1.0f, 0);
    unsigned mask = 0;
    assert_int_equal(dl_lora_parse_targets("wk", &mask), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "wk"));
    assert_int_equal(dl_lora_parse_targets("", &mask), DL_ERR_ARG);
    assert_int_equal(dl_lora_parse_targets("q,,v", &mask), DL_ERR_ARG);
    dl_gpt_free(&m);
}

static void test_target_specs_parse_to_their_masks(void **state) {
    (void)state;
    const unsigned q = 1u << DL_LORA_Q, k = 1u << DL_LORA_K, v = 1u << DL_LORA_V;
    const unsigned ap = 1u << DL_LORA_ATTN_PROJ, fc = 1u << DL_LORA_FC, fp = 1u << DL_LORA_FC_PROJ;
    const struct {
        const char *spec;
        unsigned mask;
    } cases[] = {{"qv", q | v},         {"q,v", q | v},           {"attn", q | k | v | ap},
                 {"all", q | k | v | ap | fc | fp}, {"attn,fc", q | k | v | ap | fc}, {"fc_proj", fp},
                 {"q, v", q | v}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        unsigned mask = 0;
        assert_int_equal(dl_lora_parse_targets(cases[i].spec, &mask), DL_OK);
        if (mask != cases[i].mask) fail_msg("'%s' → 0x%x, expected 0x%x", cases[i].spec, mask, cases[i].mask);
    }
    for (int t = 0; t < DL_LORA_N_TARGETS; t++) {
        unsigned mask = 0;
        assert_int_equal(dl_lora_parse_targets(dl_lora_target_name((dl_lora_target)t), &mask), DL_OK);
        assert_int_equal(mask, 1u << t);
    }
}

static void test_find_returns_each_adapter_once(void **state) {
    (void)state;
    dl_gpt m;
    dl_lora lo;
    int tokens[B * T], targets[B * T];
    make_model(&m, tokens, targets);
    make_lora(&lo, &m, "k,fc", 2, false);
    assert_int_equal(lo.n_adapters, 2 * L);
    for (int l = 0; l < L; l++)
        for (int t = 0; t < DL_LORA_N_TARGETS; t++) {
            dl_lora_adapter *ad = dl_lora_find(&lo, l, (dl_lora_target)t);
            if (t == DL_LORA_K || t == DL_LORA_FC) {
                assert_non_null(ad);
                assert_int_equal(ad->layer, l);
                assert_int_equal(ad->target, t);
            } else {
                assert_null(ad);
            }
        }
    assert_int_equal(lo.n_params, (size_t)L * 2 * ((C + C) + (C + 4 * C)));
    dl_lora_free(&lo);
    dl_gpt_free(&m);
}

static void test_adamw_on_adapters_alone_lowers_the_loss(void **state) {
    (void)state;
    dl_gpt m;
    dl_lora lo;
    int tokens[B * T], targets[B * T];
    make_model(&m, tokens, targets);
    make_lora(&lo, &m, "qv", 4, false);
    assert_int_equal(dl_gpt_attach_lora(&m, &lo, true), DL_OK);
    float *w0 = malloc(m.n_params * sizeof(float));
    memcpy(w0, m.params, m.n_params * sizeof(float));
    float *mom = calloc(lo.n_params, sizeof(float)), *var = calloc(lo.n_params, sizeof(float));
    const dl_variant *opt = dl_variant_find("optim", "ref");
    assert_non_null(opt);
    float first = 0, last = 0;
    for (int step = 1; step <= 30; step++) {
        assert_int_equal(dl_gpt_forward(&m, tokens, targets, B, T, &last), DL_OK);
        if (step == 1) first = last;
        assert_int_equal(dl_gpt_backward(&m), DL_OK);
        dl_adamw_args a = {.n = lo.n_params, .param = lo.params, .grad = lo.grads, .m = mom, .v = var,
                           .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .step = step};
        assert_int_equal(dl_adamw_run(opt, &a), DL_OK);
    }
    print_message("adamw on A,B only (qv, r=4): loss %.4f → %.4f in 30 steps\n", first, last);
    assert_true(last < 0.9f * first);
    assert_memory_equal(m.params, w0, m.n_params * sizeof(float)); /* the base never moved */
    free(w0), free(mom), free(var);
    dl_lora_free(&lo);
    dl_gpt_free(&m);
}

static int setup(void **state) { (void)state; return tmpdir_make("lora"); }
static int teardown(void **state) { (void)state; return tmpdir_remove(); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_untrained_adapter_gives_exactly_the_base_logits_and_loss),
        cmocka_unit_test(test_adapter_gradients_match_finite_differences_for_each_target),
        cmocka_unit_test(test_fast_ops_give_the_ref_adapter_gradients),
        cmocka_unit_test(test_freeze_base_leaves_base_grads_zero_and_adapter_grads_unchanged),
        cmocka_unit_test(test_merged_model_matches_adapter_model_and_unmerge_restores_the_base),
        cmocka_unit_test(test_adapter_file_round_trip_is_bit_exact),
        cmocka_unit_test(test_adapter_for_another_base_model_is_refused),
        cmocka_unit_test(test_corrupt_adapter_file_is_a_format_error),
        cmocka_unit_test(test_bad_rank_alpha_and_targets_are_clear_errors),
        cmocka_unit_test(test_target_specs_parse_to_their_masks),
        cmocka_unit_test(test_find_returns_each_adapter_once),
        cmocka_unit_test(test_adamw_on_adapters_alone_lowers_the_loss),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
