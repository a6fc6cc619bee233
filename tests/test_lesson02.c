/* test_lesson02.c — what lesson 2 computes exactly: the online (m, d) trace (d is always
 * Σ e^(x − m) over the prefix, m its max), the sweep's sizes and row counts, and the
 * experiments that need no timing to be judged (part (a) runs and writes its tables).
 * Linked with every .c file of lessons/02-online-softmax except lesson.c. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../lessons/02-online-softmax/sm_lesson.h"
#include "tmpdir.h"

static void online_trace_keeps_d_equal_to_the_prefix_sum(void **state) {
    (void)state;
    const float x[8] = {1, 3, 2, 5, 5, 0, -INFINITY, 7};
    double m[8], d[8];
    sm_online_trace(x, 8, m, d);
    for (int i = 0; i < 8; i++) {
        double mx = -INFINITY, sum = 0.0;
        for (int j = 0; j <= i; j++) mx = x[j] > mx ? x[j] : mx;
        for (int j = 0; j <= i; j++) sum += exp(x[j] - mx);
        assert_true(m[i] == mx);
        assert_true(fabs(d[i] - sum) <= 1e-15 * sum);
    }
    /* the two equal maxima at steps 4 and 5 each count e^0 = 1 */
    assert_true(d[4] == 1.0 + 1.0 + exp(-2.0) + exp(-3.0) + exp(-4.0));
}

static void sweep_sizes_grow_by_four_and_end_at_max_v(void **state) {
    (void)state;
    long v[32];
    int n = sm_sweep_sizes(65536, v, 32);
    assert_int_equal(n, 6);
    assert_int_equal(v[0], 64);
    for (int i = 1; i < n; i++) assert_int_equal(v[i], 4 * v[i - 1]);
    n = sm_sweep_sizes(1000000, v, 32);
    assert_int_equal(v[n - 1], 1000000);
    assert_true(v[n - 2] < 1000000);
    n = sm_sweep_sizes(64, v, 32);
    assert_int_equal(n, 1);
    assert_int_equal(v[0], 64);
    n = sm_sweep_sizes(1L << 28, v, 4); /* capped, still ends at max_v */
    assert_int_equal(n, 4);
    assert_int_equal(v[3], 1L << 28);
}

static void rows_fit_the_budget_but_never_drop_to_zero(void **state) {
    (void)state;
    assert_int_equal(sm_rows_for(4000, 4096, 1L << 26), 4000);
    assert_int_equal(sm_rows_for(4000, 65536, 1L << 26), 1024);
    assert_int_equal(sm_rows_for(10, 1L << 22, 1L << 26), 10);
    assert_int_equal(sm_rows_for(4000, 1L << 27, 1L << 26), 1);
}

static void part_a_runs_and_writes_its_tables(void **state) {
    (void)state;
    assert_int_equal(tmpdir_make("lesson02"), 0);
    const char *dir = tmpdir;
    dlb_run *run = NULL;
    assert_int_equal(dlb_run_open(dir, "02-online-softmax", &run), 0);
    sm_config cfg = {.quick = true, .max_v = 4096, .budget = 1L << 16, .seed = 1, .threads = 1};
    assert_int_equal(sm_overflow(run, &cfg), 0);
    assert_int_equal(dlb_run_close(run), 0);
    char path[400];
    snprintf(path, sizeof path, "%s/softmax_overflow.csv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[512];
    int naive_nan = 0, safe_ok = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "naive,", 6) == 0) naive_nan = strstr(line, "nan") != NULL;
        if (strncmp(line, "safe,", 5) == 0) safe_ok = strstr(line, "0.643914") != NULL;
    }
    fclose(f);
    assert_true(naive_nan); /* e^100 overflowed */
    assert_true(safe_ok);   /* e^3 / (1 + e + e^2 + e^3) = 0.6439142... */
    assert_int_equal(tmpdir_remove(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(online_trace_keeps_d_equal_to_the_prefix_sum),
        cmocka_unit_test(sweep_sizes_grow_by_four_and_end_at_max_v),
        cmocka_unit_test(rows_fit_the_budget_but_never_drop_to_zero),
        cmocka_unit_test(part_a_runs_and_writes_its_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
