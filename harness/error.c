/* error.c — the one error path of the harness: a per-thread message for the last failure.
 * Functions that fail set it with dlbi_fail() and return -1; callers read dlb_error().
 * It keeps only the last message (no stack of causes): callers add context by failing
 * again with a longer message that quotes the first. */
#include <stdarg.h>
#include <stdio.h>

#include "dlb_internal.h"

/* Thread-local so that OpenMP workers or helper threads never overwrite each other. */
static _Thread_local char last_error[1024] = "no error";

const char *dlb_error(void) { return last_error; }

int dlbi_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return -1;
}
