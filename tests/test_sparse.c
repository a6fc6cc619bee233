/* test_sparse.c — sparse training (dlab/sparse.h): bad settings are refused; the cosine
 * prune rate; initial masks at the density; the invariants of prune/regrow for sparse
 * momentum, SET and static masks (count kept, regrown weights zero, pruned weights the
 * smallest, regrowth at the largest momentum, redistribution ∝ mean momentum and capped by
 * free slots); sparse checkpoints (round trip, refusals); and the sparse MLP against the
 * dense one with masked weights. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dlab/dlab.h"
#include "dlab/sparse.h"
#include "layer_check.h"
#include "tmpdir.h"

static void test_bad_density_and_prune_rate_are_refused_with_a_message(void **state) {
    (void)state;
    const double bad_density[] = {0.0, -0.1, 1.0000001, NAN};
    for (size_t i = 0; i < 4; i++) {
        dl_sparse_config c = dl_sparse_defaults(DL_SPARSE_MOMENTUM, bad_density[i]);
        assert_int_equal(dl_sparse_config_check(&c), DL_ERR_ARG);
        assert_non_null(strstr(dl_last_error(), "density"));
    }
    const double bad_rate[] = {0.0, 1.0, 1.5, -0.2, NAN};
    for (size_t i = 0; i < 5; i++) {
        dl_sparse_config c = dl_sparse_defaults(DL_SPARSE_SET, 0.05);
        c.prune_rate = bad_rate[i];
        assert_int_equal(dl_sparse_config_check(&c), DL_ERR_ARG);
        assert_non_null(strstr(dl_last_error(), "prune rate"));
    }
    dl_sparse_config ok = dl_sparse_defaults(DL_SPARSE_MOMENTUM, 1.0);
    assert_int_equal(dl_sparse_config_check(&ok), DL_OK);
    dl_sparse_config dense_half = dl_sparse_defaults(DL_SPARSE_DENSE, 0.5);
    assert_int_equal(dl_sparse_config_check(&dense_half), DL_ERR_ARG);
    /* create refuses too, and so does a prune/regrow with p outside (0, 1) */
    dl_sparse s;
    int rows[1] = {4}, cols[1] = {4};
    size_t off[1] = {0};
    dl_sparse_config bad = dl_sparse_defaults(DL_SPARSE_MOMENTUM, 0);
    assert_int_equal(dl_sparse_create(&s, &bad, 1, rows, cols, off, 1), DL_ERR_ARG);
    dl_sparse_config good = dl_sparse_defaults(DL_SPARSE_SET, 0.5);
    assert_int_equal(dl_sparse_create(&s, &good, 1, rows, cols, off, 1), DL_OK);
    float w[16] = {0};
    assert_int_equal(dl_sparse_prune_regrow(&s, w, NULL, 1.0, NULL), DL_ERR_ARG);
    assert_int_equal(dl_sparse_prune_regrow(&s, w, NULL, 0.0, NULL), DL_ERR_ARG);
    dl_sparse_free(&s);
}

static void test_prune_rate_follows_the_cosine_from_p0_to_the_floor(void **state) {
    (void)state;
    dl_sparse_config c = dl_sparse_defaults(DL_SPARSE_MOMENTUM, 0.05);
    assert_float_equal(dl_sparse_prune_rate_at(&c, 0, 100), 0.5, 1e-12);
    assert_float_equal(dl_sparse_prune_rate_at(&c, 100, 100), 0.005, 1e-12);
    assert_float_equal(dl_sparse_prune_rate_at(&c, 50, 100), (0.5 + 0.005) / 2, 1e-12);
    assert_float_equal(dl_sparse_prune_rate_at(&c, 25, 100), 0.005 + 0.495 * 0.5 * (1 + sqrt(0.5)), 1e-12);
    assert_float_equal(dl_sparse_prune_rate_at(&c, 500, 100), 0.005, 1e-12); /* clamped */
    double prev = 1;
    for (long t = 0; t <= 100; t += 5) { /* never increases */
        double p = dl_sparse_prune_rate_at(&c, t, 100);
        assert_true(p <= prev);
        prev = p;
    }
}

/* Three layers of a flat array: 6×10 at 0, 5×6 at 70, 3×5 at 110 (gaps stand for biases). */
enum { N_PARAMS = 140 };
static const int ROWS[3] = {6, 5, 3}, COLS[3] = {10, 6, 5};
static const size_t OFFS[3] = {0, 70, 110};

static dl_sparse make(dl_sparse_method method, double density, uint64_t seed) {
    dl_sparse s;
    dl_sparse_config c = dl_sparse_defaults(method, density);
    assert_int_equal(dl_sparse_create(&s, &c, 3, ROWS, COLS, OFFS, seed), DL_OK);
    return s;
}

static size_t ones(const dl_sparse *s, int l) {
    size_t n = 0;
    for (int i = 0; i < ROWS[l] * COLS[l]; i++) {
        assert_true(s->mask[l][i] == 0 || s->mask[l][i] == 1);
        n += s->mask[l][i];
    }
    return n;
}

static void test_initial_masks_have_the_density_in_every_layer_and_apply_zeroes_the_rest(void **state) {
    (void)state;
    dl_sparse s = make(DL_SPARSE_STATIC, 0.3, 5);
    for (int l = 0; l < 3; l++) {
        assert_int_equal(ones(&s, l), s.active[l]);
        assert_int_equal(s.active[l], (size_t)llround(0.3 * ROWS[l] * COLS[l]));
    }
    dl_rng r;
    dl_rng_seed(&r, 3);
    float *p = lc_uniform(&r, N_PARAMS, 1, 2); /* all nonzero */
    dl_sparse_apply(&s, p);
    for (int l = 0; l < 3; l++)
        for (int i = 0; i < ROWS[l] * COLS[l]; i++)
            assert_true((p[OFFS[l] + i] != 0) == (s.mask[l][i] == 1));
    assert_float_equal(p[65], p[65], 0); /* outside the layers: untouched (nonzero) */
    assert_true(p[65] >= 1);
    dl_free(p);
    dl_sparse_free(&s);
    dl_sparse d = make(DL_SPARSE_DENSE, 1.0, 5);
    assert_float_equal(dl_sparse_density(&d), 1.0, 0);
    dl_sparse_free(&d);
}

static void test_redistribution_is_proportional_capped_and_keeps_the_total(void **state) {
    (void)state;
    const double share[3] = {0.5, 0.3, 0.2};
    size_t cap[3] = {1000, 1000, 1000}, out[3];
    dl_sparse_redistribute(share, cap, 3, 100, out);
    assert_int_equal(out[0], 50), assert_int_equal(out[1], 30), assert_int_equal(out[2], 20);
    cap[0] = 10; /* layer 0 is nearly full: the other two split the rest 3:2 */
    dl_sparse_redistribute(share, cap, 3, 100, out);
    assert_int_equal(out[0], 10), assert_int_equal(out[1], 54), assert_int_equal(out[2], 36);
    const double thirds[3] = {1, 1, 1}; /* 10 into 3: largest remainder, lower bin first */
    size_t big[3] = {100, 100, 100};
    dl_sparse_redistribute(thirds, big, 3, 10, out);
    assert_int_equal(out[0] + out[1] + out[2], 10);
    assert_int_equal(out[0], 4), assert_int_equal(out[1], 3), assert_int_equal(out[2], 3);
    size_t small[3] = {2, 3, 1}; /* more than fits: everything fills */
    dl_sparse_redistribute(share, small, 3, 100, out);
    assert_int_equal(out[0], 2), assert_int_equal(out[1], 3), assert_int_equal(out[2], 1);
    const double none[3] = {0, 0, 0}; /* no signal: by free room */
    size_t room[3] = {10, 30, 60};
    dl_sparse_redistribute(none, room, 3, 50, out);
    assert_int_equal(out[0], 5), assert_int_equal(out[1], 15), assert_int_equal(out[2], 30);
}

static void test_sparse_momentum_keeps_the_count_prunes_the_smallest_regrows_at_the_largest_momentum(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        dl_sparse s = make(DL_SPARSE_MOMENTUM, 0.4, seed);
        dl_rng r;
        dl_rng_seed(&r, seed + 100);
        float *w = lc_uniform(&r, N_PARAMS, -1, 1), *mo = lc_uniform(&r, N_PARAMS, -1, 1);
        /* layer 1's momentum three times larger: it should win most of the regrowth */
        for (int i = 0; i < 30; i++) mo[70 + i] *= 3;
        dl_sparse_apply(&s, w);
        float *before = lc_copy(w, N_PARAMS);
        unsigned char was[60 + 30 + 15];
        memcpy(was, s.mask[0], sizeof was); /* the three masks are one block */
        size_t total = dl_sparse_active(&s), active_before[3] = {s.active[0], s.active[1], s.active[2]};
        const double p = 0.3;
        dl_sparse_update u;
        assert_int_equal(dl_sparse_prune_regrow(&s, w, mo, p, &u), DL_OK);
        assert_int_equal(dl_sparse_active(&s), total);
        size_t pruned_total = 0, regrown_total = 0;
        double share_sum = 0, mean[3];
        for (int l = 0; l < 3; l++) {
            assert_int_equal(ones(&s, l), s.active[l]);
            assert_int_equal(u.pruned[l], (size_t)ceil(p * active_before[l]));
            assert_int_equal(s.active[l], active_before[l] - u.pruned[l] + u.regrown[l]);
            pruned_total += u.pruned[l], regrown_total += u.regrown[l];
            double sum = 0;
            const unsigned char *old = was + (l == 0 ? 0 : l == 1 ? 60 : 90);
            for (int i = 0; i < ROWS[l] * COLS[l]; i++) sum += old[i] ? fabs(mo[OFFS[l] + i]) : 0;
            mean[l] = sum / active_before[l], share_sum += mean[l];
        }
        assert_int_equal(pruned_total, regrown_total);
        size_t cap[3], want[3];
        for (int l = 0; l < 3; l++) {
            assert_float_equal(u.momentum_share[l], mean[l] / share_sum, 1e-12);
            cap[l] = (size_t)ROWS[l] * COLS[l] - (active_before[l] - u.pruned[l]);
        }
        dl_sparse_redistribute(u.momentum_share, cap, 3, pruned_total, want);
        for (int l = 0; l < 3; l++) assert_int_equal(u.regrown[l], want[l]);
        for (int l = 0; l < 3; l++) {
            const unsigned char *old = was + (l == 0 ? 0 : l == 1 ? 60 : 90);
            float max_pruned = 0, min_kept = INFINITY, min_regrown_mo = INFINITY, max_left_mo = 0;
            for (int i = 0; i < ROWS[l] * COLS[l]; i++) {
                const size_t j = OFFS[l] + i;
                if (old[i] && !s.mask[l][i]) max_pruned = fmaxf(max_pruned, fabsf(before[j]));
                if (old[i] && s.mask[l][i] && before[j] == w[j]) min_kept = fminf(min_kept, fabsf(before[j]));
                if (!s.mask[l][i]) assert_true(w[j] == 0); /* invariant 2 */
                const bool regrown = s.mask[l][i] && (!old[i] || w[j] != before[j]);
                if (regrown) { /* newly active, or pruned and regrown at once */
                    assert_true(w[j] == 0);
                    min_regrown_mo = fminf(min_regrown_mo, fabsf(mo[j]));
                }
                if (!s.mask[l][i]) max_left_mo = fmaxf(max_left_mo, fabsf(mo[j]));
            }
            assert_true(max_pruned <= min_kept);               /* pruned = the smallest */
            if (u.regrown[l] > 0 && min_regrown_mo < INFINITY) /* regrown = largest |m| */
                assert_true(min_regrown_mo >= max_left_mo);
        }
        dl_free(w), dl_free(mo), dl_free(before);
        dl_sparse_free(&s);
    }
}

static void test_set_keeps_each_layer_count_and_static_changes_nothing(void **state) {
    (void)state;
    dl_rng r;
    dl_rng_seed(&r, 9);
    float *w = lc_uniform(&r, N_PARAMS, -1, 1);
    dl_sparse s = make(DL_SPARSE_SET, 0.5, 2);
    dl_sparse_apply(&s, w);
    size_t before[3] = {s.active[0], s.active[1], s.active[2]};
    dl_sparse_update u;
    assert_int_equal(dl_sparse_prune_regrow(&s, w, NULL, 0.5, &u), DL_OK);
    for (int l = 0; l < 3; l++) {
        assert_int_equal(s.active[l], before[l]);
        assert_int_equal(ones(&s, l), before[l]);
        assert_int_equal(u.regrown[l], u.pruned[l]);
        assert_true(u.pruned[l] > 0);
        for (int i = 0; i < ROWS[l] * COLS[l]; i++)
            if (!s.mask[l][i]) assert_true(w[OFFS[l] + i] == 0);
    }
    dl_sparse_free(&s);
    dl_sparse st = make(DL_SPARSE_STATIC, 0.5, 2);
    unsigned char copy[105];
    memcpy(copy, st.mask[0], sizeof copy);
    float *w2 = lc_copy(w, N_PARAMS);
    assert_int_equal(dl_sparse_prune_regrow(&st, w, NULL, 0.5, &u), DL_OK);
    assert_memory_equal(copy, st.mask[0], sizeof copy);
    assert_memory_equal(w, w2, N_PARAMS * sizeof(float));
    /* sparse momentum refuses to run without its momentum */
    dl_sparse sm = make(DL_SPARSE_MOMENTUM, 0.5, 2);
    assert_int_equal(dl_sparse_prune_regrow(&sm, w, NULL, 0.5, &u), DL_ERR_ARG);
    dl_sparse_free(&sm), dl_sparse_free(&st);
    dl_free(w), dl_free(w2);
}

/* ---------------------------------------------------------- on a real MLP */

static dl_mlp_config small_cfg(void) {
    dl_mlp_config c = {.inputs = 20, .n_hidden = 2, .hidden = {16, 8}, .classes = 5};
    return c;
}

static int setup(void **state) { (void)state; return tmpdir_make("sparse"); }
static int teardown(void **state) { (void)state; return tmpdir_remove(); }

static void test_checkpoint_round_trips_masks_and_refuses_other_shapes_and_dense_files(void **state) {
    (void)state;
    dl_mlp_config mc = small_cfg();
    dl_mlp m, other;
    dl_rng r;
    dl_rng_seed(&r, 1);
    assert_int_equal(dl_mlp_create(&m, &mc, 4, "ref"), DL_OK);
    assert_int_equal(dl_mlp_init(&m, &r), DL_OK);
    dl_sparse s, back;
    dl_sparse_config c = dl_sparse_defaults(DL_SPARSE_MOMENTUM, 0.25);
    assert_int_equal(dl_sparse_create_for_mlp(&s, &c, &m, 3), DL_OK);
    dl_sparse_apply(&s, m.params);
    char path[256];
    snprintf(path, sizeof path, "%s/sparse.ckpt", tmpdir);
    assert_int_equal(dl_sparse_mlp_save(path, &m, &s, m.params), DL_OK);
    float *saved = lc_copy(m.params, m.n_params);
    memset(m.params, 0, m.n_params * sizeof(float));
    assert_int_equal(dl_sparse_mlp_load(path, &m, &back), DL_OK);
    assert_memory_equal(saved, m.params, m.n_params * sizeof(float));
    for (int l = 0; l < 3; l++) {
        assert_int_equal(back.active[l], s.active[l]);
        assert_memory_equal(back.mask[l], s.mask[l], (size_t)s.rows[l] * s.cols[l]);
    }
    assert_int_equal(back.cfg.method, DL_SPARSE_MOMENTUM);
    assert_float_equal(back.cfg.density, 0.25, 1e-9);
    dl_sparse_free(&back);
    /* another shape: refused, nothing loaded */
    dl_mlp_config wider = mc;
    wider.hidden[0] = 17;
    assert_int_equal(dl_mlp_create(&other, &wider, 4, "ref"), DL_OK);
    assert_int_equal(dl_sparse_mlp_load(path, &other, &back), DL_ERR_FORMAT);
    assert_non_null(strstr(dl_last_error(), "another shape"));
    dl_mlp_free(&other);
    /* a dense loader (kind "mlp") refuses the sparse file, and this loader a dense file */
    dl_ckpt_reader *rd;
    assert_int_equal(dl_ckpt_reader_open(&rd, path, "mlp"), DL_ERR_FORMAT);
    char dense_path[256];
    snprintf(dense_path, sizeof dense_path, "%s/dense.ckpt", tmpdir);
    dl_ckpt_writer *w;
    assert_int_equal(dl_ckpt_writer_begin(&w, dense_path, "mlp", &mc, sizeof mc), DL_OK);
    assert_int_equal(dl_ckpt_writer_commit(w), DL_OK);
    assert_int_equal(dl_sparse_mlp_load(dense_path, &m, &back), DL_ERR_FORMAT);
    /* a weight outside its mask: refused */
    s.mask[0][0] = 0, m.params[0] = 1.0f;
    assert_int_equal(dl_sparse_mlp_save(path, &m, &s, m.params), DL_OK);
    assert_int_equal(dl_sparse_mlp_load(path, &m, &back), DL_ERR_FORMAT);
    assert_non_null(strstr(dl_last_error(), "outside the mask"));
    dl_free(saved);
    dl_sparse_free(&s);
    dl_mlp_free(&m);
}

static void test_sparse_mlp_matches_the_dense_mlp_with_masked_weights(void **state) {
    (void)state;
    const dl_variant *vs[8];
    const int nv = lc_cpu_variants("spmm", vs, 8);
    dl_mlp_config mc = small_cfg();
    enum { B = 7 };
    for (int v = 0; v < nv; v++) {
        dl_mlp m;
        dl_rng r;
        dl_rng_seed(&r, 4);
        assert_int_equal(dl_mlp_create(&m, &mc, B, "ref"), DL_OK);
        assert_int_equal(dl_mlp_init(&m, &r), DL_OK);
        for (int l = 0; l < 3; l++) dl_rng_fill_uniform(&r, m.b[l], l < 2 ? mc.hidden[l] : 5, -0.1f, 0.1f);
        dl_sparse s;
        dl_sparse_config c = dl_sparse_defaults(DL_SPARSE_SET, 0.3);
        assert_int_equal(dl_sparse_create_for_mlp(&s, &c, &m, 8), DL_OK);
        dl_sparse_apply(&s, m.params);
        float *x = lc_uniform(&r, B * 20, -1, 1);
        int y[B] = {0, 1, 2, 3, 4, 0, 1};
        float loss_dense, loss_sparse;
        assert_int_equal(dl_mlp_forward(&m, x, y, B, &loss_dense), DL_OK);
        assert_int_equal(dl_mlp_backward(&m), DL_OK);
        float *logits = lc_copy(m.act[3], B * 5), *grads = lc_copy(m.grads, m.n_params);
        dl_sparse_mlp sm;
        assert_int_equal(dl_sparse_mlp_create(&sm, &m, &s, vs[v]->name), DL_OK);
        assert_int_equal(dl_sparse_mlp_forward(&sm, x, y, B, &loss_sparse), DL_OK);
        assert_int_equal(dl_sparse_mlp_backward(&sm), DL_OK);
        assert_float_equal(loss_sparse, loss_dense, 1e-5);
        LC_ASSERT_CLOSE(m.act[3], logits, B * 5, 1e-5, 0, "%s logits", vs[v]->name);
        for (int l = 0; l < 3; l++) {
            const size_t off_b = (size_t)(m.b[l] - m.params), off_w = (size_t)(m.W[l] - m.params);
            LC_ASSERT_CLOSE(m.db[l], grads + off_b, (size_t)s.rows[l], 1e-5, 0, "%s db%d", vs[v]->name, l);
            for (int o = 0; o < sm.W[l].rows; o++)
                for (int k = sm.W[l].row_ptr[o]; k < sm.W[l].row_ptr[o + 1]; k++)
                    assert_float_equal(sm.dvals[l][k], grads[off_w + (size_t)o * s.cols[l] + sm.W[l].col_idx[k]], 1e-5);
        }
        dl_sparse_mlp_free(&sm);
        dl_free(x), dl_free(logits), dl_free(grads);
        dl_sparse_free(&s);
        dl_mlp_free(&m);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_density_and_prune_rate_are_refused_with_a_message),
        cmocka_unit_test(test_prune_rate_follows_the_cosine_from_p0_to_the_floor),
        cmocka_unit_test(test_initial_masks_have_the_density_in_every_layer_and_apply_zeroes_the_rest),
        cmocka_unit_test(test_redistribution_is_proportional_capped_and_keeps_the_total),
        cmocka_unit_test(test_sparse_momentum_keeps_the_count_prunes_the_smallest_regrows_at_the_largest_momentum),
        cmocka_unit_test(test_set_keeps_each_layer_count_and_static_changes_nothing),
        cmocka_unit_test(test_checkpoint_round_trips_masks_and_refuses_other_shapes_and_dense_files),
        cmocka_unit_test(test_sparse_mlp_matches_the_dense_mlp_with_masked_weights),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
