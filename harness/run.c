/* run.c — a run's results directory and what is recorded in it as the run goes.
 *
 * Life of a run:
 *   dlb_run_open    mkdir -p the directory, prove it writable with a probe file, delete a
 *                   run.json left by an earlier run (so a crash is never read as success),
 *                   collect the machine context (load is read before the work starts);
 *   dlb_run_table / dlb_run_plot   write their files at once (tmp + rename);
 *   dlb_run_param / metric / benchmark   are kept in memory;
 *   dlb_run_close   writes summary.csv, benchmarks.json, then run.json with
 *                   "complete": true — only if the other two were written — and frees.
 *   dlb_run_abort   frees without writing: the directory then has no run.json.
 * A run with no benchmarks still writes benchmarks.json, with an empty "benchmarks" list,
 * so tools never have to ask whether the file exists. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlb_internal.h"

/* Create and delete a file: mkdir succeeding does not prove we may write here. */
static int probe_writable(const char *dir) {
    char path[4096];
    char file[64];
    snprintf(file, sizeof file, ".dlbench-probe-%ld", (long)getpid());
    if (dlbi_path(path, sizeof path, dir, file) != 0) return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return dlbi_fail("results directory '%s' is not writable: %s", dir, strerror(errno));
    bool wrote = write(fd, "x", 1) == 1;
    int saved = errno;
    close(fd);
    unlink(path);
    if (!wrote) return dlbi_fail("results directory '%s' is not writable: %s", dir, strerror(saved));
    return 0;
}

int dlb_run_open(const char *dir, const char *name, dlb_run **out) {
    *out = NULL;
    if (!dir || !dir[0]) return dlbi_fail("dlb_run_open: no results directory given");
    if (dlbi_mkdir_p(dir) != 0) {
        char why[1024]; /* copied: the message buffer cannot be both source and target */
        snprintf(why, sizeof why, "%s", dlb_error());
        return dlbi_fail("dlb_run_open: %s", why);
    }
    if (probe_writable(dir) != 0) return -1;
    char path[4096];
    if (dlbi_path(path, sizeof path, dir, "run.json") != 0) return -1;
    if (unlink(path) != 0 && errno != ENOENT)
        return dlbi_fail("cannot remove the old '%s': %s", path, strerror(errno));

    dlb_run *r = calloc(1, sizeof *r);
    if (!r) return dlbi_fail("dlb_run_open: out of memory");
    r->dir = dlbi_strdup(dir);
    r->name = dlbi_strdup(name);
    if (!r->dir || !r->name) {
        dlb_run_abort(r);
        return dlbi_fail("dlb_run_open: out of memory");
    }
    r->opened_s = dlb_now();
    dlb_context_collect(&r->context);
    *out = r;
    return 0;
}

const char *dlb_run_dir(const dlb_run *r) { return r ? r->dir : ""; }

void dlb_run_param(dlb_run *r, const char *key, const char *fmt, ...) {
    if (!r || !key || !fmt) return;
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    for (int i = 0; i < r->nparams; i++) {
        if (strcmp(r->params[i].key, key) != 0) continue;
        char *v = dlbi_strdup(value);
        if (v) {
            free(r->params[i].value);
            r->params[i].value = v;
        }
        return;
    }
    dlbi_param *grown = realloc(r->params, (size_t)(r->nparams + 1) * sizeof *grown);
    if (!grown) return;
    r->params = grown;
    dlbi_param p = {dlbi_strdup(key), dlbi_strdup(value)};
    if (!p.key || !p.value) {
        free(p.key);
        free(p.value);
        return;
    }
    r->params[r->nparams++] = p;
}

void dlb_run_metric(dlb_run *r, const char *metric, double value, const char *unit) {
    if (!r || !metric) return;
    for (int i = 0; i < r->nmetrics; i++) {
        if (strcmp(r->metrics[i].name, metric) != 0) continue;
        char *u = dlbi_strdup(unit);
        if (!u) return;
        free(r->metrics[i].unit);
        r->metrics[i].unit = u;
        r->metrics[i].value = value; /* the last value wins; the row keeps its place */
        return;
    }
    dlbi_metric *grown = realloc(r->metrics, (size_t)(r->nmetrics + 1) * sizeof *grown);
    if (!grown) return;
    r->metrics = grown;
    dlbi_metric m = {dlbi_strdup(metric), dlbi_strdup(unit), value};
    if (!m.name || !m.unit) {
        free(m.name);
        free(m.unit);
        return;
    }
    r->metrics[r->nmetrics++] = m;
}

void dlb_run_benchmark(dlb_run *r, const char *name, const dlb_result *res, const dlb_counter *counters) {
    if (!r || !name || !res) return;
    dlbi_bench *grown = realloc(r->benches, (size_t)(r->nbenches + 1) * sizeof *grown);
    if (!grown) return;
    r->benches = grown;
    dlbi_bench b = {.name = dlbi_strdup(name), .result = *res};
    if (!b.name) return;
    for (int i = 0; counters && counters[i].name && b.ncounters < 8; i++) {
        char *cname = dlbi_strdup(counters[i].name);
        if (!cname) break;
        b.counter_name[b.ncounters] = cname;
        b.counter_value[b.ncounters++] = counters[i].value;
    }
    r->benches[r->nbenches++] = b;
}

static void add_file(dlb_run *r, const char *name, const char *ext) {
    char file[512];
    snprintf(file, sizeof file, "%s%s", name, ext);
    for (int i = 0; i < r->nfiles; i++)
        if (strcmp(r->files[i], file) == 0) return;
    char **grown = realloc(r->files, (size_t)(r->nfiles + 1) * sizeof *grown);
    if (!grown) return;
    r->files = grown;
    if ((r->files[r->nfiles] = dlbi_strdup(file)) != NULL) r->nfiles++;
}

int dlb_run_table(dlb_run *r, const dlb_table *t) {
    if (!r) return dlbi_fail("dlb_run_table: run is NULL");
    if (!t) return dlbi_fail("dlb_run_table: table is NULL (dlb_table_new failed?)");
    dlb_table_print(t);
    char file[512], path[4096];
    snprintf(file, sizeof file, "%s.csv", dlbi_table_name(t));
    if (dlbi_path(path, sizeof path, r->dir, file) != 0) return -1;
    if (dlb_table_write_csv(t, path) != 0) return -1;
    add_file(r, dlbi_table_name(t), ".csv");
    return 0;
}

int dlb_run_plot(dlb_run *r, const dlb_plot *p) {
    if (!r) return dlbi_fail("dlb_run_plot: run is NULL");
    if (dlbi_plot_render(p, r->dir) != 0) return -1;
    add_file(r, dlbi_plot_name(p), ".png");
    return 0;
}

int dlb_run_close(dlb_run *r) {
    if (!r) return dlbi_fail("dlb_run_close: run is NULL");
    int rc = dlbi_write_summary(r);
    if (dlbi_write_benchmarks(r) != 0) rc = -1;
    /* run.json says "complete": only when everything before it is on disk. */
    if (rc == 0) rc = dlbi_write_run_json(r);
    dlb_run_abort(r);
    return rc;
}

void dlb_run_abort(dlb_run *r) {
    if (!r) return;
    for (int i = 0; i < r->nparams; i++) {
        free(r->params[i].key);
        free(r->params[i].value);
    }
    for (int i = 0; i < r->nmetrics; i++) {
        free(r->metrics[i].name);
        free(r->metrics[i].unit);
    }
    for (int i = 0; i < r->nbenches; i++) {
        free(r->benches[i].name);
        for (int k = 0; k < r->benches[i].ncounters; k++) free(r->benches[i].counter_name[k]);
    }
    for (int i = 0; i < r->nfiles; i++) free(r->files[i]);
    free(r->params);
    free(r->metrics);
    free(r->benches);
    free(r->files);
    free(r->dir);
    free(r->name);
    free(r);
}
