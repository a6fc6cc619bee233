/*******************************************************************************************
 *
 *   dlab lesson 03 — LoRA: low-rank adapters
 *
 *   Fine-tuning every weight of a model needs a gradient and two AdamW moments per weight,
 *   and a full copy of the model per task. Hu et al. (2021) freeze the base weight W0 and
 *   learn only a low-rank update: h = W0·x + (α/r)·B·A·x, A (r×in) random, B (out×r) zero.
 *   This lesson takes the GPT pretrained in lesson 0 on one set of fortunes and fine-tunes
 *   it on another, and measures:
 *     (a) full fine-tuning vs LoRA on q,v over ranks 1..32, and on "attn" and "all":
 *         trainable parameters, optimizer state, file bytes, training memory, step time,
 *         validation loss on the new set and on the old one (forgetting);
 *     (b) a LoRA step against a full step, interleaved on the same batch;
 *     (c) the merge W0 + (α/r)·B·A: the same logits, and inference at the base's speed;
 *     (d) adapter switching: two adapter files, one base, no reload.
 *
 *   Run:   make lesson-3 && ./run            (./run --quick: a tiny model, seconds)
 *   Opts:  --quick --threads N --seed S --out DIR --device cpu|cuda --steps N --rank R
 *          --targets SPEC --full-lr LR --lora-lr LR --base FILE --adapter FILE
 *   Read:  lessons/03-lora/README.md, the chapter that explains what you see.
 *   Out:   results/03-lora/: one CSV per table, PNG plots, summary.csv, run.json, adapters.
 *
 ********************************************************************************************/
#include <stdio.h>
#include <string.h>

#include "dlab/dlab.h"
#include "dlab/lora.h"
#include "dlbench.h"
#include "lora_lesson.h"

static const int default_ranks[] = {1, 2, 4, 8, 16, 32};
static const int quick_ranks[] = {1, 4, 8};

/* The library's own checks on --rank and --targets, on a throwaway model of the lesson's
 * shape (the rank's upper bound is the layer's width). 0, or 2 after one line. */
static int check_adapter_args(const lora_config *cfg, const char *targets_spec, unsigned *targets) {
    if (dl_lora_parse_targets(targets_spec, targets) != DL_OK) {
        fprintf(stderr, "error: --targets %s: %s\n", targets_spec, dl_last_error());
        return 2;
    }
    dl_gpt_config probe_cfg = cfg->model;
    probe_cfg.vocab = 256;
    dl_gpt probe = {0};
    dl_lora lo = {0};
    dl_lora_config lc = {.rank = cfg->rank, .alpha = 2.0f * (float)(cfg->rank > 0 ? cfg->rank : 1),
                         .targets = *targets};
    dl_rng rng;
    dl_rng_seed(&rng, 1);
    dl_status s = dl_gpt_create(&probe, &probe_cfg, 1, 1, "ref");
    if (s == DL_OK) s = dl_lora_create(&lo, &probe, &lc, &rng);
    if (s == DL_OK) dl_lora_free(&lo);
    dl_gpt_free(&probe);
    if (s != DL_OK) {
        fprintf(stderr, "error: --rank %d: %s\n", cfg->rank, dl_last_error());
        return 2;
    }
    return 0;
}

int main(int argc, char **argv) {
    // ------------------------------------------------------------------------------- setup
    long steps = 0, rank = 4;
    double full_lr = 1e-3, lora_lr = 3e-3;
    const char *targets_spec = "qv", *adapter = NULL, *base_path = "results/00-model-stack/gpt.ckpt";
    const dlb_opt extra[] = {
        {"--steps", DLB_OPT_INT, &steps, "fine-tuning steps per method (unset: 300; --quick 15)", 1, 100000},
        {"--rank", DLB_OPT_INT, &rank, "rank of the adapter the merge check and --adapter use", 0, 0},
        {"--targets", DLB_OPT_STRING, &targets_spec, "its targets: qv, attn, all, or a list q,k,v,attn_proj,fc,fc_proj", 0, 0},
        {"--full-lr", DLB_OPT_DOUBLE, &full_lr, "peak learning rate of the full fine-tune", 1e-6, 1},
        {"--lora-lr", DLB_OPT_DOUBLE, &lora_lr, "peak learning rate of every LoRA run", 1e-6, 1},
        {"--base", DLB_OPT_STRING, &base_path, "the base GPT checkpoint (lesson 0's)", 0, 0},
        {"--adapter", DLB_OPT_STRING, &adapter, "only evaluate this saved adapter (of --rank, --targets) on the base", 0, 0},
        {NULL, DLB_OPT_FLAG, NULL, NULL, 0, 0},
    };
    dlb_cli cli;
    int parsed = dlb_cli_parse(argc, argv,
                               "lesson 03: LoRA (full fine-tuning vs low-rank adapters: parameters, "
                               "memory, speed, quality, forgetting, merging)",
                               "results/03-lora", extra, &cli);
    if (parsed == 1) return 0;
    if (parsed != 0) return 2;
    if (rank < -1000000 || rank > 1000000) {
        fprintf(stderr, "error: --rank %ld: out of range\n", rank);
        return 2;
    }

    lora_config cfg = {
        .quick = cli.quick,
        .seed = cli.seed,
        .threads = cli.threads,
        .variants = strcmp(cli.device, "cuda") == 0 ? "cuda" : "fast",
        .base_path = base_path,
        .out_dir = cli.out,
        .model = dl_gpt_default_config(0),
        .B = 8, .T = 64,
        .pretrain_steps = 400,
        .steps = 300,
        .val_batches = 16,
        .full_lr = (float)full_lr, .lora_lr = (float)lora_lr,
        .rank = (int)rank,
        .ranks = default_ranks, .n_ranks = 6,
        .group_rank = 4,
    };
    if (cli.quick) {
        /* lesson 0's --quick model: 2 layers, 2 heads, width 64 */
        cfg.model.n_layer = 2, cfg.model.n_head = 2, cfg.model.n_embd = 64, cfg.model.block_size = 64;
        cfg.B = 4, cfg.T = 32, cfg.pretrain_steps = 60, cfg.steps = 15, cfg.val_batches = 4;
        cfg.ranks = quick_ranks, cfg.n_ranks = 3;
    }
    if (steps > 0) cfg.steps = steps;
    if (check_adapter_args(&cfg, targets_spec, &cfg.targets) != 0) return 2;
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
    if (adapter) {
        if (lora_evaluate_adapter(&cfg, adapter) != DL_OK) {
            fprintf(stderr, "error: --adapter %s: %s\n", adapter, dl_last_error());
            return 1;
        }
        return 0;
    }

    dlb_run *run = NULL;
    if (dlb_run_start(&cli, "03-lora", NULL, NULL, &run) != 0) {
        fprintf(stderr, "error: %s\n", dlb_error());
        return 1;
    }
    dlb_run_param(run, "steps", "%ld", cfg.steps);
    dlb_run_param(run, "batch", "%dx%d", cfg.B, cfg.T);
    dlb_run_param(run, "full_lr", "%g", cfg.full_lr);
    dlb_run_param(run, "lora_lr", "%g", cfg.lora_lr);
    dlb_run_param(run, "lora_alpha", "%s", "2*rank");
    dlb_run_param(run, "rank", "%d", cfg.rank);
    dlb_run_param(run, "targets", "%s", targets_spec);
    printf("threads %d | %ld fine-tuning steps per method%s\nresults in %s/\n\n", cfg.threads, cfg.steps,
           cfg.quick ? " (--quick: a tiny model)" : "", dlb_run_dir(run));
    const double start_s = dlb_now();

    // ------------------------------------------------------------------------- experiment
    if (lora_experiment(run, &cfg) != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        dlb_run_abort(run);
        fprintf(stderr, "lesson 03 stopped early: the results in %s are incomplete\n", cli.out);
        return 1;
    }

    // -------------------------------------------------------------------------- conclusion
    printf("\nWhat to take away (numbers above and in %s/summary.csv):\n"
           "  (a) LoRA trains a tiny fraction of the weights; its optimizer state and its file shrink\n"
           "      by the same factor, and one base serves every adapter.\n"
           "  (b) the frozen base still runs forward and backward through activations: the step gets\n"
           "      cheaper by the weight gradients and the optimizer, not by the whole model.\n"
           "  (c) merged, the adapter costs nothing at inference; the logits agree to fp32 rounding.\n"
           "  (d) less capacity to change also means less to forget on the old set.\n"
           "Chapter: lessons/03-lora/README.md\n",
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
