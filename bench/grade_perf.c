/* bench/grade_perf.c — the timings `make grade` compares between a student's tree and the
 * reference solution: each named check runs one variant on fixed inputs and prints
 *
 *     <check> <median seconds per call> <MAD fraction>
 *
 * one line per check, or "<check> FAIL <message>" (exit 1) when the variant fails. Both trees
 * build this same file, so the only difference between their numbers is the code under test.
 *
 *   build/bin/bench-grade_perf sum_kahan sum_neumaier softmax_online
 *   build/bin/bench-grade_perf --list
 *
 * Inputs are fixed (seed 7) and sized to run in a few seconds on 2 cores: the sums over 2^22
 * floats, softmax over 256 rows of 4096. Leaves out: GPU variants, thread-count sweeps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/dlab.h"
#include "dlbench.h"

typedef struct sum_case {
    const dl_variant *v;
    dl_sum_args a;
    dl_status st;
} sum_case;

static void run_sum(void *ctx) {
    sum_case *c = ctx;
    if (c->st == DL_OK) c->st = dl_sum_run(c->v, &c->a);
}

typedef struct softmax_case {
    const dl_variant *v;
    dl_softmax_args a;
    dl_status st;
} softmax_case;

static void run_softmax(void *ctx) {
    softmax_case *c = ctx;
    if (c->st == DL_OK) c->st = dl_softmax_forward(c->v, &c->a);
}

static const char *const CHECKS[] = {"sum_kahan", "sum_neumaier", "softmax_online", NULL};

/* Time fn(ctx) after one checked call; prints the line; 0 or -1. */
static int timed(const char *check, void (*fn)(void *), void *ctx, const dl_status *st) {
    fn(ctx);
    if (*st != DL_OK) {
        printf("%s FAIL %s\n", check, dl_last_error());
        return -1;
    }
    dlb_opts o = dlb_opts_default();
    o.max_time_s = 1.0;
    dlb_result r;
    if (dlb_measure(fn, ctx, &o, &r) != 0 || *st != DL_OK) {
        printf("%s FAIL %s\n", check, *st != DL_OK ? dl_last_error() : dlb_error());
        return -1;
    }
    printf("%s %.6e %.3f\n", check, r.time.median, r.time.mad / r.time.median);
    return 0;
}

static int run_check(const char *check) {
    dl_rng rng;
    dl_rng_seed(&rng, 7);
    if (strncmp(check, "sum_", 4) == 0) {
        const size_t n = (size_t)1 << 22;
        float *x = NULL;
        if (dl_alloc((void **)&x, n * sizeof(float)) != DL_OK) return printf("%s FAIL out of memory\n", check), -1;
        dl_rng_fill_uniform(&rng, x, n, -1.0f, 1.0f);
        double out = 0;
        sum_case c = {dl_variant_find("sum", check + 4), {.x = x, .n = n, .out = &out}, DL_OK};
        int rc = c.v ? timed(check, run_sum, &c, &c.st) : (printf("%s FAIL no such variant\n", check), -1);
        dl_free(x);
        return rc;
    }
    if (strncmp(check, "softmax_", 8) == 0) {
        const int N = 256, V = 4096;
        float *x = NULL, *y = NULL;
        if (dl_alloc((void **)&x, (size_t)N * V * sizeof(float)) != DL_OK ||
            dl_alloc((void **)&y, (size_t)N * V * sizeof(float)) != DL_OK)
            return printf("%s FAIL out of memory\n", check), -1;
        dl_rng_fill_uniform(&rng, x, (size_t)N * V, -8.0f, 8.0f);
        softmax_case c = {dl_variant_find("softmax", check + 8), {.N = N, .V = V, .inp = x, .out = y}, DL_OK};
        int rc = c.v ? timed(check, run_softmax, &c, &c.st) : (printf("%s FAIL no such variant\n", check), -1);
        dl_free(x), dl_free(y);
        return rc;
    }
    printf("%s FAIL unknown check (--list shows them)\n", check);
    return -1;
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc < 2 ? stderr : stdout, "usage: bench-grade_perf CHECK... | --list\n");
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--list") == 0) {
        for (int i = 0; CHECKS[i]; i++) printf("%s\n", CHECKS[i]);
        return 0;
    }
    int rc = 0;
    for (int i = 1; i < argc; i++)
        if (run_check(argv[i]) != 0) rc = 1;
    return rc;
}
