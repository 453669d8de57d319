/* Seeded pseudo-random numbers for the sampler: xoshiro256** (Blackman and
 * Vigna), state expanded from a 64-bit seed with splitmix64. Small, fast,
 * and identical on every platform, so a seed reproduces a token sequence. */
#ifndef SLM_SAMPLE_RNG_H
#define SLM_SAMPLE_RNG_H

#include <stdint.h>

typedef struct slm_rng {
    uint64_t s[4];
} slm_rng;

void slm_rng_seed(slm_rng *r, uint64_t seed);
uint64_t slm_rng_next(slm_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double slm_rng_uniform(slm_rng *r);
/* A seed from the clocks and an address (for SLM_SEED_RANDOM); never
 * returns UINT64_MAX. */
uint64_t slm_rng_clock_seed(const void *salt);

#endif
