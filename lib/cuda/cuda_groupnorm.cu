/* Group norm over [n, c, hw] with a per-channel affine (instance norm: groups =
 * c, layer norm: groups = 1), the same arithmetic as lib/cpu/cpu_groupnorm.c:
 * the mean first and then the squared deviations from it, both summed in
 * double per (sample, group) with lib/cuda/cuda_segment_sums.cuh, so a layer
 * norm over a whole 2048 x 97 x 97 sample is spread over many blocks. */
#include <math.h>

#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"
#include "lib/cuda/cuda_segment_sums.cuh"

/* A (sample, group) is its c / groups channels of hw floats, one after the
 * other: segment bg = b * groups + g, row = channel within the group. */
static segment_layout group_layout(int n, int c, int hw, int groups) {
  const int cg = c / groups;
  segment_layout l;
  l.segments = n * groups;
  l.rows = cg;
  l.len = hw;
  l.seg_stride = (size_t)cg * hw;
  l.row_stride = (size_t)hw;
  return l;
}

/* ---- forward ---- */

namespace {
struct value_only {
  const float *x;
  __device__ double2 operator()(int, int, size_t at) const { return make_double2(x[at], 0.0); }
};
} // namespace

/* squared deviation from the segment's mean (a double, mean[bg].x) */
namespace {
struct squared_deviation {
  const float *x;
  const double2 *mean;
  __device__ double2 operator()(int bg, int, size_t at) const {
    const double d = x[at] - mean[bg].x;
    return make_double2(d * d, 0.0);
  }
};
} // namespace

__global__ static void mean_kernel(int segments, double len, int splits, const double2 *partials,
                                   double2 *mean, float *save_mean) {
  FOR_EACH_INDEX(bg, segments) {
    const double m = segment_total(partials, splits, bg).x / len;
    mean[bg] = make_double2(m, 0.0);
    save_mean[bg] = (float)m;
  }
}

__global__ static void invstd_kernel(int segments, double len, float eps, int splits,
                                     const double2 *partials, float *save_invstd) {
  FOR_EACH_INDEX(bg, segments) {
    const double ss = segment_total(partials, splits, bg).x;
    save_invstd[bg] = (float)(1.0 / sqrt(ss / len + eps));
  }
}

/* row r = b * c + cc of [n * c, hw] belongs to segment r / cg */
__global__ static void forward_apply_kernel(int rows, int c, int hw, int cg, const float *x,
                                            const float *gamma, const float *beta,
                                            const float *save_mean, const float *save_invstd,
                                            float *y) {
  FOR_EACH_ROW(r, rows) {
    const int cc = r % c, bg = r / cg;
    const float a = gamma[cc] * save_invstd[bg];
    const float sh = beta[cc] - save_mean[bg] * a;
    const size_t base = (size_t)r * hw;
    FOR_EACH_ROW_ELEMENT(i, hw) y[base + i] = x[base + i] * a + sh;
  }
}

dnl_status cuda_group_norm_forward(int n, int c, int hw, int groups, float eps, const float *x,
                                   const float *gamma, const float *beta, float *y,
                                   float *save_mean, float *save_invstd) {
  if (n <= 0 || c <= 0 || groups <= 0)
    return DNL_OK;
  const segment_layout l = group_layout(n, c, hw, groups);
  const int splits = segment_splits(&l);
  const size_t npart = (size_t)l.segments * splits;
  const double len = (double)l.rows * hw;
  double2 *scratch;
  DNL_TRY(cuda_segment_scratch(npart + l.segments, &scratch));
  double2 *partials = scratch, *mean = scratch + npart;
  const unsigned blocks = norm_index_blocks(l.segments);
  DNL_TRY(segment_partials(&l, splits, value_only{x}, partials));
  mean_kernel<<<blocks, ROW_BLOCK>>>(l.segments, len, splits, partials, mean, save_mean);
  CUDA_CHECK_LAUNCH("mean_kernel");
  DNL_TRY(segment_partials(&l, splits, squared_deviation{x, mean}, partials));
  invstd_kernel<<<blocks, ROW_BLOCK>>>(l.segments, len, eps, splits, partials, save_invstd);
  CUDA_CHECK_LAUNCH("invstd_kernel");
  if (hw <= 0)
    return DNL_OK;
  forward_apply_kernel<<<norm_rows_grid(n * c, hw), ROW_BLOCK>>>(n * c, c, hw, l.rows, x, gamma,
                                                                 beta, save_mean, save_invstd, y);
  CUDA_CHECK_LAUNCH("forward_apply_kernel");
  return DNL_OK;
}

/* ---- backward ---- */

/* per channel cc (segment) over the samples b (rows): dy * xhat and dy */
namespace {
struct dgamma_dbeta_terms {
  const float *x, *dy, *mean, *invstd;
  int groups, cg;
  __device__ double2 operator()(int cc, int b, size_t at) const {
    const int bg = b * groups + cc / cg;
    const double d = dy[at];
    return make_double2(d * (x[at] - mean[bg]) * invstd[bg], d);
  }
};
} // namespace

__global__ static void param_grad_kernel(int c, int splits, const double2 *partials, float *dgamma,
                                         float *dbeta) {
  FOR_EACH_INDEX(cc, c) {
    const double2 t = segment_total(partials, splits, cc);
    if (dgamma)
      dgamma[cc] += (float)t.x;
    if (dbeta)
      dbeta[cc] += (float)t.y;
  }
}

/* per segment bg over its channels (rows): g = dy * gamma and g * xhat */
namespace {
struct input_grad_terms {
  const float *x, *dy, *gamma, *mean, *invstd;
  int groups, cg;
  __device__ double2 operator()(int bg, int ch, size_t at) const {
    const double g = (double)dy[at] * gamma[(bg % groups) * cg + ch];
    return make_double2(g, g * (x[at] - mean[bg]) * invstd[bg]);
  }
};
} // namespace

/* the two means of the input-gradient formula, rounded to float as on the CPU */
__global__ static void grad_means_kernel(int segments, double len, int splits,
                                         const double2 *partials, double2 *means) {
  FOR_EACH_INDEX(bg, segments) {
    const double2 t = segment_total(partials, splits, bg);
    means[bg] = make_double2((float)(t.x / len), (float)(t.y / len));
  }
}

__global__ static void input_grad_kernel(int rows, int c, int hw, int cg, const float *x,
                                         const float *gamma, const float *dy,
                                         const float *save_mean, const float *save_invstd,
                                         const double2 *means, float *dx) {
  FOR_EACH_ROW(r, rows) {
    const int cc = r % c, bg = r / cg;
    const float gm = gamma[cc], mean = save_mean[bg], invstd = save_invstd[bg];
    const float mg = (float)means[bg].x, mgx = (float)means[bg].y;
    const size_t base = (size_t)r * hw;
    FOR_EACH_ROW_ELEMENT(i, hw) {
      const float xhat = (x[base + i] - mean) * invstd;
      dx[base + i] += invstd * (dy[base + i] * gm - mg - xhat * mgx);
    }
  }
}

static dnl_status param_grads(int n, int c, int hw, int groups, const float *x, const float *dy,
                              const float *save_mean, const float *save_invstd, float *dgamma,
                              float *dbeta) {
  segment_layout l; /* channel cc: the n rows of hw floats at stride c * hw */
  l.segments = c;
  l.rows = n;
  l.len = hw;
  l.seg_stride = (size_t)hw;
  l.row_stride = (size_t)c * hw;
  const int splits = segment_splits(&l);
  double2 *partials;
  DNL_TRY(cuda_segment_scratch((size_t)c * splits, &partials));
  DNL_TRY(segment_partials(
      &l, splits, dgamma_dbeta_terms{x, dy, save_mean, save_invstd, groups, c / groups}, partials));
  param_grad_kernel<<<norm_index_blocks(c), ROW_BLOCK>>>(c, splits, partials, dgamma, dbeta);
  CUDA_CHECK_LAUNCH("param_grad_kernel");
  return DNL_OK;
}

static dnl_status input_grad(int n, int c, int hw, int groups, const float *x, const float *gamma,
                             const float *dy, const float *save_mean, const float *save_invstd,
                             float *dx) {
  const segment_layout l = group_layout(n, c, hw, groups);
  const int splits = segment_splits(&l);
  const size_t npart = (size_t)l.segments * splits;
  double2 *scratch;
  DNL_TRY(cuda_segment_scratch(npart + l.segments, &scratch));
  double2 *partials = scratch, *means = scratch + npart;
  DNL_TRY(segment_partials(&l, splits,
                           input_grad_terms{x, dy, gamma, save_mean, save_invstd, groups, l.rows},
                           partials));
  grad_means_kernel<<<norm_index_blocks(l.segments), ROW_BLOCK>>>(l.segments, (double)l.rows * hw,
                                                                  splits, partials, means);
  CUDA_CHECK_LAUNCH("grad_means_kernel");
  if (hw <= 0)
    return DNL_OK;
  input_grad_kernel<<<norm_rows_grid(n * c, hw), ROW_BLOCK>>>(n * c, c, hw, l.rows, x, gamma, dy,
                                                              save_mean, save_invstd, means, dx);
  CUDA_CHECK_LAUNCH("input_grad_kernel");
  return DNL_OK;
}

dnl_status cuda_group_norm_backward(int n, int c, int hw, int groups, const float *x,
                                    const float *gamma, const float *dy, const float *save_mean,
                                    const float *save_invstd, float *dx, float *dgamma,
                                    float *dbeta) {
  if (n <= 0 || c <= 0 || groups <= 0)
    return DNL_OK;
  if (dgamma || dbeta)
    DNL_TRY(param_grads(n, c, hw, groups, x, dy, save_mean, save_invstd, dgamma, dbeta));
  if (dx)
    DNL_TRY(input_grad(n, c, hw, groups, x, gamma, dy, save_mean, save_invstd, dx));
  return DNL_OK;
}
