/* attention_flash.c — variant `flash`: causal attention that never stores the T×T scores,
 * in plain C, one thread, written to be read next to the FlashAttention papers.
 *
 * Forward (FlashAttention, Dao et al. 2022, Algorithm 1, with the causal mask). Per (b, h),
 * the query rows go in blocks of BLOCK_ROWS, and for each block the keys in blocks of
 * BLOCK_KEYS. Every row keeps three running quantities over the key blocks seen so far:
 *
 *   m  the largest score               l  Σ e^(score − m)          O  Σ e^(score − m) · v
 *
 * A new key block with scores S (scaled by 1/√hs) updates them as the online softmax does
 * (Milakov & Gimelshein 2018): m' = max(m, max S); both old sums are rescaled by e^(m − m'),
 * which is exact (it only moves the reference point of the exponent), then P = e^(S − m') is
 * added: l' = l·e^(m − m') + Σ P, O' = O·e^(m − m') + P·V. After the last block, out = O / l
 * and the row's log-sum-exp lse = m + log l is kept for the backward. No exponent ever sees
 * a positive argument, so scores of 1e3 or 1e30 do not overflow.
 *
 * The causal mask is a loop bound: key blocks that start after the last row of the query
 * block are never visited, and in the blocks that straddle the diagonal each row stops at
 * its own position (s <= t). So every row sees at least one key (its own) in every block
 * it visits, and m is finite after the first block whenever the inputs are.
 *
 * Backward (FlashAttention-2, Dao 2023, Algorithm 2). With D_t = Σ_d dout_t·out_t (equal to
 * Σ_s P_ts·dP_ts, the term the softmax's Jacobian needs), per key block and every query row
 * at or after it: recompute P = e^(S − lse) (the forward's probabilities, exactly
 * normalized), then
 *
 *   dV_s += P·dO_t     dP = dO_t·v_s     dS = P·(dP − D_t)
 *   dQ_t += scale·dS·k_s                  dK_s += scale·dS·q_t
 *
 * dK and dV of a key block are summed in a small tile and added to dqkv once; dQ goes
 * straight into dqkv. It ADDS, as every backward here does.
 *
 * Left out: threads and SIMD (attention_flash_cpu.c), the softmax pointer (the softmax is
 * fused into the loop, so a custom row softmax has nowhere to plug in; it is ignored).
 */
#include <math.h>
#include <string.h>

#include "attention_impl.h"
#include "dlab/core.h"

enum { BLOCK_ROWS = 16, BLOCK_KEYS = 16 };

static int min_int(int a, int b) { return a < b ? a : b; }

static float dot(const float *x, const float *y, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        sum += x[i] * y[i];
    return sum;
}

/* Where head h of batch b starts in qkv / out / lse, and the row strides. */
typedef struct head_view {
    const float *q, *k, *v; /* row t at + t·3C */
    float *out;             /* row t at + t·C */
    float *lse;             /* (T) or NULL */
    int T, hs;
    long ld_qkv, ld_out;
    float scale;
} head_view;

static head_view view_head(const dl_attention_args *a, int b, int h) {
    const int T = a->T, C = a->C, hs = C / a->NH;
    const long C3 = 3L * C;
    const float *base = a->qkv + (long)b * T * C3 + (long)h * hs;
    head_view v = {.q = base,
                   .k = base + C,
                   .v = base + 2L * C,
                   .out = a->out + (long)b * T * C + (long)h * hs,
                   .lse = a->lse ? a->lse + ((long)b * a->NH + h) * T : NULL,
                   .T = T,
                   .hs = hs,
                   .ld_qkv = C3,
                   .ld_out = C,
                   .scale = (float)(1.0 / sqrt((double)hs))};
    return v;
}

/* ---------------------------------------------------------------- forward */

/* One query row t against keys [j0, j_end): fold them into (m, l, o). */
static void row_update(const head_view *hv, int t, int j0, int j_end, float *m, float *l,
                       float *o) {
    float scores[BLOCK_KEYS];
    const float *q = hv->q + t * hv->ld_qkv;
    float block_max = -INFINITY;
    for (int s = j0; s < j_end; s++) {
        float score = hv->scale * dot(q, hv->k + s * hv->ld_qkv, hv->hs);
        scores[s - j0] = score;
        if (score > block_max) block_max = score;
    }
    const float m_new = *m > block_max ? *m : block_max;
    /* e^(m − m'): 0 for the first block (m = −inf), where l and o are still 0 */
    const float rescale = *m == -INFINITY ? 0.0f : expf(*m - m_new);
    float p_sum = 0.0f;
    for (int i = 0; i < hv->hs; i++)
        o[i] *= rescale;
    for (int s = j0; s < j_end; s++) {
        const float p = expf(scores[s - j0] - m_new);
        const float *v = hv->v + s * hv->ld_qkv;
        p_sum += p;
        for (int i = 0; i < hv->hs; i++)
            o[i] += p * v[i];
    }
    *l = *l * rescale + p_sum;
    *m = m_new;
}

static void head_forward(const head_view *hv, float *o /* BLOCK_ROWS × hs */) {
    float m[BLOCK_ROWS], l[BLOCK_ROWS];
    for (int i0 = 0; i0 < hv->T; i0 += BLOCK_ROWS) {
        const int rows = min_int(BLOCK_ROWS, hv->T - i0), last = i0 + rows - 1;
        for (int r = 0; r < rows; r++)
            m[r] = -INFINITY, l[r] = 0.0f;
        memset(o, 0, (size_t)rows * hv->hs * sizeof(float));
        /* key blocks up to the block's last row; inside, each row stops at itself */
        for (int j0 = 0; j0 <= last; j0 += BLOCK_KEYS)
            for (int r = 0; r < rows; r++) {
                const int t = i0 + r, j_end = min_int(j0 + BLOCK_KEYS, t + 1);
                if (j_end > j0) row_update(hv, t, j0, j_end, &m[r], &l[r], o + (long)r * hv->hs);
            }
        for (int r = 0; r < rows; r++) {
            const int t = i0 + r;
            for (int i = 0; i < hv->hs; i++)
                hv->out[t * hv->ld_out + i] = o[(long)r * hv->hs + i] / l[r];
            if (hv->lse) hv->lse[t] = m[r] + logf(l[r]);
        }
    }
}

dl_status dl_attention_flash_forward(const dl_attention_args *a) {
    if ((long)a->B * a->T == 0) return DL_OK;
    const int hs = a->C / a->NH;
    float *o = NULL;
    DL_TRY(dl_alloc((void **)&o, (size_t)BLOCK_ROWS * hs * sizeof(float)));
    for (int b = 0; b < a->B; b++)
        for (int h = 0; h < a->NH; h++) {
            const head_view hv = view_head(a, b, h);
            head_forward(&hv, o);
        }
    dl_free(o);
    return DL_OK;
}

/* --------------------------------------------------------------- backward */

/* dk, dv: BLOCK_KEYS × hs tiles; d: T values of D. */
static void head_backward(const dl_attention_args *a, const head_view *hv, int b, int h, float *dk,
                          float *dv, float *d) {
    const int T = hv->T, hs = hv->hs;
    const long ld = hv->ld_qkv;
    const float *dout = a->dout + (long)b * T * a->C + (long)h * hs;
    float *dq = a->dqkv + (long)b * T * ld + (long)h * hs, *dkh = dq + a->C, *dvh = dq + 2L * a->C;
    for (int t = 0; t < T; t++)
        d[t] = dot(dout + t * hv->ld_out, hv->out + t * hv->ld_out, hs);
    for (int j0 = 0; j0 < T; j0 += BLOCK_KEYS) {
        const int keys = min_int(BLOCK_KEYS, T - j0);
        memset(dk, 0, (size_t)keys * hs * sizeof(float));
        memset(dv, 0, (size_t)keys * hs * sizeof(float));
        /* every query row that sees a key of this block: t >= j0 */
        for (int i0 = j0 / BLOCK_ROWS * BLOCK_ROWS; i0 < T; i0 += BLOCK_ROWS)
            for (int t = i0 > j0 ? i0 : j0; t < min_int(i0 + BLOCK_ROWS, T); t++) {
                const float *q = hv->q + t * ld, *dout_t = dout + t * hv->ld_out;
                const int j_end = min_int(j0 + keys, t + 1);
                for (int s = j0; s < j_end; s++) {
                    const float *k = hv->k + s * ld, *v = hv->v + s * ld;
                    const float p = expf(hv->scale * dot(q, k, hs) - hv->lse[t]);
                    const float dp = dot(dout_t, v, hs);
                    const float ds = p * (dp - d[t]) * hv->scale;
                    float *dk_s = dk + (long)(s - j0) * hs, *dv_s = dv + (long)(s - j0) * hs;
                    for (int i = 0; i < hs; i++) {
                        dv_s[i] += p * dout_t[i];
                        dk_s[i] += ds * q[i];
                        dq[t * ld + i] += ds * k[i];
                    }
                }
            }
        for (int s = j0; s < j0 + keys; s++)
            for (int i = 0; i < hs; i++) {
                dkh[s * ld + i] += dk[(long)(s - j0) * hs + i];
                dvh[s * ld + i] += dv[(long)(s - j0) * hs + i];
            }
    }
}

dl_status dl_attention_flash_backward(const dl_attention_args *a) {
    if ((long)a->B * a->T == 0) return DL_OK;
    const int hs = a->C / a->NH;
    float *scratch = NULL;
    DL_TRY(
        dl_alloc((void **)&scratch, ((size_t)2 * BLOCK_KEYS * hs + (size_t)a->T) * sizeof(float)));
    float *dk = scratch, *dv = dk + (size_t)BLOCK_KEYS * hs, *d = dv + (size_t)BLOCK_KEYS * hs;
    for (int b = 0; b < a->B; b++)
        for (int h = 0; h < a->NH; h++) {
            const head_view hv = view_head(a, b, h);
            head_backward(a, &hv, b, h, dk, dv, d);
        }
    dl_free(scratch);
    return DL_OK;
}
