/* Pixel-wise cross-entropy on the device, as lib/cpu/cpu_loss.c: ignore label,
 * class weights, OHEM selection (p_gt < threshold) and the plain mean.
 * One thread per pixel walks its c logits (stride hw) with the CPU's float
 * log-sum-exp. Counts and double sums go per block into a fixed slot of a
 * device state, which the host adds in block order: results do not depend on
 * scheduling. The first bad label (lowest pixel index) is kept with atomicMin
 * and reported with the CPU's message. ce_forward_backward takes the sums (and
 * the label check) in a first pass, and only then, with the denominator known,
 * touches dlogits in a second; ce_prob_gt leaves p_gt unspecified on a bad
 * label.
 * select_kth is a radix select on the device: floats map to unsigned keys in
 * the same order, and four passes of a 256-bin histogram over the elements that
 * share the prefix found so far fix the key 8 bits at a time; only the final
 * key comes back to the host. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "lib/cuda/cuda_block_reduce.cuh"
#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"
#include "lib/cuda/cuda_scratch.h"

#define LOSS_BLOCKS 1024 /* most blocks of the grid-stride passes: slots of the state */
#define NO_BAD_LABEL ULLONG_MAX

#define GRID_STRIDE_LOOP(i, n)                                                                \
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n);                     \
       i += (size_t)gridDim.x * blockDim.x)

struct loss_partial {
  double sum_w, sum_wl;
  unsigned long long count;
};

struct loss_state {
  unsigned long long first_bad; /* pixel index of the first bad label, or NO_BAD_LABEL */
  loss_partial part[LOSS_BLOCKS];
};

/* the bits of the k-th key found so far: key & mask == prefix */
struct select_key {
  unsigned prefix, mask;
};

struct select_state {
  unsigned long long hist[256];
  unsigned long long k; /* rank still wanted among the keys sharing the prefix */
  select_key key;
};

static cuda_scratch loss_scratch, select_scratch;

static unsigned capped_grid(size_t n) {
  const unsigned g = cuda_grid_for(n);
  return g < LOSS_BLOCKS ? g : LOSS_BLOCKS;
}

/* log-sum-exp over the c logits of one pixel (stride hw), in float as the CPU */
__device__ static float pixel_lse(const float *lp, int c, int hw) {
  float mx = lp[0];
  for (int k = 1; k < c; k++)
    if (lp[(size_t)k * hw] > mx)
      mx = lp[(size_t)k * hw];
  float s = 0.0f;
  for (int k = 0; k < c; k++)
    s += expf(lp[(size_t)k * hw] - mx);
  return mx + logf(s);
}

__device__ static bool bad_label(const ce_shape &s, int32_t l) {
  return l != s.ignore_label && (l < 0 || l >= s.c);
}

__device__ static const float *pixel_logits(const ce_shape &s, const float *logits,
                                            size_t pix) {
  return logits + (pix / s.hw) * s.c * s.hw + pix % s.hw;
}

__global__ static void prob_gt_kernel(ce_shape s, const float *logits, const int32_t *labels,
                                      float *p_gt, loss_state *state) {
  const size_t total = (size_t)s.n * s.hw;
  unsigned long long valid = 0;
  GRID_STRIDE_LOOP(pix, total) {
    const int32_t l = labels[pix];
    if (l == s.ignore_label) {
      p_gt[pix] = 2.0f;
    } else if (bad_label(s, l)) {
      atomicMin(&state->first_bad, (unsigned long long)pix);
    } else {
      const float *lp = pixel_logits(s, logits, pix);
      p_gt[pix] = expf(lp[(size_t)l * s.hw] - pixel_lse(lp, s.c, s.hw));
      valid++;
    }
  }
  valid = block_reduce(valid, reduce_add(), 0ull);
  if (threadIdx.x == 0)
    state->part[blockIdx.x].count = valid;
}

__device__ static bool selected(const ce_shape &s, int32_t l, const float *p_gt,
                                float threshold, size_t pix) {
  if (l == s.ignore_label)
    return false;
  return !p_gt || p_gt[pix] < threshold;
}

/* count, sum w_y and sum w_y * (lse - logit_y) over the selected pixels */
__global__ static void ce_sums_kernel(ce_shape s, const float *logits, const int32_t *labels,
                                      const float *weights, const float *p_gt,
                                      float threshold, loss_state *state) {
  const size_t total = (size_t)s.n * s.hw;
  unsigned long long count = 0;
  double sum_w = 0.0, sum_wl = 0.0;
  GRID_STRIDE_LOOP(pix, total) {
    const int32_t l = labels[pix];
    if (bad_label(s, l)) {
      atomicMin(&state->first_bad, (unsigned long long)pix);
      continue;
    }
    if (!selected(s, l, p_gt, threshold, pix))
      continue;
    const double w = weights ? weights[l] : 1.0;
    const float *lp = pixel_logits(s, logits, pix);
    count++;
    sum_w += w;
    sum_wl += w * ((double)pixel_lse(lp, s.c, s.hw) - lp[(size_t)l * s.hw]);
  }
  count = block_reduce(count, reduce_add(), 0ull);
  sum_w = block_reduce(sum_w, reduce_add(), 0.0);
  sum_wl = block_reduce(sum_wl, reduce_add(), 0.0);
  if (threadIdx.x == 0) {
    state->part[blockIdx.x].count = count;
    state->part[blockIdx.x].sum_w = sum_w;
    state->part[blockIdx.x].sum_wl = sum_wl;
  }
}

/* dlogits += g * (softmax - onehot), g = (float)(scale * w_y), at the selected
 * pixels with g != 0: as on the CPU, a pixel of weight 0 leaves dlogits as it
 * is even where its logits are not finite (0 * NaN would write NaN) */
__global__ static void ce_grad_kernel(ce_shape s, const float *logits, const int32_t *labels,
                                      const float *weights, const float *p_gt,
                                      float threshold, double scale, float *dlogits) {
  const size_t total = (size_t)s.n * s.hw;
  GRID_STRIDE_LOOP(pix, total) {
    const int32_t l = labels[pix];
    if (!selected(s, l, p_gt, threshold, pix))
      continue;
    const double w = weights ? weights[l] : 1.0;
    const float g = (float)(scale * w);
    if (g == 0.0f)
      continue;
    const float *lp = pixel_logits(s, logits, pix);
    float *dp = dlogits + (pix / s.hw) * s.c * s.hw + pix % s.hw;
    const float lse = pixel_lse(lp, s.c, s.hw);
    for (int k = 0; k < s.c; k++)
      dp[(size_t)k * s.hw] += g * (expf(lp[(size_t)k * s.hw] - lse) - (k == l ? 1.0f : 0.0f));
  }
}

/* Clears the state's bad-label slot before a pass. */
static dnl_status loss_state_begin(const char *what, loss_state **out) {
  DNL_TRY(cuda_scratch_get(&loss_scratch, sizeof(loss_state), what, (void **)out));
  CUDA_CHECK(cudaMemsetAsync(&(*out)->first_bad, 0xff, sizeof((*out)->first_bad)));
  return DNL_OK;
}

/* Copies the state back (synchronising) and reports a bad label as the CPU does. */
static dnl_status loss_state_end(const ce_shape *s, const int32_t *labels,
                                 const loss_state *dev, unsigned grid, loss_state *host) {
  CUDA_CHECK(cudaMemcpy(host, dev, offsetof(loss_state, part) + grid * sizeof(loss_partial),
                        cudaMemcpyDeviceToHost));
  if (host->first_bad == NO_BAD_LABEL)
    return DNL_OK;
  const size_t i = (size_t)host->first_bad;
  int32_t l = 0;
  CUDA_CHECK(cudaMemcpy(&l, labels + i, sizeof l, cudaMemcpyDeviceToHost));
  return dnl_error(DNL_ERR_ARG,
                   "cross-entropy: label %d at image %zu pixel %zu outside 0..%d and not the "
                   "ignore label %d",
                   (int)l, i / (size_t)s->hw, i % (size_t)s->hw, s->c - 1, s->ignore_label);
}

dnl_status cuda_ce_prob_gt(const ce_shape *s, const float *logits, const int32_t *labels,
                           float *p_gt, size_t *n_valid) {
  *n_valid = 0;
  const size_t total = (size_t)s->n * s->hw;
  if (total == 0)
    return DNL_OK;
  loss_state *dev;
  DNL_TRY(loss_state_begin("ce_prob_gt", &dev));
  const unsigned grid = capped_grid(total);
  prob_gt_kernel<<<grid, CUDA_BLOCK>>>(*s, logits, labels, p_gt, dev);
  CUDA_CHECK_LAUNCH("prob_gt_kernel");
  static loss_state host;
  DNL_TRY(loss_state_end(s, labels, dev, grid, &host));
  size_t valid = 0;
  for (unsigned b = 0; b < grid; b++)
    valid += (size_t)host.part[b].count;
  *n_valid = valid;
  return DNL_OK;
}

dnl_status cuda_ce_forward_backward(const ce_shape *s, const float *logits,
                                    const int32_t *labels, const float *weights,
                                    const float *p_gt, float threshold, float loss_weight,
                                    float *loss, float *dlogits) {
  *loss = 0.0f;
  const size_t total = (size_t)s->n * s->hw;
  if (total == 0)
    return DNL_OK;
  loss_state *dev;
  DNL_TRY(loss_state_begin("ce_forward_backward", &dev));
  const unsigned grid = capped_grid(total);
  ce_sums_kernel<<<grid, CUDA_BLOCK>>>(*s, logits, labels, weights, p_gt, threshold, dev);
  CUDA_CHECK_LAUNCH("ce_sums_kernel");
  static loss_state host;
  DNL_TRY(loss_state_end(s, labels, dev, grid, &host));
  double sum_w = 0.0, sum_wl = 0.0;
  size_t count = 0;
  for (unsigned b = 0; b < grid; b++) {
    sum_w += host.part[b].sum_w;
    sum_wl += host.part[b].sum_wl;
    count += (size_t)host.part[b].count;
  }
  const double denom = s->plain_mean ? (double)count : sum_w;
  if (count == 0 || denom <= 0.0)
    return DNL_OK;
  *loss = (float)(sum_wl / denom);
  if (!dlogits)
    return DNL_OK;
  const double scale = loss_weight / denom;
  ce_grad_kernel<<<cuda_grid_for(total), CUDA_BLOCK>>>(*s, logits, labels, weights, p_gt,
                                                       threshold, scale, dlogits);
  CUDA_CHECK_LAUNCH("ce_grad_kernel");
  return DNL_OK;
}

/* An unsigned key per float with the floats' order: negatives flipped whole,
 * positives with the sign bit set. */
__device__ static unsigned float_key(float v) {
  const unsigned bits = __float_as_uint(v);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}

static float key_float(unsigned key) {
  const unsigned bits = (key & 0x80000000u) ? key & 0x7fffffffu : ~key;
  float v;
  memcpy(&v, &bits, sizeof v);
  return v;
}

__global__ static void select_init_kernel(select_state *st, unsigned long long k) {
  for (int b = threadIdx.x; b < 256; b += blockDim.x)
    st->hist[b] = 0;
  if (threadIdx.x == 0) {
    st->k = k;
    st->key.prefix = 0;
    st->key.mask = 0;
  }
}

/* hist[digit at shift] of the keys that share the prefix found so far */
__global__ static void select_histogram_kernel(size_t n, const float *x, select_state *st,
                                               int shift) {
  __shared__ unsigned long long local[256];
  for (int b = threadIdx.x; b < 256; b += blockDim.x)
    local[b] = 0;
  __syncthreads();
  const unsigned prefix = st->key.prefix, mask = st->key.mask;
  GRID_STRIDE_LOOP(i, n) {
    const unsigned key = float_key(x[i]);
    if ((key & mask) == prefix)
      atomicAdd(&local[(key >> shift) & 0xffu], 1ull);
  }
  __syncthreads();
  for (int b = threadIdx.x; b < 256; b += blockDim.x)
    if (local[b])
      atomicAdd(&st->hist[b], local[b]);
}

/* One thread: the digit holding rank k, the rank within it, a cleared histogram. */
__global__ static void select_pick_kernel(select_state *st, int shift) {
  for (unsigned d = 0; d < 256; d++) {
    const unsigned long long c = st->hist[d];
    if (st->k < c) {
      st->key.prefix |= d << shift;
      st->key.mask |= 0xffu << shift;
      break;
    }
    st->k -= c;
  }
  for (int b = 0; b < 256; b++)
    st->hist[b] = 0;
}

/* The radix select needs no copy of x, so scratch is left as it is. */
dnl_status cuda_select_kth(size_t n, const float *x, size_t k, float * /*scratch*/,
                           float *out) {
  if (n == 0 || k >= n)
    return dnl_error(DNL_ERR_ARG, "select_kth: k=%zu out of 0..%zu", k, n ? n - 1 : 0);
  select_state *st;
  DNL_TRY(cuda_scratch_get(&select_scratch, sizeof(select_state), "select_kth", (void **)&st));
  select_init_kernel<<<1, 256>>>(st, (unsigned long long)k);
  CUDA_CHECK_LAUNCH("select_init_kernel");
  for (int shift = 24; shift >= 0; shift -= 8) {
    select_histogram_kernel<<<capped_grid(n), CUDA_BLOCK>>>(n, x, st, shift);
    CUDA_CHECK_LAUNCH("select_histogram_kernel");
    select_pick_kernel<<<1, 1>>>(st, shift);
    CUDA_CHECK_LAUNCH("select_pick_kernel");
  }
  select_key key;
  CUDA_CHECK(cudaMemcpy(&key, &st->key, sizeof key, cudaMemcpyDeviceToHost));
  if (key.mask != 0xffffffffu)
    return dnl_error(DNL_ERR_INTERNAL, "select_kth: rank %zu of %zu not found (key mask %08x)",
                     k, n, key.mask);
  *out = key_float(key.prefix);
  return DNL_OK;
}
