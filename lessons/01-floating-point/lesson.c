/*******************************************************************************************
 *
 *   dlab lesson 01 — floating-point error
 *
 *   A float is a number with a fixed count of significant bits, so nearly every operation
 *   rounds. This lesson measures what that costs, four ways:
 *     (a) the Patriot clock: a 23-bit chop of 1/10, 100 hours, 0.3433 s, 687 m;
 *     (b) summation: naive, pairwise, Kahan, Neumaier (and SIMD and parallel forms) against
 *         an extended-precision reference, n = 10 … 10^8, and their speed;
 *     (c) formats: fp32, fp16, bf16, fp8 from their bit layouts; software rounding checked
 *         against the CPU's own instructions; stochastic rounding;
 *     (d) non-associativity: a parallel sum's bits depend on the thread count, unless the
 *         reduction order is fixed;
 *     (e) loss scaling: real MLP gradients cast to fp16 — how many vanish, at which scale.
 *
 *   Run:   make lesson-1 && ./run            (./run --quick: well under 30 s)
 *   Opts:  --quick --threads N --seed S --out DIR --max-n N   (./run --help)
 *   Read:  lessons/01-floating-point/README.md, the chapter that explains what you see.
 *   Out:   results/01-floating-point/: one CSV per table, PNG plots, summary.csv, run.json.
 *
 *   The experiments live in patriot.c, summation.c, formats.c and reduction.c (declared in
 *   fp_lesson.h, so tests/test_lesson01.c can check their exact figures).
 *
 ********************************************************************************************/
#include <stdio.h>
#include <string.h>

#include "dlab/dlab.h"
#include "dlbench.h"
#include "fp_lesson.h"

int main(int argc, char **argv) {
    // ------------------------------------------------------------------------------- setup
    const long default_max_n = 100000000L, quick_max_n = 1000000L;
    long max_n = default_max_n; /* left at the default, --quick lowers it to quick_max_n */
    const dlb_opt extra[] = {
        {"--max-n", DLB_OPT_INT, &max_n, "largest summation size (--quick without --max-n: 1e6)",
         10, 1e9},
        {NULL, DLB_OPT_FLAG, NULL, NULL, 0, 0},
    };
    dlb_cli cli;
    int parsed =
        dlb_cli_parse(argc, argv,
                      "lesson 01: floating-point error (Patriot clock, summation, formats, "
                      "non-associativity)",
                      "results/01-floating-point", extra, &cli);
    if (parsed == 1) return 0;
    if (parsed != 0) return 2;

    fp_config cfg = {
        .quick = cli.quick,
        .max_n = cli.quick && max_n == default_max_n ? quick_max_n : max_n,
        .seed = cli.seed,
        .threads = cli.threads,
    };
    if (dl_threads_set(cfg.threads) != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        return 2;
    }

    dlb_run *run = NULL;
    if (dlb_run_start(&cli, "01-floating-point", "cpu", NULL, &run) != 0) {
        fprintf(stderr, "error: %s\n", dlb_error());
        return 1;
    }
    dlb_run_param(run, "max_n", "%ld", cfg.max_n);
    char features[256];
    printf("dlab CPU features: %s\n", dl_cpu_describe(features, sizeof features));
    if (strcmp(cli.device, "cpu") != 0)
        printf("note: lesson 1 measures the CPU's arithmetic; --device %s is ignored.\n",
               cli.device);
    printf("threads %d, seed %llu, sizes up to %ld%s; results in %s/\n\n", cfg.threads,
           (unsigned long long)cfg.seed, cfg.max_n, cfg.quick ? " (--quick)" : "",
           dlb_run_dir(run));
    const double start_s = dlb_now();

    // ------------------------------------------------------------------------- experiments
    if (fp_patriot(run, &cfg) != 0) goto failed;
    if (fp_summation(run, &cfg) != 0) goto failed;
    if (fp_formats(run, &cfg) != 0) goto failed;
    if (fp_reduction(run, &cfg) != 0) goto failed;
    if (fp_loss_scaling(run, &cfg) != 0) goto failed;

    // -------------------------------------------------------------------------- conclusion
    printf(
        "What to take away (the numbers are in the tables above and in %s/summary.csv):\n"
        "  (a) a representation error of 9.5e-8 s per tick becomes %.4f s after 100 hours because "
        "it\n"
        "      is multiplied, not averaged; counting in integers makes it exactly zero.\n"
        "  (b) naive fp32 summation's error grows with n; pairwise grows with log n; Kahan and\n"
        "      Neumaier stay near one rounding — and wide SIMD forms of them run at memory speed.\n"
        "  (c) every format is (sign, exponent, mantissa); its epsilon, range and subnormals "
        "follow\n"
        "      from the bit counts. Round-to-nearest can stall a long accumulation; stochastic\n"
        "      rounding cannot, in expectation.\n"
        "  (d) a parallel sum is reproducible only if its reduction ORDER is fixed, not its "
        "threads.\n"
        "  (e) small gradients vanish in fp16; scaling the loss by 2^k moves them into range.\n"
        "Chapter: lessons/01-floating-point/README.md\n",
        dlb_run_dir(run), patriot_clock_error_s(100));
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
    fprintf(stderr, "lesson 01 stopped early: the results in %s are incomplete\n", cli.out);
    return 1;
}
