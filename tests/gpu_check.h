/* gpu_check.h — what every GPU test (tests/gpu_*.c) checks its calls with: a CUDA runtime
 * call or a dlab call that fails ends the test with the call's text and the error's own words.
 * Include after <cmocka.h> and <cuda_runtime_api.h>. */
#ifndef DLAB_TESTS_GPU_CHECK_H
#define DLAB_TESTS_GPU_CHECK_H

#define CUDA_OK(call)                                                                              \
    do {                                                                                           \
        cudaError_t err_ = (call);                                                                 \
        if (err_ != cudaSuccess)                                                                   \
            fail_msg("%s: %s (%s)", #call, cudaGetErrorString(err_), cudaGetErrorName(err_));      \
    } while (0)

#define DL_OK_OR_FAIL(expr)                                                                        \
    do {                                                                                           \
        dl_status st_ = (expr);                                                                    \
        if (st_ != DL_OK) fail_msg("%s: %s: %s", #expr, dl_status_name(st_), dl_last_error());     \
    } while (0)

#endif
