/* spmm_cpu.c — the "omp_avx512" spmm variant (dlab/spmm.h).
 *
 * The trick: transpose the batch first. With xT = inpᵀ (C, Np) — one row per input feature,
 * the N batch rows contiguous and zero-padded to Np, a multiple of 64 — every stored weight
 * (o, c, v) contributes v·xT[c, :] to outT[o, :]: one broadcast and four AVX-512 FMAs per 64
 * batch rows, on a 256-byte aligned row that sits in L2. Gathers disappear; the CSR is read
 * once per 64 batch rows.
 *
 *   forward   for each output row o (OpenMP):  acc(64) = Σ_k vals[k]·xT[col_k, chunk]
 *             out[n, o] = acc[n] + bias[o]     (strided stores, N per row)
 *   dinp      dT (C, Np) = 0; for each 64-column chunk of the batch (OpenMP over chunks, so
 *             no two threads write the same dT element): dT[col_k, chunk] += vals[k]·goT[o, chunk];
 *             then dinp[n, c] += dT[c, n]
 *   dvals     for each row o (OpenMP): dvals[k] += <goT[o, :], xT[col_k, :]>   (the SDDMM)
 *   dbias     dbias[o] += Σ goT[o, :]
 *
 * goT = doutᵀ (OC, Np). The transposes cost N·(C+OC) moves per call, small next to N·nnz
 * once the density is above a fraction of a percent. fp32 sums (ref sums in double), in an
 * order that depends on the chunking but not on the thread count.
 * Left out: keeping the activations transposed across layers (it would save the transposes;
 * the MLP's layout is row-major), register blocking over several output rows, AVX2.
 */
#include <string.h>

#include "dlab/core.h"
#include "spmm_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

enum { CHUNK = 64 }; /* batch rows per inner loop: four zmm accumulators */

static int padded(int n) { return (n + CHUNK - 1) / CHUNK * CHUNK; }

/* Scratch for the transposes, kept between calls (grow-only, one per calling thread; the
 * OpenMP workers only use what their caller got). Allocating and faulting in fresh buffers
 * of C·Np floats on every call cost as much as the whole product at 1% density. */
static _Thread_local float *scratch_buf;
static _Thread_local size_t scratch_floats;

static dl_status scratch(size_t floats, float **out) {
    if (floats > scratch_floats) {
        float *p;
        DL_TRY(dl_alloc((void **)&p, floats * sizeof(float)));
        dl_free(scratch_buf);
        scratch_buf = p, scratch_floats = floats;
    }
    *out = scratch_buf;
    return DL_OK;
}

/* Zero columns n0..ld−1 of every row of dst (rows, ld): the padding the kernels read. */
static void zero_padding(float *dst, int rows, int n0, int ld) {
    if (n0 < ld)
        for (int r = 0; r < rows; r++) memset(dst + (size_t)r * ld + n0, 0, (size_t)(ld - n0) * sizeof(float));
}

/* dst (cols, ld) = srcᵀ for src (rows, cols) row-major, columns rows..ld−1 of dst zeroed.
 * Blocked 32×32 so both sides stay in cache lines. */
static void transpose_into(const float *src, int rows, int cols, float *dst, int ld) {
    zero_padding(dst, cols, rows, ld);
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int c0 = 0; c0 < cols; c0 += 32)
        for (int r0 = 0; r0 < rows; r0 += 32)
            for (int c = c0; c < c0 + 32 && c < cols; c++)
                for (int r = r0; r < r0 + 32 && r < rows; r++)
                    dst[(size_t)c * ld + r] = src[(size_t)r * cols + c];
}

__attribute__((target("avx512f"))) static float dot_chunk(const float *a, const float *b) {
    __m512 s = _mm512_mul_ps(_mm512_load_ps(a), _mm512_load_ps(b));
    s = _mm512_fmadd_ps(_mm512_load_ps(a + 16), _mm512_load_ps(b + 16), s);
    s = _mm512_fmadd_ps(_mm512_load_ps(a + 32), _mm512_load_ps(b + 32), s);
    s = _mm512_fmadd_ps(_mm512_load_ps(a + 48), _mm512_load_ps(b + 48), s);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f"))) static void forward_rows(const dl_spmm_args *a,
                                                            const float *xT, int Np) {
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 8)
#endif
    for (int o = 0; o < a->OC; o++) {
        const int k0 = a->row_ptr[o], k1 = a->row_ptr[o + 1];
        const float b = a->bias ? a->bias[o] : 0.0f;
        for (int n0 = 0; n0 < a->N; n0 += CHUNK) {
            __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
            for (int k = k0; k < k1; k++) {
                const __m512 v = _mm512_set1_ps(a->vals[k]);
                const float *x = xT + (size_t)a->col_idx[k] * Np + n0;
                acc0 = _mm512_fmadd_ps(v, _mm512_load_ps(x), acc0);
                acc1 = _mm512_fmadd_ps(v, _mm512_load_ps(x + 16), acc1);
                acc2 = _mm512_fmadd_ps(v, _mm512_load_ps(x + 32), acc2);
                acc3 = _mm512_fmadd_ps(v, _mm512_load_ps(x + 48), acc3);
            }
            float tmp[CHUNK] __attribute__((aligned(64)));
            _mm512_store_ps(tmp, acc0), _mm512_store_ps(tmp + 16, acc1);
            _mm512_store_ps(tmp + 32, acc2), _mm512_store_ps(tmp + 48, acc3);
            const int n_end = n0 + CHUNK < a->N ? n0 + CHUNK : a->N;
            for (int n = n0; n < n_end; n++) a->out[(size_t)n * a->OC + o] = tmp[n - n0] + b;
        }
    }
}

dl_status dl_spmm_avx512_forward(const dl_spmm_args *a) {
    if (a->N == 0 || a->OC == 0) return DL_OK;
    const int Np = padded(a->N);
    float *xT;
    DL_TRY(scratch((size_t)a->C * Np, &xT));
    transpose_into(a->inp, a->N, a->C, xT, Np);
    forward_rows(a, xT, Np);
    return DL_OK;
}

/* dT (C, Np) += Wᵀ·goT, chunk by chunk of the batch. */
__attribute__((target("avx512f"))) static void dinp_chunks(const dl_spmm_args *a,
                                                           const float *goT, float *dT, int Np) {
    const int chunks = Np / CHUNK;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (int ch = 0; ch < chunks; ch++) {
        const int n0 = ch * CHUNK;
        for (int o = 0; o < a->OC; o++) {
            const float *g = goT + (size_t)o * Np + n0;
            const __m512 g0 = _mm512_load_ps(g), g1 = _mm512_load_ps(g + 16);
            const __m512 g2 = _mm512_load_ps(g + 32), g3 = _mm512_load_ps(g + 48);
            for (int k = a->row_ptr[o]; k < a->row_ptr[o + 1]; k++) {
                const __m512 v = _mm512_set1_ps(a->vals[k]);
                float *d = dT + (size_t)a->col_idx[k] * Np + n0;
                _mm512_store_ps(d, _mm512_fmadd_ps(v, g0, _mm512_load_ps(d)));
                _mm512_store_ps(d + 16, _mm512_fmadd_ps(v, g1, _mm512_load_ps(d + 16)));
                _mm512_store_ps(d + 32, _mm512_fmadd_ps(v, g2, _mm512_load_ps(d + 32)));
                _mm512_store_ps(d + 48, _mm512_fmadd_ps(v, g3, _mm512_load_ps(d + 48)));
            }
        }
    }
}

__attribute__((target("avx512f"))) static void dvals_rows(const dl_spmm_args *a, const float *goT,
                                                          const float *xT, int Np) {
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 8)
#endif
    for (int o = 0; o < a->OC; o++) {
        const float *g = goT + (size_t)o * Np;
        if (a->dvals)
            for (int k = a->row_ptr[o]; k < a->row_ptr[o + 1]; k++) {
                const float *x = xT + (size_t)a->col_idx[k] * Np;
                float s = 0.0f;
                for (int n0 = 0; n0 < Np; n0 += CHUNK) s += dot_chunk(g + n0, x + n0);
                a->dvals[k] += s;
            }
        if (a->bias && a->dbias) {
            float s = 0.0f; /* the padding is zero */
            for (int n = 0; n < a->N; n++) s += g[n];
            a->dbias[o] += s;
        }
    }
}

dl_status dl_spmm_avx512_backward(const dl_spmm_args *a) {
    const bool want_dbias = a->bias && a->dbias;
    if (a->N == 0 || (!a->dinp && !a->dvals && !want_dbias)) return DL_OK;
    const int Np = padded(a->N);
    /* one scratch block: goT (OC, Np), xT (C, Np) when dvals is wanted, dT (C, Np) for dinp */
    const size_t n_go = (size_t)a->OC * Np, n_x = a->dvals ? (size_t)a->C * Np : 0;
    const size_t n_d = a->dinp ? (size_t)a->C * Np : 0;
    float *goT;
    DL_TRY(scratch(n_go + n_x + n_d, &goT));
    float *xT = a->dvals ? goT + n_go : NULL, *dT = a->dinp ? goT + n_go + n_x : NULL;
    transpose_into(a->dout, a->N, a->OC, goT, Np);
    if (a->dvals) transpose_into(a->inp, a->N, a->C, xT, Np);
    if (a->dvals || want_dbias) dvals_rows(a, goT, xT, Np);
    if (a->dinp) {
        memset(dT, 0, n_d * sizeof(float));
        dinp_chunks(a, goT, dT, Np);
        const int N = a->N, C = a->C;
#ifdef _OPENMP
#pragma omp parallel for schedule(static)
#endif
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) a->dinp[(size_t)n * C + c] += dT[(size_t)c * Np + n];
    }
    return DL_OK;
}

#else /* not x86: never available (dl_cpu_has_avx512 is false); the ref loops keep it linkable */
dl_status dl_spmm_avx512_forward(const dl_spmm_args *a) { return dl_spmm_ref_forward(a); }
dl_status dl_spmm_avx512_backward(const dl_spmm_args *a) { return dl_spmm_ref_backward(a); }
#endif
