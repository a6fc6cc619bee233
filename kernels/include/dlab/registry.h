/* registry.h — the variant registry.
 *
 * Every op family has one C signature and several named variants that compute the same
 * function (ref, blocked, omp_avx512, cublas, ...). Each family keeps a plain static table
 * of its variants (kernels/ops/<family>/<family>_variants.c); kernels/ops/ops.c collects the
 * tables. Tests run every variant against `ref`, benchmarks time them side by side, and a
 * student's implementation is one more line in its family's table.
 *
 *     const dl_variant *v = dl_variant_find("matmul", "omp_avx512");
 *     if (v && dl_variant_available(v)) ((dl_matmul_fn)v->impl)(&args);
 */
#ifndef DLAB_REGISTRY_H
#define DLAB_REGISTRY_H

#include <stdbool.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum dl_device { DL_DEVICE_CPU = 0, DL_DEVICE_CUDA = 1 } dl_device;

/* "cpu" / "cuda" */
const char *dl_device_name(dl_device d);

/* Work that one call does, for rates and fraction of peak. */
typedef struct dl_cost {
    double flops; /* floating-point operations (an FMA counts 2) */
    double bytes; /* bytes that must cross memory at least once */
} dl_cost;

typedef struct dl_variant {
    const char *family;  /* "matmul" */
    const char *name;    /* "omp_avx512": unique within the family */
    const char *summary; /* one line for tables and --help */
    dl_device device;    /* where its pointers live */
    /* Can it run here (CPU features, a GPU present)? NULL means always. */
    bool (*available)(void);
    /* The family's function type, e.g. dl_matmul_fn; cast by the family's header. */
    const void *impl;
    /* Cost of one call with the family's argument struct; NULL if unknown. */
    dl_cost (*cost)(const void *args);
} dl_variant;

/* Families in registry order, NULL-terminated: {"matmul", ..., NULL}. */
const char *const *dl_families(void);
/* The variants of a family; *count receives their number (0 for an unknown family). */
const dl_variant *const *dl_variants(const char *family, int *count);
/* A variant by family and name, or NULL. */
const dl_variant *dl_variant_find(const char *family, const char *name);
bool dl_variant_available(const dl_variant *v);
/* The fastest CPU variant of a family that can run here, by the naming convention of the
 * tables: omp_avx512, omp_avx2, omp, im2col, blocked, then ref. NULL for an unknown family. */
const dl_variant *dl_variant_best_cpu(const char *family);

#ifdef __cplusplus
}
#endif
#endif
