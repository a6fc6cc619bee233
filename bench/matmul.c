/* bench/matmul.c — time every matmul variant side by side (what `make bench` runs).
 *
 * Square sizes 64 … 4096 and the shapes the MLP and the GPT use, every variant available on
 * this machine, GFLOP/s and fraction of the measured FMA peak; then interleaved A/B runs of
 * our fastest sgemm against OpenBLAS at n = 1024 and 2048, reported as a ratio with its spread.
 * Results go to results/bench/: matmul_square.csv, matmul_shapes.csv, matmul_vs_openblas.csv,
 * summary.csv, benchmarks.json (Google Benchmark schema), run.json and matmul_gflops.png.
 *
 * Slow variants are not run at sizes where one call would take more than --max-call-s
 * (predicted from their best rate at smaller sizes): ref at n = 4096 would take minutes.
 *
 * OpenBLAS picks its kernel when it loads; OPENBLAS_CORETYPE (set on some machines) forces an
 * older one. `make bench` unsets it for this command alone; the kernel in use is printed and
 * recorded either way.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/dlab.h"
#include "dlbench.h"

/* ------------------------------------------------------------------ setup */

typedef struct shape {
    const char *name; /* what it is in the model */
    int M, N, K;
    bool ta, tb;
} shape;

/* The MLP at batch 128 (LeNet-300-100 on 784 pixels) and the GPT at 8 × 128 tokens, width 128. */
static const shape MODEL_SHAPES[] = {
    {"mlp_fc1_fwd  x·W1ᵀ", 128, 300, 784, false, true},
    {"mlp_fc1_dW   dyᵀ·x", 300, 784, 128, true, false},
    {"mlp_fc1_dx   dy·W1", 128, 784, 300, false, false},
    {"mlp_fc2_fwd  x·W2ᵀ", 128, 100, 300, false, true},
    {"gpt_qkv_fwd  x·Wᵀ", 1024, 384, 128, false, true},
    {"gpt_fc_fwd   x·Wᵀ", 1024, 512, 128, false, true},
    {"gpt_proj_fwd x·Wᵀ", 1024, 128, 512, false, true},
    {"gpt_fc_dW    dyᵀ·x", 512, 128, 1024, true, false},
};
#define NSHAPES ((int)(sizeof MODEL_SHAPES / sizeof MODEL_SHAPES[0]))

typedef struct call {
    const dl_variant *v;
    dl_matmul_args args;
} call;

static void run_call(void *ctx) {
    call *c = ctx;
    dl_status s = ((dl_matmul_fn)c->v->impl)(&c->args);
    if (s != DL_OK) {
        fprintf(stderr, "bench-matmul: %s failed: %s\n", c->v->name, dl_last_error());
        exit(1);
    }
}

typedef struct buffers {
    float *A, *B, *C;
    size_t elems; /* capacity of each */
} buffers;

static int buffers_init(buffers *b, size_t elems, uint64_t seed) {
    if (dl_alloc((void **)&b->A, elems * 4) || dl_alloc((void **)&b->B, elems * 4) ||
        dl_calloc((void **)&b->C, elems * 4)) {
        fprintf(stderr, "bench-matmul: %s\n", dl_last_error());
        return -1;
    }
    dl_rng r;
    dl_rng_seed(&r, seed);
    dl_rng_fill_uniform(&r, b->A, elems, -1, 1);
    dl_rng_fill_uniform(&r, b->B, elems, -1, 1);
    b->elems = elems;
    return 0;
}

static bool is_own(const dl_variant *v) {
    return v->device == DL_DEVICE_CPU && strcmp(v->name, "openblas") != 0 && strcmp(v->name, "ref") != 0;
}

/* ------------------------------------------------------------ experiments */

typedef struct options {
    long max_n;
    double max_call_s;
} options;

/* ---- GPU: every CUDA variant, timed with CUDA events (--device cuda) ---- */

static void run_gpu(dlb_run *run, const dlb_opts *mopts, long max_n, uint64_t seed) {
    const dl_ops *ops;
    if (dl_backend("cuda", &ops) != DL_OK) return;
    size_t elems = (size_t)max_n * max_n;
    float *hA;
    float *dA, *dB, *dC;
    if (dl_alloc((void **)&hA, elems * 4) != DL_OK || ops->alloc((void **)&dA, elems * 4) != DL_OK ||
        ops->alloc((void **)&dB, elems * 4) != DL_OK || ops->alloc((void **)&dC, elems * 4) != DL_OK) {
        fprintf(stderr, "bench-matmul: %s\n", dl_last_error());
        exit(1);
    }
    dl_rng r;
    dl_rng_seed(&r, seed);
    dl_rng_fill_uniform(&r, hA, elems, -1, 1);
    if (ops->to_device(dA, hA, elems * 4) != DL_OK || ops->to_device(dB, hA, elems * 4) != DL_OK) {
        fprintf(stderr, "bench-matmul: %s\n", dl_last_error());
        exit(1);
    }
    int nv;
    const dl_variant *const *vs = dl_variants("matmul", &nv);
    dlb_table *t = dlb_table_new("matmul_gpu", "variant", "n", "time_ms", "mad_pct", "gflops",
                                 "vs_cublas", NULL);
    double cublas_rate[16] = {0};
    for (int pass = 0; pass < 2; pass++) { /* cuBLAS first, so the others can be put beside it */
        for (int vi = 0; vi < nv; vi++) {
            const dl_variant *v = vs[vi];
            bool is_cublas = strcmp(v->name, "cublas") == 0;
            if (v->device != DL_DEVICE_CUDA || !dl_variant_available(v) || is_cublas != (pass == 0))
                continue;
            int si = 0;
            for (long n = 256; n <= max_n && si < 16; n *= 2, si++) {
                call c = {v, dl_matmul_dense((int)n, (int)n, (int)n, dA, false, dB, false, dC, false)};
                dlb_result res;
                if (dlb_cuda_measure(run_call, &c, mopts, true, &res) != 0) {
                    fprintf(stderr, "bench-matmul: %s\n", dlb_error());
                    break;
                }
                double rate = dlb_gflops(2.0 * n * n * n, res.time.median);
                if (is_cublas) cublas_rate[si] = rate;
                dlb_table_str(t, v->name);
                dlb_table_int(t, n);
                dlb_table_numf(t, res.time.median * 1e3, "%.4f");
                dlb_table_numf(t, 100 * res.time.mad / res.time.median, "%.1f");
                dlb_table_numf(t, rate, "%.0f");
                dlb_table_numf(t, cublas_rate[si] > 0 ? rate / cublas_rate[si] : NAN, "%.3f");
                char name[96];
                snprintf(name, sizeof name, "matmul_gpu/%s/%ld", v->name, n);
                dlb_counter counters[] = {{"gflops", rate}, {NULL, 0}};
                dlb_run_benchmark(run, name, &res, counters);
                if (cublas_rate[si] > 0 && !is_cublas) {
                    char metric[64];
                    snprintf(metric, sizeof metric, "%s_vs_cublas_%ld", v->name, n);
                    dlb_run_metric(run, metric, rate / cublas_rate[si], "ratio");
                }
            }
        }
    }
    char gpu[128] = "";
    dlb_cuda_gpu_name(gpu, sizeof gpu);
    printf("\nGPU (%s), cold L2 (flushed before each sample), CUDA events:\n", gpu);
    dlb_run_table(run, t);
    dlb_table_free(t);
    dl_free(hA);
    ops->free(dA), ops->free(dB), ops->free(dC);
}

int main(int argc, char **argv) {
    options o = {.max_n = 4096, .max_call_s = 2.0};
    dlb_opt extra[] = {
        {"--max-n", DLB_OPT_INT, &o.max_n, "largest square size (64 … 16384)", 64, 16384},
        {"--max-call-s", DLB_OPT_DOUBLE, &o.max_call_s,
         "skip a variant where one call would take longer (seconds)", 0.001, 600},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    dlb_cli cli;
    int rc = dlb_cli_parse(argc, argv, "time every matmul variant (GFLOP/s, fraction of peak)",
                           "results/bench", extra, &cli);
    if (rc) return rc == 1 ? 0 : 2;
    if (cli.quick) o.max_n = o.max_n < 1024 ? o.max_n : 1024, o.max_call_s = 0.2;
    if (dl_threads_set(cli.threads) != DL_OK) return 2;
    if (strcmp(cli.device, "cuda") == 0 && dl_cuda_device_count() == 0) {
        const dl_ops *ops;
        dl_backend("cuda", &ops);
        fprintf(stderr, "bench-matmul: --device cuda: %s\n", dl_last_error());
        return 1;
    }

    dlb_run *run;
    if (dlb_run_open(cli.out, "bench-matmul", &run) != 0) {
        fprintf(stderr, "bench-matmul: %s\n", dlb_error());
        return 1;
    }
    dlb_context ctx;
    dlb_context_collect(&ctx);
    dlb_context_print(&ctx);
    dlb_peak peak;
    if (dlb_peak_get(NULL, cli.threads, &peak) != 0) {
        fprintf(stderr, "bench-matmul: peak: %s\n", dlb_error());
        dlb_run_abort(run);
        return 1;
    }
    const char *corename = dl_openblas_corename();
    const char *forced = getenv("OPENBLAS_CORETYPE");
    printf("threads %d | FMA peak %.0f GFLOP/s (%s) | copy %.1f GB/s | OpenBLAS kernel: %s%s%s\n",
           cli.threads, peak.fma_gflops, peak.simd, peak.copy_gbps, corename[0] ? corename : "(none)",
           forced ? " — forced by OPENBLAS_CORETYPE=" : "", forced ? forced : "");
    dlb_run_param(run, "threads", "%d", cli.threads);
    dlb_run_param(run, "quick", "%d", cli.quick);
    dlb_run_param(run, "seed", "%llu", (unsigned long long)cli.seed);
    dlb_run_param(run, "openblas_corename", "%s", corename);
    dlb_run_param(run, "openblas_coretype_env", "%s", forced ? forced : "");
    dlb_run_param(run, "fma_peak_gflops", "%.1f", peak.fma_gflops);

    /* OpenBLAS's idle workers spin for up to ~0.1 s after a call, and so do OpenMP's: the
     * longer warm-up lets the previous variant's threads go quiet before this one is timed,
     * and the A/B comparison sleeps before every sample for the same reason. */
    dlb_opts mopts = dlb_opts_default();
    mopts.warmup_s = 0.2;
    if (cli.quick) mopts.min_samples = 3, mopts.max_samples = 5, mopts.max_time_s = 0.1;
    dlb_opts abopts = mopts;
    abopts.settle_s = 0.12;
    abopts.min_sample_s = 0.02; /* several calls per sample: a sample is not one cold call */
    abopts.min_samples = cli.quick ? 3 : 15;

    buffers buf;
    size_t max_elems = (size_t)o.max_n * o.max_n;
    for (int i = 0; i < NSHAPES; i++) {
        size_t e = (size_t)MODEL_SHAPES[i].M * MODEL_SHAPES[i].K;
        size_t f = (size_t)MODEL_SHAPES[i].K * MODEL_SHAPES[i].N;
        size_t g = (size_t)MODEL_SHAPES[i].M * MODEL_SHAPES[i].N;
        if (e > max_elems) max_elems = e;
        if (f > max_elems) max_elems = f;
        if (g > max_elems) max_elems = g;
    }
    if (buffers_init(&buf, max_elems, cli.seed) != 0) {
        dlb_run_abort(run);
        return 1;
    }

    int nv;
    const dl_variant *const *vs = dl_variants("matmul", &nv);

    /* ---- square sizes: every CPU variant, GFLOP/s vs n ---- */
    dlb_table *sq = dlb_table_new("matmul_square", "variant", "n", "time_ms", "mad_pct", "gflops",
                                  "peak_frac", "unstable", NULL);
    enum { MAXSIZES = 16 };
    double xs[64][MAXSIZES], ys[64][MAXSIZES];
    int npts[64] = {0};
    double best_own_1024 = 0;
    const char *best_own_1024_name = "";
    int sizes[MAXSIZES], nsizes = 0;
    for (long n = 64; n <= o.max_n && nsizes < MAXSIZES; n *= 2) sizes[nsizes++] = (int)n;

    dlb_progress prog;
    dlb_progress_start(&prog, "square sizes", (long)nv * nsizes);
    for (int vi = 0; vi < nv && vi < 64; vi++) {
        const dl_variant *v = vs[vi];
        if (v->device != DL_DEVICE_CPU || !dl_variant_available(v)) continue;
        double best_rate = 0; /* best GFLOP/s at smaller sizes, to predict the next */
        for (int si = 0; si < nsizes; si++) {
            int n = sizes[si];
            dlb_progress_update(&prog, (long)vi * nsizes + si);
            double flops = 2.0 * n * n * n;
            if (best_rate > 0 && flops / (best_rate * 1e9) > o.max_call_s) break;
            call c = {v, dl_matmul_dense(n, n, n, buf.A, false, buf.B, false, buf.C, false)};
            dlb_result r;
            if (dlb_measure(run_call, &c, &mopts, &r) != 0) continue;
            double rate = dlb_gflops(flops, r.time.median);
            if (rate > best_rate) best_rate = rate;
            dlb_table_str(sq, v->name);
            dlb_table_int(sq, n);
            dlb_table_numf(sq, r.time.median * 1e3, "%.3f");
            dlb_table_numf(sq, 100 * r.time.mad / r.time.median, "%.1f");
            dlb_table_numf(sq, rate, "%.1f");
            dlb_table_numf(sq, rate / peak.fma_gflops, "%.3f");
            dlb_table_str(sq, r.time.unstable ? "UNSTABLE" : "");
            xs[vi][npts[vi]] = n, ys[vi][npts[vi]] = rate, npts[vi]++;
            char name[96];
            snprintf(name, sizeof name, "matmul/%s/%d", v->name, n);
            const dl_cost cost = dl_matmul_cost(&c.args); /* per call: the roofline in make report */
            dlb_counter counters[] = {{"gflops", rate}, {"peak_frac", rate / peak.fma_gflops},
                                      {"flops", cost.flops}, {"bytes", cost.bytes}, {NULL, 0}};
            dlb_run_benchmark(run, name, &r, counters);
            if (n == 1024 && is_own(v) && rate > best_own_1024) best_own_1024 = rate, best_own_1024_name = v->name;
        }
    }
    dlb_progress_end(&prog);
    printf("\nSquare C = A·B (fp32, %d threads):\n", cli.threads);
    dlb_run_table(run, sq);

    dlb_plot *plot = dlb_plot_new("matmul_gflops", "sgemm: GFLOP/s against size", "n (C = A·B, n×n)", "GFLOP/s");
    dlb_plot_log(plot, true, false);
    for (int vi = 0; vi < nv && vi < 64; vi++)
        if (npts[vi]) dlb_plot_series(plot, vs[vi]->name, xs[vi], ys[vi], npts[vi]);
    char peak_label[64];
    snprintf(peak_label, sizeof peak_label, "measured FMA peak (%s, %d thr)", peak.simd, cli.threads);
    dlb_plot_hline(plot, peak_label, peak.fma_gflops);
    dlb_plot_extra(plot, "set key inside top left box opaque\nset logscale x 2\nset xrange [48:5600]\nset yrange [0:*]\nset offsets 0, 0, graph 0.35, 0");
    dlb_run_plot(run, plot);
    dlb_plot_free(plot);

    /* ---- model shapes ---- */
    dlb_table *sh = dlb_table_new("matmul_shapes", "shape", "M", "N", "K", "variant", "time_ms",
                                  "gflops", "peak_frac", NULL);
    for (int i = 0; i < NSHAPES; i++) {
        const shape *s = &MODEL_SHAPES[i];
        for (int vi = 0; vi < nv; vi++) {
            const dl_variant *v = vs[vi];
            if (v->device != DL_DEVICE_CPU || !dl_variant_available(v)) continue;
            double flops = 2.0 * s->M * s->N * s->K;
            if (strcmp(v->name, "ref") == 0 && cli.quick) continue;
            call c = {v, dl_matmul_dense(s->M, s->N, s->K, buf.A, s->ta, buf.B, s->tb, buf.C, false)};
            dlb_result r;
            if (dlb_measure(run_call, &c, &mopts, &r) != 0) continue;
            double rate = dlb_gflops(flops, r.time.median);
            dlb_table_str(sh, s->name);
            dlb_table_int(sh, s->M);
            dlb_table_int(sh, s->N);
            dlb_table_int(sh, s->K);
            dlb_table_str(sh, v->name);
            dlb_table_numf(sh, r.time.median * 1e3, "%.4f");
            dlb_table_numf(sh, rate, "%.1f");
            dlb_table_numf(sh, rate / peak.fma_gflops, "%.3f");
        }
    }
    printf("\nModel shapes (batch 128 MLP, 1024-token GPT):\n");
    dlb_run_table(run, sh);

    /* ---- our best against OpenBLAS, interleaved ---- */
    const dl_variant *best = dl_matmul_best(DL_DEVICE_CPU);
    const dl_variant *blas = dl_variant_find("matmul", "openblas");
    dlb_table *ab = dlb_table_new("matmul_vs_openblas", "n", "ours", "openblas_kernel", "ours_gflops",
                                  "openblas_gflops", "ratio_median", "ratio_p10", "ratio_p90", NULL);
    if (blas && best) {
        for (int n = 1024; n <= 2048 && n <= o.max_n; n *= 2) {
            if (cli.quick && n > 1024) break;
            call cb = {blas, dl_matmul_dense(n, n, n, buf.A, false, buf.B, false, buf.C, false)};
            call co = {best, cb.args};
            dlb_ab cmp;
            if (dlb_compare(run_call, &cb, run_call, &co, &abopts, &cmp) != 0) continue;
            double flops = 2.0 * n * n * n;
            dlb_table_int(ab, n);
            dlb_table_str(ab, best->name);
            dlb_table_str(ab, corename);
            dlb_table_numf(ab, dlb_gflops(flops, cmp.b.time.median), "%.1f");
            dlb_table_numf(ab, dlb_gflops(flops, cmp.a.time.median), "%.1f");
            dlb_table_numf(ab, cmp.ratio.median, "%.3f");
            dlb_table_numf(ab, cmp.ratio.p10, "%.3f");
            dlb_table_numf(ab, cmp.ratio.p90, "%.3f");
            char metric[64];
            snprintf(metric, sizeof metric, "sgemm_vs_openblas_%d", n);
            dlb_run_metric(run, metric, cmp.ratio.median, "ratio");
        }
        printf("\nOurs against OpenBLAS, interleaved (ratio = OpenBLAS time / our time; > 1: ours faster):\n");
        dlb_run_table(run, ab);
    }

    if (strcmp(cli.device, "cuda") == 0) run_gpu(run, &mopts, cli.quick ? 1024 : 8192, cli.seed);

    if (best_own_1024 > 0) {
        dlb_run_metric(run, "sgemm_best_gflops_1024", best_own_1024, "gflops");
        dlb_run_metric(run, "sgemm_peak_fraction_1024", best_own_1024 / peak.fma_gflops, "fraction");
        dlb_run_param(run, "sgemm_best_variant_1024", "%s", best_own_1024_name);
    }
    dlb_run_metric(run, "fma_peak_gflops", peak.fma_gflops, "gflops");
    dlb_run_metric(run, "copy_gbps", peak.copy_gbps, "gbps");

    dlb_table_free(sq);
    dlb_table_free(sh);
    dlb_table_free(ab);
    dl_free(buf.A), dl_free(buf.B), dl_free(buf.C);
    if (dlb_run_close(run) != 0) {
        fprintf(stderr, "bench-matmul: %s\n", dlb_error());
        return 1;
    }
    printf("\nresults in %s/\n", cli.out);
    return 0;
}
