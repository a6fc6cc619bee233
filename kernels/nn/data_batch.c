/* data_batch.c — shuffled mini-batches: an epoch-wise index sampler and random text windows.
 *
 * Both are pure functions of their RNG state, which is what makes a resumed run identical
 * to an uninterrupted one: the index sampler keeps the RNG state that drew the current
 * epoch's permutation, so saving (that state, position, epoch) and redrawing the
 * permutation on restore puts it exactly where it was, without storing n indices.
 * Left out: sampling with replacement, class balancing, and last partial batches.
 */
#include <string.h>

#include "dlab/data.h"

/* Fisher–Yates (Knuth's Algorithm P) over the identity: every permutation equally likely. */
static void start_epoch(dl_index_sampler *s) {
    s->epoch_rng = s->rng;
    for (int i = 0; i < s->n; i++)
        s->order[i] = i;
    for (int i = s->n - 1; i > 0; i--) {
        int j = (int)dl_rng_below(&s->rng, (uint64_t)i + 1), t = s->order[i];
        s->order[i] = s->order[j], s->order[j] = t;
    }
    s->pos = 0;
}

dl_status dl_sampler_init(dl_index_sampler *s, int n, uint64_t seed) {
    if (!s) return DL_FAIL(DL_ERR_ARG, "sampler is NULL");
    memset(s, 0, sizeof *s);
    if (n < 1) return DL_FAIL(DL_ERR_ARG, "n=%d: nothing to sample", n);
    DL_TRY(dl_alloc((void **)&s->order, (size_t)n * sizeof(int)));
    s->n = n;
    dl_rng_seed(&s->rng, seed);
    start_epoch(s);
    return DL_OK;
}

void dl_sampler_free(dl_index_sampler *s) {
    if (!s) return;
    dl_free(s->order);
    memset(s, 0, sizeof *s);
}

dl_status dl_sampler_next(dl_index_sampler *s, int *idx, int B) {
    if (!s || !s->order) return DL_FAIL(DL_ERR_ARG, "sampler is not initialised");
    if (B < 1 || B > s->n) return DL_FAIL(DL_ERR_ARG, "B=%d is not in 1..n=%d", B, s->n);
    if (s->pos + B > s->n) {
        start_epoch(s);
        s->epoch++;
    }
    memcpy(idx, s->order + s->pos, (size_t)B * sizeof(int));
    s->pos += B;
    return DL_OK;
}

void dl_sampler_save(const dl_index_sampler *s, uint64_t state[DL_SAMPLER_STATE_WORDS]) {
    for (int i = 0; i < 4; i++)
        state[i] = s->epoch_rng.s[i];
    state[4] = (uint64_t)s->pos;
    state[5] = (uint64_t)s->epoch;
}

dl_status dl_sampler_restore(dl_index_sampler *s, const uint64_t state[DL_SAMPLER_STATE_WORDS]) {
    if (!s || !s->order) return DL_FAIL(DL_ERR_ARG, "sampler is not initialised");
    if (state[4] > (uint64_t)s->n)
        return DL_FAIL(DL_ERR_ARG,
                       "saved position %llu exceeds n=%d (a sampler of another "
                       "dataset?)",
                       (unsigned long long)state[4], s->n);
    if (state[5] > (uint64_t)1 << 62) return DL_FAIL(DL_ERR_ARG, "saved epoch is corrupt");
    if (!(state[0] | state[1] | state[2] | state[3]))
        return DL_FAIL(DL_ERR_ARG, "saved RNG state is all zero");
    for (int i = 0; i < 4; i++)
        s->rng.s[i] = state[i];
    start_epoch(s);
    s->pos = (int)state[4];
    s->epoch = (long)state[5];
    return DL_OK;
}

dl_status dl_text_sample_batch(const int *tokens, size_t n_tokens, int B, int T, dl_rng *rng,
                               int *inputs, int *targets) {
    if (B < 1 || T < 1) return DL_FAIL(DL_ERR_ARG, "B=%d, T=%d: both must be >= 1", B, T);
    if (!tokens || !rng || !inputs || !targets) return DL_FAIL(DL_ERR_ARG, "a pointer is NULL");
    if (n_tokens < (size_t)T + 1)
        return DL_FAIL(DL_ERR_ARG, "%zu tokens cannot hold a window of T+1=%d", n_tokens, T + 1);
    const uint64_t starts = n_tokens - (size_t)T; /* a window may start at 0..n−T−1 */
    for (int b = 0; b < B; b++) {
        const int *w = tokens + dl_rng_below(rng, starts);
        memcpy(inputs + (size_t)b * T, w, (size_t)T * sizeof(int));
        memcpy(targets + (size_t)b * T, w + 1, (size_t)T * sizeof(int));
    }
    return DL_OK;
}
