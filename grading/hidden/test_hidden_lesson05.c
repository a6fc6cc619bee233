/* test_hidden_lesson05.c — grading's own tests for lesson 5's exercise (sparse momentum's
 * redistribution of the regrowth over layers, dl_sparse_redistribute), not shipped in the
 * handout: `make grade LESSON=5` copies it into the tree it grades. Proportional splits that
 * come out exact, a layer capped by its free room (the rest re-split), all-zero shares (by
 * room), ties by largest remainder to the lower layer, more items than room, nothing to give. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dlab/sparse.h"

static void expect(const double *share, const size_t *cap, int n, size_t total, const size_t *want) {
    size_t out[8] = {0};
    dl_sparse_redistribute(share, cap, n, total, out);
    for (int i = 0; i < n; i++)
        if (out[i] != want[i]) fail_msg("total %zu: layer %d gets %zu, want %zu", total, i, out[i], want[i]);
}

static void test_redistribution_is_proportional_capped_and_exact(void **state) {
    (void)state;
    const size_t big[3] = {1000, 1000, 1000};
    expect((double[]){1, 2, 1}, big, 3, 100, (size_t[]){25, 50, 25});
    /* layer 1 has room for 10 only: it is filled, the other 90 split 1:1 */
    expect((double[]){1, 2, 1}, (size_t[]){1000, 10, 1000}, 3, 100, (size_t[]){45, 10, 45});
    /* no momentum anywhere: by free room, 1:3 */
    expect((double[]){0, 0}, (size_t[]){100, 300}, 2, 40, (size_t[]){10, 30});
    /* 10 over three equal shares: 3, 3, 3 and the one left to the lowest layer */
    expect((double[]){1, 1, 1}, big, 3, 10, (size_t[]){4, 3, 3});
    /* more to give than room: everyone full */
    expect((double[]){5, 1}, (size_t[]){7, 3}, 2, 50, (size_t[]){7, 3});
    /* nothing to give */
    expect((double[]){1, 1}, (size_t[]){5, 5}, 2, 0, (size_t[]){0, 0});
    /* a layer with no room never gets any, whatever its share */
    expect((double[]){100, 1}, (size_t[]){0, 50}, 2, 20, (size_t[]){0, 20});
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redistribution_is_proportional_capped_and_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
