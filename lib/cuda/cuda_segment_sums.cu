/* Host side of lib/cuda/cuda_segment_sums.cuh: how many splits a layout gets,
 * the shared scratch, the row grid. */
#include "lib/cuda/cuda_segment_sums.cuh"

/* Aim for enough blocks to fill an H100 several times over (132 SMs), without
 * blocks of fewer than MIN_BLOCK_ELEMS elements, where the block reduction
 * would cost more than the reading. */
#define TARGET_BLOCKS 2048
#define MIN_BLOCK_ELEMS (SEGMENT_BLOCK * 16)
#define MAX_SPLITS 1024

int segment_splits(const segment_layout *l) {
  if (l->segments <= 0)
    return 1;
  const size_t total = (size_t)l->rows * (size_t)l->len;
  size_t splits = (TARGET_BLOCKS + (size_t)l->segments - 1) / (size_t)l->segments;
  const size_t by_size = (total + MIN_BLOCK_ELEMS - 1) / MIN_BLOCK_ELEMS;
  if (splits > by_size)
    splits = by_size;
  if (splits > MAX_SPLITS)
    splits = MAX_SPLITS;
  return splits < 1 ? 1 : (int)splits;
}

static double2 *scratch;
static size_t scratch_count;

dnl_status cuda_segment_scratch(size_t count, double2 **out) {
  if (count > scratch_count) {
    /* kernels of earlier ops may still read the old buffer */
    CUDA_CHECK(cudaDeviceSynchronize());
    if (scratch)
      CUDA_CHECK(cudaFree(scratch));
    scratch = NULL;
    scratch_count = 0;
    cudaError_t e = cudaMalloc((void **)&scratch, count * sizeof(double2));
    if (e != cudaSuccess) {
      scratch = NULL;
      if (e == cudaErrorMemoryAllocation)
        return cuda_oom_error("scratch of the normalisation and centering ops",
                              count * sizeof(double2), cudaGetErrorString(e));
      cudaGetLastError(); /* later launch checks read the recorded error */
      return dnl_error(
          DNL_ERR_INTERNAL,
          "cuda normalisation and centering ops: cannot allocate %zu bytes of scratch: %s",
          count * sizeof(double2), cudaGetErrorString(e));
    }
    scratch_count = count;
  }
  *out = scratch;
  return DNL_OK;
}

dim3 norm_rows_grid(int rows, int len) {
  const int per_block = ROW_BLOCK * 4; /* about four elements per thread */
  int y = len > 0 ? (len + per_block - 1) / per_block : 1;
  if (y > 65535)
    y = 65535;
  return dim3(rows > 0 ? (unsigned)rows : 1u, (unsigned)y);
}
