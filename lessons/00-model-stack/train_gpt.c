/* train_gpt.c — lesson 0, part 3: a character-level GPT on the fortunes corpus.
 *
 * The baseline first: a unigram model (each character's frequency in the training text,
 * add-one smoothed) scored on the validation text, in nats per character; a model that uses
 * context must get well below it. Then AdamW with warm-up and a cosine schedule (weight decay
 * on the matrices and embeddings only, gradients clipped to norm 1), validation on a fixed
 * set of windows every so often, a progress line, curves and a plot, the memory of each
 * component, a few samples (printed and saved as gpt_samples.txt), and a checkpoint gpt.ckpt.
 * On --device cuda the model, AdamW's m and v live on the GPU: the clip runs there too
 * (dl_clip_grad_norm_on picks by the model's device), batches are drawn on the host and
 * copied in by the forward, samples copy one row of logits back per token, and the
 * checkpoint is written from a host copy of the parameters.
 * Left out: resuming the GPT from its checkpoint, evaluation on the whole validation text.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/checkpoint.h"
#include "dlab/data.h"
#include "dlab/dlab.h"
#include "dlab/gpt.h"
#include "dlab/optim.h"
#include "stack_lesson.h"

/* Steps of the default run: ~4 minutes on 2 cores. One 16×128 step costs ~0.46 s of CPU
 * time (about 9 000 tokens/s on two idle Zen 5 cores); on a shared, loaded machine the
 * 1000 steps took 6 minutes (6 000–9 500 tokens/s). */
#define GPT_DEFAULT_STEPS 1000
#define GPT_MAX_EVALS 64

/* Cross-entropy of the validation text under the training text's character frequencies
 * (add-one smoothed, so a character unseen in training costs a finite amount). */
static double unigram_loss(const dl_text_corpus *c) {
    double *count = calloc((size_t)c->vocab_size, sizeof(double)), total = 0, loss = 0;
    if (!count) return NAN;
    for (size_t i = 0; i < c->train_len; i++) count[c->train[i]] += 1;
    for (int v = 0; v < c->vocab_size; v++) count[v] += 1, total += count[v];
    for (size_t i = 0; i < c->val_len; i++) loss -= log(count[c->val[i]] / total);
    free(count);
    return loss / (double)c->val_len;
}

/* Mean loss over the same `batches` validation windows every time (a fixed seed). */
static dl_status val_loss(dl_gpt *m, const dl_text_corpus *c, int batches, int *x, int *y, double *out) {
    dl_rng r;
    dl_rng_seed(&r, 0x5eed);
    double sum = 0;
    for (int i = 0; i < batches; i++) {
        float loss;
        DL_TRY(dl_text_sample_batch(c->val, c->val_len, m->max_B, m->max_T, &r, x, y));
        DL_TRY(dl_gpt_forward(m, x, y, m->max_B, m->max_T, &loss));
        sum += loss;
    }
    *out = sum / batches;
    return DL_OK;
}

/* Written from a host copy of the parameters (the model may live on a GPU). */
static dl_status save_checkpoint(const dl_gpt *m, const char *path, long step) {
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
    dl_ckpt_writer_add_u64(w, "step", (uint64_t)step);
    s = dl_ckpt_writer_commit(w);
    dl_free(host);
    return s;
}

/* Sample `n` fortunes-to-be (each starts after a separator, as a fortune does), print them
 * and write them to <run dir>/gpt_samples.txt; the separator shows as a line "%". */
static dl_status write_samples(dl_gpt *m, const dl_text_corpus *c, dlb_run *run, uint64_t seed, int n,
                               int len) {
    int *toks = malloc((size_t)(len + 1) * sizeof(int));
    char path[1024];
    snprintf(path, sizeof path, "%s/gpt_samples.txt", dlb_run_dir(run));
    FILE *f = fopen(path, "w");
    if (!toks || !f) {
        free(toks);
        if (f) fclose(f);
        return DL_FAIL(DL_ERR_IO, "cannot write %s", path);
    }
    dl_rng r;
    dl_rng_seed(&r, seed);
    dl_status s = DL_OK;
    for (int k = 0; k < n && s == DL_OK; k++) {
        int prompt = c->separator_id;
        s = dl_gpt_generate(m, &prompt, 1, len, 0.8f, &r, toks);
        printf("--- sample %d (temperature 0.8)\n", k + 1);
        fprintf(f, "--- sample %d (temperature 0.8)\n", k + 1);
        for (int i = 1; i <= len && s == DL_OK; i++) {
            const char *sep = "\n%\n";
            if (toks[i] == c->separator_id) fputs(sep, stdout), fputs(sep, f);
            else putchar(c->id_to_byte[toks[i]]), fputc(c->id_to_byte[toks[i]], f);
        }
        printf("\n"), fprintf(f, "\n");
    }
    if (fclose(f) != 0 && s == DL_OK) s = DL_FAIL(DL_ERR_IO, "cannot write %s", path);
    if (s == DL_OK) printf("samples: %s\n", path);
    free(toks);
    return s;
}

int stack_train_gpt(dlb_run *run, const stack_config *cfg) {
    // ----------------------------------------------------------------------------- setup
    dl_text_corpus corpus = {0};
    dl_fortunes_options fo = {.val_fraction = 0.1, .seed = cfg->seed};
    dl_gpt m = {0};
    float *mom = NULL, *var = NULL;
    int *x = NULL, *y = NULL;
    dlb_table *curve = NULL;
    dl_status s = dl_fortunes_load(&corpus, &fo);
    if (s != DL_OK) goto done;
    double unigram = unigram_loss(&corpus);
    printf("\nfortunes: %zu training and %zu validation characters (%d + %d fortunes), vocabulary %d\n"
           "unigram baseline on validation: %.4f nats/char\n",
           corpus.train_len, corpus.val_len, corpus.train_fortunes, corpus.val_fortunes,
           corpus.vocab_size, unigram);
    dlb_run_metric(run, "gpt_unigram_loss", unigram, "nats/char");

    /* --quick: a 2-layer, 64-wide model for a few seconds; it only has to beat the unigram. */
    dl_gpt_config gc = dl_gpt_default_config(corpus.vocab_size);
    int B = 16, T = 128, val_batches = 8;
    long steps = cfg->gpt_steps > 0 ? cfg->gpt_steps : GPT_DEFAULT_STEPS;
    if (cfg->quick) {
        gc.n_layer = 2, gc.n_head = 2, gc.n_embd = 64, gc.block_size = 64;
        B = 8, T = 64, val_batches = 4, steps = cfg->gpt_steps > 0 ? cfg->gpt_steps : 150;
    }
    /* lr 3e-3 beat 1e-3 on the default run: val 1.92 vs 2.17 nats/char after 1000 steps */
    const long eval_every = steps / 10 > 0 ? steps / 10 : 1;
    s = dl_gpt_create(&m, &gc, B, T, stack_variants(cfg));
    dl_rng rng;
    dl_rng_seed(&rng, cfg->seed);
    if (s == DL_OK) s = dl_gpt_init(&m, &rng);
    const dl_variant *opt = NULL;
    if (s == DL_OK) s = dl_backend_variant(m.ops, "optim", &opt);
    /* AdamW's moments live where the parameters do. */
    if (s == DL_OK) s = dl_backend_alloc_zeroed(m.ops, (void **)&mom, m.n_params * sizeof(float));
    if (s == DL_OK) s = dl_backend_alloc_zeroed(m.ops, (void **)&var, m.n_params * sizeof(float));
    if (s == DL_OK) s = dl_alloc((void **)&x, (size_t)B * T * sizeof(int));
    if (s == DL_OK) s = dl_alloc((void **)&y, (size_t)B * T * sizeof(int));
    if (s != DL_OK) goto done;

    dl_mem_report mem = dl_gpt_memory(&m);
    mem.optimizer = 2 * m.n_params * sizeof(float); /* AdamW's m and v */
    printf("GPT %d layers × %d heads, width %d, context %d: %zu parameters; memory: params %zu B, "
           "grads %zu B, AdamW state %zu B, activations %zu B (batch %d×%d)\n",
           gc.n_layer, gc.n_head, gc.n_embd, gc.block_size, m.n_params, mem.params, mem.grads,
           mem.optimizer, mem.activations, B, T);
    dlb_run_metric(run, "gpt_params", (double)m.n_params, "count");
    dlb_run_metric(run, "gpt_mem_params_bytes", (double)mem.params, "bytes");
    dlb_run_metric(run, "gpt_mem_grads_bytes", (double)mem.grads, "bytes");
    dlb_run_metric(run, "gpt_mem_optimizer_bytes", (double)mem.optimizer, "bytes");
    dlb_run_metric(run, "gpt_mem_activations_bytes", (double)mem.activations, "bytes");
    printf("GPT on %s: embedding %s, layernorm %s, linear %s, attention %s, gelu %s, residual %s, "
           "softmax_xent %s, optim %s\n",
           m.ops->name, m.embedding->name, m.layernorm->name, m.linear->name, m.attention->name,
           m.gelu->name, m.residual->name, m.xent->name, opt->name);

    dl_gpt_tensor tens[DL_GPT_N_TENSORS];
    dl_gpt_tensors(&gc, tens);
    dl_lr_schedule lr = dl_lr_cosine(3e-3f, 3e-4f, steps / 20 + 1, steps + 1);
    curve = dlb_table_new("gpt_curve", "step", "train_loss", "val_loss", "tokens_per_s", NULL);
    double ev_step[GPT_MAX_EVALS], ev_train[GPT_MAX_EVALS], ev_val[GPT_MAX_EVALS];
    int n_evals = 0;
    double best_rate = 0, last_val = NAN, train_seconds = 0, loss_sum = 0;
    long loss_count = 0;

    // ---------------------------------------------------------------------- training loop
    printf("GPT training: AdamW, lr 3e-3 (warm-up, cosine to 3e-4), weight decay 0.1 on matrices, "
           "%ld steps of %d×%d tokens, %d threads\n", steps, B, T, cfg->threads);
    dlb_progress prog;
    dlb_progress_start(&prog, "gpt", steps);
    double t0 = dlb_now();
    long step = 0;
    for (; step < steps && s == DL_OK; step++) {
        float loss = 0;
        double norm;
        s = dl_text_sample_batch(corpus.train, corpus.train_len, B, T, &rng, x, y);
        if (s == DL_OK) s = dl_gpt_forward(&m, x, y, B, T, &loss);
        if (s == DL_OK) s = dl_gpt_backward(&m);
        dl_grad_span span = {m.grads, m.n_params};
        if (s == DL_OK) s = dl_clip_grad_norm_on(m.ops->device, &span, 1, 1.0, &norm);
        for (int i = 0; i < DL_GPT_N_TENSORS && s == DL_OK; i++) {
            dl_adamw_args a = {.n = tens[i].size, .param = m.p[i], .grad = m.g[i], .m = mom + tens[i].offset,
                               .v = var + tens[i].offset, .lr = dl_lr_at(&lr, step), .beta1 = 0.9f,
                               .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = tens[i].is_matrix ? 0.1f : 0.0f,
                               .step = step + 1};
            s = dl_adamw_run(opt, &a);
        }
        loss_sum += loss, loss_count++;
        dlb_progress_update(&prog, step + 1);
        if (s != DL_OK || ((step + 1) % eval_every && step + 1 != steps)) continue;
        double seconds = dlb_now() - t0, rate = (double)loss_count * B * T / seconds;
        train_seconds += seconds;
        if (rate > best_rate) best_rate = rate;
        s = val_loss(&m, &corpus, val_batches, x, y, &last_val);
        if (s != DL_OK) break;
        if (n_evals < GPT_MAX_EVALS)
            ev_step[n_evals] = step + 1, ev_train[n_evals] = loss_sum / loss_count, ev_val[n_evals] = last_val, n_evals++;
        dlb_table_int(curve, step + 1);
        dlb_table_numf(curve, loss_sum / loss_count, "%.4f");
        dlb_table_numf(curve, last_val, "%.4f");
        dlb_table_numf(curve, rate, "%.0f");
        fprintf(stderr, "\ngpt step %ld/%ld: train %.4f, val %.4f nats/char, %.0f tokens/s, ETA %.0f s\n",
                step + 1, steps, loss_sum / loss_count, last_val, rate, (steps - step - 1) * B * T / rate);
        loss_sum = 0, loss_count = 0;
        t0 = dlb_now(); /* validation time is not training time */
    }
    dlb_progress_end(&prog);
    if (s != DL_OK) goto done;

    // ------------------------------------------------------------------------- results
    dlb_run_table(run, curve);
    dlb_plot *p = dlb_plot_new("gpt_curves", "character-level GPT on fortunes", "step", "loss (nats/char)");
    dlb_plot_extra(p, "set xrange [0:*]\nset yrange [0:*]");
    dlb_plot_series(p, "train loss", ev_step, ev_train, n_evals);
    dlb_plot_series(p, "validation loss", ev_step, ev_val, n_evals);
    dlb_plot_hline(p, "unigram baseline", unigram);
    dlb_run_plot(run, p);
    dlb_plot_free(p);
    printf("GPT validation loss %.4f nats/char after %ld steps (unigram %.4f), %.1f s of training, "
           "best %.0f tokens/s\n", last_val, steps, unigram, train_seconds, best_rate);
    dlb_run_metric(run, "gpt_val_loss", last_val, "nats/char");
    dlb_run_metric(run, "gpt_train_tokens_per_s", best_rate, "tokens/s");
    s = write_samples(&m, &corpus, run, cfg->seed + 1, 3, cfg->quick ? 120 : 300);
    char path[1024];
    snprintf(path, sizeof path, "%s/gpt.ckpt", dlb_run_dir(run));
    if (s == DL_OK) s = save_checkpoint(&m, path, step);
    if (s == DL_OK) printf("checkpoint: %s\n", path);

done:
    if (s != DL_OK) fprintf(stderr, "gpt: %s\n", dl_last_error());
    dlb_table_free(curve);
    if (m.ops) m.ops->free(mom), m.ops->free(var);
    dl_free(x), dl_free(y);
    dl_gpt_free(&m);
    dl_text_corpus_free(&corpus);
    return s == DL_OK ? 0 : -1;
}
