/* test_convert.c — narrow formats: properties from layouts, round-to-nearest-even ties,
 * IEEE/OCP specials, fp8 round trips of every code, stochastic rounding's unbiasedness, the
 * two software paths against each other and against the CPU's F16C / AVX512-BF16
 * instructions (skipped where the CPU lacks them), and the "convert" op family. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/dlab.h"

static uint32_t bits_of(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float float_of(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static bool is_subnormal(uint32_t u) { return (u & 0x7F800000u) == 0 && (u & 0x7FFFFFu) != 0; }

/* Random bit patterns, plus exact fp16 and bf16 midpoints (the ties), each nudged by ±1 ulp. */
static void interesting_floats(uint32_t *u, size_t n, uint64_t seed) {
    dl_rng r;
    dl_rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = dl_rng_u64(&r);
        uint32_t sign = (v >> 63) ? 0x80000000u : 0, nudge = (uint32_t)((v >> 40) % 3);
        switch (i % 4) {
        case 0:
        case 1: u[i] = (uint32_t)v; break;
        case 2: {
            uint16_t h = (uint16_t)((v & 0xFFFF) % 0x7BFF);
            double mid = ((double)dl_f16_to_f32(h) + (double)dl_f16_to_f32((uint16_t)(h + 1))) / 2;
            u[i] = (bits_of((float)mid) + nudge - 1) | sign;
            break;
        }
        default: u[i] = (((uint32_t)(v & 0x7F7F) << 16 | 0x8000u) + nudge - 1) | sign;
        }
    }
}

/* ------------------------------------------------------------- properties */

static void test_format_properties_follow_from_the_bit_layout(void **state) {
    (void)state;
    dl_fp_props p = dl_fp_format_props(&dl_fp32);
    assert_true(p.epsilon == FLT_EPSILON && p.max == FLT_MAX && p.min_normal == FLT_MIN);
    assert_true(p.min_subnormal == 0x1p-149);
    p = dl_fp_format_props(&dl_fp16);
    assert_true(p.epsilon == 0x1p-10 && p.max == 65504 && p.min_normal == 0x1p-14 &&
                p.min_subnormal == 0x1p-24);
    assert_int_equal(p.emax, 15);
    p = dl_fp_format_props(&dl_bf16);
    assert_true(p.epsilon == 0x1p-7 && p.max == 0x1.fep127 && p.min_normal == 0x1p-126 &&
                p.min_subnormal == 0x1p-133);
    p = dl_fp_format_props(&dl_fp8_e4m3);
    assert_true(p.epsilon == 0.125 && p.max == 448 && p.min_normal == 0x1p-6 &&
                p.min_subnormal == 0x1p-9);
    assert_int_equal(p.emax, 8);
    p = dl_fp_format_props(&dl_fp8_e5m2);
    assert_true(p.epsilon == 0.25 && p.max == 57344 && p.min_normal == 0x1p-14 &&
                p.min_subnormal == 0x1p-16);
    assert_int_equal(p.total_bits, 8);
}

/* ------------------------------------------------------------ RNE and specials */

static void test_round_to_nearest_ties_go_to_the_even_neighbour(void **state) {
    (void)state;
    /* fp16: spacing at 1 is 2^-10 */
    assert_int_equal(dl_f32_to_f16_rne(1.0f + 0x1p-11f), 0x3C00);            /* tie, 1.0 is even */
    assert_int_equal(dl_f32_to_f16_rne(1.0f + 0x3p-11f), 0x3C02);            /* tie, up to even */
    assert_int_equal(dl_f32_to_f16_rne(1.0f + 0x1p-11f + 0x1p-23f), 0x3C01); /* above the tie */
    assert_int_equal(dl_f32_to_f16_rne(65519.99f), 0x7BFF);
    assert_int_equal(dl_f32_to_f16_rne(65520.0f), 0x7C00); /* tie between max (odd) and 2^16: inf */
    assert_int_equal(dl_f32_to_f16_rne(0x1p-25f), 0x0000); /* half the smallest subnormal: to 0 */
    assert_int_equal(dl_f32_to_f16_rne(0x3p-25f), 0x0002); /* 1.5 units: tie, to even 2 */
    assert_int_equal(dl_f32_to_f16_rne(0x3p-26f), 0x0001); /* 0.75 units: up */
    assert_int_equal(dl_f32_to_f16_rne(0x1.ffcp-15f),
                     0x0400); /* subnormal rounds up into min normal */
    /* bf16: spacing at 1 is 2^-7 */
    assert_int_equal(dl_f32_to_bf16_rne(1.0f + 0x1p-8f), 0x3F80);
    assert_int_equal(dl_f32_to_bf16_rne(1.0f + 0x3p-8f), 0x3F82);
    assert_int_equal(dl_f32_to_bf16_rne(FLT_MAX), 0x7F80); /* above bf16's max + half ulp: inf */
    assert_int_equal(dl_f32_to_bf16_rne(float_of(0x7F7F7FFFu)), 0x7F7F);
    assert_int_equal(dl_f32_to_bf16_rne(float_of(0x00008000u)), 0x0000); /* subnormal tie to even */
    assert_int_equal(dl_f32_to_bf16_rne(float_of(0x00018000u)), 0x0002);
}

static void test_nan_inf_and_signed_zero_convert_as_ieee_says(void **state) {
    (void)state;
    assert_int_equal(dl_f32_to_f16_rne(INFINITY), 0x7C00);
    assert_int_equal(dl_f32_to_f16_rne(-INFINITY), 0xFC00);
    assert_int_equal(dl_f32_to_f16_rne(-0.0f), 0x8000);
    assert_int_equal(dl_f32_to_f16_rne(float_of(0x7FC00000u)), 0x7E00);
    assert_int_equal(dl_f32_to_f16_rne(float_of(0xFFC00000u)), 0xFE00);
    assert_int_equal(dl_f32_to_f16_rne(float_of(0x7F800001u)), 0x7E00); /* signaling → quiet */
    assert_int_equal(dl_f32_to_f16_rne(float_of(0x7FA02000u)),
                     0x7F01);                                      /* payload's top bits kept */
    assert_int_equal(bits_of(dl_f16_to_f32(0x7C01)), 0x7FC02000u); /* quieted on the way up */
    assert_int_equal(bits_of(dl_f16_to_f32(0xFC00)), 0xFF800000u);
    assert_true(dl_f16_to_f32(0x0001) == 0x1p-24f);
    assert_int_equal(dl_f32_to_bf16_rne(float_of(0x7F800001u)), 0x7FC0);
    assert_int_equal(dl_f32_to_bf16_rne(-INFINITY), 0xFF80);
    assert_int_equal(dl_f32_to_bf16_rne(-0.0f), 0x8000);
    assert_int_equal(bits_of(dl_bf16_to_f32(0xFF80)), 0xFF800000u);
}

static void test_every_f16_and_bf16_code_survives_a_round_trip(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = dl_f16_to_f32((uint16_t)h);
        if (isnan(f))
            assert_true(isnan(dl_f16_to_f32(dl_f32_to_f16_rne(f))));
        else
            assert_int_equal(dl_f32_to_f16_rne(f), h);
        float b = dl_bf16_to_f32((uint16_t)h);
        if (isnan(b))
            assert_true(isnan(dl_bf16_to_f32(dl_f32_to_bf16_rne(b))));
        else
            assert_int_equal(dl_f32_to_bf16_rne(b), h);
        /* and the general decoder agrees with the bit tricks */
        double g = dl_fp_decode(&dl_fp16, h), gb = dl_fp_decode(&dl_bf16, h);
        assert_true(g == f || (isnan(g) && isnan(f)));
        assert_true(gb == b || (isnan(gb) && isnan(b)));
    }
}

static void test_general_encoder_matches_the_bit_tricks(void **state) {
    (void)state;
    enum { N = 1 << 20 };
    static uint32_t u[N];
    interesting_floats(u, N, 21);
    dl_rng r;
    dl_rng_seed(&r, 22);
    for (size_t i = 0; i < N; i++) {
        float x = float_of(u[i]);
        uint32_t rnd = (uint32_t)(dl_rng_u64(&r) >> 32);
        if (dl_fp_encode(&dl_fp16, x, DL_ROUND_NEAREST_EVEN, 0, false) != dl_f32_to_f16_rne(x))
            fail_msg("fp16 RNE of 0x%08X: general 0x%04X, bit tricks 0x%04X", u[i],
                     dl_fp_encode(&dl_fp16, x, DL_ROUND_NEAREST_EVEN, 0, false),
                     dl_f32_to_f16_rne(x));
        if (dl_fp_encode(&dl_bf16, x, DL_ROUND_NEAREST_EVEN, 0, false) != dl_f32_to_bf16_rne(x))
            fail_msg("bf16 RNE of 0x%08X differs", u[i]);
        if (dl_fp_encode(&dl_bf16, x, DL_ROUND_STOCHASTIC, rnd, false) != dl_f32_to_bf16_sr(x, rnd))
            fail_msg("bf16 SR of 0x%08X with rand 0x%08X differs", u[i], rnd);
        /* fp32 into fp32 is the identity (NaN quieted) */
        if (!isnan(x))
            assert_int_equal(dl_fp_encode(&dl_fp32, x, DL_ROUND_NEAREST_EVEN, 0, false), u[i]);
    }
}

/* --------------------------------------------------------------------- fp8 */

static void test_fp8_every_code_round_trips_saturating_or_not(void **state) {
    (void)state;
    const dl_fp_format *fs[2] = {&dl_fp8_e4m3, &dl_fp8_e5m2};
    for (int f = 0; f < 2; f++) {
        int nans = 0;
        for (uint32_t code = 0; code < 256; code++) {
            double v = dl_fp_decode(fs[f], code);
            if (isnan(v)) {
                nans++;
                assert_true(isnan(dl_fp_decode(
                    fs[f], dl_fp_encode(fs[f], (float)v, DL_ROUND_NEAREST_EVEN, 0, false))));
                continue;
            }
            if (isinf(v)) continue;
            assert_int_equal(dl_fp_encode(fs[f], (float)v, DL_ROUND_NEAREST_EVEN, 0, false), code);
            assert_int_equal(dl_fp_encode(fs[f], (float)v, DL_ROUND_NEAREST_EVEN, 0, true), code);
        }
        assert_int_equal(nans,
                         f == 0 ? 2 : 6); /* e4m3: S.1111.111 only; e5m2: S.11111.{01,10,11} */
    }
    /* the wrappers agree */
    for (uint32_t code = 0; code < 256; code++) {
        float a = dl_e4m3_to_f32((uint8_t)code), b = dl_e5m2_to_f32((uint8_t)code);
        if (!isnan(a)) assert_int_equal(dl_f32_to_e4m3_rne(a, false), code);
        if (!isnan(b) && !isinf(b)) assert_int_equal(dl_f32_to_e5m2_rne(b, false), code);
    }
}

static void test_fp8_overflow_saturation_and_subnormals_follow_the_ocp_spec(void **state) {
    (void)state;
    assert_int_equal(dl_f32_to_e4m3_rne(448, false), 0x7E);
    assert_int_equal(dl_f32_to_e4m3_rne(464, false), 0x7E); /* tie: 448 (mantissa 110) is even */
    assert_int_equal(dl_f32_to_e4m3_rne(465, false), 0x7F); /* overflow: NaN, e4m3 has no inf */
    assert_int_equal(dl_f32_to_e4m3_rne(465, true), 0x7E);  /* saturate: max */
    assert_int_equal(dl_f32_to_e4m3_rne(-1e9f, true), 0xFE);
    assert_int_equal(dl_f32_to_e4m3_rne(INFINITY, false), 0x7F);
    assert_int_equal(dl_f32_to_e4m3_rne(-INFINITY, true), 0xFE);
    assert_int_equal(dl_f32_to_e4m3_rne(-NAN, true), 0xFF);
    assert_int_equal(dl_f32_to_e4m3_rne(0x1p-6f, false), 0x08);  /* min normal */
    assert_int_equal(dl_f32_to_e4m3_rne(0x1p-9f, false), 0x01);  /* min subnormal */
    assert_int_equal(dl_f32_to_e4m3_rne(0x1p-10f, false), 0x00); /* half of it: tie to even 0 */
    assert_int_equal(dl_f32_to_e4m3_rne(0x3p-10f, false), 0x02); /* 1.5 units: tie to even 2 */
    assert_int_equal(dl_f32_to_e5m2_rne(57344, false), 0x7B);
    assert_int_equal(dl_f32_to_e5m2_rne(61439, false), 0x7B);
    assert_int_equal(dl_f32_to_e5m2_rne(61440, false),
                     0x7C); /* tie: 2^16 (mantissa 00) is even → inf */
    assert_int_equal(dl_f32_to_e5m2_rne(61440, true), 0x7B);
    assert_int_equal(dl_f32_to_e5m2_rne(INFINITY, false), 0x7C);
    assert_int_equal(dl_f32_to_e5m2_rne(-INFINITY, true), 0xFB);
    assert_true(isnan(dl_e5m2_to_f32(dl_f32_to_e5m2_rne(NAN, false))));
    assert_true(dl_e5m2_to_f32(0x01) == 0x1p-16f);
    assert_true(dl_e4m3_to_f32(0x7E) == 448.0f && isnan(dl_e4m3_to_f32(0x7F)));
    /* arrays */
    float in[4] = {1.0f, -2.5f, 1000.0f, 0.0f}, out[4];
    uint8_t q[4];
    dl_f32_to_fp8_array(in, q, 4, DL_FP8_E4M3, true);
    dl_fp8_to_f32_array(q, out, 4, DL_FP8_E4M3);
    assert_true(out[0] == 1.0f && out[1] == -2.5f && out[2] == 448.0f && out[3] == 0.0f);
}

/* ------------------------------------------------------- stochastic rounding */

static void test_stochastic_rounding_is_unbiased_and_stays_between_neighbours(void **state) {
    (void)state;
    const float xs[] = {1.0f + 0.3f * 0x1p-7f, -3.0f - 0.71f * 0x1p-6f, 1e-3f,
                        0x1.8p-20f /* fp16 subnormal range */};
    enum { TRIALS = 200000 };
    dl_rng r;
    dl_rng_seed(&r, 99);
    for (size_t k = 0; k < sizeof xs / sizeof xs[0]; k++) {
        for (int fmt = 0; fmt < 2; fmt++) {
            const float x = xs[k];
            float lo, hi; /* the two neighbours: RNE toward zero and away */
            uint16_t t = fmt ? (uint16_t)dl_fp_encode(&dl_bf16, x, DL_ROUND_TOWARD_ZERO, 0, false)
                             : (uint16_t)dl_fp_encode(&dl_fp16, x, DL_ROUND_TOWARD_ZERO, 0, false);
            lo = fmt ? dl_bf16_to_f32(t) : dl_f16_to_f32(t);
            hi = fmt ? dl_bf16_to_f32((uint16_t)(t + 1)) : dl_f16_to_f32((uint16_t)(t + 1));
            double sum = 0;
            for (int i = 0; i < TRIALS; i++) {
                uint32_t rnd = (uint32_t)(dl_rng_u64(&r) >> 32);
                float y = fmt ? dl_bf16_to_f32(dl_f32_to_bf16_sr(x, rnd))
                              : dl_f16_to_f32(dl_f32_to_f16_sr(x, rnd));
                assert_true(y == lo || y == hi);
                sum += y;
            }
            double p = ((double)x - lo) / ((double)hi - lo);
            double se = fabs((double)hi - lo) * sqrt(p * (1 - p) / TRIALS);
            double mean = sum / TRIALS;
            if (fabs(mean - x) > 5 * se + 1e-12 * fabs(x))
                fail_msg("SR of %a into %s: mean %.10g, want %.10g (se %.3g)", (double)x,
                         fmt ? "bf16" : "fp16", mean, (double)x, se);
        }
    }
    /* a value already representable never moves */
    for (int i = 0; i < 1000; i++) {
        uint32_t rnd = (uint32_t)(dl_rng_u64(&r) >> 32);
        assert_int_equal(dl_f32_to_bf16_sr(1.5f, rnd), 0x3FC0);
        assert_int_equal(dl_f32_to_f16_sr(-2.0f, rnd), 0xC000);
    }
    /* and the array version with an rng */
    float in[1000], mean = 0;
    uint16_t out[1000];
    for (int i = 0; i < 1000; i++)
        in[i] = 1.0f + 0.5f * 0x1p-7f;
    dl_f32_to_bf16_array_sr(in, out, 1000, &r);
    for (int i = 0; i < 1000; i++)
        mean += dl_bf16_to_f32(out[i]) / 1000;
    assert_true(fabsf(mean - in[0]) < 5 * 0.5f * 0x1p-7f / sqrtf(1000));
}

/* ------------------------------------------------------------- the CPU's own */

static void test_software_fp16_matches_f16c_bit_for_bit(void **state) {
    (void)state;
    if (!dl_have_f16c()) skip();
    enum { N = 1 << 20 };
    static uint32_t u[N];
    static uint16_t sw[N], hw[N];
    interesting_floats(u, N, 31);
    const float specials[] = {0.0f,  -0.0f,    INFINITY, -INFINITY, NAN,    65504,
                              65520, 0x1p-25f, 0x1p-24f, FLT_MAX,   FLT_MIN};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++)
        u[i] = bits_of(specials[i]);
    u[20] = 0x7F800001u, u[21] = 0xFFA00001u, u[22] = 0x00000001u;
    const float *x = (const float *)(const void *)u;
    dl_f32_to_f16_array(x, sw, N);
    assert_int_equal(dl_f32_to_f16_array_hw(x, hw, N), DL_OK);
    for (size_t i = 0; i < N; i++)
        if (sw[i] != hw[i])
            fail_msg("f32→f16 of 0x%08X: software 0x%04X, F16C 0x%04X", u[i], sw[i], hw[i]);
    static uint16_t codes[65536];
    static float a[65536], b[65536];
    for (uint32_t h = 0; h < 65536; h++)
        codes[h] = (uint16_t)h;
    dl_f16_to_f32_array(codes, a, 65536);
    assert_int_equal(dl_f16_to_f32_array_hw(codes, b, 65536), DL_OK);
    for (uint32_t h = 0; h < 65536; h++)
        assert_int_equal(bits_of(a[h]), bits_of(b[h]));
}

static void test_software_bf16_matches_avx512bf16_except_subnormal_inputs(void **state) {
    (void)state;
    if (!dl_have_avx512bf16()) skip();
    enum { N = 1 << 20 };
    static uint32_t u[N];
    static uint16_t sw[N], hw[N];
    interesting_floats(u, N, 41);
    for (int i = 0; i < 1000; i++)
        u[i] = (uint32_t)(i * 7919) & 0x807FFFFFu; /* subnormals, both signs */
    u[1000] = 0x7F800001u, u[1001] = 0xFFC00000u, u[1002] = 0x7F7FFFFFu, u[1003] = 0x7F800000u;
    const float *x = (const float *)(const void *)u;
    dl_f32_to_bf16_array(x, sw, N);
    assert_int_equal(dl_f32_to_bf16_array_hw(x, hw, N), DL_OK);
    int subnormals = 0;
    for (size_t i = 0; i < N; i++) {
        if (is_subnormal(u[i])) {
            subnormals++;
            /* the instruction treats them as zero: ±0 with the input's sign */
            assert_int_equal(hw[i], (u[i] >> 16) & 0x8000u);
        } else if (sw[i] != hw[i]) {
            fail_msg("f32→bf16 of 0x%08X: software 0x%04X, AVX512-BF16 0x%04X", u[i], sw[i], hw[i]);
        }
    }
    assert_true(subnormals >= 999);
}

/* -------------------------------------------------------- the "convert" family */

static void test_convert_variants_agree_with_ref_at_every_tail_length(void **state) {
    (void)state;
    const size_t sizes[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 1000};
    int count;
    const dl_variant *const *vs = dl_variants("convert", &count);
    assert_true(count >= 3);
    const dl_variant *ref = dl_variant_find("convert", "ref");
    float x[1000];
    uint16_t want[1000], got[1000];
    dl_rng r;
    dl_rng_seed(&r, 51);
    dl_rng_fill_normal(&r, x, 1000, 0.0f, 100.0f); /* normal floats: every variant must agree */
    for (int to = 0; to < 2; to++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            size_t n = sizes[s];
            dl_convert_args a = {.x = x, .y = want, .n = n, .to = (dl_half_kind)to};
            assert_int_equal(dl_convert_run(ref, &a), DL_OK);
            for (int k = 0; k < count; k++) {
                if (!dl_variant_available(vs[k])) continue;
                memset(got, 0xAB, sizeof got);
                dl_convert_args b = {.x = x, .y = got, .n = n, .to = (dl_half_kind)to};
                dl_status st = dl_convert_run(vs[k], &b);
                if (!dl_convert_supports(vs[k], (dl_half_kind)to)) {
                    assert_int_equal(st, DL_ERR_UNSUPPORTED);
                    continue;
                }
                assert_int_equal(st, DL_OK);
                assert_memory_equal(got, want, n * sizeof(uint16_t));
                if (n < 1000) assert_int_equal(got[n], 0xABAB); /* nothing written past n */
            }
        }
    }
    dl_convert_args bad = {.x = NULL, .y = got, .n = 3, .to = DL_HALF_F16};
    assert_int_equal(dl_convert_run(ref, &bad), DL_ERR_ARG);
    dl_convert_args bad_to = {.x = x, .y = got, .n = 3, .to = (dl_half_kind)7};
    assert_int_equal(dl_convert_run(ref, &bad_to), DL_ERR_ARG);
    dl_convert_args c = {.x = x, .y = got, .n = 10, .to = DL_HALF_F16};
    assert_true(dl_convert_cost(&c).bytes == 60);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_properties_follow_from_the_bit_layout),
        cmocka_unit_test(test_round_to_nearest_ties_go_to_the_even_neighbour),
        cmocka_unit_test(test_nan_inf_and_signed_zero_convert_as_ieee_says),
        cmocka_unit_test(test_every_f16_and_bf16_code_survives_a_round_trip),
        cmocka_unit_test(test_general_encoder_matches_the_bit_tricks),
        cmocka_unit_test(test_fp8_every_code_round_trips_saturating_or_not),
        cmocka_unit_test(test_fp8_overflow_saturation_and_subnormals_follow_the_ocp_spec),
        cmocka_unit_test(test_stochastic_rounding_is_unbiased_and_stays_between_neighbours),
        cmocka_unit_test(test_software_fp16_matches_f16c_bit_for_bit),
        cmocka_unit_test(test_software_bf16_matches_avx512bf16_except_subnormal_inputs),
        cmocka_unit_test(test_convert_variants_agree_with_ref_at_every_tail_length),
    };
    return cmocka_run_group_tests_name("convert", tests, NULL, NULL);
}
