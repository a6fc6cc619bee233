/* matmul_ref.c — the textbook matmul: the oracle every other variant is tested against.
 *
 * Three loops, one dot product per output, accumulated in double so its own rounding error
 * (≈ 1e-16 relative) is far below what the fp32 variants make (≈ 1e-7·√K): the difference a
 * test sees is theirs, not ours. Slow on purpose; deliberately no blocking, no threads. */
#include "matmul_internal.h"

dl_status dl_matmul_ref(const dl_matmul_args *a) {
    for (int i = 0; i < a->M; i++) {
        for (int j = 0; j < a->N; j++) {
            double acc = 0.0;
            for (int k = 0; k < a->K; k++)
                acc += (double)dl_matmul_a_at(a, i, k) * (double)dl_matmul_b_at(a, k, j);
            float *c = &a->C[(long)i * a->ldc + j];
            *c = a->accumulate ? (float)((double)*c + acc) : (float)acc;
        }
    }
    return DL_OK;
}
