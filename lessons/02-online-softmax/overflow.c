/* overflow.c — lesson 2 (a): why softmax subtracts the max, and how online softmax finds the
 * max without a pass of its own.
 *
 *   1. Logits of 100 (float e^100 overflows, e^88.7 is the largest): naive returns NaN, safe
 *      and online return the right probabilities.
 *   2. The online update on a short row, step by step: each new maximum rescales the
 *      running normalizer d by e^(m_old − m_new), so d is always Σ e^(x − m) over the
 *      elements seen so far.
 *   3. The pair rule: a row split in three parts, each summarized as (m, d), merged in two
 *      different orders, gives the normalizer of the whole row: what lets threads, SIMD
 *      lanes and FlashAttention's tiles each take a part.
 */
#include <math.h>
#include <stdio.h>

#include "sm_lesson.h"

void sm_online_trace(const float *x, int n, double *m, double *d) {
    double mm = -INFINITY, dd = 0.0;
    for (int i = 0; i < n; i++) {
        const double m_new = x[i] > mm ? x[i] : mm;
        dd = dd * exp(mm - m_new) + exp(x[i] - m_new);
        mm = m_new;
        m[i] = mm, d[i] = dd;
    }
}

static int overflow_table(dlb_run *run) {
    const float x[4] = {100.0f, 101.0f, 102.0f, 103.0f};
    const char *names[] = {"naive", "safe", "online", "ref"};
    dlb_table *t = dlb_table_new("softmax_overflow", "variant", "p0", "p1", "p2", "p3", NULL);
    for (int i = 0; i < 4; i++) {
        float y[4];
        dl_softmax_args a = {.N = 1, .V = 4, .inp = x, .out = y};
        if (dl_softmax_forward(dl_variant_find("softmax", names[i]), &a) != DL_OK) {
            fprintf(stderr, "error: %s\n", dl_last_error());
            dlb_table_free(t);
            return -1;
        }
        dlb_table_str(t, names[i]);
        for (int j = 0; j < 4; j++) dlb_table_numf(t, y[j], "%.6f");
    }
    printf("Logits 100..103: e^100 overflows fp32 (the largest finite e^x is at x = 88.72), so\n"
           "naive softmax divides inf by inf. Subtracting the max first keeps every e^x <= 1.\n");
    int rc = dlb_run_table(run, t);
    dlb_table_free(t);
    return rc;
}

static int trace_table(dlb_run *run) {
    const float x[6] = {1.0f, 3.0f, 2.0f, 5.0f, 5.0f, 0.0f};
    double m[6], d[6];
    sm_online_trace(x, 6, m, d);
    dlb_table *t = dlb_table_new("online_trace", "step", "x", "running_max_m", "running_d",
                                 "d_check_sum_exp_x_minus_m", NULL);
    for (int i = 0; i < 6; i++) {
        double check = 0.0;
        for (int j = 0; j <= i; j++) check += exp(x[j] - m[i]);
        dlb_table_int(t, i + 1);
        dlb_table_numf(t, x[i], "%.0f");
        dlb_table_numf(t, m[i], "%.0f");
        dlb_table_numf(t, d[i], "%.6f");
        dlb_table_numf(t, check, "%.6f");
    }
    printf("\nThe online update on [1, 3, 2, 5, 5, 0]: when a new max arrives, d is rescaled by "
           "e^(m_old - m_new);\nd always equals the sum of e^(x - m) so far (last column), so one "
           "pass finds both.\n");
    int rc = dlb_run_table(run, t);
    dlb_table_free(t);
    return rc;
}

static int combine_demo(dlb_run *run, const sm_config *cfg) {
    enum { V = 3000 };
    static float x[V];
    sm_fill_logits(x, V, cfg->seed, 3, -20.0f, 20.0f);
    const int cut[4] = {0, 700, 2100, V};
    float m[3], d[3];
    for (int p = 0; p < 3; p++) {
        m[p] = -INFINITY, d[p] = 0.0f;
        for (int j = cut[p]; j < cut[p + 1]; j++) {
            float mm, dd;
            dl_softmax_combine(m[p], d[p], x[j], 1.0f, &mm, &dd);
            m[p] = mm, d[p] = dd;
        }
    }
    float m_left, d_left, m_right, d_right, m12, d12, m23, d23;
    dl_softmax_combine(m[0], d[0], m[1], d[1], &m12, &d12);
    dl_softmax_combine(m12, d12, m[2], d[2], &m_left, &d_left); /* (A·B)·C */
    dl_softmax_combine(m[1], d[1], m[2], d[2], &m23, &d23);
    dl_softmax_combine(m[0], d[0], m23, d23, &m_right, &d_right); /* A·(B·C) */
    double mx = -INFINITY, sum = 0.0;
    for (int j = 0; j < V; j++) mx = x[j] > mx ? x[j] : mx;
    for (int j = 0; j < V; j++) sum += exp(x[j] - mx);
    const double err_left = fabs(d_left - sum) / sum, err_right = fabs(d_right - sum) / sum;
    printf("\nThe pair rule on a row of %d split 700 | 1400 | 900: (A·B)·C gives d = %.6f, "
           "A·(B·C) gives %.6f,\nthe whole row in double %.6f (relative errors %.1e, %.1e: fp32 "
           "rounding only).\n\n", V, d_left, d_right, sum, err_left, err_right);
    dlb_run_metric(run, "combine_rule_max_rel_err", err_left > err_right ? err_left : err_right,
                   "ratio");
    return m_left == m_right && m_left == (float)mx ? 0 : -1;
}

int sm_overflow(dlb_run *run, const sm_config *cfg) {
    if (overflow_table(run) != 0 || trace_table(run) != 0) return -1;
    if (combine_demo(run, cfg) != 0) {
        fprintf(stderr, "error: the pair rule did not find the row's max\n");
        return -1;
    }
    return 0;
}
