/* context.c — what machine and build a number came from: CPU model and clock, cores, SIMD,
 * frequency governor, load, compiler and flags, git revision, GPU, cache sizes.
 * Everything is best effort: a field that cannot be read stays empty or zero, and
 * collecting never fails. Linux-only sources (/proc, /sys); elsewhere fields stay empty.
 * Left out: per-core frequencies, NUMA layout, memory size. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dlb_internal.h"

/* First line of a small file, newline stripped; -1 if unreadable. */
static int read_line(const char *path, char *buf, size_t len) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char *ok = fgets(buf, (int)len, f);
    fclose(f);
    if (!ok) return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* Count CPUs in a list such as "0-3,8,10-11". */
static int count_cpu_list(const char *list) {
    int count = 0;
    const char *p = list;
    while (*p) {
        char *end;
        long lo = strtol(p, &end, 10), hi = lo;
        if (end == p) break;
        if (*end == '-') hi = strtol(end + 1, &end, 10);
        count += (int)(hi - lo + 1);
        p = (*end == ',') ? end + 1 : end;
        if (*end != ',') break;
    }
    return count;
}

int dlbi_caches(dlbi_cache *out, int max) {
    int found = 0;
    for (int index = 0; index < 16 && found < max; index++) {
        char path[128], buf[128];
        const char *base = "/sys/devices/system/cpu/cpu0/cache/index";
        snprintf(path, sizeof path, "%s%d/size", base, index);
        if (read_line(path, buf, sizeof buf) != 0) break;
        char *unit;
        long size = strtol(buf, &unit, 10);
        if (*unit == 'K') size <<= 10;
        else if (*unit == 'M') size <<= 20;
        else if (*unit == 'G') size <<= 30;
        dlbi_cache c = {.size_bytes = size, .num_sharing = 1};
        snprintf(path, sizeof path, "%s%d/level", base, index);
        if (read_line(path, buf, sizeof buf) == 0) c.level = atoi(buf);
        snprintf(path, sizeof path, "%s%d/type", base, index);
        if (read_line(path, c.type, sizeof c.type) != 0) strcpy(c.type, "Unified");
        snprintf(path, sizeof path, "%s%d/shared_cpu_list", base, index);
        if (read_line(path, buf, sizeof buf) == 0 && count_cpu_list(buf) > 0)
            c.num_sharing = count_cpu_list(buf);
        out[found++] = c;
    }
    return found;
}

int dlbi_online_cpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n >= 1 ? (int)n : 1;
}

/* The value after "key<spaces>: " on the first matching line of /proc/cpuinfo. */
static int cpuinfo_field(const char *key, char *buf, size_t len) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return -1;
    char line[512];
    int rc = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) != 0 || (line[klen] != ' ' && line[klen] != '\t' && line[klen] != ':'))
            continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        char *v = colon + 1 + strspn(colon + 1, " \t");
        v[strcspn(v, "\n")] = '\0';
        snprintf(buf, len, "%s", v);
        rc = 0;
        break;
    }
    fclose(f);
    return rc;
}

void dlbi_cpu_model(char *buf, size_t len) {
    if (cpuinfo_field("model name", buf, len) != 0 && cpuinfo_field("Model", buf, len) != 0)
        snprintf(buf, len, "%s", "");
}

static void simd_flags(char *buf, size_t len) {
    buf[0] = '\0';
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
    __builtin_cpu_init();
    size_t used = 0;
#define SIMD_FLAG(name)                                                                       \
    if (__builtin_cpu_supports(name) && used < len)                                           \
        used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? " " : "", name);
    SIMD_FLAG("sse2") SIMD_FLAG("avx") SIMD_FLAG("avx2") SIMD_FLAG("fma")
#if !defined(__clang__) /* clang (as of 14) does not know "f16c" here */
    SIMD_FLAG("f16c")
#endif
    SIMD_FLAG("avx512f") SIMD_FLAG("avx512bw") SIMD_FLAG("avx512vl")
    SIMD_FLAG("avx512vnni") SIMD_FLAG("avx512bf16")
#undef SIMD_FLAG
#else
    (void)len;
#endif
}

/* The first line a shell command prints ("" on failure). */
static void command_line(const char *cmd, char *buf, size_t len) {
    buf[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (!p) return;
    if (fgets(buf, (int)len, p)) buf[strcspn(buf, "\n")] = '\0';
    else buf[0] = '\0';
    pclose(p);
}

static void git_revision(char *buf, size_t len) {
    char rev[40], dirty[8];
    command_line("git rev-parse --short HEAD 2>/dev/null", rev, sizeof rev);
    if (!rev[0]) {
        buf[0] = '\0';
        return;
    }
    /* Any line from porcelain status means tracked files differ from HEAD. */
    command_line("git status --porcelain -uno 2>/dev/null", dirty, sizeof dirty);
    snprintf(buf, len, "%s%s", rev, dirty[0] ? "+dirty" : "");
}

int dlb_context_collect(dlb_context *ctx) {
    memset(ctx, 0, sizeof *ctx);
    time_t now = time(NULL);
    struct tm local;
    if (localtime_r(&now, &local)) {
        char zone[8];
        strftime(ctx->date, sizeof ctx->date, "%Y-%m-%dT%H:%M:%S", &local);
        strftime(zone, sizeof zone, "%z", &local); /* +0100 → +01:00 as ISO 8601 writes it */
        if (strlen(zone) == 5)
            snprintf(ctx->date + strlen(ctx->date), sizeof ctx->date - strlen(ctx->date),
                     "%.3s:%.2s", zone, zone + 3);
    }
    if (gethostname(ctx->host, sizeof ctx->host) != 0) ctx->host[0] = '\0';
    ctx->host[sizeof ctx->host - 1] = '\0';
    dlbi_cpu_model(ctx->cpu_model, sizeof ctx->cpu_model);
    ctx->num_cpus = dlbi_online_cpus();
    char buf[64];
    if (cpuinfo_field("cpu MHz", buf, sizeof buf) == 0) ctx->mhz_per_cpu = atof(buf);
    if (read_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor", ctx->governor,
                  sizeof ctx->governor) != 0)
        ctx->governor[0] = '\0';
    ctx->cpu_scaling_enabled = ctx->governor[0] && strcmp(ctx->governor, "performance") != 0;
    simd_flags(ctx->simd, sizeof ctx->simd);
    if (getloadavg(ctx->load_avg, 3) != 3) memset(ctx->load_avg, 0, sizeof ctx->load_avg);
#if defined(__clang__)
    snprintf(ctx->compiler, sizeof ctx->compiler, "clang %s", __clang_version__);
#elif defined(__GNUC__)
    snprintf(ctx->compiler, sizeof ctx->compiler, "gcc %s", __VERSION__);
#else
    snprintf(ctx->compiler, sizeof ctx->compiler, "unknown C compiler");
#endif
#ifdef DLB_BUILD_FLAGS
    snprintf(ctx->cflags, sizeof ctx->cflags, "%s", DLB_BUILD_FLAGS);
#endif
    git_revision(ctx->git_rev, sizeof ctx->git_rev);
    if (dlb_cuda_gpu_name(ctx->gpu, sizeof ctx->gpu) != 0) ctx->gpu[0] = '\0';

    dlbi_cache caches[8];
    int n = dlbi_caches(caches, 8);
    for (int i = 0; i < n; i++) {
        if (caches[i].level == 1 && strcmp(caches[i].type, "Instruction") == 0) continue;
        if (caches[i].level >= 1 && caches[i].level <= 3) ctx->cache_bytes[caches[i].level - 1] = caches[i].size_bytes;
    }
    return 0;
}

static void print_bytes(char *buf, size_t len, long bytes) {
    if (bytes >= (1L << 20)) snprintf(buf, len, "%ld MiB", bytes >> 20);
    else snprintf(buf, len, "%ld KiB", bytes >> 10);
}

void dlb_context_print(const dlb_context *ctx) {
    char l1[24], l2[24], l3[24];
    print_bytes(l1, sizeof l1, ctx->cache_bytes[0]);
    print_bytes(l2, sizeof l2, ctx->cache_bytes[1]);
    print_bytes(l3, sizeof l3, ctx->cache_bytes[2]);
    printf("machine  %s (%s), %d CPUs, %.0f MHz, governor %s\n", ctx->host,
           ctx->cpu_model[0] ? ctx->cpu_model : "unknown CPU", ctx->num_cpus, ctx->mhz_per_cpu,
           ctx->governor[0] ? ctx->governor : "n/a");
    printf("simd     %s\n", ctx->simd[0] ? ctx->simd : "n/a");
    printf("caches   L1d %s, L2 %s, L3 %s\n", l1, l2, l3);
    printf("load     %.2f %.2f %.2f\n", ctx->load_avg[0], ctx->load_avg[1], ctx->load_avg[2]);
    printf("build    %s, git %s\n", ctx->compiler, ctx->git_rev[0] ? ctx->git_rev : "n/a");
    if (ctx->cflags[0]) printf("flags    %s\n", ctx->cflags);
    printf("gpu      %s\n", ctx->gpu[0] ? ctx->gpu : "none");
}
