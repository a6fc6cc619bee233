/* sparse.c — masks, the prune-rate schedule, and the prune/regrow step of sparse momentum,
 * SET and static masks (dlab/sparse.h).
 *
 * Everything here works on host arrays and runs once per epoch (prune/regrow) or once per
 * step (apply): sorting a layer's weights with qsort is a few milliseconds for LeNet-300-100,
 * nothing next to an epoch, so the code stays the obvious one.
 *
 * Invariants (checked by tests/test_sparse.c):
 *   1. a mask entry is 0 or 1, active[l] is the number of ones in mask[l];
 *   2. after dl_sparse_apply, params is 0 wherever the mask is 0;
 *   3. prune_regrow keeps Σ active[l] (MOMENTUM moves weights between layers, the others keep
 *      each layer's count), and every regrown weight is 0;
 *   4. the pruned weights of a layer are its smallest-magnitude active ones.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/sparse.h"

const char *dl_sparse_method_name(dl_sparse_method m) {
    switch (m) {
    case DL_SPARSE_DENSE: return "dense";
    case DL_SPARSE_STATIC: return "static";
    case DL_SPARSE_SET: return "set";
    case DL_SPARSE_MOMENTUM: return "sparse_momentum";
    }
    return "?";
}

dl_sparse_config dl_sparse_defaults(dl_sparse_method method, double density) {
    dl_sparse_config c = {.method = method, .density = density, .prune_rate = 0.5,
                          .prune_rate_min = 0.005};
    return c;
}

dl_status dl_sparse_config_check(const dl_sparse_config *c) {
    if (!c) return DL_FAIL(DL_ERR_ARG, "config is NULL");
    if (c->method < DL_SPARSE_DENSE || c->method > DL_SPARSE_MOMENTUM)
        return DL_FAIL(DL_ERR_ARG, "unknown sparse method %d", (int)c->method);
    if (!(c->density > 0.0 && c->density <= 1.0))
        return DL_FAIL(DL_ERR_ARG, "density %g must be in (0, 1]", c->density);
    if (!(c->prune_rate > 0.0 && c->prune_rate < 1.0))
        return DL_FAIL(DL_ERR_ARG, "prune rate %g must be in (0, 1)", c->prune_rate);
    if (!(c->prune_rate_min >= 0.0 && c->prune_rate_min <= c->prune_rate))
        return DL_FAIL(DL_ERR_ARG, "prune rate floor %g must be in [0, prune rate %g]",
                       c->prune_rate_min, c->prune_rate);
    if (c->method == DL_SPARSE_DENSE && c->density != 1.0)
        return DL_FAIL(DL_ERR_ARG, "method dense needs density 1, not %g", c->density);
    return DL_OK;
}

double dl_sparse_prune_rate_at(const dl_sparse_config *c, long step, long total_steps) {
    if (total_steps <= 0) return c->prune_rate;
    double t = step < 0 ? 0 : step > total_steps ? (double)total_steps : (double)step;
    const double pi = 3.14159265358979323846;
    return c->prune_rate_min +
           (c->prune_rate - c->prune_rate_min) * 0.5 * (1.0 + cos(pi * t / (double)total_steps));
}

/* ------------------------------------------------------------------ masks */

static size_t layer_size(const dl_sparse *s, int l) { return (size_t)s->rows[l] * s->cols[l]; }

dl_status dl_sparse_create(dl_sparse *s, const dl_sparse_config *c, int n_layers, const int *rows,
                           const int *cols, const size_t *offset, uint64_t seed) {
    if (!s) return DL_FAIL(DL_ERR_ARG, "sparse is NULL");
    memset(s, 0, sizeof *s);
    DL_TRY(dl_sparse_config_check(c));
    if (n_layers < 1 || n_layers > DL_SPARSE_MAX_LAYERS)
        return DL_FAIL(DL_ERR_ARG, "n_layers=%d must be 1..%d", n_layers, DL_SPARSE_MAX_LAYERS);
    if (!rows || !cols || !offset) return DL_FAIL(DL_ERR_ARG, "rows, cols or offset is NULL");
    size_t total = 0, largest = 0;
    for (int l = 0; l < n_layers; l++) {
        if (rows[l] < 1 || cols[l] < 1)
            return DL_FAIL(DL_ERR_ARG, "layer %d is %dx%d", l, rows[l], cols[l]);
        size_t n = (size_t)rows[l] * cols[l];
        total += n, largest = n > largest ? n : largest;
    }
    s->cfg = *c, s->n_layers = n_layers;
    dl_rng_seed(&s->rng, seed);
    unsigned char *block;
    int *order;
    DL_TRY(dl_calloc((void **)&block, total));
    if (dl_alloc((void **)&order, largest * sizeof(int)) != DL_OK) return dl_free(block), DL_ERR_ALLOC;
    for (int l = 0; l < n_layers; l++) {
        s->rows[l] = rows[l], s->cols[l] = cols[l], s->offset[l] = offset[l];
        s->mask[l] = block, block += layer_size(s, l);
        const size_t n = layer_size(s, l);
        size_t k = (size_t)llround(c->density * (double)n);
        if (k < 1) k = 1;
        if (k > n) k = n;
        /* the first k of a partial Fisher–Yates shuffle: a uniform k-subset */
        for (size_t i = 0; i < n; i++) order[i] = (int)i;
        for (size_t i = 0; i < k; i++) {
            size_t j = i + (size_t)dl_rng_below(&s->rng, n - i);
            int t = order[i];
            order[i] = order[j], order[j] = t;
            s->mask[l][order[i]] = 1;
        }
        s->active[l] = k;
    }
    dl_free(order);
    return DL_OK;
}

dl_status dl_sparse_create_for_mlp(dl_sparse *s, const dl_sparse_config *c, const dl_mlp *m,
                                   uint64_t seed) {
    if (!m || m->n_layers < 1) return DL_FAIL(DL_ERR_ARG, "model is NULL or not created");
    int rows[DL_SPARSE_MAX_LAYERS], cols[DL_SPARSE_MAX_LAYERS];
    size_t offset[DL_SPARSE_MAX_LAYERS];
    for (int l = 0; l < m->n_layers; l++) {
        rows[l] = l < m->cfg.n_hidden ? m->cfg.hidden[l] : m->cfg.classes;
        cols[l] = l == 0 ? m->cfg.inputs : m->cfg.hidden[l - 1];
        offset[l] = (size_t)(m->W[l] - m->params);
    }
    return dl_sparse_create(s, c, m->n_layers, rows, cols, offset, seed);
}

void dl_sparse_free(dl_sparse *s) {
    if (!s) return;
    dl_free(s->mask[0]);
    memset(s, 0, sizeof *s);
}

size_t dl_sparse_active(const dl_sparse *s) {
    size_t a = 0;
    for (int l = 0; l < s->n_layers; l++) a += s->active[l];
    return a;
}

double dl_sparse_density(const dl_sparse *s) {
    size_t n = 0;
    for (int l = 0; l < s->n_layers; l++) n += layer_size(s, l);
    return n ? (double)dl_sparse_active(s) / (double)n : 0.0;
}

double dl_sparse_layer_density(const dl_sparse *s, int l) {
    return (double)s->active[l] / (double)layer_size(s, l);
}

void dl_sparse_mask_state(const dl_sparse *s, float *state) {
    for (int l = 0; l < s->n_layers; l++) {
        float *w = state + s->offset[l];
        const unsigned char *mk = s->mask[l];
        const size_t n = layer_size(s, l);
        for (size_t i = 0; i < n; i++) w[i] = mk[i] ? w[i] : 0.0f;
    }
}

void dl_sparse_apply(const dl_sparse *s, float *params) { dl_sparse_mask_state(s, params); }

/* ------------------------------------------------------------ redistribute */

void dl_sparse_redistribute(const double *share, const size_t *capacity, int n, size_t total,
                            size_t *out) {
    /* Exercise (lesson 5): sparse momentum's redistribution, as sparse.h states it. The
     * handout's stub gives every layer nothing, so the regrowth loses weights. */
    /* BEGIN SOLUTION stub: (void)share; (void)capacity; (void)total; for (int i = 0; i < n; i++) out[i] = 0; */
    size_t cap_sum = 0;
    bool open[DL_SPARSE_MAX_LAYERS];
    for (int i = 0; i < n; i++) out[i] = 0, open[i] = capacity[i] > 0, cap_sum += capacity[i];
    size_t remaining = total < cap_sum ? total : cap_sum;
    while (remaining > 0) {
        double wsum = 0, w[DL_SPARSE_MAX_LAYERS];
        for (int i = 0; i < n; i++) w[i] = open[i] ? (share[i] > 0 ? share[i] : 0.0) : 0.0, wsum += w[i];
        if (wsum <= 0) /* no signal among the open bins: by free room */
            for (int i = 0; i < n; i++)
                w[i] = open[i] ? (double)(capacity[i] - out[i]) : 0.0, wsum += w[i];
        /* A bin whose proportional part fills it is filled and closed; re-split the rest. */
        bool capped = false;
        for (int i = 0; i < n; i++) {
            if (!open[i]) continue;
            const size_t room = capacity[i] - out[i];
            if ((double)remaining * w[i] / wsum >= (double)room) {
                out[i] += room, remaining -= room, open[i] = false, capped = true;
            }
        }
        if (capped) continue;
        /* Nobody is capped: floors, then the leftover by largest remainder. */
        double frac[DL_SPARSE_MAX_LAYERS];
        size_t given = 0;
        for (int i = 0; i < n; i++) {
            double ideal = open[i] ? (double)remaining * w[i] / wsum : 0.0;
            size_t base = (size_t)floor(ideal);
            out[i] += base, given += base, frac[i] = open[i] ? ideal - (double)base : -1.0;
        }
        for (size_t left = remaining - given; left > 0; left--) {
            int best = -1;
            for (int i = 0; i < n; i++)
                if (open[i] && out[i] < capacity[i] && (best < 0 || frac[i] > frac[best])) best = i;
            if (best < 0) break; /* cannot happen: Σ room > remaining */
            out[best]++, frac[best] = -1.0;
        }
        remaining = 0;
    }
    /* END SOLUTION */
}

/* -------------------------------------------------------------- prune/regrow */

typedef struct keyed {
    float key;
    int idx;
} keyed;

/* ascending key, then ascending index: a total order, so qsort's result is unique */
static int by_key_then_index(const void *pa, const void *pb) {
    const keyed *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

/* Remove the k smallest-|w| active weights of layer l (set them to 0). */
static void prune_layer(dl_sparse *s, int l, float *W, size_t k, keyed *scratch) {
    size_t m = 0, n = layer_size(s, l);
    for (size_t i = 0; i < n; i++)
        if (s->mask[l][i]) scratch[m].key = fabsf(W[i]), scratch[m++].idx = (int)i;
    qsort(scratch, m, sizeof *scratch, by_key_then_index);
    for (size_t j = 0; j < k && j < m; j++) s->mask[l][scratch[j].idx] = 0, W[scratch[j].idx] = 0.0f;
    s->active[l] -= k < m ? k : m;
}

/* Activate r zero positions of layer l: those with the largest |momentum| (momentum != NULL)
 * or uniformly random ones (SET). New weights are 0. */
static void regrow_layer(dl_sparse *s, int l, float *W, const float *momentum, size_t r,
                         keyed *scratch) {
    size_t m = 0, n = layer_size(s, l);
    for (size_t i = 0; i < n; i++)
        if (!s->mask[l][i]) scratch[m].key = momentum ? -fabsf(momentum[i]) : 0.0f, scratch[m++].idx = (int)i;
    if (r > m) r = m;
    if (momentum) {
        qsort(scratch, m, sizeof *scratch, by_key_then_index);
    } else {
        for (size_t i = 0; i < r; i++) { /* partial Fisher–Yates */
            size_t j = i + (size_t)dl_rng_below(&s->rng, m - i);
            keyed t = scratch[i];
            scratch[i] = scratch[j], scratch[j] = t;
        }
    }
    for (size_t j = 0; j < r; j++) s->mask[l][scratch[j].idx] = 1, W[scratch[j].idx] = 0.0f;
    s->active[l] += r;
}

dl_status dl_sparse_prune_regrow(dl_sparse *s, float *params, const float *momentum, double p,
                                 dl_sparse_update *out) {
    if (!s || !params) return DL_FAIL(DL_ERR_ARG, "sparse or params is NULL");
    if (!(p > 0.0 && p < 1.0)) return DL_FAIL(DL_ERR_ARG, "prune rate %g must be in (0, 1)", p);
    const dl_sparse_method method = s->cfg.method;
    if (method == DL_SPARSE_MOMENTUM && !momentum)
        return DL_FAIL(DL_ERR_ARG, "sparse momentum needs the momentum buffer");
    dl_sparse_update u;
    memset(&u, 0, sizeof u);
    u.prune_rate = p;
    if (method == DL_SPARSE_DENSE || method == DL_SPARSE_STATIC) {
        if (out) *out = u;
        return DL_OK;
    }
    size_t largest = 0;
    for (int l = 0; l < s->n_layers; l++) largest = layer_size(s, l) > largest ? layer_size(s, l) : largest;
    keyed *scratch;
    DL_TRY(dl_alloc((void **)&scratch, largest * sizeof *scratch));

    /* 1. mean |momentum| of each layer's active weights, before anything moves */
    double share[DL_SPARSE_MAX_LAYERS] = {0}, share_sum = 0;
    if (method == DL_SPARSE_MOMENTUM) {
        for (int l = 0; l < s->n_layers; l++) {
            const float *mo = momentum + s->offset[l];
            double sum = 0;
            for (size_t i = 0; i < layer_size(s, l); i++) sum += s->mask[l][i] ? fabs((double)mo[i]) : 0.0;
            share[l] = s->active[l] ? sum / (double)s->active[l] : 0.0;
            share_sum += share[l];
        }
        for (int l = 0; l < s->n_layers; l++) u.momentum_share[l] = share_sum > 0 ? share[l] / share_sum : 0.0;
    }
    /* 2. prune ⌈p·active⌉ smallest-magnitude weights per layer */
    size_t total_pruned = 0;
    for (int l = 0; l < s->n_layers; l++) {
        size_t k = (size_t)ceil(p * (double)s->active[l]);
        if (k > s->active[l]) k = s->active[l];
        prune_layer(s, l, params + s->offset[l], k, scratch);
        u.pruned[l] = k, total_pruned += k;
    }
    /* 3. how many each layer regrows */
    if (method == DL_SPARSE_MOMENTUM) {
        size_t capacity[DL_SPARSE_MAX_LAYERS];
        for (int l = 0; l < s->n_layers; l++) capacity[l] = layer_size(s, l) - s->active[l];
        if (share_sum > 0) {
            dl_sparse_redistribute(u.momentum_share, capacity, s->n_layers, total_pruned, u.regrown);
        } else { /* no momentum anywhere (e.g. before any step): each layer regrows its own */
            for (int l = 0; l < s->n_layers; l++) u.regrown[l] = u.pruned[l];
        }
    } else {
        for (int l = 0; l < s->n_layers; l++) u.regrown[l] = u.pruned[l];
    }
    /* 4. regrow */
    for (int l = 0; l < s->n_layers; l++)
        regrow_layer(s, l, params + s->offset[l],
                     method == DL_SPARSE_MOMENTUM ? momentum + s->offset[l] : NULL, u.regrown[l],
                     scratch);
    dl_free(scratch);
    if (out) *out = u;
    return DL_OK;
}
