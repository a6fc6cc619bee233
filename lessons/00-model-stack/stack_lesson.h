/* stack_lesson.h — the parts of lesson 0 (the model stack), one file each. */
#ifndef STACK_LESSON_H
#define STACK_LESSON_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dlab/data.h"
#include "dlbench.h"

typedef struct stack_config {
    bool quick;
    uint64_t seed;
    int threads;
    long mlp_epochs;
    long cnn_epochs; /* epochs of CNN training */
    long gpt_steps; /* training steps of the character-level GPT (0: the default budget) */
    bool resume; /* --resume: continue from the checkpoints in the results directory */
    const char *device; /* --device: "cpu" (NULL too) or "cuda" */
} stack_config;

/* The models' `variants` for the device: "cuda" → the CUDA backend, else the fastest CPU
 * variants ("fast"). */
static inline const char *stack_variants(const stack_config *cfg) {
    return cfg->device && strcmp(cfg->device, "cuda") == 0 ? "cuda" : "fast";
}

/* Train the MLP, evaluate it, write its curves, metrics and checkpoint. 0 or -1. */
int stack_train_mlp(dlb_run *run, const stack_config *cfg, const dl_image_set *train,
                    const dl_image_set *test);
/* Train k steps, checkpoint into dir, load into a fresh trainer, train k more, and compare
 * with 2k uninterrupted steps: 1 if every loss and weight is bit-identical, 0 if not, -1 on
 * error. Uses the first 4096 training images. */
int mlp_resume_is_bit_identical(const dl_image_set *train, uint64_t seed, long k, const char *dir);
/* The same check with models made from `variants` ("fast", "cuda"). */
int mlp_resume_is_bit_identical_on(const dl_image_set *train, uint64_t seed, long k,
                                   const char *dir, const char *variants);
/* Train the character-level GPT on the fortunes corpus: unigram baseline, curves, samples,
 * metrics and checkpoint gpt.ckpt. 0 or -1. */
int stack_train_gpt(dlb_run *run, const stack_config *cfg);

/* Train the CNN, evaluate it, write its curves, metrics and checkpoint cnn.ckpt. 0 or -1. */
int stack_train_cnn(dlb_run *run, const stack_config *cfg, const dl_image_set *train,
                    const dl_image_set *test);

#endif
