/*******************************************************************************************
 *
 *   dlab lesson 05 — sparse momentum: sparse networks trained from scratch
 *
 *   Most weights of a trained network can be removed; can a network be trained sparse from
 *   the start and still match the dense one? Dettmers & Zettlemoyer (2019) keep a fixed
 *   budget of weights and move it around during training: at each epoch end they prune the
 *   smallest weights of every layer, give the freed budget to the layers whose remaining
 *   weights have the largest mean momentum, and regrow, within each layer, where the
 *   momentum of the zero weights is largest. This lesson trains LeNet-300-100 on
 *   Fashion-MNIST that way and measures:
 *     (a) test accuracy against density (1 .. 50%) for sparse momentum, SET (random
 *         regrowth) and a static random mask, with the dense model as the line to reach;
 *     (b) how the weight budget moves between layers, epoch by epoch;
 *     (c) a sparse checkpoint (masks included) that reloads to the same accuracy;
 *     (d) what sparsity buys in time: a CSR kernel against the dense GEMM on one layer (the
 *         break-even density) and the whole training step against the dense step.
 *
 *   Run:   make lesson-5 && ./run            (./run --quick: one density, one seed, a subset)
 *   Opts:  --quick --threads N --seed S --out DIR --device cpu|cuda --epochs N --seeds N
 *          --density D (one density instead of the sweep) --prune-rate P --lr LR --no-timing
 *   Read:  lessons/05-sparse-momentum/README.md, the chapter that explains what you see.
 *   Out:   results/05-sparse-momentum/: one CSV per table, PNG plots, summary.csv, run.json,
 *          a sparse checkpoint.
 *
 ********************************************************************************************/
#include <stdio.h>
#include <string.h>

#include "dlab/dlab.h"
#include "dlbench.h"
#include "sparse_lesson.h"

static const double default_densities[] = {0.01, 0.02, 0.05, 0.10, 0.20, 0.50};
static const double quick_densities[] = {0.05};

int main(int argc, char **argv) {
    // ------------------------------------------------------------------------------- setup
    long epochs = 0, seeds = 0, paper_epochs = -1;
    double density = 0, prune_rate = 0.5, lr = 2e-3;
    bool no_timing = false;
    const dlb_opt extra[] = {
        {"--epochs", DLB_OPT_INT, &epochs, "epochs per training run (unset: 5; --quick 2 on a subset)", 1, SP_MAX_EPOCHS},
        {"--seeds", DLB_OPT_INT, &seeds, "seeds per (method, density) (unset: 3; --quick 1)", 1, SP_MAX_SEEDS},
        {"--density", DLB_OPT_DOUBLE, &density, "train at this one density in (0, 1) instead of the sweep", 0, 0},
        {"--prune-rate", DLB_OPT_DOUBLE, &prune_rate, "initial prune rate p in (0, 1), cosine-decayed (paper: 0.5)", 0, 0},
        {"--lr", DLB_OPT_DOUBLE, &lr, "AdamW peak learning rate", 1e-6, 1},
        {"--no-timing", DLB_OPT_FLAG, &no_timing, "skip the sparse-compute timings", 0, 0},
        {"--paper-epochs", DLB_OPT_INT, &paper_epochs, "epochs of the 5% comparison the targets use (unset: 30; 0 skips it; --quick 0)", 0, SP_MAX_EPOCHS},
        {NULL, DLB_OPT_FLAG, NULL, NULL, 0, 0},
    };
    dlb_cli cli;
    int parsed = dlb_cli_parse(argc, argv,
                               "lesson 05: sparse momentum (sparse training from scratch vs SET, "
                               "static masks and dense; what sparse compute buys)",
                               "results/05-sparse-momentum", extra, &cli);
    if (parsed == 1) return 0;
    if (parsed != 0) return 2;
    /* Was --density given at all? (Any value it holds may be a bad one to refuse.) */
    bool one_density_run = false;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--density") == 0 || strncmp(argv[i], "--density=", 10) == 0) one_density_run = true;
    /* The library's checks say what is wrong with a density or a prune rate. */
    dl_sparse_config probe = dl_sparse_defaults(DL_SPARSE_MOMENTUM, one_density_run ? density : 0.05);
    probe.prune_rate = prune_rate;
    if (probe.prune_rate_min > prune_rate) probe.prune_rate_min = prune_rate;
    if (dl_sparse_config_check(&probe) != DL_OK || (one_density_run && density >= 1)) {
        fprintf(stderr, "error: --density/--prune-rate: %s\n",
                dl_sparse_config_check(&probe) == DL_OK
                    ? "density must be below 1 (1 is the dense run, always included)"
                    : dl_last_error());
        dlb_cli_usage(argv[0], "lesson 05: sparse momentum", extra, stderr);
        return 2;
    }

    sp_config cfg = {
        .quick = cli.quick,
        .seed = cli.seed,
        .n_seeds = 3,
        .threads = cli.threads,
        .variants = strcmp(cli.device, "cuda") == 0 ? "cuda" : "fast",
        .epochs = 5,
        .train_count = 60000,
        .test_count = 10000,
        .densities = default_densities,
        .n_densities = 6,
        .prune_rate = prune_rate,
        .lr = (float)lr,
        .timing = !no_timing,
        .paper_epochs = 30,
    };
    if (cli.quick) {
        cfg.n_seeds = 1, cfg.epochs = 2, cfg.train_count = 4096, cfg.test_count = 2000;
        cfg.densities = quick_densities, cfg.n_densities = 1;
        cfg.paper_epochs = 0;
    }
    if (paper_epochs >= 0) cfg.paper_epochs = (int)paper_epochs;
    if (epochs > 0) cfg.epochs = (int)epochs;
    if (seeds > 0) cfg.n_seeds = (int)seeds;
    const double one_density[1] = {density};
    if (one_density_run) cfg.densities = one_density, cfg.n_densities = 1, cfg.paper_epochs = 0;
    if (dl_threads_set(cfg.threads) != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        return 2;
    }
    if (strcmp(cli.device, "cuda") == 0) {
        const dl_ops *ops;
        if (dl_backend("cuda", &ops) != DL_OK) {
            fprintf(stderr, "error: --device cuda: %s\n", dl_last_error());
            return 1;
        }
    }

    dlb_run *run = NULL;
    if (dlb_run_start(&cli, "05-sparse-momentum", NULL, NULL, &run) != 0) {
        fprintf(stderr, "error: %s\n", dlb_error());
        return 1;
    }
    dlb_run_param(run, "seeds", "%d", cfg.n_seeds);
    dlb_run_param(run, "epochs", "%d", cfg.epochs);
    dlb_run_param(run, "train_images", "%d", cfg.train_count);
    dlb_run_param(run, "test_images", "%d", cfg.test_count);
    dlb_run_param(run, "prune_rate", "%g", cfg.prune_rate);
    dlb_run_param(run, "lr", "%g", cfg.lr);
    printf("threads %d | device %s%s\nresults in %s/\n\n", cfg.threads, cli.device,
           cfg.quick ? " | --quick: one density, one seed, 2 epochs on 4096 images" : "",
           dlb_run_dir(run));
    const double start_s = dlb_now();

    // ------------------------------------------------------------------------- experiment
    if (sp_experiment(run, &cfg) != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        dlb_run_abort(run);
        fprintf(stderr, "lesson 05 stopped early: the results in %s are incomplete\n", cli.out);
        return 1;
    }

    // -------------------------------------------------------------------------- conclusion
    printf("\nWhat to take away (numbers above and in %s/summary.csv):\n"
           "  (a) at a few percent of the weights, moving them where the momentum says keeps most of\n"
           "      the dense accuracy; a mask chosen once at random (static) loses the most.\n"
           "  (b) the budget drifts between layers: the small last layers fill up, the big first one\n"
           "      gives weights away (the per-layer density table).\n"
           "  (c) fewer weights is not automatically less time: a CSR kernel does irregular work and\n"
           "      only beats the dense GEMM below the break-even density.\n"
           "Chapter: lessons/05-sparse-momentum/README.md\n",
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
