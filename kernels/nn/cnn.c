/* cnn.c — the convolutional network of cnn.h: forward, backward, init, accounting.
 *
 * Each stage is one op call through the registry; the backward calls the same stages in
 * reverse. Every op's backward ADDS into its gradient buffers, so the backward first zeroes
 * the parameter gradients and the activation gradients (one zero each: single
 * allocations). Every buffer is the backend's (m->ops), allocated, zeroed, filled and read
 * back only through its table, so the file runs unchanged on the CPU and on CUDA. The flatten between pool2 and fc1 costs nothing: pool2 (B,C2,h2,w2) in NCHW
 * is already (B, C2·h2·w2) row-major, so fc1 reads it as it is.
 */
#include <stdlib.h>
#include <string.h>

#include "dlab/act.h"
#include "dlab/cnn.h"
#include "dlab/conv2d.h"
#include "dlab/linear.h"
#include "dlab/maxpool.h"
#include "dlab/optim.h"
#include "dlab/softmax_xent.h"

enum { K = DL_CNN_KERNEL, PAD = DL_CNN_KERNEL / 2, POOL = DL_CNN_POOL };

dl_cnn_config dl_cnn_default(void) {
    dl_cnn_config c = {.in_h = 28, .in_w = 28, .c1 = 16, .c2 = 32, .hidden = 128, .classes = 10};
    return c;
}

static dl_status check_config(const dl_cnn_config *c) {
    if (c->in_h < 2 * POOL)
        return DL_FAIL(DL_ERR_ARG, "in_h=%d must be >= %d (two 2×2 pools)", c->in_h, 2 * POOL);
    if (c->in_w < 2 * POOL)
        return DL_FAIL(DL_ERR_ARG, "in_w=%d must be >= %d (two 2×2 pools)", c->in_w, 2 * POOL);
    if (c->c1 < 1) return DL_FAIL(DL_ERR_ARG, "c1=%d must be >= 1", c->c1);
    if (c->c2 < 1) return DL_FAIL(DL_ERR_ARG, "c2=%d must be >= 1", c->c2);
    if (c->hidden < 1) return DL_FAIL(DL_ERR_ARG, "hidden=%d must be >= 1", c->hidden);
    if (c->classes < 1) return DL_FAIL(DL_ERR_ARG, "classes=%d must be >= 1", c->classes);
    return DL_OK;
}

/* Hand out n floats from *cursor. */
static float *take(float **cursor, size_t n) {
    float *p = *cursor;
    *cursor += n;
    return p;
}

dl_status dl_cnn_create(dl_cnn *m, const dl_cnn_config *cfg, int max_batch, const char *variants) {
    if (!m || !cfg) return DL_FAIL(DL_ERR_ARG, "model or config is NULL");
    memset(m, 0, sizeof *m);
    DL_TRY(check_config(cfg));
    if (max_batch < 1) return DL_FAIL(DL_ERR_ARG, "max_batch=%d must be >= 1", max_batch);
    const dl_ops *ops;
    bool ref;
    DL_TRY(dl_backend_for_variants(variants, &ops, &ref));
    DL_TRY(dl_backend_pick(ops, ref, "conv2d", &m->conv));
    DL_TRY(dl_backend_pick(ops, ref, "maxpool", &m->pool));
    DL_TRY(dl_backend_pick(ops, ref, "linear", &m->linear));
    DL_TRY(dl_backend_pick(ops, ref, "relu", &m->relu));
    DL_TRY(dl_backend_pick(ops, ref, "softmax_xent", &m->xent));
    m->ops = ops;
    m->cfg = *cfg;
    m->max_batch = max_batch;
    m->h1 = cfg->in_h / POOL, m->w1 = cfg->in_w / POOL;
    m->h2 = m->h1 / POOL, m->w2 = m->w1 / POOL;
    m->flat = cfg->c2 * m->h2 * m->w2;

    /* Parameters, and gradients laid out the same way. */
    const dl_cnn_config *c = cfg;
    size_t conv1_w = (size_t)c->c1 * 1 * K * K, conv2_w = (size_t)c->c2 * c->c1 * K * K;
    size_t fc1_w = (size_t)c->hidden * m->flat, fc2_w = (size_t)c->classes * c->hidden;
    m->n_params = conv1_w + c->c1 + conv2_w + c->c2 + fc1_w + c->hidden + fc2_w + c->classes;
    dl_status s = dl_backend_alloc_zeroed(ops, (void **)&m->params, m->n_params * sizeof(float));
    if (s == DL_OK) s = dl_backend_alloc_zeroed(ops, (void **)&m->grads, m->n_params * sizeof(float));
    if (s != DL_OK) return dl_cnn_free(m), s;
    float *p = m->params, *g = m->grads;
    m->conv1_w = take(&p, conv1_w), m->dconv1_w = take(&g, conv1_w);
    m->conv1_b = take(&p, c->c1), m->dconv1_b = take(&g, c->c1);
    m->conv2_w = take(&p, conv2_w), m->dconv2_w = take(&g, conv2_w);
    m->conv2_b = take(&p, c->c2), m->dconv2_b = take(&g, c->c2);
    m->fc1_w = take(&p, fc1_w), m->dfc1_w = take(&g, fc1_w);
    m->fc1_b = take(&p, c->hidden), m->dfc1_b = take(&g, c->hidden);
    m->fc2_w = take(&p, fc2_w), m->dfc2_w = take(&g, fc2_w);
    m->fc2_b = take(&p, c->classes), m->dfc2_b = take(&g, c->classes);

    /* Activations for max_batch images; every one but the input has a gradient twin. */
    size_t B = (size_t)max_batch;
    size_t in = B * c->in_h * c->in_w, a1 = B * c->c1 * c->in_h * c->in_w;
    size_t p1 = B * c->c1 * m->h1 * m->w1, a2 = B * c->c2 * m->h1 * m->w1;
    size_t p2 = B * m->flat, f = B * c->hidden, lg = B * c->classes;
    m->n_acts = in + 2 * (2 * a1 + p1 + 2 * a2 + p2 + 2 * f + lg) + lg + B;
    m->n_ints = p1 + p2 + B;
    s = dl_backend_alloc_zeroed(ops, (void **)&m->acts, m->n_acts * sizeof(float));
    if (s == DL_OK) s = dl_backend_alloc_zeroed(ops, (void **)&m->ints, m->n_ints * sizeof(int));
    /* The CPU loss writes the mean straight into the caller's float; a device one cannot. */
    if (s == DL_OK && ops->device != DL_DEVICE_CPU)
        s = dl_backend_alloc_zeroed(ops, (void **)&m->mean_loss_dev, sizeof(float));
    if (s != DL_OK) return dl_cnn_free(m), s;
    float *q = m->acts;
    m->x = take(&q, in);
    m->conv1 = take(&q, a1), m->relu1 = take(&q, a1), m->pool1 = take(&q, p1);
    m->conv2 = take(&q, a2), m->relu2 = take(&q, a2), m->pool2 = take(&q, p2);
    m->fc1 = take(&q, f), m->relu3 = take(&q, f), m->logits = take(&q, lg);
    m->dconv1 = take(&q, a1), m->drelu1 = take(&q, a1), m->dpool1 = take(&q, p1);
    m->dconv2 = take(&q, a2), m->drelu2 = take(&q, a2), m->dpool2 = take(&q, p2);
    m->dfc1 = take(&q, f), m->drelu3 = take(&q, f), m->dlogits = take(&q, lg);
    m->probs = take(&q, lg), m->losses = take(&q, B);
    m->pool1_argmax = m->ints, m->pool2_argmax = m->ints + p1, m->targets = m->ints + p1 + p2;
    return DL_OK;
}

void dl_cnn_free(dl_cnn *m) {
    if (!m) return;
    if (m->ops) {
        m->ops->free(m->params), m->ops->free(m->grads), m->ops->free(m->acts);
        m->ops->free(m->ints), m->ops->free(m->mean_loss_dev);
    }
    memset(m, 0, sizeof *m);
}

dl_status dl_cnn_init(dl_cnn *m, dl_rng *rng) {
    const dl_cnn_config *c = &m->cfg;
    float *host = malloc(m->n_params * sizeof(float));
    if (!host) return DL_FAIL(DL_ERR_ALLOC, "%zu parameters on the host", m->n_params);
    /* The same offsets as m->params, in a host copy. */
#define HOST(p) (host + ((p) - m->params))
    struct { float *w, *b; size_t rows, fan_in; } layers[] = {
        {HOST(m->conv1_w), HOST(m->conv1_b), (size_t)c->c1, (size_t)1 * K * K},
        {HOST(m->conv2_w), HOST(m->conv2_b), (size_t)c->c2, (size_t)c->c1 * K * K},
        {HOST(m->fc1_w), HOST(m->fc1_b), (size_t)c->hidden, (size_t)m->flat},
        {HOST(m->fc2_w), HOST(m->fc2_b), (size_t)c->classes, (size_t)c->hidden},
    };
#undef HOST
    dl_status s = DL_OK;
    for (size_t l = 0; l < sizeof layers / sizeof layers[0] && s == DL_OK; l++) {
        size_t n = layers[l].rows * layers[l].fan_in;
        s = dl_init_kaiming_uniform(layers[l].w, n, layers[l].fan_in, rng);
        memset(layers[l].b, 0, layers[l].rows * sizeof(float));
    }
    if (s == DL_OK) s = dl_cnn_params_from_host(m, host);
    free(host);
    return s;
}

dl_status dl_cnn_params_to_host(const dl_cnn *m, float *host) {
    if (!m || !m->ops || !host) return DL_FAIL(DL_ERR_ARG, "model (created) or host is NULL");
    return m->ops->to_host(host, m->params, m->n_params * sizeof(float));
}

dl_status dl_cnn_params_from_host(dl_cnn *m, const float *host) {
    if (!m || !m->ops || !host) return DL_FAIL(DL_ERR_ARG, "model (created) or host is NULL");
    return m->ops->to_device(m->params, host, m->n_params * sizeof(float));
}

/* The arguments of each stage for a batch of B, forward tensors and gradients together
 * (the backward reads the same struct). */
static dl_conv2d_args conv1_args(const dl_cnn *m, int B) {
    return (dl_conv2d_args){.N = B, .C_in = 1, .H = m->cfg.in_h, .W = m->cfg.in_w, .C_out = m->cfg.c1,
                            .KH = K, .KW = K, .stride = 1, .pad = PAD, .inp = m->x,
                            .weight = m->conv1_w, .bias = m->conv1_b, .out = m->conv1,
                            .dout = m->dconv1, .dinp = NULL, /* no gradient for the data */
                            .dweight = m->dconv1_w, .dbias = m->dconv1_b};
}
static dl_conv2d_args conv2_args(const dl_cnn *m, int B) {
    return (dl_conv2d_args){.N = B, .C_in = m->cfg.c1, .H = m->h1, .W = m->w1, .C_out = m->cfg.c2,
                            .KH = K, .KW = K, .stride = 1, .pad = PAD, .inp = m->pool1,
                            .weight = m->conv2_w, .bias = m->conv2_b, .out = m->conv2,
                            .dout = m->dconv2, .dinp = m->dpool1, .dweight = m->dconv2_w,
                            .dbias = m->dconv2_b};
}
static dl_maxpool_args pool1_args(const dl_cnn *m, int B) {
    return (dl_maxpool_args){.N = B, .C = m->cfg.c1, .H = m->cfg.in_h, .W = m->cfg.in_w, .K = POOL,
                             .stride = POOL, .inp = m->relu1, .out = m->pool1,
                             .argmax = m->pool1_argmax, .dout = m->dpool1, .dinp = m->drelu1};
}
static dl_maxpool_args pool2_args(const dl_cnn *m, int B) {
    return (dl_maxpool_args){.N = B, .C = m->cfg.c2, .H = m->h1, .W = m->w1, .K = POOL,
                             .stride = POOL, .inp = m->relu2, .out = m->pool2,
                             .argmax = m->pool2_argmax, .dout = m->dpool2, .dinp = m->drelu2};
}
static dl_linear_args fc1_args(const dl_cnn *m, int B) {
    return (dl_linear_args){.N = B, .C = m->flat, .OC = m->cfg.hidden, .inp = m->pool2,
                            .weight = m->fc1_w, .bias = m->fc1_b, .out = m->fc1, .dout = m->dfc1,
                            .dinp = m->dpool2, .dweight = m->dfc1_w, .dbias = m->dfc1_b};
}
static dl_linear_args fc2_args(const dl_cnn *m, int B) {
    return (dl_linear_args){.N = B, .C = m->cfg.hidden, .OC = m->cfg.classes, .inp = m->relu3,
                            .weight = m->fc2_w, .bias = m->fc2_b, .out = m->logits,
                            .dout = m->dlogits, .dinp = m->drelu3, .dweight = m->dfc2_w,
                            .dbias = m->dfc2_b};
}
static dl_act_args relu_args(size_t n, const float *inp, float *out, const float *dout, float *dinp) {
    return (dl_act_args){.n = n, .inp = inp, .out = out, .dout = dout, .dinp = dinp};
}

dl_status dl_cnn_forward(dl_cnn *m, const float *x, const int *targets, int B, float *loss) {
    if (B < 1 || B > m->max_batch)
        return DL_FAIL(DL_ERR_ARG, "batch %d is outside 1..%d (max_batch)", B, m->max_batch);
    if (!x) return DL_FAIL(DL_ERR_ARG, "x is NULL");
    const dl_cnn_config *c = &m->cfg;
    size_t a1 = (size_t)B * c->c1 * c->in_h * c->in_w, a2 = (size_t)B * c->c2 * m->h1 * m->w1;
    const dl_ops *ops = m->ops;
    const bool on_cpu = ops->device == DL_DEVICE_CPU;
    /* The CUDA loss cannot report a bad target (it makes the row NaN): refuse it here. */
    for (int i = 0; targets && !on_cpu && i < B; i++)
        if (targets[i] != DL_XENT_IGNORE && (targets[i] < 0 || targets[i] >= c->classes))
            return DL_FAIL(DL_ERR_ARG, "targets[%d]=%d is outside [0,classes=%d)", i, targets[i],
                           c->classes);
    m->batch = B;
    DL_TRY(ops->to_device(m->x, x, (size_t)B * c->in_h * c->in_w * sizeof(float)));
    dl_conv2d_args cv1 = conv1_args(m, B), cv2 = conv2_args(m, B);
    dl_maxpool_args mp1 = pool1_args(m, B), mp2 = pool2_args(m, B);
    dl_linear_args l1 = fc1_args(m, B), l2 = fc2_args(m, B);
    dl_act_args r1 = relu_args(a1, m->conv1, m->relu1, NULL, NULL);
    dl_act_args r2 = relu_args(a2, m->conv2, m->relu2, NULL, NULL);
    dl_act_args r3 = relu_args((size_t)B * c->hidden, m->fc1, m->relu3, NULL, NULL);
    DL_TRY(dl_conv2d_forward(m->conv, &cv1));
    DL_TRY(dl_act_forward(m->relu, &r1));
    DL_TRY(dl_maxpool_forward(m->pool, &mp1));
    DL_TRY(dl_conv2d_forward(m->conv, &cv2));
    DL_TRY(dl_act_forward(m->relu, &r2));
    DL_TRY(dl_maxpool_forward(m->pool, &mp2));
    DL_TRY(dl_linear_forward(m->linear, &l1));
    DL_TRY(dl_act_forward(m->relu, &r3));
    DL_TRY(dl_linear_forward(m->linear, &l2));
    if (!targets) return DL_OK;
    DL_TRY(ops->to_device(m->targets, targets, (size_t)B * sizeof(int)));
    float mean = 0;
    dl_softmax_xent_args xa = {.N = B, .V = c->classes, .logits = m->logits, .targets = m->targets,
                               .probs = m->probs, .losses = m->losses,
                               .mean_loss = on_cpu ? &mean : m->mean_loss_dev};
    DL_TRY(dl_softmax_xent_forward(m->xent, &xa));
    if (!on_cpu) DL_TRY(ops->to_host(&mean, m->mean_loss_dev, sizeof mean));
    if (loss) *loss = mean;
    return DL_OK;
}

dl_status dl_cnn_backward(dl_cnn *m) {
    int B = m->batch;
    if (B < 1) return DL_FAIL(DL_ERR_ARG, "no forward with targets to differentiate");
    const dl_cnn_config *c = &m->cfg;
    size_t a1 = (size_t)B * c->c1 * c->in_h * c->in_w, a2 = (size_t)B * c->c2 * m->h1 * m->w1;
    DL_TRY(m->ops->zero(m->grads, m->n_params * sizeof(float)));
    /* Every activation gradient is added into, so each starts at 0 — its first B images only
     * (the buffers are sized for max_batch; the rest is never read). */
    struct { float *grad; size_t per_image; } twins[] = {
        {m->dconv1, a1 / B}, {m->drelu1, a1 / B}, {m->dpool1, (size_t)c->c1 * m->h1 * m->w1},
        {m->dconv2, a2 / B}, {m->drelu2, a2 / B}, {m->dpool2, (size_t)m->flat},
        {m->dfc1, (size_t)c->hidden}, {m->drelu3, (size_t)c->hidden}, {m->dlogits, (size_t)c->classes},
    };
    for (size_t i = 0; i < sizeof twins / sizeof twins[0]; i++)
        DL_TRY(m->ops->zero(twins[i].grad, (size_t)B * twins[i].per_image * sizeof(float)));

    dl_softmax_xent_args xa = {.N = B, .V = c->classes, .logits = m->logits, .targets = m->targets,
                               .probs = m->probs, .losses = m->losses, .dloss_scale = 1.0f,
                               .dlogits = m->dlogits};
    dl_conv2d_args cv1 = conv1_args(m, B), cv2 = conv2_args(m, B);
    dl_maxpool_args mp1 = pool1_args(m, B), mp2 = pool2_args(m, B);
    dl_linear_args l1 = fc1_args(m, B), l2 = fc2_args(m, B);
    dl_act_args r1 = relu_args(a1, m->conv1, m->relu1, m->drelu1, m->dconv1);
    dl_act_args r2 = relu_args(a2, m->conv2, m->relu2, m->drelu2, m->dconv2);
    dl_act_args r3 = relu_args((size_t)B * c->hidden, m->fc1, m->relu3, m->drelu3, m->dfc1);
    DL_TRY(dl_softmax_xent_backward(m->xent, &xa));
    DL_TRY(dl_linear_backward(m->linear, &l2));
    DL_TRY(dl_act_backward(m->relu, &r3));
    DL_TRY(dl_linear_backward(m->linear, &l1));
    DL_TRY(dl_maxpool_backward(m->pool, &mp2));
    DL_TRY(dl_act_backward(m->relu, &r2));
    DL_TRY(dl_conv2d_backward(m->conv, &cv2));
    DL_TRY(dl_maxpool_backward(m->pool, &mp1));
    DL_TRY(dl_act_backward(m->relu, &r1));
    DL_TRY(dl_conv2d_backward(m->conv, &cv1));
    return DL_OK;
}

int dl_cnn_correct(const dl_cnn *m, const int *targets) {
    int correct = 0, C = m->cfg.classes;
    const float *logits = m->logits;
    float *host = NULL;
    if (m->ops->device != DL_DEVICE_CPU) { /* the logits are on the device: bring them back */
        size_t bytes = (size_t)m->batch * C * sizeof(float);
        host = malloc(bytes ? bytes : 1);
        if (!host) return DL_FAIL(DL_ERR_ALLOC, "%zu bytes of logits on the host", bytes), -1;
        if (m->ops->to_host(host, logits, bytes) != DL_OK) return free(host), -1;
        logits = host;
    }
    for (int i = 0; i < m->batch; i++) {
        const float *row = logits + (size_t)i * C;
        int best = 0;
        for (int k = 1; k < C; k++)
            if (row[k] > row[best]) best = k;
        correct += best == targets[i];
    }
    free(host);
    return correct;
}

dl_mem_report dl_cnn_memory(const dl_cnn *m) {
    dl_mem_report r = {.params = m->n_params * sizeof(float), .grads = m->n_params * sizeof(float),
                       .optimizer = 0,
                       .activations = m->n_acts * sizeof(float) + m->n_ints * sizeof(int) +
                                      (m->mean_loss_dev ? sizeof(float) : 0)};
    return r;
}
