/* spmm_variants.c — the spmm family's table of variants, argument checks, cost, dispatch,
 * and the CSR builders of dlab/spmm.h. A new variant is a forward + backward pair and one
 * line in the table; tests/test_spmm.c then checks it against ref. */
#include <stdlib.h>
#include <string.h>

#include "dlab/core.h"
#include "spmm_impl.h"

/* ------------------------------------------------------------------- CSR */

dl_status dl_csr_from_dense(dl_csr *out, const float *dense, const unsigned char *keep, int rows,
                            int cols) {
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    memset(out, 0, sizeof *out);
    if (rows < 0 || cols < 0) return DL_FAIL(DL_ERR_ARG, "negative size %dx%d", rows, cols);
    const size_t n = (size_t)rows * cols;
    if (n > 0 && !dense) return DL_FAIL(DL_ERR_ARG, "dense is NULL");
    if (n > (size_t)0x7fffffff) return DL_FAIL(DL_ERR_ARG, "%dx%d does not fit int indices", rows, cols);
    size_t nnz = 0;
    for (size_t i = 0; i < n; i++) nnz += keep ? keep[i] != 0 : dense[i] != 0.0f;
    /* one block: row_ptr, col_idx, vals (all 4-byte, so no padding is needed) */
    void *block;
    DL_TRY(dl_alloc(&block, ((size_t)rows + 1 + 2 * nnz) * 4));
    out->rows = rows, out->cols = cols, out->nnz = (int)nnz;
    out->row_ptr = block;
    out->col_idx = out->row_ptr + rows + 1;
    out->vals = (float *)(out->col_idx + nnz);
    int k = 0;
    for (int r = 0; r < rows; r++) {
        out->row_ptr[r] = k;
        for (int c = 0; c < cols; c++) {
            size_t i = (size_t)r * cols + c;
            if (keep ? keep[i] != 0 : dense[i] != 0.0f) out->col_idx[k] = c, out->vals[k++] = dense[i];
        }
    }
    out->row_ptr[rows] = k;
    return DL_OK;
}

void dl_csr_free(dl_csr *m) {
    if (!m) return;
    dl_free(m->row_ptr);
    memset(m, 0, sizeof *m);
}

void dl_csr_to_dense(const dl_csr *m, float *dense) {
    memset(dense, 0, (size_t)m->rows * m->cols * sizeof(float));
    for (int r = 0; r < m->rows; r++)
        for (int k = m->row_ptr[r]; k < m->row_ptr[r + 1]; k++)
            dense[(size_t)r * m->cols + m->col_idx[k]] = m->vals[k];
}

void dl_csr_gather(dl_csr *m, const float *dense) {
    for (int r = 0; r < m->rows; r++)
        for (int k = m->row_ptr[r]; k < m->row_ptr[r + 1]; k++)
            m->vals[k] = dense[(size_t)r * m->cols + m->col_idx[k]];
}

dl_status dl_csr_check(const int *row_ptr, const int *col_idx, int rows, int cols) {
    if (rows < 0 || cols < 0) return DL_FAIL(DL_ERR_ARG, "negative size %dx%d", rows, cols);
    if (!row_ptr) return DL_FAIL(DL_ERR_ARG, "row_ptr is NULL");
    if (row_ptr[0] != 0) return DL_FAIL(DL_ERR_ARG, "row_ptr[0]=%d, must be 0", row_ptr[0]);
    for (int r = 0; r < rows; r++) {
        if (row_ptr[r + 1] < row_ptr[r])
            return DL_FAIL(DL_ERR_ARG, "row_ptr decreases at row %d (%d > %d)", r, row_ptr[r],
                           row_ptr[r + 1]);
        if (row_ptr[r + 1] - row_ptr[r] > cols)
            return DL_FAIL(DL_ERR_ARG, "row %d stores %d entries, more than cols=%d", r,
                           row_ptr[r + 1] - row_ptr[r], cols);
    }
    if (row_ptr[rows] > 0 && !col_idx) return DL_FAIL(DL_ERR_ARG, "col_idx is NULL");
    for (int k = 0; k < row_ptr[rows]; k++)
        if (col_idx[k] < 0 || col_idx[k] >= cols)
            return DL_FAIL(DL_ERR_ARG, "col_idx[%d]=%d is outside [0,%d)", k, col_idx[k], cols);
    return DL_OK;
}

/* -------------------------------------------------------- checks, cost */

dl_status dl_spmm_check(const dl_spmm_args *a, bool backward) {
    if (!a) return DL_FAIL(DL_ERR_ARG, "args is NULL");
    if (a->N < 0 || a->C < 0 || a->OC < 0)
        return DL_FAIL(DL_ERR_ARG, "negative size N=%d C=%d OC=%d", a->N, a->C, a->OC);
    if (!a->row_ptr) return DL_FAIL(DL_ERR_ARG, "row_ptr is NULL");
    const long in = (long)a->N * a->C, out = (long)a->N * a->OC;
    if (in > 0 && !a->inp && (!backward || a->dvals))
        return DL_FAIL(DL_ERR_ARG, "inp is NULL");
    if (!backward) {
        if (out > 0 && !a->out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    } else if (out > 0 && !a->dout && (a->dinp || a->dvals || (a->bias && a->dbias))) {
        return DL_FAIL(DL_ERR_ARG, "dout is NULL");
    }
    return DL_OK;
}

dl_spmm_args dl_spmm_args_for(const dl_csr *w, int N) {
    dl_spmm_args a = {.N = N, .C = w->cols, .OC = w->rows, .row_ptr = w->row_ptr,
                      .col_idx = w->col_idx, .vals = w->vals};
    return a;
}

dl_cost dl_spmm_cost(const void *args) {
    const dl_spmm_args *a = args;
    /* row_ptr may be a device pointer for CUDA variants: the cost is for host args only */
    double N = a->N, C = a->C, OC = a->OC, nnz = a->row_ptr ? a->row_ptr[a->OC] : 0;
    dl_cost c = {2.0 * N * nnz + (a->bias ? N * OC : 0.0),
                 4.0 * (N * C + 2.0 * nnz + OC + 1 + (a->bias ? OC : 0.0) + N * OC)};
    return c;
}

static dl_status dispatch(const dl_variant *v, const dl_spmm_args *a, bool backward) {
    if (!v || !v->family || strcmp(v->family, "spmm") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "variant '%s' is not an spmm", v && v->name ? v->name : "?");
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "spmm variant '%s' cannot run here", v->name);
    DL_TRY(dl_spmm_check(a, backward));
    if (v->device == DL_DEVICE_CPU) DL_TRY(dl_csr_check(a->row_ptr, a->col_idx, a->OC, a->C));
    const dl_spmm_impl *impl = v->impl;
    return backward ? impl->backward(a) : impl->forward(a);
}

dl_status dl_spmm_forward(const dl_variant *v, const dl_spmm_args *a) { return dispatch(v, a, false); }
dl_status dl_spmm_backward(const dl_variant *v, const dl_spmm_args *a) { return dispatch(v, a, true); }

/* ---------------------------------------------------------------- table */

static const dl_spmm_impl ref_impl = {dl_spmm_ref_forward, dl_spmm_ref_backward};
static const dl_spmm_impl avx512_impl = {dl_spmm_avx512_forward, dl_spmm_avx512_backward};

static const dl_variant v_ref = {.family = "spmm",
                                 .name = "ref",
                                 .device = DL_DEVICE_CPU,
                                 .impl = &ref_impl,
                                 .summary = "CSR loops on row-major data, double sums: the oracle",
                                 .cost = dl_spmm_cost};
static const dl_variant v_avx512 = {.family = "spmm",
                                    .name = "omp_avx512",
                                    .device = DL_DEVICE_CPU,
                                    .available = dl_cpu_has_avx512,
                                    .impl = &avx512_impl,
                                    .summary = "batch-transposed activations, one AVX-512 FMA "
                                               "row per stored weight, OpenMP",
                                    .cost = dl_spmm_cost};
#ifdef DL_HAVE_CUDA
static const dl_spmm_impl cuda_impl = {dl_spmm_cuda_forward, dl_spmm_cuda_backward};
static const dl_variant v_cuda = {.family = "spmm",
                                  .name = "cuda",
                                  .device = DL_DEVICE_CUDA,
                                  .available = dl_cuda_available,
                                  .impl = &cuda_impl,
                                  .summary = "own CSR kernels (row per block, atomics for dinp); "
                                             "device pointers",
                                  .cost = NULL};
#endif

const dl_variant *const dl_spmm_variant_table[] = {&v_ref, &v_avx512,
#ifdef DL_HAVE_CUDA
                                                   &v_cuda,
#endif
};
const int dl_spmm_variant_count =
    (int)(sizeof dl_spmm_variant_table / sizeof dl_spmm_variant_table[0]);
