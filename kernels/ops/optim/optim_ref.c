/* optim_ref.c — the oracle of the "optim" family, its argument checks and its costs.
 *
 * `ref` is one loop over the parameters on the calling thread, doing the update exactly as
 * dlab/optim.h writes it (the loop body lives in optim_impl.h so the fast variants share
 * the order of operations). Nothing is accumulated, so there is no double here: an
 * elementwise update has no reduction whose order could matter.
 */
#include <math.h>

#include "dlab/optim.h"
#include "optim_impl.h"

static bool finite_nonneg(float x) { return isfinite(x) && x >= 0.0f; }
static bool unit_interval(float x) { return isfinite(x) && x >= 0.0f && x < 1.0f; }

dl_status dl_sgd_check(const dl_sgd_args *a) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->n > 0 && !a->param) return DL_FAIL(DL_ERR_ARG, "param is NULL with n=%zu", a->n);
    if (a->n > 0 && !a->grad) return DL_FAIL(DL_ERR_ARG, "grad is NULL with n=%zu", a->n);
    if (!finite_nonneg(a->lr))
        return DL_FAIL(DL_ERR_ARG, "lr=%g is not a finite value >= 0", a->lr);
    if (!unit_interval(a->momentum))
        return DL_FAIL(DL_ERR_ARG, "momentum=%g is not in [0, 1)", a->momentum);
    if (!finite_nonneg(a->weight_decay))
        return DL_FAIL(DL_ERR_ARG, "weight_decay=%g is not a finite value >= 0", a->weight_decay);
    if (a->nesterov && a->momentum == 0.0f)
        return DL_FAIL(DL_ERR_ARG, "nesterov needs momentum > 0");
    if (a->momentum > 0.0f && a->n > 0 && !a->momentum_buf)
        return DL_FAIL(DL_ERR_ARG, "momentum_buf is NULL with momentum=%g", a->momentum);
    if (a->n > 0 && (const float *)a->param == a->grad)
        return DL_FAIL(DL_ERR_ARG, "param and grad are the same buffer");
    return DL_OK;
}

dl_status dl_adamw_check(const dl_adamw_args *a) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->n > 0 && !a->param) return DL_FAIL(DL_ERR_ARG, "param is NULL with n=%zu", a->n);
    if (a->n > 0 && !a->grad) return DL_FAIL(DL_ERR_ARG, "grad is NULL with n=%zu", a->n);
    if (a->n > 0 && !a->m) return DL_FAIL(DL_ERR_ARG, "m is NULL with n=%zu", a->n);
    if (a->n > 0 && !a->v) return DL_FAIL(DL_ERR_ARG, "v is NULL with n=%zu", a->n);
    if (!finite_nonneg(a->lr))
        return DL_FAIL(DL_ERR_ARG, "lr=%g is not a finite value >= 0", a->lr);
    if (!unit_interval(a->beta1)) return DL_FAIL(DL_ERR_ARG, "beta1=%g is not in [0, 1)", a->beta1);
    if (!unit_interval(a->beta2)) return DL_FAIL(DL_ERR_ARG, "beta2=%g is not in [0, 1)", a->beta2);
    if (!(isfinite(a->eps) && a->eps > 0.0f))
        return DL_FAIL(DL_ERR_ARG, "eps=%g is not a finite value > 0", a->eps);
    if (!finite_nonneg(a->weight_decay))
        return DL_FAIL(DL_ERR_ARG, "weight_decay=%g is not a finite value >= 0", a->weight_decay);
    if ((double)a->lr * (double)a->weight_decay > 1.0)
        return DL_FAIL(DL_ERR_ARG, "lr·weight_decay=%g > 1 would flip the weights' sign",
                       (double)a->lr * (double)a->weight_decay);
    if (a->step < 1) return DL_FAIL(DL_ERR_ARG, "step=%ld: the first step is 1", a->step);
    if (a->n > 0 && (const float *)a->param == a->grad)
        return DL_FAIL(DL_ERR_ARG, "param and grad are the same buffer");
    return DL_OK;
}

dl_cost dl_sgd_cost(const void *args) {
    const dl_sgd_args *a = args;
    double n = (double)a->n;
    return (dl_cost){.flops = 6.0 * n, .bytes = (a->momentum > 0.0f ? 20.0 : 12.0) * n};
}

dl_cost dl_adamw_cost(const void *args) {
    const dl_adamw_args *a = args;
    double n = (double)a->n;
    return (dl_cost){.flops = 14.0 * n, .bytes = 28.0 * n};
}

dl_status dl_optim_sgd_ref(const dl_sgd_args *a) {
    dl_sgd_scalar(a, 0, a->n);
    return DL_OK;
}

dl_status dl_optim_adamw_ref(const dl_adamw_args *a) {
    dl_adamw_consts c = dl_adamw_consts_of(a);
    dl_adamw_scalar(a, &c, 0, a->n);
    return DL_OK;
}
