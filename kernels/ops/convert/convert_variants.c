/* convert_variants.c — the "convert" family's table of variants and its run helper.
 * One entry per way of turning an fp32 array into fp16/bf16 with round-to-nearest-even. */
#include <string.h>

#include "convert_impl.h"
#include "dlab/convert.h"

static const dl_variant ref = {.family = "convert",
                               .name = "ref",
                               .summary = "software RNE (bit tricks), fp16 and bf16",
                               .device = DL_DEVICE_CPU,
                               .available = NULL,
                               .impl = (const void *)dl_convert_ref,
                               .cost = dl_convert_cost};
static const dl_variant f16c = {.family = "convert",
                                .name = "f16c",
                                .summary = "F16C VCVTPS2PH, 8 lanes (fp16 only)",
                                .device = DL_DEVICE_CPU,
                                .available = dl_have_f16c,
                                .impl = (const void *)dl_convert_f16c,
                                .cost = dl_convert_cost};
static const dl_variant avx512bf16 = {
    .family = "convert",
    .name = "avx512bf16",
    .summary = "AVX512-BF16 VCVTNEPS2BF16, 16 lanes (bf16 only; subnormals in → ±0)",
    .device = DL_DEVICE_CPU,
    .available = dl_have_avx512bf16,
    .impl = (const void *)dl_convert_avx512bf16,
    .cost = dl_convert_cost};

const dl_variant *const dl_convert_variant_table[] = {&ref, &f16c, &avx512bf16};
const int dl_convert_variant_count =
    (int)(sizeof dl_convert_variant_table / sizeof dl_convert_variant_table[0]);

bool dl_convert_supports(const dl_variant *v, dl_half_kind to) {
    if (!v || !v->name || !v->family || strcmp(v->family, "convert") != 0) return false;
    if (strcmp(v->name, "f16c") == 0) return to == DL_HALF_F16;
    if (strcmp(v->name, "avx512bf16") == 0) return to == DL_HALF_BF16;
    return true;
}

dl_status dl_convert_run(const dl_variant *v, const dl_convert_args *args) {
    if (!v || !v->family || strcmp(v->family, "convert") != 0 || !v->impl)
        return DL_FAIL(DL_ERR_ARG, "not a variant of family \"convert\"");
    DL_TRY(dl_convert_check(args));
    if (!dl_variant_available(v))
        return DL_FAIL(DL_ERR_UNSUPPORTED, "convert variant %s cannot run on this machine",
                       v->name);
    return ((dl_convert_fn)v->impl)(args);
}
