/* convert_cpu.c — the CPU's own fp16/bf16 conversions: F16C (VCVTPS2PH, VCVTPH2PS) and
 * AVX512-BF16 (VCVTNEPS2BF16), and the `f16c` / `avx512bf16` variants of "convert".
 *
 * Each function that uses an instruction carries __attribute__((target)) and is reached
 * only after dl_cpu() says the feature is there, so libdlab still runs on a CPU without it.
 * Tails shorter than a vector go through a small zero-padded buffer, so the instruction —
 * not the software path — converts every element.
 * Left out: AVX-512 FP16 (Sapphire Rapids' native fp16 arithmetic) and fp8 instructions
 * (AVX10.2), which this project's machines do not have.
 */
#include <string.h>

#include "convert_impl.h"
#include "dlab/convert.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define DL_CONVERT_X86 1
#endif

bool dl_have_f16c(void) { return dl_cpu()->f16c && dl_cpu()->avx; }
bool dl_have_avx512bf16(void) { return dl_cpu()->avx512_bf16 && dl_cpu()->avx512f; }

#ifdef DL_CONVERT_X86
__attribute__((target("avx,f16c"))) static void f32_to_f16_f16c(const float *x, uint16_t *y,
                                                                size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h =
            _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(void *)(y + i), h);
    }
    if (i < n) {
        float in[8] = {0};
        uint16_t out[8];
        memcpy(in, x + i, (n - i) * sizeof(float));
        _mm_storeu_si128(
            (__m128i *)(void *)out,
            _mm256_cvtps_ph(_mm256_loadu_ps(in), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        memcpy(y + i, out, (n - i) * sizeof(uint16_t));
    }
}

__attribute__((target("avx,f16c"))) static void f16_to_f32_f16c(const uint16_t *h, float *y,
                                                                size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i,
                         _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(h + i))));
    if (i < n) {
        uint16_t in[8] = {0};
        float out[8];
        memcpy(in, h + i, (n - i) * sizeof(uint16_t));
        _mm256_storeu_ps(out, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)in)));
        memcpy(y + i, out, (n - i) * sizeof(float));
    }
}

__attribute__((target("avx512f,avx512bf16"))) static void
f32_to_bf16_avx512(const float *x, uint16_t *y, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256bh b = _mm512_cvtneps_pbh(_mm512_loadu_ps(x + i));
        memcpy(y + i, &b, sizeof b);
    }
    if (i < n) {
        float in[16] = {0};
        memcpy(in, x + i, (n - i) * sizeof(float));
        __m256bh b = _mm512_cvtneps_pbh(_mm512_loadu_ps(in));
        memcpy(y + i, &b, (n - i) * sizeof(uint16_t));
    }
}
#endif

dl_status dl_f32_to_f16_array_hw(const float *x, uint16_t *y, size_t n) {
#ifdef DL_CONVERT_X86
    if (dl_have_f16c()) {
        f32_to_f16_f16c(x, y, n);
        return DL_OK;
    }
#endif
    (void)x, (void)y, (void)n;
    return DL_FAIL(DL_ERR_UNSUPPORTED, "this CPU has no F16C");
}

dl_status dl_f16_to_f32_array_hw(const uint16_t *h, float *y, size_t n) {
#ifdef DL_CONVERT_X86
    if (dl_have_f16c()) {
        f16_to_f32_f16c(h, y, n);
        return DL_OK;
    }
#endif
    (void)h, (void)y, (void)n;
    return DL_FAIL(DL_ERR_UNSUPPORTED, "this CPU has no F16C");
}

dl_status dl_f32_to_bf16_array_hw(const float *x, uint16_t *y, size_t n) {
#ifdef DL_CONVERT_X86
    if (dl_have_avx512bf16()) {
        f32_to_bf16_avx512(x, y, n);
        return DL_OK;
    }
#endif
    (void)x, (void)y, (void)n;
    return DL_FAIL(DL_ERR_UNSUPPORTED, "this CPU has no AVX512-BF16");
}

dl_status dl_convert_f16c(const dl_convert_args *a) {
    if (a->to != DL_HALF_F16) return DL_FAIL(DL_ERR_UNSUPPORTED, "f16c converts to fp16 only");
    return dl_f32_to_f16_array_hw(a->x, a->y, a->n);
}

dl_status dl_convert_avx512bf16(const dl_convert_args *a) {
    if (a->to != DL_HALF_BF16)
        return DL_FAIL(DL_ERR_UNSUPPORTED, "avx512bf16 converts to bf16 only");
    return dl_f32_to_bf16_array_hw(a->x, a->y, a->n);
}
