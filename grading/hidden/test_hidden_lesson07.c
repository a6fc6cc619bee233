/* test_hidden_lesson07.c — grading's own tests for lesson 7's exercise (the 1F1B stage order,
 * which ZB-H1 also uses with its backward split), not shipped in the handout: `make grade
 * LESSON=7` copies it into the tree it grades. Every (p, m) from 1..8 × 1..24 must validate,
 * simulate to the published bubble with equal costs, and hold at most min(p, m) microbatches'
 * activations on any stage — 1F1B's point. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dlab/pipeline.h"

static void check(dl_pp_kind kind, int p, int m) {
    dl_pp_schedule s;
    if (dl_pp_schedule_build(kind, p, m, 1, &s) != DL_OK) fail_msg("build p=%d m=%d: %s", p, m, dl_last_error());
    if (dl_pp_schedule_validate(&s) != DL_OK) fail_msg("validate p=%d m=%d: %s", p, m, dl_last_error());
    const dl_pp_costs equal = {.forward = 1, .backward_input = 1, .backward_weight = 1, .send = 0};
    dl_pp_sim r;
    if (dl_pp_simulate(&s, &equal, 0, &r) != DL_OK) fail_msg("simulate p=%d m=%d: %s", p, m, dl_last_error());
    const double want = dl_pp_bubble_formula(kind, p, m, 1);
    if (kind == DL_PP_1F1B && !(fabs(r.bubble_fraction - want) < 1e-12))
        fail_msg("1F1B p=%d m=%d: bubble %.6f, formula %.6f", p, m, r.bubble_fraction, want);
    const int cap = p < m ? p : m;
    for (int st = 0; st < p; st++)
        if (r.peak_chunks[st] > cap) fail_msg("p=%d m=%d: stage %d holds %d microbatches (at most %d)", p, m, st, r.peak_chunks[st], cap);
    dl_pp_sim_free(&r);
    dl_pp_schedule_free(&s);
}

static void test_1f1b_every_shape_is_valid_exact_and_lean(void **state) {
    (void)state;
    for (int p = 1; p <= 8; p++)
        for (int m = 1; m <= 24; m++) check(DL_PP_1F1B, p, m);
}

static void test_zbh1_every_shape_is_valid_and_lean(void **state) {
    (void)state;
    for (int p = 1; p <= 8; p++)
        for (int m = 1; m <= 24; m++) check(DL_PP_ZBH1, p, m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_1f1b_every_shape_is_valid_exact_and_lean),
        cmocka_unit_test(test_zbh1_every_shape_is_valid_and_lean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
