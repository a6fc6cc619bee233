/* cnn.h — a small convolutional network: two conv blocks, then two fully connected layers.
 *
 *   x (B,1,H,W) → conv 5×5 pad 2 (1→C1) → ReLU → maxpool 2×2
 *               → conv 5×5 pad 2 (C1→C2) → ReLU → maxpool 2×2      → (B,C2,H/4,W/4)
 *               → flatten (a view: NCHW rows are already C2·(H/4)·(W/4) long)
 *               → linear (→ hidden) → ReLU → linear (→ classes) → softmax cross-entropy
 *
 * The default is C1=16, C2=32, hidden=128 on 28×28 images (28 → 14 → 7), 10 classes.
 * The "same" padding keeps each conv's output the size of its input, so only the pools
 * shrink it; they use floor mode, so an odd size drops its last row or column.
 *
 * Like mlp.h: parameters, gradients and activations each live in one allocation (plus one
 * for the pools' argmax indices), with named pointers into it, so an optimizer sees the
 * parameters as one flat array. "ref" builds the model from every family's ref variant (the
 * oracle for tests), "fast" from the fastest CPU variant of each family, "cuda" from the
 * CUDA backend's (cuDNN conv2d, own maxpool, cuBLAS linear, own relu and softmax_xent).
 * As in mlp.h, every buffer belongs to the backend the model was created with (m->ops): on
 * "cuda" the named pointers are DEVICE memory, the API takes host x and targets, the mean
 * loss and dl_cnn_correct's logits come back to the host, and dl_cnn_params_to_host /
 * _from_host move the parameters (init computes on the host and uploads).
 *
 * Left out: batch norm, dropout, strides other than the pools', colour inputs (the input has
 * one channel), data augmentation (the trainer's business).
 */
#ifndef DLAB_CNN_H
#define DLAB_CNN_H

#include <stddef.h>

#include "backend.h"
#include "core.h"
#include "mlp.h" /* dl_mem_report */
#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DL_CNN_KERNEL 5 /* conv kernels are 5×5 with padding 2 */
#define DL_CNN_POOL 2   /* pools are 2×2 with stride 2 */

typedef struct dl_cnn_config {
    int in_h, in_w; /* input image, one channel: 28×28; each at least 4 (two pools of 2) */
    int c1, c2;     /* channels of the two convs: 16, 32 */
    int hidden;     /* width of the first linear layer: 128 */
    int classes;    /* 10 */
} dl_cnn_config;

/* The default: 28×28 inputs, 16 and 32 channels, 128 hidden, 10 classes. */
dl_cnn_config dl_cnn_default(void);

typedef struct dl_cnn {
    dl_cnn_config cfg;
    int max_batch;
    int h1, w1; /* after pool 1: in_h/2, in_w/2 */
    int h2, w2; /* after pool 2: h1/2, w1/2 */
    int flat;   /* c2·h2·w2, the input width of fc1 */
    size_t n_params;
    float *params, *grads; /* (n_params) each, in the order below */
    float *conv1_w, *conv1_b, *conv2_w, *conv2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    float *dconv1_w, *dconv1_b, *dconv2_w, *dconv2_b, *dfc1_w, *dfc1_b, *dfc2_w, *dfc2_b;
    /* activations for max_batch images, in forward order, each with its gradient (d…) except
     * the input: x (B,1,H,W); conv1 pre-ReLU and relu1 (B,C1,H,W); pool1 (B,C1,h1,w1);
     * conv2, relu2 (B,C2,h1,w1); pool2 (B,C2,h2,w2) = (B,flat); fc1 pre-ReLU and relu3
     * (B,hidden); logits (B,classes); then probs (B,classes) and losses (B) */
    float *acts;
    size_t n_acts;
    float *x, *conv1, *relu1, *pool1, *conv2, *relu2, *pool2, *fc1, *relu3, *logits;
    float *dconv1, *drelu1, *dpool1, *dconv2, *drelu2, *dpool2, *dfc1, *drelu3, *dlogits;
    float *probs, *losses;
    int *ints; /* one allocation: pool1_argmax (B,C1,h1,w1), pool2_argmax (B,C2,h2,w2), targets (B) */
    size_t n_ints;
    int *pool1_argmax, *pool2_argmax, *targets;
    float *mean_loss_dev; /* (1) where a non-CPU softmax_xent writes the mean loss; NULL on CPU */
    int batch; /* images of the last forward */
    const dl_variant *conv, *pool, *linear, *relu, *xent;
    const dl_ops *ops; /* the backend every buffer above belongs to */
} dl_cnn;

/* Allocate a model for batches of up to max_batch images. variants: "ref", "fast" or "cuda".
 * A bad config is DL_ERR_ARG naming the field (in_h, in_w < 4; c1, c2, hidden, classes < 1);
 * "cuda" without a GPU or a CUDA build is DL_ERR_DEVICE, the message saying why.
 * Parameters are zero until dl_cnn_init. */
dl_status dl_cnn_create(dl_cnn *m, const dl_cnn_config *cfg, int max_batch, const char *variants);
void dl_cnn_free(dl_cnn *m);

/* Kaiming-uniform weights (fan-in: C_in·5·5 for convs, inputs for linears), zero biases.
 * Computed on the host and uploaded: the same rng gives the same weights on every device. */
dl_status dl_cnn_init(dl_cnn *m, dl_rng *rng);

/* Copy the n_params parameters (in m->params order) to or from host memory. */
dl_status dl_cnn_params_to_host(const dl_cnn *m, float *host);
dl_status dl_cnn_params_from_host(dl_cnn *m, const float *host);

/* Forward B images x (B,1,in_h,in_w), host memory. With targets (B, host), also the mean
 * cross-entropy in *loss (may be NULL); without, only the logits (m->logits, on the model's
 * device). On "cuda" a target outside [0, classes) is DL_ERR_ARG, checked on the host. */
dl_status dl_cnn_forward(dl_cnn *m, const float *x, const int *targets, int B, float *loss);

/* Gradients of the last forward's mean loss into m->grads (zeroed first). */
dl_status dl_cnn_backward(dl_cnn *m);

/* Correct predictions (argmax of the logits) among the last forward's images; targets is
 * host memory. -1 when the logits cannot be copied back from the device; never on the CPU. */
int dl_cnn_correct(const dl_cnn *m, const int *targets);

/* Bytes of parameters, gradients and activations (incl. argmax indices and targets);
 * optimizer state is the trainer's: 0. */
dl_mem_report dl_cnn_memory(const dl_cnn *m);

#ifdef __cplusplus
}
#endif
#endif
