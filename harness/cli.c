/* cli.c — the one command-line parser every lesson uses.
 *
 * Common options: --quick, --device cpu|cuda, --threads N, --seed S, --out DIR, -h/--help,
 * plus the lesson's own (dlb_opt). Values may be given as `--opt value` or `--opt=value`.
 * A bad argument gives one line naming the program and the problem, then the usage, e.g.
 *     lesson-01: --threads must be an integer ≥ 1 (got '0')
 * Two side effects make the common options work everywhere without each lesson repeating
 * them: --quick also shortens dlb_opts_default() (as DLB_QUICK=1 does), and with OpenMP
 * the thread count becomes omp_set_num_threads(), the default for every parallel region.
 * Left out: short options other than -h, option bundling, positional arguments. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "dlb_internal.h"

#define MAX_THREADS 1024

static const char *prog_name(int argc, char **argv) {
    if (argc < 1 || !argv[0] || !argv[0][0]) return "dlab";
    const char *slash = strrchr(argv[0], '/');
    return slash ? slash + 1 : argv[0];
}

static const char *metavar(dlb_opt_type type) {
    return type == DLB_OPT_INT ? " N" : type == DLB_OPT_DOUBLE ? " X" : type == DLB_OPT_STRING ? " VALUE" : "";
}

/* One help line: the option left, its text aligned in a column. */
static void usage_line(FILE *f, const char *opt, const char *help) {
    fprintf(f, "  %-20s %s\n", opt, help ? help : "");
}

static void usage(FILE *f, const char *prog, const char *about, const char *default_out,
                  const dlb_opt *extra) {
    char buf[256];
    fprintf(f, "usage: %s [options]\n", prog);
    if (about && about[0]) fprintf(f, "%s\n", about);
    fputs("\noptions:\n", f);
    usage_line(f, "--quick", "a short run (well under a minute on 2 cores), for tests and CI");
    usage_line(f, "--device cpu|cuda", "where to run (default: cpu)");
    snprintf(buf, sizeof buf, "CPU threads, 1..%d (default: all %d online CPUs)", MAX_THREADS,
             dlbi_online_cpus());
    usage_line(f, "--threads N", buf);
    usage_line(f, "--seed S", "random seed, an unsigned 64-bit integer (default: 42)");
    snprintf(buf, sizeof buf, "results directory%s%s%s", default_out ? " (default: " : "",
             default_out ? default_out : "", default_out ? ")" : "");
    usage_line(f, "--out DIR", buf);
    usage_line(f, "-h, --help", "show this help");
    if (!extra || !extra[0].name) return;
    fputs("\nlesson options:\n", f);
    for (const dlb_opt *o = extra; o->name; o++) {
        char opt[128], text[512], range[96] = "", def[96] = "";
        snprintf(opt, sizeof opt, "%s%s", o->name, metavar(o->type));
        if ((o->type == DLB_OPT_INT || o->type == DLB_OPT_DOUBLE) && o->min != o->max)
            snprintf(range, sizeof range, " [%g..%g]", o->min, o->max);
        /* The destination holds the default when the lesson calls us. */
        if (o->dst && o->type == DLB_OPT_INT) snprintf(def, sizeof def, " (default: %ld)", *(long *)o->dst);
        if (o->dst && o->type == DLB_OPT_DOUBLE) snprintf(def, sizeof def, " (default: %g)", *(double *)o->dst);
        if (o->dst && o->type == DLB_OPT_STRING && *(const char **)o->dst)
            snprintf(def, sizeof def, " (default: %s)", *(const char **)o->dst);
        snprintf(text, sizeof text, "%s%s%s", o->help ? o->help : "", range, def);
        usage_line(f, opt, text);
    }
}

void dlb_cli_usage(const char *prog, const char *about, const dlb_opt *extra, void *stream) {
    usage(stream ? (FILE *)stream : stdout, prog ? prog : "dlab", about, NULL, extra);
}

/* Format an error into msg and return it. */
static const char *say(char *msg, size_t len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static const char *say(char *msg, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, len, fmt, ap);
    va_end(ap);
    return msg;
}

/* A whole-string integer / number, or false. */
static bool parse_long(const char *s, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || s[0] == ' ') return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || s[0] == ' ') return false;
    *out = v;
    return true;
}

static bool parse_u64(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if (!(s[0] >= '0' && s[0] <= '9')) return false; /* strtoull would accept "-1" */
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || errno) return false;
    *out = (uint64_t)v;
    return true;
}

/* Apply a lesson option; NULL on success, else the error text in msg. */
static const char *apply_extra(const dlb_opt *o, const char *value, char *msg, size_t len) {
    bool ranged = o->min != o->max;
    long l;
    double d;
    switch (o->type) {
    case DLB_OPT_FLAG: *(bool *)o->dst = true; return NULL;
    case DLB_OPT_STRING: *(const char **)o->dst = value; return NULL;
    case DLB_OPT_INT:
        if (parse_long(value, &l) && (!ranged || (l >= o->min && l <= o->max))) {
            *(long *)o->dst = l;
            return NULL;
        }
        if (ranged) snprintf(msg, len, "%s must be an integer in [%g, %g] (got '%s')", o->name, o->min, o->max, value);
        else snprintf(msg, len, "%s must be an integer (got '%s')", o->name, value);
        return msg;
    case DLB_OPT_DOUBLE:
        if (parse_double(value, &d) && (!ranged || (d >= o->min && d <= o->max))) {
            *(double *)o->dst = d;
            return NULL;
        }
        if (ranged) snprintf(msg, len, "%s must be a number in [%g, %g] (got '%s')", o->name, o->min, o->max, value);
        else snprintf(msg, len, "%s must be a number (got '%s')", o->name, value);
        return msg;
    }
    return NULL;
}

int dlb_cli_parse(int argc, char **argv, const char *about, const char *default_out,
                  const dlb_opt *extra, dlb_cli *out) {
    const char *prog = prog_name(argc, argv);
    *out = (dlb_cli){.quick = false, .device = "cpu", .threads = dlbi_online_cpus(), .seed = 42,
                     .out = default_out ? default_out : "results"};
    char msg[512];
    const char *error = NULL;
    for (int i = 1; i < argc && !error; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout, prog, about, default_out, extra);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            error = say(msg, sizeof msg, "unexpected argument '%s'", arg);
            break;
        }
        /* Split --name=value; name is the text before '='. */
        char name[128];
        const char *eq = strchr(arg, '='), *value = eq ? eq + 1 : NULL;
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        snprintf(name, sizeof name, "%.*s", (int)name_len, arg);

        const dlb_opt *lesson_opt = NULL;
        for (const dlb_opt *o = extra; o && o->name && !lesson_opt; o++)
            if (strcmp(o->name, name) == 0) lesson_opt = o;
        bool is_flag = strcmp(name, "--quick") == 0 || (lesson_opt && lesson_opt->type == DLB_OPT_FLAG);
        bool known = is_flag || lesson_opt || strcmp(name, "--device") == 0 ||
                     strcmp(name, "--threads") == 0 || strcmp(name, "--seed") == 0 || strcmp(name, "--out") == 0;
        if (!known) {
            error = say(msg, sizeof msg, "unknown option '%s'", name);
        } else if (is_flag && value) {
            error = say(msg, sizeof msg, "%s takes no value (got '%s')", name, arg);
        } else if (!is_flag && !value && i + 1 >= argc) {
            error = say(msg, sizeof msg, "%s needs a value", name);
        }
        if (error) break;
        if (!is_flag && !value) value = argv[++i];

        long threads;
        if (strcmp(name, "--quick") == 0) {
            out->quick = true;
        } else if (strcmp(name, "--device") == 0) {
            if (strcmp(value, "cpu") == 0 || strcmp(value, "cuda") == 0) out->device = value;
            else error = say(msg, sizeof msg, "--device must be cpu or cuda (got '%s')", value);
        } else if (strcmp(name, "--threads") == 0) {
            if (!parse_long(value, &threads) || threads < 1)
                error = say(msg, sizeof msg, "--threads must be an integer ≥ 1 (got '%s')", value);
            else if (threads > MAX_THREADS)
                error = say(msg, sizeof msg, "--threads must be at most %d (got '%s')", MAX_THREADS, value);
            else out->threads = (int)threads;
        } else if (strcmp(name, "--seed") == 0) {
            if (!parse_u64(value, &out->seed))
                error = say(msg, sizeof msg, "--seed must be an unsigned 64-bit integer (got '%s')", value);
        } else if (strcmp(name, "--out") == 0) {
            if (value[0]) out->out = value;
            else error = say(msg, sizeof msg, "--out needs a directory name");
        } else if (lesson_opt) {
            if (!lesson_opt->dst) error = say(msg, sizeof msg, "%s has no destination (a bug in the lesson)", name);
            else error = apply_extra(lesson_opt, value ? value : "", msg, sizeof msg);
        }
    }
    if (error) {
        fprintf(stderr, "%s: %s\n", prog, error);
        usage(stderr, prog, about, default_out, extra);
        return 2;
    }
    dlbi_set_quick(out->quick);
#ifdef _OPENMP
    omp_set_num_threads(out->threads);
#endif
    return 0;
}

int dlb_run_start(const dlb_cli *cli, const char *name, const char *device, dlb_context *ctx,
                  dlb_run **out) {
    if (!cli || !name || !out) return dlbi_fail("dlb_run_start: cli, name or out is NULL");
    if (dlb_run_open(cli->out, name, out) != 0) return -1;
    dlb_run_param(*out, "quick", "%s", cli->quick ? "true" : "false");
    dlb_run_param(*out, "seed", "%llu", (unsigned long long)cli->seed);
    dlb_run_param(*out, "threads", "%d", cli->threads);
    dlb_run_param(*out, "device", "%s", device ? device : cli->device);
    dlb_context local;
    if (!ctx) ctx = &local;
    dlb_context_collect(ctx);
    dlb_context_print(ctx);
    return 0;
}
