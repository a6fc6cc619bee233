/* softmax_topk.cu — the CUDA softmax + top-k variants (softmax_topk.h): the K most probable
 * entries of each row's softmax, unfused (the paper's baseline pipeline) and fused (one pass).
 *
 *   cuda_unfused  cuda_block_online writes all N·V probabilities to args->work; then one
 *                 block per row reads them back and selects the K largest.
 *                 Traffic: softmax 2 reads + 1 write, selection 1 read.
 *   cuda_fused    one block per row reads the logits once: each thread keeps the running
 *                 (m, d) of online softmax and its own top-K list of (logit, index); the block
 *                 merges the (m, d) by the pair rule and the lists by K rounds of arg-max;
 *                 probabilities are computed for the K winners only. Traffic: 1 read.
 *
 * DEVICE pointers, default stream, no synchronization (as softmax.cu).
 *
 * Order (the family's): logit descending, ties by the smaller column index; a −inf logit is a
 * candidate that ranks last. cuda_unfused only sees probabilities, and e^(x − m) can round two
 * different logits to the same probability (both underflow to 0, or two logits one ulp
 * apart); on equal probabilities it therefore looks up the two logits (rare, two cached loads)
 * before falling back to the index, so both variants give the family's indices.
 *
 * Per-thread lists. A list holds KCAP = the next of {1, 4, 8, 16, 32, 64} at or above K
 * entries, sorted best first, empty slots holding a sentinel (−inf, INT_MAX) that ranks below
 * every real entry (a real index is < V <= INT_MAX). A new element is first compared with the
 * last entry — one compare in the common case once the list has filled — and only if it beats
 * it is it bubbled in from the top: slot s keeps the better of (slot s, carried), the worse
 * one moves on. Every index into the list is then a compile-time constant (the loops are
 * unrolled), so the list can live in registers instead of local memory; at KCAP = 64 that is
 * 128 registers and the compiler may spill some to local memory, which is cached in L1. A
 * thread keeps KCAP ≥ K entries although only K are needed: harmless, and it keeps the
 * threshold slot a constant.
 *
 * Merging the lists (block_select): K rounds; in each, every thread offers the head of its
 * list, a butterfly arg-max over the warp and then over the warps' winners (in shared memory)
 * finds the best, its owner pops it (indices are unique, so "my head's index is the winner's"
 * identifies the owner), and thread 0 records it. Two shared buffers alternate between rounds,
 * so one __syncthreads per round suffices. K ≤ 64 rounds of ~8 shuffles and a barrier: small
 * beside reading a row of thousands of logits.
 *
 * Undefined rows (a NaN, a +inf, all −inf): prob NaN and index −1 in all K slots. Fused sees
 * it from the merged (m, d) exactly as softmax does; unfused from a NaN in the probabilities
 * it reads (softmax writes an undefined row as all NaN, a defined row has none).
 *
 * Leaves out: splitting a row over several blocks (N small, V huge: one block per row still
 * reads at a fraction of the GPU's bandwidth), radix-select for K > 64, a cheaper merge
 * (a bitonic sort of the lists in shared memory) for K near 64.
 */
#include <climits>
#include <cmath>
#include <cstdint>

#include <cuda_runtime.h>

#include "../../core/cuda_check.h"
#include "dlab/softmax.h"
#include "dlab/softmax_topk.h"
#include "dlab/status.h"
#include "softmax_cuda.h"
#include "softmax_cuda_device.cuh" /* reductions, the pair rule, online_step */

static constexpr int TOPK_THREADS = 256;
static constexpr int TOPK_WARPS = TOPK_THREADS / 32;
static constexpr int EMPTY_INDEX = INT_MAX; /* the sentinel's index */

/* ====================================================================== orderings */

/* Is (a, ia) ranked before (b, ib)? Strict, and total on distinct indices; false whenever
 * a is NaN, so a NaN never enters a list. */
struct by_logit {
    __host__ __device__ __forceinline__ bool better(float a, int ia, float b, int ib) const {
        return a > b || (a == b && ia < ib);
    }
};

/* Probabilities of one row, ties decided by that row's logits, then by index. */
struct by_prob_then_logit {
    const float *logits;
    __host__ __device__ __forceinline__ bool better(float a, int ia, float b, int ib) const {
        if (a != b) return a > b;
        /* Equal probabilities: both real (a sentinel's −inf equals no probability), or both
         * sentinels, which must not index the row. */
        if (ia == EMPTY_INDEX || ib == EMPTY_INDEX || ia == ib) return ia < ib;
        const float la = logits[ia], lb = logits[ib];
        if (la != lb) return la > lb;
        return ia < ib;
    }
};

/* ======================================================================= the list */

/* `#pragma unroll` in the device pass only: the host compiler (which also sees these __host__
 * functions) would warn about an unknown pragma. */
#ifdef __CUDA_ARCH__
#define TOPK_UNROLL _Pragma("unroll")
#else
#define TOPK_UNROLL
#endif

/* The orderings above and this list are __host__ too, so their logic can be exercised on a
 * machine without a GPU (a host program that includes this file and plays the block's
 * threads one after another). */
template <int KCAP> struct topk_list {
    float key[KCAP];
    int index[KCAP];

    __host__ __device__ __forceinline__ void clear() {
        TOPK_UNROLL
        for (int s = 0; s < KCAP; ++s)
            key[s] = -INFINITY, index[s] = EMPTY_INDEX;
    }

    template <typename Order>
    __host__ __device__ __forceinline__ void offer(float v, int j, const Order &order) {
        if (!order.better(v, j, key[KCAP - 1], index[KCAP - 1])) return;
        float carried = v;
        int carried_index = j;
        TOPK_UNROLL
        for (int s = 0; s < KCAP; ++s) {
            if (order.better(carried, carried_index, key[s], index[s])) {
                const float k = key[s];
                const int i = index[s];
                key[s] = carried, index[s] = carried_index;
                carried = k, carried_index = i;
            }
        }
    }

    /* Drop the head; the tail gets a sentinel. */
    __host__ __device__ __forceinline__ void pop() {
        TOPK_UNROLL
        for (int s = 0; s + 1 < KCAP; ++s)
            key[s] = key[s + 1], index[s] = index[s + 1];
        key[KCAP - 1] = -INFINITY, index[KCAP - 1] = EMPTY_INDEX;
    }
};

/* Shared memory of one block's merge. */
struct topk_shared {
    float warp_key[2][TOPK_WARPS]; /* the warps' winners, two buffers alternating by round */
    int warp_index[2][TOPK_WARPS];
    float win_key[DL_TOPK_MAX]; /* the block's K winners, best first */
    int win_index[DL_TOPK_MAX];
};

/* K rounds of block-wide arg-max over the heads of the threads' lists; the winners land in
 * sh.win_* and are visible to every thread on return. */
template <int KCAP, typename Order>
__device__ __forceinline__ void block_select(topk_list<KCAP> &list, int K, const Order &order,
                                             topk_shared &sh) {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    for (int round = 0; round < K; ++round) {
        float best = list.key[0];
        int best_index = list.index[0];
#pragma unroll
        for (int lane_mask = 16; lane_mask > 0; lane_mask /= 2) {
            const float other = __shfl_xor_sync(0xffffffffu, best, lane_mask);
            const int other_index = __shfl_xor_sync(0xffffffffu, best_index, lane_mask);
            if (order.better(other, other_index, best, best_index))
                best = other, best_index = other_index;
        }
        const int buf = round & 1;
        if (lane == 0) sh.warp_key[buf][warp] = best, sh.warp_index[buf][warp] = best_index;
        __syncthreads();
        best = sh.warp_key[buf][0], best_index = sh.warp_index[buf][0];
#pragma unroll
        for (int w = 1; w < TOPK_WARPS; ++w) {
            const float k = sh.warp_key[buf][w];
            const int i = sh.warp_index[buf][w];
            if (order.better(k, i, best, best_index)) best = k, best_index = i;
        }
        if (list.index[0] == best_index) list.pop();
        if (threadIdx.x == 0) sh.win_key[round] = best, sh.win_index[round] = best_index;
    }
    __syncthreads();
}

/* ======================================================================== kernels */

/* One block per row: online (m, d) and a top-KCAP list of logits in one read of the row. */
template <int KCAP, bool VEC4>
__global__ void __launch_bounds__(TOPK_THREADS)
    softmax_topk_fused_kernel(int V, int K, const float *inp, float *prob, int *index) {
    __shared__ topk_shared sh;
    __shared__ float scratch_m[32], scratch_d[32];
    const float *x = inp + (size_t)blockIdx.x * (size_t)V;
    const int tid = threadIdx.x;
    const by_logit order;
    topk_list<KCAP> list;
    list.clear();
    float m = -INFINITY, d = 0.0f;
    if (VEC4) {
        const float4 *x4 = reinterpret_cast<const float4 *>(x);
        for (int j = tid; j < V / 4; j += TOPK_THREADS) {
            const float4 v = x4[j];
            online_step(v.x, m, d), list.offer(v.x, 4 * j + 0, order);
            online_step(v.y, m, d), list.offer(v.y, 4 * j + 1, order);
            online_step(v.z, m, d), list.offer(v.z, 4 * j + 2, order);
            online_step(v.w, m, d), list.offer(v.w, 4 * j + 3, order);
        }
    } else {
        for (int j = tid; j < V; j += TOPK_THREADS) {
            const float v = x[j];
            online_step(v, m, d), list.offer(v, j, order);
        }
    }
    block_combine<TOPK_THREADS>(m, d, scratch_m, scratch_d);
    block_select(list, K, order, sh);
    if (tid < K) {
        const size_t out = (size_t)blockIdx.x * (size_t)K + tid;
        const bool defined = row_defined(m, d);
        prob[out] = defined ? expf(sh.win_key[tid] - m) / d : NAN;
        index[out] = defined ? sh.win_index[tid] : -1;
    }
}

/* One block per row of written probabilities: the selection half of the unfused pipeline. */
template <int KCAP, bool VEC4>
__global__ void __launch_bounds__(TOPK_THREADS)
    softmax_topk_select_kernel(int V, int K, const float *probs, const float *inp, float *prob,
                               int *index) {
    __shared__ topk_shared sh;
    const size_t row = (size_t)blockIdx.x * (size_t)V;
    const float *p = probs + row;
    const int tid = threadIdx.x;
    const by_prob_then_logit order = {inp + row};
    topk_list<KCAP> list;
    list.clear();
    bool saw_nan = false;
    /* Four inlined offers per float4, each with its logit look-up for ties, make ptxas move
     * the 64-entry list to local memory (measured: a 1.5 KB stack frame); scalar loads keep
     * it in registers and are still coalesced. */
    if (VEC4 && KCAP <= 8) {
        const float4 *p4 = reinterpret_cast<const float4 *>(p);
        for (int j = tid; j < V / 4; j += TOPK_THREADS) {
            const float4 v = p4[j];
            saw_nan |= isnan(v.x) | isnan(v.y) | isnan(v.z) | isnan(v.w);
            list.offer(v.x, 4 * j + 0, order);
            list.offer(v.y, 4 * j + 1, order);
            list.offer(v.z, 4 * j + 2, order);
            list.offer(v.w, 4 * j + 3, order);
        }
    } else {
        for (int j = tid; j < V; j += TOPK_THREADS) {
            const float v = p[j];
            saw_nan |= isnan(v);
            list.offer(v, j, order);
        }
    }
    const bool undefined = __syncthreads_or(saw_nan);
    block_select(list, K, order, sh);
    if (tid < K) {
        const size_t out = (size_t)blockIdx.x * (size_t)K + tid;
        prob[out] = undefined ? NAN : sh.win_key[tid];
        index[out] = undefined ? -1 : sh.win_index[tid];
    }
}

/* ========================================================================== host */

static bool aligned16(const void *p) { return ((uintptr_t)p % 16) == 0; }

/* Arguments, sizes, a device, device pointers. *done: nothing to launch (N or V is 0). */
static dl_status topk_prologue(const dl_softmax_topk_args *a, const char *where, bool *done) {
    *done = true;
    if (!a) return dl_fail_at(DL_ERR_ARG, where, "args is NULL");
    DL_TRY(dl_softmax_topk_check(a));
    if (a->N == 0 || a->V == 0) return DL_OK;
    /* dl_softmax_topk_check has the family's rules; these are the ones the kernels rely on. */
    if (a->K < 1 || a->K > DL_TOPK_MAX || a->K > a->V)
        return dl_fail_at(DL_ERR_ARG, where, "K=%d: needs 1 <= K <= min(V=%d, %d)", a->K, a->V,
                          DL_TOPK_MAX);
    if (a->V > SOFTMAX_CUDA_V_MAX)
        return dl_fail_at(DL_ERR_ARG, where, "V=%d: CUDA softmax variants take V <= %d", a->V,
                          SOFTMAX_CUDA_V_MAX);
    DL_TRY(dl_softmax_cuda_check_device(where));
    DL_TRY(dl_softmax_cuda_check_pointer(a->inp, "inp", where));
    DL_TRY(dl_softmax_cuda_check_pointer(a->prob, "prob", where));
    DL_TRY(dl_softmax_cuda_check_pointer(a->index, "index", where));
    *done = false;
    return DL_OK;
}

/* The smallest list size of the instantiated ones that holds K. */
static int list_capacity_for(int K) {
    if (K <= 1) return 1;
    if (K <= 4) return 4;
    if (K <= 8) return 8;
    if (K <= 16) return 16;
    if (K <= 32) return 32;
    return 64;
}

/* Instantiate LAUNCH(KCAP) for the capacity that fits K. */
#define DL_FOR_CAPACITY(K, LAUNCH)                                                                 \
    do {                                                                                           \
        switch (list_capacity_for(K)) {                                                            \
        case 1: LAUNCH(1); break;                                                                  \
        case 4: LAUNCH(4); break;                                                                  \
        case 8: LAUNCH(8); break;                                                                  \
        case 16: LAUNCH(16); break;                                                                \
        case 32: LAUNCH(32); break;                                                                \
        default: LAUNCH(64); break;                                                                \
        }                                                                                          \
    } while (0)

extern "C" dl_status dl_softmax_topk_cuda_fused_run(const dl_softmax_topk_args *a) {
    static const char *const where = "softmax_topk cuda_fused";
    bool done;
    DL_TRY(topk_prologue(a, where, &done));
    if (done) return DL_OK;
    const bool vec4 = a->V % 4 == 0 && aligned16(a->inp);
    const unsigned rows = (unsigned)a->N; /* N <= 2^31 − 1 = the largest gridDim.x */
#define DL_LAUNCH_FUSED(KCAP)                                                                      \
    do {                                                                                           \
        if (vec4)                                                                                  \
            softmax_topk_fused_kernel<KCAP, true>                                                  \
                <<<rows, TOPK_THREADS>>>(a->V, a->K, a->inp, a->prob, a->index);                   \
        else                                                                                       \
            softmax_topk_fused_kernel<KCAP, false>                                                 \
                <<<rows, TOPK_THREADS>>>(a->V, a->K, a->inp, a->prob, a->index);                   \
    } while (0)
    DL_FOR_CAPACITY(a->K, DL_LAUNCH_FUSED);
#undef DL_LAUNCH_FUSED
    return dl_cuda_check_launch(where, "softmax_topk_fused_kernel");
}

extern "C" dl_status dl_softmax_topk_cuda_unfused_run(const dl_softmax_topk_args *a) {
    static const char *const where = "softmax_topk cuda_unfused";
    bool done;
    DL_TRY(topk_prologue(a, where, &done));
    if (done) return DL_OK;
    if (!a->work)
        return dl_fail_at(DL_ERR_ARG, where,
                          "work is NULL: cuda_unfused needs N·V floats of device scratch");
    DL_TRY(dl_softmax_cuda_check_pointer(a->work, "work", where));

    /* Step 1: all N·V probabilities, by the block-per-row online kernel. */
    dl_softmax_args softmax = {}; /* by field: the struct may grow */
    softmax.N = a->N;
    softmax.V = a->V;
    softmax.inp = a->inp;
    softmax.out = a->work;
    DL_TRY(dl_softmax_cuda_block_online_impl.forward(&softmax));

    /* Step 2: read them back and select. */
    const bool vec4 = a->V % 4 == 0 && aligned16(a->work);
    const unsigned rows = (unsigned)a->N;
#define DL_LAUNCH_SELECT(KCAP)                                                                     \
    do {                                                                                           \
        if (vec4)                                                                                  \
            softmax_topk_select_kernel<KCAP, true>                                                 \
                <<<rows, TOPK_THREADS>>>(a->V, a->K, a->work, a->inp, a->prob, a->index);          \
        else                                                                                       \
            softmax_topk_select_kernel<KCAP, false>                                                \
                <<<rows, TOPK_THREADS>>>(a->V, a->K, a->work, a->inp, a->prob, a->index);          \
    } while (0)
    DL_FOR_CAPACITY(a->K, DL_LAUNCH_SELECT);
#undef DL_LAUNCH_SELECT
    return dl_cuda_check_launch(where, "softmax_topk_select_kernel");
}
