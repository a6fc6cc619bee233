/* experiment.c — lesson 3's experiment: full fine-tuning against LoRA, and what LoRA saves.
 *
 * From one base model, on the same batches: full fine-tuning, LoRA on q,v over a sweep of
 * ranks, and LoRA on "attn" and "all" at one rank. For each: trainable parameters, AdamW
 * state, file bytes, training-state memory, step time, validation loss on the new set and
 * on the old one (forgetting). Then, for the chosen adapter (--rank/--targets, default r = 4
 * on q,v): its step against a full step, interleaved (dlb_compare); the merge check (logits
 * of the merged model against the attached adapter's) and merged inference against the
 * base's; and adapter switching (two saved adapters loaded in turn onto one base).
 * Left out: tuning the learning rate per method and per rank (the paper tunes neither per
 * rank), several seeds per point.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/checkpoint.h"
#include "lora_lesson.h"

#define LORA_MAX_METHODS 16

double lora_max_rel_err(const float *a, const float *b, size_t n) {
    double max_diff = 0, max_ref = 0;
    for (size_t i = 0; i < n; i++) {
        double diff = fabs((double)a[i] - (double)b[i]), ref = fabs((double)a[i]);
        if (diff > max_diff || isnan(diff)) max_diff = isnan(diff) ? INFINITY : diff;
        if (ref > max_ref) max_ref = ref;
    }
    if (max_diff == 0) return 0;
    return max_ref > 0 ? max_diff / max_ref : INFINITY;
}

/* "q,v", "q,k,v,attn_proj", ... */
static void targets_text(unsigned mask, char *buf, size_t len) {
    buf[0] = '\0';
    for (int t = 0; t < DL_LORA_N_TARGETS; t++)
        if (mask & (1u << t))
            snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? "," : "",
                     dl_lora_target_name((dl_lora_target)t));
}

typedef struct forward_ctx {
    dl_gpt *m;
    const int *x;
    dl_status status;
} forward_ctx;

static void forward_fn(void *p) {
    forward_ctx *f = p;
    if (f->status == DL_OK) f->status = dl_gpt_forward(f->m, f->x, NULL, f->m->max_B, f->m->max_T, NULL);
    if (f->status == DL_OK && f->m->ops->sync) f->status = f->m->ops->sync();
}

static dlb_opts timing_opts(const lora_config *cfg, double max_time_s) {
    dlb_opts o = dlb_opts_default();
    if (cfg->quick) o.warmup_s = 0.01, o.min_samples = 5, o.max_samples = 10, o.max_time_s = 0.2;
    else o.min_samples = 15, o.max_samples = 60, o.max_time_s = max_time_s;
    return o;
}

static dl_status compare_result(int rc, dl_status a, dl_status b) {
    if (a != DL_OK) return a;
    if (b != DL_OK) return b;
    if (rc != 0) return DL_FAIL(DL_ERR_ARG, "timing failed: %s", dlb_error());
    return DL_OK;
}

/* What the chosen adapter's checks measured. */
typedef struct subject_checks {
    dlb_ab step;            /* a: LoRA step, b: full step */
    dlb_ab attached_fwd;    /* a: base + attached adapter, b: base */
    dlb_ab merged_fwd;      /* a: merged, b: base */
    double merge_rel_err, unmerge_rel_err;
} subject_checks;

/* On m with lo attached and trained; m2 a second model of the same shape. */
static dl_status check_subject(const lora_config *cfg, const lora_data *d, const float *base,
                               dl_gpt *m, dl_gpt *m2, dl_lora *lo, subject_checks *out) {
    size_t bt = (size_t)m->max_B * m->max_T, n_logits = bt * (size_t)m->cfg.vocab;
    int *x = NULL, *y = NULL;
    float *before = NULL, *after = NULL;
    lora_stepper ls = {0}, fs = {0};
    dl_status s = dl_alloc((void **)&x, bt * sizeof(int));
    if (s == DL_OK) s = dl_alloc((void **)&y, bt * sizeof(int));
    if (s == DL_OK) s = dl_alloc((void **)&before, n_logits * sizeof(float));
    if (s == DL_OK) s = dl_alloc((void **)&after, n_logits * sizeof(float));
    dl_rng r;
    dl_rng_seed(&r, cfg->seed + 3);
    if (s == DL_OK) s = dl_text_sample_batch(d->new_train, d->new_train_len, m->max_B, m->max_T, &r, x, y);
    if (s == DL_OK) s = dl_gpt_params_from_host(m2, base);
    if (s != DL_OK) goto done;

    /* 1. one LoRA step against one full step, interleaved, on the same batch */
    s = lora_stepper_init(&ls, m, lo);
    if (s == DL_OK) s = lora_stepper_init(&fs, m2, NULL);
    if (s != DL_OK) goto done;
    ls.x = fs.x = x, ls.y = fs.y = y;
    ls.lr = fs.lr = 1e-5f; /* the values do not matter here, only the work */
    dlb_opts o = timing_opts(cfg, 4.0);
    int rc = dlb_compare(lora_stepper_step_fn, &ls, lora_stepper_step_fn, &fs, &o, &out->step);
    s = compare_result(rc, ls.status, fs.status);
    if (s == DL_OK) s = dl_gpt_params_from_host(m2, base); /* the full steps moved it */
    if (s != DL_OK) goto done;

    /* 2. inference: base + attached adapter vs base, then the merge check, merged vs base */
    forward_ctx fa = {m, x, DL_OK}, fb = {m2, x, DL_OK};
    o = timing_opts(cfg, 2.0);
    rc = dlb_compare(forward_fn, &fa, forward_fn, &fb, &o, &out->attached_fwd);
    s = compare_result(rc, fa.status, fb.status);
    if (s == DL_OK) s = dl_gpt_forward(m, x, NULL, m->max_B, m->max_T, NULL);
    if (s == DL_OK) s = m->ops->to_host(before, m->a.logits, n_logits * sizeof(float));
    if (s == DL_OK) s = dl_lora_merge(lo, m);
    if (s == DL_OK) s = dl_gpt_forward(m, x, NULL, m->max_B, m->max_T, NULL);
    if (s == DL_OK) s = m->ops->to_host(after, m->a.logits, n_logits * sizeof(float));
    if (s != DL_OK) goto done;
    out->merge_rel_err = lora_max_rel_err(before, after, n_logits);
    rc = dlb_compare(forward_fn, &fa, forward_fn, &fb, &o, &out->merged_fwd);
    s = compare_result(rc, fa.status, fb.status);
    /* unmerge: the attached adapter again, within fp32 rounding of before */
    if (s == DL_OK) s = dl_lora_unmerge(lo, m);
    if (s == DL_OK) s = dl_gpt_forward(m, x, NULL, m->max_B, m->max_T, NULL);
    if (s == DL_OK) s = m->ops->to_host(after, m->a.logits, n_logits * sizeof(float));
    if (s == DL_OK) out->unmerge_rel_err = lora_max_rel_err(before, after, n_logits);

done:
    lora_stepper_free(&ls), lora_stepper_free(&fs);
    dl_free(x), dl_free(y), dl_free(before), dl_free(after);
    return s;
}

/* The methods of the experiment, in table order; *subject the index of cfg's adapter. */
static int build_methods(const lora_config *cfg, lora_method *out, int *subject) {
    unsigned qv = (1u << DL_LORA_Q) | (1u << DL_LORA_V), attn = 0, all = 0;
    dl_lora_parse_targets("attn", &attn);
    dl_lora_parse_targets("all", &all);
    int n = 0;
    out[n++] = (lora_method){.label = "full fine-tune", .full = true};
    for (int i = 0; i < cfg->n_ranks && n < LORA_MAX_METHODS - 3; i++) {
        out[n] = (lora_method){.rank = cfg->ranks[i], .targets = qv};
        snprintf(out[n].label, sizeof out[n].label, "LoRA r=%d q,v", cfg->ranks[i]);
        n++;
    }
    out[n] = (lora_method){.rank = cfg->group_rank, .targets = attn};
    snprintf(out[n].label, sizeof out[n].label, "LoRA r=%d attn", cfg->group_rank), n++;
    out[n] = (lora_method){.rank = cfg->group_rank, .targets = all};
    snprintf(out[n].label, sizeof out[n].label, "LoRA r=%d all", cfg->group_rank), n++;
    *subject = -1;
    for (int i = 1; i < n; i++)
        if (out[i].rank == cfg->rank && out[i].targets == cfg->targets) *subject = i;
    if (*subject < 0) {
        char t[96];
        targets_text(cfg->targets, t, sizeof t);
        out[n] = (lora_method){.rank = cfg->rank, .targets = cfg->targets};
        snprintf(out[n].label, sizeof out[n].label, "LoRA r=%d %.30s", cfg->rank, t);
        *subject = n++;
    }
    return n;
}

static void adapter_path(const lora_config *cfg, const lora_method *meth, char *buf, size_t len) {
    char t[96];
    unsigned groups[3] = {0, 0, 0};
    const char *group_names[3] = {"qv", "attn", "all"};
    targets_text(meth->targets, t, sizeof t);
    for (char *c = t; *c; c++)
        if (*c == ',') *c = '+';
    for (int g = 0; g < 3; g++) {
        dl_lora_parse_targets(group_names[g], &groups[g]);
        if (meth->targets == groups[g]) snprintf(t, sizeof t, "%s", group_names[g]);
    }
    snprintf(buf, len, "%s/adapter_r%d_%s.dlora", cfg->out_dir, meth->rank, t);
}

/* Load each saved adapter onto m in turn (the base stays loaded) and recompute its loss. */
static dl_status switch_adapters(const lora_config *cfg, const lora_data *d, const float *base, dl_gpt *m,
                                 const lora_method *meths, const int *which, const double *trained_val,
                                 dlb_run *run) {
    DL_TRY(dl_gpt_attach_lora(m, NULL, false));
    DL_TRY(dl_gpt_params_from_host(m, base)); /* once: the merge check had changed it */
    dlb_table *t = dlb_table_new("lora_adapter_switch", "adapter", "file", "file_bytes",
                                 "val_loss_new_after_training", "val_loss_new_reloaded", "identical", NULL);
    dl_status s = DL_OK;
    for (int k = 0; k < 2 && s == DL_OK; k++) {
        const lora_method *meth = &meths[which[k]];
        char path[1024];
        adapter_path(cfg, meth, path, sizeof path);
        dl_lora lo = {0};
        dl_lora_config lc = {.rank = meth->rank, .alpha = 2.0f * (float)meth->rank, .targets = meth->targets};
        dl_rng rng;
        dl_rng_seed(&rng, 1); /* A is overwritten by the load */
        double t0 = dlb_now(), val = NAN;
        s = dl_lora_create(&lo, m, &lc, &rng);
        if (s == DL_OK) s = dl_lora_load(&lo, m, path);
        if (s == DL_OK) s = dl_gpt_attach_lora(m, &lo, true);
        double load_s = dlb_now() - t0;
        if (s == DL_OK) s = lora_val_loss(m, d->new_val, d->new_val_len, cfg->val_batches, &val);
        if (s == DL_OK) {
            printf("  loaded %s onto the same base in %.2f ms: val loss %.4f (after training %.4f)\n", path,
                   1e3 * load_s, val, trained_val[k]);
            dlb_table_str(t, meth->label);
            dlb_table_str(t, strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
            dlb_table_int(t, (long long)dl_lora_file_bytes(&lo));
            dlb_table_numf(t, trained_val[k], "%.6f");
            dlb_table_numf(t, val, "%.6f");
            dlb_table_str(t, val == trained_val[k] ? "yes" : "no");
        }
        dl_gpt_attach_lora(m, NULL, false);
        dl_lora_free(&lo);
    }
    if (s == DL_OK) dlb_run_table(run, t);
    dlb_table_free(t);
    return s;
}

dl_status lora_experiment(dlb_run *run, const lora_config *cfg_in) {
    lora_config c = *cfg_in;
    const lora_config *cfg = &c;
    lora_data d;
    float *base = NULL;
    dl_gpt m = {0}, m2 = {0};
    lora_method meths[LORA_MAX_METHODS];
    lora_outcome res[LORA_MAX_METHODS];
    subject_checks chk = {0};
    dl_status s = lora_data_load(&d, cfg->seed);
    if (s != DL_OK) return s;
    c.model.vocab = d.base.vocab_size;

    // -------------------------------------------------------------------- data and base
    printf("old set (the base's): %s, %s, %s — %zu training / %zu validation characters\n",
           lora_base_categories[0], lora_base_categories[1], lora_base_categories[2], d.base.train_len,
           d.base.val_len);
    printf("new set (fine-tuning): %s, %s, %s — %zu training / %zu validation characters "
           "(%d + %d fortunes), %zu bytes outside the base's vocabulary of %d dropped\n",
           lora_new_categories[0], lora_new_categories[1], lora_new_categories[2], d.new_train_len,
           d.new_val_len, d.new_train_fortunes, d.new_val_fortunes, d.dropped_bytes, d.base.vocab_size);
    dlb_run_param(run, "base_categories", "%s,%s,%s", lora_base_categories[0], lora_base_categories[1],
                  lora_base_categories[2]);
    dlb_run_param(run, "new_categories", "%s,%s,%s", lora_new_categories[0], lora_new_categories[1],
                  lora_new_categories[2]);
    char origin[1400];
    s = lora_base_prepare(cfg, &d, &base, origin, sizeof origin);
    if (s != DL_OK) goto done;
    printf("base model: GPT %d layers × %d heads, width %d, context %d, vocabulary %d — %s\n",
           cfg->model.n_layer, cfg->model.n_head, cfg->model.n_embd, cfg->model.block_size,
           cfg->model.vocab, origin);
    dlb_run_param(run, "base_model", "%s", origin);
    s = dl_gpt_create(&m, &cfg->model, cfg->B, cfg->T, cfg->variants);
    if (s == DL_OK) s = dl_gpt_create(&m2, &cfg->model, cfg->B, cfg->T, cfg->variants);
    if (s == DL_OK) s = dl_gpt_params_from_host(&m, base);
    double base_new = NAN, base_old = NAN;
    if (s == DL_OK) s = lora_val_loss(&m, d.new_val, d.new_val_len, cfg->val_batches, &base_new);
    if (s == DL_OK) s = lora_val_loss(&m, d.base.val, d.base.val_len, cfg->val_batches, &base_old);
    if (s != DL_OK) goto done;
    printf("base before fine-tuning: val loss %.4f on the new set, %.4f on the old set (nats/char, "
           "%d windows of %d×%d)\n\n",
           base_new, base_old, cfg->val_batches, cfg->B, cfg->T);
    dlb_run_metric(run, "base_val_loss_new", base_new, "nats/char");
    dlb_run_metric(run, "base_val_loss_old", base_old, "nats/char");

    // ------------------------------------------------------------------------- the runs
    int subject, n = build_methods(cfg, meths, &subject);
    int partner = n - 1; /* the "all" run, or "attn" when the subject is "all" */
    for (int i = 1; i < n; i++)
        if (strstr(meths[i].label, " all") && i != subject) partner = i;
    if (partner == subject) partner = subject - 1;
    printf("fine-tuning: %ld steps of %d×%d tokens per method, AdamW (β 0.9/0.95, no weight decay), "
           "warm-up then cosine to lr/10, clip 1; lr %.0e full, %.0e LoRA (alpha = 2r: scale 2); "
           "the same batches for all\n",
           cfg->steps, cfg->B, cfg->T, cfg->full_lr, cfg->lora_lr);
    double switch_val[2] = {NAN, NAN};
    for (int i = 0; i < n; i++) {
        dl_lora lo = {0};
        s = lora_finetune(cfg, &d, base, &m, &meths[i], &lo, &res[i]);
        if (s != DL_OK) goto done;
        printf("  %-18s %9zu trainable  step %7.2f ms  val new %.4f  old %.4f  (train %.4f)\n", meths[i].label,
               res[i].trainable_params, 1e3 * res[i].step_s.median, res[i].val_new, res[i].val_old,
               res[i].train_loss);
        if (i == subject || i == partner) {
            char path[1024];
            adapter_path(cfg, &meths[i], path, sizeof path);
            s = dl_lora_save(&lo, path);
            switch_val[i == subject ? 0 : 1] = res[i].val_new;
        }
        if (s == DL_OK && i == subject) s = check_subject(cfg, &d, base, &m, &m2, &lo, &chk);
        dl_gpt_attach_lora(&m, NULL, false);
        if (!meths[i].full) dl_lora_free(&lo);
        if (s != DL_OK) goto done;
    }

    // ------------------------------------------------------------------------- tables
    dlb_table *t = dlb_table_new("lora_runs", "method", "rank", "targets", "trainable_params",
                                 "optimizer_bytes", "file_bytes", "train_state_bytes", "step_ms",
                                 "step_ms_p10", "step_ms_p90", "train_loss", "val_loss_new",
                                 "val_loss_old", "forgetting", NULL);
    dlb_table *pt = dlb_table_new("lora_paper_table", "method", "trainable_params", "file_mb",
                                  "val_loss_new", "val_loss_old", "forgetting", "step_ms", NULL);
    dlb_table_str(pt, "base (no fine-tuning)"), dlb_table_int(pt, 0), dlb_table_str(pt, "-");
    dlb_table_numf(pt, base_new, "%.4f"), dlb_table_numf(pt, base_old, "%.4f"), dlb_table_numf(pt, 0, "%.4f");
    dlb_table_str(pt, "-");
    for (int i = 0; i < n; i++) {
        char tt[96];
        if (meths[i].full) snprintf(tt, sizeof tt, "every weight");
        else targets_text(meths[i].targets, tt, sizeof tt);
        lora_outcome *o = &res[i];
        dlb_table_str(t, meths[i].label), dlb_table_int(t, meths[i].rank), dlb_table_str(t, tt);
        dlb_table_int(t, (long long)o->trainable_params), dlb_table_int(t, (long long)o->optimizer_bytes);
        dlb_table_int(t, (long long)o->file_bytes), dlb_table_int(t, (long long)o->state_bytes);
        dlb_table_numf(t, 1e3 * o->step_s.median, "%.2f"), dlb_table_numf(t, 1e3 * o->step_s.p10, "%.2f");
        dlb_table_numf(t, 1e3 * o->step_s.p90, "%.2f"), dlb_table_numf(t, o->train_loss, "%.4f");
        dlb_table_numf(t, o->val_new, "%.4f"), dlb_table_numf(t, o->val_old, "%.4f");
        dlb_table_numf(t, o->val_old - base_old, "%+.4f");
        dlb_table_str(pt, meths[i].label), dlb_table_int(pt, (long long)o->trainable_params);
        dlb_table_numf(pt, o->file_bytes / 1e6, "%.3f"), dlb_table_numf(pt, o->val_new, "%.4f");
        dlb_table_numf(pt, o->val_old, "%.4f"), dlb_table_numf(pt, o->val_old - base_old, "%+.4f");
        dlb_table_numf(pt, 1e3 * o->step_s.median, "%.2f");
    }
    printf("\nall runs (step times: median and p10/p90 over every step of the run; forgetting = old-set "
           "loss after − before):\n");
    dlb_run_table(run, t);
    printf("\nin the shape of the paper's table (file: adapter file, or the full checkpoint for the full "
           "fine-tune):\n");
    dlb_run_table(run, pt);
    dlb_table_free(t), dlb_table_free(pt);

    const lora_method *sm = &meths[subject];
    const lora_outcome *fo = &res[0];
    double speedup = 1.0 / chk.step.ratio.median;
    t = dlb_table_new("lora_step_compare", "a", "b", "a_ms", "b_ms", "ratio_a_over_b", "ratio_p10",
                      "ratio_p90", NULL);
    const char *rows[3][2] = {{sm->label, "full fine-tune step"},
                              {"forward, adapter attached", "forward, base"},
                              {"forward, merged", "forward, base"}};
    const dlb_ab *abs[3] = {&chk.step, &chk.attached_fwd, &chk.merged_fwd};
    for (int k = 0; k < 3; k++) {
        dlb_table_str(t, rows[k][0]), dlb_table_str(t, rows[k][1]);
        dlb_table_numf(t, 1e3 * abs[k]->a.time.median, "%.2f"), dlb_table_numf(t, 1e3 * abs[k]->b.time.median, "%.2f");
        dlb_table_numf(t, abs[k]->ratio.median, "%.3f"), dlb_table_numf(t, abs[k]->ratio.p10, "%.3f");
        dlb_table_numf(t, abs[k]->ratio.p90, "%.3f");
    }
    printf("\nside by side (interleaved A/B, the same batch of %d×%d):\n", cfg->B, cfg->T);
    dlb_run_table(run, t);
    dlb_table_free(t);
    printf("merge check (%s): logits of the merged model vs the attached adapter, max|Δ|/max|logit| = %.2e "
           "(target ≤ 1e-5); after unmerge %.2e\n",
           sm->label, chk.merge_rel_err, chk.unmerge_rel_err);

    printf("\nadapter switching: two adapters, one base, no reload of the base:\n");
    int which[2] = {subject, partner};
    s = switch_adapters(cfg, &d, base, &m, meths, which, switch_val, run);
    if (s != DL_OK) goto done;

    // -------------------------------------------------------------------------- plots
    double rk[LORA_MAX_METHODS], vn[LORA_MAX_METHODS], vo[LORA_MAX_METHODS], tp[LORA_MAX_METHODS],
        mb[LORA_MAX_METHODS];
    int nr = 0, head = -1;
    for (int i = 1; i < n; i++) {
        if (meths[i].targets != ((1u << DL_LORA_Q) | (1u << DL_LORA_V))) continue;
        if (meths[i].rank == 4) head = i;
        rk[nr] = meths[i].rank, vn[nr] = res[i].val_new, vo[nr] = res[i].val_old;
        tp[nr] = (double)res[i].trainable_params, mb[nr] = (double)res[i].state_bytes, nr++;
    }
    dlb_plot *p = dlb_plot_new("lora_val_loss_vs_rank", "LoRA on q,v: validation loss vs rank",
                               "rank r", "validation loss (nats/char)");
    dlb_plot_log(p, true, false);
    dlb_plot_extra(p, "set xrange [0.8:45]\nset key outside bottom");
    dlb_plot_series(p, "LoRA, new set", rk, vn, nr);
    dlb_plot_series(p, "LoRA, old set", rk, vo, nr);
    dlb_plot_hline(p, "full fine-tune, new set", fo->val_new);
    dlb_plot_hline(p, "full fine-tune, old set", fo->val_old);
    dlb_plot_hline(p, "base, new set", base_new);
    dlb_run_plot(run, p);
    dlb_plot_free(p);
    p = dlb_plot_new("lora_params_memory_vs_rank", "LoRA on q,v: what training holds",
                     "rank r", "count / bytes");
    dlb_plot_log(p, true, true);
    dlb_plot_extra(p, "set xrange [0.8:45]\nset key outside bottom");
    dlb_plot_series(p, "trainable parameters", rk, tp, nr);
    dlb_plot_series(p, "training-state bytes", rk, mb, nr);
    dlb_plot_hline(p, "full: trainable parameters", (double)fo->trainable_params);
    dlb_plot_hline(p, "full: training-state bytes", (double)fo->state_bytes);
    dlb_run_plot(run, p);
    dlb_plot_free(p);

    // ------------------------------------------------------------------------- metrics
    if (head < 0) head = subject;
    const lora_outcome *h = &res[head];
    dlb_run_metric(run, "lora_r4_trainable_params", (double)h->trainable_params, "count");
    dlb_run_metric(run, "full_ft_trainable_params", (double)fo->trainable_params, "count");
    dlb_run_metric(run, "lora_param_reduction_r4", (double)fo->trainable_params / h->trainable_params, "x");
    dlb_run_metric(run, "lora_r4_adapter_bytes", (double)h->file_bytes, "bytes");
    dlb_run_metric(run, "full_ckpt_bytes", (double)fo->file_bytes, "bytes");
    dlb_run_metric(run, "lora_adapter_reduction_r4", (double)fo->file_bytes / h->file_bytes, "x");
    dlb_run_metric(run, "lora_r4_val_loss", h->val_new, "nats/char");
    dlb_run_metric(run, "full_ft_val_loss", fo->val_new, "nats/char");
    dlb_run_metric(run, "lora_r4_val_loss_vs_full", h->val_new / fo->val_new, "ratio");
    dlb_run_metric(run, "lora_r4_forgetting", h->val_old - base_old, "nats/char");
    dlb_run_metric(run, "full_ft_forgetting", fo->val_old - base_old, "nats/char");
    dlb_run_metric(run, "lora_r4_train_state_bytes", (double)h->state_bytes, "bytes");
    dlb_run_metric(run, "full_ft_train_state_bytes", (double)fo->state_bytes, "bytes");
    dlb_run_metric(run, "merge_max_rel_err", chk.merge_rel_err, "ratio");
    dlb_run_metric(run, "lora_vs_full_step_speedup", speedup, "x");
    dlb_run_metric(run, "merged_vs_base_inference_ratio", chk.merged_fwd.ratio.median, "ratio");
    dlb_run_metric(run, "attached_vs_base_inference_ratio", chk.attached_fwd.ratio.median, "ratio");
    printf("\n%s: %zu trainable parameters vs %zu (%.0f× fewer), adapter %zu B vs checkpoint %zu B "
           "(%.0f× smaller);\nval loss %.4f vs full %.4f (ratio %.3f); forgetting %+.4f vs full %+.4f; "
           "step %.2f× the speed of a full step; merged inference %.3f× the base's time\n",
           meths[head].label, h->trainable_params, fo->trainable_params,
           (double)fo->trainable_params / h->trainable_params, h->file_bytes, fo->file_bytes,
           (double)fo->file_bytes / h->file_bytes, h->val_new, fo->val_new, h->val_new / fo->val_new,
           h->val_old - base_old, fo->val_old - base_old, speedup, chk.merged_fwd.ratio.median);

done:
    dl_gpt_free(&m), dl_gpt_free(&m2);
    dl_free(base);
    lora_data_free(&d);
    return s;
}

dl_status lora_evaluate_adapter(const lora_config *cfg_in, const char *path) {
    /* a file that is no checkpoint at all fails here, before any model is loaded */
    dl_ckpt_reader *r = NULL;
    DL_TRY(dl_ckpt_reader_open(&r, path, NULL));
    dl_ckpt_reader_close(r);
    lora_config c = *cfg_in;
    lora_data d;
    DL_TRY(lora_data_load(&d, c.seed));
    c.model.vocab = d.base.vocab_size;
    c.pretrain_steps = 0; /* evaluate against an existing base only */
    float *base = NULL;
    dl_gpt m = {0};
    dl_lora lo = {0};
    char origin[1400];
    double vn = NAN, vo = NAN;
    dl_lora_config lc = {.rank = c.rank, .alpha = 2.0f * (float)c.rank, .targets = c.targets};
    dl_rng rng;
    dl_rng_seed(&rng, 1);
    dl_status s = lora_base_prepare(&c, &d, &base, origin, sizeof origin);
    if (s == DL_OK) s = dl_gpt_create(&m, &c.model, c.B, c.T, c.variants);
    if (s == DL_OK) s = dl_gpt_params_from_host(&m, base);
    if (s == DL_OK) s = dl_lora_create(&lo, &m, &lc, &rng);
    if (s == DL_OK) s = dl_lora_load(&lo, &m, path);
    if (s == DL_OK) s = dl_gpt_attach_lora(&m, &lo, true);
    if (s == DL_OK) s = lora_val_loss(&m, d.new_val, d.new_val_len, c.val_batches, &vn);
    if (s == DL_OK) s = lora_val_loss(&m, d.base.val, d.base.val_len, c.val_batches, &vo);
    if (s == DL_OK)
        printf("adapter %s (r=%d) on base %s:\n  val loss %.4f on the new set, %.4f on the old set\n", path,
               c.rank, origin, vn, vo);
    if (m.ops) dl_gpt_attach_lora(&m, NULL, false);
    dl_lora_free(&lo);
    dl_gpt_free(&m);
    dl_free(base);
    lora_data_free(&d);
    return s;
}
