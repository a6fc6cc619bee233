/* pipeline.c — the schedules of pipeline.h: generators, validator, simulator.
 *
 * Read lessons/07-pipeline-bubbles/DESIGN.md first: it numbers the invariants (1–9) that the
 * comments below refer to. The one piece of machinery is `run_lists`: it executes every
 * stage's list in order, starting each op when the ops it waits for have ended (plus a send
 * latency across stages). With unit costs it is the deadlock check (invariant 6); with real
 * costs it is the simulator (7). Because an op's start depends only on ops that ended before
 * it, the order in which stages are visited does not change any time.
 *
 * Left out: anything that moves tensors (see the lesson's emulation), bounded buffers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/pipeline.h"

const char *dl_pp_kind_name(dl_pp_kind kind) {
    switch (kind) {
    case DL_PP_GPIPE: return "gpipe";
    case DL_PP_1F1B: return "1f1b";
    case DL_PP_INTERLEAVED: return "interleaved";
    case DL_PP_ZBH1: return "zbh1";
    default: return "?";
    }
}

const char *dl_pp_op_name(dl_pp_op_type type) {
    switch (type) {
    case DL_PP_F: return "F";
    case DL_PP_B: return "B";
    case DL_PP_BI: return "Bi";
    case DL_PP_W: return "W";
    default: return "?";
    }
}

/* ----------------------------------------------------------------------- allocation */

void dl_pp_schedule_free(dl_pp_schedule *s) {
    if (!s) return;
    free(s->begin);
    free(s->ops);
    memset(s, 0, sizeof *s);
}

dl_status dl_pp_schedule_alloc(int p, int m, int v, int n_ops, dl_pp_schedule *out) {
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    if (p < 1 || m < 1 || v < 1)
        return DL_FAIL(DL_ERR_ARG, "p=%d m=%d v=%d: each must be >= 1", p, m, v);
    if (n_ops < 0) return DL_FAIL(DL_ERR_ARG, "n_ops=%d < 0", n_ops);
    out->kind = DL_PP_N_KINDS;
    out->p = p, out->m = m, out->v = v;
    out->begin = calloc((size_t)p + 1, sizeof *out->begin);
    out->ops = calloc((size_t)(n_ops > 0 ? n_ops : 1), sizeof *out->ops);
    if (!out->begin || !out->ops) {
        dl_pp_schedule_free(out);
        return DL_FAIL(DL_ERR_ALLOC, "%d ops for %d stages", n_ops, p);
    }
    return DL_OK;
}

/* ----------------------------------------------------------------------- generators */

/* Appends ops to stage lists being written one stage after another. */
typedef struct writer {
    dl_pp_schedule *s;
    int n;
} writer;

static void put(writer *w, dl_pp_op_type type, int microbatch, int chunk) {
    w->s->ops[w->n++] = (dl_pp_op){.type = type, .microbatch = microbatch, .chunk = chunk};
}

static void gpipe_stage(writer *w, int m) {
    for (int mb = 0; mb < m; mb++)
        put(w, DL_PP_F, mb, 0);
    for (int mb = 0; mb < m; mb++)
        put(w, DL_PP_B, mb, 0);
}

/* 1F1B, and ZB-H1 when split: stage s runs w = min(p−1−s, m) forwards ahead, so that by the
 * time the first backward comes back it has exactly the microbatches in flight the stages
 * below it need; then alternates; then drains.
 * ZB-H1 runs the same order with each B split into Bi and W, and stage s runs each W s
 * iterations late. Why s: the previous stage waits only for Bi, so the backward chain gets
 * shorter by W per stage; for every stage to end together, stage s must still have s+1 W's
 * to do after its last Bi (the last stage p, stage 0 one), and those late W's fill the gaps the
 * cool-down would leave. Held activations stay ≤ p on every stage, 1F1B's peak (stage 0). */
static void one_f_one_b_stage(writer *w, int p, int m, int s, int split) {
    /* Exercise (lesson 7): stage s's op list — warm-up forwards, then one forward and one
     * backward in turn, then the cool-down backwards (and ZB-H1's late W's when split). */
    /* BEGIN SOLUTION stub: (void)w; (void)p; (void)m; (void)s; (void)split; (void)put; */
    int warmup = p - 1 - s < m ? p - 1 - s : m;
    for (int mb = 0; mb < warmup; mb++)
        put(w, DL_PP_F, mb, 0);
    for (int i = 0; i < m; i++) {
        if (warmup + i < m) put(w, DL_PP_F, warmup + i, 0);
        if (split) {
            put(w, DL_PP_BI, i, 0);
            if (i >= s) put(w, DL_PP_W, i - s, 0);
        } else {
            put(w, DL_PP_B, i, 0);
        }
    }
    if (split)
        for (int mb = m - s > 0 ? m - s : 0; mb < m; mb++)
            put(w, DL_PP_W, mb, 0);
    /* END SOLUTION */
}

/* Megatron's interleaved order: the k-th forward of a stage takes chunk ⌊(k mod pv)/p⌋ of
 * microbatch ⌊k/pv⌋·p + k mod p — p microbatches through chunk 0, the same p through
 * chunk 1, ... — and the k-th backward the same with the chunks reversed. */
static void interleaved_op(int k, int p, int v, int forward, int *mb, int *chunk) {
    int in_group = k % (p * v);
    *chunk = in_group / p;
    if (!forward) *chunk = v - 1 - *chunk;
    *mb = (k / (p * v)) * p + k % p;
}

static void interleaved_stage(writer *w, int p, int m, int v, int s) {
    int total = m * v, mb, chunk;
    /* Megatron's warm-up: the first backward reaches stage s after the forward crossed the
     * p−1−s stages behind it and the backward came back, two chunk ops each; before that,
     * (v−1)·p forwards feed the stage's other chunks */
    int warmup = (p - 1 - s) * 2 + (v - 1) * p;
    if (warmup > total) warmup = total;
    for (int k = 0; k < warmup; k++) {
        interleaved_op(k, p, v, 1, &mb, &chunk);
        put(w, DL_PP_F, mb, chunk);
    }
    for (int k = 0; k < total - warmup; k++) {
        interleaved_op(k + warmup, p, v, 1, &mb, &chunk);
        put(w, DL_PP_F, mb, chunk);
        interleaved_op(k, p, v, 0, &mb, &chunk);
        put(w, DL_PP_B, mb, chunk);
    }
    for (int k = total - warmup; k < total; k++) {
        interleaved_op(k, p, v, 0, &mb, &chunk);
        put(w, DL_PP_B, mb, chunk);
    }
}

dl_status dl_pp_schedule_build(dl_pp_kind kind, int p, int m, int v, dl_pp_schedule *out) {
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    if ((int)kind < 0 || kind >= DL_PP_N_KINDS)
        return DL_FAIL(DL_ERR_ARG, "unknown schedule kind %d", (int)kind);
    if (p < 1 || m < 1 || v < 1)
        return DL_FAIL(DL_ERR_ARG,
                       "%s: p=%d m=%d v=%d: stages, microbatches and chunks must each be >= 1",
                       dl_pp_kind_name(kind), p, m, v);
    if (kind != DL_PP_INTERLEAVED && v != 1)
        return DL_FAIL(DL_ERR_ARG,
                       "%s: v=%d: only the interleaved schedule has chunks (v must be 1)",
                       dl_pp_kind_name(kind), v);
    if (kind == DL_PP_INTERLEAVED && m % p != 0)
        return DL_FAIL(DL_ERR_ARG,
                       "interleaved: m=%d is not a multiple of p=%d (microbatches go through the "
                       "chunks in groups of p)",
                       m, p);
    if ((long long)p * m * v > 1 << 24)
        return DL_FAIL(DL_ERR_ARG, "p·m·v = %lld ops per kind: too many (at most 2^24)",
                       (long long)p * m * v);
    int per_stage = kind == DL_PP_ZBH1 ? 3 * m : 2 * m * v;
    DL_TRY(dl_pp_schedule_alloc(p, m, v, p * per_stage, out));
    out->kind = kind;
    writer w = {.s = out};
    for (int s = 0; s < p; s++) {
        out->begin[s] = w.n;
        switch (kind) {
        case DL_PP_GPIPE: gpipe_stage(&w, m); break;
        case DL_PP_1F1B: one_f_one_b_stage(&w, p, m, s, 0); break;
        case DL_PP_ZBH1: one_f_one_b_stage(&w, p, m, s, 1); break;
        case DL_PP_INTERLEAVED: interleaved_stage(&w, p, m, v, s); break;
        default: break;
        }
    }
    out->begin[p] = w.n;
    return DL_OK;
}

dl_status dl_pp_layers_per_chunk(int layers, int p, int v, int *out) {
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    if (p < 1 || v < 1) return DL_FAIL(DL_ERR_ARG, "p=%d v=%d: each must be >= 1", p, v);
    if ((long long)p * v > layers)
        return DL_FAIL(DL_ERR_ARG,
                       "%d layers cannot fill p·v = %d·%d chunks (each needs at least one layer)",
                       layers, p, v);
    if (layers % (p * v) != 0)
        return DL_FAIL(DL_ERR_ARG, "%d layers do not split evenly into p·v = %d·%d chunks", layers,
                       p, v);
    *out = layers / (p * v);
    return DL_OK;
}

/* ------------------------------------------------------------------ the op index */

/* Where each (virtual stage, microbatch) has its F, its B or Bi, and its W: op indices or −1.
 * Backward-input ops (B and Bi) share one table because the stage before waits for either. */
typedef struct op_index {
    int V, m;
    int *fwd, *bwd, *wgt; /* V·m each */
    int *stage_of;        /* per op */
} op_index;

static void index_free(op_index *ix) {
    free(ix->fwd);
    free(ix->bwd);
    free(ix->wgt);
    free(ix->stage_of);
}

static int slot(const op_index *ix, int u, int mb) { return u * ix->m + mb; }

/* "F(mb 3)" or, with chunks, "F(mb 3, chunk 1)". */
static const char *op_str(const dl_pp_schedule *s, const dl_pp_op *op, char *buf, size_t len) {
    const char *name =
        op->type >= 0 && op->type < DL_PP_N_OP_TYPES ? dl_pp_op_name((dl_pp_op_type)op->type) : "?";
    if (s->v > 1)
        snprintf(buf, len, "%s(mb %d, chunk %d)", name, op->microbatch, op->chunk);
    else
        snprintf(buf, len, "%s(mb %d)", name, op->microbatch);
    return buf;
}

/* Invariants 1–3: sizes, ranges, each op exactly once, on the stage that owns its chunk. */
static dl_status index_build(const dl_pp_schedule *s, op_index *ix) {
    memset(ix, 0, sizeof *ix);
    if (!s || !s->begin || !s->ops) return DL_FAIL(DL_ERR_ARG, "schedule is NULL or empty");
    if (s->p < 1 || s->m < 1 || s->v < 1)
        return DL_FAIL(DL_ERR_ARG, "invariant 1: p=%d m=%d v=%d: each must be >= 1", s->p, s->m,
                       s->v);
    if (s->begin[0] != 0)
        return DL_FAIL(DL_ERR_ARG, "invariant 1: stage 0's list starts at %d, not 0", s->begin[0]);
    for (int st = 0; st < s->p; st++)
        if (s->begin[st + 1] < s->begin[st])
            return DL_FAIL(DL_ERR_ARG, "invariant 1: stage %d's list ends before it begins", st);
    int n = s->begin[s->p];
    ix->V = s->p * s->v, ix->m = s->m;
    size_t slots = (size_t)ix->V * (size_t)s->m;
    ix->fwd = malloc(slots * sizeof *ix->fwd);
    ix->bwd = malloc(slots * sizeof *ix->bwd);
    ix->wgt = malloc(slots * sizeof *ix->wgt);
    ix->stage_of = malloc((size_t)(n > 0 ? n : 1) * sizeof *ix->stage_of);
    if (!ix->fwd || !ix->bwd || !ix->wgt || !ix->stage_of) {
        index_free(ix);
        return DL_FAIL(DL_ERR_ALLOC, "index of %zu slots", slots);
    }
    for (size_t i = 0; i < slots; i++)
        ix->fwd[i] = ix->bwd[i] = ix->wgt[i] = -1;
    char a[64], b[64];
    dl_status st_ = DL_OK;
    for (int st = 0; st < s->p && st_ == DL_OK; st++) {
        for (int i = s->begin[st]; i < s->begin[st + 1]; i++) {
            const dl_pp_op *op = &s->ops[i];
            ix->stage_of[i] = st;
            if (op->type < 0 || op->type >= DL_PP_N_OP_TYPES || op->microbatch < 0 ||
                op->microbatch >= s->m || op->chunk < 0 || op->chunk >= s->v) {
                st_ =
                    DL_FAIL(DL_ERR_ARG,
                            "invariant 1: stage %d op %d: type %d, microbatch %d, chunk %d out of "
                            "range (m=%d, v=%d)",
                            st, i - s->begin[st], op->type, op->microbatch, op->chunk, s->m, s->v);
                break;
            }
            int u = op->chunk * s->p + st, k = slot(ix, u, op->microbatch);
            int *table = op->type == DL_PP_F ? ix->fwd : op->type == DL_PP_W ? ix->wgt : ix->bwd;
            if (table[k] >= 0) {
                const dl_pp_op *first = &s->ops[table[k]];
                st_ = DL_FAIL(DL_ERR_ARG, "invariant 2: stage %d runs %s twice%s%s", st,
                              op_str(s, op, a, sizeof a),
                              first->type != op->type ? ": it already has " : "",
                              first->type != op->type ? op_str(s, first, b, sizeof b) : "");
                break;
            }
            table[k] = i;
        }
    }
    /* every (u, mb): F, and B or (Bi and W) */
    for (int u = 0; u < ix->V && st_ == DL_OK; u++) {
        int st = u % s->p;
        for (int mb = 0; mb < s->m; mb++) {
            int k = slot(ix, u, mb);
            dl_pp_op want = {.microbatch = mb, .chunk = u / s->p};
            const char *missing = NULL;
            if (ix->fwd[k] < 0)
                want.type = DL_PP_F, missing = "";
            else if (ix->bwd[k] < 0)
                want.type = ix->wgt[k] >= 0 ? DL_PP_BI : DL_PP_B, missing = "";
            else if (s->ops[ix->bwd[k]].type == DL_PP_BI && ix->wgt[k] < 0)
                want.type = DL_PP_W, missing = "";
            if (missing) {
                st_ = DL_FAIL(DL_ERR_ARG, "invariant 2: stage %d never runs %s", st,
                              op_str(s, &want, a, sizeof a));
                break;
            }
            if (s->ops[ix->bwd[k]].type == DL_PP_B && ix->wgt[k] >= 0) {
                st_ = DL_FAIL(DL_ERR_ARG,
                              "invariant 2: stage %d runs both %s and %s (W belongs to a split Bi)",
                              st, op_str(s, &s->ops[ix->bwd[k]], a, sizeof a),
                              op_str(s, &s->ops[ix->wgt[k]], b, sizeof b));
                break;
            }
        }
    }
    if (st_ != DL_OK) index_free(ix);
    return st_;
}

/* The ops op i waits for (invariant 4), as op indices: at most two. */
static int deps_of(const dl_pp_schedule *s, const op_index *ix, int i, int dep[2]) {
    const dl_pp_op *op = &s->ops[i];
    int u = op->chunk * s->p + ix->stage_of[i], mb = op->microbatch, n = 0;
    if (op->type == DL_PP_F) {
        if (u > 0) dep[n++] = ix->fwd[slot(ix, u - 1, mb)];
    } else if (op->type == DL_PP_W) {
        dep[n++] = ix->bwd[slot(ix, u, mb)];
    } else {
        dep[n++] = ix->fwd[slot(ix, u, mb)];
        if (u < ix->V - 1) dep[n++] = ix->bwd[slot(ix, u + 1, mb)];
    }
    return n;
}

/* Invariant 5: a dependency on the same stage comes earlier in that stage's list. */
static dl_status check_stage_order(const dl_pp_schedule *s, const op_index *ix) {
    char a[64], b[64];
    for (int i = 0; i < s->begin[s->p]; i++) {
        int dep[2], n = deps_of(s, ix, i, dep);
        for (int d = 0; d < n; d++)
            if (ix->stage_of[dep[d]] == ix->stage_of[i] && dep[d] > i)
                return DL_FAIL(DL_ERR_ARG,
                               "invariant 5: stage %d runs %s before %s, which it needs",
                               ix->stage_of[i], op_str(s, &s->ops[i], a, sizeof a),
                               op_str(s, &s->ops[dep[d]], b, sizeof b));
    }
    return DL_OK;
}

/* ------------------------------------------------------------- running the lists */

static double op_cost(const dl_pp_schedule *s, const dl_pp_costs *c, const dl_pp_op *op) {
    double t = op->type == DL_PP_F    ? c->forward
               : op->type == DL_PP_B  ? c->backward_input + c->backward_weight
               : op->type == DL_PP_BI ? c->backward_input
                                      : c->backward_weight;
    return t / s->v;
}

/* Invariants 6–7: run every stage's list in order; start[i], end[i] for every op. On a
 * deadlock, DL_ERR_ARG naming each stuck stage's next op and the op it waits for. */
static dl_status run_lists(const dl_pp_schedule *s, const op_index *ix, const dl_pp_costs *c,
                           double *start, double *end) {
    int p = s->p, n = s->begin[p];
    int *head = malloc((size_t)p * sizeof *head);
    char *done = calloc((size_t)(n > 0 ? n : 1), 1);
    double *stage_free = calloc((size_t)p, sizeof *stage_free);
    if (!head || !done || !stage_free) {
        free(head), free(done), free(stage_free);
        return DL_FAIL(DL_ERR_ALLOC, "simulation state for %d ops", n);
    }
    for (int st = 0; st < p; st++)
        head[st] = s->begin[st];
    int finished = 0, progress = 1;
    while (progress) {
        progress = 0;
        for (int st = 0; st < p; st++) {
            while (head[st] < s->begin[st + 1]) {
                int i = head[st], dep[2], nd = deps_of(s, ix, i, dep), ready = 1;
                double t = stage_free[st];
                for (int d = 0; d < nd && ready; d++) {
                    if (!done[dep[d]])
                        ready = 0;
                    else {
                        double arrive = end[dep[d]] + (ix->stage_of[dep[d]] != st ? c->send : 0.0);
                        if (arrive > t) t = arrive;
                    }
                }
                if (!ready) break;
                start[i] = t;
                end[i] = t + op_cost(s, c, &s->ops[i]);
                stage_free[st] = end[i];
                done[i] = 1;
                head[st]++;
                finished++;
                progress = 1;
            }
        }
    }
    dl_status status = DL_OK;
    if (finished < n) {
        char msg[512], a[64], b[64];
        size_t len = 0;
        msg[0] = '\0';
        for (int st = 0; st < p && len < sizeof msg - 1; st++) {
            if (head[st] >= s->begin[st + 1]) continue;
            int i = head[st], dep[2], nd = deps_of(s, ix, i, dep), waiting = dep[0];
            for (int d = 0; d < nd; d++)
                if (!done[dep[d]]) waiting = dep[d];
            len += (size_t)snprintf(
                msg + len, sizeof msg - len, "%sstage %d waits at %s for %s of stage %d",
                len ? "; " : "", st, op_str(s, &s->ops[i], a, sizeof a),
                op_str(s, &s->ops[waiting], b, sizeof b), ix->stage_of[waiting]);
        }
        status =
            DL_FAIL(DL_ERR_ARG, "invariant 6: deadlock after %d of %d ops: %s", finished, n, msg);
    }
    free(head), free(done), free(stage_free);
    return status;
}

/* Invariants 1–6 with the index kept for the simulator. */
static dl_status validate_into(const dl_pp_schedule *s, op_index *ix) {
    DL_TRY(index_build(s, ix));
    dl_status st = check_stage_order(s, ix);
    if (st == DL_OK) {
        int n = s->begin[s->p];
        double *start = malloc((size_t)(n > 0 ? n : 1) * sizeof *start);
        double *end = malloc((size_t)(n > 0 ? n : 1) * sizeof *end);
        const dl_pp_costs unit = {
            .forward = 1, .backward_input = 1, .backward_weight = 1, .send = 0};
        st =
            start && end ? run_lists(s, ix, &unit, start, end) : DL_FAIL(DL_ERR_ALLOC, "%d ops", n);
        free(start);
        free(end);
    }
    if (st != DL_OK) index_free(ix);
    return st;
}

dl_status dl_pp_schedule_validate(const dl_pp_schedule *s) {
    op_index ix;
    DL_TRY(validate_into(s, &ix));
    index_free(&ix);
    return DL_OK;
}

/* ------------------------------------------------------------------- simulator */

void dl_pp_sim_free(dl_pp_sim *r) {
    if (!r) return;
    free(r->start);
    free(r->end);
    free(r->busy);
    free(r->peak_chunks);
    memset(r, 0, sizeof *r);
}

dl_status dl_pp_simulate(const dl_pp_schedule *s, const dl_pp_costs *costs,
                         double bytes_per_microbatch, dl_pp_sim *out) {
    if (!out || !costs) return DL_FAIL(DL_ERR_ARG, "out or costs is NULL");
    memset(out, 0, sizeof *out);
    const double c4[4] = {costs->forward, costs->backward_input, costs->backward_weight,
                          costs->send};
    for (int k = 0; k < 4; k++)
        if (!isfinite(c4[k]) || c4[k] < 0)
            return DL_FAIL(DL_ERR_ARG,
                           "costs must be finite and >= 0 (forward %g, backward_input %g, "
                           "backward_weight %g, send %g)",
                           c4[0], c4[1], c4[2], c4[3]);
    if (!isfinite(bytes_per_microbatch) || bytes_per_microbatch < 0)
        return DL_FAIL(DL_ERR_ARG, "bytes_per_microbatch %g must be finite and >= 0",
                       bytes_per_microbatch);
    op_index ix;
    DL_TRY(validate_into(s, &ix));
    int p = s->p, n = s->begin[p];
    out->p = p;
    out->start = calloc((size_t)(n > 0 ? n : 1), sizeof *out->start);
    out->end = calloc((size_t)(n > 0 ? n : 1), sizeof *out->end);
    out->busy = calloc((size_t)p, sizeof *out->busy);
    out->peak_chunks = calloc((size_t)p, sizeof *out->peak_chunks);
    dl_status st = out->start && out->end && out->busy && out->peak_chunks
                       ? run_lists(s, &ix, costs, out->start, out->end)
                       : DL_FAIL(DL_ERR_ALLOC, "timeline of %d ops", n);
    index_free(&ix);
    if (st != DL_OK) {
        dl_pp_sim_free(out);
        return st;
    }
    double idle = 0.0;
    int peak_all = 0;
    for (int stg = 0; stg < p; stg++) {
        int held = 0;
        for (int i = s->begin[stg]; i < s->begin[stg + 1]; i++) {
            out->busy[stg] += out->end[i] - out->start[i];
            if (out->end[i] > out->makespan) out->makespan = out->end[i];
            /* invariant 9: F keeps a microbatch's activations; B, or W for a split backward,
             * is the last op that reads them */
            int type = s->ops[i].type;
            held += type == DL_PP_F ? 1 : (type == DL_PP_B || type == DL_PP_W) ? -1 : 0;
            if (held > out->peak_chunks[stg]) out->peak_chunks[stg] = held;
        }
        if (out->peak_chunks[stg] > peak_all) peak_all = out->peak_chunks[stg];
    }
    for (int stg = 0; stg < p; stg++)
        idle += out->makespan - out->busy[stg];
    out->bubble_fraction = out->makespan > 0 ? idle / (p * out->makespan) : 0.0;
    out->peak_microbatches = (double)peak_all / s->v;
    out->peak_bytes = out->peak_microbatches * bytes_per_microbatch;
    return DL_OK;
}

/* --------------------------------------------------------------------- formulas */

double dl_pp_bubble_formula_costs(dl_pp_kind kind, int p, int m, int v, const dl_pp_costs *c) {
    if (!c || p < 1 || m < 1 || v < 1) return NAN;
    double f = c->forward, bi = c->backward_input, w = c->backward_weight, idle;
    switch (kind) {
    case DL_PP_GPIPE:
    case DL_PP_1F1B: idle = (p - 1) * (f + bi + w); break;
    case DL_PP_INTERLEAVED: idle = (p - 1) * (f + bi + w) / v; break;
    case DL_PP_ZBH1:
        idle = (p - 1) * (f + bi - w);
        if (idle < 0) idle = 0;
        break;
    default: return NAN;
    }
    double total = m * (f + bi + w) + idle;
    return total > 0 ? idle / total : NAN;
}

double dl_pp_bubble_formula(dl_pp_kind kind, int p, int m, int v) {
    const dl_pp_costs equal = {.forward = 1, .backward_input = 1, .backward_weight = 1};
    return dl_pp_bubble_formula_costs(kind, p, m, v, &equal);
}
