/* int8_lesson.h — lesson 4's parts, shared by lesson.c (the program) and tests/test_lesson04.c
 * (which checks what can be checked exactly: the injection preserves the function, the
 * statistics find planted outliers and none in a plain model, the hooks come off, the CLI).
 *
 *   cli.c         the command line (one place, so the test can feed it bad input)
 *   outliers.c    activation statistics through the GPT's inference hook, the paper's
 *                 emergent-feature criteria, the function-preserving outlier injection,
 *                 the quantized model (one dl_qlinear per projection) and the zeroing hook
 *   speed.c       int8 GEMM vs fp32 sgemm (own and OpenBLAS); LLM.int8()'s overhead vs
 *                 plain vector-wise int8 as the outlier count grows
 *   experiment.c  everything in order: data, base model, statistics, Table 1, ablation,
 *                 speed, tables, plots, metrics
 * Every part returns a dl_status; the lesson prints dl_last_error().
 */
#ifndef INT8_LESSON_H
#define INT8_LESSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlab/dlab.h"
#include "dlab/gpt.h"
#include "dlab/qlinear.h"
#include "dlbench.h"

#define I8_MAX_SWEEP 8
#define I8_MAX_INJECT 16
#define I8_MAX_SIZES 8

typedef struct i8_config {
    bool quick;
    uint64_t seed;
    int threads;
    const char *base_path;   /* lesson 0's checkpoint (may not exist) */
    const char *out_dir;     /* the run directory (base.ckpt when pretrained here) */
    dl_gpt_config model;     /* the config the base must have (vocab filled in from the data) */
    int B, T;                /* evaluation (and pretraining) batch */
    long pretrain_steps;     /* when no base checkpoint fits */
    int val_batches;         /* perplexity: mean loss over this many fixed windows of B×T */
    float threshold;         /* the outlier threshold: LLM.int8()'s and the criteria's (6.0) */
    int n_inject;            /* hidden dimensions made into outliers */
    double magnitudes[I8_MAX_SWEEP]; /* outlier magnitudes (max |x|) the sweep aims at */
    int n_magnitudes;
    int ablation_draws;      /* random sets of dimensions zeroed, averaged */
    int gemm_sizes[I8_MAX_SIZES];
    int n_gemm_sizes;
    int overhead_counts[I8_MAX_SIZES]; /* outlier columns planted for the overhead sweep */
    int n_overhead_counts;
    int overhead_N, overhead_C;        /* its shapes: x (N,C), W (C,C) */
} i8_config;

/* ---------------------------------------------------------------------- cli.c */

/* Parse the lesson's command line into cfg (defaults, or --quick's). 0: go on; 1: --help was
 * printed (exit 0); 2: a one-line error and the usage were printed (exit 2). */
int i8_cli_parse(int argc, char **argv, i8_config *cfg, dlb_cli *cli);

/* ----------------------------------------------------------------- outliers.c */

/* Per projection input (layer l, projection p) and hidden dimension d: the largest |x| and
 * how many positions had |x| >= threshold. Filled by i8_stats_hook while the model runs. */
typedef struct i8_act_stats {
    int L, C, V;
    float threshold;
    const dl_variant *linear; /* the fp32 linear the hook still runs */
    float *max_abs;           /* [slot][4C], slot = l·DL_GPT_PROJ_COUNT + p */
    long long *n_big;         /* [slot][4C] */
    long long *positions;     /* [slot] rows seen */
} i8_act_stats;

dl_status i8_stats_init(i8_act_stats *st, const dl_gpt *m, float threshold);
void i8_stats_free(i8_act_stats *st);
void i8_stats_reset(i8_act_stats *st);
/* The hook (ctx = i8_act_stats): record args->inp's statistics, then the fp32 linear. */
dl_status i8_stats_hook(void *ctx, int layer, dl_gpt_proj proj, const dl_linear_args *args);
/* Width of the input of projection p (C, or 4C for FC_PROJ). */
int i8_proj_in_width(const i8_act_stats *st, dl_gpt_proj p);
const float *i8_stats_max(const i8_act_stats *st, int layer, dl_gpt_proj p);
double i8_stats_big_frac(const i8_act_stats *st, int layer, dl_gpt_proj p, int d);

/* The paper's emergent-feature criteria (Dettmers et al. 2022, §4), on the hidden dimensions
 * of the residual stream as the linear layers read them: the inputs of QKV (ln1) and FC (ln2)
 * in every layer, 2L "layer inputs". Dimension d is an outlier feature when |x| >= threshold
 * at d in at least min_layer_frac of those inputs AND in at least min_pos_frac of all
 * (input, position) pairs. dims (room for C) receives them, increasing; *count how many.
 * layer_frac, pos_frac (C each, may be NULL) receive every dimension's two fractions. */
void i8_outlier_dims(const i8_act_stats *st, double min_layer_frac, double min_pos_frac, int *dims,
                     int *count, double *layer_frac, double *pos_frac);

/* Largest |x| over the ln1 and ln2 inputs of every layer at dimensions dims[0..k). */
double i8_stats_max_at(const i8_act_stats *st, const int *dims, int k);
/* The k dimensions with the largest max |x| over those inputs (ties: lower index), into dims. */
void i8_top_dims(const i8_act_stats *st, int k, int *dims);

/* Function-preserving outlier injection into host parameters (laid out as dl_gpt_tensors
 * says): in every layer, ln1's and ln2's gain and bias at dims[0..k) are multiplied by s and
 * the matching input columns of the next linear (qkvw for ln1, fcw for ln2) divided by s. In
 * exact arithmetic the model computes the same function; the layernorm outputs at those
 * dimensions become s times larger. s must be finite and > 0 (DL_ERR_ARG), dims in [0, C). */
dl_status i8_inject_outliers(const dl_gpt_config *cfg, float *params, const int *dims, int k, float s);

/* A GPT's projections as quantized linears: one dl_qlinear per (layer, projection), head
 * (lnf · wteᵀ, layer = L) included, built from m's current (host) parameters. */
typedef struct i8_qmodel {
    int L;
    dl_qlinear_mode mode;
    dl_qlinear *q; /* [(L+1)·DL_GPT_PROJ_COUNT]; only the slots the forward uses are built */
} i8_qmodel;

dl_status i8_qmodel_build(i8_qmodel *qm, const dl_gpt *m, dl_qlinear_mode mode, float threshold);
void i8_qmodel_free(i8_qmodel *qm);
/* The hook (ctx = i8_qmodel): dl_qlinear_forward of the matching layer. */
dl_status i8_qmodel_hook(void *ctx, int layer, dl_gpt_proj proj, const dl_linear_args *args);
/* Σ dl_qlinear_weight_bytes over every projection; *fp32_bytes the same weights as fp32. */
size_t i8_qmodel_weight_bytes(const i8_qmodel *qm, size_t *fp32_bytes);
/* Outlier columns LLM.int8() took through fp32, summed over all projections and calls, and
 * the calls. */
void i8_qmodel_outlier_counts(const i8_qmodel *qm, long long *cols_total, long long *calls);

/* The ablation hook (ctx = i8_zero): zero dims[0..k) of the ln1 and ln2 outputs (the inputs of
 * QKV and FC), then the fp32 linear. */
typedef struct i8_zero {
    const int *dims;
    int k;
    const dl_variant *linear;
    float *scratch;
    size_t scratch_floats;
} i8_zero;
void i8_zero_free(i8_zero *z);
dl_status i8_zero_hook(void *ctx, int layer, dl_gpt_proj proj, const dl_linear_args *args);

/* Validation perplexity exp(mean loss) over val_batches fixed windows with `hook` set (NULL:
 * the plain fp32 forward). The hook is removed before returning, on every path. */
dl_status i8_val_ppl(dl_gpt *m, const int *tokens, size_t n, int val_batches, dl_gpt_linear_hook hook,
                     void *ctx, double *ppl);

/* -------------------------------------------------------------------- speed.c */

/* int8 (vnni) vs fp32 (own best, OpenBLAS) at cfg->gemm_sizes, interleaved. Table
 * "int8_gemm_speed"; *ratio_first = fp32 own time / int8 time at the first size. */
dl_status i8_gemm_speed(dlb_run *run, const i8_config *cfg, double *ratio_first);

/* LLM.int8() vs vector-wise int8 qlinear at (overhead_N, overhead_C) with
 * cfg->overhead_counts outlier columns planted. Table and plot "llm_int8_overhead";
 * *ratio_last = llm_int8 time / vectorwise time at the largest count. */
dl_status i8_overhead(dlb_run *run, const i8_config *cfg, double *ratio_last);

/* --------------------------------------------------------------- experiment.c */

dl_status i8_experiment(dlb_run *run, const i8_config *cfg);

#endif
