/*******************************************************************************************
 *
 *   dlab lesson 04 — int8 and emergent outliers (LLM.int8())
 *
 *   int8 halves the bytes of fp16 and quarters fp32's, and an int8·int8 → int32 GEMM runs
 *   several times faster than fp32 on a CPU with VNNI. But one scale per tensor (or per row)
 *   is set by the largest |x|, and large transformers grow a few hidden dimensions with
 *   |x| up to ~60 in almost every layer: they crush every other value into a handful of
 *   int8 codes. Dettmers et al. (2022) keep those few dimensions in higher precision
 *   (LLM.int8(): vector-wise int8 for the rest). This lesson measures:
 *     (a) int8 GEMM vs fp32 sgemm (own and OpenBLAS), and the 4x smaller weights;
 *     (b) the activation magnitudes of the trained GPT, per layer and hidden dimension,
 *         against the paper's outlier criteria;
 *     (c) outliers made by a function-preserving rescaling (the small GPT has none), swept
 *         from |x| ~6 to ~60;
 *     (d) Table 1: perplexity of fp32, absmax, zero-point, vector-wise, LLM.int8();
 *     (e) zeroing the outlier dimensions vs as many random ones;
 *     (f) LLM.int8()'s overhead over plain int8 as outlier columns grow.
 *
 *   Run:   make lesson-4 && ./run            (./run --quick: a tiny model, seconds)
 *   Opts:  --quick --threads N --seed S --out DIR --threshold X --inject K --val-batches N
 *          --base FILE
 *   Read:  lessons/04-int8-outliers/README.md, the chapter that explains what you see.
 *   Out:   results/04-int8-outliers/: one CSV per table, PNG plots, summary.csv, run.json.
 *
 ********************************************************************************************/
#include <stdio.h>
#include <string.h>

#include "dlab/dlab.h"
#include "dlbench.h"
#include "int8_lesson.h"

int main(int argc, char **argv) {
    // ------------------------------------------------------------------------------- setup
    i8_config cfg;
    dlb_cli cli;
    int parsed = i8_cli_parse(argc, argv, &cfg, &cli);
    if (parsed == 1) return 0;
    if (parsed != 0) return 2;
    if (strcmp(cli.device, "cuda") == 0) {
        /* dl_qlinear is CPU-only: the whole lesson runs on the CPU either way; on a GPU machine
         * bench-int8_gemm --device cuda times cuBLASLt's and dp4a's int8 paths */
        const dl_ops *ops;
        if (dl_backend("cuda", &ops) != DL_OK) {
            fprintf(stderr, "error: --device cuda: %s\n", dl_last_error());
            return 1;
        }
        printf("note: --device cuda: the quantized linears (dl_qlinear) are CPU-only, so this lesson runs on "
               "the CPU; bench-int8_gemm --device cuda times the GPU int8 paths\n");
    }
    if (dl_threads_set(cfg.threads) != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        return 2;
    }
    dlb_run *run = NULL;
    if (dlb_run_start(&cli, "04-int8-outliers", "cpu", NULL, &run) != 0) {
        fprintf(stderr, "error: %s\n", dlb_error());
        return 1;
    }
    dlb_run_param(run, "inject", "%d", cfg.n_inject);
    printf("threads %d%s\nresults in %s/\n\n", cfg.threads, cfg.quick ? " (--quick: a tiny model, few windows)" : "",
           dlb_run_dir(run));
    const double start_s = dlb_now();

    // ------------------------------------------------------------------------- experiment
    if (i8_experiment(run, &cfg) != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        dlb_run_abort(run);
        fprintf(stderr, "lesson 04 stopped early: the results in %s are incomplete\n", cli.out);
        return 1;
    }

    // -------------------------------------------------------------------------- conclusion
    printf("\nWhat to take away (numbers above and in %s/summary.csv):\n"
           "  (a) int8 GEMM against fp32 sgemm: the ratio above; int8 weights are about 4x smaller.\n"
           "  (b) the paper's criteria against this small GPT: the count of outlier dimensions above.\n"
           "  (c) the injected outliers leave fp32 unchanged (the logit difference above) but set the\n"
           "      scale of absmax and zero-point (one per tensor) and, less, of vector-wise (one per row).\n"
           "  (d) LLM.int8() takes those columns through fp32: compare its row of Table 1 with fp32's.\n"
           "  (e) zeroing dimensions: outlier ones against random ones, in the ablation table.\n"
           "Chapter: lessons/04-int8-outliers/README.md\n",
           dlb_run_dir(run));
    dlb_run_param(run, "elapsed_s", "%.1f", dlb_now() - start_s);
    printf("elapsed %.1f s\n", dlb_now() - start_s);

    // ---------------------------------------------------------------------------- teardown
    if (dlb_run_close(run) != 0) {
        fprintf(stderr, "error: %s\n", dlb_error());
        return 1;
    }
    return 0;
}
