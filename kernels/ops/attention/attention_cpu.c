/* attention_cpu.c — the fast CPU attention: variants `omp_avx512` and `omp_avx2`.
 *
 * Threads. Each (batch, head) pair is an independent problem that touches only its own head's
 * slices of qkv, att, out and dqkv, so OpenMP hands out whole pairs and no two threads ever
 * write the same float. Each thread has its own scratch (packed copies, accumulators).
 *
 * Tiles. Per head, the work is three small matrix products with a causal (lower-triangular)
 * shape: S = Q·Kᵀ, O = P·V, and in the backward dP = dO·Vᵀ, dQ = dS·K, dK = dSᵀ·Q,
 * dV = Pᵀ·dO. Rows are taken ROWS = 4 at a time so that each loaded vector of K or V
 * feeds 4 independent FMA chains, and the operands are first packed so the inner loops run
 * over unit stride, zero-padded to whole vectors:
 *   kt / vt  (hs × tp)   Kᵀ or Vᵀ: row d holds feature d of every position
 *   vp, ...  (tp × hsp)  one position per row, hs padded to hsp
 * The causal mask is a loop bound, never a -inf: positions s < t0 are below the diagonal for
 * all 4 rows of a tile; the 4×4 diagonal triangle is done one row at a time with s <= t, so
 * a non-finite value at a later position cannot leak into an earlier row even as 0·inf.
 *
 * SIMD. The kernels live in attention_tiles.h, written once with GCC vector extensions and
 * included twice: 16-float vectors for AVX-512, 8-float ones for AVX2+FMA. Tiles are 4 rows
 * × 2 vectors (8 accumulators, enough independent FMA chains to hide the FMA latency); tp
 * and hsp are multiples of 32 so that every vector load stays inside the padded panels.
 *
 * Left out: tiling over T for the cache (a head's K and V stay in L2 up to T of a few
 * thousand), fused (flash-style) softmax — that is lesson 2's story.
 */
#include <math.h>
#include <string.h>


#include "attention_impl.h"
#include "dlab/core.h"

enum { ROWS = 4, PAD = 32 };


static int round_up(int x, int m) { return (x + m - 1) / m * m; }

/* Copy a head's slice of T rows (row stride ld) into tp × hsp rows, times `scale`, zero-padded;
 * or (transposed) into hs × tp rows. */
static void pack(const float *src, long ld, int T, int hs, int tp, int hsp, float scale,
                 bool transposed, float *dst) {
    memset(dst, 0, (size_t)tp * (transposed ? hs : hsp) * sizeof(float));
    for (int s = 0; s < T; s++)
        for (int d = 0; d < hs; d++)
            dst[transposed ? (long)d * tp + s : (long)s * hsp + d] = scale * src[s * ld + d];
}

/* What every head of one call shares. */
typedef struct head {
    const dl_attention_args *a;
    int hs, tp, hsp; /* head size; T and hs rounded up to PAD */
    float scale;     /* 1/√hs */
    dl_softmax_row_fn softmax;
} head;

static head head_setup(const dl_attention_args *a) {
    head g = {.a = a, .hs = a->C / a->NH};
    g.tp = round_up(a->T, PAD);
    g.hsp = round_up(g.hs, PAD);
    g.scale = (float)(1.0 / sqrt((double)g.hs));
    g.softmax = a->softmax ? a->softmax : dl_softmax_row_safe_simd;
    return g;
}

/* forward: kt (hs × tp), vp (tp × hsp), acc (ROWS × hsp) */
static size_t forward_scratch_floats(const head *g) {
    return (size_t)g->hs * g->tp + (size_t)g->tp * g->hsp + (size_t)ROWS * g->hsp;
}
/* backward: vt, kp, qp, dop, dk, dv (each at most tp × hsp), ds (ROWS × tp), acc */
static size_t backward_scratch_floats(const head *g) {
    return 6 * (size_t)g->tp * g->hsp + (size_t)ROWS * g->tp + (size_t)ROWS * g->hsp;
}

#define VW 16
#define TILE_TARGET                                                                                \
    __attribute__((target("avx512f,avx512dq,fma,prefer-vector-width=512"),                         \
                   optimize("fp-contract=fast")))
#define NAME(x) x##_avx512
#include "attention_tiles.h"
#undef VW
#undef TILE_TARGET
#undef NAME

#define VW 8
#define TILE_TARGET __attribute__((target("avx2,fma"), optimize("fp-contract=fast")))
#define NAME(x) x##_avx2
#include "attention_tiles.h"
#undef VW
#undef TILE_TARGET
#undef NAME

/* ------------------------------------------------------ the (b, h) driver */

/* The tile headers' head functions take their own plan type; the shared driver passes it as
 * const void *. */
#define HEAD_ENTRY(fn)                                                                             \
    static void fn##_entry(const void *g, int b, int h, float *scratch) { fn(g, b, h, scratch); }
HEAD_ENTRY(head_forward_avx512)
HEAD_ENTRY(head_backward_avx512)
HEAD_ENTRY(head_forward_avx2)
HEAD_ENTRY(head_backward_avx2)

static dl_status for_each_head(const dl_attention_args *a, dl_attention_head_fn fn, bool backward) {
    if ((long)a->B * a->T == 0) return DL_OK;
    const head g = head_setup(a);
    const size_t scratch = backward ? backward_scratch_floats(&g) : forward_scratch_floats(&g);
    return dl_attention_run_heads(a, &g, scratch, fn);
}

dl_status dl_attention_avx512_forward(const dl_attention_args *a) {
    if (!dl_cpu_has_avx512()) return DL_FAIL(DL_ERR_UNSUPPORTED, "no AVX-512 here");
    return for_each_head(a, head_forward_avx512_entry, false);
}
dl_status dl_attention_avx512_backward(const dl_attention_args *a) {
    if (!dl_cpu_has_avx512()) return DL_FAIL(DL_ERR_UNSUPPORTED, "no AVX-512 here");
    return for_each_head(a, head_backward_avx512_entry, true);
}
dl_status dl_attention_avx2_forward(const dl_attention_args *a) {
    if (!dl_cpu_has_avx2_fma()) return DL_FAIL(DL_ERR_UNSUPPORTED, "no AVX2+FMA here");
    return for_each_head(a, head_forward_avx2_entry, false);
}
dl_status dl_attention_avx2_backward(const dl_attention_args *a) {
    if (!dl_cpu_has_avx2_fma()) return DL_FAIL(DL_ERR_UNSUPPORTED, "no AVX2+FMA here");
    return for_each_head(a, head_backward_avx2_entry, true);
}
