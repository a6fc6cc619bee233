/* test_quant.c — the quant family (dlab/quant.h): known small examples and the rounding rule
 * (half to even), the round trip within half a step for every scheme, avx512 byte-identical
 * to ref (codes, scales and dequantized values) on odd sizes and with inf and zero rows,
 * vector-wise scales against per-tensor when rows (or columns) differ 100× in magnitude,
 * zero-point's endpoints, the bad-input rules (all zero, ±inf, NaN, empty, bad arguments),
 * and LLM.int8()'s outlier-column finder. No tolerance on codes: quantization is exact once
 * the scale is fixed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/dlab.h"
#include "dlab/quant.h"
#include "layer_check.h"

#define MAXV 8
static const dl_quant_scheme SCHEMES[] = {DL_QUANT_ABSMAX, DL_QUANT_ROWWISE, DL_QUANT_COLWISE,
                                          DL_QUANT_ZEROPOINT};
#define NSCHEMES ((int)(sizeof SCHEMES / sizeof SCHEMES[0]))

static const dl_variant *ref(void) { return dl_variant_find("quant", "ref"); }

/* Buffers for one quantization of an (N,K) tensor. */
typedef struct qbuf {
    int8_t *q;
    float *scale, minimum, *xhat;
} qbuf;

static qbuf qbuf_new(int N, int K) {
    qbuf b = {0};
    const size_t n = (size_t)N * K, ns = (size_t)(N > K ? N : K) + 1;
    assert_int_equal(dl_alloc((void **)&b.q, n + 1), DL_OK);
    assert_int_equal(dl_alloc((void **)&b.scale, ns * sizeof(float)), DL_OK);
    assert_int_equal(dl_alloc((void **)&b.xhat, (n + 1) * sizeof(float)), DL_OK);
    return b;
}
static void qbuf_free(qbuf *b) { dl_free(b->q), dl_free(b->scale), dl_free(b->xhat); }

static dl_quant_args args_of(dl_quant_scheme s, int N, int K, const float *x, qbuf *b) {
    dl_quant_args a = {.scheme = s,
                       .N = N,
                       .K = K,
                       .x = x,
                       .q = b->q,
                       .scale = b->scale,
                       .minimum = &b->minimum,
                       .xhat = b->xhat};
    return a;
}

/* Quantize then dequantize; asserts both succeed. */
static void round_trip(const dl_variant *v, dl_quant_scheme s, int N, int K, const float *x,
                       qbuf *b) {
    dl_quant_args a = args_of(s, N, K, x, b);
    assert_int_equal(dl_quantize(v, &a), DL_OK);
    assert_int_equal(dl_dequantize(v, &a), DL_OK);
}

/* The scale that applies to element (i, j). */
static float scale_at(dl_quant_scheme s, const float *scale, int i, int j) {
    return s == DL_QUANT_ROWWISE ? scale[i] : s == DL_QUANT_COLWISE ? scale[j] : scale[0];
}

static void absmax_of_minus1_half_2_is_scale_63_5_codes_minus64_32_127(void **state) {
    (void)state;
    const float x[3] = {-1.0f, 0.5f, 2.0f};
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("quant", vs, MAXV);
    for (int k = 0; k < nv; k++) {
        qbuf b = qbuf_new(1, 3);
        round_trip(vs[k], DL_QUANT_ABSMAX, 1, 3, x, &b);
        assert_true(b.scale[0] == 63.5f);
        /* −63.5 is a tie: half to even gives −64 (half away from zero would too); 31.75 → 32 */
        assert_int_equal(b.q[0], -64), assert_int_equal(b.q[1], 32), assert_int_equal(b.q[2], 127);
        assert_true(b.xhat[2] == 2.0f);
        qbuf_free(&b);
    }
}

static void ties_round_half_to_even(void **state) {
    (void)state;
    /* max 127 → scale exactly 1, so x·scale = x and every .5 is a tie */
    const float x[8] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f, 127.0f};
    const int8_t want[8] = {0, 2, 2, 0, -2, -2, 126, 127};
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("quant", vs, MAXV);
    for (int k = 0; k < nv; k++) {
        qbuf b = qbuf_new(1, 8);
        round_trip(vs[k], DL_QUANT_ABSMAX, 1, 8, x, &b);
        assert_true(b.scale[0] == 1.0f);
        for (int i = 0; i < 8; i++)
            assert_int_equal(b.q[i], want[i]);
        qbuf_free(&b);
    }
}

static void round_trip_error_is_at_most_half_a_step_for_every_scheme(void **state) {
    (void)state;
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("quant", vs, MAXV);
    dl_rng r;
    dl_rng_seed(&r, 11);
    const int N = 7, K = 333;
    float *x = lc_uniform(&r, (size_t)N * K, -3.0f, 5.0f);
    for (int k = 0; k < nv; k++)
        for (int si = 0; si < NSCHEMES; si++) {
            const dl_quant_scheme s = SCHEMES[si];
            qbuf b = qbuf_new(N, K);
            round_trip(vs[k], s, N, K, x, &b);
            for (int i = 0; i < N; i++)
                for (int j = 0; j < K; j++) {
                    const float sc = scale_at(s, b.scale, i, j);
                    assert_true(sc > 0.0f);
                    const double xv = x[i * K + j], err = fabs(b.xhat[i * K + j] - xv);
                    /* half a step, plus the fp32 rounding of x·scale and of the division */
                    const double bound = 0.5 / sc * (1 + 1e-5) + 4e-7 * (fabs(xv) + 8.0);
                    if (!(err <= bound))
                        fail_msg("%s scheme %d (%d,%d): |%g − %g| = %g > %g", vs[k]->name, (int)s,
                                 i, j, b.xhat[i * K + j], xv, err, bound);
                }
            qbuf_free(&b);
        }
    dl_free(x);
}

/* Codes, scales, minimum and dequantized values of v equal ref's, bit for bit. */
static void assert_same_as_ref(const dl_variant *v, dl_quant_scheme s, int N, int K,
                               const float *x) {
    qbuf want = qbuf_new(N, K), got = qbuf_new(N, K);
    round_trip(ref(), s, N, K, x, &want);
    round_trip(v, s, N, K, x, &got);
    const size_t n = (size_t)N * K, ns = (size_t)dl_quant_scale_count(s, N, K);
    if (memcmp(got.q, want.q, n) != 0)
        fail_msg("%s scheme %d %dx%d: codes differ", v->name, s, N, K);
    if (memcmp(got.scale, want.scale, ns * sizeof(float)) != 0)
        fail_msg("%s scheme %d %dx%d: scales differ", v->name, s, N, K);
    if (memcmp(got.xhat, want.xhat, n * sizeof(float)) != 0)
        fail_msg("%s scheme %d %dx%d: dequantized values differ", v->name, s, N, K);
    if (s == DL_QUANT_ZEROPOINT) assert_true(got.minimum == want.minimum);
    qbuf_free(&want), qbuf_free(&got);
}

static void avx512_is_byte_identical_to_ref_on_odd_sizes_with_inf_and_zero_rows(void **state) {
    (void)state;
    const dl_variant *v = dl_variant_find("quant", "avx512");
    assert_non_null(v);
    if (!dl_variant_available(v)) skip();
    const int cols[] = {1, 15, 16, 17, 1000, 4099};
    dl_rng r;
    dl_rng_seed(&r, 7);
    for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
        for (int special = 0; special < 2; special++) {
            const int N = 5, K = cols[c];
            const size_t n = (size_t)N * K;
            /* magnitudes spread over decades, so that many products land near ties */
            float *x = lc_uniform(&r, n, -1.0f, 1.0f);
            for (size_t i = 0; i < n; i++)
                x[i] *= (float)(1 + (i % 7) * 13);
            if (special) {
                memset(x + (size_t)2 * K, 0, (size_t)K * sizeof(float)); /* row 2: zeros */
                x[K / 2] = INFINITY;
                x[(size_t)3 * K + K - 1] = -INFINITY;
                /* row 4: max exactly 127, so rowwise has scale 1 and every other value is a
                 * tie (k + 0.5): catches a rounding rule that is not half to even */
                float *row4 = x + (size_t)4 * K;
                for (int j = 0; j < K; j++)
                    row4[j] = (float)(j % 254 - 127) + 0.5f;
                row4[0] = 127.0f;
            }
            for (int si = 0; si < NSCHEMES; si++)
                assert_same_as_ref(v, SCHEMES[si], N, K, x);
            dl_free(x);
        }
}

/* Squared error of a dequantized tensor against x. */
static double sq_error(const float *x, const float *xhat, size_t n) {
    double e = 0.0;
    for (size_t i = 0; i < n; i++)
        e += ((double)xhat[i] - x[i]) * ((double)xhat[i] - x[i]);
    return e;
}

static void vector_wise_beats_per_tensor_when_rows_or_columns_differ_100x(void **state) {
    (void)state;
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("quant", vs, MAXV);
    dl_rng r;
    dl_rng_seed(&r, 3);
    const int N = 8, K = 256;
    const size_t n = (size_t)N * K;
    float *x = lc_uniform(&r, n, -1.0f, 1.0f), *xt = lc_copy(x, n);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < K; j++) {
            const float big = 100.0f;
            if (i % 2) x[i * K + j] *= big;  /* odd rows 100× larger */
            if (j % 2) xt[i * K + j] *= big; /* odd columns 100× larger */
        }
    for (int k = 0; k < nv; k++) {
        qbuf per_tensor = qbuf_new(N, K), vector_wise = qbuf_new(N, K);
        round_trip(vs[k], DL_QUANT_ABSMAX, N, K, x, &per_tensor);
        round_trip(vs[k], DL_QUANT_ROWWISE, N, K, x, &vector_wise);
        /* each row its own scale: the small rows get one ~100× larger */
        assert_true(vector_wise.scale[0] > 50.0f * vector_wise.scale[1]);
        assert_true(sq_error(x, vector_wise.xhat, n) < 0.75 * sq_error(x, per_tensor.xhat, n));
        /* the small rows alone: per-tensor leaves them ~1 code, vector-wise ~127 */
        double e_row0_tensor = sq_error(x, per_tensor.xhat, (size_t)K);
        double e_row0_vector = sq_error(x, vector_wise.xhat, (size_t)K);
        assert_true(e_row0_vector * 100.0 < e_row0_tensor);

        round_trip(vs[k], DL_QUANT_ABSMAX, N, K, xt, &per_tensor);
        round_trip(vs[k], DL_QUANT_COLWISE, N, K, xt, &vector_wise);
        assert_true(vector_wise.scale[0] > 50.0f * vector_wise.scale[1]);
        assert_true(sq_error(xt, vector_wise.xhat, n) < 0.75 * sq_error(xt, per_tensor.xhat, n));
        qbuf_free(&per_tensor), qbuf_free(&vector_wise);
    }
    dl_free(x), dl_free(xt);
}

static void zero_point_maps_min_to_minus128_and_max_to_127(void **state) {
    (void)state;
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("quant", vs, MAXV);
    dl_rng r;
    dl_rng_seed(&r, 5);
    const float ranges[][2] = {{-3.0f, 5.0f}, {2.0f, 9.0f}, {-7.0f, -1.0f}, {1000.0f, 1001.0f}};
    for (size_t c = 0; c < sizeof ranges / sizeof ranges[0]; c++) {
        const int N = 3, K = 101;
        float *x = lc_uniform(&r, (size_t)N * K, ranges[c][0], ranges[c][1]);
        x[17] = ranges[c][0], x[250] = ranges[c][1]; /* the exact endpoints */
        for (int k = 0; k < nv; k++) {
            qbuf b = qbuf_new(N, K);
            round_trip(vs[k], DL_QUANT_ZEROPOINT, N, K, x, &b);
            assert_true(b.minimum == ranges[c][0]);
            assert_int_equal(b.q[17], -128);
            assert_int_equal(b.q[250], 127);
            assert_true(b.xhat[17] == ranges[c][0]); /* (−128 + 128)/s + min = min exactly */
            for (int i = 0; i < N * K; i++) {
                const double err = fabs((double)b.xhat[i] - x[i]);
                assert_true(err <= 0.5 / b.scale[0] * 1.001 + 1e-6 * fabs(x[i]));
            }
            qbuf_free(&b);
        }
        dl_free(x);
    }
}

static void all_zero_tensor_gives_scale_0_codes_0_and_dequantizes_to_0(void **state) {
    (void)state;
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("quant", vs, MAXV);
    const int N = 3, K = 20;
    float x[60] = {0};
    for (int k = 0; k < nv; k++)
        for (int si = 0; si < NSCHEMES; si++) {
            qbuf b = qbuf_new(N, K);
            memset(b.q, 0x55, (size_t)N * K);
            round_trip(vs[k], SCHEMES[si], N, K, x, &b);
            for (long i = 0; i < dl_quant_scale_count(SCHEMES[si], N, K); i++)
                assert_true(b.scale[i] == 0.0f);
            for (int i = 0; i < N * K; i++) {
                assert_int_equal(b.q[i], 0);
                assert_true(b.xhat[i] == 0.0f && !signbit(b.xhat[i]));
            }
            qbuf_free(&b);
        }
    /* one zero row among others (rowwise): only that row has scale 0 */
    float y[60];
    for (int i = 0; i < 60; i++)
        y[i] = i < 20 ? 0.0f : (float)(i - 40);
    for (int k = 0; k < nv; k++) {
        qbuf b = qbuf_new(N, K);
        round_trip(vs[k], DL_QUANT_ROWWISE, N, K, y, &b);
        assert_true(b.scale[0] == 0.0f && b.scale[1] > 0.0f && b.scale[2] > 0.0f);
        for (int j = 0; j < K; j++)
            assert_true(b.xhat[j] == 0.0f);
        qbuf_free(&b);
    }
}

static void infinities_saturate_and_the_scale_comes_from_finite_values(void **state) {
    (void)state;
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("quant", vs, MAXV);
    const float x[5] = {1.0f, INFINITY, -INFINITY, -0.5f, 0.0f};
    for (int k = 0; k < nv; k++) {
        qbuf b = qbuf_new(1, 5);
        round_trip(vs[k], DL_QUANT_ABSMAX, 1, 5, x, &b);
        assert_true(b.scale[0] == 127.0f);
        assert_int_equal(b.q[0], 127), assert_int_equal(b.q[1], 127);
        assert_int_equal(b.q[2], -127), assert_int_equal(b.q[3], -64); /* −63.5 → −64 */
        assert_true(b.xhat[1] == 1.0f && b.xhat[2] == -1.0f);

        round_trip(vs[k], DL_QUANT_ZEROPOINT, 1, 5, x, &b);
        assert_true(b.minimum == -0.5f && b.scale[0] == 170.0f); /* 255 / 1.5 */
        assert_int_equal(b.q[0], 127), assert_int_equal(b.q[1], 127);
        assert_int_equal(b.q[2], -128), assert_int_equal(b.q[3], -128);

        /* a column that is all inf has no finite value: scale 0, codes 0 */
        const float inf_col[4] = {INFINITY, 2.0f, -INFINITY, 4.0f}; /* (2,2): column 0 is ±inf */
        qbuf c = qbuf_new(2, 2);
        round_trip(vs[k], DL_QUANT_COLWISE, 2, 2, inf_col, &c);
        assert_true(c.scale[0] == 0.0f && c.scale[1] == 127.0f / 4.0f);
        assert_int_equal(c.q[0], 0), assert_int_equal(c.q[2], 0);
        assert_true(c.xhat[0] == 0.0f && c.xhat[2] == 0.0f);
        assert_int_equal(c.q[1], 64), assert_int_equal(c.q[3], 127); /* 63.5 → 64 (even) */
        qbuf_free(&b), qbuf_free(&c);
    }
}

static void nan_is_an_error_and_leaves_the_codes_unwritten(void **state) {
    (void)state;
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("quant", vs, MAXV);
    float x[2 * 33];
    for (int i = 0; i < 66; i++)
        x[i] = (float)i - 30.0f;
    x[40] = NAN;
    for (int k = 0; k < nv; k++)
        for (int si = 0; si < NSCHEMES; si++) {
            qbuf b = qbuf_new(2, 33);
            memset(b.q, 0x55, 66);
            dl_quant_args a = args_of(SCHEMES[si], 2, 33, x, &b);
            assert_int_equal(dl_quantize(vs[k], &a), DL_ERR_ARG);
            assert_non_null(strstr(dl_last_error(), "NaN"));
            for (int i = 0; i < 66; i++)
                assert_int_equal((uint8_t)b.q[i], 0x55);
            qbuf_free(&b);
        }
}

static void empty_shapes_do_nothing_and_bad_arguments_are_refused(void **state) {
    (void)state;
    const dl_variant *vs[MAXV];
    int nv = lc_cpu_variants("quant", vs, MAXV);
    for (int k = 0; k < nv; k++)
        for (int si = 0; si < NSCHEMES; si++) {
            dl_quant_args a = {.scheme = SCHEMES[si], .N = 0, .K = 5};
            assert_int_equal(dl_quantize(vs[k], &a), DL_OK);
            assert_int_equal(dl_dequantize(vs[k], &a), DL_OK);
            a.N = 4, a.K = 0;
            assert_int_equal(dl_quantize(vs[k], &a), DL_OK);
        }
    float x[4] = {1, 2, 3, 4};
    qbuf b = qbuf_new(2, 2);
    dl_quant_args a = args_of(DL_QUANT_ABSMAX, 2, 2, x, &b);
    a.scale = NULL;
    assert_int_equal(dl_quantize(ref(), &a), DL_ERR_ARG);
    a = args_of(DL_QUANT_ZEROPOINT, 2, 2, x, &b);
    a.minimum = NULL;
    assert_int_equal(dl_quantize(ref(), &a), DL_ERR_ARG);
    a = args_of((dl_quant_scheme)99, 2, 2, x, &b);
    assert_int_equal(dl_quantize(ref(), &a), DL_ERR_ARG);
    a = args_of(DL_QUANT_ABSMAX, -1, 2, x, &b);
    assert_int_equal(dl_quantize(ref(), &a), DL_ERR_ARG);
    a = args_of(DL_QUANT_ABSMAX, 2, 2, x, &b);
    a.xhat = NULL;
    assert_int_equal(dl_dequantize(ref(), &a), DL_ERR_ARG);
    assert_int_equal(dl_quantize(dl_variant_find("softmax", "ref"), &a), DL_ERR_ARG);
    assert_int_equal(dl_quant_scale_count(DL_QUANT_ROWWISE, 3, 9), 3);
    assert_int_equal(dl_quant_scale_count(DL_QUANT_COLWISE, 3, 9), 9);
    assert_non_null(dl_quant_best());
    qbuf_free(&b);
}

static void outlier_columns_are_those_with_any_magnitude_at_or_above_threshold(void **state) {
    (void)state;
    enum { N = 4, K = 10 };
    float x[N * K];
    for (int i = 0; i < N * K; i++)
        x[i] = (float)((i * 7) % 11) * 0.5f - 2.5f; /* |x| ≤ 2.5 */
    x[1 * K + 3] = 6.5f;
    x[3 * K + 7] = -6.0f;    /* exactly the threshold: counts */
    x[2 * K + 8] = 5.999f;   /* just below: does not */
    x[0 * K + 9] = INFINITY; /* counts */
    x[2 * K + 0] = NAN;      /* does not */
    int cols[K], count = -1;
    assert_int_equal(dl_quant_outlier_columns(x, N, K, 6.0f, cols, &count), DL_OK);
    assert_int_equal(count, 3);
    assert_int_equal(cols[0], 3), assert_int_equal(cols[1], 7), assert_int_equal(cols[2], 9);

    assert_int_equal(dl_quant_outlier_columns(x, N, K, 100.0f, cols, &count), DL_OK);
    assert_int_equal(count, 1); /* only the inf */
    assert_int_equal(dl_quant_outlier_columns(x, N, K, 0.0f, cols, &count), DL_ERR_ARG);
    assert_int_equal(dl_quant_outlier_columns(x, N, K, -1.0f, cols, &count), DL_ERR_ARG);
    assert_int_equal(dl_quant_outlier_columns(x, N, K, NAN, cols, &count), DL_ERR_ARG);
    assert_int_equal(count, 0);
    assert_int_equal(dl_quant_outlier_columns(NULL, 0, K, 6.0f, NULL, &count), DL_OK);
    assert_int_equal(count, 0);
    assert_int_equal(dl_quant_outlier_columns(NULL, N, K, 6.0f, cols, &count), DL_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(absmax_of_minus1_half_2_is_scale_63_5_codes_minus64_32_127),
        cmocka_unit_test(ties_round_half_to_even),
        cmocka_unit_test(round_trip_error_is_at_most_half_a_step_for_every_scheme),
        cmocka_unit_test(avx512_is_byte_identical_to_ref_on_odd_sizes_with_inf_and_zero_rows),
        cmocka_unit_test(vector_wise_beats_per_tensor_when_rows_or_columns_differ_100x),
        cmocka_unit_test(zero_point_maps_min_to_minus128_and_max_to_127),
        cmocka_unit_test(all_zero_tensor_gives_scale_0_codes_0_and_dequantizes_to_0),
        cmocka_unit_test(infinities_saturate_and_the_scale_comes_from_finite_values),
        cmocka_unit_test(nan_is_an_error_and_leaves_the_codes_unwritten),
        cmocka_unit_test(empty_shapes_do_nothing_and_bad_arguments_are_refused),
        cmocka_unit_test(outlier_columns_are_those_with_any_magnitude_at_or_above_threshold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
