/* bench/train_mlp.c — training throughput of dlab's MLP (samples/s), the dlab half of
 * scripts/bench-pytorch (which times the same model, batch and threads in PyTorch).
 *
 * One step = forward + backward + AdamW on a batch of random inputs and labels (the data
 * does not change the work), LeNet-300-100 by default. Prints one line:
 *   dlab mlp batch=128 threads=2 samples_per_s=... (median of N samples, mad ...%)
 */
#include <stdio.h>
#include <stdlib.h>

#include "dlab/dlab.h"
#include "dlab/mlp.h"
#include "dlab/optim.h"
#include "dlbench.h"

typedef struct step_ctx {
    dl_mlp *m;
    float *x, *mom, *var;
    int *y, batch;
    long step;
} step_ctx;

static void train_step(void *p) {
    step_ctx *c = p;
    float loss;
    dl_adamw_args a = {.n = c->m->n_params, .param = c->m->params, .grad = c->m->grads, .m = c->mom,
                       .v = c->var, .lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                       .weight_decay = 1e-4f, .step = ++c->step};
    if (dl_mlp_forward(c->m, c->x, c->y, c->batch, &loss) != DL_OK || dl_mlp_backward(c->m) != DL_OK ||
        dl_adamw_run(dl_optim_best(), &a) != DL_OK) {
        fprintf(stderr, "bench-train_mlp: %s\n", dl_last_error());
        exit(1);
    }
}

int main(int argc, char **argv) {
    long batch = 128;
    dlb_opt extra[] = {{"--batch", DLB_OPT_INT, &batch, "rows per step", 1, 65536},
                       {NULL, 0, NULL, NULL, 0, 0}};
    dlb_cli cli;
    int rc = dlb_cli_parse(argc, argv, "training throughput of the MLP (samples/s)", "results/bench",
                           extra, &cli);
    if (rc) return rc == 1 ? 0 : 2;
    dl_threads_set(cli.threads);
    dl_mlp m;
    dl_mlp_config cfg = dl_mlp_lenet_300_100();
    dl_rng r;
    dl_rng_seed(&r, cli.seed);
    step_ctx c = {.m = &m, .batch = (int)batch};
    if (dl_mlp_create(&m, &cfg, (int)batch, "fast") != DL_OK || dl_mlp_init(&m, &r) != DL_OK ||
        dl_alloc((void **)&c.x, (size_t)batch * cfg.inputs * sizeof(float)) != DL_OK ||
        dl_alloc((void **)&c.y, (size_t)batch * sizeof(int)) != DL_OK ||
        dl_calloc((void **)&c.mom, m.n_params * sizeof(float)) != DL_OK ||
        dl_calloc((void **)&c.var, m.n_params * sizeof(float)) != DL_OK) {
        fprintf(stderr, "bench-train_mlp: %s\n", dl_last_error());
        return 1;
    }
    dl_rng_fill_normal(&r, c.x, (size_t)batch * cfg.inputs, 0, 1);
    for (int i = 0; i < batch; i++) c.y[i] = (int)dl_rng_below(&r, (uint64_t)cfg.classes);
    dlb_opts o = dlb_opts_default();
    o.min_sample_s = 0.05;
    dlb_result res;
    if (dlb_measure(train_step, &c, &o, &res) != 0) {
        fprintf(stderr, "bench-train_mlp: %s\n", dlb_error());
        return 1;
    }
    printf("dlab mlp batch=%ld threads=%d samples_per_s=%.0f (median of %d samples, mad %.1f%%)\n", batch,
           cli.threads, batch / res.time.median, res.time.n, 100 * res.time.mad / res.time.median);
    dl_free(c.x), dl_free(c.y), dl_free(c.mom), dl_free(c.var);
    dl_mlp_free(&m);
    return 0;
}
