/* status.c — status names and the per-thread "last error" message (see dlab/status.h). */
#include "dlab/status.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[512] = "no error";

const char *dl_status_name(dl_status s) {
    switch (s) {
    case DL_OK: return "ok";
    case DL_ERR_ARG: return "bad argument";
    case DL_ERR_ALLOC: return "out of memory";
    case DL_ERR_IO: return "I/O error";
    case DL_ERR_FORMAT: return "bad file format";
    case DL_ERR_UNSUPPORTED: return "unsupported here";
    case DL_ERR_DEVICE: return "device error";
    case DL_ERR_CUDA: return "CUDA error";
    case DL_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

const char *dl_last_error(void) { return last_error; }

dl_status dl_fail_at(dl_status s, const char *where, const char *fmt, ...) {
    int used = snprintf(last_error, sizeof last_error, "%s: ", where ? where : "dlab");
    if (used < 0 || (size_t)used >= sizeof last_error) used = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error + used, sizeof last_error - (size_t)used, fmt, ap);
    va_end(ap);
    return s;
}

dl_status dl_exercise_todo(const char *where) {
    return dl_fail_at(DL_ERR_UNSUPPORTED, where,
                      "exercise not done yet: this handout stub stands where the solution goes "
                      "(see the lesson's README, Exercises)");
}
