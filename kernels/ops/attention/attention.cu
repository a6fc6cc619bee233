/* attention.cu — variant `cuda_flash` of the "attention" family (dlab/attention.h): causal
 * attention on the GPU that never stores the T×T scores, fp32, DEVICE pointers.
 *
 * The algorithm is attention_flash.c's (read it first; it is the oracle of every index below):
 * the forward keeps, per query row, a running max m, normalizer l and unnormalized output O
 * over tiles of keys and writes out = O / l and lse = m + log l; the backward is
 * FlashAttention-2's, recomputing P = e^(S − lse) tile by tile. Here is only how it is laid
 * out on a GPU. Throughout, hs = C / NH, scale = 1/√hs, "row" t is a query, "key" s a key.
 *
 * Forward — attention_flash_forward_kernel. Grid (B·NH, ⌈T/64⌉): a block owns 64 query rows
 * of one (b, h), 8 warps × 8 rows. The block stages its Q rows in shared memory once, then
 * walks key tiles of 32 keys from key 0 up to its last row (the causal bound), staging K and V
 * of each tile in shared memory. For one row and one tile the warp works with a LANE PER KEY:
 * lane j computes the score of key j0 + j (a dot over hs read from shared memory), a warp max
 * and a warp sum give the tile's max and Σ P, and then the warp switches to a LANE PER
 * DIMENSION (d = lane, lane + 32, ... up to 4 per lane, so hs ≤ 128): O[d] += Σ_j P_j·V[j][d],
 * P_j broadcast from lane j by a shuffle. Query tiles are handed out last-first (the
 * blockIdx.y order is reversed) because causal rows near the end of the sequence see the
 * most keys: the long blocks start first and the short ones fill in behind them.
 *
 * The causal mask is a loop bound plus a lane predicate, never a −inf score: a row only
 * visits tiles with j0 <= t, so lane 0 (key j0) is always a key it may see; lanes past the
 * diagonal take lane 0's score for the max (which then ignores them) and get P = 0 by a
 * select; the P·V loop stops at the row's own key. m starts at −FLT_MAX and the first tile's
 * rescale factor is taken as 0 (l and O are still 0), as attention_flash.c does with −inf.
 *
 * Backward — three kernels, all deterministic (no atomics: every float of dqkv is owned by
 * one thread of one launch, so the same inputs give the same bits on every run):
 *   attention_flash_dot_kernel   D_t = Σ_d dout_t·out_t, a warp per (b, h, t), into a scratch
 *                                (B,NH,T) from cudaMallocAsync (stream-ordered, freed with
 *                                cudaFreeAsync behind the kernels that read it).
 *   attention_flash_dkdv_kernel  grid (B·NH, ⌈T/32⌉): a block owns 32 keys, 8 warps × 4 keys,
 *                                and walks query tiles of 32 rows from its first key to T.
 *                                LANE PER ROW: lane i recomputes P and dP = dO·v for row
 *                                i0 + i against the warp's key; then LANE PER DIMENSION:
 *                                dV[d] += Σ_i P_i·dO_i[d], dK[d] += Σ_i dS_i·Q_i[d], in
 *                                registers; added to dqkv once at the end (dK times scale).
 *   attention_flash_dq_kernel    grid (B·NH, ⌈T/32⌉): a block owns 32 query rows, 8 warps ×
 *                                4 rows, and walks key tiles up to its last row, exactly like
 *                                the forward: lane per key for P and dS, then lane per
 *                                dimension for dQ[d] += Σ_j dS_j·K_j[d]; added to dqkv once.
 * The second pass for dQ recomputes P a second time (about 1.5× the arithmetic of one pass
 * with atomicAdd into dQ) in exchange for bitwise-reproducible gradients.
 *
 * Shared memory: each kernel stages four tiles of ≤ 64 rows; a tile row is padded (tile_ld)
 * so that 32 lanes reading 32 different rows at the same column do not share a bank, and the
 * dots read float4s when hs % 4 == 0. With hs = 128 that is 66 KiB, above the 48 KiB default:
 * the launch raises the kernel's limit with cudaFuncSetAttribute (sm_90 allows 227 KiB).
 *
 * Accuracy: expf and logf (not __expf), fp32 sums in a fixed order; ref sums in double.
 * NaN: the warp max propagates NaN (dl_max_nan), so a NaN score makes its row NaN, as in the
 * CPU variants; a NaN in a later token never reaches an earlier row (it is never read).
 *
 * Conventions (cuda_common.cuh): default stream, returns without waiting, launch errors at
 * once, faults at the caller's next synchronizing call; host pointers are refused with
 * DL_ERR_ARG; hs > 128 is DL_ERR_UNSUPPORTED. BACKWARD ACCUMULATES into dqkv.
 *
 * Leaves out: tensor cores / mma (fp32 on the CUDA cores only), splitting one head's keys
 * over blocks in the forward (Flash-Decoding), the custom softmax pointer (ignored, as by
 * every flash variant), streams.
 */
#include <float.h>
#include <limits.h>

#include "../cuda_common.cuh"
#include "attention_impl.h"

static constexpr unsigned FULL_MASK = 0xffffffffu;
static constexpr int WARPS = 8; /* every kernel here: 256 threads */
static constexpr int THREADS = WARPS * 32;
static constexpr int HS_MAX = 128;          /* 4 dimensions per lane */
static constexpr int KEY_TILE = 32;         /* keys per tile: a lane per key */
static constexpr int FWD_ROWS_PER_WARP = 8; /* forward: 64 query rows per block */
static constexpr int FWD_ROWS = WARPS * FWD_ROWS_PER_WARP;
static constexpr int DKDV_KEYS_PER_WARP = 4; /* dK/dV: 32 keys per block ... */
static constexpr int DKDV_KEYS = WARPS * DKDV_KEYS_PER_WARP;
static constexpr int DKDV_ROW_TILE = 32;   /* ... against query tiles of 32 rows */
static constexpr int DQ_ROWS_PER_WARP = 4; /* dQ: 32 query rows per block */
static constexpr int DQ_ROWS = WARPS * DQ_ROWS_PER_WARP;
static constexpr int DOT_ROWS_PER_BLOCK = WARPS; /* D: a warp per row */
static constexpr int GRID_Y_MAX = 65535;
static constexpr size_t DEFAULT_SHARED_BYTES = 48 * 1024;

static_assert(DKDV_KEYS % DKDV_ROW_TILE == 0, "a key tile must start a query tile");
static_assert(KEY_TILE == 32 && DKDV_ROW_TILE == 32, "a lane per key / per row");

/* The row length (floats) of a shared-memory tile, chosen so that 32 lanes reading 32
 * different rows at the same column do not collide in the 32 banks. When hs % 4 == 0 the dots
 * read float4s, served a quarter-warp (8 lanes, 8 × 4 banks) at a time: a length of 4·odd
 * puts those 8 lanes on 8 different groups of 4 banks (hs = 64: 68, hs = 128: 132, hs = 20:
 * 20). Otherwise the reads are floats and an odd length does the same for all 32 lanes. */
__host__ __device__ static inline int tile_ld(int hs) {
    return hs % 4 == 0 ? 4 * ((hs / 4) | 1) : hs | 1;
}

/* Where head h of batch b starts, and the row strides (elements). */
struct head_ptrs {
    size_t ld_qkv, ld_out; /* 3C, C */
    size_t qkv0, out0;     /* offset of (b, t = 0, head h) in qkv / dqkv and in out / dout */
    size_t row0;           /* offset of (b, h, t = 0) in lse and D */
};

__device__ static inline head_ptrs head_of(int bh, int T, int C, int NH) {
    const int b = bh / NH, h = bh - b * NH, hs = C / NH;
    head_ptrs p;
    p.ld_qkv = 3 * (size_t)C;
    p.ld_out = (size_t)C;
    p.qkv0 = (size_t)b * T * p.ld_qkv + (size_t)h * hs;
    p.out0 = (size_t)b * T * p.ld_out + (size_t)h * hs;
    p.row0 = (size_t)bh * T;
    return p;
}

/* Copy rows [row0, row0 + rows) of an (T, ld_global) tensor (columns 0..hs) into a tile of
 * TILE_ROWS × tile_ld(hs) floats; rows past `count` (past the sequence) become 0 so that no
 * lane ever reads uninitialized shared memory. All threads of the block call it. */
template <int TILE_ROWS>
__device__ static inline void load_tile(float *tile, const float *__restrict__ src,
                                        size_t ld_global, int row0, int count, int hs) {
    const int ld = tile_ld(hs);
    for (int idx = threadIdx.x; idx < TILE_ROWS * hs; idx += blockDim.x) {
        const int r = idx / hs, d = idx - r * hs;
        tile[r * ld + d] = r < count ? src[(size_t)(row0 + r) * ld_global + d] : 0.0f;
    }
}

/* Σ_d a[d]·b[d] over hs floats of shared memory, one product after the other in both paths
 * (the same bits either way). With hs % 4 == 0, a and b are 16-byte aligned (the tiles start
 * at multiples of tile_ld(hs) floats from an aligned base) and are read as float4s: a quarter
 * of the load instructions, which are what limits these dots. */
__device__ static inline float dot_shared(const float *a, const float *b, int hs) {
    float sum = 0.0f;
    if (hs % 4 == 0) {
        const float4 *a4 = reinterpret_cast<const float4 *>(a);
        const float4 *b4 = reinterpret_cast<const float4 *>(b);
        for (int i = 0; i < hs / 4; i++) {
            const float4 x = a4[i], y = b4[i];
            sum = fmaf(x.x, y.x, sum);
            sum = fmaf(x.y, y.y, sum);
            sum = fmaf(x.z, y.z, sum);
            sum = fmaf(x.w, y.w, sum);
        }
        return sum;
    }
    for (int d = 0; d < hs; d++)
        sum = fmaf(a[d], b[d], sum);
    return sum;
}

/* ------------------------------------------------------------------ forward */

/* out (B,T,C), lse (B,NH,T) or NULL. CHUNKS = ⌈hs/32⌉ dimensions per lane. */
template <int CHUNKS>
__global__ void __launch_bounds__(THREADS)
    attention_flash_forward_kernel(int T, int C, int NH, float scale, const float *__restrict__ qkv,
                                   float *__restrict__ out, float *__restrict__ lse) {
    extern __shared__ __align__(16) float shared[];
    const int hs = C / NH, ld = tile_ld(hs);
    float *q_tile = shared, *k_tile = q_tile + FWD_ROWS * ld, *v_tile = k_tile + KEY_TILE * ld;
    const head_ptrs hp = head_of(blockIdx.x, T, C, NH);
    const int i0 = (gridDim.y - 1 - blockIdx.y) * FWD_ROWS; /* last query tile first */
    const int rows = min(FWD_ROWS, T - i0), last = i0 + rows - 1;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

    load_tile<FWD_ROWS>(q_tile, qkv + hp.qkv0, hp.ld_qkv, i0, rows, hs);

    float m[FWD_ROWS_PER_WARP], l[FWD_ROWS_PER_WARP], o[FWD_ROWS_PER_WARP][CHUNKS];
#pragma unroll
    for (int r = 0; r < FWD_ROWS_PER_WARP; r++) {
        m[r] = -FLT_MAX, l[r] = 0.0f;
#pragma unroll
        for (int c = 0; c < CHUNKS; c++)
            o[r][c] = 0.0f;
    }

    for (int j0 = 0; j0 <= last; j0 += KEY_TILE) {
        const int keys = min(KEY_TILE, T - j0);
        __syncthreads(); /* every warp is done with the previous K, V tile (and Q is loaded) */
        load_tile<KEY_TILE>(k_tile, qkv + hp.qkv0 + C, hp.ld_qkv, j0, keys, hs);
        load_tile<KEY_TILE>(v_tile, qkv + hp.qkv0 + 2 * (size_t)C, hp.ld_qkv, j0, keys, hs);
        __syncthreads();
#pragma unroll
        for (int r = 0; r < FWD_ROWS_PER_WARP; r++) {
            const int row = warp * FWD_ROWS_PER_WARP + r, t = i0 + row;
            if (t >= T || t < j0) continue; /* the same for the whole warp */
            /* lane per key: key j0 + lane, visible when <= t (then also < T) */
            const bool visible = j0 + lane <= t;
            const float score = scale * dot_shared(q_tile + row * ld, k_tile + lane * ld, hs);
            const float first = __shfl_sync(FULL_MASK, score, 0); /* every lane takes part */
            const float score_or_first = visible ? score : first;
            const float m_new = dl_max_nan(m[r], dl_warp_max(score_or_first));
            const float rescale = j0 == 0 ? 0.0f : expf(m[r] - m_new);
            const float p = visible ? expf(score - m_new) : 0.0f;
            l[r] = l[r] * rescale + dl_warp_sum(p);
            m[r] = m_new;
            /* lane per dimension: O[d] = O[d]·rescale + Σ_j P_j·V[j][d] over visible keys */
#pragma unroll
            for (int c = 0; c < CHUNKS; c++)
                o[r][c] *= rescale;
            const int visible_keys = min(KEY_TILE, t - j0 + 1);
            for (int j = 0; j < visible_keys; j++) {
                const float p_j = __shfl_sync(FULL_MASK, p, j);
#pragma unroll
                for (int c = 0; c < CHUNKS; c++) {
                    const int d = lane + 32 * c;
                    if (d < hs) o[r][c] = fmaf(p_j, v_tile[j * ld + d], o[r][c]);
                }
            }
        }
    }

#pragma unroll
    for (int r = 0; r < FWD_ROWS_PER_WARP; r++) {
        const int t = i0 + warp * FWD_ROWS_PER_WARP + r;
        if (t >= T) continue;
        float *out_t = out + hp.out0 + (size_t)t * hp.ld_out;
#pragma unroll
        for (int c = 0; c < CHUNKS; c++) {
            const int d = lane + 32 * c;
            if (d < hs) out_t[d] = o[r][c] / l[r];
        }
        if (lse && lane == 0) lse[hp.row0 + t] = m[r] + logf(l[r]);
    }
}

/* ------------------------------------------------------------------ backward */

/* D[b,h,t] = Σ_d dout[b,t,h·hs + d]·out[b,t,h·hs + d]; a warp per row, rows = B·NH·T. */
__global__ void __launch_bounds__(THREADS)
    attention_flash_dot_kernel(size_t rows, int T, int C, int NH, const float *__restrict__ out,
                               const float *__restrict__ dout, float *__restrict__ D) {
    const size_t row = (size_t)blockIdx.x * DOT_ROWS_PER_BLOCK + (threadIdx.x >> 5);
    const int lane = threadIdx.x & 31;
    if (row >= rows) return; /* whole warps leave; no __syncthreads here */
    const int bh = (int)(row / (size_t)T), t = (int)(row - (size_t)bh * T);
    const head_ptrs hp = head_of(bh, T, C, NH);
    const int hs = C / NH;
    const size_t at = hp.out0 + (size_t)t * hp.ld_out;
    float sum = 0.0f;
    for (int d = lane; d < hs; d += 32)
        sum = fmaf(dout[at + d], out[at + d], sum);
    sum = dl_warp_sum(sum);
    if (lane == 0) D[row] = sum;
}

/* dK, dV of one tile of DKDV_KEYS keys, from every query row at or after its first key. */
template <int CHUNKS>
__global__ void __launch_bounds__(THREADS)
    attention_flash_dkdv_kernel(int T, int C, int NH, float scale, const float *__restrict__ qkv,
                                const float *__restrict__ dout, const float *__restrict__ lse,
                                const float *__restrict__ D, float *__restrict__ dqkv) {
    extern __shared__ __align__(16) float shared[];
    const int hs = C / NH, ld = tile_ld(hs);
    float *k_tile = shared, *v_tile = k_tile + DKDV_KEYS * ld;
    float *q_tile = v_tile + DKDV_KEYS * ld, *dout_tile = q_tile + DKDV_ROW_TILE * ld;
    float *lse_tile = dout_tile + DKDV_ROW_TILE * ld, *d_tile = lse_tile + DKDV_ROW_TILE;
    const head_ptrs hp = head_of(blockIdx.x, T, C, NH);
    const int j0 = blockIdx.y * DKDV_KEYS; /* the first tiles see the most rows: start them first */
    const int keys = min(DKDV_KEYS, T - j0);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

    load_tile<DKDV_KEYS>(k_tile, qkv + hp.qkv0 + C, hp.ld_qkv, j0, keys, hs);
    load_tile<DKDV_KEYS>(v_tile, qkv + hp.qkv0 + 2 * (size_t)C, hp.ld_qkv, j0, keys, hs);

    float dk[DKDV_KEYS_PER_WARP][CHUNKS], dv[DKDV_KEYS_PER_WARP][CHUNKS];
#pragma unroll
    for (int k = 0; k < DKDV_KEYS_PER_WARP; k++)
#pragma unroll
        for (int c = 0; c < CHUNKS; c++)
            dk[k][c] = 0.0f, dv[k][c] = 0.0f;

    /* j0 is a multiple of the row tile, so the first query tile starts at the first key */
    for (int i0 = j0; i0 < T; i0 += DKDV_ROW_TILE) {
        const int rows = min(DKDV_ROW_TILE, T - i0);
        __syncthreads(); /* every warp is done with the previous Q, dO tile (and K, V loaded) */
        load_tile<DKDV_ROW_TILE>(q_tile, qkv + hp.qkv0, hp.ld_qkv, i0, rows, hs);
        load_tile<DKDV_ROW_TILE>(dout_tile, dout + hp.out0, hp.ld_out, i0, rows, hs);
        if (threadIdx.x < DKDV_ROW_TILE) {
            const bool in = (int)threadIdx.x < rows;
            lse_tile[threadIdx.x] = in ? lse[hp.row0 + i0 + threadIdx.x] : 0.0f;
            d_tile[threadIdx.x] = in ? D[hp.row0 + i0 + threadIdx.x] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < DKDV_KEYS_PER_WARP; k++) {
            const int key = warp * DKDV_KEYS_PER_WARP + k, s = j0 + key;
            if (s >= T) continue; /* the same for the whole warp */
            /* lane per row: row i0 + lane sees key s when s <= t < T */
            const int t = i0 + lane;
            const bool visible = lane < rows && s <= t;
            const float qk = dot_shared(q_tile + lane * ld, k_tile + key * ld, hs);
            const float dp = dot_shared(dout_tile + lane * ld, v_tile + key * ld, hs);
            const float p = visible ? expf(scale * qk - lse_tile[lane]) : 0.0f;
            const float ds = visible ? p * (dp - d_tile[lane]) : 0.0f;
            /* lane per dimension, over the visible rows s <= t < T only */
            for (int i = max(0, s - i0); i < rows; i++) {
                const float p_i = __shfl_sync(FULL_MASK, p, i);
                const float ds_i = __shfl_sync(FULL_MASK, ds, i);
#pragma unroll
                for (int c = 0; c < CHUNKS; c++) {
                    const int d = lane + 32 * c;
                    if (d < hs) {
                        dv[k][c] = fmaf(p_i, dout_tile[i * ld + d], dv[k][c]);
                        dk[k][c] = fmaf(ds_i, q_tile[i * ld + d], dk[k][c]);
                    }
                }
            }
        }
    }

#pragma unroll
    for (int k = 0; k < DKDV_KEYS_PER_WARP; k++) {
        const int s = j0 + warp * DKDV_KEYS_PER_WARP + k;
        if (s >= T) continue;
        float *dk_s = dqkv + hp.qkv0 + (size_t)s * hp.ld_qkv + C, *dv_s = dk_s + C;
#pragma unroll
        for (int c = 0; c < CHUNKS; c++) {
            const int d = lane + 32 * c;
            if (d < hs) {
                dk_s[d] += scale * dk[k][c];
                dv_s[d] += dv[k][c];
            }
        }
    }
}

/* dQ of one tile of DQ_ROWS query rows, from every key up to its last row. */
template <int CHUNKS>
__global__ void __launch_bounds__(THREADS)
    attention_flash_dq_kernel(int T, int C, int NH, float scale, const float *__restrict__ qkv,
                              const float *__restrict__ dout, const float *__restrict__ lse,
                              const float *__restrict__ D, float *__restrict__ dqkv) {
    extern __shared__ __align__(16) float shared[];
    const int hs = C / NH, ld = tile_ld(hs);
    float *q_tile = shared, *dout_tile = q_tile + DQ_ROWS * ld;
    float *k_tile = dout_tile + DQ_ROWS * ld, *v_tile = k_tile + KEY_TILE * ld;
    const head_ptrs hp = head_of(blockIdx.x, T, C, NH);
    const int i0 = (gridDim.y - 1 - blockIdx.y) * DQ_ROWS; /* last query tile first */
    const int rows = min(DQ_ROWS, T - i0), last = i0 + rows - 1;
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;

    load_tile<DQ_ROWS>(q_tile, qkv + hp.qkv0, hp.ld_qkv, i0, rows, hs);
    load_tile<DQ_ROWS>(dout_tile, dout + hp.out0, hp.ld_out, i0, rows, hs);

    float lse_r[DQ_ROWS_PER_WARP], d_r[DQ_ROWS_PER_WARP], dq[DQ_ROWS_PER_WARP][CHUNKS];
#pragma unroll
    for (int r = 0; r < DQ_ROWS_PER_WARP; r++) {
        const int t = i0 + warp * DQ_ROWS_PER_WARP + r;
        lse_r[r] = t < T ? lse[hp.row0 + t] : 0.0f;
        d_r[r] = t < T ? D[hp.row0 + t] : 0.0f;
#pragma unroll
        for (int c = 0; c < CHUNKS; c++)
            dq[r][c] = 0.0f;
    }

    for (int j0 = 0; j0 <= last; j0 += KEY_TILE) {
        const int keys = min(KEY_TILE, T - j0);
        __syncthreads();
        load_tile<KEY_TILE>(k_tile, qkv + hp.qkv0 + C, hp.ld_qkv, j0, keys, hs);
        load_tile<KEY_TILE>(v_tile, qkv + hp.qkv0 + 2 * (size_t)C, hp.ld_qkv, j0, keys, hs);
        __syncthreads();
#pragma unroll
        for (int r = 0; r < DQ_ROWS_PER_WARP; r++) {
            const int row = warp * DQ_ROWS_PER_WARP + r, t = i0 + row;
            if (t >= T || t < j0) continue; /* the same for the whole warp */
            /* lane per key */
            const bool visible = j0 + lane <= t;
            const float qk = dot_shared(q_tile + row * ld, k_tile + lane * ld, hs);
            const float dp = dot_shared(dout_tile + row * ld, v_tile + lane * ld, hs);
            const float p = visible ? expf(scale * qk - lse_r[r]) : 0.0f;
            const float ds = visible ? p * (dp - d_r[r]) : 0.0f;
            /* lane per dimension: dQ[d] += Σ_j dS_j·K[j][d] over the visible keys */
            const int visible_keys = min(KEY_TILE, t - j0 + 1);
            for (int j = 0; j < visible_keys; j++) {
                const float ds_j = __shfl_sync(FULL_MASK, ds, j);
#pragma unroll
                for (int c = 0; c < CHUNKS; c++) {
                    const int d = lane + 32 * c;
                    if (d < hs) dq[r][c] = fmaf(ds_j, k_tile[j * ld + d], dq[r][c]);
                }
            }
        }
    }

#pragma unroll
    for (int r = 0; r < DQ_ROWS_PER_WARP; r++) {
        const int t = i0 + warp * DQ_ROWS_PER_WARP + r;
        if (t >= T) continue;
        float *dq_t = dqkv + hp.qkv0 + (size_t)t * hp.ld_qkv;
#pragma unroll
        for (int c = 0; c < CHUNKS; c++) {
            const int d = lane + 32 * c;
            if (d < hs) dq_t[d] += scale * dq[r][c];
        }
    }
}

/* ------------------------------------------------------------------ host side */

static size_t forward_shared_bytes(int hs) {
    return (size_t)(FWD_ROWS + 2 * KEY_TILE) * tile_ld(hs) * sizeof(float);
}
static size_t dkdv_shared_bytes(int hs) {
    return ((size_t)(2 * DKDV_KEYS + 2 * DKDV_ROW_TILE) * tile_ld(hs) + 2 * DKDV_ROW_TILE) *
           sizeof(float);
}
static size_t dq_shared_bytes(int hs) {
    return (size_t)(2 * DQ_ROWS + 2 * KEY_TILE) * tile_ld(hs) * sizeof(float);
}

/* Above 48 KiB of dynamic shared memory a kernel must opt in (once is enough, but the call is
 * cheap and doing it per launch keeps it next to the launch it is for). */
template <typename Kernel>
static dl_status allow_shared(Kernel kernel, size_t bytes, const char *where, const char *name) {
    if (bytes <= DEFAULT_SHARED_BYTES) return DL_OK;
    const cudaError_t err =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes);
    if (err != cudaSuccess) return dl_cuda_fail(err, where, name);
    return DL_OK;
}

/* What both passes check before launching: sizes the grid can hold, hs ≤ 128, a device,
 * device pointers. */
static dl_status check_launchable(const dl_attention_args *a, int row_tile, const char *where) {
    const int hs = a->C / a->NH;
    if (hs > HS_MAX)
        return dl_fail_at(DL_ERR_UNSUPPORTED, where,
                          "head size hs=%d (C=%d / NH=%d) is above the %d this kernel supports", hs,
                          a->C, a->NH, HS_MAX);
    if ((long long)a->B * a->NH > INT_MAX)
        return dl_fail_at(DL_ERR_UNSUPPORTED, where, "B·NH = %lld heads is above the grid's %d",
                          (long long)a->B * a->NH, INT_MAX);
    if (dl_ceil_div(a->T, row_tile) > GRID_Y_MAX)
        return dl_fail_at(DL_ERR_UNSUPPORTED, where, "T=%d needs more than %d tiles of %d rows",
                          a->T, GRID_Y_MAX, row_tile);
    return dl_cuda_require_device(where);
}

template <int CHUNKS> static dl_status launch_forward(const dl_attention_args *a, float scale) {
    const int hs = a->C / a->NH;
    const size_t bytes = forward_shared_bytes(hs);
    DL_TRY(allow_shared(attention_flash_forward_kernel<CHUNKS>, bytes,
                        "dl_attention_cuda_flash_forward",
                        "cudaFuncSetAttribute(attention_flash_forward_kernel)"));
    const dim3 grid((unsigned)(a->B * a->NH), (unsigned)dl_ceil_div(a->T, FWD_ROWS));
    attention_flash_forward_kernel<CHUNKS>
        <<<grid, THREADS, bytes>>>(a->T, a->C, a->NH, scale, a->qkv, a->out, a->lse);
    return dl_cuda_check_launch("dl_attention_cuda_flash_forward",
                                "attention_flash_forward_kernel");
}

template <int CHUNKS>
static dl_status launch_backward_tiles(const dl_attention_args *a, float scale, const float *D) {
    const int hs = a->C / a->NH;
    const char *where = "dl_attention_cuda_flash_backward";
    const size_t dkdv_bytes = dkdv_shared_bytes(hs), dq_bytes = dq_shared_bytes(hs);
    DL_TRY(allow_shared(attention_flash_dkdv_kernel<CHUNKS>, dkdv_bytes, where,
                        "cudaFuncSetAttribute(attention_flash_dkdv_kernel)"));
    DL_TRY(allow_shared(attention_flash_dq_kernel<CHUNKS>, dq_bytes, where,
                        "cudaFuncSetAttribute(attention_flash_dq_kernel)"));
    const unsigned heads = (unsigned)(a->B * a->NH);
    const dim3 dkdv_grid(heads, (unsigned)dl_ceil_div(a->T, DKDV_KEYS));
    attention_flash_dkdv_kernel<CHUNKS><<<dkdv_grid, THREADS, dkdv_bytes>>>(
        a->T, a->C, a->NH, scale, a->qkv, a->dout, a->lse, D, a->dqkv);
    DL_TRY(dl_cuda_check_launch(where, "attention_flash_dkdv_kernel"));
    const dim3 dq_grid(heads, (unsigned)dl_ceil_div(a->T, DQ_ROWS));
    attention_flash_dq_kernel<CHUNKS><<<dq_grid, THREADS, dq_bytes>>>(
        a->T, a->C, a->NH, scale, a->qkv, a->dout, a->lse, D, a->dqkv);
    return dl_cuda_check_launch(where, "attention_flash_dq_kernel");
}

static float scale_of(const dl_attention_args *a) {
    return (float)(1.0 / sqrt((double)(a->C / a->NH)));
}

extern "C" dl_status dl_attention_cuda_flash_forward(const dl_attention_args *a) {
    const char *where = "dl_attention_cuda_flash_forward";
    DL_TRY(dl_attention_check(a, false));
    if ((long long)a->B * a->T == 0) return DL_OK;
    DL_TRY(check_launchable(a, FWD_ROWS, where));
    const dl_named_pointer pointers[] = {{a->qkv, "qkv"}, {a->out, "out"}, {a->lse, "lse"}};
    DL_TRY(dl_cuda_check_pointers(pointers, where));
    const float scale = scale_of(a);
    switch (dl_ceil_div(a->C / a->NH, 32)) {
    case 1: return launch_forward<1>(a, scale);
    case 2: return launch_forward<2>(a, scale);
    case 3: return launch_forward<3>(a, scale);
    default: return launch_forward<4>(a, scale);
    }
}

extern "C" dl_status dl_attention_cuda_flash_backward(const dl_attention_args *a) {
    const char *where = "dl_attention_cuda_flash_backward";
    DL_TRY(dl_attention_check(a, true));
    if ((long long)a->B * a->T == 0) return DL_OK;
    if (!a->lse)
        return dl_fail_at(DL_ERR_ARG, where, "lse is NULL: the backward needs the forward's lse");
    if (!a->out)
        return dl_fail_at(DL_ERR_ARG, where, "out is NULL: the backward needs the forward's out");
    DL_TRY(check_launchable(a, DQ_ROWS, where));
    const dl_named_pointer pointers[] = {
        {a->qkv, "qkv"}, {a->out, "out"}, {a->lse, "lse"}, {a->dout, "dout"}, {a->dqkv, "dqkv"}};
    DL_TRY(dl_cuda_check_pointers(pointers, where));

    const size_t rows = (size_t)a->B * a->NH * a->T;
    const size_t dot_blocks = (rows + DOT_ROWS_PER_BLOCK - 1) / DOT_ROWS_PER_BLOCK;
    if (dot_blocks > (size_t)INT_MAX)
        return dl_fail_at(DL_ERR_UNSUPPORTED, where, "B·NH·T = %zu rows is too many", rows);
    float *D = nullptr;
    DL_CUDA_TRY_AT(where, cudaMallocAsync((void **)&D, rows * sizeof(float), 0));
    attention_flash_dot_kernel<<<(unsigned)dot_blocks, THREADS>>>(rows, a->T, a->C, a->NH, a->out,
                                                                  a->dout, D);
    dl_status st = dl_cuda_check_launch(where, "attention_flash_dot_kernel");
    if (st == DL_OK) {
        const float scale = scale_of(a);
        switch (dl_ceil_div(a->C / a->NH, 32)) {
        case 1: st = launch_backward_tiles<1>(a, scale, D); break;
        case 2: st = launch_backward_tiles<2>(a, scale, D); break;
        case 3: st = launch_backward_tiles<3>(a, scale, D); break;
        default: st = launch_backward_tiles<4>(a, scale, D); break;
        }
    }
    /* freed in stream order: after the kernels above have read it */
    const cudaError_t freed = cudaFreeAsync(D, 0);
    if (st == DL_OK && freed != cudaSuccess) return dl_cuda_fail(freed, where, "cudaFreeAsync(D)");
    return st;
}
