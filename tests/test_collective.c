/* test_collective.c — the allreduce variants of kernels/ops/collective against the exact
 * answer. Runs as a plain program (one rank, MPI's singleton mode, what scripts/run-tests
 * does) and under mpirun at 2..5 ranks (tests/check_collective.sh): every rank runs every
 * test, and cmocka's exit status is each rank's count of failures.
 *
 * Covered: the block split; every variant in place and out of place on counts 0, 1, odd,
 * not divisible by the rank count and spanning several ring pieces — exact on small
 * integers, within the summation-order bound on random floats, bitwise identical across
 * ranks; ±inf, NaN and overflow; bad arguments. */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <mpi.h>

#include "dlab/collective.h"
#include "dlab/dlab.h"

static int rank, ranks;

static size_t test_counts(size_t *out) {
    const size_t p = (size_t)ranks, piece = DL_RING_PIECE_ELEMENTS;
    const size_t c[] = {0, 1, 2, 3, 5, p - 1 ? p - 1 : 1, p, p + 1, 3 * p + 2, 1023, piece * p + 3};
    memcpy(out, c, sizeof c);
    return sizeof c / sizeof c[0];
}

static bool same_on_all_ranks(const float *x, size_t n) {
    uint64_t h = 1469598103934665603ull, lo, hi;
    const unsigned char *b = (const unsigned char *)x;
    for (size_t i = 0; i < n * sizeof(float); i++) h = (h ^ b[i]) * 1099511628211ull;
    MPI_Allreduce(&h, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&h, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    return lo == hi;
}

static void test_blocks_cover_count_and_differ_by_at_most_one(void **state) {
    (void)state;
    for (int parts = 1; parts <= 9; parts++)
        for (size_t count = 0; count <= 50; count++) {
            size_t at = 0, lo = SIZE_MAX, hi = 0;
            for (int i = 0; i < parts; i++) {
                assert_int_equal(dl_block_offset(count, parts, i), at);
                const size_t n = dl_block_count(count, parts, i);
                at += n;
                lo = n < lo ? n : lo, hi = n > hi ? n : hi;
            }
            assert_int_equal(at, count);
            assert_true(hi - lo <= 1);
            assert_int_equal(dl_block_offset(count, parts, parts), count);
        }
}

static void test_variants_are_found_by_name(void **state) {
    (void)state;
    int n;
    const dl_allreduce_variant *v = dl_allreduce_variants(&n);
    assert_int_equal(n, 6);
    for (int i = 0; i < n; i++) assert_ptr_equal(dl_allreduce_find(v[i].name), &v[i]);
    assert_null(dl_allreduce_find("bogus"));
    assert_null(dl_allreduce_find(NULL));
}

static float small_int(size_t i, int r) { return (float)((int)((i * 5 + (size_t)r * 11) % 13) - 6); }

static void test_every_variant_is_exact_on_small_integers(void **state) {
    (void)state;
    size_t counts[16];
    const size_t n_counts = test_counts(counts), max = counts[n_counts - 1];
    float *send = malloc(max * sizeof(float)), *recv = malloc(max * sizeof(float));
    assert_non_null(send), assert_non_null(recv);
    int nv;
    const dl_allreduce_variant *vs = dl_allreduce_variants(&nv);
    for (int v = 0; v < nv; v++)
        for (size_t c = 0; c < n_counts; c++)
            for (int inplace = 0; inplace <= 1; inplace++) {
                const size_t n = counts[c];
                for (size_t i = 0; i < n; i++) send[i] = small_int(i, rank), recv[i] = -99.0f;
                float *dst = inplace ? send : recv;
                assert_int_equal(vs[v].run(send, dst, n, MPI_COMM_WORLD), DL_OK);
                long wrong = 0;
                for (size_t i = 0; i < n; i++) {
                    float want = 0;
                    for (int r = 0; r < ranks; r++) want += small_int(i, r);
                    wrong += dst[i] != want;
                    if (!inplace) wrong += send[i] != small_int(i, rank);
                }
                if (wrong) print_error("%s count %zu %s: %ld wrong\n", vs[v].name, n, inplace ? "in place" : "out of place", wrong);
                assert_int_equal(wrong, 0);
                assert_true(same_on_all_ranks(dst, n));
            }
    free(send), free(recv);
}

static void test_every_variant_is_within_its_bound_on_random_floats(void **state) {
    (void)state;
    const size_t n = 3 * DL_RING_PIECE_ELEMENTS / 2 + 7;
    float *send = malloc(n * sizeof(float)), *other = malloc(n * sizeof(float));
    double *exact = calloc(n, sizeof(double)), *mag = calloc(n, sizeof(double));
    assert_non_null(send), assert_non_null(other), assert_non_null(exact), assert_non_null(mag);
    dl_rng rng;
    for (int r = 0; r < ranks; r++) {
        dl_rng_seed_stream(&rng, 7, (uint64_t)r);
        dl_rng_fill_uniform(&rng, other, n, -1e3f, 1e3f);
        for (size_t i = 0; i < n; i++) exact[i] += other[i], mag[i] += fabs(other[i]);
    }
    int nv;
    const dl_allreduce_variant *vs = dl_allreduce_variants(&nv);
    for (int v = 0; v < nv; v++) {
        dl_rng_seed_stream(&rng, 7, (uint64_t)rank);
        dl_rng_fill_uniform(&rng, send, n, -1e3f, 1e3f);
        assert_int_equal(vs[v].run(send, send, n, MPI_COMM_WORLD), DL_OK);
        const int depth = vs[v].depth(ranks);
        const double u = ldexp(1.0, -24), g = depth * u / (1 - depth * u);
        long over = 0;
        for (size_t i = 0; i < n; i++)
            over += fabs(send[i] - exact[i]) > g * mag[i] + ldexp(mag[i], -50);
        if (over) print_error("%s: %ld sums outside depth %d bound\n", vs[v].name, over, depth);
        assert_int_equal(over, 0);
        assert_true(same_on_all_ranks(send, n));
    }
    free(send), free(other), free(exact), free(mag);
}

static void test_inf_nan_and_overflow_come_through(void **state) {
    (void)state;
    int nv;
    const dl_allreduce_variant *vs = dl_allreduce_variants(&nv);
    for (int v = 0; v < nv; v++) {
        float x[5] = {INFINITY, -INFINITY, NAN, 3e38f, 1.0f};
        if (rank != 0) x[0] = 1.0f, x[1] = 2.0f, x[2] = 3.0f; /* only rank 0 holds the specials */
        assert_int_equal(vs[v].run(x, x, 5, MPI_COMM_WORLD), DL_OK);
        assert_true(isinf(x[0]) && x[0] > 0);
        assert_true(isinf(x[1]) && x[1] < 0);
        assert_true(isnan(x[2]));
        if (ranks > 1) assert_true(isinf(x[3])); /* p·3e38 overflows in float, in any order */
        else assert_true(x[3] == 3e38f);
        assert_true(x[4] == (float)ranks);
    }
}

static void test_bad_arguments_are_refused(void **state) {
    (void)state;
    float one = 1.0f;
    int nv;
    const dl_allreduce_variant *vs = dl_allreduce_variants(&nv);
    for (int v = 0; v < nv; v++) {
        /* a count MPI's int cannot carry: refused before any buffer is touched */
        assert_int_equal(vs[v].run(&one, &one, (size_t)INT_MAX + 1, MPI_COMM_WORLD), DL_ERR_ARG);
        assert_int_equal(vs[v].run(NULL, &one, 1, MPI_COMM_WORLD), DL_ERR_ARG);
        /* count 0 with no buffers is fine */
        assert_int_equal(vs[v].run(NULL, NULL, 0, MPI_COMM_WORLD), DL_OK);
    }
}

int main(void) {
    MPI_Init(NULL, NULL);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocks_cover_count_and_differ_by_at_most_one),
        cmocka_unit_test(test_variants_are_found_by_name),
        cmocka_unit_test(test_every_variant_is_exact_on_small_integers),
        cmocka_unit_test(test_every_variant_is_within_its_bound_on_random_floats),
        cmocka_unit_test(test_inf_nan_and_overflow_come_through),
        cmocka_unit_test(test_bad_arguments_are_refused),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Finalize();
    return failed;
}
