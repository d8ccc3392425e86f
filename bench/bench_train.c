/* One training iteration of the tiny default model (forward, 1.0 * CE(main) +
 * 0.4 * CE(aux), backward, SGD step) on the CPU, next to the same network in
 * PyTorch (bench/train_twin.py through /usr/bin/python3 when torch imports),
 * with the same threads, batch and crop, on random images and labels (no
 * data loader). Network and solver: experiments/base/synth_tiny.cfg.
 *
 * Time: ROUNDS rounds, each ITERS iterations after WARMUP of ours and then of
 * PyTorch's, so that both see the same share of a shared machine's load; the
 * best iteration (the least disturbed) and the median over all rounds. Rate of
 * the convolutions: their forward FLOPs (counted by the conv layers) times 3
 * for forward + backward data + backward weights (the first conv's input
 * gradient, about 1% of the total, is skipped by the network and counted
 * anyway), against one large OpenBLAS sgemm on as many threads.
 * Target: at least as fast as PyTorch. The load average is printed before and
 * after. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/layers/loss.h"
#include "runner/session.h"

#define CONFIG "experiments/base/synth_tiny.cfg"
#define TWIN "bench/train_twin.py"
#define CLASSES 4 /* synth */
#define WARMUP 3
#define ITERS 10
#define ROUNDS 3
#define GEMM_SIZE 1024

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, compare_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The training step of runner/train.c on a fixed batch. */
static dnl_status train_step(session *s, tensor *images, const int32_t *labels, double *flops) {
  const run_config *c = &s->cfg;
  arena_reset(&s->act);
  DNL_TRY(params_zero_grad(&s->ps));
  s->ctx.training = true;
  s->ctx.flops = 0.0;
  tensor logits, aux, dlogits, daux;
  DNL_TRY(segnet_forward(&s->net, &s->ctx, images, &logits, &aux));
  *flops = s->ctx.flops;
  loss_config lc = {.class_weights = NULL, .ignore_label = LOSS_IGNORE_LABEL,
                    .ohem_thresh = (float)c->ohem_thresh, .ohem_min_kept = c->ohem_min_kept};
  float loss_main, loss_aux;
  DNL_TRY(layer_ctx_zeros_like(&s->ctx, &dlogits, &logits));
  DNL_TRY(layer_ctx_zeros_like(&s->ctx, &daux, &aux));
  if (c->ohem)
    DNL_TRY(ohem_ce_loss(&s->ctx, &lc, &logits, labels, 1.0f, &loss_main, &dlogits));
  else
    DNL_TRY(ce_loss(&s->ctx, &lc, &logits, labels, 1.0f, &loss_main, &dlogits));
  DNL_TRY(ce_loss(&s->ctx, &lc, &aux, labels, (float)c->aux_weight, &loss_aux, &daux));
  DNL_TRY(segnet_backward(&s->net, &s->ctx, &dlogits, &daux));
  return params_sgd_step(&s->ps, (float)c->lr, (float)c->momentum, (float)c->weight_decay);
}

/* Appends the seconds of ITERS iterations (after WARMUP) to times; the
 * convolutions' training FLOPs of one iteration into *conv_flops. */
static dnl_status measure_ours(session *s, double *times, double *conv_flops) {
  const int n = s->cfg.batch, crop = s->cfg.crop;
  tensor images;
  const int shape[4] = {n, 3, crop, crop};
  DNL_TRY(tensor_alloc(&images, DEVICE_CPU, 4, shape));
  int32_t *labels = malloc((size_t)n * crop * crop * sizeof *labels);
  if (!labels) {
    tensor_free(&images);
    return dnl_error(DNL_ERR_NOMEM, "bench_train: labels");
  }
  rng r;
  rng_seed(&r, 7);
  /* normalised pixels span about -120..130 (BGR minus mean) */
  for (size_t i = 0; i < tensor_numel(&images); i++)
    images.data[i] = (float)rng_range(&r, -120.0, 130.0);
  for (size_t i = 0; i < (size_t)n * crop * crop; i++)
    labels[i] = (int32_t)(rng_u64(&r) % CLASSES);
  double flops = 0.0;
  dnl_status st = DNL_OK;
  for (int i = 0; i < WARMUP && st == DNL_OK; i++)
    st = train_step(s, &images, labels, &flops);
  for (int i = 0; i < ITERS && st == DNL_OK; i++) {
    const double t0 = now_seconds();
    st = train_step(s, &images, labels, &flops);
    times[i] = now_seconds() - t0;
  }
  tensor_free(&images);
  free(labels);
  *conv_flops = 3.0 * flops;
  return st;
}

/* GFLOP/s of a square sgemm, best of a few calls. */
static double sgemm_gflops(void) {
  const size_t n = GEMM_SIZE;
  float *a = malloc(n * n * sizeof *a), *b = malloc(n * n * sizeof *b),
        *c = malloc(n * n * sizeof *c);
  double best = 1e30;
  if (a && b && c) {
    for (size_t i = 0; i < n * n; i++)
      a[i] = b[i] = (float)(i % 7) * 0.1f;
    for (int rep = 0; rep < 6; rep++) {
      const double t0 = now_seconds();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0f, a,
                  (int)n, b, (int)n, 0.0f, c, (int)n);
      const double t = now_seconds() - t0;
      if (rep > 0 && t < best)
        best = t;
    }
  }
  free(a), free(b), free(c);
  return 2.0 * (double)n * n * n / best * 1e-9;
}

/* One round of the twin: its median and best seconds per iteration into
 * *median, *best; false (with the reason printed) when it cannot run. */
static bool run_twin(int threads, int batch, int crop, double *median, double *best) {
  if (system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
    printf("pytorch: not measured (/usr/bin/python3 cannot import torch)\n");
    return false;
  }
  char cmd[256];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s --threads %d --batch %d --crop %d --warmup %d "
           "--iters %d", TWIN, threads, batch, crop, WARMUP, ITERS);
  FILE *p = popen(cmd, "r");
  if (!p) {
    printf("pytorch: not measured (cannot run %s)\n", TWIN);
    return false;
  }
  char line[256];
  int got = 0;
  while (fgets(line, sizeof line, p) && got != 2)
    got = sscanf(line, "twin threads=%*d batch=%*d crop=%*d median=%lf best=%lf", median, best);
  const int rc = pclose(p);
  if (rc != 0 || got != 2) {
    printf("pytorch: not measured (%s exited with %d)\n", TWIN, rc);
    return false;
  }
  return true;
}

static void print_load(const char *when) {
  double load[3];
  if (getloadavg(load, 3) == 3)
    printf("load average %s: %.2f %.2f %.2f (%ld cores)\n", when, load[0], load[1], load[2],
           sysconf(_SC_NPROCESSORS_ONLN));
}

/* Spinning OpenMP threads steal the cores from OpenBLAS (see runner/main.c);
 * libgomp reads the policy at load time, so restart once with it set. The
 * PyTorch twin inherits the same environment. */
static void ensure_passive_wait(char **argv) {
  if (getenv("OMP_WAIT_POLICY"))
    return;
  setenv("OMP_WAIT_POLICY", "passive", 1);
  execv("/proc/self/exe", argv);
}

int main(int argc, char **argv) {
  (void)argc;
  ensure_passive_wait(argv);
  session s;
  if (session_open(&s, CONFIG, NULL, 0) != DNL_OK || session_build_net(&s, CLASSES) != DNL_OK) {
    fprintf(stderr, "bench_train: %s\n", dnl_last_error());
    session_close(&s);
    return 1;
  }
  const int threads = omp_get_max_threads(), batch = s.cfg.batch, crop = s.cfg.crop;
  printf("bench_train: %s (%zu parameters), batch %d, crop %d, %d threads, "
         "OMP_WAIT_POLICY=%s; %d rounds of %d iterations after %d\n",
         CONFIG, params_count_trainable(&s.ps), batch, crop, threads, getenv("OMP_WAIT_POLICY"),
         ROUNDS, ITERS, WARMUP);
  print_load("before");
  double ours[ROUNDS * ITERS], twin_median[ROUNDS], twin_best = 1e30, conv_flops = 0.0;
  bool have_twin = true;
  for (int r = 0; r < ROUNDS; r++) {
    if (measure_ours(&s, ours + r * ITERS, &conv_flops) != DNL_OK) {
      fprintf(stderr, "bench_train: %s\n", dnl_last_error());
      session_close(&s);
      return 1;
    }
    double best;
    have_twin = have_twin && run_twin(threads, batch, crop, &twin_median[r], &best);
    if (have_twin && best < twin_best)
      twin_best = best;
  }
  session_close(&s);
  double best = ours[0];
  for (int i = 1; i < ROUNDS * ITERS; i++)
    best = ours[i] < best ? ours[i] : best;
  const double med = median(ours, ROUNDS * ITERS);
  const double peak = sgemm_gflops(), rate = conv_flops / best * 1e-9;
  printf("dnl:     best %6.1f ms = %6.2f img/s   median %6.1f ms = %6.2f img/s\n", 1e3 * best,
         batch / best, 1e3 * med, batch / med);
  if (have_twin) {
    const double tmed = median(twin_median, ROUNDS);
    printf("pytorch: best %6.1f ms = %6.2f img/s   median %6.1f ms = %6.2f img/s (of rounds)\n",
           1e3 * twin_best, batch / twin_best, 1e3 * tmed, batch / tmed);
    printf("dnl / pytorch: %.2f best, %.2f median (target >= 1): %s\n", twin_best / best,
           tmed / med, twin_best >= best ? "met" : "MISSED");
  }
  printf("convolutions: %.2f GFLOP per iteration, %.1f GFLOP/s at the best iteration = %.0f%% "
         "of sgemm (%dx%dx%d: %.1f GFLOP/s)\n",
         conv_flops * 1e-9, rate, 100.0 * rate / peak, GEMM_SIZE, GEMM_SIZE, GEMM_SIZE, peak);
  print_load("after");
  return 0;
}
