/* test_lesson04.c — what lesson 4 computes exactly, on small random GPTs (no data needed):
 * the outlier injection preserves the function (logits equal within rounding at s = 1, 10, 50)
 * while the activations at the injected dimensions grow s-fold; the statistics find exactly
 * the injected dimensions and none in a plain model; zeroing an injected dimension is zeroing
 * it in the plain model; LLM.int8() keeps the injected model near fp32 where absmax does not;
 * int8 weights are ~4x smaller; every hook comes off after use, also after a failure; bad
 * injection arguments and bad command lines are refused.
 * Linked with every .c file of lessons/04-int8-outliers except lesson.c, and lessons/common. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../lessons/04-int8-outliers/int8_lesson.h"

#define B_ 2
#define T_ 8

typedef struct fixture {
    dl_gpt m;
    float *base;   /* host parameters */
    int tokens[B_ * T_];
    int *val;      /* a "validation text" of random tokens */
    size_t val_len;
} fixture;

/* A 2-layer, width-16 GPT on "ref" with random weights; ln gains and biases random too when
 * `random_ln` (the plain init has gains 1 and biases 0). */
static void make_model(fixture *f, bool random_ln) {
    memset(f, 0, sizeof *f);
    dl_gpt_config cfg = {.vocab = 13, .block_size = T_, .n_layer = 2, .n_head = 2, .n_embd = 16};
    dl_rng r;
    dl_rng_seed(&r, 4);
    assert_int_equal(dl_gpt_create(&f->m, &cfg, B_, T_, "ref"), DL_OK);
    assert_int_equal(dl_gpt_init(&f->m, &r), DL_OK);
    f->base = malloc(f->m.n_params * sizeof(float));
    assert_non_null(f->base);
    assert_int_equal(dl_gpt_params_to_host(&f->m, f->base), DL_OK);
    if (random_ln) {
        dl_gpt_tensor t[DL_GPT_N_TENSORS];
        dl_gpt_tensors(&cfg, t);
        const int gains[] = {DL_GPT_LN1W, DL_GPT_LN2W}, biases[] = {DL_GPT_LN1B, DL_GPT_LN2B};
        for (int j = 0; j < 2; j++) {
            dl_rng_fill_uniform(&r, f->base + t[gains[j]].offset, t[gains[j]].size, 0.5f, 1.5f);
            dl_rng_fill_uniform(&r, f->base + t[biases[j]].offset, t[biases[j]].size, -0.5f, 0.5f);
        }
        /* weights of 0.02 make logits tiny: larger ones make the rounding test mean something */
        dl_rng_fill_normal(&r, f->base + t[DL_GPT_QKVW].offset, t[DL_GPT_QKVW].size, 0, 0.3f);
        dl_rng_fill_normal(&r, f->base + t[DL_GPT_FCW].offset, t[DL_GPT_FCW].size, 0, 0.3f);
        dl_rng_fill_normal(&r, f->base + t[DL_GPT_WTE].offset, t[DL_GPT_WTE].size, 0, 0.3f);
        assert_int_equal(dl_gpt_params_from_host(&f->m, f->base), DL_OK);
    }
    for (int i = 0; i < B_ * T_; i++) f->tokens[i] = (int)dl_rng_below(&r, 13);
    f->val_len = 200;
    f->val = malloc(f->val_len * sizeof(int));
    assert_non_null(f->val);
    for (size_t i = 0; i < f->val_len; i++) f->val[i] = (int)dl_rng_below(&r, 13);
}

static void free_model(fixture *f) {
    dl_gpt_free(&f->m);
    free(f->base), free(f->val);
}

/* the logits of f->tokens with parameters `params`, or with the hook set */
static void logits_of(fixture *f, const float *params, dl_gpt_linear_hook hook, void *ctx, float *out) {
    assert_int_equal(dl_gpt_params_from_host(&f->m, params), DL_OK);
    dl_gpt_set_linear_hook(&f->m, hook, ctx);
    assert_int_equal(dl_gpt_forward(&f->m, f->tokens, NULL, B_, T_, NULL), DL_OK);
    dl_gpt_set_linear_hook(&f->m, NULL, NULL);
    memcpy(out, f->m.a.logits, (size_t)B_ * T_ * f->m.cfg.vocab * sizeof(float));
}

static double max_abs_diff(const float *a, const float *b, size_t n, double *max_a) {
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i])), m = fmax(m, fabs(a[i]));
    if (max_a) *max_a = m;
    return d;
}

static const int injected[3] = {2, 7, 11};

static void injection_preserves_the_function_and_scales_the_activations(void **state) {
    (void)state;
    fixture f;
    make_model(&f, true);
    const size_t nl = (size_t)B_ * T_ * f.m.cfg.vocab;
    float *ref = malloc(nl * 4), *got = malloc(nl * 4), *params = malloc(f.m.n_params * 4);
    i8_act_stats base_st, st;
    assert_int_equal(i8_stats_init(&base_st, &f.m, 6.0f), DL_OK);
    assert_int_equal(i8_stats_init(&st, &f.m, 6.0f), DL_OK);
    logits_of(&f, f.base, i8_stats_hook, &base_st, ref);
    const double base_max = i8_stats_max_at(&base_st, injected, 3);
    const float scales[] = {1, 10, 50};
    for (int i = 0; i < 3; i++) {
        memcpy(params, f.base, f.m.n_params * 4);
        assert_int_equal(i8_inject_outliers(&f.m.cfg, params, injected, 3, scales[i]), DL_OK);
        i8_stats_reset(&st);
        logits_of(&f, params, i8_stats_hook, &st, got);
        double max_logit;
        const double d = max_abs_diff(ref, got, nl, &max_logit);
        assert_true(max_logit > 1.0); /* the comparison is not between near-zero numbers */
        if (scales[i] == 1) assert_true(d == 0); /* ×1 and ÷1 are exact */
        else assert_true(d <= 1e-5 * max_logit * scales[i]);
        /* the layernorm outputs at the injected dimensions are s times larger */
        assert_true(fabs(i8_stats_max_at(&st, injected, 3) - scales[i] * base_max) <= 1e-4 * scales[i] * base_max);
    }
    i8_stats_free(&base_st), i8_stats_free(&st);
    free(ref), free(got), free(params);
    free_model(&f);
}

static void statistics_find_the_injected_dimensions_and_none_in_a_plain_model(void **state) {
    (void)state;
    fixture f;
    make_model(&f, false);
    const size_t nl = (size_t)B_ * T_ * f.m.cfg.vocab;
    float *logits = malloc(nl * 4), *params = malloc(f.m.n_params * 4);
    i8_act_stats st;
    int dims[16], count = -1;
    double layer_frac[16], pos_frac[16];
    assert_int_equal(i8_stats_init(&st, &f.m, 6.0f), DL_OK);
    /* gains 1, biases 0: a layernorm output is bounded by sqrt(C − 1) = 3.9 < 6, so no
     * dimension can pass */
    logits_of(&f, f.base, i8_stats_hook, &st, logits);
    i8_outlier_dims(&st, 0.25, 0.06, dims, &count, layer_frac, pos_frac);
    assert_int_equal(count, 0);
    assert_true(i8_stats_max_at(&st, (int[]){0}, 1) < sqrtf(15.0f) + 1e-4);
    /* every projection saw every position */
    for (int l = 0; l < 2; l++) assert_int_equal(st.positions[l * DL_GPT_PROJ_COUNT + DL_GPT_PROJ_FC], B_ * T_);
    assert_int_equal(st.positions[2 * DL_GPT_PROJ_COUNT + DL_GPT_PROJ_HEAD], B_ * T_);
    memcpy(params, f.base, f.m.n_params * 4);
    assert_int_equal(i8_inject_outliers(&f.m.cfg, params, injected, 3, 50), DL_OK);
    i8_stats_reset(&st);
    logits_of(&f, params, i8_stats_hook, &st, logits);
    i8_outlier_dims(&st, 0.25, 0.06, dims, &count, layer_frac, pos_frac);
    assert_int_equal(count, 3);
    for (int i = 0; i < 3; i++) assert_int_equal(dims[i], injected[i]);
    assert_true(layer_frac[2] == 1.0 && pos_frac[2] >= 0.06);
    int top[3];
    i8_top_dims(&st, 3, top);
    for (int i = 0; i < 3; i++) assert_true(top[i] == 2 || top[i] == 7 || top[i] == 11);
    /* a threshold above everything finds nothing */
    i8_act_stats high;
    assert_int_equal(i8_stats_init(&high, &f.m, 1e6f), DL_OK);
    logits_of(&f, params, i8_stats_hook, &high, logits);
    i8_outlier_dims(&high, 0.25, 0.06, dims, &count, NULL, NULL);
    assert_int_equal(count, 0);
    i8_stats_free(&high), i8_stats_free(&st);
    free(logits), free(params);
    free_model(&f);
}

static void zeroing_an_injected_dimension_is_zeroing_it_in_the_plain_model(void **state) {
    (void)state;
    fixture f;
    make_model(&f, true);
    const size_t nl = (size_t)B_ * T_ * f.m.cfg.vocab;
    float *plain = malloc(nl * 4), *inj = malloc(nl * 4), *none = malloc(nl * 4), *params = malloc(f.m.n_params * 4);
    i8_zero z = {.dims = injected, .k = 3, .linear = f.m.linear};
    logits_of(&f, f.base, i8_zero_hook, &z, plain);
    memcpy(params, f.base, f.m.n_params * 4);
    assert_int_equal(i8_inject_outliers(&f.m.cfg, params, injected, 3, 50), DL_OK);
    logits_of(&f, params, i8_zero_hook, &z, inj);
    double mx;
    assert_true(max_abs_diff(plain, inj, nl, &mx) <= 1e-4 * mx);
    /* and zeroing nothing is the plain forward, bit for bit */
    i8_zero nothing = {.dims = injected, .k = 0, .linear = f.m.linear};
    logits_of(&f, f.base, i8_zero_hook, &nothing, none);
    logits_of(&f, f.base, NULL, NULL, plain);
    assert_true(max_abs_diff(plain, none, nl, NULL) == 0);
    /* while zeroing three dimensions does change the output */
    logits_of(&f, f.base, i8_zero_hook, &z, inj);
    assert_true(max_abs_diff(plain, inj, nl, NULL) > 1e-3);
    i8_zero_free(&z), i8_zero_free(&nothing);
    free(plain), free(inj), free(none), free(params);
    free_model(&f);
}

static void llm_int8_stays_near_fp32_where_absmax_does_not(void **state) {
    (void)state;
    fixture f;
    make_model(&f, true);
    const size_t nl = (size_t)B_ * T_ * f.m.cfg.vocab;
    float *ref = malloc(nl * 4), *got = malloc(nl * 4), *params = malloc(f.m.n_params * 4);
    memcpy(params, f.base, f.m.n_params * 4);
    assert_int_equal(i8_inject_outliers(&f.m.cfg, params, injected, 3, 50), DL_OK);
    logits_of(&f, params, NULL, NULL, ref);
    double err[DL_QLINEAR_MODE_COUNT], mx = 0;
    size_t bytes[DL_QLINEAR_MODE_COUNT], fp32_bytes = 0;
    for (int mode = 0; mode < DL_QLINEAR_MODE_COUNT; mode++) {
        i8_qmodel qm;
        assert_int_equal(i8_qmodel_build(&qm, &f.m, (dl_qlinear_mode)mode, 6.0f), DL_OK);
        logits_of(&f, params, i8_qmodel_hook, &qm, got);
        err[mode] = max_abs_diff(ref, got, nl, &mx);
        bytes[mode] = i8_qmodel_weight_bytes(&qm, &fp32_bytes);
        if (mode == DL_QLINEAR_LLM_INT8) {
            long long cols, calls;
            i8_qmodel_outlier_counts(&qm, &cols, &calls);
            assert_int_equal(calls, 2 * 4 + 1); /* 4 projections in each of 2 layers + the head */
            assert_true(cols >= 2 * 2 * 3);     /* at least the 3 injected dims in QKV and FC */
        }
        i8_qmodel_free(&qm);
    }
    assert_true(err[DL_QLINEAR_FP32] <= 1e-5 * mx);
    assert_true(err[DL_QLINEAR_LLM_INT8] < 0.5 * err[DL_QLINEAR_ABSMAX]);
    assert_true(err[DL_QLINEAR_LLM_INT8] < 0.5 * err[DL_QLINEAR_VECTORWISE]);
    /* weights: fp32 mode keeps fp32, the int8 modes about a quarter */
    assert_true(bytes[DL_QLINEAR_FP32] >= fp32_bytes);
    const double ratio = (double)fp32_bytes / bytes[DL_QLINEAR_LLM_INT8];
    assert_true(ratio > 3.0 && ratio <= 4.0);
    free(ref), free(got), free(params);
    free_model(&f);
}

static dl_status failing_hook(void *ctx, int layer, dl_gpt_proj proj, const dl_linear_args *args) {
    (void)ctx, (void)layer, (void)proj, (void)args;
    return DL_FAIL(DL_ERR_ARG, "this hook always fails");
}

static void the_hook_is_removed_after_use_even_after_a_failure(void **state) {
    (void)state;
    fixture f;
    make_model(&f, false);
    i8_act_stats st;
    assert_int_equal(i8_stats_init(&st, &f.m, 6.0f), DL_OK);
    double ppl = NAN, plain = NAN;
    assert_int_equal(i8_val_ppl(&f.m, f.val, f.val_len, 2, i8_stats_hook, &st, &ppl), DL_OK);
    assert_null(f.m.linear_hook.fn);
    assert_int_equal(i8_val_ppl(&f.m, f.val, f.val_len, 2, NULL, NULL, &plain), DL_OK);
    assert_true(ppl == plain && isfinite(ppl) && ppl > 1); /* the stats hook runs the fp32 linear */
    assert_int_equal(i8_val_ppl(&f.m, f.val, f.val_len, 2, failing_hook, NULL, &ppl), DL_ERR_ARG);
    assert_null(f.m.linear_hook.fn);
    /* a backward works again: no hook left behind */
    int targets[B_ * T_];
    for (int i = 0; i < B_ * T_; i++) targets[i] = f.tokens[(i + 1) % (B_ * T_)];
    assert_int_equal(dl_gpt_forward(&f.m, f.tokens, targets, B_, T_, NULL), DL_OK);
    assert_int_equal(dl_gpt_backward(&f.m), DL_OK);
    i8_stats_free(&st);
    free_model(&f);
}

static void bad_injection_arguments_are_refused(void **state) {
    (void)state;
    dl_gpt_config cfg = {.vocab = 13, .block_size = T_, .n_layer = 2, .n_head = 2, .n_embd = 16};
    float *p = calloc(dl_gpt_param_count(&cfg), sizeof(float));
    const int bad_dim[] = {16}, neg_dim[] = {-1};
    assert_int_equal(i8_inject_outliers(&cfg, p, injected, 3, 0), DL_ERR_ARG);
    assert_int_equal(i8_inject_outliers(&cfg, p, injected, 3, -2), DL_ERR_ARG);
    assert_int_equal(i8_inject_outliers(&cfg, p, injected, 3, NAN), DL_ERR_ARG);
    assert_int_equal(i8_inject_outliers(&cfg, p, injected, 3, INFINITY), DL_ERR_ARG);
    assert_int_equal(i8_inject_outliers(&cfg, p, bad_dim, 1, 2), DL_ERR_ARG);
    assert_int_equal(i8_inject_outliers(&cfg, p, neg_dim, 1, 2), DL_ERR_ARG);
    free(p);
}

static int parse(int argc, const char **argv, i8_config *cfg) {
    dlb_cli cli;
    return i8_cli_parse(argc, (char **)argv, cfg, &cli);
}

static void the_command_line_refuses_bad_input(void **state) {
    (void)state;
    i8_config cfg;
    const char *bad[][3] = {
        {"lesson-04", "--threshold", "nan"}, {"lesson-04", "--threshold", "0"},
        {"lesson-04", "--threshold", "-6"},  {"lesson-04", "--threshold", "inf"},
        {"lesson-04", "--inject", "0"},      {"lesson-04", "--inject", "17"},
        {"lesson-04", "--val-batches", "-1"}, {"lesson-04", "--bogus", "1"},
        {"lesson-04", "--threads", "0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) assert_int_equal(parse(3, bad[i], &cfg), 2);
    const char *missing[] = {"lesson-04", "--threshold"};
    assert_int_equal(parse(2, missing, &cfg), 2);
    const char *quick[] = {"lesson-04", "--quick", "--threshold", "4.5", "--inject", "2"};
    assert_int_equal(parse(6, quick, &cfg), 0);
    assert_true(cfg.quick && cfg.threshold == 4.5f && cfg.n_inject == 2 && cfg.model.n_embd == 64);
    const char *plain[] = {"lesson-04"};
    assert_int_equal(parse(1, plain, &cfg), 0);
    assert_true(!cfg.quick && cfg.threshold == 6.0f && cfg.gemm_sizes[0] == 1024 && cfg.overhead_N == 2048);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(injection_preserves_the_function_and_scales_the_activations),
        cmocka_unit_test(statistics_find_the_injected_dimensions_and_none_in_a_plain_model),
        cmocka_unit_test(zeroing_an_injected_dimension_is_zeroing_it_in_the_plain_model),
        cmocka_unit_test(llm_int8_stays_near_fp32_where_absmax_does_not),
        cmocka_unit_test(the_hook_is_removed_after_use_even_after_a_failure),
        cmocka_unit_test(bad_injection_arguments_are_refused),
        cmocka_unit_test(the_command_line_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
