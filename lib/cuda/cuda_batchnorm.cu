/* Batch norm over [n, c, hw] in the backend's split form (lib/core/backend.h), the
 * same arithmetic as lib/cpu/cpu_batchnorm.c: per-channel sums in double
 * (lib/cuda/cuda_segment_sums.cuh), per-channel constants in the same
 * precision and order as the CPU op, element-wise passes in float. Own kernels
 * rather than cuDNN's batch norm, which cannot hand out its statistics for the
 * ranks of synchronised BN to sum. */
#include <math.h>

#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"
#include "lib/cuda/cuda_segment_sums.cuh"

/* A channel is the n rows of hw floats at stride c * hw. */
static segment_layout channel_layout(int n, int c, int hw) {
  segment_layout l;
  l.segments = c;
  l.rows = n;
  l.len = hw;
  l.seg_stride = (size_t)hw;
  l.row_stride = (size_t)c * hw;
  return l;
}

/* ---- bn_stats ---- */

namespace {
struct sum_and_square {
  const float *x;
  __device__ double2 operator()(int, int, size_t at) const {
    const double v = x[at];
    return make_double2(v, v * v);
  }
};
} // namespace

__global__ static void stats_finish_kernel(int c, double count, int splits, const double2 *partials,
                                           double *stats) {
  FOR_EACH_INDEX(ch, c) {
    const double2 t = segment_total(partials, splits, ch);
    stats[ch] = t.x;
    stats[c + ch] = t.y;
  }
  if (blockIdx.x == 0 && threadIdx.x == 0)
    stats[2 * c] = count;
}

dnl_status cuda_bn_stats(int n, int c, int hw, const float *x, double *stats) {
  const segment_layout l = channel_layout(n, c, hw);
  const int splits = segment_splits(&l);
  double2 *partials;
  DNL_TRY(cuda_segment_scratch((size_t)c * splits, &partials));
  DNL_TRY(segment_partials(&l, splits, sum_and_square{x}, partials));
  stats_finish_kernel<<<norm_index_blocks(c), ROW_BLOCK>>>(c, (double)n * hw, splits, partials,
                                                           stats);
  CUDA_CHECK_LAUNCH("stats_finish_kernel");
  return DNL_OK;
}

/* ---- bn_forward_apply ---- */

/* Per channel: mean, invstd, running statistics, and y = x * scale + shift
 * into coef[ch] = (scale, shift) (floats kept in doubles). */
__global__ static void forward_constants_kernel(int c, float eps, float momentum,
                                                const double *stats, const float *gamma,
                                                const float *beta, float *running_mean,
                                                float *running_var, float *save_mean,
                                                float *save_invstd, double2 *coef) {
  const double m = stats[2 * c];
  FOR_EACH_INDEX(ch, c) {
    const double mean = stats[ch] / m;
    const double var = fmax(stats[c + ch] / m - mean * mean, 0.0);
    const float invstd = (float)(1.0 / sqrt(var + eps));
    const float g = gamma[ch] * invstd;
    const float sh = beta[ch] - (float)mean * g;
    coef[ch] = make_double2(g, sh);
    save_mean[ch] = (float)mean;
    save_invstd[ch] = invstd;
    const double unbiased = m > 1 ? var * m / (m - 1) : var;
    running_mean[ch] = (float)((1.0 - momentum) * running_mean[ch] + momentum * mean);
    running_var[ch] = (float)((1.0 - momentum) * running_var[ch] + momentum * unbiased);
  }
}

__global__ static void affine_rows_kernel(int rows, int c, int hw, const double2 *coef,
                                          const float *x, float *y) {
  FOR_EACH_ROW(r, rows) {
    const double2 k = coef[r % c];
    const float g = (float)k.x, sh = (float)k.y;
    const size_t base = (size_t)r * hw;
    FOR_EACH_ROW_ELEMENT(i, hw) y[base + i] = x[base + i] * g + sh;
  }
}

dnl_status cuda_bn_forward_apply(int n, int c, int hw, float eps, float momentum,
                                 const double *stats, const float *x, const float *gamma,
                                 const float *beta, float *running_mean, float *running_var,
                                 float *y, float *save_mean, float *save_invstd) {
  if (c <= 0)
    return DNL_OK;
  double2 *coef;
  DNL_TRY(cuda_segment_scratch((size_t)c, &coef));
  forward_constants_kernel<<<norm_index_blocks(c), ROW_BLOCK>>>(c, eps, momentum, stats, gamma,
                                                                beta, running_mean, running_var,
                                                                save_mean, save_invstd, coef);
  CUDA_CHECK_LAUNCH("forward_constants_kernel");
  if ((size_t)n * hw == 0)
    return DNL_OK;
  affine_rows_kernel<<<norm_rows_grid(n * c, hw), ROW_BLOCK>>>(n * c, c, hw, coef, x, y);
  CUDA_CHECK_LAUNCH("affine_rows_kernel");
  return DNL_OK;
}

/* ---- bn_forward_eval ---- */

__global__ static void eval_kernel(int rows, int c, int hw, float eps, const float *x,
                                   const float *gamma, const float *beta, const float *running_mean,
                                   const float *running_var, float *y) {
  FOR_EACH_ROW(r, rows) {
    const int ch = r % c;
    const float g = gamma[ch] / sqrtf(running_var[ch] + eps);
    const float sh = beta[ch] - running_mean[ch] * g;
    const size_t base = (size_t)r * hw;
    FOR_EACH_ROW_ELEMENT(i, hw) y[base + i] = x[base + i] * g + sh;
  }
}

dnl_status cuda_bn_forward_eval(int n, int c, int hw, float eps, const float *x, const float *gamma,
                                const float *beta, const float *running_mean,
                                const float *running_var, float *y) {
  if ((size_t)n * c * hw == 0)
    return DNL_OK;
  eval_kernel<<<norm_rows_grid(n * c, hw), ROW_BLOCK>>>(n * c, c, hw, eps, x, gamma, beta,
                                                        running_mean, running_var, y);
  CUDA_CHECK_LAUNCH("eval_kernel");
  return DNL_OK;
}

/* ---- bn_backward_stats ---- */

/* sum dy and sum dy * (x - mean), the difference in float as on the CPU */
namespace {
struct dy_and_dy_dev {
  const float *x, *dy, *mean;
  __device__ double2 operator()(int ch, int, size_t at) const {
    const double d = dy[at];
    return make_double2(d, d * (x[at] - mean[ch]));
  }
};
} // namespace

__global__ static void backward_stats_finish_kernel(int c, double count, int splits,
                                                    const double2 *partials, const float *invstd,
                                                    double *stats, float *dgamma, float *dbeta) {
  FOR_EACH_INDEX(ch, c) {
    const double2 t = segment_total(partials, splits, ch);
    const double sum_dy = t.x, sum_dy_xhat = t.y * invstd[ch];
    stats[ch] = sum_dy;
    stats[c + ch] = sum_dy_xhat;
    if (dgamma)
      dgamma[ch] += (float)sum_dy_xhat;
    if (dbeta)
      dbeta[ch] += (float)sum_dy;
  }
  if (blockIdx.x == 0 && threadIdx.x == 0)
    stats[2 * c] = count;
}

dnl_status cuda_bn_backward_stats(int n, int c, int hw, const float *x, const float *dy,
                                  const float *mean, const float *invstd, double *stats,
                                  float *dgamma, float *dbeta) {
  const segment_layout l = channel_layout(n, c, hw);
  const int splits = segment_splits(&l);
  double2 *partials;
  DNL_TRY(cuda_segment_scratch((size_t)c * splits, &partials));
  DNL_TRY(segment_partials(&l, splits, dy_and_dy_dev{x, dy, mean}, partials));
  backward_stats_finish_kernel<<<norm_index_blocks(c), ROW_BLOCK>>>(
      c, (double)n * hw, splits, partials, invstd, stats, dgamma, dbeta);
  CUDA_CHECK_LAUNCH("backward_stats_finish_kernel");
  return DNL_OK;
}

/* ---- bn_backward_apply ---- */

__global__ static void backward_apply_kernel(int rows, int c, int hw, const float *x,
                                             const float *gamma, const float *dy, const float *mean,
                                             const float *invstd, const double *stats, float *dx) {
  const double m = stats[2 * c];
  FOR_EACH_ROW(r, rows) {
    const int ch = r % c;
    const float mu = mean[ch], is = invstd[ch];
    const float k = gamma[ch] * is;
    const float mean_dy = (float)(stats[ch] / m);
    const float mean_dy_xhat = (float)(stats[c + ch] / m);
    const size_t base = (size_t)r * hw;
    FOR_EACH_ROW_ELEMENT(i, hw) {
      const float xhat = (x[base + i] - mu) * is;
      dx[base + i] += k * (dy[base + i] - mean_dy - xhat * mean_dy_xhat);
    }
  }
}

dnl_status cuda_bn_backward_apply(int n, int c, int hw, const float *x, const float *gamma,
                                  const float *dy, const float *mean, const float *invstd,
                                  const double *stats, float *dx) {
  if ((size_t)n * c * hw == 0)
    return DNL_OK;
  backward_apply_kernel<<<norm_rows_grid(n * c, hw), ROW_BLOCK>>>(n * c, c, hw, x, gamma, dy, mean,
                                                                  invstd, stats, dx);
  CUDA_CHECK_LAUNCH("backward_apply_kernel");
  return DNL_OK;
}
