/* experiment.c — lesson 5: the sweep (methods × densities × seeds), the redistribution
 * trace, the checkpoint round trip, the timings, and everything written to results/.
 *
 * Methods: dense (once per seed), then static, SET and sparse momentum at every density of
 * the sweep, each from the same initial mask for a given density and seed. Accuracy is the
 * test accuracy after the last epoch, mean ± sample standard deviation over the seeds.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sparse_lesson.h"

static const dl_sparse_method SPARSE_METHODS[3] = {DL_SPARSE_STATIC, DL_SPARSE_SET, DL_SPARSE_MOMENTUM};

/* Paper (Dettmers & Zettlemoyer 2019): LeNet-300-100 on MNIST, test error % by density. */
static const double PAPER_DENSITY[] = {0.01, 0.02, 0.05, 0.083};
static const double PAPER_ERROR_PCT[] = {2.36, 1.99, 1.53, 1.43};

static void mean_std(const double *x, int n, double *mean, double *std) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += x[i];
    *mean = n ? s / n : NAN;
    for (int i = 0; i < n; i++) q += (x[i] - *mean) * (x[i] - *mean);
    *std = n > 1 ? sqrt(q / (n - 1)) : 0.0;
}

static int index_of_density(const sp_config *cfg, double d) {
    for (int i = 0; i < cfg->n_densities; i++)
        if (fabs(cfg->densities[i] - d) < 1e-9) return i;
    return -1;
}

static dl_status load_data(dl_image_set *train, dl_image_set *test) {
    DL_TRY(dl_fashion_mnist_load(train, NULL, "train"));
    dl_status s = dl_fashion_mnist_load(test, NULL, "test");
    if (s != DL_OK) return dl_image_set_free(train), s;
    double mean, std;
    dl_image_set_stats(train, &mean, &std);
    s = dl_image_set_normalize(train, mean, std);
    if (s == DL_OK) s = dl_image_set_normalize(test, mean, std);
    if (s != DL_OK) dl_image_set_free(train), dl_image_set_free(test);
    return s;
}

dl_status sp_experiment(dlb_run *run, const sp_config *cfg) {
    if (cfg->n_seeds < 1 || cfg->n_seeds > SP_MAX_SEEDS || cfg->n_densities < 1 ||
        cfg->n_densities > SP_MAX_DENSITIES)
        return DL_FAIL(DL_ERR_ARG, "seeds %d (1..%d), densities %d (1..%d)", cfg->n_seeds,
                       SP_MAX_SEEDS, cfg->n_densities, SP_MAX_DENSITIES);
    for (int i = 0; i < cfg->n_densities; i++) {
        dl_sparse_config c = dl_sparse_defaults(DL_SPARSE_MOMENTUM, cfg->densities[i]);
        c.prune_rate = cfg->prune_rate;
        c.prune_rate_min = c.prune_rate_min < c.prune_rate ? c.prune_rate_min : c.prune_rate;
        DL_TRY(dl_sparse_config_check(&c));
    }
    dl_image_set train, test;
    DL_TRY(load_data(&train, &test));
    const int runs = cfg->n_seeds * (1 + 3 * cfg->n_densities);
    printf("LeNet-300-100 on Fashion-MNIST: %d training images, %d test images, %d epoch(s) per run, "
           "%d runs (dense + static, SET, sparse momentum at %d densities, %d seed(s))\n",
           cfg->train_count < train.count ? cfg->train_count : train.count,
           cfg->test_count < test.count ? cfg->test_count : test.count, cfg->epochs, runs,
           cfg->n_densities, cfg->n_seeds);
    printf("AdamW lr %g (cosine, warm-up), batch %d, prune rate %g → 0.005 (cosine), prune/regrow at "
           "each epoch end\n\n", cfg->lr, SP_BATCH, cfg->prune_rate);

    // -------------------------------------------------------------------- the sweep
    double acc_dense[SP_MAX_SEEDS];
    double acc[3][SP_MAX_DENSITIES][SP_MAX_SEEDS];
    size_t active[3][SP_MAX_DENSITIES];
    int trace_d = index_of_density(cfg, 0.05);
    if (trace_d < 0) trace_d = 0;
    sp_result trace = {0};
    char ckpt[1200];
    snprintf(ckpt, sizeof ckpt, "%s/sparse_momentum_d%02.0f.ckpt", dlb_run_dir(run),
             100 * cfg->densities[trace_d]);
    dl_status s = DL_OK;
    int done = 0;
    const double t0 = dlb_now();
    for (int k = 0; k < cfg->n_seeds && s == DL_OK; k++) {
        const uint64_t seed = cfg->seed + (uint64_t)k;
        sp_result r;
        s = sp_train(cfg, DL_SPARSE_DENSE, 1.0, seed, &train, &test, NULL, &r);
        if (s != DL_OK) break;
        acc_dense[k] = r.test_acc;
        printf("[%3d/%d] dense              seed %llu: test acc %.4f  (%.1f s)\n", ++done, runs,
               (unsigned long long)seed, r.test_acc, r.train_seconds);
        for (int i = 0; i < cfg->n_densities && s == DL_OK; i++)
            for (int mth = 0; mth < 3 && s == DL_OK; mth++) {
                const bool traced = mth == 2 && i == trace_d && k == 0;
                s = sp_train(cfg, SPARSE_METHODS[mth], cfg->densities[i], seed, &train, &test,
                             traced ? ckpt : NULL, &r);
                if (s != DL_OK) break;
                acc[mth][i][k] = r.test_acc, active[mth][i] = r.active_weights;
                if (traced) trace = r;
                printf("[%3d/%d] %-16s d=%4.0f%% seed %llu: test acc %.4f  (%.1f s)\n", ++done, runs,
                       dl_sparse_method_name(SPARSE_METHODS[mth]), 100 * cfg->densities[i],
                       (unsigned long long)seed, r.test_acc, r.train_seconds);
                fflush(stdout);
            }
    }
    if (s != DL_OK) return dl_image_set_free(&train), dl_image_set_free(&test), s;
    printf("sweep: %.1f s\n", dlb_now() - t0);

    // ------------------------------------------------------------- accuracy table
    double dense_mean, dense_std;
    mean_std(acc_dense, cfg->n_seeds, &dense_mean, &dense_std);
    dlb_table *t = dlb_table_new("accuracy_by_method", "method", "density", "active_weights",
                                 "test_acc_mean", "test_acc_std", "seeds", "minus_dense_points", NULL);
    dlb_table_str(t, "dense");
    dlb_table_numf(t, 1.0, "%.2f");
    const dl_mlp_config mc = dl_mlp_lenet_300_100();
    dlb_table_int(t, (long long)mc.inputs * mc.hidden[0] + (long long)mc.hidden[0] * mc.hidden[1] +
                         (long long)mc.hidden[1] * mc.classes);
    dlb_table_numf(t, dense_mean, "%.4f");
    dlb_table_numf(t, dense_std, "%.4f");
    dlb_table_int(t, cfg->n_seeds);
    dlb_table_numf(t, 0.0, "%+.2f");
    double means[3][SP_MAX_DENSITIES];
    for (int mth = 0; mth < 3; mth++)
        for (int i = 0; i < cfg->n_densities; i++) {
            double m, sd;
            mean_std(acc[mth][i], cfg->n_seeds, &m, &sd);
            means[mth][i] = m;
            dlb_table_str(t, dl_sparse_method_name(SPARSE_METHODS[mth]));
            dlb_table_numf(t, cfg->densities[i], "%.2f");
            dlb_table_int(t, (long long)active[mth][i]);
            dlb_table_numf(t, m, "%.4f");
            dlb_table_numf(t, sd, "%.4f");
            dlb_table_int(t, cfg->n_seeds);
            dlb_table_numf(t, 100 * (m - dense_mean), "%+.2f");
        }
    printf("\nTest accuracy (mean ± std over %d seed(s)); weights counted are the three weight "
           "matrices (biases stay dense)\n", cfg->n_seeds);
    dlb_run_table(run, t);
    dlb_table_free(t);

    dlb_plot *p = dlb_plot_new("accuracy_vs_density", "LeNet-300-100 on Fashion-MNIST",
                               "density (fraction of weights kept)", "test accuracy");
    dlb_plot_log(p, true, false);
    dlb_plot_extra(p, "set xrange [0.005:1]"); /* a one-density run still has an x range */
    for (int mth = 0; mth < 3; mth++)
        dlb_plot_series(p, dl_sparse_method_name(SPARSE_METHODS[mth]), cfg->densities, means[mth],
                        cfg->n_densities);
    dlb_plot_hline(p, "dense", dense_mean);
    dlb_run_plot(run, p);
    dlb_plot_free(p);

    // ------------------------------------------------- redistribution at work
    dlb_table *dt = dlb_table_new("sparse_momentum_layer_density", "epoch", "fc1_density",
                                  "fc2_density", "fc3_density", NULL);
    double ep[SP_MAX_EPOCHS + 1], ld[3][SP_MAX_EPOCHS + 1];
    for (int e = 0; e <= trace.epochs; e++) {
        ep[e] = e;
        dlb_table_int(dt, e);
        for (int l = 0; l < 3; l++) {
            ld[l][e] = trace.layer_density[e][l];
            dlb_table_numf(dt, ld[l][e], "%.4f");
        }
    }
    printf("\nSparse momentum at %.0f%%, seed %llu: each layer's density after each epoch "
           "(0 = the initial uniform masks)\n", 100 * cfg->densities[trace_d], (unsigned long long)cfg->seed);
    dlb_run_table(run, dt);
    dlb_table_free(dt);
    p = dlb_plot_new("layer_density_over_epochs", "Sparse momentum: where the weights go",
                     "epoch", "layer density");
    dlb_plot_log(p, false, true);
    dlb_plot_series(p, "fc1 (784x300)", ep, ld[0], trace.epochs + 1);
    dlb_plot_series(p, "fc2 (300x100)", ep, ld[1], trace.epochs + 1);
    dlb_plot_series(p, "fc3 (100x10)", ep, ld[2], trace.epochs + 1);
    dlb_run_plot(run, p);
    dlb_plot_free(p);

    // ------------------------------------------------------ checkpoint round trip
    double reloaded = NAN;
    s = sp_evaluate_checkpoint(cfg, ckpt, &test, &reloaded);
    if (s != DL_OK) return dl_image_set_free(&train), dl_image_set_free(&test), s;
    const bool same = reloaded == trace.test_acc;
    printf("\ncheckpoint %s (kind sparse_mlp, masks included): reloaded test acc %.4f, %s\n", ckpt,
           reloaded, same ? "the same as before saving" : "DIFFERENT (a bug)");
    dlb_run_metric(run, "checkpoint_reload_same_acc", same, "bool");

    // ------------------------------------------------------ paper vs this machine
    dlb_table *pt = dlb_table_new("paper_vs_machine", "density", "paper_mnist_error_pct",
                                  "here_fashion_mnist_error_pct", NULL);
    for (int j = 0; j < 4; j++) {
        const int i = index_of_density(cfg, PAPER_DENSITY[j]);
        dlb_table_numf(pt, PAPER_DENSITY[j], "%.3f");
        dlb_table_numf(pt, PAPER_ERROR_PCT[j], "%.2f");
        if (i >= 0) dlb_table_numf(pt, 100 * (1 - means[2][i]), "%.2f");
        else dlb_table_str(pt, "-");
    }
    printf("\nSparse momentum, LeNet-300-100: the paper's MNIST test error against this run's "
           "FASHION-MNIST test error (a harder dataset: dense MLPs reach ~88-89%%, not ~98%%)\n");
    dlb_run_table(run, pt);
    dlb_table_free(pt);

    // ------------------------------------------------------------------ metrics
    const int i05 = index_of_density(cfg, 0.05);
    if (cfg->paper_epochs > 0 && i05 >= 0) {
        /* The targets' comparison: dense and the three methods at 5 % trained longer (the
         * sweep's few epochs leave every sparse net short of converged; the paper trains
         * 100). The sweep's 5 % figures stay as *_5ep. */
        dlb_run_metric(run, "acc_dense_5ep", dense_mean, "fraction");
        dlb_run_metric(run, "acc_sparse_momentum_d05_5ep", means[2][i05], "fraction");
        sp_config lc = *cfg;
        lc.epochs = cfg->paper_epochs;
        double la[4][SP_MAX_SEEDS], lm[4], lsd[4];
        static const dl_sparse_method LONG_METHODS[4] = {DL_SPARSE_DENSE, DL_SPARSE_STATIC, DL_SPARSE_SET, DL_SPARSE_MOMENTUM};
        printf("\nThe 5%% comparison, %d epochs per run (%d runs):\n", lc.epochs, 4 * cfg->n_seeds);
        const double t1 = dlb_now();
        for (int k = 0; k < cfg->n_seeds && s == DL_OK; k++)
            for (int mth = 0; mth < 4 && s == DL_OK; mth++) {
                sp_result r;
                s = sp_train(&lc, LONG_METHODS[mth], mth == 0 ? 1.0 : 0.05, cfg->seed + (uint64_t)k, &train, &test, NULL, &r);
                if (s != DL_OK) break;
                la[mth][k] = r.test_acc;
                printf("  %-16s seed %llu: test acc %.4f  (%.1f s)\n", dl_sparse_method_name(LONG_METHODS[mth]),
                       (unsigned long long)(cfg->seed + (uint64_t)k), r.test_acc, r.train_seconds);
                fflush(stdout);
            }
        if (s != DL_OK) return dl_image_set_free(&train), dl_image_set_free(&test), s;
        dlb_table *lt = dlb_table_new("accuracy_d05_long", "method", "density", "epochs", "test_acc_mean",
                                      "test_acc_std", "seeds", "minus_dense_points", NULL);
        for (int mth = 0; mth < 4; mth++) {
            mean_std(la[mth], cfg->n_seeds, &lm[mth], &lsd[mth]);
            dlb_table_str(lt, dl_sparse_method_name(LONG_METHODS[mth]));
            dlb_table_numf(lt, mth == 0 ? 1.0 : 0.05, "%.2f");
            dlb_table_int(lt, lc.epochs);
            dlb_table_numf(lt, lm[mth], "%.4f");
            dlb_table_numf(lt, lsd[mth], "%.4f");
            dlb_table_int(lt, cfg->n_seeds);
            dlb_table_numf(lt, 100 * (lm[mth] - lm[0]), "%+.2f");
        }
        printf("(%.1f s)\n", dlb_now() - t1);
        dlb_run_table(run, lt);
        dlb_table_free(lt);
        dlb_run_metric(run, "paper_point_epochs", lc.epochs, "epochs");
        dlb_run_metric(run, "acc_dense", lm[0], "fraction");
        dlb_run_metric(run, "acc_sparse_momentum_d05", lm[3], "fraction");
        dlb_run_metric(run, "acc_set_d05", lm[2], "fraction");
        dlb_run_metric(run, "acc_static_d05", lm[1], "fraction");
        dlb_run_metric(run, "sparse_momentum_d05_minus_dense_points", 100 * (lm[3] - lm[0]), "points");
    } else {
        dlb_run_metric(run, "acc_dense", dense_mean, "fraction");
        if (i05 >= 0) {
            dlb_run_metric(run, "acc_sparse_momentum_d05", means[2][i05], "fraction");
            dlb_run_metric(run, "acc_set_d05", means[1][i05], "fraction");
            dlb_run_metric(run, "acc_static_d05", means[0][i05], "fraction");
            dlb_run_metric(run, "sparse_momentum_d05_minus_dense_points", 100 * (means[2][i05] - dense_mean), "points");
        }
    }
    dl_image_set_free(&train), dl_image_set_free(&test);

    // ------------------------------------------------------------------ timings
    if (cfg->timing) {
        double breakeven = 0, speedup = NAN;
        DL_TRY(sp_time_sparse_compute(run, cfg, &breakeven, &speedup));
        printf("break-even density (one layer, fwd+bwd): %.3f — below it the CSR kernel beats the dense GEMM\n",
               breakeven);
        dlb_run_metric(run, "sparse_breakeven_density", breakeven, "fraction");
        if (!isnan(speedup)) {
            printf("training step at 5%% density: %.2fx the dense step's speed\n", speedup);
            dlb_run_metric(run, "sparse_step_speedup_d05", speedup, "x");
        }
    }
    return DL_OK;
}
