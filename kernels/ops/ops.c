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
DECLARE_FAMILY(linear)
DECLARE_FAMILY(relu)
DECLARE_FAMILY(gelu)
DECLARE_FAMILY(softmax_xent)
DECLARE_FAMILY(layernorm)
DECLARE_FAMILY(embedding)
DECLARE_FAMILY(residual)
DECLARE_FAMILY(attention)
DECLARE_FAMILY(conv2d)
DECLARE_FAMILY(maxpool)
DECLARE_FAMILY(optim)
DECLARE_FAMILY(softmax)
DECLARE_FAMILY(softmax_topk)
DECLARE_FAMILY(quant)
DECLARE_FAMILY(int8_gemm)
DECLARE_FAMILY(spmm)

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
    {"linear", dl_linear_variant_table, &dl_linear_variant_count},
    {"relu", dl_relu_variant_table, &dl_relu_variant_count},
    {"gelu", dl_gelu_variant_table, &dl_gelu_variant_count},
    {"softmax_xent", dl_softmax_xent_variant_table, &dl_softmax_xent_variant_count},
    {"layernorm", dl_layernorm_variant_table, &dl_layernorm_variant_count},
    {"embedding", dl_embedding_variant_table, &dl_embedding_variant_count},
    {"residual", dl_residual_variant_table, &dl_residual_variant_count},
    {"attention", dl_attention_variant_table, &dl_attention_variant_count},
    {"conv2d", dl_conv2d_variant_table, &dl_conv2d_variant_count},
    {"maxpool", dl_maxpool_variant_table, &dl_maxpool_variant_count},
    {"optim", dl_optim_variant_table, &dl_optim_variant_count},
    {"softmax", dl_softmax_variant_table, &dl_softmax_variant_count},
    {"softmax_topk", dl_softmax_topk_variant_table, &dl_softmax_topk_variant_count},
    {"quant", dl_quant_variant_table, &dl_quant_variant_count},
    {"int8_gemm", dl_int8_gemm_variant_table, &dl_int8_gemm_variant_count},
    {"spmm", dl_spmm_variant_table, &dl_spmm_variant_count},
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

const dl_variant *dl_variant_best_cpu(const char *family_name) {
    static const char *const fastest_first[] = {"omp_avx512", "omp_avx2", "omp", "im2col",
                                                "blocked", "ref"};
    for (size_t i = 0; i < sizeof fastest_first / sizeof fastest_first[0]; i++) {
        const dl_variant *v = dl_variant_find(family_name, fastest_first[i]);
        if (v && v->device == DL_DEVICE_CPU && dl_variant_available(v)) return v;
    }
    return NULL;
}
