/* gpu_softmax.c — every CUDA softmax and softmax + top-k variant against the CPU oracles.
 *
 * For each variant the registry lists with device DL_DEVICE_CUDA ("softmax" and
 * "softmax_topk" families): inputs made on the host, copied to the GPU, run, copied back and
 * compared with the `ref` variant of the family on the host (double precision).
 *
 *   softmax forward   N in {1, 3, 64, 4000} × V in {1, 2, 31, 32, 33, 1000, 1025, 32768,
 *                     100001} (N·V capped), rows of eight kinds: random, some −inf entries,
 *                     a NaN, a +inf, all −inf, all equal, |x| ≈ 1e4, many equal logits
 *                     (cudnn: the finite kinds only — its special values are its own); also
 *                     a row start that is not 16-byte aligned (the scalar path), and a guard
 *                     after `out` that must stay untouched.
 *   softmax backward  accumulating into a non-zero dinp; dinp == NULL does nothing.
 *   softmax_topk      K in {1, 5, 30, 64} on the same shapes and row kinds (ties decide by
 *                     index; undefined rows give NaN / −1); unfused without `work` is refused.
 *   both              N = 0 or V = 0 is a no-op with NULL pointers; a host pointer is refused
 *                     with DL_ERR_ARG and the CUDA context still works afterwards.
 *
 * Tolerances: probabilities 1e-5 relative + 1e-30 absolute (softmax.cu explains why fp32 with
 * expf meets it); indices exact; NaN exactly where ref has NaN. Backward: 1e-5 of the sizes of
 * the terms that are added (dinp, y·dy, y·Σ|dy·y|), since the result can cancel to near 0.
 *
 * Run by `make test-gpu` on a machine with a GPU. Without one it prints one line and exits 0.
 * Worth running under `compute-sanitizer` once too (out-of-bounds device accesses).
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

/* ------------------------------------------------------------------ helpers */

/* Largest N·V a case may have (host ref in double, several copies): 8M elements. */
#define MAX_ELEMENTS (1L << 23)
/* The top-k oracle costs K·V per row: a smaller cap. */
#define MAX_TOPK_ELEMENTS (1L << 22)
/* Floats after each output that a kernel must not touch, and the bytes they hold. */
#define GUARD 64
#define GUARD_BYTE 0x7f /* 0x7f7f7f7f = 3.4e38: finite, so an unwritten output fails too */

static const int NS[] = {1, 3, 64, 4000};
static const int VS[] = {1, 2, 31, 32, 33, 1000, 1025, 32768, 100001};
static const int KS[] = {1, 5, 30, 64};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static void *host_alloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    assert_non_null(p);
    return p;
}

static void *device_alloc(size_t bytes) {
    void *d = NULL;
    CUDA_OK(cudaMalloc(&d, bytes ? bytes : 1));
    return d;
}

static bool guard_intact(const void *bytes, size_t n) {
    const unsigned char *b = bytes;
    for (size_t i = 0; i < n; i++)
        if (b[i] != GUARD_BYTE) return false;
    return true;
}

/* got matches a reference probability: NaN exactly where want is NaN. */
static bool prob_close(float got, float want) {
    if (isnan(want)) return isnan(got);
    if (!isfinite(got)) return false;
    return fabs((double)got - (double)want) <= 1e-5 * fabs((double)want) + 1e-30;
}

/* ------------------------------------------------------------------ inputs */

enum row_kind {
    ROW_RANDOM,       /* uniform in [−10, 10] */
    ROW_TIES,         /* integers in [−3, 3]: many equal logits */
    ROW_ALL_EQUAL,    /* every entry 3.5 */
    ROW_HUGE,         /* ±1e4 + [−1, 1]: where exp without the max shift overflows */
    ROW_SOME_NEG_INF, /* random, every third entry −inf */
    ROW_NAN,          /* random with one NaN: undefined */
    ROW_POS_INF,      /* random with one +inf: undefined */
    ROW_ALL_NEG_INF,  /* undefined */
    ROW_KINDS
};
#define FINITE_KINDS 4 /* the first four */

static void fill_row(dl_rng *rng, float *x, int V, int kind) {
    switch (kind) {
    case ROW_TIES:
        for (int j = 0; j < V; j++)
            x[j] = (float)((int)dl_rng_below(rng, 7) - 3);
        break;
    case ROW_ALL_EQUAL:
        for (int j = 0; j < V; j++)
            x[j] = 3.5f;
        break;
    case ROW_HUGE:
        for (int j = 0; j < V; j++)
            x[j] = (dl_rng_uniform(rng) < 0.5f ? -1e4f : 1e4f) + 2.0f * dl_rng_uniform(rng) - 1.0f;
        break;
    case ROW_ALL_NEG_INF:
        for (int j = 0; j < V; j++)
            x[j] = -INFINITY;
        break;
    default:
        dl_rng_fill_uniform(rng, x, (size_t)V, -10.0f, 10.0f);
        if (kind == ROW_SOME_NEG_INF)
            for (int j = 1; j < V; j += 3)
                x[j] = -INFINITY;
        if (kind == ROW_NAN) x[dl_rng_below(rng, (uint64_t)V)] = NAN;
        if (kind == ROW_POS_INF) x[dl_rng_below(rng, (uint64_t)V)] = INFINITY;
        break;
    }
}

/* N rows, kinds taken in turn (from a seed-dependent start, so N = 1 and 3 see several). */
static void fill_rows(float *x, int N, int V, bool specials, uint64_t seed) {
    dl_rng rng;
    dl_rng_seed(&rng, seed);
    const int kinds = specials ? ROW_KINDS : FINITE_KINDS;
    for (long i = 0; i < N; i++)
        fill_row(&rng, x + i * (long)V, V, (int)((i + (long)seed) % kinds));
}

static bool is_cudnn(const dl_variant *v) { return strcmp(v->name, "cudnn") == 0; }

/* ------------------------------------------------------------------ softmax forward */

/* `offset` floats before inp and out on the device: 1 makes the rows misaligned for float4. */
static void check_forward(const dl_variant *v, int N, int V, size_t offset, uint64_t seed) {
    const size_t n = (size_t)N * (size_t)V;
    float *x = host_alloc(n * sizeof(float)), *want = host_alloc(n * sizeof(float));
    float *got = host_alloc((n + GUARD) * sizeof(float));
    fill_rows(x, N, V, !is_cudnn(v), seed);

    dl_softmax_args host = {.N = N, .V = V, .inp = x, .out = want};
    DL_OK_OR_FAIL(dl_softmax_forward(dl_variant_find("softmax", "ref"), &host));

    float *d_in = device_alloc((offset + n) * sizeof(float));
    float *d_out = device_alloc((offset + n + GUARD) * sizeof(float));
    CUDA_OK(cudaMemcpy(d_in + offset, x, n * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemset(d_out, GUARD_BYTE, (offset + n + GUARD) * sizeof(float)));
    dl_softmax_args dev = {.N = N, .V = V, .inp = d_in + offset, .out = d_out + offset};
    dl_status st = dl_softmax_forward(v, &dev);
    if (st != DL_OK)
        fail_msg("%s N=%d V=%d: %s: %s", v->name, N, V, dl_status_name(st), dl_last_error());
    CUDA_OK(cudaDeviceSynchronize()); /* a fault inside the kernel is reported here */
    CUDA_OK(cudaMemcpy(got, d_out + offset, (n + GUARD) * sizeof(float), cudaMemcpyDeviceToHost));

    for (size_t e = 0; e < n; e++)
        if (!prob_close(got[e], want[e]))
            fail_msg("%s N=%d V=%d offset=%zu: out[%zu][%zu] = %.9g, ref %.9g (inp %.9g)", v->name,
                     N, V, offset, e / (size_t)V, e % (size_t)V, (double)got[e], (double)want[e],
                     (double)x[e]);
    if (!guard_intact(got + n, GUARD * sizeof(float)))
        fail_msg("%s N=%d V=%d: wrote past the end of out", v->name, N, V);

    CUDA_OK(cudaFree(d_in));
    CUDA_OK(cudaFree(d_out));
    free(x);
    free(want);
    free(got);
}

static void test_forward_matches_ref(void **state) {
    const dl_variant *v = *state;
    if (!dl_variant_available(v)) {
        if (is_cudnn(v)) skip(); /* built without cuDNN */
        fail_msg("%s says it is not available, but a CUDA device is present", v->name);
    }
    uint64_t seed = 1;
    for (size_t a = 0; a < COUNT(NS); a++)
        for (size_t b = 0; b < COUNT(VS); b++)
            if ((long)NS[a] * VS[b] <= MAX_ELEMENTS) check_forward(v, NS[a], VS[b], 0, seed++);
    /* V % 4 == 0 but rows not 16-byte aligned: must take the scalar path. */
    check_forward(v, 64, 1000, 1, seed++);
    check_forward(v, 3, 32768, 1, seed++);
}

/* ------------------------------------------------------------------ softmax backward */

static void check_backward(const dl_variant *v, int N, int V, uint64_t seed) {
    const size_t n = (size_t)N * (size_t)V;
    float *x = host_alloc(n * sizeof(float)), *y = host_alloc(n * sizeof(float));
    float *dy = host_alloc(n * sizeof(float)), *dx0 = host_alloc(n * sizeof(float));
    float *want = host_alloc(n * sizeof(float)), *got = host_alloc(n * sizeof(float));
    fill_rows(x, N, V, false, seed);
    dl_rng rng;
    dl_rng_seed(&rng, seed + 1000);
    dl_rng_fill_uniform(&rng, dy, n, -1.0f, 1.0f);
    dl_rng_fill_uniform(&rng, dx0, n, -1.0f, 1.0f);
    const dl_variant *ref = dl_variant_find("softmax", "ref");
    dl_softmax_args host = {.N = N, .V = V, .inp = x, .out = y};
    DL_OK_OR_FAIL(dl_softmax_forward(ref, &host));
    memcpy(want, dx0, n * sizeof(float));
    host.dout = dy;
    host.dinp = want;
    DL_OK_OR_FAIL(dl_softmax_backward(ref, &host));

    float *d_y = device_alloc(n * sizeof(float)), *d_dy = device_alloc(n * sizeof(float));
    float *d_dx = device_alloc(n * sizeof(float));
    CUDA_OK(cudaMemcpy(d_y, y, n * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(d_dy, dy, n * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemcpy(d_dx, dx0, n * sizeof(float), cudaMemcpyHostToDevice));
    dl_softmax_args dev = {.N = N, .V = V, .out = d_y, .dout = d_dy, .dinp = d_dx};
    dl_status st = dl_softmax_backward(v, &dev);
    if (st != DL_OK)
        fail_msg("%s backward N=%d V=%d: %s: %s", v->name, N, V, dl_status_name(st),
                 dl_last_error());
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaMemcpy(got, d_dx, n * sizeof(float), cudaMemcpyDeviceToHost));

    for (long i = 0; i < N; i++) {
        double abs_dot = 0.0;
        for (int j = 0; j < V; j++)
            abs_dot += fabs((double)dy[i * V + j] * y[i * V + j]);
        for (int j = 0; j < V; j++) {
            const long e = i * V + j;
            const double scale =
                fabs((double)dx0[e]) + fabs((double)y[e]) * (fabs((double)dy[e]) + abs_dot);
            if (!(fabs((double)got[e] - (double)want[e]) <= 1e-5 * scale + 1e-30))
                fail_msg("%s backward N=%d V=%d: dinp[%ld][%d] = %.9g, ref %.9g", v->name, N, V, i,
                         j, (double)got[e], (double)want[e]);
        }
    }

    /* dinp == NULL: nothing to do, nothing touched. */
    dev.dinp = NULL;
    DL_OK_OR_FAIL(dl_softmax_backward(v, &dev));
    CUDA_OK(cudaDeviceSynchronize());

    CUDA_OK(cudaFree(d_y));
    CUDA_OK(cudaFree(d_dy));
    CUDA_OK(cudaFree(d_dx));
    free(x);
    free(y);
    free(dy);
    free(dx0);
    free(want);
    free(got);
}

static void test_backward_accumulates_like_ref(void **state) {
    const dl_variant *v = *state;
    if (!dl_variant_available(v)) skip(); /* cudnn without cuDNN; the forward test says why */
    static const int SHAPES[][2] = {{1, 1},    {3, 33},    {64, 1025}, {4000, 32},
                                    {3, 1000}, {2, 32768}, {5, 100001}};
    for (size_t s = 0; s < COUNT(SHAPES); s++)
        check_backward(v, SHAPES[s][0], SHAPES[s][1], 500 + s);
}

/* ------------------------------------------------------------------ empty and host pointers */

static void test_empty_sizes_do_nothing(void **state) {
    const dl_variant *v = *state;
    if (!dl_variant_available(v)) skip();
    dl_softmax_args none = {.N = 0, .V = 7};
    DL_OK_OR_FAIL(dl_softmax_forward(v, &none));
    DL_OK_OR_FAIL(dl_softmax_backward(v, &none));
    none.N = 5, none.V = 0;
    DL_OK_OR_FAIL(dl_softmax_forward(v, &none));
    DL_OK_OR_FAIL(dl_softmax_backward(v, &none));
    CUDA_OK(cudaDeviceSynchronize());
}

/* A host pointer must come back as DL_ERR_ARG, and the context must still work afterwards. */
static void test_refuses_host_pointers(void **state) {
    const dl_variant *v = *state;
    if (!dl_variant_available(v)) skip();
    int device = 0, pageable = 0;
    CUDA_OK(cudaGetDevice(&device));
    CUDA_OK(cudaDeviceGetAttribute(&pageable, cudaDevAttrPageableMemoryAccess, device));
    if (pageable) skip(); /* HMM/ATS: the GPU can read host memory, so it is not an error */
    float host_x[4 * 8] = {0};
    float *d_out = device_alloc(sizeof host_x);
    dl_softmax_args a = {.N = 4, .V = 8, .inp = host_x, .out = d_out};
    assert_int_equal(dl_softmax_forward(v, &a), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "host memory"));
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaFree(d_out));
}

/* ------------------------------------------------------------------ softmax_topk */

static void check_topk(const dl_variant *v, int N, int V, int K, uint64_t seed) {
    const size_t n = (size_t)N * (size_t)V, nk = (size_t)N * (size_t)K;
    float *x = host_alloc(n * sizeof(float));
    float *want_p = host_alloc(nk * sizeof(float)),
          *got_p = host_alloc((nk + GUARD) * sizeof(float));
    int *want_i = host_alloc(nk * sizeof(int)), *got_i = host_alloc((nk + GUARD) * sizeof(int));
    fill_rows(x, N, V, true, seed);
    dl_softmax_topk_args host = {.N = N, .V = V, .K = K, .inp = x, .prob = want_p, .index = want_i};
    DL_OK_OR_FAIL(dl_softmax_topk(dl_variant_find("softmax_topk", "ref"), &host));

    float *d_x = device_alloc(n * sizeof(float)), *d_work = device_alloc(n * sizeof(float));
    float *d_p = device_alloc((nk + GUARD) * sizeof(float));
    int *d_i = device_alloc((nk + GUARD) * sizeof(int));
    CUDA_OK(cudaMemcpy(d_x, x, n * sizeof(float), cudaMemcpyHostToDevice));
    CUDA_OK(cudaMemset(d_p, GUARD_BYTE, (nk + GUARD) * sizeof(float)));
    CUDA_OK(cudaMemset(d_i, GUARD_BYTE, (nk + GUARD) * sizeof(int)));
    dl_softmax_topk_args dev = {
        .N = N, .V = V, .K = K, .inp = d_x, .prob = d_p, .index = d_i, .work = d_work};
    dl_status st = dl_softmax_topk(v, &dev);
    if (st != DL_OK)
        fail_msg("%s N=%d V=%d K=%d: %s: %s", v->name, N, V, K, dl_status_name(st),
                 dl_last_error());
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaMemcpy(got_p, d_p, (nk + GUARD) * sizeof(float), cudaMemcpyDeviceToHost));
    CUDA_OK(cudaMemcpy(got_i, d_i, (nk + GUARD) * sizeof(int), cudaMemcpyDeviceToHost));

    for (size_t e = 0; e < nk; e++) {
        if (got_i[e] != want_i[e] || !prob_close(got_p[e], want_p[e]))
            fail_msg("%s N=%d V=%d K=%d: row %zu slot %zu: (index %d, prob %.9g), ref (index %d, "
                     "prob %.9g)",
                     v->name, N, V, K, e / (size_t)K, e % (size_t)K, got_i[e], (double)got_p[e],
                     want_i[e], (double)want_p[e]);
    }
    if (!guard_intact(got_p + nk, GUARD * sizeof(float)) ||
        !guard_intact(got_i + nk, GUARD * sizeof(int)))
        fail_msg("%s N=%d V=%d K=%d: wrote past the end of prob or index", v->name, N, V, K);

    CUDA_OK(cudaFree(d_x));
    CUDA_OK(cudaFree(d_work));
    CUDA_OK(cudaFree(d_p));
    CUDA_OK(cudaFree(d_i));
    free(x);
    free(want_p);
    free(got_p);
    free(want_i);
    free(got_i);
}

static void test_topk_matches_ref(void **state) {
    const dl_variant *v = *state;
    if (!dl_variant_available(v))
        fail_msg("%s says it is not available, but a CUDA device is present", v->name);
    uint64_t seed = 2000;
    for (size_t a = 0; a < COUNT(NS); a++)
        for (size_t b = 0; b < COUNT(VS); b++)
            for (size_t c = 0; c < COUNT(KS); c++)
                if (KS[c] <= VS[b] && (long)NS[a] * VS[b] <= MAX_TOPK_ELEMENTS)
                    check_topk(v, NS[a], VS[b], KS[c], seed++);
    /* K = V = 64: every column is a winner; K not a list capacity. */
    check_topk(v, 64, 64, 64, seed++);
    check_topk(v, 33, 4097, 17, seed++);
}

static void test_topk_empty_and_bad_arguments(void **state) {
    const dl_variant *v = *state;
    if (!dl_variant_available(v)) skip();
    dl_softmax_topk_args none = {.N = 0, .V = 9, .K = 3};
    DL_OK_OR_FAIL(dl_softmax_topk(v, &none));
    none.N = 4, none.V = 0;
    DL_OK_OR_FAIL(dl_softmax_topk(v, &none));

    float *d_x = device_alloc(4 * 100 * sizeof(float)), *d_p = device_alloc(4 * 8 * sizeof(float));
    int *d_i = device_alloc(4 * 8 * sizeof(int));
    CUDA_OK(cudaMemset(d_x, 0, 4 * 100 * sizeof(float)));
    dl_softmax_topk_args a = {.N = 4, .V = 100, .K = 8, .inp = d_x, .prob = d_p, .index = d_i};
    if (strcmp(v->name, "cuda_unfused") == 0) {
        assert_int_equal(dl_softmax_topk(v, &a), DL_ERR_ARG); /* work is NULL */
        assert_non_null(strstr(dl_last_error(), "work"));
    }
    a.K = DL_TOPK_MAX + 1;
    assert_int_equal(dl_softmax_topk(v, &a), DL_ERR_ARG);
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaFree(d_x));
    CUDA_OK(cudaFree(d_p));
    CUDA_OK(cudaFree(d_i));
}

/* ------------------------------------------------------------------ registry */

static void test_registry_lists_the_cuda_variants(void **state) {
    (void)state;
    static const char *const SOFTMAX[] = {"cuda_block_safe", "cuda_block_online", "cuda_warp_safe",
                                          "cuda_warp_online", "cudnn"};
    static const char *const TOPK[] = {"cuda_unfused", "cuda_fused"};
    for (size_t i = 0; i < COUNT(SOFTMAX); i++) {
        const dl_variant *v = dl_variant_find("softmax", SOFTMAX[i]);
        if (!v) fail_msg("softmax variant \"%s\" is not registered", SOFTMAX[i]);
        assert_int_equal(v->device, DL_DEVICE_CUDA);
    }
    for (size_t i = 0; i < COUNT(TOPK); i++) {
        const dl_variant *v = dl_variant_find("softmax_topk", TOPK[i]);
        if (!v) fail_msg("softmax_topk variant \"%s\" is not registered", TOPK[i]);
        assert_int_equal(v->device, DL_DEVICE_CUDA);
    }
}

/* ------------------------------------------------------------------ main */

typedef struct per_variant_test {
    const char *what;
    CMUnitTestFunction fn;
} per_variant_test;

static const per_variant_test SOFTMAX_TESTS[] = {
    {"forward_matches_ref_on_all_shapes_and_row_kinds", test_forward_matches_ref},
    {"backward_accumulates_like_ref", test_backward_accumulates_like_ref},
    {"empty_sizes_do_nothing", test_empty_sizes_do_nothing},
    {"refuses_host_pointers", test_refuses_host_pointers},
};
static const per_variant_test TOPK_TESTS[] = {
    {"matches_ref_on_all_shapes_k_and_row_kinds", test_topk_matches_ref},
    {"empty_and_bad_arguments", test_topk_empty_and_bad_arguments},
};

/* Adds one test per (CUDA variant of `family`, entry of `list`). */
static size_t add_tests(const char *family, const per_variant_test *list, size_t list_len,
                        struct CMUnitTest *tests, char (*names)[112], size_t n_tests) {
    int count = 0;
    const dl_variant *const *variants = dl_variants(family, &count);
    for (int i = 0; i < count; i++) {
        const dl_variant *v = variants[i];
        if (v->device != DL_DEVICE_CUDA) continue;
        for (size_t t = 0; t < list_len; t++) {
            snprintf(names[n_tests], sizeof names[n_tests], "%s_%s_%s", family, v->name,
                     list[t].what);
            tests[n_tests] = (struct CMUnitTest){names[n_tests], list[t].fn, NULL, NULL, (void *)v};
            n_tests++;
        }
    }
    return n_tests;
}

int main(void) {
    int devices = 0;
    const cudaError_t err = cudaGetDeviceCount(&devices);
    if (err != cudaSuccess || devices == 0) {
        printf("gpu_softmax: no CUDA device: %s%s, skipping\n",
               err != cudaSuccess ? cudaGetErrorString(err) : "cudaGetDeviceCount found 0",
               err == cudaErrorInsufficientDriver ? " (no NVIDIA driver here, or an old one)" : "");
        return 0;
    }

    int n_softmax = 0, n_topk = 0;
    (void)dl_variants("softmax", &n_softmax);
    (void)dl_variants("softmax_topk", &n_topk);
    const size_t capacity =
        1 + (size_t)n_softmax * COUNT(SOFTMAX_TESTS) + (size_t)n_topk * COUNT(TOPK_TESTS);
    struct CMUnitTest *tests = calloc(capacity, sizeof *tests);
    char(*names)[112] = calloc(capacity, sizeof *names);
    if (!tests || !names) {
        fprintf(stderr, "gpu_softmax: out of memory\n");
        return 1;
    }
    size_t n_tests = 0;
    tests[n_tests++] = (struct CMUnitTest){"registry_lists_the_cuda_softmax_variants",
                                           test_registry_lists_the_cuda_variants, NULL, NULL, NULL};
    n_tests = add_tests("softmax", SOFTMAX_TESTS, COUNT(SOFTMAX_TESTS), tests, names, n_tests);
    n_tests = add_tests("softmax_topk", TOPK_TESTS, COUNT(TOPK_TESTS), tests, names, n_tests);

    const int failed = _cmocka_run_group_tests("gpu_softmax", tests, n_tests, NULL, NULL);
    free(tests);
    free(names);
    return failed == 0 ? 0 : 1;
}
