/* dp.c — data-parallel training of lesson 0's MLP (LeNet-300-100 on Fashion-MNIST) over
 * MPI ranks, the worker's --task dp.
 *
 * Every rank holds the whole model. Each step draws one global batch of B image indices
 * from a generator seeded by (seed, step), the same on every rank and in a one-rank run;
 * rank r takes its block of rows (dl_block_offset: sizes differ by at most one), runs
 * forward and backward on them, scales its gradient by rows_r / B, and the allreduce sums
 * the scaled gradients: the mean gradient of the global batch, which plain SGD applies on
 * every rank. The gradient is reduced in buckets of --bucket-kib, last layer first (the
 * order backward produces them), each bucket one in-place allreduce.
 *
 * --algo mpi_overlap overlaps communication with the backward, as PyTorch DDP does: the
 * MLP's gradient hook (dl_mlp_set_grad_hook) fires as each layer's gradients are final, last
 * layer first; the hook scales that layer and starts a non-blocking MPI_Iallreduce on it, so
 * the last layer's sums travel while the earlier layers' gradients are still being computed;
 * after the backward the step waits for all of them. (One bucket per layer; the own
 * algorithms are blocking calls, so they reduce after the backward.)
 *
 * Checked every step: the parameters hash to the same value on every rank. Recorded: the
 * global loss, the step time and the communication time the step waits for (after the
 * backward: all of it for the blocking algorithms, the exposed rest for mpi_overlap).
 * Leaves out: momentum/Adam (SGD keeps the comparison with one process simple).
 */
#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "dlab/data.h"
#include "dlab/dlab.h"
#include "dlab/mlp.h"
#include "worker.h"

enum { DP_LR_MILLI = 50 }; /* SGD learning rate 0.05 */

/* The overlap hook's state: one in-flight MPI_Iallreduce per layer. */
typedef struct overlap_ctx {
    float share;
    MPI_Request req[DL_MLP_MAX_LAYERS];
    int n;
} overlap_ctx;

static dl_status start_layer_allreduce(void *ctx, int layer, float *grads, size_t count) {
    overlap_ctx *o = ctx;
    (void)layer;
    for (size_t i = 0; i < count; i++) grads[i] *= o->share;
    if (o->n >= DL_MLP_MAX_LAYERS || count > (size_t)INT32_MAX ||
        MPI_Iallreduce(MPI_IN_PLACE, grads, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &o->req[o->n]) != MPI_SUCCESS)
        return DL_FAIL(DL_ERR_DEVICE, "MPI_Iallreduce of layer %d (%zu floats) failed", layer, count);
    o->n++;
    return DL_OK;
}

int ar_task_dp(const ar_worker *w, int rank, int ranks) {
    const bool overlap = strcmp(w->algo, "mpi_overlap") == 0;
    const dl_allreduce_variant *v = dl_allreduce_find(overlap ? "mpi" : w->algo);
    if (!v) {
        if (rank == 0) fprintf(stderr, "worker: no allreduce named '%s'\n", w->algo);
        return 2;
    }
    const int B = (int)w->batch;
    if (B < ranks) {
        if (rank == 0) fprintf(stderr, "worker: global batch %d < %d ranks: a rank would get no rows\n", B, ranks);
        return 2;
    }
    const int rows = (int)dl_block_count((size_t)B, ranks, rank);
    const int row0 = (int)dl_block_offset((size_t)B, ranks, rank);
    dl_image_set train;
    if (dl_fashion_mnist_load(&train, NULL, "train") != DL_OK) ar_worker_fail("loading Fashion-MNIST");
    double mean, std;
    dl_image_set_stats(&train, &mean, &std);
    if (dl_image_set_normalize(&train, mean, std) != DL_OK) ar_worker_fail("normalizing");
    dl_mlp m;
    dl_mlp_config mc = dl_mlp_lenet_300_100();
    dl_rng rng;
    dl_rng_seed(&rng, w->seed);
    if (dl_mlp_create(&m, &mc, rows, "fast") != DL_OK || dl_mlp_init(&m, &rng) != DL_OK)
        ar_worker_fail("creating the MLP");
    const size_t P = m.n_params, inputs = (size_t)mc.inputs;
    float *params = malloc(P * sizeof(float)), *x = malloc((size_t)rows * inputs * sizeof(float));
    int *idx = malloc((size_t)B * sizeof(int)), *y = malloc((size_t)rows * sizeof(int));
    if (!params || !x || !idx || !y) ar_worker_fail("allocating");
    if (dl_mlp_params_to_host(&m, params) != DL_OK) ar_worker_fail("reading parameters");
    FILE *out = NULL;
    if (rank == 0 && w->out && !(out = fopen(w->out, "w"))) {
        fprintf(stderr, "rank 0: cannot write %s: %s\n", w->out, strerror(errno));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (out) fprintf(out, "step,loss,step_ms,comm_ms,identical\n");
    size_t bucket = (size_t)w->bucket_kib * 1024 / sizeof(float);
    if (bucket < 1) bucket = P;
    const float lr = DP_LR_MILLI / 1000.0f, share = (float)rows / (float)B;
    long not_identical = 0;
    for (long step = 0; step < w->steps; step++) {
        dl_rng pick;
        dl_rng_seed_stream(&pick, w->seed ^ 0x5eedULL, (uint64_t)step);
        for (int i = 0; i < B; i++) idx[i] = (int)dl_rng_below(&pick, (uint64_t)train.count);
        dl_image_set_gather(&train, idx + row0, rows, x, y);
        MPI_Barrier(MPI_COMM_WORLD);
        const double t0 = MPI_Wtime();
        float local_loss;
        overlap_ctx oc = {.share = share, .n = 0};
        dl_mlp_set_grad_hook(&m, overlap ? start_layer_allreduce : NULL, &oc);
        if (dl_mlp_forward(&m, x, y, rows, &local_loss) != DL_OK || dl_mlp_backward(&m) != DL_OK)
            ar_worker_fail("forward/backward");
        const double t1 = MPI_Wtime();
        if (overlap) {
            if (MPI_Waitall(oc.n, oc.req, MPI_STATUSES_IGNORE) != MPI_SUCCESS) ar_worker_fail("MPI_Waitall");
        } else {
            for (size_t i = 0; i < P; i++) m.grads[i] *= share;
            for (size_t end = P; end > 0;) { /* last bucket first, as backward produces them */
                const size_t start = end > bucket ? end - bucket : 0;
                if (v->run(m.grads + start, m.grads + start, end - start, MPI_COMM_WORLD) != DL_OK)
                    ar_worker_fail(v->name);
                end = start;
            }
        }
        const double comm_s = MPI_Wtime() - t1;
        for (size_t i = 0; i < P; i++) params[i] -= lr * m.grads[i];
        if (dl_mlp_params_from_host(&m, params) != DL_OK) ar_worker_fail("writing parameters");
        const double step_s = MPI_Wtime() - t0;
        double loss_part = (double)local_loss * share, loss;
        MPI_Allreduce(&loss_part, &loss, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        double times[2] = {step_s, comm_s}, slowest[2];
        MPI_Allreduce(times, slowest, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        const bool same = ar_identical_across_ranks(params, P, MPI_COMM_WORLD);
        not_identical += !same;
        if (out) fprintf(out, "%ld,%.9g,%.4f,%.4f,%d\n", step, loss, slowest[0] * 1e3, slowest[1] * 1e3, same);
    }
    if (out && fclose(out) != 0) {
        fprintf(stderr, "rank 0: writing %s failed\n", w->out);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    free(params), free(x), free(idx), free(y);
    dl_mlp_free(&m);
    dl_image_set_free(&train);
    return not_identical ? 3 : 0;
}
