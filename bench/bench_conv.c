/* Conv2d throughput of the CPU backend next to a plain OpenBLAS sgemm of the
 * same size. Convolution as im2col + GEMM does per image the work of one GEMM
 * with M = cout, N = oh*ow, K = cin*k*k, so that GEMM's rate is the ceiling the
 * convolution can approach; the forward target is 60% of it.
 * Each shape: one warm-up call of every kind, then ROUNDS rounds of bursts of
 * every kind in turn (see measure_all), the median rate of each kind. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/cpu/cpu_ops.h"
#include "lib/core/omp_policy.h"

#define ROUNDS 9
#define BURST_SECONDS 0.04
#define TARGET_RATIO 0.60

typedef struct bench_shape {
  const char *name;
  int n, cin, h, w, cout, k, stride, pad, dilation;
} bench_shape;

static const bench_shape shapes[] = {
    {"tiny 3x3 16->16 @64x64", 8, 16, 64, 64, 16, 3, 1, 1, 1},
    {"tiny 3x3 64->64 d2 @16x16", 8, 64, 16, 16, 64, 3, 1, 2, 2},
    {"tiny 1x1 64->32 @16x16", 8, 64, 16, 16, 32, 1, 1, 0, 1},
    {"resnet 3x3 256->256 @64x64", 2, 256, 64, 64, 256, 3, 1, 1, 1},
    {"resnet 3x3 64->64 @97x97", 2, 64, 97, 97, 64, 3, 1, 1, 1},
    {"resnet 1x1 1024->256 @97x97", 2, 1024, 97, 97, 256, 1, 1, 0, 1},
};

typedef enum {
  RUN_FORWARD,
  RUN_BACKWARD_DATA,
  RUN_BACKWARD_WEIGHT,
  RUN_SGEMM,
  RUN_KINDS
} run_kind;

typedef struct buffers {
  float *x, *w, *bias, *y, *dy, *dx, *dw, *gemm_c;
  void *ws;
} buffers;

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static dnl_status run_once(run_kind kind, const conv2d_shape *s, buffers *b) {
  const dnl_backend *be = cpu_backend();
  switch (kind) {
  case RUN_FORWARD:
    return be->conv2d_forward(s, b->x, b->w, b->bias, b->y, b->ws);
  case RUN_BACKWARD_DATA:
    return be->conv2d_backward(s, b->x, b->w, b->dy, b->dx, NULL, NULL, b->ws);
  case RUN_BACKWARD_WEIGHT:
    return be->conv2d_backward(s, b->x, b->w, b->dy, NULL, b->dw, b->bias, b->ws);
  case RUN_SGEMM: {
    /* one GEMM per image, the shape of the forward's; inputs stand in for data */
    const int m = s->cout, n = s->oh * s->ow, k = s->cin * s->kh * s->kw;
    for (int i = 0; i < s->n; i++)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, b->w, k,
                  b->gemm_c + (size_t)m * n, n, 0.0f, b->gemm_c, n);
    return DNL_OK;
  }
  case RUN_KINDS:
    break;
  }
  return dnl_error(DNL_ERR_ARG, "bench_conv: unknown run kind %d", (int)kind);
}

/* Median GFLOP/s of each kind over ROUNDS rounds. A round runs every kind in
 * turn, each as a burst of back-to-back calls for at least BURST_SECONDS, so
 * that a slow spell of this shared machine hits the convolution and the sgemm
 * it is compared with alike, while every rate is that of calls in steady state
 * as in training (a single call right after a switch of kind pays for waking
 * thread pools: OpenBLAS's own workers keep spinning for a while after its
 * threaded sgemm and halve the speed of OpenMP work that starts meanwhile). */
static dnl_status measure_all(const conv2d_shape *s, buffers *b, double gflops[RUN_KINDS]) {
  const double flops = 2.0 * s->n * s->cout * s->oh * s->ow * s->cin * s->kh * s->kw;
  double rate[RUN_KINDS][ROUNDS];
  for (int kind = 0; kind < RUN_KINDS; kind++)
    DNL_TRY(run_once((run_kind)kind, s, b));
  for (int r = 0; r < ROUNDS; r++)
    for (int kind = 0; kind < RUN_KINDS; kind++) {
      const double t0 = now_seconds();
      double t = 0.0;
      long calls = 0;
      do {
        DNL_TRY(run_once((run_kind)kind, s, b));
        calls++;
        t = now_seconds() - t0;
      } while (t < BURST_SECONDS);
      rate[kind][r] = flops * (double)calls / t * 1e-9;
    }
  for (int kind = 0; kind < RUN_KINDS; kind++) {
    qsort(rate[kind], ROUNDS, sizeof rate[kind][0], compare_double);
    gflops[kind] = rate[kind][ROUNDS / 2];
  }
  return DNL_OK;
}

static float *random_floats(size_t n, unsigned *seed) {
  float *p = malloc((n ? n : 1) * sizeof(float));
  if (p)
    for (size_t i = 0; i < n; i++)
      p[i] = (float)rand_r(seed) / (float)RAND_MAX - 0.5f;
  return p;
}

static void free_buffers(buffers *b) {
  free(b->x), free(b->w), free(b->bias), free(b->y), free(b->dy), free(b->dx), free(b->dw);
  free(b->gemm_c), free(b->ws);
}

static dnl_status bench_shape_run(const bench_shape *bs, bool *met_target) {
  conv2d_shape s;
  DNL_TRY(conv2d_shape_init(&s, bs->n, bs->cin, bs->h, bs->w, bs->cout, bs->k, bs->stride,
                            bs->pad, bs->dilation));
  const size_t nx = (size_t)s.n * s.cin * s.h * s.w, ny = (size_t)s.n * s.cout * s.oh * s.ow;
  const size_t nw = (size_t)s.cout * s.cin * s.kh * s.kw;
  /* gemm_c holds the [m, n] output and, after it, the [k, n] right operand */
  const size_t ngemm = (size_t)s.oh * s.ow * (s.cout + (size_t)s.cin * s.kh * s.kw);
  unsigned seed = 7;
  buffers b = {.x = random_floats(nx, &seed),
               .w = random_floats(nw, &seed),
               .bias = random_floats((size_t)s.cout, &seed),
               .y = random_floats(ny, &seed),
               .dy = random_floats(ny, &seed),
               .dx = random_floats(nx, &seed),
               .dw = random_floats(nw, &seed),
               .gemm_c = random_floats(ngemm, &seed)};
  const size_t ws_bytes = cpu_backend()->conv2d_workspace(&s);
  b.ws = ws_bytes ? malloc(ws_bytes) : NULL;
  if (!b.x || !b.w || !b.bias || !b.y || !b.dy || !b.dx || !b.dw || !b.gemm_c ||
      (ws_bytes && !b.ws)) {
    free_buffers(&b);
    return dnl_error(DNL_ERR_NOMEM, "bench_conv %s: cannot allocate the buffers", bs->name);
  }
  double g[RUN_KINDS] = {0};
  dnl_status st = measure_all(&s, &b, g);
  const double fwd = g[RUN_FORWARD], bwd_data = g[RUN_BACKWARD_DATA];
  const double bwd_weight = g[RUN_BACKWARD_WEIGHT], gemm = g[RUN_SGEMM];
  free_buffers(&b);
  if (st != DNL_OK)
    return dnl_error_context(st, "bench_conv %s", bs->name);
  const double ratio = fwd / gemm;
  *met_target = ratio >= TARGET_RATIO;
  printf("%-29s %5d %5d %6d %8.1f %8.1f %8.1f %8.1f %6.2f%s\n", bs->name, s.cout, s.oh * s.ow,
         s.cin * s.kh * s.kw, fwd, bwd_data, bwd_weight, gemm, ratio,
         *met_target ? "" : "  (below target)");
  fflush(stdout);
  return DNL_OK;
}

/* bench_conv [WORD]: only the shapes whose name contains WORD (e.g. tiny). */
int main(int argc, char **argv) {
  omp_policy_reexec(argv);
  const char *only = argc > 1 ? argv[1] : "";
  printf("bench_conv: CPU backend conv2d vs OpenBLAS sgemm, GFLOP/s, median of %d rounds of "
         "%.0f ms bursts of each kind in turn\n",
         ROUNDS, BURST_SECONDS * 1e3);
  printf("threads: OpenMP %d (wait policy: %s), OpenBLAS %d; forward target: conv/sgemm >= "
         "%.2f\n",
         omp_get_max_threads(), omp_policy_describe(), openblas_get_num_threads(),
         TARGET_RATIO);
  printf("%-29s %5s %5s %6s %8s %8s %8s %8s %6s\n", "shape (batch in the text)", "M", "N", "K",
         "fwd", "bwd-data", "bwd-wt", "sgemm", "ratio");
  int missed = 0;
  size_t measured = 0;
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    if (!strstr(shapes[i].name, only))
      continue;
    measured++;
    bool met = false;
    if (bench_shape_run(&shapes[i], &met) != DNL_OK) {
      fprintf(stderr, "bench_conv: %s\n", dnl_last_error());
      return 1;
    }
    missed += !met;
  }
  printf("forward conv/sgemm >= %.2f on %zu of %zu shapes\n", TARGET_RATIO,
         measured - (size_t)missed, measured);
  return 0;
}
