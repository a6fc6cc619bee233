/* emulate.c — one process runs a pipeline schedule for real: an MLP cut into v·p chunks
 * (virtual stages), microbatches executed op by op in the order the schedule says, each
 * chunk keeping its own activations per microbatch from its F to its B (or W), and the
 * weight gradients accumulated over the microbatches. The trained weights and the losses
 * must equal plain training with gradient accumulation over the same microbatches.
 *
 * What "sending" means here: a chunk's output (forward) or input gradient (backward) is
 * copied into a message buffer that the receiving chunk copies out of and frees — what an
 * MPI send/recv pair would do, without the processes. Activation memory is counted per
 * stage from the slots really allocated (messages not included), so the peak is measured on
 * this execution, not derived from the op order.
 *
 * The ops run in the order of their start times in the unit-cost simulation: that order
 * respects every dependency, and within a stage it is the schedule's own order.
 * Left out: several processes (MPI, a later round), timing (one process has no bubble),
 * optimizers other than plain SGD.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/act.h"
#include "dlab/linear.h"
#include "dlab/mlp.h"
#include "dlab/softmax_xent.h"
#include "pp_lesson.h"

/* The lesson's model: 8 linear layers so that p·v ∈ {1, 2, 4, 8} splits it evenly. */
static dl_mlp_config emulated_mlp(void) {
    dl_mlp_config c = {
        .inputs = 48, .n_hidden = 7, .hidden = {64, 64, 64, 64, 64, 64, 64}, .classes = 10};
    return c;
}

static int width(const dl_mlp *m, int i) {
    if (i == 0) return m->cfg.inputs;
    if (i == m->n_layers) return m->cfg.classes;
    return m->cfg.hidden[i - 1];
}

/* What chunk u keeps for one microbatch between its F and its last backward op: for each
 * of its layers l, the input in[l], the pre-activation pre[l] (hidden layers), the output
 * post[l] (relu output; in[l+1] inside the chunk, its own buffer for the last layer), their
 * gradients dpost[l], dpre[l]; the last chunk also keeps softmax probabilities and losses. */
typedef struct slot {
    float *mem;
    size_t bytes;
    float *in[DL_MLP_MAX_LAYERS], *pre[DL_MLP_MAX_LAYERS], *post[DL_MLP_MAX_LAYERS];
    float *dpost[DL_MLP_MAX_LAYERS], *dpre[DL_MLP_MAX_LAYERS];
    float *probs, *losses;
} slot;

typedef struct emulator {
    dl_mlp model; /* parameters, gradients and the variants; its activations stay unused */
    const dl_pp_schedule *s;
    int V, per_chunk, rows;
    const float *x;             /* (m·rows, inputs) */
    const int *y;               /* (m·rows) */
    slot *slots;                /* V·m */
    float **fwd_msg, **bwd_msg; /* V·m: message into chunk u (forward), out of chunk u (backward) */
    size_t *held, *peak;        /* per stage: activation bytes alive, most ever */
    double loss_sum;
} emulator;

static int first_layer(const emulator *e, int u) { return u * e->per_chunk; }

/* Floats chunk u keeps per microbatch (the layout of `slot`). */
static size_t slot_floats(const emulator *e, int u) {
    const dl_mlp *m = &e->model;
    const int l0 = first_layer(e, u), l1 = l0 + e->per_chunk;
    size_t floats = 0, R = (size_t)e->rows;
    for (int l = l0; l < l1; l++)
        floats += R * width(m, l) + 4 * R * width(m, l + 1);
    if (l1 == m->n_layers) floats += R * m->cfg.classes + R;
    return floats;
}

static dl_status slot_open(emulator *e, int u, int mb, slot *sl) {
    const dl_mlp *m = &e->model;
    const int l0 = first_layer(e, u), l1 = l0 + e->per_chunk, last = l1 == m->n_layers;
    if (l0 < 0 || l1 > m->n_layers)
        return DL_FAIL(DL_ERR_INTERNAL, "chunk %d: layers %d..%d", u, l0, l1 - 1);
    const size_t floats = slot_floats(e, u), R = (size_t)e->rows;
    memset(sl, 0, sizeof *sl);
    sl->mem = calloc(floats, sizeof(float)); /* zero: every backward adds into its gradient */
    if (!sl->mem)
        return DL_FAIL(DL_ERR_ALLOC, "%zu floats for chunk %d, microbatch %d", floats, u, mb);
    sl->bytes = floats * sizeof(float);
    float *q = sl->mem;
    for (unsigned l = (unsigned)l0; l < (unsigned)l1; l++) {
        const size_t out = R * width(m, (int)l + 1);
        sl->in[l] = q, q += R * width(m, (int)l);
        sl->pre[l] = q, q += out;
        sl->post[l] = q, q += out;
        sl->dpost[l] = q, q += out;
        sl->dpre[l] = q, q += out;
    }
    if (last) sl->probs = q, q += R * m->cfg.classes, sl->losses = q;
    int stage = u % e->s->p;
    e->held[stage] += sl->bytes;
    if (e->held[stage] > e->peak[stage]) e->peak[stage] = e->held[stage];
    return DL_OK;
}

static void slot_close(emulator *e, int u, slot *sl) {
    e->held[u % e->s->p] -= sl->bytes;
    free(sl->mem);
    memset(sl, 0, sizeof *sl);
}

/* A message of n floats copied out of src; the receiver frees it. */
static dl_status send_copy(float **msg, const float *src, size_t n) {
    *msg = malloc(n * sizeof(float));
    if (!*msg) return DL_FAIL(DL_ERR_ALLOC, "message of %zu floats", n);
    memcpy(*msg, src, n * sizeof(float));
    return DL_OK;
}

static dl_status run_forward(emulator *e, int u, int mb) {
    const dl_mlp *m = &e->model;
    const int l0 = first_layer(e, u), l1 = l0 + e->per_chunk, k = u * e->s->m + mb;
    const size_t R = (size_t)e->rows;
    slot *sl = &e->slots[k];
    DL_TRY(slot_open(e, u, mb, sl));
    if (u == 0) {
        memcpy(sl->in[l0], e->x + (size_t)mb * R * m->cfg.inputs,
               R * m->cfg.inputs * sizeof(float));
    } else { /* receive */
        memcpy(sl->in[l0], e->fwd_msg[k], R * width(m, l0) * sizeof(float));
        free(e->fwd_msg[k]);
        e->fwd_msg[k] = NULL;
    }
    for (int l = l0; l < l1; l++) {
        const int hidden = l < m->cfg.n_hidden;
        dl_linear_args la = {.N = e->rows,
                             .C = width(m, l),
                             .OC = width(m, l + 1),
                             .inp = sl->in[l],
                             .weight = m->W[l],
                             .bias = m->b[l],
                             .out = hidden ? sl->pre[l] : sl->post[l]};
        DL_TRY(dl_linear_forward(m->linear, &la));
        if (hidden) {
            dl_act_args ra = {.n = R * width(m, l + 1), .inp = sl->pre[l], .out = sl->post[l]};
            DL_TRY(dl_act_forward(m->relu, &ra));
        }
        if (l + 1 < l1) memcpy(sl->in[l + 1], sl->post[l], R * width(m, l + 1) * sizeof(float));
    }
    if (l1 < m->n_layers)
        return send_copy(&e->fwd_msg[k + e->s->m], sl->post[l1 - 1], R * width(m, l1));
    float mean = 0;
    dl_softmax_xent_args xa = {.N = e->rows,
                               .V = m->cfg.classes,
                               .logits = sl->post[l1 - 1],
                               .targets = e->y + (size_t)mb * R,
                               .probs = sl->probs,
                               .losses = sl->losses,
                               .mean_loss = &mean};
    DL_TRY(dl_softmax_xent_forward(m->xent, &xa));
    e->loss_sum += mean;
    return DL_OK;
}

/* The input-gradient half of the backward (Bi): down the chunk's layers, sending the
 * gradient of the chunk's input to the chunk before. */
static dl_status run_backward_input(emulator *e, int u, int mb) {
    const dl_mlp *m = &e->model;
    const int l0 = first_layer(e, u), l1 = l0 + e->per_chunk, k = u * e->s->m + mb;
    const size_t R = (size_t)e->rows;
    slot *sl = &e->slots[k];
    if (l1 == m->n_layers) {
        dl_softmax_xent_args xa = {.N = e->rows,
                                   .V = m->cfg.classes,
                                   .logits = sl->post[l1 - 1],
                                   .targets = e->y + (size_t)mb * R,
                                   .probs = sl->probs,
                                   .losses = sl->losses,
                                   .dloss_scale = 1.0f,
                                   .dlogits = sl->dpost[l1 - 1]};
        DL_TRY(dl_softmax_xent_backward(m->xent, &xa));
    } else { /* receive */
        memcpy(sl->dpost[l1 - 1], e->bwd_msg[k + e->s->m], R * width(m, l1) * sizeof(float));
        free(e->bwd_msg[k + e->s->m]);
        e->bwd_msg[k + e->s->m] = NULL;
    }
    for (int l = l1 - 1; l >= l0; l--) {
        const int hidden = l < m->cfg.n_hidden;
        if (hidden) {
            dl_act_args ra = {.n = R * width(m, l + 1),
                              .inp = sl->pre[l],
                              .out = sl->post[l],
                              .dout = sl->dpost[l],
                              .dinp = sl->dpre[l]};
            DL_TRY(dl_act_backward(m->relu, &ra));
        }
        float *dinp = NULL;
        if (l > l0)
            dinp = sl->dpost[l - 1];
        else if (u > 0) {
            e->bwd_msg[k] = calloc(R * width(m, l0), sizeof(float));
            if (!e->bwd_msg[k])
                return DL_FAIL(DL_ERR_ALLOC, "message of %zu floats", R * width(m, l0));
            dinp = e->bwd_msg[k];
        }
        if (!dinp) continue; /* the data needs no gradient */
        dl_linear_args la = {.N = e->rows,
                             .C = width(m, l),
                             .OC = width(m, l + 1),
                             .inp = sl->in[l],
                             .weight = m->W[l],
                             .bias = m->b[l],
                             .out = hidden ? sl->pre[l] : sl->post[l],
                             .dout = hidden ? sl->dpre[l] : sl->dpost[l],
                             .dinp = dinp};
        DL_TRY(dl_linear_backward(m->linear, &la));
    }
    return DL_OK;
}

/* The weight-gradient half (W): adds this microbatch's dW, db into the model's gradients —
 * the accumulation over microbatches — and frees what the chunk kept. */
static dl_status run_backward_weight(emulator *e, int u, int mb) {
    dl_mlp *m = &e->model;
    const int l0 = first_layer(e, u), l1 = l0 + e->per_chunk, k = u * e->s->m + mb;
    slot *sl = &e->slots[k];
    for (int l = l0; l < l1; l++) {
        const int hidden = l < m->cfg.n_hidden;
        dl_linear_args la = {.N = e->rows,
                             .C = width(m, l),
                             .OC = width(m, l + 1),
                             .inp = sl->in[l],
                             .weight = m->W[l],
                             .bias = m->b[l],
                             .out = hidden ? sl->pre[l] : sl->post[l],
                             .dout = hidden ? sl->dpre[l] : sl->dpost[l],
                             .dweight = m->dW[l],
                             .dbias = m->db[l]};
        DL_TRY(dl_linear_backward(m->linear, &la));
    }
    slot_close(e, u, sl);
    return DL_OK;
}

typedef struct timed_op {
    double start;
    int stage, index;
} timed_op;

static int by_start(const void *a, const void *b) {
    const timed_op *x = a, *y = b;
    if (x->start != y->start) return x->start < y->start ? -1 : 1;
    return x->stage != y->stage ? x->stage - y->stage : x->index - y->index;
}

/* One step of pipelined training on the global batch: every op of the schedule, then SGD. */
static dl_status pipeline_step(emulator *e, const timed_op *order, float lr, float *loss) {
    const dl_pp_schedule *s = e->s;
    dl_mlp *m = &e->model;
    memset(m->grads, 0, m->n_params * sizeof(float));
    e->loss_sum = 0;
    for (int n = 0; n < s->begin[s->p]; n++) {
        const dl_pp_op *op = &s->ops[order[n].index];
        const int u = op->chunk * s->p + order[n].stage;
        switch (op->type) {
        case DL_PP_F: DL_TRY(run_forward(e, u, op->microbatch)); break;
        case DL_PP_BI: DL_TRY(run_backward_input(e, u, op->microbatch)); break;
        case DL_PP_W: DL_TRY(run_backward_weight(e, u, op->microbatch)); break;
        default: /* B: both halves at once */
            DL_TRY(run_backward_input(e, u, op->microbatch));
            DL_TRY(run_backward_weight(e, u, op->microbatch));
        }
    }
    /* the gradient of the global mean loss is the mean of the microbatches' gradients */
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] -= lr * (m->grads[i] / (float)s->m);
    *loss = (float)(e->loss_sum / s->m);
    return DL_OK;
}

/* Plain training, same microbatches: forward and backward each, gradients summed on the
 * side, the same SGD update. */
static dl_status reference_step(dl_mlp *m, const float *x, const int *y, int n_micro, int rows,
                                float *acc, float lr, float *loss) {
    double loss_sum = 0;
    memset(acc, 0, m->n_params * sizeof(float));
    for (int mb = 0; mb < n_micro; mb++) {
        float l = 0;
        DL_TRY(dl_mlp_forward(m, x + (size_t)mb * rows * m->cfg.inputs, y + (size_t)mb * rows, rows,
                              &l));
        DL_TRY(dl_mlp_backward(m));
        for (size_t i = 0; i < m->n_params; i++)
            acc[i] += m->grads[i];
        loss_sum += l;
    }
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] -= lr * (acc[i] / (float)n_micro);
    *loss = (float)(loss_sum / n_micro);
    return DL_OK;
}

static void emulator_free(emulator *e) {
    const int n = e->V * (e->s ? e->s->m : 0);
    for (int i = 0; e->slots && i < n; i++)
        free(e->slots[i].mem);
    for (int i = 0; e->fwd_msg && i < n; i++)
        free(e->fwd_msg[i]);
    for (int i = 0; e->bwd_msg && i < n; i++)
        free(e->bwd_msg[i]);
    free(e->slots), free(e->fwd_msg), free(e->bwd_msg), free(e->held), free(e->peak);
    dl_mlp_free(&e->model);
}

dl_status pp_emulate(const pp_emulate_config *cfg, pp_emulation *out) {
    if (!cfg || !out) return DL_FAIL(DL_ERR_ARG, "config or out is NULL");
    memset(out, 0, sizeof *out);
    const dl_mlp_config mc = emulated_mlp();
    const int layers = mc.n_hidden + 1;
    int per_chunk;
    if (cfg->steps < 1 || cfg->rows < 1)
        return DL_FAIL(DL_ERR_ARG, "steps=%d rows=%d must be >= 1", cfg->steps, cfg->rows);
    DL_TRY(dl_pp_layers_per_chunk(layers, cfg->p, cfg->v, &per_chunk));
    dl_pp_schedule s;
    DL_TRY(dl_pp_schedule_build(cfg->kind, cfg->p, cfg->m, cfg->v, &s));
    dl_pp_sim sim;
    dl_status st = dl_pp_simulate(&s, &pp_equal_costs, 0, &sim);
    if (st != DL_OK) return dl_pp_schedule_free(&s), st;

    const int n_ops = s.begin[s.p], batch = cfg->m * cfg->rows;
    emulator e = {.s = &s, .V = s.p * s.v, .per_chunk = per_chunk, .rows = cfg->rows};
    dl_mlp ref = {0};
    timed_op *order = malloc((size_t)n_ops * sizeof *order);
    float *x = malloc((size_t)batch * mc.inputs * sizeof(float)), *acc = NULL, *init = NULL;
    int *y = malloc((size_t)batch * sizeof(int));
    e.slots = calloc((size_t)e.V * cfg->m, sizeof *e.slots);
    e.fwd_msg = calloc((size_t)e.V * cfg->m, sizeof *e.fwd_msg);
    e.bwd_msg = calloc((size_t)e.V * cfg->m, sizeof *e.bwd_msg);
    e.held = calloc((size_t)s.p, sizeof *e.held);
    e.peak = calloc((size_t)s.p, sizeof *e.peak);
    if (!order || !x || !y || !e.slots || !e.fwd_msg || !e.bwd_msg || !e.held || !e.peak)
        st = DL_FAIL(DL_ERR_ALLOC, "emulation of %d ops", n_ops);
    if (st == DL_OK) st = dl_mlp_create(&e.model, &mc, cfg->rows, "ref");
    if (st == DL_OK) st = dl_mlp_create(&ref, &mc, cfg->rows, "ref");
    if (st == DL_OK) {
        acc = malloc(ref.n_params * sizeof(float));
        init = malloc(ref.n_params * sizeof(float));
        if (!acc || !init) st = DL_FAIL(DL_ERR_ALLOC, "%zu parameters", ref.n_params);
    }
    if (st == DL_OK) { /* the same data and the same initial weights on both sides */
        dl_rng rng;
        dl_rng_seed(&rng, cfg->seed);
        st = dl_mlp_init(&ref, &rng);
        dl_rng_fill_normal(&rng, x, (size_t)batch * mc.inputs, 0.0f, 1.0f);
        for (int i = 0; i < batch; i++)
            y[i] = (int)dl_rng_below(&rng, (uint64_t)mc.classes);
        if (st == DL_OK) st = dl_mlp_params_to_host(&ref, init);
        if (st == DL_OK) st = dl_mlp_params_from_host(&e.model, init);
    }
    if (st == DL_OK) {
        for (int stg = 0; stg < s.p; stg++)
            for (int i = s.begin[stg]; i < s.begin[stg + 1]; i++)
                order[i] = (timed_op){.start = sim.start[i], .stage = stg, .index = i};
        qsort(order, (size_t)n_ops, sizeof *order, by_start);
        e.x = x, e.y = y;
    }
    for (int step = 0; step < cfg->steps && st == DL_OK; step++) {
        float loss_pipe = 0, loss_ref = 0;
        st = pipeline_step(&e, order, cfg->lr, &loss_pipe);
        if (st == DL_OK)
            st = reference_step(&ref, x, y, cfg->m, cfg->rows, acc, cfg->lr, &loss_ref);
        if (st != DL_OK) break;
        double d = fabs((double)loss_pipe - (double)loss_ref);
        if (!(d <= out->loss_max_abs_diff)) out->loss_max_abs_diff = isnan(d) ? INFINITY : d;
        if (step == 0) out->first_loss = loss_pipe;
        out->last_loss = loss_pipe;
    }
    if (st == DL_OK) {
        for (size_t i = 0; i < ref.n_params; i++) {
            double d = fabs((double)e.model.params[i] - (double)ref.params[i]);
            if (!(d <= out->param_max_abs_diff)) out->param_max_abs_diff = isnan(d) ? INFINITY : d;
        }
        for (int stg = 0; stg < s.p; stg++)
            if ((double)e.peak[stg] > out->peak_activation_bytes)
                out->peak_activation_bytes = (double)e.peak[stg];
        /* every slot and message was freed by the op that last needed it */
        for (int stg = 0; stg < s.p; stg++)
            if (e.held[stg] != 0)
                st = DL_FAIL(DL_ERR_INTERNAL, "stage %d still holds %zu bytes", stg, e.held[stg]);
        /* the peak in microbatches: each stage's peak over what one microbatch costs it */
        for (int stg = 0; stg < s.p; stg++) {
            double per_microbatch = 0;
            for (int u = stg; u < e.V; u += s.p)
                per_microbatch += (double)(slot_floats(&e, u) * sizeof(float));
            if (e.peak[stg] / per_microbatch > out->peak_microbatches)
                out->peak_microbatches = (double)e.peak[stg] / per_microbatch;
        }
    }
    free(order), free(x), free(y), free(acc), free(init);
    dl_mlp_free(&ref);
    emulator_free(&e);
    dl_pp_sim_free(&sim);
    dl_pp_schedule_free(&s);
    return st;
}

dl_status pp_emulations(dlb_run *run, const pp_config *cfg) {
    dlb_table *t =
        dlb_table_new("pipeline_emulation", "schedule", "p", "v", "m", "steps", "loss_first",
                      "loss_last", "loss_max_abs_diff", "params_max_abs_diff", "peak_microbatches",
                      "peak_activation_bytes", NULL);
    if (!t) return DL_FAIL(DL_ERR_ALLOC, "table");
    dl_status st = DL_OK;
    double loss_diff = 0, param_diff = 0, peak16[DL_PP_N_KINDS] = {0};
    for (int k = 0; k < DL_PP_N_KINDS && st == DL_OK; k++)
        for (int m = 8; m <= 16 && st == DL_OK; m += 8) {
            pp_emulate_config ec = {.kind = (dl_pp_kind)k,
                                    .p = 4,
                                    .m = m,
                                    .v = k == DL_PP_INTERLEAVED ? 2 : 1,
                                    .rows = 8,
                                    .steps = cfg->quick ? 3 : 10,
                                    .lr = 0.05f,
                                    .seed = 7};
            pp_emulation r;
            st = pp_emulate(&ec, &r);
            if (st != DL_OK) break;
            if (r.loss_max_abs_diff > loss_diff) loss_diff = r.loss_max_abs_diff;
            if (r.param_max_abs_diff > param_diff) param_diff = r.param_max_abs_diff;
            if (m == 16) peak16[k] = r.peak_activation_bytes;
            dlb_table_str(t, dl_pp_kind_name(k));
            dlb_table_int(t, ec.p);
            dlb_table_int(t, ec.v);
            dlb_table_int(t, ec.m);
            dlb_table_int(t, ec.steps);
            dlb_table_numf(t, r.first_loss, "%.5f");
            dlb_table_numf(t, r.last_loss, "%.5f");
            dlb_table_numf(t, r.loss_max_abs_diff, "%.2g");
            dlb_table_numf(t, r.param_max_abs_diff, "%.2g");
            dlb_table_numf(t, r.peak_microbatches, "%.2f");
            dlb_table_numf(t, r.peak_activation_bytes, "%.0f");
        }
    if (st == DL_OK) {
        printf("\none process runs each schedule for real (an 8-layer MLP in p*v chunks, SGD) "
               "against\n"
               "plain training with gradient accumulation on the same microbatches:\n");
        if (dlb_run_table(run, t) != 0) st = DL_FAIL(DL_ERR_IO, "%s", dlb_error());
    }
    dlb_table_free(t);
    if (st != DL_OK) return st;
    dlb_run_metric(run, "pipeline_loss_max_abs_diff", loss_diff, "loss");
    dlb_run_metric(run, "pipeline_params_max_abs_diff", param_diff, "abs");
    dlb_run_metric(run, "peak_activations_1f1b_over_gpipe_emulated",
                   peak16[DL_PP_1F1B] / peak16[DL_PP_GPIPE], "ratio");
    return DL_OK;
}
