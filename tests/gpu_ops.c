/* gpu_ops.c — the CUDA variants of the model stack's op families against their CPU `ref`:
 * relu, gelu, residual, linear (cublas), layernorm, softmax_xent, embedding, optim.
 *
 * Each test builds random inputs on the host, runs `ref` there and the CUDA variant on device
 * copies (through the family's public dispatch, as the model stack will), copies the result
 * back and compares. Shapes include 1, primes, and sizes that are not multiples of 32 or 4;
 * backward passes start from NON-ZERO gradients, since every family's backward accumulates.
 * Outputs that a forward only writes start as NaN on the device, so a kernel that reads them,
 * or leaves an element unwritten, fails.
 *
 * Tolerances (fp32 against ref's double where ref uses double):
 *   elementwise ops (relu, gelu, residual, probs, losses)  |got − ref| ≤ 1e-5·|ref| + atol
 *     (atol 1e-6 for values of order 1, 1e-7 for probabilities: where the reference is ~0,
 *     a relative bound means nothing);
 *   reductions and GEMM (linear, layernorm, mean loss, gradients of a mean)
 *     max|got − ref| ≤ 1e-4 · max|ref| over the tensor;
 *   embedding and optim: bit for bit (their headers promise every variant the same bits).
 * NaN must meet NaN and ±inf the same infinity.
 *
 * Run by `make test-gpu`. Without a GPU every test is skipped and the program exits 0 after
 * one line saying so.
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

static bool have_gpu;

/* ------------------------------------------------------------------ helpers */

static const dl_variant *find(const char *family, const char *name) {
    const dl_variant *v = dl_variant_find(family, name);
    if (!v) fail_msg("%s variant \"%s\" is not registered", family, name);
    return v;
}

static float *host_floats(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}
static int *host_ints(size_t n) {
    int *p = malloc((n ? n : 1) * sizeof(int));
    assert_non_null(p);
    return p;
}
static float *random_floats(dl_rng *r, size_t n, float lo, float hi) {
    float *p = host_floats(n);
    dl_rng_fill_uniform(r, p, n, lo, hi);
    return p;
}
static float *copy_floats(const float *x, size_t n) {
    float *p = host_floats(n);
    if (n) memcpy(p, x, n * sizeof(float));
    return p;
}
static float *nan_floats(size_t n) {
    float *p = host_floats(n);
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

/* A device copy of `bytes` bytes of host memory (a 1-byte allocation when empty, so the
 * pointer is real). */
static void *to_device(const void *host, size_t bytes) {
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
static void device_free(void *d) {
    if (d) CUDA_OK(cudaFree(d));
}

/* Specials must agree exactly; returns true when they do, sets *handled when either is. */
static bool specials_agree(double g, double w, bool *handled) {
    *handled = true;
    if (isnan(g) || isnan(w)) return isnan(g) && isnan(w);
    if (isinf(g) || isinf(w)) return g == w;
    *handled = false;
    return true;
}

/* Elementwise: |got − want| ≤ rtol·|want| + atol for every element. */
static void expect_close(const float *got, const float *want, size_t n, double rtol, double atol,
                         const char *what) {
    for (size_t i = 0; i < n; i++) {
        const double g = got[i], w = want[i];
        bool handled;
        if (!specials_agree(g, w, &handled))
            fail_msg("%s: [%zu] = %g, reference %g", what, i, g, w);
        if (handled) continue;
        if (!(fabs(g - w) <= rtol * fabs(w) + atol))
            fail_msg("%s: [%zu] = %.9g, reference %.9g (rtol %g, atol %g)", what, i, g, w, rtol,
                     atol);
    }
}

/* Reductions: max|got − want| ≤ rtol · max|want| over the finite elements. */
static void expect_close_to_scale(const float *got, const float *want, size_t n, double rtol,
                                  const char *what) {
    double max_diff = 0.0, max_ref = 0.0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        const double g = got[i], w = want[i];
        bool handled;
        if (!specials_agree(g, w, &handled))
            fail_msg("%s: [%zu] = %g, reference %g", what, i, g, w);
        if (handled) continue;
        if (fabs(g - w) > max_diff) max_diff = fabs(g - w), worst = i;
        if (fabs(w) > max_ref) max_ref = fabs(w);
    }
    const double bound = rtol * (max_ref > 0.0 ? max_ref : 1.0);
    if (!(max_diff <= bound))
        fail_msg("%s: max|diff| = %.3g at [%zu] (%.9g vs %.9g) > %.3g = %g·max|ref|", what,
                 max_diff, worst, (double)got[worst], (double)want[worst], bound, rtol);
}

static void expect_same_bits(const float *got, const float *want, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
            fail_msg("%s: [%zu] = %.9g, reference %.9g (not the same bits)", what, i,
                     (double)got[i], (double)want[i]);
}

#define ELEMENTWISE_RTOL 1e-5
#define REDUCTION_RTOL 1e-4

/* ------------------------------------------------------------------ registry */

static void test_each_family_registers_its_cuda_variant(void **state) {
    (void)state;
    if (!have_gpu) skip();
    static const char *const ROWS[][2] = {{"relu", "cuda"},      {"gelu", "cuda"},
                                          {"residual", "cuda"},  {"linear", "cublas"},
                                          {"layernorm", "cuda"}, {"softmax_xent", "cuda"},
                                          {"embedding", "cuda"}, {"optim", "cuda"}};
    for (size_t i = 0; i < sizeof ROWS / sizeof ROWS[0]; i++) {
        const dl_variant *v = find(ROWS[i][0], ROWS[i][1]);
        assert_int_equal(v->device, DL_DEVICE_CUDA);
        assert_true(dl_variant_available(v));
        /* The CPU's best is still a CPU variant. */
        const dl_variant *best = dl_variant_best_cpu(ROWS[i][0]);
        assert_non_null(best);
        assert_int_equal(best->device, DL_DEVICE_CPU);
    }
}

/* ------------------------------------------------------------------ relu, gelu */

static const size_t ACT_SIZES[] = {1, 7, 31, 33, 1000, 100003};

/* Values where the formulas need care, placed at the start of the input. */
static const float ACT_SPECIALS[] = {NAN,   INFINITY, -INFINITY, 0.0f,  -0.0f, 1e30f,  -1e30f,
                                     -5.0f, -10.5f,   10.5f,     -9.9f, 3.0f,  -0.75f, 1e-30f};

static void check_act(const char *family) {
    const dl_variant *ref = find(family, "ref"), *cuda = find(family, "cuda");
    uint64_t seed = 11;
    for (size_t s = 0; s < sizeof ACT_SIZES / sizeof ACT_SIZES[0]; s++) {
        const size_t n = ACT_SIZES[s], bytes = n * sizeof(float);
        char what[96];
        dl_rng rng;
        dl_rng_seed(&rng, seed++);
        float *inp = random_floats(&rng, n, -6.0f, 6.0f);
        const size_t specials = sizeof ACT_SPECIALS / sizeof ACT_SPECIALS[0];
        for (size_t i = 0; i < n && i < specials && n >= 100; i++)
            inp[i] = ACT_SPECIALS[i];
        float *dout = random_floats(&rng, n, -1.0f, 1.0f);
        float *dinp0 = random_floats(&rng, n, -1.0f, 1.0f);

        /* Reference on the host. */
        float *out_ref = host_floats(n), *dinp_ref = copy_floats(dinp0, n);
        dl_act_args h = {.n = n, .inp = inp, .out = out_ref, .dout = dout, .dinp = dinp_ref};
        DL_OK_OR_FAIL(dl_act_forward(ref, &h));
        DL_OK_OR_FAIL(dl_act_backward(ref, &h));

        /* The CUDA variant. */
        float *out_start = nan_floats(n);
        float *d_inp = to_device(inp, bytes), *d_out = to_device(out_start, bytes);
        float *d_dout = to_device(dout, bytes), *d_dinp = to_device(dinp0, bytes);
        dl_act_args d = {.n = n, .inp = d_inp, .out = d_out, .dout = d_dout, .dinp = d_dinp};
        DL_OK_OR_FAIL(dl_act_forward(cuda, &d));
        DL_OK_OR_FAIL(dl_act_backward(cuda, &d));
        float *out = host_floats(n), *dinp = host_floats(n);
        to_host(out, d_out, bytes);
        to_host(dinp, d_dinp, bytes);
        snprintf(what, sizeof what, "%s cuda forward n=%zu", family, n);
        expect_close(out, out_ref, n, ELEMENTWISE_RTOL, 1e-6, what);
        snprintf(what, sizeof what, "%s cuda backward n=%zu", family, n);
        expect_close(dinp, dinp_ref, n, ELEMENTWISE_RTOL, 1e-6, what);

        /* In place: out == inp. */
        dl_act_args in_place = {.n = n, .inp = d_inp, .out = d_inp};
        DL_OK_OR_FAIL(dl_act_forward(cuda, &in_place));
        to_host(out, d_inp, bytes);
        snprintf(what, sizeof what, "%s cuda in-place forward n=%zu", family, n);
        expect_close(out, out_ref, n, ELEMENTWISE_RTOL, 1e-6, what);

        device_free(d_inp), device_free(d_out), device_free(d_dout), device_free(d_dinp);
        free(inp), free(dout), free(dinp0), free(out_ref), free(dinp_ref), free(out_start);
        free(out), free(dinp);
    }
}

static void test_relu_cuda_matches_ref(void **state) {
    (void)state;
    if (!have_gpu) skip();
    check_act("relu");
}

static void test_gelu_cuda_matches_ref_including_special_values(void **state) {
    (void)state;
    if (!have_gpu) skip();
    check_act("gelu");
}

/* ------------------------------------------------------------------ residual */

static void test_residual_cuda_matches_ref_with_either_gradient_missing(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const dl_variant *ref = find("residual", "ref"), *cuda = find("residual", "cuda");
    uint64_t seed = 21;
    for (size_t s = 0; s < sizeof ACT_SIZES / sizeof ACT_SIZES[0]; s++) {
        for (int wanted = 1; wanted <= 3; wanted++) { /* bit 0: da, bit 1: db */
            const size_t n = ACT_SIZES[s], bytes = n * sizeof(float);
            char what[96];
            dl_rng rng;
            dl_rng_seed(&rng, seed++);
            float *a = random_floats(&rng, n, -3.0f, 3.0f),
                  *b = random_floats(&rng, n, -3.0f, 3.0f);
            float *dout = random_floats(&rng, n, -1.0f, 1.0f);
            float *da0 = random_floats(&rng, n, -1.0f, 1.0f), *db0 = random_floats(&rng, n, -1, 1);
            float *out_ref = host_floats(n), *da_ref = copy_floats(da0, n);
            float *db_ref = copy_floats(db0, n);
            dl_residual_args h = {.n = n,
                                  .a = a,
                                  .b = b,
                                  .out = out_ref,
                                  .dout = dout,
                                  .da = wanted & 1 ? da_ref : NULL,
                                  .db = wanted & 2 ? db_ref : NULL};
            DL_OK_OR_FAIL(dl_residual_forward(ref, &h));
            DL_OK_OR_FAIL(dl_residual_backward(ref, &h));

            float *nan = nan_floats(n);
            float *d_a = to_device(a, bytes), *d_b = to_device(b, bytes);
            float *d_out = to_device(nan, bytes), *d_dout = to_device(dout, bytes);
            float *d_da = to_device(da0, bytes), *d_db = to_device(db0, bytes);
            dl_residual_args d = {.n = n,
                                  .a = d_a,
                                  .b = d_b,
                                  .out = d_out,
                                  .dout = d_dout,
                                  .da = wanted & 1 ? d_da : NULL,
                                  .db = wanted & 2 ? d_db : NULL};
            DL_OK_OR_FAIL(dl_residual_forward(cuda, &d));
            DL_OK_OR_FAIL(dl_residual_backward(cuda, &d));
            float *out = host_floats(n), *da = host_floats(n), *db = host_floats(n);
            to_host(out, d_out, bytes);
            to_host(da, d_da, bytes);
            to_host(db, d_db, bytes);
            snprintf(what, sizeof what, "residual cuda n=%zu out", n);
            expect_close(out, out_ref, n, ELEMENTWISE_RTOL, 1e-6, what);
            snprintf(what, sizeof what, "residual cuda n=%zu da (wanted %d)", n, wanted & 1);
            expect_close(da, da_ref, n, ELEMENTWISE_RTOL, 1e-6, what);
            snprintf(what, sizeof what, "residual cuda n=%zu db (wanted %d)", n, (wanted >> 1) & 1);
            expect_close(db, db_ref, n, ELEMENTWISE_RTOL, 1e-6, what);

            /* In place: out == a. */
            dl_residual_args in_place = {.n = n, .a = d_a, .b = d_b, .out = d_a};
            DL_OK_OR_FAIL(dl_residual_forward(cuda, &in_place));
            to_host(out, d_a, bytes);
            expect_close(out, out_ref, n, ELEMENTWISE_RTOL, 1e-6, "residual cuda in place");

            device_free(d_a), device_free(d_b), device_free(d_out), device_free(d_dout);
            device_free(d_da), device_free(d_db);
            free(a), free(b), free(dout), free(da0), free(db0), free(out_ref), free(da_ref);
            free(db_ref), free(nan), free(out), free(da), free(db);
        }
    }
}

/* ------------------------------------------------------------------ linear */

typedef struct linear_shape {
    int N, C, OC;
} linear_shape;

static const linear_shape LINEAR_SHAPES[] = {{1, 1, 1},      {7, 13, 5},     {33, 65, 17},
                                             {128, 256, 96}, {257, 31, 129}, {5, 0, 3},
                                             {0, 4, 3},      {64, 768, 3}};

static void test_linear_cublas_matches_ref_forward_and_accumulating_backward(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const dl_variant *ref = find("linear", "ref"), *cuda = find("linear", "cublas");
    uint64_t seed = 31;
    for (size_t s = 0; s < sizeof LINEAR_SHAPES / sizeof LINEAR_SHAPES[0]; s++) {
        for (int with_bias = 0; with_bias <= 1; with_bias++) {
            for (int grads = 0; grads < 2; grads++) { /* 0: all gradients, 1: dbias only */
                const linear_shape sh = LINEAR_SHAPES[s];
                const size_t nin = (size_t)sh.N * sh.C, nw = (size_t)sh.OC * sh.C;
                const size_t nout = (size_t)sh.N * sh.OC, nb = (size_t)sh.OC;
                char what[128];
                dl_rng rng;
                dl_rng_seed(&rng, seed++);
                float *inp = random_floats(&rng, nin, -1, 1), *w = random_floats(&rng, nw, -1, 1);
                float *bias = random_floats(&rng, nb, -1, 1);
                float *dout = random_floats(&rng, nout, -1, 1);
                float *dinp0 = random_floats(&rng, nin, -1, 1),
                      *dw0 = random_floats(&rng, nw, -1, 1);
                float *db0 = random_floats(&rng, nb, -1, 1);

                float *out_ref = host_floats(nout), *dinp_ref = copy_floats(dinp0, nin);
                float *dw_ref = copy_floats(dw0, nw), *db_ref = copy_floats(db0, nb);
                dl_linear_args h = {.N = sh.N,
                                    .C = sh.C,
                                    .OC = sh.OC,
                                    .inp = inp,
                                    .weight = w,
                                    .bias = with_bias ? bias : NULL,
                                    .out = out_ref,
                                    .dout = dout,
                                    .dinp = grads == 0 ? dinp_ref : NULL,
                                    .dweight = grads == 0 ? dw_ref : NULL,
                                    .dbias = db_ref};
                DL_OK_OR_FAIL(dl_linear_forward(ref, &h));
                DL_OK_OR_FAIL(dl_linear_backward(ref, &h));

                float *nan = nan_floats(nout);
                float *d_inp = to_device(inp, nin * 4), *d_w = to_device(w, nw * 4);
                float *d_bias = to_device(bias, nb * 4), *d_out = to_device(nan, nout * 4);
                float *d_dout = to_device(dout, nout * 4), *d_dinp = to_device(dinp0, nin * 4);
                float *d_dw = to_device(dw0, nw * 4), *d_db = to_device(db0, nb * 4);
                dl_linear_args d = {.N = sh.N,
                                    .C = sh.C,
                                    .OC = sh.OC,
                                    .inp = d_inp,
                                    .weight = d_w,
                                    .bias = with_bias ? d_bias : NULL,
                                    .out = d_out,
                                    .dout = d_dout,
                                    .dinp = grads == 0 ? d_dinp : NULL,
                                    .dweight = grads == 0 ? d_dw : NULL,
                                    .dbias = d_db};
                DL_OK_OR_FAIL(dl_linear_forward(cuda, &d));
                DL_OK_OR_FAIL(dl_linear_backward(cuda, &d));
                float *out = host_floats(nout), *dinp = host_floats(nin);
                float *dw = host_floats(nw), *db = host_floats(nb);
                to_host(out, d_out, nout * 4);
                to_host(dinp, d_dinp, nin * 4);
                to_host(dw, d_dw, nw * 4);
                to_host(db, d_db, nb * 4);
#define LINEAR_WHAT(tensor)                                                                        \
    (snprintf(what, sizeof what, "linear cublas N=%d C=%d OC=%d bias=%d grads=%d " tensor, sh.N,   \
              sh.C, sh.OC, with_bias, grads),                                                      \
     what)
                expect_close_to_scale(out, out_ref, nout, REDUCTION_RTOL, LINEAR_WHAT("out"));
                expect_close_to_scale(dinp, dinp_ref, nin, REDUCTION_RTOL, LINEAR_WHAT("dinp"));
                expect_close_to_scale(dw, dw_ref, nw, REDUCTION_RTOL, LINEAR_WHAT("dweight"));
                expect_close_to_scale(db, db_ref, nb, REDUCTION_RTOL, LINEAR_WHAT("dbias"));
#undef LINEAR_WHAT
                device_free(d_inp), device_free(d_w), device_free(d_bias), device_free(d_out);
                device_free(d_dout), device_free(d_dinp), device_free(d_dw), device_free(d_db);
                free(inp), free(w), free(bias), free(dout), free(dinp0), free(dw0), free(db0);
                free(out_ref), free(dinp_ref), free(dw_ref), free(db_ref), free(nan);
                free(out), free(dinp), free(dw), free(db);
            }
        }
    }
}

/* ------------------------------------------------------------------ layernorm */

typedef struct layernorm_shape {
    int N, C;
    float offset; /* added to every input: a large mean tests the two-pass variance */
} layernorm_shape;

static const layernorm_shape LAYERNORM_SHAPES[] = {{1, 1, 0},    {3, 7, 0},       {17, 33, 0},
                                                   {64, 768, 0}, {300, 100, 3},   {5, 1500, 0},
                                                   {2, 31, 100}, {1000, 65, 0.5f}};

static void test_layernorm_cuda_matches_ref_forward_and_accumulating_backward(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const dl_variant *ref = find("layernorm", "ref"), *cuda = find("layernorm", "cuda");
    uint64_t seed = 41;
    for (size_t s = 0; s < sizeof LAYERNORM_SHAPES / sizeof LAYERNORM_SHAPES[0]; s++) {
        for (int grads = 0; grads < 2; grads++) { /* 0: all, 1: dinp and dbeta only */
            const layernorm_shape sh = LAYERNORM_SHAPES[s];
            const size_t nc = (size_t)sh.N * sh.C, n = (size_t)sh.N, c = (size_t)sh.C;
            char what[128];
            dl_rng rng;
            dl_rng_seed(&rng, seed++);
            float *inp = random_floats(&rng, nc, sh.offset - 1, sh.offset + 1);
            float *gamma = random_floats(&rng, c, 0.5f, 1.5f),
                  *beta = random_floats(&rng, c, -1, 1);
            float *dout = random_floats(&rng, nc, -1, 1), *dinp0 = random_floats(&rng, nc, -1, 1);
            float *dg0 = random_floats(&rng, c, -1, 1), *dbeta0 = random_floats(&rng, c, -1, 1);

            float *out_ref = host_floats(nc), *mean_ref = host_floats(n),
                  *rstd_ref = host_floats(n);
            float *dinp_ref = copy_floats(dinp0, nc), *dg_ref = copy_floats(dg0, c);
            float *dbeta_ref = copy_floats(dbeta0, c);
            dl_layernorm_args h = {.N = sh.N,
                                   .C = sh.C,
                                   .inp = inp,
                                   .gamma = gamma,
                                   .beta = beta,
                                   .out = out_ref,
                                   .mean = mean_ref,
                                   .rstd = rstd_ref,
                                   .dout = dout,
                                   .dinp = dinp_ref,
                                   .dgamma = grads == 0 ? dg_ref : NULL,
                                   .dbeta = dbeta_ref};
            DL_OK_OR_FAIL(dl_layernorm_forward(ref, &h));
            DL_OK_OR_FAIL(dl_layernorm_backward(ref, &h));

            float *nan_nc = nan_floats(nc), *nan_n = nan_floats(n);
            float *d_inp = to_device(inp, nc * 4), *d_gamma = to_device(gamma, c * 4);
            float *d_beta = to_device(beta, c * 4), *d_out = to_device(nan_nc, nc * 4);
            float *d_mean = to_device(nan_n, n * 4), *d_rstd = to_device(nan_n, n * 4);
            float *d_dout = to_device(dout, nc * 4), *d_dinp = to_device(dinp0, nc * 4);
            float *d_dg = to_device(dg0, c * 4), *d_dbeta = to_device(dbeta0, c * 4);
            dl_layernorm_args d = {.N = sh.N,
                                   .C = sh.C,
                                   .inp = d_inp,
                                   .gamma = d_gamma,
                                   .beta = d_beta,
                                   .out = d_out,
                                   .mean = d_mean,
                                   .rstd = d_rstd,
                                   .dout = d_dout,
                                   .dinp = d_dinp,
                                   .dgamma = grads == 0 ? d_dg : NULL,
                                   .dbeta = d_dbeta};
            DL_OK_OR_FAIL(dl_layernorm_forward(cuda, &d));
            float *out = host_floats(nc), *mean = host_floats(n), *rstd = host_floats(n);
            to_host(out, d_out, nc * 4);
            to_host(mean, d_mean, n * 4);
            to_host(rstd, d_rstd, n * 4);
            /* Backward from ref's saved statistics, so it is compared on the same inputs. */
            CUDA_OK(cudaMemcpy(d_mean, mean_ref, n * 4, cudaMemcpyHostToDevice));
            CUDA_OK(cudaMemcpy(d_rstd, rstd_ref, n * 4, cudaMemcpyHostToDevice));
            DL_OK_OR_FAIL(dl_layernorm_backward(cuda, &d));
            float *dinp = host_floats(nc), *dg = host_floats(c), *dbeta = host_floats(c);
            to_host(dinp, d_dinp, nc * 4);
            to_host(dg, d_dg, c * 4);
            to_host(dbeta, d_dbeta, c * 4);
#define LN_WHAT(tensor)                                                                            \
    (snprintf(what, sizeof what, "layernorm cuda N=%d C=%d offset=%g grads=%d " tensor, sh.N,      \
              sh.C, (double)sh.offset, grads),                                                     \
     what)
            expect_close_to_scale(out, out_ref, nc, REDUCTION_RTOL, LN_WHAT("out"));
            expect_close(mean, mean_ref, n, REDUCTION_RTOL, 1e-6, LN_WHAT("mean"));
            expect_close(rstd, rstd_ref, n, REDUCTION_RTOL, 0.0, LN_WHAT("rstd"));
            expect_close_to_scale(dinp, dinp_ref, nc, REDUCTION_RTOL, LN_WHAT("dinp"));
            expect_close_to_scale(dg, dg_ref, c, REDUCTION_RTOL, LN_WHAT("dgamma"));
            expect_close_to_scale(dbeta, dbeta_ref, c, REDUCTION_RTOL, LN_WHAT("dbeta"));
#undef LN_WHAT
            device_free(d_inp), device_free(d_gamma), device_free(d_beta), device_free(d_out);
            device_free(d_mean), device_free(d_rstd), device_free(d_dout), device_free(d_dinp);
            device_free(d_dg), device_free(d_dbeta);
            free(inp), free(gamma), free(beta), free(dout), free(dinp0), free(dg0), free(dbeta0);
            free(out_ref), free(mean_ref), free(rstd_ref), free(dinp_ref), free(dg_ref);
            free(dbeta_ref), free(nan_nc), free(nan_n), free(out), free(mean), free(rstd);
            free(dinp), free(dg), free(dbeta);
        }
    }
}

/* ------------------------------------------------------------------ softmax_xent */

/* Run ref and cuda on the same logits and targets and compare everything. probs for the
 * backward are ref's on both sides, so backward is compared on identical inputs. */
static void check_softmax_xent(int N, int V, const float *logits, const int *targets,
                               float dloss_scale, const char *label) {
    const dl_variant *ref = find("softmax_xent", "ref"), *cuda = find("softmax_xent", "cuda");
    const size_t nv = (size_t)N * V, n = (size_t)N;
    char what[160];
    dl_rng rng;
    dl_rng_seed(&rng, 51 + (uint64_t)nv);
    float *dl0 = random_floats(&rng, nv, -1, 1);

    float *probs_ref = host_floats(nv), *losses_ref = host_floats(n), mean_ref = NAN;
    float *dl_ref = copy_floats(dl0, nv);
    dl_softmax_xent_args h = {.N = N,
                              .V = V,
                              .logits = logits,
                              .targets = targets,
                              .probs = probs_ref,
                              .losses = losses_ref,
                              .mean_loss = &mean_ref,
                              .dloss_scale = dloss_scale,
                              .dlogits = dl_ref};
    DL_OK_OR_FAIL(dl_softmax_xent_forward(ref, &h));
    DL_OK_OR_FAIL(dl_softmax_xent_backward(ref, &h));

    float *nan_nv = nan_floats(nv), *nan_n = nan_floats(n), nan1 = NAN;
    float *d_logits = to_device(logits, nv * 4), *d_probs = to_device(nan_nv, nv * 4);
    int *d_targets = to_device(targets, n * sizeof(int));
    float *d_losses = to_device(nan_n, n * 4), *d_mean = to_device(&nan1, 4);
    float *d_dl = to_device(dl0, nv * 4);
    dl_softmax_xent_args d = {.N = N,
                              .V = V,
                              .logits = d_logits,
                              .targets = d_targets,
                              .probs = d_probs,
                              .losses = d_losses,
                              .mean_loss = d_mean,
                              .dloss_scale = dloss_scale,
                              .dlogits = d_dl};
    DL_OK_OR_FAIL(dl_softmax_xent_forward(cuda, &d));
    float *probs = host_floats(nv), *losses = host_floats(n), mean = 0.0f;
    to_host(probs, d_probs, nv * 4);
    to_host(losses, d_losses, n * 4);
    to_host(&mean, d_mean, 4);
    CUDA_OK(cudaMemcpy(d_probs, probs_ref, nv * 4, cudaMemcpyHostToDevice));
    DL_OK_OR_FAIL(dl_softmax_xent_backward(cuda, &d));
    float *dl = host_floats(nv);
    to_host(dl, d_dl, nv * 4);

#define XENT_WHAT(tensor)                                                                          \
    (snprintf(what, sizeof what, "softmax_xent cuda %s N=%d V=%d " tensor, label, N, V), what)
    expect_close(probs, probs_ref, nv, ELEMENTWISE_RTOL, 1e-7, XENT_WHAT("probs"));
    expect_close(losses, losses_ref, n, ELEMENTWISE_RTOL, 1e-6, XENT_WHAT("losses"));
    expect_close(&mean, &mean_ref, 1, REDUCTION_RTOL, 1e-6, XENT_WHAT("mean loss"));
    expect_close_to_scale(dl, dl_ref, nv, REDUCTION_RTOL, XENT_WHAT("dlogits"));
#undef XENT_WHAT

    device_free(d_logits), device_free(d_probs), device_free(d_targets), device_free(d_losses);
    device_free(d_mean), device_free(d_dl);
    free(dl0), free(probs_ref), free(losses_ref), free(dl_ref), free(nan_nv), free(nan_n);
    free(probs), free(losses), free(dl);
}

static void test_softmax_xent_cuda_matches_ref_on_odd_shapes(void **state) {
    (void)state;
    if (!have_gpu) skip();
    static const int SHAPES[][2] = {{1, 1},    {3, 7},     {5, 65},   {64, 1000},
                                    {33, 513}, {7, 50257}, {300, 10}, {2, 1025}};
    for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
        const int N = SHAPES[s][0], V = SHAPES[s][1];
        dl_rng rng;
        dl_rng_seed(&rng, 61 + s);
        float *logits = random_floats(&rng, (size_t)N * V, -8, 8);
        int *targets = host_ints((size_t)N);
        for (int i = 0; i < N; i++) /* about one row in five ignored */
            targets[i] = dl_rng_below(&rng, 5) == 0 ? DL_XENT_IGNORE : (int)dl_rng_below(&rng, V);
        check_softmax_xent(N, V, logits, targets, 1.0f, "random");
        check_softmax_xent(N, V, logits, targets, 0.25f, "random, dloss_scale 0.25");
        for (int i = 0; i < N; i++)
            targets[i] = DL_XENT_IGNORE; /* no valid row: mean 0, no gradient */
        check_softmax_xent(N, V, logits, targets, 1.0f, "all ignored");
        free(logits), free(targets);
    }
}

static void test_softmax_xent_cuda_special_rows_match_ref(void **state) {
    (void)state;
    if (!have_gpu) skip();
    enum { N = 8, V = 37 };
    dl_rng rng;
    dl_rng_seed(&rng, 71);
    float *x = random_floats(&rng, (size_t)N * V, -3, 3);
    int targets[N] = {0, 1, 2, 3, 4, 5, DL_XENT_IGNORE, 36};
    x[0 * V + 5] = NAN;         /* NaN: probs and loss NaN */
    x[1 * V + 9] = INFINITY;    /* +inf: no softmax */
    for (int j = 0; j < V; j++) /* all −inf: no softmax */
        x[2 * V + j] = -INFINITY;
    x[3 * V + 3] = -INFINITY; /* −inf target logit: loss +inf */
    x[4 * V + 4] = 1e30f;     /* ±1e30: finite loss */
    x[4 * V + 7] = -1e30f;
    x[5 * V + 0] = 1e30f;       /* the target is the small one: loss 1e30 */
    x[6 * V + 2] = NAN;         /* ignored row with a NaN: loss 0 */
    for (int j = 0; j < V; j++) /* all equal */
        x[7 * V + j] = 2.5f;
    /* Rows without a softmax get NaN gradients on both sides; the comparison is NaN-aware. */
    check_softmax_xent(N, V, x, targets, 1.0f, "special rows");
    free(x);
}

static void test_softmax_xent_cuda_bad_target_gives_nan_loss_and_no_gradient(void **state) {
    (void)state;
    if (!have_gpu) skip();
    enum { N = 3, V = 5 };
    const dl_variant *cuda = find("softmax_xent", "cuda");
    float logits[N * V] = {0}, zeros[N * V] = {0}, losses[N], mean = 0, dl[N * V];
    int targets[N] = {1, 7, DL_XENT_IGNORE}; /* 7 is outside [0, 5) */
    float *d_logits = to_device(logits, sizeof logits), *d_probs = to_device(zeros, sizeof zeros);
    float *d_losses = to_device(zeros, sizeof losses), *d_mean = to_device(&mean, 4);
    float *d_dl = to_device(zeros, sizeof zeros);
    int *d_targets = to_device(targets, sizeof targets);
    dl_softmax_xent_args d = {.N = N,
                              .V = V,
                              .logits = d_logits,
                              .targets = d_targets,
                              .probs = d_probs,
                              .losses = d_losses,
                              .mean_loss = d_mean,
                              .dloss_scale = 1.0f,
                              .dlogits = d_dl};
    DL_OK_OR_FAIL(dl_softmax_xent_forward(cuda, &d));
    DL_OK_OR_FAIL(dl_softmax_xent_backward(cuda, &d));
    to_host(losses, d_losses, sizeof losses);
    to_host(&mean, d_mean, 4);
    to_host(dl, d_dl, sizeof dl);
    assert_true(isfinite(losses[0]));
    assert_true(isnan(losses[1]));
    assert_true(losses[2] == 0.0f);
    assert_true(isnan(mean));
    for (int j = 0; j < V; j++) {
        assert_true(dl[1 * V + j] == 0.0f); /* no gradient for the bad row */
        assert_true(dl[2 * V + j] == 0.0f); /* nor for the ignored one */
        /* row 0: (p − onehot)/2 with p = 1/5 and 2 valid rows (the bad one counts) */
        assert_true(fabsf(dl[j] - ((0.2f - (j == 1 ? 1.0f : 0.0f)) / 2.0f)) < 1e-6f);
    }
    device_free(d_logits), device_free(d_probs), device_free(d_losses), device_free(d_mean);
    device_free(d_dl), device_free(d_targets);
}

/* ------------------------------------------------------------------ embedding */

typedef struct embedding_shape {
    int B, T, C, V, maxT;
} embedding_shape;

static const embedding_shape EMBEDDING_SHAPES[] = {
    {1, 1, 1, 1, 1},         {2, 5, 3, 4, 7},     {4, 64, 96, 65, 64},
    {3, 100, 33, 1000, 128}, {8, 37, 129, 2, 40}, /* V = 2: every token repeats ~150 times */
    {16, 256, 64, 65, 256},                       /* 4096 positions: the char GPT's batch */
};

static void test_embedding_cuda_matches_ref_bit_for_bit(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const dl_variant *ref = find("embedding", "ref"), *cuda = find("embedding", "cuda");
    uint64_t seed = 81;
    for (size_t s = 0; s < sizeof EMBEDDING_SHAPES / sizeof EMBEDDING_SHAPES[0]; s++) {
        for (int wanted = 1; wanted <= 3; wanted++) { /* bit 0: dwte, bit 1: dwpe */
            const embedding_shape sh = EMBEDDING_SHAPES[s];
            const size_t P = (size_t)sh.B * sh.T, nout = P * sh.C;
            const size_t nte = (size_t)sh.V * sh.C, npe = (size_t)sh.maxT * sh.C;
            char what[128];
            dl_rng rng;
            dl_rng_seed(&rng, seed++);
            int *tokens = host_ints(P);
            for (size_t p = 0; p < P; p++)
                tokens[p] = (int)dl_rng_below(&rng, (uint64_t)sh.V);
            float *wte = random_floats(&rng, nte, -1, 1), *wpe = random_floats(&rng, npe, -1, 1);
            float *dout = random_floats(&rng, nout, -1, 1);
            float *dwte0 = random_floats(&rng, nte, -1, 1),
                  *dwpe0 = random_floats(&rng, npe, -1, 1);

            float *out_ref = host_floats(nout), *dwte_ref = copy_floats(dwte0, nte);
            float *dwpe_ref = copy_floats(dwpe0, npe);
            dl_embedding_args h = {.B = sh.B,
                                   .T = sh.T,
                                   .C = sh.C,
                                   .V = sh.V,
                                   .maxT = sh.maxT,
                                   .tokens = tokens,
                                   .wte = wte,
                                   .wpe = wpe,
                                   .out = out_ref,
                                   .dout = dout,
                                   .dwte = wanted & 1 ? dwte_ref : NULL,
                                   .dwpe = wanted & 2 ? dwpe_ref : NULL};
            DL_OK_OR_FAIL(dl_embedding_forward(ref, &h));
            DL_OK_OR_FAIL(dl_embedding_backward(ref, &h));

            float *nan = nan_floats(nout);
            int *d_tokens = to_device(tokens, P * sizeof(int));
            float *d_wte = to_device(wte, nte * 4), *d_wpe = to_device(wpe, npe * 4);
            float *d_out = to_device(nan, nout * 4), *d_dout = to_device(dout, nout * 4);
            float *d_dwte = to_device(dwte0, nte * 4), *d_dwpe = to_device(dwpe0, npe * 4);
            dl_embedding_args d = {.B = sh.B,
                                   .T = sh.T,
                                   .C = sh.C,
                                   .V = sh.V,
                                   .maxT = sh.maxT,
                                   .tokens = d_tokens,
                                   .wte = d_wte,
                                   .wpe = d_wpe,
                                   .out = d_out,
                                   .dout = d_dout,
                                   .dwte = wanted & 1 ? d_dwte : NULL,
                                   .dwpe = wanted & 2 ? d_dwpe : NULL};
            DL_OK_OR_FAIL(dl_embedding_forward(cuda, &d));
            DL_OK_OR_FAIL(dl_embedding_backward(cuda, &d));
            float *out = host_floats(nout), *dwte = host_floats(nte), *dwpe = host_floats(npe);
            to_host(out, d_out, nout * 4);
            to_host(dwte, d_dwte, nte * 4);
            to_host(dwpe, d_dwpe, npe * 4);
#define EMB_WHAT(tensor)                                                                           \
    (snprintf(what, sizeof what, "embedding cuda B=%d T=%d C=%d V=%d wanted=%d " tensor, sh.B,     \
              sh.T, sh.C, sh.V, wanted),                                                           \
     what)
            expect_same_bits(out, out_ref, nout, EMB_WHAT("out"));
            expect_same_bits(dwte, dwte_ref, nte, EMB_WHAT("dwte"));
            expect_same_bits(dwpe, dwpe_ref, npe, EMB_WHAT("dwpe"));
#undef EMB_WHAT
            device_free(d_tokens), device_free(d_wte), device_free(d_wpe), device_free(d_out);
            device_free(d_dout), device_free(d_dwte), device_free(d_dwpe);
            free(tokens), free(wte), free(wpe), free(dout), free(dwte0), free(dwpe0);
            free(out_ref), free(dwte_ref), free(dwpe_ref), free(nan), free(out), free(dwte);
            free(dwpe);
        }
    }
}

static void test_embedding_cuda_bad_token_gives_nan_row_and_no_gradient(void **state) {
    (void)state;
    if (!have_gpu) skip();
    enum { B = 1, T = 3, C = 4, V = 2 };
    const dl_variant *cuda = find("embedding", "cuda");
    int tokens[B * T] = {1, 5, -1}; /* 5 and −1 are outside [0, 2) */
    float wte[V * C] = {1, 2, 3, 4, 5, 6, 7, 8}, wpe[T * C] = {0}, out[B * T * C] = {0};
    float dout[B * T * C], zeros[V * C] = {0}, dwte[V * C];
    for (int i = 0; i < B * T * C; i++)
        dout[i] = 1.0f;
    int *d_tokens = to_device(tokens, sizeof tokens);
    float *d_wte = to_device(wte, sizeof wte), *d_wpe = to_device(wpe, sizeof wpe);
    float *d_out = to_device(out, sizeof out), *d_dout = to_device(dout, sizeof dout);
    float *d_dwte = to_device(zeros, sizeof zeros);
    dl_embedding_args d = {.B = B,
                           .T = T,
                           .C = C,
                           .V = V,
                           .maxT = T,
                           .tokens = d_tokens,
                           .wte = d_wte,
                           .wpe = d_wpe,
                           .out = d_out,
                           .dout = d_dout,
                           .dwte = d_dwte};
    DL_OK_OR_FAIL(dl_embedding_forward(cuda, &d));
    DL_OK_OR_FAIL(dl_embedding_backward(cuda, &d));
    to_host(out, d_out, sizeof out);
    to_host(dwte, d_dwte, sizeof dwte);
    for (int c = 0; c < C; c++) {
        assert_true(out[0 * C + c] == wte[1 * C + c]);
        assert_true(isnan(out[1 * C + c]));
        assert_true(isnan(out[2 * C + c]));
        assert_true(dwte[0 * C + c] == 0.0f); /* token 0 never appears */
        assert_true(dwte[1 * C + c] == 1.0f); /* token 1 once; the bad ones add nothing */
    }
    device_free(d_tokens), device_free(d_wte), device_free(d_wpe), device_free(d_out);
    device_free(d_dout), device_free(d_dwte);
}

/* ------------------------------------------------------------------ optim */

static const size_t OPTIM_SIZES[] = {1, 7, 33, 1000, 65536 + 13};

static void test_optim_cuda_sgd_matches_ref_bit_for_bit(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const dl_variant *ref = find("optim", "ref"), *cuda = find("optim", "cuda");
    static const struct {
        float momentum, weight_decay;
        bool nesterov;
    } CASES[] = {{0, 0, false},
                 {0, 0.01f, false},
                 {0.9f, 0, false},
                 {0.9f, 1e-4f, false},
                 {0.9f, 0.01f, true}};
    uint64_t seed = 91;
    for (size_t s = 0; s < sizeof OPTIM_SIZES / sizeof OPTIM_SIZES[0]; s++) {
        for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
            const size_t n = OPTIM_SIZES[s], bytes = n * 4;
            char what[128];
            dl_rng rng;
            dl_rng_seed(&rng, seed++);
            float *p_ref = random_floats(&rng, n, -1, 1), *buf_ref = host_floats(n);
            memset(buf_ref, 0, bytes);
            float *d_p = to_device(p_ref, bytes), *d_buf = to_device(buf_ref, bytes);
            float *grad = host_floats(n), *d_grad = to_device(p_ref, bytes);
            const bool momentum = CASES[k].momentum > 0.0f;
            for (int step = 0; step < 4; step++) { /* a few steps: momentum carries state */
                dl_rng_fill_uniform(&rng, grad, n, -1, 1);
                CUDA_OK(cudaMemcpy(d_grad, grad, bytes, cudaMemcpyHostToDevice));
                dl_sgd_args h = {.n = n,
                                 .param = p_ref,
                                 .grad = grad,
                                 .momentum_buf = momentum ? buf_ref : NULL,
                                 .lr = 0.05f,
                                 .momentum = CASES[k].momentum,
                                 .weight_decay = CASES[k].weight_decay,
                                 .nesterov = CASES[k].nesterov};
                DL_OK_OR_FAIL(dl_sgd_run(ref, &h));
                dl_sgd_args d = h;
                d.param = d_p;
                d.grad = d_grad;
                d.momentum_buf = momentum ? d_buf : NULL;
                DL_OK_OR_FAIL(dl_sgd_run(cuda, &d));
                CUDA_OK(cudaDeviceSynchronize()); /* grad is overwritten next step */
            }
            float *p = host_floats(n), *buf = host_floats(n);
            to_host(p, d_p, bytes);
            to_host(buf, d_buf, bytes);
            snprintf(what, sizeof what, "sgd cuda n=%zu case %zu param", n, k);
            expect_same_bits(p, p_ref, n, what);
            snprintf(what, sizeof what, "sgd cuda n=%zu case %zu momentum_buf", n, k);
            expect_same_bits(buf, buf_ref, n, what);
            device_free(d_p), device_free(d_buf), device_free(d_grad);
            free(p_ref), free(buf_ref), free(grad), free(p), free(buf);
        }
    }
}

static void test_optim_cuda_adamw_matches_ref_bit_for_bit(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const dl_variant *ref = find("optim", "ref"), *cuda = find("optim", "cuda");
    static const float WEIGHT_DECAYS[] = {0.0f, 0.1f};
    uint64_t seed = 101;
    for (size_t s = 0; s < sizeof OPTIM_SIZES / sizeof OPTIM_SIZES[0]; s++) {
        for (size_t k = 0; k < sizeof WEIGHT_DECAYS / sizeof WEIGHT_DECAYS[0]; k++) {
            const size_t n = OPTIM_SIZES[s], bytes = n * 4;
            char what[128];
            dl_rng rng;
            dl_rng_seed(&rng, seed++);
            float *p_ref = random_floats(&rng, n, -1, 1);
            float *m_ref = host_floats(n), *v_ref = host_floats(n), *grad = host_floats(n);
            memset(m_ref, 0, bytes);
            memset(v_ref, 0, bytes);
            float *d_p = to_device(p_ref, bytes), *d_m = to_device(m_ref, bytes);
            float *d_v = to_device(v_ref, bytes), *d_grad = to_device(p_ref, bytes);
            for (long step = 1; step <= 5; step++) {
                dl_rng_fill_uniform(&rng, grad, n, -1, 1);
                if (n > 3) grad[3] = 1e-30f; /* tiny values: denormals must match too */
                CUDA_OK(cudaMemcpy(d_grad, grad, bytes, cudaMemcpyHostToDevice));
                dl_adamw_args h = {.n = n,
                                   .param = p_ref,
                                   .grad = grad,
                                   .m = m_ref,
                                   .v = v_ref,
                                   .lr = 1e-3f,
                                   .beta1 = 0.9f,
                                   .beta2 = 0.999f,
                                   .eps = 1e-8f,
                                   .weight_decay = WEIGHT_DECAYS[k],
                                   .step = step};
                DL_OK_OR_FAIL(dl_adamw_run(ref, &h));
                dl_adamw_args d = h;
                d.param = d_p;
                d.grad = d_grad;
                d.m = d_m;
                d.v = d_v;
                DL_OK_OR_FAIL(dl_adamw_run(cuda, &d));
                CUDA_OK(cudaDeviceSynchronize());
            }
            float *p = host_floats(n), *m = host_floats(n), *v = host_floats(n);
            to_host(p, d_p, bytes);
            to_host(m, d_m, bytes);
            to_host(v, d_v, bytes);
            snprintf(what, sizeof what, "adamw cuda n=%zu wd=%g param", n,
                     (double)WEIGHT_DECAYS[k]);
            expect_same_bits(p, p_ref, n, what);
            snprintf(what, sizeof what, "adamw cuda n=%zu wd=%g m", n, (double)WEIGHT_DECAYS[k]);
            expect_same_bits(m, m_ref, n, what);
            snprintf(what, sizeof what, "adamw cuda n=%zu wd=%g v", n, (double)WEIGHT_DECAYS[k]);
            expect_same_bits(v, v_ref, n, what);
            device_free(d_p), device_free(d_m), device_free(d_v), device_free(d_grad);
            free(p_ref), free(m_ref), free(v_ref), free(grad), free(p), free(m), free(v);
        }
    }
}

/* ------------------------------------------------------------------ misuse */

/* A host pointer is refused with a message, and the CUDA context still works afterwards. */
static void test_cuda_variants_refuse_host_pointers(void **state) {
    (void)state;
    if (!have_gpu) skip();
    int device = 0, pageable = 0;
    CUDA_OK(cudaGetDevice(&device));
    CUDA_OK(cudaDeviceGetAttribute(&pageable, cudaDevAttrPageableMemoryAccess, device));
    if (pageable) skip(); /* HMM/ATS: the GPU can read host memory, so it is not an error */
    enum { n = 64 };
    float host[n] = {0};
    float *d = to_device(host, sizeof host);
    dl_act_args a = {.n = n, .inp = host, .out = d};
    assert_int_equal(dl_act_forward(find("relu", "cuda"), &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "host memory"));
    dl_residual_args r = {.n = n, .a = d, .b = d, .out = host};
    assert_int_equal(dl_residual_forward(find("residual", "cuda"), &r), DL_ERR_ARG);
    CUDA_OK(cudaDeviceSynchronize());
    device_free(d);
}

/* ------------------------------------------------------------------ main */

int main(void) {
    have_gpu = dl_cuda_device_count() > 0;
    if (!have_gpu) printf("gpu_ops: no CUDA device, skipped\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_family_registers_its_cuda_variant),
        cmocka_unit_test(test_relu_cuda_matches_ref),
        cmocka_unit_test(test_gelu_cuda_matches_ref_including_special_values),
        cmocka_unit_test(test_residual_cuda_matches_ref_with_either_gradient_missing),
        cmocka_unit_test(test_linear_cublas_matches_ref_forward_and_accumulating_backward),
        cmocka_unit_test(test_layernorm_cuda_matches_ref_forward_and_accumulating_backward),
        cmocka_unit_test(test_softmax_xent_cuda_matches_ref_on_odd_shapes),
        cmocka_unit_test(test_softmax_xent_cuda_special_rows_match_ref),
        cmocka_unit_test(test_softmax_xent_cuda_bad_target_gives_nan_loss_and_no_gradient),
        cmocka_unit_test(test_embedding_cuda_matches_ref_bit_for_bit),
        cmocka_unit_test(test_embedding_cuda_bad_token_gives_nan_row_and_no_gradient),
        cmocka_unit_test(test_optim_cuda_sgd_matches_ref_bit_for_bit),
        cmocka_unit_test(test_optim_cuda_adamw_matches_ref_bit_for_bit),
        cmocka_unit_test(test_cuda_variants_refuse_host_pointers),
    };
    return cmocka_run_group_tests_name("gpu_ops", tests, NULL, NULL) == 0 ? 0 : 1;
}
