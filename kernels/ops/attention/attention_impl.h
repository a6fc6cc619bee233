/* attention_impl.h — private to kernels/ops/attention: the variant functions that
 * attention_variants.c registers. Callers outside use the registry or dlab/attention.h. */
#ifndef DLAB_ATTENTION_IMPL_H
#define DLAB_ATTENTION_IMPL_H

#include <stddef.h>

#include "dlab/attention.h"

/* attention_ref.c: the oracle */
dl_status dl_attention_ref_forward(const dl_attention_args *a);
dl_status dl_attention_ref_backward(const dl_attention_args *a);

/* attention_cpu.c: OpenMP over (b, h), register-blocked SIMD tiles */
dl_status dl_attention_avx512_forward(const dl_attention_args *a);
dl_status dl_attention_avx512_backward(const dl_attention_args *a);
dl_status dl_attention_avx2_forward(const dl_attention_args *a);
dl_status dl_attention_avx2_backward(const dl_attention_args *a);

/* attention_flash.c: the flash forward/backward in plain C, one thread */
dl_status dl_attention_flash_forward(const dl_attention_args *a);
dl_status dl_attention_flash_backward(const dl_attention_args *a);

/* attention_heads.c: run fn(plan, b, h, scratch) for every (batch, head) pair, OpenMP over
 * the pairs, each thread with scratch_floats of its own scratch. The SIMD variants' driver. */
typedef void (*dl_attention_head_fn)(const void *plan, int b, int h, float *scratch);
dl_status dl_attention_run_heads(const dl_attention_args *a, const void *plan,
                                 size_t scratch_floats, dl_attention_head_fn fn);

/* attention_flash_cpu.c: the same, OpenMP over (b, h), SIMD tiles */
dl_status dl_attention_flash_avx512_forward(const dl_attention_args *a);
dl_status dl_attention_flash_avx512_backward(const dl_attention_args *a);
dl_status dl_attention_flash_avx2_forward(const dl_attention_args *a);
dl_status dl_attention_flash_avx2_backward(const dl_attention_args *a);

#ifdef DL_HAVE_CUDA
#ifdef __cplusplus
extern "C" {
#endif
bool dl_cuda_available(void); /* matmul_cuda.cu: a GPU is present */
/* attention.cu: the flash forward/backward on the GPU, device pointers, hs <= 128 */
dl_status dl_attention_cuda_flash_forward(const dl_attention_args *a);
dl_status dl_attention_cuda_flash_backward(const dl_attention_args *a);
#ifdef __cplusplus
}
#endif
#endif

#endif
