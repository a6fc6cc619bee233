/* softmax_cpu.c — the fast CPU softmax variants, all OpenMP over rows (rows are
 * independent; one row is never split across threads):
 *
 *   naive          e^x, Σ, divide: no max shift, so e^x overflows to inf for x > ~88.7 and
 *                  the row turns inf/NaN. Kept to show why the shift exists.
 *   safe           three passes over the row: max; Σ e^(x − m); e^(x − m)/Σ (recomputed, not
 *                  stored: 3 reads + 1 write per element, the paper's "4 accesses").
 *   online         one pass keeping (m, d), d ← d·e^(m_old − m_new) + e^(x − m_new), then
 *                  the normalize pass: 2 reads + 1 write. Scalar (the branchy update does
 *                  not vectorize), so it shows the algorithm, not the bandwidth.
 *   online_avx512  16 lanes each keep their own (m, d) over elements j ≡ lane (mod 16),
 *                  merged at the end with the pair rule. Intrinsics with exp16 (below),
 *                  the tail as one masked vector whose missing lanes read −inf.
 *   safe_avx512    safe in AVX-512 intrinsics with exp16: the fair baseline for online_avx512.
 *
 * The two AVX-512 variants take one of two paths by row length, both true to their
 * algorithm's memory traffic:
 *   V > CACHED_MAX  the passes above, re-reading x and recomputing e^(x − m) in the last one;
 *                   this is where a row no longer fits in the core's cache, and where the
 *                   paper's access counts decide the speed.
 *   V ≤ CACHED_MAX  the row and its exponentials stay in L2, so re-reading is free and the
 *                   exp is the cost: each e^x is computed once and stored, then rescaled.
 *                   safe: max pass, exp-and-sum pass, scale pass; online: per chunk of 4096
 *                   its max and exp-and-sum (x read once), merged with the pair rule, then
 *                   each chunk rescaled by e^(m_c − m)/d.
 * When the whole output is larger than the last-level cache they write it with
 * non-temporal stores (no read-for-ownership of lines that would be evicted anyway; the
 * cached path then keeps its exponentials in a per-thread scratch row instead of y).
 *   safe_avx2,     the plain-C safe and 16-lane online bodies (dl_exp_poly) compiled for
 *   online_avx2    AVX2+FMA: for CPUs without AVX-512.
 *
 * Per-element update with one exp instead of two: of e^(m_old − m_new) and e^(x − m_new)
 * one is e^0 = 1, so e = e^(lo − hi) with lo, hi = min, max(m_old, x) and
 *   x > m_old:  d ← d·e + 1, m ← x        otherwise:  d ← d + e.
 * lo = −inf gives e = 0 (never −inf − −inf = NaN); a NaN x makes e and then d NaN.
 * Special values (softmax.h): a row whose final m is +inf or −inf, or whose d is NaN,
 * becomes all NaN. The backward pass is shared by all of them.
 * Without x86 targets the AVX-512 pair falls back to the plain-C bodies (dl_exp_poly).
 * Leaves out: splitting one long row across threads (batch 1 with V = 10⁶ uses one core).
 */
#include <math.h>
#include <stdint.h>
#include <unistd.h>

#include "../fast_math.h"
#include "dlab/core.h"
#include "softmax_impl.h"
#include "softmax_simd.h"

/* Rows up to CACHED_MAX elements (256 KiB: x and its exponentials fit in a 1 MiB L2) take
 * the cached path of the AVX-512 variants; CHUNK is the online one's block (16 KiB, in L1;
 * 1024 measured ~10 % slower in cache: the per-chunk merge and rescale add up). */
enum { CACHED_MAX = 65536, CHUNK = 4096 };

static void fill_nan(float *y, int V) {
    for (int j = 0; j < V; j++) y[j] = NAN;
}

/* y = e^(x − m) / d, vectorized. */
static DL_ALWAYS_INLINE void normalize(const float *x, float *y, int V, float m, float d) {
    const float inv_d = 1.0f / d;
#pragma omp simd
    for (int j = 0; j < V; j++) y[j] = dl_exp_poly(x[j] - m) * inv_d;
}

/* ---------------------------------------------------------------------------- naive */
static void naive_row(const float *x, float *y, int V) {
    float sum = 0.0f;
    for (int j = 0; j < V; j++) sum += expf(x[j]);
    for (int j = 0; j < V; j++) y[j] = expf(x[j]) / sum;
}

/* ----------------------------------------------------------------------------- safe */
static DL_ALWAYS_INLINE void safe_row_body(const float *x, float *y, int V) {
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int j = 0; j < V; j++) m = dl_select(__builtin_isgreater(x[j], m), x[j], m);
    /* A NaN x is skipped by the max but makes its e^(x − m), hence d, NaN. */
    float d = 0.0f;
#pragma omp simd reduction(+ : d)
    for (int j = 0; j < V; j++) d += dl_exp_poly(x[j] - m);
    if (!row_defined(m, d)) {
        fill_nan(y, V);
        return;
    }
    normalize(x, y, V, m, d);
}
static void safe_row(const float *x, float *y, int V) { safe_row_body(x, y, V); }

/* --------------------------------------------------------------------------- online */
static void online_row(const float *x, float *y, int V) {
    float m = -INFINITY, d = 0.0f;
    for (int j = 0; j < V; j++) online_update(x[j], &m, &d);
    if (!row_defined(m, d)) {
        fill_nan(y, V);
        return;
    }
    normalize(x, y, V, m, d);
}

#define LANES 16
static DL_ALWAYS_INLINE void online_lanes_body(const float *x, float *y, int V) {
    float m[LANES], d[LANES];
    for (int l = 0; l < LANES; l++) m[l] = -INFINITY, d[l] = 0.0f;
    int j = 0;
    for (; j + LANES <= V; j += LANES) {
#pragma omp simd
        for (int l = 0; l < LANES; l++) {
            const float xv = x[j + l], mo = m[l];
            const bool gt = __builtin_isgreater(xv, mo);
            const float hi = dl_select(gt, xv, mo), lo = dl_select(gt, mo, xv);
            const float e = dl_exp_poly(dl_select(lo == -INFINITY, -INFINITY, lo - hi));
            d[l] = dl_select(gt, d[l] * e + 1.0f, d[l] + e);
            m[l] = hi;
        }
    }
    for (int l = 0; j < V; j++, l++) online_update(x[j], &m[l], &d[l]);
    for (int width = LANES / 2; width > 0; width /= 2)
        for (int l = 0; l < width; l++)
            combine_fast(m[l], d[l], m[l + width], d[l + width], &m[l], &d[l]);
    if (!row_defined(m[0], d[0])) {
        fill_nan(y, V);
        return;
    }
    normalize(x, y, V, m[0], d[0]);
}

#ifdef DL_HAVE_X86_TARGETS
#include <immintrin.h>

/* Scalar entry for the accuracy test (declared there, not in a header). */
DL_TARGET_EXP16 float dl_softmax_exp16_scalar(float x) {
    return _mm512_cvtss_f32(exp16(_mm512_set1_ps(x)));
}

/* Write one row (or part of one) of the output, n floats:
 *   with_exp   y = e^(src − m) · f     (the normalize pass, recomputing the exponential)
 *   otherwise  y = src · f             (rescaling exponentials stored earlier)
 * stream: non-temporal stores, which skip the caches and so save the read that an ordinary
 * store of a line not in cache costs first (write-allocate): 4 bytes an element less, when
 * the output is too big to stay in cache anyway. They need 64-byte-aligned addresses, so the
 * lanes before the first aligned one are a masked ordinary store. Always inlined with a
 * constant with_exp, so each caller gets one branch-free loop. */
static inline __attribute__((always_inline)) DL_TARGET_AVX512 __m512
emit_value(__m512 s, __m512 vm, __m512 vf, bool with_exp) {
    return with_exp ? _mm512_mul_ps(exp16(_mm512_sub_ps(s, vm)), vf) : _mm512_mul_ps(s, vf);
}

static inline __attribute__((always_inline)) DL_TARGET_AVX512 void
emit_row(const float *src, float *y, int n, bool with_exp, float m, float f, bool stream) {
    const __m512 vm = _mm512_set1_ps(m), vf = _mm512_set1_ps(f);
    int j = 0;
    if (stream) {
        const int to_aligned = (int)(((64 - ((uintptr_t)y & 63)) & 63) / sizeof(float));
        const int head = to_aligned < n ? to_aligned : n;
        if (head > 0) {
            const __mmask16 k = tail_mask(head);
            _mm512_mask_storeu_ps(y, k, emit_value(_mm512_maskz_loadu_ps(k, src), vm, vf, with_exp));
        }
        /* rows_forward fences once per thread at the end (a fence per row or chunk would
         * wait for every streamed line each time, and stall the next row's loads) */
        for (j = head; j + 16 <= n; j += 16)
            _mm512_stream_ps(y + j, emit_value(_mm512_loadu_ps(src + j), vm, vf, with_exp));
    } else {
        for (; j + 16 <= n; j += 16)
            _mm512_storeu_ps(y + j, emit_value(_mm512_loadu_ps(src + j), vm, vf, with_exp));
    }
    if (j < n) {
        const __mmask16 k = tail_mask(n - j);
        _mm512_mask_storeu_ps(y + j, k,
                              emit_value(_mm512_maskz_loadu_ps(k, src + j), vm, vf, with_exp));
    }
}

/* The row's max, NaN skipped (max(x, m) returns m when x is NaN). */
static inline __attribute__((always_inline)) DL_TARGET_AVX512 float max_avx512(const float *x,
                                                                               int n) {
    const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
    __m512 vmax = neg_inf;
    int j = 0;
    for (; j + 16 <= n; j += 16) vmax = _mm512_max_ps(_mm512_loadu_ps(x + j), vmax);
    if (j < n) vmax = _mm512_max_ps(_mm512_mask_loadu_ps(neg_inf, tail_mask(n - j), x + j), vmax);
    return _mm512_reduce_max_ps(vmax);
}

/* Σ e^(x − m) over n elements; if e is not NULL the exponentials are also stored there.
 * A NaN x makes the sum NaN. Two sums hide the add latency.
 * ahead (or NULL): the data wanted next, prefetched into L2 one line per 16 elements while
 * this pass computes — the exp pass reads from cache and leaves DRAM idle, so this is where
 * the next rows' (or chunks') loads can overlap with arithmetic. A prefetch never faults,
 * so running past the end of the input is harmless. */
static inline __attribute__((always_inline)) DL_TARGET_AVX512 float
sum_exp_avx512(const float *x, int n, float m, float *e, const float *ahead) {
    const __m512 vm = _mm512_set1_ps(m);
    __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
    int j = 0;
    for (; j + 32 <= n; j += 32) {
        if (ahead) {
            _mm_prefetch((const char *)(ahead + j), _MM_HINT_T1);
            _mm_prefetch((const char *)(ahead + j + 16), _MM_HINT_T1);
        }
        const __m512 e0 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm));
        const __m512 e1 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + j + 16), vm));
        if (e) _mm512_storeu_ps(e + j, e0), _mm512_storeu_ps(e + j + 16, e1);
        sum0 = _mm512_add_ps(sum0, e0);
        sum1 = _mm512_add_ps(sum1, e1);
    }
    for (; j + 16 <= n; j += 16) {
        const __m512 e0 = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + j), vm));
        if (e) _mm512_storeu_ps(e + j, e0);
        sum0 = _mm512_add_ps(sum0, e0);
    }
    if (j < n) {
        const __mmask16 k = tail_mask(n - j);
        const __m512 e0 = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), vm));
        if (e) _mm512_mask_storeu_ps(e + j, k, e0);
        sum1 = _mm512_mask_add_ps(sum1, k, sum1, e0);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(sum0, sum1));
}

/* --- rows longer than CACHED_MAX: the passes re-read x and recompute e^(x − m), so the
 *     memory traffic is what the paper counts (safe 3 reads + 1 write, online 2 + 1). --- */

DL_TARGET_AVX512 static void safe_row_avx512(const float *x, float *y, int V, float *tmp,
                                             bool stream) {
    (void)tmp;
    const float m = max_avx512(x, V);
    const float d = sum_exp_avx512(x, V, m, NULL, NULL);
    if (!row_defined(m, d)) {
        fill_nan(y, V);
        return;
    }
    emit_row(x, y, V, true, m, 1.0f / d, stream);
}

DL_TARGET_AVX512 static void online_row_avx512(const float *x, float *y, int V, float *tmp,
                                               bool stream) {
    (void)tmp;
    const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
    __m512 m = neg_inf, d = _mm512_setzero_ps();
    int j = 0;
    for (; j + 16 <= V; j += 16) online_step16(_mm512_loadu_ps(x + j), &m, &d);
    if (j < V) online_step16(_mm512_mask_loadu_ps(neg_inf, tail_mask(V - j), x + j), &m, &d);
    float m_all, d_all;
    merge_lanes16(m, d, &m_all, &d_all);
    if (!row_defined(m_all, d_all)) {
        fill_nan(y, V);
        return;
    }
    emit_row(x, y, V, true, m_all, 1.0f / d_all, stream);
}

/* --- rows of at most CACHED_MAX: x and the row's exponentials stay in the core's L2, so a
 *     second look at them costs no memory traffic; what costs is computing e^x, so each
 *     element's exponential is computed once, stored in tmp (a per-thread scratch row, or
 *     y itself when the output is not streamed) and rescaled at the end. --- */

DL_TARGET_AVX512 static void safe_row_cached_avx512(const float *x, float *y, int V, float *tmp,
                                                    bool stream) {
    const float m = max_avx512(x, V);
    if (!(m > -INFINITY && m < INFINITY)) { /* all −inf, or a +inf: undefined */
        fill_nan(y, V);
        return;
    }
    const float d = sum_exp_avx512(x, V, m, tmp, x + V); /* prefetch the next row */
    if (!row_defined(m, d)) {
        fill_nan(y, V);
        return;
    }
    emit_row(tmp, y, V, false, 0.0f, 1.0f / d, stream);
}

/* Online in chunks of CHUNK (in L1 while they are worked on): each chunk's max, then its
 * exponentials relative to that max (stored) and their sum; (m, d) absorbs the chunk's
 * (m_c, d_c) with the pair rule. x is read from memory once. At the end each chunk is
 * rescaled by e^(m_c − m) / d. A chunk with m_c = −inf (all −inf, or −inf and NaN) uses 0
 * as its reference so that e^(−inf − 0) = 0 and a NaN still shows, and weighs 0 in the pair
 * rule (a NaN d_c still makes d NaN). */
DL_TARGET_AVX512 static void online_row_cached_avx512(const float *x, float *y, int V,
                                                      float *tmp, bool stream) {
    float chunk_m[CACHED_MAX / CHUNK + 1];
    float m = -INFINITY, d = 0.0f;
    for (int c = 0, j0 = 0; j0 < V; j0 += CHUNK, c++) {
        const int n = V - j0 < CHUNK ? V - j0 : CHUNK;
        const float mc = max_avx512(x + j0, n);
        /* prefetch the same chunk of the next row, as safe does */
        const float dc = sum_exp_avx512(x + j0, n, mc == -INFINITY ? 0.0f : mc, tmp + j0, x + j0 + V);
        chunk_m[c] = mc;
        combine_fast(m, d, mc, dc, &m, &d);
    }
    if (!row_defined(m, d)) {
        fill_nan(y, V);
        return;
    }
    const float inv_d = 1.0f / d;
    for (int c = 0, j0 = 0; j0 < V; j0 += CHUNK, c++) {
        const int n = V - j0 < CHUNK ? V - j0 : CHUNK;
        const float f = chunk_m[c] == -INFINITY ? 0.0f : expf(chunk_m[c] - m) * inv_d;
        emit_row(tmp + j0, y + j0, n, false, 0.0f, f, stream);
    }
}

DL_TARGET_AVX512 static void safe_any_avx512(const float *x, float *y, int V, float *tmp,
                                             bool stream) {
    if (V <= CACHED_MAX)
        safe_row_cached_avx512(x, y, V, tmp, stream);
    else
        safe_row_avx512(x, y, V, tmp, stream);
}

DL_TARGET_AVX512 static void online_any_avx512(const float *x, float *y, int V, float *tmp,
                                               bool stream) {
    if (V <= CHUNK) /* one chunk: its max is the row's, online and safe coincide */
        safe_row_cached_avx512(x, y, V, tmp, stream);
    else if (V <= CACHED_MAX)
        online_row_cached_avx512(x, y, V, tmp, stream);
    else
        online_row_avx512(x, y, V, tmp, stream);
}

/* AVX2+FMA: the plain-C bodies compiled for 8-float vectors (GCC vectorizes dl_exp_poly and
 * the 16-lane update as two 8-lane halves). */
DL_TARGET_AVX2 static void safe_row_avx2(const float *x, float *y, int V, float *tmp,
                                         bool stream) {
    (void)tmp, (void)stream;
    safe_row_body(x, y, V);
}
DL_TARGET_AVX2 static void online_row_avx2(const float *x, float *y, int V, float *tmp,
                                           bool stream) {
    (void)tmp, (void)stream;
    online_lanes_body(x, y, V);
}
#else
static void safe_any_avx512(const float *x, float *y, int V, float *tmp, bool stream) {
    (void)tmp, (void)stream;
    safe_row_body(x, y, V);
}
static void online_any_avx512(const float *x, float *y, int V, float *tmp, bool stream) {
    (void)tmp, (void)stream;
    online_lanes_body(x, y, V);
}
static void safe_row_avx2(const float *x, float *y, int V, float *tmp, bool stream) {
    (void)tmp, (void)stream;
    safe_row_body(x, y, V);
}
static void online_row_avx2(const float *x, float *y, int V, float *tmp, bool stream) {
    (void)tmp, (void)stream;
    online_lanes_body(x, y, V);
}
#endif

/* ------------------------------------------------------------------- the row driver */
/* One row: x → y. tmp: V floats of per-thread scratch for the exponentials, or y itself;
 * stream: write y with non-temporal stores. Only the AVX-512 variants use the two. */
typedef void (*row_fn)(const float *x, float *y, int V, float *tmp, bool stream);

/* Output bigger than the last-level cache: it will not be read from cache anyway, so the
 * AVX-512 variants stream it (sysconf's figure; 32 MiB if it has none). */
static bool output_is_streamed(const dl_softmax_args *a) {
    long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    if (llc <= 0) llc = 32L << 20;
    return 4.0 * a->N * a->V > (double)llc;
}

static dl_status rows_forward(const dl_softmax_args *a, row_fn row, bool may_stream) {
    const long V = a->V;
    if (a->N == 0 || V == 0) return DL_OK;
    const bool stream = may_stream && output_is_streamed(a);
#pragma omp parallel
    {
        /* A streamed cached row cannot keep its exponentials in y and rescale them there
         * (that would bring y into the cache): they go to a scratch row that stays in L2.
         * Without one, y is used and not streamed: the same result, only slower. */
        float *scratch = NULL;
        if (stream && V <= CACHED_MAX && dl_alloc((void **)&scratch, sizeof(float) * V) != DL_OK)
            scratch = NULL;
        const bool stream_rows = stream && (V > CACHED_MAX || scratch);
#pragma omp for schedule(static)
        for (long i = 0; i < a->N; i++)
            row(a->inp + i * V, a->out + i * V, a->V, scratch ? scratch : a->out + i * V,
                stream_rows);
        dl_free(scratch);
#ifdef DL_HAVE_X86_TARGETS
        /* Streamed stores are weakly ordered: make them visible before anyone reads y. */
        if (stream_rows) _mm_sfence();
#endif
    }
    return DL_OK;
}

/* The plain-C rows, without scratch or streaming. */
#define PLAIN_ROW(name, body)                                                                      \
    static void name(const float *x, float *y, int V, float *tmp, bool stream) {                   \
        (void)tmp, (void)stream;                                                                   \
        body(x, y, V);                                                                             \
    }
PLAIN_ROW(naive_row_, naive_row)
PLAIN_ROW(safe_row_, safe_row)
PLAIN_ROW(online_row_, online_row)

static dl_status naive_forward(const dl_softmax_args *a) { return rows_forward(a, naive_row_, false); }
static dl_status safe_forward(const dl_softmax_args *a) { return rows_forward(a, safe_row_, false); }
static dl_status safe_avx512_forward(const dl_softmax_args *a) {
    return rows_forward(a, safe_any_avx512, true);
}
static dl_status online_forward(const dl_softmax_args *a) { return rows_forward(a, online_row_, false); }
static dl_status safe_avx2_forward(const dl_softmax_args *a) {
    return rows_forward(a, safe_row_avx2, false);
}
static dl_status online_avx2_forward(const dl_softmax_args *a) {
    return rows_forward(a, online_row_avx2, false);
}
static dl_status online_avx512_forward(const dl_softmax_args *a) {
    return rows_forward(a, online_any_avx512, true);
}

/* dinp += y ⊙ (dout − Σ dout·y), the dot in fp32 vector lanes. */
static dl_status fast_backward(const dl_softmax_args *a) {
    const long V = a->V;
    if (!a->dinp || a->N == 0 || V == 0) return DL_OK;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < a->N; i++) {
        const float *y = a->out + i * V, *dy = a->dout + i * V;
        float *dx = a->dinp + i * V;
        float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
        for (long j = 0; j < V; j++) dot += dy[j] * y[j];
#pragma omp simd
        for (long j = 0; j < V; j++) dx[j] += y[j] * (dy[j] - dot);
    }
    return DL_OK;
}

const dl_softmax_impl dl_softmax_naive_impl = {naive_forward, fast_backward};
const dl_softmax_impl dl_softmax_safe_impl = {safe_forward, fast_backward};
const dl_softmax_impl dl_softmax_safe_avx512_impl = {safe_avx512_forward, fast_backward};
const dl_softmax_impl dl_softmax_online_impl = {online_forward, fast_backward};
const dl_softmax_impl dl_softmax_online_avx512_impl = {online_avx512_forward, fast_backward};
const dl_softmax_impl dl_softmax_safe_avx2_impl = {safe_avx2_forward, fast_backward};
const dl_softmax_impl dl_softmax_online_avx2_impl = {online_avx2_forward, fast_backward};
