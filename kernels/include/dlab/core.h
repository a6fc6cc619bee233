/* core.h — what every part of libdlab stands on: aligned memory, a reproducible RNG,
 * CPU feature detection and the thread count. Core knows no op.
 */
#ifndef DLAB_CORE_H
#define DLAB_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- memory */

/* Alignment of every dl_alloc'd block: one cache line, one AVX-512 register. */
#define DL_ALIGN 64

/* Allocate `bytes` aligned to DL_ALIGN into *out. bytes == 0 gives a valid, freeable
 * pointer. A failed (or absurd) request returns DL_ERR_ALLOC with the size in the message. */
dl_status dl_alloc(void **out, size_t bytes);
/* The same, zero-filled. */
dl_status dl_calloc(void **out, size_t bytes);
void dl_free(void *p);

/* ------------------------------------------------------------------- rng */

/* xoshiro256** seeded by splitmix64: fast, 2^256-1 period, and the same stream on every
 * machine and compiler for the same seed. Not for cryptography. */
typedef struct dl_rng {
    uint64_t s[4];
} dl_rng;

void dl_rng_seed(dl_rng *r, uint64_t seed);
/* An independent stream for worker `index` (e.g. a thread): seeds from (seed, index). */
void dl_rng_seed_stream(dl_rng *r, uint64_t seed, uint64_t index);
uint64_t dl_rng_u64(dl_rng *r);
/* Uniform in [0, 1) with 24 random bits (every float in that range is a multiple of 2^-24). */
float dl_rng_uniform(dl_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double dl_rng_uniform_f64(dl_rng *r);
/* Uniform integer in [0, n), unbiased. n must be > 0. */
uint64_t dl_rng_below(dl_rng *r, uint64_t n);
/* Standard normal (Box–Muller, in double). */
double dl_rng_normal(dl_rng *r);
void dl_rng_fill_uniform(dl_rng *r, float *x, size_t n, float lo, float hi);
void dl_rng_fill_normal(dl_rng *r, float *x, size_t n, float mean, float stddev);

/* ------------------------------------------------------------------- cpu */

typedef struct dl_cpu_features {
    bool sse2, avx, fma, f16c, avx2;
    bool avx512f, avx512bw, avx512vl, avx512dq;
    bool avx512_vnni, avx512_bf16, avx_vnni;
} dl_cpu_features;

/* Detected once at first call with CPUID and XGETBV (so a feature the OS does not save
 * counts as absent). DLAB_CPU_MAX=avx2|avx|sse2 caps it, to test fallbacks. */
const dl_cpu_features *dl_cpu(void);
/* The two instruction-set levels the fast variants are compiled for, usable directly as a
 * variant's `available` callback: AVX2 with FMA, and AVX-512 F+DQ+BW+VL (the Skylake-X /
 * Zen 4 baseline) on top of AVX2+FMA. One definition, so every family agrees. */
bool dl_cpu_has_avx2_fma(void);
bool dl_cpu_has_avx512(void);

/* "avx512f avx512bw ... f16c" into buf; returns buf. */
const char *dl_cpu_describe(char *buf, size_t len);

/* --------------------------------------------------------------- threads */

/* Threads that OpenMP kernels use (1 when built without OpenMP). */
int dl_threads_get(void);
/* n >= 1; DL_ERR_ARG otherwise. */
dl_status dl_threads_set(int n);

#ifdef __cplusplus
}
#endif
#endif
