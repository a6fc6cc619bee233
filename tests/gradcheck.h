/* gradcheck.h — checking a backward pass against central finite differences.
 *
 * Header-only, for tests. The caller supplies a loss: a function that runs the forward pass
 * from the current inputs and reduces its output to one number in double, usually
 * L = Σ_i w_i · out_i with fixed random weights w (so every output element matters and the
 * upstream gradient dL/dout = w is known). The backward pass, given dout = w, produces the
 * analytic gradient; gc_check compares it element by element with
 *
 *     (L(x + h·e_i) − L(x − h·e_i)) / 2h          (error O(h²) + O(ε_fp32 · |L| / h))
 *
 * The reduction is in double so the difference of two nearly equal losses keeps its digits;
 * the forward itself runs in fp32 as it always does, which is why h is fairly large (1e-2
 * for smooth ops on O(1) data) and the tolerance is about 1e-3 relative, not 1e-8.
 *
 *     double err = gc_check(x, dx, n, my_loss, &ctx, 1e-2f, NULL);
 *     assert_true(err < 2e-3);
 */
#ifndef DLAB_TESTS_GRADCHECK_H
#define DLAB_TESTS_GRADCHECK_H

#include <math.h>
#include <stddef.h>

typedef double (*gc_loss_fn)(void *ctx);

/* Worst relative error over x[0..n) between the analytic gradient and central differences.
 * Each element's error is |num − ana| / max(|num|, |ana|, floor), with floor = 1e-3 × the
 * largest |ana|, so near-zero gradients are judged against the gradient's overall scale.
 * x is perturbed in place and restored exactly. If worst_index is not NULL it receives the
 * index of the worst element. A NaN anywhere gives NaN (never a silent pass). */
static inline double gc_check(float *x, const float *grad, size_t n, gc_loss_fn loss, void *ctx,
                              float h, size_t *worst_index) {
    double scale = 0.0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)grad[i]));
    double floor_ = 1e-3 * scale + 1e-12, worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        float saved = x[i];
        x[i] = saved + h;
        double up = loss(ctx);
        x[i] = saved - h;
        double down = loss(ctx);
        x[i] = saved;
        /* The step actually taken, in float, may differ slightly from 2h. */
        double step = (double)(saved + h) - (double)(saved - h);
        double num = (up - down) / step, ana = grad[i];
        double err = fabs(num - ana) / fmax(fmax(fabs(num), fabs(ana)), floor_);
        if (isnan(err)) return NAN;
        if (err > worst) {
            worst = err;
            if (worst_index) *worst_index = i;
        }
    }
    return worst;
}

/* Σ w_i · y_i in double: the usual loss for gc_check. */
static inline double gc_weighted_sum(const float *y, const float *w, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)w[i] * (double)y[i];
    return s;
}

#endif
