/* cuda_timer.cu — timing GPU work with CUDA events, and the GPU's name.
 *
 * dlb_cuda_measure follows dlb_measure's plan (warm-up by time, calls per sample doubled
 * until a sample lasts min_sample_s, then samples) but reads GPU time from a pair of
 * events around the work on the default stream, so CPU launch overhead between samples
 * is not counted. With flush_l2, every call gets its own event pair, preceded by a
 * cudaMemsetAsync over a buffer as large as the L2 cache: each call then starts with a cold
 * L2 (what a layer sees in a real network) and the flush itself is outside the timing.
 * Every CUDA call is checked; a failure returns -1 with file, line and CUDA's message.
 * Left out: multiple streams and devices, CUDA graphs, clock locking. */
#include <cuda_runtime.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dlb_internal.h"

static int cuda_check(cudaError_t err, const char *call, int line) {
    if (err == cudaSuccess) return 0;
    return dlbi_fail("cuda_timer.cu:%d: %s: %s", line, call, cudaGetErrorString(err));
}
#define CUDA_CHECK(call) cuda_check((call), #call, __LINE__)

/* Is there a device at all? Clears the error a driverless machine leaves behind. */
static int require_device(void) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    (void)cudaGetLastError();
    if (err != cudaSuccess) return dlbi_fail("no usable CUDA device: %s", cudaGetErrorString(err));
    if (count == 0) return dlbi_fail("no CUDA device");
    return 0;
}

extern "C" int dlb_cuda_gpu_name(char *buf, size_t len) {
    if (len) buf[0] = '\0';
    if (require_device() != 0) return -1;
    cudaDeviceProp prop;
    if (CUDA_CHECK(cudaGetDeviceProperties(&prop, 0)) != 0) return -1;
    snprintf(buf, len, "%s", prop.name);
    return 0;
}

typedef struct gpu_timer {
    cudaEvent_t start, stop;
    void *flush;        /* NULL unless flushing L2 */
    size_t flush_bytes;
} gpu_timer;

/* GPU seconds between two recorded events. */
static int elapsed_s(const gpu_timer *t, double *seconds) {
    float ms = 0;
    if (CUDA_CHECK(cudaEventSynchronize(t->stop)) != 0) return -1;
    if (CUDA_CHECK(cudaEventElapsedTime(&ms, t->start, t->stop)) != 0) return -1;
    *seconds = 1e-3 * ms;
    return 0;
}

/* GPU seconds per call over `iters` calls of fn. */
static int time_sample(const gpu_timer *t, dlb_fn fn, void *ctx, long iters, double *per_call_s) {
    double total_s = 0, s;
    if (!t->flush) {
        if (CUDA_CHECK(cudaEventRecord(t->start, 0)) != 0) return -1;
        for (long i = 0; i < iters; i++) fn(ctx);
        if (CUDA_CHECK(cudaEventRecord(t->stop, 0)) != 0) return -1;
        if (elapsed_s(t, &total_s) != 0) return -1;
    } else {
        for (long i = 0; i < iters; i++) {
            if (CUDA_CHECK(cudaMemsetAsync(t->flush, (int)(i & 0xff), t->flush_bytes, 0)) != 0) return -1;
            if (CUDA_CHECK(cudaEventRecord(t->start, 0)) != 0) return -1;
            fn(ctx);
            if (CUDA_CHECK(cudaEventRecord(t->stop, 0)) != 0) return -1;
            if (elapsed_s(t, &s) != 0) return -1;
            total_s += s;
        }
    }
    /* A failed kernel launch inside fn shows up here. */
    if (CUDA_CHECK(cudaGetLastError()) != 0) return -1;
    *per_call_s = total_s / (double)iters;
    return 0;
}

static int measure(gpu_timer *t, dlb_fn fn, void *ctx, const dlb_opts *o, double *sample_s,
                   dlb_result *out) {
    double t0 = dlb_now(), s = 0;
    do {
        fn(ctx);
        if (CUDA_CHECK(cudaDeviceSynchronize()) != 0) return -1;
    } while (dlb_now() - t0 < o->warmup_s);

    long iters = 1;
    for (;;) {
        if (time_sample(t, fn, ctx, iters, &s) != 0) return -1;
        if (s * (double)iters >= o->min_sample_s || iters >= LONG_MAX / 4) break;
        iters *= 2;
    }
    int n = 0;
    t0 = dlb_now();
    while (n < o->max_samples && (n < o->min_samples || dlb_now() - t0 < o->max_time_s)) {
        if (time_sample(t, fn, ctx, iters, &sample_s[n]) != 0) return -1;
        n++;
    }
    out->iters_per_sample = iters;
    out->total_iters = iters * n;
    return dlb_stats_compute(sample_s, n, &out->time);
}

extern "C" int dlb_cuda_measure(dlb_fn fn, void *ctx, const dlb_opts *opts, bool flush_l2,
                                dlb_result *out) {
    memset(out, 0, sizeof *out);
    dlb_opts o = opts ? *opts : dlb_opts_default();
    if (!fn) return dlbi_fail("dlb_cuda_measure: fn is NULL");
    if (o.min_samples < 1 || o.max_samples < o.min_samples)
        return dlbi_fail("dlb_opts: need 1 <= min_samples <= max_samples (got %d, %d)",
                         o.min_samples, o.max_samples);
    if (require_device() != 0) return -1;

    gpu_timer t = {};
    int rc = -1, device = 0, l2_bytes = 0;
    double *sample_s = (double *)malloc((size_t)o.max_samples * sizeof *sample_s);
    if (!sample_s) return dlbi_fail("dlb_cuda_measure: out of memory");
    if (CUDA_CHECK(cudaEventCreate(&t.start)) == 0 && CUDA_CHECK(cudaEventCreate(&t.stop)) == 0) {
        rc = 0;
        if (flush_l2) {
            rc = CUDA_CHECK(cudaGetDevice(&device));
            if (rc == 0) rc = CUDA_CHECK(cudaDeviceGetAttribute(&l2_bytes, cudaDevAttrL2CacheSize, device));
            t.flush_bytes = l2_bytes > 0 ? (size_t)l2_bytes : 0;
            if (rc == 0 && t.flush_bytes) rc = CUDA_CHECK(cudaMalloc(&t.flush, t.flush_bytes));
        }
        if (rc == 0) rc = measure(&t, fn, ctx, &o, sample_s, out);
    }
    /* Clean-up errors are not reported: the measurement's own status matters more. */
    if (t.flush) (void)cudaFree(t.flush);
    if (t.start) (void)cudaEventDestroy(t.start);
    if (t.stop) (void)cudaEventDestroy(t.stop);
    free(sample_s);
    return rc;
}
