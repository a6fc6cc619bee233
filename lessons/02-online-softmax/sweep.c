/* sweep.c — lesson 2 (b): safe against online softmax over the vocabulary size V.
 *
 * The paper's claim is about memory traffic: per element, safe softmax reads the row three
 * times and writes it once (4 accesses), online reads it twice and writes once (3), so where
 * memory is the limit online should be 4/3 as fast. Whether memory IS the limit depends on
 * where the re-reads come from: a CPU works on one row per core at a time, so a row that fits
 * in the core's L2 is re-read from the cache and costs nothing extra in DRAM traffic. The
 * sweep therefore runs V from 64 up past the last-level cache, at batch 4000 (like the
 * paper; fewer rows at large V so N·V stays within the budget) and at batch 10.
 *
 * For every point: the best safe and the best online variant timed interleaved (dlb_compare:
 * the ratio is per pair of samples, so drift hits both alike), a parallel memcpy of the same
 * bytes, GB/s counted as 8 bytes per element (one read, one write: the least any softmax
 * moves), and the fraction of the machine's measured copy bandwidth.
 * Left out: the GPU (gpu.c), rows split across threads (a batch of 10 rows uses 2 cores).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sm_lesson.h"

static const char *const SAFE[] = {"safe_avx512", "safe_avx2", "safe", NULL};
static const char *const ONLINE[] = {"online_avx512", "online_avx2", "online", NULL};

int sm_sweep_sizes(long max_v, long *out, int cap) {
    int n = 0;
    for (long v = 64; v < max_v && n < cap - 1; v *= 4) out[n++] = v;
    if (n < cap) out[n++] = max_v;
    return n;
}

int sm_rows_for(int batch, long V, long budget) {
    long n = budget / (V > 0 ? V : 1);
    if (n > batch) n = batch;
    return n < 1 ? 1 : (int)n;
}

typedef struct softmax_call {
    const dl_variant *v;
    dl_softmax_args a;
} softmax_call;

static void run_softmax(void *ctx) {
    softmax_call *c = ctx;
    (void)dl_softmax_forward(c->v, &c->a);
}

typedef struct copy_call {
    float *dst;
    const float *src;
    long n;
} copy_call;

/* The copy a softmax competes with: the same bytes, split over the threads like its rows. */
static void run_copy(void *ctx) {
    copy_call *c = ctx;
    const long chunk = 1L << 16;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < c->n; i += chunk)
        memcpy(c->dst + i, c->src + i, sizeof(float) * (size_t)(c->n - i < chunk ? c->n - i : chunk));
}

/* Every CPU softmax variant at the paper's point (V = 4000, batch 4000). */
static int paper_point(dlb_run *run, const sm_config *cfg, float *x, float *y) {
    const int V = 4000, N = cfg->quick ? 500 : 4000;
    sm_fill_logits(x, (size_t)N * V, cfg->seed, 1, -8.0f, 8.0f);
    dlb_opts opts = sm_timing_opts(cfg);
    dlb_table *t = dlb_table_new("softmax_variants_v4000", "variant", "what", "time_ms",
                                 "p10_ms", "p90_ms", "gbps", "frac_copy_peak", NULL);
    int count = 0;
    const dl_variant *const *vs = dl_variants("softmax", &count);
    printf("Every softmax variant at the paper's point: V = %d, batch %d (%.0f MB in, %.0f MB "
           "out)\n", V, N, 4e-6 * N * V, 4e-6 * N * V);
    for (int i = 0; i < count; i++) {
        if (vs[i]->device != DL_DEVICE_CPU || !dl_variant_available(vs[i])) continue;
        if (strcmp(vs[i]->name, "ref") == 0) continue; /* double precision: the oracle */
        softmax_call c = {vs[i], {.N = N, .V = V, .inp = x, .out = y}};
        dlb_result r;
        if (dlb_measure(run_softmax, &c, &opts, &r) != 0) {
            fprintf(stderr, "error: %s\n", dlb_error());
            dlb_table_free(t);
            return -1;
        }
        const double gbps = dlb_gbps(8.0 * N * V, r.time.median);
        dlb_table_str(t, vs[i]->name);
        dlb_table_str(t, vs[i]->summary);
        dlb_table_numf(t, 1e3 * r.time.median, "%.3f");
        dlb_table_numf(t, 1e3 * r.time.p10, "%.3f");
        dlb_table_numf(t, 1e3 * r.time.p90, "%.3f");
        dlb_table_numf(t, gbps, "%.1f");
        dlb_table_numf(t, gbps / cfg->peak.copy_gbps, "%.2f");
        const dl_cost cost = dl_softmax_cost(&c.a); /* per call: the roofline in make report */
        dlb_counter counters[] = {{"gbps", gbps}, {"flops", cost.flops}, {"bytes", cost.bytes}, {NULL, 0}};
        char name[96];
        snprintf(name, sizeof name, "softmax/%s/N%d/V%d", vs[i]->name, N, V);
        dlb_run_benchmark(run, name, &r, counters);
    }
    int rc = dlb_run_table(run, t);
    dlb_table_free(t);
    printf("\n");
    return rc;
}

typedef struct point {
    int batch, N;
    long V;
    double safe_gbps, online_gbps, copy_gbps, ratio, ratio_p10, ratio_p90;
} point;

static int measure_point(const sm_config *cfg, const dl_variant *safe, const dl_variant *online,
                         float *x, float *y, point *p) {
    const long n = (long)p->N * p->V;
    sm_fill_logits(x, (size_t)n, cfg->seed, 2, -8.0f, 8.0f);
    dlb_opts opts = sm_timing_opts(cfg);
    softmax_call cs = {safe, {.N = p->N, .V = (int)p->V, .inp = x, .out = y}};
    softmax_call co = {online, cs.a};
    copy_call cc = {y, x, n};
    dlb_ab ab;
    dlb_result copy;
    if (dlb_compare(run_softmax, &cs, run_softmax, &co, &opts, &ab) != 0 ||
        dlb_measure(run_copy, &cc, &opts, &copy) != 0) {
        fprintf(stderr, "error: %s\n", dlb_error());
        return -1;
    }
    p->safe_gbps = dlb_gbps(8.0 * n, ab.a.time.median);
    p->online_gbps = dlb_gbps(8.0 * n, ab.b.time.median);
    p->copy_gbps = dlb_gbps(8.0 * n, copy.time.median);
    p->ratio = ab.ratio.median, p->ratio_p10 = ab.ratio.p10, p->ratio_p90 = ab.ratio.p90;
    return 0;
}

/* Where one row lives while a core works on it. */
static const char *row_home(long V, const sm_config *cfg) {
    const long bytes = 4 * V;
    if (bytes <= 32 * 1024) return "L1";
    if (bytes <= 1024 * 1024) return "L2";
    if (cfg->llc_bytes > 0 && bytes <= cfg->llc_bytes / 2) return "LLC";
    return "DRAM";
}

static int plot_points(dlb_run *run, const sm_config *cfg, const point *pts, int n, int batch) {
    double V[64], safe[64], online[64], copy[64];
    int k = 0;
    for (int i = 0; i < n && k < 64; i++)
        if (pts[i].batch == batch)
            V[k] = (double)pts[i].V, safe[k] = pts[i].safe_gbps, online[k] = pts[i].online_gbps,
            copy[k] = pts[i].copy_gbps, k++;
    char name[64], title[160];
    snprintf(name, sizeof name, "softmax_gbps_batch%d", batch);
    snprintf(title, sizeof title, "softmax bandwidth, batch %d (fewer rows at large V), %d threads",
             batch, cfg->threads);
    dlb_plot *p = dlb_plot_new(name, title, "vocabulary size V", "GB/s (8 bytes per element)");
    dlb_plot_log(p, true, false);
    dlb_plot_series(p, "safe (3 reads + 1 write)", V, safe, k);
    dlb_plot_series(p, "online (2 reads + 1 write)", V, online, k);
    dlb_plot_series(p, "memcpy of the same bytes", V, copy, k);
    dlb_plot_hline(p, "measured copy bandwidth (DRAM)", cfg->peak.copy_gbps);
    int rc = dlb_run_plot(run, p);
    dlb_plot_free(p);
    return rc;
}

static int plot_ratio(dlb_run *run, const point *pts, int n) {
    dlb_plot *p = dlb_plot_new("online_vs_safe", "online / safe speed (interleaved pairs, median)",
                               "vocabulary size V", "speedup of online over safe");
    dlb_plot_log(p, true, false);
    const int batches[2] = {4000, 10};
    for (int b = 0; b < 2; b++) {
        double V[64], r[64];
        int k = 0;
        for (int i = 0; i < n && k < 64; i++)
            if (pts[i].batch == batches[b]) V[k] = (double)pts[i].V, r[k] = pts[i].ratio, k++;
        char label[48];
        snprintf(label, sizeof label, "batch %d", batches[b]);
        dlb_plot_series(p, label, V, r, k);
    }
    dlb_plot_hline(p, "theory when memory-bound: 4/3", 4.0 / 3.0);
    dlb_plot_hline(p, "no gain", 1.0);
    int rc = dlb_run_plot(run, p);
    dlb_plot_free(p);
    return rc;
}

int sm_sweep(dlb_run *run, const sm_config *cfg) {
    const dl_variant *safe = sm_first_available("softmax", SAFE);
    const dl_variant *online = sm_first_available("softmax", ONLINE);
    long sizes[32];
    const int nsizes = sm_sweep_sizes(cfg->max_v, sizes, 32);
    /* The budget holds batch 10 at max_v (lesson.c sees to it) and the paper's point. */
    long cap = cfg->budget > 4000L * 4000 ? cfg->budget : 4000L * 4000;
    float *x = NULL, *y = NULL;
    if (dl_alloc((void **)&x, sizeof(float) * (size_t)cap) != DL_OK ||
        dl_alloc((void **)&y, sizeof(float) * (size_t)cap) != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        dl_free(x);
        return -1;
    }
    int rc = paper_point(run, cfg, x, y);
    point pts[64];
    int npts = 0;
    dlb_table *t = NULL;
    if (rc != 0) goto done;

    printf("Safe (%s) against online (%s) over V: interleaved samples, ratio = time(safe) / "
           "time(online)\n", safe->name, online->name);
    const int batches[2] = {4000, 10};
    dlb_progress prog;
    dlb_progress_start(&prog, "V sweep", 2L * nsizes);
    for (int b = 0; b < 2; b++) {
        for (int s = 0; s < nsizes; s++) {
            point *p = &pts[npts];
            p->batch = batches[b], p->V = sizes[s];
            p->N = sm_rows_for(batches[b], sizes[s], cfg->budget);
            if (measure_point(cfg, safe, online, x, y, p) != 0) {
                rc = -1;
                goto done;
            }
            npts++;
            dlb_progress_update(&prog, npts);
        }
    }
    dlb_progress_end(&prog);

    t = dlb_table_new("softmax_sweep", "batch", "N", "V", "row_in", "safe_gbps", "online_gbps",
                      "memcpy_gbps", "online_frac_copy_peak", "online_over_safe", "ratio_p10",
                      "ratio_p90", NULL);
    for (int i = 0; i < npts; i++) {
        const point *p = &pts[i];
        dlb_table_int(t, p->batch);
        dlb_table_int(t, p->N);
        dlb_table_int(t, p->V);
        dlb_table_str(t, row_home(p->V, cfg));
        dlb_table_numf(t, p->safe_gbps, "%.1f");
        dlb_table_numf(t, p->online_gbps, "%.1f");
        dlb_table_numf(t, p->copy_gbps, "%.1f");
        dlb_table_numf(t, p->online_gbps / cfg->peak.copy_gbps, "%.2f");
        dlb_table_numf(t, p->ratio, "%.3f");
        dlb_table_numf(t, p->ratio_p10, "%.3f");
        dlb_table_numf(t, p->ratio_p90, "%.3f");
    }
    if ((rc = dlb_run_table(run, t)) != 0) goto done;
    if ((rc = plot_points(run, cfg, pts, npts, 4000)) != 0) goto done;
    if ((rc = plot_points(run, cfg, pts, npts, 10)) != 0) goto done;
    if ((rc = plot_ratio(run, pts, npts)) != 0) goto done;

    /* Headline numbers. Memory-bound: the points whose input and output together exceed
     * the last-level cache twice over (all points when none does, as in --quick). The
     * speedup is taken where the re-read is surely from DRAM: batch 10 at the largest V. */
    const double big = cfg->llc_bytes > 0 ? 2.0 * cfg->llc_bytes : 0.0;
    int nbig = 0;
    for (int i = 0; i < npts; i++) nbig += 8.0 * pts[i].N * pts[i].V >= big;
    /* The fraction's denominator is the best copy this run saw at those sizes: the STREAM
     * copy measured at the start or a memcpy beside a softmax point, whichever is higher
     * (on a shared machine either one alone can catch a slow moment). */
    double best_gbps = 0.0, copy_gbps = cfg->peak.copy_gbps, ratio_sum = 0.0;
    double largest_ratio = NAN;
    long largest_v = 0;
    for (int i = 0; i < npts; i++) {
        const point *p = &pts[i];
        if (p->batch == 10 && p->V >= largest_v) largest_v = p->V, largest_ratio = p->ratio;
        if (nbig > 0 && 8.0 * p->N * p->V < big) continue;
        const double best = p->online_gbps > p->safe_gbps ? p->online_gbps : p->safe_gbps;
        if (best > best_gbps) best_gbps = best;
        if (p->copy_gbps > copy_gbps) copy_gbps = p->copy_gbps;
        ratio_sum += p->ratio;
    }
    if (nbig == 0) nbig = npts;
    const double best_frac = best_gbps / copy_gbps;
    for (int i = 0; i < npts; i++)
        if (pts[i].batch == 4000 && pts[i].V == 4096)
            dlb_run_metric(run, "online_vs_safe_speedup_v4096_batch4000", pts[i].ratio, "x");
    dlb_run_metric(run, "online_vs_safe_speedup", largest_ratio, "x");
    dlb_run_metric(run, "online_vs_safe_speedup_memory_bound_mean", ratio_sum / nbig, "x");
    dlb_run_metric(run, "softmax_best_bw_fraction", best_frac, "fraction");
    dlb_run_metric(run, "softmax_best_gbps", best_gbps, "gbps");
    dlb_run_metric(run, "softmax_copy_gbps", copy_gbps, "gbps");
    dlb_run_metric(run, "stream_copy_gbps", cfg->peak.copy_gbps, "gbps");
    printf("online / safe at the largest V of batch 10 (V = %ld): %.3f×; best softmax at "
           "memory-bound sizes: %.1f GB/s, %.0f%% of the best copy this run measured (%.1f GB/s)\n\n",
           largest_v, largest_ratio, best_gbps, 100 * best_frac, copy_gbps);
done:
    dlb_table_free(t);
    dl_free(x), dl_free(y);
    return rc;
}
