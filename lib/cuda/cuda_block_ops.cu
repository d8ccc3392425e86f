/* Element-wise parts of the context block, as lib/cpu/cpu_context.c: row
 * centering (whitening) and Z = gamma * Y_pair + Y_un. Sums are in double as on
 * the CPU and added in an order fixed by the shape, so results do not depend on
 * scheduling: a row's sum for centering comes from per-chunk partials
 * (lib/cuda/cuda_segment_sums.cuh, so that a few long rows, layer-norm style
 * whitening of whole samples, still spread over the whole GPU); dgamma's total
 * over the rows is added from per-row partials by one block. gamma and dgamma
 * are device scalars. */
#include "lib/cuda/cuda_block_reduce.cuh"
#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"
#include "lib/cuda/cuda_scratch.h"
#include "lib/cuda/cuda_segment_sums.cuh"

#define GRID_STRIDE_LOOP(i, n)                                                                \
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                     \
       i += (size_t)gridDim.x * blockDim.x)

/* per-row sums of dz * pair for dgamma */
static cuda_scratch row_partials;

/* ---- center_rows: a segment per row, its chunks' sums, the mean, the subtraction ---- */

namespace {
struct row_value {
  const float *x;
  __device__ double2 operator()(int, int, size_t at) const { return make_double2(x[at], 0.0); }
};
} // namespace

/* mean[r].x = (float)(row r's sum / len), the CPU's float mean */
__global__ static void row_mean_kernel(int rows, int len, int splits, const double2 *partials,
                                       double2 *mean) {
  FOR_EACH_INDEX(r, rows) {
    const float m = (float)(segment_total(partials, splits, r).x / len);
    mean[r] = make_double2(m, 0.0);
  }
}

/* x == y allowed: each element is read and written by the same thread */
__global__ static void subtract_row_mean_kernel(int rows, int len, const double2 *mean,
                                                const float *x, float *y) {
  FOR_EACH_ROW(r, rows) {
    const float m = (float)mean[r].x;
    const size_t base = (size_t)r * len;
    FOR_EACH_ROW_ELEMENT(i, len) y[base + i] = x[base + i] - m;
  }
}

__global__ static void combine_forward_kernel(size_t total, int p, const float *gamma,
                                              const float *pair, const float *unary,
                                              float *z) {
  const float g = pair ? gamma[0] : 0.0f;
  GRID_STRIDE_LOOP(i, total) {
    const float u = unary ? unary[i / p] : 0.0f;
    z[i] = __fadd_rn(pair ? __fmul_rn(g, pair[i]) : 0.0f, u);
  }
}

/* one block per (sample, channel) row of p positions */
__global__ static void combine_backward_rows_kernel(int p, const float *gamma,
                                                    const float *pair, const float *dz,
                                                    float *dpair, float *dunary,
                                                    double *row_dgamma) {
  const size_t row = blockIdx.x;
  const float *dzr = dz + row * p;
  double su = 0.0, sg = 0.0;
  for (int i = threadIdx.x; i < p; i += blockDim.x) {
    su += dzr[i];
    if (pair)
      sg += (double)dzr[i] * pair[row * p + i];
  }
  if (dpair) {
    const float g = gamma[0];
    for (int i = threadIdx.x; i < p; i += blockDim.x)
      dpair[row * p + i] = __fadd_rn(dpair[row * p + i], __fmul_rn(g, dzr[i]));
  }
  if (dunary) {
    su = block_reduce(su, reduce_add(), 0.0);
    if (threadIdx.x == 0)
      dunary[row] += (float)su;
  }
  if (row_dgamma) {
    sg = block_reduce(sg, reduce_add(), 0.0);
    if (threadIdx.x == 0)
      row_dgamma[row] = sg;
  }
}

/* one block: dgamma[0] += (float)sum of the rows' partials */
__global__ static void combine_dgamma_kernel(size_t rows, const double *row_dgamma,
                                             float *dgamma) {
  double s = 0.0;
  for (size_t r = threadIdx.x; r < rows; r += blockDim.x)
    s += row_dgamma[r];
  s = block_reduce(s, reduce_add(), 0.0);
  if (threadIdx.x == 0)
    dgamma[0] += (float)s;
}

dnl_status cuda_center_rows(int rows, int len, const float *x, float *y) {
  if (rows <= 0 || len <= 0)
    return DNL_OK;
  segment_layout l;
  l.segments = rows;
  l.rows = 1;
  l.len = len;
  l.seg_stride = (size_t)len;
  l.row_stride = (size_t)len;
  const int splits = segment_splits(&l);
  const size_t npart = (size_t)rows * splits;
  double2 *scratch;
  DNL_TRY(cuda_segment_scratch(npart + (size_t)rows, &scratch));
  double2 *partials = scratch, *mean = scratch + npart;
  DNL_TRY(segment_partials(&l, splits, row_value{x}, partials));
  row_mean_kernel<<<norm_index_blocks(rows), ROW_BLOCK>>>(rows, len, splits, partials, mean);
  CUDA_CHECK_LAUNCH("row_mean_kernel");
  subtract_row_mean_kernel<<<norm_rows_grid(rows, len), ROW_BLOCK>>>(rows, len, mean, x, y);
  CUDA_CHECK_LAUNCH("subtract_row_mean_kernel");
  return DNL_OK;
}

dnl_status cuda_attention_combine_forward(int n, int c, int p, const float *gamma,
                                          const float *pair, const float *unary, float *z) {
  if (n <= 0 || c <= 0 || p <= 0)
    return DNL_OK;
  const size_t total = (size_t)n * c * p;
  combine_forward_kernel<<<cuda_grid_for(total), CUDA_BLOCK>>>(total, p, gamma, pair, unary,
                                                               z);
  CUDA_CHECK_LAUNCH("combine_forward_kernel");
  return DNL_OK;
}

dnl_status cuda_attention_combine_backward(int n, int c, int p, const float *gamma,
                                           const float *pair, const float *dz, float *dpair,
                                           float *dgamma, float *dunary) {
  if (n <= 0 || c <= 0 || p <= 0)
    return DNL_OK;
  const size_t rows = (size_t)n * c;
  double *row_dgamma = NULL;
  if (dgamma && pair)
    DNL_TRY(cuda_scratch_get(&row_partials, rows * sizeof(double),
                             "attention_combine_backward", (void **)&row_dgamma));
  if (!dpair && !dunary && !row_dgamma)
    return DNL_OK;
  combine_backward_rows_kernel<<<(unsigned)rows, CUDA_BLOCK>>>(p, gamma, pair, dz, dpair,
                                                               dunary, row_dgamma);
  CUDA_CHECK_LAUNCH("combine_backward_rows_kernel");
  if (row_dgamma) {
    combine_dgamma_kernel<<<1, 1024>>>(rows, row_dgamma, dgamma);
    CUDA_CHECK_LAUNCH("combine_dgamma_kernel");
  }
  return DNL_OK;
}
