/* Batch norm over [n, c, hw], per channel, with PyTorch's running statistics
 * (momentum update, unbiased variance in the running estimate). Training mode
 * is split into statistics and their application (lib/core/backend.h) so that
 * data-parallel ranks can sum the statistics in between. Sums are in double,
 * so the variance E[x^2] - mean^2 keeps float accuracy unless the mean lies
 * thousands of standard deviations away from zero (BN inputs are conv outputs,
 * whose mean is within a few). */
#include <math.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

/* Row sums in double with eight partial sums: one accumulator is a chain of
 * dependent additions (4x slower); the order is fixed, so results are the same
 * run after run. */
#define LANES 8

static double reduce_lanes(const double *a) {
  return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

/* sum of x and sum of x^2 */
static void row_sums(const float *x, int n, double *sum, double *sum_sq) {
  double a[LANES] = {0}, q[LANES] = {0};
  int i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int j = 0; j < LANES; j++) {
      const double v = x[i + j];
      a[j] += v;
      q[j] += v * v;
    }
  double s = reduce_lanes(a), ss = reduce_lanes(q);
  for (; i < n; i++) {
    s += x[i];
    ss += (double)x[i] * x[i];
  }
  *sum += s;
  *sum_sq += ss;
}

/* sum of dy and sum of dy * (x - mean) */
static void row_dy_sums(const float *dy, const float *x, int n, float mean, double *sum_dy,
                        double *sum_dy_dev) {
  double a[LANES] = {0}, d[LANES] = {0};
  int i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int j = 0; j < LANES; j++) {
      a[j] += dy[i + j];
      d[j] += (double)dy[i + j] * (x[i + j] - mean);
    }
  double s = reduce_lanes(a), sd = reduce_lanes(d);
  for (; i < n; i++) {
    s += dy[i];
    sd += (double)dy[i] * (x[i] - mean);
  }
  *sum_dy += s;
  *sum_dy_dev += sd;
}

dnl_status cpu_bn_stats(int n, int c, int hw, const float *x, double *stats) {
  const bool parallel = (size_t)n * c * hw > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) schedule(static)
  for (int ch = 0; ch < c; ch++) {
    double s = 0.0, ss = 0.0;
    for (int b = 0; b < n; b++)
      row_sums(x + ((size_t)b * c + ch) * hw, hw, &s, &ss);
    stats[ch] = s;
    stats[c + ch] = ss;
  }
  stats[2 * c] = (double)n * hw;
  return DNL_OK;
}

dnl_status cpu_bn_forward_apply(int n, int c, int hw, float eps, float momentum,
                                const double *stats, const float *x, const float *gamma,
                                const float *beta, float *running_mean, float *running_var,
                                float *y, float *save_mean, float *save_invstd) {
  const double m = stats[2 * c];
  const bool parallel = (size_t)n * c * hw > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) schedule(static)
  for (int ch = 0; ch < c; ch++) {
    const double mean = stats[ch] / m;
    const double var = fmax(stats[c + ch] / m - mean * mean, 0.0);
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
    const double unbiased = m > 1 ? var * m / (m - 1) : var;
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

dnl_status cpu_bn_backward_stats(int n, int c, int hw, const float *x, const float *dy,
                                 const float *mean, const float *invstd, double *stats,
                                 float *dgamma, float *dbeta) {
  const bool parallel = (size_t)n * c * hw > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) schedule(static)
  for (int ch = 0; ch < c; ch++) {
    double sum_dy = 0.0, sum_dy_dev = 0.0;
    for (int b = 0; b < n; b++) {
      const size_t row = ((size_t)b * c + ch) * hw;
      row_dy_sums(dy + row, x + row, hw, mean[ch], &sum_dy, &sum_dy_dev);
    }
    const double sum_dy_xhat = sum_dy_dev * invstd[ch];
    stats[ch] = sum_dy;
    stats[c + ch] = sum_dy_xhat;
    if (dgamma)
      dgamma[ch] += (float)sum_dy_xhat;
    if (dbeta)
      dbeta[ch] += (float)sum_dy;
  }
  stats[2 * c] = (double)n * hw;
  return DNL_OK;
}

dnl_status cpu_bn_backward_apply(int n, int c, int hw, const float *x, const float *gamma,
                                 const float *dy, const float *mean, const float *invstd,
                                 const double *stats, float *dx) {
  const double m = stats[2 * c];
  const bool parallel = (size_t)n * c * hw > CPU_PARALLEL_MIN;
#pragma omp parallel for if (parallel) schedule(static)
  for (int ch = 0; ch < c; ch++) {
    const float mu = mean[ch], is = invstd[ch];
    const float k = gamma[ch] * is;
    const float mean_dy = (float)(stats[ch] / m);
    const float mean_dy_xhat = (float)(stats[c + ch] / m);
    for (int b = 0; b < n; b++) {
      const float *xp = x + ((size_t)b * c + ch) * hw;
      const float *dyp = dy + ((size_t)b * c + ch) * hw;
      float *dxp = dx + ((size_t)b * c + ch) * hw;
      for (int i = 0; i < hw; i++) {
        const float xhat = (xp[i] - mu) * is;
        dxp[i] += k * (dyp[i] - mean_dy - xhat * mean_dy_xhat);
      }
    }
  }
  return DNL_OK;
}
