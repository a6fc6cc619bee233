/* softmax_impl.h — private to kernels/ops/softmax: the implementations that
 * softmax_variants.c puts in the registry. Callers go through dl_softmax_forward /
 * dl_softmax_backward. */
#ifndef DLAB_SOFTMAX_IMPL_H
#define DLAB_SOFTMAX_IMPL_H

#include "dlab/softmax.h"

extern const dl_softmax_impl dl_softmax_ref_impl;            /* softmax_ref.c */
extern const dl_softmax_impl dl_softmax_naive_impl;          /* softmax_cpu.c */
extern const dl_softmax_impl dl_softmax_safe_impl;
extern const dl_softmax_impl dl_softmax_safe_avx512_impl;
extern const dl_softmax_impl dl_softmax_online_impl;
extern const dl_softmax_impl dl_softmax_online_avx512_impl;
extern const dl_softmax_impl dl_softmax_safe_avx2_impl;
extern const dl_softmax_impl dl_softmax_online_avx2_impl;

#if defined(__x86_64__) || defined(__i386__)
/* The 16-lane exp of the AVX-512 variants on one value, for tests/test_softmax.c; needs
 * AVX-512F/DQ and FMA at run time. */
float dl_softmax_exp16_scalar(float x);
#endif

#endif
