/* Block-wide reductions for kernels launched with blockDim.x a multiple of 32
 * (at most 1024): warp shuffles, then one value per warp through shared memory.
 * Every thread of the block must call them; every thread gets the result. */
#ifndef DNL_CUDA_BLOCK_REDUCE_CUH
#define DNL_CUDA_BLOCK_REDUCE_CUH

struct reduce_add {
  template <typename T> __device__ T operator()(T a, T b) const { return a + b; }
};

struct reduce_max {
  template <typename T> __device__ T operator()(T a, T b) const { return a > b ? a : b; }
};

template <typename T, typename Op> __device__ T warp_reduce(T v, Op op) {
  for (int offset = 16; offset > 0; offset /= 2)
    v = op(v, __shfl_down_sync(0xffffffffu, v, offset));
  return v;
}

template <typename T, typename Op> __device__ T block_reduce(T v, Op op, T identity) {
  __shared__ T per_warp[32];
  __shared__ T result;
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;
  v = warp_reduce(v, op);
  if (lane == 0)
    per_warp[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < (int)(blockDim.x / 32) ? per_warp[lane] : identity;
    v = warp_reduce(v, op);
    if (lane == 0)
      result = v;
  }
  __syncthreads();
  return result;
}

#endif
