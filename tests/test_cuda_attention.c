/* CUDA attention kernels (lib/cuda/cuda_attention.cu, reference; and
 * lib/cuda/cuda_attention_fused.cu, fused) against the CPU backend's reference
 * kernel on the same random inputs: odd position counts (partial tiles), channel
 * counts 1 to 300, two samples. Gradients start from nonzero values on both
 * sides and the increments are compared, so accumulation is checked too; lse
 * against log-sum-exp rows computed in double here. Skipped without a GPU
 * (tests/test_device.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/test_device.h"
#include "tests/test_util.h"

#define RTOL 1e-4
#define ATOL_REL 1e-4 /* absolute tolerance, relative to the largest expected value */

typedef struct att_case {
  int n, h, w, d, dv;
  float scale, qk_scale; /* logit scale; size of the q, k values */
} att_case;

/* Tiles are 64 queries and keys; value channels go 64, 128 or 256 at a time. */
static const att_case cases[] = {
    {2, 7, 9, 8, 8, 0.35f, 1.0f},         /* P = 63: one partial tile */
    {2, 33, 33, 67, 1, 0.12f, 1.0f},      /* P = 1089: 18 tiles, odd d, one value channel */
    {2, 7, 9, 1, 67, 1.0f, 1.0f},         /* one query/key channel */
    {2, 33, 33, 256, 256, 0.0625f, 1.0f}, /* the paper's inner width */
    {2, 11, 13, 130, 300, 0.09f, 3.0f},   /* value channels past 256; |S| ~ 30 */
    {1, 1, 65, 16, 24, 0.5f, 4.0f},       /* one key past a tile; |S| ~ 100 */
};
#define CASE_COUNT (sizeof cases / sizeof cases[0])

typedef struct att_data {
  attention_shape s;
  size_t nqk, nv; /* elements of q (and k), of v (and out) */
  float *q, *k, *v, *dout, *init_qk, *init_v;
  /* CPU reference results: out, and the gradients accumulated onto init */
  float *out, *dq, *dk, *dv;
} att_data;

static float *host_alloc(size_t n) {
  float *x = malloc((n ? n : 1) * sizeof *x);
  cr_assert(x, "out of host memory");
  return x;
}

static float *host_randn(rng *r, size_t n, float scale) {
  float *x = host_alloc(n);
  test_fill_randn(r, x, n, scale);
  return x;
}

static float *host_copy(const float *x, size_t n) {
  float *y = host_alloc(n);
  memcpy(y, x, n * sizeof *y);
  return y;
}

/* Random inputs and the CPU backend's reference forward and backward. */
static void make_data(const att_case *c, uint64_t seed, att_data *a) {
  const int p = c->h * c->w;
  a->s = (attention_shape){.n = c->n, .p = p, .d = c->d, .dv = c->dv, .scale = c->scale};
  a->nqk = (size_t)c->n * c->d * p;
  a->nv = (size_t)c->n * c->dv * p;
  rng r;
  rng_seed(&r, seed);
  a->q = host_randn(&r, a->nqk, c->qk_scale);
  a->k = host_randn(&r, a->nqk, c->qk_scale);
  a->v = host_randn(&r, a->nv, 1.0f);
  a->dout = host_randn(&r, a->nv, 1.0f);
  a->init_qk = host_randn(&r, a->nqk, 0.5f);
  a->init_v = host_randn(&r, a->nv, 0.5f);
  a->out = host_alloc(a->nv);
  a->dq = host_copy(a->init_qk, a->nqk);
  a->dk = host_copy(a->init_qk, a->nqk);
  a->dv = host_copy(a->init_v, a->nv);
  const dnl_backend *cpu = cpu_backend();
  float *attn = host_alloc((size_t)c->n * p * p);
  float *ws = host_alloc(cpu->attention_workspace(&a->s, false, true) / sizeof(float));
  TRY_OK(cpu->attention_reference_forward(&a->s, a->q, a->k, a->v, a->out, attn));
  TRY_OK(cpu->attention_reference_backward(&a->s, a->q, a->k, a->v, attn, a->dout, a->dq, a->dk,
                                           a->dv, ws));
  free(ws);
  free(attn);
}

static void free_data(att_data *a) {
  free(a->q), free(a->k), free(a->v), free(a->dout), free(a->init_qk), free(a->init_v);
  free(a->out), free(a->dq), free(a->dk), free(a->dv);
}

static double max_abs(const float *x, size_t n) {
  double m = 0.0;
  for (size_t i = 0; i < n; i++)
    m = fmax(m, fabs((double)x[i]));
  return m;
}

/* got and want agree within RTOL plus ATOL_REL of the largest |want| */
static void expect_close(const float *got, const float *want, size_t n, const char *what) {
  ASSERT_CLOSE(got, want, n, ATOL_REL * fmax(max_abs(want, n), 1e-30), RTOL, what);
}

/* The increments (x - init) of a device gradient and of the CPU's. */
static void expect_increment(const dnl_backend *g, const float *dev, const float *cpu,
                             const float *init, size_t n, const char *what) {
  float *got = test_download_new(g, dev, n * sizeof *got);
  float *want = host_alloc(n);
  for (size_t i = 0; i < n; i++) {
    got[i] -= init[i];
    want[i] = cpu[i] - init[i];
  }
  expect_close(got, want, n, what);
  free(want);
  free(got);
}

static void expect_output(const dnl_backend *g, const float *dev, const float *cpu, size_t n,
                          const char *what) {
  float *got = test_download_new(g, dev, n * sizeof *got);
  expect_close(got, cpu, n, what);
  free(got);
}

/* lse[b, i] = log sum_j exp(scale sum_e q[b, e, i] k[b, e, j]), in double */
static void lse_double(const attention_shape *s, const float *q, const float *k, float *lse) {
  const int p = s->p, d = s->d;
  double *row = malloc((size_t)p * sizeof *row);
  cr_assert(row, "out of host memory");
  for (int b = 0; b < s->n; b++)
    for (int i = 0; i < p; i++) {
      const float *qb = q + (size_t)b * d * p, *kb = k + (size_t)b * d * p;
      memset(row, 0, (size_t)p * sizeof *row);
      for (int e = 0; e < d; e++) {
        const double qe = qb[(size_t)e * p + i];
        for (int j = 0; j < p; j++)
          row[j] += qe * kb[(size_t)e * p + j];
      }
      double m = -INFINITY, sum = 0.0;
      for (int j = 0; j < p; j++)
        m = fmax(m, s->scale * row[j]);
      for (int j = 0; j < p; j++)
        sum += exp(s->scale * row[j] - m);
      lse[(size_t)b * p + i] = (float)(m + log(sum));
    }
  free(row);
}

/* Device copies of one case's inputs and fresh gradients (the initial values). */
typedef struct att_device {
  float *q, *k, *v, *dout, *out, *saved, *dq, *dk, *dv;
  void *ws;
} att_device;

static void upload_case(const dnl_backend *g, const att_data *a, bool fused, att_device *x) {
  const size_t f = sizeof(float), np = (size_t)a->s.n * a->s.p;
  x->q = test_upload(g, a->q, a->nqk * f);
  x->k = test_upload(g, a->k, a->nqk * f);
  x->v = test_upload(g, a->v, a->nv * f);
  x->dout = test_upload(g, a->dout, a->nv * f);
  x->out = test_device_zeros(g, a->nv * f);
  x->saved = test_device_zeros(g, (fused ? np : np * a->s.p) * f);
  x->dq = test_upload(g, a->init_qk, a->nqk * f);
  x->dk = test_upload(g, a->init_qk, a->nqk * f);
  x->dv = test_upload(g, a->init_v, a->nv * f);
  const size_t fw = g->attention_workspace(&a->s, fused, false);
  const size_t bw = g->attention_workspace(&a->s, fused, true);
  x->ws = test_device_zeros(g, fw > bw ? fw : bw);
}

static void free_device(const dnl_backend *g, att_device *x) {
  g->free(x->q), g->free(x->k), g->free(x->v), g->free(x->dout), g->free(x->out);
  g->free(x->saved), g->free(x->dq), g->free(x->dk), g->free(x->dv), g->free(x->ws);
}

static void run_forward(const dnl_backend *g, const attention_shape *s, bool fused, att_device *x) {
  if (fused)
    TRY_OK(g->attention_fused_forward(s, x->q, x->k, x->v, x->out, x->saved, x->ws));
  else
    TRY_OK(g->attention_reference_forward(s, x->q, x->k, x->v, x->out, x->saved));
}

/* The backward into the gradients selected by the mask (1 dq, 2 dk, 4 dv). */
static void run_backward(const dnl_backend *g, const attention_shape *s, bool fused, att_device *x,
                         int mask) {
  float *gq = mask & 1 ? x->dq : NULL, *gk = mask & 2 ? x->dk : NULL;
  float *gv = mask & 4 ? x->dv : NULL;
  if (fused)
    TRY_OK(g->attention_fused_backward(s, x->q, x->k, x->v, x->out, x->saved, x->dout, gq, gk, gv,
                                       x->ws));
  else
    TRY_OK(
        g->attention_reference_backward(s, x->q, x->k, x->v, x->saved, x->dout, gq, gk, gv, x->ws));
  TRY_OK(g->synchronize());
}

static void check_kernel(bool fused) {
  const dnl_backend *g = test_cuda_or_skip();
  const char *kernel = fused ? "fused" : "reference";
  if (fused)
    cr_assert(g->attention_workspace && g->attention_fused_forward && g->attention_fused_backward,
              "cuda backend lacks the fused attention ops");
  else
    cr_assert(g->attention_workspace && g->attention_reference_forward &&
                  g->attention_reference_backward,
              "cuda backend lacks the reference attention ops");
  for (size_t ci = 0; ci < CASE_COUNT; ci++) {
    const att_case *c = &cases[ci];
    att_data a;
    make_data(c, 100 + ci, &a);
    att_device x;
    upload_case(g, &a, fused, &x);
    run_forward(g, &a.s, fused, &x);
    run_backward(g, &a.s, fused, &x, 7);
    char what[160];
    snprintf(what, sizeof what, "%s case %zu (P %d, d %d, dv %d): ", kernel, ci, a.s.p, a.s.d,
             a.s.dv);
    const size_t at = strlen(what);
    snprintf(what + at, sizeof what - at, "out");
    expect_output(g, x.out, a.out, a.nv, what);
    snprintf(what + at, sizeof what - at, "dq");
    expect_increment(g, x.dq, a.dq, a.init_qk, a.nqk, what);
    snprintf(what + at, sizeof what - at, "dk");
    expect_increment(g, x.dk, a.dk, a.init_qk, a.nqk, what);
    snprintf(what + at, sizeof what - at, "dv");
    expect_increment(g, x.dv, a.dv, a.init_v, a.nv, what);
    if (fused) {
      const size_t np = (size_t)a.s.n * a.s.p;
      float *want = host_alloc(np);
      lse_double(&a.s, a.q, a.k, want);
      float *got = test_download_new(g, x.saved, np * sizeof *got);
      snprintf(what + at, sizeof what - at, "lse");
      ASSERT_CLOSE(got, want, np, 1e-5 * fmax(max_abs(want, np), 1.0), 1e-5, what);
      free(got);
      free(want);
    }
    free_device(g, &x);
    free_data(&a);
  }
}

Test(cuda_attention, reference_matches_cpu) { check_kernel(false); }

Test(cuda_attention, fused_matches_cpu) { check_kernel(true); }

/* Each gradient alone (the others NULL) gets what the full backward gives;
 * the other buffers stay untouched. */
static void check_single_gradients(bool fused) {
  const dnl_backend *g = test_cuda_or_skip();
  cr_assert(g->attention_fused_backward && g->attention_reference_backward,
            "cuda backend lacks the attention backward ops");
  static const att_case small[] = {{2, 7, 9, 8, 8, 0.35f, 1.0f},
                                   {2, 11, 13, 130, 300, 0.09f, 1.0f}};
  for (size_t ci = 0; ci < 2; ci++) {
    att_data a;
    make_data(&small[ci], 200 + ci, &a);
    for (int mask = 1; mask <= 4; mask *= 2) {
      att_device x;
      upload_case(g, &a, fused, &x);
      run_forward(g, &a.s, fused, &x);
      run_backward(g, &a.s, fused, &x, mask);
      char what[128];
      snprintf(what, sizeof what, "%s case %zu, only %s", fused ? "fused" : "reference", ci,
               mask == 1   ? "dq"
               : mask == 2 ? "dk"
                           : "dv");
      const float *const grads[3] = {x.dq, x.dk, x.dv};
      const float *const cpu[3] = {a.dq, a.dk, a.dv};
      const float *const init[3] = {a.init_qk, a.init_qk, a.init_v};
      const size_t count[3] = {a.nqk, a.nqk, a.nv};
      for (int t = 0; t < 3; t++) {
        if (mask == 1 << t) {
          expect_increment(g, grads[t], cpu[t], init[t], count[t], what);
          continue;
        }
        float *got = test_download_new(g, grads[t], count[t] * sizeof *got);
        cr_assert(memcmp(got, init[t], count[t] * sizeof *got) == 0, "%s: gradient %d was written",
                  what, t);
        free(got);
      }
      free_device(g, &x);
    }
    free_data(&a);
  }
}

Test(cuda_attention, reference_skips_null_gradients) { check_single_gradients(false); }

Test(cuda_attention, fused_skips_null_gradients) { check_single_gradients(true); }
