/* gantt.c — a Gantt chart of one simulated pipeline timeline, drawn by gnuplot.
 *
 * The harness draws line plots; a Gantt chart is rectangles, so each op becomes a gnuplot
 * `set object rect` (passed through dlb_plot_extra) and the only plotted series is the
 * vertical line at the makespan. Stage 0 is the top row; white space is the bubble.
 * Left out: drawing the sends (the simulator adds their latency to the waiting op's start).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pp_lesson.h"

/* Fill colour of an op: forward blue, backward red, weight gradient green; later chunks of
 * an interleaved stage a shade darker, so the chunks can be told apart. */
static const char *op_colour(int type, int chunk) {
    static const char *forward[] = {"#6baed6", "#2171b5", "#08519c", "#08306b"};
    static const char *backward[] = {"#fc9272", "#de2d26", "#a50f15", "#67000d"};
    static const char *weight[] = {"#74c476", "#238b45", "#006d2c", "#00441b"};
    int shade = chunk < 0 ? 0 : chunk > 3 ? 3 : chunk;
    return type == DL_PP_F ? forward[shade] : type == DL_PP_W ? weight[shade] : backward[shade];
}

dl_status pp_gantt(dlb_run *run, const char *name, const dl_pp_schedule *s, const dl_pp_sim *r) {
    const int n = s->begin[s->p];
    const size_t cap = (size_t)n * 360 + 1024;
    char *cmds = malloc(cap);
    if (!cmds) return DL_FAIL(DL_ERR_ALLOC, "%zu bytes of gnuplot commands", cap);
    size_t len = 0;
    len +=
        (size_t)snprintf(cmds + len, cap - len,
                         "set yrange [%g:-0.6]\nset xrange [0:%g]\nset ytics 1\nset grid noytics\n"
                         "set ylabel 'stage'\n",
                         s->p - 0.4, r->makespan * 1.02);
    for (int st = 0; st < s->p; st++)
        for (int i = s->begin[st]; i < s->begin[st + 1]; i++) {
            const dl_pp_op *op = &s->ops[i];
            len += (size_t)snprintf(
                cmds + len, cap - len,
                "set object %d rect from %.6g,%.2f to %.6g,%.2f fc rgb '%s' fs solid 0.9 "
                "border lc rgb '#333333'\n",
                i + 1, r->start[i], st - 0.38, r->end[i], st + 0.38,
                op_colour(op->type, op->chunk));
            len += (size_t)snprintf(cmds + len, cap - len,
                                    "set label %d '%d' at %.6g,%d center front font ',8'\n", i + 1,
                                    op->microbatch, 0.5 * (r->start[i] + r->end[i]), st);
        }
    char title[256];
    snprintf(title, sizeof title,
             "%s: p=%d m=%d v=%d, bubble %.4f (simulated; F blue, B/Bi red, W green, number = "
             "microbatch)",
             dl_pp_kind_name(s->kind), s->p, s->m, s->v, r->bubble_fraction);
    dlb_plot *plot =
        dlb_plot_new(name, title, "time (units of one forward of a whole stage)", "stage");
    if (!plot) {
        free(cmds);
        return DL_FAIL(DL_ERR_ALLOC, "plot");
    }
    dlb_plot_extra(plot, cmds);
    free(cmds);
    const double x[2] = {r->makespan, r->makespan}, y[2] = {-0.5, s->p - 0.5};
    dlb_plot_series(plot, "makespan", x, y, 2);
    dl_status st = dlb_run_plot(run, plot) == 0 ? DL_OK : DL_FAIL(DL_ERR_IO, "%s", dlb_error());
    dlb_plot_free(plot);
    return st;
}

dl_status pp_gantts(dlb_run *run) {
    for (int k = 0; k < DL_PP_N_KINDS; k++) {
        const int v = k == DL_PP_INTERLEAVED ? 2 : 1;
        dl_pp_schedule s;
        dl_pp_sim r;
        DL_TRY(dl_pp_schedule_build((dl_pp_kind)k, 4, 8, v, &s));
        dl_status st = dl_pp_simulate(&s, &pp_equal_costs, 0, &r);
        if (st == DL_OK) {
            char name[64];
            snprintf(name, sizeof name, "gantt_%s_p4_m8", dl_pp_kind_name(k));
            st = pp_gantt(run, name, &s, &r);
            dl_pp_sim_free(&r);
        }
        dl_pp_schedule_free(&s);
        DL_TRY(st);
    }
    return DL_OK;
}
