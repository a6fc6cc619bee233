/* matmul_cuda.cu — the CUDA matmul variants: naive, shared-memory tiled, cuBLAS.
 *
 * All three compute the family's function (matmul.h): C = op(A)·op(B), or C += op(A)·op(B),
 * row-major, with strides lda/ldb/ldc, on DEVICE pointers. Each one launches on the default
 * stream and returns without waiting: the caller synchronizes (cudaDeviceSynchronize, or a
 * cudaMemcpy back to the host) before reading C. Launch errors are reported at once; a fault
 * inside a kernel shows up at that later synchronizing call.
 *
 *   cuda_naive  one thread per element of C, reading its row of A and column of B straight
 *               from global memory. Short and obviously right; limited by memory traffic.
 *   cuda_tiled  block tiling in shared memory plus register tiling per thread (below).
 *   cublas      cublasSgemm, the yardstick, in true FP32 (no TF32; see cublas section).
 *
 * ---------------------------------------------------------------------------------------
 * How the tiled kernel works (read this before the code)
 *
 * Why tile at all. The naive kernel does 2 flops per 8 bytes it loads (one float of A, one of
 * B, one FMA). An H100 does ~60 TFLOP/s of FP32 FMA but moves ~3 TB/s from HBM, so it needs
 * ~20 flops per byte to keep its FMA units busy. The caches help the naive kernel a little;
 * tiling makes the reuse explicit, in two levels:
 *
 * 1. Block tile in shared memory. A thread block owns a BM×BN tile of C. It walks along K in
 *    steps of BK: all its threads copy a BM×BK slice of op(A) and a BK×BN slice of op(B) into
 *    shared memory (one cooperative, coalesced load), __syncthreads(), and then every thread
 *    reads those slices from shared memory, which is ~30× faster than global memory. Each
 *    element loaded from global memory is now used BN (for A) or BM (for B) times.
 *
 *        global → shared per K step: (BM + BN)·BK floats     FMAs per K step: BM·BN·BK
 *
 * 2. Thread tile in registers. Each thread computes a TM×TN patch of the block tile, so for
 *    every k it reads TM values of A and TN values of B from shared memory and does TM·TN FMAs
 *    on them from registers (an outer product). Shared memory has limited bandwidth too; a
 *    4×4 patch does 16 FMAs per 8 loads, an 8×8 patch 64 FMAs per 16 loads.
 *
 *        block tile BM×BN = (BM/TM)×(BN/TN) threads, each with a TM×TN accumulator
 *
 * Two configurations, chosen per call:
 *      64×64, BK 8, 4×4 per thread, 256 threads — for small and medium C: more blocks,
 *                                                  so all 132 SMs get work;
 *    128×128, BK 8, 8×8 per thread, 256 threads — when C has at least one 128×128 tile per
 *                                                  SM: twice the reuse per load.
 *
 * Details that matter for speed (each one is a comment in the code):
 *  - Shared tiles are stored k-major (As[k][m], Bs[k][n]) so a thread reads its TM (TN)
 *    values for one k as float4s — 16-byte shared loads.
 *  - A thread's 8 columns are two groups of 4 that lie half a tile apart (tx*4 and BN/2+tx*4),
 *    not 8 in a row: neighbouring threads then read neighbouring float4s (no bank conflicts)
 *    and write neighbouring addresses of C (coalesced stores).
 *  - Global loads are coalesced whatever the transposes: for each of the four layouts
 *    (template parameters TRANS_A, TRANS_B) consecutive threads read consecutive addresses of
 *    the matrix as it is stored, and the transpose happens on the way into shared memory.
 *    Where that store is strided, the row is padded by 4 floats so the 32 threads of a warp
 *    hit 32 different banks (and float4 reads stay 16-byte aligned).
 *  - Out-of-range elements (M, N, K not multiples of the tile) are loaded as 0, so the inner
 *    loop has no bounds checks; only the final store to C checks them.
 *
 * What it leaves out (the next steps, each worth 10–30%): double buffering (load the next K
 * slice while computing this one, with cp.async or registers), vectorized float4 global loads
 * (needs aligned, padded strides), warp tiling, split-K for small M·N with large K, and tensor
 * cores (TF32/BF16 — a different precision, hence a different variant).
 *
 * Also leaves out: streams (everything is on the default stream), more than one device (the
 * cuBLAS handle is bound to the device current at first use), and C overlapping A or B.
 */
#include <algorithm>
#include <climits>
#include <mutex>

#include <cuda_runtime.h>
#ifndef DL_NO_CUBLAS
#include <cublas_v2.h>
#endif

#include "../../core/cuda_check.h"
#include "dlab/matmul.h"
#include "dlab/status.h"
#include "matmul_internal.h" /* declares the four entry points below, extern "C" */

/* A GPU is present and the driver works: the CUDA variants' `available` in the registry. */
extern "C" bool dl_cuda_available(void) { return dl_cuda_query_devices().count > 0; }

/* n/d rounded up, for counting tiles; on host and device. n >= 0, d > 0; no overflow. */
__host__ __device__ static inline int ceil_div(int n, int d) { return n / d + (n % d != 0); }

/* Row and column indices are ints in the kernels; a tile or a grid stride past the last row
 * must not overflow one, so M and N stay this far below INT_MAX (an M×1 C of that height
 * is already 8 GB). */
static constexpr int DIM_MAX = INT_MAX - (1 << 21);

/* gridDim.y (and .z) is limited to 65535 blocks; gridDim.x to 2^31-1. Kernels put columns of C
 * on x and loop over rows of blocks, so any M works with at most this many blocks along y. */
static constexpr int GRID_Y_MAX = 65535;

/* =========================================================================== checks */

/* Can the GPU dereference plain malloc'd host memory? Only with HMM or ATS (Grace Hopper,
 * recent open kernel modules); then a host pointer is slow but not wrong. */
static bool pageable_memory_is_device_accessible(void) {
    int device = 0, accessible = 0;
    if (cudaGetDevice(&device) != cudaSuccess ||
        cudaDeviceGetAttribute(&accessible, cudaDevAttrPageableMemoryAccess, device) !=
            cudaSuccess) {
        (void)cudaGetLastError();
        return false;
    }
    return accessible != 0;
}

/* A host pointer passed to a kernel is the most common mistake with these variants, and the
 * fault it causes is sticky: it breaks the CUDA context for the rest of the process. Asking
 * the runtime first (about a microsecond) turns it into a clear DL_ERR_ARG instead. */
static dl_status check_device_pointer(const void *p, const char *name, const char *where) {
    cudaPointerAttributes attr;
    DL_CUDA_TRY_AT(where, cudaPointerGetAttributes(&attr, p));
    if (attr.type == cudaMemoryTypeUnregistered && !pageable_memory_is_device_accessible())
        return dl_fail_at(DL_ERR_ARG, where,
                          "%s=%p is host memory; CUDA matmul variants take device pointers "
                          "(cudaMalloc, or the \"cuda\" backend's alloc)",
                          name, p);
    return DL_OK;
}

/* What every variant does before launching anything. Sets *done when nothing is left to do:
 * an empty C (M or N is 0), or K == 0, where C = 0 (or, accumulating, stays as it is).
 * `where` is the public variant's name, for messages. */
static dl_status matmul_cuda_prologue(const dl_matmul_args *a, const char *where, bool *done) {
    *done = true;
    if (!a) return dl_fail_at(DL_ERR_ARG, where, "args is NULL");
    DL_TRY(dl_matmul_check(a));
    if (a->M == 0 || a->N == 0) return DL_OK;
    if (a->M > DIM_MAX || a->N > DIM_MAX)
        return dl_fail_at(DL_ERR_ARG, where, "M=%d, N=%d: CUDA variants take M, N <= %d", a->M,
                          a->N, DIM_MAX);

    dl_cuda_devices devices = dl_cuda_query_devices();
    if (devices.err != cudaSuccess)
        return dl_fail_at(DL_ERR_DEVICE, where, "no CUDA device: cudaGetDeviceCount says %s (%s)%s",
                          cudaGetErrorString(devices.err), cudaGetErrorName(devices.err),
                          dl_cuda_no_device_hint(devices.err));
    if (devices.count == 0)
        return dl_fail_at(DL_ERR_DEVICE, where, "no CUDA device: cudaGetDeviceCount found 0");

    DL_TRY(check_device_pointer(a->C, "C", where));
    if (a->K == 0) {
        if (!a->accumulate) {
            /* M rows of N floats, ldc floats apart: exactly what cudaMemset2D clears. */
            DL_CUDA_TRY_AT(where, cudaMemset2D(a->C, (size_t)a->ldc * sizeof(float), 0,
                                               (size_t)a->N * sizeof(float), (size_t)a->M));
        }
        return DL_OK;
    }
    DL_TRY(check_device_pointer(a->A, "A", where));
    DL_TRY(check_device_pointer(a->B, "B", where));
    *done = false;
    return DL_OK;
}

/* ====================================================================== cuda_naive */

/* One thread per C[row][col]; threadIdx.x runs along a row of C, so a warp reads a row of B
 * (when B is not transposed) and writes a row of C contiguously, and shares one A value. */
__global__ void matmul_naive_kernel(int M, int N, int K, const float *__restrict__ A, int lda,
                                    bool trans_a, const float *__restrict__ B, int ldb,
                                    bool trans_b, float *__restrict__ C, int ldc, bool accumulate) {
    const int col = blockIdx.x * blockDim.x + threadIdx.x;
    if (col >= N) return;
    for (int row = blockIdx.y * blockDim.y + threadIdx.y; row < M; row += gridDim.y * blockDim.y) {
        float sum = 0.0f;
        for (int k = 0; k < K; ++k) {
            const float a = trans_a ? A[(size_t)k * lda + row] : A[(size_t)row * lda + k];
            const float b = trans_b ? B[(size_t)col * ldb + k] : B[(size_t)k * ldb + col];
            sum = fmaf(a, b, sum);
        }
        float *c = &C[(size_t)row * ldc + col];
        /* Not accumulating, C is only written: whatever it held (even NaN) does not leak in. */
        *c = accumulate ? *c + sum : sum;
    }
}

extern "C" dl_status dl_matmul_cuda_naive(const dl_matmul_args *a) {
    bool done;
    DL_TRY(matmul_cuda_prologue(a, __func__, &done));
    if (done) return DL_OK;

    const dim3 block(16, 16);
    const dim3 grid(ceil_div(a->N, 16), std::min(ceil_div(a->M, 16), GRID_Y_MAX));
    matmul_naive_kernel<<<grid, block>>>(a->M, a->N, a->K, a->A, a->lda, a->trans_a, a->B, a->ldb,
                                         a->trans_b, a->C, a->ldc, a->accumulate);
    return dl_cuda_check_launch(__func__, "matmul_naive_kernel");
}

/* ====================================================================== cuda_tiled */

/* BM×BN block tile of C, BK-deep slices of op(A) and op(B) in shared memory, TM×TN
 * accumulators per thread. TRANS_A/TRANS_B are template parameters so that each of the four
 * layouts gets its own loads with the branch resolved at compile time.
 *
 * Indexing: thread (ty, tx) of the (BM/TM)×(BN/TN) grid of threads owns rows
 *   g·(BM/TM)·4 + ty·4 + {0,1,2,3}  for g in 0..TM/4-1
 * of the block tile, and the columns likewise with tx. With TM = 4 that is rows ty·4..ty·4+3;
 * with TM = 8 it is two groups of 4 rows half a tile apart (see the header: bank conflicts
 * and coalesced stores). */
template <int BM, int BN, int BK, int TM, int TN, bool TRANS_A, bool TRANS_B>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), 2)
    matmul_tiled_kernel(int M, int N, int K, const float *__restrict__ A, int lda,
                        const float *__restrict__ B, int ldb, float *__restrict__ C, int ldc,
                        bool accumulate) {
    constexpr int THREADS_M = BM / TM; /* threads down a column of the tile */
    constexpr int THREADS_N = BN / TN; /* threads along a row of the tile */
    constexpr int THREADS = THREADS_M * THREADS_N;
    constexpr int A_LOADS = BM * BK / THREADS; /* floats each thread copies per K step */
    constexpr int B_LOADS = BK * BN / THREADS;
    /* Padding where the copy into shared memory is a transpose (see the load loops). A
     * multiple of 4 keeps every row of the tile 16-byte aligned for the float4 reads. */
    constexpr int PAD_A = TRANS_A ? 0 : 4;
    constexpr int PAD_B = TRANS_B ? 4 : 0;
    static_assert(BM % TM == 0 && BN % TN == 0, "thread tile must divide block tile");
    static_assert(TM % 4 == 0 && TN % 4 == 0, "thread tile is read in float4 groups");
    static_assert(THREADS % 32 == 0, "whole warps");
    static_assert((BM * BK) % THREADS == 0 && (BK * BN) % THREADS == 0,
                  "every thread copies the same number of floats");

    __shared__ __align__(16) float As[BK][BM + PAD_A]; /* op(A) slice, k-major */
    __shared__ __align__(16) float Bs[BK][BN + PAD_B]; /* op(B) slice, k-major */

    const int tid = threadIdx.x;
    const int tx = tid % THREADS_N;
    const int ty = tid / THREADS_N;
    const int n0 = blockIdx.x * BN;
    const int tiles_m = ceil_div(M, BM);

    /* gridDim.y is capped at 65535, so a block may own several rows of tiles. */
    for (int tile_m = blockIdx.y; tile_m < tiles_m; tile_m += gridDim.y) {
        const int m0 = tile_m * BM;
        float acc[TM][TN] = {};

        for (int k0 = 0; k0 < K; k0 += BK) {
            /* ---- copy op(A)[m0 : m0+BM, k0 : k0+BK] into As[k][m] ---- */
#pragma unroll
            for (int i = 0; i < A_LOADS; ++i) {
                const int idx = tid + i * THREADS;
                int m, k;
                if constexpr (TRANS_A) {
                    /* A is stored K×M: consecutive threads take consecutive m, i.e.
                     * consecutive addresses; the store As[k][m] is consecutive too. */
                    k = idx / BM;
                    m = idx % BM;
                } else {
                    /* A is stored M×K: consecutive threads take consecutive k (8 floats =
                     * one 32-byte sector per row). The store As[k][m] is strided by a row of
                     * As; padding that row to BM+4 spreads a warp over all 32 banks. */
                    m = idx / BK;
                    k = idx % BK;
                }
                const int gm = m0 + m, gk = k0 + k;
                float v = 0.0f;
                if (gm < M && gk < K)
                    v = TRANS_A ? A[(size_t)gk * lda + gm] : A[(size_t)gm * lda + gk];
                As[k][m] = v;
            }
            /* ---- copy op(B)[k0 : k0+BK, n0 : n0+BN] into Bs[k][n] ---- */
#pragma unroll
            for (int i = 0; i < B_LOADS; ++i) {
                const int idx = tid + i * THREADS;
                int k, n;
                if constexpr (TRANS_B) {
                    /* B is stored N×K: consecutive threads take consecutive k; the store
                     * is strided, hence PAD_B. */
                    n = idx / BK;
                    k = idx % BK;
                } else {
                    /* B is stored K×N: consecutive n, consecutive addresses both ways. */
                    k = idx / BN;
                    n = idx % BN;
                }
                const int gk = k0 + k, gn = n0 + n;
                float v = 0.0f;
                if (gk < K && gn < N)
                    v = TRANS_B ? B[(size_t)gn * ldb + gk] : B[(size_t)gk * ldb + gn];
                Bs[k][n] = v;
            }
            __syncthreads(); /* the slices are complete before anyone reads them */

            /* ---- TM×TN outer products, one per k, from shared memory into registers ---- */
#pragma unroll
            for (int kk = 0; kk < BK; ++kk) {
                float a_frag[TM], b_frag[TN];
#pragma unroll
                for (int g = 0; g < TM / 4; ++g) {
                    const float4 v =
                        *reinterpret_cast<const float4 *>(&As[kk][g * THREADS_M * 4 + ty * 4]);
                    a_frag[g * 4 + 0] = v.x;
                    a_frag[g * 4 + 1] = v.y;
                    a_frag[g * 4 + 2] = v.z;
                    a_frag[g * 4 + 3] = v.w;
                }
#pragma unroll
                for (int g = 0; g < TN / 4; ++g) {
                    const float4 v =
                        *reinterpret_cast<const float4 *>(&Bs[kk][g * THREADS_N * 4 + tx * 4]);
                    b_frag[g * 4 + 0] = v.x;
                    b_frag[g * 4 + 1] = v.y;
                    b_frag[g * 4 + 2] = v.z;
                    b_frag[g * 4 + 3] = v.w;
                }
#pragma unroll
                for (int i = 0; i < TM; ++i)
#pragma unroll
                    for (int j = 0; j < TN; ++j)
                        acc[i][j] = fmaf(a_frag[i], b_frag[j], acc[i][j]);
            }
            __syncthreads(); /* everyone is done reading before the next copy overwrites */
        }

        /* ---- write the TM×TN patch; only here do M and N bound anything ---- */
#pragma unroll
        for (int i = 0; i < TM; ++i) {
            const int row = m0 + (i / 4) * THREADS_M * 4 + ty * 4 + (i % 4);
            if (row >= M) continue;
            float *c_row = &C[(size_t)row * ldc];
#pragma unroll
            for (int j = 0; j < TN; ++j) {
                const int col = n0 + (j / 4) * THREADS_N * 4 + tx * 4 + (j % 4);
                if (col < N) c_row[col] = accumulate ? c_row[col] + acc[i][j] : acc[i][j];
            }
        }
    }
}

template <int BM, int BN, int BK, int TM, int TN>
static dl_status launch_tiled(const dl_matmul_args *a, const char *where) {
    constexpr int threads = (BM / TM) * (BN / TN);
    const dim3 grid(ceil_div(a->N, BN), std::min(ceil_div(a->M, BM), GRID_Y_MAX));
    /* One instantiation per layout; the branch is on the host, once per call. */
#define DL_LAUNCH_TILED(TA, TB)                                                                    \
    matmul_tiled_kernel<BM, BN, BK, TM, TN, TA, TB><<<grid, threads>>>(                            \
        a->M, a->N, a->K, a->A, a->lda, a->B, a->ldb, a->C, a->ldc, a->accumulate)
    if (a->trans_a) {
        if (a->trans_b)
            DL_LAUNCH_TILED(true, true);
        else
            DL_LAUNCH_TILED(true, false);
    } else {
        if (a->trans_b)
            DL_LAUNCH_TILED(false, true);
        else
            DL_LAUNCH_TILED(false, false);
    }
#undef DL_LAUNCH_TILED
    return dl_cuda_check_launch(where, BM == 128 ? "matmul_tiled_kernel<128x128, 8x8 per thread>"
                                                 : "matmul_tiled_kernel<64x64, 4x4 per thread>");
}

/* Streaming multiprocessors of the current device, asked once (the heuristic below assumes
 * every device of the process is alike, which is true of the machines dlab targets). */
static dl_status sm_count(int *out, const char *where) {
    static int cached = 0; /* written once with the same value by whoever gets here first */
    static std::mutex lock;
    std::lock_guard<std::mutex> guard(lock);
    if (cached == 0) {
        int device = 0, sms = 0;
        DL_CUDA_TRY_AT(where, cudaGetDevice(&device));
        DL_CUDA_TRY_AT(where, cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
        cached = sms > 0 ? sms : 1;
    }
    *out = cached;
    return DL_OK;
}

extern "C" dl_status dl_matmul_cuda_tiled(const dl_matmul_args *a) {
    bool done;
    DL_TRY(matmul_cuda_prologue(a, __func__, &done));
    if (done) return DL_OK;

    /* Big tiles reuse each load twice as often, but a 1024×1024 C has only 64 of them: half
     * of an H100's 132 SMs would idle. Use them once there is at least one per SM. */
    int sms = 1;
    DL_TRY(sm_count(&sms, __func__));
    const long long big_tiles = (long long)ceil_div(a->M, 128) * ceil_div(a->N, 128);
    if (big_tiles >= sms) return launch_tiled<128, 128, 8, 8, 8>(a, __func__);
    return launch_tiled<64, 64, 8, 4, 4>(a, __func__);
}

/* ========================================================================== cublas */

#ifndef DL_NO_CUBLAS
/* Like DL_CUDA_TRY for cuBLAS calls: DL_ERR_CUDA naming the call and cuBLAS's status. */
#define DL_CUBLAS_TRY_AT(where, call)                                                              \
    do {                                                                                           \
        cublasStatus_t dl_cublas_st_ = (call);                                                     \
        if (dl_cublas_st_ != CUBLAS_STATUS_SUCCESS) {                                              \
            (void)cudaGetLastError();                                                              \
            return dl_fail_at(DL_ERR_CUDA, (where), "%s: %s (%s)", #call,                          \
                              cublasGetStatusString(dl_cublas_st_),                                \
                              cublasGetStatusName(dl_cublas_st_));                                 \
        }                                                                                          \
    } while (0)

/* One handle for the process, made on first use. Creating one costs milliseconds and some
 * device memory, so it is cached; it is never destroyed, because at exit the CUDA runtime may
 * already be torn down when static destructors run, and the driver frees it with the context.
 * cuBLAS allows one handle to be used from several host threads as long as its settings do not
 * change, and ours are set once, here, under the lock. */
static std::mutex cublas_lock;
static cublasHandle_t cublas_handle = nullptr;
static int cublas_device = -1;

static dl_status cublas_get_handle(cublasHandle_t *out, const char *where) {
    int device = 0;
    DL_CUDA_TRY_AT(where, cudaGetDevice(&device));
    std::lock_guard<std::mutex> guard(cublas_lock);
    if (!cublas_handle) {
        cublasHandle_t handle = nullptr;
        DL_CUBLAS_TRY_AT(where, cublasCreate(&handle));
        /* True FP32. CUBLAS_DEFAULT_MATH computes with at least the requested precision, so
         * sgemm runs on the FP32 SIMT units: no TF32 tensor cores (10-bit mantissa; that is
         * CUBLAS_TF32_TENSOR_OP_MATH, ~7× faster on H100 and a different answer), and no
         * BF16x9 emulation. We set it explicitly rather than trust the default, so the
         * yardstick the tiled kernel is compared with does the same arithmetic it does.
         * (CUBLAS_PEDANTIC_MATH would also rule out any reduced-precision reduction, at some
         * speed; sgemm has none to rule out.) */
        cublasStatus_t st = cublasSetMathMode(handle, CUBLAS_DEFAULT_MATH);
        if (st == CUBLAS_STATUS_SUCCESS) st = cublasSetStream(handle, 0); /* legacy stream */
        if (st != CUBLAS_STATUS_SUCCESS) {
            (void)cublasDestroy(handle);
            (void)cudaGetLastError();
            return dl_fail_at(DL_ERR_CUDA, where, "configuring the cuBLAS handle: %s (%s)",
                              cublasGetStatusString(st), cublasGetStatusName(st));
        }
        cublas_handle = handle;
        cublas_device = device;
    } else if (device != cublas_device) {
        return dl_fail_at(DL_ERR_DEVICE, where,
                          "the cuBLAS handle belongs to device %d but device %d is current "
                          "(dlab uses one device per process)",
                          cublas_device, device);
    }
    *out = cublas_handle;
    return DL_OK;
}
#endif

/* cuBLAS is column-major; our matrices are row-major. A row-major R×C matrix with stride ld
 * is, byte for byte, the column-major C×R matrix that is its transpose, with the same ld. So
 * the row-major C (M×N) we want is the column-major Cᵀ (N×M), and
 *
 *     Cᵀ = (op(A)·op(B))ᵀ = op(B)ᵀ · op(A)ᵀ
 *
 * is one column-major sgemm with the operands swapped and the dimensions N, M, K:
 *   - B stored K×N (no trans_b) reads as the N×K column-major op(B)ᵀ: CUBLAS_OP_N, ld ldb >= N;
 *     B stored N×K (trans_b) reads as the K×N op(B): CUBLAS_OP_T gives op(B)ᵀ, ld ldb >= K;
 *   - A likewise with M and lda; C as the N×M column-major matrix with ld ldc >= N.
 * These are exactly matmul.h's stride rules, so no copy and no transpose kernel is needed. */
extern "C" dl_status dl_matmul_cublas(const dl_matmul_args *a) {
#ifdef DL_NO_CUBLAS
    (void)a;
    return DL_FAIL(DL_ERR_UNSUPPORTED, "libdlab was built without cuBLAS");
#else
    bool done;
    /* The prologue also handles K == 0 itself: cuBLAS would reject an lda of 0 there. */
    DL_TRY(matmul_cuda_prologue(a, __func__, &done));
    if (done) return DL_OK;

    cublasHandle_t handle = nullptr;
    DL_TRY(cublas_get_handle(&handle, __func__));
    const float alpha = 1.0f;
    /* beta = 0: cuBLAS does not read C, so garbage (even NaN) in C does not leak in. */
    const float beta = a->accumulate ? 1.0f : 0.0f;
    const cublasOperation_t op_b = a->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t op_a = a->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    DL_CUBLAS_TRY_AT(__func__, cublasSgemm(handle, op_b, op_a, a->N, a->M, a->K, &alpha, a->B,
                                           a->ldb, a->A, a->lda, &beta, a->C, a->ldc));
    return DL_OK;
#endif
}
