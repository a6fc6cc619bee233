/* fast_math.h — what the fast element-wise variants (act, softmax_xent, layernorm) share:
 * the target attributes that compile one loop for AVX2 or AVX-512, and an exp the compiler
 * can vectorize.
 *
 * The pattern. A loop is written once, as plain C in an always-inline function; thin
 * wrappers marked DL_TARGET_AVX512 / DL_TARGET_AVX2 call it, so GCC inlines and vectorizes
 * the same loop for each instruction set. The file stays built with plain -O3 and a wrapper
 * runs only where dl_cpu() reports its set. No intrinsics: the compiler does the SIMD.
 *
 * Why our own exp: glibc's expf is a call, which stops vectorization (its SIMD twins in
 * libmvec need -ffast-math, which we never use). dl_exp_poly is the classic scheme of the
 * Cephes library's expf (S. Moshier): exp(x) = 2^n · e^r with n = round(x·log2 e),
 * r = x − n·ln 2 in two parts (Cody & Waite), e^r by a degree-7 polynomial on |r| ≤ ½ln 2.
 * Error < 1 ulp on [−86.6, 88.7] (measured against double exp; tests/test_act.c checks
 * ≤ 2). Special cases, without branches: x > 88.73 → +inf (by overflow), NaN → NaN, and
 * results below ~2.4e−38 (x < −86.99) flush to 0.
 * Leaves out: denormal results, other rounding modes than round-to-nearest.
 */
#ifndef DLAB_OPS_FAST_MATH_H
#define DLAB_OPS_FAST_MATH_H

#include <stdbool.h>
#include <stdint.h>

#include "dlab/core.h"

#if defined(__x86_64__) || defined(__i386__)
#define DL_HAVE_X86_TARGETS 1
/* prefer-vector-width=512: without it GCC's generic tuning may pick 256-bit vectors. */
#define DL_TARGET_AVX512                                                                           \
    __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,"                           \
                          "prefer-vector-width=512")))
#define DL_TARGET_AVX2 __attribute__((target("avx2,fma")))
#endif

#define DL_ALWAYS_INLINE inline __attribute__((always_inline))

/* The `available` functions of the variants compiled with DL_TARGET_AVX2 / _AVX512 are
 * dl_cpu_has_avx2_fma and dl_cpu_has_avx512 (dlab/core.h). */

/* cond ? a : b for floats, as bit operations on both (already computed) values.
 *
 * Why not the ternary: GCC often duplicates the arithmetic that follows a select into both
 * arms (folding the constant arm), which leaves that arithmetic conditional; an fp operation
 * may trap (-ftrapping-math, the default), so GCC then refuses to vectorize the loop except
 * under AVX-512 masks. Bit operations give it nothing to duplicate: the loops vectorize for
 * SSE2, AVX2 and AVX-512 alike. Use a quiet comparison for cond (__builtin_isless and
 * friends), which raises no fp exception on NaN. */
static DL_ALWAYS_INLINE float dl_select(bool cond, float a, float b) {
    union {
        float f;
        uint32_t u;
    } ua = {a}, ub = {b}, r;
    const uint32_t mask = 0u - (uint32_t)cond;
    r.u = (ua.u & mask) | (ub.u & ~mask);
    return r.f;
}

/* 2^n is built from the bits of the rounding sum, in unsigned arithmetic, so there is no
 * float-to-int conversion (undefined behaviour for NaN). */
static DL_ALWAYS_INLINE float dl_exp_poly(float x) {
    /* lo: exp(lo) rounds n to −126, which the scale below turns into exactly 0.
     * hi: a little past ln(FLT_MAX), so that exp(hi) overflows to +inf. NaN passes both. */
    const float lo = -87.33654f, hi = 89.0f;
    float xc = dl_select(__builtin_isless(x, lo), lo, x);
    xc = dl_select(__builtin_isgreater(xc, hi), hi, xc);
    /* n = round(x·log2 e): adding 1.5·2^23 rounds to an integer in fp32, which then sits in
     * the low mantissa bits of the sum (bits = 0x4B400000 + n for |n| < 2^22). */
    const float round_magic = 12582912.0f;
    union {
        float f;
        uint32_t u;
    } sum, scale;
    sum.f = xc * 1.44269504089f + round_magic;
    const float n = sum.f - round_magic;
    /* r = x − n·ln2, with ln2 split into a part exact in fp32 and a correction. */
    float r = xc - n * 0.693359375f;
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    /* 2^n as 2^(n−1)·2: exponent field n − 1 + 127, which stays in [0, 254] for n in
     * [−126, 128]; field 0 is the float 0 (so exp(lo) = 0 exactly). */
    scale.u = (sum.u - 0x4B400000u + 126u) << 23;
    return p * scale.f * 2.0f;
}

#endif
