/* cuda_none.c — the CUDA timing entry points for a build without nvcc: they exist so that
 * callers link either way, and they fail with "built without CUDA". With nvcc the Makefile
 * defines DLB_HAVE_CUDA and cuda_timer.cu provides the real ones. */
#include <string.h>

#include "dlb_internal.h"

#ifndef DLB_HAVE_CUDA
int dlb_cuda_measure(dlb_fn fn, void *ctx, const dlb_opts *opts, bool flush_l2, dlb_result *out) {
    (void)fn, (void)ctx, (void)opts, (void)flush_l2;
    memset(out, 0, sizeof *out);
    return dlbi_fail("dlb_cuda_measure: built without CUDA");
}

int dlb_cuda_gpu_name(char *buf, size_t len) {
    if (len) buf[0] = '\0';
    return dlbi_fail("dlb_cuda_gpu_name: built without CUDA");
}
#else
/* ISO C forbids an empty translation unit. */
typedef int dlb_cuda_none_unused;
#endif
