/* sparse.h — training sparse networks from scratch: per-layer masks at a global density,
 * sparse momentum (Dettmers & Zettlemoyer 2019) and its baselines, a sparse MLP that computes
 * with the spmm family, and checkpoints that keep the masks.
 *
 * A dl_sparse holds one 0/1 mask per weight matrix of a model whose parameters are one flat
 * fp32 array (the MLP's m->params, W_l then b_l per layer); biases stay dense. The trainer
 * keeps the model dense and WRAPS it: after every optimizer step it calls dl_sparse_apply so
 * inactive weights are exactly zero again (the dense compute then does the same math as the
 * sparse one), and at each epoch end it calls dl_sparse_prune_regrow.
 *
 * Methods (all start from the same uniform random masks: every layer at the global density):
 *   DENSE     no mask at all (density must be 1).
 *   STATIC    the initial random mask, never changed.
 *   SET       (Mocanu et al. 2018) each layer prunes its p·active smallest-magnitude weights
 *             and regrows as many at random zero positions of the same layer.
 *   MOMENTUM  sparse momentum, as published:
 *               1. M_l = mean |momentum| over the ACTIVE weights of layer l; share_l = M_l/ΣM
 *               2. prune ⌈p·active_l⌉ smallest-magnitude active weights of each layer (the
 *                  ceiling, as the reference implementation sparse_learning does)
 *               3. the total pruned K is regrown across layers ∝ share_l, capped by each
 *                  layer's free slots (what a capped layer cannot take goes to the others in
 *                  proportion; integer counts by largest remainder, so Σ regrown = K exactly)
 *               4. within a layer, regrow at the zero positions with the largest |momentum|;
 *                  new weights start at zero
 *             p decays by a cosine from prune_rate to prune_rate_min over training
 *             (sparse_learning's CosineDecay; its eta_min is 0.005).
 * Regrown weights are 0; pruned ones are set to 0. Ties (equal magnitudes) go to the lower
 * index, so a seed reproduces a run.
 *
 * The momentum. With AdamW the "momentum" is the first moment m (as sparse_learning uses
 * Adam's exp_avg). It is computed from the DENSE gradient: inactive weights have a gradient
 * too (the dense backward gives it), and their momentum is exactly the signal step 4 reads,
 * so for MOMENTUM the optimizer state of inactive weights is NOT masked. For STATIC and SET
 * nothing reads it, and dl_sparse_mask_state zeroes it after each step (the mask applied to
 * the momentum), so a SET regrowth starts from a clean state.
 *
 * Left out: sparse convolutions (the CNN), global magnitude pruning, Erdős–Rényi initial
 * densities, the GPU (the wrap copies parameters to the host: dl_mlp_params_to_host).
 */
#ifndef DLAB_SPARSE_H
#define DLAB_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "mlp.h"
#include "registry.h"
#include "spmm.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DL_SPARSE_MAX_LAYERS 8

typedef enum dl_sparse_method {
    DL_SPARSE_DENSE = 0,
    DL_SPARSE_STATIC,
    DL_SPARSE_SET,
    DL_SPARSE_MOMENTUM
} dl_sparse_method;

/* "dense", "static", "set", "sparse_momentum" */
const char *dl_sparse_method_name(dl_sparse_method m);

typedef struct dl_sparse_config {
    dl_sparse_method method;
    double density;        /* fraction of each weight matrix kept, in (0, 1]; DENSE: 1 */
    double prune_rate;     /* p at the start, in (0, 1); the paper's default 0.5 */
    double prune_rate_min; /* the cosine's floor, in [0, prune_rate]; 0.005 */
} dl_sparse_config;

/* The paper's defaults for `method` at `density`: prune rate 0.5 → 0.005. */
dl_sparse_config dl_sparse_defaults(dl_sparse_method method, double density);

/* DL_OK, or DL_ERR_ARG: "density 0 must be in (0, 1]", "prune rate 1.5 must be in (0, 1)",
 * a DENSE config with density != 1, an unknown method. */
dl_status dl_sparse_config_check(const dl_sparse_config *c);

/* p after `step` of `total_steps` optimizer steps: min + (p0 − min)·½(1 + cos(π·step/total)),
 * step clamped to [0, total]. total_steps must be > 0. */
double dl_sparse_prune_rate_at(const dl_sparse_config *c, long step, long total_steps);

typedef struct dl_sparse {
    dl_sparse_config cfg;
    int n_layers;
    int rows[DL_SPARSE_MAX_LAYERS], cols[DL_SPARSE_MAX_LAYERS];
    size_t offset[DL_SPARSE_MAX_LAYERS]; /* where layer l's weight starts in the flat array */
    unsigned char *mask[DL_SPARSE_MAX_LAYERS]; /* (rows·cols) 1 = active; one allocation */
    size_t active[DL_SPARSE_MAX_LAYERS];       /* ones in mask[l] */
    dl_rng rng; /* draws the initial masks and SET's regrowth */
} dl_sparse;

/* Masks for n_layers weight matrices (rows[l] × cols[l] at offset[l] of the flat parameter
 * array), each with exactly max(1, round(density·rows·cols)) active weights chosen uniformly
 * at random from seed. DENSE: every mask all ones. */
dl_status dl_sparse_create(dl_sparse *s, const dl_sparse_config *c, int n_layers, const int *rows,
                           const int *cols, const size_t *offset, uint64_t seed);
/* The same for the weight matrices of an MLP (fc1.weight …; the biases stay dense). */
dl_status dl_sparse_create_for_mlp(dl_sparse *s, const dl_sparse_config *c, const dl_mlp *m,
                                   uint64_t seed);
void dl_sparse_free(dl_sparse *s);

/* Active weights over all masked matrices / their size; and one layer's. */
double dl_sparse_density(const dl_sparse *s);
double dl_sparse_layer_density(const dl_sparse *s, int l);
/* Active weights in all layers. */
size_t dl_sparse_active(const dl_sparse *s);

/* Zero the inactive weights of the flat HOST array params (the wrap after each step). */
void dl_sparse_apply(const dl_sparse *s, float *params);
/* Zero an optimizer state buffer (laid out like params) at the inactive weights. */
void dl_sparse_mask_state(const dl_sparse *s, float *state);

/* What one prune/regrow did, per layer. */
typedef struct dl_sparse_update {
    double prune_rate;                      /* the p used */
    size_t pruned[DL_SPARSE_MAX_LAYERS];    /* weights removed from each layer */
    size_t regrown[DL_SPARSE_MAX_LAYERS];   /* weights added to each layer */
    double momentum_share[DL_SPARSE_MAX_LAYERS]; /* MOMENTUM: share_l (else 0) */
} dl_sparse_update;

/* One prune/regrow of s->cfg.method with prune rate p in (0, 1) on the flat host arrays
 * params (changed: pruned weights set to 0) and momentum (read; MOMENTUM only, may be NULL
 * for the others). DENSE and STATIC change nothing. The total of active weights is kept. */
dl_status dl_sparse_prune_regrow(dl_sparse *s, float *params, const float *momentum, double p,
                                 dl_sparse_update *out);

/* Split `total` items over n bins ∝ share[] (≥ 0; all zero: ∝ capacity), no bin above
 * capacity[]: the proportional split, then what capped bins could not take re-split over the
 * rest, integer counts by largest remainder (ties: the lower bin). out[] sums to
 * min(total, Σ capacity). What MOMENTUM's step 3 does, exposed for the tests. */
void dl_sparse_redistribute(const double *share, const size_t *capacity, int n, size_t total,
                            size_t *out);

/* ------------------------------------------------------------- checkpoints */

/* A sparse MLP checkpoint: kind "sparse_mlp", the dl_mlp_config as its config, tensors
 * fcN.weight, fcN.bias and fcN.mask (F32 0/1, the weight's shape), values "sparse.method"
 * and "sparse.density_ppm". params is the flat host array. A dense ("mlp") loader refuses
 * the file by its kind; dl_sparse_mlp_load refuses a file of another kind, of another shape
 * (config differs), with a mask that is not 0/1, or with a nonzero weight outside its mask
 * (DL_ERR_FORMAT naming what). */
dl_status dl_sparse_mlp_save(const char *path, const dl_mlp *m, const dl_sparse *s,
                             const float *params);
/* Load into a created model m (its params, through dl_mlp_params_from_host) and a fresh
 * *s (its masks; dl_sparse_free it). Nothing changes on failure. */
dl_status dl_sparse_mlp_load(const char *path, dl_mlp *m, dl_sparse *s);

/* -------------------------------------------------------- sparse compute */

/* The same MLP computed with sparse weights: each layer's W as CSR (the mask's pattern,
 * explicit zeros included), run through an spmm variant; relu and softmax_xent as the
 * model's. It borrows a CPU dl_mlp for biases, activations and the loss, and keeps its own
 * CSR weights and their gradients dvals (nnz each). What the lesson times against the dense
 * step; tests check it against the dense model with masked weights. */
typedef struct dl_sparse_mlp {
    dl_mlp *m; /* borrowed: a "ref" or "fast" model */
    int n_layers;
    dl_csr W[DL_SPARSE_MAX_LAYERS];
    float *dvals[DL_SPARSE_MAX_LAYERS]; /* (W[l].nnz) */
    const dl_variant *spmm;
} dl_sparse_mlp;

/* CSR weights from m's current weights and s's masks. spmm_variant: a CPU variant name
 * ("ref", "omp_avx512") or NULL for the fastest here. */
dl_status dl_sparse_mlp_create(dl_sparse_mlp *sm, dl_mlp *m, const dl_sparse *s,
                               const char *spmm_variant);
void dl_sparse_mlp_free(dl_sparse_mlp *sm);
/* Forward and backward as dl_mlp_forward / dl_mlp_backward, through the CSR weights: the
 * logits land in m->act[n_layers], the bias gradients in m->db, the weight gradients in
 * sm->dvals (zeroed first). */
dl_status dl_sparse_mlp_forward(dl_sparse_mlp *sm, const float *x, const int *targets, int B,
                                float *loss);
dl_status dl_sparse_mlp_backward(dl_sparse_mlp *sm);

#ifdef __cplusplus
}
#endif
#endif
