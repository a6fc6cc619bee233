/* train.c — lesson 3: one fine-tuning step and one fine-tuning run, full or LoRA.
 *
 * Both kinds take the same step — forward, backward, clip the trainable gradients to norm 1,
 * AdamW — on the same batches from the same base weights; only what is trainable differs:
 * every GPT parameter (full), or the adapters' A and B with the base frozen (LoRA: the
 * backward computes no base-weight gradients, dl_gpt_attach_lora(..., true)). Each step is
 * timed alone (drawing the batch is not part of it); the run reports the median and spread.
 * Left out: weight decay during fine-tuning (0 for both, so the two differ in what they
 * train, not in how), dropout on the adapter input (the paper uses it on some tasks).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dlab/optim.h"
#include "lora_lesson.h"

dl_status lora_stepper_init(lora_stepper *s, dl_gpt *m, dl_lora *lo) {
    memset(s, 0, sizeof *s);
    s->m = m, s->lo = lo;
    s->params = lo ? lo->params : m->params;
    s->grads = lo ? lo->grads : m->grads;
    s->n = lo ? lo->n_params : m->n_params;
    s->lr = 1e-3f;
    DL_TRY(dl_backend_variant(m->ops, "optim", &s->opt));
    dl_status st = m->ops->alloc((void **)&s->mom, s->n * sizeof(float));
    if (st == DL_OK) st = m->ops->zero(s->mom, s->n * sizeof(float));
    if (st == DL_OK) st = m->ops->alloc((void **)&s->var, s->n * sizeof(float));
    if (st == DL_OK) st = m->ops->zero(s->var, s->n * sizeof(float));
    if (st != DL_OK) lora_stepper_free(s);
    return st;
}

void lora_stepper_free(lora_stepper *s) {
    if (s->m && s->m->ops) s->m->ops->free(s->mom), s->m->ops->free(s->var);
    s->mom = s->var = NULL;
}

dl_status lora_stepper_step(lora_stepper *s) {
    dl_gpt *m = s->m;
    double norm;
    DL_TRY(dl_gpt_forward(m, s->x, s->y, m->max_B, m->max_T, &s->loss));
    /* the backward writes the adapters' gradients; zeroing first makes "writes" and
     * "accumulates" the same thing, at the cost of one small memset */
    if (s->lo) DL_TRY(m->ops->zero(s->grads, s->n * sizeof(float)));
    DL_TRY(dl_gpt_backward(m));
    dl_grad_span span = {s->grads, s->n};
    DL_TRY(dl_clip_grad_norm_on(m->ops->device, &span, 1, 1.0, &norm));
    s->t++;
    dl_adamw_args a = {.n = s->n, .param = s->params, .grad = s->grads, .m = s->mom, .v = s->var,
                       .lr = s->lr, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                       .weight_decay = 0.0f, .step = s->t};
    return dl_adamw_run(s->opt, &a);
}

void lora_stepper_step_fn(void *s) {
    lora_stepper *st = s;
    if (st->status == DL_OK) st->status = lora_stepper_step(st);
}

size_t lora_state_bytes(const dl_gpt *m, const dl_lora *lo) {
    dl_mem_report mem = dl_gpt_memory(m);
    size_t rows = (size_t)m->max_B * m->max_T;
    size_t r = (size_t)lo->cfg.rank, wide = 4 * (size_t)m->cfg.n_embd;
    /* every adapter's h and dh, the shared scratch (max(rows, 4C), r) and (α/r)·I (r, r),
     * as lora.h lays out lo->acts */
    size_t adapter_acts = (size_t)lo->n_adapters * 2 * rows * r + (rows > wide ? rows : wide) * r + r * r;
    return mem.params + mem.activations +
           (lo->n_params * 4 /* params, grads, m, v */ + adapter_acts) * sizeof(float);
}

dl_status lora_finetune(const lora_config *cfg, const lora_data *d, const float *base, dl_gpt *m,
                        const lora_method *meth, dl_lora *lo, lora_outcome *out) {
    memset(out, 0, sizeof *out);
    DL_TRY(dl_gpt_attach_lora(m, NULL, false));
    DL_TRY(dl_gpt_params_from_host(m, base));
    if (!meth->full) {
        dl_lora_config lc = {.rank = meth->rank, .alpha = 2.0f * (float)meth->rank,
                             .targets = meth->targets};
        dl_rng init_rng;
        dl_rng_seed(&init_rng, cfg->seed + 7);
        DL_TRY(dl_lora_create(lo, m, &lc, &init_rng));
        dl_status s = dl_gpt_attach_lora(m, lo, true);
        if (s != DL_OK) return dl_lora_free(lo), s;
    }
    lora_stepper st;
    int *x = NULL, *y = NULL;
    double *step_s = NULL;
    dl_status s = lora_stepper_init(&st, m, meth->full ? NULL : lo);
    if (s == DL_OK) s = dl_alloc((void **)&x, (size_t)m->max_B * m->max_T * sizeof(int));
    if (s == DL_OK) s = dl_alloc((void **)&y, (size_t)m->max_B * m->max_T * sizeof(int));
    if (s == DL_OK) s = dl_alloc((void **)&step_s, (size_t)cfg->steps * sizeof(double));
    if (s != DL_OK) goto done;
    st.x = x, st.y = y;

    float peak = meth->full ? cfg->full_lr : cfg->lora_lr;
    dl_lr_schedule sched = dl_lr_cosine(peak, peak / 10, cfg->steps / 10 + 1, cfg->steps + 1);
    dl_rng data_rng; /* the same batches for every method */
    dl_rng_seed(&data_rng, cfg->seed + 1);
    long tail_from = cfg->steps - (cfg->steps + 9) / 10;
    double tail_sum = 0;
    dlb_progress prog;
    dlb_progress_start(&prog, meth->label, cfg->steps);
    for (long i = 0; i < cfg->steps && s == DL_OK; i++) {
        s = dl_text_sample_batch(d->new_train, d->new_train_len, m->max_B, m->max_T, &data_rng, x, y);
        st.lr = dl_lr_at(&sched, i);
        double t0 = dlb_now();
        if (s == DL_OK) s = lora_stepper_step(&st);
        if (s == DL_OK && m->ops->sync) s = m->ops->sync();
        step_s[i] = dlb_now() - t0;
        if (i >= tail_from) tail_sum += st.loss;
        dlb_progress_update(&prog, i + 1);
    }
    dlb_progress_end(&prog);
    if (s != DL_OK) goto done;
    out->train_loss = tail_sum / (double)(cfg->steps - tail_from);
    dlb_stats_compute(step_s, (int)cfg->steps, &out->step_s);
    s = lora_val_loss(m, d->new_val, d->new_val_len, cfg->val_batches, &out->val_new);
    if (s == DL_OK)
        s = lora_val_loss(m, d->base.val, d->base.val_len, cfg->val_batches, &out->val_old);
    if (s != DL_OK) goto done;

    out->trainable_params = st.n;
    out->optimizer_bytes = 2 * st.n * sizeof(float);
    if (meth->full) {
        dl_mem_report mem = dl_gpt_memory(m);
        out->state_bytes = mem.params + mem.grads + out->optimizer_bytes + mem.activations;
        char path[1024];
        struct stat sb;
        snprintf(path, sizeof path, "%s/full_ft.ckpt", cfg->out_dir);
        s = lora_save_gpt(m, path);
        if (s == DL_OK && stat(path, &sb) != 0) s = DL_FAIL(DL_ERR_IO, "cannot stat %s", path);
        if (s == DL_OK) out->file_bytes = (size_t)sb.st_size;
    } else {
        out->state_bytes = lora_state_bytes(m, lo);
        out->file_bytes = dl_lora_file_bytes(lo);
    }

done:
    lora_stepper_free(&st);
    dl_free(x), dl_free(y), dl_free(step_s);
    if (s != DL_OK && !meth->full) dl_gpt_attach_lora(m, NULL, false), dl_lora_free(lo);
    return s;
}
