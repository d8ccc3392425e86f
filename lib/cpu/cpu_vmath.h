/* Vectorisable float math for the CPU ops' inner loops. */
#ifndef DNL_CPU_VMATH_H
#define DNL_CPU_VMATH_H

#include <stdint.h>
#include <string.h>

/* Element-wise loops also get AVX-512 and AVX2 + FMA clones, picked
 * at load time; the build's baseline (x86-64) has only SSE2. */
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

/* e^x within 2 ulp for x in [-87, 88] (clamped outside; NaN gives NaN), written without
 * branches or memory so that loops over it vectorise: x = n ln2 + r with n
 * the nearest integer (the 1.5 * 2^23 shift rounds), e^r from its degree-7
 * Taylor polynomial (|r| <= ln2/2: truncation error below 1e-8 relative), 2^n
 * through the exponent bits. */
static inline float exp_fast(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const float t = x * 1.44269504088896341f;
  float n = (t + 12582912.0f) - 12582912.0f;
  n = n == n ? n : 0.0f; /* NaN stays NaN through r; the exponent stays defined */
  const float r = (x - n * 0.693145751953125f) - n * 1.428606820309417e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = ((int32_t)n + 127) << 23;
  float two_n;
  memcpy(&two_n, &bits, sizeof two_n);
  return p * two_n;
}

#endif
