/* conv2d_ref.c — the oracle of the "conv2d" family (direct loops over the definition), the
 * family's argument checks, output size and cost model.
 *
 * Every output element is one sum accumulated in double. The backward is written as three
 * gathers — each gradient element collects its own sum — rather than as the scatter that
 * mirrors the forward loop, so it too sums in double without a scratch buffer:
 *   dbias[co]           = Σ_{n,oh,ow} dout[n,co,oh,ow]
 *   dweight[co,ci,kh,kw] = Σ_{n,oh,ow} dout[n,co,oh,ow] · inp[n,ci,oh·s+kh−p, ow·s+kw−p]
 *   dinp[n,ci,y,x]      = Σ_{co,kh,kw} w[co,ci,kh,kw] · dout[n,co,oh,ow]
 *                          over the (oh, ow) with oh·s + kh − p = y and ow·s + kw − p = x
 * Slow on purpose: no blocking, no threads.
 */
#include "conv2d_impl.h"

int dl_conv2d_out_h(const dl_conv2d_args *a) {
    return a->stride > 0 ? (a->H + 2 * a->pad - a->KH) / a->stride + 1 : 0;
}
int dl_conv2d_out_w(const dl_conv2d_args *a) {
    return a->stride > 0 ? (a->W + 2 * a->pad - a->KW) / a->stride + 1 : 0;
}

dl_status dl_conv2d_check(const dl_conv2d_args *a, bool backward) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->N < 0 || a->C_in < 1 || a->H < 1 || a->W < 1 || a->C_out < 1)
        return DL_FAIL(DL_ERR_ARG, "sizes N=%d C_in=%d H=%d W=%d C_out=%d (N >= 0, others >= 1)",
                       a->N, a->C_in, a->H, a->W, a->C_out);
    if (a->KH < 1 || a->KW < 1)
        return DL_FAIL(DL_ERR_ARG, "kernel KH=%d KW=%d must be >= 1", a->KH, a->KW);
    if (a->stride < 1) return DL_FAIL(DL_ERR_ARG, "stride=%d must be >= 1", a->stride);
    if (a->pad < 0) return DL_FAIL(DL_ERR_ARG, "pad=%d must be >= 0", a->pad);
    if (a->KH > a->H + 2 * a->pad || a->KW > a->W + 2 * a->pad)
        return DL_FAIL(DL_ERR_ARG, "kernel KH=%d KW=%d larger than the padded input %dx%d", a->KH,
                       a->KW, a->H + 2 * a->pad, a->W + 2 * a->pad);
    if (a->N == 0) return DL_OK;
    if (!a->inp) return DL_FAIL(DL_ERR_ARG, "inp is NULL");
    if (!a->weight) return DL_FAIL(DL_ERR_ARG, "weight is NULL");
    if (!backward && !a->out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    if (backward && !a->dout) return DL_FAIL(DL_ERR_ARG, "dout is NULL");
    return DL_OK;
}

dl_cost dl_conv2d_cost(const void *args) {
    const dl_conv2d_args *a = args;
    double outs = (double)a->N * a->C_out * dl_conv2d_out_h(a) * dl_conv2d_out_w(a);
    double kvol = (double)a->C_in * a->KH * a->KW;
    double bytes = 4.0 * ((double)a->N * a->C_in * a->H * a->W + a->C_out * kvol + outs);
    return (dl_cost){.flops = 2.0 * outs * kvol, .bytes = bytes};
}

/* Index helpers: element (n, c, y, x) of an N×C×H×W tensor. */
static inline long at4(int C, int H, int W, int n, int c, int y, int x) {
    return (((long)n * C + c) * H + y) * W + x;
}

dl_status dl_conv2d_ref_forward(const dl_conv2d_args *a) {
    const int OH = dl_conv2d_out_h(a), OW = dl_conv2d_out_w(a);
    for (int n = 0; n < a->N; n++)
        for (int co = 0; co < a->C_out; co++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double acc = a->bias ? a->bias[co] : 0.0;
                    for (int ci = 0; ci < a->C_in; ci++)
                        for (int kh = 0; kh < a->KH; kh++)
                            for (int kw = 0; kw < a->KW; kw++) {
                                int y = oh * a->stride + kh - a->pad;
                                int x = ow * a->stride + kw - a->pad;
                                if (y < 0 || y >= a->H || x < 0 || x >= a->W) continue;
                                acc +=
                                    (double)a->weight[at4(a->C_in, a->KH, a->KW, co, ci, kh, kw)] *
                                    a->inp[at4(a->C_in, a->H, a->W, n, ci, y, x)];
                            }
                    a->out[at4(a->C_out, OH, OW, n, co, oh, ow)] = (float)acc;
                }
    return DL_OK;
}

dl_status dl_conv2d_ref_backward(const dl_conv2d_args *a) {
    const int OH = dl_conv2d_out_h(a), OW = dl_conv2d_out_w(a), s = a->stride, p = a->pad;
    for (int co = 0; co < a->C_out && a->dbias; co++) {
        double acc = 0.0;
        for (int n = 0; n < a->N; n++)
            for (int i = 0; i < OH * OW; i++)
                acc += a->dout[at4(a->C_out, OH, OW, n, co, 0, i)];
        a->dbias[co] += (float)acc;
    }
    for (int co = 0; co < a->C_out && a->dweight; co++)
        for (int ci = 0; ci < a->C_in; ci++)
            for (int kh = 0; kh < a->KH; kh++)
                for (int kw = 0; kw < a->KW; kw++) {
                    double acc = 0.0;
                    for (int n = 0; n < a->N; n++)
                        for (int oh = 0; oh < OH; oh++)
                            for (int ow = 0; ow < OW; ow++) {
                                int y = oh * s + kh - p, x = ow * s + kw - p;
                                if (y < 0 || y >= a->H || x < 0 || x >= a->W) continue;
                                acc += (double)a->dout[at4(a->C_out, OH, OW, n, co, oh, ow)] *
                                       a->inp[at4(a->C_in, a->H, a->W, n, ci, y, x)];
                            }
                    a->dweight[at4(a->C_in, a->KH, a->KW, co, ci, kh, kw)] += (float)acc;
                }
    for (int n = 0; n < a->N && a->dinp; n++)
        for (int ci = 0; ci < a->C_in; ci++)
            for (int y = 0; y < a->H; y++)
                for (int x = 0; x < a->W; x++) {
                    double acc = 0.0;
                    for (int co = 0; co < a->C_out; co++)
                        for (int kh = 0; kh < a->KH; kh++)
                            for (int kw = 0; kw < a->KW; kw++) {
                                int ys = y + p - kh, xs = x + p - kw; /* = oh·s, ow·s */
                                if (ys < 0 || xs < 0 || ys % s || xs % s) continue;
                                int oh = ys / s, ow = xs / s;
                                if (oh >= OH || ow >= OW) continue;
                                acc +=
                                    (double)a->weight[at4(a->C_in, a->KH, a->KW, co, ci, kh, kw)] *
                                    a->dout[at4(a->C_out, OH, OW, n, co, oh, ow)];
                            }
                    a->dinp[at4(a->C_in, a->H, a->W, n, ci, y, x)] += (float)acc;
                }
    return DL_OK;
}
