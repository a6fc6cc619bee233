/* checkpoint.c — writing checkpoints atomically. The format is drawn in dlab/checkpoint.h;
 * the reader is checkpoint_read.c, the CRC-32 both use is crc32.c.
 *
 * Why it is safe against crashes: the bytes go to <path>.tmp, fflush hands them to the
 * kernel, fsync makes the kernel put them on the disk, and only then does rename(2) swap
 * the new file in — atomically, as POSIX guarantees for a rename within one file system.
 * Until that moment <path> is the old checkpoint, untouched. Finally the directory is
 * fsync'ed so the rename itself survives a power cut (best effort: some file systems
 * refuse to fsync a directory, and the checkpoint is complete either way).
 * Left out: keeping the last k checkpoints (the trainer can rotate names) and compression.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checkpoint_format.h"

/* ------------------------------------------------------------------ writer */

typedef struct wtensor {
    char name[DL_CKPT_MAX_NAME + 1];
    dl_ckpt_dtype dtype;
    int ndim;
    int64_t shape[DL_CKPT_MAX_DIMS];
    const void *data;
    size_t nbytes;
} wtensor;

typedef struct wvalue {
    char key[DL_CKPT_MAX_NAME + 1];
    uint64_t value;
} wvalue;

struct dl_ckpt_writer {
    char *path;
    char kind[DL_CKPT_MAX_KIND + 1];
    unsigned char *config;
    size_t config_bytes;
    wtensor *tensors;
    wvalue *values;
    int n_tensors, n_values, cap_tensors, cap_values;
    dl_status failed; /* the first failed add: commit then refuses */
    char failed_msg[256];
};

/* Remember the first failure so that commit refuses; return it. */
static dl_status sticky(dl_ckpt_writer *w, dl_status s) {
    if (s != DL_OK && w->failed == DL_OK) {
        w->failed = s;
        snprintf(w->failed_msg, sizeof w->failed_msg, "%s", dl_last_error());
    }
    return s;
}

static dl_status check_name(const char *what, const char *name) {
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > DL_CKPT_MAX_NAME)
        return DL_FAIL(DL_ERR_ARG, "%s \"%s\" must have 1..%d bytes", what, name ? name : "(null)",
                       DL_CKPT_MAX_NAME);
    return DL_OK;
}

dl_status dl_ckpt_writer_begin(dl_ckpt_writer **out, const char *path, const char *kind,
                               const void *config, size_t config_bytes) {
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    *out = NULL;
    if (!path || !*path) return DL_FAIL(DL_ERR_ARG, "path is empty");
    if (!kind || !*kind || strlen(kind) > DL_CKPT_MAX_KIND)
        return DL_FAIL(DL_ERR_ARG, "model kind must have 1..%d bytes", DL_CKPT_MAX_KIND);
    if (config_bytes > 0 && !config) return DL_FAIL(DL_ERR_ARG, "config is NULL");
    if (config_bytes > (1u << 30)) return DL_FAIL(DL_ERR_ARG, "config of %zu bytes", config_bytes);
    dl_ckpt_writer *w = calloc(1, sizeof *w);
    if (!w) return DL_FAIL(DL_ERR_ALLOC, "out of memory");
    w->path = strdup(path);
    w->config = malloc(config_bytes ? config_bytes : 1);
    if (!w->path || !w->config) {
        dl_ckpt_writer_abort(w);
        return DL_FAIL(DL_ERR_ALLOC, "out of memory");
    }
    if (config_bytes) memcpy(w->config, config, config_bytes);
    w->config_bytes = config_bytes;
    snprintf(w->kind, sizeof w->kind, "%s", kind);
    *out = w;
    return DL_OK;
}

static bool name_taken(const dl_ckpt_writer *w, const char *name, bool tensor) {
    for (int i = 0; tensor && i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0) return true;
    for (int i = 0; !tensor && i < w->n_values; i++)
        if (strcmp(w->values[i].key, name) == 0) return true;
    return false;
}

/* Grow an array of `size`-byte items to hold one more. */
static dl_status grow(void **items, int count, int *cap, size_t size) {
    if (count < *cap) return DL_OK;
    int n = *cap ? 2 * *cap : 16;
    void *p = realloc(*items, (size_t)n * size);
    if (!p) return DL_FAIL(DL_ERR_ALLOC, "out of memory for %d entries", n);
    *items = p, *cap = n;
    return DL_OK;
}

static dl_status add_tensor(dl_ckpt_writer *w, const char *name, dl_ckpt_dtype dtype,
                            const void *data, int ndim, const int64_t *shape) {
    DL_TRY(check_name("tensor name", name));
    if (name_taken(w, name, true)) return DL_FAIL(DL_ERR_ARG, "tensor \"%s\" added twice", name);
    if (ckpt_dtype_size(dtype) == 0) return DL_FAIL(DL_ERR_ARG, "%s: dtype %d", name, (int)dtype);
    if (ndim < 0 || ndim > DL_CKPT_MAX_DIMS || (ndim > 0 && !shape))
        return DL_FAIL(DL_ERR_ARG, "%s: ndim=%d is not in 0..%d", name, ndim, DL_CKPT_MAX_DIMS);
    size_t count = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0 || (shape[d] > 0 && count > SIZE_MAX / 16 / (size_t)shape[d]))
            return DL_FAIL(DL_ERR_ARG, "%s: shape[%d]=%lld", name, d, (long long)shape[d]);
        count *= (size_t)shape[d];
    }
    if (count > 0 && !data) return DL_FAIL(DL_ERR_ARG, "%s: data is NULL", name);
    DL_TRY(grow((void **)&w->tensors, w->n_tensors, &w->cap_tensors, sizeof(wtensor)));
    wtensor *t = &w->tensors[w->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dtype, t->ndim = ndim, t->data = data, t->nbytes = count * ckpt_dtype_size(dtype);
    for (int d = 0; d < ndim; d++)
        t->shape[d] = shape[d];
    return DL_OK;
}

dl_status dl_ckpt_writer_add_tensor(dl_ckpt_writer *w, const char *name, dl_ckpt_dtype dtype,
                                    const void *data, int ndim, const int64_t *shape) {
    if (!w) return DL_FAIL(DL_ERR_ARG, "writer is NULL");
    return sticky(w, add_tensor(w, name, dtype, data, ndim, shape));
}

static dl_status add_u64(dl_ckpt_writer *w, const char *key, uint64_t value) {
    DL_TRY(check_name("value key", key));
    if (name_taken(w, key, false)) return DL_FAIL(DL_ERR_ARG, "value \"%s\" added twice", key);
    DL_TRY(grow((void **)&w->values, w->n_values, &w->cap_values, sizeof(wvalue)));
    wvalue *v = &w->values[w->n_values++];
    snprintf(v->key, sizeof v->key, "%s", key);
    v->value = value;
    return DL_OK;
}

dl_status dl_ckpt_writer_add_u64(dl_ckpt_writer *w, const char *key, uint64_t value) {
    if (!w) return DL_FAIL(DL_ERR_ARG, "writer is NULL");
    return sticky(w, add_u64(w, key, value));
}

dl_status dl_ckpt_writer_add_rng(dl_ckpt_writer *w, const char *key, const dl_rng *rng) {
    if (!w) return DL_FAIL(DL_ERR_ARG, "writer is NULL");
    if (!rng || !key || strlen(key) > DL_CKPT_MAX_NAME - 2)
        return sticky(w, DL_FAIL(DL_ERR_ARG, "rng or key is NULL or the key is too long"));
    char k[DL_CKPT_MAX_NAME + 1];
    for (int i = 0; i < 4; i++) {
        snprintf(k, sizeof k, "%s.%d", key, i);
        DL_TRY(dl_ckpt_writer_add_u64(w, k, rng->s[i]));
    }
    return DL_OK;
}

void dl_ckpt_writer_abort(dl_ckpt_writer *w) {
    if (!w) return;
    free(w->path), free(w->config), free(w->tensors), free(w->values), free(w);
}

/* ------------------------------------------------------------------ commit */

typedef struct sink {
    FILE *f;
    uint32_t crc;
    bool ok;
} sink;

static void put(sink *s, const void *p, size_t n) {
    if (!s->ok || n == 0) return;
    s->crc = dl_crc32(s->crc, p, n);
    s->ok = fwrite(p, 1, n, s->f) == n;
}

static unsigned char *put_le(unsigned char *p, const void *x, size_t n) {
    memcpy(p, x, n);
    return p + n;
}

/* The header (everything before data_offset) in memory; tensor offsets are filled in. */
static dl_status build_header(dl_ckpt_writer *w, unsigned char **out, size_t *data_offset,
                              uint64_t *file_bytes, uint64_t *offsets) {
    size_t len = CKPT_FIXED_HEADER + strlen(w->kind) + w->config_bytes;
    for (int i = 0; i < w->n_tensors; i++)
        len += 4 + strlen(w->tensors[i].name) + 8 + 8 * (size_t)w->tensors[i].ndim + 16;
    for (int i = 0; i < w->n_values; i++)
        len += 4 + strlen(w->values[i].key) + 8;
    *data_offset = ckpt_align(len);
    if (*data_offset > UINT32_MAX) return DL_FAIL(DL_ERR_ARG, "header of %zu bytes", len);
    uint64_t at = *data_offset;
    for (int i = 0; i < w->n_tensors; i++) {
        offsets[i] = at = ckpt_align(at);
        at += w->tensors[i].nbytes;
    }
    *file_bytes = at + CKPT_CRC_BYTES;
    unsigned char *h = calloc(1, *data_offset), *p = h;
    if (!h) return DL_FAIL(DL_ERR_ALLOC, "out of memory for a %zu-byte header", *data_offset);
    uint32_t version = DL_CKPT_VERSION, off32 = (uint32_t)*data_offset;
    uint32_t kind_len = (uint32_t)strlen(w->kind), config_len = (uint32_t)w->config_bytes;
    uint32_t nt = (uint32_t)w->n_tensors, nv = (uint32_t)w->n_values;
    p = put_le(p, CKPT_MAGIC, 8), p = put_le(p, &version, 4), p = put_le(p, &off32, 4);
    p = put_le(p, file_bytes, 8), p = put_le(p, &kind_len, 4), p = put_le(p, &config_len, 4);
    p = put_le(p, &nt, 4), p = put_le(p, &nv, 4);
    p = put_le(p, w->kind, kind_len), p = put_le(p, w->config, config_len);
    for (int i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        uint32_t name_len = (uint32_t)strlen(t->name), dtype = t->dtype, ndim = (uint32_t)t->ndim;
        uint64_t nbytes = t->nbytes;
        p = put_le(p, &name_len, 4), p = put_le(p, t->name, name_len);
        p = put_le(p, &dtype, 4), p = put_le(p, &ndim, 4), p = put_le(p, t->shape, 8 * ndim);
        p = put_le(p, &offsets[i], 8), p = put_le(p, &nbytes, 8);
    }
    for (int i = 0; i < w->n_values; i++) {
        uint32_t key_len = (uint32_t)strlen(w->values[i].key);
        p = put_le(p, &key_len, 4), p = put_le(p, w->values[i].key, key_len);
        p = put_le(p, &w->values[i].value, 8);
    }
    *out = h;
    return DL_OK;
}

static dl_status write_file(dl_ckpt_writer *w, const char *tmp, const unsigned char *header,
                            size_t data_offset, const uint64_t *offsets) {
    static const unsigned char zeros[CKPT_ALIGN];
    sink s = {.f = fopen(tmp, "wb"), .crc = 0, .ok = true};
    if (!s.f) return DL_FAIL(DL_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    put(&s, header, data_offset);
    uint64_t at = data_offset;
    for (int i = 0; i < w->n_tensors; i++) {
        put(&s, zeros, (size_t)(offsets[i] - at));
        put(&s, w->tensors[i].data, w->tensors[i].nbytes);
        at = offsets[i] + w->tensors[i].nbytes;
    }
    uint32_t crc = s.crc;
    put(&s, &crc, CKPT_CRC_BYTES);
    int err = s.ok ? 0 : errno ? errno : EIO;
    if (!err && fflush(s.f) != 0) err = errno;
    if (!err && fsync(fileno(s.f)) != 0) err = errno;
    if (fclose(s.f) != 0 && !err) err = errno;
    if (err) return DL_FAIL(DL_ERR_IO, "writing %s: %s", tmp, strerror(err));
    return DL_OK;
}

static void fsync_parent_dir(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash == path ? 1 : slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd); /* best effort, see the file comment */
        close(fd);
    }
}

dl_status dl_ckpt_writer_commit(dl_ckpt_writer *w) {
    if (!w) return DL_FAIL(DL_ERR_ARG, "writer is NULL");
    if (w->failed != DL_OK) {
        dl_status s = DL_FAIL(w->failed, "%s not written: %s", w->path, w->failed_msg);
        dl_ckpt_writer_abort(w);
        return s;
    }
    unsigned char *header = NULL;
    size_t data_offset = 0;
    uint64_t file_bytes = 0;
    uint64_t *offsets = malloc(((size_t)w->n_tensors + 1) * sizeof(uint64_t));
    char *tmp = malloc(strlen(w->path) + 5);
    dl_status s = offsets && tmp ? DL_OK : DL_FAIL(DL_ERR_ALLOC, "out of memory");
    if (s == DL_OK) s = build_header(w, &header, &data_offset, &file_bytes, offsets);
    if (s == DL_OK) {
        sprintf(tmp, "%s.tmp", w->path);
        s = write_file(w, tmp, header, data_offset, offsets);
        if (s == DL_OK && rename(tmp, w->path) != 0)
            s = DL_FAIL(DL_ERR_IO, "cannot rename %s to %s: %s", tmp, w->path, strerror(errno));
        if (s != DL_OK)
            unlink(tmp); /* never leave a partial file behind */
        else
            fsync_parent_dir(w->path);
    }
    free(header), free(offsets), free(tmp);
    dl_ckpt_writer_abort(w);
    return s;
}
