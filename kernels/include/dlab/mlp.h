/* mlp.h — a multi-layer perceptron: linear → ReLU → … → linear → softmax cross-entropy.
 *
 * The default shape is LeNet-300-100 on 28×28 images: 784 → 300 → 100 → 10. Parameters,
 * gradients and activations each live in one allocation, with named pointers into it (the
 * llm.c way), so an optimizer sees the parameters as one flat array and the memory of each
 * component is one number.
 *
 *   x (B, in) → [W_l (out_l, in_l), b_l (out_l)] … → logits (B, classes) → loss
 *
 * The ops run through the registry: "ref" builds the model from every family's ref variant
 * (slow, the oracle for tests), "fast" from the fastest CPU variant of each family, "cuda"
 * from the CUDA backend's (cuBLAS linear, own relu and softmax_xent kernels).
 *
 * Where the buffers live. The model keeps the backend table it was created with (m->ops) and
 * allocates every buffer with it: on "cuda", params, grads, acts, targets are DEVICE memory,
 * and the named pointers (W, b, act, ...) point into device memory — the host must not read
 * them. The API still takes and returns host data: forward copies x and targets in, the mean
 * loss comes back to *loss, dl_mlp_correct copies the logits back, and
 * dl_mlp_params_to_host / _from_host move the parameters (init computes them on the host and
 * uploads, so the same seed gives the same weights on every device). On "ref" and "fast"
 * everything is host memory, as before, and may be read directly.
 * Left out: dropout, batch norm, other activations (the ops exist; the MLP keeps to ReLU).
 */
#ifndef DLAB_MLP_H
#define DLAB_MLP_H

#include <stddef.h>

#include "backend.h"
#include "core.h"
#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DL_MLP_MAX_LAYERS 8

typedef struct dl_mlp_config {
    int inputs;                           /* 784 */
    int n_hidden;                         /* hidden layers, 0 .. DL_MLP_MAX_LAYERS-1 */
    int hidden[DL_MLP_MAX_LAYERS - 1];    /* their widths, e.g. {300, 100} */
    int classes;                          /* 10 */
} dl_mlp_config;

/* LeNet-300-100 for 28×28 inputs and 10 classes. */
dl_mlp_config dl_mlp_lenet_300_100(void);

/* Bytes by component, for the memory accounting later lessons build on. */
typedef struct dl_mem_report {
    size_t params, grads, optimizer, activations;
} dl_mem_report;

typedef struct dl_mlp {
    dl_mlp_config cfg;
    int n_layers; /* n_hidden + 1 linear layers */
    int max_batch;
    size_t n_params;
    float *params, *grads;           /* (n_params) each; W_l then b_l for every layer */
    float *W[DL_MLP_MAX_LAYERS], *b[DL_MLP_MAX_LAYERS];
    float *dW[DL_MLP_MAX_LAYERS], *db[DL_MLP_MAX_LAYERS];
    /* activations for max_batch rows: act[0] is the input copy, act[l+1] the output of layer l
     * (after ReLU for hidden layers, the logits for the last); pre[l] the pre-ReLU values */
    float *acts;
    size_t n_acts;
    float *act[DL_MLP_MAX_LAYERS + 1], *pre[DL_MLP_MAX_LAYERS];
    float *dact[DL_MLP_MAX_LAYERS + 1], *dpre[DL_MLP_MAX_LAYERS];
    float *probs, *losses;
    int *targets;
    float *mean_loss_dev; /* (1) where a non-CPU softmax_xent writes the mean loss; NULL on CPU */
    int batch; /* rows of the last forward */
    const dl_variant *linear, *relu, *xent;
    const dl_ops *ops; /* the backend every buffer above belongs to */
    /* Called by dl_mlp_backward as each layer's gradients are complete (dl_mlp_set_grad_hook). */
    struct dl_mlp_hook_slot {
        dl_status (*fn)(void *ctx, int layer, float *grads, size_t count);
        void *ctx;
    } grad_hook;
} dl_mlp;

/* Allocate a model for batches of up to max_batch rows. variants: "ref", "fast" or "cuda".
 * Bad shapes (a width < 1, too many layers) are DL_ERR_ARG; "cuda" without a GPU or without
 * a CUDA build is DL_ERR_DEVICE (the message says why). Parameters are zero until
 * dl_mlp_init. */
dl_status dl_mlp_create(dl_mlp *m, const dl_mlp_config *cfg, int max_batch, const char *variants);
void dl_mlp_free(dl_mlp *m);

/* Kaiming-uniform weights (fan-in, for ReLU), zero biases, from rng. Computed on the host
 * and uploaded: the same rng gives the same weights on every device. */
dl_status dl_mlp_init(dl_mlp *m, dl_rng *rng);

/* Copy the n_params parameters (in m->params order: W_l then b_l per layer) to or from host
 * memory. What trainers and checkpoints use instead of touching m->params. */
dl_status dl_mlp_params_to_host(const dl_mlp *m, float *host);
dl_status dl_mlp_params_from_host(dl_mlp *m, const float *host);

/* Forward B rows of x (B, inputs), host memory. With targets (B, host), also the mean
 * cross-entropy in *loss (may be NULL); without, only the logits (m->act[m->n_layers], on
 * the model's device). On "cuda" a target outside [0, classes) is DL_ERR_ARG here, checked
 * on the host before the copy (the CUDA loss would only turn it into a NaN). */
dl_status dl_mlp_forward(dl_mlp *m, const float *x, const int *targets, int B, float *loss);

/* Gradients of the last forward's mean loss into m->grads (zeroed first). */
dl_status dl_mlp_backward(dl_mlp *m);

/* A hook the backward calls as soon as layer l's gradients are final — last layer first, the
 * order backward produces them — with grads = m->dW[l] and count = its weights and biases
 * (dW[l] and db[l] are adjacent in m->grads). Data-parallel training starts each layer's
 * allreduce there, so communication overlaps the rest of the backward (as PyTorch DDP's
 * bucket hooks do). The hook may change those gradients (scale them) but must not read any
 * other layer's. A non-DL_OK return ends the backward with it. fn = NULL removes it. */
typedef dl_status (*dl_mlp_grad_hook)(void *ctx, int layer, float *grads, size_t count);
void dl_mlp_set_grad_hook(dl_mlp *m, dl_mlp_grad_hook fn, void *ctx);

/* Correct predictions (argmax of the logits) among the last forward's rows; targets is host
 * memory. -1 when the logits cannot be copied back from the device (dl_last_error says
 * why); never on the CPU. */
int dl_mlp_correct(const dl_mlp *m, const int *targets);

/* Bytes of parameters, gradients and activations (optimizer state is the trainer's: 0). */
dl_mem_report dl_mlp_memory(const dl_mlp *m);

#ifdef __cplusplus
}
#endif
#endif
