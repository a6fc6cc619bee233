/* loss_scaling.c — lesson 1, part (e): why mixed-precision training scales the loss.
 *
 * Gradients are small: most of a network's weight and activation gradients sit far below
 * 1, many below fp16's smallest subnormal 2^-24 ≈ 6e-8, where a cast to fp16 makes them 0.
 * Micikevicius et al. (2018) multiply the loss by S = 2^k before the backward pass, so every
 * gradient is S times larger and survives the cast; the optimizer divides by S again in fp32
 * (the master weights). Too large an S overflows to inf instead.
 *
 * The gradients here are real: the MLP of lesson 0 (LeNet-300-100) trains on Fashion-MNIST
 * for a while, and at a few steps we take both its weight gradients and the gradients of its
 * activations (what an fp16 backward pass would carry between layers), cast them to fp16 at
 * every scale 2^0 … 2^24, and count what was lost.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/convert.h"
#include "dlab/data.h"
#include "dlab/mlp.h"
#include "dlab/optim.h"
#include "fp_lesson.h"

#define MAX_LOG2_SCALE 24

fp16_cast_counts fp16_cast_count(const float *g, size_t n, int log2_scale) {
    fp16_cast_counts c = {0};
    const float scale = ldexpf(1.0f, log2_scale);
    for (size_t i = 0; i < n; i++) {
        if (g[i] == 0.0f || !isfinite(g[i])) continue;
        c.nonzero++;
        uint16_t h = dl_f32_to_f16_rne(g[i] * scale);
        unsigned exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
        if (exponent == 0 && mantissa == 0) c.underflow++;
        else if (exponent == 0) c.subnormal++;
        else if (exponent == 0x1f) c.overflow++;
    }
    return c;
}

/* Gradients kept at one step: every weight/bias gradient, and every activation gradient. */
typedef struct grad_snapshot {
    long step;
    float *weights, *acts;
    size_t n_weights, n_acts;
} grad_snapshot;

static int snapshot(const dl_mlp *m, long step, grad_snapshot *s) {
    s->step = step;
    s->n_weights = m->n_params;
    s->n_acts = 0;
    for (int i = 1; i <= m->n_layers; i++) s->n_acts += (size_t)m->batch * (i < m->n_layers ? m->cfg.hidden[i - 1] : m->cfg.classes);
    s->weights = malloc(s->n_weights * sizeof(float));
    s->acts = malloc(s->n_acts * sizeof(float));
    if (!s->weights || !s->acts) return -1;
    memcpy(s->weights, m->grads, s->n_weights * sizeof(float));
    float *p = s->acts;
    for (int i = 1; i <= m->n_layers; i++) {
        size_t k = (size_t)m->batch * (i < m->n_layers ? m->cfg.hidden[i - 1] : m->cfg.classes);
        memcpy(p, m->dact[i], k * sizeof(float));
        p += k;
    }
    return 0;
}

/* Train with AdamW and keep snapshots at the given steps (ascending; the last ends training). */
static int train_and_snapshot(const fp_config *cfg, const long *at, int n_at, grad_snapshot *out) {
    enum { B = 128 };
    dl_image_set train = {0};
    dl_status s = dl_fashion_mnist_load(&train, NULL, "train");
    if (s != DL_OK) {
        fprintf(stderr, "error: part (e) needs Fashion-MNIST: %s\n", dl_last_error());
        return -1;
    }
    double mean, std;
    dl_image_set_stats(&train, &mean, &std);
    dl_image_set_normalize(&train, mean, std);
    dl_mlp m;
    dl_mlp_config mc = dl_mlp_lenet_300_100();
    dl_rng rng;
    dl_rng_seed(&rng, cfg->seed);
    dl_index_sampler sampler = {0};
    float *mom = NULL, *var = NULL, *x = NULL;
    int idx[B], y[B], taken = 0;
    s = dl_mlp_create(&m, &mc, B, "fast");
    if (s == DL_OK) s = dl_mlp_init(&m, &rng);
    if (s == DL_OK) s = dl_calloc((void **)&mom, m.n_params * sizeof(float));
    if (s == DL_OK) s = dl_calloc((void **)&var, m.n_params * sizeof(float));
    if (s == DL_OK) s = dl_alloc((void **)&x, (size_t)B * mc.inputs * sizeof(float));
    if (s == DL_OK) s = dl_sampler_init(&sampler, train.count, cfg->seed);
    const dl_variant *opt = dl_optim_best();
    for (long step = 1; s == DL_OK && taken < n_at; step++) {
        float loss;
        s = dl_sampler_next(&sampler, idx, B);
        if (s == DL_OK) dl_image_set_gather(&train, idx, B, x, y);
        if (s == DL_OK) s = dl_mlp_forward(&m, x, y, B, &loss);
        if (s == DL_OK) s = dl_mlp_backward(&m);
        if (s == DL_OK && step == at[taken] && snapshot(&m, step, &out[taken++]) != 0)
            s = DL_FAIL(DL_ERR_ALLOC, "gradient snapshot");
        dl_adamw_args a = {.n = m.n_params, .param = m.params, .grad = m.grads, .m = mom, .v = var,
                           .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .step = step};
        if (s == DL_OK) s = dl_adamw_run(opt, &a);
    }
    if (s != DL_OK) fprintf(stderr, "error: part (e): %s\n", dl_last_error());
    dl_sampler_free(&sampler);
    dl_free(mom), dl_free(var), dl_free(x);
    dl_mlp_free(&m);
    dl_image_set_free(&train);
    return s == DL_OK ? 0 : -1;
}

int fp_loss_scaling(dlb_run *run, const fp_config *cfg) {
    printf("(e) Loss scaling: fp16 casts of real MLP gradients (Fashion-MNIST, LeNet-300-100)\n\n");
    const long quick_at[] = {1, 20, 100}, full_at[] = {1, 100, 1000, 2000};
    const long *at = cfg->quick ? quick_at : full_at;
    const int n_at = cfg->quick ? 3 : 4;
    grad_snapshot snaps[4] = {{0}};
    int rc = train_and_snapshot(cfg, at, n_at, snaps);
    if (rc != 0) goto done;

    dlb_table *t = dlb_table_new("loss_scaling", "step", "log2_scale", "weight_underflow_frac",
                                 "weight_subnormal_frac", "act_underflow_frac", "act_subnormal_frac",
                                 "overflow_frac", NULL);
    dlb_plot *p = dlb_plot_new("loss_scaling", "fp16 cast of MLP gradients: lost to underflow",
                               "loss scale (log2)", "fraction of nonzero gradients flushed to 0");
    dlb_plot_log(p, false, true);
    double xs[MAX_LOG2_SCALE + 1], yw[MAX_LOG2_SCALE + 1], ya[MAX_LOG2_SCALE + 1];
    const grad_snapshot *last = &snaps[n_at - 1];
    int best_scale = 0;
    long best_lost = -1, best_nonzero = 1;
    for (int si = 0; si < n_at; si++) {
        const grad_snapshot *g = &snaps[si];
        for (int k = 0; k <= MAX_LOG2_SCALE; k++) {
            fp16_cast_counts w = fp16_cast_count(g->weights, g->n_weights, k);
            fp16_cast_counts a = fp16_cast_count(g->acts, g->n_acts, k);
            double wu = (double)w.underflow / (w.nonzero ? w.nonzero : 1);
            double au = (double)a.underflow / (a.nonzero ? a.nonzero : 1);
            double of = (double)(w.overflow + a.overflow) / ((w.nonzero + a.nonzero) ? (w.nonzero + a.nonzero) : 1);
            xs[k] = k, yw[k] = wu, ya[k] = au;
            if (k % 4 == 0 || k == MAX_LOG2_SCALE) {
                dlb_table_int(t, g->step);
                dlb_table_int(t, k);
                dlb_table_num(t, wu);
                dlb_table_num(t, (double)w.subnormal / (w.nonzero ? w.nonzero : 1));
                dlb_table_num(t, au);
                dlb_table_num(t, (double)a.subnormal / (a.nonzero ? a.nonzero : 1));
                dlb_table_num(t, of);
            }
            long lost = w.underflow + a.underflow + w.overflow + a.overflow;
            if (g == last && (best_lost < 0 || lost < best_lost))
                best_scale = k, best_lost = lost, best_nonzero = w.nonzero + a.nonzero;
            if (g == last && k == 0) {
                dlb_run_metric(run, "fp16_weight_grad_underflow_frac_no_scaling", wu, "fraction");
                dlb_run_metric(run, "fp16_act_grad_underflow_frac_no_scaling", au, "fraction");
            }
            if (g == last && k == 8) dlb_run_metric(run, "fp16_act_grad_underflow_frac_scale_256", au, "fraction");
        }
        char label[64];
        snprintf(label, sizeof label, "weight grads, step %ld", g->step);
        dlb_plot_series(p, label, xs, yw, MAX_LOG2_SCALE + 1);
        snprintf(label, sizeof label, "activation grads, step %ld", g->step);
        dlb_plot_series(p, label, xs, ya, MAX_LOG2_SCALE + 1);
    }
    dlb_run_table(run, t);
    dlb_run_plot(run, p);
    dlb_plot_free(p);
    dlb_table_free(t);
    dlb_run_metric(run, "fp16_best_log2_scale", best_scale, "log2");
    dlb_run_metric(run, "fp16_best_scale_lost_frac", (double)best_lost / best_nonzero, "fraction");
    printf("At step %ld the scale that loses the fewest gradients (to underflow or overflow) is 2^%d:\n"
           "%ld of %ld nonzero values lost (%s).\n",
           last->step, best_scale, best_lost, best_nonzero,
           best_lost ? "no single scale keeps them all: their range is wider than fp16's" : "none");
    printf("Mixed precision keeps fp32 master weights, scales the loss by such a 2^k (found at run time\n"
           "by 'dynamic loss scaling': halve on inf, double after N clean steps), and accumulates\n"
           "matmul products in fp32. (Paper: for SSD, 31%% of gradients became 0 in fp16 without scaling.)\n\n");
done:
    for (int i = 0; i < n_at; i++) free(snaps[i].weights), free(snaps[i].acts);
    return rc;
}
