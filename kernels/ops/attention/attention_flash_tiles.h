/* attention_flash_tiles.h — the per-head kernels of attention_flash_cpu.c, written ONCE for
 * any vector width and included once per instruction set, as attention_tiles.h is. Define
 * before including:
 *
 *   VW          floats per vector: 16 for AVX-512, 8 for AVX2
 *   TILE_TARGET the __attribute__((target(...))) of that instruction set
 *   NAME(x)     x with the instruction set's suffix
 *
 * ROWS, QROWS, KEYS, flash_head and round_up come from attention_flash_cpu.c, which explains the
 * tiling. A score tile is ROWS × KEYS floats with row stride KEYS; its column c is key j0 + c.
 */
#define TILE static inline __attribute__((always_inline)) TILE_TARGET
#define VEC NAME(fvec)
typedef float VEC __attribute__((vector_size(VW * sizeof(float)), aligned(4)));

/* Copy a head's slice of T rows (row stride ld) into tp × hsp rows, zero-padded; or
 * (transposed) into hs × tp rows. The transposed copy goes 16 positions at a time so its
 * stores run along a row: writing one column of hs rows tp floats apart hits the same cache
 * set (and 4 KiB alias) over and over when tp is a multiple of 1024 (measured: ~14% of a
 * T = 1024 backward). Compiled per instruction set, like the tiles, so it vectorizes with the
 * wide vectors too. */
TILE_TARGET static void NAME(flash_pack)(const float *src, long ld, int T, int hs, int tp, int hsp,
                                         bool transposed, float *dst) {
    memset(dst, 0, (size_t)tp * (transposed ? hs : hsp) * sizeof(float));
    if (!transposed) {
        for (int s = 0; s < T; s++)
            memcpy(dst + (long)s * hsp, src + s * ld, (size_t)hs * sizeof(float));
        return;
    }
    enum { STRIP = 16 };
    for (int s0 = 0; s0 < T; s0 += STRIP) {
        const int s1 = T < s0 + STRIP ? T : s0 + STRIP;
        for (int d = 0; d < hs; d++)
            for (int s = s0; s < s1; s++)
                dst[(long)d * tp + s] = src[s * ld + d];
    }
}

TILE VEC NAME(fload)(const float *p) { return *(const VEC *)p; }
TILE void NAME(fstore)(float *p, VEC v) { *(VEC *)p = v; }

/* dst[r][c] = scale · Σ_d x_r[d] · kt[d][j0 + c] for rows r < R and columns c up to j1 − j0
 * rounded up to 2·VW (kt is zero-padded to tp columns, a multiple of 32, so the loads stay
 * inside; the extra columns are computed and later ignored). */
TILE void NAME(score_tile)(int R, const float *x, long ldx, const float *kt, int tp, int hs, int j0,
                           int j1, float scale, float *dst) {
    for (int s0 = j0; s0 < j1; s0 += 2 * VW) {
        VEC acc[ROWS][2];
        for (int r = 0; r < R; r++)
            acc[r][0] = acc[r][1] = (VEC){0};
        for (int d = 0; d < hs; d++) {
            const VEC k0 = NAME(fload)(kt + (long)d * tp + s0);
            const VEC k1 = NAME(fload)(kt + (long)d * tp + s0 + VW);
            for (int r = 0; r < R; r++) {
                const float xd = x[r * ldx + d];
                acc[r][0] += xd * k0;
                acc[r][1] += xd * k1;
            }
        }
        for (int r = 0; r < R; r++) {
            NAME(fstore)(dst + r * KEYS + (s0 - j0), scale * acc[r][0]);
            NAME(fstore)(dst + r * KEYS + (s0 - j0) + VW, scale * acc[r][1]);
        }
    }
}

/* acc[r][0..hsp) += Σ_{lo <= c < hi} p[r·ldp + c] · xp[c·ldx + 0..hsp) for rows r < R (acc
 * rows hsp apart). Every loaded row of xp feeds R × 2 independent FMA chains. */
TILE void NAME(p_times_rows)(int R, const float *p, int ldp, int lo, int hi, const float *xp,
                             long ldx, int hsp, float *acc) {
    for (int d0 = 0; d0 < hsp; d0 += 2 * VW) {
        VEC a[ROWS][2];
        for (int r = 0; r < R; r++) {
            a[r][0] = NAME(fload)(acc + r * hsp + d0);
            a[r][1] = NAME(fload)(acc + r * hsp + d0 + VW);
        }
        for (int c = lo; c < hi; c++) {
            const VEC x0 = NAME(fload)(xp + c * ldx + d0);
            const VEC x1 = NAME(fload)(xp + c * ldx + d0 + VW);
            for (int r = 0; r < R; r++) {
                const float pr = p[r * ldp + c];
                a[r][0] += pr * x0;
                a[r][1] += pr * x1;
            }
        }
        for (int r = 0; r < R; r++) {
            NAME(fstore)(acc + r * hsp + d0, a[r][0]);
            NAME(fstore)(acc + r * hsp + d0 + VW, a[r][1]);
        }
    }
}

/* The two kernels above for any R <= ROWS, but always with a constant R: the kernels' R loops
 * must unroll for the accumulators to stay in registers, so a short group runs row by row. */
TILE void NAME(score_rows)(int R, const float *x, long ldx, const float *kt, int tp, int hs, int j0,
                           int j1, float scale, float *dst) {
    if (R == ROWS) {
        NAME(score_tile)(ROWS, x, ldx, kt, tp, hs, j0, j1, scale, dst);
        return;
    }
    for (int r = 0; r < R; r++)
        NAME(score_tile)(1, x + r * ldx, ldx, kt, tp, hs, j0, j1, scale, dst + r * KEYS);
}
TILE void NAME(p_rows)(int R, const float *p, int ldp, int lo, int hi, const float *xp, long ldx,
                       int hsp, float *acc) {
    if (R == ROWS) {
        NAME(p_times_rows)(ROWS, p, ldp, lo, hi, xp, ldx, hsp, acc);
        return;
    }
    for (int r = 0; r < R; r++)
        NAME(p_times_rows)(1, p + r * ldp, ldp, lo, hi, xp, ldx, hsp, acc + r * hsp);
}

/* Sets row[n .. nv) to −inf (nv = n rounded up to VW) and returns the max of row[0 .. n).
 * Lanes keep the compare-and-keep form GCC turns into vmaxps. */
TILE float NAME(row_max_padded)(float *row, int n, int nv) {
    for (int c = n; c < nv; c++)
        row[c] = -INFINITY;
    float lane[VW];
    for (int j = 0; j < VW; j++)
        lane[j] = -INFINITY;
    for (int c0 = 0; c0 < nv; c0 += VW)
        for (int j = 0; j < VW; j++)
            lane[j] = row[c0 + j] > lane[j] ? row[c0 + j] : lane[j];
    float max = -INFINITY;
    for (int j = 0; j < VW; j++)
        max = lane[j] > max ? lane[j] : max;
    return max;
}

/* row[c] = e^(row[c] − shift) for c < nv (a multiple of VW); returns their sum. */
TILE float NAME(exp_shifted_sum)(float *row, int nv, float shift) {
    float lane[VW];
    for (int j = 0; j < VW; j++)
        lane[j] = 0.0f;
    for (int c0 = 0; c0 < nv; c0 += VW)
        for (int j = 0; j < VW; j++) {
            const float e = dl_exp_poly(row[c0 + j] - shift);
            row[c0 + j] = e;
            lane[j] += e;
        }
    float sum = 0.0f;
    for (int j = 0; j < VW; j++)
        sum += lane[j];
    return sum;
}

/* The forward of query rows t0 .. t0+R-1: the key blocks up to the last row, each folded into
 * the running (m, l, O) of every row; then out = O / l and lse = m + log l. */
TILE void NAME(flash_forward_tile)(const flash_head *g, int R, int t0, const float *q,
                                   const float *kt, const float *v, long ldv, float *out,
                                   float *lse, float *s_tile, float *acc) {
    const int hsp = g->hsp, row_end = t0 + R;
    float m[ROWS], l[ROWS];
    for (int r = 0; r < R; r++)
        m[r] = -INFINITY, l[r] = 0.0f;
    memset(acc, 0, (size_t)R * hsp * sizeof(float));
    for (int j0 = 0; j0 < row_end; j0 += KEYS) {
        const int j1 = row_end < j0 + KEYS ? row_end : j0 + KEYS;
        NAME(score_tile)(R, q + t0 * g->ld, g->ld, kt, g->tp, g->hs, j0, j1, g->scale, s_tile);
        int n[ROWS];
        for (int r = 0; r < R; r++) {
            const int t = t0 + r;
            n[r] = (t + 1 < j1 ? t + 1 : j1) - j0; /* keys of this block that row t sees */
            if (n[r] <= 0) continue;
            float *row = s_tile + r * KEYS;
            const int nv = round_up(n[r], VW);
            const float block_max = NAME(row_max_padded)(row, n[r], nv);
            const float m_new = block_max > m[r] ? block_max : m[r];
            const float rescale = m[r] == -INFINITY ? 0.0f : dl_exp_poly(m[r] - m_new);
            l[r] = l[r] * rescale + NAME(exp_shifted_sum)(row, nv, m_new);
            m[r] = m_new;
            if (rescale != 1.0f) {
                float *o = acc + r * hsp;
                for (int d0 = 0; d0 < hsp; d0 += VW)
                    NAME(fstore)(o + d0, rescale * NAME(fload)(o + d0));
            }
        }
        /* P·V: keys every row sees together, then each row's part of the diagonal triangle */
        const int common = (t0 + 1 < j1 ? t0 + 1 : j1) - j0;
        const float *v_block = v + j0 * ldv;
        if (common > 0) NAME(p_times_rows)(R, s_tile, KEYS, 0, common, v_block, ldv, hsp, acc);
        for (int r = 0; r < R; r++)
            if (n[r] > common)
                NAME(p_times_rows)
                (1, s_tile + r * KEYS, KEYS, common, n[r], v_block, ldv, hsp, acc + r * hsp);
    }
    for (int r = 0; r < R; r++) {
        const int t = t0 + r;
        const float inv = 1.0f / l[r];
        for (int i = 0; i < g->hs; i++)
            out[(long)t * g->ld_out + i] = acc[r * hsp + i] * inv;
        if (lse) lse[t] = m[r] + logf(l[r]);
    }
}

TILE_TARGET static void NAME(flash_head_forward)(const flash_head *g, int b, int h,
                                                 float *scratch) {
    const dl_attention_args *a = g->a;
    const int T = a->T, C = a->C, hs = g->hs, tp = g->tp, hsp = g->hsp;
    const float *q = a->qkv + (long)b * T * g->ld + (long)h * hs;
    float *kt = scratch, *vp = kt + (long)hs * tp, *s_tile = vp + (long)tp * hsp;
    float *acc = s_tile + ROWS * KEYS;
    NAME(flash_pack)(q + C, g->ld, T, hs, tp, hsp, true, kt);
    /* V rows are read in place when hs fills whole vectors (hsp == hs), else from a copy */
    const float *v = q + 2L * C;
    long ldv = g->ld;
    if (hsp != hs) NAME(flash_pack)(v, g->ld, T, hs, tp, hsp, false, vp), v = vp, ldv = hsp;
    float *out = a->out + (long)b * T * C + (long)h * hs;
    float *lse = a->lse ? a->lse + ((long)b * a->NH + h) * T : NULL;
    int t0 = 0;
    for (; t0 + ROWS <= T; t0 += ROWS)
        NAME(flash_forward_tile)(g, ROWS, t0, q, kt, v, ldv, out, lse, s_tile, acc);
    for (; t0 < T; t0++)
        NAME(flash_forward_tile)(g, 1, t0, q, kt, v, ldv, out, lse, s_tile, acc);
}

/* The backward of query rows t0 .. t0+Rq-1 (Rq <= QROWS; FlashAttention-2). Per key block:
 *   1. recompute P = e^(S − lse) and dP = dO·Vᵀ, then dS = P ⊙ (dP − D), 4 rows at a time;
 *   2. dQ rows += dS·K (scaled at the end), the rows' own accumulators;
 *   3. dK += dSᵀ·Q (scaled at the end) and dV += Pᵀ·dO: with P and dS key-major, this is the
 *      same p_times_rows with 4 KEYS as its rows and the Rq query rows as its sum, so each dK
 *      and dV row is loaded and stored once per Rq query rows, not once per 4.
 * Key s takes rows t >= s only: local rows from s − t0 on, the rest of the causal mask.
 * kp, qp, dop: rows of K, Q, dO, ldk / ldq / lddo apart (in place, or the padded copies). */
TILE void NAME(flash_backward_block)(const flash_head *g, int Rq, int t0, const float *q,
                                     const float *kt, const float *vt, const float *kp, long ldk,
                                     const float *qp, long ldq, const float *dop, long lddo,
                                     const float *lse, const float *dd, float *p_tile,
                                     float *ds_tile, float *p_t, float *ds_t, float *acc, float *dk,
                                     float *dv, float *dq) {
    const int hsp = g->hsp, row_end = t0 + Rq;
    const float *q_rows = qp + t0 * ldq, *do_rows = dop + t0 * lddo;
    memset(acc, 0, (size_t)Rq * hsp * sizeof(float));
    for (int j0 = 0; j0 < row_end; j0 += KEYS) {
        const int j1 = row_end < j0 + KEYS ? row_end : j0 + KEYS, keys = j1 - j0;
        int n[QROWS];
        for (int r0 = 0; r0 < Rq; r0 += ROWS) {
            const int R = Rq - r0 < ROWS ? Rq - r0 : ROWS;
            NAME(score_rows)
            (R, q + (long)(t0 + r0) * g->ld, g->ld, kt, g->tp, g->hs, j0, j1, g->scale,
             p_tile + r0 * KEYS);
            NAME(score_rows)
            (R, do_rows + r0 * lddo, lddo, vt, g->tp, g->hs, j0, j1, 1.0f, ds_tile + r0 * KEYS);
        }
        for (int r = 0; r < Rq; r++) {
            const int t = t0 + r;
            n[r] = (t + 1 < j1 ? t + 1 : j1) - j0; /* keys of this block that row t sees */
            if (n[r] < 0) n[r] = 0;
            /* columns past n[r] get values too (from later keys) but are never read */
            const int nv = round_up(n[r], VW);
            float *p = p_tile + r * KEYS, *ds = ds_tile + r * KEYS;
            const float lse_t = lse[t], d_t = dd[t];
            for (int c0 = 0; c0 < nv; c0 += VW)
                for (int j = 0; j < VW; j++) {
                    const float pc = dl_exp_poly(p[c0 + j] - lse_t);
                    p[c0 + j] = pc;
                    ds[c0 + j] = pc * (ds[c0 + j] - d_t);
                }
            for (int c = 0; c < n[r]; c++) /* key-major copies for step 3 */
                p_t[c * QROWS + r] = p[c], ds_t[c * QROWS + r] = ds[c];
        }
        const float *k_block = kp + j0 * ldk;
        /* 2. dQ: per group of 4 rows the keys all of them see (n of the first), then the rest */
        for (int r0 = 0; r0 < Rq; r0 += ROWS) {
            const int R = Rq - r0 < ROWS ? Rq - r0 : ROWS, common = n[r0];
            if (common > 0)
                NAME(p_rows)
                (R, ds_tile + r0 * KEYS, KEYS, 0, common, k_block, ldk, hsp, acc + r0 * hsp);
            for (int r = r0; r < r0 + R; r++)
                if (n[r] > common)
                    NAME(p_times_rows)
                    (1, ds_tile + r * KEYS, KEYS, common, n[r], k_block, ldk, hsp, acc + r * hsp);
        }
        /* 3. dK, dV: per group of 4 keys the rows all of them take, then each key's extra */
        for (int c0 = 0; c0 < keys; c0 += ROWS) {
            const int K = keys - c0 < ROWS ? keys - c0 : ROWS;
            const int last_lo = j0 + c0 + K - 1 - t0 > 0 ? j0 + c0 + K - 1 - t0 : 0;
            float *dk_rows = dk + (long)(j0 + c0) * hsp, *dv_rows = dv + (long)(j0 + c0) * hsp;
            if (last_lo < Rq) {
                NAME(p_rows)(K, ds_t + c0 * QROWS, QROWS, last_lo, Rq, q_rows, ldq, hsp, dk_rows);
                NAME(p_rows)(K, p_t + c0 * QROWS, QROWS, last_lo, Rq, do_rows, lddo, hsp, dv_rows);
            }
            for (int k = 0; k < K; k++) {
                const int lo = j0 + c0 + k - t0 > 0 ? j0 + c0 + k - t0 : 0;
                const int hi = last_lo < Rq ? last_lo : Rq;
                if (lo >= hi) continue;
                NAME(p_times_rows)
                (1, ds_t + (c0 + k) * QROWS, QROWS, lo, hi, q_rows, ldq, hsp,
                 dk_rows + (long)k * hsp);
                NAME(p_times_rows)
                (1, p_t + (c0 + k) * QROWS, QROWS, lo, hi, do_rows, lddo, hsp,
                 dv_rows + (long)k * hsp);
            }
        }
    }
    for (int r = 0; r < Rq; r++) {
        float *dqt = dq + (long)(t0 + r) * g->ld;
        for (int i = 0; i < g->hs; i++)
            dqt[i] += g->scale * acc[r * hsp + i];
    }
}

TILE_TARGET static void NAME(flash_head_backward)(const flash_head *g, int b, int h,
                                                  float *scratch) {
    const dl_attention_args *a = g->a;
    const int T = a->T, C = a->C, hs = g->hs, tp = g->tp, hsp = g->hsp;
    const long panel = (long)tp * hsp, ld = g->ld;
    const float *q = a->qkv + (long)b * T * ld + (long)h * hs;
    const float *dout = a->dout + (long)b * T * C + (long)h * hs;
    const float *out = a->out + (long)b * T * C + (long)h * hs;
    const float *lse = a->lse + ((long)b * a->NH + h) * T;
    float *kt = scratch, *vt = kt + (long)hs * tp, *kp = vt + (long)hs * tp, *qp = kp + panel;
    float *dop = qp + panel, *dk = dop + panel, *dv = dk + panel, *p_tile = dv + panel;
    float *ds_tile = p_tile + QROWS * KEYS, *p_t = ds_tile + QROWS * KEYS;
    float *ds_t = p_t + KEYS * QROWS, *acc = ds_t + KEYS * QROWS, *dd = acc + QROWS * hsp;
    NAME(flash_pack)(q + C, ld, T, hs, tp, hsp, true, kt);
    NAME(flash_pack)(q + 2L * C, ld, T, hs, tp, hsp, true, vt);
    /* K, Q and dO rows are read in place when hs fills whole vectors (hsp == hs), else from
     * zero-padded copies */
    const float *k_rows = q + C, *q_rows = q, *do_rows = dout;
    long ldk = ld, ldq = ld, lddo = C;
    if (hsp != hs) {
        NAME(flash_pack)(q + C, ld, T, hs, tp, hsp, false, kp);
        NAME(flash_pack)(q, ld, T, hs, tp, hsp, false, qp);
        NAME(flash_pack)(dout, C, T, hs, tp, hsp, false, dop);
        k_rows = kp, q_rows = qp, do_rows = dop, ldk = ldq = lddo = hsp;
    }
    memset(dk, 0, 2 * (size_t)panel * sizeof(float));
    for (int t = 0; t < T; t++) { /* D_t = dout_t · out_t */
        float sum = 0.0f;
        for (int i = 0; i < hs; i++)
            sum += dout[(long)t * C + i] * out[(long)t * C + i];
        dd[t] = sum;
    }
    float *dq = a->dqkv + (long)b * T * ld + (long)h * hs;
    for (int t0 = 0; t0 < T; t0 += QROWS)
        NAME(flash_backward_block)
        (g, T - t0 < QROWS ? T - t0 : QROWS, t0, q, kt, vt, k_rows, ldk, q_rows, ldq, do_rows, lddo,
         lse, dd, p_tile, ds_tile, p_t, ds_t, acc, dk, dv, dq);
    for (int s = 0; s < T; s++)
        for (int i = 0; i < hs; i++) {
            dq[s * ld + C + i] += g->scale * dk[(long)s * hsp + i];
            dq[s * ld + 2L * C + i] += dv[(long)s * hsp + i];
        }
}

#undef TILE
#undef VEC
