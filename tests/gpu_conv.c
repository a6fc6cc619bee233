/* gpu_conv.c — the CUDA variants of the "conv2d" family (cudnn) and of the "maxpool" family
 * (cuda, cudnn) against their CPU `ref`.
 *
 * Each check builds inputs on the host, runs `ref` there and the CUDA variant on device copies
 * through the family's public dispatch, copies the results back and compares. Shapes are odd
 * on purpose: N, C 1..5, H, W 1..17 (often H != W), K 1..5 (conv: KH != KW too), stride 1..3,
 * conv pad 0..2; a fixed list of edge shapes, then a seeded random sweep. Backward passes start
 * from NON-ZERO gradients (both families accumulate) and conv's leaves out every subset of
 * dinp / dweight / dbias in turn. Forward outputs start as NaN on the device, so an element the
 * variant forgets to write fails.
 *
 * Tolerances:
 *   conv2d (sums of up to 5·5·5 = 125 products in the forward, 5·17·17 terms in dbias)
 *     max|got − ref| ≤ 1e-4 · max|ref| over each tensor (ref sums in double);
 *   conv2d fp32-not-TF32: 1e-5 elementwise on inputs that TF32 would round (see that test);
 *   maxpool: argmax and dinp bit for bit (the gather adds in ref's order); out bit for bit
 *     for cuda, equal as values (NaN meets NaN) for cudnn, whose zeros may carry either sign.
 *
 * Run by `make test-gpu`. Without a GPU it prints one line saying so and exits 0; a variant
 * whose `available` is false (cudnn in a build without cuDNN) is skipped with a note.
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

static void *host_alloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    assert_non_null(p);
    return p;
}
static float *random_floats(dl_rng *r, size_t n, float lo, float hi) {
    float *p = host_alloc(n * sizeof(float));
    dl_rng_fill_uniform(r, p, n, lo, hi);
    return p;
}
static float *copy_floats(const float *x, size_t n) {
    float *p = host_alloc(n * sizeof(float));
    if (n) memcpy(p, x, n * sizeof(float));
    return p;
}
static float *nan_floats(size_t n) {
    float *p = host_alloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        p[i] = NAN;
    return p;
}

/* A device copy of `bytes` bytes of host memory (NULL host: NULL device). */
static void *to_device(const void *host, size_t bytes) {
    if (!host) return NULL;
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

static size_t max3(size_t a, size_t b, size_t c) {
    const size_t ab = a > b ? a : b;
    return ab > c ? ab : c;
}

/* Reductions: max|got − want| ≤ rtol · max|want|; NaN must meet NaN. */
static void expect_close_to_scale(const float *got, const float *want, size_t n, double rtol,
                                  const char *what) {
    double max_diff = 0.0, max_ref = 0.0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) {
        const double g = got[i], w = want[i];
        if (isnan(g) || isnan(w)) {
            if (!(isnan(g) && isnan(w))) fail_msg("%s: [%zu] = %g, reference %g", what, i, g, w);
            continue;
        }
        if (fabs(g - w) > max_diff) max_diff = fabs(g - w), worst = i;
        if (fabs(w) > max_ref) max_ref = fabs(w);
    }
    const double bound = rtol * (max_ref > 0.0 ? max_ref : 1.0);
    if (!(max_diff <= bound))
        fail_msg("%s: max|diff| = %.3g at [%zu] (%.9g vs %.9g) > %.3g = %g·max|ref|", what,
                 max_diff, worst, (double)got[worst], (double)want[worst], bound, rtol);
}

static void expect_same_bits(const void *got, const void *want, size_t n, size_t size,
                             const char *what) {
    const unsigned char *g = got, *w = want;
    for (size_t i = 0; i < n; i++)
        if (memcmp(g + i * size, w + i * size, size) != 0) {
            if (size == sizeof(float)) {
                float gf, wf;
                memcpy(&gf, g + i * size, size), memcpy(&wf, w + i * size, size);
                fail_msg("%s: [%zu] = %.9g, reference %.9g (not the same bits)", what, i,
                         (double)gf, (double)wf);
            }
            int gi, wi;
            memcpy(&gi, g + i * size, sizeof gi), memcpy(&wi, w + i * size, sizeof wi);
            fail_msg("%s: [%zu] = %d, reference %d", what, i, gi, wi);
        }
}

/* Equal as values: == for numbers (so −0 meets +0), NaN meets NaN. */
static void expect_equal_values(const float *got, const float *want, size_t n, const char *what) {
    for (size_t i = 0; i < n; i++)
        if (!(got[i] == want[i] || (isnan(got[i]) && isnan(want[i]))))
            fail_msg("%s: [%zu] = %.9g, reference %.9g", what, i, (double)got[i], (double)want[i]);
}

/* The CUDA rows of a family that can run here, in table order; *count receives how many. */
static int cuda_variants(const char *family, const dl_variant **out, int max) {
    int count = 0, n = 0;
    const dl_variant *const *vs = dl_variants(family, &n);
    for (int i = 0; i < n; i++) {
        if (vs[i]->device != DL_DEVICE_CUDA) continue;
        if (!dl_variant_available(vs[i])) {
            printf("gpu_conv: %s %s is not available in this build, skipped\n", family,
                   vs[i]->name);
            continue;
        }
        if (count < max) out[count++] = vs[i];
    }
    return count;
}

/* ------------------------------------------------------------------ registry */

static void test_registry_lists_the_cuda_conv_and_pool_variants(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const dl_variant *conv = find("conv2d", "cudnn");
    const dl_variant *pool = find("maxpool", "cuda"), *pool_cudnn = find("maxpool", "cudnn");
    assert_int_equal(conv->device, DL_DEVICE_CUDA);
    assert_int_equal(pool->device, DL_DEVICE_CUDA);
    assert_int_equal(pool_cudnn->device, DL_DEVICE_CUDA);
    assert_true(dl_variant_available(pool)); /* needs only a GPU */
    /* The CPU's best stays a CPU variant. */
    assert_int_equal(dl_variant_best_cpu("conv2d")->device, DL_DEVICE_CPU);
    assert_int_equal(dl_variant_best_cpu("maxpool")->device, DL_DEVICE_CPU);
    assert_int_equal(dl_conv2d_best()->device, DL_DEVICE_CPU);
    assert_int_equal(dl_maxpool_best()->device, DL_DEVICE_CPU);
}

/* ------------------------------------------------------------------ conv2d */

/* N, C_in, H, W, C_out, KH, KW, stride, pad */
typedef struct conv_shape {
    int N, C_in, H, W, C_out, KH, KW, stride, pad;
} conv_shape;

static const conv_shape CONV_EDGES[] = {
    {1, 1, 1, 1, 1, 1, 1, 1, 0},    /* one pixel, 1×1 kernel */
    {1, 1, 1, 1, 1, 3, 3, 1, 1},    /* kernel = padded input, one output from padding */
    {2, 3, 7, 7, 4, 3, 3, 1, 1},    /* the common case */
    {3, 2, 5, 9, 3, 2, 4, 3, 2},    /* non-square everything */
    {5, 5, 17, 17, 5, 5, 5, 3, 2},  /* the largest of the sweep */
    {1, 4, 17, 1, 2, 5, 1, 2, 0},   /* a column */
    {2, 1, 2, 16, 3, 1, 5, 1, 2},   /* a wide strip */
    {4, 5, 6, 6, 5, 5, 5, 1, 2},    /* kernel wider than half the padded input */
    {2, 2, 16, 16, 3, 2, 2, 2, 0},  /* stride = kernel: no overlap */
    {8, 1, 28, 28, 16, 5, 5, 1, 2}, /* CNN-sized layers, where cuDNN picks its real algorithms */
    {8, 16, 14, 14, 32, 5, 5, 1, 2},
};

static bool conv_shape_fits(const conv_shape *s) {
    return s->KH <= s->H + 2 * s->pad && s->KW <= s->W + 2 * s->pad;
}

static conv_shape random_conv_shape(dl_rng *r) {
    for (;;) {
        conv_shape s = {
            1 + (int)dl_rng_below(r, 5),  1 + (int)dl_rng_below(r, 5), 1 + (int)dl_rng_below(r, 17),
            1 + (int)dl_rng_below(r, 17), 1 + (int)dl_rng_below(r, 5), 1 + (int)dl_rng_below(r, 5),
            1 + (int)dl_rng_below(r, 5),  1 + (int)dl_rng_below(r, 3), (int)dl_rng_below(r, 3)};
        if (conv_shape_fits(&s)) return s;
    }
}

enum { GRAD_DINP = 1, GRAD_DWEIGHT = 2, GRAD_DBIAS = 4, GRAD_ALL = 7 };

/* One shape through ref and v: forward (with or without bias), then backward into non-zero
 * gradients of which only those in `grads` are given (the others NULL). */
static void check_conv(const dl_variant *v, const conv_shape *s, bool with_bias, int grads,
                       uint64_t seed) {
    const dl_variant *ref = find("conv2d", "ref");
    dl_conv2d_args shape = {.N = s->N,
                            .C_in = s->C_in,
                            .H = s->H,
                            .W = s->W,
                            .C_out = s->C_out,
                            .KH = s->KH,
                            .KW = s->KW,
                            .stride = s->stride,
                            .pad = s->pad};
    const size_t n_inp = (size_t)s->N * s->C_in * s->H * s->W;
    const size_t n_w = (size_t)s->C_out * s->C_in * s->KH * s->KW;
    const size_t n_out =
        (size_t)s->N * s->C_out * dl_conv2d_out_h(&shape) * dl_conv2d_out_w(&shape);
    const size_t n_b = (size_t)s->C_out;
    dl_rng r;
    dl_rng_seed(&r, seed);
    float *inp = random_floats(&r, n_inp, -1, 1), *w = random_floats(&r, n_w, -1, 1);
    float *b = random_floats(&r, n_b, -1, 1), *dout = random_floats(&r, n_out, -1, 1);
    float *dinp0 = random_floats(&r, n_inp, -1, 1), *dw0 = random_floats(&r, n_w, -1, 1);
    float *db0 = random_floats(&r, n_b, -1, 1);

    /* ref on the host */
    float *out_ref = host_alloc(n_out * sizeof(float));
    float *dinp_ref = copy_floats(dinp0, n_inp), *dw_ref = copy_floats(dw0, n_w);
    float *db_ref = copy_floats(db0, n_b);
    dl_conv2d_args h = shape;
    h.inp = inp, h.weight = w, h.bias = with_bias ? b : NULL, h.out = out_ref, h.dout = dout;
    h.dinp = grads & GRAD_DINP ? dinp_ref : NULL;
    h.dweight = grads & GRAD_DWEIGHT ? dw_ref : NULL;
    h.dbias = grads & GRAD_DBIAS ? db_ref : NULL;
    DL_OK_OR_FAIL(dl_conv2d_forward(ref, &h));
    DL_OK_OR_FAIL(dl_conv2d_backward(ref, &h));

    /* the variant on the device */
    float *out_start = nan_floats(n_out);
    dl_conv2d_args d = shape;
    d.inp = to_device(inp, n_inp * sizeof(float));
    d.weight = to_device(w, n_w * sizeof(float));
    d.bias = with_bias ? to_device(b, n_b * sizeof(float)) : NULL;
    d.out = to_device(out_start, n_out * sizeof(float));
    d.dout = to_device(dout, n_out * sizeof(float));
    d.dinp = grads & GRAD_DINP ? to_device(dinp0, n_inp * sizeof(float)) : NULL;
    d.dweight = grads & GRAD_DWEIGHT ? to_device(dw0, n_w * sizeof(float)) : NULL;
    d.dbias = grads & GRAD_DBIAS ? to_device(db0, n_b * sizeof(float)) : NULL;
    DL_OK_OR_FAIL(dl_conv2d_forward(v, &d));
    DL_OK_OR_FAIL(dl_conv2d_backward(v, &d));

    char what[160];
    const int len =
        snprintf(what, sizeof what, "conv2d %s N=%d C_in=%d %dx%d C_out=%d K=%dx%d s=%d p=%d%s",
                 v->name, s->N, s->C_in, s->H, s->W, s->C_out, s->KH, s->KW, s->stride, s->pad,
                 with_bias ? " bias" : "");
    char *tail = what + (len > 0 && (size_t)len < sizeof what - 16 ? len : 0);
    float *got = host_alloc(max3(n_inp, n_w, n_out) * sizeof(float));
    to_host(got, d.out, n_out * sizeof(float));
    strcpy(tail, ": out");
    expect_close_to_scale(got, out_ref, n_out, 1e-4, what);
    if (d.dinp) {
        to_host(got, d.dinp, n_inp * sizeof(float));
        strcpy(tail, ": dinp");
        expect_close_to_scale(got, dinp_ref, n_inp, 1e-4, what);
    }
    if (d.dweight) {
        to_host(got, d.dweight, n_w * sizeof(float));
        strcpy(tail, ": dweight");
        expect_close_to_scale(got, dw_ref, n_w, 1e-4, what);
    }
    if (d.dbias) {
        to_host(got, d.dbias, n_b * sizeof(float));
        strcpy(tail, ": dbias");
        expect_close_to_scale(got, db_ref, n_b, 1e-4, what);
    }

    device_free((void *)d.inp), device_free((void *)d.weight), device_free((void *)d.bias);
    device_free(d.out), device_free((void *)d.dout), device_free(d.dinp);
    device_free(d.dweight), device_free(d.dbias);
    free(inp), free(w), free(b), free(dout), free(dinp0), free(dw0), free(db0);
    free(out_ref), free(dinp_ref), free(dw_ref), free(db_ref), free(out_start), free(got);
}

static void test_conv2d_cuda_variants_match_ref_on_edge_shapes(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const dl_variant *vs[8];
    const int nv = cuda_variants("conv2d", vs, 8);
    for (int i = 0; i < nv; i++)
        for (size_t k = 0; k < sizeof CONV_EDGES / sizeof CONV_EDGES[0]; k++)
            for (int bias = 0; bias < 2; bias++)
                check_conv(vs[i], &CONV_EDGES[k], bias, GRAD_ALL, 100 + 2 * k + (size_t)bias);
}

/* 200 random shapes; the gradient subset cycles through all 8, so each is seen ~25 times. */
static void test_conv2d_cuda_variants_match_ref_on_random_shapes_and_null_gradients(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const dl_variant *vs[8];
    const int nv = cuda_variants("conv2d", vs, 8);
    for (int i = 0; i < nv; i++) {
        dl_rng r;
        dl_rng_seed(&r, 2026);
        for (int k = 0; k < 200; k++) {
            const conv_shape s = random_conv_shape(&r);
            check_conv(vs[i], &s, k % 3 != 0, k % 8, 1000 + (uint64_t)k);
        }
    }
}

/* TF32 keeps 10 mantissa bits: it rounds 1 + 2^-12 to 1. With every input and dout equal to
 * that and every weight 1, fp32 gives out = dinp = (number of terms)·(1 + 2^-12), exactly, and
 * dweight = terms·(1 + 2^-12)² to a few ulp; TF32 would be 2.4e-4 (out, dinp) and 4.9e-4
 * (dweight) low, far outside 1e-5. */
static void test_conv2d_cuda_variants_compute_in_fp32_not_tf32(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const conv_shape s = {2, 16, 9, 9, 8, 3, 3, 1, 0};
    const float v = 1.0f + 0x1p-12f;
    const dl_variant *vs[8];
    const int nv = cuda_variants("conv2d", vs, 8);
    dl_conv2d_args shape = {.N = s.N,
                            .C_in = s.C_in,
                            .H = s.H,
                            .W = s.W,
                            .C_out = s.C_out,
                            .KH = s.KH,
                            .KW = s.KW,
                            .stride = s.stride,
                            .pad = s.pad};
    const int OH = dl_conv2d_out_h(&shape), OW = dl_conv2d_out_w(&shape);
    const size_t n_inp = (size_t)s.N * s.C_in * s.H * s.W, n_w = (size_t)s.C_out * s.C_in * 9;
    const size_t n_out = (size_t)s.N * s.C_out * OH * OW;
    float *inp = host_alloc(n_inp * sizeof(float)), *w = host_alloc(n_w * sizeof(float));
    float *dout = host_alloc(n_out * sizeof(float)), *zeros_in = calloc(n_inp, sizeof(float));
    float *zeros_w = calloc(n_w, sizeof(float));
    assert_non_null(zeros_in), assert_non_null(zeros_w);
    for (size_t i = 0; i < n_inp; i++)
        inp[i] = v;
    for (size_t i = 0; i < n_w; i++)
        w[i] = 1.0f;
    for (size_t i = 0; i < n_out; i++)
        dout[i] = v;
    float *got = host_alloc(max3(n_inp, n_w, n_out) * sizeof(float));
    for (int i = 0; i < nv; i++) {
        dl_conv2d_args d = shape;
        d.inp = to_device(inp, n_inp * sizeof(float));
        d.weight = to_device(w, n_w * sizeof(float));
        d.out = to_device(dout, n_out * sizeof(float)); /* overwritten */
        d.dout = to_device(dout, n_out * sizeof(float));
        d.dinp = to_device(zeros_in, n_inp * sizeof(float));
        d.dweight = to_device(zeros_w, n_w * sizeof(float));
        DL_OK_OR_FAIL(dl_conv2d_forward(vs[i], &d));
        DL_OK_OR_FAIL(dl_conv2d_backward(vs[i], &d));
        /* forward: every output window lies inside the image (pad 0): C_in·9 terms */
        to_host(got, d.out, n_out * sizeof(float));
        const double want_out = (double)s.C_in * 9 * v;
        for (size_t j = 0; j < n_out; j++)
            if (!(fabs(got[j] - want_out) <= 1e-5 * want_out))
                fail_msg("conv2d %s out[%zu] = %.9g, fp32 gives %.9g (TF32 would give %.9g)",
                         vs[i]->name, j, (double)got[j], want_out, (double)s.C_in * 9);
        /* dweight[co,ci,kh,kw] = Σ_{n,oh,ow} dout·inp: N·OH·OW terms of v² */
        to_host(got, d.dweight, n_w * sizeof(float));
        const double want_dw = (double)s.N * OH * OW * (double)v * v;
        for (size_t j = 0; j < n_w; j++)
            if (!(fabs(got[j] - want_dw) <= 1e-5 * want_dw))
                fail_msg("conv2d %s dweight[%zu] = %.9g, fp32 gives %.9g", vs[i]->name, j,
                         (double)got[j], want_dw);
        /* dinp at the centre pixel (4,4) of each plane: covered by all 9 windows positions of
         * the 3×3 kernel, C_out of them each: C_out·9 terms of v */
        to_host(got, d.dinp, n_inp * sizeof(float));
        const double want_dinp = (double)s.C_out * 9 * v;
        for (size_t plane = 0; plane < (size_t)s.N * s.C_in; plane++) {
            const float g = got[plane * s.H * s.W + 4 * s.W + 4];
            if (!(fabs(g - want_dinp) <= 1e-5 * want_dinp))
                fail_msg("conv2d %s dinp centre of plane %zu = %.9g, fp32 gives %.9g", vs[i]->name,
                         plane, (double)g, want_dinp);
        }
        device_free((void *)d.inp), device_free((void *)d.weight), device_free(d.out);
        device_free((void *)d.dout), device_free(d.dinp), device_free(d.dweight);
    }
    free(inp), free(w), free(dout), free(zeros_in), free(zeros_w), free(got);
}

/* ------------------------------------------------------------------ maxpool */

/* N, C, H, W, K, stride */
typedef struct pool_shape {
    int N, C, H, W, K, stride;
} pool_shape;

static const pool_shape POOL_EDGES[] = {
    {1, 1, 1, 1, 1, 1},     {1, 1, 4, 4, 2, 2},   {1, 1, 4, 4, 3, 1},    {2, 3, 7, 9, 2, 2},
    {3, 2, 5, 5, 3, 1},     {1, 2, 13, 11, 3, 2}, {1, 1, 4, 4, 4, 4},    {5, 5, 17, 17, 5, 3},
    {2, 4, 17, 5, 5, 1},    {1, 3, 1, 17, 1, 3},  {8, 16, 28, 28, 2, 2}, /* the CNN's first pool */
    {64, 32, 32, 32, 2, 2}, /* 2M inputs: grid-stride */
};

static pool_shape random_pool_shape(dl_rng *r) {
    pool_shape s = {1 + (int)dl_rng_below(r, 5),
                    1 + (int)dl_rng_below(r, 5),
                    1 + (int)dl_rng_below(r, 17),
                    1 + (int)dl_rng_below(r, 17),
                    1,
                    1 + (int)dl_rng_below(r, 3)};
    const int k_max = s.H < s.W ? s.H : s.W;
    s.K = 1 + (int)dl_rng_below(r, (uint64_t)(k_max < 5 ? k_max : 5));
    return s;
}

/* Values from {−1, −½, 0, ½, 1} (many ties), a zero's sign at random, and about 3% each of
 * NaN, +inf and −inf: every rule of maxpool.h shows up in most windows of K >= 2. */
static float *pool_input(dl_rng *r, size_t n) {
    float *x = host_alloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        const uint64_t pick = dl_rng_below(r, 100);
        if (pick < 3)
            x[i] = NAN;
        else if (pick < 6)
            x[i] = INFINITY;
        else if (pick < 9)
            x[i] = -INFINITY;
        else {
            x[i] = 0.5f * ((float)dl_rng_below(r, 5) - 2.0f);
            if (x[i] == 0.0f && dl_rng_below(r, 2)) x[i] = -0.0f;
        }
    }
    return x;
}

static void check_pool(const dl_variant *v, const pool_shape *s, uint64_t seed) {
    const dl_variant *ref = find("maxpool", "ref");
    dl_maxpool_args shape = {
        .N = s->N, .C = s->C, .H = s->H, .W = s->W, .K = s->K, .stride = s->stride};
    const size_t n_in = (size_t)s->N * s->C * s->H * s->W;
    const size_t n_out = (size_t)s->N * s->C * dl_maxpool_out_h(&shape) * dl_maxpool_out_w(&shape);
    dl_rng r;
    dl_rng_seed(&r, seed);
    float *inp = pool_input(&r, n_in), *dout = random_floats(&r, n_out, -1, 1);
    float *dinp0 = random_floats(&r, n_in, -1, 1);
    for (size_t i = 0; i < n_in; i += 7) /* a pixel no window picks must keep its −0 */
        dinp0[i] = -0.0f;

    float *out_ref = host_alloc(n_out * sizeof(float)), *dinp_ref = copy_floats(dinp0, n_in);
    int *argmax_ref = host_alloc(n_out * sizeof(int));
    dl_maxpool_args h = shape;
    h.inp = inp, h.out = out_ref, h.argmax = argmax_ref, h.dout = dout, h.dinp = dinp_ref;
    DL_OK_OR_FAIL(dl_maxpool_forward(ref, &h));
    DL_OK_OR_FAIL(dl_maxpool_backward(ref, &h));

    float *out_start = nan_floats(n_out);
    int *argmax_start = host_alloc(n_out * sizeof(int));
    memset(argmax_start, 0xff, n_out * sizeof(int)); /* −1: not a position */
    dl_maxpool_args d = shape;
    d.inp = to_device(inp, n_in * sizeof(float));
    d.out = to_device(out_start, n_out * sizeof(float));
    d.argmax = to_device(argmax_start, n_out * sizeof(int));
    d.dout = to_device(dout, n_out * sizeof(float));
    d.dinp = to_device(dinp0, n_in * sizeof(float));
    DL_OK_OR_FAIL(dl_maxpool_forward(v, &d));
    DL_OK_OR_FAIL(dl_maxpool_backward(v, &d));

    char what[128];
    float *out = host_alloc(n_out * sizeof(float)), *dinp = host_alloc(n_in * sizeof(float));
    int *argmax = host_alloc(n_out * sizeof(int));
    to_host(out, d.out, n_out * sizeof(float));
    to_host(argmax, d.argmax, n_out * sizeof(int));
    to_host(dinp, d.dinp, n_in * sizeof(float));
    snprintf(what, sizeof what, "maxpool %s N=%d C=%d %dx%d K=%d s=%d: out", v->name, s->N, s->C,
             s->H, s->W, s->K, s->stride);
    if (strcmp(v->name, "cudnn") == 0)
        expect_equal_values(out, out_ref, n_out, what);
    else
        expect_same_bits(out, out_ref, n_out, sizeof(float), what);
    snprintf(what, sizeof what, "maxpool %s N=%d C=%d %dx%d K=%d s=%d: argmax", v->name, s->N, s->C,
             s->H, s->W, s->K, s->stride);
    expect_same_bits(argmax, argmax_ref, n_out, sizeof(int), what);
    snprintf(what, sizeof what, "maxpool %s N=%d C=%d %dx%d K=%d s=%d: dinp", v->name, s->N, s->C,
             s->H, s->W, s->K, s->stride);
    expect_same_bits(dinp, dinp_ref, n_in, sizeof(float), what);

    device_free((void *)d.inp), device_free(d.out), device_free(d.argmax);
    device_free((void *)d.dout), device_free(d.dinp);
    free(inp), free(dout), free(dinp0), free(out_ref), free(dinp_ref), free(argmax_ref);
    free(out_start), free(argmax_start), free(out), free(dinp), free(argmax);
}

static void test_maxpool_cuda_variants_match_ref_on_edge_shapes(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const dl_variant *vs[8];
    const int nv = cuda_variants("maxpool", vs, 8);
    for (int i = 0; i < nv; i++)
        for (size_t k = 0; k < sizeof POOL_EDGES / sizeof POOL_EDGES[0]; k++)
            check_pool(vs[i], &POOL_EDGES[k], 300 + k);
}

static void test_maxpool_cuda_variants_match_ref_on_random_shapes_with_ties_nan_inf(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const dl_variant *vs[8];
    const int nv = cuda_variants("maxpool", vs, 8);
    for (int i = 0; i < nv; i++) {
        dl_rng r;
        dl_rng_seed(&r, 2027);
        for (int k = 0; k < 300; k++) {
            const pool_shape s = random_pool_shape(&r);
            check_pool(vs[i], &s, 5000 + (uint64_t)k);
        }
    }
}

/* The family's worked example (test_maxpool.c): a NaN wins its window and gets the gradient,
 * ties go to the first, −inf and +inf are ordinary values. */
static void test_maxpool_cuda_variants_follow_the_nan_tie_inf_rules(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const float in[16] = {1,         NAN,       3,        3, 7,         NAN,       2, 3,
                          -INFINITY, -INFINITY, INFINITY, 0, -INFINITY, -INFINITY, 5, INFINITY};
    const float dout[4] = {1, 2, 3, 4};
    const float zeros[16] = {0};
    const int want_argmax[4] = {1, 2, 8, 10};
    const dl_variant *vs[8];
    const int nv = cuda_variants("maxpool", vs, 8);
    for (int i = 0; i < nv; i++) {
        dl_maxpool_args d = {.N = 1, .C = 1, .H = 4, .W = 4, .K = 2, .stride = 2};
        d.inp = to_device(in, sizeof in);
        d.out = to_device(zeros, 4 * sizeof(float));
        d.argmax = to_device(zeros, 4 * sizeof(int));
        d.dout = to_device(dout, sizeof dout);
        d.dinp = to_device(zeros, sizeof zeros);
        DL_OK_OR_FAIL(dl_maxpool_forward(vs[i], &d));
        DL_OK_OR_FAIL(dl_maxpool_backward(vs[i], &d));
        float out[4], dinp[16];
        int argmax[4];
        to_host(out, d.out, sizeof out);
        to_host(argmax, d.argmax, sizeof argmax);
        to_host(dinp, d.dinp, sizeof dinp);
        assert_true(isnan(out[0]));
        assert_true(out[1] == 3 && out[2] == -INFINITY && out[3] == INFINITY);
        assert_memory_equal(argmax, want_argmax, sizeof argmax);
        assert_true(dinp[1] == 1 && dinp[2] == 2 && dinp[8] == 3 && dinp[10] == 4);
        device_free((void *)d.inp), device_free(d.out), device_free(d.argmax);
        device_free((void *)d.dout), device_free(d.dinp);
    }
}

/* ------------------------------------------------------------------ empty and misuse */

static void test_cuda_variants_accept_an_empty_batch(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const dl_variant *vs[8];
    int nv = cuda_variants("conv2d", vs, 8);
    for (int i = 0; i < nv; i++) {
        dl_conv2d_args a = {
            .N = 0, .C_in = 3, .H = 5, .W = 5, .C_out = 2, .KH = 3, .KW = 3, .stride = 1, .pad = 1};
        DL_OK_OR_FAIL(dl_conv2d_forward(vs[i], &a));
        DL_OK_OR_FAIL(dl_conv2d_backward(vs[i], &a));
    }
    nv = cuda_variants("maxpool", vs, 8);
    for (int i = 0; i < nv; i++) {
        dl_maxpool_args a = {.N = 0, .C = 3, .H = 4, .W = 4, .K = 2, .stride = 2};
        DL_OK_OR_FAIL(dl_maxpool_forward(vs[i], &a));
        DL_OK_OR_FAIL(dl_maxpool_backward(vs[i], &a));
    }
    CUDA_OK(cudaDeviceSynchronize());
}

/* A host pointer is refused with a message, and the CUDA context still works afterwards. */
static void test_cuda_variants_refuse_host_pointers(void **state) {
    (void)state;
    if (!have_gpu) skip();
    int device = 0, pageable = 0;
    CUDA_OK(cudaGetDevice(&device));
    CUDA_OK(cudaDeviceGetAttribute(&pageable, cudaDevAttrPageableMemoryAccess, device));
    if (pageable) skip(); /* HMM/ATS: the GPU can read host memory, so it is not an error */
    static float host[64];
    static int host_argmax[16];
    float *d = to_device(host, sizeof host);
    const dl_variant *vs[8];
    int nv = cuda_variants("conv2d", vs, 8);
    for (int i = 0; i < nv; i++) {
        dl_conv2d_args a = {.N = 1,
                            .C_in = 1,
                            .H = 4,
                            .W = 4,
                            .C_out = 1,
                            .KH = 3,
                            .KW = 3,
                            .stride = 1,
                            .pad = 0,
                            .inp = host,
                            .weight = d,
                            .out = d};
        assert_int_equal(dl_conv2d_forward(vs[i], &a), DL_ERR_ARG);
        assert_non_null(strstr(dl_last_error(), "host memory"));
    }
    nv = cuda_variants("maxpool", vs, 8);
    for (int i = 0; i < nv; i++) {
        dl_maxpool_args a = {.N = 1,
                             .C = 1,
                             .H = 4,
                             .W = 4,
                             .K = 2,
                             .stride = 2,
                             .inp = d,
                             .out = d,
                             .argmax = host_argmax};
        assert_int_equal(dl_maxpool_forward(vs[i], &a), DL_ERR_ARG);
        assert_non_null(strstr(dl_last_error(), "argmax"));
    }
    CUDA_OK(cudaDeviceSynchronize());
    device_free(d);
}

/* ------------------------------------------------------------------ main */

int main(void) {
    have_gpu = dl_cuda_device_count() > 0;
    if (!have_gpu) printf("gpu_conv: no CUDA device, skipped\n");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_lists_the_cuda_conv_and_pool_variants),
        cmocka_unit_test(test_conv2d_cuda_variants_match_ref_on_edge_shapes),
        cmocka_unit_test(test_conv2d_cuda_variants_match_ref_on_random_shapes_and_null_gradients),
        cmocka_unit_test(test_conv2d_cuda_variants_compute_in_fp32_not_tf32),
        cmocka_unit_test(test_maxpool_cuda_variants_match_ref_on_edge_shapes),
        cmocka_unit_test(test_maxpool_cuda_variants_match_ref_on_random_shapes_with_ties_nan_inf),
        cmocka_unit_test(test_maxpool_cuda_variants_follow_the_nan_tie_inf_rules),
        cmocka_unit_test(test_cuda_variants_accept_an_empty_batch),
        cmocka_unit_test(test_cuda_variants_refuse_host_pointers),
    };
    return cmocka_run_group_tests_name("gpu_conv", tests, NULL, NULL) == 0 ? 0 : 1;
}
