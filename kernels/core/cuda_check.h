/* cuda_check.h — private to libdlab's .cu files: CUDA runtime errors become dl_status.
 *
 * Every CUDA runtime call in libdlab goes through DL_CUDA_TRY, so a failure comes back as
 * DL_ERR_CUDA with a message that names the call and gives CUDA's own words for the error:
 *
 *     dl_backend_cuda_sync: cudaDeviceSynchronize(): an illegal memory access was
 *     encountered (cudaErrorIllegalAddress)
 *
 * It also answers, once per process, how many devices there are (dl_cuda_query_devices),
 * which dl_cuda_available (ops) and dl_cuda_device_count (nn) both report.
 *
 * Leaves out: cuBLAS, cuDNN and NCCL statuses (the file that calls them wraps its own status
 * type the same way), multi-device bookkeeping (libdlab uses the current device).
 * C++ only (nvcc); not part of the public headers.
 */
#ifndef DLAB_CORE_CUDA_CHECK_H
#define DLAB_CORE_CUDA_CHECK_H

#include <cuda_runtime_api.h>

#include "dlab/status.h"

/* Record a failed CUDA call as DL_ERR_CUDA. It also clears CUDA's per-thread "last error",
 * so that the cudaGetLastError() we make after a kernel launch does not blame that launch for
 * this older failure. A sticky error (a kernel that faulted and broke the context) cannot be
 * cleared: every later call reports it again, which is what we want. */
inline dl_status dl_cuda_fail(cudaError_t err, const char *where, const char *call) {
    (void)cudaGetLastError();
    return dl_fail_at(DL_ERR_CUDA, where, "%s: %s (%s)", call, cudaGetErrorString(err),
                      cudaGetErrorName(err));
}

/* Run a CUDA runtime call; on failure return DL_ERR_CUDA from the enclosing function, with a
 * message prefixed by `where` (DL_CUDA_TRY uses the enclosing function's name). */
#define DL_CUDA_TRY_AT(where, call)                                                                \
    do {                                                                                           \
        cudaError_t dl_cuda_err_ = (call);                                                         \
        if (dl_cuda_err_ != cudaSuccess) return dl_cuda_fail(dl_cuda_err_, (where), #call);        \
    } while (0)
#define DL_CUDA_TRY(call) DL_CUDA_TRY_AT(__func__, call)

/* After a <<<...>>> launch: a bad configuration (too many threads, too much shared memory, no
 * kernel image for this GPU) is reported here, at once. Faults inside the kernel appear
 * later, at the next synchronizing call (cudaDeviceSynchronize, cudaMemcpy). */
inline dl_status dl_cuda_check_launch(const char *where, const char *kernel) {
    cudaError_t err = cudaGetLastError();
    if (err == cudaSuccess) return DL_OK;
    return dl_fail_at(DL_ERR_CUDA, where, "launching %s: %s (%s)", kernel, cudaGetErrorString(err),
                      cudaGetErrorName(err));
}

/* How many CUDA devices this process sees, and why none if none. */
struct dl_cuda_devices {
    int count;       /* 0 without a driver or without a GPU */
    cudaError_t err; /* cudaSuccess, or why cudaGetDeviceCount failed */
};

inline dl_cuda_devices dl_cuda_ask_device_count(void) {
    dl_cuda_devices d = {0, cudaSuccess};
    d.err = cudaGetDeviceCount(&d.count);
    if (d.err != cudaSuccess) {
        d.count = 0;
        (void)cudaGetLastError(); /* reported through d.err, not through the next launch */
    }
    return d;
}

/* Asked once per process: the answer cannot change while it runs (the runtime reads
 * CUDA_VISIBLE_DEVICES at start-up). Safe without a driver: cudart loads libcuda itself and
 * reports its absence as cudaErrorInsufficientDriver / cudaErrorNoDevice instead of crashing.
 * The function-local static is initialised once even if threads race to it (C++11). */
inline dl_cuda_devices dl_cuda_query_devices(void) {
    static const dl_cuda_devices cached = dl_cuda_ask_device_count();
    return cached;
}

/* Appended to a "no CUDA device: cudaGetDeviceCount says ..." message: CUDA's words for a
 * machine with no driver at all ("driver version is insufficient") mislead newcomers. */
inline const char *dl_cuda_no_device_hint(cudaError_t err) {
    return err == cudaErrorInsufficientDriver
               ? " (no NVIDIA driver here, or one older than this CUDA runtime)"
               : "";
}

#endif
