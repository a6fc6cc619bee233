/* parts.c — the lesson's four experiments, driver side: each starts mpirun (launch.c),
 * reads what rank 0 wrote, prints the table, writes CSVs and plots, records metrics.
 *
 *   (a) correctness: every variant at np = 1..5, exact and within bound, ranks identical
 *   (b) the benchmark in nccl-tests' format, np = 2..8, own variants and Open MPI's
 *       MPI_Allreduce (its default choice, then its ring forced through MCA parameters);
 *       the α-β-γ fit and busbw against size with the model beside it
 *   (c) faults: a rank killed mid-run ends the whole job; nonsense input is refused
 *   (d) data-parallel training: loss against one process, identical weights, scaling
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ar_lesson.h"

#define COLS 16
#define F(rows, r, c) ((rows)[(size_t)(r) * COLS + (c)])

static void path_in(const dlb_run *run, const char *name, char *out, size_t len) {
    snprintf(out, len, "%s/%s", dlb_run_dir(run), name);
}

static const char *oversubscribed(const ar_config *cfg, int np) {
    return np > cfg->cores ? " (oversubscribed: more ranks than cores)" : "";
}

/* ------------------------------------------------------------------ (a) correctness */

int ar_part_correctness(dlb_run *run, const ar_config *cfg, long *wrong_total) {
    const int np_max = cfg->quick ? 3 : 5;
    printf("(a) correctness: every variant, counts 0, 1, 2, 3, p−1, p, p+1, 2p+1, 1000, 4099 and\n"
           "    two that span several ring pieces; in place and out of place; np = 1..%d\n", np_max);
    dlb_table *t = dlb_table_new("correctness", "variant", "np", "cases", "wrong_int", "wrong_float",
                                 "max_err_over_bound", "ranks_identical", NULL);
    const char *names[] = {"naive", "tree", "rdoubling", "rabenseifner", "ring", "mpi"};
    for (int np = 1; np <= np_max; np++) {
        char file[1200], tag[32];
        snprintf(tag, sizeof tag, "check-np%d.csv", np);
        path_in(run, tag, file, sizeof file);
        char seed[32];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)cfg->seed);
        const char *args[] = {"--task", "check", "--out", file, "--seed", seed, NULL};
        printf("  np %d%s\n", np, oversubscribed(cfg, np));
        int rc = ar_mpirun(cfg, np, NULL, args, 120, NULL, NULL, NULL);
        char **rows, *text;
        int n;
        if (ar_read_csv(file, &rows, COLS, &n, &text) != 0) {
            fprintf(stderr, "error: the np %d check wrote no results (mpirun exit %d)\n", np, rc);
            dlb_table_free(t);
            return -1;
        }
        for (int vi = 0; vi < 6; vi++) {
            long cases = 0, wi = 0, wf = 0, same = 1;
            double worst = 0;
            for (int r = 0; r < n; r++) {
                if (strcmp(F(rows, r, 0), names[vi]) != 0) continue;
                cases++;
                wi += atol(F(rows, r, 4)), wf += atol(F(rows, r, 5));
                if (atof(F(rows, r, 6)) > worst) worst = atof(F(rows, r, 6));
                same &= atol(F(rows, r, 7));
            }
            dlb_table_str(t, names[vi]);
            dlb_table_int(t, np);
            dlb_table_int(t, cases);
            dlb_table_int(t, wi);
            dlb_table_int(t, wf);
            dlb_table_numf(t, worst, "%.3f");
            dlb_table_str(t, same ? "yes" : "NO");
            *wrong_total += wi + wf + !same + (cases == 0);
        }
        free(rows), free(text);
        if (rc != 0) {
            fprintf(stderr, "error: the np %d check failed (mpirun exit %d)\n", np, rc);
            *wrong_total += 1;
        }
    }
    int rc = dlb_run_table(run, t);
    dlb_table_free(t);
    printf("  max_err_over_bound: the worst |float result − double sum| as a fraction of\n"
           "  depth·u·Σ|x| (u = 2^-24, depth = additions on the longest chain: p−1 for naive and\n"
           "  ring, ⌈lg p⌉ for the trees); ≤ 1 everywhere means every sum is within its bound.\n\n");
    return rc;
}

/* ------------------------------------------------------------------ (b) benchmark */

typedef struct bench_row {
    char variant[24];
    int np;
    long bytes;
    double oop_us, ip_us;
    long oop_wrong, ip_wrong;
} bench_row;

static int load_bench(const char *file, bench_row **rows, int *n_rows) {
    char **f, *text;
    int n;
    if (ar_read_csv(file, &f, COLS, &n, &text) != 0) return -1;
    bench_row *grown = realloc(*rows, (size_t)(*n_rows + n) * sizeof **rows);
    if (!grown) {
        free(f), free(text);
        return -1;
    }
    *rows = grown;
    for (int r = 0; r < n; r++) {
        bench_row *b = &grown[*n_rows + r];
        snprintf(b->variant, sizeof b->variant, "%s", F(f, r, 0));
        b->np = atoi(F(f, r, 1));
        b->bytes = atol(F(f, r, 2));
        b->oop_us = atof(F(f, r, 4));
        b->oop_wrong = atol(F(f, r, 5));
        b->ip_us = atof(F(f, r, 6));
        b->ip_wrong = atol(F(f, r, 7));
    }
    *n_rows += n;
    free(f), free(text);
    return 0;
}

static const bench_row *find_row(const bench_row *rows, int n, const char *variant, int np, long bytes) {
    for (int i = 0; i < n; i++)
        if (rows[i].np == np && rows[i].bytes == bytes && strcmp(rows[i].variant, variant) == 0)
            return &rows[i];
    return NULL;
}

static volatile float add_sink;
typedef struct add_ctx {
    float *x, *y;
    size_t n;
} add_ctx;
static void add_loop(void *p) {
    add_ctx *c = p;
    for (size_t i = 0; i < c->n; i++) c->y[i] = c->x[i] + c->y[i];
    add_sink = c->y[c->n / 2];
}

/* γ: seconds per byte reduced, from the same y = x + y loop the variants run, on vectors
 * too large for the caches (16 MiB each). */
static double measure_gamma(void) {
    add_ctx c = {.n = (size_t)4 << 20};
    c.x = calloc(c.n, sizeof(float)), c.y = calloc(c.n, sizeof(float));
    if (!c.x || !c.y) {
        free(c.x), free(c.y);
        return 0;
    }
    dlb_result r;
    double gamma = 0;
    if (dlb_measure(add_loop, &c, NULL, &r) == 0) gamma = r.time.median / (c.n * sizeof(float));
    free(c.x), free(c.y);
    return gamma;
}

/* The largest message at np ranks. Oversubscribed ranks share 2 cores, so a full default
 * run caps them (4 ranks at 16 MiB, the target's size; 3 and 8 at 1 MiB) to stay within a
 * few minutes; --max-bytes below the cap wins, and --quick uses its own sizes. */
static long bench_cap(const ar_config *cfg, int np) {
    if (cfg->quick || np <= cfg->cores) return cfg->max_bytes;
    const long cap = np == 4 ? 16L << 20 : 1L << 20;
    return cfg->max_bytes < cap ? cfg->max_bytes : cap;
}

int ar_part_bench(dlb_run *run, const ar_config *cfg, long *wrong_total) {
    int nps[8], n_np = 0;
    const int want[] = {2, 3, 4, 8};
    for (int i = 0; i < 4; i++)
        if (want[i] <= cfg->np_max && (!cfg->quick || want[i] != 3) && (!cfg->quick || want[i] != 8))
            nps[n_np++] = want[i];
    printf("(b) allreduce benchmark, nccl-tests columns; sizes 8 B .. %ld B (×4)%s; np =", cfg->max_bytes,
           cfg->quick ? " and 16 MiB" : "");
    for (int i = 0; i < n_np; i++) printf(" %d", nps[i]);
    printf("\n    this machine has %d cores: more ranks than that share them, and the times show it\n", cfg->cores);
    bench_row *rows = NULL;
    int n_rows = 0;
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)cfg->seed);
    const char *forced_ring[] = {"coll_tuned_use_dynamic_rules=1", "coll_tuned_allreduce_algorithm=4", NULL};
    for (int i = 0; i < n_np; i++) {
        char file[1200], name[64], np_bytes[32];
        const int np = nps[i];
        const long cap = bench_cap(cfg, np);
        snprintf(np_bytes, sizeof np_bytes, "%ld", cap);
        printf("  np %d, up to %ld B%s\n", np, cap, oversubscribed(cfg, np));
        snprintf(name, sizeof name, "bench-np%d.csv", np);
        path_in(run, name, file, sizeof file);
        /* --quick: every variant at np 2, only the two the target compares at np 4 */
        const bool few = cfg->quick && np > 2;
        const char *args[] = {"--task", "bench", "--out", file, "--max-bytes", np_bytes,
                              "--seed", seed, "--variants", few ? "ring,mpi" : "naive,tree,rdoubling,rabenseifner,ring,mpi",
                              cfg->quick ? "--quick" : NULL, NULL};
        int rc = ar_mpirun(cfg, np, NULL, args, 580, NULL, NULL, NULL);
        if (rc != 0 || load_bench(file, &rows, &n_rows) != 0) {
            fprintf(stderr, "error: the np %d benchmark failed (mpirun exit %d)\n", np, rc);
            free(rows);
            return -1;
        }
        /* Open MPI's own ring, forced: a second job, since MCA parameters are per job. */
        if (few) continue;
        snprintf(name, sizeof name, "bench-np%d-mpi-ring.csv", np);
        path_in(run, name, file, sizeof file);
        const char *args_ring[] = {"--task", "bench", "--out", file, "--max-bytes", np_bytes,
                                   "--variants", "mpi", "--label-mpi", "mpi_ring", "--seed", seed,
                                   cfg->quick ? "--quick" : NULL, NULL};
        rc = ar_mpirun(cfg, np, forced_ring, args_ring, 300, NULL, NULL, NULL);
        if (rc != 0 || load_bench(file, &rows, &n_rows) != 0) {
            fprintf(stderr, "error: the np %d forced-ring benchmark failed (mpirun exit %d)\n", np, rc);
            free(rows);
            return -1;
        }
    }

    /* The full table in nccl-tests' columns: allreduce.csv (printed for the ring only). */
    dlb_table *full = dlb_table_new("allreduce", "np", "variant", "size_B", "count", "type", "redop",
                                    "oop_time_us", "oop_algbw_gbps", "oop_busbw_gbps", "oop_wrong",
                                    "ip_time_us", "ip_algbw_gbps", "ip_busbw_gbps", "ip_wrong", NULL);
    dlb_table *ring = dlb_table_new("allreduce_ring", "np", "size_B", "count", "type", "redop",
                                    "oop_time_us", "oop_algbw_gbps", "oop_busbw_gbps", "oop_wrong",
                                    "ip_time_us", "ip_algbw_gbps", "ip_busbw_gbps", "ip_wrong", NULL);
    long wrong = 0;
    for (int i = 0; i < n_rows; i++) {
        const bench_row *b = &rows[i];
        const double oop_s = b->oop_us * 1e-6, ip_s = b->ip_us * 1e-6;
        for (int pass = 0; pass < 2; pass++) {
            dlb_table *t = pass == 0 ? full : ring;
            if (pass == 1 && strcmp(b->variant, "ring") != 0) continue;
            dlb_table_int(t, b->np);
            if (pass == 0) dlb_table_str(t, b->variant);
            dlb_table_int(t, b->bytes);
            dlb_table_int(t, b->bytes / 4);
            dlb_table_str(t, "float");
            dlb_table_str(t, "sum");
            dlb_table_numf(t, b->oop_us, "%.1f");
            dlb_table_numf(t, b->bytes / oop_s / 1e9, "%.2f");
            dlb_table_numf(t, ar_busbw((double)b->bytes, oop_s, b->np), "%.2f");
            dlb_table_int(t, b->oop_wrong);
            dlb_table_numf(t, b->ip_us, "%.1f");
            dlb_table_numf(t, b->bytes / ip_s / 1e9, "%.2f");
            dlb_table_numf(t, ar_busbw((double)b->bytes, ip_s, b->np), "%.2f");
            dlb_table_int(t, b->ip_wrong);
        }
        wrong += b->oop_wrong + b->ip_wrong;
    }
    *wrong_total += wrong;
    char csv[1200];
    path_in(run, "allreduce.csv", csv, sizeof csv);
    int rc = dlb_table_write_csv(full, csv);
    if (rc == 0) rc = dlb_run_table(run, ring);
    dlb_table_free(full), dlb_table_free(ring);

    /* busbw by variant at the sizes where it matters: the pivot a reader compares. */
    const char *variants[] = {"naive", "tree", "rdoubling", "rabenseifner", "ring", "mpi", "mpi_ring"};
    const int n_var = 7;
    dlb_table *pivot = dlb_table_new("busbw_by_variant", "np", "size_B", "naive", "tree", "rdoubling",
                                     "rabenseifner", "ring", "mpi", "mpi_ring", NULL);
    long sizes[32];
    const int n_sizes = ar_bench_sizes(cfg->max_bytes, cfg->quick, sizes, 32);
    for (int i = 0; i < n_np; i++)
        for (int s = 0; s < n_sizes; s++) {
            if (sizes[s] < 1024 && sizes[s] != 8) continue; /* keep the pivot short */
            dlb_table_int(pivot, nps[i]);
            dlb_table_int(pivot, sizes[s]);
            for (int v = 0; v < n_var; v++) {
                const bench_row *b = find_row(rows, n_rows, variants[v], nps[i], sizes[s]);
                dlb_table_numf(pivot, b ? ar_busbw((double)b->bytes, b->oop_us * 1e-6, b->np) : NAN, "%.2f");
            }
        }
    printf("  out-of-place busbw (GB/s) by variant:\n");
    if (rc == 0) rc = dlb_run_table(run, pivot);
    dlb_table_free(pivot);

    /* The targets: own ring against Open MPI's default, 16 MiB, np 2 and 4. */
    const int target_np[] = {2, 4};
    for (int i = 0; i < 2; i++) {
        const bench_row *r = find_row(rows, n_rows, "ring", target_np[i], 16L << 20);
        const bench_row *m = find_row(rows, n_rows, "mpi", target_np[i], 16L << 20);
        const bench_row *mr = find_row(rows, n_rows, "mpi_ring", target_np[i], 16L << 20);
        if (!r || !m) continue;
        char metric[64];
        const double ring_bw = ar_busbw((double)r->bytes, r->oop_us * 1e-6, r->np);
        const double mpi_bw = ar_busbw((double)m->bytes, m->oop_us * 1e-6, m->np);
        snprintf(metric, sizeof metric, "ring_vs_mpi_busbw_16mib_np%d", target_np[i]);
        dlb_run_metric(run, metric, ring_bw / mpi_bw, "ratio");
        snprintf(metric, sizeof metric, "ring_busbw_16mib_np%d", target_np[i]);
        dlb_run_metric(run, metric, ring_bw, "gbps");
        snprintf(metric, sizeof metric, "mpi_busbw_16mib_np%d", target_np[i]);
        dlb_run_metric(run, metric, mpi_bw, "gbps");
        if (mr) {
            snprintf(metric, sizeof metric, "mpi_ring_busbw_16mib_np%d", target_np[i]);
            dlb_run_metric(run, metric, ar_busbw((double)mr->bytes, mr->oop_us * 1e-6, mr->np), "gbps");
        }
        printf("  np %d, 16 MiB: own ring %.2f GB/s, MPI_Allreduce %.2f GB/s: ring/MPI = %.2f (target ≥ 0.9)\n",
               target_np[i], ring_bw, mpi_bw, ring_bw / mpi_bw);
    }

    /* α-β-γ: γ measured here, α and β fitted per variant over every np and size. */
    const double gamma = measure_gamma();
    dlb_table *fit = dlb_table_new("cost_model", "variant", "alpha_us", "beta_gbps", "gamma_gbps",
                                   "points", "rms_rel_err", NULL);
    double alpha[8] = {0}, beta[8] = {0};
    bool fitted[8] = {false};
    for (int v = 0; v < n_var; v++) {
        int *p = malloc((size_t)n_rows * sizeof *p);
        double *bytes = malloc((size_t)n_rows * sizeof *bytes), *t = malloc((size_t)n_rows * sizeof *t);
        int n = 0;
        for (int i = 0; p && bytes && t && i < n_rows; i++)
            if (strcmp(rows[i].variant, variants[v]) == 0)
                p[n] = rows[i].np, bytes[n] = (double)rows[i].bytes, t[n] = rows[i].oop_us * 1e-6, n++;
        if (n > 0 && ar_fit_alpha_beta(variants[v], p, bytes, t, n, gamma, &alpha[v], &beta[v]) == 0) {
            fitted[v] = true;
            double sq = 0;
            for (int i = 0; i < n; i++) {
                const double m = ar_model_time(variants[v], p[i], bytes[i], alpha[v], beta[v], gamma);
                sq += (m - t[i]) * (m - t[i]) / (t[i] * t[i]);
            }
            dlb_table_str(fit, variants[v]);
            dlb_table_numf(fit, alpha[v] * 1e6, "%.2f");
            dlb_table_numf(fit, beta[v] > 0 ? 1e-9 / beta[v] : INFINITY, "%.2f");
            dlb_table_numf(fit, gamma > 0 ? 1e-9 / gamma : INFINITY, "%.2f");
            dlb_table_int(fit, n);
            dlb_table_numf(fit, sqrt(sq / n), "%.2f");
        }
        free(p), free(bytes), free(t);
    }
    printf("  α-β-γ fit (least squares on relative error, every np and size; γ measured from a\n"
           "  local y = x + y loop; mpi and mpi_ring fitted with the ring's form):\n");
    if (rc == 0) rc = dlb_run_table(run, fit);
    dlb_table_free(fit);

    /* busbw against size per variant, measured and model, one plot per np. */
    for (int i = 0; i < n_np && rc == 0; i++) {
        char name[64], title[160];
        snprintf(name, sizeof name, "busbw_np%d", nps[i]);
        snprintf(title, sizeof title, "allreduce busbw, %d ranks%s (lines: measured; dashed: α-β-γ model)",
                 nps[i], nps[i] > cfg->cores ? ", oversubscribed" : "");
        dlb_plot *pl = dlb_plot_new(name, title, "message size (bytes)", "busbw (GB/s)");
        dlb_plot_log(pl, true, true);
        /* one colour per variant; its model line in the same colour, dashed */
        static const char *const colour[] = {"#9400d3", "#009e73", "#56b4e9", "#e69f00", "#d62728", "#000000", "#808080"};
        int series = 0;
        for (int v = 0; v < n_var; v++) {
            double xs[32], ys[32], ms[32];
            int n = 0;
            for (int s = 0; s < n_sizes; s++) {
                const bench_row *b = find_row(rows, n_rows, variants[v], nps[i], sizes[s]);
                if (!b) continue;
                xs[n] = (double)sizes[s];
                ys[n] = ar_busbw((double)sizes[s], b->oop_us * 1e-6, nps[i]);
                ms[n] = fitted[v] ? ar_busbw((double)sizes[s],
                                             ar_model_time(variants[v], nps[i], (double)sizes[s],
                                                           alpha[v], beta[v], gamma), nps[i]) : NAN;
                n++;
            }
            if (n == 0) continue;
            char style[160], label[48];
            dlb_plot_series(pl, variants[v], xs, ys, n);
            snprintf(style, sizeof style, "set linetype %d lc rgb '%s' dashtype 1\n", ++series, colour[v]);
            dlb_plot_extra(pl, style);
            snprintf(label, sizeof label, "%s (model)", variants[v]);
            if (fitted[v] && strcmp(variants[v], "mpi") != 0) {
                dlb_plot_series(pl, label, xs, ms, n);
                snprintf(style, sizeof style, "set linetype %d lc rgb '%s' dashtype 2\n", ++series, colour[v]);
                dlb_plot_extra(pl, style);
            }
        }
        rc = dlb_run_plot(run, pl);
        dlb_plot_free(pl);
    }
    printf("\n");
    free(rows);
    return rc;
}

/* ------------------------------------------------------------------ (c) faults */

int ar_part_faults(dlb_run *run, const ar_config *cfg) {
    const int np = cfg->quick ? 2 : 4;
    printf("(c) faults: rank %ld of %d is killed (SIGKILL) %ld ms into a long ring benchmark%s\n",
           cfg->kill_rank, np, cfg->kill_after_ms, oversubscribed(cfg, np));
    if (cfg->kill_rank >= np) {
        fprintf(stderr, "error: --kill-rank %ld: the fault run has only %d ranks (0..%d)\n", cfg->kill_rank, np, np - 1);
        return -1;
    }
    char stamp[1200], log[1200], kill_rank[32], kill_ms[32];
    path_in(run, "fault-kill.stamp", stamp, sizeof stamp);
    path_in(run, "fault-kill.log", log, sizeof log);
    remove(stamp);
    snprintf(kill_rank, sizeof kill_rank, "%ld", cfg->kill_rank);
    snprintf(kill_ms, sizeof kill_ms, "%ld", cfg->kill_after_ms);
    const char *args[] = {"--task", "bench", "--variants", "ring", "--max-bytes", "16777216",
                          "--repeat", "100000", "--kill-rank", kill_rank, "--kill-after-ms", kill_ms,
                          "--kill-stamp", stamp, "--quick", NULL};
    const int limit_s = 60;
    double wall_s, exit_rt;
    int rc = ar_mpirun(cfg, np, NULL, args, limit_s, log, &wall_s, &exit_rt);
    FILE *f = fopen(stamp, "rb");
    struct timespec ts;
    const bool stamped = f && fread(&ts, sizeof ts, 1, f) == 1;
    if (f) fclose(f);
    remove(stamp);
    if (wall_s >= limit_s - 0.5) { /* timeout's doing (its 124 or 137), not mpirun's */
        fprintf(stderr, "error: the job with a killed rank did not end by itself within %d s\n", limit_s);
        return -1;
    }
    if (rc == 0 || !stamped) {
        fprintf(stderr, "error: the fault run exited %d without the rank being killed (stamp %s)\n", rc,
                stamped ? "written" : "missing");
        return -1;
    }
    const double exit_s = exit_rt - (ts.tv_sec + ts.tv_nsec * 1e-9);
    /* mpirun's own explanation, the line a user would read */
    char line[512] = "", first[512] = "";
    FILE *lf = fopen(log, "r");
    while (lf && fgets(line, sizeof line, lf)) {
        if (!first[0] && strstr(line, "noticed")) snprintf(first, sizeof first, "%s", line);
    }
    if (lf) fclose(lf);
    first[strcspn(first, "\n")] = 0;
    printf("  mpirun exit %d after %.2f s in all; from the kill to the job's exit: %.3f s\n", rc, wall_s, exit_s);
    printf("  mpirun said: %s\n", first[0] ? first : "(see fault-kill.log)");
    dlb_run_metric(run, "rank_failure_exit_s", exit_s, "s");

    /* nonsense: a global batch smaller than the rank count must be refused by every rank */
    path_in(run, "fault-batch.log", log, sizeof log);
    const char *bad[] = {"--task", "dp", "--batch", "1", "--steps", "1", NULL};
    rc = ar_mpirun(cfg, 2, NULL, bad, 60, log, &wall_s, NULL);
    line[0] = first[0] = 0;
    lf = fopen(log, "r");
    while (lf && fgets(line, sizeof line, lf))
        if (!first[0] && strstr(line, "worker:")) snprintf(first, sizeof first, "%s", line);
    if (lf) fclose(lf);
    first[strcspn(first, "\n")] = 0;
    printf("  a global batch of 1 on 2 ranks: exit %d after %.2f s: %s\n\n", rc, wall_s, first);
    if (rc == 0) {
        fprintf(stderr, "error: a nonsense batch was accepted\n");
        return -1;
    }
    dlb_run_metric(run, "nonsense_batch_exit_s", wall_s, "s");
    return 0;
}

/* ------------------------------------------------------------------ (d) data parallel */

int ar_part_dp(dlb_run *run, const ar_config *cfg) {
    const int np_max = cfg->quick ? 2 : 4;
    const int batch = 120;
    printf("(d) data-parallel SGD of the MLP (LeNet-300-100, Fashion-MNIST), global batch %d,\n"
           "    %ld steps, one thread per rank, gradients averaged by an allreduce in 1 MiB buckets\n",
           batch, cfg->dp_steps);
    typedef struct dp_run {
        int np;
        const char *algo;
        double *loss, step_ms, comm_ms;
        long identical, steps;
    } dp_run;
    dp_run runs[8];
    int n_runs = 0;
    char steps[32], batch_s[32], seed[32];
    snprintf(steps, sizeof steps, "%ld", cfg->dp_steps);
    snprintf(batch_s, sizeof batch_s, "%d", batch);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)cfg->seed);
    for (int np = 1; np <= np_max; np++)
        for (int a = 0; a < 3; a++) {
            const char *algo = a == 0 ? "ring" : a == 1 ? "mpi" : "mpi_overlap";
            if (a >= 1 && np != 2) continue;
            char file[1200], name[64];
            snprintf(name, sizeof name, "dp-np%d-%s.csv", np, algo);
            path_in(run, name, file, sizeof file);
            const char *args[] = {"--task", "dp", "--algo", algo, "--steps", steps, "--batch", batch_s,
                                  "--seed", seed, "--out", file, NULL};
            printf("  np %d, %s%s\n", np, algo, oversubscribed(cfg, np));
            int rc = ar_mpirun(cfg, np, NULL, args, 300, NULL, NULL, NULL);
            char **f, *text;
            int n;
            if (ar_read_csv(file, &f, COLS, &n, &text) != 0 || n == 0) {
                fprintf(stderr, "error: data-parallel run np %d %s failed (mpirun exit %d)\n", np, algo, rc);
                for (int i = 0; i < n_runs; i++) free(runs[i].loss);
                return -1;
            }
            dp_run *r = &runs[n_runs++];
            *r = (dp_run){.np = np, .algo = algo, .steps = n, .loss = malloc((size_t)n * sizeof(double))};
            double *st = malloc((size_t)n * sizeof(double)), *ct = malloc((size_t)n * sizeof(double));
            for (int i = 0; i < n; i++) {
                r->loss[i] = atof(F(f, i, 1));
                st[i] = atof(F(f, i, 2)), ct[i] = atof(F(f, i, 3));
                r->identical += atol(F(f, i, 4));
            }
            dlb_stats s;
            /* the median skips the first steps' page faults and cache warm-up */
            dlb_stats_compute(st, n, &s), r->step_ms = s.median;
            dlb_stats_compute(ct, n, &s), r->comm_ms = s.median;
            free(st), free(ct), free(f), free(text);
            if (rc != 0) {
                fprintf(stderr, "error: data-parallel run np %d %s exited %d (weights differed across ranks?)\n", np, algo, rc);
                for (int i = 0; i < n_runs; i++) free(runs[i].loss);
                return -1;
            }
        }
    dlb_table *t = dlb_table_new("data_parallel", "np", "allreduce", "step_ms", "comm_ms", "speedup",
                                 "efficiency", "steps_identical", "final_loss", "max_abs_loss_diff_vs_np1",
                                 "first_step_diff_over_1e-5", NULL);
    const dp_run *one = &runs[0];
    for (int i = 0; i < n_runs; i++) {
        const dp_run *r = &runs[i];
        double diff = 0;
        long first_apart = -1; /* where rounding differences have grown past 1e-5 */
        for (long s = 0; s < r->steps && s < one->steps; s++) {
            if (fabs(r->loss[s] - one->loss[s]) > diff) diff = fabs(r->loss[s] - one->loss[s]);
            if (first_apart < 0 && fabs(r->loss[s] - one->loss[s]) > 1e-5) first_apart = s;
        }
        dlb_table_int(t, r->np);
        dlb_table_str(t, r->algo);
        dlb_table_numf(t, r->step_ms, "%.2f");
        dlb_table_numf(t, r->comm_ms, "%.2f");
        dlb_table_numf(t, one->step_ms / r->step_ms, "%.2f");
        dlb_table_numf(t, one->step_ms / r->step_ms / r->np, "%.2f");
        char ident[32];
        snprintf(ident, sizeof ident, "%ld/%ld", r->identical, r->steps);
        dlb_table_str(t, ident);
        dlb_table_numf(t, r->loss[r->steps - 1], "%.4f");
        dlb_table_numf(t, diff, "%.2e");
        dlb_table_int(t, first_apart);
        if (r->np == 2 && strcmp(r->algo, "ring") == 0) dlb_run_metric(run, "dp_loss_max_abs_diff", diff, "loss");
        if (r->np == 2 && strcmp(r->algo, "ring") == 0) dlb_run_metric(run, "dp_efficiency_np2", one->step_ms / r->step_ms / 2, "ratio");
        if (r->np == 2 && strcmp(r->algo, "mpi_overlap") == 0) {
            const dp_run *blocking = NULL; /* the same MPI reduction without the overlap */
            for (int j = 0; j < n_runs; j++)
                if (runs[j].np == 2 && strcmp(runs[j].algo, "mpi") == 0) blocking = &runs[j];
            if (blocking) {
                dlb_run_metric(run, "dp_overlap_step_speedup_np2", blocking->step_ms / r->step_ms, "x");
                dlb_run_metric(run, "dp_overlap_exposed_comm_ms_np2", r->comm_ms, "ms");
                dlb_run_metric(run, "dp_blocking_comm_ms_np2", blocking->comm_ms, "ms");
            }
        }
        if (r->np == np_max && strcmp(r->algo, "ring") == 0 && np_max > 2)
            dlb_run_metric(run, "dp_efficiency_np4", one->step_ms / r->step_ms / r->np, "ratio");
    }
    int rc = dlb_run_table(run, t);
    dlb_table_free(t);
    dlb_plot *pl = dlb_plot_new("dp_loss", "training loss: data-parallel against one process", "step", "loss");
    for (int i = 0; i < n_runs; i++) {
        double *xs = malloc((size_t)runs[i].steps * sizeof(double));
        for (long s = 0; xs && s < runs[i].steps; s++) xs[s] = (double)s;
        char label[48];
        snprintf(label, sizeof label, "np %d, %s", runs[i].np, runs[i].algo);
        if (xs) dlb_plot_series(pl, label, xs, runs[i].loss, (int)runs[i].steps);
        free(xs);
    }
    if (rc == 0) rc = dlb_run_plot(run, pl);
    dlb_plot_free(pl);
    printf("  the same global batch and the same update on every rank: the loss differs from one\n"
           "  process only by float rounding (sums in another order: the shards' matmuls and the\n"
           "  allreduce), which SGD can amplify over hundreds of steps once a ReLU flips (first\n"
           "  step past 1e-5: -1 = never); every rank's weights hash the same at every step. Speedup is strong scaling at a fixed global batch;\n"
           "  with more ranks than the %d cores it cannot scale.\n\n", cfg->cores);
    for (int i = 0; i < n_runs; i++) free(runs[i].loss);
    return rc;
}
