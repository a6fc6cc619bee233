/* test_lesson05.c — what lesson 5 computes exactly: the break-even interpolation, that a
 * sparse run keeps its weight budget and refuses a bad density, and a tiny end-to-end run of
 * the experiment (512 images, 2 epochs, one density, no timings) with its files, metrics and
 * a checkpoint that reloads to the same accuracy. Linked with every .c file of
 * lessons/05-sparse-momentum except lesson.c. Needs Debian's dataset-fashion-mnist for the
 * last three (skipped without it). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "../lessons/05-sparse-momentum/sparse_lesson.h"
#include "tmpdir.h"

static void breakeven_interpolates_in_log_density(void **state) {
    (void)state;
    const double d[4] = {0.01, 0.02, 0.05, 0.1};
    const double r1[4] = {0.5, 0.8, 1.2, 2.0};
    assert_float_equal(sp_breakeven_density(d, r1, 4), sqrt(0.02 * 0.05), 1e-12);
    const double never[4] = {1.1, 1.5, 2, 3};
    assert_float_equal(sp_breakeven_density(d, never, 4), 0.0, 0);
    const double always[4] = {0.1, 0.2, 0.3, 0.9};
    assert_float_equal(sp_breakeven_density(d, always, 4), 0.1, 0);
    const double at_first[4] = {0.5, 1.0, 2, 3}; /* ratio exactly 1 at d[1]: break-even there */
    assert_float_equal(sp_breakeven_density(d, at_first, 4), 0.02, 1e-12);
}

static bool have_fashion_mnist(void) {
    struct stat st;
    char path[512];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dl_fashion_mnist_dir(NULL));
    return stat(path, &st) == 0;
}

static const double tiny_densities[1] = {0.05};

static sp_config tiny_config(void) {
    sp_config c = {.quick = true, .seed = 7, .n_seeds = 1, .threads = 1, .variants = "fast",
                   .epochs = 2, .train_count = 512, .test_count = 256,
                   .densities = tiny_densities, .n_densities = 1, .prune_rate = 0.5,
                   .lr = 2e-3f, .timing = 0};
    return c;
}

static void sparse_runs_keep_their_budget_and_refuse_bad_density(void **state) {
    (void)state;
    if (!have_fashion_mnist()) skip();
    dl_image_set train, test;
    assert_int_equal(dl_fashion_mnist_load(&train, NULL, "test"), DL_OK); /* small: 10k */
    assert_int_equal(dl_fashion_mnist_load(&test, NULL, "test"), DL_OK);
    sp_config cfg = tiny_config();
    sp_result r;
    const dl_sparse_method methods[3] = {DL_SPARSE_STATIC, DL_SPARSE_SET, DL_SPARSE_MOMENTUM};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sp_train(&cfg, methods[i], 0.05, 1, &train, &test, NULL, &r), DL_OK);
        /* round(0.05·n) per layer: 11760 + 1500 + 50 */
        assert_int_equal(r.active_weights, 11760 + 1500 + 50);
        assert_true(r.test_acc > 0.1 && r.test_acc <= 1.0); /* above chance after 8 steps */
        double total = 0;
        for (int l = 0; l < 3; l++)
            total += r.layer_density[2][l] * (l == 0 ? 235200 : l == 1 ? 30000 : 1000);
        assert_float_equal(total, 13310, 1e-6);
    }
    assert_int_equal(sp_train(&cfg, DL_SPARSE_MOMENTUM, 0.0, 1, &train, &test, NULL, &r), DL_ERR_ARG);
    assert_int_equal(sp_train(&cfg, DL_SPARSE_SET, 1.5, 1, &train, &test, NULL, &r), DL_ERR_ARG);
    cfg.prune_rate = 1.0;
    assert_int_equal(sp_train(&cfg, DL_SPARSE_SET, 0.05, 1, &train, &test, NULL, &r), DL_ERR_ARG);
    dl_image_set_free(&train), dl_image_set_free(&test);
}

/* The value of `metric` in <dir>/summary.csv, NAN if absent. */
static double summary_value(const char *dir, const char *metric) {
    char path[400], line[512];
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    FILE *f = fopen(path, "r");
    double v = NAN;
    size_t n = strlen(metric);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, metric, n) == 0 && line[n] == ',') v = atof(line + n + 1);
    if (f) fclose(f);
    return v;
}

static void the_whole_experiment_runs_on_a_subset(void **state) {
    (void)state;
    if (!have_fashion_mnist()) skip();
    assert_int_equal(tmpdir_make("lesson05"), 0);
    char dir[128];
    snprintf(dir, sizeof dir, "%s", tmpdir);
    sp_config cfg = tiny_config();
    dlb_run *run = NULL;
    assert_int_equal(dlb_run_open(dir, "05-sparse-momentum", &run), 0);
    assert_int_equal(sp_experiment(run, &cfg), DL_OK);
    assert_int_equal(dlb_run_close(run), 0);
    const char *files[] = {"accuracy_by_method.csv", "sparse_momentum_layer_density.csv",
                           "paper_vs_machine.csv", "sparse_momentum_d05.ckpt", "summary.csv", "run.json"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[400];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (stat(path, &st) != 0) fail_msg("missing %s", path);
    }
    const char *metrics[] = {"acc_dense", "acc_sparse_momentum_d05", "acc_set_d05", "acc_static_d05"};
    for (size_t i = 0; i < 4; i++) {
        double v = summary_value(dir, metrics[i]);
        if (!(v > 0 && v <= 1)) fail_msg("%s = %g", metrics[i], v);
    }
    assert_float_equal(summary_value(dir, "checkpoint_reload_same_acc"), 1, 0);
    /* a file that is not a checkpoint is refused */
    char path[400];
    snprintf(path, sizeof path, "%s/garbage.ckpt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not a checkpoint\n", f);
    fclose(f);
    dl_image_set test;
    assert_int_equal(dl_fashion_mnist_load(&test, NULL, "test"), DL_OK);
    double acc;
    assert_int_not_equal(sp_evaluate_checkpoint(&cfg, path, &test, &acc), DL_OK);
    dl_image_set_free(&test);
    assert_int_equal(tmpdir_remove(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(breakeven_interpolates_in_log_density),
        cmocka_unit_test(sparse_runs_keep_their_budget_and_refuse_bad_density),
        cmocka_unit_test(the_whole_experiment_runs_on_a_subset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
