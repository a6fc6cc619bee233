/* gpu_attention.c — the attention variant `cuda_flash` against the CPU `ref`.
 *
 * For shapes across the kernels' tiles (T = 1, 2, 17, 64, 65, 130, 257 against 32-key tiles
 * and 32- and 64-row query tiles; head sizes 1, 3, 16, 32, 64, 128, i.e. 1 to 4 dimensions
 * per lane and sizes that are not multiples of 32; B and NH from 1 to 3), each test builds
 * random inputs on the host, runs `ref` there and cuda_flash on device copies through the
 * family's public dispatch, copies back and compares:
 *   out   max|got − ref| ≤ 1e-5 · max|ref|  (issue 5's bound for elementwise ops and rows)
 *   lse   the same bound, against log Σ_s e^(preatt[t,s]) in double from ref's stored scores
 *   dqkv  starts NON-ZERO (the backward adds); the increment got − start is compared with
 *         ref's increment, separately for the q, k and v thirds, ≤ 1e-4 · max|ref| of that
 *         third (issue 5's bound for reductions: each entry is a sum over up to T rows)
 * Outputs that the forward only writes start as NaN on the device, so an element left
 * unwritten fails. Also: the backward gives the same bits on every run (no atomics), scores
 * of ~1e3 (the running max must rescale), a NaN token never reaches earlier rows (forward)
 * or later tokens' gradients (backward), host pointers refused, B = 0 and T = 0 are no-ops,
 * hs > 128 is refused naming hs, a backward without lse is refused.
 *
 * Run by `make test-gpu`. Without a GPU it prints one line and exits 0 having run nothing.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cuda_runtime_api.h>

#include "dlab/dlab.h"
#include "gpu_check.h"

#define OUT_RTOL 1e-5
#define GRAD_RTOL 1e-4

/* ------------------------------------------------------------------ helpers */

static const dl_variant *cuda_flash(void) {
    const dl_variant *v = dl_variant_find("attention", "cuda_flash");
    if (!v) fail_msg("attention variant \"cuda_flash\" is not registered");
    return v;
}

static float *host_floats(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}
static float *random_floats(dl_rng *r, size_t n, float lo, float hi) {
    float *p = host_floats(n);
    dl_rng_fill_uniform(r, p, n, lo, hi);
    return p;
}
static float *nan_floats(size_t n) {
    float *p = host_floats(n);
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

/* A device copy of `bytes` bytes of host memory (1 byte when empty, so the pointer is real). */
static float *to_device(const void *host, size_t bytes) {
    void *d = NULL;
    CUDA_OK(cudaMalloc(&d, bytes ? bytes : 1));
    if (bytes) CUDA_OK(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice));
    return d;
}
/* Wait for the GPU (a fault inside a kernel is reported here), then copy back. */
static void to_host(void *host, const void *device, size_t bytes) {
    CUDA_OK(cudaDeviceSynchronize());
    if (bytes) CUDA_OK(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost));
}

/* max|got − want| ≤ rtol · max|want| over n values; NaN anywhere fails. */
static void expect_close_to_scale(const double *got, const double *want, size_t n, double rtol,
                                  const char *what) {
    double max_diff = 0.0, max_ref = 0.0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(got[i]) || isnan(want[i]))
            fail_msg("%s: [%zu] = %g, reference %g", what, i, got[i], want[i]);
        const double diff = fabs(got[i] - want[i]);
        if (diff > max_diff) max_diff = diff, worst = i;
        if (fabs(want[i]) > max_ref) max_ref = fabs(want[i]);
    }
    const double bound = rtol * (max_ref > 0.0 ? max_ref : 1.0);
    print_message("%s: max|diff| %.3g = %.3g of max|ref|\n", what, max_diff,
                  max_diff / (max_ref > 0.0 ? max_ref : 1.0));
    if (!(max_diff <= bound))
        fail_msg("%s: max|diff| = %.3g at [%zu] (%.9g vs %.9g) > %.3g = %g·max|ref|", what,
                 max_diff, worst, got[worst], want[worst], bound, rtol);
}

/* ------------------------------------------------------------------ one problem */

typedef struct problem {
    int B, T, C, NH;
    size_t n_qkv, n_out, n_lse, n_att;
    float *qkv, *dout, *dqkv_start; /* host inputs */
    /* ref's results on the host */
    float *out_ref, *dqkv_ref;
    double *lse_ref;
} problem;

/* log Σ_s e^(preatt[t,s]) over s <= t, in double, from ref's stored scores. */
static void lse_from_preatt(const float *preatt, int T, size_t rows, double *lse) {
    for (size_t row = 0; row < rows; row++) {
        const float *pre = preatt + row * T;
        const int t = (int)(row % (size_t)T);
        double m = -INFINITY, sum = 0;
        for (int s = 0; s <= t; s++)
            m = fmax(m, pre[s]);
        for (int s = 0; s <= t; s++)
            sum += exp((double)pre[s] - m);
        lse[row] = m + log(sum);
    }
}

/* qkv uniform in ±1.5 with the q and k parts times qk_gain (scores grow with its square),
 * dout in ±1, dqkv starting in ±0.5; then ref forward (saving preatt for the lse) and ref
 * backward into a copy of the start. */
static problem make_problem(int B, int T, int hs, int NH, float qk_gain, uint64_t seed) {
    problem p = {.B = B, .T = T, .C = hs * NH, .NH = NH};
    p.n_qkv = (size_t)B * T * 3 * p.C, p.n_out = (size_t)B * T * p.C;
    p.n_lse = (size_t)B * NH * T, p.n_att = p.n_lse * T;
    dl_rng r;
    dl_rng_seed(&r, seed);
    p.qkv = random_floats(&r, p.n_qkv, -1.5f, 1.5f);
    for (size_t token = 0; token < (size_t)B * T; token++)
        for (size_t c = 0; c < 2 * (size_t)p.C; c++) /* q and k, not v */
            p.qkv[token * 3 * p.C + c] *= qk_gain;
    p.dout = random_floats(&r, p.n_out, -1.0f, 1.0f);
    p.dqkv_start = random_floats(&r, p.n_qkv, -0.5f, 0.5f);
    p.out_ref = host_floats(p.n_out);
    p.dqkv_ref = host_floats(p.n_qkv);
    memcpy(p.dqkv_ref, p.dqkv_start, p.n_qkv * sizeof(float));
    p.lse_ref = malloc((p.n_lse ? p.n_lse : 1) * sizeof(double));
    assert_non_null(p.lse_ref);
    float *att = host_floats(p.n_att), *preatt = host_floats(p.n_att);
    const dl_attention_args a = {.B = B,
                                 .T = T,
                                 .C = p.C,
                                 .NH = NH,
                                 .qkv = p.qkv,
                                 .out = p.out_ref,
                                 .att = att,
                                 .preatt = preatt,
                                 .dout = p.dout,
                                 .dqkv = p.dqkv_ref};
    const dl_variant *ref = dl_variant_find("attention", "ref");
    DL_OK_OR_FAIL(dl_attention_forward(ref, &a));
    DL_OK_OR_FAIL(dl_attention_backward(ref, &a));
    lse_from_preatt(preatt, T, p.n_lse, p.lse_ref);
    free(att), free(preatt);
    return p;
}

static void free_problem(problem *p) {
    free(p->qkv), free(p->dout), free(p->dqkv_start), free(p->out_ref), free(p->dqkv_ref);
    free(p->lse_ref);
}

/* Device buffers of one cuda_flash run: the inputs copied, out and lse NaN. */
typedef struct device_run {
    dl_attention_args a;
} device_run;

static device_run device_setup(const problem *p) {
    device_run d = {.a = {.B = p->B, .T = p->T, .C = p->C, .NH = p->NH}};
    float *out_nan = nan_floats(p->n_out), *lse_nan = nan_floats(p->n_lse);
    d.a.qkv = to_device(p->qkv, p->n_qkv * sizeof(float));
    d.a.dout = to_device(p->dout, p->n_out * sizeof(float));
    d.a.dqkv = to_device(p->dqkv_start, p->n_qkv * sizeof(float));
    d.a.out = to_device(out_nan, p->n_out * sizeof(float));
    d.a.lse = to_device(lse_nan, p->n_lse * sizeof(float));
    free(out_nan), free(lse_nan);
    return d;
}

static void device_free(device_run *d) {
    CUDA_OK(cudaFree((void *)d->a.qkv));
    CUDA_OK(cudaFree((void *)d->a.dout));
    CUDA_OK(cudaFree(d->a.dqkv));
    CUDA_OK(cudaFree(d->a.out));
    CUDA_OK(cudaFree(d->a.lse));
}

static double *widen(const float *x, size_t n) {
    double *w = malloc((n ? n : 1) * sizeof(double));
    assert_non_null(w);
    for (size_t i = 0; i < n; i++)
        w[i] = x[i];
    return w;
}

/* Run cuda_flash forward + backward on p and compare out, lse and each third of the dqkv
 * increment with ref: out within out_rtol, lse within OUT_RTOL, gradients within grad_rtol,
 * each relative to the tensor's largest |ref|. */
static void check_against_ref(const problem *p, const char *label, double out_rtol,
                              double grad_rtol) {
    device_run d = device_setup(p);
    DL_OK_OR_FAIL(dl_attention_forward(cuda_flash(), &d.a));
    DL_OK_OR_FAIL(dl_attention_backward(cuda_flash(), &d.a));
    float *out = host_floats(p->n_out), *lse = host_floats(p->n_lse);
    float *dqkv = host_floats(p->n_qkv);
    to_host(out, d.a.out, p->n_out * sizeof(float));
    to_host(lse, d.a.lse, p->n_lse * sizeof(float));
    to_host(dqkv, d.a.dqkv, p->n_qkv * sizeof(float));
    char what[160];

    double *out_got = widen(out, p->n_out), *out_want = widen(p->out_ref, p->n_out);
    snprintf(what, sizeof what, "%s out", label);
    expect_close_to_scale(out_got, out_want, p->n_out, out_rtol, what);
    double *lse_got = widen(lse, p->n_lse);
    snprintf(what, sizeof what, "%s lse", label);
    expect_close_to_scale(lse_got, p->lse_ref, p->n_lse, OUT_RTOL, what);

    /* increments, split into the q, k and v thirds of each token's 3C values */
    const size_t tokens = (size_t)p->B * p->T, C = (size_t)p->C;
    const size_t third_values = tokens * C > 0 ? tokens * C : 1;
    double *got = malloc(third_values * sizeof(double));
    double *want = malloc(third_values * sizeof(double));
    assert_non_null(got), assert_non_null(want);
    static const char *const THIRDS[] = {"dq", "dk", "dv"};
    for (int third = 0; third < 3; third++) {
        for (size_t token = 0; token < tokens; token++)
            for (size_t c = 0; c < C; c++) {
                const size_t at = token * 3 * C + (size_t)third * C + c;
                got[token * C + c] = (double)dqkv[at] - p->dqkv_start[at];
                want[token * C + c] = (double)p->dqkv_ref[at] - p->dqkv_start[at];
            }
        snprintf(what, sizeof what, "%s %s", label, THIRDS[third]);
        expect_close_to_scale(got, want, tokens * C, grad_rtol, what);
    }
    free(got), free(want), free(out_got), free(out_want), free(lse_got);
    free(out), free(lse), free(dqkv);
    device_free(&d);
}

/* ------------------------------------------------------------------ tests */

static void test_cuda_flash_is_a_cuda_flash_variant_and_best_stays_on_the_cpu(void **state) {
    (void)state;
    const dl_variant *v = cuda_flash();
    assert_int_equal(v->device, DL_DEVICE_CUDA);
    assert_true(dl_variant_available(v));
    assert_false(dl_attention_materializes(v));
    assert_int_equal(dl_attention_best()->device, DL_DEVICE_CPU);
}

static void test_cuda_flash_matches_ref_across_tiles_and_head_sizes(void **state) {
    (void)state;
    static const int TS[] = {1, 2, 17, 64, 65, 130, 257};
    static const int HEAD_SIZES[] = {1, 3, 16, 32, 64, 128};
    int k = 0;
    for (size_t i = 0; i < sizeof TS / sizeof TS[0]; i++)
        for (size_t j = 0; j < sizeof HEAD_SIZES / sizeof HEAD_SIZES[0]; j++, k++) {
            /* B and NH each run through 1..3, in a different rhythm */
            const int B = 1 + k % 3, NH = 1 + (k / 3) % 3, T = TS[i], hs = HEAD_SIZES[j];
            char label[96];
            snprintf(label, sizeof label, "B=%d T=%d NH=%d hs=%d", B, T, NH, hs);
            problem p = make_problem(B, T, hs, NH, 1.0f, 1000 + (uint64_t)k);
            check_against_ref(&p, label, OUT_RTOL, GRAD_RTOL);
            free_problem(&p);
        }
}

/* Scores of about ±1e3 (q and k times 60, as test_attention.c does): e^score overflows fp32
 * past 88, so only a correct running max (and the rescale of l and O when it grows from one
 * key tile to the next) stays finite. fp32 rounding of a score of 1e3 is ~6e-5 absolute, the
 * relative error it puts on a probability, hence the looser bounds (the CPU test's 1e-3;
 * a CPU replay of these kernels against a double reference measured 1e-4 to 4e-4 here); the
 * lse keeps the tight one (an error of 6e-5 on a value of 1e3). */
static void test_cuda_flash_matches_ref_on_scores_of_a_thousand(void **state) {
    (void)state;
    /* small heads, as in test_attention.c: the rounding of a score grows with hs·|q|·|k| */
    static const int SHAPES[][4] = {{2, 70, 16, 2}, {1, 130, 16, 3}, {1, 257, 8, 1}};
    for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++) {
        const int *s = SHAPES[i];
        char label[96];
        snprintf(label, sizeof label, "scores ~1e3 B=%d T=%d hs=%d NH=%d", s[0], s[1], s[2], s[3]);
        problem p = make_problem(s[0], s[1], s[2], s[3], 60.0f, 77 + i);
        check_against_ref(&p, label, 1e-3, 1e-3);
        free_problem(&p);
    }
}

static void test_cuda_flash_backward_gives_the_same_bits_every_run(void **state) {
    (void)state;
    problem p = make_problem(2, 130, 64, 2, 1.0f, 5);
    device_run d = device_setup(&p);
    DL_OK_OR_FAIL(dl_attention_forward(cuda_flash(), &d.a));
    float *first = host_floats(p.n_qkv), *second = host_floats(p.n_qkv);
    DL_OK_OR_FAIL(dl_attention_backward(cuda_flash(), &d.a));
    to_host(first, d.a.dqkv, p.n_qkv * sizeof(float));
    CUDA_OK(cudaMemcpy(d.a.dqkv, p.dqkv_start, p.n_qkv * sizeof(float), cudaMemcpyHostToDevice));
    DL_OK_OR_FAIL(dl_attention_backward(cuda_flash(), &d.a));
    to_host(second, d.a.dqkv, p.n_qkv * sizeof(float));
    assert_memory_equal(first, second, p.n_qkv * sizeof(float));
    free(first), free(second);
    device_free(&d);
    free_problem(&p);
}

/* Token `later` turned to NaN (q, k and v): no output or lse before it may change, bit for
 * bit (a masked key must never be read, not even as 0·NaN); and with dout NaN at `later`
 * only, the backward may change no gradient of a token after it. */
static void test_cuda_flash_later_tokens_never_reach_earlier_rows(void **state) {
    (void)state;
    const int B = 2, T = 70, hs = 16, NH = 2, C = hs * NH, later = 40;
    problem p = make_problem(B, T, hs, NH, 1.0f, 9);
    device_run clean = device_setup(&p), poisoned = device_setup(&p);
    float *bad = host_floats(p.n_qkv);
    memcpy(bad, p.qkv, p.n_qkv * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int c = 0; c < 3 * C; c++)
            bad[((size_t)b * T + later) * 3 * C + c] = NAN;
    CUDA_OK(
        cudaMemcpy((void *)poisoned.a.qkv, bad, p.n_qkv * sizeof(float), cudaMemcpyHostToDevice));
    DL_OK_OR_FAIL(dl_attention_forward(cuda_flash(), &clean.a));
    DL_OK_OR_FAIL(dl_attention_forward(cuda_flash(), &poisoned.a));
    float *out1 = host_floats(p.n_out), *out2 = host_floats(p.n_out);
    float *lse1 = host_floats(p.n_lse), *lse2 = host_floats(p.n_lse);
    to_host(out1, clean.a.out, p.n_out * sizeof(float));
    to_host(out2, poisoned.a.out, p.n_out * sizeof(float));
    to_host(lse1, clean.a.lse, p.n_lse * sizeof(float));
    to_host(lse2, poisoned.a.lse, p.n_lse * sizeof(float));
    for (int b = 0; b < B; b++) {
        assert_memory_equal(out1 + (size_t)b * T * C, out2 + (size_t)b * T * C,
                            (size_t)later * C * sizeof(float));
        for (int h = 0; h < NH; h++)
            assert_memory_equal(lse1 + ((size_t)b * NH + h) * T, lse2 + ((size_t)b * NH + h) * T,
                                (size_t)later * sizeof(float));
        assert_true(isnan(out2[((size_t)b * T + later) * C]));
    }
    /* backward on the clean inputs, dout NaN at `later` in the second run */
    float *dout_bad = host_floats(p.n_out);
    memcpy(dout_bad, p.dout, p.n_out * sizeof(float));
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            dout_bad[((size_t)b * T + later) * C + c] = NAN;
    CUDA_OK(
        cudaMemcpy((void *)poisoned.a.qkv, p.qkv, p.n_qkv * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(poisoned.a.out, out1, p.n_out * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(poisoned.a.lse, lse1, p.n_lse * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy((void *)poisoned.a.dout, dout_bad, p.n_out * sizeof(float),
                       cudaMemcpyHostToDevice));
    DL_OK_OR_FAIL(dl_attention_backward(cuda_flash(), &clean.a));
    DL_OK_OR_FAIL(dl_attention_backward(cuda_flash(), &poisoned.a));
    float *dqkv1 = host_floats(p.n_qkv), *dqkv2 = host_floats(p.n_qkv);
    to_host(dqkv1, clean.a.dqkv, p.n_qkv * sizeof(float));
    to_host(dqkv2, poisoned.a.dqkv, p.n_qkv * sizeof(float));
    for (int b = 0; b < B; b++) {
        const size_t after = ((size_t)b * T + later + 1) * 3 * C;
        assert_memory_equal(dqkv1 + after, dqkv2 + after,
                            (size_t)(T - later - 1) * 3 * C * sizeof(float));
        assert_true(isnan(dqkv2[((size_t)b * T + later) * 3 * C])); /* dq of `later` itself */
    }
    free(bad), free(dout_bad), free(out1), free(out2), free(lse1), free(lse2);
    free(dqkv1), free(dqkv2);
    device_free(&clean), device_free(&poisoned);
    free_problem(&p);
}

static void test_cuda_flash_refuses_host_pointers(void **state) {
    (void)state;
    int device = 0, pageable = 0;
    CUDA_OK(cudaGetDevice(&device));
    CUDA_OK(cudaDeviceGetAttribute(&pageable, cudaDevAttrPageableMemoryAccess, device));
    if (pageable) skip(); /* HMM/ATS: the GPU can read host memory, so it is not an error */
    enum { n = 3 * 8 * 4 };
    float host[n] = {0};
    float *d = to_device(host, sizeof host);
    dl_attention_args a = {.B = 1, .T = 4, .C = 8, .NH = 2, .qkv = host, .out = d, .lse = d};
    assert_int_equal(dl_attention_forward(cuda_flash(), &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "qkv"));
    assert_non_null(strstr(dl_last_error(), "host memory"));
    a.qkv = d, a.dout = d, a.dqkv = host;
    assert_int_equal(dl_attention_backward(cuda_flash(), &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "dqkv"));
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaFree(d));
}

static void test_cuda_flash_empty_problems_are_no_ops(void **state) {
    (void)state;
    dl_attention_args a = {.B = 0, .T = 5, .C = 8, .NH = 2}; /* no tensors at all */
    assert_int_equal(dl_attention_forward(cuda_flash(), &a), DL_OK);
    assert_int_equal(dl_attention_backward(cuda_flash(), &a), DL_OK);
    a.B = 3, a.T = 0;
    assert_int_equal(dl_attention_forward(cuda_flash(), &a), DL_OK);
    assert_int_equal(dl_attention_backward(cuda_flash(), &a), DL_OK);
    CUDA_OK(cudaDeviceSynchronize());
}

static void test_cuda_flash_refuses_head_sizes_above_128_naming_hs(void **state) {
    (void)state;
    const int T = 2, C = 129, NH = 1;
    float *d = NULL;
    CUDA_OK(cudaMalloc((void **)&d, (size_t)T * 3 * C * sizeof(float)));
    dl_attention_args a = {
        .B = 1, .T = T, .C = C, .NH = NH, .qkv = d, .out = d, .lse = d, .dout = d, .dqkv = d};
    assert_int_equal(dl_attention_forward(cuda_flash(), &a), DL_ERR_UNSUPPORTED);
    assert_non_null(strstr(dl_last_error(), "hs=129"));
    assert_int_equal(dl_attention_backward(cuda_flash(), &a), DL_ERR_UNSUPPORTED);
    assert_non_null(strstr(dl_last_error(), "hs=129"));
    CUDA_OK(cudaFree(d));
    /* hs = 128, the largest accepted, runs (here without lse, which the forward may skip) */
    a.C = 256, a.NH = 2;
    float *qkv = NULL, *out = NULL;
    CUDA_OK(cudaMalloc((void **)&qkv, (size_t)T * 3 * a.C * sizeof(float)));
    CUDA_OK(cudaMemset(qkv, 0, (size_t)T * 3 * a.C * sizeof(float)));
    CUDA_OK(cudaMalloc((void **)&out, (size_t)T * a.C * sizeof(float)));
    a.qkv = qkv, a.out = out, a.lse = NULL;
    assert_int_equal(dl_attention_forward(cuda_flash(), &a), DL_OK);
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaFree(out));
    CUDA_OK(cudaFree(qkv));
}

static void test_cuda_flash_backward_without_lse_is_refused(void **state) {
    (void)state;
    float *d = NULL;
    CUDA_OK(cudaMalloc((void **)&d, 3 * 8 * 4 * sizeof(float)));
    dl_attention_args a = {
        .B = 1, .T = 4, .C = 8, .NH = 2, .qkv = d, .out = d, .dout = d, .dqkv = d};
    assert_int_equal(dl_attention_backward(cuda_flash(), &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "lse"));
    CUDA_OK(cudaFree(d));
}

/* ------------------------------------------------------------------ main */

int main(void) {
    if (dl_cuda_device_count() <= 0) {
        printf("gpu_attention: no CUDA device, skipped\n");
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cuda_flash_is_a_cuda_flash_variant_and_best_stays_on_the_cpu),
        cmocka_unit_test(test_cuda_flash_matches_ref_across_tiles_and_head_sizes),
        cmocka_unit_test(test_cuda_flash_matches_ref_on_scores_of_a_thousand),
        cmocka_unit_test(test_cuda_flash_backward_gives_the_same_bits_every_run),
        cmocka_unit_test(test_cuda_flash_later_tokens_never_reach_earlier_rows),
        cmocka_unit_test(test_cuda_flash_refuses_host_pointers),
        cmocka_unit_test(test_cuda_flash_empty_problems_are_no_ops),
        cmocka_unit_test(test_cuda_flash_refuses_head_sizes_above_128_naming_hs),
        cmocka_unit_test(test_cuda_flash_backward_without_lse_is_refused),
    };
    return cmocka_run_group_tests_name("gpu_attention", tests, NULL, NULL) == 0 ? 0 : 1;
}
