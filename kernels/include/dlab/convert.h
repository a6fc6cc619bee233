/* convert.h — narrow floating-point formats: fp16, bf16, fp8 (e4m3, e5m2), and the "convert"
 * op family (f32 → f16 / bf16 arrays: software vs the CPU's own instructions).
 *
 * Formats are described by their bit layout (dl_fp_format) and everything else — epsilon,
 * largest finite value, smallest normal and subnormal — is computed from it
 * (dl_fp_format_props), so a table of format properties is derived, not typed in.
 *
 *   format      sign exp mant bias  specials
 *   fp32        1    8   23   127   IEEE 754 binary32
 *   fp16        1    5   10   15    IEEE 754 binary16
 *   bf16        1    8   7    127   IEEE-like (the top half of an fp32)
 *   fp8 e4m3    1    4   3    7     OCP 8-bit FP "E4M3FN": no inf; only S.1111.111 is NaN,
 *                                   so the top exponent holds normal numbers, max 448
 *   fp8 e5m2    1    5   2    15    IEEE-like: inf = S.11111.00, NaN = S.11111.{01,10,11}
 *
 * Rounding. Every f32 → narrow conversion rounds the exact value of the float:
 *   RNE        round to nearest, ties to even (IEEE's default; what F16C and AVX512-BF16 do);
 *   SR         stochastic: |x| is rounded up (away from zero) with probability equal to the
 *              fraction of an ulp that it lies above the lower neighbour. Given a uniform
 *              32-bit `rand`: round up iff frac32 + rand >= 2³², where frac32 is that fraction
 *              as 32-bit fixed point (truncated). For bf16 and normal fp16 frac32 is exact, so
 *              E[SR(x)] = x exactly; SR is unbiased, RNE is not when increments are < ½ ulp;
 *   TOWARD_ZERO  chop the extra bits (what the Patriot's 24-bit register did to 1/10).
 *
 * Specials, exactly as IEEE 754 / the OCP FP8 spec (v1.0) say:
 *   - NaN in → quiet NaN out, sign kept; IEEE-like targets keep the top payload bits and set
 *     the quiet bit (what x86 does); e4m3 has one NaN per sign (S.1111.111).
 *   - Overflow (the RNE result would exceed max): ±inf for IEEE-like formats; for e4m3, NaN
 *     (it has no inf). With `saturate` (fp8 only) overflow and ±inf give ±max instead — the
 *     "satfinite" mode ML frameworks use; NaN stays NaN.
 *   - Subnormals are produced and read exactly (gradual underflow).
 *   - narrow → f32 is exact; f16 → f32 quiets a signaling NaN (as VCVTPH2PS does); bf16 → f32
 *     is the plain 16-bit shift every library uses and keeps NaN bits as they are.
 *
 * The CPU's own conversions (F16C VCVTPS2PH/VCVTPH2PS, AVX512-BF16 VCVTNEPS2BF16) are
 * compiled with __attribute__((target)) and used only when dl_cpu() reports the feature.
 * They agree bit for bit with the software ones, with one documented exception:
 * VCVTNEPS2BF16 treats fp32 SUBNORMAL inputs as zero (as if MXCSR.DAZ were set, even when it
 * is not) and returns ±0 where IEEE rounding gives a bf16 subnormal.
 *
 * Left out: fp8 arithmetic, scaled (MX) block formats, rounding modes other than these three.
 */
#ifndef DLAB_CONVERT_H
#define DLAB_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ formats */

typedef enum dl_fp_specials {
    DL_FP_IEEE, /* top exponent: inf (mantissa 0) and NaN (mantissa != 0) */
    DL_FP_FN    /* OCP "FN": no inf; the top exponent is normal except all-ones mantissa = NaN */
} dl_fp_specials;

typedef struct dl_fp_format {
    const char *name;  /* "fp16" */
    int exponent_bits; /* 1..8 */
    int mantissa_bits; /* stored fraction bits, 1..23 (the leading 1 is implicit) */
    int bias;
    dl_fp_specials specials;
} dl_fp_format;

extern const dl_fp_format dl_fp32, dl_fp16, dl_bf16, dl_fp8_e4m3, dl_fp8_e5m2;

/* Properties that follow from a layout. */
typedef struct dl_fp_props {
    int total_bits;        /* 1 + exponent + mantissa */
    int emin, emax;        /* exponents of the smallest and largest normal binade */
    double epsilon;        /* 2^-mantissa_bits: gap between 1 and the next number */
    double unit_roundoff;  /* epsilon / 2: the worst relative error of RNE */
    double max;            /* largest finite value */
    double min_normal;     /* 2^emin */
    double min_subnormal;  /* 2^(emin - mantissa_bits) */
    double decimal_digits; /* mantissa_bits+1 bits in decimal digits: (M+1)·log10(2) */
} dl_fp_props;

dl_fp_props dl_fp_format_props(const dl_fp_format *f);

typedef enum dl_rounding {
    DL_ROUND_NEAREST_EVEN,
    DL_ROUND_STOCHASTIC,
    DL_ROUND_TOWARD_ZERO
} dl_rounding;

/* The general (slow, obviously right) encoder: the exact value of x rounded into format f,
 * returned as its bit pattern in the low total_bits bits. `rand` is used only by
 * DL_ROUND_STOCHASTIC. `saturate`: overflow and ±inf give ±max instead of inf/NaN. */
uint32_t dl_fp_encode(const dl_fp_format *f, float x, dl_rounding mode, uint32_t rand,
                      bool saturate);
/* The exact value of a bit pattern of format f (NaN for NaN codes). */
double dl_fp_decode(const dl_fp_format *f, uint32_t code);

/* --------------------------------------------------- scalar conversions (software) */

uint16_t dl_f32_to_f16_rne(float x);
uint16_t dl_f32_to_f16_sr(float x, uint32_t rand);
float dl_f16_to_f32(uint16_t h);

uint16_t dl_f32_to_bf16_rne(float x);
uint16_t dl_f32_to_bf16_sr(float x, uint32_t rand);
float dl_bf16_to_f32(uint16_t b);

uint8_t dl_f32_to_e4m3_rne(float x, bool saturate);
float dl_e4m3_to_f32(uint8_t code);
uint8_t dl_f32_to_e5m2_rne(float x, bool saturate);
float dl_e5m2_to_f32(uint8_t code);

/* ---------------------------------------------------- array conversions (software) */

void dl_f32_to_f16_array(const float *x, uint16_t *y, size_t n);
void dl_f16_to_f32_array(const uint16_t *h, float *y, size_t n);
void dl_f32_to_bf16_array(const float *x, uint16_t *y, size_t n);
void dl_bf16_to_f32_array(const uint16_t *b, float *y, size_t n);
/* Stochastic rounding with 32 random bits per element from rng. */
void dl_f32_to_f16_array_sr(const float *x, uint16_t *y, size_t n, dl_rng *rng);
void dl_f32_to_bf16_array_sr(const float *x, uint16_t *y, size_t n, dl_rng *rng);

typedef enum dl_fp8_kind { DL_FP8_E4M3, DL_FP8_E5M2 } dl_fp8_kind;
void dl_f32_to_fp8_array(const float *x, uint8_t *y, size_t n, dl_fp8_kind kind, bool saturate);
void dl_fp8_to_f32_array(const uint8_t *q, float *y, size_t n, dl_fp8_kind kind);

/* ------------------------------------------- the CPU's own conversions (hardware) */

/* F16C (VCVTPS2PH with round-to-nearest-even, VCVTPH2PS). DL_ERR_UNSUPPORTED without F16C. */
dl_status dl_f32_to_f16_array_hw(const float *x, uint16_t *y, size_t n);
dl_status dl_f16_to_f32_array_hw(const uint16_t *h, float *y, size_t n);
/* AVX512-BF16 (VCVTNEPS2BF16). Subnormal inputs give ±0 (see above).
 * DL_ERR_UNSUPPORTED without avx512_bf16. */
dl_status dl_f32_to_bf16_array_hw(const float *x, uint16_t *y, size_t n);

bool dl_have_f16c(void);
bool dl_have_avx512bf16(void);

/* ------------------------------------------------------- the "convert" op family */

typedef enum dl_half_kind { DL_HALF_F16 = 0, DL_HALF_BF16 = 1 } dl_half_kind;

/* y[i] = x[i] rounded to nearest even into the 16-bit format `to`. */
typedef struct dl_convert_args {
    const float *x;
    uint16_t *y;
    size_t n;
    dl_half_kind to;
} dl_convert_args;

typedef dl_status (*dl_convert_fn)(const dl_convert_args *args);

/* Variants: "ref" (software, both formats), "f16c" (fp16 only), "avx512bf16" (bf16 only;
 * subnormal inputs → ±0). A hardware variant asked for the other format returns
 * DL_ERR_UNSUPPORTED: one instruction set converts to one format. */
bool dl_convert_supports(const dl_variant *v, dl_half_kind to);

/* DL_ERR_ARG for NULL pointers with n > 0 or an unknown `to`. */
dl_status dl_convert_check(const dl_convert_args *a);
/* bytes = 6n (4 read, 2 written), flops = 0. */
dl_cost dl_convert_cost(const void *args);
dl_status dl_convert_run(const dl_variant *v, const dl_convert_args *args);

#ifdef __cplusplus
}
#endif
#endif
