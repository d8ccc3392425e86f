/* Element-wise parts of the context block, as lib/cpu/cpu_context.c: row
 * centering (whitening) and Z = gamma * Y_pair + Y_un. Sums are in double as on
 * the CPU; reductions over a row use one block per row, and dgamma's total over
 * the rows is added in a fixed order (per-row partials, then one block), so
 * results do not depend on scheduling. gamma and dgamma are device scalars. */
#include "lib/cuda/cuda_block_reduce.cuh"
#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"
#include "lib/cuda/cuda_scratch.h"

#define GRID_STRIDE_LOOP(i, n)                                                                \
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                     \
       i += (size_t)gridDim.x * blockDim.x)

/* per-row sums of dz * pair for dgamma */
static cuda_scratch row_partials;

/* one block per row; x == y allowed (every read of the row happens before the
 * block-wide reduction, every write after it) */
__global__ static void center_rows_kernel(int len, const float *x, float *y) {
  const float *xr = x + (size_t)blockIdx.x * len;
  float *yr = y + (size_t)blockIdx.x * len;
  double s = 0.0;
  for (int i = threadIdx.x; i < len; i += blockDim.x)
    s += xr[i];
  s = block_reduce(s, reduce_add(), 0.0);
  const float mean = (float)(s / len);
  for (int i = threadIdx.x; i < len; i += blockDim.x)
    yr[i] = xr[i] - mean;
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
  center_rows_kernel<<<rows, CUDA_BLOCK>>>(len, x, y);
  CUDA_CHECK_LAUNCH("center_rows_kernel");
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
