/* lora_lesson.h — lesson 3's parts, shared by lesson.c (the program) and tests/test_lesson03.c
 * (which checks what can be checked exactly: the category sets, the token remapping, a tiny
 * end-to-end run).
 *
 * The pieces: data.c (the two fortune sets, the base model: lesson 0's checkpoint or one
 * pretrained here), train.c (one fine-tuning step and one fine-tuning run, full or LoRA, with
 * its measurements), experiment.c (all runs, the side-by-side step timing, the merge check,
 * adapter switching, tables, plots, metrics). Each part returns a dl_status; the lesson
 * prints dl_last_error().
 */
#ifndef LORA_LESSON_H
#define LORA_LESSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlab/data.h"
#include "dlab/dlab.h"
#include "dlab/gpt.h"
#include "dlab/lora.h"
#include "dlbench.h"

/* The old set (what lesson 0 pretrains on) and the new one (what we fine-tune on). */
#define LORA_N_BASE_CATEGORIES 3
#define LORA_N_NEW_CATEGORIES 3
extern const char *const lora_base_categories[LORA_N_BASE_CATEGORIES];
extern const char *const lora_new_categories[LORA_N_NEW_CATEGORIES];

/* Does any name appear in both lists? */
bool lora_categories_overlap(const char *const *a, int na, const char *const *b, int nb);

typedef struct lora_config {
    bool quick;
    uint64_t seed;
    int threads;
    const char *variants;   /* "fast" or "cuda" */
    const char *base_path;  /* lesson 0's checkpoint (may not exist) */
    const char *out_dir;    /* the run directory: base.ckpt, adapters, full_ft.ckpt */
    dl_gpt_config model;    /* the config the base must have */
    int B, T;               /* fine-tuning batch: B windows of T tokens */
    long pretrain_steps;    /* when no base checkpoint fits */
    long steps;             /* fine-tuning steps of every run */
    int val_batches;        /* validation windows: val_batches × B × T tokens per set */
    float full_lr, lora_lr; /* peak learning rates (warm-up, cosine to lr/10) */
    int rank;               /* the adapter of the merge check and --adapter (default 4) */
    unsigned targets;       /* its targets (default q,v) */
    const int *ranks;       /* the rank sweep on q,v */
    int n_ranks;
    int group_rank;         /* the rank of the "attn" and "all" runs */
} lora_config;

/* ------------------------------------------------------------------ data.c */

/* Both sets, in the base model's vocabulary. The base corpus is loaded exactly as lesson 0
 * loads it (same categories, val fraction 0.1, same seed), so its vocabulary and its
 * validation split are lesson 0's. The new set is re-encoded into that vocabulary; bytes the
 * base never saw are dropped (counted in dropped_bytes). */
typedef struct lora_data {
    dl_text_corpus base;
    int *new_train, *new_val;
    size_t new_train_len, new_val_len;
    int new_train_fortunes, new_val_fortunes;
    size_t dropped_bytes;
} lora_data;

dl_status lora_data_load(lora_data *d, uint64_t seed);
void lora_data_free(lora_data *d);

/* Re-encode ids of corpus `from` into the vocabulary of `to`: out receives the ids whose
 * byte exists in `to`, in order; *n_out how many; returns how many were dropped. */
size_t lora_remap_tokens(const dl_text_corpus *from, const int *ids, size_t n,
                         const dl_text_corpus *to, int *out, size_t *n_out);

/* The base parameters (host, n = dl_gpt_param_count(&cfg->model)), into *host (dl_free it):
 * cfg->base_path when it holds a GPT of exactly cfg->model, else <out_dir>/base.ckpt from an
 * earlier run of this lesson, else pretrained here on the base set for cfg->pretrain_steps
 * (and saved as <out_dir>/base.ckpt). *origin says which, in words. */
dl_status lora_base_prepare(const lora_config *cfg, const lora_data *d, float **host,
                            char *origin, size_t origin_len);

/* Mean loss over the same val_batches windows of tokens[0..n) every time (a fixed seed). */
dl_status lora_val_loss(dl_gpt *m, const int *tokens, size_t n, int val_batches, double *out);

/* ----------------------------------------------------------------- train.c */

/* One optimizer over one flat buffer (all GPT parameters, or all adapter parameters). */
typedef struct lora_stepper {
    dl_gpt *m;
    dl_lora *lo;          /* NULL: full fine-tuning */
    float *params, *grads;
    size_t n;
    float *mom, *var;     /* AdamW moments (n each, on the model's backend) */
    long t;               /* steps taken */
    const dl_variant *opt;
    const int *x, *y;     /* the batch (host) */
    float lr, loss;
    dl_status status;     /* of the last step (for dlb_compare, whose callbacks return void) */
} lora_stepper;

/* Attach nothing yet: bind the buffers (lo NULL: m's parameters) and zero the moments. */
dl_status lora_stepper_init(lora_stepper *s, dl_gpt *m, dl_lora *lo);
void lora_stepper_free(lora_stepper *s);
/* forward, backward, clip to norm 1, AdamW (β 0.9/0.95, no weight decay). */
dl_status lora_stepper_step(lora_stepper *s);
/* dlb_fn wrapper: one step on s->x, s->y; the status in s->status. */
void lora_stepper_step_fn(void *s);

typedef struct lora_method {
    char label[48];    /* "full", "LoRA r=4 q,v", ... */
    bool full;
    int rank;
    unsigned targets;
} lora_method;

typedef struct lora_outcome {
    size_t trainable_params;
    size_t optimizer_bytes;   /* AdamW: 2 × trainable × 4 */
    size_t file_bytes;        /* adapter file, or the full checkpoint */
    size_t state_bytes;       /* params + grads + optimizer + activations (+ adapter buffers) */
    dlb_stats step_s;         /* per step: forward, backward, clip, AdamW */
    double val_new, val_old;  /* after fine-tuning */
    double train_loss;        /* mean of the last 10% of steps */
} lora_outcome;

/* Reset m to the base parameters, then fine-tune by `meth` for cfg->steps on the new set
 * (the same batches for every method: the data rng is seeded from cfg->seed). For LoRA, lo
 * receives the trained adapter (still attached to m; the caller frees it); for "full" lo is
 * untouched and the full checkpoint is written to <out_dir>/full_ft.ckpt to weigh it. */
dl_status lora_finetune(const lora_config *cfg, const lora_data *d, const float *base, dl_gpt *m,
                        const lora_method *meth, dl_lora *lo, lora_outcome *out);

/* Bytes of the training state for a LoRA run (the frozen base's gradient buffer, which the
 * model allocates but a frozen backward never touches, is not counted). */
size_t lora_state_bytes(const dl_gpt *m, const dl_lora *lo);

/* Write m's parameters as a lesson-0-style GPT checkpoint (kind "gpt"). */
dl_status lora_save_gpt(const dl_gpt *m, const char *path);

/* ------------------------------------------------------------ experiment.c */

/* Everything: runs, tables, plots, merge check, switching, metrics. */
dl_status lora_experiment(dlb_run *run, const lora_config *cfg);

/* --adapter FILE: load the base and the adapter (rank and targets from cfg), print its
 * validation losses. DL_ERR_FORMAT / DL_ERR_ARG from the library for a bad file. */
dl_status lora_evaluate_adapter(const lora_config *cfg, const char *path);

/* Relative error of b against a, normwise: max|a − b| / max|a| (0 when both are 0). */
double lora_max_rel_err(const float *a, const float *b, size_t n);

#endif
