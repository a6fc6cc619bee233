/* softmax.cu — the CUDA softmax variants: block-per-row and warp-per-row, each safe and
 * online, plus cuDNN's softmax as the yardstick; one backward kernel shared by the own four.
 *
 * All compute the family's function (softmax.h) on DEVICE pointers, fp32, row-major (N,V),
 * launch on the default stream and return without waiting: the caller synchronizes before it
 * reads `out`. Launch errors are reported at once; a fault inside a kernel shows up at the next
 * synchronizing call.
 *
 *   cuda_block_safe    one block per row (256/512/1024 threads by V): max pass, block
 *                      reduction; Σ e^(x − m) pass, block reduction; normalize pass.
 *                      3 reads + 1 write of the row.
 *   cuda_block_online  one block per row: one pass where each thread keeps a running
 *                      (m, d) of its elements, merged over the warp (shuffles) and the block
 *                      (shared memory) by the pair rule; then the normalize pass.
 *                      2 reads + 1 write (Milakov & Gimelshein 2018, algorithm 3).
 *   cuda_warp_safe     one warp per row, 8 rows per 256-thread block; shuffle reductions only,
 *   cuda_warp_online   no shared memory, no __syncthreads. For small V, where a whole block
 *                      per row would leave most of its threads idle.
 *   cudnn              cudnnSoftmaxForward/Backward (ACCURATE, MODE_INSTANCE) on an N×V×1×1
 *                      NCHW tensor.
 *
 * The pair rule: two partial summaries (m1, d1), (m2, d2) of disjoint parts of a row merge
 * into m = max(m1, m2), d = d1·e^(m1 − m) + d2·e^(m2 − m). An empty part is (−inf, 0) and
 * weighs 0 (we test m == −inf instead of computing e^(−inf − −inf) = NaN); a NaN in d spreads
 * (NaN·0 = NaN), which is how a NaN element reaches the row's verdict.
 *
 * Per element, online keeps one exp: of e^(m_old − m_new) and e^(x − m_new) one is e^0 = 1,
 * so e = e^(lo − hi) with lo, hi = min, max(m_old, x), and d ← d·e + 1 if x is the new
 * maximum, d ← d + e otherwise (as softmax_cpu.c does). Written with selects, not branches,
 * so a warp does not diverge on which elements raise the maximum.
 *
 * Special values (softmax.h): a row is defined when its m is finite and its d is a positive
 * number (NaN fails `d > 0`); otherwise all of its V outputs are NaN. −inf entries get
 * e^(−inf) = 0. The max never becomes NaN (fmaxf and `x > m` skip NaN), the NaN shows in d.
 *
 * Accuracy: expf (CUDA: ≤ 2 ulp everywhere), never __expf, whose error grows with |x| (2 +
 * 1.2·|x| ulp: ~80 ulp at x = −69, where a probability is 1e-30). The rounding of x − m in
 * fp32 costs up to |x − m|·2^-24 relative, ≤ 4e-6 for probabilities ≥ 1e-30; in all well
 * inside the 1e-5 the tests ask for.
 *
 * Vector loads: when V % 4 == 0 and both row pointers are 16-byte aligned (then every row
 * is), each thread reads and writes float4s; otherwise floats. Rows are addressed with
 * size_t offsets; the column loops use int, so V is limited to INT_MAX − 4096 (a row of 8 GB).
 *
 * Leaves out: splitting one long row over several blocks (a row of 10^6 gets one block —
 * good enough when N is in the thousands, not at N = 1), streams, half precision, in-kernel
 * pointer checks (the host asks the runtime instead, below).
 * In place (out == inp) works: every element is read and written by the same thread, and
 * its writes come after the block has finished reading.
 */
#include <climits>
#include <cmath>
#include <cstdint>

#include <cuda_runtime.h>

#include "../../core/cuda_check.h"
#include "../cudnn_common.cuh" /* the process's cuDNN handle, DL_CUDNN_TRY_AT */
#include "dlab/softmax.h"
#include "dlab/status.h"
#include "softmax_cuda.h"
#include "softmax_cuda_device.cuh" /* reductions, the pair rule, online_step */

static constexpr int V_MAX = SOFTMAX_CUDA_V_MAX;

/* Calls f(x[j]) for this thread's elements of a row: j = first, first + step, ... (as float4
 * groups when VEC4). */
template <bool VEC4, typename F>
__device__ __forceinline__ void for_each_element(const float *x, int V, int first, int step, F f) {
    if (VEC4) {
        const float4 *x4 = reinterpret_cast<const float4 *>(x);
        for (int j = first; j < V / 4; j += step) {
            const float4 v = x4[j];
            f(v.x), f(v.y), f(v.z), f(v.w);
        }
    } else {
        for (int j = first; j < V; j += step)
            f(x[j]);
    }
}

/* y = e^(x − m)/d, or all NaN when the row is undefined (then x is not read again). */
template <bool VEC4>
__device__ __forceinline__ void normalize_row(const float *x, float *y, int V, float m, float d,
                                              int first, int step) {
    if (!row_defined(m, d)) {
        for (int j = first; j < V; j += step)
            y[j] = NAN;
        return;
    }
    const float inv_d = 1.0f / d;
    if (VEC4) {
        const float4 *x4 = reinterpret_cast<const float4 *>(x);
        float4 *y4 = reinterpret_cast<float4 *>(y);
        for (int j = first; j < V / 4; j += step) {
            const float4 v = x4[j];
            y4[j] = make_float4(expf(v.x - m) * inv_d, expf(v.y - m) * inv_d, expf(v.z - m) * inv_d,
                                expf(v.w - m) * inv_d);
        }
    } else {
        for (int j = first; j < V; j += step)
            y[j] = expf(x[j] - m) * inv_d;
    }
}

/* ============================================================================ kernels */

/* One block of THREADS threads per row; blockIdx.x is the row (gridDim.x may be 2^31 − 1). */
template <int THREADS, bool ONLINE, bool VEC4>
__global__ void __launch_bounds__(THREADS)
    softmax_block_kernel(int V, const float *inp, float *out) {
    __shared__ float scratch_m[32], scratch_d[32];
    const float *x = inp + (size_t)blockIdx.x * (size_t)V;
    float *y = out + (size_t)blockIdx.x * (size_t)V;
    const int tid = threadIdx.x;
    float m = -INFINITY, d = 0.0f;
    if (ONLINE) {
        for_each_element<VEC4>(x, V, tid, THREADS, [&](float v) { online_step(v, m, d); });
        block_combine<THREADS>(m, d, scratch_m, scratch_d);
    } else {
        for_each_element<VEC4>(x, V, tid, THREADS, [&](float v) { m = fmaxf(m, v); });
        m = block_max<THREADS>(m, scratch_m);
        /* −inf − m = −inf → 0; a NaN gives NaN; m = ±inf gives NaN (the row is undefined). */
        for_each_element<VEC4>(x, V, tid, THREADS, [&](float v) { d += expf(v - m); });
        d = block_sum<THREADS>(d, scratch_d);
    }
    normalize_row<VEC4>(x, y, V, m, d, tid, THREADS);
}

/* One warp per row, WARP_ROWS rows per block. A warp past the last row leaves at once; the
 * others never wait for it (shuffles are within the warp, there is no __syncthreads). */
static constexpr int WARP_ROWS = 8;

template <bool ONLINE, bool VEC4>
__global__ void __launch_bounds__(32 * WARP_ROWS)
    softmax_warp_kernel(int N, int V, const float *inp, float *out) {
    const int lane = threadIdx.x % 32;
    const long long row = (long long)blockIdx.x * WARP_ROWS + threadIdx.x / 32;
    if (row >= N) return;
    const float *x = inp + (size_t)row * (size_t)V;
    float *y = out + (size_t)row * (size_t)V;
    float m = -INFINITY, d = 0.0f;
    if (ONLINE) {
        for_each_element<VEC4>(x, V, lane, 32, [&](float v) { online_step(v, m, d); });
        warp_combine(m, d);
    } else {
        for_each_element<VEC4>(x, V, lane, 32, [&](float v) { m = fmaxf(m, v); });
        m = warp_max(m);
        for_each_element<VEC4>(x, V, lane, 32, [&](float v) { d += expf(v - m); });
        d = warp_sum(d);
    }
    normalize_row<VEC4>(x, y, V, m, d, lane, 32);
}

/* dinp[i,:] += y ⊙ (dy − Σ dy·y), one block per row. */
template <int THREADS, bool VEC4>
__global__ void __launch_bounds__(THREADS)
    softmax_backward_kernel(int V, const float *out, const float *dout, float *dinp) {
    __shared__ float scratch[32];
    const size_t offset = (size_t)blockIdx.x * (size_t)V;
    const float *y = out + offset, *dy = dout + offset;
    float *dx = dinp + offset;
    const int tid = threadIdx.x;
    float dot = 0.0f;
    if (VEC4) {
        const float4 *y4 = reinterpret_cast<const float4 *>(y);
        const float4 *dy4 = reinterpret_cast<const float4 *>(dy);
        for (int j = tid; j < V / 4; j += THREADS) {
            const float4 a = y4[j], b = dy4[j];
            dot += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
        }
    } else {
        for (int j = tid; j < V; j += THREADS)
            dot += y[j] * dy[j];
    }
    dot = block_sum<THREADS>(dot, scratch);
    if (VEC4) {
        const float4 *y4 = reinterpret_cast<const float4 *>(y);
        const float4 *dy4 = reinterpret_cast<const float4 *>(dy);
        float4 *dx4 = reinterpret_cast<float4 *>(dx);
        for (int j = tid; j < V / 4; j += THREADS) {
            const float4 a = y4[j], b = dy4[j];
            float4 g = dx4[j];
            g.x += a.x * (b.x - dot), g.y += a.y * (b.y - dot);
            g.z += a.z * (b.z - dot), g.w += a.w * (b.w - dot);
            dx4[j] = g;
        }
    } else {
        for (int j = tid; j < V; j += THREADS)
            dx[j] += y[j] * (dy[j] - dot);
    }
}

/* ======================================================================= host: checks */

/* Can the GPU dereference plain malloc'd host memory? Only with HMM or ATS. */
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

extern "C" dl_status dl_softmax_cuda_check_device(const char *where) {
    const dl_cuda_devices devices = dl_cuda_query_devices();
    if (devices.err != cudaSuccess)
        return dl_fail_at(DL_ERR_DEVICE, where, "no CUDA device: cudaGetDeviceCount says %s (%s)%s",
                          cudaGetErrorString(devices.err), cudaGetErrorName(devices.err),
                          dl_cuda_no_device_hint(devices.err));
    if (devices.count == 0)
        return dl_fail_at(DL_ERR_DEVICE, where, "no CUDA device: cudaGetDeviceCount found 0");
    return DL_OK;
}

/* A host pointer handed to a kernel faults, and the fault is sticky (it breaks the context
 * for the rest of the process); asking the runtime first (~1 µs) makes it a DL_ERR_ARG. */
extern "C" dl_status dl_softmax_cuda_check_pointer(const void *p, const char *name,
                                                   const char *where) {
    cudaPointerAttributes attr;
    DL_CUDA_TRY_AT(where, cudaPointerGetAttributes(&attr, p));
    if (attr.type == cudaMemoryTypeUnregistered && !pageable_memory_is_device_accessible())
        return dl_fail_at(DL_ERR_ARG, where,
                          "%s=%p is host memory; CUDA softmax variants take device pointers "
                          "(cudaMalloc, or the \"cuda\" backend's alloc)",
                          name, p);
    return DL_OK;
}

/* Before any forward: arguments, sizes, a device, device pointers. *done: nothing to launch. */
static dl_status forward_prologue(const dl_softmax_args *a, const char *where, bool *done) {
    *done = true;
    if (!a) return dl_fail_at(DL_ERR_ARG, where, "args is NULL");
    DL_TRY(dl_softmax_check(a, false));
    if (a->N == 0 || a->V == 0) return DL_OK;
    if (a->V > V_MAX)
        return dl_fail_at(DL_ERR_ARG, where, "V=%d: CUDA softmax variants take V <= %d", a->V,
                          V_MAX);
    DL_TRY(dl_softmax_cuda_check_device(where));
    DL_TRY(dl_softmax_cuda_check_pointer(a->inp, "inp", where));
    DL_TRY(dl_softmax_cuda_check_pointer(a->out, "out", where));
    *done = false;
    return DL_OK;
}

static dl_status backward_prologue(const dl_softmax_args *a, const char *where, bool *done) {
    *done = true;
    if (!a) return dl_fail_at(DL_ERR_ARG, where, "args is NULL");
    DL_TRY(dl_softmax_check(a, true));
    if (a->N == 0 || a->V == 0 || !a->dinp) return DL_OK;
    if (a->V > V_MAX)
        return dl_fail_at(DL_ERR_ARG, where, "V=%d: CUDA softmax variants take V <= %d", a->V,
                          V_MAX);
    DL_TRY(dl_softmax_cuda_check_device(where));
    DL_TRY(dl_softmax_cuda_check_pointer(a->out, "out", where));
    DL_TRY(dl_softmax_cuda_check_pointer(a->dout, "dout", where));
    DL_TRY(dl_softmax_cuda_check_pointer(a->dinp, "dinp", where));
    *done = false;
    return DL_OK;
}

static bool aligned16(const void *p) { return ((uintptr_t)p % 16) == 0; }

/* Threads per block-per-row launch: enough that each thread has a few float4s in flight,
 * few enough that short rows do not leave most of them idle. */
static int block_threads_for(int V) {
    if (V <= 4096) return 256;
    if (V <= 16384) return 512;
    return 1024;
}

/* ======================================================================= host: launches */

template <bool ONLINE> static dl_status block_forward(const dl_softmax_args *a, const char *where) {
    bool done;
    DL_TRY(forward_prologue(a, where, &done));
    if (done) return DL_OK;
    const bool vec4 = a->V % 4 == 0 && aligned16(a->inp) && aligned16(a->out);
    const int threads = block_threads_for(a->V);
    const unsigned rows = (unsigned)a->N; /* N <= 2^31 − 1 = the largest gridDim.x */
#define DL_LAUNCH(T)                                                                               \
    do {                                                                                           \
        if (vec4)                                                                                  \
            softmax_block_kernel<T, ONLINE, true><<<rows, T>>>(a->V, a->inp, a->out);              \
        else                                                                                       \
            softmax_block_kernel<T, ONLINE, false><<<rows, T>>>(a->V, a->inp, a->out);             \
    } while (0)
    if (threads == 256)
        DL_LAUNCH(256);
    else if (threads == 512)
        DL_LAUNCH(512);
    else
        DL_LAUNCH(1024);
#undef DL_LAUNCH
    return dl_cuda_check_launch(where, ONLINE ? "softmax_block_kernel<online>"
                                              : "softmax_block_kernel<safe>");
}

template <bool ONLINE> static dl_status warp_forward(const dl_softmax_args *a, const char *where) {
    bool done;
    DL_TRY(forward_prologue(a, where, &done));
    if (done) return DL_OK;
    const bool vec4 = a->V % 4 == 0 && aligned16(a->inp) && aligned16(a->out);
    const unsigned blocks = (unsigned)((a->N + (long long)WARP_ROWS - 1) / WARP_ROWS);
    if (vec4)
        softmax_warp_kernel<ONLINE, true><<<blocks, 32 * WARP_ROWS>>>(a->N, a->V, a->inp, a->out);
    else
        softmax_warp_kernel<ONLINE, false><<<blocks, 32 * WARP_ROWS>>>(a->N, a->V, a->inp, a->out);
    return dl_cuda_check_launch(where, ONLINE ? "softmax_warp_kernel<online>"
                                              : "softmax_warp_kernel<safe>");
}

static dl_status own_backward(const dl_softmax_args *a) {
    bool done;
    DL_TRY(backward_prologue(a, __func__, &done));
    if (done) return DL_OK;
    const bool vec4 =
        a->V % 4 == 0 && aligned16(a->out) && aligned16(a->dout) && aligned16(a->dinp);
    const int threads = block_threads_for(a->V);
    const unsigned rows = (unsigned)a->N;
#define DL_LAUNCH(T)                                                                               \
    do {                                                                                           \
        if (vec4)                                                                                  \
            softmax_backward_kernel<T, true><<<rows, T>>>(a->V, a->out, a->dout, a->dinp);         \
        else                                                                                       \
            softmax_backward_kernel<T, false><<<rows, T>>>(a->V, a->out, a->dout, a->dinp);        \
    } while (0)
    if (threads == 256)
        DL_LAUNCH(256);
    else if (threads == 512)
        DL_LAUNCH(512);
    else
        DL_LAUNCH(1024);
#undef DL_LAUNCH
    return dl_cuda_check_launch(__func__, "softmax_backward_kernel");
}

static dl_status block_safe_forward(const dl_softmax_args *a) {
    return block_forward<false>(a, "softmax cuda_block_safe");
}
static dl_status block_online_forward(const dl_softmax_args *a) {
    return block_forward<true>(a, "softmax cuda_block_online");
}
static dl_status warp_safe_forward(const dl_softmax_args *a) {
    return warp_forward<false>(a, "softmax cuda_warp_safe");
}
static dl_status warp_online_forward(const dl_softmax_args *a) {
    return warp_forward<true>(a, "softmax cuda_warp_online");
}

extern "C" const dl_softmax_impl dl_softmax_cuda_block_safe_impl = {block_safe_forward,
                                                                    own_backward};
extern "C" const dl_softmax_impl dl_softmax_cuda_block_online_impl = {block_online_forward,
                                                                      own_backward};
extern "C" const dl_softmax_impl dl_softmax_cuda_warp_safe_impl = {warp_safe_forward, own_backward};
extern "C" const dl_softmax_impl dl_softmax_cuda_warp_online_impl = {warp_online_forward,
                                                                     own_backward};

/* ============================================================================= cuDNN */
/* cuDNN's special values are its own: softmax.h's rules are not part of its contract, and
 * the CUDNN_SOFTMAX_ACCURATE path (subtract the row max, exp, divide) is only documented for
 * finite inputs. Expect NaN rows where the max is ±inf or NaN, but do not rely on it: the
 * test compares cudnn with ref on finite rows only. It is here as the speed yardstick. */

#ifdef DL_NO_CUDNN
extern "C" bool dl_softmax_cudnn_available(void) { return false; }

static dl_status cudnn_forward(const dl_softmax_args *a) {
    (void)a;
    return DL_FAIL(DL_ERR_UNSUPPORTED, "libdlab was built without cuDNN");
}
static dl_status cudnn_backward(const dl_softmax_args *a) {
    (void)a;
    return DL_FAIL(DL_ERR_UNSUPPORTED, "libdlab was built without cuDNN");
}
#else
extern "C" bool dl_softmax_cudnn_available(void) { return dl_cudnn_available(); }

static dl_status cudnn_forward(const dl_softmax_args *a) {
    bool done;
    DL_TRY(forward_prologue(a, __func__, &done));
    if (done) return DL_OK;
    dl_cudnn_session cudnn; /* the shared handle, held until we return */
    DL_TRY(cudnn.begin(__func__));
    const cudnnHandle_t handle = cudnn.handle;
    dl_cudnn_tensor rows; /* N×V×1×1 NCHW fp32 */
    DL_TRY(rows.make(a->N, a->V, 1, 1, __func__));
    const float alpha = 1.0f, beta = 0.0f; /* beta = 0: out is only written */
    DL_CUDNN_TRY_AT(__func__,
                    cudnnSoftmaxForward(handle, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_INSTANCE,
                                        &alpha, rows.desc, a->inp, &beta, rows.desc, a->out));
    return DL_OK;
}

/* beta = 1: cuDNN adds into dinp, which is the family's accumulate contract. */
static dl_status cudnn_backward(const dl_softmax_args *a) {
    bool done;
    DL_TRY(backward_prologue(a, __func__, &done));
    if (done) return DL_OK;
    dl_cudnn_session cudnn; /* the shared handle, held until we return */
    DL_TRY(cudnn.begin(__func__));
    const cudnnHandle_t handle = cudnn.handle;
    dl_cudnn_tensor rows; /* N×V×1×1 NCHW fp32 */
    DL_TRY(rows.make(a->N, a->V, 1, 1, __func__));
    const float alpha = 1.0f, beta = 1.0f;
    DL_CUDNN_TRY_AT(__func__,
                    cudnnSoftmaxBackward(handle, CUDNN_SOFTMAX_ACCURATE,
                                         CUDNN_SOFTMAX_MODE_INSTANCE, &alpha, rows.desc, a->out,
                                         rows.desc, a->dout, &beta, rows.desc, a->dinp));
    return DL_OK;
}
#endif

extern "C" const dl_softmax_impl dl_softmax_cudnn_impl = {cudnn_forward, cudnn_backward};
