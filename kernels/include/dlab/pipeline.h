/* pipeline.h — pipeline-parallel schedules as data: build, validate, simulate.
 *
 * A schedule says, for each of p stages, the ordered list of operations that stage runs on
 * m microbatches (and v model chunks per stage, for the interleaved schedule): forward F,
 * backward B, or for zero-bubble schedules the backward split into Bi (input gradient) and
 * W (weight gradient). The validator checks that every op appears once, that the order on
 * each stage respects the dependencies, and that the stages, run together, cannot deadlock.
 * The simulator gives every op a start and end time from per-op costs and reports the
 * makespan, the bubble fraction and the peak number of microbatches whose activations a stage
 * holds. The invariants are numbered in lessons/07-pipeline-bubbles/DESIGN.md.
 *
 *     dl_pp_schedule s;
 *     if (dl_pp_schedule_build(DL_PP_1F1B, 4, 8, 1, &s) != DL_OK) ...   // p=4, m=8, v=1
 *     dl_pp_costs c = {.forward = 1, .backward_input = 1, .backward_weight = 1};
 *     dl_pp_sim r;
 *     dl_pp_simulate(&s, &c, 0, &r);        // r.bubble_fraction == 3/11 = 0.2727...
 *     dl_pp_sim_free(&r); dl_pp_schedule_free(&s);
 *
 * Pure C, no MPI and no tensors: executing a schedule on real ranks is another layer's job.
 * Left out: memory-limited schedule search (ZB-H2/ZB-V), variable per-stage costs, send
 * bandwidth (a send costs one fixed latency), bounded send buffers.
 */
#ifndef DLAB_PIPELINE_H
#define DLAB_PIPELINE_H

#include <stddef.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dl_pp_kind {
    DL_PP_GPIPE = 0,   /* all forwards, then all backwards (Huang et al. 2019) */
    DL_PP_1F1B,        /* PipeDream-Flush: warm-up, one forward one backward, cool-down */
    DL_PP_INTERLEAVED, /* Megatron's interleaved 1F1B, v chunks per stage, m multiple of p */
    DL_PP_ZBH1,        /* zero bubble H1 (Qi et al. 2024): 1F1B with B split into Bi and W */
    DL_PP_N_KINDS
} dl_pp_kind;

/* "gpipe", "1f1b", "interleaved", "zbh1"; "?" for anything else. */
const char *dl_pp_kind_name(dl_pp_kind kind);

typedef enum dl_pp_op_type {
    DL_PP_F = 0, /* forward */
    DL_PP_B,     /* whole backward: input and weight gradients */
    DL_PP_BI,    /* backward, input gradient only (what the previous stage waits for) */
    DL_PP_W,     /* backward, weight gradient only (nobody waits for it) */
    DL_PP_N_OP_TYPES
} dl_pp_op_type;

/* "F", "B", "Bi", "W". */
const char *dl_pp_op_name(dl_pp_op_type type);

typedef struct dl_pp_op {
    int type;       /* a dl_pp_op_type (int, so a hand-made bad value can be represented) */
    int microbatch; /* [0, m) */
    int chunk;      /* [0, v): the op runs on virtual stage chunk·p + stage */
} dl_pp_op;

/* p stages' op lists in one array: stage s runs ops[begin[s] .. begin[s+1]) in order. */
typedef struct dl_pp_schedule {
    dl_pp_kind kind; /* what built it (hand-made schedules may say anything) */
    int p, m, v;
    int *begin;    /* p + 1 offsets into ops */
    dl_pp_op *ops; /* begin[p] ops */
} dl_pp_schedule;

/* Build a schedule. DL_ERR_ARG when p < 1, m < 1, v < 1, v != 1 for a schedule without chunks,
 * or m not a multiple of p for DL_PP_INTERLEAVED. The result passes dl_pp_schedule_validate.
 * Free with dl_pp_schedule_free. */
dl_status dl_pp_schedule_build(dl_pp_kind kind, int p, int m, int v, dl_pp_schedule *out);

/* An empty schedule of p stages with room for n_ops ops, for hand-made schedules: fill ops
 * and begin yourself (begin is zeroed, kind DL_PP_N_KINDS). */
dl_status dl_pp_schedule_alloc(int p, int m, int v, int n_ops, dl_pp_schedule *out);

void dl_pp_schedule_free(dl_pp_schedule *s);

/* Invariants 1–6 of DESIGN.md: sizes and ranges, every op exactly once, the right stage,
 * same-stage order, no deadlock (unit costs, unbounded buffers). DL_OK, or DL_ERR_ARG with a
 * message naming the first broken invariant and the op, e.g.
 * "deadlock: stage 0 waits at B(mb 1) for B(mb 1) of stage 1; stage 1 waits at F(mb 1) ...". */
dl_status dl_pp_schedule_validate(const dl_pp_schedule *s);

/* Number of layers in each chunk when `layers` layers are split over p stages of v chunks.
 * DL_ERR_ARG when p·v > layers or layers is not a multiple of p·v. */
dl_status dl_pp_layers_per_chunk(int layers, int p, int v, int *out);

/* Per-op costs of one stage holding its whole share of the model (a chunk op costs 1/v of
 * it), in any time unit. B costs backward_input + backward_weight; Bi backward_input; W
 * backward_weight. send: latency added when an op waits for an op of another stage. */
typedef struct dl_pp_costs {
    double forward, backward_input, backward_weight, send;
} dl_pp_costs;

typedef struct dl_pp_sim {
    int p;
    double *start, *end;      /* per op, indexed like schedule.ops */
    double makespan;          /* latest end */
    double *busy;             /* p: Σ op cost per stage */
    double bubble_fraction;   /* Σ (makespan − busy_s) / (p · makespan) */
    int *peak_chunks;         /* p: most chunk-microbatches whose activations a stage held */
    double peak_microbatches; /* max over stages of peak_chunks / v */
    double peak_bytes;        /* peak_microbatches × bytes per microbatch */
} dl_pp_sim;

/* Validate, then time the schedule with these costs. bytes_per_microbatch: activation bytes
 * one microbatch leaves on a stage between its F and its B (or W); 0 if unknown.
 * DL_ERR_ARG for an invalid schedule or negative / non-finite costs. Free with dl_pp_sim_free. */
dl_status dl_pp_simulate(const dl_pp_schedule *s, const dl_pp_costs *costs,
                         double bytes_per_microbatch, dl_pp_sim *out);
void dl_pp_sim_free(dl_pp_sim *r);

/* The published bubble fraction (idle over p × total time) for equal per-op costs F = Bi = W and
 * no send latency: GPipe, 1F1B (p−1)/(m+p−1); interleaved (p−1)/(v·m+p−1) (Narayanan et al.
 * 2021, (1/v)(p−1)/m of the ideal time); ZB-H1 (p−1)/(3m+p−1) (Qi et al., idle (p−1)(F+Bi−W) per
 * stage). NaN for a kind it does not know or sizes < 1. */
double dl_pp_bubble_formula(dl_pp_kind kind, int p, int m, int v);

/* The same with general costs (F, Bi, W, no send): GPipe/1F1B idle (p−1)(F+Bi+W) per stage,
 * interleaved (p−1)(F+Bi+W)/v, ZB-H1 (p−1)(F+Bi−W) (at least 0); over p × (m·(F+Bi+W) + idle). */
double dl_pp_bubble_formula_costs(dl_pp_kind kind, int p, int m, int v, const dl_pp_costs *costs);

#ifdef __cplusplus
}
#endif
#endif
