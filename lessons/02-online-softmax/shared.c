/* shared.c — what lesson 2's parts share: timing options, random logits, variant choice. */
#include "sm_lesson.h"

dlb_opts sm_timing_opts(const sm_config *cfg) {
    dlb_opts o = dlb_opts_default();
    o.settle_s = 0.002; /* idle OpenMP workers spin after a call: let them sleep first */
    if (cfg->quick) {
        o.warmup_s = 0.01;
        o.min_samples = 5;
        o.max_samples = 8;
        o.max_time_s = 0.1;
    } else {
        o.min_samples = 11;
        o.max_samples = 21;
        o.max_time_s = 0.6;
    }
    return o;
}

void sm_fill_logits(float *x, size_t n, uint64_t seed, uint64_t stream, float lo, float hi) {
    dl_rng r;
    dl_rng_seed_stream(&r, seed, stream);
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * dl_rng_uniform(&r);
}

const dl_variant *sm_first_available(const char *family, const char *const *names) {
    for (int i = 0; names[i]; i++) {
        const dl_variant *v = dl_variant_find(family, names[i]);
        if (v && dl_variant_available(v)) return v;
    }
    return NULL;
}
