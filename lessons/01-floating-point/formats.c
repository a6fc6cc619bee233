/* formats.c — lesson 1 (c): fp32, fp16, bf16 and fp8 from their bit layouts; software
 * conversions checked against the CPU's own; stochastic rounding's unbiasedness.
 *
 * Three experiments:
 *   1. the properties table, every number computed from (exponent bits, mantissa bits, bias);
 *   2. conversions: the software round-to-nearest-even against F16C and AVX512-BF16 on every
 *      fp32 bit pattern (2^32 of them; a 4-million sample with --quick), the two software
 *      paths against each other, fp8 round trips of all 256 codes;
 *   3. adding 10^4 increments of 1e-4 in bf16 and fp16: round-to-nearest stalls once the
 *      increment is below half an ulp of the sum; stochastic rounding tracks the true sum.
 * Left out: fp8 hardware (no x86 instruction on these machines), MX block scaling.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fp_lesson.h"

uint32_t fp_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float from_bits(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* --------------------------------------------------------------- properties */

static int properties(dlb_run *run) {
    const dl_fp_format *formats[] = {&dl_fp32, &dl_fp16, &dl_bf16, &dl_fp8_e4m3, &dl_fp8_e5m2};
    dlb_table *t = dlb_table_new("formats_properties", "format", "bits", "exponent_bits",
                                 "mantissa_bits", "bias", "epsilon", "max", "min_normal",
                                 "min_subnormal", "decimal_digits", NULL);
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        const dl_fp_format *f = formats[i];
        dl_fp_props p = dl_fp_format_props(f);
        dlb_table_str(t, f->name);
        dlb_table_int(t, p.total_bits);
        dlb_table_int(t, f->exponent_bits);
        dlb_table_int(t, f->mantissa_bits);
        dlb_table_int(t, f->bias);
        dlb_table_numf(t, p.epsilon, "%.4g");
        dlb_table_numf(t, p.max, "%.6g");
        dlb_table_numf(t, p.min_normal, "%.4g");
        dlb_table_numf(t, p.min_subnormal, "%.4g");
        dlb_table_numf(t, p.decimal_digits, "%.2f");
        char metric[64];
        snprintf(metric, sizeof metric, "%s_epsilon", f->name);
        dlb_run_metric(run, metric, p.epsilon, "ratio");
        snprintf(metric, sizeof metric, "%s_max", f->name);
        dlb_run_metric(run, metric, p.max, "value");
    }
    printf(
        "(c) Formats, computed from their bit layouts (epsilon = 2^-mantissa_bits; e4m3 is OCP's\n"
        "    FN variant: no inf, so its top exponent holds normal numbers up to 448)\n");
    int rc = dlb_run_table(run, t);
    dlb_table_free(t);
    printf("\n");
    return rc;
}

/* -------------------------------------------------------- hardware sweeps */

enum { CHUNK = 4096 };

typedef struct sweep_counts {
    unsigned long long checked;        /* values compared */
    unsigned long long mismatches;     /* differing bit patterns among non-subnormal inputs */
    unsigned long long subnormal_in;   /* subnormal inputs compared */
    unsigned long long subnormal_diff; /* ... where the two differ */
    unsigned long long subnormal_diff_not_zero; /* ... and the hardware did NOT give ±0 */
} sweep_counts;

/* Interesting fp32 patterns: specials, boundaries, and exact ties for both formats. */
static size_t special_values(uint32_t *out, size_t cap) {
    const float fixed[] = {0.0f,       -0.0f,      INFINITY,   -INFINITY, FLT_MIN,      -FLT_MIN,
                           FLT_MAX,    -FLT_MAX,   65504.0f,   65519.99f, 65520.0f,     65536.0f,
                           0x1p-24f,   0x1p-25f,   0x1.8p-25f, 0x1p-14f,  0x1.ffcp-15f, 0x1.002p0f,
                           0x1.006p0f, 0x1.01p0f,  0x1.03p0f,  1.0f,      -1.0f,        0.1f,
                           3.0e38f,    3.3961e38f, 3.3962e38f};
    const uint32_t raw[] = {0x7F800001u, 0x7FC00000u, 0x7FFFFFFFu, 0xFF800001u,
                            0x7FA00000u, 0xFFC00001u, 0x7F802000u, 0x00000001u,
                            0x807FFFFFu, 0x00008000u, 0x7F7F8000u, 0x7F7F7FFFu};
    size_t k = 0;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0] && k < cap; i++)
        out[k++] = fp_bits(fixed[i]);
    for (size_t i = 0; i < sizeof raw / sizeof raw[0] && k < cap; i++)
        out[k++] = raw[i];
    return k;
}

/* A chunk of patterns: exhaustive → base + i; sampled → a mix of random bit patterns and
 * exact midpoints between neighbouring fp16 / bf16 values (the ties, where RNE is decided by
 * the last bit), each nudged by -1, 0 or +1 ulp of fp32. */
static void make_chunk(uint32_t *u, long chunk, bool exhaustive, uint64_t seed) {
    if (exhaustive) {
        for (int i = 0; i < CHUNK; i++)
            u[i] = (uint32_t)chunk * CHUNK + (uint32_t)i;
        return;
    }
    dl_rng rng;
    dl_rng_seed_stream(&rng, seed, 0xC0DEull + (uint64_t)chunk);
    for (int i = 0; i < CHUNK; i++) {
        uint64_t r = dl_rng_u64(&rng);
        uint32_t nudge = (uint32_t)(r >> 62) % 3; /* 0, 1, 2 → -1, 0, +1 */
        switch ((r >> 60) & 3) {
        case 0:
        case 1: u[i] = (uint32_t)r; break;
        case 2: {                                           /* midpoint of f16 code h and h+1 */
            uint16_t h = (uint16_t)((r & 0xFFFF) % 0x7BFF); /* finite, h+1 too */
            double mid = (dl_f16_to_f32(h) + dl_f16_to_f32((uint16_t)(h + 1))) / 2;
            u[i] = fp_bits((float)mid) + nudge - 1 + ((r >> 59) & 1 ? 0x80000000u : 0);
            break;
        }
        default: /* bf16 midpoint: the dropped half is exactly 0x8000 */
            u[i] = ((uint32_t)(r & 0x7F7F) << 16 | 0x8000u) + nudge - 1 +
                   ((r >> 59) & 1 ? 0x80000000u : 0);
        }
    }
    if (chunk == 0) special_values(u, CHUNK);
}

static bool is_subnormal_bits(uint32_t u) {
    return (u & 0x7F800000u) == 0 && (u & 0x007FFFFFu) != 0;
}

/* Compare software RNE with the CPU's instruction over `nchunks` chunks. */
static void sweep_hw(dl_half_kind to, long nchunks, bool exhaustive, uint64_t seed,
                     sweep_counts *c) {
    unsigned long long checked = 0, mism = 0, sub_in = 0, sub_diff = 0, sub_nz = 0;
    dlb_progress prog;
    dlb_progress_start(&prog, to == DL_HALF_F16 ? "f32→f16 vs F16C" : "f32→bf16 vs AVX512-BF16",
                       nchunks);
    const long block = 1 << 12; /* chunks between progress updates */
    for (long b0 = 0; b0 < nchunks; b0 += block) {
        long b1 = b0 + block < nchunks ? b0 + block : nchunks;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 16) reduction(+ : checked, mism, sub_in, sub_diff, sub_nz)
#endif
        for (long ch = b0; ch < b1; ch++) {
            uint32_t u[CHUNK];
            uint16_t sw[CHUNK], hw[CHUNK];
            make_chunk(u, ch, exhaustive, seed);
            const float *x = (const float *)(const void *)u;
            if (to == DL_HALF_F16) {
                dl_f32_to_f16_array(x, sw, CHUNK);
                dl_f32_to_f16_array_hw(x, hw, CHUNK);
            } else {
                dl_f32_to_bf16_array(x, sw, CHUNK);
                dl_f32_to_bf16_array_hw(x, hw, CHUNK);
            }
            for (int i = 0; i < CHUNK; i++) {
                checked++;
                if (is_subnormal_bits(u[i])) {
                    sub_in++;
                    if (sw[i] != hw[i]) {
                        sub_diff++;
                        if ((hw[i] & 0x7FFF) != 0) sub_nz++;
                    }
                } else if (sw[i] != hw[i]) {
                    mism++;
                }
            }
        }
        dlb_progress_update(&prog, b1);
    }
    dlb_progress_end(&prog);
    *c = (sweep_counts){checked, mism, sub_in, sub_diff, sub_nz};
}

/* The two software paths, and SR's bit trick against the general SR rule. */
static void sweep_software(long nchunks, uint64_t seed, unsigned long long *checked,
                           unsigned long long mism[3]) {
    unsigned long long n = 0, m0 = 0, m1 = 0, m2 = 0;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 4) reduction(+ : n, m0, m1, m2)
#endif
    for (long ch = 0; ch < nchunks; ch++) {
        uint32_t u[CHUNK];
        make_chunk(u, ch, false, seed ^ 0x5EEDull);
        dl_rng rng;
        dl_rng_seed_stream(&rng, seed, 0xABCull + (uint64_t)ch);
        for (int i = 0; i < CHUNK; i++) {
            float x = from_bits(u[i]);
            uint32_t r = (uint32_t)(dl_rng_u64(&rng) >> 32);
            n++;
            m0 +=
                dl_fp_encode(&dl_fp16, x, DL_ROUND_NEAREST_EVEN, 0, false) != dl_f32_to_f16_rne(x);
            m1 +=
                dl_fp_encode(&dl_bf16, x, DL_ROUND_NEAREST_EVEN, 0, false) != dl_f32_to_bf16_rne(x);
            m2 +=
                dl_fp_encode(&dl_bf16, x, DL_ROUND_STOCHASTIC, r, false) != dl_f32_to_bf16_sr(x, r);
        }
    }
    *checked = n;
    mism[0] = m0, mism[1] = m1, mism[2] = m2;
}

/* decode(code) re-encoded must give code back (NaN codes: a NaN back). */
static unsigned long long fp8_roundtrip_failures(const dl_fp_format *f) {
    unsigned long long bad = 0;
    for (uint32_t code = 0; code < 256; code++) {
        double v = dl_fp_decode(f, code);
        for (int sat = 0; sat < 2; sat++) {
            uint32_t back = dl_fp_encode(f, (float)v, DL_ROUND_NEAREST_EVEN, 0, sat);
            if (isnan(v))
                bad += !isnan(dl_fp_decode(f, back));
            else if (isinf(v) && sat)
                bad += dl_fp_decode(f, back) != copysign(dl_fp_format_props(f).max, v);
            else
                bad += back != code;
        }
    }
    return bad;
}

static void row(dlb_table *t, const char *conv, const char *a, const char *b, double values,
                double mism, const char *note) {
    dlb_table_str(t, conv);
    dlb_table_str(t, a);
    dlb_table_str(t, b);
    dlb_table_numf(t, values, "%.0f");
    dlb_table_numf(t, mism, "%.0f");
    dlb_table_str(t, note);
}

static int conversions(dlb_run *run, const fp_config *cfg) {
    const bool exhaustive = !cfg->quick;
    const long hw_chunks = exhaustive ? (1L << 32) / CHUNK : 1024; /* 2^32 or 4M values */
    const long sw_chunks = cfg->quick ? 256 : 4096;                /* 1M or 16M values */
    dlb_table *t = dlb_table_new("formats_conversion_checks", "conversion", "software", "against",
                                 "values", "mismatches", "note", NULL);
    char note[160];
    double t0;

    /* f32 → f16 */
    if (dl_have_f16c()) {
        sweep_counts c;
        t0 = dlb_now();
        sweep_hw(DL_HALF_F16, hw_chunks, exhaustive, cfg->seed, &c);
        snprintf(note, sizeof note, "%s, %.1f s",
                 exhaustive ? "every fp32 bit pattern" : "random + ties + specials",
                 dlb_now() - t0);
        row(t, "f32->f16 RNE", "bit tricks", "F16C vcvtps2ph", (double)c.checked,
            (double)(c.mismatches + c.subnormal_diff), note);
        dlb_run_metric(run, "convert_f16_hw_values_checked", (double)c.checked, "values");
        dlb_run_metric(run, "convert_f16_hw_mismatches", (double)(c.mismatches + c.subnormal_diff),
                       "values");

        uint16_t codes[65536];
        float sw[65536], hw[65536];
        for (int i = 0; i < 65536; i++)
            codes[i] = (uint16_t)i;
        dl_f16_to_f32_array(codes, sw, 65536);
        dl_f16_to_f32_array_hw(codes, hw, 65536);
        unsigned long long m = 0;
        for (int i = 0; i < 65536; i++)
            m += fp_bits(sw[i]) != fp_bits(hw[i]);
        row(t, "f16->f32", "bit tricks", "F16C vcvtph2ps", 65536, (double)m, "every fp16 code");
        dlb_run_metric(run, "convert_f16_to_f32_hw_mismatches", (double)m, "values");
    } else {
        row(t, "f32->f16 RNE", "bit tricks", "F16C", 0, NAN, "no F16C on this CPU: skipped");
    }

    /* f32 → bf16 */
    if (dl_have_avx512bf16()) {
        sweep_counts c;
        t0 = dlb_now();
        sweep_hw(DL_HALF_BF16, hw_chunks, exhaustive, cfg->seed, &c);
        snprintf(note, sizeof note, "%s except subnormals, %.1f s",
                 exhaustive ? "every fp32 bit pattern" : "random + ties + specials",
                 dlb_now() - t0);
        row(t, "f32->bf16 RNE", "bit tricks", "AVX512-BF16 vcvtneps2bf16",
            (double)(c.checked - c.subnormal_in), (double)c.mismatches, note);
        snprintf(note, sizeof note,
                 "instruction treats subnormal inputs as 0: %llu of %llu differ, %llu not +-0",
                 c.subnormal_diff, c.subnormal_in, c.subnormal_diff_not_zero);
        row(t, "f32->bf16 RNE, subnormal in", "bit tricks", "AVX512-BF16 vcvtneps2bf16",
            (double)c.subnormal_in, (double)c.subnormal_diff, note);
        dlb_run_metric(run, "convert_bf16_hw_values_checked", (double)(c.checked - c.subnormal_in),
                       "values");
        dlb_run_metric(run, "convert_bf16_hw_mismatches", (double)c.mismatches, "values");
        dlb_run_metric(run, "convert_bf16_hw_subnormal_inputs_flushed", (double)c.subnormal_diff,
                       "values");
    } else {
        row(t, "f32->bf16 RNE", "bit tricks", "AVX512-BF16", 0, NAN,
            "no AVX512-BF16 on this CPU: skipped");
    }

    /* software against software */
    unsigned long long n, mism[3];
    sweep_software(sw_chunks, cfg->seed, &n, mism);
    row(t, "f32->f16 RNE", "general encoder", "bit tricks", (double)n, (double)mism[0],
        "random + ties + specials");
    row(t, "f32->bf16 RNE", "general encoder", "bit tricks", (double)n, (double)mism[1],
        "random + ties + specials");
    row(t, "f32->bf16 SR", "general encoder", "bit tricks (add 16 random bits)", (double)n,
        (double)mism[2], "same 32 random bits for both");
    unsigned long long dec = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        double a = dl_fp_decode(&dl_fp16, h), b = dl_f16_to_f32((uint16_t)h);
        dec += !(a == b || (isnan(a) && isnan(b)));
        a = dl_fp_decode(&dl_bf16, h), b = dl_bf16_to_f32((uint16_t)h);
        dec += !(a == b || (isnan(a) && isnan(b)));
    }
    row(t, "f16, bf16 -> f32", "general decoder", "bit tricks", 2 * 65536, (double)dec,
        "every code of both");
    unsigned long long e4 = fp8_roundtrip_failures(&dl_fp8_e4m3),
                       e5 = fp8_roundtrip_failures(&dl_fp8_e5m2);
    row(t, "fp8 e4m3 decode->encode", "general", "itself", 512, (double)e4,
        "all 256 codes, saturating or not");
    row(t, "fp8 e5m2 decode->encode", "general", "itself", 512, (double)e5,
        "all 256 codes, saturating or not");
    dlb_run_metric(run, "convert_software_crosscheck_mismatches",
                   (double)(mism[0] + mism[1] + mism[2] + dec), "values");
    dlb_run_metric(run, "fp8_roundtrip_failures", (double)(e4 + e5), "codes");

    printf(
        "Conversions: software round-to-nearest-even against the CPU's instructions, and the two\n"
        "software paths against each other (mismatches must be 0, except where the note says "
        "why)\n");
    int rc = dlb_run_table(run, t);
    dlb_table_free(t);
    printf("\n");

    /* fp8 edges worth seeing once: where rounding tips into overflow */
    printf("fp8 edges: e4m3(448)=0x%02X  e4m3(464, a tie)=0x%02X (=448)  e4m3(465)=0x%02X (NaN; "
           "saturating: 0x%02X)\n"
           "           e5m2(57344)=0x%02X  e5m2(61439)=0x%02X  e5m2(61440, a tie)=0x%02X (inf)  "
           "e4m3(2^-10)=0x%02X (2^-9 "
           "is its smallest subnormal: a tie, to even 0)\n\n",
           dl_f32_to_e4m3_rne(448, false), dl_f32_to_e4m3_rne(464, false),
           dl_f32_to_e4m3_rne(465, false), dl_f32_to_e4m3_rne(465, true),
           dl_f32_to_e5m2_rne(57344, false), dl_f32_to_e5m2_rne(61439, false),
           dl_f32_to_e5m2_rne(61440, false), dl_f32_to_e4m3_rne(0x1p-10f, false));
    return rc;
}

/* ------------------------------------------------------ stochastic rounding */

typedef enum { ACC_F32, ACC_BF16_RNE, ACC_BF16_SR, ACC_F16_RNE, ACC_F16_SR } acc_kind;

/* s ← round(s + inc), `steps` times, in the given format; trajectory every `every` steps. */
static double accumulate(acc_kind kind, float inc, int steps, int every, dl_rng *rng,
                         double *traj) {
    float s = 0.0f;
    for (int i = 0; i <= steps; i++) {
        if (traj && i % every == 0) traj[i / every] = s;
        if (i == steps) break;
        float next = s + inc; /* exact enough: fp32 has 16 more bits than bf16 */
        uint32_t r = (uint32_t)(dl_rng_u64(rng) >> 32);
        switch (kind) {
        case ACC_F32: s = next; break;
        case ACC_BF16_RNE: s = dl_bf16_to_f32(dl_f32_to_bf16_rne(next)); break;
        case ACC_BF16_SR: s = dl_bf16_to_f32(dl_f32_to_bf16_sr(next, r)); break;
        case ACC_F16_RNE: s = dl_f16_to_f32(dl_f32_to_f16_rne(next)); break;
        case ACC_F16_SR: s = dl_f16_to_f32(dl_f32_to_f16_sr(next, r)); break;
        }
    }
    return s;
}

static int stochastic_rounding(dlb_run *run, const fp_config *cfg) {
    enum { STEPS = 10000, EVERY = 100, NPTS = STEPS / EVERY + 1 };
    const float inc = 1e-4f;
    const int trials = cfg->quick ? 64 : 400;
    const double exact = STEPS * (double)inc;
    dl_rng rng;
    dl_rng_seed_stream(&rng, cfg->seed, 0x5Cull);

    static double steps_x[NPTS], t_exact[NPTS], t_f32[NPTS], t_bf_rne[NPTS], t_f16_rne[NPTS],
        t_bf_sr1[NPTS], t_bf_sr_mean[NPTS], tmp[NPTS];
    for (int k = 0; k < NPTS; k++)
        steps_x[k] = k * EVERY, t_exact[k] = k * EVERY * (double)inc, t_bf_sr_mean[k] = 0;
    double f32 = accumulate(ACC_F32, inc, STEPS, EVERY, &rng, t_f32);
    double bf_rne = accumulate(ACC_BF16_RNE, inc, STEPS, EVERY, &rng, t_bf_rne);
    double f16_rne = accumulate(ACC_F16_RNE, inc, STEPS, EVERY, &rng, t_f16_rne);
    double sum_bf = 0, sq_bf = 0, sum_f16 = 0, sq_f16 = 0;
    for (int k = 0; k < trials; k++) {
        double b = accumulate(ACC_BF16_SR, inc, STEPS, EVERY, &rng, k == 0 ? t_bf_sr1 : tmp);
        for (int j = 0; j < NPTS; j++)
            t_bf_sr_mean[j] += (k == 0 ? t_bf_sr1[j] : tmp[j]) / trials;
        double h = accumulate(ACC_F16_SR, inc, STEPS, EVERY, &rng, NULL);
        sum_bf += b, sq_bf += b * b, sum_f16 += h, sq_f16 += h * h;
    }
    double mean_bf = sum_bf / trials,
           sd_bf = sqrt(fmax(0, (sq_bf - trials * mean_bf * mean_bf) / (trials - 1)));
    double mean_f16 = sum_f16 / trials,
           sd_f16 = sqrt(fmax(0, (sq_f16 - trials * mean_f16 * mean_f16) / (trials - 1)));
    double z_bf = (mean_bf - exact) / (sd_bf / sqrt(trials)),
           z_f16 = (mean_f16 - exact) / (sd_f16 / sqrt(trials));

    dlb_table *t = dlb_table_new("formats_stochastic_rounding", "accumulator", "final_sum",
                                 "relerr", "spread_sd", "z_of_mean", "note", NULL);
    struct {
        const char *name;
        double v, sd, z;
        const char *note;
    } rows[] = {
        {"exact (double)", exact, NAN, NAN, "10^4 × fp32(1e-4)"},
        {"fp32 RNE", f32, NAN, NAN, "increment >> half an ulp: fine"},
        {"bf16 RNE", bf_rne, NAN, NAN, "stalls where 1e-4 < half an ulp of the sum"},
        {"fp16 RNE", f16_rne, NAN, NAN, "stalls later: 3 more mantissa bits"},
        {"bf16 SR, mean of trials", mean_bf, sd_bf, z_bf,
         "unbiased: z = (mean − exact)/(sd/√trials)"},
        {"fp16 SR, mean of trials", mean_f16, sd_f16, z_f16, "unbiased, and less spread"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        dlb_table_str(t, rows[i].name);
        dlb_table_numf(t, rows[i].v, "%.5f");
        dlb_table_numf(t, fabs(rows[i].v - exact) / exact, "%.2e");
        dlb_table_numf(t, rows[i].sd, "%.4f");
        dlb_table_numf(t, rows[i].z, "%+.2f");
        dlb_table_str(t, rows[i].note);
    }
    printf("Stochastic rounding: s = round(s + 1e-4), 10^4 times from 0 (true sum %.6f); SR over "
           "%d trials\n",
           exact, trials);
    int rc = dlb_run_table(run, t);
    dlb_table_free(t);
    if (rc != 0) return rc;
    printf("\n");

    dlb_plot *p =
        dlb_plot_new("stochastic_rounding",
                     "Adding 1e-4 ten thousand times: round-to-nearest stalls, SR does not",
                     "additions", "running sum");
    /* drawn in this order so the exact line (dashed, black) stays visible on top */
    dlb_plot_series(p, "bf16 SR, one run", steps_x, t_bf_sr1, NPTS);
    dlb_plot_series(p, "bf16 SR, mean of runs", steps_x, t_bf_sr_mean, NPTS);
    dlb_plot_series(p, "bf16 RNE", steps_x, t_bf_rne, NPTS);
    dlb_plot_series(p, "fp16 RNE", steps_x, t_f16_rne, NPTS);
    dlb_plot_series(p, "fp32 RNE", steps_x, t_f32, NPTS);
    dlb_plot_series(p, "exact", steps_x, t_exact, NPTS);
    dlb_plot_extra(p, "set key inside left top; set linetype 1 lc rgb '#f0c020'; "
                      "set linetype 2 lc rgb '#1f77b4'; set linetype 3 lc rgb '#d62728'; "
                      "set linetype 4 lc rgb '#ff7f0e'; set linetype 5 lc rgb '#2ca02c'; "
                      "set linetype 6 lc rgb 'black' dt 2");
    rc = dlb_run_plot(run, p);
    dlb_plot_free(p);

    dlb_run_metric(run, "sr_exact_sum", exact, "value");
    dlb_run_metric(run, "sr_bf16_rne_sum", bf_rne, "value");
    dlb_run_metric(run, "sr_fp16_rne_sum", f16_rne, "value");
    dlb_run_metric(run, "sr_bf16_mean_sum", mean_bf, "value");
    dlb_run_metric(run, "sr_bf16_z_of_mean", z_bf, "sd");
    dlb_run_metric(run, "sr_fp16_mean_sum", mean_f16, "value");
    return rc;
}

int fp_formats(dlb_run *run, const fp_config *cfg) {
    if (properties(run) != 0) goto fail;
    if (conversions(run, cfg) != 0) goto fail;
    if (stochastic_rounding(run, cfg) != 0) goto fail;
    return 0;
fail:
    fprintf(stderr, "error: %s\n", dlb_error());
    return -1;
}
