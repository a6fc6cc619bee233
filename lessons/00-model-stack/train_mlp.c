/* train_mlp.c — lesson 0, part 1: the MLP (LeNet-300-100) on Fashion-MNIST.
 *
 * Mini-batch AdamW with a cosine schedule and warm-up, evaluation on the 10 000 test images
 * after every epoch, a progress line with samples/s and ETA, curves as CSV and a plot,
 * the memory of each component, and a checkpoint the later lessons load
 * (results/00-model-stack/mlp.ckpt).
 *
 * The checkpoint holds everything the next step depends on — weights, AdamW's m and v, the
 * step count and the sampler's state — so `--resume` continues exactly where a run stopped:
 * mlp_resume_is_bit_identical() trains 2k steps straight, then k steps + save + load + k
 * steps, and compares every loss and every weight bit for bit.
 *
 * On --device cuda the model, AdamW's m and v live on the GPU (the model's backend allocates
 * them and runs the backend's optim variant); batches are gathered on the host and copied in
 * by the forward; checkpoints go through host copies, so one file loads on either device.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlab/dlab.h"
#include "dlab/checkpoint.h"
#include "dlab/data.h"
#include "dlab/mlp.h"
#include "dlab/optim.h"
#include "stack_lesson.h"

// ------------------------------------------------------------------- the trainer state

enum { MLP_BATCH = 128 };

typedef struct mlp_trainer {
    dl_mlp m;
    float *adam_m, *adam_v; /* AdamW moments, (n_params) each, on the model's device */
    const dl_variant *optim; /* the model's backend's optim variant */
    dl_index_sampler sampler;
    dl_lr_schedule lr;
    long step; /* optimizer steps taken */
    float *x;  /* (B, 784) batch buffer */
    int idx[MLP_BATCH], y[MLP_BATCH];
} mlp_trainer;

static void trainer_free(mlp_trainer *t) {
    dl_sampler_free(&t->sampler);
    if (t->m.ops) t->m.ops->free(t->adam_m), t->m.ops->free(t->adam_v);
    dl_free(t->x);
    dl_mlp_free(&t->m);
    memset(t, 0, sizeof *t);
}

/* A fresh model (Kaiming init from seed) that samples from the first train_count images.
 * variants: "fast" (CPU) or "cuda". */
static dl_status trainer_init(mlp_trainer *t, uint64_t seed, int train_count, long total_steps,
                              const char *variants) {
    memset(t, 0, sizeof *t);
    dl_mlp_config mc = dl_mlp_lenet_300_100();
    dl_rng rng;
    dl_rng_seed(&rng, seed);
    dl_status s = dl_mlp_create(&t->m, &mc, MLP_BATCH, variants);
    if (s == DL_OK) s = dl_mlp_init(&t->m, &rng);
    if (s == DL_OK) s = dl_backend_variant(t->m.ops, "optim", &t->optim);
    const size_t state_bytes = t->m.n_params * sizeof(float);
    if (s == DL_OK) s = dl_backend_alloc_zeroed(t->m.ops, (void **)&t->adam_m, state_bytes);
    if (s == DL_OK) s = dl_backend_alloc_zeroed(t->m.ops, (void **)&t->adam_v, state_bytes);
    if (s == DL_OK) s = dl_alloc((void **)&t->x, (size_t)MLP_BATCH * mc.inputs * sizeof(float));
    if (s == DL_OK) s = dl_sampler_init(&t->sampler, train_count, seed);
    /* Warm-up: half an epoch, or a quarter of a short run. */
    long warmup = train_count / MLP_BATCH / 2;
    if (warmup > total_steps / 4) warmup = total_steps / 4;
    t->lr = dl_lr_cosine(2e-3f, 2e-5f, warmup, total_steps);
    if (s == DL_OK) s = dl_lr_check(&t->lr);
    if (s != DL_OK) trainer_free(t);
    return s;
}

/* One optimizer step on the next batch; the batch's mean loss in *loss. */
static dl_status trainer_step(mlp_trainer *t, const dl_image_set *train, float *loss) {
    DL_TRY(dl_sampler_next(&t->sampler, t->idx, MLP_BATCH));
    dl_image_set_gather(train, t->idx, MLP_BATCH, t->x, t->y);
    DL_TRY(dl_mlp_forward(&t->m, t->x, t->y, MLP_BATCH, loss));
    DL_TRY(dl_mlp_backward(&t->m));
    dl_adamw_args a = {.n = t->m.n_params, .param = t->m.params, .grad = t->m.grads,
                       .m = t->adam_m, .v = t->adam_v, .lr = dl_lr_at(&t->lr, t->step),
                       .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-4f,
                       .step = t->step + 1};
    DL_TRY(dl_adamw_run(t->optim, &a));
    t->step++;
    return DL_OK;
}

static const char *const SAMPLER_KEYS[DL_SAMPLER_STATE_WORDS] = {
    "sampler.0", "sampler.1", "sampler.2", "sampler.3", "sampler.4", "sampler.5"};

/* Host copies of what a checkpoint holds: the parameters, AdamW's m and v (n_params each,
 * one allocation). The file is the same whichever device trained. */
typedef struct host_state {
    float *params, *adam_m, *adam_v;
} host_state;

static dl_status host_state_alloc(host_state *h, size_t n) {
    memset(h, 0, sizeof *h);
    DL_TRY(dl_alloc((void **)&h->params, 3 * n * sizeof(float)));
    h->adam_m = h->params + n, h->adam_v = h->params + 2 * n;
    return DL_OK;
}

/* Offset of a parameter tensor of m (device or host pointer) within m->params. */
static size_t param_offset(const dl_mlp *m, const float *p) { return (size_t)(p - m->params); }

/* Weights under the names lessons load ("fc1.weight" …) plus the training state. */
static dl_status trainer_save(const mlp_trainer *t, const char *path) {
    const dl_mlp *m = &t->m;
    const size_t bytes = m->n_params * sizeof(float);
    host_state h;
    DL_TRY(host_state_alloc(&h, m->n_params));
    dl_status s = dl_mlp_params_to_host(m, h.params);
    if (s == DL_OK) s = m->ops->to_host(h.adam_m, t->adam_m, bytes);
    if (s == DL_OK) s = m->ops->to_host(h.adam_v, t->adam_v, bytes);
    dl_ckpt_writer *w = NULL;
    if (s == DL_OK) s = dl_ckpt_writer_begin(&w, path, "mlp", &m->cfg, sizeof m->cfg);
    if (s != DL_OK) return dl_free(h.params), s;
    int64_t shapes[DL_MLP_MAX_LAYERS][2], n = (int64_t)m->n_params;
    for (int l = 0; l < m->n_layers; l++) {
        char name[32];
        shapes[l][0] = l < m->cfg.n_hidden ? m->cfg.hidden[l] : m->cfg.classes;
        shapes[l][1] = l == 0 ? m->cfg.inputs : m->cfg.hidden[l - 1];
        snprintf(name, sizeof name, "fc%d.weight", l + 1);
        dl_ckpt_writer_add_tensor(w, name, DL_CKPT_F32, h.params + param_offset(m, m->W[l]), 2,
                                  shapes[l]);
        snprintf(name, sizeof name, "fc%d.bias", l + 1);
        dl_ckpt_writer_add_tensor(w, name, DL_CKPT_F32, h.params + param_offset(m, m->b[l]), 1,
                                  &shapes[l][0]);
    }
    dl_ckpt_writer_add_tensor(w, "adamw.m", DL_CKPT_F32, h.adam_m, 1, &n);
    dl_ckpt_writer_add_tensor(w, "adamw.v", DL_CKPT_F32, h.adam_v, 1, &n);
    dl_ckpt_writer_add_u64(w, "step", (uint64_t)t->step);
    uint64_t state[DL_SAMPLER_STATE_WORDS];
    dl_sampler_save(&t->sampler, state);
    for (int i = 0; i < DL_SAMPLER_STATE_WORDS; i++) dl_ckpt_writer_add_u64(w, SAMPLER_KEYS[i], state[i]);
    s = dl_ckpt_writer_commit(w);
    dl_free(h.params);
    return s;
}

/* Restore a trainer made by trainer_init from a checkpoint of the same shape. */
static dl_status trainer_load(mlp_trainer *t, const char *path) {
    dl_mlp *m = &t->m;
    host_state h;
    DL_TRY(host_state_alloc(&h, m->n_params));
    dl_ckpt_reader *r;
    dl_status s = dl_ckpt_reader_open(&r, path, "mlp");
    if (s != DL_OK) return dl_free(h.params), s;
    size_t config_bytes;
    const void *config = dl_ckpt_reader_config(r, &config_bytes);
    if (config_bytes != sizeof m->cfg || memcmp(config, &m->cfg, sizeof m->cfg) != 0)
        s = DL_FAIL(DL_ERR_FORMAT, "%s: an MLP of another shape", path);
    for (int l = 0; s == DL_OK && l < m->n_layers; l++) {
        char name[32];
        int64_t shape[2] = {l < m->cfg.n_hidden ? m->cfg.hidden[l] : m->cfg.classes,
                            l == 0 ? m->cfg.inputs : m->cfg.hidden[l - 1]};
        snprintf(name, sizeof name, "fc%d.weight", l + 1);
        s = dl_ckpt_reader_read_tensor(r, name, DL_CKPT_F32, 2, shape,
                                       h.params + param_offset(m, m->W[l]));
        snprintf(name, sizeof name, "fc%d.bias", l + 1);
        if (s == DL_OK)
            s = dl_ckpt_reader_read_tensor(r, name, DL_CKPT_F32, 1, shape,
                                           h.params + param_offset(m, m->b[l]));
    }
    int64_t n = (int64_t)m->n_params;
    if (s == DL_OK) s = dl_ckpt_reader_read_tensor(r, "adamw.m", DL_CKPT_F32, 1, &n, h.adam_m);
    if (s == DL_OK) s = dl_ckpt_reader_read_tensor(r, "adamw.v", DL_CKPT_F32, 1, &n, h.adam_v);
    uint64_t step = 0, state[DL_SAMPLER_STATE_WORDS];
    if (s == DL_OK) s = dl_ckpt_reader_get_u64(r, "step", &step);
    for (int i = 0; s == DL_OK && i < DL_SAMPLER_STATE_WORDS; i++)
        s = dl_ckpt_reader_get_u64(r, SAMPLER_KEYS[i], &state[i]);
    dl_ckpt_reader_close(r);
    /* Nothing of the trainer changes unless the whole file was read. */
    const size_t bytes = m->n_params * sizeof(float);
    if (s == DL_OK) s = dl_mlp_params_from_host(m, h.params);
    if (s == DL_OK) s = m->ops->to_device(t->adam_m, h.adam_m, bytes);
    if (s == DL_OK) s = m->ops->to_device(t->adam_v, h.adam_v, bytes);
    if (s == DL_OK) s = dl_sampler_restore(&t->sampler, state);
    if (s == DL_OK) t->step = (long)step;
    dl_free(h.params);
    return s;
}

/* Mean loss and accuracy over a whole set, in batches. */
static dl_status evaluate(mlp_trainer *t, const dl_image_set *set, double *loss_out, double *acc_out) {
    double loss_sum = 0;
    long correct = 0;
    for (int start = 0; start < set->count; start += MLP_BATCH) {
        int B = set->count - start < MLP_BATCH ? set->count - start : MLP_BATCH;
        for (int i = 0; i < B; i++) t->idx[i] = start + i;
        dl_image_set_gather(set, t->idx, B, t->x, t->y);
        float loss;
        DL_TRY(dl_mlp_forward(&t->m, t->x, t->y, B, &loss));
        loss_sum += (double)loss * B;
        int right = dl_mlp_correct(&t->m, t->y);
        if (right < 0) return DL_ERR_CUDA; /* the logits could not come back; message set */
        correct += right;
    }
    *loss_out = loss_sum / set->count;
    *acc_out = (double)correct / set->count;
    return DL_OK;
}

// ----------------------------------------------------------------- resume is exact

int mlp_resume_is_bit_identical(const dl_image_set *train, uint64_t seed, long k, const char *dir) {
    return mlp_resume_is_bit_identical_on(train, seed, k, dir, "fast");
}

int mlp_resume_is_bit_identical_on(const dl_image_set *train, uint64_t seed, long k,
                                   const char *dir, const char *variants) {
    char path[1024];
    snprintf(path, sizeof path, "%s/mlp-resume-check.ckpt", dir);
    const int count = 4096;
    float *straight = malloc((size_t)2 * k * sizeof(float)), *resumed = malloc((size_t)2 * k * sizeof(float));
    float *params_a = NULL, *params_c = NULL;
    mlp_trainer a, b, c;
    int same = -1;
    if (!straight || !resumed) goto out;
    /* a: 2k steps without stopping. */
    if (trainer_init(&a, seed, count, 2 * k, variants) != DL_OK) goto out;
    for (long i = 0; i < 2 * k; i++)
        if (trainer_step(&a, train, &straight[i]) != DL_OK) goto free_a;
    /* b: k steps, save; c: a new process's worth of state, load, k more steps. */
    if (trainer_init(&b, seed, count, 2 * k, variants) != DL_OK) goto free_a;
    for (long i = 0; i < k; i++)
        if (trainer_step(&b, train, &resumed[i]) != DL_OK) goto free_b;
    if (trainer_save(&b, path) != DL_OK) goto free_b;
    /* other seed: load must overwrite all */
    if (trainer_init(&c, seed + 1, count, 2 * k, variants) != DL_OK) goto free_b;
    if (trainer_load(&c, path) != DL_OK) goto free_c;
    for (long i = k; i < 2 * k; i++)
        if (trainer_step(&c, train, &resumed[i]) != DL_OK) goto free_c;
    params_a = malloc(a.m.n_params * sizeof(float)), params_c = malloc(c.m.n_params * sizeof(float));
    if (!params_a || !params_c) {
        DL_FAIL(DL_ERR_ALLOC, "two copies of %zu parameters", a.m.n_params);
        goto free_c;
    }
    if (dl_mlp_params_to_host(&a.m, params_a) != DL_OK ||
        dl_mlp_params_to_host(&c.m, params_c) != DL_OK)
        goto free_c;
    same = memcmp(straight, resumed, (size_t)2 * k * sizeof(float)) == 0 &&
           memcmp(params_a, params_c, a.m.n_params * sizeof(float)) == 0;
free_c:
    trainer_free(&c);
free_b:
    trainer_free(&b);
free_a:
    trainer_free(&a);
out:
    if (same < 0) fprintf(stderr, "resume check: %s\n", dl_last_error());
    unlink(path);
    free(straight), free(resumed), free(params_a), free(params_c);
    return same;
}

// ------------------------------------------------------------------------- training

int stack_train_mlp(dlb_run *run, const stack_config *cfg, const dl_image_set *train,
                    const dl_image_set *test) {
    const int epochs = cfg->quick ? 1 : (int)cfg->mlp_epochs;
    const int train_count = cfg->quick ? 8192 : train->count; /* --quick: a subset */
    const long steps_per_epoch = train_count / MLP_BATCH, total_steps = steps_per_epoch * epochs;
    char ckpt[1024];
    snprintf(ckpt, sizeof ckpt, "%s/mlp.ckpt", dlb_run_dir(run));
    const char *variants = stack_variants(cfg);
    mlp_trainer t;
    dl_status s = trainer_init(&t, cfg->seed, train_count, total_steps, variants);
    if (s == DL_OK && cfg->resume) {
        s = trainer_load(&t, ckpt);
        if (s == DL_OK) printf("resumed from %s at step %ld\n", ckpt, t.step);
    }
    if (s != DL_OK) {
        fprintf(stderr, "mlp: %s\n", dl_last_error());
        trainer_free(&t);
        return -1;
    }

    dl_mem_report mem = dl_mlp_memory(&t.m);
    mem.optimizer = 2 * t.m.n_params * sizeof(float); /* AdamW's m and v */
    printf("MLP 784-300-100-10: %zu parameters; memory: params %zu B, grads %zu B, AdamW state "
           "%zu B, activations %zu B (batch %d)\n",
           t.m.n_params, mem.params, mem.grads, mem.optimizer, mem.activations, MLP_BATCH);
    dlb_run_metric(run, "mlp_params", (double)t.m.n_params, "count");
    dlb_run_metric(run, "mlp_mem_params_bytes", (double)mem.params, "bytes");
    dlb_run_metric(run, "mlp_mem_grads_bytes", (double)mem.grads, "bytes");
    dlb_run_metric(run, "mlp_mem_optimizer_bytes", (double)mem.optimizer, "bytes");
    dlb_run_metric(run, "mlp_mem_activations_bytes", (double)mem.activations, "bytes");
    printf("MLP on %s: linear %s, relu %s, softmax_xent %s, optim %s\n", t.m.ops->name,
           t.m.linear->name, t.m.relu->name, t.m.xent->name, t.optim->name);

    dlb_table *curve = dlb_table_new("mlp_curve", "epoch", "step", "train_loss", "test_loss",
                                     "test_acc", "samples_per_s", NULL);
    double ep[1000], tr_loss[1000], te_loss[1000], te_acc[1000], best_rate = 0, acc = 0;
    int points = 0;
    dlb_progress prog;
    dlb_progress_start(&prog, "mlp", total_steps);
    double train_seconds = 0;
    for (int e = (int)(t.step / steps_per_epoch); e < epochs && s == DL_OK; e++) {
        double loss_sum = 0, t0 = dlb_now();
        for (long i = 0; i < steps_per_epoch && s == DL_OK; i++) {
            float loss = 0;
            s = trainer_step(&t, train, &loss);
            loss_sum += loss;
            dlb_progress_update(&prog, t.step);
        }
        double seconds = dlb_now() - t0, rate = steps_per_epoch * MLP_BATCH / seconds, test_loss = 0;
        train_seconds += seconds;
        if (rate > best_rate) best_rate = rate;
        if (s == DL_OK) s = evaluate(&t, test, &test_loss, &acc);
        if (s == DL_OK) s = trainer_save(&t, ckpt); /* every epoch: --resume starts here */
        if (s != DL_OK) break;
        ep[points] = e + 1, tr_loss[points] = loss_sum / steps_per_epoch;
        te_loss[points] = test_loss, te_acc[points] = acc, points++;
        dlb_table_int(curve, e + 1);
        dlb_table_int(curve, t.step);
        dlb_table_numf(curve, loss_sum / steps_per_epoch, "%.4f");
        dlb_table_numf(curve, test_loss, "%.4f");
        dlb_table_numf(curve, acc, "%.4f");
        dlb_table_numf(curve, rate, "%.0f");
    }
    dlb_progress_end(&prog);
    if (s == DL_OK && points == 0) s = evaluate(&t, test, &te_loss[0], &acc); /* resumed at the end */
    if (s != DL_OK) {
        fprintf(stderr, "mlp: %s\n", dl_last_error());
        dlb_table_free(curve);
        trainer_free(&t);
        return -1;
    }

    printf("\nMLP training (AdamW, cosine lr 2e-3 → 2e-5, batch %d, %d threads):\n", MLP_BATCH,
           cfg->threads);
    dlb_run_table(run, curve);
    dlb_plot *p = dlb_plot_new("mlp_curves", "MLP on Fashion-MNIST", "epoch", "loss / accuracy");
    dlb_plot_extra(p, "set xrange [0:*]\nset yrange [0:*]");
    dlb_plot_series(p, "train loss", ep, tr_loss, points);
    dlb_plot_series(p, "test loss", ep, te_loss, points);
    dlb_plot_series(p, "test accuracy", ep, te_acc, points);
    dlb_run_plot(run, p);
    dlb_plot_free(p);
    printf("MLP test accuracy %.4f after %d epoch(s), %.1f s of training, best %.0f samples/s "
           "(published MLP 256-128-100: 0.883)\ncheckpoint: %s\n",
           acc, epochs, train_seconds, best_rate, ckpt);
    dlb_run_metric(run, "mlp_test_acc", acc, "fraction");
    if (best_rate > 0) dlb_run_metric(run, "mlp_train_samples_per_s", best_rate, "samples/s");
    dlb_table_free(curve);
    trainer_free(&t);

    /* Resume must be exact: 2k steps straight against k + save + load + k. */
    long k = cfg->quick ? 5 : 50;
    int same = mlp_resume_is_bit_identical_on(train, cfg->seed, k, dlb_run_dir(run), variants);
    if (same < 0) return -1;
    printf("resume check: %ld steps straight vs %ld + checkpoint + load + %ld: %s\n\n", 2 * k, k, k,
           same ? "every loss and every weight bit-identical" : "DIFFERENT (a bug)");
    dlb_run_metric(run, "resume_bit_identical", same, "bool");
    return 0;
}
