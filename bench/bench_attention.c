/* The context block's forward + backward on the CPU with the fused and the
 * reference attention kernels, next to the same block in PyTorch.
 *
 * Block: dnl (whitening in, scaling on, unary term, gamma 1), C = 512,
 * C' = 256, N = 1, at P = 33x33, 65x65, 97x97. Time: best of REPEATS steps
 * after two warm-up steps, the two kernels' steps alternating so that both
 * meet the same load on a shared machine; wall seconds and the process's CPU
 * seconds (all threads), the latter less disturbed by other processes.
 * Memory, three ways:
 *  - attention: bytes the kernel keeps from forward to backward plus its
 *    largest workspace (counted, exact);
 *  - block: the step's arena peak plus the layer workspace (counted);
 *  - RSS: growth of the peak resident size over the first step, with fresh
 *    buffers (the peak is reset through /proc/self/clear_refs).
 * PyTorch: bench/attention_twin.py through /usr/bin/python3 (or
 * $DNL_TWIN_PYTHON, as bench_train) when torch imports, with as many threads as OpenMP gives us, the block written as the
 * published code does (bmm + softmax over the materialised P x P logits).
 * Targets: fused attention memory at 97x97 at least 10x below the
 * reference's, fused time no worse than the reference at 97x97 and no slower
 * than PyTorch.
 *
 * --device cuda: the attention op alone on the GPU (q, k [1, C', P],
 * v [1, C', P], C' = 256, scale 1/sqrt(C')), forward + backward of the fused
 * and the reference kernel, best of GPU_REPEATS steps after warm-ups, timed
 * between synchronisations; device memory counted (every buffer the step
 * uses: inputs, output, gradients, kept tensors, workspace); the two kernels'
 * results compared. PyTorch twin on cuda: the materialised version (bmm,
 * softmax, bmm; autograd), its peak from torch.cuda.max_memory_allocated.
 * Target: fused time at 97x97 at most half of PyTorch's. Without a GPU (or a
 * build without CUDA=1) this mode says so and exits 1. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blocks/block.h"
#include "lib/core/backend.h"
#include "lib/layers/attention.h"

#define REPEATS 3
#define CHANNELS 512
#define INNER 256
#define TWIN "bench/attention_twin.py"

static const int sizes[] = {33, 65, 97};
#define SIZE_COUNT 3

typedef struct result {
  double seconds, cpu_seconds;
  size_t attention_bytes, block_bytes;
  long rss_growth; /* bytes; -1 when unknown */
} result;

static double clock_seconds(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* VmRSS / VmHWM of this process in bytes, -1 when unreadable. */
static long status_bytes(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return -1;
  char line[256];
  long kb = -1;
  const size_t len = strlen(field);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, len) == 0 && line[len] == ':') {
      kb = strtol(line + len + 1, NULL, 10);
      break;
    }
  fclose(f);
  return kb < 0 ? -1 : kb * 1024;
}

static bool reset_peak_rss(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f)
    return false;
  const bool ok = fputs("5", f) >= 0;
  return fclose(f) == 0 && ok;
}

static void fill_random(float *x, size_t n, rng *r, float scale) {
  for (size_t i = 0; i < n; i++)
    x[i] = (float)rng_normal(r) * scale;
}

typedef struct bench_block {
  param_store ps;
  arena act;
  layer_ctx ctx;
  rng r;
  const block_ops *ops;
  block *b;
  tensor x, dy, dx;
} bench_block;

static dnl_status bench_setup(bench_block *k, int size, bool fused) {
  const dnl_backend *be = cpu_backend();
  params_init(&k->ps);
  rng_seed(&k->r, 1);
  DNL_TRY(arena_init(&k->act, be, 0));
  layer_ctx_init(&k->ctx, be, &k->act, &k->r);
  k->ctx.training = true;
  block_config cfg = block_config_defaults();
  cfg.channels = CHANNELS;
  cfg.inner = INNER;
  cfg.fused = fused;
  DNL_TRY(block_lookup(cfg.variant, &k->ops));
  DNL_TRY(k->ops->create(&cfg, &k->ps, "head.block", &k->b));
  DNL_TRY(params_finalize(&k->ps, be));
  DNL_TRY(params_init_values(&k->ps, 1));
  fill_random(k->ps.values, k->ps.total, &k->r, 0.05f);
  params_find(&k->ps, "head.block.gamma")->value->data[0] = 1.0f;
  const int shape[4] = {1, CHANNELS, size, size};
  DNL_TRY(tensor_alloc(&k->x, DEVICE_CPU, 4, shape));
  DNL_TRY(tensor_alloc(&k->dy, DEVICE_CPU, 4, shape));
  DNL_TRY(tensor_alloc(&k->dx, DEVICE_CPU, 4, shape));
  fill_random(k->x.data, tensor_numel(&k->x), &k->r, 1.0f);
  fill_random(k->dy.data, tensor_numel(&k->dy), &k->r, 1.0f);
  return DNL_OK;
}

static void bench_free(bench_block *k) {
  if (k->b)
    k->ops->destroy(k->b);
  tensor_free(&k->x), tensor_free(&k->dy), tensor_free(&k->dx);
  layer_ctx_free(&k->ctx);
  arena_free(&k->act);
  params_free(&k->ps);
}

static dnl_status bench_step(bench_block *k) {
  arena_reset(&k->act);
  DNL_TRY(params_zero_grad(&k->ps));
  memset(k->dx.data, 0, tensor_numel(&k->dx) * sizeof(float));
  tensor y;
  DNL_TRY(k->ops->forward(k->b, &k->ctx, &k->x, &y));
  return k->ops->backward(k->b, &k->ctx, &k->x, &k->dy, &k->dx);
}

/* The first step with fresh buffers: RSS growth and counted bytes. */
static dnl_status first_step(bench_block *k, result *res) {
  const bool rss_ok = reset_peak_rss();
  const long before = status_bytes("VmRSS");
  DNL_TRY(bench_step(k));
  res->rss_growth = rss_ok && before >= 0 ? status_bytes("VmHWM") - before : -1;
  res->block_bytes = k->act.peak + k->ctx.ws_size;
  return bench_step(k); /* warm-up in the consolidated arena */
}

static dnl_status timed_step(bench_block *k, result *res) {
  const double w0 = clock_seconds(CLOCK_MONOTONIC);
  const double c0 = clock_seconds(CLOCK_PROCESS_CPUTIME_ID);
  DNL_TRY(bench_step(k));
  const double cpu = clock_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
  const double wall = clock_seconds(CLOCK_MONOTONIC) - w0;
  res->seconds = wall < res->seconds ? wall : res->seconds;
  res->cpu_seconds = cpu < res->cpu_seconds ? cpu : res->cpu_seconds;
  return DNL_OK;
}

/* Reference (kernel 0) and fused (kernel 1) at one size. */
static dnl_status measure(int size, result res[2]) {
  bench_block k[2];
  memset(k, 0, sizeof k);
  dnl_status st = DNL_OK;
  for (int f = 0; f < 2 && st == DNL_OK; f++) {
    res[f] = (result){.seconds = 1e30, .cpu_seconds = 1e30};
    st = bench_setup(&k[f], size, f == 1);
    if (st == DNL_OK)
      st = first_step(&k[f], &res[f]);
    const attention_shape s = {.n = 1, .p = size * size, .d = INNER, .dv = CHANNELS};
    res[f].attention_bytes = pairwise_attention_bytes(cpu_backend(), &s, f == 1);
  }
  for (int r = 0; r < REPEATS && st == DNL_OK; r++)
    for (int f = 0; f < 2 && st == DNL_OK; f++)
      st = timed_step(&k[f], &res[f]);
  bench_free(&k[0]), bench_free(&k[1]);
  if (st != DNL_OK)
    return dnl_error_context(st, "bench_attention %dx%d", size, size);
  return DNL_OK;
}

static const char *twin_python(void) {
  const char *p = getenv("DNL_TWIN_PYTHON");
  return p && p[0] ? p : "/usr/bin/python3";
}

/* Whether the twin's Python imports torch (and, for cuda, sees a GPU); prints
 * why not. */
static bool twin_can_run(bool cuda) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "%s -c 'import torch%s' >/dev/null 2>&1", twin_python(),
           cuda ? "; assert torch.cuda.is_available()" : "");
  if (system(cmd) == 0)
    return true;
  printf("pytorch: not measured (%s cannot import torch%s)\n", twin_python(),
         cuda ? " or sees no CUDA device" : "");
  return false;
}

/* Runs the PyTorch twin; false (with the reason printed) when it cannot. */
static bool run_twin(int threads, result twin[SIZE_COUNT]) {
  if (!twin_can_run(false))
    return false;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "%s %s --threads %d --repeats %d --sizes %d,%d,%d", twin_python(),
           TWIN, threads, REPEATS, sizes[0], sizes[1], sizes[2]);
  FILE *p = popen(cmd, "r");
  if (!p) {
    printf("pytorch: not measured (cannot run %s)\n", TWIN);
    return false;
  }
  char line[256];
  int got = 0;
  while (fgets(line, sizeof line, p)) {
    int size;
    double seconds, cpu;
    long rss;
    if (sscanf(line, "twin size=%d seconds=%lf cpu_seconds=%lf rss_extra_bytes=%ld", &size,
               &seconds, &cpu, &rss) != 4)
      continue;
    for (int i = 0; i < SIZE_COUNT; i++)
      if (sizes[i] == size) {
        twin[i] = (result){.seconds = seconds, .cpu_seconds = cpu, .rss_growth = rss};
        got++;
      }
  }
  const int rc = pclose(p);
  if (rc != 0 || got != SIZE_COUNT) {
    printf("pytorch: not measured (%s exited with %d after %d of %d sizes)\n", TWIN, rc, got,
           SIZE_COUNT);
    return false;
  }
  return true;
}

static double mib(double bytes) { return bytes / (1024.0 * 1024.0); }

static void print_row(int size, const char *kernel, const result *r, bool counted) {
  printf("%3dx%-3d %5d  %-9s %8.3f %8.3f", size, size, size * size, kernel, r->seconds,
         r->cpu_seconds);
  if (counted)
    printf(" %12.1f %10.1f", mib((double)r->attention_bytes), mib((double)r->block_bytes));
  else
    printf(" %12s %10s", "-", "-");
  if (r->rss_growth >= 0)
    printf(" %10.1f\n", mib((double)r->rss_growth));
  else
    printf(" %10s\n", "-");
  fflush(stdout);
}

static int cpu_main(void) {
  const int threads = omp_get_max_threads();
  printf("bench_attention: dnl block (whiten in, scale, unary) C=%d C'=%d N=1, forward + "
         "backward, CPU, %d threads; seconds: best of %d (wall, process CPU); memory in "
         "MiB\n",
         CHANNELS, INNER, threads, REPEATS);
  printf("%-7s %5s  %-9s %8s %8s %12s %10s %10s\n", "size", "P", "kernel", "wall", "cpu",
         "attention", "block", "RSS growth");
  result ref[SIZE_COUNT], fus[SIZE_COUNT], twin[SIZE_COUNT];
  for (int i = 0; i < SIZE_COUNT; i++) {
    result both[2];
    if (measure(sizes[i], both) != DNL_OK) {
      fprintf(stderr, "bench_attention: %s\n", dnl_last_error());
      return 1;
    }
    ref[i] = both[0], fus[i] = both[1];
    print_row(sizes[i], "reference", &ref[i], true);
    print_row(sizes[i], "fused", &fus[i], true);
  }
  const bool have_twin = run_twin(threads, twin);
  for (int i = 0; have_twin && i < SIZE_COUNT; i++)
    print_row(sizes[i], "pytorch", &twin[i], false);

  const int last = SIZE_COUNT - 1;
  const double mem_ratio = (double)ref[last].attention_bytes / (double)fus[last].attention_bytes;
  printf("targets at %dx%d:\n", sizes[last], sizes[last]);
  printf("  fused attention memory %.1fx below the reference's (target >= 10x): %s\n", mem_ratio,
         mem_ratio >= 10.0 ? "met" : "MISSED");
  printf("  fused / reference time: wall %.2f, cpu %.2f (target <= 1): %s\n",
         fus[last].seconds / ref[last].seconds, fus[last].cpu_seconds / ref[last].cpu_seconds,
         fus[last].seconds <= ref[last].seconds ? "met" : "MISSED");
  if (have_twin)
    for (int i = 0; i < SIZE_COUNT; i++)
      printf("  %dx%d: fused / pytorch time: wall %.2f, cpu %.2f (target <= 1): %s\n",
             sizes[i], sizes[i], fus[i].seconds / twin[i].seconds,
             fus[i].cpu_seconds / twin[i].cpu_seconds,
             fus[i].seconds <= twin[i].seconds ? "met" : "MISSED");
  return 0;
}

/* ---- --device cuda: the attention op on the GPU ---- */

#define GPU_REPEATS 10
#define GPU_WARMUPS 2

typedef struct gpu_result {
  double seconds;
  size_t device_bytes, attention_bytes;
  size_t used_growth; /* the device's used memory over setup and the first step */
} gpu_result;

/* Device buffers of one kernel's step; bytes counts all of them. */
typedef struct gpu_step {
  float *q, *k, *v, *dout, *out, *saved, *dq, *dk, *dv;
  void *ws;
  size_t bytes;
} gpu_step;

static dnl_status gpu_buffer(const dnl_backend *g, size_t bytes, size_t *total, void **out) {
  DNL_TRY(g->alloc(bytes, out));
  *total += bytes;
  return DNL_OK;
}

static dnl_status gpu_upload(const dnl_backend *g, const float *host, size_t n, size_t *total,
                             float **out) {
  DNL_TRY(gpu_buffer(g, n * sizeof(float), total, (void **)out));
  return g->memcpy(*out, DEVICE_CUDA, host, DEVICE_CPU, n * sizeof(float));
}

static dnl_status gpu_setup(const dnl_backend *g, const attention_shape *s, bool fused,
                            const float *q, const float *k, const float *v, const float *dout,
                            gpu_step *st) {
  const size_t nqk = (size_t)s->n * s->d * s->p, nv = (size_t)s->n * s->dv * s->p;
  const size_t kept = (size_t)s->n * s->p * (fused ? 1 : (size_t)s->p);
  const size_t fw = g->attention_workspace(s, fused, false);
  const size_t bw = g->attention_workspace(s, fused, true);
  size_t *t = &st->bytes;
  DNL_TRY(gpu_upload(g, q, nqk, t, &st->q));
  DNL_TRY(gpu_upload(g, k, nqk, t, &st->k));
  DNL_TRY(gpu_upload(g, v, nv, t, &st->v));
  DNL_TRY(gpu_upload(g, dout, nv, t, &st->dout));
  DNL_TRY(gpu_buffer(g, nv * sizeof(float), t, (void **)&st->out));
  DNL_TRY(gpu_buffer(g, kept * sizeof(float), t, (void **)&st->saved));
  DNL_TRY(gpu_buffer(g, nqk * sizeof(float), t, (void **)&st->dq));
  DNL_TRY(gpu_buffer(g, nqk * sizeof(float), t, (void **)&st->dk));
  DNL_TRY(gpu_buffer(g, nv * sizeof(float), t, (void **)&st->dv));
  return gpu_buffer(g, fw > bw ? fw : bw, t, &st->ws);
}

static void gpu_free(const dnl_backend *g, gpu_step *st) {
  float *f[9] = {st->q, st->k, st->v, st->dout, st->out, st->saved, st->dq, st->dk, st->dv};
  for (int i = 0; i < 9; i++)
    if (f[i])
      g->free(f[i]);
  if (st->ws)
    g->free(st->ws);
}

/* One forward + backward from zeroed gradients; seconds between synchronisations. */
static dnl_status gpu_run(const dnl_backend *g, const attention_shape *s, bool fused,
                          gpu_step *st, double *seconds) {
  const size_t nqk = (size_t)s->n * s->d * s->p, nv = (size_t)s->n * s->dv * s->p;
  DNL_TRY(g->fill(st->dq, nqk, 0.0f));
  DNL_TRY(g->fill(st->dk, nqk, 0.0f));
  DNL_TRY(g->fill(st->dv, nv, 0.0f));
  DNL_TRY(g->synchronize());
  const double t0 = clock_seconds(CLOCK_MONOTONIC);
  if (fused) {
    DNL_TRY(g->attention_fused_forward(s, st->q, st->k, st->v, st->out, st->saved, st->ws));
    DNL_TRY(g->attention_fused_backward(s, st->q, st->k, st->v, st->out, st->saved, st->dout,
                                        st->dq, st->dk, st->dv, st->ws));
  } else {
    DNL_TRY(g->attention_reference_forward(s, st->q, st->k, st->v, st->out, st->saved));
    DNL_TRY(g->attention_reference_backward(s, st->q, st->k, st->v, st->saved, st->dout, st->dq,
                                            st->dk, st->dv, st->ws));
  }
  DNL_TRY(g->synchronize());
  *seconds = clock_seconds(CLOCK_MONOTONIC) - t0;
  return DNL_OK;
}

/* max |a - b| / max |b| over n device floats */
static dnl_status gpu_difference(const dnl_backend *g, const float *a, const float *b, size_t n,
                                 double *out) {
  float *ha = malloc(n * sizeof *ha), *hb = malloc(n * sizeof *hb);
  dnl_status st = ha && hb ? DNL_OK : dnl_error(DNL_ERR_NOMEM, "bench_attention: host copies");
  if (st == DNL_OK)
    st = g->memcpy(ha, DEVICE_CPU, a, DEVICE_CUDA, n * sizeof(float));
  if (st == DNL_OK)
    st = g->memcpy(hb, DEVICE_CPU, b, DEVICE_CUDA, n * sizeof(float));
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; st == DNL_OK && i < n; i++) {
    diff = fmax(diff, fabs((double)ha[i] - hb[i]));
    scale = fmax(scale, fabs((double)hb[i]));
  }
  *out = scale > 0.0 ? diff / scale : diff;
  free(ha), free(hb);
  return st;
}

/* Reference (0) and fused (1) at one size; prints how far the fused results
 * are from the reference's. */
static dnl_status gpu_measure(const dnl_backend *g, int size, gpu_result res[2]) {
  const attention_shape s = {.n = 1, .p = size * size, .d = INNER, .dv = INNER,
                             .scale = 1.0f / sqrtf((float)INNER)};
  const size_t nqk = (size_t)s.d * s.p, nv = (size_t)s.dv * s.p;
  float *host = malloc((2 * nqk + 2 * nv) * sizeof *host);
  if (!host)
    return dnl_error(DNL_ERR_NOMEM, "bench_attention: host inputs at %dx%d", size, size);
  rng r;
  rng_seed(&r, 2);
  fill_random(host, 2 * nqk + 2 * nv, &r, 1.0f);
  gpu_step st[2];
  memset(st, 0, sizeof st);
  dnl_status e = DNL_OK;
  double t;
  for (int f = 0; f < 2 && e == DNL_OK; f++) {
    res[f] = (gpu_result){.seconds = 1e30, .attention_bytes = pairwise_attention_bytes(g, &s, f)};
    size_t before = 0, after = 0, total = 0;
    e = g->memory_usage(&before, &total);
    if (e == DNL_OK)
      e = gpu_setup(g, &s, f == 1, host, host + nqk, host + 2 * nqk, host + 2 * nqk + nv, &st[f]);
    res[f].device_bytes = st[f].bytes;
    if (e == DNL_OK)
      e = gpu_run(g, &s, f == 1, &st[f], &t);
    if (e == DNL_OK)
      e = g->memory_usage(&after, &total);
    res[f].used_growth = after > before ? after - before : 0;
  }
  for (int w = 0; w < GPU_WARMUPS && e == DNL_OK; w++)
    for (int f = 0; f < 2 && e == DNL_OK; f++)
      e = gpu_run(g, &s, f == 1, &st[f], &t);
  for (int rep = 0; rep < GPU_REPEATS && e == DNL_OK; rep++)
    for (int f = 0; f < 2 && e == DNL_OK; f++) {
      e = gpu_run(g, &s, f == 1, &st[f], &t);
      res[f].seconds = t < res[f].seconds ? t : res[f].seconds;
    }
  double diff[4] = {0};
  if (e == DNL_OK)
    e = gpu_difference(g, st[1].out, st[0].out, nv, &diff[0]);
  if (e == DNL_OK)
    e = gpu_difference(g, st[1].dq, st[0].dq, nqk, &diff[1]);
  if (e == DNL_OK)
    e = gpu_difference(g, st[1].dk, st[0].dk, nqk, &diff[2]);
  if (e == DNL_OK)
    e = gpu_difference(g, st[1].dv, st[0].dv, nv, &diff[3]);
  if (e == DNL_OK)
    printf("%3dx%-3d fused vs reference, max |difference| / max |reference|: out %.1e, dq "
           "%.1e, dk %.1e, dv %.1e\n",
           size, size, diff[0], diff[1], diff[2], diff[3]);
  gpu_free(g, &st[0]), gpu_free(g, &st[1]);
  free(host);
  if (e != DNL_OK)
    return dnl_error_context(e, "bench_attention --device cuda %dx%d", size, size);
  return DNL_OK;
}

typedef struct twin_gpu {
  double seconds;
  long peak_bytes;
} twin_gpu;

/* The PyTorch twin on cuda; false (with the reason printed) when it cannot run. */
static bool run_twin_cuda(twin_gpu twin[SIZE_COUNT]) {
  if (!twin_can_run(true))
    return false;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "%s %s --device cuda --inner %d --repeats %d --sizes %d,%d,%d",
           twin_python(), TWIN,
           INNER, GPU_REPEATS, sizes[0], sizes[1], sizes[2]);
  FILE *p = popen(cmd, "r");
  if (!p) {
    printf("pytorch: not measured (cannot run %s)\n", TWIN);
    return false;
  }
  char line[512];
  int got = 0;
  while (fgets(line, sizeof line, p)) {
    int size;
    double seconds;
    long peak;
    if (strncmp(line, "twin_cuda device=", 17) == 0 ||
        strncmp(line, "twin_cuda unavailable", 21) == 0) {
      printf("pytorch: %s", line + 10);
      continue;
    }
    if (sscanf(line, "twin_cuda size=%d seconds=%lf peak_bytes=%ld", &size, &seconds, &peak) != 3)
      continue;
    for (int i = 0; i < SIZE_COUNT; i++)
      if (sizes[i] == size) {
        twin[i] = (twin_gpu){.seconds = seconds, .peak_bytes = peak};
        got++;
      }
  }
  const int rc = pclose(p);
  if (rc != 0 || got != SIZE_COUNT) {
    printf("pytorch: not measured (%s --device cuda exited with %d after %d of %d sizes)\n",
           TWIN, rc, got, SIZE_COUNT);
    return false;
  }
  return true;
}

/* negative byte counts print as "-" */
static void print_gpu_row(int size, const char *kernel, double seconds, double device_bytes,
                          double used_growth, double attention_bytes) {
  printf("%3dx%-3d %5d  %-9s %10.3f %12.1f", size, size, size * size, kernel, 1e3 * seconds,
         mib(device_bytes));
  const double more[2] = {used_growth, attention_bytes};
  for (int i = 0; i < 2; i++)
    if (more[i] >= 0)
      printf(" %12.1f", mib(more[i]));
    else
      printf(" %12s", "-");
  printf("\n");
  fflush(stdout);
}

static int cuda_main(void) {
  const dnl_backend *g = NULL;
  if (backend_get(DEVICE_CUDA, &g) != DNL_OK) {
    fprintf(stderr, "bench_attention --device cuda: %s\n", dnl_last_error());
    return 1;
  }
  if (!g->attention_workspace || !g->attention_fused_forward || !g->attention_fused_backward ||
      !g->attention_reference_forward || !g->attention_reference_backward || !g->fill ||
      !g->memory_usage) {
    fprintf(stderr, "bench_attention --device cuda: the cuda backend lacks the attention, fill "
                    "or memory_usage op\n");
    return 1;
  }
  printf("bench_attention --device cuda: attention op, q, k [1, %d, P], v [1, %d, P], forward "
         "+ backward; ms: best of %d after %d warm-ups, between synchronisations; device "
         "MiB: every buffer of the step (counted; pytorch: torch.cuda.max_memory_allocated); "
         "used growth: the device's used memory over setup and the first step "
         "(cudaMemGetInfo, cuBLAS workspaces included); attention MiB: kept + workspace\n",
         INNER, INNER, GPU_REPEATS, GPU_WARMUPS);
  printf("%-7s %5s  %-9s %10s %12s %12s %12s\n", "size", "P", "kernel", "ms", "device MiB",
         "used growth", "attention");
  gpu_result ref[SIZE_COUNT], fus[SIZE_COUNT];
  for (int i = 0; i < SIZE_COUNT; i++) {
    gpu_result both[2];
    if (gpu_measure(g, sizes[i], both) != DNL_OK) {
      fprintf(stderr, "bench_attention: %s\n", dnl_last_error());
      return 1;
    }
    ref[i] = both[0], fus[i] = both[1];
    print_gpu_row(sizes[i], "reference", ref[i].seconds, (double)ref[i].device_bytes,
                  (double)ref[i].used_growth, (double)ref[i].attention_bytes);
    print_gpu_row(sizes[i], "fused", fus[i].seconds, (double)fus[i].device_bytes,
                  (double)fus[i].used_growth, (double)fus[i].attention_bytes);
  }
  twin_gpu twin[SIZE_COUNT];
  const bool have_twin = run_twin_cuda(twin);
  for (int i = 0; have_twin && i < SIZE_COUNT; i++)
    print_gpu_row(sizes[i], "pytorch", twin[i].seconds, (double)twin[i].peak_bytes, -1.0, -1.0);
  const int last = SIZE_COUNT - 1;
  printf("targets at %dx%d:\n", sizes[last], sizes[last]);
  printf("  fused / reference time %.2f, device memory %.2f\n",
         fus[last].seconds / ref[last].seconds,
         (double)fus[last].device_bytes / (double)ref[last].device_bytes);
  if (have_twin)
    printf("  fused / pytorch time %.2f (target <= 0.5): %s; device memory %.2f\n",
           fus[last].seconds / twin[last].seconds,
           fus[last].seconds <= 0.5 * twin[last].seconds ? "met" : "MISSED",
           (double)fus[last].device_bytes / (double)twin[last].peak_bytes);
  return 0;
}

int main(int argc, char **argv) {
  const char *device = "cpu";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--device") == 0 && i + 1 < argc) {
      device = argv[++i];
      continue;
    }
    fprintf(stderr, "usage: bench_attention [--device cpu|cuda] (unknown argument '%s')\n",
            argv[i]);
    return 2;
  }
  if (strcmp(device, "cuda") == 0)
    return cuda_main();
  if (strcmp(device, "cpu") != 0) {
    fprintf(stderr, "bench_attention: unknown device '%s' (cpu or cuda)\n", device);
    return 2;
  }
  return cpu_main();
}
