/* Pairwise attention kernels of the context block (contracts in lib/backend.h).
 *
 * reference: per sample, S = scale Q^T K is materialised [p, p], softmax rows
 * in place (kept as attn), out = V A^T; the backward forms dA = dO^T V [p, p]
 * in the workspace. Big GEMMs, O(p^2) memory.
 *
 * fused (memory-efficient attention): never stores p x p. A query tile of
 * 128 or 256 positions meets every key tile of ATT_BK positions; the logits tile
 * comes from one sgemm, an online softmax keeps each row's running max and
 * sum and rescales the output accumulator, and lse = max + log(sum) is saved.
 * The backward recomputes each tile's probabilities from lse and uses
 * D_i = sum_c dO_ci O_ci, so dS = P (dP - D). A thread owns the query tile,
 * hence its dQ columns; the dK and dV columns of a key tile are shared, each
 * key tile has a lock, and threads visit key tiles in staggered order so that
 * they rarely wait. GEMM operands are contiguous, position-major blocks (K
 * and V transposed once per call, a query tile's Q and dO once per tile),
 * which OpenBLAS packs faster than strided channel-major tiles. Memory: the
 * K and V transposes (O(p * C)), a few tiles per thread, the locks. Tiles run
 * OpenBLAS single-threaded inside our OpenMP threads; small problems run on
 * one thread. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"

#define ATT_BQ 256 /* queries per tile, at most; see query_tile() */
#define ATT_BK 256 /* keys per tile */
#define ATT_BT 64  /* positions per block of the K and V transposes */

/* The element-wise tile loops also get AVX-512 and AVX2 + FMA clones, picked
 * at load time; the build's baseline (x86-64) has only SSE2. */
#define VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

static int ceil_div(int a, int b) { return (a + b - 1) / b; }
static int min_int(int a, int b) { return a < b ? a : b; }
/* floats rounded up to whole 64-byte lines */
static size_t lines(size_t floats) { return (floats + 15) & ~(size_t)15; }

/* e^x within 2 ulp for x in [-87, 88] (clamped outside; NaN gives NaN), written without
 * branches or memory so that loops over it vectorise: x = n ln2 + r with n
 * the nearest integer (the 1.5 * 2^23 shift rounds), e^r from its degree-7
 * Taylor polynomial (|r| <= ln2/2: truncation error below 1e-8 relative), 2^n
 * through the exponent bits. */
static inline float exp_fast(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  const float t = x * 1.44269504088896341f;
  float n = (t + 12582912.0f) - 12582912.0f;
  n = n == n ? n : 0.0f; /* NaN stays NaN through r; the exponent stays defined */
  const float r = (x - n * 0.693145751953125f) - n * 1.428606820309417e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = ((int32_t)n + 127) << 23;
  float two_n;
  memcpy(&two_n, &bits, sizeof two_n);
  return p * two_n;
}

/* ---- reference ---- */

dnl_status cpu_attention_reference_forward(const attention_shape *s, const float *q,
                                           const float *k, const float *v, float *out,
                                           float *attn) {
  const int p = s->p, d = s->d, dv = s->dv;
  for (int b = 0; b < s->n; b++) {
    float *a = attn + (size_t)b * p * p;
    cpu_sgemm(true, false, p, p, d, s->scale, q + (size_t)b * d * p, p, k + (size_t)b * d * p,
              p, 0.0f, a, p);
    DNL_TRY(cpu_softmax_forward(p, p, 1, a, a));
    cpu_sgemm(false, true, dv, p, p, 1.0f, v + (size_t)b * dv * p, p, a, p, 0.0f,
              out + (size_t)b * dv * p, p);
  }
  return DNL_OK;
}

dnl_status cpu_attention_reference_backward(const attention_shape *s, const float *q,
                                            const float *k, const float *v, const float *attn,
                                            const float *dout, float *dq, float *dk, float *dv,
                                            void *ws) {
  const int p = s->p, d = s->d, cv = s->dv;
  float *da = ws; /* [p, p]: dA, then dS in place */
  for (int b = 0; b < s->n; b++) {
    const float *a = attn + (size_t)b * p * p;
    const float *qb = q + (size_t)b * d * p, *kb = k + (size_t)b * d * p;
    const float *vb = v + (size_t)b * cv * p, *dob = dout + (size_t)b * cv * p;
    if (dv)
      cpu_sgemm(false, false, cv, p, p, 1.0f, dob, p, a, p, 1.0f, dv + (size_t)b * cv * p, p);
    if (!dq && !dk)
      continue;
    cpu_sgemm(true, false, p, p, cv, 1.0f, dob, p, vb, p, 0.0f, da, p);
#pragma omp parallel for schedule(static) if ((size_t)p * p > CPU_PARALLEL_MIN)
    for (int i = 0; i < p; i++) {
      const float *ar = a + (size_t)i * p;
      float *dr = da + (size_t)i * p;
      double dot = 0.0;
      for (int j = 0; j < p; j++)
        dot += (double)ar[j] * dr[j];
      for (int j = 0; j < p; j++)
        dr[j] = s->scale * ar[j] * (dr[j] - (float)dot);
    }
    if (dq)
      cpu_sgemm(false, true, d, p, p, 1.0f, kb, p, da, p, 1.0f, dq + (size_t)b * d * p, p);
    if (dk)
      cpu_sgemm(false, false, d, p, p, 1.0f, qb, p, da, p, 1.0f, dk + (size_t)b * d * p, p);
  }
  return DNL_OK;
}

/* ---- fused ---- */

/* dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols, in 16 x 16 blocks */
static void transpose(const float *src, int lds, int rows, int cols, float *dst, int ldd) {
  for (int i0 = 0; i0 < rows; i0 += 16)
    for (int j0 = 0; j0 < cols; j0 += 16) {
      const int i1 = min_int(i0 + 16, rows), j1 = min_int(j0 + 16, cols);
      for (int j = j0; j < j1; j++)
        for (int i = i0; i < i1; i++)
          dst[(size_t)j * ldd + i] = src[(size_t)i * lds + j];
    }
}

/* K [n, d, p] and V [n, dv, p] into position-major kt [n, p, d], vt [n, p, dv];
 * called by every thread of a parallel region. */
static void transpose_kv(const attention_shape *s, const float *k, const float *v, float *kt,
                         float *vt) {
  const int p = s->p, nb = ceil_div(p, ATT_BT);
#pragma omp for schedule(static)
  for (long t = 0; t < (long)s->n * nb; t++) {
    const int b = (int)(t / nb), j0 = (int)(t % nb) * ATT_BT, w = min_int(ATT_BT, p - j0);
    transpose(k + (size_t)b * s->d * p + j0, p, s->d, w, kt + ((size_t)b * p + j0) * s->d, s->d);
    transpose(v + (size_t)b * s->dv * p + j0, p, s->dv, w, vt + ((size_t)b * p + j0) * s->dv,
              s->dv);
  }
}

static size_t kv_floats(const attention_shape *s) {
  return lines((size_t)s->n * s->p * s->d) + lines((size_t)s->n * s->p * s->dv);
}

static size_t fwd_floats(const attention_shape *s) {
  /* Q tile [BQ, d], logits tile, output accumulator [BQ, dv], max, sum, correction */
  return lines((size_t)ATT_BQ * s->d) + lines((size_t)ATT_BQ * ATT_BK) +
         lines((size_t)ATT_BQ * s->dv) + 3 * lines(ATT_BQ);
}

static size_t bwd_floats(const attention_shape *s) {
  /* Q and dQ tiles [BQ, d], dO tile [BQ, dv], probabilities and dP / dS tiles, D */
  return 2 * lines((size_t)ATT_BQ * s->d) + lines((size_t)ATT_BQ * s->dv) +
         2 * lines((size_t)ATT_BQ * ATT_BK) + lines(ATT_BQ);
}

static size_t lock_bytes(const attention_shape *s) {
  return (size_t)s->n * ceil_div(s->p, ATT_BK) * sizeof(omp_lock_t);
}

/* Larger query tiles halve how often OpenBLAS packs each key tile (about 6%
 * faster on 2 threads), smaller ones keep more threads busy: 256 when every
 * thread still gets 4 tiles, else 128. */
static int query_tile(const attention_shape *s, int threads) {
  return (long)s->n * ceil_div(s->p, ATT_BQ) >= 4L * threads ? ATT_BQ : ATT_BQ / 2;
}

size_t cpu_attention_workspace(const attention_shape *s, bool fused, bool backward) {
  if (!fused)
    return backward ? (size_t)s->p * s->p * sizeof(float) : 0;
  const size_t threads = (size_t)omp_get_max_threads();
  if (!backward)
    return (kv_floats(s) + threads * fwd_floats(s)) * sizeof(float);
  return (kv_floats(s) + threads * bwd_floats(s)) * sizeof(float) + lock_bytes(s);
}

/* Online softmax over one logits tile [bq, ATT_BK] (bk valid columns): the
 * tile becomes exp(S - new max), the running max and sum are updated, and
 * corr gets each row's factor exp(old max - new max) for the accumulator. */
VECTOR_CLONES static void softmax_tile(float *st, int bq, int bk, float *mx, float *sum,
                                       float *corr) {
  for (int i = 0; i < bq; i++) {
    float *row = st + (size_t)i * ATT_BK;
    float m = mx[i];
#pragma omp simd reduction(max : m)
    for (int j = 0; j < bk; j++)
      m = row[j] > m ? row[j] : m;
    float rs = 0.0f;
#pragma omp simd reduction(+ : rs)
    for (int j = 0; j < bk; j++) {
      row[j] = exp_fast(row[j] - m);
      rs += row[j];
    }
    corr[i] = mx[i] == -INFINITY ? 0.0f : exp_fast(mx[i] - m);
    sum[i] = sum[i] * corr[i] + rs;
    mx[i] = m;
  }
}

/* rows of acc [bq, ld] times factor[i] */
VECTOR_CLONES static void scale_rows(float *acc, int bq, int cols, int ld, const float *factor) {
  for (int i = 0; i < bq; i++) {
    float *row = acc + (size_t)i * ld;
    const float f = factor[i];
#pragma omp simd
    for (int c = 0; c < cols; c++)
      row[c] *= f;
  }
}

/* One query tile [i0, i0 + bq) of one sample against all keys. */
static void fused_forward_tile(const attention_shape *s, const float *q, const float *kt,
                               const float *vt, float *out, float *lse, int i0, int bq,
                               float *scratch) {
  const int p = s->p, d = s->d, dv = s->dv;
  float *qt = scratch;                                /* [bq, d] */
  float *st = qt + lines((size_t)ATT_BQ * d);         /* [bq, ATT_BK] */
  float *acc = st + lines((size_t)ATT_BQ * ATT_BK);   /* [bq, dv] */
  float *mx = acc + lines((size_t)ATT_BQ * dv);       /* [bq] */
  float *sum = mx + lines(ATT_BQ), *corr = sum + lines(ATT_BQ);
  transpose(q + i0, p, d, bq, qt, d);
  for (int i = 0; i < bq; i++) {
    mx[i] = -INFINITY;
    sum[i] = 0.0f;
  }
  const int nk = ceil_div(p, ATT_BK);
  for (int jt = 0; jt < nk; jt++) {
    const int j0 = jt * ATT_BK, bk = min_int(ATT_BK, p - j0);
    cpu_sgemm(false, true, bq, bk, d, s->scale, qt, d, kt + (size_t)j0 * d, d, 0.0f, st,
              ATT_BK);
    softmax_tile(st, bq, bk, mx, sum, corr);
    if (jt)
      scale_rows(acc, bq, dv, dv, corr);
    cpu_sgemm(false, false, bq, dv, bk, 1.0f, st, ATT_BK, vt + (size_t)j0 * dv, dv,
              jt ? 1.0f : 0.0f, acc, dv);
  }
  for (int i = 0; i < bq; i++) {
    corr[i] = 1.0f / sum[i];
    lse[i0 + i] = mx[i] + logf(sum[i]);
  }
  scale_rows(acc, bq, dv, dv, corr);
  transpose(acc, dv, bq, dv, out + i0, p);
}

dnl_status cpu_attention_fused_forward(const attention_shape *s, const float *q,
                                       const float *k, const float *v, float *out, float *lse,
                                       void *ws) {
  const int p = s->p, threads = omp_get_max_threads(), bq = query_tile(s, threads);
  const int nq = ceil_div(p, bq);
  float *kt = ws, *vt = kt + lines((size_t)s->n * p * s->d);
  float *scratch = (float *)ws + kv_floats(s);
  const size_t per_thread = fwd_floats(s);
  const long tiles = (long)s->n * nq;
  const bool parallel = (size_t)s->n * p * p > CPU_PARALLEL_MIN;
  const int blas_threads = openblas_get_num_threads();
  openblas_set_num_threads(1);
#pragma omp parallel num_threads(threads) if (parallel)
  {
    transpose_kv(s, k, v, kt, vt);
    float *mine = scratch + per_thread * (size_t)omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
    for (long t = 0; t < tiles; t++) {
      const int b = (int)(t / nq), i0 = (int)(t % nq) * bq;
      fused_forward_tile(s, q + (size_t)b * s->d * p, kt + (size_t)b * p * s->d,
                         vt + (size_t)b * p * s->dv, out + (size_t)b * s->dv * p,
                         lse + (size_t)b * p, i0, min_int(bq, p - i0), mine);
    }
  }
  openblas_set_num_threads(blas_threads);
  return DNL_OK;
}

/* Probabilities and logit gradients of one tile: pt (logits) becomes
 * P = exp(S - lse), ds (dP) becomes scale * P * (dP - D). */
VECTOR_CLONES static void dsoftmax_tile(float *pt, float *ds, int bq, int bk, const float *lse,
                                        const float *dd, float scale) {
  for (int i = 0; i < bq; i++) {
    float *pr = pt + (size_t)i * ATT_BK, *dr = ds + (size_t)i * ATT_BK;
    const float l = lse[i], di = dd[i];
#pragma omp simd
    for (int j = 0; j < bk; j++) {
      pr[j] = exp_fast(pr[j] - l);
      dr[j] = scale * pr[j] * (dr[j] - di);
    }
  }
}

/* dd[i] = sum_c out[c, i] dout[c, i] over a tile of channel-major columns */
VECTOR_CLONES static void row_dots(const float *out, const float *dout, int p, int dv, int bq,
                                   float *dd) {
  memset(dd, 0, (size_t)bq * sizeof(float));
  for (int c = 0; c < dv; c++) {
    const float *oc = out + (size_t)c * p, *gc = dout + (size_t)c * p;
#pragma omp simd
    for (int i = 0; i < bq; i++)
      dd[i] += oc[i] * gc[i];
  }
}

typedef struct fused_sample {
  const float *q, *kt, *vt, *out, *lse, *dout; /* of one sample */
  float *dq, *dk, *dv;                         /* NULL ones skipped */
  omp_lock_t *locks;                           /* of the sample's key tiles */
} fused_sample;

/* The gradient contributions of query tile [i0, i0 + bq) of one sample. */
static void fused_backward_tile(const attention_shape *s, const fused_sample *f, int i0, int bq,
                                int stagger, float *scratch) {
  const int p = s->p, d = s->d, dv = s->dv, nk = ceil_div(p, ATT_BK);
  float *qt = scratch;                               /* [bq, d] */
  float *dqt = qt + lines((size_t)ATT_BQ * d);       /* [bq, d] */
  float *dot = dqt + lines((size_t)ATT_BQ * d);      /* [bq, dv] */
  float *pt = dot + lines((size_t)ATT_BQ * dv);      /* probabilities [bq, ATT_BK] */
  float *ds = pt + lines((size_t)ATT_BQ * ATT_BK);   /* dP, then dS */
  float *dd = ds + lines((size_t)ATT_BQ * ATT_BK);   /* D [bq] */
  transpose(f->q + i0, p, d, bq, qt, d);
  transpose(f->dout + i0, p, dv, bq, dot, dv);
  row_dots(f->out + i0, f->dout + i0, p, dv, bq, dd);
  for (int step = 0; step < nk; step++) {
    const int jt = (stagger + step) % nk, j0 = jt * ATT_BK, bk = min_int(ATT_BK, p - j0);
    const float *ktj = f->kt + (size_t)j0 * d, *vtj = f->vt + (size_t)j0 * dv;
    cpu_sgemm(false, true, bq, bk, d, s->scale, qt, d, ktj, d, 0.0f, pt, ATT_BK);
    cpu_sgemm(false, true, bq, bk, dv, 1.0f, dot, dv, vtj, dv, 0.0f, ds, ATT_BK);
    dsoftmax_tile(pt, ds, bq, bk, f->lse + i0, dd, s->scale);
    if (f->dq)
      cpu_sgemm(false, false, bq, d, bk, 1.0f, ds, ATT_BK, ktj, d, step ? 1.0f : 0.0f, dqt, d);
    if (!f->dk && !f->dv)
      continue;
    omp_set_lock(&f->locks[jt]);
    if (f->dv)
      cpu_sgemm(true, false, dv, bk, bq, 1.0f, dot, dv, pt, ATT_BK, 1.0f, f->dv + j0, p);
    if (f->dk)
      cpu_sgemm(true, false, d, bk, bq, 1.0f, qt, d, ds, ATT_BK, 1.0f, f->dk + j0, p);
    omp_unset_lock(&f->locks[jt]);
  }
  if (!f->dq)
    return;
  for (int c = 0; c < d; c++) {
    float *g = f->dq + (size_t)c * p + i0;
    for (int i = 0; i < bq; i++)
      g[i] += dqt[(size_t)i * d + c];
  }
}

dnl_status cpu_attention_fused_backward(const attention_shape *s, const float *q,
                                        const float *k, const float *v, const float *out,
                                        const float *lse, const float *dout, float *dq,
                                        float *dk, float *dv, void *ws) {
  const int p = s->p, threads = omp_get_max_threads(), bq = query_tile(s, threads);
  const int nq = ceil_div(p, bq), nk = ceil_div(p, ATT_BK);
  float *kt = ws, *vt = kt + lines((size_t)s->n * p * s->d);
  float *scratch = (float *)ws + kv_floats(s);
  const size_t per_thread = bwd_floats(s);
  omp_lock_t *locks = (omp_lock_t *)(scratch + (size_t)threads * per_thread);
  const long nlocks = (long)s->n * nk, tiles = (long)s->n * nq;
  const bool parallel = (size_t)s->n * p * p > CPU_PARALLEL_MIN;
  for (long i = 0; i < nlocks; i++)
    omp_init_lock(&locks[i]);
  const int blas_threads = openblas_get_num_threads();
  openblas_set_num_threads(1);
#pragma omp parallel num_threads(threads) if (parallel)
  {
    transpose_kv(s, k, v, kt, vt);
    float *mine = scratch + per_thread * (size_t)omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
    for (long t = 0; t < tiles; t++) {
      const int b = (int)(t / nq), it = (int)(t % nq);
      const size_t qo = (size_t)b * s->d * p, vo = (size_t)b * s->dv * p;
      const fused_sample f = {.q = q + qo, .kt = kt + qo, .vt = vt + vo, .out = out + vo,
                              .lse = lse + (size_t)b * p, .dout = dout + vo,
                              .dq = dq ? dq + qo : NULL, .dk = dk ? dk + qo : NULL,
                              .dv = dv ? dv + vo : NULL, .locks = locks + (size_t)b * nk};
      fused_backward_tile(s, &f, it * bq, min_int(bq, p - it * bq), (int)((long)it * nk / nq),
                          mine);
    }
  }
  openblas_set_num_threads(blas_threads);
  for (long i = 0; i < nlocks; i++)
    omp_destroy_lock(&locks[i]);
  return DNL_OK;
}
