/* plot.c — line plots drawn by gnuplot: collect series and reference lines, then write
 * <name>.dat (one gnuplot data block per series, blocks separated by two blank lines),
 * <name>.gp (a script that reads the .dat and writes <name>.png, all paths relative to the
 * run directory, so `cd <dir> && gnuplot <name>.gp` redraws it) and run gnuplot there.
 * The script picks pngcairo when this gnuplot has it and plain png otherwise.
 * Without gnuplot the .dat and .gp are still written and a warning says how to draw them.
 * Left out: bar charts, error bars, multiple panels — use dlb_plot_extra or edit the .gp. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dlb_internal.h"

typedef struct series {
    char *label;
    double *x, *y;
    int n;
} series;

typedef struct hline {
    char *label;
    double y;
} hline;

struct dlb_plot {
    char *name, *title, *xlabel, *ylabel, *extra;
    bool logx, logy;
    series *series;
    int nseries;
    hline *hlines;
    int nhlines;
};

dlb_plot *dlb_plot_new(const char *name, const char *title, const char *xlabel, const char *ylabel) {
    dlb_plot *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->name = dlbi_strdup(name);
    p->title = dlbi_strdup(title);
    p->xlabel = dlbi_strdup(xlabel);
    p->ylabel = dlbi_strdup(ylabel);
    p->extra = dlbi_strdup("");
    if (!p->name || !p->title || !p->xlabel || !p->ylabel || !p->extra || !p->name[0]) {
        dlb_plot_free(p);
        return NULL;
    }
    return p;
}

void dlb_plot_free(dlb_plot *p) {
    if (!p) return;
    for (int i = 0; i < p->nseries; i++) {
        free(p->series[i].label);
        free(p->series[i].x);
        free(p->series[i].y);
    }
    for (int i = 0; i < p->nhlines; i++) free(p->hlines[i].label);
    free(p->series);
    free(p->hlines);
    free(p->name);
    free(p->title);
    free(p->xlabel);
    free(p->ylabel);
    free(p->extra);
    free(p);
}

void dlb_plot_log(dlb_plot *p, bool logx, bool logy) {
    if (!p) return;
    p->logx = logx;
    p->logy = logy;
}

void dlb_plot_series(dlb_plot *p, const char *label, const double *x, const double *y, int n) {
    if (!p || n < 0) return;
    series *grown = realloc(p->series, (size_t)(p->nseries + 1) * sizeof *grown);
    if (!grown) return;
    p->series = grown;
    series s = {.label = dlbi_strdup(label), .n = n};
    s.x = malloc((size_t)(n > 0 ? n : 1) * sizeof *s.x);
    s.y = malloc((size_t)(n > 0 ? n : 1) * sizeof *s.y);
    if (!s.label || !s.x || !s.y) {
        free(s.label);
        free(s.x);
        free(s.y);
        return;
    }
    if (n > 0) {
        memcpy(s.x, x, (size_t)n * sizeof *s.x);
        memcpy(s.y, y, (size_t)n * sizeof *s.y);
    }
    p->series[p->nseries++] = s;
}

void dlb_plot_hline(dlb_plot *p, const char *label, double y) {
    if (!p) return;
    hline *grown = realloc(p->hlines, (size_t)(p->nhlines + 1) * sizeof *grown);
    if (!grown) return;
    p->hlines = grown;
    p->hlines[p->nhlines] = (hline){.label = dlbi_strdup(label), .y = y};
    if (p->hlines[p->nhlines].label) p->nhlines++;
}

void dlb_plot_extra(dlb_plot *p, const char *gnuplot_commands) {
    if (!p || !gnuplot_commands) return;
    size_t old = strlen(p->extra), add = strlen(gnuplot_commands);
    char *grown = realloc(p->extra, old + add + 2);
    if (!grown) return;
    memcpy(grown + old, gnuplot_commands, add);
    grown[old + add] = '\n';
    grown[old + add + 1] = '\0';
    p->extra = grown;
}

/* Points a log axis cannot show, and non-finite ones, are dropped (as the header promises). */
static bool point_ok(const dlb_plot *p, double x, double y) {
    return isfinite(x) && isfinite(y) && (!p->logx || x > 0) && (!p->logy || y > 0);
}

static int series_points(const dlb_plot *p, const series *s) {
    int n = 0;
    for (int i = 0; i < s->n; i++) n += point_ok(p, s->x[i], s->y[i]);
    return n;
}

/* A gnuplot single-quoted string: a quote inside is doubled, newlines become spaces. */
static void gp_str(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
    fputc('\'', f);
}

/* set <what> '<value>' */
static void gp_set(FILE *f, const char *what, const char *value) {
    fprintf(f, "set %s ", what);
    gp_str(f, value);
    fputc('\n', f);
}

static int write_data(const dlb_plot *p, const char *dir) {
    char file[512], path[4096], tmp[4200];
    snprintf(file, sizeof file, "%s.dat", p->name);
    if (dlbi_path(path, sizeof path, dir, file) != 0) return -1;
    FILE *f = dlbi_tmp_open(path, tmp, sizeof tmp);
    if (!f) return -1;
    int block = 0;
    for (int i = 0; i < p->nseries; i++) {
        const series *s = &p->series[i];
        if (series_points(p, s) == 0) continue;
        fprintf(f, "%s# %s\n", block++ ? "\n\n" : "", s->label);
        for (int k = 0; k < s->n; k++)
            if (point_ok(p, s->x[k], s->y[k])) fprintf(f, "%.10g %.10g\n", s->x[k], s->y[k]);
    }
    return dlbi_tmp_commit(f, tmp, path);
}

/* Writes the script; *drawable says whether it has anything to plot. */
static int write_script(const dlb_plot *p, const char *dir, bool *drawable) {
    char file[512], path[4096], tmp[4200];
    snprintf(file, sizeof file, "%s.gp", p->name);
    if (dlbi_path(path, sizeof path, dir, file) != 0) return -1;
    FILE *f = dlbi_tmp_open(path, tmp, sizeof tmp);
    if (!f) return -1;
    fputs("# Written by libdlbench. Redraw with: gnuplot ", f);
    fprintf(f, "%s.gp (in this directory)\n", p->name);
    fputs("if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
          "    set terminal pngcairo size 900,650\n"
          "} else {\n"
          "    set terminal png size 900,650\n"
          "}\n"
          "set termoption noenhanced\n",
          f);
    char png[520];
    snprintf(png, sizeof png, "%s.png", p->name);
    gp_set(f, "output", png);
    gp_set(f, "title", p->title);
    gp_set(f, "xlabel", p->xlabel);
    gp_set(f, "ylabel", p->ylabel);
    if (p->logx) fputs("set logscale x\n", f);
    if (p->logy) fputs("set logscale y\n", f);
    fputs("set grid\nset key below maxcols 3\n", f);
    fputs(p->extra, f);

    char dat[520];
    snprintf(dat, sizeof dat, "%s.dat", p->name);
    int terms = 0, block = 0;
    for (int i = 0; i < p->nseries; i++) {
        if (series_points(p, &p->series[i]) == 0) continue;
        fputs(terms++ ? ", \\\n     " : "plot ", f);
        gp_str(f, dat);
        fprintf(f, " index %d using 1:2 with linespoints lw 2 pt 7 ps 0.8 title ", block++);
        gp_str(f, p->series[i].label);
    }
    if (block == 0 && p->logx) fputs("set xrange [1:10]\n", f); /* no data to autoscale on */
    for (int i = 0; i < p->nhlines; i++) {
        double y = p->hlines[i].y;
        if (!isfinite(y) || (p->logy && y <= 0)) continue;
        if (terms == 0 && block == 0 && !p->logx) fputs("set xrange [0:1]\n", f);
        fputs(terms++ ? ", \\\n     " : "plot ", f);
        fprintf(f, "%.10g with lines dashtype 2 lw 2 title ", y);
        gp_str(f, p->hlines[i].label);
    }
    fputs(terms ? "\n" : "# nothing to plot\n", f);
    *drawable = terms > 0;
    return dlbi_tmp_commit(f, tmp, path);
}

/* Is there an executable `name` on PATH? */
static bool on_path(const char *name) {
    const char *path = getenv("PATH");
    if (!path) path = "/usr/bin:/bin";
    char candidate[4096];
    while (*path) {
        size_t len = strcspn(path, ":");
        snprintf(candidate, sizeof candidate, "%.*s/%s", (int)len, len ? path : ".", name);
        if (access(candidate, X_OK) == 0) return true;
        path += len + (path[len] == ':');
    }
    return false;
}

int dlbi_plot_render(const dlb_plot *p, const char *dir) {
    if (!p) return dlbi_fail("dlb_run_plot: plot is NULL (dlb_plot_new failed?)");
    bool drawable = false;
    if (write_data(p, dir) != 0 || write_script(p, dir, &drawable) != 0) return -1;
    if (!drawable) {
        fprintf(stderr, "dlbench: warning: plot '%s' has no points to draw\n", p->name);
        return 0;
    }
    if (!on_path("gnuplot")) {
        fprintf(stderr, "dlbench: warning: gnuplot not found; to draw the plot later: cd %s && gnuplot %s.gp\n",
                dir, p->name);
        return 0;
    }
    char script[520];
    snprintf(script, sizeof script, "%s.gp", p->name);
    fflush(NULL); /* the child must not repeat our buffered output */
    pid_t pid = fork();
    if (pid < 0) return dlbi_fail("cannot start gnuplot: %s", strerror(errno));
    if (pid == 0) {
        if (chdir(dir) == 0) execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return dlbi_fail("waiting for gnuplot: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return dlbi_fail("gnuplot failed on %s/%s (exit status %d)", dir, script,
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}

const char *dlbi_plot_name(const dlb_plot *p) { return p ? p->name : ""; }
