/* test_hidden_lesson02.c — grading's own tests for lesson 2's exercise (the online softmax
 * step, used by the `online` and `online_avx2` variants), not shipped in the handout:
 * `make grade LESSON=2` copies it into the tree it grades. Rows whose max grows at every
 * element (a rescale each step), a max at the very end, −inf entries, one element, huge
 * logits, an all −inf row (undefined: NaN). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "dlab/dlab.h"

enum { V = 1000 };

static void check_row(const float *x, int n, const char *what) {
    static const char *const NAMES[] = {"online", "online_avx2"};
    float want[V], got[V];
    dl_softmax_args r = {.N = 1, .V = n, .inp = x, .out = want};
    assert_int_equal(dl_softmax_forward(dl_variant_find("softmax", "ref"), &r), DL_OK);
    for (int k = 0; k < 2; k++) {
        const dl_variant *v = dl_variant_find("softmax", NAMES[k]);
        if (!v || !dl_variant_available(v)) continue;
        dl_softmax_args a = {.N = 1, .V = n, .inp = x, .out = got};
        if (dl_softmax_forward(v, &a) != DL_OK) fail_msg("%s on %s: %s", NAMES[k], what, dl_last_error());
        for (int j = 0; j < n; j++) {
            if (isnan(want[j])) {
                if (!isnan(got[j])) fail_msg("%s on %s: out[%d] = %g, want NaN", NAMES[k], what, j, got[j]);
                continue;
            }
            if (!(fabsf(got[j] - want[j]) <= 1e-5f * want[j] + 1e-30f))
                fail_msg("%s on %s: out[%d] = %.9g, want %.9g", NAMES[k], what, j, got[j], want[j]);
        }
    }
}

static void test_rows_that_make_the_running_max_move(void **state) {
    (void)state;
    float x[V];
    for (int j = 0; j < V; j++) x[j] = (float)j * 0.05f;
    check_row(x, V, "an increasing row");
    for (int j = 0; j < V; j++) x[j] = (float)(V - j) * 0.05f;
    check_row(x, V, "a decreasing row");
    for (int j = 0; j < V; j++) x[j] = (j % 7) * 0.3f;
    x[V - 1] = 40.0f;
    check_row(x, V, "the max at the end");
}

static void test_special_rows(void **state) {
    (void)state;
    float x[V];
    for (int j = 0; j < V; j++) x[j] = (j % 3 == 0) ? -INFINITY : (float)(j % 11);
    check_row(x, V, "a row with -inf entries");
    x[0] = 3.0f;
    check_row(x, 1, "one element");
    for (int j = 0; j < V; j++) x[j] = 1e4f + (float)(j % 5);
    check_row(x, V, "logits near 1e4");
    for (int j = 0; j < V; j++) x[j] = -INFINITY;
    check_row(x, V, "an all -inf row");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_that_make_the_running_max_move),
        cmocka_unit_test(test_special_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
