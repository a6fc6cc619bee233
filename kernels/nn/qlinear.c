/* qlinear.c — the quantized linear layer of qlinear.h (lesson 4, LLM.int8()): the weight is
 * quantized once at init, x at every forward, and the product runs on the int8_gemm family.
 *
 * How each mode gets from int8 codes to the definition out = deq(q(x))·deq(q(W))ᵀ + bias:
 *   absmax      the int8_gemm epilogue with row_scale = N copies of x's scale and col_scale =
 *               OC copies of W's: out = C·(1/sx · 1/sw) + bias.
 *   vectorwise  the epilogue with x's N row scales and W's OC row scales, as it stands.
 *   zeropoint   int32 codes C from the GEMM, then the offsets, in double (zeropoint_epilogue
 *               has the algebra): the codes alone are not the product, and the correction
 *               terms cancel each other far below fp32's precision.
 *   llm_int8    vectorwise on x with its outlier columns zeroed, then out += x_O·W_Oᵀ in fp32
 *               (x_O: x's outlier columns; W_O: the same columns of the int8 weight,
 *               dequantized), through the fp32 sgemm. With no outlier this IS vectorwise.
 *   fp32        the `omp` variant of the linear family.
 *
 * Scratch (q->scratch): one block, carved per forward by forward_layout(); it only grows, and
 * growing keeps its contents (llm_int8 lists its outlier columns in it before it knows how
 * much more room it needs).
 * Leaves out: CUDA (the int8 GEMM has CUDA variants; this layer is host-only), int4, per-group
 * scales, caching x's quantization between calls, fusing the outlier gather into quantize.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dlab/core.h"
#include "dlab/int8_gemm.h"
#include "dlab/linear.h"
#include "dlab/matmul.h"
#include "dlab/qlinear.h"
#include "dlab/quant.h"

static const char *const mode_names[DL_QLINEAR_MODE_COUNT] = {"fp32", "absmax", "zeropoint",
                                                              "vectorwise", "llm_int8"};

const char *dl_qlinear_mode_name(dl_qlinear_mode mode) {
    return (unsigned)mode < DL_QLINEAR_MODE_COUNT ? mode_names[mode] : NULL;
}

int dl_qlinear_mode_parse(const char *name) {
    if (!name) return -1;
    for (int m = 0; m < DL_QLINEAR_MODE_COUNT; m++)
        if (strcmp(name, mode_names[m]) == 0) return m;
    return -1;
}

/* How x and W are quantized in each int8 mode (fp32 has none). */
static dl_quant_scheme scheme_of(dl_qlinear_mode mode) {
    switch (mode) {
    case DL_QLINEAR_ABSMAX: return DL_QUANT_ABSMAX;
    case DL_QLINEAR_ZEROPOINT: return DL_QUANT_ZEROPOINT;
    default: return DL_QUANT_ROWWISE; /* vectorwise, llm_int8: per token and per channel */
    }
}

/* ------------------------------------------------------------------------- init, free */

void dl_qlinear_free(dl_qlinear *q) {
    if (!q) return;
    dl_free(q->wq), dl_free(q->wscale), dl_free(q->wrow_sum), dl_free(q->w32);
    dl_free(q->bias), dl_free(q->scratch);
    memset(q, 0, sizeof *q);
}

static dl_status init_weights(dl_qlinear *q, const float *weight, const float *bias) {
    const int C = q->C, OC = q->OC;
    const size_t n = (size_t)OC * C;
    long nans = 0;
    for (size_t i = 0; i < n; i++)
        nans += isnan(weight[i]) ? 1 : 0;
    if (nans) return DL_FAIL(DL_ERR_ARG, "weight holds %ld NaN value(s)", nans);
    if (bias) {
        DL_TRY(dl_alloc((void **)&q->bias, (size_t)OC * sizeof(float)));
        memcpy(q->bias, bias, (size_t)OC * sizeof(float));
    }
    if (q->mode == DL_QLINEAR_FP32) {
        DL_TRY(dl_alloc((void **)&q->w32, n * sizeof(float)));
        memcpy(q->w32, weight, n * sizeof(float));
        return DL_OK;
    }
    if (C > DL_INT8_GEMM_MAX_K)
        return DL_FAIL(DL_ERR_ARG, "C=%d > %d: the int8 GEMM's int32 sums would overflow", C,
                       DL_INT8_GEMM_MAX_K);
    q->gemm = dl_int8_gemm_best(DL_DEVICE_CPU);
    if (!q->gemm) return DL_FAIL(DL_ERR_UNSUPPORTED, "no CPU int8_gemm variant");
    /* W (OC,C) is an (N = OC, K = C) tensor to quant.h: ROWWISE gives one scale per output
     * channel, the paper's vector-wise weight scale. */
    const dl_quant_scheme scheme = scheme_of(q->mode);
    const long nscale = dl_quant_scale_count(scheme, OC, C);
    DL_TRY(dl_alloc((void **)&q->wq, n));
    DL_TRY(dl_alloc((void **)&q->wscale, (size_t)nscale * sizeof(float)));
    dl_quant_args a = {.scheme = scheme,
                       .N = OC,
                       .K = C,
                       .x = weight,
                       .q = q->wq,
                       .scale = q->wscale,
                       .minimum = &q->wmin};
    DL_TRY(dl_quantize(dl_quant_best(), &a));
    if (q->mode == DL_QLINEAR_ZEROPOINT) {
        /* Σ_k of each weight row's codes, for zeropoint_epilogue; |sum| <= 128·C < 2^31. */
        DL_TRY(dl_alloc((void **)&q->wrow_sum, (size_t)OC * sizeof(int32_t)));
        for (int o = 0; o < OC; o++) {
            int32_t s = 0;
            for (int k = 0; k < C; k++)
                s += q->wq[(size_t)o * C + k];
            q->wrow_sum[o] = s;
        }
    }
    return DL_OK;
}

dl_status dl_qlinear_init(dl_qlinear *q, dl_qlinear_mode mode, const float *weight,
                          const float *bias, int C, int OC, float threshold) {
    if (!q) return DL_FAIL(DL_ERR_ARG, "q is NULL");
    memset(q, 0, sizeof *q);
    if ((unsigned)mode >= DL_QLINEAR_MODE_COUNT)
        return DL_FAIL(DL_ERR_ARG, "unknown mode %d", (int)mode);
    if (C <= 0 || OC <= 0) return DL_FAIL(DL_ERR_ARG, "C=%d, OC=%d: both must be > 0", C, OC);
    if (!weight) return DL_FAIL(DL_ERR_ARG, "weight is NULL");
    if (mode == DL_QLINEAR_LLM_INT8 && !(threshold > 0.0f))
        return DL_FAIL(DL_ERR_ARG, "threshold %g: must be > 0 (and not NaN)", (double)threshold);
    q->mode = mode, q->C = C, q->OC = OC, q->threshold = threshold;
    dl_status s = init_weights(q, weight, bias);
    if (s != DL_OK) dl_qlinear_free(q);
    return s;
}

size_t dl_qlinear_weight_bytes(const dl_qlinear *q) {
    if (!q) return 0;
    const size_t n = (size_t)q->OC * q->C;
    size_t bytes = q->bias ? (size_t)q->OC * sizeof(float) : 0;
    if (q->mode == DL_QLINEAR_FP32) return bytes + n * sizeof(float);
    bytes += n + (size_t)dl_quant_scale_count(scheme_of(q->mode), q->OC, q->C) * sizeof(float);
    if (q->wrow_sum) bytes += (size_t)q->OC * sizeof(int32_t);
    return bytes;
}

/* ------------------------------------------------------------------------- scratch */

/* The per-forward buffers; which ones a mode uses is in forward_layout. */
typedef struct buffers {
    int *cols;         /* llm_int8: the outlier columns (C) — first, so growing keeps it */
    int8_t *xq;        /* (N,C) x's codes */
    float *xscale;     /* N (rowwise) or 1 scale of x */
    float *row_scale;  /* absmax: N copies of x's scale */
    float *col_scale;  /* absmax: OC copies of W's scale */
    int32_t *acc;      /* zeropoint: (N,OC) exact Σ codes·codes */
    double *col_term;  /* zeropoint: the per-column part of the offsets (OC) */
    float *x_inliers;  /* llm_int8: (N,C) x with the outlier columns zeroed */
    float *x_outliers; /* llm_int8: (N,n_out) x's outlier columns */
    float *w_outliers; /* llm_int8: (OC,n_out) W's outlier columns, dequantized */
} buffers;

/* Bump allocation from base (NULL: only count); every piece cache-line aligned. */
static void *take(char *base, size_t *used, size_t bytes) {
    void *p = base ? base + *used : NULL;
    *used += (bytes + DL_ALIGN - 1) / DL_ALIGN * DL_ALIGN;
    return p;
}

/* Lay the buffers for a forward of N rows (and n_out outlier columns) over base; returns the
 * bytes needed. With base NULL nothing is written but the count. */
static size_t forward_layout(const dl_qlinear *q, int N, int n_out, char *base, buffers *b) {
    const size_t NC = (size_t)N * q->C, C = (size_t)q->C, OC = (size_t)q->OC;
    size_t used = 0;
    memset(b, 0, sizeof *b);
    if (q->mode == DL_QLINEAR_LLM_INT8) b->cols = take(base, &used, C * sizeof(int));
    b->xq = take(base, &used, NC);
    b->xscale = take(base, &used, (size_t)N * sizeof(float));
    switch (q->mode) {
    case DL_QLINEAR_ABSMAX:
        b->row_scale = take(base, &used, (size_t)N * sizeof(float));
        b->col_scale = take(base, &used, OC * sizeof(float));
        break;
    case DL_QLINEAR_ZEROPOINT:
        b->acc = take(base, &used, (size_t)N * OC * sizeof(int32_t));
        b->col_term = take(base, &used, OC * sizeof(double));
        break;
    case DL_QLINEAR_LLM_INT8:
        if (n_out > 0) {
            b->x_inliers = take(base, &used, NC * sizeof(float));
            b->x_outliers = take(base, &used, (size_t)N * n_out * sizeof(float));
            b->w_outliers = take(base, &used, OC * n_out * sizeof(float));
        }
        break;
    default: break;
    }
    return used;
}

/* Make q->scratch hold the layout for (N, n_out) and carve it into b. Growing copies the old
 * contents over (b->cols must survive). */
static dl_status scratch_for(dl_qlinear *q, int N, int n_out, buffers *b) {
    const size_t need = forward_layout(q, N, n_out, NULL, b);
    if (need > q->scratch_bytes) {
        void *grown = NULL;
        DL_TRY(dl_alloc(&grown, need));
        if (q->scratch) memcpy(grown, q->scratch, q->scratch_bytes);
        dl_free(q->scratch);
        q->scratch = grown, q->scratch_bytes = need;
    }
    forward_layout(q, N, n_out, q->scratch, b);
    return DL_OK;
}

/* ------------------------------------------------------------------------- the modes */

/* Quantize x (N,C) with `scheme` into b->xq, b->xscale (and *xmin for zeropoint). Rowwise
 * rows are independent, so large inputs are quantized in row blocks, one per thread. */
static dl_status quantize_x(const dl_qlinear *q, dl_quant_scheme scheme, const float *x, int N,
                            const buffers *b, float *xmin) {
    const dl_variant *v = dl_quant_best();
    const int C = q->C;
    dl_quant_args all = {
        .scheme = scheme, .N = N, .K = C, .x = x, .q = b->xq, .scale = b->xscale, .minimum = xmin};
    int blocks = 1;
#ifdef _OPENMP
    /* Below ~64K elements a second thread costs more than it saves. */
    if (scheme == DL_QUANT_ROWWISE && (long)N * C >= 65536) blocks = omp_get_max_threads();
    if (blocks > N) blocks = N;
#endif
    if (blocks <= 1) return dl_quantize(v, &all);
    int failed = 0;
#pragma omp parallel for schedule(static) reduction(| : failed) num_threads(blocks)
    for (int t = 0; t < blocks; t++) {
        const int r0 = (int)((long)N * t / blocks), r1 = (int)((long)N * (t + 1) / blocks);
        dl_quant_args part = all;
        part.N = r1 - r0, part.x = x + (size_t)r0 * C, part.q = b->xq + (size_t)r0 * C;
        part.scale = b->xscale + r0;
        failed |= dl_quantize(v, &part) != DL_OK;
    }
    /* A failure (a NaN) was recorded on a worker thread: redo it here for the message. */
    if (failed) return dl_quantize(v, &all);
    return DL_OK;
}

/* out = deq(xq)·deq(wq)ᵀ + bias through the epilogue, for x already quantized into b. */
static dl_status int8_product(const dl_qlinear *q, int N, const float *row_scale,
                              const float *col_scale, const buffers *b, float *out) {
    dl_int8_gemm_args g = {.M = N,
                           .N = q->OC,
                           .K = q->C,
                           .A = b->xq,
                           .lda = q->C,
                           .B = q->wq,
                           .ldb = q->C,
                           .out = out,
                           .ldo = q->OC,
                           .row_scale = row_scale,
                           .col_scale = col_scale,
                           .bias = q->bias};
    return dl_int8_gemm_run(q->gemm, &g);
}

static dl_status vectorwise_forward(const dl_qlinear *q, const float *x, int N, const buffers *b,
                                    float *out) {
    DL_TRY(quantize_x(q, DL_QUANT_ROWWISE, x, N, b, NULL));
    return int8_product(q, N, b->xscale, q->wscale, b, out);
}

static dl_status absmax_forward(const dl_qlinear *q, const float *x, int N, const buffers *b,
                                float *out) {
    DL_TRY(quantize_x(q, DL_QUANT_ABSMAX, x, N, b, NULL));
    for (int i = 0; i < N; i++)
        b->row_scale[i] = b->xscale[0];
    for (int o = 0; o < q->OC; o++)
        b->col_scale[o] = q->wscale[0];
    return int8_product(q, N, b->row_scale, b->col_scale, b, out);
}

/* Zero-point, per tensor. With u = q + 128 ∈ [0, 255], quant.h dequantizes x̂ = u/s + min, so
 * for row m of x (scale sa, min ma) and row n of W (scale sb, min mb), over k = 1..K:
 *
 *   Σ_k (ua/sa + ma)(ub/sb + mb)
 *     = Σ ua·ub / (sa·sb)  +  mb·Σ ua / sa  +  ma·Σ ub / sb  +  K·ma·mb
 *
 * and, in the codes the GEMM multiplies (qa = ua − 128, qb = ub − 128),
 *
 *   Σ ua·ub = Σ qa·qb + 128·(Ra + Rb) + 128²·K,   Σ ua = Ra + 128·K,   Σ ub = Rb + 128·K
 *
 * with Ra = Σ_k qa (summed per row here) and Rb = Σ_k qb (q->wrow_sum[n]). Σ qa·qb is the int32
 * GEMM (exact); the rest is int64 (exact: |Σ ua·ub| <= 255²·K < 2^33) and double. The terms can be
 * much larger than their sum (x = ReLU output: every u near one end), so they are added in
 * double and rounded to fp32 once. A scale of 0 dequantizes the whole tensor to 0 (quant.h):
 * then out = bias. */
static dl_status zeropoint_forward(const dl_qlinear *q, const float *x, int N, const buffers *b,
                                   float *out) {
    float xmin = 0.0f;
    DL_TRY(quantize_x(q, DL_QUANT_ZEROPOINT, x, N, b, &xmin));
    const int C = q->C, OC = q->OC;
    const float sa = b->xscale[0], sb = q->wscale[0];
    if (sa == 0.0f || sb == 0.0f) {
        for (long m = 0; m < N; m++)
            for (int n = 0; n < OC; n++)
                out[m * OC + n] = q->bias ? q->bias[n] : 0.0f;
        return DL_OK;
    }
    dl_int8_gemm_args g = {.M = N,
                           .N = OC,
                           .K = C,
                           .A = b->xq,
                           .lda = C,
                           .B = q->wq,
                           .ldb = C,
                           .C = b->acc,
                           .ldc = OC};
    DL_TRY(dl_int8_gemm_run(q->gemm, &g));

    const double inv_sa = 1.0 / sa, inv_sb = 1.0 / sb, ma = xmin, mb = q->wmin;
    const double K = C, inv_sab = inv_sa * inv_sb;
    for (int n = 0; n < OC; n++) /* ma·Σ ub / sb + bias */
        b->col_term[n] = ma * ((double)q->wrow_sum[n] + 128.0 * K) * inv_sb +
                         (q->bias ? (double)q->bias[n] : 0.0);
#pragma omp parallel for schedule(static) if ((long)N * OC >= 65536)
    for (int m = 0; m < N; m++) {
        const int8_t *xq = b->xq + (size_t)m * C;
        int32_t ra = 0;
        for (int k = 0; k < C; k++)
            ra += xq[k];
        const double row_term = mb * ((double)ra + 128.0 * K) * inv_sa + K * ma * mb;
        const int32_t *acc = b->acc + (size_t)m * OC;
        float *o = out + (size_t)m * OC;
        const int64_t row_codes = 128 * (int64_t)ra + 16384 * (int64_t)C;
        for (int n = 0; n < OC; n++) {
            const int64_t uu = (int64_t)acc[n] + row_codes + 128 * (int64_t)q->wrow_sum[n];
            o[n] = (float)((double)uu * inv_sab + row_term + b->col_term[n]);
        }
    }
    return DL_OK;
}

/* LLM.int8(): the vector-wise product over the inlier columns, plus the outlier columns in
 * fp32. Every NaN check happens before out is first written. */
static dl_status llm_int8_forward(dl_qlinear *q, const float *x, int N, buffers *b, float *out) {
    const int C = q->C, OC = q->OC;
    int n_out = 0;
    DL_TRY(dl_quant_outlier_columns(x, N, C, q->threshold, b->cols, &n_out));
    q->stats.outlier_cols = 0;
    if (n_out == 0) return vectorwise_forward(q, x, N, b, out);
    DL_TRY(scratch_for(q, N, n_out, b)); /* keeps b->cols */
    const int *cols = b->cols;

    /* Split x: outlier columns out (gathered), zeros in their place. */
    long nans = 0;
#pragma omp parallel for schedule(static) reduction(+ : nans) if ((long)N * C >= 65536)
    for (int m = 0; m < N; m++) {
        const float *row = x + (size_t)m * C;
        float *in = b->x_inliers + (size_t)m * C, *outl = b->x_outliers + (size_t)m * n_out;
        memcpy(in, row, (size_t)C * sizeof(float));
        for (int j = 0; j < n_out; j++) {
            outl[j] = row[cols[j]], in[cols[j]] = 0.0f;
            nans += isnan(outl[j]) ? 1 : 0;
        }
    }
    if (nans) return DL_FAIL(DL_ERR_ARG, "x holds %ld NaN value(s) (in outlier columns)", nans);
        /* W's matching columns, dequantized exactly as dl_dequantize would (q / scale, 0 → 0). */
#pragma omp parallel for schedule(static) if ((long)OC * n_out >= 65536)
    for (int o = 0; o < OC; o++) {
        const int8_t *wrow = q->wq + (size_t)o * C;
        const float s = q->wscale[o];
        float *w = b->w_outliers + (size_t)o * n_out;
        for (int j = 0; j < n_out; j++)
            w[j] = s == 0.0f ? 0.0f : (float)wrow[cols[j]] / s;
    }

    DL_TRY(vectorwise_forward(q, b->x_inliers, N, b, out));
    dl_matmul_args mm =
        dl_matmul_dense(N, OC, n_out, b->x_outliers, false, b->w_outliers, true, out, true);
    DL_TRY(dl_matmul_run(dl_matmul_best(DL_DEVICE_CPU), &mm));
    q->stats.outlier_cols = n_out;
    return DL_OK;
}

static dl_status fp32_forward(const dl_qlinear *q, const float *x, int N, float *out) {
    const dl_variant *v = dl_variant_find("linear", "omp");
    if (!v) return DL_FAIL(DL_ERR_UNSUPPORTED, "linear variant 'omp' is missing");
    dl_linear_args a = {
        .N = N, .C = q->C, .OC = q->OC, .inp = x, .weight = q->w32, .bias = q->bias, .out = out};
    return dl_linear_forward(v, &a);
}

dl_status dl_qlinear_forward(dl_qlinear *q, const float *x, int N, float *out) {
    if (!q) return DL_FAIL(DL_ERR_ARG, "q is NULL");
    if (N < 0) return DL_FAIL(DL_ERR_ARG, "N=%d < 0", N);
    if (N == 0) return DL_OK;
    if (!x || !out) return DL_FAIL(DL_ERR_ARG, "%s is NULL", x ? "out" : "x");
    if ((unsigned)q->mode >= DL_QLINEAR_MODE_COUNT || q->C <= 0 || q->OC <= 0)
        return DL_FAIL(DL_ERR_ARG, "q is not initialized (mode %d, C=%d, OC=%d)", (int)q->mode,
                       q->C, q->OC);
    if (q->mode != DL_QLINEAR_FP32 && (!q->gemm || q->gemm->device != DL_DEVICE_CPU))
        return DL_FAIL(DL_ERR_ARG, "q->gemm must be a CPU int8_gemm variant (got '%s')",
                       q->gemm && q->gemm->name ? q->gemm->name : "NULL");

    dl_status s = DL_OK;
    buffers b;
    if (q->mode == DL_QLINEAR_FP32) {
        s = fp32_forward(q, x, N, out);
    } else {
        DL_TRY(scratch_for(q, N, 0, &b));
        switch (q->mode) {
        case DL_QLINEAR_ABSMAX: s = absmax_forward(q, x, N, &b, out); break;
        case DL_QLINEAR_ZEROPOINT: s = zeropoint_forward(q, x, N, &b, out); break;
        case DL_QLINEAR_VECTORWISE: s = vectorwise_forward(q, x, N, &b, out); break;
        default: s = llm_int8_forward(q, x, N, &b, out); break;
        }
    }
    if (s != DL_OK) return s;
    q->stats.calls++;
    q->stats.outlier_cols_total += q->stats.outlier_cols;
    return DL_OK;
}
