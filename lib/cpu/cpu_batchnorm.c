/* Batch norm over [n, c, hw], per channel, with PyTorch's running statistics
 * (momentum update, unbiased variance in the running estimate). Sums are in
 * double so that large spatial sizes keep float accuracy. */
#include <math.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

dnl_status cpu_bn_forward_train(int n, int c, int hw, float eps, float momentum,
                                const float *x, const float *gamma, const float *beta,
                                float *running_mean, float *running_var, float *y,
                                float *save_mean, float *save_invstd) {
  const size_t m = (size_t)n * hw;
  const bool parallel = (size_t)n * c * hw > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) schedule(static)
  for (int ch = 0; ch < c; ch++) {
    double s = 0.0;
    for (int b = 0; b < n; b++) {
      const float *xp = x + ((size_t)b * c + ch) * hw;
      for (int i = 0; i < hw; i++)
        s += xp[i];
    }
    const double mean = s / (double)m;
    double ss = 0.0;
    for (int b = 0; b < n; b++) {
      const float *xp = x + ((size_t)b * c + ch) * hw;
      for (int i = 0; i < hw; i++) {
        double d = xp[i] - mean;
        ss += d * d;
      }
    }
    const double var = ss / (double)m;
    const float invstd = (float)(1.0 / sqrt(var + eps));
    const float g = gamma[ch] * invstd;
    const float sh = beta[ch] - (float)mean * g;
    for (int b = 0; b < n; b++) {
      const float *xp = x + ((size_t)b * c + ch) * hw;
      float *yp = y + ((size_t)b * c + ch) * hw;
      for (int i = 0; i < hw; i++)
        yp[i] = xp[i] * g + sh;
    }
    save_mean[ch] = (float)mean;
    save_invstd[ch] = invstd;
    const double unbiased = m > 1 ? ss / (double)(m - 1) : var;
    running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mean);
    running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + momentum * unbiased);
  }
  return DNL_OK;
}

dnl_status cpu_bn_forward_eval(int n, int c, int hw, float eps, const float *x,
                               const float *gamma, const float *beta,
                               const float *running_mean, const float *running_var, float *y) {
  const bool parallel = (size_t)n * c * hw > CPU_PARALLEL_MIN;
#pragma omp parallel for collapse(2) if (parallel) schedule(static)
  for (int b = 0; b < n; b++)
    for (int ch = 0; ch < c; ch++) {
      const float g = gamma[ch] / sqrtf(running_var[ch] + eps);
      const float sh = beta[ch] - running_mean[ch] * g;
      const float *xp = x + ((size_t)b * c + ch) * hw;
      float *yp = y + ((size_t)b * c + ch) * hw;
      for (int i = 0; i < hw; i++)
        yp[i] = xp[i] * g + sh;
    }
  return DNL_OK;
}

dnl_status cpu_bn_backward(int n, int c, int hw, const float *x, const float *gamma,
                           const float *dy, const float *save_mean, const float *save_invstd,
                           float *dx, float *dgamma, float *dbeta) {
  const double m = (double)n * hw;
  const bool parallel = (size_t)n * c * hw > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) schedule(static)
  for (int ch = 0; ch < c; ch++) {
    const float mean = save_mean[ch];
    const float invstd = save_invstd[ch];
    double sum_dy = 0.0;
    double sum_dy_xhat = 0.0;
    for (int b = 0; b < n; b++) {
      const float *xp = x + ((size_t)b * c + ch) * hw;
      const float *dyp = dy + ((size_t)b * c + ch) * hw;
      for (int i = 0; i < hw; i++) {
        sum_dy += dyp[i];
        sum_dy_xhat += (double)dyp[i] * (xp[i] - mean) * invstd;
      }
    }
    if (dgamma)
      dgamma[ch] += (float)sum_dy_xhat;
    if (dbeta)
      dbeta[ch] += (float)sum_dy;
    if (!dx)
      continue;
    const float k = gamma[ch] * invstd;
    const float mean_dy = (float)(sum_dy / m);
    const float mean_dy_xhat = (float)(sum_dy_xhat / m);
    for (int b = 0; b < n; b++) {
      const float *xp = x + ((size_t)b * c + ch) * hw;
      const float *dyp = dy + ((size_t)b * c + ch) * hw;
      float *dxp = dx + ((size_t)b * c + ch) * hw;
      for (int i = 0; i < hw; i++) {
        const float xhat = (xp[i] - mean) * invstd;
        dxp[i] += k * (dyp[i] - mean_dy - xhat * mean_dy_xhat);
      }
    }
  }
  return DNL_OK;
}
