/* test_gpt.c — the GPT model: its whole backward against finite differences, the fast ops
 * against the ref ops, flash attention against ref, bad configurations, the parameter count,
 * causality, that AdamW steps lower the loss, that smaller batches than allocated give the
 * same numbers, that sampling is a deterministic function of the seed, the host copy of the
 * parameters, that "cuda" without a GPU is a clear DL_ERR_DEVICE, and the clip dispatcher. */
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
#include "dlab/optim.h"
#include "gradcheck.h"

enum { V = 7, T = 5, L = 2, NH = 2, C = 8, B = 2 };

static dl_gpt_config tiny_config(void) {
    dl_gpt_config c = {.vocab = V, .block_size = T, .n_layer = L, .n_head = NH, .n_embd = C};
    return c;
}

/* A tiny model with O(1)-sized random parameters (GPT-2's 0.02 would make every gradient
 * too small for fp32 finite differences), layernorm gammas near 1, and random tokens. */
static void make_model(dl_gpt *m, const char *variants, int *tokens, int *targets) {
    dl_gpt_config cfg = tiny_config();
    assert_int_equal(dl_gpt_create(m, &cfg, B, T, variants), DL_OK);
    dl_rng r;
    dl_rng_seed(&r, 5);
    dl_rng_fill_normal(&r, m->params, m->n_params, 0.0f, 0.3f);
    dl_gpt_tensor t[DL_GPT_N_TENSORS];
    dl_gpt_tensors(&cfg, t);
    for (int i = DL_GPT_LN1W; i <= DL_GPT_LNFW; i++)
        if (i == DL_GPT_LN1W || i == DL_GPT_LN2W || i == DL_GPT_LNFW)
            for (size_t k = 0; k < t[i].size; k++) m->p[i][k] += 1.0f;
    for (int i = 0; i < B * T; i++) tokens[i] = (int)dl_rng_below(&r, V), targets[i] = (int)dl_rng_below(&r, V);
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

static void test_backward_matches_finite_differences_for_every_parameter(void **state) {
    (void)state;
    dl_gpt m;
    int tokens[B * T], targets[B * T];
    make_model(&m, "ref", tokens, targets);
    float loss;
    assert_int_equal(dl_gpt_forward(&m, tokens, targets, B, T, &loss), DL_OK);
    assert_true(isfinite(loss) && loss > 0);
    assert_int_equal(dl_gpt_backward(&m), DL_OK);
    float *grads = malloc(m.n_params * sizeof(float));
    memcpy(grads, m.grads, m.n_params * sizeof(float));
    loss_ctx c = {&m, tokens, targets};
    /* Element by element (gradcheck.h's measure: relative, floored at 1e-3 of the largest
     * gradient). fp32 rounding in a 2-layer forward puts ~1e-7 of noise on the loss, which is
     * 1e-5 on a difference quotient with h = 1e-2: the smallest gradients sit near that, so
     * the element-wise bound is loose (measured worst 1.4e-2) ... */
    size_t worst = 0;
    double err = gc_check(m.params, grads, m.n_params, gpt_loss, &c, 1e-2f, &worst);
    print_message("gpt gradcheck: worst element relative error %.3g (parameter %zu of %zu)\n", err, worst,
                  m.n_params);
    if (!(err < 3e-2)) fail_msg("parameter %zu: relative error %.3g", worst, err);
    /* ... and tensor by tensor the whole gradient must match tightly: ‖num − ana‖ / ‖ana‖,
     * which a wrong formula in any one tensor would push to O(1). */
    dl_gpt_config cfg = tiny_config();
    dl_gpt_tensor t[DL_GPT_N_TENSORS];
    dl_gpt_tensors(&cfg, t);
    double worst_tensor = 0;
    for (int i = 0; i < DL_GPT_N_TENSORS; i++) {
        double diff2 = 0, ana2 = 0;
        for (size_t k = t[i].offset; k < t[i].offset + t[i].size; k++) {
            float saved = m.params[k];
            m.params[k] = saved + 1e-2f;
            double up = gpt_loss(&c);
            m.params[k] = saved - 1e-2f;
            double down = gpt_loss(&c);
            m.params[k] = saved;
            double num = (up - down) / ((double)(saved + 1e-2f) - (double)(saved - 1e-2f));
            diff2 += (num - grads[k]) * (num - grads[k]), ana2 += (double)grads[k] * grads[k];
        }
        double rel = sqrt(diff2 / fmax(ana2, 1e-30));
        if (rel > worst_tensor) worst_tensor = rel;
        if (!(rel < 5e-3)) fail_msg("tensor %s: ‖num − ana‖/‖ana‖ = %.3g", t[i].name, rel);
    }
    print_message("gpt gradcheck: worst tensor-norm relative error %.3g\n", worst_tensor);
    free(grads);
    dl_gpt_free(&m);
}

static void test_fast_ops_give_the_ref_loss_and_gradients(void **state) {
    (void)state;
    dl_gpt ref, fast;
    int tokens[B * T], targets[B * T];
    make_model(&ref, "ref", tokens, targets);
    make_model(&fast, "fast", tokens, targets);
    float lr, lf;
    assert_int_equal(dl_gpt_forward(&ref, tokens, targets, B, T, &lr), DL_OK);
    assert_int_equal(dl_gpt_forward(&fast, tokens, targets, B, T, &lf), DL_OK);
    if (!(fabsf(lr - lf) <= 1e-5f * fabsf(lr))) fail_msg("loss ref %g fast %g", lr, lf);
    assert_int_equal(dl_gpt_backward(&ref), DL_OK);
    assert_int_equal(dl_gpt_backward(&fast), DL_OK);
    float scale = 0;
    for (size_t i = 0; i < ref.n_params; i++) scale = fmaxf(scale, fabsf(ref.grads[i]));
    for (size_t i = 0; i < ref.n_params; i++)
        if (!(fabsf(ref.grads[i] - fast.grads[i]) <= 1e-4f * scale))
            fail_msg("gradient %zu: ref %g fast %g", i, ref.grads[i], fast.grads[i]);
    dl_gpt_free(&ref);
    dl_gpt_free(&fast);
}

/* Each flash attention variant, alone among ref ops ("ref,attention=NAME") and among the fast
 * ones, gives ref's loss and gradients. Measured: the loss agrees to ~1e-7 relative; the bounds
 * are the fast-ops test's (loss 1e-5 relative, gradients 1e-4 of the largest). */
static void test_flash_attention_gives_the_ref_loss_and_gradients(void **state) {
    (void)state;
    const char *names[] = {"flash", "flash_avx512", "flash_avx2"};
    dl_gpt ref;
    int tokens[B * T], targets[B * T];
    make_model(&ref, "ref", tokens, targets);
    float lr;
    assert_int_equal(dl_gpt_forward(&ref, tokens, targets, B, T, &lr), DL_OK);
    assert_int_equal(dl_gpt_backward(&ref), DL_OK);
    float scale = 0;
    for (size_t i = 0; i < ref.n_params; i++) scale = fmaxf(scale, fabsf(ref.grads[i]));
    for (int i = 0; i < 3; i++) {
        if (!dl_variant_available(dl_variant_find("attention", names[i]))) continue;
        for (int base = 0; base < 2; base++) {
            char variants[64];
            snprintf(variants, sizeof variants, "%s,attention=%s", base ? "fast" : "ref", names[i]);
            dl_gpt m;
            make_model(&m, variants, tokens, targets);
            assert_string_equal(m.attention->name, names[i]);
            assert_null(m.a.att); /* no T×T scores anywhere: lse instead */
            assert_non_null(m.a.lse);
            float lf;
            assert_int_equal(dl_gpt_forward(&m, tokens, targets, B, T, &lf), DL_OK);
            print_message("%s: loss %.9g, ref %.9g\n", variants, lf, lr);
            if (!(fabsf(lr - lf) <= 1e-5f * fabsf(lr))) fail_msg("%s: loss %g, ref %g", variants, lf, lr);
            assert_int_equal(dl_gpt_backward(&m), DL_OK);
            for (size_t k = 0; k < ref.n_params; k++)
                if (!(fabsf(ref.grads[k] - m.grads[k]) <= 1e-4f * scale))
                    fail_msg("%s: gradient %zu: ref %g, got %g", variants, k, ref.grads[k], m.grads[k]);
            /* smaller activations than the same model with att: T×T per head became 1 */
            dl_gpt mat;
            make_model(&mat, base ? "fast,attention=ref" : "ref", tokens, targets);
            const size_t scores = (size_t)L * B * NH * T * T, rows = (size_t)L * B * NH * T;
            assert_int_equal(dl_gpt_memory(&mat).activations - dl_gpt_memory(&m).activations,
                             (scores - rows) * sizeof(float));
            dl_gpt_free(&mat);
            dl_gpt_free(&m);
        }
    }
    dl_gpt_free(&ref);
}

static void test_bad_configurations_are_refused_naming_the_fields(void **state) {
    (void)state;
    dl_gpt m;
    dl_gpt_config c = tiny_config();
    c.n_head = 3;
    assert_int_equal(dl_gpt_create(&m, &c, B, T, "fast"), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "n_head=3"));
    assert_non_null(strstr(dl_last_error(), "n_embd=8"));
    c = tiny_config(), c.n_layer = 0;
    assert_int_equal(dl_gpt_create(&m, &c, B, T, "fast"), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "n_layer=0"));
    c = tiny_config(), c.vocab = 0;
    assert_int_equal(dl_gpt_create(&m, &c, B, T, "fast"), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "vocab=0"));
    c = tiny_config();
    assert_int_equal(dl_gpt_create(&m, &c, B, T + 1, "fast"), DL_ERR_ARG); /* max_T > block_size */
    assert_non_null(strstr(dl_last_error(), "max_T"));
    assert_int_equal(dl_gpt_create(&m, &c, 0, T, "fast"), DL_ERR_ARG);
    assert_int_equal(dl_gpt_create(&m, &c, B, T, "gpu"), DL_ERR_ARG);
    assert_int_equal(dl_gpt_create(&m, &c, B, T, "fast,attention=nope"), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "'nope'"));
    assert_int_equal(dl_gpt_create(&m, &c, B, T, "fast,softmax=flash"), DL_ERR_ARG);
    assert_int_equal(dl_gpt_create(&m, &c, B, T, "fastest"), DL_ERR_ARG);
    assert_int_equal(dl_gpt_create(&m, &c, B, T, "ref"), DL_OK);
    int tokens[B * T + B] = {0};
    assert_int_equal(dl_gpt_forward(&m, tokens, NULL, B, T + 1, NULL), DL_ERR_ARG);
    tokens[3] = V; /* out of the vocabulary */
    assert_int_equal(dl_gpt_forward(&m, tokens, NULL, B, T, NULL), DL_ERR_ARG);
    tokens[3] = 0;
    assert_int_equal(dl_gpt_forward(&m, tokens, NULL, B, T, NULL), DL_OK);
    assert_int_equal(dl_gpt_backward(&m), DL_ERR_ARG); /* no targets to differentiate */
    dl_gpt_free(&m);
}

static void test_parameter_count_follows_the_formula(void **state) {
    (void)state;
    dl_gpt_config c = tiny_config();
    size_t expect = V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C;
    assert_int_equal(dl_gpt_param_count(&c), expect);
    dl_gpt m;
    assert_int_equal(dl_gpt_create(&m, &c, B, T, "fast"), DL_OK);
    assert_int_equal(m.n_params, expect);
    dl_mem_report r = dl_gpt_memory(&m);
    assert_int_equal(r.params, expect * sizeof(float));
    assert_int_equal(r.grads, r.params);
    assert_true(r.activations > (size_t)B * T * L * 16 * C * sizeof(float));
    dl_gpt_free(&m);
    /* the lesson's default: 96 characters, 4 × 128 wide, context 128 → 822 016 */
    dl_gpt_config d = dl_gpt_default_config(96);
    assert_int_equal(dl_gpt_param_count(&d), 96 * 128 + 128 * 128 + 4 * (12 * 128 * 128 + 13 * 128) + 256);
}

static void test_changing_a_later_token_leaves_earlier_logits_identical(void **state) {
    (void)state;
    for (int fast = 0; fast < 2; fast++) {
        dl_gpt m;
        int tokens[B * T], targets[B * T];
        make_model(&m, fast ? "fast" : "ref", tokens, targets);
        assert_int_equal(dl_gpt_forward(&m, tokens, NULL, B, T, NULL), DL_OK);
        float before[B * T * V];
        memcpy(before, m.a.logits, sizeof before);
        const int changed = 3;
        for (int b = 0; b < B; b++) tokens[b * T + changed] = (tokens[b * T + changed] + 1) % V;
        assert_int_equal(dl_gpt_forward(&m, tokens, NULL, B, T, NULL), DL_OK);
        for (int b = 0; b < B; b++) {
            const float *x = before + (size_t)b * T * V, *y = m.a.logits + (size_t)b * T * V;
            assert_memory_equal(x, y, changed * V * sizeof(float));
            assert_memory_not_equal(x + changed * V, y + changed * V, V * sizeof(float));
        }
        dl_gpt_free(&m);
    }
}

static void test_a_smaller_batch_than_allocated_gives_the_same_numbers(void **state) {
    (void)state;
    dl_gpt big, exact;
    dl_gpt_config c = tiny_config();
    assert_int_equal(dl_gpt_create(&big, &c, 3, T, "fast"), DL_OK);
    assert_int_equal(dl_gpt_create(&exact, &c, 2, 4, "fast"), DL_OK);
    dl_rng r1, r2;
    dl_rng_seed(&r1, 9), dl_rng_seed(&r2, 9);
    assert_int_equal(dl_gpt_init(&big, &r1), DL_OK);
    assert_int_equal(dl_gpt_init(&exact, &r2), DL_OK);
    int tokens[8] = {1, 2, 3, 4, 6, 5, 0, 1}, targets[8] = {2, 3, 4, 5, 5, 0, 1, 2};
    float lb, le;
    assert_int_equal(dl_gpt_forward(&big, tokens, targets, 2, 4, &lb), DL_OK);
    assert_int_equal(dl_gpt_forward(&exact, tokens, targets, 2, 4, &le), DL_OK);
    assert_true(lb == le);
    assert_int_equal(dl_gpt_backward(&big), DL_OK);
    assert_int_equal(dl_gpt_backward(&exact), DL_OK);
    assert_memory_equal(big.grads, exact.grads, big.n_params * sizeof(float));
    dl_gpt_free(&big);
    dl_gpt_free(&exact);
}

/* The inference hook: called once per projection in forward order (4 per layer, then the
 * head with layer = n_layer), with the shapes of gpt.h; a hook that runs the fp32 linear
 * gives the plain forward's loss bit for bit; a hook that doubles every output changes it;
 * a failing hook ends the forward with its status; the backward refuses while a hook is set
 * and works again once it is removed. */
typedef struct hook_log {
    const dl_variant *linear;
    int calls, bad_order;
    float factor;
    bool fail;
} hook_log;

static dl_status logging_hook(void *ctx, int layer, dl_gpt_proj proj, const dl_linear_args *args) {
    hook_log *h = ctx;
    const int want_layer = h->calls / 4 < L ? h->calls / 4 : L;
    const dl_gpt_proj want_proj = want_layer == L ? DL_GPT_PROJ_HEAD : (dl_gpt_proj)(h->calls % 4);
    static const int in_c[] = {C, C, C, 4 * C, C}, out_c[] = {3 * C, C, 4 * C, C, V};
    if (layer != want_layer || proj != want_proj || args->C != in_c[proj] || args->OC != out_c[proj])
        h->bad_order++;
    h->calls++;
    if (h->fail) return DL_FAIL(DL_ERR_ARG, "planted hook failure");
    DL_TRY(dl_linear_forward(h->linear, args));
    for (int i = 0; i < args->N * args->OC; i++) args->out[i] *= h->factor;
    return DL_OK;
}

static void test_the_linear_hook_replaces_every_projection_in_order(void **state) {
    (void)state;
    dl_gpt m;
    int tokens[B * T], targets[B * T];
    make_model(&m, "fast", tokens, targets);
    float plain, hooked, doubled;
    assert_int_equal(dl_gpt_forward(&m, tokens, targets, B, T, &plain), DL_OK);
    hook_log h = {.linear = m.linear, .factor = 1.0f};
    dl_gpt_set_linear_hook(&m, logging_hook, &h);
    assert_int_equal(dl_gpt_forward(&m, tokens, targets, B, T, &hooked), DL_OK);
    assert_int_equal(h.calls, 4 * L + 1);
    assert_int_equal(h.bad_order, 0);
    assert_true(hooked == plain);
    assert_int_equal(dl_gpt_backward(&m), DL_ERR_ARG);
    h.factor = 2.0f;
    assert_int_equal(dl_gpt_forward(&m, tokens, targets, B, T, &doubled), DL_OK);
    assert_true(doubled != plain);
    h.fail = true, h.calls = 0;
    assert_int_equal(dl_gpt_forward(&m, tokens, targets, B, T, &doubled), DL_ERR_ARG);
    assert_int_equal(h.calls, 1);
    dl_gpt_set_linear_hook(&m, NULL, NULL);
    assert_int_equal(dl_gpt_forward(&m, tokens, targets, B, T, &hooked), DL_OK);
    assert_true(hooked == plain);
    assert_int_equal(dl_gpt_backward(&m), DL_OK);
    dl_gpt_free(&m);
}

static void test_adamw_steps_learn_a_repeated_sequence(void **state) {
    (void)state;
    dl_gpt m;
    dl_gpt_config c = tiny_config();
    assert_int_equal(dl_gpt_create(&m, &c, B, T, "fast"), DL_OK);
    dl_rng r;
    dl_rng_seed(&r, 3);
    assert_int_equal(dl_gpt_init(&m, &r), DL_OK);
    int tokens[B * T], targets[B * T];
    for (int i = 0; i < B * T; i++) tokens[i] = i % 6, targets[i] = (i + 1) % 6;
    float *mom = calloc(m.n_params, sizeof(float)), *var = calloc(m.n_params, sizeof(float));
    float first = 0, loss = 0;
    const dl_variant *opt = dl_optim_best();
    for (int step = 1; step <= 60; step++) {
        assert_int_equal(dl_gpt_forward(&m, tokens, targets, B, T, &loss), DL_OK);
        if (step == 1) first = loss;
        assert_int_equal(dl_gpt_backward(&m), DL_OK);
        dl_adamw_args a = {.n = m.n_params, .param = m.params, .grad = m.grads, .m = mom, .v = var,
                           .lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                           .weight_decay = 0, .step = step};
        assert_int_equal(dl_adamw_run(opt, &a), DL_OK);
    }
    /* the start is near uniform, log 7 ≈ 1.95; the sequence is fully predictable */
    if (!(first > 1.5f && loss < 0.1f * first)) fail_msg("loss %g after 60 steps, %g at the first", loss, first);
    free(mom), free(var);
    dl_gpt_free(&m);
}

static void test_generate_is_deterministic_for_a_seed_and_greedy_takes_the_argmax(void **state) {
    (void)state;
    dl_gpt m;
    int tokens[B * T], targets[B * T];
    make_model(&m, "fast", tokens, targets);
    const int prompt[2] = {3, 1}, n_new = 9; /* longer than block_size: the window slides */
    int a[2 + 9], b[2 + 9], g[2 + 9];
    dl_rng r1, r2;
    dl_rng_seed(&r1, 42), dl_rng_seed(&r2, 42);
    assert_int_equal(dl_gpt_generate(&m, prompt, 2, n_new, 1.0f, &r1, a), DL_OK);
    assert_int_equal(dl_gpt_generate(&m, prompt, 2, n_new, 1.0f, &r2, b), DL_OK);
    assert_memory_equal(a, b, sizeof a);
    assert_int_equal(a[0], 3), assert_int_equal(a[1], 1);
    for (int i = 0; i < 2 + n_new; i++) assert_true(a[i] >= 0 && a[i] < V);
    assert_int_equal(dl_gpt_generate(&m, prompt, 2, n_new, 0.0f, NULL, g), DL_OK);
    /* greedy: each token is the argmax of the forward on the window before it */
    for (int i = 2; i < 2 + n_new; i++) {
        int len = i < T ? i : T;
        assert_int_equal(dl_gpt_forward(&m, g + i - len, NULL, 1, len, NULL), DL_OK);
        const float *lg = m.a.logits + (size_t)(len - 1) * V;
        int best = 0;
        for (int v = 1; v < V; v++)
            if (lg[v] > lg[best]) best = v;
        assert_int_equal(g[i], best);
    }
    assert_int_equal(dl_gpt_generate(&m, prompt, 0, 3, 1.0f, &r1, a), DL_ERR_ARG);
    assert_int_equal(dl_gpt_generate(&m, prompt, 2, 3, -1.0f, &r1, a), DL_ERR_ARG);
    dl_gpt_free(&m);
}

static void test_params_round_trip_through_the_host_copy(void **state) {
    (void)state;
    dl_gpt a, b;
    int tokens[B * T], targets[B * T];
    make_model(&a, "fast", tokens, targets);
    dl_gpt_config cfg = tiny_config();
    assert_int_equal(dl_gpt_create(&b, &cfg, B, T, "fast"), DL_OK);
    dl_rng r;
    dl_rng_seed(&r, 8);
    assert_int_equal(dl_gpt_init(&b, &r), DL_OK); /* GPT-2 init: other weights than a's */
    float *host = malloc(a.n_params * sizeof(float));
    assert_non_null(host);
    assert_int_equal(dl_gpt_params_to_host(&a, host), DL_OK);
    assert_memory_equal(host, a.params, a.n_params * sizeof(float)); /* CPU: the same bytes */
    assert_int_equal(dl_gpt_params_from_host(&b, host), DL_OK);
    assert_memory_equal(b.params, a.params, a.n_params * sizeof(float));
    float la, lb;
    assert_int_equal(dl_gpt_forward(&a, tokens, targets, B, T, &la), DL_OK);
    assert_int_equal(dl_gpt_forward(&b, tokens, targets, B, T, &lb), DL_OK);
    assert_true(la == lb);
    assert_int_equal(dl_gpt_params_from_host(&b, NULL), DL_ERR_ARG);
    free(host);
    dl_gpt_free(&a);
    dl_gpt_free(&b);
}

static void test_cuda_without_a_gpu_is_a_device_error_with_a_reason(void **state) {
    (void)state;
    dl_gpt m;
    dl_gpt_config c = tiny_config();
    dl_status s = dl_gpt_create(&m, &c, B, T, "cuda");
    if (dl_cuda_device_count() > 0) {
        /* A GPU here: made there, or refused for want of a CUDA attention, by name. */
        if (s == DL_ERR_UNSUPPORTED) assert_non_null(strstr(dl_last_error(), "attention"));
        else assert_int_equal(s, DL_OK);
        dl_gpt_free(&m);
        return;
    }
    assert_int_equal(s, DL_ERR_DEVICE);
    assert_non_null(strstr(dl_last_error(), "CUDA"));
    assert_null(m.params);
    dl_gpt_free(&m);
    /* The suffix form is refused the same way, before the attention name is looked at. */
    assert_int_equal(dl_gpt_create(&m, &c, B, T, "cuda,attention=flash"), DL_ERR_DEVICE);
}

static void test_clip_on_the_cpu_is_dl_clip_grad_norm_and_cuda_needs_a_gpu(void **state) {
    (void)state;
    float g1[3] = {3, 4, 0}, g2[3] = {3, 4, 0};
    dl_grad_span s1 = {g1, 3}, s2 = {g2, 3};
    double n1 = 0, n2 = 0;
    assert_int_equal(dl_clip_grad_norm(&s1, 1, 1.0, &n1), DL_OK);
    assert_int_equal(dl_clip_grad_norm_on(DL_DEVICE_CPU, &s2, 1, 1.0, &n2), DL_OK);
    assert_true(n1 == 5.0 && n2 == 5.0);
    assert_memory_equal(g1, g2, sizeof g1);
    assert_int_equal(dl_clip_grad_norm_on(DL_DEVICE_CPU, &s2, 1, 0.0, &n2), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "max_norm"));
    if (dl_cuda_device_count() == 0) {
        double n3 = 0;
        assert_int_equal(dl_clip_grad_norm_on(DL_DEVICE_CUDA, &s2, 1, 1.0, &n3), DL_ERR_DEVICE);
        assert_true(isnan(n3));
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_round_trip_through_the_host_copy),
        cmocka_unit_test(test_cuda_without_a_gpu_is_a_device_error_with_a_reason),
        cmocka_unit_test(test_clip_on_the_cpu_is_dl_clip_grad_norm_and_cuda_needs_a_gpu),
        cmocka_unit_test(test_backward_matches_finite_differences_for_every_parameter),
        cmocka_unit_test(test_fast_ops_give_the_ref_loss_and_gradients),
        cmocka_unit_test(test_flash_attention_gives_the_ref_loss_and_gradients),
        cmocka_unit_test(test_bad_configurations_are_refused_naming_the_fields),
        cmocka_unit_test(test_parameter_count_follows_the_formula),
        cmocka_unit_test(test_changing_a_later_token_leaves_earlier_logits_identical),
        cmocka_unit_test(test_a_smaller_batch_than_allocated_gives_the_same_numbers),
        cmocka_unit_test(test_adamw_steps_learn_a_repeated_sequence),
        cmocka_unit_test(test_the_linear_hook_replaces_every_projection_in_order),
        cmocka_unit_test(test_generate_is_deterministic_for_a_seed_and_greedy_takes_the_argmax),
    };
    return cmocka_run_group_tests_name("gpt", tests, NULL, NULL);
}
