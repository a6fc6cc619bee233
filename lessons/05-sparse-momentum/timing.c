/* timing.c — lesson 5: what sparse compute buys on this CPU.
 *
 *  (1) one layer, 784 → 300 at batch 128 (LeNet's largest), forward + both backward products:
 *      the spmm family (CSR weight: forward, dinp, dvals at the nonzeros, dbias) against the
 *      linear family's dense GEMM (forward, dinp, the full dW, dbias), interleaved
 *      (dlb_compare), at densities from 1% to 100%: the break-even density;
 *  (2) the whole training step of LeNet-300-100 (forward, backward, AdamW) computed sparse
 *      (dl_sparse_mlp + AdamW over the stored weights only) against the dense step, at each
 *      density of the sweep.
 * Both run on the CPU with the fastest variants available here, whatever --device says.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sparse_lesson.h"

double sp_breakeven_density(const double *d, const double *ratio, int n) {
    if (n < 1 || !(ratio[0] < 1.0)) return 0.0;
    for (int i = 1; i < n; i++) {
        if (ratio[i] >= 1.0) { /* between d[i−1] (faster) and d[i] (not): interpolate in log d */
            const double f = (1.0 - ratio[i - 1]) / (ratio[i] - ratio[i - 1]);
            return exp(log(d[i - 1]) + f * (log(d[i]) - log(d[i - 1])));
        }
    }
    return d[n - 1];
}

static dlb_opts timing_opts(bool quick) {
    dlb_opts o = dlb_opts_default();
    if (quick) o.warmup_s = 0.005, o.min_samples = 3, o.max_samples = 5, o.max_time_s = 0.05;
    else o.min_samples = 7, o.max_samples = 25, o.max_time_s = 0.6;
    /* OpenBLAS's and OpenMP's idle threads spin after a call; without a pause one side's
     * spinning workers steal the cores the other side's sample runs on (dlbench.h) */
    o.settle_s = quick ? 0.001 : 0.01;
    return o;
}

// ------------------------------------------------------------------ (1) one layer

typedef struct layer_ctx {
    const dl_variant *v;
    dl_spmm_args sa;   /* sparse */
    dl_linear_args la; /* dense */
    dl_status status;
} layer_ctx;

static void run_sparse_layer(void *p) {
    layer_ctx *c = p;
    if (c->status == DL_OK) c->status = dl_spmm_forward(c->v, &c->sa);
    if (c->status == DL_OK) c->status = dl_spmm_backward(c->v, &c->sa);
}

static void run_dense_layer(void *p) {
    layer_ctx *c = p;
    if (c->status == DL_OK) c->status = dl_linear_forward(c->v, &c->la);
    if (c->status == DL_OK) c->status = dl_linear_backward(c->v, &c->la);
}

static dl_status time_layers(dlb_run *run, const sp_config *cfg, double *breakeven) {
    static const double full[] = {0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0};
    static const double quick[] = {0.01, 0.05, 0.3, 1.0};
    const double *dens = cfg->quick ? quick : full;
    const int nd = cfg->quick ? 4 : 9;
    enum { N = SP_BATCH, C = 784, OC = 300 };
    const dl_variant *spmm = dl_variant_best_cpu("spmm"), *linear = dl_variant_best_cpu("linear");
    float *buf;
    const size_t floats = (size_t)N * C * 2 + (size_t)OC * C * 3 + (size_t)N * OC * 3 + 2 * OC;
    DL_TRY(dl_alloc((void **)&buf, floats * sizeof(float)));
    dl_rng r;
    dl_rng_seed(&r, cfg->seed);
    dl_rng_fill_uniform(&r, buf, floats, -1, 1);
    float *inp = buf, *dinp = inp + N * C, *W = dinp + N * C, *dW = W + OC * C, *Wm = dW + OC * C;
    float *out = Wm + OC * C, *dout = out + N * OC, *out2 = dout + N * OC, *bias = out2 + N * OC;
    float *dbias = bias + OC;
    const dlb_opts opts = timing_opts(cfg->quick);
    dlb_table *t = dlb_table_new("spmm_vs_dense_layer", "density", "nnz", "sparse_ms", "dense_ms",
                                 "speedup", "sparse_gflops", NULL);
    double ratio[9], d_used[9];
    dl_status s = DL_OK;
    for (int i = 0; i < nd && s == DL_OK; i++) {
        dl_csr csr;
        for (size_t k = 0; k < (size_t)OC * C; k++) Wm[k] = dl_rng_uniform(&r) < dens[i] ? W[k] : 0.0f;
        s = dl_csr_from_dense(&csr, Wm, NULL, OC, C);
        if (s != DL_OK) break;
        float *dvals;
        s = dl_calloc((void **)&dvals, (size_t)csr.nnz * sizeof(float) + 4);
        if (s != DL_OK) { dl_csr_free(&csr); break; }
        layer_ctx sc = {.v = spmm, .sa = dl_spmm_args_for(&csr, N)};
        sc.sa.inp = inp, sc.sa.bias = bias, sc.sa.out = out, sc.sa.dout = dout, sc.sa.dinp = dinp;
        sc.sa.dvals = dvals, sc.sa.dbias = dbias;
        layer_ctx dc = {.v = linear, .la = {.N = N, .C = C, .OC = OC, .inp = inp, .weight = W,
                                             .bias = bias, .out = out2, .dout = dout, .dinp = dinp,
                                             .dweight = dW, .dbias = dbias}};
        dlb_ab ab;
        if (dlb_compare(run_dense_layer, &dc, run_sparse_layer, &sc, &opts, &ab) != 0)
            s = DL_FAIL(DL_ERR_INTERNAL, "timing: %s", dlb_error());
        if (s == DL_OK) s = sc.status != DL_OK ? sc.status : dc.status;
        if (s == DL_OK) {
            const double sparse_s = ab.b.time.median, dense_s = ab.a.time.median;
            ratio[i] = 1.0 / ab.ratio.median, d_used[i] = dens[i];
            dlb_table_numf(t, dens[i], "%.2f");
            dlb_table_int(t, csr.nnz);
            dlb_table_numf(t, sparse_s * 1e3, "%.3f");
            dlb_table_numf(t, dense_s * 1e3, "%.3f");
            dlb_table_numf(t, ab.ratio.median, "%.2f");
            dlb_table_numf(t, dlb_gflops(6.0 * N * csr.nnz, sparse_s), "%.1f");
        }
        dl_free(dvals);
        dl_csr_free(&csr);
    }
    dl_free(buf);
    if (s != DL_OK) return dlb_table_free(t), s;
    printf("\n(1) one layer 784→300, batch %d, forward + dinp + dW + dbias: spmm %s vs dense %s\n"
           "    (speedup = dense time / sparse time, interleaved medians)\n", N, spmm->name, linear->name);
    dlb_run_table(run, t);
    dlb_table_free(t);
    *breakeven = sp_breakeven_density(d_used, ratio, nd);
    return DL_OK;
}

// ------------------------------------------------------------- (2) the training step

typedef struct step_ctx {
    dl_mlp *m;
    dl_sparse_mlp *sm; /* NULL: the dense step */
    const dl_variant *optim;
    float *adam_m, *adam_v; /* dense: (n_params); sparse: per layer vals then bias, packed */
    const float *x;
    const int *y;
    long t;
    dl_status status;
} step_ctx;

static dl_adamw_args adamw(float *p, const float *g, float *m, float *v, size_t n, long t) {
    dl_adamw_args a = {.n = n, .param = p, .grad = g, .m = m, .v = v, .lr = 1e-4f, .beta1 = 0.9f,
                       .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 1e-4f, .step = t};
    return a;
}

static void run_step(void *p) {
    step_ctx *c = p;
    if (c->status != DL_OK) return;
    c->t++;
    if (!c->sm) {
        dl_status s = dl_mlp_forward(c->m, c->x, c->y, SP_BATCH, NULL);
        if (s == DL_OK) s = dl_mlp_backward(c->m);
        dl_adamw_args a = adamw(c->m->params, c->m->grads, c->adam_m, c->adam_v, c->m->n_params, c->t);
        if (s == DL_OK) s = dl_adamw_run(c->optim, &a);
        c->status = s;
        return;
    }
    dl_status s = dl_sparse_mlp_forward(c->sm, c->x, c->y, SP_BATCH, NULL);
    if (s == DL_OK) s = dl_sparse_mlp_backward(c->sm);
    size_t off = 0;
    for (int l = 0; l < c->sm->n_layers && s == DL_OK; l++) {
        const size_t nnz = (size_t)c->sm->W[l].nnz, nb = (size_t)c->sm->W[l].rows;
        dl_adamw_args a = adamw(c->sm->W[l].vals, c->sm->dvals[l], c->adam_m + off, c->adam_v + off, nnz, c->t);
        s = dl_adamw_run(c->optim, &a);
        off += nnz;
        dl_adamw_args b = adamw(c->m->b[l], c->m->db[l], c->adam_m + off, c->adam_v + off, nb, c->t);
        if (s == DL_OK) s = dl_adamw_run(c->optim, &b);
        off += nb;
    }
    c->status = s;
}

static dl_status time_steps(dlb_run *run, const sp_config *cfg, double *speedup_d05) {
    dl_mlp_config mc = dl_mlp_lenet_300_100();
    dl_mlp dense = {0}, host = {0};
    dl_rng r;
    dl_rng_seed(&r, cfg->seed);
    float *state = NULL, *x = NULL;
    int y[SP_BATCH];
    for (int i = 0; i < SP_BATCH; i++) y[i] = i % 10;
    dl_status s = dl_mlp_create(&dense, &mc, SP_BATCH, "fast");
    if (s == DL_OK) s = dl_mlp_create(&host, &mc, SP_BATCH, "fast");
    if (s == DL_OK) s = dl_mlp_init(&dense, &r);
    if (s == DL_OK) s = dl_calloc((void **)&state, 4 * dense.n_params * sizeof(float));
    if (s == DL_OK) s = dl_alloc((void **)&x, (size_t)SP_BATCH * mc.inputs * sizeof(float));
    if (s != DL_OK) goto out;
    dl_rng_fill_uniform(&r, x, (size_t)SP_BATCH * mc.inputs, 0, 1);
    memcpy(host.params, dense.params, dense.n_params * sizeof(float));
    const dlb_opts opts = timing_opts(cfg->quick);
    dlb_table *t = dlb_table_new("train_step_vs_density", "density", "active_weights", "sparse_step_ms",
                                 "dense_step_ms", "speedup", NULL);
    const dl_variant *optim = dl_optim_best();
    double dens_x[SP_MAX_DENSITIES], sparse_ms[SP_MAX_DENSITIES], dense_ms_sum = 0;
    int points = 0;
    *speedup_d05 = NAN;
    for (int i = 0; i < cfg->n_densities && s == DL_OK; i++) {
        dl_sparse sp;
        dl_sparse_config sc = dl_sparse_defaults(DL_SPARSE_STATIC, cfg->densities[i]);
        s = dl_sparse_create_for_mlp(&sp, &sc, &host, cfg->seed);
        if (s != DL_OK) break;
        dl_sparse_apply(&sp, host.params);
        dl_sparse_mlp sm;
        s = dl_sparse_mlp_create(&sm, &host, &sp, NULL);
        if (s != DL_OK) { dl_sparse_free(&sp); break; }
        memset(state, 0, 4 * dense.n_params * sizeof(float));
        step_ctx dc = {.m = &dense, .optim = optim, .adam_m = state, .adam_v = state + dense.n_params,
                       .x = x, .y = y};
        step_ctx scx = {.m = &host, .sm = &sm, .optim = optim, .adam_m = state + 2 * dense.n_params,
                        .adam_v = state + 3 * dense.n_params, .x = x, .y = y};
        dlb_ab ab;
        if (dlb_compare(run_step, &dc, run_step, &scx, &opts, &ab) != 0)
            s = DL_FAIL(DL_ERR_INTERNAL, "timing: %s", dlb_error());
        if (s == DL_OK) s = scx.status != DL_OK ? scx.status : dc.status;
        if (s == DL_OK) {
            dens_x[points] = cfg->densities[i], sparse_ms[points] = ab.b.time.median * 1e3;
            dense_ms_sum += ab.a.time.median * 1e3;
            points++;
            if (fabs(cfg->densities[i] - 0.05) < 1e-9) *speedup_d05 = ab.ratio.median;
            dlb_table_numf(t, cfg->densities[i], "%.2f");
            dlb_table_int(t, (long long)dl_sparse_active(&sp));
            dlb_table_numf(t, ab.b.time.median * 1e3, "%.3f");
            dlb_table_numf(t, ab.a.time.median * 1e3, "%.3f");
            dlb_table_numf(t, ab.ratio.median, "%.2f");
        }
        dl_sparse_mlp_free(&sm);
        dl_sparse_free(&sp);
        memcpy(host.params, dense.params, dense.n_params * sizeof(float)); /* unmask for the next */
    }
    if (s == DL_OK) {
        printf("\n(2) LeNet-300-100 training step (forward, backward, AdamW), batch %d: sparse "
               "(spmm, AdamW over the stored weights) vs dense\n", SP_BATCH);
        dlb_run_table(run, t);
        dlb_plot *p = dlb_plot_new("step_time_vs_density", "LeNet-300-100 training step on this CPU",
                                   "density (fraction of weights kept)", "time per step (ms)");
        dlb_plot_log(p, true, false);
        dlb_plot_extra(p, "set xrange [0.005:1]");
        dlb_plot_series(p, "sparse step (spmm)", dens_x, sparse_ms, points);
        if (points > 0) dlb_plot_hline(p, "dense step", dense_ms_sum / points);
        dlb_run_plot(run, p);
        dlb_plot_free(p);
    }
    dlb_table_free(t);
out:
    dl_free(state), dl_free(x);
    dl_mlp_free(&dense), dl_mlp_free(&host);
    return s;
}

dl_status sp_time_sparse_compute(dlb_run *run, const sp_config *cfg, double *breakeven,
                                 double *speedup_d05) {
    DL_TRY(time_layers(run, cfg, breakeven));
    return time_steps(run, cfg, speedup_d05);
}
