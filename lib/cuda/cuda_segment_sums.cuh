/* Per-segment pairs of double sums for the normalisation ops (batch norm per
 * channel, group norm per sample and group) and row centering (a segment per
 * row), deterministic and spread over the whole GPU whatever the shape.
 *
 * A segment is `rows` rows of `len` floats; element i of row r of segment s is
 * at s * seg_stride + r * row_stride + i. A batch-norm channel is the n rows
 * (one per sample) of hw floats at stride c * hw; a group-norm group is its
 * c / groups channels of hw floats, one after the other.
 *
 * Step 1 (segment_partials_kernel): each segment's flattened rows * len
 * elements are cut into `splits` equal ranges, one thread block per range; the
 * block adds up f(s, r, offset), a double2 of two values per element, and
 * writes its two sums to partials[s * splits + k]. Step 2 is the op's own
 * finalising kernel, which adds a segment's partials in order with
 * segment_total(). The splits depend on the shape only, so a result is the
 * same run after run. Few large segments (the stem's batch norm, layer norm)
 * get many splits, many small ones (2048 channels) one each. The functor types
 * go in anonymous namespaces, so that kernels instantiated in different files
 * never share a name. */
#ifndef DNL_CUDA_SEGMENT_SUMS_CUH
#define DNL_CUDA_SEGMENT_SUMS_CUH

#include "lib/cuda/cuda_block_reduce.cuh"
#include "lib/cuda/cuda_check.h"

#define SEGMENT_BLOCK 256

typedef struct segment_layout {
  int segments;
  int rows; /* per segment */
  int len;  /* floats per row */
  size_t seg_stride, row_stride;
} segment_layout;

/* Splits per segment for a layout (at least 1). */
int segment_splits(const segment_layout *l);

/* The shared device scratch of these ops, at least count double2s:
 * the partial sums and what an op's finalising kernel hands to the next one.
 * Valid until the next call (ops run in order on the default stream, so one op's
 * kernels have read it before the next op's kernels write it). */
dnl_status cuda_segment_scratch(size_t count, double2 **out);

template <typename F>
__global__ void segment_partials_kernel(segment_layout l, int splits, F f, double2 *partials) {
  const unsigned s = blockIdx.x / (unsigned)splits, k = blockIdx.x % (unsigned)splits;
  const size_t total = (size_t)l.rows * l.len;
  const size_t chunk = (total + splits - 1) / splits;
  const size_t begin = k * chunk < total ? k * chunk : total;
  const size_t end = begin + chunk < total ? begin + chunk : total;
  double a = 0.0, b = 0.0;
  if (begin < end) { /* the same for every thread of the block */
    const int r0 = (int)(begin / l.len), r1 = (int)((end - 1) / l.len);
    for (int r = r0; r <= r1; r++) {
      const size_t row_start = (size_t)r * l.len;
      const int lo = r == r0 ? (int)(begin - row_start) : 0;
      const int hi = r == r1 ? (int)(end - row_start) : l.len;
      const size_t base = s * l.seg_stride + (size_t)r * l.row_stride;
#pragma unroll 4
      for (int i = lo + (int)threadIdx.x; i < hi; i += blockDim.x) {
        const double2 v = f((int)s, r, base + i);
        a += v.x;
        b += v.y;
      }
    }
  }
  a = block_reduce(a, reduce_add(), 0.0);
  b = block_reduce(b, reduce_add(), 0.0);
  if (threadIdx.x == 0)
    partials[blockIdx.x] = make_double2(a, b);
}

/* Segment s's two sums: its partials added in order. */
__device__ inline double2 segment_total(const double2 *partials, int splits, int s) {
  double a = 0.0, b = 0.0;
  for (int k = 0; k < splits; k++) {
    const double2 p = partials[(size_t)s * splits + k];
    a += p.x;
    b += p.y;
  }
  return make_double2(a, b);
}

/* Launches step 1 into partials (segments * splits double2s). */
template <typename F>
dnl_status segment_partials(const segment_layout *l, int splits, F f, double2 *partials) {
  if (l->segments <= 0)
    return DNL_OK;
  const unsigned blocks = (unsigned)l->segments * (unsigned)splits;
  segment_partials_kernel<<<blocks, SEGMENT_BLOCK>>>(*l, splits, f, partials);
  CUDA_CHECK_LAUNCH("segment_partials_kernel");
  return DNL_OK;
}

/* Launch geometry of the element-wise passes over rows * len floats (one row
 * per sample and channel): blockIdx.x walks the rows, blockIdx.y and the
 * threads the row, so both a few long rows and many short ones fill the GPU. */
#define ROW_BLOCK 256
dim3 norm_rows_grid(int rows, int len);

/* for (r in this block's rows) { per-row constants; for (i in this thread's share of the row) } */
#define FOR_EACH_ROW(r, rows) for (int r = blockIdx.x; r < (rows); r += gridDim.x)
#define FOR_EACH_ROW_ELEMENT(i, len)                                                               \
  for (int i = blockIdx.y * blockDim.x + threadIdx.x; i < (len); i += gridDim.y * blockDim.x)

/* One thread per segment (or channel) for the finalising kernels. */
#define FOR_EACH_INDEX(j, count)                                                                   \
  for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < (count); j += gridDim.x * blockDim.x)

/* at least one block, so that a finalising kernel's single writes happen */
static inline unsigned norm_index_blocks(int count) {
  return count > ROW_BLOCK ? (unsigned)((count + ROW_BLOCK - 1) / ROW_BLOCK) : 1u;
}

#endif
