/* test_data.c — the Fashion-MNIST reader (the fortunes corpus and the batch samplers are in
 * test_data_text.c).
 *
 * Every test writes the IDX files it reads (gzip'ed with zlib) into a fresh temporary
 * directory, so it runs anywhere. One test reads the real Debian data when it is installed
 * and is skipped otherwise. */
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
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "dlab/dlab.h"
#include "tmpdir.h"

static int make_dir(void **state) {
    (void)state;
    return tmpdir_make("data");
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

static void write_gz(const char *path, const void *data, size_t n) {
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, data, (unsigned)n), (int)n);
    assert_int_equal(gzclose(f), Z_OK);
}

static void put_be32(unsigned char *p, uint32_t x) {
    p[0] = (unsigned char)(x >> 24), p[1] = (unsigned char)(x >> 16);
    p[2] = (unsigned char)(x >> 8), p[3] = (unsigned char)x;
}

/* An images file: `count` images of rows×cols whose pixel i of image k is (k·7 + i) % 256;
 * `payload` images' worth of pixels actually follow the header (to truncate or pad). */
static void write_images(const char *path, uint32_t magic, uint32_t count, uint32_t rows,
                         uint32_t cols, size_t payload_bytes) {
    size_t n = 16 + payload_bytes;
    unsigned char *b = calloc(1, n);
    put_be32(b, magic), put_be32(b + 4, count), put_be32(b + 8, rows), put_be32(b + 12, cols);
    for (size_t i = 0; i < payload_bytes; i++) {
        size_t k = i / (rows * cols), j = i % (rows * cols);
        b[16 + i] = (unsigned char)((k * 7 + j) % 256);
    }
    write_gz(path, b, n);
    free(b);
}

static void write_labels(const char *path, uint32_t magic, uint32_t count,
                         const unsigned char *labels, size_t n) {
    unsigned char *b = calloc(1, 8 + n);
    put_be32(b, magic), put_be32(b + 4, count);
    memcpy(b + 8, labels, n);
    write_gz(path, b, 8 + n);
    free(b);
}

static const unsigned char LABELS5[5] = {3, 0, 9, 1, 3};
#define IMG (28u * 28u)

static void write_valid_pair(const char *images, const char *labels) {
    write_images(images, 2051, 5, 28, 28, 5 * IMG);
    write_labels(labels, 2049, 5, LABELS5, 5);
}

/* Load, expect `want`, and expect every fragment in the message. */
static void expect_refusal(const char *images, const char *labels, dl_status want, ...) {
    dl_image_set s;
    assert_int_equal(dl_fashion_mnist_load_files(&s, images, labels), want);
    assert_null(s.pixels);
    va_list ap;
    va_start(ap, want);
    for (const char *frag; (frag = va_arg(ap, const char *));)
        if (!strstr(dl_last_error(), frag)) fail_msg("\"%s\" lacks \"%s\"", dl_last_error(), frag);
    va_end(ap);
}

/* --------------------------------------------------------------- IDX */

static void test_valid_idx_files_load_as_floats_in_0_1_with_their_labels(void **state) {
    (void)state;
    const char *im = in_dir("ok-images.gz"), *lb = in_dir("ok-labels.gz");
    write_valid_pair(im, lb);
    dl_image_set s;
    assert_int_equal(dl_fashion_mnist_load_files(&s, im, lb), DL_OK);
    assert_int_equal(s.count, 5);
    assert_int_equal(s.rows * s.cols, 784);
    for (int k = 0; k < 5; k++)
        assert_int_equal(s.labels[k], LABELS5[k]);
    for (size_t i = 0; i < 5 * IMG; i++) {
        size_t k = i / IMG, j = i % IMG;
        assert_true(s.pixels[i] == (float)((k * 7 + j) % 256) * (1.0f / 255.0f));
    }
    assert_true(s.pixels[255] == 1.0f && s.pixels[0] == 0.0f);
    int idx[2] = {4, 1}, y[2];
    float x[2 * IMG];
    dl_image_set_gather(&s, idx, 2, x, y);
    assert_int_equal(y[0], 3);
    assert_memory_equal(x + IMG, s.pixels + IMG, IMG * sizeof(float));
    dl_image_set_free(&s);
    assert_null(s.pixels);
}

static void test_wrong_magic_is_refused_naming_the_file(void **state) {
    (void)state;
    const char *im = in_dir("magic-images.gz"), *lb = in_dir("magic-labels.gz");
    write_images(im, 2052, 5, 28, 28, 5 * IMG);
    write_labels(lb, 2049, 5, LABELS5, 5);
    expect_refusal(im, lb, DL_ERR_FORMAT, im, "magic number 2052", "2051", NULL);
    write_images(im, 2049, 5, 28, 28, 5 * IMG); /* a labels magic in the images file */
    expect_refusal(im, lb, DL_ERR_FORMAT, "swapped", NULL);
}

static void test_truncated_idx_payload_is_refused_with_both_sizes(void **state) {
    (void)state;
    const char *im = in_dir("short-images.gz"), *lb = in_dir("short-labels.gz");
    write_images(im, 2051, 5, 28, 28, 4 * IMG + 100);
    write_labels(lb, 2049, 5, LABELS5, 5);
    expect_refusal(im, lb, DL_ERR_FORMAT, im, "truncated", "3920", "3236", NULL);
    write_images(im, 2051, 5, 28, 28, 5 * IMG + 1); /* one byte too many */
    expect_refusal(im, lb, DL_ERR_FORMAT, "longer than its header", NULL);
    write_labels(lb, 2049, 5, LABELS5, 3);
    write_images(im, 2051, 5, 28, 28, 5 * IMG);
    expect_refusal(im, lb, DL_ERR_FORMAT, lb, "truncated", NULL);
}

static void test_truncated_or_corrupt_gzip_stream_is_refused(void **state) {
    (void)state;
    const char *im = in_dir("gz-images.gz"), *lb = in_dir("gz-labels.gz");
    write_valid_pair(im, lb);
    FILE *f = fopen(im, "rb");
    unsigned char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_true(n > 100 && n < sizeof buf);
    f = fopen(im, "wb"); /* cut the compressed stream in half */
    fwrite(buf, 1, n / 2, f);
    fclose(f);
    expect_refusal(im, lb, DL_ERR_FORMAT, im, NULL);
    buf[n - 6] ^= 0x55; /* the whole stream, but a wrong CRC in the gzip trailer */
    f = fopen(im, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    expect_refusal(im, lb, DL_ERR_FORMAT, im, "corrupt gzip", NULL);
}

static void test_count_mismatch_and_label_10_and_wrong_size_are_refused(void **state) {
    (void)state;
    const char *im = in_dir("bad-images.gz"), *lb = in_dir("bad-labels.gz");
    write_images(im, 2051, 5, 28, 28, 5 * IMG);
    write_labels(lb, 2049, 4, LABELS5, 4);
    expect_refusal(im, lb, DL_ERR_FORMAT, "5 images", "4 labels", NULL);
    const unsigned char with10[5] = {1, 2, 10, 3, 4};
    write_labels(lb, 2049, 5, with10, 5);
    expect_refusal(im, lb, DL_ERR_FORMAT, lb, "label 10 at index 2", NULL);
    write_images(im, 2051, 5, 27, 28, 5 * 27 * 28);
    write_labels(lb, 2049, 5, LABELS5, 5);
    expect_refusal(im, lb, DL_ERR_FORMAT, "27×28", NULL);
    write_images(im, 2051, 0, 28, 28, 0);
    expect_refusal(im, lb, DL_ERR_FORMAT, "count 0", NULL);
}

static void test_missing_dataset_names_the_debian_package_and_how_to_install_it(void **state) {
    (void)state;
    dl_image_set s;
    assert_int_equal(dl_fashion_mnist_load(&s, in_dir("nowhere"), "train"), DL_ERR_IO);
    assert_non_null(strstr(dl_last_error(), "nowhere/train-images-idx3-ubyte.gz"));
    assert_non_null(strstr(dl_last_error(), "dataset-fashion-mnist"));
    assert_non_null(strstr(dl_last_error(), "sudo apt-get install dataset-fashion-mnist"));
    assert_non_null(strstr(dl_last_error(), "scripts/setup"));
    assert_int_equal(dl_fashion_mnist_load(&s, tmpdir, "validation"), DL_ERR_ARG);
}

static void test_directory_comes_from_the_argument_then_the_environment(void **state) {
    (void)state;
    write_valid_pair(in_dir("t10k-images-idx3-ubyte.gz"), in_dir("t10k-labels-idx1-ubyte.gz"));
    unsetenv("DLAB_FASHION_MNIST_DIR");
    assert_string_equal(dl_fashion_mnist_dir(NULL), DL_FASHION_MNIST_DIR);
    setenv("DLAB_FASHION_MNIST_DIR", tmpdir, 1);
    assert_string_equal(dl_fashion_mnist_dir(NULL), tmpdir);
    assert_string_equal(dl_fashion_mnist_dir("/x"), "/x");
    dl_image_set s;
    assert_int_equal(dl_fashion_mnist_load(&s, NULL, "test"), DL_OK);
    assert_int_equal(s.count, 5);
    double mean, std;
    dl_image_set_stats(&s, &mean, &std);
    assert_int_equal(dl_image_set_normalize(&s, mean, std), DL_OK);
    dl_image_set_stats(&s, &mean, &std);
    assert_true(fabs(mean) < 1e-6 && fabs(std - 1) < 1e-5);
    assert_int_equal(dl_image_set_normalize(&s, 0, 0), DL_ERR_ARG);
    dl_image_set_free(&s);
    unsetenv("DLAB_FASHION_MNIST_DIR");
}

static void test_real_fashion_mnist_train_set_has_6000_images_of_each_class(void **state) {
    (void)state;
    if (access(DL_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) skip();
    dl_image_set s;
    assert_int_equal(dl_fashion_mnist_load(&s, DL_FASHION_MNIST_DIR, "train"), DL_OK);
    assert_int_equal(s.count, 60000);
    assert_int_equal(s.rows * s.cols, 784);
    int per_class[10] = {0};
    for (int i = 0; i < s.count; i++) {
        assert_in_range(s.labels[i], 0, 9);
        per_class[s.labels[i]]++;
    }
    for (int c = 0; c < 10; c++)
        assert_int_equal(per_class[c], 6000);
    double mean, std;
    dl_image_set_stats(&s, &mean, &std);
    assert_true(fabs(mean - 0.286) < 0.01 && fabs(std - 0.353) < 0.01); /* published values */
    dl_image_set_free(&s);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_idx_files_load_as_floats_in_0_1_with_their_labels),
        cmocka_unit_test(test_wrong_magic_is_refused_naming_the_file),
        cmocka_unit_test(test_truncated_idx_payload_is_refused_with_both_sizes),
        cmocka_unit_test(test_truncated_or_corrupt_gzip_stream_is_refused),
        cmocka_unit_test(test_count_mismatch_and_label_10_and_wrong_size_are_refused),
        cmocka_unit_test(test_missing_dataset_names_the_debian_package_and_how_to_install_it),
        cmocka_unit_test(test_directory_comes_from_the_argument_then_the_environment),
        cmocka_unit_test(test_real_fashion_mnist_train_set_has_6000_images_of_each_class),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
