/* bench/train_gpt.c — training throughput of dlab's GPT (tokens/s), the dlab half of
 * `scripts/bench-pytorch --model gpt` (the same model, batch and threads in PyTorch).
 *
 * One step = forward + backward + AdamW on a batch of random tokens; default model 4 layers,
 * 4 heads, width 128, context 128, vocabulary 96, batch 16 × 128. Prints one line:
 *   dlab gpt B=16 T=128 threads=2 tokens_per_s=... (median of N samples, mad ...%)
 */
#include <stdio.h>
#include <stdlib.h>

#include "dlab/dlab.h"
#include "dlab/gpt.h"
#include "dlab/optim.h"
#include "dlbench.h"

typedef struct step_ctx {
    dl_gpt *m;
    int *tokens, *targets, B, T;
    float *mom, *var;
    long step;
} step_ctx;

static void train_step(void *p) {
    step_ctx *c = p;
    float loss;
    dl_adamw_args a = {.n = c->m->n_params, .param = c->m->params, .grad = c->m->grads, .m = c->mom,
                       .v = c->var, .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                       .weight_decay = 0.1f, .step = ++c->step};
    if (dl_gpt_forward(c->m, c->tokens, c->targets, c->B, c->T, &loss) != DL_OK ||
        dl_gpt_backward(c->m) != DL_OK || dl_adamw_run(dl_optim_best(), &a) != DL_OK) {
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
    dl_gpt m;
    dl_gpt_config cfg = dl_gpt_default_config((int)vocab);
    dl_rng r;
    dl_rng_seed(&r, cli.seed);
    size_t n = (size_t)B * T;
    step_ctx c = {.m = &m, .B = (int)B, .T = (int)T};
    if (dl_gpt_create(&m, &cfg, (int)B, (int)T, "fast") != DL_OK || dl_gpt_init(&m, &r) != DL_OK ||
        dl_alloc((void **)&c.tokens, n * sizeof(int)) != DL_OK ||
        dl_alloc((void **)&c.targets, n * sizeof(int)) != DL_OK ||
        dl_calloc((void **)&c.mom, m.n_params * sizeof(float)) != DL_OK ||
        dl_calloc((void **)&c.var, m.n_params * sizeof(float)) != DL_OK) {
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
    printf("dlab gpt B=%ld T=%ld threads=%d tokens_per_s=%.0f (median of %d samples, mad %.1f%%)\n", B,
           T, cli.threads, (double)n / res.time.median, res.time.n,
           100 * res.time.mad / res.time.median);
    dl_free(c.tokens), dl_free(c.targets), dl_free(c.mom), dl_free(c.var);
    dl_gpt_free(&m);
    return 0;
}
