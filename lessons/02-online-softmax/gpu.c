/* gpu.c — lesson 2 (e), with --device cuda: the same sweep on the GPU.
 *
 * A GPU runs thousands of rows at once, so unlike a CPU core it cannot keep every row it is
 * working on in a cache: there the paper's access counts decide the speed at any V. The
 * variants: block-per-row and warp-per-row, safe and online (own kernels), and cuDNN's
 * softmax (CUDNN_SOFTMAX_ACCURATE) as the yardstick; then fused softmax + top-k on the GPU.
 * Rates are 8 bytes per element, against the device's copy bandwidth measured here (a
 * device-to-device cudaMemcpy of 1 GiB, counting read + write). Before timing, each variant
 * is checked against the CPU reference on a few rows.
 * Built without CUDA this part reports that and does nothing (lesson.c refuses --device
 * cuda earlier in that case).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sm_lesson.h"

#ifndef DL_HAVE_CUDA
int sm_gpu(dlb_run *run, const sm_config *cfg) {
    (void)run, (void)cfg;
    printf("(e) GPU: this build has no CUDA.\n");
    return 0;
}
#else
#include <cuda_runtime_api.h>

static const char *const VARIANTS[] = {"cuda_block_safe", "cuda_block_online", "cuda_warp_safe",
                                       "cuda_warp_online", "cudnn", NULL};

static int cuda_ok(cudaError_t err, const char *what) {
    if (err == cudaSuccess) return 0;
    fprintf(stderr, "error: %s: %s (%s)\n", what, cudaGetErrorString(err), cudaGetErrorName(err));
    return -1;
}

typedef struct copy_call {
    void *dst;
    const void *src;
    size_t bytes;
} copy_call;

static void run_copy(void *ctx) {
    copy_call *c = ctx;
    (void)cudaMemcpyAsync(c->dst, c->src, c->bytes, cudaMemcpyDeviceToDevice, 0);
}

typedef struct softmax_call {
    const dl_variant *v;
    dl_softmax_args a;
} softmax_call;

static void run_softmax(void *ctx) {
    softmax_call *c = ctx;
    (void)dl_softmax_forward(c->v, &c->a);
}

typedef struct topk_call {
    const dl_variant *v;
    dl_softmax_topk_args a;
} topk_call;

static void run_topk(void *ctx) {
    topk_call *c = ctx;
    (void)dl_softmax_topk(c->v, &c->a);
}

/* Max relative error of variant v on the first `rows` rows of dx (host copy hx) against the
 * CPU ref; probabilities below 1e-30 are compared absolutely. */
/* How far a correct fp32 kernel may be from the double ref. Each variant's normalizer is a
 * sum of V terms split over at least 32 threads (a warp per row), each adding ~V/32 terms in
 * sequence, then a tree: a relative error of at most (V/32 + log2 32)·u with u = 2^-24
 * (Higham's bound for recursive summation), plus an ulp or two from expf and the division.
 * At V ≤ 4096 that is under 1e-5 and the floor 1e-5 rules; at V = 2^20 it is 2e-3, which is
 * loose, but a wrong index or a missed rescale errs by O(1), far above it. The table prints
 * the error measured (on the H100, cuda_warp_safe: 2.9e-5 at V = 2^20). */
static double gpu_softmax_tolerance(long V) {
    const double u = 1.0 / 16777216.0;
    const double bound = ((double)V / 32.0 + 5.0 + 4.0) * u;
    return bound > 1e-5 ? bound : 1e-5;
}

static double check_rows(const dl_variant *v, const float *hx, const float *dx, float *dy,
                         int rows, int V) {
    const size_t n = (size_t)rows * V;
    float *want = NULL, *got = NULL;
    double worst = INFINITY;
    if (dl_alloc((void **)&want, n * sizeof(float)) != DL_OK ||
        dl_alloc((void **)&got, n * sizeof(float)) != DL_OK)
        goto done;
    dl_softmax_args ref = {.N = rows, .V = V, .inp = hx, .out = want};
    dl_softmax_args dev = {.N = rows, .V = V, .inp = dx, .out = dy};
    if (dl_softmax_forward(dl_variant_find("softmax", "ref"), &ref) != DL_OK ||
        dl_softmax_forward(v, &dev) != DL_OK ||
        cuda_ok(cudaMemcpy(got, dy, n * sizeof(float), cudaMemcpyDeviceToHost), v->name) != 0)
        goto done;
    worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double e = fabs((double)got[i] - want[i]) / (fabs((double)want[i]) + 1e-30);
        if (!(e <= worst)) worst = e; /* NaN counts as worst */
    }
done:
    dl_free(want), dl_free(got);
    return worst;
}

int sm_gpu(dlb_run *run, const sm_config *cfg) {
    char gpu[128] = "";
    (void)dlb_cuda_gpu_name(gpu, sizeof gpu);
    const long budget = cfg->quick ? 1L << 22 : 1L << 28;
    const long max_v = cfg->quick ? 1L << 16 : 1L << 20;
    float *hx = NULL, *dx = NULL, *dy = NULL, *dprob = NULL;
    int *dindex = NULL;
    dlb_table *t = NULL, *tk = NULL;
    int rc = -1;
    dlb_opts opts = sm_timing_opts(cfg);
    opts.settle_s = 0;
    printf("(e) GPU: %s\n", gpu);
    if (dl_alloc((void **)&hx, sizeof(float) * (size_t)budget) != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        return -1;
    }
    sm_fill_logits(hx, (size_t)budget, cfg->seed, 5, -8.0f, 8.0f);
    if (cuda_ok(cudaMalloc((void **)&dx, sizeof(float) * (size_t)budget), "cudaMalloc x") ||
        cuda_ok(cudaMalloc((void **)&dy, sizeof(float) * (size_t)budget), "cudaMalloc y") ||
        cuda_ok(cudaMalloc((void **)&dprob, sizeof(float) * 4000 * 64), "cudaMalloc prob") ||
        cuda_ok(cudaMalloc((void **)&dindex, sizeof(int) * 4000 * 64), "cudaMalloc index") ||
        cuda_ok(cudaMemcpy(dx, hx, sizeof(float) * (size_t)budget, cudaMemcpyHostToDevice),
                "copy x to the GPU"))
        goto done;

    /* The device's copy bandwidth: read + write of the whole budget. */
    copy_call cc = {dy, dx, sizeof(float) * (size_t)budget};
    dlb_result copy;
    if (dlb_cuda_measure(run_copy, &cc, &opts, false, &copy) != 0) {
        fprintf(stderr, "error: %s\n", dlb_error());
        goto done;
    }
    const double copy_gbps = dlb_gbps(2.0 * cc.bytes, copy.time.median);
    printf("device-to-device copy of %.0f MiB: %.0f GB/s (read + write)\n", cc.bytes / 1048576.0,
           copy_gbps);
    dlb_run_metric(run, "gpu_copy_gbps", copy_gbps, "gbps");

    t = dlb_table_new("gpu_softmax_sweep", "batch", "N", "V", "variant", "max_rel_err", "time_us",
                      "gbps", "frac_copy", NULL);
    long sizes[32];
    const int nsizes = sm_sweep_sizes(max_v, sizes, 32);
    double best_frac = 0.0, own_best_at_4000 = 0.0, cudnn_at_4000 = 0.0;
    double safe_4000 = 0.0, online_4000 = 0.0;
    enum { NV = 5 };
    double xs[2][32], ys[2][NV][32];
    const int batches[2] = {4000, 10};
    for (int b = 0; b < 2; b++) {
        for (int s = 0; s < nsizes; s++) {
            const long V = sizes[s];
            const int N = sm_rows_for(batches[b], V, budget);
            xs[b][s] = (double)V;
            for (int i = 0; VARIANTS[i]; i++) {
                ys[b][i][s] = NAN;
                const dl_variant *v = dl_variant_find("softmax", VARIANTS[i]);
                if (!v || !dl_variant_available(v)) continue;
                const double err = check_rows(v, hx, dx, dy, N < 4 ? N : 4, (int)V);
                if (!(err <= gpu_softmax_tolerance(V))) {
                    fprintf(stderr, "error: %s at V=%ld is wrong (max relative error %.3g)\n",
                            v->name, V, err);
                    goto done;
                }
                softmax_call c = {v, {.N = N, .V = (int)V, .inp = dx, .out = dy}};
                dlb_result r;
                if (dlb_cuda_measure(run_softmax, &c, &opts, true, &r) != 0) {
                    fprintf(stderr, "error: %s\n", dlb_error());
                    goto done;
                }
                const double gbps = dlb_gbps(8.0 * N * V, r.time.median);
                ys[b][i][s] = gbps;
                dlb_table_int(t, batches[b]);
                dlb_table_int(t, N);
                dlb_table_int(t, V);
                dlb_table_str(t, v->name);
                dlb_table_numf(t, err, "%.2g");
                dlb_table_numf(t, 1e6 * r.time.median, "%.1f");
                dlb_table_numf(t, gbps, "%.0f");
                dlb_table_numf(t, gbps / copy_gbps, "%.2f");
                const bool own = strcmp(v->name, "cudnn") != 0;
                if (own && gbps / copy_gbps > best_frac) best_frac = gbps / copy_gbps;
                if (batches[b] == 4000 && V == 4096) {
                    if (own && gbps > own_best_at_4000) own_best_at_4000 = gbps;
                    if (!own) cudnn_at_4000 = gbps;
                    if (strcmp(v->name, "cuda_block_safe") == 0) safe_4000 = gbps;
                    if (strcmp(v->name, "cuda_block_online") == 0) online_4000 = gbps;
                }
            }
        }
    }
    if (dlb_run_table(run, t) != 0) goto done;
    for (int b = 0; b < 2; b++) {
        char name[48], title[96];
        snprintf(name, sizeof name, "gpu_softmax_gbps_batch%d", batches[b]);
        snprintf(title, sizeof title, "GPU softmax, batch %d, %s", batches[b], gpu);
        dlb_plot *p = dlb_plot_new(name, title, "vocabulary size V", "GB/s (8 bytes per element)");
        dlb_plot_log(p, true, false);
        for (int i = 0; i < NV; i++) dlb_plot_series(p, VARIANTS[i], xs[b], ys[b][i], nsizes);
        dlb_plot_hline(p, "device copy bandwidth", copy_gbps);
        if (dlb_run_plot(run, p) != 0) {
            dlb_plot_free(p);
            goto done;
        }
        dlb_plot_free(p);
    }
    dlb_run_metric(run, "gpu_softmax_best_bw_fraction", best_frac, "fraction");
    if (safe_4000 > 0 && online_4000 > 0)
        dlb_run_metric(run, "gpu_online_vs_safe_speedup_v4096", online_4000 / safe_4000, "x");
    if (cudnn_at_4000 > 0)
        dlb_run_metric(run, "gpu_best_vs_cudnn_v4096", own_best_at_4000 / cudnn_at_4000, "x");

    /* Fused top-k on the GPU at V = 25000. */
    {
        const int V = 25000, N = sm_rows_for(4000, V, budget);
        const dl_variant *fu = dl_variant_find("softmax_topk", "cuda_fused");
        const dl_variant *un = dl_variant_find("softmax_topk", "cuda_unfused");
        tk = dlb_table_new("gpu_topk_fusion", "k", "unfused_us", "fused_us", "speedup", NULL);
        const int ks[] = {1, 5, 10, 30};
        for (int q = 0; q < 4 && fu && un; q++) {
            topk_call cu = {un, {.N = N, .V = V, .K = ks[q], .inp = dx, .prob = dprob,
                                 .index = dindex, .work = dy}};
            topk_call cf = {fu, cu.a};
            dlb_result ru, rf;
            if (dlb_cuda_measure(run_topk, &cu, &opts, true, &ru) != 0 ||
                dlb_cuda_measure(run_topk, &cf, &opts, true, &rf) != 0) {
                fprintf(stderr, "error: %s\n", dlb_error());
                goto done;
            }
            dlb_table_int(tk, ks[q]);
            dlb_table_numf(tk, 1e6 * ru.time.median, "%.1f");
            dlb_table_numf(tk, 1e6 * rf.time.median, "%.1f");
            dlb_table_numf(tk, ru.time.median / rf.time.median, "%.2f");
            if (ks[q] == 5)
                dlb_run_metric(run, "gpu_topk_fused_speedup", ru.time.median / rf.time.median, "x");
        }
        if (dlb_run_table(run, tk) != 0) goto done;
    }
    rc = cuda_ok(cudaDeviceSynchronize(), "the GPU part");
    printf("\n");
done:
    dlb_table_free(t);
    dlb_table_free(tk);
    cudaFree(dx), cudaFree(dy), cudaFree(dprob), cudaFree(dindex);
    dl_free(hx);
    return rc;
}
#endif
