/* softmax_xent.h — the "softmax_xent" op family: softmax and cross-entropy over the rows of
 * a logit matrix, fused, for classification and next-token prediction.
 *
 *   logits (N,V), targets (N) int, probs (N,V), losses (N), *mean_loss
 *
 *   forward    probs[i,:] = softmax(logits[i,:])
 *              losses[i]  = −log probs[i, targets[i]]     = logsumexp(logits[i,:]) − logits[i,t]
 *              *mean_loss = Σ losses / n_valid              (if mean_loss is not NULL)
 *   backward   dlogits[i,:] += dloss_scale · (probs[i,:] − onehot(targets[i])) / n_valid
 *
 * The loss is the MEAN over the valid rows (rows whose target is not DL_XENT_IGNORE), so the
 * backward divides by n_valid; dloss_scale is the upstream gradient of that mean (1 for a
 * plain loss; a loss-scale factor for mixed precision). It must be set: 0 gives no gradient.
 * Variant "cuda" takes device pointers and cannot read targets on the host: a target out of
 * range there makes that row's loss NaN (the row still counts as valid, gets no gradient)
 * instead of DL_ERR_ARG; check targets on the host first (dl_softmax_xent_check).
 * A row with target DL_XENT_IGNORE (-1, e.g. padding) gets probs but loss 0 and no gradient;
 * with no valid row the mean is 0. Backward reads the probs that forward wrote.
 * BACKWARD ACCUMULATES: dlogits += ..., the caller zeroes gradients once per step.
 *
 * Numerics. Each row is shifted by its max before exp, and the loss is computed from the
 * log-sum-exp, not from log(prob): logits of ±1e30 give finite losses (2e30 if the target is
 * the small one) instead of inf or NaN. −inf logits (masked classes) get probability 0; a
 * −inf target logit gives loss +inf. A row with a NaN or +inf logit, or only −inf logits, has
 * no softmax: its probs and loss are NaN (other rows are unaffected).
 * A target outside [0,V) other than −1 is DL_ERR_ARG, naming the row.
 */
#ifndef DLAB_SOFTMAX_XENT_H
#define DLAB_SOFTMAX_XENT_H

#include <stddef.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A target with this value contributes no loss and no gradient. */
#define DL_XENT_IGNORE (-1)

typedef struct dl_softmax_xent_args {
    int N, V;
    /* forward */
    const float *logits; /* (N,V) */
    const int *targets;  /* (N), each in [0,V) or DL_XENT_IGNORE */
    float *probs;        /* (N,V), written by forward, read by backward */
    float *losses;       /* (N), written by forward (0 for ignored rows) */
    float *mean_loss;    /* (1), written by forward if not NULL */
    /* backward */
    float dloss_scale; /* d(objective)/d(mean loss), usually 1 */
    float *dlogits;    /* (N,V), added into */
} dl_softmax_xent_args;

typedef struct dl_softmax_xent_impl {
    dl_status (*forward)(const dl_softmax_xent_args *args);
    dl_status (*backward)(const dl_softmax_xent_args *args);
} dl_softmax_xent_impl;

/* DL_OK, or DL_ERR_ARG naming the bad field: a negative size, a needed pointer NULL, or the
 * first target out of range ("targets[7]=96 is outside [0,V=96)"). */
dl_status dl_softmax_xent_check(const dl_softmax_xent_args *a, bool backward);

/* Rows whose target is not DL_XENT_IGNORE. */
int dl_softmax_xent_valid_rows(const int *targets, int N);

/* Cost of one forward: ~15 flops per logit (exp counted as ~10); reads logits, writes probs. */
dl_cost dl_softmax_xent_cost(const void *args);

dl_status dl_softmax_xent_forward(const dl_variant *v, const dl_softmax_xent_args *args);
dl_status dl_softmax_xent_backward(const dl_variant *v, const dl_softmax_xent_args *args);

#ifdef __cplusplus
}
#endif
#endif
