/* Deterministic random numbers (xoshiro256**, seeded through splitmix64).
 * Every random choice of the harness draws from an rng seeded from the
 * config's seed, so a seed gives the same numbers on every run. */
#ifndef DNL_RNG_H
#define DNL_RNG_H

#include <stdint.h>

typedef struct rng {
  uint64_t s[4];
} rng;

void rng_seed(rng *r, uint64_t seed);
/* An independent stream derived from (seed, a, b): e.g. (seed, epoch, sample). */
void rng_seed3(rng *r, uint64_t seed, uint64_t a, uint64_t b);
/* A 64-bit hash of a name (FNV-1a), to key a stream by a string. */
uint64_t rng_hash_name(const char *name);
uint64_t rng_u64(rng *r);
/* Uniform in [0, 1). */
double rng_uniform(rng *r);
/* Uniform in [lo, hi). */
double rng_range(rng *r, double lo, double hi);
/* Uniform integer in [lo, hi] (inclusive). */
int64_t rng_int(rng *r, int64_t lo, int64_t hi);
/* Standard normal (Box-Muller). */
double rng_normal(rng *r);

#endif
