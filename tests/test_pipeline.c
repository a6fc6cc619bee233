/* test_pipeline.c — the pipeline schedules of dlab/pipeline.h against what can be known
 * exactly: the published bubble fractions with equal costs, hand-timed tiny timelines, the
 * peak number of microbatches held, and the validator's verdict on each kind of broken
 * schedule (lessons/07-pipeline-bubbles/DESIGN.md numbers the invariants named here). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/pipeline.h"

static const dl_pp_costs equal_costs = {
    .forward = 1, .backward_input = 1, .backward_weight = 1, .send = 0};

/* Build and simulate; fails the test on any error. */
static void simulate(dl_pp_kind kind, int p, int m, int v, const dl_pp_costs *c, dl_pp_schedule *s,
                     dl_pp_sim *r) {
    if (dl_pp_schedule_build(kind, p, m, v, s) != DL_OK) fail_msg("build: %s", dl_last_error());
    if (dl_pp_simulate(s, c, 1000.0, r) != DL_OK) fail_msg("simulate: %s", dl_last_error());
}

/* The index of (type, microbatch, chunk) in stage st's list, or −1. */
static int find_op(const dl_pp_schedule *s, int st, int type, int mb, int chunk) {
    for (int i = s->begin[st]; i < s->begin[st + 1]; i++)
        if (s->ops[i].type == type && s->ops[i].microbatch == mb && s->ops[i].chunk == chunk)
            return i;
    return -1;
}

static void expect_error(dl_status st, const char *needle) {
    assert_int_equal(st, DL_ERR_ARG);
    if (!strstr(dl_last_error(), needle))
        fail_msg("message \"%s\" lacks \"%s\"", dl_last_error(), needle);
}

/* ------------------------------------------------------------------ bubble values */

static void gpipe_and_1f1b_bubble_is_exactly_p_minus_1_over_m_plus_p_minus_1(void **state) {
    (void)state;
    const int ps[] = {1, 2, 3, 4, 8};
    const dl_pp_costs uneven = {.forward = 1.0, .backward_input = 1.5, .backward_weight = 0.75};
    for (int k = DL_PP_GPIPE; k <= DL_PP_1F1B; k++)
        for (int pi = 0; pi < 5; pi++)
            for (int m = 1; m <= 64; m++) {
                const int p = ps[pi];
                const double want = (double)(p - 1) / (m + p - 1);
                for (int c = 0; c < 2; c++) {
                    dl_pp_schedule s;
                    dl_pp_sim r;
                    simulate((dl_pp_kind)k, p, m, 1, c ? &uneven : &equal_costs, &s, &r);
                    if (fabs(r.bubble_fraction - want) > 1e-12)
                        fail_msg("%s p=%d m=%d: bubble %.15f, want %.15f", dl_pp_kind_name(k), p, m,
                                 r.bubble_fraction, want);
                    assert_true(fabs(dl_pp_bubble_formula((dl_pp_kind)k, p, m, 1) - want) < 1e-15);
                    dl_pp_sim_free(&r);
                    dl_pp_schedule_free(&s);
                }
            }
    /* the example: p = 4, m = 8 → 3/11 */
    dl_pp_schedule s;
    dl_pp_sim r;
    simulate(DL_PP_GPIPE, 4, 8, 1, &equal_costs, &s, &r);
    assert_true(fabs(r.bubble_fraction - 0.272727272727) < 1e-9);
    assert_true(r.makespan == 33.0); /* (m + p − 1) · (F + Bi + W) = 11 · 3 */
    dl_pp_sim_free(&r);
    dl_pp_schedule_free(&s);
}

static void interleaved_bubble_is_p_minus_1_over_vm_plus_p_minus_1(void **state) {
    (void)state;
    const int ps[] = {2, 4, 8}, vs[] = {1, 2, 4};
    for (int pi = 0; pi < 3; pi++)
        for (int vi = 0; vi < 3; vi++)
            for (int m = ps[pi]; m <= 64; m += ps[pi]) {
                const int p = ps[pi], v = vs[vi];
                const double want = (double)(p - 1) / (v * m + p - 1);
                dl_pp_schedule s;
                dl_pp_sim r;
                simulate(DL_PP_INTERLEAVED, p, m, v, &equal_costs, &s, &r);
                if (fabs(r.bubble_fraction - want) > 1e-12)
                    fail_msg("interleaved p=%d m=%d v=%d: %.15f, want %.15f", p, m, v,
                             r.bubble_fraction, want);
                assert_true(fabs(dl_pp_bubble_formula(DL_PP_INTERLEAVED, p, m, v) - want) < 1e-15);
                dl_pp_sim_free(&r);
                dl_pp_schedule_free(&s);
            }
}

static void zbh1_bubble_matches_qi_et_al_when_m_is_at_least_p(void **state) {
    (void)state;
    const int ps[] = {2, 4, 8};
    for (int pi = 0; pi < 3; pi++)
        for (int m = 1; m <= 64; m++) {
            const int p = ps[pi];
            const double want = (double)(p - 1) / (3 * m + p - 1);
            dl_pp_schedule s;
            dl_pp_sim r;
            simulate(DL_PP_ZBH1, p, m, 1, &equal_costs, &s, &r);
            if (m >= p && fabs(r.bubble_fraction - want) > 1e-12)
                fail_msg("zbh1 p=%d m=%d: %.15f, want %.15f", p, m, r.bubble_fraction, want);
            /* with fewer microbatches than stages the pipeline never fills: worse than the formula
             */
            if (m < p && !(r.bubble_fraction > want + 1e-3))
                fail_msg("zbh1 p=%d m=%d: %.6f", p, m, r.bubble_fraction);
            dl_pp_sim_free(&r);
            dl_pp_schedule_free(&s);
        }
    /* general costs: idle (p−1)(F + Bi − W) per stage, while W ≤ F */
    const dl_pp_costs cases[] = {{1, 1, 0.5, 0}, {1, 2, 1, 0}, {2, 1, 1, 0}, {1.5, 1, 0.25, 0}};
    for (int c = 0; c < 4; c++) {
        dl_pp_schedule s;
        dl_pp_sim r;
        simulate(DL_PP_ZBH1, 4, 8, 1, &cases[c], &s, &r);
        const dl_pp_costs *k = &cases[c];
        double idle = 3 * (k->forward + k->backward_input - k->backward_weight);
        double want = idle / (8 * (k->forward + k->backward_input + k->backward_weight) + idle);
        if (fabs(r.bubble_fraction - want) > 1e-12)
            fail_msg("zbh1 case %d: %.15f want %.15f", c, r.bubble_fraction, want);
        assert_true(fabs(dl_pp_bubble_formula_costs(DL_PP_ZBH1, 4, 8, 1, k) - want) < 1e-15);
        dl_pp_sim_free(&r);
        dl_pp_schedule_free(&s);
    }
}

static void splitting_the_backward_and_interleaving_beat_1f1b(void **state) {
    (void)state;
    dl_pp_schedule s;
    dl_pp_sim one, inter, zb;
    simulate(DL_PP_1F1B, 4, 8, 1, &equal_costs, &s, &one);
    dl_pp_schedule_free(&s);
    simulate(DL_PP_INTERLEAVED, 4, 8, 2, &equal_costs, &s, &inter);
    dl_pp_schedule_free(&s);
    simulate(DL_PP_ZBH1, 4, 8, 1, &equal_costs, &s, &zb);
    dl_pp_schedule_free(&s);
    assert_true(inter.bubble_fraction < one.bubble_fraction);
    assert_true(zb.bubble_fraction < one.bubble_fraction);
    assert_true(zb.makespan == 27.0); /* 8 · 3 of work + (p − 1) · (F + Bi − W) = 24 + 3 */
    dl_pp_sim_free(&one);
    dl_pp_sim_free(&inter);
    dl_pp_sim_free(&zb);
}

/* ------------------------------------------------------------------- timelines */

static void tiny_timeline_matches_a_hand_computed_one(void **state) {
    (void)state;
    /* p = 2, m = 1, F = 1, B = 2 (Bi 2, W 0), send 0.5:
     * stage 0 F [0,1]; stage 1 F [1.5,2.5], B [2.5,4.5]; stage 0 B [5,7] */
    const dl_pp_costs c = {.forward = 1, .backward_input = 2, .backward_weight = 0, .send = 0.5};
    dl_pp_schedule s;
    dl_pp_sim r;
    simulate(DL_PP_1F1B, 2, 1, 1, &c, &s, &r);
    int f0 = find_op(&s, 0, DL_PP_F, 0, 0), b0 = find_op(&s, 0, DL_PP_B, 0, 0);
    int f1 = find_op(&s, 1, DL_PP_F, 0, 0), b1 = find_op(&s, 1, DL_PP_B, 0, 0);
    assert_true(f0 >= 0 && b0 >= 0 && f1 >= 0 && b1 >= 0);
    assert_true(r.start[f0] == 0.0 && r.end[f0] == 1.0);
    assert_true(r.start[f1] == 1.5 && r.end[f1] == 2.5);
    assert_true(r.start[b1] == 2.5 && r.end[b1] == 4.5);
    assert_true(r.start[b0] == 5.0 && r.end[b0] == 7.0);
    assert_true(r.makespan == 7.0);
    assert_true(r.busy[0] == 3.0 && r.busy[1] == 3.0);
    assert_true(fabs(r.bubble_fraction - (14.0 - 6.0) / 14.0) < 1e-15);
    dl_pp_sim_free(&r);
    dl_pp_schedule_free(&s);
}

static void ops_never_overlap_and_wait_for_their_inputs_plus_the_send(void **state) {
    (void)state;
    const dl_pp_costs c = {
        .forward = 1, .backward_input = 1.3, .backward_weight = 0.7, .send = 0.25};
    for (int k = 0; k < DL_PP_N_KINDS; k++) {
        const int p = 4, m = 8, v = k == DL_PP_INTERLEAVED ? 2 : 1;
        dl_pp_schedule s;
        dl_pp_sim r;
        simulate((dl_pp_kind)k, p, m, v, &c, &s, &r);
        for (int st = 0; st < p; st++)
            for (int i = s.begin[st]; i < s.begin[st + 1]; i++) {
                if (i > s.begin[st]) assert_true(r.start[i] >= r.end[i - 1]);
                const dl_pp_op *op = &s.ops[i];
                const int u = op->chunk * p + st;
                if (op->type == DL_PP_F && u > 0) {
                    int prev_stage = (u - 1) % p,
                        j = find_op(&s, prev_stage, DL_PP_F, op->microbatch, (u - 1) / p);
                    assert_true(j >= 0);
                    assert_true(r.start[i] >= r.end[j] + (prev_stage != st ? c.send : 0) - 1e-12);
                }
                if ((op->type == DL_PP_B || op->type == DL_PP_BI) && u < p * v - 1) {
                    int next_stage = (u + 1) % p, type = k == DL_PP_ZBH1 ? DL_PP_BI : DL_PP_B;
                    int j = find_op(&s, next_stage, type, op->microbatch, (u + 1) / p);
                    assert_true(j >= 0);
                    assert_true(r.start[i] >= r.end[j] + c.send - 1e-12);
                }
                if (op->type == DL_PP_W)
                    assert_true(r.start[i] >= r.end[find_op(&s, st, DL_PP_BI, op->microbatch, 0)]);
            }
        dl_pp_sim_free(&r);
        dl_pp_schedule_free(&s);
    }
}

static void send_latency_grows_the_bubble_most_for_interleaving(void **state) {
    (void)state;
    dl_pp_costs c = equal_costs;
    c.send = 0.2;
    double grow[2];
    const dl_pp_kind kinds[2] = {DL_PP_1F1B, DL_PP_INTERLEAVED};
    for (int i = 0; i < 2; i++) {
        dl_pp_schedule s;
        dl_pp_sim with, without;
        simulate(kinds[i], 4, 8, i ? 4 : 1, &c, &s, &with);
        dl_pp_schedule_free(&s);
        simulate(kinds[i], 4, 8, i ? 4 : 1, &equal_costs, &s, &without);
        dl_pp_schedule_free(&s);
        grow[i] = with.bubble_fraction - without.bubble_fraction;
        assert_true(grow[i] > 0);
        dl_pp_sim_free(&with);
        dl_pp_sim_free(&without);
    }
    assert_true(grow[1] > grow[0]); /* v× more sends on the critical path */
}

/* -------------------------------------------------------------------- schedules */

static void one_f_one_b_order_for_two_stages_is_the_textbook_one(void **state) {
    (void)state;
    dl_pp_schedule s;
    assert_int_equal(dl_pp_schedule_build(DL_PP_1F1B, 2, 3, 1, &s), DL_OK);
    const int want0[][2] = {{DL_PP_F, 0}, {DL_PP_F, 1}, {DL_PP_B, 0},
                            {DL_PP_F, 2}, {DL_PP_B, 1}, {DL_PP_B, 2}};
    const int want1[][2] = {{DL_PP_F, 0}, {DL_PP_B, 0}, {DL_PP_F, 1},
                            {DL_PP_B, 1}, {DL_PP_F, 2}, {DL_PP_B, 2}};
    assert_int_equal(s.begin[1] - s.begin[0], 6);
    assert_int_equal(s.begin[2] - s.begin[1], 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(s.ops[s.begin[0] + i].type, want0[i][0]);
        assert_int_equal(s.ops[s.begin[0] + i].microbatch, want0[i][1]);
        assert_int_equal(s.ops[s.begin[1] + i].type, want1[i][0]);
        assert_int_equal(s.ops[s.begin[1] + i].microbatch, want1[i][1]);
    }
    dl_pp_schedule_free(&s);
}

static void every_generated_schedule_of_the_sweep_validates(void **state) {
    (void)state;
    const int ps[] = {1, 2, 3, 4, 8}, vs[] = {1, 2, 3, 4};
    for (int k = 0; k < DL_PP_N_KINDS; k++)
        for (int pi = 0; pi < 5; pi++)
            for (int vi = 0; vi < 4; vi++)
                for (int m = 1; m <= 64; m++) {
                    const int p = ps[pi], v = vs[vi];
                    if ((k != DL_PP_INTERLEAVED && v != 1) || (k == DL_PP_INTERLEAVED && m % p))
                        continue;
                    dl_pp_schedule s;
                    assert_int_equal(dl_pp_schedule_build((dl_pp_kind)k, p, m, v, &s), DL_OK);
                    if (dl_pp_schedule_validate(&s) != DL_OK)
                        fail_msg("%s p=%d m=%d v=%d: %s", dl_pp_kind_name(k), p, m, v,
                                 dl_last_error());
                    const int per_mb = k == DL_PP_ZBH1 ? 3 : 2;
                    assert_int_equal(s.begin[p], per_mb * p * m * v);
                    dl_pp_schedule_free(&s);
                }
}

/* ------------------------------------------------------------------- peak memory */

static void peak_activations_1f1b_holds_p_minus_s_gpipe_holds_m(void **state) {
    (void)state;
    const int ps[] = {2, 4, 8};
    for (int pi = 0; pi < 3; pi++)
        for (int m = 1; m <= 32; m++) {
            const int p = ps[pi];
            dl_pp_schedule s;
            dl_pp_sim r;
            simulate(DL_PP_1F1B, p, m, 1, &equal_costs, &s, &r);
            for (int st = 0; st < p; st++)
                assert_int_equal(r.peak_chunks[st], p - st < m ? p - st : m);
            assert_true(r.peak_microbatches == (p < m ? p : m));
            assert_true(r.peak_bytes == 1000.0 * (p < m ? p : m));
            dl_pp_sim_free(&r);
            dl_pp_schedule_free(&s);
            simulate(DL_PP_GPIPE, p, m, 1, &equal_costs, &s, &r);
            for (int st = 0; st < p; st++)
                assert_int_equal(r.peak_chunks[st], m);
            assert_true(r.peak_bytes == 1000.0 * m);
            dl_pp_sim_free(&r);
            dl_pp_schedule_free(&s);
            simulate(DL_PP_ZBH1, p, m, 1, &equal_costs, &s, &r);
            for (int st = 0; st < p; st++)
                assert_true(r.peak_chunks[st] <= p);
            dl_pp_sim_free(&r);
            dl_pp_schedule_free(&s);
        }
    /* interleaved: chunks are 1/v of a stage, so the peak in microbatches is chunks / v */
    dl_pp_schedule s;
    dl_pp_sim r;
    simulate(DL_PP_INTERLEAVED, 4, 8, 2, &equal_costs, &s, &r);
    assert_int_equal(r.peak_chunks[0], 11); /* warm-up (p−1)·2 + (v−1)·p = 10, +1 */
    assert_true(r.peak_microbatches == 5.5);
    dl_pp_sim_free(&r);
    dl_pp_schedule_free(&s);
}

/* ------------------------------------------------------------------- bad input */

static void build_rejects_bad_sizes_with_the_reason(void **state) {
    (void)state;
    dl_pp_schedule s;
    expect_error(dl_pp_schedule_build(DL_PP_GPIPE, 4, 0, 1, &s), "m=0");
    expect_error(dl_pp_schedule_build(DL_PP_1F1B, 0, 8, 1, &s), "p=0");
    expect_error(dl_pp_schedule_build(DL_PP_INTERLEAVED, 4, 8, 0, &s), "v=0");
    expect_error(dl_pp_schedule_build(DL_PP_1F1B, 4, 8, 2, &s), "v must be 1");
    expect_error(dl_pp_schedule_build(DL_PP_ZBH1, 4, 8, 2, &s), "v must be 1");
    expect_error(dl_pp_schedule_build(DL_PP_INTERLEAVED, 4, 6, 2, &s), "not a multiple of p=4");
    expect_error(dl_pp_schedule_build(DL_PP_N_KINDS, 4, 8, 1, &s), "unknown schedule kind");
    expect_error(dl_pp_schedule_build((dl_pp_kind)-1, 4, 8, 1, &s), "unknown schedule kind");
    expect_error(dl_pp_schedule_build(DL_PP_GPIPE, 8192, 4096, 1, &s), "too many");
    assert_int_equal(dl_pp_schedule_build(DL_PP_GPIPE, 4, 8, 1, NULL), DL_ERR_ARG);
}

static void layers_must_split_evenly_into_p_times_v_chunks(void **state) {
    (void)state;
    int per = 0;
    assert_int_equal(dl_pp_layers_per_chunk(12, 4, 3, &per), DL_OK);
    assert_int_equal(per, 1);
    assert_int_equal(dl_pp_layers_per_chunk(16, 4, 2, &per), DL_OK);
    assert_int_equal(per, 2);
    expect_error(dl_pp_layers_per_chunk(12, 4, 2, &per), "do not split evenly");
    expect_error(dl_pp_layers_per_chunk(3, 4, 1, &per), "cannot fill");
    expect_error(dl_pp_layers_per_chunk(8, 4, 0, &per), "v=0");
}

static void simulate_rejects_negative_or_nan_costs(void **state) {
    (void)state;
    dl_pp_schedule s;
    dl_pp_sim r;
    assert_int_equal(dl_pp_schedule_build(DL_PP_1F1B, 2, 2, 1, &s), DL_OK);
    dl_pp_costs c = equal_costs;
    c.send = -1;
    expect_error(dl_pp_simulate(&s, &c, 0, &r), "costs must be finite");
    c = equal_costs;
    c.forward = NAN;
    expect_error(dl_pp_simulate(&s, &c, 0, &r), "costs must be finite");
    expect_error(dl_pp_simulate(&s, &equal_costs, INFINITY, &r), "bytes_per_microbatch");
    dl_pp_schedule_free(&s);
}

/* A hand-made 2-stage, 2-microbatch GPipe to break in one place per test. */
static void gpipe_2x2(dl_pp_schedule *s) {
    assert_int_equal(dl_pp_schedule_alloc(2, 2, 1, 8, s), DL_OK);
    const dl_pp_op list[4] = {{DL_PP_F, 0, 0}, {DL_PP_F, 1, 0}, {DL_PP_B, 0, 0}, {DL_PP_B, 1, 0}};
    for (int st = 0; st < 2; st++) {
        s->begin[st] = 4 * st;
        memcpy(&s->ops[4 * st], list, sizeof list);
    }
    s->begin[2] = 8;
    assert_int_equal(dl_pp_schedule_validate(s), DL_OK);
}

static void validator_names_each_kind_of_broken_schedule(void **state) {
    (void)state;
    dl_pp_schedule s;

    gpipe_2x2(&s); /* invariant 1: a microbatch out of range */
    s.ops[1].microbatch = 2;
    expect_error(dl_pp_schedule_validate(&s), "invariant 1");
    dl_pp_schedule_free(&s);

    gpipe_2x2(&s); /* invariant 1: a chunk this schedule does not have */
    s.ops[0].chunk = 1;
    expect_error(dl_pp_schedule_validate(&s), "invariant 1");
    dl_pp_schedule_free(&s);

    gpipe_2x2(&s); /* invariant 1: an unknown op type */
    s.ops[5].type = 7;
    expect_error(dl_pp_schedule_validate(&s), "invariant 1");
    dl_pp_schedule_free(&s);

    gpipe_2x2(&s); /* invariant 1: offsets that run backwards */
    s.begin[1] = 9;
    expect_error(dl_pp_schedule_validate(&s), "ends before it begins");
    dl_pp_schedule_free(&s);

    gpipe_2x2(&s); /* invariant 2: an op twice (and so another missing) */
    s.ops[4 + 1].microbatch = 0;
    expect_error(dl_pp_schedule_validate(&s), "stage 1 runs F(mb 0) twice");
    dl_pp_schedule_free(&s);

    gpipe_2x2(&s); /* invariant 2: a missing op */
    s.begin[2] = 7;
    expect_error(dl_pp_schedule_validate(&s), "stage 1 never runs B(mb 1)");
    dl_pp_schedule_free(&s);

    /* invariant 2: a W beside a whole B (one stage, one microbatch) */
    assert_int_equal(dl_pp_schedule_alloc(1, 1, 1, 3, &s), DL_OK);
    s.ops[0] = (dl_pp_op){DL_PP_F, 0, 0};
    s.ops[1] = (dl_pp_op){DL_PP_B, 0, 0};
    s.ops[2] = (dl_pp_op){DL_PP_W, 0, 0};
    s.begin[1] = 3;
    expect_error(dl_pp_schedule_validate(&s), "runs both B(mb 0) and W(mb 0)");
    /* invariant 5: W before its Bi on the same stage */
    s.ops[1] = (dl_pp_op){DL_PP_W, 0, 0};
    s.ops[2] = (dl_pp_op){DL_PP_BI, 0, 0};
    expect_error(dl_pp_schedule_validate(&s), "invariant 5: stage 0 runs W(mb 0) before Bi(mb 0)");
    s.ops[1] = (dl_pp_op){DL_PP_BI, 0, 0};
    s.ops[2] = (dl_pp_op){DL_PP_W, 0, 0};
    assert_int_equal(dl_pp_schedule_validate(&s), DL_OK);
    dl_pp_schedule_free(&s);

    gpipe_2x2(&s); /* invariant 5: a backward before its own forward */
    s.ops[4 + 1] = (dl_pp_op){DL_PP_B, 1, 0};
    s.ops[4 + 3] = (dl_pp_op){DL_PP_F, 1, 0};
    expect_error(dl_pp_schedule_validate(&s), "invariant 5: stage 1 runs B(mb 1) before F(mb 1)");
    dl_pp_schedule_free(&s);

    /* invariant 6: each stage's own order is fine, but stage 0 sends F(1) only after B(0)
     * came back, and stage 1 sends B(0) only after F(1) arrived: a cycle across stages */
    gpipe_2x2(&s);
    s.ops[1] = (dl_pp_op){DL_PP_B, 0, 0};
    s.ops[2] = (dl_pp_op){DL_PP_F, 1, 0};
    assert_int_equal(dl_pp_schedule_validate(&s), DL_ERR_ARG);
    expect_error(dl_pp_schedule_validate(&s), "invariant 6: deadlock after 2 of 8 ops");
    expect_error(dl_pp_schedule_validate(&s), "stage 0 waits at B(mb 0) for B(mb 0) of stage 1");
    expect_error(dl_pp_schedule_validate(&s), "stage 1 waits at F(mb 1) for F(mb 1) of stage 0");
    dl_pp_costs c = equal_costs;
    dl_pp_sim r;
    expect_error(dl_pp_simulate(&s, &c, 0, &r), "deadlock");
    dl_pp_schedule_free(&s);

    /* invariant 3: an op moved to another stage's list is a different virtual stage there:
     * a duplicate on one stage, a missing op on the other */
    assert_int_equal(dl_pp_schedule_build(DL_PP_INTERLEAVED, 2, 2, 2, &s), DL_OK);
    s.ops[s.begin[1]] = (dl_pp_op){DL_PP_F, 0, 1}; /* stage 1's F(mb 0, chunk 0) → chunk 1 */
    expect_error(dl_pp_schedule_validate(&s), "stage 1 runs F(mb 0, chunk 1) twice");
    dl_pp_schedule_free(&s);

    assert_int_equal(dl_pp_schedule_validate(NULL), DL_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gpipe_and_1f1b_bubble_is_exactly_p_minus_1_over_m_plus_p_minus_1),
        cmocka_unit_test(interleaved_bubble_is_p_minus_1_over_vm_plus_p_minus_1),
        cmocka_unit_test(zbh1_bubble_matches_qi_et_al_when_m_is_at_least_p),
        cmocka_unit_test(splitting_the_backward_and_interleaving_beat_1f1b),
        cmocka_unit_test(tiny_timeline_matches_a_hand_computed_one),
        cmocka_unit_test(ops_never_overlap_and_wait_for_their_inputs_plus_the_send),
        cmocka_unit_test(send_latency_grows_the_bubble_most_for_interleaving),
        cmocka_unit_test(one_f_one_b_order_for_two_stages_is_the_textbook_one),
        cmocka_unit_test(every_generated_schedule_of_the_sweep_validates),
        cmocka_unit_test(peak_activations_1f1b_holds_p_minus_s_gpipe_holds_m),
        cmocka_unit_test(build_rejects_bad_sizes_with_the_reason),
        cmocka_unit_test(layers_must_split_evenly_into_p_times_v_chunks),
        cmocka_unit_test(simulate_rejects_negative_or_nan_costs),
        cmocka_unit_test(validator_names_each_kind_of_broken_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
