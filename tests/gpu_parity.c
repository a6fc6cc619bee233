/* gpu_parity.c — the model stack on the GPU against the CPU: the MLP, the CNN and the GPT
 * (small configurations) each trained k = 20 AdamW steps on both devices, from the SAME host
 * initial parameters, on the same batches, comparing the loss of every step and, at the
 * end, the parameters.
 *
 * What runs: the CPU model is "fast" (the fastest CPU variants, what lesson 0 trains with),
 * the GPU model "cuda" (the CUDA backend's variants: cuBLAS linear, cuDNN conv2d, dlab's own
 * kernels for the rest, attention "cuda_flash"). Initial parameters are drawn once on the
 * host and uploaded to both (dl_*_params_from_host); AdamW's m and v live on each model's
 * device and each runs its backend's optim variant; the GPT also clips its gradients to norm
 * 1 with dl_clip_grad_norm_on, so the CUDA clip is part of the run.
 *
 * Tolerance, and why. Both devices compute in fp32, but in different orders (cuBLAS's and
 * cuDNN's blockings against OpenBLAS's and im2col's; tree reductions against the CPU's
 * lane sums), so each op differs by a few ulps (~1e-6 relative) and nothing is bit for bit.
 *   step 1:  |loss_gpu − loss_cpu| ≤ 1e-5 · |loss_cpu|. The same weights, the same batch: only
 *            one forward's rounding separates them (a chain of ~10 ops of ~1e-6 each).
 *   steps 2..k: ≤ 1e-3 relative. From step 1 on the weights differ too: AdamW divides by
 *            sqrt(v), so a gradient that differs by 1e-6 relative moves a weight by nearly the
 *            same step, but a weight whose gradient is ~0 (noise) can move by up to lr in
 *            either direction; over 20 steps those differences grow but stay far below 1e-3
 *            of the loss for a healthy pair of implementations, while a wrong kernel (a
 *            missing bias gradient, a transposed weight, a bad index) changes the loss by
 *            percents within a few steps.
 *   parameters: max |p_gpu − p_cpu| is printed with its relative size (over max |p_cpu|);
 *            it must stay ≤ 2·lr·k, the most two AdamW runs can drift apart when every update
 *            is bounded by ~lr (a gross-error bound: the losses are the sharp check).
 *
 * Run by `make test-gpu`. Without a GPU the program says so in one line and exits 0, having
 * run nothing (every test is skipped).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/cnn.h"
#include "dlab/dlab.h"
#include "gpu_check.h"
#include "dlab/gpt.h"
#include "dlab/mlp.h"
#include "dlab/optim.h"

static bool have_gpu;

enum { STEPS = 20 };
static const float LR = 1e-3f, WEIGHT_DECAY = 0.01f;
static const double STEP1_RTOL = 1e-5, LOSS_RTOL = 1e-3;

/* ------------------------------------------------------------------ one model, either device */

/* What the driver below needs from a model, whichever it is. */
typedef struct trainee {
    const char *what;      /* "MLP on cpu" */
    void *model;           /* a dl_mlp, dl_cnn or dl_gpt */
    const dl_ops *ops;     /* the model's backend */
    size_t n_params;
    float *params, *grads; /* the model's (device) buffers */
    float *adam_m, *adam_v;
    const dl_variant *optim;
    bool clip; /* clip gradients to norm 1 before the step (the GPT's recipe) */
    /* forward + backward of one batch; the batch's mean loss in *loss */
    dl_status (*train_batch)(void *model, const void *x, const int *y, float *loss);
    dl_status (*params_to_host)(const void *model, float *host);
} trainee;

static void trainee_prepare(trainee *t) {
    DL_OK_OR_FAIL(dl_backend_variant(t->ops, "optim", &t->optim));
    const size_t bytes = t->n_params * sizeof(float);
    DL_OK_OR_FAIL(t->ops->alloc((void **)&t->adam_m, bytes));
    DL_OK_OR_FAIL(t->ops->alloc((void **)&t->adam_v, bytes));
    DL_OK_OR_FAIL(t->ops->zero(t->adam_m, bytes));
    DL_OK_OR_FAIL(t->ops->zero(t->adam_v, bytes));
}

static void trainee_release(trainee *t) {
    if (t->ops) t->ops->free(t->adam_m), t->ops->free(t->adam_v);
    t->adam_m = t->adam_v = NULL;
}

/* One optimizer step on batch (x, y); its loss in *loss. */
static void trainee_step(trainee *t, long step, const void *x, const int *y, float *loss) {
    DL_OK_OR_FAIL(t->train_batch(t->model, x, y, loss));
    if (t->clip) {
        dl_grad_span span = {t->grads, t->n_params};
        double norm;
        DL_OK_OR_FAIL(dl_clip_grad_norm_on(t->ops->device, &span, 1, 1.0, &norm));
    }
    dl_adamw_args a = {.n = t->n_params, .param = t->params, .grad = t->grads, .m = t->adam_m,
                       .v = t->adam_v, .lr = LR, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                       .weight_decay = WEIGHT_DECAY, .step = step};
    DL_OK_OR_FAIL(dl_adamw_run(t->optim, &a));
}

/* Train cpu and gpu side by side on the same `STEPS` batches (batch i at x + i·x_stride bytes,
 * y + i·y_count) and compare, as the header says. */
static void compare_training(trainee *cpu, trainee *gpu, const char *x, size_t x_stride_bytes,
                             const int *y, size_t y_count) {
    assert_int_equal(cpu->n_params, gpu->n_params);
    trainee_prepare(cpu);
    trainee_prepare(gpu);
    float loss_cpu[STEPS], loss_gpu[STEPS];
    double worst = 0;
    int worst_step = 0;
    for (int i = 0; i < STEPS; i++) {
        trainee_step(cpu, i + 1, x + i * x_stride_bytes, y + i * y_count, &loss_cpu[i]);
        trainee_step(gpu, i + 1, x + i * x_stride_bytes, y + i * y_count, &loss_gpu[i]);
        const double rel = fabs((double)loss_gpu[i] - loss_cpu[i]) / fabs((double)loss_cpu[i]);
        if (!(rel <= worst)) worst = rel, worst_step = i + 1; /* NaN is the worst */
    }
    print_message("%s vs %s: step 1 loss %.7f / %.7f, step %d loss %.7f / %.7f, worst relative "
                  "loss difference %.3g (step %d)\n",
                  cpu->what, gpu->what, loss_cpu[0], loss_gpu[0], STEPS, loss_cpu[STEPS - 1],
                  loss_gpu[STEPS - 1], worst, worst_step);

    float *p_cpu = malloc(cpu->n_params * sizeof(float)), *p_gpu = malloc(cpu->n_params * sizeof(float));
    assert_non_null(p_cpu), assert_non_null(p_gpu);
    DL_OK_OR_FAIL(cpu->params_to_host(cpu->model, p_cpu));
    DL_OK_OR_FAIL(gpu->params_to_host(gpu->model, p_gpu));
    double max_diff = 0, max_abs = 0;
    size_t at = 0;
    for (size_t k = 0; k < cpu->n_params; k++) {
        const double d = fabs((double)p_gpu[k] - p_cpu[k]);
        if (!(d <= max_diff)) max_diff = d, at = k;
        if (fabs((double)p_cpu[k]) > max_abs) max_abs = fabs((double)p_cpu[k]);
    }
    print_message("%s vs %s: parameters after %d steps: max |difference| %.3g at %zu (%.3g of "
                  "max |p| = %.3g)\n",
                  cpu->what, gpu->what, STEPS, max_diff, at, max_diff / max_abs, max_abs);
    trainee_release(cpu);
    trainee_release(gpu);

    const double step1 = fabs((double)loss_gpu[0] - loss_cpu[0]) / fabs((double)loss_cpu[0]);
    if (!(step1 <= STEP1_RTOL))
        fail_msg("%s: step 1 loss %.9g on the GPU, %.9g on the CPU: relative %.3g > %.0e",
                 gpu->what, loss_gpu[0], loss_cpu[0], step1, STEP1_RTOL);
    if (!(worst <= LOSS_RTOL))
        fail_msg("%s: step %d loss %.9g on the GPU, %.9g on the CPU: relative %.3g > %.0e",
                 gpu->what, worst_step, loss_gpu[worst_step - 1], loss_cpu[worst_step - 1], worst,
                 LOSS_RTOL);
    const double param_bound = 2.0 * LR * STEPS;
    if (!(max_diff <= param_bound))
        fail_msg("%s: parameter %zu differs by %.3g after %d steps (> 2·lr·k = %.3g): cpu %.9g "
                 "gpu %.9g",
                 gpu->what, at, max_diff, STEPS, param_bound, p_cpu[at], p_gpu[at]);
    free(p_cpu), free(p_gpu);
}

/* ------------------------------------------------------------------ MLP */

enum { MLP_B = 16, MLP_IN = 64, MLP_CLASSES = 10 };

static dl_status mlp_train_batch(void *model, const void *x, const int *y, float *loss) {
    dl_mlp *m = model;
    DL_TRY(dl_mlp_forward(m, x, y, MLP_B, loss));
    return dl_mlp_backward(m);
}
static dl_status mlp_params_to_host(const void *model, float *host) {
    return dl_mlp_params_to_host(model, host);
}
static trainee mlp_trainee(dl_mlp *m, const char *what) {
    return (trainee){.what = what, .model = m, .ops = m->ops, .n_params = m->n_params,
                     .params = m->params, .grads = m->grads, .train_batch = mlp_train_batch,
                     .params_to_host = mlp_params_to_host};
}

static void test_mlp_trains_the_same_on_cpu_and_gpu(void **state) {
    (void)state;
    if (!have_gpu) skip();
    dl_mlp_config cfg = {.inputs = MLP_IN, .n_hidden = 2, .hidden = {48, 24}, .classes = MLP_CLASSES};
    dl_mlp cpu, gpu;
    DL_OK_OR_FAIL(dl_mlp_create(&cpu, &cfg, MLP_B, "fast"));
    DL_OK_OR_FAIL(dl_mlp_create(&gpu, &cfg, MLP_B, "cuda"));
    dl_rng r;
    dl_rng_seed(&r, 2024);
    DL_OK_OR_FAIL(dl_mlp_init(&cpu, &r));
    float *host = malloc(cpu.n_params * sizeof(float));
    assert_non_null(host);
    DL_OK_OR_FAIL(dl_mlp_params_to_host(&cpu, host));
    DL_OK_OR_FAIL(dl_mlp_params_from_host(&gpu, host)); /* the same start on both */
    const size_t per = (size_t)MLP_B * MLP_IN;
    float *x = malloc(STEPS * per * sizeof(float));
    int *y = malloc((size_t)STEPS * MLP_B * sizeof(int));
    assert_non_null(x), assert_non_null(y);
    dl_rng_fill_normal(&r, x, STEPS * per, 0.0f, 1.0f);
    for (int i = 0; i < STEPS * MLP_B; i++) y[i] = (int)dl_rng_below(&r, MLP_CLASSES);
    trainee a = mlp_trainee(&cpu, "MLP on cpu"), b = mlp_trainee(&gpu, "MLP on cuda");
    compare_training(&a, &b, (const char *)x, per * sizeof(float), y, MLP_B);
    free(x), free(y), free(host);
    dl_mlp_free(&cpu);
    dl_mlp_free(&gpu);
}

/* ------------------------------------------------------------------ CNN */

enum { CNN_B = 8, CNN_H = 12, CNN_W = 12, CNN_CLASSES = 10 };

static dl_status cnn_train_batch(void *model, const void *x, const int *y, float *loss) {
    dl_cnn *m = model;
    DL_TRY(dl_cnn_forward(m, x, y, CNN_B, loss));
    return dl_cnn_backward(m);
}
static dl_status cnn_params_to_host(const void *model, float *host) {
    return dl_cnn_params_to_host(model, host);
}
static trainee cnn_trainee(dl_cnn *m, const char *what) {
    return (trainee){.what = what, .model = m, .ops = m->ops, .n_params = m->n_params,
                     .params = m->params, .grads = m->grads, .train_batch = cnn_train_batch,
                     .params_to_host = cnn_params_to_host};
}

static void test_cnn_trains_the_same_on_cpu_and_gpu(void **state) {
    (void)state;
    if (!have_gpu) skip();
    dl_cnn_config cfg = {.in_h = CNN_H, .in_w = CNN_W, .c1 = 4, .c2 = 8, .hidden = 32,
                         .classes = CNN_CLASSES};
    dl_cnn cpu, gpu;
    DL_OK_OR_FAIL(dl_cnn_create(&cpu, &cfg, CNN_B, "fast"));
    DL_OK_OR_FAIL(dl_cnn_create(&gpu, &cfg, CNN_B, "cuda"));
    dl_rng r;
    dl_rng_seed(&r, 2025);
    DL_OK_OR_FAIL(dl_cnn_init(&cpu, &r));
    float *host = malloc(cpu.n_params * sizeof(float));
    assert_non_null(host);
    DL_OK_OR_FAIL(dl_cnn_params_to_host(&cpu, host));
    DL_OK_OR_FAIL(dl_cnn_params_from_host(&gpu, host));
    const size_t per = (size_t)CNN_B * CNN_H * CNN_W;
    float *x = malloc(STEPS * per * sizeof(float));
    int *y = malloc((size_t)STEPS * CNN_B * sizeof(int));
    assert_non_null(x), assert_non_null(y);
    dl_rng_fill_normal(&r, x, STEPS * per, 0.0f, 1.0f);
    for (int i = 0; i < STEPS * CNN_B; i++) y[i] = (int)dl_rng_below(&r, CNN_CLASSES);
    trainee a = cnn_trainee(&cpu, "CNN on cpu"), b = cnn_trainee(&gpu, "CNN on cuda");
    compare_training(&a, &b, (const char *)x, per * sizeof(float), y, CNN_B);
    free(x), free(y), free(host);
    dl_cnn_free(&cpu);
    dl_cnn_free(&gpu);
}

/* ------------------------------------------------------------------ GPT */

enum { GPT_B = 4, GPT_T = 16, GPT_V = 32 };

static dl_status gpt_train_batch(void *model, const void *x, const int *y, float *loss) {
    dl_gpt *m = model;
    DL_TRY(dl_gpt_forward(m, x, y, GPT_B, GPT_T, loss));
    return dl_gpt_backward(m);
}
static dl_status gpt_params_to_host(const void *model, float *host) {
    return dl_gpt_params_to_host(model, host);
}
static trainee gpt_trainee(dl_gpt *m, const char *what) {
    return (trainee){.what = what, .model = m, .ops = m->ops, .n_params = m->n_params,
                     .params = m->params, .grads = m->grads, .clip = true,
                     .train_batch = gpt_train_batch, .params_to_host = gpt_params_to_host};
}

static void test_gpt_trains_the_same_on_cpu_and_gpu(void **state) {
    (void)state;
    if (!have_gpu) skip();
    dl_gpt_config cfg = {.vocab = GPT_V, .block_size = GPT_T, .n_layer = 2, .n_head = 2,
                         .n_embd = 32};
    dl_gpt cpu, gpu;
    DL_OK_OR_FAIL(dl_gpt_create(&cpu, &cfg, GPT_B, GPT_T, "fast"));
    /* DL_ERR_UNSUPPORTED here means no CUDA attention variant ("cuda_flash") is registered. */
    DL_OK_OR_FAIL(dl_gpt_create(&gpu, &cfg, GPT_B, GPT_T, "cuda"));
    print_message("GPT attention: %s on cpu, %s on cuda\n", cpu.attention->name,
                  gpu.attention->name);
    dl_rng r;
    dl_rng_seed(&r, 2026);
    DL_OK_OR_FAIL(dl_gpt_init(&cpu, &r));
    float *host = malloc(cpu.n_params * sizeof(float));
    assert_non_null(host);
    DL_OK_OR_FAIL(dl_gpt_params_to_host(&cpu, host));
    DL_OK_OR_FAIL(dl_gpt_params_from_host(&gpu, host));
    /* Sequences with structure to learn: token t+1 follows t in a random cycle. */
    const size_t per = (size_t)GPT_B * GPT_T;
    int *tokens = malloc(STEPS * per * sizeof(int)), *targets = malloc(STEPS * per * sizeof(int));
    assert_non_null(tokens), assert_non_null(targets);
    int next[GPT_V];
    for (int v = 0; v < GPT_V; v++) next[v] = (int)dl_rng_below(&r, GPT_V);
    for (size_t s = 0; s < STEPS * (size_t)GPT_B; s++) {
        int tok = (int)dl_rng_below(&r, GPT_V);
        for (int t = 0; t < GPT_T; t++) {
            tokens[s * GPT_T + t] = tok;
            tok = next[tok];
            targets[s * GPT_T + t] = tok;
        }
    }
    trainee a = gpt_trainee(&cpu, "GPT on cpu"), b = gpt_trainee(&gpu, "GPT on cuda");
    compare_training(&a, &b, (const char *)tokens, per * sizeof(int), targets, per);
    free(tokens), free(targets), free(host);
    dl_gpt_free(&cpu);
    dl_gpt_free(&gpu);
}

/* ------------------------------------------------------------------ clip */

/* The CUDA clip against the CPU's on three buffers (odd sizes; one above the grid's reach of
 * 256×256 elements, so threads take several), then a NaN: refused, buffers untouched. */
static void test_cuda_clip_matches_the_cpu_clip(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const dl_ops *ops;
    DL_OK_OR_FAIL(dl_backend("cuda", &ops));
    const size_t sizes[3] = {1, 1000, 70001};
    float *host[3], *dev[3];
    dl_grad_span on_host[3], on_dev[3];
    dl_rng r;
    dl_rng_seed(&r, 77);
    for (int b = 0; b < 3; b++) {
        host[b] = malloc(sizes[b] * sizeof(float));
        assert_non_null(host[b]);
        dl_rng_fill_normal(&r, host[b], sizes[b], 0.0f, 1.0f);
        DL_OK_OR_FAIL(ops->alloc((void **)&dev[b], sizes[b] * sizeof(float)));
        DL_OK_OR_FAIL(ops->to_device(dev[b], host[b], sizes[b] * sizeof(float)));
        on_host[b] = (dl_grad_span){host[b], sizes[b]}, on_dev[b] = (dl_grad_span){dev[b], sizes[b]};
    }
    double norm_cpu, norm_gpu;
    DL_OK_OR_FAIL(dl_clip_grad_norm(on_host, 3, 1.0, &norm_cpu));
    DL_OK_OR_FAIL(dl_clip_grad_norm_cuda(on_dev, 3, 1.0, &norm_gpu));
    print_message("clip: norm %.17g on cpu, %.17g on cuda\n", norm_cpu, norm_gpu);
    /* double sums of ~7e4 squares in two orders: ~1e-15 relative apart */
    assert_true(fabs(norm_gpu - norm_cpu) <= 1e-12 * norm_cpu);
    for (int b = 0; b < 3; b++) {
        float *back = malloc(sizes[b] * sizeof(float));
        assert_non_null(back);
        DL_OK_OR_FAIL(ops->to_host(back, dev[b], sizes[b] * sizeof(float)));
        for (size_t i = 0; i < sizes[b]; i++)
            if (!(fabsf(back[i] - host[b][i]) <= 1e-6f * fabsf(host[b][i])))
                fail_msg("bufs[%d][%zu]: cuda %.9g cpu %.9g", b, i, back[i], host[b][i]);
        free(back);
    }
    /* A NaN in the middle buffer: DL_ERR_ARG naming it, nothing scaled. */
    const float nan = NAN;
    DL_OK_OR_FAIL(ops->to_device(dev[1] + 123, &nan, sizeof nan));
    float before;
    DL_OK_OR_FAIL(ops->to_host(&before, dev[2] + 5, sizeof before));
    assert_int_equal(dl_clip_grad_norm_cuda(on_dev, 3, 1e-3, &norm_gpu), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "bufs[1][123]"));
    assert_true(isnan(norm_gpu));
    float after;
    DL_OK_OR_FAIL(ops->to_host(&after, dev[2] + 5, sizeof after));
    assert_true(after == before);
    for (int b = 0; b < 3; b++) ops->free(dev[b]), free(host[b]);
}

int main(void) {
    have_gpu = dl_cuda_device_count() > 0;
    if (!have_gpu) printf("gpu_parity: no CUDA device, skipped\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cuda_clip_matches_the_cpu_clip),
        cmocka_unit_test(test_mlp_trains_the_same_on_cpu_and_gpu),
        cmocka_unit_test(test_cnn_trains_the_same_on_cpu_and_gpu),
        cmocka_unit_test(test_gpt_trains_the_same_on_cpu_and_gpu),
    };
    return cmocka_run_group_tests_name("gpu_parity", tests, NULL, NULL);
}
