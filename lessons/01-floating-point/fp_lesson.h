/* fp_lesson.h — lesson 1's experiments, shared by lesson.c (the program) and
 * tests/test_lesson01.c (which checks the exact figures).
 *
 * Each experiment prints its tables, writes their CSVs and plots into the run directory and
 * records its headline numbers with dlb_run_metric. Each returns 0, or -1 after printing why.
 * The pure functions (Patriot clock arithmetic, data generators) are here so tests can call
 * them without running a whole experiment.
 */
#ifndef FP_LESSON_H
#define FP_LESSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlab/dlab.h"
#include "dlbench.h"

typedef struct fp_config {
    bool quick;    /* --quick: small sizes, short timings */
    long max_n;    /* largest summation size */
    uint64_t seed; /* every random array derives from this */
    int threads;   /* threads for the parallel variants (restored after part d) */
} fp_config;

/* -------------------------------------------------------------- (a) patriot.c */

#define PATRIOT_FRACTION_BITS 23     /* bits after the binary point in the 24-bit register */
#define PATRIOT_TICKS_PER_HOUR 36000 /* the clock counts tenths of a second */
#define PATRIOT_SCUD_MPS 1676.0      /* the Scud speed GAO quotes in its text */

/* 1/10 chopped after 23 fractional bits, as the integer the register held (units of 2^-23). */
uint32_t patriot_tenth_register(void);
/* The same as a number: 0.00011001100110011001100b = 0.099999904632568359375. */
double patriot_tenth_chopped(void);
/* Time the system computes after `ticks` tenths: ticks × chopped tenth (exact). */
double patriot_computed_time_s(long ticks);
/* True time minus computed time after `hours` of uptime. */
double patriot_clock_error_s(double hours);

/* GAO's Appendix II table (the paper's figures, typed in from the report). */
typedef struct patriot_gao_row {
    int hours;
    double error_s; /* "inaccuracy (seconds)" */
    int shift_m;    /* "approximate shift in range gate (meters)" */
} patriot_gao_row;
extern const patriot_gao_row patriot_gao_table[];
extern const int patriot_gao_rows;

/* The range-gate velocity GAO's shift column implies: every v in [lo, hi) reproduces all six
 * printed shifts when shift = round(v × our computed error). Returns the middle of that
 * interval rounded to whole m/s (2000). lo/hi may be NULL. */
double patriot_gao_velocity_mps(double *lo, double *hi);
double patriot_range_shift_m(double hours, double velocity_mps);

/* The "fixes", as |true − computed| after `hours` (ticks counted one by one where the method
 * accumulates): fp32 `t += 0.1f`, fp32 `ticks * 0.1f`, double `t += 0.1`, integer tenths. */
double patriot_fp32_accumulate_error_s(double hours);
double patriot_fp32_multiply_error_s(double hours);
double patriot_double_accumulate_error_s(double hours);
double patriot_integer_tenths_error_s(double hours);

int fp_patriot(dlb_run *run, const fp_config *cfg);

/* ----------------------------------------------------------- (b) summation.c */

/* Uniform [0, 1): every term positive, condition number 1. */
void fp_fill_benign(float *x, size_t n, dl_rng *rng);
/* Small positive terms plus ±b pairs (b in [2^17, 2^19)) that cancel exactly, about one pair
 * per 128 elements, scattered: large cancellation, condition number ~10^4. */
void fp_fill_ill_conditioned(float *x, size_t n, dl_rng *rng);
/* Σ|x| / |Σx| computed with the `ref` variant (inf when the sum is 0). */
double fp_condition_number(const float *x, size_t n);

int fp_summation(dlb_run *run, const fp_config *cfg);

/* ------------------------------------------------------------- (c) formats.c */

int fp_formats(dlb_run *run, const fp_config *cfg);

/* ----------------------------------------------------------- (d) reduction.c */

/* Normal values scaled by 2^k, k uniform in [-12, 12]: mixed signs and magnitudes, so that
 * the order of the additions shows in the low bits. */
void fp_fill_mixed(float *x, size_t n, dl_rng *rng);

int fp_reduction(dlb_run *run, const fp_config *cfg);

/* -------------------------------------------------------- (e) loss_scaling.c */

/* What happens to n fp32 values when scaled by 2^log2_scale and cast to fp16 (RNE). */
typedef struct fp16_cast_counts {
    long nonzero;   /* values that were not zero in fp32 */
    long underflow; /* nonzero values that became ±0 */
    long subnormal; /* nonzero values that became fp16 subnormals (precision lost) */
    long overflow;  /* finite values that became ±inf */
} fp16_cast_counts;
fp16_cast_counts fp16_cast_count(const float *g, size_t n, int log2_scale);

/* Train the MLP briefly on Fashion-MNIST, collect its gradients at a few steps, and measure
 * fp16 underflow and overflow at loss scales 2^0 … 2^24. */
int fp_loss_scaling(dlb_run *run, const fp_config *cfg);

/* ------------------------------------------------------------------ shared */

/* The bits of a float, for printing in hex. */
uint32_t fp_bits(float x);
/* Timing options: the harness defaults, shortened in --quick. */
dlb_opts fp_timing_opts(const fp_config *cfg);
/* dlb_measure's callback for one sum variant on one array. */
typedef struct fp_sum_ctx {
    const dl_variant *v;
    dl_sum_args a;
} fp_sum_ctx;
void fp_run_sum(void *ctx);

#endif
