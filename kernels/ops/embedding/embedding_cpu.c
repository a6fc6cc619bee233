/* embedding_cpu.c — the fast CPU embedding (`omp`).
 *
 * Forward: positions are independent, so they are split across threads; each row is a
 * vectorized add of two embedding rows.
 * Backward is a scatter-add where repeated tokens hit the same row of dwte, so splitting
 * positions across threads would race (or need atomics, whose order — and so whose bits —
 * changes from run to run). Instead every ROW of the gradient tables has one owner: the work
 * is 2·S tasks, S for dwte (task k owns the token ids ≡ k mod S and scans all positions for
 * them) and S for dwpe (task k owns a range of positions t); S = ⌈threads/2⌉, so two threads
 * take one table each. Each row receives its contributions in ref's (b, t) order, so the
 * result is bit-identical to ref at any thread count, with no atomics.
 * Splitting COLUMNS instead (each thread a slice of every row) was measured 2× slower than
 * one thread on the 2-core Zen 5 at B·T = 1024, C = 128; splitting the two tables was ~20%
 * faster. The op is memory-bound: every task reads all of dout's rows it needs.
 * Leaves out: sorting tokens to batch repeated ones (pays only for huge B·T).
 */
#include <stdbool.h>

#include "dlab/core.h"
#include "embedding_impl.h"

static dl_status forward(const dl_embedding_args *a) {
    const int C = a->C, positions = a->B * a->T;
#pragma omp parallel for schedule(static)                                                          \
    num_threads(dl_threads_get()) if ((long)positions * C > 32768)
    for (int p = 0; p < positions; p++) {
        const float *te = a->wte + (size_t)a->tokens[p] * C;
        const float *pe = a->wpe + (size_t)(p % a->T) * C;
        float *y = a->out + (size_t)p * C;
#pragma omp simd
        for (int c = 0; c < C; c++)
            y[c] = te[c] + pe[c];
    }
    return DL_OK;
}

static inline void add_row(float *dst, const float *src, int C) {
#pragma omp simd
    for (int c = 0; c < C; c++)
        dst[c] += src[c];
}

/* dwte rows of the token ids ≡ k (mod S), positions in order. */
static void dwte_task(const dl_embedding_args *a, int k, int S) {
    const int C = a->C, positions = a->B * a->T;
    for (int p = 0; p < positions; p++)
        if (a->tokens[p] % S == k)
            add_row(a->dwte + (size_t)a->tokens[p] * C, a->dout + (size_t)p * C, C);
}

/* dwpe rows t in the k-th of S ranges, b ascending for each. */
static void dwpe_task(const dl_embedding_args *a, int k, int S) {
    const int C = a->C, t0 = (int)((long)a->T * k / S), t1 = (int)((long)a->T * (k + 1) / S);
    for (int b = 0; b < a->B; b++)
        for (int t = t0; t < t1; t++)
            add_row(a->dwpe + (size_t)t * C, a->dout + ((size_t)b * a->T + t) * C, C);
}

static dl_status backward(const dl_embedding_args *a) {
    const int threads = dl_threads_get(), S = threads > 1 ? (threads + 1) / 2 : 1;
    const bool parallel = threads > 1 && (long)a->B * a->T * a->C > 32768;
#pragma omp parallel for schedule(static) num_threads(threads) if (parallel)
    for (int task = 0; task < 2 * S; task++) {
        if (task < S && a->dwte) dwte_task(a, task, S);
        if (task >= S && a->dwpe) dwpe_task(a, task - S, S);
    }
    return DL_OK;
}

const dl_embedding_impl dl_embedding_omp_impl = {forward, backward};
