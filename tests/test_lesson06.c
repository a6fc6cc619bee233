/* test_lesson06.c — what lesson 6 computes without MPI: the α-β-γ cost coefficients and
 * their least-squares fit, nccl-tests' busbw, the benchmark's sizes, the mpirun command line
 * the driver builds (as root, oversubscribed, under timeout), and reading rank 0's CSV.
 * The collectives themselves are tested by test_collective.c and check_collective.sh; the
 * lesson end to end by its --quick smoke run. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../lessons/06-ring-allreduce/ar_lesson.h"
#include "tmpdir.h"

static void test_ring_and_rabenseifner_send_the_bandwidth_lower_bound(void **state) {
    (void)state;
    double ka, kb, kg;
    for (int p = 1; p <= 16; p++) {
        assert_true(ar_cost_coeffs("ring", p, &ka, &kb, &kg));
        assert_float_equal(ka, 2.0 * (p - 1), 1e-12);
        assert_float_equal(kb, 2.0 * (p - 1) / p, 1e-12);
        assert_float_equal(kg, (double)(p - 1) / p, 1e-12);
        if ((p & (p - 1)) == 0) { /* powers of two: Rabenseifner sends what the ring sends */
            double ra, rb, rg;
            assert_true(ar_cost_coeffs("rabenseifner", p, &ra, &rb, &rg));
            assert_float_equal(rb, kb, 1e-12);
            assert_float_equal(rg, kg, 1e-12);
            assert_true(ra <= ka); /* in fewer rounds */
        }
    }
    /* the fold costs a non-power-of-two one more message each way */
    assert_true(ar_cost_coeffs("rdoubling", 5, &ka, &kb, &kg));
    assert_float_equal(ka, 2 + 2, 1e-12);
    assert_false(ar_cost_coeffs("bogus", 4, &ka, &kb, &kg));
}

static void test_fit_recovers_alpha_and_beta_from_exact_model_times(void **state) {
    (void)state;
    const double alpha = 3e-6, beta = 1.0 / 5e9, gamma = 1.0 / 20e9;
    int p[24];
    double bytes[24], t[24];
    int n = 0;
    for (int np = 2; np <= 8; np *= 2)
        for (double b = 8; b <= 64e6; b *= 16)
            p[n] = np, bytes[n] = b, t[n] = ar_model_time("ring", np, b, alpha, beta, gamma), n++;
    double a, bt;
    assert_int_equal(ar_fit_alpha_beta("ring", p, bytes, t, n, gamma, &a, &bt), 0);
    assert_float_equal(a, alpha, alpha * 1e-6);
    assert_float_equal(bt, beta, beta * 1e-6);
    /* one point cannot determine two unknowns */
    assert_int_equal(ar_fit_alpha_beta("ring", p, bytes, t, 1, gamma, &a, &bt), -1);
}

static void test_busbw_follows_nccl_tests(void **state) {
    (void)state;
    /* 1 GB in 1 s on 4 ranks: algbw 1 GB/s, busbw 1.5 GB/s; one rank moves nothing */
    assert_float_equal(ar_busbw(1e9, 1.0, 4), 1.5, 1e-12);
    assert_float_equal(ar_busbw(1e9, 1.0, 1), 0.0, 1e-12);
    assert_float_equal(ar_busbw(1e9, 0.0, 4), 0.0, 1e-12);
}

static void test_bench_sizes_span_8_bytes_to_the_cap(void **state) {
    (void)state;
    long s[32];
    int n = ar_bench_sizes(64L << 20, false, s, 32);
    assert_int_equal(s[0], 8);
    assert_int_equal(s[n - 1], 64L << 20);
    bool has_16mib = false;
    for (int i = 0; i < n; i++) has_16mib |= s[i] == 16L << 20;
    assert_true(has_16mib);
    n = ar_bench_sizes(1L << 20, true, s, 32);
    assert_int_equal(s[n - 1], 16L << 20); /* --quick still measures the target's size */
}

static void test_mpirun_line_runs_as_root_oversubscribed_under_timeout(void **state) {
    (void)state;
    ar_config cfg = {.cores = 2, .hostfile = "hosts"};
    snprintf(cfg.self, sizeof cfg.self, "/x/lesson-06");
    const char *mca[] = {"coll_tuned_allreduce_algorithm=4", NULL};
    const char *args[] = {"--task", "bench", NULL};
    const char *argv[64];
    char scratch[256];
    int n = ar_mpirun_argv(&cfg, 4, mca, args, 60, argv, 64, scratch, sizeof scratch);
    assert_true(n > 0);
    assert_null(argv[n]);
    assert_string_equal(argv[0], "timeout");
    char line[1024] = "";
    for (int i = 0; i < n; i++) strcat(line, argv[i]), strcat(line, " ");
    assert_non_null(strstr(line, "timeout -k 5 60 mpirun --allow-run-as-root --oversubscribe"));
    assert_non_null(strstr(line, "-np 4 "));
    assert_non_null(strstr(line, "--hostfile hosts "));
    assert_non_null(strstr(line, "--mca mpi_yield_when_idle 1 ")); /* 4 ranks > 2 cores */
    assert_non_null(strstr(line, "--mca coll_tuned_allreduce_algorithm 4 "));
    assert_non_null(strstr(line, "/x/lesson-06 --worker --task bench "));
    /* two ranks on two cores: no yielding */
    n = ar_mpirun_argv(&cfg, 2, NULL, args, 60, argv, 64, scratch, sizeof scratch);
    for (int i = 0; i < n; i++) assert_string_not_equal(argv[i], "mpi_yield_when_idle");
    /* too small a vector: refused, not overrun */
    assert_int_equal(ar_mpirun_argv(&cfg, 2, mca, args, 60, argv, 8, scratch, sizeof scratch), -1);
}

static void test_csv_rows_come_back_field_by_field(void **state) {
    (void)state;
    char path[300];
    assert_int_equal(tmpdir_make("lesson06"), 0);
    snprintf(path, sizeof path, "%s/rows.csv", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("variant,ranks,bytes\nring,4,1024\nmpi,2\n", f);
    fclose(f);
    char **fields, *text;
    int rows;
    assert_int_equal(ar_read_csv(path, &fields, 3, &rows, &text), 0);
    assert_int_equal(rows, 2);
    assert_string_equal(fields[0], "ring");
    assert_string_equal(fields[2], "1024");
    assert_string_equal(fields[3], "mpi");
    assert_string_equal(fields[5], ""); /* a short row reads as empty fields */
    free(fields), free(text);
    remove(path);
    assert_int_equal(ar_read_csv(path, &fields, 3, &rows, &text), -1);
    tmpdir_remove();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_and_rabenseifner_send_the_bandwidth_lower_bound),
        cmocka_unit_test(test_fit_recovers_alpha_and_beta_from_exact_model_times),
        cmocka_unit_test(test_busbw_follows_nccl_tests),
        cmocka_unit_test(test_bench_sizes_span_8_bytes_to_the_cap),
        cmocka_unit_test(test_mpirun_line_runs_as_root_oversubscribed_under_timeout),
        cmocka_unit_test(test_csv_rows_come_back_field_by_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
