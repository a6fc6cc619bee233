/* speed.c — lesson 4's timings, all interleaved (dlb_compare) so that the shared machine's
 * noise hits both sides alike:
 *   (1) int8 GEMM (dl_int8_gemm_best: VNNI vpdpbusd where the CPU has it, int32 out) against
 *       fp32 sgemm — the own fastest (dl_matmul_best) and OpenBLAS — at square sizes, both
 *       counted as 2·n³ operations (bench/int8_gemm.c times the same pair; this adds OpenBLAS);
 *   (2) LLM.int8() against plain vector-wise int8, both as dl_qlinear forwards of x (N,C) by
 *       W (C,C), as planted outlier columns grow: the price of the mixed-precision split.
 * Left out: the GPU (bench-int8_gemm --device cuda), sizes that are not square.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/int8_gemm.h"
#include "dlab/matmul.h"
#include "int8_lesson.h"

typedef struct fp32_call {
    const dl_variant *v;
    dl_matmul_args args;
    dl_status status;
} fp32_call;

typedef struct int8_call {
    const dl_variant *v;
    dl_int8_gemm_args args;
    dl_status status;
} int8_call;

typedef struct qlinear_call {
    dl_qlinear *q;
    const float *x;
    int N;
    float *out;
    dl_status status;
} qlinear_call;

/* dlb_fn callbacks return nothing: keep the first failure, skip the rest */
static void run_fp32(void *ctx) {
    fp32_call *c = ctx;
    if (c->status == DL_OK) c->status = dl_matmul_run(c->v, &c->args);
}
static void run_int8(void *ctx) {
    int8_call *c = ctx;
    if (c->status == DL_OK) c->status = dl_int8_gemm_run(c->v, &c->args);
}
static void run_qlinear(void *ctx) {
    qlinear_call *c = ctx;
    if (c->status == DL_OK) c->status = dl_qlinear_forward(c->q, c->x, c->N, c->out);
}

static dl_status compare(dlb_fn a, void *actx, dlb_fn b, void *bctx, const dlb_opts *o, dlb_ab *ab) {
    if (dlb_compare(a, actx, b, bctx, o, ab) != 0) return DL_FAIL(DL_ERR_INTERNAL, "dlb_compare: %s", dlb_error());
    return DL_OK;
}

dl_status i8_gemm_speed(dlb_run *run, const i8_config *cfg, double *ratio_first) {
    const dl_variant *own = dl_matmul_best(DL_DEVICE_CPU), *int8 = dl_int8_gemm_best(DL_DEVICE_CPU);
    const dl_variant *blas = dl_variant_find("matmul", "openblas");
    if (blas && !dl_variant_available(blas)) blas = NULL;
    if (!own || !int8) return DL_FAIL(DL_ERR_UNSUPPORTED, "no CPU matmul or int8_gemm variant");
    printf("int8 %s (int8·int8 → int32) vs fp32 %s (own fastest) and OpenBLAS (%s), %d threads; "
           "GOP/s = 2·n³ / median time\n",
           int8->name, own->name, blas ? dl_openblas_corename() : "not built", dl_threads_get());
    dlb_run_param(run, "openblas_core", "%s", blas ? dl_openblas_corename() : "none");
    dlb_run_param(run, "int8_gemm_variant", "%s", int8->name);
    dlb_run_param(run, "fp32_gemm_variant", "%s", own->name);
    dlb_table *t = dlb_table_new("int8_gemm_speed", "n", "fp32_own_gflops", "fp32_openblas_gflops",
                                 "int8_gops", "int8_vs_own", "int8_vs_own_p10", "int8_vs_own_p90",
                                 "int8_vs_openblas", NULL);
    dl_status s = DL_OK;
    for (int i = 0; i < cfg->n_gemm_sizes && s == DL_OK; i++) {
        const int n = cfg->gemm_sizes[i];
        const size_t nn = (size_t)n * n;
        float *Af = NULL, *Bf = NULL, *Cf = NULL;
        int8_t *A8 = NULL, *B8 = NULL;
        int32_t *C32 = NULL;
        s = dl_alloc((void **)&Af, nn * 4);
        if (s == DL_OK) s = dl_alloc((void **)&Bf, nn * 4);
        if (s == DL_OK) s = dl_alloc((void **)&Cf, nn * 4);
        if (s == DL_OK) s = dl_alloc((void **)&A8, nn);
        if (s == DL_OK) s = dl_alloc((void **)&B8, nn);
        if (s == DL_OK) s = dl_alloc((void **)&C32, nn * 4);
        if (s == DL_OK) {
            dl_rng r;
            dl_rng_seed(&r, cfg->seed);
            dl_rng_fill_uniform(&r, Af, nn, -1, 1);
            dl_rng_fill_uniform(&r, Bf, nn, -1, 1);
            for (size_t k = 0; k < nn; k++) A8[k] = (int8_t)((int)dl_rng_below(&r, 255) - 127);
            for (size_t k = 0; k < nn; k++) B8[k] = (int8_t)((int)dl_rng_below(&r, 255) - 127);
            fp32_call f = {own, dl_matmul_dense(n, n, n, Af, false, Bf, true, Cf, false), DL_OK};
            fp32_call fb = {blas, dl_matmul_dense(n, n, n, Af, false, Bf, true, Cf, false), DL_OK};
            int8_call q = {int8, {.M = n, .N = n, .K = n, .A = A8, .lda = n, .B = B8, .ldb = n, .C = C32, .ldc = n},
                           DL_OK};
            dlb_opts o = dlb_opts_default();
            o.max_time_s = cfg->quick ? 0.3 : n >= 4096 ? 4.0 : 2.0;
            o.min_samples = cfg->quick ? 5 : n >= 4096 ? 4 : 8;
            if (o.max_samples < o.min_samples) o.max_samples = o.min_samples; /* DLB_QUICK lowers it */
            o.settle_s = 0.02; /* OpenBLAS's threads spin after a call: let them sleep first */
            dlb_ab ab_own, ab_blas = {0};
            s = compare(run_fp32, &f, run_int8, &q, &o, &ab_own);
            if (s == DL_OK && blas) s = compare(run_fp32, &fb, run_int8, &q, &o, &ab_blas);
            if (s == DL_OK) s = f.status != DL_OK ? f.status : fb.status != DL_OK ? fb.status : q.status;
            if (s == DL_OK) {
                const double ops = 2.0 * n * n * (double)n;
                const double blas_gf = blas ? dlb_gflops(ops, ab_blas.a.time.median) : NAN;
                printf("  n = %5d  fp32 own %7.1f GFLOP/s  OpenBLAS %7.1f  int8 %7.1f GOP/s  "
                       "int8/own %.2fx [%.2f..%.2f]  int8/OpenBLAS %.2fx\n",
                       n, dlb_gflops(ops, ab_own.a.time.median), blas_gf,
                       dlb_gflops(ops, ab_own.b.time.median), ab_own.ratio.median, ab_own.ratio.p10,
                       ab_own.ratio.p90, blas ? ab_blas.ratio.median : NAN);
                fflush(stdout);
                dlb_table_int(t, n);
                dlb_table_numf(t, dlb_gflops(ops, ab_own.a.time.median), "%.1f");
                dlb_table_numf(t, blas_gf, "%.1f");
                dlb_table_numf(t, dlb_gflops(ops, ab_own.b.time.median), "%.1f");
                dlb_table_numf(t, ab_own.ratio.median, "%.2f");
                dlb_table_numf(t, ab_own.ratio.p10, "%.2f");
                dlb_table_numf(t, ab_own.ratio.p90, "%.2f");
                dlb_table_numf(t, blas ? ab_blas.ratio.median : NAN, "%.2f");
                if (i == 0) *ratio_first = ab_own.ratio.median;
            }
        }
        dl_free(Af), dl_free(Bf), dl_free(Cf), dl_free(A8), dl_free(B8), dl_free(C32);
    }
    if (s == DL_OK && dlb_run_table(run, t) != 0) s = DL_FAIL(DL_ERR_IO, "%s", dlb_error());
    dlb_table_free(t);
    return s;
}

dl_status i8_overhead(dlb_run *run, const i8_config *cfg, double *ratio_last) {
    const int N = cfg->overhead_N, C = cfg->overhead_C;
    float *x = NULL, *w = NULL, *out_v = NULL, *out_l = NULL;
    dl_qlinear vec = {0}, mixed = {0};
    dl_status s = dl_alloc((void **)&x, (size_t)N * C * 4);
    if (s == DL_OK) s = dl_alloc((void **)&w, (size_t)C * C * 4);
    if (s == DL_OK) s = dl_alloc((void **)&out_v, (size_t)N * C * 4);
    if (s == DL_OK) s = dl_alloc((void **)&out_l, (size_t)N * C * 4);
    dl_rng r;
    dl_rng_seed(&r, cfg->seed);
    if (s == DL_OK) {
        dl_rng_fill_uniform(&r, w, (size_t)C * C, -0.05f, 0.05f);
        s = dl_qlinear_init(&vec, DL_QLINEAR_VECTORWISE, w, NULL, C, C, cfg->threshold);
    }
    if (s == DL_OK) s = dl_qlinear_init(&mixed, DL_QLINEAR_LLM_INT8, w, NULL, C, C, cfg->threshold);
    printf("LLM.int8() vs vector-wise int8: x (%d,%d) · W (%d,%d)ᵀ, outlier columns planted at |x| = %g "
           "in every row (threshold %g)\n", N, C, C, C, 2.0 * cfg->threshold, cfg->threshold);
    dlb_table *t = dlb_table_new("llm_int8_overhead", "outlier_cols", "found_cols", "vectorwise_ms",
                                 "llm_int8_ms", "llm_int8_over_vectorwise", "ratio_p10", "ratio_p90", NULL);
    double cols[I8_MAX_SIZES], ratios[I8_MAX_SIZES];
    int n_pts = 0;
    for (int i = 0; i < cfg->n_overhead_counts && s == DL_OK; i++) {
        const int k = cfg->overhead_counts[i] < C ? cfg->overhead_counts[i] : C;
        /* the inlier part stays below the threshold; k evenly spaced columns hold 2·threshold */
        dl_rng_fill_uniform(&r, x, (size_t)N * C, -1, 1);
        for (int j = 0; j < k; j++) {
            const int col = (int)((long long)j * C / (k > 0 ? k : 1));
            for (int row = 0; row < N; row++) x[(size_t)row * C + col] = (row & 1 ? -2 : 2) * cfg->threshold;
        }
        qlinear_call a = {&vec, x, N, out_v, DL_OK}, b = {&mixed, x, N, out_l, DL_OK};
        dlb_opts o = dlb_opts_default();
        o.max_time_s = cfg->quick ? 0.3 : 2.0;
        o.min_samples = cfg->quick ? 5 : 15;
        if (o.max_samples < o.min_samples) o.max_samples = o.min_samples; /* DLB_QUICK lowers it */
        dlb_ab ab;
        s = compare(run_qlinear, &a, run_qlinear, &b, &o, &ab);
        if (s == DL_OK) s = a.status != DL_OK ? a.status : b.status;
        if (s != DL_OK) break;
        /* ratio = time(a)/time(b); the overhead is its inverse: llm_int8 time over vectorwise */
        const double over = ab.b.time.median / ab.a.time.median;
        printf("  %4d outlier columns (LLM.int8() found %4d): vector-wise %8.3f ms  LLM.int8() %8.3f ms  "
               "%.2fx\n", k, mixed.stats.outlier_cols, 1e3 * ab.a.time.median, 1e3 * ab.b.time.median, over);
        fflush(stdout);
        dlb_table_int(t, k), dlb_table_int(t, mixed.stats.outlier_cols);
        dlb_table_numf(t, 1e3 * ab.a.time.median, "%.3f"), dlb_table_numf(t, 1e3 * ab.b.time.median, "%.3f");
        dlb_table_numf(t, over, "%.2f");
        dlb_table_numf(t, 1 / ab.ratio.p90, "%.2f"), dlb_table_numf(t, 1 / ab.ratio.p10, "%.2f");
        cols[n_pts] = k, ratios[n_pts] = over, n_pts++;
        *ratio_last = over;
    }
    if (s == DL_OK && dlb_run_table(run, t) != 0) s = DL_FAIL(DL_ERR_IO, "%s", dlb_error());
    dlb_table_free(t);
    if (s == DL_OK && n_pts > 0) {
        dlb_plot *p = dlb_plot_new("llm_int8_overhead", "LLM.int8() time over vector-wise int8",
                                   "outlier columns (of the hidden width)", "time ratio");
        char extra[128];
        snprintf(extra, sizeof extra, "set xrange [-1:%d]", (int)(cols[n_pts - 1] * 1.05) + 1);
        dlb_plot_extra(p, extra);
        dlb_plot_series(p, "LLM.int8() / vector-wise", cols, ratios, n_pts);
        dlb_plot_hline(p, "no overhead", 1.0);
        dlb_run_plot(run, p);
        dlb_plot_free(p);
    }
    dl_qlinear_free(&vec), dl_qlinear_free(&mixed);
    dl_free(x), dl_free(w), dl_free(out_v), dl_free(out_l);
    return s;
}
