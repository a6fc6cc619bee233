/* cpu.c — CPU feature detection with CPUID and XGETBV (see dlab/core.h).
 *
 * A feature counts only if the CPU has it AND the OS saves its registers on a context switch
 * (XGETBV): a VM can report AVX-512 in CPUID while its kernel does not enable the state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlab/core.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static void detect(dl_cpu_features *f) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    f->sse2 = (d >> 26) & 1;
    bool osxsave = (c >> 27) & 1;
    uint64_t xcr0 = osxsave ? xgetbv0() : 0;
    bool os_avx = (xcr0 & 0x6) == 0x6;           /* XMM and YMM state */
    bool os_avx512 = os_avx && (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM0-15 upper, ZMM16-31 */
    f->avx = os_avx && ((c >> 28) & 1);
    f->fma = f->avx && ((c >> 12) & 1);
    f->f16c = f->avx && ((c >> 29) & 1);
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = f->avx && ((b >> 5) & 1);
    f->avx512f = os_avx512 && ((b >> 16) & 1);
    f->avx512dq = f->avx512f && ((b >> 17) & 1);
    f->avx512bw = f->avx512f && ((b >> 30) & 1);
    f->avx512vl = f->avx512f && ((b >> 31) & 1);
    f->avx512_vnni = f->avx512f && ((c >> 11) & 1);
    unsigned max_sub = a;
    if (max_sub >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        f->avx_vnni = f->avx2 && ((a >> 4) & 1);
        f->avx512_bf16 = f->avx512f && ((a >> 5) & 1);
    }
}
#else
static void detect(dl_cpu_features *f) { (void)f; }
#endif

/* DLAB_CPU_MAX caps what is reported, so the fallback paths can be tested on a big CPU. */
static void apply_cap(dl_cpu_features *f) {
    const char *cap = getenv("DLAB_CPU_MAX");
    if (!cap || !*cap) return;
    bool keep_avx2 = !strcmp(cap, "avx2");
    bool keep_avx = keep_avx2 || !strcmp(cap, "avx");
    if (!strcmp(cap, "avx512")) return;
    f->avx512f = f->avx512bw = f->avx512vl = f->avx512dq = false;
    f->avx512_vnni = f->avx512_bf16 = false;
    if (!keep_avx2) f->avx2 = f->fma = f->avx_vnni = false;
    if (!keep_avx) f->avx = f->f16c = false;
}

const dl_cpu_features *dl_cpu(void) {
    static dl_cpu_features features;
    static int done; /* benign race: every thread computes the same bits */
    if (!done) {
        dl_cpu_features f = {0};
        detect(&f);
        apply_cap(&f);
        features = f;
        done = 1;
    }
    return &features;
}

bool dl_cpu_has_avx2_fma(void) { return dl_cpu()->avx2 && dl_cpu()->fma; }

bool dl_cpu_has_avx512(void) {
    const dl_cpu_features *f = dl_cpu();
    return f->avx512f && f->avx512dq && f->avx512bw && f->avx512vl && dl_cpu_has_avx2_fma();
}

const char *dl_cpu_describe(char *buf, size_t len) {
    const dl_cpu_features *f = dl_cpu();
    struct { bool on; const char *name; } list[] = {
        {f->sse2, "sse2"},         {f->avx, "avx"},           {f->fma, "fma"},
        {f->f16c, "f16c"},         {f->avx2, "avx2"},         {f->avx_vnni, "avx_vnni"},
        {f->avx512f, "avx512f"},   {f->avx512dq, "avx512dq"}, {f->avx512bw, "avx512bw"},
        {f->avx512vl, "avx512vl"}, {f->avx512_vnni, "avx512_vnni"}, {f->avx512_bf16, "avx512_bf16"},
    };
    if (!buf || len == 0) return buf;
    buf[0] = 0;
    size_t used = 0;
    for (size_t i = 0; i < sizeof list / sizeof list[0]; i++) {
        if (!list[i].on) continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? " " : "", list[i].name);
        if (w < 0 || (size_t)w >= len - used) break;
        used += (size_t)w;
    }
    return buf;
}
