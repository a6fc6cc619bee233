/* matmul_packed.c — the fast CPU sgemm: packed panels, a register-blocked SIMD micro-kernel,
 * OpenMP across cores. Variants `omp_avx512` and `omp_avx2` of the matmul family.
 *
 * The scheme is the one of GotoBLAS and BLIS (Goto & van de Geijn, "Anatomy of
 * High-Performance Matrix Multiplication", TOMS 2008; Van Zee & van de Geijn, "BLIS", TOMS
 * 2015): five loops around a micro-kernel, each loop keeping one block in one level of the
 * memory hierarchy.
 *
 *   for jc in N step NC:
 *     for pc in K step KC:             a KC×NC slab of op(B), packed once; it lives in L3
 *       pack op(B)[pc:+KC, jc:+NC] into KC×NR column panels
 *       for ic in M step MC:           an MC×KC block of op(A), packed by each thread for
 *         pack op(A)[ic:+MC, pc:+KC]   itself; it lives in that core's L2
 *         for jr in NC step NR:        one KC×NR panel of B, reused MC/MR times
 *           for ir in MC step MR:      one MR×KC panel of A streams in from L2
 *             micro-kernel: C[ir:+MR, jr:+NR] (+)= A panel · B panel
 *
 * Packing copies each block once into the exact order the micro-kernel reads it, so the
 * kernel walks two unit-stride streams and nothing else. The copy is also where the layouts
 * are absorbed: transposes and leading dimensions are handled in pack_a / pack_b_panel, and
 * the kernel never sees them. Packed layouts (k is the inner-product index):
 *
 *   A panel (MR rows):    a[k*MR + r] = op(A)[i0 + r][p0 + k]
 *   B panel (NR columns): b[k*NR + j] = op(B)[p0 + k][j0 + j]
 *
 * Edges. Partial panels are padded with zeros, so the kernel always computes a full tile.
 * Such a tile is written to a local buffer and only its valid part is copied or added into
 * C. When at most NR/2 columns are left (N = 100 leaves 4 after three 32-wide panels), a
 * half-width kernel computes them, wasting less on padding.
 *
 * The micro-kernel's register budget. Per k step it loads NR/W vectors of B, broadcasts MR
 * scalars of A and issues MR·NR/W fused multiply-adds into MR·NR/W accumulators that stay
 * in registers for the whole k loop (W = floats per vector):
 *   AVX-512, 12×32 (32 zmm registers, W = 16): 24 accumulators + 2 B vectors + 1 broadcast
 *     = 27 registers. 24 independent FMA chains are 3× what 2 FMA pipes × 4 cycles of
 *     latency need, and 14 loads per 24 FMAs stay under the load ports' limit. Measured
 *     alone with its panels in L1/L2 it runs at 98% of the FMA peak. 6×64, 8×48, 10×32
 *     and 14×32 (all tried) were no faster in the full product.
 *   AVX2, 6×16 (16 ymm registers, W = 8): 12 accumulators + 2 B vectors + 1 broadcast
 *     = 15 registers.
 *
 * Threads. C is split into a grid of tm × tn parts, tm·tn = threads, and the grid with the
 * fewest micro-tiles on the busiest thread wins. Splitting N (tm = 1, the choice on ties)
 * gives each thread its own panels of every B slab: it packs exactly what it computes, so
 * the threads never wait for each other, at the price of each packing the A blocks.
 * Splitting M (tm > 1) is for tall, narrow problems: the threads share each B slab, each
 * packing a share of it, and meet at a barrier before and after computing with it.
 *
 * Left out: other types, alpha/beta other than C = AB and C += AB (all the API needs),
 * run-time auto-tuning, and SIMD intrinsics in packing beyond 4×4 SSE transposes (packing
 * costs a few percent of the time at the sizes that matter).
 */
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#define OMP_BARRIER _Pragma("omp barrier")
#else
#define OMP_BARRIER
#endif

#include "dlab/core.h"
#include "dlab/matmul.h"
#include "matmul_internal.h"

/* Only the kernels are compiled for these instruction sets; the file itself is built with
 * plain -O3, and each variant runs only where dl_cpu() reports its set. */
#define TARGET_AVX512 __attribute__((target("avx512f")))
#define TARGET_AVX2 __attribute__((target("avx2,fma")))

/* ---------------------------------------------------------------- blocking parameters */

/* The constants below were chosen by measurement on a 2-core Zen 5 (48 KiB L1d and 1 MiB
 * L2 per core, 32 MiB L3), interleaved runs at n = 512, 1024, 2048 and MLP shapes. Each can
 * be overridden with -D to re-tune on another machine.
 *
 * KC: the textbook rule keeps the KC×NR·4-byte B panel in L1, which gives KC = 256
 *   (32 KiB). KC = 512 (a 64 KiB panel, served from L2 fast enough) was 3-9% faster at
 *   n = 2048, because C is read and written K/KC times, and equal elsewhere.
 * MC: the MC×KC A block, 240·512·4 = 480 KiB, fills about half of L2. 120 and 480 measured
 *   within noise of it.
 * NC: 4096 keeps the KC×NC B slab (8 MiB) well inside L3 and is larger than most N here,
 *   so most products pack B only once per KC step. */
#ifndef AVX512_KC
#define AVX512_KC 512
#endif
#ifndef AVX512_MC
#define AVX512_MC 240 /* a multiple of MR */
#endif
#ifndef AVX512_NC
#define AVX512_NC 4096 /* a multiple of NR */
#endif
#define AVX512_MR 12
#define AVX512_NR 32

#ifndef AVX2_KC
#define AVX2_KC 512 /* 256..512 measured within 2%; 512 for the same reason as above */
#endif
#ifndef AVX2_MC
#define AVX2_MC 240
#endif
#ifndef AVX2_NC
#define AVX2_NC 4096
#endif
#define AVX2_MR 6
#define AVX2_NR 16

/* Below this many flops one thread beats waking a second one. Measured with 2 threads
 * against 1: 64³ (0.5 MFLOP) 151 vs 149 GFLOP/s, 72³ 133 vs 145, 80³ (1 MFLOP) 194 vs 164. */
#ifndef PARALLEL_MIN_FLOPS
#define PARALLEL_MIN_FLOPS 1.0e6
#endif

/* The largest micro-tile of the kernels here, for the edge-tile buffer. */
#define MAX_TILE_FLOATS (AVX512_MR * AVX512_NR)

/* A micro-kernel: C[0:MR, 0:width] = A·B, or C += A·B when add_to_c, where A is one packed
 * MR×kc panel and B one packed kc×width panel (64-byte aligned), kc >= 1. */
typedef void (*micro_kernel_fn)(int kc, const float *a_panel, const float *b_panel, float *c,
                                ptrdiff_t ldc, bool add_to_c);

typedef struct gemm_blocking {
    int mr, nr;                  /* micro-tile */
    int mc, kc, nc;              /* cache blocks: mc a multiple of mr, nc of nr */
    micro_kernel_fn kernel;      /* MR × NR */
    micro_kernel_fn half_kernel; /* MR × NR/2, for a last panel of at most NR/2 columns */
} gemm_blocking;

/* ---------------------------------------------------------------- micro-kernels */

/* One body per instruction set, inlined into a full- and a half-width kernel so that
 * `vectors` is a constant and the accumulators become registers. */
static inline TARGET_AVX512 __attribute__((always_inline)) void
tile_avx512(int vectors, int kc, const float *restrict a, const float *restrict b,
            float *restrict c, ptrdiff_t ldc, bool add_to_c) {
    enum { MR = AVX512_MR, W = 16 };
    const int width = vectors * W;
    /* Ask for the C tile now, so it has arrived (from L3, or DRAM for a big C) when the k
     * loop ends; without this, n = 2048 ran about 15% slower than n = 1024. */
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++) {
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + width - 1), _MM_HINT_T0);
    }

    __m512 acc[MR][2];
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
        for (int v = 0; v < vectors; v++)
            acc[r][v] = _mm512_setzero_ps();

    for (int k = 0; k < kc; k++, a += MR, b += width) {
        __m512 b_k[2];
#pragma GCC unroll 2
        for (int v = 0; v < vectors; v++)
            b_k[v] = _mm512_load_ps(b + v * W);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            const __m512 a_rk = _mm512_set1_ps(a[r]);
#pragma GCC unroll 2
            for (int v = 0; v < vectors; v++)
                acc[r][v] = _mm512_fmadd_ps(a_rk, b_k[v], acc[r][v]);
        }
    }

#pragma GCC unroll 16
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
        for (int v = 0; v < vectors; v++) {
            float *c_rv = c + r * ldc + v * W;
            __m512 sum = acc[r][v];
            if (add_to_c) sum = _mm512_add_ps(sum, _mm512_loadu_ps(c_rv));
            _mm512_storeu_ps(c_rv, sum);
        }
}

TARGET_AVX512 static void micro_kernel_avx512_12x32(int kc, const float *a, const float *b,
                                                    float *c, ptrdiff_t ldc, bool add_to_c) {
    tile_avx512(2, kc, a, b, c, ldc, add_to_c);
}

TARGET_AVX512 static void micro_kernel_avx512_12x16(int kc, const float *a, const float *b,
                                                    float *c, ptrdiff_t ldc, bool add_to_c) {
    tile_avx512(1, kc, a, b, c, ldc, add_to_c);
}

static inline TARGET_AVX2 __attribute__((always_inline)) void
tile_avx2(int vectors, int kc, const float *restrict a, const float *restrict b, float *restrict c,
          ptrdiff_t ldc, bool add_to_c) {
    enum { MR = AVX2_MR, W = 8 };
    const int width = vectors * W;
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) {
        _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + r * ldc + width - 1), _MM_HINT_T0);
    }

    __m256 acc[MR][2];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
        for (int v = 0; v < vectors; v++)
            acc[r][v] = _mm256_setzero_ps();

    for (int k = 0; k < kc; k++, a += MR, b += width) {
        __m256 b_k[2];
#pragma GCC unroll 2
        for (int v = 0; v < vectors; v++)
            b_k[v] = _mm256_load_ps(b + v * W);
#pragma GCC unroll 8
        for (int r = 0; r < MR; r++) {
            const __m256 a_rk = _mm256_broadcast_ss(a + r);
#pragma GCC unroll 2
            for (int v = 0; v < vectors; v++)
                acc[r][v] = _mm256_fmadd_ps(a_rk, b_k[v], acc[r][v]);
        }
    }

#pragma GCC unroll 8
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 2
        for (int v = 0; v < vectors; v++) {
            float *c_rv = c + r * ldc + v * W;
            __m256 sum = acc[r][v];
            if (add_to_c) sum = _mm256_add_ps(sum, _mm256_loadu_ps(c_rv));
            _mm256_storeu_ps(c_rv, sum);
        }
}

TARGET_AVX2 static void micro_kernel_avx2_6x16(int kc, const float *a, const float *b, float *c,
                                               ptrdiff_t ldc, bool add_to_c) {
    tile_avx2(2, kc, a, b, c, ldc, add_to_c);
}

TARGET_AVX2 static void micro_kernel_avx2_6x8(int kc, const float *a, const float *b, float *c,
                                              ptrdiff_t ldc, bool add_to_c) {
    tile_avx2(1, kc, a, b, c, ldc, add_to_c);
}

/* ---------------------------------------------------------------- packing */

static inline int min_int(int x, int y) { return x < y ? x : y; }
static inline int round_up(int x, int multiple) { return (x + multiple - 1) / multiple * multiple; }

/* The two copies that every packing reduces to. Both write `width` floats per k (the
 * panel's MR or NR): the first `count` from the source, the rest zeros.
 *
 *   pack_rows:       dst[k*width + c] = src[k*ld + c]   (the source already runs along c)
 *   pack_transposed: dst[k*width + c] = src[c*ld + k]   (the source runs along k: transpose)
 *
 * pack_transposed moves 4×4 blocks through SSE registers (_MM_TRANSPOSE4_PS). Element by
 * element it took as long as the micro-kernel itself for the MLP's y = x·Wᵀ at batch 64. */
static void pack_rows(const float *restrict src, ptrdiff_t ld, int count, int kc, int width,
                      float *restrict dst) {
    for (int k = 0; k < kc; k++, src += ld, dst += width) {
        int c = 0;
        /* Explicit 4-float moves: as a plain loop the compiler calls memmove for each
         * 12- or 32-float row, and the calls cost 8% of a 64×300×100 product. */
        for (; c + 4 <= count; c += 4)
            _mm_storeu_ps(dst + c, _mm_loadu_ps(src + c));
        for (; c < count; c++)
            dst[c] = src[c];
        for (; c < width; c++)
            dst[c] = 0.0f;
    }
}

static void pack_transposed(const float *restrict src, ptrdiff_t ld, int count, int kc, int width,
                            float *restrict dst) {
    int c = 0;
    for (; c + 4 <= count; c += 4) {
        const float *s = src + c * ld;
        int k = 0;
        for (; k + 4 <= kc; k += 4) {
            __m128 r0 = _mm_loadu_ps(s + k), r1 = _mm_loadu_ps(s + ld + k);
            __m128 r2 = _mm_loadu_ps(s + 2 * ld + k), r3 = _mm_loadu_ps(s + 3 * ld + k);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            float *d = dst + (ptrdiff_t)k * width + c;
            _mm_storeu_ps(d, r0);
            _mm_storeu_ps(d + width, r1);
            _mm_storeu_ps(d + 2 * width, r2);
            _mm_storeu_ps(d + 3 * width, r3);
        }
        for (; k < kc; k++)
            for (int cc = 0; cc < 4; cc++)
                dst[(ptrdiff_t)k * width + c + cc] = s[cc * ld + k];
    }
    for (; c < count; c++)
        for (int k = 0; k < kc; k++)
            dst[(ptrdiff_t)k * width + c] = src[c * ld + k];
    for (; c < width; c++)
        for (int k = 0; k < kc; k++)
            dst[(ptrdiff_t)k * width + c] = 0.0f;
}

/* Pack op(A)[i0 : i0+mc, p0 : p0+kc] as consecutive MR-row panels (the last zero-padded). */
static void pack_a(const dl_matmul_args *args, int i0, int mc, int p0, int kc, int mr,
                   float *restrict dst) {
    const ptrdiff_t lda = args->lda;
    for (int ir = 0; ir < mc; ir += mr, dst += (ptrdiff_t)mr * kc) {
        const int rows = min_int(mr, mc - ir);
        if (args->trans_a) /* A is K×M: a row of A holds neighbouring rows of op(A) */
            pack_rows(args->A + p0 * lda + i0 + ir, lda, rows, kc, mr, dst);
        else /* A is M×K: each row of A runs along k */
            pack_transposed(args->A + (i0 + ir) * lda + p0, lda, rows, kc, mr, dst);
    }
}

/* Pack op(B)[p0 : p0+kc, j0 : j0+cols] (cols <= width) as one kc×width panel. */
static void pack_b_panel(const dl_matmul_args *args, int p0, int kc, int j0, int cols, int width,
                         float *restrict dst) {
    const ptrdiff_t ldb = args->ldb;
    if (args->trans_b) /* B is N×K: each row of B runs along k */
        pack_transposed(args->B + j0 * ldb + p0, ldb, cols, kc, width, dst);
    else /* B is K×N: a row of B holds neighbouring columns of op(B) */
        pack_rows(args->B + p0 * ldb + j0, ldb, cols, kc, width, dst);
}

/* ---------------------------------------------------------------- the driver */

/* Split [0, n) into `parts` nearly equal ranges; range `index` is [*lo, *hi). */
static void split_range(int n, int parts, int index, int *lo, int *hi) {
    *lo = (int)((long long)n * index / parts);
    *hi = (int)((long long)n * (index + 1) / parts);
}

/* C[0:m, 0:n] = tile, or += when add_to_c; the tile's rows are `width` floats apart. */
static void merge_edge_tile(const float *tile, int width, float *c, ptrdiff_t ldc, int m, int n,
                            bool add_to_c) {
    for (int r = 0; r < m; r++) {
        float *c_row = c + r * ldc;
        const float *t_row = tile + r * width;
        if (add_to_c)
            for (int j = 0; j < n; j++)
                c_row[j] += t_row[j];
        else
            for (int j = 0; j < n; j++)
                c_row[j] = t_row[j];
    }
}

/* `threads` threads split C into tm parts along M and tn parts along N (tm·tn = threads). */
typedef struct thread_grid {
    int threads, tm, tn;
} thread_grid;

/* Micro-tiles on the busiest thread when M is split tm ways and N tn ways. */
static long long busiest_thread_tiles(const dl_matmul_args *a, const gemm_blocking *g, int tm,
                                      int tn) {
    const long long m_tiles = round_up((a->M + tm - 1) / tm, g->mr) / g->mr;
    const long long n_panels = (a->N + g->nr - 1) / g->nr;
    return m_tiles * ((n_panels + tn - 1) / tn);
}

/* The best grid for exactly `threads` threads: the fewest micro-tiles on the busiest
 * thread; ties go to splitting N, which needs no barriers (measured equal or up to 1.3×
 * faster than splitting M on the MLP shapes, equal on large squares). */
static thread_grid choose_grid(const dl_matmul_args *a, const gemm_blocking *g, int threads) {
    thread_grid best = {threads, 1, threads};
    long long best_tiles = busiest_thread_tiles(a, g, 1, threads);
    for (int tm = 2; tm <= threads; tm++) {
        if (threads % tm) continue;
        const long long tiles = busiest_thread_tiles(a, g, tm, threads / tm);
        if (tiles < best_tiles) {
            best_tiles = tiles;
            best = (thread_grid){threads, tm, threads / tm};
        }
    }
    return best;
}

/* How many threads to use: dl_threads_get(), but one for small products. */
static thread_grid plan_threads(const dl_matmul_args *a, const gemm_blocking *g) {
    const int threads = dl_threads_get();
    const double flops = 2.0 * a->M * a->N * a->K;
    if (threads < 2 || flops < PARALLEL_MIN_FLOPS) return (thread_grid){1, 1, 1};
    return choose_grid(a, g, threads);
}

/* What thread `thread` of the grid computes. There is one b_slab for all threads, each
 * packing a share of its panels; a_block is this thread's own. Every thread runs the same
 * jc and pc loops. When the slab is shared (M split), they meet at a barrier after packing
 * it and another before packing it again. */
static void gemm_thread(const dl_matmul_args *args, const gemm_blocking *g, thread_grid grid,
                        int thread, float *b_slab, float *a_block) {
    const int M = args->M, N = args->N, K = args->K, mr = g->mr, nr = g->nr;
    const ptrdiff_t ldc = args->ldc;
    _Alignas(64) float edge_tile[MAX_TILE_FLOATS];

    /* When the grid splits only N, each thread packs exactly the panels it computes, so
     * the slab is not shared and the threads never need to wait for each other. */
    const bool slab_shared = grid.tm > 1;
    /* Panel p of the slab starts at p·NR·kc_max for every KC step, so a thread packing a
     * short last step never writes into a panel that another thread still reads. */
    const ptrdiff_t panel_floats = (ptrdiff_t)nr * min_int(g->kc, K);
    /* Unshared, each thread keeps its panels in slots of its own: thread t's i-th panel in
     * slot t·per_thread + i. Indexing by panel number instead would be a race: the last NC
     * block has fewer panels, so its split hands a thread panel numbers that another thread,
     * still in the previous block, is reading (seen as rare wrong results with N ≫ NC). */
    const int panels_max = (min_int(g->nc, N) + nr - 1) / nr;
    const int per_thread = (panels_max + grid.tn - 1) / grid.tn;

    /* This thread's rows of C: part thread / tn of M, in whole micro-tiles. */
    const int rows_per_part = round_up((M + grid.tm - 1) / grid.tm, mr);
    const int m_lo = min_int(M, (thread / grid.tn) * rows_per_part);
    const int m_hi = min_int(M, m_lo + rows_per_part);

    for (int jc = 0; jc < N; jc += g->nc) {
        const int nc = min_int(g->nc, N - jc);
        const int panels = (nc + nr - 1) / nr;
        /* The panels this thread computes (part thread % tn) and those it packs. */
        int jr_lo, jr_hi, pack_lo, pack_hi;
        split_range(panels, grid.tn, thread % grid.tn, &jr_lo, &jr_hi);
        split_range(panels, grid.threads, thread, &pack_lo, &pack_hi);

        for (int pc = 0; pc < K; pc += g->kc) {
            const int kc = min_int(g->kc, K - pc);
            /* The first K block overwrites C unless the caller asked to accumulate. */
            const bool add_to_c = args->accumulate || pc > 0;

            for (int p = pack_lo; p < pack_hi; p++) {
                const int cols = min_int(nr, nc - p * nr);
                const int slot = slab_shared ? p : thread * per_thread + (p - pack_lo);
                pack_b_panel(args, pc, kc, jc + p * nr, cols, cols <= nr / 2 ? nr / 2 : nr,
                             b_slab + slot * panel_floats);
            }
            if (slab_shared) {
                OMP_BARRIER
            }

            for (int ic = m_lo; ic < m_hi; ic += g->mc) {
                const int mc = min_int(g->mc, m_hi - ic);
                pack_a(args, ic, mc, pc, kc, mr, a_block);

                for (int p = jr_lo; p < jr_hi; p++) {
                    const int j = jc + p * nr, cols = min_int(nr, nc - p * nr);
                    const bool half = cols <= nr / 2;
                    const int width = half ? nr / 2 : nr;
                    const micro_kernel_fn kernel = half ? g->half_kernel : g->kernel;
                    const int slot = slab_shared ? p : thread * per_thread + (p - jr_lo);
                    const float *b_panel = b_slab + slot * panel_floats;

                    for (int ir = 0; ir < mc; ir += mr) {
                        const int rows = min_int(mr, mc - ir);
                        const float *a_panel = a_block + (ptrdiff_t)ir * kc;
                        float *c = args->C + (ic + ir) * ldc + j;
                        if (rows == mr && cols == width) {
                            kernel(kc, a_panel, b_panel, c, ldc, add_to_c);
                        } else {
                            kernel(kc, a_panel, b_panel, edge_tile, width, false);
                            merge_edge_tile(edge_tile, width, c, ldc, rows, cols, add_to_c);
                        }
                    }
                }
            }
            /* Nobody repacks the slab while another thread still reads it. After the last
             * slab, the end of the parallel region is the barrier. */
            const bool last_slab = pc + g->kc >= K && jc + g->nc >= N;
            if (slab_shared && !last_slab) {
                OMP_BARRIER
            }
        }
    }
}

static dl_status gemm_packed(const dl_matmul_args *a, const gemm_blocking *g) {
    if (a->M == 0 || a->N == 0) return DL_OK;
    if (a->K == 0) { /* an empty sum: C = 0, or C unchanged when accumulating */
        if (!a->accumulate)
            for (int i = 0; i < a->M; i++)
                memset(a->C + (ptrdiff_t)i * a->ldc, 0, (size_t)a->N * sizeof(float));
        return DL_OK;
    }

    const thread_grid plan = plan_threads(a, g);
    /* One allocation: the B slab, then one A block per thread. Both sizes are whole cache
     * lines (16 floats), so every block starts on a line of its own: the kernels' aligned
     * loads need it, and threads packing neighbouring blocks never write the same line. */
    const int kc_max = min_int(g->kc, a->K);
    /* Panels of one NC block, plus one per thread: an unshared slab gives every thread
     * ceil(panels / threads) slots of its own (see gemm_thread). */
    const size_t b_slab_floats = (size_t)round_up(
        kc_max * (round_up(min_int(g->nc, a->N), g->nr) + plan.threads * g->nr), 16);
    const size_t a_block_floats =
        (size_t)round_up(kc_max * round_up(min_int(g->mc, a->M), g->mr), 16);
    float *buffers = NULL;
    DL_TRY(dl_alloc((void **)&buffers,
                    (b_slab_floats + (size_t)plan.threads * a_block_floats) * sizeof(float)));
    float *b_slab = buffers, *a_blocks = buffers + b_slab_floats;

#ifdef _OPENMP
    if (plan.threads > 1) {
#pragma omp parallel num_threads(plan.threads)
        {
            /* The runtime may grant fewer threads than asked (inside another parallel
             * region, under OMP_THREAD_LIMIT): then plan for the team we got. Every thread
             * computes the same grid, so they agree without talking. */
            const int team = omp_get_num_threads(), thread = omp_get_thread_num();
            const thread_grid grid = team == plan.threads ? plan : choose_grid(a, g, team);
            gemm_thread(a, g, grid, thread, b_slab, a_blocks + (size_t)thread * a_block_floats);
        }
    } else
#endif
    {
        gemm_thread(a, g, plan, 0, b_slab, a_blocks);
    }
    dl_free(buffers);
    return DL_OK;
}

/* ---------------------------------------------------------------- the variants */

dl_status dl_matmul_omp_avx512(const dl_matmul_args *a) {
    static const gemm_blocking blocking = {
        .mr = AVX512_MR,
        .nr = AVX512_NR,
        .mc = AVX512_MC,
        .kc = AVX512_KC,
        .nc = AVX512_NC,
        .kernel = micro_kernel_avx512_12x32,
        .half_kernel = micro_kernel_avx512_12x16,
    };
    /* The variant table already checks; this turns a direct call on the wrong CPU into an
     * error instead of an illegal instruction. */
    if (!dl_cpu()->avx512f) return DL_FAIL(DL_ERR_UNSUPPORTED, "this CPU has no AVX-512F");
    return gemm_packed(a, &blocking);
}

dl_status dl_matmul_omp_avx2(const dl_matmul_args *a) {
    static const gemm_blocking blocking = {
        .mr = AVX2_MR,
        .nr = AVX2_NR,
        .mc = AVX2_MC,
        .kc = AVX2_KC,
        .nc = AVX2_NC,
        .kernel = micro_kernel_avx2_6x16,
        .half_kernel = micro_kernel_avx2_6x8,
    };
    if (!dl_cpu()->avx2 || !dl_cpu()->fma)
        return DL_FAIL(DL_ERR_UNSUPPORTED, "this CPU has no AVX2 with FMA");
    return gemm_packed(a, &blocking);
}
