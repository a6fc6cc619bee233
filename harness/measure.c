/* measure.c — the one timer: warm-up, calibration, samples, and interleaved A/B comparison.
 *
 * How a measurement runs (dlb_measure):
 *   1. warm-up: call fn until warmup_s has passed (caches, page faults, clock ramp-up);
 *   2. calibrate: double the calls per sample until one sample lasts >= min_sample_s, so a
 *      sample is ~1000 clock steps or more and clock resolution is noise-free;
 *   3. sample: time that many calls per sample, until max_samples, or until min_samples are
 *      in and max_time_s has passed. Each sample records seconds per call.
 * dlb_compare does the same for two functions with samples alternating a, b, a, b at the
 * same calls per sample, so slow drift (thermal, frequency, a neighbour's load) lands on
 * both alike and the per-pair ratio is steadier than either time.
 * Left out: CPU-time (as opposed to wall-time) clocks, and outlier rejection — the median
 * and MAD already ignore outliers without throwing data away. */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dlb_internal.h"

double dlb_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double clock_resolution_s;
static pthread_once_t clock_resolution_once = PTHREAD_ONCE_INIT;

/* The smallest nonzero step seen between consecutive readings (over a few hundred tries),
 * which includes the cost of reading the clock — what matters for timing. */
static void measure_clock_resolution(void) {
    double best = 1.0;
    for (int i = 0; i < 200; i++) {
        double t0 = dlb_now(), t1;
        while ((t1 = dlb_now()) == t0) {
        }
        if (t1 - t0 < best) best = t1 - t0;
    }
    clock_resolution_s = best;
}

double dlb_clock_resolution(void) {
    pthread_once(&clock_resolution_once, measure_clock_resolution);
    return clock_resolution_s;
}

static bool quick_from_cli;
void dlbi_set_quick(bool quick) { quick_from_cli = quick; }

dlb_opts dlb_opts_default(void) {
    double min_sample_s = 1000 * dlb_clock_resolution();
    dlb_opts o = {.warmup_s = 0.05, .min_sample_s = min_sample_s > 1e-3 ? min_sample_s : 1e-3,
                  .min_samples = 10, .max_samples = 50, .max_time_s = 1.0};
    const char *env = getenv("DLB_QUICK");
    if (quick_from_cli || (env && *env && strcmp(env, "0") != 0)) {
        o.warmup_s = 0.01;
        o.min_sample_s = min_sample_s > 5e-4 ? min_sample_s : 5e-4;
        o.min_samples = 5;
        o.max_samples = 10;
        o.max_time_s = 0.2;
    }
    return o;
}

static int check_opts(const dlb_opts *o) {
    if (!(o->warmup_s >= 0) || !(o->min_sample_s >= 0) || !(o->max_time_s >= 0) || !(o->settle_s >= 0) ||
        o->settle_s > 10)
        return dlbi_fail("dlb_opts: times must be >= 0 and settle_s <= 10 (warmup %g s, min_sample %g s, "
                         "max_time %g s, settle %g s)",
                         o->warmup_s, o->min_sample_s, o->max_time_s, o->settle_s);
    if (o->min_samples < 1 || o->max_samples < o->min_samples)
        return dlbi_fail("dlb_opts: need 1 <= min_samples <= max_samples (got %d, %d)",
                         o->min_samples, o->max_samples);
    return 0;
}

/* Seconds for `iters` back-to-back calls. fn is called through a pointer, so the compiler
 * cannot drop or merge the calls. */
static double time_calls(dlb_fn fn, void *ctx, long iters) {
    double t0 = dlb_now();
    for (long i = 0; i < iters; i++) fn(ctx);
    return dlb_now() - t0;
}

/* Let other threads' spin-waits run out before a sample (see dlb_opts.settle_s), then make
 * one untimed call: after a sleep, the first call pays for waking its own thread pool and the
 * idle cores, which is not what the sample should measure. */
static void settle(dlb_fn fn, void *ctx, double seconds) {
    if (seconds <= 0) return;
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    fn(ctx);
}

static void warm_up(dlb_fn fn, void *ctx, double warmup_s) {
    double t0 = dlb_now();
    do fn(ctx);
    while (dlb_now() - t0 < warmup_s);
}

/* Calls per sample: doubled until one sample lasts min_sample_s. */
static long calibrate(dlb_fn fn, void *ctx, double min_sample_s) {
    long iters = 1;
    while (time_calls(fn, ctx, iters) < min_sample_s && iters < LONG_MAX / 4) iters *= 2;
    return iters;
}

static int finish(const double *sample_s, int n, long iters, dlb_result *out) {
    out->iters_per_sample = iters;
    out->total_iters = iters * n;
    return dlb_stats_compute(sample_s, n, &out->time);
}

int dlb_measure(dlb_fn fn, void *ctx, const dlb_opts *opts, dlb_result *out) {
    memset(out, 0, sizeof *out);
    dlb_opts o = opts ? *opts : dlb_opts_default();
    if (!fn) return dlbi_fail("dlb_measure: fn is NULL");
    if (check_opts(&o) != 0) return -1;
    double *sample_s = malloc((size_t)o.max_samples * sizeof *sample_s);
    if (!sample_s) return dlbi_fail("dlb_measure: out of memory for %d samples", o.max_samples);

    warm_up(fn, ctx, o.warmup_s);
    long iters = calibrate(fn, ctx, o.min_sample_s);
    int n = 0;
    double start = dlb_now();
    double slept = 0;
    while (n < o.max_samples && (n < o.min_samples || dlb_now() - start - slept < o.max_time_s)) {
        settle(fn, ctx, o.settle_s);
        slept += o.settle_s;
        sample_s[n] = time_calls(fn, ctx, iters) / (double)iters;
        n++;
    }
    int rc = finish(sample_s, n, iters, out);
    free(sample_s);
    return rc;
}

int dlb_compare(dlb_fn a, void *actx, dlb_fn b, void *bctx, const dlb_opts *opts, dlb_ab *out) {
    memset(out, 0, sizeof *out);
    dlb_opts o = opts ? *opts : dlb_opts_default();
    if (!a || !b) return dlbi_fail("dlb_compare: a function is NULL");
    if (check_opts(&o) != 0) return -1;
    double *buf = malloc(3 * (size_t)o.max_samples * sizeof *buf);
    if (!buf) return dlbi_fail("dlb_compare: out of memory for %d samples", o.max_samples);
    double *a_s = buf, *b_s = buf + o.max_samples, *ratio = buf + 2 * o.max_samples;

    warm_up(a, actx, o.warmup_s);
    warm_up(b, bctx, o.warmup_s);
    /* The slower function needs fewer calls to fill a sample; using its count for both
     * keeps the pair's wall time bounded (the faster one's samples are shorter). */
    long iters_a = calibrate(a, actx, o.min_sample_s);
    long iters_b = calibrate(b, bctx, o.min_sample_s);
    long iters = iters_a < iters_b ? iters_a : iters_b;

    int n = 0;
    double start = dlb_now();
    double slept = 0;
    while (n < o.max_samples && (n < o.min_samples || dlb_now() - start - slept < o.max_time_s)) {
        settle(a, actx, o.settle_s);
        a_s[n] = time_calls(a, actx, iters) / (double)iters;
        settle(b, bctx, o.settle_s);
        b_s[n] = time_calls(b, bctx, iters) / (double)iters;
        slept += 2 * o.settle_s;
        ratio[n] = a_s[n] / b_s[n];
        n++;
    }
    int rc = finish(a_s, n, iters, &out->a);
    if (rc == 0) rc = finish(b_s, n, iters, &out->b);
    if (rc == 0) rc = dlb_stats_compute(ratio, n, &out->ratio);
    free(buf);
    return rc;
}

double dlb_gflops(double flops, double seconds) { return flops / seconds * 1e-9; }
double dlb_gbps(double bytes, double seconds) { return bytes / seconds * 1e-9; }
