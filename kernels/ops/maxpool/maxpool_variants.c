/* maxpool_variants.c — the "maxpool" family's table of variants, and how to run one.
 * Each variant's impl points to a dl_maxpool_impl (forward + backward). */
#include <string.h>

#include "maxpool_impl.h"

#define VARIANT(id, vname, text, fwd, bwd)                                                         \
    static const dl_maxpool_impl id##_impl = {fwd, bwd};                                           \
    static const dl_variant id = {.family = "maxpool",                                             \
                                  .name = vname,                                                   \
                                  .summary = text,                                                 \
                                  .device = DL_DEVICE_CPU,                                         \
                                  .available = NULL,                                               \
                                  .impl = &id##_impl,                                              \
                                  .cost = dl_maxpool_cost};

VARIANT(v_ref, "ref", "one output at a time, the definition as loops: the oracle",
        dl_maxpool_ref_forward, dl_maxpool_ref_backward)
VARIANT(v_omp, "omp", "OpenMP over planes, branch-free 2x2/stride-2 loop", dl_maxpool_omp_forward,
        dl_maxpool_omp_backward)

#ifdef DL_HAVE_CUDA
/* CUDA rows: device pointers; `available` says whether a GPU (and cuDNN) is here. */
#define CUDA_VARIANT(id, vname, text, avail, fwd, bwd)                                             \
    static const dl_maxpool_impl id##_impl = {fwd, bwd};                                           \
    static const dl_variant id = {.family = "maxpool",                                             \
                                  .name = vname,                                                   \
                                  .summary = text,                                                 \
                                  .device = DL_DEVICE_CUDA,                                        \
                                  .available = avail,                                              \
                                  .impl = &id##_impl,                                              \
                                  .cost = dl_maxpool_cost};
CUDA_VARIANT(v_cuda, "cuda", "thread per output (out + argmax); backward gathers, no atomics",
             dl_cuda_available, dl_maxpool_cuda_forward, dl_maxpool_cuda_backward)
CUDA_VARIANT(v_cudnn, "cudnn", "cudnnPoolingForward + an argmax kernel; the cuda backward",
             dl_maxpool_cudnn_available, dl_maxpool_cudnn_forward, dl_maxpool_cuda_backward)
#endif

const dl_variant *const dl_maxpool_variant_table[] = {&v_ref, &v_omp,
#ifdef DL_HAVE_CUDA
                                                      &v_cuda, &v_cudnn,
#endif
};
const int dl_maxpool_variant_count =
    (int)(sizeof dl_maxpool_variant_table / sizeof dl_maxpool_variant_table[0]);

static dl_status check_variant(const dl_variant *v) {
    if (!v) return DL_FAIL(DL_ERR_ARG, "variant is NULL");
    if (!v->family || strcmp(v->family, "maxpool") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "variant '%s' is not a maxpool", v->name ? v->name : "?");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "maxpool variant '%s' cannot run here", v->name);
    return DL_OK;
}

dl_status dl_maxpool_forward(const dl_variant *v, const dl_maxpool_args *args) {
    DL_TRY(check_variant(v));
    DL_TRY(dl_maxpool_check(args, false));
    return ((const dl_maxpool_impl *)v->impl)->forward(args);
}

dl_status dl_maxpool_backward(const dl_variant *v, const dl_maxpool_args *args) {
    DL_TRY(check_variant(v));
    DL_TRY(dl_maxpool_check(args, true));
    return ((const dl_maxpool_impl *)v->impl)->backward(args);
}

const dl_variant *dl_maxpool_best(void) { return &v_omp; }
