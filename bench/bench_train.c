/* One training iteration (runner/train_step.c: forward, main loss + aux_weight *
 * CE(aux), backward, SGD step) next to the same network in PyTorch
 * (bench/train_twin.py, through /usr/bin/python3 or $DNL_TWIN_PYTHON when torch
 * imports), with the same threads, batch and crop, on random images and labels
 * (no data loader).
 *
 *   bench_train                       the tiny model of experiments/base/synth_tiny.cfg
 *                                     on the CPU (`make bench`)
 *   bench_train --device cuda         the same on the GPU
 *   bench_train --device cuda --paper the paper's setting (issue 7): ResNet-101 + DNL
 *                                     head + aux head of experiments/base/cityscapes_r101.cfg
 *                                     (its block preset, OHEM and class weights), 19
 *                                     classes, 769 x 769, batch 2, fp32 with TF32
 *                                     convolutions (DNL_CUDA_TF32=1 unless set; PyTorch's
 *                                     default cudnn.allow_tf32)
 *
 * Time: ROUNDS rounds, each ITERS iterations after WARMUP of ours and then of
 * PyTorch's, so that both see the same share of a shared machine's load; the
 * best iteration (the least disturbed) and the median over all rounds. On the
 * GPU every timed iteration ends synchronised. Rate of the convolutions: their
 * forward FLOPs (counted by the conv layers) times 3 for forward + backward data
 * + backward weights (the first conv's input gradient, about 1% of the total, is
 * skipped by the network and counted anyway); on the CPU against one large
 * OpenBLAS sgemm on as many threads. Memory (GPU): ours is the activations'
 * high-water mark + workspace + parameters + batch after the first iteration
 * (and what cudaMemGetInfo reports in use, the CUDA context included);
 * PyTorch's is torch.cuda.max_memory_allocated (and _reserved, its cache).
 * Target: at least as fast as PyTorch. The load average is printed before and
 * after. */
#include <cblas.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/core/omp_policy.h"
#include "runner/train_step.h"

#define CONFIG_TINY "experiments/base/synth_tiny.cfg"
#define CONFIG_PAPER "experiments/base/cityscapes_r101.cfg"
#define TWIN "bench/train_twin.py"
#define WARMUP 3
#define ITERS 10
#define ROUNDS 3
#define GEMM_SIZE 1024

typedef struct bench_opts {
  dnl_device device;
  bool paper;
} bench_opts;

/* What the first iteration held (GPU runs). */
typedef struct memory_use {
  size_t peak;   /* activations + workspace + parameters + batch */
  size_t device; /* in use on the device (cudaMemGetInfo) */
} memory_use;

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

static double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

/* A random batch (normalised pixels span about -120..130, BGR minus mean) and
 * the class weights, on the session's device. */
typedef struct bench_batch {
  tensor images;          /* [n, 3, crop, crop] */
  int32_t *labels;        /* [n, crop, crop] */
  float *class_weights;   /* [classes] or NULL */
} bench_batch;

static void batch_free(session *s, bench_batch *b) {
  tensor_free(&b->images);
  if (b->labels)
    s->be->free(b->labels);
  if (b->class_weights)
    s->be->free(b->class_weights);
}

static dnl_status batch_make(session *s, int classes, bench_batch *b) {
  const dnl_backend *be = s->be;
  const int n = s->cfg.batch, crop = s->cfg.crop;
  const size_t pixels = (size_t)n * crop * crop;
  memset(b, 0, sizeof *b);
  float *img = malloc(3 * pixels * sizeof *img);
  int32_t *lab = malloc(pixels * sizeof *lab);
  dnl_status st = img && lab ? DNL_OK : dnl_error(DNL_ERR_NOMEM, "bench_train: batch");
  if (st == DNL_OK) {
    rng r;
    rng_seed(&r, 7);
    for (size_t i = 0; i < 3 * pixels; i++)
      img[i] = (float)rng_range(&r, -120.0, 130.0);
    for (size_t i = 0; i < pixels; i++)
      lab[i] = (int32_t)(rng_u64(&r) % (uint64_t)classes);
    const int shape[4] = {n, 3, crop, crop};
    st = tensor_alloc(&b->images, be->device, 4, shape);
  }
  if (st == DNL_OK)
    st = be->memcpy(b->images.data, be->device, img, DEVICE_CPU, 3 * pixels * sizeof *img);
  if (st == DNL_OK)
    st = be->alloc(pixels * sizeof *lab, (void **)&b->labels);
  if (st == DNL_OK)
    st = be->memcpy(b->labels, be->device, lab, DEVICE_CPU, pixels * sizeof *lab);
  const size_t wbytes = (size_t)s->cfg.n_class_weights * sizeof(float);
  if (st == DNL_OK && wbytes)
    st = be->alloc(wbytes, (void **)&b->class_weights);
  if (st == DNL_OK && wbytes)
    st = be->memcpy(b->class_weights, be->device, s->cfg.class_weights, DEVICE_CPU, wbytes);
  free(img);
  free(lab);
  if (st != DNL_OK)
    batch_free(s, b);
  return st;
}

/* One iteration; the forward's convolution FLOPs into *flops. */
static dnl_status step(session *s, const bench_batch *b, double *flops) {
  s->ctx.flops = 0.0;
  train_step_in in = {.images = &b->images, .labels = b->labels,
                      .class_weights = b->class_weights, .share = 1.0, .lr = s->cfg.lr};
  train_step_out out;
  DNL_TRY(train_step(s, &in, &out));
  *flops = s->ctx.flops;
  return s->be->synchronize();
}

/* Appends the seconds of ITERS iterations (after WARMUP) to times; the
 * convolutions' training FLOPs of one iteration into *conv_flops; mem (when
 * not NULL) gets the memory after the first iteration. */
static dnl_status measure_ours(session *s, int classes, double *times, double *conv_flops,
                               memory_use *mem) {
  bench_batch b;
  DNL_TRY(batch_make(s, classes, &b));
  double flops = 0.0;
  dnl_status st = DNL_OK;
  for (int i = 0; i < WARMUP && st == DNL_OK; i++) {
    st = step(s, &b, &flops);
    if (st == DNL_OK && i == 0 && mem) {
      size_t total;
      st = s->be->memory_usage(&mem->device, &total);
      mem->peak = s->act.peak + s->ctx.ws_size + 3 * s->ps.total * sizeof(float) +
                  tensor_numel(&b.images) * sizeof(float) +
                  tensor_numel(&b.images) / 3 * sizeof(int32_t);
    }
  }
  for (int i = 0; i < ITERS && st == DNL_OK; i++) {
    const double t0 = now_seconds();
    st = step(s, &b, &flops);
    times[i] = now_seconds() - t0;
  }
  batch_free(s, &b);
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

static const char *twin_python(void) {
  const char *p = getenv("DNL_TWIN_PYTHON");
  return p && p[0] ? p : "/usr/bin/python3";
}

/* The twin's arguments for the session's network, block, loss and solver. */
static dnl_status twin_args(const session *s, const bench_opts *o, int classes, int threads,
                            char *out, size_t len) {
  const run_config *c = &s->cfg;
  block_config b;
  DNL_TRY(block_config_resolve(&c->net.block, &b));
  if (strcmp(b.variant, "dnl") || b.out_conv || b.out_norm != BLOCK_NORM_NONE)
    return dnl_error(DNL_ERR_UNSUPPORTED,
                     "bench_train: the PyTorch twin builds the plain dnl block only (%s)",
                     b.variant);
  size_t used = (size_t)snprintf(
      out, len,
      "--threads %d --device %s%s --classes %d --batch %d --crop %d --warmup %d --iters %d "
      "--lr %g --whiten %s --scale %d --temperature %g%s --aux-weight %g",
      threads, device_name(o->device), o->paper ? " --paper" : "", classes, c->batch, c->crop,
      WARMUP, ITERS, c->lr, block_whiten_name(b.whiten), b.scale == BLOCK_SCALE_ON ? 1 : 0,
      (double)b.temperature, b.nowd ? " --nowd" : "", c->aux_weight);
  if (c->ohem && used < len)
    used += (size_t)snprintf(out + used, len - used, " --ohem-thresh %g --ohem-min-kept %ld",
                             c->ohem_thresh, (long)c->ohem_min_kept);
  for (int i = 0; i < c->n_class_weights && used < len; i++)
    used += (size_t)snprintf(out + used, len - used, "%s%g", i ? "," : " --class-weights ",
                             (double)c->class_weights[i]);
  if (used >= len)
    return dnl_error(DNL_ERR_ARG, "bench_train: the twin's command line is too long");
  return DNL_OK;
}

/* One round of the twin: its median and best seconds per iteration into
 * *median, *best and (GPU) its peak memory into *peak_alloc, *peak_reserved;
 * false (with the reason printed) when it cannot run. */
static bool run_twin(const char *args, bool cuda, double *median, double *best,
                     double *peak_alloc, double *peak_reserved) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s -c 'import torch%s' >/dev/null 2>&1", twin_python(),
           cuda ? "; assert torch.cuda.is_available()" : "");
  if (system(cmd) != 0) {
    printf("pytorch: not measured (%s cannot import torch%s)\n", twin_python(),
           cuda ? " or sees no CUDA device" : "");
    return false;
  }
  /* the twin inherits our OpenMP wait policy: both run under the same conditions */
  snprintf(cmd, sizeof cmd, "%s %s %s", twin_python(), TWIN, args);
  FILE *p = popen(cmd, "r");
  if (!p) {
    printf("pytorch: not measured (cannot run %s)\n", TWIN);
    return false;
  }
  char line[256];
  int got = 0, got_mem = 0;
  while (fgets(line, sizeof line, p)) {
    if (got != 2)
      got = sscanf(line, "twin threads=%*d batch=%*d crop=%*d median=%lf best=%lf", median,
                   best);
    if (got_mem != 2)
      got_mem = sscanf(line, "twin memory peak_allocated=%lf peak_reserved=%lf", peak_alloc,
                       peak_reserved);
  }
  const int rc = pclose(p);
  if (rc != 0 || got != 2 || (cuda && got_mem != 2)) {
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

static const char usage[] =
    "usage: bench_train [--device cpu|cuda] [--paper]\n"
    "  one training iteration of ours and of the PyTorch twin (bench/train_twin.py)\n"
    "  default: the tiny model of " CONFIG_TINY " on the CPU\n"
    "  --device cuda  on the GPU (a build with make CUDA=1 and a GPU)\n"
    "  --paper        with --device cuda: ResNet-101 + DNL + aux head of\n"
    "                 " CONFIG_PAPER ", 19 classes, 769 x 769, batch 2,\n"
    "                 TF32 convolutions\n";

/* 0: go on; otherwise the exit status. */
static int parse_args(int argc, char **argv, bench_opts *o) {
  *o = (bench_opts){.device = DEVICE_CPU};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--device") && i + 1 < argc && !strcmp(argv[i + 1], "cpu")) {
      o->device = DEVICE_CPU;
      i++;
    } else if (!strcmp(argv[i], "--device") && i + 1 < argc && !strcmp(argv[i + 1], "cuda")) {
      o->device = DEVICE_CUDA;
      i++;
    } else if (!strcmp(argv[i], "--paper")) {
      o->paper = true;
    } else {
      fprintf(stderr, "bench_train: unexpected argument '%s'\n%s", argv[i], usage);
      return 2;
    }
  }
  if (o->paper && o->device != DEVICE_CUDA) {
    fprintf(stderr, "bench_train: --paper measures the GPU setting: add --device cuda\n");
    return 2;
  }
  return 0;
}

int main(int argc, char **argv) {
  omp_policy_reexec(argv);
  bench_opts o;
  int rc = parse_args(argc, argv, &o);
  if (rc)
    return rc;
  const bool cuda = o.device == DEVICE_CUDA;
  if (cuda) {
    setenv("DNL_CUDA_TF32", "1", 0); /* before the backend opens; PyTorch's default */
    const dnl_backend *be;
    if (backend_get(DEVICE_CUDA, &be) != DNL_OK || backend_check(be) != DNL_OK) {
      fprintf(stderr, "bench_train: --device cuda: %s\n", dnl_last_error());
      return 1;
    }
  }
  const char *config = o.paper ? CONFIG_PAPER : CONFIG_TINY;
  const char *sets[3] = {cuda ? "device=cuda" : "device=cpu", "data.batch=2", "data.crop=769"};
  session s;
  dataset_info info;
  if (session_open(&s, config, sets, o.paper ? 3 : 1) != DNL_OK ||
      dataset_info_get(s.cfg.dataset, &info) != DNL_OK ||
      session_build_net(&s, info.num_classes) != DNL_OK) {
    fprintf(stderr, "bench_train: %s\n", dnl_last_error());
    session_close(&s);
    return 1;
  }
  const int threads = omp_get_max_threads(), batch = s.cfg.batch, crop = s.cfg.crop;
  char args[2048];
  if (twin_args(&s, &o, info.num_classes, threads, args, sizeof args) != DNL_OK) {
    fprintf(stderr, "bench_train: %s\n", dnl_last_error());
    session_close(&s);
    return 1;
  }
  printf("bench_train: %s (%zu parameters, %d classes) on %s, batch %d, crop %d, %d threads, "
         "wait policy: %s%s%s; %d rounds of %d iterations after %d\n",
         config, params_count_trainable(&s.ps), info.num_classes, device_name(o.device), batch,
         crop, threads, omp_policy_describe(), cuda ? ", DNL_CUDA_TF32=" : "",
         cuda ? getenv("DNL_CUDA_TF32") : "", ROUNDS, ITERS, WARMUP);
  print_load("before");
  double ours[ROUNDS * ITERS], twin_median[ROUNDS], twin_best = 1e30, conv_flops = 0.0;
  double twin_alloc = 0.0, twin_reserved = 0.0;
  memory_use mem = {0};
  bool have_twin = true;
  for (int r = 0; r < ROUNDS; r++) {
    if (measure_ours(&s, info.num_classes, ours + r * ITERS, &conv_flops,
                     r == 0 ? &mem : NULL) != DNL_OK) {
      fprintf(stderr, "bench_train: %s\n", dnl_last_error());
      session_close(&s);
      return 1;
    }
    double best, alloc, reserved;
    have_twin = have_twin && run_twin(args, cuda, &twin_median[r], &best, &alloc, &reserved);
    if (have_twin && best < twin_best)
      twin_best = best;
    if (have_twin && alloc > twin_alloc)
      twin_alloc = alloc, twin_reserved = reserved;
  }
  session_close(&s);
  double best = ours[0];
  for (int i = 1; i < ROUNDS * ITERS; i++)
    best = ours[i] < best ? ours[i] : best;
  const double med = median(ours, ROUNDS * ITERS);
  printf("dnl:     best %6.1f ms = %6.2f img/s   median %6.1f ms = %6.2f img/s\n", 1e3 * best,
         batch / best, 1e3 * med, batch / med);
  if (cuda)
    printf("dnl memory:     peak %.0f MiB (activations + workspace + parameters + batch), "
           "device in use %.0f MiB (cudaMemGetInfo, context included)\n",
           mib((double)mem.peak), mib((double)mem.device));
  if (have_twin) {
    const double tmed = median(twin_median, ROUNDS);
    printf("pytorch: best %6.1f ms = %6.2f img/s   median %6.1f ms = %6.2f img/s (of rounds)\n",
           1e3 * twin_best, batch / twin_best, 1e3 * tmed, batch / tmed);
    if (cuda)
      printf("pytorch memory: peak %.0f MiB allocated, %.0f MiB reserved by its cache\n",
             mib(twin_alloc), mib(twin_reserved));
    printf("dnl / pytorch: %.2f best, %.2f median (target >= 1): %s\n", twin_best / best,
           tmed / med, twin_best >= best ? "met" : "MISSED");
  }
  const double rate = conv_flops / best * 1e-9;
  if (cuda) {
    printf("convolutions: %.2f GFLOP per iteration, %.1f GFLOP/s at the best iteration\n",
           conv_flops * 1e-9, rate);
  } else {
    const double peak = sgemm_gflops();
    printf("convolutions: %.2f GFLOP per iteration, %.1f GFLOP/s at the best iteration = "
           "%.0f%% of sgemm (%dx%dx%d: %.1f GFLOP/s)\n",
           conv_flops * 1e-9, rate, 100.0 * rate / peak, GEMM_SIZE, GEMM_SIZE, GEMM_SIZE, peak);
  }
  print_load("after");
  return 0;
}
