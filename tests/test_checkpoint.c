/* test_checkpoint.c — the checkpoint format: exact round trips, and refusal of every
 * corrupted, truncated or foreign file; atomic writes that never leave a torn file or a
 * stray .tmp, and never harm the previous checkpoint when writing fails. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
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

#include "dlab/dlab.h"
#include "tmpdir.h"

static int make_dir(void **state) {
    (void)state;
    return tmpdir_make("ckpt");
}
static int remove_dir(void **state) {
    (void)state;
    return tmpdir_remove();
}

static const char *in_dir(const char *name) {
    static char paths[4][256];
    static int next;
    char *p = paths[next++ % 4];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

typedef struct config {
    int layers, width;
} config;

/* A small checkpoint: config, a 2×3 f32 tensor, an i64 vector, one value. */
static dl_status write_small(const char *path, float first) {
    config cfg = {3, 17};
    float w[6] = {first, -0.0f, 1e-45f, INFINITY, NAN, 3.5f};
    int64_t ids[2] = {-1, INT64_MAX};
    dl_ckpt_writer *wr;
    DL_TRY(dl_ckpt_writer_begin(&wr, path, "mlp", &cfg, sizeof cfg));
    dl_ckpt_writer_add_tensor(wr, "fc1.weight", DL_CKPT_F32, w, 2, (int64_t[]){2, 3});
    dl_ckpt_writer_add_tensor(wr, "ids", DL_CKPT_I64, ids, 1, (int64_t[]){2});
    dl_ckpt_writer_add_u64(wr, "step", 1234);
    return dl_ckpt_writer_commit(wr);
}

static float read_first(const char *path) {
    dl_ckpt_reader *r;
    float w[6];
    assert_int_equal(dl_ckpt_reader_open(&r, path, "mlp"), DL_OK);
    assert_int_equal(
        dl_ckpt_reader_read_tensor(r, "fc1.weight", DL_CKPT_F32, 2, (int64_t[]){2, 3}, w), DL_OK);
    dl_ckpt_reader_close(r);
    return w[0];
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    unsigned char *b = malloc(1 << 16);
    *n = fread(b, 1, 1 << 16, f);
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void test_round_trip_is_bit_exact_for_tensors_config_and_values(void **state) {
    (void)state;
    const char *path = in_dir("round.ckpt");
    enum { N = 1000 };
    float *big = malloc(N * sizeof(float)), *back = malloc(N * sizeof(float));
    dl_rng rng, rng_back;
    dl_rng_seed(&rng, 77);
    dl_rng_fill_normal(&rng, big, N, 0, 1);
    big[5] = NAN, big[6] = -INFINITY, big[7] = -0.0f, big[8] = 1e-40f; /* odd bit patterns */
    config cfg = {4, 128};
    dl_ckpt_writer *w;
    assert_int_equal(dl_ckpt_writer_begin(&w, path, "gpt", &cfg, sizeof cfg), DL_OK);
    assert_int_equal(dl_ckpt_writer_add_tensor(w, "wte", DL_CKPT_F32, big, 2, (int64_t[]){40, 25}),
                     DL_OK);
    assert_int_equal(dl_ckpt_writer_add_tensor(w, "empty", DL_CKPT_F32, NULL, 2, (int64_t[]){0, 5}),
                     DL_OK);
    assert_int_equal(dl_ckpt_writer_add_tensor(w, "scalar", DL_CKPT_F32, &big[1], 0, NULL), DL_OK);
    assert_int_equal(dl_ckpt_writer_add_u64(w, "step", UINT64_MAX), DL_OK);
    assert_int_equal(dl_ckpt_writer_add_rng(w, "rng", &rng), DL_OK);
    assert_int_equal(dl_ckpt_writer_commit(w), DL_OK);

    dl_ckpt_reader *r;
    assert_int_equal(dl_ckpt_reader_open(&r, path, "gpt"), DL_OK);
    assert_string_equal(dl_ckpt_reader_kind(r), "gpt");
    size_t nb;
    const config *c = dl_ckpt_reader_config(r, &nb);
    assert_int_equal(nb, sizeof cfg);
    assert_memory_equal(c, &cfg, sizeof cfg);
    assert_int_equal(dl_ckpt_reader_tensor_count(r), 3);
    assert_int_equal(
        dl_ckpt_reader_read_tensor(r, "wte", DL_CKPT_F32, 2, (int64_t[]){40, 25}, back), DL_OK);
    assert_memory_equal(big, back, N * sizeof(float));
    const dl_ckpt_tensor *t;
    assert_int_equal(dl_ckpt_reader_find(r, "wte", &t), DL_OK);
    assert_int_equal((uintptr_t)t->data % 64, 0);
    assert_int_equal(dl_ckpt_reader_find(r, "empty", &t), DL_OK);
    assert_int_equal(t->nbytes, 0);
    float s;
    assert_int_equal(dl_ckpt_reader_read_tensor(r, "scalar", DL_CKPT_F32, 0, NULL, &s), DL_OK);
    assert_memory_equal(&s, &big[1], 4);
    uint64_t step;
    assert_int_equal(dl_ckpt_reader_get_u64(r, "step", &step), DL_OK);
    assert_true(step == UINT64_MAX);
    assert_int_equal(dl_ckpt_reader_get_rng(r, "rng", &rng_back), DL_OK);
    assert_true(dl_rng_u64(&rng) == dl_rng_u64(&rng_back));
    dl_ckpt_reader_close(r);
    free(big), free(back);
}

static void test_every_single_byte_corruption_is_detected(void **state) {
    (void)state;
    const char *good = in_dir("good.ckpt"), *bad = in_dir("bad.ckpt");
    assert_int_equal(write_small(good, 1.0f), DL_OK);
    size_t n;
    unsigned char *b = slurp(good, &n);
    assert_true(n > 100);
    const unsigned char flips[] = {0xFF, 0x01, 0x80};
    for (size_t f = 0; f < sizeof flips; f++)
        for (size_t i = 0; i < n; i++) {
            b[i] ^= flips[f];
            spit(bad, b, n);
            dl_ckpt_reader *r = NULL;
            dl_status s = dl_ckpt_reader_open(&r, bad, "mlp");
            if (s != DL_ERR_FORMAT) fail_msg("byte %zu ^ 0x%02x: status %d", i, flips[f], s);
            assert_null(r);
            b[i] ^= flips[f];
        }
    spit(bad, b, n);
    assert_true(read_first(bad) == 1.0f); /* and the intact copy still reads */
    free(b);
}

static void test_truncation_at_every_length_and_appended_bytes_are_detected(void **state) {
    (void)state;
    const char *good = in_dir("good2.ckpt"), *bad = in_dir("short.ckpt");
    assert_int_equal(write_small(good, 2.0f), DL_OK);
    size_t n;
    unsigned char *b = slurp(good, &n);
    for (size_t len = 0; len < n; len++) {
        spit(bad, b, len);
        dl_ckpt_reader *r = NULL;
        assert_int_equal(dl_ckpt_reader_open(&r, bad, NULL), DL_ERR_FORMAT);
        assert_null(r);
    }
    spit(bad, b, n - 10);
    dl_ckpt_reader *r;
    assert_int_equal(dl_ckpt_reader_open(&r, bad, NULL), DL_ERR_FORMAT);
    assert_non_null(strstr(dl_last_error(), "truncated"));
    b[n] = 0;
    spit(bad, b, n + 1);
    assert_int_equal(dl_ckpt_reader_open(&r, bad, NULL), DL_ERR_FORMAT);
    free(b);
}

static void test_a_checkpoint_of_another_model_kind_is_refused(void **state) {
    (void)state;
    const char *path = in_dir("kind.ckpt");
    assert_int_equal(write_small(path, 3.0f), DL_OK);
    dl_ckpt_reader *r;
    assert_int_equal(dl_ckpt_reader_open(&r, path, "gpt"), DL_ERR_FORMAT);
    assert_non_null(strstr(dl_last_error(), "\"mlp\" model, not \"gpt\""));
    assert_int_equal(dl_ckpt_reader_open(&r, in_dir("absent.ckpt"), NULL), DL_ERR_IO);
    spit(path, (const unsigned char *)"not a checkpoint at all, just some text here", 44);
    assert_int_equal(dl_ckpt_reader_open(&r, path, NULL), DL_ERR_FORMAT);
    assert_non_null(strstr(dl_last_error(), "magic"));
}

static void test_wrong_shape_dtype_or_name_is_refused_naming_both(void **state) {
    (void)state;
    const char *path = in_dir("shape.ckpt");
    assert_int_equal(write_small(path, 4.0f), DL_OK);
    dl_ckpt_reader *r;
    float w[6];
    uint64_t v;
    assert_int_equal(dl_ckpt_reader_open(&r, path, "mlp"), DL_OK);
    assert_int_equal(
        dl_ckpt_reader_read_tensor(r, "fc1.weight", DL_CKPT_F32, 2, (int64_t[]){3, 2}, w),
        DL_ERR_FORMAT);
    assert_non_null(strstr(dl_last_error(), "f32(2,3), the model expects f32(3,2)"));
    assert_int_equal(dl_ckpt_reader_read_tensor(r, "ids", DL_CKPT_F32, 1, (int64_t[]){2}, w),
                     DL_ERR_FORMAT);
    assert_int_equal(dl_ckpt_reader_read_tensor(r, "fc2.weight", DL_CKPT_F32, 1, (int64_t[]){2}, w),
                     DL_ERR_FORMAT);
    assert_non_null(strstr(dl_last_error(), "no tensor \"fc2.weight\""));
    assert_int_equal(dl_ckpt_reader_get_u64(r, "epoch", &v), DL_ERR_FORMAT);
    dl_ckpt_reader_close(r);
}

static void test_success_leaves_no_tmp_and_replaces_the_old_file(void **state) {
    (void)state;
    const char *path = in_dir("atomic.ckpt"), *tmp = in_dir("atomic.ckpt.tmp");
    assert_int_equal(write_small(path, 5.0f), DL_OK);
    assert_false(exists(tmp));
    assert_int_equal(write_small(path, 6.0f), DL_OK);
    assert_false(exists(tmp));
    assert_true(read_first(path) == 6.0f);
}

static void test_a_failed_write_keeps_the_old_checkpoint_and_removes_its_tmp(void **state) {
    (void)state;
    const char *path = in_dir("keep.ckpt"), *tmp = in_dir("keep.ckpt.tmp");
    assert_int_equal(write_small(path, 7.0f), DL_OK);
    /* The disk fills up midway: the .tmp is /dev/full, every write to it fails (ENOSPC). */
    if (symlink("/dev/full", tmp) == 0) {
        assert_int_equal(write_small(path, 8.0f), DL_ERR_IO);
        assert_non_null(strstr(dl_last_error(), "keep.ckpt.tmp"));
        assert_false(exists(tmp));
        assert_true(read_first(path) == 7.0f);
    }
    /* The directory is not writable (root may write anyway, so only when we are not root). */
    if (geteuid() != 0) {
        assert_int_equal(chmod(tmpdir, 0500), 0);
        assert_int_equal(write_small(path, 9.0f), DL_ERR_IO);
        assert_int_equal(chmod(tmpdir, 0700), 0);
        assert_false(exists(tmp));
        assert_true(read_first(path) == 7.0f);
    }
    /* A directory that does not exist at all. */
    assert_int_equal(write_small(in_dir("no/such/dir/x.ckpt"), 1.0f), DL_ERR_IO);
    assert_non_null(strstr(dl_last_error(), "no/such/dir/x.ckpt.tmp"));
    /* A failed add: commit writes nothing and reports the first failure. */
    dl_ckpt_writer *w;
    float x = 1;
    assert_int_equal(dl_ckpt_writer_begin(&w, path, "mlp", NULL, 0), DL_OK);
    assert_int_equal(dl_ckpt_writer_add_tensor(w, "a", DL_CKPT_F32, &x, 0, NULL), DL_OK);
    assert_int_equal(dl_ckpt_writer_add_tensor(w, "a", DL_CKPT_F32, &x, 0, NULL), DL_ERR_ARG);
    assert_int_equal(dl_ckpt_writer_commit(w), DL_ERR_ARG);
    assert_non_null(strstr(dl_last_error(), "added twice"));
    assert_true(read_first(path) == 7.0f);
}

static void test_bad_writer_arguments_are_refused(void **state) {
    (void)state;
    dl_ckpt_writer *w;
    assert_int_equal(dl_ckpt_writer_begin(&w, in_dir("x"), "", NULL, 0), DL_ERR_ARG);
    assert_null(w);
    assert_int_equal(dl_ckpt_writer_begin(&w, in_dir("x"), "mlp", NULL, 0), DL_OK);
    assert_int_equal(dl_ckpt_writer_add_tensor(w, "t", DL_CKPT_F32, NULL, 1, (int64_t[]){-1}),
                     DL_ERR_ARG);
    assert_int_equal(dl_ckpt_writer_add_tensor(w, "", DL_CKPT_F32, NULL, 0, NULL), DL_ERR_ARG);
    assert_int_equal(dl_ckpt_writer_add_tensor(w, "u", (dl_ckpt_dtype)9, NULL, 0, NULL),
                     DL_ERR_ARG);
    dl_ckpt_writer_abort(w);
    assert_false(exists(in_dir("x")));
}

static void test_crc32_is_the_standard_one(void **state) {
    (void)state;
    assert_true(dl_crc32(0, "123456789", 9) == 0xCBF43926u); /* the published check value */
    assert_true(dl_crc32(dl_crc32(0, "1234", 4), "56789", 5) == 0xCBF43926u);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_is_bit_exact_for_tensors_config_and_values),
        cmocka_unit_test(test_every_single_byte_corruption_is_detected),
        cmocka_unit_test(test_truncation_at_every_length_and_appended_bytes_are_detected),
        cmocka_unit_test(test_a_checkpoint_of_another_model_kind_is_refused),
        cmocka_unit_test(test_wrong_shape_dtype_or_name_is_refused_naming_both),
        cmocka_unit_test(test_success_leaves_no_tmp_and_replaces_the_old_file),
        cmocka_unit_test(test_a_failed_write_keeps_the_old_checkpoint_and_removes_its_tmp),
        cmocka_unit_test(test_bad_writer_arguments_are_refused),
        cmocka_unit_test(test_crc32_is_the_standard_one),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
