/* matmul_blocked.c — variant `blocked`: cache blocking in plain C, the step between the
 * triple loop of matmul_ref.c and the packed SIMD kernel of matmul_packed.c.
 *
 * Three changes to the textbook loop, each for one reason:
 *
 * 1. Loop order i-k-j. The innermost loop runs along a row of C and a row of op(B), both
 *    unit stride, with a scalar of op(A) held fixed:
 *        C[i][j0:j1] += op(A)[i][k] * op(B)[k][j0:j1]
 *    so the compiler turns it into SIMD multiply-adds (check with -fopt-info-vec).
 *    The i-j-k order of the definition walks a column of B instead, and cannot.
 *
 * 2. Blocking. The product is done tile by tile: a BLOCK_K × BLOCK_N tile of op(B) is
 *    reused by every row of C, so it is copied once into a contiguous buffer that stays in
 *    L2 while a BLOCK_N segment of a C row stays in L1. The copy also makes the innermost
 *    loop unit stride whatever the layout of B (transposed or not, any ldb): the idea that
 *    matmul_packed.c takes all the way.
 *
 * 3. Four k per pass. The innermost loop adds four rows of the tile into the C segment at
 *    once, so C is loaded and stored once per four k instead of once per k. With one k per
 *    pass the loop is bound by reloading the C it has just stored, and its speed swung
 *    between 14 and 27 GFLOP/s with where the buffers happened to lie in memory; with four
 *    it runs at 35-42 GFLOP/s at almost every placement (Zen 5, one core, n = 512 and
 *    1000, 48 placements of C and of the tile each; the worst seen was 29).
 *
 * Left out on purpose: threads, intrinsics, register blocking, packing of A. Expect many
 * times the speed of `ref` and a fraction of `omp_avx512`: the gap is what a register-
 * blocked micro-kernel and packing buy.
 */
#include <stddef.h>
#include <string.h>

#include "dlab/core.h"
#include "dlab/matmul.h"
#include "matmul_internal.h"

/* BLOCK_N floats of a C row (1 KiB) stay in L1 while k runs over the tile; the
 * BLOCK_K × BLOCK_N tile of op(B) (128 KiB) stays in the 1 MiB L2 while i runs over all
 * rows. Measured (medians over placements, n = 512 and 1000): 128 × 256, 128 × 512 and
 * 256 × 256 about 40 GFLOP/s, 128 × 128 about 38, 256 × 512 and 64 × 1024 about 28. */
enum { BLOCK_K = 128, BLOCK_N = 256 };

static inline int min_int(int x, int y) { return x < y ? x : y; }

/* tile[kk][jj] = op(B)[k0 + kk][j0 + jj] for kk < kc, jj < nc; rows of the tile are nc long. */
static void copy_b_tile(const dl_matmul_args *a, int k0, int kc, int j0, int nc, float *tile) {
    for (int kk = 0; kk < kc; kk++) {
        float *row = tile + (ptrdiff_t)kk * nc;
        if (a->trans_b) /* B is N×K: op(B)[k][j] = B[j][k], a strided walk */
            for (int jj = 0; jj < nc; jj++)
                row[jj] = dl_matmul_b_at(a, k0 + kk, j0 + jj);
        else
            memcpy(row, a->B + (ptrdiff_t)(k0 + kk) * a->ldb + j0, (size_t)nc * sizeof(float));
    }
}

/* c_row[0:nc] += op(A)[i][k0:k0+kc] · tile, four k at a time. */
static void row_times_tile(const dl_matmul_args *a, int i, int k0, int kc, const float *tile,
                           int nc, float *restrict c_row) {
    int kk = 0;
    for (; kk + 4 <= kc; kk += 4) {
        const float a0 = dl_matmul_a_at(a, i, k0 + kk), a1 = dl_matmul_a_at(a, i, k0 + kk + 1);
        const float a2 = dl_matmul_a_at(a, i, k0 + kk + 2), a3 = dl_matmul_a_at(a, i, k0 + kk + 3);
        const float *restrict b0 = tile + (ptrdiff_t)kk * nc;
        const float *restrict b1 = b0 + nc, *restrict b2 = b1 + nc, *restrict b3 = b2 + nc;
        for (int j = 0; j < nc; j++)
            c_row[j] += a0 * b0[j] + a1 * b1[j] + a2 * b2[j] + a3 * b3[j];
    }
    for (; kk < kc; kk++) { /* the last kc % 4 rows of the tile */
        const float a_ik = dl_matmul_a_at(a, i, k0 + kk);
        const float *restrict b_row = tile + (ptrdiff_t)kk * nc;
        for (int j = 0; j < nc; j++)
            c_row[j] += a_ik * b_row[j];
    }
}

dl_status dl_matmul_blocked(const dl_matmul_args *a) {
    const int M = a->M, N = a->N, K = a->K;
    const ptrdiff_t ldc = a->ldc;
    if (M == 0 || N == 0) return DL_OK;

    /* C = 0 first unless accumulating; then every tile adds into C. This also gives the
     * K == 0 answer (C = 0, or C unchanged). */
    if (!a->accumulate)
        for (int i = 0; i < M; i++)
            memset(a->C + i * ldc, 0, (size_t)N * sizeof(float));
    if (K == 0) return DL_OK;

    float *b_tile = NULL;
    DL_TRY(dl_alloc((void **)&b_tile, (size_t)BLOCK_K * BLOCK_N * sizeof(float)));

    for (int j0 = 0; j0 < N; j0 += BLOCK_N) {
        const int nc = min_int(BLOCK_N, N - j0);
        for (int k0 = 0; k0 < K; k0 += BLOCK_K) {
            const int kc = min_int(BLOCK_K, K - k0);
            copy_b_tile(a, k0, kc, j0, nc, b_tile);
            for (int i = 0; i < M; i++)
                row_times_tile(a, i, k0, kc, b_tile, nc, a->C + i * ldc + j0);
        }
    }
    dl_free(b_tile);
    return DL_OK;
}
