/* Inference speed and memory of the Cityscapes test protocol of
 * experiments/base/cityscapes_r101.cfg: ResNet-101 + DNL head, 19 classes,
 * sliding 769 x 769 windows at stride 512 plus a flipped pass, on a 1024 x 2048
 * image: 2 x 4 windows x 2 = 16 forward passes. Weights are random (the speed
 * does not depend on them), the image random.
 *
 *   bench_eval                 (make bench) PASSES forward passes of one 769 x 769
 *                              window through infer_image; the image rate is
 *                              that of 16 windows at the median pass (a whole
 *                              image takes minutes on 2 cores)
 *   bench_eval --image [N]     N whole 1024 x 2048 images (default 1) with the
 *                              protocol, measured
 *   bench_eval --device cuda   on the GPU (with --image: whole images)
 *
 * Memory: the process's peak resident set (getrusage), the activations'
 * high-water mark (arena) and the convolution workspace. The load average is
 * printed before and after: on a shared machine the times are only as good as
 * it is quiet. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "lib/core/omp_policy.h"
#include "runner/evaluate.h"
#include "runner/session.h"

#define CONFIG "experiments/base/cityscapes_r101.cfg"
#define PASSES 3
#define IMAGE_H 1024
#define IMAGE_W 2048

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void print_load(const char *when) {
  double load[3];
  if (getloadavg(load, 3) == 3)
    printf("load average %s: %.2f %.2f %.2f\n", when, load[0], load[1], load[2]);
}

static double peak_rss_mib(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_maxrss / 1024.0; /* KiB on Linux */
}

static const char usage[] = "usage: bench_eval [--device cpu|cuda] [--image [N]]\n";

int main(int argc, char **argv) {
  omp_policy_reexec(argv);
  const char *device = "device=cpu";
  int images = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--device") && i + 1 < argc &&
        (!strcmp(argv[i + 1], "cpu") || !strcmp(argv[i + 1], "cuda"))) {
      device = !strcmp(argv[++i], "cuda") ? "device=cuda" : "device=cpu";
    } else if (!strcmp(argv[i], "--image")) {
      images = i + 1 < argc && atoi(argv[i + 1]) > 0 ? atoi(argv[++i]) : 1;
    } else {
      fprintf(stderr, "bench_eval: unexpected argument '%s'\n%s", argv[i], usage);
      return 2;
    }
  }
  const char *sets[1] = {device};
  session s;
  dataset_info info;
  infer_opts o;
  rng r;
  rng_seed(&r, 1);
  if (session_open(&s, CONFIG, sets, 1) != DNL_OK ||
      dataset_info_get(s.cfg.dataset, &info) != DNL_OK ||
      session_build_net_for_eval(&s, info.num_classes) != DNL_OK ||
      params_init_values(&s.ps, &r) != DNL_OK || eval_options(&s.cfg, &o) != DNL_OK) {
    fprintf(stderr, "bench_eval: %s\n", dnl_last_error());
    session_close(&s);
    return 1;
  }
  const int h = images ? IMAGE_H : o.crop, w = images ? IMAGE_W : o.crop, k = info.num_classes;
  int ys[64], xs[64];
  const int windows = sliding_window_starts(IMAGE_H, o.crop, o.stride, ys, 64) *
                      sliding_window_starts(IMAGE_W, o.crop, o.stride, xs, 64) * (o.flip ? 2 : 1);
  printf("bench_eval: %s (%zu parameters, %d classes, block %s) on %s, %d threads, wait "
         "policy %s; protocol: %s %d / %d%s = %d passes of %d x %d per %d x %d image\n",
         CONFIG, params_count_trainable(&s.ps), k, s.cfg.net.block.variant,
         device_name(s.be->device), omp_get_max_threads(), omp_policy_describe(), s.cfg.eval_mode,
         o.crop, o.stride, o.flip ? " + flip" : "", windows, o.crop, o.crop, IMAGE_H, IMAGE_W);
  float *x = malloc((size_t)3 * h * w * sizeof(float));
  float *logits = malloc((size_t)k * h * w * sizeof(float));
  if (!x || !logits) {
    fprintf(stderr, "bench_eval: out of memory\n");
    return 1;
  }
  for (size_t i = 0; i < (size_t)3 * h * w; i++)
    x[i] = (float)(rng_uniform(&r) * 250.0 - 120.0);
  infer_opts one = o;
  one.mode = INFER_SINGLE;
  one.flip = false;
  const infer_opts *use = images ? &o : &one;
  const int n = images ? images : PASSES;
  double t[PASSES > 16 ? PASSES : 16];
  infer_buffers bufs = {0};
  print_load("before");
  dnl_status st = DNL_OK;
  for (int i = 0; i < n && st == DNL_OK; i++) {
    const double t0 = now_seconds();
    st = infer_image(&s.net, &s.ctx, x, h, w, use, &bufs, logits);
    if (st == DNL_OK)
      st = s.be->synchronize();
    t[i] = now_seconds() - t0;
    printf("  %s %d: %.2f s\n", images ? "image" : "window pass", i + 1, t[i]);
    fflush(stdout);
  }
  if (st != DNL_OK) {
    fprintf(stderr, "bench_eval: %s\n", dnl_last_error());
    return 1;
  }
  print_load("after");
  qsort(t, (size_t)n, sizeof t[0], compare_double);
  const double med = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
  if (images)
    printf("dnl: %.4f images/s (median %.1f s per %d x %d image, best %.1f s)\n", 1.0 / med, med,
           IMAGE_H, IMAGE_W, t[0]);
  else
    printf("dnl: one 769 x 769 pass median %.2f s (best %.2f s) -> %.4f images/s of the "
           "protocol (%d passes per image, the rest of the image's work not counted)\n",
           med, t[0], 1.0 / (windows * med), windows);
  printf("memory: peak resident %.0f MiB, activations' high-water mark %.0f MiB, convolution "
         "workspace %.0f MiB, parameters %.0f MiB\n",
         peak_rss_mib(), (double)s.act.peak / (1 << 20), (double)s.ctx.ws_size / (1 << 20),
         (double)s.ps.total * sizeof(float) / (1 << 20));
  infer_buffers_free(&bufs);
  free(x);
  free(logits);
  session_close(&s);
  return 0;
}
