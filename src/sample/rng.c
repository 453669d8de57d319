/* xoshiro256** with splitmix64 seeding (see rng.h). */
#include "sample/rng.h"

#include <time.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void slm_rng_seed(slm_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    /* splitmix64 output is a bijection of distinct inputs, so the state can
     * not be all zero; the check is only a belt for future changes. */
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

uint64_t slm_rng_next(slm_rng *r) {
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

double slm_rng_uniform(slm_rng *r) {
    return (double)(slm_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t slm_rng_clock_seed(const void *salt) {
    struct timespec a, b;
    clock_gettime(CLOCK_REALTIME, &a);
    clock_gettime(CLOCK_MONOTONIC, &b);
    static _Thread_local uint64_t counter;
    uint64_t x = (uint64_t)a.tv_sec * 1000000000ULL + (uint64_t)a.tv_nsec;
    x ^= ((uint64_t)b.tv_nsec << 32) ^ (uint64_t)(uintptr_t)salt ^ (++counter * 0x9e3779b97f4a7c15ULL);
    uint64_t seed = splitmix64(&x);
    return seed == UINT64_MAX ? seed - 1 : seed;
}
