/* gpu_matmul.c — every CUDA matmul variant, and the CUDA backend, against the CPU reference.
 *
 * For each variant the registry lists with device DL_DEVICE_CUDA: random inputs of shapes
 * from 1×1×1 to 256×512×384 (primes and non-multiples of every tile size among them), all
 * four transpose layouts, accumulate on and off, tight and padded strides; copied to the GPU,
 * run, copied back and compared with dl_matmul_ref on the host. Also: M, N or K == 0, that a
 * kernel writes nothing outside C's M×N block (the stride padding keeps a sentinel), that
 * "C = ..." ignores whatever C held (we fill it with NaN), and that a host pointer is refused
 * cleanly instead of breaking the CUDA context.
 *
 * Run by `make test-gpu` on a machine with a GPU. Without one, every test is skipped and the
 * program exits 0 after one line saying so. Worth running once under
 * `compute-sanitizer build/tests/gpu_matmul` too: it catches out-of-bounds device accesses
 * that land outside every buffer.
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

#include "../kernels/ops/matmul/matmul_internal.h" /* dl_matmul_ref, the CPU oracle */
#include "dlab/dlab.h"
#include "gpu_check.h"

static bool have_gpu;

/* ------------------------------------------------------------------ helpers */

/* Value kept in the stride padding of C: a kernel that writes past column N changes it. */
#define PADDING_SENTINEL 777.0f

static float *host_floats(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

static void *device_copy_of(const float *host, size_t n) {
    void *d = NULL;
    CUDA_OK(cudaMalloc(&d, (n ? n : 1) * sizeof(float)));
    if (n) CUDA_OK(cudaMemcpy(d, host, n * sizeof(float), cudaMemcpyHostToDevice));
    return d;
}

/* One problem: the shape, layout and strides of C = op(A)·op(B) (+ C). */
typedef struct matmul_case {
    int M, N, K;
    bool trans_a, trans_b, accumulate;
    int pad; /* extra floats at the end of every stored row of A, B and C */
} matmul_case;

static void describe(const matmul_case *c, char *buf, size_t len) {
    snprintf(buf, len, "M=%d N=%d K=%d %s·%s%s pad=%d", c->M, c->N, c->K, c->trans_a ? "Aᵀ" : "A",
             c->trans_b ? "Bᵀ" : "B", c->accumulate ? " accumulate" : "", c->pad);
}

/* Stored shape of each operand as matmul.h defines it. */
static int rows_a(const matmul_case *c) { return c->trans_a ? c->K : c->M; }
static int cols_a(const matmul_case *c) { return c->trans_a ? c->M : c->K; }
static int rows_b(const matmul_case *c) { return c->trans_b ? c->N : c->K; }
static int cols_b(const matmul_case *c) { return c->trans_b ? c->K : c->N; }

/* Run `fn` on the GPU for one case and compare with dl_matmul_ref on the host.
 * `fn` NULL means: run variant `v` through dl_matmul_run. */
static void check_case(const dl_variant *v, dl_status (*fn)(const dl_matmul_args *),
                       const matmul_case *c, uint64_t seed) {
    char what[160];
    describe(c, what, sizeof what);
    const char *who = v ? v->name : "backend";

    const int lda = cols_a(c) + c->pad, ldb = cols_b(c) + c->pad, ldc = c->N + c->pad;
    const size_t n_a = (size_t)rows_a(c) * lda, n_b = (size_t)rows_b(c) * ldb;
    const size_t n_c = (size_t)c->M * ldc;

    dl_rng rng;
    dl_rng_seed(&rng, seed);
    float *A = host_floats(n_a), *B = host_floats(n_b);
    float *C_start = host_floats(n_c), *C_ref = host_floats(n_c), *C_gpu = host_floats(n_c);
    dl_rng_fill_uniform(&rng, A, n_a, -1.0f, 1.0f);
    dl_rng_fill_uniform(&rng, B, n_b, -1.0f, 1.0f);
    dl_rng_fill_uniform(&rng, C_start, n_c, -1.0f, 1.0f);
    for (int i = 0; i < c->M; i++) {
        for (int j = 0; j < ldc; j++) {
            float *start = &C_start[(size_t)i * ldc + j], *ref = &C_ref[(size_t)i * ldc + j];
            if (j >= c->N) {
                *start = *ref = PADDING_SENTINEL;
            } else if (c->accumulate) {
                *ref = *start;
            } else {
                /* "C = ..." must not read C: the GPU's C starts as NaN, which any read would
                 * spread. The reference starts from 0 so it does not depend on that. */
                *ref = 0.0f;
                *start = NAN;
            }
        }
    }

    dl_matmul_args host = {.M = c->M,
                           .N = c->N,
                           .K = c->K,
                           .A = A,
                           .lda = lda,
                           .trans_a = c->trans_a,
                           .B = B,
                           .ldb = ldb,
                           .trans_b = c->trans_b,
                           .C = C_ref,
                           .ldc = ldc,
                           .accumulate = c->accumulate};
    DL_OK_OR_FAIL(dl_matmul_ref(&host));

    void *dA = device_copy_of(A, n_a), *dB = device_copy_of(B, n_b);
    void *dC = device_copy_of(C_start, n_c);
    dl_matmul_args dev = host;
    dev.A = dA;
    dev.B = dB;
    dev.C = dC;
    dl_status st = fn ? fn(&dev) : dl_matmul_run(v, &dev);
    if (st != DL_OK) fail_msg("%s on %s: %s: %s", who, what, dl_status_name(st), dl_last_error());
    CUDA_OK(cudaDeviceSynchronize()); /* a fault inside the kernel is reported here */
    if (n_c) CUDA_OK(cudaMemcpy(C_gpu, dC, n_c * sizeof(float), cudaMemcpyDeviceToHost));

    double max_diff = 0.0, max_ref = 0.0;
    for (int i = 0; i < c->M; i++) {
        for (int j = 0; j < ldc; j++) {
            const float got = C_gpu[(size_t)i * ldc + j], want = C_ref[(size_t)i * ldc + j];
            if (j >= c->N) {
                if (got != PADDING_SENTINEL)
                    fail_msg("%s on %s: wrote C[%d][%d] in the stride padding (%g)", who, what, i,
                             j, (double)got);
                continue;
            }
            if (!isfinite(got))
                fail_msg("%s on %s: C[%d][%d] = %g (reference %g)", who, what, i, j, (double)got,
                         (double)want);
            max_diff = fmax(max_diff, fabs((double)got - (double)want));
            max_ref = fmax(max_ref, fabs((double)want));
        }
    }
    /* FP32 rounding grows like sqrt(K) for random data; an indexing bug gives errors of
     * order 1. An all-zero reference (K == 0) must be matched exactly. */
    const double tolerance = 1e-4 * sqrt(c->K > 0 ? (double)c->K : 1.0);
    const double rel = max_ref > 0.0 ? max_diff / max_ref : max_diff;
    if (!(rel <= tolerance))
        fail_msg("%s on %s: max|diff|/max|ref| = %.3g > %.3g", who, what, rel, tolerance);

    CUDA_OK(cudaFree(dA));
    CUDA_OK(cudaFree(dB));
    CUDA_OK(cudaFree(dC));
    free(A);
    free(B);
    free(C_start);
    free(C_ref);
    free(C_gpu);
}

/* ------------------------------------------------------------------ tests */

/* 1×1×1, primes, multiples of the 64 tile, odd sizes just around 128, a medium rectangle,
 * and one big enough (9×15 = 135 tiles of 128×128, more than an H100's 132 SMs) that the
 * tiled variant takes its 128×128 configuration; K = 37 is not a multiple of its 8-deep
 * slices. */
static const int SHAPES[][3] = {
    {1, 1, 1}, {7, 13, 5}, {64, 64, 64}, {127, 129, 131}, {256, 512, 384}, {1100, 1900, 37},
};

static void test_variant_matches_ref_on_all_shapes_and_layouts(void **state) {
    if (!have_gpu) skip();
    const dl_variant *v = *state;
    if (!dl_variant_available(v))
        fail_msg("%s: says it is not available, but a CUDA device is present", v->name);

    uint64_t seed = 1;
    for (size_t s = 0; s < sizeof SHAPES / sizeof SHAPES[0]; s++) {
        for (int layout = 0; layout < 4; layout++) {
            for (int acc = 0; acc <= 1; acc++) {
                matmul_case c = {SHAPES[s][0],
                                 SHAPES[s][1],
                                 SHAPES[s][2],
                                 layout & 1,
                                 (layout >> 1) & 1,
                                 acc,
                                 0};
                check_case(v, NULL, &c, seed++);
                /* Strides longer than the rows, on the small odd shapes. */
                if (c.M < 200) {
                    c.pad = 3;
                    check_case(v, NULL, &c, seed++);
                }
            }
        }
    }
}

static void test_variant_handles_empty_dimensions(void **state) {
    if (!have_gpu) skip();
    const dl_variant *v = *state;
    /* K == 0: C = 0, or C unchanged when accumulating. M or N == 0: nothing to do. */
    static const int EMPTY[][3] = {{5, 7, 0}, {0, 7, 3}, {5, 0, 3}, {0, 0, 0}};
    uint64_t seed = 1000;
    for (size_t s = 0; s < sizeof EMPTY / sizeof EMPTY[0]; s++) {
        for (int layout = 0; layout < 4; layout++) {
            for (int acc = 0; acc <= 1; acc++) {
                matmul_case c = {
                    EMPTY[s][0], EMPTY[s][1], EMPTY[s][2], layout & 1, (layout >> 1) & 1, acc, 2};
                check_case(v, NULL, &c, seed++);
            }
        }
    }
}

/* A host pointer must come back as an error with a message, and the CUDA context must still
 * work afterwards (a kernel dereferencing it would have broken it for good). */
static void test_variant_refuses_host_pointers(void **state) {
    if (!have_gpu) skip();
    const dl_variant *v = *state;
    int device = 0, pageable = 0;
    CUDA_OK(cudaGetDevice(&device));
    CUDA_OK(cudaDeviceGetAttribute(&pageable, cudaDevAttrPageableMemoryAccess, device));
    if (pageable) skip(); /* HMM/ATS: the GPU can read host memory, so it is not an error */

    enum { n = 8 };
    float host_a[n * n] = {0};
    void *dB = NULL, *dC = NULL;
    CUDA_OK(cudaMalloc(&dB, n * n * sizeof(float)));
    CUDA_OK(cudaMalloc(&dC, n * n * sizeof(float)));
    dl_matmul_args a = dl_matmul_dense(n, n, n, host_a, false, dB, false, dC, false);
    dl_status st = dl_matmul_run(v, &a);
    assert_int_equal(st, DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "host memory"));
    CUDA_OK(cudaDeviceSynchronize());
    CUDA_OK(cudaFree(dB));
    CUDA_OK(cudaFree(dC));
}

static void test_registry_lists_the_three_cuda_matmul_variants(void **state) {
    (void)state;
    if (!have_gpu) skip();
    static const char *const NAMES[] = {"cuda_naive", "cuda_tiled", "cublas"};
    for (size_t i = 0; i < 3; i++) {
        const dl_variant *v = dl_variant_find("matmul", NAMES[i]);
        if (!v) fail_msg("matmul variant \"%s\" is not registered", NAMES[i]);
        assert_int_equal(v->device, DL_DEVICE_CUDA);
        assert_true(dl_variant_available(v));
    }
}

static void test_cuda_backend_moves_memory_and_matches_ref(void **state) {
    (void)state;
    if (!have_gpu) skip();
    const dl_ops *ops = NULL;
    DL_OK_OR_FAIL(dl_backend("cuda", &ops));
    assert_non_null(ops);
    assert_string_equal(ops->name, "cuda");
    assert_int_equal(ops->device, DL_DEVICE_CUDA);
    assert_non_null(ops->matmul_variant);
    assert_int_equal(ops->matmul_variant->device, DL_DEVICE_CUDA);
    assert_string_equal(ops->matmul_variant->family, "matmul");

    const dl_ops *direct = NULL;
    DL_OK_OR_FAIL(dl_backend_cuda(&direct));
    assert_ptr_equal(direct, ops);
    assert_true(dl_cuda_device_count() > 0);

    /* alloc / to_device / to_host round trip, zero, and a 0-byte allocation. */
    enum { n = 1000 };
    float host[n], back[n];
    for (int i = 0; i < n; i++)
        host[i] = (float)i - 500.0f;
    void *d = NULL, *empty = NULL;
    DL_OK_OR_FAIL(ops->alloc(&d, sizeof host));
    DL_OK_OR_FAIL(ops->alloc(&empty, 0));
    assert_non_null(empty);
    DL_OK_OR_FAIL(ops->to_device(d, host, sizeof host));
    DL_OK_OR_FAIL(ops->to_host(back, d, sizeof back));
    assert_memory_equal(host, back, sizeof host);
    DL_OK_OR_FAIL(ops->zero(d, sizeof host));
    DL_OK_OR_FAIL(ops->sync());
    DL_OK_OR_FAIL(ops->to_host(back, d, sizeof back));
    for (int i = 0; i < n; i++)
        assert_true(back[i] == 0.0f);
    ops->free(d);
    ops->free(empty);
    ops->free(NULL);

    /* The model stack's three layouts through ops->matmul. */
    const matmul_case forward = {127, 129, 131, false, true, false, 0};     /* y = x·Wᵀ */
    const matmul_case input_grad = {127, 131, 129, false, false, false, 0}; /* dx = dy·W */
    const matmul_case weight_grad = {129, 131, 127, true, false, true, 0};  /* dW += dyᵀ·x */
    check_case(NULL, ops->matmul, &forward, 77);
    check_case(NULL, ops->matmul, &input_grad, 78);
    check_case(NULL, ops->matmul, &weight_grad, 79);
}

/* ------------------------------------------------------------------ main */

int main(void) {
    have_gpu = dl_cuda_device_count() > 0;
    if (!have_gpu) printf("gpu_matmul: no CUDA device, skipped\n");

    int count = 0;
    const dl_variant *const *variants = dl_variants("matmul", &count);

    /* Three tests per CUDA variant, plus the registry and the backend. */
    struct CMUnitTest *tests = calloc((size_t)(3 * count + 2), sizeof *tests);
    char(*names)[96] = calloc((size_t)(3 * count + 2), sizeof *names);
    if (!tests || !names) {
        fprintf(stderr, "gpu_matmul: out of memory\n");
        return 1;
    }
    size_t n_tests = 0;
    tests[n_tests++] =
        (struct CMUnitTest){"registry_lists_the_three_cuda_matmul_variants",
                            test_registry_lists_the_three_cuda_matmul_variants, NULL, NULL, NULL};
    for (int i = 0; i < count; i++) {
        const dl_variant *v = variants[i];
        if (v->device != DL_DEVICE_CUDA) continue;
        static const struct {
            const char *what;
            CMUnitTestFunction fn;
        } PER_VARIANT[] = {
            {"matches_ref_on_all_shapes_and_layouts",
             test_variant_matches_ref_on_all_shapes_and_layouts},
            {"handles_empty_dimensions", test_variant_handles_empty_dimensions},
            {"refuses_host_pointers", test_variant_refuses_host_pointers},
        };
        for (size_t t = 0; t < 3; t++) {
            snprintf(names[n_tests], sizeof names[n_tests], "matmul_%s_%s", v->name,
                     PER_VARIANT[t].what);
            tests[n_tests] =
                (struct CMUnitTest){names[n_tests], PER_VARIANT[t].fn, NULL, NULL, (void *)v};
            n_tests++;
        }
    }
    tests[n_tests++] =
        (struct CMUnitTest){"cuda_backend_moves_memory_and_matches_ref",
                            test_cuda_backend_moves_memory_and_matches_ref, NULL, NULL, NULL};

    int failed = _cmocka_run_group_tests("gpu_matmul", tests, n_tests, NULL, NULL);
    free(tests);
    free(names);
    return failed == 0 ? 0 : 1;
}
