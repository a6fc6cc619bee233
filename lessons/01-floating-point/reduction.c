/* reduction.c — lesson 1 (d): floating-point addition is not associative, so a parallel sum's
 * bits depend on how the work was split.
 *
 * The same array is summed by `omp_naive` (an OpenMP reduction(+:) in fp32) at 1, 2, 3 and 4
 * threads, several times each: every thread count splits the array differently and so rounds
 * differently, and from 3 threads on the per-thread sums are combined in whatever order the
 * threads arrive. `tree_fixed` splits into fixed 1024-element chunks and combines their sums
 * by a fixed tree, so its bits cannot depend on the threads. Then what each costs, in GB/s.
 * (3 and 4 threads oversubscribe a 2-core machine; their timings say little, their bits do.)
 * Left out: deterministic reductions on the GPU (atomics), which a later lesson takes up.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fp_lesson.h"

void fp_fill_mixed(float *x, size_t n, dl_rng *rng) {
    for (size_t i = 0; i < n; i++) {
        int k = (int)dl_rng_below(rng, 25) - 12;
        x[i] = ldexpf((float)dl_rng_normal(rng), k);
    }
}

dlb_opts fp_timing_opts(const fp_config *cfg) {
    dlb_opts o = dlb_opts_default();
    if (cfg->quick) {
        o.warmup_s = 0.01;
        o.min_samples = 5;
        o.max_samples = 10;
        o.max_time_s = 0.15;
    }
    return o;
}

void fp_run_sum(void *ctx) {
    fp_sum_ctx *c = ctx;
    (void)dl_sum_run(c->v, &c->a);
}

/* Distinct values among n bit patterns. */
static int count_distinct(const uint32_t *bits, int n) {
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++)
            seen = bits[j] == bits[i];
        distinct += !seen;
    }
    return distinct;
}

int fp_reduction(dlb_run *run, const fp_config *cfg) {
    enum { NT = 4, MAX_REPEATS = 8 };
    const int thread_counts[NT] = {1, 2, 3, 4};
    const int repeats = cfg->quick ? 4 : MAX_REPEATS;
    const size_t n = cfg->quick ? (size_t)1 << 20 : (size_t)1 << 23;
    int rc = -1;
    const char *why = NULL; /* set when a libdlab call failed (else the harness's message) */
    float *x = NULL;
    dlb_table *t = NULL;
    if (dl_alloc((void **)&x, n * sizeof(float)) != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        return -1;
    }
    dl_rng rng;
    dl_rng_seed_stream(&rng, cfg->seed, 0xD0ull);
    fp_fill_mixed(x, n, &rng);
    const double want = dl_sum("ref", x, n);
    const dl_variant *omp = dl_variant_find("sum", "omp_naive"),
                     *tree = dl_variant_find("sum", "tree_fixed");
    dlb_opts opts = fp_timing_opts(cfg);

    uint32_t omp_bits[NT * MAX_REPEATS], tree_bits[NT * MAX_REPEATS];
    t = dlb_table_new("reduction_threads", "threads", "omp_naive_bits", "omp_runs_distinct",
                      "omp_relerr", "omp_gbps", "tree_fixed_bits", "tree_runs_distinct",
                      "tree_relerr", "tree_gbps", NULL);
    dlb_progress prog;
    dlb_progress_start(&prog, "reduction at 1..4 threads", NT);
    for (int k = 0; k < NT; k++) {
        if (dl_threads_set(thread_counts[k]) != DL_OK) {
            why = dl_last_error();
            goto done;
        }
        for (int r = 0; r < repeats; r++) {
            omp_bits[k * repeats + r] = fp_bits((float)dl_sum("omp_naive", x, n));
            tree_bits[k * repeats + r] = fp_bits((float)dl_sum("tree_fixed", x, n));
        }
        double out;
        fp_sum_ctx co = {.v = omp, .a = {.x = x, .n = n, .out = &out}},
                   ct = {.v = tree, .a = {.x = x, .n = n, .out = &out}};
        dlb_result ro, rt;
        if (dlb_measure(fp_run_sum, &co, &opts, &ro) != 0 ||
            dlb_measure(fp_run_sum, &ct, &opts, &rt) != 0)
            goto done;
        char hex[16];
        float first_omp, first_tree;
        uint32_t ob = omp_bits[k * repeats], tb = tree_bits[k * repeats];
        memcpy(&first_omp, &ob, 4);
        memcpy(&first_tree, &tb, 4);
        dlb_table_int(t, thread_counts[k]);
        snprintf(hex, sizeof hex, "0x%08X", ob);
        dlb_table_str(t, hex);
        dlb_table_int(t, count_distinct(omp_bits + k * repeats, repeats));
        dlb_table_numf(t, fabs(first_omp - want) / fabs(want), "%.2e");
        dlb_table_numf(t, dlb_gbps(4.0 * n, ro.time.median), "%.2f");
        snprintf(hex, sizeof hex, "0x%08X", tb);
        dlb_table_str(t, hex);
        dlb_table_int(t, count_distinct(tree_bits + k * repeats, repeats));
        dlb_table_numf(t, fabs(first_tree - want) / fabs(want), "%.2e");
        dlb_table_numf(t, dlb_gbps(4.0 * n, rt.time.median), "%.2f");
        char metric[64];
        snprintf(metric, sizeof metric, "omp_sum_gbps_%dt", thread_counts[k]);
        dlb_run_metric(run, metric, dlb_gbps(4.0 * n, ro.time.median), "GB/s");
        snprintf(metric, sizeof metric, "tree_sum_gbps_%dt", thread_counts[k]);
        dlb_run_metric(run, metric, dlb_gbps(4.0 * n, rt.time.median), "GB/s");
        dlb_progress_update(&prog, k + 1);
    }
    dlb_progress_end(&prog);

    const int omp_distinct = count_distinct(omp_bits, NT * repeats);
    const int tree_distinct = count_distinct(tree_bits, NT * repeats);
    printf("(d) The same %zu mixed-magnitude floats summed at 1..4 threads, %d runs each (bits = "
           "the fp32\n"
           "    result of the first run; *_runs_distinct = different results among that thread "
           "count's runs)\n",
           n, repeats);
    if (dlb_run_table(run, t) != 0) goto done;
    printf("distinct bit patterns over all %d runs: omp_naive %d, tree_fixed %d\n\n", NT * repeats,
           omp_distinct, tree_distinct);
    dlb_run_metric(run, "omp_sum_distinct_bit_patterns", omp_distinct, "patterns");
    dlb_run_metric(run, "tree_sum_distinct_bit_patterns", tree_distinct, "patterns");
    rc = 0;
done:
    if (rc != 0) fprintf(stderr, "error: %s\n", why ? why : dlb_error());
    if (dl_threads_set(cfg->threads) != DL_OK) rc = -1;
    if (t) dlb_table_free(t);
    dl_free(x);
    return rc;
}
