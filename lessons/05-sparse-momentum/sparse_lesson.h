/* sparse_lesson.h — lesson 5's parts, shared by lesson.c (the program) and
 * tests/test_lesson05.c (a tiny end-to-end run and the trainer's invariants).
 *
 * The pieces: train.c (one training run of LeNet-300-100 with a sparse method: the dense
 * model wrapped by masks, AdamW, prune/regrow at each epoch end), timing.c (spmm against
 * the dense GEMM across density: the break-even; the sparse training step against the dense
 * one), experiment.c (the sweep over methods × densities × seeds, tables, plots, metrics).
 * Each part returns a dl_status; the lesson prints dl_last_error().
 */
#ifndef SPARSE_LESSON_H
#define SPARSE_LESSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlab/data.h"
#include "dlab/dlab.h"
#include "dlab/sparse.h"
#include "dlbench.h"

#define SP_MAX_DENSITIES 8
#define SP_MAX_SEEDS 5
#define SP_MAX_EPOCHS 64
#define SP_BATCH 128

typedef struct sp_config {
    bool quick;
    uint64_t seed;          /* seeds used: seed, seed+1, ... */
    int n_seeds;            /* 1..SP_MAX_SEEDS */
    int threads;
    const char *variants;   /* "fast" or "cuda" (the wrap then copies through the host) */
    int epochs;             /* per training run, 1..SP_MAX_EPOCHS */
    int train_count;        /* images of the training set used (a prefix), <= 60000 */
    int test_count;         /* images of the test set evaluated (a prefix), <= 10000 */
    const double *densities; /* the sweep, each in (0, 1) */
    int n_densities;
    double prune_rate;      /* p0, in (0, 1) */
    float lr;               /* AdamW peak learning rate */
    int timing;             /* 1: measure spmm and step times (0 in unit tests) */
    int paper_epochs;       /* > 0: rerun dense and the three methods at 5 % for this many
                               epochs (the targets); 0: the sweep's 5 % runs count */
} sp_config;

/* What one training run gives. */
typedef struct sp_result {
    double test_acc;
    double train_seconds;
    int epochs;
    /* per-layer density after epoch e (e = 0: the initial masks), e = 0..epochs */
    double layer_density[SP_MAX_EPOCHS + 1][DL_SPARSE_MAX_LAYERS];
    int n_layers;
    size_t active_weights; /* at the end */
} sp_result;

/* Train LeNet-300-100 with `method` at `density` from `seed` on the first cfg->train_count
 * training images; evaluate on the first cfg->test_count test images. If save_path is not
 * NULL, save the final model as a sparse checkpoint there (a dense run saves all-ones
 * masks). */
dl_status sp_train(const sp_config *cfg, dl_sparse_method method, double density, uint64_t seed,
                   const dl_image_set *train, const dl_image_set *test, const char *save_path,
                   sp_result *out);

/* Load a sparse checkpoint into a fresh LeNet-300-100 (cfg->variants) and evaluate it. */
dl_status sp_evaluate_checkpoint(const sp_config *cfg, const char *path, const dl_image_set *test,
                                 double *acc);

/* The density below which the sparse run beats the dense one, from ratios
 * t_sparse/t_dense measured at ascending densities d[0..n): linear interpolation in log d
 * between the last ratio < 1 and the next; 0 when none is < 1, d[n−1] when all are. */
double sp_breakeven_density(const double *d, const double *ratio, int n);

/* (1) spmm against the dense GEMM on one layer across density: *breakeven (0 if sparse never
 * wins); (2) the sparse training step against the dense one at each cfg density:
 * *speedup_d05 (dense time / sparse time at 5%, NAN if 5% is not in the sweep). Tables and
 * the step-time plot go to run. */
dl_status sp_time_sparse_compute(dlb_run *run, const sp_config *cfg, double *breakeven,
                                 double *speedup_d05);

/* The whole lesson: sweep, timings, tables, plots, summary metrics. */
dl_status sp_experiment(dlb_run *run, const sp_config *cfg);

#endif
