/* peak.c — the machine's measured ceilings, so a rate can be shown as a fraction of peak.
 *
 *   copy_gbps   STREAM-style copy dst[i] = src[i] over two arrays each >= 4x the total L3
 *               (from /sys; 128 MiB each if unknown), split statically over the threads,
 *               best of 10. Bytes counted as read + write (STREAM's convention; the extra
 *               write-allocate read a cache does is not counted).
 *   fma_gflops  fp32 FMA throughput: every thread runs many independent accumulator chains
 *               (more than latency x ports, so the FMA units never wait on a result) in the
 *               widest SIMD the CPU has — AVX-512, else AVX2+FMA, else scalar. Best of 3.
 * Both take well under 2 s together. Results are cached as a small JSON file per host, CPU
 * model and thread count; a cache from elsewhere, or one that cannot be read, is replaced.
 * Without OpenMP everything runs on one thread. Left out: fp64 peak, per-cache-level
 * bandwidth, GPU peaks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DLB_X86 1
#endif

#include "dlb_internal.h"

/* ------------------------------------------------------------------ FMA peak */

/* Each chain computes c = c * 0.999999 + 1e-6, which stays near 1: no overflow, no
 * denormals, and the compiler may not merge the chains (no -ffast-math). */
#define FMA_MUL 0.999999f
#define FMA_ADD 1e-6f

#ifdef DLB_X86
/* 16 chains of 16 floats: 512 flops per iteration; 2 ports x 4 cycles latency needs 8. */
__attribute__((target("avx512f"))) static float fma_chains_avx512(long iters) {
    const __m512 mul = _mm512_set1_ps(FMA_MUL), add = _mm512_set1_ps(FMA_ADD);
    __m512 c[16];
    for (int k = 0; k < 16; k++) c[k] = _mm512_set1_ps(1.0f + 0.01f * (float)k);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) c[k] = _mm512_fmadd_ps(c[k], mul, add);
    }
    for (int k = 1; k < 16; k++) c[0] = _mm512_add_ps(c[0], c[k]);
    return _mm512_reduce_add_ps(c[0]);
}

/* 12 chains of 8 floats (16 ymm registers, two hold the constants): 192 flops/iteration. */
__attribute__((target("avx2,fma"))) static float fma_chains_avx2(long iters) {
    const __m256 mul = _mm256_set1_ps(FMA_MUL), add = _mm256_set1_ps(FMA_ADD);
    __m256 c[12];
    for (int k = 0; k < 12; k++) c[k] = _mm256_set1_ps(1.0f + 0.01f * (float)k);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
        for (int k = 0; k < 12; k++) c[k] = _mm256_fmadd_ps(c[k], mul, add);
    }
    for (int k = 1; k < 12; k++) c[0] = _mm256_add_ps(c[0], c[k]);
    float lanes[8];
    _mm256_storeu_ps(lanes, c[0]);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}
#endif

/* 16 scalar chains: 32 flops per iteration (a multiply and an add, fused or not). */
static float fma_chains_scalar(long iters) {
    float c[16];
    for (int k = 0; k < 16; k++) c[k] = 1.0f + 0.01f * (float)k;
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < 16; k++) c[k] = c[k] * FMA_MUL + FMA_ADD;
    float sum = 0;
    for (int k = 0; k < 16; k++) sum += c[k];
    return sum;
}

typedef enum { SIMD_SCALAR, SIMD_AVX2, SIMD_AVX512 } simd_kind;

static simd_kind widest_simd(void) {
#ifdef DLB_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return SIMD_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return SIMD_AVX2;
#endif
    return SIMD_SCALAR;
}

static double flops_per_iter(simd_kind kind) {
    return kind == SIMD_AVX512 ? 512.0 : kind == SIMD_AVX2 ? 192.0 : 32.0;
}

static float fma_chains(simd_kind kind, long iters) {
#ifdef DLB_X86
    if (kind == SIMD_AVX512) return fma_chains_avx512(iters);
    if (kind == SIMD_AVX2) return fma_chains_avx2(iters);
#endif
    return fma_chains_scalar(iters);
}

static volatile float fma_sink; /* keeps the chains' results alive */

/* Wall seconds for every thread to run `iters` iterations at once. */
static double fma_run(simd_kind kind, int threads, long iters) {
    double t0 = dlb_now();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
#endif
    {
        float r = fma_chains(kind, iters);
        if (r == 12345.0f) fma_sink = r; /* practically never true, but not provably so */
    }
    (void)threads;
    return dlb_now() - t0;
}

static double measure_fma_gflops(simd_kind kind, int threads) {
    long iters = 1 << 14;
    double t;
    /* Grow until one thread's run is long enough to time, then size runs to ~80 ms. */
    while ((t = fma_run(kind, 1, iters)) < 5e-3) iters *= 4;
    iters = (long)((double)iters * 0.08 / t) + 1;
    double best = INFINITY;
    for (int rep = 0; rep < 3; rep++) {
        t = fma_run(kind, threads, iters);
        if (t < best) best = t;
    }
    return flops_per_iter(kind) * (double)iters * threads / best * 1e-9;
}

/* ------------------------------------------------------------ copy bandwidth */

static size_t copy_array_bytes(void) {
    dlbi_cache caches[8];
    int n = dlbi_caches(caches, 8), cpus = dlbi_online_cpus();
    long l3_total = 0;
    for (int i = 0; i < n; i++)
        if (caches[i].level == 3) /* one instance per group of num_sharing CPUs */
            l3_total = caches[i].size_bytes * ((cpus + caches[i].num_sharing - 1) / caches[i].num_sharing);
    size_t bytes = l3_total > 0 ? 4 * (size_t)l3_total : (size_t)128 << 20;
    if (bytes < ((size_t)32 << 20)) bytes = (size_t)32 << 20;
    if (bytes > ((size_t)1 << 30)) bytes = (size_t)1 << 30;
    return bytes;
}

static int measure_copy_gbps(int threads, double *out_gbps) {
    (void)threads; /* used only by the OpenMP pragmas */
    size_t bytes = copy_array_bytes(), n = bytes / sizeof(double);
    double *src = aligned_alloc(64, bytes), *dst = aligned_alloc(64, bytes);
    if (!src || !dst) {
        free(src);
        free(dst);
        return dlbi_fail("peak: cannot allocate 2 x %zu MiB for the copy benchmark", bytes >> 20);
    }
    /* First touch with the same static split as the copy, so pages sit near their thread. */
    long count = (long)n;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (long i = 0; i < count; i++) {
        src[i] = (double)i;
        dst[i] = 0.0;
    }
    double best = INFINITY;
    for (int rep = 0; rep < 10; rep++) {
        double t0 = dlb_now();
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
        for (long i = 0; i < count; i++) dst[i] = src[i];
        double t = dlb_now() - t0;
        if (t < best) best = t;
    }
    if (dst[count - 1] != (double)(count - 1)) fma_sink = 1; /* the copy must be observed */
    free(src);
    free(dst);
    *out_gbps = 2.0 * (double)bytes / best * 1e-9;
    return 0;
}

/* ---------------------------------------------------------------- public */

int dlb_peak_measure(int threads, dlb_peak *out) {
    memset(out, 0, sizeof *out);
    if (threads < 1) return dlbi_fail("dlb_peak_measure: threads must be >= 1 (got %d)", threads);
#ifndef _OPENMP
    threads = 1; /* no way to run threads in parallel without OpenMP */
#endif
    out->threads = threads;
    simd_kind kind = widest_simd();
    snprintf(out->simd, sizeof out->simd, "%s",
             kind == SIMD_AVX512 ? "avx512" : kind == SIMD_AVX2 ? "avx2" : "scalar");
    out->fma_gflops = measure_fma_gflops(kind, threads);
    return measure_copy_gbps(threads, &out->copy_gbps);
}

/* Host names go into a file name: keep [A-Za-z0-9._-], replace the rest. */
static void safe_name(char *dst, size_t len, const char *src) {
    size_t i = 0;
    for (; src[i] && i + 1 < len; i++) {
        char c = src[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        dst[i] = ok ? c : '_';
    }
    dst[i] = '\0';
}

static int read_cache(const char *path, const char *host, const char *model, int threads,
                      dlb_peak *out) {
    char text[4096], s[160];
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    double v;
    if (dlbi_json_find_str(text, "host", s, sizeof s) != 0 || strcmp(s, host) != 0) return -1;
    if (dlbi_json_find_str(text, "cpu_model", s, sizeof s) != 0 || strcmp(s, model) != 0) return -1;
    if (dlbi_json_find_num(text, "threads", &v) != 0 || v != threads) return -1;
    if (dlbi_json_find_num(text, "copy_gbps", &out->copy_gbps) != 0 || !(out->copy_gbps > 0)) return -1;
    if (dlbi_json_find_num(text, "fma_gflops", &out->fma_gflops) != 0 || !(out->fma_gflops > 0)) return -1;
    if (!isfinite(out->copy_gbps) || !isfinite(out->fma_gflops)) return -1;
    if (dlbi_json_find_str(text, "simd", out->simd, sizeof out->simd) != 0 || !out->simd[0]) return -1;
    out->threads = threads;
    return 0;
}

static int write_cache(const char *path, const char *host, const char *model, const dlb_peak *p) {
    char tmp[4200];
    FILE *f = dlbi_tmp_open(path, tmp, sizeof tmp);
    if (!f) return -1;
    fputs("{\n  \"host\": ", f);
    dlbi_json_str(f, host);
    fputs(",\n  \"cpu_model\": ", f);
    dlbi_json_str(f, model);
    fprintf(f, ",\n  \"threads\": %d,\n  \"copy_gbps\": ", p->threads);
    dlbi_json_num(f, p->copy_gbps);
    fputs(",\n  \"fma_gflops\": ", f);
    dlbi_json_num(f, p->fma_gflops);
    fputs(",\n  \"fma_precision\": \"fp32\",\n  \"simd\": ", f);
    dlbi_json_str(f, p->simd);
    fputs("\n}\n", f);
    return dlbi_tmp_commit(f, tmp, path);
}

int dlb_peak_get(const char *cache_dir, int threads, dlb_peak *out) {
    memset(out, 0, sizeof *out);
    if (threads < 1) return dlbi_fail("dlb_peak_get: threads must be >= 1 (got %d)", threads);
    if (!cache_dir) cache_dir = "results/machine";
    char host[64] = "", safe_host[64], model[128], file[160], path[4096];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    safe_name(safe_host, sizeof safe_host, host);
    dlbi_cpu_model(model, sizeof model);
    snprintf(file, sizeof file, "peak-%s-%dt.json", safe_host, threads);
    if (dlbi_path(path, sizeof path, cache_dir, file) != 0) return -1;

#ifndef _OPENMP
    threads = 1; /* what dlb_peak_measure will run, so the cache matches it */
#endif
    if (read_cache(path, host, model, threads, out) == 0) return 0;
    if (dlb_peak_measure(threads, out) != 0) return -1;
    /* A cache that cannot be written costs a re-measurement next time, nothing more. */
    if (dlbi_mkdir_p(cache_dir) != 0 || write_cache(path, host, model, out) != 0)
        fprintf(stderr, "dlbench: warning: peak not cached: %s\n", dlb_error());
    return 0;
}
