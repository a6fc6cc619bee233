/* optim_schedule.c — learning-rate schedules and weight initialisation (dlab/optim.h).
 *
 * Both are tiny, but every training run depends on them, and a resumed run must land on the
 * same learning rate and the same initial weights, so both are pure functions of their
 * inputs: dl_lr_at of (schedule, step), the init functions of the RNG state.
 * Left out: warm restarts, one-cycle, ReduceLROnPlateau (it needs validation feedback) and
 * orthogonal or truncated-normal init.
 */
#include <math.h>

#include "dlab/optim.h"

/* ------------------------------------------------------------- schedules */

dl_lr_schedule dl_lr_constant(float lr) {
    return (dl_lr_schedule){.kind = DL_LR_CONSTANT, .base_lr = lr, .gamma = 1.0f};
}

dl_lr_schedule dl_lr_step(float lr, long step_size, float gamma) {
    return (dl_lr_schedule){
        .kind = DL_LR_STEP, .base_lr = lr, .step_size = step_size, .gamma = gamma};
}

dl_lr_schedule dl_lr_cosine(float lr, float min_lr, long warmup_steps, long total_steps) {
    return (dl_lr_schedule){.kind = DL_LR_COSINE,
                            .base_lr = lr,
                            .min_lr = min_lr,
                            .warmup_steps = warmup_steps,
                            .total_steps = total_steps,
                            .gamma = 1.0f};
}

dl_status dl_lr_check(const dl_lr_schedule *s) {
    if (!s) return DL_FAIL(DL_ERR_ARG, "schedule is NULL");
    if (!(isfinite(s->base_lr) && s->base_lr >= 0.0f))
        return DL_FAIL(DL_ERR_ARG, "base_lr=%g is not a finite value >= 0", s->base_lr);
    if (s->warmup_steps < 0)
        return DL_FAIL(DL_ERR_ARG, "warmup_steps=%ld is negative", s->warmup_steps);
    switch (s->kind) {
    case DL_LR_CONSTANT: return DL_OK;
    case DL_LR_STEP:
        if (s->step_size <= 0) return DL_FAIL(DL_ERR_ARG, "step_size=%ld is not > 0", s->step_size);
        if (!(s->gamma > 0.0f && s->gamma <= 1.0f))
            return DL_FAIL(DL_ERR_ARG, "gamma=%g is not in (0, 1]", s->gamma);
        return DL_OK;
    case DL_LR_COSINE:
        if (s->total_steps <= s->warmup_steps)
            return DL_FAIL(DL_ERR_ARG, "total_steps=%ld is not > warmup_steps=%ld", s->total_steps,
                           s->warmup_steps);
        if (!(s->min_lr >= 0.0f && s->min_lr <= s->base_lr))
            return DL_FAIL(DL_ERR_ARG, "min_lr=%g is not in [0, base_lr=%g]", s->min_lr,
                           s->base_lr);
        return DL_OK;
    }
    return DL_FAIL(DL_ERR_ARG, "kind=%d is not a dl_lr_kind", (int)s->kind);
}

float dl_lr_at(const dl_lr_schedule *s, long step) {
    if (!s || dl_lr_check(s) != DL_OK) return NAN;
    if (step < 0) step = 0;
    const double base = s->base_lr;
    if (step < s->warmup_steps) return (float)(base * (double)(step + 1) / (double)s->warmup_steps);
    switch (s->kind) {
    case DL_LR_CONSTANT: return (float)base;
    case DL_LR_STEP: return (float)(base * pow((double)s->gamma, (double)(step / s->step_size)));
    case DL_LR_COSINE: {
        if (step >= s->total_steps) return s->min_lr;
        double progress =
            (double)(step - s->warmup_steps) / (double)(s->total_steps - s->warmup_steps);
        double lo = s->min_lr;
        return (float)(lo + 0.5 * (base - lo) * (1.0 + cos(M_PI * progress)));
    }
    }
    return NAN;
}

/* ------------------------------------------------------------------- init */

static dl_status init_check(const char *what, const float *w, size_t n, size_t fan,
                            const dl_rng *rng) {
    if (n > 0 && !w) return dl_fail_at(DL_ERR_ARG, what, "w is NULL with n=%zu", n);
    if (!rng) return dl_fail_at(DL_ERR_ARG, what, "rng is NULL");
    if (fan == 0) return dl_fail_at(DL_ERR_ARG, what, "fan is 0");
    return DL_OK;
}

dl_status dl_init_kaiming_uniform(float *w, size_t n, size_t fan_in, dl_rng *rng) {
    DL_TRY(init_check(__func__, w, n, fan_in, rng));
    const float bound = (float)sqrt(6.0 / (double)fan_in);
    dl_rng_fill_uniform(rng, w, n, -bound, bound);
    return DL_OK;
}

dl_status dl_init_kaiming_normal(float *w, size_t n, size_t fan_in, dl_rng *rng) {
    DL_TRY(init_check(__func__, w, n, fan_in, rng));
    dl_rng_fill_normal(rng, w, n, 0.0f, (float)sqrt(2.0 / (double)fan_in));
    return DL_OK;
}

dl_status dl_init_xavier_uniform(float *w, size_t n, size_t fan_in, size_t fan_out, dl_rng *rng) {
    DL_TRY(init_check(__func__, w, n, fan_in == 0 || fan_out == 0 ? 0 : fan_in + fan_out, rng));
    const float bound = (float)sqrt(6.0 / (double)(fan_in + fan_out));
    dl_rng_fill_uniform(rng, w, n, -bound, bound);
    return DL_OK;
}
