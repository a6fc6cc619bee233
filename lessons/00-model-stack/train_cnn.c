/* train_cnn.c — lesson 0, part 2: a small CNN (two conv blocks, two linear layers) on
 * Fashion-MNIST.
 *
 * The same recipe as the MLP of part 1 — mini-batch AdamW with a cosine schedule and
 * warm-up, evaluation on the test images after every epoch, curves as CSV and a plot, the
 * memory of each component, a checkpoint (results/00-model-stack/cnn.ckpt, kind "cnn") — so
 * the two models can be compared side by side: the CNN has fewer parameters than the MLP
 * but does far more arithmetic per image, and is more accurate.
 *
 * On --device cuda the model and AdamW's m and v live on the GPU (the model's backend
 * allocates them and runs its optim variant); batches are gathered on the host and copied in
 * by the forward; the checkpoint is written from a host copy of the parameters.
 * Left out: resuming from the checkpoint (part 1 shows how), data augmentation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/checkpoint.h"
#include "dlab/cnn.h"
#include "dlab/data.h"
#include "dlab/dlab.h"
#include "dlab/optim.h"
#include "stack_lesson.h"

enum { MAX_EPOCHS = 1000 };

/* Mean loss and accuracy over the first `count` images of a set, in batches of max_batch. */
static dl_status evaluate(dl_cnn *m, const dl_image_set *set, int count, float *x, int *idx, int *y,
                          double *loss_out, double *acc_out) {
    double loss_sum = 0;
    long correct = 0;
    for (int start = 0; start < count; start += m->max_batch) {
        int B = count - start < m->max_batch ? count - start : m->max_batch;
        for (int i = 0; i < B; i++) idx[i] = start + i;
        dl_image_set_gather(set, idx, B, x, y);
        float loss;
        DL_TRY(dl_cnn_forward(m, x, y, B, &loss));
        loss_sum += (double)loss * B;
        int right = dl_cnn_correct(m, y);
        if (right < 0) return DL_ERR_CUDA; /* the logits could not come back; message set */
        correct += right;
    }
    *loss_out = loss_sum / count;
    *acc_out = (double)correct / count;
    return DL_OK;
}

/* Tensors named like PyTorch's state_dict of the same network, in NCHW / (out,in) shapes,
 * written from a host copy of the parameters (the model may live on a GPU). */
static dl_status save_checkpoint(const dl_cnn *m, const char *path, long step) {
    const dl_cnn_config *c = &m->cfg;
    const int64_t k = DL_CNN_KERNEL;
    float *h;
    DL_TRY(dl_alloc((void **)&h, m->n_params * sizeof(float)));
    dl_status s = dl_cnn_params_to_host(m, h);
    dl_ckpt_writer *w = NULL;
    if (s == DL_OK) s = dl_ckpt_writer_begin(&w, path, "cnn", c, sizeof *c);
    if (s != DL_OK) return dl_free(h), s;
#define HOST(p) (h + ((p) - m->params))
    dl_ckpt_writer_add_tensor(w, "conv1.weight", DL_CKPT_F32, HOST(m->conv1_w), 4,
                              (int64_t[]){c->c1, 1, k, k});
    dl_ckpt_writer_add_tensor(w, "conv1.bias", DL_CKPT_F32, HOST(m->conv1_b), 1, (int64_t[]){c->c1});
    dl_ckpt_writer_add_tensor(w, "conv2.weight", DL_CKPT_F32, HOST(m->conv2_w), 4,
                              (int64_t[]){c->c2, c->c1, k, k});
    dl_ckpt_writer_add_tensor(w, "conv2.bias", DL_CKPT_F32, HOST(m->conv2_b), 1, (int64_t[]){c->c2});
    dl_ckpt_writer_add_tensor(w, "fc1.weight", DL_CKPT_F32, HOST(m->fc1_w), 2,
                              (int64_t[]){c->hidden, m->flat});
    dl_ckpt_writer_add_tensor(w, "fc1.bias", DL_CKPT_F32, HOST(m->fc1_b), 1, (int64_t[]){c->hidden});
    dl_ckpt_writer_add_tensor(w, "fc2.weight", DL_CKPT_F32, HOST(m->fc2_w), 2,
                              (int64_t[]){c->classes, c->hidden});
    dl_ckpt_writer_add_tensor(w, "fc2.bias", DL_CKPT_F32, HOST(m->fc2_b), 1, (int64_t[]){c->classes});
#undef HOST
    dl_ckpt_writer_add_u64(w, "step", (uint64_t)step);
    s = dl_ckpt_writer_commit(w); /* reports any failed add above */
    dl_free(h);
    return s;
}

int stack_train_cnn(dlb_run *run, const stack_config *cfg, const dl_image_set *train,
                    const dl_image_set *test) {
    // ----------------------------------------------------------------------------- setup
    const int B = 64;
    const int epochs = cfg->quick ? 1 : (int)cfg->cnn_epochs;
    /* --quick: a subset of both sets, so the whole part takes a few seconds */
    const int train_count = cfg->quick ? 2048 : train->count;
    const int test_count = cfg->quick ? 1024 : test->count;
    const long steps_per_epoch = train_count / B, total_steps = steps_per_epoch * epochs;
    if (epochs < 1 || epochs > MAX_EPOCHS) {
        fprintf(stderr, "cnn: cnn_epochs=%d must be 1..%d\n", epochs, MAX_EPOCHS);
        return -1;
    }
    dl_cnn m;
    dl_cnn_config mc = dl_cnn_default();
    dl_status s = dl_cnn_create(&m, &mc, B, stack_variants(cfg));
    dl_rng rng;
    dl_rng_seed(&rng, cfg->seed);
    if (s == DL_OK) s = dl_cnn_init(&m, &rng);
    const dl_variant *opt = NULL;
    if (s == DL_OK) s = dl_backend_variant(m.ops, "optim", &opt);
    float *mom = NULL, *var = NULL, *x = NULL;
    int *idx = NULL, *y = NULL;
    double *ep = NULL, *tr_loss = NULL, *te_loss = NULL, *te_acc = NULL;
    dlb_table *curve = NULL;
    /* AdamW's moments live where the parameters do. */
    if (s == DL_OK) s = dl_backend_alloc_zeroed(m.ops, (void **)&mom, m.n_params * sizeof(float));
    if (s == DL_OK) s = dl_backend_alloc_zeroed(m.ops, (void **)&var, m.n_params * sizeof(float));
    if (s == DL_OK) s = dl_alloc((void **)&x, (size_t)B * mc.in_h * mc.in_w * sizeof(float));
    if (s == DL_OK) s = dl_alloc((void **)&idx, (size_t)B * sizeof(int));
    if (s == DL_OK) s = dl_alloc((void **)&y, (size_t)B * sizeof(int));
    if (s == DL_OK) s = dl_calloc((void **)&ep, 4 * (size_t)epochs * sizeof(double));
    dl_index_sampler sampler = {0};
    if (s == DL_OK) s = dl_sampler_init(&sampler, train_count, cfg->seed);
    if (s != DL_OK) goto done;
    tr_loss = ep + epochs, te_loss = tr_loss + epochs, te_acc = te_loss + epochs;

    dl_mem_report mem = dl_cnn_memory(&m);
    mem.optimizer = 2 * m.n_params * sizeof(float); /* AdamW's m and v */
    printf("CNN conv5×5(1→%d)-pool-conv5×5(%d→%d)-pool-%d-%d: %zu parameters; memory: "
           "params %zu B, grads %zu B, AdamW state %zu B, activations %zu B (batch %d)\n",
           mc.c1, mc.c1, mc.c2, mc.hidden, mc.classes, m.n_params, mem.params, mem.grads,
           mem.optimizer, mem.activations, B);
    dlb_run_metric(run, "cnn_params", (double)m.n_params, "count");
    dlb_run_metric(run, "cnn_mem_params_bytes", (double)mem.params, "bytes");
    dlb_run_metric(run, "cnn_mem_optimizer_bytes", (double)mem.optimizer, "bytes");
    dlb_run_metric(run, "cnn_mem_activations_bytes", (double)mem.activations, "bytes");
    printf("CNN on %s: conv2d %s, maxpool %s, linear %s, relu %s, softmax_xent %s, optim %s\n",
           m.ops->name, m.conv->name, m.pool->name, m.linear->name, m.relu->name, m.xent->name,
           opt->name);

    const float lr_max = 2e-3f, lr_min = 2e-5f;
    dl_lr_schedule lr = dl_lr_cosine(lr_max, lr_min, steps_per_epoch / 4, total_steps);
    curve = dlb_table_new("cnn_curve", "epoch", "step", "train_loss", "test_loss", "test_acc",
                          "samples_per_s", NULL);
    double best_rate = 0, acc = 0;

    // ---------------------------------------------------------------------- training loop
    dlb_progress prog;
    dlb_progress_start(&prog, "cnn", total_steps);
    long step = 0;
    double train_seconds = 0;
    for (int e = 0; e < epochs && s == DL_OK; e++) {
        double loss_sum = 0, t0 = dlb_now();
        for (long i = 0; i < steps_per_epoch && s == DL_OK; i++, step++) {
            float loss = 0;
            s = dl_sampler_next(&sampler, idx, B);
            if (s == DL_OK) dl_image_set_gather(train, idx, B, x, y);
            if (s == DL_OK) s = dl_cnn_forward(&m, x, y, B, &loss);
            if (s == DL_OK) s = dl_cnn_backward(&m);
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
        if (s == DL_OK) s = evaluate(&m, test, test_count, x, idx, y, &test_loss, &acc);
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
    printf("\nCNN training (AdamW, cosine lr %.0e → %.0e, batch %d, %d threads):\n", lr_max, lr_min,
           B, cfg->threads);
    dlb_run_table(run, curve);
    dlb_plot *p = dlb_plot_new("cnn_curves", "CNN on Fashion-MNIST", "epoch", "loss / accuracy");
    dlb_plot_extra(p, "set xrange [0:*]\nset yrange [0:*]");
    dlb_plot_series(p, "train loss", ep, tr_loss, epochs);
    dlb_plot_series(p, "test loss", ep, te_loss, epochs);
    dlb_plot_series(p, "test accuracy", ep, te_acc, epochs);
    dlb_run_plot(run, p);
    dlb_plot_free(p);
    printf("CNN test accuracy %.4f on %d test images after %d epoch(s), %.1f s of training, "
           "best %.0f samples/s\n",
           acc, test_count, epochs, train_seconds, best_rate);
    dlb_run_metric(run, "cnn_test_acc", acc, "fraction");
    dlb_run_metric(run, "cnn_train_samples_per_s", best_rate, "samples/s");
    char path[1024];
    snprintf(path, sizeof path, "%s/cnn.ckpt", dlb_run_dir(run));
    s = save_checkpoint(&m, path, step);
    if (s == DL_OK) printf("checkpoint: %s\n", path);

done:
    if (s != DL_OK) fprintf(stderr, "cnn: %s\n", dl_last_error());
    dlb_table_free(curve);
    dl_sampler_free(&sampler);
    if (m.ops) m.ops->free(mom), m.ops->free(var);
    dl_free(x), dl_free(idx), dl_free(y), dl_free(ep);
    dl_cnn_free(&m);
    return s == DL_OK ? 0 : -1;
}
