/* sm_lesson.h — lesson 2's parts, shared by lesson.c (the program) and
 * tests/test_lesson02.c (which checks what can be checked exactly).
 *
 * Each part prints its tables, writes CSVs and plots into the run directory and records its
 * headline numbers with dlb_run_metric; each returns 0, or -1 after printing why.
 */
#ifndef SM_LESSON_H
#define SM_LESSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlab/dlab.h"
#include "dlbench.h"

typedef struct sm_config {
    bool quick;       /* --quick: small sizes, short timings */
    long max_v;       /* largest vocabulary of the sweep */
    long budget;      /* most elements N·V in one softmax call (sets N at large V) */
    uint64_t seed;    /* every random array derives from this */
    int threads;
    bool cuda;        /* --device cuda: also run the GPU parts */
    dlb_peak peak;    /* measured copy bandwidth and FMA peak of this machine */
    long llc_bytes;   /* last-level cache size (0 if unknown) */
} sm_config;

/* (a) overflow.c: naive overflows, safe and online do not; the (m, d) trace of a short row;
 * the pair rule on a split row. */
int sm_overflow(dlb_run *run, const sm_config *cfg);
/* The running (m, d) after each element of x, into m[i], d[i] (scalar online update, in
 * double so the trace is exact to print). */
void sm_online_trace(const float *x, int n, double *m, double *d);

/* (b) sweep.c: every CPU variant at the paper's point, then safe against online over V at
 * batch 4000 and batch 10: GB/s, fraction of copy bandwidth, online/safe ratio, plots. */
int sm_sweep(dlb_run *run, const sm_config *cfg);
/* The sweep's vocabularies: 64, 256, ... (×4) up to max_v, plus max_v itself; returns
 * how many (at most `cap`). */
int sm_sweep_sizes(long max_v, long *out, int cap);
/* Rows for a vocabulary: `batch`, or fewer so that N·V stays within budget (at least 1). */
int sm_rows_for(int batch, long V, long budget);

/* (c) topk.c: fused softmax + top-k against the unfused pipeline over k, CPU. */
int sm_topk(dlb_run *run, const sm_config *cfg);

/* (d) attention.c: flash-style attention against materialized, error and speed. */
int sm_attention(dlb_run *run, const sm_config *cfg);

/* (e) gpu.c: the CUDA variants and cuDNN over V (only with --device cuda). */
int sm_gpu(dlb_run *run, const sm_config *cfg);

/* ------------------------------------------------------------------ shared */

/* Timing options: the harness defaults, shortened in --quick. */
dlb_opts sm_timing_opts(const sm_config *cfg);
/* Uniform logits in [-lo, hi) from a stream of `seed` named by `stream`. */
void sm_fill_logits(float *x, size_t n, uint64_t seed, uint64_t stream, float lo, float hi);
/* The first available variant among `names` (NULL-terminated) of `family`, or NULL. */
const dl_variant *sm_first_available(const char *family, const char *const *names);

#endif
