/* bench/int8_gemm.c — int8 GEMM (the best int8_gemm variant) against the own fastest fp32
 * sgemm (dl_matmul_best), interleaved, at square sizes. Both count 2·m·n·k operations.
 *
 *   build/bin/bench-int8_gemm [n ...]        (default: 1024 2048 4096)
 *
 * The int8 side is C int32 = A·Bᵀ with B stored N×K, and again with the fused dequantizing
 * epilogue writing fp32 (what a quantized linear layer runs); the fp32 side is C = A·Bᵀ with
 * the same layout. Left out: OpenBLAS and the GPU (the lesson reports those), sizes that are
 * not square. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/core.h"
#include "dlab/int8_gemm.h"
#include "dlab/matmul.h"
#include "dlbench.h"

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
    fprintf(f, "usage: bench-int8_gemm [--quick] [n ...]   (sizes 1..16384; default 1024 2048 4096, "
               "--quick 256 512)\n");
}

int main(int argc, char **argv) {
    static const int default_sizes[] = {1024, 2048, 4096}, quick_sizes[] = {256, 512};
    int sizes[64], nsizes = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return usage(stdout), 0;
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
    if (nsizes == 0)
        for (int q = 0; q < 3; q++) sizes[nsizes++] = default_sizes[q];
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
