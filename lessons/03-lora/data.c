/* data.c — lesson 3's data and base model: the two fortune sets and the pretrained GPT.
 *
 * The base set is lesson 0's (fortunes, wisdom, science); the new set is computer humour
 * (computers, linux, linuxcookie): the same language, a clearly different subject and
 * vocabulary of words, so fine-tuning has something to learn and something to forget.
 * The model's byte vocabulary is the base corpus's (a checkpoint stores only its size), so
 * the new set is re-encoded into it; the few bytes the base never saw are dropped.
 * The base model itself (load, cache, pretrain) lives in lessons/common/base_gpt.c, shared
 * with lesson 4.
 * Left out: a shared vocabulary built from both sets (lesson 0's checkpoint fixes it).
 */
#include <string.h>

#include "../common/base_gpt.h"
#include "lora_lesson.h"

const char *const lora_base_categories[LORA_N_BASE_CATEGORIES] = {"fortunes", "wisdom", "science"};
const char *const lora_new_categories[LORA_N_NEW_CATEGORIES] = {"computers", "linux", "linuxcookie"};

bool lora_categories_overlap(const char *const *a, int na, const char *const *b, int nb) {
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            if (strcmp(a[i], b[j]) == 0) return true;
    return false;
}

size_t lora_remap_tokens(const dl_text_corpus *from, const int *ids, size_t n,
                         const dl_text_corpus *to, int *out, size_t *n_out) {
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        /* the separator maps to the separator even if the two corpora chose different bytes */
        int id = ids[i] == from->separator_id ? to->separator_id
                                              : to->byte_to_id[from->id_to_byte[ids[i]]];
        if (id >= 0) out[kept++] = id;
    }
    *n_out = kept;
    return n - kept;
}

void lora_data_free(lora_data *d) {
    dl_text_corpus_free(&d->base);
    dl_free(d->new_train), dl_free(d->new_val);
    memset(d, 0, sizeof *d);
}

dl_status lora_data_load(lora_data *d, uint64_t seed) {
    memset(d, 0, sizeof *d);
    dl_fortunes_options base_opt = {.categories = lora_base_categories,
                                    .n_categories = LORA_N_BASE_CATEGORIES,
                                    .val_fraction = 0.1, .seed = seed};
    dl_fortunes_options new_opt = {.categories = lora_new_categories,
                                   .n_categories = LORA_N_NEW_CATEGORIES,
                                   .val_fraction = 0.1, .seed = seed};
    dl_text_corpus fresh = {0};
    dl_status s = dl_fortunes_load(&d->base, &base_opt);
    if (s == DL_OK) s = dl_fortunes_load(&fresh, &new_opt);
    if (s == DL_OK) s = dl_alloc((void **)&d->new_train, fresh.train_len * sizeof(int));
    if (s == DL_OK) s = dl_alloc((void **)&d->new_val, fresh.val_len * sizeof(int));
    if (s == DL_OK) {
        d->dropped_bytes = lora_remap_tokens(&fresh, fresh.train, fresh.train_len, &d->base,
                                             d->new_train, &d->new_train_len);
        d->dropped_bytes += lora_remap_tokens(&fresh, fresh.val, fresh.val_len, &d->base,
                                              d->new_val, &d->new_val_len);
        d->new_train_fortunes = fresh.train_fortunes, d->new_val_fortunes = fresh.val_fortunes;
    }
    dl_text_corpus_free(&fresh);
    if (s != DL_OK) lora_data_free(d);
    return s;
}

dl_status lora_val_loss(dl_gpt *m, const int *tokens, size_t n, int val_batches, double *out) {
    return lesson_gpt_val_loss(m, tokens, n, val_batches, out);
}

dl_status lora_save_gpt(const dl_gpt *m, const char *path) { return lesson_gpt_save(m, path); }

dl_status lora_base_prepare(const lora_config *cfg, const lora_data *d, float **host,
                            char *origin, size_t origin_len) {
    lesson_base_gpt_opts o = {.model = cfg->model, .variants = cfg->variants,
                              .base_path = cfg->base_path, .out_dir = cfg->out_dir,
                              .B = cfg->B, .T = cfg->T, .pretrain_steps = cfg->pretrain_steps,
                              .seed = cfg->seed, .train = d->base.train,
                              .train_len = d->base.train_len};
    return lesson_base_gpt_prepare(&o, host, origin, origin_len);
}
