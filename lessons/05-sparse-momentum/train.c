/* train.c — lesson 5: one training run of LeNet-300-100 with a sparse method.
 *
 * The model stays the dense dl_mlp of lesson 0 (AdamW, cosine learning rate with warm-up,
 * batch 128); sparsity WRAPS it (dlab/sparse.h):
 *   after every optimizer step   dl_sparse_apply zeroes the inactive weights again; for
 *                                static and SET, dl_sparse_mask_state zeroes AdamW's m and v
 *                                there too (nothing reads them); sparse momentum keeps m dense
 *                                because m at the zero weights is its regrowth signal;
 *   at each epoch end but the    dl_sparse_prune_regrow with p from the cosine schedule, AdamW's
 *   last                         m as the momentum.
 * So the masked dense compute does the same arithmetic a sparse kernel would (the inactive
 * weights are exact zeros); what sparse compute buys in time is measured apart (timing.c).
 * On --device cuda the wrap copies the parameters through the host each step (correct, slow:
 * the lesson is about the algorithm on the CPU).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sparse_lesson.h"

typedef struct trainer {
    dl_mlp m;
    float *adam_m, *adam_v; /* (n_params) each, on the model's device */
    const dl_variant *optim;
    dl_index_sampler sampler;
    dl_lr_schedule lr;
    long step, total_steps;
    float *x; /* (SP_BATCH, 784) */
    int idx[SP_BATCH], y[SP_BATCH];
    dl_sparse sp;
    bool masked;           /* any method but dense */
    float *host;           /* 3·n_params host floats: params, m, v (staging for a device) */
} trainer;

static void trainer_free(trainer *t) {
    dl_sampler_free(&t->sampler);
    if (t->m.ops) t->m.ops->free(t->adam_m), t->m.ops->free(t->adam_v);
    dl_free(t->x), dl_free(t->host);
    dl_sparse_free(&t->sp);
    dl_mlp_free(&t->m);
    memset(t, 0, sizeof *t);
}

static bool on_cpu(const trainer *t) { return t->m.ops->device == DL_DEVICE_CPU; }

/* Host views of params, m, v: the buffers themselves on the CPU, copies otherwise. */
static dl_status state_to_host(trainer *t, float **p, float **m, float **v) {
    if (on_cpu(t)) {
        *p = t->m.params, *m = t->adam_m, *v = t->adam_v;
        return DL_OK;
    }
    const size_t n = t->m.n_params, bytes = n * sizeof(float);
    *p = t->host, *m = t->host + n, *v = t->host + 2 * n;
    DL_TRY(dl_mlp_params_to_host(&t->m, *p));
    DL_TRY(t->m.ops->to_host(*m, t->adam_m, bytes));
    return t->m.ops->to_host(*v, t->adam_v, bytes);
}

static dl_status state_from_host(trainer *t) {
    if (on_cpu(t)) return DL_OK;
    const size_t n = t->m.n_params, bytes = n * sizeof(float);
    DL_TRY(dl_mlp_params_from_host(&t->m, t->host));
    DL_TRY(t->m.ops->to_device(t->adam_m, t->host + n, bytes));
    return t->m.ops->to_device(t->adam_v, t->host + 2 * n, bytes);
}

/* The mask after a step: weights always; optimizer state for static and SET. */
static dl_status wrap_after_step(trainer *t) {
    if (!t->masked) return DL_OK;
    float *p, *m, *v;
    DL_TRY(state_to_host(t, &p, &m, &v));
    dl_sparse_apply(&t->sp, p);
    if (t->sp.cfg.method != DL_SPARSE_MOMENTUM) dl_sparse_mask_state(&t->sp, m), dl_sparse_mask_state(&t->sp, v);
    return state_from_host(t);
}

static dl_status trainer_init(trainer *t, const sp_config *cfg, dl_sparse_method method,
                              double density, uint64_t seed, int train_count) {
    memset(t, 0, sizeof *t);
    dl_sparse_config sc = dl_sparse_defaults(method, method == DL_SPARSE_DENSE ? 1.0 : density);
    sc.prune_rate = cfg->prune_rate;
    if (sc.prune_rate_min > sc.prune_rate) sc.prune_rate_min = sc.prune_rate;
    DL_TRY(dl_sparse_config_check(&sc));
    dl_mlp_config mc = dl_mlp_lenet_300_100();
    dl_rng rng;
    dl_rng_seed(&rng, seed);
    dl_status s = dl_mlp_create(&t->m, &mc, SP_BATCH, cfg->variants);
    if (s == DL_OK) s = dl_mlp_init(&t->m, &rng);
    if (s == DL_OK) s = dl_backend_variant(t->m.ops, "optim", &t->optim);
    const size_t bytes = t->m.n_params * sizeof(float);
    if (s == DL_OK) s = dl_backend_alloc_zeroed(t->m.ops, (void **)&t->adam_m, bytes);
    if (s == DL_OK) s = dl_backend_alloc_zeroed(t->m.ops, (void **)&t->adam_v, bytes);
    if (s == DL_OK) s = dl_alloc((void **)&t->x, (size_t)SP_BATCH * mc.inputs * sizeof(float));
    if (s == DL_OK) s = dl_alloc((void **)&t->host, 3 * bytes);
    if (s == DL_OK) s = dl_sampler_init(&t->sampler, train_count, seed);
    /* the masks from their own stream, so every method at a density starts from the same mask */
    if (s == DL_OK) s = dl_sparse_create_for_mlp(&t->sp, &sc, &t->m, seed ^ 0x5eed5a7ull);
    t->masked = method != DL_SPARSE_DENSE;
    t->total_steps = (long)(train_count / SP_BATCH) * cfg->epochs;
    long warmup = train_count / SP_BATCH / 2;
    if (warmup > t->total_steps / 4) warmup = t->total_steps / 4;
    t->lr = dl_lr_cosine(cfg->lr, cfg->lr / 100, warmup, t->total_steps);
    if (s == DL_OK) s = dl_lr_check(&t->lr);
    if (s == DL_OK) s = wrap_after_step(t); /* the initial weights, masked */
    if (s != DL_OK) trainer_free(t);
    return s;
}

static dl_status trainer_step(trainer *t, const dl_image_set *train, float *loss) {
    DL_TRY(dl_sampler_next(&t->sampler, t->idx, SP_BATCH));
    dl_image_set_gather(train, t->idx, SP_BATCH, t->x, t->y);
    DL_TRY(dl_mlp_forward(&t->m, t->x, t->y, SP_BATCH, loss));
    DL_TRY(dl_mlp_backward(&t->m));
    dl_adamw_args a = {.n = t->m.n_params, .param = t->m.params, .grad = t->m.grads,
                       .m = t->adam_m, .v = t->adam_v, .lr = dl_lr_at(&t->lr, t->step),
                       .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-4f,
                       .step = t->step + 1};
    DL_TRY(dl_adamw_run(t->optim, &a));
    t->step++;
    return wrap_after_step(t);
}

static dl_status prune_regrow(trainer *t) {
    float *p, *m, *v;
    DL_TRY(state_to_host(t, &p, &m, &v));
    const double rate = dl_sparse_prune_rate_at(&t->sp.cfg, t->step, t->total_steps);
    DL_TRY(dl_sparse_prune_regrow(&t->sp, p, m, rate, NULL));
    if (t->sp.cfg.method != DL_SPARSE_MOMENTUM) dl_sparse_mask_state(&t->sp, m), dl_sparse_mask_state(&t->sp, v);
    return state_from_host(t);
}

/* Accuracy on the first `count` images of set. */
static dl_status evaluate(dl_mlp *m, float *x, int *idx, int *y, const dl_image_set *set, int count,
                          double *acc) {
    long correct = 0;
    for (int start = 0; start < count; start += SP_BATCH) {
        const int B = count - start < SP_BATCH ? count - start : SP_BATCH;
        for (int i = 0; i < B; i++) idx[i] = start + i;
        dl_image_set_gather(set, idx, B, x, y);
        DL_TRY(dl_mlp_forward(m, x, y, B, NULL));
        const int right = dl_mlp_correct(m, y);
        if (right < 0) return DL_ERR_CUDA; /* message set by dl_mlp_correct */
        correct += right;
    }
    *acc = count > 0 ? (double)correct / count : 0.0;
    return DL_OK;
}

dl_status sp_train(const sp_config *cfg, dl_sparse_method method, double density, uint64_t seed,
                   const dl_image_set *train, const dl_image_set *test, const char *save_path,
                   sp_result *out) {
    if (cfg->epochs < 1 || cfg->epochs > SP_MAX_EPOCHS)
        return DL_FAIL(DL_ERR_ARG, "epochs=%d must be 1..%d", cfg->epochs, SP_MAX_EPOCHS);
    const int train_count = cfg->train_count < train->count ? cfg->train_count : train->count;
    const int test_count = cfg->test_count < test->count ? cfg->test_count : test->count;
    if (train_count < SP_BATCH)
        return DL_FAIL(DL_ERR_ARG, "%d training images: fewer than a batch of %d", train_count, SP_BATCH);
    trainer t;
    DL_TRY(trainer_init(&t, cfg, method, density, seed, train_count));
    memset(out, 0, sizeof *out);
    out->n_layers = t.sp.n_layers, out->epochs = cfg->epochs;
    for (int l = 0; l < t.sp.n_layers; l++) out->layer_density[0][l] = dl_sparse_layer_density(&t.sp, l);
    const long steps_per_epoch = train_count / SP_BATCH;
    dl_status s = DL_OK;
    const double t0 = dlb_now();
    for (int e = 0; e < cfg->epochs && s == DL_OK; e++) {
        for (long i = 0; i < steps_per_epoch && s == DL_OK; i++) {
            float loss;
            s = trainer_step(&t, train, &loss);
            if (s == DL_OK && !isfinite(loss))
                s = DL_FAIL(DL_ERR_INTERNAL, "%s d=%g seed %llu: loss %g at step %ld",
                            dl_sparse_method_name(method), density, (unsigned long long)seed, loss, t.step);
        }
        /* prune and regrow at each epoch end; after the last there is nothing left to train */
        if (s == DL_OK && t.masked && e + 1 < cfg->epochs) s = prune_regrow(&t);
        for (int l = 0; l < t.sp.n_layers; l++) out->layer_density[e + 1][l] = dl_sparse_layer_density(&t.sp, l);
    }
    out->train_seconds = dlb_now() - t0;
    out->active_weights = dl_sparse_active(&t.sp);
    if (s == DL_OK) s = evaluate(&t.m, t.x, t.idx, t.y, test, test_count, &out->test_acc);
    if (s == DL_OK && save_path) {
        float *p, *m, *v;
        s = state_to_host(&t, &p, &m, &v);
        if (s == DL_OK) s = dl_sparse_mlp_save(save_path, &t.m, &t.sp, p);
    }
    trainer_free(&t);
    return s;
}

dl_status sp_evaluate_checkpoint(const sp_config *cfg, const char *path, const dl_image_set *test,
                                 double *acc) {
    dl_mlp m;
    dl_mlp_config mc = dl_mlp_lenet_300_100();
    DL_TRY(dl_mlp_create(&m, &mc, SP_BATCH, cfg->variants));
    dl_sparse sp = {0};
    float *x = NULL;
    int idx[SP_BATCH], y[SP_BATCH];
    dl_status s = dl_sparse_mlp_load(path, &m, &sp);
    if (s == DL_OK) s = dl_alloc((void **)&x, (size_t)SP_BATCH * mc.inputs * sizeof(float));
    const int count = cfg->test_count < test->count ? cfg->test_count : test->count;
    if (s == DL_OK) s = evaluate(&m, x, idx, y, test, count, acc);
    dl_free(x);
    dl_sparse_free(&sp);
    dl_mlp_free(&m);
    return s;
}
