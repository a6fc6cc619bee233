/* status.h — status codes and the one error path of libdlab.
 *
 * Every function that can fail (allocation, I/O, bad arguments, devices) returns a
 * dl_status. On failure it also leaves a message saying what went wrong and where,
 * readable with dl_last_error() on the same thread. Kernels never print.
 *
 *     dl_status s = dl_matmul_run(v, &args);
 *     if (s != DL_OK) { fprintf(stderr, "error: %s\n", dl_last_error()); return 1; }
 */
#ifndef DLAB_STATUS_H
#define DLAB_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dl_status {
    DL_OK = 0,
    DL_ERR_ARG,         /* an argument is out of range or inconsistent */
    DL_ERR_ALLOC,       /* an allocation failed */
    DL_ERR_IO,          /* a file could not be opened, read or written */
    DL_ERR_FORMAT,      /* a file's contents are corrupt or of another kind */
    DL_ERR_UNSUPPORTED, /* this build or this CPU cannot do it (e.g. no AVX-512) */
    DL_ERR_DEVICE,      /* no such device, or the device failed */
    DL_ERR_CUDA,        /* a CUDA, cuBLAS, cuDNN or NCCL call failed */
    DL_ERR_INTERNAL     /* a bug in dlab */
} dl_status;

/* "ok", "bad argument", ... : a short name for a status. */
const char *dl_status_name(dl_status s);

/* The message of the last failure on this thread: "matmul_check: lda=3 < K=4". Never NULL. */
const char *dl_last_error(void);

/* Record a failure and return its status, so callers write `return DL_FAIL(DL_ERR_ARG, ...)`.
 * The message is prefixed with the calling function's name. */
dl_status dl_fail_at(dl_status s, const char *where, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
#define DL_FAIL(status, ...) dl_fail_at((status), __func__, __VA_ARGS__)

/* What a course handout's stub returns where a BEGIN/END SOLUTION block was taken out
 * (scripts/handout): DL_ERR_UNSUPPORTED with "<where>: exercise not done yet ...", so the
 * tests that call it fail with a message that names the function to write. */
dl_status dl_exercise_todo(const char *where);

/* Evaluate a dl_status expression; return it from the enclosing function if it failed. */
#define DL_TRY(expr)                                                                        \
    do {                                                                                    \
        dl_status dl_try_status_ = (expr);                                                  \
        if (dl_try_status_ != DL_OK) return dl_try_status_;                                 \
    } while (0)

#ifdef __cplusplus
}
#endif
#endif
