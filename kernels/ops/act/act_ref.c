/* act_ref.c — the `ref` relu and gelu: the formulas of dlab/act.h, element by element, in
 * double. The test oracle; leaves out everything about speed (see act_cpu.c). */
#include <math.h>

#include "act_impl.h"

static dl_status relu_forward(const dl_act_args *a) {
    for (size_t i = 0; i < a->n; i++)
        a->out[i] = a->inp[i] < 0.0f ? 0.0f : a->inp[i];
    return DL_OK;
}

static dl_status relu_backward(const dl_act_args *a) {
    for (size_t i = 0; i < a->n; i++)
        if (a->inp[i] > 0.0f) a->dinp[i] += a->dout[i];
    return DL_OK;
}

/* gelu(x) = ½·x·(1 + tanh u), u = k·(x + c·x³). At ±inf the formula gives inf·0 = NaN
 * for -inf, so the limits are returned instead (in double, huge finite x is fine). */
static double gelu(double x) {
    if (isinf(x)) return x > 0 ? x : 0.0;
    double u = DL_GELU_K * (x + DL_GELU_C * x * x * x);
    return 0.5 * x * (1.0 + tanh(u));
}

/* gelu'(x) = ½(1 + tanh u) + ½·x·(1 − tanh²u)·k·(1 + 3c·x²) */
static double gelu_grad(double x) {
    if (isinf(x)) return x > 0 ? 1.0 : 0.0;
    double u = DL_GELU_K * (x + DL_GELU_C * x * x * x), t = tanh(u);
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * DL_GELU_K * (1.0 + 3.0 * DL_GELU_C * x * x);
}

static dl_status gelu_forward(const dl_act_args *a) {
    for (size_t i = 0; i < a->n; i++)
        a->out[i] = (float)gelu(a->inp[i]);
    return DL_OK;
}

static dl_status gelu_backward(const dl_act_args *a) {
    for (size_t i = 0; i < a->n; i++)
        a->dinp[i] = (float)((double)a->dinp[i] + (double)a->dout[i] * gelu_grad(a->inp[i]));
    return DL_OK;
}

const dl_act_impl dl_relu_ref_impl = {relu_forward, relu_backward};
const dl_act_impl dl_gelu_ref_impl = {gelu_forward, gelu_backward};
