/* mlp.c — the multi-layer perceptron of mlp.h: forward, backward, init, accounting.
 *
 * Layer l maps width[l] → width[l+1] with width = {inputs, hidden…, classes}. Hidden layers
 * are linear then ReLU; the last is linear only, its logits go to the fused softmax
 * cross-entropy. The backward walks the same layers in reverse; every op's backward adds
 * into its gradient buffers, so the activation gradients are zeroed before each backward and
 * the parameter gradients too (one zero each: they are single allocations).
 *
 * Every buffer is the backend's (m->ops): allocated, zeroed, filled and read back only
 * through its table, so this file runs unchanged on the CPU and on CUDA. On the CPU those
 * calls are malloc, memset and memcpy: the same work, in the same order, as before the
 * backend table.
 */
#include <stdlib.h>
#include <string.h>

#include "dlab/act.h"
#include "dlab/linear.h"
#include "dlab/mlp.h"
#include "dlab/optim.h"
#include "dlab/softmax_xent.h"

dl_mlp_config dl_mlp_lenet_300_100(void) {
    dl_mlp_config c = {.inputs = 784, .n_hidden = 2, .hidden = {300, 100}, .classes = 10};
    return c;
}

static int width(const dl_mlp *m, int i) {
    if (i == 0) return m->cfg.inputs;
    if (i == m->n_layers) return m->cfg.classes;
    return m->cfg.hidden[i - 1];
}

dl_status dl_mlp_create(dl_mlp *m, const dl_mlp_config *cfg, int max_batch, const char *variants) {
    if (!m || !cfg) return DL_FAIL(DL_ERR_ARG, "model or config is NULL");
    memset(m, 0, sizeof *m);
    if (cfg->n_hidden < 0 || cfg->n_hidden >= DL_MLP_MAX_LAYERS)
        return DL_FAIL(DL_ERR_ARG, "n_hidden=%d: must be 0..%d", cfg->n_hidden, DL_MLP_MAX_LAYERS - 1);
    if (cfg->inputs < 1 || cfg->classes < 1)
        return DL_FAIL(DL_ERR_ARG, "inputs=%d and classes=%d must be >= 1", cfg->inputs, cfg->classes);
    for (int i = 0; i < cfg->n_hidden; i++)
        if (cfg->hidden[i] < 1) return DL_FAIL(DL_ERR_ARG, "hidden[%d]=%d must be >= 1", i, cfg->hidden[i]);
    if (max_batch < 1) return DL_FAIL(DL_ERR_ARG, "max_batch=%d must be >= 1", max_batch);
    const dl_ops *ops;
    bool ref;
    DL_TRY(dl_backend_for_variants(variants, &ops, &ref));
    DL_TRY(dl_backend_pick(ops, ref, "linear", &m->linear));
    DL_TRY(dl_backend_pick(ops, ref, "relu", &m->relu));
    DL_TRY(dl_backend_pick(ops, ref, "softmax_xent", &m->xent));
    m->cfg = *cfg;
    m->n_layers = cfg->n_hidden + 1;
    m->max_batch = max_batch;
    m->ops = ops;

    /* Parameters: W_l then b_l, layer after layer. */
    size_t n = 0;
    for (int l = 0; l < m->n_layers; l++) n += (size_t)width(m, l + 1) * width(m, l) + width(m, l + 1);
    m->n_params = n;
    dl_status s = dl_backend_alloc_zeroed(ops, (void **)&m->params, n * sizeof(float));
    if (s == DL_OK) s = dl_backend_alloc_zeroed(ops, (void **)&m->grads, n * sizeof(float));
    if (s != DL_OK) return dl_mlp_free(m), s;
    float *p = m->params, *g = m->grads;
    for (int l = 0; l < m->n_layers; l++) {
        size_t w = (size_t)width(m, l + 1) * width(m, l);
        m->W[l] = p, m->dW[l] = g, p += w, g += w;
        m->b[l] = p, m->db[l] = g, p += width(m, l + 1), g += width(m, l + 1);
    }

    /* Activations (and their gradients) for max_batch rows. */
    size_t B = (size_t)max_batch, a = 0;
    for (int i = 0; i <= m->n_layers; i++) a += 2 * B * width(m, i);       /* act, dact */
    for (int l = 0; l < m->cfg.n_hidden; l++) a += 2 * B * width(m, l + 1);     /* pre, dpre */
    a += B * cfg->classes + B;                                              /* probs, losses */
    m->n_acts = a;
    s = dl_backend_alloc_zeroed(ops, (void **)&m->acts, a * sizeof(float));
    if (s == DL_OK) s = dl_backend_alloc_zeroed(ops, (void **)&m->targets, B * sizeof(int));
    /* The CPU loss writes the mean straight into the caller's float; a device one cannot. */
    if (s == DL_OK && ops->device != DL_DEVICE_CPU)
        s = dl_backend_alloc_zeroed(ops, (void **)&m->mean_loss_dev, sizeof(float));
    if (s != DL_OK) return dl_mlp_free(m), s;
    float *q = m->acts;
    for (int i = 0; i <= m->n_layers; i++) {
        m->act[i] = q, q += B * width(m, i);
        m->dact[i] = q, q += B * width(m, i);
    }
    for (int l = 0; l < m->cfg.n_hidden; l++) {
        m->pre[l] = q, q += B * width(m, l + 1);
        m->dpre[l] = q, q += B * width(m, l + 1);
    }
    m->probs = q, q += B * cfg->classes;
    m->losses = q;
    return DL_OK;
}

void dl_mlp_free(dl_mlp *m) {
    if (!m) return;
    if (m->ops) {
        m->ops->free(m->params), m->ops->free(m->grads), m->ops->free(m->acts);
        m->ops->free(m->targets), m->ops->free(m->mean_loss_dev);
    }
    memset(m, 0, sizeof *m);
}

dl_status dl_mlp_init(dl_mlp *m, dl_rng *rng) {
    float *host = malloc(m->n_params * sizeof(float));
    if (!host) return DL_FAIL(DL_ERR_ALLOC, "%zu parameters on the host", m->n_params);
    dl_status s = DL_OK;
    for (int l = 0; l < m->n_layers && s == DL_OK; l++) {
        size_t fan_in = (size_t)width(m, l);
        float *W = host + (m->W[l] - m->params), *b = host + (m->b[l] - m->params);
        s = dl_init_kaiming_uniform(W, (size_t)width(m, l + 1) * fan_in, fan_in, rng);
        memset(b, 0, (size_t)width(m, l + 1) * sizeof(float));
    }
    if (s == DL_OK) s = dl_mlp_params_from_host(m, host);
    free(host);
    return s;
}

dl_status dl_mlp_params_to_host(const dl_mlp *m, float *host) {
    if (!m || !m->ops || !host) return DL_FAIL(DL_ERR_ARG, "model (created) or host is NULL");
    return m->ops->to_host(host, m->params, m->n_params * sizeof(float));
}

dl_status dl_mlp_params_from_host(dl_mlp *m, const float *host) {
    if (!m || !m->ops || !host) return DL_FAIL(DL_ERR_ARG, "model (created) or host is NULL");
    return m->ops->to_device(m->params, host, m->n_params * sizeof(float));
}

/* The CUDA loss cannot report a bad target (it makes the row NaN): refuse it here, on the
 * host, as the CPU variants would. */
static dl_status check_targets_on_host(const int *targets, int B, int classes) {
    for (int i = 0; i < B; i++)
        if (targets[i] != DL_XENT_IGNORE && (targets[i] < 0 || targets[i] >= classes))
            return dl_fail_at(DL_ERR_ARG, "dl_mlp_forward", "targets[%d]=%d is outside [0,classes=%d)",
                              i, targets[i], classes);
    return DL_OK;
}

dl_status dl_mlp_forward(dl_mlp *m, const float *x, const int *targets, int B, float *loss) {
    if (B < 1 || B > m->max_batch)
        return DL_FAIL(DL_ERR_ARG, "batch %d is outside 1..%d (max_batch)", B, m->max_batch);
    if (!x) return DL_FAIL(DL_ERR_ARG, "x is NULL");
    const dl_ops *ops = m->ops;
    const bool on_cpu = ops->device == DL_DEVICE_CPU;
    if (targets && !on_cpu) DL_TRY(check_targets_on_host(targets, B, m->cfg.classes));
    m->batch = B;
    DL_TRY(ops->to_device(m->act[0], x, (size_t)B * m->cfg.inputs * sizeof(float)));
    for (int l = 0; l < m->n_layers; l++) {
        bool hidden = l < m->cfg.n_hidden;
        dl_linear_args la = {.N = B, .C = width(m, l), .OC = width(m, l + 1), .inp = m->act[l],
                             .weight = m->W[l], .bias = m->b[l],
                             .out = hidden ? m->pre[l] : m->act[l + 1]};
        DL_TRY(dl_linear_forward(m->linear, &la));
        if (hidden) {
            dl_act_args ra = {.n = (size_t)B * width(m, l + 1), .inp = m->pre[l], .out = m->act[l + 1]};
            DL_TRY(dl_act_forward(m->relu, &ra));
        }
    }
    if (!targets) return DL_OK;
    DL_TRY(ops->to_device(m->targets, targets, (size_t)B * sizeof(int)));
    float mean = 0;
    dl_softmax_xent_args xa = {.N = B, .V = m->cfg.classes, .logits = m->act[m->n_layers],
                               .targets = m->targets, .probs = m->probs, .losses = m->losses,
                               .mean_loss = on_cpu ? &mean : m->mean_loss_dev};
    DL_TRY(dl_softmax_xent_forward(m->xent, &xa));
    if (!on_cpu) DL_TRY(ops->to_host(&mean, m->mean_loss_dev, sizeof mean));
    if (loss) *loss = mean;
    return DL_OK;
}

dl_status dl_mlp_backward(dl_mlp *m) {
    int B = m->batch;
    if (B < 1) return DL_FAIL(DL_ERR_ARG, "no forward with targets to differentiate");
    const dl_ops *ops = m->ops;
    DL_TRY(ops->zero(m->grads, m->n_params * sizeof(float)));
    for (int i = 0; i <= m->n_layers; i++)
        DL_TRY(ops->zero(m->dact[i], (size_t)B * width(m, i) * sizeof(float)));
    for (int l = 0; l < m->cfg.n_hidden; l++)
        DL_TRY(ops->zero(m->dpre[l], (size_t)B * width(m, l + 1) * sizeof(float)));

    dl_softmax_xent_args xa = {.N = B, .V = m->cfg.classes, .logits = m->act[m->n_layers],
                               .targets = m->targets, .probs = m->probs, .losses = m->losses,
                               .dloss_scale = 1.0f, .dlogits = m->dact[m->n_layers]};
    DL_TRY(dl_softmax_xent_backward(m->xent, &xa));
    for (int l = m->n_layers - 1; l >= 0; l--) {
        bool hidden = l < m->cfg.n_hidden;
        if (hidden) {
            dl_act_args ra = {.n = (size_t)B * width(m, l + 1), .inp = m->pre[l], .out = m->act[l + 1],
                              .dout = m->dact[l + 1], .dinp = m->dpre[l]};
            DL_TRY(dl_act_backward(m->relu, &ra));
        }
        dl_linear_args la = {.N = B, .C = width(m, l), .OC = width(m, l + 1), .inp = m->act[l],
                             .weight = m->W[l], .bias = m->b[l],
                             .out = hidden ? m->pre[l] : m->act[l + 1],
                             .dout = hidden ? m->dpre[l] : m->dact[l + 1],
                             .dinp = l > 0 ? m->dact[l] : NULL, /* no gradient for the data */
                             .dweight = m->dW[l], .dbias = m->db[l]};
        DL_TRY(dl_linear_backward(m->linear, &la));
        if (m->grad_hook.fn) /* this layer's dW and db are final: W (OC×C) then b (OC) */
            DL_TRY(m->grad_hook.fn(m->grad_hook.ctx, l, m->dW[l],
                                   (size_t)width(m, l + 1) * (width(m, l) + 1)));
    }
    return DL_OK;
}

void dl_mlp_set_grad_hook(dl_mlp *m, dl_mlp_grad_hook fn, void *ctx) {
    if (!m) return;
    m->grad_hook.fn = fn;
    m->grad_hook.ctx = fn ? ctx : NULL;
}

int dl_mlp_correct(const dl_mlp *m, const int *targets) {
    int correct = 0, C = m->cfg.classes;
    const float *logits = m->act[m->n_layers];
    float *host = NULL;
    if (m->ops->device != DL_DEVICE_CPU) { /* the logits are on the device: bring them back */
        size_t bytes = (size_t)m->batch * C * sizeof(float);
        host = malloc(bytes ? bytes : 1);
        if (!host) return DL_FAIL(DL_ERR_ALLOC, "%zu bytes of logits on the host", bytes), -1;
        if (m->ops->to_host(host, logits, bytes) != DL_OK) return free(host), -1;
        logits = host;
    }
    for (int i = 0; i < m->batch; i++) {
        int best = 0;
        for (int c = 1; c < C; c++)
            if (logits[(size_t)i * C + c] > logits[(size_t)i * C + best]) best = c;
        correct += best == targets[i];
    }
    free(host);
    return correct;
}

dl_mem_report dl_mlp_memory(const dl_mlp *m) {
    dl_mem_report r = {.params = m->n_params * sizeof(float), .grads = m->n_params * sizeof(float),
                       .optimizer = 0,
                       .activations = m->n_acts * sizeof(float) + (size_t)m->max_batch * sizeof(int) +
                                      (m->mean_loss_dev ? sizeof(float) : 0)};
    return r;
}
