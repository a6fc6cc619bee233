/* bench/train_gpt.c — training throughput of dlab's GPT (tokens/s), the dlab half of
 * `scripts/bench-pytorch --model gpt` (the same model, batch and threads in PyTorch).
 *
 * One step = forward + backward + AdamW on a batch of random tokens; default model 4 layers,
 * 4 heads, width 128, context 128, vocabulary 96, batch 16 × 128. Prints one line:
 *   dlab gpt B=16 T=128 threads=2 tokens_per_s=... (median of N samples, mad ...%)
 *
 * --device cuda runs the same step with the model created with "cuda" (parameters, gradients,
 * activations and AdamW's m and v in device memory; the optimizer is the CUDA backend's) and
 * ends every step with ops->sync(), so the wall-clock samples count the GPU's work, not only
 * the launches. Its line names the device and the GPU:
 *   dlab gpt B=16 T=128 device=cuda gpu="NVIDIA H100 80GB HBM3" tokens_per_s=... (median ...)
 * Without a GPU: one line saying why, exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/dlab.h"
#include "dlab/gpt.h"
#include "dlab/optim.h"
#include "dlbench.h"

typedef struct step_ctx {
    dl_gpt *m;
    const dl_variant *optim; /* the model's backend's: CPU or CUDA */
    int *tokens, *targets, B, T; /* host memory: dl_gpt_forward copies them over */
    float *mom, *var;            /* the model's device */
    long step;
} step_ctx;

static void train_step(void *p) {
    step_ctx *c = p;
    float loss;
    dl_adamw_args a = {.n = c->m->n_params, .param = c->m->params, .grad = c->m->grads, .m = c->mom,
                       .v = c->var, .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                       .weight_decay = 0.1f, .step = ++c->step};
    if (dl_gpt_forward(c->m, c->tokens, c->targets, c->B, c->T, &loss) != DL_OK ||
        dl_gpt_backward(c->m) != DL_OK || dl_adamw_run(c->optim, &a) != DL_OK ||
        c->m->ops->sync() != DL_OK) {
        fprintf(stderr, "bench-train_gpt: %s\n", dl_last_error());
        exit(1);
    }
}

int main(int argc, char **argv) {
    long B = 16, T = 128, vocab = 96;
    dlb_opt extra[] = {{"--batch", DLB_OPT_INT, &B, "sequences per step", 1, 4096},
                       {"--seq", DLB_OPT_INT, &T, "tokens per sequence (<= 128)", 1, 128},
                       {"--vocab", DLB_OPT_INT, &vocab, "vocabulary size", 2, 65536},
                       {NULL, 0, NULL, NULL, 0, 0}};
    dlb_cli cli;
    int rc = dlb_cli_parse(argc, argv, "training throughput of the GPT (tokens/s)", "results/bench",
                           extra, &cli);
    if (rc) return rc == 1 ? 0 : 2;
    dl_threads_set(cli.threads);
    bool on_gpu = strcmp(cli.device, "cuda") == 0;
    dl_gpt m;
    dl_gpt_config cfg = dl_gpt_default_config((int)vocab);
    dl_rng r;
    dl_rng_seed(&r, cli.seed);
    size_t n = (size_t)B * T;
    step_ctx c = {.m = &m, .B = (int)B, .T = (int)T};
    if (dl_gpt_create(&m, &cfg, (int)B, (int)T, on_gpu ? "cuda" : "fast") != DL_OK) {
        fprintf(stderr, "bench-train_gpt: --device %s: %s\n", cli.device, dl_last_error());
        return 1;
    }
    size_t state_bytes = m.n_params * sizeof(float);
    if (dl_gpt_init(&m, &r) != DL_OK || dl_backend_variant(m.ops, "optim", &c.optim) != DL_OK ||
        dl_backend_alloc_zeroed(m.ops, (void **)&c.mom, state_bytes) != DL_OK ||
        dl_backend_alloc_zeroed(m.ops, (void **)&c.var, state_bytes) != DL_OK ||
        dl_alloc((void **)&c.tokens, n * sizeof(int)) != DL_OK ||
        dl_alloc((void **)&c.targets, n * sizeof(int)) != DL_OK) {
        fprintf(stderr, "bench-train_gpt: %s\n", dl_last_error());
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        c.tokens[i] = (int)dl_rng_below(&r, (uint64_t)vocab);
        c.targets[i] = (int)dl_rng_below(&r, (uint64_t)vocab);
    }
    dlb_opts o = dlb_opts_default();
    o.min_sample_s = 0.1;
    o.min_samples = 5;
    dlb_result res;
    if (dlb_measure(train_step, &c, &o, &res) != 0) {
        fprintf(stderr, "bench-train_gpt: %s\n", dlb_error());
        return 1;
    }
    if (on_gpu) {
        char gpu[128];
        if (dlb_cuda_gpu_name(gpu, sizeof gpu) != 0) snprintf(gpu, sizeof gpu, "unnamed GPU");
        printf("dlab gpt B=%ld T=%ld device=cuda gpu=\"%s\" tokens_per_s=%.0f (median of %d samples, mad %.1f%%)\n",
               B, T, gpu, (double)n / res.time.median, res.time.n, 100 * res.time.mad / res.time.median);
    } else {
        printf("dlab gpt B=%ld T=%ld threads=%d tokens_per_s=%.0f (median of %d samples, mad %.1f%%)\n", B,
               T, cli.threads, (double)n / res.time.median, res.time.n,
               100 * res.time.mad / res.time.median);
    }
    dl_free(c.tokens), dl_free(c.targets);
    m.ops->free(c.mom), m.ops->free(c.var);
    dl_gpt_free(&m);
    return 0;
}
