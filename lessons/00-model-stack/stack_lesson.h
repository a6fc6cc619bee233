/* stack_lesson.h — the parts of lesson 0 (the model stack), one file each. */
#ifndef STACK_LESSON_H
#define STACK_LESSON_H

#include <stdbool.h>
#include <stdint.h>

#include "dlab/data.h"
#include "dlbench.h"

typedef struct stack_config {
    bool quick;
    uint64_t seed;
    int threads;
    long mlp_epochs;
} stack_config;

/* Train the MLP, evaluate it, write its curves, metrics and checkpoint. 0 or -1. */
int stack_train_mlp(dlb_run *run, const stack_config *cfg, const dl_image_set *train,
                    const dl_image_set *test);

#endif
