/* residual_variants.c — the whole "residual" family (out = a + b): both variants, the
 * table, checks, cost and dispatch. One file because each variant is a single loop; a
 * bigger family splits these into _ref.c, _cpu.c and _variants.c. */
#include <string.h>

#include "dlab/core.h"
#include "dlab/residual.h"

/* ------------------------------------------------------------------ ref */

static dl_status ref_forward(const dl_residual_args *r) {
    for (size_t i = 0; i < r->n; i++)
        r->out[i] = r->a[i] + r->b[i];
    return DL_OK;
}

static dl_status ref_backward(const dl_residual_args *r) {
    for (size_t i = 0; i < r->n; i++) {
        if (r->da) r->da[i] += r->dout[i];
        if (r->db) r->db[i] += r->dout[i];
    }
    return DL_OK;
}

/* ------------------------------------------------------------------ omp */

/* Floats per work item: 64 KiB per operand, enough to hide the fork. */
#define CHUNK 16384

static void add_into(float *dst, const float *src, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}

static dl_status omp_forward(const dl_residual_args *r) {
    const long chunks = (long)((r->n + CHUNK - 1) / CHUNK);
#pragma omp parallel for schedule(static) num_threads(dl_threads_get()) if (chunks > 1)
    for (long ch = 0; ch < chunks; ch++) {
        size_t i0 = (size_t)ch * CHUNK, i1 = i0 + CHUNK < r->n ? i0 + CHUNK : r->n;
        /* simd: the in-place case (out == a) is safe element by element. */
#pragma omp simd
        for (size_t i = i0; i < i1; i++)
            r->out[i] = r->a[i] + r->b[i];
    }
    return DL_OK;
}

static dl_status omp_backward(const dl_residual_args *r) {
    const long chunks = (long)((r->n + CHUNK - 1) / CHUNK);
#pragma omp parallel for schedule(static) num_threads(dl_threads_get()) if (chunks > 1)
    for (long ch = 0; ch < chunks; ch++) {
        size_t i0 = (size_t)ch * CHUNK, len = i0 + CHUNK < r->n ? CHUNK : r->n - i0;
        if (r->da) add_into(r->da + i0, r->dout + i0, len);
        if (r->db) add_into(r->db + i0, r->dout + i0, len);
    }
    return DL_OK;
}

/* ------------------------------------------------------- checks, dispatch */

dl_status dl_residual_check(const dl_residual_args *r, bool backward) {
    if (!r) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (r->n == 0) return DL_OK;
    if (!backward) {
        if (!r->a) return DL_FAIL(DL_ERR_ARG, "a is NULL");
        if (!r->b) return DL_FAIL(DL_ERR_ARG, "b is NULL");
        if (!r->out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    } else if (!r->dout && (r->da || r->db)) {
        return DL_FAIL(DL_ERR_ARG, "dout is NULL");
    }
    return DL_OK;
}

dl_cost dl_residual_cost(const void *args) {
    const dl_residual_args *r = args;
    dl_cost c = {(double)r->n, 12.0 * (double)r->n};
    return c;
}

static dl_status dispatch(const dl_variant *v, const dl_residual_args *r, bool backward) {
    if (!v || !v->family || strcmp(v->family, "residual") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "variant '%s' is not a residual", v && v->name ? v->name : "?");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "residual variant '%s' cannot run here", v->name);
    DL_TRY(dl_residual_check(r, backward));
    const dl_residual_impl *impl = v->impl;
    return backward ? impl->backward(r) : impl->forward(r);
}

dl_status dl_residual_forward(const dl_variant *v, const dl_residual_args *r) {
    return dispatch(v, r, false);
}
dl_status dl_residual_backward(const dl_variant *v, const dl_residual_args *r) {
    return dispatch(v, r, true);
}

static const dl_residual_impl ref_impl = {ref_forward, ref_backward};
static const dl_residual_impl omp_impl = {omp_forward, omp_backward};
static const dl_variant v_ref = {.family = "residual",
                                 .name = "ref",
                                 .device = DL_DEVICE_CPU,
                                 .impl = &ref_impl,
                                 .summary = "one loop: the oracle",
                                 .cost = dl_residual_cost};
static const dl_variant v_omp = {.family = "residual",
                                 .name = "omp",
                                 .device = DL_DEVICE_CPU,
                                 .impl = &omp_impl,
                                 .summary = "OpenMP chunks, compiler-vectorized",
                                 .cost = dl_residual_cost};

#ifdef DL_HAVE_CUDA
bool dl_cuda_available(void);                         /* matmul_cuda.cu: a GPU is present */
extern const dl_residual_impl dl_residual_cuda_impl; /* residual.cu: device pointers */
static const dl_variant v_cuda = {.family = "residual",
                                  .name = "cuda",
                                  .device = DL_DEVICE_CUDA,
                                  .available = dl_cuda_available,
                                  .impl = &dl_residual_cuda_impl,
                                  .summary = "one thread per element, grid-stride; device pointers",
                                  .cost = dl_residual_cost};
#endif

const dl_variant *const dl_residual_variant_table[] = {&v_ref, &v_omp,
#ifdef DL_HAVE_CUDA
                                                       &v_cuda,
#endif
};
const int dl_residual_variant_count =
    (int)(sizeof dl_residual_variant_table / sizeof dl_residual_variant_table[0]);
