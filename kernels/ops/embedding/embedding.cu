/* embedding.cu — the CUDA variant "cuda" of the "embedding" family (dlab/embedding.h):
 * out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:] and its scatter-add backward, on device pointers.
 *
 *   forward      one thread per output element (grid-stride): a gather and an add.
 *   dwpe         one thread per (t, c): dwpe[t,c] += dout[0,t,c] + dout[1,t,c] + ... in b order.
 *   dwte         one block per position p = b·T + t that holds the FIRST occurrence of its
 *                token; that block sums, for each column, dout of every position q ≥ p with the
 *                same token, in ascending q. Blocks whose token occurred earlier do nothing.
 *
 * Why not atomicAdd for dwte: embedding.h promises that every variant adds the contributions
 * to one gradient element in the same order ((b, t) ascending) with no atomics, so all variants
 * give the same bits; atomics would add them in whatever order the blocks run. The scheme above
 * keeps the order and the bits: each element of dwte is owned by exactly one thread, which
 * starts from its old value and adds in ascending position, exactly ref's sequence of fp32
 * additions. The forward and dwpe are also ref's operations, so the whole variant matches ref
 * bit for bit.
 *
 * Cost of dwte. Finding whether a position is a first occurrence scans backward to the nearest
 * earlier occurrence (a tile of 128 positions per step); a first occurrence's block then reads
 * all later tokens (from shared memory, in tiles) and the matching dout rows. With P = B·T
 * positions and D distinct tokens that is about D·P token comparisons plus P·C gradient reads:
 * for the char GPT (V = 65, P = 4096) nothing; for GPT-2 sizes (D ≈ P = 8192) ~7e7 comparisons,
 * well under a millisecond on an H100. A sort by token (CUB radix sort, stable) would scale
 * better and is the next step if it shows in a profile.
 *
 * What differs from the CPU variants, because the tokens live on the device and reading them
 * back would synchronize: a token outside [0,V) is not reported as DL_ERR_ARG. Forward writes
 * NaN in that position's output row (loud, never an out-of-bounds read); backward gives it no
 * gradient. A caller that wants the error runs dl_embedding_check on its host copy of the
 * tokens before copying them over.
 *
 * Leaves out: float4 loads in forward, and the sort-based dwte above.
 */
#include <limits.h>
#include <math.h>

#include "../cuda_common.cuh"
#include "embedding_impl.h"

static constexpr int DWTE_THREADS = 128; /* threads per dwte block: columns c, c + 128, ... */
static constexpr int TOKEN_TILE = 1024;  /* tokens per shared-memory tile in the dwte walk */

__global__ void embedding_forward_kernel(int T, int C, int V, size_t total,
                                         const int *__restrict__ tokens,
                                         const float *__restrict__ wte,
                                         const float *__restrict__ wpe, float *__restrict__ out) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        const size_t position = i / (size_t)C; /* b·T + t */
        const int c = (int)(i - position * (size_t)C);
        const int t = (int)(position % (size_t)T);
        const int token = tokens[position];
        out[i] =
            (token < 0 || token >= V) ? NAN : wte[(size_t)token * C + c] + wpe[(size_t)t * C + c];
    }
}

/* dwpe[t,c] += Σ_b dout[b,t,c], b ascending. One thread per (t, c): grid-stride over T·C. */
__global__ void embedding_dwpe_kernel(int B, int T, int C, const float *__restrict__ dout,
                                      float *__restrict__ dwpe) {
    const size_t TC = (size_t)T * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < TC;
         i += (size_t)gridDim.x * blockDim.x) {
        float acc = dwpe[i];
        for (int b = 0; b < B; b++)
            acc += dout[(size_t)b * TC + i]; /* element (b, t, c) is b·T·C + t·C + c */
        dwpe[i] = acc;
    }
}

/* One block per position p (gridDim.x = P = B·T). See the header comment. */
__global__ void embedding_dwte_kernel(int P, int C, int V, const int *__restrict__ tokens,
                                      const float *__restrict__ dout, float *__restrict__ dwte) {
    __shared__ int tile[TOKEN_TILE];
    const int p = blockIdx.x;
    const int token = tokens[p];
    if (token < 0 || token >= V) return; /* no gradient; uniform across the block */

    /* Is there an earlier occurrence? Scan [0, p) backward, blockDim positions per step, and
     * stop at the first step that finds one (usually the nearest few hundred positions).
     * __syncthreads_or gives every thread the same answer, so the break is uniform. */
    for (int hi = p; hi > 0; hi -= (int)blockDim.x) {
        const int q = hi - 1 - (int)threadIdx.x;
        const int hit = q >= 0 && tokens[q] == token;
        if (__syncthreads_or(hit)) return; /* not the first: the owner block adds this one */
    }

    /* This block owns row `token` of dwte. For each column, add dout[q, c] for every q ≥ p
     * with tokens[q] == token, in ascending q. The loops' bounds are the same for every
     * thread, so every thread reaches every __syncthreads. */
    float *row = dwte + (size_t)token * C;
    for (int c0 = 0; c0 < C; c0 += (int)blockDim.x) {
        const int c = c0 + (int)threadIdx.x;
        float acc = c < C ? row[c] : 0.0f;
        for (int q0 = p; q0 < P; q0 += TOKEN_TILE) {
            const int len = min(TOKEN_TILE, P - q0);
            __syncthreads(); /* everyone is done with the previous tile */
            for (int k = (int)threadIdx.x; k < len; k += (int)blockDim.x)
                tile[k] = tokens[q0 + k];
            __syncthreads();
            if (c < C)
                for (int k = 0; k < len; k++)
                    if (tile[k] == token) acc += dout[(size_t)(q0 + k) * C + c];
        }
        if (c < C) row[c] = acc;
    }
}

/* The host-side checks of dl_embedding_check, less the token range (tokens are on the
 * device), plus the limit of this file's int position indices. */
static dl_status check_shapes(const dl_embedding_args *a, bool backward, const char *where) {
    if (!a) return dl_fail_at(DL_ERR_ARG, where, "args is NULL");
    if (a->B < 0 || a->T < 0 || a->C < 0 || a->V < 0 || a->maxT < 0)
        return dl_fail_at(DL_ERR_ARG, where, "negative size B=%d T=%d C=%d V=%d maxT=%d", a->B,
                          a->T, a->C, a->V, a->maxT);
    if (a->T > a->maxT)
        return dl_fail_at(DL_ERR_ARG, where, "T=%d > maxT=%d, the rows of wpe", a->T, a->maxT);
    const long positions = (long)a->B * a->T;
    if (positions > INT_MAX - TOKEN_TILE)
        return dl_fail_at(DL_ERR_ARG, where, "B·T=%ld positions: the CUDA variant takes < 2^31",
                          positions);
    if (positions == 0 || a->C == 0) return DL_OK;
    if (!a->tokens) return dl_fail_at(DL_ERR_ARG, where, "tokens is NULL");
    if (!backward) {
        if (!a->wte) return dl_fail_at(DL_ERR_ARG, where, "wte is NULL");
        if (!a->wpe) return dl_fail_at(DL_ERR_ARG, where, "wpe is NULL");
        if (!a->out) return dl_fail_at(DL_ERR_ARG, where, "out is NULL");
    } else if (!a->dout && (a->dwte || a->dwpe)) {
        return dl_fail_at(DL_ERR_ARG, where, "dout is NULL");
    }
    return DL_OK;
}

static dl_status embedding_cuda_forward(const dl_embedding_args *a) {
    DL_TRY(check_shapes(a, false, __func__));
    const size_t total = (size_t)a->B * (size_t)a->T * (size_t)a->C;
    if (total == 0) return DL_OK;
    DL_TRY(dl_cuda_require_device(__func__));
    const dl_named_pointer pointers[] = {
        {a->tokens, "tokens"}, {a->wte, "wte"}, {a->wpe, "wpe"}, {a->out, "out"}};
    DL_TRY(dl_cuda_check_pointers(pointers, __func__));
    const int threads = DL_CUDA_ELEMENTWISE_THREADS;
    embedding_forward_kernel<<<dl_cuda_grid_for(total, threads), threads>>>(
        a->T, a->C, a->V, total, a->tokens, a->wte, a->wpe, a->out);
    return dl_cuda_check_launch(__func__, "embedding_forward_kernel");
}

static dl_status embedding_cuda_backward(const dl_embedding_args *a) {
    DL_TRY(check_shapes(a, true, __func__));
    const int P = a->B * a->T; /* < 2^31: check_shapes */
    if (P == 0 || a->C == 0 || (!a->dwte && !a->dwpe)) return DL_OK;
    DL_TRY(dl_cuda_require_device(__func__));
    const dl_named_pointer pointers[] = {
        {a->tokens, "tokens"}, {a->dout, "dout"}, {a->dwte, "dwte"}, {a->dwpe, "dwpe"}};
    DL_TRY(dl_cuda_check_pointers(pointers, __func__));
    if (a->dwpe) {
        const size_t TC = (size_t)a->T * (size_t)a->C;
        const int threads = DL_CUDA_ELEMENTWISE_THREADS;
        embedding_dwpe_kernel<<<dl_cuda_grid_for(TC, threads), threads>>>(a->B, a->T, a->C, a->dout,
                                                                          a->dwpe);
        DL_TRY(dl_cuda_check_launch(__func__, "embedding_dwpe_kernel"));
    }
    if (a->dwte) {
        embedding_dwte_kernel<<<P, DWTE_THREADS>>>(P, a->C, a->V, a->tokens, a->dout, a->dwte);
        DL_TRY(dl_cuda_check_launch(__func__, "embedding_dwte_kernel"));
    }
    return DL_OK;
}

extern "C" const dl_embedding_impl dl_embedding_cuda_impl = {embedding_cuda_forward,
                                                             embedding_cuda_backward};
