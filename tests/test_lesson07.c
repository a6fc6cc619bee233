/* test_lesson07.c — what lesson 7 computes exactly: the sweep's m values, where each formula
 * is claimed, and a quick run of every part writing its tables, plots and metrics, with the
 * headline values checked against the closed forms (3/11 at p = 4, m = 8; 1F1B holds p = 4 of
 * GPipe's m = 16 microbatches), and the single-process emulation against plain training with
 * gradient accumulation. Linked with every .c file of lessons/07-pipeline-bubbles
 * except lesson.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../lessons/07-pipeline-bubbles/pp_lesson.h"
#include "tmpdir.h"

static void sweep_covers_1_to_64_or_its_powers_of_two(void **state) {
    (void)state;
    int ms[64];
    int n = pp_sweep_ms(false, ms);
    assert_int_equal(n, 64);
    for (int i = 0; i < n; i++)
        assert_int_equal(ms[i], i + 1);
    n = pp_sweep_ms(true, ms);
    assert_int_equal(n, 7);
    for (int i = 0; i < n; i++)
        assert_int_equal(ms[i], 1 << i);
}

static void zbh1_formula_is_claimed_only_once_the_pipeline_fills(void **state) {
    (void)state;
    assert_false(pp_formula_applies(DL_PP_ZBH1, 4, 3));
    assert_true(pp_formula_applies(DL_PP_ZBH1, 4, 4));
    assert_true(pp_formula_applies(DL_PP_GPIPE, 8, 1));
    double bubble, peak;
    assert_int_equal(pp_bubble(DL_PP_ZBH1, 4, 3, 1, &bubble, &peak), DL_OK);
    assert_true(bubble > dl_pp_bubble_formula(DL_PP_ZBH1, 4, 3, 1));
    assert_int_equal(pp_bubble(DL_PP_INTERLEAVED, 4, 6, 2, &bubble, &peak), DL_ERR_ARG);
}

/* The value of `metric` in <dir>/summary.csv, NaN if absent. */
static double summary_value(const char *dir, const char *metric) {
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    FILE *f = fopen(path, "r");
    if (!f) return NAN;
    double v = NAN;
    size_t len = strlen(metric);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, metric, len) == 0 && line[len] == ',') v = strtod(line + len + 1, NULL);
    fclose(f);
    return v;
}

static int file_exists(const char *dir, const char *name) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void quick_run_writes_tables_plots_and_the_exact_headline(void **state) {
    (void)state;
    assert_int_equal(tmpdir_make("lesson07"), 0);
    dlb_run *run = NULL;
    assert_int_equal(dlb_run_open(tmpdir, "07-pipeline-bubbles", &run), 0);
    pp_config cfg = {.quick = true, .bytes_per_microbatch = 1000.0};
    double max_abs_diff = -1;
    assert_int_equal(pp_sweep(run, &cfg, &max_abs_diff), DL_OK);
    assert_true(max_abs_diff >= 0 && max_abs_diff < 1e-12);
    assert_int_equal(pp_costs_table(run), DL_OK);
    assert_int_equal(pp_headline(run, &cfg), DL_OK);
    assert_int_equal(pp_gantts(run), DL_OK);
    assert_int_equal(pp_emulations(run, &cfg), DL_OK);
    assert_int_equal(dlb_run_close(run), 0);

    assert_true(fabs(summary_value(tmpdir, "bubble_gpipe_p4_m8_sim") - 3.0 / 11.0) < 1e-12);
    assert_true(fabs(summary_value(tmpdir, "bubble_1f1b_p4_m8_sim") - 3.0 / 11.0) < 1e-12);
    assert_true(fabs(summary_value(tmpdir, "bubble_interleaved_p4_m8_v2_sim") - 3.0 / 19.0) <
                1e-12);
    assert_true(fabs(summary_value(tmpdir, "bubble_zbh1_p4_m8_sim") - 3.0 / 27.0) < 1e-12);
    assert_true(summary_value(tmpdir, "peak_activations_1f1b_over_gpipe") == 0.25);
    assert_true(summary_value(tmpdir, "peak_activation_bytes_1f1b_p4_m16_sim") == 4000.0);
    assert_true(summary_value(tmpdir, "peak_activation_bytes_gpipe_p4_m16_sim") == 16000.0);
    assert_true(summary_value(tmpdir, "pipeline_loss_max_abs_diff") <= 1e-6);
    assert_true(summary_value(tmpdir, "pipeline_params_max_abs_diff") <= 1e-6);
    double emulated = summary_value(tmpdir, "peak_activations_1f1b_over_gpipe_emulated");
    assert_true(emulated > 0.2 &&
                emulated <= 0.25); /* p/m = 4/16, less the last stage's loss buffers */
    const char *files[] = {"bubble_sweep.csv",
                           "theory_vs_sim.csv",
                           "costs_vs_formula.csv",
                           "peak_memory.csv",
                           "bubble_vs_m_p4.gp",
                           "gantt_zbh1_p4_m8.gp",
                           "gantt_interleaved_p4_m8.dat",
                           "pipeline_emulation.csv",
                           "run.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (!file_exists(tmpdir, files[i])) fail_msg("missing %s", files[i]);
    assert_int_equal(tmpdir_remove(), 0);
}

static void gantt_draws_one_rectangle_per_op(void **state) {
    (void)state;
    assert_int_equal(tmpdir_make("gantt07"), 0);
    dlb_run *run = NULL;
    assert_int_equal(dlb_run_open(tmpdir, "07-pipeline-bubbles", &run), 0);
    dl_pp_schedule s;
    dl_pp_sim r;
    assert_int_equal(dl_pp_schedule_build(DL_PP_1F1B, 3, 5, 1, &s), DL_OK);
    assert_int_equal(dl_pp_simulate(&s, &pp_equal_costs, 0, &r), DL_OK);
    assert_int_equal(pp_gantt(run, "g", &s, &r), DL_OK);
    char path[512], line[512];
    snprintf(path, sizeof path, "%s/g.gp", tmpdir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    int rects = 0;
    while (fgets(line, sizeof line, f))
        rects += strstr(line, " rect from ") != NULL;
    fclose(f);
    assert_int_equal(rects, s.begin[s.p]);
    dl_pp_sim_free(&r);
    dl_pp_schedule_free(&s);
    dlb_run_abort(run);
    assert_int_equal(tmpdir_remove(), 0);
}

static void emulated_pipeline_trains_like_gradient_accumulation(void **state) {
    (void)state;
    for (int k = 0; k < DL_PP_N_KINDS; k++) {
        pp_emulate_config ec = {.kind = (dl_pp_kind)k,
                                .p = k == DL_PP_INTERLEAVED ? 2 : 4,
                                .m = 4,
                                .v = k == DL_PP_INTERLEAVED ? 2 : 1,
                                .rows = 3,
                                .steps = 2,
                                .lr = 0.1f,
                                .seed = 3};
        pp_emulation r;
        if (pp_emulate(&ec, &r) != DL_OK) fail_msg("%s: %s", dl_pp_kind_name(k), dl_last_error());
        /* the same sums in (nearly) the same order: equal up to fp32 rounding of the accumulation
         */
        if (!(r.loss_max_abs_diff <= 1e-6) || !(r.param_max_abs_diff <= 1e-6))
            fail_msg("%s: loss diff %g, param diff %g", dl_pp_kind_name(k), r.loss_max_abs_diff,
                     r.param_max_abs_diff);
        assert_true(r.last_loss < r.first_loss); /* it trained */
        assert_true(r.peak_activation_bytes > 0);
    }
    /* measured peaks: GPipe holds all m microbatches on every stage, 1F1B at most p */
    pp_emulate_config ec = {
        .kind = DL_PP_GPIPE, .p = 2, .m = 6, .v = 1, .rows = 2, .steps = 1, .lr = 0.1f, .seed = 1};
    pp_emulation g, o;
    assert_int_equal(pp_emulate(&ec, &g), DL_OK);
    ec.kind = DL_PP_1F1B;
    assert_int_equal(pp_emulate(&ec, &o), DL_OK);
    assert_true(fabs(g.peak_microbatches - 6.0) < 1e-12);
    assert_true(fabs(o.peak_microbatches - 2.0) < 1e-12);
}

static void emulation_rejects_a_split_the_layers_do_not_allow(void **state) {
    (void)state;
    pp_emulate_config ec = {
        .kind = DL_PP_1F1B, .p = 3, .m = 4, .v = 1, .rows = 2, .steps = 1, .lr = 0.1f, .seed = 1};
    pp_emulation r;
    assert_int_equal(pp_emulate(&ec, &r), DL_ERR_ARG); /* 8 layers over 3 stages */
    assert_non_null(strstr(dl_last_error(), "do not split evenly"));
    ec.p = 16;
    assert_int_equal(pp_emulate(&ec, &r), DL_ERR_ARG); /* more stages than layers */
    assert_non_null(strstr(dl_last_error(), "cannot fill"));
    ec.p = 4, ec.v = 4;
    ec.kind = DL_PP_INTERLEAVED;
    assert_int_equal(pp_emulate(&ec, &r), DL_ERR_ARG); /* p·v = 16 chunks of 8 layers */
    ec.v = 2, ec.m = 6;
    assert_int_equal(pp_emulate(&ec, &r), DL_ERR_ARG); /* m not a multiple of p */
    assert_non_null(strstr(dl_last_error(), "not a multiple"));
    ec.m = 0;
    assert_int_equal(pp_emulate(&ec, &r), DL_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sweep_covers_1_to_64_or_its_powers_of_two),
        cmocka_unit_test(zbh1_formula_is_claimed_only_once_the_pipeline_fills),
        cmocka_unit_test(quick_run_writes_tables_plots_and_the_exact_headline),
        cmocka_unit_test(gantt_draws_one_rectangle_per_op),
        cmocka_unit_test(emulated_pipeline_trains_like_gradient_accumulation),
        cmocka_unit_test(emulation_rejects_a_split_the_layers_do_not_allow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
