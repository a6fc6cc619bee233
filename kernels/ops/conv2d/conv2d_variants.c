/* conv2d_variants.c — the "conv2d" family's table of variants, and how to run one.
 * Each variant's impl points to a dl_conv2d_impl (forward + backward). */
#include <string.h>

#include "conv2d_impl.h"

#define VARIANT(id, vname, text, fwd, bwd)                                                         \
    static const dl_conv2d_impl id##_impl = {fwd, bwd};                                            \
    static const dl_variant id = {.family = "conv2d",                                              \
                                  .name = vname,                                                   \
                                  .summary = text,                                                 \
                                  .device = DL_DEVICE_CPU,                                         \
                                  .available = NULL,                                               \
                                  .impl = &id##_impl,                                              \
                                  .cost = dl_conv2d_cost};

VARIANT(v_ref, "ref", "direct seven loops, double sums, gathers in the backward: the oracle",
        dl_conv2d_ref_forward, dl_conv2d_ref_backward)
VARIANT(v_im2col_ref, "im2col_ref", "im2col + the reference matmul, one thread",
        dl_conv2d_im2col_ref_forward, dl_conv2d_im2col_ref_backward)
VARIANT(v_im2col, "im2col", "im2col over groups of images + the fastest matmul, OpenMP",
        dl_conv2d_im2col_forward, dl_conv2d_im2col_backward)

#ifdef DL_HAVE_CUDA
/* CUDA rows: device pointers; `available` says whether a GPU (and cuDNN) is here. */
#define CUDA_VARIANT(id, vname, text, avail, fwd, bwd)                                             \
    static const dl_conv2d_impl id##_impl = {fwd, bwd};                                            \
    static const dl_variant id = {.family = "conv2d",                                              \
                                  .name = vname,                                                   \
                                  .summary = text,                                                 \
                                  .device = DL_DEVICE_CUDA,                                        \
                                  .available = avail,                                              \
                                  .impl = &id##_impl,                                              \
                                  .cost = dl_conv2d_cost};
CUDA_VARIANT(v_cudnn, "cudnn", "cuDNN forward/backward, fp32 FMA math (no TF32), heuristic algos",
             dl_conv2d_cudnn_available, dl_conv2d_cudnn_forward, dl_conv2d_cudnn_backward)
#endif

const dl_variant *const dl_conv2d_variant_table[] = {&v_ref, &v_im2col_ref, &v_im2col,
#ifdef DL_HAVE_CUDA
                                                     &v_cudnn,
#endif
};
const int dl_conv2d_variant_count =
    (int)(sizeof dl_conv2d_variant_table / sizeof dl_conv2d_variant_table[0]);

static dl_status check_variant(const dl_variant *v) {
    if (!v) return DL_FAIL(DL_ERR_ARG, "variant is NULL");
    if (!v->family || strcmp(v->family, "conv2d") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "variant '%s' is not a conv2d", v->name ? v->name : "?");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "conv2d variant '%s' cannot run here", v->name);
    return DL_OK;
}

dl_status dl_conv2d_forward(const dl_variant *v, const dl_conv2d_args *args) {
    DL_TRY(check_variant(v));
    DL_TRY(dl_conv2d_check(args, false));
    return ((const dl_conv2d_impl *)v->impl)->forward(args);
}

dl_status dl_conv2d_backward(const dl_variant *v, const dl_conv2d_args *args) {
    DL_TRY(check_variant(v));
    DL_TRY(dl_conv2d_check(args, true));
    return ((const dl_conv2d_impl *)v->impl)->backward(args);
}

const dl_variant *dl_conv2d_best(void) { return &v_im2col; }
