/* attention.c — lesson 2 (d): the online softmax inside causal attention.
 *
 * Materialized attention writes the T×T score matrix of every head (and its backward reads
 * it back): at T = 1024 with 8 heads that is 32 MiB per sequence. A flash-style variant
 * walks the keys in tiles and keeps, for each query row, the running (max, normalizer,
 * output) — the pair rule of part (a) applied to rows of scores — so it never stores the
 * matrix; its backward recomputes the probabilities from one log-sum-exp per row.
 *
 * Measured: the flash output against ref (double sums; max |flash − ref| / max |ref|, and
 * the same for materialized), and forward, forward + backward time of the fastest flash
 * variant against the fastest materialized one at T = 256 and 1024 (quick: 128, 256).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sm_lesson.h"

static const char *const FLASH[] = {"flash_avx512", "flash_avx2", "flash", NULL};
static const char *const MATERIALIZED[] = {"omp_avx512", "omp_avx2", "ref", NULL};

typedef struct attn_call {
    const dl_variant *v;
    dl_attention_args a;
    bool backward; /* forward, then backward (dqkv accumulates; its values do not matter) */
} attn_call;

static void run_attention(void *ctx) {
    attn_call *c = ctx;
    (void)dl_attention_forward(c->v, &c->a);
    if (c->backward) (void)dl_attention_backward(c->v, &c->a);
}

/* max |a − b| / max |b| over n floats. */
static double normwise_err(const float *a, const float *b, size_t n) {
    double diff = 0.0, scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - b[i]);
        if (!(d <= diff)) diff = d;
        if (fabs(b[i]) > scale) scale = fabs(b[i]);
    }
    return scale > 0 ? diff / scale : diff;
}

typedef struct buffers {
    float *qkv, *out, *out_ref, *att, *lse, *dout, *dqkv;
} buffers;

static void free_buffers(buffers *b) {
    dl_free(b->qkv), dl_free(b->out), dl_free(b->out_ref), dl_free(b->att), dl_free(b->lse);
    dl_free(b->dout), dl_free(b->dqkv);
    memset(b, 0, sizeof *b);
}

static int alloc_buffers(buffers *b, int B, int T, int C, int NH) {
    memset(b, 0, sizeof *b);
    const size_t bt = (size_t)B * T;
    if (dl_alloc((void **)&b->qkv, sizeof(float) * bt * 3 * C) != DL_OK ||
        dl_alloc((void **)&b->out, sizeof(float) * bt * C) != DL_OK ||
        dl_alloc((void **)&b->out_ref, sizeof(float) * bt * C) != DL_OK ||
        dl_alloc((void **)&b->att, sizeof(float) * (size_t)B * NH * T * T) != DL_OK ||
        dl_alloc((void **)&b->lse, sizeof(float) * (size_t)B * NH * T) != DL_OK ||
        dl_alloc((void **)&b->dout, sizeof(float) * bt * C) != DL_OK ||
        dl_calloc((void **)&b->dqkv, sizeof(float) * bt * 3 * C) != DL_OK) {
        fprintf(stderr, "error: %s\n", dl_last_error());
        free_buffers(b);
        return -1;
    }
    return 0;
}

int sm_attention(dlb_run *run, const sm_config *cfg) {
    const dl_variant *flash = sm_first_available("attention", FLASH);
    const dl_variant *mat = sm_first_available("attention", MATERIALIZED);
    const dl_variant *ref = dl_variant_find("attention", "ref");
    if (!flash || !mat || !ref) {
        fprintf(stderr, "error: no flash or materialized attention variant registered\n");
        return -1;
    }
    const int B = 2, C = 512, NH = 8; /* head size 64, as GPT-2 */
    const int ts_full[] = {256, 1024}, ts_quick[] = {128, 256};
    const int *ts = cfg->quick ? ts_quick : ts_full;
    dlb_table *t = dlb_table_new("flash_attention", "T", "scores_mib_avoided", "flash_err_vs_ref",
                                 "materialized_err_vs_ref", "fwd_materialized_ms", "fwd_flash_ms",
                                 "fwd_speedup", "fwdbwd_materialized_ms", "fwdbwd_flash_ms",
                                 "fwdbwd_speedup", NULL);
    printf("Causal attention, B = %d, C = %d, %d heads: %s (stores T×T scores) against %s (running "
           "max, normalizer, output per row)\n", B, C, NH, mat->name, flash->name);
    dlb_opts opts = sm_timing_opts(cfg);
    int rc = -1;
    double worst = 0.0;
    for (int q = 0; q < 2; q++) {
        const int T = ts[q];
        buffers b;
        if (alloc_buffers(&b, B, T, C, NH) != 0) goto done;
        sm_fill_logits(b.qkv, (size_t)B * T * 3 * C, cfg->seed, 6, -1.0f, 1.0f);
        sm_fill_logits(b.dout, (size_t)B * T * C, cfg->seed, 7, -1.0f, 1.0f);
        dl_attention_args a = {.B = B, .T = T, .C = C, .NH = NH, .qkv = b.qkv, .out = b.out_ref,
                               .att = b.att, .lse = b.lse, .dout = b.dout, .dqkv = b.dqkv};
        dl_attention_args af = a;
        af.out = b.out;
        double err_flash = NAN, err_mat = NAN;
        if (dl_attention_forward(ref, &a) != DL_OK || dl_attention_forward(flash, &af) != DL_OK) {
            fprintf(stderr, "error: %s\n", dl_last_error());
            free_buffers(&b);
            goto done;
        }
        err_flash = normwise_err(b.out, b.out_ref, (size_t)B * T * C);
        if (dl_attention_forward(mat, &af) != DL_OK) {
            fprintf(stderr, "error: %s\n", dl_last_error());
            free_buffers(&b);
            goto done;
        }
        err_mat = normwise_err(b.out, b.out_ref, (size_t)B * T * C);
        if (err_flash > worst) worst = err_flash;

        attn_call cm = {mat, af, false}, cf = {flash, af, false};
        dlb_ab fwd, both;
        int bad = dlb_compare(run_attention, &cm, run_attention, &cf, &opts, &fwd);
        cm.backward = cf.backward = true;
        if (!bad) bad = dlb_compare(run_attention, &cm, run_attention, &cf, &opts, &both);
        if (bad) {
            fprintf(stderr, "error: %s\n", dlb_error());
            free_buffers(&b);
            goto done;
        }
        dlb_table_int(t, T);
        dlb_table_numf(t, dl_attention_scores_bytes(&a) / 1048576.0, "%.1f");
        dlb_table_numf(t, err_flash, "%.2g");
        dlb_table_numf(t, err_mat, "%.2g");
        dlb_table_numf(t, 1e3 * fwd.a.time.median, "%.2f");
        dlb_table_numf(t, 1e3 * fwd.b.time.median, "%.2f");
        dlb_table_numf(t, fwd.ratio.median, "%.2f");
        dlb_table_numf(t, 1e3 * both.a.time.median, "%.2f");
        dlb_table_numf(t, 1e3 * both.b.time.median, "%.2f");
        dlb_table_numf(t, both.ratio.median, "%.2f");
        if (q == 1) {
            char m[64];
            snprintf(m, sizeof m, "flash_vs_materialized_fwd_speedup_t%d", T);
            dlb_run_metric(run, m, fwd.ratio.median, "x");
            snprintf(m, sizeof m, "flash_vs_materialized_fwdbwd_speedup_t%d", T);
            dlb_run_metric(run, m, both.ratio.median, "x");
            snprintf(m, sizeof m, "flash_scores_mib_avoided_t%d", T);
            dlb_run_metric(run, m, dl_attention_scores_bytes(&a) / 1048576.0, "mib");
        }
        free_buffers(&b);
    }
    dlb_run_metric(run, "flash_attention_max_rel_err", worst, "ratio");
    rc = dlb_run_table(run, t);
    printf("(errors: max |variant − ref| / max |ref| over the output; speedup = "
           "time(materialized) / time(flash), interleaved)\n\n");
done:
    dlb_table_free(t);
    return rc;
}
