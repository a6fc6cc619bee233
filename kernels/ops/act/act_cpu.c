/* act_cpu.c — the fast CPU relu and gelu: OpenMP over chunks, loops the compiler vectorizes.
 *
 * Each loop body is written once (the *_body functions) and compiled three times through
 * thin wrappers: plain (`omp`, whatever the baseline ISA gives), AVX2 and AVX-512
 * (`omp_avx2`, `omp_avx512`, run only where dl_cpu() has them) — see ops/fast_math.h.
 * `#pragma omp simd` tells the compiler iterations are independent, which also makes the
 * in-place forward (out == inp) vectorize: GCC's run-time overlap check would refuse it.
 *
 * Selects are dl_select (bit operations) with quiet comparisons, which keeps every loop
 * vectorizable for SSE2 and AVX2 too — see fast_math.h for why a plain ?: is not.
 *
 * gelu is computed as x·σ(2u) = x / (1 + e^(−2u)) with the vectorizable dl_exp_poly, not
 * with tanh: one exp and one division per element, and no cancellation in 1 + tanh u for
 * negative x. Its derivative uses σ(2u)·(1 − σ(2u)) = e·σ², again without cancellation;
 * x is clamped to ±10 there (beyond which gelu' is 1 or below 1e-35) so e^(−2u) stays finite
 * and no inf·0 appears.
 */
#include "../fast_math.h"
#include "act_impl.h"
#include "dlab/core.h"

/* Elements per OpenMP work item: 64 KiB of input, enough to hide the fork cost. */
#define ACT_CHUNK 16384

static DL_ALWAYS_INLINE void relu_forward_body(const float *inp, float *out, size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        out[i] = dl_select(__builtin_isless(inp[i], 0.0f), 0.0f, inp[i]);
}

static DL_ALWAYS_INLINE void relu_backward_body(const float *inp, const float *dout, float *dinp,
                                                size_t n) {
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        dinp[i] += dl_select(__builtin_isgreater(inp[i], 0.0f), dout[i], 0.0f);
}

static DL_ALWAYS_INLINE void gelu_forward_body(const float *inp, float *out, size_t n) {
    const float k2 = (float)(2.0 * DL_GELU_K), c = (float)DL_GELU_C;
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        /* −inf (and below −1e30) becomes −1e30, so that x·σ = −1e30·0 = −0, the limit, where
         * −inf·0 would be NaN. A NaN fails the test and stays NaN. */
        float x = dl_select(__builtin_isless(inp[i], -1e30f), -1e30f, inp[i]);
        float e = dl_exp_poly(-k2 * (x + c * x * x * x)); /* e^(−2u) */
        out[i] = x / (1.0f + e);
    }
}

static DL_ALWAYS_INLINE void gelu_backward_body(const float *inp, const float *dout, float *dinp,
                                                size_t n) {
    const float k2 = (float)(2.0 * DL_GELU_K), c = (float)DL_GELU_C;
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = dl_select(__builtin_isless(inp[i], -10.0f), -10.0f, inp[i]); /* NaN stays */
        x = dl_select(__builtin_isgreater(x, 10.0f), 10.0f, x);
        float e = dl_exp_poly(-k2 * (x + c * x * x * x));
        float s = 1.0f / (1.0f + e);
        float es = e * s; /* = e/(1+e) ≤ 1; e alone times x³ would overflow at x = −10 */
        float grad = s + x * k2 * (1.0f + 3.0f * c * x * x) * (es * s);
        dinp[i] += dout[i] * grad;
    }
}

/* A span [begin, end) of one pass, compiled for one instruction set. */
typedef void (*span_fn)(const dl_act_args *a, size_t begin, size_t end);

#define SPANS_ISA(name, isa, TARGET)                                                               \
    TARGET static void name##_forward_span_##isa(const dl_act_args *a, size_t b, size_t e) {       \
        name##_forward_body(a->inp + b, a->out + b, e - b);                                        \
    }                                                                                              \
    TARGET static void name##_backward_span_##isa(const dl_act_args *a, size_t b, size_t e) {      \
        name##_backward_body(a->inp + b, a->dout + b, a->dinp + b, e - b);                         \
    }

SPANS_ISA(relu, plain, )
SPANS_ISA(gelu, plain, )
#ifdef DL_HAVE_X86_TARGETS
SPANS_ISA(relu, avx2, DL_TARGET_AVX2)
SPANS_ISA(relu, avx512, DL_TARGET_AVX512)
SPANS_ISA(gelu, avx2, DL_TARGET_AVX2)
SPANS_ISA(gelu, avx512, DL_TARGET_AVX512)
#endif

/* Split [0, n) into ACT_CHUNK pieces shared among the threads (one thread when small). */
static dl_status run_spans(span_fn span, const dl_act_args *a) {
    const long chunks = (long)((a->n + ACT_CHUNK - 1) / ACT_CHUNK);
#pragma omp parallel for schedule(static) num_threads(dl_threads_get()) if (chunks > 1)
    for (long ch = 0; ch < chunks; ch++) {
        size_t begin = (size_t)ch * ACT_CHUNK, end = begin + ACT_CHUNK;
        span(a, begin, end < a->n ? end : a->n);
    }
    return DL_OK;
}

#define PASSES(prefix, fwd_span, bwd_span)                                                         \
    static dl_status prefix##_forward(const dl_act_args *a) { return run_spans(fwd_span, a); }     \
    static dl_status prefix##_backward(const dl_act_args *a) { return run_spans(bwd_span, a); }

PASSES(relu_omp, relu_forward_span_plain, relu_backward_span_plain)
PASSES(gelu_omp, gelu_forward_span_plain, gelu_backward_span_plain)
const dl_act_impl dl_relu_omp_impl = {relu_omp_forward, relu_omp_backward};
const dl_act_impl dl_gelu_omp_impl = {gelu_omp_forward, gelu_omp_backward};

#ifdef DL_HAVE_X86_TARGETS
PASSES(relu_avx2, relu_forward_span_avx2, relu_backward_span_avx2)
PASSES(relu_avx512, relu_forward_span_avx512, relu_backward_span_avx512)
PASSES(gelu_avx2, gelu_forward_span_avx2, gelu_backward_span_avx2)
PASSES(gelu_avx512, gelu_forward_span_avx512, gelu_backward_span_avx512)
const dl_act_impl dl_relu_omp_avx2_impl = {relu_avx2_forward, relu_avx2_backward};
const dl_act_impl dl_relu_omp_avx512_impl = {relu_avx512_forward, relu_avx512_backward};
const dl_act_impl dl_gelu_omp_avx2_impl = {gelu_avx2_forward, gelu_avx2_backward};
const dl_act_impl dl_gelu_omp_avx512_impl = {gelu_avx512_forward, gelu_avx512_backward};
#else
/* No such instruction sets: the tables mark these variants unavailable, so they never run;
 * the plain loops stand in to keep the symbols defined. */
const dl_act_impl dl_relu_omp_avx2_impl = {relu_omp_forward, relu_omp_backward};
const dl_act_impl dl_relu_omp_avx512_impl = {relu_omp_forward, relu_omp_backward};
const dl_act_impl dl_gelu_omp_avx2_impl = {gelu_omp_forward, gelu_omp_backward};
const dl_act_impl dl_gelu_omp_avx512_impl = {gelu_omp_forward, gelu_omp_backward};
#endif
