/* rng.c — xoshiro256** (Blackman & Vigna 2018) seeded through splitmix64.
 *
 * Chosen because it is small, fast, has a 2^256-1 period and, being integer-only, gives the
 * same stream on every machine and compiler: a fixed seed reproduces a run bit for bit.
 * Floats are built from the top bits, so every value is an exact multiple of 2^-24 (2^-53). */
#include <math.h>

#include "dlab/core.h"

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void dl_rng_seed(dl_rng *r, uint64_t seed) {
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&sm);
}

void dl_rng_seed_stream(dl_rng *r, uint64_t seed, uint64_t index) {
    /* Mix the index through splitmix once more so streams 0, 1, 2 ... are unrelated. */
    uint64_t sm = index;
    dl_rng_seed(r, seed ^ splitmix64(&sm));
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t dl_rng_u64(dl_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float dl_rng_uniform(dl_rng *r) { return (float)(dl_rng_u64(r) >> 40) * 0x1.0p-24f; }

double dl_rng_uniform_f64(dl_rng *r) { return (double)(dl_rng_u64(r) >> 11) * 0x1.0p-53; }

uint64_t dl_rng_below(dl_rng *r, uint64_t n) {
    if (n == 0) return 0;
    /* Rejection: drop the top partial copy of [0, n) so every value is equally likely. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = dl_rng_u64(r);
    while (x >= limit);
    return x % n;
}

double dl_rng_normal(dl_rng *r) {
    /* Box–Muller; 1 - u keeps the log argument in (0, 1]. */
    double u1 = 1.0 - dl_rng_uniform_f64(r);
    double u2 = dl_rng_uniform_f64(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void dl_rng_fill_uniform(dl_rng *r, float *x, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * dl_rng_uniform(r);
}

void dl_rng_fill_normal(dl_rng *r, float *x, size_t n, float mean, float stddev) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(mean + stddev * dl_rng_normal(r));
}
