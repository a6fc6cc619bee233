/* checkpoint.h — saving and loading training state: a versioned, checksummed binary file,
 * written atomically.
 *
 * What a checkpoint holds: a model kind ("mlp", "cnn", "gpt"), the model's config as an
 * opaque blob (the model defines its bytes), named tensors (parameters, optimizer moments),
 * and named u64 values (step, RNG state, sampler state, optimizer step count ...).
 *
 * The file (all integers little-endian; version 1):
 *
 *   offset  size
 *        0     8  magic "DLABCKPT"
 *        8     4  u32 format version (DL_CKPT_VERSION)
 *       12     4  u32 data_offset: where tensor data starts (a multiple of 64)
 *       16     8  u64 file_bytes: the whole file, checksum included
 *       24     4  u32 kind_len      28  4  u32 config_len
 *       32     4  u32 n_tensors     36  4  u32 n_values
 *       40        kind bytes, config bytes,
 *                 n_tensors × {u32 name_len, name, u32 dtype, u32 ndim, i64 shape[ndim],
 *                              u64 offset (from the file start, 64-aligned), u64 nbytes},
 *                 n_values  × {u32 key_len, key, u64 value}, zeros up to data_offset
 *  data_offset    the tensors' bytes, each starting 64-aligned, zeros between
 *  file_bytes-4 4  u32 CRC-32 (the zlib/PNG polynomial) of every byte before it
 *
 * Writing goes to "<path>.tmp", is flushed and fsync'ed, then renamed over <path>: a crash
 * or a full disk leaves either the old checkpoint or the new one, never a torn file, and a
 * failed write removes its .tmp. Reading checks the magic, the version, the length against
 * the file's size, the checksum, every size and offset, and the model kind, and refuses
 * anything else with DL_ERR_FORMAT and a message that says what is wrong.
 *
 *     dl_ckpt_writer *w;
 *     DL_TRY(dl_ckpt_writer_begin(&w, "results/mlp.ckpt", "mlp", &cfg, sizeof cfg));
 *     dl_ckpt_writer_add_tensor(w, "fc1.weight", DL_CKPT_F32, w1, 2, (int64_t[]){300, 784});
 *     dl_ckpt_writer_add_u64(w, "step", step);
 *     DL_TRY(dl_ckpt_writer_commit(w));      // writes, and frees w whatever happens
 *
 * Left out: compression, big-endian hosts (refused at compile time), files over what fits in
 * memory (a reader loads the whole file), and bf16/fp16 tensors.
 */
#ifndef DLAB_CHECKPOINT_H
#define DLAB_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DL_CKPT_VERSION 1u
#define DL_CKPT_MAX_DIMS 8
#define DL_CKPT_MAX_NAME 255 /* bytes in a tensor name or a value key */
#define DL_CKPT_MAX_KIND 63  /* bytes in the model kind */

typedef enum dl_ckpt_dtype { DL_CKPT_F32 = 1, DL_CKPT_I64 = 2 } dl_ckpt_dtype;

/* ------------------------------------------------------------------ writing */

typedef struct dl_ckpt_writer dl_ckpt_writer;

/* Start a checkpoint for `path` of model `kind` (1..63 bytes) with config[0..config_bytes)
 * (copied; may be NULL when config_bytes is 0). Nothing touches the disk before commit. */
dl_status dl_ckpt_writer_begin(dl_ckpt_writer **w, const char *path, const char *kind,
                               const void *config, size_t config_bytes);
/* Add a tensor of `ndim` dims (0 = a scalar) from `data`. The data is NOT copied: it must stay
 * valid and unchanged until commit. Names are unique (DL_ERR_ARG otherwise). */
dl_status dl_ckpt_writer_add_tensor(dl_ckpt_writer *w, const char *name, dl_ckpt_dtype dtype,
                                    const void *data, int ndim, const int64_t *shape);
/* Add a named value; keys are unique and separate from tensor names. */
dl_status dl_ckpt_writer_add_u64(dl_ckpt_writer *w, const char *key, uint64_t value);
/* An RNG's state as the values "<key>.0" .. "<key>.3". */
dl_status dl_ckpt_writer_add_rng(dl_ckpt_writer *w, const char *key, const dl_rng *rng);
/* Write <path>.tmp, fsync, rename to <path>; free w. If an add failed earlier, commit writes
 * nothing and returns that failure (so a forgotten check cannot save half a model). */
dl_status dl_ckpt_writer_commit(dl_ckpt_writer *w);
/* Free w without writing anything. */
void dl_ckpt_writer_abort(dl_ckpt_writer *w);

/* ------------------------------------------------------------------ reading */

typedef struct dl_ckpt_reader dl_ckpt_reader;

typedef struct dl_ckpt_tensor {
    const char *name;
    dl_ckpt_dtype dtype;
    int ndim;
    int64_t shape[DL_CKPT_MAX_DIMS];
    const void *data; /* inside the reader; 64-byte aligned; valid until close */
    size_t nbytes;
} dl_ckpt_tensor;

/* Load and validate the whole file. expect_kind: the model kind the caller can restore
 * (NULL accepts any). DL_ERR_IO if it cannot be read, DL_ERR_FORMAT if it is not a valid
 * checkpoint of that kind. */
dl_status dl_ckpt_reader_open(dl_ckpt_reader **r, const char *path, const char *expect_kind);
void dl_ckpt_reader_close(dl_ckpt_reader *r);

const char *dl_ckpt_reader_kind(const dl_ckpt_reader *r);
/* The config blob and its size (NULL, 0 when empty). */
const void *dl_ckpt_reader_config(const dl_ckpt_reader *r, size_t *config_bytes);

int dl_ckpt_reader_tensor_count(const dl_ckpt_reader *r);
const dl_ckpt_tensor *dl_ckpt_reader_tensor_at(const dl_ckpt_reader *r, int i);
/* The tensor called `name`, or DL_ERR_FORMAT "has no tensor ..." . */
dl_status dl_ckpt_reader_find(const dl_ckpt_reader *r, const char *name,
                              const dl_ckpt_tensor **out);
/* Copy tensor `name` into out after checking that its dtype and shape are exactly these;
 * a mismatch is DL_ERR_FORMAT naming both shapes. */
dl_status dl_ckpt_reader_read_tensor(const dl_ckpt_reader *r, const char *name, dl_ckpt_dtype dtype,
                                     int ndim, const int64_t *shape, void *out);
dl_status dl_ckpt_reader_get_u64(const dl_ckpt_reader *r, const char *key, uint64_t *value);
dl_status dl_ckpt_reader_get_rng(const dl_ckpt_reader *r, const char *key, dl_rng *rng);

/* CRC-32 as zlib's crc32(): crc = dl_crc32(0, buf, n), or chained over pieces. */
uint32_t dl_crc32(uint32_t crc, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
