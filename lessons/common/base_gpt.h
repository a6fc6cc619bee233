/* base_gpt.h — the trained GPT that later lessons start from, shared by every lesson that
 * needs one (lesson 3 fine-tunes it, lesson 4 quantizes it).
 *
 * Where it comes from, in this order: lesson 0's checkpoint (results/00-model-stack/gpt.ckpt)
 * when it holds a GPT of exactly the wanted config; else <out_dir>/base.ckpt written by an
 * earlier run of the calling lesson; else pretrained here with lesson 0's recipe, shortened,
 * and saved as <out_dir>/base.ckpt. Also: a checkpoint writer and the fixed-window validation
 * loss every lesson reports.
 * Left out: resuming a pretraining run, checkpoints of other model kinds.
 */
#ifndef LESSON_BASE_GPT_H
#define LESSON_BASE_GPT_H

#include <stddef.h>
#include <stdint.h>

#include "dlab/dlab.h"
#include "dlab/gpt.h"

typedef struct lesson_base_gpt_opts {
    dl_gpt_config model;   /* the config the base must have (vocab included) */
    const char *variants;  /* "fast" or "cuda": what pretraining runs on */
    const char *base_path; /* lesson 0's checkpoint; NULL or a missing file: none */
    const char *out_dir;   /* <out_dir>/base.ckpt caches a base pretrained here */
    int B, T;              /* pretraining batch */
    long pretrain_steps;   /* <= 0: never pretrain (DL_ERR_IO when no checkpoint fits) */
    uint64_t seed;         /* weights and batches of the pretraining */
    const int *train;      /* the token ids it pretrains on */
    size_t train_len;
} lesson_base_gpt_opts;

/* The base parameters (host, dl_gpt_param_count(&o->model) floats) into *host (dl_free it);
 * *origin says where they came from, in words. */
dl_status lesson_base_gpt_prepare(const lesson_base_gpt_opts *o, float **host, char *origin,
                                  size_t origin_len);

/* The parameters of a "gpt" checkpoint whose config is exactly `want`, into host.
 * DL_ERR_IO when the file does not exist, DL_ERR_FORMAT when it is not such a checkpoint. */
dl_status lesson_gpt_load(const char *path, const dl_gpt_config *want, float *host);

/* Write m's parameters as a lesson-0-style GPT checkpoint (kind "gpt"). */
dl_status lesson_gpt_save(const dl_gpt *m, const char *path);

/* Mean next-token loss over the same val_batches windows (m->max_B × m->max_T tokens each,
 * drawn with a fixed seed) of tokens[0..n) every time: comparable across calls and models. */
dl_status lesson_gpt_val_loss(dl_gpt *m, const int *tokens, size_t n, int val_batches, double *out);

#endif
