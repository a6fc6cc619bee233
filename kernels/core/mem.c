/* mem.c — aligned host allocation with a status on failure (see dlab/core.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/core.h"

/* Refuse requests no machine can satisfy before asking malloc: an absurd size from an
 * overflowed shape product should be a clear error, not a crash in a later memset. */
#define DL_ALLOC_MAX ((size_t)1 << 46) /* 64 TiB */

dl_status dl_alloc(void **out, size_t bytes) {
    if (!out) return DL_FAIL(DL_ERR_ARG, "out is NULL");
    *out = NULL;
    if (bytes > DL_ALLOC_MAX)
        return DL_FAIL(DL_ERR_ALLOC, "refusing to allocate %zu bytes (over the %zu-byte limit)",
                       bytes, DL_ALLOC_MAX);
    /* aligned_alloc wants a multiple of the alignment; round up (never 0). */
    size_t rounded = (bytes + DL_ALIGN - 1) / DL_ALIGN * DL_ALIGN;
    if (rounded == 0) rounded = DL_ALIGN;
    void *p = aligned_alloc(DL_ALIGN, rounded);
    if (!p) return DL_FAIL(DL_ERR_ALLOC, "could not allocate %zu bytes", bytes);
    *out = p;
    return DL_OK;
}

dl_status dl_calloc(void **out, size_t bytes) {
    DL_TRY(dl_alloc(out, bytes));
    memset(*out, 0, bytes);
    return DL_OK;
}

void dl_free(void *p) { free(p); }
