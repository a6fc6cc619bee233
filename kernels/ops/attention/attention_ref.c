/* attention_ref.c — the oracle of the "attention" family, its argument checks, its cost model
 * and the default row softmax.
 *
 * The loops are llm.c's attention_forward/backward written for clarity: one (b, t, h) at a
 * time, every dot product and sum accumulated in double, the causal mask as a loop bound
 * (s <= t), so no masked score is ever computed. Slow on purpose (no blocking, no threads).
 */
#include <math.h>
#include <string.h>

#include "attention_impl.h"
#include "dlab/core.h"

/* ------------------------------------------------------------ the softmax */

void dl_softmax_row_safe(const float *in, float *out, int n) {
    /* pass 1: the max (a NaN is skipped here, but poisons the sum below) */
    float max = -INFINITY;
    for (int i = 0; i < n; i++)
        if (in[i] > max) max = in[i];
    /* pass 2: exponentials, each <= 1, summed in double */
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        float e = expf(in[i] - max);
        out[i] = e;
        sum += e;
    }
    /* pass 3: normalize; sum >= 1 unless the row holds NaN or +inf (then all are NaN) */
    for (int i = 0; i < n; i++)
        out[i] = (float)(out[i] / sum);
}

/* ------------------------------------------------------- checks and cost */

dl_status dl_attention_check(const dl_attention_args *a, bool backward) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->B < 0 || a->T < 0) return DL_FAIL(DL_ERR_ARG, "negative size B=%d T=%d", a->B, a->T);
    if (a->C < 1 || a->NH < 1)
        return DL_FAIL(DL_ERR_ARG, "C=%d and NH=%d must be >= 1", a->C, a->NH);
    if (a->C % a->NH != 0)
        return DL_FAIL(DL_ERR_ARG, "NH=%d heads do not divide C=%d channels", a->NH, a->C);
    if ((long)a->B * a->T == 0) return DL_OK;
    if (!a->qkv) return DL_FAIL(DL_ERR_ARG, "qkv is NULL");
    if (!backward && !a->out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    if (backward && !a->dout) return DL_FAIL(DL_ERR_ARG, "dout is NULL");
    if (backward && !a->dqkv) return DL_FAIL(DL_ERR_ARG, "dqkv is NULL");
    return DL_OK;
}

dl_cost dl_attention_cost(const void *args) {
    const dl_attention_args *a = args;
    double B = a->B, T = a->T, C = a->C, NH = a->NH, hs = NH > 0 ? C / NH : 0;
    double pairs = B * NH * T * (T + 1) / 2; /* (t, s) with s <= t */
    dl_cost c = {pairs * (4 * hs + 5), 4.0 * (B * T * 3 * C + B * T * C + B * NH * T * T)};
    return c;
}

dl_cost dl_attention_flash_cost(const void *args) {
    const dl_attention_args *a = args;
    dl_cost c = dl_attention_cost(args);
    c.bytes = 4.0 * ((double)a->B * a->T * 3 * a->C + (double)a->B * a->T * a->C +
                     (double)a->B * a->NH * a->T);
    return c;
}

double dl_attention_scores_bytes(const dl_attention_args *a) {
    if (!a || a->B < 0 || a->T < 0 || a->NH < 0) return 0.0;
    return 4.0 * a->B * a->NH * (double)a->T * a->T;
}

dl_cost dl_attention_backward_cost(const void *args) {
    const dl_attention_args *a = args;
    double B = a->B, T = a->T, C = a->C, NH = a->NH, hs = NH > 0 ? C / NH : 0;
    double pairs = B * NH * T * (T + 1) / 2;
    /* read qkv, att, dout; read and write dqkv */
    dl_cost c = {pairs * (8 * hs + 3), 4.0 * (B * T * 3 * C * 3 + B * NH * T * T + B * T * C)};
    return c;
}

/* ---------------------------------------------------------------- forward */

dl_status dl_attention_ref_forward(const dl_attention_args *a) {
    const int B = a->B, T = a->T, C = a->C, NH = a->NH, hs = C / NH;
    const long C3 = 3L * C;
    const double scale = 1.0 / sqrt((double)hs);
    dl_softmax_row_fn softmax = a->softmax ? a->softmax : dl_softmax_row_safe;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const float *q = a->qkv + ((long)b * T + t) * C3 + (long)h * hs;
                float *att = a->att + (((long)b * NH + h) * T + t) * T;
                /* scores against every earlier position (and this one) */
                for (int s = 0; s <= t; s++) {
                    const float *k = a->qkv + ((long)b * T + s) * C3 + C + (long)h * hs;
                    double dot = 0.0;
                    for (int i = 0; i < hs; i++)
                        dot += (double)q[i] * k[i];
                    att[s] = (float)(dot * scale);
                }
                if (a->preatt) {
                    float *pre = a->preatt + (((long)b * NH + h) * T + t) * T;
                    memcpy(pre, att, (size_t)(t + 1) * sizeof(float));
                    memset(pre + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
                }
                softmax(att, att, t + 1);
                memset(att + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
                /* the probability-weighted sum of the values */
                float *out = a->out + ((long)b * T + t) * C + (long)h * hs;
                for (int i = 0; i < hs; i++) {
                    double acc = 0.0;
                    for (int s = 0; s <= t; s++)
                        acc += (double)att[s] *
                               a->qkv[((long)b * T + s) * C3 + 2L * C + (long)h * hs + i];
                    out[i] = (float)acc;
                }
            }
    return DL_OK;
}

/* --------------------------------------------------------------- backward */

/* With P = att row t, dO = dout row t (head h):
 *   dP[s]   = dO · v_s                      dv_s += P[s] · dO
 *   dS[s]   = P[s] · (dP[s] − Σ_r P[r] dP[r])       (the softmax's Jacobian)
 *   dq     += scale · Σ_s dS[s] · k_s       dk_s += scale · dS[s] · q            */
dl_status dl_attention_ref_backward(const dl_attention_args *a) {
    const int B = a->B, T = a->T, C = a->C, NH = a->NH, hs = C / NH;
    const long C3 = 3L * C;
    const double scale = 1.0 / sqrt((double)hs);
    double *dp = NULL;
    DL_TRY(dl_alloc((void **)&dp, (size_t)(T > 0 ? T : 1) * sizeof(double)));
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < NH; h++) {
                const long row = (long)b * T + t;
                const float *q = a->qkv + row * C3 + (long)h * hs;
                const float *dout = a->dout + row * C + (long)h * hs;
                const float *att = a->att + (((long)b * NH + h) * T + t) * T;
                float *dq = a->dqkv + row * C3 + (long)h * hs;
                double p_dot_dp = 0.0;
                for (int s = 0; s <= t; s++) {
                    const long srow = ((long)b * T + s) * C3 + (long)h * hs;
                    const float *v = a->qkv + srow + 2L * C;
                    float *dv = a->dqkv + srow + 2L * C;
                    double acc = 0.0;
                    for (int i = 0; i < hs; i++) {
                        acc += (double)dout[i] * v[i];
                        dv[i] += (float)((double)att[s] * dout[i]);
                    }
                    dp[s] = acc;
                    p_dot_dp += att[s] * acc;
                }
                for (int s = 0; s <= t; s++) {
                    float *dk = a->dqkv + ((long)b * T + s) * C3 + C + (long)h * hs;
                    double ds = att[s] * (dp[s] - p_dot_dp) * scale;
                    for (int i = 0; i < hs; i++)
                        dk[i] += (float)(ds * q[i]);
                    dp[s] = ds; /* reuse: now the scaled score gradient */
                }
                for (int i = 0; i < hs; i++) {
                    double acc = 0.0;
                    for (int s = 0; s <= t; s++)
                        acc += dp[s] * a->qkv[((long)b * T + s) * C3 + C + (long)h * hs + i];
                    dq[i] += (float)acc;
                }
            }
    dl_free(dp);
    return DL_OK;
}
