/* attention_softmax.c — dl_softmax_row_safe_simd: the three-pass safe softmax with an exp the
 * compiler can vectorize.
 *
 * libm's expf is a function call per element, and GCC only swaps in a vector version under
 * -ffast-math, which dlab never uses. So exp is written here as plain arithmetic:
 *
 *   exp(x) = 2^n · e^f,   n = round(x · log2 e),   f = x − n·ln 2  (|f| <= ln2/2)
 *
 * n comes from the "magic number" trick: adding 1.5·2^23 rounds z to an integer and leaves
 * it, offset, in the low mantissa bits, where shifting them into the exponent field gives
 * 2^n without any float-to-int conversion. e^f is its Taylor polynomial of degree 6 (error
 * |f|^7/7! < 1.2e-7 relative), evaluated by Horner with fmaf. ln 2 is split in two parts
 * (Cody & Waite) so that f is exact to fp32. Inputs below −87.3 give 0 (softmax never
 * needs subnormals); NaN stays NaN.
 *
 * The same inline body is compiled three times — for AVX-512, for AVX2+FMA and for the
 * baseline — and dl_cpu() picks one at run time; no intrinsics are needed.
 * Left out: exp for inputs above 88 (softmax feeds it x − max <= 0).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attention_impl.h"
#include "dlab/core.h"

#define INLINE static inline __attribute__((always_inline))
#define TARGET_AVX512 __attribute__((target("avx512f,avx512dq,fma,prefer-vector-width=512")))
#define TARGET_AVX2 __attribute__((target("avx2,fma")))
enum { LANES = 16 };

/* exp(x) for x <= 88, relative error < 3e-7. */
INLINE float exp_poly(float x) {
    const float log2e = 1.44269504f, ln2_hi = 0.693145752f, ln2_lo = 1.42860677e-6f;
    const float magic = 12582912.0f;    /* 1.5·2^23 */
    float xc = x < -87.0f ? -87.0f : x; /* keeps n >= -126: 2^n stays a normal float */
    float z = xc * log2e + magic;       /* round(xc·log2e) + magic, exactly */
    float n = z - magic;
    float f = fmaf(-n, ln2_hi, xc);
    f = fmaf(-n, ln2_lo, f);
    float p = 1.0f / 720;
    p = fmaf(p, f, 1.0f / 120);
    p = fmaf(p, f, 1.0f / 24);
    p = fmaf(p, f, 1.0f / 6);
    p = fmaf(p, f, 0.5f);
    p = fmaf(p, f, 1.0f);
    p = fmaf(p, f, 1.0f);
    uint32_t zbits, pow2bits;
    memcpy(&zbits, &z, 4);
    pow2bits = (zbits - 0x4B400000u + 127u) << 23; /* (n + 127) in the exponent field */
    float pow2;
    memcpy(&pow2, &pow2bits, 4);
    float y = p * pow2;
    return x < -87.3f ? 0.0f : y;
}

INLINE void softmax_body(const float *in, float *out, int n) {
    /* pass 1: max in LANES independent lanes (vectorizes; x86 max is exactly `a > b ? a : b`) */
    float lane[LANES];
    for (int j = 0; j < LANES; j++)
        lane[j] = -INFINITY;
    int i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++)
            lane[j] = in[i + j] > lane[j] ? in[i + j] : lane[j];
    float max = -INFINITY;
    for (; i < n; i++)
        max = in[i] > max ? in[i] : max;
    for (int j = 0; j < LANES; j++)
        max = lane[j] > max ? lane[j] : max;
    /* pass 2: exponentials and their sum, again in lanes; a NaN or inf − inf poisons it */
    for (int j = 0; j < LANES; j++)
        lane[j] = 0.0f;
    for (i = 0; i + LANES <= n; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float e = exp_poly(in[i + j] - max);
            out[i + j] = e;
            lane[j] += e;
        }
    float sum = 0.0f;
    for (; i < n; i++) {
        float e = exp_poly(in[i] - max);
        out[i] = e;
        sum += e;
    }
    for (int j = 0; j < LANES; j++)
        sum += lane[j];
    /* pass 3 */
    const float inv = 1.0f / sum;
    for (i = 0; i < n; i++)
        out[i] *= inv;
}

TARGET_AVX512 static void softmax_avx512(const float *in, float *out, int n) {
    softmax_body(in, out, n);
}
TARGET_AVX2 static void softmax_avx2(const float *in, float *out, int n) {
    softmax_body(in, out, n);
}
static void softmax_baseline(const float *in, float *out, int n) { softmax_body(in, out, n); }

void dl_softmax_row_safe_simd(const float *in, float *out, int n) {
    const dl_cpu_features *cpu = dl_cpu();
    if (cpu->avx512f && cpu->avx512dq && cpu->fma)
        softmax_avx512(in, out, n);
    else if (cpu->avx2 && cpu->fma)
        softmax_avx2(in, out, n);
    else
        softmax_baseline(in, out, n);
}
