/* im2col.c — strided patch extraction (im2col) and its adjoint (col2im), for one image.
 *
 * The loops run over the rows of cols — one (c, kh, kw) each — and, inside a row, over output
 * rows oh. For a fixed (kh, kw, oh) the input pixels read form one strided run of the input
 * row y = oh·stride + kh − pad, and only the ow in [ow_lo, ow_hi) land inside the image;
 * the rest are padding. Computing that range once per run keeps every bounds test out of the
 * inner loop, which for stride 1 is a plain vectorized copy.
 *
 * Left out: dilation; batching several images per call (callers place images side by side
 * through ld_cols instead).
 */
#include "conv2d_impl.h"

static dl_status check_patches(const dl_patch_shape *p, const void *a, const void *b, long ld) {
    if (!p || !a || !b) return DL_FAIL(DL_ERR_ARG, "a shape or tensor is NULL");
    if (p->C < 1 || p->H < 1 || p->W < 1 || p->KH < 1 || p->KW < 1 || p->stride < 1 || p->pad < 0)
        return DL_FAIL(DL_ERR_ARG, "bad patch shape C=%d H=%d W=%d KH=%d KW=%d stride=%d pad=%d",
                       p->C, p->H, p->W, p->KH, p->KW, p->stride, p->pad);
    if (p->KH > p->H + 2 * p->pad || p->KW > p->W + 2 * p->pad)
        return DL_FAIL(DL_ERR_ARG, "kernel %dx%d larger than the padded input %dx%d", p->KH, p->KW,
                       p->H + 2 * p->pad, p->W + 2 * p->pad);
    long OW = (p->W + 2 * p->pad - p->KW) / p->stride + 1;
    long OH = (p->H + 2 * p->pad - p->KH) / p->stride + 1;
    if (ld < OH * OW) return DL_FAIL(DL_ERR_ARG, "ld_cols=%ld < OH*OW=%ld", ld, OH * OW);
    return DL_OK;
}

/* The ow whose input column x = ow·stride + kw − pad lies in [0, W): [*lo, *hi). */
static void inside_range(const dl_patch_shape *p, int kw, int OW, int *lo, int *hi) {
    int first = p->pad - kw; /* x >= 0  <=>  ow·stride >= pad − kw */
    *lo = first > 0 ? (first + p->stride - 1) / p->stride : 0;
    int last = p->W - 1 + p->pad - kw; /* x <= W−1  <=>  ow·stride <= W − 1 + pad − kw */
    *hi = last < 0 ? 0 : last / p->stride + 1;
    if (*hi > OW) *hi = OW;
    if (*lo > *hi) *lo = *hi;
}

/* The runs are short (OW floats: 28 or 14 in the CNN), so a memset/memcpy call per run costs
 * more than the copy; NO_LIBCALLS keeps GCC from turning these loops back into such calls. */
#define NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))

NO_LIBCALLS dl_status dl_im2col(const dl_patch_shape *p, const float *img, float *cols,
                                long ld_cols) {
    DL_TRY(check_patches(p, img, cols, ld_cols));
    const int OH = (p->H + 2 * p->pad - p->KH) / p->stride + 1;
    const int OW = (p->W + 2 * p->pad - p->KW) / p->stride + 1, s = p->stride;
    for (int c = 0; c < p->C; c++)
        for (int kh = 0; kh < p->KH; kh++)
            for (int kw = 0; kw < p->KW; kw++) {
                float *row = cols + ((long)(c * p->KH + kh) * p->KW + kw) * ld_cols;
                int lo, hi;
                inside_range(p, kw, OW, &lo, &hi);
                for (int oh = 0; oh < OH; oh++) {
                    float *restrict dst = row + (long)oh * OW;
                    int y = oh * s + kh - p->pad;
                    if (y < 0 || y >= p->H) {
                        for (int ow = 0; ow < OW; ow++)
                            dst[ow] = 0.0f;
                        continue;
                    }
                    const float *restrict src = img + ((long)c * p->H + y) * p->W;
                    const int x0 = kw - p->pad; /* input column of ow = 0 */
                    for (int ow = 0; ow < lo; ow++)
                        dst[ow] = 0.0f;
                    if (s == 1)
                        for (int ow = lo; ow < hi; ow++)
                            dst[ow] = src[ow + x0];
                    else
                        for (int ow = lo; ow < hi; ow++)
                            dst[ow] = src[ow * s + x0];
                    for (int ow = hi; ow < OW; ow++)
                        dst[ow] = 0.0f;
                }
            }
    return DL_OK;
}

NO_LIBCALLS dl_status dl_col2im(const dl_patch_shape *p, const float *cols, long ld_cols,
                                float *img) {
    DL_TRY(check_patches(p, cols, img, ld_cols));
    const int OH = (p->H + 2 * p->pad - p->KH) / p->stride + 1;
    const int OW = (p->W + 2 * p->pad - p->KW) / p->stride + 1, s = p->stride;
    for (int c = 0; c < p->C; c++)
        for (int kh = 0; kh < p->KH; kh++)
            for (int kw = 0; kw < p->KW; kw++) {
                const float *row = cols + ((long)(c * p->KH + kh) * p->KW + kw) * ld_cols;
                int lo, hi;
                inside_range(p, kw, OW, &lo, &hi);
                for (int oh = 0; oh < OH; oh++) {
                    int y = oh * s + kh - p->pad;
                    if (y < 0 || y >= p->H) continue;
                    const float *src = row + (long)oh * OW;
                    float *dst = img + ((long)c * p->H + y) * p->W;
                    const int x0 = kw - p->pad;
                    if (s == 1) /* unit stride: a plain vector add */
                        for (int ow = lo; ow < hi; ow++)
                            dst[ow + x0] += src[ow];
                    else
                        for (int ow = lo; ow < hi; ow++)
                            dst[ow * s + x0] += src[ow];
                }
            }
    return DL_OK;
}
