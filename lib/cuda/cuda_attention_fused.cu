/* Pairwise attention of the context block, fused kernel (contracts in
 * lib/core/backend.h; the same results as cpu_attention_fused_* to float rounding):
 * flash-attention style in fp32, never storing p x p.
 *
 * Work is cut into tiles of 64 queries and 64 keys. A block of 256 threads
 * (16 x 16) computes a 64 x 64 tile of a product, each thread a 4 x 4 part of
 * it (rows ty * 4 + a, columns tx * 4 + b), or MT such parts stacked 64 rows
 * apart when the rows are channels (MT = 1, 2, 4: up to 256 channels a pass).
 * Operands come from global memory in chunks of rows (32 rows x 64 columns, or
 * 16 rows x 64 MT columns) with cp.async into a double buffer, each chunk
 * copied straight (a channel-major row of positions is a row of the chunk:
 * coalesced along p) or transposed (positions become rows: still coalesced,
 * 16 positions a channel); the GEMM loop reads one float4 of each operand per
 * row. All tiles in shared memory use one XOR swizzle of their float4 groups
 * (swz), which keeps the float4 reads, the thread tiles' stores in either
 * orientation and the chunk copies free of bank conflicts (the transposing
 * copies excepted: 4 lanes a bank).
 *
 * Forward, a block per (query tile, 64 MT value channels, sample): for every
 * key tile, S = Q^T K over d, then the online softmax in the log2 domain
 * (running max and sum per query, rows reduced across the 16 lanes that hold
 * them), P^T into shared memory, the output accumulator O^T [channels,
 * queries] (registers) rescaled and increased by V P^T. Finally out = O / sum
 * and lse = max + log(sum) (natural log).
 *
 * Backward (FlashAttention-2): D_i = sum_c dO_ci O_ci first, then a block per
 * (key tile, sample) visits every query tile (staggered starts), recomputes
 * S and P = exp(S - lse), dP = dO^T V and dS = scale P (dP - D), stores P, dS
 * and dS^T in shared memory and forms, 64 MT channels at a time, dV += dO P
 * and dK += Q dS, added straight into dv and dk (the block owns those key
 * columns), and dQ += K dS^T, added with float4 atomics into a zeroed
 * position-padded workspace that is added into dq at the end. */
#include <cuda_pipeline_primitives.h>
#include <math.h>
#include <stdint.h>

#include "lib/cuda/cuda_check.h"
#include "lib/cuda/cuda_ops.h"

namespace {

constexpr int TILE = 64;        /* queries or keys per tile */
constexpr int THREADS = 256;    /* 16 x 16, a 4 x 4 part of a 64 x 64 tile each */
constexpr int NARROW_ROWS = 32; /* rows of a [rows][64] chunk (contractions over channels) */
constexpr int WIDE_ROWS = 16;   /* rows of a [rows][64 MT] chunk (contractions over positions) */
/* The double buffer: two [32][64] chunk pairs or two [16][256] chunks. */
constexpr int STAGE_FLOATS = 4 * NARROW_ROWS * TILE;
constexpr int NARROW_FLOATS = NARROW_ROWS * TILE;
constexpr int WIDE_FLOATS = STAGE_FLOATS / 2;
constexpr int TILE_FLOATS = TILE * TILE;
constexpr int MAX_GRID_YZ = 65535;
constexpr float LOG2E = 1.4426950408889634f;
constexpr float LN2 = 0.6931471805599453f;

static_assert(WIDE_ROWS * 4 * TILE <= WIDE_FLOATS, "a wide chunk of 256 columns fits a buffer");

/* Element (row, col) of a tile with `width` floats per row (a multiple of 32):
 * the float4 group col / 4 is XORed with bits 2..4 of the row. */
__device__ __forceinline__ int swz(int row, int col, int width) {
  return row * width + ((((col >> 2) ^ (row >> 2)) & 7) | ((col >> 2) & ~7)) * 4 + (col & 3);
}

/* Async copy of one float, or zero-fill where !ok (src then only needs to be
 * a valid address). */
__device__ __forceinline__ void copy_or_zero(float *dst, const float *src, bool ok) {
  __pipeline_memcpy_async(dst, src, sizeof(float), ok ? 0 : sizeof(float));
}

/* Straight chunk: dst[r][x] = src[(k0 + r) * p + x0 + x] for r < 32, x < 64,
 * zero where k0 + r >= kmax or x0 + x >= p. */
__device__ __forceinline__ void stage_straight(float *dst, const float *src, int p, int k0,
                                               int kmax, int x0) {
  const int x = threadIdx.x & (TILE - 1);
  const bool x_ok = x0 + x < p;
#pragma unroll 1
  for (int r = threadIdx.x / TILE; r < NARROW_ROWS; r += THREADS / TILE) {
    const bool ok = x_ok && k0 + r < kmax;
    copy_or_zero(dst + swz(r, x, TILE), ok ? src + (size_t)(k0 + r) * p + x0 + x : src, ok);
  }
}

/* Transposed chunk: dst[r][x] = src[(c0 + x) * p + k0 + r] for r < 16 positions,
 * x < 64 MT channels, zero where k0 + r >= p or c0 + x >= cmax. */
template <int MT>
__device__ __forceinline__ void stage_transposed(float *dst, const float *src, int p, int k0,
                                                 int c0, int cmax) {
  constexpr int width = TILE * MT;
#pragma unroll 1
  for (int idx = threadIdx.x; idx < WIDE_ROWS * width; idx += THREADS) {
    const int r = idx % WIDE_ROWS, x = idx / WIDE_ROWS;
    const bool ok = k0 + r < p && c0 + x < cmax;
    copy_or_zero(dst + swz(r, x, width), ok ? src + (size_t)(c0 + x) * p + k0 + r : src, ok);
  }
}

/* acc[m][a][b] += sum_{k < ROWS} A[k][ty*4 + a + 64 m] * B[b_row0 + k][tx*4 + b]:
 * A is a [ROWS][64 MT] chunk, B a tile of width 64 (b_row0 a multiple of 4).
 * Four consecutive rows share their swizzle, so one address per operand serves
 * four rows (and keeps the unrolled loop's address registers few). */
template <int MT, int ROWS>
__device__ __forceinline__ void tile_product(float (&acc)[MT][4][4], const float *a, const float *b,
                                             int b_row0) {
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
#pragma unroll 2
  for (int k4 = 0; k4 < ROWS; k4 += 4) {
    const int bk = b_row0 + k4;
    const float *ar = a + swz(k4, ty * 4, TILE * MT);
    const float *br = b + swz(bk, tx * 4, TILE);
#pragma unroll
    for (int k = 0; k < 4; k++) {
      const float4 bv = *reinterpret_cast<const float4 *>(br + k * TILE);
      const float bq[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
      for (int m = 0; m < MT; m++) {
        /* group ty + 16 m: the swizzle only touches the low 3 bits of a group */
        const float4 av = *reinterpret_cast<const float4 *>(ar + k * TILE * MT + TILE * m);
        const float aq[4] = {av.x, av.y, av.z, av.w};
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
          for (int j = 0; j < 4; j++)
            acc[m][i][j] = fmaf(aq[i], bq[j], acc[m][i][j]);
      }
    }
  }
}

/* Runs `chunks` chunks through the double buffer: issue(c, buf) starts the
 * async copies of chunk c into buffer buf, compute(c, buf) uses them. Every
 * thread of the block calls it; it returns with the buffer free again. */
template <class Issue, class Compute>
__device__ __forceinline__ void pipelined(int chunks, Issue issue, Compute compute) {
  if (chunks <= 0)
    return;
  issue(0, 0);
  __pipeline_commit();
  for (int c = 0; c < chunks; c++) {
    if (c + 1 < chunks)
      issue(c + 1, (c + 1) & 1);
    __pipeline_commit(); /* possibly empty: one group per step */
    __pipeline_wait_prior(1);
    __syncthreads();
    compute(c, c & 1);
    __syncthreads();
  }
}

/* acc (+)= A^T B over `kmax` channels: A and B channel-major [kmax, p] arrays,
 * the tile's 64 columns starting at a0 and b0. */
__device__ __forceinline__ void channel_product(float (&acc)[1][4][4], float *stage, const float *a,
                                                int a0, const float *b, int b0, int p, int kmax) {
  pipelined((kmax + NARROW_ROWS - 1) / NARROW_ROWS,
            [&](int c, int buf) {
              float *at = stage + 2 * NARROW_FLOATS * buf;
              stage_straight(at, a, p, c * NARROW_ROWS, kmax, a0);
              stage_straight(at + NARROW_FLOATS, b, p, c * NARROW_ROWS, kmax, b0);
            },
            [&](int, int buf) {
              const float *at = stage + 2 * NARROW_FLOATS * buf;
              tile_product<1, NARROW_ROWS>(acc, at, at + NARROW_FLOATS, 0);
            });
}

/* acc (+)= A B over the 64 positions of a tile: A [64 positions][64 MT channels]
 * transposed from the channel-major src (positions k0.., channels c0.. < cmax),
 * B a [64][64] shared tile. */
template <int MT>
__device__ __forceinline__ void position_product(float (&acc)[MT][4][4], float *stage,
                                                 const float *src, int p, int k0, int c0, int cmax,
                                                 const float *b) {
  pipelined(
      TILE / WIDE_ROWS,
      [&](int c, int buf) {
        stage_transposed<MT>(stage + WIDE_FLOATS * buf, src, p, k0 + c * WIDE_ROWS, c0, cmax);
      },
      [&](int c, int buf) {
        tile_product<MT, WIDE_ROWS>(acc, stage + WIDE_FLOATS * buf, b, c * WIDE_ROWS);
      });
}

template <int MT> __device__ __forceinline__ void zero(float (&acc)[MT][4][4]) {
#pragma unroll
  for (int m = 0; m < MT; m++)
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
      for (int j = 0; j < 4; j++)
        acc[m][i][j] = 0.0f;
}

/* max or sum over the 16 lanes (one half warp) that hold a row */
__device__ __forceinline__ float row_max(float v) {
  for (int o = 8; o > 0; o /= 2)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

__device__ __forceinline__ float row_sum(float v) {
  for (int o = 8; o > 0; o /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

struct forward_args {
  int p, d, dv;
  float scale2; /* scale * log2(e) */
  const float *q, *k, *v;
  float *out, *lse;
};

template <int MT>
__global__ void __launch_bounds__(THREADS, 2) fused_forward_kernel(forward_args f) {
  extern __shared__ float4 smem4[];
  float *stage = reinterpret_cast<float *>(smem4);
  float *pt = stage + STAGE_FLOATS; /* P^T [keys][queries] */
  float *corr = pt + TILE_FLOATS;   /* per query: rescale factor, then 1 / sum */
  const int p = f.p, d = f.d, dv = f.dv, ty = threadIdx.x / 16, tx = threadIdx.x % 16;
  const int i0 = blockIdx.x * TILE, c0 = blockIdx.y * TILE * MT, b = blockIdx.z;
  const float *q = f.q + (size_t)b * d * p, *k = f.k + (size_t)b * d * p;
  const float *v = f.v + (size_t)b * dv * p;
  float o[MT][4][4]; /* O^T: channels c0 + ty*4 + a + 64 m, queries i0 + tx*4 + b */
  zero(o);
  float mx[4], sum[4]; /* queries i0 + ty*4 + a, log2 domain */
  for (int a = 0; a < 4; a++)
    mx[a] = -INFINITY, sum[a] = 0.0f;
  for (int j0 = 0; j0 < p; j0 += TILE) {
    float s[1][4][4];
    zero(s);
    channel_product(s, stage, q, i0, k, j0, p, d);
    for (int a = 0; a < 4; a++) {
      float m = -INFINITY;
      for (int c = 0; c < 4; c++) {
        s[0][a][c] = j0 + tx * 4 + c < p ? s[0][a][c] * f.scale2 : -INFINITY;
        m = fmaxf(m, s[0][a][c]);
      }
      const float m_new = fmaxf(mx[a], row_max(m));
      const float cf = mx[a] == -INFINITY ? 0.0f : exp2f(mx[a] - m_new);
      float rs = 0.0f;
      for (int c = 0; c < 4; c++) {
        s[0][a][c] = exp2f(s[0][a][c] - m_new);
        rs += s[0][a][c];
      }
      sum[a] = sum[a] * cf + row_sum(rs);
      mx[a] = m_new;
      if (tx == 0)
        corr[ty * 4 + a] = cf;
    }
    for (int c = 0; c < 4; c++)
      *reinterpret_cast<float4 *>(pt + swz(tx * 4 + c, ty * 4, TILE)) =
          make_float4(s[0][0][c], s[0][1][c], s[0][2][c], s[0][3][c]);
    __syncthreads();
    for (int c = 0; c < 4; c++) {
      const float cf = corr[tx * 4 + c];
      for (int m = 0; m < MT; m++)
        for (int a = 0; a < 4; a++)
          o[m][a][c] *= cf;
    }
    position_product<MT>(o, stage, v, p, j0, c0, dv, pt);
  }
  for (int a = 0; a < 4; a++) {
    const int i = i0 + ty * 4 + a;
    if (tx == 0) {
      corr[ty * 4 + a] = 1.0f / sum[a];
      if (blockIdx.y == 0 && i < p)
        f.lse[(size_t)b * p + i] = (mx[a] + log2f(sum[a])) * LN2;
    }
  }
  __syncthreads();
  float *out = f.out + (size_t)b * dv * p;
  for (int c = 0; c < 4; c++) {
    const int i = i0 + tx * 4 + c;
    if (i >= p)
      continue;
    const float inv = corr[tx * 4 + c];
    for (int m = 0; m < MT; m++)
      for (int a = 0; a < 4; a++) {
        const int ch = c0 + ty * 4 + a + TILE * m;
        if (ch < dv)
          out[(size_t)ch * p + i] = o[m][a][c] * inv;
      }
  }
}

/* dd[b * p + i] = sum_c out[b, c, i] dout[b, c, i] */
__global__ void row_dots_kernel(int n, int p, int dv, const float *out, const float *dout,
                                float *dd) {
  const size_t np = (size_t)n * p;
  for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < np;
       t += (size_t)gridDim.x * blockDim.x) {
    const size_t b = t / p, i = t % p;
    const float *o = out + b * dv * p + i, *g = dout + b * dv * p + i;
    float acc = 0.0f;
    for (int c = 0; c < dv; c++)
      acc += o[(size_t)c * p] * g[(size_t)c * p];
    dd[t] = acc;
  }
}

/* dq[b, e, i] += acc[b, e, i] (acc rows padded to p4) */
__global__ void add_padded_kernel(int rows, int p, int p4, const float *acc, float *dq) {
  const size_t total = (size_t)rows * p;
  for (size_t t = blockIdx.x * (size_t)blockDim.x + threadIdx.x; t < total;
       t += (size_t)gridDim.x * blockDim.x)
    dq[t] += acc[(t / p) * p4 + t % p];
}

__device__ __forceinline__ void atomic_add4(float *dst, float4 v) {
#if __CUDA_ARCH__ >= 900
  atomicAdd(reinterpret_cast<float4 *>(dst), v);
#else
  atomicAdd(dst, v.x), atomicAdd(dst + 1, v.y), atomicAdd(dst + 2, v.z), atomicAdd(dst + 3, v.w);
#endif
}

struct backward_args {
  int p, p4, d, dv;
  float scale, scale2;
  const float *q, *k, *v, *lse, *dout, *dd;
  float *dk, *dv_out, *dq_acc; /* NULL: that gradient is skipped */
};

/* dst[c0 + row][j0 + col] += acc over the thread's part of a channel-major array */
template <int MT>
__device__ __forceinline__ void add_tile(float *dst, const float (&acc)[MT][4][4], int p,
                                         int channels, int c0, int j0) {
  const int ty = threadIdx.x / 16, tx = threadIdx.x % 16;
  for (int m = 0; m < MT; m++)
    for (int a = 0; a < 4; a++) {
      const int ch = c0 + ty * 4 + a + TILE * m;
      if (ch >= channels)
        continue;
      for (int c = 0; c < 4; c++) {
        const int j = j0 + tx * 4 + c;
        if (j < p)
          dst[(size_t)ch * p + j] += acc[m][a][c];
      }
    }
}

template <int MT>
__global__ void __launch_bounds__(THREADS, 2) fused_backward_kernel(backward_args f) {
  extern __shared__ float4 smem4[];
  float *stage = reinterpret_cast<float *>(smem4);
  float *p_tile = stage + STAGE_FLOATS;    /* P [queries][keys] */
  float *ds_tile = p_tile + TILE_FLOATS;   /* dS [queries][keys] */
  float *dst_tile = ds_tile + TILE_FLOATS; /* dS^T [keys][queries] */
  const int p = f.p, d = f.d, dv = f.dv, ty = threadIdx.x / 16, tx = threadIdx.x % 16;
  const int b = blockIdx.y, j0 = blockIdx.x * TILE;
  const float *q = f.q + (size_t)b * d * p, *k = f.k + (size_t)b * d * p;
  const float *v = f.v + (size_t)b * dv * p, *dout = f.dout + (size_t)b * dv * p;
  const float *lse = f.lse + (size_t)b * p, *dd = f.dd + (size_t)b * p;
  float *dk = f.dk ? f.dk + (size_t)b * d * p : nullptr;
  float *dvo = f.dv_out ? f.dv_out + (size_t)b * dv * p : nullptr;
  float *dq = f.dq_acc ? f.dq_acc + (size_t)b * d * f.p4 : nullptr;
  const bool need_ds = dk || dq;
  const int nq = (p + TILE - 1) / TILE;
  /* blocks start at different query tiles so that their dQ atomics spread out */
  const int start = (int)((long long)blockIdx.x * nq / gridDim.x);
  for (int step = 0; step < nq; step++) {
    const int i0 = ((start + step) % nq) * TILE;
    float s[1][4][4], dp[1][4][4];
    zero(s);
    zero(dp);
    channel_product(s, stage, q, i0, k, j0, p, d);
    if (need_ds)
      channel_product(dp, stage, dout, i0, v, j0, p, dv);
    for (int a = 0; a < 4; a++) {
      const int i = i0 + ty * 4 + a;
      const float l2 = i < p ? lse[i] * LOG2E : 0.0f, di = i < p ? dd[i] : 0.0f;
      for (int c = 0; c < 4; c++) {
        const bool ok = i < p && j0 + tx * 4 + c < p;
        s[0][a][c] = ok ? exp2f(s[0][a][c] * f.scale2 - l2) : 0.0f;
        if (need_ds)
          dp[0][a][c] = f.scale * s[0][a][c] * (dp[0][a][c] - di);
      }
    }
    for (int a = 0; a < 4; a++) {
      const int at = swz(ty * 4 + a, tx * 4, TILE);
      if (dvo)
        *reinterpret_cast<float4 *>(p_tile + at) =
            make_float4(s[0][a][0], s[0][a][1], s[0][a][2], s[0][a][3]);
      if (dk)
        *reinterpret_cast<float4 *>(ds_tile + at) =
            make_float4(dp[0][a][0], dp[0][a][1], dp[0][a][2], dp[0][a][3]);
    }
    if (dq)
      for (int c = 0; c < 4; c++)
        *reinterpret_cast<float4 *>(dst_tile + swz(tx * 4 + c, ty * 4, TILE)) =
            make_float4(dp[0][0][c], dp[0][1][c], dp[0][2][c], dp[0][3][c]);
    __syncthreads();
    float acc[MT][4][4];
    for (int c0 = 0; dvo && c0 < dv; c0 += TILE * MT) {
      zero(acc);
      position_product<MT>(acc, stage, dout, p, i0, c0, dv, p_tile);
      add_tile<MT>(dvo, acc, p, dv, c0, j0);
    }
    for (int e0 = 0; dk && e0 < d; e0 += TILE * MT) {
      zero(acc);
      position_product<MT>(acc, stage, q, p, i0, e0, d, ds_tile);
      add_tile<MT>(dk, acc, p, d, e0, j0);
    }
    for (int e0 = 0; dq && e0 < d; e0 += TILE * MT) {
      zero(acc);
      position_product<MT>(acc, stage, k, p, j0, e0, d, dst_tile);
      /* i0 + tx*4 < p <= p4 with both multiples of 4: the float4 stays in the row */
      if (i0 + tx * 4 < p)
        for (int m = 0; m < MT; m++)
          for (int a = 0; a < 4; a++) {
            const int e = e0 + ty * 4 + a + TILE * m;
            if (e < d)
              atomic_add4(dq + (size_t)e * f.p4 + i0 + tx * 4,
                          make_float4(acc[m][a][0], acc[m][a][1], acc[m][a][2], acc[m][a][3]));
          }
    }
    /* the tiles are rewritten next step: wait for every reader */
    __syncthreads();
  }
}

/* 64-channel parts a thread holds a pass: the fewest that cover `channels`, at most 4 */
int channel_tiles(int channels) { return channels <= TILE ? 1 : channels <= 2 * TILE ? 2 : 4; }

size_t lines(size_t floats) { return (floats + 63) & ~(size_t)63; }
int padded(int p) { return (p + 3) & ~3; }
unsigned tiles(int p) { return (unsigned)((p + TILE - 1) / TILE); }

constexpr size_t FORWARD_SMEM = (STAGE_FLOATS + TILE_FLOATS + TILE) * sizeof(float);
constexpr size_t BACKWARD_SMEM = (STAGE_FLOATS + 3 * TILE_FLOATS) * sizeof(float);

template <int MT> dnl_status launch_forward(const attention_shape *s, forward_args f) {
  CUDA_CHECK(cudaFuncSetAttribute(fused_forward_kernel<MT>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, (int)FORWARD_SMEM));
  const int chunks = (s->dv + TILE * MT - 1) / (TILE * MT);
  if (chunks > MAX_GRID_YZ)
    return dnl_error(DNL_ERR_ARG, "fused attention: %d value channels exceed the grid", s->dv);
  const size_t dp = (size_t)s->d * s->p, vp = (size_t)s->dv * s->p;
  for (int b0 = 0; b0 < s->n; b0 += MAX_GRID_YZ) {
    const int nb = s->n - b0 < MAX_GRID_YZ ? s->n - b0 : MAX_GRID_YZ;
    forward_args g = f;
    g.q += b0 * dp, g.k += b0 * dp, g.v += b0 * vp, g.out += b0 * vp, g.lse += (size_t)b0 * s->p;
    const dim3 grid(tiles(s->p), chunks > 0 ? chunks : 1, nb);
    fused_forward_kernel<MT><<<grid, THREADS, FORWARD_SMEM>>>(g);
    CUDA_CHECK_LAUNCH("fused_forward_kernel");
  }
  return DNL_OK;
}

template <int MT> dnl_status launch_backward(const attention_shape *s, backward_args f) {
  CUDA_CHECK(cudaFuncSetAttribute(fused_backward_kernel<MT>,
                                  cudaFuncAttributeMaxDynamicSharedMemorySize, (int)BACKWARD_SMEM));
  const size_t dp = (size_t)s->d * s->p, vp = (size_t)s->dv * s->p, np = (size_t)s->p;
  for (int b0 = 0; b0 < s->n; b0 += MAX_GRID_YZ) {
    const int nb = s->n - b0 < MAX_GRID_YZ ? s->n - b0 : MAX_GRID_YZ;
    backward_args g = f;
    g.q += b0 * dp, g.k += b0 * dp, g.v += b0 * vp, g.dout += b0 * vp;
    g.lse += b0 * np, g.dd += b0 * np;
    if (g.dk)
      g.dk += b0 * dp;
    if (g.dv_out)
      g.dv_out += b0 * vp;
    if (g.dq_acc)
      g.dq_acc += b0 * (size_t)s->d * f.p4;
    fused_backward_kernel<MT><<<dim3(tiles(s->p), nb), THREADS, BACKWARD_SMEM>>>(g);
    CUDA_CHECK_LAUNCH("fused_backward_kernel");
  }
  return DNL_OK;
}

} // namespace

size_t cuda_attention_fused_workspace(const attention_shape *s, bool backward) {
  if (!backward)
    return 0;
  /* D [n, p], then the dQ accumulator [n, d, p4] */
  return (lines((size_t)s->n * s->p) + lines((size_t)s->n * s->d * padded(s->p))) * sizeof(float);
}

dnl_status cuda_attention_fused_forward(const attention_shape *s, const float *q, const float *k,
                                        const float *v, float *out, float *lse, void *ws) {
  (void)ws;
  if (s->n <= 0 || s->p <= 0)
    return DNL_OK;
  const forward_args f = {s->p, s->d, s->dv, s->scale * LOG2E, q, k, v, out, lse};
  switch (channel_tiles(s->dv)) {
  case 1:
    return launch_forward<1>(s, f);
  case 2:
    return launch_forward<2>(s, f);
  default:
    return launch_forward<4>(s, f);
  }
}

dnl_status cuda_attention_fused_backward(const attention_shape *s, const float *q, const float *k,
                                         const float *v, const float *out, const float *lse,
                                         const float *dout, float *dq, float *dk, float *dv,
                                         void *ws) {
  if (s->n <= 0 || s->p <= 0 || (!dq && !dk && !dv))
    return DNL_OK;
  if ((uintptr_t)ws % 16 != 0)
    return dnl_error(DNL_ERR_ARG, "fused attention backward: workspace %p not 16-byte aligned", ws);
  const int p4 = padded(s->p);
  float *dd = (float *)ws;
  float *dq_acc = dq ? dd + lines((size_t)s->n * s->p) : nullptr;
  const size_t np = (size_t)s->n * s->p;
  row_dots_kernel<<<cuda_grid_for(np), CUDA_BLOCK>>>(s->n, s->p, s->dv, out, dout, dd);
  CUDA_CHECK_LAUNCH("row_dots_kernel");
  if (dq_acc)
    CUDA_CHECK(cudaMemsetAsync(dq_acc, 0, (size_t)s->n * s->d * p4 * sizeof(float)));
  const backward_args f = {s->p, p4, s->d, s->dv, s->scale, s->scale * LOG2E, q, k, v, lse,
                           dout, dd, dk,   dv,    dq_acc};
  const int mt = channel_tiles(s->d > s->dv ? s->d : s->dv);
  DNL_TRY(mt == 1   ? launch_backward<1>(s, f)
          : mt == 2 ? launch_backward<2>(s, f)
                    : launch_backward<4>(s, f));
  if (dq_acc) {
    const size_t rows = (size_t)s->n * s->d;
    add_padded_kernel<<<cuda_grid_for(rows * s->p), CUDA_BLOCK>>>((int)rows, s->p, p4, dq_acc, dq);
    CUDA_CHECK_LAUNCH("add_padded_kernel");
  }
  return DNL_OK;
}
