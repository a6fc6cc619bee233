/* data_text.c — the fortunes corpus: read categories, split by whole fortunes, encode bytes.
 *
 * A fortune file (strfile's input format) is plain text; a line holding only "%" ends a
 * fortune. The .dat files beside them are strfile's binary offset indexes and the .u8 files
 * UTF-8 twins (here symlinks); we take a category by its plain name and never read those.
 * The split is by fortune, not by character offset: a window of validation text is then
 * never the tail of a fortune the model trained on.
 * Left out: strfile's rot13 "offensive" files and any subword tokenization.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/data.h"

typedef struct fortune {
    const char *text;
    size_t len;
} fortune;

typedef struct fortune_list {
    fortune *items;
    int count, cap;
    char **files; /* the file buffers the texts point into */
    int nfiles;
} fortune_list;

static dl_status read_whole_file(const char *path, char **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return DL_FAIL(DL_ERR_IO,
                           "%s: no such fortune category. The corpus comes from the "
                           "Debian package fortunes: sudo apt-get install fortunes (or run "
                           "scripts/setup), or set DLAB_FORTUNES_DIR",
                           path);
        return DL_FAIL(DL_ERR_IO, "%s: %s", path, strerror(errno));
    }
    size_t cap = 1 << 16, n = 0;
    char *p = malloc(cap);
    while (p) {
        n += fread(p + n, 1, cap - n, f);
        if (n < cap) break;
        char *q = realloc(p, cap *= 2);
        if (!q) free(p);
        p = q;
    }
    int err = ferror(f);
    fclose(f);
    if (!p) return DL_FAIL(DL_ERR_ALLOC, "%s: out of memory reading it", path);
    if (err) {
        free(p);
        return DL_FAIL(DL_ERR_IO, "%s: read error", path);
    }
    *buf = p, *len = n;
    return DL_OK;
}

static bool is_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') return false;
    return true;
}

static dl_status add_fortune(fortune_list *l, const char *text, size_t len) {
    if (len > 0 && text[len - 1] == '\n') len--;
    if (is_blank(text, len)) return DL_OK;
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 1024;
        fortune *f = realloc(l->items, (size_t)cap * sizeof *f);
        if (!f) return DL_FAIL(DL_ERR_ALLOC, "out of memory for %d fortunes", cap);
        l->items = f, l->cap = cap;
    }
    l->items[l->count++] = (fortune){text, len};
    return DL_OK;
}

/* Split one file's text at lines that hold only "%" (a "\r" before the newline allowed). */
static dl_status split_fortunes(fortune_list *l, const char *buf, size_t n) {
    size_t start = 0, line = 0;
    while (line < n) {
        const char *nl = memchr(buf + line, '\n', n - line);
        size_t end = nl ? (size_t)(nl - buf) : n; /* the line is [line, end) */
        size_t len = end - line;
        if (len > 0 && buf[end - 1] == '\r') len--;
        if (len == 1 && buf[line] == '%') {
            DL_TRY(add_fortune(l, buf + start, line - start));
            start = end + 1;
        }
        line = end + 1;
    }
    if (start < n) DL_TRY(add_fortune(l, buf + start, n - start));
    return DL_OK;
}

static dl_status read_categories(fortune_list *l, const dl_fortunes_options *o) {
    static const char *const defaults[] = {"fortunes", "wisdom", "science"};
    const char *const *cats = o->categories ? o->categories : defaults;
    const int ncat = o->categories ? o->n_categories : 3;
    const char *env = getenv("DLAB_FORTUNES_DIR");
    const char *dir = o->dir && *o->dir ? o->dir : env && *env ? env : DL_FORTUNES_DIR;
    if (ncat < 1) return DL_FAIL(DL_ERR_ARG, "n_categories=%d: choose at least one", ncat);
    l->files = calloc((size_t)ncat, sizeof(char *));
    if (!l->files) return DL_FAIL(DL_ERR_ALLOC, "out of memory");
    for (int c = 0; c < ncat; c++) {
        const char *name = cats[c];
        if (!name || !*name || strchr(name, '/') || name[0] == '.')
            return DL_FAIL(DL_ERR_ARG, "category \"%s\" is not a plain file name",
                           name ? name : "(null)");
        char path[4096];
        int w = snprintf(path, sizeof path, "%s/%s", dir, name);
        if (w < 0 || (size_t)w >= sizeof path) return DL_FAIL(DL_ERR_ARG, "path too long");
        size_t len = 0;
        DL_TRY(read_whole_file(path, &l->files[c], &len));
        l->nfiles = c + 1;
        DL_TRY(split_fortunes(l, l->files[c], len));
    }
    if (l->count == 0) return DL_FAIL(DL_ERR_FORMAT, "no fortunes found in %s", dir);
    return DL_OK;
}

/* Concatenate the fortunes with is_val[i] == want, a separator after each; count them. */
static dl_status encode_set(const fortune_list *l, const bool *is_val, bool want,
                            const dl_text_corpus *c, unsigned char sep, int **out, size_t *len,
                            int *nfortunes) {
    size_t n = 0;
    int k = 0;
    for (int i = 0; i < l->count; i++)
        if (is_val[i] == want) n += l->items[i].len + 1, k++;
    DL_TRY(dl_alloc((void **)out, (n ? n : 1) * sizeof(int)));
    size_t at = 0;
    for (int i = 0; i < l->count; i++) {
        if (is_val[i] != want) continue;
        for (size_t j = 0; j < l->items[i].len; j++) {
            unsigned char b = (unsigned char)l->items[i].text[j];
            if (b != sep) (*out)[at++] = c->byte_to_id[b];
        }
        (*out)[at++] = c->separator_id;
    }
    *len = at, *nfortunes = k;
    return DL_OK;
}

static dl_status build(dl_text_corpus *c, fortune_list *l, const dl_fortunes_options *o,
                       bool **is_val, int **perm) {
    DL_TRY(read_categories(l, o));
    const unsigned char sep = o->separator;
    /* the vocabulary: every byte that occurs, and the separator, in byte order */
    bool seen[256] = {false};
    seen[sep] = true;
    for (int i = 0; i < l->count; i++)
        for (size_t j = 0; j < l->items[i].len; j++)
            seen[(unsigned char)l->items[i].text[j]] = true;
    for (int b = 0; b < 256; b++) {
        c->byte_to_id[b] = -1;
        if (seen[b])
            c->id_to_byte[c->vocab_size] = (unsigned char)b, c->byte_to_id[b] = c->vocab_size++;
    }
    c->separator_id = c->byte_to_id[sep];

    /* which fortunes go to validation: the first n_val of a seeded shuffle */
    const int n = l->count;
    int n_val = (int)lround(o->val_fraction * n);
    if (n_val > n - 1) n_val = n - 1; /* training keeps at least one fortune */
    if (o->val_fraction > 0 && n >= 2 && n_val < 1) n_val = 1;
    *is_val = calloc((size_t)n, sizeof(bool));
    *perm = malloc((size_t)n * sizeof(int));
    if (!*is_val || !*perm) return DL_FAIL(DL_ERR_ALLOC, "out of memory");
    dl_rng rng;
    dl_rng_seed(&rng, o->seed);
    for (int i = 0; i < n; i++)
        (*perm)[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)dl_rng_below(&rng, (uint64_t)i + 1), t = (*perm)[i];
        (*perm)[i] = (*perm)[j], (*perm)[j] = t;
    }
    for (int i = 0; i < n_val; i++)
        (*is_val)[(*perm)[i]] = true;
    DL_TRY(encode_set(l, *is_val, false, c, sep, &c->train, &c->train_len, &c->train_fortunes));
    DL_TRY(encode_set(l, *is_val, true, c, sep, &c->val, &c->val_len, &c->val_fortunes));
    return DL_OK;
}

dl_status dl_fortunes_load(dl_text_corpus *out, const dl_fortunes_options *opt) {
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    dl_fortunes_options o = opt ? *opt : (dl_fortunes_options){0};
    if (!(o.val_fraction >= 0.0 && o.val_fraction < 1.0))
        return DL_FAIL(DL_ERR_ARG, "val_fraction=%g is not in [0, 1)", o.val_fraction);
    fortune_list l = {0};
    bool *is_val = NULL;
    int *perm = NULL;
    dl_status s = build(out, &l, &o, &is_val, &perm);
    for (int i = 0; i < l.nfiles; i++)
        free(l.files[i]);
    free(l.files), free(l.items), free(is_val), free(perm);
    if (s != DL_OK) dl_text_corpus_free(out);
    return s;
}

void dl_text_corpus_free(dl_text_corpus *c) {
    if (!c) return;
    dl_free(c->train);
    dl_free(c->val);
    memset(c, 0, sizeof *c);
}

dl_status dl_text_encode(const dl_text_corpus *c, const char *text, size_t n, int *ids) {
    for (size_t i = 0; i < n; i++) {
        int id = c->byte_to_id[(unsigned char)text[i]];
        if (id < 0)
            return DL_FAIL(DL_ERR_ARG, "byte 0x%02x at offset %zu is not in the vocabulary",
                           (unsigned char)text[i], i);
        ids[i] = id;
    }
    return DL_OK;
}

dl_status dl_text_decode(const dl_text_corpus *c, const int *ids, size_t n, char *text) {
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return DL_FAIL(DL_ERR_ARG, "id %d at offset %zu is outside [0, %d)", ids[i], i,
                           c->vocab_size);
        text[i] = (char)c->id_to_byte[ids[i]];
    }
    return DL_OK;
}
