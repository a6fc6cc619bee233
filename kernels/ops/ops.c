/* ops.c — the registry: collects each op family's static table of variants.
 *
 * Adding a family: define `dl_<family>_variant_table` and `dl_<family>_variant_count` in
 * ops/<family>/<family>_variants.c and add one line to FAMILIES below. Plain static tables, no
 * constructor or linker tricks, so what is registered is what you read here. */
#include <string.h>

#include "dlab/registry.h"

#define DECLARE_FAMILY(fam)                                                                 \
    extern const dl_variant *const dl_##fam##_variant_table[];                              \
    extern const int dl_##fam##_variant_count;

DECLARE_FAMILY(matmul)
DECLARE_FAMILY(sum)
DECLARE_FAMILY(convert)

typedef struct family {
    const char *name;
    const dl_variant *const *table;
    const int *count;
} family;

/* ---- the families, in the order tables and reports list them ---- */
static const family FAMILIES[] = {
    {"matmul", dl_matmul_variant_table, &dl_matmul_variant_count},
    {"sum", dl_sum_variant_table, &dl_sum_variant_count},
    {"convert", dl_convert_variant_table, &dl_convert_variant_count},
};
#define NFAMILIES ((int)(sizeof FAMILIES / sizeof FAMILIES[0]))

const char *dl_device_name(dl_device d) { return d == DL_DEVICE_CUDA ? "cuda" : "cpu"; }

const char *const *dl_families(void) {
    static const char *names[NFAMILIES + 1];
    for (int i = 0; i < NFAMILIES; i++) names[i] = FAMILIES[i].name;
    names[NFAMILIES] = NULL;
    return names;
}

const dl_variant *const *dl_variants(const char *family_name, int *count) {
    for (int i = 0; family_name && i < NFAMILIES; i++) {
        if (strcmp(FAMILIES[i].name, family_name) == 0) {
            if (count) *count = *FAMILIES[i].count;
            return FAMILIES[i].table;
        }
    }
    if (count) *count = 0;
    return NULL;
}

const dl_variant *dl_variant_find(const char *family_name, const char *name) {
    int n;
    const dl_variant *const *table = dl_variants(family_name, &n);
    for (int i = 0; name && i < n; i++)
        if (strcmp(table[i]->name, name) == 0) return table[i];
    return NULL;
}

bool dl_variant_available(const dl_variant *v) { return v && (!v->available || v->available()); }
