/* maxpool_ref.c — the oracle of the "maxpool" family (the definition as loops, one output at
 * a time), its argument checks, output size and cost model. */
#include "maxpool_impl.h"

int dl_maxpool_out_h(const dl_maxpool_args *a) {
    return a->stride > 0 && a->H >= a->K ? (a->H - a->K) / a->stride + 1 : 0;
}
int dl_maxpool_out_w(const dl_maxpool_args *a) {
    return a->stride > 0 && a->W >= a->K ? (a->W - a->K) / a->stride + 1 : 0;
}

dl_status dl_maxpool_check(const dl_maxpool_args *a, bool backward) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->N < 0 || a->C < 1 || a->H < 1 || a->W < 1)
        return DL_FAIL(DL_ERR_ARG, "sizes N=%d C=%d H=%d W=%d (N >= 0, others >= 1)", a->N, a->C,
                       a->H, a->W);
    if (a->K < 1) return DL_FAIL(DL_ERR_ARG, "window K=%d must be >= 1", a->K);
    if (a->stride < 1) return DL_FAIL(DL_ERR_ARG, "stride=%d must be >= 1", a->stride);
    if (a->K > a->H || a->K > a->W)
        return DL_FAIL(DL_ERR_ARG, "window K=%d larger than the input %dx%d", a->K, a->H, a->W);
    if (a->N == 0) return DL_OK;
    if (!a->argmax) return DL_FAIL(DL_ERR_ARG, "argmax is NULL");
    if (!backward && !a->inp) return DL_FAIL(DL_ERR_ARG, "inp is NULL");
    if (!backward && !a->out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    if (backward && !a->dout) return DL_FAIL(DL_ERR_ARG, "dout is NULL");
    if (backward && !a->dinp) return DL_FAIL(DL_ERR_ARG, "dinp is NULL");
    return DL_OK;
}

dl_cost dl_maxpool_cost(const void *args) {
    const dl_maxpool_args *a = args;
    double outs = (double)a->N * a->C * dl_maxpool_out_h(a) * dl_maxpool_out_w(a);
    double ins = (double)a->N * a->C * a->H * a->W;
    return (dl_cost){.flops = outs * ((double)a->K * a->K - 1), .bytes = 4.0 * (ins + 2 * outs)};
}

dl_status dl_maxpool_ref_forward(const dl_maxpool_args *a) {
    const int OH = dl_maxpool_out_h(a), OW = dl_maxpool_out_w(a);
    for (long plane = 0; plane < (long)a->N * a->C; plane++) {
        const float *in = a->inp + plane * a->H * a->W;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                int y0 = oh * a->stride, x0 = ow * a->stride, arg = y0 * a->W + x0;
                for (int ky = 0; ky < a->K; ky++)
                    for (int kx = 0; kx < a->K; kx++) {
                        int at = (y0 + ky) * a->W + x0 + kx;
                        if (dl_maxpool_takes(in[at], in[arg])) arg = at;
                    }
                long o = (plane * OH + oh) * OW + ow;
                a->out[o] = in[arg];
                a->argmax[o] = arg;
            }
    }
    return DL_OK;
}

dl_status dl_maxpool_ref_backward(const dl_maxpool_args *a) {
    const long per_plane = (long)dl_maxpool_out_h(a) * dl_maxpool_out_w(a);
    for (long plane = 0; plane < (long)a->N * a->C; plane++)
        for (long i = 0; i < per_plane; i++)
            a->dinp[plane * a->H * a->W + a->argmax[plane * per_plane + i]] +=
                a->dout[plane * per_plane + i];
    return DL_OK;
}
