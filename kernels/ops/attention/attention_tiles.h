/* attention_tiles.h — the per-head kernels of attention_cpu.c, written ONCE for any vector
 * width and included once per instruction set (a C "template"). Before including, define:
 *
 *   VW          floats per vector: 16 for AVX-512, 8 for AVX2
 *   TILE_TARGET the __attribute__((target(...))) of that instruction set
 *   NAME(x)     x with the instruction set's suffix, so the two copies do not collide
 *
 * Vectors are GCC vector extensions (`a += x * v` on VW floats at once); TILE_TARGET also
 * turns on FMA contraction, which -std=c11 leaves off, so that line is one vfmadd. ROWS,
 * head and round_up come from attention_cpu.c, which explains the tiling.
 */
#define TILE static inline __attribute__((always_inline)) TILE_TARGET
#define VEC NAME(vec)
typedef float VEC __attribute__((vector_size(VW * sizeof(float)), aligned(4)));

/* Unaligned loads and stores (the typedef's aligned(4)); GCC lets a float vector alias float. */
TILE VEC NAME(load)(const float *p) { return *(const VEC *)p; }
TILE void NAME(store)(float *p, VEC v) { *(VEC *)p = v; }

/* dst[r][s] = scale · Σ_d x_r[d] · kt[d][s] for rows r < R and s <= t0 + r.
 * Tiles of R rows × 2 vectors of columns: 8 independent accumulators when R = 4. */
TILE void NAME(rows_times_kt)(int R, const float *x, long ldx, const float *kt, int tp, int hs,
                              int t0, float scale, float *dst, long ldd) {
    for (int s0 = 0; s0 < t0 + R; s0 += 2 * VW) {
        VEC acc[ROWS][2];
        for (int r = 0; r < R; r++)
            acc[r][0] = acc[r][1] = (VEC){0};
        for (int d = 0; d < hs; d++) {
            const VEC k0 = NAME(load)(kt + (long)d * tp + s0);
            const VEC k1 = NAME(load)(kt + (long)d * tp + s0 + VW);
            for (int r = 0; r < R; r++) {
                const float xd = x[r * ldx + d];
                acc[r][0] += xd * k0;
                acc[r][1] += xd * k1;
            }
        }
        for (int r = 0; r < R; r++) {
            const int end = t0 + r + 1 < s0 + 2 * VW ? t0 + r + 1 : s0 + 2 * VW;
            if (end <= s0) continue;
            float tmp[2 * VW];
            NAME(store)(tmp, scale * acc[r][0]);
            NAME(store)(tmp + VW, scale * acc[r][1]);
            memcpy(dst + r * ldd + s0, tmp, (size_t)(end - s0) * sizeof(float));
        }
    }
}

/* acc[r][·] += Σ_{s_lo <= s < s_hi} c_r[s] · xp[s][·] for rows r < R (acc rows hsp long). */
TILE void NAME(coef_times_rows)(int R, const float *c, long ldc, int s_lo, int s_hi,
                                const float *xp, int hsp, float *acc) {
    for (int d0 = 0; d0 < hsp; d0 += 2 * VW) {
        VEC a[ROWS][2];
        for (int r = 0; r < R; r++) {
            a[r][0] = NAME(load)(acc + r * hsp + d0);
            a[r][1] = NAME(load)(acc + r * hsp + d0 + VW);
        }
        for (int s = s_lo; s < s_hi; s++) {
            const VEC x0 = NAME(load)(xp + (long)s * hsp + d0);
            const VEC x1 = NAME(load)(xp + (long)s * hsp + d0 + VW);
            for (int r = 0; r < R; r++) {
                const float cr = c[r * ldc + s];
                a[r][0] += cr * x0;
                a[r][1] += cr * x1;
            }
        }
        for (int r = 0; r < R; r++) {
            NAME(store)(acc + r * hsp + d0, a[r][0]);
            NAME(store)(acc + r * hsp + d0 + VW, a[r][1]);
        }
    }
}

/* dst[s][·] += Σ_{r < R} c_r[s] · x_r[·] for s_lo <= s < s_hi (a rank-R update). */
TILE void NAME(rank_update)(int R, const float *c, long ldc, int s_lo, int s_hi, const float *x,
                            int hsp, float *dst) {
    for (int s = s_lo; s < s_hi; s++) {
        float *ds = dst + (long)s * hsp;
        for (int d0 = 0; d0 < hsp; d0 += VW) {
            VEC v = NAME(load)(ds + d0);
            for (int r = 0; r < R; r++)
                v += c[r * ldc + s] * NAME(load)(x + r * hsp + d0);
            NAME(store)(ds + d0, v);
        }
    }
}

/* Σ_{s < n} p[s] · d[s], in VW lanes. */
TILE float NAME(dot)(const float *p, const float *d, int n) {
    VEC lane = (VEC){0};
    int s = 0;
    for (; s + VW <= n; s += VW)
        lane += NAME(load)(p + s) * NAME(load)(d + s);
    float tmp[VW], sum = 0.0f;
    NAME(store)(tmp, lane);
    for (int j = 0; j < VW; j++)
        sum += tmp[j];
    for (; s < n; s++)
        sum += p[s] * d[s];
    return sum;
}

/* Rows t0 .. t0+R-1 of one head: scores, softmax, then P·V. */
TILE void NAME(forward_tile)(const head *g, int R, int t0, const float *q, const float *kt,
                             const float *vp, float *att, float *pre, float *out, float *acc) {
    const dl_attention_args *a = g->a;
    const int T = a->T, hsp = g->hsp;
    NAME(rows_times_kt)
    (R, q + t0 * 3L * a->C, 3L * a->C, kt, g->tp, g->hs, t0, g->scale, att + (long)t0 * T, T);
    for (int r = 0; r < R; r++) {
        const int t = t0 + r;
        float *row = att + (long)t * T;
        if (pre) {
            memcpy(pre + (long)t * T, row, (size_t)(t + 1) * sizeof(float));
            memset(pre + (long)t * T + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
        }
        g->softmax(row, row, t + 1);
        memset(row + t + 1, 0, (size_t)(T - t - 1) * sizeof(float));
    }
    memset(acc, 0, (size_t)R * hsp * sizeof(float));
    NAME(coef_times_rows)(R, att + (long)t0 * T, T, 0, t0, vp, hsp, acc);
    for (int r = 0; r < R; r++) /* the diagonal triangle, s <= t exactly */
        NAME(coef_times_rows)
        (1, att + (long)(t0 + r) * T, T, t0, t0 + r + 1, vp, hsp, acc + r * hsp);
    for (int r = 0; r < R; r++)
        memcpy(out + (long)(t0 + r) * a->C, acc + r * hsp, (size_t)g->hs * sizeof(float));
}

TILE_TARGET static void NAME(head_forward)(const head *g, int b, int h, float *scratch) {
    const dl_attention_args *a = g->a;
    const int T = a->T, C = a->C, hs = g->hs, tp = g->tp, hsp = g->hsp;
    const long C3 = 3L * C;
    const float *q = a->qkv + (long)b * T * C3 + (long)h * hs;
    float *kt = scratch, *vp = kt + (long)hs * tp, *acc = vp + (long)tp * hsp;
    pack(q + C, C3, T, hs, tp, hsp, 1.0f, true, kt);
    pack(q + 2L * C, C3, T, hs, tp, hsp, 1.0f, false, vp);
    const long head_off = ((long)b * a->NH + h) * T * T;
    float *att = a->att + head_off, *pre = a->preatt ? a->preatt + head_off : NULL;
    float *out = a->out + (long)b * T * C + (long)h * hs;
    int t0 = 0;
    for (; t0 + ROWS <= T; t0 += ROWS)
        NAME(forward_tile)(g, ROWS, t0, q, kt, vp, att, pre, out, acc);
    for (; t0 < T; t0++)
        NAME(forward_tile)(g, 1, t0, q, kt, vp, att, pre, out, acc);
}

TILE void NAME(backward_tile)(const head *g, int R, int t0, const float *att, const float *vt,
                              const float *kp, const float *qp, const float *dop, float *ds,
                              float *acc, float *dk, float *dv, float *dq) {
    const dl_attention_args *a = g->a;
    const int T = a->T, tp = g->tp, hsp = g->hsp;
    /* dP = dO·Vᵀ, then dS = P ⊙ (dP − rowsum(P ⊙ dP)), both for s <= t */
    NAME(rows_times_kt)(R, dop + (long)t0 * hsp, hsp, vt, tp, g->hs, t0, 1.0f, ds, tp);
    for (int r = 0; r < R; r++) {
        const int t = t0 + r;
        const float *p = att + (long)t * T;
        float *d = ds + (long)r * tp;
        const float dot = NAME(dot)(p, d, t + 1);
        for (int s = 0; s <= t; s++)
            d[s] = p[s] * (d[s] - dot);
    }
    /* dQ rows = dS·K (scaled when added); dK += dSᵀ·(scale·Q); dV += Pᵀ·dO */
    memset(acc, 0, (size_t)R * hsp * sizeof(float));
    NAME(coef_times_rows)(R, ds, tp, 0, t0, kp, hsp, acc);
    NAME(rank_update)(R, ds, tp, 0, t0, qp + (long)t0 * hsp, hsp, dk);
    NAME(rank_update)(R, att + (long)t0 * T, T, 0, t0, dop + (long)t0 * hsp, hsp, dv);
    for (int r = 0; r < R; r++) { /* the diagonal triangle, s <= t exactly */
        const int t = t0 + r;
        NAME(coef_times_rows)(1, ds + (long)r * tp, tp, t0, t + 1, kp, hsp, acc + r * hsp);
        NAME(rank_update)(1, ds + (long)r * tp, tp, t0, t + 1, qp + (long)t * hsp, hsp, dk);
        NAME(rank_update)(1, att + (long)t * T, T, t0, t + 1, dop + (long)t * hsp, hsp, dv);
        float *dqt = dq + (long)t * 3 * a->C;
        for (int i = 0; i < g->hs; i++)
            dqt[i] += g->scale * acc[r * hsp + i];
    }
}

TILE_TARGET static void NAME(head_backward)(const head *g, int b, int h, float *scratch) {
    const dl_attention_args *a = g->a;
    const int T = a->T, C = a->C, hs = g->hs, tp = g->tp, hsp = g->hsp;
    const long C3 = 3L * C, panel = (long)tp * hsp;
    const float *q = a->qkv + (long)b * T * C3 + (long)h * hs;
    const float *dout = a->dout + (long)b * T * C + (long)h * hs;
    float *vt = scratch, *kp = vt + panel, *qp = kp + panel, *dop = qp + panel;
    float *dk = dop + panel, *dv = dk + panel, *ds = dv + panel, *acc = ds + (long)ROWS * tp;
    pack(q + 2L * C, C3, T, hs, tp, hsp, 1.0f, true, vt);
    pack(q + C, C3, T, hs, tp, hsp, 1.0f, false, kp);
    pack(q, C3, T, hs, tp, hsp, g->scale, false, qp);
    pack(dout, C, T, hs, tp, hsp, 1.0f, false, dop);
    memset(dk, 0, 2 * (size_t)panel * sizeof(float));
    const float *att = a->att + ((long)b * a->NH + h) * T * T;
    float *dq = a->dqkv + (long)b * T * C3 + (long)h * hs;
    int t0 = 0;
    for (; t0 + ROWS <= T; t0 += ROWS)
        NAME(backward_tile)(g, ROWS, t0, att, vt, kp, qp, dop, ds, acc, dk, dv, dq);
    for (; t0 < T; t0++)
        NAME(backward_tile)(g, 1, t0, att, vt, kp, qp, dop, ds, acc, dk, dv, dq);
    for (int s = 0; s < T; s++)
        for (int i = 0; i < hs; i++) {
            dq[s * C3 + C + i] += dk[(long)s * hsp + i];
            dq[s * C3 + 2L * C + i] += dv[(long)s * hsp + i];
        }
}

#undef TILE
#undef VEC
