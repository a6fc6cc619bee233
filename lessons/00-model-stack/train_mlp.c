/* train_mlp.c — lesson 0, part 1: the MLP (LeNet-300-100) on Fashion-MNIST.
 *
 * Mini-batch AdamW with a cosine schedule and warm-up, evaluation on the 10 000 test images
 * after every epoch, a progress line with samples/s and ETA, curves as CSV and a plot,
 * the memory of each component, and a checkpoint the later lessons load
 * (results/00-model-stack/mlp.ckpt).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/dlab.h"
#include "dlab/checkpoint.h"
#include "dlab/data.h"
#include "dlab/mlp.h"
#include "dlab/optim.h"
#include "stack_lesson.h"

/* Mean loss and accuracy over a whole set, in batches (the model's max_batch). */
static dl_status evaluate(dl_mlp *m, const dl_image_set *set, float *x, int *idx, int *y,
                          double *loss_out, double *acc_out) {
    double loss_sum = 0;
    long correct = 0;
    for (int start = 0; start < set->count; start += m->max_batch) {
        int B = set->count - start < m->max_batch ? set->count - start : m->max_batch;
        for (int i = 0; i < B; i++) idx[i] = start + i;
        dl_image_set_gather(set, idx, B, x, y);
        float loss;
        DL_TRY(dl_mlp_forward(m, x, y, B, &loss));
        loss_sum += (double)loss * B;
        correct += dl_mlp_correct(m, y);
    }
    *loss_out = loss_sum / set->count;
    *acc_out = (double)correct / set->count;
    return DL_OK;
}

static dl_status save_checkpoint(const dl_mlp *m, const char *path, long step) {
    dl_ckpt_writer *w;
    DL_TRY(dl_ckpt_writer_begin(&w, path, "mlp", &m->cfg, sizeof m->cfg));
    for (int l = 0; l < m->n_layers; l++) {
        char name[32];
        int64_t out = l < m->cfg.n_hidden ? m->cfg.hidden[l] : m->cfg.classes;
        int64_t in = l == 0 ? m->cfg.inputs : m->cfg.hidden[l - 1];
        snprintf(name, sizeof name, "fc%d.weight", l + 1);
        dl_ckpt_writer_add_tensor(w, name, DL_CKPT_F32, m->W[l], 2, (int64_t[]){out, in});
        snprintf(name, sizeof name, "fc%d.bias", l + 1);
        dl_ckpt_writer_add_tensor(w, name, DL_CKPT_F32, m->b[l], 1, (int64_t[]){out});
    }
    dl_ckpt_writer_add_u64(w, "step", (uint64_t)step);
    return dl_ckpt_writer_commit(w);
}

int stack_train_mlp(dlb_run *run, const stack_config *cfg, const dl_image_set *train,
                    const dl_image_set *test) {
    // ----------------------------------------------------------------------------- setup
    const int B = 128;
    const int epochs = cfg->quick ? 1 : cfg->mlp_epochs;
    const int train_count = cfg->quick ? 8192 : train->count; /* --quick: a subset */
    const long steps_per_epoch = train_count / B, total_steps = steps_per_epoch * epochs;
    dl_mlp m;
    dl_mlp_config mc = dl_mlp_lenet_300_100();
    dl_status s = dl_mlp_create(&m, &mc, B, "fast");
    dl_rng rng;
    dl_rng_seed(&rng, cfg->seed);
    if (s == DL_OK) s = dl_mlp_init(&m, &rng);
    float *mom = NULL, *var = NULL, *x = NULL;
    int *idx = NULL, *y = NULL;
    if (s == DL_OK) s = dl_calloc((void **)&mom, m.n_params * sizeof(float));
    if (s == DL_OK) s = dl_calloc((void **)&var, m.n_params * sizeof(float));
    if (s == DL_OK) s = dl_alloc((void **)&x, (size_t)B * mc.inputs * sizeof(float));
    if (s == DL_OK) s = dl_alloc((void **)&idx, (size_t)B * sizeof(int));
    if (s == DL_OK) s = dl_alloc((void **)&y, (size_t)B * sizeof(int));
    dl_index_sampler sampler = {0};
    if (s == DL_OK) s = dl_sampler_init(&sampler, train_count, cfg->seed);
    if (s != DL_OK) goto done;

    dl_mem_report mem = dl_mlp_memory(&m);
    mem.optimizer = 2 * m.n_params * sizeof(float); /* AdamW's m and v */
    printf("MLP %d-%d-%d-%d: %zu parameters; memory: params %zu B, grads %zu B, AdamW state %zu B, "
           "activations %zu B (batch %d)\n",
           mc.inputs, mc.hidden[0], mc.hidden[1], mc.classes, m.n_params, mem.params, mem.grads,
           mem.optimizer, mem.activations, B);
    dlb_run_metric(run, "mlp_params", (double)m.n_params, "count");
    dlb_run_metric(run, "mlp_mem_params_bytes", (double)mem.params, "bytes");
    dlb_run_metric(run, "mlp_mem_optimizer_bytes", (double)mem.optimizer, "bytes");
    dlb_run_metric(run, "mlp_mem_activations_bytes", (double)mem.activations, "bytes");

    const dl_variant *opt = dl_optim_best();
    dl_lr_schedule lr = dl_lr_cosine(2e-3f, 2e-5f, steps_per_epoch / 2, total_steps);
    dlb_table *curve = dlb_table_new("mlp_curve", "epoch", "step", "train_loss", "test_loss",
                                     "test_acc", "samples_per_s", NULL);
    double ep[64], tr_loss[64], te_loss[64], te_acc[64];
    double best_rate = 0, acc = 0;

    // ---------------------------------------------------------------------- training loop
    dlb_progress prog;
    dlb_progress_start(&prog, "mlp", total_steps);
    long step = 0;
    double train_seconds = 0;
    for (int e = 0; e < epochs && s == DL_OK; e++) {
        double loss_sum = 0, t0 = dlb_now();
        for (long i = 0; i < steps_per_epoch && s == DL_OK; i++, step++) {
            float loss;
            s = dl_sampler_next(&sampler, idx, B);
            if (s == DL_OK) dl_image_set_gather(train, idx, B, x, y);
            if (s == DL_OK) s = dl_mlp_forward(&m, x, y, B, &loss);
            if (s == DL_OK) s = dl_mlp_backward(&m);
            dl_adamw_args a = {.n = m.n_params, .param = m.params, .grad = m.grads, .m = mom,
                               .v = var, .lr = dl_lr_at(&lr, step), .beta1 = 0.9f, .beta2 = 0.999f,
                               .eps = 1e-8f, .weight_decay = 1e-4f, .step = step + 1};
            if (s == DL_OK) s = dl_adamw_run(opt, &a);
            loss_sum += loss;
            dlb_progress_update(&prog, step + 1);
        }
        double seconds = dlb_now() - t0, rate = steps_per_epoch * B / seconds, test_loss;
        train_seconds += seconds;
        if (rate > best_rate) best_rate = rate;
        if (s == DL_OK) s = evaluate(&m, test, x, idx, y, &test_loss, &acc);
        if (s != DL_OK) break;
        ep[e] = e + 1, tr_loss[e] = loss_sum / steps_per_epoch, te_loss[e] = test_loss, te_acc[e] = acc;
        dlb_table_int(curve, e + 1);
        dlb_table_int(curve, step);
        dlb_table_numf(curve, tr_loss[e], "%.4f");
        dlb_table_numf(curve, test_loss, "%.4f");
        dlb_table_numf(curve, acc, "%.4f");
        dlb_table_numf(curve, rate, "%.0f");
    }
    dlb_progress_end(&prog);
    if (s != DL_OK) goto done;

    // ------------------------------------------------------------------------- results
    printf("\nMLP training (AdamW, cosine lr 2e-3 → 2e-5, batch %d, %d threads):\n", B, cfg->threads);
    dlb_run_table(run, curve);
    dlb_plot *p = dlb_plot_new("mlp_curves", "MLP on Fashion-MNIST", "epoch", "loss / accuracy");
    dlb_plot_extra(p, "set xrange [0:*]\nset yrange [0:*]");
    dlb_plot_series(p, "train loss", ep, tr_loss, epochs);
    dlb_plot_series(p, "test loss", ep, te_loss, epochs);
    dlb_plot_series(p, "test accuracy", ep, te_acc, epochs);
    dlb_run_plot(run, p);
    dlb_plot_free(p);
    printf("MLP test accuracy %.4f after %d epoch(s), %.1f s of training, best %.0f samples/s "
           "(published MLP 256-128-100: 0.883)\n",
           acc, epochs, train_seconds, best_rate);
    dlb_run_metric(run, "mlp_test_acc", acc, "fraction");
    dlb_run_metric(run, "mlp_train_samples_per_s", best_rate, "samples/s");
    char path[1024];
    snprintf(path, sizeof path, "%s/mlp.ckpt", dlb_run_dir(run));
    s = save_checkpoint(&m, path, step);
    if (s == DL_OK) printf("checkpoint: %s\n", path);
    dlb_table_free(curve);

done:
    if (s != DL_OK) fprintf(stderr, "mlp: %s\n", dl_last_error());
    dl_sampler_free(&sampler);
    dl_free(mom), dl_free(var), dl_free(x), dl_free(idx), dl_free(y);
    dl_mlp_free(&m);
    return s == DL_OK ? 0 : -1;
}
