/* int8_gemm_vnni.c — the fast CPU int8 GEMM: packed panels, an AVX-512 VNNI micro-kernel,
 * OpenMP across cores. Variants `vnni` and `avx512` (the same driver with a micro-kernel that
 * needs no VNNI: about 3× slower, for CPUs without it) of the int8_gemm family.
 *
 * vpdpbusd (_mm512_dpbusd_epi32) adds to each of 16 int32 lanes the sum of four products of
 * an UNSIGNED byte of its first operand and a SIGNED byte of its second: 64 multiply-adds per
 * instruction, 4× an fp32 FMA's 16. Our A is signed, so it is shifted: u = a + 128 (a XOR
 * 0x80 on the bits), and since Σ u·b = Σ a·b + 128·Σ b, each column's result is corrected by
 * 128·colsum(B[n]), computed while packing B.
 *
 * Overflow. The sum Σ u·b can exceed int32 (|u·b| <= 255·128) for K > 65793, but vpdpbusd
 * wraps (it is not the saturating vpdpbusds), and so does the int32 subtraction of the
 * correction: arithmetic modulo 2^32 gives the exact result whenever it fits in int32, which
 * the header's bound K <= 131071 guarantees (|a·b| <= 128·128).
 *
 * Packed layouts (k runs in groups of 4, the bytes one int32 lane takes; K is padded to a
 * multiple of 4 with zeros in B, so the padding adds nothing whatever A's padding holds):
 *   A panel (MR rows):  a[g*MR*4 + r*4 + t]  = A[i0 + r][4g + t] XOR 0x80
 *   B panel (NR cols):  b[g*NR*4 + j*4 + t]  = B[j0 + j][4g + t]        (B is stored N×K)
 * so per group g the kernel loads NR/16 vectors of B, broadcasts one int32 of A per row and
 * issues MR·NR/16 vpdpbusd into accumulators held in registers: 12×32 gives 24 accumulators +
 * 2 B vectors + 1 broadcast = 27 of 32 zmm registers, the shape of the fp32 kernel.
 *
 * No K blocking: the kernel runs the whole K, so each micro-tile is finished in registers and
 * the correction and the dequantizing epilogue are applied once, on the way out; no int32
 * partial sums go through memory. An MC×K block of A (sized to stay in L2) is reused for every
 * B panel of an NC×K block of B (sized to a few MiB, in L3).
 *
 * Threads. C is split into a tm × tn grid of rectangles, one per thread, chosen to minimise
 * the micro-tiles of the busiest thread. Each thread packs its own A and B blocks into its own
 * buffers and writes only its own rectangle, so there are no barriers and no shared writes:
 * integer sums and an element-wise epilogue make threaded results equal to one thread's.
 *
 * Left out: AVX-VNNI (256-bit) and AVX2 kernels, run-time tuning, SIMD packing, and register
 * tuning of the `avx512` kernel (GCC spills some of its temporaries).
 */
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "dlab/core.h"
#include "int8_gemm_internal.h"

/* Only the VNNI micro-kernel is compiled for VNNI; the driver, packing and epilogue use
 * AVX-512 F+BW only, so the `avx512` variant that shares them runs on CPUs without VNNI. */
#define TARGET_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define TARGET_AVX512BW __attribute__((target("avx512f,avx512bw")))

enum { MR = 12, NR = 32 };

/* A block of A (MC×Kp bytes) should stay in L2 (1 MiB per core here): about 384 KiB. A block
 * of B (NC×Kp bytes) is streamed from L3, panel by panel: about 2 MiB per thread. */
#define A_BLOCK_BYTES (384 * 1024)
#define B_BLOCK_BYTES (2 * 1024 * 1024)
#define MC_MAX 240
/* Below this many operations one thread beats waking a second. */
#define PARALLEL_MIN_OPS 1.0e6

bool dl_cpu_has_avx512_vnni(void) {
    const dl_cpu_features *f = dl_cpu();
    return f->avx512f && f->avx512bw && f->avx512_vnni;
}

static inline int min_int(int x, int y) { return x < y ? x : y; }
static inline int max_int(int x, int y) { return x > y ? x : y; }
static inline int round_up(int x, int multiple) { return (x + multiple - 1) / multiple * multiple; }

/* ---------------------------------------------------------------- packing */

/* Rows [i0, i0+rows) of A as one MR-row panel over all K (kp = K rounded up to 4). */
static void pack_a_panel(const dl_int8_gemm_args *a, int i0, int rows, int kp, uint8_t *dst) {
    const int K = a->K;
    for (int r = 0; r < MR; r++) {
        if (r >= rows) {
            for (int g = 0; g < kp / 4; g++)
                memset(dst + (size_t)g * MR * 4 + r * 4, 0, 4);
            continue;
        }
        const uint8_t *src = (const uint8_t *)a->A + (ptrdiff_t)(i0 + r) * a->lda;
        int k = 0;
        for (; k + 4 <= K; k += 4) {
            uint32_t four;
            memcpy(&four, src + k, 4);
            four ^= 0x80808080u; /* a + 128 as an unsigned byte, four at a time */
            memcpy(dst + (size_t)(k / 4) * MR * 4 + r * 4, &four, 4);
        }
        if (k < K) {
            uint8_t four[4] = {0, 0, 0, 0};
            for (int t = 0; k + t < K; t++)
                four[t] = src[k + t] ^ 0x80u;
            memcpy(dst + (size_t)(k / 4) * MR * 4 + r * 4, four, 4);
        }
    }
}

/* Rows [j0, j0+cols) of B (columns of the product) as one NR-column panel, and 128·Σ_k B[j][k]
 * for each of its NR columns (0 for padding) into correction[]. */
static void pack_b_panel(const dl_int8_gemm_args *a, int j0, int cols, int kp, int8_t *dst,
                         int32_t *correction) {
    const int K = a->K;
    for (int j = 0; j < NR; j++) {
        if (j >= cols) {
            for (int g = 0; g < kp / 4; g++)
                memset(dst + (size_t)g * NR * 4 + j * 4, 0, 4);
            correction[j] = 0;
            continue;
        }
        const int8_t *src = a->B + (ptrdiff_t)(j0 + j) * a->ldb;
        int32_t sum = 0; /* |sum| <= 128·K < 2^24: no overflow */
        int k = 0;
        for (; k + 4 <= K; k += 4) {
            memcpy(dst + (size_t)(k / 4) * NR * 4 + j * 4, src + k, 4);
            sum += src[k] + src[k + 1] + src[k + 2] + src[k + 3];
        }
        if (k < K) {
            int8_t four[4] = {0, 0, 0, 0};
            for (int t = 0; k + t < K; t++)
                four[t] = src[k + t], sum += src[k + t];
            memcpy(dst + (size_t)(k / 4) * NR * 4 + j * 4, four, 4);
        }
        correction[j] = 128 * sum; /* |128·sum| <= 128·128·K < 2^31 by the K bound */
    }
}

/* ---------------------------------------------------------------- micro-kernel */

/* tile[r][j] = Σ_g dpbusd(A panel, B panel) − correction[j], for the full MR×NR tile.
 *
 * The 24 accumulators are named variables (ROWS(X) expands X once per row). */
/* acc += dpbusd(a, b) as one instruction. GCC 13 compiled _mm512_dpbusd_epi32 in this
 * kernel with a register copy and a stack store per accumulator per k group (the intrinsic's
 * destination is also a source), which cost a third of the speed; the asm ties acc to its
 * register instead. */
#define DPBUSD(acc, a, b) __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b))
#define ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
TARGET_VNNI __attribute__((noinline)) static void
micro_kernel_12x32(int groups, const uint8_t *restrict a_panel, const int8_t *restrict b_panel,
                   const int32_t *restrict correction, int32_t *restrict tile) {
#define DECLARE(r) __m512i acc##r##_0 = _mm512_setzero_si512(), acc##r##_1 = acc##r##_0;
    ROWS(DECLARE)
#undef DECLARE
    for (int g = 0; g < groups; g++, a_panel += MR * 4, b_panel += NR * 4) {
        const __m512i b0 = _mm512_load_si512((const void *)b_panel);
        const __m512i b1 = _mm512_load_si512((const void *)(b_panel + 64));
#define STEP(r)                                                                                    \
    {                                                                                              \
        int32_t four;                                                                              \
        memcpy(&four, a_panel + (r)*4, 4);                                                         \
        const __m512i a_r = _mm512_set1_epi32(four);                                               \
        DPBUSD(acc##r##_0, a_r, b0);                                                               \
        DPBUSD(acc##r##_1, a_r, b1);                                                               \
    }
        ROWS(STEP)
#undef STEP
    }
    const __m512i corr0 = _mm512_loadu_si512((const void *)correction);
    const __m512i corr1 = _mm512_loadu_si512((const void *)(correction + 16));
#define STORE(r)                                                                                   \
    _mm512_storeu_si512((void *)(tile + (r)*NR), _mm512_sub_epi32(acc##r##_0, corr0));             \
    _mm512_storeu_si512((void *)(tile + (r)*NR + 16), _mm512_sub_epi32(acc##r##_1, corr1));
    ROWS(STORE)
#undef STORE
}
#undef ROWS

/* The same tile without VNNI, exactly: vpdpbusd's u8 × s8 products are formed from 16-bit
 * halves. A 16-bit lane holds bytes 2i (low) and 2i+1 (high); the even bytes widened (u8 by
 * masking, s8 by shifting left then arithmetically right) and the odd bytes (shifted right)
 * go through vpmaddwd, which multiplies 16-bit pairs and adds each pair into an int32: two
 * vpmaddwd give the four products of a lane. Nothing saturates (unlike vpmaddubsw, whose
 * int16 pair sums overflow at 255·127·2); about 4× the instructions of the VNNI kernel. */
TARGET_AVX512BW __attribute__((noinline)) static void
micro_kernel_12x32_bw(int groups, const uint8_t *restrict a_panel, const int8_t *restrict b_panel,
                      const int32_t *restrict correction, int32_t *restrict tile) {
    const __m512i low_bytes = _mm512_set1_epi16(0x00FF);
    __m512i acc[MR][2];
    for (int r = 0; r < MR; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    for (int g = 0; g < groups; g++, a_panel += MR * 4, b_panel += NR * 4) {
        __m512i b_even[2], b_odd[2];
        for (int v = 0; v < 2; v++) {
            const __m512i b = _mm512_load_si512((const void *)(b_panel + 64 * v));
            b_even[v] = _mm512_srai_epi16(_mm512_slli_epi16(b, 8), 8);
            b_odd[v] = _mm512_srai_epi16(b, 8);
        }
#pragma GCC unroll 12
        for (int r = 0; r < MR; r++) {
            int32_t four;
            memcpy(&four, a_panel + r * 4, 4);
            const __m512i a = _mm512_set1_epi32(four);
            const __m512i a_even = _mm512_and_si512(a, low_bytes), a_odd = _mm512_srli_epi16(a, 8);
#pragma GCC unroll 2
            for (int v = 0; v < 2; v++)
                acc[r][v] = _mm512_add_epi32(acc[r][v],
                                             _mm512_add_epi32(_mm512_madd_epi16(a_even, b_even[v]),
                                                              _mm512_madd_epi16(a_odd, b_odd[v])));
        }
    }
    const __m512i corr[2] = {_mm512_loadu_si512((const void *)correction),
                             _mm512_loadu_si512((const void *)(correction + 16))};
    for (int r = 0; r < MR; r++)
        for (int v = 0; v < 2; v++)
            _mm512_storeu_si512((void *)(tile + r * NR + 16 * v),
                                _mm512_sub_epi32(acc[r][v], corr[v]));
}

/* Write the valid rows × cols of a finished tile to C and/or out (the header's epilogue, in
 * its order of operations: multiply, add bias, add to out; no FMA, so equal to ref). */
TARGET_AVX512BW static void store_tile(const dl_int8_gemm_args *a, const int32_t *tile, int i0,
                                       int rows, int j0, int cols, const float *col_inv) {
    const __mmask16 masks[2] = {(__mmask16)(cols >= 16 ? 0xFFFF : (1u << cols) - 1),
                                (__mmask16)(cols >= 32   ? 0xFFFF
                                            : cols <= 16 ? 0
                                                         : (1u << (cols - 16)) - 1)};
    for (int r = 0; r < rows; r++) {
        const int m = i0 + r;
        const float row_inv = a->out ? dl_int8_inverse_scale(a->row_scale[m]) : 0.0f;
        for (int v = 0; v < 2; v++) {
            const __mmask16 mask = masks[v];
            if (!mask) continue;
            const int n = j0 + v * 16;
            const __m512i c = _mm512_loadu_si512((const void *)(tile + r * NR + v * 16));
            if (a->C) _mm512_mask_storeu_epi32(a->C + (ptrdiff_t)m * a->ldc + n, mask, c);
            if (a->out) {
                float *o = a->out + (ptrdiff_t)m * a->ldo + n;
                const __m512 scale =
                    _mm512_mul_ps(_mm512_set1_ps(row_inv), _mm512_loadu_ps(col_inv + v * 16));
                __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(c), scale);
                if (a->bias) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask, a->bias + n));
                if (a->accumulate) y = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, o), y);
                _mm512_mask_storeu_ps(o, mask, y);
            }
        }
    }
}

/* ---------------------------------------------------------------- the driver */

typedef void (*micro_kernel_fn)(int groups, const uint8_t *a_panel, const int8_t *b_panel,
                                const int32_t *correction, int32_t *tile);

typedef struct thread_grid {
    int threads, tm, tn;
} thread_grid;

static long long busiest_tiles(int M, int N, int tm, int tn) {
    const long long m_tiles = ((M + tm - 1) / tm + MR - 1) / MR;
    const long long n_panels = (N + NR - 1) / NR;
    return m_tiles * ((n_panels + tn - 1) / tn);
}

/* The grid with the fewest micro-tiles on the busiest thread; ties go to splitting N. */
static thread_grid choose_grid(int M, int N, int threads) {
    thread_grid best = {threads, 1, threads};
    long long best_tiles = busiest_tiles(M, N, 1, threads);
    for (int tm = 2; tm <= threads; tm++) {
        if (threads % tm) continue;
        const long long tiles = busiest_tiles(M, N, tm, threads / tm);
        if (tiles < best_tiles) best_tiles = tiles, best = (thread_grid){threads, tm, threads / tm};
    }
    return best;
}

/* Split [0, n) into parts of whole `unit`s; part `index` is [*lo, *hi). */
static void split_units(int n, int unit, int parts, int index, int *lo, int *hi) {
    const int units = (n + unit - 1) / unit;
    *lo = min_int(n, (int)((long long)units * index / parts) * unit);
    *hi = min_int(n, (int)((long long)units * (index + 1) / parts) * unit);
}

/* Per-thread buffers: one A block, one B block, its corrections and the column inverses. */
typedef struct thread_buffers {
    uint8_t *a_block;
    int8_t *b_block;
    int32_t *correction; /* nc_max entries */
    float *col_inv;      /* nc_max entries */
} thread_buffers;

TARGET_AVX512BW static void gemm_rectangle(const dl_int8_gemm_args *a, int m_lo, int m_hi, int n_lo,
                                           int n_hi, int mc_max, int nc_max, thread_buffers buf,
                                           micro_kernel_fn kernel) {
    const int kp = round_up(a->K, 4), groups = kp / 4;
    _Alignas(64) int32_t tile[MR * NR];
    for (int jc = n_lo; jc < n_hi; jc += nc_max) {
        const int nc = min_int(nc_max, n_hi - jc), panels = (nc + NR - 1) / NR;
        for (int p = 0; p < panels; p++)
            pack_b_panel(a, jc + p * NR, min_int(NR, nc - p * NR), kp,
                         buf.b_block + (size_t)p * NR * kp, buf.correction + p * NR);
        if (a->out)
            for (int j = 0; j < panels * NR; j++)
                buf.col_inv[j] = jc + j < a->N ? dl_int8_inverse_scale(a->col_scale[jc + j]) : 0;

        for (int ic = m_lo; ic < m_hi; ic += mc_max) {
            const int mc = min_int(mc_max, m_hi - ic);
            for (int ir = 0; ir < mc; ir += MR)
                pack_a_panel(a, ic + ir, min_int(MR, mc - ir), kp, buf.a_block + (size_t)ir * kp);
            for (int p = 0; p < panels; p++) {
                const int8_t *b_panel = buf.b_block + (size_t)p * NR * kp;
                const int cols = min_int(NR, nc - p * NR);
                for (int ir = 0; ir < mc; ir += MR) {
                    kernel(groups, buf.a_block + (size_t)ir * kp, b_panel, buf.correction + p * NR,
                           tile);
                    store_tile(a, tile, ic + ir, min_int(MR, mc - ir), jc + p * NR, cols,
                               buf.col_inv + p * NR);
                }
            }
        }
    }
}

static dl_status gemm_int8(const dl_int8_gemm_args *a, micro_kernel_fn kernel) {
    if (a->M == 0 || a->N == 0) return DL_OK;
    if (a->K == 0) { /* an empty sum: the reference path handles it exactly */
        return dl_int8_gemm_ref(a);
    }
    const int kp = round_up(a->K, 4);
    /* Blocks sized in bytes, whatever K is; at least one panel each. */
    const int mc_max = min_int(MC_MAX, max_int(MR, A_BLOCK_BYTES / kp / MR * MR));
    int nc_max = max_int(NR, B_BLOCK_BYTES / kp / NR * NR);

    int threads = dl_threads_get();
    if (2.0 * a->M * a->N * a->K < PARALLEL_MIN_OPS) threads = 1;
    nc_max = min_int(nc_max, round_up(a->N, NR));
    const int mc_alloc = min_int(mc_max, round_up(a->M, MR));

    /* One allocation per thread's buffers, every part a whole number of cache lines. */
    const size_t a_bytes = (size_t)round_up(mc_alloc, MR) * kp;
    const size_t b_bytes = (size_t)nc_max * kp;
    const size_t vec_bytes = (size_t)nc_max * 4;
    const size_t per_thread =
        (a_bytes + 63) / 64 * 64 + (b_bytes + 63) / 64 * 64 + 2 * ((vec_bytes + 63) / 64 * 64);
    uint8_t *all = NULL;
    DL_TRY(dl_alloc((void **)&all, per_thread * (size_t)threads));

    thread_grid plan = threads > 1 ? choose_grid(a->M, a->N, threads) : (thread_grid){1, 1, 1};
#ifdef _OPENMP
#pragma omp parallel num_threads(plan.threads) if (plan.threads > 1)
#endif
    {
        int thread = 0;
        thread_grid grid = plan;
#ifdef _OPENMP
        /* The runtime may grant fewer threads than asked: plan for the team we got. */
        const int team = omp_get_num_threads();
        thread = omp_get_thread_num();
        if (team != plan.threads) grid = choose_grid(a->M, a->N, team);
#endif
        uint8_t *mine = all + per_thread * (size_t)thread;
        thread_buffers buf;
        buf.a_block = mine;
        buf.b_block = (int8_t *)(mine + (a_bytes + 63) / 64 * 64);
        buf.correction = (int32_t *)((uint8_t *)buf.b_block + (b_bytes + 63) / 64 * 64);
        buf.col_inv = (float *)((uint8_t *)buf.correction + (vec_bytes + 63) / 64 * 64);
        int m_lo, m_hi, n_lo, n_hi;
        split_units(a->M, MR, grid.tm, thread / grid.tn, &m_lo, &m_hi);
        split_units(a->N, NR, grid.tn, thread % grid.tn, &n_lo, &n_hi);
        if (m_lo < m_hi && n_lo < n_hi)
            gemm_rectangle(a, m_lo, m_hi, n_lo, n_hi, mc_max, nc_max, buf, kernel);
    }
    dl_free(all);
    return DL_OK;
}

dl_status dl_int8_gemm_vnni(const dl_int8_gemm_args *a) {
    if (!dl_cpu_has_avx512_vnni())
        return DL_FAIL(DL_ERR_UNSUPPORTED, "this CPU has no AVX-512 VNNI (with F and BW)");
    return gemm_int8(a, micro_kernel_12x32);
}

dl_status dl_int8_gemm_avx512(const dl_int8_gemm_args *a) {
    if (!dl_cpu_has_avx512()) return DL_FAIL(DL_ERR_UNSUPPORTED, "this CPU has no AVX-512 F+BW");
    return gemm_int8(a, micro_kernel_12x32_bw);
}
