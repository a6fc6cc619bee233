/*******************************************************************************************
 *
 *   dlab lesson 02 — online softmax
 *
 *   Softmax needs the row's maximum before it can sum e^(x − max), which costs a pass over
 *   the row. Milakov & Gimelshein (2018) keep a running maximum and rescale the running sum
 *   whenever the maximum grows, so one pass finds both: 3 memory accesses per element
 *   instead of 4. This lesson measures what that buys, and where:
 *     (a) why the max is subtracted at all (naive overflows), the online update step by
 *         step, and the pair rule that merges partial rows;
 *     (b) safe against online over the vocabulary size V, at batch 4000 and batch 10:
 *         GB/s, fraction of the copy bandwidth, and the online/safe ratio against 4/3;
 *     (c) softmax + top-k fused into one pass, against the pipeline, over k;
 *     (d) the same running (max, normalizer) inside causal attention (FlashAttention):
 *         no T×T score matrix, the same output;
 *     (e) with --device cuda: block- and warp-per-row CUDA kernels against cuDNN.
 *
 *   Run:   make lesson-2 && ./run            (./run --quick: a few seconds)
 *   Opts:  --quick --threads N --seed S --out DIR --device cpu|cuda --max-v V --budget E
 *   Read:  lessons/02-online-softmax/README.md, the chapter that explains what you see.
 *   Out:   results/02-online-softmax/: one CSV per table, PNG plots, summary.csv, run.json.
 *
 ********************************************************************************************/
#include <stdio.h>
#include <string.h>

#include "dlab/dlab.h"
#include "dlbench.h"
#include "sm_lesson.h"

int main(int argc, char **argv) {
    // ------------------------------------------------------------------------------- setup
    const long default_max_v = 1L << 24, quick_max_v = 1L << 16;
    const long default_budget = 1L << 26, quick_budget = 1L << 21;
    long max_v = default_max_v, budget = default_budget;
    const dlb_opt extra[] = {
        {"--max-v", DLB_OPT_INT, &max_v, "largest vocabulary of the sweep (--quick: 65536)", 64,
         1L << 26},
        {"--budget", DLB_OPT_INT, &budget,
         "most elements N·V per call; fewer rows at large V (--quick: 2^21)", 1L << 16, 1L << 30},
        {NULL, DLB_OPT_FLAG, NULL, NULL, 0, 0},
    };
    dlb_cli cli;
    int parsed = dlb_cli_parse(argc, argv,
                               "lesson 02: online softmax (safe vs online over V, fused top-k, "
                               "flash-style attention)",
                               "results/02-online-softmax", extra, &cli);
    if (parsed == 1) return 0;
    if (parsed != 0) return 2;

    sm_config cfg = {
        .quick = cli.quick,
        .max_v = cli.quick && max_v == default_max_v ? quick_max_v : max_v,
        .budget = cli.quick && budget == default_budget ? quick_budget : budget,
        .seed = cli.seed,
        .threads = cli.threads,
        .cuda = strcmp(cli.device, "cuda") == 0,
    };
    if (cfg.budget < 10 * cfg.max_v) cfg.budget = 10 * cfg.max_v; /* batch 10 at every V */
    if (dl_threads_set(cfg.threads) != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        return 2;
    }
    if (cfg.cuda) {
        const dl_ops *ops;
        if (dl_backend("cuda", &ops) != DL_OK) {
            fprintf(stderr, "error: --device cuda: %s\n", dl_last_error());
            return 1;
        }
    }

    dlb_run *run = NULL;
    dlb_context ctx;
    if (dlb_run_start(&cli, "02-online-softmax", NULL, &ctx, &run) != 0) {
        fprintf(stderr, "error: %s\n", dlb_error());
        return 1;
    }
    cfg.llc_bytes = ctx.cache_bytes[3] > 0 ? ctx.cache_bytes[3] : ctx.cache_bytes[2];
    /* The copy bandwidth this run is judged against: measured now in a full run (a shared
     * machine's bandwidth drifts over a day, and the fractions should compare like with
     * like); the cached figure in --quick. */
    if ((cfg.quick ? dlb_peak_get(NULL, cfg.threads, &cfg.peak)
                   : dlb_peak_measure(cfg.threads, &cfg.peak)) != 0) {
        fprintf(stderr, "error: measuring the copy bandwidth: %s\n", dlb_error());
        dlb_run_abort(run);
        return 1;
    }
    dlb_run_param(run, "max_v", "%ld", cfg.max_v);
    dlb_run_param(run, "budget_elements", "%ld", cfg.budget);
    char features[256];
    printf("dlab CPU features: %s\n", dl_cpu_describe(features, sizeof features));
    printf("threads %d | copy bandwidth %.1f GB/s | last-level cache %.0f MiB | V up to %ld, "
           "at most %ld elements a call%s\nresults in %s/\n\n",
           cfg.threads, cfg.peak.copy_gbps, cfg.llc_bytes / 1048576.0, cfg.max_v, cfg.budget,
           cfg.quick ? " (--quick)" : "", dlb_run_dir(run));
    const double start_s = dlb_now();

    // ------------------------------------------------------------------------- experiments
    if (sm_overflow(run, &cfg) != 0) goto failed;
    if (sm_sweep(run, &cfg) != 0) goto failed;
    if (sm_topk(run, &cfg) != 0) goto failed;
    if (sm_attention(run, &cfg) != 0) goto failed;
    if (cfg.cuda && sm_gpu(run, &cfg) != 0) goto failed;

    // -------------------------------------------------------------------------- conclusion
    printf("What to take away (numbers above and in %s/summary.csv):\n"
           "  (a) subtracting the row max keeps e^x finite; online softmax finds the max on the "
           "way,\n      rescaling the running sum by e^(m_old - m_new) whenever the max grows.\n"
           "  (b) one pass fewer is 4/3 less traffic, but it only shows where the re-read would "
           "come\n      from DRAM: on a CPU, when one row no longer fits in the core's cache.\n"
           "  (c) fusing top-k into the pass removes the write and the re-read of N·V "
           "probabilities.\n"
           "  (d) the same running (max, normalizer) lets attention skip its T×T score matrix.\n"
           "Chapter: lessons/02-online-softmax/README.md\n",
           dlb_run_dir(run));
    dlb_run_param(run, "elapsed_s", "%.1f", dlb_now() - start_s);
    printf("elapsed %.1f s\n", dlb_now() - start_s);

    // ---------------------------------------------------------------------------- teardown
    if (dlb_run_close(run) != 0) {
        fprintf(stderr, "error: %s\n", dlb_error());
        return 1;
    }
    return 0;

failed:
    dlb_run_abort(run);
    fprintf(stderr, "lesson 02 stopped early: the results in %s are incomplete\n", cli.out);
    return 1;
}
