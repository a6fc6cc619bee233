/* matmul_variants.c — the matmul family's table of variants.
 *
 * To add one (yours, say): write `dl_status my_matmul(const dl_matmul_args *a)`, declare it in
 * matmul_internal.h, and add a `VARIANT(...)` line below. `make test` then checks it against
 * ref on random and odd shapes, and `make bench` times it beside the others. */
#include "dlab/core.h"
#include "matmul_internal.h"


#define VARIANT(id, vname, text, dev, avail, fn)                                            \
    static const dl_variant id = {.family = "matmul", .name = vname, .summary = text,       \
                                  .device = dev, .available = avail,                         \
                                  .impl = (const void *)fn, .cost = dl_matmul_cost};

VARIANT(v_ref, "ref", "three loops, double accumulation: the oracle", DL_DEVICE_CPU, NULL,
        dl_matmul_ref)
VARIANT(v_blocked, "blocked", "cache-blocked loops the compiler vectorizes, one thread",
        DL_DEVICE_CPU, NULL, dl_matmul_blocked)
VARIANT(v_avx512, "omp_avx512", "packed panels, AVX-512 micro-kernel, OpenMP", DL_DEVICE_CPU,
        dl_cpu_has_avx512, dl_matmul_omp_avx512)
VARIANT(v_avx2, "omp_avx2", "packed panels, AVX2+FMA micro-kernel, OpenMP", DL_DEVICE_CPU,
        dl_cpu_has_avx2_fma, dl_matmul_omp_avx2)
#ifdef DL_HAVE_OPENBLAS
VARIANT(v_openblas, "openblas", "OpenBLAS cblas_sgemm (the yardstick)", DL_DEVICE_CPU, NULL,
        dl_matmul_openblas)
#endif
#ifdef DL_HAVE_CUDA
VARIANT(v_cuda_naive, "cuda_naive", "one thread per output, global memory only",
        DL_DEVICE_CUDA, dl_cuda_available, dl_matmul_cuda_naive)
VARIANT(v_cuda_tiled, "cuda_tiled", "shared-memory tiles, register blocking", DL_DEVICE_CUDA,
        dl_cuda_available, dl_matmul_cuda_tiled)
VARIANT(v_cublas, "cublas", "cuBLAS sgemm, true fp32 (no TF32)", DL_DEVICE_CUDA,
        dl_cuda_available, dl_matmul_cublas)
#endif

const dl_variant *const dl_matmul_variant_table[] = {
    &v_ref, &v_blocked, &v_avx512, &v_avx2,
#ifdef DL_HAVE_OPENBLAS
    &v_openblas,
#endif
#ifdef DL_HAVE_CUDA
    &v_cuda_naive, &v_cuda_tiled, &v_cublas,
#endif
};
const int dl_matmul_variant_count =
    (int)(sizeof dl_matmul_variant_table / sizeof dl_matmul_variant_table[0]);
