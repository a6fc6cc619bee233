/* experiment.c — lesson 4 from start to end:
 *   data and base model → (b) emergent features of the trained GPT (activation statistics of
 *   every projection input, the paper's criteria) → (c) function-preserving outlier injection,
 *   swept over magnitudes → (d) Table 1: perplexity of fp32 / absmax / zero-point /
 *   vector-wise / LLM.int8() at every magnitude → (e) the zeroing ablation → weight memory →
 *   (a) int8 vs fp32 GEMM speed → (f) LLM.int8()'s overhead → metrics.
 * Every projection is quantized, the tied output head included.
 * Left out: the MLP/CNN columns of the paper's Table 1 (the GPT's perplexity is the point),
 * the GPU path (CPU quantized linears only).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/base_gpt.h"
#include "dlab/data.h"
#include "int8_lesson.h"

/* the paper's criteria (§4): |x| >= 6 in >= 25% of the layers and >= 6% of the positions */
#define I8_MIN_LAYER_FRAC 0.25
#define I8_MIN_POS_FRAC 0.06

static const dl_qlinear_mode table_modes[] = {DL_QLINEAR_FP32, DL_QLINEAR_ABSMAX, DL_QLINEAR_ZEROPOINT,
                                              DL_QLINEAR_VECTORWISE, DL_QLINEAR_LLM_INT8};
static const char *const mode_labels[] = {"fp32", "int8 absmax", "int8 zeropoint", "vector-wise",
                                          "LLM.int8()"};
static const char *const metric_names[] = {"ppl_fp32", "ppl_int8_absmax", "ppl_zeropoint", "ppl_vectorwise",
                                           "ppl_llm_int8"};
#define N_MODES 5
/* the paper's outliers reach |x| ~ 60 (§4): the headline metrics are taken there */
#define I8_PAPER_MAX_MAGNITUDE 60.0

typedef struct sweep_point {
    float s;               /* injection scale (1: the trained model as it is) */
    double outlier_max;    /* measured max |x| at the injected dimensions */
    int found_dims;        /* dimensions meeting the criteria */
    double max_dlogit;     /* fp32 logits against the uninjected model's, first window */
    double fp32_ppl;       /* plain fp32 forward (no hook) */
    double ppl[N_MODES];   /* through the hook, one quantized model per mode */
    long long llm_outlier_cols, llm_calls;
} sweep_point;

/* Statistics of the model's current parameters over the validation windows. */
static dl_status collect_stats(dl_gpt *m, const dl_text_corpus *c, const i8_config *cfg, i8_act_stats *st) {
    double ppl;
    i8_stats_reset(st);
    return i8_val_ppl(m, c->val, c->val_len, cfg->val_batches, i8_stats_hook, st, &ppl);
}

/* Logits of the first validation window into out (B·T·V floats). */
static dl_status first_window_logits(dl_gpt *m, const dl_text_corpus *c, const i8_config *cfg, float *out) {
    int *x = NULL, *y = NULL;
    dl_rng r;
    dl_rng_seed(&r, 0x5eed); /* lesson_gpt_val_loss's seed: its first window */
    dl_status s = dl_alloc((void **)&x, (size_t)cfg->B * cfg->T * sizeof(int));
    if (s == DL_OK) s = dl_alloc((void **)&y, (size_t)cfg->B * cfg->T * sizeof(int));
    if (s == DL_OK) s = dl_text_sample_batch(c->val, c->val_len, cfg->B, cfg->T, &r, x, y);
    if (s == DL_OK) s = dl_gpt_forward(m, x, NULL, cfg->B, cfg->T, NULL);
    if (s == DL_OK) memcpy(out, m->a.logits, (size_t)cfg->B * cfg->T * m->cfg.vocab * sizeof(float));
    dl_free(x), dl_free(y);
    return s;
}

static dl_status mode_ppl(dl_gpt *m, const dl_text_corpus *c, const i8_config *cfg, dl_qlinear_mode mode,
                          double *ppl, long long *outlier_cols, long long *calls) {
    i8_qmodel qm;
    DL_TRY(i8_qmodel_build(&qm, m, mode, cfg->threshold));
    dl_status s = i8_val_ppl(m, c->val, c->val_len, cfg->val_batches, i8_qmodel_hook, &qm, ppl);
    if (outlier_cols) i8_qmodel_outlier_counts(&qm, outlier_cols, calls);
    i8_qmodel_free(&qm);
    return s;
}

/* (b) the per-dimension magnitude plot: max |x| over the ln1/ln2 outputs, before and after */
static void plot_dims(dlb_run *run, const i8_act_stats *base, const i8_act_stats *inj, const sweep_point *pt,
                      float threshold) {
    const int C = base->C;
    double *d = malloc(C * sizeof(double)), *b = malloc(C * sizeof(double)), *a = malloc(C * sizeof(double));
    if (!d || !b || !a) goto out;
    for (int i = 0; i < C; i++) {
        d[i] = i, b[i] = i8_stats_max_at(base, &i, 1), a[i] = i8_stats_max_at(inj, &i, 1);
    }
    dlb_plot *p = dlb_plot_new("outlier_dims", "largest |x| per hidden dimension (inputs of QKV and FC, all layers)",
                               "hidden dimension", "max |x|");
    dlb_plot_log(p, false, true);
    dlb_plot_extra(p, "set key outside bottom");
    char label[96];
    snprintf(label, sizeof label, "injected, s = %.3g (outlier max %.1f)", pt->s, pt->outlier_max);
    dlb_plot_series(p, label, d, a, C);
    dlb_plot_series(p, "trained model as it is", d, b, C);
    dlb_plot_hline(p, "threshold", threshold);
    dlb_run_plot(run, p);
    dlb_plot_free(p);
out:
    free(d), free(b), free(a);
}

static void plot_ppl(dlb_run *run, const sweep_point *pts, int n) {
    double x[I8_MAX_SWEEP + 1], y[I8_MAX_SWEEP + 1];
    dlb_plot *p = dlb_plot_new("ppl_vs_outlier_magnitude", "GPT validation perplexity vs outlier magnitude",
                               "largest |x| at the outlier dimensions", "perplexity");
    dlb_plot_log(p, true, true);
    dlb_plot_extra(p, "set key outside bottom");
    for (int k = 0; k < N_MODES; k++) {
        for (int i = 0; i < n; i++) x[i] = pts[i].outlier_max, y[i] = pts[i].ppl[k];
        dlb_plot_series(p, mode_labels[k], x, y, n);
    }
    dlb_run_plot(run, p);
    dlb_plot_free(p);
}

dl_status i8_experiment(dlb_run *run, const i8_config *cfg) {
    dl_text_corpus corpus = {0};
    dl_gpt m = {0};
    i8_act_stats st_base = {0}, st = {0};
    float *base = NULL, *params = NULL, *ref_logits = NULL, *logits = NULL;
    sweep_point pts[I8_MAX_SWEEP + 1];
    int n_pts = 0;
    i8_config c = *cfg;

    // ---------------------------------------------------------------- data and base
    dl_fortunes_options opt = {.categories = NULL, .val_fraction = 0.1, .seed = cfg->seed};
    dl_status s = dl_fortunes_load(&corpus, &opt);
    if (s != DL_OK) return s;
    c.model.vocab = corpus.vocab_size;
    char origin[1400];
    lesson_base_gpt_opts bo = {.model = c.model, .variants = "fast", .base_path = c.base_path,
                               .out_dir = c.out_dir, .B = c.B, .T = c.T, .pretrain_steps = c.pretrain_steps,
                               .seed = c.seed, .train = corpus.train, .train_len = corpus.train_len};
    s = lesson_base_gpt_prepare(&bo, &base, origin, sizeof origin);
    if (s != DL_OK) goto done;
    printf("data: lesson 0's fortunes (%zu validation characters); perplexity = exp(mean loss) over %d "
           "fixed windows of %d×%d\n", corpus.val_len, c.val_batches, c.B, c.T);
    printf("model: GPT %d layers × %d heads, width %d, vocabulary %d — %s\n", c.model.n_layer, c.model.n_head,
           c.model.n_embd, c.model.vocab, origin);
    dlb_run_param(run, "base_model", "%s", origin);
    dlb_run_param(run, "val_windows", "%dx%dx%d", c.val_batches, c.B, c.T);
    dlb_run_param(run, "threshold", "%g", c.threshold);
    const int L = c.model.n_layer, C = c.model.n_embd, V = c.model.vocab;
    const size_t logit_n = (size_t)c.B * c.T * V;
    if (4 * C > 4096) {
        s = DL_FAIL(DL_ERR_ARG, "width %d: this lesson's tables hold hidden widths up to 1024", C);
        goto done;
    }
    s = dl_gpt_create(&m, &c.model, c.B, c.T, "fast");
    if (s == DL_OK) s = dl_alloc((void **)&params, m.n_params * sizeof(float));
    if (s == DL_OK) s = dl_alloc((void **)&ref_logits, logit_n * sizeof(float));
    if (s == DL_OK) s = dl_alloc((void **)&logits, logit_n * sizeof(float));
    if (s == DL_OK) s = dl_gpt_params_from_host(&m, base);
    if (s == DL_OK) s = i8_stats_init(&st_base, &m, c.threshold);
    if (s == DL_OK) s = i8_stats_init(&st, &m, c.threshold);
    if (s == DL_OK) s = first_window_logits(&m, &corpus, &c, ref_logits);
    if (s != DL_OK) goto done;

    // ------------------------------------------- (b) emergent features of the trained GPT
    s = collect_stats(&m, &corpus, &c, &st_base);
    if (s != DL_OK) goto done;
    int found[4096], n_found = 0;
    i8_outlier_dims(&st_base, I8_MIN_LAYER_FRAC, I8_MIN_POS_FRAC, found, &n_found, NULL, NULL);
    printf("\n(b) emergent features of the trained model: largest |x| at each projection's input\n");
    dlb_table *tin = dlb_table_new("activation_max", "layer", "projection", "input_width", "max_abs_x",
                                   "dims_with_abs_x_ge_threshold", "median_dim_max", NULL);
    static const char *const proj_names[] = {"qkv (ln1)", "attn_proj (atty)", "fc (ln2)", "fc_proj (gelu)", "head (lnf)"};
    for (int l = 0; l <= L; l++)
        for (int p = 0; p < DL_GPT_PROJ_COUNT; p++) {
            if ((l < L) == (p == DL_GPT_PROJ_HEAD)) continue;
            const int w = i8_proj_in_width(&st_base, (dl_gpt_proj)p);
            const float *mx = i8_stats_max(&st_base, l, (dl_gpt_proj)p);
            double top = 0, sorted[4096];
            int over = 0;
            for (int d = 0; d < w; d++) top = fmax(top, mx[d]), over += mx[d] >= c.threshold, sorted[d] = mx[d];
            for (int i = 1; i < w; i++) /* insertion sort: w <= 4C is small */
                for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
                    double tmp = sorted[j]; sorted[j] = sorted[j - 1], sorted[j - 1] = tmp;
                }
            dlb_table_int(tin, l), dlb_table_str(tin, proj_names[p]), dlb_table_int(tin, w);
            dlb_table_numf(tin, top, "%.2f"), dlb_table_int(tin, over), dlb_table_numf(tin, sorted[w / 2], "%.2f");
        }
    dlb_run_table(run, tin);
    dlb_table_free(tin);
    printf("criteria (Dettmers et al. 2022, §4): |x| >= %g in >= %.0f%% of the %d layer inputs (QKV and FC "
           "read ln1/ln2) and in >= %.0f%% of all their positions → %d outlier dimension%s in the trained model\n",
           c.threshold, 100 * I8_MIN_LAYER_FRAC, 2 * L, 100 * I8_MIN_POS_FRAC, n_found, n_found == 1 ? "" : "s");
    dlb_run_param(run, "outlier_criteria", "|x|>=%g in >=25%% of layer inputs (qkv,fc) and >=6%% of positions",
                  c.threshold);
    dlb_run_metric(run, "outlier_dims", n_found, "count");

    // ------------------------------------------------------- (c) injection and (d) Table 1
    int dims[I8_MAX_INJECT];
    i8_top_dims(&st_base, c.n_inject, dims);
    const double natural = i8_stats_max_at(&st_base, dims, c.n_inject);
    char dims_text[160] = "";
    for (int i = 0; i < c.n_inject; i++)
        snprintf(dims_text + strlen(dims_text), sizeof dims_text - strlen(dims_text), "%s%d", i ? "," : "", dims[i]);
    printf("\n(c) injection: dimensions %s (the %d with the largest |x| already: max %.2f); in every layer "
           "ln1/ln2 gain and bias × s there, the matching QKV/FC weight columns ÷ s\n",
           dims_text, c.n_inject, natural);
    dlb_run_param(run, "injected_dims", "%s", dims_text);
    pts[n_pts++] = (sweep_point){.s = 1};
    for (int i = 0; i < c.n_magnitudes && n_pts <= I8_MAX_SWEEP; i++)
        if (c.magnitudes[i] > 1.05 * natural) pts[n_pts++] = (sweep_point){.s = (float)(c.magnitudes[i] / natural)};
    printf("(d) Table 1: every projection (QKV, attention proj, FC, FC proj in each layer, and the tied head) "
           "through a dl_qlinear of each mode\n");
    dlb_progress prog;
    dlb_progress_start(&prog, "sweep", n_pts);
    double worst_dlogit = 0, worst_dppl = 0;
    for (int i = 0; i < n_pts && s == DL_OK; i++) {
        sweep_point *pt = &pts[i];
        memcpy(params, base, m.n_params * sizeof(float));
        s = i8_inject_outliers(&c.model, params, dims, c.n_inject, pt->s);
        if (s == DL_OK) s = dl_gpt_params_from_host(&m, params);
        if (s == DL_OK) s = first_window_logits(&m, &corpus, &c, logits);
        if (s == DL_OK) s = i8_val_ppl(&m, corpus.val, corpus.val_len, c.val_batches, NULL, NULL, &pt->fp32_ppl);
        if (s == DL_OK) s = collect_stats(&m, &corpus, &c, &st);
        if (s != DL_OK) break;
        for (size_t k = 0; k < logit_n; k++) pt->max_dlogit = fmax(pt->max_dlogit, fabs(logits[k] - ref_logits[k]));
        pt->outlier_max = i8_stats_max_at(&st, dims, c.n_inject);
        i8_outlier_dims(&st, I8_MIN_LAYER_FRAC, I8_MIN_POS_FRAC, found, &pt->found_dims, NULL, NULL);
        for (int k = 0; k < N_MODES && s == DL_OK; k++)
            s = mode_ppl(&m, &corpus, &c, table_modes[k], &pt->ppl[k],
                         table_modes[k] == DL_QLINEAR_LLM_INT8 ? &pt->llm_outlier_cols : NULL, &pt->llm_calls);
        worst_dlogit = fmax(worst_dlogit, pt->max_dlogit);
        worst_dppl = fmax(worst_dppl, fabs(pt->fp32_ppl - pts[0].fp32_ppl));
        if (i == n_pts - 1 && s == DL_OK) plot_dims(run, &st_base, &st, pt, c.threshold);
        dlb_progress_update(&prog, i + 1);
    }
    dlb_progress_end(&prog);
    if (s != DL_OK) goto done;
    dlb_table *sw = dlb_table_new("injection_sweep", "s", "outlier_max_abs_x", "outlier_dims_found",
                                  "max_abs_dlogit_fp32", "fp32_ppl_plain", "llm_int8_outlier_cols_per_call", NULL);
    for (int i = 0; i < n_pts; i++) {
        dlb_table_numf(sw, pts[i].s, "%.3f"), dlb_table_numf(sw, pts[i].outlier_max, "%.2f");
        dlb_table_int(sw, pts[i].found_dims), dlb_table_num(sw, pts[i].max_dlogit);
        dlb_table_numf(sw, pts[i].fp32_ppl, "%.4f");
        dlb_table_numf(sw, pts[i].llm_calls ? (double)pts[i].llm_outlier_cols / pts[i].llm_calls : 0, "%.2f");
    }
    dlb_run_table(run, sw);
    dlb_table_free(sw);
    printf("the injection preserves the function: fp32 logits move by at most %.2g, perplexity by %.2g\n",
           worst_dlogit, worst_dppl);
    dlb_run_metric(run, "injection_max_abs_dlogit", worst_dlogit, "logit");
    dlb_run_metric(run, "injection_max_abs_dppl", worst_dppl, "ppl");

    /* the paper's shape: one row per mode, one column per outlier magnitude */
    char colname[I8_MAX_SWEEP + 1][48];
    const char *cols[I8_MAX_SWEEP + 2] = {0};
    for (int i = 0; i < n_pts; i++) {
        snprintf(colname[i], sizeof colname[i], "ppl_max_abs_x_%.1f", pts[i].outlier_max);
        cols[i] = colname[i];
    }
    dlb_table *t1 = dlb_table_new("table1_ppl", "mode", cols[0], cols[1], cols[2], cols[3], cols[4], cols[5],
                                  cols[6], cols[7], cols[8], NULL);
    for (int k = 0; k < N_MODES; k++) {
        dlb_table_str(t1, mode_labels[k]);
        for (int i = 0; i < n_pts; i++) dlb_table_numf(t1, pts[i].ppl[k], "%.4f");
    }
    printf("\nTable 1, this machine: validation perplexity by outlier magnitude (column: measured max |x| at "
           "the injected dimensions; the first is the trained model as it is)\n");
    dlb_run_table(run, t1);
    dlb_table_free(t1);
    plot_ppl(run, pts, n_pts);
    /* the headline point: the largest magnitude within the paper's range (outliers up to ~60),
     * and the sweep's largest, beyond it, to show where absmax gives way on this model */
    const sweep_point *top = &pts[n_pts - 1], *last = &pts[n_pts - 1];
    for (int i = n_pts - 1; i > 0 && pts[i].outlier_max > I8_PAPER_MAX_MAGNITUDE * 1.01; i--) top = &pts[i - 1];
    for (int k = 0; k < N_MODES; k++) dlb_run_metric(run, metric_names[k], top->ppl[k], "ppl");
    dlb_run_metric(run, "ppl_outlier_max_abs_x", top->outlier_max, "abs");
    dlb_run_metric(run, "llm_int8_vs_fp32_pct", 100 * (top->ppl[4] / top->ppl[0] - 1), "%");
    dlb_run_metric(run, "absmax_vs_fp32_pct", 100 * (top->ppl[1] / top->ppl[0] - 1), "%");
    dlb_run_metric(run, "vectorwise_vs_fp32_pct", 100 * (top->ppl[3] / top->ppl[0] - 1), "%");
    dlb_run_metric(run, "ppl_llm_int8_no_injection", pts[0].ppl[4], "ppl");
    dlb_run_metric(run, "ppl_int8_absmax_no_injection", pts[0].ppl[1], "ppl");
    dlb_run_metric(run, "sweep_max_outlier_abs_x", last->outlier_max, "abs");
    dlb_run_metric(run, "absmax_vs_fp32_pct_sweep_max", 100 * (last->ppl[1] / last->ppl[0] - 1), "%");
    dlb_run_metric(run, "llm_int8_vs_fp32_pct_sweep_max", 100 * (last->ppl[4] / last->ppl[0] - 1), "%");
    printf("at max |x| = %.1f (the paper's largest): LLM.int8() %+.2f%% against fp32 (target: within 1%%), "
           "absmax %+.2f%% (target: >= +10%%), vector-wise %+.2f%%\n",
           top->outlier_max, 100 * (top->ppl[4] / top->ppl[0] - 1), 100 * (top->ppl[1] / top->ppl[0] - 1),
           100 * (top->ppl[3] / top->ppl[0] - 1));
    printf("at max |x| = %.1f (the sweep's largest): LLM.int8() %+.2f%%, absmax %+.2f%%\n", last->outlier_max,
           100 * (last->ppl[4] / last->ppl[0] - 1), 100 * (last->ppl[1] / last->ppl[0] - 1));

    // ------------------------------------------------------------------- (e) ablation
    {
        i8_zero z = {.dims = dims, .k = c.n_inject, .linear = m.linear};
        double ppl_out = NAN, ppl_rand = 0;
        s = i8_val_ppl(&m, corpus.val, corpus.val_len, c.val_batches, i8_zero_hook, &z, &ppl_out);
        dl_rng r;
        dl_rng_seed(&r, c.seed + 7);
        int rdims[I8_MAX_INJECT];
        dlb_table *ab = dlb_table_new("ablation", "zeroed", "dims", "ppl", NULL);
        dlb_table_str(ab, "nothing (fp32)"), dlb_table_str(ab, "-"), dlb_table_numf(ab, last->fp32_ppl, "%.4f");
        dlb_table_str(ab, "the outlier dimensions"), dlb_table_str(ab, dims_text), dlb_table_numf(ab, ppl_out, "%.4f");
        for (int draw = 0; draw < c.ablation_draws && s == DL_OK; draw++) {
            for (int i = 0; i < c.n_inject; i++) { /* distinct, and none of the outlier ones */
                bool clash;
                do {
                    rdims[i] = (int)dl_rng_below(&r, (uint64_t)C);
                    clash = false;
                    for (int j = 0; j < c.n_inject; j++) clash |= rdims[i] == dims[j];
                    for (int j = 0; j < i; j++) clash |= rdims[i] == rdims[j];
                } while (clash);
            }
            i8_zero zr = {.dims = rdims, .k = c.n_inject, .linear = m.linear, .scratch = z.scratch,
                          .scratch_floats = z.scratch_floats};
            double p = NAN;
            s = i8_val_ppl(&m, corpus.val, corpus.val_len, c.val_batches, i8_zero_hook, &zr, &p);
            z.scratch = zr.scratch, z.scratch_floats = zr.scratch_floats;
            char txt[160] = "";
            for (int i = 0; i < c.n_inject; i++) snprintf(txt + strlen(txt), sizeof txt - strlen(txt), "%s%d", i ? "," : "", rdims[i]);
            dlb_table_str(ab, "random dimensions"), dlb_table_str(ab, txt), dlb_table_numf(ab, p, "%.4f");
            ppl_rand += p / c.ablation_draws;
        }
        i8_zero_free(&z);
        if (s == DL_OK) {
            printf("\n(e) ablation at max |x| = %.1f: zero %d dimensions of every ln1/ln2 output\n", last->outlier_max,
                   c.n_inject);
            dlb_run_table(run, ab);
            printf("zeroing the outlier dimensions: ppl %.3f; zeroing %d random ones (mean of %d draws): %.3f\n",
                   ppl_out, c.n_inject, c.ablation_draws, ppl_rand);
            dlb_run_metric(run, "ppl_zero_outlier_dims", ppl_out, "ppl");
            dlb_run_metric(run, "ppl_zero_random_dims", ppl_rand, "ppl");
        }
        dlb_table_free(ab);
        if (s != DL_OK) goto done;
    }

    // --------------------------------------------------------------- weight memory
    {
        i8_qmodel qm;
        size_t fp32_bytes = 0, int8_bytes = 0;
        s = i8_qmodel_build(&qm, &m, DL_QLINEAR_LLM_INT8, c.threshold);
        if (s != DL_OK) goto done;
        int8_bytes = i8_qmodel_weight_bytes(&qm, &fp32_bytes);
        i8_qmodel_free(&qm);
        printf("\nweight memory of the %d projections (head included): fp32 %zu bytes, int8 (weights + scales + "
               "fp32 bias) %zu bytes: %.2fx smaller\n", 4 * L + 1, fp32_bytes, int8_bytes,
               (double)fp32_bytes / int8_bytes);
        dlb_run_metric(run, "weight_bytes_fp32", (double)fp32_bytes, "bytes");
        dlb_run_metric(run, "weight_bytes_int8", (double)int8_bytes, "bytes");
        dlb_run_metric(run, "weight_memory_ratio", (double)fp32_bytes / int8_bytes, "x");
    }

    // --------------------------------------------------------------- (a) and (f) speed
    printf("\n(a) ");
    double ratio = NAN, overhead = NAN;
    s = i8_gemm_speed(run, &c, &ratio);
    if (s != DL_OK) goto done;
    char name[64];
    snprintf(name, sizeof name, "int8_gemm_vs_fp32_%d", c.gemm_sizes[0]);
    dlb_run_metric(run, name, ratio, "x");
    printf("\n(f) ");
    s = i8_overhead(run, &c, &overhead);
    if (s != DL_OK) goto done;
    snprintf(name, sizeof name, "llm_int8_overhead_%dcols", c.overhead_counts[c.n_overhead_counts - 1]);
    dlb_run_metric(run, name, overhead, "x");

done:
    dl_gpt_free(&m);
    i8_stats_free(&st_base), i8_stats_free(&st);
    dl_free(base), dl_free(params), dl_free(ref_logits), dl_free(logits);
    dl_text_corpus_free(&corpus);
    return s;
}
