/* Batch norm over [n, c, hw], per channel, with PyTorch's running statistics
 * (momentum update, unbiased variance in the running estimate). Sums are in
 * double so that large spatial sizes keep float accuracy. */
#include <math.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

/* Row sums in double with eight partial sums: one accumulator is a chain of
 * dependent additions (4x slower); the order is fixed, so results are the same
 * run after run. */
#define LANES 8

static double row_sum(const float *x, int n) {
  double a[LANES] = {0};
  int i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int j = 0; j < LANES; j++)
      a[j] += x[i + j];
  double s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
  for (; i < n; i++)
    s += x[i];
  return s;
}

/* sum of (x - mean)^2 */
static double row_sq_dev(const float *x, int n, double mean) {
  double a[LANES] = {0};
  int i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int j = 0; j < LANES; j++) {
      const double d = x[i + j] - mean;
      a[j] += d * d;
    }
  double s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
  for (; i < n; i++) {
    const double d = x[i] - mean;
    s += d * d;
  }
  return s;
}

/* sum of dy * (x - mean) (times invstd by the caller) */
static double row_dot_dev(const float *dy, const float *x, int n, float mean) {
  double a[LANES] = {0};
  int i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int j = 0; j < LANES; j++)
      a[j] += (double)dy[i + j] * (x[i + j] - mean);
  double s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
  for (; i < n; i++)
    s += (double)dy[i] * (x[i] - mean);
  return s;
}

dnl_status cpu_bn_forward_train(int n, int c, int hw, float eps, float momentum,
                                const float *x, const float *gamma, const float *beta,
                                float *running_mean, float *running_var, float *y,
                                float *save_mean, float *save_invstd) {
  const size_t m = (size_t)n * hw;
  const bool parallel = (size_t)n * c * hw > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) schedule(static)
  for (int ch = 0; ch < c; ch++) {
    double s = 0.0;
    for (int b = 0; b < n; b++)
      s += row_sum(x + ((size_t)b * c + ch) * hw, hw);
    const double mean = s / (double)m;
    double ss = 0.0;
    for (int b = 0; b < n; b++)
      ss += row_sq_dev(x + ((size_t)b * c + ch) * hw, hw, mean);
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
    double sum_dy_dev = 0.0;
    for (int b = 0; b < n; b++) {
      const size_t row = ((size_t)b * c + ch) * hw;
      sum_dy += row_sum(dy + row, hw);
      sum_dy_dev += row_dot_dev(dy + row, x + row, hw, mean);
    }
    const double sum_dy_xhat = sum_dy_dev * invstd;
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
