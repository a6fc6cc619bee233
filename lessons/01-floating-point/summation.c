/* summation.c — lesson 1 (b): how wrong is a sum of n floats, and what does being less wrong
 * cost?
 *
 * Every variant of the "sum" family adds the same arrays; `ref` (long double, compensated)
 * is the yardstick. Two kinds of data:
 *   benign           uniform [0, 1): all terms positive, condition number κ = Σ|x|/|Σx| = 1,
 *                    so the relative error is the algorithm's own (Higham's bounds apply as
 *                    they stand);
 *   ill-conditioned  the same plus scattered ±b pairs (b ~ 2^17..2^19) that cancel exactly:
 *                    κ ~ 10^4, and every bound is multiplied by κ.
 * Then the speed of each variant in GB/s on an array far larger than the caches, beside its
 * error: the accuracy-for-speed trade in one table.
 * Left out: exact (superaccumulator) sums and GPU reductions.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fp_lesson.h"

/* The fp32 variants whose error we measure (ref is the yardstick, not a contestant). */
static const char *const VARIANTS[] = {"naive",     "pairwise",   "kahan",        "neumaier",
                                       "omp_naive", "tree_fixed", "naive_avx512", "kahan_avx512"};
enum { NVARIANTS = sizeof VARIANTS / sizeof VARIANTS[0] };
/* The ones drawn on the plots (the others sit on top of these lines). */
static const char *const PLOTTED[] = {"naive",    "pairwise",   "kahan",
                                      "neumaier", "tree_fixed", "naive_avx512"};
enum { NPLOTTED = sizeof PLOTTED / sizeof PLOTTED[0] };

enum { DATA_BENIGN = 0, DATA_ILL = 1 };
static const char *const DATA_NAME[] = {"benign", "ill"};

/* ----------------------------------------------------------------- the data */

void fp_fill_benign(float *x, size_t n, dl_rng *rng) {
    for (size_t i = 0; i < n; i++)
        x[i] = dl_rng_uniform(rng);
}

void fp_fill_ill_conditioned(float *x, size_t n, dl_rng *rng) {
    fp_fill_benign(x, n, rng);
    size_t pairs = n / 128;
    if (pairs == 0 && n >= 4) pairs = 1;
    for (size_t k = 0; k < pairs; k++) {
        /* b in [2^17, 2^19); -b is exact, so each pair cancels exactly and Σx = Σ(small) */
        float b = ldexpf(1.0f + 3.0f * dl_rng_uniform(rng), 17);
        size_t p, q;
        do
            p = (size_t)dl_rng_below(rng, n);
        while (fabsf(x[p]) >= 1.0f); /* not on another big one */
        x[p] = b;
        do
            q = (size_t)dl_rng_below(rng, n);
        while (fabsf(x[q]) >= 1.0f);
        x[q] = -b;
    }
}

double fp_condition_number(const float *x, size_t n) {
    long double abs_sum = 0.0L; /* all terms >= 0: plain long double addition is accurate */
    for (size_t i = 0; i < n; i++)
        abs_sum += fabsf(x[i]);
    double s = dl_sum("ref", x, n);
    return s == 0.0 ? INFINITY : (double)(abs_sum / fabsl((long double)s));
}

/* The same (dataset, n) always gives the same array, whichever part of the lesson asks. */
static void fill(float *x, size_t n, int dataset, uint64_t seed) {
    dl_rng rng;
    dl_rng_seed_stream(&rng, seed, ((uint64_t)dataset << 40) ^ (uint64_t)n);
    if (dataset == DATA_BENIGN)
        fp_fill_benign(x, n, &rng);
    else
        fp_fill_ill_conditioned(x, n, &rng);
}

static double relerr(double got, double want) {
    return want == 0.0 ? fabs(got) : fabs(got - want) / fabs(want);
}

/* Relative error of every variant (NaN where it cannot run here), the condition number and
 * the error of the correctly rounded fp32 result. */
static void measure_errors(const float *x, size_t n, double *errs, double *kappa,
                           double *floor_err) {
    double want = dl_sum("ref", x, n);
    if (kappa) *kappa = fp_condition_number(x, n);
    /* The best any fp32 answer can do: the true sum rounded once to fp32. */
    if (floor_err) *floor_err = relerr((double)(float)want, want);
    for (int v = 0; v < NVARIANTS; v++) {
        const dl_variant *var = dl_variant_find("sum", VARIANTS[v]);
        errs[v] = dl_variant_available(var) ? relerr(dl_sum(VARIANTS[v], x, n), want) : NAN;
    }
}

/* ----------------------------------------------------------- Kahan vs Neumaier */

static int kahan_vs_neumaier(dlb_run *run) {
    /* 1 + 2^25 loses the 1 (fp32 spacing at 2^25 is 4). Kahan's correction assumes the running
     * sum is the larger operand; here the NEW term is larger, the lost bits belong to the sum,
     * and Kahan's c does not see them. Neumaier checks which operand is larger. */
    const float x[4] = {1.0f, 0x1p25f, 1.0f, -0x1p25f};
    const char *names[] = {"ref", "naive", "pairwise", "kahan", "neumaier"};
    dlb_table *t =
        dlb_table_new("summation_kahan_vs_neumaier", "variant", "sum_of_1_2^25_1_-2^25", NULL);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        dlb_table_str(t, names[i]);
        dlb_table_numf(t, dl_sum(names[i], x, 4), "%.0f");
    }
    printf("Why Neumaier: the sum of [1, 2^25, 1, -2^25] is 2.\n");
    int rc = dlb_run_table(run, t);
    dlb_table_free(t);
    return rc;
}

/* ------------------------------------------------------------- experiment */

int fp_summation(dlb_run *run, const fp_config *cfg) {
    int rc = -1;
    float *x = NULL;
    dlb_table *tables[2] = {NULL, NULL}, *speed = NULL;
    dlb_plot *plots[2] = {NULL, NULL};
    const size_t metric_n = 10000000, ill_metric_n = 1000000;
    const size_t speed_n = cfg->quick ? (size_t)1 << 22 : (size_t)1 << 24;

    /* sizes 10, 20, 50, 100, ... up to max_n */
    size_t sizes[64];
    int nsizes = 0;
    for (size_t decade = 10; decade <= (size_t)cfg->max_n && nsizes < 60; decade *= 10) {
        const size_t steps[3] = {1, 2, 5};
        for (int s = 0; s < 3; s++)
            if (decade * steps[s] <= (size_t)cfg->max_n) sizes[nsizes++] = decade * steps[s];
    }
    size_t alloc_n = (size_t)cfg->max_n;
    if (alloc_n < metric_n) alloc_n = metric_n;
    if (alloc_n < speed_n) alloc_n = speed_n;
    if (dl_alloc((void **)&x, alloc_n * sizeof(float)) != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        return -1;
    }

    /* (1) relative error against n, on both kinds of data */
    static double err[2][64][NVARIANTS], kappa[2][64], floor_err[2][64];
    dlb_progress prog;
    dlb_progress_start(&prog, "summation sweep", 2L * nsizes);
    for (int d = 0; d < 2; d++) {
        for (int i = 0; i < nsizes; i++) {
            fill(x, sizes[i], d, cfg->seed);
            measure_errors(x, sizes[i], err[d][i], &kappa[d][i], &floor_err[d][i]);
            dlb_progress_update(&prog, (long)d * nsizes + i + 1);
        }
    }
    dlb_progress_end(&prog);

    for (int d = 0; d < 2; d++) {
        char name[64];
        snprintf(name, sizeof name, "summation_%s", DATA_NAME[d]);
        tables[d] = dlb_table_new(name, "n", "condition", "fp32_rounded", VARIANTS[0], VARIANTS[1],
                                  VARIANTS[2], VARIANTS[3], VARIANTS[4], VARIANTS[5], VARIANTS[6],
                                  VARIANTS[7], NULL);
        for (int i = 0; i < nsizes; i++) {
            dlb_table_int(tables[d], (long long)sizes[i]);
            dlb_table_numf(tables[d], kappa[d][i], "%.3g");
            dlb_table_numf(tables[d], floor_err[d][i], "%.1e");
            for (int v = 0; v < NVARIANTS; v++)
                dlb_table_numf(tables[d], err[d][i][v], "%.1e");
        }
        printf("(b) Relative error |sum − ref| / |ref| on %s data (condition = Σ|x|/|Σx|;\n"
               "    fp32_rounded = the error of the true sum rounded once to fp32, the best any "
               "fp32 sum can do)\n",
               d == DATA_BENIGN ? "benign [0,1)"
                                : "ill-conditioned (±2^17..2^19 pairs that cancel)");
        if (dlb_run_table(run, tables[d]) != 0) goto done;
        printf("\n");
    }

    /* the plots: one line per variant, and on the benign one the bounds (κ = 1) */
    for (int d = 0; d < 2; d++) {
        double xs[64], ys[64];
        char title[160];
        if (d == DATA_BENIGN)
            snprintf(title, sizeof title,
                     "fp32 summation error, benign data (uniform [0,1), condition 1)");
        else
            snprintf(title, sizeof title,
                     "fp32 summation error, ill-conditioned data (condition ~%.0e)",
                     nsizes ? kappa[d][nsizes - 1] : 0.0);
        plots[d] = dlb_plot_new(d == DATA_BENIGN ? "summation_error_benign" : "summation_error_ill",
                                title, "n", "relative error");
        dlb_plot_log(plots[d], true, true);
        /* the floor first, so the variants that reach it are drawn on top of it */
        for (int i = 0; i < nsizes; i++)
            xs[i] = (double)sizes[i], ys[i] = floor_err[d][i];
        dlb_plot_series(plots[d], "true sum rounded to fp32", xs, ys, nsizes);
        for (int pv = 0; pv < NPLOTTED; pv++) {
            int v = 0;
            while (strcmp(VARIANTS[v], PLOTTED[pv]) != 0)
                v++;
            for (int i = 0; i < nsizes; i++)
                xs[i] = (double)sizes[i], ys[i] = err[d][i][v];
            dlb_plot_series(plots[d], PLOTTED[pv], xs, ys, nsizes);
        }
        if (d == DATA_BENIGN) {
            const char *bound_of[] = {"naive", "pairwise", "kahan"};
            const char *bound_label[] = {"bound naive (n-1)u", "bound pairwise (7+log2(n/8))u",
                                         "bound Kahan 2u"};
            for (int b = 0; b < 3; b++) {
                for (int i = 0; i < nsizes; i++)
                    xs[i] = (double)sizes[i], ys[i] = dl_sum_error_bound(bound_of[b], sizes[i]);
                dlb_plot_series(plots[d], bound_label[b], xs, ys, nsizes);
            }
        }
        /* one colour per algorithm, its bound dashed in the same colour */
        dlb_plot_extra(
            plots[d],
            "set format x '1e%T'; set format y '1e%T'; "
            "set linetype 1 lc rgb '#aaaaaa'; set linetype 2 lc rgb '#d62728'; "
            "set linetype 3 lc rgb '#2ca02c'; set linetype 4 lc rgb '#1f77b4'; "
            "set linetype 5 lc rgb '#ff7f0e'; set linetype 6 lc rgb '#9467bd'; "
            "set linetype 7 lc rgb '#8c564b'; set linetype 8 lc rgb '#d62728' dt 2; "
            "set linetype 9 lc rgb '#2ca02c' dt 2; set linetype 10 lc rgb '#1f77b4' dt 2");
        if (dlb_run_plot(run, plots[d]) != 0) goto done;
    }

    if (kahan_vs_neumaier(run) != 0) goto done;
    printf("\n");

    /* (2) the headline points, computed whatever --max-n says so summary.csv always has them */
    double err_1e7[NVARIANTS], err_ill[NVARIANTS], kappa_ill, floor_1e7;
    fill(x, metric_n, DATA_BENIGN, cfg->seed);
    measure_errors(x, metric_n, err_1e7, NULL, &floor_1e7);
    fill(x, ill_metric_n, DATA_ILL, cfg->seed);
    measure_errors(x, ill_metric_n, err_ill, &kappa_ill, NULL);

    /* (3) speed on benign data far past the caches */
    fill(x, speed_n, DATA_BENIGN, cfg->seed);
    dlb_opts opts = fp_timing_opts(cfg);
    speed = dlb_table_new("summation_speed", "variant", "gbps", "time_ms", "mad_pct",
                          "relerr_benign_1e7", "bound_benign_1e7", "relerr_ill_1e6", "what_it_is",
                          NULL);
    int nall;
    const dl_variant *const *all = dl_variants("sum", &nall);
    dlb_progress_start(&prog, "summation speed", nall);
    for (int k = 0; k < nall; k++) {
        const dl_variant *v = all[k];
        dlb_progress_update(&prog, k);
        if (!dl_variant_available(v)) continue;
        double out = 0.0;
        fp_sum_ctx c = {.v = v, .a = {.x = x, .n = speed_n, .out = &out}};
        dlb_result r;
        if (dlb_measure(fp_run_sum, &c, &opts, &r) != 0) goto done;
        double gbps = dlb_gbps(dl_sum_cost(&c.a).bytes, r.time.median);
        int vi = -1;
        for (int j = 0; j < NVARIANTS; j++)
            if (strcmp(VARIANTS[j], v->name) == 0) vi = j;
        dlb_table_str(speed, v->name);
        dlb_table_numf(speed, gbps, "%.2f");
        dlb_table_numf(speed, r.time.median * 1e3, "%.3f");
        dlb_table_numf(speed, 100 * r.time.mad / r.time.median, r.time.unstable ? "%.1f!" : "%.1f");
        dlb_table_numf(speed, vi >= 0 ? err_1e7[vi] : 0.0, "%.1e");
        dlb_table_numf(speed, dl_sum_error_bound(v->name, metric_n), "%.1e");
        dlb_table_numf(speed, vi >= 0 ? err_ill[vi] : 0.0, "%.1e");
        dlb_table_str(speed, v->summary);
        char metric[64];
        snprintf(metric, sizeof metric, "sum_gbps_%s", v->name);
        dlb_run_metric(run, metric, gbps, "GB/s");
        char bench[64];
        snprintf(bench, sizeof bench, "sum/%s/%zu", v->name, speed_n);
        const dl_cost cost = dl_sum_cost(&c.a); /* per call: the roofline in make report */
        dlb_counter counters[] = {{"gbps", gbps}, {"flops", cost.flops}, {"bytes", cost.bytes}, {NULL, 0}};
        dlb_run_benchmark(run, bench, &r, counters);
    }
    dlb_progress_end(&prog);
    dlb_context mc;
    dlb_context_collect(&mc);
    printf(
        "Accuracy for speed: each variant on %zu floats (%.0f MB; this CPU's L2 %ld KiB, L3 %ld "
        "MiB),\n"
        "%d thread(s) for the OpenMP ones. relerr_* at n = 1e7 benign (the true sum rounded to "
        "fp32\n"
        "is off by %.1e: no fp32 sum can do better) and n = 1e6 ill-conditioned (condition %.3g);\n"
        "ref's error is 0 by definition; mad_pct = timing spread, '!' = unstable.\n",
        speed_n, speed_n * 4 / 1e6, mc.cache_bytes[1] / 1024, mc.cache_bytes[2] / (1024 * 1024),
        dl_threads_get(), floor_1e7, kappa_ill);
    if (dlb_run_table(run, speed) != 0) goto done;
    printf("\n");

    for (int v = 0; v < NVARIANTS; v++) {
        char metric[64];
        if (isnan(err_1e7[v])) continue;
        snprintf(metric, sizeof metric, "sum_relerr_%s_1e7", VARIANTS[v]);
        dlb_run_metric(run, metric, err_1e7[v], "ratio");
        snprintf(metric, sizeof metric, "sum_relerr_ill_%s_1e6", VARIANTS[v]);
        dlb_run_metric(run, metric, err_ill[v], "ratio");
    }
    dlb_run_metric(run, "sum_condition_number_ill_1e6", kappa_ill, "ratio");
    dlb_run_metric(run, "sum_relerr_fp32_rounded_1e7", floor_1e7, "ratio");
    rc = 0;
done:
    if (rc != 0) fprintf(stderr, "error: %s\n", dlb_error());
    for (int d = 0; d < 2; d++) {
        if (tables[d]) dlb_table_free(tables[d]);
        if (plots[d]) dlb_plot_free(plots[d]);
    }
    if (speed) dlb_table_free(speed);
    dl_free(x);
    return rc;
}
