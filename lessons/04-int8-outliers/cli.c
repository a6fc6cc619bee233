/* cli.c — lesson 4's command line: the common options (dlb_cli_parse) plus the threshold, the
 * number of injected outlier dimensions, the base checkpoint and the evaluation length; the
 * defaults of the full run and of --quick. In its own file so tests can feed it bad input.
 * Left out: choosing the sweep's magnitudes or GEMM sizes from the command line.
 */
#include <stdio.h>
#include <string.h>

#include "int8_lesson.h"

static const char about[] =
    "lesson 04: int8 and emergent outliers (int8 vs fp32 GEMM speed, outlier features in the GPT, "
    "Table 1 of LLM.int8(): perplexity of fp32, absmax, zero-point, vector-wise and LLM.int8() "
    "across outlier magnitudes, the zeroing ablation, LLM.int8()'s overhead)";

static void set_defaults(i8_config *cfg, bool quick) {
    static const double magnitudes[] = {6, 10, 20, 40, 60, 120, 240};
    static const int gemm_sizes[] = {1024, 2048, 4096}, gemm_quick[] = {256, 512};
    static const int counts[] = {0, 1, 4, 16, 64, 256}, counts_quick[] = {0, 4, 16, 64};
    memset(cfg, 0, sizeof *cfg);
    cfg->model = dl_gpt_default_config(0);
    cfg->B = 8, cfg->T = 64;
    cfg->pretrain_steps = 400;
    cfg->val_batches = 32;
    cfg->threshold = 6.0f;
    cfg->n_inject = 3;
    cfg->n_magnitudes = 7;
    memcpy(cfg->magnitudes, magnitudes, sizeof magnitudes);
    cfg->ablation_draws = 5;
    cfg->n_gemm_sizes = 3;
    memcpy(cfg->gemm_sizes, gemm_sizes, sizeof gemm_sizes);
    cfg->n_overhead_counts = 6;
    memcpy(cfg->overhead_counts, counts, sizeof counts);
    cfg->overhead_N = 2048, cfg->overhead_C = 1024;
    if (quick) {
        /* lesson 0's --quick model: 2 layers, 2 heads, width 64 */
        cfg->model.n_layer = 2, cfg->model.n_head = 2, cfg->model.n_embd = 64, cfg->model.block_size = 64;
        cfg->B = 4, cfg->T = 32, cfg->pretrain_steps = 60, cfg->val_batches = 4;
        cfg->ablation_draws = 2;
        cfg->n_gemm_sizes = 2;
        memcpy(cfg->gemm_sizes, gemm_quick, sizeof gemm_quick);
        cfg->n_overhead_counts = 4;
        memcpy(cfg->overhead_counts, counts_quick, sizeof counts_quick);
        cfg->overhead_N = 256, cfg->overhead_C = 256;
    }
}

int i8_cli_parse(int argc, char **argv, i8_config *cfg, dlb_cli *cli) {
    double threshold = 6.0;
    long inject = 3, val_batches = 0;
    const char *base_path = "results/00-model-stack/gpt.ckpt";
    const dlb_opt extra[] = {
        {"--threshold", DLB_OPT_DOUBLE, &threshold, "LLM.int8()'s outlier threshold and the criteria's |x| (paper: 6)", 1e-3, 1e6},
        {"--inject", DLB_OPT_INT, &inject, "hidden dimensions made into outliers", 1, I8_MAX_INJECT},
        {"--val-batches", DLB_OPT_INT, &val_batches, "validation windows per perplexity (0: 32, --quick 4)", 0, 100000},
        {"--base", DLB_OPT_STRING, &base_path, "the base GPT checkpoint (lesson 0's)", 0, 0},
        {NULL, DLB_OPT_FLAG, NULL, NULL, 0, 0},
    };
    int parsed = dlb_cli_parse(argc, argv, about, "results/04-int8-outliers", extra, cli);
    if (parsed != 0) return parsed;
    set_defaults(cfg, cli->quick);
    cfg->quick = cli->quick, cfg->seed = cli->seed, cfg->threads = cli->threads;
    cfg->out_dir = cli->out, cfg->base_path = base_path;
    cfg->threshold = (float)threshold;
    cfg->n_inject = (int)inject;
    if (val_batches > 0) cfg->val_batches = (int)val_batches;
    if (cfg->n_inject > cfg->model.n_embd) {
        fprintf(stderr, "error: --inject %d: the model has only %d hidden dimensions\n", cfg->n_inject,
                cfg->model.n_embd);
        return 2;
    }
    return 0;
}
