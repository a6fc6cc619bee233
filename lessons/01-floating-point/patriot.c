/* patriot.c — lesson 1 (a): the Patriot missile clock at Dhahran, 25 February 1991.
 *
 * The system counted time in tenths of a second (an integer, exact) and turned it into seconds
 * by multiplying by 1/10 held in a 24-bit fixed-point register: 1/10 chopped after 23 bits
 * past the binary point. The chopping error, 9.5e-8 s per tick, grows linearly with uptime;
 * after 100 hours the clock was 0.3433 s off and the range gate looked 687 m away from the
 * Scud (GAO report IMTEC-92-26, Appendix II).
 *
 * Everything here is integer or exact double arithmetic: the register is built by chopping
 * 2^23/10, not typed in, and the products tick × register fit in 53 bits. The GAO table is the
 * paper's figures, printed beside ours. Left out: the range-gate geometry itself (we use the
 * velocity the paper's own numbers imply, and say so).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fp_lesson.h"

/* ------------------------------------------------------------ the register */

uint32_t patriot_tenth_register(void) {
    /* Integer division floors: 2^23 / 10 = 838860.8 → 838860 = 0xCCCCC. That floor IS the
     * chopping: the bits of 1/10 beyond the 23rd are simply not kept. */
    return (uint32_t)((1u << PATRIOT_FRACTION_BITS) / 10u);
}

double patriot_tenth_chopped(void) {
    return ldexp((double)patriot_tenth_register(), -PATRIOT_FRACTION_BITS);
}

double patriot_computed_time_s(long ticks) {
    /* ticks (< 2^22 for 100 h) × 838860 (< 2^20) < 2^42: exact as an integer, and exact in a
     * double after scaling by 2^-23. */
    return ldexp((double)((uint64_t)ticks * patriot_tenth_register()), -PATRIOT_FRACTION_BITS);
}

static long ticks_after(double hours) { return lround(hours * PATRIOT_TICKS_PER_HOUR); }

/* The true time of `ticks` tenths; exact in a double for the tick counts used here. */
static double true_time_s(long ticks) { return (double)ticks / 10.0; }

double patriot_clock_error_s(double hours) {
    long ticks = ticks_after(hours);
    return true_time_s(ticks) - patriot_computed_time_s(ticks);
}

/* --------------------------------------------------------- the paper's table */

const patriot_gao_row patriot_gao_table[] = {
    {1, 0.0034, 7},    {8, 0.0275, 55},   {20, 0.0687, 137},
    {48, 0.1648, 330}, {72, 0.2472, 494}, {100, 0.3433, 687},
};
const int patriot_gao_rows = (int)(sizeof patriot_gao_table / sizeof patriot_gao_table[0]);

double patriot_gao_velocity_mps(double *lo_out, double *hi_out) {
    /* GAO prints shifts rounded to whole metres. A velocity v reproduces row r when
     * shift_r - 0.5 <= v × error_r < shift_r + 0.5; intersect that over all rows. */
    double lo = 0.0, hi = INFINITY;
    for (int r = 0; r < patriot_gao_rows; r++) {
        double err = patriot_clock_error_s(patriot_gao_table[r].hours);
        lo = fmax(lo, (patriot_gao_table[r].shift_m - 0.5) / err);
        hi = fmin(hi, (patriot_gao_table[r].shift_m + 0.5) / err);
    }
    if (lo_out) *lo_out = lo;
    if (hi_out) *hi_out = hi;
    return round((lo + hi) / 2);
}

double patriot_range_shift_m(double hours, double velocity_mps) {
    return patriot_clock_error_s(hours) * velocity_mps;
}

/* ------------------------------------------------------------------ the fixes */

double patriot_fp32_accumulate_error_s(double hours) {
    long ticks = ticks_after(hours);
    float t = 0.0f;
    for (long i = 0; i < ticks; i++)
        t += 0.1f; /* each add rounds to the ulp of t */
    return true_time_s(ticks) - (double)t;
}

double patriot_fp32_multiply_error_s(double hours) {
    long ticks = ticks_after(hours);
    float t = (float)ticks * 0.1f; /* one rounding of 0.1, one of the product */
    return true_time_s(ticks) - (double)t;
}

double patriot_double_accumulate_error_s(double hours) {
    long ticks = ticks_after(hours);
    double t = 0.0;
    for (long i = 0; i < ticks; i++)
        t += 0.1;
    return true_time_s(ticks) - t;
}

double patriot_integer_tenths_error_s(double hours) {
    /* Keep the count; divide only when a time in seconds is needed — and subtract counts,
     * not seconds, when a time DIFFERENCE is needed, which is what the range gate uses. */
    long ticks = ticks_after(hours);
    long tenths = 0;
    for (long i = 0; i < ticks; i++)
        tenths++;
    return true_time_s(ticks) - (double)tenths / 10.0;
}

/* ------------------------------------------------------------ the experiment */

/* "0.000110011..." : the first `bits` bits after the point of num/den (num < den). */
static void binary_fraction(unsigned long num, unsigned long den, int bits, char *out) {
    int k = 0;
    out[k++] = '0';
    out[k++] = '.';
    for (int i = 0; i < bits; i++) {
        num *= 2;
        out[k++] = num >= den ? '1' : '0';
        if (num >= den) num -= den;
    }
    out[k] = '\0';
}

int fp_patriot(dlb_run *run, const fp_config *cfg) {
    (void)cfg;
    int rc = -1;
    dlb_table *t = NULL, *f = NULL;
    dlb_plot *p = NULL;
    const uint32_t reg = patriot_tenth_register();
    char exact_bits[64], reg_bits[64];
    binary_fraction(1, 10, 40, exact_bits);
    binary_fraction(reg, 1ul << PATRIOT_FRACTION_BITS, PATRIOT_FRACTION_BITS, reg_bits);
    /* The error per tick, exactly: 1/10 − reg/2^23 = (2^23 − 10·reg) / (10·2^23). */
    const double per_tick = (double)((1ul << PATRIOT_FRACTION_BITS) - 10ul * reg) /
                            (10.0 * (double)(1ul << PATRIOT_FRACTION_BITS));

    printf("1/10 in binary        %s...\n", exact_bits);
    printf("the 24-bit register   %s  (0x%06X × 2^-23: chopped, not rounded)\n", reg_bits, reg);
    printf("                    = %.21f\n", patriot_tenth_chopped());
    printf(
        "error per tick        1/10 − register = %.10g s  (× 36000 ticks/hour = %.7f s/hour)\n\n",
        per_tick, per_tick * PATRIOT_TICKS_PER_HOUR);

    double v_lo, v_hi;
    const double v = patriot_gao_velocity_mps(&v_lo, &v_hi);
    printf(
        "GAO prints range-gate shifts, not the velocity behind them. Every v in [%.1f, %.1f) m/s\n"
        "reproduces all six printed shifts from our computed errors, so we use v = %.0f m/s.\n"
        "(687 m / 0.3433 s = %.0f m/s would miss the 72 h row. The often quoted Scud speed,\n"
        "%.0f m/s, gives other metres: it has its own column, not to be mixed with GAO's.)\n\n",
        v_lo, v_hi, v, 687 / 0.3433, PATRIOT_SCUD_MPS);

    t = dlb_table_new("patriot_gao", "hours", "ticks", "computed_time_s", "clock_error_s",
                      "paper_error_s", "shift_m", "paper_shift_m", "shift_at_scud_1676mps_m", NULL);
    int rows_match = 0;
    for (int r = 0; r < patriot_gao_rows; r++) {
        const patriot_gao_row *g = &patriot_gao_table[r];
        long ticks = ticks_after(g->hours);
        double err = patriot_clock_error_s(g->hours);
        double shift = patriot_range_shift_m(g->hours, v);
        dlb_table_int(t, g->hours);
        dlb_table_int(t, ticks);
        dlb_table_numf(t, patriot_computed_time_s(ticks), "%.4f");
        dlb_table_numf(t, err, "%.4f");
        dlb_table_numf(t, g->error_s, "%.4f");
        dlb_table_numf(t, shift, "%.0f");
        dlb_table_int(t, g->shift_m);
        dlb_table_numf(t, err * PATRIOT_SCUD_MPS, "%.0f");
        if (lround(err * 1e4) == lround(g->error_s * 1e4) && lround(shift) == g->shift_m)
            rows_match++;
    }
    printf("(a) The Patriot clock: this simulation vs GAO's Appendix II (paper_* = the paper's "
           "figures)\n");
    if (dlb_run_table(run, t) != 0) goto done;
    printf("rows matching GAO to the printed digits: %d of %d\n", rows_match, patriot_gao_rows);
    printf("computed time at 100 h: %.4f s of a true 360000 s. (REFERENCES.md quotes 359999.6667;\n"
           "that disagrees with GAO's own 0.3433 s column: 360000 − 0.3433 = 359999.6567.)\n\n",
           patriot_computed_time_s(ticks_after(100)));

    /* The fixes. Every method is run tick by tick for 100 hours; we keep its error at each
     * whole hour and the worst error it has shown so far (a clock that is right on the hour
     * can still be off in between: fp32 `ticks * 0.1f` is exact at whole hours only). */
    enum { H = 100, NM = 5 };
    static const char *const method[NM] = {
        "24-bit register, 1/10 chopped (Patriot)", "fp32: t += 0.1f every tick",
        "fp32: ticks * 0.1f", "double: t += 0.1 every tick", "integer tenths, divided when needed"};
    static double hours[H + 1], at_hour[NM][H + 1], worst[NM][H + 1];
    double worst_so_far[NM] = {0}, value[NM] = {0};
    float tf = 0.0f;
    double td = 0.0;
    long tenths = 0;
    for (long tick = 0; tick <= (long)H * PATRIOT_TICKS_PER_HOUR; tick++) {
        if (tick > 0) {
            tf += 0.1f;
            td += 0.1;
            tenths++;
        }
        value[0] = patriot_computed_time_s(tick);
        value[1] = tf;
        value[2] = (float)tick * 0.1f;
        value[3] = td;
        value[4] = (double)tenths / 10.0;
        const long double truth = (long double)tick / 10; /* exact to ~1e-20 relative */
        for (int m = 0; m < NM; m++) {
            double err = (double)(truth - (long double)value[m]);
            if (fabs(err) > worst_so_far[m]) worst_so_far[m] = fabs(err);
        }
        if (tick % PATRIOT_TICKS_PER_HOUR == 0) {
            int h = (int)(tick / PATRIOT_TICKS_PER_HOUR);
            hours[h] = h;
            for (int m = 0; m < NM; m++) {
                at_hour[m][h] = (double)(truth - (long double)value[m]);
                worst[m][h] = worst_so_far[m];
            }
        }
    }
    f = dlb_table_new("patriot_fixes", "method", "time_at_100h_s", "error_at_100h_s",
                      "worst_error_s", "worst_shift_m", NULL);
    for (int m = 0; m < NM; m++) {
        dlb_table_str(f, method[m]);
        dlb_table_numf(f, 360000.0 - at_hour[m][H], "%.6f");
        dlb_table_numf(f, at_hour[m][H], "%.3g");
        dlb_table_numf(f, worst[m][H], "%.3g");
        dlb_table_numf(f, worst[m][H] * v, "%.3g");
    }
    printf(
        "The fixes over 100 hours (error = true − computed; worst = largest |error| at any tick;\n"
        "shift at the derived %.0f m/s):\n",
        v);
    if (dlb_run_table(run, f) != 0) goto done;
    printf("\n");

    p = dlb_plot_new("patriot_drift",
                     "Patriot clock: worst error so far (integer tenths: exactly 0)",
                     "hours of uptime", "worst |clock error| so far (s)");
    dlb_plot_log(p, false, true);
    const char *label[NM] = {"24-bit chopped 1/10", "fp32 t += 0.1f", "fp32 ticks*0.1f",
                             "double t += 0.1", NULL};
    for (int m = 0; m < NM - 1; m++)
        dlb_plot_series(p, label[m], hours + 1, worst[m] + 1, H);
    dlb_plot_hline(p, "GAO: 0.3433 s at 100 h", 0.3433);
    dlb_plot_extra(p, "set xrange [0:100]; set format y '1e%T'");
    if (dlb_run_plot(run, p) != 0) goto done;

    dlb_run_metric(run, "patriot_clock_error_s_100h", patriot_clock_error_s(100), "s");
    dlb_run_metric(run, "patriot_range_shift_m_100h", patriot_range_shift_m(100, v), "m");
    dlb_run_metric(run, "patriot_range_shift_m_100h_at_scud_1676mps",
                   patriot_range_shift_m(100, PATRIOT_SCUD_MPS), "m");
    dlb_run_metric(run, "patriot_velocity_mps_derived", v, "m/s");
    dlb_run_metric(run, "patriot_computed_time_s_100h", patriot_computed_time_s(ticks_after(100)),
                   "s");
    dlb_run_metric(run, "patriot_error_per_tick_s", per_tick, "s");
    dlb_run_metric(run, "patriot_gao_rows_matched", rows_match, "rows");
    dlb_run_metric(run, "patriot_fp32_accumulate_error_s_100h", at_hour[1][H], "s");
    dlb_run_metric(run, "patriot_fp32_multiply_worst_error_s_100h", worst[2][H], "s");
    dlb_run_metric(run, "patriot_double_accumulate_error_s_100h", at_hour[3][H], "s");
    rc = 0;
done:
    if (rc != 0) fprintf(stderr, "error: %s\n", dlb_error());
    if (p) dlb_plot_free(p);
    if (f) dlb_table_free(f);
    if (t) dlb_table_free(t);
    return rc;
}
