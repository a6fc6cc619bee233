/* int8_gemm_cuda.cu — the CUDA int8_gemm variant `cuda_dp4a`: shared-memory tiles and __dp4a.
 *
 * It computes the family's function (int8_gemm.h) on DEVICE pointers: C (M,N) int32 = A (M,K)
 * int8 · Bᵀ with B stored (N,K), and/or the dequantizing epilogue into out. Like the matmul
 * CUDA variants it launches on the default stream and returns without waiting.
 *
 * __dp4a(a, b, c) adds to the int32 c the four products of the signed bytes packed in the
 * int32s a and b: four multiply-adds per instruction. Both operands run along K in memory, so
 * a packed int of A (4 consecutive k of one row) meets a packed int of B (the same 4 k of one
 * column of the product) without any reshuffling.
 *
 * Tiling. A block of 256 threads owns a 64×64 tile of C and walks K in steps of 32 bytes:
 *   As[8][64] and Bs[8][64] hold 8 packed ints (32 k) for each of the tile's 64 rows / columns,
 *   k-major, so a thread reading row m's int kk and its neighbours reading columns n, n+1, ...
 *   hit consecutive words (no bank conflicts); each thread computes 4×4 outputs at rows
 *   ty + 16i and columns tx + 16j (i, j < 4), so a warp's stores to C are 16 consecutive
 *   int32s twice. Out-of-range bytes (M, N, K edges) are loaded as 0 and add nothing.
 *
 * Exactness. Sums are int32 and exact under the header's bound (|C| <= 128·128·K < 2^31).
 * The epilogue uses __frcp_rn (IEEE 1/s), __fmul_rn and __fadd_rn, which nvcc never fuses into
 * an FMA, so out equals the CPU ref bit for bit.
 *
 * Left out (next steps): 16-byte vectorized global loads (they need lda, ldb multiples of 16
 * and aligned pointers; the byte loads here accept any stride), double buffering, register
 * blocking beyond 4×4, and the tensor-core path (that is cuBLASLt's, see the report).
 */
#include <algorithm>
#include <climits>

#include <cuda_runtime.h>

#include "../../core/cuda_check.h"
#include "dlab/int8_gemm.h"
#include "dlab/status.h"
#include "int8_gemm_internal.h"

extern "C" bool dl_int8_gemm_cuda_available(void) { return dl_cuda_query_devices().count > 0; }

namespace {

constexpr int TILE = 64;    /* rows and columns of C per block */
constexpr int K_BYTES = 32; /* bytes of K per shared-memory step */
constexpr int K_INTS = K_BYTES / 4;
constexpr int THREADS = 256; /* 16 × 16, each 4 × 4 outputs */
constexpr int GRID_Y_MAX = 65535;

__host__ __device__ inline int ceil_div(int n, int d) { return n / d + (n % d != 0); }

/* Four bytes of row `row` starting at column k (k a multiple of 4), packed little-endian as
 * __dp4a expects; bytes past `rows` or `K` are 0. Byte loads, so any stride and alignment. */
__device__ inline int load_packed(const int8_t *__restrict__ X, int ld, int rows, int K, int row,
                                  int k) {
    if (row >= rows) return 0;
    const int8_t *p = X + (long long)row * ld + k;
    unsigned v = 0;
#pragma unroll
    for (int t = 0; t < 4; t++)
        if (k + t < K) v |= (unsigned)(uint8_t)p[t] << (8 * t);
    return (int)v;
}

__device__ inline float inverse_scale(float s) { return s == 0.0f ? 0.0f : __frcp_rn(s); }

/* The header's epilogue for one element, in its order: y = (float)c · (inv(r)·inv(c)),
 * + bias, + old out. */
__device__ inline void dequantize_into(float *o, int c, float row_inv, float col_scale,
                                       const float *__restrict__ bias, int n, bool accumulate) {
    const float scale = __fmul_rn(row_inv, inverse_scale(col_scale));
    float y = __fmul_rn(__int2float_rn(c), scale);
    if (bias) y = __fadd_rn(y, bias[n]);
    *o = accumulate ? __fadd_rn(*o, y) : y;
}

__global__ void __launch_bounds__(THREADS)
    int8_gemm_dp4a_kernel(int M, int N, int K, const int8_t *__restrict__ A, int lda,
                          const int8_t *__restrict__ B, int ldb, int32_t *__restrict__ C, int ldc,
                          float *__restrict__ out, int ldo, const float *__restrict__ row_scale,
                          const float *__restrict__ col_scale, const float *__restrict__ bias,
                          bool accumulate) {
    /* Rows padded by 4 ints: a warp's 32 stores (4 tile rows × 8 ints) then fall in 32
     * different banks, (kk·68 + r) mod 32 = 4·kk + r mod 32; unpadded they would be 8-way
     * conflicts. Reads are unaffected (a broadcast for A, 16 consecutive words for B). */
    __shared__ int As[K_INTS][TILE + 4];
    __shared__ int Bs[K_INTS][TILE + 4];
    const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    const int n0 = blockIdx.x * TILE;
    const int m_tiles = ceil_div(M, TILE);

    /* Rows of tiles beyond gridDim.y (at most 65535) are walked by the same blocks. */
    for (int tile_m = blockIdx.y; tile_m < m_tiles; tile_m += gridDim.y) {
        const int m0 = tile_m * TILE;
        int acc[4][4] = {};
        for (int k0 = 0; k0 < K; k0 += K_BYTES) {
            /* 64 rows × 8 ints per operand = 512 ints: two per thread, consecutive threads
             * taking consecutive ints of one row (neighbouring addresses in global memory). */
#pragma unroll
            for (int i = 0; i < 2; i++) {
                const int idx = threadIdx.x + i * THREADS, r = idx / K_INTS, kk = idx % K_INTS;
                As[kk][r] = load_packed(A, lda, M, K, m0 + r, k0 + kk * 4);
                Bs[kk][r] = load_packed(B, ldb, N, K, n0 + r, k0 + kk * 4);
            }
            __syncthreads();
#pragma unroll
            for (int kk = 0; kk < K_INTS; kk++) {
                int a[4], b[4];
#pragma unroll
                for (int i = 0; i < 4; i++)
                    a[i] = As[kk][ty + 16 * i];
#pragma unroll
                for (int j = 0; j < 4; j++)
                    b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
                for (int i = 0; i < 4; i++)
#pragma unroll
                    for (int j = 0; j < 4; j++)
                        acc[i][j] = __dp4a(a[i], b[j], acc[i][j]);
            }
            __syncthreads(); /* nobody overwrites the tiles while another thread reads them */
        }

#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int m = m0 + ty + 16 * i;
            if (m >= M) continue;
            const float row_inv = out ? inverse_scale(row_scale[m]) : 0.0f;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int n = n0 + tx + 16 * j;
                if (n >= N) continue;
                if (C) C[(long long)m * ldc + n] = acc[i][j];
                if (out)
                    dequantize_into(out + (long long)m * ldo + n, acc[i][j], row_inv, col_scale[n],
                                    bias, n, accumulate);
            }
        }
    }
}

/* A host pointer passed to a kernel breaks the CUDA context; refuse it with a message. */
dl_status check_device_pointer(const void *p, const char *name, const char *where) {
    if (!p) return DL_OK;
    cudaPointerAttributes attr;
    DL_CUDA_TRY_AT(where, cudaPointerGetAttributes(&attr, p));
    if (attr.type == cudaMemoryTypeUnregistered)
        return dl_fail_at(DL_ERR_ARG, where,
                          "%s=%p is host memory; CUDA int8_gemm variants take device pointers",
                          name, p);
    return DL_OK;
}

/* What both variants check before launching: arguments, a device, device pointers. Sets
 * *done when there is nothing to compute (M or N is 0). */
dl_status cuda_prologue(const dl_int8_gemm_args *a, const char *where, bool *done) {
    *done = true;
    if (!a) return dl_fail_at(DL_ERR_ARG, where, "args is NULL");
    DL_TRY(dl_int8_gemm_check(a));
    if (a->M == 0 || a->N == 0) return DL_OK;
    if (a->N > INT_MAX - TILE)
        return dl_fail_at(DL_ERR_ARG, where, "N=%d: CUDA variants take N <= %d", a->N,
                          INT_MAX - TILE);
    if (dl_cuda_query_devices().count <= 0)
        return dl_fail_at(DL_ERR_DEVICE, where, "no CUDA device");
    if (a->K > 0) {
        DL_TRY(check_device_pointer(a->A, "A", where));
        DL_TRY(check_device_pointer(a->B, "B", where));
    }
    DL_TRY(check_device_pointer(a->C, "C", where));
    DL_TRY(check_device_pointer(a->out, "out", where));
    if (a->out) {
        DL_TRY(check_device_pointer(a->row_scale, "row_scale", where));
        DL_TRY(check_device_pointer(a->col_scale, "col_scale", where));
        DL_TRY(check_device_pointer(a->bias, "bias", where));
    }
    *done = false;
    return DL_OK;
}

} // namespace

extern "C" dl_status dl_int8_gemm_cuda_dp4a(const dl_int8_gemm_args *a) {
    const char *where = "cuda_dp4a";
    bool done = false;
    DL_TRY(cuda_prologue(a, where, &done));
    if (done) return DL_OK;
    /* M < 2^31 gives at most 2^25 row tiles; more than 65535 are looped over (see kernel). */
    const dim3 grid(ceil_div(a->N, TILE), std::min(ceil_div(a->M, TILE), GRID_Y_MAX));
    int8_gemm_dp4a_kernel<<<grid, THREADS>>>(a->M, a->N, a->K, a->A, a->lda, a->B, a->ldb, a->C,
                                             a->ldc, a->out, a->ldo, a->row_scale, a->col_scale,
                                             a->out ? a->bias : nullptr, a->accumulate);
    DL_CUDA_TRY_AT(where, cudaGetLastError());
    return DL_OK;
}

/* ======================================================================== cublaslt */

#ifdef DL_HAVE_CUBLASLT
/* cuBLASLt's int8 path: A·Bᵀ on the tensor cores (IMMA), int32 out, then our epilogue kernel.
 *
 * cuBLASLt is column-major. Our row-major C (M×N) is, read column-major, Cᵀ (N×M) with leading
 * dimension ldc, and Cᵀ = B·Aᵀ, where our B (N×K row-major) read column-major is K×N (ld ldb)
 * and must be transposed, and our A (M×K row-major) read column-major is K×M (ld lda), used
 * as it is. That is cuBLASLt's "TN" problem with m = N, n = M, k = K, the only layout its
 * IMMA kernels take with the regular (non-COL32) data order. The cuBLAS documentation
 * (cublasLtMatmul, requirements for IMMA kernels with regular data ordering) also asks for
 * m and k multiples of 4, leading dimensions multiples of 4, and 4-byte aligned pointers
 * (16 for the best kernels): so N, K, lda, ldb, ldc multiples of 4, refused otherwise.
 *
 * With only `out` requested, the int32 product goes to a scratch buffer that the process
 * keeps and grows (a cudaMalloc and cudaFree per call cost more than the GEMM at n = 1024 and
 * made the timing jump by a quarter on the H100). Every launch is on the default stream, so a
 * later call's GEMM writes the scratch only after this call's epilogue has read it; a mutex
 * keeps two host threads from enqueueing into it at once. */
#include <cublasLt.h>
#include <mutex>

namespace {

#define DL_CUBLASLT_TRY_AT(where, call)                                                            \
    do {                                                                                           \
        cublasStatus_t dl_lt_st_ = (call);                                                         \
        if (dl_lt_st_ != CUBLAS_STATUS_SUCCESS) {                                                  \
            (void)cudaGetLastError();                                                              \
            return dl_fail_at(DL_ERR_CUDA, (where), "%s: %s", #call,                               \
                              cublasLtGetStatusString(dl_lt_st_));                                 \
        }                                                                                          \
    } while (0)

/* One handle for the process, made on first use and never destroyed (see matmul_cuda.cu). */
cublasStatus_t lt_handle(cublasLtHandle_t *out) {
    static std::once_flag once;
    static cublasLtHandle_t handle = nullptr;
    static cublasStatus_t status = CUBLAS_STATUS_NOT_INITIALIZED;
    std::call_once(once, [] { status = cublasLtCreate(&handle); });
    *out = handle;
    return status;
}

/* The descriptors of one call, destroyed on every path out. */
struct lt_descriptors {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulPreference_t pref = nullptr;
    ~lt_descriptors() {
        if (pref) cublasLtMatmulPreferenceDestroy(pref);
        if (c) cublasLtMatrixLayoutDestroy(c);
        if (b) cublasLtMatrixLayoutDestroy(b);
        if (a) cublasLtMatrixLayoutDestroy(a);
        if (op) cublasLtMatmulDescDestroy(op);
    }
};

/* One thread per element of out: the epilogue applied to an int32 C already computed. */
__global__ void dequantize_kernel(int M, int N, const int32_t *__restrict__ C, int ldc,
                                  float *__restrict__ out, int ldo,
                                  const float *__restrict__ row_scale,
                                  const float *__restrict__ col_scale,
                                  const float *__restrict__ bias, bool accumulate) {
    const int n = blockIdx.x * blockDim.x + threadIdx.x;
    if (n >= N) return;
    for (int m = blockIdx.y; m < M; m += gridDim.y)
        dequantize_into(out + (long long)m * ldo + n, C[(long long)m * ldc + n],
                        inverse_scale(row_scale[m]), col_scale[n], bias, n, accumulate);
}

dl_status lt_matmul(const dl_int8_gemm_args *a, int32_t *C, int ldc, const char *where) {
    cublasLtHandle_t handle;
    DL_CUBLASLT_TRY_AT(where, lt_handle(&handle));
    lt_descriptors d;
    DL_CUBLASLT_TRY_AT(where, cublasLtMatmulDescCreate(&d.op, CUBLAS_COMPUTE_32I, CUDA_R_32I));
    const cublasOperation_t trans = CUBLAS_OP_T, no_trans = CUBLAS_OP_N;
    DL_CUBLASLT_TRY_AT(where, cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA,
                                                             &trans, sizeof trans));
    DL_CUBLASLT_TRY_AT(where, cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB,
                                                             &no_trans, sizeof no_trans));
    /* Column-major shapes as stored: our B is K×N (ld ldb), our A is K×M (ld lda), C is N×M. */
    DL_CUBLASLT_TRY_AT(where, cublasLtMatrixLayoutCreate(&d.a, CUDA_R_8I, a->K, a->N, a->ldb));
    DL_CUBLASLT_TRY_AT(where, cublasLtMatrixLayoutCreate(&d.b, CUDA_R_8I, a->K, a->M, a->lda));
    DL_CUBLASLT_TRY_AT(where, cublasLtMatrixLayoutCreate(&d.c, CUDA_R_32I, a->N, a->M, ldc));
    DL_CUBLASLT_TRY_AT(where, cublasLtMatmulPreferenceCreate(&d.pref));
    const size_t no_workspace = 0;
    DL_CUBLASLT_TRY_AT(where, cublasLtMatmulPreferenceSetAttribute(
                                  d.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &no_workspace,
                                  sizeof no_workspace));
    cublasLtMatmulHeuristicResult_t heuristic = {};
    int found = 0;
    DL_CUBLASLT_TRY_AT(where, cublasLtMatmulAlgoGetHeuristic(handle, d.op, d.a, d.b, d.c, d.c,
                                                             d.pref, 1, &heuristic, &found));
    if (found == 0)
        return dl_fail_at(DL_ERR_UNSUPPORTED, where,
                          "cuBLASLt has no int8 algorithm for M=%d N=%d K=%d here", a->M, a->N,
                          a->K);
    const int32_t alpha = 1, beta = 0;
    DL_CUBLASLT_TRY_AT(where, cublasLtMatmul(handle, d.op, &alpha, a->B, d.a, a->A, d.b, &beta, C,
                                             d.c, C, d.c, &heuristic.algo, nullptr, 0, 0));
    return DL_OK;
}

} // namespace

extern "C" dl_status dl_int8_gemm_cublaslt(const dl_int8_gemm_args *a) {
    const char *where = "cublaslt";
    bool done = false;
    DL_TRY(cuda_prologue(a, where, &done));
    if (done) return DL_OK;
    if (a->N % 4 || a->K % 4 || a->lda % 4 || a->ldb % 4 || (a->C && a->ldc % 4))
        return dl_fail_at(DL_ERR_UNSUPPORTED, where,
                          "cuBLASLt's int8 kernels need N, K, lda, ldb and ldc multiples of 4 "
                          "(N=%d K=%d lda=%d ldb=%d ldc=%d)",
                          a->N, a->K, a->lda, a->ldb, a->ldc);
    if (((uintptr_t)a->A | (uintptr_t)a->B | (uintptr_t)a->C) % 4)
        return dl_fail_at(DL_ERR_UNSUPPORTED, where, "cuBLASLt needs 4-byte aligned A, B and C");
    if (a->K == 0) { /* an empty sum; cuBLASLt is not asked about k = 0 */
        if (a->C)
            DL_CUDA_TRY_AT(
                where, cudaMemset2D(a->C, (size_t)a->ldc * 4, 0, (size_t)a->N * 4, (size_t)a->M));
    }

    int32_t *C = a->C;
    int ldc = a->ldc;
    static std::mutex scratch_lock;
    static int32_t *scratch = nullptr;
    static size_t scratch_bytes = 0;
    std::unique_lock<std::mutex> hold(scratch_lock, std::defer_lock);
    if (!C) {
        const size_t need = (size_t)a->M * a->N * 4;
        hold.lock();
        if (need > scratch_bytes) {
            if (scratch) DL_CUDA_TRY_AT(where, cudaFree(scratch)); /* waits for its readers */
            scratch = nullptr, scratch_bytes = 0;
            DL_CUDA_TRY_AT(where, cudaMalloc((void **)&scratch, need));
            scratch_bytes = need;
        }
        C = scratch, ldc = a->N;
        if (a->K == 0) DL_CUDA_TRY_AT(where, cudaMemsetAsync(C, 0, need));
    }
    dl_status st = a->K > 0 ? lt_matmul(a, C, ldc, where) : DL_OK;
    if (st == DL_OK && a->out) {
        const dim3 grid(ceil_div(a->N, 256), std::min(a->M, GRID_Y_MAX));
        dequantize_kernel<<<grid, 256>>>(a->M, a->N, C, ldc, a->out, a->ldo, a->row_scale,
                                         a->col_scale, a->bias, a->accumulate);
        cudaError_t err = cudaGetLastError();
        if (err != cudaSuccess)
            st = dl_fail_at(DL_ERR_CUDA, where, "dequantize_kernel launch: %s",
                            cudaGetErrorString(err));
    }
    return st;
}
#endif /* DL_HAVE_CUBLASLT */
