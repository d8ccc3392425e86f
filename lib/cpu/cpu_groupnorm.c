/* Group norm over [n, c, hw] with a per-channel affine: instance norm is the
 * case groups = c, layer norm over (C, H, W) the case groups = 1. A group's
 * channels are contiguous in NCHW, so each (sample, group) is one span of
 * (c / groups) * hw floats. Sums in double. */
#include <math.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

dnl_status cpu_group_norm_forward(int n, int c, int hw, int groups, float eps, const float *x,
                                  const float *gamma, const float *beta, float *y,
                                  float *save_mean, float *save_invstd) {
  const int cg = c / groups;
  const size_t len = (size_t)cg * hw;
  const bool parallel = (size_t)n * c * hw > CPU_PARALLEL_MIN;
#pragma omp parallel for schedule(static) if (parallel)
  for (int bg = 0; bg < n * groups; bg++) {
    const float *xs = x + (size_t)bg * len;
    float *ys = y + (size_t)bg * len;
    double s = 0.0;
    for (size_t i = 0; i < len; i++)
      s += xs[i];
    const double mean = s / (double)len;
    double ss = 0.0;
    for (size_t i = 0; i < len; i++) {
      const double dlt = xs[i] - mean;
      ss += dlt * dlt;
    }
    const float invstd = (float)(1.0 / sqrt(ss / (double)len + eps));
    for (int ch = 0; ch < cg; ch++) {
      const int cc = (bg % groups) * cg + ch;
      const float a = gamma[cc] * invstd, sh = beta[cc] - (float)mean * a;
      for (int i = 0; i < hw; i++)
        ys[(size_t)ch * hw + i] = xs[(size_t)ch * hw + i] * a + sh;
    }
    save_mean[bg] = (float)mean;
    save_invstd[bg] = invstd;
  }
  return DNL_OK;
}

dnl_status cpu_group_norm_backward(int n, int c, int hw, int groups, const float *x,
                                   const float *gamma, const float *dy, const float *save_mean,
                                   const float *save_invstd, float *dx, float *dgamma,
                                   float *dbeta) {
  const int cg = c / groups;
  const size_t len = (size_t)cg * hw;
  const bool parallel = (size_t)n * c * hw > CPU_PARALLEL_MIN;
  if (dgamma || dbeta) {
#pragma omp parallel for schedule(static) if (parallel)
    for (int cc = 0; cc < c; cc++) {
      double sg = 0.0, sb = 0.0;
      for (int b = 0; b < n; b++) {
        const int bg = b * groups + cc / cg;
        const size_t off = ((size_t)b * c + cc) * hw;
        for (int i = 0; i < hw; i++) {
          sb += dy[off + i];
          sg += (double)dy[off + i] * (x[off + i] - save_mean[bg]) * save_invstd[bg];
        }
      }
      if (dgamma)
        dgamma[cc] += (float)sg;
      if (dbeta)
        dbeta[cc] += (float)sb;
    }
  }
  if (!dx)
    return DNL_OK;
#pragma omp parallel for schedule(static) if (parallel)
  for (int bg = 0; bg < n * groups; bg++) {
    const size_t base = (size_t)bg * len;
    const float mean = save_mean[bg], invstd = save_invstd[bg];
    /* with g = dy * gamma: dx = invstd * (g - mean(g) - xhat * mean(g * xhat)) */
    double sg = 0.0, sgx = 0.0;
    for (int ch = 0; ch < cg; ch++) {
      const float gm = gamma[(bg % groups) * cg + ch];
      for (int i = 0; i < hw; i++) {
        const size_t at = base + (size_t)ch * hw + i;
        const double g = (double)dy[at] * gm;
        sg += g;
        sgx += g * (x[at] - mean) * invstd;
      }
    }
    const float mg = (float)(sg / (double)len), mgx = (float)(sgx / (double)len);
    for (int ch = 0; ch < cg; ch++) {
      const float gm = gamma[(bg % groups) * cg + ch];
      for (int i = 0; i < hw; i++) {
        const size_t at = base + (size_t)ch * hw + i;
        const float xhat = (x[at] - mean) * invstd;
        dx[at] += invstd * (dy[at] * gm - mg - xhat * mgx);
      }
    }
  }
  return DNL_OK;
}
