/* test_lesson00.c — lesson 0's training state: a resumed run is bit-identical to one that
 * never stopped (needs Fashion-MNIST; skipped where the dataset is not installed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "../lessons/00-model-stack/stack_lesson.h"
#include "dlab/dlab.h"

static void test_mlp_resume_from_checkpoint_is_bit_identical(void **state) {
    (void)state;
    dl_image_set train = {0};
    if (dl_fashion_mnist_load(&train, NULL, "train") != DL_OK) {
        print_message("Fashion-MNIST not installed: %s\n", dl_last_error());
        skip();
    }
    char dir[] = "/tmp/dlab-test-l00-XXXXXX";
    assert_non_null(mkdtemp(dir));
    assert_int_equal(mlp_resume_is_bit_identical(&train, 42, 3, dir), 1);
    assert_int_equal(mlp_resume_is_bit_identical(&train, 7, 1, dir), 1);
    rmdir(dir);
    dl_image_set_free(&train);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp_resume_from_checkpoint_is_bit_identical),
    };
    return cmocka_run_group_tests_name("lesson00", tests, NULL, NULL);
}
