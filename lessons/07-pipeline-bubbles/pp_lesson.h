/* pp_lesson.h — lesson 7's parts, shared by lesson.c (the program) and tests/test_lesson07.c.
 *
 * The pieces: sweep.c (every schedule over p, m, v: simulated bubble against the published
 * formula, tables, bubble-vs-m plots, the headline metrics), gantt.c (a Gantt chart of one
 * simulated timeline, drawn by gnuplot as rectangles). Each part returns a dl_status; the
 * lesson prints dl_last_error().
 */
#ifndef PP_LESSON_H
#define PP_LESSON_H

#include <stdbool.h>
#include <stdint.h>

#include "dlab/pipeline.h"
#include "dlbench.h"

typedef struct pp_config {
    bool quick;                  /* m ∈ {1, 2, 4, ..., 64} instead of 1 … 64 */
    double bytes_per_microbatch; /* activation bytes one microbatch leaves on a stage */
} pp_config;

/* F = Bi = W = 1, no send latency: the costs every published formula assumes. */
extern const dl_pp_costs pp_equal_costs;

/* The m values of the sweep, ascending, into m_out (room for 64): 1 … 64, or the powers of
 * two when quick. Returns how many. */
int pp_sweep_ms(bool quick, int *m_out);

/* Is the published formula for this schedule claimed at (p, m)? ZB-H1's expression assumes
 * the pipeline fills (m ≥ p); the others hold for every m the schedule accepts. */
bool pp_formula_applies(dl_pp_kind kind, int p, int m);

/* Simulate with equal costs (F = Bi = W = 1, no send): the bubble fraction and the peak
 * microbatches held, or DL_ERR_ARG from the scheduler. */
dl_status pp_bubble(dl_pp_kind kind, int p, int m, int v, double *bubble,
                    double *peak_microbatches);

/* The sweep: p ∈ {2, 4, 8}, m from pp_sweep_ms, v ∈ {1, 2, 4} for interleaved (m a multiple
 * of p); writes bubble_sweep.csv (every point), prints and writes theory_vs_sim (one row per
 * schedule, p, v: the value at m = 8, the largest |sim − formula| where the formula applies),
 * plots bubble_vs_m_p{2,4,8}, and records bubble_sim_max_abs_diff_formula.
 * *max_abs_diff receives that figure. */
dl_status pp_sweep(dlb_run *run, const pp_config *cfg, double *max_abs_diff);

/* p = 4, m = 8 under unequal costs and send latencies: simulation against the formula with
 * costs; prints and writes costs_vs_formula. */
dl_status pp_costs_table(dlb_run *run);

/* The headline metrics at p = 4: bubble_*_p4_m8_sim (v = 2 for interleaved) and, at m = 16,
 * the peak activation bytes of 1F1B over GPipe (simulated); prints and writes peak_memory. */
dl_status pp_headline(dlb_run *run, const pp_config *cfg);

/* A Gantt chart of one simulated timeline as <name>.png in the run directory: one row per
 * stage, one rectangle per op (F blue, B and Bi red, W green), labelled with its microbatch. */
dl_status pp_gantt(dlb_run *run, const char *name, const dl_pp_schedule *s, const dl_pp_sim *r);

/* The four Gantt charts of the lesson: p = 4, m = 8 (interleaved v = 2), equal costs. */
dl_status pp_gantts(dlb_run *run);

/* ------------------------------------------------------------------ emulate.c */

/* One process runs a schedule for real on an 8-layer MLP (48 → 7×64 → 10) cut into p·v
 * chunks, against plain training with gradient accumulation on the same microbatches. */
typedef struct pp_emulate_config {
    dl_pp_kind kind;
    int p, m, v;
    int rows;  /* rows per microbatch */
    int steps; /* SGD steps on the same global batch */
    float lr;
    uint64_t seed;
} pp_emulate_config;

typedef struct pp_emulation {
    double loss_max_abs_diff;     /* over the steps: |pipelined loss − reference loss| */
    double param_max_abs_diff;    /* after the last step, over every parameter */
    double first_loss, last_loss; /* pipelined, first and last step */
    double peak_activation_bytes; /* most activation bytes any stage held (measured allocations) */
    double peak_microbatches;     /* the same in microbatches (each stage's peak / its bytes per
                                     microbatch) */
} pp_emulation;

/* DL_ERR_ARG when the 8 layers do not split into p·v chunks, or from the scheduler. */
dl_status pp_emulate(const pp_emulate_config *cfg, pp_emulation *out);

/* The emulation for every schedule (p = 4, m = 8; interleaved v = 2): prints and writes
 * pipeline_emulation, records pipeline_loss_max_abs_diff and pipeline_params_max_abs_diff
 * (the largest over the schedules) and, at p = 4, m = 16, the measured peak activation bytes
 * of 1F1B over GPipe. */
dl_status pp_emulations(dlb_run *run, const pp_config *cfg);

#endif
