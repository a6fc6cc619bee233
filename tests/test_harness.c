/* test_harness.c — libdlbench: statistics on known samples, measurement and A/B sanity,
 * tables, run directories, plots, the peak cache and the lesson CLI.
 * Timing tests never assert a tight wall time (the machine is shared and noisy): they check
 * that results are self-consistent and that a function doing twice the work is measured as
 * roughly (1.3x..3.5x) twice as slow. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dlbench.h"

/* ---------------------------------------------------------------- helpers */

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static bool exists(const char *dir, const char *file) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return access(path, F_OK) == 0;
}

static char *slurp_in(const char *dir, const char *file) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return slurp(path);
}

static void make_temp_dir(char *buf, size_t len) {
    snprintf(buf, len, "/tmp/test_harness.XXXXXX");
    assert_non_null(mkdtemp(buf));
}

static void remove_tree(const char *dir) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static dlb_opts quick_opts(void) {
    return (dlb_opts){.warmup_s = 0.005, .min_sample_s = 1e-3, .min_samples = 5, .max_samples = 9,
                      .max_time_s = 0.05};
}

/* ------------------------------------------------------------- statistics */

static void test_stats_of_one_to_ten_match_hand_computed_values(void **state) {
    (void)state;
    double x[] = {7, 3, 10, 1, 5, 9, 2, 8, 4, 6}; /* 1..10 shuffled */
    double copy[10];
    memcpy(copy, x, sizeof x);
    dlb_stats s;
    assert_int_equal(dlb_stats_compute(x, 10, &s), 0);
    assert_memory_equal(x, copy, sizeof x); /* input untouched */
    assert_int_equal(s.n, 10);
    assert_float_equal(s.min, 1, 1e-12);
    assert_float_equal(s.max, 10, 1e-12);
    assert_float_equal(s.mean, 5.5, 1e-12);
    assert_float_equal(s.median, 5.5, 1e-12);
    assert_float_equal(s.mad, 2.5, 1e-12);
    assert_float_equal(s.p10, 1.9, 1e-12);
    assert_float_equal(s.p90, 9.1, 1e-12);
    assert_float_equal(s.stddev, sqrt(82.5 / 9), 1e-12);
    assert_float_equal(s.cv, sqrt(82.5 / 9) / 5.5, 1e-12);
    assert_true(s.unstable); /* MAD is 45% of the median */
}

static void test_stats_of_odd_count_use_the_middle_value(void **state) {
    (void)state;
    double x[] = {3, 1, 2, 5, 4};
    dlb_stats s;
    assert_int_equal(dlb_stats_compute(x, 5, &s), 0);
    assert_float_equal(s.median, 3, 1e-12);
    assert_float_equal(s.mad, 1, 1e-12);
    assert_float_equal(s.p10, 1.4, 1e-12);
    assert_float_equal(s.p90, 4.6, 1e-12);
}

static void test_stats_of_one_sample_have_no_spread(void **state) {
    (void)state;
    double x[] = {0.25};
    dlb_stats s;
    assert_int_equal(dlb_stats_compute(x, 1, &s), 0);
    assert_float_equal(s.min, 0.25, 0);
    assert_float_equal(s.median, 0.25, 0);
    assert_float_equal(s.p10, 0.25, 0);
    assert_float_equal(s.p90, 0.25, 0);
    assert_float_equal(s.mad, 0, 0);
    assert_float_equal(s.stddev, 0, 0);
    assert_float_equal(s.cv, 0, 0);
    assert_false(s.unstable);
}

static void test_stats_of_constant_samples_are_stable(void **state) {
    (void)state;
    double x[] = {2e-3, 2e-3, 2e-3, 2e-3, 2e-3, 2e-3};
    dlb_stats s;
    assert_int_equal(dlb_stats_compute(x, 6, &s), 0);
    assert_float_equal(s.median, 2e-3, 1e-18);
    assert_float_equal(s.mad, 0, 0);
    assert_float_equal(s.stddev, 0, 1e-18);
    assert_false(s.unstable);
}

static void test_unstable_mark_follows_mad_over_median(void **state) {
    (void)state;
    double wide[] = {9, 10, 11}, narrow[] = {99, 100, 101};
    dlb_stats s;
    assert_int_equal(dlb_stats_compute(wide, 3, &s), 0);
    assert_true(s.unstable); /* MAD 1 is 10% of 10 */
    assert_int_equal(dlb_stats_compute(narrow, 3, &s), 0);
    assert_false(s.unstable); /* MAD 1 is 1% of 100 */
}

static void test_stats_of_no_samples_fail_with_zeros(void **state) {
    (void)state;
    dlb_stats s;
    memset(&s, 0xff, sizeof s);
    assert_int_equal(dlb_stats_compute(NULL, 0, &s), -1);
    assert_int_equal(s.n, 0);
    assert_float_equal(s.median, 0, 0);
    assert_true(strlen(dlb_error()) > 0);
}

static void test_quantile_ends_and_interpolation(void **state) {
    (void)state;
    double x[] = {10, 20, 30, 40};
    assert_float_equal(dlb_quantile_sorted(x, 4, 0), 10, 0);
    assert_float_equal(dlb_quantile_sorted(x, 4, 1), 40, 0);
    assert_float_equal(dlb_quantile_sorted(x, 4, 0.5), 25, 1e-12);
    assert_float_equal(dlb_quantile_sorted(x, 4, 1.0 / 3), 20, 1e-12);
    assert_float_equal(dlb_quantile_sorted(x, 1, 0.7), 10, 0);
    assert_true(isnan(dlb_quantile_sorted(x, 0, 0.5)));
}

/* ------------------------------------------------------------ measurement */

static volatile double busy_sink;

/* About n square roots; ctx points to the count. */
static void busy_loop(void *ctx) {
    long n = *(const long *)ctx;
    double s = 0;
    for (long i = 0; i < n; i++) s += sqrt((double)i + busy_sink);
    busy_sink = s * 1e-300;
}

static void test_clock_is_monotonic_with_sub_millisecond_resolution(void **state) {
    (void)state;
    double a = dlb_now(), b = dlb_now();
    assert_true(b >= a);
    double res = dlb_clock_resolution();
    assert_true(res > 0 && res < 1e-3);
    assert_float_equal(dlb_clock_resolution(), res, 0); /* measured once */
}

static void test_default_options_and_quick_mode(void **state) {
    (void)state;
    unsetenv("DLB_QUICK");
    dlb_opts o = dlb_opts_default();
    assert_float_equal(o.warmup_s, 0.05, 1e-12);
    assert_true(o.min_sample_s >= 1e-3);
    assert_int_equal(o.min_samples, 10);
    assert_int_equal(o.max_samples, 50);
    assert_float_equal(o.max_time_s, 1.0, 1e-12);
    setenv("DLB_QUICK", "1", 1);
    dlb_opts q = dlb_opts_default();
    unsetenv("DLB_QUICK");
    assert_true(q.warmup_s < o.warmup_s && q.max_time_s < o.max_time_s);
    assert_int_equal(q.min_samples, 5);
}

static void test_measure_of_busy_loop_is_self_consistent(void **state) {
    (void)state;
    long n = 20000;
    dlb_opts o = quick_opts();
    dlb_result r;
    assert_int_equal(dlb_measure(busy_loop, &n, &o, &r), 0);
    assert_true(r.time.n >= o.min_samples && r.time.n <= o.max_samples);
    assert_true(r.iters_per_sample >= 1);
    assert_int_equal(r.total_iters, r.iters_per_sample * r.time.n);
    assert_true(r.time.min > 0);
    assert_true(r.time.min <= r.time.median && r.time.median <= r.time.max);
    assert_true(r.time.p10 <= r.time.median && r.time.median <= r.time.p90);
    /* 20000 square roots take between 1 µs and 100 ms on anything that runs this. */
    assert_true(r.time.median > 1e-6 && r.time.median < 0.1);
    /* A sample was calibrated to last about min_sample_s (loosely: the machine is shared). */
    assert_true(r.time.median * (double)r.iters_per_sample > 0.2 * o.min_sample_s);
}

static void test_measure_rejects_impossible_options(void **state) {
    (void)state;
    long n = 10;
    dlb_opts o = quick_opts();
    o.min_samples = 0;
    dlb_result r;
    assert_int_equal(dlb_measure(busy_loop, &n, &o, &r), -1);
    assert_non_null(strstr(dlb_error(), "min_samples"));
    o = quick_opts();
    o.max_samples = 2;
    assert_int_equal(dlb_measure(busy_loop, &n, &o, &r), -1);
    assert_int_equal(dlb_measure(NULL, &n, NULL, &r), -1);
    o = quick_opts();
    o.settle_s = -1;
    assert_int_equal(dlb_measure(busy_loop, &n, &o, &r), -1);
    assert_non_null(strstr(dlb_error(), "settle"));
}

static void test_settle_pauses_before_every_sample_of_both_sides(void **state) {
    (void)state;
    long n = 10;
    dlb_opts o = quick_opts();
    o.settle_s = 0.01;
    o.min_samples = o.max_samples = 4;
    dlb_ab ab;
    /* A sleep lasts at least what was asked, so this lower bound cannot be flaky. */
    double t0 = dlb_now();
    assert_int_equal(dlb_compare(busy_loop, &n, busy_loop, &n, &o, &ab), 0);
    assert_true(dlb_now() - t0 >= 8 * 0.01);
    assert_int_equal(ab.ratio.n, 4);
}

static void test_compare_sees_double_work_as_about_twice_as_slow(void **state) {
    (void)state;
    long n = 20000, n2 = 40000;
    dlb_opts o = quick_opts();
    o.min_samples = 7;
    dlb_ab ab;
    assert_int_equal(dlb_compare(busy_loop, &n2, busy_loop, &n, &o, &ab), 0);
    assert_int_equal(ab.a.time.n, ab.ratio.n);
    assert_int_equal(ab.b.time.n, ab.ratio.n);
    assert_int_equal(ab.a.iters_per_sample, ab.b.iters_per_sample);
    print_message("ratio of 2x work: median %.3f (p10 %.3f, p90 %.3f)\n", ab.ratio.median,
                  ab.ratio.p10, ab.ratio.p90);
    assert_true(ab.ratio.median > 1.3 && ab.ratio.median < 3.5);
}

static void test_rates_from_work_and_time(void **state) {
    (void)state;
    assert_float_equal(dlb_gflops(2e9, 0.5), 4.0, 1e-12);
    assert_float_equal(dlb_gbps(1e9, 2.0), 0.5, 1e-12);
}

/* ------------------------------------------------------------------ tables */

/* Split one CSV line into fields (quotes handled, no embedded newlines). Returns the count. */
static int csv_split(const char *line, char fields[][64], int max) {
    int n = 0;
    const char *p = line;
    while (n < max) {
        char *out = fields[n];
        size_t len = 0;
        if (*p == '"') {
            for (p++; *p; p++) {
                if (*p == '"' && p[1] == '"') p++;
                else if (*p == '"') { p++; break; }
                out[len++] = *p;
            }
        } else {
            while (*p && *p != ',' && *p != '\n') out[len++] = *p++;
        }
        out[len] = '\0';
        n++;
        if (*p != ',') break;
        p++;
    }
    return n;
}

static void test_table_csv_round_trip_keeps_strings_and_numbers(void **state) {
    (void)state;
    char dir[64], path[128];
    make_temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/t.csv", dir);
    dlb_table *t = dlb_table_new("t", "variant", "n", "time_ms", "note", NULL);
    assert_non_null(t);
    double values[] = {1.0 / 3, NAN, INFINITY, -INFINITY};
    const char *names[] = {"ref, blocked", "say \"hi\"", "plain", " padded"};
    for (int i = 0; i < 4; i++) {
        dlb_table_str(t, names[i]);
        dlb_table_int(t, -(1LL << 40) + i);
        dlb_table_numf(t, values[i], "%.2f");
        dlb_table_str(t, "");
    }
    dlb_table_str(t, "short row"); /* a partial last row is padded */
    assert_int_equal(dlb_table_rows(t), 5);
    dlb_table_print(t);
    assert_int_equal(dlb_table_write_csv(t, path), 0);
    dlb_table_free(t);
    assert_false(exists(dir, "t.csv.tmp"));

    char *text = slurp(path);
    assert_non_null(text);
    char *save = NULL, *line = strtok_r(text, "\n", &save), fields[8][64];
    assert_int_equal(csv_split(line, fields, 8), 4);
    assert_string_equal(fields[0], "variant");
    assert_string_equal(fields[3], "note");
    for (int i = 0; i < 4; i++) {
        line = strtok_r(NULL, "\n", &save);
        assert_non_null(line);
        assert_int_equal(csv_split(line, fields, 8), 4);
        assert_string_equal(fields[0], names[i]);
        assert_int_equal(strtoll(fields[1], NULL, 10), -(1LL << 40) + i);
        double v = strtod(fields[2], NULL);
        if (isnan(values[i])) assert_true(isnan(v) && strcmp(fields[2], "nan") == 0);
        else if (isinf(values[i])) assert_true(v == values[i]);
        else assert_float_equal(v, values[i], 1e-8); /* full precision, not the %.2f */
        assert_string_equal(fields[3], "");
    }
    line = strtok_r(NULL, "\n", &save);
    assert_int_equal(csv_split(line, fields, 8), 4);
    assert_string_equal(fields[0], "short row");
    assert_null(strtok_r(NULL, "\n", &save));
    free(text);
    remove_tree(dir);
}

static void test_table_without_columns_is_null_and_safe(void **state) {
    (void)state;
    dlb_table *t = dlb_table_new("empty", NULL);
    assert_null(t);
    dlb_table_str(t, "x"); /* ignored, no crash */
    assert_int_equal(dlb_table_rows(t), 0);
    assert_int_equal(dlb_table_write_csv(t, "/tmp/never.csv"), -1);
    dlb_table_free(t);
}

/* -------------------------------------------------------------------- runs */

static void test_run_writes_summary_benchmarks_and_complete_run_json(void **state) {
    (void)state;
    char dir[64], sub[128];
    make_temp_dir(dir, sizeof dir);
    snprintf(sub, sizeof sub, "%s/a/b/01-test", dir); /* mkdir -p */
    dlb_run *run;
    assert_int_equal(dlb_run_open(sub, "01-test", &run), 0);
    assert_string_equal(dlb_run_dir(run), sub);
    dlb_run_param(run, "seed", "%llu", 18446744073709551615ULL);
    dlb_run_param(run, "mode", "%s", "say \"hi\"\n\tback\\slash");
    dlb_run_metric(run, "first_gflops", 1.5, "gflops");
    dlb_run_metric(run, "second_ms", 2.25, "ms");
    dlb_run_metric(run, "first_gflops", 3.5, "gflops"); /* last value wins, place kept */
    dlb_run_metric(run, "broken", NAN, "x");
    double samples[] = {1e-3, 1.1e-3, 0.9e-3};
    dlb_result res = {.iters_per_sample = 4, .total_iters = 12};
    assert_int_equal(dlb_stats_compute(samples, 3, &res.time), 0);
    dlb_run_benchmark(run, "matmul/ref/64", &res, (dlb_counter[]){{"gflops", 12.5}, {NULL, 0}});
    dlb_table *t = dlb_table_new("tab", "a", "b", NULL);
    dlb_table_int(t, 1);
    dlb_table_num(t, 2.5);
    assert_int_equal(dlb_run_table(run, t), 0);
    dlb_table_free(t);
    assert_false(exists(sub, "run.json")); /* not before close */
    assert_int_equal(dlb_run_close(run), 0);

    char *summary = slurp_in(sub, "summary.csv");
    assert_non_null(summary);
    assert_string_equal(summary, "metric,value,unit\nfirst_gflops,3.5,gflops\nsecond_ms,2.25,ms\nbroken,nan,x\n");
    char *runj = slurp_in(sub, "run.json");
    assert_non_null(runj);
    assert_non_null(strstr(runj, "\"complete\": true"));
    assert_non_null(strstr(runj, "\"seed\": 18446744073709551615"));
    assert_non_null(strstr(runj, "\"mode\": \"say \\\"hi\\\"\\n\\tback\\\\slash\""));
    assert_non_null(strstr(runj, "\"broken\": {\"value\": null"));
    assert_non_null(strstr(runj, "\"context\""));
    assert_non_null(strstr(runj, "\"tab.csv\""));
    char *bench = slurp_in(sub, "benchmarks.json");
    assert_non_null(bench);
    assert_int_equal(bench[0], '{');
    assert_non_null(strstr(bench, "\"context\": {"));
    assert_non_null(strstr(bench, "\"host_name\""));
    assert_non_null(strstr(bench, "\"caches\": ["));
    assert_non_null(strstr(bench, "\"name\": \"matmul/ref/64\""));
    assert_non_null(strstr(bench, "\"run_type\": \"iteration\""));
    assert_non_null(strstr(bench, "\"real_time\": 1000000"));
    assert_non_null(strstr(bench, "\"time_unit\": \"ns\""));
    assert_non_null(strstr(bench, "\"gflops\": 12.5"));
    int depth = 0; /* braces and brackets balance (no strings here hold any) */
    for (const char *p = bench; *p; p++) depth += (*p == '{' || *p == '[') - (*p == '}' || *p == ']');
    assert_int_equal(depth, 0);
    assert_true(exists(sub, "tab.csv"));
    free(summary);
    free(runj);
    free(bench);
    remove_tree(dir);
}

static void test_run_without_benchmarks_writes_an_empty_list(void **state) {
    (void)state;
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    dlb_run *run;
    assert_int_equal(dlb_run_open(dir, "empty", &run), 0);
    assert_int_equal(dlb_run_close(run), 0);
    char *bench = slurp_in(dir, "benchmarks.json"), *summary = slurp_in(dir, "summary.csv");
    assert_non_null(strstr(bench, "\"benchmarks\": []"));
    assert_string_equal(summary, "metric,value,unit\n");
    free(bench);
    free(summary);
    remove_tree(dir);
}

static void test_run_open_removes_stale_run_json_and_abort_writes_none(void **state) {
    (void)state;
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    dlb_run *run;
    assert_int_equal(dlb_run_open(dir, "first", &run), 0);
    assert_int_equal(dlb_run_close(run), 0);
    assert_true(exists(dir, "run.json"));
    assert_int_equal(dlb_run_open(dir, "second", &run), 0);
    assert_false(exists(dir, "run.json")); /* a crash now must not look complete */
    dlb_run_abort(run);
    assert_false(exists(dir, "run.json"));
    remove_tree(dir);
}

static void test_unwritable_results_dir_is_a_clear_error(void **state) {
    (void)state;
    dlb_run *run = (dlb_run *)1;
    assert_int_equal(dlb_run_open("/proc/dlb-forbidden/run", "x", &run), -1);
    assert_null(run);
    assert_non_null(strstr(dlb_error(), "/proc/dlb-forbidden"));

    char dir[64], file[128], under[160];
    make_temp_dir(dir, sizeof dir);
    snprintf(file, sizeof file, "%s/plain-file", dir);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    snprintf(under, sizeof under, "%s/results", file);
    assert_int_equal(dlb_run_open(under, "x", &run), -1);
    print_message("unwritable: %s\n", dlb_error());
    assert_non_null(strstr(dlb_error(), "plain-file"));
    assert_non_null(strstr(dlb_error(), "Not a directory"));
    remove_tree(dir);
}

/* ------------------------------------------------------------------- plots */

static void test_plot_writes_data_and_script_even_without_gnuplot(void **state) {
    (void)state;
    char dir[64];
    make_temp_dir(dir, sizeof dir);
    dlb_run *run;
    assert_int_equal(dlb_run_open(dir, "plots", &run), 0);
    dlb_plot *p = dlb_plot_new("speed", "it's fast", "n", "GFLOP/s");
    assert_non_null(p);
    dlb_plot_log(p, true, true);
    double x[] = {1, 10, 0, 100}, y[] = {2, 20, 5, NAN};
    dlb_plot_series(p, "ref", x, y, 4);
    dlb_plot_series(p, "all dropped", (double[]){-1}, (double[]){1}, 1);
    dlb_plot_hline(p, "peak", 50);
    dlb_plot_extra(p, "set key left");

    char *path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    setenv("PATH", "/nonexistent", 1);
    assert_int_equal(dlb_run_plot(run, p), 0); /* a warning, not a failure */
    if (path) setenv("PATH", path, 1);
    char *dat = slurp_in(dir, "speed.dat"), *gp = slurp_in(dir, "speed.gp");
    assert_non_null(dat);
    assert_non_null(gp);
    assert_string_equal(dat, "# ref\n1 2\n10 20\n"); /* x=0 and y=NaN dropped on log axes */
    assert_non_null(strstr(gp, "set output 'speed.png'"));
    assert_non_null(strstr(gp, "set title 'it''s fast'"));
    assert_non_null(strstr(gp, "set logscale x"));
    assert_non_null(strstr(gp, "set key left"));
    assert_null(strstr(gp, "all dropped"));
    assert_non_null(strstr(gp, "50 with lines"));

    /* With gnuplot on PATH (the Makefile reports whether it is), the PNG is drawn. */
    if (system("command -v gnuplot >/dev/null 2>&1") == 0) {
        assert_int_equal(dlb_run_plot(run, p), 0);
        assert_true(exists(dir, "speed.png"));
    }
    dlb_plot_free(p);
    free(path);
    free(dat);
    free(gp);
    assert_int_equal(dlb_run_close(run), 0);
    remove_tree(dir);
}

/* -------------------------------------------------------- peak and context */

static void test_peak_is_measured_cached_and_remeasured_when_corrupt(void **state) {
    (void)state;
    char dir[64], cache_dir[128], cmd[300];
    make_temp_dir(dir, sizeof dir);
    snprintf(cache_dir, sizeof cache_dir, "%s/machine", dir);
    dlb_peak a, b, c;
    assert_int_equal(dlb_peak_get(cache_dir, 1, &a), 0);
    print_message("peak, 1 thread: copy %.1f GB/s, fma %.1f GFLOP/s (%s)\n", a.copy_gbps,
                  a.fma_gflops, a.simd);
    assert_true(a.copy_gbps > 0.1 && a.fma_gflops > 0.1);
    assert_int_equal(a.threads, 1);
    assert_true(strlen(a.simd) > 0);
    assert_int_equal(dlb_peak_get(cache_dir, 1, &b), 0); /* from the cache: identical */
    assert_float_equal(b.copy_gbps, a.copy_gbps, 1e-6 * a.copy_gbps);
    assert_float_equal(b.fma_gflops, a.fma_gflops, 1e-6 * a.fma_gflops);
    assert_string_equal(b.simd, a.simd);
    snprintf(cmd, sizeof cmd, "for f in '%s'/peak-*-1t.json; do echo '{\"host\": garbage' > \"$f\"; done", cache_dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(dlb_peak_get(cache_dir, 1, &c), 0);
    assert_true(c.copy_gbps > 0.1 && c.fma_gflops > 0.1);
    assert_int_equal(dlb_peak_get(cache_dir, 0, &c), -1);
    remove_tree(dir);
}

static void test_context_has_the_basics(void **state) {
    (void)state;
    dlb_context c;
    assert_int_equal(dlb_context_collect(&c), 0);
    assert_true(c.num_cpus >= 1);
    assert_int_equal(strlen(c.date) >= 19, 1);
    assert_true(strlen(c.compiler) > 0);
    assert_true(c.load_avg[0] >= 0);
    dlb_context_print(&c);
}

static void test_cuda_entry_points_fail_cleanly_without_a_gpu(void **state) {
    (void)state;
    char name[128] = "x";
    if (dlb_cuda_gpu_name(name, sizeof name) != 0) {
        assert_string_equal(name, "");
        assert_true(strlen(dlb_error()) > 0);
        long n = 10;
        dlb_result r;
        assert_int_equal(dlb_cuda_measure(busy_loop, &n, NULL, true, &r), -1);
    } else {
        print_message("GPU present: %s\n", name);
    }
}

/* --------------------------------------------------------------------- CLI */

/* Parse with stdout and stderr captured; the first captured line goes to first_line. */
static int parse_captured(int argc, char **argv, const dlb_opt *extra, dlb_cli *cli, char *first_line) {
    fflush(stdout);
    fflush(stderr);
    FILE *capture = tmpfile();
    int saved_out = dup(1), saved_err = dup(2);
    dup2(fileno(capture), 1);
    dup2(fileno(capture), 2);
    int rc = dlb_cli_parse(argc, argv, "A test program.", "results/99-test", extra, cli);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    rewind(capture);
    if (!fgets(first_line, 256, capture)) first_line[0] = '\0';
    first_line[strcspn(first_line, "\n")] = '\0';
    fclose(capture);
    return rc;
}

#define ARGV(...) (char *[]){"/some/dir/lesson-99", __VA_ARGS__, NULL}
#define ARGC(...) ((int)(sizeof((char *[]){"", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(line, cli, extra, ...) parse_captured(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), extra, cli, line)

static void test_cli_defaults_and_common_options(void **state) {
    (void)state;
    dlb_cli cli;
    char line[256];
    char *argv0[] = {"lesson-99", NULL};
    assert_int_equal(parse_captured(1, argv0, NULL, &cli, line), 0);
    assert_false(cli.quick);
    assert_string_equal(cli.device, "cpu");
    assert_int_equal(cli.threads, (int)sysconf(_SC_NPROCESSORS_ONLN));
    assert_true(cli.seed == 42);
    assert_string_equal(cli.out, "results/99-test");

    assert_int_equal(PARSE(line, &cli, NULL, "--quick", "--device", "cuda", "--threads=3", "--seed",
                           "18446744073709551615", "--out=/tmp/x"), 0);
    assert_true(cli.quick);
    assert_string_equal(cli.device, "cuda");
    assert_int_equal(cli.threads, 3);
    assert_true(cli.seed == UINT64_MAX);
    assert_string_equal(cli.out, "/tmp/x");
    assert_int_equal(dlb_opts_default().min_samples, 5); /* --quick shortens measurement */
    assert_int_equal(PARSE(line, &cli, NULL, "--threads", "1"), 0);
    assert_int_equal(dlb_opts_default().min_samples, 10); /* and a run without it does not */
}

static void test_cli_help_returns_one(void **state) {
    (void)state;
    dlb_cli cli;
    char line[256];
    assert_int_equal(PARSE(line, &cli, NULL, "--help"), 1);
    assert_string_equal(line, "usage: lesson-99 [options]");
    assert_int_equal(PARSE(line, &cli, NULL, "-h"), 1);
}

static void test_cli_bad_arguments_give_one_line_and_two(void **state) {
    (void)state;
    dlb_cli cli;
    char line[256];
    assert_int_equal(PARSE(line, &cli, NULL, "--threads", "0"), 2);
    assert_string_equal(line, "lesson-99: --threads must be an integer ≥ 1 (got '0')");
    assert_int_equal(PARSE(line, &cli, NULL, "--threads", "abc"), 2);
    assert_string_equal(line, "lesson-99: --threads must be an integer ≥ 1 (got 'abc')");
    assert_int_equal(PARSE(line, &cli, NULL, "--threads", "1025"), 2);
    assert_int_equal(PARSE(line, &cli, NULL, "--bogus"), 2);
    assert_string_equal(line, "lesson-99: unknown option '--bogus'");
    assert_int_equal(PARSE(line, &cli, NULL, "--bogus=1"), 2);
    assert_string_equal(line, "lesson-99: unknown option '--bogus'");
    assert_int_equal(PARSE(line, &cli, NULL, "--device", "tpu"), 2);
    assert_int_equal(PARSE(line, &cli, NULL, "--seed", "-1"), 2);
    assert_int_equal(PARSE(line, &cli, NULL, "--seed", "18446744073709551616"), 2);
    assert_int_equal(PARSE(line, &cli, NULL, "--seed"), 2);
    assert_string_equal(line, "lesson-99: --seed needs a value");
    assert_int_equal(PARSE(line, &cli, NULL, "--quick=yes"), 2);
    assert_int_equal(PARSE(line, &cli, NULL, "stray"), 2);
    assert_int_equal(PARSE(line, &cli, NULL, "--out="), 2);
}

static void test_cli_lesson_options_with_ranges(void **state) {
    (void)state;
    long size = 64;
    double lr = 0.1;
    bool verbose = false;
    const char *name = "default";
    dlb_opt extra[] = {
        {"--size", DLB_OPT_INT, &size, "matrix size", 1, 4096},
        {"--lr", DLB_OPT_DOUBLE, &lr, "learning rate", 0, 1},
        {"--verbose", DLB_OPT_FLAG, &verbose, "say more", 0, 0},
        {"--name", DLB_OPT_STRING, &name, "a label", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    dlb_cli cli;
    char line[256];
    assert_int_equal(PARSE(line, &cli, extra, "--size", "4096", "--lr=0.5", "--verbose", "--name", "x,y"), 0);
    assert_int_equal(size, 4096);
    assert_float_equal(lr, 0.5, 0);
    assert_true(verbose);
    assert_string_equal(name, "x,y");
    assert_int_equal(PARSE(line, &cli, extra, "--size", "4097"), 2);
    assert_string_equal(line, "lesson-99: --size must be an integer in [1, 4096] (got '4097')");
    assert_int_equal(PARSE(line, &cli, extra, "--size=0"), 2);
    assert_int_equal(PARSE(line, &cli, extra, "--size", "1.5"), 2);
    assert_int_equal(PARSE(line, &cli, extra, "--lr", "2"), 2);
    assert_int_equal(PARSE(line, &cli, extra, "--lr", "nan"), 2);
    assert_int_equal(size, 4096); /* rejected values leave the destination alone */
    assert_int_equal(PARSE(line, &cli, extra, "--help"), 1);
}

/* ---------------------------------------------------------------- progress */

static void test_progress_runs_silently_off_a_terminal(void **state) {
    (void)state;
    dlb_progress p;
    dlb_progress_start(&p, "work", 1000);
    for (long i = 0; i <= 1000; i++) dlb_progress_update(&p, i);
    dlb_progress_end(&p);
    assert_int_equal(p.total, 1000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_of_one_to_ten_match_hand_computed_values),
        cmocka_unit_test(test_stats_of_odd_count_use_the_middle_value),
        cmocka_unit_test(test_stats_of_one_sample_have_no_spread),
        cmocka_unit_test(test_stats_of_constant_samples_are_stable),
        cmocka_unit_test(test_unstable_mark_follows_mad_over_median),
        cmocka_unit_test(test_stats_of_no_samples_fail_with_zeros),
        cmocka_unit_test(test_quantile_ends_and_interpolation),
        cmocka_unit_test(test_clock_is_monotonic_with_sub_millisecond_resolution),
        cmocka_unit_test(test_default_options_and_quick_mode),
        cmocka_unit_test(test_measure_of_busy_loop_is_self_consistent),
        cmocka_unit_test(test_measure_rejects_impossible_options),
        cmocka_unit_test(test_settle_pauses_before_every_sample_of_both_sides),
        cmocka_unit_test(test_compare_sees_double_work_as_about_twice_as_slow),
        cmocka_unit_test(test_rates_from_work_and_time),
        cmocka_unit_test(test_table_csv_round_trip_keeps_strings_and_numbers),
        cmocka_unit_test(test_table_without_columns_is_null_and_safe),
        cmocka_unit_test(test_run_writes_summary_benchmarks_and_complete_run_json),
        cmocka_unit_test(test_run_without_benchmarks_writes_an_empty_list),
        cmocka_unit_test(test_run_open_removes_stale_run_json_and_abort_writes_none),
        cmocka_unit_test(test_unwritable_results_dir_is_a_clear_error),
        cmocka_unit_test(test_plot_writes_data_and_script_even_without_gnuplot),
        cmocka_unit_test(test_peak_is_measured_cached_and_remeasured_when_corrupt),
        cmocka_unit_test(test_context_has_the_basics),
        cmocka_unit_test(test_cuda_entry_points_fail_cleanly_without_a_gpu),
        cmocka_unit_test(test_cli_defaults_and_common_options),
        cmocka_unit_test(test_cli_help_returns_one),
        cmocka_unit_test(test_cli_bad_arguments_give_one_line_and_two),
        cmocka_unit_test(test_cli_lesson_options_with_ranges),
        cmocka_unit_test(test_progress_runs_silently_off_a_terminal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
