/* Element-wise parts of the context block: whitening by mean-centering, and
 * Z = gamma * Y_pair + Y_un with the unary term broadcast over positions.
 * Sums are in double so that P = 9409 positions keep float accuracy. */
#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

dnl_status cpu_center_rows(int rows, int len, const float *x, float *y) {
#pragma omp parallel for schedule(static) if ((size_t)rows * len > CPU_PARALLEL_MIN)
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * len;
    float *yr = y + (size_t)r * len;
    double s = 0.0;
    for (int i = 0; i < len; i++)
      s += xr[i];
    const float mean = (float)(s / len);
    for (int i = 0; i < len; i++)
      yr[i] = xr[i] - mean;
  }
  return DNL_OK;
}

dnl_status cpu_attention_combine_forward(int n, int c, int p, const float *gamma,
                                         const float *pair, const float *unary, float *z) {
  const float g = pair ? gamma[0] : 0.0f;
#pragma omp parallel for schedule(static) if ((size_t)n * c * p > CPU_PARALLEL_MIN)
  for (int bc = 0; bc < n * c; bc++) {
    const float u = unary ? unary[bc] : 0.0f;
    const float *pr = pair ? pair + (size_t)bc * p : NULL;
    float *zr = z + (size_t)bc * p;
    for (int i = 0; i < p; i++)
      zr[i] = (pr ? g * pr[i] : 0.0f) + u;
  }
  return DNL_OK;
}

dnl_status cpu_attention_combine_backward(int n, int c, int p, const float *gamma,
                                          const float *pair, const float *dz, float *dpair,
                                          float *dgamma, float *dunary) {
  double dg = 0.0;
  const bool parallel = (size_t)n * c * p > CPU_PARALLEL_MIN;
#pragma omp parallel for schedule(static) reduction(+ : dg) if (parallel)
  for (int bc = 0; bc < n * c; bc++) {
    const float *dzr = dz + (size_t)bc * p;
    double su = 0.0, sg = 0.0;
    for (int i = 0; i < p; i++) {
      su += dzr[i];
      if (pair)
        sg += (double)dzr[i] * pair[(size_t)bc * p + i];
    }
    if (dpair)
      for (int i = 0; i < p; i++)
        dpair[(size_t)bc * p + i] += gamma[0] * dzr[i];
    if (dunary)
      dunary[bc] += (float)su;
    dg += sg;
  }
  if (dgamma && pair)
    dgamma[0] += (float)dg;
  return DNL_OK;
}
