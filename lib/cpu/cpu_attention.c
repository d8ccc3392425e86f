/* Pairwise attention kernels of the context block (contracts in lib/core/backend.h).
 *
 * reference: per sample, S = scale Q^T K is materialised [p, p], softmax rows
 * in place (kept as attn), out = V A^T; the backward forms dA = dO^T V [p, p]
 * in the workspace. Big GEMMs, O(p^2) memory.
 *
 * fused (memory-efficient attention): never stores p x p; the work is cut
 * into tiles of up to ATT_TILE queries and keys. Forward: a thread owns a
 * query tile and meets every key tile; the logits tile comes from one sgemm,
 * an online softmax keeps each row's running max and sum and rescales the
 * output accumulator, and lse = max + log(sum) is saved. Backward: a thread
 * owns a key tile (so its dK and dV accumulate privately) and meets every
 * query tile, recomputing the probabilities from lse, with D_i = sum_c dO_ci
 * O_ci and dS = P (dP - D); each dQ contribution is added to a shared
 * accumulator under that query tile's lock, a short contiguous add, and
 * threads visit query tiles in staggered order. GEMM operands are contiguous
 * position-major blocks (transposed once per call or per tile), which
 * OpenBLAS packs faster than strided channel-major tiles. Memory: O(p * C)
 * for the transposes and the dQ accumulator, a few tiles per thread, the
 * locks. Tiles run OpenBLAS single-threaded inside our OpenMP threads; small
 * problems run on one thread. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/cpu/cpu_parallel.h"
#include "lib/cpu/cpu_vmath.h"

#define ATT_TILE 256 /* queries or keys per tile, at most; see outer_tile() */
#define ATT_BT 64    /* positions per block of the whole-array passes */

static int ceil_div(int a, int b) { return (a + b - 1) / b; }
static int min_int(int a, int b) { return a < b ? a : b; }
/* floats rounded up to whole 64-byte lines */
static size_t lines(size_t floats) { return (floats + 15) & ~(size_t)15; }

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

/* dst[j * ldd + i] (+)= src[i * lds + j] for i < rows, j < cols, in 16 x 16 blocks */
static void transpose(const float *src, int lds, int rows, int cols, float *dst, int ldd,
                      bool accumulate) {
  for (int i0 = 0; i0 < rows; i0 += 16)
    for (int j0 = 0; j0 < cols; j0 += 16) {
      const int i1 = min_int(i0 + 16, rows), j1 = min_int(j0 + 16, cols);
      for (int j = j0; j < j1; j++)
        for (int i = i0; i < i1; i++)
          dst[(size_t)j * ldd + i] =
              (accumulate ? dst[(size_t)j * ldd + i] : 0.0f) + src[(size_t)i * lds + j];
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
    transpose(k + (size_t)b * s->d * p + j0, p, s->d, w, kt + ((size_t)b * p + j0) * s->d, s->d,
              false);
    transpose(v + (size_t)b * s->dv * p + j0, p, s->dv, w, vt + ((size_t)b * p + j0) * s->dv,
              s->dv, false);
  }
}

static size_t kv_floats(const attention_shape *s) {
  return lines((size_t)s->n * s->p * s->d) + lines((size_t)s->n * s->p * s->dv);
}

static size_t fwd_floats(const attention_shape *s) {
  /* Q tile [T, d], logits tile [T, T], output accumulator [T, dv], max, sum, correction */
  return lines((size_t)ATT_TILE * s->d) + lines((size_t)ATT_TILE * ATT_TILE) +
         lines((size_t)ATT_TILE * s->dv) + 3 * lines(ATT_TILE);
}

static size_t bwd_global_floats(const attention_shape *s) {
  /* Q, dQ and dO position-major, D */
  const size_t np = (size_t)s->n * s->p;
  return 2 * lines(np * s->d) + lines(np * s->dv) + lines(np);
}

static size_t bwd_floats(const attention_shape *s) {
  /* K and dK tiles [T, d], V and dV tiles [T, dv], probabilities and dP / dS tiles
   * [T, T], one dQ contribution [T, d] */
  return 3 * lines((size_t)ATT_TILE * s->d) + 2 * lines((size_t)ATT_TILE * s->dv) +
         2 * lines((size_t)ATT_TILE * ATT_TILE);
}

static size_t lock_bytes(const attention_shape *s) {
  return (size_t)s->n * ceil_div(s->p, ATT_TILE) * sizeof(omp_lock_t);
}

/* The tile a thread owns (queries forward, keys backward): larger tiles halve
 * how often OpenBLAS packs the other side's tiles (about 6% faster on 2
 * threads), smaller ones keep more threads busy: ATT_TILE when every thread
 * still gets 4 tiles, else half of it. */
static int outer_tile(const attention_shape *s, int threads) {
  return (long)s->n * ceil_div(s->p, ATT_TILE) >= 4L * threads ? ATT_TILE : ATT_TILE / 2;
}

size_t cpu_attention_workspace(const attention_shape *s, bool fused, bool backward) {
  if (!fused)
    return backward ? (size_t)s->p * s->p * sizeof(float) : 0;
  const size_t threads = (size_t)omp_get_max_threads();
  if (!backward)
    return (kv_floats(s) + threads * fwd_floats(s)) * sizeof(float);
  return (bwd_global_floats(s) + threads * bwd_floats(s)) * sizeof(float) + lock_bytes(s);
}

/* Online softmax over one logits tile [bq, ATT_TILE] (bk valid columns): the
 * tile becomes exp(S - new max), the running max and sum are updated, and
 * corr gets each row's factor exp(old max - new max) for the accumulator. */
VECTOR_CLONES static void softmax_tile(float *st, int bq, int bk, float *mx, float *sum,
                                       float *corr) {
  for (int i = 0; i < bq; i++) {
    float *row = st + (size_t)i * ATT_TILE;
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
  const int p = s->p, d = s->d, dv = s->dv, nk = ceil_div(p, ATT_TILE);
  float *qt = scratch;                                 /* [bq, d] */
  float *st = qt + lines((size_t)ATT_TILE * d);        /* [bq, ATT_TILE] */
  float *acc = st + lines((size_t)ATT_TILE * ATT_TILE); /* [bq, dv] */
  float *mx = acc + lines((size_t)ATT_TILE * dv);      /* [bq] */
  float *sum = mx + lines(ATT_TILE), *corr = sum + lines(ATT_TILE);
  transpose(q + i0, p, d, bq, qt, d, false);
  for (int i = 0; i < bq; i++) {
    mx[i] = -INFINITY;
    sum[i] = 0.0f;
  }
  for (int jt = 0; jt < nk; jt++) {
    const int j0 = jt * ATT_TILE, bk = min_int(ATT_TILE, p - j0);
    cpu_sgemm(false, true, bq, bk, d, s->scale, qt, d, kt + (size_t)j0 * d, d, 0.0f, st,
              ATT_TILE);
    softmax_tile(st, bq, bk, mx, sum, corr);
    if (jt)
      scale_rows(acc, bq, dv, dv, corr);
    cpu_sgemm(false, false, bq, dv, bk, 1.0f, st, ATT_TILE, vt + (size_t)j0 * dv, dv,
              jt ? 1.0f : 0.0f, acc, dv);
  }
  for (int i = 0; i < bq; i++) {
    corr[i] = 1.0f / sum[i];
    lse[i0 + i] = mx[i] + logf(sum[i]);
  }
  scale_rows(acc, bq, dv, dv, corr);
  transpose(acc, dv, bq, dv, out + i0, p, false);
}

dnl_status cpu_attention_fused_forward(const attention_shape *s, const float *q,
                                       const float *k, const float *v, float *out, float *lse,
                                       void *ws) {
  const int p = s->p, threads = omp_get_max_threads(), bq = outer_tile(s, threads);
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
    float *pr = pt + (size_t)i * ATT_TILE, *dr = ds + (size_t)i * ATT_TILE;
    const float l = lse[i], di = dd[i];
#pragma omp simd
    for (int j = 0; j < bk; j++) {
      pr[j] = exp_fast(pr[j] - l);
      dr[j] = scale * pr[j] * (dr[j] - di);
    }
  }
}

/* dd[i] = sum_c out[c, i] dout[c, i] over a block of channel-major columns */
VECTOR_CLONES static void row_dots(const float *out, const float *dout, int p, int dv, int w,
                                   float *dd) {
  memset(dd, 0, (size_t)w * sizeof(float));
  for (int c = 0; c < dv; c++) {
    const float *oc = out + (size_t)c * p, *gc = dout + (size_t)c * p;
#pragma omp simd
    for (int i = 0; i < w; i++)
      dd[i] += oc[i] * gc[i];
  }
}

VECTOR_CLONES static void add_floats(float *y, const float *x, size_t n) {
#pragma omp simd
  for (size_t i = 0; i < n; i++)
    y[i] += x[i];
}

typedef struct fused_sample {
  const float *k, *v;             /* [d, p], [dv, p] channel-major */
  const float *qt, *dot, *lse, *dd; /* [p, d], [p, dv] position-major; [p], [p] */
  float *dqt;                     /* [p, d] position-major accumulator, or NULL */
  float *dk, *dv;                 /* channel-major outputs, or NULL */
  omp_lock_t *locks;              /* of the sample's query tiles (dqt rows) */
} fused_sample;

/* The gradients through key tile [j0, j0 + bk) of one sample. */
static void fused_backward_tile(const attention_shape *s, const fused_sample *f, int j0, int bk,
                                int stagger, float *scratch) {
  const int p = s->p, d = s->d, dv = s->dv, nq = ceil_div(p, ATT_TILE);
  float *kt = scratch;                                  /* [bk, d] */
  float *dkt = kt + lines((size_t)ATT_TILE * d);        /* [bk, d] */
  float *dqc = dkt + lines((size_t)ATT_TILE * d);       /* a dQ contribution [bq, d] */
  float *vt = dqc + lines((size_t)ATT_TILE * d);        /* [bk, dv] */
  float *dvt = vt + lines((size_t)ATT_TILE * dv);       /* [bk, dv] */
  float *pt = dvt + lines((size_t)ATT_TILE * dv);       /* probabilities [bq, ATT_TILE] */
  float *ds = pt + lines((size_t)ATT_TILE * ATT_TILE);  /* dP, then dS */
  transpose(f->k + j0, p, d, bk, kt, d, false);
  transpose(f->v + j0, p, dv, bk, vt, dv, false);
  for (int step = 0; step < nq; step++) {
    const int it = (stagger + step) % nq, i0 = it * ATT_TILE, bq = min_int(ATT_TILE, p - i0);
    const float *qi = f->qt + (size_t)i0 * d, *doi = f->dot + (size_t)i0 * dv;
    const float beta = step ? 1.0f : 0.0f;
    cpu_sgemm(false, true, bq, bk, d, s->scale, qi, d, kt, d, 0.0f, pt, ATT_TILE);
    cpu_sgemm(false, true, bq, bk, dv, 1.0f, doi, dv, vt, dv, 0.0f, ds, ATT_TILE);
    dsoftmax_tile(pt, ds, bq, bk, f->lse + i0, f->dd + i0, s->scale);
    if (f->dv)
      cpu_sgemm(true, false, bk, dv, bq, 1.0f, pt, ATT_TILE, doi, dv, beta, dvt, dv);
    if (f->dk)
      cpu_sgemm(true, false, bk, d, bq, 1.0f, ds, ATT_TILE, qi, d, beta, dkt, d);
    if (!f->dqt)
      continue;
    cpu_sgemm(false, false, bq, d, bk, 1.0f, ds, ATT_TILE, kt, d, 0.0f, dqc, d);
    omp_set_lock(&f->locks[it]);
    add_floats(f->dqt + (size_t)i0 * d, dqc, (size_t)bq * d);
    omp_unset_lock(&f->locks[it]);
  }
  if (f->dv)
    transpose(dvt, dv, bk, dv, f->dv + j0, p, true);
  if (f->dk)
    transpose(dkt, d, bk, d, f->dk + j0, p, true);
}

/* Position blocks of one call: Q and dO transposed, D, the dQ accumulator
 * zeroed; called by every thread of a parallel region. */
static void backward_prepare(const attention_shape *s, const float *q, const float *out,
                             const float *dout, float *qt, float *dot, float *dd, float *dqt) {
  const int p = s->p, d = s->d, dv = s->dv, nb = ceil_div(p, ATT_BT);
#pragma omp for schedule(static)
  for (long t = 0; t < (long)s->n * nb; t++) {
    const int b = (int)(t / nb), i0 = (int)(t % nb) * ATT_BT, w = min_int(ATT_BT, p - i0);
    const size_t at = (size_t)b * p + i0;
    transpose(q + (size_t)b * d * p + i0, p, d, w, qt + at * d, d, false);
    transpose(dout + (size_t)b * dv * p + i0, p, dv, w, dot + at * dv, dv, false);
    row_dots(out + (size_t)b * dv * p + i0, dout + (size_t)b * dv * p + i0, p, dv, w, dd + at);
    if (dqt)
      memset(dqt + at * d, 0, (size_t)w * d * sizeof(float));
  }
}

dnl_status cpu_attention_fused_backward(const attention_shape *s, const float *q,
                                        const float *k, const float *v, const float *out,
                                        const float *lse, const float *dout, float *dq,
                                        float *dk, float *dv, void *ws) {
  const int p = s->p, d = s->d, threads = omp_get_max_threads(), bk = outer_tile(s, threads);
  const int nk = ceil_div(p, bk), nq = ceil_div(p, ATT_TILE), nb = ceil_div(p, ATT_BT);
  const size_t np = (size_t)s->n * p;
  float *qt = ws, *dot = qt + lines(np * d), *dd = dot + lines(np * s->dv);
  float *dqt = dq ? dd + lines(np) : NULL;
  float *scratch = (float *)ws + bwd_global_floats(s);
  const size_t per_thread = bwd_floats(s);
  omp_lock_t *locks = (omp_lock_t *)(scratch + (size_t)threads * per_thread);
  const long nlocks = (long)s->n * nq, tiles = (long)s->n * nk;
  const bool parallel = (size_t)s->n * p * p > CPU_PARALLEL_MIN;
  for (long i = 0; i < nlocks; i++)
    omp_init_lock(&locks[i]);
  const int blas_threads = openblas_get_num_threads();
  openblas_set_num_threads(1);
#pragma omp parallel num_threads(threads) if (parallel)
  {
    backward_prepare(s, q, out, dout, qt, dot, dd, dqt);
    float *mine = scratch + per_thread * (size_t)omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
    for (long t = 0; t < tiles; t++) {
      const int b = (int)(t / nk), jt = (int)(t % nk), j0 = jt * bk;
      const size_t ko = (size_t)b * d * p, vo = (size_t)b * s->dv * p, at = (size_t)b * p;
      const fused_sample f = {.k = k + ko, .v = v + vo, .qt = qt + at * d,
                              .dot = dot + at * s->dv, .lse = lse + at, .dd = dd + at,
                              .dqt = dqt ? dqt + at * d : NULL, .dk = dk ? dk + ko : NULL,
                              .dv = dv ? dv + vo : NULL, .locks = locks + (size_t)b * nq};
      fused_backward_tile(s, &f, j0, min_int(bk, p - j0), (int)((long)jt * nq / nk), mine);
    }
    if (dq) {
#pragma omp for schedule(static)
      for (long t = 0; t < (long)s->n * nb; t++) {
        const int b = (int)(t / nb), i0 = (int)(t % nb) * ATT_BT, w = min_int(ATT_BT, p - i0);
        transpose(dqt + ((size_t)b * p + i0) * d, d, w, d, dq + (size_t)b * d * p + i0, p,
                  true);
      }
    }
  }
  openblas_set_num_threads(blas_threads);
  for (long i = 0; i < nlocks; i++)
    omp_destroy_lock(&locks[i]);
  return DNL_OK;
}
