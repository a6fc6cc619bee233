/* checkpoint_format.h — private to kernels/nn/checkpoint*.c: the constants of the file
 * format that dlab/checkpoint.h draws, shared by the writer and the reader. */
#ifndef DLAB_CHECKPOINT_FORMAT_H
#define DLAB_CHECKPOINT_FORMAT_H

#include "dlab/checkpoint.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the checkpoint format is little-endian and this code copies integers as they are"
#endif

#define CKPT_MAGIC "DLABCKPT"
#define CKPT_FIXED_HEADER 40 /* magic .. n_values */
#define CKPT_ALIGN 64        /* data_offset and every tensor's offset */
#define CKPT_CRC_BYTES 4

static inline size_t ckpt_align(size_t x) { return (x + CKPT_ALIGN - 1) / CKPT_ALIGN * CKPT_ALIGN; }

static inline size_t ckpt_dtype_size(dl_ckpt_dtype d) {
    return d == DL_CKPT_F32 ? 4 : d == DL_CKPT_I64 ? 8 : 0;
}

#endif
