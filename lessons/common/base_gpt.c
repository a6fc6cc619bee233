/* base_gpt.c — the trained GPT later lessons start from (base_gpt.h): lesson 0's checkpoint,
 * a cached one, or one pretrained here with lesson 0's recipe, shortened. Moved here from
 * lesson 3 so that lesson 3 and lesson 4 share one copy.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base_gpt.h"
#include "dlab/checkpoint.h"
#include "dlab/data.h"
#include "dlab/optim.h"
#include "dlbench.h"

dl_status lesson_gpt_val_loss(dl_gpt *m, const int *tokens, size_t n, int val_batches, double *out) {
    int *x = NULL, *y = NULL;
    size_t bt = (size_t)m->max_B * m->max_T;
    dl_status s = dl_alloc((void **)&x, bt * sizeof(int));
    if (s == DL_OK) s = dl_alloc((void **)&y, bt * sizeof(int));
    dl_rng r;
    dl_rng_seed(&r, 0x5eed);
    double sum = 0;
    for (int i = 0; i < val_batches && s == DL_OK; i++) {
        float loss = 0;
        s = dl_text_sample_batch(tokens, n, m->max_B, m->max_T, &r, x, y);
        if (s == DL_OK) s = dl_gpt_forward(m, x, y, m->max_B, m->max_T, &loss);
        sum += loss;
    }
    dl_free(x), dl_free(y);
    if (s == DL_OK) *out = sum / val_batches;
    return s;
}

dl_status lesson_gpt_save(const dl_gpt *m, const char *path) {
    dl_gpt_tensor t[DL_GPT_N_TENSORS];
    dl_gpt_tensors(&m->cfg, t);
    float *host;
    DL_TRY(dl_alloc((void **)&host, m->n_params * sizeof(float)));
    dl_status s = dl_gpt_params_to_host(m, host);
    dl_ckpt_writer *w = NULL;
    if (s == DL_OK) s = dl_ckpt_writer_begin(&w, path, "gpt", &m->cfg, sizeof m->cfg);
    if (s != DL_OK) return dl_free(host), s;
    for (int i = 0; i < DL_GPT_N_TENSORS; i++) {
        int64_t shape[3] = {t[i].shape[0], t[i].shape[1], t[i].shape[2]};
        dl_ckpt_writer_add_tensor(w, t[i].name, DL_CKPT_F32, host + t[i].offset, t[i].ndim, shape);
    }
    s = dl_ckpt_writer_commit(w); /* frees w; host must live until here */
    dl_free(host);
    return s;
}

dl_status lesson_gpt_load(const char *path, const dl_gpt_config *want, float *host) {
    struct stat st;
    if (stat(path, &st) != 0) return DL_FAIL(DL_ERR_IO, "%s does not exist", path);
    dl_ckpt_reader *r = NULL;
    DL_TRY(dl_ckpt_reader_open(&r, path, "gpt"));
    size_t cfg_bytes = 0;
    const void *cfg = dl_ckpt_reader_config(r, &cfg_bytes);
    dl_status s = DL_OK;
    if (cfg_bytes != sizeof *want || memcmp(cfg, want, sizeof *want) != 0)
        s = DL_FAIL(DL_ERR_FORMAT, "%s holds a GPT of another config", path);
    dl_gpt_tensor t[DL_GPT_N_TENSORS];
    dl_gpt_tensors(want, t);
    for (int i = 0; i < DL_GPT_N_TENSORS && s == DL_OK; i++) {
        int64_t shape[3] = {t[i].shape[0], t[i].shape[1], t[i].shape[2]};
        s = dl_ckpt_reader_read_tensor(r, t[i].name, DL_CKPT_F32, t[i].ndim, shape, host + t[i].offset);
    }
    dl_ckpt_reader_close(r);
    return s;
}

/* Lesson 0's recipe, shortened: AdamW lr 3e-3 (warm-up, cosine to 3e-4), weight decay 0.1
 * on matrices, clip 1, random windows of the base training text. */
static dl_status pretrain(const lesson_base_gpt_opts *cfg, float *host) {
    dl_gpt m = {0};
    float *mom = NULL, *var = NULL;
    int *x = NULL, *y = NULL;
    const dl_variant *opt = NULL;
    dl_rng rng;
    dl_rng_seed(&rng, cfg->seed);
    dl_status s = dl_gpt_create(&m, &cfg->model, cfg->B, cfg->T, cfg->variants);
    if (s == DL_OK) s = dl_gpt_init(&m, &rng);
    if (s == DL_OK) s = dl_backend_variant(m.ops, "optim", &opt);
    if (s == DL_OK) s = m.ops->alloc((void **)&mom, m.n_params * sizeof(float));
    if (s == DL_OK) s = m.ops->zero(mom, m.n_params * sizeof(float));
    if (s == DL_OK) s = m.ops->alloc((void **)&var, m.n_params * sizeof(float));
    if (s == DL_OK) s = m.ops->zero(var, m.n_params * sizeof(float));
    if (s == DL_OK) s = dl_alloc((void **)&x, (size_t)cfg->B * cfg->T * sizeof(int));
    if (s == DL_OK) s = dl_alloc((void **)&y, (size_t)cfg->B * cfg->T * sizeof(int));
    dl_gpt_tensor t[DL_GPT_N_TENSORS];
    dl_gpt_tensors(&cfg->model, t);
    long steps = cfg->pretrain_steps;
    dl_lr_schedule lr = dl_lr_cosine(3e-3f, 3e-4f, steps / 20 + 1, steps + 1);
    dlb_progress prog;
    dlb_progress_start(&prog, "pretrain", steps);
    for (long step = 0; step < steps && s == DL_OK; step++) {
        float loss;
        double norm;
        s = dl_text_sample_batch(cfg->train, cfg->train_len, cfg->B, cfg->T, &rng, x, y);
        if (s == DL_OK) s = dl_gpt_forward(&m, x, y, cfg->B, cfg->T, &loss);
        if (s == DL_OK) s = dl_gpt_backward(&m);
        dl_grad_span span = {m.grads, m.n_params};
        if (s == DL_OK) s = dl_clip_grad_norm_on(m.ops->device, &span, 1, 1.0, &norm);
        for (int i = 0; i < DL_GPT_N_TENSORS && s == DL_OK; i++) {
            dl_adamw_args a = {.n = t[i].size, .param = m.p[i], .grad = m.g[i],
                               .m = mom + t[i].offset, .v = var + t[i].offset,
                               .lr = dl_lr_at(&lr, step), .beta1 = 0.9f, .beta2 = 0.95f,
                               .eps = 1e-8f, .weight_decay = t[i].is_matrix ? 0.1f : 0.0f,
                               .step = step + 1};
            s = dl_adamw_run(opt, &a);
        }
        dlb_progress_update(&prog, step + 1);
    }
    dlb_progress_end(&prog);
    if (s == DL_OK) s = dl_gpt_params_to_host(&m, host);
    char path[1024];
    snprintf(path, sizeof path, "%s/base.ckpt", cfg->out_dir);
    if (s == DL_OK) s = lesson_gpt_save(&m, path);
    if (m.ops) m.ops->free(mom), m.ops->free(var);
    dl_free(x), dl_free(y);
    dl_gpt_free(&m);
    return s;
}

dl_status lesson_base_gpt_prepare(const lesson_base_gpt_opts *cfg, float **host, char *origin,
                                  size_t origin_len) {
    size_t n = dl_gpt_param_count(&cfg->model);
    DL_TRY(dl_alloc((void **)host, n * sizeof(float)));
    if (cfg->base_path && lesson_gpt_load(cfg->base_path, &cfg->model, *host) == DL_OK) {
        snprintf(origin, origin_len, "lesson 0's checkpoint %s", cfg->base_path);
        return DL_OK;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/base.ckpt", cfg->out_dir);
    if (lesson_gpt_load(path, &cfg->model, *host) == DL_OK) {
        snprintf(origin, origin_len, "%s, pretrained by an earlier run of this lesson", path);
        return DL_OK;
    }
    if (cfg->pretrain_steps <= 0) {
        dl_free(*host), *host = NULL;
        return DL_FAIL(DL_ERR_IO, "no base model of this config in %s or %s: run the lesson (or lesson 0) first",
                       cfg->base_path ? cfg->base_path : "(none)", path);
    }
    double t0 = dlb_now();
    dl_status s = pretrain(cfg, *host);
    if (s != DL_OK) {
        dl_free(*host), *host = NULL;
        return s;
    }
    snprintf(origin, origin_len,
             "pretrained here (%s had no GPT of this config): %ld steps in %.1f s, saved as %s",
             cfg->base_path ? cfg->base_path : "no base checkpoint given", cfg->pretrain_steps,
             dlb_now() - t0, path);
    return DL_OK;
}
