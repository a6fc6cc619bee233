/*******************************************************************************************
 *
 *   dlab lesson 00 — the model stack
 *
 *   Trains the models the later lessons fine-tune, quantize, sparsify and parallelize, on
 *   real data, with the kernels of libdlab:
 *     (1) an MLP (LeNet-300-100) on Fashion-MNIST          — train_mlp.c
 *     (2) a CNN (two conv + pool blocks) on Fashion-MNIST   — train_cnn.c
 *     (3) a character-level GPT on the fortunes corpus      — train_gpt.c
 *
 *   Run:   make lesson-0 && ./run            (./run --quick: a subset, one epoch)
 *   Opts:  --quick --threads N --seed S --out DIR --mlp-epochs N --cnn-epochs N --gpt-steps N
 *          --resume (the MLP) --device cpu|cuda                     (./run --help)
 *          --device cuda trains the same three models on the GPU (cuBLAS, cuDNN and dlab's
 *          own CUDA kernels); the data stays on the host and each batch is copied in.
 *   Out:   results/00-model-stack/: curves (CSV + PNG), summary.csv, run.json, samples,
 *          mlp.ckpt, cnn.ckpt, gpt.ckpt
 *
 ********************************************************************************************/
#include <stdio.h>
#include <string.h>

#include "dlab/dlab.h"
#include "dlab/data.h"
#include "dlbench.h"
#include "stack_lesson.h"

int main(int argc, char **argv) {
    // ------------------------------------------------------------------------------- setup
    stack_config cfg = {.mlp_epochs = 10, .cnn_epochs = 5};
    const dlb_opt extra[] = {
        {"--mlp-epochs", DLB_OPT_INT, &cfg.mlp_epochs, "epochs of MLP training", 1, 1000},
        {"--cnn-epochs", DLB_OPT_INT, &cfg.cnn_epochs, "epochs of CNN training", 1, 1000},
        {"--resume", DLB_OPT_FLAG, &cfg.resume, "continue from the checkpoints in --out", 0, 0},
        {"--gpt-steps", DLB_OPT_INT, &cfg.gpt_steps,
         "training steps of the character-level GPT (default 1000, about 4 min; --quick 150)", 1,
         10000000},
        {NULL, DLB_OPT_FLAG, NULL, NULL, 0, 0},
    };
    dlb_cli cli;
    int parsed = dlb_cli_parse(argc, argv, "lesson 00: the model stack (MLP and CNN on Fashion-MNIST, a character-level GPT on fortunes)",
                               "results/00-model-stack", extra, &cli);
    if (parsed == 1) return 0;
    if (parsed != 0) return 2;
    cfg.quick = cli.quick, cfg.seed = cli.seed, cfg.threads = cli.threads, cfg.device = cli.device;
    /* Ask for the device before loading anything: no GPU is one line and a non-zero exit. */
    const dl_ops *ops;
    if (dl_backend(cli.device, &ops) != DL_OK) {
        fprintf(stderr, "error: --device %s: %s\n", cli.device, dl_last_error());
        return 1;
    }

    dl_image_set train = {0}, test = {0};
    dl_status s = dl_fashion_mnist_load(&train, NULL, "train");
    if (s == DL_OK) s = dl_fashion_mnist_load(&test, NULL, "test");
    if (s != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        dl_image_set_free(&train);
        return 1;
    }
    double mean, std;
    dl_image_set_stats(&train, &mean, &std);
    dl_image_set_normalize(&train, mean, std);
    dl_image_set_normalize(&test, mean, std);

    dlb_run *run;
    if (dlb_run_start(&cli, "00-model-stack", ops->name, NULL, &run) != 0) {
        fprintf(stderr, "error: %s\n", dlb_error());
        dl_image_set_free(&train), dl_image_set_free(&test);
        return 1;
    }
    dlb_run_param(run, "mlp_epochs", "%ld", cfg.mlp_epochs);
    dlb_run_param(run, "cnn_epochs", "%ld", cfg.cnn_epochs);
    dlb_run_param(run, "gpt_steps", "%ld", cfg.gpt_steps);
    printf("Fashion-MNIST: %d training and %d test images of %d×%d, normalized with the training "
           "mean %.4f and std %.4f\n\n",
           train.count, test.count, train.rows, train.cols, mean, std);

    // ------------------------------------------------------------------------- experiments
    int rc = stack_train_mlp(run, &cfg, &train, &test);
    if (rc == 0) rc = stack_train_cnn(run, &cfg, &train, &test);
    if (rc == 0) rc = stack_train_gpt(run, &cfg);

    // ---------------------------------------------------------------------------- teardown
    dl_image_set_free(&train), dl_image_set_free(&test);
    if (rc != 0) {
        dlb_run_abort(run);
        fprintf(stderr, "lesson 00 stopped early: the results in %s are incomplete\n", cli.out);
        return 1;
    }
    if (dlb_run_close(run) != 0) {
        fprintf(stderr, "error: %s\n", dlb_error());
        return 1;
    }
    return 0;
}
