/* maxpool_cpu.c — the fast CPU max pool: variant `omp`.
 *
 * Pooling reads each input once and does a handful of comparisons per output, so it is bound
 * by memory, not arithmetic: what pays is running the (n, c) planes on all cores (each plane
 * is independent, in both passes: an argmax never leaves its plane, so threads never write the
 * same dinp element) and keeping the inner loop free of branches. The 2×2 stride-2 window the
 * CNN uses gets its own loop, whose four candidates are compared with selects the compiler
 * can vectorize; other windows use the general loop. Both follow dl_maxpool_takes, so the
 * results equal ref's bit for bit, argmax included.
 *
 * Left out: explicit SIMD intrinsics (the selects vectorize, and the pass is memory-bound).
 */
#include "dlab/core.h"
#include "maxpool_impl.h"

/* One plane, 2×2 windows, stride 2. */
static void plane_2x2(const float *in, int W, int OH, int OW, float *out, int *argmax) {
    for (int oh = 0; oh < OH; oh++) {
        const float *r0 = in + (long)(2 * oh) * W, *r1 = r0 + W;
        float *o = out + (long)oh * OW;
        int *am = argmax + (long)oh * OW;
        for (int ow = 0; ow < OW; ow++) {
            const int x = 2 * ow, base = 2 * oh * W + x;
            float best = r0[x];
            int arg = base;
            bool t = dl_maxpool_takes(r0[x + 1], best);
            best = t ? r0[x + 1] : best, arg = t ? base + 1 : arg;
            t = dl_maxpool_takes(r1[x], best);
            best = t ? r1[x] : best, arg = t ? base + W : arg;
            t = dl_maxpool_takes(r1[x + 1], best);
            best = t ? r1[x + 1] : best, arg = t ? base + W + 1 : arg;
            o[ow] = best;
            am[ow] = arg;
        }
    }
}

/* One plane, any window and stride. */
static void plane_general(const dl_maxpool_args *a, const float *in, int OH, int OW, float *out,
                          int *argmax) {
    for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
            const int y0 = oh * a->stride, x0 = ow * a->stride;
            int arg = y0 * a->W + x0;
            float best = in[arg];
            for (int ky = 0; ky < a->K; ky++) {
                const float *row = in + (long)(y0 + ky) * a->W + x0;
                for (int kx = 0; kx < a->K; kx++) {
                    bool t = dl_maxpool_takes(row[kx], best);
                    best = t ? row[kx] : best;
                    arg = t ? (y0 + ky) * a->W + x0 + kx : arg;
                }
            }
            out[(long)oh * OW + ow] = best;
            argmax[(long)oh * OW + ow] = arg;
        }
}

dl_status dl_maxpool_omp_forward(const dl_maxpool_args *a) {
    const int OH = dl_maxpool_out_h(a), OW = dl_maxpool_out_w(a);
    const long planes = (long)a->N * a->C, in_plane = (long)a->H * a->W, out_plane = (long)OH * OW;
    const bool two_by_two = a->K == 2 && a->stride == 2;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(dl_threads_get()) if (planes > 1)
#endif
    for (long p = 0; p < planes; p++) {
        if (two_by_two)
            plane_2x2(a->inp + p * in_plane, a->W, OH, OW, a->out + p * out_plane,
                      a->argmax + p * out_plane);
        else
            plane_general(a, a->inp + p * in_plane, OH, OW, a->out + p * out_plane,
                          a->argmax + p * out_plane);
    }
    return DL_OK;
}

dl_status dl_maxpool_omp_backward(const dl_maxpool_args *a) {
    const long planes = (long)a->N * a->C, in_plane = (long)a->H * a->W;
    const long out_plane = (long)dl_maxpool_out_h(a) * dl_maxpool_out_w(a);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(dl_threads_get()) if (planes > 1)
#endif
    for (long p = 0; p < planes; p++) {
        float *dinp = a->dinp + p * in_plane;
        const float *dout = a->dout + p * out_plane;
        const int *argmax = a->argmax + p * out_plane;
        for (long i = 0; i < out_plane; i++)
            dinp[argmax[i]] += dout[i];
    }
    return DL_OK;
}
