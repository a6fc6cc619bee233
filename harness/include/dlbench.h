/* dlbench.h — libdlbench, the dlab timing harness. Depends on nothing in kernels/.
 *
 * What it gives a benchmark or a lesson:
 *   - measurement: warm-up by time, repeated samples sized well above clock resolution,
 *     min / median / mean / MAD / p10 / p90 / cv, and an "unstable" mark (MAD > 5% of median);
 *   - interleaved A/B comparison reporting a ratio with its spread;
 *   - rates (GFLOP/s, GB/s) and fraction of a measured machine peak (copy bandwidth, FMA peak),
 *     measured once per machine and thread count and cached;
 *   - machine context (CPU, cores, SIMD, governor, load, compiler, flags, git revision, GPU);
 *   - one results writer: aligned terminal tables, CSV, summary.csv (metric,value,unit),
 *     run.json, Google Benchmark JSON, gnuplot plots;
 *   - the one lesson CLI parser, and a progress line for long work.
 *
 * Usage (see harness/README.md for a complete program):
 *
 *     dlb_result r;
 *     dlb_measure(my_fn, &ctx, NULL, &r);          // NULL: default options
 *     printf("%.3f ms ± %.1f%%\n", r.time.median * 1e3, 100 * r.time.mad / r.time.median);
 *
 * Functions that can fail return 0 on success and -1 on failure, with a message in
 * dlb_error(). Nothing here calls exit().
 */
#ifndef DLBENCH_H
#define DLBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The message of the last failure on this thread. Never NULL. */
const char *dlb_error(void);

/* ------------------------------------------------------------------ clock */

/* Monotonic time in seconds (CLOCK_MONOTONIC). */
double dlb_now(void);
/* Smallest observable step of dlb_now, measured once. */
double dlb_clock_resolution(void);

/* ------------------------------------------------------------- statistics */

/* A figure is marked unstable when MAD / median exceeds this (nanobench's 5%). */
#define DLB_UNSTABLE_MAD 0.05

typedef struct dlb_stats {
    int n;
    double min, max, mean, median;
    double mad;      /* median absolute deviation from the median (unscaled) */
    double p10, p90; /* linear-interpolated quantiles */
    double stddev;   /* sample standard deviation (n-1) */
    double cv;       /* stddev / mean */
    bool unstable;   /* mad > DLB_UNSTABLE_MAD * median */
} dlb_stats;

/* Statistics of x[0..n). x is not modified. n == 0 gives all zeros and returns -1. */
int dlb_stats_compute(const double *x, int n, dlb_stats *out);
/* q-quantile (0..1) of an ascending array, linear interpolation between closest ranks. */
double dlb_quantile_sorted(const double *sorted, int n, double q);

/* ------------------------------------------------------------ measurement */

typedef void (*dlb_fn)(void *ctx);

typedef struct dlb_opts {
    double warmup_s;     /* run the function for at least this long first (default 0.05) */
    double min_sample_s; /* each sample lasts at least this long; iterations per sample are
                            calibrated up to it (default max(1 ms, 1000 × clock resolution)) */
    int min_samples;     /* at least this many samples (default 10) */
    int max_samples;     /* at most this many samples (default 50) */
    double max_time_s;   /* stop adding samples past min_samples after this (default 1.0) */
    double settle_s;     /* sleep this long, then make one untimed call, before each sample
                            (default 0: neither). For comparing libraries whose idle threads
                            spin after a call (OpenBLAS, OpenMP runtimes): without a pause, one
                            side's spinning workers steal the cores the other side's sample
                            runs on. Not counted in max_time_s. */
} dlb_opts;

/* The defaults; DLB_QUICK=1 in the environment shortens them (for smoke tests). */
dlb_opts dlb_opts_default(void);

typedef struct dlb_result {
    dlb_stats time;         /* seconds per call */
    long iters_per_sample;  /* calls averaged in one sample */
    long total_iters;       /* calls in all samples (not counting warm-up) */
} dlb_result;

/* Time fn(ctx): warm up, calibrate, sample. opts may be NULL. */
int dlb_measure(dlb_fn fn, void *ctx, const dlb_opts *opts, dlb_result *out);

typedef struct dlb_ab {
    dlb_result a, b;
    dlb_stats ratio; /* per-pair time(a) / time(b): > 1 means b is faster */
} dlb_ab;

/* Interleaved A/B: samples alternate a, b, a, b ... with the same iterations per sample, so
 * drift in clock speed or load hits both alike. Reports each and the ratio's spread. */
int dlb_compare(dlb_fn a, void *actx, dlb_fn b, void *bctx, const dlb_opts *opts, dlb_ab *out);

/* Rates from work per call and seconds per call. */
double dlb_gflops(double flops, double seconds);
double dlb_gbps(double bytes, double seconds);

/* ------------------------------------------------------------ machine peak */

typedef struct dlb_peak {
    int threads;
    double copy_gbps;   /* STREAM-style copy, best of 10, arrays far larger than the caches
                           (counts read + write bytes) */
    double fma_gflops;  /* independent FMA chains in the widest SIMD the CPU has */
    char simd[16];      /* which SIMD the FMA peak used: "avx512", "avx2", "scalar" */
} dlb_peak;

/* Measured once per machine (host + CPU model) and thread count, then read from
 * <cache_dir>/peak-<host>-<threads>t.json. cache_dir NULL means "results/machine".
 * A cache that is unreadable or from another machine is measured anew. */
int dlb_peak_get(const char *cache_dir, int threads, dlb_peak *out);
/* Measure without the cache. */
int dlb_peak_measure(int threads, dlb_peak *out);

/* --------------------------------------------------------- machine context */

typedef struct dlb_context {
    char date[32];          /* ISO 8601, local time */
    char host[64];
    char cpu_model[128];
    int num_cpus;           /* online logical CPUs */
    double mhz_per_cpu;     /* nominal/current MHz from /proc/cpuinfo (0 if unknown) */
    bool cpu_scaling_enabled;
    char governor[32];      /* "performance", "powersave", "" if none */
    char simd[160];         /* "sse2 avx avx2 fma avx512f ..." */
    double load_avg[3];
    char compiler[96];      /* __VERSION__ of the compiler that built the harness */
    char cflags[256];       /* flags the build used (from the Makefile) */
    char git_rev[48];       /* `git rev-parse --short HEAD`, "+dirty" if modified, "" outside a checkout */
    char gpu[128];          /* GPU name when built with CUDA and a device is present, else "" */
    long cache_bytes[4];    /* L1d, L2, L3 per /sys (0 if unknown) */
} dlb_context;

int dlb_context_collect(dlb_context *ctx);
/* Print the context as a few aligned lines to stdout. */
void dlb_context_print(const dlb_context *ctx);

/* ------------------------------------------------------------- result tables */

/* A table with named columns; units go in the names ("time_ms", "gbps", "gflops").
 * Cells are added left to right, row after row. */
typedef struct dlb_table dlb_table;

/* Columns as a NULL-terminated list: dlb_table_new("matmul", "variant", "n", "gflops", NULL).
 * The name becomes <name>.csv in the run directory. */
dlb_table *dlb_table_new(const char *name, ...);
void dlb_table_free(dlb_table *t);
void dlb_table_str(dlb_table *t, const char *s);
void dlb_table_int(dlb_table *t, long long v);
/* A number, printed with %.4g on the terminal and full round-trip precision in CSV. NaN and ±inf are written as
 * nan / inf / -inf. */
void dlb_table_num(dlb_table *t, double v);
/* A number with a chosen terminal format, e.g. "%.3f"; CSV still gets full precision. */
void dlb_table_numf(dlb_table *t, double v, const char *fmt);
int dlb_table_rows(const dlb_table *t);
/* Aligned text to stdout (numbers right-aligned). */
void dlb_table_print(const dlb_table *t);
/* CSV to a path (header row first); written to <path>.tmp then renamed. */
int dlb_table_write_csv(const dlb_table *t, const char *path);

/* --------------------------------------------------------------------- plots */

typedef struct dlb_plot dlb_plot;

/* A line plot saved as <run dir>/<name>.png (with <name>.gp and <name>.dat beside it, so
 * `gnuplot name.gp` redraws it). */
dlb_plot *dlb_plot_new(const char *name, const char *title, const char *xlabel, const char *ylabel);
void dlb_plot_free(dlb_plot *p);
void dlb_plot_log(dlb_plot *p, bool logx, bool logy);
/* One line per series; points with non-finite or (on a log axis) non-positive values are
 * dropped. Data is copied. */
void dlb_plot_series(dlb_plot *p, const char *label, const double *x, const double *y, int n);
/* A horizontal reference line (e.g. the measured FMA peak). */
void dlb_plot_hline(dlb_plot *p, const char *label, double y);
/* Extra gnuplot commands placed before the plot command (e.g. "set key left"). */
void dlb_plot_extra(dlb_plot *p, const char *gnuplot_commands);

/* ------------------------------------------------------------ results of a run */

/* A run's results directory: results/NN-name/ by convention.
 * dlb_run_open creates it (mkdir -p) and checks that it can be written, before any work.
 * Files are written as <file>.tmp and renamed, and run.json — written last by dlb_run_close
 * with "complete": true — says the run finished. */
typedef struct dlb_run dlb_run;

int dlb_run_open(const char *dir, const char *name, dlb_run **out);
const char *dlb_run_dir(const dlb_run *r);
/* A parameter recorded in run.json, e.g. dlb_run_param(r, "seed", "%llu", seed). */
void dlb_run_param(dlb_run *r, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Print the table and write <dir>/<table name>.csv. */
int dlb_run_table(dlb_run *r, const dlb_table *t);
/* A headline number for summary.csv under a stable metric name: ("sgemm_best_gflops_1024",
 * 812.3, "gflops"). Setting the same metric twice keeps the last value. */
void dlb_run_metric(dlb_run *r, const char *metric, double value, const char *unit);
/* One entry of benchmarks.json (Google Benchmark schema): real_time and cpu_time are the
 * median, in time_unit "ns"; counters e.g. {"gflops", v} — up to 8, NULL-name-terminated. */
typedef struct dlb_counter {
    const char *name;
    double value;
} dlb_counter;
void dlb_run_benchmark(dlb_run *r, const char *name, const dlb_result *res, const dlb_counter *counters);
/* Render a plot with gnuplot into the run directory. Without gnuplot: a warning on stderr
 * and 0 (the data and script are still written). */
int dlb_run_plot(dlb_run *r, const dlb_plot *p);
/* Write summary.csv, benchmarks.json and run.json (with context and parameters); free r.
 * Returns -1 if any file could not be written. */
int dlb_run_close(dlb_run *r);
/* Free without writing run.json: the run did not complete. */
void dlb_run_abort(dlb_run *r);

/* -------------------------------------------------------------- lesson CLI */

typedef enum dlb_opt_type { DLB_OPT_FLAG, DLB_OPT_INT, DLB_OPT_DOUBLE, DLB_OPT_STRING } dlb_opt_type;

/* A lesson-specific option. dst points to bool / long / double / const char *.
 * INT and DOUBLE values outside [min, max] are rejected (set min = max = 0 for no range). */
typedef struct dlb_opt {
    const char *name; /* "--sizes" */
    dlb_opt_type type;
    void *dst;
    const char *help;
    double min, max;
} dlb_opt;

/* The options every lesson takes. */
typedef struct dlb_cli {
    bool quick;          /* --quick: well under a minute on 2 cores */
    const char *device;  /* --device cpu|cuda (default "cpu") */
    int threads;         /* --threads N, N >= 1 (default: all online CPUs) */
    uint64_t seed;       /* --seed S (default 42) */
    const char *out;     /* --out DIR (default given by the caller, e.g. "results/01-floating-point") */
} dlb_cli;

/* What every lesson does once its options are parsed: dlb_run_open(cli->out, name), record
 * the common parameters in run.json (quick, seed, threads, and device: `device`, or cli->device
 * when NULL), collect the machine context into *ctx (NULL: a local one) and print it.
 * 0, or -1 with dlb_error() (nothing opened). */
int dlb_run_start(const dlb_cli *cli, const char *name, const char *device, dlb_context *ctx,
                  dlb_run **out);

/* Parse argv. Returns 0 to go on; 1 when --help was printed (exit 0); 2 after printing a
 * one-line error and the usage to stderr (exit 2). `extra` is NULL or ends with {NULL}. */
int dlb_cli_parse(int argc, char **argv, const char *about, const char *default_out,
                  const dlb_opt *extra, dlb_cli *out);
void dlb_cli_usage(const char *prog, const char *about, const dlb_opt *extra, void *stream);

/* ------------------------------------------------------------------ progress */

/* A progress line on stderr when it is a terminal ("\r label  37/100  12.3 it/s  ETA 5s");
 * silent otherwise. */
typedef struct dlb_progress {
    const char *label;
    long total;
    double start, last_print;
    bool tty;
} dlb_progress;
void dlb_progress_start(dlb_progress *p, const char *label, long total);
void dlb_progress_update(dlb_progress *p, long done);
void dlb_progress_end(dlb_progress *p);

/* ------------------------------------------------------------------------ CUDA */

/* Time a function that enqueues GPU work on the default stream, with CUDA events.
 * flush_l2: before each sample, overwrite a buffer the size of L2 so each sample starts cold.
 * Built without CUDA, or with no GPU: returns -1 with a message. */
int dlb_cuda_measure(dlb_fn fn, void *ctx, const dlb_opts *opts, bool flush_l2, dlb_result *out);
/* Name of GPU 0 into buf ("" and -1 if none). */
int dlb_cuda_gpu_name(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
