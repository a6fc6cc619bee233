/* attention_flash_cpu.c — the fast flash attention: variants `flash_avx512` and `flash_avx2`.
 *
 * The same algorithm as attention_flash.c (read that first: the running (m, l, O) forward and
 * the FlashAttention-2 backward), laid out for a CPU:
 *
 * Threads. OpenMP hands out whole (batch, head) pairs, as in attention_cpu.c: a pair touches
 * only its own slices of qkv, out, lse and dqkv, so no two threads write the same float and
 * dK/dV need no atomics or reduction (each thread sums one head's dK/dV in its own panel,
 * then adds it to dqkv once). Lesson 0's GPT has B·NH = 64 pairs per layer, T = 1024 runs
 * have 16: enough for 2 cores; splitting the query rows of one head over threads would need
 * per-thread dK/dV panels and a reduction, which is left out.
 *
 * Tiles. Per head, Kᵀ and Vᵀ are packed once as hs × tp (zero-padded to multiples of 32) so
 * the score loops run over unit stride. Rows of K, V, Q and dO are read in place when hs is a
 * multiple of 32 (whole vectors; GPT heads of 32 and 64), else from zero-padded tp × hsp
 * copies; at T = 128 the copies were a quarter of the flash time. Keys go
 * in blocks of KEYS = 64. The forward takes query rows ROWS = 4 at a time (each loaded vector
 * of K or V feeds 4 × 2 FMA chains): a tile of scores is 4 × 64 floats = 1 KiB and lives in
 * L1 next to the 4 running output rows; that tile is all the "score matrix" there ever is.
 * The backward takes QROWS = 16 query rows per block: P and dS (16 × 64) are also stored
 * key-major, so dK += dSᵀ·Q and dV += Pᵀ·dO run as the same register-tiled kernel with 4 keys
 * as its rows and the 16 query rows as its sum; each dK / dV row is then loaded and stored
 * once per 16 query rows instead of once per 4 (a rank-4 update per row was load-bound:
 * ~5 loads per 4 FMAs). The causal mask is a loop bound as in attention_cpu.c: the columns
 * (or rows) that a whole group shares are done at once, the diagonal triangle one row (key)
 * at a time, so a non-finite later token never reaches an earlier row even as 0·inf.
 *
 * SIMD. attention_flash_tiles.h is written once with GCC vector extensions and included for
 * AVX-512 (16 lanes) and AVX2+FMA (8 lanes); exp is dl_exp_poly (fast_math.h), which GCC
 * vectorizes inside those loops.
 *
 * Left out: splitting one head over threads (see above), bf16/fp16 tiles.
 */
#include <math.h>
#include <string.h>


#include "../fast_math.h"
#include "attention_impl.h"
#include "dlab/core.h"

enum { ROWS = 4, QROWS = 16, KEYS = 64, PAD = 32 };

static int round_up(int x, int m) { return (x + m - 1) / m * m; }

/* What every head of one call shares. */
typedef struct flash_head {
    const dl_attention_args *a;
    int hs, tp, hsp; /* head size; T and hs rounded up to PAD */
    long ld, ld_out; /* row strides of qkv (3C) and out / dout (C) */
    float scale;     /* 1/√hs */
} flash_head;

static flash_head flash_head_setup(const dl_attention_args *a) {
    flash_head g = {.a = a, .hs = a->C / a->NH, .ld = 3L * a->C, .ld_out = a->C};
    g.tp = round_up(a->T, PAD);
    g.hsp = round_up(g.hs, PAD);
    g.scale = (float)(1.0 / sqrt((double)g.hs));
    return g;
}

/* forward: kt (hs × tp), vp (tp × hsp, a copy used when hs % 32 != 0), score tile, acc */
static size_t forward_scratch_floats(const flash_head *g) {
    return (size_t)g->hs * g->tp + (size_t)g->tp * g->hsp + ROWS * KEYS + (size_t)ROWS * g->hsp;
}
/* backward: kt, vt (hs × tp), kp, qp, dop (copies, used when hs % 32 != 0), dk, dv
 * (tp × hsp), P and dS tiles and their transposes, acc (QROWS × hsp), D (tp) */
static size_t backward_scratch_floats(const flash_head *g) {
    return 2 * (size_t)g->hs * g->tp + 5 * (size_t)g->tp * g->hsp + 4 * QROWS * KEYS +
           (size_t)QROWS * g->hsp + (size_t)g->tp;
}

#define VW 16
#define TILE_TARGET                                                                                \
    __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,prefer-vector-width=512"),  \
                   optimize("fp-contract=fast")))
#define NAME(x) x##_avx512
#include "attention_flash_tiles.h"
#undef VW
#undef TILE_TARGET
#undef NAME

#define VW 8
#define TILE_TARGET __attribute__((target("avx2,fma"), optimize("fp-contract=fast")))
#define NAME(x) x##_avx2
#include "attention_flash_tiles.h"
#undef VW
#undef TILE_TARGET
#undef NAME

/* ------------------------------------------------------ the (b, h) driver */

/* The tile headers' head functions take their own plan type; the shared driver passes it as
 * const void *. */
#define HEAD_ENTRY(fn)                                                                             \
    static void fn##_entry(const void *g, int b, int h, float *scratch) { fn(g, b, h, scratch); }
HEAD_ENTRY(flash_head_forward_avx512)
HEAD_ENTRY(flash_head_backward_avx512)
HEAD_ENTRY(flash_head_forward_avx2)
HEAD_ENTRY(flash_head_backward_avx2)

static dl_status for_each_head(const dl_attention_args *a, dl_attention_head_fn fn, bool backward) {
    if ((long)a->B * a->T == 0) return DL_OK;
    const flash_head g = flash_head_setup(a);
    const size_t scratch = backward ? backward_scratch_floats(&g) : forward_scratch_floats(&g);
    return dl_attention_run_heads(a, &g, scratch, fn);
}

dl_status dl_attention_flash_avx512_forward(const dl_attention_args *a) {
    if (!dl_cpu_has_avx512()) return DL_FAIL(DL_ERR_UNSUPPORTED, "no AVX-512 here");
    return for_each_head(a, flash_head_forward_avx512_entry, false);
}
dl_status dl_attention_flash_avx512_backward(const dl_attention_args *a) {
    if (!dl_cpu_has_avx512()) return DL_FAIL(DL_ERR_UNSUPPORTED, "no AVX-512 here");
    return for_each_head(a, flash_head_backward_avx512_entry, true);
}
dl_status dl_attention_flash_avx2_forward(const dl_attention_args *a) {
    if (!dl_cpu_has_avx2_fma()) return DL_FAIL(DL_ERR_UNSUPPORTED, "no AVX2+FMA here");
    return for_each_head(a, flash_head_forward_avx2_entry, false);
}
dl_status dl_attention_flash_avx2_backward(const dl_attention_args *a) {
    if (!dl_cpu_has_avx2_fma()) return DL_FAIL(DL_ERR_UNSUPPORTED, "no AVX2+FMA here");
    return for_each_head(a, flash_head_backward_avx2_entry, true);
}
