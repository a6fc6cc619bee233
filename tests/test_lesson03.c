/* test_lesson03.c — what lesson 3 computes exactly: the two fortune sets do not overlap, the
 * re-encoding into the base's vocabulary, the normwise error of the merge check, that a LoRA
 * fine-tune leaves the base weights untouched, and a tiny end-to-end run of the whole
 * experiment (a 1-layer, 16-wide GPT, a few steps) with its files, metrics, a saved adapter
 * that evaluates and a corrupt one that is refused.
 * Linked with every .c file of lessons/03-lora except lesson.c. Needs the Debian `fortunes`
 * corpus for the last two (skipped without it). */
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

#include "../lessons/03-lora/lora_lesson.h"
#include "tmpdir.h"

static void the_new_categories_do_not_overlap_the_base_ones(void **state) {
    (void)state;
    assert_false(lora_categories_overlap(lora_base_categories, LORA_N_BASE_CATEGORIES,
                                         lora_new_categories, LORA_N_NEW_CATEGORIES));
    const char *const with_science[] = {"computers", "science"};
    assert_true(lora_categories_overlap(lora_base_categories, LORA_N_BASE_CATEGORIES, with_science, 2));
    /* the base set is lesson 0's default (data.h: NULL categories mean these three) */
    assert_string_equal(lora_base_categories[0], "fortunes");
    assert_string_equal(lora_base_categories[1], "wisdom");
    assert_string_equal(lora_base_categories[2], "science");
}

/* A corpus with just a vocabulary: the given bytes in order, separator `sep`. */
static void tiny_vocab(dl_text_corpus *c, const char *bytes, unsigned char sep) {
    memset(c, 0, sizeof *c);
    for (int b = 0; b < 256; b++) c->byte_to_id[b] = -1;
    c->id_to_byte[0] = sep, c->byte_to_id[sep] = 0, c->separator_id = 0;
    c->vocab_size = 1;
    for (const char *p = bytes; *p; p++) {
        c->id_to_byte[c->vocab_size] = (unsigned char)*p;
        c->byte_to_id[(unsigned char)*p] = c->vocab_size++;
    }
}

static void remapping_keeps_known_bytes_and_drops_the_rest(void **state) {
    (void)state;
    dl_text_corpus from, to;
    tiny_vocab(&from, "abcz", 0);
    tiny_vocab(&to, "cba", '\n'); /* another order, no 'z', another separator byte */
    /* "a z b <sep> c" in from's ids */
    const int ids[5] = {1, 4, 2, 0, 3};
    int out[5];
    size_t n_out = 99;
    size_t dropped = lora_remap_tokens(&from, ids, 5, &to, out, &n_out);
    assert_int_equal(dropped, 1);
    assert_int_equal(n_out, 4);
    assert_int_equal(out[0], 3); /* 'a' is the third byte of "cba": id 3 */
    assert_int_equal(out[1], 2); /* 'b' */
    assert_int_equal(out[2], 0); /* the separator maps to the separator */
    assert_int_equal(out[3], 1); /* 'c' */
}

static void max_rel_err_is_normwise(void **state) {
    (void)state;
    const float a[3] = {10, -2, 0.001f}, b[3] = {10, -2.5f, 0.002f}, z[3] = {0, 0, 0};
    assert_true(fabs(lora_max_rel_err(a, b, 3) - 0.05) < 1e-7); /* 0.5 / 10 */
    assert_true(lora_max_rel_err(a, a, 3) == 0);
    assert_true(lora_max_rel_err(z, z, 3) == 0);
    assert_true(isinf(lora_max_rel_err(z, a, 3)));
}

static bool have_fortunes(void) {
    struct stat st;
    return stat(DL_FORTUNES_DIR "/computers", &st) == 0 && stat(DL_FORTUNES_DIR "/fortunes", &st) == 0;
}

static const int tiny_ranks[] = {1, 2};

static lora_config tiny_config(const char *dir) {
    lora_config cfg = {
        .quick = true, .seed = 3, .threads = 1, .variants = "fast", .base_path = NULL, .out_dir = dir,
        .model = {.vocab = 0, .block_size = 16, .n_layer = 1, .n_head = 2, .n_embd = 16},
        .B = 2, .T = 8, .pretrain_steps = 4, .steps = 3, .val_batches = 1,
        .full_lr = 1e-3f, .lora_lr = 3e-3f, .rank = 2, .ranks = tiny_ranks, .n_ranks = 2, .group_rank = 2,
    };
    dl_lora_parse_targets("qv", &cfg.targets);
    return cfg;
}

static void a_lora_fine_tune_leaves_the_base_weights_untouched(void **state) {
    (void)state;
    if (!have_fortunes()) skip();
    assert_int_equal(tmpdir_make("lesson03-frozen"), 0);
    lora_config cfg = tiny_config(tmpdir);
    lora_data d;
    assert_int_equal(lora_data_load(&d, cfg.seed), DL_OK);
    cfg.model.vocab = d.base.vocab_size;
    float *base = NULL, *after = NULL;
    char origin[1400];
    assert_int_equal(lora_base_prepare(&cfg, &d, &base, origin, sizeof origin), DL_OK);
    assert_non_null(strstr(origin, "pretrained here"));
    dl_gpt m = {0};
    assert_int_equal(dl_gpt_create(&m, &cfg.model, cfg.B, cfg.T, cfg.variants), DL_OK);
    lora_method meth = {.label = "LoRA r=2 q,v", .rank = 2, .targets = cfg.targets};
    dl_lora lo = {0};
    lora_outcome out;
    assert_int_equal(lora_finetune(&cfg, &d, base, &m, &meth, &lo, &out), DL_OK);
    /* 2 targets × 1 layer × r·(16 + 16) */
    assert_int_equal(out.trainable_params, 2 * 2 * 32);
    assert_int_equal(out.optimizer_bytes, 2 * out.trainable_params * sizeof(float));
    assert_int_equal(out.file_bytes, dl_lora_file_bytes(&lo));
    assert_true(isfinite(out.val_new) && isfinite(out.val_old));
    assert_int_equal(dl_alloc((void **)&after, m.n_params * sizeof(float)), DL_OK);
    assert_int_equal(dl_gpt_params_to_host(&m, after), DL_OK);
    assert_memory_equal(base, after, m.n_params * sizeof(float));
    /* a second prepare finds the base this one saved, instead of pretraining again */
    float *again = NULL;
    assert_int_equal(lora_base_prepare(&cfg, &d, &again, origin, sizeof origin), DL_OK);
    assert_non_null(strstr(origin, "earlier run"));
    assert_memory_equal(base, again, m.n_params * sizeof(float));
    dl_gpt_attach_lora(&m, NULL, false);
    dl_lora_free(&lo);
    dl_gpt_free(&m);
    dl_free(base), dl_free(after), dl_free(again);
    lora_data_free(&d);
    assert_int_equal(tmpdir_remove(), 0);
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

static void the_whole_experiment_runs_on_a_tiny_model(void **state) {
    (void)state;
    if (!have_fortunes()) skip();
    assert_int_equal(tmpdir_make("lesson03"), 0);
    char dir[128];
    snprintf(dir, sizeof dir, "%s", tmpdir);
    lora_config cfg = tiny_config(dir);
    dlb_run *run = NULL;
    assert_int_equal(dlb_run_open(dir, "03-lora", &run), 0);
    assert_int_equal(lora_experiment(run, &cfg), DL_OK);
    assert_int_equal(dlb_run_close(run), 0);
    const char *files[] = {"lora_runs.csv", "lora_paper_table.csv", "lora_step_compare.csv",
                           "lora_adapter_switch.csv", "adapter_r2_qv.dlora", "adapter_r2_all.dlora",
                           "full_ft.ckpt", "base.ckpt", "lora_val_loss_vs_rank.dat"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char path[400];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (stat(path, &st) != 0) fail_msg("missing %s", path);
    }
    /* 1 layer, C = 16: full = V·C + 16·C + 12C² + 13C + 2C; LoRA r=2 q,v: 2·2·32 = 128 */
    assert_true(summary_value(dir, "lora_r4_trainable_params") > 0);
    assert_true(summary_value(dir, "merge_max_rel_err") <= 1e-5);
    assert_true(summary_value(dir, "lora_param_reduction_r4") > 1);
    assert_true(summary_value(dir, "lora_adapter_reduction_r4") > 1);

    /* the saved adapter evaluates on the same base; a corrupt one is refused */
    char path[400];
    snprintf(path, sizeof path, "%s/adapter_r2_qv.dlora", dir);
    assert_int_equal(lora_evaluate_adapter(&cfg, path), DL_OK);
    snprintf(path, sizeof path, "%s/garbage.dlora", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("not an adapter at all\n", f);
    fclose(f);
    assert_int_not_equal(lora_evaluate_adapter(&cfg, path), DL_OK);
    /* an adapter of rank 2 read as rank 1: the library says so */
    lora_config other = cfg;
    other.rank = 1;
    snprintf(path, sizeof path, "%s/adapter_r2_qv.dlora", dir);
    assert_int_not_equal(lora_evaluate_adapter(&other, path), DL_OK);
    assert_int_equal(tmpdir_remove(), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_new_categories_do_not_overlap_the_base_ones),
        cmocka_unit_test(remapping_keeps_known_bytes_and_drops_the_rest),
        cmocka_unit_test(max_rel_err_is_normwise),
        cmocka_unit_test(a_lora_fine_tune_leaves_the_base_weights_untouched),
        cmocka_unit_test(the_whole_experiment_runs_on_a_tiny_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
