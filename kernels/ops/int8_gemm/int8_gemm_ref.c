/* int8_gemm_ref.c — the oracle: three loops, exact integer sums (int64, stored as int32, which
 * the K bound makes lossless), and the header's epilogue element by element. Left out:
 * everything that makes it fast. */
#include <stddef.h>

#include "int8_gemm_internal.h"

dl_status dl_int8_gemm_ref(const dl_int8_gemm_args *a) {
    for (int m = 0; m < a->M; m++) {
        const int8_t *a_row = a->A + (ptrdiff_t)m * a->lda;
        const float row_inv = a->out ? dl_int8_inverse_scale(a->row_scale[m]) : 0.0f;
        for (int n = 0; n < a->N; n++) {
            const int8_t *b_row = a->B + (ptrdiff_t)n * a->ldb;
            int64_t sum = 0;
            for (int k = 0; k < a->K; k++)
                sum += (int32_t)a_row[k] * (int32_t)b_row[k];
            const int32_t c = (int32_t)sum;
            if (a->C) a->C[(ptrdiff_t)m * a->ldc + n] = c;
            if (a->out) {
                float *o = a->out + (ptrdiff_t)m * a->ldo + n;
                *o = dl_int8_dequantize(c, row_inv, dl_int8_inverse_scale(a->col_scale[n]), a->bias,
                                        n, a->accumulate ? *o : 0.0f, a->accumulate);
            }
        }
    }
    return DL_OK;
}
