/* optim_clip.c — global-norm gradient clipping (see dl_clip_grad_norm in dlab/optim.h).
 *
 * The norm is accumulated in double: a sum of up to millions of squares in fp32 would lose
 * digits (and overflow above ~1.8e19 per element), while double holds the square of any
 * finite float and a sum of 10^9 of them. Eight independent accumulators per buffer, joined
 * in a fixed order, keep the result the same every run and let the adds pipeline.
 * The CUDA twin (device pointers) is optim_clip.cu; dl_clip_grad_norm_on picks by device.
 * Left out: per-parameter or per-layer clipping, clipping by value, and a parallel norm
 * (one pass over the gradients is small next to the step that produced them).
 */
#include <math.h>

#include "dlab/optim.h"

static double sum_of_squares(const float *x, size_t n) {
    double lane[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            lane[j] += (double)x[i + j] * (double)x[i + j];
    for (int j = 0; i < n; i++, j++)
        lane[j] += (double)x[i] * (double)x[i];
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
           ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/* `where` names the public function in messages ("dl_clip_grad_norm: max_norm=0 is not > 0"). */
static dl_status check_args(const dl_grad_span *bufs, int count, double max_norm,
                            const double *norm_out, const char *where) {
    if (!norm_out) return dl_fail_at(DL_ERR_ARG, where, "norm_out is NULL");
    if (count < 0) return dl_fail_at(DL_ERR_ARG, where, "count=%d is negative", count);
    if (count > 0 && !bufs)
        return dl_fail_at(DL_ERR_ARG, where, "bufs is NULL with count=%d", count);
    if (!(max_norm > 0.0)) return dl_fail_at(DL_ERR_ARG, where, "max_norm=%g is not > 0", max_norm);
    for (int b = 0; b < count; b++)
        if (bufs[b].n > 0 && !bufs[b].ptr)
            return dl_fail_at(DL_ERR_ARG, where, "bufs[%d].ptr is NULL with n=%zu", b, bufs[b].n);
    return DL_OK;
}

dl_status dl_clip_grad_norm_check(const dl_grad_span *bufs, int count, double max_norm,
                                  const double *norm_out) {
    return check_args(bufs, count, max_norm, norm_out, __func__);
}

dl_status dl_clip_grad_norm(const dl_grad_span *bufs, int count, double max_norm,
                            double *norm_out) {
    if (norm_out) *norm_out = NAN;
    DL_TRY(check_args(bufs, count, max_norm, norm_out, __func__));

    double total = 0.0;
    for (int b = 0; b < count; b++)
        total += sum_of_squares(bufs[b].ptr, bufs[b].n);
    const double norm = sqrt(total);
    *norm_out = norm;

    if (!isfinite(norm)) {
        /* Name the first culprit so the report points at a layer, then leave everything as
         * it is: scaling by max_norm/inf would silently zero the step, by NaN poison it. */
        for (int b = 0; b < count; b++)
            for (size_t i = 0; i < bufs[b].n; i++)
                if (!isfinite(bufs[b].ptr[i]))
                    return DL_FAIL(DL_ERR_ARG, "gradient norm is %g: bufs[%d][%zu] = %g", norm, b,
                                   i, (double)bufs[b].ptr[i]);
        return DL_FAIL(DL_ERR_ARG, "gradient norm is %g", norm);
    }
    if (norm > max_norm) {
        /* max_norm / norm exactly (no +1e-6 as in PyTorch), so the clipped norm IS max_norm
         * up to the rounding of the products. */
        const float scale = (float)(max_norm / norm);
        for (int b = 0; b < count; b++)
            for (size_t i = 0; i < bufs[b].n; i++)
                bufs[b].ptr[i] *= scale;
    }
    return DL_OK;
}

dl_status dl_clip_grad_norm_on(dl_device device, const dl_grad_span *bufs, int count,
                               double max_norm, double *norm_out) {
    switch (device) {
    case DL_DEVICE_CPU: return dl_clip_grad_norm(bufs, count, max_norm, norm_out);
    case DL_DEVICE_CUDA: return dl_clip_grad_norm_cuda(bufs, count, max_norm, norm_out);
    }
    if (norm_out) *norm_out = NAN;
    return DL_FAIL(DL_ERR_ARG, "device %d is neither the CPU nor CUDA", (int)device);
}

#ifndef DL_HAVE_CUDA
dl_status dl_clip_grad_norm_cuda(const dl_grad_span *bufs, int count, double max_norm,
                                 double *norm_out) {
    (void)bufs, (void)count, (void)max_norm;
    if (norm_out) *norm_out = NAN;
    return DL_FAIL(DL_ERR_DEVICE, "this build has no CUDA (nvcc was not found at build time)");
}
#endif
