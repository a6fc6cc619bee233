/* outliers.c — lesson 4's model-side pieces: activation statistics through the GPT's inference
 * hook, the paper's emergent-feature criteria, the function-preserving outlier injection, the
 * quantized model (one dl_qlinear per projection) and the zeroing hook of the ablation.
 * All on the CPU (host memory: the model is built with "fast").
 * Left out: statistics of the attention scores or the residual stream itself (only what the
 * linear layers read is measured: that is what gets quantized).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../common/base_gpt.h"
#include "int8_lesson.h"

/* ------------------------------------------------------------------ statistics */

static size_t n_slots(const i8_act_stats *st) { return (size_t)(st->L + 1) * DL_GPT_PROJ_COUNT; }
static size_t slot_of(int layer, dl_gpt_proj p) { return (size_t)layer * DL_GPT_PROJ_COUNT + p; }

dl_status i8_stats_init(i8_act_stats *st, const dl_gpt *m, float threshold) {
    memset(st, 0, sizeof *st);
    st->L = m->cfg.n_layer, st->C = m->cfg.n_embd, st->V = m->cfg.vocab;
    st->threshold = threshold;
    st->linear = m->linear;
    const size_t cells = n_slots(st) * 4 * (size_t)st->C;
    dl_status s = dl_alloc((void **)&st->max_abs, cells * sizeof(float));
    if (s == DL_OK) s = dl_alloc((void **)&st->n_big, cells * sizeof(long long));
    if (s == DL_OK) s = dl_alloc((void **)&st->positions, n_slots(st) * sizeof(long long));
    if (s != DL_OK) return i8_stats_free(st), s;
    i8_stats_reset(st);
    return DL_OK;
}

void i8_stats_free(i8_act_stats *st) {
    dl_free(st->max_abs), dl_free(st->n_big), dl_free(st->positions);
    memset(st, 0, sizeof *st);
}

void i8_stats_reset(i8_act_stats *st) {
    const size_t cells = n_slots(st) * 4 * (size_t)st->C;
    memset(st->max_abs, 0, cells * sizeof(float));
    memset(st->n_big, 0, cells * sizeof(long long));
    memset(st->positions, 0, n_slots(st) * sizeof(long long));
}

int i8_proj_in_width(const i8_act_stats *st, dl_gpt_proj p) {
    return p == DL_GPT_PROJ_FC_PROJ ? 4 * st->C : st->C;
}

const float *i8_stats_max(const i8_act_stats *st, int layer, dl_gpt_proj p) {
    return st->max_abs + slot_of(layer, p) * 4 * (size_t)st->C;
}

double i8_stats_big_frac(const i8_act_stats *st, int layer, dl_gpt_proj p, int d) {
    const size_t slot = slot_of(layer, p);
    if (st->positions[slot] == 0) return 0;
    return (double)st->n_big[slot * 4 * (size_t)st->C + d] / (double)st->positions[slot];
}

dl_status i8_stats_hook(void *ctx, int layer, dl_gpt_proj proj, const dl_linear_args *args) {
    i8_act_stats *st = ctx;
    if (layer < 0 || layer > st->L || args->C != i8_proj_in_width(st, proj))
        return DL_FAIL(DL_ERR_ARG, "stats hook: layer %d projection %d of width %d does not fit the model",
                       layer, (int)proj, args->C);
    const size_t slot = slot_of(layer, proj);
    float *mx = st->max_abs + slot * 4 * (size_t)st->C;
    long long *big = st->n_big + slot * 4 * (size_t)st->C;
    for (int i = 0; i < args->N; i++) {
        const float *x = args->inp + (size_t)i * args->C;
        for (int d = 0; d < args->C; d++) {
            const float a = fabsf(x[d]); /* NaN compares false: neither a max nor a big one */
            if (a > mx[d]) mx[d] = a;
            if (a >= st->threshold) big[d]++;
        }
    }
    st->positions[slot] += args->N;
    return dl_linear_forward(st->linear, args);
}

void i8_outlier_dims(const i8_act_stats *st, double min_layer_frac, double min_pos_frac, int *dims,
                     int *count, double *layer_frac, double *pos_frac) {
    static const dl_gpt_proj reads_residual[2] = {DL_GPT_PROJ_QKV, DL_GPT_PROJ_FC};
    const int n_inputs = 2 * st->L;
    *count = 0;
    for (int d = 0; d < st->C; d++) {
        int inputs_hit = 0;
        long long big = 0, pos = 0;
        for (int l = 0; l < st->L; l++)
            for (int j = 0; j < 2; j++) {
                const size_t slot = slot_of(l, reads_residual[j]);
                const long long nb = st->n_big[slot * 4 * (size_t)st->C + d];
                inputs_hit += nb > 0;
                big += nb, pos += st->positions[slot];
            }
        const double lf = n_inputs ? (double)inputs_hit / n_inputs : 0;
        const double pf = pos ? (double)big / (double)pos : 0;
        if (layer_frac) layer_frac[d] = lf;
        if (pos_frac) pos_frac[d] = pf;
        if (pos > 0 && lf >= min_layer_frac && pf >= min_pos_frac) dims[(*count)++] = d;
    }
}

/* max |x| at dimension d over the ln1 and ln2 outputs of every layer */
static float residual_max(const i8_act_stats *st, int d) {
    float mx = 0;
    for (int l = 0; l < st->L; l++) {
        mx = fmaxf(mx, i8_stats_max(st, l, DL_GPT_PROJ_QKV)[d]);
        mx = fmaxf(mx, i8_stats_max(st, l, DL_GPT_PROJ_FC)[d]);
    }
    return mx;
}

double i8_stats_max_at(const i8_act_stats *st, const int *dims, int k) {
    float mx = 0;
    for (int i = 0; i < k; i++) mx = fmaxf(mx, residual_max(st, dims[i]));
    return mx;
}

void i8_top_dims(const i8_act_stats *st, int k, int *dims) {
    for (int i = 0; i < k; i++) {
        int best = -1;
        float best_max = -1;
        for (int d = 0; d < st->C; d++) {
            bool taken = false;
            for (int j = 0; j < i; j++) taken |= dims[j] == d;
            if (!taken && residual_max(st, d) > best_max) best = d, best_max = residual_max(st, d);
        }
        dims[i] = best;
    }
}

/* ------------------------------------------------------------------- injection */

dl_status i8_inject_outliers(const dl_gpt_config *cfg, float *params, const int *dims, int k, float s) {
    if (!(s > 0) || !isfinite(s)) return DL_FAIL(DL_ERR_ARG, "injection scale s = %g: must be finite and > 0", s);
    const int C = cfg->n_embd;
    for (int i = 0; i < k; i++)
        if (dims[i] < 0 || dims[i] >= C)
            return DL_FAIL(DL_ERR_ARG, "injection dimension %d: outside [0, %d)", dims[i], C);
    dl_gpt_tensor t[DL_GPT_N_TENSORS];
    dl_gpt_tensors(cfg, t);
    /* (gain, bias) of a layernorm and the weight that reads its output, with that weight's rows */
    const struct { int w, b, next, rows; } pairs[2] = {
        {DL_GPT_LN1W, DL_GPT_LN1B, DL_GPT_QKVW, 3 * C},
        {DL_GPT_LN2W, DL_GPT_LN2B, DL_GPT_FCW, 4 * C},
    };
    for (int l = 0; l < cfg->n_layer; l++)
        for (int j = 0; j < 2; j++) {
            float *gain = params + t[pairs[j].w].offset + (size_t)l * C;
            float *bias = params + t[pairs[j].b].offset + (size_t)l * C;
            float *next = params + t[pairs[j].next].offset + (size_t)l * pairs[j].rows * C;
            for (int i = 0; i < k; i++) {
                const int d = dims[i];
                gain[d] *= s, bias[d] *= s;
                for (int o = 0; o < pairs[j].rows; o++) next[(size_t)o * C + d] /= s;
            }
        }
    return DL_OK;
}

/* ------------------------------------------------------------- quantized model */

/* The weight and bias one projection of layer l reads (the forward's order: gpt.h). */
static void proj_weights(const dl_gpt *m, int l, dl_gpt_proj p, const float **w, const float **b,
                         int *C_in, int *OC) {
    const int C = m->cfg.n_embd;
    switch (p) {
    case DL_GPT_PROJ_QKV:
        *w = m->p[DL_GPT_QKVW] + (size_t)l * 3 * C * C, *b = m->p[DL_GPT_QKVB] + (size_t)l * 3 * C;
        *C_in = C, *OC = 3 * C;
        break;
    case DL_GPT_PROJ_ATTN:
        *w = m->p[DL_GPT_ATTPROJW] + (size_t)l * C * C, *b = m->p[DL_GPT_ATTPROJB] + (size_t)l * C;
        *C_in = C, *OC = C;
        break;
    case DL_GPT_PROJ_FC:
        *w = m->p[DL_GPT_FCW] + (size_t)l * 4 * C * C, *b = m->p[DL_GPT_FCB] + (size_t)l * 4 * C;
        *C_in = C, *OC = 4 * C;
        break;
    case DL_GPT_PROJ_FC_PROJ:
        *w = m->p[DL_GPT_FCPROJW] + (size_t)l * C * 4 * C, *b = m->p[DL_GPT_FCPROJB] + (size_t)l * C;
        *C_in = 4 * C, *OC = C;
        break;
    default: /* the tied head: logits = lnf · wteᵀ, no bias */
        *w = m->p[DL_GPT_WTE], *b = NULL, *C_in = C, *OC = m->cfg.vocab;
        break;
    }
}

static bool slot_used(int L, int l, int p) { return l < L ? p != DL_GPT_PROJ_HEAD : p == DL_GPT_PROJ_HEAD; }

dl_status i8_qmodel_build(i8_qmodel *qm, const dl_gpt *m, dl_qlinear_mode mode, float threshold) {
    memset(qm, 0, sizeof *qm);
    if (m->ops->device != DL_DEVICE_CPU) return DL_FAIL(DL_ERR_UNSUPPORTED, "quantized model: CPU models only");
    qm->L = m->cfg.n_layer, qm->mode = mode;
    const size_t slots = (size_t)(qm->L + 1) * DL_GPT_PROJ_COUNT;
    DL_TRY(dl_alloc((void **)&qm->q, slots * sizeof(dl_qlinear)));
    memset(qm->q, 0, slots * sizeof(dl_qlinear));
    for (int l = 0; l <= qm->L; l++)
        for (int p = 0; p < DL_GPT_PROJ_COUNT; p++) {
            if (!slot_used(qm->L, l, p)) continue;
            const float *w, *b;
            int C_in, OC;
            proj_weights(m, l, (dl_gpt_proj)p, &w, &b, &C_in, &OC);
            dl_status s = dl_qlinear_init(&qm->q[slot_of(l, p)], mode, w, b, C_in, OC, threshold);
            if (s != DL_OK) return i8_qmodel_free(qm), s;
        }
    return DL_OK;
}

void i8_qmodel_free(i8_qmodel *qm) {
    if (qm->q)
        for (size_t i = 0; i < (size_t)(qm->L + 1) * DL_GPT_PROJ_COUNT; i++) dl_qlinear_free(&qm->q[i]);
    dl_free(qm->q);
    memset(qm, 0, sizeof *qm);
}

dl_status i8_qmodel_hook(void *ctx, int layer, dl_gpt_proj proj, const dl_linear_args *args) {
    i8_qmodel *qm = ctx;
    if (layer < 0 || layer > qm->L || !slot_used(qm->L, layer, proj))
        return DL_FAIL(DL_ERR_ARG, "quantized model: no projection %d in layer %d", (int)proj, layer);
    dl_qlinear *q = &qm->q[slot_of(layer, proj)];
    if (q->C != args->C || q->OC != args->OC)
        return DL_FAIL(DL_ERR_ARG, "quantized model: layer %d projection %d is %dx%d, the forward asks %dx%d",
                       layer, (int)proj, q->OC, q->C, args->OC, args->C);
    return dl_qlinear_forward(q, args->inp, args->N, args->out);
}

size_t i8_qmodel_weight_bytes(const i8_qmodel *qm, size_t *fp32_bytes) {
    size_t bytes = 0, f32 = 0;
    for (int l = 0; l <= qm->L; l++)
        for (int p = 0; p < DL_GPT_PROJ_COUNT; p++) {
            if (!slot_used(qm->L, l, p)) continue;
            const dl_qlinear *q = &qm->q[slot_of(l, p)];
            bytes += dl_qlinear_weight_bytes(q);
            f32 += (size_t)q->OC * q->C * sizeof(float) + (q->bias ? (size_t)q->OC * sizeof(float) : 0);
        }
    if (fp32_bytes) *fp32_bytes = f32;
    return bytes;
}

void i8_qmodel_outlier_counts(const i8_qmodel *qm, long long *cols_total, long long *calls) {
    *cols_total = 0, *calls = 0;
    for (size_t i = 0; i < (size_t)(qm->L + 1) * DL_GPT_PROJ_COUNT; i++)
        *cols_total += qm->q[i].stats.outlier_cols_total, *calls += qm->q[i].stats.calls;
}

/* -------------------------------------------------------------------- ablation */

void i8_zero_free(i8_zero *z) {
    dl_free(z->scratch);
    z->scratch = NULL, z->scratch_floats = 0;
}

dl_status i8_zero_hook(void *ctx, int layer, dl_gpt_proj proj, const dl_linear_args *args) {
    (void)layer;
    i8_zero *z = ctx;
    if (proj != DL_GPT_PROJ_QKV && proj != DL_GPT_PROJ_FC) return dl_linear_forward(z->linear, args);
    const size_t n = (size_t)args->N * args->C;
    if (n > z->scratch_floats) {
        dl_free(z->scratch), z->scratch = NULL, z->scratch_floats = 0;
        DL_TRY(dl_alloc((void **)&z->scratch, n * sizeof(float)));
        z->scratch_floats = n;
    }
    memcpy(z->scratch, args->inp, n * sizeof(float));
    for (int i = 0; i < args->N; i++)
        for (int j = 0; j < z->k; j++) z->scratch[(size_t)i * args->C + z->dims[j]] = 0;
    dl_linear_args zeroed = *args;
    zeroed.inp = z->scratch;
    return dl_linear_forward(z->linear, &zeroed);
}

/* ------------------------------------------------------------------ perplexity */

dl_status i8_val_ppl(dl_gpt *m, const int *tokens, size_t n, int val_batches, dl_gpt_linear_hook hook,
                     void *ctx, double *ppl) {
    double loss = NAN;
    dl_gpt_set_linear_hook(m, hook, ctx);
    dl_status s = lesson_gpt_val_loss(m, tokens, n, val_batches, &loss);
    dl_gpt_set_linear_hook(m, NULL, NULL);
    if (s == DL_OK) *ppl = exp(loss);
    return s;
}
