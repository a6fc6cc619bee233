/* sweep.c — lesson 7's simulations: every schedule over p, m and v against the published
 * bubble formula, the same schedules under unequal costs and send latency, and the headline
 * figures (bubble at p = 4, m = 8; peak activation memory of 1F1B against GPipe).
 *
 * Every number here comes from dl_pp_simulate in this run; the formula column is computed
 * from the paper's expression beside it, never copied into the simulated one.
 * Left out: measured costs (the real multi-rank execution is a later round).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pp_lesson.h"

const dl_pp_costs pp_equal_costs = {
    .forward = 1, .backward_input = 1, .backward_weight = 1, .send = 0};
static const int sweep_ps[] = {2, 4, 8};
static const int sweep_vs[] = {1, 2, 4};

int pp_sweep_ms(bool quick, int *m_out) {
    int n = 0;
    for (int m = 1; m <= 64; m = quick ? 2 * m : m + 1)
        m_out[n++] = m;
    return n;
}

bool pp_formula_applies(dl_pp_kind kind, int p, int m) { return kind != DL_PP_ZBH1 || m >= p; }

dl_status pp_bubble(dl_pp_kind kind, int p, int m, int v, double *bubble,
                    double *peak_microbatches) {
    dl_pp_schedule s;
    dl_pp_sim r;
    DL_TRY(dl_pp_schedule_build(kind, p, m, v, &s));
    dl_status st = dl_pp_simulate(&s, &pp_equal_costs, 0, &r);
    dl_pp_schedule_free(&s);
    DL_TRY(st);
    *bubble = r.bubble_fraction;
    if (peak_microbatches) *peak_microbatches = r.peak_microbatches;
    dl_pp_sim_free(&r);
    return DL_OK;
}

/* ----------------------------------------------------------------------- the sweep */

/* One line of theory_vs_sim: a (schedule, p, v) over all m of the sweep. */
typedef struct line_stats {
    int points, formula_points, differing; /* differing: |sim − formula| > 1e-12 where it applies */
    double max_abs_diff, sim_m8, formula_m8;
} line_stats;

static dl_status sweep_line(dl_pp_kind kind, int p, int v, const int *ms, int n_m, dlb_table *all,
                            dlb_plot *plot, line_stats *out) {
    double xs[64], sims[64], formulas[64];
    int n = 0;
    memset(out, 0, sizeof *out);
    out->sim_m8 = out->formula_m8 = NAN;
    for (int i = 0; i < n_m; i++) {
        const int m = ms[i];
        if (kind == DL_PP_INTERLEAVED && m % p != 0) continue;
        double sim, peak, formula = dl_pp_bubble_formula(kind, p, m, v);
        DL_TRY(pp_bubble(kind, p, m, v, &sim, &peak));
        const bool applies = pp_formula_applies(kind, p, m);
        dlb_table_str(all, dl_pp_kind_name(kind));
        dlb_table_int(all, p);
        dlb_table_int(all, v);
        dlb_table_int(all, m);
        dlb_table_num(all, sim);
        dlb_table_num(all, formula);
        dlb_table_str(all, applies ? "yes" : "no");
        dlb_table_num(all, peak);
        out->points++;
        if (applies) {
            double diff = fabs(sim - formula);
            out->formula_points++;
            if (diff > out->max_abs_diff) out->max_abs_diff = diff;
            if (diff > 1e-12) out->differing++;
        }
        if (m == 8) out->sim_m8 = sim, out->formula_m8 = formula;
        xs[n] = m, sims[n] = sim, formulas[n] = applies ? formula : NAN;
        n++;
    }
    if (plot) {
        char label[96];
        snprintf(label, sizeof label, "%s%s simulated", dl_pp_kind_name(kind),
                 kind == DL_PP_INTERLEAVED ? (v == 2   ? " v=2"
                                              : v == 4 ? " v=4"
                                                       : " v=1")
                                           : "");
        dlb_plot_series(plot, label, xs, sims, n);
        snprintf(label, sizeof label, "%s%s formula", dl_pp_kind_name(kind),
                 kind == DL_PP_INTERLEAVED ? (v == 2   ? " v=2"
                                              : v == 4 ? " v=4"
                                                       : " v=1")
                                           : "");
        dlb_plot_series(plot, label, xs, formulas, n);
    }
    return DL_OK;
}

dl_status pp_sweep(dlb_run *run, const pp_config *cfg, double *max_abs_diff) {
    int ms[64];
    const int n_m = pp_sweep_ms(cfg->quick, ms);
    dlb_table *all = dlb_table_new("bubble_sweep", "schedule", "p", "v", "m", "bubble_sim",
                                   "bubble_formula", "formula_applies", "peak_microbatches", NULL);
    dlb_table *lines =
        dlb_table_new("theory_vs_sim", "schedule", "p", "v", "points", "bubble_sim_m8",
                      "bubble_formula_m8", "max_abs_diff", "points_differing", NULL);
    if (!all || !lines) {
        dlb_table_free(all), dlb_table_free(lines);
        return DL_FAIL(DL_ERR_ALLOC, "tables");
    }
    dl_status st = DL_OK;
    *max_abs_diff = 0;
    for (int pi = 0; pi < 3 && st == DL_OK; pi++) {
        const int p = sweep_ps[pi];
        char name[64], title[160];
        snprintf(name, sizeof name, "bubble_vs_m_p%d", p);
        snprintf(title, sizeof title,
                 "bubble, p = %d, equal costs: simulated (colour), formula (dashed), "
                 "1F1B = GPipe",
                 p);
        dlb_plot *plot =
            dlb_plot_new(name, title, "microbatches m", "bubble fraction (idle / (p · makespan))");
        if (!plot)
            st = DL_FAIL(DL_ERR_ALLOC, "plot");
        else {
            dlb_plot_log(plot, true, false);
            /* series come in pairs (simulated, formula): the simulated line in colour, the
             * formula dashed black on top of it, so agreement shows as colour in the gaps */
            dlb_plot_extra(plot,
                           "set linetype 1 lc rgb '#2171b5'\nset linetype 3 lc rgb '#238b45'\n"
                           "set linetype 5 lc rgb '#ff7f00'\nset linetype 7 lc rgb '#de2d26'\n"
                           "do for [i=2:8:2] { set linetype i lc rgb 'black' dashtype 2 }");
        }
        for (int k = 0; k < DL_PP_N_KINDS && st == DL_OK; k++)
            for (int vi = 0; vi < 3 && st == DL_OK; vi++) {
                const int v = sweep_vs[vi];
                if (k != DL_PP_INTERLEAVED && v != 1) continue;
                line_stats ls;
                /* 1F1B lies exactly on GPipe's line: plot GPipe only, keep both in the tables */
                dlb_plot *draw =
                    k == DL_PP_1F1B || (k == DL_PP_INTERLEAVED && v == 1) ? NULL : plot;
                st = sweep_line((dl_pp_kind)k, p, v, ms, n_m, all, draw, &ls);
                if (st != DL_OK) break;
                dlb_table_str(lines, dl_pp_kind_name(k));
                dlb_table_int(lines, p);
                dlb_table_int(lines, v);
                dlb_table_int(lines, ls.points);
                dlb_table_numf(lines, ls.sim_m8, "%.6f");
                dlb_table_numf(lines, ls.formula_m8, "%.6f");
                dlb_table_numf(lines, ls.max_abs_diff, "%.2g");
                dlb_table_int(lines, ls.differing);
                if (ls.max_abs_diff > *max_abs_diff) *max_abs_diff = ls.max_abs_diff;
            }
        if (st == DL_OK && dlb_run_plot(run, plot) != 0) st = DL_FAIL(DL_ERR_IO, "%s", dlb_error());
        dlb_plot_free(plot);
    }
    if (st == DL_OK) {
        char path[4096];
        snprintf(path, sizeof path, "%s/bubble_sweep.csv", dlb_run_dir(run));
        printf("theory vs simulation, equal costs F = Bi = W, no send latency (%d points in "
               "bubble_sweep.csv;\n"
               "ZB-H1's formula is checked where m >= p, the others at every m):\n",
               dlb_table_rows(all));
        if (dlb_table_write_csv(all, path) != 0 || dlb_run_table(run, lines) != 0)
            st = DL_FAIL(DL_ERR_IO, "%s", dlb_error());
    }
    if (st == DL_OK)
        dlb_run_metric(run, "bubble_sim_max_abs_diff_formula", *max_abs_diff, "fraction");
    dlb_table_free(all);
    dlb_table_free(lines);
    return st;
}

/* --------------------------------------------------------------- unequal costs */

dl_status pp_costs_table(dlb_run *run) {
    /* B ≈ 2F is the usual rule of thumb (two matmuls per forward matmul); Bi ≈ W ≈ F */
    static const struct {
        const char *what;
        dl_pp_costs c;
    } cases[] = {
        {"equal F=Bi=W", {1, 1, 1, 0}}, {"cheap W", {1, 1, 0.5, 0}},
        {"heavy Bi", {1, 2, 1, 0}},     {"heavy W (W > F)", {1, 1, 2, 0}},
        {"send 0.1 F", {1, 1, 1, 0.1}}, {"send 0.5 F", {1, 1, 1, 0.5}},
    };
    dlb_table *t = dlb_table_new("costs_vs_formula", "costs", "schedule", "v", "bubble_sim",
                                 "bubble_formula", "sim_minus_formula", NULL);
    if (!t) return DL_FAIL(DL_ERR_ALLOC, "table");
    dl_status st = DL_OK;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0] && st == DL_OK; c++)
        for (int k = 0; k < DL_PP_N_KINDS && st == DL_OK; k++) {
            const int v = k == DL_PP_INTERLEAVED ? 2 : 1;
            dl_pp_schedule s;
            dl_pp_sim r;
            st = dl_pp_schedule_build((dl_pp_kind)k, 4, 8, v, &s);
            if (st != DL_OK) break;
            st = dl_pp_simulate(&s, &cases[c].c, 0, &r);
            dl_pp_schedule_free(&s);
            if (st != DL_OK) break;
            double formula = dl_pp_bubble_formula_costs((dl_pp_kind)k, 4, 8, v, &cases[c].c);
            dlb_table_str(t, cases[c].what);
            dlb_table_str(t, dl_pp_kind_name(k));
            dlb_table_int(t, v);
            dlb_table_numf(t, r.bubble_fraction, "%.4f");
            dlb_table_numf(t, formula, "%.4f");
            dlb_table_numf(t, r.bubble_fraction - formula, "%+.4f");
            dl_pp_sim_free(&r);
        }
    if (st == DL_OK) {
        printf("\np = 4, m = 8 under other costs (time in units of F; the formulas assume no send "
               "latency):\n");
        if (dlb_run_table(run, t) != 0) st = DL_FAIL(DL_ERR_IO, "%s", dlb_error());
    }
    dlb_table_free(t);
    return st;
}

/* ----------------------------------------------------------------- the headline */

dl_status pp_headline(dlb_run *run, const pp_config *cfg) {
    static const struct {
        dl_pp_kind kind;
        int v;
        const char *metric;
    } heads[] = {
        {DL_PP_GPIPE, 1, "bubble_gpipe_p4_m8_sim"},
        {DL_PP_1F1B, 1, "bubble_1f1b_p4_m8_sim"},
        {DL_PP_INTERLEAVED, 2, "bubble_interleaved_p4_m8_v2_sim"},
        {DL_PP_ZBH1, 1, "bubble_zbh1_p4_m8_sim"},
    };
    for (int i = 0; i < 4; i++) {
        double bubble;
        DL_TRY(pp_bubble(heads[i].kind, 4, 8, heads[i].v, &bubble, NULL));
        dlb_run_metric(run, heads[i].metric, bubble, "fraction");
    }
    /* peak activation memory at p = 4, m = 16 */
    dlb_table *t = dlb_table_new("peak_memory", "schedule", "v", "peak_microbatches", "peak_bytes",
                                 "bubble_sim", NULL);
    if (!t) return DL_FAIL(DL_ERR_ALLOC, "table");
    double peak_bytes[DL_PP_N_KINDS] = {0};
    dl_status st = DL_OK;
    for (int k = 0; k < DL_PP_N_KINDS && st == DL_OK; k++) {
        const int v = k == DL_PP_INTERLEAVED ? 2 : 1;
        dl_pp_schedule s;
        dl_pp_sim r;
        st = dl_pp_schedule_build((dl_pp_kind)k, 4, 16, v, &s);
        if (st != DL_OK) break;
        st = dl_pp_simulate(&s, &pp_equal_costs, cfg->bytes_per_microbatch, &r);
        dl_pp_schedule_free(&s);
        if (st != DL_OK) break;
        peak_bytes[k] = r.peak_bytes;
        dlb_table_str(t, dl_pp_kind_name(k));
        dlb_table_int(t, v);
        dlb_table_numf(t, r.peak_microbatches, "%.2f");
        dlb_table_numf(t, r.peak_bytes, "%.0f");
        dlb_table_numf(t, r.bubble_fraction, "%.4f");
        dl_pp_sim_free(&r);
    }
    if (st == DL_OK) {
        printf("\npeak activations held by the busiest stage, p = 4, m = 16, %.0f bytes per "
               "microbatch "
               "(simulated):\n",
               cfg->bytes_per_microbatch);
        if (dlb_run_table(run, t) != 0) st = DL_FAIL(DL_ERR_IO, "%s", dlb_error());
    }
    dlb_table_free(t);
    if (st != DL_OK) return st;
    dlb_run_metric(run, "peak_activations_1f1b_over_gpipe",
                   peak_bytes[DL_PP_1F1B] / peak_bytes[DL_PP_GPIPE], "ratio_simulated");
    dlb_run_metric(run, "peak_activation_bytes_1f1b_p4_m16_sim", peak_bytes[DL_PP_1F1B], "bytes");
    dlb_run_metric(run, "peak_activation_bytes_gpipe_p4_m16_sim", peak_bytes[DL_PP_GPIPE], "bytes");
    return DL_OK;
}
