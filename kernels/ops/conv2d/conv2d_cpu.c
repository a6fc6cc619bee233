/* conv2d_cpu.c — convolution lowered to matmul: variants `im2col` and `im2col_ref`.
 *
 * One image gives a thin product (Cout × Cin·KH·KW times that by OH·OW: for the CNN's first
 * layer 16×25 by 25×784), too small to keep a fast matmul busy. So a GROUP of g images is
 * lowered at once, side by side in one wide matrix cols (K × g·P, K = Cin·KH·KW, P = OH·OW),
 * and the group takes one matmul per pass:
 *
 *   forward     tmp  (Cout × gP)  = W (Cout × K) · cols                then out[n] = tmp[:, n] + b
 *   backward    dtmp (Cout × gP)  ← dout of the g images, side by side
 *               dW  (Cout × K)   += dtmp · colsᵀ                     (the sum over n and p is
 *                                                                      the product's K loop)
 *               dcols (K × gP)    = Wᵀ · dtmp                        then col2im per image
 *
 * g is chosen so that cols stays near 4 MiB: big enough for the matmul, small enough to stay
 * in the last-level cache, and a bounded scratch whatever N is. The columns are recomputed in
 * the backward instead of being kept from the forward (cheap next to the products, and no
 * state between the two calls). im2col, col2im and the gathers run OpenMP over the images of
 * a group (each writes only its own image); the matmuls parallelize themselves.
 *
 * Left out: Winograd and FFT convolutions, direct SIMD kernels for tiny channel counts.
 */
#include <string.h>

#include "conv2d_impl.h"
#include "dlab/core.h"
#include "dlab/matmul.h"

enum { COLS_BUDGET_FLOATS = 1 << 20 }; /* 4 MiB of columns per group */

typedef struct lowering {
    const dl_conv2d_args *a;
    dl_patch_shape shape;
    int P, K, group;      /* OH·OW, Cin·KH·KW, images per group */
    const dl_variant *mm; /* the matmul */
    int threads;          /* for the copies */
    float *cols, *tmp;    /* K × group·P and Cout × group·P */
} lowering;

static dl_status lowering_setup(lowering *L, const dl_conv2d_args *a, const dl_variant *mm,
                                int threads) {
    memset(L, 0, sizeof *L);
    L->a = a;
    L->shape = (dl_patch_shape){a->C_in, a->H, a->W, a->KH, a->KW, a->stride, a->pad};
    L->P = dl_conv2d_out_h(a) * dl_conv2d_out_w(a);
    L->K = a->C_in * a->KH * a->KW;
    long per_image = (long)L->K * L->P;
    L->group = per_image >= COLS_BUDGET_FLOATS ? 1 : (int)(COLS_BUDGET_FLOATS / per_image);
    if (L->group > a->N) L->group = a->N;
    L->mm = mm;
    L->threads = threads;
    if (!mm) return DL_FAIL(DL_ERR_UNSUPPORTED, "no matmul variant available");
    long wide = (long)L->group * L->P;
    DL_TRY(dl_alloc((void **)&L->cols, (size_t)(L->K * wide) * sizeof(float)));
    dl_status st = dl_alloc((void **)&L->tmp, (size_t)(a->C_out * wide) * sizeof(float));
    if (st != DL_OK) dl_free(L->cols);
    return st;
}

static void lowering_free(lowering *L) {
    dl_free(L->cols);
    dl_free(L->tmp);
}

/* cols[:, i·P : (i+1)·P] = im2col(image n0 + i), for the g images of the group at n0. */
static void lower_group(const lowering *L, int n0, int g) {
    const long image = (long)L->a->C_in * L->a->H * L->a->W;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(L->threads) if (g > 1)
#endif
    for (int i = 0; i < g; i++)
        (void)dl_im2col(&L->shape, L->a->inp + (n0 + i) * image, L->cols + (long)i * L->P,
                        (long)g * L->P); /* cannot fail: the shape was checked */
}

/* Copy between the (g images × Cout × P) block of an NCHW tensor and Cout × gP, side by side. */
static void regroup(const lowering *L, int g, float *nchw, float *wide, bool to_wide) {
    const int P = L->P, Cout = L->a->C_out;
#ifdef _OPENMP
#pragma omp parallel for collapse(2) schedule(static) num_threads(L->threads)
#endif
    for (int i = 0; i < g; i++)
        for (int co = 0; co < Cout; co++) {
            float *img = nchw + ((long)i * Cout + co) * P, *w = wide + ((long)co * g + i) * P;
            memcpy(to_wide ? w : img, to_wide ? img : w, (size_t)P * sizeof(float));
        }
}

static dl_status lowered_forward(const dl_conv2d_args *a, const dl_variant *mm, int threads) {
    if (a->N == 0) return DL_OK;
    lowering L;
    DL_TRY(lowering_setup(&L, a, mm, threads));
    dl_status st = DL_OK;
    const long out_image = (long)a->C_out * L.P;
    for (int n0 = 0; n0 < a->N && st == DL_OK; n0 += L.group) {
        const int g = a->N - n0 < L.group ? a->N - n0 : L.group;
        lower_group(&L, n0, g);
        dl_matmul_args m =
            dl_matmul_dense(a->C_out, g * L.P, L.K, a->weight, false, L.cols, false, L.tmp, false);
        st = dl_matmul_run(mm, &m);
        regroup(&L, g, a->out + n0 * out_image, L.tmp, false);
        if (a->bias) {
#ifdef _OPENMP
#pragma omp parallel for collapse(2) schedule(static) num_threads(L.threads)
#endif
            for (int i = 0; i < g; i++)
                for (int co = 0; co < a->C_out; co++) {
                    float *o = a->out + (n0 + i) * out_image + (long)co * L.P;
                    for (int p = 0; p < L.P; p++)
                        o[p] += a->bias[co];
                }
        }
    }
    lowering_free(&L);
    return st;
}

/* Σ x[0..n) in double, in 8 independent lanes: a sum over N·P terms keeps its digits, and
 * the lanes let the compiler vectorize it without reassociating anything. */
static float row_sum(const float *x, long n) {
    double lane[8] = {0}, sum = 0.0;
    long i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            lane[j] += x[i + j];
    for (; i < n; i++)
        sum += x[i];
    for (int j = 0; j < 8; j++)
        sum += lane[j];
    return (float)sum;
}

static dl_status lowered_backward(const dl_conv2d_args *a, const dl_variant *mm, int threads) {
    if (a->N == 0 || (!a->dinp && !a->dweight && !a->dbias)) return DL_OK;
    lowering L;
    DL_TRY(lowering_setup(&L, a, mm, threads));
    dl_status st = DL_OK;
    const long out_image = (long)a->C_out * L.P, in_image = (long)a->C_in * a->H * a->W;
    for (int n0 = 0; n0 < a->N && st == DL_OK; n0 += L.group) {
        const int g = a->N - n0 < L.group ? a->N - n0 : L.group;
        const long wide = (long)g * L.P;
        regroup(&L, g, (float *)a->dout + n0 * out_image, L.tmp, true);
        if (a->dbias) {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(L.threads)
#endif
            for (int co = 0; co < a->C_out; co++)
                a->dbias[co] += row_sum(L.tmp + co * wide, wide);
        }
        if (a->dweight) {
            lower_group(&L, n0, g);
            dl_matmul_args m = dl_matmul_dense(a->C_out, L.K, (int)wide, L.tmp, false, L.cols, true,
                                               a->dweight, true);
            st = dl_matmul_run(mm, &m);
        }
        if (a->dinp && st == DL_OK) {
            dl_matmul_args m = dl_matmul_dense(L.K, (int)wide, a->C_out, a->weight, true, L.tmp,
                                               false, L.cols, false);
            st = dl_matmul_run(mm, &m);
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(L.threads) if (g > 1)
#endif
            for (int i = 0; i < g; i++)
                (void)dl_col2im(&L.shape, L.cols + (long)i * L.P, wide,
                                a->dinp + (n0 + i) * in_image);
        }
    }
    lowering_free(&L);
    return st;
}

dl_status dl_conv2d_im2col_forward(const dl_conv2d_args *a) {
    return lowered_forward(a, dl_matmul_best(DL_DEVICE_CPU), dl_threads_get());
}
dl_status dl_conv2d_im2col_backward(const dl_conv2d_args *a) {
    return lowered_backward(a, dl_matmul_best(DL_DEVICE_CPU), dl_threads_get());
}
dl_status dl_conv2d_im2col_ref_forward(const dl_conv2d_args *a) {
    return lowered_forward(a, dl_variant_find("matmul", "ref"), 1);
}
dl_status dl_conv2d_im2col_ref_backward(const dl_conv2d_args *a) {
    return lowered_backward(a, dl_variant_find("matmul", "ref"), 1);
}
