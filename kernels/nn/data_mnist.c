/* data_mnist.c — the Fashion-MNIST reader: gzip IDX files (LeCun's format) through zlib.
 *
 * IDX, as the images and labels files use it (every integer big-endian):
 *   images: u32 magic 0x00000803 (2051), u32 count, u32 rows, u32 cols, then count·rows·cols
 *           bytes, one per pixel, row-major, 0 = background
 *   labels: u32 magic 0x00000801 (2049), u32 count, then count bytes, each a class 0..9
 * Both headers are read and checked against each other before the pixels are, and the files
 * must end exactly where their headers say: a shorter file is truncated, a longer one is not
 * what its header claims. zlib's gzread also reads an uncompressed file as it is, and checks
 * the gzip CRC at the end of the stream, which is why we read one byte past the data.
 * Left out: other IDX element types (only unsigned bytes occur here) and memory-mapping.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dlab/data.h"

#ifdef DL_HAVE_ZLIB
#include <zlib.h>
#endif

#define IDX_IMAGES_MAGIC 2051u
#define IDX_LABELS_MAGIC 2049u
/* Far above the 60 000 of the real set, far below what would overflow a size_t product. */
#define IDX_MAX_COUNT 10000000u

const char *dl_fashion_mnist_dir(const char *dir) {
    if (dir && *dir) return dir;
    const char *env = getenv("DLAB_FASHION_MNIST_DIR");
    return env && *env ? env : DL_FASHION_MNIST_DIR;
}

void dl_image_set_free(dl_image_set *s) {
    if (!s) return;
    dl_free(s->pixels);
    dl_free(s->labels);
    memset(s, 0, sizeof *s);
}

#ifdef DL_HAVE_ZLIB
static dl_status open_idx(gzFile *gz, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return DL_FAIL(DL_ERR_IO,
                           "%s: no such file. Fashion-MNIST comes from the Debian package "
                           "dataset-fashion-mnist: sudo apt-get install dataset-fashion-mnist "
                           "(or run scripts/setup), or set DLAB_FASHION_MNIST_DIR",
                           path);
        return DL_FAIL(DL_ERR_IO, "%s: %s", path, strerror(errno));
    }
    *gz = gzopen(path, "rb");
    if (!*gz) return DL_FAIL(DL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    return DL_OK;
}

/* Read up to n bytes; *got says how many came. A zlib error (corrupt stream, bad CRC) fails. */
static dl_status read_some(gzFile gz, const char *path, void *buf, size_t n, size_t *got) {
    *got = 0;
    while (*got < n) {
        size_t want = n - *got > (1u << 30) ? (1u << 30) : n - *got;
        int r = gzread(gz, (char *)buf + *got, (unsigned)want);
        if (r < 0) {
            int code;
            const char *msg = gzerror(gz, &code);
            if (code == Z_ERRNO)
                return DL_FAIL(DL_ERR_IO, "%s: read error: %s", path, strerror(errno));
            return DL_FAIL(DL_ERR_FORMAT, "%s: corrupt gzip data (%s)", path, msg);
        }
        if (r == 0) break;
        *got += (size_t)r;
    }
    return DL_OK;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static dl_status read_header(gzFile gz, const char *path, unsigned char *h, size_t n,
                             uint32_t magic, const char *kind) {
    size_t got;
    DL_TRY(read_some(gz, path, h, n, &got));
    if (got < n)
        return DL_FAIL(DL_ERR_FORMAT,
                       "%s: truncated: %zu bytes, shorter than the %zu-byte IDX "
                       "header",
                       path, got, n);
    if (be32(h) != magic)
        return DL_FAIL(DL_ERR_FORMAT, "%s: magic number %u, expected %u (an IDX %s file)%s", path,
                       be32(h), magic, kind,
                       be32(h) == IDX_IMAGES_MAGIC + IDX_LABELS_MAGIC - magic
                           ? ": images and labels swapped?"
                           : "");
    uint32_t count = be32(h + 4);
    if (count == 0 || count > IDX_MAX_COUNT)
        return DL_FAIL(DL_ERR_FORMAT, "%s: count %u is not in 1..%u", path, count, IDX_MAX_COUNT);
    return DL_OK;
}

/* Read exactly n payload bytes and make sure nothing follows them. */
static dl_status read_payload(gzFile gz, const char *path, void *buf, size_t n, const char *what) {
    size_t got;
    DL_TRY(read_some(gz, path, buf, n, &got));
    if (got < n)
        return DL_FAIL(DL_ERR_FORMAT,
                       "%s: truncated: the header announces %zu bytes of %s, the "
                       "file holds %zu",
                       path, n, what, got);
    unsigned char extra;
    DL_TRY(read_some(gz, path, &extra, 1, &got));
    if (got != 0)
        return DL_FAIL(DL_ERR_FORMAT,
                       "%s: longer than its header says (%zu bytes of %s, then "
                       "more)",
                       path, n, what);
    return DL_OK;
}

static dl_status load_files(dl_image_set *out, const char *images_path, const char *labels_path,
                            gzFile *img, gzFile *lbl, unsigned char **bytes) {
    DL_TRY(open_idx(img, images_path));
    DL_TRY(open_idx(lbl, labels_path));
    unsigned char ih[16], lh[8];
    DL_TRY(read_header(*img, images_path, ih, 16, IDX_IMAGES_MAGIC, "images"));
    DL_TRY(read_header(*lbl, labels_path, lh, 8, IDX_LABELS_MAGIC, "labels"));
    uint32_t count = be32(ih + 4), rows = be32(ih + 8), cols = be32(ih + 12);
    if (rows != DL_FASHION_MNIST_SIDE || cols != DL_FASHION_MNIST_SIDE)
        return DL_FAIL(DL_ERR_FORMAT, "%s: images are %u×%u, expected %d×%d", images_path, rows,
                       cols, DL_FASHION_MNIST_SIDE, DL_FASHION_MNIST_SIDE);
    if (be32(lh + 4) != count)
        return DL_FAIL(DL_ERR_FORMAT, "%s holds %u images but %s holds %u labels", images_path,
                       count, labels_path, be32(lh + 4));

    const size_t npix = (size_t)rows * cols, total = (size_t)count * npix;
    DL_TRY(dl_alloc((void **)bytes, total));
    DL_TRY(dl_alloc((void **)&out->pixels, total * sizeof(float)));
    DL_TRY(dl_alloc((void **)&out->labels, count * sizeof(int)));
    out->count = (int)count, out->rows = (int)rows, out->cols = (int)cols;

    DL_TRY(read_payload(*lbl, labels_path, *bytes, count, "labels"));
    for (uint32_t i = 0; i < count; i++) {
        if ((*bytes)[i] >= DL_FASHION_MNIST_CLASSES)
            return DL_FAIL(DL_ERR_FORMAT, "%s: label %u at index %u is outside 0..%d", labels_path,
                           (*bytes)[i], i, DL_FASHION_MNIST_CLASSES - 1);
        out->labels[i] = (*bytes)[i];
    }
    DL_TRY(read_payload(*img, images_path, *bytes, total, "pixels"));
    for (size_t i = 0; i < total; i++)
        out->pixels[i] = (float)(*bytes)[i] * (1.0f / 255.0f);
    return DL_OK;
}
#endif

dl_status dl_fashion_mnist_load_files(dl_image_set *out, const char *images_path,
                                      const char *labels_path) {
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!images_path || !labels_path) return DL_FAIL(DL_ERR_ARG, "a path is NULL");
#ifdef DL_HAVE_ZLIB
    gzFile img = NULL, lbl = NULL;
    unsigned char *bytes = NULL;
    dl_status s = load_files(out, images_path, labels_path, &img, &lbl, &bytes);
    if (img) gzclose(img);
    if (lbl) gzclose(lbl);
    dl_free(bytes);
    if (s != DL_OK) dl_image_set_free(out);
    return s;
#else
    return DL_FAIL(DL_ERR_UNSUPPORTED,
                   "%s: dlab was built without zlib, which reading gzip IDX "
                   "files needs (install zlib1g-dev and rebuild)",
                   images_path);
#endif
}

dl_status dl_fashion_mnist_load(dl_image_set *out, const char *dir, const char *split) {
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    const char *prefix = NULL;
    if (split && strcmp(split, "train") == 0) prefix = "train";
    if (split && strcmp(split, "test") == 0) prefix = "t10k";
    if (!prefix)
        return DL_FAIL(DL_ERR_ARG, "split \"%s\" is neither \"train\" nor \"test\"",
                       split ? split : "(null)");
    const char *d = dl_fashion_mnist_dir(dir);
    char images[4096], labels[4096];
    int a = snprintf(images, sizeof images, "%s/%s-images-idx3-ubyte.gz", d, prefix);
    int b = snprintf(labels, sizeof labels, "%s/%s-labels-idx1-ubyte.gz", d, prefix);
    if (a < 0 || b < 0 || (size_t)a >= sizeof images || (size_t)b >= sizeof labels)
        return DL_FAIL(DL_ERR_ARG, "directory name too long");
    return dl_fashion_mnist_load_files(out, images, labels);
}

void dl_image_set_stats(const dl_image_set *s, double *mean, double *std) {
    const size_t n = (size_t)s->count * s->rows * s->cols;
    double sum = 0, sum2 = 0;
    for (size_t i = 0; i < n; i++)
        sum += s->pixels[i];
    const double mu = n ? sum / (double)n : 0.0;
    for (size_t i = 0; i < n; i++)
        sum2 += (s->pixels[i] - mu) * (s->pixels[i] - mu);
    if (mean) *mean = mu;
    if (std) *std = n ? sqrt(sum2 / (double)n) : 0.0;
}

dl_status dl_image_set_normalize(dl_image_set *s, double mean, double std) {
    if (!s) return DL_FAIL(DL_ERR_ARG, "set is NULL");
    if (!(std > 0.0) || !isfinite(std) || !isfinite(mean))
        return DL_FAIL(DL_ERR_ARG, "mean=%g, std=%g: std must be finite and > 0", mean, std);
    const size_t n = (size_t)s->count * s->rows * s->cols;
    const float m = (float)mean, inv = (float)(1.0 / std);
    for (size_t i = 0; i < n; i++)
        s->pixels[i] = (s->pixels[i] - m) * inv;
    return DL_OK;
}

void dl_image_set_gather(const dl_image_set *s, const int *idx, int B, float *x, int *y) {
    const size_t npix = (size_t)s->rows * s->cols;
    for (int b = 0; b < B; b++) {
        memcpy(x + (size_t)b * npix, s->pixels + (size_t)idx[b] * npix, npix * sizeof(float));
        if (y) y[b] = s->labels[idx[b]];
    }
}
