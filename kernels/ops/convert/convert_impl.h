/* convert_impl.h — private to kernels/ops/convert: the variant functions that
 * convert_variants.c registers. Callers outside use the registry or dl_convert_run(). */
#ifndef DLAB_CONVERT_IMPL_H
#define DLAB_CONVERT_IMPL_H

#include "dlab/convert.h"

dl_status dl_convert_ref(const dl_convert_args *a);
dl_status dl_convert_f16c(const dl_convert_args *a);
dl_status dl_convert_avx512bf16(const dl_convert_args *a);

#endif
