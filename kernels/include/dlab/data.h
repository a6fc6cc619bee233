/* data.h — the real data the models train on, and shuffled mini-batches of it.
 *
 * Fashion-MNIST (Xiao, Rasul & Vollgraf 2017): 70 000 grey 28×28 images of clothing in 10
 * classes, as the gzip IDX files of Debian's `dataset-fashion-mnist` in
 * /usr/share/datasets/fashion-mnist. Every header field is validated; a missing, truncated
 * or corrupt file is an error naming the file and what is wrong, and a missing dataset names
 * the package that provides it.
 *
 * Fortunes: the text corpus of Debian's `fortunes` in /usr/share/games/fortunes, one file
 * per category, fortunes separated by lines holding only "%". The corpus is encoded at the
 * byte level (a character vocabulary of the bytes that occur) and split into training and
 * validation sets by WHOLE fortunes, so no fortune leaks across the split.
 *
 * Batches: an epoch-wise shuffled index sampler for images and a random-window sampler for
 * text. Both are deterministic functions of a seed, and their whole state fits in a few
 * u64s, so a checkpoint can resume them exactly.
 *
 *     dl_image_set train;
 *     if (dl_fashion_mnist_load(&train, NULL, "train") != DL_OK) die(dl_last_error());
 *
 * Left out: data augmentation, other datasets, background prefetching, tokenizers beyond
 * bytes (a UTF-8 character is several tokens).
 */
#ifndef DLAB_DATA_H
#define DLAB_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ Fashion-MNIST */

#define DL_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"
#define DL_FASHION_MNIST_CLASSES 10
#define DL_FASHION_MNIST_SIDE 28

typedef struct dl_image_set {
    int count;      /* N images */
    int rows, cols; /* 28, 28 */
    float *pixels;  /* (N, rows·cols) row-major, in [0, 1] (or normalized, see below) */
    int *labels;    /* (N) class indices 0..9 */
} dl_image_set;

/* The directory: `dir` if not NULL, else $DLAB_FASHION_MNIST_DIR if set, else
 * DL_FASHION_MNIST_DIR. */
const char *dl_fashion_mnist_dir(const char *dir);

/* Load split "train" (60 000 images) or "test" (10 000) from dl_fashion_mnist_dir(dir):
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz. On failure *out is left empty. Errors:
 * DL_ERR_IO for a missing or unreadable file (a missing one: "install the Debian package
 * dataset-fashion-mnist"), DL_ERR_FORMAT for a wrong magic number, sizes, a label > 9, a
 * truncated or over-long file, or a corrupt gzip stream; DL_ERR_UNSUPPORTED without zlib. */
dl_status dl_fashion_mnist_load(dl_image_set *out, const char *dir, const char *split);

/* The same from two explicit paths (gzip, or plain IDX: zlib reads both). Checks: magic
 * 2051 (images) / 2049 (labels), 28×28 images, equal counts, labels 0..9, exact lengths. */
dl_status dl_fashion_mnist_load_files(dl_image_set *out, const char *images_path,
                                      const char *labels_path);

void dl_image_set_free(dl_image_set *s);

/* Mean and standard deviation of all pixels (in double). Compute them on the training set
 * and normalize both sets with them: x = (x − mean) / std. std must be > 0. */
void dl_image_set_stats(const dl_image_set *s, double *mean, double *std);
dl_status dl_image_set_normalize(dl_image_set *s, double mean, double std);

/* Copy images idx[0..B) into x (B, rows·cols) and their labels into y (B). */
void dl_image_set_gather(const dl_image_set *s, const int *idx, int B, float *x, int *y);

/* ----------------------------------------------------------------- fortunes */

#define DL_FORTUNES_DIR "/usr/share/games/fortunes"

typedef struct dl_fortunes_options {
    const char *dir;               /* NULL: $DLAB_FORTUNES_DIR, else DL_FORTUNES_DIR */
    const char *const *categories; /* file names; NULL: {"fortunes", "wisdom", "science"} */
    int n_categories;
    double val_fraction;     /* of the fortunes, in [0, 1) */
    uint64_t seed;           /* chooses which fortunes go to validation */
    unsigned char separator; /* ends every fortune; 0 (NUL, the default) is token 0 */
} dl_fortunes_options;

typedef struct dl_text_corpus {
    int vocab_size;                /* distinct bytes in the corpus (separator included) */
    unsigned char id_to_byte[256]; /* token id -> byte, ids sorted by byte value */
    int byte_to_id[256];           /* byte -> token id, −1 for bytes not in the corpus */
    int separator_id;              /* the token that ends a fortune */
    int *train, *val;              /* token ids: fortune, separator, fortune, separator, ... */
    size_t train_len, val_len;     /* tokens */
    int train_fortunes, val_fortunes;
} dl_text_corpus;

/* Read the categories, drop empty fortunes, pick round(val_fraction·count) fortunes for
 * validation (a seeded shuffle; at least one each way when val_fraction > 0 and there are
 * two or more), and concatenate each set in file order, a separator after every fortune.
 * A fortune's text is its lines with their newlines, minus the last newline; bytes equal to
 * the separator are dropped from it, so the separator is unambiguous (NUL, the default,
 * never occurs in the Debian files). The vocabulary covers both sets.
 * Errors: DL_ERR_IO for a missing category (naming the package `fortunes`), DL_ERR_ARG for a
 * category name with '/' or starting with '.', DL_ERR_FORMAT when no fortune is found. */
dl_status dl_fortunes_load(dl_text_corpus *out, const dl_fortunes_options *opt);

void dl_text_corpus_free(dl_text_corpus *c);

/* Encode bytes to ids (DL_ERR_ARG naming the first byte not in the vocabulary), and ids back
 * to bytes (DL_ERR_ARG for an id outside [0, vocab_size)). */
dl_status dl_text_encode(const dl_text_corpus *c, const char *text, size_t n, int *ids);
dl_status dl_text_decode(const dl_text_corpus *c, const int *ids, size_t n, char *text);

/* --------------------------------------------------------------- batches */

/* Epoch-wise shuffled indices of [0, n): each epoch is a Fisher–Yates shuffle of 0..n−1
 * drawn from the RNG; batches are consecutive slices of it; a batch that would run past the
 * end starts the next epoch instead (the last n mod B indices of an epoch are dropped, so
 * every batch is full and every epoch is a fresh permutation). */
typedef struct dl_index_sampler {
    int n;
    int *order;       /* (n) this epoch's permutation */
    int pos;          /* next unused position in order */
    long epoch;       /* 0-based, counts shuffles */
    dl_rng epoch_rng; /* the RNG state that drew this epoch's permutation */
    dl_rng rng;       /* the RNG state after it: draws the next epoch */
} dl_index_sampler;

dl_status dl_sampler_init(dl_index_sampler *s, int n, uint64_t seed);
void dl_sampler_free(dl_index_sampler *s);
/* Fill idx[0..B) with the next batch. DL_ERR_ARG when B < 1 or B > n. */
dl_status dl_sampler_next(dl_index_sampler *s, int *idx, int B);

/* Save/restore the sampler for a checkpoint: DL_SAMPLER_STATE_WORDS u64s (the epoch's RNG
 * state, position and epoch; the permutation is redrawn). restore needs a sampler made by
 * dl_sampler_init with the same n; DL_ERR_ARG when the state does not fit it. */
#define DL_SAMPLER_STATE_WORDS 6
void dl_sampler_save(const dl_index_sampler *s, uint64_t state[DL_SAMPLER_STATE_WORDS]);
dl_status dl_sampler_restore(dl_index_sampler *s, const uint64_t state[DL_SAMPLER_STATE_WORDS]);

/* B random windows of T+1 consecutive tokens: inputs (B, T) = window[0..T), targets (B, T)
 * = window[1..T] (the next token). Starts are uniform over [0, n_tokens − T − 1], drawn
 * from rng (B draws, so the rng state is all a checkpoint needs). DL_ERR_ARG when
 * n_tokens < T + 1 or B, T < 1. */
dl_status dl_text_sample_batch(const int *tokens, size_t n_tokens, int B, int T, dl_rng *rng,
                               int *inputs, int *targets);

#ifdef __cplusplus
}
#endif
#endif
