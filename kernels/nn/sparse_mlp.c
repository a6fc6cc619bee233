/* sparse_mlp.c — the MLP computed through sparse weights (dlab/sparse.h, dl_sparse_mlp).
 *
 * The same layers as mlp.c — linear, ReLU, …, linear, softmax cross-entropy — with each
 * linear replaced by the spmm family (CSR weight × dense activations). It borrows a dl_mlp
 * for everything that is not a weight: biases and their gradients, activation buffers, the
 * loss. So a sparse step does 2·B·nnz flops per layer and pass instead of 2·B·out·in, and the
 * tests can hold it against the dense model with masked weights: the same logits, the same
 * loss, dvals = dW at the mask's entries.
 * Left out: the CUDA path (the borrowed model must be a CPU one), an optimizer of its own
 * (the lesson runs AdamW over the dvals with the optim family).
 */
#include <string.h>

#include "dlab/act.h"
#include "dlab/softmax_xent.h"
#include "dlab/sparse.h"

dl_status dl_sparse_mlp_create(dl_sparse_mlp *sm, dl_mlp *m, const dl_sparse *s,
                               const char *spmm_variant) {
    if (!sm || !m || !s) return DL_FAIL(DL_ERR_ARG, "sparse mlp, model or masks is NULL");
    memset(sm, 0, sizeof *sm);
    if (!m->ops || m->ops->device != DL_DEVICE_CPU)
        return DL_FAIL(DL_ERR_UNSUPPORTED, "the sparse MLP runs on the CPU only");
    if (s->n_layers != m->n_layers)
        return DL_FAIL(DL_ERR_ARG, "masks for %d layers, model has %d", s->n_layers, m->n_layers);
    sm->spmm = spmm_variant ? dl_variant_find("spmm", spmm_variant) : dl_variant_best_cpu("spmm");
    if (!sm->spmm || sm->spmm->device != DL_DEVICE_CPU || !dl_variant_available(sm->spmm))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "no CPU spmm variant '%s' here",
                       spmm_variant ? spmm_variant : "(best)");
    sm->m = m, sm->n_layers = m->n_layers;
    for (int l = 0; l < m->n_layers; l++) {
        if (s->rows[l] * (size_t)s->cols[l] == 0 || s->offset[l] != (size_t)(m->W[l] - m->params))
            return dl_sparse_mlp_free(sm), DL_FAIL(DL_ERR_ARG, "masks do not fit layer %d", l);
        dl_status st = dl_csr_from_dense(&sm->W[l], m->W[l], s->mask[l], s->rows[l], s->cols[l]);
        if (st == DL_OK) st = dl_calloc((void **)&sm->dvals[l], (size_t)sm->W[l].nnz * sizeof(float) + 1);
        if (st != DL_OK) return dl_sparse_mlp_free(sm), st;
    }
    return DL_OK;
}

void dl_sparse_mlp_free(dl_sparse_mlp *sm) {
    if (!sm) return;
    for (int l = 0; l < DL_SPARSE_MAX_LAYERS; l++) dl_csr_free(&sm->W[l]), dl_free(sm->dvals[l]);
    memset(sm, 0, sizeof *sm);
}

static int width(const dl_mlp *m, int i) {
    if (i == 0) return m->cfg.inputs;
    if (i == m->n_layers) return m->cfg.classes;
    return m->cfg.hidden[i - 1];
}

dl_status dl_sparse_mlp_forward(dl_sparse_mlp *sm, const float *x, const int *targets, int B,
                                float *loss) {
    dl_mlp *m = sm->m;
    if (B < 1 || B > m->max_batch)
        return DL_FAIL(DL_ERR_ARG, "batch %d is outside 1..%d (max_batch)", B, m->max_batch);
    if (!x) return DL_FAIL(DL_ERR_ARG, "x is NULL");
    m->batch = B;
    memcpy(m->act[0], x, (size_t)B * m->cfg.inputs * sizeof(float));
    for (int l = 0; l < m->n_layers; l++) {
        const bool hidden = l < m->cfg.n_hidden;
        dl_spmm_args a = dl_spmm_args_for(&sm->W[l], B);
        a.inp = m->act[l], a.bias = m->b[l], a.out = hidden ? m->pre[l] : m->act[l + 1];
        DL_TRY(dl_spmm_forward(sm->spmm, &a));
        if (hidden) {
            dl_act_args ra = {.n = (size_t)B * width(m, l + 1), .inp = m->pre[l], .out = m->act[l + 1]};
            DL_TRY(dl_act_forward(m->relu, &ra));
        }
    }
    if (!targets) return DL_OK;
    memcpy(m->targets, targets, (size_t)B * sizeof(int));
    float mean = 0;
    dl_softmax_xent_args xa = {.N = B, .V = m->cfg.classes, .logits = m->act[m->n_layers],
                               .targets = m->targets, .probs = m->probs, .losses = m->losses,
                               .mean_loss = &mean};
    DL_TRY(dl_softmax_xent_forward(m->xent, &xa));
    if (loss) *loss = mean;
    return DL_OK;
}

dl_status dl_sparse_mlp_backward(dl_sparse_mlp *sm) {
    dl_mlp *m = sm->m;
    const int B = m->batch;
    if (B < 1) return DL_FAIL(DL_ERR_ARG, "no forward with targets to differentiate");
    for (int l = 0; l < m->n_layers; l++) {
        memset(m->db[l], 0, (size_t)width(m, l + 1) * sizeof(float));
        memset(sm->dvals[l], 0, (size_t)sm->W[l].nnz * sizeof(float));
    }
    for (int i = 0; i <= m->n_layers; i++) memset(m->dact[i], 0, (size_t)B * width(m, i) * sizeof(float));
    for (int l = 0; l < m->cfg.n_hidden; l++)
        memset(m->dpre[l], 0, (size_t)B * width(m, l + 1) * sizeof(float));
    dl_softmax_xent_args xa = {.N = B, .V = m->cfg.classes, .logits = m->act[m->n_layers],
                               .targets = m->targets, .probs = m->probs, .losses = m->losses,
                               .dloss_scale = 1.0f, .dlogits = m->dact[m->n_layers]};
    DL_TRY(dl_softmax_xent_backward(m->xent, &xa));
    for (int l = m->n_layers - 1; l >= 0; l--) {
        const bool hidden = l < m->cfg.n_hidden;
        if (hidden) {
            dl_act_args ra = {.n = (size_t)B * width(m, l + 1), .inp = m->pre[l], .out = m->act[l + 1],
                              .dout = m->dact[l + 1], .dinp = m->dpre[l]};
            DL_TRY(dl_act_backward(m->relu, &ra));
        }
        dl_spmm_args a = dl_spmm_args_for(&sm->W[l], B);
        a.inp = m->act[l], a.bias = m->b[l];
        a.dout = hidden ? m->dpre[l] : m->dact[l + 1];
        a.dinp = l > 0 ? m->dact[l] : NULL; /* no gradient for the data */
        a.dvals = sm->dvals[l], a.dbias = m->db[l];
        DL_TRY(dl_spmm_backward(sm->spmm, &a));
    }
    return DL_OK;
}
