/* checkpoint_read.c — loading and validating a checkpoint (format in dlab/checkpoint.h).
 *
 * The whole file is read into one 64-byte-aligned buffer, and then checked in the order
 * that gives the most useful message: size, magic, version, length field against the real
 * length (a truncated file), checksum (a corrupt one), and only then the entries — each
 * size and offset bounds-checked, because a file can carry a valid checksum and still lie
 * (it may have been written by something else). Tensor data stays in the buffer; lookups
 * point into it.
 * Left out: memory-mapping and partial reads (checkpoints here are tens of megabytes).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint_format.h"

typedef struct rvalue {
    const char *key;
    uint64_t value;
} rvalue;

struct dl_ckpt_reader {
    char *path;
    unsigned char *buf;
    size_t len;
    char kind[DL_CKPT_MAX_KIND + 1];
    const unsigned char *config;
    size_t config_bytes;
    dl_ckpt_tensor *tensors;
    rvalue *values;
    char *strings; /* the NUL-terminated names the entries point to */
    int n_tensors, n_values;
};

/* A bounds-checked cursor over the header. */
typedef struct cursor {
    const unsigned char *p;
    size_t pos, end;
} cursor;

static bool take(cursor *c, void *out, size_t n) {
    if (n > c->end - c->pos) return false;
    memcpy(out, c->p + c->pos, n);
    c->pos += n;
    return true;
}

static dl_status read_all(dl_ckpt_reader *r) {
    FILE *f = fopen(r->path, "rb");
    if (!f) return DL_FAIL(DL_ERR_IO, "%s: %s", r->path, strerror(errno));
    struct stat st;
    dl_status s = DL_OK;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        s = DL_FAIL(DL_ERR_IO, "%s: not a regular file", r->path);
    if (s == DL_OK) {
        r->len = (size_t)st.st_size;
        s = dl_alloc((void **)&r->buf, r->len);
    }
    if (s == DL_OK && fread(r->buf, 1, r->len, f) != r->len)
        s = DL_FAIL(DL_ERR_IO, "%s: read error", r->path);
    fclose(f);
    return s;
}

static dl_status bad(const dl_ckpt_reader *r, const char *what) {
    return DL_FAIL(DL_ERR_FORMAT, "%s: %s", r->path, what);
}

static dl_status parse_tensor(dl_ckpt_reader *r, cursor *c, dl_ckpt_tensor *t, char **names,
                              size_t data_offset, uint64_t data_end) {
    uint32_t name_len, dtype, ndim;
    uint64_t offset, nbytes;
    if (!take(c, &name_len, 4) || name_len == 0 || name_len > DL_CKPT_MAX_NAME ||
        !take(c, *names, name_len))
        return bad(r, "corrupt tensor entry (name)");
    t->name = *names;
    *names += name_len + 1; /* the arena is zeroed: the name ends with a NUL */
    if (!take(c, &dtype, 4) || !take(c, &ndim, 4) || ndim > DL_CKPT_MAX_DIMS ||
        ckpt_dtype_size((dl_ckpt_dtype)dtype) == 0)
        return DL_FAIL(DL_ERR_FORMAT, "%s: tensor \"%s\": bad dtype or rank", r->path, t->name);
    t->dtype = (dl_ckpt_dtype)dtype, t->ndim = (int)ndim;
    uint64_t count = 1;
    for (uint32_t d = 0; d < ndim; d++) {
        if (!take(c, &t->shape[d], 8) || t->shape[d] < 0 ||
            (t->shape[d] > 0 && count > data_end / (uint64_t)t->shape[d]))
            return DL_FAIL(DL_ERR_FORMAT, "%s: tensor \"%s\": bad shape", r->path, t->name);
        count *= (uint64_t)t->shape[d];
    }
    if (!take(c, &offset, 8) || !take(c, &nbytes, 8))
        return DL_FAIL(DL_ERR_FORMAT, "%s: tensor \"%s\": entry cut short", r->path, t->name);
    if (nbytes != count * ckpt_dtype_size(t->dtype) || offset % CKPT_ALIGN != 0 ||
        offset < data_offset || offset > data_end || nbytes > data_end - offset)
        return DL_FAIL(DL_ERR_FORMAT, "%s: tensor \"%s\": size or offset outside the file", r->path,
                       t->name);
    t->data = r->buf + offset, t->nbytes = (size_t)nbytes;
    return DL_OK;
}

static dl_status parse(dl_ckpt_reader *r, const char *expect_kind) {
    const size_t len = r->len;
    if (len < CKPT_FIXED_HEADER + CKPT_CRC_BYTES) {
        char msg[96];
        snprintf(msg, sizeof msg, "truncated or not a checkpoint: only %zu bytes", len);
        return bad(r, msg);
    }
    if (memcmp(r->buf, CKPT_MAGIC, 8) != 0) return bad(r, "not a dlab checkpoint (bad magic)");
    uint32_t version, data_offset, kind_len, config_len, nt, nv;
    uint64_t file_bytes;
    cursor c = {r->buf, 8, CKPT_FIXED_HEADER};
    take(&c, &version, 4), take(&c, &data_offset, 4), take(&c, &file_bytes, 8);
    take(&c, &kind_len, 4), take(&c, &config_len, 4), take(&c, &nt, 4), take(&c, &nv, 4);
    if (version != DL_CKPT_VERSION)
        return DL_FAIL(DL_ERR_FORMAT, "%s: format version %u; this build reads version %u", r->path,
                       version, DL_CKPT_VERSION);
    if (file_bytes != len)
        return DL_FAIL(DL_ERR_FORMAT, "%s: %s: the header says %llu bytes, the file has %zu",
                       r->path, file_bytes > len ? "truncated" : "wrong length",
                       (unsigned long long)file_bytes, len);
    uint32_t stored_crc;
    memcpy(&stored_crc, r->buf + len - CKPT_CRC_BYTES, 4);
    if (dl_crc32(0, r->buf, len - CKPT_CRC_BYTES) != stored_crc)
        return bad(r, "checksum mismatch: the file is corrupt");

    const uint64_t data_end = len - CKPT_CRC_BYTES;
    if (data_offset < CKPT_FIXED_HEADER || data_offset > data_end || data_offset % CKPT_ALIGN)
        return bad(r, "corrupt header (data offset)");
    c.end = data_offset;
    if (kind_len == 0 || kind_len > DL_CKPT_MAX_KIND || !take(&c, r->kind, kind_len))
        return bad(r, "corrupt header (model kind)");
    if (config_len > c.end - c.pos) return bad(r, "corrupt header (config size)");
    r->config = config_len ? r->buf + c.pos : NULL, r->config_bytes = config_len;
    c.pos += config_len;
    /* every entry takes at least 13 bytes: this bounds the allocations below */
    if ((uint64_t)nt + nv > (c.end - c.pos) / 13) return bad(r, "corrupt header (entry counts)");
    r->tensors = calloc(nt ? nt : 1, sizeof *r->tensors);
    r->values = calloc(nv ? nv : 1, sizeof *r->values);
    r->strings = calloc(1, (size_t)data_offset + nt + nv);
    if (!r->tensors || !r->values || !r->strings) return DL_FAIL(DL_ERR_ALLOC, "out of memory");
    char *names = r->strings;
    for (uint32_t i = 0; i < nt; i++) {
        DL_TRY(parse_tensor(r, &c, &r->tensors[i], &names, data_offset, data_end));
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(r->tensors[j].name, r->tensors[i].name) == 0)
                return DL_FAIL(DL_ERR_FORMAT, "%s: tensor \"%s\" appears twice", r->path,
                               r->tensors[i].name);
        r->n_tensors = (int)i + 1;
    }
    for (uint32_t i = 0; i < nv; i++) {
        uint32_t key_len;
        if (!take(&c, &key_len, 4) || key_len == 0 || key_len > DL_CKPT_MAX_NAME ||
            !take(&c, names, key_len) || !take(&c, &r->values[i].value, 8))
            return bad(r, "corrupt value entry");
        r->values[i].key = names;
        names += key_len + 1;
        r->n_values = (int)i + 1;
    }
    if (expect_kind && strcmp(expect_kind, r->kind) != 0)
        return DL_FAIL(DL_ERR_FORMAT, "%s: a checkpoint of a \"%s\" model, not \"%s\"", r->path,
                       r->kind, expect_kind);
    return DL_OK;
}

dl_status dl_ckpt_reader_open(dl_ckpt_reader **out, const char *path, const char *expect_kind) {
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    *out = NULL;
    if (!path) return DL_FAIL(DL_ERR_ARG, "path is NULL");
    dl_ckpt_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return DL_FAIL(DL_ERR_ALLOC, "out of memory");
    }
    dl_status s = read_all(r);
    if (s == DL_OK) s = parse(r, expect_kind);
    if (s != DL_OK)
        dl_ckpt_reader_close(r);
    else
        *out = r;
    return s;
}

void dl_ckpt_reader_close(dl_ckpt_reader *r) {
    if (!r) return;
    dl_free(r->buf);
    free(r->path), free(r->tensors), free(r->values), free(r->strings), free(r);
}

const char *dl_ckpt_reader_kind(const dl_ckpt_reader *r) { return r->kind; }

const void *dl_ckpt_reader_config(const dl_ckpt_reader *r, size_t *config_bytes) {
    if (config_bytes) *config_bytes = r->config_bytes;
    return r->config;
}

int dl_ckpt_reader_tensor_count(const dl_ckpt_reader *r) { return r->n_tensors; }

const dl_ckpt_tensor *dl_ckpt_reader_tensor_at(const dl_ckpt_reader *r, int i) {
    return i >= 0 && i < r->n_tensors ? &r->tensors[i] : NULL;
}

dl_status dl_ckpt_reader_find(const dl_ckpt_reader *r, const char *name,
                              const dl_ckpt_tensor **out) {
    for (int i = 0; name && i < r->n_tensors; i++)
        if (strcmp(r->tensors[i].name, name) == 0) return *out = &r->tensors[i], DL_OK;
    return DL_FAIL(DL_ERR_FORMAT, "%s has no tensor \"%s\"", r->path, name ? name : "(null)");
}

static void shape_str(char *buf, size_t n, const char *dtype, int ndim, const int64_t *shape) {
    int at = snprintf(buf, n, "%s(", dtype);
    for (int d = 0; d < ndim && at > 0 && (size_t)at < n; d++)
        at += snprintf(buf + at, n - (size_t)at, d ? ",%lld" : "%lld", (long long)shape[d]);
    if (at > 0 && (size_t)at < n) snprintf(buf + at, n - (size_t)at, ")");
}

dl_status dl_ckpt_reader_read_tensor(const dl_ckpt_reader *r, const char *name, dl_ckpt_dtype dtype,
                                     int ndim, const int64_t *shape, void *out) {
    const dl_ckpt_tensor *t;
    DL_TRY(dl_ckpt_reader_find(r, name, &t));
    bool same = t->dtype == dtype && t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = t->shape[d] == shape[d];
    if (!same) {
        char have[160], want[160];
        shape_str(have, sizeof have, t->dtype == DL_CKPT_F32 ? "f32" : "i64", t->ndim, t->shape);
        shape_str(want, sizeof want, dtype == DL_CKPT_F32 ? "f32" : "i64", ndim, shape);
        return DL_FAIL(DL_ERR_FORMAT, "%s: tensor \"%s\" is %s, the model expects %s", r->path,
                       name, have, want);
    }
    if (t->nbytes) memcpy(out, t->data, t->nbytes);
    return DL_OK;
}

dl_status dl_ckpt_reader_get_u64(const dl_ckpt_reader *r, const char *key, uint64_t *value) {
    for (int i = 0; key && i < r->n_values; i++)
        if (strcmp(r->values[i].key, key) == 0) return *value = r->values[i].value, DL_OK;
    return DL_FAIL(DL_ERR_FORMAT, "%s has no value \"%s\"", r->path, key ? key : "(null)");
}

dl_status dl_ckpt_reader_get_rng(const dl_ckpt_reader *r, const char *key, dl_rng *rng) {
    char k[DL_CKPT_MAX_NAME + 8];
    dl_rng tmp;
    for (int i = 0; i < 4; i++) {
        snprintf(k, sizeof k, "%s.%d", key ? key : "", i);
        DL_TRY(dl_ckpt_reader_get_u64(r, k, &tmp.s[i]));
    }
    *rng = tmp;
    return DL_OK;
}
