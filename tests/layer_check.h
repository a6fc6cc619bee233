/* layer_check.h — small helpers shared by the tests of the layer op families (linear, act,
 * softmax_xent, layernorm, embedding, residual): random buffers, comparing a variant's
 * output with ref's, and listing the CPU variants that can run here.
 *
 * Header-only, for tests that already include cmocka.h and dlab/dlab.h. Buffers come from
 * dl_alloc and are freed with dl_free. Leaves out: anything about timing (tests never time).
 */
#ifndef DLAB_TESTS_LAYER_CHECK_H
#define DLAB_TESTS_LAYER_CHECK_H

#include <math.h>
#include <string.h>

/* n floats uniform in [lo, hi) from r (n may be 0: a valid, freeable pointer). */
static inline float *lc_uniform(dl_rng *r, size_t n, float lo, float hi) {
    float *x = NULL;
    assert_int_equal(dl_alloc((void **)&x, n * sizeof(float) + 4), DL_OK);
    dl_rng_fill_uniform(r, x, n, lo, hi);
    return x;
}

static inline float *lc_copy(const float *x, size_t n) {
    float *y = NULL;
    assert_int_equal(dl_alloc((void **)&y, n * sizeof(float) + 4), DL_OK);
    if (n) memcpy(y, x, n * sizeof(float));
    return y;
}

/* Worst |got − want| / (atol + rtol·|want|) over n elements: ≤ 1 passes. Two NaNs, or two
 * equal infinities, agree (error 0); a NaN or inf on one side only is an infinite error. */
static inline double lc_worst(const float *got, const float *want, size_t n, double atol,
                              double rtol) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i], e;
        if (isnan(g) || isnan(w))
            e = isnan(g) && isnan(w) ? 0.0 : INFINITY;
        else if (isinf(g) || isinf(w))
            e = g == w ? 0.0 : INFINITY;
        else
            e = fabs(g - w) / (atol + rtol * fabs(w));
        if (e > worst) worst = e;
    }
    return worst;
}

/* Every CPU variant of `family` that can run here, into out[0..max); returns how many. */
static inline int lc_cpu_variants(const char *family, const dl_variant **out, int max) {
    int count = 0, found = 0;
    const dl_variant *const *vs = dl_variants(family, &count);
    for (int i = 0; i < count && found < max; i++)
        if (vs[i]->device == DL_DEVICE_CPU && dl_variant_available(vs[i])) out[found++] = vs[i];
    assert_true(found >= 2); /* at least ref and one fast variant */
    return found;
}

/* Assert lc_worst(...) ≤ 1, naming what was compared when it is not. */
#define LC_ASSERT_CLOSE(got, want, n, atol, rtol, ...)                                             \
    do {                                                                                           \
        double lc_w_ = lc_worst((got), (want), (n), (atol), (rtol));                               \
        if (!(lc_w_ <= 1.0)) {                                                                     \
            char lc_what_[256];                                                                    \
            snprintf(lc_what_, sizeof lc_what_, __VA_ARGS__);                                      \
            fail_msg("%s: error %.3g × the tolerance (atol %g, rtol %g)", lc_what_, lc_w_,         \
                     (double)(atol), (double)(rtol));                                              \
        }                                                                                          \
    } while (0)

#endif
