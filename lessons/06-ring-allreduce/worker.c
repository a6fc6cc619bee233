/* worker.c — what one MPI rank does when mpirun starts the lesson binary with --worker.
 *
 *   --task check   every variant on awkward counts (0, 1, p−1, p, p+1, several ring pieces),
 *                  in place and out of place: small-integer inputs must come out exact,
 *                  random floats within the variant's error bound of a double sum, and every
 *                  rank must hold bitwise the same result.
 *   --task bench   nccl-tests style timing over sizes: out-of-place and in-place time,
 *                  algbw, busbw, #wrong (each size re-checked with small integers after
 *                  timing). With --kill-rank R --kill-after-ms T, rank R kills itself
 *                  (SIGKILL) T ms in, after writing the time to --kill-stamp.
 *   --task dp      data-parallel training (dp.c).
 *
 * Rank 0 writes the rows to --out as CSV; the driver (lesson.c) reads them. Every rank
 * checks its MPI calls (errors return instead of aborting) and ends the job with MPI_Abort
 * on any failure, so a broken rank never leaves the others waiting.
 * Leaves out: timing with the harness's dlb_measure — its calibration would let ranks choose
 * different iteration counts and deadlock; here rank-agreed counts and the slowest rank's
 * time (MPI_MAX) are used, as nccl-tests does.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "ar_lesson.h"
#include "dlab/collective.h"
#include "dlab/dlab.h"
#include "worker.h"

/* ------------------------------------------------------------------ arguments */

static int parse_long(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) return -1;
    *out = v;
    return 0;
}

int ar_worker_args(int argc, char **argv, ar_worker *w) {
    memset(w, 0, sizeof *w);
    w->task = "";
    w->max_bytes = 1L << 20;
    w->seed = 42;
    w->kill_rank = -1;
    w->steps = 50;
    w->batch = 64;
    w->bucket_kib = 1024;
    w->algo = "ring";
    w->repeat = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        if (strcmp(a, "--quick") == 0) { w->quick = true; continue; }
        if (!v) { fprintf(stderr, "worker: %s needs a value\n", a); return -1; }
        i++;
        if (strcmp(a, "--task") == 0) w->task = v;
        else if (strcmp(a, "--out") == 0) w->out = v;
        else if (strcmp(a, "--variants") == 0) w->variants = v;
        else if (strcmp(a, "--label-mpi") == 0) w->label_mpi = v;
        else if (strcmp(a, "--kill-stamp") == 0) w->kill_stamp = v;
        else if (strcmp(a, "--algo") == 0) w->algo = v;
        else if (parse_long(v, &n) != 0) { fprintf(stderr, "worker: %s %s: not a number\n", a, v); return -1; }
        else if (strcmp(a, "--max-bytes") == 0) w->max_bytes = n;
        else if (strcmp(a, "--seed") == 0) w->seed = (uint64_t)n;
        else if (strcmp(a, "--kill-rank") == 0) w->kill_rank = n;
        else if (strcmp(a, "--kill-after-ms") == 0) w->kill_after_ms = n;
        else if (strcmp(a, "--steps") == 0) w->steps = n;
        else if (strcmp(a, "--batch") == 0) w->batch = n;
        else if (strcmp(a, "--bucket-kib") == 0) w->bucket_kib = n;
        else if (strcmp(a, "--repeat") == 0) w->repeat = n;
        else { fprintf(stderr, "worker: unknown option %s\n", a); return -1; }
    }
    return 0;
}

/* Is variant `name` in the comma-separated list (NULL: all)? */
bool ar_worker_wants(const ar_worker *w, const char *name) {
    if (!w->variants) return true;
    const size_t len = strlen(name);
    for (const char *s = w->variants; *s;) {
        const char *comma = strchr(s, ',');
        const size_t n = comma ? (size_t)(comma - s) : strlen(s);
        if (n == len && strncmp(s, name, n) == 0) return true;
        s += n + (comma ? 1 : 0);
    }
    return false;
}

const char *ar_worker_label(const ar_worker *w, const dl_allreduce_variant *v) {
    return strcmp(v->name, "mpi") == 0 && w->label_mpi ? w->label_mpi : v->name;
}

void ar_worker_fail(const char *what) {
    int rank = -1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    fprintf(stderr, "rank %d: %s: %s\n", rank, what, dl_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* ------------------------------------------------------------------ inputs */

/* Small integers in [-8, 8]: every partial sum of up to 2^20 ranks is exact in float, so
 * any order gives the same bits. */
static float small_int(size_t i, int rank) {
    return (float)((int)((i * 7 + (size_t)rank * 13 + 3) % 17) - 8);
}

static void fill_small_ints(float *x, size_t n, int rank) {
    for (size_t i = 0; i < n; i++) x[i] = small_int(i, rank);
}

static long count_wrong_small_ints(const float *x, size_t n, int ranks) {
    long wrong = 0;
    for (size_t i = 0; i < n; i++) {
        float want = 0;
        for (int r = 0; r < ranks; r++) want += small_int(i, r);
        wrong += x[i] != want;
    }
    return wrong;
}

static uint64_t hash_bits(const float *x, size_t n) {
    uint64_t h = 1469598103934665603ull;
    const unsigned char *b = (const unsigned char *)x;
    for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

bool ar_identical_across_ranks(const float *x, size_t n, MPI_Comm comm) {
    const uint64_t h = hash_bits(x, n);
    uint64_t lo, hi;
    MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, comm);
    MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, comm);
    return lo == hi;
}

/* ------------------------------------------------------------------ check */

static int task_check(const ar_worker *w, int rank, int ranks) {
    const size_t piece = DL_RING_PIECE_ELEMENTS, p = (size_t)ranks;
    const size_t counts[] = {0, 1, 2, 3, p - 1, p, p + 1, 2 * p + 1, 1000, 4099,
                             piece * p + 7, (3 * piece * p) / 2 + 1};
    const int n_counts = (int)(sizeof counts / sizeof counts[0]);
    const size_t max_count = counts[n_counts - 1];
    float *send = malloc(max_count * sizeof(float)), *recv = malloc(max_count * sizeof(float));
    float *other = malloc(max_count * sizeof(float));
    double *exact = malloc(max_count * sizeof(double)), *abs_sum = malloc(max_count * sizeof(double));
    if (!send || !recv || !other || !exact || !abs_sum) {
        fprintf(stderr, "rank %d: out of memory\n", rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    FILE *out = NULL;
    if (rank == 0 && w->out && !(out = fopen(w->out, "w"))) {
        fprintf(stderr, "rank 0: cannot write %s: %s\n", w->out, strerror(errno));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (out) fprintf(out, "variant,ranks,count,inplace,wrong_int,wrong_float,max_err_over_bound,identical\n");
    int n_variants;
    const dl_allreduce_variant *vs = dl_allreduce_variants(&n_variants);
    long failures = 0;
    for (int vi = 0; vi < n_variants; vi++) {
        const dl_allreduce_variant *v = &vs[vi];
        if (!ar_worker_wants(w, v->name)) continue;
        const int depth = v->depth(ranks);
        const double u = ldexp(1.0, -24), gamma_k = depth * u / (1 - depth * u);
        for (int ci = 0; ci < n_counts; ci++) {
            const size_t n = counts[ci];
            for (int inplace = 0; inplace <= 1; inplace++) {
                /* exact: small integers */
                fill_small_ints(send, n, rank);
                float *dst = inplace ? send : recv;
                if (v->run(send, dst, n, MPI_COMM_WORLD) != DL_OK) ar_worker_fail(v->name);
                long wrong = count_wrong_small_ints(dst, n, ranks);
                if (!inplace) /* out of place must leave the input alone */
                    for (size_t i = 0; i < n; i++) wrong += send[i] != small_int(i, rank);
                bool same = ar_identical_across_ranks(dst, n, MPI_COMM_WORLD);
                /* random floats against a double sum of every rank's inputs */
                dl_rng rng;
                dl_rng_seed_stream(&rng, w->seed, (uint64_t)rank);
                dl_rng_fill_uniform(&rng, send, n, -1.0f, 1.0f);
                memset(exact, 0, n * sizeof(double));
                memset(abs_sum, 0, n * sizeof(double));
                for (int r = 0; r < ranks; r++) {
                    dl_rng_seed_stream(&rng, w->seed, (uint64_t)r);
                    dl_rng_fill_uniform(&rng, other, n, -1.0f, 1.0f);
                    for (size_t i = 0; i < n; i++) exact[i] += other[i], abs_sum[i] += fabs(other[i]);
                }
                if (v->run(send, dst, n, MPI_COMM_WORLD) != DL_OK) ar_worker_fail(v->name);
                long wrong_float = 0;
                double worst = 0;
                for (size_t i = 0; i < n; i++) {
                    /* Higham's bound for a sum whose longest chain has `depth` additions;
                     * the 2^-60 absorbs the double reference's own rounding. */
                    const double bound = gamma_k * abs_sum[i] + ldexp(abs_sum[i], -50);
                    const double err = fabs((double)dst[i] - exact[i]);
                    if (bound > 0 && err / bound > worst) worst = err / bound;
                    if (err > bound) wrong_float++;
                }
                same = ar_identical_across_ranks(dst, n, MPI_COMM_WORLD) && same;
                long local[2] = {wrong, wrong_float}, total[2];
                double worst_all;
                MPI_Reduce(local, total, 2, MPI_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
                MPI_Reduce(&worst, &worst_all, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
                if (rank == 0) {
                    failures += total[0] + total[1] + !same;
                    if (out)
                        fprintf(out, "%s,%d,%zu,%d,%ld,%ld,%.4f,%d\n", ar_worker_label(w, v),
                                ranks, n, inplace, total[0], total[1], worst_all, same ? 1 : 0);
                }
            }
        }
    }
    if (out && fclose(out) != 0) {
        fprintf(stderr, "rank 0: writing %s failed\n", w->out);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (rank == 0)
        printf("  np %d: %s\n", ranks, failures ? "WRONG results (see the table)" : "every variant exact / within bound, ranks identical");
    free(send), free(recv), free(other), free(exact), free(abs_sum);
    MPI_Bcast(&failures, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    return failures ? 3 : 0;
}

/* ------------------------------------------------------------------ bench */

static int kill_fd = -1;

/* SIGALRM: record the time, then die the hard way (no MPI_Finalize, no atexit). Only
 * async-signal-safe calls: clock_gettime, write, raise. */
static void kill_now(int sig) {
    (void)sig;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (kill_fd >= 0) {
        ssize_t ignored = write(kill_fd, &ts, sizeof ts);
        (void)ignored;
        close(kill_fd);
    }
    raise(SIGKILL);
}

static void arm_kill(const ar_worker *w, int rank) {
    if (w->kill_rank != rank) return;
    if (w->kill_stamp) kill_fd = open(w->kill_stamp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    signal(SIGALRM, kill_now);
    struct itimerval it = {.it_value = {.tv_sec = w->kill_after_ms / 1000,
                                        .tv_usec = (w->kill_after_ms % 1000) * 1000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

typedef struct timed {
    double seconds;
    long wrong;
} timed;

/* One mode (in place or not) of one variant at one size: rank-agreed iteration counts, the
 * slowest rank's time per call, median of the samples; then one checked call. */
static timed time_one(const ar_worker *w, const dl_allreduce_variant *v, float *send,
                      float *recv, size_t n, bool inplace, int rank, int ranks) {
    float *dst = inplace ? send : recv;
    fill_small_ints(send, n, rank);
    const double target_s = w->quick ? 0.002 : 0.01;
    const int samples = w->quick ? 3 : 5;
    double t = 0, t_all;
    MPI_Barrier(MPI_COMM_WORLD);
    t = MPI_Wtime();
    if (v->run(send, dst, n, MPI_COMM_WORLD) != DL_OK) ar_worker_fail(v->name);
    t = MPI_Wtime() - t;
    MPI_Allreduce(&t, &t_all, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    long iters = t_all > 0 ? (long)(target_s / t_all) : 1000;
    if (iters < 1) iters = 1;
    if (iters > 1000) iters = 1000;
    double sample[16];
    for (int s = 0; s < samples; s++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (long i = 0; i < iters; i++)
            if (v->run(send, dst, n, MPI_COMM_WORLD) != DL_OK) ar_worker_fail(v->name);
        double per_call = (MPI_Wtime() - t0) / iters;
        MPI_Allreduce(&per_call, &sample[s], 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    }
    /* median of a handful: insertion sort */
    for (int i = 1; i < samples; i++)
        for (int j = i; j > 0 && sample[j] < sample[j - 1]; j--) {
            double tmp = sample[j];
            sample[j] = sample[j - 1], sample[j - 1] = tmp;
        }
    timed r = {.seconds = sample[samples / 2]};
    fill_small_ints(send, n, rank); /* in place, the timed calls multiplied it by p^k */
    if (v->run(send, dst, n, MPI_COMM_WORLD) != DL_OK) ar_worker_fail(v->name);
    long wrong = count_wrong_small_ints(dst, n, ranks);
    MPI_Allreduce(&wrong, &r.wrong, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    return r;
}

int ar_bench_sizes(long max_bytes, bool quick, long *out, int cap) {
    int n = 0;
    out[n++] = 8;
    /* --quick: every fourth size (×256), enough to see latency turn into bandwidth */
    for (long b = quick ? 1024 : 16; b <= max_bytes && n < cap; b *= quick ? 64 : 4) out[n++] = b;
    if (quick && max_bytes < (16L << 20) && n < cap) out[n++] = 16L << 20;
    return n;
}

static int task_bench(const ar_worker *w, int rank, int ranks) {
    long sizes[32];
    const int n_sizes = ar_bench_sizes(w->max_bytes, w->quick, sizes, 32);
    const size_t max_count = (size_t)sizes[n_sizes - 1] / sizeof(float);
    float *send = malloc(max_count * sizeof(float)), *recv = malloc(max_count * sizeof(float));
    if (!send || !recv) {
        fprintf(stderr, "rank %d: out of memory for %zu floats\n", rank, max_count);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    memset(send, 0, max_count * sizeof(float)), memset(recv, 0, max_count * sizeof(float));
    FILE *out = NULL;
    if (rank == 0 && w->out && !(out = fopen(w->out, "w"))) {
        fprintf(stderr, "rank 0: cannot write %s: %s\n", w->out, strerror(errno));
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (out) fprintf(out, "variant,ranks,bytes,count,oop_time_us,oop_wrong,ip_time_us,ip_wrong\n");
    arm_kill(w, rank);
    int n_variants;
    const dl_allreduce_variant *vs = dl_allreduce_variants(&n_variants);
    for (long rep = 0; rep < w->repeat; rep++)
        for (int vi = 0; vi < n_variants; vi++) {
            const dl_allreduce_variant *v = &vs[vi];
            if (!ar_worker_wants(w, v->name)) continue;
            const double start = MPI_Wtime();
            for (int si = 0; si < n_sizes; si++) {
                const size_t n = (size_t)sizes[si] / sizeof(float);
                timed oop = time_one(w, v, send, recv, n, false, rank, ranks);
                timed ip = time_one(w, v, send, recv, n, true, rank, ranks);
                if (out)
                    fprintf(out, "%s,%d,%ld,%zu,%.3f,%ld,%.3f,%ld\n", ar_worker_label(w, v), ranks,
                            sizes[si], n, oop.seconds * 1e6, oop.wrong, ip.seconds * 1e6, ip.wrong);
            }
            if (rank == 0 && w->repeat == 1)
                printf("  np %d %-12s %2d sizes, 8 B .. %ld B, %.1f s\n", ranks, ar_worker_label(w, v),
                       n_sizes, sizes[n_sizes - 1], MPI_Wtime() - start);
            fflush(stdout);
        }
    if (out && fclose(out) != 0) {
        fprintf(stderr, "rank 0: writing %s failed\n", w->out);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    free(send), free(recv);
    return 0;
}

/* ------------------------------------------------------------------ entry */

int ar_worker_main(int argc, char **argv) {
    ar_worker w;
    if (ar_worker_args(argc, argv, &w) != 0) return 2;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        fprintf(stderr, "worker: MPI_Init failed\n");
        return 1;
    }
    /* Errors come back as codes (checked everywhere) instead of aborting inside MPI. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank, ranks;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    dl_threads_set(1); /* one thread per rank: the ranks are the parallelism */
    int rc;
    if (strcmp(w.task, "check") == 0) rc = task_check(&w, rank, ranks);
    else if (strcmp(w.task, "bench") == 0) rc = task_bench(&w, rank, ranks);
    else if (strcmp(w.task, "dp") == 0) rc = ar_task_dp(&w, rank, ranks);
    else {
        if (rank == 0) fprintf(stderr, "worker: unknown --task '%s'\n", w.task);
        rc = 2;
    }
    MPI_Finalize();
    return rc;
}
