/* bench/int8_gemm.c — int8 GEMM (the best int8_gemm variant) against the own fastest fp32
 * sgemm (dl_matmul_best), interleaved, at square sizes. Both count 2·m·n·k operations.
 *
 *   build/bin/bench-int8_gemm [n ...]                (default: 1024 2048 4096)
 *   build/bin/bench-int8_gemm --device cuda [n ...]  (default: 1024 2048 4096 8192)
 *
 * CPU: the int8 side is C int32 = A·Bᵀ with B stored N×K, and again with the fused
 * dequantizing epilogue writing fp32 (what a quantized linear layer runs); the fp32 side is
 * C = A·Bᵀ with the same layout.
 * CUDA: every CUDA int8_gemm variant (int32 out, and with the epilogue) against cuBLAS sgemm
 * (fp32, no TF32: the matmul family's cublas variant) and cuBLAS fp16 GEMM on the tensor cores
 * (cublasGemmEx, fp16 inputs and output, fp32 accumulation), timed with CUDA events, L2
 * flushed before each sample. Inputs are random and nonzero (fp16: random magnitudes in
 * [0.25, 4)), never zeros. Left out: OpenBLAS (lesson 4 reports it), sizes that are not
 * square, bf16/fp8 GEMMs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/backend.h"
#include "dlab/core.h"
#include "dlab/int8_gemm.h"
#include "dlab/matmul.h"
#include "dlbench.h"

#ifdef DL_HAVE_CUDA
#include <cublas_v2.h>
#include <cuda_runtime.h>
#endif

typedef struct fp32_case {
    const dl_variant *v;
    dl_matmul_args args;
} fp32_case;

typedef struct int8_case {
    const dl_variant *v;
    dl_int8_gemm_args args;
} int8_case;

static void run_fp32(void *ctx) {
    fp32_case *c = ctx;
    if (dl_matmul_run(c->v, &c->args) != DL_OK) abort();
}

static void run_int8(void *ctx) {
    int8_case *c = ctx;
    if (dl_int8_gemm_run(c->v, &c->args) != DL_OK) abort();
}

static void usage(FILE *f) {
    fprintf(f, "usage: bench-int8_gemm [--quick] [--device cpu|cuda] [n ...]   (sizes 1..16384; "
               "default 1024 2048 4096 (cuda: + 8192), --quick 256 512)\n");
}

#ifdef DL_HAVE_CUDA
typedef struct fp16_case {
    cublasHandle_t handle;
    int n;
    const void *A, *B;
    void *C;
} fp16_case;

/* C = A·Bᵀ in row-major terms: column-major cuBLAS computes Cᵀ = B·Aᵀ, i.e. op(B) = Bᵀ stored
 * as the row-major N×K matrix read column-major (so transa = T), op(A) = A (transb = N). */
static void run_fp16(void *ctx) {
    fp16_case *c = ctx;
    const float one = 1.0f, zero = 0.0f;
    if (cublasGemmEx(c->handle, CUBLAS_OP_T, CUBLAS_OP_N, c->n, c->n, c->n, &one, c->B, CUDA_R_16F,
                     c->n, c->A, CUDA_R_16F, c->n, &zero, c->C, CUDA_R_16F, c->n,
                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS)
        abort();
}

static void *device_copy(const void *host, size_t bytes) {
    void *d = NULL;
    if (cudaMalloc(&d, bytes) != cudaSuccess || cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice) != cudaSuccess) {
        fprintf(stderr, "bench-int8_gemm: cudaMalloc/cudaMemcpy of %zu bytes failed\n", bytes);
        exit(1);
    }
    return d;
}

/* One timed row: median time of fn on the GPU, printed as TFLOP/s (or TOPS) and as fp16's
 * time over it (fp16_s = 0: this is the fp16 row). */
static double gpu_row(const char *what, int n, dlb_fn fn, void *ctx, double fp16_s) {
    dlb_opts opts = dlb_opts_default();
    opts.max_time_s = 2.0;
    dlb_result r;
    if (dlb_cuda_measure(fn, ctx, &opts, true, &r) != 0) {
        fprintf(stderr, "bench-int8_gemm: %s\n", dlb_error());
        exit(1);
    }
    const double t = r.time.median, tops = 2.0 * n * n * (double)n / t / 1e12;
    printf("%6d  %-34s %10.4f %6.1f%% %9.1f %11.2fx\n", n, what, t * 1e3, 100 * r.time.mad / t, tops,
           fp16_s > 0 ? fp16_s / t : 1.0);
    return t;
}

static int bench_gpu(const int *sizes, int nsizes) {
    const dl_ops *ops;
    if (dl_backend_cuda(&ops) != DL_OK) {
        fprintf(stderr, "bench-int8_gemm: --device cuda: %s\n", dl_last_error());
        return 1;
    }
    char gpu[128] = "";
    dlb_cuda_gpu_name(gpu, sizeof gpu);
    cublasHandle_t handle;
    if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "bench-int8_gemm: cublasCreate failed\n");
        return 1;
    }
    const dl_variant *sgemm = dl_variant_find("matmul", "cublas");
    printf("GPU %s: CUDA events, L2 flushed before each sample; TOPS = 2·n³ / median time / 1e12\n", gpu);
    printf("%6s  %-34s %10s %7s %9s %12s\n", "n", "variant", "time_ms", "mad", "TOPS", "fp16_time/t");
    for (int s = 0; s < nsizes; s++) {
        const int n = sizes[s];
        const size_t nn = (size_t)n * n;
        float *Af = malloc(nn * 4), *Bf = malloc(nn * 4), *scale = malloc((size_t)n * 4);
        int8_t *A8 = malloc(nn), *B8 = malloc(nn);
        uint16_t *A16 = malloc(nn * 2), *B16 = malloc(nn * 2);
        if (!Af || !Bf || !scale || !A8 || !B8 || !A16 || !B16) {
            fprintf(stderr, "out of memory at n = %d\n", n);
            return 1;
        }
        dl_rng r;
        dl_rng_seed(&r, 1);
        dl_rng_fill_uniform(&r, Af, nn, -1, 1);
        dl_rng_fill_uniform(&r, Bf, nn, -1, 1);
        for (size_t i = 0; i < nn; i++) A8[i] = (int8_t)(dl_rng_below(&r, 255) - 127);
        for (size_t i = 0; i < nn; i++) B8[i] = (int8_t)(dl_rng_below(&r, 255) - 127);
        /* fp16 bits: random sign, exponent 13..16 (2^-2 .. 2^1), random mantissa */
        for (size_t i = 0; i < nn; i++)
            A16[i] = (uint16_t)(dl_rng_below(&r, 2) << 15 | (13 + dl_rng_below(&r, 4)) << 10 | dl_rng_below(&r, 1024));
        for (size_t i = 0; i < nn; i++)
            B16[i] = (uint16_t)(dl_rng_below(&r, 2) << 15 | (13 + dl_rng_below(&r, 4)) << 10 | dl_rng_below(&r, 1024));
        for (int i = 0; i < n; i++) scale[i] = 127.0f;
        float *dAf = device_copy(Af, nn * 4), *dBf = device_copy(Bf, nn * 4), *dCf = device_copy(Af, nn * 4);
        float *dscale = device_copy(scale, (size_t)n * 4), *dout = device_copy(Af, nn * 4);
        int8_t *dA8 = device_copy(A8, nn), *dB8 = device_copy(B8, nn);
        int32_t *dC32 = device_copy(Af, nn * 4);
        void *dA16 = device_copy(A16, nn * 2), *dB16 = device_copy(B16, nn * 2), *dC16 = device_copy(A16, nn * 2);

        fp16_case h = {handle, n, dA16, dB16, dC16};
        const double fp16_s = gpu_row("cublas fp16 (tensor cores)", n, run_fp16, &h, 0);
        if (sgemm && dl_variant_available(sgemm)) {
            fp32_case f = {sgemm, dl_matmul_dense(n, n, n, dAf, false, dBf, true, dCf, false)};
            gpu_row("cublas sgemm (fp32, no TF32)", n, run_fp32, &f, fp16_s);
        }
        int nv = 0;
        const dl_variant *const *vs = dl_variants("int8_gemm", &nv);
        for (int i = 0; i < nv; i++) {
            if (vs[i]->device != DL_DEVICE_CUDA || !dl_variant_available(vs[i])) continue;
            int8_case q = {vs[i], {.M = n, .N = n, .K = n, .A = dA8, .lda = n, .B = dB8, .ldb = n, .C = dC32, .ldc = n}};
            int8_case d = q;
            d.args.C = NULL, d.args.ldc = 0, d.args.out = dout, d.args.ldo = n;
            d.args.row_scale = dscale, d.args.col_scale = dscale;
            char what[64];
            snprintf(what, sizeof what, "%s int8 → int32", vs[i]->name);
            gpu_row(what, n, run_int8, &q, fp16_s);
            snprintf(what, sizeof what, "%s int8 → fp32 (epilogue)", vs[i]->name);
            gpu_row(what, n, run_int8, &d, fp16_s);
        }
        cudaFree(dAf), cudaFree(dBf), cudaFree(dCf), cudaFree(dscale), cudaFree(dout);
        cudaFree(dA8), cudaFree(dB8), cudaFree(dC32), cudaFree(dA16), cudaFree(dB16), cudaFree(dC16);
        free(Af), free(Bf), free(scale), free(A8), free(B8), free(A16), free(B16);
    }
    cublasDestroy(handle);
    return 0;
}
#endif

int main(int argc, char **argv) {
    static const int default_sizes[] = {1024, 2048, 4096}, quick_sizes[] = {256, 512};
    int sizes[64], nsizes = 0;
    bool cuda = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return usage(stdout), 0;
        if (strcmp(argv[i], "--device") == 0 && i + 1 < argc &&
            (strcmp(argv[i + 1], "cpu") == 0 || strcmp(argv[i + 1], "cuda") == 0)) {
            cuda = strcmp(argv[++i], "cuda") == 0;
            continue;
        }
        if (strcmp(argv[i], "--quick") == 0) {
            for (int q = 0; q < 2 && nsizes < 64; q++) sizes[nsizes++] = quick_sizes[q];
            continue;
        }
        char *end = NULL;
        const long n = strtol(argv[i], &end, 10);
        if (!end || *end || n < 1 || n > 16384 || nsizes >= 64) {
            fprintf(stderr, "bench-int8_gemm: bad size '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
        sizes[nsizes++] = (int)n;
    }
    if (nsizes == 0) {
        for (int q = 0; q < 3; q++) sizes[nsizes++] = default_sizes[q];
        if (cuda) sizes[nsizes++] = 8192;
    }
    if (cuda) {
#ifdef DL_HAVE_CUDA
        return bench_gpu(sizes, nsizes);
#else
        fprintf(stderr, "bench-int8_gemm: --device cuda: this build has no CUDA\n");
        return 1;
#endif
    }
    const dl_variant *fp32 = dl_matmul_best(DL_DEVICE_CPU);
    const dl_variant *int8 = dl_int8_gemm_best(DL_DEVICE_CPU);
    if (!fp32 || !int8) {
        fprintf(stderr, "no CPU variant available\n");
        return 1;
    }
    printf("threads %d; fp32 %s vs int8 %s; GFLOP/s = 2·n³ / median time\n", dl_threads_get(),
           fp32->name, int8->name);
    printf("%6s %12s %12s %8s %14s %8s\n", "n", "fp32", "int8 C", "ratio", "int8 +dequant",
           "ratio");
    for (int s = 0; s < nsizes; s++) {
        const int n = sizes[s];
        const size_t nn = (size_t)n * n;
        float *Af, *Bf, *Cf, *out, *scale;
        int8_t *A8, *B8;
        int32_t *C32;
        if (dl_alloc((void **)&Af, nn * 4) || dl_alloc((void **)&Bf, nn * 4) ||
            dl_alloc((void **)&Cf, nn * 4) || dl_alloc((void **)&out, nn * 4) ||
            dl_alloc((void **)&scale, (size_t)n * 4) || dl_alloc((void **)&A8, nn) ||
            dl_alloc((void **)&B8, nn) || dl_alloc((void **)&C32, nn * 4)) {
            fprintf(stderr, "out of memory at n = %d\n", n);
            return 1;
        }
        dl_rng r;
        dl_rng_seed(&r, 1);
        dl_rng_fill_uniform(&r, Af, nn, -1, 1);
        dl_rng_fill_uniform(&r, Bf, nn, -1, 1);
        for (size_t i = 0; i < nn; i++)
            A8[i] = (int8_t)(dl_rng_below(&r, 256) - 128);
        for (size_t i = 0; i < nn; i++)
            B8[i] = (int8_t)(dl_rng_below(&r, 256) - 128);
        for (int i = 0; i < n; i++)
            scale[i] = 127.0f;

        fp32_case f = {fp32, dl_matmul_dense(n, n, n, Af, false, Bf, true, Cf, false)};
        int8_case q = {
            int8,
            {.M = n, .N = n, .K = n, .A = A8, .lda = n, .B = B8, .ldb = n, .C = C32, .ldc = n}};
        int8_case d = {int8,
                       {.M = n,
                        .N = n,
                        .K = n,
                        .A = A8,
                        .lda = n,
                        .B = B8,
                        .ldb = n,
                        .out = out,
                        .ldo = n,
                        .row_scale = scale,
                        .col_scale = scale}};
        dlb_opts opts = dlb_opts_default();
        opts.max_time_s = n >= 4096 ? 6.0 : 3.0;
        opts.min_samples = n >= 4096 ? 5 : 10;
        dlb_ab ab_c, ab_d;
        dlb_compare(run_fp32, &f, run_int8, &q, &opts, &ab_c);
        dlb_compare(run_fp32, &f, run_int8, &d, &opts, &ab_d);
        const double ops = 2.0 * n * n * (double)n;
        printf("%6d %12.1f %12.1f %7.2fx %14.1f %7.2fx\n", n, dlb_gflops(ops, ab_c.a.time.median),
               dlb_gflops(ops, ab_c.b.time.median), ab_c.ratio.median,
               dlb_gflops(ops, ab_d.b.time.median), ab_d.ratio.median);
        fflush(stdout);
        dl_free(Af), dl_free(Bf), dl_free(Cf), dl_free(out), dl_free(scale);
        dl_free(A8), dl_free(B8), dl_free(C32);
    }
    return 0;
}
