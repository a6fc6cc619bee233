/* cudnn_common.cuh — private to libdlab's .cu files that call cuDNN:
 * the process's one cuDNN handle, the checked-call macro, a grow-only workspace, and a
 * tensor descriptor that destroys itself.
 *
 * Usage, inside a variant (after its argument and pointer checks):
 *
 *     dl_cudnn_session cudnn;
 *     DL_TRY(cudnn.begin(__func__));          // the handle, and the lock that guards it
 *     dl_cudnn_tensor x;
 *     DL_TRY(x.make(N, C, H, W, __func__));   // destroyed on every return path
 *     DL_CUDNN_TRY(cudnnSomething(cudnn.handle, ..., x.desc, ...));
 *
 * Design notes.
 *  1. One handle per process, created on first use and never destroyed (the driver frees it
 *     with the context; at exit the runtime may already be gone when destructors run). It is
 *     bound to the device current at creation and to the legacy default stream, like every
 *     CUDA variant in dlab; a call made while another device is current is refused.
 *  2. A cuDNN handle may be used from several host threads but not from two at once, so a
 *     session holds one mutex from begin() to its destruction. The calls only enqueue work, so
 *     the lock is held for microseconds (longer only when the workspace grows).
 *  3. The workspace is one grow-only device buffer, shared by every session and guarded by the
 *     same mutex. All work runs on the default stream, so kernels that use it run one after
 *     another and can share it. Growing it first waits for the device (cudaDeviceSynchronize),
 *     so no queued kernel still reads the old buffer when it is freed. It is never shrunk; it
 *     lives until the process ends (its size is bounded by DL_CUDNN_WORKSPACE_MAX_BYTES).
 *  4. The state lives in function-local statics of inline functions: C++ gives those one
 *     instance per program, however many .cu files include this header.
 *
 * Users: conv2d.cu, maxpool.cu and softmax.cu's cudnn variant (all share the one handle).
 * Leaves out: streams, several devices, the graph API.
 * C++ only (nvcc). Empty under DL_NO_CUDNN (a build without cuDNN): the files that include
 * it provide "unavailable" stubs there.
 */
#ifndef DLAB_OPS_CUDNN_COMMON_CUH
#define DLAB_OPS_CUDNN_COMMON_CUH

#ifndef DL_NO_CUDNN

#include <climits>
#include <cstddef>
#include <mutex>

#include <cudnn.h>

#include "cuda_common.cuh"

/* The largest workspace a cuDNN call may ask for: algorithms needing more are passed over
 * for the next one the heuristics propose (FFT-based ones can ask for gigabytes). */
static constexpr size_t DL_CUDNN_WORKSPACE_MAX_BYTES = (size_t)512 << 20;

/* A GPU is present and this build has cuDNN: the `available` of every cuDNN variant. */
inline bool dl_cudnn_available(void) { return dl_cuda_available(); }

/* What to look at first, by cuDNN 9's status classes (the thousands digit of the code). */
inline const char *dl_cudnn_hint(cudnnStatus_t st) {
    switch ((int)st / 1000) {
    case 1:
        return " (cuDNN could not start: check that libcudnn's sub-libraries match cudnn.h "
               "and that the driver is recent enough)";
    case 2: return " (cuDNN refused an argument: a shape beyond its int limits, or a bad pointer)";
    case 3: return " (this cuDNN or GPU does not support the call with these settings)";
    case 4: return " (cuDNN failed inside: out of device memory, or an earlier kernel faulted)";
    default: return "";
    }
}

/* Like DL_CUDA_TRY for cuDNN: on failure return DL_ERR_CUDA naming the file, line, call,
 * cuDNN's words and a hint. CUDA's "last error" is cleared, so that the next launch check does
 * not blame a later kernel for this. */
#define DL_CUDNN_TRY_AT(where, call)                                                               \
    do {                                                                                           \
        cudnnStatus_t dl_cudnn_st_ = (call);                                                       \
        if (dl_cudnn_st_ != CUDNN_STATUS_SUCCESS) {                                                \
            (void)cudaGetLastError();                                                              \
            return dl_fail_at(DL_ERR_CUDA, (where), "%s:%d: %s: %s%s", __FILE__, __LINE__, #call,  \
                              cudnnGetErrorString(dl_cudnn_st_), dl_cudnn_hint(dl_cudnn_st_));     \
        }                                                                                          \
    } while (0)
#define DL_CUDNN_TRY(call) DL_CUDNN_TRY_AT(__func__, call)

/* The process-wide state behind every session (notes 1, 3, 4). Allocated once and never
 * freed, so no destructor runs at exit after the CUDA runtime has gone. */
struct dl_cudnn_shared_state {
    std::mutex lock; /* guards everything below, and every use of the handle */
    cudnnHandle_t handle = nullptr;
    int device = -1;
    void *workspace = nullptr;
    size_t workspace_bytes = 0;
};
inline dl_cudnn_shared_state &dl_cudnn_shared(void) {
    static dl_cudnn_shared_state *const state = new dl_cudnn_shared_state;
    return *state;
}

/* The handle and the right to use it, for the lifetime of this object. */
class dl_cudnn_session {
  public:
    cudnnHandle_t handle = nullptr;

    dl_cudnn_session() = default;
    dl_cudnn_session(const dl_cudnn_session &) = delete;
    dl_cudnn_session &operator=(const dl_cudnn_session &) = delete;

    /* Take the lock; create the handle on first use. */
    dl_status begin(const char *where) {
        int device = 0;
        DL_CUDA_TRY_AT(where, cudaGetDevice(&device));
        dl_cudnn_shared_state &s = dl_cudnn_shared();
        std::unique_lock<std::mutex> lock(s.lock);
        if (!s.handle) {
            cudnnHandle_t created = nullptr;
            DL_CUDNN_TRY_AT(where, cudnnCreate(&created));
            const cudnnStatus_t st = cudnnSetStream(created, 0); /* the legacy default stream */
            if (st != CUDNN_STATUS_SUCCESS) {
                (void)cudnnDestroy(created);
                (void)cudaGetLastError();
                return dl_fail_at(DL_ERR_CUDA, where, "%s:%d: cudnnSetStream: %s%s", __FILE__,
                                  __LINE__, cudnnGetErrorString(st), dl_cudnn_hint(st));
            }
            s.handle = created;
            s.device = device;
        } else if (device != s.device) {
            return dl_fail_at(DL_ERR_DEVICE, where,
                              "the cuDNN handle belongs to device %d but device %d is current "
                              "(dlab uses one device per process)",
                              s.device, device);
        }
        handle = s.handle;
        in_use_ = std::move(lock);
        return DL_OK;
    }

    /* *out = a device buffer of at least `bytes` bytes (NULL when bytes is 0), valid until this
     * session ends. Only after begin() succeeded. */
    dl_status workspace(size_t bytes, void **out, const char *where) {
        *out = nullptr;
        if (!in_use_.owns_lock())
            return dl_fail_at(DL_ERR_ARG, where, "cuDNN workspace asked for outside a session");
        if (bytes == 0) return DL_OK;
        dl_cudnn_shared_state &s = dl_cudnn_shared();
        if (bytes > s.workspace_bytes) {
            if (bytes > DL_CUDNN_WORKSPACE_MAX_BYTES)
                return dl_fail_at(DL_ERR_ARG, where,
                                  "cuDNN asks for a %zu-byte workspace (at most %zu)", bytes,
                                  DL_CUDNN_WORKSPACE_MAX_BYTES);
            /* Round up to 1 MiB so that a slowly growing series of shapes does not reallocate
             * at every call. */
            const size_t rounded = (bytes + ((size_t)1 << 20) - 1) & ~(((size_t)1 << 20) - 1);
            if (s.workspace) {
                DL_CUDA_TRY_AT(where, cudaDeviceSynchronize()); /* note 3: no reader is left */
                DL_CUDA_TRY_AT(where, cudaFree(s.workspace));
                s.workspace = nullptr;
                s.workspace_bytes = 0;
            }
            DL_CUDA_TRY_AT(where, cudaMalloc(&s.workspace, rounded));
            s.workspace_bytes = rounded;
        }
        *out = s.workspace;
        return DL_OK;
    }

  private:
    std::unique_lock<std::mutex> in_use_;
};

/* An NCHW fp32 tensor descriptor, destroyed when it goes out of scope. */
struct dl_cudnn_tensor {
    cudnnTensorDescriptor_t desc = nullptr;
    dl_cudnn_tensor() = default;
    dl_cudnn_tensor(const dl_cudnn_tensor &) = delete;
    dl_cudnn_tensor &operator=(const dl_cudnn_tensor &) = delete;
    ~dl_cudnn_tensor() {
        if (desc) (void)cudnnDestroyTensorDescriptor(desc);
    }
    dl_status make(int n, int c, int h, int w, const char *where) {
        DL_CUDNN_TRY_AT(where, cudnnCreateTensorDescriptor(&desc));
        DL_CUDNN_TRY_AT(where, cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT,
                                                          n, c, h, w));
        return DL_OK;
    }
};

/* cuDNN's legacy descriptors keep strides in int: a tensor of more than INT_MAX elements
 * cannot be described. DL_ERR_ARG naming the tensor when it is too large. */
inline dl_status dl_cudnn_check_elements(int n, int c, int h, int w, const char *name,
                                         const char *where) {
    /* in double: the product of four ints can overflow any integer type, not a double, and
     * the comparison with 2^31 − 1 is exact for the integers near it */
    const double elements = (double)n * c * h * w;
    if (elements > (double)INT_MAX)
        return dl_fail_at(DL_ERR_ARG, where,
                          "%s has %d×%d×%d×%d elements; cuDNN variants take at most %d", name, n, c,
                          h, w, INT_MAX);
    return DL_OK;
}

#endif /* DL_NO_CUDNN */
#endif
