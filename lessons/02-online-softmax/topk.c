/* topk.c — lesson 2 (c): softmax + top-k fused into one pass, against the pipeline.
 *
 * A language model's sampler or beam search wants the K most probable tokens, not all V
 * probabilities. The pipeline writes all N·V probabilities and reads them back to select
 * (softmax 2–3 reads + 1 write, then 1 read); the fused pass reads the logits once, keeping
 * the online (m, d) and a running top-K list of logits, and computes K probabilities at the
 * end. The paper measures up to 5× at V = 25000; the gain here depends on how memory-bound
 * the pipeline is and how often the list changes (about K·(1 + ln(V/K)) insertions a row).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sm_lesson.h"

static const char *const FUSED[] = {"fused_avx512", "fused", NULL};

typedef struct topk_call {
    const dl_variant *v;
    dl_softmax_topk_args a;
} topk_call;

static void run_topk(void *ctx) {
    topk_call *c = ctx;
    (void)dl_softmax_topk(c->v, &c->a);
}

/* The fused variant's answer on the first rows against ref: exact indices, close probabilities. */
static int check_against_ref(const dl_variant *fused, const float *x, int V, int K) {
    enum { ROWS = 6 };
    float pf[ROWS * 64], pr[ROWS * 64];
    int idf[ROWS * 64], idr[ROWS * 64];
    dl_softmax_topk_args a = {.N = ROWS, .V = V, .K = K, .inp = x, .prob = pf, .index = idf};
    dl_softmax_topk_args b = {.N = ROWS, .V = V, .K = K, .inp = x, .prob = pr, .index = idr};
    if (dl_softmax_topk(fused, &a) != DL_OK ||
        dl_softmax_topk(dl_variant_find("softmax_topk", "ref"), &b) != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        return -1;
    }
    for (int i = 0; i < ROWS * K; i++)
        if (idf[i] != idr[i] || fabsf(pf[i] - pr[i]) > 1e-5f * pr[i] + 1e-30f) {
            fprintf(stderr, "error: %s differs from ref at row %d slot %d: (%d, %g) vs (%d, %g)\n",
                    fused->name, i / K, i % K, idf[i], pf[i], idr[i], pr[i]);
            return -1;
        }
    return 0;
}

int sm_topk(dlb_run *run, const sm_config *cfg) {
    const int V = 25000, N = sm_rows_for(4000, V, cfg->budget);
    const int ks_full[] = {1, 2, 5, 10, 20, 30}, ks_quick[] = {1, 5, 30};
    const int *ks = cfg->quick ? ks_quick : ks_full;
    const int nk = cfg->quick ? 3 : 6;
    const dl_variant *fused = sm_first_available("softmax_topk", FUSED);
    const dl_variant *unfused = dl_variant_find("softmax_topk", "unfused");
    float *x = NULL, *work = NULL, *prob = NULL;
    int *index = NULL;
    dlb_table *t = NULL;
    int rc = -1;
    if (dl_alloc((void **)&x, sizeof(float) * (size_t)N * V) != DL_OK ||
        dl_alloc((void **)&work, sizeof(float) * (size_t)N * V) != DL_OK ||
        dl_alloc((void **)&prob, sizeof(float) * (size_t)N * 64) != DL_OK ||
        dl_alloc((void **)&index, sizeof(int) * (size_t)N * 64) != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        goto done;
    }
    sm_fill_logits(x, (size_t)N * V, cfg->seed, 4, -8.0f, 8.0f);
    printf("Softmax + top-k at V = %d, batch %d: %s (softmax %s writes all N·V, then a top-k "
           "pass)\nagainst %s (one pass), interleaved; speedup = time(unfused) / time(fused)\n",
           V, N, unfused->name, dl_softmax_best()->name, fused->name);
    t = dlb_table_new("topk_fusion", "k", "unfused_ms", "fused_ms", "fused_gbps_read",
                      "speedup", "speedup_p10", "speedup_p90", NULL);
    double kx[8], speed[8];
    dlb_opts opts = sm_timing_opts(cfg);
    for (int q = 0; q < nk; q++) {
        const int K = ks[q];
        if (check_against_ref(fused, x, V, K) != 0) goto done;
        topk_call cu = {unfused, {.N = N, .V = V, .K = K, .inp = x, .prob = prob, .index = index,
                                  .work = work}};
        topk_call cf = {fused, cu.a};
        dlb_ab ab;
        if (dlb_compare(run_topk, &cu, run_topk, &cf, &opts, &ab) != 0) {
            fprintf(stderr, "error: %s\n", dlb_error());
            goto done;
        }
        dlb_table_int(t, K);
        dlb_table_numf(t, 1e3 * ab.a.time.median, "%.2f");
        dlb_table_numf(t, 1e3 * ab.b.time.median, "%.2f");
        dlb_table_numf(t, dlb_gbps(4.0 * N * V, ab.b.time.median), "%.1f");
        dlb_table_numf(t, ab.ratio.median, "%.2f");
        dlb_table_numf(t, ab.ratio.p10, "%.2f");
        dlb_table_numf(t, ab.ratio.p90, "%.2f");
        kx[q] = K, speed[q] = ab.ratio.median;
        if (K == 5) dlb_run_metric(run, "topk_fused_speedup", ab.ratio.median, "x");
        char name[80];
        snprintf(name, sizeof name, "softmax_topk/%s/N%d/V%d/K%d", fused->name, N, V, K);
        dlb_run_benchmark(run, name, &ab.b, NULL);
        snprintf(name, sizeof name, "softmax_topk/%s/N%d/V%d/K%d", unfused->name, N, V, K);
        dlb_run_benchmark(run, name, &ab.a, NULL);
    }
    if (dlb_run_table(run, t) != 0) goto done;
    printf("(fused indices and probabilities checked against ref on 6 rows for every k)\n\n");
    dlb_plot *p = dlb_plot_new("topk_fusion", "softmax + top-k: fused one pass vs unfused pipeline",
                               "k", "speedup of fused over unfused");
    dlb_plot_series(p, "measured (V = 25000)", kx, speed, nk);
    dlb_plot_hline(p, "paper's bound: 5 accesses vs 1", 5.0);
    dlb_plot_hline(p, "no gain", 1.0);
    rc = dlb_run_plot(run, p);
    dlb_plot_free(p);
done:
    dlb_table_free(t);
    dl_free(x), dl_free(work), dl_free(prob), dl_free(index);
    return rc;
}
