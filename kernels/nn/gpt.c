/* gpt.c — the GPT of gpt.h: layout, init, forward, backward, accounting (sampling is in
 * gpt_generate.c).
 *
 * Every op's backward ADDS into its gradient buffers, so the backward zeroes the parameter
 * gradients and the activation gradients once (one memset each: single allocations), then
 * walks the forward in reverse. The residual stream's gradient flows through dresidual3 of
 * the layer above, the two residual adds and the layernorms into dresidual3 of the layer
 * below (or dencoded). Per-layer tensors are indexed with the max_B·max_T strides fixed at
 * create time; a smaller forward uses the first B·T rows of each layer's block.
 *
 * Every buffer is the backend's (m->ops): allocated, zeroed, filled and read back only
 * through its table, so this file runs unchanged on the CPU and on CUDA. On the CPU those
 * calls are malloc, memset and memcpy: the same work as before the backend table.
 *
 * Adapters (lora.h): with m->lora set, the forward adds each targeted projection's low-rank
 * update right after its linear, and the backward adds the adapter's input gradient right
 * after the linear's, before anything reads it. With m->freeze_base the backward passes NULL
 * for every base-parameter gradient (linears, layernorms, the tied head) and skips the
 * embedding backward, whose only outputs are dwte and dwpe. Without adapters both paths are
 * the plain GPT's, call for call.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/act.h"
#include "dlab/attention.h"
#include "dlab/embedding.h"
#include "dlab/gpt.h"
#include "dlab/layernorm.h"
#include "dlab/linear.h"
#include "dlab/residual.h"
#include "dlab/softmax_xent.h"
#include "lora_internal.h"

dl_gpt_config dl_gpt_default_config(int vocab) {
    dl_gpt_config c = {.vocab = vocab, .block_size = 128, .n_layer = 4, .n_head = 4, .n_embd = 128};
    return c;
}

void dl_gpt_tensors(const dl_gpt_config *cfg, dl_gpt_tensor out[DL_GPT_N_TENSORS]) {
    long V = cfg->vocab, T = cfg->block_size, L = cfg->n_layer, C = cfg->n_embd;
    static const char *const names[DL_GPT_N_TENSORS] = {
        "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
        "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"};
    const long shapes[DL_GPT_N_TENSORS][3] = {
        {V, C}, {T, C}, {L, C}, {L, C}, {L, 3 * C, C}, {L, 3 * C}, {L, C, C}, {L, C},
        {L, C}, {L, C}, {L, 4 * C, C}, {L, 4 * C}, {L, C, 4 * C}, {L, C}, {C}, {C}};
    static const int ndims[DL_GPT_N_TENSORS] = {2, 2, 2, 2, 3, 2, 3, 2, 2, 2, 3, 2, 3, 2, 1, 1};
    size_t offset = 0;
    for (int i = 0; i < DL_GPT_N_TENSORS; i++) {
        dl_gpt_tensor *t = &out[i];
        t->name = names[i], t->ndim = ndims[i], t->offset = offset, t->size = 1;
        for (int d = 0; d < 3; d++) t->shape[d] = d < t->ndim ? shapes[i][d] : 0;
        for (int d = 0; d < t->ndim; d++) t->size *= (size_t)t->shape[d];
        t->is_matrix = i == DL_GPT_WTE || i == DL_GPT_WPE || i == DL_GPT_QKVW ||
                       i == DL_GPT_ATTPROJW || i == DL_GPT_FCW || i == DL_GPT_FCPROJW;
        offset += t->size;
    }
}

size_t dl_gpt_param_count(const dl_gpt_config *cfg) {
    dl_gpt_tensor t[DL_GPT_N_TENSORS];
    dl_gpt_tensors(cfg, t);
    return t[DL_GPT_N_TENSORS - 1].offset + t[DL_GPT_N_TENSORS - 1].size;
}

/* Point the fields of `a` into base (NULL: only count) and return the floats used. The
 * gradient copy (grads = true) leaves out what no backward writes: att, the layernorm
 * statistics, probs and losses. */
static size_t layout_acts(dl_gpt_acts *a, float *base, const dl_gpt *m, bool grads) {
    size_t BT = (size_t)m->max_B * m->max_T, C = m->cfg.n_embd, L = m->cfg.n_layer;
    size_t NH = m->cfg.n_head, V = m->cfg.vocab, T = m->max_T;
    size_t n = 0;
#define FIELD(f, count, needed_in_grads)                                                   \
    do {                                                                                   \
        size_t k_ = (grads && !(needed_in_grads)) ? 0 : (count);                           \
        a->f = (base && k_) ? base + n : NULL;                                             \
        n += k_;                                                                           \
    } while (0)
    FIELD(encoded, BT * C, true);
    FIELD(ln1, L * BT * C, true);
    FIELD(ln1_mean, L * BT, false);
    FIELD(ln1_rstd, L * BT, false);
    FIELD(qkv, L * BT * 3 * C, true);
    FIELD(atty, L * BT * C, true);
    const bool materialized = dl_attention_materializes(m->attention);
    FIELD(att, materialized ? L * m->max_B * NH * T * T : 0, false);
    FIELD(lse, materialized ? 0 : L * m->max_B * NH * T, false);
    FIELD(attproj, L * BT * C, true);
    FIELD(residual2, L * BT * C, true);
    FIELD(ln2, L * BT * C, true);
    FIELD(ln2_mean, L * BT, false);
    FIELD(ln2_rstd, L * BT, false);
    FIELD(fch, L * BT * 4 * C, true);
    FIELD(fch_gelu, L * BT * 4 * C, true);
    FIELD(fcproj, L * BT * C, true);
    FIELD(residual3, L * BT * C, true);
    FIELD(lnf, BT * C, true);
    FIELD(lnf_mean, BT, false);
    FIELD(lnf_rstd, BT, false);
    FIELD(logits, BT * V, true);
    FIELD(probs, BT * V, false);
    FIELD(losses, BT, false);
#undef FIELD
    return n;
}

/* variants = "ref" | "fast" | "cuda", then optionally ",attention=NAME". */
static dl_status parse_variants(const char *variants, const dl_ops **ops, bool *ref,
                                const dl_variant **attention) {
    const char *usage = "expected ref, fast or cuda, optionally followed by ,attention=NAME";
    if (!variants) return DL_FAIL(DL_ERR_ARG, "variants is NULL: %s", usage);
    const char *comma = strchr(variants, ',');
    const size_t base = comma ? (size_t)(comma - variants) : strlen(variants);
    char name_of_base[8] = "";
    if (base >= sizeof name_of_base) return DL_FAIL(DL_ERR_ARG, "variants '%s': %s", variants, usage);
    memcpy(name_of_base, variants, base);
    if (strcmp(name_of_base, "ref") && strcmp(name_of_base, "fast") && strcmp(name_of_base, "cuda"))
        return DL_FAIL(DL_ERR_ARG, "variants '%s': %s", variants, usage);
    DL_TRY(dl_backend_for_variants(name_of_base, ops, ref));
    if (comma) {
        const char *key = "attention=";
        if (strncmp(comma + 1, key, strlen(key)) != 0)
            return DL_FAIL(DL_ERR_ARG, "variants '%s': %s", variants, usage);
        const char *name = comma + 1 + strlen(key);
        const dl_variant *v = dl_variant_find("attention", name);
        if (!v || v->device != (*ops)->device || !dl_variant_available(v))
            return DL_FAIL(DL_ERR_ARG, "variants '%s': no attention variant '%s' runs on this %s",
                           variants, name, (*ops)->device == DL_DEVICE_CPU ? "CPU" : "GPU");
        *attention = v;
        return DL_OK;
    }
    dl_status s = dl_backend_pick(*ops, *ref, "attention", attention);
    if (s == DL_ERR_UNSUPPORTED && (*ops)->device == DL_DEVICE_CUDA)
        return DL_FAIL(DL_ERR_UNSUPPORTED,
                       "the GPT on cuda needs a CUDA attention variant (\"cuda_flash\"), and this "
                       "build has none that runs here; pick one with \"cuda,attention=NAME\"");
    return s;
}

dl_status dl_gpt_create(dl_gpt *m, const dl_gpt_config *cfg, int max_B, int max_T,
                        const char *variants) {
    if (!m || !cfg) return DL_FAIL(DL_ERR_ARG, "model or config is NULL");
    memset(m, 0, sizeof *m);
    if (cfg->vocab < 1 || cfg->block_size < 1 || cfg->n_layer < 1 || cfg->n_head < 1 || cfg->n_embd < 1)
        return DL_FAIL(DL_ERR_ARG, "vocab=%d, block_size=%d, n_layer=%d, n_head=%d, n_embd=%d: all must be >= 1",
                       cfg->vocab, cfg->block_size, cfg->n_layer, cfg->n_head, cfg->n_embd);
    if (cfg->n_embd % cfg->n_head)
        return DL_FAIL(DL_ERR_ARG, "n_head=%d does not divide n_embd=%d", cfg->n_head, cfg->n_embd);
    if (max_B < 1 || max_T < 1 || max_T > cfg->block_size)
        return DL_FAIL(DL_ERR_ARG, "max_B=%d must be >= 1 and max_T=%d within 1..block_size=%d",
                       max_B, max_T, cfg->block_size);
    bool ref = false;
    const dl_ops *ops = NULL;
    DL_TRY(parse_variants(variants, &ops, &ref, &m->attention));
    DL_TRY(dl_backend_pick(ops, ref, "embedding", &m->embedding));
    DL_TRY(dl_backend_pick(ops, ref, "layernorm", &m->layernorm));
    DL_TRY(dl_backend_pick(ops, ref, "linear", &m->linear));
    DL_TRY(dl_backend_pick(ops, ref, "gelu", &m->gelu));
    DL_TRY(dl_backend_pick(ops, ref, "residual", &m->residual));
    DL_TRY(dl_backend_pick(ops, ref, "softmax_xent", &m->xent));
    m->cfg = *cfg, m->max_B = max_B, m->max_T = max_T, m->ops = ops;

    dl_gpt_tensor t[DL_GPT_N_TENSORS];
    dl_gpt_tensors(cfg, t);
    m->n_params = dl_gpt_param_count(cfg);
    m->n_acts = layout_acts(&m->a, NULL, m, false);
    m->n_grad_acts = layout_acts(&m->da, NULL, m, true);
    const size_t BT = (size_t)max_B * max_T;
    dl_status s = dl_backend_alloc_zeroed(ops, (void **)&m->params, m->n_params * sizeof(float));
    if (s == DL_OK) s = dl_backend_alloc_zeroed(ops, (void **)&m->grads, m->n_params * sizeof(float));
    if (s == DL_OK) s = dl_backend_alloc_zeroed(ops, (void **)&m->act_mem, m->n_acts * sizeof(float));
    if (s == DL_OK) s = dl_backend_alloc_zeroed(ops, (void **)&m->grad_act_mem, m->n_grad_acts * sizeof(float));
    if (s == DL_OK) s = dl_backend_alloc_zeroed(ops, (void **)&m->targets, BT * sizeof(int));
    if (s == DL_OK) s = dl_backend_alloc_zeroed(ops, (void **)&m->tokens, BT * sizeof(int));
    /* The CPU loss writes the mean straight into the caller's float; a device one cannot. */
    if (s == DL_OK && ops->device != DL_DEVICE_CPU)
        s = dl_backend_alloc_zeroed(ops, (void **)&m->mean_loss_dev, sizeof(float));
    if (s != DL_OK) return dl_gpt_free(m), s;
    for (int i = 0; i < DL_GPT_N_TENSORS; i++) m->p[i] = m->params + t[i].offset, m->g[i] = m->grads + t[i].offset;
    layout_acts(&m->a, m->act_mem, m, false);
    layout_acts(&m->da, m->grad_act_mem, m, true);
    return DL_OK;
}

void dl_gpt_free(dl_gpt *m) {
    if (!m) return;
    if (m->ops) {
        const dl_ops *ops = m->ops;
        ops->free(m->params), ops->free(m->grads), ops->free(m->act_mem), ops->free(m->grad_act_mem);
        ops->free(m->targets), ops->free(m->tokens), ops->free(m->mean_loss_dev);
    }
    memset(m, 0, sizeof *m);
}

dl_status dl_gpt_init(dl_gpt *m, dl_rng *rng) {
    if (!m || !m->params || !rng) return DL_FAIL(DL_ERR_ARG, "model (created) and rng are required");
    dl_gpt_tensor t[DL_GPT_N_TENSORS];
    dl_gpt_tensors(&m->cfg, t);
    float *host = malloc(m->n_params * sizeof(float));
    if (!host) return DL_FAIL(DL_ERR_ALLOC, "%zu parameters on the host", m->n_params);
    float residual_std = 0.02f / sqrtf(2.0f * m->cfg.n_layer);
    for (int i = 0; i < DL_GPT_N_TENSORS; i++) {
        bool gamma = i == DL_GPT_LN1W || i == DL_GPT_LN2W || i == DL_GPT_LNFW;
        float *p = host + t[i].offset;
        if (t[i].is_matrix) {
            bool proj = i == DL_GPT_ATTPROJW || i == DL_GPT_FCPROJW;
            dl_rng_fill_normal(rng, p, t[i].size, 0.0f, proj ? residual_std : 0.02f);
        } else {
            for (size_t k = 0; k < t[i].size; k++) p[k] = gamma ? 1.0f : 0.0f;
        }
    }
    dl_status s = dl_gpt_params_from_host(m, host);
    free(host);
    return s;
}

dl_status dl_gpt_params_to_host(const dl_gpt *m, float *host) {
    if (!m || !m->ops || !host) return DL_FAIL(DL_ERR_ARG, "model (created) or host is NULL");
    return m->ops->to_host(host, m->params, m->n_params * sizeof(float));
}

dl_status dl_gpt_params_from_host(dl_gpt *m, const float *host) {
    if (!m || !m->ops || !host) return DL_FAIL(DL_ERR_ARG, "model (created) or host is NULL");
    return m->ops->to_device(m->params, host, m->n_params * sizeof(float));
}

/* The CUDA embedding and loss cannot report a bad id (they make the row NaN): refuse it on
 * the host, as the CPU variants would. Targets may be DL_XENT_IGNORE. */
static dl_status check_ids_on_host(const int *ids, int n, int V, bool ignore_allowed,
                                   const char *what) {
    for (int i = 0; i < n; i++)
        if ((ids[i] < 0 || ids[i] >= V) && !(ignore_allowed && ids[i] == DL_XENT_IGNORE))
            return dl_fail_at(DL_ERR_ARG, "dl_gpt_forward", "%s[%d]=%d is outside [0,V=%d)", what, i,
                              ids[i], V);
    return DL_OK;
}

/* Offsets of layer l's slice in the per-layer activation tensors. */
typedef struct layer_view {
    size_t c, c3, c4, stat, att, lse; /* floats per layer: width C, 3C, 4C, per-row stats, att, lse */
} layer_view;

static layer_view view_of(const dl_gpt *m) {
    size_t BT = (size_t)m->max_B * m->max_T, C = m->cfg.n_embd;
    size_t rows = (size_t)m->max_B * m->cfg.n_head * m->max_T; /* score rows */
    layer_view v = {BT * C, BT * 3 * C, BT * 4 * C, BT, rows * m->max_T, rows};
    return v;
}

/* Layer l's attention arguments (forward fields; the backward adds dout and dqkv). Only one of
 * att / lse is allocated, so the other stays NULL. */
static dl_attention_args attention_args(const dl_gpt *m, const layer_view *lv, int l) {
    const dl_gpt_acts *a = &m->a;
    dl_attention_args at = {.B = m->B, .T = m->T, .C = m->cfg.n_embd, .NH = m->cfg.n_head,
                            .qkv = a->qkv + l * lv->c3, .out = a->atty + l * lv->c,
                            .att = a->att ? a->att + l * lv->att : NULL,
                            .lse = a->lse ? a->lse + l * lv->lse : NULL};
    return at;
}

void dl_gpt_set_linear_hook(dl_gpt *m, dl_gpt_linear_hook fn, void *ctx) {
    if (!m) return;
    m->linear_hook.fn = (dl_status (*)(void *, int, int, const dl_linear_args *))fn;
    m->linear_hook.ctx = fn ? ctx : NULL;
}

/* One projection of the forward: the inference hook when one is set, else the fp32 linear. */
static dl_status project(dl_gpt *m, int layer, dl_gpt_proj proj, const dl_linear_args *args) {
    if (m->linear_hook.fn) return m->linear_hook.fn(m->linear_hook.ctx, layer, (int)proj, args);
    return dl_linear_forward(m->linear, args);
}

dl_status dl_gpt_forward(dl_gpt *m, const int *tokens, const int *targets, int B, int T, float *loss) {
    if (!m || !m->params) return DL_FAIL(DL_ERR_ARG, "model is not created");
    if (B < 1 || B > m->max_B || T < 1 || T > m->max_T)
        return DL_FAIL(DL_ERR_ARG, "B=%d, T=%d: must be within 1..max_B=%d and 1..max_T=%d", B, T,
                       m->max_B, m->max_T);
    if (!tokens) return DL_FAIL(DL_ERR_ARG, "tokens is NULL");
    const int C = m->cfg.n_embd, V = m->cfg.vocab, L = m->cfg.n_layer, N = B * T;
    const layer_view lv = view_of(m);
    dl_gpt_acts *a = &m->a;
    float **p = m->p;
    const dl_ops *ops = m->ops;
    const bool on_cpu = ops->device == DL_DEVICE_CPU;
    dl_lora *lo = m->lora;
    m->B = B, m->T = T, m->has_targets = false;
    if (!on_cpu) {
        DL_TRY(check_ids_on_host(tokens, N, V, false, "tokens"));
        if (targets) DL_TRY(check_ids_on_host(targets, N, V, true, "targets"));
    }

    /* The model's own copy: the embedding reads it on the device, and its backward again. */
    DL_TRY(ops->to_device(m->tokens, tokens, (size_t)N * sizeof(int)));
    dl_embedding_args ea = {.B = B, .T = T, .C = C, .V = V, .maxT = m->cfg.block_size, .tokens = m->tokens,
                            .wte = p[DL_GPT_WTE], .wpe = p[DL_GPT_WPE], .out = a->encoded};
    DL_TRY(dl_embedding_forward(m->embedding, &ea));
    for (int l = 0; l < L; l++) {
        const float *residual = l == 0 ? a->encoded : a->residual3 + (l - 1) * lv.c;
        float *ln1 = a->ln1 + l * lv.c, *qkv = a->qkv + l * lv.c3, *atty = a->atty + l * lv.c;
        float *attproj = a->attproj + l * lv.c, *res2 = a->residual2 + l * lv.c;
        float *ln2 = a->ln2 + l * lv.c, *fch = a->fch + l * lv.c4, *fch_gelu = a->fch_gelu + l * lv.c4;
        float *fcproj = a->fcproj + l * lv.c, *res3 = a->residual3 + l * lv.c;
        dl_layernorm_args n1 = {.N = N, .C = C, .inp = residual, .gamma = p[DL_GPT_LN1W] + l * C,
                                .beta = p[DL_GPT_LN1B] + l * C, .out = ln1,
                                .mean = a->ln1_mean + l * lv.stat, .rstd = a->ln1_rstd + l * lv.stat};
        DL_TRY(dl_layernorm_forward(m->layernorm, &n1));
        dl_linear_args q = {.N = N, .C = C, .OC = 3 * C, .inp = ln1, .weight = p[DL_GPT_QKVW] + (size_t)l * 3 * C * C,
                            .bias = p[DL_GPT_QKVB] + l * 3 * C, .out = qkv};
        DL_TRY(project(m, l, DL_GPT_PROJ_QKV, &q));
        if (lo) /* q, k, v: the three C-wide slices of each 3C-wide qkv row */
            for (int t = DL_LORA_Q; t <= DL_LORA_V; t++)
                DL_TRY(dl_lora_forward_add(lo, l, (dl_lora_target)t, N, ln1, C, qkv + (t - DL_LORA_Q) * C, 3 * C));
        dl_attention_args at = attention_args(m, &lv, l);
        DL_TRY(dl_attention_forward(m->attention, &at));
        dl_linear_args pr = {.N = N, .C = C, .OC = C, .inp = atty, .weight = p[DL_GPT_ATTPROJW] + (size_t)l * C * C,
                             .bias = p[DL_GPT_ATTPROJB] + l * C, .out = attproj};
        DL_TRY(project(m, l, DL_GPT_PROJ_ATTN, &pr));
        if (lo) DL_TRY(dl_lora_forward_add(lo, l, DL_LORA_ATTN_PROJ, N, atty, C, attproj, C));
        dl_residual_args r2 = {.n = (size_t)N * C, .a = residual, .b = attproj, .out = res2};
        DL_TRY(dl_residual_forward(m->residual, &r2));
        dl_layernorm_args n2 = {.N = N, .C = C, .inp = res2, .gamma = p[DL_GPT_LN2W] + l * C,
                                .beta = p[DL_GPT_LN2B] + l * C, .out = ln2,
                                .mean = a->ln2_mean + l * lv.stat, .rstd = a->ln2_rstd + l * lv.stat};
        DL_TRY(dl_layernorm_forward(m->layernorm, &n2));
        dl_linear_args fc = {.N = N, .C = C, .OC = 4 * C, .inp = ln2, .weight = p[DL_GPT_FCW] + (size_t)l * 4 * C * C,
                             .bias = p[DL_GPT_FCB] + l * 4 * C, .out = fch};
        DL_TRY(project(m, l, DL_GPT_PROJ_FC, &fc));
        if (lo) DL_TRY(dl_lora_forward_add(lo, l, DL_LORA_FC, N, ln2, C, fch, 4 * C));
        dl_act_args ge = {.n = (size_t)N * 4 * C, .inp = fch, .out = fch_gelu};
        DL_TRY(dl_act_forward(m->gelu, &ge));
        dl_linear_args fp = {.N = N, .C = 4 * C, .OC = C, .inp = fch_gelu,
                             .weight = p[DL_GPT_FCPROJW] + (size_t)l * 4 * C * C,
                             .bias = p[DL_GPT_FCPROJB] + l * C, .out = fcproj};
        DL_TRY(project(m, l, DL_GPT_PROJ_FC_PROJ, &fp));
        if (lo) DL_TRY(dl_lora_forward_add(lo, l, DL_LORA_FC_PROJ, N, fch_gelu, 4 * C, fcproj, C));
        dl_residual_args r3 = {.n = (size_t)N * C, .a = res2, .b = fcproj, .out = res3};
        DL_TRY(dl_residual_forward(m->residual, &r3));
    }
    dl_layernorm_args nf = {.N = N, .C = C, .inp = a->residual3 + (L - 1) * lv.c, .gamma = p[DL_GPT_LNFW],
                            .beta = p[DL_GPT_LNFB], .out = a->lnf, .mean = a->lnf_mean, .rstd = a->lnf_rstd};
    DL_TRY(dl_layernorm_forward(m->layernorm, &nf));
    dl_linear_args head = {.N = N, .C = C, .OC = V, .inp = a->lnf, .weight = p[DL_GPT_WTE], .out = a->logits};
    DL_TRY(project(m, L, DL_GPT_PROJ_HEAD, &head));
    if (!targets) return DL_OK;

    DL_TRY(ops->to_device(m->targets, targets, (size_t)N * sizeof(int)));
    float mean = 0;
    dl_softmax_xent_args xa = {.N = N, .V = V, .logits = a->logits, .targets = m->targets,
                               .probs = a->probs, .losses = a->losses,
                               .mean_loss = on_cpu ? &mean : m->mean_loss_dev};
    DL_TRY(dl_softmax_xent_forward(m->xent, &xa));
    if (!on_cpu) DL_TRY(ops->to_host(&mean, m->mean_loss_dev, sizeof mean));
    m->has_targets = true;
    if (loss) *loss = mean;
    return DL_OK;
}

dl_status dl_gpt_backward(dl_gpt *m) {
    if (!m || !m->has_targets) return DL_FAIL(DL_ERR_ARG, "no forward with targets to differentiate");
    if (m->linear_hook.fn)
        return DL_FAIL(DL_ERR_ARG, "a linear hook is set (inference only): remove it with "
                                     "dl_gpt_set_linear_hook(m, NULL, NULL) before a backward");
    const int B = m->B, T = m->T, C = m->cfg.n_embd, V = m->cfg.vocab, L = m->cfg.n_layer;
    const int N = B * T;
    const layer_view lv = view_of(m);
    dl_gpt_acts *a = &m->a, *d = &m->da;
    float **p = m->p;
    dl_lora *lo = m->lora;
    /* Frozen base: every base-parameter gradient pointer is NULL (not wanted), so G(...) is. */
    const bool frozen = lo && m->freeze_base;
#define G(i, offset) (frozen ? NULL : m->g[i] + (offset))
    DL_TRY(m->ops->zero(m->grads, m->n_params * sizeof(float)));
    DL_TRY(m->ops->zero(m->grad_act_mem, m->n_grad_acts * sizeof(float)));
    if (lo) DL_TRY(dl_lora_zero_grads(lo));

    dl_softmax_xent_args xa = {.N = N, .V = V, .logits = a->logits, .targets = m->targets, .probs = a->probs,
                               .losses = a->losses, .dloss_scale = 1.0f, .dlogits = d->logits};
    DL_TRY(dl_softmax_xent_backward(m->xent, &xa));
    dl_linear_args head = {.N = N, .C = C, .OC = V, .inp = a->lnf, .weight = p[DL_GPT_WTE], .out = a->logits,
                           .dout = d->logits, .dinp = d->lnf, .dweight = G(DL_GPT_WTE, 0)};
    DL_TRY(dl_linear_backward(m->linear, &head));
    dl_layernorm_args nf = {.N = N, .C = C, .inp = a->residual3 + (L - 1) * lv.c, .gamma = p[DL_GPT_LNFW],
                            .beta = p[DL_GPT_LNFB], .out = a->lnf, .mean = a->lnf_mean, .rstd = a->lnf_rstd,
                            .dout = d->lnf, .dinp = d->residual3 + (L - 1) * lv.c,
                            .dgamma = G(DL_GPT_LNFW, 0), .dbeta = G(DL_GPT_LNFB, 0)};
    DL_TRY(dl_layernorm_backward(m->layernorm, &nf));

    for (int l = L - 1; l >= 0; l--) {
        const float *residual = l == 0 ? a->encoded : a->residual3 + (l - 1) * lv.c;
        float *dresidual = l == 0 ? d->encoded : d->residual3 + (l - 1) * lv.c;
        size_t c = l * lv.c, c3 = l * lv.c3, c4 = l * lv.c4, st = l * lv.stat;
        /* residual3 = residual2 + fcproj */
        dl_residual_args r3 = {.n = (size_t)N * C, .a = a->residual2 + c, .b = a->fcproj + c,
                               .out = a->residual3 + c, .dout = d->residual3 + c,
                               .da = d->residual2 + c, .db = d->fcproj + c};
        DL_TRY(dl_residual_backward(m->residual, &r3));
        dl_linear_args fp = {.N = N, .C = 4 * C, .OC = C, .inp = a->fch_gelu + c4,
                             .weight = p[DL_GPT_FCPROJW] + (size_t)l * 4 * C * C, .bias = p[DL_GPT_FCPROJB] + l * C,
                             .out = a->fcproj + c, .dout = d->fcproj + c, .dinp = d->fch_gelu + c4,
                             .dweight = G(DL_GPT_FCPROJW, (size_t)l * 4 * C * C), .dbias = G(DL_GPT_FCPROJB, l * C)};
        DL_TRY(dl_linear_backward(m->linear, &fp));
        if (lo)
            DL_TRY(dl_lora_backward_add(lo, l, DL_LORA_FC_PROJ, N, a->fch_gelu + c4, 4 * C, d->fcproj + c, C,
                                        d->fch_gelu + c4, 4 * C));
        dl_act_args ge = {.n = (size_t)N * 4 * C, .inp = a->fch + c4, .out = a->fch_gelu + c4,
                          .dout = d->fch_gelu + c4, .dinp = d->fch + c4};
        DL_TRY(dl_act_backward(m->gelu, &ge));
        dl_linear_args fc = {.N = N, .C = C, .OC = 4 * C, .inp = a->ln2 + c, .weight = p[DL_GPT_FCW] + (size_t)l * 4 * C * C,
                             .bias = p[DL_GPT_FCB] + l * 4 * C, .out = a->fch + c4, .dout = d->fch + c4,
                             .dinp = d->ln2 + c, .dweight = G(DL_GPT_FCW, (size_t)l * 4 * C * C),
                             .dbias = G(DL_GPT_FCB, l * 4 * C)};
        DL_TRY(dl_linear_backward(m->linear, &fc));
        if (lo) DL_TRY(dl_lora_backward_add(lo, l, DL_LORA_FC, N, a->ln2 + c, C, d->fch + c4, 4 * C, d->ln2 + c, C));
        dl_layernorm_args n2 = {.N = N, .C = C, .inp = a->residual2 + c, .gamma = p[DL_GPT_LN2W] + l * C,
                                .beta = p[DL_GPT_LN2B] + l * C, .out = a->ln2 + c, .mean = a->ln2_mean + st,
                                .rstd = a->ln2_rstd + st, .dout = d->ln2 + c, .dinp = d->residual2 + c,
                                .dgamma = G(DL_GPT_LN2W, l * C), .dbeta = G(DL_GPT_LN2B, l * C)};
        DL_TRY(dl_layernorm_backward(m->layernorm, &n2));
        /* residual2 = residual + attproj */
        dl_residual_args r2 = {.n = (size_t)N * C, .a = residual, .b = a->attproj + c, .out = a->residual2 + c,
                               .dout = d->residual2 + c, .da = dresidual, .db = d->attproj + c};
        DL_TRY(dl_residual_backward(m->residual, &r2));
        dl_linear_args pr = {.N = N, .C = C, .OC = C, .inp = a->atty + c, .weight = p[DL_GPT_ATTPROJW] + (size_t)l * C * C,
                             .bias = p[DL_GPT_ATTPROJB] + l * C, .out = a->attproj + c, .dout = d->attproj + c,
                             .dinp = d->atty + c, .dweight = G(DL_GPT_ATTPROJW, (size_t)l * C * C),
                             .dbias = G(DL_GPT_ATTPROJB, l * C)};
        DL_TRY(dl_linear_backward(m->linear, &pr));
        if (lo)
            DL_TRY(dl_lora_backward_add(lo, l, DL_LORA_ATTN_PROJ, N, a->atty + c, C, d->attproj + c, C, d->atty + c, C));
        dl_attention_args at = attention_args(m, &lv, l);
        at.dout = d->atty + c, at.dqkv = d->qkv + c3;
        DL_TRY(dl_attention_backward(m->attention, &at));
        dl_linear_args q = {.N = N, .C = C, .OC = 3 * C, .inp = a->ln1 + c, .weight = p[DL_GPT_QKVW] + (size_t)l * 3 * C * C,
                            .bias = p[DL_GPT_QKVB] + l * 3 * C, .out = a->qkv + c3, .dout = d->qkv + c3,
                            .dinp = d->ln1 + c, .dweight = G(DL_GPT_QKVW, (size_t)l * 3 * C * C),
                            .dbias = G(DL_GPT_QKVB, l * 3 * C)};
        DL_TRY(dl_linear_backward(m->linear, &q));
        if (lo)
            for (int t = DL_LORA_Q; t <= DL_LORA_V; t++)
                DL_TRY(dl_lora_backward_add(lo, l, (dl_lora_target)t, N, a->ln1 + c, C,
                                            d->qkv + c3 + (t - DL_LORA_Q) * C, 3 * C, d->ln1 + c, C));
        /* Frozen, layer 0's ln1 would only feed dencoded, which only the (skipped) embedding
         * backward reads. */
        if (frozen && l == 0) break;
        dl_layernorm_args n1 = {.N = N, .C = C, .inp = residual, .gamma = p[DL_GPT_LN1W] + l * C,
                                .beta = p[DL_GPT_LN1B] + l * C, .out = a->ln1 + c, .mean = a->ln1_mean + st,
                                .rstd = a->ln1_rstd + st, .dout = d->ln1 + c, .dinp = dresidual,
                                .dgamma = G(DL_GPT_LN1W, l * C), .dbeta = G(DL_GPT_LN1B, l * C)};
        DL_TRY(dl_layernorm_backward(m->layernorm, &n1));
    }
#undef G
    if (frozen) return DL_OK; /* the embedding's backward only makes dwte and dwpe */
    dl_embedding_args ea = {.B = B, .T = T, .C = C, .V = V, .maxT = m->cfg.block_size, .tokens = m->tokens,
                            .wte = p[DL_GPT_WTE], .wpe = p[DL_GPT_WPE], .out = a->encoded,
                            .dout = d->encoded, .dwte = m->g[DL_GPT_WTE], .dwpe = m->g[DL_GPT_WPE]};
    return dl_embedding_backward(m->embedding, &ea);
}

dl_mem_report dl_gpt_memory(const dl_gpt *m) {
    size_t ints = 2 * (size_t)m->max_B * m->max_T; /* tokens and targets */
    dl_mem_report r = {.params = m->n_params * sizeof(float), .grads = m->n_params * sizeof(float),
                       .optimizer = 0,
                       .activations = (m->n_acts + m->n_grad_acts) * sizeof(float) + ints * sizeof(int) +
                                      (m->mean_loss_dev ? sizeof(float) : 0)};
    return r;
}
