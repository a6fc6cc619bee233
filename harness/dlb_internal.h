/* dlb_internal.h — what the harness's own files share and nobody else should use:
 * the error setter, atomic file writing, JSON output helpers, /sys cache discovery and
 * the plot renderer that run.c calls. Not installed, not part of the API in dlbench.h.
 * Names start with dlbi_ (i for internal) so they never clash with the public dlb_ ones. */
#ifndef DLB_INTERNAL_H
#define DLB_INTERNAL_H

#include <stdio.h>

#include "dlbench.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Set the message dlb_error() returns on this thread. Returns -1 so that
 * `return dlbi_fail("...")` reads naturally. */
int dlbi_fail(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* ---- files (io.c) */

/* mkdir -p; 0 or -1 with a message naming the path. */
/* A malloc'd copy of s ("" for NULL), or NULL when out of memory. */
char *dlbi_strdup(const char *s);

int dlbi_mkdir_p(const char *dir);
/* Open <path>.tmp for writing; the tmp name goes to tmp_path. NULL + message on failure. */
FILE *dlbi_tmp_open(const char *path, char *tmp_path, size_t tmp_len);
/* Close the tmp file and rename it over path; on any write error remove it and fail. */
int dlbi_tmp_commit(FILE *f, const char *tmp_path, const char *path);
/* snprintf into a buffer and fail if the result was cut short. */
int dlbi_path(char *buf, size_t len, const char *dir, const char *file);

/* ---- JSON output (io.c) */

/* A JSON string literal with ", \ and control characters escaped. NULL writes null. */
void dlbi_json_str(FILE *f, const char *s);
/* A JSON number; NaN and infinities have no JSON form and become null. */
void dlbi_json_num(FILE *f, double v);
/* True when s is a complete JSON number ("42", "-1.5e3"), so it can be written bare. */
bool dlbi_is_json_number(const char *s);
/* Find "key": in a small JSON text written by us and read its value. 0 if found. */
int dlbi_json_find_num(const char *json, const char *key, double *out);
int dlbi_json_find_str(const char *json, const char *key, char *out, size_t len);

/* ---- machine (context.c) */

typedef struct dlbi_cache {
    char type[16]; /* "Data", "Instruction", "Unified" (as /sys names them) */
    int level;
    long size_bytes;
    int num_sharing; /* logical CPUs sharing one instance */
} dlbi_cache;

/* The caches of CPU 0 from /sys; returns how many were found (up to max). */
int dlbi_caches(dlbi_cache *out, int max);
/* Online logical CPUs (at least 1). */
int dlbi_online_cpus(void);
/* The CPU model name from /proc/cpuinfo ("" if unknown). */
void dlbi_cpu_model(char *buf, size_t len);

/* ---- tables (table.c) */
const char *dlbi_table_name(const dlb_table *t);
/* One CSV field, quoted only when it must be (comma, quote, newline, edge space). */
void dlbi_csv_field(FILE *f, const char *s);
/* A double as text: %.9g, or nan / inf / -inf. */
void dlbi_num_text(double v, char *buf, size_t len);

/* ---- plots (plot.c) */
/* Write <dir>/<name>.dat and .gp and run gnuplot in dir. */
int dlbi_plot_render(const dlb_plot *p, const char *dir);
const char *dlbi_plot_name(const dlb_plot *p);

/* ---- runs (run.c records, run_write.c writes the files) */
typedef struct dlbi_param {
    char *key, *value;
} dlbi_param;
typedef struct dlbi_metric {
    char *name, *unit;
    double value;
} dlbi_metric;
typedef struct dlbi_bench {
    char *name;
    dlb_result result;
    int ncounters;
    char *counter_name[8];
    double counter_value[8];
} dlbi_bench;

struct dlb_run {
    char *dir, *name;
    double opened_s;   /* dlb_now() at open, for run.json's elapsed_s */
    dlb_context context; /* collected at open, before the run's own load */
    dlbi_param *params;
    int nparams;
    dlbi_metric *metrics;
    int nmetrics;
    dlbi_bench *benches;
    int nbenches;
    char **files; /* tables and plots written, relative to dir */
    int nfiles;
};

int dlbi_write_summary(const dlb_run *r);
int dlbi_write_benchmarks(const dlb_run *r);
int dlbi_write_run_json(const dlb_run *r);

/* ---- measurement (measure.c): set by dlb_cli_parse for --quick. */
void dlbi_set_quick(bool quick);

#ifdef __cplusplus
}
#endif
#endif
