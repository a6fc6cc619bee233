/* sparse_checkpoint.c — saving and loading a sparse MLP with its masks (dlab/sparse.h).
 *
 * Design: a kind of its own, "sparse_mlp", rather than masks stored beside an "mlp" file.
 * A dense loader asks for kind "mlp" and so refuses a sparse file outright (a dense model
 * would silently train the zeros back); this loader asks for "sparse_mlp" and refuses a
 * dense file. The config blob is the dl_mlp_config, compared byte for byte (it is all ints:
 * no padding), so a model of another shape is refused before any tensor is read. Masks are
 * F32 tensors of 0/1 in the weight's shape (the checkpoint format has F32 and I64 only; a
 * 0/1 float costs 4 bytes per weight, simple and checkable). Optimizer state is not saved:
 * this is a model file, not a resume point.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dlab/checkpoint.h"
#include "dlab/sparse.h"

#define SPARSE_MLP_KIND "sparse_mlp"

static void layer_shape(const dl_mlp *m, int l, int64_t shape[2]) {
    shape[0] = l < m->cfg.n_hidden ? m->cfg.hidden[l] : m->cfg.classes;
    shape[1] = l == 0 ? m->cfg.inputs : m->cfg.hidden[l - 1];
}

dl_status dl_sparse_mlp_save(const char *path, const dl_mlp *m, const dl_sparse *s,
                             const float *params) {
    if (!path || !m || !s || !params) return DL_FAIL(DL_ERR_ARG, "path, model, sparse or params is NULL");
    if (s->n_layers != m->n_layers)
        return DL_FAIL(DL_ERR_ARG, "masks for %d layers, model has %d", s->n_layers, m->n_layers);
    size_t total = 0;
    for (int l = 0; l < s->n_layers; l++) total += (size_t)s->rows[l] * s->cols[l];
    float *masks;
    DL_TRY(dl_alloc((void **)&masks, total * sizeof(float)));
    dl_ckpt_writer *w;
    dl_status st = dl_ckpt_writer_begin(&w, path, SPARSE_MLP_KIND, &m->cfg, sizeof m->cfg);
    if (st != DL_OK) return dl_free(masks), st;
    int64_t shapes[DL_MLP_MAX_LAYERS][2];
    float *mk = masks;
    for (int l = 0; l < m->n_layers; l++) {
        char name[32];
        layer_shape(m, l, shapes[l]);
        const size_t n = (size_t)shapes[l][0] * shapes[l][1];
        for (size_t i = 0; i < n; i++) mk[i] = s->mask[l][i] ? 1.0f : 0.0f;
        snprintf(name, sizeof name, "fc%d.weight", l + 1);
        dl_ckpt_writer_add_tensor(w, name, DL_CKPT_F32, params + (m->W[l] - m->params), 2, shapes[l]);
        snprintf(name, sizeof name, "fc%d.bias", l + 1);
        dl_ckpt_writer_add_tensor(w, name, DL_CKPT_F32, params + (m->b[l] - m->params), 1, &shapes[l][0]);
        snprintf(name, sizeof name, "fc%d.mask", l + 1);
        dl_ckpt_writer_add_tensor(w, name, DL_CKPT_F32, mk, 2, shapes[l]);
        mk += n;
    }
    dl_ckpt_writer_add_u64(w, "sparse.method", (uint64_t)s->cfg.method);
    dl_ckpt_writer_add_u64(w, "sparse.density_ppm", (uint64_t)llround(s->cfg.density * 1e6));
    st = dl_ckpt_writer_commit(w);
    dl_free(masks);
    return st;
}

dl_status dl_sparse_mlp_load(const char *path, dl_mlp *m, dl_sparse *s) {
    if (!path || !m || !s || !m->ops) return DL_FAIL(DL_ERR_ARG, "path, model (created) or sparse is NULL");
    dl_ckpt_reader *r;
    DL_TRY(dl_ckpt_reader_open(&r, path, SPARSE_MLP_KIND));
    size_t config_bytes;
    const void *config = dl_ckpt_reader_config(r, &config_bytes);
    if (config_bytes != sizeof m->cfg || memcmp(config, &m->cfg, sizeof m->cfg) != 0) {
        dl_ckpt_reader_close(r);
        return DL_FAIL(DL_ERR_FORMAT, "%s: a sparse MLP of another shape than this model", path);
    }
    uint64_t method = 0, density_ppm = 0;
    dl_status st = dl_ckpt_reader_get_u64(r, "sparse.method", &method);
    if (st == DL_OK) st = dl_ckpt_reader_get_u64(r, "sparse.density_ppm", &density_ppm);
    dl_sparse_config c = dl_sparse_defaults((dl_sparse_method)method, (double)density_ppm / 1e6);
    if (st == DL_OK && (method > DL_SPARSE_MOMENTUM || dl_sparse_config_check(&c) != DL_OK))
        st = DL_FAIL(DL_ERR_FORMAT, "%s: bad sparse settings (method %llu, density %llu ppm)", path,
                     (unsigned long long)method, (unsigned long long)density_ppm);
    float *params = NULL, *mask = NULL;
    dl_sparse fresh = {0};
    if (st == DL_OK) st = dl_alloc((void **)&params, m->n_params * sizeof(float));
    if (st == DL_OK) st = dl_sparse_create_for_mlp(&fresh, &c, m, 1);
    size_t largest = 0;
    for (int l = 0; st == DL_OK && l < m->n_layers; l++)
        largest = (size_t)fresh.rows[l] * fresh.cols[l] > largest ? (size_t)fresh.rows[l] * fresh.cols[l] : largest;
    if (st == DL_OK) st = dl_alloc((void **)&mask, largest * sizeof(float));
    for (int l = 0; st == DL_OK && l < m->n_layers; l++) {
        char name[32];
        int64_t shape[2];
        layer_shape(m, l, shape);
        float *W = params + (m->W[l] - m->params);
        snprintf(name, sizeof name, "fc%d.weight", l + 1);
        st = dl_ckpt_reader_read_tensor(r, name, DL_CKPT_F32, 2, shape, W);
        snprintf(name, sizeof name, "fc%d.bias", l + 1);
        if (st == DL_OK)
            st = dl_ckpt_reader_read_tensor(r, name, DL_CKPT_F32, 1, shape, params + (m->b[l] - m->params));
        snprintf(name, sizeof name, "fc%d.mask", l + 1);
        if (st == DL_OK) st = dl_ckpt_reader_read_tensor(r, name, DL_CKPT_F32, 2, shape, mask);
        const size_t n = (size_t)shape[0] * shape[1];
        fresh.active[l] = 0;
        for (size_t i = 0; st == DL_OK && i < n; i++) {
            if (mask[i] != 0.0f && mask[i] != 1.0f)
                st = DL_FAIL(DL_ERR_FORMAT, "%s: fc%d.mask[%zu]=%g is not 0 or 1", path, l + 1, i, mask[i]);
            else if (mask[i] == 0.0f && W[i] != 0.0f)
                st = DL_FAIL(DL_ERR_FORMAT, "%s: fc%d.weight[%zu]=%g lies outside the mask", path,
                             l + 1, i, W[i]);
            fresh.mask[l][i] = mask[i] != 0.0f;
            fresh.active[l] += fresh.mask[l][i];
        }
    }
    dl_ckpt_reader_close(r);
    if (st == DL_OK) st = dl_mlp_params_from_host(m, params);
    dl_free(params), dl_free(mask);
    if (st != DL_OK) return dl_sparse_free(&fresh), st;
    *s = fresh;
    return DL_OK;
}
