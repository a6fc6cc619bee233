/* int8_gemm_variants.c — the int8_gemm family's table of variants. Add one with a VARIANT line;
 * tests/test_int8_gemm.c checks every CPU variant against ref bit for bit. */
#include "dlab/core.h"
#include "int8_gemm_internal.h"

#define VARIANT(id, vname, text, dev, avail, fn)                                                   \
    static const dl_variant id = {.family = "int8_gemm",                                           \
                                  .name = vname,                                                   \
                                  .summary = text,                                                 \
                                  .device = dev,                                                   \
                                  .available = avail,                                              \
                                  .impl = (const void *)fn,                                        \
                                  .cost = dl_int8_gemm_cost};

VARIANT(v_ref, "ref", "three loops, exact int64 sums: the oracle", DL_DEVICE_CPU, NULL,
        dl_int8_gemm_ref)
VARIANT(v_vnni, "vnni", "packed panels, AVX-512 VNNI vpdpbusd 12×32 kernel, OpenMP", DL_DEVICE_CPU,
        dl_cpu_has_avx512_vnni, dl_int8_gemm_vnni)
VARIANT(v_avx512, "avx512", "the vnni variant's driver, vpmaddwd kernel (no VNNI needed)",
        DL_DEVICE_CPU, dl_cpu_has_avx512, dl_int8_gemm_avx512)
#ifdef DL_HAVE_CUDA
VARIANT(v_cuda_dp4a, "cuda_dp4a", "64×64 shared-memory tiles, __dp4a, 4×4 per thread",
        DL_DEVICE_CUDA, dl_int8_gemm_cuda_available, dl_int8_gemm_cuda_dp4a)
#ifdef DL_HAVE_CUBLASLT
VARIANT(v_cublaslt, "cublaslt", "cuBLASLt int8 tensor cores (IMMA) + our epilogue kernel",
        DL_DEVICE_CUDA, dl_int8_gemm_cuda_available, dl_int8_gemm_cublaslt)
#endif
#endif

const dl_variant *const dl_int8_gemm_variant_table[] = {
    &v_ref,
    &v_vnni,
    &v_avx512,
#ifdef DL_HAVE_CUDA
    &v_cuda_dp4a,
#ifdef DL_HAVE_CUBLASLT
    &v_cublaslt,
#endif
#endif
};
const int dl_int8_gemm_variant_count =
    (int)(sizeof dl_int8_gemm_variant_table / sizeof dl_int8_gemm_variant_table[0]);
