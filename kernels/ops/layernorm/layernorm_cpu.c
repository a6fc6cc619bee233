/* layernorm_cpu.c — the fast CPU layernorm: OpenMP, loops the compiler vectorizes, compiled
 * plain (`omp`), for AVX2 (`omp_avx2`) and AVX-512 (`omp_avx512`) from one body (see
 * ops/fast_math.h).
 *
 * Forward and the dinp part of backward split ROWS across threads (rows are independent).
 * dgamma and dbeta are sums over rows, so they split COLUMNS instead: each thread owns a
 * block of columns and walks all rows top to bottom, which gives the same bits at any thread
 * count (splitting rows would need a cross-thread reduction whose order depends on them).
 * That reads dout and inp a second time; at model sizes both are still in L2.
 * Sums are fp32 in vector lanes, two passes for the variance (no E[x²] − E[x]²
 * cancellation), over data shifted by the row's first value (see row_forward).
 * Leaves out: fusing the residual add (llm.c's fused_residual_forward).
 */
#include <math.h>

#include "../fast_math.h"
#include "dlab/core.h"
#include "layernorm_impl.h"

/* Columns one thread owns in the dgamma/dbeta pass; its two accumulators stay in L1. */
#define COLUMN_BLOCK 64

/* Statistics of the data shifted by its first value (the "shifted data" algorithm; Chan,
 * Golub & LeVeque 1983): x − x0 is exact when the values are close to each other (Sterbenz),
 * so a row like 1000 ± 1 sums small numbers instead of numbers near 1000 and loses nothing
 * to the offset; and the deviations (x − x0) − d never subtract a rounded fp32 mean. */
static DL_ALWAYS_INLINE void row_forward(const float *x, const float *gamma, const float *beta,
                                         float *y, int C, float eps, float *mean_out,
                                         float *rstd_out) {
    const float shift = x[0];
    float sum = 0.0f, var = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int c = 0; c < C; c++)
        sum += x[c] - shift;
    const float d = sum / C; /* mean − shift */
#pragma omp simd reduction(+ : var)
    for (int c = 0; c < C; c++)
        var += ((x[c] - shift) - d) * ((x[c] - shift) - d);
    const float rstd = 1.0f / sqrtf(var / C + eps);
#pragma omp simd
    for (int c = 0; c < C; c++)
        y[c] = ((x[c] - shift) - d) * rstd * gamma[c] + beta[c];
    *mean_out = shift + d;
    *rstd_out = rstd;
}

static DL_ALWAYS_INLINE void row_backward_dinp(const float *x, const float *dy, const float *gamma,
                                               float mean, float rstd, float *dx, int C) {
    float g_sum = 0.0f, gn_sum = 0.0f;
#pragma omp simd reduction(+ : g_sum, gn_sum)
    for (int c = 0; c < C; c++) {
        float g = dy[c] * gamma[c];
        g_sum += g;
        gn_sum += g * (x[c] - mean) * rstd;
    }
    const float g_mean = g_sum / C, gn_mean = gn_sum / C;
#pragma omp simd
    for (int c = 0; c < C; c++)
        dx[c] += rstd * (dy[c] * gamma[c] - g_mean - (x[c] - mean) * rstd * gn_mean);
}

/* dgamma, dbeta for columns [c0, c1) (c1 − c0 ≤ COLUMN_BLOCK), all rows in order. */
static DL_ALWAYS_INLINE void columns_backward(const dl_layernorm_args *a, int c0, int c1) {
    float dg[COLUMN_BLOCK] = {0}, db[COLUMN_BLOCK] = {0};
    const int w = c1 - c0;
    for (int i = 0; i < a->N; i++) {
        const float *x = a->inp + (size_t)i * a->C + c0, *dy = a->dout + (size_t)i * a->C + c0;
        const float mean = a->mean[i], rstd = a->rstd[i];
#pragma omp simd
        for (int c = 0; c < w; c++) {
            dg[c] += dy[c] * (x[c] - mean) * rstd;
            db[c] += dy[c];
        }
    }
    for (int c = 0; c < w; c++) {
        if (a->dgamma) a->dgamma[c0 + c] += dg[c];
        if (a->dbeta) a->dbeta[c0 + c] += db[c];
    }
}

/* Rows [r0, r1) of forward and of backward's dinp, and one column block, for one ISA. */
#define KERNELS(isa, TARGET)                                                                       \
    TARGET static void forward_rows_##isa(const dl_layernorm_args *a, int r0, int r1) {            \
        const float eps = dl_layernorm_eps(a);                                                     \
        for (int i = r0; i < r1; i++)                                                              \
            row_forward(a->inp + (size_t)i * a->C, a->gamma, a->beta, a->out + (size_t)i * a->C,   \
                        a->C, eps, &a->mean[i], &a->rstd[i]);                                      \
    }                                                                                              \
    TARGET static void dinp_rows_##isa(const dl_layernorm_args *a, int r0, int r1) {               \
        for (int i = r0; i < r1; i++)                                                              \
            row_backward_dinp(a->inp + (size_t)i * a->C, a->dout + (size_t)i * a->C, a->gamma,     \
                              a->mean[i], a->rstd[i], a->dinp + (size_t)i * a->C, a->C);           \
    }                                                                                              \
    TARGET static void columns_##isa(const dl_layernorm_args *a, int c0, int c1) {                 \
        columns_backward(a, c0, c1);                                                               \
    }

KERNELS(plain, )
#ifdef DL_HAVE_X86_TARGETS
KERNELS(avx2, DL_TARGET_AVX2)
KERNELS(avx512, DL_TARGET_AVX512)
#endif

typedef void (*range_fn)(const dl_layernorm_args *a, int begin, int end);

/* Run fn over [0, n) in pieces of `step`, shared among threads when there is enough work. */
static void parallel_ranges(range_fn fn, const dl_layernorm_args *a, int n, int step, long work) {
    const int items = (n + step - 1) / step;
#pragma omp parallel for schedule(static)                                                          \
    num_threads(dl_threads_get()) if (items > 1 && work > 16384)
    for (int it = 0; it < items; it++) {
        int begin = it * step, end = begin + step;
        fn(a, begin, end < n ? end : n);
    }
}

/* Rows per work item: ~8K elements. */
static int row_step(int C) { return C >= 8192 ? 1 : 8192 / C; }

static dl_status run_forward(range_fn rows, const dl_layernorm_args *a) {
    if (a->C > 0) parallel_ranges(rows, a, a->N, row_step(a->C), (long)a->N * a->C);
    return DL_OK;
}

static dl_status run_backward(range_fn dinp_rows, range_fn columns, const dl_layernorm_args *a) {
    const long work = (long)a->N * a->C;
    if (a->C == 0) return DL_OK;
    if (a->dinp) parallel_ranges(dinp_rows, a, a->N, row_step(a->C), work);
    if (a->dgamma || a->dbeta) parallel_ranges(columns, a, a->C, COLUMN_BLOCK, work);
    return DL_OK;
}

#define PASSES(isa)                                                                                \
    static dl_status forward_##isa(const dl_layernorm_args *a) {                                   \
        return run_forward(forward_rows_##isa, a);                                                 \
    }                                                                                              \
    static dl_status backward_##isa(const dl_layernorm_args *a) {                                  \
        return run_backward(dinp_rows_##isa, columns_##isa, a);                                    \
    }

PASSES(plain)
const dl_layernorm_impl dl_layernorm_omp_impl = {forward_plain, backward_plain};
#ifdef DL_HAVE_X86_TARGETS
PASSES(avx2)
PASSES(avx512)
const dl_layernorm_impl dl_layernorm_omp_avx2_impl = {forward_avx2, backward_avx2};
const dl_layernorm_impl dl_layernorm_omp_avx512_impl = {forward_avx512, backward_avx512};
#else /* never run: the table marks them unavailable */
const dl_layernorm_impl dl_layernorm_omp_avx2_impl = {forward_plain, backward_plain};
const dl_layernorm_impl dl_layernorm_omp_avx512_impl = {forward_plain, backward_plain};
#endif
