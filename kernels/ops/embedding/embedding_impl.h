/* embedding_impl.h — private to kernels/ops/embedding: the implementations that
 * embedding_variants.c puts in the registry. */
#ifndef DLAB_EMBEDDING_IMPL_H
#define DLAB_EMBEDDING_IMPL_H

#include "dlab/embedding.h"

extern const dl_embedding_impl dl_embedding_ref_impl; /* embedding_ref.c */
extern const dl_embedding_impl dl_embedding_omp_impl; /* embedding_cpu.c */

#ifdef DL_HAVE_CUDA
#ifdef __cplusplus
extern "C" {
#endif
bool dl_cuda_available(void); /* matmul_cuda.cu: a GPU is present */
extern const dl_embedding_impl dl_embedding_cuda_impl; /* embedding.cu: device pointers */
#ifdef __cplusplus
}
#endif
#endif

#endif
