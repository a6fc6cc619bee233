/* convert_ref.c — narrow floating-point formats in software: layouts and their properties,
 * a general encoder/decoder for any layout, fast bit-twiddling fp16/bf16 conversions, fp8,
 * and the `ref` variant of the "convert" family. See dlab/convert.h for the rules.
 *
 * Two independent software paths exist on purpose: dl_fp_encode works from the exact value
 * (integer mantissa × power of two) for any layout and is easy to check by hand; the
 * dl_f32_to_f16/bf16 functions use the usual bit tricks and are fast. Tests hold each against
 * the other and both against the CPU's instructions.
 * Left out: conversions from double, and any use of the C library's _Float16.
 */
#include <math.h>
#include <string.h>

#include "convert_impl.h"
#include "dlab/convert.h"

/* ------------------------------------------------------------------ formats */

const dl_fp_format dl_fp32 = {"fp32", 8, 23, 127, DL_FP_IEEE};
const dl_fp_format dl_fp16 = {"fp16", 5, 10, 15, DL_FP_IEEE};
const dl_fp_format dl_bf16 = {"bf16", 8, 7, 127, DL_FP_IEEE};
const dl_fp_format dl_fp8_e4m3 = {"fp8_e4m3", 4, 3, 7, DL_FP_FN};
const dl_fp_format dl_fp8_e5m2 = {"fp8_e5m2", 5, 2, 15, DL_FP_IEEE};

static uint32_t float_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float bits_float(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static uint32_t exp_all_ones(const dl_fp_format *f) { return (1u << f->exponent_bits) - 1u; }
static uint32_t mant_mask(const dl_fp_format *f) { return (1u << f->mantissa_bits) - 1u; }

/* Largest finite code (sign 0): IEEE-like formats lose the top exponent to inf/NaN; FN
 * formats keep it and lose only the all-ones mantissa to NaN. */
static uint32_t max_finite_code(const dl_fp_format *f) {
    if (f->specials == DL_FP_IEEE)
        return ((exp_all_ones(f) - 1u) << f->mantissa_bits) | mant_mask(f);
    return (exp_all_ones(f) << f->mantissa_bits) | (mant_mask(f) - 1u);
}

dl_fp_props dl_fp_format_props(const dl_fp_format *f) {
    dl_fp_props p;
    const int M = f->mantissa_bits;
    p.total_bits = 1 + f->exponent_bits + M;
    p.emin = 1 - f->bias; /* biased exponent 1 is the smallest normal one */
    p.epsilon = ldexp(1.0, -M);
    p.unit_roundoff = p.epsilon / 2;
    p.min_normal = ldexp(1.0, p.emin);
    p.min_subnormal = ldexp(1.0, p.emin - M);
    uint32_t top = max_finite_code(f);
    p.emax = (int)(top >> M) - f->bias;
    p.max = dl_fp_decode(f, top);
    p.decimal_digits = (M + 1) * log10(2.0);
    return p;
}

double dl_fp_decode(const dl_fp_format *f, uint32_t code) {
    const int E = f->exponent_bits, M = f->mantissa_bits;
    const bool negative = (code >> (E + M)) & 1u;
    const uint32_t e = (code >> M) & exp_all_ones(f), m = code & mant_mask(f);
    double v;
    if (f->specials == DL_FP_IEEE && e == exp_all_ones(f))
        v = m ? NAN : INFINITY;
    else if (f->specials == DL_FP_FN && e == exp_all_ones(f) && m == mant_mask(f))
        v = NAN;
    else if (e == 0)
        v = ldexp((double)m, 1 - f->bias - M); /* subnormal: 0.m × 2^emin */
    else
        v = ldexp((double)((1u << M) | m), (int)e - f->bias - M); /* 1.m × 2^(e-bias) */
    return negative ? -v : v;
}

/* ------------------------------------------------------------ the general encoder */

/* How it works: |x| = m·2^e exactly (m a 24-bit integer). The target's ulp at |x| is 2^q_exp,
 * where q_exp = max(floor(log2|x|), emin) - M. Then |x| = (q + frac)·2^q_exp with q an integer
 * and frac in [0,1): rounding decides q or q + 1 from frac. q may carry into the next binade
 * (q == 2^(M+1)), which the normalisation step absorbs; a result above the largest finite
 * code is an overflow. */
uint32_t dl_fp_encode(const dl_fp_format *f, float x, dl_rounding mode, uint32_t rand,
                      bool saturate) {
    const int E = f->exponent_bits, M = f->mantissa_bits;
    const uint32_t u = float_bits(x), a = u & 0x7FFFFFFFu;
    const uint32_t sign = (u >> 31) << (E + M);
    const uint32_t max_code = max_finite_code(f);
    const uint32_t nan_code = f->specials == DL_FP_FN ? (exp_all_ones(f) << M) | mant_mask(f)
                                                      : (exp_all_ones(f) << M) | (1u << (M - 1)) |
                                                            ((a & 0x7FFFFFu) >> (23 - M));
    const uint32_t overflow_code = saturate                    ? max_code
                                   : f->specials == DL_FP_IEEE ? exp_all_ones(f) << M
                                                               : nan_code;
    if (a > 0x7F800000u) return sign | nan_code;
    if (a == 0x7F800000u) return sign | overflow_code; /* inf: inf, NaN (e4m3) or max (saturate) */
    if (a == 0) return sign;

    const int fe = (int)(a >> 23);
    uint64_t m = a & 0x7FFFFFu;
    int e;
    if (fe == 0) {
        e = -149; /* fp32 subnormal: m·2^-149 */
    } else {
        m |= 0x800000u;
        e = fe - 150;
    }
    const int top = (63 - __builtin_clzll(m)) + e; /* floor(log2 |x|) */
    const int emin = 1 - f->bias;
    int q_exp = (top > emin ? top : emin) - M;
    const int shift = e - q_exp;
    uint64_t q;
    if (shift >= 0) {
        q = m << shift; /* the target has room for every bit: exact */
    } else {
        const int s = -shift; /* bits to drop */
        const uint64_t kept = s >= 64 ? 0 : m >> s;
        const uint64_t rem = s >= 64 ? m : m & ((1ull << s) - 1); /* the dropped part, < 2^s */
        q = kept;
        if (mode == DL_ROUND_NEAREST_EVEN) {
            /* rem/2^s > ½, or exactly ½ and q odd → up. With s > 25, rem < 2^24 < 2^(s-1). */
            if (s <= 25) {
                const uint64_t half = 1ull << (s - 1);
                if (rem > half || (rem == half && (q & 1))) q++;
            }
        } else if (mode == DL_ROUND_STOCHASTIC) {
            const uint64_t frac32 =
                s <= 32 ? rem << (32 - s) : (s - 32 >= 64 ? 0 : rem >> (s - 32));
            if (frac32 + rand >= (1ull << 32)) q++;
        } /* DL_ROUND_TOWARD_ZERO: keep q */
    }
    if (q >> (M + 1)) { /* rounding carried into the next binade: 1.111..+ulp = 10.000.. */
        q >>= 1;
        q_exp++;
    }
    uint32_t code;
    if (q >> M) { /* normal: biased exponent of q·2^q_exp is q_exp + M + bias */
        code = ((uint32_t)(q_exp + M + f->bias) << M) | ((uint32_t)q & mant_mask(f));
    } else {
        code = (uint32_t)q; /* subnormal (q_exp == emin - M) or zero */
    }
    if (code > max_code) return sign | overflow_code;
    return sign | code;
}

/* --------------------------------------------------------------- fp16, by bit tricks */

uint16_t dl_f32_to_f16_rne(float x) {
    const uint32_t u = float_bits(x), a = u & 0x7FFFFFFFu;
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    if (a > 0x7F800000u) /* NaN: quiet bit set, top 9 payload bits kept (as VCVTPS2PH) */
        return sign | 0x7E00u | (uint16_t)((a >> 13) & 0x3FFu);
    /* 65520 = 65504 + ½ ulp is the tie between max (mantissa odd) and 2^16 (even): overflow.
     * inf lands here too. */
    if (a >= 0x477FF000u) return sign | 0x7C00u;
    if (a >= 0x38800000u) { /* >= 2^-14: a normal fp16 */
        /* Round the 13 dropped mantissa bits to nearest even by adding 0xFFF plus the lowest
         * kept bit: the carry propagates into the exponent when the mantissa overflows.
         * Subtracting 112 << 23 rebiases the exponent from 127 to 15. */
        const uint32_t rounded = a + 0x0FFFu + ((a >> 13) & 1u);
        return sign | (uint16_t)((rounded - (112u << 23)) >> 13);
    }
    if (a <= 0x33000000u) return sign; /* <= 2^-25 = half the smallest subnormal: ties to 0 */
    /* fp16 subnormal: the result counts units of 2^-24. |x| = m·2^(exp-150), so the count is
     * m >> (126 - exp), rounded to nearest even on the dropped bits. */
    const uint32_t exp = a >> 23, m = (a & 0x7FFFFFu) | 0x800000u;
    const uint32_t s = 126 - exp; /* 14..24 */
    uint32_t q = m >> s;
    const uint32_t rem = m & ((1u << s) - 1), half = 1u << (s - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    return sign | (uint16_t)q; /* q may reach 0x400: the smallest normal, correctly encoded */
}

uint16_t dl_f32_to_f16_sr(float x, uint32_t rand) {
    return (uint16_t)dl_fp_encode(&dl_fp16, x, DL_ROUND_STOCHASTIC, rand, false);
}

float dl_f16_to_f32(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1Fu, mant = h & 0x3FFu;
    if (exp == 0x1F) /* inf, or NaN made quiet (bit 22) with its payload moved up */
        return bits_float(sign | 0x7F800000u | (mant << 13) | (mant ? 0x400000u : 0));
    if (exp == 0) { /* zero or subnormal: mant·2^-24, exact in fp32 */
        float v = (float)mant * 0x1p-24f;
        return sign ? -v : v;
    }
    return bits_float(sign | ((exp + 112u) << 23) | (mant << 13));
}

/* --------------------------------------------------------------- bf16, by bit tricks */

uint16_t dl_f32_to_bf16_rne(float x) {
    uint32_t u = float_bits(x);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
    /* bf16 is the top half of fp32: add just under half of the dropped 16 bits, plus the
     * lowest kept bit so an exact half rounds to even. Overflow carries into inf correctly. */
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

uint16_t dl_f32_to_bf16_sr(float x, uint32_t rand) {
    uint32_t u = float_bits(x);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040u);
    /* Adding 16 random bits to the 16 dropped ones carries into the kept half with probability
     * dropped/2^16: exactly the SR rule of convert.h (frac32 + rand >= 2^32) written for 16
     * bits. The magnitude grows (sign-magnitude), so this rounds away from zero. inf + noise
     * stays inf; a value above bf16's max may round up to inf. */
    u += rand >> 16;
    return (uint16_t)(u >> 16);
}

float dl_bf16_to_f32(uint16_t b) { return bits_float((uint32_t)b << 16); }

/* -------------------------------------------------------------------------- fp8 */

uint8_t dl_f32_to_e4m3_rne(float x, bool saturate) {
    return (uint8_t)dl_fp_encode(&dl_fp8_e4m3, x, DL_ROUND_NEAREST_EVEN, 0, saturate);
}
float dl_e4m3_to_f32(uint8_t code) { return (float)dl_fp_decode(&dl_fp8_e4m3, code); }
uint8_t dl_f32_to_e5m2_rne(float x, bool saturate) {
    return (uint8_t)dl_fp_encode(&dl_fp8_e5m2, x, DL_ROUND_NEAREST_EVEN, 0, saturate);
}
float dl_e5m2_to_f32(uint8_t code) { return (float)dl_fp_decode(&dl_fp8_e5m2, code); }

/* ------------------------------------------------------------------------ arrays */

void dl_f32_to_f16_array(const float *x, uint16_t *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = dl_f32_to_f16_rne(x[i]);
}
void dl_f16_to_f32_array(const uint16_t *h, float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = dl_f16_to_f32(h[i]);
}
void dl_f32_to_bf16_array(const float *x, uint16_t *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = dl_f32_to_bf16_rne(x[i]);
}
void dl_bf16_to_f32_array(const uint16_t *b, float *y, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] = dl_bf16_to_f32(b[i]);
}
void dl_f32_to_f16_array_sr(const float *x, uint16_t *y, size_t n, dl_rng *rng) {
    for (size_t i = 0; i < n; i++)
        y[i] = dl_f32_to_f16_sr(x[i], (uint32_t)(dl_rng_u64(rng) >> 32));
}
void dl_f32_to_bf16_array_sr(const float *x, uint16_t *y, size_t n, dl_rng *rng) {
    for (size_t i = 0; i < n; i++)
        y[i] = dl_f32_to_bf16_sr(x[i], (uint32_t)(dl_rng_u64(rng) >> 32));
}
void dl_f32_to_fp8_array(const float *x, uint8_t *y, size_t n, dl_fp8_kind kind, bool saturate) {
    const dl_fp_format *f = kind == DL_FP8_E4M3 ? &dl_fp8_e4m3 : &dl_fp8_e5m2;
    for (size_t i = 0; i < n; i++)
        y[i] = (uint8_t)dl_fp_encode(f, x[i], DL_ROUND_NEAREST_EVEN, 0, saturate);
}
void dl_fp8_to_f32_array(const uint8_t *q, float *y, size_t n, dl_fp8_kind kind) {
    const dl_fp_format *f = kind == DL_FP8_E4M3 ? &dl_fp8_e4m3 : &dl_fp8_e5m2;
    for (size_t i = 0; i < n; i++)
        y[i] = (float)dl_fp_decode(f, q[i]);
}

/* ------------------------------------------------------- the "convert" family: ref */

dl_status dl_convert_check(const dl_convert_args *a) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->n > 0 && (!a->x || !a->y)) return DL_FAIL(DL_ERR_ARG, "x or y is NULL with n=%zu", a->n);
    if (a->to != DL_HALF_F16 && a->to != DL_HALF_BF16)
        return DL_FAIL(DL_ERR_ARG, "unknown target format %d", (int)a->to);
    return DL_OK;
}

dl_cost dl_convert_cost(const void *args) {
    const dl_convert_args *a = args;
    return (dl_cost){.flops = 0.0, .bytes = 6.0 * (double)a->n};
}

dl_status dl_convert_ref(const dl_convert_args *a) {
    if (a->to == DL_HALF_F16)
        dl_f32_to_f16_array(a->x, a->y, a->n);
    else
        dl_f32_to_bf16_array(a->x, a->y, a->n);
    return DL_OK;
}
