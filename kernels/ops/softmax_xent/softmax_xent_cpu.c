/* softmax_xent_cpu.c — the fast CPU softmax + cross-entropy: OpenMP across rows, each row
 * in three vectorized sweeps (max; exp and sum; scale), compiled plain (`omp`), for AVX2
 * (`omp_avx2`) and for AVX-512 (`omp_avx512`) from one body — see ops/fast_math.h.
 *
 * Sums are fp32 in vector lanes (a row of V probabilities below 1 loses ~log2(V) bits at
 * most); the mean over rows is taken in double. The exp is dl_exp_poly (≤ 2 ulp), which the
 * compiler can vectorize where libm's expf cannot. Rows are independent, so the results do
 * not depend on the thread count. Leaves out: the online (one-pass) softmax, which is
 * lesson 2's subject and lives in its own family.
 */
#include <math.h>

#include "../fast_math.h"
#include "dlab/core.h"
#include "softmax_xent_impl.h"

/* One row: probs = softmax(x); returns the loss for target t (0 if ignored). */
static DL_ALWAYS_INLINE float row_forward(const float *x, float *p, int V, int t) {
    float max = -INFINITY, sum = 0.0f;
#pragma omp simd reduction(max : max)
    for (int j = 0; j < V; j++)
        max = __builtin_isgreater(x[j], max) ? x[j] : max;
#pragma omp simd reduction(+ : sum)
    for (int j = 0; j < V; j++) {
        p[j] = dl_exp_poly(x[j] - max);
        sum += p[j];
    }
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int j = 0; j < V; j++)
        p[j] *= inv;
    return t == DL_XENT_IGNORE ? 0.0f : logf(sum) - (x[t] - max);
}

/* One valid row: d += scale · (p − onehot(t)). */
static DL_ALWAYS_INLINE void row_backward(const float *p, float *d, int V, int t, float scale) {
#pragma omp simd
    for (int j = 0; j < V; j++)
        d[j] += scale * (p[j] - dl_select(j == t, 1.0f, 0.0f));
}

/* Rows [r0, r1) of each pass, compiled for one instruction set. */
#define ROWS(isa, TARGET)                                                                          \
    TARGET static void forward_rows_##isa(const dl_softmax_xent_args *a, int r0, int r1) {         \
        for (int i = r0; i < r1; i++)                                                              \
            a->losses[i] = row_forward(a->logits + (size_t)i * a->V, a->probs + (size_t)i * a->V,  \
                                       a->V, a->targets[i]);                                       \
    }                                                                                              \
    TARGET static void backward_rows_##isa(const dl_softmax_xent_args *a, int r0, int r1,          \
                                           float scale) {                                          \
        for (int i = r0; i < r1; i++)                                                              \
            if (a->targets[i] != DL_XENT_IGNORE)                                                   \
                row_backward(a->probs + (size_t)i * a->V, a->dlogits + (size_t)i * a->V, a->V,     \
                             a->targets[i], scale);                                                \
    }

ROWS(plain, )
#ifdef DL_HAVE_X86_TARGETS
ROWS(avx2, DL_TARGET_AVX2)
ROWS(avx512, DL_TARGET_AVX512)
#endif

typedef void (*forward_rows_fn)(const dl_softmax_xent_args *a, int r0, int r1);
typedef void (*backward_rows_fn)(const dl_softmax_xent_args *a, int r0, int r1, float scale);

/* Rows per OpenMP work item: at least ~8K logits, so that small V still pays for the fork. */
static int rows_per_item(int V) { return V >= 8192 ? 1 : 8192 / (V > 0 ? V : 1); }

static dl_status run_forward(forward_rows_fn rows, const dl_softmax_xent_args *a) {
    const int step = rows_per_item(a->V), items = (a->N + step - 1) / step;
#pragma omp parallel for schedule(static) num_threads(dl_threads_get()) if (items > 1)
    for (int it = 0; it < items; it++) {
        int r0 = it * step, r1 = r0 + step;
        rows(a, r0, r1 < a->N ? r1 : a->N);
    }
    if (a->mean_loss) {
        double total = 0.0;
        for (int i = 0; i < a->N; i++)
            total += a->losses[i];
        int valid = dl_softmax_xent_valid_rows(a->targets, a->N);
        *a->mean_loss = valid > 0 ? (float)(total / valid) : 0.0f;
    }
    return DL_OK;
}

static dl_status run_backward(backward_rows_fn rows, const dl_softmax_xent_args *a) {
    const int valid = dl_softmax_xent_valid_rows(a->targets, a->N);
    if (valid == 0) return DL_OK;
    const float scale = (float)((double)a->dloss_scale / valid);
    const int step = rows_per_item(a->V), items = (a->N + step - 1) / step;
#pragma omp parallel for schedule(static) num_threads(dl_threads_get()) if (items > 1)
    for (int it = 0; it < items; it++) {
        int r0 = it * step, r1 = r0 + step;
        rows(a, r0, r1 < a->N ? r1 : a->N, scale);
    }
    return DL_OK;
}

#define PASSES(isa)                                                                                \
    static dl_status forward_##isa(const dl_softmax_xent_args *a) {                                \
        return run_forward(forward_rows_##isa, a);                                                 \
    }                                                                                              \
    static dl_status backward_##isa(const dl_softmax_xent_args *a) {                               \
        return run_backward(backward_rows_##isa, a);                                               \
    }

PASSES(plain)
const dl_softmax_xent_impl dl_softmax_xent_omp_impl = {forward_plain, backward_plain};
#ifdef DL_HAVE_X86_TARGETS
PASSES(avx2)
PASSES(avx512)
const dl_softmax_xent_impl dl_softmax_xent_omp_avx2_impl = {forward_avx2, backward_avx2};
const dl_softmax_xent_impl dl_softmax_xent_omp_avx512_impl = {forward_avx512, backward_avx512};
#else /* never run: the table marks them unavailable */
const dl_softmax_xent_impl dl_softmax_xent_omp_avx2_impl = {forward_plain, backward_plain};
const dl_softmax_xent_impl dl_softmax_xent_omp_avx512_impl = {forward_plain, backward_plain};
#endif
