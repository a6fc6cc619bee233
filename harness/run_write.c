/* run_write.c — the three files dlb_run_close writes into a run directory:
 *
 *   summary.csv      metric,value,unit — one row per dlb_run_metric, in the order first set;
 *                    the only file `make regress` and `make report` parse.
 *   benchmarks.json  Google Benchmark's JSON schema (context + "benchmarks" list) so its
 *                    tools (compare.py) and dashboards read our timings. Each entry is one
 *                    dlb_result: real_time = cpu_time = the median in ns (we time wall clock
 *                    only), iterations = all timed calls, repetitions = samples; our spread
 *                    (min, MAD, p10, p90, cv, unstable) and the counters ride along as extra
 *                    keys, which Google Benchmark's readers ignore or show as counters.
 *   run.json         {"name", "complete": true, "context", "parameters", "metrics", ...}.
 * Parameters whose text is a JSON number are written as numbers, others as strings.
 * Non-finite numbers have no JSON form and are written as null. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dlb_internal.h"

int dlbi_write_summary(const dlb_run *r) {
    char path[4096], tmp[4200], num[64];
    if (dlbi_path(path, sizeof path, r->dir, "summary.csv") != 0) return -1;
    FILE *f = dlbi_tmp_open(path, tmp, sizeof tmp);
    if (!f) return -1;
    fputs("metric,value,unit\n", f);
    for (int i = 0; i < r->nmetrics; i++) {
        dlbi_num_text(r->metrics[i].value, num, sizeof num);
        dlbi_csv_field(f, r->metrics[i].name);
        fprintf(f, ",%s,", num);
        dlbi_csv_field(f, r->metrics[i].unit);
        fputc('\n', f);
    }
    return dlbi_tmp_commit(f, tmp, path);
}

/* "key": value pairs, each on its own line, with the comma handled by the caller's count. */
static void key(FILE *f, int *n, const char *indent, const char *k) {
    fprintf(f, "%s\n%s", (*n)++ ? "," : "", indent);
    dlbi_json_str(f, k);
    fputs(": ", f);
}

static void key_str(FILE *f, int *n, const char *indent, const char *k, const char *v) {
    key(f, n, indent, k);
    dlbi_json_str(f, v);
}

static void key_num(FILE *f, int *n, const char *indent, const char *k, double v) {
    key(f, n, indent, k);
    dlbi_json_num(f, v);
}

static void key_int(FILE *f, int *n, const char *indent, const char *k, long long v) {
    key(f, n, indent, k);
    fprintf(f, "%lld", v);
}

static void key_bool(FILE *f, int *n, const char *indent, const char *k, bool v) {
    key(f, n, indent, k);
    fputs(v ? "true" : "false", f);
}

static void load_avg(FILE *f, const dlb_context *c) {
    fputc('[', f);
    for (int i = 0; i < 3; i++) {
        if (i) fputs(", ", f);
        dlbi_json_num(f, c->load_avg[i]);
    }
    fputc(']', f);
}

int dlbi_write_benchmarks(const dlb_run *r) {
    char path[4096], tmp[4200], exe[4096];
    if (dlbi_path(path, sizeof path, r->dir, "benchmarks.json") != 0) return -1;
    FILE *f = dlbi_tmp_open(path, tmp, sizeof tmp);
    if (!f) return -1;
    const dlb_context *c = &r->context;
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[len > 0 ? len : 0] = '\0';

    int n = 0;
    const char *in = "    ";
    fputs("{\n  \"context\": {", f);
    key_str(f, &n, in, "date", c->date);
    key_str(f, &n, in, "host_name", c->host);
    key_str(f, &n, in, "executable", exe);
    key_int(f, &n, in, "num_cpus", c->num_cpus);
    key_int(f, &n, in, "mhz_per_cpu", (long long)(c->mhz_per_cpu + 0.5));
    key_bool(f, &n, in, "cpu_scaling_enabled", c->cpu_scaling_enabled);
    key(f, &n, in, "caches");
    fputc('[', f);
    dlbi_cache caches[8];
    int ncaches = dlbi_caches(caches, 8);
    for (int i = 0; i < ncaches; i++) {
        fprintf(f, "%s\n      {\"type\": ", i ? "," : "");
        dlbi_json_str(f, caches[i].type);
        fprintf(f, ", \"level\": %d, \"size\": %ld, \"num_sharing\": %d}", caches[i].level,
                caches[i].size_bytes, caches[i].num_sharing);
    }
    fputs(ncaches ? "\n    ]" : "]", f);
    key(f, &n, in, "load_avg");
    load_avg(f, c);
#ifdef __OPTIMIZE__
    key_str(f, &n, in, "library_build_type", "release");
#else
    key_str(f, &n, in, "library_build_type", "debug");
#endif
    /* Ours, beyond Google Benchmark's: */
    key_str(f, &n, in, "dlab_run", r->name);
    key_str(f, &n, in, "cpu_model", c->cpu_model);
    key_str(f, &n, in, "governor", c->governor);
    key_str(f, &n, in, "simd", c->simd);
    key_str(f, &n, in, "compiler", c->compiler);
    key_str(f, &n, in, "cflags", c->cflags);
    key_str(f, &n, in, "git_rev", c->git_rev);
    key_str(f, &n, in, "gpu", c->gpu);
    fputs("\n  },\n  \"benchmarks\": [", f);

    in = "      ";
    for (int i = 0; i < r->nbenches; i++) {
        const dlbi_bench *b = &r->benches[i];
        const dlb_stats *t = &b->result.time;
        fprintf(f, "%s\n    {", i ? "," : "");
        n = 0;
        key_str(f, &n, in, "name", b->name);
        key_int(f, &n, in, "family_index", i);
        key_int(f, &n, in, "per_family_instance_index", 0);
        key_str(f, &n, in, "run_name", b->name);
        key_str(f, &n, in, "run_type", "iteration");
        key_int(f, &n, in, "repetitions", t->n);
        key_int(f, &n, in, "threads", 1);
        key_int(f, &n, in, "iterations", b->result.total_iters);
        key_num(f, &n, in, "real_time", t->median * 1e9);
        key_num(f, &n, in, "cpu_time", t->median * 1e9);
        key_str(f, &n, in, "time_unit", "ns");
        key_int(f, &n, in, "samples", t->n);
        key_int(f, &n, in, "iters_per_sample", b->result.iters_per_sample);
        key_num(f, &n, in, "min_ns", t->min * 1e9);
        key_num(f, &n, in, "mad_ns", t->mad * 1e9);
        key_num(f, &n, in, "p10_ns", t->p10 * 1e9);
        key_num(f, &n, in, "p90_ns", t->p90 * 1e9);
        key_num(f, &n, in, "cv", t->cv);
        key_bool(f, &n, in, "unstable", t->unstable);
        for (int k = 0; k < b->ncounters; k++) key_num(f, &n, in, b->counter_name[k], b->counter_value[k]);
        fputs("\n    }", f);
    }
    fputs(r->nbenches ? "\n  ]\n}\n" : "]\n}\n", f);
    return dlbi_tmp_commit(f, tmp, path);
}

static void context_json(FILE *f, const dlb_context *c) {
    int n = 0;
    const char *in = "    ";
    fputc('{', f);
    key_str(f, &n, in, "date", c->date);
    key_str(f, &n, in, "host", c->host);
    key_str(f, &n, in, "cpu_model", c->cpu_model);
    key_int(f, &n, in, "num_cpus", c->num_cpus);
    key_num(f, &n, in, "mhz_per_cpu", c->mhz_per_cpu);
    key_bool(f, &n, in, "cpu_scaling_enabled", c->cpu_scaling_enabled);
    key_str(f, &n, in, "governor", c->governor);
    key_str(f, &n, in, "simd", c->simd);
    key(f, &n, in, "load_avg");
    load_avg(f, c);
    key_str(f, &n, in, "compiler", c->compiler);
    key_str(f, &n, in, "cflags", c->cflags);
    key_str(f, &n, in, "git_rev", c->git_rev);
    key_str(f, &n, in, "gpu", c->gpu);
    key_int(f, &n, in, "l1d_bytes", c->cache_bytes[0]);
    key_int(f, &n, in, "l2_bytes", c->cache_bytes[1]);
    key_int(f, &n, in, "l3_bytes", c->cache_bytes[2]);
    fputs("\n  }", f);
}

int dlbi_write_run_json(const dlb_run *r) {
    char path[4096], tmp[4200];
    if (dlbi_path(path, sizeof path, r->dir, "run.json") != 0) return -1;
    FILE *f = dlbi_tmp_open(path, tmp, sizeof tmp);
    if (!f) return -1;
    int n = 0;
    const char *in = "  ";
    fputc('{', f);
    key_str(f, &n, in, "name", r->name);
    key_bool(f, &n, in, "complete", true);
    key_num(f, &n, in, "elapsed_s", dlb_now() - r->opened_s);
    key(f, &n, in, "context");
    context_json(f, &r->context);

    key(f, &n, in, "parameters");
    fputc('{', f);
    int m = 0;
    for (int i = 0; i < r->nparams; i++) {
        key(f, &m, "    ", r->params[i].key);
        if (dlbi_is_json_number(r->params[i].value)) fputs(r->params[i].value, f);
        else dlbi_json_str(f, r->params[i].value);
    }
    fputs(m ? "\n  }" : "}", f);

    key(f, &n, in, "metrics");
    fputc('{', f);
    m = 0;
    for (int i = 0; i < r->nmetrics; i++) {
        key(f, &m, "    ", r->metrics[i].name);
        fputs("{\"value\": ", f);
        dlbi_json_num(f, r->metrics[i].value);
        fputs(", \"unit\": ", f);
        dlbi_json_str(f, r->metrics[i].unit);
        fputc('}', f);
    }
    fputs(m ? "\n  }" : "}", f);

    key(f, &n, in, "files"); /* tables and plots, relative to the run directory */
    fputc('[', f);
    for (int i = 0; i < r->nfiles; i++) {
        if (i) fputs(", ", f);
        dlbi_json_str(f, r->files[i]);
    }
    fputs("]\n}\n", f);
    return dlbi_tmp_commit(f, tmp, path);
}
