/* bench/train_mlp.c — training throughput of dlab's MLP (samples/s), the dlab half of
 * scripts/bench-pytorch (which times the same model, batch and threads in PyTorch).
 *
 * One step = forward + backward + AdamW on a batch of random inputs and labels (the data
 * does not change the work), LeNet-300-100 by default. Prints one line:
 *   dlab mlp batch=128 threads=2 samples_per_s=... (median of N samples, mad ...%)
 *
 * --device cuda runs the same step with the model created with "cuda" (parameters, gradients,
 * activations and AdamW's m and v in device memory; the optimizer is the CUDA backend's) and
 * ends every step with ops->sync(), so the wall-clock samples count the GPU's work, not only
 * the launches. Its line names the device and the GPU:
 *   dlab mlp batch=128 device=cuda gpu="NVIDIA H100 80GB HBM3" samples_per_s=... (median ...)
 * Without a GPU: one line saying why, exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/dlab.h"
#include "dlab/mlp.h"
#include "dlab/optim.h"
#include "dlbench.h"

typedef struct step_ctx {
    dl_mlp *m;
    const dl_variant *optim; /* the model's backend's: CPU or CUDA */
    float *x;                /* host memory: dl_mlp_forward copies it over, as y */
    float *mom, *var;        /* the model's device */
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
        dl_adamw_run(c->optim, &a) != DL_OK || c->m->ops->sync() != DL_OK) {
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
    bool on_gpu = strcmp(cli.device, "cuda") == 0;
    dl_mlp m;
    dl_mlp_config cfg = dl_mlp_lenet_300_100();
    dl_rng r;
    dl_rng_seed(&r, cli.seed);
    step_ctx c = {.m = &m, .batch = (int)batch};
    if (dl_mlp_create(&m, &cfg, (int)batch, on_gpu ? "cuda" : "fast") != DL_OK) {
        fprintf(stderr, "bench-train_mlp: --device %s: %s\n", cli.device, dl_last_error());
        return 1;
    }
    size_t state_bytes = m.n_params * sizeof(float);
    if (dl_mlp_init(&m, &r) != DL_OK || dl_backend_variant(m.ops, "optim", &c.optim) != DL_OK ||
        dl_backend_alloc_zeroed(m.ops, (void **)&c.mom, state_bytes) != DL_OK ||
        dl_backend_alloc_zeroed(m.ops, (void **)&c.var, state_bytes) != DL_OK ||
        dl_alloc((void **)&c.x, (size_t)batch * cfg.inputs * sizeof(float)) != DL_OK ||
        dl_alloc((void **)&c.y, (size_t)batch * sizeof(int)) != DL_OK) {
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
    if (on_gpu) {
        char gpu[128];
        if (dlb_cuda_gpu_name(gpu, sizeof gpu) != 0) snprintf(gpu, sizeof gpu, "unnamed GPU");
        printf("dlab mlp batch=%ld device=cuda gpu=\"%s\" samples_per_s=%.0f (median of %d samples, mad %.1f%%)\n",
               batch, gpu, batch / res.time.median, res.time.n, 100 * res.time.mad / res.time.median);
    } else {
        printf("dlab mlp batch=%ld threads=%d samples_per_s=%.0f (median of %d samples, mad %.1f%%)\n", batch,
               cli.threads, batch / res.time.median, res.time.n, 100 * res.time.mad / res.time.median);
    }
    dl_free(c.x), dl_free(c.y);
    m.ops->free(c.mom), m.ops->free(c.var);
    dl_mlp_free(&m);
    return 0;
}
