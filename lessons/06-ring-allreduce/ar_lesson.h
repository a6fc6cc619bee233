/* ar_lesson.h — lesson 6's parts, shared by lesson.c (the program), and
 * tests/test_lesson06.c (which checks the cost model and the launch plumbing).
 *
 * The lesson binary plays two roles. Started by a person (or ./run) it is the *driver*: it
 * parses the CLI, starts `mpirun` for each experiment (every launch under `timeout`, so
 * nothing can hang), reads back what rank 0 wrote and turns it into tables, plots and
 * summary.csv. Started by mpirun with `--worker TASK` it is a *worker*: one MPI rank of
 * that experiment (worker.c, dp.c). The driver never calls MPI itself.
 */
#ifndef AR_LESSON_H
#define AR_LESSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlbench.h"

/* ------------------------------------------------------------------ driver side */

typedef struct ar_config {
    bool quick;
    uint64_t seed;
    int np_max;           /* largest rank count of the benchmark (default 8) */
    long max_bytes;       /* largest message of the benchmark */
    const char *hostfile; /* passed to mpirun as --hostfile (NULL: this machine only) */
    long kill_rank;       /* the rank the fault experiment kills */
    long kill_after_ms;   /* ... this long after the ranks start working */
    long dp_steps;        /* data-parallel training steps */
    int cores;            /* online CPUs here: more ranks than this are oversubscribed */
    char self[4096];      /* this binary, which mpirun starts as the workers */
} ar_config;

/* Start `timeout LIMIT mpirun <flags> -np NP [mca...] SELF --worker ARGS...` and wait.
 * mca: NULL or a NULL-terminated list of "name=value" MCA settings. log: NULL (inherit
 * stdout/stderr) or a file that gets mpirun's stdout and stderr. Returns the exit status
 * (124 when timeout killed it), or -1 if it could not start; *wall_s gets the wall time,
 * *exit_realtime_s the CLOCK_REALTIME of its exit (may be NULL). */
int ar_mpirun(const ar_config *cfg, int np, const char *const *mca, const char *const *args,
              int limit_s, const char *log, double *wall_s, double *exit_realtime_s);
/* The mpirun argument vector (for printing and for tests): fills argv (cap entries, NULL
 * terminated) and returns the count, or -1 if it does not fit. */
int ar_mpirun_argv(const ar_config *cfg, int np, const char *const *mca,
                   const char *const *args, int limit_s, const char **argv, int cap,
                   char *scratch, size_t scratch_len);

/* The parts of the lesson; each prints, records and returns 0, or -1 after saying why. */
int ar_part_correctness(dlb_run *run, const ar_config *cfg, long *wrong_total);
int ar_part_bench(dlb_run *run, const ar_config *cfg, long *wrong_total);
int ar_part_faults(dlb_run *run, const ar_config *cfg);
int ar_part_dp(dlb_run *run, const ar_config *cfg);

/* The rows after the header of a CSV file rank 0 wrote: (*fields)[r·max_cols + c] points
 * into *storage; free both. */
int ar_read_csv(const char *path, char ***fields, int max_cols, int *rows, char **storage);

/* ------------------------------------------------------------------ cost model */

/* The α-β-γ cost of one allreduce of n bytes on p ranks for a named algorithm:
 * t = ka·α + kb·n·β + kg·n·γ (Thakur, Rabenseifner & Gropp 2005; REFERENCES §06).
 * Returns false for a name without a model. "mpi" and "mpi_ring" use the ring's form. */
bool ar_cost_coeffs(const char *algo, int p, double *ka, double *kb, double *kg);
/* Least squares for α and β on measured times t[i] at (p[i], bytes[i]), with γ given
 * (measured by the lesson from a local add), minimizing relative error Σ((model − t)/t)².
 * Returns 0, or -1 when the points do not determine both (fewer than 2, or collinear). */
int ar_fit_alpha_beta(const char *algo, const int *p, const double *bytes, const double *t,
                      int n, double gamma_s_per_byte, double *alpha_s, double *beta_s_per_byte);
/* The model's time from the coefficients. */
double ar_model_time(const char *algo, int p, double bytes, double alpha, double beta,
                     double gamma);
/* nccl-tests' bus bandwidth for allreduce: algbw · 2(p−1)/p. */
double ar_busbw(double bytes, double seconds, int p);

/* The benchmark's sizes in bytes: 8, then 16·4^k up to max_bytes; --quick: 8, 1 KiB·64^k
 * up to max_bytes, and 16 MiB (the target's size). Returns how many (at most cap). */
int ar_bench_sizes(long max_bytes, bool quick, long *out, int cap);

/* ------------------------------------------------------------------ worker side */

/* The MPI rank's entry point: argv after "--worker". Returns the process exit code. */
int ar_worker_main(int argc, char **argv);

#endif
