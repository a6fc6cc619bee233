/* spmm.h — the "spmm" op family: a linear layer whose weight is sparse (CSR), and the CSR
 * matrix it takes.
 *
 *   inp (N,C) dense, W (OC,C) sparse in CSR, bias (OC) or NULL, out (N,OC) dense
 *
 *   forward    out   = inp·Wᵀ + bias                 sparse × dense
 *   backward   dinp += dout·W          (N,C)         dense × sparse
 *              dvals+= (doutᵀ·inp) at W's nonzeros  the sampled dense-dense product (SDDMM):
 *                                                    dvals[k] += Σ_n dout[n,o]·inp[n,c] for
 *                                                    the k-th stored entry (o, c)
 *              dbias+= Σ_rows dout     (OC)
 *
 * The weight gradient exists only where W stores an entry: a sparse layer never pays for
 * the dense OC×C gradient. BACKWARD ACCUMULATES, as the linear family's does (dlab/linear.h);
 * each of dinp, dvals, dbias may be NULL (not wanted). N, C, OC may be 0; nnz may be 0.
 *
 * CSR: row o of W holds the entries k = row_ptr[o] .. row_ptr[o+1]−1, at columns col_idx[k]
 * with values vals[k]. row_ptr[0] = 0, row_ptr non-decreasing, row_ptr[OC] = nnz, every
 * col_idx in [0, C). Columns within a row need not be sorted and must not repeat (the
 * builders below produce them sorted). CPU variants check the structure on every call
 * (O(nnz), small next to the N·nnz work); CUDA variants take device pointers and trust it.
 *
 * Variants: `ref` (plain loops, double accumulation: the oracle), `omp_avx512` (transposes
 * the activations once so each stored weight is one AVX-512 multiply-add over a contiguous
 * batch row; OpenMP over output rows / batch columns), `cuda` (own kernels; device pointers).
 * Left out: blocked / structured sparsity (2:4), fp16/bf16 values, sorting inside a row,
 * cuSPARSE as a variant.
 */
#ifndef DLAB_SPMM_H
#define DLAB_SPMM_H

#include <stdbool.h>
#include <stddef.h>

#include "registry.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A CSR matrix (rows × cols) with nnz stored entries; one allocation owns the three arrays
 * when made by dl_csr_from_dense. */
typedef struct dl_csr {
    int rows, cols, nnz;
    int *row_ptr; /* (rows + 1) */
    int *col_idx; /* (nnz) */
    float *vals;  /* (nnz) */
} dl_csr;

/* The CSR of dense (rows, cols) keeping the entries where keep[i] != 0 (keep NULL: where
 * dense[i] != 0), columns sorted within each row. Values are copied from dense (so a kept
 * zero is stored as an explicit zero: a regrown weight that starts at 0 stays in the
 * pattern). DL_ERR_ARG for negative sizes or NULL dense; DL_ERR_ALLOC. */
dl_status dl_csr_from_dense(dl_csr *out, const float *dense, const unsigned char *keep, int rows,
                            int cols);
void dl_csr_free(dl_csr *m);
/* dense (rows, cols) = the matrix (zeros where nothing is stored). */
void dl_csr_to_dense(const dl_csr *m, float *dense);
/* vals[k] = dense[row(k)·cols + col_idx[k]]: refresh the values for a fixed pattern. */
void dl_csr_gather(dl_csr *m, const float *dense);
/* DL_OK, or DL_ERR_ARG naming the first violation of the CSR rules above (host memory). */
dl_status dl_csr_check(const int *row_ptr, const int *col_idx, int rows, int cols);

typedef struct dl_spmm_args {
    int N, C, OC;
    /* the weight (OC, C) in CSR */
    const int *row_ptr; /* (OC + 1) */
    const int *col_idx; /* (nnz) */
    const float *vals;  /* (nnz) */
    /* forward */
    const float *inp;  /* (N,C) */
    const float *bias; /* (OC) or NULL */
    float *out;        /* (N,OC), written by forward */
    /* backward: dout is read, the rest are added into (NULL = not wanted) */
    const float *dout; /* (N,OC) */
    float *dinp;       /* (N,C) */
    float *dvals;      /* (nnz): the weight gradient at the stored entries */
    float *dbias;      /* (OC); ignored when bias is NULL */
} dl_spmm_args;

typedef struct dl_spmm_impl {
    dl_status (*forward)(const dl_spmm_args *args);
    dl_status (*backward)(const dl_spmm_args *args);
} dl_spmm_impl;

/* DL_OK or DL_ERR_ARG naming the first bad field (sizes, NULL pointers). The CSR structure
 * itself is checked by dl_csr_check (CPU variants call it). */
dl_status dl_spmm_check(const dl_spmm_args *a, bool backward);

/* Args for a dl_csr weight (the pointers of everything else left NULL). */
dl_spmm_args dl_spmm_args_for(const dl_csr *w, int N);

/* Cost of one forward: 2·N·nnz flops (+N·OC for the bias); bytes: inp, the CSR, out. */
dl_cost dl_spmm_cost(const void *args);

/* Check, then run variant v's forward / backward (family "spmm"). */
dl_status dl_spmm_forward(const dl_variant *v, const dl_spmm_args *args);
dl_status dl_spmm_backward(const dl_variant *v, const dl_spmm_args *args);

#ifdef __cplusplus
}
#endif
#endif
